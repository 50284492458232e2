/*
 * farm.h - a wind farm as windcast knows it, its validation, and its JSON form.
 *
 * Invariants of a valid farm (farm_validate): id is a slug of 1..64 characters from
 * [a-z0-9-_], not starting with '-'; name 1..128 bytes; lat in [-90, 90]; lon in
 * [-180, 360); capacity_mw > 0 and finite; hub_height_m > 0 and finite, or NaN when
 * unknown; power_curve either empty (n = 0) or 2..FARM_CURVE_MAX points with speeds
 * finite, >= 0 and strictly increasing and powers finite in [0, 1] (farm_curve_validate).
 * JSON uses the same field names as the struct.
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
#include <stdint.h>

#include "common/status.h"

#define FARM_ID_MAX 64
#define FARM_NAME_MAX 128
#define FARM_CURVE_MAX 64	/* points of a power curve */

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
 * Check a curve's invariants (an empty one, n = 0, is valid: no curve). The message
 * names the point, counted from 1 ("point 3: ws 5 must be above ..."); callers prefix
 * where the curve came from.
 */
enum wc_status farm_curve_validate(const struct farm_curve *c, struct wc_error *err);

/*
 * Fill *c from JSON: null (no curve, n = 0) or an array of {"ws": m/s, "power":
 * fraction} objects; other keys in a point are refused. Validates the result. The
 * message starts "field 'power_curve'".
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

#endif
