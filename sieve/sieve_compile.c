/*
 * sieve_compile.c - compile driver and the compact compiled form.
 *
 * The compiled form is the validated command tree written depth first:
 *
 *	"RSV1" u32 exts, u32 max_actions max_redirects max_include_depth
 *	max_includes, u64 max_var_size, cmdlist
 *	cmdlist = u32 count, count * cmd
 *	cmd     = u8 op match rel cmp addrpart bodyx mods, u16 flags,
 *		  u32 line, i32 index, u64 num,
 *		  SV_SL_COUNT * (u32 n, n * (u32 len, len bytes, u8 vars)),
 *		  cmdlist kids, cmdlist block
 *
 * Integers are little-endian.  Reading checks every length against what is
 * left and then runs sv_check_tree(), so the interpreter only ever sees
 * trees the validator could have produced.
 */
#include <stdlib.h>
#include <string.h>

#include "sieve/sieve_int.h"

#define SV_MAGIC "RSV1"
#define SV_MAX_DEPTH 256

void sieve_limits_default(struct sieve_limits *lim)
{
	lim->max_script_size = 64 * 1024;
	lim->max_nesting = 32;
	lim->max_actions = 64;
	lim->max_redirects = 4;
	lim->max_include_depth = 10;
	lim->max_includes = 20;
	lim->max_var_size = 4096;
}

const char *sieve_capabilities(void)
{
	return "fileinto reject ereject envelope encoded-character vacation "
	       "imap4flags variables relational comparator-i;ascii-numeric "
	       "subaddress copy body date index mailbox include";
}

void sv_cmds_free(struct sv_cmd *cmds, uint32_t n)
{
	if (cmds == NULL)
		return;
	for (uint32_t i = 0; i < n; i++) {
		for (int k = 0; k < SV_SL_COUNT; k++)
			sv_slist_free(&cmds[i].sl[k]);
		sv_cmds_free(cmds[i].kids, cmds[i].nkids);
		sv_cmds_free(cmds[i].block, cmds[i].nblock);
	}
	free(cmds);
}

void sieve_script_free(struct sieve_script **script)
{
	if (*script == NULL)
		return;
	sv_cmds_free((*script)->cmds, (*script)->ncmds);
	free(*script);
	*script = NULL;
}

int sieve_compile(const char *text, size_t len, const struct sieve_limits *lim,
		  struct sieve_script **script_r, struct strbuf *errors)
{
	struct sieve_limits deflim;
	struct sv_errs errs = {.out = errors};
	struct sv_node *nodes;
	struct sieve_script *s;
	size_t n;

	*script_r = NULL;
	if (lim == NULL) {
		sieve_limits_default(&deflim);
		lim = &deflim;
	}
	if (len > lim->max_script_size) {
		sv_error(&errs, 1, "script too large (%zu bytes, limit %zu)",
			 len, lim->max_script_size);
		return -1;
	}
	if (sv_parse(text, len, lim->max_nesting, &errs, &nodes, &n) < 0)
		return -1;
	s = xcalloc(1, sizeof(*s));
	if (sv_validate(nodes, n, &errs, s) < 0 || errs.count > 0) {
		sv_nodes_free(nodes, n);
		sieve_script_free(&s);
		return -1;
	}
	sv_nodes_free(nodes, n);
	s->lim = *lim;
	*script_r = s;
	return 0;
}

/* --- writing --- */

static void put_u8(struct strbuf *o, uint8_t v)
{
	strbuf_addc(o, (char)v);
}

static void put_u16(struct strbuf *o, uint16_t v)
{
	put_u8(o, (uint8_t)v);
	put_u8(o, (uint8_t)(v >> 8));
}

static void put_u32(struct strbuf *o, uint32_t v)
{
	put_u16(o, (uint16_t)v);
	put_u16(o, (uint16_t)(v >> 16));
}

static void put_u64(struct strbuf *o, uint64_t v)
{
	put_u32(o, (uint32_t)v);
	put_u32(o, (uint32_t)(v >> 32));
}

static void put_cmds(struct strbuf *o, const struct sv_cmd *c, uint32_t n)
{
	put_u32(o, n);
	for (uint32_t i = 0; i < n; i++, c++) {
		put_u8(o, c->op);
		put_u8(o, c->match);
		put_u8(o, c->rel);
		put_u8(o, c->cmp);
		put_u8(o, c->addrpart);
		put_u8(o, c->bodyx);
		put_u8(o, c->mods);
		put_u16(o, c->flags);
		put_u32(o, c->line);
		put_u32(o, (uint32_t)c->index);
		put_u64(o, c->num);
		for (int k = 0; k < SV_SL_COUNT; k++) {
			put_u32(o, c->sl[k].n);
			for (uint32_t j = 0; j < c->sl[k].n; j++) {
				put_u32(o, c->sl[k].v[j].len);
				strbuf_add(o, c->sl[k].v[j].s,
					   c->sl[k].v[j].len);
				put_u8(o, c->sl[k].v[j].vars);
			}
		}
		put_cmds(o, c->kids, c->nkids);
		put_cmds(o, c->block, c->nblock);
	}
}

