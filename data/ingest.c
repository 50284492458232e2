/*
 * ingest.c - NetCDF file -> site weather in the store; see ingest.h.
 *
 * Order matters for "nothing stored from a rejected file": decode and interpolate
 * first (nothing written), then place the raw file, then one store transaction; if the
 * transaction fails the raw file placed by this call is removed again.
 */
#include "data/ingest.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/sha256.h"
#include "common/utc.h"
#include "data/netcdf.h"
#include "data/sites.h"

/* netcdf-c (and HDF5 below it) is not thread-safe. */
static pthread_mutex_t netcdf_lock = PTHREAD_MUTEX_INITIALIZER;

/* site column feeding each weather column */
static const enum site_column weather_from_site[WEATHER_NCOLS] = {
	[WX_U10] = SITE_U10,	     [WX_V10] = SITE_V10,
	[WX_U100] = SITE_U100,	     [WX_V100] = SITE_V100,
	[WX_WS10] = SITE_WS10,	     [WX_WS100] = SITE_WS100,
	[WX_WD10] = SITE_WD10,	     [WX_WD100] = SITE_WD100,
	[WX_WS_HUB] = SITE_WS_HUB,    [WX_T2M] = SITE_T2M,
	[WX_SP] = SITE_SP,	     [WX_RHO] = SITE_RHO,
	[WX_WS100_NBR_MEAN] = SITE_NBR_MEAN, [WX_WS100_NBR_STD] = SITE_NBR_STD,
};

void ingest_options_init(struct ingest_options *o)
{
	memset(o, 0, sizeof(*o));
	o->point_max_km = 30;
}

void ingest_result_release(struct ingest_result *res)
{
	free(res->farm_ids);
	free(res->skipped);
	res->farm_ids = NULL;
	res->skipped = NULL;
	res->nfarms = res->nskipped = 0;
}

static enum wc_status make_dirs(const char *dir, struct wc_error *err)
{
	char tmp[4096];

	if (snprintf(tmp, sizeof(tmp), "%s", dir) >= (int)sizeof(tmp))
		return wc_error_set(err, WC_EIO, "path too long '%s'", dir);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
			return wc_error_set(err, WC_EIO, "cannot create '%s': %s", tmp,
					    strerror(errno));
		*p = '/';
	}
	if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
		return wc_error_set(err, WC_EIO, "cannot create '%s': %s", tmp, strerror(errno));
	return WC_OK;
}

/* Copy src to dst (fsync'd), via dst.tmp and a rename, so dst is whole or absent. */
static enum wc_status copy_file(const char *src, const char *dst, struct wc_error *err)
{
	static __thread char buf[1 << 16];
	char tmp[4200];
	enum wc_status ret = WC_OK;
	int in, out;
	ssize_t n;

	snprintf(tmp, sizeof(tmp), "%s.tmp", dst);
	in = open(src, O_RDONLY);
	if (in < 0)
		return wc_error_set(err, WC_EIO, "cannot open '%s': %s", src, strerror(errno));
	out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (out < 0) {
		close(in);
		return wc_error_set(err, WC_EIO, "cannot create '%s': %s", tmp, strerror(errno));
	}
	/* in-kernel copy first (no round trip through user space); plain reads if refused */
	while ((n = copy_file_range(in, NULL, out, NULL, (size_t)1 << 30, 0)) > 0)
		;
	if (n < 0 && errno != EXDEV && errno != EINVAL && errno != ENOSYS &&
	    errno != EOPNOTSUPP) {
		ret = wc_error_set(err, WC_EIO, "cannot copy '%s': %s", src, strerror(errno));
		goto cleanup;
	}
	if (n == 0)
		goto cleanup;	/* copied in the kernel */
	while ((n = read(in, buf, sizeof(buf))) > 0) {
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(out, buf + off, (size_t)(n - off));

			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0) {
				ret = wc_error_set(err, WC_EIO, "cannot write '%s': %s", tmp,
						   strerror(errno));
				goto cleanup;
			}
			off += w;
		}
	}
	if (n < 0)
		ret = wc_error_set(err, WC_EIO, "cannot read '%s': %s", src, strerror(errno));
