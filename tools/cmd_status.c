/*
 * cmd_status.c - `rookery status`: one block per store in the
 * configuration, from the store itself when it runs.
 */
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "tools/cli.h"
#include "tools/commands.h"

static void status_usage(FILE *out)
{
	fprintf(out,
		"usage: rookery status [--store NAME]\n\n"
		"Shows each store of the configuration: whether it runs, its "
		"role, users,\nmessages and bytes (with lag once replication "
		"is set up).  A stopped store\nis read from its storage "
		"directly.\n");
}

static void status_line(const char *line, void *arg)
{
	(void)arg;
	printf("  %s\n", line);
}

static const char *const store_opt[] = {"--store", NULL};

int cmd_status(int argc, char **argv)
{
	const struct config_section *s = NULL;
	const char *only = NULL;
	struct config *cfg;
	int rc = 0, seen = 0;

	if (cli_wants_help(argc, argv)) {
		status_usage(stdout);
		return 0;
	}
	if (cli_check_options(argc, argv, store_opt) != 0)
		return 2;
	if (argc == 3 && strcmp(argv[1], "--store") == 0)
		only = argv[2];
	else if (argc != 1) {
		if (argc > 1 && strcmp(argv[1], "--store") != 0)
			return cli_usage_error("status", "unexpected argument",
					       argv[1]);
		status_usage(stderr);
		return 2;
	}
	cfg = cli_config();
	if (cfg == NULL)
		return 1;
	while ((s = config_next(cfg, s, "store")) != NULL) {
		const char *name = config_section_name(s);

		if (only != NULL && (name == NULL || strcmp(name, only) != 0))
			continue;
		seen++;
		printf("store %s\n", name ? name : "?");
		if (cli_control(s, "status", status_line, NULL) != 0)
			rc = 1;
	}
	if (seen == 0) {
		fprintf(stderr, "rookery status: no %s in the configuration\n",
			only ? "such store" : "stores");
		rc = 1;
	}
	config_free(&cfg);
	return rc;
}
