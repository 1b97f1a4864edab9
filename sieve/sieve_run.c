/*
 * sieve_run.c - the interpreter: control flow, actions, variables, flags
 * and include (RFC 5228 section 3 and 4, RFC 5229, RFC 5232, RFC 6609).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sieve/sieve_run_int.h"

void sv_run_fail(struct sv_run *r, const struct sv_cmd *c, const char *fmt, ...)
{
	va_list ap;

	if (r->failed)
		return;
	r->failed = true;
	if (r->err == NULL)
		return;
	strbuf_printf(r->err, "line %u: ", c ? c->line : 0);
	va_start(ap, fmt);
	strbuf_vprintf(r->err, fmt, ap);
	va_end(ap);
	strbuf_addc(r->err, '\n');
}

struct sv_vars *sv_run_vars(struct sv_run *r)
{
	return &r->frame->vars;
}

const struct sieve_msg *sv_run_msg(struct sv_run *r)
{
	return r->msg;
}

bool sv_run_has_ext(struct sv_run *r, enum sv_ext ext)
{
	return (r->frame->script->exts & (1u << ext)) != 0;
}

static bool is_global(struct sv_run *r, const char *name, size_t len)
{
	for (size_t i = 0; i < r->frame->nglobals; i++)
		if (strlen(r->frame->globals[i]) == len &&
		    strncasecmp(r->frame->globals[i], name, len) == 0)
			return true;
	return false;
}

/* The storage of a named variable, honouring "global" declarations. */
static struct strbuf *var_slot(struct sv_run *r, const char *name, size_t len,
			       bool create)
{
	if (len > 7 && strncasecmp(name, "global.", 7) == 0)
		return sv_var_get(&r->globals, name + 7, len - 7, create);
	if (is_global(r, name, len))
		return sv_var_get(&r->globals, name, len, create);
	return sv_var_get(&r->frame->vars, name, len, create);
}

static const struct strbuf *lookup(void *ctx, const char *name, size_t len)
{
	return var_slot(ctx, name, len, false);
}

void sv_run_expand(struct sv_run *r, const struct sv_string *str,
		   struct strbuf *out)
{
	if (!str->vars) {
		strbuf_add(out, str->s, str->len);
		return;
	}
	sv_vars_expand(&r->frame->vars, lookup, r, str->s, str->len, out);
}

struct strbuf *sv_run_flagvar(struct sv_run *r, const struct sv_cmd *c,
			      const struct sv_string *name)
{
	(void)c;
	if (name == NULL)
		return &r->flags;
	return var_slot(r, name->s, name->len, true);
}

/* --- flags (RFC 5232 3: a space-separated set, case-insensitive) --- */

static bool flag_in(const struct strbuf *flags, const char *f, size_t flen)
{
	const char *p = flags->data, *end = flags->data + flags->len;

	while (p < end) {
		const char *sp = memchr(p, ' ', (size_t)(end - p));
		size_t l = sp ? (size_t)(sp - p) : (size_t)(end - p);

		if (l == flen && strncasecmp(p, f, l) == 0)
			return true;
		p += l + 1;
	}
	return false;
}

void sv_flags_add(struct strbuf *flags, const char *list, size_t len)
{
	const char *p = list, *end = list + len;

	while (p < end) {
		size_t l;

		while (p < end && *p == ' ')
			p++;
		l = 0;
		while (p + l < end && p[l] != ' ')
			l++;
		if (l > 0 && !flag_in(flags, p, l)) {
			if (flags->len > 0)
				strbuf_addc(flags, ' ');
			strbuf_add(flags, p, l);
		}
		p += l;
	}
}

void sv_flags_remove(struct strbuf *flags, const char *list, size_t len)
{
	struct strbuf rem, keep;
	const char *p = flags->data, *end = flags->data + flags->len;

	strbuf_init(&rem);
	strbuf_init(&keep);
	sv_flags_add(&rem, list, len);
	while (p < end) {
		const char *sp = memchr(p, ' ', (size_t)(end - p));
		size_t l = sp ? (size_t)(sp - p) : (size_t)(end - p);

		if (l > 0 && !flag_in(&rem, p, l))
			sv_flags_add(&keep, p, l);
		p += l + 1;
	}
	strbuf_reset(flags);
	strbuf_add(flags, keep.data, keep.len);
	strbuf_free(&rem);
	strbuf_free(&keep);
}

