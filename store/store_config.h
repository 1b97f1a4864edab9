/*
 * store_config.h - reading a [store NAME] section into struct store and
 * the storage engine's parameters.  Shared by rookery-store (main.c) and
 * the control commands' direct mode (the `rookery` CLI with the store
 * stopped), so both read the same keys the same way.
 *
 * Keys (a [store NAME] value, else the [global] one, else the default):
 *   data_dir             required
 *   role                 primary | replica (primary)
 *   hostname             greetings and Received lines (gethostname())
 *   max_message_size     LMTP SIZE / APPEND limit, K/M/G (50M; 0 = none)
 *   quota_tempfail       over quota is 452 4.2.2, not 552 5.2.2 (no)
 *   allow_plaintext      plaintext auth without TLS (no)
 *   auth_fail_delay_ms   first delay after a failed login (1000)
 *   lmtp_max_recipients  RCPTs per transaction (1000)
 *   idle_timeout         seconds before an idle connection is closed
 *   default_quota        storage limit of new users, K/M/G (0 = none)
 *   default_quota_messages  message limit of new users (0 = none)
 *   cache_mb             Berkeley DB cache (32)
 *   fsync_threads        spool fsync workers (4)
 *   admin_identities     users holding every IMAP right and SETQUOTA
 *                        (read by store/imap_rights.c; none)
 */
#ifndef ROOKERY_STORE_CONFIG_H
#define ROOKERY_STORE_CONFIG_H

struct config;
struct config_section;
struct mstore_params;
struct store;

/*
 * Fills st from section [store name] of cfg (st->cfg and st->sec are set;
 * st->net and st->ms are left alone).  Returns 0, or -1 with an allocated
 * *err_r naming the key.  Free the strings with store_config_clear().
 */
int store_config_load(struct store *st, struct config *cfg, const char *name,
		      char **err_r);
void store_config_clear(struct store *st);

/* The engine's parameters from sec.  0 or -1 with *err_r. */
int store_config_mstore_params(const struct config_section *sec,
			       struct mstore_params *p, char **err_r);

#endif
