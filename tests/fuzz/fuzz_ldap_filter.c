/*
 * fuzz_ldap_filter.c - libFuzzer target for ldapab's filters.
 *
 * Inputs starting with '(' are parsed as RFC 4515 strings, others decoded
 * as BER Filter elements.  A filter that parses is printed, the printed
 * form must parse again and print identically, and both are evaluated
 * against a fixed entry with the same three-valued result.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ldapab/ber.h"
#include "ldapab/entry.h"
#include "ldapab/filter.h"
#include "ldapab/schema.h"
#include "strbuf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct entry *sample(void)
{
	static const char *const av[][2] = {
	    {"objectClass", "inetOrgPerson"},
	    {"objectClass", "person"},
	    {"cn", "Jörg Müller"},
	    {"cn", "J. Mueller"},
	    {"sn", "Müller"},
	    {"mail", "joerg@example.de"},
	    {"telephoneNumber", "+49 30 1234-567"},
	    {"employeeNumber", "42"},
	    {"mozillaUseHtmlMail", "TRUE"},
	    {"description", ""},
	};
	struct entry *e = ab_entry_new("cn=Jörg Müller,ou=x,dc=example",
				       "cn=jörg müller,ou=x,dc=example");

	for (size_t i = 0; i < sizeof(av) / sizeof(av[0]); i++)
		ab_entry_add_value(e, ab_schema_attr_findz(av[i][0]), av[i][0],
				   av[i][1], strlen(av[i][1]));
	return e;
}

/* Attribute descriptions and rule names that the string form can carry
 * (RFC 4512 §2.5: letters, digits, '-', '.', ';').  Others come only from
 * BER; they evaluate as unknown types and need not round-trip. */
static int printable_names(const struct filter *f)
{
	const char *names[2] = {f->attr, f->rule};

	for (int n = 0; n < 2; n++)
		for (const char *p = names[n]; p && *p; p++)
			if (!(*p >= 'a' && *p <= 'z') &&
			    !(*p >= 'A' && *p <= 'Z') &&
			    !(*p >= '0' && *p <= '9') && *p != '-' &&
			    *p != '.' && *p != ';')
				return 0;
	if ((f->attr && !*f->attr) || (f->rule && !*f->rule))
		return 0;
	for (size_t i = 0; i < f->nkids; i++)
		if (!printable_names(f->kids[i]))
			return 0;
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct filter *f = NULL, *g = NULL;
	struct strbuf a, b;
	struct entry *e;
	const char *err;
	int rc;

	if (size > 0 && data[0] == '(') {
		char *s = malloc(size + 1);

		memcpy(s, data, size);
		s[size] = '\0';
		rc = ab_filter_parse(s, &f, &err);
		free(s);
	} else {
		struct ber_dec d;
		unsigned char *copy = malloc(size + 1);

		memcpy(copy, data, size);
		ab_dec_init(&d, copy, size);
		rc = ab_filter_decode(&d, &f, &err);
		ab_dec_free(&d);
		free(copy);
	}
	if (rc < 0)
		return 0;
	e = sample();
	strbuf_init(&a);
	strbuf_init(&b);
	ab_filter_print(f, &a);
	if (!printable_names(f)) {
		ab_filter_match(f, e);
		goto out;
	}
	/* Values with NUL bytes print as \00 and round-trip too. */
	if (ab_filter_parse(a.data, &g, &err) < 0)
		abort();
	ab_filter_print(g, &b);
	if (a.len != b.len || memcmp(a.data, b.data, a.len) != 0)
		abort();
	if (ab_filter_match(f, e) != ab_filter_match(g, e))
		abort();
out:
	strbuf_free(&a);
	strbuf_free(&b);
	ab_filter_free(&f);
	ab_filter_free(&g);
	ab_entry_free(&e);
	return 0;
}
