/*
 * test_sasl_cache.c - lib/sasl_cache.h: the cache of verified plaintext
 * logins on its own (its use by saslsrv_checkpass and PLAIN is in
 * test_sasl.c): hits only for the exact password, a change of the watched
 * file empties it at once, entries expire, slots evict, off means off.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"
#include "sasl_cache.h"

static char tmpdir[] = "/tmp/rookery-authcache.XXXXXX";
static char path[128];

/* Writes the watched file; settled: as if written a minute ago (the
 * cache stores nothing while the file is under two seconds old). */
static void write_file_at(const char *file, const char *text, int settled)
{
	FILE *f = fopen(file, "w");

	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
	if (settled) {
		struct timespec ts[2];

		clock_gettime(CLOCK_REALTIME, &ts[0]);
		ts[0].tv_sec -= 60;
		ts[1] = ts[0];
		assert_int_equal(utimensat(AT_FDCWD, file, ts, 0), 0);
	}
}

static void write_file(const char *text)
{
	write_file_at(path, text, 1);
}

static int setup(void **state)
{
	(void)state;
	log_init("test_sasl_cache", 0, LOG_LEVEL_WARN);
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	snprintf(path, sizeof(path), "%s/sasldb2", tmpdir);
	write_file("v1");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	authcache_done();
	unlink(path);
	return rmdir(tmpdir);
}

/* A verified login as a caller does it: look up first, then store. */
static void verified(const char *user, const char *pass, const char *canon)
{
	const char *c;

	(void)authcache_lookup(user, pass, &c);
	authcache_store(user, pass, canon);
}

static int hit(const char *user, const char *pass, const char **canon_r)
{
	const char *c = NULL;
	int r = authcache_lookup(user, pass, &c);

	if (canon_r != NULL)
		*canon_r = c;
	return r;
}

static void test_exact_password(void **state)
{
	const char *canon;

	(void)state;
	assert_int_equal(authcache_init(300, 64, path), 0);
	assert_int_equal(hit("alice@example.com", "pw", NULL), 0);
	verified("alice@example.com", "pw", "alice@example.com");
	assert_int_equal(hit("alice@example.com", "pw", &canon), 1);
	assert_string_equal(canon, "alice@example.com");
	assert_int_equal(hit("alice@example.com", "pw ", NULL), 0);
	assert_int_equal(hit("alice@example.com", "PW", NULL), 0);
	assert_int_equal(hit("alice@example.com", "", NULL), 0);
	assert_int_equal(hit("bob@example.com", "pw", NULL), 0);
	/* the name and the password are not run together */
	verified("ab", "c", "ab");
	assert_int_equal(hit("a", "bc", NULL), 0);
	assert_int_equal(hit("ab", "c", NULL), 1);
	authcache_flush();
	assert_int_equal(hit("alice@example.com", "pw", NULL), 0);
}

static void test_file_change(void **state)
{
	(void)state;
	assert_int_equal(authcache_init(300, 64, path), 0);
	verified("alice@example.com", "pw", "alice@example.com");
	assert_int_equal(hit("alice@example.com", "pw", NULL), 1);
	/* same size, new contents: mtime and ctime move */
	write_file("v2");
	assert_int_equal(hit("alice@example.com", "pw", NULL), 0);
	verified("alice@example.com", "pw", "alice@example.com");
	assert_int_equal(hit("alice@example.com", "pw", NULL), 1);
	/* replaced by another file (a restore) */
	{
		char other[160];

		snprintf(other, sizeof(other), "%s/new", tmpdir);
		write_file_at(other, "v2", 1);
		assert_int_equal(rename(other, path), 0);
	}
	assert_int_equal(hit("alice@example.com", "pw", NULL), 0);
	/* gone: nothing is trusted, nothing is stored */
	verified("alice@example.com", "pw", "alice@example.com");
	assert_int_equal(unlink(path), 0);
	assert_int_equal(hit("alice@example.com", "pw", NULL), 0);
	verified("alice@example.com", "pw", "alice@example.com");
	assert_int_equal(hit("alice@example.com", "pw", NULL), 0);
	write_file("v3");
}

/*
 * A store follows the lookup that came before the check it records: when
 * the file changed between the two, the entry goes with the next lookup.
 */
static void test_change_during_check(void **state)
{
	const char *c;

	(void)state;
	assert_int_equal(authcache_init(300, 64, path), 0);
	(void)authcache_lookup("alice@example.com", "old", &c);
	write_file("v4"); /* the password changes during the check */
	authcache_store("alice@example.com", "old", "alice@example.com");
	assert_int_equal(hit("alice@example.com", "old", NULL), 0);
}

/* A file written just now: its timestamps may not move again on the
 * next write within the same tick, so nothing is stored yet. */
static void test_young_file(void **state)
{
	(void)state;
	assert_int_equal(authcache_init(300, 64, path), 0);
	write_file_at(path, "v5", 0);
	verified("alice@example.com", "pw", "alice@example.com");
	assert_int_equal(hit("alice@example.com", "pw", NULL), 0);
	write_file("v5");
	verified("alice@example.com", "pw", "alice@example.com");
	assert_int_equal(hit("alice@example.com", "pw", NULL), 1);
}

static void test_expiry(void **state)
{
	(void)state;
	assert_int_equal(authcache_init(1, 64, path), 0);
	verified("alice@example.com", "pw", "alice@example.com");
	assert_int_equal(hit("alice@example.com", "pw", NULL), 1);
	sleep(2);
	assert_int_equal(hit("alice@example.com", "pw", NULL), 0);
}

static void test_one_slot_evicts(void **state)
{
	(void)state;
	assert_int_equal(authcache_init(300, 1, path), 0);
	verified("alice@example.com", "a", "alice@example.com");
	verified("bob@example.com", "b", "bob@example.com");
	assert_int_equal(hit("alice@example.com", "a", NULL), 0);
	assert_int_equal(hit("bob@example.com", "b", NULL), 1);
	/* many users through a small table: each answer is right or a miss */
	assert_int_equal(authcache_init(300, 8, path), 0);
	for (int i = 0; i < 200; i++) {
		char u[32], p[32];

		snprintf(u, sizeof(u), "u%d@example.com", i);
		snprintf(p, sizeof(p), "p%d", i);
		verified(u, p, u);
	}
	for (int i = 0; i < 200; i++) {
		char u[32], p[32];

		snprintf(u, sizeof(u), "u%d@example.com", i);
		snprintf(p, sizeof(p), "p%d", i + 1);
		assert_int_equal(hit(u, p, NULL), 0);
	}
	assert_int_equal(hit("u199@example.com", "p199", NULL), 1);
}

static void test_off(void **state)
{
	(void)state;
	assert_int_equal(authcache_init(0, 64, path), 0);
	verified("alice@example.com", "pw", "alice@example.com");
	assert_int_equal(hit("alice@example.com", "pw", NULL), 0);
	assert_int_equal(authcache_init(300, 0, path), 0);
	verified("alice@example.com", "pw", "alice@example.com");
	assert_int_equal(hit("alice@example.com", "pw", NULL), 0);
	authcache_done();
	assert_int_equal(hit("alice@example.com", "pw", NULL), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_exact_password),
	    cmocka_unit_test(test_file_change),
	    cmocka_unit_test(test_change_during_check),
	    cmocka_unit_test(test_young_file),
	    cmocka_unit_test(test_expiry),
	    cmocka_unit_test(test_one_slot_evicts),
	    cmocka_unit_test(test_off),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
