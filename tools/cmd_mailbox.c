/*
 * cmd_mailbox.c - `rookery mailbox create|delete|rename|list`.
 */
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "strbuf.h"
#include "tools/cli.h"
#include "tools/commands.h"

static void mailbox_usage(FILE *out)
{
	fprintf(out,
		"usage: rookery mailbox create USER NAME [--store NAME]\n"
		"       rookery mailbox delete USER NAME [--store NAME]\n"
		"       rookery mailbox rename USER OLD NEW [--store NAME]\n"
		"       rookery mailbox list USER [--store NAME]\n\n"
		"NAME is a mailbox path with '/' between levels "
		"(Archive/2026).  INBOX\nalways exists.  list prints one "
		"mailbox a line: name, messages, bytes,\nUIDVALIDITY, "
		"UIDNEXT, HIGHESTMODSEQ.\n");
}

static const char *const store_opt[] = {"--store", NULL};

int cmd_mailbox(int argc, char **argv)
{
	static const struct {
		const char *sub, *cmd;
		int nargs;
	} subs[] = {
		{"create", "mailbox-create", 2},
		{"delete", "mailbox-delete", 2},
		{"rename", "mailbox-rename", 3},
		{"list", "mailbox-list", 1},
	};
	const char *store = NULL;
	const struct config_section *sec;
	struct config *cfg;
	struct strbuf cmd;
	size_t i;
	int a, rc;

	if (cli_wants_help(argc, argv)) {
		mailbox_usage(stdout);
		return 0;
	}
	if (cli_check_options(argc, argv, store_opt) != 0)
		return 2;
	for (i = 0; argc >= 2 && i < sizeof(subs) / sizeof(subs[0]); i++)
		if (strcmp(argv[1], subs[i].sub) == 0)
			break;
	if (argc < 2) {
		mailbox_usage(stderr);
		return 2;
	}
	if (i == sizeof(subs) / sizeof(subs[0]))
		return cli_usage_error("mailbox", "unknown action", argv[1]);
	if (argc == 2 + subs[i].nargs + 2 &&
	    strcmp(argv[2 + subs[i].nargs], "--store") == 0)
		store = argv[3 + subs[i].nargs];
	else if (argc != 2 + subs[i].nargs) {
		mailbox_usage(stderr);
		return 2;
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
	strbuf_adds(&cmd, subs[i].cmd);
	for (a = 0; a < subs[i].nargs; a++) {
		strbuf_addc(&cmd, ' ');
		cli_quote_arg(&cmd, argv[2 + a]);
	}
	rc = cli_control(sec, cmd.data, NULL, NULL);
	if (rc == 0 && !cli.quiet && strcmp(subs[i].sub, "list") != 0)
		printf("mailbox %s: %s done\n", argv[3], subs[i].sub);
	strbuf_free(&cmd);
	config_free(&cfg);
	return rc;
}
