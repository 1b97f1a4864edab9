/*
 * ab_op_search.c - the Search operation (RFC 4511 §4.5) with paged results,
 * server-side sorting and VLV.
 *
 * Matching entries are collected, then sorted / windowed / paged, then
 * sent.  The candidates come from the books the identity may read: a
 * subtree search from the root, the suffix or ou=ab walks only those
 * books' key ranges, so one tenant's search never reads another's data.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/evp.h>

#include "acl.h"
#include "ber.h"
#include "dn.h"
#include "entry.h"
#include "filter.h"
#include "index.h"
#include "log.h"
#include "proto.h"
#include "schema.h"
#include "search.h"
#include "session.h"
#include "strbuf.h"

#define MAX_ATTRS 128

struct search_req {
	struct berval base;
	ber_int_t scope, deref, size_limit, time_limit;
	int types_only;
	struct filter *filter;
	struct berval attrs[MAX_ATTRS];
	size_t nattrs;
};

struct collect {
	struct ldap_session *s;
	const struct search_req *q;
	struct entry **v;
	size_t n, cap, max;
	time_t deadline;
	int timed_out, truncated, check_acl;
};

static int decode_search(struct ber_dec *d, struct search_req *q,
			 const char **err)
{
	ber_len_t end, aend;
	struct berval a;
	int more;

	*err = "malformed SearchRequest";
	if (ab_dec_open(d, LDAP_TAG_SEARCH_REQ, &end) < 0 ||
	    ab_dec_string(d, LBER_OCTETSTRING, &q->base) < 0 ||
	    ab_dec_int(d, LBER_ENUMERATED, &q->scope) < 0 ||
	    ab_dec_int(d, LBER_ENUMERATED, &q->deref) < 0 ||
	    ab_dec_int(d, LBER_INTEGER, &q->size_limit) < 0 ||
	    ab_dec_int(d, LBER_INTEGER, &q->time_limit) < 0 ||
	    ab_dec_bool(d, LBER_BOOLEAN, &q->types_only) < 0)
		return -1;
	if (q->scope < 0 || q->scope > 2 || q->size_limit < 0 ||
	    q->time_limit < 0)
		return -1;
	if (ab_filter_decode(d, &q->filter, err) < 0)
		return -1;
	*err = "malformed SearchRequest";
	if (ab_dec_open(d, LBER_SEQUENCE, &aend) < 0)
		return -1;
	while ((more = ab_dec_more(d, aend)) == 1) {
		if (ab_dec_string(d, LBER_OCTETSTRING, &a) < 0)
			return -1;
		if (q->nattrs < MAX_ATTRS) /* more are ignored */
			q->attrs[q->nattrs++] = a;
	}
	if (more < 0 || ab_dec_close(d, aend) < 0 || ab_dec_close(d, end) < 0)
		return -1;
	return 0;
}

static int collect_one(struct entry **ep, const char *key, void *arg)
{
	struct collect *c = arg;

	if (c->check_acl &&
	    ab_acl_key_right(c->s->ab, ab_session_who(c->s), key) == ACL_NONE)
		return 0;
	if (ab_filter_match(c->q->filter, *ep) != FILTER_TRUE)
		return 0;
	if (c->n == c->max) {
		c->truncated = 1;
		return 1;
	}
	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 64;
		c->v = xrealloc(c->v, c->cap * sizeof(*c->v));
	}
	c->v[c->n++] = *ep;
	*ep = NULL;
	if ((c->n & 255) == 0 && time(NULL) > c->deadline) {
		c->timed_out = 1;
		return 1;
	}
	return 0;
}

/* Whether key is base itself or below it. */
static int key_within(const char *key, const char *base, int scope)
{
	size_t bl = strlen(base);

	if (scope == LDAP_SCOPE_BASE_)
		return strcmp(key, base) == 0;
	if (bl == 0)
		return scope == LDAP_SCOPE_SUB_ ||
		       strchr(key, DN_KEY_SEP) == NULL;
	if (strncmp(key, base, bl) != 0)
		return 0;
	if (key[bl] == '\0')
		return scope == LDAP_SCOPE_SUB_;
	if (key[bl] != DN_KEY_SEP)
		return 0;
	return scope == LDAP_SCOPE_SUB_ ||
	       strchr(key + bl + 1, DN_KEY_SEP) == NULL;
}