void sieve_serialize(const struct sieve_script *script, struct strbuf *out)
{
	strbuf_add(out, SV_MAGIC, 4);
	put_u32(out, script->exts);
	put_u32(out, script->lim.max_actions);
	put_u32(out, script->lim.max_redirects);
	put_u32(out, script->lim.max_include_depth);
	put_u32(out, script->lim.max_includes);
	put_u64(out, script->lim.max_var_size);
	put_cmds(out, script->cmds, script->ncmds);
}

/* --- reading --- */

struct reader {
	const unsigned char *p, *end;
	bool bad;
};

static uint64_t get_n(struct reader *r, unsigned bytes)
{
	uint64_t v = 0;

	if (r->bad || (size_t)(r->end - r->p) < bytes) {
		r->bad = true;
		return 0;
	}
	for (unsigned i = 0; i < bytes; i++)
		v |= (uint64_t)r->p[i] << (8 * i);
	r->p += bytes;
	return v;
}

/* Smallest encoding of one command, to bound counts by what is left. */
#define SV_MIN_CMD (7 + 2 + 4 + 4 + 8 + 4 * SV_SL_COUNT + 8)

static int get_slist(struct reader *r, struct sv_slist *l)
{
	uint32_t n = (uint32_t)get_n(r, 4);

	if (r->bad || n > (size_t)(r->end - r->p) / 5) {
		r->bad = true;
		return -1;
	}
	if (n == 0)
		return 0;
	l->v = xcalloc(n, sizeof(*l->v));
	for (uint32_t i = 0; i < n; i++) {
		uint32_t len = (uint32_t)get_n(r, 4);

		if (r->bad || len > (size_t)(r->end - r->p)) {
			r->bad = true;
			return -1;
		}
		l->v[i].s = xstrndup((const char *)r->p, len);
		l->v[i].len = len;
		l->n = i + 1;
		r->p += len;
		l->v[i].vars = (uint8_t)get_n(r, 1);
		/* embedded NULs never come from the lexer */
		if (memchr(l->v[i].s, '\0', len) != NULL)
			r->bad = true;
		if (r->bad)
			return -1;
	}
	return 0;
}

static int get_cmds(struct reader *r, struct sv_cmd **out_r, uint32_t *n_r,
		    unsigned depth)
{
	uint32_t n = (uint32_t)get_n(r, 4);
	struct sv_cmd *cmds;

	*out_r = NULL;
	*n_r = 0;
	if (r->bad || depth > SV_MAX_DEPTH ||
	    n > (size_t)(r->end - r->p) / SV_MIN_CMD) {
		r->bad = true;
		return -1;
	}
	if (n == 0)
		return 0;
	cmds = xcalloc(n, sizeof(*cmds));
	*out_r = cmds;
	for (uint32_t i = 0; i < n; i++) {
		struct sv_cmd *c = &cmds[i];

		*n_r = i + 1;
		c->op = (uint8_t)get_n(r, 1);
		c->match = (uint8_t)get_n(r, 1);
		c->rel = (uint8_t)get_n(r, 1);
		c->cmp = (uint8_t)get_n(r, 1);
		c->addrpart = (uint8_t)get_n(r, 1);
		c->bodyx = (uint8_t)get_n(r, 1);
		c->mods = (uint8_t)get_n(r, 1);
		c->flags = (uint16_t)get_n(r, 2);
		c->line = (uint32_t)get_n(r, 4);
		c->index = (int32_t)(uint32_t)get_n(r, 4);
		c->num = get_n(r, 8);
		for (int k = 0; k < SV_SL_COUNT; k++)
			if (get_slist(r, &c->sl[k]) < 0)
				return -1;
		if (get_cmds(r, &c->kids, &c->nkids, depth + 1) < 0 ||
		    get_cmds(r, &c->block, &c->nblock, depth + 1) < 0)
			return -1;
	}
	return r->bad ? -1 : 0;
}

int sieve_deserialize(const void *buf, size_t len,
		      struct sieve_script **script_r)
{
	struct reader r = {.p = buf, .end = (const unsigned char *)buf + len};
	struct sieve_script *s;

	*script_r = NULL;
	if (len < 8 || memcmp(buf, SV_MAGIC, 4) != 0)
		return -1;
	r.p += 4;
	s = xcalloc(1, sizeof(*s));
	s->exts = (uint32_t)get_n(&r, 4);
	sieve_limits_default(&s->lim);
	s->lim.max_actions = (unsigned)get_n(&r, 4);
	s->lim.max_redirects = (unsigned)get_n(&r, 4);
	s->lim.max_include_depth = (unsigned)get_n(&r, 4);
	s->lim.max_includes = (unsigned)get_n(&r, 4);
	s->lim.max_var_size = (size_t)get_n(&r, 8);
	if ((s->exts >> SV_EXT_COUNT) != 0 || s->lim.max_actions > 100000 ||
	    s->lim.max_redirects > 100000 || s->lim.max_include_depth > 1000 ||
	    s->lim.max_includes > 100000 || s->lim.max_var_size > (1u << 24) ||
	    get_cmds(&r, &s->cmds, &s->ncmds, 0) < 0 || r.p != r.end ||
	    sv_check_tree(s) < 0) {
		sieve_script_free(&s);
		return -1;
	}
	*script_r = s;
	return 0;
}
