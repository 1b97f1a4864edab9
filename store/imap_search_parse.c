/*
 * imap_search_parse.c - SEARCH criteria (imap_search_key.h) from a
 * parsed command's arguments: the simple flag keys, NOT / OR / lists,
 * sequence and UID sets, sizes, dates, MODSEQ, header and text keys,
 * EMAILID and THREADID.  Nothing here looks at a mailbox; imap_search.c
 * evaluates the tree.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "mailstore.h"
#include "strbuf.h"
#include "store/imap.h"
#include "store/imap_search_key.h"

static const struct {
	const char *name;
	enum key_type type;
	uint32_t flag;
} simple_keys[] = {
	{"ALL", K_ALL, 0},
	{"ANSWERED", K_FLAG, MSTORE_F_ANSWERED},
	{"DELETED", K_FLAG, MSTORE_F_DELETED},
	{"DRAFT", K_FLAG, MSTORE_F_DRAFT},
	{"FLAGGED", K_FLAG, MSTORE_F_FLAGGED},
	{"SEEN", K_FLAG, MSTORE_F_SEEN},
	{"UNANSWERED", K_UNFLAG, MSTORE_F_ANSWERED},
	{"UNDELETED", K_UNFLAG, MSTORE_F_DELETED},
	{"UNDRAFT", K_UNFLAG, MSTORE_F_DRAFT},
	{"UNFLAGGED", K_UNFLAG, MSTORE_F_FLAGGED},
	{"UNSEEN", K_UNFLAG, MSTORE_F_SEEN},
	{"RECENT", K_RECENT, 0},
	{"NEW", K_NEW, 0},
	{"OLD", K_OLD, 0},
};

static const char *const months[] = {"jan", "feb", "mar", "apr", "may",
				     "jun", "jul", "aug", "sep", "oct",
				     "nov", "dec"};

void search_key_free(struct search_key *k)
{
	free(k->folded);
	k->folded = NULL;
	imap_seqset_free(&k->set);
	for (size_t i = 0; i < k->nsub; i++)
		search_key_free(&k->sub[i]);
	free(k->sub);
}

/* "1-Feb-1994" -> days since the epoch; -1 if invalid. */
static int64_t parse_day(const char *s)
{
	int d, y, m;
	char mon[4];
	struct tm tm;

	if (s == NULL || sscanf(s, "%2d-%3s-%4d", &d, mon, &y) != 3)
		return -1;
	for (m = 0; m < 12; m++)
		if (strcasecmp(mon, months[m]) == 0)
			break;
	if (m == 12 || d < 1 || d > 31 || y < 1900)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_mday = d;
	tm.tm_mon = m;
	tm.tm_year = y - 1900;
	return (int64_t)timegm(&tm) / 86400;
}

/*
 * Nesting depth: a command of 100,000 tokens (the parser's limit) could
 * chain that many NOTs across LITERAL+ lines and overflow the stack, so
 * nesting stops at SEARCH_MAX_DEPTH (1,000): far beyond what a client
 * builds (an OR per address in a long list of senders, say).
 */

struct parser {
	const struct imap_arg *a;
	size_t n, i;
	unsigned depth;		/* levels of NOT / OR / lists above */
	int too_deep;		/* set where SEARCH_MAX_DEPTH stopped it */
};

static int parse_key(struct parser *p, struct search_key *k);

/* The keys of a list (or a whole command) ANDed into k, one level below
 * its parser's. */
static int parse_list(struct parser *up, const struct imap_arg *a, size_t n,
		      struct search_key *k)
{
	struct parser sub = {a, n, 0, up->depth + 1, 0};
	int r = 0;

	k->type = K_AND;
	if (sub.depth > SEARCH_MAX_DEPTH) {
		up->too_deep = 1;
		return -1;
	}
	while (sub.i < sub.n && r == 0) {
		k->sub = xrealloc(k->sub, (k->nsub + 1) * sizeof(*k->sub));
		memset(&k->sub[k->nsub], 0, sizeof(*k->sub));
		r = parse_key(&sub, &k->sub[k->nsub++]);
	}
	up->too_deep |= sub.too_deep;
	return r == 0 && k->nsub > 0 ? 0 : -1;
}

/* Keys nested one level below p's, parsed from p's position on. */
static int parse_nested(struct parser *p, struct search_key *k)
{
	int r;

	if (p->depth + 1 > SEARCH_MAX_DEPTH) {
		p->too_deep = 1;
		return -1;
	}
	p->depth++;
	r = parse_key(p, k);
	p->depth--;
	return r;
}

/* A whole criteria list; 0, or -1 with *err_r for a BAD reply. */
int search_parse(const struct imap_arg *a, size_t n, struct search_key *root,
			  const char **err_r)
{
	struct parser top = {NULL, 0, 0, 0, 0};

	if (n > 0 && parse_list(&top, a, n, root) == 0)
		return 0;
	*err_r = top.too_deep ? "SEARCH criteria nested too deeply"
			      : "Invalid SEARCH criteria";
	return -1;
}

