/*
 * xclient.c - XCLIENT attributes (xclient.h): the parser, xtext, the
 * client's address for logs, and the trust rule.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "net.h"
#include "strbuf.h"
#include "xclient.h"

static const struct {
	const char *name;
	unsigned bit;
} xclient_names[] = {
    {"ADDR", XCLIENT_ADDR},   {"PORT", XCLIENT_PORT},
    {"NAME", XCLIENT_NAME},   {"HELO", XCLIENT_HELO},
    {"PROTO", XCLIENT_PROTO}, {"SESSION", XCLIENT_SESSION},
    {"TTL", XCLIENT_TTL},
};

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	return -1;
}

int xclient_xtext_decode(const char *in, size_t len, char *out, size_t size)
{
	size_t i, n = 0;

	if (size == 0)
		return -1;
	for (i = 0; i < len; i++) {
		char ch = in[i];

		if (ch == '+') {
			int hi, lo;

			if (len - i < 3)
				return -1;
			hi = hexval(in[i + 1]);
			lo = hexval(in[i + 2]);
			if (hi < 0 || lo < 0)
				return -1;
			ch = (char)(hi * 16 + lo);
			i += 2;
		}
		if (n + 1 >= size)
			return -1;
		out[n++] = ch;
	}
	out[n] = '\0';
	return (int)n;
}

void xclient_xtext_encode(struct strbuf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *s != '\0'; s++) {
		unsigned char ch = (unsigned char)*s;

		/* RFC 3461 4: xchar is "!" through "~" except "+" and "=" */
		if (ch < 0x21 || ch > 0x7e || ch == '+' || ch == '=') {
			strbuf_addc(b, '+');
			strbuf_addc(b, hex[ch >> 4]);
			strbuf_addc(b, hex[ch & 15]);
		} else {
			strbuf_addc(b, (char)ch);
		}
	}
}

/* Postfix's words for "not known". */
static int unavailable(const char *v)
{
	return strcasecmp(v, "[UNAVAILABLE]") == 0 ||
	       strcasecmp(v, "[TEMPUNAVAIL]") == 0;
}

/* Decimal 0..max without sign, spaces or leading junk. */
static int parse_uint(const char *v, unsigned max, unsigned *out)
{
	unsigned long n = 0;

	if (*v == '\0' || strlen(v) > 5)
		return -1;
	for (; *v != '\0'; v++) {
		if (*v < '0' || *v > '9')
			return -1;
		n = n * 10 + (unsigned long)(*v - '0');
	}
	if (n > max)
		return -1;
	*out = (unsigned)n;
	return 0;
}

/* ADDR: IPv4, IPv6 (bare, as Dovecot sends it, or with Postfix's
 * "IPV6:"), normalised the way the kernel's peer addresses print. */
static int parse_addr(const char *v, char *out, size_t size)
{
	unsigned char bin[16];

	if (inet_pton(AF_INET, v, bin) == 1)
		return inet_ntop(AF_INET, bin, out, (socklen_t)size) ? 0 : -1;
	if (strncasecmp(v, "IPV6:", 5) == 0)
		v += 5;
	if (inet_pton(AF_INET6, v, bin) == 1)
		return inet_ntop(AF_INET6, bin, out, (socklen_t)size) ? 0 : -1;
	return -1;
}

/* Log-safe: printable ASCII without spaces (every value here is a host
 * name, an address, a number or a token). */
static int printable_token(const char *v)
{
	for (; *v != '\0'; v++)
		if ((unsigned char)*v < 0x21 || (unsigned char)*v > 0x7e)
			return -1;
	return 0;
}

static int session_token(const char *v)
{
	if (*v == '\0' || strlen(v) > XCLIENT_MAX_SESSION)
		return -1;
	for (; *v != '\0'; v++) {
		char ch = *v;

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' ||
		      ch == '.' || ch == '+' || ch == '/' || ch == '='))
			return -1;
	}
	return 0;
}

static int set_value(struct xclient *x, unsigned bit, const char *v,
		     const char **err_r)
{
	switch (bit) {
	case XCLIENT_ADDR:
		if (unavailable(v)) {
			x->addr[0] = '\0';
			break;
		}
		if (parse_addr(v, x->addr, sizeof(x->addr)) < 0) {
			*err_r = "Invalid ADDR";
			return -1;
		}
		break;
	case XCLIENT_PORT:
		if (unavailable(v)) {
			x->port = 0;
			break;
		}
		if (parse_uint(v, 65535, &x->port) < 0 || x->port == 0) {
			*err_r = "Invalid PORT";
			return -1;
		}
		break;
	case XCLIENT_NAME:
	case XCLIENT_HELO: {
		char *dst = bit == XCLIENT_NAME ? x->name : x->helo;

		if (unavailable(v)) {
			dst[0] = '\0';
			break;
		}
		if (printable_token(v) < 0) {
			*err_r = bit == XCLIENT_NAME ? "Invalid NAME"
						     : "Invalid HELO";
			return -1;
		}
		snprintf(dst, XCLIENT_MAX_VALUE + 1, "%s", v);
		break;
	}
	case XCLIENT_PROTO:
		if (strcasecmp(v, "SMTP") != 0 && strcasecmp(v, "ESMTP") != 0 &&
		    strcasecmp(v, "LMTP") != 0) {
			*err_r = "Invalid PROTO";
			return -1;
		}
		for (size_t i = 0; v[i] != '\0'; i++)
			x->proto[i] = (char)(v[i] & ~0x20);
		x->proto[strlen(v)] = '\0';
		break;
	case XCLIENT_SESSION:
		if (session_token(v) < 0) {
			*err_r = "Invalid SESSION";
			return -1;
		}
		snprintf(x->session, sizeof(x->session), "%s", v);
		break;
	case XCLIENT_TTL:
		if (parse_uint(v, 255, &x->ttl) < 0) {
			*err_r = "Invalid TTL";
			return -1;
		}
		break;
	default:
		*err_r = "Unknown attribute";
		return -1;
	}
	x->have |= bit;
	return 0;
}

