/*
 * store_config.c - the [store NAME] section into struct store
 * (store_config.h lists the keys).
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "lmtp.h"
#include "mailstore.h"
#include "store.h"
#include "store_config.h"
#include "strbuf.h"

#define STORE_DEFAULT_MAX_MESSAGE (50ULL * 1024 * 1024)

static char *store_default_hostname(void)
{
	char buf[HOST_NAME_MAX + 1];

	if (gethostname(buf, sizeof(buf)) < 0 || buf[0] == '\0')
		return xstrdup("localhost");
	buf[sizeof(buf) - 1] = '\0';
	return xstrdup(buf);
}

static int store_config_uint(const struct config_section *sec, const char *key,
			     long long def, long long max, unsigned *val_r,
			     char **err_r)
{
	long long v;

	if (config_get_int(sec, key, def, &v, err_r) < 0)
		return -1;
	if (v < 0 || v > max) {
		*err_r =
		    xasprintf("%s = %lld: out of range (0..%lld)", key, v, max);
		return -1;
	}
	*val_r = (unsigned)v;
	return 0;
}

int store_config_mstore_params(const struct config_section *sec,
			       struct mstore_params *p, char **err_r)
{
	unsigned long long q;
	long long n;

	memset(p, 0, sizeof(*p));
	if (store_config_uint(sec, "cache_mb", 256, 65536, &p->cache_mb, err_r) <
		0 ||
	    store_config_uint(sec, "fsync_threads", 0, 64, &p->fsync_threads,
			      err_r) < 0)
		return -1;
	if (store_config_uint(sec, "max_mailboxes", 10000, 10000000,
			      &p->max_mailboxes, err_r) < 0)
		return -1;
	{
		unsigned keep;

		if (config_get_duration(sec, "changelog_keep", 7 * 86400, &keep,
					err_r) < 0)
			return -1;
		p->changelog_keep_secs = keep;
	}
	if (config_get_size(sec, "default_quota", 0, &q, err_r) < 0)
		return -1;
	p->default_quota_bytes = q;
	if (config_get_int(sec, "default_quota_messages", 0, &n, err_r) < 0)
		return -1;
	if (n < 0) {
		*err_r =
		    xstrdup("default_quota_messages: must not be negative");
		return -1;
	}
	p->default_quota_messages = (uint64_t)n;
	return 0;
}

static int store_config_role(struct store *st, char **err_r)
{
	const char *role = config_get(st->sec, "role", "primary");

	if (strcmp(role, "primary") == 0) {
		st->role = STORE_PRIMARY;
	} else if (strcmp(role, "replica") == 0) {
		st->role = STORE_REPLICA;
	} else {
		*err_r = xasprintf("store %s: role = %s: expected primary or "
				   "replica",
				   st->name, role);
		return -1;
	}
	return 0;
}

int store_config_load(struct store *st, struct config *cfg, const char *name,
		      char **err_r)
{
	unsigned long long size;
	int b;

	st->cfg = cfg;
	st->name = name;
	st->sec = config_section(cfg, "store", name);
	if (st->sec == NULL) {
		*err_r = xasprintf("no [store %s] section in the configuration",
				   name);
		return -1;
	}
	st->data_dir = config_get(st->sec, "data_dir", NULL);
	if (st->data_dir == NULL || *st->data_dir == '\0') {
		*err_r = xasprintf("store %s: data_dir is not set", name);
		return -1;
	}
	if (store_config_role(st, err_r) < 0)
		return -1;
	if (config_get(st->sec, "hostname", NULL) != NULL)
		st->hostname = xstrdup(config_get(st->sec, "hostname", NULL));
	else
		st->hostname = store_default_hostname();
	if (config_get_size(st->sec, "max_message_size",
			    STORE_DEFAULT_MAX_MESSAGE, &size, err_r) < 0)
		return -1;
	st->max_message_size = size;
	if (config_get_bool(st->sec, "quota_tempfail", 0, &b, err_r) < 0)
		return -1;
	st->quota_tempfail = b;
	if (config_get_bool(st->sec, "allow_plaintext", 0, &b, err_r) < 0)
		return -1;
	st->allow_plaintext = b;
	if (store_config_uint(st->sec, "auth_fail_delay_ms", 1000, 600000,
			      &st->auth_fail_delay_ms, err_r) < 0 ||
	    store_config_uint(st->sec, "lmtp_max_recipients",
			      LMTP_DEFAULT_MAX_RCPT, 100000, &st->lmtp_max_rcpt,
			      err_r) < 0)
		return -1;
	if (config_get_duration(st->sec, "idle_timeout", 0, &st->idle_timeout,
				err_r) < 0)
		return -1;
	if (st->lmtp_max_rcpt == 0)
		st->lmtp_max_rcpt = LMTP_DEFAULT_MAX_RCPT;
	return 0;
}

void store_config_clear(struct store *st)
{
	free(st->hostname);
	st->hostname = NULL;
}
