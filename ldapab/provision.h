/*
 * provision.h - creating and removing the identities and books that the
 * LDAP protocol itself cannot create (used by `rookery ab` and tests).
 */
#ifndef LDAPAB_PROVISION_H
#define LDAPAB_PROVISION_H

#include <stddef.h>

struct ldapab;

/*
 * Creates (or updates) an account identity and its book
 * ou=<account>,ou=ab,<suffix>, and the containers above it.  Returns 0,
 * or -1 with *err_r (allocated).
 */
int ab_provision_account(struct ldapab *ab, const char *account, char **err_r);
/* The same for a mailbox of account (manage: full management access). */
int ab_provision_mailbox(struct ldapab *ab, const char *mailbox,
			 const char *account, int manage, char **err_r);
/* Sets name's LDAP password.  0, or -1 with *err_r. */
int ab_provision_passwd(struct ldapab *ab, const char *name, const char *pw,
			char **err_r);
/* Removes an identity and (with its entries) its book.  0 or -1. */
int ab_provision_remove(struct ldapab *ab, const char *name, char **err_r);
/* Entries in name's book (not counting the book entry); -1 on error. */
long ab_book_count(struct ldapab *ab, const char *name);
/* The DN of name's book (allocated). */
char *ab_book_dn(const struct ldapab *ab, const char *name);

#endif
