/*
 * sieve_validate.c - checks a parsed script against the command and tag
 * tables (sieve_cmds.c) and resolves it into struct sv_cmd (RFC 5228
 * section 2.6 and the extension RFCs).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sieve/sieve_cmds.h"

/* Moves a parsed argument's strings into a command slot. */
static void take_list(struct sv_cmd *c, enum sv_slot slot, struct sv_arg *a)
{
	c->sl[slot] = a->list;
	a->list.v = NULL;
	a->list.n = 0;
}

static bool str_is_const(const struct sv_string *s)
{
	return !s->vars;
}

static int set_match(struct vctx *v, struct sv_cmd *c, int line,
		     enum sv_match m, struct sv_arg *rel)
{
	static const char *const rels[] = {"gt", "ge", "lt", "le", "eq", "ne"};

	if (c->match != 0xff) {
		sv_error(v->errs, line, "only one match type may be given");
		return -1;
	}
	c->match = (uint8_t)m;
	if (rel == NULL)
		return 0;
	for (size_t i = 0; i < 6; i++) {
		if (strcasecmp(rel->list.v[0].s, rels[i]) == 0 &&
		    str_is_const(&rel->list.v[0])) {
			c->rel = (uint8_t)i;
			return 0;
		}
	}
	sv_error(v->errs, line, "unknown relational operator \"%s\"",
		 rel->list.v[0].s);
	return -1;
}

static int set_comparator(struct vctx *v, struct sv_cmd *c, int line,
			  const struct sv_string *s)
{
	if (c->cmp != 0xff) {
		sv_error(v->errs, line, "only one comparator may be given");
		return -1;
	}
	if (strcmp(s->s, "i;octet") == 0) {
		c->cmp = SV_CMP_OCTET;
	} else if (strcmp(s->s, "i;ascii-casemap") == 0) {
		c->cmp = SV_CMP_CASEMAP;
	} else if (strcmp(s->s, "i;ascii-numeric") == 0 &&
		   sv_has_ext(v, SV_EXT_NUMERIC)) {
		c->cmp = SV_CMP_NUMERIC;
	} else {
		sv_error(v->errs, line, "unknown comparator \"%s\"", s->s);
		return -1;
	}
	return 0;
}

static int set_once(struct vctx *v, int line, uint8_t *field, uint8_t val,
		    const char *what)
{
	if (*field != 0xff) {
		sv_error(v->errs, line, "only one %s may be given", what);
		return -1;
	}
	*field = val;
	return 0;
}

static int set_flag(struct vctx *v, struct sv_cmd *c, int line, uint16_t f,
		    const char *tag)
{
	if (c->flags & f) {
		sv_error(v->errs, line, "duplicate tag :%s", tag);
		return -1;
	}
	c->flags |= f;
	return 0;
}

static int set_slot(struct vctx *v, struct sv_cmd *c, int line,
		    enum sv_slot slot, struct sv_arg *a, const char *tag)
{
	if (c->sl[slot].v != NULL) {
		sv_error(v->errs, line, "duplicate tag :%s", tag);
		return -1;
	}
	take_list(c, slot, a);
	return 0;
}

