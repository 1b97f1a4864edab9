/*
 * test_sasl.c - lib/sasl.c against a temporary sasldb, with libsasl2's
 * client side in the same process driving full exchanges, and the stock
 * tools (saslpasswd2, sasldblistusers2) checking what was stored.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sasl/sasl.h>
#include <sasl/saslutil.h>

#include "config.h"
#include "sasl.h"
#include "strbuf.h"

#define ALICE "alice@example.com"
#define ALICE_PW "wonder land"
#define BOB "bob@example.com"
#define BOB_PW "b0b-pass"
#define PROXY "proxy@example.com"
#define PROXY_PW "mux-secret"

static char tmpdir[] = "/tmp/rookery-test-sasl-XXXXXX";
static char sasldb[256];
static struct config *cfg;

/* --- helpers -------------------------------------------------------------- */

static char *b64(const char *data, size_t len)
{
	unsigned outmax = (unsigned)((len + 2) / 3 * 4 + 1);
	unsigned outlen = 0;
	char *out = xmalloc(outmax);

	if (len == 0) {
		out[0] = '\0';
		return out;
	}
	assert_int_equal(
	    sasl_encode64(data, (unsigned)len, out, outmax, &outlen), SASL_OK);
	out[outlen] = '\0';
	return out;
}

static char *unb64(const char *in, unsigned *len_r)
{
	size_t inlen = strlen(in);
	char *out = xmalloc(inlen + 4);

	*len_r = 0;
	if (inlen == 0) {
		out[0] = '\0';
		return out;
	}
	assert_int_equal(
	    sasl_decode64(in, (unsigned)inlen, out, (unsigned)inlen + 4, len_r),
	    SASL_OK);
	out[*len_r] = '\0';
	return out;
}

static char *plain_b64(const char *authzid, const char *authid,
		       const char *pass)
{
	struct strbuf sb;
	char *r;

	strbuf_init(&sb);
	strbuf_adds(&sb, authzid);
	strbuf_addc(&sb, '\0');
	strbuf_adds(&sb, authid);
	strbuf_addc(&sb, '\0');
	strbuf_adds(&sb, pass);
	r = b64(sb.data, sb.len);
	strbuf_free(&sb);
	return r;
}

