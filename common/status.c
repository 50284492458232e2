/* status.c - status strings and the error record. */
#include "common/status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const status_text[WC_STATUS_COUNT] = {
	[WC_OK] = "success",
	[WC_EINVAL] = "invalid argument",
	[WC_ENOMEM] = "out of memory",
	[WC_EIO] = "input/output error",
	[WC_ENOTFOUND] = "not found",
	[WC_ENODATA] = "no data",
	[WC_EEXIST] = "already exists",
	[WC_ETOOLARGE] = "too large",
	[WC_EFORMAT] = "bad format",
	[WC_EVERSION] = "unsupported version",
	[WC_ECHECKSUM] = "checksum mismatch",
	[WC_ENETCDF] = "netCDF error",
	[WC_ESQL] = "database error",
	[WC_EHTTP] = "HTTP server error",
	[WC_EBUSY] = "busy",
	[WC_EUNSUPPORTED] = "unsupported",
	[WC_EINTERNAL] = "internal error",
};

const char *wc_strerror(enum wc_status code)
{
	if ((int)code < 0 || code >= WC_STATUS_COUNT || !status_text[code])
		return "unknown error";
	return status_text[code];
}

enum wc_status wc_error_set(struct wc_error *err, enum wc_status code,
			    const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return code;
	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return code;
}

void wc_error_clear(struct wc_error *err)
{
	if (!err)
		return;
	err->code = WC_OK;
	err->msg[0] = '\0';
}

enum wc_status wc_error_prefix(struct wc_error *err, const char *fmt, ...)
{
	char prefix[256], old[sizeof(err->msg)];
	va_list ap;

	if (!err)
		return WC_OK;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	memcpy(old, err->msg, sizeof(old));
	if (old[0])
		snprintf(err->msg, sizeof(err->msg), "%s: %s", prefix, old);
	else
		snprintf(err->msg, sizeof(err->msg), "%s: %s", prefix,
			 wc_strerror(err->code));
	return err->code;
}

const char *wc_error_msg(const struct wc_error *err)
{
	if (!err)
		return "unknown error";
	return err->msg[0] ? err->msg : wc_strerror(err->code);
}
