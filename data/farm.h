/*
 * farm.h - a wind farm as windcast knows it, its validation, and its JSON form.
 *
 * Invariants of a valid farm (farm_validate): id is a slug of 1..64 characters from
 * [a-z0-9-_], not starting with '-'; name 1..128 bytes of UTF-8 without control
 * characters; every number finite and within its range in farm_ranges (lat, lon,
 * capacity_mw, hub_height_m, which may also be NaN when unknown); power_curve either empty
 * (n = 0) or 2..FARM_CURVE_MAX points with speeds strictly increasing and every speed and
 * power within its range (farm_curve_validate). JSON uses the same field names as the
 * struct. The CLI and the API take the ranges from here, so both refuse the same values.
 *
 * The power curve is the farm's own (a manufacturer's or a measured one): wind speed at
 * hub height in m/s against power as a FRACTION OF CAPACITY (0..1), not MW, so that it
 * survives a change of capacity_mw. It lives in a fixed array because struct farm is
 * copied by value (store rows, series, request handlers): no heap pointers in it.
 */
#ifndef WC_FARM_H
#define WC_FARM_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/dynbuf.h"
#include "common/status.h"

#define FARM_ID_MAX 64
#define FARM_NAME_MAX 128
#define FARM_CURVE_MAX 64	/* points of a power curve */
#define FARM_CURVE_TEXT_MAX (64u << 10)	/* bytes of a power curve's CSV or JSON text */
#define FARM_CURVE_LINE_MAX 256		/* bytes of one CSV line of a power curve */

/* The numeric fields with a range (farm_ranges). */
enum farm_field {
	FARM_LAT, FARM_LON, FARM_CAPACITY_MW, FARM_HUB_HEIGHT_M, FARM_CURVE_WS,
	FARM_CURVE_POWER, FARM_NFIELDS
};

/*
 * The range of a numeric field: min <= x <= max, with a bound excluded when its `_open`
 * flag is set. The one table behind farm_validate, the CLI's option checks and the
 * ranges documented in docs/cli.md and docs/api.md.
 */
struct farm_range {
	const char *field;	/* the JSON field name */
	double min, max;
	bool min_open, max_open;
	const char *unit;	/* "MW", "m", ...: for messages */
};

extern const struct farm_range farm_ranges[FARM_NFIELDS];

/* True when v is finite and within field's range. */
bool farm_range_holds(enum farm_field field, double v);
/* The range as text, "0 < x <= 100000", into buf; returns buf. */
const char *farm_range_text(enum farm_field field, char *buf, size_t len);

/* A farm's power curve; n = 0 when the farm has none. */
struct farm_curve {
	int n;
	double ws[FARM_CURVE_MAX];	/* m/s at hub height, strictly increasing */
	double power[FARM_CURVE_MAX];	/* fraction of capacity, [0, 1] */
};

struct farm {
	char id[FARM_ID_MAX + 1];
	char name[FARM_NAME_MAX + 1];
	double lat, lon;	/* degrees north, degrees east */
	double capacity_mw;
	double hub_height_m;	/* NaN when unknown */
	struct farm_curve power_curve;	/* .n = 0 when none */
	int64_t created_at, updated_at;	/* set by the store; 0 before */
};

/* True if s is a valid farm id (see the invariants above). */
bool farm_id_valid(const char *s);

/* Check every invariant; the message names the field and the rule broken. */
enum wc_status farm_validate(const struct farm *f, struct wc_error *err);

/*
 * True when a and b stand at the same site (lat, lon and hub height equal; NaN hub
 * heights equal each other): the weather extracted for one is the other's.
 */
bool farm_same_site(const struct farm *a, const struct farm *b);

/*
 * Check a curve's invariants (an empty one, n = 0, is valid: no curve). The message
 * names the point, counted from 1 ("point 3: ws 5 must be above ..."); callers prefix
 * where the curve came from.
 */
enum wc_status farm_curve_validate(const struct farm_curve *c, struct wc_error *err);

/*
 * Parse a power curve's text (len bytes, at most FARM_CURVE_TEXT_MAX): a JSON array as
 * farm_curve_from_json takes when the first non-blank byte is '[', else CSV with the
 * header "ws,power" and one point per line (blank lines skipped, CRLF accepted, lines
 * of at most FARM_CURVE_LINE_MAX bytes). Validates the result, which must have 2 points
 * or more. The message names the line (CSV) or the point, counted from 1, without
 * saying where the text came from: callers prefix that.
 */
enum wc_status farm_curve_parse(const char *text, size_t len, struct farm_curve *c,
				struct wc_error *err);

/*
 * Fill *c from JSON: null (no curve, n = 0), an array of {"ws": m/s, "power":
 * fraction} objects (other keys in a point are refused), or a string holding the CSV
 * text farm_curve_parse takes. Validates the result. The message starts
 * "field 'power_curve'".
 */
enum wc_status farm_curve_from_json(const json_t *v, struct farm_curve *c,
				    struct wc_error *err);

/* A new JSON value for c: null when c->n == 0, else the array of points. */
json_t *farm_curve_to_json(const struct farm_curve *c);

/*
 * Fill *f from a JSON object. Required: id (unless `id_override` is not NULL, which
 * then wins and a differing "id" in the body is an error), name, lat, lon, capacity_mw;
 * optional hub_height_m (number or null) and power_curve (farm_curve_from_json; absent or
 * null: none). Unknown fields are refused, so that a typo ("capacity" for
 * "capacity_mw") is not silently ignored. Validates the result.
 */
enum wc_status farm_from_json(const json_t *obj, const char *id_override, struct farm *f,
			      struct wc_error *err);

/*
 * A new JSON object for f (caller owns the reference): every field, power_curve null
 * when the farm has none. NULL on allocation failure.
 */
json_t *farm_to_json(const struct farm *f);

/*
 * Append farms[0..n) to b as CSV: the header "id,name,lat,lon,capacity_mw,hub_height_m"
 * and one row per farm (hub_height_m empty when unknown; the power curve is not part of
 * it). WC_ETOOLARGE when b's cap is reached, WC_ENOMEM.
 */
enum wc_status farm_csv_write(struct dynbuf *b, const struct farm *farms, size_t n);

#endif
