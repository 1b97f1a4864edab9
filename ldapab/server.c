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

/*
 * One connection: the session, and the output it holds back while a
 * failed bind is being slowed down (session_io.delay).
 */
struct ab_conn {
	struct conn *c;
	struct ldap_session *s;
	struct net_timer *timer;
	struct strbuf held;
	int holding;
};

static void io_send(void *ctx, const void *data, size_t len)
{
	struct ab_conn *ac = ctx;

	if (ac->holding)
		strbuf_add(&ac->held, data, len);
	else
		conn_write(ac->c, data, len);
}

static int io_starttls(void *ctx)
{
	struct ab_conn *ac = ctx;

	return conn_starttls(ac->c);
}

static void release_held(struct ab_conn *ac)
{
	if (ac->held.len > 0)
		conn_write(ac->c, ac->held.data, ac->held.len);
	strbuf_reset(&ac->held);
	ac->holding = 0;
}

static void io_close(void *ctx)
{
	struct ab_conn *ac = ctx;

	release_held(ac);
	conn_close(ac->c);
}

static int io_is_tls(void *ctx)
{
	struct ab_conn *ac = ctx;

	return conn_is_tls(ac->c);
}

static void delay_done(void *arg)
{
	struct ab_conn *ac = arg;

	release_held(ac);
	conn_resume(ac->c);
}

/* Holds the replies that follow, and the next requests, for ms. */
static void io_delay(void *ctx, unsigned ms)
{
	struct ab_conn *ac = ctx;

	if (ms == 0)
		return;
	if (ac->timer == NULL)
		ac->timer = net_timer_new(conn_net(ac->c), delay_done, ac);
	ac->holding = 1;
	conn_pause(ac->c);
	net_timer_start(ac->timer, ms, 0);
}

static void on_input(struct conn *c, struct evbuffer *in)
{
	struct ab_conn *ac = conn_ctx(c);
	struct ldap_session *s = ac->s;
	unsigned char *hdr, *pdu;
	size_t avail, len;
	int rc;

	while (!s->closing && !ac->holding &&
	       (avail = evbuffer_get_length(in)) > 0) {
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
	struct ab_conn *ac = xcalloc(1, sizeof(*ac));
	struct session_io io = {io_send, io_starttls, io_close, io_is_tls,
				io_delay, ac};

	ac->c = c;
	strbuf_init(&ac->held);
	ac->s = ab_session_new(ab, &io, conn_id(c));
	conn_set_ctx(c, ac);
	conn_set_idle_timeout(c, IDLE_SECONDS);
	conn_set_raw(c, on_input);
	log_info("event=connect session=%s peer=%s tls=%d", conn_id(c),
		 conn_peer(c), conn_is_tls(c));
	return 0;
}

static void notice(struct conn *c, int code, const char *why)
{
	struct ab_conn *ac = conn_ctx(c);
	struct ldap_session *s = ac != NULL ? ac->s : NULL;
	struct resp_extra x = {OID_NOTICE_OF_DISCONNECTION, NULL, NULL, 0};
	struct ldap_req r;

	if (s == NULL || s->closing)
		return;
	memset(&r, 0, sizeof(r));
	r.tag = LDAP_TAG_EXTENDED_REQ;
	release_held(ac);
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
	struct ab_conn *ac = conn_ctx(c);

	if (ac == NULL)
		return;
	if (ac->s != NULL)
		log_info("event=disconnect session=%s reason=%s requests=%lu",
			 ac->s->id, reason, ac->s->requests);
	ab_session_free(&ac->s);
	net_timer_free(&ac->timer);
	strbuf_free(&ac->held);
	free(ac);
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
