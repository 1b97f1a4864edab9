/*
 * imap_acl.h - access control for the store's IMAP server: RFC 4314
 * rights, the RFC 2342 namespaces, per-user \Seen on shared mailboxes,
 * admin identities.  The rights logic lives in imap_rights.c; the ACL and
 * QUOTA commands (RFC 4314, RFC 9208) in imap_acl.c.
 *
 * Names.  A client names a mailbox in one of three namespaces:
 *   "INBOX", "Sent", "a/b"          the session user's own (personal)
 *   "Other Users/<user>/<name>"     <name> of <user>
 *   "Shared Folders/<name>"         <name> of the account's pseudo-user
 *                                   "shared@<domain of the session user>"
 * The shared-folder pseudo-user is an ordinary store user that never logs
 * in; an admin creates it (`rookery user add shared@example.com`, or the
 * first CREATE "Shared Folders/..." by an admin) and grants rights on its
 * mailboxes with SETACL.  Chosen so that the folders are plain mailboxes
 * (quota, replication, reconstruct all apply) and "anyone" or per-user
 * grants decide who sees them.
 *
 * Rights.  The owner of a mailbox and every admin (config key
 * admin_identities: space-separated user names, in [store NAME] or
 * [global]) hold every right.  Anyone else holds the union of the rights of
 * the ACL entries naming them or "anyone", minus the union of the negative
 * entries ("-bob@example.com", "-anyone").  A mailbox on which a user holds
 * no right does not exist for that user (NO [NONEXISTENT]); a missing
 * right on a visible mailbox is NO [NOPERM].
 *
 * Handlers call imap_acl_mailbox() in place of mstore_mailbox_get(): it
 * resolves the name, looks the mailbox up and checks the rights.
 */
#ifndef ROOKERY_STORE_IMAP_ACL_H
#define ROOKERY_STORE_IMAP_ACL_H

#include <stddef.h>
#include <stdint.h>

struct imap_session;
struct imap_view;
struct mstore_mailbox;
struct mstore_msg;
struct mstore_flag_change;
struct strbuf;

#define IMAP_NS_OTHER "Other Users"
#define IMAP_NS_SHARED "Shared Folders"
#define IMAP_SHARED_LOCAL "shared" /* the pseudo-user "shared@<domain>" */

/* Returned beside enum mstore_err values: visible, but a right is missing. */
#define IMAP_ACL_E_NOPERM 1000

/* One bit per right of IMAP_RIGHTS_ALL, in that order. */
#define IMAP_RIGHTS_ALL "lrswipkxtea"
#define IMAP_R_MASK 0x7ffu

/*
 * Parses a rights string (RFC 4314 2.1; the obsolete "c" means "k" and
 * "d" means "xte", 2.1.1).  Returns 0 and *mask_r, or -1 for an unknown
 * letter.
 */
int imap_rights_parse(const char *s, uint32_t *mask_r);
/* Appends mask as letters, plus "c" with k and "d" with x, t or e. */
void imap_rights_write(uint32_t mask, struct strbuf *out);
/* The mask of one right letter ('l', ...); 0 if unknown. */
uint32_t imap_right(char c);

/* 1 when user is listed in admin_identities. */
int imap_acl_is_admin(struct imap_session *s);

/*
 * Splits a client mailbox name (storage form, from imap_mailbox_arg())
 * into owner and the name in the owner's tree, both allocated.  Returns
 * 0, or MSTORE_E_NOMAILBOX for a bare namespace prefix ("Other Users",
 * "Other Users/bob@example.com").
 */
int imap_acl_split(struct imap_session *s, const char *name, char **owner_r,
		   char **local_r);
/* Appends the client (storage form) name of owner's mailbox local. */
void imap_acl_display_name(struct imap_session *s, const char *owner,
			   const char *local, struct strbuf *out);

/* The session user's rights on mailbox mb (owner and id filled). */
uint32_t imap_acl_rights(struct imap_session *s,
			 const struct mstore_mailbox *mb);

/*
 * Resolves name, reads the mailbox into *mb_r (clear it with
 * mstore_mailbox_clear() on success) and checks that the session user
 * holds every right in need ("" for none).  Returns MSTORE_OK,
 * MSTORE_E_NOMAILBOX (missing, or no right at all), IMAP_ACL_E_NOPERM or
 * another engine error.  rights_r may be NULL.
 */
int imap_acl_mailbox(struct imap_session *s, const char *name,
		     const char *need, struct mstore_mailbox *mb_r,
		     uint32_t *rights_r);
