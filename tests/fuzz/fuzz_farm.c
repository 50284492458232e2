/*
 * fuzz_farm.c - libFuzzer harness over the farm JSON (farm_from_json, the body of POST
 * and PUT /v1/farms) and the power-curve text (farm_curve_parse, CSV or JSON, as
 * `farm add --power-curve` reads it).
 *
 * Checked on every accepted farm: it validates, and it survives a round trip
 * farm_to_json -> farm_from_json unchanged (every field, every curve point, bit for
 * bit); an accepted curve validates and round-trips through farm_curve_to_json too.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "data/farm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool same_double(double a, double b)
{
	return (isnan(a) && isnan(b)) || a == b;
}

static bool same_curve(const struct farm_curve *a, const struct farm_curve *b)
{
	if (a->n != b->n)
		return false;
	for (int i = 0; i < a->n; i++)
		if (a->ws[i] != b->ws[i] || a->power[i] != b->power[i])
			return false;
	return true;
}

static void fail(const char *what, const char *msg)
{
	fprintf(stderr, "%s: %s\n", what, msg);
	abort();
}

static void farm_round_trip(const struct farm *f)
{
	struct wc_error err = { 0 };
	struct farm g;
	json_t *v;

	if (farm_validate(f, &err))
		fail("accepted farm does not validate", err.msg);
	if (!(v = farm_to_json(f)))
		abort();
	if (farm_from_json(v, NULL, &g, &err))
		fail("farm_to_json output refused", err.msg);
	json_decref(v);
	if (strcmp(f->id, g.id) || strcmp(f->name, g.name) || f->lat != g.lat ||
	    f->lon != g.lon || f->capacity_mw != g.capacity_mw ||
	    !same_double(f->hub_height_m, g.hub_height_m) ||
	    !same_curve(&f->power_curve, &g.power_curve))
		fail("round trip", f->id);
}

static void curve_round_trip(const struct farm_curve *c)
{
	struct wc_error err = { 0 };
	struct farm_curve d;
	json_t *v;

	if (farm_curve_validate(c, &err))
		fail("accepted curve does not validate", err.msg);
	if (!(v = farm_curve_to_json(c)))
		abort();
	if (farm_curve_from_json(v, &d, &err))
		fail("farm_curve_to_json output refused", err.msg);
	json_decref(v);
	if (!same_curve(c, &d))
		fail("curve round trip", "points differ");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wc_error err = { 0 };
	struct farm_curve c;
	struct farm f;
	json_t *v;

	log_set_level(LOG_OFF);
	v = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
	if (v) {
		if (farm_from_json(v, NULL, &f, &err) == WC_OK)
			farm_round_trip(&f);
		if (farm_from_json(v, "from-path", &f, &err) == WC_OK)
			farm_round_trip(&f);
		if (farm_curve_from_json(v, &c, &err) == WC_OK && c.n > 0)
			curve_round_trip(&c);
		json_decref(v);
	}
	if (size <= FARM_CURVE_TEXT_MAX && farm_curve_parse((const char *)data, size, &c, &err) == WC_OK)
		curve_round_trip(&c);
	return 0;
}
