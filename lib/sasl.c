/*
 * sasl.c - the server side of Cyrus SASL 2.1 (sasl.h).
 *
 * Cyrus SASL keeps process-wide state (plugins, options), so this module
 * does too: the options handed to the library by saslsrv_getopt() are the
 * copies made by saslsrv_init().  Everything per connection lives in
 * struct saslsrv.
 *
 * The library is told, through callbacks, never through a file:
 *   sasldb_path     the configured sasldb (never the system's /etc/sasldb2)
 *   pwcheck_method  auxprop, auxprop_plugin sasldb: one user database for
 *                   every mechanism and for plaintext logins
 *   mech_list       config sasl_mechanisms, when set
 * and the proxy policy callback enforces proxy_identities (sasl.h).
 *
 * Realms.  A user is "alice@example.com".  No user_realm is given to
 * sasl_server_new(), so the library's canonicalisation leaves names with
 * an '@' alone, and the sasldb plugin splits them at the '@' into user
 * "alice", realm "example.com" - for lookups and for sasl_setpass() alike,
 * which is also how `saslpasswd2 -c alice@example.com` stores them.
 */
#include "sasl.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <sasl/sasl.h>
#include <sasl/saslutil.h>

#include "config.h"
#include "db.h"
#include "log.h"
#include "net.h"
#include "sasl_cache.h"
#include "strbuf.h"

/* SASL security layers are not used by our protocols: TLS protects the
 * link, so the external SSF only tells the library "encrypted". */
#define SASLSRV_TLS_SSF 128
#define SASLSRV_MAX_B64 (64 * 1024)

typedef int (*saslsrv_cb_fn)(void);
#define SASLSRV_CB(fn) ((saslsrv_cb_fn)(void (*)(void))(fn))

struct saslsrv {
	sasl_conn_t *conn;
	char *service;
	struct conn *c; /* NULL for a detached exchange */
	int detached_tls;
	char *local; /* "IP;PORT" or NULL */
	char *remote;
	sasl_callback_t callbacks[2];

	int used; /* conn served an exchange: renew first */
	int cached; /* the last success came from the cache */
	int in_progress;
	int success_pending; /* authenticated once the client acks */
	char *mechs;	     /* last saslsrv_mechanisms() answer */
	char *mech;
	char *user;
	char *authid;
	const char *error;
};

static struct {
	int initialised;
	char *appname;
	char *sasldb;
	char *mech_list;  /* NULL: every installed mechanism */
	char **proxy_ids; /* NULL-terminated */
	char *hostname;
	int allow_plaintext;
	unsigned cache_ttl;	/* auth_cache_ttl, seconds (0: off) */
	size_t cache_size;	/* auth_cache_size, entries */
} saslsrv_g;

static sasl_callback_t saslsrv_global_callbacks[4];

/* --- callbacks ------------------------------------------------------------ */

static int saslsrv_getopt_cb(void *context, const char *plugin_name,
			     const char *option, const char **result,
			     unsigned *len)
{
	const char *v = NULL;

	(void)context;
	(void)plugin_name;
	if (strcmp(option, "sasldb_path") == 0)
		v = saslsrv_g.sasldb;
	else if (strcmp(option, "pwcheck_method") == 0)
		v = "auxprop";
	else if (strcmp(option, "auxprop_plugin") == 0)
		v = "sasldb";
	else if (strcmp(option, "mech_list") == 0)
		v = saslsrv_g.mech_list;
	else if (strcmp(option, "canon_user_plugin") == 0)
		v = "INTERNAL";
	if (v == NULL)
		return SASL_FAIL;
	*result = v;
	if (len != NULL)
		*len = (unsigned)strlen(v);
	return SASL_OK;
}

static int saslsrv_log_cb(void *context, int level, const char *message)
{
	const struct saslsrv *s = context;
	const char *sid = (s != NULL && s->c != NULL) ? conn_id(s->c) : "-";
	char q[512];

	if (message == NULL)
		return SASL_OK;
	switch (level) {
	case SASL_LOG_NONE:
	case SASL_LOG_PASS: /* may carry passwords: never logged */
		break;
	case SASL_LOG_ERR:
	case SASL_LOG_WARN:
		log_warnx("event=sasl session=%s message=%s", sid,
			  log_q(q, sizeof(q), message));
		break;
	case SASL_LOG_FAIL:
	case SASL_LOG_NOTE:
		log_info("event=sasl session=%s message=%s", sid,
			 log_q(q, sizeof(q), message));
		break;
	default:
		log_debug("event=sasl session=%s message=%s", sid,
			  log_q(q, sizeof(q), message));
		break;
	}
	return SASL_OK;
}

