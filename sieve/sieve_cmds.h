/*
 * sieve_cmds.h - the command and tag tables of the validator, shared by
 * sieve_validate.c (source scripts) and sieve_check.c (deserialised
 * trees).  Private to sieve/.
 */
#ifndef ROOKERY_SIEVE_CMDS_H
#define ROOKERY_SIEVE_CMDS_H

#include "sieve/sieve_int.h"

#define EXT_BASE SV_EXT_COUNT

/* Tag groups a command may accept. */
enum {
	G_MATCH = 1 << 0,
	G_CMP = 1 << 1,
	G_ADDR = 1 << 2,
	G_INDEX = 1 << 3,
	G_COPY = 1 << 4,
	G_CREATE = 1 << 5,
	G_FLAGS = 1 << 6,
	G_VAC = 1 << 7,
	G_ZONE = 1 << 8,
	G_ORIGZONE = 1 << 9,
	G_BODY = 1 << 10,
	G_INCL = 1 << 11,
	G_SETMOD = 1 << 12,
	G_SIZE = 1 << 13,
};

enum tag_arg { TA_NONE, TA_STRING, TA_LIST, TA_NUMBER };

enum tag_code {
	TC_IS,
	TC_CONTAINS,
	TC_MATCHES,
	TC_VALUE,
	TC_COUNT,
	TC_COMPARATOR,
	TC_ALL,
	TC_LOCALPART,
	TC_DOMAIN,
	TC_USER,
	TC_DETAIL,
	TC_INDEX,
	TC_LAST,
	TC_COPY,
	TC_CREATE,
	TC_FLAGS,
	TC_DAYS,
	TC_SUBJECT,
	TC_FROM,
	TC_ADDRESSES,
	TC_MIME,
	TC_HANDLE,
	TC_ZONE,
	TC_ORIGZONE,
	TC_RAW,
	TC_CONTENT,
	TC_TEXT,
	TC_PERSONAL,
	TC_GLOBAL,
	TC_ONCE,
	TC_OPTIONAL,
	TC_LOWER,
	TC_UPPER,
	TC_LOWERFIRST,
	TC_UPPERFIRST,
	TC_QUOTEWILD,
	TC_LENGTH,
	TC_OVER,
	TC_UNDER,
};

struct tag_def {
	const char *name;
	uint16_t group;
	uint8_t ext;
	uint8_t arg;
	uint8_t code;
};

/* How the parts after the identifier look. */
enum { K_NONE, K_TEST, K_TESTLIST };

struct cmd_def {
	const char *name;
	uint8_t op;
	uint8_t ext;
	bool test;
	uint16_t groups;
	const char *args; /* S string, L string list, N number, ? optional
			     leading string (a variable name) */
	uint8_t tests;	  /* K_* */
	bool block;
};

struct vctx {
	struct sv_errs *errs;
	uint32_t exts;
};

extern const char *const sv_ext_names[SV_EXT_COUNT];

bool sv_has_ext(const struct vctx *v, unsigned ext);
const struct cmd_def *sv_find_cmd(const char *name);
const struct cmd_def *sv_find_op(unsigned op);
const struct tag_def *sv_find_tag(const char *name);
/* RFC 6609 3.5: "global.NAME" names a global variable directly. */
bool sv_global_ns_name(const struct vctx *v, const struct sv_string *s);

#endif
