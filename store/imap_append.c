/*
 * imap_append.c - APPEND (RFC 3501 6.3.11) with MULTIAPPEND (RFC 3502),
 * APPENDUID (RFC 4315), APPENDLIMIT/TOOBIG (RFC 7889) and OVERQUOTA.
 *
 * The message literals were streamed into spools while they arrived
 * (imap_session.c); here each spool is delivered through the engine
 * (fsync, link, index, group commit) one after the other, and the tagged
 * reply goes out once every message is durable.  When a later message
 * of a MULTIAPPEND fails, the ones already stored are expunged again
 * (RFC 3502: all or none; other sessions may glimpse them meanwhile,
 * since the engine has no multi-spool transaction).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "log.h"
#include "mailstore.h"
#include "net.h"
#include "strbuf.h"
#include "store/imap.h"
#include "store/imap_acl.h"
#include "store/store.h"

#define APPEND_MAX 16
#define APPEND_MAX_KEYWORDS MSTORE_MAX_KEYWORDS

struct imap_append {
	struct imap_session *s; /* NULL once the session is gone */
	struct mstore *ms;
	char *user;
	char *mailbox;
	size_t n, next;
	struct mstore_spool *spools[APPEND_MAX];
	int own_spools; /* taken over from a closed session */
	struct mstore_target t[APPEND_MAX];
	const char *kw[APPEND_MAX][APPEND_MAX_KEYWORDS + 1];
	uint32_t uids[APPEND_MAX];
	uint32_t uidvalidity;
};

static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
				     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

int imap_parse_datetime(const char *str, int64_t *t_r, int32_t *tz_r)
{
	int day, year, hh, mm, ss, zone, mon, used = 0;
	char monname[4], sign;
	struct tm tm;

	if (sscanf(str, "%2d-%3s-%4d %2d:%2d:%2d %c%4d%n", &day, monname, &year,
		   &hh, &mm, &ss, &sign, &zone, &used) != 8 ||
	    str[used] != '\0' || (sign != '+' && sign != '-'))
		return -1;
	for (mon = 0; mon < 12; mon++)
		if (strcasecmp(monname, months[mon]) == 0)
			break;
	if (mon == 12 || day < 1 || day > 31 || year < 1970 || hh > 23 ||
	    mm > 59 || ss > 60 || zone % 100 > 59 || zone > 2400)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_mday = day;
	tm.tm_mon = mon;
	tm.tm_year = year - 1900;
	tm.tm_hour = hh;
	tm.tm_min = mm;
	tm.tm_sec = ss;
	*tz_r = (zone / 100 * 60 + zone % 100) * (sign == '-' ? -1 : 1);
	*t_r = (int64_t)timegm(&tm) - (int64_t)*tz_r * 60;
	return 0;
}

void imap_write_datetime(struct strbuf *out, int64_t t, int32_t tz)
{
	time_t local = (time_t)(t + (int64_t)tz * 60);
	struct tm tm;
	int z = tz < 0 ? -tz : tz;

	gmtime_r(&local, &tm);
	strbuf_printf(out, "\"%02d-%s-%04d %02d:%02d:%02d %c%02d%02d\"",
		      tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900,
		      tm.tm_hour, tm.tm_min, tm.tm_sec, tz < 0 ? '-' : '+',
		      z / 60, z % 60);
}

/* "(\Seen $Label)" into flags and a keyword array; -1 on bad input. */
static int parse_flags(const struct imap_arg *a, uint32_t *flags_r,
		       const char **kw, size_t max)
{
	static const struct {
		const char *name;
		uint32_t bit;
	} sys[] = {
	    {"\\Seen", MSTORE_F_SEEN},	     {"\\Answered", MSTORE_F_ANSWERED},
	    {"\\Flagged", MSTORE_F_FLAGGED}, {"\\Deleted", MSTORE_F_DELETED},
	    {"\\Draft", MSTORE_F_DRAFT},
	};
	size_t nkw = 0;

	*flags_r = 0;
	for (size_t i = 0; i < a->count; i++) {
		const char *f = imap_arg_string(&a->list[i]);
		size_t k;

		if (f == NULL || a->list[i].type != IMAP_ARG_ATOM)
			return -1;
		if (f[0] == '\\') {
			for (k = 0; k < sizeof(sys) / sizeof(*sys); k++)
				if (strcasecmp(f, sys[k].name) == 0)
					break;
			if (k == sizeof(sys) / sizeof(*sys))
				return -1;
			*flags_r |= sys[k].bit;
			continue;
		}
		if (strlen(f) > MSTORE_KEYWORD_MAX || nkw >= max)
			return -1;
		kw[nkw++] = f;
	}
	kw[nkw] = NULL;
	return 0;
}

static void append_free(struct imap_append *ap)
{
	if (ap->own_spools)
		for (size_t i = 0; i < ap->n; i++)
			mstore_spool_free(&ap->spools[i]);
	free(ap->user);
	free(ap->mailbox);
	free(ap);
}

void imap_append_abandon(struct imap_session *s)
{
	struct imap_append *ap = s->append;

	if (ap == NULL)
		return;
	/* the delivery in flight needs its spools: they go with it */
	ap->s = NULL;
	ap->own_spools = 1;
	for (size_t i = 0; i < s->nspools; i++)
		s->spools[i] = NULL;
	s->nspools = 0;
	s->append = NULL;
}