static int saslsrv_is_proxy(const char *authid, size_t len)
{
	if (saslsrv_g.proxy_ids == NULL)
		return 0;
	for (size_t i = 0; saslsrv_g.proxy_ids[i] != NULL; i++) {
		const char *p = saslsrv_g.proxy_ids[i];

		if (strlen(p) == len && memcmp(p, authid, len) == 0)
			return 1;
	}
	return 0;
}

/* The whole authorization rule of sasl.h, for SASL and checkpass alike. */
static int saslsrv_may_act_as(const char *authzid, size_t zlen,
			      const char *authid, size_t alen)
{
	if (zlen == alen && memcmp(authzid, authid, alen) == 0)
		return 1;
	return saslsrv_is_proxy(authid, alen);
}

static int saslsrv_authorize_cb(sasl_conn_t *conn, void *context,
				const char *requested_user, unsigned rlen,
				const char *auth_identity, unsigned alen,
				const char *def_realm, unsigned urlen,
				struct propctx *propctx)
{
	(void)context;
	(void)def_realm;
	(void)urlen;
	(void)propctx;
	if (rlen == 0 ||
	    saslsrv_may_act_as(requested_user, rlen, auth_identity, alen))
		return SASL_OK;
	sasl_seterror(conn, SASL_NOLOG, "authorization refused");
	return SASL_NOAUTHZ;
}

/* --- init ----------------------------------------------------------------- */

static char **saslsrv_split_words(const char *list)
{
	char **v = NULL;
	size_t n = 0;
	const char *p = list;

	while (p != NULL && *p != '\0') {
		size_t len;

		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		len = strcspn(p, " \t,");
		if (len == 0)
			break;
		v = xrealloc(v, (n + 2) * sizeof(*v));
		v[n++] = xstrndup(p, len);
		v[n] = NULL;
		p += len;
	}
	return v;
}

static void saslsrv_free_words(char ***vp)
{
	char **v = *vp;

	if (v == NULL)
		return;
	for (size_t i = 0; v[i] != NULL; i++)
		free(v[i]);
	free(v);
	*vp = NULL;
}

static void saslsrv_clear_globals(void)
{
	free(saslsrv_g.appname);
	free(saslsrv_g.sasldb);
	free(saslsrv_g.mech_list);
	free(saslsrv_g.hostname);
	saslsrv_free_words(&saslsrv_g.proxy_ids);
	memset(&saslsrv_g, 0, sizeof(saslsrv_g));
}

static char *saslsrv_default_hostname(void)
{
	char host[256];

	if (gethostname(host, sizeof(host)) < 0 || host[0] == '\0')
		return xstrdup("localhost");
	host[sizeof(host) - 1] = '\0';
	return xstrdup(host);
}

/* Reads the configuration into saslsrv_g. */
static int saslsrv_read_config(const struct config_section *cfg, char **err_r)
{
	const char *v;
	char **mechs;
	long long n;

	v = config_get(cfg, "sasldb", NULL);
	if (v == NULL || v[0] == '\0') {
		*err_r = xstrdup("sasldb is not set: name the sasldb2 file "
				 "that holds the users");
		return -1;
	}
	saslsrv_g.sasldb = xstrdup(v);
	if (config_get_bool(cfg, "allow_plaintext", 0,
			    &saslsrv_g.allow_plaintext, err_r) < 0)
		return -1;
	saslsrv_g.proxy_ids =
	    saslsrv_split_words(config_get(cfg, "proxy_identities", ""));

	/* The library wants mech_list space-separated; accept commas too. */
	mechs = saslsrv_split_words(config_get(cfg, "sasl_mechanisms", ""));
	if (mechs != NULL) {
		struct strbuf sb;

		strbuf_init(&sb);
		for (size_t i = 0; mechs[i] != NULL; i++) {
			if (i > 0)
				strbuf_addc(&sb, ' ');
			for (const char *p = mechs[i]; *p != '\0'; p++)
				strbuf_addc(&sb,
					    (char)toupper((unsigned char)*p));
		}
		saslsrv_g.mech_list = strbuf_steal(&sb, NULL);
		strbuf_free(&sb); /* steal re-initialised it */
		saslsrv_free_words(&mechs);
	}

	v = config_get(cfg, "hostname", NULL);
	saslsrv_g.hostname = (v != NULL && v[0] != '\0')
				 ? xstrdup(v)
				 : saslsrv_default_hostname();
	if (config_get_duration(cfg, "auth_cache_ttl", 300,
				&saslsrv_g.cache_ttl, err_r) < 0 ||
	    config_get_int(cfg, "auth_cache_size", 4096, &n, err_r) < 0)
		return -1;
	if (n < 0 || n > (1 << 24)) {
		*err_r = xasprintf("auth_cache_size = %lld: give a number of "
				   "entries from 0 (off) to 16777216", n);
		return -1;
	}
	saslsrv_g.cache_size = (size_t)n;
	return 0;
}

