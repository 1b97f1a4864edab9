/*
 * filter.h - search filters (RFC 4511 §4.5.1.7): decoding from BER,
 * parsing from the RFC 4515 string form (tools and tests), evaluation
 * against an entry with three-valued logic, and printing for logs.
 */
#ifndef LDAPAB_FILTER_H
#define LDAPAB_FILTER_H

#include <stddef.h>
#include <lber.h>

struct ber_dec;
struct entry;
struct strbuf;
struct schema_attr;

#define FILTER_MAX_DEPTH 64   /* nesting beyond this is refused */
#define FILTER_MAX_NODES 4096 /* so is a filter with more items */

enum filter_result { FILTER_FALSE = 0, FILTER_TRUE = 1, FILTER_UNDEFINED = 2 };

struct filter {
	unsigned tag; /* enum ldap_filter_tag */
	/* and/or: kids; not: kids[0] */
	struct filter **kids;
	size_t nkids;
	/* item filters */
	char *attr;		      /* attribute description, or NULL */
	const struct schema_attr *at; /* NULL when unknown */
	struct berval value;	      /* eq/ge/le/approx/ext (allocated) */
	/* substrings */
	struct berval initial, final; /* bv_val NULL when absent */
	struct berval *any;
	size_t nany;
	/* extensible */
	char *rule;
	int dn_attrs;
	/* The assertion prepared once for matching (ab_filter_prepare):
	 * eq/ge/le: the value normalized for f->at's rule; substrings: the
	 * pieces prepared as substring pieces.  *_ok is 0 when the assertion
	 * is not valid for the syntax (the item is Undefined). */
	int prepared;
	int nvalue_ok, pieces_ok;
	struct berval nvalue;
	struct berval pinitial, pfinal, *pany;
};

/*
 * Decodes one Filter at the decoder's position.  Returns 0 and *f_r, or -1
 * with *err_r (static text) when the encoding is malformed, nested deeper
 * than FILTER_MAX_DEPTH or larger than FILTER_MAX_NODES.
 */
int ab_filter_decode(struct ber_dec *d, struct filter **f_r,
		     const char **err_r);

/* Parses the RFC 4515 string form ("(&(cn=a*)(mail=*))"); 0 or -1. */
int ab_filter_parse(const char *s, struct filter **f_r, const char **err_r);

void ab_filter_free(struct filter **f);

/* Prepares the assertions of f and its operands for ab_filter_match()
 * (done by ab_filter_decode() and ab_filter_parse(); a filter built
 * otherwise is matched without it, only more slowly). */
void ab_filter_prepare(struct filter *f);

/* Evaluates f against e. */
enum filter_result ab_filter_match(const struct filter *f, struct entry *e);

/* Appends the RFC 4515 string form of f (for logs). */
void ab_filter_print(const struct filter *f, struct strbuf *out);

/* The attribute and value of a top-level or AND-ed item that an index
 * can answer; used by the store's candidate selection. */

#endif