static int run_cmd(const char *cmd)
{
	int st = system(cmd);

	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Lines of `sasldblistusers2 -f sasldb`: "user@realm: property". */
static char *listusers2(void)
{
	char cmd[512];
	struct strbuf sb;
	FILE *f;
	char line[512];
	char *r;

	snprintf(cmd, sizeof(cmd), "sasldblistusers2 -f %s 2>&1", sasldb);
	f = popen(cmd, "r");
	assert_non_null(f);
	strbuf_init(&sb);
	while (fgets(line, sizeof(line), f) != NULL)
		strbuf_adds(&sb, line);
	pclose(f);
	r = strbuf_steal(&sb, NULL);
	strbuf_free(&sb);
	return r;
}

struct userlist {
	char names[16][128];
	int n;
	int stop_after;
};

static int collect_cb(const char *user, void *arg)
{
	struct userlist *l = arg;

	if (l->n < 16)
		snprintf(l->names[l->n], sizeof(l->names[0]), "%s", user);
	l->n++;
	return l->stop_after != 0 && l->n >= l->stop_after;
}

static int has_user(const struct userlist *l, const char *user)
{
	for (int i = 0; i < l->n && i < 16; i++)
		if (strcmp(l->names[i], user) == 0)
			return 1;
	return 0;
}

static int has_word(const char *list, const char *word)
{
	size_t wl = strlen(word);
	const char *p = list;

	while ((p = strstr(p, word)) != NULL) {
		if ((p == list || p[-1] == ' ') &&
		    (p[wl] == ' ' || p[wl] == '\0'))
			return 1;
		p += wl;
	}
	return 0;
}

/* --- libsasl2 client ------------------------------------------------------ */

struct client {
	const char *authid;
	const char *authzid; /* NULL: none */
	const char *pass;
	sasl_secret_t *secret;
	sasl_callback_t cbs[6];
};

static int client_simple(void *ctx, int id, const char **result, unsigned *len)
{
	struct client *c = ctx;

	if (id == SASL_CB_AUTHNAME)
		*result = c->authid;
	else if (id == SASL_CB_USER)
		*result = c->authzid ? c->authzid : "";
	else
		return SASL_BADPARAM;
	if (len != NULL)
		*len = (unsigned)strlen(*result);
	return SASL_OK;
}

static int client_pass(sasl_conn_t *conn, void *ctx, int id,
		       sasl_secret_t **psecret)
{
	struct client *c = ctx;
	size_t len = strlen(c->pass);

	(void)conn;
	(void)id;
	if (c->secret == NULL) {
		c->secret = xcalloc(1, sizeof(sasl_secret_t) + len + 1);
		c->secret->len = len;
		memcpy(c->secret->data, c->pass, len);
	}
	*psecret = c->secret;
	return SASL_OK;
}

typedef int (*cb_fn)(void);
#define CB(fn) ((cb_fn)(void (*)(void))(fn))

static void client_init_cbs(struct client *c)
{
	int i = 0;

	c->cbs[i++] = (sasl_callback_t){SASL_CB_AUTHNAME, CB(client_simple), c};
	if (c->authzid != NULL)
		c->cbs[i++] =
		    (sasl_callback_t){SASL_CB_USER, CB(client_simple), c};
	c->cbs[i++] = (sasl_callback_t){SASL_CB_PASS, CB(client_pass), c};
	c->cbs[i++] = (sasl_callback_t){SASL_CB_LIST_END, NULL, NULL};
}

/*
 * Runs a full exchange of mech between a libsasl2 client and s.
 * Returns the server's final result; *rounds_r counts challenges.
 */
static enum saslsrv_result exchange(struct saslsrv *s, const char *mech,
				    const char *authid, const char *authzid,
				    const char *pass, int *rounds_r)
{
	struct client cl = {authid, authzid, pass, NULL, {{0}}};
	sasl_conn_t *cconn = NULL;
	const char *out = NULL;
	unsigned outlen = 0;
	const char *chosen = NULL;
	sasl_security_properties_t sp;
	enum saslsrv_result res;
	char *ir = NULL;
	char *chal = NULL;
	int r, rounds = 0;

	client_init_cbs(&cl);
	assert_int_equal(
	    sasl_client_new("imap", "test.host", NULL, NULL, cl.cbs, 0, &cconn),
	    SASL_OK);
	memset(&sp, 0, sizeof(sp));
	sp.max_ssf = 0;
	sasl_setprop(cconn, SASL_SEC_PROPS, &sp);
	r = sasl_client_start(cconn, mech, NULL, &out, &outlen, &chosen);
	assert_true(r == SASL_OK || r == SASL_CONTINUE);
	assert_string_equal(chosen, mech);
	if (out != NULL)
		ir = b64(out, outlen);
	res = saslsrv_start(s, mech, out != NULL ? (outlen ? ir : "=") : NULL,
			    &chal);
	free(ir);
	while (res == SASLSRV_CONTINUE) {
		unsigned clen;
		char *c = unb64(chal, &clen);
		char *resp;

		rounds++;
		free(chal);
		chal = NULL;
		r = sasl_client_step(cconn, c, clen, NULL, &out, &outlen);
		free(c);
		if (r != SASL_OK && r != SASL_CONTINUE) {
			print_message("client step %s: %s\n", mech,
				      sasl_errdetail(cconn));
			res = saslsrv_step(s, "*", &chal);
			assert_int_equal(res, SASLSRV_CANCEL);
			res = SASLSRV_FAIL;
			break;
		}
		resp = b64(out ? out : "", out ? outlen : 0);
		res = saslsrv_step(s, resp, &chal);
		free(resp);
	}
	free(chal);
	sasl_dispose(&cconn);
	free(cl.secret);
	if (rounds_r != NULL)
		*rounds_r = rounds;
	return res;
}

/* --- fixtures ------------------------------------------------------------- */

static int group_setup(void **state)
{
	char *err = NULL;
	char *text;
	struct config_section *g;

	(void)state;
	log_init("test_sasl", 0, LOG_LEVEL_WARN);
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	snprintf(sasldb, sizeof(sasldb), "%s/sasldb2", tmpdir);
	text = xasprintf("[global]\n"
			 "sasldb = %s\n"
			 "proxy_identities = %s mux\n"
			 "hostname = test.host\n",
			 sasldb, PROXY);
	if (config_parse("test", text, &cfg, &err) < 0) {
		fprintf(stderr, "config: %s\n", err);
		return -1;
	}
	free(text);
	g = config_section(cfg, "global", NULL);
	if (saslsrv_init("rookery-test", g, &err) < 0) {
		fprintf(stderr, "init: %s\n", err);
		return -1;
	}
	if (sasl_client_init(NULL) != SASL_OK)
		return -1;
	if (saslsrv_setpass(ALICE, ALICE_PW, &err) < 0 ||
	    saslsrv_setpass(BOB, BOB_PW, &err) < 0 ||
	    saslsrv_setpass(PROXY, PROXY_PW, &err) < 0) {
		fprintf(stderr, "setpass: %s\n", err);
		return -1;
	}
	return 0;
}

static int group_teardown(void **state)
{
	char cmd[512];

	(void)state;
	saslsrv_done();
	sasl_client_done();
	config_free(&cfg);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	return run_cmd(cmd) == 0 ? 0 : -1;
}

static struct saslsrv *new_tls(void)
{
	struct saslsrv *s =
	    saslsrv_new_detached("imap", 1, "127.0.0.1;143", "127.0.0.1;40000");

	assert_non_null(s);
	return s;
}

static struct saslsrv *new_plain(void)
{
	struct saslsrv *s = saslsrv_new_detached("imap", 0, NULL, NULL);

	assert_non_null(s);
	return s;
}

/* --- tests: administration ------------------------------------------------ */

static void test_setpass_and_list(void **state)
{
	struct userlist l = {0};
	char *err = NULL;
	char *out;

	(void)state;
	assert_int_equal(saslsrv_list_users(collect_cb, &l, &err), 0);
	assert_int_equal(l.n, 3);
	/* sorted, one entry per user whatever its property count */
	assert_string_equal(l.names[0], ALICE);
	assert_string_equal(l.names[1], BOB);
	assert_string_equal(l.names[2], PROXY);

	/* The stock tool sees the same users, stored as user "alice" in
	 * realm "example.com" with the userPassword property, exactly as
	 * `saslpasswd2 -c alice@example.com` stores them (libsasl2 2.1.28's
	 * SCRAM derives its keys from userPassword; it stores no secret of
	 * its own). */
	out = listusers2();
	assert_non_null(strstr(out, ALICE ": userPassword\n"));
	assert_non_null(strstr(out, BOB ": userPassword\n"));
	assert_non_null(strstr(out, PROXY ": userPassword\n"));
	assert_null(strstr(out, "@test.host"));
	free(out);

	/* The callback can stop the walk. */
	memset(&l, 0, sizeof(l));
	l.stop_after = 1;
	assert_int_equal(saslsrv_list_users(collect_cb, &l, &err), 0);
	assert_int_equal(l.n, 1);

	/* Errors */
	assert_int_equal(saslsrv_setpass("", "x", &err), -1);
	free(err);
	err = NULL;
	assert_int_equal(saslsrv_setpass(ALICE, "", &err), -1);
	free(err);
}

static void test_saslpasswd2_interop(void **state)
{
	struct saslsrv *s;
	struct userlist l = {0};
	char cmd[512];
	char *err = NULL;
	char *out;

	(void)state;
	/* A user made by the stock tool logs in through us ... */
	snprintf(cmd, sizeof(cmd),
		 "printf 'carols pw' | saslpasswd2 -f %s -p -c "
		 "carol@example.com",
		 sasldb);
	assert_int_equal(run_cmd(cmd), 0);
	assert_int_equal(saslsrv_list_users(collect_cb, &l, &err), 0);
	assert_true(has_user(&l, "carol@example.com"));
	s = new_tls();
	assert_int_equal(
	    saslsrv_checkpass(s, "carol@example.com", "carols pw", NULL),
	    SASLSRV_OK);
	assert_int_equal(exchange(s, "SCRAM-SHA-256", "carol@example.com", NULL,
				  "carols pw", NULL),
			 SASLSRV_OK);

	/* ... and one we delete is gone for the stock tool as well. */
	assert_int_equal(saslsrv_setpass("carol@example.com", NULL, &err), 0);
	out = listusers2();
	assert_null(strstr(out, "carol@example.com"));
	free(out);
	memset(&l, 0, sizeof(l));
	assert_int_equal(saslsrv_list_users(collect_cb, &l, &err), 0);
	assert_false(has_user(&l, "carol@example.com"));
	assert_int_equal(
	    saslsrv_checkpass(s, "carol@example.com", "carols pw", NULL),
	    SASLSRV_FAIL);

	/* A password we change works; the old one no longer does. */
	assert_int_equal(saslsrv_setpass(BOB, "new-bob", &err), 0);
	assert_int_equal(saslsrv_checkpass(s, BOB, BOB_PW, NULL), SASLSRV_FAIL);
	assert_int_equal(saslsrv_checkpass(s, BOB, "new-bob", NULL),
			 SASLSRV_OK);
	assert_int_equal(exchange(s, "SCRAM-SHA-1", BOB, NULL, "new-bob", NULL),
			 SASLSRV_OK);
	assert_int_equal(saslsrv_setpass(BOB, BOB_PW, &err), 0);
	saslsrv_free(&s);
	assert_null(s);
}

/* --- tests: mechanisms ---------------------------------------------------- */

static void test_mechanisms_tls(void **state)
{
	struct saslsrv *s = new_tls();
	const char *m = saslsrv_mechanisms(s);

	(void)state;
	print_message("mechanisms with TLS: %s\n", m);
	assert_true(saslsrv_plaintext_ok(s));
	assert_true(has_word(m, "PLAIN"));
	assert_true(has_word(m, "LOGIN"));
	assert_true(has_word(m, "CRAM-MD5"));
	assert_true(has_word(m, "SCRAM-SHA-1"));
	assert_true(has_word(m, "SCRAM-SHA-256"));
	assert_false(has_word(m, "ANONYMOUS"));
	assert_false(has_word(m, "EXTERNAL"));
	saslsrv_free(&s);
}

static void test_mechanisms_plain_link(void **state)
{
	struct saslsrv *s = new_plain();
	const char *m = saslsrv_mechanisms(s);
	char *chal = NULL;
	char *ir;

	(void)state;
	print_message("mechanisms without TLS: %s\n", m);
	assert_false(saslsrv_plaintext_ok(s));
	assert_false(has_word(m, "PLAIN"));
	assert_false(has_word(m, "LOGIN"));
	assert_false(has_word(m, "ANONYMOUS"));
	assert_true(has_word(m, "CRAM-MD5"));
	assert_true(has_word(m, "SCRAM-SHA-256"));

	/* Not offered means not accepted either. */
	ir = plain_b64("", ALICE, ALICE_PW);
	assert_int_equal(saslsrv_start(s, "PLAIN", ir, &chal), SASLSRV_NO_MECH);
	assert_null(chal);
	free(ir);
	assert_int_equal(saslsrv_checkpass(s, ALICE, ALICE_PW, NULL),
			 SASLSRV_NO_MECH);
	/* The hashed mechanisms still work. */
	assert_int_equal(
	    exchange(s, "SCRAM-SHA-256", ALICE, NULL, ALICE_PW, NULL),
	    SASLSRV_OK);
	assert_int_equal(exchange(s, "CRAM-MD5", ALICE, NULL, ALICE_PW, NULL),
			 SASLSRV_OK);
	saslsrv_free(&s);
}

static void test_unknown_mech(void **state)
{
	struct saslsrv *s = new_tls();
	char *chal = NULL;

	(void)state;
	assert_int_equal(saslsrv_start(s, "FOO-BAR", NULL, &chal),
			 SASLSRV_NO_MECH);
	assert_int_equal(saslsrv_start(s, "ANONYMOUS", "=", &chal),
			 SASLSRV_NO_MECH);
	assert_null(chal);
	assert_string_equal(saslsrv_error(s), "mechanism not available");
	/* A step without a start */
	assert_int_equal(saslsrv_step(s, "", &chal), SASLSRV_BAD_INPUT);
	saslsrv_free(&s);
}

/* --- tests: PLAIN --------------------------------------------------------- */

static void expect_plain(struct saslsrv *s, const char *authzid,
			 const char *authid, const char *pass,
			 enum saslsrv_result want)
{
	char *ir = plain_b64(authzid, authid, pass);
	char *chal = NULL;

	assert_int_equal(saslsrv_start(s, "PLAIN", ir, &chal), want);
	assert_null(chal);
	free(ir);
}

/* Addresses the library cannot parse are dropped, not fatal. */
static void test_odd_addresses(void **state)
{
	struct saslsrv *s =
	    saslsrv_new_detached("imap", 1, "not-an-ip;x", "[::1];143");

	(void)state;
	assert_non_null(s);
	expect_plain(s, "", ALICE, ALICE_PW, SASLSRV_OK);
	saslsrv_free(&s);
	s = saslsrv_new_detached("imap", 1, "::1;143", "10.0.0.1;40000");
	assert_non_null(s);
	expect_plain(s, "", ALICE, ALICE_PW, SASLSRV_OK);
	saslsrv_free(&s);
	/* a NULL conn is a plain link without addresses */
	s = saslsrv_new("imap", NULL);
	assert_non_null(s);
	assert_false(saslsrv_plaintext_ok(s));
	saslsrv_free(&s);
}

static void test_plain(void **state)
{
	struct saslsrv *s = new_tls();

	(void)state;
	expect_plain(s, "", ALICE, ALICE_PW, SASLSRV_OK);
	assert_string_equal(saslsrv_user(s), ALICE);
	assert_string_equal(saslsrv_authid(s), ALICE);
	assert_string_equal(saslsrv_mech(s), "PLAIN");

	expect_plain(s, "", ALICE, "wrong", SASLSRV_FAIL);
	assert_null(saslsrv_user(s));
	assert_null(saslsrv_mech(s));
	/* who tried, for the log */
	assert_string_equal(saslsrv_authid(s), ALICE);
	assert_string_equal(saslsrv_error(s), "authentication failure");
	expect_plain(s, "", "nobody@example.com", "x", SASLSRV_FAIL);
	/* the realm is part of the name */
	expect_plain(s, "", "alice@example.org", ALICE_PW, SASLSRV_FAIL);
	expect_plain(s, "", "alice", ALICE_PW, SASLSRV_FAIL);

	/* An authzid equal to the authid is no proxying. */
	expect_plain(s, ALICE, ALICE, ALICE_PW, SASLSRV_OK);
	assert_string_equal(saslsrv_user(s), ALICE);
	saslsrv_free(&s);
}

static void test_plain_no_initial_response(void **state)
{
	struct saslsrv *s = new_tls();
	char *chal = NULL;
	char *resp;

	(void)state;
	assert_int_equal(saslsrv_start(s, "PLAIN", NULL, &chal),
			 SASLSRV_CONTINUE);
	assert_non_null(chal);
	assert_string_equal(chal, "");
	free(chal);
	resp = plain_b64("", ALICE, ALICE_PW);
	assert_int_equal(saslsrv_step(s, resp, &chal), SASLSRV_OK);
	free(resp);
	assert_string_equal(saslsrv_user(s), ALICE);

	/* "=" is an empty initial response (RFC 4959): PLAIN rejects it. */
	assert_int_equal(saslsrv_start(s, "PLAIN", "=", &chal),
			 SASLSRV_BAD_INPUT);
	saslsrv_free(&s);
}

static void test_proxy_authz(void **state)
{
	struct saslsrv *s = new_tls();

	(void)state;
	/* A configured proxy identity may act as anyone ... */
	expect_plain(s, BOB, PROXY, PROXY_PW, SASLSRV_OK);
	assert_string_equal(saslsrv_user(s), BOB);
	assert_string_equal(saslsrv_authid(s), PROXY);
	/* ... but still needs its own password. */
	expect_plain(s, BOB, PROXY, BOB_PW, SASLSRV_FAIL);
	/* Everyone else is refused a foreign authzid. */
	expect_plain(s, BOB, ALICE, ALICE_PW, SASLSRV_FAIL);
	assert_string_equal(saslsrv_error(s), "authorization refused");
	assert_null(saslsrv_user(s));

	/* The same rules through the libsasl2 client, for each mechanism
	 * that carries an authzid. */
	assert_int_equal(
	    exchange(s, "SCRAM-SHA-256", PROXY, ALICE, PROXY_PW, NULL),
	    SASLSRV_OK);
	assert_string_equal(saslsrv_user(s), ALICE);
	assert_string_equal(saslsrv_authid(s), PROXY);
	assert_int_equal(exchange(s, "SCRAM-SHA-256", BOB, ALICE, BOB_PW, NULL),
			 SASLSRV_FAIL);
	assert_int_equal(exchange(s, "PLAIN", PROXY, BOB, PROXY_PW, NULL),
			 SASLSRV_OK);
	assert_string_equal(saslsrv_user(s), BOB);

	/* And for plaintext logins. */
	assert_int_equal(saslsrv_checkpass(s, PROXY, PROXY_PW, ALICE),
			 SASLSRV_OK);
	assert_string_equal(saslsrv_user(s), ALICE);
	assert_string_equal(saslsrv_authid(s), PROXY);
	assert_int_equal(saslsrv_checkpass(s, BOB, BOB_PW, ALICE),
			 SASLSRV_FAIL);
	assert_string_equal(saslsrv_error(s), "authorization refused");
	assert_int_equal(saslsrv_checkpass(s, BOB, BOB_PW, BOB), SASLSRV_OK);
	saslsrv_free(&s);
}

/* --- tests: input handling ------------------------------------------------ */

static void test_bad_base64(void **state)
{
	static const char *const bad[] = {
	    "abc",	/* not a multiple of 4 */
	    "ab!d",	/* outside the alphabet */
	    "YQ==YQ==", /* data after padding */
	    "Y===",	/* three pad characters */
	    "YW Jj",	/* embedded space */
	    "====",
	};
	struct saslsrv *s = new_tls();
	char *chal = NULL;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(saslsrv_start(s, "PLAIN", bad[i], &chal),
				 SASLSRV_BAD_INPUT);
		assert_null(chal);
		assert_string_equal(saslsrv_error(s), "malformed base64");

		assert_int_equal(saslsrv_start(s, "LOGIN", NULL, &chal),
				 SASLSRV_CONTINUE);
		free(chal);
		chal = NULL;
		assert_int_equal(saslsrv_step(s, bad[i], &chal),
				 SASLSRV_BAD_INPUT);
		assert_null(chal);
		/* the exchange is over */
		assert_int_equal(saslsrv_step(s, "", &chal), SASLSRV_BAD_INPUT);
	}
	saslsrv_free(&s);
}

