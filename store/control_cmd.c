/*
 * control_cmd.c - the store's administrative commands (control.h), run by
 * the control socket while the store runs and by the `rookery` CLI
 * directly on the storage when it is stopped.  Same table, same answers.
 *
 * The protocol (docs/control-protocol.md has the full text):
 *
 *   request   one line: a command word and its arguments, separated by
 *             spaces; an argument may be written "quoted", with \" and \\
 *             inside.
 *   reply     any number of data lines "* ..." then one "OK [text]" or
 *             "NO text".  Data values that may hold spaces are quoted the
 *             same way.
 *
 *   user-add USER                       create (with INBOX)
 *   user-del USER                       delete with all mail
 *   user-list                           * USER          (one per user)
 *   mailbox-create USER NAME
 *   mailbox-delete USER NAME
 *   mailbox-rename USER OLD NEW
 *   mailbox-list USER                   * NAME messages=N bytes=N
 *                                         uidvalidity=N uidnext=N
 *                                         highestmodseq=N id=N
 *   msg-list USER MAILBOX               * uid=N size=N modseq=N
 *                                         flags=N guid=HEX
 *   quota-get USER                      * bytes_used=N bytes_limit=N
 *                                         messages_used=N messages_limit=N
 *   quota-set USER BYTES MESSAGES       limits, 0 = unlimited
 *   status                              * key=value lines
 *   reconstruct USER|* [MAILBOX]        * findings, then a summary
 *   sieve-list USER                     * NAME [active]
 *   sieve-get USER NAME                 * one line per script line
 *   sieve-put USER NAME PATH            compile and store a script file
 *   sieve-activate USER [NAME]          no NAME: deactivate
 *   sieve-delete USER NAME
 *   acl-get USER MAILBOX                * IDENTIFIER RIGHTS (stored
 *                                         entries; the owner holds all)
 *   acl-set USER MAILBOX ID RIGHTS      RFC 4314 SETACL: "+r" adds,
 *                                         "-r" removes, "" deletes
 *   help                                * one line per command
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "control.h"
#include "mailstore.h"
#include "store/imap_acl.h"
#include "store/mailstore_sieve.h"
#include "store_config.h"
#include "strbuf.h"

#define CONTROL_MAX_ARGS 8

struct control_ctx {
	struct mstore *ms;
	const char *store_name;
	control_reply_fn *reply;
	void *arg;
	int argc;
	char *argv[CONTROL_MAX_ARGS];
};

struct control_cmd {
	const char *name;
	int (*handler)(struct control_ctx *x);
	int min_args, max_args; /* not counting the command word */
	const char *usage;
};

static void control_replyf(struct control_ctx *x, const char *fmt, ...)
    LOG_PRINTF(2, 3);

static void control_replyf(struct control_ctx *x, const char *fmt, ...)
{
	struct strbuf b;
	va_list ap;

	strbuf_init(&b);
	va_start(ap, fmt);
	strbuf_vprintf(&b, fmt, ap);
	va_end(ap);
	/* A reply line never spans lines, whatever a name holds. */
	for (size_t i = 0; i < b.len; i++)
		if (b.data[i] == '\r' || b.data[i] == '\n' || b.data[i] == '\0')
			b.data[i] = ' ';
	x->reply(b.data, x->arg);
	strbuf_free(&b);
}

/* Appends s quoted when it needs to be (empty, spaces, quotes). */
static void control_quote(struct strbuf *b, const char *s)
{
	if (*s != '\0' && strpbrk(s, " \t\"\\") == NULL) {
		strbuf_adds(b, s);
		return;
	}
	strbuf_addc(b, '"');
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			strbuf_addc(b, '\\');
		strbuf_addc(b, *s);
	}
	strbuf_addc(b, '"');
}

/* OK, or NO with the engine's reason; returns 0. */
static int control_result(struct control_ctx *x, enum mstore_err err,
			  const char *what)
{
	if (err == MSTORE_OK)
		control_replyf(x, "OK %s", what);
	else
		control_replyf(x, "NO %s: %s", what, mstore_strerror(err));
	return 0;
}

/*
 * Splits line into words (quoted words unescaped) in place.  Returns the
 * count, or -1 with *why_r on a syntax error or too many words.
 */
