/*
 * imap_view.c - the selected mailbox as one session sees it: the
 * msn -> uid array with each message's flags, keywords and modseq, the
 * session's \Recent set, the SEARCHRES result.
 *
 * The view changes only at moments RFC 3501 7.4.1 / RFC 9051 7.5.1 allow.
 * The engine's change hook (one per process, registered at the first
 * connection) only marks the views of the changed mailbox dirty; the
 * session applies the changes in imap_view_sync(), called before a tagged
 * reply as the command table allows, or at once (through a zero timer
 * that coalesces the rows of one commit) while the session is in IDLE:
 * no polling.  Expunges by others are remembered (the message stays,
 * marked) until a command that may announce them.
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
#include "store/store.h"

struct imap_view {
	struct imap_session *s;
	struct imap_view *next; /* registry */
	uint32_t mailbox_id;
	char *name;
	int readonly;
	uint32_t uidvalidity, uidnext;
	uint64_t highestmodseq; /* changes up to here are applied */
	struct imap_view_msg *msgs;
	uint32_t n, cap;
	uint32_t nexpunged; /* marked, not yet announced */
	char **keywords;
	size_t nkeywords;
	uint32_t *saved; /* SEARCHRES */
	size_t nsaved;
	int dirty;
	int idle;
	struct net_timer *idle_timer;
	/* ACL (imap_acl.h): rights at open; \Seen kept per user for a
	 * mailbox of another user: the seen uids, ascending */
	uint32_t rights;
	int private_seen;
	int seen_dirty;
	uint32_t *seen;
	size_t nseen;
};

/* \Recent (RFC 3501 2.3.2): the first session to see a message. */
struct recent_mark {
	struct recent_mark *next;
	uint32_t mailbox_id;
	uint32_t next_uid; /* uids from here are new to all */
};

static struct imap_view *views;
static struct recent_mark *recents;
static struct mstore *hooked;

static struct recent_mark *recent_get(uint32_t mailbox_id)
{
	struct recent_mark *r;

	for (r = recents; r != NULL; r = r->next)
		if (r->mailbox_id == mailbox_id)
			return r;
	r = xcalloc(1, sizeof(*r));
	r->mailbox_id = mailbox_id;
	r->next = recents;
	recents = r;
	return r;
}

static void idle_fire(void *arg)
{
	struct imap_session *s = arg;

	if (s->view != NULL && s->view->idle)
		imap_view_sync(s, 1);
}

