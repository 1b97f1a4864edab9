/*
 * imap_thread.c - THREAD and UID THREAD (RFC 5256 section 3):
 * ORDEREDSUBJECT and REFERENCES, over the header fields cached at
 * delivery.  The algorithms take plain arrays (struct imap_thread_msg)
 * and write the thread list, so the unit tests drive them without a
 * store.  Trees live in one node array linked by index; every walk is
 * iterative, so a hostile reference chain cannot exhaust the stack.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "strbuf.h"
#include "store/imap.h"
#include "store/imap_search.h"
#include "store/imap_sort.h"

#define NONE (-1)

struct node {
	int msg; /* index in msgs[], NONE for a dummy */
	int parent, child, last, next;
	int64_t date; /* sort key; a dummy's is its first child's */
	uint32_t seq;
};

struct forest {
	const struct imap_thread_msg *msgs;
	struct node *v;
	size_t n, cap;
	int root; /* the dummy parent of the root set */
};

static int node_new(struct forest *f, int msg)
{
	struct node *x;

	if (f->n == f->cap) {
		f->cap = f->cap ? f->cap * 2 : 64;
		f->v = xrealloc(f->v, f->cap * sizeof(*f->v));
	}
	x = &f->v[f->n];
	x->msg = msg;
	x->parent = x->child = x->last = x->next = NONE;
	x->date = msg != NONE ? f->msgs[msg].date : 0;
	x->seq = msg != NONE ? f->msgs[msg].seq : 0;
	return (int)f->n++;
}

static void link_child(struct forest *f, int parent, int c)
{
	struct node *p = &f->v[parent];

	f->v[c].parent = parent;
	f->v[c].next = NONE;
	if (p->last == NONE)
		p->child = c;
	else
		f->v[p->last].next = c;
	p->last = c;
}

static void unlink_child(struct forest *f, int c)
{
	int parent = f->v[c].parent, prev = NONE;
	struct node *p;

	if (parent == NONE)
		return;
	p = &f->v[parent];
	for (int i = p->child; i != c; i = f->v[i].next)
		prev = i;
	if (prev == NONE)
		p->child = f->v[c].next;
	else
		f->v[prev].next = f->v[c].next;
	if (p->last == c)
		p->last = prev;
	f->v[c].parent = f->v[c].next = NONE;
}

/* Would making c a child of p close a loop (is p c or below c)?  A
 * childless c (the usual case) needs no walk up from p. */
static int below(const struct forest *f, int p, int c)
{
	if (f->v[c].child == NONE)
		return p == c;
	for (; p != NONE; p = f->v[p].parent)
		if (p == c)
			return 1;
	return 0;
}

/* ---- sorting siblings (RFC 5256 3, REFERENCES steps 5 and 7) ---- */

struct sort_ent {
	int64_t date;
	uint32_t seq;
	int node;
};

static int ent_cmp(const void *a, const void *b)
{
	const struct sort_ent *x = a, *y = b;

	if (x->date != y->date)
		return x->date < y->date ? -1 : 1;
	if (x->seq != y->seq)
		return x->seq < y->seq ? -1 : 1;
	return 0;
}

/* Sorts the children of x by sent date, then sequence number; a dummy x
 * takes the key of its new first child. */
static void sort_children(struct forest *f, int x, struct sort_ent **tmp,
			  size_t *tmpcap)
{
	size_t k = 0;

	for (int c = f->v[x].child; c != NONE; c = f->v[c].next) {
		if (k == *tmpcap) {
			*tmpcap = *tmpcap ? *tmpcap * 2 : 64;
			*tmp = xrealloc(*tmp, *tmpcap * sizeof(**tmp));
		}
		(*tmp)[k].date = f->v[c].date;
		(*tmp)[k].seq = f->v[c].seq;
		(*tmp)[k++].node = c;
	}
	if (k == 0)
		return;
	qsort(*tmp, k, sizeof(**tmp), ent_cmp);
	f->v[x].child = f->v[x].last = NONE;
	for (size_t i = 0; i < k; i++)
		link_child(f, x, (*tmp)[i].node);
	if (f->v[x].msg == NONE) {
		f->v[x].date = (*tmp)[0].date;
		f->v[x].seq = (*tmp)[0].seq;
	}
}

/* Nodes below root (root excluded) so that every node comes after all
 * of its descendants. */
