/*
 * test_ldapab_text.c - ldapab's text layer: RFC 4518 preparation, DNs,
 * filters (string form, printing, three-valued evaluation), schema
 * checks, LDIF and vCard, password hashes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ldapab/auth.h"
#include "ldapab/dn.h"
#include "ldapab/entry.h"
#include "ldapab/filter.h"
#include "ldapab/ldif.h"
#include "ldapab/prep.h"
#include "ldapab/proto.h"
#include "ldapab/schema.h"
#include "ldapab/vcard.h"
#include "strbuf.h"

static char *prep(const char *s, unsigned flags)
{
	struct strbuf sb;
	char *r;

	strbuf_init(&sb);
	if (ab_prep_string(s, strlen(s), flags, &sb) < 0) {
		strbuf_free(&sb);
		return NULL;
	}
	r = xstrdup(sb.data);
	strbuf_free(&sb);
	return r;
}

static void check_prep(const char *in, unsigned flags, const char *want)
{
	char *got = prep(in, flags);

	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
}

static void test_prep(void **state)
{
	(void)state;
	check_prep("Jörg", PREP_FOLD, "jörg");
	check_prep("JÖRG", PREP_FOLD, "jörg");
	check_prep("ΣΊΣΥΦΟΣ", PREP_FOLD, "σίσυφοσ");
	check_prep("  a   b  ", PREP_FOLD, "a b");
	check_prep("a\xc2\xa0"
		   "b",
		   PREP_FOLD, "a b"); /* NBSP is a space */
	check_prep("so\xc2\xad"
		   "ft",
		   PREP_FOLD, "soft"); /* soft hyphen */
	check_prep("+1 555-0100", PREP_TEL | PREP_FOLD, "+15550100");
	check_prep(" jo ", PREP_FOLD | PREP_PIECE, " jo ");
	check_prep("Zoë Brown", PREP_APPROX, "zoebrown");
	check_prep("Case", 0, "Case");
	assert_null(prep("\xff", PREP_FOLD));	      /* invalid UTF-8 */
	assert_null(prep("\xc0\x80", PREP_FOLD));     /* overlong NUL */
	assert_null(prep("\xed\xa0\x80", PREP_FOLD)); /* surrogate */
}

static void check_dn(const char *in, const char *ndn, const char *key)
{
	struct dn *dn;
	char *n, *k;

	assert_int_equal(ab_dn_parse(in, strlen(in), &dn), 0);
	n = ab_dn_norm(dn, 0);
	k = ab_dn_key(dn, 0);
	assert_string_equal(n, ndn);
	assert_string_equal(k, key);
	free(n);
	free(k);
	ab_dn_free(&dn);
}

static void test_dn(void **state)
{
	static const char *const bad[] = {
	    "cn", "=x",	   "cn=a,,dc=x",	 "cn=a\\", "cn=a+", "1cn=x",
	    ",",  "cn=a,", "telephoneNumber=+1", NULL};
	struct dn *dn;

	(void)state;
	check_dn("", "", "");
	check_dn("CN=Jörg  Müller , OU=Alice@Example.COM,dc=Example,DC=net",
		 "cn=jörg müller,ou=alice@example.com,dc=example,dc=net",
		 "dc=net\x01"
		 "dc=example\x01"
		 "ou=alice@example.com\x01"
		 "cn=jörg müller");
	check_dn("cn=Smith\\, John,dc=x", "cn=smith\\, john,dc=x",
		 "dc=x\x01"
		 "cn=smith\\, john");
	check_dn("cn=a\\2Cb,dc=x", "cn=a\\,b,dc=x",
		 "dc=x\x01"
		 "cn=a\\,b");
	check_dn("sn=B+cn=A,dc=x", "cn=a+sn=b,dc=x",
		 "dc=x\x01"
		 "cn=a+sn=b");
	check_dn("commonName=x", "cn=x", "cn=x");
	check_dn("2.5.4.3=x", "cn=x", "cn=x");
	check_dn("cn=\"quoted, name\",dc=x", "cn=quoted\\, name,dc=x",
		 "dc=x\x01"
		 "cn=quoted\\, name");
	check_dn("telephoneNumber=\\+1 555-0100", "telephonenumber=\\+15550100",
		 "telephonenumber=\\+15550100");
	for (int i = 0; bad[i]; i++)
		assert_int_equal(ab_dn_parse(bad[i], strlen(bad[i]), &dn), -1);
}

