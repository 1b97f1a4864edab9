/*
 * ber.c - BER framing and checked decoding on top of liblber.
 */
#include <stdarg.h>
#include <string.h>
#include <strings.h>

#include "ber.h"
#include "log.h"
#include "strbuf.h"

int ab_ber_frame(const unsigned char *buf, size_t n, size_t max_len,
		 size_t *len_r)
{
	size_t len, hdr, i, nlen;

	if (n < 1)
		return 0;
	/* RFC 4511 §4.1.1: an LDAPMessage is a universal SEQUENCE. */
	if (buf[0] != 0x30)
		return -1;
	if (n < 2)
		return 0;
	if (!(buf[1] & 0x80)) {
		len = buf[1];
		hdr = 2;
	} else {
		nlen = buf[1] & 0x7f;
		/* Indefinite lengths are forbidden (RFC 4511 §5.1). */
		if (nlen == 0 || nlen > 4)
			return -1;
		if (n < 2 + nlen)
			return 0;
		len = 0;
		for (i = 0; i < nlen; i++)
			len = (len << 8) | buf[2 + i];
		hdr = 2 + nlen;
	}
	if (len > max_len || hdr + len > max_len)
		return -1;
	if (n < hdr + len)
		return 0;
	*len_r = hdr + len;
	return 1;
}

void ab_dec_init(struct ber_dec *d, void *buf, size_t len)
{
	struct berval bv;

	bv.bv_val = buf;
	bv.bv_len = len;
	d->ber = ber_alloc_t(0);
	if (d->ber == NULL)
		fatalx("event=oom where=ber_alloc_t");
	ber_init2(d->ber, &bv, 0);
}

void ab_dec_free(struct ber_dec *d)
{
	if (d->ber != NULL)
		ber_free(d->ber, 0);
	d->ber = NULL;
}

ber_len_t ab_dec_remaining(const struct ber_dec *d)
{
	return ber_remaining(d->ber);
}

ber_tag_t ab_dec_peek(struct ber_dec *d)
{
	ber_len_t len;

	if (ab_dec_remaining(d) == 0)
		return LBER_DEFAULT;
	return ber_peek_tag(d->ber, &len);
}

int ab_dec_open(struct ber_dec *d, ber_tag_t want, ber_len_t *end_r)
{
	ber_len_t len;
	ber_tag_t tag;

	if (ab_dec_remaining(d) == 0)
		return -1;
	tag = ber_skip_tag(d->ber, &len);
	if (tag == LBER_DEFAULT || tag != want)
		return -1;
	if (len > ab_dec_remaining(d))
		return -1;
	*end_r = ab_dec_remaining(d) - len;
	return 0;
}

int ab_dec_more(const struct ber_dec *d, ber_len_t end)
{
	ber_len_t rem = ab_dec_remaining(d);

	if (rem > end)
		return 1;
	return rem == end ? 0 : -1;
}

int ab_dec_close(const struct ber_dec *d, ber_len_t end)
{
	return ab_dec_remaining(d) == end ? 0 : -1;
}

int ab_dec_string(struct ber_dec *d, ber_tag_t want, struct berval *bv_r)
{
	if (ab_dec_peek(d) != want)
		return -1;
	if (ber_get_stringbv(d->ber, bv_r, LBER_BV_NOTERM) == LBER_DEFAULT)
		return -1;
	return 0;
}

int ab_dec_int(struct ber_dec *d, ber_tag_t want, ber_int_t *v_r)
{
	ber_len_t len;

	if (ab_dec_peek(d) != want)
		return -1;
	/* liblber accepts up to sizeof(ber_int_t) content bytes. */
	if (ber_peek_tag(d->ber, &len) == LBER_DEFAULT || len < 1 ||
	    len > sizeof(ber_int_t))
		return -1;
	if (ber_get_int(d->ber, v_r) == LBER_DEFAULT)
		return -1;
	return 0;
}

int ab_dec_bool(struct ber_dec *d, ber_tag_t want, int *v_r)
{
	ber_len_t len;
	ber_int_t v;

	if (ab_dec_peek(d) != want)
		return -1;
	if (ber_peek_tag(d->ber, &len) == LBER_DEFAULT || len != 1)
		return -1;
	if (ber_get_int(d->ber, &v) == LBER_DEFAULT)
		return -1;
	*v_r = v != 0;
	return 0;
}

int ab_dec_skip(struct ber_dec *d)
{
	struct berval bv;

	if (ab_dec_remaining(d) == 0)
		return -1;
	return ber_skip_element(d->ber, &bv) == LBER_DEFAULT ? -1 : 0;
}

BerElement *ab_enc_new(void)
{
	BerElement *ber = ber_alloc_t(LBER_USE_DER);

	if (ber == NULL)
		fatalx("event=oom where=ber_alloc_t");
	return ber;
}

void ab_enc_printf(BerElement *ber, const char *fmt, ...)
{
	va_list ap;
	int rc;

	/* liblber has no va_list variant: forward the few shapes we use. */
	va_start(ap, fmt);
	rc = 0;
	for (const char *p = fmt; *p != '\0' && rc != -1; p++) {
		switch (*p) {
		case '{':
		case '}':
		case '[':
		case ']': {
			char f[2] = {*p, '\0'};
			rc = ber_printf(ber, f);
			break;
		}
		case 't': {
			ber_tag_t t = va_arg(ap, ber_tag_t);
			rc = ber_printf(ber, "t", t);
			break;
		}
		case 'i':
		case 'e':
		case 'b': {
			ber_int_t v = va_arg(ap, ber_int_t);
			char f[2] = {*p, '\0'};
			rc = ber_printf(ber, f, v);
			break;
		}
		case 's': {
			const char *s = va_arg(ap, const char *);
			rc = ber_printf(ber, "s", s != NULL ? s : "");
			break;
		}
		case 'O': {
			const struct berval *bv =
			    va_arg(ap, const struct berval *);
			rc = ber_printf(ber, "O", bv);
			break;
		}
		case 'o': {
			const char *s = va_arg(ap, const char *);
			ber_len_t l = va_arg(ap, ber_len_t);
			rc = ber_printf(ber, "o", s, l);
			break;
		}
		default:
			fatalx("event=bug where=ab_enc_printf fmt=%c", *p);
		}
	}
	va_end(ap);
	if (rc == -1)
		fatalx("event=oom where=ber_printf");
}

void ab_enc_finish(BerElement **ber, struct strbuf *out)
{
	struct berval bv;

	if (ber_flatten2(*ber, &bv, 0) != 0)
		fatalx("event=oom where=ber_flatten2");
	strbuf_add(out, bv.bv_val, bv.bv_len);
	ber_free(*ber, 1);
	*ber = NULL;
}

char *ab_bv_strdup(const struct berval *bv)
{
	return xstrndup(bv->bv_len ? bv->bv_val : "", bv->bv_len);
}

int ab_bv_eq(const struct berval *bv, const char *s)
{
	size_t n = strlen(s);

	return bv->bv_len == n && memcmp(bv->bv_val, s, n) == 0;
}

int ab_bv_eq_ci(const struct berval *bv, const char *s)
{
	size_t n = strlen(s);

	return bv->bv_len == n && strncasecmp(bv->bv_val, s, n) == 0;
}
