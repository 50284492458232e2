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
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
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

/*
 * The raw bytes' side of an ingest, run on a second thread while the main thread
 * decodes: one pass over the file that hashes it and, unless the file is to be moved,
 * copies it to a temporary name in DATA/tmp (renamed to its content address later).
 */
struct raw_pass {
	const char *src;
	char tmp[4200];		/* the copy, "" when not copying */
	bool created;		/* tmp exists (remove it unless it is kept) */
	char sha256[SHA256_HEX_LEN];
	struct wc_error err;
	enum wc_status ret;
};

static enum wc_status write_all(int fd, const char *p, size_t n, const char *path,
				struct wc_error *err)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return wc_error_set(err, WC_EIO, "cannot write '%s': %s", path,
					    strerror(errno));
		p += w;
		n -= (size_t)w;
	}
	return WC_OK;
}

static void *raw_pass_run(void *cls)
{
	static __thread char buf[1 << 20];
	struct raw_pass *rp = cls;
	struct sha256 h;
	int in = open(rp->src, O_RDONLY), out = -1;
	ssize_t n;

	rp->ret = WC_OK;
	if (in < 0) {
		rp->ret = wc_error_set(&rp->err, WC_EIO, "%s", strerror(errno));
		return NULL;
	}
	if (rp->tmp[0] && (out = mkstemp(rp->tmp)) < 0) {
		rp->ret = wc_error_set(&rp->err, WC_EIO, "cannot create '%s': %s", rp->tmp,
				       strerror(errno));
		close(in);
		return NULL;
	}
	rp->created = out >= 0;
	sha256_init(&h);
	while ((n = read(in, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rp->ret = wc_error_set(&rp->err, WC_EIO, "cannot read: %s", strerror(errno));
			break;
		}
		sha256_update(&h, buf, (size_t)n);
		if (out >= 0 && (rp->ret = write_all(out, buf, (size_t)n, rp->tmp, &rp->err)))
			break;
	}
	if (sha256_final_hex(&h, rp->sha256) != WC_OK && !rp->ret)
		rp->ret = wc_error_set(&rp->err, WC_ENOMEM, "cannot hash: out of memory");
	/*
	 * No fsync: the store runs with synchronous=NORMAL, so a commit is no more durable
	 * than this file's pages; both reach the disk with the next checkpoint.
	 */
	if (out >= 0 && close(out) != 0 && !rp->ret)
		rp->ret = wc_error_set(&rp->err, WC_EIO, "cannot write '%s': %s", rp->tmp,
				       strerror(errno));
	close(in);
	return NULL;
}

/*
 * The decoded rows wait in an unlinked spool file between extraction and the store
 * transaction, so that a long file (a year of hourly reanalysis for many farms) needs
 * neither all its rows in memory nor the store's write lock while it is decoded.
 */
struct spool_rec {
	uint32_t key;		/* ingest: index into the farm list; one farm's extraction:
				   index into the run list */
	struct weather_row row;
};

struct spool {
	FILE *f;
	const struct farm *farms;	/* ingest: what keys index */
	const int64_t *run_ids;		/* one farm's extraction: what keys index */
	struct spool_rec pending;	/* read ahead: first row of the next batch */
	bool have_pending;
	size_t nread;			/* rows handed out since the last rewind */
	struct weather_row *batch;	/* (SPOOL_BATCH) */
};

#define SPOOL_BATCH 4096

/* Rewind the spool for reading from its first record. */
static void spool_rewind(struct spool *sp)
{
	rewind(sp->f);
	sp->have_pending = false;
	sp->nread = 0;
}

/*
 * The next batch: up to SPOOL_BATCH consecutive rows with one key into sp->batch, *n of
 * them (0 at the end).
 */
static enum wc_status spool_batch(struct spool *sp, uint32_t *key, size_t *n,
				  struct wc_error *err)
{
	*n = 0;
	if (!sp->have_pending && fread(&sp->pending, sizeof(sp->pending), 1, sp->f) != 1)
		return ferror(sp->f) ? wc_error_set(err, WC_EIO, "cannot read the row spool")
				     : WC_OK;
	sp->have_pending = false;
	*key = sp->pending.key;
	sp->batch[(*n)++] = sp->pending.row;
	while (*n < SPOOL_BATCH && fread(&sp->pending, sizeof(sp->pending), 1, sp->f) == 1) {
		if (sp->pending.key != *key) {
			sp->have_pending = true;
			break;
		}
		sp->batch[(*n)++] = sp->pending.row;
	}
	sp->nread += *n;
	return WC_OK;
}

/* weather_batch_fn of an ingest: keys are farms. */
static enum wc_status spool_next(void *cls, struct farm_weather *out, bool *done,
				 struct wc_error *err)
{
	struct spool *sp = cls;
	uint32_t key = 0;
	enum wc_status ret = spool_batch(sp, &key, &out->nrows, err);

	if (!(*done = out->nrows == 0)) {
		out->farm_id = sp->farms[key].id;
		out->rows = sp->batch;
	}
	return ret;
}

/* run_weather_fn of one farm's extraction: keys are runs. */
static enum wc_status spool_next_run(void *cls, struct run_weather *out, bool *done,
				     struct wc_error *err)
{
	struct spool *sp = cls;
	uint32_t key = 0;
	enum wc_status ret = spool_batch(sp, &key, &out->nrows, err);

	if (!(*done = out->nrows == 0)) {
		out->run_id = sp->run_ids[key];
		out->rows = sp->batch;
	}
	return ret;
}

/* Values per sites_extract call: bounds the memory of one window of times. */
#define WINDOW_VALUES ((size_t)8 << 20)

/*
 * Decode `path` and interpolate it to every farm, window of times by window, spooling
 * the rows under `key` (< 0: each farm's index); fills run and the farms kept and
 * skipped (res).
 */
static enum wc_status decode(const char *path, const char *name, const struct farm *farms,
			     size_t nfarms, const struct ingest_options *o, long key,
			     struct nwp_run *run, char **attributes, FILE *spool,
			     struct ingest_result *res,
			     struct wc_error *err)
{
	struct nwp_file *f = NULL;
	struct site *sites = calloc(nfarms ? nfarms : 1, sizeof(*sites));
	bool *kept = calloc(nfarms ? nfarms : 1, sizeof(*kept));
	struct sites_options so = { .max_station_km = o->point_max_km };
	struct sites_result sr = { 0 };
	enum wc_status ret = WC_OK;
	size_t window;

	if (!sites || !kept) {
		ret = wc_error_set(err, WC_ENOMEM, "out of memory");
		goto cleanup;
	}
	for (size_t i = 0; i < nfarms; i++) {
		sites[i].id = farms[i].id;
		sites[i].lat = farms[i].lat;
		sites[i].lon = farms[i].lon;
		sites[i].hub_height_m = farms[i].hub_height_m;
	}
	pthread_mutex_lock(&netcdf_lock);
	if ((ret = nwp_file_open(&f, path, err)))
		goto unlock;
	memset(run, 0, sizeof(*run));
	snprintf(run->source, sizeof(run->source), "%s", f->source[0] ? f->source : name);
	if (attributes && f->attributes && !(*attributes = strdup(f->attributes))) {
		ret = wc_error_set(err, WC_ENOMEM, "out of memory");
		goto unlock;
	}
	run->is_forecast = f->is_forecast;
	run->ref_time = f->is_forecast ? f->reference_time : 0;
	run->ntimes = (int)f->ntimes;
	run->first_valid = f->ntimes ? f->valid_times[0] : 0;
	run->last_valid = f->ntimes ? f->valid_times[f->ntimes - 1] : 0;
	nwp_file_describe(f, run->description, sizeof(run->description));
	if (f->ntimes == 0) {
		ret = wc_error_set(err, WC_EFORMAT, "the file has no time steps");
		goto unlock;
	}
	window = WINDOW_VALUES / ((nfarms ? nfarms : 1) * (SITE_NCOLUMNS + 16));
	if (window < 1)
		window = 1;
	for (size_t t0 = 0; t0 < f->ntimes && !ret; t0 += window) {
		so.time_first = t0;
		so.time_count = t0 + window < f->ntimes ? window : f->ntimes - t0;
		if ((ret = sites_extract(f, sites, nfarms, &so, &sr, err)))
			break;
		for (size_t s = 0; s < sr.nseries && !ret; s++) {
			const struct site_series *ss = &sr.series[s];

			kept[ss->site] = true;
			for (size_t t = 0; t < sr.ntimes; t++) {
				struct spool_rec r = { .key = key < 0 ? (uint32_t)ss->site
								      : (uint32_t)key };

				r.row.valid_time = sr.valid_times[t];
				r.row.lead_h = sr.lead_hours[t];
				for (int c = 0; c < WEATHER_NCOLS; c++)
					r.row.v[c] = site_series_get(ss, sr.ntimes,
								     weather_from_site[c], t);
				if (fwrite(&r, sizeof(r), 1, spool) != 1) {
					ret = wc_error_set(err, WC_EIO,
							   "cannot write the row spool: %s",
							   strerror(errno));
					break;
				}
			}
		}
		if (!ret && t0 == 0 && sr.nskipped) {
			res->skipped = calloc(sr.nskipped, sizeof(*res->skipped));
			if (!res->skipped) {
				ret = wc_error_set(err, WC_ENOMEM, "out of memory");
				break;
			}
			res->nskipped = sr.nskipped;
			for (size_t i = 0; i < sr.nskipped; i++) {
				snprintf(res->skipped[i].farm_id, sizeof(res->skipped[i].farm_id),
					 "%s", farms[sr.skipped[i].site].id);
				snprintf(res->skipped[i].reason, sizeof(res->skipped[i].reason),
					 "%s", sr.skipped[i].reason);
			}
		}
		sites_result_release(&sr);
	}
	if (!ret && fflush(spool) != 0)
		ret = wc_error_set(err, WC_EIO, "cannot write the row spool: %s", strerror(errno));
	if (!ret) {
		res->farm_ids = calloc(nfarms ? nfarms : 1, sizeof(*res->farm_ids));
		if (!res->farm_ids)
			ret = wc_error_set(err, WC_ENOMEM, "out of memory");
		for (size_t i = 0; i < nfarms && !ret; i++)
			if (kept[i])
				snprintf(res->farm_ids[res->nfarms++], FARM_ID_MAX + 1, "%s",
					 farms[i].id);
	}
unlock:
	sites_result_release(&sr);
	nwp_file_free(f);
	pthread_mutex_unlock(&netcdf_lock);
cleanup:
	free(sites);
	free(kept);
	return ret;
}

/* Move or rename the raw bytes to DATA/grids/<sha[0:2]>/<sha>.nc. */
static enum wc_status place_raw(struct store *st, const char *from, const char *sha,
				char *dst, size_t dstlen, bool *placed, struct wc_error *err)
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
	if (rename(from, dst) != 0)
		return wc_error_set(err, WC_EIO, "cannot keep the raw file at '%s': %s", dst,
				    strerror(errno));
	*placed = true;
	return WC_OK;
}

