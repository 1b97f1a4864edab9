/*
 * managesieve_parse.c - the ManageSieve command reader (RFC 5804 section
 * 4, "Formal Syntax"): atoms, quoted strings and literals, a line at a
 * time.  Pure: lines and literal bytes are handed in by the caller (the
 * session, or a unit test feeding lib/lineread.h byte by byte).
 *
 *   command  = atom *(SP argument) CRLF
 *   argument = atom / number / quoted / literal
 *   quoted   = DQUOTE *(QUOTED-CHAR / "\" ("\" / DQUOTE)) DQUOTE
 *   literal  = "{" number ["+"] "}" CRLF *OCTET   (both forms accepted)
 *
 * A literal ends its line; the command goes on on the next line.
 */
#include <string.h>

#include "lineread.h"
#include "sieve/managesieve.h"

void msv_cmd_init(struct msv_cmd *c, const struct msv_params *p)
{
	memset(c, 0, sizeof(*c));
	c->p = *p;
	if (c->p.max_literal == 0)
		c->p.max_literal = MSV_DEFAULT_MAX_LITERAL;
	for (unsigned i = 0; i < MSV_MAX_ARGS; i++)
		strbuf_init(&c->args[i].s);
}

void msv_cmd_reset(struct msv_cmd *c)
{
	for (unsigned i = 0; i < MSV_MAX_ARGS; i++)
		strbuf_reset(&c->args[i].s);
	c->nargs = 0;
	c->literal_size = 0;
	c->literal_drop = 0;
	c->error = NULL;
	c->too_many = 0;
}

void msv_cmd_free(struct msv_cmd *c)
{
	for (unsigned i = 0; i < MSV_MAX_ARGS; i++)
		strbuf_free(&c->args[i].s);
	c->nargs = 0;
}

/* The next argument slot, or NULL (counted) when there are too many. */
static struct msv_arg *new_arg(struct msv_cmd *c, enum msv_arg_type type)
{
	struct msv_arg *a;

	if (c->nargs >= MSV_MAX_ARGS) {
		c->too_many = 1;
		return NULL;
	}
	a = &c->args[c->nargs++];
	a->type = type;
	strbuf_reset(&a->s);
	return a;
}

static int atom_char(unsigned char ch)
{
	/* RFC 5804 ATOM-CHAR: any CHAR except atom-specials */
	return ch > ' ' && ch < 0x7f && ch != '(' && ch != ')' && ch != '{' &&
	       ch != '"' && ch != '%' && ch != '*' && ch != '\\' && ch != ']';
}

static enum msv_parse fail(struct msv_cmd *c, const char *why)
{
	c->error = why;
	return MSV_PARSE_ERROR;
}

static enum msv_parse quoted(struct msv_cmd *c, const char *line, size_t len,
			     size_t *i)
{
	struct msv_arg *a = new_arg(c, MSV_QUOTED);
	size_t n = 0;

	for (size_t j = *i + 1; j < len; j++) {
		char ch = line[j];

		if (ch == '"') {
			*i = j + 1;
			return MSV_PARSE_DONE;
		}
		if (ch == '\\') {
			if (j + 1 >= len ||
			    (line[j + 1] != '"' && line[j + 1] != '\\'))
				return fail(c, "Bad escape in quoted string");
			ch = line[++j];
		} else if (ch == '\0') {
			return fail(c, "NUL in quoted string");
		}
		if (++n > MSV_MAX_QUOTED)
			return fail(c,
				    "Quoted string too long (use a literal)");
		if (a != NULL)
			strbuf_addc(&a->s, ch);
	}
	return fail(c, "Missing closing quote");
}

enum msv_parse msv_cmd_line(struct msv_cmd *c, const char *line, size_t len)
{
	struct lineread_result lit;
	size_t end = len, i = 0;
	int has_lit;

	memset(&lit, 0, sizeof(lit));
	has_lit = lineread_find_literal(line, len, &lit);
	if (has_lit < 0)
		return fail(c, "Literal size out of range");
	if (has_lit > 0) {
		end = lit.literal_offset;
		/* the marker must stand alone: "x{3}" is not a literal */
		if (end > 0 && line[end - 1] != ' ')
			return fail(c, "Syntax error before literal");
	}
	while (i < end) {
		unsigned char ch = (unsigned char)line[i];

		if (ch == ' ') {
			i++;
			continue;
		}
		if (ch == '"') {
			if (quoted(c, line, end, &i) == MSV_PARSE_ERROR)
				return MSV_PARSE_ERROR;
		} else if (atom_char(ch)) {
			size_t j = i;
			struct msv_arg *a;

			while (j < end && atom_char((unsigned char)line[j]))
				j++;
			if ((a = new_arg(c, MSV_ATOM)) != NULL)
				strbuf_add(&a->s, line + i, j - i);
			i = j;
		} else {
			return fail(c, "Syntax error");
		}
		if (i < end && line[i] != ' ')
			return fail(c, "Syntax error (missing space)");
	}
	if (has_lit == 0) {
		if (c->nargs == 0)
			return fail(c, "Empty command");
		if (c->too_many)
			return fail(c, "Too many arguments");
		if (c->literal_drop)
			return fail(c, "Literal too big");
		return MSV_PARSE_DONE;
	}
	c->literal_size = lit.literal_size;
	if (new_arg(c, MSV_LITERAL) == NULL ||
	    lit.literal_size > c->p.max_literal)
		c->literal_drop = 1;
	return MSV_PARSE_LITERAL;
}

void msv_cmd_literal(struct msv_cmd *c, const void *data, size_t len)
{
	if (c->literal_drop || c->nargs == 0)
		return;
	strbuf_add(&c->args[c->nargs - 1].s, data, len);
}