static void append_reply_error(struct imap_session *s, enum mstore_err e)
{
	switch (e) {
	case MSTORE_E_NOMAILBOX:
		imap_no(s, "TRYCREATE", "No such mailbox");
		break;
	case MSTORE_E_OVERQUOTA:
		imap_no(s, "OVERQUOTA", "Quota exceeded");
		break;
	case MSTORE_E_LIMIT:
		imap_no(s, "LIMIT", "Too many keywords");
		break;
	default:
		imap_no(s, "UNAVAILABLE", "Cannot store the message: %s",
			mstore_strerror(e));
		break;
	}
}

static void append_step(struct imap_append *ap);

static void append_done(void *arg, struct mstore_target *t, size_t n)
{
	struct imap_append *ap = arg;
	struct imap_session *s = ap->s;

	(void)n;
	if (t->result != MSTORE_OK) {
		/* RFC 3502 6.3.11: all or none; take back the ones stored */
		if (ap->next > 0 &&
		    mstore_expunge(ap->ms, ap->t[0].result_mailbox_id, ap->uids,
				   ap->next, NULL, NULL) != MSTORE_OK)
			log_warnx("event=imap_multiappend_undo_failed "
				  "mailbox_id=%u stored=%zu",
				  ap->t[0].result_mailbox_id, ap->next);
		if (s != NULL) {
			s->append = NULL;
			append_reply_error(s, t->result);
		}
		append_free(ap);
		return;
	}
	ap->uids[ap->next] = t->result_uid;
	ap->uidvalidity = t->result_uidvalidity;
	ap->next++;
	if (ap->next < ap->n) {
		append_step(ap);
		return;
	}
	if (s != NULL) {
		struct strbuf code;

		strbuf_init(&code);
		strbuf_printf(&code, "APPENDUID %u ", ap->uidvalidity);
		imap_seqset_write(&code, ap->uids, ap->n);
		s->append = NULL;
		imap_ok(s, code.data, "APPEND completed");
		strbuf_free(&code);
	}
	append_free(ap);
}

static void append_step(struct imap_append *ap)
{
	enum mstore_err e;

	e = mstore_deliver(ap->ms, ap->spools[ap->next], &ap->t[ap->next], 1,
			   append_done, ap);
	if (e != MSTORE_OK) {
		ap->t[ap->next].result = e;
		append_done(ap, &ap->t[ap->next], 1);
	}
}

/* Reads "[flags] [date] literal" groups after the mailbox name. */
static int parse_groups(struct imap_session *s, const struct imap_command *cmd,
			struct imap_append *ap, const char **err_r)
{
	size_t i = 1;

	while (i < cmd->nargs) {
		struct mstore_target *t = &ap->t[ap->n];
		const struct imap_arg *a = &cmd->args[i];

		if (ap->n >= APPEND_MAX) {
			*err_r = "Too many messages";
			return -1;
		}
		if (a->type == IMAP_ARG_LIST) {
			if (parse_flags(a, &t->flags, ap->kw[ap->n],
					APPEND_MAX_KEYWORDS) < 0) {
				*err_r = "Invalid flags";
				return -1;
			}
			t->keywords = ap->kw[ap->n][0] ? ap->kw[ap->n] : NULL;
			if (++i >= cmd->nargs)
				goto missing;
			a = &cmd->args[i];
		}
		if (a->type == IMAP_ARG_QUOTED) {
			if (imap_parse_datetime(a->str, &t->internaldate,
						&t->tz_offset) < 0) {
				*err_r = "Invalid date-time";
				return -1;
			}
			if (++i >= cmd->nargs)
				goto missing;
			a = &cmd->args[i];
		}
		if (a->type != IMAP_ARG_SPOOL) {
			*err_r = "Message literal expected";
			return -1;
		}
		if (a->spool_size == 0) {
			*err_r = "Empty message";
			return -1;
		}
		ap->spools[ap->n] = a->spool;
		t->user = ap->user;
		t->mailbox = ap->mailbox;
		ap->n++;
		i++;
	}
	if (ap->n == 0)
		goto missing;
	(void)s;
	return 0;
missing:
	*err_r = "Message literal expected";
	return -1;
}

void imap_cmd_append(struct imap_session *s, const struct imap_command *cmd)
{
	struct imap_append *ap;
	struct mstore_mailbox mb;
	const char *err = NULL;
	char *name;
	uint32_t rights;
	enum mstore_err e;

	if ((name = imap_mailbox_arg(s, &cmd->args[0])) == NULL)
		return;
	ap = xcalloc(1, sizeof(*ap));
	ap->s = s;
	ap->ms = s->st->ms;
	ap->user = xstrdup(s->user);
	ap->mailbox = name;
	if (parse_groups(s, cmd, ap, &err) < 0) {
		append_free(ap);
		imap_bad(s, NULL, "APPEND: %s", err);
		return;
	}
	/* RFC 4314 4: APPEND needs "i"; the mailbox may be another user's */
	e = imap_acl_mailbox(s, name, "i", &mb, &rights);
	if (e != MSTORE_OK) {
		append_free(ap);
		if ((int)e == IMAP_ACL_E_NOPERM)
			imap_no(s, "NOPERM", "No right to append here");
		else
			append_reply_error(s, e);
		return;
	}
	free(ap->user);
	free(ap->mailbox);
	ap->user = xstrdup(mb.owner);
	ap->mailbox = xstrdup(mb.name);
	for (size_t i = 0; i < ap->n; i++) {
		ap->t[i].user = ap->user;
		ap->t[i].mailbox = ap->mailbox;
		imap_acl_filter_flags(s, mb.owner, rights, &ap->t[i].flags,
				      &ap->t[i].keywords);
	}
	mstore_mailbox_clear(&mb);
	s->append = ap;
	imap_cmd_wait(s);
	append_step(ap);
}
