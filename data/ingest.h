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

/* The per-file line `windcast ingest` prints. */
void ingest_result_line(const struct ingest_result *res, char *buf, size_t len);
/* The same as JSON (a new reference), as the ingest job's result. */
json_t *ingest_result_json(const struct ingest_result *res);
/* A run as JSON (a new reference), shared by GET /v1/grids and ingest results. */
json_t *nwp_run_json(const struct nwp_run *run);

#endif