static struct entry *person(void)
{
	struct entry *e =
	    ab_entry_new("cn=Jörg Müller,dc=x", "cn=jörg müller,dc=x");
	static const char *const av[][2] = {
	    {"objectClass", "top"},
	    {"objectClass", "inetOrgPerson"},
	    {"cn", "Jörg Müller"},
	    {"sn", "Müller"},
	    {"givenName", "Jörg"},
	    {"mail", "joerg@Example.de"},
	    {"telephoneNumber", "+49 30 1234-567"},
	    {"employeeNumber", "042"},
	};

	for (size_t i = 0; i < sizeof(av) / sizeof(av[0]); i++)
		ab_entry_add_value(e, ab_schema_attr_findz(av[i][0]), av[i][0],
				   av[i][1], strlen(av[i][1]));
	return e;
}

static int eval(const char *s, struct entry *e)
{
	struct filter *f;
	const char *err;
	int r;

	assert_int_equal(ab_filter_parse(s, &f, &err), 0);
	r = ab_filter_match(f, e);
	ab_filter_free(&f);
	return r;
}

static void test_filter_match(void **state)
{
	struct entry *e = person();

	(void)state;
	assert_int_equal(eval("(cn=*jö*)", e), FILTER_TRUE);
	assert_int_equal(eval("(cn=*JÖRG*)", e), FILTER_TRUE);
	assert_int_equal(eval("(cn=jörg*müller)", e), FILTER_TRUE);
	assert_int_equal(eval("(cn=*müller*jörg*)", e), FILTER_FALSE);
	assert_int_equal(eval("(cn=j*r*g*m*)", e), FILTER_TRUE);
	assert_int_equal(eval("(cn=jörg*jörg*)", e), FILTER_FALSE);
	assert_int_equal(eval("(mail=JOERG@example.DE)", e), FILTER_TRUE);
	assert_int_equal(eval("(telephoneNumber=+4930 1234567)", e),
			 FILTER_TRUE);
	assert_int_equal(eval("(telephoneNumber=*1234567)", e), FILTER_TRUE);
	assert_int_equal(eval("(employeeNumber>=041)", e), FILTER_TRUE);
	assert_int_equal(eval("(employeeNumber>=05)", e), FILTER_FALSE);
	assert_int_equal(eval("(sn<=m)", e), FILTER_FALSE);
	assert_int_equal(eval("(sn>=m)", e), FILTER_TRUE);
	assert_int_equal(eval("(cn~=jorg muller)", e), FILTER_TRUE);
	assert_int_equal(eval("(objectClass=inetorgperson)", e), FILTER_TRUE);
	assert_int_equal(eval("(objectClass=2.16.840.1.113730.3.2.2)", e),
			 FILTER_TRUE);
	assert_int_equal(eval("(objectClass=*)", e), FILTER_TRUE);
	assert_int_equal(eval("(uid=*)", e), FILTER_FALSE);
	/* RFC 4511 §4.5.1.7: unknown types are Undefined, and Undefined
	 * propagates through NOT and AND but not through a TRUE OR. */
	assert_int_equal(eval("(bogus=1)", e), FILTER_UNDEFINED);
	assert_int_equal(eval("(bogus=*)", e), FILTER_FALSE);
	assert_int_equal(eval("(!(bogus=1))", e), FILTER_UNDEFINED);
	assert_int_equal(eval("(&(sn=müller)(bogus=1))", e), FILTER_UNDEFINED);
	assert_int_equal(eval("(&(sn=x)(bogus=1))", e), FILTER_FALSE);
	assert_int_equal(eval("(|(sn=müller)(bogus=1))", e), FILTER_TRUE);
	assert_int_equal(eval("(|(sn=x)(bogus=1))", e), FILTER_UNDEFINED);
	/* Not a valid Boolean: Undefined even though the entry lacks it. */
	assert_int_equal(eval("(mozillaUseHtmlMail=maybe)", e),
			 FILTER_UNDEFINED);
	assert_int_equal(eval("(mozillaUseHtmlMail=TRUE)", e), FILTER_FALSE);
	assert_int_equal(eval("(&)", e), FILTER_TRUE);
	assert_int_equal(eval("(|)", e), FILTER_FALSE);
	assert_int_equal(eval("(cn:caseExactMatch:=Jörg Müller)", e),
			 FILTER_TRUE);
	assert_int_equal(eval("(cn:2.5.13.5:=jörg müller)", e), FILTER_FALSE);
	assert_int_equal(eval("(:caseIgnoreMatch:=MÜLLER)", e), FILTER_TRUE);
	assert_int_equal(eval("(cn:dn:=jörg müller)", e), FILTER_TRUE);
	assert_int_equal(eval("(cn:1.2.3.4:=x)", e), FILTER_UNDEFINED);
	assert_int_equal(eval("(cn=\\4a*)", e), FILTER_TRUE);
	ab_entry_free(&e);
}

