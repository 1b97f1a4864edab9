/*
 * sieve_run_int.h - the interpreter's state, shared by sieve_run.c (commands),
 * sieve_test.c (tests) and sieve_result.c (actions and their duplicate
 * rules).  Private to sieve/.
 */
#ifndef ROOKERY_SIEVE_RUN_INT_H
#define ROOKERY_SIEVE_RUN_INT_H

#include "sieve/sieve_int.h"

struct sv_frame {
	const struct sieve_script *script;
	struct sv_vars vars;
	char **globals; /* names declared with "global" */
	size_t nglobals;
};

struct sv_loaded {
	char *name;
	bool global;
	struct sieve_script *script;
	bool once_done; /* included once already */
	bool active;	/* on the include stack now */
};

struct sv_hcache {
	char *name;
	bool have_dec, have_addrs;
	struct sieve_values dec; /* decoded values, message order */
	struct sv_addr **addrs;	 /* per field: its parsed address list */
	size_t *naddrs, nfields;
};

struct sv_run {
	const struct sieve_msg *msg;
	struct sieve_limits lim;
	struct sieve_result *res;
	struct strbuf *err;
	bool failed, stopped, returned, keep_cancelled;
	struct strbuf flags; /* the internal flags variable, RFC 5232 3 */
	struct sv_hdr_index hdrs;
	struct sv_hcache *hcache; /* see sieve_test.c decoded_fields() */
	size_t nhcache;
	struct sv_vars globals;
	struct sv_frame *frame;
	unsigned depth;
	struct sv_loaded *loaded;
	size_t nloaded;
	unsigned redirects;
	bool has_reject, has_vacation, has_delivery;
	int reject_line, delivery_line;
};

/* sieve_result.c: add actions under the duplicate rules; false after a
 * run-time error (already reported). */
bool sv_act_keep(struct sv_run *r, const struct sv_cmd *c, const char *flags,
		 bool implicit);
bool sv_act_fileinto(struct sv_run *r, const struct sv_cmd *c,
		     const char *mailbox, const char *flags);
bool sv_act_redirect(struct sv_run *r, const struct sv_cmd *c,
		     const char *address);
bool sv_act_reject(struct sv_run *r, const struct sv_cmd *c, const char *reason,
		   bool ereject);
bool sv_act_discard(struct sv_run *r, const struct sv_cmd *c);
bool sv_act_vacation(struct sv_run *r, const struct sv_cmd *c,
		     struct sieve_action *vac);

#endif
