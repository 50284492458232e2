/*
 * market.h - what market settings (data/market.h) mean for trading: the delivery
 * periods of a trading day in the market's time zone, its gate closure instant, and the
 * prices of each period, from the settings or from an hour-by-hour price file.
 *
 * A trading day is a local calendar day of the market's zone: its periods are the
 * hours from local midnight to the next, so 23 or 25 of them on the days clocks change
 * (Europe/Berlin on the last Sundays of March and October). Periods are labelled by
 * their start and end in UTC; a period ending at E is the forecast's hour-ending valid
 * time E. Zones whose midnight does not fall on a whole UTC hour (Asia/Kolkata) cannot
 * be served by hourly forecasts and are refused when a day is asked for.
 *
 * The gate closure is the settings' local time on the day before delivery (a local time
 * that a clock change skips moves forward by the gap, tz_local_to_utc).
 */
#ifndef WC_TRADING_MARKET_H
#define WC_TRADING_MARKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/status.h"
#include "common/tz.h"
#include "data/market.h"

#define PRICES_TEXT_MAX (4u << 20)	/* bytes of a price file */
#define PRICES_LINE_MAX 256		/* bytes of one of its lines */
#define PRICES_MAX_ROWS 100000		/* about 11 years of hours */

struct trading_day {
	int64_t day;		/* the local date, days since 1970-01-01 */
	int64_t start, end;	/* UTC: local midnight and the next */
	int nperiods;		/* hours: 23, 24 or 25 */
	int64_t gate;		/* UTC: gate closure, the day before */
};

/*
 * Parse "YYYY-MM-DD" into days since 1970-01-01 (years 1970..9999); false when it is not
 * a valid date of that form.
 */
bool trading_day_parse(const char *s, int64_t *day);

/*
 * The trading day `day` of zone z with gate closure gate_min (minutes after local
 * midnight of the day before). WC_EUNSUPPORTED when its periods would not be whole
 * UTC hours.
 */
enum wc_status trading_day_init(struct trading_day *d, const struct tz *z, int64_t day,
				int gate_min, struct wc_error *err);

/* The prices of one delivery period. */
struct period_prices {
	double price, psi_plus, psi_minus;
};

/* An hour-by-hour price file: rows for consecutive hours from `first`. */
struct price_table {
	int64_t first;		/* the first row's period start (UTC, a whole hour) */
	size_t n;
	struct period_prices *rows;	/* (n) malloc'd */
};

void price_table_release(struct price_table *t);

/*
 * Parse a price file (len bytes, at most PRICES_TEXT_MAX): the header
 * "period_start,price,psi_plus,psi_minus", then one row per hour (ISO 8601 start,
 * three numbers 0..MARKET_PRICE_MAX), consecutive and increasing; CRLF and blank lines
 * accepted. A gap, a duplicate or a period not on a whole hour is refused with its line
 * number ("line 5: duplicate period 2026-03-01T03:00:00Z"), as are negative or non-finite
 * numbers. WC_EFORMAT (WC_ETOOLARGE past the caps); the caller prefixes the source.
 */
enum wc_status price_table_parse(const char *text, size_t len, struct price_table *t,
				 struct wc_error *err);

/*
 * The prices of every period start[i] = first + i h, i < n: from the table when there
 * is one (every period must be in it, else WC_EINVAL naming the first missing and what
 * the file covers), else from m (price, psi_plus and psi_minus must be set, else
 * WC_EINVAL saying how to give them). `whose` names the farm or portfolio in messages.
 * Each period also needs psi_plus + psi_minus > 0 (the rule's level is their ratio).
 */
enum wc_status market_prices(const struct market_settings *m, const struct price_table *t,
			     int64_t first, int n, const char *whose, struct period_prices *out,
			     struct wc_error *err);

#endif
