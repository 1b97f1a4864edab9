/*
 * sieve_int.h - what the files of sieve/ share; not for use outside.
 *
 * Pipeline: sieve_lex.c tokens -> sieve_parse.c syntax tree (struct sv_node)
 * -> sieve_validate.c checked, resolved commands (struct sv_cmd) -> the
 * interpreter (sieve_run.c, sieve_test.c) and the serialiser
 * (sieve_compile.c) work on struct sv_cmd only.
 */
#ifndef ROOKERY_SIEVE_INT_H
#define ROOKERY_SIEVE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sieve/sieve.h"
#include "strbuf.h"

/* --- errors --- */

#define SV_MAX_ERRORS 20

struct sv_errs {
	struct strbuf *out; /* may be NULL */
	unsigned count;
};

void sv_error(struct sv_errs *e, int line, const char *fmt, ...)
    LOG_PRINTF(3, 4);

/* --- lexer --- */

enum sv_tok_type {
	SV_T_EOF,
	SV_T_ERROR,
	SV_T_IDENT,
	SV_T_TAG, /* s holds the name without ':' */
	SV_T_NUMBER,
	SV_T_STRING,
	SV_T_LBRACKET,
	SV_T_RBRACKET,
	SV_T_LPAREN,
	SV_T_RPAREN,
	SV_T_LBRACE,
	SV_T_RBRACE,
	SV_T_COMMA,
	SV_T_SEMICOLON,
};

struct sv_token {
	enum sv_tok_type type;
	int line;
	char *s; /* IDENT, TAG, STRING: owned by the token, NUL-terminated */
	size_t len;
	uint64_t num;
};

struct sv_lexer {
	const char *p, *end;
	int line;
	struct sv_errs *errs;
};

void sv_lex_init(struct sv_lexer *lx, const char *text, size_t len,
		 struct sv_errs *errs);
/* Reads the next token; SV_T_ERROR after reporting an error. */
void sv_lex_next(struct sv_lexer *lx, struct sv_token *tok);
void sv_token_clear(struct sv_token *tok);
bool sv_utf8_valid(const char *s, size_t len);

/* --- syntax tree --- */

struct sv_string {
	char *s;
	uint32_t len;
	uint8_t vars; /* contains "${": expand at run time */
};

struct sv_slist {
	struct sv_string *v;
	uint32_t n;
};

enum sv_arg_kind { SV_ARG_NUMBER, SV_ARG_STRING, SV_ARG_LIST, SV_ARG_TAG };

struct sv_arg {
	enum sv_arg_kind kind;
	int line;
	uint64_t num;
	char *tag;
	struct sv_slist list; /* STRING: n == 1 */
};

struct sv_node {
	char *name;
	int line;
	struct sv_arg *args;
	size_t nargs;
	struct sv_node *tests;
	size_t ntests;
	bool test_list; /* tests came in "( ... )" */
	struct sv_node *block;
	size_t nblock;
	bool has_block;
};

/* Parses a whole script into *nodes_r and *n_r; returns 0 or -1 (errors set).
 */
int sv_parse(const char *text, size_t len, unsigned max_nesting,
	     struct sv_errs *errs, struct sv_node **nodes_r, size_t *n_r);
void sv_nodes_free(struct sv_node *nodes, size_t n);
void sv_slist_free(struct sv_slist *l);

/* --- compiled commands --- */

enum sv_op {
	SV_OP_NONE = 0,
	/* control and actions */
	SV_OP_IF,
	SV_OP_ELSIF,
	SV_OP_ELSE,
	SV_OP_STOP,
	SV_OP_KEEP,
	SV_OP_DISCARD,
	SV_OP_REDIRECT,
	SV_OP_FILEINTO,
	SV_OP_REJECT,
	SV_OP_EREJECT,
	SV_OP_VACATION,
	SV_OP_SETFLAG,
	SV_OP_ADDFLAG,
	SV_OP_REMOVEFLAG,
	SV_OP_MARK,
	SV_OP_UNMARK,
	SV_OP_SET,
	SV_OP_INCLUDE,
	SV_OP_RETURN,
	SV_OP_GLOBAL,
	/* tests */
	SV_OP_ADDRESS,
	SV_OP_HEADER,
	SV_OP_ENVELOPE,
	SV_OP_EXISTS,
	SV_OP_SIZE,
	SV_OP_ALLOF,
	SV_OP_ANYOF,
	SV_OP_NOT,
	SV_OP_TRUE,
	SV_OP_FALSE,
	SV_OP_STRING,
	SV_OP_HASFLAG,
	SV_OP_BODY,
	SV_OP_DATE,
	SV_OP_CURRENTDATE,
	SV_OP_MAILBOXEXISTS,
	SV_OP_COUNT
};

