/*
 * bench_ingest_read.c - NetCDF ingestion against its floor and against other tools
 * (issue 3). Not a test: it prints figures and never fails on timing.
 *
 * Data: a GFS-like 0.25-degree global file (721 x 1440, u10 v10 u100 v100 t2m sp, 37
 * steps, ~0.92 GB unpacked), netCDF-4 zlib level 1 chunked per step and the same as
 * netCDF-3 64-bit offset, generated on demand by scripts/gen-gfs-like into
 * build/bench-data/. For each format, with a warm page cache:
 *   read_floor   a plain netcdf-c loop reading every variable, one step at a time
 *   extract      nwp_file_open + sites_extract for 1,000 farms (data/netcdf + data/sites)
 *   ingest       ingest_file into a fresh store: hash, raw copy, extract, store writes
 *   nccopy       nccopy of the file
 *   cdo          cdo remapbil to the same 1,000 points (unstructured target grid)
 *   xarray       python3-xarray interp of every variable at the same points
 * Peak memory of the extraction is measured in a child process (VmHWM) and compared
 * with one time step of all variables (6 x 721 x 1440 x 4 bytes).
 * The floor and the extraction alternate, best of three each, since the machine is
 * shared. Ends with name=value lines. BENCH_NO_TOOLS=1 skips nccopy/cdo/xarray.
 */
#include <math.h>
#include <netcdf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "data/ingest.h"
#include "data/netcdf.h"
#include "data/sites.h"
#include "data/store.h"

#define NSITES 1000

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static const char *src_dir(void)
{
	const char *s = getenv("WINDCAST_SRC");

	return s && *s ? s : ".";
}

static const char *python(void)
{
	const char *p = getenv("PYTHON");

	return p && *p ? p : "/usr/bin/python3";
}

static struct site sites[NSITES];
static char site_ids[NSITES][16];

static void make_sites(void)
{
	unsigned long long x = 88172645463325252ULL;

	for (int i = 0; i < NSITES; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		double a = (double)(x % 1000000) / 1e6;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		double b = (double)(x % 1000000) / 1e6;

		snprintf(site_ids[i], sizeof(site_ids[i]), "farm-%04d", i);
		sites[i] = (struct site){ site_ids[i], -60 + 130 * a, -180 + 360 * b, 100 };
	}
}

/* The floor: every variable, one full step per read, native float. */
static double read_floor(const char *path)
{
	static const char *const names[] = { "u10", "v10", "u100", "v100", "t2m", "sp" };
	size_t start[3] = { 0, 0, 0 }, count[3] = { 1, 721, 1440 };
	float *buf = malloc(721 * 1440 * sizeof(float));
	double t0 = now(), sum = 0;
	int ncid, vid;

	if (nc_open(path, NC_NOWRITE, &ncid) != NC_NOERR) {
		fprintf(stderr, "bench: cannot open %s\n", path);
		exit(1);
	}
	for (int v = 0; v < 6; v++) {
		nc_inq_varid(ncid, names[v], &vid);
		for (size_t t = 0; t < 37; t++) {
			start[0] = t;
			nc_get_vara_float(ncid, vid, start, count, buf);
			sum += buf[t];
		}
	}
	nc_close(ncid);
	free(buf);
	if (sum == 12345.678)
		printf("\n");
	return now() - t0;
}

static long status_kb(const char *key)
{
	FILE *fp = fopen("/proc/self/status", "r");
	char line[256];
	long v = -1;

	while (fp && fgets(line, sizeof(line), fp))
		if (strncmp(line, key, strlen(key)) == 0)
			v = atol(line + strlen(key) + 1);
	if (fp)
		fclose(fp);
	return v;
}

struct extract_figures {
	double seconds;
	double peak_mb;		/* VmHWM - VmRSS before open */
	size_t nseries;
	double hwm_mb;		/* VmHWM of the whole process */
};

/*
 * open + extract in a fresh process (this program re-executed with --extract), so that
 * its peak resident memory (VmHWM) is its own; peak_mb is VmHWM minus the resident
 * size at start (code and libraries).
 */
