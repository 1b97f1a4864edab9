/*
 * imap_fetch.c - FETCH and UID FETCH (RFC 3501 6.4.5, RFC 9051 6.4.5),
 * with CONDSTORE MODSEQ / CHANGEDSINCE and QRESYNC VANISHED (RFC 7162).
 *
 * ENVELOPE, BODY and BODYSTRUCTURE come ready-made from the MIME record
 * the engine cached at delivery; BODY[section]<partial> is a slice of the
 * message file located through that record (never re-parsed).  Small
 * slices are read and queued; large ones go out with conn_write_file()
 * (sendfile on plain links).  Non-PEEK body fetches set \Seen first and
 * report FLAGS (RFC 3501 6.4.5).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "log.h"
#include "mailstore.h"
#include "mime.h"
#include "net.h"
#include "strbuf.h"
#include "store/imap.h"
#include "store/imap_acl.h"
#include "store/store.h"

#define FETCH_INLINE_MAX (64 * 1024)
/* Above this many messages (and an eighth of the mailbox), index records
 * are read in one listing. */
#define FETCH_LIST_MIN 32

enum fetch_kind {
	F_UID, F_FLAGS, F_INTERNALDATE, F_SIZE, F_ENVELOPE, F_BODYSTRUCTURE,
	F_BODY, F_MODSEQ, F_SECTION, F_EMAILID, F_THREADID,
};

enum section_text {
	S_ALL = 0,	/* BODY[] or BODY[part] */
	S_HEADER, S_FIELDS, S_FIELDS_NOT, S_TEXT, S_MIME,
	S_BINARY, S_BINARY_SIZE, /* RFC 3516, imap_binary.c */
};

struct fetch_item {
	enum fetch_kind kind;
	/* F_SECTION */
	char *part;		/* "", "1.2" */
	enum section_text text;
	char **fields;
	size_t nfields;
	int peek;
	int partial;
	uint64_t origin, count;
	char *label;		/* "BODY[HEADER]", "RFC822", ... */
};

struct fetch_req {
	struct fetch_item *items;
	size_t n;
	int need_msg, need_mime, set_seen;
	uint64_t changedsince;
	int vanished;
};

static void req_free(struct fetch_req *r)
{
	for (size_t i = 0; i < r->n; i++) {
		free(r->items[i].part);
		free(r->items[i].label);
		for (size_t k = 0; k < r->items[i].nfields; k++)
			free(r->items[i].fields[k]);
		free(r->items[i].fields);
	}
	free(r->items);
}

static struct fetch_item *item_add(struct fetch_req *r, enum fetch_kind k)
{
	for (size_t i = 0; i < r->n; i++)
		if (k != F_SECTION && r->items[i].kind == k)
			return &r->items[i];
	r->items = xrealloc(r->items, (r->n + 1) * sizeof(*r->items));
	memset(&r->items[r->n], 0, sizeof(*r->items));
	r->items[r->n].kind = k;
	return &r->items[r->n++];
}