/* Applies one tag with its argument (a, or NULL). */
static int apply_tag(struct vctx *v, struct sv_cmd *c, const struct tag_def *t,
		     int line, struct sv_arg *a)
{
	static const uint8_t mods[] = {SV_MOD_LOWER,	  SV_MOD_UPPER,
				       SV_MOD_LOWERFIRST, SV_MOD_UPPERFIRST,
				       SV_MOD_QUOTEWILD,  SV_MOD_LENGTH};

	switch ((enum tag_code)t->code) {
	case TC_IS:
	case TC_CONTAINS:
	case TC_MATCHES:
		return set_match(v, c, line, (enum sv_match)t->code, NULL);
	case TC_VALUE:
		return set_match(v, c, line, SV_MATCH_VALUE, a);
	case TC_COUNT:
		return set_match(v, c, line, SV_MATCH_COUNT, a);
	case TC_COMPARATOR:
		return set_comparator(v, c, line, &a->list.v[0]);
	case TC_ALL:
	case TC_LOCALPART:
	case TC_DOMAIN:
	case TC_USER:
	case TC_DETAIL:
		return set_once(v, line, &c->addrpart,
				(uint8_t)(t->code - TC_ALL), "address part");
	case TC_INDEX:
		if (c->index != 0 || a->num < 1 || a->num > INT32_MAX) {
			sv_error(v->errs, line, ":index needs a number >= 1");
			return -1;
		}
		c->index = (int32_t)a->num;
		return 0;
	case TC_LAST:
		return set_flag(v, c, line, SV_F_LAST, t->name);
	case TC_COPY:
		return set_flag(v, c, line, SV_F_COPY, t->name);
	case TC_CREATE:
		return set_flag(v, c, line, SV_F_CREATE, t->name);
	case TC_FLAGS:
		c->flags |= SV_F_HAS_FLAGS;
		return set_slot(v, c, line, SV_SL_FLAGS, a, t->name);
	case TC_DAYS:
		if (set_flag(v, c, line, SV_F_HAS_NUM, t->name) < 0)
			return -1;
		c->num = a->num;
		return 0;
	case TC_SUBJECT:
		return set_slot(v, c, line, SV_SL_SUBJECT, a, t->name);
	case TC_FROM:
		return set_slot(v, c, line, SV_SL_FROM, a, t->name);
	case TC_ADDRESSES:
		return set_slot(v, c, line, SV_SL_ADDRESSES, a, t->name);
	case TC_HANDLE:
		return set_slot(v, c, line, SV_SL_HANDLE, a, t->name);
	case TC_MIME:
		return set_flag(v, c, line, SV_F_MIME, t->name);
	case TC_ZONE:
		if (c->flags & SV_F_ORIGZONE)
			break;
		return set_slot(v, c, line, SV_SL_ZONE, a, t->name);
	case TC_ORIGZONE:
		if (c->sl[SV_SL_ZONE].v != NULL)
			break;
		return set_flag(v, c, line, SV_F_ORIGZONE, t->name);
	case TC_RAW:
	case TC_TEXT:
		return set_once(v, line, &c->bodyx,
				t->code == TC_RAW ? SV_BODY_RAW : SV_BODY_TEXT,
				"body transform");
	case TC_CONTENT:
		if (set_once(v, line, &c->bodyx, SV_BODY_CONTENT,
			     "body transform") < 0)
			return -1;
		take_list(c, SV_SL_CONTENT, a);
		return 0;
	case TC_PERSONAL:
	case TC_GLOBAL:
		return set_once(v, line, &c->addrpart,
				t->code == TC_GLOBAL ? 1 : 0, "location");
	case TC_ONCE:
		return set_flag(v, c, line, SV_F_ONCE, t->name);
	case TC_OPTIONAL:
		return set_flag(v, c, line, SV_F_OPTIONAL, t->name);
	case TC_LOWER:
	case TC_UPPER:
	case TC_LOWERFIRST:
	case TC_UPPERFIRST:
	case TC_QUOTEWILD:
	case TC_LENGTH: {
		uint8_t m = mods[t->code - TC_LOWER];

		if (c->mods & m) {
			sv_error(v->errs, line, "duplicate tag :%s", t->name);
			return -1;
		}
		c->mods |= m;
		return 0;
	}
	case TC_OVER:
	case TC_UNDER:
		if (c->flags & SV_F_HAS_NUM) {
			sv_error(v->errs, line, "only one of :over and :under");
			return -1;
		}
		c->flags |= SV_F_HAS_NUM | (t->code == TC_OVER ? SV_F_OVER : 0);
		return 0;
	}
	sv_error(v->errs, line, ":zone and :originalzone exclude each other");
	return -1;
}

