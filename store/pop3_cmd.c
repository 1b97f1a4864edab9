/*
 * pop3_cmd.c - the POP3 command table and the TRANSACTION-state commands.
 *
 * The dispatcher checks state and arity from the table; handlers only
 * check what their arguments mean.  Authorization commands live in
 * pop3_auth.c, message transfer in pop3_stream.c.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "net.h"
#include "sasl.h"
#include "strbuf.h"
#include "xclient.h"
#include "store/mailstore.h"
#include "store/pop3.h"
#include "store/store.h"

/* Command flags. */
#define POP3_CMD_RAWARG 0x1 /* pass the argument text unsplit (PASS) */
#define POP3_CMD_SECRET 0x2 /* never log the arguments */

struct pop3_cmd {
	const char *name;
	void (*handler)(struct pop3_session *s, struct pop3_args *a);
	unsigned states; /* POP3_IN() mask */
	unsigned flags;
	int min_args, max_args;
};

static void cmd_capa(struct pop3_session *s, struct pop3_args *a);
static void cmd_stls(struct pop3_session *s, struct pop3_args *a);
static void cmd_quit(struct pop3_session *s, struct pop3_args *a);
static void cmd_stat(struct pop3_session *s, struct pop3_args *a);
static void cmd_list(struct pop3_session *s, struct pop3_args *a);
static void cmd_retr(struct pop3_session *s, struct pop3_args *a);
static void cmd_dele(struct pop3_session *s, struct pop3_args *a);
static void cmd_noop(struct pop3_session *s, struct pop3_args *a);
static void cmd_rset(struct pop3_session *s, struct pop3_args *a);
static void cmd_top(struct pop3_session *s, struct pop3_args *a);
static void cmd_uidl(struct pop3_session *s, struct pop3_args *a);

#define AUTHZ POP3_IN(POP3_AUTHORIZATION)
#define TRANS POP3_IN(POP3_TRANSACTION)

static const struct pop3_cmd pop3_commands[] = {
    /* RFC 2449 */
    {"CAPA", cmd_capa, AUTHZ | TRANS, 0, 0, 0},
    /* RFC 2595 section 4 */
    {"STLS", cmd_stls, AUTHZ, 0, 0, 0},
    /* RFC 1939 section 7; PASS takes the rest of the line, spaces too */
    {"USER", pop3_cmd_user, AUTHZ, POP3_CMD_SECRET, 1, 1},
    {"PASS", pop3_cmd_pass, AUTHZ, POP3_CMD_RAWARG | POP3_CMD_SECRET, 0, 0},
    /* RFC 5034; no argument: list mechanisms (RFC 1734-era clients) */
    {"AUTH", pop3_cmd_auth, AUTHZ, POP3_CMD_SECRET, 0, 2},
    /* Dovecot's proxy convention (lib/xclient.h).  Allowed in every
     * state here so that an untrusted peer gets "Unknown command"
     * whatever the state; the handler checks the state for the rest. */
    {"XCLIENT", pop3_cmd_xclient, AUTHZ | TRANS, POP3_CMD_RAWARG, 0, 0},
    /* RFC 1939 sections 4-6 */
    {"QUIT", cmd_quit, AUTHZ | TRANS, 0, 0, 0},
    {"STAT", cmd_stat, TRANS, 0, 0, 0},
    {"LIST", cmd_list, TRANS, 0, 0, 1},
    {"RETR", cmd_retr, TRANS, 0, 1, 1},
    {"DELE", cmd_dele, TRANS, 0, 1, 1},
    {"NOOP", cmd_noop, TRANS, 0, 0, 0},
    {"RSET", cmd_rset, TRANS, 0, 0, 0},
    /* RFC 1939 section 7 */
    {"TOP", cmd_top, TRANS, 0, 2, 2},
    {"UIDL", cmd_uidl, TRANS, 0, 0, 1},
};

static const struct pop3_cmd *cmd_lookup(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(pop3_commands) / sizeof(pop3_commands[0]); i++)
		if (strcasecmp(pop3_commands[i].name, name) == 0)
			return &pop3_commands[i];
	return NULL;
}

/* Splits at runs of spaces; returns -1 when there are too many words. */
static int split_args(char *p, struct pop3_args *a)
{
	a->argc = 0;
	for (;;) {
		while (*p == ' ')
			p++;
		if (*p == '\0')
			return 0;
		if (a->argc == POP3_MAX_ARGS)
			return -1;
		a->argv[a->argc++] = p;
		while (*p != '\0' && *p != ' ')
			p++;
		if (*p == '\0')
			return 0;
		*p++ = '\0';
	}
}

static int printable(const char *p)
{
	for (; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 && *p != '\t')
			return 0;
	return 1;
}

