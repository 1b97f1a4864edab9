/*
 * cmd_sieve.c - "rookery sieve": check a script, or run it on a message.
 *
 *	rookery sieve check SCRIPT
 *	rookery sieve test SCRIPT MESSAGE [options]
 *
 * "test" prints the resulting actions one per line in the canonical form of
 * sieve_result_format(); a run-time error prints "error: ..." followed by
 * the implicit keep the delivery would then do.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sieve/sieve.h"
#include "strbuf.h"

int cmd_sieve(int argc, char **argv);

struct sieve_cli {
	const char *personal_dir;
	const char *global_dir;
	const char **mailboxes;
	size_t nmailboxes;
};

static void sieve_usage(FILE *f)
{
	fputs(
	    "usage: rookery sieve check SCRIPT\n"
	    "       rookery sieve test SCRIPT MESSAGE [options]\n"
	    "\n"
	    "check: compile SCRIPT and print its errors as \"line N: ...\".\n"
	    "test:  compile SCRIPT, run it on MESSAGE and print the actions,\n"
	    "       one per line.\n"
	    "\n"
	    "test options:\n"
	    "  --from ADDR          envelope sender (default: none, <>)\n"
	    "  --to ADDR            envelope recipient\n"
	    "  --orig-to ADDR       original recipient (default: --to)\n"
	    "  --date WHEN          current time: seconds since the epoch or\n"
	    "                       YYYY-MM-DDTHH:MM:SS (UTC)\n"
	    "  --zone +HHMM         local time zone (default: the system's)\n"
	    "  --include-dir DIR    personal scripts for include (DIR/NAME or\n"
	    "                       DIR/NAME.sieve)\n"
	    "  --global-dir DIR     global scripts for include\n"
	    "  --mailbox NAME       a mailbox that exists (repeatable)\n",
	    f);
}

static int read_file(const char *path, struct strbuf *out)
{
	char buf[65536];
	ssize_t n;
	int fd = open(path, O_RDONLY);

	if (fd < 0) {
		fprintf(stderr, "rookery sieve: %s: %s\n", path,
			strerror(errno));
		return -1;
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		strbuf_add(out, buf, (size_t)n);
	close(fd);
	if (n < 0) {
		fprintf(stderr, "rookery sieve: %s: %s\n", path,
			strerror(errno));
		return -1;
	}
	return 0;
}

static int cli_load_include(void *ctx, const char *name,
			    enum sieve_include_loc loc,
			    struct sieve_script **script_r)
{
	struct sieve_cli *cli = ctx;
	const char *dir =
	    loc == SIEVE_INCLUDE_GLOBAL ? cli->global_dir : cli->personal_dir;
	struct strbuf path, text, err;
	int ret = 1;

	if (dir == NULL || strchr(name, '/') != NULL)
		return 1;
	strbuf_init(&path);
	strbuf_init(&text);
	strbuf_init(&err);
	strbuf_printf(&path, "%s/%s.sieve", dir, name);
	if (access(path.data, R_OK) != 0) {
		strbuf_reset(&path);
		strbuf_printf(&path, "%s/%s", dir, name);
	}
	if (access(path.data, R_OK) == 0) {
		ret = -1;
		if (read_file(path.data, &text) == 0 &&
		    sieve_compile(text.data, text.len, NULL, script_r, &err) ==
			0)
			ret = 0;
	}
	strbuf_free(&path);
	strbuf_free(&text);
	strbuf_free(&err);
	return ret;
}

static int cli_mailbox_exists(void *ctx, const char *mailbox)
{
	struct sieve_cli *cli = ctx;

	if (strcmp(mailbox, "INBOX") == 0)
		return 1;
	for (size_t i = 0; i < cli->nmailboxes; i++)
		if (strcmp(cli->mailboxes[i], mailbox) == 0)
			return 1;
	return 0;
}

static int parse_when(const char *s, time_t *t_r)
{
	struct tm tm;
	char *end;
	long long v = strtoll(s, &end, 10);

	if (*s != '\0' && *end == '\0') {
		*t_r = (time_t)v;
		return 0;
	}
	memset(&tm, 0, sizeof(tm));
	end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (end == NULL || (*end != '\0' && strcmp(end, "Z") != 0))
		return -1;
	*t_r = timegm(&tm);
	return 0;
}

static int parse_zone(const char *s, int *min_r)
{
	int sign = 1;

	if (*s == '+' || *s == '-')
		sign = *s++ == '-' ? -1 : 1;
	if (strlen(s) != 4 || strspn(s, "0123456789") != 4)
		return -1;
	*min_r = sign * (((s[0] - '0') * 10 + (s[1] - '0')) * 60 +
			 (s[2] - '0') * 10 + (s[3] - '0'));
	return 0;
}

static int local_offset(time_t t)
{
	struct tm tm;

	localtime_r(&t, &tm);
	return (int)(tm.tm_gmtoff / 60);
}

static int sieve_check(const char *path)
{
	struct strbuf text, err;
	struct sieve_script *s = NULL;
	int ret;

	strbuf_init(&text);
	strbuf_init(&err);
	if (read_file(path, &text) < 0) {
		strbuf_free(&text);
		return 1;
	}
	ret = sieve_compile(text.data, text.len, NULL, &s, &err);
	if (ret < 0)
		fputs(err.data, stdout);
	else
		puts("OK");
	sieve_script_free(&s);
	strbuf_free(&text);
	strbuf_free(&err);
	return ret < 0 ? 1 : 0;
}

static int sieve_run(const char *spath, const char *mpath,
		     struct sieve_msg *msg)
{
	struct strbuf text, mail, err, out;
	struct sieve_script *s = NULL;
	struct sieve_result *res = NULL;
	int ret = 1;

	strbuf_init(&text);
	strbuf_init(&mail);
	strbuf_init(&err);
	strbuf_init(&out);
	if (read_file(spath, &text) < 0 || read_file(mpath, &mail) < 0)
		goto out;
	if (sieve_compile(text.data, text.len, NULL, &s, &err) < 0) {
		printf("compile-error\n%s", err.data);
		goto out;
	}
	msg->raw = mail.data;
	msg->raw_len = mail.len;
	if (sieve_execute(s, msg, &res, &err) < 0) {
		printf("error: %s", err.data);
		if (err.len == 0 || err.data[err.len - 1] != '\n')
			putchar('\n');
		puts("keep implicit");
		ret = 1;
		goto out;
	}
	sieve_result_format(res, &out);
	fputs(out.data, stdout);
	ret = 0;
out:
	sieve_result_free(&res);
	sieve_script_free(&s);
	strbuf_free(&text);
	strbuf_free(&mail);
	strbuf_free(&err);
	strbuf_free(&out);
	return ret;
}

static int sieve_test(int argc, char **argv)
{
	struct sieve_cli cli = {0};
	struct sieve_msg msg = {0};
	const char *pos[2];
	int npos = 0, ret, zone_set = 0;

	msg.ctx = &cli;
	msg.load_include = cli_load_include;
	msg.mailbox_exists = cli_mailbox_exists;
	msg.env_from = "";
	cli.mailboxes = calloc((size_t)argc + 1, sizeof(char *));
	if (cli.mailboxes == NULL)
		return 1;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (a[0] != '-' || a[1] != '-') {
			if (npos == 2)
				goto usage;
			pos[npos++] = a;
			continue;
		}
		if (v == NULL)
			goto usage;
		i++;
		if (strcmp(a, "--from") == 0) {
			msg.env_from = v;
		} else if (strcmp(a, "--to") == 0) {
			msg.env_to = v;
		} else if (strcmp(a, "--orig-to") == 0) {
			msg.orig_to = v;
		} else if (strcmp(a, "--date") == 0) {
			if (parse_when(v, &msg.now) < 0)
				goto usage;
		} else if (strcmp(a, "--zone") == 0) {
			if (parse_zone(v, &msg.local_offset_min) < 0)
				goto usage;
			zone_set = 1;
		} else if (strcmp(a, "--include-dir") == 0) {
			cli.personal_dir = v;
		} else if (strcmp(a, "--global-dir") == 0) {
			cli.global_dir = v;
		} else if (strcmp(a, "--mailbox") == 0) {
			cli.mailboxes[cli.nmailboxes++] = v;
		} else {
			goto usage;
		}
	}
	if (npos != 2)
		goto usage;
	if (msg.now == 0)
		msg.now = time(NULL);
	if (!zone_set)
		msg.local_offset_min = local_offset(msg.now);
	ret = sieve_run(pos[0], pos[1], &msg);
	free(cli.mailboxes);
	return ret;
usage:
	free(cli.mailboxes);
	sieve_usage(stderr);
	return 2;
}

int cmd_sieve(int argc, char **argv)
{
	/* argv[0] is "sieve" */
	if (argc < 2 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
		sieve_usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0) {
			sieve_usage(stdout);
			return 0;
		}
	}
	if (strcmp(argv[1], "check") == 0 && argc == 3)
		return sieve_check(argv[2]);
	if (strcmp(argv[1], "test") == 0)
		return sieve_test(argc - 2, argv + 2);
	if (strcmp(argv[1], "check") != 0) {
		fprintf(stderr,
			"rookery sieve: unknown %s \"%s\" (see rookery sieve "
			"--help)\n",
			argv[1][0] == '-' ? "option" : "action", argv[1]);
		return 2;
	}
	sieve_usage(stderr);
	return 2;
}
