/*
 * fuzz_mime.c - libFuzzer target for the store's MIME parser (store/mime.h).
 *
 * The input is parsed as a message; the result is serialised, read back
 * and serialised again, and both records must be identical.  The same
 * input is also fed to mime_deserialize() as a (most likely corrupt) index
 * record, and the header helpers get it as a header value.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/mime.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_sections(const struct mime_message *m)
{
	unsigned int i;

	for (i = 0; i < m->nparts; i++) {
		const struct mime_part *p = &m->parts[i];

		if (p->header_off + p->header_len > m->size ||
		    p->body_off + p->body_len > m->size)
			abort();
		/* every part but a ROOT is found again by its number */
		if (!(p->flags & MIME_PART_ROOT) &&
		    mime_find_section(m, p->section) != p)
			abort();
	}
	(void)mime_find_message(m, "1");
	(void)mime_find_section(m, "1.1.1");
}

static void round_trip(const struct mime_message *m)
{
	struct mime_message *m2;
	struct strbuf a, b;

	strbuf_init(&a);
	strbuf_init(&b);
	mime_serialize(m, &a);
	if (mime_deserialize(a.data, a.len, &m2) < 0)
		abort();
	mime_serialize(m2, &b);
	if (a.len != b.len || memcmp(a.data, b.data, a.len) != 0)
		abort();
	if (strcmp(m->bodystructure, m2->bodystructure) != 0 ||
	    m2->nparts != m->nparts)
		abort();
	check_sections(m2);
	mime_message_free(&m2);
	/* a truncated record must be refused */
	if (a.len > 0 && mime_deserialize(a.data, a.len - 1, &m2) == 0)
		abort();
	strbuf_free(&a);
	strbuf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mime_message *m;
	struct mime_address *list;
	struct strbuf s;
	char *base;

	if (mime_parse((const char *)data, size, &m) == 0) {
		check_sections(m);
		round_trip(m);
		mime_message_free(&m);
	}
	if (mime_deserialize(data, size, &m) == 0) {
		check_sections(m);
		round_trip(m);
		mime_message_free(&m);
	}
	strbuf_init(&s);
	mime_header_decode((const char *)data, size, &s);
	base = mime_base_subject(s.data);
	free(base);
	strbuf_reset(&s);
	mime_decode_qp((const char *)data, size, &s);
	strbuf_reset(&s);
	mime_decode_base64((const char *)data, size, &s);
	strbuf_free(&s);
	list = mime_address_parse((const char *)data, size);
	mime_address_free(&list);
	(void)mime_date_parse((const char *)data, size);
	return 0;
}
