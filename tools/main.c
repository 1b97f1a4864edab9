/*
 * main.c - `rookery`, the one admin CLI: global options, then a verb from
 * the table below.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "tools/cli.h"
#include "tools/commands.h"

struct verb {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
};

static const struct verb verbs[] = {
	{"user", cmd_user, "add, delete, list users; set mail passwords"},
	{"mailbox", cmd_mailbox, "create, delete, rename, list mailboxes"},
	{"quota", cmd_quota, "show or set a user's storage quota"},
	{"acl", cmd_acl, "show or change a mailbox's access control list"},
	{"route", cmd_route, "show or change the routing directory (mux)"},
	{"status", cmd_status, "per store: role, users, messages, bytes"},
	{"reconstruct", cmd_reconstruct,
	 "rebuild mailbox indexes from the message files"},
	{"sieve", cmd_sieve, "check and test Sieve scripts"},
	{"ab", cmd_ab, "address books: LDAP passwords, import, export, list"},
	{"run", cmd_run, "start the demo platform in the foreground"},
};

static void usage(FILE *out)
{
	size_t i;

	fprintf(out, "usage: rookery [-c CONFIG] [-q] VERB [ARGS...]\n"
		     "       rookery VERB --help\n\n"
		     "Administers a Rookery mail platform.\n\n"
		     "options:\n"
		     "  -c CONFIG  configuration file (default: "
		     "$ROOKERY_CONFIG,\n"
		     "             var/demo/rookery.conf if present, else "
		     "/etc/rookery/rookery.conf)\n"
		     "  -q         quiet: no progress output\n\n"
		     "verbs:\n");
	for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		fprintf(out, "  %-12s %s\n", verbs[i].name, verbs[i].summary);
}

int main(int argc, char **argv)
{
	int i = 1;
	size_t v;

	log_init("rookery", 0, LOG_LEVEL_WARN);
	while (i < argc && argv[i][0] == '-') {
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc) {
			cli.config_path = argv[i + 1];
			/* Verbs that read the configuration themselves (ab,
			 * sieve) find it there too. */
			setenv("ROOKERY_CONFIG", argv[i + 1], 1);
			i += 2;
		} else if (strcmp(argv[i], "-q") == 0) {
			cli.quiet = 1;
			i++;
		} else if (strcmp(argv[i], "--help") == 0 ||
			   strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return 0;
		} else {
			fprintf(stderr, "rookery: unknown option %s\n",
				argv[i]);
			usage(stderr);
			return 2;
		}
	}
	if (i >= argc) {
		usage(stderr);
		return 2;
	}
	for (v = 0; v < sizeof(verbs) / sizeof(verbs[0]); v++)
		if (strcmp(argv[i], verbs[v].name) == 0)
			return verbs[v].run(argc - i, argv + i);
	fprintf(stderr, "rookery: unknown verb \"%s\" (see rookery --help)\n",
		argv[i]);
	return 2;
}
