/*
 * test_trading_market.c - time zones read from TZif files (common/tz.h) against glibc's
 * own reading of the same zones, trading days of 23, 24 and 25 hours, gate closures,
 * market settings (data/market.h: ranges, JSON, merging) and hour-by-hour price files
 * (trading/market.h: gaps, duplicates and bad values refused with their line).
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/tz.h"
#include "common/utc.h"
#include "data/market.h"
#include "trading/market.h"
#include "testutil.h"

static int64_t iso(const char *s)
{
	int64_t t;

	cr_assert(utc_parse(s, &t), "%s", s);
	return t;
}

static struct tz *zone(const char *name)
{
	struct tz *z = NULL;
	struct wc_error err = { 0 };

	cr_assert_eq(tz_load(name, &z, &err), WC_OK, "%s: %s", name, err.msg);
	return z;
}

TestSuite(trading_tz, .timeout = 60);

/*
 * The reference is glibc (localtime_r under TZ=zone, a different reader of the same
 * files): offsets agree at every 97th hour from 1971 to 2099 and an hour either side of
 * each change in between, in zones north and south of the equator, with 30 and 45
 * minute offsets, negative summer time (Europe/Dublin), and abolished summer time.
 */
Test(trading_tz, offsets_agree_with_glibc)
{
	static const char *const zones[] = { "Europe/Berlin", "America/New_York",
					     "Australia/Sydney", "Asia/Kolkata", "Pacific/Chatham",
					     "Europe/Dublin", "America/Sao_Paulo", "Africa/Casablanca",
					     "UTC" };
	int64_t from = iso("1971-01-01T00:00:00Z"), to = iso("2099-12-31T00:00:00Z");

	for (size_t i = 0; i < sizeof(zones) / sizeof(zones[0]); i++) {
		struct tz *z = zone(zones[i]);
		long checked = 0, changes = 0;
		int32_t prev = tz_offset(z, from);

		setenv("TZ", zones[i], 1);
		tzset();
		for (int64_t t = from; t < to; t += 97 * 3600) {
			int64_t probe[3] = { t, 0, 0 };
			int np = 1;
			int32_t off = tz_offset(z, t);

			if (off != prev) {	/* look at the hour around the change too */
				probe[np++] = t - 97 * 3600 / 2;
				probe[np++] = t - 1;
				changes++;
			}
			prev = off;
			for (int k = 0; k < np; k++) {
				time_t tt = (time_t)probe[k];
				struct tm tm;

				cr_assert_not_null(localtime_r(&tt, &tm));
				cr_assert_eq(tz_offset(z, probe[k]), (int32_t)tm.tm_gmtoff,
					     "%s at %lld: ours %d, glibc %ld", zones[i],
					     (long long)probe[k], tz_offset(z, probe[k]),
					     tm.tm_gmtoff);
				checked++;
			}
		}
		cr_assert_gt(checked, 11000);
		if (strcmp(zones[i], "UTC") && strcmp(zones[i], "Asia/Kolkata"))
			cr_assert_gt(changes, 10, "%s: no clock changes seen", zones[i]);
		tz_free(z);
	}
}

Test(trading_tz, berlin_changes_and_local_times)
{
	struct tz *z = zone("Europe/Berlin");

	/* 2026: last Sundays of March and October at 01:00 UTC; 2045 from the footer rule */
	cr_assert_eq(tz_offset(z, iso("2026-03-29T00:59:59Z")), 3600);
	cr_assert_eq(tz_offset(z, iso("2026-03-29T01:00:00Z")), 7200);
	cr_assert_eq(tz_offset(z, iso("2026-10-25T00:59:59Z")), 7200);
	cr_assert_eq(tz_offset(z, iso("2026-10-25T01:00:00Z")), 3600);
	cr_assert_eq(tz_offset(z, iso("2045-03-26T00:59:59Z")), 3600);
	cr_assert_eq(tz_offset(z, iso("2045-03-26T01:00:00Z")), 7200);
	cr_assert_eq(tz_offset(z, iso("2045-10-29T01:00:00Z")), 3600);
	/* local 02:30 on 2026-03-29 never shows: the gap's instant is 03:30 summer time */
	cr_assert_eq(tz_local_to_utc(z, iso("2026-03-29T02:30:00Z")), iso("2026-03-29T01:30:00Z"));
	/* local 02:30 on 2026-10-25 shows twice: the earlier */
	cr_assert_eq(tz_local_to_utc(z, iso("2026-10-25T02:30:00Z")), iso("2026-10-25T00:30:00Z"));
	cr_assert_eq(tz_local_to_utc(z, iso("2026-07-01T12:00:00Z")), iso("2026-07-01T10:00:00Z"));
	tz_free(z);
}

