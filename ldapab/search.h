/*
 * search.h - the pieces of the Search operation: attribute selection and
 * entry output (search_out.c), the special entries (root DSE, subschema),
 * and the paged / sort / VLV controls (controls.c).
 */
#ifndef LDAPAB_SEARCH_H
#define LDAPAB_SEARCH_H

#include <stddef.h>
#include <lber.h>

struct entry;
struct ldap_req;
struct ldap_session;
struct ldapab;
struct schema_attr;

#define SUBSCHEMA_DN "cn=Subschema"

/* RFC 4511 §4.5.1.8: the attributes a search asks for. */
struct attr_sel {
	int all_user; /* empty list or "*" */
	int all_op;   /* "+" (RFC 3673) */
	const struct berval *names;
	size_t n;
	/* names resolved once per search (NULL: not a known type) */
	const struct schema_attr *types[128];
};

void ab_attr_sel_init(struct attr_sel *sel, const struct berval *names,
		      size_t n);
/* Whether attribute (t, name) is selected; op: it is operational. */
int ab_attr_sel_wants(const struct attr_sel *sel, const struct schema_attr *t,
		      const char *name);

/* Sends one SearchResultEntry for e (adding the virtual operational
 * attributes that were asked for). */
void ab_search_send_entry(struct ldap_session *s, const struct ldap_req *r,
			  struct entry *e, const struct attr_sel *sel,
			  int types_only);

/* The root DSE and the subschema entry, built on demand (caller frees). */
struct entry *ab_rootdse_entry(const struct ldapab *ab, int tls_offered);
struct entry *ab_subschema_entry(void);

/* --- controls ------------------------------------------------------------ */

struct sort_key {
	char *attr;
	const struct schema_attr *at;
	int reverse;
};

struct sort_req {
	size_t n;
	struct sort_key keys[4];
};

struct vlv_req {
	ber_int_t before, after;
	int by_offset;
	ber_int_t offset, count; /* byOffset */
	struct berval assertion; /* greaterThanOrEqual (in place) */
	struct berval context;
};

struct paged_req {
	ber_int_t size;
	struct berval cookie; /* in place */
};

/* Decoders for control values: 0 or -1 (malformed). */
int ab_sort_req_decode(const struct berval *v, struct sort_req *sr);
void ab_sort_req_clear(struct sort_req *sr);
int ab_vlv_req_decode(const struct berval *v, struct vlv_req *vr);
int ab_paged_req_decode(const struct berval *v, struct paged_req *pr);

/* Encoded response controls (allocated bv_val). */
void ab_paged_resp_encode(const char *cookie, size_t len, struct berval *out);
void ab_sort_resp_encode(int result, const char *attr, struct berval *out);
void ab_vlv_resp_encode(ber_int_t pos, ber_int_t count, int result,
			struct berval *out);

/* Sorts entries by sr's keys (RFC 2891 §2: entries without a value of
 * the key sort last). */
void ab_sort_entries(struct entry **v, size_t n, const struct sort_req *sr);

/* The session's outstanding paged search (one at a time). */
struct paged_state {
	unsigned long cookie;	       /* the value last handed out */
	size_t offset;		       /* entries already sent */
	unsigned char fingerprint[32]; /* the request it belongs to */
};

void ab_paged_state_free(struct paged_state **p);

#endif
