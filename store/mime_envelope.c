/*
 * mime_envelope.c - RFC 5322 address lists, the RFC 3501 ENVELOPE, dates
 * and the RFC 5256 base subject (mime.h).
 */
#include "mime.h"

#include <stdlib.h>
#include <string.h>

#define IS_WSP(c) ((c) == ' ' || (c) == '\t')

/* ---- IMAP strings ------------------------------------------------------- */

void mime_imap_nstring(struct strbuf *out, const char *s, size_t len)
{
	size_t i, nul = 0;
	int literal = 0;

	if (s == NULL) {
		strbuf_adds(out, "NIL");
		return;
	}
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == 0)
			nul++;
		else if (c >= 0x80 || c == '\r' || c == '\n')
			literal = 1;
	}
	if (literal) {
		/* RFC 3501 4.3: 8-bit or line breaks need a literal. */
		strbuf_printf(out, "{%zu}\r\n", len - nul);
		for (i = 0; i < len; i++)
			if (s[i] != '\0')
				strbuf_addc(out, s[i]);
		return;
	}
	strbuf_reserve(out, len + 2);
	strbuf_addc(out, '"');
	for (i = 0; i < len; i++) {
		if (s[i] == '\0')
			continue;
		if (s[i] == '"' || s[i] == '\\')
			strbuf_addc(out, '\\');
		strbuf_addc(out, s[i]);
	}
	strbuf_addc(out, '"');
}

void mime_imap_nstr(struct strbuf *out, const char *s)
{
	mime_imap_nstring(out, s, s != NULL ? strlen(s) : 0);
}

/* ---- address lexer ------------------------------------------------------ */

enum tok_type { T_WORD, T_QUOTED, T_DOMLIT, T_SPECIAL };

struct tok {
	enum tok_type type;
	char special;	 /* for T_SPECIAL: < > : ; @ , */
	size_t off, len; /* text in the lexer's string pool */
};

struct comment {
	size_t off;    /* text in the pool */
	size_t before; /* index of the token that follows it */
};

struct lexer {
	struct tok *toks;
	size_t n, cap;
	struct strbuf pool; /* token texts, NUL-separated */
	struct comment *comments;
	size_t ncomments;
};

static struct tok *lex_add(struct lexer *lx, enum tok_type type)
{
	struct tok *t;

	if (lx->n == lx->cap) {
		lx->cap = lx->cap ? lx->cap * 2 : 16;
		lx->toks = xrealloc(lx->toks, lx->cap * sizeof(*lx->toks));
	}
	t = &lx->toks[lx->n++];
	t->type = type;
	t->special = 0;
	t->off = lx->pool.len;
	t->len = 0;
	return t;
}

static void lex_end(struct lexer *lx, struct tok *t)
{
	t->len = lx->pool.len - t->off;
	strbuf_addc(&lx->pool, '\0');
}

static size_t lex_comment(struct lexer *lx, const char *s, size_t len, size_t i)
{
	size_t start = lx->pool.len;
	int depth = 0;

	for (; i < len; i++) {
		if (s[i] == '\\' && i + 1 < len) {
			strbuf_addc(&lx->pool, s[++i]);
			continue;
		}
		if (s[i] == '(' && depth++ == 0)
			continue;
		if (s[i] == ')' && --depth == 0)
			break;
		strbuf_addc(&lx->pool, s[i]);
	}
	strbuf_addc(&lx->pool, '\0');
	lx->comments =
	    xrealloc(lx->comments, (lx->ncomments + 1) * sizeof(*lx->comments));
	lx->comments[lx->ncomments].off = start;
	lx->comments[lx->ncomments++].before = lx->n;
	return i < len ? i + 1 : len;
}

