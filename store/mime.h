/*
 * mime.h - the store's MIME parser: one pass over a message held in memory
 * gives everything IMAP FETCH, SEARCH, SORT and THREAD need without parsing
 * the message again.
 *
 * mime_parse() never copies the body: parts are described by byte offsets
 * into the caller's buffer (the store mmaps the message file), so
 * BODY[section] is served as a slice of the file.  ENVELOPE, BODYSTRUCTURE
 * and BODY are built once, as the exact strings FETCH sends.
 * mime_serialize() turns the result into a compact binary record the store
 * keeps in its message index; mime_deserialize() reads it back and checks
 * every field, so a corrupted record is an error, never a crash.
 *
 * Serving FETCH (RFC 3501 6.4.5) from m and the message file:
 *
 *	ENVELOPE, BODYSTRUCTURE, BODY	m->envelope, m->bodystructure, m->body
 *	BODY[HEADER], BODY[TEXT]	parts[0] header / body slice
 *	BODY[n]				mime_find_section(m, "n") body slice
 *	BODY[n.MIME]			mime_find_section(m, "n") header slice
 *	BODY[n.HEADER], [n.TEXT],	mime_find_message(m, "n") header /
 *	[n.HEADER.FIELDS (...)]		body slice (NULL: not a message part)
 *	BINARY[n] (RFC 3516)		body slice decoded per part->encoding
 *
 * Files: mime.c (structure parser, BODYSTRUCTURE, sections), mime_header.c
 * (header fields, charsets, RFC 2047/2231), mime_envelope.c (addresses,
 * ENVELOPE, dates, base subject), mime_serial.c (index record, transfer
 * decoding).
 */
#ifndef ROOKERY_STORE_MIME_H
#define ROOKERY_STORE_MIME_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "strbuf.h"

/* Beyond these the parser stops descending: see MIME_MESSAGE_LIMITED. */
#define MIME_MAX_PARTS 10000
#define MIME_MAX_DEPTH 100
/* mime_parse() refuses bigger messages (a sanity bound, 4 GiB). */
#define MIME_MAX_MESSAGE_SIZE 0xffffffffu

enum mime_part_kind {
	MIME_PART_LEAF = 0,  /* any non-multipart body */
	MIME_PART_MULTIPART, /* children are its body parts */
	MIME_PART_MESSAGE,   /* message/rfc822: one child, the embedded root */
};

/* mime_part.flags */
#define MIME_PART_ROOT 0x1 /* the top message or an embedded message */

/*
 * One node of the part tree.  parts[0] is the top-level message; the array
 * is in document order, so a part's parent always has a smaller index.
 *
 * header_off/header_len: the part's header block, from its first byte to the
 * end of the blank line that ends it (the blank line included, as RFC 3501
 * BODY[HEADER] wants).  For a part inside a multipart this is its MIME
 * header (BODY[n.MIME]); for a ROOT it is the message header
 * (BODY[HEADER] or BODY[n.HEADER]).  A header without a blank line runs to
 * the end of its last line and the body is then empty.
 *
 * body_off/body_len: the body.  Inside a multipart the body stops before the
 * line break that precedes the next boundary line (RFC 2046 5.1.1: that
 * line break belongs to the delimiter).  A multipart's body includes its
 * preamble and epilogue.  A message/rfc822 part's body is the whole
 * embedded message (its child's header and body).
 *
 * body_lines: the number of text lines in the body (line feeds, plus one
 * for a last line without a line break).  Sizes and lines count the bytes
 * as they are: the store is expected to keep messages with CRLF line ends.
 *
 * section: the IMAP part number of this node.  A ROOT carries the number of
 * the message it is the top of: "" for parts[0], "2" for the message inside
 * message/rfc822 part 2 ("1" for the message inside a top-level message
 * whose own type is message/rfc822: its body is part 1).  Children of a node
 * numbered S are "S.1", "S.2"... (or "1", "2"... when S is "").  A
 * non-multipart ROOT's body is also addressed as part "S.1" (RFC 3501 6.4.5);
 * mime_find_section() handles it.
 *
 * type/subtype/encoding are lower case; charset is as written, "us-ascii"
 * for text without one, NULL for other types without one.  A part whose
 * Content-Type is missing or unparseable is text/plain (RFC 2045 5.2;
 * message/rfc822 inside multipart/digest); a multipart without a boundary
 * parameter is text/plain too.  Parts cut off by the limits are
 * application/octet-stream leaves.
 */
struct mime_part {
	char *section;
	enum mime_part_kind kind;
	uint32_t flags;
	int parent;	  /* index in parts[], -1 for parts[0] */
	int first_child;  /* -1 when none */
	int next_sibling; /* -1 when none */
	unsigned int nchildren;
	size_t header_off, header_len;
	size_t body_off, body_len;
	size_t body_lines;
	char *type, *subtype;
	char *charset;
	char *encoding;
};

