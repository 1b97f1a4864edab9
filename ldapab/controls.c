/*
 * controls.c - Simple Paged Results (RFC 2696), Server Side Sorting
 * (RFC 2891) and Virtual List View (draft-ietf-ldapext-ldapv3-vlv-09).
 */
#include <stdlib.h>
#include <string.h>

#include "ber.h"
#include "entry.h"
#include "proto.h"
#include "schema.h"
#include "search.h"
#include "strbuf.h"
#include "util.h"

static void dec_value(struct ber_dec *d, const struct berval *v)
{
	ab_dec_init(d, v->bv_val, v->bv_len);
}

/* realSearchControlValue ::= SEQUENCE { size INTEGER, cookie OCTET STRING } */
int ab_paged_req_decode(const struct berval *v, struct paged_req *pr)
{
	struct ber_dec d;
	ber_len_t end;
	int rc = -1;

	if (v == NULL || v->bv_len == 0)
		return -1;
	dec_value(&d, v);
	if (ab_dec_open(&d, LBER_SEQUENCE, &end) == 0 &&
	    ab_dec_int(&d, LBER_INTEGER, &pr->size) == 0 &&
	    ab_dec_string(&d, LBER_OCTETSTRING, &pr->cookie) == 0 &&
	    ab_dec_close(&d, end) == 0 && pr->size >= 0)
		rc = 0;
	ab_dec_free(&d);
	return rc;
}

/* SortKeyList ::= SEQUENCE OF SEQUENCE { attributeType, orderingRule [0]
 * OPTIONAL, reverseOrder [1] BOOLEAN DEFAULT FALSE } */
int ab_sort_req_decode(const struct berval *v, struct sort_req *sr)
{
	struct ber_dec d;
	struct berval a, rule;
	ber_len_t end, kend;
	int more, rc = -1;

	memset(sr, 0, sizeof(*sr));
	if (v == NULL || v->bv_len == 0)
		return -1;
	dec_value(&d, v);
	if (ab_dec_open(&d, LBER_SEQUENCE, &end) < 0)
		goto out;
	while ((more = ab_dec_more(&d, end)) == 1) {
		struct sort_key *k;

		if (sr->n == 4 || ab_dec_open(&d, LBER_SEQUENCE, &kend) < 0 ||
		    ab_dec_string(&d, LBER_OCTETSTRING, &a) < 0)
			goto out;
		k = &sr->keys[sr->n++];
		k->attr = ab_bv_strdup(&a);
		k->at = ab_schema_attr_find(a.bv_val, a.bv_len);
		if (ab_dec_peek(&d) == 0x80 &&
		    ab_dec_string(&d, 0x80, &rule) < 0)
			goto out;
		if (ab_dec_more(&d, kend) == 1 &&
		    ab_dec_bool(&d, 0x81, &k->reverse) < 0)
			goto out;
		if (ab_dec_close(&d, kend) < 0)
			goto out;
	}
	if (more == 0 && sr->n > 0 && ab_dec_close(&d, end) == 0)
		rc = 0;
out:
	ab_dec_free(&d);
	if (rc < 0)
		ab_sort_req_clear(sr);
	return rc;
}

void ab_sort_req_clear(struct sort_req *sr)
{
	for (size_t i = 0; i < sr->n; i++)
		free(sr->keys[i].attr);
	sr->n = 0;
}

/* VirtualListViewRequest ::= SEQUENCE { beforeCount INTEGER, afterCount
 * INTEGER, target CHOICE { byOffset [0] SEQUENCE { offset INTEGER,
 * contentCount INTEGER }, greaterThanOrEqual [1] AssertionValue },
 * contextID OCTET STRING OPTIONAL } */
