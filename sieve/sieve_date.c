/*
 * sieve_date.c - RFC 5322 date-time parsing and the date-parts of
 * RFC 5260 section 4.2 for the date and currentdate tests.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sieve/sieve_int.h"

static const char *const months[] = {"jan", "feb", "mar", "apr", "may", "jun",
				     "jul", "aug", "sep", "oct", "nov", "dec"};
static const char *const wdays[] = {"Sun", "Mon", "Tue", "Wed",
				    "Thu", "Fri", "Sat"};
static const char *const parts[] = {
    "year",   "month", "day",	  "date",  "julian", "hour",	"minute",
    "second", "time",  "iso8601", "std11", "zone",   "weekday",
};

bool sv_date_part_valid(const char *part)
{
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
		if (strcasecmp(part, parts[i]) == 0)
			return true;
	return false;
}

/* Days since 1970-01-01 of a civil date (proleptic Gregorian). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

void sv_date_from_epoch(int64_t epoch, int zone_min, struct sv_tm *tm)
{
	int64_t t = epoch + (int64_t)zone_min * 60;
	int64_t days = t >= 0 ? t / 86400 : (t - 86399) / 86400;
	int64_t secs = t - days * 86400;
	int64_t z = days + 719468, era, doe, yoe, doy, mp;

	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	tm->mday = (int)(doy - (153 * mp + 2) / 5 + 1);
	tm->mon = (int)(mp < 10 ? mp + 3 : mp - 9);
	tm->year = (int)(yoe + era * 400 + (tm->mon <= 2));
	tm->hour = (int)(secs / 3600);
	tm->min = (int)(secs / 60 % 60);
	tm->sec = (int)(secs % 60);
	tm->wday = (int)((days % 7 + 11) % 7); /* 1970-01-01 was Thursday */
	tm->zone_min = zone_min;
	tm->epoch = epoch;
}

int sv_zone_parse(const char *s, size_t len, int *min_r)
{
	int h, m;

	if (len != 5 || (s[0] != '+' && s[0] != '-'))
		return -1;
	for (int i = 1; i < 5; i++)
		if (!isdigit((unsigned char)s[i]))
			return -1;
	h = (s[1] - '0') * 10 + (s[2] - '0');
	m = (s[3] - '0') * 10 + (s[4] - '0');
	if (m > 59)
		return -1;
	*min_r = (s[0] == '-' ? -1 : 1) * (h * 60 + m);
	return 0;
}

static int obs_zone(const char *z, size_t len, int *min_r)
{
	static const struct {
		const char *name;
		int off;
	} zones[] = {{"UT", 0},	    {"GMT", 0},	   {"EST", -300}, {"EDT", -240},
		     {"CST", -360}, {"CDT", -300}, {"MST", -420}, {"MDT", -360},
		     {"PST", -480}, {"PDT", -420}};

	for (size_t i = 0; i < sizeof(zones) / sizeof(zones[0]); i++) {
		if (strlen(zones[i].name) == len &&
		    strncasecmp(zones[i].name, z, len) == 0) {
			*min_r = zones[i].off;
			return 0;
		}
	}
	if (len == 1 && isalpha((unsigned char)*z)) {
		*min_r = 0; /* military zones: RFC 5322 4.3 says -0000 */
		return 0;
	}
	return -1;
}

static const char *skip_cfws(const char *p, const char *end)
{
	int depth = 0;

	while (p < end) {
		if (*p == '(')
			depth++;
		else if (*p == ')' && depth > 0)
			depth--;
		else if (depth == 0 && !isspace((unsigned char)*p))
			break;
		p++;
	}
	return p;
}

static const char *read_num(const char *p, const char *end, int maxd, int *v,
			    int *ndig)
{
	*v = 0;
	*ndig = 0;
	while (p < end && isdigit((unsigned char)*p) && *ndig < maxd) {
		*v = *v * 10 + (*p++ - '0');
		(*ndig)++;
	}
	return p;
}

