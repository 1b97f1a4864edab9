/*
 * imap_search.c - SEARCH and UID SEARCH (RFC 3501 6.4.4), first version:
 * flags, keywords, sequence and UID sets, sizes, INTERNALDATE and Date:
 * comparisons, MODSEQ (RFC 7162), HEADER/SUBJECT/FROM/TO/CC/BCC
 * substrings, BODY/TEXT on decoded parts (imap_search_text.c: transfer
 * encodings and charsets removed, Unicode case folding), EMAILID and
 * THREADID (RFC 8474), NOT/OR/lists; CHARSET (any iconv knows, else NO
 * [BADCHARSET]); RETURN (MIN MAX ALL COUNT SAVE) for ESEARCH (RFC 4731),
 * which is also the default answer after ENABLE IMAP4rev2 (RFC 9051
 * 6.4.4), and SEARCHRES (RFC 5182).  imap_search_run() (imap_search.h)
 * evaluates the criteria of SORT and THREAD (imap_sort.c, imap_thread.c)
 * the same way, in slices.
 *
 * The key tree is parsed first (imap_search_parse.c, so a syntax error
 * is BAD before any work), then evaluated per message, loading the index record, the MIME
 * record and the header bytes only when a key needs them.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include "log.h"
#include "mailstore.h"
#include "mime.h"
#include "net.h"
#include "strbuf.h"
#include "utf8.h"
#include "store/imap.h"
#include "store/imap_search.h"
#include "store/imap_search_key.h"
#include "store/imap_search_text.h"
#include "store/store.h"

struct msg_ctx {
	struct imap_session *s;
	uint32_t mailbox_id;
	uint32_t msn;
	struct imap_view_msg vm; /* the view's state of the message */
	int have_rec, have_mime;
	struct mstore_msg rec;
	struct mime_message *mime;
	char *data;		/* whole message (BODY/TEXT/HEADER) */
	size_t len;
	int have_data;
	struct strbuf fhdr, fbody; /* folded text, imap_search_text.h */
	int have_fhdr, have_fbody;
};

static void msg_ctx_free(struct msg_ctx *m)
{
	mime_message_free(&m->mime);
	free(m->data);
	if (m->have_fhdr)
		strbuf_free(&m->fhdr);
	if (m->have_fbody)
		strbuf_free(&m->fbody);
}

/*
 * "$" (the saved SEARCHRES result, RFC 5182) in a key becomes the
 * sequence numbers it stands for now, once per command rather than once
 * per message evaluated.
 */
static void resolve_saved(struct imap_session *s, struct search_key *k)
{
	for (size_t i = 0; i < k->nsub; i++)
		resolve_saved(s, &k->sub[i]);
	if ((k->type == K_SEQ || k->type == K_UID) && k->set.saved) {
		uint32_t *msns = NULL;
		size_t nm = 0, n = 0;

		imap_view_resolve(s, &k->set, 0, &msns, &nm);
		imap_seqset_free(&k->set);
		k->type = K_SEQ;
		k->set.r = xcalloc(nm + 1, sizeof(*k->set.r));
		for (size_t i = 0; i < nm; i++) {
			if (n > 0 && k->set.r[n - 1].hi + 1 == msns[i]) {
				k->set.r[n - 1].hi = msns[i];
			} else {
				k->set.r[n].lo = k->set.r[n].hi = msns[i];
				n++;
			}
		}
		k->set.n = n;
		free(msns);
	}
}

/* ---- evaluation ------------------------------------------------------------ */

static struct mstore_msg *get_rec(struct msg_ctx *m)
{
	if (!m->have_rec) {
		m->have_rec = 1;
		if (mstore_msg_get(m->s->st->ms, m->mailbox_id, m->vm.uid,
				   &m->rec) != MSTORE_OK)
			memset(&m->rec, 0, sizeof(m->rec));
	}
	return &m->rec;
}

static int load_data(struct msg_ctx *m)
{
	int fd;
	struct stat st;

	if (m->have_data)
		return m->data != NULL ? 0 : -1;
	m->have_data = 1;
	if (mstore_msg_open(m->s->st->ms, m->mailbox_id, m->vm.uid, &fd) !=
	    MSTORE_OK)
		return -1;
	if (fstat(fd, &st) == 0 && st.st_size > 0 &&
	    st.st_size < 256 * 1024 * 1024) {
		ssize_t got;

		m->data = xmalloc((size_t)st.st_size + 1);
		got = pread(fd, m->data, (size_t)st.st_size, 0);
		m->len = got > 0 ? (size_t)got : 0;
		m->data[m->len] = '\0';
	}
	close(fd);
	return m->data != NULL ? 0 : -1;
}

