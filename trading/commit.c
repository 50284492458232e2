/*
 * commit.c - the commitment rule, its expectations, and day-ahead schedules of farms and
 * portfolios; see commit.h.
 *
 * Limits: a schedule covers one trading day (23..25 periods) or the leads 1..horizon of
 * one forecast (at most FEAT_MAX_LEAD).
 */
#include "trading/commit.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/tz.h"
#include "common/utc.h"
#include "data/portfolio.h"
#include "forecast/features.h"

double commit_alpha(double psi_plus, double psi_minus)
{
	return psi_plus / (psi_plus + psi_minus);
}

void commit_evaluate(const struct qdist *d, const struct period_prices *pp, double c,
		     struct commit_eval *out)
{
	out->surplus_mwh = qdist_excess(d, c);
	out->deficit_mwh = qdist_shortfall(d, c);
	out->imbalance_cost = pp->psi_plus * out->surplus_mwh + pp->psi_minus * out->deficit_mwh;
	out->revenue = pp->price * qdist_mean(d) - out->imbalance_cost;
}

double commit_rule(const struct qdist *d, double alpha, double lo, double hi)
{
	double c = qdist_quantile(d, alpha);

	return c < lo ? lo : c > hi ? hi : c;
}

void schedule_release(struct schedule *s)
{
	pforecast_release(&s->pfc);
	free(s->p);
	s->p = NULL;
	s->n = 0;
}

void commit_request_init(struct commit_request *r)
{
	memset(r, 0, sizeof(*r));
	forecast_request_init(&r->fr);
	r->day = INT64_MIN;
	r->issued = INT64_MIN;
	market_init(&r->over);
}

enum wc_status commit_request_set(struct commit_request *r, const char *key,
				  const char *value, struct wc_error *err)
{
	int64_t v;

	if (!strcmp(key, "day")) {
		if (!trading_day_parse(value, &v))
			return wc_error_set(err, WC_EINVAL,
					    "use a date YYYY-MM-DD of the market's time zone, e.g. "
					    "2026-03-29");
		r->day = v;
	} else if (!strcmp(key, "issued")) {
		if (!utc_parse(value, &v))
			return wc_error_set(err, WC_EINVAL,
					    "use ISO 8601, e.g. 2026-03-01T12:00:00Z");
		r->issued = v;
	} else if (!strcmp(key, "horizon") || !strcmp(key, "model") ||
		   !strcmp(key, "model_version")) {
		enum wc_status ret = forecast_request_set(&r->fr, key, value, err);

		r->horizon_set |= !ret && !strcmp(key, "horizon");
		return ret;
	} else {
		return market_set(&r->over, key, value, err);
	}
	return WC_OK;
}

struct committer {
	struct store *st;
	struct commit_request r;
	char id[FARM_ID_MAX + 1];
	char whose[96];			/* "farm 'x'", "portfolio 'x'" */
	struct market_settings m;	/* merged, defaults in */
	struct tz *zone;
	bool has_day;
	struct trading_day day;
	struct forecaster *fcr;		/* a farm */
	struct pforecaster *pfr;	/* a portfolio */
};

void committer_free(struct committer *c)
{
	if (!c)
		return;
	forecaster_free(c->fcr);
	pforecaster_free(c->pfr);
	tz_free(c->zone);
	free(c);
}

int64_t committer_issued(const struct committer *c)
{
	return c->r.issued != INT64_MIN ? c->r.issued : c->day.gate;
}

/* The request's own checks, before anything is read (first: issue times given). */
static enum wc_status check_request(const struct commit_request *r, int64_t first,
				    struct wc_error *err)
{
	if (r->day == INT64_MIN && r->issued == INT64_MIN && first == INT64_MIN)
		return wc_error_set(err, WC_EINVAL,
				    "give a trading day (day) or a forecast's issue time (issued)");
	if (r->day != INT64_MIN && r->horizon_set)
		return wc_error_set(err, WC_EINVAL,
				    "horizon is for a forecast's issue time (issued) without a day: a "
				    "trading day's periods set the leads");
	if (r->prices && r->prices->n &&
	    (!isnan(r->over.price) || !isnan(r->over.psi_plus) || !isnan(r->over.psi_minus)))
		return wc_error_set(err, WC_EINVAL,
				    "give either a prices file or price, psi_plus and psi_minus, "
				    "not both");
	return WC_OK;
}

