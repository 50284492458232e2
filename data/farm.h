/*
 * farm.h - a wind farm as windcast knows it, its validation, and its JSON form.
 *
 * Invariants of a valid farm (farm_validate): id is a slug of 1..64 characters from
 * [a-z0-9-_], not starting with '-'; name 1..128 bytes; lat in [-90, 90]; lon in
 * [-180, 360); capacity_mw > 0 and finite; hub_height_m > 0 and finite, or NaN when
 * unknown. JSON uses the same field names as the struct.
 */
#ifndef WC_FARM_H
#define WC_FARM_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/status.h"

#define FARM_ID_MAX 64
#define FARM_NAME_MAX 128

struct farm {
	char id[FARM_ID_MAX + 1];
	char name[FARM_NAME_MAX + 1];
	double lat, lon;	/* degrees north, degrees east */
	double capacity_mw;
	double hub_height_m;	/* NaN when unknown */
	int64_t created_at, updated_at;	/* set by the store; 0 before */
};

/* True if s is a valid farm id (see the invariants above). */
bool farm_id_valid(const char *s);

/* Check every invariant; the message names the field and the rule broken. */
enum wc_status farm_validate(const struct farm *f, struct wc_error *err);

/*
 * Fill *f from a JSON object. Required: id (unless `id_override` is not NULL, which
 * then wins and a differing "id" in the body is an error), name, lat, lon, capacity_mw;
 * optional hub_height_m (number or null). Unknown fields are refused, so that a typo
 * ("capacity" for "capacity_mw") is not silently ignored. Validates the result.
 */
enum wc_status farm_from_json(const json_t *obj, const char *id_override, struct farm *f,
			      struct wc_error *err);

/* A new JSON object for f (caller owns the reference). NULL on allocation failure. */
json_t *farm_to_json(const struct farm *f);

#endif