int saslsrv_init(const char *appname, const struct config_section *cfg,
		 char **err_r)
{
	int r;

	if (saslsrv_g.initialised) {
		*err_r = xstrdup("SASL is already initialised");
		return -1;
	}
	if (saslsrv_read_config(cfg, err_r) < 0) {
		saslsrv_clear_globals();
		return -1;
	}
	saslsrv_g.appname = xstrdup(appname);

	saslsrv_global_callbacks[0] = (sasl_callback_t){
	    SASL_CB_GETOPT, SASLSRV_CB(saslsrv_getopt_cb), NULL};
	saslsrv_global_callbacks[1] =
	    (sasl_callback_t){SASL_CB_LOG, SASLSRV_CB(saslsrv_log_cb), NULL};
	saslsrv_global_callbacks[2] = (sasl_callback_t){
	    SASL_CB_PROXY_POLICY, SASLSRV_CB(saslsrv_authorize_cb), NULL};
	saslsrv_global_callbacks[3] =
	    (sasl_callback_t){SASL_CB_LIST_END, NULL, NULL};

	r = sasl_server_init(saslsrv_global_callbacks, saslsrv_g.appname);
	if (r != SASL_OK) {
		*err_r = xasprintf("SASL initialisation failed: %s",
				   sasl_errstring(r, NULL, NULL));
		saslsrv_clear_globals();
		return -1;
	}
	saslsrv_g.initialised = 1;
	(void)authcache_init(saslsrv_g.cache_ttl, saslsrv_g.cache_size,
			     saslsrv_g.sasldb);
	log_debug("event=sasl_init app=%s sasldb=%s mechs=\"%s\" "
		  "allow_plaintext=%d",
		  appname, saslsrv_g.sasldb,
		  saslsrv_g.mech_list ? saslsrv_g.mech_list : "*",
		  saslsrv_g.allow_plaintext);
	return 0;
}

void saslsrv_done(void)
{
	if (!saslsrv_g.initialised)
		return;
	sasl_server_done();
	authcache_done();
	saslsrv_clear_globals();
}

/* --- connections ---------------------------------------------------------- */

/*
 * "127.0.0.1:143" or "[::1]:143" -> "127.0.0.1;143" / "::1;143", the form
 * Cyrus SASL wants; NULL for Unix sockets and anything unexpected.
 */
static char *saslsrv_ipport(const char *addr)
{
	const char *colon;
	const char *host;
	size_t hlen;

	if (addr == NULL || strncmp(addr, "unix", 4) == 0)
		return NULL;
	colon = strrchr(addr, ':');
	if (colon == NULL || colon[1] == '\0')
		return NULL;
	host = addr;
	hlen = (size_t)(colon - addr);
	if (host[0] == '[') {
		if (hlen < 2 || host[hlen - 1] != ']')
			return NULL;
		host++;
		hlen -= 2;
	}
	if (hlen == 0)
		return NULL;
	return xasprintf("%.*s;%s", (int)hlen, host, colon + 1);
}

/* "IP;PORT" with a numeric address and port, as the library parses it
 * (it leaks memory when sasl_server_new() fails on a bad one). */
static int saslsrv_ipport_valid(const char *ipport)
{
	const char *semi = ipport ? strrchr(ipport, ';') : NULL;
	unsigned char addr[sizeof(struct in6_addr)];
	char host[INET6_ADDRSTRLEN + 1];
	size_t hlen;

	if (semi == NULL || semi[1] == '\0' ||
	    strspn(semi + 1, "0123456789") != strlen(semi + 1))
		return 0;
	hlen = (size_t)(semi - ipport);
	if (hlen == 0 || hlen >= sizeof(host))
		return 0;
	memcpy(host, ipport, hlen);
	host[hlen] = '\0';
	return inet_pton(AF_INET, host, addr) == 1 ||
	       inet_pton(AF_INET6, host, addr) == 1;
}

/*
 * Is the link private?  TLS, or a Unix-domain socket (local only: the
 * mux reaches stores on one host that way, and nothing crosses a network).
 */
static int saslsrv_tls(const struct saslsrv *s)
{
	if (s->c == NULL)
		return s->detached_tls;
	return conn_is_tls(s->c) || conn_is_local_socket(s->c);
}

int saslsrv_plaintext_ok(struct saslsrv *s)
{
	return saslsrv_tls(s) || saslsrv_g.allow_plaintext;
}

