/*
 * fuzz_sieve_msg.c - libFuzzer target for the message side of the Sieve
 * interpreter: the input is the message; fixed scripts run header,
 * address (all parts), envelope, date, body (every transform), relational
 * and :matches tests over it, which drives the header parser, RFC 2047
 * decoding, address lists, dates and the MIME walk with hostile input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sieve/sieve.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const fuzz_scripts[] = {
    "require [\"variables\", \"fileinto\", \"subaddress\", \"index\"];\n"
    "if header :matches \"subject\" \"*\" { set \"s\" \"${1}\"; }\n"
    "if address :all :matches [\"from\", \"to\", \"cc\"] \"*@*\" "
    "{ set \"a\" \"${1}\"; }\n"
    "if address :localpart :contains \"to\" \"x\" { keep; }\n"
    "if address :domain :is \"from\" \"example.com\" { keep; }\n"
    "if address :user :is \"to\" \"bob\" { keep; }\n"
    "if address :detail :matches \"to\" \"*\" { set \"d\" \"${1}\"; }\n"
    "if header :index 2 :last :contains \"received\" \"by\" { keep; }\n"
    "fileinto \"${s}${a}${d}\";\n",
    "require [\"body\", \"relational\", \"comparator-i;ascii-numeric\"];\n"
    "if body :raw :contains \"x\" { keep; }\n"
    "if body :text :matches \"*a?b*\" { keep; }\n"
    "if body :content [\"text\", \"multipart\", \"message/rfc822\", "
    "\"\"] :contains \"y\" { discard; }\n"
    "if header :count \"ge\" :comparator \"i;ascii-numeric\" "
    "[\"received\", \"x-a\"] \"3\" { keep; }\n"
    "if header :value \"gt\" :comparator \"i;ascii-numeric\" "
    "\"x-spam-score\" \"5\" { discard; }\n",
    "require [\"date\", \"index\", \"variables\", \"fileinto\"];\n"
    "if date :matches \"date\" \"std11\" \"*\" { set \"a\" \"${1}\"; }\n"
    "if date :originalzone :matches \"date\" \"iso8601\" \"*\" "
    "{ set \"b\" \"${1}\"; }\n"
    "if date :index 1 :zone \"-1200\" :matches \"received\" \"julian\" "
    "\"*\" { set \"c\" \"${1}\"; }\n"
    "if exists [\"message-id\", \"date\"] { fileinto \"${a}|${b}|${c}\"; "
    "}\n",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sieve_script *scripts[3];
	struct sieve_msg msg = {
	    .raw = (const char *)data,
	    .raw_len = size,
	    .env_from = "sender@example.net",
	    .env_to = "bob@example.com",
	    .now = 1795000000,
	};
	struct strbuf err;

	if (scripts[0] == NULL) {
		for (size_t i = 0; i < 3; i++)
			if (sieve_compile(fuzz_scripts[i],
					  strlen(fuzz_scripts[i]), NULL,
					  &scripts[i], NULL) != 0)
				abort();
	}
	strbuf_init(&err);
	for (size_t i = 0; i < 3; i++) {
		struct sieve_result *res = NULL;

		if (sieve_execute(scripts[i], &msg, &res, &err) == 0)
			sieve_result_format(res, &err);
		sieve_result_free(&res);
		strbuf_reset(&err);
	}
	strbuf_free(&err);
	return 0;
}
