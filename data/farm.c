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
	return WC_OK;
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
					     "hub_height_m", "created_at", "updated_at" };
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
	    (st = get_number(obj, "hub_height_m", false, &f->hub_height_m, err)))
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
	if (f->created_at)
		json_object_set_new(o, "created_at",
				    json_string(utc_format(f->created_at, created)));
	if (f->updated_at)
		json_object_set_new(o, "updated_at",
				    json_string(utc_format(f->updated_at, updated)));
	return o;
}
