/*
 * store.h - the rookery-store daemon's shared context.
 *
 * main.c builds one struct store from the [store NAME] config section,
 * opens the storage engine (mailstore.h), binds every "listen" line and
 * hands the struct store to each protocol as the listener argument
 * (conn_listener_arg()).  Protocol files see the daemon only through this.
 */
#ifndef ROOKERY_STORE_H
#define ROOKERY_STORE_H

#include <stdint.h>

struct config;
struct config_section;
struct net;
struct mstore;

enum store_role { STORE_PRIMARY = 0, STORE_REPLICA };

struct store {
	const char *name;		/* "ms1" */
	enum store_role role;
	struct config *cfg;
	const struct config_section *sec;	/* [store NAME] */
	struct net *net;
	struct mstore *ms;		/* the storage engine */
	char *hostname;			/* for greetings and Received lines */
	uint64_t max_message_size;	/* LMTP SIZE, APPEND limit */
	int quota_tempfail;		/* over quota: 452 4.2.2, not 552 */
	int allow_plaintext;		/* plaintext auth without TLS */
	unsigned auth_fail_delay_ms;	/* first delay after a failed login */

	/* Added by main.c/store_config.c (store_config.h lists the keys);
	 * all are filled before any listener accepts. */
	unsigned lmtp_max_rcpt;		/* RCPTs per transaction (452 4.5.3) */
	/* "idle_timeout" in seconds, 0 = the framework's default: every
	 * protocol's open() passes a non-zero value to
	 * conn_set_idle_timeout() (LMTP does; POP3/IMAP should too). */
	unsigned idle_timeout;
	const char *data_dir;		/* the store's data directory */
	const char *config_path;	/* the file given with -c */
	int debug;			/* -d: log_level debug, kept on reload */
};

/* Protocol tables, one per protocol, each in its <proto>_session.c. */
extern const struct conn_ops lmtp_conn_ops;
extern const struct conn_ops pop3_conn_ops;
extern const struct conn_ops imap_conn_ops;
extern const struct conn_ops control_conn_ops;
extern const struct conn_ops managesieve_conn_ops; /* sieve/ */

#endif
