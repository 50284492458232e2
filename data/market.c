/* market.c - market settings: the field table, validation, merging, JSON; see market.h. */
#include "data/market.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


const struct market_field_info market_fields[MARKET_NFIELDS] = {
	[MARKET_PRICE] = { "price", "--price", "use a number 0..100000 (currency per MWh)",
			   "day-ahead price p, currency per MWh (0..100000)" },
	[MARKET_PSI_PLUS] = { "psi_plus", "--psi-plus",
			      "use a number 0..100000 (currency per MWh)",
			      "surplus penalty: a surplus is sold at p - psi_plus (0..100000)" },
	[MARKET_PSI_MINUS] = { "psi_minus", "--psi-minus",
			       "use a number 0..100000 (currency per MWh)",
			       "deficit penalty: a deficit is bought at p + psi_minus "
			       "(0..100000)" },
	[MARKET_GATE_CLOSURE] = { "gate_closure", "--gate-closure",
				  "use a local time HH:MM, 00:00..23:59",
				  "gate closure, local time HH:MM of the day before delivery "
				  "(default 12:00)" },
	[MARKET_TIME_ZONE] = { "time_zone", "--time-zone",
			       "use an IANA time zone name such as UTC or Europe/Berlin",
			       "the market's time zone, an IANA name (default UTC); its days "
			       "are the trading days" },
	[MARKET_MIN_MW] = { "min_mw", "--min-mw", "use a number of MW, 0..100000",
			    "least MW committed in a period (default none)" },
	[MARKET_MAX_MW] = { "max_mw", "--max-mw", "use a number of MW, 0..100000",
			    "most MW committed in a period (default none; never above the "
			    "capacity)" },
};

void market_init(struct market_settings *m)
{
	memset(m, 0, sizeof(*m));
	m->price = m->psi_plus = m->psi_minus = NAN;
	m->min_mw = m->max_mw = NAN;
	m->gate_min = -1;
}

bool market_empty(const struct market_settings *m)
{
	return isnan(m->price) && isnan(m->psi_plus) && isnan(m->psi_minus) &&
	       m->gate_min < 0 && !m->time_zone[0] && isnan(m->min_mw) && isnan(m->max_mw);
}

/* The double field of m for a numeric field, else NULL. */
static double *number_field(struct market_settings *m, enum market_field f)
{
	switch (f) {
	case MARKET_PRICE:
		return &m->price;
	case MARKET_PSI_PLUS:
		return &m->psi_plus;
	case MARKET_PSI_MINUS:
		return &m->psi_minus;
	case MARKET_MIN_MW:
		return &m->min_mw;
	case MARKET_MAX_MW:
		return &m->max_mw;
	default:
		return NULL;
	}
}

static bool number_ok(enum market_field f, double v)
{
	double max = f == MARKET_MIN_MW || f == MARKET_MAX_MW ? MARKET_MW_MAX : MARKET_PRICE_MAX;

	return isfinite(v) && v >= 0 && v <= max;
}

/* "HH:MM" -> minutes; -1 when not that. */
static int parse_gate(const char *s)
{
	if (strlen(s) != 5 || s[2] != ':' || s[0] < '0' || s[0] > '2' || s[1] < '0' ||
	    s[1] > '9' || s[3] < '0' || s[3] > '5' || s[4] < '0' || s[4] > '9')
		return -1;
	int h = (s[0] - '0') * 10 + (s[1] - '0'), mi = (s[3] - '0') * 10 + (s[4] - '0');

	return h > 23 ? -1 : h * 60 + mi;
}

const char *market_gate_text(int gate_min, char *buf)
{
	if (gate_min < 0 || gate_min >= 24 * 60)
		buf[0] = '\0';
	else
		snprintf(buf, 6, "%02d:%02d", gate_min / 60, gate_min % 60);
	return buf;
}

/* Does zone `name` exist? WC_EINVAL (with the hint) when not. */
static enum wc_status zone_exists(const char *name, struct wc_error *err)
{
	struct tz *z = NULL;
	struct wc_error why = { 0 };
	enum wc_status ret = tz_load(name, &z, &why);

	tz_free(z);
	if (ret == WC_EINVAL || ret == WC_ENOTFOUND)
		return wc_error_set(err, WC_EINVAL, "%s", why.msg);
	if (ret && err)
		*err = why;
	return ret;
}

static int field_of(const char *key)
{
	for (int f = 0; f < MARKET_NFIELDS; f++)
		if (!strcmp(market_fields[f].key, key))
			return f;
	return -1;
}

enum wc_status market_set(struct market_settings *m, const char *key, const char *value,
			  struct wc_error *err)
{
	int f = field_of(key);
	double *num, v;
	char *end;

	if (f < 0)
		return wc_error_set(err, WC_EINVAL, "unknown");
	if ((num = number_field(m, (enum market_field)f))) {
		errno = 0;
		v = *value ? strtod(value, &end) : NAN;
		if (!*value || *end || errno || !number_ok((enum market_field)f, v))
			return wc_error_set(err, WC_EINVAL, "%s", market_fields[f].hint);
		*num = v;
	} else if (f == MARKET_GATE_CLOSURE) {
		if (parse_gate(value) < 0)
			return wc_error_set(err, WC_EINVAL, "%s", market_fields[f].hint);
		m->gate_min = parse_gate(value);
	} else {
		enum wc_status ret = zone_exists(value, err);

		if (ret)
			return ret;
		snprintf(m->time_zone, sizeof(m->time_zone), "%s", value);
	}
	return WC_OK;
}

