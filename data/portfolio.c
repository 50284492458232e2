/* portfolio.c - portfolio records: validation, farm lists, JSON and CSV; see portfolio.h. */
#include "data/portfolio.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/utc.h"
#include "common/utf8.h"

void portfolio_init(struct portfolio *p)
{
	memset(p, 0, sizeof(*p));
	market_init(&p->market);
}

/* UTF-8 without C0, DEL or C1 control characters: names are shown in tables and CSV. */
static bool name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > FARM_NAME_MAX || !utf8_valid(s, n))
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == 0x7f ||
		    (c == 0xc2 && i + 1 < n && (unsigned char)s[i + 1] >= 0x80 &&
		     (unsigned char)s[i + 1] <= 0x9f))
			return false;
	}
	return true;
}

enum wc_status portfolio_validate(const struct portfolio *p, struct wc_error *err)
{
	if (!farm_id_valid(p->id))
		return wc_error_set(err, WC_EINVAL,
				    "invalid portfolio id '%.80s': use 1-64 characters a-z, 0-9, "
				    "'-', '_', not starting with '-'",
				    p->id);
	if (!name_ok(p->name))
		return wc_error_set(err, WC_EINVAL,
				    "invalid portfolio '%s': name must be 1-%d bytes of UTF-8 "
				    "without control characters",
				    p->id, FARM_NAME_MAX);
	if (p->nfarms < 1 || p->nfarms > PORTFOLIO_MAX_FARMS)
		return wc_error_set(err, WC_EINVAL,
				    "invalid portfolio '%s': it has %d farms: give 1 to %d", p->id,
				    p->nfarms, PORTFOLIO_MAX_FARMS);
	for (int i = 0; i < p->nfarms; i++) {
		if (!farm_id_valid(p->farms[i]))
			return wc_error_set(err, WC_EINVAL,
					    "invalid portfolio '%s': farm %d '%.80s' is not a farm id",
					    p->id, i + 1, p->farms[i]);
		for (int j = 0; j < i; j++)
			if (!strcmp(p->farms[i], p->farms[j]))
				return wc_error_set(err, WC_EINVAL,
						    "invalid portfolio '%s': farm '%s' is listed "
						    "twice",
						    p->id, p->farms[i]);
	}
	if (market_validate(&p->market, err))
		return wc_error_prefix(err, "invalid portfolio '%s'", p->id);
	return WC_OK;
}

enum wc_status portfolio_set_farms(struct portfolio *p, const char *list,
				   struct wc_error *err)
{
	const char *s = list;
	int n = 0;

	if (!*list)
		return wc_error_set(err, WC_EINVAL, "no farms: give farm ids separated by commas");
	for (;;) {
		size_t len = strcspn(s, ",");

		if (len == 0 || len > FARM_ID_MAX)
			return wc_error_set(err, WC_EINVAL,
					    len ? "farm %d is not a farm id"
						: "farm %d is empty: give farm ids separated by commas",
					    n + 1);
		if (n == PORTFOLIO_MAX_FARMS)
			return wc_error_set(err, WC_EINVAL, "more than %d farms", PORTFOLIO_MAX_FARMS);
		memcpy(p->farms[n], s, len);
		p->farms[n][len] = '\0';
		if (!farm_id_valid(p->farms[n]))
			return wc_error_set(err, WC_EINVAL, "'%s' is not a farm id", p->farms[n]);
		for (int j = 0; j < n; j++)
			if (!strcmp(p->farms[j], p->farms[n]))
				return wc_error_set(err, WC_EINVAL, "farm '%s' is listed twice",
						    p->farms[n]);
		n++;
		if (!s[len])
			break;
		s += len + 1;
	}
	p->nfarms = n;
	return WC_OK;
}

enum wc_status portfolio_from_json(const json_t *obj, const char *id_override,
				   struct portfolio *p, struct wc_error *err)
{
	const char *key;
	json_t *v, *id, *farms, *name;

