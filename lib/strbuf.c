/*
 * strbuf.c - growable strings and allocation helpers (strbuf.h).
 */
#include "strbuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void *xmalloc(size_t size)
{
	void *p = malloc(size ? size : 1);

	if (p == NULL)
		fatal("event=oom size=%zu", size);
	return p;
}

void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (p == NULL)
		fatal("event=oom size=%zu", n * size);
	return p;
}

void *xrealloc(void *p, size_t size)
{
	p = realloc(p, size ? size : 1);
	if (p == NULL)
		fatal("event=oom size=%zu", size);
	return p;
}

char *xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *xstrndup(const char *s, size_t n)
{
	char *p = xmalloc(n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *xasprintf(const char *fmt, ...)
{
	struct strbuf s;
	va_list ap;

	strbuf_init(&s);
	va_start(ap, fmt);
	strbuf_vprintf(&s, fmt, ap);
	va_end(ap);
	return s.data;	/* the strbuf's buffer becomes the caller's */
}

/* What a strbuf holds after strbuf_steal(): no allocation (cap 0). */
static char strbuf_empty[1];

void strbuf_init(struct strbuf *s)
{
	s->cap = 64;
	s->len = 0;
	s->data = xmalloc(s->cap);
	s->data[0] = '\0';
}

void strbuf_free(struct strbuf *s)
{
	if (s->cap != 0)
		free(s->data);
	s->data = NULL;
	s->len = s->cap = 0;
}

void strbuf_reset(struct strbuf *s)
{
	s->len = 0;
	if (s->cap != 0)
		s->data[0] = '\0';
}

void strbuf_reserve(struct strbuf *s, size_t extra)
{
	size_t need = s->len + extra + 1;

	if (need <= s->cap)
		return;
	if (s->cap == 0) {
		s->cap = need < 64 ? 64 : need;
		s->data = xmalloc(s->cap);
		s->data[0] = '\0';
		return;
	}
	while (s->cap < need)
		s->cap *= 2;
	s->data = xrealloc(s->data, s->cap);
}

void strbuf_add(struct strbuf *s, const void *data, size_t len)
{
	strbuf_reserve(s, len);
	memcpy(s->data + s->len, data, len);
	s->len += len;
	s->data[s->len] = '\0';
}

void strbuf_adds(struct strbuf *s, const char *str)
{
	strbuf_add(s, str, strlen(str));
}

void strbuf_addc(struct strbuf *s, char ch)
{
	strbuf_reserve(s, 1);
	s->data[s->len++] = ch;
	s->data[s->len] = '\0';
}

void strbuf_vprintf(struct strbuf *s, const char *fmt, va_list ap)
{
	va_list ap2;
	int n;

	va_copy(ap2, ap);
	n = vsnprintf(s->data + s->len, s->cap - s->len, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return;
	if ((size_t)n >= s->cap - s->len) {
		strbuf_reserve(s, (size_t)n);
		vsnprintf(s->data + s->len, s->cap - s->len, fmt, ap);
	}
	s->len += (size_t)n;
}

void strbuf_printf(struct strbuf *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	strbuf_vprintf(s, fmt, ap);
	va_end(ap);
}

char *strbuf_steal(struct strbuf *s, size_t *len_r)
{
	char *p = s->data;

	if (len_r != NULL)
		*len_r = s->len;
	if (s->cap == 0)
		p = xstrdup("");
	s->data = strbuf_empty;
	s->len = s->cap = 0;
	return p;
}

void strbuf_truncate(struct strbuf *s, size_t len)
{
	if (len < s->len) {
		s->len = len;
		s->data[len] = '\0';
	}
}