static const struct mime_message *get_mime(struct msg_ctx *m)
{
	if (!m->have_mime) {
		m->have_mime = 1;
		if (mstore_msg_mime(m->s->st->ms, m->mailbox_id, m->vm.uid,
				    &m->mime) != MSTORE_OK)
			m->mime = NULL;
	}
	return m->mime;
}

/*
 * Folds the string keys (after conversion from charset to UTF-8): -1
 * when the charset is unknown.
 */
static int prepare_keys(struct search_key *k, const char *charset)
{
	if (k->value != NULL && k->folded == NULL &&
	    (k->type == K_HEADER || k->type == K_BODY || k->type == K_TEXT)) {
		struct strbuf f;

		strbuf_init(&f);
		if (imap_search_text_needle(charset, k->value,
					    strlen(k->value), &f) < 0) {
			strbuf_free(&f);
			return -1;
		}
		k->folded = strbuf_steal(&f, &k->folded_len);
	}
	for (size_t i = 0; i < k->nsub; i++)
		if (prepare_keys(&k->sub[i], charset) < 0)
			return -1;
	return 0;
}

static int match_text(struct msg_ctx *m, const struct search_key *k)
{
	const struct mime_message *mime = get_mime(m);

	if (mime == NULL || load_data(m) < 0)
		return 0;
	if (k->type == K_TEXT && !m->have_fhdr) {
		m->have_fhdr = 1;
		strbuf_init(&m->fhdr);
		imap_search_text_header(m->data, m->len, mime, &m->fhdr);
	}
	if (!m->have_fbody) {
		m->have_fbody = 1;
		strbuf_init(&m->fbody);
		imap_search_text_body(m->data, m->len, mime, &m->fbody);
	}
	if (k->type == K_TEXT &&
	    imap_search_text_contains(m->fhdr.data, m->fhdr.len, k->folded,
				      k->folded_len))
		return 1;
	return imap_search_text_contains(m->fbody.data, m->fbody.len,
					 k->folded, k->folded_len);
}

/* RFC 8474 6: EMAILID / THREADID search keys. */
static int match_objectid(struct msg_ctx *m, const struct search_key *k)
{
	struct mstore_msg *r = get_rec(m);
	struct strbuf id;
	int hit;

	strbuf_init(&id);
	if (k->type == K_EMAILID)
		imap_objectid_email(&id, r->guid);
	else
		imap_objectid_thread(&id, get_mime(m), r->guid);
	hit = strcmp(id.data, k->value) == 0;
	strbuf_free(&id);
	return hit;
}

static int match_header(struct msg_ctx *m, const char *name,
			const struct search_key *k)
{
	const struct mime_message *mime = get_mime(m);
	struct mime_header_field f;
	size_t pos = 0;
	int hit = 0;

	if (mime == NULL || load_data(m) < 0)
		return 0;
	while (!hit && mime_header_find(m->data + mime->parts[0].header_off,
					mime->parts[0].header_len, name, &pos,
					&f)) {
		struct strbuf dec, fold;

		strbuf_init(&dec);
		strbuf_init(&fold);
		mime_header_decode(f.value, f.value_len, &dec);
		utf8_casefold(dec.data, dec.len, &fold);
		hit = imap_search_text_contains(fold.data, fold.len, k->folded,
						k->folded_len);
		strbuf_free(&dec);
		strbuf_free(&fold);
	}
	return hit;
}

static int64_t day_of(int64_t t, int32_t tz)
{
	int64_t v = t + (int64_t)tz * 60;

	return v >= 0 ? v / 86400 : (v - 86399) / 86400;
}

static int eval(struct msg_ctx *m, const struct search_key *k);

static int eval_date(struct msg_ctx *m, const struct search_key *k)
{
	int64_t day, want = (int64_t)k->num;

	if (k->type == K_BEFORE || k->type == K_ON || k->type == K_SINCE) {
		struct mstore_msg *r = get_rec(m);

		day = day_of(r->internaldate, r->tz_offset);
	} else {
		const struct mime_message *mime = get_mime(m);

		if (mime == NULL || mime->date == 0)
			return 0;
		day = day_of((int64_t)mime->date, 0);
	}
	switch (k->type) {
	case K_BEFORE:
	case K_SENTBEFORE:
		return day < want;
	case K_ON:
	case K_SENTON:
		return day == want;
	default:
		return day >= want;
	}
}

