/*
 * ldif.h - LDIF (RFC 2849) content records to and from entries, for
 * `rookery ab import/export` (Thunderbird exports this format).
 */
#ifndef LDAPAB_LDIF_H
#define LDAPAB_LDIF_H

#include <stddef.h>

struct entry;
struct strbuf;

/*
 * Parses text; calls fn(e, arg) for every record (fn takes ownership of
 * e; a non-zero return stops).  Change records other than "add" are
 * skipped.  Returns the number of records, or -1 with *err_r ("line 12:
 * ...", allocated).
 */
int ab_ldif_parse(const char *text, size_t len,
		  int (*fn)(struct entry *e, void *arg), void *arg,
		  char **err_r);

/* Appends e as one LDIF record (user attributes only), blank line after. */
void ab_ldif_write(const struct entry *e, struct strbuf *out);

#endif
