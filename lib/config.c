/*
 * config.c - the configuration file format of config.h.
 *
 * The whole file is parsed at load time into a list of sections, each with
 * its entries in file order.  Lookups are linear scans: a section has a few
 * dozen keys at most and daemons read their settings once at start-up or on
 * SIGHUP, so there is nothing to gain from a hash table.
 *
 * A section header that repeats ("[store ms1]" twice) reopens the section,
 * so its entries accumulate.  Keys before the first header belong to
 * [global].
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "strbuf.h"

struct config_entry {
	char *key;
	char *value;
	unsigned line;
};

struct config_section {
	const struct config *cfg;
	char *type;
	char *name; /* NULL for "[type]" */
	struct config_entry *entries;
	size_t n_entries, cap_entries;
};

struct config {
	char *file; /* name used in messages */
	struct config_section **sections;
	size_t n_sections, cap_sections;
};

/* --- building ----------------------------------------------------------- */

static int name_eq(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

static struct config_section *section_find(const struct config *cfg,
					   const char *type, const char *name)
{
	size_t i;

	for (i = 0; i < cfg->n_sections; i++) {
		struct config_section *s = cfg->sections[i];

		if (strcmp(s->type, type) == 0 && name_eq(s->name, name))
			return s;
	}
	return NULL;
}

static struct config_section *section_open(struct config *cfg, const char *type,
					   const char *name)
{
	struct config_section *s = section_find(cfg, type, name);

	if (s != NULL)
		return s;
	s = xcalloc(1, sizeof(*s));
	s->cfg = cfg;
	s->type = xstrdup(type);
	s->name = name != NULL ? xstrdup(name) : NULL;
	if (cfg->n_sections == cfg->cap_sections) {
		cfg->cap_sections =
		    cfg->cap_sections ? cfg->cap_sections * 2 : 8;
		cfg->sections = xrealloc(
		    cfg->sections, cfg->cap_sections * sizeof(*cfg->sections));
	}
	cfg->sections[cfg->n_sections++] = s;
	return s;
}

static void section_add(struct config_section *s, char *key, char *value,
			unsigned line)
{
	struct config_entry *e;

	if (s->n_entries == s->cap_entries) {
		s->cap_entries = s->cap_entries ? s->cap_entries * 2 : 16;
		s->entries =
		    xrealloc(s->entries, s->cap_entries * sizeof(*s->entries));
	}
	e = &s->entries[s->n_entries++];
	e->key = key;
	e->value = value;
	e->line = line;
}

void config_free(struct config **cfgp)
{
	struct config *cfg = *cfgp;
	size_t i, j;

	if (cfg == NULL)
		return;
	for (i = 0; i < cfg->n_sections; i++) {
		struct config_section *s = cfg->sections[i];

		for (j = 0; j < s->n_entries; j++) {
			free(s->entries[j].key);
			free(s->entries[j].value);
		}
		free(s->entries);
		free(s->type);
		free(s->name);
		free(s);
	}
	free(cfg->sections);
	free(cfg->file);
	free(cfg);
	*cfgp = NULL;
}

/* --- parsing ------------------------------------------------------------ */

struct parser {
	struct config *cfg;
	struct config_section *cur;
	unsigned line;
	char *err;
};

static int parse_error(struct parser *p, const char *what)
{
	p->err = xasprintf("%s:%u: %s", p->cfg->file, p->line, what);
	return -1;
}

static int is_blank(char ch)
{
	return ch == ' ' || ch == '\t';
}

static int is_name_char(char ch)
{
	return isalnum((unsigned char)ch) || ch == '_' || ch == '-' ||
	       ch == '.';
}

/* Is the rest of the line (from p) only blanks and an optional comment? */
static int rest_is_empty(const char *p, const char *end)
{
	while (p < end && is_blank(*p))
		p++;
	return p == end || *p == '#';
}

static int parse_section(struct parser *p, const char *s, const char *end)
{
	const char *t0, *t1, *n0 = NULL, *n1 = NULL;
	char *type, *name = NULL;

	s++; /* '[' */
	while (s < end && is_blank(*s))
		s++;
	t0 = s;
	while (s < end && is_name_char(*s))
		s++;
	t1 = s;
	if (t0 == t1)
		return parse_error(p, "expected a section type after '['");
	if (s < end && *s != ']' && !is_blank(*s))
		return parse_error(p, "bad character in section type");
	while (s < end && is_blank(*s))
		s++;
	if (s < end && *s != ']') {
		n0 = s;
		while (s < end && is_name_char(*s))
			s++;
		n1 = s;
		if (n0 == n1 || (s < end && *s != ']' && !is_blank(*s)))
			return parse_error(p, "bad character in section name");
		while (s < end && is_blank(*s))
			s++;
	}
	if (s == end || *s != ']')
		return parse_error(p, "expected ']' to end the section header");
	if (!rest_is_empty(s + 1, end))
		return parse_error(p, "unexpected text after ']'");
	type = xstrndup(t0, (size_t)(t1 - t0));
	if (n0 != NULL)
		name = xstrndup(n0, (size_t)(n1 - n0));
	p->cur = section_open(p->cfg, type, name);
	free(type);
	free(name);
	return 0;
}

/* A double-quoted value: \" and \\ are the only escapes. */
static int parse_quoted(struct parser *p, const char *s, const char *end,
			char **value_r)
{
	struct strbuf b;

	strbuf_init(&b);
	for (s++; s < end && *s != '"'; s++) {
		if (*s == '\\' && s + 1 < end && (s[1] == '"' || s[1] == '\\'))
			s++;
		strbuf_addc(&b, *s);
	}
	if (s == end) {
		strbuf_free(&b);
		return parse_error(p, "unterminated quoted value");
	}
	if (!rest_is_empty(s + 1, end)) {
		strbuf_free(&b);
		return parse_error(p, "unexpected text after quoted value");
	}
	*value_r = strbuf_steal(&b, NULL);
	strbuf_free(&b);
	return 0;
}

static int parse_entry(struct parser *p, const char *s, const char *end)
{
	const char *k0 = s, *k1, *v0, *v1;
	char *value;

	while (s < end && is_name_char(*s))
		s++;
	k1 = s;
	if (k0 == k1)
		return parse_error(p, "expected a key, a section or a comment");
	while (s < end && is_blank(*s))
		s++;
	if (s == end || *s != '=')
		return parse_error(p, "missing '=' after key");
	s++;
	while (s < end && is_blank(*s))
		s++;
	if (s < end && *s == '"') {
		if (parse_quoted(p, s, end, &value) < 0)
			return -1;
	} else {
		/* '#' starts a comment at the value's start or after a blank */
		v0 = s;
		v1 = s;
		while (s < end) {
			if (*s == '#' && (s == v0 || is_blank(s[-1])))
				break;
			s++;
			if (!is_blank(s[-1]))
				v1 = s;
		}
		value = xstrndup(v0, (size_t)(v1 - v0));
	}
	if (p->cur == NULL)
		p->cur = section_open(p->cfg, "global", NULL);
	section_add(p->cur, xstrndup(k0, (size_t)(k1 - k0)), value, p->line);
	return 0;
}

static int parse_line(struct parser *p, const char *s, const char *end)
{
	if (end > s && end[-1] == '\r')
		end--;
	while (s < end && is_blank(*s))
		s++;
	if (s == end || *s == '#')
		return 0;
	if (memchr(s, '\0', (size_t)(end - s)) != NULL)
		return parse_error(p, "NUL byte in line");
	if (*s == '[')
		return parse_section(p, s, end);
	return parse_entry(p, s, end);
}

static int parse_text(const char *name, const char *text, size_t len,
		      struct config **cfg_r, char **err_r)
{
	struct parser p = {0};
	const char *s = text, *end = text + len;

	p.cfg = xcalloc(1, sizeof(*p.cfg));
	p.cfg->file = xstrdup(name);
	while (s < end) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		const char *eol = nl != NULL ? nl : end;

		p.line++;
		if (parse_line(&p, s, eol) < 0) {
			config_free(&p.cfg);
			*err_r = p.err;
			return -1;
		}
		s = nl != NULL ? nl + 1 : end;
	}
	*cfg_r = p.cfg;
	return 0;
}