static void lex(struct lexer *lx, const char *s, size_t len)
{
	size_t i = 0;
	struct tok *t;

	while (i < len) {
		char c = s[i];

		if (IS_WSP(c)) {
			i++;
		} else if (c == '(') {
			i = lex_comment(lx, s, len, i);
		} else if (c == '"') {
			t = lex_add(lx, T_QUOTED);
			for (i++; i < len && s[i] != '"'; i++) {
				if (s[i] == '\\' && i + 1 < len)
					i++;
				strbuf_addc(&lx->pool, s[i]);
			}
			i = i < len ? i + 1 : len;
			lex_end(lx, t);
		} else if (c == '[') {
			t = lex_add(lx, T_DOMLIT);
			for (; i < len && s[i] != ']'; i++)
				if (!IS_WSP(s[i]))
					strbuf_addc(&lx->pool, s[i]);
			strbuf_addc(&lx->pool, ']');
			i = i < len ? i + 1 : len;
			lex_end(lx, t);
		} else if (c == ')' || c == ']') {
			i++; /* stray closer */
		} else if (strchr("<>:;@,", c) != NULL) {
			t = lex_add(lx, T_SPECIAL);
			t->special = c;
			strbuf_addc(&lx->pool, c);
			lex_end(lx, t);
			i++;
		} else {
			t = lex_add(lx, T_WORD);
			do
				strbuf_addc(&lx->pool, s[i++]);
			while (i < len && !IS_WSP(s[i]) && s[i] != '\0' &&
			       strchr("()\"[]<>:;@,", s[i]) == NULL);
			lex_end(lx, t);
		}
	}
}

/* ---- address parser ----------------------------------------------------- */

struct aparse {
	struct lexer lx;
	struct mime_address *head, **tail, *last;
};

static const char *tok_text(struct aparse *ap, size_t i)
{
	return ap->lx.pool.data + ap->lx.toks[i].off;
}

static int is_special(struct aparse *ap, size_t i, char c)
{
	return i < ap->lx.n && ap->lx.toks[i].type == T_SPECIAL &&
	       ap->lx.toks[i].special == c;
}

static void emit(struct aparse *ap, char *name, char *route, char *mailbox,
		 char *domain)
{
	struct mime_address *a = xcalloc(1, sizeof(*a));

	a->name = name;
	a->route = route;
	a->mailbox = mailbox;
	a->domain = domain;
	*ap->tail = a;
	ap->tail = &a->next;
	ap->last = a;
}

/* Joins tokens [from, to): words with spaces (phrase) or without. */
static char *join(struct aparse *ap, size_t from, size_t to, int spaces)
{
	struct strbuf b;
	size_t i;
	int prev_word = 0;

	strbuf_init(&b);
	for (i = from; i < to; i++) {
		const struct tok *t = &ap->lx.toks[i];

		if (t->type == T_SPECIAL && t->special != '@' &&
		    t->special != ':')
			continue;
		if (t->type == T_SPECIAL) {
			strbuf_addc(&b, t->special);
			prev_word = 0;
			continue;
		}
		if (spaces && prev_word)
			strbuf_addc(&b, ' ');
		strbuf_adds(&b, tok_text(ap, i));
		prev_word = 1;
	}
	if (b.len == 0 && spaces) {
		strbuf_free(&b);
		return NULL;
	}
	return strbuf_steal(&b, NULL);
}

static size_t count_words(struct aparse *ap, size_t from, size_t to)
{
	size_t i, n = 0;

	for (i = from; i < to; i++)
		n += ap->lx.toks[i].type != T_SPECIAL;
	return n;
}

/*
 * The first non-empty comment placed before token from..to (to = the token
 * that ends the address), as the name of an address without one.
 */
static char *comment_name(struct aparse *ap, size_t from, size_t to)
{
	struct strbuf b;
	size_t i;

	size_t lo = 0, hi = ap->lx.ncomments, mid;

	/* Comments are in token order: binary search for the first one. */
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (ap->lx.comments[mid].before < from)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (i = lo; i < ap->lx.ncomments; i++) {
		const struct comment *c = &ap->lx.comments[i];
		const char *text = ap->lx.pool.data + c->off;

		if (c->before > to)
			break;
		strbuf_init(&b);
		mime_header_unfold(text, strlen(text), &b);
		if (b.len > 0)
			return strbuf_steal(&b, NULL);
		strbuf_free(&b);
	}
	return NULL;
}

