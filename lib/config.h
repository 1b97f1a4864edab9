/*
 * config.h - the one configuration format of every Rookery daemon.
 *
 * One file describes a whole platform (etc/rookery.conf is the commented
 * sample).  Lines are "key = value"; '#' starts a comment at the start of a
 * line or after white space; sections are "[type]" or "[type name]":
 *
 *	[global]
 *	tls_cert = /etc/rookery/cert.pem
 *	[store ms1]
 *	data_dir = /var/lib/rookery/ms1
 *	listen = lmtp 127.0.0.1:2024
 *	listen = pop3 127.0.0.1:1110
 *	listen = pop3s 127.0.0.1:1995 tls
 *
 * A key may repeat (listen); config_get() returns the last value,
 * config_get_nth() walks them all.  Lookups in a section fall back to the
 * [global] section, so shared settings (TLS, user, log) are written once.
 * Values may be double-quoted to keep leading/trailing spaces or '#'.
 * Relative paths are kept as written; daemons resolve them against their
 * working directory.
 */
#ifndef ROOKERY_CONFIG_H
#define ROOKERY_CONFIG_H

#include <stddef.h>

struct config;
struct config_section;

/*
 * Reads path.  On success returns 0 and *cfg_r (free with config_free()).
 * On error returns -1 and *err_r, an allocated message naming the file and
 * line ("rookery.conf:12: missing '=' after key"); the caller frees it.
 */
int config_load(const char *path, struct config **cfg_r, char **err_r);
/* The same from a string (tests); name is used in error messages. */
int config_parse(const char *name, const char *text, struct config **cfg_r,
		 char **err_r);
void config_free(struct config **cfg);

/*
 * The section [type name] (name NULL: [type] without a name, or, for
 * lookups by type only, the first section of that type). NULL if absent.
 */
struct config_section *config_section(const struct config *cfg,
				      const char *type, const char *name);
/* Iterates sections of one type: pass prev = NULL first. */
struct config_section *config_next(const struct config *cfg,
				   const struct config_section *prev,
				   const char *type);
const char *config_section_type(const struct config_section *s);
const char *config_section_name(const struct config_section *s); /* or NULL */

/* Last value of key in s, else in [global], else def.  s may be NULL. */
const char *config_get(const struct config_section *s, const char *key,
		       const char *def);
/* The n-th (0-based) value of a repeated key in s only; NULL past the end. */
const char *config_get_nth(const struct config_section *s, const char *key,
			   unsigned n);

/*
 * Typed getters: return 0 and the value (def when the key is absent), or -1
 * with *err_r ("ms1: quota = 12Q: not a size") when the value is malformed.
 * Sizes take K/M/G suffixes (powers of 1024); durations s/m/h/d (default
 * seconds); booleans yes/no/true/false/on/off/1/0.
 */
int config_get_int(const struct config_section *s, const char *key,
		   long long def, long long *val_r, char **err_r);
int config_get_size(const struct config_section *s, const char *key,
		    unsigned long long def, unsigned long long *val_r,
		    char **err_r);
int config_get_duration(const struct config_section *s, const char *key,
			unsigned def_seconds, unsigned *seconds_r,
			char **err_r);
int config_get_bool(const struct config_section *s, const char *key, int def,
		    int *val_r, char **err_r);

#endif
