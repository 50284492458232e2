/*
 * test_store_reads.c - the store's read paths of a forecast (data/store_forecast.c,
 * data/store_obs.c) against plain references: store_weather_until against every row of
 * the farm filtered and ordered by a loop; store_obs_last against the observations
 * read whole; the statements kept prepared give the same answers call after call,
 * across writes, for one farm and the next.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/utc.h"
#include "data/store.h"
#include "testutil.h"

#define T0 1767225600		/* 2026-01-01T00:00:00Z */
#define H UTC_HOUR

/* A run of farm "f" (and "g", other values) with n hourly rows from first, in ingest
 * order `seq`. */
static void ingest(struct store *st, int seq, bool forecast, int64_t ref, int64_t first, int n)
{
	struct weather_row rows[2][64];
	struct farm_weather fw[2];
	struct nwp_run run = { .is_forecast = forecast, .ref_time = forecast ? ref : 0,
			       .first_valid = first,
			       .last_valid = first + (int64_t)(n - 1) * H, .ntimes = n };
	struct wc_error err = { 0 };
	char sha[65];

	cr_assert_leq(n, 64);
	for (int k = 0; k < 2; k++) {
		for (int h = 0; h < n; h++) {
			struct weather_row *x = &rows[k][h];

			x->valid_time = first + (int64_t)h * H;
			x->lead_h = forecast ? (double)(x->valid_time - ref) / H : NAN;
			for (int c = 0; c < WEATHER_NCOLS; c++)
				x->v[c] = (h + c) % 5 ? seq + h / 100.0 + c + k * 1000 : NAN;
		}
		fw[k] = (struct farm_weather){ k ? "g" : "f", rows[k], (size_t)n };
	}
	snprintf(run.source, sizeof(run.source), "reads %d", seq);
	snprintf(sha, sizeof(sha), "%064d", seq);
	cr_assert_eq(store_ingest_run(st, sha, 1, "/dev/null", "r.nc", &run, fw, 2, &err), WC_OK,
		     "%s", err.msg);
}

static struct store *fill(char **dir)
{
	struct farm f[2] = {
		{ .id = "f", .name = "F", .lat = 55, .lon = 8, .capacity_mw = 10, .hub_height_m = 90 },
		{ .id = "g", .name = "G", .lat = 56, .lon = 9, .capacity_mw = 10, .hub_height_m = 90 },
	};
	struct wc_error err = { 0 };
	struct store *st;

	*dir = tu_tmpdir();
	cr_assert_eq(store_open(*dir, &st, &err), WC_OK, "%s", err.msg);
	cr_assert_eq(store_farm_import(st, f, 2, false, &err), WC_OK, "%s", err.msg);
	/* runs out of order of reference time, of several lengths, and two analyses */
	ingest(st, 1, true, T0 + 24 * H, T0 + 24 * H, 49);
	ingest(st, 2, true, T0, T0 + H, 48);
	ingest(st, 3, false, 0, T0 - 12 * H, 60);
	ingest(st, 4, true, T0 + 12 * H, T0 + 12 * H, 6);
	ingest(st, 5, true, T0 + 36 * H, T0 + 36 * H, 64);
	ingest(st, 6, false, 0, T0 + 40 * H, 10);
	ingest(st, 7, true, T0 + 12 * H, T0 + 13 * H, 30);	/* the same ref as run 4 */
	return st;
}

/* Order of store_weather_until: analyses first, then by reference time, run id, valid
 * time. */
struct ref_row {
	struct weather_row w;
	struct nwp_run r;
};

static int cmp_ref(const void *a, const void *b)
{
	const struct ref_row *x = a, *y = b;
	int64_t kx = x->r.is_forecast ? x->r.ref_time : INT64_MIN;
	int64_t ky = y->r.is_forecast ? y->r.ref_time : INT64_MIN;

	if (kx != ky)
		return kx < ky ? -1 : 1;
	if (x->r.id != y->r.id)
		return x->r.id < y->r.id ? -1 : 1;
	return (x->w.valid_time > y->w.valid_time) - (x->w.valid_time < y->w.valid_time);
}

