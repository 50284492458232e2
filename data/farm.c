/* farm.c - farm validation and JSON mapping; see farm.h. */
#include "data/farm.h"

#include <math.h>
#include <string.h>

#include "common/utc.h"

bool farm_id_valid(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n > FARM_ID_MAX || s[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
		      c == '_'))
			return false;
	}
	return true;
}

enum wc_status farm_validate(const struct farm *f, struct wc_error *err)
{
	if (!farm_id_valid(f->id))
		return wc_error_set(err, WC_EINVAL,
				    "invalid farm id '%s': use 1-64 characters a-z, 0-9, '-', '_'",
				    f->id);
	if (f->name[0] == '\0')
		return wc_error_set(err, WC_EINVAL, "invalid farm '%s': name is empty", f->id);
	if (!isfinite(f->lat) || f->lat < -90 || f->lat > 90)
		return wc_error_set(err, WC_EINVAL,
				    "invalid farm '%s': lat %g is outside [-90, 90]", f->id,
				    f->lat);
	if (!isfinite(f->lon) || f->lon < -180 || f->lon >= 360)
		return wc_error_set(err, WC_EINVAL,
				    "invalid farm '%s': lon %g is outside [-180, 360)", f->id,
				    f->lon);
	if (!isfinite(f->capacity_mw) || f->capacity_mw <= 0)
		return wc_error_set(err, WC_EINVAL,
				    "invalid farm '%s': capacity_mw must be > 0, got %g", f->id,
				    f->capacity_mw);
	if (!isnan(f->hub_height_m) && (!isfinite(f->hub_height_m) || f->hub_height_m <= 0))
		return wc_error_set(err, WC_EINVAL,
				    "invalid farm '%s': hub_height_m must be > 0, got %g", f->id,
				    f->hub_height_m);
	if (farm_curve_validate(&f->power_curve, err)) {
		wc_error_prefix(err, "invalid farm '%s': power_curve", f->id);
		return WC_EINVAL;
	}
	return WC_OK;
}

enum wc_status farm_curve_validate(const struct farm_curve *c, struct wc_error *err)
{
	if (c->n == 0)
		return WC_OK;
	if (c->n < 2 || c->n > FARM_CURVE_MAX)
		return wc_error_set(err, WC_EINVAL,
				    "%d point%s: give 2 to %d, or none", c->n,
				    c->n == 1 ? "" : "s", FARM_CURVE_MAX);
	for (int i = 0; i < c->n; i++) {
		if (!isfinite(c->ws[i]) || c->ws[i] < 0)
			return wc_error_set(err, WC_EINVAL,
					    "point %d: ws %g must be finite and >= 0",
					    i + 1, c->ws[i]);
		if (i > 0 && !(c->ws[i] > c->ws[i - 1]))
			return wc_error_set(err, WC_EINVAL,
					    "point %d: ws %g must be above the previous "
					    "point's %g (speeds increase strictly)",
					    i + 1, c->ws[i], c->ws[i - 1]);
		if (!isfinite(c->power[i]) || c->power[i] < 0 || c->power[i] > 1)
			return wc_error_set(err, WC_EINVAL,
					    "point %d: power %g is outside [0, 1] (a "
					    "fraction of capacity, not MW)",
					    i + 1, c->power[i]);
	}
	return WC_OK;
}

/* One point {"ws": .., "power": ..} of a JSON curve into c at index i. */
static enum wc_status curve_point_from_json(const json_t *p, int i, struct farm_curve *c,
					    struct wc_error *err)
{
	static const char *const keys[] = { "ws", "power" };
	double *dst[] = { &c->ws[i], &c->power[i] };
	const char *key;
	json_t *val;

	if (!json_is_object(p))
		return wc_error_set(err, WC_EINVAL,
				    "field 'power_curve': point %d must be an object "
				    "{\"ws\": m/s, \"power\": fraction}",
				    i + 1);
	json_object_foreach((json_t *)p, key, val) {
		if (strcmp(key, "ws") && strcmp(key, "power"))
			return wc_error_set(err, WC_EINVAL,
					    "field 'power_curve': point %d has unknown field '%s' "
					    "(use 'ws' and 'power')",
					    i + 1, key);
	}
	for (int k = 0; k < 2; k++) {
		const json_t *v = json_object_get(p, keys[k]);

		if (!v)
			return wc_error_set(err, WC_EINVAL,
					    "field 'power_curve': point %d is missing '%s'", i + 1,
					    keys[k]);
		if (!json_is_number(v))
			return wc_error_set(err, WC_EINVAL,
					    "field 'power_curve': point %d: '%s' must be a number",
					    i + 1, keys[k]);
		*dst[k] = json_number_value(v);
	}
	return WC_OK;
}

enum wc_status farm_curve_from_json(const json_t *v, struct farm_curve *c,
				    struct wc_error *err)
{
	size_t n;
	enum wc_status st;