	portfolio_init(p);
	if (!json_is_object(obj))
		return wc_error_set(err, WC_EINVAL, "a portfolio must be a JSON object with id, "
						    "farms and optional name and market");
	json_object_foreach((json_t *)obj, key, v) {
		if (strcmp(key, "id") && strcmp(key, "name") && strcmp(key, "farms") &&
		    strcmp(key, "market"))
			return wc_error_set(err, WC_EINVAL,
					    "unknown field '%.64s' (a portfolio has id, name, farms, "
					    "market)",
					    key);
	}
	id = json_object_get(obj, "id");
	if (id && !json_is_string(id))
		return wc_error_set(err, WC_EINVAL, "field 'id' must be a string");
	if (id_override) {
		if (id && strcmp(json_string_value(id), id_override))
			return wc_error_set(err, WC_EINVAL,
					    "field 'id' '%.80s' differs from the path's '%s'",
					    json_string_value(id), id_override);
		snprintf(p->id, sizeof(p->id), "%s", id_override);
	} else if (!id) {
		return wc_error_set(err, WC_EINVAL, "field 'id' is required");
	} else if (strlen(json_string_value(id)) > FARM_ID_MAX) {
		return wc_error_set(err, WC_EINVAL, "invalid portfolio id: use 1-64 characters "
						    "a-z, 0-9, '-', '_'");
	} else {
		snprintf(p->id, sizeof(p->id), "%s", json_string_value(id));
	}
	farms = json_object_get(obj, "farms");
	if (!json_is_array(farms))
		return wc_error_set(err, WC_EINVAL,
				    "field 'farms' is required: an array of farm ids");
	if (json_array_size(farms) > PORTFOLIO_MAX_FARMS)
		return wc_error_set(err, WC_EINVAL, "field 'farms': more than %d farms",
				    PORTFOLIO_MAX_FARMS);
	for (size_t i = 0; i < json_array_size(farms); i++) {
		json_t *f = json_array_get(farms, i);

		if (!json_is_string(f) || strlen(json_string_value(f)) > FARM_ID_MAX)
			return wc_error_set(err, WC_EINVAL,
					    "field 'farms': item %zu is not a farm id", i + 1);
		snprintf(p->farms[i], sizeof(p->farms[i]), "%s", json_string_value(f));
	}
	p->nfarms = (int)json_array_size(farms);
	name = json_object_get(obj, "name");
	if (name && !json_is_null(name) &&
	    (!json_is_string(name) || strlen(json_string_value(name)) > FARM_NAME_MAX))
		return wc_error_set(err, WC_EINVAL, "field 'name' must be a string of 1-%d bytes",
				    FARM_NAME_MAX);
	snprintf(p->name, sizeof(p->name), "%s",
		 json_is_string(name) ? json_string_value(name) : p->id);
	v = json_object_get(obj, "market");
	if (v && !json_is_null(v) && market_from_json(v, &p->market, err))
		return err ? err->code : WC_EINVAL;
	return portfolio_validate(p, err);
}

json_t *portfolio_to_json(const struct portfolio *p)
{
	json_t *farms = json_array();
	char a[UTC_ISO_LEN], b[UTC_ISO_LEN];

	for (int i = 0; i < p->nfarms; i++)
		json_array_append_new(farms, json_string(p->farms[i]));
	return json_pack("{s:s,s:s,s:o,s:f,s:o,s:s,s:s}", "id", p->id, "name", p->name, "farms",
			 farms, "capacity_mw", p->capacity_mw, "market",
			 market_to_json(&p->market), "created_at", utc_format(p->created_at, a),
			 "updated_at", utc_format(p->updated_at, b));
}

enum wc_status portfolio_csv_write(struct dynbuf *b, const struct portfolio *p, size_t n)
{
	enum wc_status ret = dynbuf_adds(b, "id,name,capacity_mw,nfarms,farms\n");

	for (size_t i = 0; i < n && !ret; i++) {
		/* ids are slugs: only the name may need quoting */
		ret = dynbuf_printf(b, "%s,", p[i].id);
		if (!ret)
			ret = dynbuf_add_csv_field(b, p[i].name);
		if (!ret)
			ret = dynbuf_printf(b, ",%.6g,%d,", p[i].capacity_mw, p[i].nfarms);
		for (int k = 0; k < p[i].nfarms && !ret; k++)
			ret = dynbuf_printf(b, "%s%s", k ? ";" : "", p[i].farms[k]);
		if (!ret)
			ret = dynbuf_adds(b, "\n");
	}
	return ret;
}