/* "[1.2.HEADER.FIELDS (A B)]<0.100>" after BODY / BODY.PEEK / BINARY. */
static int parse_section(struct fetch_item *it, const char *s,
			 const char *prefix)
{
	const char *close = strchr(s, ']'), *p = s + 1, *t;
	struct strbuf lab;

	if (*s != '[' || close == NULL)
		return -1;
	while (*p >= '0' && *p <= '9') {
		while (*p >= '0' && *p <= '9')
			p++;
		if (*p == '.' && p[1] >= '0' && p[1] <= '9')
			p++;
		else
			break;
	}
	it->part = xstrndup(s + 1, (size_t)(p - s - 1));
	if (it->part[0] != '\0' && *p == '.')
		p++;
	else if (it->part[0] != '\0' && p != close)
		return -1;
	t = p;
	if (t == close)
		it->text = S_ALL;
	else if (strncasecmp(t, "HEADER.FIELDS.NOT ", 18) == 0)
		it->text = S_FIELDS_NOT;
	else if (strncasecmp(t, "HEADER.FIELDS ", 14) == 0)
		it->text = S_FIELDS;
	else if (strncasecmp(t, "HEADER]", 7) == 0)
		it->text = S_HEADER;
	else if (strncasecmp(t, "TEXT]", 5) == 0)
		it->text = S_TEXT;
	else if (strncasecmp(t, "MIME]", 5) == 0 && it->part[0] != '\0')
		it->text = S_MIME;
	else
		return -1;
	if (it->text == S_FIELDS || it->text == S_FIELDS_NOT) {
		const char *q = strchr(t, '(');
		const char *e = q != NULL ? strchr(q, ')') : NULL;

		if (q == NULL || e == NULL || e + 1 != close)
			return -1;
		q++;
		while (q < e) {
			size_t n = strcspn(q, " )");

			if (n == 0)
				return -1;
			it->fields = xrealloc(it->fields, (it->nfields + 1) *
								  sizeof(char *));
			it->fields[it->nfields++] = xstrndup(q, n);
			q += n;
			if (*q == ' ')
				q++;
		}
		if (it->nfields == 0)
			return -1;
	}
	p = close + 1;
	if (*p == '<') {
		char *end;

		it->partial = 1;
		it->origin = strtoull(p + 1, &end, 10);
		if (*end != '.' || end == p + 1)
			return -1;
		it->count = strtoull(end + 1, &end, 10);
		if (*end != '>' || end[1] != '\0' || it->count == 0)
			return -1;
	} else if (*p != '\0') {
		return -1;
	}
	strbuf_init(&lab);
	strbuf_adds(&lab, prefix);
	strbuf_add(&lab, s, (size_t)(close - s + 1));
	for (char *u = lab.data + strlen(prefix); *u != '\0'; u++)
		if (*u >= 'a' && *u <= 'z' && !(it->text == S_FIELDS ||
						 it->text == S_FIELDS_NOT))
			*u = (char)(*u - 'a' + 'A');
	if (it->partial)
		strbuf_printf(&lab, "<%llu>", (unsigned long long)it->origin);
	it->label = strbuf_steal(&lab, NULL);
	return 0;
}

/* BINARY[part]<p>, BINARY.PEEK[part]<p>, BINARY.SIZE[part] (RFC 3516). */
static int parse_binary(struct fetch_req *r, const char *a)
{
	struct fetch_item *it = item_add(r, F_SECTION);
	int size = strncasecmp(a, "BINARY.SIZE[", 12) == 0;
	int peek = strncasecmp(a, "BINARY.PEEK[", 12) == 0;

	if (!size && !peek && strncasecmp(a, "BINARY[", 7) != 0)
		return -1;
	it->peek = peek || size;
	if (parse_section(it, a + (size || peek ? 11 : 6),
			  size ? "BINARY.SIZE" : "BINARY") < 0 ||
	    it->text != S_ALL || (size && it->partial))
		return -1;
	it->text = size ? S_BINARY_SIZE : S_BINARY;
	r->need_mime = 1;
	r->set_seen |= !it->peek;
	return 0;
}

