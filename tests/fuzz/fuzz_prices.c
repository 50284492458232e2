/*
 * fuzz_prices.c - libFuzzer harness over the hour-by-hour price file
 * (price_table_parse: `windcast commit --prices FILE`, the body of POST
 * /v1/farms/{id}/commitments) and the trading day (trading_day_parse, `--day` and
 * `?day=`).
 *
 * Checked on every accepted day: 1970-01-01 .. 9999-12-31, naming the day it was given.
 * Checked on every accepted table: at least one row, its first period on a whole hour,
 * every number finite and inside 0..MARKET_PRICE_MAX; written out again as a price file
 * (times ISO 8601, numbers with %.17g) it parses to the same table, bit for bit.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/dynbuf.h"
#include "common/log.h"
#include "common/utc.h"
#include "trading/market.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what)
{
	fprintf(stderr, "%s\n", what);
	abort();
}

static bool in_range(double x)
{
	return isfinite(x) && x >= 0 && x <= MARKET_PRICE_MAX;
}

static void check(const struct price_table *t)
{
	struct price_table u = { 0 };
	struct wc_error err = { 0 };
	struct dynbuf b;
	char iso[UTC_ISO_LEN];

	if (t->n == 0 || !t->rows)
		fail("accepted price table is empty");
	if (t->first % UTC_HOUR)
		fail("accepted price table starts off the hour");
	dynbuf_init(&b, 64u << 20);
	if (dynbuf_adds(&b, "period_start,price,psi_plus,psi_minus\n"))
		abort();
	for (size_t i = 0; i < t->n; i++) {
		const struct period_prices *r = &t->rows[i];

		if (!in_range(r->price) || !in_range(r->psi_plus) || !in_range(r->psi_minus))
			fail("accepted price out of range");
		if (dynbuf_printf(&b, "%s,%.17g,%.17g,%.17g\n",
				  utc_format(t->first + (int64_t)i * UTC_HOUR, iso), r->price,
				  r->psi_plus, r->psi_minus))
			abort();
	}
	if (b.len <= PRICES_TEXT_MAX) {
		if (price_table_parse(b.data, b.len, &u, &err))
			fprintf(stderr, "re-parse: %s\n", err.msg), fail("written table refused");
		if (u.first != t->first || u.n != t->n ||
		    memcmp(u.rows, t->rows, t->n * sizeof(*t->rows)))
			fail("round trip: tables differ");
		price_table_release(&u);
	}
	dynbuf_release(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct price_table t = { 0 };
	struct wc_error err = { 0 };

	log_set_level(LOG_OFF);
	if (size <= PRICES_TEXT_MAX && price_table_parse((const char *)data, size, &t, &err) == WC_OK)
		check(&t);
	price_table_release(&t);
	if (size < 64) {
		char s[64];
		int64_t day;

		memcpy(s, data, size);
		s[size] = '\0';
		if (trading_day_parse(s, &day)) {
			int64_t y;
			int m, d;
			char back[32];

			/* 1970-01-01 .. 9999-12-31, and it names the same day */
			if (day < 0 || day > utc_days_from_civil(9999, 12, 31))
				fail("accepted trading day out of range");
			utc_civil_from_days(day, &y, &m, &d);
			snprintf(back, sizeof(back), "%04lld-%02d-%02d", (long long)y, m, d);
			if (strcmp(back, s))
				fail("accepted trading day names another day");
		}
	}
	return 0;
}