enum sv_match {
	SV_MATCH_IS,
	SV_MATCH_CONTAINS,
	SV_MATCH_MATCHES,
	SV_MATCH_VALUE,
	SV_MATCH_COUNT
};
enum sv_rel {
	SV_REL_GT,
	SV_REL_GE,
	SV_REL_LT,
	SV_REL_LE,
	SV_REL_EQ,
	SV_REL_NE
};
enum sv_cmp { SV_CMP_CASEMAP, SV_CMP_OCTET, SV_CMP_NUMERIC };
enum sv_addrpart {
	SV_AP_ALL,
	SV_AP_LOCALPART,
	SV_AP_DOMAIN,
	SV_AP_USER,
	SV_AP_DETAIL
};
enum sv_bodyx { SV_BODY_TEXT, SV_BODY_RAW, SV_BODY_CONTENT };

/* Flag bits of struct sv_cmd.flags. */
#define SV_F_COPY 0x0001u
#define SV_F_CREATE 0x0002u
#define SV_F_MIME 0x0004u
#define SV_F_LAST 0x0008u
#define SV_F_OVER 0x0010u /* size :over (else :under) */
#define SV_F_ORIGZONE 0x0020u
#define SV_F_GLOBAL 0x0040u /* include :global */
#define SV_F_ONCE 0x0080u
#define SV_F_OPTIONAL 0x0100u
#define SV_F_HAS_FLAGS 0x0200u /* :flags given */
#define SV_F_HAS_VAR 0x0400u   /* setflag/hasflag with variable name */
#define SV_F_SECONDS 0x0800u   /* num came from :seconds */
#define SV_F_HAS_NUM 0x1000u
#define SV_F_IMAPFLAGS 0x2000u /* old draft semantics */
#define SV_F_ALL 0x3fffu

/* Modifiers of "set" (RFC 5229 4.1), in precedence order bits. */
#define SV_MOD_LOWER 0x01u
#define SV_MOD_UPPER 0x02u
#define SV_MOD_LOWERFIRST 0x04u
#define SV_MOD_UPPERFIRST 0x08u
#define SV_MOD_QUOTEWILD 0x10u
#define SV_MOD_LENGTH 0x20u
#define SV_MOD_ALL 0x3fu

/* String-list slots of struct sv_cmd. */
enum sv_slot {
	SV_SL_P0, /* positional arguments in order */
	SV_SL_P1,
	SV_SL_P2,
	SV_SL_FLAGS,
	SV_SL_FROM,
	SV_SL_SUBJECT,
	SV_SL_HANDLE,
	SV_SL_ADDRESSES,
	SV_SL_FCC,
	SV_SL_ZONE,
	SV_SL_CONTENT,
	SV_SL_COUNT
};

struct sv_cmd {
	uint8_t op;
	uint8_t match, rel, cmp, addrpart, bodyx, mods;
	uint16_t flags;
	uint32_t line;
	int32_t index; /* :index N, 0 = none */
	uint64_t num;  /* size limit, vacation seconds */
	struct sv_slist sl[SV_SL_COUNT];
	struct sv_cmd *kids; /* tests: the test of if/elsif/not, allof... */
	uint32_t nkids;
	struct sv_cmd *block; /* the block of if/elsif/else */
	uint32_t nblock;
};

/* Extension bits a script requires. */
enum sv_ext {
	SV_EXT_FILEINTO,
	SV_EXT_REJECT,
	SV_EXT_EREJECT,
	SV_EXT_ENVELOPE,
	SV_EXT_ENCODED,
	SV_EXT_VACATION,
	SV_EXT_IMAP4FLAGS,
	SV_EXT_VARIABLES,
	SV_EXT_RELATIONAL,
	SV_EXT_NUMERIC,
	SV_EXT_SUBADDRESS,
	SV_EXT_COPY,
	SV_EXT_BODY,
	SV_EXT_DATE,
	SV_EXT_INDEX,
	SV_EXT_MAILBOX,
	SV_EXT_INCLUDE,
	SV_EXT_IMAPFLAGS,
	SV_EXT_OCTET,
	SV_EXT_CASEMAP,
	SV_EXT_COUNT
};

struct sieve_script {
	uint32_t exts;		 /* bit per enum sv_ext */
	struct sieve_limits lim; /* run-time limits given at compile time */
	struct sv_cmd *cmds;
	uint32_t ncmds;
};

/* Validates the tree and builds the command list (sieve_validate.c). */
int sv_validate(struct sv_node *nodes, size_t n, struct sv_errs *errs,
		struct sieve_script *script);
void sv_cmds_free(struct sv_cmd *cmds, uint32_t n);
/* Structural check of a (deserialised) command list: kinds, nesting. */
int sv_check_tree(const struct sieve_script *s);
bool sv_op_is_test(unsigned op);

/* --- matching (sieve_match.c) --- */

/* Compares two values with a comparator: <0, 0, >0 (relational order). */
int sv_cmp_order(enum sv_cmp cmp, const char *a, size_t alen, const char *b,
		 size_t blen);
bool sv_cmp_rel(enum sv_rel rel, int order);
/* :is, :contains, :matches; caps (may be NULL) receives ${0}..${9} of a
 * :matches success as caps[i] = (offset, length) pairs into val. */
