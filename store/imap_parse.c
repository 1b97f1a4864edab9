/*
 * imap_parse.c - the incremental, pure IMAP command parser.
 *
 * A command is a run of segments: a line, and when that line ends with a
 * literal marker {N} / {N+} / ~{N} (RFC 9051 4.3, RFC 7888), the literal,
 * then the next line, and so on (RFC 9051 2.2.1).  The parser keeps the
 * segments' text and in-memory literals in one buffer and tokenises the
 * whole command once its last line arrives: tag, name, and arguments as a
 * tree of atoms, quoted strings, literals, NIL and lists.  It never sees
 * a socket: the session feeds lines and literal bytes (or says a literal
 * went to a spool), tests and the fuzzer feed bytes.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lineread.h"
#include "strbuf.h"
#include "store/imap.h"

struct seg {
	size_t text_off, text_len; /* in p->buf */
	int has_lit;
	size_t marker_off; /* '{' (or '~') in the text */
	int lit_spool;
	size_t lit_off, lit_len; /* in p->buf */
	struct mstore_spool *sp;
	uint64_t sp_size;
	int lit8;
};

struct imap_parser {
	struct imap_parser_params prm;
	struct strbuf buf;
	struct seg *segs;
	size_t nsegs, capsegs;
	int in_literal; /* last segment awaits its literal */
	char tag[80];
	char name[32];

	struct imap_command cmd;
	int done;
	const char *error;
	unsigned ntokens;

	/* byte interface */
	struct lineread *lr;
	uint64_t lit_left;
	int want_cont;
};

static void params_default(struct imap_parser_params *p)
{
	if (p->max_line == 0)
		p->max_line = IMAP_MAX_LINE;
	if (p->max_command == 0)
		p->max_command = 1024 * 1024;
	if (p->max_literal == 0)
		p->max_literal = 1024 * 1024;
	if (p->max_args == 0)
		p->max_args = 100000;
	if (p->max_depth == 0)
		p->max_depth = 64;
	if (p->max_tag == 0 || p->max_tag > 64)
		p->max_tag = 64;
}

struct imap_parser *imap_parser_new(const struct imap_parser_params *prm)
{
	struct imap_parser *p = xcalloc(1, sizeof(*p));

	if (prm != NULL)
		p->prm = *prm;
	params_default(&p->prm);
	strbuf_init(&p->buf);
	strcpy(p->tag, "*");
	return p;
}

static void args_free(struct imap_arg *a, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (a[i].type == IMAP_ARG_LIST)
			args_free(a[i].list, a[i].count);
		free(a[i].str);
	}
	free(a);
}

void imap_parser_reset(struct imap_parser *p)
{
	args_free(p->cmd.args, p->cmd.nargs);
	free(p->cmd.tag);
	free(p->cmd.name);
	memset(&p->cmd, 0, sizeof(p->cmd));
	/* an idle session should not keep a big command's buffer */
	if (p->buf.cap > 16384) {
		strbuf_free(&p->buf);
		strbuf_init(&p->buf);
	} else {
		strbuf_reset(&p->buf);
	}
	if (p->capsegs > 16) {
		free(p->segs);
		p->segs = NULL;
		p->capsegs = 0;
	}
	p->nsegs = 0;
	p->in_literal = 0;
	p->done = 0;
	p->error = NULL;
	p->ntokens = 0;
	p->lit_left = 0;
	p->want_cont = 0;
	strcpy(p->tag, "*");
	p->name[0] = '\0';
}

void imap_parser_free(struct imap_parser **pp)
{
	struct imap_parser *p = *pp;

	if (p == NULL)
		return;
	imap_parser_reset(p);
	strbuf_free(&p->buf);
	free(p->segs);
	lineread_free(&p->lr);
	free(p);
	*pp = NULL;
}

const struct imap_command *imap_parser_command(const struct imap_parser *p)
{
	return p->done ? &p->cmd : NULL;
}

const char *imap_parser_error(const struct imap_parser *p)
{
	return p->error != NULL ? p->error : "Syntax error";
}

const char *imap_parser_tag(const struct imap_parser *p)
{
	return p->tag;
}

const char *imap_parser_name(const struct imap_parser *p)
{
	return p->name;
}

