/*
 * net_listen.c - "listen =" lines and listening sockets (TCP and Unix).
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "daemon.h"
#include "net_int.h"
#include "strbuf.h"

#define NET_BACKLOG 1024
#define NET_ACCEPT_RETRY_MS 500

/* --- parsing ------------------------------------------------------------ */

/* Splits "HOST:PORT", "[V6]:PORT", "*:PORT" into an allocated host (NULL
 * for any address) and port.  Returns -1 when the form is wrong. */
static int split_host_port(const char *addr, char **host_r, unsigned *port_r)
{
	const char *colon, *p, *h0, *h1;
	unsigned long port;
	char *end;

	if (addr[0] == '[') {
		h0 = addr + 1;
		h1 = strchr(h0, ']');
		if (h1 == NULL || h1[1] != ':')
			return -1;
		colon = h1 + 1;
	} else {
		colon = strrchr(addr, ':');
		if (colon == NULL || memchr(addr, ':', (size_t)(colon - addr)))
			return -1;
		h0 = addr;
		h1 = colon;
	}
	p = colon + 1;
	if (*p < '0' || *p > '9')
		return -1;
	errno = 0;
	port = strtoul(p, &end, 10);
	if (errno != 0 || *end != '\0' || port > 65535)
		return -1;
	if (h1 == h0)
		return -1;
	if (h1 - h0 == 1 && *h0 == '*')
		*host_r = NULL;
	else
		*host_r = xstrndup(h0, (size_t)(h1 - h0));
	*port_r = (unsigned)port;
	return 0;
}

void net_listen_spec_clear(struct net_listen_spec *spec)
{
	free(spec->proto);
	free(spec->addr);
	memset(spec, 0, sizeof(*spec));
}

int net_listen_parse(const char *value, struct net_listen_spec *spec_r,
		     char **err_r)
{
	char *copy = xstrdup(value), *save = NULL, *tok;
	struct net_listen_spec spec = {0};
	unsigned port;
	char *host;
	int i = 0;

	for (tok = strtok_r(copy, " \t", &save); tok != NULL;
	     tok = strtok_r(NULL, " \t", &save), i++) {
		if (i == 0) {
			spec.proto = xstrdup(tok);
		} else if (i == 1) {
			spec.addr = xstrdup(tok);
		} else if (strcmp(tok, "tls") == 0) {
			spec.tls = NET_TLS_IMPLICIT;
		} else if (strcmp(tok, "legacy") == 0) {
			spec.legacy = 1;
		} else if (strcmp(tok, "proxy") == 0) {
			spec.proxy = 1;
		} else {
			*err_r = xasprintf("listen = %s: unknown option '%s' "
					   "(expected tls, legacy or proxy)",
					   value, tok);
			goto fail;
		}
	}
	if (spec.addr == NULL) {
		*err_r = xasprintf("listen = %s: expected PROTO ADDRESS "
				   "[tls] [legacy] [proxy]",
				   value);
		goto fail;
	}
	if (strncmp(spec.addr, "unix:", 5) == 0) {
		if (spec.addr[5] == '\0' ||
		    strlen(spec.addr + 5) >=
			sizeof(((struct sockaddr_un *)0)->sun_path)) {
			*err_r = xasprintf("listen = %s: bad unix socket path",
					   value);
			goto fail;
		}
	} else if (split_host_port(spec.addr, &host, &port) < 0) {
		*err_r = xasprintf("listen = %s: expected HOST:PORT or "
				   "unix:PATH",
				   value);
		goto fail;
	} else {
		free(host);
	}
	free(copy);
	*spec_r = spec;
	return 0;
fail:
	free(copy);
	net_listen_spec_clear(&spec);
	return -1;
}

/* --- accepting ---------------------------------------------------------- */

static void accept_cb(struct evconnlistener *evl, evutil_socket_t fd,
		      struct sockaddr *sa, int salen, void *arg)
{
	struct net_listener *l = arg;

	(void)evl;
	if (l->net->shutting_down) {
		close(fd);
		return;
	}
	conn_accepted(l, fd, sa, salen);
}

static void accept_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct net_listener *l = arg;

	(void)fd;
	(void)what;
	if (l->evl != NULL && !l->net->listeners_paused &&
	    !l->net->shutting_down)
		evconnlistener_enable(l->evl);
}

/* EMFILE and friends: stop accepting for a moment instead of spinning. */
static void accept_error_cb(struct evconnlistener *evl, void *arg)
{
	struct net_listener *l = arg;
	struct timeval tv = {0, NET_ACCEPT_RETRY_MS * 1000};

	log_warn("event=accept_failed listener=%s", l->local);
	evconnlistener_disable(evl);
	event_base_once(l->net->base, -1, EV_TIMEOUT, accept_retry_cb, l, &tv);
}

