/*
 * lmtp_cmd.c - the LMTP command table and one handler per command
 * (RFC 2033, RFC 5321 4.1.1), with the path and parameter parsers.
 *
 * The dispatcher checks the state and the arity from the table; a handler
 * only does its command.  Reply codes and enhanced codes: RFC 5321 4.2,
 * RFC 3463 (RFC 2034 says every reply carries one once advertised).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lmtp.h"
#include "mailstore.h"
#include "net.h"
#include "store.h"
#include "xclient.h"

enum lmtp_args {
	LMTP_ARGS_NONE = 0, /* 501 if arguments are given */
	LMTP_ARGS_NEED,	    /* 501 if none are given */
	LMTP_ARGS_ANY,
};

struct lmtp_cmd {
	const char *name;
	void (*handler)(struct lmtp_session *s, const char *args);
	unsigned states; /* LMTP_IN() mask */
	enum lmtp_args args;
	const char *usage;    /* for 501 */
	const char *sequence; /* for 503 when the state is wrong */
};

static void lmtp_cmd_lhlo(struct lmtp_session *s, const char *args);
static void lmtp_cmd_helo(struct lmtp_session *s, const char *args);
static void lmtp_cmd_mail(struct lmtp_session *s, const char *args);
static void lmtp_cmd_rcpt(struct lmtp_session *s, const char *args);
static void lmtp_cmd_data(struct lmtp_session *s, const char *args);
static void lmtp_cmd_rset(struct lmtp_session *s, const char *args);
static void lmtp_cmd_noop(struct lmtp_session *s, const char *args);
static void lmtp_cmd_quit(struct lmtp_session *s, const char *args);
static void lmtp_cmd_vrfy(struct lmtp_session *s, const char *args);
static void lmtp_cmd_help(struct lmtp_session *s, const char *args);
static void lmtp_cmd_xclient(struct lmtp_session *s, const char *args);

#define IN_TXN (LMTP_IN(LMTP_MAIL) | LMTP_IN(LMTP_RCPT))

static const struct lmtp_cmd lmtp_commands[] = {
    {"LHLO", lmtp_cmd_lhlo, LMTP_ANY_COMMAND_STATE, LMTP_ARGS_NEED,
     "LHLO domain", NULL},
    /* RFC 2033 4.1: HELO and EHLO are not LMTP commands. */
    {"HELO", lmtp_cmd_helo, LMTP_ANY_COMMAND_STATE, LMTP_ARGS_ANY, NULL, NULL},
    {"EHLO", lmtp_cmd_helo, LMTP_ANY_COMMAND_STATE, LMTP_ARGS_ANY, NULL, NULL},
    {"MAIL", lmtp_cmd_mail, LMTP_IN(LMTP_READY), LMTP_ARGS_NEED,
     "MAIL FROM:<address> [SIZE=n] [BODY=7BIT|8BITMIME]",
     "MAIL already given, send RSET first"},
    {"RCPT", lmtp_cmd_rcpt, IN_TXN, LMTP_ARGS_NEED, "RCPT TO:<address>",
     "need MAIL before RCPT"},
    /* RFC 2033 4.2: DATA without an accepted recipient fails with 503. */
    {"DATA", lmtp_cmd_data, LMTP_IN(LMTP_RCPT), LMTP_ARGS_NONE, "DATA",
     "no valid recipients"},
    {"RSET", lmtp_cmd_rset, LMTP_ANY_COMMAND_STATE, LMTP_ARGS_NONE, "RSET",
     NULL},
    {"NOOP", lmtp_cmd_noop, LMTP_ANY_COMMAND_STATE, LMTP_ARGS_ANY, NULL, NULL},
    {"QUIT", lmtp_cmd_quit, LMTP_ANY_COMMAND_STATE, LMTP_ARGS_NONE, "QUIT",
     NULL},
    {"VRFY", lmtp_cmd_vrfy, LMTP_ANY_COMMAND_STATE, LMTP_ARGS_NEED,
     "VRFY address", NULL},
    {"HELP", lmtp_cmd_help, LMTP_ANY_COMMAND_STATE, LMTP_ARGS_ANY, NULL, NULL},
    /* Postfix's XCLIENT (lib/xclient.h).  Every state and any arguments
     * here, so that an untrusted peer gets what an unknown command gets
     * whatever it sends; the handler checks the rest. */
    {"XCLIENT", lmtp_cmd_xclient, LMTP_ANY_COMMAND_STATE, LMTP_ARGS_ANY,
     NULL, NULL},
};