static void test_cancel(void **state)
{
	struct saslsrv *s = new_tls();
	char *chal = NULL;
	char *resp;

	(void)state;
	assert_int_equal(saslsrv_start(s, "LOGIN", NULL, &chal),
			 SASLSRV_CONTINUE);
	free(chal);
	assert_int_equal(saslsrv_step(s, "*", &chal), SASLSRV_CANCEL);
	assert_null(chal);
	assert_null(saslsrv_user(s));
	assert_int_equal(saslsrv_step(s, "", &chal), SASLSRV_BAD_INPUT);

	/* A new exchange after a cancelled one starts clean. */
	assert_int_equal(saslsrv_start(s, "PLAIN", NULL, &chal),
			 SASLSRV_CONTINUE);
	free(chal);
	resp = plain_b64("", BOB, BOB_PW);
	assert_int_equal(saslsrv_step(s, resp, &chal), SASLSRV_OK);
	free(resp);
	assert_string_equal(saslsrv_user(s), BOB);
	saslsrv_free(&s);
}

static void test_login_steps(void **state)
{
	struct saslsrv *s = new_tls();
	char *chal = NULL;
	char *dec, *resp;
	unsigned len;

	(void)state;
	assert_int_equal(saslsrv_start(s, "LOGIN", NULL, &chal),
			 SASLSRV_CONTINUE);
	dec = unb64(chal, &len);
	assert_string_equal(dec, "Username:");
	free(dec);
	free(chal);
	resp = b64(ALICE, strlen(ALICE));
	assert_int_equal(saslsrv_step(s, resp, &chal), SASLSRV_CONTINUE);
	free(resp);
	dec = unb64(chal, &len);
	assert_string_equal(dec, "Password:");
	free(dec);
	free(chal);
	resp = b64(ALICE_PW, strlen(ALICE_PW));
	assert_int_equal(saslsrv_step(s, resp, &chal), SASLSRV_OK);
	free(resp);
	assert_null(chal);
	assert_string_equal(saslsrv_user(s), ALICE);
	assert_string_equal(saslsrv_mech(s), "LOGIN");

	/* With the user name as initial response (SASL-IR) and a wrong
	 * password. */
	resp = b64(ALICE, strlen(ALICE));
	assert_int_equal(saslsrv_start(s, "LOGIN", resp, &chal),
			 SASLSRV_CONTINUE);
	free(resp);
	dec = unb64(chal, &len);
	assert_string_equal(dec, "Password:");
	free(dec);
	free(chal);
	resp = b64("nope", 4);
	assert_int_equal(saslsrv_step(s, resp, &chal), SASLSRV_FAIL);
	free(resp);
	saslsrv_free(&s);
}

