/*
 * mailstore_codec.c - record and key encodings of the storage engine, and
 * user / mailbox name rules.
 *
 * Integers are big-endian everywhere so that keys sort numerically.  Every
 * record starts with a version byte; decoders check lengths and return -1
 * on anything malformed (a damaged record is an error, never a crash).
 */
#include "mailstore_int.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#define MS_REC_VERSION 1

void ms_put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

void ms_put_be64(uint8_t *p, uint64_t v)
{
	ms_put_be32(p, (uint32_t)(v >> 32));
	ms_put_be32(p + 4, (uint32_t)v);
}

uint32_t ms_get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

uint64_t ms_get_be64(const uint8_t *p)
{
	return (uint64_t)ms_get_be32(p) << 32 | ms_get_be32(p + 4);
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* ---- message record: fixed 77 bytes ------------------------------------ */

void ms_msg_encode(const struct mstore_msg *m, uint8_t out[MS_MSG_REC_LEN])
{
	uint8_t *p = out;

	*p++ = MS_REC_VERSION;
	ms_put_be32(p, m->uid);
	p += 4;
	ms_put_be32(p, m->flags);
	p += 4;
	ms_put_be64(p, m->keywords);
	p += 8;
	ms_put_be64(p, m->modseq);
	p += 8;
	ms_put_be64(p, m->size);
	p += 8;
	ms_put_be64(p, (uint64_t)m->internaldate);
	p += 8;
	ms_put_be32(p, (uint32_t)m->tz_offset);
	p += 4;
	for (int i = 0; i < 32; i++) {
		int hi = hexval(m->guid[2 * i]);
		int lo = hexval(m->guid[2 * i + 1]);

		*p++ = (uint8_t)((hi < 0 ? 0 : hi) << 4 | (lo < 0 ? 0 : lo));
	}
}

/* The modseq of an encoded message record, without decoding the rest (the
 * modseq index's key extractor runs on every write). */
int ms_msg_peek_modseq(const void *buf, size_t len, uint64_t *modseq_r)
{
	const uint8_t *p = buf;

	if (len != MS_MSG_REC_LEN || p[0] != MS_REC_VERSION)
		return -1;
	*modseq_r = ms_get_be64(p + 1 + 4 + 4 + 8);
	return 0;
}

int ms_msg_decode(const void *buf, size_t len, struct mstore_msg *m_r)
{
	static const char hex[] = "0123456789abcdef";
	const uint8_t *p = buf;

	if (len != MS_MSG_REC_LEN || p[0] != MS_REC_VERSION)
		return -1;
	p++;
	m_r->uid = ms_get_be32(p);
	p += 4;
	m_r->flags = ms_get_be32(p);
	p += 4;
	m_r->keywords = ms_get_be64(p);
	p += 8;
	m_r->modseq = ms_get_be64(p);
	p += 8;
	m_r->size = ms_get_be64(p);
	p += 8;
	m_r->internaldate = (int64_t)ms_get_be64(p);
	p += 8;
	m_r->tz_offset = (int32_t)ms_get_be32(p);
	p += 4;
	for (int i = 0; i < 32; i++) {
		m_r->guid[2 * i] = hex[p[i] >> 4];
		m_r->guid[2 * i + 1] = hex[p[i] & 15];
	}
	m_r->guid[64] = '\0';
	return 0;
}

/* ---- variable records: a tiny reader --------------------------------- */

struct ms_rd {
	const uint8_t *p;
	size_t left;
	int bad;
};

static uint64_t rd_u64(struct ms_rd *r)
{
	uint64_t v;

	if (r->left < 8) {
		r->bad = 1;
		return 0;
	}
	v = ms_get_be64(r->p);
	r->p += 8;
	r->left -= 8;
	return v;
}

static uint32_t rd_u32(struct ms_rd *r)
{
	uint32_t v;

	if (r->left < 4) {
		r->bad = 1;
		return 0;
	}
	v = ms_get_be32(r->p);
	r->p += 4;
	r->left -= 4;
	return v;
}

/* A u16-length-prefixed string, copied (NUL-free). */
static char *rd_str(struct ms_rd *r)
{
	size_t n;
	char *s;

	if (r->left < 2) {
		r->bad = 1;
		return NULL;
	}
	n = (size_t)r->p[0] << 8 | r->p[1];
	if (r->left - 2 < n || memchr(r->p + 2, '\0', n) != NULL) {
		r->bad = 1;
		return NULL;
	}
	s = xstrndup((const char *)r->p + 2, n);
	r->p += 2 + n;
	r->left -= 2 + n;
	return s;
}

static void wr_u64(struct strbuf *s, uint64_t v)
{
	uint8_t b[8];

	ms_put_be64(b, v);
	strbuf_add(s, b, 8);
}

static void wr_u32(struct strbuf *s, uint32_t v)
{
	uint8_t b[4];

	ms_put_be32(b, v);
	strbuf_add(s, b, 4);
}

static void wr_str(struct strbuf *s, const char *str)
{
	size_t n = strlen(str);

	if (n > 0xffff)
		n = 0xffff;
	strbuf_addc(s, (char)(n >> 8));
	strbuf_addc(s, (char)(n & 0xff));
	strbuf_add(s, str, n);
}

/* ---- mailbox record ---------------------------------------------------- */

void ms_mbox_encode(const struct mstore_mailbox *mb, struct strbuf *out)
{
	strbuf_addc(out, MS_REC_VERSION);
	wr_u32(out, mb->id);
	wr_u32(out, mb->uidvalidity);
	wr_u32(out, mb->uidnext);
	wr_u64(out, mb->highestmodseq);
	wr_u32(out, mb->messages);
	wr_u32(out, mb->unseen);
	wr_u32(out, mb->deleted);
	wr_u64(out, mb->bytes);
	wr_u32(out, mb->special_use);
	wr_u64(out, (uint64_t)mb->created);
	wr_str(out, mb->owner);
	wr_str(out, mb->name);
}

int ms_mbox_decode(const void *buf, size_t len, struct mstore_mailbox *mb_r)
{
	struct ms_rd r = {.p = buf, .left = len};

	memset(mb_r, 0, sizeof(*mb_r));
	if (len < 1 || r.p[0] != MS_REC_VERSION)
		return -1;
	r.p++;
	r.left--;
	mb_r->id = rd_u32(&r);
	mb_r->uidvalidity = rd_u32(&r);
	mb_r->uidnext = rd_u32(&r);
	mb_r->highestmodseq = rd_u64(&r);
	mb_r->messages = rd_u32(&r);
	mb_r->unseen = rd_u32(&r);
	mb_r->deleted = rd_u32(&r);
	mb_r->bytes = rd_u64(&r);
	mb_r->special_use = rd_u32(&r);
	mb_r->created = (int64_t)rd_u64(&r);
	mb_r->owner = rd_str(&r);
	mb_r->name = r.bad ? NULL : rd_str(&r);
	if (r.bad || r.left != 0) {
		mstore_mailbox_clear(mb_r);
		return -1;
	}
	return 0;
}

/* ---- change row --------------------------------------------------------- */

void ms_change_encode(const struct mstore_change *ch, struct strbuf *out)
{
	strbuf_addc(out, MS_REC_VERSION);
	strbuf_addc(out, (char)ch->kind);
	wr_u32(out, ch->mailbox_id);
	wr_u32(out, ch->uid);
	wr_u64(out, ch->modseq);
	wr_u64(out, (uint64_t)ch->time);
	wr_str(out, ch->user);
}

int ms_change_decode(const void *buf, size_t len, struct mstore_change *ch_r)
{
	struct ms_rd r = {.p = buf, .left = len};
	char *user;

	memset(ch_r, 0, sizeof(*ch_r));
	if (len < 2 || r.p[0] != MS_REC_VERSION)
		return -1;
	ch_r->kind = (enum mstore_change_kind)r.p[1];
	r.p += 2;
	r.left -= 2;
	ch_r->mailbox_id = rd_u32(&r);
	ch_r->uid = rd_u32(&r);
	ch_r->modseq = rd_u64(&r);
	ch_r->time = (int64_t)rd_u64(&r);
	if (r.bad)
		return -1;
	user = rd_str(&r);
	if (r.bad || r.left != 0 || strlen(user) > MSTORE_USER_MAX) {
		free(user);
		return -1;
	}
	strcpy(ch_r->user, user);
	free(user);
	return 0;
}

/* ---- quota -----------------------------------------------------------------
 */

void ms_quota_encode(const struct mstore_quota *q, uint8_t out[32])
{
	ms_put_be64(out, q->bytes_used);
	ms_put_be64(out + 8, q->messages_used);
	ms_put_be64(out + 16, q->bytes_limit);
	ms_put_be64(out + 24, q->messages_limit);
}

int ms_quota_decode(const void *buf, size_t len, struct mstore_quota *q_r)
{
	const uint8_t *p = buf;

	if (len != 32)
		return -1;
	q_r->bytes_used = ms_get_be64(p);
	q_r->messages_used = ms_get_be64(p + 8);
	q_r->bytes_limit = ms_get_be64(p + 16);
	q_r->messages_limit = ms_get_be64(p + 24);
	return 0;
}

/* ---- keys ------------------------------------------------------------------
 */

void ms_key_msg(uint8_t k[8], uint32_t mbox, uint32_t uid)
{
	ms_put_be32(k, mbox);
	ms_put_be32(k + 4, uid);
}

void ms_key_id(uint8_t k[4], uint32_t mbox)
{
	ms_put_be32(k, mbox);
}

void ms_key_user_name(struct strbuf *k, const char *user, const char *rest)
{
	strbuf_reset(k);
	strbuf_adds(k, user);
	strbuf_addc(k, '\0');
	if (rest != NULL)
		strbuf_adds(k, rest);
}

/* ---- names ----------------------------------------------------------------
 */

int ms_user_norm(const char *user, char out[MSTORE_USER_MAX + 1])
{
	size_t n;

	if (user == NULL)
		return -1;
	n = strlen(user);
	if (n == 0 || n > MSTORE_USER_MAX)
		return -1;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)user[i];

		/* no control characters, no space, no '/' (paths, keys) */
		if (c <= 0x20 || c == 0x7f || c == '/')
			return -1;
		out[i] = (char)tolower(c);
	}
	out[n] = '\0';
	return 0;
}

