/*
 * mime.c - the one-pass MIME structure parser, BODY/BODYSTRUCTURE and
 * section lookup (mime.h).
 *
 * The parser walks the message line by line exactly once.  It keeps the
 * chain of open parts from the top message down to the current one; each
 * multipart on the chain contributes its boundary.  A line starting with
 * "--" is compared with those boundaries, innermost first (so a boundary
 * that is a prefix of an inner one cannot steal its lines), and a match
 * closes every part opened below that multipart (RFC 2046 5.1.2: an outer
 * boundary ends the inner parts too).  Work per line is bounded by the
 * depth limit, so the whole parse is linear in the message size; line
 * counts come from a running line number, not from rescanning bodies.
 */
#include "mime.h"

#include <stdlib.h>
#include <string.h>

/* What BODYSTRUCTURE needs of a part beyond struct mime_part; parse only. */
struct pinfo {
	struct mime_content ct; /* type NULL: no valid Content-Type */
	struct mime_content disp;
	char *id, *desc, *md5, *lang, *loc;
	size_t body_line;     /* line feeds before body_off */
	const char *boundary; /* in ct.params */
	size_t boundary_len;
	int closed; /* multipart after its close delimiter */
};

struct parser {
	const char *data;
	size_t len;
	struct mime_message *m;
	struct pinfo *pi;
	unsigned int cap;
	int chain[MIME_MAX_DEPTH];
	unsigned int depth;
	int in_header; /* the top of the chain is in its header */
	int active;    /* open multiparts on the chain */
	int no_more;   /* part limit hit: boundaries are ignored */
};

static int new_part(struct parser *p, int parent, size_t off, uint32_t flags)
{
	struct mime_message *m = p->m;
	struct mime_part *part;
	int idx = (int)m->nparts;

	if (m->nparts == p->cap) {
		p->cap = p->cap ? p->cap * 2 : 8;
		m->parts = xrealloc(m->parts, p->cap * sizeof(*m->parts));
		p->pi = xrealloc(p->pi, p->cap * sizeof(*p->pi));
	}
	part = &m->parts[idx];
	memset(part, 0, sizeof(*part));
	memset(&p->pi[idx], 0, sizeof(p->pi[idx]));
	part->parent = parent;
	part->first_child = part->next_sibling = -1;
	part->flags = flags;
	part->header_off = part->body_off = off;
	m->nparts++;
	return idx;
}

static void push(struct parser *p, int idx)
{
	p->chain[p->depth++] = idx;
}

static void close_part(struct parser *p, int idx, size_t end, size_t lf_end)
{
	struct mime_part *part = &p->m->parts[idx];

	if (end <= part->body_off) {
		part->body_len = 0;
		part->body_lines = 0;
		return;
	}
	part->body_len = end - part->body_off;
	part->body_lines =
	    lf_end - p->pi[idx].body_line + (p->data[end - 1] != '\n');
}

static void pop(struct parser *p, size_t end, size_t lf_end)
{
	int idx = p->chain[--p->depth];

	if (p->m->parts[idx].kind == MIME_PART_MULTIPART && !p->pi[idx].closed)
		p->active--;
	close_part(p, idx, end, lf_end);
}

static char *unfolded(const struct mime_header_field *f)
{
	struct strbuf b;

	strbuf_init(&b);
	mime_header_unfold(f->value, f->value_len, &b);
	return strbuf_steal(&b, NULL);
}

static void set_once(char **dst, const struct mime_header_field *f)
{
	if (*dst == NULL)
		*dst = unfolded(f);
}

