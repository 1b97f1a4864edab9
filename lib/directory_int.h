/*
 * directory_int.h - what directory.c and directory_ldap.c share.  Private
 * to lib/directory*.c; everyone else uses directory.h.
 */
#ifndef ROOKERY_DIRECTORY_INT_H
#define ROOKERY_DIRECTORY_INT_H

struct config_section;
struct dir_ldap;

/* Reads the directory_ldap_* settings; *ldap_r stays NULL when no URI is
 * configured.  0 or -1 with *err_r. */
int dir_ldap_new(const struct config_section *sec, struct dir_ldap **ldap_r,
		 char **err_r);
void dir_ldap_free(struct dir_ldap **ldap);
/* user -> store name (DIR_NAME_MAX bytes): 0 found, 1 not, -1 error. */
int dir_ldap_user_store(struct dir_ldap *ldap, const char *user,
			char *store_r, char **err_r);

#endif
