/*
 * imap_sort.c - SORT and UID SORT (RFC 5256 section 3, with RFC 5957
 * DISPLAYFROM and DISPLAYTO).  Keys come from imap_sortkey.c; strings
 * compare with i;ascii-casemap; a REVERSE applies to the key after it;
 * messages equal on every key go by sequence number, ascending, whatever
 * the REVERSE flags (RFC 5256 3: "the message sequence number is the
 * final sort key").  ESORT (RFC 5267 3): "SORT RETURN (MIN MAX COUNT ALL
 * SAVE) ..." answers with one ESEARCH response where MIN and MAX are
 * the first and last messages in sort order and ALL lists them in that
 * order.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "strbuf.h"
#include "store/imap.h"
#include "store/imap_search.h"
#include "store/imap_sort.h"

enum sort_key {
	S_ARRIVAL,
	S_CC,
	S_DATE,
	S_FROM,
	S_SIZE,
	S_SUBJECT,
	S_TO,
	S_DISPLAYFROM,
	S_DISPLAYTO,
};

static const struct {
	const char *name;
	enum sort_key key;
} sort_keys[] = {
    {"ARRIVAL", S_ARRIVAL},
    {"CC", S_CC},
    {"DATE", S_DATE},
    {"FROM", S_FROM},
    {"SIZE", S_SIZE},
    {"SUBJECT", S_SUBJECT},
    {"TO", S_TO},
    {"DISPLAYFROM", S_DISPLAYFROM},
    {"DISPLAYTO", S_DISPLAYTO},
};

#define SORT_MAX_KEYS 32

struct sort_spec {
	enum sort_key key[SORT_MAX_KEYS];
	int reverse[SORT_MAX_KEYS];
	size_t n;
};

/* sort-criteria: "(" [REVERSE] key *(SP [REVERSE] key) ")"; 0 or -1. */
static int parse_criteria(const struct imap_arg *a, struct sort_spec *sp)
{
	int rev = 0;

	sp->n = 0;
	if (a->type != IMAP_ARG_LIST || a->count == 0)
		return -1;
	for (size_t i = 0; i < a->count; i++) {
		const struct imap_arg *w = &a->list[i];
		size_t k;

		if (w->type != IMAP_ARG_ATOM)
			return -1;
		if (strcasecmp(w->str, "REVERSE") == 0) {
			if (rev)
				return -1;
			rev = 1;
			continue;
		}
		for (k = 0; k < sizeof(sort_keys) / sizeof(*sort_keys); k++)
			if (strcasecmp(w->str, sort_keys[k].name) == 0)
				break;
		if (k == sizeof(sort_keys) / sizeof(*sort_keys) ||
		    sp->n == SORT_MAX_KEYS)
			return -1;
		sp->key[sp->n] = sort_keys[k].key;
		sp->reverse[sp->n++] = rev;
		rev = 0;
	}
	return rev || sp->n == 0 ? -1 : 0;
}

static int cmp_num(uint64_t a, uint64_t b)
{
	return a < b ? -1 : a > b;
}

static int cmp_key(const struct imap_sortkey *x, const struct imap_sortkey *y,
		   enum sort_key k)
{
	switch (k) {
	case S_ARRIVAL:
		return x->arrival < y->arrival ? -1 : x->arrival > y->arrival;
	case S_DATE:
		return x->date < y->date ? -1 : x->date > y->date;
	case S_SIZE:
		return cmp_num(x->size, y->size);
	case S_CC:
		return imap_collate(x->cc, y->cc);
	case S_FROM:
		return imap_collate(x->from, y->from);
	case S_TO:
		return imap_collate(x->to, y->to);
	case S_SUBJECT:
		return imap_collate(x->subject, y->subject);
	case S_DISPLAYFROM:
		return imap_collate(x->dfrom, y->dfrom);
	case S_DISPLAYTO:
		return imap_collate(x->dto, y->dto);
	}
	return 0;
}

struct sort_item {
	const struct imap_sortkey *k;
	const struct sort_spec *sp;
};

static int item_cmp(const void *a, const void *b)
{
	const struct sort_item *x = a, *y = b;
	const struct sort_spec *sp = x->sp;

	for (size_t i = 0; i < sp->n; i++) {
		int c = cmp_key(x->k, y->k, sp->key[i]);

		if (c != 0)
			return sp->reverse[i] ? -c : c;
	}
	return cmp_num(x->k->msn, y->k->msn);
}

/* Do any of the keys need the MIME record (anything but the index)? */
static int needs_mime(const struct sort_spec *sp)
{
	for (size_t i = 0; i < sp->n; i++)
		if (sp->key[i] != S_ARRIVAL && sp->key[i] != S_SIZE)
			return 1;
	return 0;
}

#define R_MIN 0x1
#define R_MAX 0x2
#define R_ALL 0x4
#define R_COUNT 0x8
#define R_SAVE 0x10

/* RETURN (...) options of ESORT; () means ALL (RFC 4731 3.1). */
static int parse_return(const struct imap_arg *a, unsigned *ret_r)
{
	static const struct {
		const char *name;
		unsigned bit;
	} opts[] = {{"MIN", R_MIN},
		    {"MAX", R_MAX},
		    {"ALL", R_ALL},
		    {"COUNT", R_COUNT},
		    {"SAVE", R_SAVE}};

	*ret_r = 0;
	if (a->type != IMAP_ARG_LIST)
		return -1;
	for (size_t i = 0; i < a->count; i++) {
		const char *o = imap_arg_string(&a->list[i]);
		size_t k;

		for (k = 0; o != NULL && k < sizeof(opts) / sizeof(*opts); k++)
			if (strcasecmp(o, opts[k].name) == 0)
				break;
		if (o == NULL || k == sizeof(opts) / sizeof(*opts))
			return -1;
		*ret_r |= opts[k].bit;
	}
	if (*ret_r == 0)
		*ret_r = R_ALL;
	return 0;
}