static const struct lmtp_cmd *lmtp_cmd_find(const char *verb, size_t len)
{
	for (size_t i = 0; i < sizeof(lmtp_commands) / sizeof(*lmtp_commands);
	     i++) {
		const struct lmtp_cmd *cmd = &lmtp_commands[i];

		if (strlen(cmd->name) == len &&
		    strncasecmp(cmd->name, verb, len) == 0)
			return cmd;
	}
	return NULL;
}

void lmtp_cmd_dispatch(struct lmtp_session *s, char *line)
{
	const struct lmtp_cmd *cmd;
	const char *args;
	size_t vlen;
	char qbuf[64];

	vlen = strcspn(line, " \t");
	cmd = lmtp_cmd_find(line, vlen);
	args = line + vlen;
	while (*args == ' ' || *args == '\t')
		args++;
	if (cmd == NULL) {
		line[vlen] = '\0';
		log_debug("event=lmtp_unknown session=%s verb=%s",
			  conn_id(s->c), log_q(qbuf, sizeof(qbuf), line));
		lmtp_reply(s, "500 5.5.1 command unrecognized");
		lmtp_bad_command(s);
		return;
	}
	log_debug("event=lmtp_command session=%s verb=%s state=%s",
		  conn_id(s->c), cmd->name, lmtp_state_name(s->state));
	if ((cmd->states & LMTP_IN(s->state)) == 0) {
		/* RFC 5321 4.1.4: commands out of order get 503. */
		lmtp_reply(s, "503 5.5.1 bad sequence of commands: %s",
			   s->state == LMTP_GREETED ? "send LHLO first"
			   : cmd->sequence != NULL  ? cmd->sequence
						    : "not now");
		lmtp_bad_command(s);
		return;
	}
	if ((cmd->args == LMTP_ARGS_NONE && *args != '\0') ||
	    (cmd->args == LMTP_ARGS_NEED && *args == '\0')) {
		lmtp_reply(s, "501 5.5.4 syntax: %s", cmd->usage);
		lmtp_bad_command(s);
		return;
	}
	cmd->handler(s, args);
}

/* A handler that succeeded resets the bad-command count. */
static void lmtp_good_command(struct lmtp_session *s)
{
	s->bad_commands = 0;
}

/* --- parsers -------------------------------------------------------------- */

/* RFC 5321 4.1.2 quoted-string: '"' *(qtextSMTP / "\" %d32-126) '"'. */
static int lmtp_parse_quoted(const char **p, struct strbuf *out)
{
	const char *q = *p + 1;

	while (*q != '"') {
		if (*q == '\0')
			return -1;
		if (*q == '\\') {
			q++;
			if (*q < 32 || *q > 126)
				return -1;
		} else if ((unsigned char)*q < 32) {
			return -1;
		}
		strbuf_addc(out, *q++);
	}
	*p = q + 1;
	return 0;
}

