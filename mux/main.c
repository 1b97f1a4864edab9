/*
 * main.c - rookery-mux: the front door for IMAP, POP3, ManageSieve and
 * LMTP (DESIGN.md, The mux; docs/mux.md).
 *
 *	rookery-mux -c CONFIG [-n NAME] [-d]
 *
 * Reads [mux] (or [mux NAME]), sets up logging, TLS (server side for
 * clients, client side for stores) and SASL, opens the directory, binds
 * every "listen" line, drops root and runs the loop until SIGTERM.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "daemon.h"
#include "log.h"
#include "net.h"
#include "sasl.h"
#include "strbuf.h"
#include "tls.h"
#include "mux/mux.h"

struct mux_proto {
	const char *name;
	const struct conn_ops *ops;
	int force_tls;
	int unix_only;
};

static const struct mux_proto mux_protos[] = {
	{"imap", &mux_imap_ops, 0, 0},
	{"imaps", &mux_imap_ops, 1, 0},
	{"pop3", &mux_pop3_ops, 0, 0},
	{"pop3s", &mux_pop3_ops, 1, 0},
	{"sieve", &mux_sieve_ops, 0, 0},
	{"lmtp", &mux_lmtp_ops, 0, 0},
	{"control", &mux_control_ops, 0, 1},
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: rookery-mux -c CONFIG [-n NAME] [-d]\n"
		"\n"
		"Runs the front door described by section [mux] (or [mux NAME])\n"
		"of CONFIG: IMAP, POP3, ManageSieve and LMTP, routed to the\n"
		"users' stores through the directory.\n"
		"\n"
		"  -c, --config FILE   configuration file\n"
		"  -n, --name NAME     use section [mux NAME]\n"
		"  -d, --debug         log protocol detail to stderr\n"
		"  -h, --help          this text\n");
}

static void log_setup(struct mux *m, const struct daemon_opts *o)
{
	enum log_level level = LOG_LEVEL_INFO;
	const char *lvl = config_get(m->sec, "log_level", "info");
	const char *dest = config_get(m->sec, "log", "stderr");

	if (log_level_parse(lvl, &level) < 0)
		fatalx("event=config_error error=\"log_level = %s\"", lvl);
	if (o->debug)
		level = LOG_LEVEL_DEBUG;
	log_init("rookery-mux", !o->debug && strcmp(dest, "syslog") == 0,
		 level);
}

static struct ssl_ctx_st *tls_setup(struct mux *m)
{
	const char *cert = config_get(m->sec, "tls_cert", NULL);
	const char *key = config_get(m->sec, "tls_key", NULL);
	struct ssl_ctx_st *ctx;
	char *err = NULL;

	m->backend_tls = tls_client_ctx_new(m->conf.backend_tls_ca, &err);
	if (m->backend_tls == NULL)
		fatalx("event=tls_error error=\"%s\"", err);
	if (cert == NULL || key == NULL)
		return NULL;
	ctx = tls_server_ctx_new(cert, key, &err);
	if (ctx == NULL)
		fatalx("event=tls_error error=\"%s\"", err);
	return ctx;
}

static void listen_all(struct mux *m)
{
	const char *value;
	unsigned n;

	for (n = 0; (value = config_get_nth(m->sec, "listen", n)) != NULL;
	     n++) {
		struct net_listen_spec spec;
		const struct mux_proto *p = NULL;
		char *err = NULL;

		if (net_listen_parse(value, &spec, &err) < 0)
			fatalx("event=config_error error=\"%s\"", err);
		for (size_t i = 0; i < sizeof(mux_protos) / sizeof(*mux_protos);
		     i++)
			if (strcmp(mux_protos[i].name, spec.proto) == 0)
				p = &mux_protos[i];
		if (p == NULL)
			fatalx("event=config_error error=\"listen = %s: "
			       "unknown protocol (imap imaps pop3 pop3s sieve "
			       "lmtp control)\"", value);
		if (p->force_tls)
			spec.tls = NET_TLS_IMPLICIT;
		if (p->unix_only && strncmp(spec.addr, "unix:", 5) != 0)
			fatalx("event=config_error error=\"listen = %s: the "
			       "control socket must be unix:PATH\"", value);
		if (net_listen(m->net, &spec, p->ops, m, &err) < 0)
			fatalx("event=listen_error error=\"%s\"", err);
		log_info("event=listening proto=%s addr=%s", spec.proto,
			 spec.addr);
		net_listen_spec_clear(&spec);
	}
	if (n == 0)
		fatalx("event=config_error error=\"[mux] has no listen lines\"");
}

int main(int argc, char **argv)
{
	struct daemon_opts o;
	struct mux m;
	struct net_params np;
	struct ssl_ctx_st *tls_ctx;
	char *err = NULL;
	long long maxconn;

	daemon_parse_args(argc, argv, 0, usage, &o);
	log_init("rookery-mux", 0, LOG_LEVEL_INFO);
	memset(&m, 0, sizeof(m));
	if (config_load(o.config, &m.cfg, &err) < 0)
		fatalx("event=config_error error=\"%s\"", err);
	m.sec = config_section(m.cfg, "mux", o.name);
	if (m.sec == NULL)
		fatalx("event=config_error error=\"no [mux%s%s] section\"",
		       o.name ? " " : "", o.name ? o.name : "");
	log_setup(&m, &o);
	if (mux_config_load(&m, &err) < 0)
		fatalx("event=config_error error=\"%s\"", err);
	if (config_get_int(m.sec, "max_connections", 20000, &maxconn, &err) <
	    0)
		fatalx("event=config_error error=\"%s\"", err);
	m.started = (long long)time(NULL);

	tls_ctx = tls_setup(&m);
	if (saslsrv_init("rookery", m.sec, &err) < 0)
		fatalx("event=sasl_error error=\"%s\"", err);
	memset(&np, 0, sizeof(np));
	np.tls_ctx = tls_ctx;
	m.has_tls = tls_ctx != NULL;
	np.max_connections = maxconn > 0 ? (unsigned)maxconn : 0;
	np.shutdown_grace_ms = 1000;
	m.net = net_new(&np);
	m.limits = limits_new();
	if (route_init(&m, &err) < 0)
		fatalx("event=directory_error error=\"%s\"", err);
	listen_all(&m);
	net_drop_privileges(config_get(m.sec, "user", NULL));

	log_info("event=mux_started pid=%d", (int)getpid());
	net_run(m.net);

	route_done(&m);
	limits_free(&m.limits);
	saslsrv_done();
	net_free(&m.net);
	tls_ctx_free(&tls_ctx);
	tls_ctx_free(&m.backend_tls);
	mux_config_clear(&m.conf);
	config_free(&m.cfg);
	log_info("event=mux_stopped");
	return 0;
}
