/*
 * sieve_cmds.c - the tables: extensions, tags and commands (RFC 5228 and
 * the extension RFCs).  A command is a row: its name, the extension it
 * needs, whether it is a test, the tag groups it accepts and its
 * positional arguments.  A tag is a row: name, group, extension, argument
 * kind and what it sets.  Adding an extension adds rows, not branches.
 */
#include <string.h>
#include <strings.h>

#include "sieve/sieve_cmds.h"

const char *const sv_ext_names[SV_EXT_COUNT] = {
    [SV_EXT_FILEINTO] = "fileinto",
    [SV_EXT_REJECT] = "reject",
    [SV_EXT_EREJECT] = "ereject",
    [SV_EXT_ENVELOPE] = "envelope",
    [SV_EXT_ENCODED] = "encoded-character",
    [SV_EXT_VACATION] = "vacation",
    [SV_EXT_IMAP4FLAGS] = "imap4flags",
    [SV_EXT_VARIABLES] = "variables",
    [SV_EXT_RELATIONAL] = "relational",
    [SV_EXT_NUMERIC] = "comparator-i;ascii-numeric",
    [SV_EXT_SUBADDRESS] = "subaddress",
    [SV_EXT_COPY] = "copy",
    [SV_EXT_BODY] = "body",
    [SV_EXT_DATE] = "date",
    [SV_EXT_INDEX] = "index",
    [SV_EXT_MAILBOX] = "mailbox",
    [SV_EXT_INCLUDE] = "include",
    [SV_EXT_IMAPFLAGS] = "imapflags",
    [SV_EXT_OCTET] = "comparator-i;octet",
    [SV_EXT_CASEMAP] = "comparator-i;ascii-casemap",
};

static const struct tag_def tags[] = {
    {"is", G_MATCH, EXT_BASE, TA_NONE, TC_IS},
    {"contains", G_MATCH, EXT_BASE, TA_NONE, TC_CONTAINS},
    {"matches", G_MATCH, EXT_BASE, TA_NONE, TC_MATCHES},
    {"value", G_MATCH, SV_EXT_RELATIONAL, TA_STRING, TC_VALUE},
    {"count", G_MATCH, SV_EXT_RELATIONAL, TA_STRING, TC_COUNT},
    {"comparator", G_CMP, EXT_BASE, TA_STRING, TC_COMPARATOR},
    {"all", G_ADDR, EXT_BASE, TA_NONE, TC_ALL},
    {"localpart", G_ADDR, EXT_BASE, TA_NONE, TC_LOCALPART},
    {"domain", G_ADDR, EXT_BASE, TA_NONE, TC_DOMAIN},
    {"user", G_ADDR, SV_EXT_SUBADDRESS, TA_NONE, TC_USER},
    {"detail", G_ADDR, SV_EXT_SUBADDRESS, TA_NONE, TC_DETAIL},
    {"index", G_INDEX, SV_EXT_INDEX, TA_NUMBER, TC_INDEX},
    {"last", G_INDEX, SV_EXT_INDEX, TA_NONE, TC_LAST},
    {"copy", G_COPY, SV_EXT_COPY, TA_NONE, TC_COPY},
    {"create", G_CREATE, SV_EXT_MAILBOX, TA_NONE, TC_CREATE},
    {"flags", G_FLAGS, SV_EXT_IMAP4FLAGS, TA_LIST, TC_FLAGS},
    {"days", G_VAC, EXT_BASE, TA_NUMBER, TC_DAYS},
    {"subject", G_VAC, EXT_BASE, TA_STRING, TC_SUBJECT},
    {"from", G_VAC, EXT_BASE, TA_STRING, TC_FROM},
    {"addresses", G_VAC, EXT_BASE, TA_LIST, TC_ADDRESSES},
    {"mime", G_VAC, EXT_BASE, TA_NONE, TC_MIME},
    {"handle", G_VAC, EXT_BASE, TA_STRING, TC_HANDLE},
    {"zone", G_ZONE, EXT_BASE, TA_STRING, TC_ZONE},
    {"originalzone", G_ORIGZONE, EXT_BASE, TA_NONE, TC_ORIGZONE},
    {"raw", G_BODY, EXT_BASE, TA_NONE, TC_RAW},
    {"content", G_BODY, EXT_BASE, TA_LIST, TC_CONTENT},
    {"text", G_BODY, EXT_BASE, TA_NONE, TC_TEXT},
    {"personal", G_INCL, EXT_BASE, TA_NONE, TC_PERSONAL},
    {"global", G_INCL, EXT_BASE, TA_NONE, TC_GLOBAL},
    {"once", G_INCL, EXT_BASE, TA_NONE, TC_ONCE},
    {"optional", G_INCL, EXT_BASE, TA_NONE, TC_OPTIONAL},
    {"lower", G_SETMOD, EXT_BASE, TA_NONE, TC_LOWER},
    {"upper", G_SETMOD, EXT_BASE, TA_NONE, TC_UPPER},
    {"lowerfirst", G_SETMOD, EXT_BASE, TA_NONE, TC_LOWERFIRST},
    {"upperfirst", G_SETMOD, EXT_BASE, TA_NONE, TC_UPPERFIRST},
    {"quotewildcard", G_SETMOD, EXT_BASE, TA_NONE, TC_QUOTEWILD},
    {"length", G_SETMOD, EXT_BASE, TA_NONE, TC_LENGTH},
    {"over", G_SIZE, EXT_BASE, TA_NONE, TC_OVER},
    {"under", G_SIZE, EXT_BASE, TA_NONE, TC_UNDER},
};