/* Tells the library what the link offers now (TLS may have started). */
static int saslsrv_apply_props(struct saslsrv *s)
{
	sasl_security_properties_t sp;
	sasl_ssf_t ssf = saslsrv_tls(s) ? SASLSRV_TLS_SSF : 0;
	int r;

	memset(&sp, 0, sizeof(sp));
	sp.min_ssf = 0;
	sp.max_ssf = 0; /* no SASL security layer */
	sp.maxbufsize = 0;
	sp.security_flags = SASL_SEC_NOANONYMOUS;
	if (!saslsrv_plaintext_ok(s))
		sp.security_flags |= SASL_SEC_NOPLAINTEXT;
	r = sasl_setprop(s->conn, SASL_SSF_EXTERNAL, &ssf);
	if (r == SASL_OK)
		r = sasl_setprop(s->conn, SASL_SEC_PROPS, &sp);
	return r;
}

static int saslsrv_conn_new(struct saslsrv *s)
{
	int r;

	if (s->conn != NULL)
		sasl_dispose(&s->conn);
	r = sasl_server_new(s->service, saslsrv_g.hostname, NULL, s->local,
			    s->remote, s->callbacks, 0, &s->conn);
	if (r == SASL_BADPARAM && (s->local != NULL || s->remote != NULL)) {
		/* An address the library cannot parse: only DIGEST-MD5's
		 * security layer would use it, so do without. */
		log_debug("event=sasl_server_new local=%s remote=%s "
			  "error=\"bad address\"",
			  s->local ? s->local : "-",
			  s->remote ? s->remote : "-");
		free(s->local);
		free(s->remote);
		s->local = NULL;
		s->remote = NULL;
		r = sasl_server_new(s->service, saslsrv_g.hostname, NULL, NULL,
				    NULL, s->callbacks, 0, &s->conn);
	}
	if (r != SASL_OK) {
		log_warnx("event=sasl_server_new error=\"%s\"",
			  sasl_errstring(r, NULL, NULL));
		s->conn = NULL;
		return -1;
	}
	s->used = 0;
	return 0;
}

static struct saslsrv *saslsrv_alloc(const char *service, struct conn *c,
				     int tls, const char *local,
				     const char *remote)
{
	struct saslsrv *s;

	if (!saslsrv_g.initialised) {
		log_warnx("event=sasl_new error=\"saslsrv_init not called\"");
		return NULL;
	}
	s = xcalloc(1, sizeof(*s));
	s->service = xstrdup(service);
	s->c = c;
	s->detached_tls = tls;
	s->local = saslsrv_ipport_valid(local) ? xstrdup(local) : NULL;
	s->remote = saslsrv_ipport_valid(remote) ? xstrdup(remote) : NULL;
	s->callbacks[0] =
	    (sasl_callback_t){SASL_CB_LOG, SASLSRV_CB(saslsrv_log_cb), s};
	s->callbacks[1] = (sasl_callback_t){SASL_CB_LIST_END, NULL, NULL};
	if (saslsrv_conn_new(s) < 0) {
		saslsrv_free(&s);
		return NULL;
	}
	return s;
}

struct saslsrv *saslsrv_new(const char *service, struct conn *c)
{
	struct saslsrv *s;
	char *local, *remote;

	if (c == NULL)
		return saslsrv_alloc(service, NULL, 0, NULL, NULL);
	local = saslsrv_ipport(conn_local(c));
	remote = saslsrv_ipport(conn_peer(c));
	s = saslsrv_alloc(service, c, 0, local, remote);
	free(local);
	free(remote);
	return s;
}

struct saslsrv *saslsrv_new_detached(const char *service, int tls,
				     const char *local_ipport,
				     const char *remote_ipport)
{
	return saslsrv_alloc(service, NULL, tls, local_ipport, remote_ipport);
}

static void saslsrv_reset_result(struct saslsrv *s)
{
	free(s->mech);
	free(s->user);
	free(s->authid);
	s->mech = NULL;
	s->user = NULL;
	s->authid = NULL;
	s->error = NULL;
	s->in_progress = 0;
	s->success_pending = 0;
	s->cached = 0;
}

void saslsrv_free(struct saslsrv **sp)
{
	struct saslsrv *s = *sp;

	if (s == NULL)
		return;
	*sp = NULL;
	if (s->conn != NULL)
		sasl_dispose(&s->conn);
	saslsrv_reset_result(s);
	free(s->mechs);
	free(s->service);
	free(s->local);
	free(s->remote);
	free(s);
}

/* A fresh sasl_conn_t for every exchange: no state leaks from a failed
 * or cancelled one into the next.  Never in the middle of one. */
static int saslsrv_prepare(struct saslsrv *s)
{
	if (s->in_progress)
		return s->conn != NULL ? 0 : -1;
	if ((s->used || s->conn == NULL) && saslsrv_conn_new(s) < 0)
		return -1;
	if (saslsrv_apply_props(s) != SASL_OK)
		return -1;
	return 0;
}