cleanup:
	if (!ret && fsync(out) != 0)
		ret = wc_error_set(err, WC_EIO, "cannot sync '%s': %s", tmp, strerror(errno));
	if (close(out) != 0 && !ret)
		ret = wc_error_set(err, WC_EIO, "cannot write '%s': %s", tmp, strerror(errno));
	close(in);
	if (!ret && rename(tmp, dst) != 0)
		ret = wc_error_set(err, WC_EIO, "cannot rename '%s': %s", tmp, strerror(errno));
	if (ret)
		unlink(tmp);
	return ret;
}

/*
 * Put the raw file at its content address. *placed tells whether this call created it
 * (so that a failed transaction can take it back).
 */
static enum wc_status place_raw(struct store *st, const char *path, const char *sha,
				bool move, char *dst, size_t dstlen, bool *placed,
				struct wc_error *err)
{
	char dir[4096];
	struct stat sb;
	enum wc_status ret;

	*placed = false;
	snprintf(dir, sizeof(dir), "%s/grids/%.2s", store_dir(st), sha);
	snprintf(dst, dstlen, "%s/%s.nc", dir, sha);
	if (stat(dst, &sb) == 0)
		return WC_OK;	/* same bytes kept by an earlier, interrupted ingest */
	if ((ret = make_dirs(dir, err)))
		return ret;
	if (move && rename(path, dst) == 0) {
		*placed = true;
		return WC_OK;
	}
	ret = copy_file(path, dst, err);
	*placed = ret == WC_OK;
	return ret;
}

/* Decode `path`, interpolate to every farm; fills run, rows and skips. */
static enum wc_status decode(struct store *st, const char *path, const char *name,
			     const struct ingest_options *o, struct nwp_run *run,
			     struct sites_result *sr, struct farm **farms, size_t *nfarms,
			     struct wc_error *err)
{
	struct nwp_file *f = NULL;
	struct site *sites = NULL;
	struct sites_options so = { .max_station_km = o->point_max_km };
	enum wc_status ret;

	if ((ret = store_farm_list(st, farms, nfarms, err)))
		return ret;
	sites = calloc(*nfarms ? *nfarms : 1, sizeof(*sites));
	if (!sites)
		return wc_error_set(err, WC_ENOMEM, "out of memory");
	for (size_t i = 0; i < *nfarms; i++) {
		sites[i].id = (*farms)[i].id;
		sites[i].lat = (*farms)[i].lat;
		sites[i].lon = (*farms)[i].lon;
		sites[i].hub_height_m = (*farms)[i].hub_height_m;
	}
	pthread_mutex_lock(&netcdf_lock);
	ret = nwp_file_open(&f, path, err);
	if (!ret)
		ret = sites_extract(f, sites, *nfarms, &so, sr, err);
	if (!ret) {
		memset(run, 0, sizeof(*run));
		snprintf(run->source, sizeof(run->source), "%s", f->source[0] ? f->source : name);
		run->is_forecast = f->is_forecast;
		run->ref_time = f->is_forecast ? f->reference_time : 0;
		run->ntimes = (int)f->ntimes;
		run->first_valid = f->ntimes ? f->valid_times[0] : 0;
		run->last_valid = f->ntimes ? f->valid_times[f->ntimes - 1] : 0;
		nwp_file_describe(f, run->description, sizeof(run->description));
		if (f->ntimes == 0)
			ret = wc_error_set(err, WC_EFORMAT, "the file has no time steps");
	}
	nwp_file_free(f);
	pthread_mutex_unlock(&netcdf_lock);
	free(sites);
	return ret;
}

/* Convert the interpolated series into store rows, one block per farm. */
static enum wc_status to_rows(const struct sites_result *sr, const struct farm *farms,
			      struct farm_weather **fw_out, struct weather_row **rows_out,
			      struct wc_error *err)
{
	size_t nt = sr->ntimes, nrows = sr->nseries * nt;
	struct farm_weather *fw = calloc(sr->nseries ? sr->nseries : 1, sizeof(*fw));
	struct weather_row *rows = calloc(nrows ? nrows : 1, sizeof(*rows));

