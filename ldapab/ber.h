/*
 * ber.h - BER framing and the small decoding and encoding layer that the
 * LDAP operations use on top of OpenLDAP's liblber.
 *
 * Decoding never trusts a length: every helper checks that an element lies
 * inside its enclosing SEQUENCE, so a child that overruns its parent is a
 * protocol error, not an out-of-bounds read.  Strings are decoded in place
 * (struct berval points into the PDU buffer, not NUL-terminated): they live
 * as long as the request's PDU.
 */
#ifndef LDAPAB_BER_H
#define LDAPAB_BER_H

#include <stddef.h>
#include <lber.h>

struct strbuf;

/*
 * Finds the length of the LDAPMessage (a SEQUENCE, RFC 4511 §4.1.1) at the
 * start of buf.  Returns 1 and *len_r (tag + length + content) when the
 * whole PDU is in buf, 0 when more bytes are needed, -1 when the bytes are
 * not an LDAPMessage or the PDU would be larger than max_len.
 */
int ab_ber_frame(const unsigned char *buf, size_t n, size_t max_len,
		 size_t *len_r);

/*
 * A decoder over one PDU.  All dec_* functions return 0 on success and -1
 * on malformed input.  end values are "bytes remaining after this element",
 * as returned by ab_dec_open(): a SEQUENCE is fully read when
 * ab_dec_remaining() equals its end.
 */
struct ber_dec {
	BerElement *ber;
};

/* Wraps buf (not copied; must outlive the decoder). */
void ab_dec_init(struct ber_dec *d, void *buf, size_t len);
void ab_dec_free(struct ber_dec *d);
ber_len_t ab_dec_remaining(const struct ber_dec *d);
/* The tag of the next element, or LBER_DEFAULT at the end / on error. */
ber_tag_t ab_dec_peek(struct ber_dec *d);
/* Opens a constructed element with tag want; *end_r for ab_dec_more/close. */
int ab_dec_open(struct ber_dec *d, ber_tag_t want, ber_len_t *end_r);
/* 1 while elements remain before end, 0 at end, -1 on overrun. */
int ab_dec_more(const struct ber_dec *d, ber_len_t end);
/* Checks that the element ending at end was consumed exactly. */
int ab_dec_close(const struct ber_dec *d, ber_len_t end);
int ab_dec_string(struct ber_dec *d, ber_tag_t want, struct berval *bv_r);
int ab_dec_int(struct ber_dec *d, ber_tag_t want, ber_int_t *v_r);
int ab_dec_bool(struct ber_dec *d, ber_tag_t want, int *v_r);
/* Skips one whole element (any tag). */
int ab_dec_skip(struct ber_dec *d);

/* Encoding: a thin wrapper that turns liblber's failures into fatal(). */
BerElement *ab_enc_new(void);
void ab_enc_printf(BerElement *ber, const char *fmt, ...);
/* Appends the encoded bytes to out and frees ber. */
void ab_enc_finish(BerElement **ber, struct strbuf *out);

/* Duplicates a berval as a NUL-terminated C string. */
char *ab_bv_strdup(const struct berval *bv);
/* 1 when bv holds exactly the C string s (case-sensitive). */
int ab_bv_eq(const struct berval *bv, const char *s);
/* 1 when bv equals s ignoring ASCII case. */
int ab_bv_eq_ci(const struct berval *bv, const char *s);

#endif
