/*
 * sieve_helpers.h - shared fixtures of the tests/unit/test_sieve_*.c files:
 * compile a script, run it on a message, return the canonical result text.
 */
#ifndef ROOKERY_TEST_SIEVE_HELPERS_H
#define ROOKERY_TEST_SIEVE_HELPERS_H

#include <stdlib.h>
#include <string.h>

#include "sieve/sieve.h"

static const char sieve_test_msg[] =
    "Received: from a.example.net by mx.example.com; "
    "Mon, 23 Nov 2026 09:12:01 +0000\r\n"
    "Received: from b.example.net by a.example.net; "
    "Mon, 23 Nov 2026 09:11:58 +0000\r\n"
    "From: Alice Archer <alice@example.net>\r\n"
    "To: Bob <bob+box@example.com>, carol@example.org\r\n"
    "Cc: \"Dave, Jr.\" <dave@example.org>\r\n"
    "Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?= and\r\n"
    " a folded subject\r\n"
    "Date: Mon, 23 Nov 2026 10:11:55 +0100\r\n"
    "X-Spam-Score: 7\r\n"
    "List-Id: Dev <dev.lists.example.org>\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=\"xx\"\r\n"
    "\r\n"
    "preamble\r\n"
    "--xx\r\n"
    "Content-Type: text/plain; charset=iso-8859-1\r\n"
    "Content-Transfer-Encoding: quoted-printable\r\n"
    "\r\n"
    "Caf=E9 budget review=\r\n"
    " on Friday\r\n"
    "--xx\r\n"
    "Content-Type: application/octet-stream\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "c2VjcmV0IGJpbmFyeQ==\r\n"
    "--xx--\r\n";

struct sieve_test_ctx {
	const char *include_name;
	const char *include_text;
};

static inline int sieve_test_include(void *ctx, const char *name,
				     enum sieve_include_loc loc,
				     struct sieve_script **script_r)
{
	struct sieve_test_ctx *t = ctx;

	(void)loc;
	if (t == NULL || t->include_name == NULL ||
	    strcmp(name, t->include_name) != 0)
		return 1;
	return sieve_compile(t->include_text, strlen(t->include_text), NULL,
			     script_r, NULL) == 0
		   ? 0
		   : -1;
}

static inline int sieve_test_mbox(void *ctx, const char *mailbox)
{
	(void)ctx;
	return strcmp(mailbox, "INBOX") == 0 || strcmp(mailbox, "Work") == 0;
}

static inline void sieve_test_msg_init(struct sieve_msg *m,
				       struct sieve_test_ctx *ctx)
{
	memset(m, 0, sizeof(*m));
	m->ctx = ctx;
	m->raw = sieve_test_msg;
	m->raw_len = sizeof(sieve_test_msg) - 1;
	m->load_include = sieve_test_include;
	m->mailbox_exists = sieve_test_mbox;
	m->env_from = "sender@example.net";
	m->env_to = "bob@example.com";
	m->orig_to = "bob+orig@example.com";
	m->now = 1795000000; /* 2026-11-18T09:46:40Z, a Wednesday */
	m->local_offset_min = 0;
}

/*
 * Compiles and runs text; returns the canonical result (caller frees),
 * "COMPILE: <errors>" or "ERROR: <message>" + "keep implicit\n".
 */
static inline char *sieve_test_run_msg(const char *text,
				       const struct sieve_msg *m)
{
	struct sieve_script *s = NULL;
	struct sieve_result *res = NULL;
	struct strbuf err, out;
	char *ret;

	strbuf_init(&err);
	strbuf_init(&out);
	if (sieve_compile(text, strlen(text), NULL, &s, &err) < 0) {
		strbuf_printf(&out, "COMPILE: %s", err.data);
	} else if (sieve_execute(s, m, &res, &err) < 0) {
		strbuf_printf(&out, "ERROR: %s", err.data);
	} else {
		sieve_result_format(res, &out);
	}
	sieve_result_free(&res);
	sieve_script_free(&s);
	strbuf_free(&err);
	ret = strbuf_steal(&out, NULL);
	strbuf_free(&out);
	return ret;
}

static inline char *sieve_test_run(const char *text)
{
	struct sieve_msg m;
	struct sieve_test_ctx ctx = {0};

	sieve_test_msg_init(&m, &ctx);
	return sieve_test_run_msg(text, &m);
}

#define assert_sieve(script, expected)                                         \
	do {                                                                   \
		char *got_ = sieve_test_run(script);                           \
		assert_string_equal(got_, expected);                           \
		free(got_);                                                    \
	} while (0)

#endif
