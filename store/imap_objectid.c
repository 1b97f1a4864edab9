/*
 * imap_objectid.c - OBJECTID (RFC 8474): MAILBOXID, EMAILID, THREADID.
 *
 * Ids are built from what the engine already keeps, never stored apart:
 *   MAILBOXID  "M" + the mailbox id and UIDVALIDITY (8 hex digits each):
 *              ids are never reused and RENAME keeps them (RFC 8474 4.1);
 *   EMAILID    "E" + the first 24 hex digits of the message's SHA-256
 *              GUID: a COPY or MOVE keeps it, identical bytes share it
 *              (RFC 8474 5.1 allows both);
 *   THREADID   "T" + a 64-bit FNV-1a hash of the thread's root Message-ID
 *              (the first id of References:, else In-Reply-To:, else the
 *              message's own Message-ID), so replies that carry their
 *              ancestry share it; a message without any id gets one from
 *              its GUID.  Cheap, stable, and close to what clients expect.
 */
#include <stdint.h>
#include <string.h>

#include "mailstore.h"
#include "mime.h"
#include "net.h"
#include "strbuf.h"
#include "store/imap.h"
#include "store/store.h"

void imap_objectid_mailbox(struct strbuf *out, uint32_t id,
			   uint32_t uidvalidity)
{
	strbuf_printf(out, "M%08x%08x", id, uidvalidity);
}

void imap_objectid_email(struct strbuf *out, const char *guid)
{
	strbuf_addc(out, 'E');
	strbuf_add(out, guid, strnlen(guid, 24));
}

/* The first "<...>" of s, as [*p_r, *p_r + len). */
static size_t first_msgid(const char *s, const char **p_r)
{
	const char *a, *b;

	if (s == NULL || (a = strchr(s, '<')) == NULL ||
	    (b = strchr(a, '>')) == NULL)
		return 0;
	*p_r = a;
	return (size_t)(b - a + 1);
}

void imap_objectid_thread(struct strbuf *out, const struct mime_message *m,
			  const char *guid)
{
	const char *p = NULL;
	size_t n = 0;
	uint64_t h = 0xcbf29ce484222325ull;

	if (m != NULL) {
		n = first_msgid(m->references, &p);
		if (n == 0)
			n = first_msgid(m->in_reply_to, &p);
		if (n == 0)
			n = first_msgid(m->message_id, &p);
	}
	if (n == 0) {
		p = guid;
		n = strlen(guid);
	}
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)p[i];
		h *= 0x100000001b3ull;
	}
	strbuf_printf(out, "T%016llx", (unsigned long long)h);
}

/* CREATE's tagged OK with [MAILBOXID (id)] (RFC 8474 4.1). */
void imap_create_ok(struct imap_session *s, uint32_t id)
{
	struct mstore_mailbox mb;
	struct strbuf code;

	memset(&mb, 0, sizeof(mb));
	if (mstore_mailbox_get_by_id(s->st->ms, id, &mb) != MSTORE_OK) {
		imap_ok(s, NULL, "CREATE completed");
		return;
	}
	strbuf_init(&code);
	strbuf_adds(&code, "MAILBOXID (");
	imap_objectid_mailbox(&code, id, mb.uidvalidity);
	strbuf_addc(&code, ')');
	mstore_mailbox_clear(&mb);
	imap_ok(s, code.data, "CREATE completed");
	strbuf_free(&code);
}

/* ---- COMPRESS (RFC 4978) ------------------------------------------------- */

void imap_cmd_compress(struct imap_session *s, const struct imap_command *cmd)
{
	if (!imap_arg_is_atom(&cmd->args[0], "DEFLATE")) {
		imap_bad(s, NULL, "Unknown compression mechanism");
		return;
	}
	/* RFC 4978 3: a second COMPRESS is refused */
	if (conn_deflate_active(s->c)) {
		imap_no(s, "COMPRESSIONACTIVE", "DEFLATE active already");
		return;
	}
	imap_ok(s, NULL, "DEFLATE active");
	if (conn_start_deflate(s->c) < 0) {
		/* cannot happen while the command runs; say so and leave */
		imap_bye(s, "[SERVERBUG] Compression failed");
		return;
	}
	log_info("event=imap_compress session=%s", conn_id(s->c));
}
