/*
 * h_grids.c - POST /v1/grids (upload a NetCDF file; ingested by a background job) and
 * GET /v1/grids (ingested runs).
 *
 * The upload is streamed to DATA/tmp by the generic code (ROUTE_TO_FILE) with its
 * sha256, after netcdf_sniff() saw a netCDF signature in its first bytes (else 415 as
 * soon as that is known). Bytes already ingested are answered 200 at once, anything
 * else becomes a job: recorded with {"file","sha256","size"}, the file moved durably
 * into the job's spool as DATA/jobs/<id>/NAME (NAME being the client's ?name=, so that
 * every message of the ingest names the file the client knows, never a spool name), and
 * only then the 202. The job runs from that record, now or after a restart.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/log.h"
#include "data/ingest.h"
#include "data/store.h"
#include "server/handlers.h"
#include "server/jobs.h"

/* Does the file at path exist? */
static bool file_exists(const char *path)
{
	struct stat sb;

	return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

/*
 * Ingest the upload job jr recorded. Safe to repeat however far an earlier start got:
 * the upload stays in the spool until ingest_file has stored its run (and then moved
 * it to its content address), so it is in the spool; or the run is stored (the bytes
 * are known); or, cut short between placing the raw file and committing the run, the
 * bytes wait at DATA/grids/<sha[0:2]>/<sha>.nc and are ingested from there.
 */
char *ingest_job_run(const struct job_run *jr, int *failed)
{
	const char *name = json_string_value(json_object_get(jr->input, "file"));
	const char *sha = json_string_value(json_object_get(jr->input, "sha256"));
	struct ingest_options o;
	struct ingest_result res;
	char path[4096 + 256];
	json_t *v;
	char *text;

	*failed = 1;
	if (!name || !sha || strlen(sha) != 64 || strchr(name, '/'))
		return job_error_text("the job's recorded input names no upload");
	ingest_options_init(&o);
	o.original_name = name;
	snprintf(path, sizeof(path), "%s/%s", jr->spool, name);
	memset(&res, 0, sizeof(res));
	if (file_exists(path)) {
		o.sha256 = sha;	/* hashed as it was received, synced since */
		o.move = true;
		*failed = ingest_file(jr->st, path, &o, &res) != WC_OK;
	} else if (store_run_by_sha(jr->st, sha, &res.run, NULL) == WC_OK) {
		res.outcome = INGEST_KNOWN;
		snprintf(res.file, sizeof(res.file), "%s", name);
		snprintf(res.sha256, sizeof(res.sha256), "%s", sha);
		*failed = 0;
	} else {
		snprintf(path, sizeof(path), "%s/grids/%.2s/%s.nc", store_dir(jr->st), sha, sha);
		if (!file_exists(path))
			return job_error_text("cannot ingest '%s': the upload was lost before its "
					      "job ran (the server stopped while keeping it); "
					      "upload it again",
					      name);
		*failed = ingest_file(jr->st, path, &o, &res) != WC_OK;
	}
	v = ingest_result_json(&res);
	text = v ? json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(v);
	ingest_result_release(&res);
	return text;
}

/* The name the client gave the file (?name=, a file name: see routes.c), else "upload.nc". */
static const char *upload_name(struct request *req)
{
	const char *name = request_query(req, "name");

	return name ? name : "upload.nc";
}

/* HDF5 (netCDF-4) signature: at offset 0, or after a user block of 512, 1024, ... bytes. */
static const unsigned char hdf5_signature[8] = { 0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n' };
#define HDF5_USERBLOCK_MAX (ROUTE_SNIFF_MAX - 8)

enum body_verdict netcdf_sniff(struct request *req, const unsigned char *head, size_t len,
			       bool last, struct reply *rep)
{
	if (len == 0)
		return last ? BODY_OK : BODY_MORE;	/* the handler answers an empty body */
	/* netCDF-3: classic, 64-bit offset, 64-bit data */
	if (len >= 4 && !memcmp(head, "CDF", 3) && (head[3] == 1 || head[3] == 2 || head[3] == 5))
		return BODY_OK;
	for (size_t off = 0; off <= HDF5_USERBLOCK_MAX; off = off ? 2 * off : 512) {
		if (len < off + sizeof(hdf5_signature)) {
			/* not seen yet: could still be there (or be netCDF-3 when len < 4) */
			if (!last)
				return BODY_MORE;
			break;
		}
		if (!memcmp(head + off, hdf5_signature, sizeof(hdf5_signature)))
			return BODY_OK;
	}
	reply_error(rep, 415, "unsupported_media_type",
		    "cannot ingest '%s': not a netCDF file (no netCDF-3 or HDF5 signature at "
		    "its start, nor an HDF5 one after a user block of up to %d KiB)",
		    upload_name(req), HDF5_USERBLOCK_MAX / 1024);
	return BODY_REFUSE;
}

void grids_upload_handler(struct request *req, struct reply *rep)
{
	struct wc_error err = { 0 };
	struct nwp_run run;
	char spooled[4096 + 256];
	int64_t id;
	json_t *input;

	if (req->upload_size == 0) {
		reply_error(rep, 400, "bad_request", "request body is empty: expected a NetCDF file");
		return;
	}
	if (store_run_by_sha(req->store, req->upload_sha256, &run, &err) == WC_OK) {
		reply_json(rep, 200, json_pack("{s:s,s:s,s:o}", "status", "known", "sha256",
					       req->upload_sha256, "run", nwp_run_json(&run)));
		return;
	}
	input = json_pack("{s:s,s:s,s:I}", "file", upload_name(req), "sha256",
			  req->upload_sha256, "size", (json_int_t)req->upload_size);
	if (!job_create_reply(req, rep, "ingest", input, &id))
		return;
	/* durable before the 202: a crash from here on leaves the job and its upload */
	if (job_spool_take(server_data_dir(req->srv), id, req->upload_path, upload_name(req),
			   spooled, sizeof(spooled), &err)) {
		log_error("job %" PRId64 ": %s", id, wc_error_msg(&err));
		job_fail_reply(req, rep, id,
			       &(struct wc_error){ WC_EIO, "cannot keep the upload on the server" });
		reply_error(rep, 507, "insufficient_storage",
			    "cannot keep the upload on the server; try again later");
		return;
	}
	req->upload_path[0] = '\0';	/* the job owns the file now */
	job_queue_reply(req, rep, id, json_pack("{s:s}", "sha256", req->upload_sha256));
}

void grids_list_handler(struct request *req, struct reply *rep)
{
	struct wc_error err = { 0 };
	struct nwp_run *runs;
	size_t n;
	json_t *arr;

	if (store_run_list(req->store, &runs, &n, &err)) {
		reply_wc_error(rep, &err);
		return;
	}
	arr = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, nwp_run_json(&runs[i]));
	free(runs);
	reply_json(rep, 200, json_pack("{s:o}", "runs", arr));
}