Test(trading_tz, bad_and_unknown_zones)
{
	struct tz *z = NULL;
	struct wc_error err = { 0 };
	char *dir = tu_tmpdir(), path[4200];
	FILE *fp;

	cr_assert_eq(tz_load("Europe/Berln", &z, &err), WC_ENOTFOUND);
	cr_assert_str_eq(err.msg, "unknown time zone 'Europe/Berln': use an IANA name such as "
				  "UTC or Europe/Berlin (zone files in '/usr/share/zoneinfo')");
	cr_assert_null(z);
	cr_assert_eq(tz_load("Europe", &z, &err), WC_ENOTFOUND, "a directory: %s", err.msg);
	cr_assert_eq(tz_load("../../etc/passwd", &z, &err), WC_EINVAL);
	cr_assert_eq(tz_load("/etc/localtime", &z, &err), WC_EINVAL);
	cr_assert_eq(tz_load("Europe//Berlin", &z, &err), WC_EINVAL);
	cr_assert_eq(tz_load("", &z, &err), WC_EINVAL);
	cr_assert(!tz_name_valid("a/./b") && !tz_name_valid("a b") && tz_name_valid("Etc/GMT+5"));
	/* a file that is not TZif, and a truncated one, under $TZDIR */
	snprintf(path, sizeof(path), "%s/Bad", dir);
	fp = fopen(path, "w");
	fputs("not a zone file", fp);
	fclose(fp);
	snprintf(path, sizeof(path), "%s/Cut", dir);
	fp = fopen(path, "w");
	{
		FILE *src = fopen("/usr/share/zoneinfo/Europe/Berlin", "rb");
		char buf[300];
		size_t n = fread(buf, 1, sizeof(buf), src);

		fwrite(buf, 1, n, fp);
		fclose(src);
	}
	fclose(fp);
	setenv("TZDIR", dir, 1);
	cr_assert_eq(tz_load("Bad", &z, &err), WC_EFORMAT, "%s", err.msg);
	cr_assert(strstr(err.msg, "is not a TZif file"), "%s", err.msg);
	cr_assert_eq(tz_load("Cut", &z, &err), WC_EFORMAT, "%s", err.msg);
	cr_assert_eq(tz_load("UTC", &z, &err), WC_OK, "UTC needs no file");
	tz_free(z);
	unsetenv("TZDIR");
	tu_rmrf_free(dir);
}

TestSuite(trading_day, .timeout = 30);

static void day(const char *zname, const char *date, int gate, const char *start,
		const char *end, int n, const char *gate_utc)
{
	struct tz *z = zone(zname);
	struct trading_day d;
	struct wc_error err = { 0 };
	int64_t dd;

	cr_assert(trading_day_parse(date, &dd), "%s", date);
	cr_assert_eq(trading_day_init(&d, z, dd, gate, &err), WC_OK, "%s", err.msg);
	cr_assert_eq(d.start, iso(start), "%s %s start", zname, date);
	cr_assert_eq(d.end, iso(end), "%s %s end", zname, date);
	cr_assert_eq(d.nperiods, n, "%s %s: %d periods", zname, date, d.nperiods);
	cr_assert_eq(d.gate, iso(gate_utc), "%s %s gate", zname, date);
	tz_free(z);
}