static int parse_item(struct fetch_req *r, const char *a)
{
	struct fetch_item *it;

	if (strcasecmp(a, "UID") == 0)
		item_add(r, F_UID);
	else if (strcasecmp(a, "FLAGS") == 0)
		item_add(r, F_FLAGS);
	else if (strcasecmp(a, "INTERNALDATE") == 0)
		item_add(r, F_INTERNALDATE), r->need_msg = 1;
	else if (strcasecmp(a, "RFC822.SIZE") == 0)
		item_add(r, F_SIZE), r->need_msg = 1;
	else if (strcasecmp(a, "ENVELOPE") == 0)
		item_add(r, F_ENVELOPE), r->need_mime = 1;
	else if (strcasecmp(a, "BODYSTRUCTURE") == 0)
		item_add(r, F_BODYSTRUCTURE), r->need_mime = 1;
	else if (strcasecmp(a, "BODY") == 0)
		item_add(r, F_BODY), r->need_mime = 1;
	else if (strcasecmp(a, "MODSEQ") == 0)
		item_add(r, F_MODSEQ);
	else if (strcasecmp(a, "RFC822") == 0 ||
		 strcasecmp(a, "RFC822.HEADER") == 0 ||
		 strcasecmp(a, "RFC822.TEXT") == 0) {
		it = item_add(r, F_SECTION);
		it->part = xstrdup("");
		it->text = a[6] == '\0' ? S_ALL : a[7] == 'H' || a[7] == 'h'
							  ? S_HEADER
							  : S_TEXT;
		it->peek = it->text == S_HEADER;
		it->label = xstrdup(a[6] == '\0' ? "RFC822"
				    : it->text == S_HEADER ? "RFC822.HEADER"
							   : "RFC822.TEXT");
		for (char *u = it->label; *u; u++)
			if (*u >= 'a' && *u <= 'z')
				*u = (char)(*u - 'a' + 'A');
		r->need_mime = 1;
		r->set_seen |= !it->peek;
	} else if (strcasecmp(a, "EMAILID") == 0) { /* RFC 8474 */
		item_add(r, F_EMAILID), r->need_msg = 1;
	} else if (strcasecmp(a, "THREADID") == 0) {
		item_add(r, F_THREADID), r->need_msg = 1, r->need_mime = 1;
	} else if (strncasecmp(a, "BINARY", 6) == 0) {
		return parse_binary(r, a);
	} else if (strncasecmp(a, "BODY[", 5) == 0 ||
		   strncasecmp(a, "BODY.PEEK[", 10) == 0) {
		int peek = a[4] == '.';

		it = item_add(r, F_SECTION);
		it->peek = peek;
		if (parse_section(it, a + (peek ? 9 : 4), "BODY") < 0)
			return -1;
		r->need_mime = 1;
		r->set_seen |= !peek;
	} else {
		return -1;
	}
	return 0;
}

static int parse_items(struct fetch_req *r, const struct imap_arg *a)
{
	const char *s = imap_arg_string(a);

	if (a->type == IMAP_ARG_LIST) {
		if (a->count == 0)
			return -1;
		for (size_t i = 0; i < a->count; i++) {
			s = imap_arg_string(&a->list[i]);
			if (a->list[i].type != IMAP_ARG_ATOM ||
			    parse_item(r, s) < 0)
				return -1;
		}
		return 0;
	}
	if (s == NULL || a->type != IMAP_ARG_ATOM)
		return -1;
	if (strcasecmp(s, "ALL") == 0 || strcasecmp(s, "FAST") == 0 ||
	    strcasecmp(s, "FULL") == 0) {
		parse_item(r, "FLAGS");
		parse_item(r, "INTERNALDATE");
		parse_item(r, "RFC822.SIZE");
		if (strcasecmp(s, "FAST") != 0)
			parse_item(r, "ENVELOPE");
		if (strcasecmp(s, "FULL") == 0)
			parse_item(r, "BODY");
		return 0;
	}
	return parse_item(r, s);
}

static int parse_modifiers(struct imap_session *s, struct fetch_req *r,
			   const struct imap_arg *a, int uid)
{
	for (size_t i = 0; i < a->count; i++) {
		const char *m = imap_arg_string(&a->list[i]);

		if (m == NULL)
			return -1;
		if (strcasecmp(m, "CHANGEDSINCE") == 0 && i + 1 < a->count) {
			const char *v = imap_arg_string(&a->list[++i]);
			char *end;

			if (v == NULL || *v < '0' || *v > '9')
				return -1;
			r->changedsince = strtoull(v, &end, 10);
			if (*end != '\0')
				return -1;
			s->enabled |= IMAP_EN_CONDSTORE;
		} else if (strcasecmp(m, "VANISHED") == 0 && uid &&
			   (s->enabled & IMAP_EN_QRESYNC)) {
			r->vanished = 1;
		} else {
			return -1;
		}
	}
	/* RFC 7162 3.2.6: VANISHED needs CHANGEDSINCE */
	return r->vanished && r->changedsince == 0 ? -1 : 0;
}

/* ---- output -------------------------------------------------------------- */