	memset(c, 0, sizeof(*c));
	if (!v || json_is_null(v))
		return WC_OK;
	if (!json_is_array(v))
		return wc_error_set(err, WC_EINVAL,
				    "field 'power_curve' must be an array of {\"ws\", \"power\"} "
				    "points, or null");
	n = json_array_size(v);
	if (n < 2 || n > FARM_CURVE_MAX)
		return wc_error_set(err, WC_EINVAL,
				    "field 'power_curve' has %zu point%s: give 2 to %d, or null",
				    n, n == 1 ? "" : "s", FARM_CURVE_MAX);
	for (size_t i = 0; i < n; i++)
		if ((st = curve_point_from_json(json_array_get(v, i), (int)i, c, err)))
			return st;
	c->n = (int)n;
	if ((st = farm_curve_validate(c, err))) {
		wc_error_prefix(err, "field 'power_curve'");
		return st;
	}
	return WC_OK;
}

json_t *farm_curve_to_json(const struct farm_curve *c)
{
	json_t *arr;

	if (c->n == 0)
		return json_null();
	if (!(arr = json_array()))
		return NULL;
	for (int i = 0; i < c->n; i++)
		json_array_append_new(arr, json_pack("{s:f,s:f}", "ws", c->ws[i], "power",
						     c->power[i]));
	return arr;
}

static enum wc_status get_number(const json_t *obj, const char *key, bool required,
				 double *out, struct wc_error *err)
{
	const json_t *v = json_object_get(obj, key);

	if (!v || json_is_null(v)) {
		if (required)
			return wc_error_set(err, WC_EINVAL, "missing field '%s'", key);
		*out = NAN;
		return WC_OK;
	}
	if (!json_is_number(v))
		return wc_error_set(err, WC_EINVAL, "field '%s' must be a number", key);
	*out = json_number_value(v);
	return WC_OK;
}

static enum wc_status get_string(const json_t *obj, const char *key, char *out,
				 size_t cap, struct wc_error *err)
{
	const json_t *v = json_object_get(obj, key);
	const char *s;

	if (!v)
		return wc_error_set(err, WC_EINVAL, "missing field '%s'", key);
	if (!json_is_string(v))
		return wc_error_set(err, WC_EINVAL, "field '%s' must be a string", key);
	s = json_string_value(v);
	if (strlen(s) >= cap)
		return wc_error_set(err, WC_EINVAL, "field '%s' is longer than %zu bytes",
				    key, cap - 1);
	memcpy(out, s, strlen(s) + 1);
	return WC_OK;
}

enum wc_status farm_from_json(const json_t *obj, const char *id_override, struct farm *f,
			      struct wc_error *err)
{
	static const char *const known[] = { "id", "name", "lat", "lon", "capacity_mw",
					     "hub_height_m", "power_curve", "created_at",
					     "updated_at" };
	const char *key;
	json_t *val;
	enum wc_status st;

	memset(f, 0, sizeof(*f));
	if (!json_is_object(obj))
		return wc_error_set(err, WC_EINVAL, "a farm must be a JSON object");
	json_object_foreach((json_t *)obj, key, val) {
		bool ok = false;

		for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
			ok |= !strcmp(key, known[i]);
		if (!ok)
			return wc_error_set(err, WC_EINVAL, "unknown field '%s'", key);
	}
	if (id_override) {
		const json_t *v = json_object_get(obj, "id");

		if (v && (!json_is_string(v) || strcmp(json_string_value(v), id_override)))
			return wc_error_set(err, WC_EINVAL,
					    "field 'id' does not match the farm '%s' in the path",
					    id_override);
		if (strlen(id_override) > FARM_ID_MAX)
			return wc_error_set(err, WC_EINVAL, "invalid farm id: longer than %d",
					    FARM_ID_MAX);
		strcpy(f->id, id_override);
	} else if ((st = get_string(obj, "id", f->id, sizeof(f->id), err))) {
		return st;
	}
	if ((st = get_string(obj, "name", f->name, sizeof(f->name), err)) ||
	    (st = get_number(obj, "lat", true, &f->lat, err)) ||
	    (st = get_number(obj, "lon", true, &f->lon, err)) ||
	    (st = get_number(obj, "capacity_mw", true, &f->capacity_mw, err)) ||
	    (st = get_number(obj, "hub_height_m", false, &f->hub_height_m, err)) ||
	    (st = farm_curve_from_json(json_object_get(obj, "power_curve"), &f->power_curve,
				       err)))
		return st;
	return farm_validate(f, err);
}

json_t *farm_to_json(const struct farm *f)
{
	char created[UTC_ISO_LEN], updated[UTC_ISO_LEN];
	json_t *o = json_object();

	if (!o)
		return NULL;
	json_object_set_new(o, "id", json_string(f->id));
	json_object_set_new(o, "name", json_string(f->name));
	json_object_set_new(o, "lat", json_real(f->lat));
	json_object_set_new(o, "lon", json_real(f->lon));
	json_object_set_new(o, "capacity_mw", json_real(f->capacity_mw));
	json_object_set_new(o, "hub_height_m",
			    isnan(f->hub_height_m) ? json_null() : json_real(f->hub_height_m));
	json_object_set_new(o, "power_curve", farm_curve_to_json(&f->power_curve));
	if (f->created_at)
		json_object_set_new(o, "created_at",
				    json_string(utc_format(f->created_at, created)));
	if (f->updated_at)
		json_object_set_new(o, "updated_at",
				    json_string(utc_format(f->updated_at, updated)));
	return o;
}