static int collect_key(struct collect *c, const char *key)
{
	struct entry *e;
	int rc = ab_store_get(c->s->ab->store, key, &e);

	if (rc <= 0)
		return rc;
	collect_one(&e, key, c);
	ab_entry_free(&e);
	return 0;
}

/* The right on the book of the last key, reused while the sorted
 * candidates stay in that book. */
struct book_right {
	char prefix[512]; /* "<ou=ab key>\x01ou=<book>" */
	size_t len;	  /* 0: none yet */
	enum acl_right right;
};

static enum acl_right key_right(struct collect *c, struct book_right *br,
				const char *key)
{
	const char *ab_key = c->s->ab->ab_key, *sep;
	size_t al = strlen(ab_key);

	if (br->len > 0 && strncmp(key, br->prefix, br->len) == 0 &&
	    key[br->len] == DN_KEY_SEP)
		return br->right;
	br->right = ab_acl_key_right(c->s->ab, ab_session_who(c->s), key);
	br->len = 0;
	/* Only an entry inside a book shares its book's right. */
	if (strncmp(key, ab_key, al) == 0 && key[al] == DN_KEY_SEP &&
	    (sep = strchr(key + al + 1, DN_KEY_SEP)) != NULL &&
	    (size_t)(sep - key) < sizeof(br->prefix)) {
		br->len = (size_t)(sep - key);
		memcpy(br->prefix, key, br->len);
	}
	return br->right;
}

/* Collects the readable candidates in scope of one selection. */
static int collect_keys(struct collect *c, const struct keyset *ks,
			const char *base_key, int scope)
{
	struct store_reader *rd = NULL;
	struct book_right br;
	struct entry *e;
	int got;

	br.len = 0;
	if (ab_store_reader_open(c->s->ab->store, &rd) < 0)
		return -1;
	for (size_t i = 0; i < ks->n && !c->truncated && !c->timed_out; i++) {
		if (!key_within(ks->keys[i], base_key, scope) ||
		    key_right(c, &br, ks->keys[i]) == ACL_NONE)
			continue;
		got = ab_store_reader_get(rd, ks->keys[i], &e);
		if (got < 0) {
			ab_store_reader_close(&rd);
			return -1;
		}
		if (got == 0)
			continue;
		collect_one(&e, ks->keys[i], c);
		ab_entry_free(&e);
	}
	ab_store_reader_close(&rd);
	return 0;
}

/*
 * The indexed path: candidates from the attribute indexes, kept when in
 * scope and readable.  1 when used, 0 when the filter is not indexable.
 * When the search stops at a size limit the index is read in windows
 * (index.h), so that "ann*" on a large book does not read every Anna.
 */
static int collect_indexed(struct collect *c, const char *base_key, int scope)
{
	struct keyset ks;
	char *from = NULL;
	size_t want = c->max - c->n;
	size_t limit = want < 1000 ? want + want / 4 + 16 : 0;
	int rc, used = 0;

	c->check_acl = 0;
	for (;;) {
		rc = ab_store_candidates(c->s->ab->store, c->q->filter, from,
					 limit, &ks);
		if (rc <= 0)
			break;
		used = 1;
		rc = collect_keys(c, &ks, base_key, scope);
		free(from);
		from = NULL;
		if (rc == 0 && ks.bound != NULL && !c->truncated &&
		    !c->timed_out)
			from = xstrdup(ks.bound);
		ab_keyset_free(&ks);
		if (rc < 0 || from == NULL)
			break;
		limit *= 4;
	}
	free(from);
	return rc < 0 ? -1 : used;
}

/* Walks the candidates of a search rooted at base_key. */
static int collect_all(struct collect *c, const char *base_key, int scope)
{
	struct ldapab *ab = c->s->ab;
	char books[2][256];
	int n, rc;

	if ((rc = collect_indexed(c, base_key, scope)) != 0)
		return rc < 0 ? -1 : 0;

	/* A subtree search at or above ou=ab: only the readable books. */
	if (scope == LDAP_SCOPE_SUB_ &&
	    key_within(ab->ab_key, base_key, LDAP_SCOPE_SUB_)) {
		c->check_acl = 1;
		if (key_within(ab->suffix_key, base_key, scope))
			rc |= collect_key(c, ab->suffix_key);
		rc |= collect_key(c, ab->ab_key);
		c->check_acl = 0;
		n = ab_acl_readable_books(ab_session_who(c->s), books);
		for (int i = 0; i < n && !c->truncated && !c->timed_out; i++) {
			char *bk = ab_acl_book_key(ab, books[i]);

			rc |= ab_store_scan(ab->store, bk, LDAP_SCOPE_SUB_,
					    collect_one, c);
			free(bk);
		}
		return rc < 0 ? -1 : 0;
	}
	c->check_acl = 1;
	return ab_store_scan(ab->store, base_key, scope, collect_one, c);
}