/* CRAM-MD5 (RFC 2195) computed here with OpenSSL's HMAC. */
static void test_cram_md5(void **state)
{
	struct saslsrv *s = new_plain();
	const struct {
		const char *user, *pass;
		enum saslsrv_result want;
	} cases[] = {
	    {ALICE, ALICE_PW, SASLSRV_OK},
	    {ALICE, "wrong", SASLSRV_FAIL},
	    {"ghost@example.com", "x", SASLSRV_FAIL},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		unsigned char mac[EVP_MAX_MD_SIZE];
		unsigned maclen = 0, clen;
		char *chal = NULL, *c, *resp;
		char line[256];
		int n;

		assert_int_equal(saslsrv_start(s, "CRAM-MD5", NULL, &chal),
				 SASLSRV_CONTINUE);
		c = unb64(chal, &clen);
		free(chal);
		assert_true(c[0] == '<' && c[clen - 1] == '>');
		assert_non_null(HMAC(EVP_md5(), cases[i].pass,
				     (int)strlen(cases[i].pass),
				     (unsigned char *)c, clen, mac, &maclen));
		free(c);
		assert_int_equal(maclen, 16);
		n = snprintf(line, sizeof(line), "%s ", cases[i].user);
		for (unsigned k = 0; k < maclen; k++)
			n += snprintf(line + n, sizeof(line) - (size_t)n,
				      "%02x", mac[k]);
		resp = b64(line, (size_t)n);
		assert_int_equal(saslsrv_step(s, resp, &chal), cases[i].want);
		free(resp);
		if (cases[i].want == SASLSRV_OK) {
			assert_string_equal(saslsrv_user(s), cases[i].user);
			assert_string_equal(saslsrv_mech(s), "CRAM-MD5");
		}
	}
	saslsrv_free(&s);
}