struct sv_caps {
	size_t off[10], len[10];
	unsigned n;
};
bool sv_match_one(enum sv_match m, enum sv_cmp cmp, const char *val,
		  size_t vlen, const char *key, size_t klen,
		  struct sv_caps *caps);
bool sv_cmp_valid_for_match(enum sv_cmp cmp, enum sv_match m);

/* --- variables (sieve_vars.c) --- */

struct sv_var {
	char *name; /* lower-case */
	struct strbuf val;
};

struct sv_vars {
	struct sv_var *v;
	size_t n, cap;
	struct strbuf match[10];
	unsigned nmatch;
	size_t max_size;
};

void sv_vars_init(struct sv_vars *vars, size_t max_size);
void sv_vars_free(struct sv_vars *vars);
struct strbuf *sv_var_get(struct sv_vars *vars, const char *name, size_t len,
			  bool create);
/* Expands ${name} and ${N} references into out (appending); lookup
 * returns a variable's value or NULL (empty). */
typedef const struct strbuf *(*sv_var_lookup)(void *ctx, const char *name,
					      size_t len);
void sv_vars_expand(const struct sv_vars *vars, sv_var_lookup lookup, void *ctx,
		    const char *s, size_t len, struct strbuf *out);
bool sv_var_name_valid(const char *s, size_t len, bool allow_num);
void sv_apply_mods(unsigned mods, const char *s, size_t len,
		   struct strbuf *out);
/* Decodes ${hex:..} and ${unicode:..} (RFC 5228 2.4.2.4) in place into
 * out; returns -1 on a bad unicode value. */
int sv_encoded_decode(const char *s, size_t len, struct strbuf *out);

/* --- message access (sieve_msg.c) --- */

/* The header fields of msg->raw, indexed once per run. */
struct sv_hdr_index {
	struct {
		const char *name, *val;
		size_t nlen, vlen;
	} * h;
	size_t n, cap;
	bool built;
};
void sv_hdr_index_free(struct sv_hdr_index *idx);
int sv_msg_headers(const struct sieve_msg *msg, struct sv_hdr_index *idx,
		   const char *name, struct sieve_values *vals);
int sv_msg_body(const struct sieve_msg *msg, enum sieve_body_transform t,
		const char *const *types, size_t ntypes,
		struct sieve_values *parts);
/* Unfolds and decodes RFC 2047 encoded words into UTF-8. */
void sv_decode_header(const char *s, size_t len, struct strbuf *out);
void sv_unfold(const char *s, size_t len, struct strbuf *out);

/* --- addresses (sieve_addr.c) --- */

struct sv_addr {
	char *local, *domain; /* domain NULL for a group name / bad address */
	char *all;	      /* local@domain, or the raw text */
};
/* Parses an address-list header value; returns the number of addresses. */
size_t sv_addr_parse_list(const char *s, size_t len, struct sv_addr **out_r);
void sv_addrs_free(struct sv_addr *a, size_t n);
/* Extracts an address part; returns false when it does not exist. */
bool sv_addr_part(const struct sv_addr *a, enum sv_addrpart part,
		  struct strbuf *out);

/* RFC 5228 5.1: the address test only looks at address header fields. */
bool sv_addr_header_ok(const char *name);
/* Checks a redirect target (RFC 5228 4.2) and appends its addr-spec to
 * out; -1 if it is not exactly one valid address. */
int sv_addr_redirect(const char *s, size_t len, struct strbuf *out);

/* --- dates (sieve_date.c) --- */

struct sv_tm {
	int year, mon, mday, hour, min, sec, wday, zone_min;
	int64_t epoch;
};
int sv_date_parse(const char *s, size_t len, struct sv_tm *tm);
void sv_date_from_epoch(int64_t epoch, int zone_min, struct sv_tm *tm);
/* Appends the named date-part; returns -1 for an unknown name. */
int sv_date_part(const struct sv_tm *tm, const char *part, struct strbuf *out);
bool sv_date_part_valid(const char *part);
int sv_zone_parse(const char *s, size_t len, int *min_r);

/* --- interpreter --- */

struct sv_run;
bool sv_eval_test(struct sv_run *r, const struct sv_cmd *c);
void sv_run_expand(struct sv_run *r, const struct sv_string *str,
		   struct strbuf *out);
void sv_run_fail(struct sv_run *r, const struct sv_cmd *c, const char *fmt, ...)
    LOG_PRINTF(3, 4);
struct sv_vars *sv_run_vars(struct sv_run *r);
const struct sieve_msg *sv_run_msg(struct sv_run *r);
bool sv_run_has_ext(struct sv_run *r, enum sv_ext ext);
struct strbuf *sv_run_flagvar(struct sv_run *r, const struct sv_cmd *c,
			      const struct sv_string *name);

/* Canonical flag list helpers (sieve_run.c). */
void sv_flags_add(struct strbuf *flags, const char *list, size_t len);
void sv_flags_remove(struct strbuf *flags, const char *list, size_t len);

#endif
