/*
 * managesieve_cmd.c - the ManageSieve command table (RFC 5804 section 2)
 * and one handler per command.  The dispatcher checks the state and the
 * number of arguments from the table; handlers check argument kinds.
 *
 * Response codes used (RFC 5804 1.3), none hyphenated so that old
 * clients parse them: QUOTA/MAXSCRIPTS, QUOTA/MAXSIZE, NONEXISTENT,
 * ALREADYEXISTS, ACTIVE, TAG, TRYLATER; ENCRYPT-NEEDED only with
 * config sieve_extended_codes = yes.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "store/mailstore.h"
#include "net.h"
#include "sasl.h"
#include "sieve/managesieve.h"
#include "store/mailstore_sieve.h"
#include "store/store.h"

struct msv_command {
	const char *name;
	void (*fn)(struct msv_session *s);
	unsigned states;	     /* MSV_IN() mask */
	unsigned min_args, max_args; /* after the command name */
};

#define ARG(s, i) (&(s)->cmd.args[(i) + 1])
#define NARGS(s) ((s)->cmd.nargs - 1)

/* A string argument (quoted or literal), not an atom. */
static int is_string(const struct msv_arg *a)
{
	return a->type == MSV_QUOTED || a->type == MSV_LITERAL;
}

static int want_strings(struct msv_session *s, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (!is_string(ARG(s, i))) {
			msv_no(s, NULL, "Argument %u must be a string", i + 1);
			msv_bad_command(s);
			return -1;
		}
	return 0;
}

static void limits(struct msv_session *s, struct msieve_limits *lim)
{
	msieve_limits_load(s->st->sec, lim);
}

/* A script name argument; replies itself when it is not valid. */
static const char *script_name(struct msv_session *s, unsigned i)
{
	const struct msv_arg *a = ARG(s, i);

	if (msieve_name_valid(a->s.data, a->s.len) < 0) {
		msv_no(s, NULL, "Invalid script name");
		return NULL;
	}
	return a->s.data;
}

/* Common mapping of storage errors to replies. */
static void store_error(struct msv_session *s, enum mstore_err err,
			const char *what)
{
	switch (err) {
	case MSTORE_E_NOTFOUND:
		msv_no(s, "NONEXISTENT", "There is no script by that name");
		break;
	case MSTORE_E_EXISTS:
		msv_no(s, "ALREADYEXISTS", "A script with that name exists");
		break;
	case MSTORE_E_CANNOT:
		msv_no(s, "ACTIVE", "You may not delete an active script");
		break;
	case MSTORE_E_LIMIT:
		msv_no(s, "QUOTA/MAXSCRIPTS", "Too many scripts");
		break;
	case MSTORE_E_OVERQUOTA:
		msv_no(s, "QUOTA/MAXSIZE", "Script too big");
		break;
	case MSTORE_E_BADNAME:
		msv_no(s, NULL, "Invalid script name");
		break;
	case MSTORE_E_NOUSER:
		msv_no(s, NULL, "No mail account on this server");
		break;
	default:
		log_warnx("event=managesieve_store_error session=%s op=%s "
			  "error=\"%s\"",
			  conn_id(s->c), what, mstore_strerror(err));
		msv_no(s, "TRYLATER", "Temporary failure, try again later");
		break;
	}
}

/* --- commands in any state -------------------------------------------------
 */

static void cmd_capability(struct msv_session *s)
{
	msv_capabilities(s);
}

static void cmd_logout(struct msv_session *s)
{
	msv_ok(s, NULL, NULL);
	msv_hangup(s);
}

static void cmd_noop(struct msv_session *s)
{
	const struct msv_arg *tag;

	if (NARGS(s) == 0) {
		msv_ok(s, NULL, NULL);
		return;
	}
	if (want_strings(s, 1) < 0)
		return;
	tag = ARG(s, 0);
	/* RFC 5804 2.11: OK (TAG "tag") "text" */
	{
		struct strbuf b;

		strbuf_init(&b);
		strbuf_adds(&b, "OK (TAG ");
		msv_add_string(&b, tag->s.data, tag->s.len);
		strbuf_adds(&b, ") \"Done\"\r\n");
		conn_write(s->c, b.data, b.len);
		strbuf_free(&b);
	}
}

/* --- before login ------------------------------------------------------------
 */