/* Reads the Content-* fields of a part's header into pi. */
static void read_content_fields(struct parser *p, int idx, char **cte_r)
{
	const struct mime_part *part = &p->m->parts[idx];
	const char *hdr = p->data + part->header_off;
	struct pinfo *pi = &p->pi[idx];
	struct mime_header_field f;
	size_t pos = 0;
	int have_ct = 0, have_disp = 0;

	while (mime_header_next(hdr, part->header_len, &pos, &f)) {
		const char *n = f.name + 8;
		size_t nl = f.name_len - 8;

		if (f.name_len <= 8 || strncasecmp(f.name, "content-", 8) != 0)
			continue;
		if (mime_strcaseeq(n, nl, "type") && !have_ct) {
			mime_content_parse(f.value, f.value_len, 1, &pi->ct);
			have_ct = 1;
		} else if (mime_strcaseeq(n, nl, "disposition") && !have_disp) {
			mime_content_parse(f.value, f.value_len, 0, &pi->disp);
			have_disp = 1;
		} else if (mime_strcaseeq(n, nl, "transfer-encoding")) {
			set_once(cte_r, &f);
		} else if (mime_strcaseeq(n, nl, "id")) {
			set_once(&pi->id, &f);
		} else if (mime_strcaseeq(n, nl, "description")) {
			set_once(&pi->desc, &f);
		} else if (mime_strcaseeq(n, nl, "md5")) {
			set_once(&pi->md5, &f);
		} else if (mime_strcaseeq(n, nl, "language")) {
			set_once(&pi->lang, &f);
		} else if (mime_strcaseeq(n, nl, "location")) {
			set_once(&pi->loc, &f);
		}
	}
}

/* The mechanism of an unfolded Content-Transfer-Encoding, lower case. */
static char *encoding_of(char *cte)
{
	size_t i = 0, start = 0, k;
	char *e;

	if (cte == NULL)
		return xstrdup("7bit");
	if (cte[0] == '"')
		start = i = 1; /* not allowed, but seen */
	while (cte[i] != '\0' && cte[i] != ' ' && cte[i] != '\t' &&
	       cte[i] != ';' && cte[i] != '(' && cte[i] != '"')
		i++;
	e = i > start ? xstrndup(cte + start, i - start) : xstrdup("7bit");
	for (k = 0; e[k] != '\0'; k++)
		if (e[k] >= 'A' && e[k] <= 'Z')
			e[k] = (char)(e[k] + 32);
	free(cte);
	return e;
}

static void set_type(struct mime_part *part, const char *type,
		     const char *subtype)
{
	free(part->type);
	free(part->subtype);
	part->type = xstrdup(type);
	part->subtype = xstrdup(subtype);
}

/* A part past the limits: its content stays opaque. */
static void make_opaque(struct parser *p, int idx)
{
	mime_content_free(&p->pi[idx].ct);
	set_type(&p->m->parts[idx], "application", "octet-stream");
	p->m->parts[idx].kind = MIME_PART_LEAF;
	p->m->flags |= MIME_MESSAGE_LIMITED;
}

static void finish_header(struct parser *p, int idx, int descend);

/* Opens the embedded message of message/rfc822 part idx. */
static void open_message(struct parser *p, int idx, int descend)
{
	struct mime_part *part = &p->m->parts[idx];
	int child;

	if (p->depth >= MIME_MAX_DEPTH || p->m->nparts >= MIME_MAX_PARTS) {
		make_opaque(p, idx);
		return;
	}
	part->kind = MIME_PART_MESSAGE;
	child = new_part(p, idx, part->body_off, MIME_PART_ROOT);
	p->pi[child].body_line = p->pi[idx].body_line;
	if (descend) {
		push(p, child);
		p->in_header = 1;
		return;
	}
	/* No room for a body: an empty embedded message. */
	finish_header(p, child, 0);
}

/*
 * Decides a part's type from its header once header_len and body_off are
 * known.  descend: the body follows in the input (0 when the part was cut
 * off before its body).
 */
