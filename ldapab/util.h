/*
 * util.h - small helpers ldapab needs on top of lib/strbuf.h.
 */
#ifndef LDAPAB_UTIL_H
#define LDAPAB_UTIL_H

#include <stddef.h>

struct strbuf;

/*
 * Takes the content of s (the caller frees it) and frees s.  Unlike
 * strbuf_steal(), which re-initialises s with a fresh allocation, this
 * leaves nothing behind when s goes out of scope.
 */
char *ab_sb_take(struct strbuf *s, size_t *len_r);

/*
 * Like xasprintf() (fatal on failure) but without the extra buffer that
 * lib's xasprintf() leaves behind through strbuf_steal().
 */
char *ab_asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