static int fail(struct imap_parser *p, const char *msg)
{
	if (p->error == NULL)
		p->error = msg;
	return IMAP_PARSE_ERROR;
}

/* RFC 9051 9: tag = 1*<any ASTRING-CHAR except "+"> */
static int is_atom_char(unsigned char ch)
{
	if (ch <= 0x20 || ch == 0x7f)
		return 0;
	return strchr("(){%*\"\\]", ch) == NULL;
}

static int is_tag_char(unsigned char ch)
{
	return ch != '+' && (is_atom_char(ch) || ch == ']');
}

/* The tag and name of the first line, for replies before the end. */
static void peek_tag_name(struct imap_parser *p, const char *line, size_t len)
{
	size_t i = 0, j;

	while (i < len && i < p->prm.max_tag &&
	       is_tag_char((unsigned char)line[i]))
		i++;
	if (i == 0 || (i < len && line[i] != ' '))
		return;
	memcpy(p->tag, line, i);
	p->tag[i] = '\0';
	if (i == len)
		return;
	j = ++i;
	while (j < len && j - i < sizeof(p->name) - 1 &&
	       isalpha((unsigned char)line[j]))
		j++;
	for (size_t k = i; k < j; k++)
		p->name[k - i] = (char)toupper((unsigned char)line[k]);
	p->name[j - i] = '\0';
	/* "UID COPY": remember the real command */
	if (strcmp(p->name, "UID") == 0 && j < len && line[j] == ' ') {
		size_t k = ++j;

		while (k < len && k - j < sizeof(p->name) - 1 &&
		       isalpha((unsigned char)line[k]))
			k++;
		for (size_t m = j; m < k; m++)
			p->name[m - j] = (char)toupper((unsigned char)line[m]);
		p->name[k - j] = '\0';
	}
}

/* Is the marker at off the first argument ("tag NAME {N}")? */
static int marker_is_first_arg(const char *line, size_t off)
{
	size_t i = 0, words = 0;

	while (i < off) {
		size_t st = i;

		while (i < off && line[i] != ' ')
			i++;
		if (i == st || i >= off)
			return 0;
		words++;
		i++;
		if (words == 2)
			return i == off;
	}
	return 0;
}

static struct seg *seg_add(struct imap_parser *p)
{
	if (p->nsegs == p->capsegs) {
		p->capsegs = p->capsegs ? p->capsegs * 2 : 4;
		p->segs = xrealloc(p->segs, p->capsegs * sizeof(*p->segs));
	}
	memset(&p->segs[p->nsegs], 0, sizeof(struct seg));
	return &p->segs[p->nsegs++];
}

static int tokenize(struct imap_parser *p);

int imap_parser_line(struct imap_parser *p, const char *line, size_t len,
		     struct imap_literal_info *lit_r)
{
	struct lineread_result res;
	struct seg *sg;
	int r;

	memset(lit_r, 0, sizeof(*lit_r));
	if (p->done || p->error != NULL)
		imap_parser_reset(p);
	if (p->in_literal)
		return fail(p, "Literal data missing");
	if (p->nsegs == 0)
		peek_tag_name(p, line, len);
	if (len > p->prm.max_line)
		return fail(p, "Line too long");
	if (p->buf.len + len > p->prm.max_command)
		return fail(p, "Command too long");
	if (memchr(line, '\0', len) != NULL)
		return fail(p, "NUL byte in command");
	if (p->nsegs >= 4096)
		return fail(p, "Too many literals");
	sg = seg_add(p);
	sg->text_off = p->buf.len;
	sg->text_len = len;
	strbuf_add(&p->buf, line, len);

	memset(&res, 0, sizeof(res));
	r = lineread_find_literal(line, len, &res);
	if (r < 0)
		return fail(p, "Literal size out of range");
	if (r == 0) {
		p->done = 1;
		if (tokenize(p) < 0) {
			p->done = 0;
			return IMAP_PARSE_ERROR;
		}
		return IMAP_PARSE_DONE;
	}
	sg->has_lit = 1;
	sg->marker_off = res.literal_offset;
	if (res.literal_offset > 0 && line[res.literal_offset - 1] == '~') {
		sg->marker_off--;
		sg->lit8 = 1;
	}
	p->in_literal = 1;
	lit_r->pending = 1;
	lit_r->nonsync = res.literal_nonsync;
	lit_r->literal8 = sg->lit8;
	lit_r->size = res.literal_size;
	lit_r->first_arg =
	    p->nsegs == 1 && marker_is_first_arg(line, sg->marker_off);
	sg->lit_off = p->buf.len;
	return IMAP_PARSE_MORE;
}