/* An addr-spec in tokens [from, to): local-part "@" domain. */
static void emit_addr_spec(struct aparse *ap, char *name, char *route,
			   size_t from, size_t to)
{
	size_t at = from;

	while (at < to && !is_special(ap, at, '@'))
		at++;
	if (at == to && name == NULL && count_words(ap, from, to) > 1) {
		/* "John Doe" with no address at all */
		emit(ap, join(ap, from, to, 1), route, xstrdup(""),
		     xstrdup(""));
		return;
	}
	emit(ap, name, route, join(ap, from, at, 0),
	     at < to ? join(ap, at + 1, to, 0) : xstrdup(""));
}

/* "<" [route ":"] addr-spec ">" starting after the "<" at i. */
static size_t parse_angle(struct aparse *ap, size_t i, char *name)
{
	size_t n = ap->lx.n, end, r;
	char *route = NULL;

	if (is_special(ap, i, '@')) {
		/* obs-route: "@a,@b:" (its commas do not end the address;
		 * stopping at '<' keeps hostile input linear) */
		for (r = i; r < n && !is_special(ap, r, ':') &&
			    !is_special(ap, r, '>') &&
			    !is_special(ap, r, ';') && !is_special(ap, r, '<');
		     r++)
			;
		if (r < n && is_special(ap, r, ':')) {
			struct strbuf b;
			size_t k;

			strbuf_init(&b);
			for (k = i; k < r; k++) {
				const struct tok *t = &ap->lx.toks[k];

				if (t->type == T_SPECIAL)
					strbuf_addc(&b, t->special);
				else
					strbuf_adds(&b, tok_text(ap, k));
			}
			route = strbuf_steal(&b, NULL);
			i = r + 1;
		}
	}
	end = i;
	while (end < n && !is_special(ap, end, '>') &&
	       !is_special(ap, end, ',') && !is_special(ap, end, ';'))
		end++;
	emit_addr_spec(ap, name, route, i, end);
	if (ap->last != NULL && ap->last->name == NULL)
		ap->last->name = comment_name(ap, end, end + 1);
	return end < n && is_special(ap, end, '>') ? end + 1 : end;
}

struct mime_address *mime_address_parse(const char *value, size_t len)
{
	struct aparse ap;
	struct strbuf u;
	size_t i = 0, j, n;
	int in_group = 0;

	memset(&ap, 0, sizeof(ap));
	ap.tail = &ap.head;
	strbuf_init(&ap.lx.pool);
	strbuf_init(&u);
	mime_header_unfold(value, len, &u);
	lex(&ap.lx, u.data, u.len);
	n = ap.lx.n;
	while (i < n) {
		if (is_special(&ap, i, ',') || is_special(&ap, i, '>')) {
			i++;
			continue;
		}
		if (is_special(&ap, i, ';')) {
			if (in_group)
				emit(&ap, NULL, NULL, NULL, NULL);
			in_group = 0;
			i++;
			continue;
		}
		for (j = i; j < n; j++) {
			if (is_special(&ap, j, '<') ||
			    is_special(&ap, j, ',') ||
			    is_special(&ap, j, ';') ||
			    (!in_group && is_special(&ap, j, ':')))
				break;
		}
		if (j < n && is_special(&ap, j, ':')) {
			char *g = join(&ap, i, j, 1);

			emit(&ap, NULL, NULL, g != NULL ? g : xstrdup(""),
			     NULL);
			in_group = 1;
			i = j + 1;
			continue;
		}
		if (j < n && is_special(&ap, j, '<')) {
			/* Skip to the end of this address after the '>'. */
			i = parse_angle(&ap, j + 1, join(&ap, i, j, 1));
			while (i < n && !is_special(&ap, i, ',') &&
			       !is_special(&ap, i, ';'))
				i++;
			continue;
		}
		if (count_words(&ap, i, j) > 0)
			emit_addr_spec(&ap, comment_name(&ap, i, j), NULL, i,
				       j);
		i = j;
	}
	if (in_group)
		emit(&ap, NULL, NULL, NULL, NULL);
	free(ap.lx.toks);
	free(ap.lx.comments);
	strbuf_free(&ap.lx.pool);
	strbuf_free(&u);
	return ap.head;
}

void mime_address_free(struct mime_address **list)
{
	struct mime_address *a = *list, *next;

	for (; a != NULL; a = next) {
		next = a->next;
		free(a->name);
		free(a->route);
		free(a->mailbox);
		free(a->domain);
		free(a);
	}
	*list = NULL;
}

