/* farm.c - farm validation and JSON mapping; see farm.h. */
#include "data/farm.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/utc.h"

const struct farm_range farm_ranges[FARM_NFIELDS] = {
	[FARM_LAT] = { "lat", -90, 90, false, false, "degrees north" },
	[FARM_LON] = { "lon", -180, 360, false, true, "degrees east" },
	/* the largest farms are a few GW; 100 GW leaves room for a country's fleet */
	[FARM_CAPACITY_MW] = { "capacity_mw", 0, 100000, true, false, "MW" },
	[FARM_HUB_HEIGHT_M] = { "hub_height_m", 10, 300, false, false, "m above ground" },
	[FARM_CURVE_WS] = { "ws", 0, 100, false, false, "m/s at hub height" },
	[FARM_CURVE_POWER] = { "power", 0, 1, false, false,
			       "a fraction of capacity, not MW" },
};

bool farm_range_holds(enum farm_field field, double v)
{
	const struct farm_range *r = &farm_ranges[field];

	return isfinite(v) && (r->min_open ? v > r->min : v >= r->min) &&
	       (r->max_open ? v < r->max : v <= r->max);
}

const char *farm_range_text(enum farm_field field, char *buf, size_t len)
{
	const struct farm_range *r = &farm_ranges[field];

	snprintf(buf, len, "%g %s x %s %g", r->min, r->min_open ? "<" : "<=",
		 r->max_open ? "<" : "<=", r->max);
	return buf;
}

/* "FIELD V is outside RANGE (UNIT)" for a value that fails its range. */
static enum wc_status out_of_range(struct wc_error *err, enum farm_field field, double v)
{
	char range[64];

	return wc_error_set(err, WC_EINVAL, "%s %g is outside %s (%s)", farm_ranges[field].field,
			    v, farm_range_text(field, range, sizeof(range)),
			    farm_ranges[field].unit);
}

/*
 * True when s is UTF-8 (no overlong forms, surrogates or code points past U+10FFFF)
 * without control characters (C0, DEL, C1): a name is shown in tables and CSV.
 */
static bool printable_utf8(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		unsigned c = *p, cp, n;

		if (c < 0x80) {
			if (c < 0x20 || c == 0x7f)
				return false;
			p++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			n = 1, cp = c & 0x1f;
		else if (c >= 0xe0 && c <= 0xef)
			n = 2, cp = c & 0x0f;
		else if (c >= 0xf0 && c <= 0xf4)
			n = 3, cp = c & 0x07;
		else
			return false;
		for (unsigned i = 1; i <= n; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (p[i] & 0x3f);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff) || (cp >= 0x80 && cp <= 0x9f))
			return false;
		p += n + 1;
	}
	return true;
}

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
	const double *num[] = { [FARM_LAT] = &f->lat, [FARM_LON] = &f->lon,
				[FARM_CAPACITY_MW] = &f->capacity_mw,
				[FARM_HUB_HEIGHT_M] = &f->hub_height_m };

	if (f->name[0] == '\0')
		return wc_error_set(err, WC_EINVAL, "invalid farm '%s': name is empty", f->id);
	if (strnlen(f->name, FARM_NAME_MAX + 1) > FARM_NAME_MAX || !printable_utf8(f->name))
		return wc_error_set(err, WC_EINVAL,
				    "invalid farm '%s': name must be 1-%d bytes of UTF-8 without "
				    "control characters",
				    f->id, FARM_NAME_MAX);
	for (int k = FARM_LAT; k <= FARM_HUB_HEIGHT_M; k++) {
		if (k == FARM_HUB_HEIGHT_M && isnan(*num[k]))
			continue;	/* unknown */
		if (!farm_range_holds(k, *num[k])) {
			out_of_range(err, k, *num[k]);
			return wc_error_prefix(err, "invalid farm '%s'", f->id);
		}
	}
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
		if (!farm_range_holds(FARM_CURVE_WS, c->ws[i])) {
			out_of_range(err, FARM_CURVE_WS, c->ws[i]);
			return wc_error_prefix(err, "point %d", i + 1);
		}
		if (i > 0 && !(c->ws[i] > c->ws[i - 1]))
			return wc_error_set(err, WC_EINVAL,
					    "point %d: ws %g must be above the previous "
					    "point's %g (speeds increase strictly)",
					    i + 1, c->ws[i], c->ws[i - 1]);
		if (!farm_range_holds(FARM_CURVE_POWER, c->power[i])) {
			out_of_range(err, FARM_CURVE_POWER, c->power[i]);
			return wc_error_prefix(err, "point %d", i + 1);
		}
	}
	return WC_OK;
}

bool farm_same_site(const struct farm *a, const struct farm *b)
{
	return a->lat == b->lat && a->lon == b->lon &&
	       (a->hub_height_m == b->hub_height_m ||
		(isnan(a->hub_height_m) && isnan(b->hub_height_m)));
}

/* A whole string as a finite double; false when it is not one. */
static bool parse_number(const char *s, double *out)
{
	char *end;

	errno = 0;
	*out = strtod(s, &end);
	return *s && !*end && !errno && isfinite(*out);
}

/* One CSV line "ws,power" (line ending cut) into point i of c. */
static enum wc_status curve_csv_row(char *line, int lineno, int i, struct farm_curve *c,
				    struct wc_error *err)
{
	char *comma = strchr(line, ',');
	bool ok;