struct fetch_out {
	struct imap_session *s;
	struct strbuf b;
	int fd;
	uint32_t mailbox_id;
	int unknown_cte; /* a BINARY part we cannot decode (RFC 3516) */
};

static int ensure_fd(struct fetch_out *o, uint32_t uid)
{
	if (o->fd >= 0)
		return 0;
	return mstore_msg_open(o->s->st->ms, o->mailbox_id, uid, &o->fd) ==
			       MSTORE_OK
		       ? 0
		       : -1;
}

/* Queues the literal {len} of file bytes [off, off+len). */
static void write_slice(struct fetch_out *o, uint64_t off, uint64_t len)
{
	strbuf_printf(&o->b, "{%llu}\r\n", (unsigned long long)len);
	if (len == 0)
		return;
	if (len <= FETCH_INLINE_MAX) {
		size_t at = o->b.len;
		ssize_t got;

		strbuf_reserve(&o->b, (size_t)len);
		got = pread(o->fd, o->b.data + at, (size_t)len, (off_t)off);
		if (got < 0)
			got = 0;
		o->b.len = at + (size_t)got;
		/* a short file is padded: the literal length is promised */
		while (o->b.len < at + len)
			strbuf_addc(&o->b, ' ');
		o->b.data[o->b.len] = '\0';
		return;
	}
	imap_write(o->s, o->b.data, o->b.len);
	strbuf_reset(&o->b);
	if (conn_write_file(o->s->c, o->fd, (off_t)off, (off_t)len) == 0)
		return;
	/* no fd to spare (EMFILE...): copy, the literal length is promised */
	log_warnx("event=imap_fetch_file_fallback session=%s",
		  conn_id(o->s->c));
	while (len > 0) {
		char buf[65536];
		size_t want = len < sizeof(buf) ? (size_t)len : sizeof(buf);
		ssize_t got = pread(o->fd, buf, want, (off_t)off);

		if (got <= 0) {
			memset(buf, ' ', want);
			got = (ssize_t)want;
		}
		imap_write(o->s, buf, (size_t)got);
		off += (uint64_t)got;
		len -= (uint64_t)got;
	}
}

static int field_listed(const struct fetch_item *it, const char *name,
			size_t len)
{
	for (size_t i = 0; i < it->nfields; i++)
		if (strlen(it->fields[i]) == len &&
		    strncasecmp(it->fields[i], name, len) == 0)
			return 1;
	return 0;
}

static void write_fields(struct fetch_out *o, const struct fetch_item *it,
			 uint64_t off, uint64_t len)
{
	struct strbuf out;
	char *hdr = xmalloc(len + 1);
	ssize_t got = pread(o->fd, hdr, (size_t)len, (off_t)off);
	struct mime_header_field f;
	size_t pos = 0;

	strbuf_init(&out);
	if (got < 0)
		got = 0;
	while (mime_header_next(hdr, (size_t)got, &pos, &f)) {
		int listed = field_listed(it, f.name, f.name_len);

		if (listed != (it->text == S_FIELDS))
			continue;
		strbuf_add(&out, f.name,
			   (size_t)(f.value + f.value_len - f.name));
		strbuf_add(&out, "\r\n", 2);
	}
	strbuf_add(&out, "\r\n", 2);
	free(hdr);
	{
		uint64_t o0 = it->partial ? it->origin : 0;
		uint64_t n = out.len > o0 ? out.len - o0 : 0;

		if (it->partial && n > it->count)
			n = it->count;
		strbuf_printf(&o->b, "{%llu}\r\n", (unsigned long long)n);
		strbuf_add(&o->b, out.data + (out.len > o0 ? o0 : out.len),
			   (size_t)n);
	}
	strbuf_free(&out);
}