int imap_parser_literal_data(struct imap_parser *p, const void *data,
			     size_t len)
{
	struct seg *sg;

	if (!p->in_literal || p->nsegs == 0)
		return fail(p, "Unexpected literal data");
	sg = &p->segs[p->nsegs - 1];
	if (sg->lit_len + len > p->prm.max_literal ||
	    p->buf.len + len > p->prm.max_command)
		return fail(p, "Literal too large");
	strbuf_add(&p->buf, data, len);
	sg->lit_len += len;
	return 0;
}

void imap_parser_literal_end(struct imap_parser *p)
{
	p->in_literal = 0;
}

void imap_parser_literal_spool(struct imap_parser *p, struct mstore_spool *sp,
			       uint64_t size)
{
	struct seg *sg;

	if (!p->in_literal || p->nsegs == 0)
		return;
	sg = &p->segs[p->nsegs - 1];
	sg->lit_spool = 1;
	sg->sp = sp;
	sg->sp_size = size;
	p->in_literal = 0;
}

/* ---- tokenizer ----------------------------------------------------------- */

struct cursor {
	size_t seg;
	size_t pos; /* within the segment's text */
};

struct toklist {
	struct imap_arg *a;
	size_t n, cap;
};

static struct imap_arg *tok_add(struct imap_parser *p, struct toklist *l)
{
	if (++p->ntokens > p->prm.max_args)
		return NULL;
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 8;
		l->a = xrealloc(l->a, l->cap * sizeof(*l->a));
	}
	memset(&l->a[l->n], 0, sizeof(struct imap_arg));
	return &l->a[l->n++];
}

static const char *seg_text(struct imap_parser *p, const struct seg *sg)
{
	return p->buf.data + sg->text_off;
}

static int parse_quoted(struct imap_parser *p, const char *t, size_t tl,
			size_t *pos, struct imap_arg *a)
{
	struct strbuf s;
	size_t i = *pos + 1;

	strbuf_init(&s);
	for (;;) {
		if (i >= tl) {
			strbuf_free(&s);
			return fail(p, "Unterminated quoted string");
		}
		if (t[i] == '"')
			break;
		if (t[i] == '\\') {
			if (i + 1 >= tl ||
			    (t[i + 1] != '"' && t[i + 1] != '\\')) {
				strbuf_free(&s);
				return fail(p, "Bad escape in quoted string");
			}
			i++;
		}
		strbuf_addc(&s, t[i]);
		i++;
	}
	*pos = i + 1;
	a->type = IMAP_ARG_QUOTED;
	a->len = s.len;
	a->str = strbuf_steal(&s, NULL);
	return 0;
}

/* An atom, with "[...]" sections (FETCH BODY[...]) taken whole. */
static int parse_atom(struct imap_parser *p, const char *t, size_t tl,
		      size_t *pos, struct imap_arg *a)
{
	size_t i = *pos;
	int brackets = 0;

	while (i < tl) {
		unsigned char ch = (unsigned char)t[i];

		if (brackets) {
			if (ch == ']')
				brackets = 0;
			else if (ch < 0x20 || ch == 0x7f)
				return fail(p, "Control character in atom");
			i++;
			continue;
		}
		if (ch == ' ' || ch == '(' || ch == ')')
			break;
		if (ch == '[')
			brackets = 1;
		else if (ch < 0x20 || ch == 0x7f || ch == '"' || ch == '{')
			return fail(p, "Invalid character in atom");
		i++;
	}
	if (brackets)
		return fail(p, "Missing ']'");
	if (i == *pos)
		return fail(p, "Empty atom");
	a->len = i - *pos;
	a->str = xstrndup(t + *pos, a->len);
	a->type = strcasecmp(a->str, "NIL") == 0 ? IMAP_ARG_NIL : IMAP_ARG_ATOM;
	*pos = i;
	return 0;
}