/* Expands a flag list argument into one space-separated set. */
static void expand_flags(struct sv_run *r, const struct sv_slist *l,
			 struct strbuf *out)
{
	struct strbuf tmp;

	strbuf_init(&tmp);
	for (uint32_t i = 0; i < l->n; i++) {
		strbuf_reset(&tmp);
		sv_run_expand(r, &l->v[i], &tmp);
		sv_flags_add(out, tmp.data, tmp.len);
	}
	strbuf_free(&tmp);
}

static void do_flags(struct sv_run *r, const struct sv_cmd *c)
{
	const struct sv_string *var =
	    (c->flags & SV_F_HAS_VAR) ? &c->sl[SV_SL_P0].v[0] : NULL;
	struct strbuf *target, list;

	strbuf_init(&list);
	expand_flags(r, &c->sl[SV_SL_P1], &list);
	/* setflag with several variable names is not allowed; use the first */
	target = sv_run_flagvar(r, c, var);
	switch (c->op) {
	case SV_OP_SETFLAG:
		strbuf_reset(target);
		sv_flags_add(target, list.data, list.len);
		break;
	case SV_OP_ADDFLAG:
		sv_flags_add(target, list.data, list.len);
		break;
	case SV_OP_REMOVEFLAG:
		sv_flags_remove(target, list.data, list.len);
		break;
	}
	strbuf_free(&list);
}

/* --- actions --- */

static void expand1(struct sv_run *r, const struct sv_cmd *c, enum sv_slot s,
		    struct strbuf *out)
{
	if (c->sl[s].n > 0)
		sv_run_expand(r, &c->sl[s].v[0], out);
}

/* The flags a keep/fileinto stores: :flags, else the internal variable. */
static void action_flags(struct sv_run *r, const struct sv_cmd *c,
			 struct strbuf *out)
{
	if (c->flags & SV_F_HAS_FLAGS)
		expand_flags(r, &c->sl[SV_SL_FLAGS], out);
	else if (sv_run_has_ext(r, SV_EXT_IMAP4FLAGS) ||
		 sv_run_has_ext(r, SV_EXT_IMAPFLAGS))
		strbuf_add(out, r->flags.data, r->flags.len);
}

static char *dupbuf(const struct strbuf *b)
{
	return xstrndup(b->data, b->len);
}

static void do_vacation(struct sv_run *r, const struct sv_cmd *c)
{
	struct sieve_action a = {.type = SIEVE_ACT_VACATION};
	struct strbuf b;

	strbuf_init(&b);
	expand1(r, c, SV_SL_P0, &b);
	a.reason = dupbuf(&b);
	if (c->sl[SV_SL_FROM].n) {
		struct strbuf chk;

		/* an invalid :from built from variables is dropped: the
		 * reply then goes out from the user's own address */
		strbuf_init(&chk);
		strbuf_reset(&b);
		expand1(r, c, SV_SL_FROM, &b);
		if (sv_addr_redirect(b.data, b.len, &chk) == 0)
			a.from = dupbuf(&b);
		strbuf_free(&chk);
	}
	if (c->sl[SV_SL_SUBJECT].n) {
		strbuf_reset(&b);
		expand1(r, c, SV_SL_SUBJECT, &b);
		a.subject = dupbuf(&b);
	}
	if (c->sl[SV_SL_HANDLE].n) {
		strbuf_reset(&b);
		expand1(r, c, SV_SL_HANDLE, &b);
		a.handle = dupbuf(&b);
	}
	/* :addresses items that are not addresses are ignored; the rest
	 * are kept as bare addr-specs for the caller's comparisons */
	if (c->sl[SV_SL_ADDRESSES].n > 0)
		a.addresses = xcalloc(c->sl[SV_SL_ADDRESSES].n, sizeof(char *));
	for (size_t i = 0; i < c->sl[SV_SL_ADDRESSES].n; i++) {
		struct strbuf spec;

		strbuf_init(&spec);
		strbuf_reset(&b);
		sv_run_expand(r, &c->sl[SV_SL_ADDRESSES].v[i], &b);
		if (sv_addr_redirect(b.data, b.len, &spec) == 0)
			a.addresses[a.naddresses++] = dupbuf(&spec);
		strbuf_free(&spec);
	}
	a.mime = (c->flags & SV_F_MIME) != 0;
	a.seconds = c->num;
	strbuf_free(&b);
	sv_act_vacation(r, c, &a);
}

