/*
 * mailstore_testlib.h - helpers shared by the storage engine's unit tests
 * (test_mailstore.c, test_mailstore_recovery.c, test_mailstore_modseq.c).
 * Each test program defines tmpdir and TEST_PROGRAM, includes this once,
 * and passes setup/teardown to cmocka_run_group_tests().
 */
#ifndef ROOKERY_TEST_MAILSTORE_TESTLIB_H
#define ROOKERY_TEST_MAILSTORE_TESTLIB_H

static int dir_seq;

#define MSG1                                                                   \
	"From: a@example.com\r\nTo: b@example.com\r\n"                         \
	"Subject: hello\r\n\r\nbody one\r\n"
#define MSG2                                                                   \
	"From: c@example.com\r\nSubject: two\r\n"                              \
	"Content-Type: multipart/mixed; boundary=x\r\n\r\n"                    \
	"--x\r\nContent-Type: text/plain\r\n\r\npart\r\n--x--\r\n"

static inline char *new_dir(void)
{
	return xasprintf("%s/s%d", tmpdir, ++dir_seq);
}

static inline struct mstore *open_ms(const char *dir)
{
	struct mstore *ms = NULL;
	char *err = NULL;

	if (mstore_open(dir, NULL, &ms, &err) < 0) {
		print_message("mstore_open: %s\n", err);
		free(err);
	}
	assert_non_null(ms);
	return ms;
}

static inline struct mstore_spool *spool_of(struct mstore *ms, const char *data)
{
	struct mstore_spool *sp = NULL;
	size_t len = strlen(data);

	assert_int_equal(mstore_spool_new(ms, &sp), MSTORE_OK);
	/* in pieces, as LMTP streams it */
	for (size_t off = 0; off < len; off += 7) {
		size_t n = len - off < 7 ? len - off : 7;

		assert_int_equal(mstore_spool_write(sp, data + off, n),
				 MSTORE_OK);
	}
	assert_int_equal(mstore_spool_finish(sp), MSTORE_OK);
	return sp;
}

/* Delivers data to user's mailbox (NULL: INBOX); returns the target. */
static inline struct mstore_target deliver(struct mstore *ms, const char *user,
					   const char *mailbox,
					   const char *data, int64_t date)
{
	struct mstore_spool *sp = spool_of(ms, data);
	struct mstore_target t = {
	    .user = user, .mailbox = mailbox, .internaldate = date};

	assert_int_equal(mstore_deliver_sync(ms, sp, &t, 1), MSTORE_OK);
	mstore_spool_free(&sp);
	return t;
}

static inline uint32_t mbox_id(struct mstore *ms, const char *user,
			       const char *name)
{
	struct mstore_mailbox mb;
	uint32_t id;

	assert_int_equal(mstore_mailbox_get(ms, user, name, &mb), MSTORE_OK);
	id = mb.id;
	mstore_mailbox_clear(&mb);
	return id;
}

static inline struct mstore_mailbox mbox(struct mstore *ms, uint32_t id)
{
	struct mstore_mailbox mb;

	assert_int_equal(mstore_mailbox_get_by_id(ms, id, &mb), MSTORE_OK);
	return mb;
}

static inline char *read_file(const char *path, size_t *len_r)
{
	FILE *f = fopen(path, "rb");
	struct strbuf s;
	char buf[4096], *data;
	size_t n;

	if (f == NULL)
		return NULL;
	strbuf_init(&s);
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		strbuf_add(&s, buf, n);
	fclose(f);
	data = strbuf_steal(&s, len_r);
	strbuf_free(&s);
	return data;
}

static inline size_t count_kind(struct mstore *ms, uint64_t after,
				enum mstore_change_kind kind)
{
	struct mstore_change *ch;
	size_t n, c = 0;

	assert_int_equal(mstore_changes_read(ms, after, 0, &ch, &n, NULL),
			 MSTORE_OK);
	for (size_t i = 0; i < n; i++)
		c += ch[i].kind == kind;
	free(ch);
	return c;
}

/* The group's temporary directory, made before and removed after. */
static int setup(void **state)
{
	(void)state;
	log_init(TEST_PROGRAM, 0, LOG_LEVEL_WARN);
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	return 0;
}

static int teardown(void **state)
{
	char *cmd = xasprintf("rm -rf %s", tmpdir);
	int ret;

	(void)state;
	ret = system(cmd);
	free(cmd);
	return ret == 0 ? 0 : -1;
}

#endif