int lmtp_parse_path(const char **p, char **addr_r, const char **why_r)
{
	const char *q = *p, *start;
	struct strbuf out;

	if (*q != '<') {
		*why_r = "address must be in angle brackets";
		return -1;
	}
	start = q++;
	/* A-d-l ":" (source route, RFC 5321 4.1.2): accepted and ignored. */
	if (*q == '@') {
		const char *colon = strchr(q, ':');
		const char *gt = strchr(q, '>');

		if (colon == NULL || (gt != NULL && gt < colon)) {
			*why_r = "bad source route";
			return -1;
		}
		q = colon + 1;
	}
	strbuf_init(&out);
	while (*q != '>') {
		unsigned char ch = (unsigned char)*q;

		if (*q == '"') {
			if (lmtp_parse_quoted(&q, &out) < 0) {
				*why_r = "bad quoted local part";
				goto fail;
			}
			continue;
		}
		if (ch == '\0') {
			*why_r = "missing '>'";
			goto fail;
		}
		if (ch <= ' ' || ch == 127 || ch == '<' || ch == '\\' ||
		    ch == '(' || ch == ')' || ch == ',' || ch == ';') {
			*why_r = "invalid character in address";
			goto fail;
		}
		strbuf_addc(&out, (char)ch);
		q++;
	}
	q++;
	if ((size_t)(q - start) > LMTP_MAX_PATH) {
		*why_r = "address too long";
		goto fail;
	}
	*p = q;
	*addr_r = strbuf_steal(&out, NULL);
	return 0;
fail:
	strbuf_free(&out);
	return -1;
}

/* "FROM:" / "TO:" then optional spaces (leniency: some clients send
 * "MAIL FROM: <a>"). */
static int lmtp_skip_keyword(const char **p, const char *kw)
{
	size_t n = strlen(kw);

	if (strncasecmp(*p, kw, n) != 0)
		return -1;
	*p += n;
	while (**p == ' ')
		(*p)++;
	return 0;
}

/* Next "KEY[=VALUE]" word of the parameter list; 0 when none is left. */
static int lmtp_next_param(const char **p, char *key, size_t keysz, char *val,
			   size_t valsz)
{
	const char *q = *p, *end, *eq;

	while (*q == ' ')
		q++;
	if (*q == '\0')
		return 0;
	end = q + strcspn(q, " ");
	eq = memchr(q, '=', (size_t)(end - q));
	if (eq == NULL)
		eq = end;
	snprintf(key, keysz, "%.*s", (int)(eq - q), q);
	if (eq < end)
		snprintf(val, valsz, "%.*s", (int)(end - eq - 1), eq + 1);
	else
		val[0] = '\0';
	*p = end;
	return 1;
}

/* RFC 1870 3: size-value ::= 1*20DIGIT.  Values past 2^64 saturate. */
static int lmtp_parse_size(const char *v, uint64_t *size_r)
{
	uint64_t n = 0;

	if (*v == '\0' || strlen(v) > 20)
		return -1;
	for (; *v != '\0'; v++) {
		if (!isdigit((unsigned char)*v))
			return -1;
		if (n > (UINT64_MAX - 9) / 10)
			n = UINT64_MAX;
		else
			n = n * 10 + (uint64_t)(*v - '0');
	}
	*size_r = n;
	return 0;
}

/* --- handlers ------------------------------------------------------------- */

static void lmtp_cmd_lhlo(struct lmtp_session *s, const char *args)
{
	const struct store *st = s->st;

	if (strcspn(args, " \t") != strlen(args)) {
		/* RFC 5321 4.1.1.1: one domain or address literal */
		lmtp_reply(s, "501 5.5.4 syntax: LHLO domain");
		lmtp_bad_command(s);
		return;
	}
	free(s->lhlo);
	s->lhlo = xstrdup(args);
	/* RFC 5321 4.1.4: LHLO (like EHLO) also resets the transaction. */
	lmtp_reset_transaction(s);
	lmtp_set_state(s, LMTP_READY);
	lmtp_good_command(s);
	lmtp_reply(s, "250-%s", st->hostname);
	lmtp_reply(s, "250-PIPELINING");
	lmtp_reply(s, "250-ENHANCEDSTATUSCODES");
	lmtp_reply(s, "250-8BITMIME");
	/* Postfix lists the attributes it takes; only to trusted peers. */
	if (xclient_trusted(s->c))
		lmtp_reply(s, "250-XCLIENT ADDR PORT NAME HELO PROTO");
	lmtp_reply(s, "250 SIZE %llu",
		   (unsigned long long)st->max_message_size);
}