static void do_set(struct sv_run *r, const struct sv_cmd *c)
{
	struct strbuf val, *slot;
	const struct sv_string *name = &c->sl[SV_SL_P0].v[0];

	strbuf_init(&val);
	expand1(r, c, SV_SL_P1, &val);
	slot = var_slot(r, name->s, name->len, true);
	strbuf_reset(slot);
	sv_apply_mods(c->mods, val.data, val.len, slot);
	/* RFC 5229 3: values may be truncated to the supported size, but
	 * not in the middle of a UTF-8 character */
	if (slot->len > r->lim.max_var_size) {
		size_t l = r->lim.max_var_size;

		while (l > 0 && ((unsigned char)slot->data[l] & 0xc0) == 0x80)
			l--;
		strbuf_truncate(slot, l);
	}
	strbuf_free(&val);
}

static void do_global(struct sv_run *r, const struct sv_cmd *c)
{
	struct sv_frame *f = r->frame;

	for (uint32_t i = 0; i < c->sl[SV_SL_P0].n; i++) {
		const struct sv_string *s = &c->sl[SV_SL_P0].v[i];

		if (is_global(r, s->s, s->len))
			continue;
		f->globals =
		    xrealloc(f->globals, (f->nglobals + 1) * sizeof(char *));
		f->globals[f->nglobals++] = xstrndup(s->s, s->len);
	}
}

static void run_cmds(struct sv_run *r, const struct sv_cmd *c, uint32_t n);

static void run_script(struct sv_run *r, const struct sieve_script *s)
{
	struct sv_frame f = {.script = s}, *saved = r->frame;

	sv_vars_init(&f.vars, r->lim.max_var_size);
	r->frame = &f;
	run_cmds(r, s->cmds, s->ncmds);
	r->returned = false;
	r->frame = saved;
	sv_vars_free(&f.vars);
	for (size_t i = 0; i < f.nglobals; i++)
		free(f.globals[i]);
	free(f.globals);
}

static void do_include(struct sv_run *r, const struct sv_cmd *c)
{
	const char *name = c->sl[SV_SL_P0].v[0].s;
	bool global = (c->flags & SV_F_GLOBAL) != 0;
	struct sv_loaded *l = NULL;
	struct sieve_script *s = NULL;
	int ret;

	for (size_t i = 0; i < r->nloaded; i++)
		if (r->loaded[i].global == global &&
		    strcmp(r->loaded[i].name, name) == 0)
			l = &r->loaded[i];
	if (l != NULL && l->active) {
		sv_run_fail(r, c, "include: \"%s\" includes itself", name);
		return;
	}
	if (l != NULL && (c->flags & SV_F_ONCE) && l->once_done)
		return;
	if (r->depth + 1 > r->lim.max_include_depth) {
		sv_run_fail(r, c, "include: nesting too deep");
		return;
	}
	if (l == NULL) {
		if (r->nloaded >= r->lim.max_includes) {
			sv_run_fail(r, c, "include: too many scripts");
			return;
		}
		ret =
		    r->msg->load_include == NULL
			? 1
			: r->msg->load_include(r->msg->ctx, name,
					       global ? SIEVE_INCLUDE_GLOBAL
						      : SIEVE_INCLUDE_PERSONAL,
					       &s);
		if (ret == 1 && (c->flags & SV_F_OPTIONAL))
			return;
		if (ret != 0 || s == NULL) {
			sv_run_fail(r, c, "include: script \"%s\" %s", name,
				    ret == 1 ? "not found" : "failed to load");
			sieve_script_free(&s);
			return;
		}
		r->loaded =
		    xrealloc(r->loaded, (r->nloaded + 1) * sizeof(*r->loaded));
		l = &r->loaded[r->nloaded++];
		memset(l, 0, sizeof(*l));
		l->name = xstrdup(name);
		l->global = global;
		l->script = s;
	}
	if (c->flags & SV_F_ONCE)
		l->once_done = true;
	l->active = true;
	r->depth++;
	s = l->script;
	run_script(r, s);
	r->depth--;
	/* r->loaded may have moved while the include ran */
	for (size_t i = 0; i < r->nloaded; i++)
		if (r->loaded[i].script == s)
			r->loaded[i].active = false;
}

