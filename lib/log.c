/*
 * log.c - the logging functions of log.h.
 */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

static const char *log_ident = "rookery";
static int log_syslog;
static enum log_level log_min = LOG_LEVEL_INFO;

void log_init(const char *ident, int to_syslog, enum log_level level)
{
	log_ident = ident;
	log_syslog = to_syslog;
	log_min = level;
	if (to_syslog)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_MAIL);
}

void log_set_level(enum log_level level)
{
	log_min = level;
}

int log_level_parse(const char *name, enum log_level *level_r)
{
	if (strcmp(name, "debug") == 0)
		*level_r = LOG_LEVEL_DEBUG;
	else if (strcmp(name, "info") == 0)
		*level_r = LOG_LEVEL_INFO;
	else if (strcmp(name, "warn") == 0 || strcmp(name, "warning") == 0)
		*level_r = LOG_LEVEL_WARN;
	else
		return -1;
	return 0;
}

static void log_emit(enum log_level level, const char *fmt, va_list ap,
		     const char *err)
{
	static const char *names[] = {"debug", "info", "warn"};
	static const int prio[] = {LOG_DEBUG, LOG_INFO, LOG_WARNING};
	char msg[4096];
	int n;

	if (level < log_min)
		return;
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	if (n < 0)
		return;
	if (err != NULL && (size_t)n < sizeof(msg))
		snprintf(msg + n, sizeof(msg) - n, " error=\"%s\"", err);
	if (log_syslog) {
		syslog(prio[level], "level=%s %s", names[level], msg);
	} else {
		struct timespec ts;
		struct tm tm;
		char when[32];

		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
		fprintf(stderr, "%s.%03ldZ %s[%d]: level=%s %s\n", when,
			ts.tv_nsec / 1000000, log_ident, (int)getpid(),
			names[level], msg);
	}
}

#define LOG_BODY(level, err)                                                   \
	do {                                                                   \
		va_list ap;                                                    \
		va_start(ap, fmt);                                             \
		log_emit(level, fmt, ap, err);                                 \
		va_end(ap);                                                    \
	} while (0)

void log_debug(const char *fmt, ...)
{
	LOG_BODY(LOG_LEVEL_DEBUG, NULL);
}

void log_info(const char *fmt, ...)
{
	LOG_BODY(LOG_LEVEL_INFO, NULL);
}

void log_warn(const char *fmt, ...)
{
	const char *err = strerror(errno);

	LOG_BODY(LOG_LEVEL_WARN, err);
}

void log_warnx(const char *fmt, ...)
{
	LOG_BODY(LOG_LEVEL_WARN, NULL);
}

void fatal(const char *fmt, ...)
{
	const char *err = strerror(errno);

	LOG_BODY(LOG_LEVEL_WARN, err);
	exit(1);
}

void fatalx(const char *fmt, ...)
{
	LOG_BODY(LOG_LEVEL_WARN, NULL);
	exit(1);
}

static int log_safe_char(unsigned char ch)
{
	return ch > 0x20 && ch < 0x7f && ch != '"' && ch != '\\' && ch != '=';
}

const char *log_q(char *buf, size_t size, const char *s)
{
	size_t i, o = 0;
	int plain = s != NULL && *s != '\0';

	if (s == NULL)
		s = "";
	for (i = 0; plain && s[i] != '\0'; i++)
		plain = log_safe_char((unsigned char)s[i]);
	if (plain) {
		snprintf(buf, size, "%s", s);
		return buf;
	}
	buf[o++] = '"';
	for (i = 0; s[i] != '\0' && o + 6 < size; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch == '"' || ch == '\\') {
			buf[o++] = '\\';
			buf[o++] = (char)ch;
		} else if (ch < 0x20 || ch == 0x7f) {
			o += (size_t)snprintf(buf + o, size - o, "\\x%02x", ch);
		} else {
			buf[o++] = (char)ch;
		}
	}
	buf[o++] = '"';
	buf[o] = '\0';
	return buf;
}
