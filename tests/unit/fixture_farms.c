/* fixture_farms.c - the farm/weather test fixture; see fixture_farms.h. */
#include "fixture_farms.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/dynbuf.h"
#include "data/ingest.h"
#include "testutil.h"

void ffx_init(struct ffx *fx)
{
	struct synth_config cfg;
	struct wc_error err = { 0 };

	memset(fx, 0, sizeof(*fx));
	fx->dir = tu_tmpdir();
	synth_config_init(&cfg);
	cfg.days = 1;
	cr_assert_eq(synth_new(&cfg, &fx->syn, &err), WC_OK, "%s", err.msg);
	for (int r = 0; r < FFX_RUNS; r++) {
		snprintf(fx->run[r], sizeof(fx->run[r]), "%s/run%d.nc", fx->dir, r);
		cr_assert_eq(synth_write_run(fx->syn, r, fx->run[r], &err), WC_OK, "%s", err.msg);
	}
}

void ffx_release(struct ffx *fx)
{
	synth_free(fx->syn);
	tu_rmrf_free(fx->dir);
}

void ffx_farm(const struct ffx *fx, int i, struct farm *f)
{
	const struct synth_farm *sf = synth_farm(fx->syn, i);

	memset(f, 0, sizeof(*f));
	snprintf(f->id, sizeof(f->id), "%s", sf->id);
	snprintf(f->name, sizeof(f->name), "%s", sf->name);
	f->lat = sf->lat;
	f->lon = sf->lon;
	f->capacity_mw = sf->capacity_mw;
	f->hub_height_m = sf->hub_height_m;
}

struct store *ffx_store(const struct ffx *fx, const char *name, char *path)
{
	struct wc_error err = { 0 };
	struct store *st;

	snprintf(path, 4200, "%s/%s", fx->dir, name);
	cr_assert_eq(store_open(path, &st, &err), WC_OK, "%s", err.msg);
	return st;
}

void ffx_ingest_all(const struct ffx *fx, struct store *st)
{
	for (int r = 0; r < FFX_RUNS; r++) {
		struct ingest_result res;

		cr_assert_eq(ingest_file(st, fx->run[r], NULL, &res), WC_OK, "%s", res.error.msg);
		cr_assert_eq(res.outcome, INGEST_INGESTED);
		ingest_result_release(&res);
	}
}

char *ffx_weather_text(struct store *st, const char *id, size_t *nrows)
{
	struct wc_error err = { 0 };
	struct weather_row *rows;
	struct nwp_run *runs;
	struct dynbuf b;
	size_t n;

	cr_assert_eq(store_weather_query(st, id, INT64_MIN, &rows, &runs, &n, &err), WC_OK,
		     "%s", err.msg);
	dynbuf_init(&b, (size_t)64 << 20);
	for (size_t i = 0; i < n; i++) {
		cr_assert_eq(dynbuf_printf(&b, "%lld %lld %.17g", (long long)runs[i].ref_time,
					   (long long)rows[i].valid_time, rows[i].lead_h),
			     WC_OK);
		for (int c = 0; c < WEATHER_NCOLS; c++)
			cr_assert_eq(dynbuf_printf(&b, " %.17g", rows[i].v[c]), WC_OK);
		cr_assert_eq(dynbuf_adds(&b, "\n"), WC_OK);
	}
	free(rows);
	free(runs);
	*nrows = n;
	return dynbuf_detach(&b, NULL);
}