static void cmd_starttls(struct msv_session *s)
{
	if (conn_is_tls(s->c)) {
		msv_no(s, NULL, "TLS is already active");
		return;
	}
	msv_ok(s, NULL, NULL);
	if (conn_starttls(s->c) < 0) {
		msv_bye(s, NULL, "TLS not available");
		msv_hangup(s);
	}
}

static void login_done(struct msv_session *s)
{
	const char *user = saslsrv_user(s->sasl);
	enum mstore_err err;
	char ub[128];

	free(s->user);
	s->user = xstrdup(user);
	log_q(ub, sizeof(ub), s->user);
	if (s->st->role == STORE_REPLICA) {
		/* DESIGN.md: a replica takes no client writes; scripts are
		 * managed on the primary (the mux routes there). */
		log_warnx("event=managesieve_login_refused session=%s "
			  "client=%s user=%s reason=replica",
			  conn_id(s->c), s->client, ub);
		free(s->user);
		s->user = NULL;
		saslsrv_free(&s->sasl);
		msv_set_state(s, MSV_NONAUTH);
		msv_no(s, "TRYLATER",
		       "This store is a replica; log in to the primary");
		return;
	}
	err = mstore_user_exists(s->st->ms, s->user);
	if (err != MSTORE_OK) {
		log_info("event=managesieve_login_refused session=%s "
			 "client=%s user=%s error=\"%s\"",
			 conn_id(s->c), s->client, ub, mstore_strerror(err));
		free(s->user);
		s->user = NULL;
		saslsrv_free(&s->sasl);
		msv_set_state(s, MSV_NONAUTH);
		store_error(s, err, "login");
		return;
	}
	log_info("event=managesieve_login session=%s client=%s user=%s "
		 "mech=%s authid=%s%s%s",
		 conn_id(s->c), s->client, ub,
		 s->sasl_mech ? s->sasl_mech : "?",
		 saslsrv_authid(s->sasl) ? saslsrv_authid(s->sasl) : "-",
		 s->xc != NULL && (s->xc->have & XCLIENT_SESSION)
		     ? " proxy_session="
		     : "",
		 s->xc != NULL && (s->xc->have & XCLIENT_SESSION)
		     ? s->xc->session
		     : "");
	saslsrv_free(&s->sasl);
	msv_set_state(s, MSV_AUTHED);
	s->auth_failures = 0;
	/* RFC 5804 2.1: no capabilities after AUTHENTICATE without a
	 * security layer (and we never negotiate one). */
	msv_ok(s, NULL, NULL);
}

static void sasl_result(struct msv_session *s, enum saslsrv_result r,
			char *challenge)
{
	if (r == SASLSRV_CONTINUE) {
		struct strbuf b;

		msv_set_state(s, MSV_SASL);
		strbuf_init(&b);
		/* as a literal, as timsieved does: Cyrus sivtest reads
		 * only that form; RFC 5804 clients take either */
		strbuf_printf(&b, "{%zu}\r\n%s\r\n",
			      challenge ? strlen(challenge) : 0,
			      challenge ? challenge : "");
		conn_write(s->c, b.data, b.len);
		strbuf_free(&b);
		free(challenge);
		return;
	}
	free(challenge);
	if (r == SASLSRV_OK) {
		login_done(s);
		return;
	}
	msv_set_state(s, MSV_NONAUTH);
	{
		char ub[128];
		const char *who = s->sasl ? saslsrv_authid(s->sasl) : NULL;

		log_info("event=managesieve_auth_failed session=%s client=%s "
			 "user=%s mech=%s result=%d",
			 conn_id(s->c), s->client,
			 log_q(ub, sizeof(ub), who ? who : ""),
			 s->sasl_mech ? s->sasl_mech : "?", (int)r);
	}
	saslsrv_free(&s->sasl);
	switch (r) {
	case SASLSRV_TEMPFAIL:
		msv_no(s, "TRYLATER", "Temporary authentication failure");
		return;
	case SASLSRV_NO_MECH:
		msv_no(s, NULL, "Unsupported authentication mechanism");
		return;
	case SASLSRV_CANCEL:
		msv_no(s, NULL, "Authentication cancelled");
		return;
	case SASLSRV_BAD_INPUT:
		msv_auth_failed(s, "Invalid base64 data");
		return;
	default:
		msv_auth_failed(s, "Authentication failed");
		return;
	}
}

