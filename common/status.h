/*
 * status.h - the one error enum of windcast, and an error record that carries the
 * human-readable detail next to the code.
 *
 * Every module boundary maps library errors (netCDF, SQLite, libmicrohttpd, BLAS, libc)
 * into enum wc_status, keeping the library's own message in struct wc_error.msg.
 * Messages follow STYLE.md: lower case, no full stop, failure first, subject in quotes:
 *   cannot open 'era5.nc': not a netCDF file
 */
#ifndef WC_STATUS_H
#define WC_STATUS_H

#include <stddef.h>

enum wc_status {
	WC_OK = 0,
	WC_EINVAL,	/* bad argument or malformed input */
	WC_ENOMEM,	/* allocation failed */
	WC_EIO,		/* read/write/filesystem failure */
	WC_ENOTFOUND,	/* no such farm, file, run, model, version, ... */
	WC_ENODATA,	/* the thing exists but its input data do not (no NWP or no
			 * observations at an issue time, too few training rows) */
	WC_EEXIST,	/* duplicate id or key */
	WC_ETOOLARGE,	/* input exceeds a hard cap */
	WC_EFORMAT,	/* file or payload in a wrong or damaged format */
	WC_EVERSION,	/* file or schema from an unsupported version */
	WC_ECHECKSUM,	/* stored checksum does not match the content */
	WC_ENETCDF,	/* error reported by netcdf-c */
	WC_ESQL,	/* error reported by SQLite */
	WC_EHTTP,	/* error reported by libmicrohttpd */
	WC_EBUSY,	/* resource busy / locked / shutting down */
	WC_EUNSUPPORTED,/* valid input that windcast does not handle */
	WC_EINTERNAL,	/* a bug: an invariant did not hold */
	WC_STATUS_COUNT
};

/* Short fixed description of a status code; never NULL. */
const char *wc_strerror(enum wc_status code);

/*
 * An error with its detail. Functions that can fail take a `struct wc_error *err`
 * (which may be NULL when the caller does not want the detail) and return the code.
 */
struct wc_error {
	enum wc_status code;
	char msg[512];
};

/*
 * Record `code` and a printf-style message into `err` (if not NULL) and return `code`,
 * so that a failure path reads `return wc_error_set(err, WC_EINVAL, "bad '%s'", s);`.
 */
enum wc_status wc_error_set(struct wc_error *err, enum wc_status code,
			    const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Reset `err` to WC_OK with an empty message. */
void wc_error_clear(struct wc_error *err);

/*
 * Prefix the message already in `err` with a printf-style context, separated by ": ",
 * keeping the code. Returns err->code (WC_OK if err is NULL).
 */
enum wc_status wc_error_prefix(struct wc_error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* The message if set, else wc_strerror(code). */
const char *wc_error_msg(const struct wc_error *err);

#endif