static void fingerprint(const struct ldap_req *r, const struct search_req *q,
			unsigned char *out)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	struct strbuf sb;
	unsigned int n = 32;

	(void)r;
	strbuf_init(&sb);
	strbuf_add(&sb, q->base.bv_val, q->base.bv_len);
	strbuf_printf(&sb, "|%d|", (int)q->scope);
	ab_filter_print(q->filter, &sb);
	for (size_t i = 0; i < q->nattrs; i++) {
		strbuf_addc(&sb, '|');
		strbuf_add(&sb, q->attrs[i].bv_val, q->attrs[i].bv_len);
	}
	EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	EVP_DigestUpdate(ctx, sb.data, sb.len);
	EVP_DigestFinal_ex(ctx, out, &n);
	EVP_MD_CTX_free(ctx);
	strbuf_free(&sb);
}

struct window {
	size_t from, to; /* entries [from, to) are sent */
	struct berval ctrls[2];
	size_t nctrls;
	int code;
	const char *diag;
};

static int apply_vlv(const struct ldap_control *vc, struct collect *c,
		     const struct sort_req *sr, struct window *w)
{
	struct vlv_req vr;
	size_t target, n = c->n;

	if (ab_vlv_req_decode(&vc->value, &vr) < 0) {
		w->code = LDAP_R_PROTOCOL_ERROR;
		w->diag = "malformed VLV control";
		return -1;
	}
	if (sr == NULL) {
		/* The draft's §6.1: VLV needs a sort control. */
		w->code = LDAP_R_SORT_CONTROL_MISSING;
		w->diag = "VLV requires server-side sorting";
		ab_vlv_resp_encode(0, (ber_int_t)n, LDAP_R_SORT_CONTROL_MISSING,
				   &w->ctrls[w->nctrls++]);
		return -1;
	}
	if (vr.by_offset) {
		/* offset is 1-based; scale it when the client's idea of the
		 * content count differs from ours (draft §6.2). */
		if (vr.offset <= 0)
			target = 0;
		else if (vr.count > 0 && (size_t)vr.count != n)
			target = (size_t)((double)(vr.offset - 1) * n /
					  (double)vr.count);
		else
			target = (size_t)vr.offset - 1;
		if (target > n)
			target = n;
	} else {
		const struct sort_key *k = &sr->keys[0];
		struct strbuf sb;

		strbuf_init(&sb);
		target = n;
		if (k->at != NULL &&
		    ab_schema_normalize(k->at, vr.assertion.bv_val,
					vr.assertion.bv_len, &sb) == 0) {
			for (size_t i = 0; i < n; i++) {
				struct attr *a =
				    ab_entry_attr(c->v[i], k->at, NULL);
				const struct berval *v =
				    a ? ab_attr_norm(a, 0) : NULL;

				if (v != NULL &&
				    ab_schema_order(k->at, v->bv_val, v->bv_len,
						    sb.data, sb.len) >= 0) {
					target = i;
					break;
				}
			}
		}
		strbuf_free(&sb);
	}
	w->from = target > (size_t)vr.before ? target - (size_t)vr.before : 0;
	w->to = target + (size_t)vr.after + 1;
	if (w->to > n)
		w->to = n;
	ab_vlv_resp_encode((ber_int_t)(target + 1), (ber_int_t)n, 0,
			   &w->ctrls[w->nctrls++]);
	return 0;
}

static int apply_paged(struct ldap_session *s, const struct ldap_req *r,
		       const struct search_req *q,
		       const struct ldap_control *pc, struct collect *c,
		       struct window *w)
{
	unsigned char fp[32];
	struct paged_req pr;
	char cookie[32];
	size_t start = 0;

