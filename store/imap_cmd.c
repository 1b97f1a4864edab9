/*
 * imap_cmd.c - the IMAP command table and the dispatcher.
 *
 * One const table: name, handler, states, flags, arity.  The dispatcher
 * checks the state, the UID form and the argument count from the table
 * and never interprets a verb itself; extensions add entries.
 */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "net.h"
#include "sasl.h"
#include "strbuf.h"
#include "store/imap.h"
#include "store/imap_acl.h"
#include "store/store.h"

#define NOAUTH IMAP_IN(IMAP_NOT_AUTHENTICATED)
#define AUTH IMAP_IN(IMAP_AUTHENTICATED)
#define SEL IMAP_IN(IMAP_SELECTED)
#define ANY (NOAUTH | AUTH | SEL)

/* RFC 3501 7.4.1: EXPUNGE may go out before any tagged reply except that
 * of FETCH, STORE, SEARCH (and their kin) in the sequence-number form. */
#define N IMAP_CMDF_NOTIFY
#define NX (IMAP_CMDF_NOTIFY | IMAP_CMDF_EXPUNGE)
#define NU (IMAP_CMDF_NOTIFY | IMAP_CMDF_UID | IMAP_CMDF_UID_EXPUNGE)

static const struct imap_cmd_def imap_commands[] = {
    /* RFC 9051 6.1: any state */
    {"CAPABILITY", imap_cmd_capability, ANY, NX, 0, 0},
    {"NOOP", imap_cmd_noop, ANY, NX, 0, 0},
    {"LOGOUT", imap_cmd_logout, ANY, 0, 0, 0},
    {"ID", imap_cmd_id, ANY, NX, 1, 1}, /* RFC 2971 */
    /* 6.2: not authenticated */
    {"STARTTLS", imap_cmd_starttls, NOAUTH, 0, 0, 0},
    {"AUTHENTICATE", imap_cmd_authenticate, NOAUTH, IMAP_CMDF_SECRET, 1, 2},
    {"LOGIN", imap_cmd_login, NOAUTH, IMAP_CMDF_SECRET, 2, 2},
    /* 6.3: authenticated */
    {"ENABLE", imap_cmd_enable, AUTH | SEL, NX, 1, -1}, /* RFC 5161 */
    {"SELECT", imap_cmd_select, AUTH | SEL, 0, 1, 2},
    {"EXAMINE", imap_cmd_select, AUTH | SEL, 0, 1, 2},
    {"CREATE", imap_cmd_create, AUTH | SEL, NX, 1, 2},
    {"DELETE", imap_cmd_delete, AUTH | SEL, NX, 1, 1},
    {"RENAME", imap_cmd_rename, AUTH | SEL, NX, 2, 2},
    {"SUBSCRIBE", imap_cmd_subscribe, AUTH | SEL, NX, 1, 1},
    {"UNSUBSCRIBE", imap_cmd_subscribe, AUTH | SEL, NX, 1, 1},
    {"LIST", imap_cmd_list, AUTH | SEL, NX, 2, -1},
    {"LSUB", imap_cmd_list, AUTH | SEL, NX, 2, 2},
    {"NAMESPACE", imap_cmd_namespace, AUTH | SEL, NX, 0, 0}, /* RFC 2342 */
    {"STATUS", imap_cmd_status, AUTH | SEL, NX, 2, 2},
    {"APPEND", imap_cmd_append, AUTH | SEL, NX | IMAP_CMDF_STREAM, 2, -1},
    {"IDLE", imap_cmd_idle, AUTH | SEL, NX, 0, 0}, /* RFC 2177 */
    {"UNAUTHENTICATE", imap_cmd_unauthenticate, AUTH | SEL, 0, 0, 0},
    {"COMPRESS", imap_cmd_compress, AUTH | SEL, 0, 1, 1}, /* RFC 4978 */
    /* 6.4: selected */
    {"CHECK", imap_cmd_check, SEL, NX, 0, 0},
    {"CLOSE", imap_cmd_close, SEL, 0, 0, 0},
    {"UNSELECT", imap_cmd_unselect, SEL, 0, 0, 0}, /* RFC 3691 */
    {"EXPUNGE", imap_cmd_expunge, SEL, NX | IMAP_CMDF_UID, 0, 1},
    {"SEARCH", imap_cmd_search, SEL, NU, 1, -1},
    {"FETCH", imap_cmd_fetch, SEL, NU, 2, -1},
    {"STORE", imap_cmd_store, SEL, NU, 3, -1},
    {"COPY", imap_cmd_copy, SEL, NX | IMAP_CMDF_UID, 2, 2},
    {"MOVE", imap_cmd_move, SEL, NX | IMAP_CMDF_UID, 2, 2}, /* RFC 6851 */
    {"SORT", imap_cmd_sort, SEL, NU, 3, -1},		    /* RFC 5256 */
    {"THREAD", imap_cmd_thread, SEL, NU, 3, -1},
    /* RFC 4314 ACL, RFC 9208 QUOTA (imap_acl.c) */
    {"SETACL", imap_cmd_setacl, AUTH | SEL, NX, 3, 3},
    {"DELETEACL", imap_cmd_deleteacl, AUTH | SEL, NX, 2, 2},
    {"GETACL", imap_cmd_getacl, AUTH | SEL, NX, 1, 1},
    {"LISTRIGHTS", imap_cmd_listrights, AUTH | SEL, NX, 2, 2},
    {"MYRIGHTS", imap_cmd_myrights, AUTH | SEL, NX, 1, 1},
    {"GETQUOTA", imap_cmd_getquota, AUTH | SEL, NX, 1, 1},
    {"GETQUOTAROOT", imap_cmd_getquotaroot, AUTH | SEL, NX, 1, 1},
    {"SETQUOTA", imap_cmd_setquota, AUTH | SEL, NX, 2, 2},
    /* RFC 6237 multi-mailbox ESEARCH (not advertised yet) */
    {"ESEARCH", imap_cmd_esearch, AUTH | SEL, NX, 1, -1},
};