enum wc_status market_validate(const struct market_settings *m, struct wc_error *err)
{
	struct market_settings c = *m;

	for (int f = 0; f < MARKET_NFIELDS; f++) {
		double *num = number_field(&c, (enum market_field)f);

		if (num && !isnan(*num) && !number_ok((enum market_field)f, *num))
			return wc_error_set(err, WC_EINVAL, "invalid market setting %s %g: %s",
					    market_fields[f].key, *num, market_fields[f].hint);
	}
	if (m->gate_min < -1 || m->gate_min >= 24 * 60)
		return wc_error_set(err, WC_EINVAL, "invalid market setting gate_closure: %s",
				    market_fields[MARKET_GATE_CLOSURE].hint);
	if (!isnan(m->min_mw) && !isnan(m->max_mw) && m->min_mw > m->max_mw)
		return wc_error_set(err, WC_EINVAL,
				    "invalid market settings: min_mw %g is above max_mw %g", m->min_mw,
				    m->max_mw);
	if (m->time_zone[0] && zone_exists(m->time_zone, err))
		return wc_error_prefix(err, "invalid market setting time_zone");
	return WC_OK;
}

void market_merge(struct market_settings *out, const struct market_settings *base,
		  const struct market_settings *over)
{
	struct market_settings r = *base;

	for (int f = 0; f < MARKET_NFIELDS; f++) {
		double *dst = number_field(&r, (enum market_field)f);
		const double *src = number_field((struct market_settings *)over, (enum market_field)f);

		if (dst && !isnan(*src))
			*dst = *src;
	}
	if (over->gate_min >= 0)
		r.gate_min = over->gate_min;
	if (over->time_zone[0])
		snprintf(r.time_zone, sizeof(r.time_zone), "%s", over->time_zone);
	*out = r;
}

void market_defaults(struct market_settings *m)
{
	if (m->gate_min < 0)
		m->gate_min = MARKET_GATE_DEFAULT;
	if (!m->time_zone[0])
		snprintf(m->time_zone, sizeof(m->time_zone), "%s", MARKET_TZ_DEFAULT);
}

/* "field 'market': invalid price -1: use ..." with the value as JSON (cut at 32 bytes). */
static enum wc_status bad_value(const char *key, const json_t *v, const char *hint,
				struct wc_error *err)
{
	char *text = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
	enum wc_status ret = wc_error_set(err, WC_EINVAL, "field 'market': invalid %s %.32s: %s",
					  key, text ? text : "?", hint);

	free(text);
	return ret;
}

enum wc_status market_from_json(const json_t *obj, struct market_settings *m,
				struct wc_error *err)
{
	const char *key;
	json_t *v;

	market_init(m);
	if (!json_is_object(obj))
		return wc_error_set(err, WC_EINVAL,
				    "field 'market' must be an object with the keys price, psi_plus, "
				    "psi_minus, gate_closure, time_zone, min_mw, max_mw");
	json_object_foreach((json_t *)obj, key, v) {
		int f = field_of(key);
		double *num;

		if (f < 0)
			return wc_error_set(err, WC_EINVAL,
					    "field 'market': unknown key '%.64s' (use price, psi_plus, "
					    "psi_minus, gate_closure, time_zone, min_mw, max_mw)",
					    key);
		if (json_is_null(v))
			continue;
		num = number_field(m, (enum market_field)f);
		if (num ? !json_is_number(v) || !number_ok((enum market_field)f, json_number_value(v))
			: !json_is_string(v))
			return bad_value(key, v, market_fields[f].hint, err);
		if (num) {
			*num = json_number_value(v);
		} else if (f == MARKET_GATE_CLOSURE) {
			if ((m->gate_min = parse_gate(json_string_value(v))) < 0)
				return wc_error_set(err, WC_EINVAL, "field 'market': invalid %s '%.16s': %s",
						    key, json_string_value(v), market_fields[f].hint);
		} else {
			struct wc_error why = { 0 };
			enum wc_status ret = zone_exists(json_string_value(v), &why);

			if (ret == WC_EINVAL)
				return wc_error_set(err, WC_EINVAL, "field 'market': %s", why.msg);
			if (ret) {
				if (err)
					*err = why;
				return ret;
			}
			snprintf(m->time_zone, sizeof(m->time_zone), "%s", json_string_value(v));
		}
	}
	if (market_validate(m, err))
		return wc_error_prefix(err, "field 'market'");
	return WC_OK;
}

static json_t *number_or_null(double v)
{
	return isnan(v) ? json_null() : json_real(v);
}

json_t *market_to_json(const struct market_settings *m)
{
	char gate[8];

	market_gate_text(m->gate_min, gate);
	return json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "price", number_or_null(m->price),
			 "psi_plus", number_or_null(m->psi_plus), "psi_minus",
			 number_or_null(m->psi_minus), "gate_closure",
			 gate[0] ? json_string(gate) : json_null(), "time_zone",
			 m->time_zone[0] ? json_string(m->time_zone) : json_null(), "min_mw",
			 number_or_null(m->min_mw), "max_mw", number_or_null(m->max_mw));
}