/* The stored settings of the farm or portfolio merged with the request's. */
static enum wc_status settings(struct committer *c, struct wc_error *err)
{
	struct market_settings stored;
	struct portfolio *p;
	enum wc_status ret;

	if (!c->r.portfolio) {
		ret = store_farm_market_get(c->st, c->id, &stored, err);
	} else if (!(p = malloc(sizeof(*p)))) {
		ret = wc_error_set(err, WC_ENOMEM, "out of memory");
	} else {
		ret = store_portfolio_get(c->st, c->id, p, err);
		stored = p->market;
		free(p);
	}
	if (ret)
		return ret;
	market_merge(&c->m, &stored, &c->r.over);
	market_defaults(&c->m);
	if ((ret = market_validate(&c->m, err)))
		return wc_error_prefix(err, "%s", c->whose);
	return tz_load(c->m.time_zone, &c->zone, err);
}

/*
 * With a day: the forecast's leads that reach its periods from issue time T (floored to
 * the hour, as forecasts are): the horizon to ask for. WC_EINVAL when T is after the day
 * starts or too far before its end.
 */
static enum wc_status day_horizon(const struct committer *c, int64_t T, int *H,
				  struct wc_error *err)
{
	int64_t T0 = utc_floor(T, UTC_HOUR);
	char a[UTC_ISO_LEN], b[UTC_ISO_LEN];

	if (T0 >= c->day.start)
		return wc_error_set(err, WC_EINVAL,
				    "the forecast issued at %s cannot commit for the trading day that "
				    "starts at %s: issue it before",
				    utc_format(T0, a), utc_format(c->day.start, b));
	if ((c->day.end - T0) / UTC_HOUR > FEAT_MAX_LEAD)
		return wc_error_set(err, WC_EINVAL,
				    "the forecast issued at %s would need leads up to %lld h for the "
				    "trading day ending at %s (at most %d)",
				    utc_format(T0, a), (long long)((c->day.end - T0) / UTC_HOUR),
				    utc_format(c->day.end, b), FEAT_MAX_LEAD);
	*H = (int)((c->day.end - T0) / UTC_HOUR);
	return WC_OK;
}

/* A committer of r (checked, first as committer_open's) with its settings, no forecaster. */
static enum wc_status committer_new(struct store *st, const struct commit_request *r,
				    int64_t first, struct committer **out, struct wc_error *err)
{
	struct committer *c;
	enum wc_status ret;

	*out = NULL;
	if ((ret = check_request(r, first, err)))
		return ret;
	if (!(c = calloc(1, sizeof(*c))))
		return wc_error_set(err, WC_ENOMEM, "out of memory");
	c->st = st;
	c->r = *r;
	snprintf(c->id, sizeof(c->id), "%s", r->id);
	c->r.id = c->id;
	snprintf(c->whose, sizeof(c->whose), "%s '%s'", r->portfolio ? "portfolio" : "farm", c->id);
	if ((ret = settings(c, err)))
		committer_free(c);
	else
		*out = c;
	return ret;
}

enum wc_status committer_open(struct store *st, const struct commit_request *r,
			      int64_t first, int64_t last, struct committer **out,
			      struct wc_error *err)
{
	struct committer *c;
	enum wc_status ret;
	int H;

	*out = NULL;
	if ((ret = committer_new(st, r, first, &c, err)))
		return ret;
	if (r->day != INT64_MIN) {
		c->has_day = true;
		if ((ret = trading_day_init(&c->day, c->zone, r->day, c->m.gate_min, err)))
			goto cleanup;
	}
	if (first == INT64_MIN)
		first = last = committer_issued(c);
	if (c->has_day) {
		/* the earliest issue time needs the longest horizon */
		if ((ret = day_horizon(c, last, &H, err)) || (ret = day_horizon(c, first, &H, err)))
			goto cleanup;
		c->r.fr.o.horizon = H;
	}
	ret = r->portfolio ? pforecaster_open(st, c->id, &c->r.fr.o, first, last, &c->pfr, err)
			   : forecaster_open(st, c->id, &c->r.fr.o, first, last, &c->fcr, err);
cleanup:
	if (ret)
		committer_free(c);
	else
		*out = c;
	return ret;
}