/*
 * netCDF names a file by the base name of the path it opened, which for an upload is a
 * spool file the user never saw (DATA/tmp/job-7.nc): name `name`'s base instead, and
 * drop netCDF's leading "cannot open 'NAME': ", as "cannot ingest 'NAME': " goes in front.
 */
static void name_the_file(struct wc_error *e, const char *path, const char *name)
{
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	const char *shown = strrchr(name, '/') ? strrchr(name, '/') + 1 : name;
	char from[600], to[600], out[sizeof(e->msg)];
	size_t lf, lt, n = 0;

	snprintf(from, sizeof(from), "'%s'", base);
	snprintf(to, sizeof(to), "'%s'", shown);
	lf = strlen(from);
	lt = strlen(to);
	for (const char *p = e->msg; *p && n + 1 < sizeof(out);) {
		if (strcmp(base, shown) && !strncmp(p, from, lf) && n + lt < sizeof(out)) {
			memcpy(out + n, to, lt);
			n += lt;
			p += lf;
		} else {
			out[n++] = *p++;
		}
	}
	out[n] = '\0';
	snprintf(from, sizeof(from), "cannot open '%s': ", shown);
	lf = strlen(from);
	snprintf(e->msg, sizeof(e->msg), "%s", strncmp(out, from, lf) ? out : out + lf);
}