static int *post_order(const struct forest *f, int root, size_t *n_r)
{
	int *out = xmalloc((f->n + 1) * sizeof(*out));
	int *stack = xmalloc((f->n + 1) * sizeof(*stack));
	size_t no = 0, ns = 0;

	stack[ns++] = root;
	while (ns > 0) {
		int x = stack[--ns];

		out[no++] = x;
		for (int c = f->v[x].child; c != NONE; c = f->v[c].next)
			stack[ns++] = c;
	}
	free(stack);
	/* reversed pre-order: descendants first; drop root (now last) */
	for (size_t i = 0; i < no / 2; i++) {
		int t = out[i];

		out[i] = out[no - 1 - i];
		out[no - 1 - i] = t;
	}
	*n_r = no - 1;
	return out;
}

/* ---- writing (RFC 5256 4: thread-list) ---- */

enum { W_NODE, W_OPEN, W_CLOSE };

struct witem {
	int what;
	int node;
};

/*
 * Writes the thread of top-level node t: "(" members ")", where a node
 * with one child is followed by it ("1 2"), and one with several by
 * each child's thread in parentheses ("1 (2)(3)").
 */
static void write_thread(const struct forest *f, int t, struct witem **st,
			 size_t *cap, struct strbuf *out)
{
	size_t ns = 0;
	int digit = 0;

#define PUSH(w, x)                                                             \
	do {                                                                   \
		if (ns == *cap) {                                              \
			*cap = *cap ? *cap * 2 : 64;                           \
			*st = xrealloc(*st, *cap * sizeof(**st));              \
		}                                                              \
		(*st)[ns].what = (w);                                          \
		(*st)[ns++].node = (x);                                        \
	} while (0)

	PUSH(W_CLOSE, NONE);
	PUSH(W_NODE, t);
	PUSH(W_OPEN, NONE);
	while (ns > 0) {
		struct witem it = (*st)[--ns];
		const struct node *x;
		int nch = 0;

		if (it.what == W_OPEN) {
			if (digit)
				strbuf_addc(out, ' ');
			strbuf_addc(out, '(');
			digit = 0;
			continue;
		}
		if (it.what == W_CLOSE) {
			strbuf_addc(out, ')');
			digit = 0;
			continue;
		}
		x = &f->v[it.node];
		if (x->msg != NONE) {
			strbuf_printf(out, digit ? " %u" : "%u",
				      f->msgs[x->msg].num);
			digit = 1;
		}
		for (int c = x->child; c != NONE; c = f->v[c].next)
			nch++;
		if (nch == 1) {
			PUSH(W_NODE, x->child);
			continue;
		}
		/* several children: pushed in reading order, then the
		 * pushed run is reversed so the first child pops first */
		size_t from = ns;

		for (int c = x->child; c != NONE; c = f->v[c].next) {
			PUSH(W_OPEN, NONE);
			PUSH(W_NODE, c);
			PUSH(W_CLOSE, NONE);
		}
		for (size_t i = from, j = ns - 1; i < j; i++, j--) {
			struct witem tw = (*st)[i];

			(*st)[i] = (*st)[j];
			(*st)[j] = tw;
		}
	}
#undef PUSH
}

static void write_forest(const struct forest *f, struct strbuf *out)
{
	struct witem *st = NULL;
	size_t cap = 0;

	for (int t = f->v[f->root].child; t != NONE; t = f->v[t].next)
		write_thread(f, t, &st, &cap, out);
	free(st);
}

/* ---- message ids (REFERENCES step 1) ---- */

struct span {
	const char *p;
	size_t len;
};

/*
 * The next msg-id "<...>" in s from *pos: the text between the angle
 * brackets, which must be non-empty and free of white space and "<"
 * (anything else is not a valid Message ID and is skipped).
 */
static int next_msgid(const char *s, size_t *pos, struct span *id_r)
{
	size_t i = *pos;

	while (s != NULL && s[i] != '\0') {
		size_t j;

		if (s[i] != '<') {
			i++;
			continue;
		}
		for (j = i + 1; s[j] != '\0' && s[j] != '>' && s[j] != '<' &&
				s[j] != ' ' && s[j] != '\t';
		     j++)
			;
		if (s[j] == '>' && j > i + 1) {
			id_r->p = s + i + 1;
			id_r->len = j - i - 1;
			*pos = j + 1;
			return 1;
		}
		i = j;
	}
	return 0;
}

struct id_table {
	struct span *key;
	int *node;
	size_t cap, used;
};

static uint64_t span_hash(const struct span *k)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */

	for (size_t i = 0; i < k->len; i++)
		h = (h ^ (unsigned char)k->p[i]) * 1099511628211ull;
	return h;
}

