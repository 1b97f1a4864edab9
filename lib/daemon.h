/*
 * daemon.h - the command line every Rookery daemon shares:
 *	-c, --config FILE   -n, --name NAME   -d, --debug   -h, --help
 */
#ifndef ROOKERY_DAEMON_H
#define ROOKERY_DAEMON_H

#include <stdio.h>

struct daemon_opts {
	const char *config;
	const char *name;	/* NULL unless -n was given */
	int debug;
};

/*
 * Parses argv into *o.  --help prints usage(stdout) and exits 0; a bad
 * option, a stray argument, a missing -c, or (need_name) a missing -n
 * prints usage(stderr) and exits 2.
 */
void daemon_parse_args(int argc, char **argv, int need_name,
		       void (*usage)(FILE *out), struct daemon_opts *o);

#endif
