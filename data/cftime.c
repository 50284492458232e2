/*
 * cftime.c - CF time units and calendars; see cftime.h.
 *
 * The reference date is kept as fields in its own calendar; a value is added in that
 * calendar (days of 86400 s, months of the calendar's lengths) and the resulting model
 * date is mapped onto the real (proleptic Gregorian) time line.
 */
#include "data/cftime.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/utc.h"

static const struct {
	const char *name;
	enum cftime_calendar cal;
} calendars[] = {
	{ "standard", CFTIME_STANDARD },
	{ "gregorian", CFTIME_STANDARD },
	{ "utc", CFTIME_STANDARD },
	{ "proleptic_gregorian", CFTIME_PROLEPTIC },
	{ "julian", CFTIME_JULIAN },
	{ "noleap", CFTIME_NOLEAP },
	{ "365_day", CFTIME_NOLEAP },
	{ "all_leap", CFTIME_ALL_LEAP },
	{ "366_day", CFTIME_ALL_LEAP },
	{ "360_day", CFTIME_360_DAY },
};

bool cftime_calendar_parse(const char *name, enum cftime_calendar *out)
{
	char buf[32];
	size_t n = 0;

	if (!name) {
		*out = CFTIME_STANDARD;
		return true;
	}
	while (isspace((unsigned char)*name))
		name++;
	while (name[n] && !isspace((unsigned char)name[n]) && n < sizeof(buf) - 1) {
		buf[n] = (char)tolower((unsigned char)name[n]);
		n++;
	}
	buf[n] = '\0';
	if (n == 0) {
		*out = CFTIME_STANDARD;
		return true;
	}
	for (size_t i = 0; i < sizeof(calendars) / sizeof(calendars[0]); i++) {
		if (strcmp(buf, calendars[i].name) == 0) {
			*out = calendars[i].cal;
			return true;
		}
	}
	return false;
}

const char *cftime_calendar_name(enum cftime_calendar cal)
{
	switch (cal) {
	case CFTIME_STANDARD: return "standard";
	case CFTIME_PROLEPTIC: return "proleptic_gregorian";
	case CFTIME_JULIAN: return "julian";
	case CFTIME_NOLEAP: return "noleap";
	case CFTIME_ALL_LEAP: return "all_leap";
	case CFTIME_360_DAY: return "360_day";
	}
	return "unknown";
}

static double unit_seconds(const char *w)
{
	static const struct {
		const char *name;
		double sec;
	} units[] = {
		{ "second", 1 }, { "seconds", 1 }, { "sec", 1 }, { "secs", 1 }, { "s", 1 },
		{ "minute", 60 }, { "minutes", 60 }, { "min", 60 }, { "mins", 60 },
		{ "hour", 3600 }, { "hours", 3600 }, { "hr", 3600 }, { "hrs", 3600 },
		{ "h", 3600 },
		{ "day", 86400 }, { "days", 86400 }, { "d", 86400 },
		{ "millisecond", 0.001 }, { "milliseconds", 0.001 }, { "msec", 0.001 },
		{ "ms", 0.001 },
	};
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (strcasecmp(w, units[i].name) == 0)
			return units[i].sec;
	return 0;
}

/* Read an unsigned decimal integer of at most `maxd` digits; -1 when none. */
static long read_uint(const char **p, int maxd)
{
	long v = 0;
	int n = 0;

	while (isdigit((unsigned char)**p) && n < maxd) {
		v = v * 10 + (**p - '0');
		(*p)++;
		n++;
	}
	return n ? v : -1;
}

