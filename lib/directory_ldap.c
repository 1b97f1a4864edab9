/*
 * directory_ldap.c - the LDAP user directory (directory.h) through
 * OpenLDAP's libldap.
 *
 * Settings (section, then [global]):
 *   directory_ldap_uri            "ldap://a:389 ldap://b:389": tried in
 *                                 order; the one that works is kept until
 *                                 it fails, then the next is tried
 *   directory_ldap_base           search base (required)
 *   directory_ldap_bind_dn        simple bind (optional: anonymous)
 *   directory_ldap_bind_password  or directory_ldap_bind_password_file
 *   directory_ldap_filter         default "(mail=%s)"; %s is the user,
 *                                 escaped per RFC 4515 section 3
 *   directory_ldap_store_attr     default "mailHost" (misc.schema's
 *                                 inetLocalMailRecipient)
 *   directory_ldap_timeout        seconds per operation, default 2
 *
 * Lookups are synchronous with that timeout: the mux caches results
 * (mux/route.c), so the event loop waits for LDAP only on a cache miss.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <ldap.h>

#include "config.h"
#include "directory.h"
#include "directory_int.h"
#include "log.h"
#include "strbuf.h"

struct dir_ldap {
	char **uris;		/* NULL-terminated */
	size_t n_uris;
	size_t current;		/* index of the URI in use */
	LDAP *ld;		/* bound handle, or NULL */
	char *base;
	char *bind_dn;
	char *bind_pw;
	char *filter;
	char *attr;
	unsigned timeout;
};

static char *read_secret_file(const char *path, char **err_r)
{
	FILE *f = fopen(path, "r");
	char buf[1024];
	size_t n;

	if (f == NULL) {
		*err_r = xasprintf("%s: cannot read", path);
		return NULL;
	}
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	return xstrdup(buf);
}

int dir_ldap_new(const struct config_section *sec, struct dir_ldap **ldap_r,
		 char **err_r)
{
	const char *uris = config_get(sec, "directory_ldap_uri", NULL);
	const char *pwfile;
	struct dir_ldap *l;
	unsigned t;

	*ldap_r = NULL;
	if (uris == NULL || uris[0] == '\0')
		return 0;
	l = xcalloc(1, sizeof(*l));
	for (const char *p = uris; *p != '\0';) {
		size_t n;

		p += strspn(p, " \t,");
		n = strcspn(p, " \t,");
		if (n == 0)
			break;
		l->uris = xrealloc(l->uris, (l->n_uris + 2) * sizeof(char *));
		l->uris[l->n_uris++] = xstrndup(p, n);
		l->uris[l->n_uris] = NULL;
		p += n;
	}
	l->base = xstrdup(config_get(sec, "directory_ldap_base", ""));
	l->filter = xstrdup(config_get(sec, "directory_ldap_filter",
				       "(mail=%s)"));
	l->attr = xstrdup(config_get(sec, "directory_ldap_store_attr",
				     "mailHost"));
	if (config_get(sec, "directory_ldap_bind_dn", NULL) != NULL)
		l->bind_dn = xstrdup(config_get(sec, "directory_ldap_bind_dn",
						""));
	pwfile = config_get(sec, "directory_ldap_bind_password_file", NULL);
	if (pwfile != NULL) {
		l->bind_pw = read_secret_file(pwfile, err_r);
		if (l->bind_pw == NULL) {
			dir_ldap_free(&l);
			return -1;
		}
	} else if (config_get(sec, "directory_ldap_bind_password", NULL)) {
		l->bind_pw = xstrdup(config_get(
		    sec, "directory_ldap_bind_password", ""));
	}
	if (config_get_duration(sec, "directory_ldap_timeout", 2, &t, err_r) <
	    0) {
		dir_ldap_free(&l);
		return -1;
	}
	l->timeout = t > 0 ? t : 2;
	if (l->n_uris == 0 || l->base[0] == '\0' ||
	    strstr(l->filter, "%s") == NULL) {
		*err_r = xstrdup("directory_ldap_uri needs directory_ldap_base "
				 "and a directory_ldap_filter with %s");
		dir_ldap_free(&l);
		return -1;
	}
	*ldap_r = l;
	return 0;
}

static void ldap_drop(struct dir_ldap *l)
{
	if (l->ld != NULL)
		ldap_unbind_ext_s(l->ld, NULL, NULL);
	l->ld = NULL;
}

void dir_ldap_free(struct dir_ldap **lp)
{
	struct dir_ldap *l = *lp;

	if (l == NULL)
		return;
	ldap_drop(l);
	for (size_t i = 0; i < l->n_uris; i++)
		free(l->uris[i]);
	free(l->uris);
	free(l->base);
	free(l->bind_dn);
	if (l->bind_pw != NULL)
		explicit_bzero(l->bind_pw, strlen(l->bind_pw));
	free(l->bind_pw);
	free(l->filter);
	free(l->attr);
	free(l);
	*lp = NULL;
}

