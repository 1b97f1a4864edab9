/*
 * acl.c - who may read and write which book.
 */
#include <stdio.h>
#include <string.h>

#include "acl.h"
#include "dn.h"
#include "session.h"
#include "store.h"
#include "strbuf.h"
#include "util.h"

enum ab_acl_place ab_acl_place(const struct ldapab *ab, const char *key,
			       char *book, size_t size)
{
	size_t ablen = strlen(ab->ab_key);
	const char *p, *sep;
	size_t n, j = 0;

	if (strcmp(key, ab->suffix_key) == 0 || strcmp(key, ab->ab_key) == 0)
		return PLACE_CONTAINER;
	if (strncmp(key, ab->ab_key, ablen) != 0 || key[ablen] != DN_KEY_SEP)
		return PLACE_OUTSIDE;
	p = key + ablen + 1;
	if (strncmp(p, "ou=", 3) != 0)
		return PLACE_OUTSIDE;
	p += 3;
	sep = strchr(p, DN_KEY_SEP);
	n = sep ? (size_t)(sep - p) : strlen(p);
	/* Undo the RFC 4514 escaping of the normalized value. */
	for (size_t i = 0; i < n && j + 1 < size; i++) {
		if (p[i] == '\\' && i + 1 < n)
			i++;
		book[j++] = p[i];
	}
	book[j] = '\0';
	if (j == 0)
		return PLACE_OUTSIDE;
	return sep ? PLACE_IN_BOOK : PLACE_BOOK;
}

enum acl_right ab_acl_book_right(const struct principal *who, const char *book)
{
	if (who == NULL)
		return ACL_NONE;
	if (who->kind == PRINCIPAL_MAILBOX) {
		if (strcmp(who->name, book) == 0)
			return ACL_WRITE;
		if (who->account[0] && strcmp(who->account, book) == 0)
			return who->manage ? ACL_WRITE : ACL_READ;
		return ACL_NONE;
	}
	if (who->kind == PRINCIPAL_ACCOUNT && strcmp(who->name, book) == 0)
		return ACL_WRITE;
	return ACL_NONE;
}

enum acl_right ab_acl_key_right(const struct ldapab *ab,
				const struct principal *who, const char *key)
{
	char book[256];

	switch (ab_acl_place(ab, key, book, sizeof(book))) {
	case PLACE_CONTAINER:
		return who ? ACL_READ : ACL_NONE;
	case PLACE_BOOK:
	case PLACE_IN_BOOK:
		return ab_acl_book_right(who, book);
	case PLACE_OUTSIDE:
		break;
	}
	return ACL_NONE;
}

int ab_acl_readable_books(const struct principal *who, char books[][256])
{
	int n = 0;

	if (who == NULL)
		return 0;
	snprintf(books[n++], 256, "%s", who->name);
	if (who->kind == PRINCIPAL_MAILBOX && who->account[0])
		snprintf(books[n++], 256, "%s", who->account);
	return n;
}

char *ab_acl_book_key(const struct ldapab *ab, const char *book)
{
	struct strbuf sb;

	strbuf_init(&sb);
	strbuf_printf(&sb, "%s%cou=", ab->ab_key, DN_KEY_SEP);
	ab_dn_escape_value(&sb, book, strlen(book));
	return ab_sb_take(&sb, NULL);
}
