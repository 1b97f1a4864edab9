/*
 * control.h - the store's administrative command set, shared by the
 * control socket (control_conn_ops, used while the store runs) and by the
 * `rookery` CLI when the store is stopped (it then opens the storage
 * itself).  Both paths run the same command table, so their answers are
 * identical.  Protocol: docs/control-protocol.md.
 *
 * Contract agreed with tools/cli.c: a command is one line, words separated
 * by spaces, an argument with spaces or quotes written "like \"this\"".
 * Reply lines: "* data" (any number), then "OK [text]" or "NO text".
 */
#ifndef ROOKERY_CONTROL_H
#define ROOKERY_CONTROL_H

struct config_section;
struct mstore;

/* Emits one reply line (without CRLF): "* ...", "OK ...", "NO ...". */
typedef void control_reply_fn(const char *line, void *arg);

/*
 * Runs one command line against an open storage engine; reply() is called
 * for every reply line, the last being OK or NO.  store_name is used in
 * status output.  Returns 0 when the command ran (OK or NO), -1 when the
 * line could not be parsed (reply got a NO as well).
 */
int control_exec(struct mstore *ms, const char *store_name,
		 const char *line, control_reply_fn *reply, void *arg);

/*
 * For the CLI: opens the storage of the stopped store described by sec
 * (data_dir), runs control_exec(), closes it.  Returns -1 with *err_r when
 * the storage cannot be opened (e.g. the store is running after all).
 */
int control_exec_direct(const struct config_section *sec, const char *line,
			control_reply_fn *reply, void *arg, char **err_r);

#endif