/* BINARY[part]<partial> / BINARY.SIZE[part] (RFC 3516 4.2, 4.3). */
static void write_binary(struct fetch_out *o, const struct fetch_item *it,
			 const struct mime_message *m, uint32_t uid)
{
	const struct mime_part *p = it->part[0] == '\0'
					? &m->parts[0]
					: mime_find_section(m, it->part);
	struct strbuf dec;
	uint64_t off = 0, len;

	strbuf_init(&dec);
	if (p != NULL && ensure_fd(o, uid) == 0)
		imap_binary_decode(o->fd, m, p, it->part[0] == '\0', &dec);
	if (it->text == S_BINARY_SIZE) {
		strbuf_printf(&o->b, "%s %zu", it->label, dec.len);
		strbuf_free(&dec);
		return;
	}
	len = dec.len;
	if (it->partial) {
		off = it->origin < len ? it->origin : len;
		len -= off;
		if (len > it->count)
			len = it->count;
	}
	/* literal8 when the content holds NUL (RFC 3516 4.3) */
	strbuf_printf(&o->b, "%s %s{%llu}\r\n", it->label,
		      memchr(dec.data + off, '\0', (size_t)len) ? "~" : "",
		      (unsigned long long)len);
	strbuf_add(&o->b, dec.data + off, (size_t)len);
	strbuf_free(&dec);
}

/* RFC 3516 4.2: FETCH BINARY of an encoding we cannot undo is NO. */
static int binary_undecodable(const struct fetch_req *r,
			      const struct mime_message *m)
{
	for (size_t i = 0; m != NULL && i < r->n; i++) {
		const struct fetch_item *it = &r->items[i];
		const struct mime_part *p;

		if (it->kind != F_SECTION ||
		    (it->text != S_BINARY && it->text != S_BINARY_SIZE) ||
		    it->part[0] == '\0')
			continue;
		p = mime_find_section(m, it->part);
		if (p != NULL && !imap_binary_cte_known(p))
			return 1;
	}
	return 0;
}

static void write_section(struct fetch_out *o, const struct fetch_item *it,
			  const struct mime_message *m, uint32_t uid)
{
	const struct mime_part *p;
	uint64_t off = 0, len = 0;

	if (it->text == S_BINARY || it->text == S_BINARY_SIZE) {
		write_binary(o, it, m, uid);
		return;
	}
	strbuf_adds(&o->b, it->label);
	strbuf_addc(&o->b, ' ');
	if (it->text == S_ALL || it->text == S_MIME)
		p = it->part[0] == '\0' ? &m->parts[0]
					: mime_find_section(m, it->part);
	else
		p = mime_find_message(m, it->part);
	if (p == NULL || ensure_fd(o, uid) < 0) {
		/* RFC 3501 6.4.5: a section that does not exist is empty */
		strbuf_adds(&o->b, p == NULL ? "\"\"" : "NIL");
		return;
	}
	switch (it->text) {
	case S_ALL:
		if (it->part[0] == '\0') {
			off = 0;
			len = m->size;
		} else {
			off = p->body_off;
			len = p->body_len;
		}
		break;
	case S_MIME:
	case S_HEADER:
		off = p->header_off;
		len = p->header_len;
		break;
	case S_TEXT:
		off = p->body_off;
		len = p->body_len;
		break;
	case S_FIELDS:
	case S_FIELDS_NOT:
		write_fields(o, it, p->header_off, p->header_len);
		return;
	case S_BINARY:
	case S_BINARY_SIZE:
		return; /* write_binary() */
	}
	if (it->partial) {
		if (it->origin >= len) {
			len = 0;
		} else {
			off += it->origin;
			len -= it->origin;
			if (len > it->count)
				len = it->count;
		}
	}
	write_slice(o, off, len);
}

/*
 * One FETCH response.  pre: the message's index record when the caller
 * read them all at once, else NULL (read here when needed: sizes, dates,
 * ids, and the modseq, which the view does not keep).
 */