int ab_vlv_req_decode(const struct berval *v, struct vlv_req *vr)
{
	struct ber_dec d;
	ber_len_t end, oend;
	int rc = -1;

	memset(vr, 0, sizeof(*vr));
	if (v == NULL || v->bv_len == 0)
		return -1;
	dec_value(&d, v);
	if (ab_dec_open(&d, LBER_SEQUENCE, &end) < 0 ||
	    ab_dec_int(&d, LBER_INTEGER, &vr->before) < 0 ||
	    ab_dec_int(&d, LBER_INTEGER, &vr->after) < 0)
		goto out;
	if (ab_dec_peek(&d) == 0xa0) {
		vr->by_offset = 1;
		if (ab_dec_open(&d, 0xa0, &oend) < 0 ||
		    ab_dec_int(&d, LBER_INTEGER, &vr->offset) < 0 ||
		    ab_dec_int(&d, LBER_INTEGER, &vr->count) < 0 ||
		    ab_dec_close(&d, oend) < 0)
			goto out;
	} else if (ab_dec_string(&d, 0x81, &vr->assertion) < 0) {
		goto out;
	}
	if (ab_dec_more(&d, end) == 1 &&
	    ab_dec_string(&d, LBER_OCTETSTRING, &vr->context) < 0)
		goto out;
	if (ab_dec_close(&d, end) == 0 && vr->before >= 0 && vr->after >= 0)
		rc = 0;
out:
	ab_dec_free(&d);
	return rc;
}

static void control_encode(const char *oid, BerElement **value,
			   struct berval *out)
{
	struct strbuf v, c;
	BerElement *ber;
	struct berval vb;

	strbuf_init(&v);
	strbuf_init(&c);
	ab_enc_finish(value, &v);
	vb.bv_val = v.data;
	vb.bv_len = v.len;
	ber = ab_enc_new();
	ab_enc_printf(ber, "{sO}", oid, &vb);
	ab_enc_finish(&ber, &c);
	strbuf_free(&v);
	out->bv_len = c.len;
	out->bv_val = ab_sb_take(&c, NULL);
}

void ab_paged_resp_encode(const char *cookie, size_t len, struct berval *out)
{
	BerElement *ber = ab_enc_new();

	ab_enc_printf(ber, "{io}", (ber_int_t)0, cookie, (ber_len_t)len);
	control_encode(OID_PAGED_RESULTS, &ber, out);
}

void ab_sort_resp_encode(int result, const char *attr, struct berval *out)
{
	BerElement *ber = ab_enc_new();

	ab_enc_printf(ber, "{e", (ber_int_t)result);
	if (attr != NULL)
		ab_enc_printf(ber, "ts", (ber_tag_t)0x80, attr);
	ab_enc_printf(ber, "}");
	control_encode(OID_SORT_RESPONSE, &ber, out);
}

void ab_vlv_resp_encode(ber_int_t pos, ber_int_t count, int result,
			struct berval *out)
{
	BerElement *ber = ab_enc_new();

	ab_enc_printf(ber, "{iie}", pos, count, (ber_int_t)result);
	control_encode(OID_VLV_RESPONSE, &ber, out);
}

/* The smallest (or, reversed, largest) prepared value of the key. */
static const struct berval *sort_value(struct entry *e,
				       const struct sort_key *k)
{
	const struct berval *best = NULL, *v;
	struct attr *a;

	if (k->at == NULL || (a = ab_entry_attr(e, k->at, NULL)) == NULL)
		return NULL;
	for (size_t i = 0; i < a->nvals; i++) {
		if ((v = ab_attr_norm(a, i)) == NULL)
			continue;
		if (best == NULL ||
		    (ab_schema_order(k->at, v->bv_val, v->bv_len, best->bv_val,
				     best->bv_len) < 0) != k->reverse)
			best = v;
	}
	return best;
}

static const struct sort_req *sort_ctx;

static int sort_cmp(const void *x, const void *y)
{
	struct entry *a = *(struct entry *const *)x;
	struct entry *b = *(struct entry *const *)y;

	for (size_t i = 0; i < sort_ctx->n; i++) {
		const struct sort_key *k = &sort_ctx->keys[i];
		const struct berval *va = sort_value(a, k),
				    *vb = sort_value(b, k);
		int c;

		if (va == NULL || vb == NULL) {
			if (va == vb)
				continue;
			return va == NULL ? 1 : -1; /* missing last */
		}
		c = ab_schema_order(k->at, va->bv_val, va->bv_len, vb->bv_val,
				    vb->bv_len);
		if (c != 0)
			return k->reverse ? -c : c;
	}
	return strcmp(a->ndn, b->ndn);
}

void ab_sort_entries(struct entry **v, size_t n, const struct sort_req *sr)
{
	if (n < 2)
		return;
	/* qsort has no context argument; the loop is single-threaded. */
	sort_ctx = sr;
	qsort(v, n, sizeof(*v), sort_cmp);
	sort_ctx = NULL;
}

void ab_paged_state_free(struct paged_state **p)
{
	free(*p);
	*p = NULL;
}