static void check_window(struct store *st, const char *farm, int64_t ref_max, int64_t from,
			 int64_t to)
{
	struct weather_row *all, *rows;
	struct nwp_run *allr, *runs;
	struct ref_row *want;
	uint32_t *row_run;
	size_t nall, n, nruns, k = 0;
	struct wc_error err = { 0 };

	cr_assert_eq(store_weather_query(st, farm, INT64_MIN, &all, &allr, &nall, &err), WC_OK,
		     "%s", err.msg);
	want = calloc(nall ? nall : 1, sizeof(*want));
	for (size_t i = 0; i < nall; i++)
		if (all[i].valid_time >= from && all[i].valid_time <= to &&
		    (!allr[i].is_forecast || allr[i].ref_time <= ref_max))
			want[k++] = (struct ref_row){ all[i], allr[i] };
	qsort(want, k, sizeof(*want), cmp_ref);
	cr_assert_eq(store_weather_until(st, farm, ref_max, from, to, &rows, &row_run, &n, &runs,
					 &nruns, &err),
		     WC_OK, "%s", err.msg);
	cr_assert_eq(n, k, "%s [%lld, %lld] ref <= %lld: %zu rows, want %zu", farm,
		     (long long)from, (long long)to, (long long)ref_max, n, k);
	for (size_t i = 0; i < n; i++) {
		const struct nwp_run *r = &runs[row_run[i]];

		cr_assert_eq(memcmp(&rows[i], &want[i].w, sizeof(rows[i])), 0, "row %zu", i);
		cr_assert_eq(r->id, want[i].r.id, "row %zu's run", i);
		cr_assert_eq(r->is_forecast, want[i].r.is_forecast);
		cr_assert_eq(r->ref_time, want[i].r.is_forecast ? want[i].r.ref_time : 0);
		cr_assert_eq(r->first_valid, want[i].r.first_valid);
		cr_assert_eq(r->last_valid, want[i].r.last_valid);
		cr_assert_eq(r->ntimes, want[i].r.ntimes);
		cr_assert_str_eq(r->source, want[i].r.source);
		/* each run once, in row order */
		cr_assert(i == 0 || row_run[i] == row_run[i - 1] || row_run[i] == row_run[i - 1] + 1);
	}
	cr_assert_eq(nruns, n ? (size_t)row_run[n - 1] + 1 : 0, "runs with rows only");
	free(rows);
	free(row_run);
	free(runs);
	free(want);
	free(all);
	free(allr);
}

Test(store_reads, weather_until_equals_a_filtered_sorted_loop)
{
	char *dir;
	struct store *st = fill(&dir);
	const int64_t w[][3] = {
		{ INT64_MAX, INT64_MIN, INT64_MAX },
		{ T0 + 24 * H, T0, T0 + 30 * H },
		{ T0 + 12 * H, T0 + 14 * H, T0 + 16 * H },
		{ T0 - 1, INT64_MIN, INT64_MAX },	/* analyses alone */
		{ T0 + 36 * H, T0 + 90 * H, T0 + 99 * H },
		{ T0 + 36 * H, T0 + 200 * H, T0 + 300 * H },	/* nothing */
	};

	/* twice: the second time through the statements kept prepared */
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < sizeof(w) / sizeof(w[0]); i++) {
			check_window(st, "f", w[i][0], w[i][1], w[i][2]);
			check_window(st, "g", w[i][0], w[i][1], w[i][2]);
		}
	/* a run ingested since is read by the kept statements */
	ingest(st, 8, true, T0 + 48 * H, T0 + 48 * H, 20);
	check_window(st, "f", INT64_MAX, INT64_MIN, INT64_MAX);
	check_window(st, "nobody", INT64_MAX, INT64_MIN, INT64_MAX);
	store_close(st);
	tu_rmrf_free(dir);
}

Test(store_reads, obs_last_equals_the_rows_read_whole)
{
	char *dir;
	struct store *st = fill(&dir);
	struct obs_row o[] = { { T0 + 5 * H, 1, OBS_OK }, { T0 + 9 * H, 2, OBS_OUTAGE },
			       { T0 + 2 * H, 3, OBS_OK } };
	struct wc_error err = { 0 };
	int64_t last = 42;
	bool any = true;

	cr_assert_eq(store_obs_last(st, "f", &any, &last, &err), WC_OK, "%s", err.msg);
	cr_assert(!any);
	cr_assert_eq(last, 42, "untouched when there is none");
	cr_assert_eq(store_obs_upsert(st, "f", o, 3, &err), WC_OK, "%s", err.msg);
	cr_assert_eq(store_obs_upsert(st, "g", o + 2, 1, &err), WC_OK, "%s", err.msg);
	for (int pass = 0; pass < 3; pass++) {
		struct obs_row *rows;
		size_t n;

		cr_assert_eq(store_obs_query(st, "f", INT64_MIN, INT64_MAX, &rows, &n, &err), WC_OK);
		cr_assert_eq(store_obs_last(st, "f", &any, &last, &err), WC_OK, "%s", err.msg);
		cr_assert(any && n > 0);
		cr_assert_eq(last, rows[n - 1].time, "pass %d", pass);
		free(rows);
		cr_assert_eq(store_obs_last(st, "g", &any, &last, &err), WC_OK, "%s", err.msg);
		cr_assert(any && last == T0 + 2 * H, "another farm's, through the same statement");
		/* a later one, then the next pass reads it */
		o[0].time = T0 + (int64_t)(20 + pass) * H;
		cr_assert_eq(store_obs_upsert(st, "f", o, 1, &err), WC_OK, "%s", err.msg);
	}
	cr_assert_eq(store_obs_last(st, "f", &any, &last, &err), WC_OK, "%s", err.msg);
	cr_assert_eq(last, T0 + 22 * H);
	store_close(st);
	tu_rmrf_free(dir);
}