static int decode_strings(struct vctx *v, struct sv_node *n)
{
	for (size_t i = 0; i < n->nargs; i++) {
		struct sv_slist *l = &n->args[i].list;

		for (uint32_t k = 0; k < l->n; k++) {
			struct sv_string *s = &l->v[k];

			if (sv_has_ext(v, SV_EXT_ENCODED) &&
			    memmem(s->s, s->len, "${", 2) != NULL) {
				struct strbuf sb;

				strbuf_init(&sb);
				if (sv_encoded_decode(s->s, s->len, &sb) < 0) {
					sv_error(v->errs, n->args[i].line,
						 "invalid encoded character");
					strbuf_free(&sb);
					return -1;
				}
				free(s->s);
				s->len = (uint32_t)sb.len;
				s->s = strbuf_steal(&sb, NULL);
				strbuf_free(&sb);
			}
			if (sv_has_ext(v, SV_EXT_VARIABLES) &&
			    memmem(s->s, s->len, "${", 2) != NULL)
				s->vars = 1;
		}
	}
	return 0;
}

static const char *kind_name(char k)
{
	return k == 'N' ? "number" : k == 'S' ? "string" : "string list";
}

/* Positional arguments per the def's spec. */
static int take_positional(struct vctx *v, const struct cmd_def *d,
			   struct sv_node *n, struct sv_cmd *c,
			   struct sv_arg **pos, size_t npos)
{
	const char *spec = d->args;
	size_t want = strlen(spec), slot = 0;

	if (*spec == '?') {
		spec++;
		want--;
		if (npos == want + 1) {
			if (pos[0]->kind != SV_ARG_STRING &&
			    pos[0]->kind != SV_ARG_LIST) {
				sv_error(v->errs, pos[0]->line,
					 "%s: expected variable name", n->name);
				return -1;
			}
			c->flags |= SV_F_HAS_VAR;
			take_list(c, SV_SL_P0, pos[0]);
			pos++;
			npos--;
		}
		slot = 1;
	}
	if (npos != want) {
		sv_error(v->errs, n->line,
			 "%s: expected %zu positional argument%s, found %zu",
			 n->name, want, want == 1 ? "" : "s", npos);
		return -1;
	}
	for (size_t i = 0; i < want; i++) {
		struct sv_arg *a = pos[i];
		char k = spec[i];
		bool ok = (k == 'N' && a->kind == SV_ARG_NUMBER) ||
			  (k == 'S' && a->kind == SV_ARG_STRING) ||
			  (k == 'L' && (a->kind == SV_ARG_STRING ||
					a->kind == SV_ARG_LIST));

		if (!ok) {
			sv_error(v->errs, a->line,
				 "%s: argument %zu must be a %s", n->name,
				 i + 1, kind_name(k));
			return -1;
		}
		if (k == 'N')
			c->num = a->num;
		else
			take_list(c, (enum sv_slot)(SV_SL_P0 + slot + i), a);
	}
	return 0;
}

static int check_args(struct vctx *v, const struct cmd_def *d,
		      struct sv_node *n, struct sv_cmd *c)
{
	struct sv_arg **pos = xcalloc(n->nargs + 1, sizeof(*pos));
	size_t npos = 0;
	int ret = -1;

	for (size_t i = 0; i < n->nargs; i++) {
		struct sv_arg *a = &n->args[i], *targ = NULL;
		const struct tag_def *t;

		if (a->kind != SV_ARG_TAG) {
			pos[npos++] = a;
			continue;
		}
		t = sv_find_tag(a->tag);
		if (t == NULL || !(d->groups & t->group) ||
		    !sv_has_ext(v, t->ext)) {
			sv_error(v->errs, a->line,
				 "unknown tagged argument :%s for %s", a->tag,
				 n->name);
			goto out;
		}
		if (t->arg != TA_NONE) {
			targ = i + 1 < n->nargs ? &n->args[i + 1] : NULL;
			if (targ == NULL ||
			    (t->arg == TA_NUMBER &&
			     targ->kind != SV_ARG_NUMBER) ||
			    (t->arg == TA_STRING &&
			     targ->kind != SV_ARG_STRING) ||
			    (t->arg == TA_LIST && targ->kind != SV_ARG_STRING &&
			     targ->kind != SV_ARG_LIST)) {
				sv_error(v->errs, a->line,
					 ":%s needs a %s argument", t->name,
					 t->arg == TA_NUMBER   ? "number"
					 : t->arg == TA_STRING ? "string"
							       : "string list");
				goto out;
			}
			i++;
		}
		if (apply_tag(v, c, t, a->line, targ) < 0)
			goto out;
	}
	ret = take_positional(v, d, n, c, pos, npos);
out:
	free(pos);
	return ret;
}