/* The forecast at T into s->pfc, stored when asked; WC_ENODATA saying which. */
static enum wc_status get_forecast(struct committer *c, int64_t T, struct schedule *s,
				   struct wc_error *err)
{
	struct wc_error serr = { 0 };
	enum wc_status ret;
	char t[UTC_ISO_LEN], d[16];
	int64_t y;
	int mo, dd;

	if (c->pfr) {
		ret = pforecaster_get(c->pfr, T, NULL, 0, &s->pfc, err);
	} else {
		ret = forecaster_get_or_issue(c->fcr, T, &s->pfc.fc, err);
	}
	if (ret == WC_ENODATA && c->has_day && c->r.issued == INT64_MIN) {
		utc_civil_from_days(c->day.day, &y, &mo, &dd);
		snprintf(d, sizeof(d), "%04lld-%02d-%02d", (long long)y, mo, dd);
		return wc_error_prefix(err, "no forecast of %s available at gate closure %s for "
					    "trading day %s",
				       c->whose, utc_format(T, t), d);
	}
	if (ret)
		return ret;
	if (c->r.fr.store) {
		struct forecast *fs = c->pfr ? s->pfc.farms : &s->pfc.fc;
		int n = c->pfr ? s->pfc.nfarms : 1;

		for (int i = 0; i < n; i++)
			if (!fs[i].stored && forecast_store(c->st, &fs[i], 1, &serr))
				log_warn("cannot store the forecast of '%s': %s", fs[i].farm_id,
					 serr.msg);
	}
	return WC_OK;
}

/* One period from lead index i of fc. */
static void fill_period(const struct committer *c, const struct forecast *fc, int i,
			const struct period_prices *pp, struct commit_period *out)
{
	double cap = fc->capacity_mw;
	double lo = isnan(c->m.min_mw) ? 0 : c->m.min_mw;
	double hi = isnan(c->m.max_mw) || c->m.max_mw > cap ? cap : c->m.max_mw;
	struct qdist d;

	qdist_from_quantiles(&d, fc->taus, fc->q + (size_t)i * fc->nq, fc->nq, cap, cap);
	out->end = fc->valid[i];
	out->start = out->end - UTC_HOUR;
	out->lead = (int)((out->end - fc->issued) / UTC_HOUR);
	out->prices = *pp;
	out->alpha = commit_alpha(pp->psi_plus, pp->psi_minus);
	out->committed_mw = commit_rule(&d, out->alpha, lo, hi);
	out->limited = out->committed_mw != qdist_quantile(&d, out->alpha);
	out->median_mw = qdist_quantile(&d, 0.5);
	out->mean_mw = qdist_mean(&d);
	commit_evaluate(&d, pp, out->committed_mw, &out->expect);
}

/* The periods of out (its header set) from forecast fc. */
static enum wc_status build(struct committer *c, const struct forecast *fc,
			    struct schedule *out, struct wc_error *err)
{
	struct period_prices *pp = NULL;
	enum wc_status ret = WC_OK;
	char a[UTC_ISO_LEN], b[UTC_ISO_LEN], e[UTC_ISO_LEN];
	int first = 0, n;

	n = fc->nlead < c->r.fr.o.horizon ? fc->nlead : c->r.fr.o.horizon;
	if (c->has_day) {
		/* the periods of the day are the leads that end in (start, end] */
		first = (int)((c->day.start - fc->issued) / UTC_HOUR);
		n = c->day.nperiods;
		if (first < 0 || first + n > fc->nlead) {
			ret = wc_error_set(err, WC_ENODATA,
					   "the forecast of %s issued at %s reaches %s, not the end of "
					   "the trading day at %s%s%s",
					   c->whose, utc_format(fc->issued, a),
					   utc_format(fc->issued + (int64_t)fc->nlead * UTC_HOUR, b),
					   utc_format(c->day.end, e), fc->cut_note[0] ? ": " : "",
					   fc->cut_note);
			goto cleanup;
		}
	}
	if (n <= 0) {
		ret = wc_error_set(err, WC_ENODATA, "the forecast of %s issued at %s has no leads",
				   c->whose, utc_format(fc->issued, a));
		goto cleanup;
	}
	if (!isnan(c->m.min_mw) && c->m.min_mw > fc->capacity_mw) {
		ret = wc_error_set(err, WC_EINVAL, "min_mw %g is above the capacity %g MW of %s",
				   c->m.min_mw, fc->capacity_mw, c->whose);
		goto cleanup;
	}
	pp = calloc((size_t)n, sizeof(*pp));
	out->p = calloc((size_t)n, sizeof(*out->p));
	if (!pp || !out->p) {
		ret = wc_error_set(err, WC_ENOMEM, "out of memory");
		goto cleanup;
	}
	if ((ret = market_prices(&c->m, c->r.prices, fc->valid[first] - UTC_HOUR, n, c->whose, pp,
				 err)))
		goto cleanup;
	out->n = n;
	for (int i = 0; i < n; i++) {
		struct commit_period *p = &out->p[i];

		fill_period(c, fc, first + i, &pp[i], p);
		out->committed_mwh += p->committed_mw;
		out->mean_mwh += p->mean_mw;
		out->imbalance_cost += p->expect.imbalance_cost;
		out->revenue += p->expect.revenue;
	}
cleanup:
	free(pp);
	return ret;
}