static int eval(struct msg_ctx *m, const struct search_key *k)
{
	struct imap_view *v = m->s->view;

	switch (k->type) {
	case K_ALL:
		return 1;
	case K_FLAG:
		return (m->vm.flags & k->flag) != 0;
	case K_UNFLAG:
		return (m->vm.flags & k->flag) == 0;
	case K_RECENT:
		return m->vm.recent;
	case K_NEW:
		return m->vm.recent && !(m->vm.flags & MSTORE_F_SEEN);
	case K_OLD:
		return !m->vm.recent;
	case K_KEYWORD:
	case K_UNKEYWORD: {
		int has = 0;

		for (unsigned b = 0; b < imap_view_nkeywords(v) && b < 64; b++)
			if (strcasecmp(imap_view_keyword(v, b), k->name) == 0)
				has = (m->vm.keywords >> b) & 1;
		return k->type == K_KEYWORD ? has : !has;
	}
	case K_SEQ:
	case K_UID: {
		uint32_t val = k->type == K_UID ? m->vm.uid : m->msn;
		uint32_t n = imap_view_count(v);
		uint32_t star = k->type == K_UID
					? imap_view_uid(v, n)
					: n;

		/* "$" was made a set of sequence numbers (resolve_saved) */
		return imap_seqset_contains(&k->set, val, star);
	}
	case K_LARGER:
		return get_rec(m)->size > k->num;
	case K_SMALLER:
		return get_rec(m)->size < k->num;
	case K_MODSEQ: /* the view keeps no modseq: the record has it */
		return get_rec(m)->modseq >= k->num;
	case K_BEFORE:
	case K_ON:
	case K_SINCE:
	case K_SENTBEFORE:
	case K_SENTON:
	case K_SENTSINCE:
		return eval_date(m, k);
	case K_HEADER:
		return match_header(m, k->name, k);
	case K_BODY:
	case K_TEXT:
		return match_text(m, k);
	case K_EMAILID:
	case K_THREADID:
		return match_objectid(m, k);
	case K_NOT:
		return !eval(m, &k->sub[0]);
	case K_OR:
		return eval(m, &k->sub[0]) || eval(m, &k->sub[1]);
	case K_AND:
		for (size_t i = 0; i < k->nsub; i++)
			if (!eval(m, &k->sub[i]))
				return 0;
		return 1;
	}
	return 0;
}

/* ---- the command ------------------------------------------------------------ */

static int charset_known(const char *cs)
{
	struct strbuf tmp;
	int r;

	strbuf_init(&tmp);
	r = imap_search_text_needle(cs, "a", 1, &tmp);
	strbuf_free(&tmp);
	return r == 0;
}

#define R_MIN 0x1
#define R_MAX 0x2
#define R_ALL 0x4
#define R_COUNT 0x8
#define R_SAVE 0x10

static int parse_return(const struct imap_arg *a, unsigned *ret_r)
{
	*ret_r = 0;
	for (size_t i = 0; i < a->count; i++) {
		const char *o = imap_arg_string(&a->list[i]);

		if (o == NULL)
			return -1;
		if (strcasecmp(o, "MIN") == 0)
			*ret_r |= R_MIN;
		else if (strcasecmp(o, "MAX") == 0)
			*ret_r |= R_MAX;
		else if (strcasecmp(o, "ALL") == 0)
			*ret_r |= R_ALL;
		else if (strcasecmp(o, "COUNT") == 0)
			*ret_r |= R_COUNT;
		else if (strcasecmp(o, "SAVE") == 0)
			*ret_r |= R_SAVE;
		else
			return -1;
	}
	if (a->count == 0)
		*ret_r = R_ALL;
	return 0;
}

/* RFC 7162 3.1.5: a search with MODSEQ reports the highest modseq. */
static int uses_modseq(const struct search_key *k)
{
	if (k->type == K_MODSEQ)
		return 1;
	for (size_t i = 0; i < k->nsub; i++)
		if (uses_modseq(&k->sub[i]))
			return 1;
	return 0;
}