static void cmd_authenticate(struct msv_session *s)
{
	const char *mech, *ir = NULL;
	char *challenge = NULL;
	enum saslsrv_result r;

	if (want_strings(s, NARGS(s)) < 0)
		return;
	s->auth_begun = 1;
	mech = ARG(s, 0)->s.data;
	if (NARGS(s) == 2)
		ir = ARG(s, 1)->s.len > 0 ? ARG(s, 1)->s.data : "=";
	if (s->sasl == NULL)
		s->sasl = saslsrv_new("sieve", s->c);
	if (s->sasl == NULL) {
		msv_no(s, "TRYLATER", "Authentication unavailable");
		return;
	}
	if (!saslsrv_plaintext_ok(s->sasl) &&
	    (strcasecmp(mech, "PLAIN") == 0 ||
	     strcasecmp(mech, "LOGIN") == 0)) {
		msv_no(s, s->extended_codes ? "ENCRYPT-NEEDED" : NULL,
		       "Plaintext authentication needs TLS (use STARTTLS)");
		return;
	}
	free(s->sasl_mech);
	s->sasl_mech = xstrdup(mech);
	r = saslsrv_start(s->sasl, mech, ir, &challenge);
	sasl_result(s, r, challenge);
}

void msv_sasl_continue(struct msv_session *s)
{
	const struct msv_arg *a = &s->cmd.args[0];
	char *challenge = NULL;
	enum saslsrv_result r;

	if (s->cmd.nargs != 1 || (!is_string(a) && strcmp(a->s.data, "*"))) {
		msv_set_state(s, MSV_NONAUTH);
		saslsrv_free(&s->sasl);
		msv_no(s, NULL, "Authentication aborted: expected a string");
		return;
	}
	r = saslsrv_step(s->sasl, a->s.data, &challenge);
	sasl_result(s, r, challenge);
}

void msv_auth_free(struct msv_session *s)
{
	saslsrv_free(&s->sasl);
	free(s->sasl_mech);
	s->sasl_mech = NULL;
	free(s->user);
	s->user = NULL;
}

/*
 * "XCLIENT ADDR=<ip> PORT=<port> [SESSION=<id>]" from a trusted proxy
 * (Dovecot's convention, lib/xclient.h), before AUTHENTICATE.  A command
 * carries at most MSV_MAX_ARGS - 1 attributes; a proxy with more sends
 * several XCLIENT commands (each updates what it names).
 */
static void cmd_xclient(struct msv_session *s)
{
	struct xclient x;
	const char *err = NULL;

	if (xclient_refused(s->c, "managesieve")) {
		msv_no(s, NULL, "Unknown command");
		msv_bad_command(s);
		return;
	}
	if (s->state != MSV_NONAUTH || s->auth_begun) {
		msv_no(s, NULL, "XCLIENT only before AUTHENTICATE");
		msv_bad_command(s);
		return;
	}
	xclient_begin(&x, s->xc);
	if (NARGS(s) == 0)
		err = "Expected NAME=VALUE";
	for (unsigned i = 0; err == NULL && i < NARGS(s); i++) {
		const struct msv_arg *a = ARG(s, i);

		xclient_parse_attr(&x, a->s.data, a->s.len,
				   XCLIENT_SIEVE_ATTRS, &err);
	}
	if (err != NULL) {
		log_info("event=managesieve_xclient_invalid session=%s "
			 "error=\"%s\"",
			 conn_id(s->c), err);
		msv_no(s, NULL, "%s", err);
		msv_bad_command(s);
		return;
	}
	xclient_commit(&s->xc, &x, s->c, s->client, sizeof(s->client));
	log_info("event=managesieve_xclient session=%s peer=%s client=%s "
		 "proxy_session=%s",
		 conn_id(s->c), conn_peer(s->c), s->client,
		 (x.have & XCLIENT_SESSION) ? x.session : "-");
	msv_ok(s, NULL, NULL);
}

/* --- after login
 * ---------------------------------------------------------------- */

static void cmd_unauthenticate(struct msv_session *s)
{
	msv_auth_free(s);
	msv_set_state(s, MSV_NONAUTH);
	msv_ok(s, NULL, NULL);
}

