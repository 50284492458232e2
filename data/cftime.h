/*
 * cftime.h - CF time units and calendars turned into UTC instants.
 *
 * A CF time coordinate stores numbers in "<unit> since <reference date>" (CF 4.4) in one
 * of several calendars. This module parses every variant met in real files (see
 * ../shared/grids/CATALOG.md R5): capitalised or singular units, 'T' or ' ' between date
 * and time, non-padded fields, fractional seconds, a zone suffix written as Z, UTC, H,
 * H:M, +HH:MM, HHMM or HMM, and a bare duration unit such as "hours" (a forecast
 * period). Values are converted to int64 seconds since the Unix epoch, rounded to the
 * nearest second.
 *
 * Calendars: standard/gregorian (Julian before 1582-10-15, Gregorian after), proleptic_
 * gregorian, julian, noleap/365_day, all_leap/366_day and 360_day. Model calendars are
 * mapped date for date onto the real calendar: 2001-02-28 noleap is 2001-02-28 UTC. A
 * model date that does not exist in the real calendar (360_day's 02-30, all_leap's 02-29
 * in a common year) gives WC_EUNSUPPORTED naming the date. "none" is refused.
 * Limits: years 1..9999 in reference dates; "year" and "month" units are refused (CF).
 */
#ifndef WC_CFTIME_H
#define WC_CFTIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/status.h"

enum cftime_calendar {
	CFTIME_STANDARD = 0,	/* also "gregorian", "utc", absent */
	CFTIME_PROLEPTIC,	/* proleptic_gregorian */
	CFTIME_JULIAN,
	CFTIME_NOLEAP,		/* noleap, 365_day */
	CFTIME_ALL_LEAP,	/* all_leap, 366_day */
	CFTIME_360_DAY
};

/* Parsed units; plain data, no resources. */
struct cftime {
	double unit_seconds;		/* seconds per unit: 1, 60, 3600, 86400, 0.001 */
	bool has_epoch;			/* false for a bare duration ("hours") */
	enum cftime_calendar calendar;
	int64_t year;			/* reference date in `calendar`, local to the zone */
	int month, day, hour, minute;
	double second;			/* may be fractional */
	int zone_minutes;		/* offset east of UTC of the reference date */
};

/*
 * Parse `units` (required) and `calendar` (NULL or "" means standard) into *t.
 * WC_EFORMAT for units that are not "<unit> [since <date>]", WC_EUNSUPPORTED for a
 * calendar or unit windcast does not handle. The message quotes the offending text.
 */
enum wc_status cftime_parse(struct cftime *t, const char *units, const char *calendar,
			    struct wc_error *err);

/*
 * Convert a stored value to UTC seconds into *out. For a bare duration the result is
 * the duration in seconds. WC_EINVAL for a non-finite or out-of-range value;
 * WC_EUNSUPPORTED when the model date does not exist in the real calendar.
 */
enum wc_status cftime_to_utc(const struct cftime *t, double value, int64_t *out,
			     struct wc_error *err);

/* Calendar from its CF name (case-insensitive); false when unknown or "none". */
bool cftime_calendar_parse(const char *name, enum cftime_calendar *out);
const char *cftime_calendar_name(enum cftime_calendar cal);

/*
 * Parse a WRF time string "YYYY-MM-DD_HH:MM:SS" of `len` bytes (not NUL-terminated,
 * trailing NULs or blanks allowed). Also accepts 'T' or ' ' for '_'.
 */
bool cftime_parse_wrf(const char *s, size_t len, int64_t *out);

#endif