	if (ab_paged_req_decode(&pc->value, &pr) < 0) {
		w->code = LDAP_R_PROTOCOL_ERROR;
		w->diag = "malformed paged results control";
		return -1;
	}
	fingerprint(r, q, fp);
	if (pr.cookie.bv_len > 0) {
		snprintf(cookie, sizeof(cookie), "%lu",
			 s->paged ? s->paged->cookie : 0UL);
		if (s->paged == NULL || !ab_bv_eq(&pr.cookie, cookie) ||
		    memcmp(fp, s->paged->fingerprint, 32) != 0) {
			w->code = LDAP_R_UNWILLING;
			w->diag = "unknown or stale paged results cookie";
			return -1;
		}
		start = s->paged->offset;
	}
	/* RFC 2696 §3: size 0 with a cookie abandons the paged search. */
	if (pr.size == 0) {
		ab_paged_state_free(&s->paged);
		w->from = w->to = 0;
		ab_paged_resp_encode("", 0, &w->ctrls[w->nctrls++]);
		return 0;
	}
	w->from = start < c->n ? start : c->n;
	w->to = w->from + (size_t)pr.size;
	if (w->to >= c->n) {
		w->to = c->n;
		ab_paged_state_free(&s->paged);
		ab_paged_resp_encode("", 0, &w->ctrls[w->nctrls++]);
		return 0;
	}
	if (s->paged == NULL)
		s->paged = xcalloc(1, sizeof(*s->paged));
	s->paged->cookie++;
	s->paged->offset = w->to;
	memcpy(s->paged->fingerprint, fp, 32);
	snprintf(cookie, sizeof(cookie), "%lu", s->paged->cookie);
	ab_paged_resp_encode(cookie, strlen(cookie), &w->ctrls[w->nctrls++]);
	return 0;
}

/* Search of the root DSE or the subschema entry (base scope only). */
static int search_special(struct ldap_session *s, struct ldap_req *r,
			  const struct search_req *q, const char *ndn)
{
	struct attr_sel sel;
	struct entry *e;

	if (ndn[0] == '\0' && q->scope == LDAP_SCOPE_BASE_)
		e = ab_rootdse_entry(s->ab, s->ab->tls_available &&
						!s->io.is_tls(s->io.ctx));
	else if (strcmp(ndn, "cn=subschema") == 0)
		e = ab_subschema_entry();
	else
		return 0;
	ab_attr_sel_init(&sel, q->attrs, q->nattrs);
	if (q->scope == LDAP_SCOPE_BASE_ &&
	    ab_filter_match(q->filter, e) == FILTER_TRUE) {
		/* The root DSE answers "*" and an empty list with
		 * objectClass only; its attributes are operational. */
		ab_search_send_entry(s, r, e, &sel, q->types_only);
	}
	ab_entry_free(&e);
	ab_resp_result(s, r, LDAP_TAG_SEARCH_DONE, LDAP_R_SUCCESS, "", "",
		       NULL);
	return 1;
}

static void run_search(struct ldap_session *s, struct ldap_req *r,
		       struct search_req *q, const char *base_key)
{
	const struct ldap_control *pc = ab_req_control(r, OID_PAGED_RESULTS);
	const struct ldap_control *sc = ab_req_control(r, OID_SORT_REQUEST);
	const struct ldap_control *vc = ab_req_control(r, OID_VLV_REQUEST);
	struct collect c = {s, q, NULL, 0, 0, 0, 0, 0, 0, 0};
	struct window w = {0, 0, {{0, NULL}, {0, NULL}}, 0, 0, ""};
	struct sort_req sr = {0};
	struct resp_extra x = {NULL, NULL, w.ctrls, 0};
	struct attr_sel sel;
	unsigned limit = s->ab->size_limit, tl = s->ab->time_limit;
	int have_sort = 0;

