/*
 * ab_filter_match.c - evaluating a filter against an entry with the
 * three-valued logic of RFC 4511 §4.5.1.7: an unknown attribute type or a
 * value that is not valid for the syntax makes an item Undefined, never
 * an error; AND is FALSE if any operand is FALSE, OR is TRUE if any is
 * TRUE, NOT of Undefined is Undefined.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dn.h"
#include "entry.h"
#include "filter.h"
#include "prep.h"
#include "proto.h"
#include "schema.h"
#include "strbuf.h"
#include "util.h"

typedef enum filter_result fres;

static int norm_assertion(const struct schema_attr *at, const struct berval *v,
			  struct strbuf *out)
{
	strbuf_reset(out);
	return ab_schema_normalize(at, v->bv_val, v->bv_len, out);
}

/* Whether a holds the prepared assertion value v. */
static int has_norm_value(struct attr *a, const struct berval *v)
{
	for (size_t i = 0; i < a->nvals; i++) {
		const struct berval *n = ab_attr_norm(a, i);

		if (n != NULL && n->bv_len == v->bv_len &&
		    memcmp(n->bv_val, v->bv_val, v->bv_len) == 0)
			return 1;
	}
	return 0;
}

static fres match_eq(const struct filter *f, struct entry *e)
{
	struct attr *a;
	int i;

	if (f->at == NULL)
		return FILTER_UNDEFINED;
	if ((a = ab_entry_attr(e, f->at, NULL)) == NULL)
		return ab_schema_check_syntax(f->at, f->value.bv_val,
					      f->value.bv_len) < 0 &&
			       !(f->at->flags & AT_BINARY)
			   ? FILTER_UNDEFINED
			   : FILTER_FALSE;
	if (f->prepared) {
		if (!f->nvalue_ok)
			return FILTER_UNDEFINED;
		return has_norm_value(a, &f->nvalue) ? FILTER_TRUE
						     : FILTER_FALSE;
	}
	i = ab_attr_find_value(a, f->value.bv_val, f->value.bv_len);
	if (i == -2)
		return FILTER_UNDEFINED;
	return i >= 0 ? FILTER_TRUE : FILTER_FALSE;
}

static fres match_order(const struct filter *f, struct entry *e)
{
	struct strbuf sb;
	struct attr *a;
	fres r = FILTER_FALSE;

	/* Ordering on normalized values; binary types have none. */
	if (f->at == NULL || f->at->match == MATCH_OCTET ||
	    f->at->match == MATCH_BOOL)
		return FILTER_UNDEFINED;
	if ((a = ab_entry_attr(e, f->at, NULL)) == NULL)
		return FILTER_FALSE;
	strbuf_init(&sb);
	if (f->prepared) {
		if (!f->nvalue_ok) {
			strbuf_free(&sb);
			return FILTER_UNDEFINED;
		}
		strbuf_add(&sb, f->nvalue.bv_val, f->nvalue.bv_len);
	} else if (norm_assertion(f->at, &f->value, &sb) < 0) {
		strbuf_free(&sb);
		return FILTER_UNDEFINED;
	}
	for (size_t i = 0; i < a->nvals && r != FILTER_TRUE; i++) {
		const struct berval *n = ab_attr_norm(a, i);
		int c;

		if (n == NULL)
			continue;
		c = ab_schema_order(f->at, n->bv_val, n->bv_len, sb.data,
				    sb.len);
		if (f->tag == LDAP_FILTER_GE ? c >= 0 : c <= 0)
			r = FILTER_TRUE;
	}
	strbuf_free(&sb);
	return r;
}

static unsigned piece_flags(const struct schema_attr *at)
{
	if (at->match == MATCH_TEL)
		return PREP_TEL | PREP_FOLD | PREP_PIECE;
	if (at->match == MATCH_CASE_EXACT)
		return PREP_PIECE;
	return PREP_FOLD | PREP_PIECE;
}