static void accept_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct net *n = arg;
	struct net_listener *l;

	(void)fd;
	(void)what;
	if (n->listeners_paused || n->shutting_down)
		return;
	for (l = n->listeners; l != NULL; l = l->next)
		if (l->evl != NULL)
			evconnlistener_enable(l->evl);
}

void net_accept_hold(struct net *n, unsigned ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
	struct net_listener *l;

	if (n->listeners_paused || n->shutting_down)
		return;
	/* also ends the accept loop of the listener we are called from */
	for (l = n->listeners; l != NULL; l = l->next)
		if (l->evl != NULL)
			evconnlistener_disable(l->evl);
	event_base_once(n->base, -1, EV_TIMEOUT, accept_resume_cb, n, &tv);
}

void net_listeners_pause(struct net *n, int pause)
{
	struct net_listener *l;

	if (n->listeners_paused == pause)
		return;
	n->listeners_paused = pause;
	if (pause)
		log_warnx("event=max_connections limit=%u",
			  n->params.max_connections);
	for (l = n->listeners; l != NULL; l = l->next) {
		if (l->evl == NULL)
			continue;
		if (pause)
			evconnlistener_disable(l->evl);
		else
			evconnlistener_enable(l->evl);
	}
}

/* Stops accepting: the sockets close, Unix socket files go.  The
 * listener structs stay until net_free(): connections point at them. */
void net_listeners_close(struct net *n)
{
	struct net_listener *l;

	for (l = n->listeners; l != NULL; l = l->next) {
		if (l->evl != NULL)
			evconnlistener_free(l->evl);
		l->evl = NULL;
		if (l->unix_path != NULL)
			unlink(l->unix_path);
	}
}

void net_listeners_free(struct net *n)
{
	net_listeners_close(n);
	while (n->listeners != NULL) {
		struct net_listener *l = n->listeners;

		n->listeners = l->next;
		free(l->unix_path);
		net_listen_spec_clear(&l->spec);
		free(l);
	}
}

/* --- binding ------------------------------------------------------------ */

static int bind_unix(struct net_listener *l, const char *path, char **err_r)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct stat st;
	int fd;

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	if (lstat(path, &st) == 0) {
		int probe;

		if (!S_ISSOCK(st.st_mode)) {
			*err_r = xasprintf("listen %s: exists and is not a "
					   "socket",
					   path);
			close(fd);
			return -1;
		}
		/* a live daemon answers; a stale file does not */
		probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (probe >= 0 &&
		    connect(probe, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
			close(probe);
			close(fd);
			*err_r = xasprintf("listen %s: another process is "
					   "listening there",
					   path);
			return -1;
		}
		if (probe >= 0)
			close(probe);
		unlink(path);
	}
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0)
		goto fail;
	if (chmod(path, 0660) < 0 || listen(fd, NET_BACKLOG) < 0) {
		unlink(path);
		goto fail;
	}
	l->is_unix = 1;
	l->unix_path = xstrdup(path);
	net_unix_socket_note(path);
	snprintf(l->local, sizeof(l->local), "unix:%s", path);
	return fd;
fail:
	*err_r = xasprintf("listen %s: %s", path, strerror(errno));
	if (fd >= 0)
		close(fd);
	return -1;
}

static void format_local(struct net_listener *l, int fd, unsigned *port_r)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char ip[INET6_ADDRSTRLEN] = "?";

	*port_r = 0;
	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return;
	if (ss.ss_family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;

		inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
		*port_r = ntohs(in->sin_port);
		snprintf(l->local, sizeof(l->local), "%s:%u", ip, *port_r);
	} else if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;

		inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
		*port_r = ntohs(in6->sin6_port);
		snprintf(l->local, sizeof(l->local), "[%s]:%u", ip, *port_r);
	}
}

static int bind_tcp(struct net_listener *l, const char *addr, char **err_r)
{
	struct addrinfo hints = {0}, *res = NULL, *ai;
	char portstr[16];
	unsigned port;
	char *host;
	int fd = -1, one = 1, gai, saved = 0;

	if (split_host_port(addr, &host, &port) < 0) {
		*err_r = xasprintf("listen %s: expected HOST:PORT", addr);
		return -1;
	}
	snprintf(portstr, sizeof(portstr), "%u", port);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	gai = getaddrinfo(host, portstr, &hints, &res);
	free(host);
	if (gai != 0) {
		*err_r = xasprintf("listen %s: %s", addr, gai_strerror(gai));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family,
			    ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
			    ai->ai_protocol);
		if (fd < 0) {
			saved = errno;
			continue;
		}
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (ai->ai_family == AF_INET6)
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one,
				   sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
		    listen(fd, NET_BACKLOG) == 0)
			break;
		saved = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		*err_r = xasprintf("listen %s: %s", addr, strerror(saved));
		return -1;
	}
	format_local(l, fd, &port);
	if (l->net != NULL)	/* NULL from net_listen_bind() */
		l->net->last_port = port;
	return fd;
}