static void cmd_havespace(struct msv_session *s)
{
	struct msieve_limits lim;
	const struct msv_arg *n = ARG(s, 1);
	const char *name;
	char *end;
	unsigned long long size;
	enum mstore_err err;

	if (want_strings(s, 1) < 0 || (name = script_name(s, 0)) == NULL)
		return;
	size = strtoull(n->s.data, &end, 10);
	if (n->type != MSV_ATOM || n->s.len == 0 || *end != '\0' ||
	    n->s.data[0] < '0' || n->s.data[0] > '9') {
		msv_no(s, NULL, "Size must be a number");
		return;
	}
	limits(s, &lim);
	err = msieve_havespace(s->st->ms, s->user, name, size, &lim);
	if (err != MSTORE_OK)
		store_error(s, err, "havespace");
	else
		msv_ok(s, NULL, NULL);
}

/* Compile errors as the reply text, one "line N: ..." per line. */
static void compile_failed(struct msv_session *s, struct strbuf *errors)
{
	while (errors->len > 0 && errors->data[errors->len - 1] == '\n')
		strbuf_truncate(errors, errors->len - 1);
	if (errors->len == 0)
		strbuf_adds(errors, "Script does not compile");
	msv_no(s, NULL, "%s", errors->data);
}

static void cmd_putscript(struct msv_session *s)
{
	struct msieve_limits lim;
	const struct msv_arg *script = ARG(s, 1);
	struct strbuf errors;
	const char *name;
	enum mstore_err err;
	char ub[128], nb[300];

	if (want_strings(s, 2) < 0 || (name = script_name(s, 0)) == NULL)
		return;
	limits(s, &lim);
	strbuf_init(&errors);
	err = msieve_put(s->st->ms, s->user, name, script->s.data,
			 script->s.len, &lim, &errors);
	if (err == MSTORE_E_INVAL)
		compile_failed(s, &errors);
	else if (err != MSTORE_OK)
		store_error(s, err, "putscript");
	else {
		log_info("event=managesieve_putscript session=%s user=%s "
			 "script=%s size=%zu",
			 conn_id(s->c), log_q(ub, sizeof(ub), s->user),
			 log_q(nb, sizeof(nb), name), script->s.len);
		msv_ok(s, NULL, NULL);
	}
	strbuf_free(&errors);
}

static void cmd_checkscript(struct msv_session *s)
{
	struct msieve_limits lim;
	struct strbuf errors;
	const struct msv_arg *script = ARG(s, 0);

	if (want_strings(s, 1) < 0)
		return;
	limits(s, &lim);
	if (script->s.len > lim.max_script_size) {
		msv_no(s, "QUOTA/MAXSIZE", "Script too big");
		return;
	}
	strbuf_init(&errors);
	if (msieve_check(script->s.data, script->s.len, &lim, &errors) < 0)
		compile_failed(s, &errors);
	else
		msv_ok(s, NULL, NULL);
	strbuf_free(&errors);
}

static void cmd_listscripts(struct msv_session *s)
{
	struct msieve_entry *list;
	struct strbuf b;
	size_t n;
	enum mstore_err err;

	err = msieve_list(s->st->ms, s->user, &list, &n);
	if (err != MSTORE_OK) {
		store_error(s, err, "listscripts");
		return;
	}
	strbuf_init(&b);
	for (size_t i = 0; i < n; i++) {
		/* always quoted: old clients do not read literals here */
		strbuf_addc(&b, '"');
		for (const char *p = list[i].name; *p; p++) {
			if (*p == '"' || *p == '\\')
				strbuf_addc(&b, '\\');
			strbuf_addc(&b, *p);
		}
		strbuf_adds(&b, list[i].active ? "\" ACTIVE\r\n" : "\"\r\n");
	}
	strbuf_adds(&b, "OK\r\n");
	conn_write(s->c, b.data, b.len);
	strbuf_free(&b);
	msieve_list_free(&list, n);
}

static void cmd_setactive(struct msv_session *s)
{
	const struct msv_arg *a = ARG(s, 0);
	enum mstore_err err;

	if (want_strings(s, 1) < 0)
		return;
	if (a->s.len > 0 && script_name(s, 0) == NULL)
		return;
	err = msieve_activate(s->st->ms, s->user, a->s.data);
	if (err != MSTORE_OK)
		store_error(s, err, "setactive");
	else
		msv_ok(s, NULL, NULL);
}