static int check_var_names(struct vctx *v, const struct sv_slist *l, int line)
{
	for (uint32_t i = 0; i < l->n; i++) {
		if (!sv_var_name_valid(l->v[i].s, l->v[i].len, false) &&
		    !sv_global_ns_name(v, &l->v[i])) {
			sv_error(v->errs, line, "invalid variable name \"%s\"",
				 l->v[i].s);
			return -1;
		}
		l->v[i].vars = 0;
	}
	return 0;
}

/* Checks that only need the resolved command. */
static int check_semantics(struct vctx *v, struct sv_cmd *c, int line)
{
	if (c->match == 0xff)
		c->match = SV_MATCH_IS;
	if (c->cmp == 0xff)
		c->cmp = SV_CMP_CASEMAP;
	if (c->addrpart == 0xff)
		c->addrpart = c->op == SV_OP_INCLUDE ? 0 : SV_AP_ALL;
	if (c->bodyx == 0xff)
		c->bodyx = SV_BODY_TEXT;
	if (!sv_cmp_valid_for_match((enum sv_cmp)c->cmp,
				    (enum sv_match)c->match)) {
		sv_error(v->errs, line,
			 "comparator i;ascii-numeric does not support this "
			 "match type");
		return -1;
	}
	if ((c->flags & SV_F_LAST) && c->index == 0) {
		sv_error(v->errs, line, ":last requires :index");
		return -1;
	}
	switch (c->op) {
	case SV_OP_SIZE:
		if (!(c->flags & SV_F_HAS_NUM)) {
			sv_error(v->errs, line, "size needs :over or :under");
			return -1;
		}
		break;
	case SV_OP_SET:
		if (check_var_names(v, &c->sl[SV_SL_P0], line) < 0)
			return -1;
		/* RFC 5229 4.1: one modifier per precedence level */
		if ((c->mods & SV_MOD_LOWER) && (c->mods & SV_MOD_UPPER)) {
			sv_error(v->errs, line,
				 "modifiers :lower and :upper conflict");
			return -1;
		}
		if ((c->mods & SV_MOD_LOWERFIRST) &&
		    (c->mods & SV_MOD_UPPERFIRST)) {
			sv_error(v->errs, line,
				 "modifiers :lowerfirst and :upperfirst "
				 "conflict");
			return -1;
		}
		break;
	case SV_OP_ADDRESS:
		for (uint32_t i = 0; i < c->sl[SV_SL_P0].n; i++) {
			const struct sv_string *h = &c->sl[SV_SL_P0].v[i];

			if (!h->vars && !sv_addr_header_ok(h->s)) {
				sv_error(v->errs, line,
					 "header \"%s\" is not allowed in the "
					 "address test",
					 h->s);
				return -1;
			}
		}
		break;
	case SV_OP_REDIRECT:
		if (!c->sl[SV_SL_P0].v[0].vars) {
			struct sv_string *a = &c->sl[SV_SL_P0].v[0];
			struct strbuf sb;

			strbuf_init(&sb);
			if (sv_addr_redirect(a->s, a->len, &sb) < 0) {
				sv_error(v->errs, line,
					 "invalid redirect address \"%s\"",
					 a->s);
				strbuf_free(&sb);
				return -1;
			}
			free(a->s);
			a->len = (uint32_t)sb.len;
			a->s = strbuf_steal(&sb, NULL);
			strbuf_free(&sb);
		}
		break;
	case SV_OP_GLOBAL:
		if (check_var_names(v, &c->sl[SV_SL_P0], line) < 0)
			return -1;
		if (!sv_has_ext(v, SV_EXT_VARIABLES)) {
			sv_error(v->errs, line,
				 "global requires the \"variables\" extension");
			return -1;
		}
		break;
	case SV_OP_SETFLAG:
	case SV_OP_ADDFLAG:
	case SV_OP_REMOVEFLAG:
	case SV_OP_HASFLAG:
		if ((c->flags & SV_F_HAS_VAR) &&
		    (!sv_has_ext(v, SV_EXT_VARIABLES) ||
		     check_var_names(v, &c->sl[SV_SL_P0], line) < 0)) {
			if (!sv_has_ext(v, SV_EXT_VARIABLES))
				sv_error(v->errs, line,
					 "flag variable names require "
					 "\"variables\"");
			return -1;
		}
		if (!sv_has_ext(v, SV_EXT_IMAP4FLAGS))
			c->flags |= SV_F_IMAPFLAGS;
		break;
	case SV_OP_INCLUDE:
		if (c->sl[SV_SL_P0].v[0].vars ||
		    c->sl[SV_SL_P0].v[0].len == 0 ||
		    memchr(c->sl[SV_SL_P0].v[0].s, '/',
			   c->sl[SV_SL_P0].v[0].len) != NULL) {
			sv_error(v->errs, line, "invalid include script name");
			return -1;
		}
		if (c->addrpart == 1)
			c->flags |= SV_F_GLOBAL;
		c->addrpart = 0;
		break;
	case SV_OP_VACATION:
		if (c->sl[SV_SL_FROM].n > 0 && !c->sl[SV_SL_FROM].v[0].vars) {
			const struct sv_string *f = &c->sl[SV_SL_FROM].v[0];
			struct strbuf sb;
			int bad;

			strbuf_init(&sb);
			bad = sv_addr_redirect(f->s, f->len, &sb) < 0;
			strbuf_free(&sb);
			if (bad) {
				sv_error(v->errs, line,
					 "invalid vacation :from address "
					 "\"%s\"",
					 f->s);
				return -1;
			}
		}
		if (!(c->flags & SV_F_HAS_NUM))
			c->num = 7;
		if (c->num < 1)
			c->num = 1;
		if (c->num > 365 * 100)
			c->num = 365 * 100;
		c->num *= 86400;
		break;
	case SV_OP_DATE:
	case SV_OP_CURRENTDATE: {
		const struct sv_string *part =
		    &c->sl[c->op == SV_OP_DATE ? SV_SL_P1 : SV_SL_P0].v[0];
		const struct sv_string *z = c->sl[SV_SL_ZONE].v;
		int zm;

		if (!part->vars && !sv_date_part_valid(part->s)) {
			sv_error(v->errs, line, "unknown date part \"%s\"",
				 part->s);
			return -1;
		}
		if (z != NULL && !z->vars &&
		    sv_zone_parse(z->s, z->len, &zm) < 0) {
			sv_error(v->errs, line, "invalid :zone \"%s\"", z->s);
			return -1;
		}
		break;
	}
	}
	return 0;
}