static void fetch_one(struct fetch_out *o, const struct fetch_req *r,
		      uint32_t msn, int uid_cmd, const struct mstore_msg *pre)
{
	struct imap_session *s = o->s;
	struct imap_view_msg view_msg, *vm = &view_msg;
	struct mstore_msg rec;
	struct mime_message *mime = NULL;
	int first = 1, has_uid = 0, has_modseq = 0, has_flags = 0;

	memset(&rec, 0, sizeof(rec));
	if (imap_view_get(s->view, msn, vm) < 0)
		return;
	if (pre != NULL)
		rec = *pre;
	else if (r->need_msg && mstore_msg_get(s->st->ms, o->mailbox_id,
					       vm->uid, &rec) != MSTORE_OK)
		return; /* expunged meanwhile: nothing to say */
	/* RFC 7162 3.1.4.1: CHANGEDSINCE */
	if (r->changedsince != 0 && rec.modseq <= r->changedsince)
		return;
	if (r->need_mime && mstore_msg_mime(s->st->ms, o->mailbox_id, vm->uid,
					    &mime) != MSTORE_OK)
		return;
	if (binary_undecodable(r, mime)) {
		o->unknown_cte = 1;
		mime_message_free(&mime);
		return;
	}
	o->fd = -1;
	strbuf_printf(&o->b, "* %u FETCH (", msn);
	for (size_t i = 0; i < r->n; i++) {
		const struct fetch_item *it = &r->items[i];

		if (!first)
			strbuf_addc(&o->b, ' ');
		first = 0;
		switch (it->kind) {
		case F_UID:
			strbuf_printf(&o->b, "UID %u", vm->uid);
			has_uid = 1;
			break;
		case F_FLAGS:
			strbuf_adds(&o->b, "FLAGS ");
			imap_view_write_flags(s->view, vm, &o->b);
			has_flags = 1;
			break;
		case F_INTERNALDATE:
			strbuf_adds(&o->b, "INTERNALDATE ");
			imap_write_datetime(&o->b, rec.internaldate,
					    rec.tz_offset);
			break;
		case F_SIZE:
			strbuf_printf(&o->b, "RFC822.SIZE %llu",
				      (unsigned long long)rec.size);
			break;
		case F_ENVELOPE:
			strbuf_printf(&o->b, "ENVELOPE %s", mime->envelope);
			break;
		case F_BODYSTRUCTURE:
			strbuf_printf(&o->b, "BODYSTRUCTURE %s",
				      mime->bodystructure);
			break;
		case F_BODY:
			strbuf_printf(&o->b, "BODY %s", mime->body);
			break;
		case F_MODSEQ:
			strbuf_printf(&o->b, "MODSEQ (%llu)",
				      (unsigned long long)rec.modseq);
			has_modseq = 1;
			break;
		case F_SECTION:
			write_section(o, it, mime, vm->uid);
			break;
		case F_EMAILID:
			strbuf_adds(&o->b, "EMAILID (");
			imap_objectid_email(&o->b, rec.guid);
			strbuf_addc(&o->b, ')');
			break;
		case F_THREADID:
			strbuf_adds(&o->b, "THREADID (");
			imap_objectid_thread(&o->b, mime, rec.guid);
			strbuf_addc(&o->b, ')');
			break;
		}
	}
	if (uid_cmd && !has_uid)
		strbuf_printf(&o->b, " UID %u", vm->uid);
	if (r->set_seen && !has_flags) {
		/* \Seen may just have been set: report the flags */
		strbuf_adds(&o->b, " FLAGS ");
		imap_view_write_flags(s->view, vm, &o->b);
	}
	if ((s->enabled & IMAP_EN_CONDSTORE) && !has_modseq)
		strbuf_printf(&o->b, " MODSEQ (%llu)",
			      (unsigned long long)rec.modseq);
	strbuf_add(&o->b, ")\r\n", 3);
	imap_write(s, o->b.data, o->b.len);
	strbuf_reset(&o->b);
	if (o->fd >= 0)
		close(o->fd);
	mime_message_free(&mime);
}