static void cmd_getscript(struct msv_session *s)
{
	const char *name;
	char *src;
	size_t len;
	struct strbuf b;
	enum mstore_err err;

	if (want_strings(s, 1) < 0 || (name = script_name(s, 0)) == NULL)
		return;
	err = msieve_get(s->st->ms, s->user, name, &src, &len);
	if (err != MSTORE_OK) {
		store_error(s, err, "getscript");
		return;
	}
	strbuf_init(&b);
	/* RFC 5804 2.9: the script as a literal, then CRLF, then OK */
	strbuf_printf(&b, "{%zu}\r\n", len);
	strbuf_add(&b, src, len);
	strbuf_adds(&b, "\r\nOK\r\n");
	conn_write(s->c, b.data, b.len);
	strbuf_free(&b);
	free(src);
}

static void cmd_deletescript(struct msv_session *s)
{
	const char *name;
	enum mstore_err err;

	if (want_strings(s, 1) < 0 || (name = script_name(s, 0)) == NULL)
		return;
	err = msieve_delete(s->st->ms, s->user, name);
	if (err != MSTORE_OK)
		store_error(s, err, "deletescript");
	else
		msv_ok(s, NULL, NULL);
}

static void cmd_renamescript(struct msv_session *s)
{
	const char *from, *to;
	enum mstore_err err;

	if (want_strings(s, 2) < 0 || (from = script_name(s, 0)) == NULL ||
	    (to = script_name(s, 1)) == NULL)
		return;
	err = msieve_rename(s->st->ms, s->user, from, to);
	if (err != MSTORE_OK)
		store_error(s, err, "renamescript");
	else
		msv_ok(s, NULL, NULL);
}

/* --- the table
 * -------------------------------------------------------------------- */

#define ANY (MSV_IN(MSV_NONAUTH) | MSV_IN(MSV_AUTHED))
#define PRE MSV_IN(MSV_NONAUTH)
#define AUTH MSV_IN(MSV_AUTHED)

/* clang-format off */
static const struct msv_command msv_commands[] = {
	{"CAPABILITY",      cmd_capability,      ANY,  0, 0},
	{"LOGOUT",          cmd_logout,          ANY,  0, 0},
	{"NOOP",            cmd_noop,            ANY,  0, 1},
	{"STARTTLS",        cmd_starttls,        PRE,  0, 0},
	{"AUTHENTICATE",    cmd_authenticate,    PRE,  1, 2},
	/* any state and count: untrusted peers must get "Unknown command"
	 * whatever they send (lib/xclient.h); the handler checks */
	{"XCLIENT",         cmd_xclient,         ANY,  0, MSV_MAX_ARGS - 1},
	{"UNAUTHENTICATE",  cmd_unauthenticate,  AUTH, 0, 0},
	{"HAVESPACE",       cmd_havespace,       AUTH, 2, 2},
	{"PUTSCRIPT",       cmd_putscript,       AUTH, 2, 2},
	{"CHECKSCRIPT",     cmd_checkscript,     AUTH, 1, 1},
	{"LISTSCRIPTS",     cmd_listscripts,     AUTH, 0, 0},
	{"SETACTIVE",       cmd_setactive,       AUTH, 1, 1},
	{"GETSCRIPT",       cmd_getscript,       AUTH, 1, 1},
	{"DELETESCRIPT",    cmd_deletescript,    AUTH, 1, 1},
	{"RENAMESCRIPT",    cmd_renamescript,    AUTH, 2, 2},
};
/* clang-format on */

void msv_dispatch(struct msv_session *s)
{
	const struct msv_arg *verb = &s->cmd.args[0];
	const struct msv_command *cmd = NULL;

	if (verb->type == MSV_ATOM)
		for (size_t i = 0;
		     i < sizeof(msv_commands) / sizeof(*msv_commands); i++)
			if (strcasecmp(msv_commands[i].name, verb->s.data) == 0)
				cmd = &msv_commands[i];
	if (cmd == NULL) {
		msv_no(s, NULL, "Unknown command");
		msv_bad_command(s);
		return;
	}
	if (!(cmd->states & MSV_IN(s->state))) {
		msv_no(s, NULL,
		       s->state == MSV_AUTHED ? "Not allowed after login"
					      : "Authenticate first");
		msv_bad_command(s);
		return;
	}
	if (NARGS(s) < cmd->min_args || NARGS(s) > cmd->max_args) {
		msv_no(s, NULL, "Wrong number of arguments to %s", cmd->name);
		msv_bad_command(s);
		return;
	}
	cmd->fn(s);
}
