/*
 * util.c - see util.h.
 */
#include <stdarg.h>
#include <stdio.h>

#include "log.h"
#include "strbuf.h"
#include "util.h"

char *ab_sb_take(struct strbuf *s, size_t *len_r)
{
	char *p = strbuf_steal(s, len_r);

	strbuf_free(s);
	return p;
}

char *ab_asprintf(const char *fmt, ...)
{
	va_list ap;
	char *p;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&p, fmt, ap);
	va_end(ap);
	if (n < 0)
		fatalx("event=oom where=ab_asprintf");
	return p;
}