Test(trading_day, periods_of_23_24_and_25_hours)
{
	/* clocks forward on the last Sunday of March: 23 hours */
	day("Europe/Berlin", "2026-03-29", 720, "2026-03-28T23:00:00Z", "2026-03-29T22:00:00Z",
	    23, "2026-03-28T11:00:00Z");
	/* back on the last Sunday of October: 25 hours */
	day("Europe/Berlin", "2026-10-25", 720, "2026-10-24T22:00:00Z", "2026-10-25T23:00:00Z",
	    25, "2026-10-24T10:00:00Z");
	day("Europe/Berlin", "2026-06-15", 720, "2026-06-14T22:00:00Z", "2026-06-15T22:00:00Z",
	    24, "2026-06-14T10:00:00Z");
	day("UTC", "2026-03-29", 720, "2026-03-29T00:00:00Z", "2026-03-30T00:00:00Z", 24,
	    "2026-03-28T12:00:00Z");
	/* the US changes on other Sundays; a gate at 09:30 local */
	day("America/New_York", "2026-03-08", 570, "2026-03-08T05:00:00Z", "2026-03-09T04:00:00Z",
	    23, "2026-03-07T14:30:00Z");
	day("America/New_York", "2026-11-01", 0, "2026-11-01T04:00:00Z", "2026-11-02T05:00:00Z", 25,
	    "2026-10-31T04:00:00Z");
}

Test(trading_day, zones_off_the_hour_and_bad_dates)
{
	struct tz *z = zone("Asia/Kolkata");
	struct trading_day d;
	struct wc_error err = { 0 };
	int64_t dd;

	cr_assert(trading_day_parse("2026-03-29", &dd));
	cr_assert_eq(trading_day_init(&d, z, dd, 720, &err), WC_EUNSUPPORTED);
	cr_assert(strstr(err.msg, "whole UTC hours"), "%s", err.msg);
	tz_free(z);
	cr_assert(!trading_day_parse("2026-02-29", &dd));
	cr_assert(!trading_day_parse("2026-3-29", &dd));
	cr_assert(!trading_day_parse("2026-03-29T00", &dd));
	cr_assert(!trading_day_parse("20260329", &dd));
	cr_assert(!trading_day_parse("1969-12-31", &dd));
	cr_assert(trading_day_parse("2028-02-29", &dd));
}

TestSuite(market_settings, .timeout = 30);

Test(market_settings, values_refused_with_the_field_hint)
{
	static const struct {
		const char *key, *value, *hint;
	} bad[] = {
		{ "price", "-1", "use a number 0..100000 (currency per MWh)" },
		{ "price", "nan", "use a number 0..100000" },
		{ "price", "NaN", "use a number 0..100000" },
		{ "price", "inf", "use a number 0..100000" },
		{ "price", "100001", "use a number 0..100000" },
		{ "price", "", "use a number 0..100000" },
		{ "price", "5e", "use a number 0..100000" },
		{ "psi_plus", "-0.5", "use a number 0..100000" },
		{ "psi_minus", "abc", "use a number 0..100000" },
		{ "gate_closure", "24:00", "use a local time HH:MM, 00:00..23:59" },
		{ "gate_closure", "12:60", "use a local time HH:MM" },
		{ "gate_closure", "9:00", "use a local time HH:MM" },
		{ "gate_closure", "12:00:00", "use a local time HH:MM" },
		{ "time_zone", "Mars/Olympus", "unknown time zone 'Mars/Olympus'" },
		{ "time_zone", "../x", "invalid time zone '../x'" },
		{ "min_mw", "-3", "use a number of MW, 0..100000" },
		{ "max_mw", "1e9", "use a number of MW" },
		{ "pirce", "50", "unknown" },
	};
	struct market_settings m;
	struct wc_error err = { 0 };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		market_init(&m);
		cr_assert_eq(market_set(&m, bad[i].key, bad[i].value, &err), WC_EINVAL, "%s=%s",
			     bad[i].key, bad[i].value);
		cr_assert(!strncmp(err.msg, bad[i].hint, strlen(bad[i].hint)), "%s=%s: %s",
			  bad[i].key, bad[i].value, err.msg);
		cr_assert(market_empty(&m), "%s=%s changed the settings", bad[i].key, bad[i].value);
	}
	/* the ends of each range are accepted */
	market_init(&m);
	cr_assert_eq(market_set(&m, "price", "0", &err), WC_OK);
	cr_assert_eq(market_set(&m, "psi_plus", "100000", &err), WC_OK);
	cr_assert_eq(market_set(&m, "gate_closure", "23:59", &err), WC_OK);
	cr_assert_eq(m.gate_min, 23 * 60 + 59);
	cr_assert_eq(market_set(&m, "gate_closure", "00:00", &err), WC_OK);
	cr_assert_eq(m.gate_min, 0);
	cr_assert_eq(market_set(&m, "time_zone", "Europe/Berlin", &err), WC_OK);
	cr_assert_str_eq(m.time_zone, "Europe/Berlin");
	/* min above max */
	m.min_mw = 10;
	m.max_mw = 5;
	cr_assert_eq(market_validate(&m, &err), WC_EINVAL);
	cr_assert_str_eq(err.msg, "invalid market settings: min_mw 10 is above max_mw 5");
}

