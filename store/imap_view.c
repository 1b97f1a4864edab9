/*
 * imap_view.c - the selected mailbox as one session sees it: the
 * msn -> uid array with each message's flags and keywords, the session's
 * \Recent set, the expunges not yet announced, the SEARCHRES result.
 *
 * The view changes only at moments RFC 3501 7.4.1 / RFC 9051 7.5.1 allow.
 * The engine's change hook (one per process, registered at the first
 * connection) only marks the views of the changed mailbox dirty; the
 * session applies the changes in imap_view_sync(), called before a tagged
 * reply as the command table allows, or at once (through a zero timer
 * that coalesces the rows of one commit) while the session is in IDLE:
 * no polling.  Expunges by others are remembered (the message stays,
 * listed in the session's "gone" uids) until a command that may announce
 * them.
 *
 * Memory (tens of thousands of idle sessions, docs/imap.md).  What every
 * session of a mailbox has in common is kept once:
 *   - the message array (struct vm_array, imap_viewarr.c): uid, flags
 *     and an index into a per-array table of the distinct keyword masks,
 *     8 bytes a message.  Sessions that agree on it point to the same
 *     array (refcounted).  It is immutable while shared: a session that
 *     must change it (its own STORE, a refresh, an expunge it announces)
 *     first checks whether a recent array of the mailbox already holds
 *     the result and adopts it, else copies (copy-on-write) and becomes
 *     the array the next session finds.  Arrays are per (mailbox, user)
 *     when \Seen is kept per user.
 *   - the keyword names (append-only in the engine, so the strings stay).
 * Per session remain: \Recent as uid ranges (new mail arrives at the
 * end, so one or two ranges), the uids expunged elsewhere and not yet
 * announced, and the SEARCHRES result.  The modseq is not kept at all:
 * commands read it from the engine's records.  An array known to be the
 * mailbox as it is at a HIGHESTMODSEQ (every change applied, every
 * expunge announced) is taken as it is by a SELECT at that modseq, so a
 * burst of logins to one INBOX lists it once.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "mailstore.h"
#include "net.h"
#include "strbuf.h"
#include "store/imap.h"
#include "store/imap_acl.h"
#include "store/imap_viewarr.h"
#include "store/store.h"

/* ---- views and their mailboxes -------------------------------------------- */

struct imap_view {
	struct imap_session *s;
	struct imap_view *next; /* the mailbox's views */
	struct view_mbox *mb;
	struct vm_array *a;
	char *name;
	int readonly;
	uint32_t uidvalidity, uidnext;
	uint64_t highestmodseq; /* changes up to here are applied */
	size_t nkeywords;	/* names of mb->kw this session announced */
	struct imap_range *recent; /* \Recent uids, ascending ranges */
	uint32_t nrecent, caprecent;
	uint32_t *gone; /* expunged elsewhere, not announced; ascending */
	uint32_t ngone, capgone;
	uint32_t *saved; /* SEARCHRES */
	size_t nsaved;
	int dirty;
	int idle;
	struct net_timer *idle_timer;
	/* ACL (imap_acl.h): rights at open; \Seen kept per user for a
	 * mailbox of another user (in the flags of a per-user array) */
	uint32_t rights;
	int private_seen;
	int seen_dirty;
};

#define MBOX_BUCKETS 1024
static struct view_mbox *mboxes[MBOX_BUCKETS];
static struct mstore *hooked;

static struct view_mbox *mbox_get(uint32_t mailbox_id, int create)
{
	struct view_mbox **head = &mboxes[mailbox_id % MBOX_BUCKETS], *m;

	for (m = *head; m != NULL; m = m->next)
		if (m->mailbox_id == mailbox_id)
			return m;
	if (!create)
		return NULL;
	m = xcalloc(1, sizeof(*m));
	m->mailbox_id = mailbox_id;
	m->next = *head;
	*head = m;
	return m;
}

/* ---- a view's shared array (imap_viewarr.c) ------------------------------- */

/* Makes v's array private (copy-on-write) and the mailbox's newest. */
static void view_own(struct imap_view *v)
{
	struct vm_array *a = v->a, *c;

	if (a->refs == 1) {
		if (a->prev != NULL) {
			vm_unlink(a);
			vm_link_front(a);
		}
		return;
	}
	c = vm_new(a->mb, a->seen_user, a->n);
	memcpy(c->e, a->e, a->n * sizeof(*a->e));
	c->n = a->n;
	c->masks = xcalloc(a->nmasks, sizeof(*c->masks));
	memcpy(c->masks, a->masks, a->nmasks * sizeof(*a->masks));
	c->nmasks = c->maskcap = a->nmasks;
	c->nsorted = a->nsorted;
	a->refs--;
	v->a = c;
}