/* Every mechanism the server offers over TLS, against libsasl2's client. */
static void test_all_mechanisms_client(void **state)
{
	struct saslsrv *s = new_tls();
	char *mechs = xstrdup(saslsrv_mechanisms(s));
	char *save = NULL;
	int tested = 0;

	(void)state;
	for (char *m = strtok_r(mechs, " ", &save); m != NULL;
	     m = strtok_r(NULL, " ", &save)) {
		int rounds = 0;
		enum saslsrv_result r;

		r = exchange(s, m, ALICE, NULL, ALICE_PW, &rounds);
		print_message("%-14s right password: %s (%d challenges)\n", m,
			      r == SASLSRV_OK ? "ok" : saslsrv_error(s),
			      rounds);
		assert_int_equal(r, SASLSRV_OK);
		assert_string_equal(saslsrv_user(s), ALICE);
		assert_string_equal(saslsrv_authid(s), ALICE);
		assert_string_equal(saslsrv_mech(s), m);

		r = exchange(s, m, ALICE, NULL, "not the password", NULL);
		assert_int_equal(r, SASLSRV_FAIL);
		assert_null(saslsrv_user(s));
		tested++;
	}
	assert_true(tested >= 5);
	free(mechs);
	saslsrv_free(&s);
}

static void test_checkpass(void **state)
{
	struct saslsrv *s = new_tls();

	(void)state;
	assert_int_equal(saslsrv_checkpass(s, ALICE, ALICE_PW, NULL),
			 SASLSRV_OK);
	assert_string_equal(saslsrv_user(s), ALICE);
	assert_string_equal(saslsrv_authid(s), ALICE);
	assert_string_equal(saslsrv_mech(s), "LOGIN");
	assert_int_equal(saslsrv_checkpass(s, ALICE, "wrong", NULL),
			 SASLSRV_FAIL);
	assert_null(saslsrv_user(s));
	assert_string_equal(saslsrv_authid(s), ALICE);
	assert_int_equal(saslsrv_checkpass(s, ALICE, "", NULL), SASLSRV_FAIL);
	assert_int_equal(saslsrv_checkpass(s, "", ALICE_PW, NULL),
			 SASLSRV_FAIL);
	assert_int_equal(saslsrv_checkpass(s, "ghost@example.com", "x", NULL),
			 SASLSRV_FAIL);
	assert_int_equal(saslsrv_checkpass(s, "alice", ALICE_PW, NULL),
			 SASLSRV_FAIL);
	assert_int_equal(saslsrv_checkpass(s, BOB, BOB_PW, NULL), SASLSRV_OK);
	assert_string_equal(saslsrv_user(s), BOB);
	saslsrv_free(&s);
}

