/*
 * acl.h - the address-book access matrix (DESIGN.md, Address books):
 *
 *   book                  owner mailbox  manager of account  other mailbox
 *                                                             of account
 *   ou=<mailbox>,ou=ab    read/write     -                   -
 *   ou=<account>,ou=ab    (via account)  read/write          read
 *
 * The account identity has read/write on its account book.  Anyone else
 * sees nothing.  Authenticated users may read the containers (the suffix
 * and ou=ab entries); anonymous users see only the root DSE and the
 * subschema entry, which are not stored.
 */
#ifndef LDAPAB_ACL_H
#define LDAPAB_ACL_H

struct ldapab;
struct principal;

enum acl_right { ACL_NONE = 0, ACL_READ = 1, ACL_WRITE = 2 };

/* Where a storage key lies in the namespace. */
enum ab_acl_place {
	PLACE_OUTSIDE = 0, /* not under the suffix, or unknown branch */
	PLACE_CONTAINER,   /* the suffix entry or ou=ab */
	PLACE_BOOK,	   /* a book's own entry */
	PLACE_IN_BOOK,	   /* a contact (or anything) inside a book */
};

/*
 * Classifies key; for PLACE_BOOK and PLACE_IN_BOOK writes the book name
 * (lower case) to book (size bytes).
 */
enum ab_acl_place ab_acl_place(const struct ldapab *ab, const char *key,
			       char *book, size_t size);

/* who NULL = anonymous. */
enum acl_right ab_acl_book_right(const struct principal *who, const char *book);
enum acl_right ab_acl_key_right(const struct ldapab *ab,
				const struct principal *who, const char *key);

/* The books who can read: up to 2 names written to books[]; returns n. */
int ab_acl_readable_books(const struct principal *who, char books[][256]);

/* The storage key of a book (allocated). */
char *ab_acl_book_key(const struct ldapab *ab, const char *book);

#endif