static void lmtp_cmd_helo(struct lmtp_session *s, const char *args)
{
	(void)args;
	lmtp_reply(s, "500 5.5.1 this is LMTP: use LHLO (RFC 2033)");
	lmtp_bad_command(s);
}

static int lmtp_mail_params(struct lmtp_session *s, const char *p)
{
	char key[32], val[64];

	while (lmtp_next_param(&p, key, sizeof(key), val, sizeof(val))) {
		if (strcasecmp(key, "SIZE") == 0) {
			if (lmtp_parse_size(val, &s->declared_size) < 0) {
				lmtp_reply(s, "501 5.5.4 bad SIZE value");
				return -1;
			}
		} else if (strcasecmp(key, "BODY") == 0) {
			/* RFC 6152 2 */
			if (strcasecmp(val, "8BITMIME") == 0) {
				s->body_8bit = 1;
			} else if (strcasecmp(val, "7BIT") == 0) {
				s->body_8bit = 0;
			} else {
				lmtp_reply(s, "501 5.5.4 BODY must be 7BIT or "
					      "8BITMIME");
				return -1;
			}
		} else {
			/* RFC 5321 4.1.1.11 */
			lmtp_reply(s, "555 5.5.4 unsupported MAIL parameter");
			return -1;
		}
	}
	return 0;
}

static void lmtp_cmd_mail(struct lmtp_session *s, const char *args)
{
	const char *p = args, *why;
	char *addr;

	if (lmtp_skip_keyword(&p, "FROM:") < 0) {
		lmtp_reply(s, "501 5.5.4 syntax: MAIL FROM:<address>");
		lmtp_bad_command(s);
		return;
	}
	if (lmtp_parse_path(&p, &addr, &why) < 0) {
		lmtp_reply(s, "501 5.1.7 bad sender address syntax: %s", why);
		lmtp_bad_command(s);
		return;
	}
	if (*p != '\0' && *p != ' ') {
		free(addr);
		lmtp_reply(s, "501 5.5.4 space expected after the address");
		lmtp_bad_command(s);
		return;
	}
	s->declared_size = 0;
	s->body_8bit = 0;
	if (lmtp_mail_params(s, p) < 0) {
		free(addr);
		lmtp_bad_command(s);
		return;
	}
	/* RFC 1870 6.1: refuse early what will not fit. */
	if (s->st->max_message_size != 0 &&
	    s->declared_size > s->st->max_message_size) {
		free(addr);
		lmtp_reply(s, "552 5.3.4 message size exceeds fixed maximum "
			      "message size");
		return;
	}
	free(s->from);
	s->from = addr;
	lmtp_set_state(s, LMTP_MAIL);
	lmtp_good_command(s);
	lmtp_reply(s, "250 2.1.0 sender <%s> OK", addr);
}

/*
 * Finds the store user for addr: the address itself, else (RFC 5233
 * subaddress style) "local+detail@domain" as user "local@domain" with the
 * folder "detail".  Returns MSTORE_OK with allocated *user_r and
 * *mailbox_r (NULL: INBOX), or the engine's error.
 */
static enum mstore_err lmtp_resolve(struct lmtp_session *s, const char *addr,
				    char **user_r, char **mailbox_r)
{
	const char *at = strrchr(addr, '@'), *plus;
	enum mstore_err err;
	char *base, *detail;

	*user_r = *mailbox_r = NULL;
	if (at == NULL || at == addr || at[1] == '\0' ||
	    strlen(addr) > MSTORE_USER_MAX)
		return MSTORE_E_NOUSER;
	err = mstore_user_exists(s->st->ms, addr);
	if (err != MSTORE_E_NOUSER) {
		if (err == MSTORE_OK)
			*user_r = xstrdup(addr);
		return err;
	}
	plus = memchr(addr, '+', (size_t)(at - addr));
	if (plus == NULL || plus == addr)
		return MSTORE_E_NOUSER;
	base = xasprintf("%.*s%s", (int)(plus - addr), addr, at);
	err = mstore_user_exists(s->st->ms, base);
	if (err != MSTORE_OK) {
		free(base);
		return err;
	}
	detail = xstrndup(plus + 1, (size_t)(at - plus - 1));
	/* An unusable folder name simply means INBOX. */
	if (*detail == '\0' || mstore_mailbox_name_valid(detail) < 0) {
		free(detail);
		detail = NULL;
	}
	*user_r = base;
	*mailbox_r = detail;
	return MSTORE_OK;
}

