/*
 * imap_viewarr.c - the message arrays the views of a mailbox share
 * (imap_viewarr.h): uid, flags and keyword mask index per message, the
 * table of distinct keyword masks, building an array from the engine's
 * records, finding an equal one to share, and applying an edit.  What a
 * session does with its array (when to copy, when to adopt another one)
 * is imap_view.c's.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "mailstore.h"
#include "strbuf.h"
#include "store/imap_viewarr.h"

/* ---- shared message arrays ------------------------------------------------ */

/* Unsorted masks added since the last sort, before the table is re-sorted. */
#define VM_MASK_TAIL 32

static int mask_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The index of mask m in a's table; UINT32_MAX when absent. */
static uint32_t mask_find(const struct vm_array *a, uint64_t m)
{
	uint32_t lo = 0, hi = a->nsorted;

	if (m == 0)
		return 0;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (a->masks[mid] == m)
			return mid;
		if (a->masks[mid] < m)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (uint32_t i = a->nsorted; i < a->nmasks; i++)
		if (a->masks[i] == m)
			return i;
	return UINT32_MAX;
}

/* Sorts the table and drops the masks no message uses (a private). */
static void mask_rebuild(struct vm_array *a)
{
	uint8_t *used = xcalloc(a->nmasks, 1);
	uint64_t *t = xcalloc(a->nmasks, sizeof(*t));
	uint32_t k = 0;

	used[0] = 1;
	for (uint32_t i = 0; i < a->n; i++)
		used[a->e[i].kw] = 1;
	for (uint32_t i = 0; i < a->nmasks; i++)
		if (used[i])
			t[k++] = a->masks[i];
	qsort(t, k, sizeof(*t), mask_cmp);
	for (uint32_t i = 0; i < a->n; i++) {
		uint64_t m = a->masks[a->e[i].kw];
		uint64_t *p = bsearch(&m, t, k, sizeof(*t), mask_cmp);

		a->e[i].kw = (uint32_t)(p - t) & VM_MASKS_MAX;
	}
	free(used);
	free(a->masks);
	a->masks = t;
	a->nmasks = a->nsorted = a->maskcap = k;
}

/* The index of mask m in a's table, added when new (a private). */
uint32_t vm_mask_index(struct vm_array *a, uint64_t m)
{
	uint32_t i = mask_find(a, m);

	if (i != UINT32_MAX)
		return i;
	if (a->nmasks - a->nsorted >= VM_MASK_TAIL || a->nmasks > VM_MASKS_MAX)
		mask_rebuild(a);
	if (a->nmasks > VM_MASKS_MAX) {
		log_warnx("event=imap_view_keyword_sets_exhausted mailbox=%u",
			  a->mb->mailbox_id);
		return 0;
	}
	if (a->nmasks == a->maskcap) {
		a->maskcap = a->maskcap * 2 + 4;
		a->masks = xrealloc(a->masks, a->maskcap * sizeof(*a->masks));
	}
	a->masks[a->nmasks] = m;
	return a->nmasks++;
}

void vm_link_front(struct vm_array *a)
{
	struct view_mbox *mb = a->mb;

	a->prev = NULL;
	a->next = mb->arrays;
	if (mb->arrays != NULL)
		mb->arrays->prev = a;
	mb->arrays = a;
}

void vm_unlink(struct vm_array *a)
{
	if (a->prev != NULL)
		a->prev->next = a->next;
	else
		a->mb->arrays = a->next;
	if (a->next != NULL)
		a->next->prev = a->prev;
	a->next = a->prev = NULL;
}

struct vm_array *vm_new(struct view_mbox *mb, const char *seen_user,
			uint32_t cap)
{
	struct vm_array *a = xcalloc(1, sizeof(*a));

	a->mb = mb;
	a->seen_user = seen_user != NULL ? xstrdup(seen_user) : NULL;
	a->refs = 1;
	a->cap = cap > 0 ? cap : 1;
	a->e = xcalloc(a->cap, sizeof(*a->e));
	vm_link_front(a);
	return a;
}

void vm_unref(struct vm_array **ap)
{
	struct vm_array *a = *ap;

	*ap = NULL;
	if (a == NULL || --a->refs > 0)
		return;
	vm_unlink(a);
	free(a->seen_user);
	free(a->e);
	free(a->masks);
	free(a);
}

int vm_same_key(const struct vm_array *a, const char *seen_user)
{
	if (a->seen_user == NULL || seen_user == NULL)
		return a->seen_user == seen_user;
	return strcasecmp(a->seen_user, seen_user) == 0;
}