	if (!fw || !rows) {
		free(fw);
		free(rows);
		return wc_error_set(err, WC_ENOMEM, "out of memory for %zu rows",
				    sr->nseries * nt);
	}
	for (size_t s = 0; s < sr->nseries; s++) {
		const struct site_series *ss = &sr->series[s];

		fw[s].farm_id = farms[ss->site].id;
		fw[s].rows = rows + s * nt;
		fw[s].nrows = nt;
		for (size_t t = 0; t < nt; t++) {
			struct weather_row *r = &rows[s * nt + t];

			r->valid_time = sr->valid_times[t];
			r->lead_h = sr->lead_hours[t];
			for (int c = 0; c < WEATHER_NCOLS; c++)
				r->v[c] = site_series_get(ss, nt, weather_from_site[c], t);
		}
	}
	*fw_out = fw;
	*rows_out = rows;
	return WC_OK;
}

enum wc_status ingest_file(struct store *st, const char *path, const struct ingest_options *o,
			   struct ingest_result *res)
{
	struct ingest_options defaults;
	struct sites_result sr = { 0 };
	struct farm *farms = NULL;
	struct farm_weather *fw = NULL;
	struct weather_row *rows = NULL;
	struct wc_error err = { 0 };
	char stored[4200];
	bool placed = false;
	size_t nfarms = 0;
	struct stat sb;
	enum wc_status ret;
	const char *name;

	if (!o) {
		ingest_options_init(&defaults);
		o = &defaults;
	}
	name = o->original_name ? o->original_name : path;
	memset(res, 0, sizeof(*res));
	snprintf(res->file, sizeof(res->file), "%s", name);
	if (stat(path, &sb) != 0) {
		ret = wc_error_set(&res->error, WC_EIO, "%s", strerror(errno));
		goto rejected;
	}
	if (!S_ISREG(sb.st_mode)) {
		ret = wc_error_set(&res->error, WC_EINVAL, "not a regular file");
		goto rejected;
	}
	if (o->sha256)
		snprintf(res->sha256, sizeof(res->sha256), "%s", o->sha256);
	else if ((ret = sha256_file(path, res->sha256, &res->error)))
		goto rejected;
	if (store_run_by_sha(st, res->sha256, &res->run, NULL) == WC_OK) {
		res->outcome = INGEST_KNOWN;
		ret = WC_OK;
		goto cleanup;
	}
	if ((ret = decode(st, path, name, o, &res->run, &sr, &farms, &nfarms, &res->error)))
		goto rejected;
	if ((ret = to_rows(&sr, farms, &fw, &rows, &res->error)) ||
	    (ret = place_raw(st, path, res->sha256, o->move, stored, sizeof(stored), &placed,
			     &res->error)))
		goto rejected;
	ret = store_ingest_run(st, res->sha256, (int64_t)sb.st_size, stored, name, &res->run,
			       fw, sr.nseries, &err);
	if (ret == WC_EEXIST) {
		/* the same bytes won a race with us: report them as known */
		placed = false;
		store_run_by_sha(st, res->sha256, &res->run, NULL);
		res->outcome = INGEST_KNOWN;
		ret = WC_OK;
		goto cleanup;
	}
	if (ret) {
		res->error = err;
		goto rejected;
	}
	placed = false;
	res->outcome = INGEST_INGESTED;
	res->nfarms = sr.nseries;
	res->farm_ids = calloc(sr.nseries ? sr.nseries : 1, sizeof(*res->farm_ids));
	res->skipped = calloc(sr.nskipped ? sr.nskipped : 1, sizeof(*res->skipped));
	if (!res->farm_ids || !res->skipped) {
		res->nfarms = 0;
		goto cleanup;
	}
	for (size_t i = 0; i < sr.nseries; i++)
		snprintf(res->farm_ids[i], sizeof(res->farm_ids[i]), "%s",
			 farms[sr.series[i].site].id);
	res->nskipped = sr.nskipped;
	for (size_t i = 0; i < sr.nskipped; i++) {
		snprintf(res->skipped[i].farm_id, sizeof(res->skipped[i].farm_id), "%s",
			 farms[sr.skipped[i].site].id);
		snprintf(res->skipped[i].reason, sizeof(res->skipped[i].reason), "%s",
			 sr.skipped[i].reason);
	}
	goto cleanup;
rejected:
	res->outcome = INGEST_REJECTED;
	if (res->error.code == WC_OK)
		wc_error_set(&res->error, ret, "%s", wc_strerror(ret));
	wc_error_prefix(&res->error, "cannot ingest '%s'", name);
	if (placed)
		unlink(stored);
	placed = false;
cleanup:
	if (o->move)
		unlink(path);	/* the caller handed the file over in every outcome */
	sites_result_release(&sr);
	free(farms);
	free(fw);
	free(rows);
	return res->outcome == INGEST_REJECTED ? (ret ? ret : WC_EINVAL) : WC_OK;
}

