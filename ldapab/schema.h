/*
 * schema.h - attribute types, object classes and matching rules that
 * ldapab knows (RFC 4512, 4517, 4519, 4524, 2798 and Mozilla's address
 * book schema), schema checking for Add/Modify, and the subschema entry.
 */
#ifndef LDAPAB_SCHEMA_H
#define LDAPAB_SCHEMA_H

#include <stddef.h>

struct strbuf;
struct entry;

/* How values of an attribute compare (RFC 4517 §4.2). */
enum match_kind {
	MATCH_NONE = 0,
	MATCH_CASE_IGNORE, /* caseIgnore / caseIgnoreIA5 / list */
	MATCH_CASE_EXACT,  /* caseExact / caseExactIA5 */
	MATCH_TEL,	   /* telephoneNumberMatch */
	MATCH_OID,	   /* objectIdentifierMatch (names fold) */
	MATCH_DN,	   /* distinguishedNameMatch */
	MATCH_OCTET,	   /* octetStringMatch */
	MATCH_INT,	   /* integerMatch */
	MATCH_TIME,	   /* generalizedTimeMatch */
	MATCH_BOOL,	   /* booleanMatch */
};

enum {
	AT_SINGLE = 1 << 0,	 /* SINGLE-VALUE */
	AT_OPERATIONAL = 1 << 1, /* USAGE directoryOperation */
	AT_NO_USER_MOD = 1 << 2, /* NO-USER-MODIFICATION */
	AT_INDEXED = 1 << 3,	 /* equality and n-gram indexes */
	AT_BINARY = 1 << 4,	 /* values are not text */
	AT_HIDDEN = 1 << 5,	 /* never returned (userPassword) */
};

struct schema_attr {
	const char *oid;
	const char *names[3]; /* names[0] is canonical */
	const char *sup;      /* NULL or the canonical name */
	const char *syntax;   /* syntax OID, with {len} if any */
	enum match_kind match;
	int ordering; /* has an ORDERING rule */
	int substr;   /* has a SUBSTR rule */
	unsigned flags;
	const char *desc;
};

enum oc_kind { OC_ABSTRACT, OC_STRUCTURAL, OC_AUXILIARY };

struct schema_class {
	const char *oid;
	const char *name;
	const char *sup;
	enum oc_kind kind;
	const char *const *must; /* NULL-terminated */
	const char *const *may;
};

/* Looks an attribute description up by name or OID, ignoring case and
 * any ";options".  NULL when unknown. */
const struct schema_attr *ab_schema_attr_find(const char *name, size_t len);
const struct schema_attr *ab_schema_attr_findz(const char *name);
const struct schema_class *ab_schema_class_find(const char *name, size_t len);

/* Iterates the tables (for the subschema entry and the docs). */
const struct schema_attr *ab_schema_attr_at(size_t i);
const struct schema_class *ab_schema_class_at(size_t i);

/*
 * Prepares value v of attribute a for matching: appends to out the form
 * that compares equal byte for byte.  Returns 0, or -1 when v is not a
 * valid value of a's syntax (the match is then Undefined).
 */
int ab_schema_normalize(const struct schema_attr *a, const char *v, size_t len,
			struct strbuf *out);

/*
 * Compares two normalized values with a's ordering rule; returns <0, 0 or
 * >0.  Integers compare numerically, everything else as bytes.
 */
int ab_schema_order(const struct schema_attr *a, const char *x, size_t xl,
		    const char *y, size_t yl);

/* Checks that v is a valid value for a (syntax).  0 or -1. */
int ab_schema_check_syntax(const struct schema_attr *a, const char *v,
			   size_t len);

/*
 * Checks e against the schema (RFC 4512 §3.3, §4.1): a known structural
 * object class, every MUST present, every attribute allowed by some class
 * (or extensibleObject), SINGLE-VALUE respected, values valid for their
 * syntax.  Returns 0 or an LDAP result code with *diag_r (static text, or
 * written into diag of size diag_size).
 */
int ab_schema_check_entry(const struct entry *e, char *diag, size_t diag_size);

/*
 * Adds the superclasses of e's object classes ("top", "person" for an
 * inetOrgPerson) as values of objectClass, as directory servers do, so
 * that (objectClass=person) finds every person.
 */
void ab_schema_expand_classes(struct entry *e);

/* Appends the RFC 4512 description of a and c. */
void ab_schema_attr_describe(const struct schema_attr *a, struct strbuf *out);
void ab_schema_class_describe(const struct schema_class *c, struct strbuf *out);
/* The values of ldapSyntaxes and matchingRules, one per call (i from 0;
 * NULL past the end). */
const char *ab_schema_syntax_describe(size_t i);
const char *ab_schema_rule_describe(size_t i);

#endif
