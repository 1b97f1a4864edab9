/*
 * control.c - the control socket of a running store ("listen = control
 * unix:PATH"): one command per line, answered by control_exec() (the
 * command set is in control_cmd.c and docs/control-protocol.md).  No
 * greeting, no authentication: access is the socket file's permission
 * (mode 0660), and main.c refuses a control listener that is not a Unix
 * socket.  "quit" ends the connection.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "control.h"
#include "log.h"
#include "net.h"
#include "store.h"
#include "strbuf.h"

/* Names and arguments are short; a longer line is refused. */
#define CONTROL_MAX_LINE 16384

struct control_session {
	struct conn *c;
	struct store *st;
	unsigned commands;
};

static void control_write_line(const char *line, void *arg)
{
	struct control_session *s = arg;

	conn_puts(s->c, line);
	conn_write(s->c, "\n", 1);
}

static int control_open(struct conn *c)
{
	struct control_session *s = xcalloc(1, sizeof(*s));

	s->c = c;
	s->st = conn_listener_arg(c);
	conn_set_ctx(c, s);
	conn_set_max_line(c, CONTROL_MAX_LINE);
	log_debug("event=control_connect session=%s", conn_id(c));
	return 0;
}

/* "status" over the socket says first that the store runs, and as what. */
static int control_is_status(const char *line)
{
	return strncmp(line, "status", 6) == 0 &&
	       (line[6] == '\0' || line[6] == ' ');
}

static void control_line(struct conn *c, char *line, size_t len)
{
	struct control_session *s = conn_ctx(c);
	char qbuf[128];
	int rc;

	if (strlen(line) != len) {
		control_write_line("NO NUL byte in command", s);
		return;
	}
	if (strcmp(line, "quit") == 0) {
		control_write_line("OK bye", s);
		conn_close(c);
		return;
	}
	s->commands++;
	if (control_is_status(line)) {
		char buf[128];

		snprintf(buf, sizeof(buf), "* state=running role=%s pid=%d",
			 s->st->role == STORE_PRIMARY ? "primary" : "replica",
			 (int)getpid());
		control_write_line(buf, s);
	}
	rc = control_exec(s->st->ms, s->st->name, line, control_write_line, s);
	log_info("event=control_command session=%s command=%s rc=%d",
		 conn_id(c), log_q(qbuf, sizeof(qbuf), line), rc);
}

static void control_line_too_long(struct conn *c)
{
	struct control_session *s = conn_ctx(c);

	control_write_line("NO line too long", s);
}

static void control_close(struct conn *c, const char *reason)
{
	struct control_session *s = conn_ctx(c);

	log_debug("event=control_disconnect session=%s reason=%s commands=%u",
		  conn_id(c), reason, s != NULL ? s->commands : 0);
	conn_set_ctx(c, NULL);
	free(s);
}

const struct conn_ops control_conn_ops = {
    .proto = "control",
    .open = control_open,
    .line = control_line,
    .line_too_long = control_line_too_long,
    .timeout = NULL,
    .shutdown = NULL,
    .tls_done = NULL,
    .close = control_close,
};
