/*
 * server.c - connection glue: frames LDAPMessages out of the input buffer
 * (an incomplete PDU means "wait for more"), passes each to the session,
 * and maps session output, StartTLS and close onto lib/net.h.
 */
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "ber.h"
#include "log.h"
#include "net.h"
#include "proto.h"
#include "server.h"
#include "session.h"
#include "strbuf.h"

#define IDLE_SECONDS 900

static void io_send(void *ctx, const void *data, size_t len)
{
	conn_write(ctx, data, len);
}

static int io_starttls(void *ctx)
{
	return conn_starttls(ctx);
}

static void io_close(void *ctx)
{
	conn_close(ctx);
}

static int io_is_tls(void *ctx)
{
	return conn_is_tls(ctx);
}

static void on_input(struct conn *c, struct evbuffer *in)
{
	struct ldap_session *s = conn_ctx(c);
	unsigned char *hdr, *pdu;
	size_t avail, len;
	int rc;

	while (!s->closing && (avail = evbuffer_get_length(in)) > 0) {
		/* ab_ber_frame reads at most the 6 header bytes. */
		hdr = evbuffer_pullup(in, (ev_ssize_t)(avail < 6 ? avail : 6));
		rc = ab_ber_frame(hdr, avail, s->ab->max_pdu, &len);
		if (rc == 0)
			return;
		if (rc < 0) {
			evbuffer_drain(in, avail);
			ab_session_protocol_error(s, "bad or oversized PDU");
			return;
		}
		pdu = xmalloc(len + 1);
		evbuffer_remove(in, pdu, len);
		ab_session_pdu(s, pdu, len);
		free(pdu);
	}
}

static int on_open(struct conn *c)
{
	struct ldapab *ab = conn_listener_arg(c);
	struct session_io io = {io_send, io_starttls, io_close, io_is_tls, c};
	struct ldap_session *s = ab_session_new(ab, &io, conn_id(c));

	conn_set_ctx(c, s);
	conn_set_idle_timeout(c, IDLE_SECONDS);
	conn_set_raw(c, on_input);
	log_info("event=connect session=%s peer=%s tls=%d", conn_id(c),
		 conn_peer(c), conn_is_tls(c));
	return 0;
}

static void notice(struct conn *c, int code, const char *why)
{
	struct ldap_session *s = conn_ctx(c);
	struct resp_extra x = {OID_NOTICE_OF_DISCONNECTION, NULL, NULL, 0};
	struct ldap_req r;

	if (s == NULL || s->closing)
		return;
	memset(&r, 0, sizeof(r));
	r.tag = LDAP_TAG_EXTENDED_REQ;
	ab_resp_result(s, &r, LDAP_TAG_EXTENDED_RES, code, "", why, &x);
	s->closing = 1;
}

static void on_timeout(struct conn *c)
{
	/* RFC 4511 §4.4.1: unsolicited notice before closing. */
	notice(c, LDAP_R_UNAVAILABLE, "idle timeout");
}

static void on_shutdown(struct conn *c)
{
	notice(c, LDAP_R_UNAVAILABLE, "server shutting down");
}

static void on_tls_done(struct conn *c, int ok)
{
	log_info("event=starttls session=%s ok=%d", conn_id(c), ok);
}

static void on_close(struct conn *c, const char *reason)
{
	struct ldap_session *s = conn_ctx(c);

	if (s != NULL)
		log_info("event=disconnect session=%s reason=%s requests=%lu",
			 s->id, reason, s->requests);
	ab_session_free(&s);
	conn_set_ctx(c, NULL);
}

const struct conn_ops ab_ldap_conn_ops = {
    .proto = "ldap",
    .open = on_open,
    .line = NULL,
    .line_too_long = NULL,
    .timeout = on_timeout,
    .shutdown = on_shutdown,
    .tls_done = on_tls_done,
    .close = on_close,
};
