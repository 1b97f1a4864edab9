/*
 * auth.c - pre-auth logins shared by the fronts (front.h): SASL and
 * plaintext through lib/sasl.h, the mux's own rules, failure delays.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "net.h"
#include "sasl.h"
#include "strbuf.h"
#include "mux/front.h"
#include "mux/mux.h"
#include "mux/proxy.h"

#define FRONT_MAX_BAD_COMMANDS 20

int front_init(struct front *f, struct conn *c, const char *service)
{
	struct mux *m = conn_listener_arg(c);

	memset(f, 0, sizeof(*f));
	f->m = m;
	f->c = c;
	f->service = service;
	conn_set_idle_timeout(c, m->conf.preauth_idle);
	if (!conn_is_local_socket(c)) {
		if (limits_ip_enter(m, conn_peer_ip(c)) < 0) {
			m->stats.refused_ip++;
			log_info("event=refused session=%s client=%s "
				 "reason=max_per_ip", conn_id(c),
				 conn_peer(c));
			return -1;
		}
		f->ip_counted = 1;
	}
	return 0;
}

void front_cleanup(struct front *f, const char *reason)
{
	proxy_free(&f->px, reason);
	saslsrv_free(&f->sasl);
	free(f->mech);
	f->mech = NULL;
	net_timer_free(&f->delay_timer);
	free(f->delayed_reply);
	f->delayed_reply = NULL;
	if (f->ip_counted)
		limits_ip_leave(f->m, conn_peer_ip(f->c));
	f->ip_counted = 0;
}

static struct saslsrv *front_sasl(struct front *f)
{
	if (f->sasl == NULL) {
		f->sasl = saslsrv_new(f->service, f->c);
		if (f->sasl == NULL)
			log_warnx("event=sasl_unavailable session=%s",
				  conn_id(f->c));
	}
	return f->sasl;
}

const char *front_mechanisms(struct front *f)
{
	struct saslsrv *s = front_sasl(f);

	return s != NULL ? saslsrv_mechanisms(s) : "";
}

int front_plaintext_ok(struct front *f)
{
	struct saslsrv *s = front_sasl(f);

	if (s != NULL)
		return saslsrv_plaintext_ok(s);
	return conn_is_tls(f->c) || f->m->conf.allow_plaintext;
}

void front_tls_reset(struct front *f)
{
	saslsrv_free(&f->sasl);
	free(f->mech);
	f->mech = NULL;
}

/* The mux's own rules on a SASL success (front.h). */
static enum saslsrv_result check_identity(struct front *f)
{
	const char *user = saslsrv_user(f->sasl);
	const char *authid = saslsrv_authid(f->sasl);
	const char *pid = f->m->conf.proxy_identity;
	char q[128];

	if (user == NULL || authid == NULL || strcmp(user, authid) != 0) {
		log_warnx("event=authzid_refused session=%s client=%s "
			  "authid=%s", conn_id(f->c), conn_peer(f->c),
			  log_q(q, sizeof(q), authid ? authid : ""));
		return SASLSRV_FAIL;
	}
	if (pid != NULL && strcasecmp(user, pid) == 0) {
		log_warnx("event=proxy_identity_login_refused session=%s "
			  "client=%s", conn_id(f->c), conn_peer(f->c));
		return SASLSRV_FAIL;
	}
	return SASLSRV_OK;
}

static enum saslsrv_result finish(struct front *f, enum saslsrv_result r)
{
	if (r == SASLSRV_CONTINUE)
		return r;
	free(f->mech);
	f->mech = NULL;
	if (r == SASLSRV_OK)
		r = check_identity(f);
	if (r == SASLSRV_OK && saslsrv_cached(f->sasl))
		f->m->stats.auth_cache_hits++;
	return r;
}

static int rate_limited(struct front *f)
{
	if (!limits_ip_blocked(f->m, conn_peer_ip(f->c)))
		return 0;
	f->m->stats.refused_rate++;
	log_info("event=auth_rate_limited session=%s client=%s",
		 conn_id(f->c), conn_peer(f->c));
	return 1;
}

enum saslsrv_result front_auth_start(struct front *f, const char *mech,
				     const char *initial, char **challenge_r)
{
	struct saslsrv *s;

	*challenge_r = NULL;
	if (rate_limited(f))
		return SASLSRV_TEMPFAIL;
	if ((s = front_sasl(f)) == NULL)
		return SASLSRV_TEMPFAIL;
	free(f->mech);
	f->mech = xstrdup(mech);
	return finish(f, saslsrv_start(s, mech, initial, challenge_r));
}

enum saslsrv_result front_auth_step(struct front *f, const char *response,
				    char **challenge_r)
{
	*challenge_r = NULL;
	if (f->sasl == NULL)
		return SASLSRV_BAD_INPUT;
	return finish(f, saslsrv_step(f->sasl, response, challenge_r));
}

enum saslsrv_result front_checkpass(struct front *f, const char *user,
				    const char *pass)
{
	struct saslsrv *s;

	if (rate_limited(f))
		return SASLSRV_TEMPFAIL;
	if ((s = front_sasl(f)) == NULL)
		return SASLSRV_TEMPFAIL;
	return finish(f, saslsrv_checkpass(s, user, pass, NULL));
}

const char *front_user(struct front *f)
{
	return f->sasl != NULL ? saslsrv_user(f->sasl) : NULL;
}

const char *front_who(struct front *f)
{
	return f->sasl != NULL ? saslsrv_authid(f->sasl) : NULL;
}

/* --- failures ------------------------------------------------------------ */

static void delay_done(void *arg)
{
	struct front *f = arg;
	char *msg = f->delayed_reply;

	f->delayed_reply = NULL;
	if (msg != NULL) {
		conn_puts(f->c, msg);
		free(msg);
	}
	if (f->close_after_delay) {
		f->closing = 1;
		conn_close(f->c);
		return;
	}
	conn_resume(f->c);
}

void front_failed(struct front *f, const char *who, const char *mech,
		  const char *reply)
{
	const struct mux_config *cf = &f->m->conf;
	unsigned delay = cf->auth_fail_delay_ms;
	char q[128];

	f->failures++;
	f->m->stats.auth_failures++;
	limits_fail(f->m, conn_peer_ip(f->c));
	log_info("event=auth_failed session=%s client=%s user=%s mech=%s "
		 "failures=%u reason=%s",
		 conn_id(f->c), conn_peer(f->c),
		 log_q(q, sizeof(q), who ? who : ""), mech ? mech : "?",
		 f->failures, f->sasl ? saslsrv_error(f->sasl) : "none");
	saslsrv_free(&f->sasl);
	for (unsigned i = 1; i < f->failures && delay < cf->auth_fail_delay_max_ms;
	     i++)
		delay *= 2;
	if (delay > cf->auth_fail_delay_max_ms)
		delay = cf->auth_fail_delay_max_ms;
	f->close_after_delay = f->failures >= cf->max_auth_failures;
	if (delay == 0) {
		conn_puts(f->c, reply);
		if (f->close_after_delay) {
			f->closing = 1;
			conn_close(f->c);
		}
		return;
	}
	if (f->delay_timer == NULL)
		f->delay_timer = net_timer_new(conn_net(f->c), delay_done, f);
	free(f->delayed_reply);
	f->delayed_reply = xstrdup(reply);
	conn_pause(f->c);
	net_timer_start(f->delay_timer, delay, 0);
}

int front_bad_command(struct front *f)
{
	return ++f->bad_commands >= FRONT_MAX_BAD_COMMANDS;
}