static int split(const char *msg, size_t len, const char **z,
		 const char **c, const char **p)
{
	static char buf[256];

	memcpy(buf, msg, len);
	buf[len] = '\0';
	return saslsrv_plain_split(buf, (unsigned)len, z, c, p);
}

/* The PLAIN splitter the cache uses (RFC 4616 framing). */
#define SPLIT(lit) split(lit, sizeof(lit) - 1, &z, &c, &p)
static void test_plain_split(void **state)
{
	const char *z, *c, *p;

	(void)state;
	assert_int_equal(SPLIT("\0a@b\0pw"), 0);
	assert_string_equal(z, "");
	assert_string_equal(c, "a@b");
	assert_string_equal(p, "pw");
	assert_int_equal(SPLIT("x@y\0a@b\0pw"), 0);
	assert_string_equal(z, "x@y");
	assert_string_equal(p, "pw");
	/* a password may hold anything but NUL */
	assert_int_equal(SPLIT("\0a\0p w\x01\xff"), 0);
	assert_string_equal(p, "p w\x01\xff");
	/* left to the library: */
	assert_int_equal(SPLIT(""), -1);
	assert_int_equal(SPLIT("\0a@b"), -1);	  /* 1 NUL */
	assert_int_equal(SPLIT("\0a@b\0"), -1);   /* no pw */
	assert_int_equal(SPLIT("\0\0pw"), -1);    /* no id */
	assert_int_equal(SPLIT("\0a\0b\0c"), -1); /* 3 NULs */
	assert_int_equal(SPLIT("bob\0a\0pw"), -1); /* no @ */
	assert_int_equal(SPLIT("b b@x\0a\0pw"), -1);
}