static void test_filter_syntax(void **state)
{
	static const char *const bad[] = {
	    "",	    "cn=x",	 "(cn=x",  "(cn=x))", "(!(a=1)(b=2))",
	    "(=x)", "(cn=\\zz)", "(cn~x)", "(:=x)",   NULL};
	struct strbuf sb;
	struct filter *f;
	const char *err;
	char deep[20000];
	int i;

	(void)state;
	for (i = 0; bad[i]; i++)
		assert_int_equal(ab_filter_parse(bad[i], &f, &err), -1);
	assert_int_equal(
	    ab_filter_parse("(|(cn=*a*b-*)(mail=\\2a*)(!(sn>=x)))", &f, &err),
	    0);
	strbuf_init(&sb);
	ab_filter_print(f, &sb);
	assert_string_equal(sb.data, "(|(cn=*a*b-*)(mail=\\2a*)(!(sn>=x)))");
	strbuf_free(&sb);
	ab_filter_free(&f);
	/* 10,000-deep nesting is refused, not a stack overflow. */
	for (i = 0; i < 5000; i++)
		memcpy(deep + 2 * i, "(!", 2);
	strcpy(deep + 10000, "(cn=x)");
	for (i = 0; i < 5000; i++)
		deep[10006 + i] = ')';
	deep[15006] = '\0';
	assert_int_equal(ab_filter_parse(deep, &f, &err), -1);
}

static void test_schema_check(void **state)
{
	struct entry *e = person();
	char diag[256];

	(void)state;
	assert_int_equal(ab_schema_check_entry(e, diag, sizeof(diag)), 0);
	ab_entry_add_value(e, ab_schema_attr_findz("dc"), "dc", "x", 1);
	assert_int_equal(ab_schema_check_entry(e, diag, sizeof(diag)),
			 LDAP_R_OBJECT_CLASS_VIOLATION);
	assert_non_null(strstr(diag, "'dc' not allowed"));
	ab_entry_remove_attr(e, ab_entry_attr_get(e, "dc"));
	ab_entry_remove_attr(e, ab_entry_attr_get(e, "sn"));
	assert_int_equal(ab_schema_check_entry(e, diag, sizeof(diag)),
			 LDAP_R_OBJECT_CLASS_VIOLATION);
	assert_non_null(strstr(diag, "requires attribute 'sn'"));
	ab_entry_add_value(e, ab_schema_attr_findz("sn"), "sn", "M", 1);
	ab_entry_add_value(e, ab_schema_attr_findz("mail"), "mail", "\xc3\xa4",
			   2);
	assert_int_equal(ab_schema_check_entry(e, diag, sizeof(diag)),
			 LDAP_R_INVALID_SYNTAX);
	ab_entry_free(&e);

	e = person();
	ab_schema_expand_classes(e);
	assert_true(ab_attr_find_value(ab_entry_attr_get(e, "objectClass"),
				       "person", 6) >= 0);
	assert_true(ab_attr_find_value(ab_entry_attr_get(e, "objectClass"),
				       "organizationalPerson", 20) >= 0);
	ab_entry_free(&e);
}