static int parse_literal_tok(struct imap_parser *p, struct cursor *cur,
			     struct imap_arg *a)
{
	const struct seg *sg = &p->segs[cur->seg];

	if (sg->lit_spool) {
		a->type = IMAP_ARG_SPOOL;
		a->spool = sg->sp;
		a->spool_size = sg->sp_size;
	} else {
		a->type = IMAP_ARG_LITERAL;
		a->len = sg->lit_len;
		a->str = xmalloc(sg->lit_len + 1);
		memcpy(a->str, p->buf.data + sg->lit_off, sg->lit_len);
		a->str[sg->lit_len] = '\0';
	}
	a->literal8 = sg->lit8;
	cur->seg++;
	cur->pos = 0;
	return 0;
}

/*
 * Parses arguments at cur into l until the end (depth 0) or ')'.
 * Arguments are separated by single spaces; "(" and ")" need none.
 */
static int parse_args(struct imap_parser *p, struct cursor *cur,
		      struct toklist *l, unsigned depth)
{
	int need_sep = 0;

	for (;;) {
		const struct seg *sg = &p->segs[cur->seg];
		const char *t = seg_text(p, sg);
		size_t tl = sg->has_lit ? sg->marker_off : sg->text_len;
		struct imap_arg *a;
		char ch;

		if (cur->pos >= tl) {
			if (sg->has_lit && cur->pos == tl) {
				if (need_sep)
					return fail(p, "Missing space");
				if ((a = tok_add(p, l)) == NULL)
					return fail(p, "Too many arguments");
				parse_literal_tok(p, cur, a);
				need_sep = 1;
				continue;
			}
			if (depth > 0)
				return fail(p, "Missing ')'");
			return 0;
		}
		ch = t[cur->pos];
		if (ch == ')') {
			if (depth == 0)
				return fail(p, "Unexpected ')'");
			cur->pos++;
			return 0;
		}
		if (ch == ' ') {
			if (!need_sep)
				return fail(p, "Unexpected space");
			cur->pos++;
			need_sep = 0;
			if (cur->pos >= tl && !sg->has_lit)
				return fail(p, "Trailing space");
			continue;
		}
		if (need_sep)
			return fail(p, "Missing space");
		if ((a = tok_add(p, l)) == NULL)
			return fail(p, "Too many arguments");
		if (ch == '(') {
			struct toklist sub = {NULL, 0, 0};

			if (depth + 1 > p->prm.max_depth)
				return fail(p, "Lists nested too deeply");
			a->type = IMAP_ARG_LIST;
			cur->pos++;
			if (parse_args(p, cur, &sub, depth + 1) < 0) {
				a->list = sub.a;
				a->count = sub.n;
				return -1;
			}
			a->list = sub.a;
			a->count = sub.n;
		} else if (ch == '"') {
			if (parse_quoted(p, t, tl, &cur->pos, a) < 0)
				return -1;
		} else if (ch == '{' || ch == '~') {
			return fail(p,
				    "Literal marker not at the end of a line");
		} else if (parse_atom(p, t, tl, &cur->pos, a) < 0) {
			return -1;
		}
		need_sep = 1;
	}
}

static int valid_name(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s != '\0'; s++)
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_')
			return 0;
	return 1;
}

static char *upper_dup(const char *s)
{
	char *u = xstrdup(s);

	for (char *q = u; *q != '\0'; q++)
		*q = (char)toupper((unsigned char)*q);
	return u;
}