/* out empty, with the committer's settings and day */
static void schedule_init(const struct committer *c, struct schedule *out)
{
	memset(out, 0, sizeof(*out));
	out->market = c->m;
	out->prices_file = c->r.prices && c->r.prices->n;
	out->has_day = c->has_day;
	out->day = c->day;
}

enum wc_status committer_run(struct committer *c, int64_t T, struct schedule *out,
			     struct wc_error *err)
{
	enum wc_status ret;
	char gate[8];

	schedule_init(c, out);
	if ((ret = get_forecast(c, T, out, err)))
		goto cleanup;
	if (c->has_day && c->r.issued == INT64_MIN)
		snprintf(out->pfc.fc.issued_reason, sizeof(out->pfc.fc.issued_reason),
			 "the gate closure, %s local time (%s) the day before the trading day: "
			 "what was delivered by then%s",
			 market_gate_text(c->m.gate_min, gate), c->m.time_zone,
			 out->pfc.fc.issued != T ? ", from the hour before it (rows are hourly)"
						 : "");
	ret = build(c, &out->pfc.fc, out, err);
cleanup:
	if (ret)
		schedule_release(out);
	return ret;
}

enum wc_status committer_open_settings(struct store *st, const struct commit_request *r,
				       struct committer **out, struct wc_error *err)
{
	*out = NULL;
	if (r->day != INT64_MIN)
		return wc_error_set(err, WC_EINVAL, "a committer of the caller's forecasts takes "
						    "no trading day");
	/* issue times are the caller's: any first will do for the checks */
	return committer_new(st, r, 0, out, err);
}

const struct market_settings *committer_market(const struct committer *c)
{
	return &c->m;
}

enum wc_status committer_schedule(struct committer *c, const struct forecast *fc,
				  struct schedule *out, struct wc_error *err)
{
	enum wc_status ret;

	schedule_init(c, out);
	if ((ret = build(c, fc, out, err)))
		schedule_release(out);
	return ret;
}

enum wc_status commit_get(struct store *st, const struct commit_request *r,
			  struct schedule *out, struct wc_error *err)
{
	struct committer *c = NULL;
	enum wc_status ret;

	memset(out, 0, sizeof(*out));
	if (!(ret = committer_open(st, r, INT64_MIN, INT64_MIN, &c, err)))
		ret = committer_run(c, committer_issued(c), out, err);
	committer_free(c);
	return ret;
}

/* ---- showing ---- */

static double r6(double v)
{
	return round(v * 1e6) / 1e6;
}

static json_t *string_or_null(const char *s)
{
	return s[0] ? json_string(s) : json_null();
}

/* The forecast used: issue time and why, model, run, notes (and a portfolio's parts). */
static json_t *forecast_used(const struct schedule *s)
{
	const struct forecast *fc = &s->pfc.fc;
	char t[UTC_ISO_LEN], notes[sizeof(fc->cut_note) + sizeof(fc->note) + 2];
	json_t *v;

	forecast_notes(fc, notes, sizeof(notes));
	v = json_pack("{s:s,s:s,s:o,s:o,s:o,s:o,s:o,s:o,s:b}", "issued",
		      utc_format(fc->issued, t), "issued_rule",
		      forecast_issued_rule_name(fc->issued_rule), "issued_reason",
		      string_or_null(fc->issued_reason), "model", forecast_model_json(fc),
		      "model_choice", string_or_null(fc->model_choice), "fallback",
		      string_or_null(fc->fallback), "note", string_or_null(notes), "nwp_run",
		      forecast_run_json(fc), "stored", fc->stored);
	if (v && fc->portfolio) {
		json_object_set_new(v, "farms", pforecast_farms_json(&s->pfc));
		json_object_set_new(v, "dependence", pforecast_dependence_json(&s->pfc));
	}
	return v;
}

