/* test_netcdf_util.h - helpers shared by the NetCDF and sites tests (header only). */
#ifndef WC_TEST_NETCDF_UTIL_H
#define WC_TEST_NETCDF_UTIL_H

#include <criterion/criterion.h>
#include <netcdf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NC(call)                                                                         \
	do {                                                                             \
		int rc_ = (call);                                                        \
		cr_assert_eq(rc_, NC_NOERR, "%s: %s", #call, nc_strerror(rc_));          \
	} while (0)

/* A per-process path under $TMPDIR (or /tmp) for a test file called `name`. */
static inline void tmp_path(char *buf, size_t len, const char *name)
{
	const char *d = getenv("TMPDIR");

	snprintf(buf, len, "%s/wc-nctest-%d-%s.nc", d && *d ? d : "/tmp", (int)getpid(),
		 name);
}

static inline void put_text(int ncid, int var, const char *name, const char *value)
{
	NC(nc_put_att_text(ncid, var, name, strlen(value), value));
}

/* The whole file in a new buffer (caller frees); *n its size. */
static inline char *slurp(const char *path, size_t *n)
{
	FILE *fp = fopen(path, "rb");
	char *d;

	cr_assert(fp, "cannot open %s", path);
	fseek(fp, 0, SEEK_END);
	*n = (size_t)ftell(fp);
	rewind(fp);
	d = malloc(*n ? *n : 1);
	cr_assert_eq(fread(d, 1, *n, fp), *n);
	fclose(fp);
	return d;
}

#endif
