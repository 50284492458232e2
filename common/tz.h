/*
 * tz.h - IANA time zones (Europe/Berlin, America/Chicago, ...) read from the system's
 * TZif files (RFC 8536), for market days and gate closures.
 *
 * Why not libc: localtime_r/mktime follow the process-global TZ variable, and setting
 * it is not thread-safe in a server that also reads the environment elsewhere. This
 * module reads the zone file itself and keeps no global state: a struct tz is owned by
 * its caller, immutable after tz_load, and may be shared by threads.
 *
 * Times are UTC seconds (common/utc.h). A "local" time is the zone's wall clock written
 * as if it were UTC (utc_from_fields of the local fields). Transitions come from the
 * file's table, and after its last entry from the POSIX TZ rule in its footer (the
 * "slim" files of recent tzdata hold only that rule for current zones). Zones with leap
 * seconds ("right/...") are refused. The zone directory is $TZDIR, else
 * /usr/share/zoneinfo (Debian's tzdata package).
 */
#ifndef WC_TZ_H
#define WC_TZ_H

#include <stdbool.h>
#include <stdint.h>

#include "common/status.h"

#define TZ_NAME_MAX 64		/* bytes of a zone name */
#define TZ_FILE_MAX (256u << 10)	/* bytes of a zone file (the largest are ~4 KiB) */

struct tz;

/*
 * True when `name` may name a zone: 1..TZ_NAME_MAX bytes of [A-Za-z0-9_+-] in parts
 * separated by single '/', no part "." or "..", not starting with '/' (so it never
 * leaves the zone directory).
 */
bool tz_name_valid(const char *name);

/*
 * Load zone `name` ("UTC" needs no file). *out owned by the caller (tz_free). WC_EINVAL
 * for a name tz_name_valid refuses, WC_ENOTFOUND for a zone the system does not have
 * ("unknown time zone 'Europe/Berln'"), WC_EFORMAT for a damaged file.
 */
enum wc_status tz_load(const char *name, struct tz **out, struct wc_error *err);
void tz_free(struct tz *z);
const char *tz_name(const struct tz *z);

/* The zone's offset from UTC at instant t, seconds east (Berlin: 3600 or 7200). */
int32_t tz_offset(const struct tz *z, int64_t t);

/*
 * The instant at which the zone's clocks show `local`. In an overlap (clocks set back)
 * the earlier instant; in a gap (clocks set forward, a local time that never shows) the
 * instant `local` would be under the offset before the gap, which the clocks show as
 * `local` plus the gap (02:30 on a spring-forward night is 03:30 summer time).
 */
int64_t tz_local_to_utc(const struct tz *z, int64_t local);

#endif
