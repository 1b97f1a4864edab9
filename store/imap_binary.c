/*
 * imap_binary.c - the decoding behind FETCH BINARY[section]<partial>,
 * BINARY.PEEK and BINARY.SIZE (RFC 3516), used by imap_fetch.c.
 *
 * RFC 3516 4.2: the server removes the Content-Transfer-Encoding of the
 * part; identity encodings (7bit, 8bit, binary, none) come back as they
 * are, base64 and quoted-printable decoded; anything else is refused with
 * NO [UNKNOWN-CTE].  A multipart or message/rfc822 part, and BINARY[] (the
 * whole message), have no encoding of their own to remove and are
 * returned unchanged.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mime.h"
#include "strbuf.h"
#include "store/imap.h"

enum cte { CTE_IDENTITY, CTE_BASE64, CTE_QP, CTE_UNKNOWN };

static enum cte part_cte(const struct mime_part *p)
{
	const char *e = p->encoding;

	if (p->kind != MIME_PART_LEAF || e == NULL || *e == '\0' ||
	    strcmp(e, "7bit") == 0 || strcmp(e, "8bit") == 0 ||
	    strcmp(e, "binary") == 0)
		return CTE_IDENTITY;
	if (strcmp(e, "base64") == 0)
		return CTE_BASE64;
	if (strcmp(e, "quoted-printable") == 0)
		return CTE_QP;
	return CTE_UNKNOWN;
}

int imap_binary_cte_known(const struct mime_part *p)
{
	return part_cte(p) != CTE_UNKNOWN;
}

int imap_binary_decode(int fd, const struct mime_message *m,
		       const struct mime_part *p, int whole,
		       struct strbuf *out)
{
	size_t off = whole ? 0 : p->body_off;
	size_t len = whole ? m->size : p->body_len;
	enum cte cte = whole ? CTE_IDENTITY : part_cte(p);
	char *raw;
	ssize_t got;

	if (cte == CTE_UNKNOWN)
		return -1;
	raw = xmalloc(len + 1);
	got = len > 0 ? pread(fd, raw, len, (off_t)off) : 0;
	if (got < 0)
		got = 0;
	switch (cte) {
	case CTE_BASE64:
		mime_decode_base64(raw, (size_t)got, out);
		break;
	case CTE_QP:
		mime_decode_qp(raw, (size_t)got, out);
		break;
	default:
		strbuf_add(out, raw, (size_t)got);
		break;
	}
	free(raw);
	return 0;
}
