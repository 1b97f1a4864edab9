/*
 * cmd_route.c - `rookery route`: the routing directory the mux reads
 * (lib/directory.h).  Changes replace the directory file atomically; a
 * running mux notices within directory_check_ms and ends the sessions of
 * users whose store moved.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "directory.h"
#include "strbuf.h"
#include "tools/cli.h"
#include "tools/commands.h"

int cmd_route(int argc, char **argv);

static void route_usage(FILE *out)
{
	fprintf(out,
		"usage: rookery route set USER STORE\n"
		"       rookery route del USER\n"
		"       rookery route show USER\n"
		"       rookery route list\n"
		"       rookery route store STORE [--imap ADDR] [--pop3 ADDR]\n"
		"                     [--lmtp ADDR] [--sieve ADDR] [--role ROLE]\n"
		"                     [--down | --up]\n\n"
		"The directory maps each user to a store, and each store to the\n"
		"addresses the mux proxies to (HOST:PORT, [V6]:PORT or\n"
		"unix:PATH; append \" tls\" for TLS to the store).  A store that\n"
		"is --down gets no new sessions; its sessions at the mux end\n"
		"within a second.  The file is named by \"directory\" in [mux]\n"
		"or [global].\n");
}

/* The directory file and the section to read settings from. */
static const char *route_path(struct config *cfg,
			      const struct config_section **sec_r)
{
	const struct config_section *sec = config_section(cfg, "mux", NULL);
	const char *path;

	if (sec == NULL)
		sec = config_section(cfg, "global", NULL);
	*sec_r = sec;
	path = directory_path(sec);
	if (path == NULL)
		fprintf(stderr, "rookery route: no \"directory = PATH\" in "
				"[mux] or [global]\n");
	return path;
}

static int fail(char *err)
{
	fprintf(stderr, "rookery route: %s\n", err);
	free(err);
	return 1;
}

static int route_set(const char *path, const char *user, const char *store)
{
	char *err = NULL;

	if (store != NULL && dir_store_name_ok(store) < 0) {
		fprintf(stderr, "rookery route: bad store name \"%s\"\n",
			store);
		return 2;
	}
	if (directory_set_user(path, user, store, &err) < 0)
		return fail(err);
	if (!cli.quiet)
		printf(store ? "%s -> %s\n" : "%s: route removed\n", user,
		       store);
	return 0;
}

static void print_store(const struct dir_store *st)
{
	char *text = dir_store_format(st);

	printf("store %s %s\n", st->name, text);
	free(text);
}

static int route_show(const struct config_section *sec, const char *user)
{
	struct directory *d = NULL;
	struct dir_store st;
	char store[DIR_NAME_MAX];
	char *err = NULL;
	int r;

	if (directory_open(sec, &d, &err) < 0)
		return fail(err);
	r = directory_user_store(d, user, store, &err);
	if (r < 0) {
		directory_close(&d);
		return fail(err);
	}
	if (r > 0) {
		directory_close(&d);
		fprintf(stderr, "rookery route: %s has no route\n", user);
		return 1;
	}
	printf("%s %s\n", user, store);
	r = directory_store_get(d, store, &st, &err);
	if (r < 0) {
		directory_close(&d);
		return fail(err);
	}
	if (r == 0)
		print_store(&st);
	else
		printf("store %s (not in the directory)\n", store);
	dir_store_clear(&st);
	directory_close(&d);
	return 0;
}

static int list_cb(char kind, const char *key, const char *value, void *arg)
{
	(void)arg;
	if (kind == 'u')
		printf("%s %s\n", key, value);
	else if (kind == 's')
		printf("store %s %s\n", key, value);
	return 0;
}

static int route_list(const struct config_section *sec)
{
	struct directory *d = NULL;
	char *err = NULL;
	int rc = 0;

	if (directory_open(sec, &d, &err) < 0)
		return fail(err);
	if (directory_foreach(d, list_cb, NULL, &err) < 0)
		rc = fail(err);
	directory_close(&d);
	return rc;
}

static int route_store(const char *path, int argc, char **argv)
{
	struct dir_store st;
	char *err = NULL;
	int r, i;

	if (dir_store_name_ok(argv[0]) < 0) {
		fprintf(stderr, "rookery route: bad store name \"%s\"\n",
			argv[0]);
		return 2;
	}
	r = directory_file_store_get(path, argv[0], &st, &err);
	if (r < 0)
		return fail(err);
	if (r > 0) {
		memset(&st, 0, sizeof(st));
		snprintf(st.name, sizeof(st.name), "%s", argv[0]);
		snprintf(st.role, sizeof(st.role), "primary");
		st.up = 1;
	}
	for (i = 1; i < argc; i++) {
		int svc = strncmp(argv[i], "--", 2) == 0
			      ? dir_service_parse(argv[i] + 2)
			      : -1;

		if (svc >= 0 && i + 1 < argc) {
			free(st.addr[svc]);
			st.addr[svc] = xstrdup(argv[++i]);
		} else if (strcmp(argv[i], "--down") == 0) {
			st.up = 0;
		} else if (strcmp(argv[i], "--up") == 0) {
			st.up = 1;
		} else if (strcmp(argv[i], "--role") == 0 && i + 1 < argc) {
			snprintf(st.role, sizeof(st.role), "%s", argv[++i]);
		} else {
			fprintf(stderr, "rookery route: unexpected \"%s\"\n",
				argv[i]);
			dir_store_clear(&st);
			route_usage(stderr);
			return 2;
		}
	}
	if (directory_set_store(path, &st, &err) < 0) {
		dir_store_clear(&st);
		return fail(err);
	}
	if (!cli.quiet)
		print_store(&st);
	dir_store_clear(&st);
	return 0;
}

int cmd_route(int argc, char **argv)
{
	const struct config_section *sec = NULL;
	struct config *cfg;
	const char *path, *sub;
	int rc;

	if (cli_wants_help(argc, argv)) {
		route_usage(stdout);
		return 0;
	}
	if (argc < 2) {
		route_usage(stderr);
		return 2;
	}
	sub = argv[1];
	if (strcmp(sub, "set") != 0 && strcmp(sub, "del") != 0 &&
	    strcmp(sub, "show") != 0 && strcmp(sub, "list") != 0 &&
	    strcmp(sub, "store") != 0)
		return cli_usage_error("route",
				       sub[0] == '-' ? "unknown option"
						     : "unknown action",
				       sub);
	cfg = cli_config();
	if (cfg == NULL)
		return 1;
	path = route_path(cfg, &sec);
	if (path == NULL && strcmp(sub, "show") != 0) {
		config_free(&cfg);
		return 1;
	}
	if (strcmp(sub, "set") == 0 && argc == 4)
		rc = route_set(path, argv[2], argv[3]);
	else if (strcmp(sub, "del") == 0 && argc == 3)
		rc = route_set(path, argv[2], NULL);
	else if (strcmp(sub, "show") == 0 && argc == 3)
		rc = route_show(sec, argv[2]);
	else if (strcmp(sub, "list") == 0 && argc == 2)
		rc = route_list(sec);
	else if (strcmp(sub, "store") == 0 && argc >= 3)
		rc = route_store(path, argc - 2, argv + 2);
	else {
		route_usage(stderr);
		rc = 2;
	}
	config_free(&cfg);
	return rc;
}
