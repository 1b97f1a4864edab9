/*
 * cli.c - shared helpers of the `rookery` verbs (cli.h).
 */
#include "tools/cli.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include "config.h"
#include "net.h"
#include "strbuf.h"
#include "store/control.h"

struct cli_globals cli;

struct config *cli_config(void)
{
	const char *path = cli.config_path;
	struct config *cfg;
	char *err = NULL;

	if (path == NULL)
		path = getenv("ROOKERY_CONFIG");
	if (path == NULL && access("var/demo/rookery.conf", R_OK) == 0)
		path = "var/demo/rookery.conf";
	if (path == NULL)
		path = "/etc/rookery/rookery.conf";
	if (config_load(path, &cfg, &err) < 0) {
		fprintf(stderr,
			"rookery: %s\n"
			"rookery: pass the configuration with -c FILE or "
			"$ROOKERY_CONFIG (etc/rookery.conf is a sample)\n",
			err);
		free(err);
		return NULL;
	}
	return cfg;
}

const struct config_section *cli_store(const struct config *cfg,
				       const char *name)
{
	const struct config_section *s = NULL;

	while ((s = config_next(cfg, s, "store")) != NULL) {
		const char *sname = config_section_name(s);

		if (name != NULL) {
			if (sname != NULL && strcmp(sname, name) == 0)
				return s;
		} else if (strcmp(config_get(s, "role", "primary"),
				  "primary") == 0) {
			return s;
		}
	}
	fprintf(stderr, "rookery: no %s%s store in the configuration; "
			"stores:",
		name ? "store named " : "primary", name ? name : "");
	while ((s = config_next(cfg, s, "store")) != NULL)
		fprintf(stderr, " %s", config_section_name(s));
	fprintf(stderr, "\n");
	return NULL;
}

static char *read_line_noecho(const char *prompt)
{
	struct termios old, noecho;
	char buf[1024];
	int tty = isatty(STDIN_FILENO);
	size_t n;

	if (tty) {
		fprintf(stderr, "%s", prompt);
		fflush(stderr);
		if (tcgetattr(STDIN_FILENO, &old) < 0)
			return NULL;
		noecho = old;
		noecho.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &noecho);
	}
	if (fgets(buf, sizeof(buf), stdin) == NULL)
		buf[0] = '\0';
	if (tty) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
		fprintf(stderr, "\n");
	}
	n = strcspn(buf, "\r\n");
	buf[n] = '\0';
	return xstrdup(buf);
}

char *cli_read_password(const char *prompt, int confirm)
{
	char *pass = read_line_noecho(prompt);
	char *again;

	if (pass == NULL || pass[0] == '\0') {
		fprintf(stderr, "rookery: empty password; give one at the "
				"prompt or on standard input\n");
		free(pass);
		return NULL;
	}
	if (!confirm || !isatty(STDIN_FILENO))
		return pass;
	again = read_line_noecho("Again: ");
	if (again == NULL || strcmp(again, pass) != 0) {
		fprintf(stderr, "rookery: the passwords differ\n");
		free(pass);
		free(again);
		return NULL;
	}
	free(again);
	return pass;
}

/* The Unix path of the store's "listen = control unix:PATH" line. */
static const char *control_path(const struct config_section *sec)
{
	const char *v;
	unsigned i;

	for (i = 0; (v = config_get_nth(sec, "listen", i)) != NULL; i++) {
		struct net_listen_spec spec;
		char *err = NULL;
		static char path[sizeof(((struct sockaddr_un *)0)->sun_path)];

		if (net_listen_parse(v, &spec, &err) < 0) {
			free(err);
			continue;
		}
		if (strcmp(spec.proto, "control") == 0 &&
		    strncmp(spec.addr, "unix:", 5) == 0) {
			snprintf(path, sizeof(path), "%s", spec.addr + 5);
			net_listen_spec_clear(&spec);
			return path;
		}
		net_listen_spec_clear(&spec);
	}
	return NULL;
}

