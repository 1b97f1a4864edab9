/*
 * vcard.h - vCard 3.0 (RFC 2426) and 4.0 (RFC 6350) to and from entries,
 * mapped onto inetOrgPerson and Mozilla's attributes.
 */
#ifndef LDAPAB_VCARD_H
#define LDAPAB_VCARD_H

#include <stddef.h>

struct entry;
struct strbuf;

/*
 * Parses every BEGIN:VCARD..END:VCARD in text; calls fn(e, arg) with an
 * entry that has no DN yet (fn takes ownership; non-zero stops).  Returns
 * the number of cards or -1 with *err_r (allocated).
 */
int ab_vcard_parse(const char *text, size_t len,
		   int (*fn)(struct entry *e, void *arg), void *arg,
		   char **err_r);

/* Appends e as a vCard of version 3 or 4. */
void ab_vcard_write(const struct entry *e, int version, struct strbuf *out);

#endif