static int validate_list(struct vctx *v, struct sv_node *nodes, size_t n,
			 struct sv_cmd **out_r, uint32_t *nout_r, bool top);

static int validate_node(struct vctx *v, struct sv_node *n, struct sv_cmd *c,
			 bool want_test)
{
	const struct cmd_def *d = sv_find_cmd(n->name);

	memset(c, 0, sizeof(*c));
	c->line = (uint32_t)n->line;
	c->match = c->cmp = c->addrpart = c->bodyx = 0xff;
	if (d == NULL || d->test != want_test) {
		sv_error(v->errs, n->line, "unknown %s \"%s\"",
			 want_test ? "test" : "command", n->name);
		return -1;
	}
	if (!sv_has_ext(v, d->ext) &&
	    !(d->ext == SV_EXT_IMAP4FLAGS && d->op != SV_OP_HASFLAG &&
	      sv_has_ext(v, SV_EXT_IMAPFLAGS))) {
		sv_error(v->errs, n->line,
			 "unknown %s \"%s\" (missing require \"%s\")",
			 want_test ? "test" : "command", n->name,
			 sv_ext_names[d->ext]);
		return -1;
	}
	c->op = d->op;
	if (decode_strings(v, n) < 0 || check_args(v, d, n, c) < 0 ||
	    check_semantics(v, c, n->line) < 0)
		return -1;
	if (d->tests == K_NONE && n->ntests > 0) {
		sv_error(v->errs, n->line, "%s takes no test", n->name);
		return -1;
	}
	if ((d->tests == K_TEST && (n->ntests != 1 || n->test_list)) ||
	    (d->tests == K_TESTLIST && !n->test_list)) {
		sv_error(v->errs, n->line, "%s needs %s", n->name,
			 d->tests == K_TEST ? "one test" : "a test list");
		return -1;
	}
	if (d->block != n->has_block) {
		sv_error(v->errs, n->line,
			 d->block ? "%s needs a block" : "%s takes no block",
			 n->name);
		return -1;
	}
	if (n->ntests > 0) {
		c->kids = xcalloc(n->ntests, sizeof(*c->kids));
		c->nkids = (uint32_t)n->ntests;
		for (size_t i = 0; i < n->ntests; i++)
			if (validate_node(v, &n->tests[i], &c->kids[i], true) <
			    0)
				return -1;
	}
	if (n->has_block)
		return validate_list(v, n->block, n->nblock, &c->block,
				     &c->nblock, false);
	return 0;
}