	if (q->time_limit > 0 && (unsigned)q->time_limit < tl)
		tl = (unsigned)q->time_limit;
	c.deadline = time(NULL) + tl;
	/* Sorting, paging and VLV need the whole result; plain searches
	 * stop one past the size limit. */
	if (q->size_limit > 0 && (unsigned)q->size_limit < limit &&
	    pc == NULL && vc == NULL)
		c.max = (size_t)q->size_limit + 1;
	else
		c.max = (size_t)s->ab->size_limit + 1;
	if (collect_all(&c, base_key, q->scope) < 0) {
		w.code = LDAP_R_OTHER;
		w.diag = "storage error";
		goto done;
	}
	if (sc != NULL) {
		if (ab_sort_req_decode(&sc->value, &sr) < 0) {
			w.code = LDAP_R_PROTOCOL_ERROR;
			w.diag = "malformed sort control";
			goto done;
		}
		have_sort = 1;
		ab_sort_entries(c.v, c.n, &sr);
		ab_sort_resp_encode(0, NULL, &w.ctrls[w.nctrls++]);
	}
	w.from = 0;
	w.to = c.n;
	if (vc != NULL) {
		if (apply_vlv(vc, &c, have_sort ? &sr : NULL, &w) < 0)
			goto done;
	} else if (pc != NULL) {
		if (apply_paged(s, r, q, pc, &c, &w) < 0)
			goto done;
	}
	if (q->size_limit > 0 && pc == NULL && vc == NULL &&
	    w.to - w.from > (size_t)q->size_limit) {
		w.to = w.from + (size_t)q->size_limit;
		w.code = LDAP_R_SIZE_LIMIT;
	}
	if (c.truncated && w.code == 0) {
		w.code = LDAP_R_SIZE_LIMIT;
		w.diag = "server size limit reached";
	}
	if (c.timed_out && w.code == 0)
		w.code = LDAP_R_TIME_LIMIT;
	ab_attr_sel_init(&sel, q->attrs, q->nattrs);
	for (size_t i = w.from; i < w.to; i++)
		ab_search_send_entry(s, r, c.v[i], &sel, q->types_only);
done:
	x.nctrls = w.nctrls;
	ab_resp_result(s, r, LDAP_TAG_SEARCH_DONE, w.code, "", w.diag, &x);
	for (size_t i = 0; i < c.n; i++)
		ab_entry_free(&c.v[i]);
	free(c.v);
	for (size_t i = 0; i < w.nctrls; i++)
		free(w.ctrls[i].bv_val);
	ab_sort_req_clear(&sr);
}

void ab_op_search(struct ldap_session *s, struct ldap_req *r, struct ber_dec *d)
{
	struct search_req q;
	const char *err;
	struct strbuf fs;
	struct dn *dn = NULL;
	struct entry *base = NULL;
	char *key = NULL, *ndn = NULL;

	memset(&q, 0, sizeof(q));
	if (decode_search(d, &q, &err) < 0) {
		ab_filter_free(&q.filter);
		ab_session_protocol_error(s, err);
		return;
	}
	strbuf_init(&fs);
	ab_filter_print(q.filter, &fs);
	{
		char b1[256], b2[512];
		char *bs = ab_bv_strdup(&q.base);

		log_info("event=search session=%s msgid=%d base=%s scope=%d "
			 "filter=%s",
			 s->id, (int)r->msgid, log_q(b1, sizeof(b1), bs),
			 (int)q.scope, log_q(b2, sizeof(b2), fs.data));
		free(bs);
	}
	strbuf_free(&fs);
	if (ab_dn_parse(q.base.bv_val, q.base.bv_len, &dn) < 0) {
		ab_resp_result(s, r, LDAP_TAG_SEARCH_DONE,
			       LDAP_R_INVALID_DN_SYNTAX, "", "invalid base DN",
			       NULL);
		goto out;
	}
	ndn = ab_dn_norm(dn, 0);
	key = ab_dn_key(dn, 0);
	if (search_special(s, r, &q, ndn))
		goto out;
	if (key[0] != '\0') {
		/* The base must exist and be visible (else noSuchObject,
		 * without telling whether it exists). */
		int rc = ab_store_get(s->ab->store, key, &base);

		if (rc < 0) {
			ab_resp_result(s, r, LDAP_TAG_SEARCH_DONE, LDAP_R_OTHER,
				       "", "storage error", NULL);
			goto out;
		}
		if (rc == 0 || ab_acl_key_right(s->ab, ab_session_who(s),
						key) == ACL_NONE) {
			ab_resp_result(s, r, LDAP_TAG_SEARCH_DONE,
				       LDAP_R_NO_SUCH_OBJECT, "", "", NULL);
			goto out;
		}
	}
	run_search(s, r, &q, key);
out:
	ab_entry_free(&base);
	free(key);
	free(ndn);
	ab_dn_free(&dn);
	ab_filter_free(&q.filter);
}