static void finish_header(struct parser *p, int idx, int descend)
{
	struct mime_part *part = &p->m->parts[idx];
	struct pinfo *pi = &p->pi[idx];
	const struct mime_part *parent =
	    part->parent >= 0 ? &p->m->parts[part->parent] : NULL;
	char *cte = NULL;
	const char *cs;

	read_content_fields(p, idx, &cte);
	part->encoding = encoding_of(cte);
	if (pi->ct.type != NULL && strcmp(pi->ct.type, "multipart") == 0) {
		pi->boundary = mime_param_get(&pi->ct, "boundary");
		if (pi->boundary == NULL || pi->boundary[0] == '\0')
			mime_content_free(&pi->ct); /* RFC 2046 5.1.1 */
		else
			pi->boundary_len = strlen(pi->boundary);
	}
	if (pi->ct.type != NULL)
		set_type(part, pi->ct.type, pi->ct.subtype);
	else if (parent != NULL && parent->kind == MIME_PART_MULTIPART &&
		 strcmp(parent->subtype, "digest") == 0)
		set_type(part, "message", "rfc822"); /* RFC 2046 5.1.5 */
	else
		set_type(part, "text", "plain");
	cs = mime_param_get(&pi->ct, "charset");
	if (cs != NULL)
		part->charset = xstrdup(cs);
	else if (strcmp(part->type, "text") == 0)
		part->charset = xstrdup("us-ascii");

	if (strcmp(part->type, "multipart") == 0) {
		if (p->depth >= MIME_MAX_DEPTH) {
			make_opaque(p, idx);
			return;
		}
		part->kind = MIME_PART_MULTIPART;
		/* A multipart cut off before its body matches no boundary. */
		pi->closed = !descend;
		p->active += descend;
	} else if (strcmp(part->type, "message") == 0 &&
		   strcmp(part->subtype, "rfc822") == 0) {
		open_message(p, idx, descend);
	}
}

/* The blank line ending the current header was the line before body_off. */
static void end_header(struct parser *p, size_t body_off, size_t body_line)
{
	int idx = p->chain[p->depth - 1];
	struct mime_part *part = &p->m->parts[idx];

	part->header_len = body_off - part->header_off;
	part->body_off = body_off;
	p->pi[idx].body_line = body_line;
	p->in_header = 0;
	finish_header(p, idx, 1);
}

/* The top part's header was cut off at pos by a boundary or the end. */
static void cut_header(struct parser *p, size_t pos, size_t line)
{
	int idx = p->chain[p->depth - 1];
	struct mime_part *part = &p->m->parts[idx];

	part->header_len = pos - part->header_off;
	part->body_off = pos;
	p->pi[idx].body_line = line;
	p->in_header = 0;
	finish_header(p, idx, 0);
}

/*
 * Is line[0..len) ("--" already seen) a delimiter of an open multipart?
 * Returns its chain level or -1.  After the boundary only "--" (close
 * delimiter) and transport padding may follow (RFC 2046 5.1.1).
 */
static int match_boundary(struct parser *p, const char *line, size_t len,
			  int *close_r)
{
	int lvl;
	size_t k;

	for (lvl = (int)p->depth - 1; lvl >= 0; lvl--) {
		int idx = p->chain[lvl];
		const struct pinfo *pi = &p->pi[idx];
		size_t bl = pi->boundary_len;

		if (p->m->parts[idx].kind != MIME_PART_MULTIPART ||
		    pi->closed || len < 2 + bl ||
		    memcmp(line + 2, pi->boundary, bl) != 0)
			continue;
		k = 2 + bl;
		*close_r = 0;
		if (k + 1 < len && line[k] == '-' && line[k + 1] == '-') {
			*close_r = 1;
			return lvl;
		}
		while (k < len &&
		       (line[k] == ' ' || line[k] == '\t' || line[k] == '\r'))
			k++;
		if (k == len)
			return lvl;
	}
	return -1;
}

