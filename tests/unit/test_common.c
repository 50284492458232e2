/* test_common.c - common/: UTC time, ISO 8601, capped buffers, status strings. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/dynbuf.h"
#include "common/status.h"
#include "common/utc.h"
#include "testutil.h"

/* Naive reference: count days year by year and month by month. */
static int64_t naive_days(int64_t y, int m, int d)
{
	int64_t days = 0;

	for (int64_t yy = 1970; yy < y; yy++)
		days += utc_is_leap(yy) ? 366 : 365;
	for (int64_t yy = y; yy < 1970; yy++)
		days -= utc_is_leap(yy) ? 366 : 365;
	for (int mm = 1; mm < m; mm++)
		days += utc_days_in_month(y, mm);
	return days + d - 1;
}

Test(utc, days_from_civil_matches_naive_count)
{
	for (int64_t y = 1600; y <= 2400; y += 7) {
		for (int m = 1; m <= 12; m++) {
			int d = utc_days_in_month(y, m);
			int64_t got = utc_days_from_civil(y, m, d), yy;
			int mm, dd;

			cr_assert_eq(got, naive_days(y, m, d), "%lld-%d-%d",
				     (long long)y, m, d);
			utc_civil_from_days(got, &yy, &mm, &dd);
			cr_assert(yy == y && mm == m && dd == d);
		}
	}
}

Test(utc, matches_libc_timegm)
{
	for (int64_t t = -2208988800LL; t < 4102444800LL; t += 86400 * 37 + 3671) {
		struct tm tm;
		time_t tt = (time_t)t;
		int64_t y;
		int mo, d, h, mi, s;

		gmtime_r(&tt, &tm);
		utc_to_fields(t, &y, &mo, &d, &h, &mi, &s);
		cr_assert(y == tm.tm_year + 1900 && mo == tm.tm_mon + 1 && d == tm.tm_mday &&
			  h == tm.tm_hour && mi == tm.tm_min && s == tm.tm_sec);
		cr_assert_eq(utc_from_fields(y, mo, d, h, mi, s), t);
	}
}

Test(utc, leap_years)
{
	cr_assert(utc_is_leap(2000));
	cr_assert(!utc_is_leap(1900));
	cr_assert(utc_is_leap(2024));
	cr_assert(!utc_is_leap(2023));
	cr_assert_eq(utc_days_in_month(2024, 2), 29);
	cr_assert_eq(utc_days_in_month(2100, 2), 28);
}