/* The slot of k: holding k, or the empty one where it would go. */
static size_t id_slot(const struct id_table *t, const struct span *k)
{
	size_t i = (size_t)span_hash(k) & (t->cap - 1);

	while (t->key[i].p != NULL && (t->key[i].len != k->len ||
				       memcmp(t->key[i].p, k->p, k->len) != 0))
		i = (i + 1) & (t->cap - 1);
	return i;
}

static void id_grow(struct id_table *t)
{
	struct id_table o = *t;

	t->cap = o.cap ? o.cap * 2 : 256;
	t->key = xcalloc(t->cap, sizeof(*t->key));
	t->node = xcalloc(t->cap, sizeof(*t->node));
	for (size_t i = 0; i < o.cap; i++)
		if (o.key[i].p != NULL) {
			size_t j = id_slot(t, &o.key[i]);

			t->key[j] = o.key[i];
			t->node[j] = o.node[i];
		}
	free(o.key);
	free(o.node);
}

/* The container of id, created as a dummy when new. */
static int id_container(struct forest *f, struct id_table *t,
			const struct span *id)
{
	size_t i;

	if ((t->used + 1) * 2 > t->cap)
		id_grow(t);
	i = id_slot(t, id);
	if (t->key[i].p == NULL) {
		t->key[i] = *id;
		t->node[i] = node_new(f, NONE);
		t->used++;
	}
	return t->node[i];
}

/* Step 1: containers and parent/child links for message m. */
static void thread_link(struct forest *f, struct id_table *t, int m)
{
	const struct imap_thread_msg *msg = &f->msgs[m];
	struct span id;
	size_t pos = 0;
	int x = NONE, prev = NONE, last = NONE;
	const char *refs = msg->references;

	/* A: a valid, not yet seen Message-ID fills its (dummy) container;
	 * a duplicate or missing one gets a container of its own */
	if (next_msgid(msg->message_id, &pos, &id)) {
		x = id_container(f, t, &id);
		if (f->v[x].msg != NONE)
			x = NONE;
	}
	if (x == NONE)
		x = node_new(f, m);
	f->v[x].msg = m;
	f->v[x].date = msg->date;
	f->v[x].seq = msg->seq;
	/* B: link the References in order (In-Reply-To's first id when
	 * References has none), never re-parenting, never looping */
	pos = 0;
	if (!next_msgid(refs, &pos, &id))
		refs = msg->in_reply_to;
	pos = 0;
	while (next_msgid(refs, &pos, &id)) {
		int c = id_container(f, t, &id);

		if (prev != NONE && f->v[c].parent == NONE &&
		    !below(f, prev, c))
			link_child(f, prev, c);
		prev = last = c;
		if (refs == msg->in_reply_to)
			break;
	}
	/* C: the last reference is the parent, replacing a link from a
	 * truncated References elsewhere; none makes x a root */
	if (last == NONE) {
		unlink_child(f, x);
	} else if (f->v[x].parent != last && !below(f, last, x)) {
		unlink_child(f, x);
		link_child(f, last, x);
	}
}

/* Step 4: drop childless dummies; splice other dummies' children into
 * their place, except at the top where only a single child moves up. */
static void prune(struct forest *f)
{
	size_t n;
	int *order = post_order(f, f->root, &n);

	for (size_t i = 0; i <= n; i++) {
		int x = i < n ? order[i] : f->root;
		int c = f->v[x].child, next;

		f->v[x].child = f->v[x].last = NONE;
		for (; c != NONE; c = next) {
			int cc, nch = 0;

			next = f->v[c].next;
			if (f->v[c].msg != NONE) {
				link_child(f, x, c);
				continue;
			}
			for (cc = f->v[c].child; cc != NONE; cc = f->v[cc].next)
				nch++;
			if (nch == 0)
				continue;
			if (x == f->root && nch > 1) {
				link_child(f, x, c);
				continue;
			}
			for (cc = f->v[c].child; cc != NONE;) {
				int nc = f->v[cc].next;

				link_child(f, x, cc);
				cc = nc;
			}
		}
	}
	free(order);
}

/* ---- subjects (REFERENCES step 6) ---- */

static uint64_t subject_hash(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c >= 'a' && c <= 'z')
			c = (unsigned char)(c - 'a' + 'A');
		h = (h ^ c) * 1099511628211ull;
	}
	return h;
}

/* The message giving a top-level node's thread subject: itself, or a
 * dummy's first child. */
static const struct imap_thread_msg *subject_msg(const struct forest *f, int x)
{
	if (f->v[x].msg == NONE)
		x = f->v[x].child;
	return x != NONE && f->v[x].msg != NONE ? &f->msgs[f->v[x].msg] : NULL;
}