static void on_boundary(struct parser *p, int lvl, int is_close, size_t pos,
			size_t next, size_t line)
{
	size_t d = pos, lf_end = line;
	int m;

	/* The line break before the delimiter belongs to it. */
	if (pos > 0 && p->data[pos - 1] == '\n') {
		d = pos - 1;
		lf_end = line - 1;
		if (d > 0 && p->data[d - 1] == '\r')
			d--;
	}
	while (p->depth > (unsigned int)lvl + 1) {
		if (p->in_header)
			cut_header(p, pos, line);
		pop(p, d, lf_end);
	}
	m = p->chain[lvl];
	if (is_close) {
		p->pi[m].closed = 1;
		p->active--;
		return;
	}
	if (p->m->nparts >= MIME_MAX_PARTS) {
		p->no_more = 1;
		p->m->flags |= MIME_MESSAGE_LIMITED;
		return;
	}
	push(p, new_part(p, m, next, 0));
	p->in_header = 1;
}

static void parse_lines(struct parser *p)
{
	const char *data = p->data;
	size_t pos = 0, len = p->len, line = 0, eol, next, llen;
	const char *nl;
	int lvl, is_close;

	while (pos < len) {
		nl = memchr(data + pos, '\n', len - pos);
		eol = nl != NULL ? (size_t)(nl - data) : len;
		next = nl != NULL ? eol + 1 : len;
		llen = eol - pos;
		if (nl != NULL && (eol == 0 || data[eol - 1] != '\r'))
			p->m->flags |= MIME_MESSAGE_BARE_LF;
		if (p->active > 0 && !p->no_more && llen >= 2 &&
		    data[pos] == '-' && data[pos + 1] == '-' &&
		    (lvl = match_boundary(p, data + pos, llen, &is_close)) >= 0)
			on_boundary(p, lvl, is_close, pos, next, line);
		else if (p->in_header &&
			 (llen == 0 || (llen == 1 && data[pos] == '\r')))
			end_header(p, next, line + (nl != NULL));
		if (nl != NULL)
			line++;
		pos = next;
	}
	if (p->in_header)
		cut_header(p, len, line);
	while (p->depth > 0)
		pop(p, len, line);
}

/* ---- tree links and section numbers ------------------------------------- */

void mime_assign_tree(struct mime_message *m)
{
	int *last = xmalloc(m->nparts * sizeof(*last));
	unsigned int i, n;

	for (i = 0; i < m->nparts; i++) {
		struct mime_part *part = &m->parts[i], *par;

		part->first_child = part->next_sibling = -1;
		part->nchildren = 0;
		last[i] = -1;
		free(part->section);
		part->section = NULL;
		if (part->parent < 0) {
			part->section = xstrdup("");
			continue;
		}
		par = &m->parts[part->parent];
		if (last[part->parent] < 0)
			par->first_child = (int)i;
		else
			m->parts[last[part->parent]].next_sibling = (int)i;
		last[part->parent] = (int)i;
		n = ++par->nchildren;
		if (par->kind == MIME_PART_MESSAGE &&
		    !(par->flags & MIME_PART_ROOT))
			part->section = xstrdup(par->section);
		else if (par->kind == MIME_PART_MESSAGE)
			/* a message/rfc822 ROOT: its body is part S.1 */
			part->section = par->section[0] == '\0'
					    ? xstrdup("1")
					    : xasprintf("%s.1", par->section);
		else if (par->section[0] == '\0')
			part->section = xasprintf("%u", n);
		else
			part->section = xasprintf("%s.%u", par->section, n);
	}
	free(last);
}

/* ---- BODY and BODYSTRUCTURE ---------------------------------------------- */

static void write_params(struct strbuf *out, const struct mime_content *c)
{
	unsigned int i;

	if (c->nparams == 0) {
		strbuf_adds(out, "NIL");
		return;
	}
	strbuf_addc(out, '(');
	for (i = 0; i < c->nparams; i++) {
		if (i > 0)
			strbuf_addc(out, ' ');
		mime_imap_nstr(out, c->params[i].name);
		strbuf_addc(out, ' ');
		mime_imap_nstr(out, c->params[i].value);
	}
	strbuf_addc(out, ')');
}