/* Sets \Seen on the messages that lack it (non-PEEK body fetches). */
static void mark_seen(struct imap_session *s, uint32_t mailbox_id,
		      const uint32_t *msns, size_t n)
{
	struct mstore_flag_change chg = {MSTORE_FLAGS_ADD, MSTORE_F_SEEN, NULL, 0};
	struct mstore_msg *changed = NULL;
	uint32_t *uids = xcalloc(n + 1, sizeof(*uids));
	size_t k = 0, nchanged = 0;

	for (size_t i = 0; i < n; i++) {
		struct imap_view_msg m;

		if (imap_view_get(s->view, msns[i], &m) == 0 &&
		    !(m.flags & MSTORE_F_SEEN) && !m.expunged)
			uids[k++] = m.uid;
	}
	/* RFC 4314 4: needs "s"; per-user \Seen when shared (imap_acl.h) */
	if (k > 0 && imap_acl_flags_store(s, mailbox_id, uids, k, &chg,
					  &changed, &nchanged, NULL,
					  NULL) == MSTORE_OK) {
		for (size_t i = 0; i < nchanged; i++)
			imap_view_set_flags(s,
					    imap_view_msn(s->view,
							  changed[i].uid),
					    changed[i].flags,
					    changed[i].keywords);
	}
	free(changed);
	free(uids);
}

static int rec_uid_cmp(const void *a, const void *b)
{
	const struct mstore_msg *x = a, *y = b;

	return x->uid < y->uid ? -1 : x->uid > y->uid;
}

/*
 * The FETCH responses for msns.  Records are read in one pass when many
 * are needed: with CHANGEDSINCE only the changed ones (the engine lists
 * them by modseq), else the whole mailbox; one by one for a few.
 */
/*
 * A FETCH in progress.  A FETCH of a whole mailbox can produce gigabytes;
 * it runs until the connection holds IMAP_OUTPUT_HIGH bytes of output
 * (memory, or files queued for sendfile), then waits for the client to
 * read (imap_session.c's flow control calls imap_fetch_continue()), so the
 * store never queues more than that per session.  Meanwhile the session
 * reads no commands (imap_cmd_wait) and its view stays as it was: the
 * message numbers in msns stay valid until the tagged reply.
 */
struct imap_fetch_job {
	struct fetch_req r;
	struct fetch_out o;
	uint32_t *msns;
	size_t n, next;
	int uid_cmd;
	int waited; /* the command went asynchronous */
	/* index records listed in one pass (many messages, or CHANGEDSINCE) */
	struct mstore_msg *recs;
	size_t nrecs;
	int listed;
};

static void job_free(struct imap_fetch_job *j)
{
	strbuf_free(&j->o.b);
	free(j->msns);
	free(j->recs);
	req_free(&j->r);
	free(j);
}

/*
 * Records are read in one pass when many are needed: with CHANGEDSINCE only
 * the changed ones (the engine lists them by modseq), else the whole
 * mailbox; one by one for a few.
 */
static void job_list(struct imap_fetch_job *j)
{
	struct imap_session *s = j->o.s;

	if (j->r.changedsince != 0)
		j->listed = mstore_msg_list_changed(s->st->ms, j->o.mailbox_id,
						    j->r.changedsince, &j->recs,
						    &j->nrecs) == MSTORE_OK;
	else if (j->r.need_msg && j->n > FETCH_LIST_MIN &&
		 j->n * 8 >= imap_view_count(s->view))
		j->listed = mstore_msg_list(s->st->ms, j->o.mailbox_id,
					    &j->recs, &j->nrecs) == MSTORE_OK;
	if (j->listed && j->nrecs > 1)
		qsort(j->recs, j->nrecs, sizeof(*j->recs), rec_uid_cmp);
}

/* Runs the job on; 1 when every response is out. */
static int job_run(struct imap_fetch_job *j)
{
	struct imap_session *s = j->o.s;
	struct mstore_msg key;

	while (j->next < j->n) {
		struct imap_view_msg m;
		const struct mstore_msg *rec = NULL;
		uint32_t msn = j->msns[j->next++];

		if (s->closing)
			return 1;
		if (imap_view_get(s->view, msn, &m) < 0 || m.expunged)
			continue;
		if (j->listed) {
			key.uid = m.uid;
			rec = j->nrecs > 0 ? bsearch(&key, j->recs, j->nrecs,
						     sizeof(*j->recs),
						     rec_uid_cmp)
					   : NULL;
			if (rec == NULL)
				continue; /* unchanged, or expunged meanwhile */
		}
		fetch_one(&j->o, &j->r, msn, j->uid_cmd, rec);
		if (conn_output_pending(s->c) > IMAP_OUTPUT_HIGH &&
		    j->next < j->n)
			return 0;
	}
	return 1;
}