/* Whether value v contains the pieces in order (RFC 4517 substrings). */
static int substr_match(const char *v, size_t vl, const struct berval *ini,
			const struct berval *any, size_t nany,
			const struct berval *fin)
{
	size_t pos = 0, lim = vl;

	if (ini != NULL) {
		if (ini->bv_len > vl || memcmp(v, ini->bv_val, ini->bv_len))
			return 0;
		pos = ini->bv_len;
	}
	if (fin != NULL) {
		if (fin->bv_len > vl - pos ||
		    memcmp(v + vl - fin->bv_len, fin->bv_val, fin->bv_len))
			return 0;
		lim = vl - fin->bv_len;
	}
	for (size_t i = 0; i < nany; i++) {
		const char *hit;

		if (any[i].bv_len == 0)
			continue;
		hit = memmem(v + pos, lim - pos, any[i].bv_val, any[i].bv_len);
		if (hit == NULL)
			return 0;
		pos = (size_t)(hit - v) + any[i].bv_len;
	}
	return 1;
}

static int prep_piece(const struct filter *f, const struct berval *in,
		      struct berval *out)
{
	struct strbuf sb;

	strbuf_init(&sb);
	if (ab_prep_string(in->bv_val, in->bv_len, piece_flags(f->at), &sb) <
	    0) {
		strbuf_free(&sb);
		return -1;
	}
	out->bv_len = sb.len;
	out->bv_val = ab_sb_take(&sb, NULL);
	return 0;
}

/* Substring match with the pieces prepared once (ab_filter_prepare). */
static fres match_pieces(const struct filter *f, struct attr *a)
{
	if (!f->pieces_ok)
		return FILTER_UNDEFINED;
	for (size_t i = 0; i < a->nvals; i++) {
		const struct berval *v = ab_attr_norm(a, i);

		if (v != NULL &&
		    substr_match(v->bv_val, v->bv_len,
				 f->pinitial.bv_val ? &f->pinitial : NULL,
				 f->pany, f->nany,
				 f->pfinal.bv_val ? &f->pfinal : NULL))
			return FILTER_TRUE;
	}
	return FILTER_FALSE;
}

static fres match_substr(const struct filter *f, struct entry *e)
{
	struct berval ini = {0, NULL}, fin = {0, NULL}, anyb[16], *any = anyb;
	struct attr *a;
	size_t n = 0;
	fres r = FILTER_UNDEFINED;

	if (f->at == NULL || !f->at->substr)
		return FILTER_UNDEFINED;
	if ((a = ab_entry_attr(e, f->at, NULL)) == NULL)
		return FILTER_FALSE;
	if (f->prepared)
		return match_pieces(f, a);
	if (f->nany > 16)
		any = xcalloc(f->nany, sizeof(*any));
	if (f->initial.bv_val && prep_piece(f, &f->initial, &ini) < 0)
		goto out;
	if (f->final.bv_val && prep_piece(f, &f->final, &fin) < 0)
		goto out;
	for (n = 0; n < f->nany; n++)
		if (prep_piece(f, &f->any[n], &any[n]) < 0)
			goto out;
	r = FILTER_FALSE;
	for (size_t i = 0; i < a->nvals && r != FILTER_TRUE; i++) {
		const struct berval *v = ab_attr_norm(a, i);

		if (v != NULL &&
		    substr_match(v->bv_val, v->bv_len, ini.bv_val ? &ini : NULL,
				 any, f->nany, fin.bv_val ? &fin : NULL))
			r = FILTER_TRUE;
	}
out:
	free(ini.bv_val);
	free(fin.bv_val);
	for (size_t i = 0; i < n; i++)
		free(any[i].bv_val);
	if (any != anyb)
		free(any);
	return r;
}