int sv_date_parse(const char *s, size_t len, struct sv_tm *tm)
{
	const char *p = s, *end = s + len, *w;
	int day, year, hour, min, sec = 0, nd, zone = 0, mon = -1;

	p = skip_cfws(p, end);
	w = p;
	while (p < end && isalpha((unsigned char)*p))
		p++;
	if (p > w) { /* day-of-week "," */
		p = skip_cfws(p, end);
		if (p >= end || *p != ',')
			return -1;
		p = skip_cfws(p + 1, end);
	}
	p = read_num(p, end, 2, &day, &nd);
	if (nd == 0 || day < 1 || day > 31)
		return -1;
	p = skip_cfws(p, end);
	for (int i = 0; i < 12; i++)
		if (end - p >= 3 && strncasecmp(p, months[i], 3) == 0)
			mon = i + 1;
	if (mon < 0)
		return -1;
	p = skip_cfws(p + 3, end);
	p = read_num(p, end, 4, &year, &nd);
	if (nd < 2)
		return -1;
	if (nd == 2)
		year += year < 50 ? 2000 : 1900;
	else if (nd == 3)
		year += 1900;
	p = skip_cfws(p, end);
	p = read_num(p, end, 2, &hour, &nd);
	if (nd == 0 || hour > 23)
		return -1;
	p = skip_cfws(p, end);
	if (p >= end || *p != ':')
		return -1;
	p = read_num(skip_cfws(p + 1, end), end, 2, &min, &nd);
	if (nd == 0 || min > 59)
		return -1;
	p = skip_cfws(p, end);
	if (p < end && *p == ':') {
		p = read_num(skip_cfws(p + 1, end), end, 2, &sec, &nd);
		if (nd == 0 || sec > 60)
			return -1;
		p = skip_cfws(p, end);
	}
	w = p;
	while (p < end && !isspace((unsigned char)*p) && *p != '(')
		p++;
	if (sv_zone_parse(w, (size_t)(p - w), &zone) < 0 &&
	    obs_zone(w, (size_t)(p - w), &zone) < 0)
		return -1;
	if (sec == 60)
		sec = 59;
	sv_date_from_epoch(days_from_civil(year, mon, day) * 86400 +
			       hour * 3600 + min * 60 + sec -
			       (int64_t)zone * 60,
			   zone, tm);
	return 0;
}

static void put_zone(struct strbuf *out, int zone, bool colon)
{
	int a = zone < 0 ? -zone : zone;

	strbuf_printf(out, colon ? "%c%02d:%02d" : "%c%02d%02d",
		      zone < 0 ? '-' : '+', a / 60, a % 60);
}

int sv_date_part(const struct sv_tm *tm, const char *part, struct strbuf *out)
{
	if (strcasecmp(part, "year") == 0) {
		strbuf_printf(out, "%04d", tm->year);
	} else if (strcasecmp(part, "month") == 0) {
		strbuf_printf(out, "%02d", tm->mon);
	} else if (strcasecmp(part, "day") == 0) {
		strbuf_printf(out, "%02d", tm->mday);
	} else if (strcasecmp(part, "date") == 0) {
		strbuf_printf(out, "%04d-%02d-%02d", tm->year, tm->mon,
			      tm->mday);
	} else if (strcasecmp(part, "julian") == 0) {
		/* Modified Julian Day: days since 1858-11-17 */
		strbuf_printf(
		    out, "%lld",
		    (long long)(days_from_civil(tm->year, tm->mon, tm->mday) +
				40587));
	} else if (strcasecmp(part, "hour") == 0) {
		strbuf_printf(out, "%02d", tm->hour);
	} else if (strcasecmp(part, "minute") == 0) {
		strbuf_printf(out, "%02d", tm->min);
	} else if (strcasecmp(part, "second") == 0) {
		strbuf_printf(out, "%02d", tm->sec);
	} else if (strcasecmp(part, "time") == 0) {
		strbuf_printf(out, "%02d:%02d:%02d", tm->hour, tm->min,
			      tm->sec);
	} else if (strcasecmp(part, "iso8601") == 0) {
		strbuf_printf(out, "%04d-%02d-%02dT%02d:%02d:%02d", tm->year,
			      tm->mon, tm->mday, tm->hour, tm->min, tm->sec);
		if (tm->zone_min == 0)
			strbuf_addc(out, 'Z');
		else
			put_zone(out, tm->zone_min, true);
	} else if (strcasecmp(part, "std11") == 0) {
		static const char *const mn[] = {"Jan", "Feb", "Mar", "Apr",
						 "May", "Jun", "Jul", "Aug",
						 "Sep", "Oct", "Nov", "Dec"};

		strbuf_printf(out, "%s, %d %s %04d %02d:%02d:%02d ",
			      wdays[tm->wday], tm->mday, mn[tm->mon - 1],
			      tm->year, tm->hour, tm->min, tm->sec);
		put_zone(out, tm->zone_min, false);
	} else if (strcasecmp(part, "zone") == 0) {
		put_zone(out, tm->zone_min, false);
	} else if (strcasecmp(part, "weekday") == 0) {
		strbuf_printf(out, "%d", tm->wday);
	} else {
		return -1;
	}
	return 0;
}
