/*
 * mime_serial.c - byte encodings: the parsed message as a compact index
 * record, and the Content-Transfer-Encoding decoders (mime.h).
 *
 * Layout (all integers LEB128 varints, strings a varint "length + 1" with 0
 * for NULL, then the bytes):
 *
 *	"RMM" version(1 byte)
 *	size flags date(zigzag)
 *	envelope bodystructure body subject base_subject
 *	from.name from.addr to.name to.addr cc.name cc.addr
 *	message_id in_reply_to references
 *	nparts, then per part:
 *	  parent+1 kind flags header_off header_len body_off body_len
 *	  body_lines type subtype charset encoding
 *
 * Tree links and section numbers are not stored: mime_assign_tree()
 * rebuilds them from the parents, so they cannot disagree with each other.
 */
#include "mime.h"

#include <stdlib.h>
#include <string.h>

#define SERIAL_MAGIC "RMM"
#define SERIAL_VERSION 1

static void put_varint(struct strbuf *out, uint64_t v)
{
	do {
		unsigned char b = v & 0x7f;

		v >>= 7;
		strbuf_addc(out, (char)(b | (v ? 0x80 : 0)));
	} while (v != 0);
}

static void put_str(struct strbuf *out, const char *s)
{
	size_t n;

	if (s == NULL) {
		put_varint(out, 0);
		return;
	}
	n = strlen(s);
	put_varint(out, (uint64_t)n + 1);
	strbuf_add(out, s, n);
}

#define NSTRINGS 14

/* The message-level strings, in record order. */
static void message_strings(struct mime_message *m, char **v[NSTRINGS])
{
	v[0] = &m->envelope;
	v[1] = &m->bodystructure;
	v[2] = &m->body;
	v[3] = &m->subject;
	v[4] = &m->base_subject;
	v[5] = &m->from.name;
	v[6] = &m->from.addr;
	v[7] = &m->to.name;
	v[8] = &m->to.addr;
	v[9] = &m->cc.name;
	v[10] = &m->cc.addr;
	v[11] = &m->message_id;
	v[12] = &m->in_reply_to;
	v[13] = &m->references;
}

int mime_serialize(const struct mime_message *m, struct strbuf *out)
{
	char **fields[NSTRINGS];
	int64_t date = (int64_t)m->date;
	unsigned int i;

	message_strings((struct mime_message *)m, fields);
	strbuf_add(out, SERIAL_MAGIC, 3);
	strbuf_addc(out, SERIAL_VERSION);
	put_varint(out, m->size);
	put_varint(out, m->flags);
	put_varint(out, ((uint64_t)date << 1) ^ (uint64_t)(date >> 63));
	for (i = 0; i < NSTRINGS; i++)
		put_str(out, *fields[i]);
	put_varint(out, m->nparts);
	for (i = 0; i < m->nparts; i++) {
		const struct mime_part *p = &m->parts[i];

		put_varint(out, (uint64_t)(p->parent + 1));
		put_varint(out, (uint64_t)p->kind);
		put_varint(out, p->flags);
		put_varint(out, p->header_off);
		put_varint(out, p->header_len);
		put_varint(out, p->body_off);
		put_varint(out, p->body_len);
		put_varint(out, p->body_lines);
		put_str(out, p->type);
		put_str(out, p->subtype);
		put_str(out, p->charset);
		put_str(out, p->encoding);
	}
	return 0;
}

/* ---- reading ------------------------------------------------------------ */

struct reader {
	const unsigned char *p;
	size_t left;
	int bad;
	char *arena; /* strings go here, NUL-terminated */
	size_t used, cap;
};

static uint64_t get_varint(struct reader *r)
{
	uint64_t v = 0;
	unsigned int shift = 0;

	while (!r->bad) {
		unsigned char b;

		if (r->left == 0 || shift > 63) {
			r->bad = 1;
			break;
		}
		b = *r->p++;
		r->left--;
		if (shift == 63 && (b & 0x7e) != 0) {
			r->bad = 1; /* more than 64 bits */
			break;
		}
		v |= (uint64_t)(b & 0x7f) << shift;
		if ((b & 0x80) == 0)
			return v;
		shift += 7;
	}
	return 0;
}