Test(market_settings, json_round_trip_merge_and_defaults)
{
	struct market_settings m, b, o, r;
	struct wc_error err = { 0 };
	json_t *v = json_loads("{\"price\":50,\"psi_plus\":10,\"psi_minus\":30,"
			       "\"gate_closure\":\"11:30\",\"time_zone\":\"Europe/Berlin\","
			       "\"min_mw\":null}",
			       0, NULL), *w;

	cr_assert_eq(market_from_json(v, &m, &err), WC_OK, "%s", err.msg);
	cr_assert(m.price == 50 && m.psi_plus == 10 && m.psi_minus == 30 && m.gate_min == 690);
	cr_assert(isnan(m.min_mw) && isnan(m.max_mw));
	w = market_to_json(&m);
	cr_assert_eq(market_from_json(w, &r, &err), WC_OK);
	cr_assert(!memcmp(&r.price, &m.price, sizeof(double) * 3) && r.gate_min == m.gate_min &&
		  !strcmp(r.time_zone, m.time_zone));
	json_decref(v);
	json_decref(w);
	/* refusals name the key */
	v = json_loads("{\"prize\":50}", 0, NULL);
	cr_assert_eq(market_from_json(v, &m, &err), WC_EINVAL);
	cr_assert(strstr(err.msg, "unknown key 'prize'"), "%s", err.msg);
	json_decref(v);
	v = json_loads("{\"price\":-5}", 0, NULL);
	cr_assert_eq(market_from_json(v, &m, &err), WC_EINVAL);
	cr_assert_str_eq(err.msg, "field 'market': invalid price -5: use a number 0..100000 "
				  "(currency per MWh)");
	json_decref(v);
	v = json_loads("{\"price\":\"50\"}", 0, NULL);
	cr_assert_eq(market_from_json(v, &m, &err), WC_EINVAL);
	cr_assert(strstr(err.msg, "invalid price \"50\": use a number"), "%s", err.msg);
	json_decref(v);
	v = json_loads("{\"time_zone\":\"Nowhere/Land\"}", 0, NULL);
	cr_assert_eq(market_from_json(v, &m, &err), WC_EINVAL);
	cr_assert(strstr(err.msg, "unknown time zone 'Nowhere/Land'"), "%s", err.msg);
	json_decref(v);
	/* the request's fields over the stored, then the defaults */
	market_init(&b);
	market_init(&o);
	b.price = 40;
	b.psi_plus = 5;
	o.price = 60;
	o.max_mw = 20;
	market_merge(&r, &b, &o);
	cr_assert(r.price == 60 && r.psi_plus == 5 && isnan(r.psi_minus) && r.max_mw == 20);
	cr_assert(r.gate_min == -1 && !r.time_zone[0]);
	market_defaults(&r);
	cr_assert_eq(r.gate_min, 720);
	cr_assert_str_eq(r.time_zone, "UTC");
}

TestSuite(price_file, .timeout = 30);

static enum wc_status parse(const char *text, struct price_table *t, struct wc_error *err)
{
	return price_table_parse(text, strlen(text), t, err);
}

