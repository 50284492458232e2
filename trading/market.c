/* market.c - trading days, gate closures and period prices; see market.h. */
#include "trading/market.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/utc.h"

bool trading_day_parse(const char *s, int64_t *day)
{
	int y, m, d;
	char tail;

	if (strlen(s) != 10 || s[4] != '-' || s[7] != '-' ||
	    sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3 || y < 1970 || m < 1 || m > 12 ||
	    d < 1 || d > utc_days_in_month(y, m))
		return false;
	for (int i = 0; i < 10; i++)
		if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
			return false;
	*day = utc_days_from_civil(y, m, d);
	return true;
}

enum wc_status trading_day_init(struct trading_day *d, const struct tz *z, int64_t day,
				int gate_min, struct wc_error *err)
{
	int64_t y;
	int m, dd;

	d->day = day;
	d->start = tz_local_to_utc(z, day * UTC_DAY);
	d->end = tz_local_to_utc(z, (day + 1) * UTC_DAY);
	d->gate = tz_local_to_utc(z, (day - 1) * UTC_DAY + (int64_t)gate_min * 60);
	d->nperiods = (int)((d->end - d->start) / UTC_HOUR);
	if (d->start % UTC_HOUR || d->end % UTC_HOUR) {
		utc_civil_from_days(day, &y, &m, &dd);
		return wc_error_set(err, WC_EUNSUPPORTED,
				    "the trading day %04lld-%02d-%02d of time zone '%s' does not start "
				    "and end on whole UTC hours: forecasts are hourly",
				    (long long)y, m, dd, tz_name(z));
	}
	return WC_OK;
}

void price_table_release(struct price_table *t)
{
	free(t->rows);
	t->rows = NULL;
	t->n = 0;
}

/* A number 0..MARKET_PRICE_MAX, the whole field; false when not. */
static bool price_field(const char *s, double *out)
{
	char *end;

	errno = 0;
	*out = strtod(s, &end);
	return *s && !*end && !errno && isfinite(*out) && *out >= 0 && *out <= MARKET_PRICE_MAX;
}

/* One row "start,price,psi_plus,psi_minus" (line ending cut) into r and *start. */
static enum wc_status price_row(char *line, int lineno, int64_t *start,
				struct period_prices *r, struct wc_error *err)
{
	static const char *const names[] = { "period_start", "price", "psi_plus", "psi_minus" };
	char *f[4], *p = line;
	double *num[3] = { &r->price, &r->psi_plus, &r->psi_minus };
	char t[UTC_ISO_LEN];

	for (int i = 0; i < 4; i++) {
		f[i] = p;
		p = strchr(p, ',');
		if ((i < 3) != (p != NULL))
			return wc_error_set(err, WC_EFORMAT,
					    "line %d: expected 4 fields "
					    "'period_start,price,psi_plus,psi_minus'",
					    lineno);
		if (p)
			*p++ = '\0';
	}
	if (!utc_parse_iso8601(f[0], start))
		return wc_error_set(err, WC_EFORMAT,
				    "line %d: invalid period_start '%.40s': use ISO 8601, e.g. "
				    "2026-03-01T00:00:00Z",
				    lineno, f[0]);
	if (*start % UTC_HOUR)
		return wc_error_set(err, WC_EFORMAT,
				    "line %d: period_start %s is not on a whole hour", lineno,
				    utc_format(*start, t));
	for (int i = 0; i < 3; i++)
		if (!price_field(f[i + 1], num[i]))
			return wc_error_set(err, WC_EFORMAT,
					    "line %d: invalid %s '%.40s': use a number 0..%g (currency "
					    "per MWh)",
					    lineno, names[i + 1], f[i + 1], MARKET_PRICE_MAX);
	return WC_OK;
}

enum wc_status price_table_parse(const char *text, size_t len, struct price_table *t,
				 struct wc_error *err)
{
	const char *p = text, *end = text + len;
	char line[PRICES_LINE_MAX + 1], a[UTC_ISO_LEN], b[UTC_ISO_LEN];
	size_t cap = 0;
	int lineno = 0;
	int64_t prev = 0;
	enum wc_status ret = WC_OK;

	memset(t, 0, sizeof(*t));
	if (len > PRICES_TEXT_MAX)
		return wc_error_set(err, WC_ETOOLARGE, "larger than %u MiB", PRICES_TEXT_MAX >> 20);
	while (p < end && !ret) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = (size_t)((nl ? nl : end) - p);
		struct period_prices r;
		int64_t start;

