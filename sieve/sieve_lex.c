/*
 * sieve_lex.c - the Sieve lexer (RFC 5228 section 8.1).
 *
 * Works on the whole script in memory (scripts are small and bounded by
 * sieve_limits.max_script_size); every token carries its line number for
 * the error messages ManageSieve returns.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sieve/sieve_int.h"

void sv_error(struct sv_errs *e, int line, const char *fmt, ...)
{
	va_list ap;

	e->count++;
	if (e->out == NULL || e->count > SV_MAX_ERRORS)
		return;
	if (line > 0)
		strbuf_printf(e->out, "line %d: ", line);
	va_start(ap, fmt);
	strbuf_vprintf(e->out, fmt, ap);
	va_end(ap);
	strbuf_addc(e->out, '\n');
}

bool sv_utf8_valid(const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;

	while (i < len) {
		unsigned c = s[i], need;
		uint32_t cp;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			need = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			need = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			need = 3;
			cp = c & 0x07;
		} else {
			return false;
		}
		if (len - i <= need)
			return false;
		for (unsigned k = 1; k <= need; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if ((need == 2 && cp < 0x800) || (need == 3 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += need + 1;
	}
	return true;
}

void sv_lex_init(struct sv_lexer *lx, const char *text, size_t len,
		 struct sv_errs *errs)
{
	lx->p = text;
	lx->end = text + len;
	lx->line = 1;
	lx->errs = errs;
}

void sv_token_clear(struct sv_token *tok)
{
	free(tok->s);
	memset(tok, 0, sizeof(*tok));
}

/* Skips white space and comments; returns -1 on an unterminated comment. */
static int lex_skip(struct sv_lexer *lx)
{
	while (lx->p < lx->end) {
		char c = *lx->p;

		if (c == '\n') {
			lx->line++;
			lx->p++;
		} else if (c == ' ' || c == '\t' || c == '\r') {
			lx->p++;
		} else if (c == '#') {
			while (lx->p < lx->end && *lx->p != '\n')
				lx->p++;
		} else if (c == '/' && lx->p + 1 < lx->end && lx->p[1] == '*') {
			int start = lx->line;

			lx->p += 2;
			for (;;) {
				if (lx->p + 1 >= lx->end) {
					sv_error(lx->errs, start,
						 "unterminated comment");
					lx->p = lx->end;
					return -1;
				}
				if (lx->p[0] == '*' && lx->p[1] == '/')
					break;
				if (*lx->p == '\n')
					lx->line++;
				lx->p++;
			}
			lx->p += 2;
		} else {
			break;
		}
	}
	return 0;
}

static int lex_quoted(struct sv_lexer *lx, struct strbuf *sb)
{
	int start = lx->line;

	lx->p++; /* opening quote */
	while (lx->p < lx->end && *lx->p != '"') {
		char c = *lx->p++;

		if (c == '\\') {
			if (lx->p >= lx->end)
				break;
			c = *lx->p++;
		}
		if (c == '\n')
			lx->line++;
		strbuf_addc(sb, c);
	}
	if (lx->p >= lx->end) {
		sv_error(lx->errs, start, "unterminated string");
		return -1;
	}
	lx->p++;
	return 0;
}

/* After "text:": optional white space and a comment, then a line break. */
static int lex_multiline(struct sv_lexer *lx, struct strbuf *sb)
{
	int start = lx->line;

	while (lx->p < lx->end && (*lx->p == ' ' || *lx->p == '\t'))
		lx->p++;
	if (lx->p < lx->end && *lx->p == '#')
		while (lx->p < lx->end && *lx->p != '\n')
			lx->p++;
	if (lx->p < lx->end && *lx->p == '\r')
		lx->p++;
	if (lx->p >= lx->end || *lx->p != '\n') {
		sv_error(lx->errs, start, "expected line break after text:");
		return -1;
	}
	lx->p++;
	lx->line++;
	for (;;) {
		const char *nl = memchr(lx->p, '\n', (size_t)(lx->end - lx->p));
		const char *ls = lx->p;
		size_t llen;

		if (nl == NULL) {
			sv_error(lx->errs, start,
				 "unterminated multi-line string");
			return -1;
		}
		llen = (size_t)(nl - ls);
		lx->p = nl + 1;
		lx->line++;
		if ((llen == 1 && ls[0] == '.') ||
		    (llen == 2 && ls[0] == '.' && ls[1] == '\r'))
			return 0;
		if (ls[0] == '.' && llen > 0) { /* dot-stuffing */
			ls++;
			llen--;
		}
		strbuf_add(sb, ls, llen);
		strbuf_addc(sb, '\n');
		/* keep CRLF as written: the \r stays in the line */
	}
}