static void test_entry_codec(void **state)
{
	struct entry *e = person(), *d;
	struct strbuf sb;

	(void)state;
	strbuf_init(&sb);
	ab_entry_encode(e, &sb);
	d = ab_entry_decode(sb.data, sb.len);
	assert_non_null(d);
	assert_string_equal(d->dn, e->dn);
	assert_int_equal(d->nattrs, e->nattrs);
	for (size_t cut = 0; cut < sb.len; cut++) {
		struct entry *t = ab_entry_decode(sb.data, cut);

		assert_null(t);
	}
	strbuf_free(&sb);
	ab_entry_free(&d);
	ab_entry_free(&e);
}

/* A decoded entry is packed (entry.h); changing it must work like
 * changing any other entry, prepared values included. */
static void test_entry_packed_changes(void **state)
{
	struct entry *e = person(), *d, *d2;
	struct attr *a;
	struct strbuf sb, sb2;

	(void)state;
	strbuf_init(&sb);
	ab_entry_encode(e, &sb);
	d = ab_entry_decode(sb.data, sb.len);
	assert_non_null(d);
	assert_true(d->packed);
	assert_int_equal(eval("(sn=MÜLLER)", d), FILTER_TRUE);
	a = ab_entry_attr_get(d, "objectClass");
	assert_non_null(a);
	ab_entry_remove_value(d, a, 0); /* "top" */
	assert_false(d->packed);
	assert_int_equal(eval("(sn=müller)", d), FILTER_TRUE);
	assert_int_equal(eval("(objectClass=top)", d), FILTER_FALSE);
	ab_entry_add_value(d, ab_schema_attr_findz("mail"), "mail",
			   "j@example.org", 13);
	assert_int_equal(eval("(mail=J@EXAMPLE.ORG)", d), FILTER_TRUE);
	ab_entry_set_dn(d, xstrdup("cn=J,dc=x"), xstrdup("cn=j,dc=x"));
	assert_string_equal(d->dn, "cn=J,dc=x");

	/* Removing a whole attribute of a packed entry. */
	d2 = ab_entry_decode(sb.data, sb.len);
	assert_non_null(d2);
	a = ab_entry_attr_get(d2, "employeeNumber");
	assert_true(ab_entry_remove_attr(d2, a));
	assert_null(ab_entry_attr_get(d2, "employeeNumber"));
	assert_int_equal(d2->nattrs, e->nattrs - 1);
	ab_entry_free(&d2);

	/* What was changed encodes and decodes again. */
	strbuf_init(&sb2);
	ab_entry_encode(d, &sb2);
	d2 = ab_entry_decode(sb2.data, sb2.len);
	assert_non_null(d2);
	assert_string_equal(d2->ndn, "cn=j,dc=x");
	assert_int_equal(eval("(&(mail=j@example.org)(!(objectClass=top)))",
			      d2),
			 FILTER_TRUE);
	strbuf_free(&sb2);
	strbuf_free(&sb);
	ab_entry_free(&d2);
	ab_entry_free(&d);
	ab_entry_free(&e);
}

static int collect(struct entry *e, void *arg)
{
	struct entry **slot = arg;

	ab_entry_free(slot);
	*slot = e;
	return 0;
}

