/*
 * sieve_addr.c - address lists in header fields (RFC 5322 3.4) for the
 * address and envelope tests, and address parts (RFC 5228 2.7.4,
 * RFC 5233 subaddress with '+' as the separator).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sieve/sieve_int.h"

void sv_addrs_free(struct sv_addr *a, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(a[i].local);
		free(a[i].domain);
		free(a[i].all);
	}
	free(a);
}

/* Copies s without comments, folding and (outside quotes) blanks. */
static void strip_cfws(const char *s, size_t len, struct strbuf *out)
{
	int depth = 0;
	bool quoted = false;

	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (quoted) {
			if (c == '\\' && i + 1 < len) {
				strbuf_addc(out, c);
				c = s[++i];
			} else if (c == '"') {
				quoted = false;
			}
			if (c != '\r' && c != '\n')
				strbuf_addc(out, c);
		} else if (depth > 0) {
			if (c == '\\' && i + 1 < len)
				i++;
			else if (c == '(')
				depth++;
			else if (c == ')')
				depth--;
		} else if (c == '(') {
			depth++;
		} else if (c == '"') {
			quoted = true;
			strbuf_addc(out, c);
		} else if (c != ' ' && c != '\t' && c != '\r' && c != '\n') {
			strbuf_addc(out, c);
		}
	}
}

static void add_addr(struct sv_addr **out, size_t *n, const char *s, size_t len)
{
	struct strbuf sb;
	struct sv_addr *a;
	const char *at = NULL, *lt, *gt, *p;
	size_t l;

	strbuf_init(&sb);
	lt = memchr(s, '<', len);
	gt = lt ? memchr(lt, '>', len - (size_t)(lt - s)) : NULL;
	if (lt && gt) {
		s = lt + 1;
		len = (size_t)(gt - lt - 1);
	}
	strip_cfws(s, len, &sb);
	p = sb.data;
	l = sb.len;
	/* an obsolete route "@a,@b:" before the address */
	if (l > 0 && p[0] == '@' && memchr(p, ':', l) != NULL) {
		const char *c = memchr(p, ':', l);

		l -= (size_t)(c + 1 - p);
		p = c + 1;
	}
	if (l == 0) {
		strbuf_free(&sb);
		return;
	}
	for (size_t i = 0; i < l; i++) {
		if (p[i] == '"') {
			for (i++; i < l && p[i] != '"'; i++)
				if (p[i] == '\\')
					i++;
		} else if (p[i] == '@') {
			at = p + i;
		}
	}
	*out = xrealloc(*out, (*n + 1) * sizeof(**out));
	a = &(*out)[(*n)++];
	memset(a, 0, sizeof(*a));
	a->all = xstrndup(p, l);
	if (at != NULL && at > p && at + 1 < p + l) {
		const char *lp = p;
		size_t llen = (size_t)(at - p);
		struct strbuf loc;

		strbuf_init(&loc);
		if (llen >= 2 && lp[0] == '"' && lp[llen - 1] == '"') {
			for (size_t i = 1; i + 1 < llen; i++) {
				if (lp[i] == '\\' && i + 2 < llen)
					i++;
				strbuf_addc(&loc, lp[i]);
			}
		} else {
			strbuf_add(&loc, lp, llen);
		}
		a->local = strbuf_steal(&loc, NULL);
		strbuf_free(&loc);
		a->domain = xstrndup(at + 1, (size_t)(p + l - at - 1));
		free(a->all);
		strbuf_reset(&sb);
		strbuf_adds(&sb, a->local);
		strbuf_addc(&sb, '@');
		strbuf_adds(&sb, a->domain);
		a->all = xstrndup(sb.data, sb.len);
	}
	strbuf_free(&sb);
}

size_t sv_addr_parse_list(const char *s, size_t len, struct sv_addr **out_r)
{
	size_t n = 0, start = 0;
	int depth = 0;
	bool quoted = false, angle = false;

	*out_r = NULL;
	for (size_t i = 0; i <= len; i++) {
		char c = i < len ? s[i] : ',';

		if (quoted) {
			if (c == '\\')
				i++;
			else if (c == '"')
				quoted = false;
			continue;
		}
		if (depth > 0) {
			if (c == '\\')
				i++;
			else if (c == '(')
				depth++;
			else if (c == ')')
				depth--;
			if (i < len)
				continue;
		}
		switch (c) {
		case '"':
			quoted = true;
			break;
		case '(':
			depth++;
			break;
		case '<':
			angle = true;
			break;
		case '>':
			angle = false;
			break;
		case ':':
			/* a group name ends here */
			if (!angle)
				start = i + 1;
			break;
		case ',':
		case ';':
			if (angle && i < len)
				break;
			add_addr(out_r, &n, s + start, i - start);
			start = i + 1;
			angle = false;
			break;
		}
	}
	return n;
}

bool sv_addr_part(const struct sv_addr *a, enum sv_addrpart part,
		  struct strbuf *out)
{
	const char *plus;

	if (part == SV_AP_ALL) {
		strbuf_adds(out, a->all);
		return true;
	}
	if (a->domain == NULL) {
		/* not a valid address: only :all sees it (RFC 5228 2.7.4
		 * leaves this to the implementation) */
		return false;
	}
	switch (part) {
	case SV_AP_LOCALPART:
		strbuf_adds(out, a->local);
		return true;
	case SV_AP_DOMAIN:
		strbuf_adds(out, a->domain);
		return true;
	case SV_AP_USER:
		plus = strchr(a->local, '+');
		strbuf_add(out, a->local,
			   plus ? (size_t)(plus - a->local) : strlen(a->local));
		return true;
	case SV_AP_DETAIL:
		plus = strchr(a->local, '+');
		if (plus == NULL)
			return false;
		strbuf_adds(out, plus + 1);
		return true;
	default:
		return false;
	}
}

bool sv_addr_header_ok(const char *name)
{
	static const char *const ok[] = {
	    "from",
	    "sender",
	    "reply-to",
	    "to",
	    "cc",
	    "bcc",
	    "resent-from",
	    "resent-sender",
	    "resent-to",
	    "resent-cc",
	    "resent-bcc",
	    "return-path",
	    "disposition-notification-to",
	    "delivered-to",
	    "errors-to",
	    "x-original-to",
	    "envelope-to",
	    "x-envelope-to",
	    "original-recipient",
	    "return-receipt-to",
	    "mail-followup-to",
	    "mail-reply-to",
	    "approved",
	};

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (strcasecmp(name, ok[i]) == 0)
			return true;
	return false;
}

int sv_addr_redirect(const char *s, size_t len, struct strbuf *out)
{
	struct sv_addr *a;
	size_t n = sv_addr_parse_list(s, len, &a);
	int ret = -1;

	if (n == 1 && a[0].domain != NULL && a[0].local[0] != '\0' &&
	    a[0].domain[0] != '\0' &&
	    strpbrk(a[0].domain, "@<>\"(),;:\\") == NULL) {
		strbuf_adds(out, a[0].all);
		ret = 0;
	}
	sv_addrs_free(a, n);
	return ret;
}