	if (comma) {
		*comma = '\0';
		ok = parse_number(line, &c->ws[i]) && parse_number(comma + 1, &c->power[i]);
		*comma = ',';
		if (ok)
			return WC_OK;
	}
	return wc_error_set(err, WC_EFORMAT, "line %d: expected two numbers 'ws,power', got '%s'",
			    lineno, line);
}

/* CSV: the header "ws,power", then one point per line (blank lines skipped). */
static enum wc_status curve_csv(const char *text, size_t len, struct farm_curve *c,
				struct wc_error *err)
{
	char line[FARM_CURVE_LINE_MAX + 1];
	const char *p = text, *end = text + len;
	int lineno = 0;
	enum wc_status ret;

	if (len == 0)
		return wc_error_set(err, WC_EFORMAT,
				    "empty: expected the header 'ws,power' and 2 to %d points",
				    FARM_CURVE_MAX);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = (size_t)((nl ? nl : end) - p);

		lineno++;
		if (n > 0 && p[n - 1] == '\r')
			n--;
		if (n > FARM_CURVE_LINE_MAX)
			return wc_error_set(err, WC_EFORMAT, "line %d is longer than %d bytes",
					    lineno, FARM_CURVE_LINE_MAX);
		memcpy(line, p, n);
		line[n] = '\0';
		p = nl ? nl + 1 : end;
		if (strlen(line) != n)
			return wc_error_set(err, WC_EFORMAT, "line %d holds a NUL byte", lineno);
		if (lineno == 1) {
			if (strcmp(line, "ws,power"))
				return wc_error_set(err, WC_EFORMAT,
						    "line 1: expected the header 'ws,power', got "
						    "'%s'",
						    line);
			continue;
		}
		if (line[strspn(line, " \t")] == '\0')
			continue;
		if (c->n == FARM_CURVE_MAX)
			return wc_error_set(err, WC_EFORMAT, "more than %d points (line %d)",
					    FARM_CURVE_MAX, lineno);
		if ((ret = curve_csv_row(line, lineno, c->n, c, err)))
			return ret;
		c->n++;
	}
	return WC_OK;
}

/* The CSV form, parsed and validated. */
static enum wc_status curve_from_csv(const char *text, size_t len, struct farm_curve *c,
				     struct wc_error *err)
{
	enum wc_status ret;

	memset(c, 0, sizeof(*c));
	if (len > FARM_CURVE_TEXT_MAX)
		return wc_error_set(err, WC_ETOOLARGE, "larger than %u KiB",
				    FARM_CURVE_TEXT_MAX >> 10);
	if ((ret = curve_csv(text, len, c, err)))
		return ret;
	if (c->n < 2)
		return wc_error_set(err, WC_EINVAL, "%d point%s: give 2 to %d", c->n,
				    c->n == 1 ? "" : "s", FARM_CURVE_MAX);
	return farm_curve_validate(c, err);
}

enum wc_status farm_curve_parse(const char *text, size_t len, struct farm_curve *c,
				struct wc_error *err)
{
	size_t skip = 0;
	json_error_t jerr;
	json_t *v;
	enum wc_status ret;

	while (skip < len && (text[skip] == ' ' || text[skip] == '\t' || text[skip] == '\r' ||
			      text[skip] == '\n'))
		skip++;
	if (skip == len || text[skip] != '[' || len > FARM_CURVE_TEXT_MAX)
		return curve_from_csv(text, len, c, err);
	memset(c, 0, sizeof(*c));
	if (!(v = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr)))
		return wc_error_set(err, WC_EFORMAT, "cannot parse JSON: line %d column %d: %s",
				    jerr.line, jerr.column, jerr.text);
	ret = farm_curve_from_json(v, c, err);
	json_decref(v);
	return ret;
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
	if (json_is_string(v)) {
		/* the CSV form, through the same parser as a file */
		if (!curve_from_csv(json_string_value(v), json_string_length(v), c, err))
			return WC_OK;
		wc_error_prefix(err, "field 'power_curve'");
		if (err)
			err->code = WC_EINVAL;	/* a bad field, as for the array form */
		return WC_EINVAL;
	}
	if (!json_is_array(v))
		return wc_error_set(err, WC_EINVAL,
				    "field 'power_curve' must be an array of {\"ws\", \"power\"} "
				    "points, CSV text 'ws,power\\n...', or null");
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

enum wc_status farm_csv_write(struct dynbuf *b, const struct farm *farms, size_t n)
{
	enum wc_status st = dynbuf_adds(b, "id,name,lat,lon,capacity_mw,hub_height_m\n");

	for (size_t i = 0; i < n && !st; i++) {
		const struct farm *f = &farms[i];

		st = dynbuf_printf(b, "%s,", f->id);
		if (!st)
			st = dynbuf_add_csv_field(b, f->name);
		if (!st)
			st = dynbuf_printf(b, ",%.6f,%.6f,%.3f,", f->lat, f->lon, f->capacity_mw);
		if (!st && !isnan(f->hub_height_m))
			st = dynbuf_printf(b, "%.1f", f->hub_height_m);
		if (!st)
			st = dynbuf_adds(b, "\n");
	}
	return st;
}