/* A size_t-sized value no larger than max. */
static size_t get_size(struct reader *r, uint64_t max)
{
	uint64_t v = get_varint(r);

	if (v > max)
		r->bad = 1;
	return r->bad ? 0 : (size_t)v;
}

static char *get_str(struct reader *r, int required)
{
	uint64_t n = get_varint(r);
	char *s;

	if (r->bad)
		return NULL;
	if (n == 0) {
		if (required)
			r->bad = 1;
		return NULL;
	}
	n--;
	if (n > r->left || memchr(r->p, '\0', (size_t)n) != NULL) {
		r->bad = 1;
		return NULL;
	}
	/* n + 1 <= the bytes the string took in the record (n plus at
	 * least one of length), so an arena of the record's size holds
	 * every string */
	if (n + 1 > r->cap - r->used) {
		r->bad = 1;
		return NULL;
	}
	s = r->arena + r->used;
	memcpy(s, r->p, (size_t)n);
	s[n] = '\0';
	r->used += (size_t)n + 1;
	r->p += n;
	r->left -= (size_t)n;
	return s;
}

static int range_ok(size_t off, size_t len, size_t size)
{
	return off <= size && len <= size - off;
}

static int read_part(struct reader *r, struct mime_message *m, unsigned int i,
		     unsigned char *depth)
{
	struct mime_part *p = &m->parts[i];
	const struct mime_part *par;
	uint64_t parent = get_varint(r);

	p->kind = (enum mime_part_kind)get_size(r, MIME_PART_MESSAGE);
	p->flags = (uint32_t)get_size(r, MIME_PART_ROOT);
	p->header_off = get_size(r, m->size);
	p->header_len = get_size(r, m->size);
	p->body_off = get_size(r, m->size);
	p->body_len = get_size(r, m->size);
	p->body_lines = get_size(r, m->size);
	p->type = get_str(r, 1);
	p->subtype = get_str(r, 1);
	p->charset = get_str(r, 0);
	p->encoding = get_str(r, 1);
	if (r->bad || parent > i || (i == 0) != (parent == 0))
		return -1;
	p->parent = (int)parent - 1;
	if (!range_ok(p->header_off, p->header_len, m->size) ||
	    !range_ok(p->body_off, p->body_len, m->size) ||
	    p->body_lines > p->body_len)
		return -1;
	if (i == 0) {
		depth[0] = 0;
		return (p->flags & MIME_PART_ROOT) ? 0 : -1;
	}
	/* Tree shape: only multiparts and messages have children; a
	 * message has exactly one, its ROOT; ROOTs live in messages. */
	par = &m->parts[p->parent];

	if (par->kind == MIME_PART_LEAF ||
	    ((p->flags & MIME_PART_ROOT) != 0) !=
		(par->kind == MIME_PART_MESSAGE) ||
	    (par->kind == MIME_PART_MESSAGE && par->nchildren > 0))
		return -1;
	m->parts[p->parent].nchildren++;
	depth[i] = (unsigned char)(depth[p->parent] + 1);
	return depth[i] > MIME_MAX_DEPTH ? -1 : 0;
}

