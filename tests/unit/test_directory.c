/*
 * test_directory.c - the routing directory (lib/directory.h): the record
 * text form, atomic rewrites by the writer API, a reader that notices a
 * replaced file without being reopened, and configuration errors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "directory.h"
#include "strbuf.h"

struct fixture {
	char dir[64];
	char *path;
	struct config *cfg;
};

static int setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	char *text, *err = NULL;

	snprintf(f->dir, sizeof(f->dir), "/tmp/rk-dirtest-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	f->path = xasprintf("%s/directory.db", f->dir);
	text = xasprintf("[global]\ndirectory = %s\n[mux]\nhostname = x\n",
			 f->path);
	assert_int_equal(config_parse("t", text, &f->cfg, &err), 0);
	free(text);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char *cmd = xasprintf("rm -rf %s", f->dir);

	assert_int_equal(system(cmd), 0);
	free(cmd);
	config_free(&f->cfg);
	free(f->path);
	free(f);
	return 0;
}

static void test_record_text(void **state)
{
	struct dir_store st, back;
	char *text;

	(void)state;
	memset(&st, 0, sizeof(st));
	snprintf(st.name, sizeof(st.name), "ms1");
	snprintf(st.role, sizeof(st.role), "replica");
	st.up = 0;
	st.addr[DIR_SVC_IMAP] = xstrdup("127.0.0.1:143");
	st.addr[DIR_SVC_LMTP] = xstrdup("unix:/run/ms1/lmtp.sock");
	st.addr[DIR_SVC_POP3] = xstrdup("[::1]:995 tls");
	text = dir_store_format(&st);
	assert_string_equal(text, "state=down role=replica "
				  "imap=127.0.0.1:143 pop3=[::1]:995,tls "
				  "lmtp=unix:/run/ms1/lmtp.sock");
	assert_int_equal(dir_store_parse("ms1", text, &back), 0);
	assert_int_equal(back.up, 0);
	assert_string_equal(back.role, "replica");
	assert_string_equal(back.addr[DIR_SVC_POP3], "[::1]:995 tls");
	assert_null(back.addr[DIR_SVC_SIEVE]);
	dir_store_clear(&back);
	/* unknown keys are ignored, a word without '=' is an error */
	assert_int_equal(dir_store_parse("ms1", "future=1 state=up", &back),
			 0);
	assert_int_equal(back.up, 1);
	dir_store_clear(&back);
	assert_int_equal(dir_store_parse("ms1", "garbage", &back), -1);
	assert_int_equal(dir_store_parse("bad name", "state=up", &back), -1);
	free(text);
	dir_store_clear(&st);
}

static void test_names_and_services(void **state)
{
	(void)state;
	assert_int_equal(dir_store_name_ok("ms1"), 0);
	assert_int_equal(dir_store_name_ok("ms-1.r_2"), 0);
	assert_int_equal(dir_store_name_ok(""), -1);
	assert_int_equal(dir_store_name_ok("a/b"), -1);
	assert_int_equal(dir_store_name_ok("a b"), -1);
	assert_int_equal(dir_service_parse("IMAP"), DIR_SVC_IMAP);
	assert_int_equal(dir_service_parse("sieve"), DIR_SVC_SIEVE);
	assert_int_equal(dir_service_parse("smtp"), -1);
	assert_string_equal(dir_service_name(DIR_SVC_LMTP), "lmtp");
}