static int do_require(struct vctx *v, struct sv_node *n)
{
	if (n->ntests > 0 || n->has_block || n->nargs != 1 ||
	    n->args[0].kind == SV_ARG_NUMBER || n->args[0].kind == SV_ARG_TAG) {
		sv_error(v->errs, n->line, "require needs one string list");
		return -1;
	}
	for (uint32_t i = 0; i < n->args[0].list.n; i++) {
		const char *name = n->args[0].list.v[i].s;
		int found = -1;

		for (int e = 0; e < SV_EXT_COUNT; e++)
			if (strcmp(name, sv_ext_names[e]) == 0)
				found = e;
		if (found < 0) {
			sv_error(v->errs, n->line,
				 "unknown extension \"%s\" in require", name);
			return -1;
		}
		v->exts |= 1u << found;
	}
	return 0;
}

static int validate_list(struct vctx *v, struct sv_node *nodes, size_t n,
			 struct sv_cmd **out_r, uint32_t *nout_r, bool top)
{
	bool requires_ok = top;
	int ret = 0;

	*out_r = xcalloc(n ? n : 1, sizeof(**out_r));
	*nout_r = 0;
	for (size_t i = 0; i < n; i++) {
		struct sv_node *nd = &nodes[i];
		struct sv_cmd *c;

		if (strcmp(nd->name, "require") == 0) {
			if (!requires_ok) {
				sv_error(v->errs, nd->line,
					 "require must come before any other "
					 "command");
				ret = -1;
			} else if (do_require(v, nd) < 0) {
				ret = -1;
			}
			continue;
		}
		requires_ok = false;
		c = &(*out_r)[*nout_r];
		if (validate_node(v, nd, c, false) < 0) {
			(*nout_r)++;
			ret = -1;
			if (v->errs->count >= SV_MAX_ERRORS)
				break;
			continue;
		}
		(*nout_r)++;
		if ((c->op == SV_OP_ELSIF || c->op == SV_OP_ELSE) &&
		    (*nout_r < 2 ||
		     (c[-1].op != SV_OP_IF && c[-1].op != SV_OP_ELSIF))) {
			sv_error(v->errs, nd->line, "%s without a preceding if",
				 nd->name);
			ret = -1;
		}
	}
	return ret;
}

int sv_validate(struct sv_node *nodes, size_t n, struct sv_errs *errs,
		struct sieve_script *script)
{
	struct vctx v = {.errs = errs};
	int ret;

	ret = validate_list(&v, nodes, n, &script->cmds, &script->ncmds, true);
	script->exts = v.exts;
	return ret;
}
