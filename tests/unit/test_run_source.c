/*
 * test_run_source.c - defect 11: a run's `source` was its attributes joined and cut
 * mid-word ("National Centres for Environmen"). Now every part of the source is whole,
 * a part that does not fit is left out whole, and every global attribute is kept whole
 * as JSON (struct nwp_file.attributes, stored with the run). The reference for the
 * attributes is python3-netCDF4 reading the same real files from ../shared/grids.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data/ingest.h"
#include "data/netcdf.h"
#include "data/store.h"
#include "tests/unit/test_netcdf_util.h"
#include "tests/unit/testutil.h"

/* The NAM file's institution is 85 characters: it used to be cut at 60. */
#define NAM "nam_ncss_lcc_windninja"
#define NAM_CENTRE "US National Weather Service, National Centres for Environmental " \
		   "Prediction (NCEP)"

static void shared_grid(const char *name, char *path, size_t len)
{
	const char *shared = tu_shared();

	cr_assert(shared, "../shared is needed (WINDCAST_SHARED)");
	snprintf(path, len, "%s/grids/%s.nc", shared, name);
	cr_assert_eq(access(path, R_OK), 0, "cannot read '%s'", path);
}

/* The file's text global attributes as python3-netCDF4 reads them: a JSON object. */
static json_t *python_text_attributes(const char *path)
{
	char cmd[4096], *out = NULL, *errs = NULL;
	json_t *j;

	snprintf(cmd, sizeof(cmd),
		 "'%s' -c 'import sys, json, netCDF4\n"
		 "ds = netCDF4.Dataset(sys.argv[1])\n"
		 "a = {k: ds.getncattr(k) for k in ds.ncattrs()}\n"
		 "print(json.dumps({k: v for k, v in a.items() if isinstance(v, str)}))' '%s'",
		 tu_python(), path);
	cr_assert_eq(tu_run(cmd, &out, &errs), 0, "python failed: %s", errs);
	j = json_loads(out, 0, NULL);
	cr_assert(j, "python printed '%s'", out);
	free(out);
	free(errs);
	return j;
}

/* Every text attribute python sees is in attrs, byte for byte. */
static void expect_whole(const char *file, const json_t *attrs, const json_t *ref)
{
	const char *key;
	json_t *want;
	size_t n = 0;

	json_object_foreach((json_t *)ref, key, want) {
		const char *got = json_string_value(json_object_get(attrs, key));

		cr_assert(got, "%s: attribute '%s' missing", file, key);
		cr_assert_str_eq(got, json_string_value(want), "%s: attribute '%s'", file, key);
		n++;
	}
	cr_assert_gt(n, 0, "%s: no text attributes to compare", file);
}

Test(run_source, shared_grids_keep_every_attribute_whole)
{
	static const char *const files[] = {
		NAM, "arome_lcc_nc4classic_opendrift", "era5_cds_expver_bushyr",
		"era5_cds_legacy_feedinlib", "era5_cds_new_netcdf4_atik", "era5_ws10_ushort_reskit",
		"gfs_cfgrib_step_routing", "gfs_wgrib2_routing", "wrf_mercator_ci_wrfpython",
	};
	size_t longest = 0;

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		char path[4096];
		struct nwp_file *f = NULL;
		struct wc_error err = { 0 };
		json_t *attrs, *ref;
		const char *v;

		shared_grid(files[i], path, sizeof(path));
		cr_assert_eq(nwp_file_open(&f, path, &err), WC_OK, "%s", err.msg);
		cr_assert_not_null(f->attributes);
		attrs = json_loads(f->attributes, 0, NULL);
		cr_assert(json_is_object(attrs), "%s: %s", files[i], f->attributes);
		ref = python_text_attributes(path);
		expect_whole(files[i], attrs, ref);
		/* the parts of the source that come from attributes are whole */
		if ((v = json_string_value(json_object_get(ref, "institution"))) && *v)
			cr_assert(strstr(f->source, v), "%s: source '%s' lacks '%s'", files[i],
				  f->source, v);
		if ((v = json_string_value(json_object_get(ref, "Conventions"))) && *v) {
			char conv[256];

			snprintf(conv, sizeof(conv), "Conventions=%s", v);
			cr_assert(strstr(f->source, conv), "%s: '%s'", files[i], f->source);
		}
		longest = strlen(f->attributes) > longest ? strlen(f->attributes) : longest;
		json_decref(attrs);
		json_decref(ref);
		nwp_file_free(f);
	}
	cr_assert_gt(longest, 1000, "some file has long attributes (histories)");
}

/* The regression itself: the NAM file's centre was "... Centres for Environmen". */
Test(run_source, nam_source_names_the_whole_centre)
{
	char path[4096];
	struct nwp_file *f = NULL;
	struct wc_error err = { 0 };

	shared_grid(NAM, path, sizeof(path));
	cr_assert_eq(nwp_file_open(&f, path, &err), WC_OK, "%s", err.msg);
	cr_assert_str_eq(f->source, "netCDF-Java (THREDDS); " NAM_CENTRE "; Conventions=CF-1.0");
	nwp_file_free(f);
}