void ingest_result_line(const struct ingest_result *res, char *buf, size_t len)
{
	char ref[UTC_ISO_LEN], first[UTC_ISO_LEN], last[UTC_ISO_LEN];
	const struct nwp_run *r = &res->run;
	int n;

	switch (res->outcome) {
	case INGEST_REJECTED:
		snprintf(buf, len, "%s: rejected: %s", res->file, wc_error_msg(&res->error));
		return;
	case INGEST_KNOWN:
		snprintf(buf, len, "%s: already known (run %lld, sha256 %.12s)", res->file,
			 (long long)r->id, res->sha256);
		return;
	case INGEST_INGESTED:
		break;
	}
	utc_format(r->first_valid, first);
	utc_format(r->last_valid, last);
	n = snprintf(buf, len, "%s: ingested: run %s, source '%s', %d times %s..%s, %zu farm%s",
		     res->file, r->is_forecast ? utc_format(r->ref_time, ref) : "analysis",
		     r->source, r->ntimes, first, last, res->nfarms, res->nfarms == 1 ? "" : "s");
	for (size_t i = 0; i < res->nfarms && n > 0 && (size_t)n < len; i++)
		n += snprintf(buf + n, len - (size_t)n, "%s%s", i ? "," : " (", res->farm_ids[i]);
	if (res->nfarms && n > 0 && (size_t)n < len)
		n += snprintf(buf + n, len - (size_t)n, ")");
	if (res->nskipped && n > 0 && (size_t)n < len)
		snprintf(buf + n, len - (size_t)n, "; %zu skipped: %s (%s)%s", res->nskipped,
			 res->skipped[0].farm_id, res->skipped[0].reason,
			 res->nskipped > 1 ? ", ..." : "");
}

json_t *nwp_run_json(const struct nwp_run *r)
{
	char ref[UTC_ISO_LEN], first[UTC_ISO_LEN], last[UTC_ISO_LEN], at[UTC_ISO_LEN];

	return json_pack("{s:I,s:s,s:s,s:b,s:o,s:s,s:s,s:i,s:i,s:s,s:s}", "id",
			 (json_int_t)r->id, "sha256", r->sha256, "source", r->source,
			 "is_forecast", r->is_forecast, "ref_time",
			 r->is_forecast ? json_string(utc_format(r->ref_time, ref)) : json_null(),
			 "first_valid", utc_format(r->first_valid, first), "last_valid",
			 utc_format(r->last_valid, last), "times", r->ntimes, "farms", r->nfarms,
			 "description", r->description, "ingested_at",
			 utc_format(r->ingested_at, at));
}

json_t *ingest_result_json(const struct ingest_result *res)
{
	static const char *const names[] = { "ingested", "known", "rejected" };
	json_t *o = json_pack("{s:s,s:s,s:s}", "file", res->file, "status",
			      names[res->outcome], "sha256", res->sha256);
	json_t *farms, *skipped;

	if (!o)
		return NULL;
	if (res->outcome == INGEST_REJECTED) {
		json_object_set_new(o, "error", json_string(wc_error_msg(&res->error)));
		return o;
	}
	json_object_set_new(o, "run", nwp_run_json(&res->run));
	farms = json_array();
	for (size_t i = 0; i < res->nfarms; i++)
		json_array_append_new(farms, json_string(res->farm_ids[i]));
	json_object_set_new(o, "farms", farms);
	skipped = json_array();
	for (size_t i = 0; i < res->nskipped; i++)
		json_array_append_new(skipped, json_pack("{s:s,s:s}", "id",
							 res->skipped[i].farm_id, "reason",
							 res->skipped[i].reason));
	json_object_set_new(o, "skipped", skipped);
	return o;
}