static void merge_subjects(struct forest *f)
{
	size_t nroots = 0, cap = 1;
	int *roots, *table;

	for (int x = f->v[f->root].child; x != NONE; x = f->v[x].next)
		nroots++;
	while (cap < nroots * 2 + 2)
		cap *= 2;
	roots = xmalloc((nroots + 1) * sizeof(*roots));
	table = xmalloc(cap * sizeof(*table)); /* index into roots[] */
	for (size_t i = 0; i < cap; i++)
		table[i] = NONE;
	nroots = 0;
	for (int x = f->v[f->root].child; x != NONE; x = f->v[x].next)
		roots[nroots++] = x;

	/* B: one entry per subject, preferring a dummy, then a non-reply */
	for (size_t r = 0; r < nroots; r++) {
		const struct imap_thread_msg *m = subject_msg(f, roots[r]);
		size_t h;

		if (m == NULL || m->subject == NULL || m->subject[0] == '\0')
			continue;
		h = (size_t)subject_hash(m->subject) & (cap - 1);
		while (table[h] != NONE &&
		       imap_collate(subject_msg(f, roots[table[h]])->subject,
				    m->subject) != 0)
			h = (h + 1) & (cap - 1);
		if (table[h] == NONE) {
			table[h] = (int)r;
		} else {
			int old = roots[table[h]];

			if (f->v[old].msg != NONE &&
			    (f->v[roots[r]].msg == NONE ||
			     (f->msgs[f->v[old].msg].is_reply && !m->is_reply)))
				table[h] = (int)r;
		}
	}
	/* C: merge every other thread with the same subject into it */
	for (size_t r = 0; r < nroots; r++) {
		const struct imap_thread_msg *m = subject_msg(f, roots[r]);
		int x = roots[r], y;
		size_t h;

		if (m == NULL || m->subject == NULL || m->subject[0] == '\0')
			continue;
		h = (size_t)subject_hash(m->subject) & (cap - 1);
		while (imap_collate(subject_msg(f, roots[table[h]])->subject,
				    m->subject) != 0)
			h = (h + 1) & (cap - 1);
		if ((size_t)table[h] == r)
			continue;
		y = roots[table[h]];
		unlink_child(f, x);
		if (f->v[x].msg == NONE && f->v[y].msg == NONE) {
			for (int c = f->v[x].child; c != NONE;) {
				int nc = f->v[c].next;

				link_child(f, y, c);
				c = nc;
			}
		} else if (f->v[y].msg == NONE ||
			   (m->is_reply && !f->msgs[f->v[y].msg].is_reply)) {
			link_child(f, y, x);
		} else {
			int d = node_new(f, NONE);

			/* the new dummy takes y's place: same roots[] slot,
			 * so later lookups of this subject find it */
			unlink_child(f, y);
			link_child(f, f->root, d);
			link_child(f, d, y);
			link_child(f, d, x);
			roots[table[h]] = d;
		}
	}
	free(roots);
	free(table);
}

/* ---- the algorithms ---- */

void imap_thread_references(const struct imap_thread_msg *msgs, size_t n,
			    struct strbuf *out)
{
	struct forest f = {.msgs = msgs};
	struct id_table t = {0};
	struct sort_ent *tmp = NULL;
	size_t tmpcap = 0, no;
	int *order;

	f.root = node_new(&f, NONE);
	/* 1: links; messages in sequence order, so the first of several
	 * with one Message-ID keeps it */
	for (size_t i = 0; i < n; i++)
		thread_link(&f, &t, (int)i);
	/* 2, 3: the root set; the id table goes */
	for (size_t i = 0; i < f.n; i++)
		if ((int)i != f.root && f.v[i].parent == NONE)
			link_child(&f, f.root, (int)i);
	free(t.key);
	free(t.node);
	/* 4 */
	prune(&f);
	/* 5: the top level by sent date (a dummy by its first child) */
	for (int x = f.v[f.root].child; x != NONE; x = f.v[x].next)
		if (f.v[x].msg == NONE)
			sort_children(&f, x, &tmp, &tmpcap);
	sort_children(&f, f.root, &tmp, &tmpcap);
	/* 6 */
	merge_subjects(&f);
	/* 7: every sibling list, grandchildren before children */
	order = post_order(&f, f.root, &no);
	for (size_t i = 0; i < no; i++)
		sort_children(&f, order[i], &tmp, &tmpcap);
	sort_children(&f, f.root, &tmp, &tmpcap);
	free(order);
	free(tmp);
	/* 8 */
	write_forest(&f, out);
	free(f.v);
}

