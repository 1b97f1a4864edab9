/*
 * mux_config.c - the [mux] section (falling back to [global]) into
 * struct mux_config.  Every key is listed in docs/mux.md.
 */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "strbuf.h"
#include "mux/mux.h"
#include "mux/shared.h"
#include "sieve/sieve.h"

static char *read_password_file(const char *path, char **err_r)
{
	FILE *f = fopen(path, "r");
	char buf[512];
	size_t n;

	if (f == NULL) {
		*err_r = xasprintf("proxy_password_file = %s: cannot read",
				   path);
		return NULL;
	}
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	return xstrdup(buf);
}

static int get_uint(const struct config_section *s, const char *key,
		    long long def, unsigned *v, char **err_r)
{
	long long x;

	if (config_get_int(s, key, def, &x, err_r) < 0)
		return -1;
	if (x < 0 || x > 100000000) {
		*err_r = xasprintf("%s: out of range", key);
		return -1;
	}
	*v = (unsigned)x;
	return 0;
}

/* "workers": a number, or "auto" for the CPUs this process may use. */
static int get_workers(const struct config_section *s, unsigned *v,
		       char **err_r)
{
	const char *w = config_get(s, "workers", "1");
	cpu_set_t set;
	long n;

	if (strcmp(w, "auto") == 0) {
		if (sched_getaffinity(0, sizeof(set), &set) == 0)
			n = CPU_COUNT(&set);
		else
			n = sysconf(_SC_NPROCESSORS_ONLN);
		if (n < 1)
			n = 1;
		*v = n > MUX_MAX_WORKERS ? MUX_MAX_WORKERS : (unsigned)n;
		return 0;
	}
	if (get_uint(s, "workers", 1, v, err_r) < 0)
		return -1;
	if (*v < 1 || *v > MUX_MAX_WORKERS) {
		*err_r = xasprintf("workers = %s: expected auto or 1 to %d", w,
				   MUX_MAX_WORKERS);
		return -1;
	}
	return 0;
}

static int get_secs(const struct config_section *s, const char *key,
		    unsigned def, unsigned *v, char **err_r)
{
	return config_get_duration(s, key, def, v, err_r);
}

int mux_config_load(struct mux *m, char **err_r)
{
	const struct config_section *s = m->sec;
	struct mux_config *cf = &m->conf;
	const char *pwfile;

	memset(cf, 0, sizeof(*cf));
	cf->hostname = config_get(s, "hostname", "localhost");
	cf->proxy_identity = config_get(s, "proxy_identity", NULL);
	pwfile = config_get(s, "proxy_password_file", NULL);
	if (pwfile != NULL) {
		cf->proxy_password = read_password_file(pwfile, err_r);
		if (cf->proxy_password == NULL)
			return -1;
	} else if (config_get(s, "proxy_password", NULL) != NULL) {
		cf->proxy_password = xstrdup(config_get(s, "proxy_password",
							""));
	}
	if (cf->proxy_identity == NULL || cf->proxy_password == NULL) {
		*err_r = xstrdup("[mux] needs proxy_identity and "
				 "proxy_password (or proxy_password_file)");
		return -1;
	}
	cf->default_store = config_get(s, "default_store", NULL);
	/* what the stores' interpreter offers (the same build), so that a
	 * client writes scripts the store will take */
	cf->sieve_extensions = config_get(s, "sieve_extensions",
					  sieve_capabilities());
	cf->backend_tls_ca = config_get(s, "backend_tls_ca", NULL);
	if (get_uint(s, "backend_timeout_ms", 5000, &cf->connect_timeout_ms,
		     err_r) < 0 ||
	    get_secs(s, "preauth_timeout", 60, &cf->preauth_idle, err_r) < 0 ||
	    get_secs(s, "idle_timeout", 3600, &cf->postauth_idle, err_r) < 0 ||
	    get_uint(s, "max_connections_per_ip", 100, &cf->max_per_ip,
		     err_r) < 0 ||
	    get_uint(s, "max_sessions_per_user", 50, &cf->max_per_user,
		     err_r) < 0 ||
	    get_uint(s, "auth_fail_delay_ms", 1000, &cf->auth_fail_delay_ms,
		     err_r) < 0 ||
	    get_uint(s, "auth_fail_delay_max_ms", 15000,
		     &cf->auth_fail_delay_max_ms, err_r) < 0 ||
	    get_uint(s, "max_auth_failures", 5, &cf->max_auth_failures,
		     err_r) < 0 ||
	    get_uint(s, "ip_fail_limit", 30, &cf->ip_fail_limit, err_r) < 0 ||
	    get_secs(s, "ip_fail_window", 60, &cf->ip_fail_window, err_r) < 0 ||
	    get_uint(s, "route_cache_ms", 5000, &cf->route_cache_ms, err_r) <
		0 ||
	    get_uint(s, "directory_check_ms", 250, &cf->directory_check_ms,
		     err_r) < 0 ||
	    get_uint(s, "kill_spread_ms", 500, &cf->kill_spread_ms, err_r) <
		0 ||
	    get_uint(s, "lmtp_max_recipients", 1000, &cf->lmtp_max_rcpt,
		     err_r) < 0 ||
	    config_get_bool(s, "allow_plaintext", 0, &cf->allow_plaintext,
			    err_r) < 0 ||
	    get_workers(s, &cf->workers, err_r) < 0 ||
	    get_uint(s, "max_connections", 20000, &cf->max_connections,
		     err_r) < 0)
		return -1;
	/* the limits tables: an entry per connection's IP, plus room for
	 * failure windows; a session per user at most per connection */
	if (get_uint(s, "max_tracked_ips",
		     cf->max_connections ? 2ull * cf->max_connections : 40000,
		     &cf->max_tracked_ips, err_r) < 0 ||
	    get_uint(s, "max_tracked_users",
		     cf->max_connections ? cf->max_connections : 20000,
		     &cf->max_tracked_users, err_r) < 0)
		return -1;
	if (cf->max_auth_failures == 0)
		cf->max_auth_failures = 1;
	if (cf->directory_check_ms == 0)
		cf->directory_check_ms = 250;
	if (cf->kill_spread_ms > 900)
		cf->kill_spread_ms = 900;	/* the 1 s promise */
	return 0;
}

void mux_config_clear(struct mux_config *cf)
{
	if (cf->proxy_password != NULL)
		explicit_bzero(cf->proxy_password, strlen(cf->proxy_password));
	free(cf->proxy_password);
	memset(cf, 0, sizeof(*cf));
}