static int extract_main(const char *path)
{
	struct nwp_file *f = NULL;
	struct sites_result r;
	struct wc_error err = { 0 };
	long base = status_kb("VmRSS:");
	double t0 = now();

	if (nwp_file_open(&f, path, &err) || sites_extract(f, sites, NSITES, NULL, &r, &err)) {
		fprintf(stderr, "bench: %s\n", err.msg);
		return 1;
	}
	printf("%.6f %.3f %zu %.3f\n", now() - t0,
	       (double)(status_kb("VmHWM:") - base) / 1024.0, r.nseries,
	       (double)status_kb("VmHWM:") / 1024.0);
	sites_result_release(&r);
	nwp_file_free(f);
	return 0;
}

static struct extract_figures extract_child(const char *path)
{
	struct extract_figures fig = { NAN, NAN, 0, NAN };
	char cmd[2048], line[256];
	FILE *p;

	snprintf(cmd, sizeof(cmd), "/proc/%d/exe --extract '%s'", (int)getpid(), path);
	p = popen(cmd, "r");
	if (p && fgets(line, sizeof(line), p))
		sscanf(line, "%lf %lf %zu %lf", &fig.seconds, &fig.peak_mb, &fig.nseries,
		       &fig.hwm_mb);
	if (p)
		pclose(p);
	return fig;
}

/* ingest_file into a fresh store with the 1,000 farms registered. */
static double ingest_store(const char *path, const char *dir)
{
	struct store *st = NULL;
	struct wc_error err = { 0 };
	struct ingest_result res;
	char cmd[4096];
	double t0;

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		return NAN;
	if (store_open(dir, &st, &err)) {
		fprintf(stderr, "bench: store: %s\n", err.msg);
		return NAN;
	}
	for (int i = 0; i < NSITES; i++) {
		struct farm fm;

		memset(&fm, 0, sizeof(fm));
		snprintf(fm.id, sizeof(fm.id), "farm-%04d", i);
		snprintf(fm.name, sizeof(fm.name), "farm %d", i);
		fm.lat = sites[i].lat;
		fm.lon = sites[i].lon;
		fm.capacity_mw = 10;
		fm.hub_height_m = 100;
		if (store_farm_add(st, &fm, &err)) {
			fprintf(stderr, "bench: farm: %s\n", err.msg);
			store_close(st);
			return NAN;
		}
	}
	t0 = now();
	if (ingest_file(st, path, NULL, &res) != WC_OK)
		fprintf(stderr, "bench: ingest: %s\n", wc_error_msg(&res.error));
	t0 = now() - t0;
	ingest_result_release(&res);
	store_close(st);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		return NAN;
	return t0;
}

static double run_timed(const char *cmd)
{
	double t0 = now();
	int rc = system(cmd);

	if (rc != 0) {
		fprintf(stderr, "bench: '%s' failed (%d)\n", cmd, rc);
		return NAN;
	}
	return now() - t0;
}

static double xarray_seconds(const char *path, const char *sites_file)
{
	char cmd[8192], out[64] = "";
	FILE *p;

	snprintf(cmd, sizeof(cmd), "%s %s/scripts/gen-gfs-like xarray '%s' '%s'", python(),
		 src_dir(), path, sites_file);
	p = popen(cmd, "r");
	if (!p || !fgets(out, sizeof(out), p)) {
		if (p)
			pclose(p);
		return NAN;
	}
	pclose(p);
	return atof(out);
}

struct fig {
	char name[64];
	double value;
};

static struct fig figs[64];
static int nfigs;