static void change_hook(void *arg, const struct mstore_change *ch)
{
	(void)arg;
	if (ch->kind == MSTORE_CH_SEEN) {
		/* another session of the same user changed its \Seen set */
		for (struct imap_view *v = views; v != NULL; v = v->next)
			if (v->mailbox_id == ch->mailbox_id && v->private_seen &&
			    strcasecmp(v->s->user, ch->user) == 0) {
				v->seen_dirty = v->dirty = 1;
				if (v->idle && v->idle_timer != NULL)
					net_timer_start(v->idle_timer, 0, 0);
			}
		return;
	}
	if (ch->kind != MSTORE_CH_APPEND && ch->kind != MSTORE_CH_FLAGS &&
	    ch->kind != MSTORE_CH_EXPUNGE && ch->kind != MSTORE_CH_MBOX_DELETE)
		return;
	for (struct imap_view *v = views; v != NULL; v = v->next) {
		if (v->mailbox_id != ch->mailbox_id)
			continue;
		v->dirty = 1;
		if (v->idle && v->idle_timer != NULL)
			net_timer_start(v->idle_timer, 0, 0);
	}
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

static void send_fetch_flags(struct imap_session *s, uint32_t msn);

static int seen_has(const struct imap_view *v, uint32_t uid)
{
	size_t lo = 0, hi = v->nseen;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (v->seen[mid] == uid)
			return 1;
		if (v->seen[mid] < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

uint32_t imap_view_user_flags(const struct imap_view *v, uint32_t uid,
			      uint32_t flags)
{
	if (v == NULL || !v->private_seen)
		return flags;
	return seen_has(v, uid) ? flags | MSTORE_F_SEEN
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

/* Reads the stored set: the seen uids among the view's messages. */
static void view_seen_read(struct imap_session *s, struct imap_view *v)
{
	struct imap_seqset set;
	const char *err;
	char *str = NULL;

	free(v->seen);
	v->seen = xcalloc(v->n + 1, sizeof(*v->seen));
	v->nseen = 0;
	memset(&set, 0, sizeof(set));
	if (mstore_seen_get(s->st->ms, s->user, v->mailbox_id, &str) !=
		MSTORE_OK ||
	    *str == '\0' || imap_seqset_parse(str, &set, &err) < 0) {
		free(str);
		return;
	}
	free(str);
	for (uint32_t i = 0; i < v->n; i++)
		if (imap_seqset_contains(&set, v->msgs[i].uid, UINT32_MAX))
			v->seen[v->nseen++] = v->msgs[i].uid;
	imap_seqset_free(&set);
}

static void view_seen_load(struct imap_session *s, struct imap_view *v)
{
	view_seen_read(s, v);
	for (uint32_t i = 0; i < v->n; i++)
		v->msgs[i].flags = imap_view_user_flags(v, v->msgs[i].uid,
							v->msgs[i].flags);
}

/* Another session changed the set: FETCH FLAGS where it differs. */
static void view_seen_reload(struct imap_session *s)
{
	struct imap_view *v = s->view;

	v->seen_dirty = 0;
	view_seen_read(s, v);
	for (uint32_t i = 0; i < v->n; i++) {
		struct imap_view_msg *m = &v->msgs[i];
		uint32_t f = imap_view_user_flags(v, m->uid, m->flags);

		if (f != m->flags && !m->expunged) {
			m->flags = f;
			send_fetch_flags(s, i + 1);
		}
	}
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
	out = xcalloc(v->n + 1, sizeof(*out));
	for (uint32_t i = 0; i < v->n; i++) {
		uint32_t uid = v->msgs[i].uid;

		if (bsearch(&uid, named, n, sizeof(*named), uid_cmp) != NULL
			? add
			: seen_has(v, uid))
			out[k++] = uid;
	}
	free(named);
	strbuf_init(&b);
	if (k > 0)
		imap_seqset_write(&b, out, k);
	e = mstore_seen_set(s->st->ms, s->user, v->mailbox_id,
			    b.data != NULL ? b.data : "");
	strbuf_free(&b);
	if (e != MSTORE_OK) {
		free(out);
		return e;
	}
	free(v->seen);
	v->seen = out;
	v->nseen = k;
	for (uint32_t i = 0; i < v->n; i++)
		v->msgs[i].flags = imap_view_user_flags(v, v->msgs[i].uid,
							v->msgs[i].flags);
	return MSTORE_OK;
}

/* ---- open / close -------------------------------------------------------- */

static void keywords_free(struct imap_view *v)
{
	mstore_strv_free(&v->keywords, v->nkeywords);
	v->nkeywords = 0;
}

int imap_view_open(struct imap_session *s, const char *name, int readonly)
{
	struct mstore_mailbox mb;
	struct mstore_msg *msgs = NULL;
	struct imap_view *v;
	struct recent_mark *rm;
	size_t n = 0;
	uint32_t rights;
	int e;

	imap_view_close(s);
	e = imap_acl_mailbox(s, name, "r", &mb, &rights);
	if (e != MSTORE_OK)
		return e;
	/* RFC 4314 4: without a right to change anything, read-only */
	if (!(rights & (imap_right('s') | imap_right('w') | imap_right('t') |
			imap_right('e'))))
		readonly = 1;
	e = mstore_msg_list(s->st->ms, mb.id, &msgs, &n);
	if (e != MSTORE_OK) {
		mstore_mailbox_clear(&mb);
		return e;
	}
	v = xcalloc(1, sizeof(*v));
	v->s = s;
	v->mailbox_id = mb.id;
	v->rights = rights;
	v->private_seen = strcasecmp(mb.owner, s->user) != 0;
	v->name = xstrdup(v->private_seen ? name : mb.name);
	v->readonly = readonly;
	v->uidvalidity = mb.uidvalidity;
	v->uidnext = mb.uidnext;
	v->highestmodseq = mb.highestmodseq;
	v->cap = n > 0 ? (uint32_t)n : 1;
	v->msgs = xcalloc(v->cap, sizeof(*v->msgs));
	rm = recent_get(mb.id);
	for (size_t i = 0; i < n; i++) {
		struct imap_view_msg *m = &v->msgs[i];

		m->uid = msgs[i].uid;
		m->flags = msgs[i].flags;
		m->keywords = msgs[i].keywords;
		m->modseq = msgs[i].modseq;
		m->recent = !readonly && m->uid >= rm->next_uid;
	}
	v->n = (uint32_t)n;
	if (v->private_seen)
		view_seen_load(s, v);
	if (!readonly && mb.uidnext > rm->next_uid)
		rm->next_uid = mb.uidnext;
	free(msgs);
	mstore_mailbox_clear(&mb);
	if (mstore_keywords(s->st->ms, v->mailbox_id, &v->keywords,
			    &v->nkeywords) != MSTORE_OK) {
		v->keywords = NULL;
		v->nkeywords = 0;
	}
	v->idle_timer = net_timer_new(conn_net(s->c), idle_fire, s);
	v->next = views;
	views = v;
	s->view = v;
	return MSTORE_OK;
}

void imap_view_close(struct imap_session *s)
{
	struct imap_view *v = s->view, **pp;

	if (v == NULL)
		return;
	for (pp = &views; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == v) {
			*pp = v->next;
			break;
		}
	}
	net_timer_free(&v->idle_timer);
	keywords_free(v);
	free(v->msgs);
	free(v->saved);
	free(v->seen);
	free(v->name);
	free(v);
	s->view = NULL;
}

void imap_view_info(const struct imap_view *v, struct imap_view_info *i_r)
{
	memset(i_r, 0, sizeof(*i_r));
	i_r->mailbox_id = v->mailbox_id;
	i_r->name = v->name;
	i_r->readonly = v->readonly;
	i_r->uidvalidity = v->uidvalidity;
	i_r->uidnext = v->uidnext;
	i_r->highestmodseq = v->highestmodseq;
	for (uint32_t i = 0; i < v->n; i++) {
		if (v->msgs[i].recent)
			i_r->recent++;
		if (i_r->first_unseen == 0 &&
		    !(v->msgs[i].flags & MSTORE_F_SEEN))
			i_r->first_unseen = i + 1;
	}
}

/* ---- lookups ------------------------------------------------------------- */

uint32_t imap_view_count(const struct imap_view *v)
{
	return v != NULL ? v->n : 0;
}

struct imap_view_msg *imap_view_msg(struct imap_view *v, uint32_t msn)
{
	if (v == NULL || msn == 0 || msn > v->n)
		return NULL;
	return &v->msgs[msn - 1];
}

uint32_t imap_view_msn(const struct imap_view *v, uint32_t uid)
{
	uint32_t lo = 0, hi = v->n;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (v->msgs[mid].uid == uid)
			return mid + 1;
		if (v->msgs[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
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
	uint32_t star, *out;
	size_t nr, k = 0, j = 0;

	*msns_r = NULL;
	*n_r = 0;
	if (v == NULL)
		return -1;
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
	star = uid ? (v->n > 0 ? v->msgs[v->n - 1].uid : 0) : v->n;
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
		if (!uid && (hi > v->n || lo == 0)) {
			free(r);
			return -1;
		}
		r[i].lo = lo;
		r[i].hi = hi;
	}
	qsort(r, nr, sizeof(*r), range_cmp);
	out = xcalloc(v->n + 1, sizeof(*out));
	for (uint32_t i = 0; i < v->n; i++) {
		uint32_t key = uid ? v->msgs[i].uid : i + 1;

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
	return bit < v->nkeywords ? v->keywords[bit] : NULL;
}

unsigned imap_view_nkeywords(const struct imap_view *v)
{
	return (unsigned)v->nkeywords;
}

static const struct {
	uint32_t bit;
	const char *name;
} sysflags[] = {
    {MSTORE_F_ANSWERED, "\\Answered"}, {MSTORE_F_FLAGGED, "\\Flagged"},
    {MSTORE_F_DELETED, "\\Deleted"},   {MSTORE_F_SEEN, "\\Seen"},
    {MSTORE_F_DRAFT, "\\Draft"},
};

void imap_view_write_flags(const struct imap_view *v,
			   const struct imap_view_msg *m, struct strbuf *out)
{
	int first = 1;

	strbuf_addc(out, '(');
	for (size_t i = 0; i < sizeof(sysflags) / sizeof(*sysflags); i++) {
		if (!(m->flags & sysflags[i].bit))
			continue;
		if (!first)
			strbuf_addc(out, ' ');
		strbuf_adds(out, sysflags[i].name);
		first = 0;
	}
	for (unsigned b = 0; b < 64 && b < v->nkeywords; b++) {
		if (!(m->keywords & (1ull << b)))
			continue;
		if (!first)
			strbuf_addc(out, ' ');
		strbuf_adds(out, v->keywords[b]);
		first = 0;
	}
	if (m->recent && !(v->s->enabled & IMAP_EN_IMAP4REV2)) {
		if (!first)
			strbuf_addc(out, ' ');
		strbuf_adds(out, "\\Recent");
	}
	strbuf_addc(out, ')');
}

void imap_view_write_flag_list(const struct imap_view *v, int permanent,
			       struct strbuf *out)
{
	strbuf_adds(out, "(\\Answered \\Flagged \\Deleted \\Seen \\Draft");
	for (size_t i = 0; i < v->nkeywords; i++) {
		strbuf_addc(out, ' ');
		strbuf_adds(out, v->keywords[i]);
	}
	if (permanent && v->nkeywords < MSTORE_MAX_KEYWORDS)
		strbuf_adds(out, " \\*");
	strbuf_addc(out, ')');
}

void imap_view_reload_keywords(struct imap_session *s)
{
	struct imap_view *v = s->view;
	char **kw = NULL;
	size_t n = 0;
	struct strbuf b;

	if (v == NULL ||
	    mstore_keywords(s->st->ms, v->mailbox_id, &kw, &n) != MSTORE_OK)
		return;
	if (n == v->nkeywords) {
		mstore_strv_free(&kw, n);
		return;
	}
	keywords_free(v);
	v->keywords = kw;
	v->nkeywords = n;
	strbuf_init(&b);
	strbuf_adds(&b, "* FLAGS ");
	imap_view_write_flag_list(v, 0, &b);
	strbuf_adds(&b, "\r\n* OK [PERMANENTFLAGS ");
	if (v->readonly)
		strbuf_adds(&b, "()");
	else
		imap_view_write_flag_list(v, 1, &b);
	strbuf_adds(&b, "] Flags\r\n");
	imap_write(s, b.data, b.len);
	strbuf_free(&b);
}

/* ---- synchronisation ----------------------------------------------------- */

static void send_fetch_flags(struct imap_session *s, uint32_t msn)
{
	struct imap_view *v = s->view;
	struct imap_view_msg *m = &v->msgs[msn - 1];
	struct strbuf b;

	strbuf_init(&b);
	strbuf_printf(&b, "* %u FETCH (UID %u FLAGS ", msn, m->uid);
	imap_view_write_flags(v, m, &b);
	if (s->enabled & IMAP_EN_CONDSTORE)
		strbuf_printf(&b, " MODSEQ (%llu)",
			      (unsigned long long)m->modseq);
	strbuf_adds(&b, ")\r\n");
	imap_write(s, b.data, b.len);
	strbuf_free(&b);
}

static void view_grow(struct imap_view *v)
{
	if (v->n < v->cap)
		return;
	v->cap = v->cap * 2 + 16;
	v->msgs = xrealloc(v->msgs, v->cap * sizeof(*v->msgs));
}

/* Applies the engine's changes since v->highestmodseq. */
static void view_refresh(struct imap_session *s)
{
	struct imap_view *v = s->view;
	struct mstore_mailbox mb;
	struct mstore_msg *ch = NULL;
	uint32_t *gone = NULL, added = 0;
	size_t nch = 0, ngone = 0;
	struct recent_mark *rm = recent_get(v->mailbox_id);
	int kw_reload = 0;
	enum mstore_err e;

	memset(&mb, 0, sizeof(mb));
	e = mstore_mailbox_get_by_id(s->st->ms, v->mailbox_id, &mb);
	if (e == MSTORE_E_NOMAILBOX) {
		/* RFC 2180 3.3: deleted by another session; the client's
		 * numbers mean nothing any more */
		v->dirty = 0;
		imap_bye(s, "Selected mailbox was deleted");
		return;
	}
	if (e != MSTORE_OK)
		return;
	if (v->seen_dirty)
		view_seen_reload(s);
	if (mstore_msg_list_changed(s->st->ms, v->mailbox_id, v->highestmodseq,
				    &ch, &nch) != MSTORE_OK ||
	    mstore_tombstones(s->st->ms, v->mailbox_id, v->highestmodseq, &gone,
			      &ngone) != MSTORE_OK) {
		free(ch);
		mstore_mailbox_clear(&mb);
		return;
	}
	v->dirty = 0;
	for (size_t i = 0; i < nch; i++)
		if ((ch[i].keywords >> v->nkeywords) != 0 && v->nkeywords < 64)
			kw_reload = 1;
	if (kw_reload)
		imap_view_reload_keywords(s);
	for (size_t i = 0; i < nch; i++) {
		uint32_t msn = imap_view_msn(v, ch[i].uid);
		struct imap_view_msg *m;

		ch[i].flags = imap_view_user_flags(v, ch[i].uid, ch[i].flags);
		if (msn != 0) {
			m = &v->msgs[msn - 1];
			if (m->expunged)
				continue;
			if (m->flags != ch[i].flags ||
			    m->keywords != ch[i].keywords) {
				m->flags = ch[i].flags;
				m->keywords = ch[i].keywords;
				m->modseq = ch[i].modseq;
				send_fetch_flags(s, msn);
			} else {
				m->modseq = ch[i].modseq;
			}
			continue;
		}
		if (v->n > 0 && ch[i].uid < v->msgs[v->n - 1].uid)
			continue; /* not ours to number: a stale record */
		view_grow(v);
		m = &v->msgs[v->n++];
		memset(m, 0, sizeof(*m));
		m->uid = ch[i].uid;
		m->flags = ch[i].flags;
		m->keywords = ch[i].keywords;
		m->modseq = ch[i].modseq;
		if (!v->readonly && m->uid >= rm->next_uid) {
			m->recent = 1;
			rm->next_uid = m->uid + 1;
		}
		added++;
	}
	for (size_t i = 0; i < ngone; i++) {
		uint32_t msn = imap_view_msn(v, gone[i]);

		if (msn != 0 && !v->msgs[msn - 1].expunged) {
			v->msgs[msn - 1].expunged = 1;
			v->nexpunged++;
		}
	}
	if (added > 0) {
		uint32_t recent = 0;

		imap_untagged(s, "%u EXISTS", v->n);
		if (!(s->enabled & IMAP_EN_IMAP4REV2)) {
			for (uint32_t i = 0; i < v->n; i++)
				recent += v->msgs[i].recent;
			imap_untagged(s, "%u RECENT", recent);
		}
	}
	v->highestmodseq = mb.highestmodseq;
	v->uidnext = mb.uidnext;
	free(ch);
	free(gone);
	mstore_mailbox_clear(&mb);
}

/* Announces and removes messages marked expunged. */
static void view_flush_expunged(struct imap_session *s)
{
	struct imap_view *v = s->view;
	uint32_t *uids, k = 0, w = 0;
	int qresync = (s->enabled & IMAP_EN_QRESYNC) != 0;

	if (v->nexpunged == 0)
		return;
	uids = xcalloc(v->nexpunged, sizeof(*uids));
	/* RFC 3501 7.4.1: each EXPUNGE renumbers; going down keeps the
	 * numbers the client has right. */
	for (uint32_t i = v->n; i > 0; i--) {
		if (!v->msgs[i - 1].expunged)
			continue;
		if (!qresync)
			imap_untagged(s, "%u EXPUNGE", i);
		uids[k++] = v->msgs[i - 1].uid;
	}
	for (uint32_t i = 0; i < v->n; i++)
		if (!v->msgs[i].expunged)
			v->msgs[w++] = v->msgs[i];
	v->n = w;
	v->nexpunged = 0;
	if (qresync && k > 0) {
		struct strbuf b;

		/* uids were collected descending */
		for (uint32_t i = 0; i < k / 2; i++) {
			uint32_t t = uids[i];

			uids[i] = uids[k - 1 - i];
			uids[k - 1 - i] = t;
		}
		strbuf_init(&b);
		strbuf_adds(&b, "* VANISHED ");
		imap_seqset_write(&b, uids, k);
		strbuf_add(&b, "\r\n", 2);
		imap_write(s, b.data, b.len);
		strbuf_free(&b);
	}
	free(uids);
}

void imap_view_sync(struct imap_session *s, int expunge)
{
	if (s->view == NULL)
		return;
	if (s->view->dirty)
		view_refresh(s);
	if (expunge)
		view_flush_expunged(s);
}

void imap_view_expunged(struct imap_session *s, const uint32_t *uids, size_t n)
{
	struct imap_view *v = s->view;

	for (size_t i = 0; i < n; i++) {
		uint32_t msn = imap_view_msn(v, uids[i]);

		if (msn != 0 && !v->msgs[msn - 1].expunged) {
			v->msgs[msn - 1].expunged = 1;
			v->nexpunged++;
		}
	}
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
	struct recent_mark *rm = recent_get(mb->id);
	uint32_t n = 0;

	if (rm->next_uid == 0) {
		n = mb->messages;
	} else if (rm->next_uid < mb->uidnext) {
		struct mstore_msg *msgs = NULL;
		size_t nm = 0;

		if (mstore_msg_list(s->st->ms, mb->id, &msgs, &nm) ==
		    MSTORE_OK)
			for (size_t i = 0; i < nm; i++)
				n += msgs[i].uid >= rm->next_uid;
		free(msgs);
	}
	for (struct imap_view *v = views; v != NULL; v = v->next) {
		if (v->mailbox_id != mb->id)
			continue;
		for (uint32_t i = 0; i < v->n; i++)
			n += v->msgs[i].recent && !v->msgs[i].expunged &&
			     v->msgs[i].uid < rm->next_uid;
	}
	return n;
}