static void test_ldif_vcard(void **state)
{
	static const char ldif[] =
	    "version: 1\n\n# Thunderbird\n"
	    "dn: cn=Lara Ldif,mail=lara@ldif.org\nobjectclass: top\n"
	    "objectclass: inetOrgPerson\ncn: Lara Ldif\nsn: Ld\n if\n"
	    "description:: R3LDvMOfZQ==\n\n";
	static const char vcf[] =
	    "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Vera\r\n  Card\r\n"
	    "N:Card;Vera;;;\r\nitem1.EMAIL;type=INTERNET:v@c.org\r\n"
	    "EMAIL:second@c.org\r\nTEL;TYPE=CELL:+1 555\r\n"
	    "ADR;TYPE=HOME:;;1 Main St;Town;ST;12345;Land\r\n"
	    "NOTE:a\\nb\\, c\r\nEND:VCARD\r\n";
	struct entry *e = NULL;
	struct strbuf out;
	char *err = NULL;

	(void)state;
	assert_int_equal(ab_ldif_parse(ldif, strlen(ldif), collect, &e, &err),
			 1);
	assert_string_equal(e->dn, "cn=Lara Ldif,mail=lara@ldif.org");
	assert_string_equal(ab_entry_attr_get(e, "sn")->vals[0].bv_val, "Ldif");
	assert_string_equal(ab_entry_attr_get(e, "description")->vals[0].bv_val,
			    "Grüße");
	strbuf_init(&out);
	ab_ldif_write(e, &out);
	assert_non_null(strstr(out.data, "description:: R3LDvMOfZQ==\n"));
	strbuf_free(&out);
	assert_int_equal(ab_ldif_parse("cn: x\n", 6, collect, &e, &err), -1);
	free(err);
	err = NULL;

	assert_int_equal(ab_vcard_parse(vcf, strlen(vcf), collect, &e, &err),
			 1);
	assert_string_equal(ab_entry_attr_get(e, "cn")->vals[0].bv_val,
			    "Vera Card");
	assert_string_equal(ab_entry_attr_get(e, "mail")->vals[0].bv_val,
			    "v@c.org");
	assert_string_equal(
	    ab_entry_attr_get(e, "mozillaSecondEmail")->vals[0].bv_val,
	    "second@c.org");
	assert_string_equal(ab_entry_attr_get(e, "mobile")->vals[0].bv_val,
			    "+1 555");
	assert_string_equal(
	    ab_entry_attr_get(e, "mozillaHomeLocalityName")->vals[0].bv_val,
	    "Town");
	assert_string_equal(ab_entry_attr_get(e, "description")->vals[0].bv_val,
			    "a\nb, c");
	strbuf_init(&out);
	ab_vcard_write(e, 4, &out);
	assert_non_null(strstr(out.data, "VERSION:4.0\r\n"));
	assert_non_null(strstr(out.data, "NOTE:a\\nb\\, c\r\n"));
	assert_non_null(strstr(out.data, "TEL;TYPE=cell:+1 555\r\n"));
	strbuf_free(&out);
	ab_entry_free(&e);
}

static void test_password_hash(void **state)
{
	char h[256];

	(void)state;
	assert_int_equal(ab_auth_hash_password("demo", 4, h, sizeof(h)), 0);
	assert_non_null(strstr(h, "{PBKDF2-SHA256}"));
	assert_int_equal(ab_auth_check_password(h, "demo", 4), 1);
	assert_int_equal(ab_auth_check_password(h, "Demo", 4), 0);
	assert_int_equal(ab_auth_check_password("{SSHA}abc", "demo", 4), 0);
	assert_int_equal(ab_auth_check_password("{PBKDF2-SHA256}x$y$z", "d", 1),
			 0);
}

static void test_bind_names(void **state)
{
	char out[256];

	(void)state;
	assert_int_equal(ab_auth_bind_name("Alice@Example.com", 17,
					   "dc=example,dc=net", out,
					   sizeof(out)),
			 0);
	assert_string_equal(out, "alice@example.com");
	assert_int_equal(
	    ab_auth_bind_name("CN=Bob@x.org, OU=Auth, DC=Example,DC=net", 40,
			      "dc=example,dc=net", out, sizeof(out)),
	    0);
	assert_string_equal(out, "bob@x.org");
	assert_int_equal(ab_auth_bind_name("cn=bob,ou=people,dc=example,dc=net",
					   34, "dc=example,dc=net", out,
					   sizeof(out)),
			 -1);
	assert_int_equal(ab_auth_bind_name("a b", 3, "dc=x", out, sizeof(out)),
			 -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_prep),
	    cmocka_unit_test(test_dn),
	    cmocka_unit_test(test_filter_match),
	    cmocka_unit_test(test_filter_syntax),
	    cmocka_unit_test(test_schema_check),
	    cmocka_unit_test(test_entry_codec),
	    cmocka_unit_test(test_entry_packed_changes),
	    cmocka_unit_test(test_ldif_vcard),
	    cmocka_unit_test(test_password_hash),
	    cmocka_unit_test(test_bind_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