/* Length of the valid UTF-8 sequence at s, or 0 (RFC 3629). */
static size_t utf8_seq(const unsigned char *s, size_t left)
{
	size_t n;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (left < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	/* C1 control characters */
	if (cp >= 0x80 && cp <= 0x9f)
		return 0;
	return n;
}

int ms_is_inbox(const char *normname)
{
	return strcmp(normname, "INBOX") == 0;
}

int ms_mbox_norm(const char *name, struct strbuf *out)
{
	const unsigned char *s = (const unsigned char *)name;
	size_t n, i, comp_start;

	if (name == NULL)
		return -1;
	n = strlen(name);
	if (n == 0 || n > MSTORE_MAILBOX_MAX || name[0] == '/' ||
	    name[n - 1] == '/' || strstr(name, "..") != NULL ||
	    strstr(name, "//") != NULL)
		return -1;
	for (i = 0; i < n;) {
		size_t len;

		if (s[i] < 0x20 || s[i] == 0x7f)
			return -1;
		len = utf8_seq(s + i, n - i);
		if (len == 0)
			return -1;
		i += len;
	}
	/* components "." (".." is already refused) */
	comp_start = 0;
	for (i = 0; i <= n; i++) {
		if (i == n || name[i] == '/') {
			if (i - comp_start == 1 && name[comp_start] == '.')
				return -1;
			comp_start = i + 1;
		}
	}
	strbuf_reset(out);
	/* INBOX is case-insensitive, also as the first component */
	if (n >= 5 && strncasecmp(name, "INBOX", 5) == 0 &&
	    (name[5] == '\0' || name[5] == '/')) {
		strbuf_adds(out, "INBOX");
		strbuf_adds(out, name + 5);
	} else {
		strbuf_adds(out, name);
	}
	return 0;
}

int mstore_mailbox_name_valid(const char *name)
{
	struct strbuf s;
	int ret;

	strbuf_init(&s);
	ret = ms_mbox_norm(name, &s);
	strbuf_free(&s);
	return ret;
}

void ms_sha256_hex(const void *data, size_t len, char out[65])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
	for (unsigned i = 0; i < 32; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[64] = '\0';
}