/* Ingested, the run keeps the whole source and the attributes in the store. */
Test(run_source, stored_with_the_run)
{
	char path[4096], *dir = tu_tmpdir(), *stored = NULL;
	struct store *st;
	struct nwp_file *f = NULL;
	struct ingest_result res;
	struct wc_error err = { 0 };
	json_t *attrs, *ref;

	shared_grid(NAM, path, sizeof(path));
	cr_assert_eq(nwp_file_open(&f, path, &err), WC_OK, "%s", err.msg);
	cr_assert_eq(store_open(dir, &st, &err), WC_OK, "%s", err.msg);
	cr_assert_eq(ingest_file(st, path, NULL, &res), WC_OK, "%s", res.error.msg);
	cr_assert_eq(res.outcome, INGEST_INGESTED);
	cr_assert_str_eq(res.run.source, f->source);
	ingest_result_release(&res);
	cr_assert_eq(ingest_file(st, path, NULL, &res), WC_OK);
	cr_assert_eq(res.outcome, INGEST_KNOWN);
	cr_assert_str_eq(res.run.source, f->source, "read back from the store");
	cr_assert_eq(store_run_attributes(st, res.run.id, &stored, &err), WC_OK, "%s", err.msg);
	cr_assert_not_null(stored);
	cr_assert_str_eq(stored, f->attributes);
	attrs = json_loads(stored, 0, NULL);
	free(stored);
	ref = python_text_attributes(path);
	expect_whole(NAM, attrs, ref);
	cr_assert(strstr(json_string_value(json_object_get(attrs, "History")),
			 "Translation Date = Thu Jul 11 11:39:59 MDT 2013"),
		  "the two-line History is whole");
	cr_assert_eq(store_run_attributes(st, res.run.id + 100, &stored, &err), WC_ENOTFOUND);
	cr_assert_null(stored);
	json_decref(attrs);
	json_decref(ref);
	ingest_result_release(&res);
	nwp_file_free(f);
	store_close(st);
	tu_rmrf_free(dir);
}

/* test_netcdf_util.h's small ERA5-like grid with these global attributes. */
static void write_grid(const char *path, const char *institution)
{
	int nc;

	write_small(path, NC_CLASSIC_MODEL, NC_FLOAT, false);
	NC(nc_open(path, NC_WRITE, &nc));
	NC(nc_redef(nc));
	put_text(nc, NC_GLOBAL, "institution", institution);
	put_text(nc, NC_GLOBAL, "source", "model-x");
	put_text(nc, NC_GLOBAL, "Conventions", "CF-1.8");
	NC(nc_close(nc));
}

/* A part too long for the source is left out whole, never cut; the attributes keep it. */
Test(run_source, long_part_left_out_whole)
{
	char path[512], inst[3001];
	struct nwp_file *f = NULL;
	struct wc_error err = { 0 };
	json_t *attrs;

	for (int i = 0; i < 3000; i++)
		inst[i] = "Institute of Long Names "[i % 24];
	inst[3000] = '\0';
	tmp_path(path, sizeof(path), "long-institution");
	write_grid(path, inst);
	cr_assert_eq(nwp_file_open(&f, path, &err), WC_OK, "%s", err.msg);
	cr_assert_str_eq(f->source, "model-x; Conventions=CF-1.8");
	attrs = json_loads(f->attributes, 0, NULL);
	cr_assert_str_eq(json_string_value(json_object_get(attrs, "institution")), inst);
	json_decref(attrs);
	nwp_file_free(f);
	write_grid(path, "Short Institute");
	cr_assert_eq(nwp_file_open(&f, path, &err), WC_OK, "%s", err.msg);
	cr_assert_str_eq(f->source, "Short Institute; model-x; Conventions=CF-1.8");
	nwp_file_free(f);
	/* bytes that are not UTF-8 (Latin-1 here) cannot go into a JSON reply as they are */
	write_grid(path, "Institut f\xfcr Meteorologie");
	cr_assert_eq(nwp_file_open(&f, path, &err), WC_OK, "%s", err.msg);
	cr_assert_str_eq(f->source, "Institut f?r Meteorologie; model-x; Conventions=CF-1.8");
	attrs = json_loads(f->attributes, 0, NULL);
	cr_assert_str_eq(json_string_value(json_object_get(attrs, "institution")),
			 "Institut f?r Meteorologie");
	json_decref(attrs);
	nwp_file_free(f);
	write_grid(path, "Institut f\xc3\xbcr Meteorologie");	/* UTF-8 stays as it is */
	cr_assert_eq(nwp_file_open(&f, path, &err), WC_OK, "%s", err.msg);
	cr_assert_str_eq(f->source, "Institut f\xc3\xbcr Meteorologie; model-x; Conventions=CF-1.8");
	nwp_file_free(f);
	unlink(path);
}