static fres match_approx(const struct filter *f, struct entry *e)
{
	struct strbuf want, got;
	struct attr *a;
	fres r = FILTER_FALSE;

	if (f->at == NULL)
		return FILTER_UNDEFINED;
	/* Non-text types: approximate is equality (RFC 4511 §4.5.1.7.6). */
	if (f->at->match != MATCH_CASE_IGNORE &&
	    f->at->match != MATCH_CASE_EXACT)
		return match_eq(f, e);
	if ((a = ab_entry_attr(e, f->at, NULL)) == NULL)
		return FILTER_FALSE;
	strbuf_init(&want);
	strbuf_init(&got);
	if (ab_prep_string(f->value.bv_val, f->value.bv_len, PREP_APPROX,
			   &want) < 0) {
		r = FILTER_UNDEFINED;
		goto out;
	}
	for (size_t i = 0; i < a->nvals && r != FILTER_TRUE; i++) {
		strbuf_reset(&got);
		if (ab_prep_string(a->vals[i].bv_val, a->vals[i].bv_len,
				   PREP_APPROX, &got) == 0 &&
		    got.len == want.len &&
		    memcmp(got.data, want.data, got.len) == 0)
			r = FILTER_TRUE;
	}
out:
	strbuf_free(&want);
	strbuf_free(&got);
	return r;
}

/* Extensible match rules we evaluate: by name or OID (RFC 4517 §4.2). */
static const struct {
	const char *name, *oid;
	enum match_kind kind;
} ext_rules[] = {
    {"caseIgnoreMatch", "2.5.13.2", MATCH_CASE_IGNORE},
    {"caseIgnoreIA5Match", "1.3.6.1.4.1.1466.109.114.2", MATCH_CASE_IGNORE},
    {"caseExactMatch", "2.5.13.5", MATCH_CASE_EXACT},
    {"caseExactIA5Match", "1.3.6.1.4.1.1466.109.114.1", MATCH_CASE_EXACT},
    {"octetStringMatch", "2.5.13.17", MATCH_OCTET},
    {"telephoneNumberMatch", "2.5.13.20", MATCH_TEL},
    {"distinguishedNameMatch", "2.5.13.1", MATCH_DN},
    {"objectIdentifierMatch", "2.5.13.0", MATCH_OID},
    {"integerMatch", "2.5.13.14", MATCH_INT},
    {"booleanMatch", "2.5.13.13", MATCH_BOOL},
};

static int ext_value_eq(const struct schema_attr *at, enum match_kind kind,
			const char *v, size_t vl, const struct berval *want)
{
	struct schema_attr tmp = *at;
	struct strbuf a, b;
	int eq;

	tmp.match = kind;
	strbuf_init(&a);
	strbuf_init(&b);
	eq = ab_schema_normalize(&tmp, v, vl, &a) == 0 &&
	     ab_schema_normalize(&tmp, want->bv_val, want->bv_len, &b) == 0 &&
	     a.len == b.len && memcmp(a.data, b.data, a.len) == 0;
	strbuf_free(&a);
	strbuf_free(&b);
	return eq;
}

static fres match_ext(const struct filter *f, struct entry *e)
{
	enum match_kind kind = MATCH_NONE;
	int compatible;

	if (f->rule != NULL) {
		for (size_t i = 0; i < sizeof(ext_rules) / sizeof(ext_rules[0]);
		     i++)
			if (strcasecmp(f->rule, ext_rules[i].name) == 0 ||
			    strcmp(f->rule, ext_rules[i].oid) == 0)
				kind = ext_rules[i].kind;
		if (kind == MATCH_NONE)
			return FILTER_UNDEFINED;
	}
	if (f->attr != NULL && f->at == NULL)
		return FILTER_UNDEFINED;
	if (f->rule == NULL) {
		kind = f->at->match;
		if (!f->dn_attrs)
			return match_eq(f, e);
	}
	for (size_t i = 0; i < e->nattrs; i++) {
		struct attr *a = &e->attrs[i];

		if (a->type == NULL || (f->at != NULL && a->type != f->at))
			continue;
		/* Without a type, the rule applies to the attributes whose
		 * syntax suits it: text rules to text attributes. */
		compatible = f->at != NULL || a->type->match == kind ||
			     (a->type->match == MATCH_CASE_IGNORE &&
			      kind == MATCH_CASE_EXACT);
		if (!compatible)
			continue;
		for (size_t j = 0; j < a->nvals; j++)
			if (ext_value_eq(a->type, kind, a->vals[j].bv_val,
					 a->vals[j].bv_len, &f->value))
				return FILTER_TRUE;
	}
	if (f->dn_attrs) { /* also the AVAs of the entry's DN */
		struct dn *dn;
		fres r = FILTER_FALSE;

		if (ab_dn_parse(e->dn, strlen(e->dn), &dn) < 0)
			return FILTER_FALSE;
		for (size_t i = 0; i < dn->n && r == FILTER_FALSE; i++)
			for (size_t j = 0; j < dn->rdn[i].n; j++) {
				struct dn_ava *ava = &dn->rdn[i].ava[j];

				if (ava->at == NULL ||
				    (f->at != NULL && ava->at != f->at))
					continue;
				if (ext_value_eq(ava->at, kind, ava->value,
						 ava->value_len, &f->value))
					r = FILTER_TRUE;
			}
		ab_dn_free(&dn);
		return r;
	}
	return FILTER_FALSE;
}