Test(price_file, rows_and_refusals_with_line_numbers)
{
	static const struct {
		const char *text, *msg;
	} bad[] = {
		{ "", "empty: expected the header" },
		{ "time,price\n", "line 1: expected the header 'period_start,price,psi_plus,psi_minus'" },
		{ "period_start,price,psi_plus,psi_minus\n", "no rows after the header" },
		{ "period_start,price,psi_plus,psi_minus\n2026-03-01T00:00Z,50,10,30\n"
		  "2026-03-01T02:00Z,50,10,30\n",
		  "line 3: gap: period 2026-03-01T02:00:00Z follows 2026-03-01T00:00:00Z (1 hours "
		  "missing)" },
		{ "period_start,price,psi_plus,psi_minus\n2026-03-01T00:00Z,50,10,30\n"
		  "2026-03-01T01:00Z,50,10,30\n2026-03-01T01:00Z,51,10,30\n",
		  "line 4: duplicate period 2026-03-01T01:00:00Z" },
		{ "period_start,price,psi_plus,psi_minus\n2026-03-01T05:00Z,50,10,30\n"
		  "2026-03-01T04:00Z,50,10,30\n",
		  "line 3: period 2026-03-01T04:00:00Z comes before the previous row's" },
		{ "period_start,price,psi_plus,psi_minus\n2026-03-01T00:30Z,50,10,30\n",
		  "line 2: period_start 2026-03-01T00:30:00Z is not on a whole hour" },
		{ "period_start,price,psi_plus,psi_minus\n2026-03-01T00:00Z,-50,10,30\n",
		  "line 2: invalid price '-50': use a number 0..100000" },
		{ "period_start,price,psi_plus,psi_minus\n2026-03-01T00:00Z,50,nan,30\n",
		  "line 2: invalid psi_plus 'nan'" },
		{ "period_start,price,psi_plus,psi_minus\n2026-03-01T00:00Z,50,10\n",
		  "line 2: expected 4 fields" },
		{ "period_start,price,psi_plus,psi_minus\n2026-03-01T00:00Z,50,10,30,1\n",
		  "line 2: expected 4 fields" },
		{ "period_start,price,psi_plus,psi_minus\nyesterday,50,10,30\n",
		  "line 2: invalid period_start 'yesterday'" },
	};
	struct price_table t;
	struct wc_error err = { 0 };
	struct market_settings m;
	struct period_prices pp[3];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_neq(parse(bad[i].text, &t, &err), WC_OK, "%s", bad[i].text);
		cr_assert(!strncmp(err.msg, bad[i].msg, strlen(bad[i].msg)), "%s\ngot: %s",
			  bad[i].text, err.msg);
		cr_assert_null(t.rows);
	}
	/* CRLF, blank lines, offsets */
	cr_assert_eq(parse("period_start,price,psi_plus,psi_minus\r\n"
			   "2026-03-01T01:00+01:00,50,10,30\r\n\r\n"
			   "2026-03-01T01:00Z,60.5,0,20\r\n2026-03-01T02:00:00Z,0,1,1\r\n",
			   &t, &err),
		     WC_OK, "%s", err.msg);
	cr_assert_eq(t.n, 3);
	cr_assert_eq(t.first, iso("2026-03-01T00:00:00Z"));
	cr_assert(t.rows[1].price == 60.5 && t.rows[1].psi_plus == 0 && t.rows[1].psi_minus == 20);
	/* the periods asked for must all be in the file */
	market_init(&m);
	cr_assert_eq(market_prices(&m, &t, iso("2026-03-01T01:00Z"), 2, "farm 'a'", pp, &err),
		     WC_OK, "%s", err.msg);
	cr_assert(pp[0].price == 60.5 && pp[1].price == 0);
	cr_assert_eq(market_prices(&m, &t, iso("2026-03-01T01:00Z"), 3, "farm 'a'", pp, &err),
		     WC_EINVAL);
	cr_assert_str_eq(err.msg, "the prices file has no row for period 2026-03-01T03:00:00Z (it "
				  "covers 2026-03-01T00:00:00Z to 2026-03-01T03:00:00Z)");
	price_table_release(&t);
	/* without a file the settings must hold the three prices, and a penalty */
	cr_assert_eq(market_prices(&m, NULL, iso("2026-03-01T01:00Z"), 1, "farm 'a'", pp, &err),
		     WC_EINVAL);
	cr_assert_str_eq(err.msg, "no price for farm 'a': give --price (or the query parameter "
				  "price), a prices file, or store it in the market settings");
	m.price = 50;
	m.psi_plus = 0;
	m.psi_minus = 0;
	cr_assert_eq(market_prices(&m, NULL, iso("2026-03-01T01:00Z"), 1, "farm 'a'", pp, &err),
		     WC_EINVAL);
	cr_assert(strstr(err.msg, "psi_plus and psi_minus are both 0"), "%s", err.msg);
}
