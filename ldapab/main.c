/*
 * main.c - rookery-ldapab: the LDAPv3 address-book server.
 *
 *	rookery-ldapab -c CONFIG [-d]
 *
 * Reads [ldapab] (suffix, data_dir, listen lines, limits), opens the
 * Berkeley DB store, binds every listener, drops root and runs the loop
 * until SIGTERM/SIGINT.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "config.h"
#include "log.h"
#include "net.h"
#include "server.h"
#include "session.h"
#include "store.h"
#include "strbuf.h"
#include "tls.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: rookery-ldapab -c CONFIG [-d]\n"
		"\n"
		"Serves the address books of section [ldapab] of CONFIG over\n"
		"LDAPv3 (listen = ldap ADDR, listen = ldaps ADDR tls).\n"
		"\n"
		"  -c, --config FILE   configuration file\n"
		"  -d, --debug         debug logging to stderr\n"
		"  -h, --help          this text\n");
}

static void cfg_fatal(const char *err)
{
	fatalx("event=config_error section=ldapab error=\"%s\"", err);
}

static unsigned cfg_uint(const struct config_section *sec, const char *key,
			 long long def)
{
	long long v;
	char *err = NULL;

	if (config_get_int(sec, key, def, &v, &err) < 0)
		cfg_fatal(err);
	if (v < 0 || v > 100000000)
		cfg_fatal("value out of range");
	return (unsigned)v;
}

static int cfg_bool(const struct config_section *sec, const char *key,
		    int def)
{
	char *err = NULL;
	int v;

	if (config_get_bool(sec, key, def, &v, &err) < 0)
		cfg_fatal(err);
	return v;
}

static void log_setup(const struct config_section *sec, int debug)
{
	enum log_level level = LOG_LEVEL_INFO;
	const char *dest = config_get(sec, "log", "stderr");

	if (log_level_parse(config_get(sec, "log_level", "info"), &level) < 0)
		cfg_fatal("log_level: expected debug, info or warn");
	if (debug)
		level = LOG_LEVEL_DEBUG;
	log_init("rookery-ldapab", !debug && strcmp(dest, "syslog") == 0,
		 level);
}

static struct ssl_ctx_st *tls_setup(const struct config_section *sec)
{
	const char *cert = config_get(sec, "tls_cert", NULL);
	const char *key = config_get(sec, "tls_key", NULL);
	struct ssl_ctx_st *ctx;
	char *err = NULL;

	if (cert == NULL || key == NULL)
		return NULL;
	ctx = tls_server_ctx_new(cert, key, &err);
	if (ctx == NULL)
		fatalx("event=tls_error error=\"%s\"", err);
	return ctx;
}

static void on_reload(void *arg)
{
	(void)arg;
	/* Passwords may have changed behind our back: forget verified binds
	 * (they are keyed by the stored hash anyway). */
	ab_auth_cache_clear();
	log_info("event=reload");
}

static void listen_all(struct net *n, const struct config_section *sec,
		       struct ldapab *ab, int have_tls)
{
	const char *value;
	unsigned i;

	for (i = 0; (value = config_get_nth(sec, "listen", i)) != NULL; i++) {
		struct net_listen_spec spec;
		char *err = NULL;

		if (net_listen_parse(value, &spec, &err) < 0)
			cfg_fatal(err);
		if (strcmp(spec.proto, "ldaps") == 0)
			spec.tls = NET_TLS_IMPLICIT;
		else if (strcmp(spec.proto, "ldap") != 0)
			cfg_fatal("listen: protocol must be ldap or ldaps");
		if (spec.tls == NET_TLS_IMPLICIT && !have_tls)
			cfg_fatal("ldaps needs tls_cert and tls_key");
		if (net_listen(n, &spec, &ab_ldap_conn_ops, ab, &err) < 0)
			fatalx("event=listen_error addr=%s error=\"%s\"",
			       spec.addr, err);
		log_info("event=listening proto=%s addr=%s", spec.proto,
			 spec.addr);
		net_listen_spec_clear(&spec);
	}
	if (i == 0)
		cfg_fatal("no listen lines");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"debug", no_argument, NULL, 'd'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *path = NULL, *suffix, *data_dir;
	const struct config_section *sec;
	struct config *cfg = NULL;
	struct net_params np;
	struct ssl_ctx_st *tls;
	struct store *st = NULL;
	struct ldapab ab;
	struct net *n;
	char *err = NULL;
	int ch, debug = 0;

	while ((ch = getopt_long(argc, argv, "c:dh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 'd':
			debug = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (path == NULL || optind != argc) {
		usage(stderr);
		return 2;
	}
	log_init("rookery-ldapab", 0, LOG_LEVEL_INFO);
	if (config_load(path, &cfg, &err) < 0)
		fatalx("event=config_error error=\"%s\"", err);
	sec = config_section(cfg, "ldapab", NULL);
	if (sec == NULL)
		cfg_fatal("no [ldapab] section");
	log_setup(sec, debug);
	suffix = config_get(sec, "suffix", NULL);
	data_dir = config_get(sec, "data_dir", NULL);
	if (suffix == NULL || data_dir == NULL)
		cfg_fatal("suffix and data_dir are required");

	tls = tls_setup(sec);
	memset(&np, 0, sizeof(np));
	np.tls_ctx = tls;
	np.max_connections = cfg_uint(sec, "max_connections", 0);
	np.shutdown_grace_ms = 500;
	n = net_new(&np);
	net_on_reload(n, on_reload, NULL);
	if (ldapab_init(&ab, NULL, suffix) < 0)
		cfg_fatal("suffix is not a valid DN");
	ab.tls_available = tls != NULL;
	ab.allow_plaintext = cfg_bool(sec, "allow_plaintext", 0);
	ab.auth_fail_delay_ms = cfg_uint(sec, "auth_fail_delay_ms", 1000);
	ab.size_limit = cfg_uint(sec, "size_limit", 50000);
	ab.time_limit = cfg_uint(sec, "time_limit", 60);
	ab.max_pdu = cfg_uint(sec, "max_request_size", 4 * 1024 * 1024);
	listen_all(n, sec, &ab, tls != NULL);
	net_drop_privileges(config_get(sec, "user", NULL));
	if (ab_store_open(data_dir, &st, &err) < 0)
		fatalx("event=store_open_failed data_dir=%s error=\"%s\"",
		       data_dir, err);
	ab.store = st;
	log_info("event=ldapab_started suffix=%s data_dir=%s pid=%d", suffix,
		 data_dir, (int)getpid());
	net_run(n);
	ab_store_close(&st);
	net_free(&n);
	ldapab_clear(&ab);
	tls_ctx_free(&tls);
	config_free(&cfg);
	log_info("event=ldapab_stopped");
	return 0;
}