int config_parse(const char *name, const char *text, struct config **cfg_r,
		 char **err_r)
{
	return parse_text(name, text, strlen(text), cfg_r, err_r);
}

int config_load(const char *path, struct config **cfg_r, char **err_r)
{
	struct strbuf b;
	char chunk[8192];
	size_t n;
	FILE *f;
	int ret;

	f = fopen(path, "r");
	if (f == NULL) {
		*err_r = xasprintf("%s: %s", path, strerror(errno));
		return -1;
	}
	strbuf_init(&b);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		strbuf_add(&b, chunk, n);
	if (ferror(f)) {
		*err_r = xasprintf("%s: %s", path, strerror(errno));
		fclose(f);
		strbuf_free(&b);
		return -1;
	}
	fclose(f);
	ret = parse_text(path, b.data, b.len, cfg_r, err_r);
	strbuf_free(&b);
	return ret;
}

/* --- lookups ------------------------------------------------------------ */

struct config_section *config_section(const struct config *cfg,
				      const char *type, const char *name)
{
	size_t i;

	if (cfg == NULL)
		return NULL;
	if (name != NULL)
		return section_find(cfg, type, name);
	/* "[type]" without a name first, else the first of that type */
	for (i = 0; i < cfg->n_sections; i++) {
		if (strcmp(cfg->sections[i]->type, type) == 0 &&
		    cfg->sections[i]->name == NULL)
			return cfg->sections[i];
	}
	return config_next(cfg, NULL, type);
}

