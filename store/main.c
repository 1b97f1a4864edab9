/*
 * main.c - rookery-store: one mail store (DESIGN.md, Process model).
 *
 *	rookery-store -c CONFIG -n NAME [-d]
 *
 * Reads [store NAME], sets up logging, TLS and SASL, binds every
 * "listen = PROTO ADDR [tls]" line, drops root, opens the storage engine
 * and runs the event loop until SIGTERM/SIGINT.  It stays in the
 * foreground (supervisors and `rookery run` manage it) and logs to stderr,
 * or to syslog with "log = syslog".
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "daemon.h"
#include "log.h"
#include "mailstore.h"
#include "net.h"
#include "sasl.h"
#include "store.h"
#include "store_config.h"
#include "strbuf.h"
#include "tls.h"

/* The protocols a "listen" line may name; any other is a fatal error. */
struct store_proto {
	const char *name;
	const struct conn_ops *ops;
	int force_tls; /* "pop3s": implicit TLS even without "tls" */
	int unix_only; /* the control socket is never on TCP */
};

/* clang-format off */
static const struct store_proto store_protos[] = {
	{"lmtp", &lmtp_conn_ops, 0, 0},
	{"pop3", &pop3_conn_ops, 0, 0},
	{"pop3s", &pop3_conn_ops, 1, 0},
	{"imap", &imap_conn_ops, 0, 0},
	{"imaps", &imap_conn_ops, 1, 0},
	{"control", &control_conn_ops, 0, 1},
	{"sieve", &managesieve_conn_ops, 0, 0},
	{"managesieve", &managesieve_conn_ops, 0, 0},
};
/* clang-format on */

static void usage(FILE *f)
{
	fprintf(
	    f, "usage: rookery-store -c CONFIG -n NAME [-d]\n"
	       "\n"
	       "Runs the mail store NAME described by section [store NAME] of\n"
	       "CONFIG: LMTP delivery, POP3, IMAP, and the control socket used\n"
	       "by the rookery command while the store runs.\n"
	       "\n"
	       "  -c, --config FILE   configuration file (etc/rookery.conf)\n"
	       "  -n, --name NAME     which [store NAME] section to run\n"
	       "  -d, --debug         log protocol detail (log_level = debug)\n"
	       "                      to stderr, even with log = syslog\n"
	       "  -h, --help          this text\n"
	       "\n"
	       "The store runs in the foreground and logs to stderr (log =\n"
	       "syslog: to syslog).  SIGTERM or SIGINT: graceful shutdown,\n"
	       "deliveries in flight finish.  SIGHUP: reload.\n");
}

static void store_log_setup(struct store *st, const struct daemon_opts *o)
{
	enum log_level level = LOG_LEVEL_INFO;
	const char *lvl = config_get(st->sec, "log_level", "info");
	const char *dest = config_get(st->sec, "log", "stderr");
	int to_syslog;

	if (log_level_parse(lvl, &level) < 0)
		fatalx("event=config_error store=%s error=\"log_level = %s: "
		       "expected debug, info or warn\"",
		       st->name, lvl);
	if (o->debug)
		level = LOG_LEVEL_DEBUG;
	if (strcmp(dest, "stderr") != 0 && strcmp(dest, "syslog") != 0)
		fatalx("event=config_error store=%s error=\"log = %s: expected "
		       "stderr or syslog\"",
		       st->name, dest);
	to_syslog = !o->debug && strcmp(dest, "syslog") == 0;
	log_init("rookery-store", to_syslog, level);
}

static struct ssl_ctx_st *store_tls_setup(struct store *st)
{
	const char *cert = config_get(st->sec, "tls_cert", NULL);
	const char *key = config_get(st->sec, "tls_key", NULL);
	struct ssl_ctx_st *ctx;
	char *err = NULL;

	if (cert == NULL && key == NULL)
		return NULL;
	if (cert == NULL || key == NULL)
		fatalx("event=config_error store=%s error=\"tls_cert and "
		       "tls_key go together\"",
		       st->name);
	ctx = tls_server_ctx_new(cert, key, &err);
	if (ctx == NULL)
		fatalx("event=tls_error store=%s error=\"%s\"", st->name, err);
	return ctx;
}

static const struct store_proto *store_proto_find(const char *name)
{
	for (size_t i = 0; i < sizeof(store_protos) / sizeof(*store_protos);
	     i++)
		if (strcmp(store_protos[i].name, name) == 0)
			return &store_protos[i];
	return NULL;
}

__attribute__((noreturn)) static void
store_unknown_proto(const struct store *st, const char *value,
		    const char *proto)
{
	struct strbuf names;

	strbuf_init(&names);
	for (size_t i = 0; i < sizeof(store_protos) / sizeof(*store_protos);
	     i++)
		strbuf_printf(&names, "%s%s", i ? ", " : "",
			      store_protos[i].name);
	fatalx("event=config_error store=%s error=\"listen = %s: unknown "
	       "protocol %s (this store serves %s)\"",
	       st->name, value, proto, names.data);
}

/* Parses one "listen" value into spec_r; any problem is fatal. */
static const struct store_proto *
store_listen_check(const struct store *st, const char *value,
		   struct net_listen_spec *spec_r)
{
	const struct store_proto *p;
	char *err = NULL;