/* The array from the engine's records (flags as the user sees them). */
static struct vm_array *vm_build(struct view_mbox *mb, const char *seen_user,
				 const struct mstore_msg *msgs, size_t n)
{
	struct vm_array *a = vm_new(mb, seen_user, (uint32_t)n);
	uint64_t *t = xcalloc(n + 1, sizeof(*t));
	uint32_t k = 1;

	for (size_t i = 0; i < n; i++)
		if (msgs[i].keywords != 0)
			t[k++] = msgs[i].keywords;
	qsort(t + 1, k - 1, sizeof(*t), mask_cmp);
	a->nmasks = 1;
	for (uint32_t i = 1; i < k; i++)
		if (t[i] != t[a->nmasks - 1])
			t[a->nmasks++] = t[i];
	a->masks = xrealloc(t, a->nmasks * sizeof(*t));
	a->nsorted = a->maskcap = a->nmasks;
	for (size_t i = 0; i < n; i++) {
		a->e[i].uid = msgs[i].uid;
		a->e[i].flags = msgs[i].flags & MSTORE_F_ALL;
		a->e[i].kw = mask_find(a, msgs[i].keywords) & VM_MASKS_MAX;
	}
	a->n = (uint32_t)n;
	return a;
}

static int vm_equals_records(const struct vm_array *a,
			     const struct mstore_msg *msgs, size_t n)
{
	if (a->n != n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (a->e[i].uid != msgs[i].uid ||
		    a->e[i].flags != (msgs[i].flags & MSTORE_F_ALL) ||
		    a->masks[a->e[i].kw] != msgs[i].keywords)
			return 0;
	return 1;
}

void vm_edit_push(struct vm_rec **v, size_t *n, size_t *cap,
		  const struct vm_rec *r)
{
	if (*n == *cap) {
		*cap = *cap * 2 + 8;
		*v = xrealloc(*v, *cap * sizeof(**v));
	}
	(*v)[(*n)++] = *r;
}

void vm_edit_free(struct vm_edit *ed)
{
	free(ed->upd);
	free(ed->app);
	memset(ed, 0, sizeof(*ed));
}

/* Would a with ed applied hold what c holds? */
int vm_equal_after(const struct vm_array *a, const struct vm_edit *ed,
		   const struct vm_array *c)
{
	size_t u = 0, d = 0, j = 0;

	if ((size_t)c->n != (size_t)a->n - ed->ndel + ed->napp)
		return 0;
	for (uint32_t i = 0; i < a->n; i++) {
		uint32_t msn = i + 1, fl = a->e[i].flags;
		uint64_t kw = a->masks[a->e[i].kw];

		if (u < ed->nupd && ed->upd[u].key == msn) {
			fl = ed->upd[u].flags;
			kw = ed->upd[u].kw;
			u++;
		}
		if (d < ed->ndel && ed->del[d] == msn) {
			d++;
			continue;
		}
		if (c->e[j].uid != a->e[i].uid || c->e[j].flags != fl ||
		    c->masks[c->e[j].kw] != kw)
			return 0;
		j++;
	}
	for (size_t k = 0; k < ed->napp; k++, j++)
		if (c->e[j].uid != ed->app[k].key ||
		    c->e[j].flags != (ed->app[k].flags & MSTORE_F_ALL) ||
		    c->masks[c->e[j].kw] != ed->app[k].kw)
			return 0;
	return 1;
}

void vm_apply(struct vm_array *a, const struct vm_edit *ed)
{
	uint32_t w = 0;
	size_t d = 0;

	a->synced = 0;

	for (size_t u = 0; u < ed->nupd; u++) {
		struct vm_ent *e = &a->e[ed->upd[u].key - 1];

		e->flags = ed->upd[u].flags & MSTORE_F_ALL;
		e->kw = vm_mask_index(a, ed->upd[u].kw) & VM_MASKS_MAX;
	}
	if (ed->ndel > 0) {
		for (uint32_t i = 0; i < a->n; i++) {
			if (d < ed->ndel && ed->del[d] == i + 1) {
				d++;
				continue;
			}
			a->e[w++] = a->e[i];
		}
		a->n = w;
	}
	if (a->n + ed->napp > a->cap) {
		a->cap = a->n + (uint32_t)ed->napp + a->cap / 8 + 4;
		a->e = xrealloc(a->e, a->cap * sizeof(*a->e));
	}
	for (size_t k = 0; k < ed->napp; k++) {
		struct vm_ent *e = &a->e[a->n++];

		e->uid = ed->app[k].key;
		e->flags = ed->app[k].flags & MSTORE_F_ALL;
		e->kw = vm_mask_index(a, ed->app[k].kw) & VM_MASKS_MAX;
	}
}

/* An array that is the mailbox's message list at modseq (owner's flags). */
struct vm_array *vm_synced(struct view_mbox *mb, uint64_t modseq)
{
	for (struct vm_array *c = mb->arrays; c != NULL; c = c->next)
		if (c->seen_user == NULL && c->synced == modseq && modseq != 0)
			return c;
	return NULL;
}

/* The array for a new view: a matching one of the mailbox, or new. */
struct vm_array *vm_for_view(struct view_mbox *mb, const char *seen_user,
			     const struct mstore_msg *msgs, size_t n)
{
	unsigned tried = 0;

	for (struct vm_array *c = mb->arrays;
	     c != NULL && tried < VM_CANDIDATES; c = c->next) {
		if (!vm_same_key(c, seen_user))
			continue;
		tried++;
		if (vm_equals_records(c, msgs, n)) {
			c->refs++;
			return c;
		}
	}
	return vm_build(mb, seen_user, msgs, n);
}