/* ---- ENVELOPE ----------------------------------------------------------- */

static void add_address_list(struct strbuf *out, struct mime_address *list)
{
	struct mime_address *a;

	if (list == NULL) {
		strbuf_adds(out, "NIL");
		return;
	}
	strbuf_addc(out, '(');
	for (a = list; a != NULL; a = a->next) {
		strbuf_addc(out, '(');
		mime_imap_nstr(out, a->name);
		strbuf_addc(out, ' ');
		mime_imap_nstr(out, a->route);
		strbuf_addc(out, ' ');
		mime_imap_nstr(out, a->mailbox);
		strbuf_addc(out, ' ');
		mime_imap_nstr(out, a->domain);
		strbuf_addc(out, ')');
	}
	strbuf_addc(out, ')');
}

enum env_field {
	ENV_DATE,
	ENV_SUBJECT,
	ENV_FROM,
	ENV_SENDER,
	ENV_REPLY_TO,
	ENV_TO,
	ENV_CC,
	ENV_BCC,
	ENV_IN_REPLY_TO,
	ENV_MESSAGE_ID,
	ENV_COUNT
};

static const char *const env_names[ENV_COUNT] = {
    "date", "subject", "from", "sender",      "reply-to",
    "to",   "cc",      "bcc",  "in-reply-to", "message-id",
};

static int env_is_address(int k)
{
	return k >= ENV_FROM && k <= ENV_BCC;
}

void mime_envelope_build(const char *hdr, size_t len, struct strbuf *out)
{
	struct mime_header_field f, found[ENV_COUNT];
	struct mime_address *addrs[ENV_COUNT] = {NULL};
	int have[ENV_COUNT] = {0}, k;
	size_t pos = 0;
	struct strbuf v;

	while (mime_header_next(hdr, len, &pos, &f)) {
		for (k = 0; k < ENV_COUNT; k++) {
			if (!have[k] &&
			    mime_strcaseeq(f.name, f.name_len, env_names[k])) {
				have[k] = 1;
				found[k] = f;
			}
		}
	}
	for (k = ENV_FROM; k <= ENV_BCC; k++)
		if (have[k])
			addrs[k] = mime_address_parse(found[k].value,
						      found[k].value_len);
	strbuf_init(&v);
	strbuf_addc(out, '(');
	for (k = 0; k < ENV_COUNT; k++) {
		if (k > 0)
			strbuf_addc(out, ' ');
		if (env_is_address(k)) {
			/* RFC 3501 7.4.2: absent or empty Sender and
			 * Reply-To take the value of From. */
			if ((k == ENV_SENDER || k == ENV_REPLY_TO) &&
			    addrs[k] == NULL)
				add_address_list(out, addrs[ENV_FROM]);
			else
				add_address_list(out, addrs[k]);
			continue;
		}
		if (!have[k]) {
			strbuf_adds(out, "NIL");
			continue;
		}
		strbuf_reset(&v);
		mime_header_unfold(found[k].value, found[k].value_len, &v);
		mime_imap_nstring(out, v.data, v.len);
	}
	strbuf_addc(out, ')');
	strbuf_free(&v);
	for (k = 0; k < ENV_COUNT; k++)
		mime_address_free(&addrs[k]);
}

/* ---- dates -------------------------------------------------------------- */

struct date_parts {
	int year, month, day, hour, min, sec, zone_min;
	int have_time, have_zone;
};

static int lcase(int c)
{
	return (c >= 'A' && c <= 'Z') ? c + 32 : c;
}

static int month_of(const char *t, size_t n)
{
	static const char months[] = "janfebmaraprmayjunjulaugsepoctnovdec";
	int m;

	if (n < 3)
		return 0;
	for (m = 0; m < 12; m++) {
		if (lcase((unsigned char)t[0]) == months[m * 3] &&
		    lcase((unsigned char)t[1]) == months[m * 3 + 1] &&
		    lcase((unsigned char)t[2]) == months[m * 3 + 2])
			return m + 1;
	}
	return 0;
}