static int ordsub_cmp(const void *a, const void *b)
{
	const struct imap_thread_msg *x =
	    *(const struct imap_thread_msg *const *)a;
	const struct imap_thread_msg *y =
	    *(const struct imap_thread_msg *const *)b;
	int c = imap_collate(x->subject ? x->subject : "",
			     y->subject ? y->subject : "");

	if (c != 0)
		return c;
	if (x->date != y->date)
		return x->date < y->date ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/*
 * ORDEREDSUBJECT (RFC 5256 3): sort by base subject then sent date; each
 * run of one subject is a thread whose first message is the parent of
 * all the others; threads go by their first message's sent date.
 */
void imap_thread_orderedsubject(const struct imap_thread_msg *msgs, size_t n,
				struct strbuf *out)
{
	const struct imap_thread_msg **v;
	struct forest f = {.msgs = msgs};
	struct sort_ent *tmp = NULL;
	size_t tmpcap = 0;
	int top = NONE;

	if (n == 0)
		return;
	v = xmalloc(n * sizeof(*v));
	for (size_t i = 0; i < n; i++)
		v[i] = &msgs[i];
	qsort(v, n, sizeof(*v), ordsub_cmp);
	f.root = node_new(&f, NONE);
	for (size_t i = 0; i < n; i++) {
		int x = node_new(&f, (int)(v[i] - msgs));

		if (i > 0 &&
		    imap_collate(v[i - 1]->subject ? v[i - 1]->subject : "",
				 v[i]->subject ? v[i]->subject : "") == 0)
			link_child(&f, top, x);
		else
			link_child(&f, f.root, top = x);
	}
	free(v);
	sort_children(&f, f.root, &tmp, &tmpcap);
	free(tmp);
	write_forest(&f, out);
	free(f.v);
}

/* ---- the command ---- */

/* The matches are in: thread them and answer.  ARG: REFERENCES? */
static void thread_done(struct imap_session *s,
			const struct imap_command *cmd, const uint32_t *msns,
			size_t n, void *arg)
{
	int refs = *(int *)arg;
	struct imap_sortkey *keys;
	struct imap_thread_msg *tm;
	struct strbuf b;

	keys = imap_sortkey_load(s, msns, n, 1);
	tm = xcalloc(n + 1, sizeof(*tm));
	for (size_t i = 0; i < n; i++) {
		tm[i].num = cmd->uid ? keys[i].uid : keys[i].msn;
		tm[i].seq = keys[i].msn;
		tm[i].date = keys[i].date;
		tm[i].subject = keys[i].subject;
		tm[i].is_reply = keys[i].is_reply;
		tm[i].message_id = keys[i].message_id;
		tm[i].in_reply_to = keys[i].in_reply_to;
		tm[i].references = keys[i].references;
	}
	strbuf_init(&b);
	strbuf_adds(&b, "* THREAD ");
	if (refs)
		imap_thread_references(tm, n, &b);
	else
		imap_thread_orderedsubject(tm, n, &b);
	/* "* THREAD" alone when nothing matched */
	if (n == 0)
		strbuf_truncate(&b, b.len - 1);
	strbuf_adds(&b, "\r\n");
	imap_write(s, b.data, b.len);
	strbuf_free(&b);
	free(tm);
	imap_sortkey_free(&keys, n);
	imap_ok(s, NULL, "THREAD completed");
}

/* THREAD algorithm charset search-criteria (RFC 5256 3) */
void imap_cmd_thread(struct imap_session *s, const struct imap_command *cmd)
{
	const char *alg = imap_arg_string(&cmd->args[0]);
	const char *cs = imap_arg_string(&cmd->args[1]), *err;
	int *refs;

	if (alg == NULL || cmd->args[0].type != IMAP_ARG_ATOM ||
	    (strcasecmp(alg, "REFERENCES") != 0 &&
	     strcasecmp(alg, "ORDEREDSUBJECT") != 0)) {
		imap_bad(s, NULL, "Unknown threading algorithm");
		return;
	}
	if (cs == NULL ||
	    (strcasecmp(cs, "UTF-8") != 0 && strcasecmp(cs, "US-ASCII") != 0)) {
		imap_no(s, "BADCHARSET (UTF-8 US-ASCII)",
			"Unsupported charset");
		return;
	}
	refs = xcalloc(1, sizeof(*refs));
	*refs = strcasecmp(alg, "REFERENCES") == 0;
	if (imap_search_run(s, cmd, 2, thread_done, refs, &err) < 0) {
		free(refs);
		imap_bad(s, NULL, "%s", err);
	}
}
