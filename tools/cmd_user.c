/*
 * cmd_user.c - `rookery user add|del|passwd|list`.
 *
 * A user is a full address (alice@example.com).  Its mail password lives
 * in sasldb2 (shared by the mux and the stores); its mailboxes live on one
 * store.  Passwords come from a prompt or standard input, never argv.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "directory.h"
#include "sasl.h"
#include "strbuf.h"
#include "tools/cli.h"
#include "tools/commands.h"

static void user_usage(FILE *out)
{
	fprintf(out,
		"usage: rookery user add USER [--store NAME] [--quota SIZE]\n"
		"       rookery user del USER [--store NAME]\n"
		"       rookery user passwd USER\n"
		"       rookery user list [--store NAME]\n\n"
		"add records the user's store in the mux's routing directory "
		"(when the\nconfiguration names one); del removes it.\n"
		"USER is a full address (alice@example.com).  The password is "
		"read from the\nterminal (twice) or from one line of standard "
		"input.  SIZE takes K, M, G.\nA running store is changed over "
		"its control socket; a stopped one directly.\n");
}

/* Returns 0 when name looks like local@domain with no odd characters. */
static int user_name_ok(const char *name)
{
	const char *at = strchr(name, '@');
	const char *p;

	if (at == NULL || at == name || at[1] == '\0' || strchr(at + 1, '@'))
		return -1;
	if (strlen(name) > 255)
		return -1;
	for (p = name; *p != '\0'; p++) {
		unsigned char ch = (unsigned char)*p;

		if (ch <= 0x20 || ch == 0x7f || ch == '"' || ch == '\\' ||
		    ch == '/' || ch == '(' || ch == ')' || ch == ',' ||
		    ch == ';' || ch == ':' || ch == '<' || ch == '>')
			return -1;
	}
	return 0;
}

static int sasl_ready(const struct config_section *sec)
{
	char *err = NULL;

	if (saslsrv_init("rookery", sec, &err) < 0) {
		fprintf(stderr, "rookery: SASL: %s\n", err);
		free(err);
		return -1;
	}
	return 0;
}

/*
 * Records (store = the store's name) or removes (store NULL) the user's
 * route in the mux's directory, when the configuration has one.
 */
static int set_route(const struct config *cfg, const char *user,
		     const char *store)
{
	const struct config_section *mux = config_section(cfg, "mux", NULL);
	const char *path;
	char *err = NULL;

	path = directory_path(mux != NULL ? mux
					  : config_section(cfg, "global", NULL));
	if (path == NULL)
		return 0;
	if (directory_set_user(path, user, store, &err) < 0) {
		fprintf(stderr, "rookery: the directory %s could not be "
				"updated for %s: %s (fix it with rookery route)\n",
			path, user, err);
		free(err);
		return 1;
	}
	return 0;
}

static int set_password(const char *user, int confirm)
{
	char *pass = cli_read_password("Password: ", confirm);
	char *err = NULL;
	int rc = 0;

	if (pass == NULL)
		return 1;
	if (saslsrv_setpass(user, pass, &err) < 0) {
		fprintf(stderr, "rookery: cannot set the password of %s: %s\n",
			user, err);
		free(err);
		rc = 1;
	}
	memset(pass, 0, strlen(pass));
	free(pass);
	return rc;
}

static int run_simple(const struct config_section *sec, const char *verb,
		      const char *arg1, const char *arg2)
{
	struct strbuf cmd;
	int rc;

	strbuf_init(&cmd);
	strbuf_adds(&cmd, verb);
	if (arg1 != NULL) {
		strbuf_addc(&cmd, ' ');
		cli_quote_arg(&cmd, arg1);
	}
	if (arg2 != NULL) {
		strbuf_addc(&cmd, ' ');
		cli_quote_arg(&cmd, arg2);
	}
	rc = cli_control(sec, cmd.data, NULL, NULL);
	strbuf_free(&cmd);
	return rc;
}

/* Parses [--store NAME] [--quota SIZE] after the positional arguments. */
static int user_opts(int argc, char **argv, int first, const char **store_r,
		     const char **quota_r)
{
	int i;

	for (i = first; i < argc; i++) {
		if (strcmp(argv[i], "--store") == 0 && i + 1 < argc)
			*store_r = argv[++i];
		else if (quota_r != NULL && strcmp(argv[i], "--quota") == 0 &&
			 i + 1 < argc)
			*quota_r = argv[++i];
		else {
			fprintf(stderr, "rookery user: unexpected \"%s\"\n",
				argv[i]);
			user_usage(stderr);
			return -1;
		}
	}
	return 0;
}

