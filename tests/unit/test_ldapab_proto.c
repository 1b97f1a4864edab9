/*
 * test_ldapab_proto.c - the LDAP protocol engine without a network:
 * BER framing, the LDAPMessage envelope, and whole sessions against a
 * temporary store, fed one byte at a time.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <lber.h>

#include "ldapab/ber.h"
#include "ldapab/proto.h"
#include "ldapab/provision.h"
#include "ldapab/session.h"
#include "ldapab/store.h"
#include "log.h"
#include "strbuf.h"

static void test_frame(void **state)
{
	static const unsigned char small[] = {0x30, 0x03, 0x02, 0x01, 0x01};
	static const unsigned char longform[] = {0x30, 0x82, 0x01, 0x00};
	static const unsigned char huge[] = {0x30, 0x84, 0x7f,
					     0xff, 0xff, 0xff};
	static const unsigned char lenlen[] = {0x30, 0x85, 1, 0, 0, 0, 0};
	static const unsigned char indef[] = {0x30, 0x80, 0, 0};
	size_t len;

	(void)state;
	for (size_t n = 0; n < sizeof(small); n++)
		assert_int_equal(ab_ber_frame(small, n, 1024, &len), 0);
	assert_int_equal(ab_ber_frame(small, sizeof(small), 1024, &len), 1);
	assert_int_equal(len, 5);
	assert_int_equal(ab_ber_frame(longform, 4, 1024, &len), 0);
	assert_int_equal(ab_ber_frame(longform, 4, 100, &len), -1);
	assert_int_equal(ab_ber_frame(huge, sizeof(huge), 1 << 22, &len), -1);
	assert_int_equal(ab_ber_frame(lenlen, sizeof(lenlen), 1024, &len), -1);
	assert_int_equal(ab_ber_frame(indef, sizeof(indef), 1024, &len), -1);
	assert_int_equal(
	    ab_ber_frame((const unsigned char *)"\x04", 1, 10, &len), -1);
}

/* Builds LDAPMessages with liblber (the client side of the wire). */
static struct berval *bind_pdu2(int id, const char *dn, const char *pw)
{
	BerElement *ber = ber_alloc_t(LBER_USE_DER);
	struct berval *bv = NULL;

	ber_printf(ber, "{it{ists}}", id, (ber_tag_t)LDAP_TAG_BIND_REQ, 3, dn,
		   (ber_tag_t)0x80, pw);
	ber_flatten(ber, &bv);
	ber_free(ber, 1);
	return bv;
}

static struct berval *search_pdu(int id, const char *base, int scope,
				 const char *present_attr)
{
	BerElement *ber = ber_alloc_t(LBER_USE_DER);
	struct berval *bv = NULL;

	ber_printf(ber, "{it{seeiibts{}}}", id, (ber_tag_t)LDAP_TAG_SEARCH_REQ,
		   base, scope, 0, 0, 0, 0, (ber_tag_t)LDAP_FILTER_PRESENT,
		   present_attr);
	ber_flatten(ber, &bv);
	ber_free(ber, 1);
	return bv;
}

static void test_envelope(void **state)
{
	struct berval *bv = bind_pdu2(7, "cn=x", "pw");
	struct ldap_req r;
	struct ber_dec d;
	unsigned char *copy = malloc(bv->bv_len);

	(void)state;
	memcpy(copy, bv->bv_val, bv->bv_len);
	assert_int_equal(ab_ldap_msg_decode(copy, bv->bv_len, &r, &d), 0);
	assert_int_equal(r.msgid, 7);
	assert_int_equal(r.tag, LDAP_TAG_BIND_REQ);
	assert_int_equal(r.nctrls, 0);
	ab_dec_free(&d);
	/* Every truncation is rejected, never read past the end. */
	for (size_t n = 0; n < bv->bv_len; n++)
		assert_int_equal(ab_ldap_msg_decode(copy, n, &r, &d), -1);
	free(copy);
	ber_bvfree(bv);
}

/* --- a session over a temporary store ---------------------------------- */

struct harness {
	char dir[64];
	struct store *st;
	struct ldapab ab;
	struct ldap_session *s;
	struct strbuf out;
	int closed;
};

static void h_send(void *ctx, const void *data, size_t len)
{
	struct harness *h = ctx;

	strbuf_add(&h->out, data, len);
}

static void h_close(void *ctx)
{
	((struct harness *)ctx)->closed = 1;
}

static int h_is_tls(void *ctx)
{
	(void)ctx;
	return 0;
}

static int setup(void **state)
{
	struct harness *h = calloc(1, sizeof(*h));
	struct session_io io = {.send = h_send, .close = h_close,
				.is_tls = h_is_tls, .ctx = h};
	char *err = NULL;

	snprintf(h->dir, sizeof(h->dir), "/tmp/ldapab-unit-XXXXXX");
	assert_non_null(mkdtemp(h->dir));
	assert_int_equal(ab_store_open(h->dir, &h->st, &err), 0);
	assert_int_equal(ldapab_init(&h->ab, h->st, "dc=example,dc=net"), 0);
	h->ab.allow_plaintext = 1; /* the harness link is not TLS */
	assert_int_equal(ab_provision_mailbox(&h->ab, "alice@example.com",
					      "example", 1, &err),
			 0);
	assert_int_equal(
	    ab_provision_passwd(&h->ab, "alice@example.com", "demo", &err), 0);
	io.ctx = h;
	h->s = ab_session_new(&h->ab, &io, "unit");
	strbuf_init(&h->out);
	*state = h;
	return 0;
}