const char *saslsrv_mechanisms(struct saslsrv *s)
{
	const char *list = NULL;
	unsigned len = 0;
	int count = 0;

	free(s->mechs);
	s->mechs = NULL;
	if (saslsrv_prepare(s) == 0 &&
	    sasl_listmech(s->conn, NULL, "", " ", "", &list, &len, &count) ==
		SASL_OK &&
	    list != NULL)
		s->mechs = xstrndup(list, len);
	else
		s->mechs = xstrdup("");
	return s->mechs;
}

static int saslsrv_mech_offered(struct saslsrv *s, const char *mech)
{
	const char *p = saslsrv_mechanisms(s);
	size_t mlen = strlen(mech);

	while (*p != '\0') {
		size_t len = strcspn(p, " ");

		if (len == mlen && strncasecmp(p, mech, len) == 0)
			return 1;
		p += len;
		while (*p == ' ')
			p++;
	}
	return 0;
}

/* --- base64 --------------------------------------------------------------- */

/*
 * Strict RFC 4648 base64: the alphabet only, length a multiple of 4, at
 * most two '=' and only at the end.  sasl_decode64() alone is lenient
 * about some of these.
 */
static int saslsrv_b64_valid(const char *in, size_t len)
{
	size_t pad = 0;

	if (len % 4 != 0 || len > SASLSRV_MAX_B64)
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)in[i];

		if (ch == '=') {
			pad++;
			continue;
		}
		if (pad > 0)
			return 0; /* data after padding */
		if (!isalnum(ch) && ch != '+' && ch != '/')
			return 0;
	}
	return pad <= 2;
}

/* Decodes into an allocated buffer (NUL-terminated).  -1 if malformed. */
static int saslsrv_b64_decode(const char *in, char **out_r, unsigned *len_r)
{
	size_t inlen = strlen(in);
	unsigned outmax = (unsigned)(inlen / 4 * 3 + 4);
	char *out;

	*out_r = NULL;
	*len_r = 0;
	if (!saslsrv_b64_valid(in, inlen))
		return -1;
	out = xmalloc(outmax);
	if (inlen == 0) {
		out[0] = '\0';
	} else if (sasl_decode64(in, (unsigned)inlen, out, outmax, len_r) !=
		   SASL_OK) {
		free(out);
		return -1;
	}
	*out_r = out;
	return 0;
}

static char *saslsrv_b64_encode(const char *in, unsigned len)
{
	unsigned outmax = (len + 2) / 3 * 4 + 1;
	unsigned outlen = 0;
	char *out = xmalloc(outmax);

	if (len == 0 || sasl_encode64(in, len, out, outmax, &outlen) != SASL_OK)
		outlen = 0;
	out[outlen] = '\0';
	return out;
}

/* --- exchanges ------------------------------------------------------------ */

static enum saslsrv_result
saslsrv_fail(struct saslsrv *s, enum saslsrv_result res, const char *why)
{
	s->in_progress = 0;
	s->error = why;
	return res;
}

static int saslsrv_sasldb_readable(void)
{
	if (access(saslsrv_g.sasldb, R_OK) == 0)
		return 1;
	log_warn("event=sasldb_unreadable path=%s", saslsrv_g.sasldb);
	return 0;
}

static enum saslsrv_result saslsrv_map_error(struct saslsrv *s, int r)
{
	const char *detail = s->conn ? sasl_errdetail(s->conn) : NULL;
	char q[256];

	log_debug("event=sasl_fail session=%s code=%d detail=%s",
		  s->c ? conn_id(s->c) : "-", r,
		  log_q(q, sizeof(q), detail ? detail : ""));
	if (s->authid == NULL && s->conn != NULL) {
		const void *authid = NULL;

		/* Whom the client claimed to be, for the caller's log. */
		if (sasl_getprop(s->conn, SASL_AUTHUSER, &authid) == SASL_OK &&
		    authid != NULL && *(const char *)authid != '\0')
			s->authid = xstrdup(authid);
	}
	switch (r) {
	case SASL_BADPROT:
	case SASL_BADPARAM:
		return saslsrv_fail(s, SASLSRV_BAD_INPUT,
				    "malformed SASL message");
	case SASL_NOMECH:
	case SASL_TOOWEAK:
	case SASL_ENCRYPT:
		return saslsrv_fail(s, SASLSRV_NO_MECH,
				    "mechanism not available");
	case SASL_NOAUTHZ:
		return saslsrv_fail(s, SASLSRV_FAIL, "authorization refused");
	case SASL_TRYAGAIN:
	case SASL_UNAVAIL:
	case SASL_NOMEM:
		return saslsrv_fail(s, SASLSRV_TEMPFAIL,
				    "user database unavailable");
	default:
		/* The sasldb plugin cannot tell "no such user" from "cannot
		 * open the file": look at the file. */
		if (!saslsrv_sasldb_readable())
			return saslsrv_fail(s, SASLSRV_TEMPFAIL,
					    "user database unavailable");
		return saslsrv_fail(s, SASLSRV_FAIL, "authentication failure");
	}
}

