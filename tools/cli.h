/*
 * cli.h - what every `rookery` verb shares: finding the configuration,
 * choosing a store, reading passwords, and talking to a running store over
 * its control socket (docs/control-protocol.md).
 */
#ifndef ROOKERY_CLI_H
#define ROOKERY_CLI_H

#include <stdio.h>

struct config;
struct config_section;
struct strbuf;

/* Global options, parsed by main.c before the verb. */
struct cli_globals {
	const char *config_path;	/* -c / $ROOKERY_CONFIG / defaults */
	int quiet;
};
extern struct cli_globals cli;

/*
 * Loads the configuration: cli.config_path, else $ROOKERY_CONFIG, else
 * var/demo/rookery.conf when it exists, else /etc/rookery/rookery.conf.
 * Prints a clear error and returns NULL when it cannot.
 */
struct config *cli_config(void);

/* The [store NAME] section; name NULL = the first primary store.  Prints an
 * error naming the stores that exist and returns NULL when not found. */
const struct config_section *cli_store(const struct config *cfg,
				       const char *name);

/*
 * Reads a password: from a terminal, twice with echo off (confirm set);
 * otherwise one line from stdin.  Never from argv.  Returns an allocated
 * string or NULL (message printed).
 */
char *cli_read_password(const char *prompt, int confirm);

/*
 * Runs one control command against store sec: over its control socket when
 * the store is running, else directly on its storage (the store must then
 * be stopped: the storage engine refuses a second opener).  Data lines are
 * passed to cb (without the "* " prefix) or printed when cb is NULL.
 * Returns 0 on OK; on NO prints "rookery: <text>" and returns 1; returns 2
 * when neither path works.
 */
int cli_control(const struct config_section *sec, const char *cmd,
		void (*cb)(const char *line, void *arg), void *arg);

/* Quotes an argument for a control command line (appends to out). */
void cli_quote_arg(struct strbuf *out, const char *arg);

/* 1 when argv holds --help or -h (the verb then prints usage to stdout). */
int cli_wants_help(int argc, char **argv);

/*
 * Refuses an option the verb does not know, before anything else happens
 * (an unknown "--x" must not end up as a user or mailbox name).  argv[0]
 * is the verb; value_opts is a NULL-terminated list of the verb's options,
 * each of which takes a value.  Prints "rookery VERB: unknown option ARG
 * (see rookery VERB --help)" and returns 2 for the first argument that
 * starts with '-' and is not one of them; returns 0 otherwise.
 */
int cli_check_options(int argc, char **argv, const char *const *value_opts);

/* Prints "rookery VERB: WHAT \"ARG\" (see rookery VERB --help)" to
 * stderr; returns 2, the exit status of a usage error. */
int cli_usage_error(const char *verb, const char *what, const char *arg);

/* Parses "500M", "2G", "1048576", "unlimited" (= 0) into bytes. 0 / -1. */
int cli_parse_size(const char *s, unsigned long long *bytes_r);

#endif