static void lmtp_rcpt_add(struct lmtp_session *s, char *addr, char *user,
			  char *mailbox)
{
	struct lmtp_rcpt *r;

	if (s->nrcpts == s->rcpts_cap) {
		s->rcpts_cap = s->rcpts_cap ? s->rcpts_cap * 2 : 8;
		s->rcpts = xrealloc(s->rcpts, s->rcpts_cap * sizeof(*s->rcpts));
	}
	r = &s->rcpts[s->nrcpts++];
	r->addr = addr;
	r->user = user;
	r->mailbox = mailbox;
	r->target = 0;
}

static void lmtp_cmd_rcpt(struct lmtp_session *s, const char *args)
{
	const char *p = args, *why;
	char *addr, *user, *mailbox;
	enum mstore_err err;
	char qbuf[300];

	if (lmtp_skip_keyword(&p, "TO:") < 0) {
		lmtp_reply(s, "501 5.5.4 syntax: RCPT TO:<address>");
		lmtp_bad_command(s);
		return;
	}
	if (lmtp_parse_path(&p, &addr, &why) < 0) {
		lmtp_reply(s, "501 5.1.3 bad recipient address syntax: %s",
			   why);
		lmtp_bad_command(s);
		return;
	}
	while (*p == ' ')
		p++;
	if (*p != '\0') {
		/* No RCPT parameters are advertised (no DSN). */
		free(addr);
		lmtp_reply(s, "555 5.5.4 unsupported RCPT parameter");
		lmtp_bad_command(s);
		return;
	}
	if (*addr == '\0') {
		free(addr);
		lmtp_reply(s, "501 5.1.3 empty recipient address");
		lmtp_bad_command(s);
		return;
	}
	if (s->nrcpts >= s->st->lmtp_max_rcpt) {
		/* RFC 5321 4.5.3.1.10 */
		free(addr);
		lmtp_reply(s, "452 4.5.3 too many recipients");
		return;
	}
	log_q(qbuf, sizeof(qbuf), addr);
	err = lmtp_resolve(s, addr, &user, &mailbox);
	if (err == MSTORE_OK)
		err = mstore_quota_check(s->st->ms, user, s->declared_size, 1);
	switch (err) {
	case MSTORE_OK:
		break;
	case MSTORE_E_NOUSER:
		lmtp_reply(s, "550 5.1.1 <%s>: no such user here", addr);
		goto refused;
	case MSTORE_E_OVERQUOTA:
		if (s->st->quota_tempfail)
			lmtp_reply(s, "452 4.2.2 <%s>: mailbox full", addr);
		else
			lmtp_reply(s, "552 5.2.2 <%s>: mailbox full", addr);
		goto refused;
	default:
		lmtp_reply(s, "451 4.3.0 <%s>: temporary failure: %s", addr,
			   mstore_strerror(err));
		goto refused;
	}
	lmtp_rcpt_add(s, addr, user, mailbox);
	lmtp_set_state(s, LMTP_RCPT);
	lmtp_good_command(s);
	lmtp_reply(s, "250 2.1.5 <%s> OK", addr);
	return;
refused:
	log_info("event=lmtp_rcpt_refused session=%s client=%s rcpt=%s "
		 "error=\"%s\"",
		 conn_id(s->c), s->client, qbuf, mstore_strerror(err));
	free(addr);
	free(user);
	free(mailbox);
}

