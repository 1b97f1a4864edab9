/*
 * fuzz_sasl_plain.c - the SASL PLAIN message splitter (lib/sasl.c,
 * saslsrv_plain_split()) that lets the cache of verified logins answer
 * AUTHENTICATE PLAIN.  The input is the decoded message.  Contract: on
 * success the three parts lie inside the buffer, in order, each
 * NUL-terminated, together exactly the input; the authcid and password
 * are not empty; the authzid is empty or an address with '@' and no byte
 * at or below space; on failure nothing is claimed.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sasl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *zid = NULL, *cid = NULL, *pass = NULL;
	char *in;
	size_t zl, cl, pl;

	if (size > 4096)
		return 0;
	in = malloc(size + 1);
	if (in == NULL)
		return 0;
	if (size > 0)
		memcpy(in, data, size);
	in[size] = '\0';
	if (saslsrv_plain_split(in, (unsigned)size, &zid, &cid, &pass) == 0) {
		if (zid != in || cid <= zid || pass <= cid ||
		    pass >= in + size)
			abort();
		zl = strlen(zid);
		cl = strlen(cid);
		pl = strlen(pass);
		if (cid != zid + zl + 1 || pass != cid + cl + 1 ||
		    zl + cl + pl + 2 != size || cl == 0 || pl == 0)
			abort();
		if (zl > 0 && strchr(zid, '@') == NULL)
			abort();
		for (size_t i = 0; i < zl; i++)
			if ((unsigned char)zid[i] <= ' ')
				abort();
		if (memcmp(in, data, size) != 0)
			abort();
	}
	free(in);
	return 0;
}