static int days_in_month_cal(enum cftime_calendar cal, int64_t y, int m)
{
	static const int common[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	if (m < 1 || m > 12)
		return 0;
	switch (cal) {
	case CFTIME_360_DAY:
		return 30;
	case CFTIME_NOLEAP:
		return common[m - 1];
	case CFTIME_ALL_LEAP:
		return m == 2 ? 29 : common[m - 1];
	case CFTIME_JULIAN:
		return m == 2 && y % 4 == 0 ? 29 : common[m - 1];
	case CFTIME_STANDARD:
		if (y < 1582 || (y == 1582 && m < 10))
			return m == 2 && y % 4 == 0 ? 29 : common[m - 1];
		return utc_days_in_month(y, m);
	case CFTIME_PROLEPTIC:
		return utc_days_in_month(y, m);
	}
	return 0;
}

/* Days since 1970-01-01 (real time line) of a Julian-calendar date. */
static int64_t julian_days_from_civil(int64_t y, int m, int d)
{
	int64_t a = (14 - m) / 12, yy = y + 4800 - a, mm = m + 12 * a - 3;
	int64_t jdn = d + (153 * mm + 2) / 5 + 365 * yy + yy / 4 - 32083;

	return jdn - 2440588;
}

static int64_t cal_days_per_year(enum cftime_calendar cal)
{
	return cal == CFTIME_360_DAY ? 360 : cal == CFTIME_NOLEAP ? 365 : 366;
}

/* Day number of a date in a fixed-length-year calendar. */
static int64_t fixed_days_from_civil(enum cftime_calendar cal, int64_t y, int m, int d)
{
	int64_t n = y * cal_days_per_year(cal);

	for (int i = 1; i < m; i++)
		n += days_in_month_cal(cal, y, i);
	return n + d - 1;
}

static void fixed_civil_from_days(enum cftime_calendar cal, int64_t n, int64_t *y, int *m,
				  int *d)
{
	int64_t per = cal_days_per_year(cal);
	int64_t yy = n >= 0 ? n / per : -((-n + per - 1) / per);
	int64_t doy = n - yy * per;
	int mm = 1;

	while (mm < 12 && doy >= days_in_month_cal(cal, yy, mm)) {
		doy -= days_in_month_cal(cal, yy, mm);
		mm++;
	}
	*y = yy;
	*m = mm;
	*d = (int)doy + 1;
}

/* Parse the zone suffix: Z, UTC, GMT, [+-]H[H][:MM], [+-]HHMM, [+-]HMM. */
static bool parse_zone(const char *p, int *minutes)
{
	int sign = 1;
	long h, m = 0;
	const char *q;

	while (isspace((unsigned char)*p))
		p++;
	*minutes = 0;
	if (*p == '\0')
		return true;
	if (strcasecmp(p, "Z") == 0 || strcasecmp(p, "UTC") == 0 || strcasecmp(p, "GMT") == 0)
		return true;
	if (*p == '+' || *p == '-') {
		sign = *p == '-' ? -1 : 1;
		p++;
	}
	q = p;
	h = read_uint(&p, 4);
	if (h < 0)
		return false;
	if (*p == ':') {
		p++;
		m = read_uint(&p, 2);
		if (m < 0)
			return false;
	} else if (p - q >= 3) {
		m = h % 100;
		h /= 100;
	}
	while (isspace((unsigned char)*p))
		p++;
	if (*p != '\0' || h > 23 || m > 59)
		return false;
	*minutes = sign * (int)(h * 60 + m);
	return true;
}

enum wc_status cftime_parse(struct cftime *t, const char *units, const char *calendar,
			    struct wc_error *err)
{
	char word[32];
	const char *p = units;
	size_t n = 0;
	long y, mo, d, h = 0, mi = 0;
	double sec = 0;

	memset(t, 0, sizeof(*t));
	if (!units)
		return wc_error_set(err, WC_EFORMAT, "missing time units");
	if (!cftime_calendar_parse(calendar, &t->calendar))
		return wc_error_set(err, WC_EUNSUPPORTED, "unsupported calendar '%s'",
				    calendar);
	while (isspace((unsigned char)*p))
		p++;
	while (isalpha((unsigned char)p[n]) && n < sizeof(word) - 1) {
		word[n] = p[n];
		n++;
	}
	word[n] = '\0';
	p += n;
	if (n == 0)
		return wc_error_set(err, WC_EFORMAT, "bad time units '%s'", units);
	t->unit_seconds = unit_seconds(word);
	if (t->unit_seconds == 0) {
		if (strncasecmp(word, "month", 5) == 0 || strncasecmp(word, "year", 4) == 0)
			return wc_error_set(err, WC_EUNSUPPORTED,
					    "unsupported time units '%s': months and years "
					    "have no fixed length", units);
		return wc_error_set(err, WC_EFORMAT, "bad time units '%s'", units);
	}
	while (isspace((unsigned char)*p))
		p++;
	if (*p == '\0')
		return WC_OK;	/* a duration */
	if (strncasecmp(p, "since", 5) == 0)
		p += 5;
	else if (strncasecmp(p, "after", 5) == 0)
		p += 5;
	else if (strncasecmp(p, "from", 4) == 0)
		p += 4;
	else
		return wc_error_set(err, WC_EFORMAT, "bad time units '%s'", units);
	while (isspace((unsigned char)*p))
		p++;
	y = read_uint(&p, 4);
	if (y < 1 || *p++ != '-')
		goto bad;
	mo = read_uint(&p, 2);
	if (mo < 1 || mo > 12 || *p++ != '-')
		goto bad;
	d = read_uint(&p, 2);
	if (d < 1 || d > days_in_month_cal(t->calendar, y, (int)mo))
		goto bad;
	if (*p == 'T' || *p == 't' || *p == ' ') {
		const char *save = p;

		p++;
		while (*p == ' ')
			p++;
		if (isdigit((unsigned char)*p)) {
			h = read_uint(&p, 2);
			if (*p != ':')
				goto bad;
			p++;
			mi = read_uint(&p, 2);
			if (mi < 0)
				goto bad;
			if (*p == ':') {
				char *end;

				p++;
				if (!isdigit((unsigned char)*p))
					goto bad;
				sec = strtod(p, &end);
				p = end;
			}
			if (h > 24 || mi > 59 || sec < 0 || sec >= 61)
				goto bad;
		} else {
			p = save;
		}
	}
	if (!parse_zone(p, &t->zone_minutes))
		goto bad;
	t->has_epoch = true;
	t->year = y;
	t->month = (int)mo;
	t->day = (int)d;
	t->hour = (int)h;
	t->minute = (int)mi;
	t->second = sec;
	return WC_OK;
bad:
	return wc_error_set(err, WC_EFORMAT, "bad reference date in time units '%s'", units);
}

enum wc_status cftime_to_utc(const struct cftime *t, double value, int64_t *out,
			     struct wc_error *err)
{
	double off;
	int64_t secs, days, sod, y;
	int m, d;

	if (!isfinite(value))
		return wc_error_set(err, WC_EINVAL, "invalid time value %g", value);
	off = value * t->unit_seconds;
	if (t->has_epoch)
		off += t->hour * 3600.0 + t->minute * 60.0 + t->second -
		       t->zone_minutes * 60.0;
	/* about +-300,000 years: keeps every later int64 sum exact */
	if (fabs(off) > 1e13)
		return wc_error_set(err, WC_EINVAL, "time value %g out of range", value);
	secs = llround(off);
	if (!t->has_epoch) {
		*out = secs;
		return WC_OK;
	}
	days = secs >= 0 ? secs / UTC_DAY : -((-secs + UTC_DAY - 1) / UTC_DAY);
	sod = secs - days * UTC_DAY;
	switch (t->calendar) {
	case CFTIME_PROLEPTIC:
		days += utc_days_from_civil(t->year, t->month, t->day);
		break;
	case CFTIME_STANDARD:
		if (t->year < 1582 || (t->year == 1582 && (t->month < 10 ||
		    (t->month == 10 && t->day < 15))))
			days += julian_days_from_civil(t->year, t->month, t->day);
		else
			days += utc_days_from_civil(t->year, t->month, t->day);
		break;
	case CFTIME_JULIAN:
		days += julian_days_from_civil(t->year, t->month, t->day);
		break;
	case CFTIME_NOLEAP:
	case CFTIME_ALL_LEAP:
	case CFTIME_360_DAY:
		days += fixed_days_from_civil(t->calendar, t->year, t->month, t->day);
		fixed_civil_from_days(t->calendar, days, &y, &m, &d);
		if (d > utc_days_in_month(y, m))
			return wc_error_set(err, WC_EUNSUPPORTED,
					    "cannot convert time %04lld-%02d-%02d (%s) to UTC: "
					    "the date does not exist in the real calendar",
					    (long long)y, m, d,
					    cftime_calendar_name(t->calendar));
		days = utc_days_from_civil(y, m, d);
		break;
	}
	*out = days * UTC_DAY + sod;
	return WC_OK;
}

bool cftime_parse_wrf(const char *s, size_t len, int64_t *out)
{
	char buf[32];
	int y, mo, d, h, mi, sec, used = 0;

	while (len > 0 && (s[len - 1] == '\0' || s[len - 1] == ' '))
		len--;
	if (len != 19)
		return false;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (buf[10] != '_' && buf[10] != 'T' && buf[10] != ' ')
		return false;
	buf[10] = ' ';
	if (sscanf(buf, "%4d-%2d-%2d %2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &used) != 6 ||
	    used != 19)
		return false;
	if (mo < 1 || mo > 12 || d < 1 || d > utc_days_in_month(y, mo) || h > 23 ||
	    mi > 59 || sec > 60)
		return false;
	*out = utc_from_fields(y, mo, d, h, mi, sec);
	return true;
}
