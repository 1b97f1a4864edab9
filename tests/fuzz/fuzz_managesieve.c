/*
 * fuzz_managesieve.c - libFuzzer target for the ManageSieve command
 * reader (sieve/managesieve_parse.c) driven through lib/lineread.h, as
 * the session drives it.
 *
 * The first byte chooses the chunk size and the literal limit; the rest
 * is fed in those chunks.  Every complete command must respect the
 * contract (at most MSV_MAX_ARGS arguments, NUL-terminated values, a
 * literal never longer than announced or than the limit), and a second
 * run fed one byte at a time must produce the same transcript.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lineread.h"
#include "sieve/managesieve.h"
#include "strbuf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void run(const uint8_t *in, size_t len, size_t chunk, uint64_t maxlit,
		struct strbuf *t)
{
	struct lineread_params lp = {1024, 1, 0};
	struct msv_params mp = {maxlit};
	struct lineread *lr = lineread_new(&lp);
	struct msv_cmd cmd;
	size_t off = 0;

	msv_cmd_init(&cmd, &mp);
	while (off < len) {
		size_t n = len - off < chunk ? len - off : chunk, pos = 0;

		while (pos < n) {
			struct lineread_result res;
			size_t used = 0;
			int r = lineread_feed(lr, in + off + pos, n - pos,
					      &used, &res);
			enum msv_parse p;

			pos += used;
			if (r == 0)
				break;
			if (r < 0) {
				strbuf_adds(t, "L|");
				msv_cmd_reset(&cmd);
				continue;
			}
			if (res.kind == LINEREAD_LITERAL_DATA) {
				msv_cmd_literal(&cmd, res.data, res.len);
				continue;
			}
			if (res.kind == LINEREAD_LITERAL_END)
				continue;
			p = msv_cmd_line(&cmd, res.line, res.len);
			if (p == MSV_PARSE_LITERAL) {
				if (cmd.literal_size > 1 << 20) {
					/* the session hangs up here */
					strbuf_adds(t, "H|");
					goto out;
				}
				lineread_literal_start(lr, cmd.literal_size);
				continue;
			}
			if (p == MSV_PARSE_ERROR) {
				if (cmd.error == NULL)
					abort();
				strbuf_printf(t, "E%s|", cmd.error);
			} else {
				if (cmd.nargs == 0 || cmd.nargs > MSV_MAX_ARGS)
					abort();
				for (unsigned i = 0; i < cmd.nargs; i++) {
					const struct strbuf *s = &cmd.args[i].s;

					if (s->data[s->len] != '\0')
						abort();
					if (cmd.args[i].type == MSV_LITERAL &&
					    s->len > maxlit)
						abort();
					strbuf_printf(
					    t, "%d:%zu:", (int)cmd.args[i].type,
					    s->len);
					strbuf_add(t, s->data, s->len);
				}
				strbuf_addc(t, '|');
			}
			msv_cmd_reset(&cmd);
		}
		off += n;
	}
out:
	msv_cmd_free(&cmd);
	lineread_free(&lr);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct strbuf a, b;
	size_t chunk;
	uint64_t maxlit;

	if (size < 1)
		return 0;
	chunk = (size_t)(data[0] & 0x1f) + 1;
	maxlit = (data[0] & 0x80) ? 16 : 4096;
	strbuf_init(&a);
	strbuf_init(&b);
	run(data + 1, size - 1, chunk, maxlit, &a);
	run(data + 1, size - 1, 1, maxlit, &b);
	if (a.len != b.len || memcmp(a.data, b.data, a.len) != 0)
		abort();
	strbuf_free(&a);
	strbuf_free(&b);
	return 0;
}
