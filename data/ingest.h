/*
 * ingest.h - one NetCDF file into the store: hash, recognise, decode, interpolate to
 * every registered farm, keep the raw bytes content-addressed, record it all in one
 * transaction. Used by `windcast ingest` and by the POST /v1/grids job alike.
 *
 * Raw files are kept as DATA/grids/<sha[0:2]>/<sha256>.nc. The same bytes twice are
 * "known" and add nothing. A rejected file stores nothing (no row, no raw file).
 *
 * netcdf-c is not thread-safe: ingest_file serialises its netCDF work on a process-wide
 * mutex, so it may be called from several job threads. The raw bytes are hashed (and
 * copied) on a second thread while the file is decoded; decoded rows wait in a spool
 * file, so memory stays bounded for long files and the store's write lock is held only
 * for the final transaction.
 */
#ifndef WC_INGEST_H
#define WC_INGEST_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/status.h"
#include "data/store.h"

enum ingest_outcome { INGEST_INGESTED, INGEST_KNOWN, INGEST_REJECTED };

struct ingest_skip {
	char farm_id[FARM_ID_MAX + 1];
	char reason[160];
};

struct ingest_result {
	enum ingest_outcome outcome;
	char file[512];		/* the name the user knows the file by */
	char sha256[65];
	struct nwp_run run;	/* INGESTED or KNOWN */
	size_t nfarms;		/* farms with weather stored from this file */
	char (*farm_ids)[FARM_ID_MAX + 1];	/* (nfarms), malloc'd */
	size_t nskipped;
	struct ingest_skip *skipped;		/* (nskipped), malloc'd */
	struct wc_error error;	/* REJECTED: why */
};

struct ingest_options {
	const char *original_name;	/* name for messages and the grids table; NULL: path */
	const char *sha256;		/* with move: the content hash, known already */
	bool move;			/* rename the file into the store instead of copying */
	double point_max_km;		/* point files: nearest station within this distance */
};

void ingest_options_init(struct ingest_options *o);

/*
 * Ingest the file at `path` with options `o` (NULL: defaults). Always fills *res
 * (release with ingest_result_release). Returns WC_OK when the file was ingested or
 * already known; otherwise the error (also in res->error) and res->outcome is
 * INGEST_REJECTED. Store failures (disk full, busy) are rejections too, and leave the
 * store as it was.
 */
enum wc_status ingest_file(struct store *st, const char *path, const struct ingest_options *o,
			   struct ingest_result *res);
void ingest_result_release(struct ingest_result *res);

/*
 * The per-file line `windcast ingest` prints: "FILE: ingested: ...", "FILE: already
 * known (...)" or "FILE: rejected: REASON" (the file named once).
 */
void ingest_result_line(const struct ingest_result *res, char *buf, size_t len);
/* The same as JSON (a new reference), as the ingest job's result. */
json_t *ingest_result_json(const struct ingest_result *res);
/* A run as JSON (a new reference), shared by GET /v1/grids and ingest results. */
json_t *nwp_run_json(const struct nwp_run *run);

/* ---- one farm's weather from the stored grids ---- */

#define FARM_WEATHER_SKIPS_MAX 16	/* skipped runs a result names (all are counted) */

/* A run a farm's extraction passed over, and why. */
struct run_skip {
	int64_t run_id;
	char reason[224];	/* "outside the grid (...)", "raw file '...' is missing" */
};

struct farm_weather_result {
	char farm_id[FARM_ID_MAX + 1];
	bool superseded;	/* the farm moved or went meanwhile: nothing stored here */
	size_t runs_total;	/* runs in the store */
	size_t nruns;		/* runs the farm has weather from now */
	size_t nrows;		/* rows stored */
	size_t nskipped;	/* runs without weather for the farm */
	struct run_skip skipped[FARM_WEATHER_SKIPS_MAX];	/* the first nskipped of them */
	struct wc_error error;	/* on failure: why */
};

/*
 * Extract the site weather of farm `farm_id` from every stored raw grid
 * (DATA/grids/<sha[0:2]>/<sha>.nc) and replace the farm's weather with it in one
 * transaction (store_farm_weather_replace): what a farm added, imported or moved after
 * its grids were ingested needs, called alike by the CLI (at once) and the server (as a
 * background job). Runs the farm lies outside of, or whose raw file is missing or
 * unreadable, are skipped with the reason. Runs ingested meanwhile are extracted too;
 * when the farm moves or goes meanwhile nothing is stored (res->superseded: the
 * extraction queued by that change does it). Always fills *res; returns WC_OK, or the
 * error (also in res->error: WC_ENOTFOUND for an unknown farm, store or I/O failures).
 * Cost: one decode of every stored file per farm (about 2 ms a file for the demo's
 * grids). NEEDSWORK: farm import of many farms into a store with many runs would gain
 * from decoding each file once for a group of farms.
 */
enum wc_status ingest_farm_weather(struct store *st, const char *farm_id,
				   struct farm_weather_result *res);
/*
 * The line the CLI prints: "weather of 'ID': 12 of 14 runs (576 rows); 2 skipped: run 3
 * (outside the grid ...), ..." (a failure: "cannot extract the weather of 'ID': ...").
 */
void farm_weather_result_line(const struct farm_weather_result *res, char *buf, size_t len);
/*
 * The same as JSON (a new reference): {"farm", "status": "extracted" | "superseded" |
 * "failed", "runs", "runs_total", "rows", "skipped": [{"run", "reason"}], "nskipped",
 * "error" (when failed)}: the background job's result and the CLI's --format json.
 */
json_t *farm_weather_result_json(const struct farm_weather_result *res);

#endif