static const char *next_str(struct parser *p)
{
	if (p->i >= p->n)
		return NULL;
	return imap_arg_string(&p->a[p->i++]);
}

static int parse_key(struct parser *p, struct search_key *k)
{
	const struct imap_arg *a;
	const char *w, *v;
	const char *err;

	if (p->i >= p->n)
		return -1;
	a = &p->a[p->i++];
	if (a->type == IMAP_ARG_LIST)
		return parse_list(p, a->list, a->count, k);
	if ((w = imap_arg_string(a)) == NULL || a->type != IMAP_ARG_ATOM)
		return -1;
	for (size_t i = 0; i < sizeof(simple_keys) / sizeof(*simple_keys); i++)
		if (strcasecmp(w, simple_keys[i].name) == 0) {
			k->type = simple_keys[i].type;
			k->flag = simple_keys[i].flag;
			return 0;
		}
	if (strcasecmp(w, "NOT") == 0) {
		k->type = K_NOT;
		k->sub = xcalloc(1, sizeof(*k->sub));
		k->nsub = 1;
		return parse_nested(p, &k->sub[0]);
	}
	if (strcasecmp(w, "OR") == 0) {
		k->type = K_OR;
		k->sub = xcalloc(2, sizeof(*k->sub));
		k->nsub = 2;
		if (parse_nested(p, &k->sub[0]) < 0)
			return -1;
		return parse_nested(p, &k->sub[1]);
	}
	if (strcasecmp(w, "UID") == 0) {
		k->type = K_UID;
		return imap_seqset_parse(next_str(p), &k->set, &err);
	}
	if ((w[0] >= '0' && w[0] <= '9') || w[0] == '*' || w[0] == '$') {
		k->type = K_SEQ;
		return imap_seqset_parse(w, &k->set, &err);
	}
	if (strcasecmp(w, "KEYWORD") == 0 || strcasecmp(w, "UNKEYWORD") == 0) {
		k->type = w[0] == 'K' || w[0] == 'k' ? K_KEYWORD : K_UNKEYWORD;
		return (k->name = next_str(p)) != NULL ? 0 : -1;
	}
	if (strcasecmp(w, "LARGER") == 0 || strcasecmp(w, "SMALLER") == 0 ||
	    strcasecmp(w, "MODSEQ") == 0) {
		char *end;

		k->type = strcasecmp(w, "LARGER") == 0	  ? K_LARGER
			  : strcasecmp(w, "SMALLER") == 0 ? K_SMALLER
							  : K_MODSEQ;
		/* MODSEQ [entry-name entry-type] mod-sequence-valzer */
		if (k->type == K_MODSEQ && p->i + 2 < p->n + 0 &&
		    p->a[p->i].type == IMAP_ARG_QUOTED)
			p->i += 2;
		v = next_str(p);
		if (v == NULL || *v < '0' || *v > '9')
			return -1;
		k->num = strtoull(v, &end, 10);
		return *end == '\0' ? 0 : -1;
	}
	{
		static const struct {
			const char *name;
			enum key_type type;
		} dates[] = {
			{"BEFORE", K_BEFORE},	  {"ON", K_ON},
			{"SINCE", K_SINCE},	  {"SENTBEFORE", K_SENTBEFORE},
			{"SENTON", K_SENTON},	  {"SENTSINCE", K_SENTSINCE},
		};
		for (size_t i = 0; i < sizeof(dates) / sizeof(*dates); i++)
			if (strcasecmp(w, dates[i].name) == 0) {
				int64_t d = parse_day(next_str(p));

				k->type = dates[i].type;
				k->num = (uint64_t)d;
				return d < 0 ? -1 : 0;
			}
	}
	if (strcasecmp(w, "HEADER") == 0) {
		k->type = K_HEADER;
		k->name = next_str(p);
		k->value = next_str(p);
		return k->name && k->value ? 0 : -1;
	}
	if (strcasecmp(w, "SUBJECT") == 0 || strcasecmp(w, "FROM") == 0 ||
	    strcasecmp(w, "TO") == 0 || strcasecmp(w, "CC") == 0 ||
	    strcasecmp(w, "BCC") == 0) {
		k->type = K_HEADER;
		k->name = w;
		k->value = next_str(p);
		return k->value ? 0 : -1;
	}
	if (strcasecmp(w, "EMAILID") == 0 || strcasecmp(w, "THREADID") == 0) {
		k->type = w[0] == 'E' || w[0] == 'e' ? K_EMAILID : K_THREADID;
		k->value = next_str(p);
		return k->value ? 0 : -1;
	}
	if (strcasecmp(w, "BODY") == 0 || strcasecmp(w, "TEXT") == 0) {
		k->type = strcasecmp(w, "BODY") == 0 ? K_BODY : K_TEXT;
		k->value = next_str(p);
		return k->value ? 0 : -1;
	}
	return -1;
}