/* The tagged reply; the job is gone after it. */
static void job_finish(struct imap_session *s)
{
	struct imap_fetch_job *j = s->fetch;
	int unknown_cte = j->o.unknown_cte, waited = j->waited;

	s->fetch = NULL;
	job_free(j);
	if (s->closing) {
		if (waited)
			imap_cmd_done(s);
		return;
	}
	if (unknown_cte)
		imap_no(s, "UNKNOWN-CTE", "Cannot decode a part's encoding");
	else
		imap_ok(s, NULL, "FETCH completed");
	if (waited)
		imap_cmd_done(s);
}

void imap_fetch_continue(struct imap_session *s)
{
	if (s->fetch != NULL && job_run(s->fetch))
		job_finish(s);
}

void imap_fetch_abandon(struct imap_session *s)
{
	if (s->fetch != NULL) {
		job_free(s->fetch);
		s->fetch = NULL;
	}
}

static void send_vanished(struct imap_session *s, uint32_t mailbox_id,
			  const struct imap_seqset *set, uint64_t since)
{
	uint32_t *gone = NULL;
	size_t n = 0, k = 0;
	struct strbuf b;

	if (mstore_tombstones(s->st->ms, mailbox_id, since, &gone, &n) !=
	    MSTORE_OK)
		return;
	for (size_t i = 0; i < n; i++)
		if (set->saved || imap_seqset_contains(set, gone[i], UINT32_MAX))
			gone[k++] = gone[i];
	if (k > 0) {
		strbuf_init(&b);
		strbuf_adds(&b, "* VANISHED (EARLIER) ");
		imap_seqset_write(&b, gone, k);
		strbuf_add(&b, "\r\n", 2);
		imap_write(s, b.data, b.len);
		strbuf_free(&b);
	}
	free(gone);
}

void imap_cmd_fetch(struct imap_session *s, const struct imap_command *cmd)
{
	struct fetch_req r;
	struct imap_seqset set;
	struct imap_view_info vi;
	struct imap_fetch_job *j;
	uint32_t *msns = NULL;
	size_t n = 0;
	const char *err;

	memset(&r, 0, sizeof(r));
	if (imap_seqset_parse(imap_arg_string(&cmd->args[0]), &set, &err) < 0) {
		imap_bad(s, NULL, "%s", err);
		return;
	}
	if (parse_items(&r, &cmd->args[1]) < 0 ||
	    cmd->nargs > 3 ||
	    (cmd->nargs == 3 && (cmd->args[2].type != IMAP_ARG_LIST ||
				 parse_modifiers(s, &r, &cmd->args[2],
						 cmd->uid) < 0))) {
		req_free(&r);
		imap_seqset_free(&set);
		imap_bad(s, NULL, "Invalid FETCH items");
		return;
	}
	if (imap_view_resolve(s, &set, cmd->uid, &msns, &n) < 0) {
		req_free(&r);
		imap_seqset_free(&set);
		imap_bad(s, NULL, "Invalid message sequence number");
		return;
	}
	imap_view_info(s->view, &vi);
	if (r.vanished)
		send_vanished(s, vi.mailbox_id, &set, r.changedsince);
	imap_seqset_free(&set);
	if (r.set_seen && !vi.readonly)
		mark_seen(s, vi.mailbox_id, msns, n);
	else
		r.set_seen = 0;
	/* the modseq comes from the engine's record (the view has none) */
	if (r.changedsince != 0 || (s->enabled & IMAP_EN_CONDSTORE))
		r.need_msg = 1;
	j = xcalloc(1, sizeof(*j));
	j->r = r;
	j->o.s = s;
	j->o.mailbox_id = vi.mailbox_id;
	strbuf_init(&j->o.b);
	j->msns = msns;
	j->n = n;
	j->uid_cmd = cmd->uid;
	s->fetch = j;
	job_list(j);
	if (job_run(j)) {
		job_finish(s);
		return;
	}
	/* the rest when the client has read (imap_fetch_continue) */
	j->waited = 1;
	imap_cmd_wait(s);
}
