/*
 * cmd_run.c - `rookery run`: the demo platform in the foreground.
 *
 * Creates var/demo/ on first use (configuration, self-signed certificate,
 * the demo users alice@example.com and bob@example.com with password
 * "demo"), then starts every daemon the configuration names whose program
 * was built, prints what listens where, and stops them all on Ctrl-C or
 * when one of them dies.  The configuration is written once and then left
 * alone, so an operator may edit it between runs.
 */
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "sasl.h"
#include "strbuf.h"
#include "tls.h"
#include "store/control.h"
#include "tools/cli.h"
#include "tools/commands.h"

#define DEMO_DIR "var/demo"
#define DEMO_CONF DEMO_DIR "/rookery.conf"
#define DEMO_USER "rookery"
#define DEMO_PROXY "mux@rookery.internal"
#define MAX_CHILDREN 16

static const char *const demo_users[] = {"alice@example.com",
					 "bob@example.com"};

struct child {
	pid_t pid;
	char *what;
};

static struct child children[MAX_CHILDREN];
static int nchildren;
static volatile sig_atomic_t stop_requested;

static void run_usage(FILE *out)
{
	fprintf(out,
		"usage: rookery run [--dir DIR]\n\n"
		"Starts the demo platform in the foreground on 127.0.0.1 and "
		"stops it on\nCtrl-C.  The first run creates DIR (default "
		"var/demo): rookery.conf,\na self-signed certificate, and the "
		"users alice@example.com and\nbob@example.com (password "
		"\"demo\").  Delete DIR to start afresh.\n");
}

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

/* The directory holding this program (the other programs sit beside it). */
static char *bin_dir(void)
{
	char path[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);
	char *slash;

	if (n <= 0)
		return xstrdup(".");
	path[n] = '\0';
	slash = strrchr(path, '/');
	if (slash != NULL)
		*slash = '\0';
	return xstrdup(path);
}

static int have_program(const char *dir, const char *name)
{
	char *p = xasprintf("%s/%s", dir, name);
	int ok = access(p, X_OK) == 0;

	free(p);
	return ok;
}