static int tokenize(struct imap_parser *p)
{
	struct toklist l = {NULL, 0, 0};
	struct cursor cur = {0, 0};
	int r;

	r = parse_args(p, &cur, &l, 0);
	p->cmd.args = l.a;
	p->cmd.nargs = l.n;
	if (r < 0)
		return -1;
	if (l.n == 0)
		return fail(p, "Empty command");
	if (l.a[0].type != IMAP_ARG_ATOM && l.a[0].type != IMAP_ARG_NIL)
		return fail(p, "Missing tag");
	for (const char *q = l.a[0].str; *q != '\0'; q++)
		if (!is_tag_char((unsigned char)*q))
			return fail(p, "Invalid tag");
	if (l.a[0].len > p->prm.max_tag)
		return fail(p, "Tag too long");
	if (l.n < 2 ||
	    (l.a[1].type != IMAP_ARG_ATOM && l.a[1].type != IMAP_ARG_NIL) ||
	    !valid_name(l.a[1].str))
		return fail(p, "Missing or invalid command name");
	p->cmd.tag = l.a[0].str;
	l.a[0].str = NULL;
	p->cmd.name = upper_dup(l.a[1].str);
	free(l.a[1].str);
	l.a[1].str = NULL;
	if (strcmp(p->cmd.name, "UID") == 0) {
		if (l.n < 3 || l.a[2].type != IMAP_ARG_ATOM ||
		    !valid_name(l.a[2].str))
			return fail(p, "Missing command after UID");
		free(p->cmd.name);
		p->cmd.name = upper_dup(l.a[2].str);
		free(l.a[2].str);
		l.a[2].str = NULL;
		p->cmd.uid = 1;
	}
	{
		size_t skip = p->cmd.uid ? 3 : 2;

		memmove(l.a, l.a + skip, (l.n - skip) * sizeof(*l.a));
		p->cmd.nargs = l.n - skip;
	}
	return 0;
}

/* ---- byte interface ------------------------------------------------------ */

int imap_parser_wants_continuation(const struct imap_parser *p)
{
	return p->want_cont;
}

int imap_parser_feed(struct imap_parser *p, const void *data, size_t len,
		     size_t *used_r)
{
	const char *d = data;
	size_t used = 0;

	if (p->lr == NULL) {
		struct lineread_params lp = {.max_line = p->prm.max_line};

		p->lr = lineread_new(&lp);
	}
	if (p->done || p->error != NULL)
		imap_parser_reset(p);
	while (used < len) {
		struct lineread_result res;
		struct imap_literal_info li;
		size_t u = 0;
		int r;

		if (p->lit_left > 0) {
			size_t n = len - used;

			if (n > p->lit_left)
				n = (size_t)p->lit_left;
			p->want_cont = 0;
			if (imap_parser_literal_data(p, d + used, n) < 0) {
				*used_r = used + n;
				p->lit_left = 0;
				return IMAP_PARSE_ERROR;
			}
			used += n;
			p->lit_left -= n;
			if (p->lit_left == 0)
				imap_parser_literal_end(p);
			continue;
		}
		r = lineread_feed(p->lr, d + used, len - used, &u, &res);
		used += u;
		if (r == 0)
			break;
		if (r < 0) {
			*used_r = used;
			return fail(p, res.error_str ? res.error_str
						     : "Line too long");
		}
		r = imap_parser_line(p, res.line, res.len, &li);
		if (r != IMAP_PARSE_MORE) {
			*used_r = used;
			return r;
		}
		if (li.size > p->prm.max_literal) {
			*used_r = used;
			return fail(p, "Literal too large");
		}
		p->lit_left = li.size;
		p->want_cont = !li.nonsync;
		if (li.size == 0) {
			imap_parser_literal_end(p);
			p->want_cont = 0;
		}
	}
	*used_r = used;
	return IMAP_PARSE_MORE;
}

/* ---- argument helpers ---------------------------------------------------- */

const char *imap_arg_string(const struct imap_arg *a)
{
	if (a == NULL)
		return NULL;
	switch (a->type) {
	case IMAP_ARG_ATOM:
	case IMAP_ARG_QUOTED:
	case IMAP_ARG_LITERAL:
	case IMAP_ARG_NIL:
		return a->str;
	default:
		return NULL;
	}
}

int imap_arg_is_string(const struct imap_arg *a)
{
	return a != NULL &&
	       (a->type == IMAP_ARG_QUOTED || a->type == IMAP_ARG_LITERAL);
}

int imap_arg_is_atom(const struct imap_arg *a, const char *upper)
{
	return a != NULL &&
	       (a->type == IMAP_ARG_ATOM || a->type == IMAP_ARG_NIL) &&
	       strcasecmp(a->str, upper) == 0;
}