static void write_result(struct imap_session *s, const struct imap_command *cmd,
			 unsigned ret, int esearch, const uint32_t *res,
			 size_t n, uint64_t modseq)
{
	struct strbuf b;

	strbuf_init(&b);
	if (!esearch) {
		strbuf_adds(&b, "* SEARCH");
		for (size_t i = 0; i < n; i++)
			strbuf_printf(&b, " %u", res[i]);
		if (modseq != 0 && n > 0)
			strbuf_printf(&b, " (MODSEQ %llu)",
				      (unsigned long long)modseq);
	} else {
		strbuf_adds(&b, "* ESEARCH (TAG ");
		imap_write_string(&b, cmd->tag, strlen(cmd->tag));
		strbuf_addc(&b, ')');
		if (cmd->uid)
			strbuf_adds(&b, " UID");
		if ((ret & R_MIN) && n > 0)
			strbuf_printf(&b, " MIN %u", res[0]);
		if ((ret & R_MAX) && n > 0)
			strbuf_printf(&b, " MAX %u", res[n - 1]);
		if (ret & R_COUNT)
			strbuf_printf(&b, " COUNT %zu", n);
		if ((ret & R_ALL) && n > 0) {
			strbuf_adds(&b, " ALL ");
			imap_seqset_write(&b, res, n);
		}
		if (modseq != 0 && n > 0)
			strbuf_printf(&b, " MODSEQ %llu",
				      (unsigned long long)modseq);
	}
	strbuf_add(&b, "\r\n", 2);
	if (!esearch || b.len > 0)
		imap_write(s, b.data, b.len);
	strbuf_free(&b);
}

/*
 * A SEARCH in progress.  Keys on text (BODY, TEXT, HEADER) read every
 * message's file; over a large mailbox that is seconds of the loop that
 * serves every session of the store.  The evaluation therefore stops
 * after SEARCH_SLICE_MS and goes on at the next turn of the loop, input
 * paused meanwhile (imap_job.c); the view and the command (whose
 * strings the keys point into) stay as they were until the reply.
 */
#define SEARCH_SLICE_MS 20

struct search_job {
	const struct imap_command *cmd;
	imap_search_done_fn *done; /* SORT, THREAD: they take the result */
	void *done_arg;		   /* free()d with the job */
	struct search_key root;
	uint32_t mailbox_id;
	unsigned ret;
	int esearch, want_modseq;
	uint32_t n, next;	/* messages; the next to look at (1-based) */
	uint32_t *res, *uids;
	size_t k;
	uint64_t modseq;
};

static long long search_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Evaluates messages for one slice; 1 once all are done. */
static int search_slice(struct imap_session *s, void *data)
{
	struct search_job *j = data;
	long long until = search_now_ms() + SEARCH_SLICE_MS;

	while (j->next <= j->n) {
		uint32_t i = j->next++;
		struct msg_ctx m;

		memset(&m, 0, sizeof(m));
		m.s = s;
		m.mailbox_id = j->mailbox_id;
		m.msn = i;
		if (imap_view_get(s->view, i, &m.vm) == 0 && !m.vm.expunged &&
		    eval(&m, &j->root)) {
			j->uids[j->k] = m.vm.uid;
			j->res[j->k++] =
			    j->done == NULL && j->cmd->uid ? m.vm.uid : i;
			if (j->want_modseq && get_rec(&m)->modseq > j->modseq)
				j->modseq = get_rec(&m)->modseq;
		}
		msg_ctx_free(&m);
		if ((i & 63) == 0 && search_now_ms() >= until)
			break;
	}
	return j->next > j->n;
}

/* The result and the tagged reply. */
static void search_finish(struct imap_session *s, void *data,
			  unsigned slices)
{
	struct search_job *j = data;

	if (slices > 0)
		log_info("event=imap_search_sliced session=%s command=%s "
			 "mailbox=%08x messages=%u matched=%zu slices=%u",
			 conn_id(s->c), j->cmd->name, j->mailbox_id, j->n,
			 j->k, slices);
	if (s->closing)
		return;
	if (j->done != NULL) {
		j->done(s, j->cmd, j->res, j->k, j->done_arg);
		return;
	}
	if (j->ret & R_SAVE)
		imap_view_save_result(s->view, j->uids, j->k);
	if (j->ret != R_SAVE)
		write_result(s, j->cmd, j->ret, j->esearch, j->res, j->k,
			     j->modseq);
	imap_ok(s, NULL, "SEARCH completed");
}

static void search_free(void *data)
{
	struct search_job *j = data;

	search_key_free(&j->root);
	free(j->res);
	free(j->uids);
	free(j->done_arg);
	free(j);
}

static const struct imap_job_ops search_ops = {
	"SEARCH", search_slice, search_finish, NULL, search_free,
};
static const struct imap_job_ops sort_ops = {
	"SORT", search_slice, search_finish, NULL, search_free,
};
static const struct imap_job_ops thread_ops = {
	"THREAD", search_slice, search_finish, NULL, search_free,
};