static int control_connect(const char *path)
{
	struct sockaddr_un sun;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* Hands one reply line to cb; returns 1 at OK, -1 at NO, 0 otherwise. */
static int control_reply_line(const char *line,
			      void (*cb)(const char *line, void *arg),
			      void *arg)
{
	if (strncmp(line, "* ", 2) == 0 || strcmp(line, "*") == 0) {
		const char *data = line[1] ? line + 2 : "";

		if (cb != NULL)
			cb(data, arg);
		else
			printf("%s\n", data);
		return 0;
	}
	if (strncmp(line, "OK", 2) == 0)
		return 1;
	if (strncmp(line, "NO", 2) == 0) {
		fprintf(stderr, "rookery: %s\n", line[2] ? line + 3 : "failed");
		return -1;
	}
	fprintf(stderr, "rookery: unexpected reply from the store: %s\n",
		line);
	return -1;
}

static int control_over_socket(int fd, const char *cmd,
			       void (*cb)(const char *line, void *arg),
			       void *arg)
{
	struct strbuf in;
	FILE *f;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int rc = 2;

	strbuf_init(&in);
	strbuf_printf(&in, "%s\n", cmd);
	if (write(fd, in.data, in.len) != (ssize_t)in.len) {
		perror("rookery: control socket");
		strbuf_free(&in);
		close(fd);
		return 2;
	}
	strbuf_free(&in);
	f = fdopen(fd, "r");
	if (f == NULL) {
		close(fd);
		return 2;
	}
	while ((n = getline(&line, &cap, f)) > 0) {
		int r;

		line[strcspn(line, "\r\n")] = '\0';
		r = control_reply_line(line, cb, arg);
		if (r != 0) {
			rc = r > 0 ? 0 : 1;
			break;
		}
	}
	if (rc == 2)
		fprintf(stderr, "rookery: the store closed the control "
				"connection without an answer\n");
	free(line);
	fclose(f);
	return rc;
}

struct direct_ctx {
	void (*cb)(const char *line, void *arg);
	void *arg;
	int rc;
};

static void direct_line(const char *line, void *arg)
{
	struct direct_ctx *d = arg;
	int r = control_reply_line(line, d->cb, d->arg);

	if (r != 0)
		d->rc = r > 0 ? 0 : 1;
}

int cli_control(const struct config_section *sec, const char *cmd,
		void (*cb)(const char *line, void *arg), void *arg)
{
	const char *path = control_path(sec);
	const char *data_dir = config_get(sec, "data_dir", NULL);
	struct direct_ctx d = {cb, arg, 2};
	char *err = NULL;
	int fd;

	if (path != NULL) {
		fd = control_connect(path);
		if (fd >= 0)
			return control_over_socket(fd, cmd, cb, arg);
		if (errno != ENOENT && errno != ECONNREFUSED) {
			fprintf(stderr, "rookery: control socket %s: %s\n",
				path, strerror(errno));
			return 2;
		}
	}
	/* The store is not running: work on its storage directly. */
	if (data_dir == NULL) {
		fprintf(stderr, "rookery: store %s has no data_dir\n",
			config_section_name(sec));
		return 2;
	}
	if (control_exec_direct(sec, cmd, direct_line, &d, &err) < 0) {
		fprintf(stderr,
			"rookery: store %s is not running and its storage "
			"could not be opened: %s\n",
			config_section_name(sec), err ? err : "unknown error");
		free(err);
		return 2;
	}
	return d.rc;
}

void cli_quote_arg(struct strbuf *out, const char *arg)
{
	const char *p;

	strbuf_addc(out, '"');
	for (p = arg; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			strbuf_addc(out, '\\');
		strbuf_addc(out, *p);
	}
	strbuf_addc(out, '"');
}

int cli_wants_help(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++)
		if (strcmp(argv[i], "--help") == 0 ||
		    strcmp(argv[i], "-h") == 0)
			return 1;
	return 0;
}

int cli_usage_error(const char *verb, const char *what, const char *arg)
{
	fprintf(stderr, "rookery %s: %s \"%s\" (see rookery %s --help)\n",
		verb, what, arg, verb);
	return 2;
}

int cli_check_options(int argc, char **argv, const char *const *value_opts)
{
	int i;
	size_t k;

	for (i = 1; i < argc; i++) {
		if (argv[i][0] != '-' || argv[i][1] == '\0')
			continue;
		for (k = 0; value_opts[k] != NULL; k++)
			if (strcmp(argv[i], value_opts[k]) == 0)
				break;
		if (value_opts[k] == NULL)
			return cli_usage_error(argv[0], "unknown option",
					       argv[i]);
		i++; /* its value */
	}
	return 0;
}

int cli_parse_size(const char *s, unsigned long long *bytes_r)
{
	unsigned long long v, mult = 1;
	char *end;

	if (strcmp(s, "unlimited") == 0 || strcmp(s, "none") == 0) {
		*bytes_r = 0;
		return 0;
	}
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || end == s || s[0] == '-')
		return -1;
	switch (toupper((unsigned char)*end)) {
	case '\0':
		break;
	case 'K':
		mult = 1024ULL;
		break;
	case 'M':
		mult = 1024ULL * 1024;
		break;
	case 'G':
		mult = 1024ULL * 1024 * 1024;
		break;
	case 'T':
		mult = 1024ULL * 1024 * 1024 * 1024;
		break;
	default:
		return -1;
	}
	if (*end != '\0' && end[1] != '\0' &&
	    !(toupper((unsigned char)end[1]) == 'B' && end[2] == '\0'))
		return -1;
	if (v > ~0ULL / mult)
		return -1;
	*bytes_r = v * mult;
	return 0;
}