		lineno++;
		if (n > 0 && p[n - 1] == '\r')
			n--;
		if (n > PRICES_LINE_MAX) {
			ret = wc_error_set(err, WC_EFORMAT, "line %d is longer than %d bytes", lineno,
					   PRICES_LINE_MAX);
			break;
		}
		memcpy(line, p, n);
		line[n] = '\0';
		p = nl ? nl + 1 : end;
		if (strlen(line) != n) {
			ret = wc_error_set(err, WC_EFORMAT, "line %d holds a NUL byte", lineno);
		} else if (lineno == 1) {
			if (strcmp(line, "period_start,price,psi_plus,psi_minus"))
				ret = wc_error_set(err, WC_EFORMAT,
						   "line 1: expected the header "
						   "'period_start,price,psi_plus,psi_minus', got '%.80s'",
						   line);
		} else if (line[strspn(line, " \t")] == '\0') {
			continue;
		} else if ((ret = price_row(line, lineno, &start, &r, err))) {
			break;
		} else if (t->n > 0 && start == prev) {
			ret = wc_error_set(err, WC_EFORMAT, "line %d: duplicate period %s", lineno,
					   utc_format(start, a));
		} else if (t->n > 0 && start < prev) {
			ret = wc_error_set(err, WC_EFORMAT,
					   "line %d: period %s comes before the previous row's %s: "
					   "give the hours in order",
					   lineno, utc_format(start, a), utc_format(prev, b));
		} else if (t->n > 0 && start != prev + UTC_HOUR) {
			ret = wc_error_set(err, WC_EFORMAT,
					   "line %d: gap: period %s follows %s (%lld hours missing)",
					   lineno, utc_format(start, a), utc_format(prev, b),
					   (long long)((start - prev) / UTC_HOUR - 1));
		} else if (t->n == PRICES_MAX_ROWS) {
			ret = wc_error_set(err, WC_ETOOLARGE, "more than %d rows (line %d)",
					   PRICES_MAX_ROWS, lineno);
		} else {
			if (t->n == cap) {
				struct period_prices *nr =
					realloc(t->rows, (cap = cap ? cap * 2 : 64) * sizeof(*nr));

				if (!nr) {
					ret = wc_error_set(err, WC_ENOMEM, "out of memory");
					break;
				}
				t->rows = nr;
			}
			if (t->n == 0)
				t->first = start;
			t->rows[t->n++] = r;
			prev = start;
		}
	}
	if (!ret && lineno == 0)
		ret = wc_error_set(err, WC_EFORMAT,
				   "empty: expected the header 'period_start,price,psi_plus,psi_minus'");
	else if (!ret && t->n == 0)
		ret = wc_error_set(err, WC_EFORMAT, "no rows after the header");
	if (ret)
		price_table_release(t);
	return ret;
}

enum wc_status market_prices(const struct market_settings *m, const struct price_table *t,
			     int64_t first, int n, const char *whose, struct period_prices *out,
			     struct wc_error *err)
{
	char a[UTC_ISO_LEN], b[UTC_ISO_LEN], c[UTC_ISO_LEN];

	for (int i = 0; i < n; i++) {
		int64_t s = first + (int64_t)i * UTC_HOUR;

		if (t && t->n) {
			int64_t k = (s - t->first) / UTC_HOUR;

			if (s < t->first || k >= (int64_t)t->n)
				return wc_error_set(err, WC_EINVAL,
						    "the prices file has no row for period %s (it "
						    "covers %s to %s)",
						    utc_format(s, a), utc_format(t->first, b),
						    utc_format(t->first + (int64_t)t->n * UTC_HOUR, c));
			out[i] = t->rows[k];
		} else {
			static const enum market_field f[] = { MARKET_PRICE, MARKET_PSI_PLUS,
							       MARKET_PSI_MINUS };
			double v[3] = { m->price, m->psi_plus, m->psi_minus };

			for (int j = 0; j < 3; j++)
				if (isnan(v[j]))
					return wc_error_set(
						err, WC_EINVAL,
						"no %s for %s: give %s (or the query parameter %s), a "
						"prices file, or store it in the market settings",
						market_fields[f[j]].key, whose, market_fields[f[j]].option,
						market_fields[f[j]].key);
			out[i] = (struct period_prices){ v[0], v[1], v[2] };
		}
		if (!(out[i].psi_plus + out[i].psi_minus > 0))
			return wc_error_set(err, WC_EINVAL,
					    "psi_plus and psi_minus are both 0 for period %s: the "
					    "commitment rule needs a penalty on one side at least",
					    utc_format(s, a));
	}
	return WC_OK;
}