static const struct cmd_def cmds[] = {
    {"if", SV_OP_IF, EXT_BASE, false, 0, "", K_TEST, true},
    {"elsif", SV_OP_ELSIF, EXT_BASE, false, 0, "", K_TEST, true},
    {"else", SV_OP_ELSE, EXT_BASE, false, 0, "", K_NONE, true},
    {"stop", SV_OP_STOP, EXT_BASE, false, 0, "", K_NONE, false},
    {"keep", SV_OP_KEEP, EXT_BASE, false, G_FLAGS, "", K_NONE, false},
    {"discard", SV_OP_DISCARD, EXT_BASE, false, 0, "", K_NONE, false},
    {"redirect", SV_OP_REDIRECT, EXT_BASE, false, G_COPY, "S", K_NONE, false},
    {"fileinto", SV_OP_FILEINTO, SV_EXT_FILEINTO, false,
     G_COPY | G_FLAGS | G_CREATE, "S", K_NONE, false},
    {"reject", SV_OP_REJECT, SV_EXT_REJECT, false, 0, "S", K_NONE, false},
    {"ereject", SV_OP_EREJECT, SV_EXT_EREJECT, false, 0, "S", K_NONE, false},
    {"vacation", SV_OP_VACATION, SV_EXT_VACATION, false, G_VAC, "S", K_NONE,
     false},
    {"setflag", SV_OP_SETFLAG, SV_EXT_IMAP4FLAGS, false, 0, "?L", K_NONE,
     false},
    {"addflag", SV_OP_ADDFLAG, SV_EXT_IMAP4FLAGS, false, 0, "?L", K_NONE,
     false},
    {"removeflag", SV_OP_REMOVEFLAG, SV_EXT_IMAP4FLAGS, false, 0, "?L", K_NONE,
     false},
    {"mark", SV_OP_MARK, SV_EXT_IMAPFLAGS, false, 0, "", K_NONE, false},
    {"unmark", SV_OP_UNMARK, SV_EXT_IMAPFLAGS, false, 0, "", K_NONE, false},
    {"set", SV_OP_SET, SV_EXT_VARIABLES, false, G_SETMOD, "SS", K_NONE, false},
    {"include", SV_OP_INCLUDE, SV_EXT_INCLUDE, false, G_INCL, "S", K_NONE,
     false},
    {"return", SV_OP_RETURN, SV_EXT_INCLUDE, false, 0, "", K_NONE, false},
    {"global", SV_OP_GLOBAL, SV_EXT_INCLUDE, false, 0, "L", K_NONE, false},
    {"address", SV_OP_ADDRESS, EXT_BASE, true,
     G_MATCH | G_CMP | G_ADDR | G_INDEX, "LL", K_NONE, false},
    {"header", SV_OP_HEADER, EXT_BASE, true, G_MATCH | G_CMP | G_INDEX, "LL",
     K_NONE, false},
    {"envelope", SV_OP_ENVELOPE, SV_EXT_ENVELOPE, true,
     G_MATCH | G_CMP | G_ADDR, "LL", K_NONE, false},
    {"exists", SV_OP_EXISTS, EXT_BASE, true, 0, "L", K_NONE, false},
    {"size", SV_OP_SIZE, EXT_BASE, true, G_SIZE, "N", K_NONE, false},
    {"allof", SV_OP_ALLOF, EXT_BASE, true, 0, "", K_TESTLIST, false},
    {"anyof", SV_OP_ANYOF, EXT_BASE, true, 0, "", K_TESTLIST, false},
    {"not", SV_OP_NOT, EXT_BASE, true, 0, "", K_TEST, false},
    {"true", SV_OP_TRUE, EXT_BASE, true, 0, "", K_NONE, false},
    {"false", SV_OP_FALSE, EXT_BASE, true, 0, "", K_NONE, false},
    {"string", SV_OP_STRING, SV_EXT_VARIABLES, true, G_MATCH | G_CMP, "LL",
     K_NONE, false},
    {"hasflag", SV_OP_HASFLAG, SV_EXT_IMAP4FLAGS, true, G_MATCH | G_CMP, "?L",
     K_NONE, false},
    {"body", SV_OP_BODY, SV_EXT_BODY, true, G_MATCH | G_CMP | G_BODY, "L",
     K_NONE, false},
    {"date", SV_OP_DATE, SV_EXT_DATE, true,
     G_MATCH | G_CMP | G_INDEX | G_ZONE | G_ORIGZONE, "SSL", K_NONE, false},
    {"currentdate", SV_OP_CURRENTDATE, SV_EXT_DATE, true,
     G_MATCH | G_CMP | G_ZONE, "SL", K_NONE, false},
    {"mailboxexists", SV_OP_MAILBOXEXISTS, SV_EXT_MAILBOX, true, 0, "L", K_NONE,
     false},
};

bool sv_has_ext(const struct vctx *v, unsigned ext)
{
	return ext == EXT_BASE || (v->exts & (1u << ext));
}

bool sv_op_is_test(unsigned op)
{
	return op >= SV_OP_ADDRESS && op < SV_OP_COUNT;
}

const struct cmd_def *sv_find_cmd(const char *name)
{
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(cmds[i].name, name) == 0)
			return &cmds[i];
	return NULL;
}

const struct tag_def *sv_find_tag(const char *name)
{
	for (size_t i = 0; i < sizeof(tags) / sizeof(tags[0]); i++)
		if (strcmp(tags[i].name, name) == 0)
			return &tags[i];
	return NULL;
}

const struct cmd_def *sv_find_op(unsigned op)
{
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (cmds[i].op == op)
			return &cmds[i];
	return NULL;
}

bool sv_global_ns_name(const struct vctx *v, const struct sv_string *s)
{
	return sv_has_ext(v, SV_EXT_INCLUDE) && s->len > 7 &&
	       strncasecmp(s->s, "global.", 7) == 0 &&
	       sv_var_name_valid(s->s + 7, s->len - 7, false);
}