static int write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (f == NULL) {
		fprintf(stderr, "rookery run: cannot write %s: %s\n", path,
			strerror(errno));
		return -1;
	}
	fputs(text, f);
	if (fclose(f) != 0) {
		fprintf(stderr, "rookery run: cannot write %s: %s\n", path,
			strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * The demo layout (DESIGN.md, black-box contract): the mux owns the public
 * ports; the store listens only on Unix sockets in its data directory,
 * which the mux reaches as the trusted proxy identity.
 */
static int demo_config(const char *dir, const char *bins, int as_root)
{
	struct strbuf s;
	char *path = xasprintf("%s/rookery.conf", dir);
	int rc;

	if (access(path, R_OK) == 0) {
		free(path);
		return 0;
	}
	strbuf_init(&s);
	strbuf_printf(
		&s,
		"# Rookery demo platform, written by `rookery run`.\n"
		"# Edit freely; delete %s to start afresh.  See "
		"etc/rookery.conf for\n# every setting with comments.\n\n"
		"[global]\n"
		"log = stderr\n"
		"log_level = info\n"
		"user = %s\n"
		"tls_cert = %s/tls/cert.pem\n"
		"tls_key = %s/tls/key.pem\n"
		"sasldb = %s/sasldb2\n"
		"# plaintext passwords only after STARTTLS/STLS, on TLS ports "
		"and on\n# Unix sockets\n"
		"allow_plaintext = no\n"
		"proxy_identities = " DEMO_PROXY "\n"
		"directory = %s/directory.db\n\n"
		"[mux]\n"
		"listen = imap 127.0.0.1:1143\n"
		"listen = imaps 127.0.0.1:1993 tls\n"
		"listen = pop3 127.0.0.1:1110\n"
		"listen = pop3s 127.0.0.1:1995 tls\n"
		"listen = sieve 127.0.0.1:2000\n"
		"listen = lmtp 127.0.0.1:2024\n"
		"listen = control unix:%s/mux-control.sock\n"
		"proxy_identity = " DEMO_PROXY "\n"
		"proxy_password_file = %s/mux.secret\n\n"
		"[store ms1]\n"
		"role = primary\n"
		"data_dir = %s/ms1\n"
		"listen = lmtp unix:%s/ms1/lmtp.sock\n"
		"listen = imap unix:%s/ms1/imap.sock\n"
		"listen = pop3 unix:%s/ms1/pop3.sock\n"
		"listen = sieve unix:%s/ms1/sieve.sock\n"
		"listen = control unix:%s/ms1/control.sock\n"
		"max_message_size = 50M\n",
		dir, as_root ? DEMO_USER : "", dir, dir, dir, dir, dir, dir,
		dir, dir, dir, dir, dir, dir);
	if (have_program(bins, "rookery-ldapab"))
		strbuf_printf(&s,
			      "\n[ldapab]\n"
			      "data_dir = %s/ldapab\n"
			      "suffix = dc=example,dc=net\n"
			      "listen = ldap 127.0.0.1:1389\n"
			      "listen = ldaps 127.0.0.1:1636 tls\n",
			      dir);
	rc = write_file(path, s.data);
	strbuf_free(&s);
	free(path);
	return rc;
}

/*
 * Runs this program with ARGS (after "-q -c CONF") and input on its
 * standard input; returns its exit status, or -1.  A child process keeps
 * each verb's state out of this supervisor.
 */
static int run_self(const char *conf, const char *input, char *const args[])
{
	char *argv[16];
	int pipefd[2], status, n = 0;
	pid_t pid;

	argv[n++] = "/proc/self/exe";
	argv[n++] = "-q";
	argv[n++] = "-c";
	argv[n++] = (char *)conf;
	while (*args != NULL && n < 15)
		argv[n++] = *args++;
	argv[n] = NULL;
	if (pipe(pipefd) < 0)
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		dup2(pipefd[0], STDIN_FILENO);
		close(pipefd[0]);
		close(pipefd[1]);
		if (freopen("/dev/null", "w", stdout) == NULL)
			_exit(127);
		execv("/proc/self/exe", argv);
		_exit(127);
	}
	close(pipefd[0]);
	if (input != NULL &&
	    write(pipefd[1], input, strlen(input)) != (ssize_t)strlen(input))
		fprintf(stderr, "rookery run: cannot feed %s\n", args[0]);
	close(pipefd[1]);
	if (waitpid(pid, &status, 0) < 0)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* The proxy identity's password: random, kept in a 0600 file. */
static char *demo_proxy_secret(const char *dir)
{
	char *path = xasprintf("%s/mux.secret", dir);
	unsigned char raw[18];
	char secret[64];
	FILE *f;
	size_t i;

	f = fopen(path, "r");
	if (f != NULL && fgets(secret, sizeof(secret), f) != NULL) {
		fclose(f);
		free(path);
		secret[strcspn(secret, "\r\n")] = '\0';
		return xstrdup(secret);
	}
	if (f != NULL)
		fclose(f);
	f = fopen("/dev/urandom", "r");
	if (f == NULL || fread(raw, 1, sizeof(raw), f) != sizeof(raw)) {
		if (f != NULL)
			fclose(f);
		free(path);
		return NULL;
	}
	fclose(f);
	for (i = 0; i < sizeof(raw); i++)
		snprintf(secret + 2 * i, 3, "%02x", raw[i]);
	f = fopen(path, "w");
	if (f == NULL || fchmod(fileno(f), 0600) < 0 ||
	    fprintf(f, "%s\n", secret) < 0 || fclose(f) != 0) {
		fprintf(stderr, "rookery run: cannot write %s\n", path);
		free(path);
		return NULL;
	}
	free(path);
	return xstrdup(secret);
}

/* Routes: store ms1 at its Unix sockets, the demo users on it. */
static int demo_routes(const struct config *cfg, const char *dir,
		       const char *conf)
{
	char *imap = xasprintf("unix:%s/ms1/imap.sock", dir);
	char *pop3 = xasprintf("unix:%s/ms1/pop3.sock", dir);
	char *lmtp = xasprintf("unix:%s/ms1/lmtp.sock", dir);
	char *sieve = xasprintf("unix:%s/ms1/sieve.sock", dir);
	char *store[] = {"route", "store", "ms1", "--imap", imap, "--pop3",
			 pop3, "--lmtp", lmtp, "--sieve", sieve, "--up", NULL};
	int rc = 0;
	size_t i;

	if (config_section(cfg, "mux", NULL) == NULL)
		goto out;
	if (run_self(conf, NULL, store) != 0)
		rc = -1;
	for (i = 0; rc == 0 && i < sizeof(demo_users) / sizeof(demo_users[0]);
	     i++) {
		char *user[] = {"route", "set", (char *)demo_users[i], "ms1",
				NULL};

		if (run_self(conf, NULL, user) != 0)
			rc = -1;
	}
	if (rc < 0)
		fprintf(stderr, "rookery run: could not write the routing "
				"directory (see rookery route --help)\n");
out:
	free(imap);
	free(pop3);
	free(lmtp);
	free(sieve);
	return rc;
}

static void ignore_line(const char *line, void *arg)
{
	(void)line;
	(void)arg;
}

static int demo_users_create(const struct config *cfg, const char *dir)
{
	const struct config_section *sec = cli_store(cfg, "ms1");
	char *err = NULL, *secret;
	size_t i;

	if (sec == NULL)
		return -1;
	if (saslsrv_init("rookery", sec, &err) < 0) {
		fprintf(stderr, "rookery run: SASL: %s\n", err);
		free(err);
		return -1;
	}
	/* The identity the mux logs in to the store with. */
	if (config_section(cfg, "mux", NULL) != NULL) {
		secret = demo_proxy_secret(dir);
		if (secret == NULL ||
		    saslsrv_setpass(DEMO_PROXY, secret, &err) < 0) {
			fprintf(stderr, "rookery run: proxy identity: %s\n",
				err ? err : "no secret");
			free(err);
			free(secret);
			return -1;
		}
		free(secret);
	}
	for (i = 0; i < sizeof(demo_users) / sizeof(demo_users[0]); i++) {
		struct strbuf cmd;

		if (saslsrv_setpass(demo_users[i], "demo", &err) < 0) {
			fprintf(stderr, "rookery run: password of %s: %s\n",
				demo_users[i], err);
			free(err);
			return -1;
		}
		strbuf_init(&cmd);
		strbuf_adds(&cmd, "user-add ");
		cli_quote_arg(&cmd, demo_users[i]);
		/* An existing user answers NO: that is fine on a re-run. */
		if (control_exec_direct(sec, cmd.data, ignore_line, NULL,
					&err) < 0) {
			fprintf(stderr, "rookery run: store ms1: %s\n", err);
			free(err);
			strbuf_free(&cmd);
			return -1;
		}
		strbuf_free(&cmd);
	}
	saslsrv_done();
	return 0;
}

/*
 * The demo address books (DESIGN.md, black-box contract): account
 * "example" with alice (full management) and bob, LDAP password "demo".
 * Re-running is harmless: existing identities are updated.
 */
static int demo_books(const struct config *cfg, const char *conf)
{
	char *account[] = {"ab", "add-account", "example", NULL};
	char *alice[] = {"ab", "add-mailbox", (char *)demo_users[0],
			 "--account", "example", "--manage", NULL};
	char *bob[] = {"ab", "add-mailbox", (char *)demo_users[1],
		       "--account", "example", NULL};
	const char *const who[] = {"example", demo_users[0], demo_users[1]};
	size_t i;

	if (config_section(cfg, "ldapab", NULL) == NULL)
		return 0;
	if (run_self(conf, NULL, account) != 0 ||
	    run_self(conf, NULL, alice) != 0 || run_self(conf, NULL, bob) != 0) {
		fprintf(stderr, "rookery run: could not create the demo "
				"address books (see rookery ab --help)\n");
		return -1;
	}
	for (i = 0; i < sizeof(who) / sizeof(who[0]); i++) {
		char *passwd[] = {"ab", "passwd", (char *)who[i], NULL};

		if (run_self(conf, "demo\n", passwd) != 0) {
			fprintf(stderr, "rookery run: could not set the LDAP "
					"password of %s\n", who[i]);
			return -1;
		}
	}
	return 0;
}

static uid_t chown_uid;
static gid_t chown_gid;

static int chown_one(const char *path, const struct stat *st, int flag,
		     struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	if (lchown(path, chown_uid, chown_gid) < 0)
		fprintf(stderr, "rookery run: chown %s: %s\n", path,
			strerror(errno));
	return 0;
}

/* As root the daemons drop to DEMO_USER, who must own the demo data. */
static int demo_owner(const char *dir)
{
	struct passwd *pw = getpwnam(DEMO_USER);

	if (pw == NULL) {
		if (system("useradd --system --no-create-home "
			   "--shell /usr/sbin/nologin " DEMO_USER) != 0) {
			fprintf(stderr, "rookery run: cannot create the "
					"system user " DEMO_USER "\n");
			return -1;
		}
		pw = getpwnam(DEMO_USER);
		if (pw == NULL)
			return -1;
	}
	chown_uid = pw->pw_uid;
	chown_gid = pw->pw_gid;
	return nftw(dir, chown_one, 16, FTW_PHYS);
}

static int start_child(const char *what, char *const argv[])
{
	pid_t pid;

	if (nchildren == MAX_CHILDREN)
		return -1;
	pid = fork();
	if (pid < 0) {
		perror("rookery run: fork");
		return -1;
	}
	if (pid == 0) {
		execv(argv[0], argv);
		fprintf(stderr, "rookery run: cannot start %s: %s\n", argv[0],
			strerror(errno));
		_exit(127);
	}
	children[nchildren].pid = pid;
	children[nchildren].what = xstrdup(what);
	nchildren++;
	return 0;
}

static void print_listeners(const struct config_section *sec,
			    const char *what)
{
	const char *v;
	unsigned i;

	printf("  %s:\n", what);
	for (i = 0; (v = config_get_nth(sec, "listen", i)) != NULL; i++)
		printf("    %s\n", v);
}

static int start_all(const struct config *cfg, const char *bins,
		     const char *conf)
{
	const struct config_section *s = NULL;
	char *prog;

	printf("rookery run: configuration %s\n", conf);
	prog = xasprintf("%s/rookery-store", bins);
	while ((s = config_next(cfg, s, "store")) != NULL) {
		char *argv[] = {prog, "-c", (char *)conf, "-n",
				(char *)config_section_name(s), NULL};
		char *what = xasprintf("store %s (%s)",
				       config_section_name(s),
				       config_get(s, "role", "primary"));

		if (start_child(what, argv) < 0)
			return -1;
		print_listeners(s, what);
		free(what);
	}
	free(prog);
	s = config_section(cfg, "mux", NULL);
	if (s != NULL && have_program(bins, "rookery-mux")) {
		char *argv[] = {NULL, "-c", (char *)conf, NULL};

		argv[0] = xasprintf("%s/rookery-mux", bins);
		if (start_child("mux", argv) < 0)
			return -1;
		free(argv[0]);
		print_listeners(s, "mux (IMAP, POP3, ManageSieve, LMTP front door)");
	}
	s = config_section(cfg, "ldapab", NULL);
	if (s != NULL && have_program(bins, "rookery-ldapab")) {
		char *argv[] = {NULL, "-c", (char *)conf, NULL};

		argv[0] = xasprintf("%s/rookery-ldapab", bins);
		if (start_child("ldapab", argv) < 0)
			return -1;
		free(argv[0]);
		print_listeners(s, "ldapab (address books)");
	}
	printf("  demo users: %s and %s, password \"demo\"\n"
	       "rookery run: running; press Ctrl-C to stop.\n",
	       demo_users[0], demo_users[1]);
	fflush(stdout);
	return 0;
}

static void stop_all(int sig)
{
	int i, left = 0, waited;

	for (i = 0; i < nchildren; i++)
		if (children[i].pid > 0) {
			kill(children[i].pid, sig);
			left++;
		}
	for (waited = 0; left > 0 && waited < 100; waited++) {
		for (i = 0; i < nchildren; i++) {
			if (children[i].pid > 0 &&
			    waitpid(children[i].pid, NULL, WNOHANG) ==
				    children[i].pid) {
				children[i].pid = 0;
				left--;
			}
		}
		if (left > 0)
			usleep(100 * 1000);
	}
	for (i = 0; i < nchildren; i++)
		if (children[i].pid > 0) {
			fprintf(stderr, "rookery run: %s did not stop; "
					"killing it\n",
				children[i].what);
			kill(children[i].pid, SIGKILL);
			waitpid(children[i].pid, NULL, 0);
			children[i].pid = 0;
		}
}

static int supervise(void)
{
	int rc = 0;

	while (!stop_requested) {
		int status, i;
		pid_t pid = waitpid(-1, &status, 0);

		if (pid < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (i = 0; i < nchildren; i++) {
			if (children[i].pid != pid)
				continue;
			children[i].pid = 0;
			fprintf(stderr,
				"rookery run: %s exited (%s %d); stopping "
				"the others\n",
				children[i].what,
				WIFSIGNALED(status) ? "signal" : "status",
				WIFSIGNALED(status) ? WTERMSIG(status)
						    : WEXITSTATUS(status));
			rc = 1;
			stop_requested = 1;
		}
	}
	printf("rookery run: stopping\n");
	stop_all(SIGTERM);
	return rc;
}

int cmd_run(int argc, char **argv)
{
	const char *dir = DEMO_DIR;
	struct sigaction sa;
	struct config *cfg;
	char *bins, *conf, *tlsdir, *cert, *key, *err = NULL;
	int as_root = geteuid() == 0, rc;

	if (cli_wants_help(argc, argv)) {
		run_usage(stdout);
		return 0;
	}
	if (argc == 3 && strcmp(argv[1], "--dir") == 0)
		dir = argv[2];
	else if (argc != 1) {
		if (strcmp(argv[1], "--dir") != 0)
			return cli_usage_error("run",
					       argv[1][0] == '-'
						   ? "unknown option"
						   : "unexpected argument",
					       argv[1]);
		run_usage(stderr);
		return 2;
	}
	bins = bin_dir();
	conf = xasprintf("%s/rookery.conf", dir);
	tlsdir = xasprintf("%s/tls", dir);
	cert = xasprintf("%s/cert.pem", tlsdir);
	key = xasprintf("%s/key.pem", tlsdir);
	if ((mkdir(dir, 0750) < 0 && errno != EEXIST) ||
	    (mkdir(tlsdir, 0750) < 0 && errno != EEXIST)) {
		fprintf(stderr, "rookery run: cannot create %s: %s\n", dir,
			strerror(errno));
		return 1;
	}
	if (demo_config(dir, bins, as_root) < 0)
		return 1;
	if (access(cert, R_OK) != 0 &&
	    tls_make_self_signed("localhost", cert, key, &err) < 0) {
		fprintf(stderr, "rookery run: certificate: %s\n", err);
		free(err);
		return 1;
	}
	cli.config_path = conf;
	cfg = cli_config();
	if (cfg == NULL || demo_users_create(cfg, dir) < 0 ||
	    demo_routes(cfg, dir, conf) < 0 || demo_books(cfg, conf) < 0)
		return 1;
	if (as_root && demo_owner(dir) < 0)
		return 1;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (start_all(cfg, bins, conf) < 0) {
		stop_all(SIGTERM);
		return 1;
	}
	rc = supervise();
	config_free(&cfg);
	free(bins);
	free(conf);
	free(tlsdir);
	free(cert);
	free(key);
	return rc;
}