/* The sasldb's contents as if last written a minute ago: the cache of
 * verified logins (sasl_cache.h) stores nothing for a younger file. */
static void sasldb_settle(void)
{
	struct timespec ts[2];

	clock_gettime(CLOCK_REALTIME, &ts[0]);
	ts[0].tv_sec -= 60;
	ts[1] = ts[0];
	assert_int_equal(utimensat(AT_FDCWD, sasldb, ts, 0), 0);
}

/*
 * The same answers from the cache as from the library: the second of two
 * identical logins is a cache hit, and still goes through the
 * authorization rule; a password change is seen at once.
 */
static void test_auth_cache(void **state)
{
	struct saslsrv *s = new_tls();
	char *err = NULL;

	(void)state;
	sasldb_settle();
	for (int i = 0; i < 2; i++) {
		assert_int_equal(saslsrv_checkpass(s, ALICE, ALICE_PW, NULL),
				 SASLSRV_OK);
		assert_int_equal(saslsrv_cached(s), i);
		assert_string_equal(saslsrv_user(s), ALICE);
		assert_string_equal(saslsrv_mech(s), "LOGIN");
		assert_int_equal(saslsrv_checkpass(s, ALICE, ALICE_PW, BOB),
				 SASLSRV_FAIL);
		assert_string_equal(saslsrv_error(s), "authorization refused");
		assert_int_equal(saslsrv_checkpass(s, ALICE, "wrong", NULL),
				 SASLSRV_FAIL);

		expect_plain(s, "", ALICE, ALICE_PW, SASLSRV_OK);
		assert_int_equal(saslsrv_cached(s), 1);
		assert_string_equal(saslsrv_user(s), ALICE);
		assert_string_equal(saslsrv_authid(s), ALICE);
		assert_string_equal(saslsrv_mech(s), "PLAIN");
		expect_plain(s, BOB, ALICE, ALICE_PW, SASLSRV_FAIL);
		assert_string_equal(saslsrv_error(s), "authorization refused");
		assert_null(saslsrv_user(s));
		expect_plain(s, "bob", ALICE, ALICE_PW, SASLSRV_FAIL);
		expect_plain(s, BOB, PROXY, PROXY_PW, SASLSRV_OK);
		assert_string_equal(saslsrv_user(s), BOB);
		assert_string_equal(saslsrv_authid(s), PROXY);
		expect_plain(s, BOB, PROXY, BOB_PW, SASLSRV_FAIL);
	}
	/* a new password: the old one stops working at once */
	assert_int_equal(saslsrv_setpass(ALICE, "new-secret", &err), 0);
	expect_plain(s, "", PROXY, PROXY_PW, SASLSRV_OK);
	assert_int_equal(saslsrv_cached(s), 0);
	assert_int_equal(saslsrv_checkpass(s, ALICE, ALICE_PW, NULL),
			 SASLSRV_FAIL);
	expect_plain(s, "", ALICE, ALICE_PW, SASLSRV_FAIL);
	assert_int_equal(saslsrv_checkpass(s, ALICE, "new-secret", NULL),
			 SASLSRV_OK);
	/* and a deleted user too */
	sasldb_settle();
	expect_plain(s, "", BOB, BOB_PW, SASLSRV_OK);
	expect_plain(s, "", BOB, BOB_PW, SASLSRV_OK);
	assert_int_equal(saslsrv_setpass(BOB, NULL, &err), 0);
	expect_plain(s, "", BOB, BOB_PW, SASLSRV_FAIL);
	assert_int_equal(saslsrv_setpass(BOB, BOB_PW, &err), 0);
	assert_int_equal(saslsrv_setpass(ALICE, ALICE_PW, &err), 0);
	saslsrv_free(&s);
}

