/*
 * h_grids.c - POST /v1/grids (upload a NetCDF file; ingested by a background job) and
 * GET /v1/grids (ingested runs).
 *
 * The upload is streamed to DATA/tmp by the generic code (ROUTE_TO_FILE) with its
 * sha256, after netcdf_sniff() saw a netCDF signature in its first bytes (else 415 as
 * soon as that is known). Bytes already ingested are answered 200 at once, anything
 * else becomes a job. The job's file is DATA/tmp/job-N-XXXXXX/NAME, NAME being the
 * client's ?name=, so that every message of the ingest names the file the client knows
 * (never a spool name such as job-N.nc).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/utc.h"
#include "common/log.h"
#include "data/ingest.h"
#include "data/store.h"
#include "server/handlers.h"
#include "server/jobs.h"

struct ingest_job {
	char dir[4096];		/* the job's own directory under DATA/tmp */
	char path[4096 + 256];	/* dir/NAME */
	char name[256];
	char sha256[65];
};

static char *ingest_job_run(void *arg, struct store *st, int *failed)
{
	struct ingest_job *j = arg;
	struct ingest_options o;
	struct ingest_result res;
	json_t *v;
	char *text;

	ingest_options_init(&o);
	o.original_name = j->name;
	o.sha256 = j->sha256;
	o.move = true;
	*failed = ingest_file(st, j->path, &o, &res) != WC_OK;
	v = ingest_result_json(&res);
	text = v ? json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(v);
	ingest_result_release(&res);
	return text;
}

static void ingest_job_release(void *arg)
{
	struct ingest_job *j = arg;

	/* a moved file is gone already; a dropped job leaves its upload behind otherwise */
	if (j->path[0])
		unlink(j->path);
	if (j->dir[0])
		rmdir(j->dir);
	free(j);
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

/*
 * Move the upload into the job's own directory under the client's name; false (error
 * logged) when it cannot.
 */
static bool job_file_take(struct request *req, struct ingest_job *job, int64_t id)
{
	int n = snprintf(job->dir, sizeof(job->dir), "%s/tmp/job-%" PRId64 "-XXXXXX",
			 server_data_dir(req->srv), id);

	if (n < 0 || (size_t)n >= sizeof(job->dir) || !mkdtemp(job->dir)) {
		log_error("cannot make a directory for job %" PRId64 " in '%s/tmp': %s", id,
			  server_data_dir(req->srv), strerror(errno));
		job->dir[0] = '\0';
		return false;
	}
	snprintf(job->path, sizeof(job->path), "%s/%s", job->dir, job->name);
	if (rename(req->upload_path, job->path) != 0) {
		log_error("cannot move upload to '%s': %s", job->path, strerror(errno));
		rmdir(job->dir);
		job->dir[0] = job->path[0] = '\0';
		return false;
	}
	req->upload_path[0] = '\0';	/* the job owns the file now */
	return true;
}

void grids_upload_handler(struct request *req, struct reply *rep)
{
	struct wc_error err = { 0 };
	struct ingest_job *job;
	struct nwp_run run;
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
	if (!(job = calloc(1, sizeof(*job)))) {
		job_fail_reply(req, rep, id, &(struct wc_error){ WC_ENOMEM, "out of memory" });
		return;
	}
	snprintf(job->name, sizeof(job->name), "%s", upload_name(req));
	memcpy(job->sha256, req->upload_sha256, sizeof(job->sha256));
	if (!job_file_take(req, job, id)) {
		free(job);
		job_fail_reply(req, rep, id,
			       &(struct wc_error){ WC_EIO, "cannot keep the upload on the server" });
		reply_error(rep, 507, "insufficient_storage",
			    "cannot keep the upload on the server; try again later");
		return;
	}
	job_queue_reply(req, rep, id, ingest_job_run, job, ingest_job_release,
			json_pack("{s:s}", "sha256", req->upload_sha256));
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
