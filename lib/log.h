/*
 * log.h - one event per line, key=value, to stderr or syslog.
 *
 * Callers write the event as key=value pairs:
 *	log_info("event=login session=%s user=%s", conn_id(c), user);
 * Values that may hold spaces or control characters go through log_q(),
 * which quotes and escapes them into a caller-supplied buffer.
 *
 * log_warn() appends "error=\"<strerror(errno)>\"".  fatal()/fatalx() are
 * for start-up, configuration and broken invariants only: a peer's error
 * never ends the daemon.
 */
#ifndef ROOKERY_LOG_H
#define ROOKERY_LOG_H

#include <stddef.h>

#define LOG_PRINTF(a, b) __attribute__((format(printf, a, b)))

enum log_level { LOG_LEVEL_DEBUG = 0, LOG_LEVEL_INFO, LOG_LEVEL_WARN };

/* ident: program name; to_syslog: 0 = stderr; level: lowest level shown. */
void log_init(const char *ident, int to_syslog, enum log_level level);
void log_set_level(enum log_level level);
/* Parses "debug", "info", "warn"; returns -1 on an unknown name. */
int log_level_parse(const char *name, enum log_level *level_r);

void log_debug(const char *fmt, ...) LOG_PRINTF(1, 2);
void log_info(const char *fmt, ...) LOG_PRINTF(1, 2);
void log_warn(const char *fmt, ...) LOG_PRINTF(1, 2);
void log_warnx(const char *fmt, ...) LOG_PRINTF(1, 2);
__attribute__((noreturn)) void fatal(const char *fmt, ...) LOG_PRINTF(1, 2);
__attribute__((noreturn)) void fatalx(const char *fmt, ...) LOG_PRINTF(1, 2);

/*
 * Formats s as a log value: unchanged when it is a non-empty run of safe
 * characters, otherwise in double quotes with \" \\ and \xNN escapes.
 * Truncates to fit buf (which must hold at least 8 bytes); returns buf.
 */
const char *log_q(char *buf, size_t size, const char *s);

#endif
