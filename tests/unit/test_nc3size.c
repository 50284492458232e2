/*
 * test_nc3size.c - the classic-format size check: on real and generated classic files
 * the size computed from the header equals the real size (an independent check of the
 * header walk), and every truncation of the data is caught.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/nc3size.h"
#include "data/synth.h"
#include "testutil.h"

static void check_whole_and_truncated(const char *path, bool exact)
{
	struct wc_error err = { 0 };
	uint64_t required;
	size_t len;
	uint8_t *bytes = (uint8_t *)tu_read_file(path, &len);

	cr_assert_not_null(bytes, "%s", path);
	cr_assert_eq(nc3_required_size(bytes, len, &required, NULL, &err), WC_OK, "%s: %s",
		     path, err.msg);
	if (exact)
		cr_assert_eq(required, len, "%s: header says %llu, file has %zu", path,
			     (unsigned long long)required, len);
	else
		cr_assert_leq(required, len, "%s", path);
	cr_assert_eq(nc3_check_size(path, NULL, 0, "x.nc", &err), WC_OK, "%s", err.msg);
	cr_assert_eq(nc3_check_size(NULL, bytes, len, "x.nc", &err), WC_OK, "%s", err.msg);
	/* from 4 bytes on: shorter is no classic magic, which netcdf-c refuses itself */
	for (size_t cut = 4; cut < len; cut += len / 7 + 1) {
		if (cut >= required)
			break;
		cr_assert_neq(nc3_check_size(NULL, bytes, cut, "x.nc", &err), WC_OK,
			      "%s cut at %zu accepted", path, cut);
		cr_assert(strstr(err.msg, "'x.nc'"), "%s", err.msg);
	}
	cr_assert_neq(nc3_check_size(NULL, bytes, (size_t)required - 1, "x.nc", &err), WC_OK);
	cr_assert(strstr(err.msg, "truncated"), "%s", err.msg);
	free(bytes);
}

Test(nc3size, generated_file_is_exact)
{
	struct synth_config cfg;
	struct synth *s;
	char *dir = tu_tmpdir(), path[4200];

	synth_config_init(&cfg);
	cfg.days = 1;
	cr_assert_eq(synth_new(&cfg, &s, NULL), WC_OK);
	snprintf(path, sizeof(path), "%s/run.nc", dir);
	cr_assert_eq(synth_write_run(s, 0, path, NULL), WC_OK);
	check_whole_and_truncated(path, true);
	synth_free(s);
	tu_rmrf_free(dir);
}

Test(nc3size, real_classic_files)
{
	static const char *const classic[] = {
		"era5_cds_legacy_feedinlib.nc", "era5_cds_expver_bushyr.nc",
		"gfs_cfgrib_step_routing.nc",	"gfs_wgrib2_routing.nc",
		"nam_ncss_lcc_windninja.nc",	"ncep_psl_composite_uwnd.nc",
	};
	const char *shared = tu_shared();
	char path[4200];

	if (!shared)
		cr_skip_test("../shared is absent: cannot read the real grids");
	for (size_t i = 0; i < sizeof(classic) / sizeof(classic[0]); i++) {
		snprintf(path, sizeof(path), "%s/grids/%s", shared, classic[i]);
		check_whole_and_truncated(path, true);
	}
	/* HDF5-based files are not classic: the check passes them through */
	snprintf(path, sizeof(path), "%s/grids/era5_ws10_ushort_reskit.nc", shared);
	cr_assert_eq(nc3_check_size(path, NULL, 0, "x.nc", NULL), WC_OK);
}

Test(nc3size, malformed_headers)
{
	static const uint8_t bad_tag[] = { 'C', 'D', 'F', 1, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 1 };
	static const uint8_t cut[] = { 'C', 'D', 'F', 2, 0, 0 };
	struct wc_error err = { 0 };
	uint64_t req;

	cr_assert_eq(nc3_required_size(bad_tag, sizeof(bad_tag), &req, NULL, &err), WC_EFORMAT);
	cr_assert_eq(nc3_required_size(cut, sizeof(cut), &req, NULL, &err), WC_EFORMAT);
	cr_assert_eq(nc3_required_size((const uint8_t *)"\x89HDF\r\n", 6, &req, NULL, &err),
		     WC_EUNSUPPORTED);

	/* a short file whose header claims to go on: refused, not read forever */
	char *dir = tu_tmpdir(), path[4200];
	FILE *f;

	snprintf(path, sizeof(path), "%s/short.nc", dir);
	f = fopen(path, "wb");
	fwrite("CDF\001garbage", 1, 11, f);
	fclose(f);
	cr_assert_eq(nc3_check_size(path, NULL, 0, "short.nc", &err), WC_EFORMAT);
	cr_assert(strstr(err.msg, "'short.nc'"), "%s", err.msg);
	tu_rmrf_free(dir);
}