enum filter_result ab_filter_match(const struct filter *f, struct entry *e)
{
	fres r, k;

	switch (f->tag) {
	case LDAP_FILTER_AND:
		r = FILTER_TRUE;
		for (size_t i = 0; i < f->nkids && r != FILTER_FALSE; i++) {
			k = ab_filter_match(f->kids[i], e);
			if (k != FILTER_TRUE)
				r = k;
		}
		return r;
	case LDAP_FILTER_OR:
		r = FILTER_FALSE;
		for (size_t i = 0; i < f->nkids && r != FILTER_TRUE; i++) {
			k = ab_filter_match(f->kids[i], e);
			if (k != FILTER_FALSE)
				r = k;
		}
		return r;
	case LDAP_FILTER_NOT:
		k = ab_filter_match(f->kids[0], e);
		return k == FILTER_UNDEFINED ? k
		       : k == FILTER_TRUE    ? FILTER_FALSE
					     : FILTER_TRUE;
	case LDAP_FILTER_EQUALITY:
		return match_eq(f, e);
	case LDAP_FILTER_GE:
	case LDAP_FILTER_LE:
		return match_order(f, e);
	case LDAP_FILTER_SUBSTRINGS:
		return match_substr(f, e);
	case LDAP_FILTER_PRESENT:
		if (f->at == NULL)
			return ab_entry_attr(e, NULL, f->attr) ? FILTER_TRUE
							       : FILTER_FALSE;
		return ab_entry_attr(e, f->at, NULL) ? FILTER_TRUE
						     : FILTER_FALSE;
	case LDAP_FILTER_APPROX:
		return match_approx(f, e);
	case LDAP_FILTER_EXT:
		return match_ext(f, e);
	}
	return FILTER_UNDEFINED;
}

static void prepare_pieces(struct filter *f)
{
	f->pieces_ok = 0;
	if (f->initial.bv_val && prep_piece(f, &f->initial, &f->pinitial) < 0)
		return;
	if (f->final.bv_val && prep_piece(f, &f->final, &f->pfinal) < 0)
		return;
	if (f->nany > 0) {
		f->pany = xcalloc(f->nany, sizeof(*f->pany));
		for (size_t i = 0; i < f->nany; i++)
			if (prep_piece(f, &f->any[i], &f->pany[i]) < 0)
				return;
	}
	f->pieces_ok = 1;
}

void ab_filter_prepare(struct filter *f)
{
	struct strbuf sb;

	if (f == NULL || f->prepared)
		return;
	for (size_t i = 0; i < f->nkids; i++)
		ab_filter_prepare(f->kids[i]);
	f->prepared = 1;
	if (f->at == NULL)
		return;
	if (f->tag == LDAP_FILTER_SUBSTRINGS) {
		if (f->at->substr)
			prepare_pieces(f);
		return;
	}
	if (f->value.bv_val == NULL)
		return;
	strbuf_init(&sb);
	f->nvalue_ok = ab_schema_normalize(f->at, f->value.bv_val,
					   f->value.bv_len, &sb) == 0;
	f->nvalue.bv_len = sb.len;
	f->nvalue.bv_val = ab_sb_take(&sb, NULL);
}
