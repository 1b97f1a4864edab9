/*
 * provision.c - identities, books and the containers above them.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acl.h"
#include "auth.h"
#include "dn.h"
#include "entry.h"
#include "proto.h"
#include "provision.h"
#include "schema.h"
#include "session.h"
#include "store.h"
#include "strbuf.h"
#include "util.h"

static void add(struct entry *e, const char *name, const char *v)
{
	ab_entry_add_value(e, ab_schema_attr_findz(name), name, v, strlen(v));
}

static int put_if_missing(struct ldapab *ab, const char *dn, struct entry *e,
			  char **err_r)
{
	struct entry *old = NULL;
	char *key, *ndn;
	int rc;

	if (ab_dn_to_key(dn, strlen(dn), &key) < 0) {
		*err_r = ab_asprintf("%s: invalid DN", dn);
		return -1;
	}
	if (ab_dn_normalize(dn, strlen(dn), &ndn) < 0)
		ndn = xstrdup("");
	ab_entry_set_dn(e, NULL, ndn);
	rc = ab_store_get(ab->store, key, &old);
	ab_entry_free(&old);
	if (rc == 0) {
		add(e, "createTimestamp", "20260101000000Z");
		rc = ab_store_add(ab->store, key, NULL, e);
		rc = rc == 0 ? 1 : -1;
	}
	free(key);
	if (rc < 0)
		*err_r = ab_asprintf("%s: cannot store the entry", dn);
	return rc < 0 ? -1 : 0;
}

static int ensure_containers(struct ldapab *ab, char **err_r)
{
	struct entry *e;
	struct dn *dn;
	char *abdn;
	int rc;

	if (ab_dn_parse(ab->suffix, strlen(ab->suffix), &dn) < 0) {
		*err_r = ab_asprintf("%s: invalid suffix", ab->suffix);
		return -1;
	}
	e = ab_entry_new(ab->suffix, ab->suffix_ndn);
	add(e, "objectClass", "top");
	add(e, "objectClass", "organization");
	add(e, "objectClass", "extensibleObject");
	add(e, "o", dn->rdn[0].ava[0].value);
	if (dn->rdn[0].ava[0].at != ab_schema_attr_findz("o"))
		ab_entry_add_value(
		    e, dn->rdn[0].ava[0].at, dn->rdn[0].ava[0].type,
		    dn->rdn[0].ava[0].value, dn->rdn[0].ava[0].value_len);
	ab_dn_free(&dn);
	rc = put_if_missing(ab, ab->suffix, e, err_r);
	ab_entry_free(&e);
	if (rc < 0)
		return -1;
	abdn = ab_asprintf("ou=ab,%s", ab->suffix);
	e = ab_entry_new(abdn, "");
	add(e, "objectClass", "top");
	add(e, "objectClass", "organizationalUnit");
	add(e, "ou", "ab");
	add(e, "description", "Address books");
	rc = put_if_missing(ab, abdn, e, err_r);
	ab_entry_free(&e);
	free(abdn);
	return rc;
}

char *ab_book_dn(const struct ldapab *ab, const char *name)
{
	struct strbuf sb;

	strbuf_init(&sb);
	strbuf_adds(&sb, "ou=");
	ab_dn_escape_value(&sb, name, strlen(name));
	strbuf_printf(&sb, ",ou=ab,%s", ab->suffix);
	return ab_sb_take(&sb, NULL);
}

static int ensure_book(struct ldapab *ab, const char *name, char **err_r)
{
	char *dn = ab_book_dn(ab, name), *desc;
	struct entry *e;
	int rc;

	if (ensure_containers(ab, err_r) < 0) {
		free(dn);
		return -1;
	}
	e = ab_entry_new(dn, "");
	add(e, "objectClass", "top");
	add(e, "objectClass", "organizationalUnit");
	add(e, "ou", name);
	desc = ab_asprintf("Address book of %s", name);
	add(e, "description", desc);
	free(desc);
	rc = put_if_missing(ab, dn, e, err_r);
	ab_entry_free(&e);
	free(dn);
	return rc;
}

static int valid_name(const char *name, char **err_r)
{
	size_t n = strlen(name);

	if (n == 0 || n >= 200) {
		*err_r =
		    ab_asprintf("'%s': name must be 1-199 characters", name);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c <= ' ' || c >= 0x7f || strchr(",+\"\\<>;=", c)) {
			*err_r = ab_asprintf("'%s': invalid character in name",
					     name);
			return -1;
		}
	}
	return 0;
}

static void lower(char *dst, const char *src, size_t size)
{
	size_t i;

	for (i = 0; src[i] && i + 1 < size; i++)
		dst[i] = (char)tolower((unsigned char)src[i]);
	dst[i] = '\0';
}

static int put_principal(struct ldapab *ab, const char *name,
			 enum principal_kind kind, const char *account,
			 int manage, char **err_r)
{
	struct principal p;
	int rc;

	if (valid_name(name, err_r) < 0 ||
	    (account && valid_name(account, err_r) < 0))
		return -1;
	memset(&p, 0, sizeof(p));
	lower(p.name, name, sizeof(p.name));
	rc = ab_store_principal_get(ab->store, p.name, &p);
	if (rc < 0) {
		*err_r = ab_asprintf("%s: storage error", name);
		return -1;
	}
	lower(p.name, name, sizeof(p.name));
	p.kind = kind;
	lower(p.account, account ? account : name, sizeof(p.account));
	p.manage = manage;
	if (ab_store_principal_put(ab->store, &p) < 0) {
		*err_r = ab_asprintf("%s: cannot store the identity", name);
		return -1;
	}
	return ensure_book(ab, p.name, err_r);
}

int ab_provision_account(struct ldapab *ab, const char *account, char **err_r)
{
	return put_principal(ab, account, PRINCIPAL_ACCOUNT, NULL, 0, err_r);
}

int ab_provision_mailbox(struct ldapab *ab, const char *mailbox,
			 const char *account, int manage, char **err_r)
{
	if (account != NULL && account[0] != '\0' &&
	    ab_provision_account(ab, account, err_r) < 0)
		return -1;
	return put_principal(ab, mailbox, PRINCIPAL_MAILBOX, account, manage,
			     err_r);
}

int ab_provision_passwd(struct ldapab *ab, const char *name, const char *pw,
			char **err_r)
{
	struct principal p;
	char lname[256];

	lower(lname, name, sizeof(lname));
	if (ab_store_principal_get(ab->store, lname, &p) != 1) {
		*err_r = ab_asprintf("%s: no such mailbox or account", name);
		return -1;
	}
	if (ab_auth_hash_password(pw, strlen(pw), p.pwhash, sizeof(p.pwhash)) <
		0 ||
	    ab_store_principal_put(ab->store, &p) < 0) {
		*err_r = ab_asprintf("%s: cannot store the password", name);
		return -1;
	}
	return 0;
}

struct keylist {
	char **keys;
	size_t n;
};

static int collect_key(struct entry **e, const char *key, void *arg)
{
	struct keylist *kl = arg;

	(void)e;
	kl->keys = xrealloc(kl->keys, (kl->n + 1) * sizeof(*kl->keys));
	kl->keys[kl->n++] = xstrdup(key);
	return 0;
}

int ab_provision_remove(struct ldapab *ab, const char *name, char **err_r)
{
	struct keylist kl = {NULL, 0};
	char lname[256], *bk;
	int rc = 0;

	lower(lname, name, sizeof(lname));
	bk = ab_acl_book_key(ab, lname);
	if (ab_store_scan(ab->store, bk, LDAP_SCOPE_SUB_, collect_key, &kl) < 0)
		rc = -1;
	/* Deepest first: keys sort parents before children. */
	for (size_t i = kl.n; i > 0; i--) {
		if (rc == 0 && ab_store_delete(ab->store, kl.keys[i - 1]) != 0)
			rc = -1;
		free(kl.keys[i - 1]);
	}
	free(kl.keys);
	free(bk);
	if (ab_store_principal_del(ab->store, lname) < 0)
		rc = -1;
	if (rc < 0)
		*err_r = ab_asprintf("%s: cannot remove", name);
	return rc;
}

static int count_one(struct entry **e, const char *key, void *arg)
{
	(void)e;
	(void)key;
	(*(long *)arg)++;
	return 0;
}

long ab_book_count(struct ldapab *ab, const char *name)
{
	char *bk = ab_acl_book_key(ab, name);
	long n = 0;
	int rc = ab_store_scan(ab->store, bk, LDAP_SCOPE_SUB_, count_one, &n);

	free(bk);
	if (rc < 0)
		return -1;
	return n > 0 ? n - 1 : 0;
}