/*
 * A farm registered or moved while the file was decoded is not in `farms` as it stands
 * now (its rows were dropped from the run), and its own extraction may have finished
 * before this run was stored: extract it again, now that the run is there. Failures are
 * logged; the file itself was ingested.
 */
static void catch_up_new_farms(struct store *st, const struct farm *farms, size_t nfarms)
{
	struct farm *now = NULL;
	size_t n = 0;

	if (store_farm_list(st, &now, &n, NULL))
		return;
	for (size_t i = 0; i < n; i++) {
		struct farm_weather_result res;
		bool known = false;

		for (size_t k = 0; k < nfarms && !known; k++)
			known = !strcmp(farms[k].id, now[i].id) && farm_same_site(&farms[k], &now[i]);
		if (!known && ingest_farm_weather(st, now[i].id, &res))
			log_warn("%s", wc_error_msg(&res.error));
	}
	free(now);
}

enum wc_status ingest_file(struct store *st, const char *path, const struct ingest_options *o,
			   struct ingest_result *res)
{
	struct ingest_options defaults;
	struct raw_pass rp = { 0 };
	struct spool sp = { 0 };
	struct farm *farms = NULL;
	char *attributes = NULL;	/* the file's global attributes, JSON */
	struct wc_error err = { 0 };
	char stored[4200], tmpdir[4200];
	bool placed = false, hashing = false;
	pthread_t thread;
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
	if (o->sha256 && o->move) {
		snprintf(res->sha256, sizeof(res->sha256), "%s", o->sha256);
		if (store_run_by_sha(st, res->sha256, &res->run, NULL) == WC_OK) {
			res->outcome = INGEST_KNOWN;
			ret = WC_OK;
			goto cleanup;
		}
	} else {
		/* hash (and copy) on a second thread while this one decodes */
		rp.src = path;
		snprintf(tmpdir, sizeof(tmpdir), "%s/tmp", store_dir(st));
		if ((ret = make_dirs(tmpdir, &res->error)))
			goto rejected;
		if (!o->move)
			snprintf(rp.tmp, sizeof(rp.tmp), "%s/ingest-XXXXXX", tmpdir);
		if (pthread_create(&thread, NULL, raw_pass_run, &rp) != 0) {
			ret = wc_error_set(&res->error, WC_ENOMEM, "cannot start a thread");
			goto rejected;
		}
		hashing = true;
	}
	sp.batch = malloc(SPOOL_BATCH * sizeof(*sp.batch));
	sp.f = tmpfile();
	if (!sp.batch || !sp.f) {
		ret = wc_error_set(&res->error, WC_EIO, "cannot create the row spool: %s",
				   strerror(errno));
		goto rejected;
	}
	if ((ret = store_farm_list(st, &farms, &nfarms, &res->error)) ||
	    (ret = decode(path, name, farms, nfarms, o, -1, &res->run, &attributes, sp.f,
			  res, &res->error)))
		goto rejected;
	if (hashing) {
		pthread_join(thread, NULL);
		hashing = false;
		if ((ret = rp.ret)) {
			res->error = rp.err;
			goto rejected;
		}
		memcpy(res->sha256, rp.sha256, sizeof(res->sha256));
		if (store_run_by_sha(st, res->sha256, &res->run, NULL) == WC_OK) {
			res->outcome = INGEST_KNOWN;
			res->nfarms = res->nskipped = 0;
			ret = WC_OK;
			goto cleanup;
		}
	}
	if ((ret = place_raw(st, rp.created ? rp.tmp : path, res->sha256, stored,
			     sizeof(stored), &placed, &res->error)))
		goto rejected;
	if (placed && rp.created)
		rp.created = false;	/* renamed into place */
	spool_rewind(&sp);
	sp.farms = farms;
	res->run.attributes = attributes;
	ret = store_ingest_batches(st, res->sha256, (int64_t)sb.st_size, stored, name,
				   &res->run, spool_next, &sp, farms, nfarms, &err);
	res->run.attributes = NULL;	/* freed below */
	if (ret == WC_EEXIST) {
		/* the same bytes won a race with us: report them as known */
		placed = false;
		store_run_by_sha(st, res->sha256, &res->run, NULL);
		res->outcome = INGEST_KNOWN;
		res->nfarms = res->nskipped = 0;
		ret = WC_OK;
		goto cleanup;
	}
	if (ret) {
		res->error = err;
		goto rejected;
	}
	placed = false;
	res->outcome = INGEST_INGESTED;
	catch_up_new_farms(st, farms, nfarms);
	goto cleanup;
rejected:
	res->outcome = INGEST_REJECTED;
	res->nfarms = res->nskipped = 0;
	if (res->error.code == WC_OK)
		wc_error_set(&res->error, ret, "%s", wc_strerror(ret));
	name_the_file(&res->error, path, name);
	wc_error_prefix(&res->error, "cannot ingest '%s'", name);
	if (placed)
		unlink(stored);
	placed = false;
cleanup:
	if (hashing)
		pthread_join(thread, NULL);
	if (rp.created)
		unlink(rp.tmp);	/* a copy that was not kept */
	if (o->move)
		unlink(path);	/* the caller handed the file over in every outcome */
	if (sp.f)
		fclose(sp.f);
	free(sp.batch);
	free(farms);
	free(attributes);
	return res->outcome == INGEST_REJECTED ? (ret ? ret : WC_EINVAL) : WC_OK;
}