static void lex_number(struct sv_lexer *lx, struct sv_token *tok)
{
	uint64_t v = 0;
	bool over = false;
	unsigned shift = 0;

	while (lx->p < lx->end && isdigit((unsigned char)*lx->p)) {
		unsigned d = (unsigned)(*lx->p++ - '0');

		if (v > (UINT64_MAX - d) / 10)
			over = true;
		v = v * 10 + d;
	}
	if (lx->p < lx->end) {
		switch (*lx->p) {
		case 'k':
		case 'K':
			shift = 10;
			break;
		case 'm':
		case 'M':
			shift = 20;
			break;
		case 'g':
		case 'G':
			shift = 30;
			break;
		}
		if (shift)
			lx->p++;
	}
	if (shift && v > (UINT64_MAX >> shift))
		over = true;
	/* Numbers are kept within 2^63 so they survive any signed use. */
	if (over || (v << shift) > INT64_MAX) {
		sv_error(lx->errs, tok->line, "number too large");
		tok->type = SV_T_ERROR;
		return;
	}
	tok->type = SV_T_NUMBER;
	tok->num = v << shift;
}

static bool is_ident_start(char c)
{
	return isalpha((unsigned char)c) || c == '_';
}

static bool is_ident_char(char c)
{
	return isalnum((unsigned char)c) || c == '_';
}

static void lex_string_done(struct sv_lexer *lx, struct sv_token *tok,
			    struct strbuf *sb)
{
	if (memchr(sb->data, '\0', sb->len) != NULL) {
		sv_error(lx->errs, tok->line, "NUL character in string");
		strbuf_free(sb);
		tok->type = SV_T_ERROR;
		return;
	}
	if (!sv_utf8_valid(sb->data, sb->len)) {
		sv_error(lx->errs, tok->line, "invalid UTF-8 in string");
		strbuf_free(sb);
		tok->type = SV_T_ERROR;
		return;
	}
	tok->type = SV_T_STRING;
	tok->s = strbuf_steal(sb, &tok->len);
	strbuf_free(sb);
}

void sv_lex_next(struct sv_lexer *lx, struct sv_token *tok)
{
	static const char punct[] = "[](){},;";
	static const enum sv_tok_type ptype[] = {
	    SV_T_LBRACKET, SV_T_RBRACKET, SV_T_LPAREN, SV_T_RPAREN,
	    SV_T_LBRACE,   SV_T_RBRACE,	  SV_T_COMMA,  SV_T_SEMICOLON,
	};
	const char *pc;
	struct strbuf sb;
	char c;

	memset(tok, 0, sizeof(*tok));
	if (lex_skip(lx) < 0) {
		tok->type = SV_T_ERROR;
		return;
	}
	tok->line = lx->line;
	if (lx->p >= lx->end) {
		tok->type = SV_T_EOF;
		return;
	}
	c = *lx->p;
	if (c != '\0' && (pc = strchr(punct, c)) != NULL) {
		lx->p++;
		tok->type = ptype[pc - punct];
		return;
	}
	if (isdigit((unsigned char)c)) {
		lex_number(lx, tok);
		return;
	}
	strbuf_init(&sb);
	if (c == '"') {
		if (lex_quoted(lx, &sb) < 0) {
			strbuf_free(&sb);
			tok->type = SV_T_ERROR;
			return;
		}
		lex_string_done(lx, tok, &sb);
		return;
	}
	if (c == ':' || is_ident_start(c)) {
		const char *s = c == ':' ? lx->p + 1 : lx->p;
		const char *e = s;

		while (e < lx->end && is_ident_char(*e))
			e++;
		if (e == s || !is_ident_start(*s)) {
			strbuf_free(&sb);
			sv_error(lx->errs, tok->line, "bad tagged argument");
			tok->type = SV_T_ERROR;
			lx->p = lx->end;
			return;
		}
		lx->p = e;
		if (c != ':' && e - s == 4 && strncasecmp(s, "text", 4) == 0 &&
		    e < lx->end && *e == ':') {
			lx->p++;
			if (lex_multiline(lx, &sb) < 0) {
				strbuf_free(&sb);
				tok->type = SV_T_ERROR;
				lx->p = lx->end;
				return;
			}
			lex_string_done(lx, tok, &sb);
			return;
		}
		for (const char *q = s; q < e; q++)
			strbuf_addc(&sb, (char)tolower((unsigned char)*q));
		tok->type = c == ':' ? SV_T_TAG : SV_T_IDENT;
		tok->s = strbuf_steal(&sb, &tok->len);
		strbuf_free(&sb);
		return;
	}
	strbuf_free(&sb);
	if (isprint((unsigned char)c))
		sv_error(lx->errs, tok->line, "unexpected character '%c'", c);
	else
		sv_error(lx->errs, tok->line, "unexpected byte 0x%02x",
			 (unsigned char)c);
	tok->type = SV_T_ERROR;
	lx->p = lx->end;
}