json_t *schedule_json(const struct schedule *s)
{
	const struct forecast *fc = &s->pfc.fc;
	json_t *periods = json_array(), *root;
	char a[UTC_ISO_LEN], b[UTC_ISO_LEN], day[16] = "";

	for (int i = 0; periods && i < s->n; i++) {
		const struct commit_period *p = &s->p[i];

		json_array_append_new(
			periods,
			json_pack("{s:s,s:s,s:s,s:i,s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:b}",
				  "period_start", utc_format(p->start, a), "period_end",
				  utc_format(p->end, b), "valid_time", b, "lead_h", p->lead, "price",
				  p->prices.price, "psi_plus", p->prices.psi_plus, "psi_minus",
				  p->prices.psi_minus, "alpha", r6(p->alpha), "committed_mw",
				  r6(p->committed_mw), "median_mw", r6(p->median_mw), "mean_mw",
				  r6(p->mean_mw), "expected_surplus_mwh", r6(p->expect.surplus_mwh),
				  "expected_deficit_mwh", r6(p->expect.deficit_mwh),
				  "expected_imbalance_cost", r6(p->expect.imbalance_cost),
				  "expected_revenue", r6(p->expect.revenue), "limited", p->limited));
	}
	if (s->has_day) {
		int64_t y;
		int m, d;

		utc_civil_from_days(s->day.day, &y, &m, &d);
		snprintf(day, sizeof(day), "%04lld-%02d-%02d", (long long)y, m, d);
	}
	root = json_pack("{s:s,s:f,s:o,s:s,s:o,s:o,s:o,s:o,s:s,s:o,s:{s:i,s:f,s:f,s:f,s:f}}",
			 fc->portfolio ? "portfolio" : "farm", fc->farm_id, "capacity_mw",
			 fc->capacity_mw, "day", day[0] ? json_string(day) : json_null(),
			 "time_zone", s->market.time_zone, "gate_closure",
			 s->has_day ? json_string(utc_format(s->day.gate, a)) : json_null(),
			 "forecast", forecast_used(s), "market", market_to_json(&s->market),
			 "prices_from", json_string(s->prices_file ? "file" : "settings"),
			 "units", "MW and MWh; prices, costs and revenue in currency (per MWh)",
			 "periods", periods, "totals", "periods", s->n, "committed_mwh",
			 r6(s->committed_mwh), "mean_mwh", r6(s->mean_mwh),
			 "expected_imbalance_cost", r6(s->imbalance_cost), "expected_revenue",
			 r6(s->revenue));
	return root;
}

enum wc_status schedule_csv(const struct schedule *s, bool header, struct dynbuf *out)
{
	const struct forecast *fc = &s->pfc.fc;
	enum wc_status ret = WC_OK;
	char t[UTC_ISO_LEN], a[UTC_ISO_LEN], b[UTC_ISO_LEN];

	if (header)
		ret = dynbuf_printf(out, "%s,issued,period_start,period_end,valid_time,lead_h,price,"
					 "psi_plus,psi_minus,alpha,committed_mw,median_mw,mean_mw,"
					 "expected_imbalance_cost,expected_revenue\n",
				    fc->portfolio ? "portfolio" : "farm");
	utc_format(fc->issued, t);
	for (int i = 0; i < s->n && !ret; i++) {
		const struct commit_period *p = &s->p[i];

		utc_format(p->end, b);
		ret = dynbuf_printf(out, "%s,%s,%s,%s,%s,%d,%.10g,%.10g,%.10g,%.6g,%.6g,%.6g,%.6g,"
					 "%.6g,%.6g\n",
				    fc->farm_id, t, utc_format(p->start, a), b, b, p->lead,
				    p->prices.price, p->prices.psi_plus, p->prices.psi_minus,
				    p->alpha, p->committed_mw, p->median_mw, p->mean_mw,
				    p->expect.imbalance_cost, p->expect.revenue);
	}
	return ret;
}