void pop3_cmd_dispatch(struct pop3_session *s, char *line)
{
	const struct pop3_cmd *cmd;
	struct pop3_args a = {0};
	char *verb = line, *args;
	char qbuf[64];

	while (*verb == ' ')
		verb++;
	args = verb + strcspn(verb, " ");
	if (*args != '\0')
		*args++ = '\0';
	/* Unknown verbs are never echoed back: they may be garbage. */
	cmd = cmd_lookup(verb);
	if (cmd == NULL) {
		log_debug("event=pop3_unknown_command session=%s cmd=%s",
			  conn_id(s->c), log_q(qbuf, sizeof(qbuf), verb));
		pop3_err(s, NULL, "Unknown command");
		pop3_bad_command(s);
		return;
	}
	log_debug("event=pop3_command session=%s cmd=%s args=%s", conn_id(s->c),
		  cmd->name,
		  cmd->flags & POP3_CMD_SECRET
		      ? "***"
		      : log_q(qbuf, sizeof(qbuf), args));
	if (!(cmd->states & POP3_IN(s->state))) {
		pop3_err(s, NULL, "%s not allowed in the %s state", cmd->name,
			 s->state == POP3_AUTHORIZATION ? "AUTHORIZATION"
							: "TRANSACTION");
		pop3_bad_command(s);
		return;
	}
	if (!printable(args)) {
		pop3_err(s, NULL, "Invalid characters in arguments");
		pop3_bad_command(s);
		return;
	}
	a.rest = args;
	if (!(cmd->flags & POP3_CMD_RAWARG)) {
		if (split_args(args, &a) < 0 || a.argc > cmd->max_args) {
			pop3_err(s, NULL, "Too many arguments");
			pop3_bad_command(s);
			return;
		}
		if (a.argc < cmd->min_args) {
			pop3_err(s, NULL, "Missing argument");
			pop3_bad_command(s);
			return;
		}
	}
	s->bad_commands = 0;
	cmd->handler(s, &a);
}

/* --- helpers ------------------------------------------------------------ */

/* A decimal number without sign, at most 10 digits. */
static int parse_number(const char *p, unsigned long long *n_r)
{
	unsigned long long n = 0;
	size_t len = 0;

	if (*p == '\0')
		return -1;
	for (; *p != '\0'; p++, len++) {
		if (*p < '0' || *p > '9' || len >= 10)
			return -1;
		n = n * 10 + (unsigned)(*p - '0');
	}
	*n_r = n;
	return 0;
}

/*
 * Resolves a message-number argument (RFC 1939 section 5: "may NOT refer
 * to a message marked as deleted").  Sends -ERR and returns 0 when it
 * does not name a live message.
 */
static unsigned msg_arg(struct pop3_session *s, const char *arg)
{
	unsigned long long n;
	unsigned count = pop3_md_count(s->md);

	if (parse_number(arg, &n) < 0) {
		pop3_err(s, NULL, "Invalid message number");
		return 0;
	}
	if (n == 0 || n > count) {
		pop3_err(s, NULL,
			 "No such message, only %u messages in maildrop",
			 count);
		return 0;
	}
	if (pop3_md_deleted(s->md, (unsigned)n)) {
		pop3_err(s, NULL, "Message %llu already deleted", n);
		return 0;
	}
	return (unsigned)n;
}

/* Whether the daemon can do TLS at all (STLS).  main.c creates its TLS
 * context exactly when tls_cert is configured. */
static int tls_available(struct pop3_session *s)
{
	if (s->st == NULL)
		return 0;
	return config_get(s->st->sec, "tls_cert", NULL) != NULL;
}

/* --- CAPA, STLS, QUIT ---------------------------------------------------- */

/* The capability list (RFC 2449 section 5), the multi-line body. */
static void write_capa(struct pop3_session *s)
{
	struct strbuf b;

	strbuf_init(&b);
	strbuf_adds(&b, "TOP\r\nUIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\n"
			"PIPELINING\r\n");
	if (s->state == POP3_AUTHORIZATION) {
		struct saslsrv *sasl = pop3_auth_sasl(s);
		const char *mechs =
		    sasl != NULL ? saslsrv_mechanisms(sasl) : "";

		if (sasl != NULL && saslsrv_plaintext_ok(sasl))
			strbuf_adds(&b, "USER\r\n");
		if (mechs[0] != '\0')
			strbuf_printf(&b, "SASL %s\r\n", mechs);
		if (!conn_is_tls(s->c) && tls_available(s))
			strbuf_adds(&b, "STLS\r\n");
		/* only to the peers that may use it (lib/xclient.h) */
		if (!s->auth_begun && xclient_trusted(s->c))
			strbuf_adds(&b, "XCLIENT\r\n");
	}
	/* RFC 2449 section 6.7: we never delete mail on our own. */
	strbuf_adds(&b, "EXPIRE NEVER\r\nIMPLEMENTATION Rookery\r\n.\r\n");
	conn_write(s->c, b.data, b.len);
	strbuf_free(&b);
}

static void cmd_capa(struct pop3_session *s, struct pop3_args *a)
{
	(void)a;
	pop3_ok(s, "Capability list follows");
	write_capa(s);
}

static void cmd_stls(struct pop3_session *s, struct pop3_args *a)
{
	(void)a;
	if (conn_is_tls(s->c)) {
		pop3_err(s, NULL, "Command not permitted when TLS active");
		return;
	}
	if (!tls_available(s)) {
		pop3_err(s, NULL, "TLS not available");
		return;
	}
	pop3_ok(s, "Begin TLS negotiation now.");
	if (conn_starttls(s->c) < 0) {
		log_warnx("event=pop3_starttls_failed session=%s",
			  conn_id(s->c));
		pop3_hangup(s);
	}
}