/* RFC 5322 4.3 obsolete zone names; military letters count as 0. */
static int zone_name(const char *t, size_t n, int *min_r)
{
	static const struct {
		const char *name;
		int hours;
	} zones[] = {
	    {"ut", 0},	 {"utc", 0},  {"gmt", 0},  {"z", 0},
	    {"est", -5}, {"edt", -4}, {"cst", -6}, {"cdt", -5},
	    {"mst", -7}, {"mdt", -6}, {"pst", -8}, {"pdt", -7},
	};
	size_t k;

	for (k = 0; k < sizeof(zones) / sizeof(zones[0]); k++) {
		if (mime_strcaseeq(t, n, zones[k].name)) {
			*min_r = zones[k].hours * 60;
			return 1;
		}
	}
	if (n == 1) {
		*min_r = 0;
		return 1;
	}
	return 0;
}

static int all_digits(const char *t, size_t n)
{
	size_t i;

	if (n == 0)
		return 0;
	for (i = 0; i < n; i++)
		if (t[i] < '0' || t[i] > '9')
			return 0;
	return 1;
}

static int num(const char *t, size_t n)
{
	int v = 0;
	size_t i;

	for (i = 0; i < n && i < 9; i++)
		v = v * 10 + (t[i] - '0');
	return v;
}

static void date_time(struct date_parts *d, const char *t, size_t n)
{
	int f[3] = {0, 0, 0}, k = 0;
	size_t i, start = 0;

	for (i = 0; i <= n && k < 3; i++) {
		if (i == n || t[i] == ':' || t[i] == '.') {
			if (!all_digits(t + start, i - start))
				return;
			f[k++] = num(t + start, i - start);
			start = i + 1;
		}
	}
	if (k < 2 || f[0] > 23 || f[1] > 59 || f[2] > 60)
		return;
	d->hour = f[0];
	d->min = f[1];
	d->sec = f[2] == 60 ? 59 : f[2];
	d->have_time = 1;
}

static void date_token(struct date_parts *d, const char *t, size_t n)
{
	int m, z;

	if (n == 0)
		return;
	if ((t[0] == '+' || t[0] == '-') && n == 5 && all_digits(t + 1, 4) &&
	    !d->have_zone) {
		z = num(t + 1, 2) * 60 + num(t + 3, 2);
		d->zone_min = t[0] == '-' ? -z : z;
		d->have_zone = 1;
	} else if (memchr(t, ':', n) != NULL) {
		if (!d->have_time)
			date_time(d, t, n);
	} else if (all_digits(t, n)) {
		int v = num(t, n);

		if (d->day == 0 && n <= 2 && v >= 1 && v <= 31)
			d->day = v;
		else if (d->year < 0 && n <= 4)
			d->year = n == 4 ? v : v < 50 ? 2000 + v : 1900 + v;
	} else if ((m = month_of(t, n)) != 0 && n <= 9 && d->month == 0) {
		d->month = m;
	} else if (d->have_time && !d->have_zone && zone_name(t, n, &z)) {
		d->zone_min = z;
		d->have_zone = 1;
	} else if (d->have_time && mime_strcaseeq(t, n, "pm") && d->hour < 12) {
		d->hour += 12;
	}
}

/* A '-' inside a word separates "1-Jan-2024" fields; ISO "2024-01-31". */
static void date_word(struct date_parts *d, const char *t, size_t n)
{
	size_t i, start = 0;

	if (n == 10 && all_digits(t, 4) && t[4] == '-' &&
	    all_digits(t + 5, 2) && t[7] == '-' && all_digits(t + 8, 2)) {
		d->year = num(t, 4);
		d->month = num(t + 5, 2);
		d->day = num(t + 8, 2);
		if (d->month > 12)
			d->month = 0;
		return;
	}
	if (t[0] == '+' || t[0] == '-') {
		date_token(d, t, n);
		return;
	}
	for (i = 0; i <= n; i++) {
		if (i == n || t[i] == '-') {
			date_token(d, t + start, i - start);
			start = i + 1;
		}
	}
}