int xclient_parse_attr(struct xclient *x, const char *attr, size_t len,
		       unsigned allowed, const char **err_r)
{
	const char *eq = memchr(attr, '=', len);
	char value[XCLIENT_MAX_VALUE + 1];
	struct xclient tmp;
	size_t klen, i;
	unsigned bit = 0;
	int n;

	if (eq == NULL || eq == attr) {
		*err_r = "Expected NAME=VALUE";
		return -1;
	}
	klen = (size_t)(eq - attr);
	for (i = 0; i < sizeof(xclient_names) / sizeof(*xclient_names); i++)
		if (strlen(xclient_names[i].name) == klen &&
		    strncasecmp(xclient_names[i].name, attr, klen) == 0)
			bit = xclient_names[i].bit;
	if (bit == 0 || (bit & allowed) == 0) {
		for (i = 0; i < klen; i++)
			if (!((attr[i] >= 'A' && attr[i] <= 'Z') ||
			      (attr[i] >= 'a' && attr[i] <= 'z') ||
			      (attr[i] >= '0' && attr[i] <= '9') ||
			      attr[i] == '-' || attr[i] == '_'))
				break;
		if (i == klen && (allowed & XCLIENT_LENIENT))
			return 0;
		*err_r = "Unknown attribute";
		return -1;
	}
	len -= klen + 1;
	if (len == 0) {
		*err_r = "Empty attribute value";
		return -1;
	}
	if (allowed & XCLIENT_XTEXT) {
		n = xclient_xtext_decode(eq + 1, len, value, sizeof(value));
		if (n < 0) {
			*err_r = "Invalid xtext value";
			return -1;
		}
		/* a NUL byte from "+00" would cut the value short unseen */
		if ((size_t)n != strlen(value)) {
			*err_r = "Invalid attribute value";
			return -1;
		}
	} else {
		if (len >= sizeof(value) || memchr(eq + 1, '\0', len)) {
			*err_r = "Invalid attribute value";
			return -1;
		}
		memcpy(value, eq + 1, len);
		value[len] = '\0';
	}
	tmp = *x;
	if (set_value(&tmp, bit, value, err_r) < 0)
		return -1;
	*x = tmp;
	return 0;
}

int xclient_parse(struct xclient *x, const char *args, unsigned allowed,
		  const char **err_r)
{
	struct xclient tmp = *x;
	const char *p = args;
	unsigned count = 0;

	for (;;) {
		size_t n;

		while (*p == ' ')
			p++;
		if (*p == '\0')
			break;
		n = strcspn(p, " ");
		if (++count > XCLIENT_MAX_ATTRS) {
			*err_r = "Too many attributes";
			return -1;
		}
		if (xclient_parse_attr(&tmp, p, n, allowed, err_r) < 0)
			return -1;
		p += n;
	}
	if (count == 0) {
		*err_r = "Expected NAME=VALUE";
		return -1;
	}
	*x = tmp;
	return 0;
}

const char *xclient_peer(const struct xclient *x, const char *fallback,
			 char *buf, size_t size)
{
	if (x == NULL || !(x->have & XCLIENT_ADDR)) {
		snprintf(buf, size, "%s", fallback != NULL ? fallback : "unknown");
		return buf;
	}
	if (x->addr[0] == '\0')
		snprintf(buf, size, "unknown");
	else if (x->port == 0)
		snprintf(buf, size, "%s", x->addr);
	else if (strchr(x->addr, ':') != NULL)
		snprintf(buf, size, "[%s]:%u", x->addr, x->port);
	else
		snprintf(buf, size, "%s:%u", x->addr, x->port);
	return buf;
}

int xclient_conn_args(struct strbuf *b, const struct conn *c, int xtext)
{
	const char *ip = conn_peer_ip(c);
	const char *port = strrchr(conn_peer(c), ':');
	char check[XCLIENT_IP_MAX];
	int v6;

	if (conn_is_local_socket(c) || parse_addr(ip, check, sizeof(check)) < 0)
		return -1;
	v6 = strchr(check, ':') != NULL;
	strbuf_printf(b, "ADDR=%s%s", xtext && v6 ? "IPV6:" : "", check);
	if (port != NULL && port[1] != '\0')
		strbuf_printf(b, " PORT=%s", port + 1);
	return 0;
}

int xclient_trusted(const struct conn *c)
{
	const struct net_listen_spec *spec;

	if (c == NULL)
		return 0;
	if (conn_is_local_socket(c))
		return 1;
	spec = conn_listen_spec(c);
	return spec != NULL && spec->proxy;
}

void xclient_begin(struct xclient *x, const struct xclient *cur)
{
	if (cur != NULL)
		*x = *cur;
	else
		memset(x, 0, sizeof(*x));
}

void xclient_commit(struct xclient **cur, const struct xclient *x,
		    const struct conn *c, char *client, size_t size)
{
	if (*cur == NULL)
		*cur = xmalloc(sizeof(**cur));
	**cur = *x;
	xclient_peer(*cur, conn_peer(c), client, size);
}

int xclient_refused(const struct conn *c, const char *proto)
{
	if (xclient_trusted(c))
		return 0;
	log_info("event=%s_xclient_refused session=%s peer=%s "
		 "reason=untrusted",
		 proto, conn_id(c), conn_peer(c));
	return 1;
}