/* Connects and binds to uris[i].  0 or -1 (logged). */
static int ldap_connect_one(struct dir_ldap *l, size_t i)
{
	struct timeval tv = {(time_t)l->timeout, 0};
	struct berval cred = {0, NULL};
	int version = LDAP_VERSION3, r;
	LDAP *ld = NULL;

	r = ldap_initialize(&ld, l->uris[i]);
	if (r == LDAP_SUCCESS) {
		ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &version);
		ldap_set_option(ld, LDAP_OPT_NETWORK_TIMEOUT, &tv);
		ldap_set_option(ld, LDAP_OPT_TIMEOUT, &tv);
		ldap_set_option(ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF);
		if (l->bind_pw != NULL) {
			cred.bv_val = l->bind_pw;
			cred.bv_len = strlen(l->bind_pw);
		}
		r = ldap_sasl_bind_s(ld, l->bind_dn ? l->bind_dn : "",
				     LDAP_SASL_SIMPLE, &cred, NULL, NULL,
				     NULL);
	}
	if (r != LDAP_SUCCESS) {
		log_warnx("event=directory_ldap_connect_failed uri=%s "
			  "error=\"%s\"", l->uris[i], ldap_err2string(r));
		if (ld != NULL)
			ldap_unbind_ext_s(ld, NULL, NULL);
		return -1;
	}
	l->ld = ld;
	l->current = i;
	log_info("event=directory_ldap_connected uri=%s", l->uris[i]);
	return 0;
}

/* Searches once on the bound handle: 0 found, 1 not, -1 LDAP failure
 * (*fatal_r: the server is unusable, try the next one). */
static int ldap_search_user(struct dir_ldap *l, const char *user,
			    char *store_r, int *fatal_r)
{
	struct timeval tv = {(time_t)l->timeout, 0};
	struct berval in = {strlen(user), (char *)user}, esc = {0, NULL};
	char *attrs[2] = {l->attr, NULL};
	LDAPMessage *res = NULL, *e;
	struct berval **vals;
	struct strbuf f;
	int r, found = 1;

	*fatal_r = 0;
	if (ldap_bv2escaped_filter_value(&in, &esc) != 0)
		return -1;
	strbuf_init(&f);
	for (const char *p = l->filter; *p != '\0'; p++) {
		if (p[0] == '%' && p[1] == 's') {
			strbuf_add(&f, esc.bv_val, esc.bv_len);
			p++;
		} else {
			strbuf_addc(&f, *p);
		}
	}
	ber_memfree(esc.bv_val);
	r = ldap_search_ext_s(l->ld, l->base, LDAP_SCOPE_SUBTREE, f.data,
			      attrs, 0, NULL, NULL, &tv, 2, &res);
	strbuf_free(&f);
	if (r != LDAP_SUCCESS && r != LDAP_SIZELIMIT_EXCEEDED) {
		*fatal_r = r == LDAP_SERVER_DOWN || r == LDAP_TIMEOUT ||
			   r == LDAP_CONNECT_ERROR || r == LDAP_UNAVAILABLE ||
			   r == LDAP_BUSY;
		log_warnx("event=directory_ldap_search_failed uri=%s "
			  "error=\"%s\"", l->uris[l->current],
			  ldap_err2string(r));
		ldap_msgfree(res);
		return -1;
	}
	e = ldap_first_entry(l->ld, res);
	if (e != NULL) {
		vals = ldap_get_values_len(l->ld, e, l->attr);
		if (vals != NULL && vals[0] != NULL &&
		    vals[0]->bv_len < DIR_NAME_MAX) {
			memcpy(store_r, vals[0]->bv_val, vals[0]->bv_len);
			store_r[vals[0]->bv_len] = '\0';
			found = dir_store_name_ok(store_r) == 0 ? 0 : 1;
		}
		ldap_value_free_len(vals);
	}
	ldap_msgfree(res);
	return found;
}

int dir_ldap_user_store(struct dir_ldap *l, const char *user, char *store_r,
			char **err_r)
{
	/* Each URI at most once per lookup, starting with the one in use. */
	for (size_t tries = 0; tries < l->n_uris; tries++) {
		size_t i = (l->current + tries) % l->n_uris;
		int fatal = 0, r;

		if (l->ld == NULL && ldap_connect_one(l, i) < 0)
			continue;
		r = ldap_search_user(l, user, store_r, &fatal);
		if (r >= 0)
			return r;
		ldap_drop(l);
		/* A server that is down is skipped until it fails again
		 * elsewhere; one that answered with an error (no such base)
		 * is not asked twice in one lookup. */
		l->current = (i + 1) % l->n_uris;
		if (!fatal)
			break;
	}
	*err_r = xstrdup("no LDAP directory server answered");
	return -1;
}
