/*
 * sieve_check.c - structural check of a deserialised command tree
 * (sieve_deserialize): every command has a known op, the argument slots
 * its table row allows, sane enums and nesting, so the interpreter only
 * ever runs trees the validator could have produced.
 */
#include <string.h>

#include "sieve/sieve_cmds.h"

static bool slot_ok(const struct sv_slist *l, int want)
{
	/* want: 0 absent, 1 exactly one string, 2 one or more, 3 any */
	if (want == 3)
		return true;
	if (want == 0)
		return l->n == 0;
	if (want == 1)
		return l->n == 1;
	return l->n >= 1;
}

static int check_cmd_shape(const struct sieve_script *s, const struct sv_cmd *c,
			   bool want_test, const struct sv_cmd *prev,
			   unsigned depth);

static int check_cmd_list(const struct sieve_script *s, const struct sv_cmd *c,
			  uint32_t n, bool want_test, unsigned depth)
{
	for (uint32_t i = 0; i < n; i++)
		if (check_cmd_shape(s, &c[i], want_test, i ? &c[i - 1] : NULL,
				    depth) < 0)
			return -1;
	return 0;
}

static int check_cmd_shape(const struct sieve_script *s, const struct sv_cmd *c,
			   bool want_test, const struct sv_cmd *prev,
			   unsigned depth)
{
	const struct cmd_def *d = sv_find_op(c->op);
	struct vctx v = {.exts = s->exts};
	int want[SV_SL_COUNT] = {0};
	const char *spec;
	size_t slot = 0;

	if (d == NULL || d->test != want_test || depth > 256)
		return -1;
	if (!sv_has_ext(&v, d->ext) &&
	    !(d->ext == SV_EXT_IMAP4FLAGS && sv_has_ext(&v, SV_EXT_IMAPFLAGS)))
		return -1;
	if ((c->flags & ~SV_F_ALL) || c->match > SV_MATCH_COUNT ||
	    c->rel > SV_REL_NE || c->cmp > SV_CMP_NUMERIC ||
	    c->addrpart > SV_AP_DETAIL || c->bodyx > SV_BODY_CONTENT ||
	    (c->mods & ~SV_MOD_ALL) || c->index < 0)
		return -1;
	if (!sv_cmp_valid_for_match((enum sv_cmp)c->cmp,
				    (enum sv_match)c->match))
		return -1;
	spec = d->args;
	if (*spec == '?') {
		want[SV_SL_P0] = (c->flags & SV_F_HAS_VAR) ? 2 : 0;
		spec++;
		slot = 1;
	}
	for (; *spec; spec++) {
		if (*spec == 'S')
			want[slot++] = 1;
		else if (*spec == 'L')
			want[slot++] = 2;
	}
	if (d->groups & G_FLAGS)
		want[SV_SL_FLAGS] = 3;
	if (d->groups & G_VAC) {
		want[SV_SL_FROM] = want[SV_SL_SUBJECT] = 3;
		want[SV_SL_HANDLE] = want[SV_SL_ADDRESSES] = 3;
		if (c->sl[SV_SL_FROM].n > 1 || c->sl[SV_SL_SUBJECT].n > 1 ||
		    c->sl[SV_SL_HANDLE].n > 1)
			return -1;
	}
	if (d->groups & G_ZONE) {
		want[SV_SL_ZONE] = 3;
		if (c->sl[SV_SL_ZONE].n > 1)
			return -1;
	}
	if ((d->groups & G_BODY) && c->bodyx == SV_BODY_CONTENT)
		want[SV_SL_CONTENT] = 2;
	for (int i = 0; i < SV_SL_COUNT; i++) {
		if (!slot_ok(&c->sl[i], want[i]))
			return -1;
		for (uint32_t k = 0; k < c->sl[i].n; k++)
			if (c->sl[i].v[k].vars > 1 ||
			    (c->sl[i].v[k].vars &&
			     !(s->exts & (1u << SV_EXT_VARIABLES))))
				return -1;
	}
	if ((d->tests == K_NONE && c->nkids != 0) ||
	    (d->tests == K_TEST && c->nkids != 1) ||
	    (d->tests == K_TESTLIST && c->nkids < 1) ||
	    (!d->block && c->nblock != 0))
		return -1;
	if ((c->op == SV_OP_ELSIF || c->op == SV_OP_ELSE) &&
	    (prev == NULL || (prev->op != SV_OP_IF && prev->op != SV_OP_ELSIF)))
		return -1;
	if (c->op == SV_OP_SET || c->op == SV_OP_GLOBAL ||
	    (c->flags & SV_F_HAS_VAR)) {
		for (uint32_t k = 0; k < c->sl[SV_SL_P0].n; k++)
			if (!sv_var_name_valid(c->sl[SV_SL_P0].v[k].s,
					       c->sl[SV_SL_P0].v[k].len,
					       false) &&
			    !sv_global_ns_name(&v, &c->sl[SV_SL_P0].v[k]))
				return -1;
	}
	if (c->op == SV_OP_INCLUDE &&
	    (c->sl[SV_SL_P0].v[0].len == 0 ||
	     memchr(c->sl[SV_SL_P0].v[0].s, '/', c->sl[SV_SL_P0].v[0].len)))
		return -1;
	if (c->op == SV_OP_DATE || c->op == SV_OP_CURRENTDATE) {
		const struct sv_string *part =
		    &c->sl[c->op == SV_OP_DATE ? SV_SL_P1 : SV_SL_P0].v[0];

		if (!part->vars && !sv_date_part_valid(part->s))
			return -1;
	}
	if (check_cmd_list(s, c->kids, c->nkids, true, depth + 1) < 0)
		return -1;
	return check_cmd_list(s, c->block, c->nblock, false, depth + 1);
}

int sv_check_tree(const struct sieve_script *s)
{
	return check_cmd_list(s, s->cmds, s->ncmds, false, 0);
}