struct config_section *config_next(const struct config *cfg,
				   const struct config_section *prev,
				   const char *type)
{
	size_t i = 0;

	if (cfg == NULL)
		return NULL;
	if (prev != NULL) {
		while (i < cfg->n_sections && cfg->sections[i] != prev)
			i++;
		i++;
	}
	for (; i < cfg->n_sections; i++) {
		if (type == NULL || strcmp(cfg->sections[i]->type, type) == 0)
			return cfg->sections[i];
	}
	return NULL;
}

const char *config_section_type(const struct config_section *s)
{
	return s->type;
}

const char *config_section_name(const struct config_section *s)
{
	return s->name;
}

static const struct config_entry *entry_last(const struct config_section *s,
					     const char *key)
{
	size_t i;

	for (i = s->n_entries; i > 0; i--) {
		if (strcmp(s->entries[i - 1].key, key) == 0)
			return &s->entries[i - 1];
	}
	return NULL;
}

/* The entry key resolves to in s, falling back to [global]; or NULL. */
static const struct config_entry *
entry_lookup(const struct config_section *s, const char *key,
	     const struct config_section **in_r)
{
	const struct config_entry *e;
	const struct config_section *g;

	if (s == NULL)
		return NULL;
	e = entry_last(s, key);
	if (e != NULL) {
		*in_r = s;
		return e;
	}
	g = section_find(s->cfg, "global", NULL);
	if (g == NULL || g == s)
		return NULL;
	e = entry_last(g, key);
	if (e != NULL)
		*in_r = g;
	return e;
}

const char *config_get(const struct config_section *s, const char *key,
		       const char *def)
{
	const struct config_section *in;
	const struct config_entry *e = entry_lookup(s, key, &in);

	return e != NULL ? e->value : def;
}

const char *config_get_nth(const struct config_section *s, const char *key,
			   unsigned n)
{
	size_t i;

	if (s == NULL)
		return NULL;
	for (i = 0; i < s->n_entries; i++) {
		if (strcmp(s->entries[i].key, key) == 0 && n-- == 0)
			return s->entries[i].value;
	}
	return NULL;
}

/* --- typed getters ------------------------------------------------------ */

static int typed_error(const struct config_section *in,
		       const struct config_entry *e, const char *what,
		       char **err_r)
{
	*err_r = xasprintf("%s:%u: %s: %s = %s: %s", in->cfg->file, e->line,
			   in->name != NULL ? in->name : in->type, e->key,
			   e->value, what);
	return -1;
}

/* Parses an unsigned decimal number; returns the end or NULL on overflow
 * or when there is no digit. */
static const char *parse_u64(const char *s, unsigned long long *val_r)
{
	unsigned long long v = 0;
	const char *p = s;

	while (*p >= '0' && *p <= '9') {
		unsigned d = (unsigned)(*p - '0');

		if (v > (ULLONG_MAX - d) / 10)
			return NULL;
		v = v * 10 + d;
		p++;
	}
	if (p == s)
		return NULL;
	*val_r = v;
	return p;
}

