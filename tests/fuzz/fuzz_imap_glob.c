/*
 * fuzz_imap_glob.c - libFuzzer target for store/imap_glob.c, the LIST
 * pattern matcher, checked against a plain recursive matcher (memoised,
 * so it stays quadratic on the fuzzer's inputs).
 *
 * Input: pattern, a NUL byte, name.  Both are cut at 600 bytes, which
 * covers the matcher's stack buffer (patterns under 256) and its heap
 * one.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/imap_glob.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CUT 600

static const char *pat, *name;
static size_t plen, nlen;
static signed char memo[(CUT + 1) * (CUT + 1)];

static int ref(size_t i, size_t j)
{
	signed char *m = &memo[i * (nlen + 1) + j];
	int r;

	if (*m >= 0)
		return *m;
	if (i == plen)
		r = j == nlen;
	else if (pat[i] == '*')
		r = ref(i + 1, j) || (j < nlen && ref(i, j + 1));
	else if (pat[i] == '%')
		r = ref(i + 1, j) ||
		    (j < nlen && name[j] != '/' && ref(i, j + 1));
	else
		r = j < nlen && pat[i] == name[j] && ref(i + 1, j + 1);
	*m = (signed char)r;
	return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, '\0', size);
	char *p, *n;

	if (nul == NULL)
		return 0;
	plen = (size_t)(nul - data);
	nlen = size - plen - 1;
	if (plen > CUT)
		plen = CUT;
	if (nlen > CUT)
		nlen = CUT;
	p = strndup((const char *)data, plen);
	n = strndup((const char *)nul + 1, nlen);
	/* an inner NUL ends the C strings early: match what the store sees */
	plen = strlen(p);
	nlen = strlen(n);
	pat = p;
	name = n;
	memset(memo, -1, (plen + 1) * (nlen + 1));
	if (imap_glob_match(p, n) != ref(0, 0))
		abort();
	free(p);
	free(n);
	return 0;
}