int mime_deserialize(const void *buf, size_t len, struct mime_message **m_r)
{
	struct reader r = {buf, len, 0, NULL, 0, 0};
	struct mime_message *m;
	char **fields[NSTRINGS];
	unsigned char *depth;
	unsigned int i;
	uint64_t zz, nparts;

	*m_r = NULL;
	if (len < 4 || memcmp(buf, SERIAL_MAGIC, 3) != 0 ||
	    r.p[3] != SERIAL_VERSION)
		return -1;
	r.p += 4;
	r.left -= 4;
	m = xcalloc(1, sizeof(*m));
	m->arena = r.arena = xmalloc(len);
	m->arena_len = r.cap = len;
	m->size = get_size(&r, MIME_MAX_MESSAGE_SIZE);
	m->flags =
	    (uint32_t)get_size(&r, MIME_MESSAGE_LIMITED | MIME_MESSAGE_HAS_NUL |
				       MIME_MESSAGE_BARE_LF);
	zz = get_varint(&r);
	m->date = (time_t)(int64_t)((zz >> 1) ^ (0 - (zz & 1)));
	message_strings(m, fields);
	for (i = 0; i < NSTRINGS; i++)
		*fields[i] = get_str(&r, i < 3 || i == 4);
	/* Every part takes at least 12 bytes: no huge allocation. */
	nparts = get_varint(&r);
	if (r.bad || nparts == 0 || nparts > MIME_MAX_PARTS ||
	    nparts > r.left / 12) {
		mime_message_free(&m);
		return -1;
	}
	m->parts = xcalloc((size_t)nparts, sizeof(*m->parts));
	depth = xmalloc((size_t)nparts);
	for (i = 0; i < nparts; i++) {
		m->nparts = i + 1;
		if (read_part(&r, m, i, depth) < 0) {
			r.bad = 1;
			break;
		}
	}
	free(depth);
	for (i = 0; !r.bad && i < m->nparts; i++)
		if (m->parts[i].kind == MIME_PART_MESSAGE &&
		    m->parts[i].nchildren != 1)
			r.bad = 1;
	if (r.bad || r.left != 0) {
		mime_message_free(&m);
		return -1;
	}
	mime_assign_tree(m);
	*m_r = m;
	return 0;
}

/* ---- Content-Transfer-Encoding decoders --------------------------------- */

static int b64val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

void mime_decode_base64(const char *in, size_t len, struct strbuf *out)
{
	unsigned int acc = 0, bits = 0;
	size_t i;
	int v;

	strbuf_reserve(out, len / 4 * 3 + 3);
	for (i = 0; i < len; i++) {
		if (in[i] == '=') {
			/* Padding ends a quantum; leftover bits are dropped. */
			acc = bits = 0;
			continue;
		}
		v = b64val((unsigned char)in[i]);
		if (v < 0)
			continue; /* line breaks, white space, garbage */
		acc = ((acc << 6) | (unsigned int)v) & 0xffffff;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out->data[out->len++] = (char)((acc >> bits) & 0xff);
		}
	}
	out->data[out->len] = '\0';
}

static int hex(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes one line of quoted-printable; returns 1 for a soft break. */
static int qp_line(const char *in, size_t end, struct strbuf *out)
{
	size_t i;
	int hi, lo;

	for (i = 0; i < end; i++) {
		if (in[i] != '=') {
			out->data[out->len++] = in[i];
			continue;
		}
		if (i + 1 == end)
			return 1; /* soft line break */
		hi = i + 2 < end ? hex((unsigned char)in[i + 1]) : -1;
		lo = i + 2 < end ? hex((unsigned char)in[i + 2]) : -1;
		if (hi < 0 || lo < 0) {
			out->data[out->len++] = '='; /* kept as written */
			continue;
		}
		out->data[out->len++] = (char)(hi * 16 + lo);
		i += 2;
	}
	return 0;
}

void mime_decode_qp(const char *in, size_t len, struct strbuf *out)
{
	size_t p = 0, next, brk, end;
	const char *nl;

	strbuf_reserve(out, len);
	while (p < len) {
		nl = memchr(in + p, '\n', len - p);
		next = nl != NULL ? (size_t)(nl - in) + 1 : len;
		brk = nl != NULL ? (size_t)(nl - in) : len;
		if (brk > p && in[brk - 1] == '\r')
			brk--;
		/* RFC 2045 6.7 (3): trailing white space is not data. */
		end = brk;
		while (end > p && (in[end - 1] == ' ' || in[end - 1] == '\t'))
			end--;
		if (!qp_line(in + p, end - p, out)) {
			memcpy(out->data + out->len, in + brk, next - brk);
			out->len += next - brk;
		}
		p = next;
	}
	out->data[out->len] = '\0';
}
