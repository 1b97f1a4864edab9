/*
 * imap_parse.c - the pre-auth command reader shared by the IMAP and
 * ManageSieve fronts (front.h).  Pure: no sockets; fed lines and literal
 * bodies by the caller.  Before login only a handful of short commands
 * exist (LOGIN, AUTHENTICATE, ID, CAPABILITY, STARTTLS, NOOP, LOGOUT), so
 * tokens are few and literals small (TOK_MAX_LITERAL): anything bigger
 * is an error, never buffered.
 *
 * Syntax (RFC 9051 section 4, RFC 5804 section 4): atoms, quoted strings
 * with \" and \\ escapes, literals {N} / {N+} at the end of a line,
 * parenthesised lists (kept as one TOK_LIST token; ID's field list), NIL.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "strbuf.h"
#include "mux/front.h"

void tokcmd_init(struct tokcmd *tc, int has_tag)
{
	memset(tc, 0, sizeof(*tc));
	tc->has_tag = has_tag;
}

void tokcmd_clear(struct tokcmd *tc)
{
	int has_tag = tc->has_tag;

	for (unsigned i = 0; i < tc->n; i++) {
		if (tc->t[i].str != NULL)
			explicit_bzero(tc->t[i].str, tc->t[i].len);
		free(tc->t[i].str);
	}
	tokcmd_init(tc, has_tag);
}

static enum tokcmd_result tok_error(struct tokcmd *tc, const char *why)
{
	tc->error = (char *)why;
	return TOKCMD_ERROR;
}

/* Adds a token at depth 0 (inside a list the content is skipped). */
static int tok_add(struct tokcmd *tc, enum tok_type type, const char *s,
		   size_t len)
{
	struct tok *t;

	if (tc->depth > 0)
		return 0;
	if (tc->n >= sizeof(tc->t) / sizeof(tc->t[0]))
		return -1;
	t = &tc->t[tc->n++];
	t->type = type;
	t->str = type == TOK_LIST ? NULL : xstrndup(s, len);
	t->len = type == TOK_LIST ? 0 : len;
	return 0;
}

static int is_atom_char(char ch)
{
	return ch != ' ' && ch != '(' && ch != ')' && ch != '"' &&
	       (unsigned char)ch > 0x1f && ch != 0x7f;
}

/* A literal marker "{N}" or "{N+}" that ends the line at p. */
static int literal_marker(struct tokcmd *tc, const char *p, const char *end)
{
	const char *q = p + 1;
	size_t n = 0;
	int digits = 0;

	while (q < end && *q >= '0' && *q <= '9') {
		if (n > TOK_MAX_LITERAL)
			return -2;
		n = n * 10 + (size_t)(*q - '0');
		q++;
		digits++;
	}
	if (digits == 0)
		return -1;
	tc->literal_sync = 1;
	if (q < end && *q == '+') {
		tc->literal_sync = 0;
		q++;
	}
	if (q + 1 != end || *q != '}')
		return -1;
	if (n > TOK_MAX_LITERAL)
		return -2;
	tc->literal_size = n;
	return 0;
}

static enum tokcmd_result quoted(struct tokcmd *tc, const char **pp,
				 const char *end)
{
	const char *p = *pp + 1;
	struct strbuf b;

	strbuf_init(&b);
	for (; p < end && *p != '"'; p++) {
		if (*p == '\\') {
			if (p + 1 >= end || (p[1] != '"' && p[1] != '\\')) {
				strbuf_free(&b);
				return tok_error(tc, "bad escape in string");
			}
			p++;
		}
		if (*p == '\0' || *p == '\r' || *p == '\n') {
			strbuf_free(&b);
			return tok_error(tc, "bad character in string");
		}
		strbuf_addc(&b, *p);
	}
	if (p >= end) {
		strbuf_free(&b);
		return tok_error(tc, "unterminated string");
	}
	if (tok_add(tc, TOK_STRING, b.data, b.len) < 0) {
		strbuf_free(&b);
		return tok_error(tc, "too many arguments");
	}
	strbuf_free(&b);
	*pp = p + 1;
	return TOKCMD_DONE;
}

enum tokcmd_result tokcmd_line(struct tokcmd *tc, const char *line,
			       size_t len)
{
	const char *p = line, *end = line + len;

	if (memchr(line, '\0', len) != NULL)
		return tok_error(tc, "NUL byte in command");
	while (p < end) {
		const char *start;
		int r;

		if (*p == ' ') {
			p++;
			continue;
		}
		switch (*p) {
		case '"':
			if (quoted(tc, &p, end) == TOKCMD_ERROR)
				return TOKCMD_ERROR;
			continue;
		case '{':
			r = literal_marker(tc, p, end);
			if (r == -2)
				return tok_error(tc, "literal too big");
			if (r == 0)
				return TOKCMD_LITERAL;
			break;	/* an atom that starts with '{' */
		case '(':
			tc->depth++;
			if (tc->depth > 8)
				return tok_error(tc, "lists nested too deep");
			p++;
			continue;
		case ')':
			if (tc->depth == 0)
				return tok_error(tc, "unbalanced ')'");
			tc->depth--;
			p++;
			if (tc->depth == 0 &&
			    tok_add(tc, TOK_LIST, NULL, 0) < 0)
				return tok_error(tc, "too many arguments");
			continue;
		default:
			break;
		}
		start = p;
		while (p < end && is_atom_char(*p))
			p++;
		if (p == start)
			return tok_error(tc, "bad character");
		if (p - start == 3 && strncasecmp(start, "NIL", 3) == 0)
			r = tok_add(tc, TOK_NIL, start, 3);
		else
			r = tok_add(tc, TOK_ATOM, start, (size_t)(p - start));
		if (r < 0)
			return tok_error(tc, "too many arguments");
	}
	if (tc->depth > 0)
		return tok_error(tc, "unbalanced '('");
	return TOKCMD_DONE;
}

void tokcmd_literal(struct tokcmd *tc, const char *data, size_t len)
{
	if (tok_add(tc, TOK_STRING, data, len) < 0)
		tc->error = "too many arguments";
	tc->literal_size = 0;
}

const char *tokcmd_str(const struct tokcmd *tc, unsigned i)
{
	if (i >= tc->n || tc->t[i].type == TOK_LIST)
		return NULL;
	return tc->t[i].str;
}
