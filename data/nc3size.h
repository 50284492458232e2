/*
 * nc3size.h - the size a netCDF classic file (CDF-1, CDF-2, CDF-5) must have, from its
 * header alone.
 *
 * netcdf-c opens a classic file whose data section was cut off and returns zeros (or
 * fill) for the missing bytes, so a truncated download would be ingested as calm
 * weather. The reader compares the real size with this one and refuses the file.
 * HDF5-based files need no such check (HDF5 verifies its end-of-file address itself).
 */
#ifndef WC_NC3SIZE_H
#define WC_NC3SIZE_H

#include <stddef.h>
#include <stdint.h>

#include "common/status.h"

/*
 * From the first `len` bytes of a file, the least file size that holds every variable's
 * data (non-record variables whole, record variables for every record the header
 * counts). WC_EUNSUPPORTED when the bytes are not a classic header (e.g. HDF5);
 * WC_EFORMAT when the header is malformed or runs past `len` (then read more: *need, if
 * not NULL, tells how many bytes the parse wanted at least).
 */
enum wc_status nc3_required_size(const uint8_t *buf, size_t len, uint64_t *required,
				 size_t *need, struct wc_error *err);

/*
 * Check a classic file at `path` (or in memory when buf != NULL) against its size:
 * WC_OK for a whole classic file and for any non-classic file; WC_EFORMAT, naming
 * `label` and both sizes, when data is missing.
 */
enum wc_status nc3_check_size(const char *path, const void *buf, size_t size,
			      const char *label, struct wc_error *err);

#endif
