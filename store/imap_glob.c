/*
 * imap_glob.c - the wildcards of LIST and LSUB patterns (RFC 3501 6.3.8):
 * '*' matches any run of characters, '%' any run without the hierarchy
 * separator '/'.
 */
#include <stdlib.h>
#include <string.h>

#include "strbuf.h"
#include "store/imap_glob.h"

/*
 * '*' and '%' by a walk over the name that keeps the set of pattern
 * positions still alive: O(name x pattern), whatever the pattern.  (The
 * obvious backtracking matcher is exponential in the wildcards: "*a*a*a
 * *a*a*a*a*a*b" against a 60-letter name took the store's loop for more
 * than 30 seconds.)
 */
static void glob_close(const char *p, size_t m, unsigned char *set)
{
	/* a wildcard may match nothing: whoever reaches it reaches past it */
	for (size_t i = 0; i < m; i++)
		if (set[i] && (p[i] == '*' || p[i] == '%'))
			set[i + 1] = 1;
}

int imap_glob_match(const char *p, const char *s)
{
	unsigned char stack[2 * 256];
	size_t m = strlen(p);
	unsigned char *cur, *nx, *t;
	int alive = 1, ok;

	cur = m < 256 ? stack : xmalloc(2 * (m + 1));
	nx = cur + m + 1;
	memset(cur, 0, m + 1);
	cur[0] = 1;
	glob_close(p, m, cur);
	for (; *s != '\0' && alive; s++) {
		memset(nx, 0, m + 1);
		alive = 0;
		for (size_t i = 0; i < m; i++) {
			if (!cur[i])
				continue;
			if (p[i] == '*' || (p[i] == '%' && *s != '/'))
				nx[i] = alive = 1;
			else if (p[i] == *s)
				nx[i + 1] = alive = 1;
		}
		glob_close(p, m, nx);
		t = cur;
		cur = nx;
		nx = t;
	}
	ok = alive && cur[m];
	if (m >= 256)
		free(cur < nx ? cur : nx);
	return ok;
}