/* body-fld-lang: NIL, one string or a list (RFC 3501 9). */
static void write_lang(struct strbuf *out, const char *lang)
{
	size_t i = 0, start, count = 0, mark;

	if (lang == NULL) {
		strbuf_adds(out, "NIL");
		return;
	}
	mark = out->len;
	strbuf_addc(out, '(');
	while (lang[i] != '\0') {
		while (lang[i] == ' ' || lang[i] == '\t' || lang[i] == ',')
			i++;
		start = i;
		while (lang[i] != '\0' && lang[i] != ' ' && lang[i] != '\t' &&
		       lang[i] != ',')
			i++;
		if (i == start)
			continue;
		if (count++ > 0)
			strbuf_addc(out, ' ');
		mime_imap_nstring(out, lang + start, i - start);
	}
	if (count == 0) {
		strbuf_truncate(out, mark);
		strbuf_adds(out, "NIL");
	} else if (count == 1) {
		/* a single language is written without the list */
		memmove(out->data + mark, out->data + mark + 1,
			out->len - mark - 1);
		strbuf_truncate(out, out->len - 1);
	} else {
		strbuf_addc(out, ')');
	}
}

static void write_ext(struct strbuf *out, const struct pinfo *pi)
{
	strbuf_addc(out, ' ');
	if (pi->disp.type == NULL) {
		strbuf_adds(out, "NIL");
	} else {
		strbuf_addc(out, '(');
		mime_imap_nstr(out, pi->disp.type);
		strbuf_addc(out, ' ');
		write_params(out, &pi->disp);
		strbuf_addc(out, ')');
	}
	strbuf_addc(out, ' ');
	write_lang(out, pi->lang);
	strbuf_addc(out, ' ');
	mime_imap_nstr(out, pi->loc);
}

static void write_part(const struct parser *p, int idx, struct strbuf *out,
		       int ext)
{
	const struct mime_part *part = &p->m->parts[idx];
	const struct pinfo *pi = &p->pi[idx];
	int c;

	strbuf_addc(out, '(');
	if (part->kind == MIME_PART_MULTIPART) {
		for (c = part->first_child; c >= 0;
		     c = p->m->parts[c].next_sibling)
			write_part(p, c, out, ext);
		if (part->first_child < 0) /* the grammar wants one part */
			strbuf_adds(out,
				    ext ? "(\"text\" \"plain\" (\"charset\" "
					  "\"us-ascii\") NIL NIL \"7bit\" 0 "
					  "0 NIL NIL NIL NIL)"
					: "(\"text\" \"plain\" (\"charset\" "
					  "\"us-ascii\") NIL NIL \"7bit\" 0 "
					  "0)");
		strbuf_addc(out, ' ');
		mime_imap_nstr(out, part->subtype);
		if (ext) {
			strbuf_addc(out, ' ');
			write_params(out, &pi->ct);
			write_ext(out, pi);
		}
		strbuf_addc(out, ')');
		return;
	}
	mime_imap_nstr(out, part->type);
	strbuf_addc(out, ' ');
	mime_imap_nstr(out, part->subtype);
	strbuf_addc(out, ' ');
	if (pi->ct.type == NULL && strcmp(part->type, "text") == 0)
		strbuf_adds(out,
			    "(\"charset\" \"us-ascii\")"); /* RFC 2045 5.2 */
	else
		write_params(out, &pi->ct);
	strbuf_addc(out, ' ');
	mime_imap_nstr(out, pi->id);
	strbuf_addc(out, ' ');
	mime_imap_nstr(out, pi->desc);
	strbuf_addc(out, ' ');
	mime_imap_nstr(out, part->encoding);
	strbuf_printf(out, " %zu", part->body_len);
	if (part->kind == MIME_PART_MESSAGE) {
		const struct mime_part *root = &p->m->parts[part->first_child];

		strbuf_addc(out, ' ');
		mime_envelope_build(p->data + root->header_off,
				    root->header_len, out);
		strbuf_addc(out, ' ');
		write_part(p, part->first_child, out, ext);
		strbuf_printf(out, " %zu", part->body_lines);
	} else if (strcmp(part->type, "text") == 0) {
		strbuf_printf(out, " %zu", part->body_lines);
	}
	if (ext) {
		strbuf_addc(out, ' ');
		mime_imap_nstr(out, pi->md5);
		write_ext(out, pi);
	}
	strbuf_addc(out, ')');
}

