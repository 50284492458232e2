/*
 * fuzz_obs.c - libFuzzer harness over the observation parsers (data/obs.h): CSV, JSON
 * and the sniffing obs_parse, for a farm of 100 MW. Checked on every accepted input:
 * rows sorted by strictly increasing whole-hour times inside [OBS_TIME_MIN,
 * OBS_TIME_MAX], finite power inside the capacity's range, a known flag; and the
 * stored-reply JSON builds.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/log.h"
#include "data/obs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CAPACITY 100.0

static void check(const struct obs_row *rows, size_t n)
{
	json_t *v;

	for (size_t i = 0; i < n; i++) {
		const struct obs_row *o = &rows[i];

		if (o->time % 3600 || o->time < OBS_TIME_MIN || o->time > OBS_TIME_MAX ||
		    (i > 0 && o->time <= rows[i - 1].time) || !isfinite(o->power_mw) ||
		    o->power_mw < OBS_MIN_FRACTION * CAPACITY - 1e-9 ||
		    o->power_mw > OBS_MAX_FRACTION * CAPACITY + 1e-9 ||
		    (o->flag != OBS_OK && o->flag != OBS_OUTAGE && o->flag != OBS_CURTAILED)) {
			fprintf(stderr, "row %zu accepted but invalid: %lld %g %d\n", i,
				(long long)o->time, o->power_mw, (int)o->flag);
			abort();
		}
	}
	if (!(v = obs_stored_json("f", rows, n)))
		abort();
	json_decref(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum wc_status (*const parsers[])(const char *, size_t, double, struct obs_row **,
					  size_t *, struct wc_error *) = {
		obs_parse_csv, obs_parse_json, obs_parse
	};

	log_set_level(LOG_OFF);
	for (size_t k = 0; k < sizeof(parsers) / sizeof(parsers[0]); k++) {
		struct wc_error err = { 0 };
		struct obs_row *rows = NULL;
		size_t n = 0;

		if (parsers[k]((const char *)data, size, CAPACITY, &rows, &n, &err) == WC_OK)
			check(rows, n);
		free(rows);
	}
	return 0;
}