Test(utc, parse_iso8601_forms)
{
	static const struct {
		const char *s;
		int64_t want;
	} cases[] = {
		{ "1970-01-01T00:00:00Z", 0 },
		{ "1970-01-01", 0 },
		{ "2024-02-29T12:00:00Z", 1709208000 },
		{ "2024-02-29 12:00:00", 1709208000 },
		{ "2024-02-29T12:00Z", 1709208000 },
		{ "2024-02-29T14:00:00+02:00", 1709208000 },
		{ "2024-02-29T14:00:00+0200", 1709208000 },
		{ "2024-02-29T14:00:00+02", 1709208000 },
		{ "2024-02-29T07:30:00-04:30", 1709208000 },
		{ "2024-02-29T12:00:00.999Z", 1709208000 },
		{ "2012-06-30T24:00:00Z", 1341100800 },
		{ "1969-12-31T23:00:00Z", -3600 },
		{ "2016-12-31T23:59:60Z", 1483228800 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int64_t t = 42;

		cr_assert(utc_parse_iso8601(cases[i].s, &t), "'%s' refused", cases[i].s);
		cr_assert_eq(t, cases[i].want, "'%s': got %lld want %lld", cases[i].s,
			     (long long)t, (long long)cases[i].want);
	}
}

Test(utc, parse_rejects_invalid)
{
	static const char *const bad[] = {
		"", "2023-02-29", "2024-13-01", "2024-00-10", "2024-01-32", "2024-1-1",
		"2024-01-01T25:00:00Z", "2024-01-01T23:60:00Z", "2024-01-01T24:01:00Z",
		"2024-01-01T12:00:00X", "2024-01-01T12", "2024-01-01T12:00:00+25:00",
		"20240101", "2024/01/01", "2024-01-01T12:00:00Z junk", "abcd-ef-gh",
		"2024-01-01T12:00:00.Z",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int64_t t = 42;

		cr_assert(!utc_parse_iso8601(bad[i], &t), "'%s' accepted", bad[i]);
		cr_assert_eq(t, 42, "output touched for '%s'", bad[i]);
	}
	cr_assert(!utc_parse_iso8601(NULL, NULL));
}

Test(utc, compact_hour)
{
	int64_t t;

	cr_assert(utc_parse_compact_hour("2009070100", &t));
	cr_assert_eq(t, utc_from_fields(2009, 7, 1, 0, 0, 0));
	cr_assert(utc_parse("2012062612", &t));
	cr_assert_eq(t, utc_from_fields(2012, 6, 26, 12, 0, 0));
	cr_assert(!utc_parse_compact_hour("2009070124", &t));
	cr_assert(!utc_parse_compact_hour("200907010", &t));
	cr_assert(!utc_parse_compact_hour("2009022900", &t));
}

Test(utc, format_round_trip)
{
	char buf[UTC_ISO_LEN];
	int64_t back;

	cr_assert_str_eq(utc_format(0, buf), "1970-01-01T00:00:00Z");
	cr_assert_str_eq(utc_format(1709208000, buf), "2024-02-29T12:00:00Z");
	cr_assert_str_eq(utc_format(-3600, buf), "1969-12-31T23:00:00Z");
	for (int64_t t = -5000000000LL; t < 5000000000LL; t += 123456789) {
		utc_format(t, buf);
		cr_assert(utc_parse_iso8601(buf, &back));
		cr_assert_eq(back, t);
	}
	cr_assert_eq(utc_floor(-1, 3600), -3600);
	cr_assert_eq(utc_floor(7199, 3600), 3600);
}

Test(dynbuf, cap_is_hard)
{
	struct dynbuf b;

	dynbuf_init(&b, 10);
	cr_assert_eq(dynbuf_adds(&b, "hello"), WC_OK);
	cr_assert_eq(dynbuf_adds(&b, "world"), WC_OK);
	cr_assert_eq(b.len, 10);
	cr_assert_eq(dynbuf_adds(&b, "!"), WC_ETOOLARGE);
	cr_assert_eq(b.len, 10, "a refused append must leave the buffer unchanged");
	cr_assert_str_eq(dynbuf_str(&b), "helloworld");
	dynbuf_reset(&b);
	cr_assert_eq(dynbuf_printf(&b, "%s", "12345678901"), WC_ETOOLARGE);
	cr_assert_eq(b.len, 0);
	cr_assert_eq(dynbuf_printf(&b, "%d-%d", 12, 34), WC_OK);
	cr_assert_str_eq(dynbuf_str(&b), "12-34");
	dynbuf_release(&b);
	cr_assert_str_eq(dynbuf_str(&b), "");
}

Test(dynbuf, grows_and_detaches)
{
	struct dynbuf b;
	size_t len;
	char *p;

	dynbuf_init(&b, 1 << 20);
	for (int i = 0; i < 10000; i++)
		cr_assert_eq(dynbuf_add(&b, "ab", 2), WC_OK);
	cr_assert_eq(b.len, 20000);
	p = dynbuf_detach(&b, &len);
	cr_assert_eq(len, 20000);
	cr_assert_eq(p[19999], 'b');
	cr_assert_eq(p[20000], '\0');
	cr_assert_null(b.data);
	free(p);
	p = dynbuf_detach(&b, &len);
	cr_assert_str_eq(p, "");
	free(p);
}

Test(dynbuf, csv_fields)
{
	struct dynbuf b;

	dynbuf_init(&b, 100);
	dynbuf_add_csv_field(&b, "plain");
	dynbuf_adds(&b, ",");
	dynbuf_add_csv_field(&b, "a,b");
	dynbuf_adds(&b, ",");
	dynbuf_add_csv_field(&b, "say \"hi\"");
	cr_assert_str_eq(dynbuf_str(&b), "plain,\"a,b\",\"say \"\"hi\"\"\"");
	dynbuf_release(&b);
}

Test(status, strings_and_errors)
{
	struct wc_error err = { 0 };

	for (int c = 0; c < WC_STATUS_COUNT; c++)
		cr_assert_str_neq(wc_strerror((enum wc_status)c), "unknown error");
	cr_assert_str_eq(wc_strerror((enum wc_status)999), "unknown error");
	cr_assert_eq(wc_error_set(&err, WC_EIO, "cannot open '%s'", "x.nc"), WC_EIO);
	wc_error_prefix(&err, "ingest");
	cr_assert_str_eq(err.msg, "ingest: cannot open 'x.nc'");
	cr_assert_eq(err.code, WC_EIO);
	wc_error_clear(&err);
	cr_assert_str_eq(wc_error_msg(&err), "success");
	cr_assert_eq(wc_error_set(NULL, WC_EINVAL, "x"), WC_EINVAL);
}
