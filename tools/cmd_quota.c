/*
 * cmd_quota.c - `rookery quota USER [SIZE [MESSAGES]]`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "strbuf.h"
#include "tools/cli.h"
#include "tools/commands.h"

static void quota_usage(FILE *out)
{
	fprintf(out,
		"usage: rookery quota USER [--store NAME]\n"
		"       rookery quota USER SIZE [MESSAGES] [--store NAME]\n\n"
		"Without SIZE, shows the user's usage and limits.  With it, "
		"sets the storage\nlimit (K, M, G suffixes; \"unlimited\") and "
		"optionally the message-count\nlimit (0 or \"unlimited\" = "
		"none).  Deliveries over quota get 552 5.2.2.\n");
}

static const char *const store_opt[] = {"--store", NULL};

int cmd_quota(int argc, char **argv)
{
	const char *pos[3] = {NULL, NULL, NULL};
	const char *store = NULL;
	unsigned long long bytes = 0, msgs = 0;
	const struct config_section *sec;
	struct config *cfg;
	struct strbuf cmd;
	int i, npos = 0, rc;

	if (cli_wants_help(argc, argv)) {
		quota_usage(stdout);
		return 0;
	}
	if (cli_check_options(argc, argv, store_opt) != 0)
		return 2;
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--store") == 0 && i + 1 < argc)
			store = argv[++i];
		else if (npos < 3)
			pos[npos++] = argv[i];
		else {
			quota_usage(stderr);
			return 2;
		}
	}
	if (npos < 1) {
		quota_usage(stderr);
		return 2;
	}
	if (npos >= 2 && cli_parse_size(pos[1], &bytes) < 0) {
		fprintf(stderr, "rookery quota: %s is not a size (examples: "
				"500M, 2G, unlimited)\n", pos[1]);
		return 2;
	}
	if (npos == 3 && strcmp(pos[2], "unlimited") != 0) {
		char *end;

		msgs = strtoull(pos[2], &end, 10);
		if (*end != '\0' || pos[2][0] == '-') {
			fprintf(stderr, "rookery quota: %s is not a message "
					"count\n", pos[2]);
			return 2;
		}
	}
	cfg = cli_config();
	if (cfg == NULL)
		return 1;
	sec = cli_store(cfg, store);
	if (sec == NULL) {
		config_free(&cfg);
		return 1;
	}
	strbuf_init(&cmd);
	strbuf_adds(&cmd, npos == 1 ? "quota-get " : "quota-set ");
	cli_quote_arg(&cmd, pos[0]);
	if (npos >= 2)
		strbuf_printf(&cmd, " %llu %llu", bytes, msgs);
	rc = cli_control(sec, cmd.data, NULL, NULL);
	strbuf_free(&cmd);
	config_free(&cfg);
	return rc;
}
