/*
 * cmd_acl.c - `rookery acl get|set|delete`: a mailbox's access control
 * list (RFC 4314 rights lrswipkxtea), through the store's control socket
 * (acl-get / acl-set), or directly on the storage of a stopped store.
 */
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "strbuf.h"
#include "tools/cli.h"
#include "tools/commands.h"

static void acl_usage(FILE *out)
{
	fprintf(out,
		"usage: rookery acl get USER MAILBOX [--store NAME]\n"
		"       rookery acl set USER MAILBOX IDENTIFIER RIGHTS "
		"[--store NAME]\n"
		"       rookery acl delete USER MAILBOX IDENTIFIER "
		"[--store NAME]\n\n"
		"MAILBOX is USER's own name for it (\"INBOX\", \"Projects/x\").  "
		"IDENTIFIER is a\nuser (\"bob@example.com\"), \"anyone\", or "
		"either with a leading \"-\" for\nnegative rights.  RIGHTS "
		"(RFC 4314): l lookup, r read, s keep \\Seen,\nw write flags, "
		"i insert, p post, k create children, x delete, t delete\n"
		"messages, e expunge, a administer; \"+lr\" adds, \"-w\" "
		"removes, \"lr\"\nreplaces.  The owner always holds every "
		"right.  Other users see the\nmailbox as \"Other Users/USER/"
		"MAILBOX\".\n");
}

int cmd_acl(int argc, char **argv)
{
	const char *pos[5] = {NULL, NULL, NULL, NULL, NULL};
	const char *store = NULL;
	const struct config_section *sec;
	struct config *cfg;
	struct strbuf cmd;
	int i, npos = 0, rc, want;

	if (cli_wants_help(argc, argv)) {
		acl_usage(stdout);
		return 0;
	}
	/* rights and identifiers may begin with "-": only "--x" are options */
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--store") == 0 && i + 1 < argc)
			store = argv[++i];
		else if (strncmp(argv[i], "--", 2) == 0)
			return cli_usage_error("acl", "unknown option", argv[i]);
		else if (npos < 5)
			pos[npos++] = argv[i];
		else
			return cli_usage_error("acl", "too many arguments",
					       argv[i]);
	}
	if (npos == 0) {
		acl_usage(stderr);
		return 2;
	}
	if (strcmp(pos[0], "get") == 0)
		want = 3;
	else if (strcmp(pos[0], "set") == 0)
		want = 5;
	else if (strcmp(pos[0], "delete") == 0)
		want = 4;
	else
		return cli_usage_error("acl", "unknown subcommand", pos[0]);
	if (npos != want) {
		acl_usage(stderr);
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
	strbuf_adds(&cmd, want == 3 ? "acl-get" : "acl-set");
	for (i = 1; i < npos; i++) {
		strbuf_addc(&cmd, ' ');
		cli_quote_arg(&cmd, pos[i]);
	}
	if (want == 4)
		strbuf_adds(&cmd, " \"\""); /* no rights: the entry goes */
	rc = cli_control(sec, cmd.data, NULL, NULL);
	strbuf_free(&cmd);
	config_free(&cfg);
	return rc;
}
