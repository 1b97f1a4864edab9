/*
 * strbuf.h - the one growable byte string of Rookery.
 *
 * A strbuf always keeps a NUL after its content, so s->data can be used as a
 * C string when the content has no NUL of its own.  Allocation failure is
 * fatal (the daemons run with overcommit; a half-built reply helps nobody).
 * I/O buffering uses libevent's evbuffer; strbuf is for building values.
 */
#ifndef ROOKERY_STRBUF_H
#define ROOKERY_STRBUF_H

#include <stdarg.h>
#include <stddef.h>

#include "log.h"

struct strbuf {
	char *data;	/* never NULL after strbuf_init() */
	size_t len;
	size_t cap;
};

void strbuf_init(struct strbuf *s);
/* Frees the content; the strbuf may be reused after strbuf_init(). */
void strbuf_free(struct strbuf *s);
void strbuf_reset(struct strbuf *s);	/* len = 0, keeps memory */
void strbuf_reserve(struct strbuf *s, size_t extra);
void strbuf_add(struct strbuf *s, const void *data, size_t len);
void strbuf_adds(struct strbuf *s, const char *str);
void strbuf_addc(struct strbuf *s, char ch);
void strbuf_printf(struct strbuf *s, const char *fmt, ...) LOG_PRINTF(2, 3);
void strbuf_vprintf(struct strbuf *s, const char *fmt, va_list ap);
/* Hands the content to the caller (who frees it) and leaves s empty,
 * holding no memory: strbuf_free() after it is allowed and not needed. */
char *strbuf_steal(struct strbuf *s, size_t *len_r);
void strbuf_truncate(struct strbuf *s, size_t len);

/* Allocation helpers that never return NULL (fatal on failure). */
void *xmalloc(size_t size);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) LOG_PRINTF(1, 2);

#endif