/* Days since 1970-01-01 of a proleptic Gregorian date. */
static long days_from_civil(long y, int m, int d)
{
	long era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

time_t mime_date_parse(const char *value, size_t len)
{
	struct date_parts d = {.year = -1};
	size_t i = 0, start;
	static const int mdays[] = {31, 29, 31, 30, 31, 30,
				    31, 31, 30, 31, 30, 31};

	while (i < len) {
		char c = value[i];

		if (c == '(') {
			int depth = 0;

			for (; i < len; i++) {
				if (value[i] == '(')
					depth++;
				else if (value[i] == ')' && --depth == 0)
					break;
			}
			i++;
			continue;
		}
		if (IS_WSP(c) || c == ',' || c == '\r' || c == '\n') {
			i++;
			continue;
		}
		start = i;
		while (i < len && !IS_WSP(value[i]) && value[i] != ',' &&
		       value[i] != '(' && value[i] != '\r' && value[i] != '\n')
			i++;
		date_word(&d, value + start, i - start);
	}
	if (d.year < 1900 || d.year > 9999 || d.month == 0 || d.day == 0 ||
	    d.day > mdays[d.month - 1])
		return 0;
	return (time_t)days_from_civil(d.year, d.month, d.day) * 86400 +
	       d.hour * 3600 + d.min * 60 + d.sec - (time_t)d.zone_min * 60;
}

/* ---- RFC 5256 base subject ---------------------------------------------- */

static int prefix_ci(const char *s, const char *p)
{
	for (; *p != '\0'; s++, p++)
		if (lcase((unsigned char)*s) != *p)
			return 0;
	return 1;
}

/* Length of a subj-blob ("[" *BLOBCHAR "]" *WSP) at s, or 0. */
static size_t blob_len(const char *s)
{
	size_t i = 1;

	if (s[0] != '[')
		return 0;
	while (s[i] != '\0' && s[i] != '[' && s[i] != ']')
		i++;
	if (s[i] != ']')
		return 0;
	i++;
	while (s[i] == ' ')
		i++;
	return i;
}

/* Length of one subj-leader: *subj-blob subj-refwd, or WSP; or 0. */
static size_t leader_len(const char *s)
{
	size_t i = 0, b;

	if (s[0] == ' ')
		return 1;
	while ((b = blob_len(s + i)) != 0)
		i += b;
	if (prefix_ci(s + i, "re"))
		i += 2;
	else if (prefix_ci(s + i, "fwd"))
		i += 3;
	else if (prefix_ci(s + i, "fw"))
		i += 2;
	else
		return 0;
	while (s[i] == ' ')
		i++;
	i += blob_len(s + i);
	return s[i] == ':' ? i + 1 : 0;
}

char *mime_base_subject(const char *subject_utf8)
{
	struct strbuf b;
	size_t n, k, start;
	char *s;
	int changed, sp = 0;

	/* Step 1: white space runs become one space. */
	strbuf_init(&b);
	for (; *subject_utf8 != '\0'; subject_utf8++) {
		char c = *subject_utf8;

		if (IS_WSP(c) || c == '\r' || c == '\n') {
			sp = 1;
			continue;
		}
		if (sp && b.len > 0)
			strbuf_addc(&b, ' ');
		sp = 0;
		strbuf_addc(&b, c);
	}
	s = b.data;
	start = 0;
	n = b.len;
	for (;;) {
		/* Step 2: trailing "(fwd)" and white space. */
		for (;;) {
			if (n > start && s[n - 1] == ' ')
				n--;
			else if (n - start >= 5 &&
				 prefix_ci(s + n - 5, "(fwd)"))
				n -= 5;
			else
				break;
		}
		s[n] = '\0';
		/* Steps 3-5: leaders and blobs, until nothing changes. */
		do {
			changed = 0;
			while ((k = leader_len(s + start)) != 0) {
				start += k;
				changed = 1;
			}
			/* Step 4, for every blob at once: the leader test
			 * just failed after these blobs and would fail
			 * again after each one (keeps this linear). */
			while ((k = blob_len(s + start)) != 0 &&
			       start + k < n) {
				start += k;
				changed = 1;
			}
		} while (changed);
		/* Step 6: "[fwd:" ... "]" */
		if (n - start >= 6 && prefix_ci(s + start, "[fwd:") &&
		    s[n - 1] == ']') {
			start += 5;
			n--;
			s[n] = '\0';
			continue;
		}
		break;
	}
	s = xstrndup(s + start, n - start);
	strbuf_free(&b);
	return s;
}
