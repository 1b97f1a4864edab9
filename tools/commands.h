/*
 * commands.h - the verbs of `rookery`, one file each (tools/cmd_<verb>.c).
 * Every verb takes the arguments after its name (argv[0] is the verb),
 * answers --help on stdout with exit 0, and returns the process exit code:
 * 0 done, 1 the request failed (message printed), 2 usage error.
 */
#ifndef ROOKERY_COMMANDS_H
#define ROOKERY_COMMANDS_H

int cmd_user(int argc, char **argv);
int cmd_mailbox(int argc, char **argv);
int cmd_quota(int argc, char **argv);
int cmd_acl(int argc, char **argv);	/* tools/cmd_acl.c */
int cmd_status(int argc, char **argv);
int cmd_reconstruct(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_sieve(int argc, char **argv);	/* sieve/ owns tools/cmd_sieve.c */
int cmd_ab(int argc, char **argv);	/* ldapab/ owns tools/cmd_ab.c */
int cmd_route(int argc, char **argv);

#endif
