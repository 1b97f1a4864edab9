/*
 * daemon.c - the shared daemon command line (daemon.h).
 */
#include "daemon.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

void daemon_parse_args(int argc, char **argv, int need_name,
		       void (*usage)(FILE *out), struct daemon_opts *o)
{
	static const struct option longopts[] = {
		{"config", required_argument, NULL, 'c'},
		{"name", required_argument, NULL, 'n'},
		{"debug", no_argument, NULL, 'd'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int ch;

	memset(o, 0, sizeof(*o));
	while ((ch = getopt_long(argc, argv, "c:n:dh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			o->config = optarg;
			break;
		case 'n':
			o->name = optarg;
			break;
		case 'd':
			o->debug = 1;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			exit(2);
		}
	}
	if (optind != argc || o->config == NULL ||
	    (need_name && o->name == NULL)) {
		usage(stderr);
		exit(2);
	}
}
