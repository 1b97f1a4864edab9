/*
 * imap_viewarr.h - private to store/imap_view.c and store/imap_viewarr.c:
 * the message arrays the views of one mailbox share (struct vm_array,
 * copy-on-write, see imap_view.c's head comment), the per-mailbox record
 * that lists them, and the edits that change them.
 */
#ifndef ROOKERY_STORE_IMAP_VIEWARR_H
#define ROOKERY_STORE_IMAP_VIEWARR_H

#include <stddef.h>
#include <stdint.h>

struct imap_view;
struct mstore_msg;

/* A keyword mask index has 24 bits: the distinct masks of one array cannot
 * outnumber its messages, so only a view of more than 16 million messages
 * with as many different keyword sets could run out (logged; the message
 * then shows no keywords). */
#define VM_MASKS_MAX ((1u << 24) - 1)
/* Arrays of a mailbox a session compares its result with before copying. */
#define VM_CANDIDATES 4

struct vm_ent {
	uint32_t uid;
	uint32_t flags : 8; /* MSTORE_F_* */
	uint32_t kw : 24;   /* masks[kw]; 0: no keyword */
};

struct view_mbox;

struct vm_array {
	struct vm_array *next, *prev; /* the mailbox's arrays, newest first */
	struct view_mbox *mb;
	char *seen_user; /* flags carry this user's \Seen; NULL: the owner's */
	unsigned refs;
	uint32_t n, cap;
	struct vm_ent *e;
	uint64_t *masks; /* masks[0] = 0; [0, nsorted) ascending */
	uint32_t nmasks, nsorted, maskcap;
	/* the mailbox's HIGHESTMODSEQ when this array was exactly its
	 * message list (0: not known; never for per-user \Seen): a SELECT
	 * at that modseq adopts it without listing the mailbox */
	uint64_t synced;
};

/* A mailbox with views, or that had some: the \Recent mark stays. */
struct view_mbox {
	struct view_mbox *next; /* hash chain */
	uint32_t mailbox_id;
	uint32_t next_uid; /* \Recent (RFC 3501 2.3.2): uids from here are
			    * new to every session */
	struct imap_view *views;
	struct vm_array *arrays;
	char **kw; /* keyword names: kw[i] is bit i */
	size_t nkw;
};

/*
 * A change to a view's array: new flags of some messages (ascending
 * msns), messages to remove (ascending msns), messages to add at the end
 * (ascending uids).
 */
struct vm_rec {
	uint32_t key; /* msn (updates) or uid (appends) */
	uint32_t flags;
	uint64_t kw;
	uint64_t modseq; /* for the FETCH that announces an update */
};

struct vm_edit {
	struct vm_rec *upd, *app;
	size_t nupd, capupd, napp, capapp;
	const uint32_t *del;
	size_t ndel;
};

/* The index of mask m in a's table, added when new (a private). */
uint32_t vm_mask_index(struct vm_array *a, uint64_t m);

/* The mailbox's list of arrays: a becomes its newest / leaves it. */
void vm_link_front(struct vm_array *a);
void vm_unlink(struct vm_array *a);

/* A new array (one reference, room for cap messages), the mailbox's
 * newest; vm_unref() drops *ap's reference and sets it to NULL. */
struct vm_array *vm_new(struct view_mbox *mb, const char *seen_user,
			uint32_t cap);
void vm_unref(struct vm_array **ap);
/* Do a's flags carry the \Seen of seen_user (NULL: the owner's)? */
int vm_same_key(const struct vm_array *a, const char *seen_user);

/* An array that is the mailbox's message list at modseq (owner's flags). */
struct vm_array *vm_synced(struct view_mbox *mb, uint64_t modseq);
/* The array for a new view: a matching one of the mailbox (a reference
 * taken), or new from the engine's records msgs[0..n). */
struct vm_array *vm_for_view(struct view_mbox *mb, const char *seen_user,
			     const struct mstore_msg *msgs, size_t n);

void vm_edit_push(struct vm_rec **v, size_t *n, size_t *cap,
		  const struct vm_rec *r);
void vm_edit_free(struct vm_edit *ed);
/* Would a with ed applied hold what c holds? */
int vm_equal_after(const struct vm_array *a, const struct vm_edit *ed,
		   const struct vm_array *c);
/* Applies ed to a, which must be private (refs == 1). */
void vm_apply(struct vm_array *a, const struct vm_edit *ed);

#endif
