/*
 * fuzz_sieve.c - libFuzzer target for the Sieve language.
 *
 * Compiles the input as a script; when it compiles, the compiled form must
 * survive serialise -> deserialise -> serialise unchanged, and the script
 * runs against a fixed message.  The input is also fed to the
 * deserialiser as if it were a stored compiled script.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sieve/sieve.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char fuzz_msg[] =
    "From: Alice <alice+tag@example.net>\r\n"
    "To: bob@example.com, \"Carol, C\" <carol@example.org>\r\n"
    "Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?= from the fuzzer\r\n"
    "Date: Mon, 23 Nov 2026 10:11:55 +0100\r\n"
    "List-Id: <dev.lists.example.org>\r\n"
    "X-Spam-Score: 7\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=\"b\"\r\n"
    "\r\n"
    "--b\r\n"
    "Content-Type: text/plain; charset=iso-8859-1\r\n"
    "Content-Transfer-Encoding: quoted-printable\r\n"
    "\r\n"
    "Caf=E9 budget\r\n"
    "--b\r\n"
    "Content-Type: application/octet-stream\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "aGVsbG8gd29ybGQ=\r\n"
    "--b--\r\n";

static int fuzz_include(void *ctx, const char *name, enum sieve_include_loc loc,
			struct sieve_script **script_r)
{
	static const char inc[] =
	    "require [\"fileinto\", \"variables\", \"include\"];\n"
	    "global \"g\"; set \"g\" \"x\"; fileinto \"inc\";\n";

	(void)ctx;
	(void)loc;
	if (strcmp(name, "self") == 0)
		return sieve_compile("require \"include\"; include \"self\";",
				     35, NULL, script_r, NULL);
	if (strcmp(name, "missing") == 0)
		return 1;
	return sieve_compile(inc, sizeof(inc) - 1, NULL, script_r, NULL);
}

static int fuzz_mailbox_exists(void *ctx, const char *mailbox)
{
	(void)ctx;
	return strcmp(mailbox, "INBOX") == 0 || strcmp(mailbox, "Work") == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sieve_script *s = NULL, *s2 = NULL;
	struct sieve_result *res = NULL;
	struct strbuf err, bin, bin2;
	struct sieve_msg msg = {
	    .raw = fuzz_msg,
	    .raw_len = sizeof(fuzz_msg) - 1,
	    .load_include = fuzz_include,
	    .mailbox_exists = fuzz_mailbox_exists,
	    .env_from = "sender@example.net",
	    .env_to = "bob@example.com",
	    .orig_to = "bob+box@example.com",
	    .now = 1795000000,
	    .local_offset_min = 60,
	};

	strbuf_init(&err);
	strbuf_init(&bin);
	strbuf_init(&bin2);
	if (sieve_deserialize(data, size, &s) == 0)
		sieve_script_free(&s);
	if (sieve_compile((const char *)data, size, NULL, &s, &err) == 0) {
		sieve_serialize(s, &bin);
		if (sieve_deserialize(bin.data, bin.len, &s2) != 0)
			abort();
		sieve_serialize(s2, &bin2);
		if (bin.len != bin2.len || memcmp(bin.data, bin2.data, bin.len))
			abort();
		if (sieve_execute(s2, &msg, &res, &err) == 0) {
			strbuf_reset(&err);
			sieve_result_format(res, &err);
		}
		sieve_result_free(&res);
	}
	sieve_script_free(&s);
	sieve_script_free(&s2);
	strbuf_free(&err);
	strbuf_free(&bin);
	strbuf_free(&bin2);
	return 0;
}