/* Record the figure "<what>_<tag><suffix>" = v. */
static void fig(const char *what, const char *tag, const char *suffix, double v)
{
	snprintf(figs[nfigs].name, sizeof(figs[nfigs].name), "%s_%s%s", what, tag, suffix);
	figs[nfigs++].value = v;
	printf("  %-32s %.3f\n", figs[nfigs - 1].name, v);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	char dir[1024], path[1200], grid[1200], sites_file[1200], cmd[8192], store[1200];
	const char *tags[2] = { "nc4", "nc3" };
	const double step_mb = 6.0 * 721 * 1440 * 4 / (1024.0 * 1024.0);
	bool tools = !getenv("BENCH_NO_TOOLS");
	FILE *fp;

	log_set_level(LOG_WARN);
	make_sites();
	if (argc == 3 && strcmp(argv[1], "--extract") == 0)
		return extract_main(argv[2]);
	snprintf(dir, sizeof(dir), "%s/build/bench-data", src_dir());
	snprintf(cmd, sizeof(cmd), "%s %s/scripts/gen-gfs-like '%s'", python(), src_dir(), dir);
	if (system(cmd) != 0) {
		fprintf(stderr, "bench: cannot generate the benchmark files\n");
		return 1;
	}
	/* the same points for cdo (unstructured grid) and xarray */
	snprintf(grid, sizeof(grid), "%s/sites.grid", dir);
	snprintf(sites_file, sizeof(sites_file), "%s/sites.txt", dir);
	fp = fopen(grid, "w");
	fprintf(fp, "gridtype = unstructured\ngridsize = %d\nxvals =", NSITES);
	for (int i = 0; i < NSITES; i++)
		fprintf(fp, " %.6f", sites[i].lon);
	fprintf(fp, "\nyvals =");
	for (int i = 0; i < NSITES; i++)
		fprintf(fp, " %.6f", sites[i].lat);
	fprintf(fp, "\n");
	fclose(fp);
	fp = fopen(sites_file, "w");
	for (int i = 0; i < NSITES; i++)
		fprintf(fp, "%.6f %.6f\n", sites[i].lat, sites[i].lon);
	fclose(fp);

	for (int k = 0; k < 2; k++) {
		const char *tag = tags[k];
		double floor_s, ext_s, best = INFINITY;
		struct extract_figures ef = { 0 };

		snprintf(path, sizeof(path), "%s/gfs_like_%s.nc", dir, tag);
		printf("%s: %s\n", tag, path);
		read_floor(path);	/* warm the page cache */
		/* alternate floor and extraction, best of three each: the machine is shared */
		floor_s = INFINITY;
		for (int rep = 0; rep < 3; rep++) {
			struct extract_figures e;

			floor_s = fmin(floor_s, read_floor(path));
			e = extract_child(path);
			if (e.seconds < best) {
				best = e.seconds;
				ef = e;
			}
		}
		ext_s = ef.seconds;
		fig("read_floor", tag, "_s", floor_s);
		fig("extract", tag, "_s", ext_s);
		fig("extract", tag, "_vs_read_floor", ext_s / floor_s);
		fig("extract", tag, "_peak_mb", ef.peak_mb);
		fig("extract", tag, "_peak_vs_step", ef.peak_mb / step_mb);
		fig("extract", tag, "_process_hwm_mb", ef.hwm_mb);
		fig("extract", tag, "_sites", (double)ef.nseries);
		snprintf(store, sizeof(store), "%s/store-%s", dir, tag);
		double ing = ingest_store(path, store);

		fig("ingest", tag, "_s", ing);
		fig("ingest", tag, "_vs_read_floor", ing / floor_s);
		if (!tools)
			continue;
		snprintf(cmd, sizeof(cmd), "nccopy '%s' '%s/copy.nc'", path, dir);
		fig("nccopy", tag, "_s", run_timed(cmd));
		snprintf(cmd, sizeof(cmd), "rm -f '%s/copy.nc'", dir);
		if (system(cmd) != 0)
			return 1;
		snprintf(cmd, sizeof(cmd), "cdo -s -P 1 remapbil,'%s' '%s' '%s/cdo.nc' >/dev/null",
			 grid, path, dir);
		double cdo = run_timed(cmd);

		fig("cdo_remapbil", tag, "_s", cdo);
		fig("extract", tag, "_vs_cdo", ext_s / cdo);
		snprintf(cmd, sizeof(cmd), "rm -f '%s/cdo.nc'", dir);
		if (system(cmd) != 0)
			return 1;
		fig("xarray", tag, "_s", xarray_seconds(path, sites_file));
	}
	printf("one time step of all variables: %.1f MB\n", step_mb);
	for (int i = 0; i < nfigs; i++)
		printf("%s=%.3f\n", figs[i].name, figs[i].value);
	return 0;
}
