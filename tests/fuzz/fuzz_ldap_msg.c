/*
 * fuzz_ldap_msg.c - libFuzzer target for ldapab's LDAPMessage handling.
 *
 * The input is a byte stream from a client.  It is framed with
 * ab_ber_frame() (in chunks chosen by the first byte, as a network would
 * deliver it) and every complete PDU goes through ab_session_pdu() on a
 * session that is already bound as a mailbox with write access, against
 * a real store in a temporary directory.  So the envelope, controls,
 * every operation's decoder, filters, DNs, schema checks and the writes
 * are all reached.  The responses must themselves frame as LDAPMessages.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ldapab/ber.h"
#include "ldapab/provision.h"
#include "ldapab/session.h"
#include "ldapab/store.h"
#include "log.h"
#include "strbuf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct ldapab ab;
static struct principal alice;
static struct strbuf out;
static int closed;

static void f_send(void *ctx, const void *d, size_t len)
{
	(void)ctx;
	strbuf_add(&out, d, len);
}

static void f_close(void *ctx)
{
	(void)ctx;
	closed = 1;
}

static int f_is_tls(void *ctx)
{
	(void)ctx;
	return 0;
}

static char dir[] = "/tmp/fuzz-ldapab-XXXXXX";

/* The store lives in a temporary directory for the whole run. */
static void cleanup(void)
{
	char cmd[64];

	ab_store_close(&ab.store);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		return;
}

static void init_once(void)
{
	static int done;
	char *err = NULL;
	struct store *st;

	if (done)
		return;
	done = 1;
	log_init("fuzz_ldap_msg", 0, LOG_LEVEL_WARN);
	if (mkdtemp(dir) == NULL || ab_store_open(dir, &st, &err) < 0 ||
	    ldapab_init(&ab, st, "dc=example,dc=net") < 0 ||
	    ab_provision_mailbox(&ab, "alice@example.com", "example", 1, &err) <
		0 ||
	    ab_store_principal_get(st, "alice@example.com", &alice) != 1)
		abort();
	ab.max_pdu = 1 << 16;
	ab.allow_plaintext = 1; /* reach the bind and search paths */
	strbuf_init(&out);
	atexit(cleanup);
}

static void check_output(void)
{
	size_t pos = 0, len;

	while (pos < out.len) {
		if (ab_ber_frame((unsigned char *)out.data + pos, out.len - pos,
				 1 << 24, &len) != 1)
			abort();
		pos += len;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct session_io io = {.send = f_send, .close = f_close,
				.is_tls = f_is_tls};
	struct ldap_session *s;
	unsigned char *buf;
	size_t have = 0, chunk, len;
	int rc;

	init_once();
	if (size < 1)
		return 0;
	chunk = (size_t)(data[0] % 16) + 1;
	data++;
	size--;
	if (size == 0)
		return 0;
	s = ab_session_new(&ab, &io, "fuzz");
	s->bound = data[0] & 1;
	s->who = alice;
	closed = 0;
	strbuf_reset(&out);
	buf = malloc(size + 1);
	for (size_t i = 0; i < size && !closed; i += chunk) {
		size_t n = size - i < chunk ? size - i : chunk;

		memcpy(buf + have, data + i, n);
		have += n;
		while (!closed &&
		       (rc = ab_ber_frame(buf, have, ab.max_pdu, &len)) != 0) {
			if (rc < 0) {
				ab_session_protocol_error(s, "bad PDU");
				break;
			}
			ab_session_pdu(s, buf, len);
			memmove(buf, buf + len, have - len);
			have -= len;
		}
	}
	free(buf);
	check_output();
	ab_session_free(&s);
	return 0;
}
