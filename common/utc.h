/*
 * utc.h - UTC instants as int64_t seconds since the Unix epoch, and their text forms.
 *
 * Proleptic Gregorian arithmetic on the civil calendar (Howard Hinnant's algorithms);
 * no dependence on the process time zone or on libc's time_t range.
 */
#ifndef WC_UTC_H
#define WC_UTC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define UTC_HOUR 3600
#define UTC_DAY 86400
/* "YYYY-MM-DDTHH:MM:SSZ" plus NUL; years beyond 9999 or before 0 are refused. */
#define UTC_ISO_LEN 21

/* Days since 1970-01-01 of the civil date y-m-d (proleptic Gregorian). */
int64_t utc_days_from_civil(int64_t y, int m, int d);
/* Inverse of utc_days_from_civil. */
void utc_civil_from_days(int64_t days, int64_t *y, int *m, int *d);
bool utc_is_leap(int64_t y);
int utc_days_in_month(int64_t y, int m);

/* Seconds since the epoch of a broken-down UTC time; no range checks on the fields. */
int64_t utc_from_fields(int64_t y, int mo, int d, int h, int mi, int s);
/* Broken-down fields of `t`. */
void utc_to_fields(int64_t t, int64_t *y, int *mo, int *d, int *h, int *mi, int *s);

/*
 * Parse ISO 8601: "YYYY-MM-DD", "YYYY-MM-DDTHH:MM[:SS[.fff]]" with 'T' or ' ', and an
 * optional zone "Z", "+HH", "+HH:MM", "+HHMM" (or '-'). Without a zone the time is UTC.
 * Fractional seconds are truncated. Fields are range-checked (month 1-12, day within the
 * month, hour 0-23 or 24:00:00, minute 0-59, second 0-60). Returns false on anything
 * else, leaving *out untouched.
 */
bool utc_parse_iso8601(const char *s, int64_t *out);

/* Parse "YYYYMMDDHH" (GEFCom's form); false if not exactly that. */
bool utc_parse_compact_hour(const char *s, int64_t *out);

/* Either form above. */
bool utc_parse(const char *s, int64_t *out);

/*
 * Format `t` as "YYYY-MM-DDTHH:MM:SSZ" into buf (at least UTC_ISO_LEN bytes).
 * Returns buf; writes "invalid" for years outside 0..9999.
 */
char *utc_format(int64_t t, char *buf);

/* Current time, whole seconds. */
int64_t utc_now(void);

/* Floor of t to a multiple of `step` seconds (works for negative t). */
int64_t utc_floor(int64_t t, int64_t step);

#endif