static enum saslsrv_result saslsrv_finish(struct saslsrv *s)
{
	const void *user = NULL;
	const void *authid = NULL;
	const void *mech = NULL;

	s->in_progress = 0;
	if (sasl_getprop(s->conn, SASL_USERNAME, &user) != SASL_OK ||
	    user == NULL)
		return saslsrv_fail(s, SASLSRV_FAIL, "no user name");
	if (sasl_getprop(s->conn, SASL_AUTHUSER, &authid) != SASL_OK ||
	    authid == NULL)
		authid = user;
	if (sasl_getprop(s->conn, SASL_MECHNAME, &mech) != SASL_OK ||
	    mech == NULL)
		mech = "?";
	s->user = xstrdup(user);
	s->authid = xstrdup(authid);
	s->mech = xstrdup(mech);
	return SASLSRV_OK;
}

static enum saslsrv_result saslsrv_outcome(struct saslsrv *s, int r,
					   const char *out, unsigned outlen,
					   char **challenge_b64_r)
{
	if (r == SASL_CONTINUE) {
		*challenge_b64_r = saslsrv_b64_encode(out, outlen);
		return SASLSRV_CONTINUE;
	}
	if (r != SASL_OK)
		return saslsrv_map_error(s, r);
	if (outlen > 0) {
		/* Our protocols cannot carry data with success (RFC 4422
		 * section 5, item 7): send it as a challenge; the client
		 * answers with an empty response.  The plugins normally do
		 * this themselves since SASL_SUCCESS_DATA is not set. */
		s->success_pending = 1;
		*challenge_b64_r = saslsrv_b64_encode(out, outlen);
		return SASLSRV_CONTINUE;
	}
	return saslsrv_finish(s);
}

/* sasl.h; in[inlen] is NUL (saslsrv_b64_decode() leaves it so). */
int saslsrv_plain_split(char *in, unsigned inlen, const char **zid_r,
			const char **cid_r, const char **pass_r)
{
	char *cid, *pass;

	cid = memchr(in, '\0', inlen);
	if (cid == NULL)
		return -1;
	cid++;
	if (cid >= in + inlen)
		return -1;
	pass = memchr(cid, '\0', (size_t)(in + inlen - cid));
	if (pass == NULL || ++pass >= in + inlen ||
	    memchr(pass, '\0', (size_t)(in + inlen - pass)) != NULL ||
	    *cid == '\0')
		return -1;
	for (const char *p = in; *p != '\0'; p++)
		if ((unsigned char)*p <= ' ')
			return -1;
	if (*in != '\0' && strchr(in, '@') == NULL)
		return -1;
	*zid_r = in;
	*cid_r = cid;
	*pass_r = pass;
	return 0;
}

/* PLAIN from the cache (sasl_cache.h): SASLSRV_OK or SASLSRV_FAIL when
 * decided, SASLSRV_CONTINUE when the library must do it. */
static enum saslsrv_result saslsrv_plain_cached(struct saslsrv *s,
						const char *zid,
						const char *cid,
						const char *pass)
{
	const char *canon;

	if (!authcache_lookup(cid, pass, &canon))
		return SASLSRV_CONTINUE;
	s->authid = xstrdup(canon);
	if (*zid != '\0' &&
	    !saslsrv_may_act_as(zid, strlen(zid), canon, strlen(canon)))
		return saslsrv_fail(s, SASLSRV_FAIL, "authorization refused");
	s->user = xstrdup(*zid != '\0' ? zid : canon);
	s->mech = xstrdup("PLAIN");
	s->cached = 1;
	return SASLSRV_OK;
}

enum saslsrv_result saslsrv_start(struct saslsrv *s, const char *mech,
				  const char *initial_b64,
				  char **challenge_b64_r)
{
	const char *zid = NULL, *cid = NULL, *pass = NULL;
	enum saslsrv_result res;
	const char *out = NULL;
	unsigned outlen = 0;
	char *in = NULL;
	unsigned inlen = 0;
	int r;

	*challenge_b64_r = NULL;
	saslsrv_reset_result(s);
	if (!saslsrv_mech_offered(s, mech))
		return saslsrv_fail(s, SASLSRV_NO_MECH,
				    "mechanism not available");
	if (initial_b64 != NULL && strcmp(initial_b64, "=") != 0 &&
	    saslsrv_b64_decode(initial_b64, &in, &inlen) < 0)
		return saslsrv_fail(s, SASLSRV_BAD_INPUT, "malformed base64");
	if (initial_b64 != NULL && in == NULL)
		in = xstrdup(""); /* "=" : an empty initial response */
	if (in != NULL && strcasecmp(mech, "PLAIN") == 0 &&
	    saslsrv_plain_split(in, inlen, &zid, &cid, &pass) == 0) {
		res = saslsrv_plain_cached(s, zid, cid, pass);
		if (res != SASLSRV_CONTINUE) {
			explicit_bzero(in, inlen);
			free(in);
			return res;
		}
	} else {
		cid = pass = NULL;
	}
	if (saslsrv_prepare(s) < 0) {
		free(in);
		return saslsrv_fail(s, SASLSRV_TEMPFAIL, "SASL unavailable");
	}
	s->used = 1;
	s->in_progress = 1;
	r = sasl_server_start(s->conn, mech, in, inlen, &out, &outlen);
	res = saslsrv_outcome(s, r, out, outlen, challenge_b64_r);
	if (res == SASLSRV_OK && cid != NULL)
		authcache_store(cid, pass, s->authid);
	if (in != NULL) {
		explicit_bzero(in, inlen);
		free(in);
	}
	return res;
}