/*
 * Applies ed to v's array: adopts an array of the mailbox that already
 * holds the result (another session got there first), else copies when
 * shared and changes the copy.
 */
static void view_apply(struct imap_view *v, const struct vm_edit *ed)
{
	unsigned tried = 0;

	if (ed->nupd == 0 && ed->napp == 0 && ed->ndel == 0)
		return;
	for (struct vm_array *c = v->mb->arrays;
	     c != NULL && tried < VM_CANDIDATES; c = c->next) {
		if (c == v->a || !vm_same_key(c, v->a->seen_user))
			continue;
		tried++;
		if (vm_equal_after(v->a, ed, c)) {
			c->refs++;
			vm_unref(&v->a);
			v->a = c;
			return;
		}
	}
	view_own(v);
	vm_apply(v->a, ed);
}

/* ---- per-session sets ----------------------------------------------------- */

/* Number of messages of the view with a uid below uid. */
static uint32_t msn_lower(const struct imap_view *v, uint32_t uid)
{
	uint32_t lo = 0, hi = v->a->n;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (v->a->e[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int recent_has(const struct imap_view *v, uint32_t uid)
{
	uint32_t lo = 0, hi = v->nrecent;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (uid < v->recent[mid].lo)
			hi = mid;
		else if (uid > v->recent[mid].hi)
			lo = mid + 1;
		else
			return 1;
	}
	return 0;
}

/* Adds uid, the view's new last message (prev: the last uid before). */
static void recent_add(struct imap_view *v, uint32_t uid, uint32_t prev)
{
	if (v->nrecent > 0 && v->recent[v->nrecent - 1].hi == prev &&
	    prev != 0) {
		v->recent[v->nrecent - 1].hi = uid;
		return;
	}
	if (v->nrecent == v->caprecent) {
		v->caprecent = v->caprecent * 2 + 1;
		v->recent = xrealloc(v->recent,
				     v->caprecent * sizeof(*v->recent));
	}
	v->recent[v->nrecent].lo = v->recent[v->nrecent].hi = uid;
	v->nrecent++;
}

static int gone_has(const struct imap_view *v, uint32_t uid)
{
	uint32_t lo = 0, hi = v->ngone;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (v->gone[mid] == uid)
			return 1;
		if (v->gone[mid] < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

static void gone_add(struct imap_view *v, uint32_t uid)
{
	uint32_t at = v->ngone;

	if (gone_has(v, uid))
		return;
	if (v->ngone == v->capgone) {
		v->capgone = v->capgone * 2 + 4;
		v->gone = xrealloc(v->gone, v->capgone * sizeof(*v->gone));
	}
	while (at > 0 && v->gone[at - 1] > uid)
		at--;
	memmove(v->gone + at + 1, v->gone + at,
		(v->ngone - at) * sizeof(*v->gone));
	v->gone[at] = uid;
	v->ngone++;
}

/* \Recent messages of the view (with expunged ones when all). */
static uint32_t recent_count(const struct imap_view *v, int all)
{
	uint32_t n = 0;

	for (uint32_t r = 0; r < v->nrecent; r++) {
		uint32_t i = msn_lower(v, v->recent[r].lo);

		for (; i < v->a->n && v->a->e[i].uid <= v->recent[r].hi; i++)
			n += all || !gone_has(v, v->a->e[i].uid);
	}
	return n;
}

/* ---- the change hook ------------------------------------------------------ */

static void idle_fire(void *arg)
{
	struct imap_session *s = arg;

	if (s->view != NULL && s->view->idle)
		imap_view_sync(s, 1);
}

static void view_wake(struct imap_view *v)
{
	v->dirty = 1;
	if (v->idle && v->idle_timer != NULL)
		net_timer_start(v->idle_timer, 0, 0);
}

static void change_hook(void *arg, const struct mstore_change *ch)
{
	struct view_mbox *mb = mbox_get(ch->mailbox_id, 0);

	(void)arg;
	if (mb == NULL)
		return;
	if (ch->kind == MSTORE_CH_SEEN) {
		/* another session of the same user changed its \Seen set */
		for (struct imap_view *v = mb->views; v != NULL; v = v->next)
			if (v->private_seen &&
			    strcasecmp(v->s->user, ch->user) == 0) {
				v->seen_dirty = 1;
				view_wake(v);
			}
		return;
	}
	if (ch->kind != MSTORE_CH_APPEND && ch->kind != MSTORE_CH_FLAGS &&
	    ch->kind != MSTORE_CH_EXPUNGE && ch->kind != MSTORE_CH_MBOX_DELETE)
		return;
	for (struct imap_view *v = mb->views; v != NULL; v = v->next)
		view_wake(v);
}

void imap_view_hook_init(struct store *st)
{
	if (st->ms == NULL || hooked == st->ms)
		return;
	if (mstore_set_change_hook(st->ms, change_hook, NULL) < 0)
		log_warnx("event=imap_hook_failed");
	else
		hooked = st->ms;
}

/* ---- per-user \Seen (imap_acl.h) ----------------------------------------- */

static void send_fetch_flags(struct imap_session *s, uint32_t msn,
			     uint64_t modseq);

uint32_t imap_view_user_flags(const struct imap_view *v, uint32_t uid,
			      uint32_t flags)
{
	uint32_t msn;

	if (v == NULL || !v->private_seen)
		return flags;
	msn = imap_view_msn(v, uid);
	return msn != 0 && (v->a->e[msn - 1].flags & MSTORE_F_SEEN)
		   ? flags | MSTORE_F_SEEN
		   : flags & ~(uint32_t)MSTORE_F_SEEN;
}

uint32_t imap_view_rights(const struct imap_view *v)
{
	return v != NULL ? v->rights : 0;
}

int imap_view_private_seen(const struct imap_view *v)
{
	return v != NULL && v->private_seen;
}

/* The user's stored \Seen set of the mailbox; -1 when unreadable. */
static int seen_set_read(struct imap_session *s, uint32_t mailbox_id,
			 struct imap_seqset *set)
{
	const char *err;
	char *str = NULL;

	memset(set, 0, sizeof(*set));
	if (mstore_seen_get(s->st->ms, s->user, mailbox_id, &str) !=
	    MSTORE_OK) {
		free(str);
		return -1;
	}
	if (*str != '\0' && imap_seqset_parse(str, set, &err) < 0)
		memset(set, 0, sizeof(*set));
	free(str);
	return 0;
}

/* The modseq of a message for a FETCH FLAGS we send unasked. */
static uint64_t msg_modseq(struct imap_session *s, uint32_t uid)
{
	struct mstore_msg rec;

	if (!(s->enabled & IMAP_EN_CONDSTORE) ||
	    mstore_msg_get(s->st->ms, s->view->mb->mailbox_id, uid, &rec) !=
		MSTORE_OK)
		return 0;
	return rec.modseq;
}

/* Another session of this user changed the set: FETCH FLAGS where it
 * differs. */
static void view_seen_reload(struct imap_session *s)
{
	struct imap_view *v = s->view;
	struct imap_seqset set;
	struct vm_edit ed;

	v->seen_dirty = 0;
	if (seen_set_read(s, v->mb->mailbox_id, &set) < 0)
		return;
	memset(&ed, 0, sizeof(ed));
	for (uint32_t i = 0; i < v->a->n; i++) {
		const struct vm_ent *e = &v->a->e[i];
		int want = set.n > 0 &&
			   imap_seqset_contains(&set, e->uid, UINT32_MAX);
		struct vm_rec r;

		if (want == !!(e->flags & MSTORE_F_SEEN) || gone_has(v, e->uid))
			continue;
		r.key = i + 1;
		r.flags = e->flags ^ MSTORE_F_SEEN;
		r.kw = v->a->masks[e->kw];
		r.modseq = 0;
		vm_edit_push(&ed.upd, &ed.nupd, &ed.capupd, &r);
	}
	imap_seqset_free(&set);
	view_apply(v, &ed);
	for (size_t i = 0; i < ed.nupd; i++)
		send_fetch_flags(s, ed.upd[i].key,
				 msg_modseq(s, imap_view_uid(v, ed.upd[i].key)));
	vm_edit_free(&ed);
}

static int uid_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

int imap_view_seen_store(struct imap_session *s, const uint32_t *uids,
			 size_t n, int add)
{
	struct imap_view *v = s->view;
	uint32_t *out, *named;
	size_t k = 0;
	struct strbuf b;
	int e;

	if (v == NULL || !v->private_seen)
		return MSTORE_E_INVAL;
	named = xcalloc(n + 1, sizeof(*named));
	if (n > 0)
		memcpy(named, uids, n * sizeof(*uids));
	qsort(named, n, sizeof(*named), uid_cmp);
	/* the new set: the view's messages (ascending), seen or not as asked */
	out = xcalloc(v->a->n + 1, sizeof(*out));
	for (uint32_t i = 0; i < v->a->n; i++) {
		uint32_t uid = v->a->e[i].uid;

		if (bsearch(&uid, named, n, sizeof(*named), uid_cmp) != NULL
			? add
			: (v->a->e[i].flags & MSTORE_F_SEEN) != 0)
			out[k++] = uid;
	}
	free(named);
	strbuf_init(&b);
	if (k > 0)
		imap_seqset_write(&b, out, k);
	e = mstore_seen_set(s->st->ms, s->user, v->mb->mailbox_id,
			    b.data != NULL ? b.data : "");
	strbuf_free(&b);
	if (e == MSTORE_OK) {
		size_t j = 0;

		for (uint32_t i = 0; i < v->a->n; i++) {
			const struct vm_ent *m = &v->a->e[i];
			int want = j < k && out[j] == m->uid;

			j += want;
			if (want != !!(m->flags & MSTORE_F_SEEN))
				imap_view_set_flags(s, i + 1,
						    m->flags ^ MSTORE_F_SEEN,
						    v->a->masks[m->kw]);
		}
	}
	free(out);
	return e;
}

/* ---- open / close -------------------------------------------------------- */

/* Takes the engine's keyword names (kw, n; freed here).  Names only
 * grow, bit i keeps its name: the strings handed out stay valid. */
static void mbox_keywords(struct view_mbox *mb, char **kw, size_t n)
{
	char **all;

	if (n <= mb->nkw) {
		mstore_strv_free(&kw, n);
		return;
	}
	all = xcalloc(n + 1, sizeof(*all));
	for (size_t i = 0; i < n; i++) {
		if (i < mb->nkw) {
			all[i] = mb->kw[i];
			free(kw[i]);
		} else {
			all[i] = kw[i];
		}
	}
	free(kw);
	free(mb->kw);
	mb->kw = all;
	mb->nkw = n;
}

static void mbox_keywords_read(struct imap_session *s, struct view_mbox *mb)
{
	char **kw = NULL;
	size_t n = 0;

	if (mstore_keywords(s->st->ms, mb->mailbox_id, &kw, &n) == MSTORE_OK)
		mbox_keywords(mb, kw, n);
}

/*
 * The message array of a view of mailbox mb: the one another session holds
 * when it is known to be the mailbox as it is now (no listing at all: the
 * common case when many sessions select the same INBOX), else from the
 * engine's list (with this user's \Seen when private), shared when equal
 * to an array of the mailbox.
 */
static int view_load(struct imap_session *s, struct imap_view *v,
		     const struct mstore_mailbox *mb)
{
	struct mstore_msg *msgs = NULL;
	size_t n = 0;
	int e;

	if (!v->private_seen &&
	    (v->a = vm_synced(v->mb, mb->highestmodseq)) != NULL) {
		v->a->refs++;
		return MSTORE_OK;
	}
	e = mstore_msg_list(s->st->ms, mb->id, &msgs, &n);
	if (e != MSTORE_OK)
		return e;
	if (v->private_seen) {
		struct imap_seqset set;

		/* \Seen of another user's mailbox is this user's own */
		if (seen_set_read(s, mb->id, &set) < 0)
			memset(&set, 0, sizeof(set));
		for (size_t i = 0; i < n; i++)
			if (set.n > 0 &&
			    imap_seqset_contains(&set, msgs[i].uid, UINT32_MAX))
				msgs[i].flags |= MSTORE_F_SEEN;
			else
				msgs[i].flags &= ~(uint32_t)MSTORE_F_SEEN;
		imap_seqset_free(&set);
	}
	v->a = vm_for_view(v->mb, v->private_seen ? s->user : NULL, msgs, n);
	if (!v->private_seen)
		v->a->synced = mb->highestmodseq;
	free(msgs);
	return MSTORE_OK;
}

int imap_view_open(struct imap_session *s, const char *name, int readonly)
{
	struct mstore_mailbox mb;
	struct view_mbox *vmb;
	struct imap_view *v;
	uint32_t rights, n;
	int e;

	imap_view_close(s);
	e = imap_acl_mailbox(s, name, "r", &mb, &rights);
	if (e != MSTORE_OK)
		return e;
	/* RFC 4314 4: without a right to change anything, read-only */
	if (!(rights & (imap_right('s') | imap_right('w') | imap_right('t') |
			imap_right('e'))))
		readonly = 1;
	v = xcalloc(1, sizeof(*v));
	v->s = s;
	v->rights = rights;
	v->private_seen = strcasecmp(mb.owner, s->user) != 0;
	vmb = mbox_get(mb.id, 1);
	v->mb = vmb;
	e = view_load(s, v, &mb);
	if (e != MSTORE_OK) {
		free(v);
		mstore_mailbox_clear(&mb);
		return e;
	}
	n = v->a->n;
	v->name = xstrdup(v->private_seen ? name : mb.name);
	v->readonly = readonly;
	v->uidvalidity = mb.uidvalidity;
	v->uidnext = mb.uidnext;
	v->highestmodseq = mb.highestmodseq;
	/* the messages no session has seen yet are \Recent here; they are
	 * the last ones (uids ascend) */
	if (!readonly && n > 0 && v->a->e[n - 1].uid >= vmb->next_uid) {
		v->recent = xcalloc(1, sizeof(*v->recent));
		v->caprecent = v->nrecent = 1;
		v->recent[0].lo = v->a->e[msn_lower(v, vmb->next_uid)].uid;
		v->recent[0].hi = v->a->e[n - 1].uid;
	}
	if (!readonly && mb.uidnext > vmb->next_uid)
		vmb->next_uid = mb.uidnext;
	mstore_mailbox_clear(&mb);
	mbox_keywords_read(s, vmb);
	v->nkeywords = vmb->nkw;
	v->idle_timer = net_timer_new(conn_net(s->c), idle_fire, s);
	v->next = vmb->views;
	vmb->views = v;
	s->view = v;
	return MSTORE_OK;
}

void imap_view_close(struct imap_session *s)
{
	struct imap_view *v = s->view, **pp;
	struct view_mbox *mb;

	if (v == NULL)
		return;
	mb = v->mb;
	for (pp = &mb->views; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == v) {
			*pp = v->next;
			break;
		}
	}
	net_timer_free(&v->idle_timer);
	vm_unref(&v->a);
	/* the names are read again by the next view; the \Recent mark stays */
	if (mb->views == NULL) {
		mstore_strv_free(&mb->kw, mb->nkw);
		mb->nkw = 0;
	}
	free(v->recent);
	free(v->gone);
	free(v->saved);
	free(v->name);
	free(v);
	s->view = NULL;
}

void imap_view_info(const struct imap_view *v, struct imap_view_info *i_r)
{
	memset(i_r, 0, sizeof(*i_r));
	i_r->mailbox_id = v->mb->mailbox_id;
	i_r->name = v->name;
	i_r->readonly = v->readonly;
	i_r->uidvalidity = v->uidvalidity;
	i_r->uidnext = v->uidnext;
	i_r->highestmodseq = v->highestmodseq;
	i_r->recent = recent_count(v, 1);
	for (uint32_t i = 0; i < v->a->n; i++) {
		if (!(v->a->e[i].flags & MSTORE_F_SEEN)) {
			i_r->first_unseen = i + 1;
			break;
		}
	}
}

/* ---- lookups ------------------------------------------------------------- */

uint32_t imap_view_count(const struct imap_view *v)
{
	return v != NULL ? v->a->n : 0;
}

int imap_view_get(const struct imap_view *v, uint32_t msn,
		  struct imap_view_msg *m_r)
{
	const struct vm_ent *e;

	memset(m_r, 0, sizeof(*m_r));
	if (v == NULL || msn == 0 || msn > v->a->n)
		return -1;
	e = &v->a->e[msn - 1];
	m_r->uid = e->uid;
	m_r->flags = e->flags;
	m_r->keywords = v->a->masks[e->kw];
	m_r->recent = v->nrecent > 0 && recent_has(v, e->uid);
	m_r->expunged = v->ngone > 0 && gone_has(v, e->uid);
	return 0;
}

uint32_t imap_view_uid(const struct imap_view *v, uint32_t msn)
{
	if (v == NULL || msn == 0 || msn > v->a->n)
		return 0;
	return v->a->e[msn - 1].uid;
}

void imap_view_set_flags(struct imap_session *s, uint32_t msn, uint32_t flags,
			 uint64_t keywords)
{
	struct imap_view *v = s->view;
	struct vm_ent *e;

	if (v == NULL || msn == 0 || msn > v->a->n)
		return;
	e = &v->a->e[msn - 1];
	if (e->flags == (flags & MSTORE_F_ALL) &&
	    v->a->masks[e->kw] == keywords)
		return;
	view_own(v);
	v->a->synced = 0;
	e = &v->a->e[msn - 1];
	e->flags = flags & MSTORE_F_ALL;
	e->kw = vm_mask_index(v->a, keywords) & VM_MASKS_MAX;
}

uint32_t imap_view_msn(const struct imap_view *v, uint32_t uid)
{
	uint32_t i = msn_lower(v, uid);

	return i < v->a->n && v->a->e[i].uid == uid ? i + 1 : 0;
}

static int range_cmp(const void *a, const void *b)
{
	const struct imap_range *x = a, *y = b;

	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

int imap_view_resolve(struct imap_session *s, const struct imap_seqset *set,
		      int uid, uint32_t **msns_r, size_t *n_r)
{
	struct imap_view *v = s->view;
	struct imap_range *r;
	uint32_t star, *out, n;
	size_t nr, k = 0, j = 0;

	*msns_r = NULL;
	*n_r = 0;
	if (v == NULL)
		return -1;
	n = v->a->n;
	if (set->saved) {
		out = xcalloc(v->nsaved + 1, sizeof(*out));
		for (size_t i = 0; i < v->nsaved; i++) {
			uint32_t msn = imap_view_msn(v, v->saved[i]);

			if (msn != 0)
				out[k++] = msn;
		}
		*msns_r = out;
		*n_r = k;
		return 0;
	}
	star = uid ? (n > 0 ? v->a->e[n - 1].uid : 0) : n;
	nr = set->n;
	r = xcalloc(nr + 1, sizeof(*r));
	for (size_t i = 0; i < nr; i++) {
		uint32_t lo = set->r[i].lo, hi = set->r[i].hi;

		if (lo == IMAP_SEQ_STAR)
			lo = star;
		if (hi == IMAP_SEQ_STAR)
			hi = star;
		if (lo > hi) {
			uint32_t t = lo;

			lo = hi;
			hi = t;
		}
		if (!uid && (hi > n || lo == 0)) {
			free(r);
			return -1;
		}
		r[i].lo = lo;
		r[i].hi = hi;
	}
	qsort(r, nr, sizeof(*r), range_cmp);
	out = xcalloc(n + 1, sizeof(*out));
	for (uint32_t i = 0; i < n; i++) {
		uint32_t key = uid ? v->a->e[i].uid : i + 1;

		while (j < nr && r[j].hi < key)
			j++;
		if (j == nr)
			break;
		/* ranges sorted by lo; check every range that starts <= key */
		for (size_t q = j; q < nr && r[q].lo <= key; q++) {
			if (key <= r[q].hi) {
				out[k++] = i + 1;
				break;
			}
		}
	}
	free(r);
	*msns_r = out;
	*n_r = k;
	return 0;
}

void imap_view_save_result(struct imap_view *v, const uint32_t *uids, size_t n)
{
	free(v->saved);
	v->saved = n > 0 ? xcalloc(n, sizeof(*uids)) : NULL;
	if (n > 0)
		memcpy(v->saved, uids, n * sizeof(*uids));
	v->nsaved = n;
}

/* ---- flags --------------------------------------------------------------- */

const char *imap_view_keyword(const struct imap_view *v, unsigned bit)
{
	return bit < v->nkeywords ? v->mb->kw[bit] : NULL;
}

unsigned imap_view_nkeywords(const struct imap_view *v)
{
	return (unsigned)v->nkeywords;
}

static const struct {
	uint32_t bit;
	const char *name;
	char right; /* RFC 4314 4: who may change it */
} sysflags[] = {
    {MSTORE_F_ANSWERED, "\\Answered", 'w'},
    {MSTORE_F_FLAGGED, "\\Flagged", 'w'},
    {MSTORE_F_DELETED, "\\Deleted", 't'},
    {MSTORE_F_SEEN, "\\Seen", 's'},
    {MSTORE_F_DRAFT, "\\Draft", 'w'},
};
#define NSYSFLAGS (sizeof(sysflags) / sizeof(*sysflags))

static void add_item(struct strbuf *out, int *first, const char *name)
{
	if (!*first)
		strbuf_addc(out, ' ');
	strbuf_adds(out, name);
	*first = 0;
}

void imap_view_write_flags(const struct imap_view *v,
			   const struct imap_view_msg *m, struct strbuf *out)
{
	int first = 1;

	strbuf_addc(out, '(');
	for (size_t i = 0; i < NSYSFLAGS; i++)
		if (m->flags & sysflags[i].bit)
			add_item(out, &first, sysflags[i].name);
	for (unsigned b = 0; b < 64 && b < v->nkeywords; b++)
		if (m->keywords & (1ull << b))
			add_item(out, &first, v->mb->kw[b]);
	if (m->recent && !(v->s->enabled & IMAP_EN_IMAP4REV2))
		add_item(out, &first, "\\Recent");
	strbuf_addc(out, ')');
}

void imap_view_write_flag_list(const struct imap_view *v, int permanent,
			       struct strbuf *out)
{
	int first = 1, kw_ok;

	kw_ok = !permanent || (!v->readonly && (v->rights & imap_right('w')));
	strbuf_addc(out, '(');
	for (size_t i = 0; i < NSYSFLAGS; i++)
		if (!permanent ||
		    (!v->readonly && (v->rights & imap_right(sysflags[i].right))))
			add_item(out, &first, sysflags[i].name);
	for (size_t i = 0; kw_ok && i < v->nkeywords; i++)
		add_item(out, &first, v->mb->kw[i]);
	if (permanent && kw_ok && v->nkeywords < MSTORE_MAX_KEYWORDS)
		add_item(out, &first, "\\*");
	strbuf_addc(out, ')');
}

void imap_view_reload_keywords(struct imap_session *s)
{
	struct imap_view *v = s->view;
	struct strbuf b;

	if (v == NULL)
		return;
	mbox_keywords_read(s, v->mb);
	if (v->mb->nkw <= v->nkeywords)
		return;
	v->nkeywords = v->mb->nkw;
	strbuf_init(&b);
	strbuf_adds(&b, "* FLAGS ");
	imap_view_write_flag_list(v, 0, &b);
	strbuf_adds(&b, "\r\n* OK [PERMANENTFLAGS ");
	imap_view_write_flag_list(v, 1, &b);
	strbuf_adds(&b, "] Flags\r\n");
	imap_write(s, b.data, b.len);
	strbuf_free(&b);
}

/* ---- synchronisation ----------------------------------------------------- */

static void send_fetch_flags(struct imap_session *s, uint32_t msn,
			     uint64_t modseq)
{
	struct imap_view *v = s->view;
	struct imap_view_msg m;
	struct strbuf b;

	if (imap_view_get(v, msn, &m) < 0)
		return;
	strbuf_init(&b);
	strbuf_printf(&b, "* %u FETCH (UID %u FLAGS ", msn, m.uid);
	imap_view_write_flags(v, &m, &b);
	if (s->enabled & IMAP_EN_CONDSTORE)
		strbuf_printf(&b, " MODSEQ (%llu)", (unsigned long long)modseq);
	strbuf_adds(&b, ")\r\n");
	imap_write(s, b.data, b.len);
	strbuf_free(&b);
}

static int msg_uid_cmp(const void *a, const void *b)
{
	const struct mstore_msg *x = a, *y = b;

	return x->uid < y->uid ? -1 : x->uid > y->uid;
}

/* The edit that brings v up to the engine's records ch (uid order). */
static uint32_t refresh_edit(struct imap_session *s, struct mstore_msg *ch,
			     size_t nch, struct vm_edit *ed, int *exact)
{
	struct imap_view *v = s->view;
	uint32_t last = v->a->n > 0 ? v->a->e[v->a->n - 1].uid : 0, added = 0;

	for (size_t i = 0; i < nch; i++) {
		uint32_t msn = imap_view_msn(v, ch[i].uid);
		struct vm_rec r;

		r.flags = imap_view_user_flags(v, ch[i].uid, ch[i].flags) &
			  MSTORE_F_ALL;
		r.kw = ch[i].keywords;
		r.modseq = ch[i].modseq;
		if (msn != 0) {
			const struct vm_ent *e = &v->a->e[msn - 1];

			if (gone_has(v, ch[i].uid) ||
			    (e->flags == r.flags && v->a->masks[e->kw] == r.kw))
				continue;
			r.key = msn;
			vm_edit_push(&ed->upd, &ed->nupd, &ed->capupd, &r);
			continue;
		}
		if (ch[i].uid < last) {
			*exact = 0;
			continue; /* not ours to number: a stale record */
		}
		r.key = ch[i].uid;
		vm_edit_push(&ed->app, &ed->napp, &ed->capapp, &r);
		if (!v->readonly && ch[i].uid >= v->mb->next_uid) {
			recent_add(v, ch[i].uid, last);
			v->mb->next_uid = ch[i].uid + 1;
		}
		last = ch[i].uid;
		added++;
	}
	return added;
}

/*
 * Applies the engine's changes since v->highestmodseq.  Returns 1 when
 * the array now holds every message the engine has (and those expunged
 * but not yet announced), 0 after a failure or a record it could not
 * number.
 */
static int view_refresh(struct imap_session *s)
{
	struct imap_view *v = s->view;
	struct mstore_mailbox mb;
	struct mstore_msg *ch = NULL;
	uint32_t *gone = NULL, added;
	size_t nch = 0, ngone = 0;
	struct vm_edit ed;
	int kw_reload = 0, exact = 1;
	enum mstore_err e;

	memset(&mb, 0, sizeof(mb));
	e = mstore_mailbox_get_by_id(s->st->ms, v->mb->mailbox_id, &mb);
	if (e == MSTORE_E_NOMAILBOX) {
		/* RFC 2180 3.3: deleted by another session; the client's
		 * numbers mean nothing any more */
		v->dirty = 0;
		imap_bye(s, "Selected mailbox was deleted");
		return 0;
	}
	if (e != MSTORE_OK)
		return 0;
	if (v->seen_dirty)
		view_seen_reload(s);
	if (mstore_msg_list_changed(s->st->ms, v->mb->mailbox_id,
				    v->highestmodseq, &ch, &nch) != MSTORE_OK ||
	    mstore_tombstones(s->st->ms, v->mb->mailbox_id, v->highestmodseq,
			      &gone, &ngone) != MSTORE_OK) {
		free(ch);
		mstore_mailbox_clear(&mb);
		return 0;
	}
	v->dirty = 0;
	/* the engine may list by modseq: numbering needs uid order */
	if (nch > 1)
		qsort(ch, nch, sizeof(*ch), msg_uid_cmp);
	for (size_t i = 0; i < nch; i++)
		if (v->nkeywords < 64 && (ch[i].keywords >> v->nkeywords) != 0)
			kw_reload = 1;
	if (kw_reload)
		imap_view_reload_keywords(s);
	memset(&ed, 0, sizeof(ed));
	added = refresh_edit(s, ch, nch, &ed, &exact);
	view_apply(v, &ed);
	for (size_t i = 0; i < ed.nupd; i++)
		send_fetch_flags(s, ed.upd[i].key, ed.upd[i].modseq);
	vm_edit_free(&ed);
	for (size_t i = 0; i < ngone; i++)
		if (imap_view_msn(v, gone[i]) != 0)
			gone_add(v, gone[i]);
	if (added > 0) {
		imap_untagged(s, "%u EXISTS", v->a->n);
		if (!(s->enabled & IMAP_EN_IMAP4REV2))
			imap_untagged(s, "%u RECENT", recent_count(v, 1));
	}
	v->highestmodseq = mb.highestmodseq;
	v->uidnext = mb.uidnext;
	free(ch);
	free(gone);
	mstore_mailbox_clear(&mb);
	return exact;
}

/* Announces and removes the messages expunged elsewhere. */
static void view_flush_expunged(struct imap_session *s)
{
	struct imap_view *v = s->view;
	uint32_t *msns;
	struct vm_edit ed;
	size_t k = 0;
	int qresync = (s->enabled & IMAP_EN_QRESYNC) != 0;

	if (v->ngone == 0)
		return;
	msns = xcalloc(v->ngone, sizeof(*msns));
	for (uint32_t i = 0; i < v->ngone; i++) {
		uint32_t msn = imap_view_msn(v, v->gone[i]);

		if (msn != 0)
			msns[k++] = msn;
	}
	/* RFC 3501 7.4.1: each EXPUNGE renumbers; going down keeps the
	 * numbers the client has right. */
	if (!qresync)
		for (size_t i = k; i > 0; i--)
			imap_untagged(s, "%u EXPUNGE", msns[i - 1]);
	memset(&ed, 0, sizeof(ed));
	ed.del = msns;
	ed.ndel = k;
	view_apply(v, &ed);
	if (qresync) {
		struct strbuf b;

		strbuf_init(&b);
		strbuf_adds(&b, "* VANISHED ");
		imap_seqset_write(&b, v->gone, v->ngone);
		strbuf_add(&b, "\r\n", 2);
		imap_write(s, b.data, b.len);
		strbuf_free(&b);
	}
	free(msns);
	/* usually empty for a long time: give the memory back */
	free(v->gone);
	v->gone = NULL;
	v->ngone = v->capgone = 0;
}

void imap_view_sync(struct imap_session *s, int expunge)
{
	struct imap_view *v = s->view;
	int exact = 0;

	if (v == NULL)
		return;
	if (v->dirty)
		exact = view_refresh(s);
	if ((v = s->view) == NULL)
		return;
	if (expunge)
		view_flush_expunged(s);
	/* with every change applied and every expunge announced, the array
	 * is the mailbox at v->highestmodseq: the next SELECT may take it */
	if (exact && v->ngone == 0 && !v->dirty && v->a->seen_user == NULL)
		v->a->synced = v->highestmodseq;
}

void imap_view_expunged(struct imap_session *s, const uint32_t *uids, size_t n)
{
	struct imap_view *v = s->view;

	for (size_t i = 0; i < n; i++)
		if (imap_view_msn(v, uids[i]) != 0)
			gone_add(v, uids[i]);
	imap_view_sync(s, 1);
}

void imap_view_set_idle(struct imap_session *s, int idle)
{
	if (s->view == NULL)
		return;
	s->view->idle = idle;
	if (idle)
		imap_view_sync(s, 1);
}

/*
 * STATUS RECENT (RFC 3501 6.3.10): messages no session has seen yet (uid
 * at or above the mailbox's recent mark) plus those open views hold as
 * \Recent.  Counting the first kind needs the uid list, read only when
 * the mark is inside the mailbox's uid range.
 */
uint32_t imap_view_status_recent(struct imap_session *s,
				 const struct mstore_mailbox *mb)
{
	struct view_mbox *vmb = mbox_get(mb->id, 1);
	uint32_t n = 0;

	if (vmb->next_uid == 0) {
		n = mb->messages;
	} else if (vmb->next_uid < mb->uidnext) {
		struct mstore_msg *msgs = NULL;
		size_t nm = 0;

		if (mstore_msg_list(s->st->ms, mb->id, &msgs, &nm) ==
		    MSTORE_OK)
			for (size_t i = 0; i < nm; i++)
				n += msgs[i].uid >= vmb->next_uid;
		free(msgs);
	}
	/* a view's \Recent uids are all below the mark: it moved past them */
	for (struct imap_view *v = vmb->views; v != NULL; v = v->next)
		n += recent_count(v, 0);
	return n;
}