static int control_split(char *line, char **argv, int max, const char **why_r)
{
	char *p = line;
	int argc = 0;

	for (;;) {
		char *out;

		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0' || *p == '\r' || *p == '\n')
			return argc;
		if (argc == max) {
			*why_r = "too many arguments";
			return -1;
		}
		argv[argc++] = out = p;
		if (*p != '"') {
			p += strcspn(p, " \t\r\n");
			if (*p != '\0')
				*p++ = '\0';
			continue;
		}
		for (p++;; p++) {
			if (*p == '\0') {
				*why_r = "unterminated quoted argument";
				return -1;
			}
			if (*p == '"')
				break;
			if (*p == '\\' && p[1] != '\0')
				p++;
			*out++ = *p;
		}
		p++;
		if (*p != '\0' && *p != ' ' && *p != '\t' && *p != '\r' &&
		    *p != '\n') {
			*why_r = "a space must follow a quoted argument";
			return -1;
		}
		*out = '\0';
	}
}

static int control_parse_u64(const char *s, uint64_t *v_r)
{
	unsigned long long v;
	char *end;

	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return -1;
	*v_r = v;
	return 0;
}

/* --- users ---------------------------------------------------------------- */

static int control_user_add(struct control_ctx *x)
{
	return control_result(x, mstore_user_create(x->ms, x->argv[1]),
			      "user-add");
}

static int control_user_del(struct control_ctx *x)
{
	enum mstore_err err = mstore_user_delete(x->ms, x->argv[1]);

	/* the user's Sieve scripts and vacation records go too */
	if (err == MSTORE_OK)
		(void)msieve_user_delete(x->ms, x->argv[1]);
	return control_result(x, err, "user-del");
}

static int control_user_list(struct control_ctx *x)
{
	char **users;
	size_t n;
	enum mstore_err err = mstore_user_list(x->ms, &users, &n);

	if (err != MSTORE_OK)
		return control_result(x, err, "user-list");
	for (size_t i = 0; i < n; i++)
		control_replyf(x, "* %s", users[i]);
	mstore_strv_free(&users, n);
	control_replyf(x, "OK %zu users", n);
	return 0;
}

/* --- mailboxes ------------------------------------------------------------ */

static int control_mailbox_create(struct control_ctx *x)
{
	return control_result(
	    x, mstore_mailbox_create(x->ms, x->argv[1], x->argv[2], 0, NULL),
	    "mailbox-create");
}

static int control_mailbox_delete(struct control_ctx *x)
{
	return control_result(
	    x, mstore_mailbox_delete(x->ms, x->argv[1], x->argv[2]),
	    "mailbox-delete");
}

static int control_mailbox_rename(struct control_ctx *x)
{
	return control_result(
	    x, mstore_mailbox_rename(x->ms, x->argv[1], x->argv[2], x->argv[3]),
	    "mailbox-rename");
}

static int control_mailbox_list(struct control_ctx *x)
{
	struct mstore_mailbox *mbs;
	size_t n;
	enum mstore_err err;
	struct strbuf b;

	/* An unknown user has no mailboxes: say so rather than list none. */
	err = mstore_user_exists(x->ms, x->argv[1]);
	if (err == MSTORE_OK)
		err = mstore_mailbox_list(x->ms, x->argv[1], &mbs, &n);
	if (err != MSTORE_OK)
		return control_result(x, err, "mailbox-list");
	strbuf_init(&b);
	for (size_t i = 0; i < n; i++) {
		const struct mstore_mailbox *mb = &mbs[i];

		strbuf_reset(&b);
		strbuf_adds(&b, "* ");
		control_quote(&b, mb->name);
		strbuf_printf(&b,
			      " messages=%u bytes=%llu uidvalidity=%u "
			      "uidnext=%u highestmodseq=%llu id=%u",
			      mb->messages, (unsigned long long)mb->bytes,
			      mb->uidvalidity, mb->uidnext,
			      (unsigned long long)mb->highestmodseq, mb->id);
		control_replyf(x, "%s", b.data);
	}
	strbuf_free(&b);
	mstore_mailbox_list_free(&mbs, n);
	control_replyf(x, "OK %zu mailboxes", n);
	return 0;
}

