/*
 * h_grids.c - POST /v1/grids (upload a NetCDF file; ingested by a background job) and
 * GET /v1/grids (ingested runs).
 *
 * The upload is streamed to DATA/tmp by the generic code (route.to_file) with its
 * sha256; bytes already ingested are answered 200 at once, anything else becomes a job.
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
	char path[4096];
	char name[512];
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
	free(j);
}

/* The name the client gave the file: ?name=, else "upload.nc". Never a path. */
static const char *upload_name(struct request *req)
{
	const char *name = request_query(req, "name");
	const char *slash;

	if (!name || !*name)
		return "upload.nc";
	slash = strrchr(name, '/');
	return slash ? slash + 1 : name;
}

void grids_upload_handler(struct request *req, struct reply *rep)
{
	const char *ctype = request_header(req, "Content-Type");
	struct wc_error err = { 0 };
	struct ingest_job *job;
	struct nwp_run run;
	int64_t id;
	json_t *input;

	if (ctype && strncmp(ctype, "application/x-netcdf", 20) &&
	    strncmp(ctype, "application/netcdf", 18) &&
	    strncmp(ctype, "application/octet-stream", 24)) {
		reply_error(rep, 415, "unsupported_media_type",
			    "content type '%s' is not a NetCDF file: send "
			    "'Content-Type: application/x-netcdf'",
			    ctype);
		return;
	}
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
	snprintf(job->path, sizeof(job->path), "%s/tmp/job-%" PRId64 ".nc",
		 server_data_dir(req->srv), id);
	snprintf(job->name, sizeof(job->name), "%s", upload_name(req));
	memcpy(job->sha256, req->upload_sha256, sizeof(job->sha256));
	if (rename(req->upload_path, job->path) != 0) {
		log_error("cannot move upload to '%s': %s", job->path, strerror(errno));
		free(job);
		job_fail_reply(req, rep, id,
			       &(struct wc_error){ WC_EIO, "cannot keep the upload on the server" });
		reply_error(rep, 507, "insufficient_storage",
			    "cannot keep the upload on the server; try again later");
		return;
	}
	req->upload_path[0] = '\0';	/* the job owns the file now */
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