static int user_add(const struct config *cfg, const char *user,
		    const char *store, const char *quota)
{
	const struct config_section *sec = cli_store(cfg, store);
	unsigned long long bytes = 0;
	int rc;

	if (quota != NULL && cli_parse_size(quota, &bytes) < 0) {
		fprintf(stderr, "rookery user: --quota %s: not a size "
				"(examples: 500M, 2G, unlimited)\n", quota);
		return 2;
	}
	if (sec == NULL || sasl_ready(sec) < 0)
		return 1;
	rc = set_password(user, 1);
	if (rc != 0)
		return rc;
	rc = run_simple(sec, "user-add", user, NULL);
	if (rc == 0)
		rc = set_route(cfg, user, config_section_name(sec));
	if (rc == 0 && quota != NULL) {
		struct strbuf cmd;

		strbuf_init(&cmd);
		strbuf_adds(&cmd, "quota-set ");
		cli_quote_arg(&cmd, user);
		strbuf_printf(&cmd, " %llu 0", bytes);
		rc = cli_control(sec, cmd.data, NULL, NULL);
		strbuf_free(&cmd);
	}
	if (rc == 0 && !cli.quiet)
		printf("user %s added on store %s\n", user,
		       config_section_name(sec));
	return rc;
}

static int user_del(const struct config *cfg, const char *user,
		    const char *store)
{
	const struct config_section *sec = cli_store(cfg, store);
	char *err = NULL;
	int rc;

	if (sec == NULL || sasl_ready(sec) < 0)
		return 1;
	rc = run_simple(sec, "user-del", user, NULL);
	if (rc != 0)
		return rc;
	if (set_route(cfg, user, NULL) != 0)
		return 1;
	if (saslsrv_setpass(user, NULL, &err) < 0) {
		fprintf(stderr, "rookery: mail of %s deleted, but its password "
				"could not be removed: %s\n",
			user, err);
		free(err);
		return 1;
	}
	if (!cli.quiet)
		printf("user %s deleted with all its mail\n", user);
	return 0;
}

static const char *const user_value_opts[] = {"--store", "--quota", NULL};

int cmd_user(int argc, char **argv)
{
	const char *store = NULL, *quota = NULL;
	struct config *cfg;
	const char *sub;
	int rc = 2;

	if (cli_wants_help(argc, argv)) {
		user_usage(stdout);
		return 0;
	}
	if (argc < 2) {
		user_usage(stderr);
		return 2;
	}
	if (cli_check_options(argc, argv, user_value_opts) != 0)
		return 2;
	sub = argv[1];
	if (strcmp(sub, "add") != 0 && strcmp(sub, "del") != 0 &&
	    strcmp(sub, "passwd") != 0 && strcmp(sub, "list") != 0)
		return cli_usage_error("user", "unknown action", sub);
	if (strcmp(sub, "list") != 0) {
		if (argc < 3) {
			user_usage(stderr);
			return 2;
		}
		if (user_name_ok(argv[2]) < 0) {
			fprintf(stderr,
				"rookery user: \"%s\" is not a valid user "
				"name; use a full address like "
				"alice@example.com\n",
				argv[2]);
			return 2;
		}
	}
	if (strcmp(sub, "list") == 0 &&
	    user_opts(argc, argv, 2, &store, NULL) < 0)
		return 2;
	if (strcmp(sub, "add") == 0 &&
	    user_opts(argc, argv, 3, &store, &quota) < 0)
		return 2;
	if ((strcmp(sub, "del") == 0 || strcmp(sub, "passwd") == 0) &&
	    user_opts(argc, argv, 3, &store, NULL) < 0)
		return 2;

	cfg = cli_config();
	if (cfg == NULL)
		return 1;
	if (strcmp(sub, "add") == 0) {
		rc = user_add(cfg, argv[2], store, quota);
	} else if (strcmp(sub, "del") == 0) {
		rc = user_del(cfg, argv[2], store);
	} else if (strcmp(sub, "passwd") == 0) {
		const struct config_section *sec = cli_store(cfg, store);

		rc = sec == NULL || sasl_ready(sec) < 0
			     ? 1
			     : set_password(argv[2], 1);
		if (rc == 0 && !cli.quiet)
			printf("password of %s changed\n", argv[2]);
	} else if (strcmp(sub, "list") == 0) {
		const struct config_section *sec = cli_store(cfg, store);

		rc = sec == NULL ? 1 : run_simple(sec, "user-list", NULL, NULL);
	} else {
		fprintf(stderr, "rookery user: unknown action \"%s\"\n", sub);
		user_usage(stderr);
	}
	saslsrv_done();
	config_free(&cfg);
	return rc;
}