enum saslsrv_result saslsrv_step(struct saslsrv *s, const char *response_b64,
				 char **challenge_b64_r)
{
	const char *out = NULL;
	unsigned outlen = 0;
	char *in = NULL;
	unsigned inlen = 0;
	int r;

	*challenge_b64_r = NULL;
	if (!s->in_progress)
		return saslsrv_fail(s, SASLSRV_BAD_INPUT,
				    "no authentication in progress");
	/* RFC 4422 section 3.5; IMAP (RFC 9051 6.2.2), POP3 (RFC 5034). */
	if (strcmp(response_b64, "*") == 0)
		return saslsrv_fail(s, SASLSRV_CANCEL,
				    "authentication cancelled");
	if (saslsrv_b64_decode(response_b64, &in, &inlen) < 0)
		return saslsrv_fail(s, SASLSRV_BAD_INPUT, "malformed base64");
	if (s->success_pending) {
		free(in);
		s->success_pending = 0;
		if (inlen != 0)
			return saslsrv_fail(s, SASLSRV_BAD_INPUT,
					    "expected an empty response");
		return saslsrv_finish(s);
	}
	r = sasl_server_step(s->conn, in, inlen, &out, &outlen);
	explicit_bzero(in, inlen);
	free(in);
	return saslsrv_outcome(s, r, out, outlen, challenge_b64_r);
}

enum saslsrv_result saslsrv_checkpass(struct saslsrv *s, const char *user,
				      const char *pass, const char *authzid)
{
	const void *canon = NULL;
	const char *cached;
	int r;

	saslsrv_reset_result(s);
	if (!saslsrv_plaintext_ok(s))
		return saslsrv_fail(s, SASLSRV_NO_MECH,
				    "plaintext login needs TLS");
	if (user == NULL || pass == NULL || user[0] == '\0' || pass[0] == '\0')
		return saslsrv_fail(s, SASLSRV_FAIL, "authentication failure");
	if (authcache_lookup(user, pass, &cached)) {
		s->authid = xstrdup(cached);
		canon = s->authid;
		s->cached = 1;
		goto verified;
	}
	if (saslsrv_prepare(s) < 0)
		return saslsrv_fail(s, SASLSRV_TEMPFAIL, "SASL unavailable");
	s->used = 1;
	r = sasl_checkpass(s->conn, user, (unsigned)strlen(user), pass,
			   (unsigned)strlen(pass));
	if (r != SASL_OK) {
		s->authid = xstrdup(user); /* for the caller's log */
		return saslsrv_map_error(s, r);
	}
	if (sasl_getprop(s->conn, SASL_USERNAME, &canon) != SASL_OK ||
	    canon == NULL)
		canon = user;
	s->authid = xstrdup(canon);
	authcache_store(user, pass, s->authid);
verified:
	if (authzid != NULL && authzid[0] != '\0' &&
	    !saslsrv_may_act_as(authzid, strlen(authzid), canon,
				strlen(canon))) {
		char q1[128], q2[128];

		log_info("event=sasl_authz_refused session=%s authid=%s "
			 "authzid=%s",
			 s->c ? conn_id(s->c) : "-",
			 log_q(q1, sizeof(q1), canon),
			 log_q(q2, sizeof(q2), authzid));
		return saslsrv_fail(s, SASLSRV_FAIL, "authorization refused");
	}
	s->user =
	    xstrdup(authzid != NULL && authzid[0] != '\0' ? authzid : canon);
	s->mech = xstrdup("LOGIN");
	return SASLSRV_OK;
}

const char *saslsrv_user(const struct saslsrv *s)
{
	return s->user;
}

const char *saslsrv_authid(const struct saslsrv *s)
{
	return s->authid;
}

const char *saslsrv_mech(const struct saslsrv *s)
{
	return s->mech;
}

int saslsrv_cached(const struct saslsrv *s)
{
	return s->cached;
}