/* A job over the whole view for the parsed key tree ROOT (taken). */
static struct search_job *search_job_new(struct imap_session *s,
					 const struct imap_command *cmd,
					 struct search_key *root)
{
	struct search_job *j = xcalloc(1, sizeof(*j));
	struct imap_view_info vi;

	imap_view_info(s->view, &vi);
	j->cmd = cmd;
	j->root = *root;
	j->mailbox_id = vi.mailbox_id;
	j->n = imap_view_count(s->view);
	j->next = 1;
	j->res = xcalloc(j->n + 1, sizeof(*j->res));
	j->uids = xcalloc(j->n + 1, sizeof(*j->uids));
	return j;
}

void imap_cmd_search(struct imap_session *s, const struct imap_command *cmd)
{
	struct search_job *j;
	struct search_key root;
	const char *charset = NULL;
	size_t start = 0;
	unsigned ret = 0;
	int esearch = 0;
	const char *err = NULL;

	memset(&root, 0, sizeof(root));
	if (cmd->nargs >= 2 && imap_arg_is_atom(&cmd->args[0], "RETURN") &&
	    cmd->args[1].type == IMAP_ARG_LIST) {
		if (parse_return(&cmd->args[1], &ret) < 0) {
			imap_bad(s, NULL, "Invalid RETURN options");
			return;
		}
		esearch = ret != R_SAVE;
		start = 2;
	}
	if (start + 2 <= cmd->nargs &&
	    imap_arg_is_atom(&cmd->args[start], "CHARSET")) {
		charset = imap_arg_string(&cmd->args[start + 1]);
		start += 2;
	}
	if (start >= cmd->nargs ||
	    search_parse(cmd->args + start, cmd->nargs - start, &root,
			   &err) < 0) {
		search_key_free(&root);
		imap_bad(s, NULL, start >= cmd->nargs
					 ? "Invalid SEARCH criteria" : err);
		return;
	}
	resolve_saved(s, &root);
	if (charset == NULL && start >= 2 &&
	    imap_arg_is_atom(&cmd->args[start - 2], "CHARSET")) {
		search_key_free(&root);
		imap_bad(s, NULL, "Invalid CHARSET");
		return;
	}
	/* RFC 9051 6.4.4: a charset we cannot convert is NO [BADCHARSET] */
	if (prepare_keys(&root, charset) < 0 ||
	    (charset != NULL && !charset_known(charset))) {
		search_key_free(&root);
		imap_no(s, "BADCHARSET (UTF-8 US-ASCII)",
			"Unsupported charset");
		return;
	}
	/* RFC 9051 6.4.4: after ENABLE IMAP4rev2, ESEARCH (ALL) */
	if (start == 0 || !imap_arg_is_atom(&cmd->args[0], "RETURN")) {
		if (s->enabled & IMAP_EN_IMAP4REV2) {
			esearch = 1;
			ret = R_ALL;
		}
	}
	j = search_job_new(s, cmd, &root);
	j->ret = ret;
	j->esearch = esearch;
	j->want_modseq = uses_modseq(&j->root);
	if (j->want_modseq)
		s->enabled |= IMAP_EN_CONDSTORE;
	imap_job_run(s, &search_ops, j);
}

/* SORT and THREAD (imap_sort.c, imap_thread.c): see imap_search.h. */
int imap_search_run(struct imap_session *s, const struct imap_command *cmd,
		    size_t first, imap_search_done_fn *done, void *arg,
		    const char **err_r)
{
	struct search_key root;
	struct search_job *j;

	memset(&root, 0, sizeof(root));
	*err_r = "Invalid search criteria";
	if (first >= cmd->nargs ||
	    search_parse(cmd->args + first, cmd->nargs - first, &root,
			 err_r) < 0 ||
	    prepare_keys(&root, NULL) < 0) {
		search_key_free(&root);
		return -1;
	}
	resolve_saved(s, &root);
	j = search_job_new(s, cmd, &root);
	j->done = done;
	j->done_arg = arg;
	imap_job_run(s, strcmp(cmd->name, "THREAD") == 0 ? &thread_ops
							  : &sort_ops, j);
	return 0;
}

void imap_cmd_esearch(struct imap_session *s, const struct imap_command *cmd)
{
	(void)cmd;
	imap_no(s, "CANNOT", "Multi-mailbox ESEARCH is not available yet");
}