void ingest_result_line(const struct ingest_result *res, char *buf, size_t len)
{
	char ref[UTC_ISO_LEN], first[UTC_ISO_LEN], last[UTC_ISO_LEN];
	const struct nwp_run *r = &res->run;
	int n;

	char prefix[600];

	switch (res->outcome) {
	case INGEST_REJECTED:
		/* the line names the file first: not again in the reason */
		n = snprintf(prefix, sizeof(prefix), "cannot ingest '%s': ", res->file);
		snprintf(buf, len, "%s: rejected: %s", res->file,
			 strncmp(res->error.msg, prefix, (size_t)n) ? wc_error_msg(&res->error)
								    : res->error.msg + n);
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

/* ---- one farm's weather from the stored grids ---- */

/* Rounds of "runs arrived meanwhile" before an extraction gives up. */
#define EXTRACT_ROUNDS 8

static void note_skip(struct farm_weather_result *res, int64_t run_id, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void note_skip(struct farm_weather_result *res, int64_t run_id, const char *fmt, ...)
{
	va_list ap;

	if (res->nskipped < FARM_WEATHER_SKIPS_MAX) {
		struct run_skip *k = &res->skipped[res->nskipped];

		k->run_id = run_id;
		va_start(ap, fmt);
		vsnprintf(k->reason, sizeof(k->reason), fmt, ap);
		va_end(ap);
	}
	res->nskipped++;
}

/* Decode stored run `run` (key `key`) for farm f into the spool; skips are noted. */
static enum wc_status extract_run(struct store *st, const struct farm *f,
				  const struct nwp_run *run, uint32_t key, FILE *spool,
				  struct farm_weather_result *res)
{
	struct ingest_options o;
	struct ingest_result one = { 0 };
	struct wc_error why = { 0 };
	struct nwp_run decoded;
	char path[4200];
	struct stat sb;
	enum wc_status ret;

	ingest_options_init(&o);
	snprintf(path, sizeof(path), "%s/grids/%.2s/%s.nc", store_dir(st), run->sha256,
		 run->sha256);
	if (stat(path, &sb) != 0) {
		note_skip(res, run->id, "raw file 'grids/%.2s/%s.nc' is missing", run->sha256,
			  run->sha256);
		return WC_OK;
	}
	ret = decode(path, run->source, f, 1, &o, key, &decoded, NULL, spool, &one, &why);
	if (ret == WC_EIO && ferror(spool)) {
		/* the spool, not the grid: a failure of the extraction */
		res->error = why;
	} else if (ret) {
		note_skip(res, run->id, "%s", wc_error_msg(&why));
		ret = WC_OK;
	} else if (one.nfarms == 0) {
		note_skip(res, run->id, "%s", one.nskipped ? one.skipped[0].reason
							    : "no weather at the farm");
	} else {
		res->nruns++;
	}
	ingest_result_release(&one);
	return ret;
}

enum wc_status ingest_farm_weather(struct store *st, const char *farm_id,
				   struct farm_weather_result *res)
{
	struct spool sp = { 0 };
	struct farm f;
	struct nwp_run *runs = NULL;
	int64_t *ids = NULL, max_id = 0;
	size_t nids = 0, cap = 0, n = 0;
	enum weather_replace outcome = WEATHER_NEW_RUNS;
	enum wc_status ret;

	memset(res, 0, sizeof(*res));
	snprintf(res->farm_id, sizeof(res->farm_id), "%s", farm_id);
	if ((ret = store_farm_get(st, farm_id, &f, &res->error)))
		goto cleanup;
	sp.batch = malloc(SPOOL_BATCH * sizeof(*sp.batch));
	sp.f = tmpfile();
	if (!sp.batch || !sp.f) {
		ret = wc_error_set(&res->error, WC_EIO, "cannot create the row spool: %s",
				   strerror(errno));
		goto cleanup;
	}
	for (int round = 0; round < EXTRACT_ROUNDS && outcome == WEATHER_NEW_RUNS; round++) {
		int64_t seen = max_id;

		free(runs);
		if ((ret = store_run_list(st, &runs, &n, &res->error)))
			goto cleanup;
		res->runs_total = n;
		if (fseek(sp.f, 0, SEEK_END) != 0) {
			ret = wc_error_set(&res->error, WC_EIO, "cannot write the row spool: %s",
					   strerror(errno));
			goto cleanup;
		}
		/*
		 * Oldest first (the list is newest first). Run ids only grow: the ones above
		 * `seen` are new since the last round.
		 */
		for (size_t i = n; i-- > 0 && !ret;) {
			if (runs[i].id <= seen)
				continue;
			if (nids == cap) {
				int64_t *grown = realloc(ids, (cap = cap ? 2 * cap : 256) *
								      sizeof(*ids));

				if (!grown) {
					ret = wc_error_set(&res->error, WC_ENOMEM, "out of memory");
					goto cleanup;
				}
				ids = grown;
			}
			ids[nids] = runs[i].id;
			ret = extract_run(st, &f, &runs[i], (uint32_t)nids++, sp.f, res);
			if (runs[i].id > max_id)
				max_id = runs[i].id;
		}
		if (ret || (fflush(sp.f) != 0 &&
			    (ret = wc_error_set(&res->error, WC_EIO,
						"cannot write the row spool: %s", strerror(errno)))))
			goto cleanup;
		spool_rewind(&sp);
		sp.run_ids = ids;
		if ((ret = store_farm_weather_replace(st, &f, max_id, spool_next_run, &sp,
						      &outcome, &res->error)))
			goto cleanup;
	}
	if (outcome == WEATHER_NEW_RUNS) {
		ret = wc_error_set(&res->error, WC_EBUSY,
				   "runs kept arriving during %d rounds of extraction; try again",
				   EXTRACT_ROUNDS);
		goto cleanup;
	}
	res->superseded = outcome == WEATHER_MOVED;
	if (res->superseded)
		res->nruns = res->nskipped = 0;
	else
		res->nrows = sp.nread;
cleanup:
	if (ret)
		wc_error_prefix(&res->error, "cannot extract the weather of '%s'", farm_id);
	if (sp.f)
		fclose(sp.f);
	free(sp.batch);
	free(runs);
	free(ids);
	return ret;
}

void farm_weather_result_line(const struct farm_weather_result *res, char *buf, size_t len)
{
	int n;

	if (res->error.code) {
		snprintf(buf, len, "%s", wc_error_msg(&res->error));
		return;
	}
	if (res->superseded) {
		snprintf(buf, len, "weather of '%s': the farm moved or went meanwhile; nothing "
			 "stored", res->farm_id);
		return;
	}
	n = snprintf(buf, len, "weather of '%s': %zu of %zu run%s (%zu rows)", res->farm_id,
		     res->nruns, res->runs_total, res->runs_total == 1 ? "" : "s", res->nrows);
	for (size_t i = 0; i < res->nskipped && i < FARM_WEATHER_SKIPS_MAX && n > 0 &&
			   (size_t)n < len;
	     i++)
		n += snprintf(buf + n, len - (size_t)n, "%s run %lld: %s",
			      i ? ";" : "; skipped", (long long)res->skipped[i].run_id,
			      res->skipped[i].reason);
	if (res->nskipped > FARM_WEATHER_SKIPS_MAX && n > 0 && (size_t)n < len)
		snprintf(buf + n, len - (size_t)n, "; and %zu more",
			 res->nskipped - FARM_WEATHER_SKIPS_MAX);
}

json_t *farm_weather_result_json(const struct farm_weather_result *res)
{
	json_t *o, *skipped = json_array();

	for (size_t i = 0; i < res->nskipped && i < FARM_WEATHER_SKIPS_MAX; i++)
		json_array_append_new(skipped,
				      json_pack("{s:I,s:s}", "run", (json_int_t)res->skipped[i].run_id,
						"reason", res->skipped[i].reason));
	o = json_pack("{s:s,s:s,s:I,s:I,s:I,s:o,s:I}", "farm", res->farm_id, "status",
		      res->error.code ? "failed" : res->superseded ? "superseded" : "extracted",
		      "runs", (json_int_t)res->nruns, "runs_total", (json_int_t)res->runs_total,
		      "rows", (json_int_t)res->nrows, "skipped", skipped, "nskipped",
		      (json_int_t)res->nskipped);
	if (o && res->error.code)
		json_object_set_new(o, "error", json_string(wc_error_msg(&res->error)));
	return o;
}