/* Sends the tagged NO for an error of imap_acl_mailbox() (NONEXISTENT,
 * NOPERM, ...). */
void imap_acl_no(struct imap_session *s, int err);

/*
 * The target of CREATE / RENAME-to: resolves name into *owner_r and
 * *local_r (allocated) and checks the right to create it: own names
 * always; elsewhere "k" on the parent, or admin.  Returns 0, or -1 after
 * sending the tagged NO.
 */
int imap_acl_create_target(struct imap_session *s, const char *name,
			   char **owner_r, char **local_r);

/*
 * Adds to *mbs the mailboxes of other users the session user may list
 * ("l"), named as the client sees them ("Other Users/...", "Shared
 * Folders/..."); for an admin, also every mailbox of a user named
 * literally by a pattern "Other Users/<user>/...".
 */
void imap_acl_list_shared(struct imap_session *s, char *const *patterns,
			  size_t npatterns, struct mstore_mailbox **mbs,
			  size_t *n);

/*
 * STORE on the selected mailbox through the ACL: flags the user has no
 * right to change are left alone (RFC 4314 4: s for \Seen, t for
 * \Deleted, w for the rest); \Seen of a mailbox the user does not own is
 * kept per user (imap_view.c).  Same contract as mstore_flags_store(),
 * plus IMAP_ACL_E_NOPERM when no flag of the request may be changed.
 */
int imap_acl_flags_store(struct imap_session *s, uint32_t mailbox_id,
			 const uint32_t *uids, size_t nuids,
			 const struct mstore_flag_change *chg,
			 struct mstore_msg **changed_r, size_t *nchanged_r,
			 uint32_t **failed_r, size_t *nfailed_r);

/*
 * APPEND's flags through the ACL (RFC 4314 4): those the user may not set
 * are dropped (s: \Seen, t: \Deleted, w: the rest and keywords); \Seen
 * is never stored for another user's mailbox (it is per user there).
 */
void imap_acl_filter_flags(struct imap_session *s, const char *owner,
			   uint32_t rights, uint32_t *flags,
			   const char *const **keywords);

/* ---- the commands (imap_acl.c) --------------------------------------------- */

struct mstore;
/* Lower-cases an ACL identifier into out; -1 when empty, too long or
 * holding spaces, quotes or controls. */
int imap_acl_identifier_norm(const char *in, char *out, size_t size);
/*
 * SETACL semantics (RFC 4314 3.1) on mailbox_id, for IMAP and the control
 * socket: modrights "+xy" adds, "-xy" removes, "xy" replaces, "" deletes
 * the entry.  MSTORE_OK, MSTORE_E_INVAL (bad identifier or rights) or
 * the engine's error.
 */
int imap_acl_modify(struct mstore *ms, uint32_t mailbox_id,
		    const char *identifier, const char *modrights);

struct imap_command;
/* RFC 4314 */
void imap_cmd_setacl(struct imap_session *s, const struct imap_command *cmd);
void imap_cmd_deleteacl(struct imap_session *s, const struct imap_command *cmd);
void imap_cmd_getacl(struct imap_session *s, const struct imap_command *cmd);
void imap_cmd_listrights(struct imap_session *s,
			 const struct imap_command *cmd);
void imap_cmd_myrights(struct imap_session *s, const struct imap_command *cmd);
/* RFC 9208; the quota root of a mailbox is its owner's user name */
void imap_cmd_getquota(struct imap_session *s, const struct imap_command *cmd);
void imap_cmd_getquotaroot(struct imap_session *s,
			   const struct imap_command *cmd);
void imap_cmd_setquota(struct imap_session *s, const struct imap_command *cmd);

/* ---- the view's side (imap_view.c) ---------------------------------------- */

/* The rights the session held when it opened the view. */
uint32_t imap_view_rights(const struct imap_view *v);
/* 1 when the view keeps \Seen per user (a mailbox of another user). */
int imap_view_private_seen(const struct imap_view *v);
/* flags of uid as this user sees them (\Seen from the per-user set). */
uint32_t imap_view_user_flags(const struct imap_view *v, uint32_t uid,
			      uint32_t flags);
/* Adds (add = 1) or removes uids from the per-user \Seen set, stores it
 * and updates the view's flags.  MSTORE_OK or the engine's error. */
int imap_view_seen_store(struct imap_session *s, const uint32_t *uids,
			 size_t n, int add);

#endif