/* A first address, for SORT FROM/TO/CC and SORT DISPLAY (RFC 5256/5957). */
struct mime_addr_brief {
	char *name; /* display name decoded to UTF-8, NULL when none */
	char *addr; /* "mailbox@domain" (or "mailbox") as valid UTF-8 */
};

/* mime_message.flags */
#define MIME_MESSAGE_LIMITED 0x1 /* parts or depth limit hit: rest opaque */
#define MIME_MESSAGE_HAS_NUL 0x2 /* the message holds NUL bytes */
#define MIME_MESSAGE_BARE_LF 0x4 /* some line ends with LF without CR */

struct mime_message {
	size_t size; /* length of the parsed message */
	uint32_t flags;
	/* RFC 3501 FETCH items, ready to send (NUL-terminated, 7-bit or
	 * with literals {n}\r\n for strings that need them). */
	char *envelope;
	char *bodystructure;
	char *body;
	struct mime_part *parts;
	unsigned int nparts;
	/* Cached fields of the top-level header.  Strings are NUL-free
	 * UTF-8 (decoded) or raw unfolded text (ids, references); NULL when
	 * the field is absent. */
	char *subject;	    /* decoded */
	char *base_subject; /* RFC 5256 base subject of subject ("" if none) */
	struct mime_addr_brief from, to, cc;
	time_t date; /* Date: as UTC seconds, 0 when unparseable */
	char *message_id;
	char *in_reply_to;
	char *references;
	/* A message read back by mime_deserialize() keeps its strings in one
	 * block (the type, subtype, ... of every part too): FETCH ENVELOPE of
	 * 100,000 messages would otherwise make 2 million small allocations.
	 * mime_message_free() frees only strings outside it. */
	char *arena;
	size_t arena_len;
};

/*
 * Parses the message data[0..len).  data need not be NUL-terminated and may
 * hold NUL bytes, 8-bit headers, bare LF line ends and any broken MIME: the
 * result is then a best-effort structure.  The message keeps no pointer
 * into data.  Returns 0 and *msg_r (freed with mime_message_free()), or -1
 * with *msg_r = NULL when len > MIME_MAX_MESSAGE_SIZE.  Hitting
 * MIME_MAX_PARTS or MIME_MAX_DEPTH is not an error: what lies beyond is
 * left inside the last part and the message is flagged LIMITED.
 */
int mime_parse(const char *data, size_t len, struct mime_message **msg_r);
void mime_message_free(struct mime_message **msg);

/*
 * Maps the part-number prefix of an IMAP section spec ("" , "1", "1.2";
 * the caller strips ".HEADER", ".MIME", ".TEXT"...) to the part whose
 * body is BODY[section] and whose header is BODY[section.MIME], following
 * RFC 3501 6.4.5: "" is the top message; in a non-multipart message part 1
 * is its body (the ROOT itself); the parts of a message/rfc822 part are
 * numbered inside it.  Returns NULL for a section that does not exist or
 * is not a valid part number.
 */
const struct mime_part *mime_find_section(const struct mime_message *m,
					  const char *section);
/*
 * For BODY[section.HEADER], [section.HEADER.FIELDS ...] and [section.TEXT]:
 * returns the ROOT whose header_* is that HEADER and body_* that TEXT.
 * "" gives parts[0]; a message/rfc822 part gives its embedded message;
 * anything else NULL.
 */
const struct mime_part *mime_find_message(const struct mime_message *m,
					  const char *section);

/* RFC 5256 section 2.1 base subject of a UTF-8 subject; caller frees. */
char *mime_base_subject(const char *subject_utf8);

/* ---- header fields (mime_header.c) -------------------------------------- */

struct mime_header_field {
	const char *name; /* points into the header block */
	size_t name_len;
	const char *value; /* raw, folded, after the colon */
	size_t value_len;  /* up to, not including, the final line break */
};

/*
 * Walks the fields of a header block hdr[0..len): *pos starts at 0.  Stops
 * at the blank line or the end; lines that are not fields are skipped.
 * Returns 1 with *f_r set, or 0 when there are no more fields.
 */
int mime_header_next(const char *hdr, size_t len, size_t *pos,
		     struct mime_header_field *f_r);
/* Like mime_header_next() but only fields named name (case-insensitive). */
int mime_header_find(const char *hdr, size_t len, const char *name, size_t *pos,
		     struct mime_header_field *f_r);
/*
 * Appends value unfolded: line breaks removed, leading and trailing white
 * space trimmed, NUL bytes dropped.
 */