int config_get_int(const struct config_section *s, const char *key,
		   long long def, long long *val_r, char **err_r)
{
	const struct config_section *in;
	const struct config_entry *e = entry_lookup(s, key, &in);
	unsigned long long u;
	const char *p;
	int neg = 0;

	if (e == NULL) {
		*val_r = def;
		return 0;
	}
	p = e->value;
	if (*p == '-' || *p == '+')
		neg = *p++ == '-';
	p = parse_u64(p, &u);
	if (p == NULL || *p != '\0')
		return typed_error(in, e, "not an integer", err_r);
	if (u > (unsigned long long)LLONG_MAX + (neg ? 1 : 0))
		return typed_error(in, e, "integer out of range", err_r);
	if (neg)
		*val_r = u == (unsigned long long)LLONG_MAX + 1 ? LLONG_MIN
								: -(long long)u;
	else
		*val_r = (long long)u;
	return 0;
}

int config_get_size(const struct config_section *s, const char *key,
		    unsigned long long def, unsigned long long *val_r,
		    char **err_r)
{
	const struct config_section *in;
	const struct config_entry *e = entry_lookup(s, key, &in);
	unsigned long long v, mult = 1;
	const char *p;

	if (e == NULL) {
		*val_r = def;
		return 0;
	}
	p = parse_u64(e->value, &v);
	if (p == NULL)
		return typed_error(in, e, "not a size", err_r);
	while (*p == ' ')
		p++;
	switch (*p) {
	case '\0':
		break;
	case 'k':
	case 'K':
		mult = 1ULL << 10;
		break;
	case 'm':
	case 'M':
		mult = 1ULL << 20;
		break;
	case 'g':
	case 'G':
		mult = 1ULL << 30;
		break;
	case 't':
	case 'T':
		mult = 1ULL << 40;
		break;
	default:
		return typed_error(in, e, "not a size", err_r);
	}
	if (*p != '\0') {
		p++;
		if (*p == 'b' || *p == 'B') /* "10MB" */
			p++;
	}
	if (*p != '\0')
		return typed_error(in, e, "not a size", err_r);
	if (v > ULLONG_MAX / mult)
		return typed_error(in, e, "size out of range", err_r);
	*val_r = v * mult;
	return 0;
}

int config_get_duration(const struct config_section *s, const char *key,
			unsigned def_seconds, unsigned *seconds_r, char **err_r)
{
	const struct config_section *in;
	const struct config_entry *e = entry_lookup(s, key, &in);
	unsigned long long v, mult = 1;
	const char *p;

	if (e == NULL) {
		*seconds_r = def_seconds;
		return 0;
	}
	p = parse_u64(e->value, &v);
	if (p == NULL)
		return typed_error(in, e, "not a duration", err_r);
	while (*p == ' ')
		p++;
	switch (*p) {
	case '\0':
	case 's':
		break;
	case 'm':
		mult = 60;
		break;
	case 'h':
		mult = 3600;
		break;
	case 'd':
		mult = 86400;
		break;
	default:
		return typed_error(in, e, "not a duration", err_r);
	}
	if (*p != '\0' && p[1] != '\0')
		return typed_error(in, e, "not a duration", err_r);
	if (v > UINT_MAX / mult)
		return typed_error(in, e, "duration out of range", err_r);
	*seconds_r = (unsigned)(v * mult);
	return 0;
}

int config_get_bool(const struct config_section *s, const char *key, int def,
		    int *val_r, char **err_r)
{
	static const char *const yes[] = {"yes", "true", "on", "1"};
	static const char *const no[] = {"no", "false", "off", "0"};
	const struct config_section *in;
	const struct config_entry *e = entry_lookup(s, key, &in);
	size_t i;

	if (e == NULL) {
		*val_r = def;
		return 0;
	}
	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(e->value, yes[i]) == 0) {
			*val_r = 1;
			return 0;
		}
		if (strcasecmp(e->value, no[i]) == 0) {
			*val_r = 0;
			return 0;
		}
	}
	return typed_error(in, e, "not a boolean (yes/no)", err_r);
}
