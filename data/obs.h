/*
 * obs.h - metered farm output from the outside world: CSV or JSON, validated.
 *
 * CSV: a header naming the columns `time` and `power_mw` (any order) and optionally
 * `flag` (ok | outage | curtailed, empty = ok), each once (other columns are ignored);
 * one row per hour. JSON: an array of objects {"time": ..., "power_mw": ..., "flag":
 * ...} with no other field (a typo such as "flags" is an error, not a silent "ok").
 * Times are ISO 8601 (with or without an offset) or YYYYMMDDHH, hour-ending (DESIGN.md
 * 4), on whole hours.
 *
 * Validation names the row (CSV line number, JSON element number from 1): unparseable
 * or non-hour times, times outside [OBS_TIME_MIN, OBS_TIME_MAX], duplicate times,
 * non-numeric or non-finite power, power outside [-0.05, 1.10] x capacity, unknown
 * flags. The first problem fails the whole parse.
 */
#ifndef WC_OBS_H
#define WC_OBS_H

#include <jansson.h>
#include <stddef.h>

#include "common/status.h"
#include "data/store.h"

#define OBS_MIN_FRACTION (-0.05)
#define OBS_MAX_FRACTION 1.10
#define OBS_MAX_ROWS 10000000	/* about 1,100 years of hours */
#define OBS_TIME_MIN ((int64_t)-2208988800)	/* 1900-01-01T00:00:00Z */
#define OBS_TIME_MAX ((int64_t)7258118400)	/* 2200-01-01T00:00:00Z */

/* Parse CSV text; *rows malloc'd (caller frees), sorted by time. */
enum wc_status obs_parse_csv(const char *text, size_t len, double capacity_mw,
			     struct obs_row **rows, size_t *n, struct wc_error *err);
/* Parse a JSON array; *rows malloc'd (caller frees), sorted by time. */
enum wc_status obs_parse_json(const char *text, size_t len, double capacity_mw,
			      struct obs_row **rows, size_t *n, struct wc_error *err);
/* JSON when the first non-blank byte is '[' , CSV otherwise. */
enum wc_status obs_parse(const char *text, size_t len, double capacity_mw,
			 struct obs_row **rows, size_t *n, struct wc_error *err);

/* "ok", "outage", "curtailed" */
const char *obs_flag_name(enum obs_flag f);

/*
 * What an upload of rows[0..n) (sorted) stored, as JSON (a new reference): {"farm",
 * "stored", "first", "last"} (first and last null when n == 0). The reply of POST
 * .../observations and `windcast obs import --format json`.
 */
json_t *obs_stored_json(const char *farm_id, const struct obs_row *rows, size_t n);

#endif