static void run_action(struct sv_run *r, const struct sv_cmd *c)
{
	struct strbuf a, f;

	strbuf_init(&a);
	strbuf_init(&f);
	switch (c->op) {
	case SV_OP_KEEP:
		action_flags(r, c, &f);
		sv_act_keep(r, c, f.data, false);
		break;
	case SV_OP_FILEINTO:
		expand1(r, c, SV_SL_P0, &a);
		action_flags(r, c, &f);
		sv_act_fileinto(r, c, a.data, f.data);
		break;
	case SV_OP_REDIRECT:
		expand1(r, c, SV_SL_P0, &a);
		if (sv_addr_redirect(a.data, a.len, &f) < 0) {
			sv_run_fail(r, c, "invalid redirect address \"%s\"",
				    a.data);
			break;
		}
		sv_act_redirect(r, c, f.data);
		break;
	case SV_OP_REJECT:
	case SV_OP_EREJECT:
		expand1(r, c, SV_SL_P0, &a);
		sv_act_reject(r, c, a.data, c->op == SV_OP_EREJECT);
		break;
	case SV_OP_DISCARD:
		sv_act_discard(r, c);
		break;
	case SV_OP_VACATION:
		do_vacation(r, c);
		break;
	}
	strbuf_free(&a);
	strbuf_free(&f);
}

static void run_cmds(struct sv_run *r, const struct sv_cmd *c, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		if (r->failed || r->stopped || r->returned)
			return;
		switch (c[i].op) {
		case SV_OP_IF:
		case SV_OP_ELSIF:
		case SV_OP_ELSE:
			if (c[i].op != SV_OP_ELSE &&
			    !sv_eval_test(r, c[i].kids))
				break;
			if (r->failed)
				return;
			run_cmds(r, c[i].block, c[i].nblock);
			while (i + 1 < n && (c[i + 1].op == SV_OP_ELSIF ||
					     c[i + 1].op == SV_OP_ELSE))
				i++;
			break;
		case SV_OP_STOP:
			r->stopped = true;
			return;
		case SV_OP_RETURN:
			r->returned = true;
			return;
		case SV_OP_SETFLAG:
		case SV_OP_ADDFLAG:
		case SV_OP_REMOVEFLAG:
			do_flags(r, &c[i]);
			break;
		case SV_OP_MARK:
			sv_flags_add(&r->flags, "\\Flagged", 8);
			break;
		case SV_OP_UNMARK:
			sv_flags_remove(&r->flags, "\\Flagged", 8);
			break;
		case SV_OP_SET:
			do_set(r, &c[i]);
			break;
		case SV_OP_GLOBAL:
			do_global(r, &c[i]);
			break;
		case SV_OP_INCLUDE:
			do_include(r, &c[i]);
			break;
		default:
			run_action(r, &c[i]);
			break;
		}
	}
}

int sieve_execute(const struct sieve_script *script,
		  const struct sieve_msg *msg, struct sieve_result **res_r,
		  struct strbuf *runtime_err)
{
	struct sv_run r;
	int ret = 0;

	memset(&r, 0, sizeof(r));
	r.lim = script->lim;
	r.msg = msg;
	r.err = runtime_err;
	r.res = xcalloc(1, sizeof(*r.res));
	strbuf_init(&r.flags);
	sv_vars_init(&r.globals, r.lim.max_var_size);
	*res_r = NULL;
	run_script(&r, script);
	if (!r.failed && !r.keep_cancelled) {
		struct sv_frame f = {.script = script};

		r.frame = &f;
		sv_act_keep(&r, NULL, r.flags.data, true);
		r.frame = NULL;
	}
	if (r.failed) {
		sieve_result_free(&r.res);
		ret = -1;
	}
	*res_r = r.res;
	for (size_t i = 0; i < r.nloaded; i++) {
		free(r.loaded[i].name);
		sieve_script_free(&r.loaded[i].script);
	}
	free(r.loaded);
	strbuf_free(&r.flags);
	sv_vars_free(&r.globals);
	sv_hdr_index_free(&r.hdrs);
	for (size_t i = 0; i < r.nhcache; i++) {
		struct sv_hcache *hc = &r.hcache[i];

		free(hc->name);
		sieve_values_clear(&hc->dec);
		for (size_t k = 0; k < hc->nfields; k++)
			sv_addrs_free(hc->addrs[k], hc->naddrs[k]);
		free(hc->addrs);
		free(hc->naddrs);
	}
	free(r.hcache);
	return ret;
}