const char *saslsrv_error(const struct saslsrv *s)
{
	return s->error ? s->error : "";
}

/* --- administration ------------------------------------------------------- */

int saslsrv_setpass(const char *user, const char *pass, char **err_r)
{
	sasl_conn_t *conn = NULL;
	int r;

	if (!saslsrv_g.initialised) {
		*err_r = xstrdup("SASL is not initialised");
		return -1;
	}
	if (user == NULL || user[0] == '\0' || strchr(user, ' ') != NULL) {
		*err_r =
		    xasprintf("invalid user name \"%s\"", user ? user : "");
		return -1;
	}
	if (pass != NULL && pass[0] == '\0') {
		*err_r = xstrdup("empty password");
		return -1;
	}
	r = sasl_server_new("rookery", saslsrv_g.hostname, NULL, NULL, NULL,
			    NULL, 0, &conn);
	if (r != SASL_OK) {
		*err_r = xasprintf("SASL: %s", sasl_errstring(r, NULL, NULL));
		return -1;
	}
	if (pass != NULL)
		r = sasl_setpass(conn, user, pass, (unsigned)strlen(pass), NULL,
				 0, SASL_SET_CREATE);
	else
		r = sasl_setpass(conn, user, NULL, 0, NULL, 0,
				 SASL_SET_DISABLE);
	if (r != SASL_OK) {
		/* sasl_errdetail() names the last callback looked up, not
		 * the cause; the library has logged the cause. */
		*err_r = xasprintf("%s: cannot %s %s: %s (can this user "
				   "write the file and its directory?)",
				   saslsrv_g.sasldb,
				   pass ? "set the password of" : "delete",
				   user, sasl_errstring(r, NULL, NULL));
		sasl_dispose(&conn);
		return -1;
	}
	sasl_dispose(&conn);
	log_info("event=sasl_setpass user=%s op=%s", user,
		 pass ? "set" : "delete");
	return 0;
}

static int saslsrv_cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * sasldb2 is a Berkeley DB hash whose keys are "user\0realm\0property";
 * a user has one key per property (userPassword, cmusaslsecret...).
 */
static int saslsrv_collect_users(char ***users_r, size_t *n_r, char **err_r)
{
	DB *db = NULL;
	DBC *cur = NULL;
	DBT key, data;
	char **users = NULL;
	size_t n = 0;
	int r;

	*users_r = NULL;
	*n_r = 0;
	r = db_create(&db, NULL, 0);
	if (r == 0)
		r = db->open(db, NULL, saslsrv_g.sasldb, NULL, DB_HASH,
			     DB_RDONLY, 0);
	if (r == ENOENT) {
		db->close(db, 0);
		return 0; /* no user was ever added */
	}
	if (r == 0)
		r = db->cursor(db, NULL, &cur, 0);
	if (r != 0) {
		*err_r = xasprintf("%s: %s", saslsrv_g.sasldb, db_strerror(r));
		if (db != NULL)
			db->close(db, 0);
		return -1;
	}
	memset(&key, 0, sizeof(key));
	memset(&data, 0, sizeof(data));
	while ((r = cur->get(cur, &key, &data, DB_NEXT)) == 0) {
		const char *k = key.data;
		size_t ulen = strnlen(k, key.size);
		size_t rlen;

		if (ulen + 1 >= key.size)
			continue; /* not a sasldb key */
		rlen = strnlen(k + ulen + 1, key.size - ulen - 1);
		users = xrealloc(users, (n + 1) * sizeof(*users));
		if (rlen > 0)
			users[n++] = xasprintf("%.*s@%.*s", (int)ulen, k,
					       (int)rlen, k + ulen + 1);
		else
			users[n++] = xstrndup(k, ulen);
	}
	cur->close(cur);
	db->close(db, 0);
	if (r != DB_NOTFOUND) {
		*err_r = xasprintf("%s: %s", saslsrv_g.sasldb, db_strerror(r));
		for (size_t i = 0; i < n; i++)
			free(users[i]);
		free(users);
		return -1;
	}
	*users_r = users;
	*n_r = n;
	return 0;
}

int saslsrv_list_users(int (*cb)(const char *user, void *arg), void *arg,
		       char **err_r)
{
	char **users;
	size_t n;
	int stop = 0;

	if (!saslsrv_g.initialised) {
		*err_r = xstrdup("SASL is not initialised");
		return -1;
	}
	if (saslsrv_collect_users(&users, &n, err_r) < 0)
		return -1;
	if (n > 0)
		qsort(users, n, sizeof(*users), saslsrv_cmp_str);
	for (size_t i = 0; i < n && !stop; i++)
		if (i == 0 || strcmp(users[i], users[i - 1]) != 0)
			stop = cb(users[i], arg);
	for (size_t i = 0; i < n; i++)
		free(users[i]);
	free(users);
	return 0;
}