static int control_msg_list(struct control_ctx *x)
{
	struct mstore_mailbox mb;
	struct mstore_msg *msgs;
	size_t n;
	enum mstore_err err;

	err = mstore_mailbox_get(x->ms, x->argv[1], x->argv[2], &mb);
	if (err != MSTORE_OK)
		return control_result(x, err, "msg-list");
	err = mstore_msg_list(x->ms, mb.id, &msgs, &n);
	mstore_mailbox_clear(&mb);
	if (err != MSTORE_OK)
		return control_result(x, err, "msg-list");
	for (size_t i = 0; i < n; i++)
		control_replyf(x,
			       "* uid=%u size=%llu modseq=%llu flags=%u "
			       "internaldate=%lld guid=%s",
			       msgs[i].uid, (unsigned long long)msgs[i].size,
			       (unsigned long long)msgs[i].modseq,
			       msgs[i].flags, (long long)msgs[i].internaldate,
			       msgs[i].guid);
	free(msgs);
	control_replyf(x, "OK %zu messages", n);
	return 0;
}

/* --- quota ---------------------------------------------------------------- */

static int control_quota_get(struct control_ctx *x)
{
	struct mstore_quota q;
	enum mstore_err err = mstore_quota_get(x->ms, x->argv[1], &q);

	if (err != MSTORE_OK)
		return control_result(x, err, "quota-get");
	control_replyf(x,
		       "* bytes_used=%llu bytes_limit=%llu messages_used=%llu "
		       "messages_limit=%llu",
		       (unsigned long long)q.bytes_used,
		       (unsigned long long)q.bytes_limit,
		       (unsigned long long)q.messages_used,
		       (unsigned long long)q.messages_limit);
	control_replyf(x, "OK quota-get");
	return 0;
}

static int control_quota_set(struct control_ctx *x)
{
	uint64_t bytes, msgs;

	if (control_parse_u64(x->argv[2], &bytes) < 0 ||
	    control_parse_u64(x->argv[3], &msgs) < 0) {
		control_replyf(x, "NO quota-set: BYTES and MESSAGES must be "
				  "numbers (0 = unlimited)");
		return 0;
	}
	return control_result(
	    x, mstore_quota_set(x->ms, x->argv[1], bytes, msgs), "quota-set");
}

/* --- status and repair ---------------------------------------------------- */

static int control_status(struct control_ctx *x)
{
	struct mstore_stats st;
	enum mstore_err err = mstore_stats(x->ms, &st);

	if (err != MSTORE_OK)
		return control_result(x, err, "status");
	control_replyf(x, "* store=%s", x->store_name ? x->store_name : "-");
	control_replyf(x, "* users=%llu", (unsigned long long)st.users);
	control_replyf(x, "* mailboxes=%llu", (unsigned long long)st.mailboxes);
	control_replyf(x, "* messages=%llu", (unsigned long long)st.messages);
	control_replyf(x, "* bytes=%llu", (unsigned long long)st.bytes);
	control_replyf(x, "* changelog_seq=%llu",
		       (unsigned long long)st.last_seq);
	control_replyf(x, "* deliveries_in_flight=%u", st.deliveries_in_flight);
	control_replyf(x, "OK status");
	return 0;
}

static int control_reconstruct(struct control_ctx *x)
{
	struct mstore_report rep;
	const char *user = strcmp(x->argv[1], "*") == 0 ? NULL : x->argv[1];
	const char *mailbox = x->argc > 2 ? x->argv[2] : NULL;
	enum mstore_err err;

	memset(&rep, 0, sizeof(rep));
	err = mstore_reconstruct(x->ms, user, mailbox, &rep);
	for (size_t i = 0; i < rep.nlines; i++)
		control_replyf(x, "* %s", rep.lines[i]);
	if (err == MSTORE_OK)
		control_replyf(x,
			       "* mailboxes=%llu recovered=%llu kept=%llu "
			       "removed=%llu unrecoverable=%llu flags_lost=%s",
			       (unsigned long long)rep.mailboxes,
			       (unsigned long long)rep.recovered,
			       (unsigned long long)rep.kept,
			       (unsigned long long)rep.removed,
			       (unsigned long long)rep.unrecoverable,
			       rep.flags_lost ? "yes" : "no");
	mstore_report_clear(&rep);
	return control_result(x, err, "reconstruct");
}

/* --- sieve scripts (store/mailstore_sieve.h) ------------------------------ */

static int control_sieve_list(struct control_ctx *x)
{
	struct msieve_entry *list;
	struct strbuf b;
	size_t n;
	enum mstore_err err;

	err = msieve_list(x->ms, x->argv[1], &list, &n);
	if (err != MSTORE_OK)
		return control_result(x, err, "sieve-list");
	strbuf_init(&b);
	for (size_t i = 0; i < n; i++) {
		strbuf_reset(&b);
		strbuf_adds(&b, "* ");
		control_quote(&b, list[i].name);
		if (list[i].active)
			strbuf_adds(&b, " active");
		control_replyf(x, "%s", b.data);
	}
	strbuf_free(&b);
	msieve_list_free(&list, n);
	control_replyf(x, "OK %zu scripts", n);
	return 0;
}

