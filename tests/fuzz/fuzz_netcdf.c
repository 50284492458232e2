/*
 * fuzz_netcdf.c - libFuzzer harness over the NetCDF reader, in-memory open.
 *
 * Every input is opened with nwp_file_open_mem(); what opens is then interpolated at a
 * few sites (grid centre, a corner, outside), which drives nwp_file_read() over boxes.
 * Run by scripts/run-fuzz (make fuzz / make test) with a corpus seeded from the real
 * files of ../shared/grids.
 */
#include <stddef.h>
#include <stdint.h>

#include "common/log.h"
#include "data/netcdf.h"
#include "data/sites.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nwp_file *f = NULL;
	struct wc_error err = { 0 };
	struct sites_result r;
	struct site s[3];
	double lat, lon;

	log_set_level(LOG_OFF);
	if (nwp_file_open_mem(&f, "fuzz.nc", data, size, &err) != WC_OK)
		return 0;
	nwp_file_cell_latlon(f, f->ny / 2, f->nx / 2, &lat, &lon);
	s[0] = (struct site){ "a", lat, lon, 100 };
	nwp_file_cell_latlon(f, 0, 0, &lat, &lon);
	s[1] = (struct site){ "b", lat, lon, 80 };
	s[2] = (struct site){ "c", -89.9, 179.9, 120 };
	if (sites_extract(f, s, 3, NULL, &r, &err) == WC_OK)
		sites_result_release(&r);
	nwp_file_free(f);
	return 0;
}