/* ---- cached header fields ----------------------------------------------- */

static char *utf8_copy(const char *s, size_t len)
{
	struct strbuf b;

	strbuf_init(&b);
	mime_utf8_sanitize(s, len, &b);
	return strbuf_steal(&b, NULL);
}

static void first_address(const char *hdr, size_t len, const char *name,
			  struct mime_addr_brief *b)
{
	struct mime_header_field f;
	struct mime_address *list, *a;
	struct strbuf s;
	size_t pos = 0;

	if (!mime_header_find(hdr, len, name, &pos, &f))
		return;
	list = mime_address_parse(f.value, f.value_len);
	for (a = list; a != NULL && a->domain == NULL; a = a->next)
		;
	if (a != NULL) {
		if (a->name != NULL) {
			strbuf_init(&s);
			mime_header_decode(a->name, strlen(a->name), &s);
			b->name = strbuf_steal(&s, NULL);
		}
		strbuf_init(&s);
		if (a->domain[0] != '\0')
			strbuf_printf(&s, "%s@%s", a->mailbox, a->domain);
		else
			strbuf_adds(&s, a->mailbox);
		b->addr = utf8_copy(s.data, s.len);
		strbuf_free(&s);
	}
	mime_address_free(&list);
}

static char *field_value(const char *hdr, size_t len, const char *name,
			 int decode)
{
	struct mime_header_field f;
	struct strbuf s;
	size_t pos = 0;

	if (!mime_header_find(hdr, len, name, &pos, &f))
		return NULL;
	strbuf_init(&s);
	if (decode)
		mime_header_decode(f.value, f.value_len, &s);
	else
		mime_header_unfold(f.value, f.value_len, &s);
	return strbuf_steal(&s, NULL);
}

static void fill_cached(struct mime_message *m, const char *data)
{
	const char *hdr = data + m->parts[0].header_off;
	size_t len = m->parts[0].header_len;
	struct mime_header_field f;
	size_t pos = 0;

	m->subject = field_value(hdr, len, "subject", 1);
	m->base_subject = mime_base_subject(m->subject ? m->subject : "");
	first_address(hdr, len, "from", &m->from);
	first_address(hdr, len, "to", &m->to);
	first_address(hdr, len, "cc", &m->cc);
	if (mime_header_find(hdr, len, "date", &pos, &f))
		m->date = mime_date_parse(f.value, f.value_len);
	m->message_id = field_value(hdr, len, "message-id", 0);
	m->in_reply_to = field_value(hdr, len, "in-reply-to", 0);
	m->references = field_value(hdr, len, "references", 0);
}

/* ---- entry points -------------------------------------------------------- */

static void pinfo_free(struct pinfo *pi)
{
	mime_content_free(&pi->ct);
	mime_content_free(&pi->disp);
	free(pi->id);
	free(pi->desc);
	free(pi->md5);
	free(pi->lang);
	free(pi->loc);
}