static void cmd_quit(struct pop3_session *s, struct pop3_args *a)
{
	(void)a;
	if (s->state == POP3_AUTHORIZATION) {
		pop3_ok(s, "Logging out.");
		pop3_hangup(s);
		return;
	}
	/* RFC 1939 section 6: only QUIT from TRANSACTION enters UPDATE. */
	pop3_update_start(s);
}

/* --- TRANSACTION --------------------------------------------------------- */

static void cmd_stat(struct pop3_session *s, struct pop3_args *a)
{
	unsigned count;
	uint64_t size;

	(void)a;
	pop3_md_stat(s->md, &count, &size);
	pop3_ok(s, "%u %llu", count, (unsigned long long)size);
}

static void cmd_list(struct pop3_session *s, struct pop3_args *a)
{
	unsigned n, count, total = pop3_md_count(s->md);
	uint64_t size;
	struct strbuf b;

	if (a->argc == 1) {
		if ((n = msg_arg(s, a->argv[0])) != 0)
			pop3_ok(s, "%u %llu", n,
				(unsigned long long)pop3_md_size(s->md, n));
		return;
	}
	pop3_md_stat(s->md, &count, &size);
	pop3_ok(s, "%u messages (%llu octets)", count,
		(unsigned long long)size);
	strbuf_init(&b);
	for (n = 1; n <= total; n++) {
		if (pop3_md_deleted(s->md, n))
			continue;
		strbuf_printf(&b, "%u %llu\r\n", n,
			      (unsigned long long)pop3_md_size(s->md, n));
	}
	strbuf_add(&b, ".\r\n", 3);
	conn_write(s->c, b.data, b.len);
	strbuf_free(&b);
}

static void cmd_uidl(struct pop3_session *s, struct pop3_args *a)
{
	unsigned n, total = pop3_md_count(s->md);
	struct strbuf b;

	if (a->argc == 1) {
		if ((n = msg_arg(s, a->argv[0])) != 0)
			pop3_ok(s, "%u %s", n, pop3_md_uidl(s->md, n));
		return;
	}
	pop3_ok(s, "Unique-ID listing follows");
	strbuf_init(&b);
	for (n = 1; n <= total; n++) {
		if (pop3_md_deleted(s->md, n))
			continue;
		strbuf_printf(&b, "%u %s\r\n", n, pop3_md_uidl(s->md, n));
	}
	strbuf_add(&b, ".\r\n", 3);
	conn_write(s->c, b.data, b.len);
	strbuf_free(&b);
}

/* RETR and TOP: open the file, say +OK, stream the rest. */
static void send_message(struct pop3_session *s, unsigned n,
			 long long body_lines)
{
	uint64_t file_size;
	int fd;

	fd = pop3_md_open_msg(s->md, n, &file_size);
	if (fd < 0) {
		pop3_err(s, "SYS/TEMP", "Cannot read message %u", n);
		return;
	}
	if (body_lines < 0)
		pop3_ok(s, "%llu octets",
			(unsigned long long)pop3_md_size(s->md, n));
	else
		pop3_ok(s, "Top of message follows");
	if (pop3_stream_start(s, fd, file_size, body_lines) < 0) {
		/* The +OK is out: the only honest thing left is to hang up
		 * (RFC 1939 has no way to abort a multi-line reply). */
		log_warnx("event=pop3_stream_failed session=%s msg=%u",
			  conn_id(s->c), n);
		pop3_hangup(s);
	} else if (body_lines < 0) {
		pop3_md_retrieved(s->md, n);
	}
	close(fd);
}

static void cmd_retr(struct pop3_session *s, struct pop3_args *a)
{
	unsigned n = msg_arg(s, a->argv[0]);

	if (n != 0)
		send_message(s, n, -1);
}

static void cmd_top(struct pop3_session *s, struct pop3_args *a)
{
	unsigned long long lines;
	unsigned n = msg_arg(s, a->argv[0]);

	if (n == 0)
		return;
	if (parse_number(a->argv[1], &lines) < 0) {
		pop3_err(s, NULL, "Invalid number of lines");
		return;
	}
	send_message(s, n, (long long)lines);
}

static void cmd_dele(struct pop3_session *s, struct pop3_args *a)
{
	unsigned n = msg_arg(s, a->argv[0]);

	if (n == 0)
		return;
	pop3_md_delete(s->md, n);
	pop3_ok(s, "Message %u deleted", n);
}

static void cmd_noop(struct pop3_session *s, struct pop3_args *a)
{
	(void)a;
	pop3_ok(s, "Done");
}

static void cmd_rset(struct pop3_session *s, struct pop3_args *a)
{
	unsigned count;
	uint64_t size;

	(void)a;
	pop3_md_reset(s->md);
	pop3_md_stat(s->md, &count, &size);
	pop3_ok(s, "Maildrop has %u messages (%llu octets)", count,
		(unsigned long long)size);
}