static void lmtp_cmd_data(struct lmtp_session *s, const char *args)
{
	(void)args;
	lmtp_good_command(s);
	lmtp_data_begin(s);
}

static void lmtp_cmd_rset(struct lmtp_session *s, const char *args)
{
	(void)args;
	lmtp_reset_transaction(s);
	lmtp_good_command(s);
	lmtp_reply(s, "250 2.0.0 OK");
}

static void lmtp_cmd_noop(struct lmtp_session *s, const char *args)
{
	(void)args;
	lmtp_good_command(s);
	lmtp_reply(s, "250 2.0.0 OK");
}

static void lmtp_cmd_quit(struct lmtp_session *s, const char *args)
{
	(void)args;
	lmtp_reply(s, "221 2.0.0 %s closing connection", s->st->hostname);
	lmtp_hangup(s);
}

static void lmtp_cmd_vrfy(struct lmtp_session *s, const char *args)
{
	(void)args;
	/* RFC 5321 3.5.3: 252 when we will not verify but will accept. */
	lmtp_good_command(s);
	lmtp_reply(s, "252 2.5.0 cannot VRFY user, but will accept message "
		      "and attempt delivery");
}

static void lmtp_cmd_help(struct lmtp_session *s, const char *args)
{
	(void)args;
	lmtp_good_command(s);
	lmtp_reply(s, "214-2.0.0 commands: LHLO MAIL RCPT DATA RSET NOOP QUIT "
		      "VRFY HELP");
	lmtp_reply(s, "214 2.0.0 see RFC 2033");
}

/*
 * XCLIENT (Postfix's XCLIENT_README): a trusted proxy names the client it
 * speaks for.  Not inside a transaction (503).  On success the session
 * starts over as after the greeting: "220", and the proxy sends LHLO
 * again.  What XCLIENT set stays: a later LHLO does not replace the
 * client's HELO in the Received: field.
 */
static void lmtp_cmd_xclient(struct lmtp_session *s, const char *args)
{
	struct xclient x;
	const char *err = NULL;
	char qbuf[300];

	if (xclient_refused(s->c, "lmtp")) {
		lmtp_reply(s, "500 5.5.1 command unrecognized");
		lmtp_bad_command(s);
		return;
	}
	if (s->state == LMTP_GREETED) {
		lmtp_reply(s, "503 5.5.1 bad sequence of commands: send LHLO "
			      "first");
		lmtp_bad_command(s);
		return;
	}
	if (s->state != LMTP_READY) {
		lmtp_reply(s, "503 5.5.1 bad sequence of commands: XCLIENT "
			      "inside a transaction");
		lmtp_bad_command(s);
		return;
	}
	xclient_begin(&x, s->xc);
	if (*args == '\0' ||
	    xclient_parse(&x, args, XCLIENT_LMTP_ATTRS, &err) < 0) {
		if (err == NULL)
			err = "Expected NAME=VALUE";
		log_info("event=lmtp_xclient_invalid session=%s args=%s "
			 "error=\"%s\"",
			 conn_id(s->c), log_q(qbuf, sizeof(qbuf), args), err);
		lmtp_reply(s, "501 5.5.4 XCLIENT: %s", err);
		lmtp_bad_command(s);
		return;
	}
	xclient_commit(&s->xc, &x, s->c, s->client, sizeof(s->client));
	log_info("event=lmtp_xclient session=%s peer=%s client=%s helo=%s "
		 "proto=%s",
		 conn_id(s->c), conn_peer(s->c), s->client,
		 (x.have & XCLIENT_HELO) && x.helo[0] ? x.helo : "-",
		 (x.have & XCLIENT_PROTO) ? x.proto : "-");
	/* Back to the start: as after the greeting. */
	lmtp_reset_transaction(s);
	free(s->lhlo);
	s->lhlo = NULL;
	lmtp_set_state(s, LMTP_GREETED);
	lmtp_good_command(s);
	lmtp_reply(s, "220 %s LMTP Rookery ready", s->st->hostname);
}
