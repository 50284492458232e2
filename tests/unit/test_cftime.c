/* test_cftime.c - CF time units (every variant of CATALOG.md R5) and calendars. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "common/utc.h"
#include "data/cftime.h"

static int64_t conv(const char *units, const char *cal, double v)
{
	struct cftime t;
	struct wc_error err = { 0 };
	int64_t out = 0;

	cr_assert_eq(cftime_parse(&t, units, cal, &err), WC_OK, "%s: %s", units, err.msg);
	cr_assert_eq(cftime_to_utc(&t, v, &out, &err), WC_OK, "%s: %s", units, err.msg);
	return out;
}

static int64_t iso(const char *s)
{
	int64_t t = 0;

	cr_assert(utc_parse_iso8601(s, &t), "%s", s);
	return t;
}

Test(cftime_units, catalogue_variants)
{
	cr_assert_eq(conv("hours since 1900-01-01 00:00:00.0", "gregorian", 1026624),
		     iso("2017-02-12T00:00:00Z"));
	cr_assert_eq(conv("seconds since 1970-01-01 00:00:00.0 0:00", NULL, 1582956000),
		     iso("2020-02-29T06:00:00Z"));
	cr_assert_eq(conv("seconds since 1970-01-01 00:00:00 +00:00", NULL, 1452729600),
		     iso("2016-01-14T00:00:00Z"));
	cr_assert_eq(conv("Hour since 2013-06-27T00:00:00Z", NULL, 354),
		     iso("2013-07-11T18:00:00Z"));
	cr_assert_eq(conv("hours since 1800-1-1 00:00:0.0", NULL, 1965720),
		     iso("2024-04-01T00:00:00Z"));
	cr_assert_eq(conv("minutes since 2015-01-01 00:30:00", NULL, 90),
		     iso("2015-01-01T02:00:00Z"));
	cr_assert_eq(conv("days since 1970-01-01 00:00:0.0", NULL, 1.5),
		     iso("1970-01-02T12:00:00Z"));
	cr_assert_eq(conv("seconds since 1970-01-01", "proleptic_gregorian", 1748055600),
		     iso("2025-05-24T03:00:00Z"));
	cr_assert_eq(conv("HOURS SINCE 2000-01-01T00:00:00.500Z", NULL, 1), iso("2000-01-01T01:00:01Z"));
	cr_assert_eq(conv("hours since 2000-01-01 06:00:00 +06:00", NULL, 0),
		     iso("2000-01-01T00:00:00Z"));
	cr_assert_eq(conv("hours since 2000-01-01 00:00 -0130", NULL, 0),
		     iso("2000-01-01T01:30:00Z"));
	cr_assert_eq(conv("hours since 2000-01-01 00:00 UTC", NULL, 0), iso("2000-01-01T00:00:00Z"));
	cr_assert_eq(conv("hour since 2000-01-01", NULL, 24), iso("2000-01-02T00:00:00Z"));
}

Test(cftime_units, duration_and_refusals)
{
	struct cftime t;
	struct wc_error err = { 0 };
	int64_t out;

	cr_assert_eq(cftime_parse(&t, "hours", NULL, &err), WC_OK);
	cr_assert(!t.has_epoch);
	cr_assert_eq(cftime_to_utc(&t, 6, &out, &err), WC_OK);
	cr_assert_eq(out, 6 * 3600);
	cr_assert_eq(cftime_parse(&t, "months since 2000-01-01", NULL, &err), WC_EUNSUPPORTED);
	cr_assert(strstr(err.msg, "months since 2000-01-01"), "%s", err.msg);
	cr_assert_eq(cftime_parse(&t, "", NULL, &err), WC_EFORMAT);
	cr_assert_eq(cftime_parse(&t, "hours since", NULL, &err), WC_EFORMAT);
	cr_assert_eq(cftime_parse(&t, "hours since 2000-13-01", NULL, &err), WC_EFORMAT);
	cr_assert_eq(cftime_parse(&t, "hours since 2000-01-01 25:00", NULL, &err), WC_EFORMAT);
	cr_assert_eq(cftime_parse(&t, "hours since 2000-01-01 garbage", NULL, &err), WC_EFORMAT);
	cr_assert_eq(cftime_parse(&t, "furlongs since 2000-01-01", NULL, &err), WC_EFORMAT);
	cr_assert_eq(cftime_parse(&t, "hours since 2000-01-01", "none", &err), WC_EUNSUPPORTED);
	cr_assert(strstr(err.msg, "unsupported calendar 'none'"), "%s", err.msg);
	cr_assert_eq(cftime_parse(&t, "hours since 2000-01-01", NULL, &err), WC_OK);
	cr_assert_eq(cftime_to_utc(&t, NAN, &out, &err), WC_EINVAL);
	cr_assert_eq(cftime_to_utc(&t, 1e300, &out, &err), WC_EINVAL);
}

Test(cftime_calendars, model_calendars_map_date_for_date)
{
	struct cftime t;
	struct wc_error err = { 0 };
	int64_t out;

	/* noleap: day 59 after 2001-01-01 is 03-01 in every year, 2000 included */
	cr_assert_eq(conv("days since 2000-01-01", "noleap", 59), iso("2000-03-01T00:00:00Z"));
	cr_assert_eq(conv("days since 2000-01-01", "365_day", 365), iso("2001-01-01T00:00:00Z"));
	cr_assert_eq(conv("days since 2000-01-01", "standard", 59), iso("2000-02-29T00:00:00Z"));
	/* all_leap: 2001-02-29 exists in the model but not in the real calendar */
	cr_assert_eq(conv("days since 2001-01-01", "all_leap", 60), iso("2001-03-01T00:00:00Z"));
	cr_assert_eq(cftime_parse(&t, "days since 2001-01-01", "366_day", &err), WC_OK);
	cr_assert_eq(cftime_to_utc(&t, 59, &out, &err), WC_EUNSUPPORTED);
	cr_assert(strstr(err.msg, "2001-02-29"), "%s", err.msg);
	/* 360_day: months of 30 days */
	cr_assert_eq(conv("days since 2001-01-01", "360_day", 30), iso("2001-02-01T00:00:00Z"));
	cr_assert_eq(conv("hours since 2001-01-01", "360_day", 360 * 24),
		     iso("2002-01-01T00:00:00Z"));
	cr_assert_eq(cftime_parse(&t, "days since 2000-01-01", "360_day", &err), WC_OK);
	cr_assert_eq(cftime_to_utc(&t, 58, &out, &err), WC_OK);	/* 2000-02-29 */
	cr_assert_eq(out, iso("2000-02-29T00:00:00Z"));
	cr_assert_eq(cftime_to_utc(&t, 59, &out, &err), WC_EUNSUPPORTED);
	cr_assert(strstr(err.msg, "cannot convert time 2000-02-30 (360_day) to UTC"), "%s",
		  err.msg);
	/* standard before the Gregorian reform is Julian; proleptic is not */
	cr_assert_eq(conv("days since 1582-10-04", "standard", 1), iso("1582-10-15T00:00:00Z"));
	cr_assert_eq(conv("days since 1582-10-04", "proleptic_gregorian", 1),
		     iso("1582-10-05T00:00:00Z"));
	cr_assert_eq(conv("days since 1500-03-01", "julian", 0), iso("1500-03-11T00:00:00Z"));
}

Test(cftime_wrf, times_strings)
{
	int64_t t;

	cr_assert(cftime_parse_wrf("2005-08-28_12:00:00", 19, &t));
	cr_assert_eq(t, iso("2005-08-28T12:00:00Z"));
	cr_assert(cftime_parse_wrf("2005-08-28_12:00:00\0\0", 21, &t));
	cr_assert(!cftime_parse_wrf("2005-08-28_12:00", 16, &t));
	cr_assert(!cftime_parse_wrf("2005-02-30_12:00:00", 19, &t));
	cr_assert(!cftime_parse_wrf("2005-08-28x12:00:00", 19, &t));
}