void mime_header_unfold(const char *value, size_t len, struct strbuf *out);
/*
 * Appends value unfolded and decoded to UTF-8: RFC 2047 encoded words (B
 * and Q, any charset iconv knows; white space between adjacent encoded
 * words dropped; invalid or unknown ones kept as written), other 8-bit
 * bytes kept when valid UTF-8 and read as ISO-8859-1 when not.
 */
void mime_header_decode(const char *value, size_t len, struct strbuf *out);
/* Appends bytes as valid UTF-8 (invalid sequences read as ISO-8859-1). */
void mime_utf8_sanitize(const char *s, size_t len, struct strbuf *out);
/*
 * Converts len bytes in charset to UTF-8 (invalid input becomes U+FFFD).
 * Returns 0, or -1 (nothing appended) when iconv does not know charset.
 */
int mime_charset_to_utf8(const char *charset, const char *s, size_t len,
			 struct strbuf *out);

struct mime_param {
	char *name;  /* lower case */
	char *value; /* unquoted */
};

/*
 * A parsed Content-Type ("type/subtype; a=b") or Content-Disposition
 * ("inline; filename=x": subtype stays NULL).  RFC 2231 continuations are
 * merged: "name*0", "name*1" become "name"; when a section is
 * charset-encoded the result is "name*" with value "charset'lang'%XX..".
 */
struct mime_content {
	char *type;    /* lower case, NULL when unparseable */
	char *subtype; /* lower case, NULL when missing */
	struct mime_param *params;
	unsigned int nparams;
};

/* Parses a header value; with_subtype: expect "type/subtype". */
void mime_content_parse(const char *value, size_t len, int with_subtype,
			struct mime_content *c_r);
void mime_content_free(struct mime_content *c);
/* The raw (merged) value of parameter name, or NULL. */
const char *mime_param_get(const struct mime_content *c, const char *name);
/*
 * The value of parameter name decoded to UTF-8 (RFC 2231 charset, or RFC
 * 2047 words inside a plain value, as some mailers write them); caller
 * frees; NULL when absent.
 */
char *mime_param_get_utf8(const struct mime_content *c, const char *name);

/*
 * Content-Transfer-Encoding decoders for SEARCH and BINARY
 * (mime_serial.c): append the decoded bytes.  Both are tolerant: base64
 * skips any byte outside its alphabet and padding ends a quantum (so
 * concatenated encodings decode); quoted-printable keeps invalid escapes
 * as written, drops trailing white space before line breaks and keeps
 * line breaks as they are (CRLF or LF).
 */
void mime_decode_base64(const char *in, size_t len, struct strbuf *out);
void mime_decode_qp(const char *in, size_t len, struct strbuf *out);

/* ---- addresses, ENVELOPE, dates (mime_envelope.c) ---------------------- */

/*
 * An RFC 5322 address list in IMAP ENVELOPE form: a mailbox has mailbox
 * and domain set; a group start has only mailbox (the group name); a group
 * end has all fields NULL.  name is the display name as written (quotes
 * and escapes removed, encoded words not decoded), or the comment of an
 * address without one.  A missing domain or local part is "".
 */
struct mime_address {
	char *name;
	char *route; /* "@a,@b" source route, usually NULL */
	char *mailbox;
	char *domain;
	struct mime_address *next;
};

/* Parses an address-list header value; never fails (NULL = empty). */
struct mime_address *mime_address_parse(const char *value, size_t len);
void mime_address_free(struct mime_address **list);

/* Appends the RFC 3501 ENVELOPE of header block hdr[0..len). */
void mime_envelope_build(const char *hdr, size_t len, struct strbuf *out);
/*
 * Parses an RFC 5322 date (and common broken forms: no weekday, two-digit
 * years, no seconds, zone names or none, asctime order).  Returns UTC
 * seconds, or 0 when unparseable.
 */
time_t mime_date_parse(const char *value, size_t len);

/*
 * Appends s[0..len) as an IMAP nstring: NIL when s is NULL, a quoted string
 * when it is 7-bit without CR/LF, else a literal.  NUL bytes are dropped.
 */
void mime_imap_nstring(struct strbuf *out, const char *s, size_t len);
void mime_imap_nstr(struct strbuf *out, const char *s); /* s may be NULL */

/* ---- index record (mime_serial.c) --------------------------------------- */

/*
 * Appends m in a versioned binary form.  Returns 0.
 * mime_deserialize() validates the whole record (bounds, tree shape,
 * strings) and returns -1 on any inconsistency, else 0 and *m_r.
 */
int mime_serialize(const struct mime_message *m, struct strbuf *out);
int mime_deserialize(const void *buf, size_t len, struct mime_message **m_r);

/* Shared by the mime_*.c files; not for other modules. */
void mime_assign_tree(struct mime_message *m);
int mime_strcaseeq(const char *a, size_t alen, const char *b);

#endif