int mime_parse(const char *data, size_t len, struct mime_message **msg_r)
{
	struct parser p;
	struct strbuf s;
	unsigned int i;

	*msg_r = NULL;
	if (len > MIME_MAX_MESSAGE_SIZE || (data == NULL && len > 0))
		return -1;
	if (data == NULL)
		data = "";
	memset(&p, 0, sizeof(p));
	p.data = data;
	p.len = len;
	p.m = xcalloc(1, sizeof(*p.m));
	p.m->size = len;
	if (memchr(data, '\0', len) != NULL)
		p.m->flags |= MIME_MESSAGE_HAS_NUL;
	push(&p, new_part(&p, -1, 0, MIME_PART_ROOT));
	p.in_header = 1;
	parse_lines(&p);
	mime_assign_tree(p.m);

	strbuf_init(&s);
	mime_envelope_build(data + p.m->parts[0].header_off,
			    p.m->parts[0].header_len, &s);
	p.m->envelope = strbuf_steal(&s, NULL);
	write_part(&p, 0, &s, 1);
	p.m->bodystructure = strbuf_steal(&s, NULL);
	write_part(&p, 0, &s, 0);
	p.m->body = strbuf_steal(&s, NULL);
	strbuf_free(&s);
	fill_cached(p.m, data);

	for (i = 0; i < p.m->nparts; i++)
		pinfo_free(&p.pi[i]);
	free(p.pi);
	*msg_r = p.m;
	return 0;
}

/* Frees s unless it lives in the message's arena (mime_serial.c). */
static void str_free(const struct mime_message *m, char *s)
{
	if (s != NULL &&
	    (m->arena == NULL || s < m->arena || s >= m->arena + m->arena_len))
		free(s);
}

void mime_message_free(struct mime_message **msg)
{
	struct mime_message *m = *msg;
	unsigned int i;

	if (m == NULL)
		return;
	for (i = 0; i < m->nparts; i++) {
		struct mime_part *part = &m->parts[i];

		str_free(m, part->section);
		str_free(m, part->type);
		str_free(m, part->subtype);
		str_free(m, part->charset);
		str_free(m, part->encoding);
	}
	free(m->parts);
	str_free(m, m->envelope);
	str_free(m, m->bodystructure);
	str_free(m, m->body);
	str_free(m, m->subject);
	str_free(m, m->base_subject);
	str_free(m, m->from.name);
	str_free(m, m->from.addr);
	str_free(m, m->to.name);
	str_free(m, m->to.addr);
	str_free(m, m->cc.name);
	str_free(m, m->cc.addr);
	str_free(m, m->message_id);
	str_free(m, m->in_reply_to);
	str_free(m, m->references);
	free(m->arena);
	free(m);
	*msg = NULL;
}

/* ---- sections ------------------------------------------------------------ */

static int nth_child(const struct mime_message *m, int idx, unsigned long n)
{
	int c = m->parts[idx].first_child;

	while (c >= 0 && --n > 0)
		c = m->parts[c].next_sibling;
	return c;
}

const struct mime_part *mime_find_section(const struct mime_message *m,
					  const char *section)
{
	const char *s = section;
	int idx = 0, in_message = 1;
	unsigned long n;
	char *end;

	if (m->nparts == 0)
		return NULL;
	while (*s != '\0') {
		if (*s < '1' || *s > '9')
			return NULL;
		n = strtoul(s, &end, 10);
		if (*end == '.' && end[1] != '\0')
			end++;
		else if (*end != '\0')
			return NULL;
		s = end;
		if (!in_message) {
			/* a part's own number: enter a message/rfc822 */
			if (m->parts[idx].kind == MIME_PART_MESSAGE)
				idx = m->parts[idx].first_child;
			else if (m->parts[idx].kind != MIME_PART_MULTIPART)
				return NULL;
		}
		in_message = 0;
		if (m->parts[idx].kind == MIME_PART_MULTIPART) {
			idx = nth_child(m, idx, n);
			if (idx < 0)
				return NULL;
		} else if (n != 1) {
			return NULL; /* a non-multipart has only part 1 */
		}
	}
	return &m->parts[idx];
}

const struct mime_part *mime_find_message(const struct mime_message *m,
					  const char *section)
{
	const struct mime_part *part;

	if (section[0] == '\0')
		return m->nparts > 0 ? &m->parts[0] : NULL;
	part = mime_find_section(m, section);
	if (part == NULL || part->kind != MIME_PART_MESSAGE)
		return NULL;
	return &m->parts[part->first_child];
}
