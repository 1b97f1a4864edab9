/*
 * lineread.h - an incremental, pure line-and-literal reader.
 *
 * No sockets: the caller feeds bytes (lineread_feed) or hands over an
 * evbuffer (lineread_evbuffer), and gets back complete lines one at a time.
 * net.c uses it for every connection in line mode; the IMAP and ManageSieve
 * parsers use its literal recognition.
 *
 * A line ends at LF; the LF and one CR just before it are stripped.  A line
 * may contain NUL bytes: the result carries the exact length and is also
 * NUL-terminated.  A line longer than params.max_line (not counting its
 * CRLF) is discarded up to and including its LF, and reported once, at that
 * LF, as a LINEREAD_ERR_TOO_LONG error; the reader then carries on with the
 * next line.
 *
 * Literals (params.literals != 0): when a complete line ends with "{N}" or
 * "{N+}" (IMAP RFC 9051 section 4.3, LITERAL+ RFC 7888; ManageSieve RFC 5804
 * section 4 uses the same syntax), the result says so: res.literal = 1,
 * res.literal_size = N, res.literal_nonsync = 1 for "{N+}", and
 * res.literal_offset = the offset of '{' in the line (so a caller can look
 * for IMAP's "~{N}" literal8).  The reader does not switch modes itself:
 * the caller decides (answers "+ go ahead" for a synchronising literal,
 * rejects a too-large one) and then either streams N bytes itself or calls
 * lineread_literal_start() to have lineread_feed() hand them out in chunks.
 * Text that only looks like a marker ("{abc}", "{}", "{12") is not one: the
 * line is returned as an ordinary line for the protocol parser to reject.
 *
 * Return values of lineread_feed() and lineread_evbuffer():
 *    1  a result is in *res_r (a line, or a literal chunk / literal end)
 *    0  need more input: everything offered was consumed (or left in the
 *       evbuffer) without completing a result
 *   -1  an error about the current line, in res_r->error and
 *       res_r->error_str; the reader is still usable and continues with
 *       the next input.  For literal errors (size above max_literal, or too
 *       many digits) res_r also holds the complete line and the literal
 *       fields (literal_size is UINT64_MAX when N does not fit), so the
 *       caller can reply before closing.
 */
#ifndef ROOKERY_LINEREAD_H
#define ROOKERY_LINEREAD_H

#include <stddef.h>
#include <stdint.h>

struct evbuffer;
struct lineread;

struct lineread_params {
	size_t max_line;      /* longest line without CRLF; 0 = 8192 */
	int literals;	      /* recognise a trailing {N} / {N+} */
	uint64_t max_literal; /* largest N accepted; 0 = no limit */
};

enum lineread_kind {
	LINEREAD_LINE = 0,     /* line, len (and the literal fields) */
	LINEREAD_LITERAL_DATA, /* data, len: the next bytes of a literal */
	LINEREAD_LITERAL_END,  /* the literal started with
				  lineread_literal_start() is complete */
};

enum lineread_error {
	LINEREAD_OK = 0,
	LINEREAD_ERR_TOO_LONG,	    /* line discarded through its LF */
	LINEREAD_ERR_LITERAL_SIZE,  /* {N} with N > max_literal */
	LINEREAD_ERR_LITERAL_RANGE, /* {N} with N beyond 64 bits */
};

struct lineread_result {
	enum lineread_kind kind;
	/* LINEREAD_LINE: the line, NUL-terminated, valid until the next call
	 * on the reader.  LINEREAD_LITERAL_DATA: points into the caller's
	 * input (lineread_feed only). */
	char *line;
	const void *data;
	size_t len;

	int literal;	     /* the line ends with a literal marker */
	int literal_nonsync; /* "{N+}" */
	uint64_t literal_size;
	size_t literal_offset; /* offset of '{' in line */

	enum lineread_error error;
	const char *error_str; /* static text, for a reply or a log */
	/* LINEREAD_ERR_TOO_LONG from lineread_evbuffer(): the first bytes
	 * of the discarded line (at most LINEREAD_PREFIX), so a protocol
	 * can still name the command's tag in its error reply; valid until
	 * the next call on the reader. */
	const char *prefix;
	size_t prefix_len;
};

#define LINEREAD_PREFIX 64

struct lineread *lineread_new(const struct lineread_params *params);
void lineread_free(struct lineread **lr);

/* Changes the line limit (takes effect for the line being read). */
void lineread_set_max_line(struct lineread *lr, size_t max_line);
/* Forgets any partial line and discard state (a caller that switches
 * protocols or consumed the evbuffer itself calls this).  The line last
 * returned stays valid until the next lineread_feed/lineread_evbuffer. */
void lineread_reset(struct lineread *lr);

/*
 * lineread_reset() that also gives back the line buffer's memory (the
 * next line allocates it again).  The line last returned becomes invalid
 * at once: call it only when no line handler is running.  For a reader
 * that will not see lines for a long while (a spliced proxy session).
 */
void lineread_trim(struct lineread *lr);

/*
 * Consumes up to len bytes of data, stopping as soon as it has a result.
 * *used_r is the number of bytes consumed; the caller feeds the rest again
 * after handling the result.  Partial lines are kept inside the reader.
 */
int lineread_feed(struct lineread *lr, const void *data, size_t len,
		  size_t *used_r, struct lineread_result *res_r);

/*
 * The same over an evbuffer: a complete line (or the discarded part of an
 * overlong one) is removed from in; a partial line stays in the buffer, so
 * a caller may switch to reading in itself at any line boundary (after
 * lineread_reset()).  Never returns literal chunks: a caller on an
 * evbuffer streams literals itself.
 */
int lineread_evbuffer(struct lineread *lr, struct evbuffer *in,
		      struct lineread_result *res_r);

/*
 * Makes lineread_feed() return the next n bytes as LINEREAD_LITERAL_DATA
 * results (pointing into the input, never copied), then one
 * LINEREAD_LITERAL_END result (also for n = 0); then lines again.
 */
void lineread_literal_start(struct lineread *lr, uint64_t n);
/* Bytes of the current literal still to come (0 when not in a literal). */
uint64_t lineread_literal_left(const struct lineread *lr);

/*
 * Looks for a literal marker at the end of line[0..len).  Returns 1 and
 * fills the literal fields of res_r, 0 when there is none, -1 for a marker
 * whose number does not fit in 64 bits.  Exposed for parsers that collect
 * lines by other means.
 */
int lineread_find_literal(const char *line, size_t len,
			  struct lineread_result *res_r);

#endif