	if (net_listen_parse(value, spec_r, &err) < 0)
		fatalx("event=config_error store=%s error=\"%s\"", st->name,
		       err);
	p = store_proto_find(spec_r->proto);
	if (p == NULL)
		store_unknown_proto(st, value, spec_r->proto);
	if (p->unix_only && strncmp(spec_r->addr, "unix:", 5) != 0)
		fatalx("event=config_error store=%s error=\"listen = "
		       "%s: the control socket must be unix:PATH\"",
		       st->name, value);
	return p;
}

/*
 * Binds every "listen" line; any problem is fatal (nothing half-up).  All
 * lines are checked before the first bind, so a configuration mistake is
 * reported alone, before any socket (or stale socket file) is touched.
 */
static void store_listen_all(struct store *st)
{
	const char *value;
	unsigned n;

	for (n = 0; (value = config_get_nth(st->sec, "listen", n)) != NULL;
	     n++) {
		struct net_listen_spec spec;

		store_listen_check(st, value, &spec);
		net_listen_spec_clear(&spec);
	}
	if (n == 0)
		fatalx("event=config_error store=%s error=\"no listen lines\"",
		       st->name);
	for (n = 0; (value = config_get_nth(st->sec, "listen", n)) != NULL;
	     n++) {
		struct net_listen_spec spec;
		const struct store_proto *p;
		char *err = NULL;

		p = store_listen_check(st, value, &spec);
		if (p->force_tls)
			spec.tls = NET_TLS_IMPLICIT;
		if (net_listen(st->net, &spec, p->ops, st, &err) < 0)
			fatalx("event=listen_error store=%s error=\"%s\"",
			       st->name, err);
		net_listen_spec_clear(&spec);
	}
}

static void store_open_engine(struct store *st)
{
	struct mstore_params p;
	char *err = NULL;

	if (store_config_mstore_params(st->sec, &p, &err) < 0)
		fatalx("event=config_error store=%s error=\"%s\"", st->name,
		       err);
	if (mstore_open(st->data_dir, &p, &st->ms, &err) < 0)
		fatalx("event=store_open_failed store=%s data_dir=%s "
		       "error=\"%s\"",
		       st->name, st->data_dir, err);
	if (mstore_attach_loop(st->ms, st->net, &err) < 0)
		fatalx("event=store_open_failed store=%s error=\"%s\"",
		       st->name, err);
}

/*
 * SIGHUP: listeners, TLS and the engine stay as they are; what can change
 * without a restart is re-read: for now the log level.
 */
static void store_on_reload(void *arg)
{
	struct store *st = arg;
	struct config *cfg = NULL;
	const struct config_section *sec;
	enum log_level level;
	char *err = NULL;
	const char *lvl;

	if (config_load(st->config_path, &cfg, &err) < 0) {
		log_warnx("event=reload_failed store=%s error=\"%s\"", st->name,
			  err);
		free(err);
		return;
	}
	sec = config_section(cfg, "store", st->name);
	lvl = config_get(sec, "log_level", "info");
	if (st->debug)
		log_info("event=reload store=%s log_level=debug "
			 "forced_by=-d",
			 st->name);
	else if (log_level_parse(lvl, &level) < 0)
		log_warnx("event=reload_failed store=%s error=\"log_level = "
			  "%s: expected debug, info or warn\"",
			  st->name, lvl);
	else {
		log_set_level(level);
		log_info("event=reload store=%s log_level=%s", st->name, lvl);
	}
	config_free(&cfg);
}

int main(int argc, char **argv)
{
	struct daemon_opts o;
	struct store st;
	struct config *cfg = NULL;
	struct net_params np;
	struct ssl_ctx_st *tls_ctx;
	char *err = NULL;
	long long maxconn;

	daemon_parse_args(argc, argv, 1, usage, &o);
	log_init("rookery-store", 0, LOG_LEVEL_INFO);
	if (config_load(o.config, &cfg, &err) < 0)
		fatalx("event=config_error error=\"%s\"", err);
	memset(&st, 0, sizeof(st));
	st.config_path = o.config;
	st.debug = o.debug;
	if (store_config_load(&st, cfg, o.name, &err) < 0)
		fatalx("event=config_error error=\"%s\"", err);
	store_log_setup(&st, &o);
	if (config_get_int(st.sec, "max_connections", 0, &maxconn, &err) < 0)
		fatalx("event=config_error error=\"%s\"", err);

	tls_ctx = store_tls_setup(&st);
	if (saslsrv_init("rookery", st.sec, &err) < 0)
		fatalx("event=sasl_error store=%s error=\"%s\"", st.name, err);

	memset(&np, 0, sizeof(np));
	np.tls_ctx = tls_ctx;
	np.max_connections = maxconn > 0 ? (unsigned)maxconn : 0;
	st.net = net_new(&np);
	net_on_reload(st.net, store_on_reload, &st);
	store_listen_all(&st);
	/* Drop root before the engine creates files: they must belong to
	 * the user that runs the store. */
	net_drop_privileges(config_get(st.sec, "user", NULL));
	store_open_engine(&st);

	log_info("event=store_started store=%s role=%s data_dir=%s pid=%d",
		 st.name, st.role == STORE_PRIMARY ? "primary" : "replica",
		 st.data_dir, (int)getpid());
	net_run(st.net);

	log_info("event=store_stopping store=%s in_flight=%u", st.name,
		 mstore_deliveries_in_flight(st.ms));
	mstore_close(&st.ms);
	saslsrv_done();
	net_free(&st.net);
	tls_ctx_free(&tls_ctx);
	store_config_clear(&st);
	config_free(&cfg);
	log_info("event=store_stopped store=%s", o.name);
	return 0;
}