/* Re-initialises with other options; runs last. */
static void reinit(const char *extra)
{
	struct config *c2 = NULL;
	char *err = NULL;
	char *text;

	saslsrv_done();
	text = xasprintf("[global]\nhostname = test.host\n%s", extra);
	assert_int_equal(config_parse("test2", text, &c2, &err), 0);
	free(text);
	if (saslsrv_init("rookery-test", config_section(c2, "global", NULL),
			 &err) < 0) {
		print_message("init: %s\n", err);
		fail();
	}
	config_free(&c2); /* saslsrv_init keeps copies */
}

static void test_options(void **state)
{
	struct saslsrv *s;
	struct config *c2 = NULL;
	char *err = NULL;
	char *text;

	(void)state;
	/* allow_plaintext and a restricted mechanism list */
	text = xasprintf("sasldb = %s\nallow_plaintext = yes\n"
			 "sasl_mechanisms = plain, scram-sha-256\n",
			 sasldb);
	reinit(text);
	free(text);
	s = new_plain();
	assert_true(saslsrv_plaintext_ok(s));
	/* in the configured order */
	assert_string_equal(saslsrv_mechanisms(s), "PLAIN SCRAM-SHA-256");
	expect_plain(s, "", ALICE, ALICE_PW, SASLSRV_OK);
	assert_int_equal(saslsrv_checkpass(s, ALICE, ALICE_PW, NULL),
			 SASLSRV_OK);
	assert_int_equal(
	    exchange(s, "SCRAM-SHA-256", ALICE, NULL, ALICE_PW, NULL),
	    SASLSRV_OK);
	assert_int_equal(saslsrv_start(s, "CRAM-MD5", NULL, &err),
			 SASLSRV_NO_MECH);
	/* no proxy identities configured: nobody may proxy */
	expect_plain(s, BOB, PROXY, PROXY_PW, SASLSRV_FAIL);
	saslsrv_free(&s);

	/* A user database that cannot be read is a temporary failure. */
	text = xasprintf("sasldb = %s/missing/sasldb2\n", tmpdir);
	reinit(text);
	free(text);
	s = new_tls();
	assert_int_equal(saslsrv_checkpass(s, ALICE, ALICE_PW, NULL),
			 SASLSRV_TEMPFAIL);
	assert_string_equal(saslsrv_error(s), "user database unavailable");
	expect_plain(s, "", ALICE, ALICE_PW, SASLSRV_TEMPFAIL);
	saslsrv_free(&s);
	assert_int_equal(saslsrv_setpass(ALICE, "x", &err), -1);
	print_message("setpass error: %s\n", err);
	free(err);

	/* Configuration errors */
	saslsrv_done();
	assert_int_equal(config_parse("t3",
				      "[global]\nallow_plaintext = maybe\n"
				      "sasldb = /tmp/x\n",
				      &c2, &err),
			 0);
	assert_int_equal(
	    saslsrv_init("x", config_section(c2, "global", NULL), &err), -1);
	free(err);
	config_free(&c2);
	assert_int_equal(config_parse("t4", "[global]\n", &c2, &err), 0);
	assert_int_equal(
	    saslsrv_init("x", config_section(c2, "global", NULL), &err), -1);
	assert_non_null(strstr(err, "sasldb"));
	free(err);
	config_free(&c2);
	assert_null(saslsrv_new_detached("imap", 1, NULL, NULL));
	assert_null(saslsrv_new("imap", NULL));

	/* back to the suite's configuration for the teardown */
	assert_int_equal(saslsrv_init("rookery-test",
				      config_section(cfg, "global", NULL),
				      &err),
			 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_setpass_and_list),
	    cmocka_unit_test(test_mechanisms_tls),
	    cmocka_unit_test(test_mechanisms_plain_link),
	    cmocka_unit_test(test_unknown_mech),
	    cmocka_unit_test(test_odd_addresses),
	    cmocka_unit_test(test_plain),
	    cmocka_unit_test(test_plain_no_initial_response),
	    cmocka_unit_test(test_proxy_authz),
	    cmocka_unit_test(test_bad_base64),
	    cmocka_unit_test(test_cancel),
	    cmocka_unit_test(test_login_steps),
	    cmocka_unit_test(test_cram_md5),
	    cmocka_unit_test(test_checkpass),
	    cmocka_unit_test(test_auth_cache),
	    cmocka_unit_test(test_plain_split),
	    cmocka_unit_test(test_all_mechanisms_client),
	    cmocka_unit_test(test_saslpasswd2_interop),
	    cmocka_unit_test(test_options),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