static int teardown(void **state)
{
	struct harness *h = *state;
	char cmd[128];

	ab_session_free(&h->s);
	ab_store_close(&h->st);
	ldapab_clear(&h->ab);
	strbuf_free(&h->out);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", h->dir);
	assert_int_equal(system(cmd), 0);
	free(h);
	return 0;
}

/* Feeds bytes one at a time through the framer, as the server does. */
static void feed_bytes(struct harness *h, const struct berval *bv)
{
	static unsigned char buf[65536];
	static size_t have;
	size_t len;

	for (size_t i = 0; i < bv->bv_len; i++) {
		buf[have++] = (unsigned char)bv->bv_val[i];
		if (ab_ber_frame(buf, have, sizeof(buf), &len) == 1) {
			ab_session_pdu(h->s, buf, len);
			memmove(buf, buf + len, have - len);
			have -= len;
		}
	}
}

/* Result code of the n-th response with tag in h->out. */
static int response(struct harness *h, unsigned tag, int nth, int *count)
{
	size_t pos = 0, len;
	int seen = 0, code = -1;

	*count = 0;
	while (pos < h->out.len &&
	       ab_ber_frame((unsigned char *)h->out.data + pos,
			    h->out.len - pos, 1 << 24, &len) == 1) {
		struct ldap_req r;
		struct ber_dec d;
		ber_len_t end;
		ber_int_t c;
		unsigned char *copy = malloc(len);

		memcpy(copy, h->out.data + pos, len);
		assert_int_equal(ab_ldap_msg_decode(copy, len, &r, &d), 0);
		if (r.tag == tag) {
			(*count)++;
			if (seen++ == nth && ab_dec_open(&d, tag, &end) == 0 &&
			    ab_dec_int(&d, LBER_ENUMERATED, &c) == 0)
				code = c;
		}
		ab_dec_free(&d);
		free(copy);
		pos += len;
	}
	return code;
}

static void test_session_bind_and_search(void **state)
{
	struct harness *h = *state;
	struct berval *bv;
	int n;

	bv = bind_pdu2(1, "alice@example.com", "wrong");
	feed_bytes(h, bv);
	ber_bvfree(bv);
	assert_int_equal(response(h, LDAP_TAG_BIND_RES, 0, &n),
			 LDAP_R_INVALID_CREDENTIALS);
	bv = bind_pdu2(2, "cn=alice@example.com,ou=auth,dc=example,dc=net",
		       "demo");
	feed_bytes(h, bv);
	ber_bvfree(bv);
	assert_int_equal(response(h, LDAP_TAG_BIND_RES, 1, &n), 0);
	bv = bind_pdu2(3, "alice@example.com", "");
	feed_bytes(h, bv);
	ber_bvfree(bv);
	assert_int_equal(response(h, LDAP_TAG_BIND_RES, 2, &n),
			 LDAP_R_UNWILLING);
	bv = bind_pdu2(4, "alice@example.com", "demo");
	feed_bytes(h, bv);
	ber_bvfree(bv);
	bv = search_pdu(5, "", 2, "objectClass");
	feed_bytes(h, bv);
	ber_bvfree(bv);
	assert_int_equal(response(h, LDAP_TAG_SEARCH_DONE, 0, &n), 0);
	response(h, LDAP_TAG_SEARCH_ENTRY, 0, &n);
	/* suffix, ou=ab, alice's book, the account book */
	assert_int_equal(n, 4);
	bv = search_pdu(6, "ou=nobody,ou=ab,dc=example,dc=net", 0,
			"objectClass");
	feed_bytes(h, bv);
	ber_bvfree(bv);
	assert_int_equal(response(h, LDAP_TAG_SEARCH_DONE, 1, &n),
			 LDAP_R_NO_SUCH_OBJECT);
	assert_int_equal(h->closed, 0);
}

static void test_session_garbage_closes(void **state)
{
	struct harness *h = *state;
	unsigned char junk[] = {0x30, 0x05, 0x02, 0x01, 0x01, 0x55, 0x00};
	int n;

	ab_session_pdu(h->s, junk, sizeof(junk));
	assert_int_equal(h->closed, 1);
	assert_int_equal(response(h, LDAP_TAG_EXTENDED_RES, 0, &n),
			 LDAP_R_PROTOCOL_ERROR);
	/* Nothing more is processed after the notice. */
	ab_session_pdu(h->s, junk, sizeof(junk));
	response(h, LDAP_TAG_EXTENDED_RES, 0, &n);
	assert_int_equal(n, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_frame),
	    cmocka_unit_test(test_envelope),
	    cmocka_unit_test_setup_teardown(test_session_bind_and_search, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_session_garbage_closes, setup,
					    teardown),
	};

	log_init("test_ldapab_proto", 0, LOG_LEVEL_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
