/*
 * entry.h - an LDAP entry in memory, and its stored form.
 *
 * An entry owns all its strings.  Attribute values are kept as given
 * (NUL-terminated for convenience); their prepared forms for matching
 * are computed on first use and cached in the attribute.
 *
 * An entry read from the store is "packed": the entry, its attributes,
 * value arrays and strings are one allocation.  The functions below that
 * change an entry unpack it first, so callers never see the difference,
 * but they must not free or replace the strings themselves (use
 * ab_entry_set_dn()), and a struct attr pointer is only good until the
 * next change, as with any change that may reallocate the attributes.
 */
#ifndef LDAPAB_ENTRY_H
#define LDAPAB_ENTRY_H

#include <stddef.h>
#include <lber.h>

struct strbuf;
struct schema_attr;

struct attr {
	char *name;			/* canonical name, or as sent */
	const struct schema_attr *type; /* NULL when unknown */
	size_t nvals;
	struct berval *vals;
	struct berval *norm;	/* prepared values, or NULL */
	unsigned char *norm_ok; /* per value: 1 when norm is valid */
	char *norm_data;	/* the prepared bytes, or NULL */
};

struct entry {
	char *dn;  /* the DN as written by its creator */
	char *ndn; /* normalized DN (dn.h) */
	size_t nattrs;
	struct attr *attrs;
	int packed; /* one allocation (see above) */
};

struct entry *ab_entry_new(const char *dn, const char *ndn);
void ab_entry_free(struct entry **e);
struct entry *ab_entry_dup(const struct entry *e);

/* The attribute of type t (by schema identity, or name when unknown). */
struct attr *ab_entry_attr(const struct entry *e, const struct schema_attr *t,
			   const char *name);
struct attr *ab_entry_attr_get(const struct entry *e, const char *name);
/* Creates the attribute if needed; appends the value (copied). */
void ab_entry_add_value(struct entry *e, const struct schema_attr *t,
			const char *name, const char *v, size_t len);
/* Removes the whole attribute; returns 1 if it was there. */
int ab_entry_remove_attr(struct entry *e, struct attr *a);
/* Removes value i of a (drops a when it becomes empty). */
void ab_entry_remove_value(struct entry *e, struct attr *a, size_t i);
/* Replaces the DN and / or the normalized DN, taking ownership of the
 * new strings (NULL: unchanged). */
void ab_entry_set_dn(struct entry *e, char *dn, char *ndn);
/* Replaces the single value of a (or creates it). */
void ab_entry_set_value(struct entry *e, const struct schema_attr *t,
			const char *name, const char *v);

/*
 * The index of the value of a equal to v under a's equality rule, -1 when
 * absent, -2 when v is not valid for the syntax (Undefined).
 */
int ab_attr_find_value(struct attr *a, const char *v, size_t len);
/* The prepared value i of a, or NULL when invalid for the syntax. */
const struct berval *ab_attr_norm(struct attr *a, size_t i);

/* Appends the stored form of e to out; parses it back (NULL if corrupt). */
void ab_entry_encode(const struct entry *e, struct strbuf *out);
struct entry *ab_entry_decode(const char *buf, size_t len);

#endif