static int control_sieve_get(struct control_ctx *x)
{
	char *src, *p, *nl;
	size_t len;
	enum mstore_err err;

	err = msieve_get(x->ms, x->argv[1], x->argv[2], &src, &len);
	if (err != MSTORE_OK)
		return control_result(x, err, "sieve-get");
	for (p = src; *p != '\0'; p = nl + 1) {
		nl = strchr(p, '\n');
		if (nl == NULL) {
			control_replyf(x, "* %s", p);
			break;
		}
		*nl = '\0';
		if (nl > p && nl[-1] == '\r')
			nl[-1] = '\0';
		control_replyf(x, "* %s", p);
	}
	free(src);
	control_replyf(x, "OK %zu bytes", len);
	return 0;
}

/* sieve-put USER NAME PATH: the file is read by the store process. */
static int control_sieve_put(struct control_ctx *x)
{
	struct msieve_limits lim = {MSIEVE_DEFAULT_MAX_SCRIPTS,
				    MSIEVE_DEFAULT_MAX_SIZE};
	struct strbuf src, errors;
	char buf[8192];
	size_t n;
	FILE *f = fopen(x->argv[3], "rb");
	enum mstore_err err;

	if (f == NULL) {
		control_replyf(x, "NO sieve-put: %s: %s", x->argv[3],
			       strerror(errno));
		return 0;
	}
	strbuf_init(&src);
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0 &&
	       src.len <= lim.max_script_size)
		strbuf_add(&src, buf, n);
	fclose(f);
	strbuf_init(&errors);
	err = msieve_put(x->ms, x->argv[1], x->argv[2], src.data, src.len,
			 &lim, &errors);
	if (err == MSTORE_E_INVAL) {
		char *line = strtok(errors.data, "\n");

		for (; line != NULL; line = strtok(NULL, "\n"))
			control_replyf(x, "* %s", line);
		control_replyf(x, "NO sieve-put: the script does not compile");
	} else {
		control_result(x, err, "sieve-put");
	}
	strbuf_free(&errors);
	strbuf_free(&src);
	return 0;
}

static int control_sieve_activate(struct control_ctx *x)
{
	return control_result(
	    x, msieve_activate(x->ms, x->argv[1], x->argc > 2 ? x->argv[2] : ""),
	    "sieve-activate");
}

static int control_sieve_delete(struct control_ctx *x)
{
	return control_result(x, msieve_delete(x->ms, x->argv[1], x->argv[2]),
			      "sieve-delete");
}

/* --- ACL (store/imap_acl.h) ------------------------------------------------ */

static int control_acl_get(struct control_ctx *x)
{
	struct mstore_mailbox mb;
	struct mstore_acl_entry *acl = NULL;
	size_t n = 0;
	enum mstore_err err;

	memset(&mb, 0, sizeof(mb));
	err = mstore_mailbox_get(x->ms, x->argv[1], x->argv[2], &mb);
	if (err == MSTORE_OK)
		err = mstore_acl_get(x->ms, mb.id, &acl, &n);
	mstore_mailbox_clear(&mb);
	if (err != MSTORE_OK)
		return control_result(x, err, "acl-get");
	for (size_t i = 0; i < n; i++) {
		struct strbuf b;

		strbuf_init(&b);
		control_quote(&b, acl[i].identifier);
		strbuf_addc(&b, ' ');
		control_quote(&b, acl[i].rights);
		control_replyf(x, "* %s", b.data);
		strbuf_free(&b);
	}
	mstore_acl_free(&acl, n);
	return control_result(x, MSTORE_OK, "acl-get");
}

static int control_acl_set(struct control_ctx *x)
{
	struct mstore_mailbox mb;
	int err;

	memset(&mb, 0, sizeof(mb));
	err = mstore_mailbox_get(x->ms, x->argv[1], x->argv[2], &mb);
	if (err == MSTORE_OK)
		err = imap_acl_modify(x->ms, mb.id, x->argv[3], x->argv[4]);
	mstore_mailbox_clear(&mb);
	if (err == MSTORE_E_INVAL) {
		control_replyf(x, "NO acl-set: invalid identifier or rights");
		return 0;
	}
	return control_result(x, (enum mstore_err)err, "acl-set");
}