static void test_write_read_refresh(void **state)
{
	struct fixture *f = *state;
	const struct config_section *sec = config_section(f->cfg, "mux",
							  NULL);
	struct directory *d = NULL;
	struct dir_store st;
	char store[DIR_NAME_MAX];
	char *err = NULL;
	unsigned long gen;

	/* no file yet: empty, not an error */
	assert_string_equal(directory_path(sec), f->path);
	assert_int_equal(directory_open(sec, &d, &err), 0);
	assert_int_equal(directory_user_store(d, "a@x", store, &err), 1);
	gen = directory_generation(d);

	memset(&st, 0, sizeof(st));
	snprintf(st.name, sizeof(st.name), "ms1");
	st.up = 1;
	st.addr[DIR_SVC_POP3] = xstrdup("127.0.0.1:1110");
	assert_int_equal(directory_set_store(f->path, &st, &err), 0);
	dir_store_clear(&st);
	assert_int_equal(directory_set_user(f->path, "a@x", "ms1", &err), 0);
	assert_int_equal(directory_set_user(f->path, "b@x", "ms2", &err), 0);

	/* the reader sees the new file only after a refresh */
	assert_int_equal(directory_refresh(d), 1);
	assert_true(directory_generation(d) > gen);
	assert_int_equal(directory_refresh(d), 0);
	assert_int_equal(directory_user_store(d, "a@x", store, &err), 0);
	assert_string_equal(store, "ms1");
	assert_int_equal(directory_store_get(d, "ms1", &st, &err), 0);
	assert_string_equal(st.addr[DIR_SVC_POP3], "127.0.0.1:1110");
	dir_store_clear(&st);
	assert_int_equal(directory_store_get(d, "ms2", &st, &err), 1);

	/* move a user, delete one */
	assert_int_equal(directory_set_user(f->path, "a@x", "ms2", &err), 0);
	assert_int_equal(directory_set_user(f->path, "b@x", NULL, &err), 0);
	assert_int_equal(directory_user_store(d, "a@x", store, &err), 0);
	assert_string_equal(store, "ms1");	/* old view until refresh */
	assert_int_equal(directory_refresh(d), 1);
	assert_int_equal(directory_user_store(d, "a@x", store, &err), 0);
	assert_string_equal(store, "ms2");
	assert_int_equal(directory_user_store(d, "b@x", store, &err), 1);

	/* store records: the CLI helper reads straight from the file */
	assert_int_equal(directory_file_store_get(f->path, "ms1", &st, &err),
			 0);
	assert_int_equal(st.up, 1);
	dir_store_clear(&st);
	assert_int_equal(directory_file_store_get(f->path, "zz", &st, &err),
			 1);
	/* no temporary file is left behind */
	{
		char *tmp = xasprintf("%s.tmp.%d", f->path, (int)getpid());

		assert_int_equal(access(tmp, F_OK), -1);
		free(tmp);
	}
	/* a removed file keeps the last view; so does a broken one, which
	 * is reported once and not retried until it changes */
	assert_int_equal(unlink(f->path), 0);
	assert_int_equal(directory_refresh(d), 0);
	assert_int_equal(directory_user_store(d, "a@x", store, &err), 0);
	{
		FILE *fp = fopen(f->path, "w");

		assert_non_null(fp);
		fputs("not a database\n", fp);
		fclose(fp);
	}
	assert_int_equal(directory_refresh(d), -1);
	assert_int_equal(directory_refresh(d), 0);
	assert_int_equal(directory_user_store(d, "a@x", store, &err), 0);
	assert_string_equal(store, "ms2");
	directory_close(&d);
	assert_null(d);
}

static void test_bad_input(void **state)
{
	struct fixture *f = *state;
	struct dir_store st;
	char *err = NULL;

	assert_int_equal(directory_set_user(f->path, "a@x", "bad/name", &err),
			 -1);
	free(err);
	err = NULL;
	assert_int_equal(directory_set_user(f->path, "", "ms1", &err), -1);
	free(err);
	err = NULL;
	memset(&st, 0, sizeof(st));
	assert_int_equal(directory_set_store(f->path, &st, &err), -1);
	free(err);
}

static void test_config_errors(void **state)
{
	struct config *cfg = NULL;
	struct directory *d = NULL;
	char *err = NULL;

	(void)state;
	assert_int_equal(config_parse("t", "[mux]\nhostname = x\n", &cfg,
				      &err), 0);
	assert_int_equal(directory_open(config_section(cfg, "mux", NULL), &d,
					&err), -1);
	assert_non_null(strstr(err, "directory"));
	free(err);
	err = NULL;
	config_free(&cfg);
	/* LDAP without a base is refused */
	assert_int_equal(config_parse("t", "[mux]\ndirectory_ldap_uri = "
					   "ldap://127.0.0.1:1\n", &cfg, &err),
			 0);
	assert_int_equal(directory_open(config_section(cfg, "mux", NULL), &d,
					&err), -1);
	free(err);
	config_free(&cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_record_text),
	    cmocka_unit_test(test_names_and_services),
	    cmocka_unit_test_setup_teardown(test_write_read_refresh, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_bad_input, setup, teardown),
	    cmocka_unit_test(test_config_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