const struct imap_cmd_def *imap_cmd_lookup(const char *name)
{
	for (size_t i = 0; i < sizeof(imap_commands) / sizeof(*imap_commands);
	     i++)
		if (strcmp(imap_commands[i].name, name) == 0)
			return &imap_commands[i];
	return NULL;
}

void imap_capabilities(struct imap_session *s, struct strbuf *out)
{
	strbuf_adds(out, "IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID ENABLE "
			 "IDLE NAMESPACE UNSELECT UIDPLUS CHILDREN MOVE "
			 "SPECIAL-USE CREATE-SPECIAL-USE LIST-EXTENDED "
			 "LIST-STATUS STATUS=SIZE MULTIAPPEND ESEARCH "
			 "SEARCHRES CONDSTORE QRESYNC UTF8=ACCEPT "
			 "UNAUTHENTICATE SORT SORT=DISPLAY ESORT "
			 "THREAD=ORDEREDSUBJECT THREAD=REFERENCES");
	strbuf_adds(out, " COMPRESS=DEFLATE OBJECTID BINARY");
	strbuf_adds(out, " ACL RIGHTS=texk QUOTA QUOTA=RES-STORAGE "
			 "QUOTA=RES-MESSAGE QUOTASET");
	if (s->st->max_message_size != 0)
		strbuf_printf(out, " APPENDLIMIT=%llu",
			      (unsigned long long)s->st->max_message_size);
	if (s->state != IMAP_NOT_AUTHENTICATED)
		return;
	if (!conn_is_tls(s->c) && !conn_is_local_socket(s->c))
		strbuf_adds(out, " STARTTLS");
	if (!conn_is_tls(s->c) && !s->st->allow_plaintext) {
		strbuf_adds(out, " LOGINDISABLED");
	} else {
		const char *mechs = NULL;
		struct saslsrv *tmp = saslsrv_new("imap", s->c);

		if (tmp != NULL)
			mechs = saslsrv_mechanisms(tmp);
		while (mechs != NULL && *mechs != '\0') {
			size_t n = strcspn(mechs, " ");

			if (n > 0) {
				strbuf_adds(out, " AUTH=");
				strbuf_add(out, mechs, n);
			}
			mechs += n;
			mechs += strspn(mechs, " ");
		}
		saslsrv_free(&tmp);
	}
}

static void log_command(struct imap_session *s, const struct imap_command *cmd,
			const struct imap_cmd_def *def)
{
	char qbuf[96];

	log_debug(
	    "event=imap_command session=%s tag=%s command=%s%s args=%zu%s",
	    conn_id(s->c), log_q(qbuf, sizeof(qbuf), cmd->tag),
	    cmd->uid ? "UID_" : "", cmd->name, cmd->nargs,
	    def != NULL && (def->flags & IMAP_CMDF_SECRET) ? " secret=1" : "");
}

void imap_cmd_dispatch(struct imap_session *s, const struct imap_command *cmd)
{
	const struct imap_cmd_def *def = imap_cmd_lookup(cmd->name);

	log_command(s, cmd, def);
	free(s->tag);
	s->tag = xstrdup(cmd->tag);
	s->args = cmd;
	s->cmd = def;
	if (def == NULL) {
		imap_bad(s, NULL, "Unknown command %s%s",
			 cmd->uid ? "UID " : "", cmd->name);
		return;
	}
	if (!(def->states & IMAP_IN(s->state))) {
		if (s->state == IMAP_NOT_AUTHENTICATED)
			imap_bad(s, NULL, "%s: log in first", def->name);
		else if (s->state == IMAP_AUTHENTICATED && (def->states & SEL))
			imap_bad(s, NULL, "%s: no mailbox selected", def->name);
		else
			imap_bad(s, NULL, "%s not allowed now", def->name);
		return;
	}
	if (cmd->uid && !(def->flags & IMAP_CMDF_UID)) {
		imap_bad(s, NULL, "%s has no UID form", def->name);
		return;
	}
	if ((def->flags & IMAP_CMDF_ONLY_UID) && !cmd->uid) {
		imap_bad(s, NULL, "Use UID %s", def->name);
		return;
	}
	/* "EXPUNGE" takes no argument; "UID EXPUNGE" one */
	if (strcmp(def->name, "EXPUNGE") == 0 &&
	    cmd->nargs != (cmd->uid ? 1u : 0u)) {
		imap_bad(s, NULL, "Wrong number of arguments");
		return;
	}
	if ((int)cmd->nargs < def->min_args ||
	    (def->max_args >= 0 && (int)cmd->nargs > def->max_args)) {
		imap_bad(s, NULL, "Wrong number of arguments for %s",
			 def->name);
		return;
	}
	/* Commands on messages see the mailbox as it is now: new messages
	 * and flag changes first, expunges where RFC 3501 7.4.1 allows. */
	if (s->state == IMAP_SELECTED && (def->flags & IMAP_CMDF_UID))
		imap_view_sync(
		    s, (def->flags & IMAP_CMDF_EXPUNGE) ||
			   (cmd->uid && (def->flags & IMAP_CMDF_UID_EXPUNGE)));
	def->handler(s, cmd);
}