static uint32_t item_num(const struct sort_item *it, int uid)
{
	return uid ? it->k->uid : it->k->msn;
}

/* "* ESEARCH (TAG t) [UID] MIN a MAX b COUNT n ALL set", ALL in sort
 * order with ascending runs written as ranges. */
static void write_esort(struct imap_session *s, const struct imap_command *cmd,
			unsigned ret, const struct sort_item *it, size_t n)
{
	struct strbuf b;

	strbuf_init(&b);
	strbuf_adds(&b, "* ESEARCH (TAG ");
	imap_write_string(&b, cmd->tag, strlen(cmd->tag));
	strbuf_addc(&b, ')');
	if (cmd->uid)
		strbuf_adds(&b, " UID");
	if ((ret & R_MIN) && n > 0)
		strbuf_printf(&b, " MIN %u", item_num(&it[0], cmd->uid));
	if ((ret & R_MAX) && n > 0)
		strbuf_printf(&b, " MAX %u", item_num(&it[n - 1], cmd->uid));
	if (ret & R_COUNT)
		strbuf_printf(&b, " COUNT %zu", n);
	if ((ret & R_ALL) && n > 0) {
		strbuf_adds(&b, " ALL ");
		for (size_t i = 0, j; i < n; i = j) {
			uint32_t first = item_num(&it[i], cmd->uid);

			for (j = i + 1; j < n && item_num(&it[j], cmd->uid) ==
						     first + (j - i);
			     j++)
				;
			strbuf_printf(&b, i > 0 ? ",%u" : "%u", first);
			if (j - i > 1)
				strbuf_printf(&b, ":%u",
					      item_num(&it[j - 1], cmd->uid));
		}
	}
	strbuf_adds(&b, "\r\n");
	imap_write(s, b.data, b.len);
	strbuf_free(&b);
}

/* What SORT keeps while its criteria are searched for (imap_search.c). */
struct sort_req {
	struct sort_spec sp;
	unsigned ret;
	int esort;
};

/* The matches are in: sort them and answer. */
static void sort_done(struct imap_session *s, const struct imap_command *cmd,
		      const uint32_t *msns, size_t n, void *arg)
{
	struct sort_req *rq = arg;
	struct imap_sortkey *keys;
	struct sort_item *items;
	struct strbuf b;

	keys = imap_sortkey_load(s, msns, n, needs_mime(&rq->sp));
	items = xcalloc(n + 1, sizeof(*items));
	for (size_t i = 0; i < n; i++) {
		items[i].k = &keys[i];
		items[i].sp = &rq->sp;
	}
	qsort(items, n, sizeof(*items), item_cmp);
	if (rq->ret & R_SAVE) {
		/* SEARCHRES (RFC 5182): the set, in UID order */
		uint32_t *uids = xcalloc(n + 1, sizeof(*uids));

		for (size_t i = 0; i < n; i++)
			uids[i] = keys[i].uid;
		imap_view_save_result(s->view, uids, n);
		free(uids);
	}
	if (rq->esort) {
		write_esort(s, cmd, rq->ret, items, n);
	} else if (!(rq->ret & R_SAVE)) {
		strbuf_init(&b);
		strbuf_adds(&b, "* SORT");
		for (size_t i = 0; i < n; i++)
			strbuf_printf(&b, " %u", item_num(&items[i], cmd->uid));
		strbuf_adds(&b, "\r\n");
		imap_write(s, b.data, b.len);
		strbuf_free(&b);
	}
	free(items);
	imap_sortkey_free(&keys, n);
	imap_ok(s, NULL, "SORT completed");
}

/* SORT [RETURN (opts)] (criteria) charset search-criteria */
void imap_cmd_sort(struct imap_session *s, const struct imap_command *cmd)
{
	struct sort_req *rq = xcalloc(1, sizeof(*rq));
	size_t first = 0;
	const char *cs, *err;

	if (cmd->nargs >= 5 && imap_arg_is_atom(&cmd->args[0], "RETURN")) {
		if (parse_return(&cmd->args[1], &rq->ret) < 0) {
			free(rq);
			imap_bad(s, NULL, "Invalid RETURN options");
			return;
		}
		rq->esort = rq->ret != R_SAVE;
		first = 2;
	}
	cs = imap_arg_string(&cmd->args[first + 1]);
	if (parse_criteria(&cmd->args[first], &rq->sp) < 0) {
		free(rq);
		imap_bad(s, NULL, "Invalid sort criteria");
		return;
	}
	if (cs == NULL ||
	    (strcasecmp(cs, "UTF-8") != 0 && strcasecmp(cs, "US-ASCII") != 0)) {
		free(rq);
		imap_no(s, "BADCHARSET (UTF-8 US-ASCII)",
			"Unsupported charset");
		return;
	}
	if (imap_search_run(s, cmd, first + 2, sort_done, rq, &err) < 0) {
		free(rq);
		imap_bad(s, NULL, "%s", err);
	}
}
