/*
 * dn.h - distinguished names (RFC 4514 string form).
 *
 * Three forms appear in ldapab:
 *  - the DN as a client wrote it (kept in the entry, returned in results);
 *  - the normalized DN: types as canonical lower-case names, values
 *    prepared by the type's equality rule and re-escaped, so two DNs that
 *    match under distinguishedNameMatch are equal strings;
 *  - the storage key: the normalized RDNs in reverse order separated by
 *    DN_KEY_SEP, so that every entry below a DN shares that DN's key plus
 *    DN_KEY_SEP as a prefix (a book is one key range in the B-tree).
 */
#ifndef LDAPAB_DN_H
#define LDAPAB_DN_H

#include <stddef.h>

#define DN_KEY_SEP '\x01'
#define DN_MAX_LEN 4096
#define DN_MAX_RDNS 32

struct schema_attr;

struct dn_ava {
	char *type;		      /* as written */
	const struct schema_attr *at; /* NULL when unknown */
	char *value;		      /* unescaped */
	size_t value_len;
};

struct dn_rdn {
	size_t n;
	struct dn_ava *ava;
};

struct dn {
	size_t n;	    /* 0 for the root DSE's empty DN */
	struct dn_rdn *rdn; /* rdn[0] is the leftmost (the entry's own) */
};

/* Parses s; returns 0 and *dn_r, or -1 when s is not a valid DN. */
int ab_dn_parse(const char *s, size_t len, struct dn **dn_r);
void ab_dn_free(struct dn **dn);

/* The normalized string of rdn[from..n) (allocated; "" for none). */
char *ab_dn_norm(const struct dn *dn, size_t from);
/* The storage key of rdn[from..n) (allocated). */
char *ab_dn_key(const struct dn *dn, size_t from);
/* The normalized string of rdn i alone. */
char *ab_dn_rdn_norm(const struct dn *dn, size_t i);

/* Shortcut: parse and normalize.  0 and *ndn_r, or -1 when invalid. */
int ab_dn_normalize(const char *s, size_t len, char **ndn_r);
/* Parse and produce the key.  0 and *key_r, or -1 when invalid. */
int ab_dn_to_key(const char *s, size_t len, char **key_r);

/* Appends value v escaped per RFC 4514 §2.4 to a C string buffer. */
struct strbuf;
void ab_dn_escape_value(struct strbuf *out, const char *v, size_t len);

#endif
