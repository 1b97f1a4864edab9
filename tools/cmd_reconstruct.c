/*
 * cmd_reconstruct.c - `rookery reconstruct USER [MAILBOX]`: rebuild index
 * records from the message files after metadata loss.
 */
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "strbuf.h"
#include "tools/cli.h"
#include "tools/commands.h"

static void reconstruct_usage(FILE *out)
{
	fprintf(out,
		"usage: rookery reconstruct USER [MAILBOX] [--store NAME]\n\n"
		"Rebuilds the index of one mailbox (or all of USER's) from its "
		"message files:\nUID from the file name, INTERNALDATE from its "
		"mtime, size, GUID and MIME\nstructure recomputed; UIDNEXT, "
		"counts and quota usage corrected.  Flags that\nwere only in "
		"the lost index cannot come back; the report says what was\n"
		"recovered and what was not.  Works on a running store (over "
		"its control\nsocket) or a stopped one.\n");
}

static void progress_line(const char *line, void *arg)
{
	(void)arg;
	if (!cli.quiet || strncmp(line, "progress", 8) != 0)
		printf("%s\n", line);
	fflush(stdout);
}

static const char *const store_opt[] = {"--store", NULL};

int cmd_reconstruct(int argc, char **argv)
{
	const char *pos[2] = {NULL, NULL};
	const char *store = NULL;
	const struct config_section *sec;
	struct config *cfg;
	struct strbuf cmd;
	int i, npos = 0, rc;

	if (cli_wants_help(argc, argv)) {
		reconstruct_usage(stdout);
		return 0;
	}
	if (cli_check_options(argc, argv, store_opt) != 0)
		return 2;
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--store") == 0 && i + 1 < argc)
			store = argv[++i];
		else if (npos < 2)
			pos[npos++] = argv[i];
		else {
			reconstruct_usage(stderr);
			return 2;
		}
	}
	if (npos < 1) {
		reconstruct_usage(stderr);
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
	strbuf_adds(&cmd, "reconstruct ");
	cli_quote_arg(&cmd, pos[0]);
	if (pos[1] != NULL) {
		strbuf_addc(&cmd, ' ');
		cli_quote_arg(&cmd, pos[1]);
	}
	rc = cli_control(sec, cmd.data, progress_line, NULL);
	strbuf_free(&cmd);
	config_free(&cfg);
	return rc;
}