static int control_help(struct control_ctx *x);

static const struct control_cmd control_commands[] = {
    {"user-add", control_user_add, 1, 1, "user-add USER"},
    {"user-del", control_user_del, 1, 1, "user-del USER"},
    {"user-list", control_user_list, 0, 0, "user-list"},
    {"mailbox-create", control_mailbox_create, 2, 2,
     "mailbox-create USER NAME"},
    {"mailbox-delete", control_mailbox_delete, 2, 2,
     "mailbox-delete USER NAME"},
    {"mailbox-rename", control_mailbox_rename, 3, 3,
     "mailbox-rename USER OLD NEW"},
    {"mailbox-list", control_mailbox_list, 1, 1, "mailbox-list USER"},
    {"msg-list", control_msg_list, 2, 2, "msg-list USER MAILBOX"},
    {"quota-get", control_quota_get, 1, 1, "quota-get USER"},
    {"quota-set", control_quota_set, 3, 3, "quota-set USER BYTES MESSAGES"},
    {"status", control_status, 0, 0, "status"},
    {"reconstruct", control_reconstruct, 1, 2, "reconstruct USER|* [MAILBOX]"},
    {"sieve-list", control_sieve_list, 1, 1, "sieve-list USER"},
    {"sieve-get", control_sieve_get, 2, 2, "sieve-get USER NAME"},
    {"sieve-put", control_sieve_put, 3, 3, "sieve-put USER NAME PATH"},
    {"sieve-activate", control_sieve_activate, 1, 2,
     "sieve-activate USER [NAME]"},
    {"sieve-delete", control_sieve_delete, 2, 2, "sieve-delete USER NAME"},
    {"acl-get", control_acl_get, 2, 2, "acl-get USER MAILBOX"},
    {"acl-set", control_acl_set, 4, 4, "acl-set USER MAILBOX IDENTIFIER RIGHTS"},
    {"help", control_help, 0, 0, "help"},
};

#define CONTROL_NCOMMANDS (sizeof(control_commands) / sizeof(*control_commands))

static int control_help(struct control_ctx *x)
{
	for (size_t i = 0; i < CONTROL_NCOMMANDS; i++)
		control_replyf(x, "* %s", control_commands[i].usage);
	control_replyf(x, "OK help");
	return 0;
}

int control_exec(struct mstore *ms, const char *store_name, const char *line,
		 control_reply_fn *reply, void *arg)
{
	struct control_ctx x = {
	    .ms = ms, .store_name = store_name, .reply = reply, .arg = arg};
	const struct control_cmd *cmd = NULL;
	const char *why = NULL;
	char *copy = xstrdup(line);
	int rc = -1;

	x.argc = control_split(copy, x.argv, CONTROL_MAX_ARGS, &why);
	if (x.argc < 0) {
		control_replyf(&x, "NO syntax error: %s", why);
		goto out;
	}
	if (x.argc == 0) {
		control_replyf(&x, "NO empty command (try help)");
		goto out;
	}
	for (size_t i = 0; i < CONTROL_NCOMMANDS; i++)
		if (strcmp(control_commands[i].name, x.argv[0]) == 0)
			cmd = &control_commands[i];
	if (cmd == NULL) {
		control_replyf(&x, "NO unknown command (try help)");
		goto out;
	}
	if (x.argc - 1 < cmd->min_args || x.argc - 1 > cmd->max_args) {
		control_replyf(&x, "NO usage: %s", cmd->usage);
		goto out;
	}
	rc = cmd->handler(&x);
out:
	free(copy);
	return rc;
}

int control_exec_direct(const struct config_section *sec, const char *line,
			control_reply_fn *reply, void *arg, char **err_r)
{
	const char *data_dir = config_get(sec, "data_dir", NULL);
	struct mstore_params p;
	struct mstore *ms;
	int rc;

	if (data_dir == NULL || *data_dir == '\0') {
		*err_r = xstrdup("data_dir is not set");
		return -1;
	}
	if (store_config_mstore_params(sec, &p, err_r) < 0)
		return -1;
	if (mstore_open(data_dir, &p, &ms, err_r) < 0)
		return -1;
	if (strncmp(line, "status", 6) == 0 &&
	    (line[6] == '\0' || line[6] == ' '))
		reply("* state=stopped", arg);
	rc = control_exec(ms, config_section_name(sec), line, reply, arg);
	mstore_close(&ms);
	return rc;
}