static int check_tls(const struct net *n, const struct net_listen_spec *spec,
		     char **err_r)
{
	if (spec->tls == NET_TLS_IMPLICIT && n->params.tls_ctx == NULL) {
		*err_r = xasprintf("listen %s %s tls: no TLS certificate "
				   "configured (tls_cert, tls_key)",
				   spec->proto, spec->addr);
		return -1;
	}
	return 0;
}

static int listener_start(struct net *n, struct net_listener *l, int fd,
			  const struct net_listen_spec *spec,
			  const struct conn_ops *ops, void *arg, char **err_r);

int net_listen(struct net *n, const struct net_listen_spec *spec,
	       const struct conn_ops *ops, void *arg, char **err_r)
{
	struct net_listener *l;
	int fd;

	if (check_tls(n, spec, err_r) < 0)
		return -1;
	l = xcalloc(1, sizeof(*l));
	l->net = n;
	if (strncmp(spec->addr, "unix:", 5) == 0)
		fd = bind_unix(l, spec->addr + 5, err_r);
	else
		fd = bind_tcp(l, spec->addr, err_r);
	if (fd < 0) {
		free(l);
		return -1;
	}
	return listener_start(n, l, fd, spec, ops, arg, err_r);
}

int net_listen_bind(const struct net_listen_spec *spec, char **err_r)
{
	struct net_listener tmp;
	int fd;

	memset(&tmp, 0, sizeof(tmp));
	if (strncmp(spec->addr, "unix:", 5) == 0)
		fd = bind_unix(&tmp, spec->addr + 5, err_r);
	else
		fd = bind_tcp(&tmp, spec->addr, err_r);
	free(tmp.unix_path);	/* the caller owns the socket file */
	return fd;
}

int net_listen_fd(struct net *n, int fd, const struct net_listen_spec *spec,
		  const struct conn_ops *ops, void *arg, char **err_r)
{
	struct net_listener *l;
	unsigned port;
	int mine;

	if (check_tls(n, spec, err_r) < 0)
		return -1;
	/* our own descriptor: the listener closes it when it goes, the
	 * caller's (and the other processes') stay open */
	mine = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (mine < 0) {
		*err_r = xasprintf("listen %s: dup: %s", spec->addr,
				   strerror(errno));
		return -1;
	}
	l = xcalloc(1, sizeof(*l));
	l->net = n;
	if (strncmp(spec->addr, "unix:", 5) == 0) {
		l->is_unix = 1;	/* unix_path stays NULL: never unlinked here */
		snprintf(l->local, sizeof(l->local), "%s", spec->addr);
	} else {
		format_local(l, mine, &port);
		n->last_port = port;
	}
	return listener_start(n, l, mine, spec, ops, arg, err_r);
}

/* Takes fd and l (freed on failure): the evconnlistener and the rest. */
static int listener_start(struct net *n, struct net_listener *l, int fd,
			  const struct net_listen_spec *spec,
			  const struct conn_ops *ops, void *arg, char **err_r)
{
	char qlocal[sizeof(l->local) + 16];

	l->evl = evconnlistener_new(
	    n->base, accept_cb, l,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0, fd);
	if (l->evl == NULL) {
		*err_r = xasprintf("listen %s: evconnlistener_new failed",
				   spec->addr);
		close(fd);
		if (l->unix_path != NULL) {
			unlink(l->unix_path);
			free(l->unix_path);
		}
		free(l);
		return -1;
	}
	evconnlistener_set_error_cb(l->evl, accept_error_cb);
	l->spec.proto = xstrdup(spec->proto);
	l->spec.addr = xstrdup(spec->addr);
	l->spec.tls = spec->tls;
	l->spec.legacy = spec->legacy;
	l->spec.proxy = spec->proxy;
	l->ops = ops;
	l->arg = arg;
	if (n->listeners_paused || n->shutting_down)
		evconnlistener_disable(l->evl);
	l->next = n->listeners;
	n->listeners = l;
	log_info("event=listen proto=%s addr=%s%s", spec->proto,
		 log_q(qlocal, sizeof(qlocal), l->local),
		 spec->tls == NET_TLS_IMPLICIT ? " tls=implicit" : "");
	return 0;
}
