/*
 * report.c - the backtest's HTML page with inline SVG plots; see report.h.
 *
 * Everything on the page is read from metrics.json's object (the scores, the schedule,
 * the command) and the fan series, and written with a fixed "%.*f" form, so the page is
 * the file's numbers, and the same bytes on every run. Plots are plain SVG elements
 * (polyline, path, rect, text) in a viewBox that scales with the page; text uses the
 * reader's sans-serif font, nothing is fetched.
 */
#include "backtest/report.h"

#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/utc.h"

#define NMETHODS 4

static const char *const methods[NMETHODS] = { "model", "persistence", "climatology",
					       "powercurve" };
static const char *const colors[NMETHODS] = { "#1f4e9c", "#d9822b", "#8c8c8c", "#3a923a" };
static const char *const dashes[NMETHODS] = { "", "6 4", "2 3", "9 3 2 3" };

void report_fan_release(struct report_fan *f)
{
	free(f->point);
	free(f->q);
	free(f->obs);
	free(f->lead);
	f->point = f->q = f->obs = NULL;
	f->lead = NULL;
	f->n = 0;
}

void report_fan_window(const struct report_fan *f, size_t *a, size_t *b)
{
	size_t end = f ? f->n : 0;

	*a = *b = 0;
	while (end > 0 && !(isfinite(f->obs[end - 1]) && isfinite(f->point[end - 1])))
		end--;
	if (!end)
		return;
	*b = end;
	*a = end > 14 * 24 ? end - 14 * 24 : 0;
}

/* ---- output helpers ------------------------------------------------------------- */

struct page {
	struct dynbuf *b;
	enum wc_status ret;	/* the first failure; later writes are skipped */
};

static void put(struct page *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct page *p, const char *fmt, ...)
{
	va_list ap;

	if (p->ret)
		return;
	va_start(ap, fmt);
	p->ret = dynbuf_vprintf(p->b, fmt, ap);
	va_end(ap);
}

/* Text with &, <, >, " escaped. */
static void put_text(struct page *p, const char *s)
{
	for (; s && *s && !p->ret; s++) {
		switch (*s) {
		case '&': p->ret = dynbuf_adds(p->b, "&amp;"); break;
		case '<': p->ret = dynbuf_adds(p->b, "&lt;"); break;
		case '>': p->ret = dynbuf_adds(p->b, "&gt;"); break;
		case '"': p->ret = dynbuf_adds(p->b, "&quot;"); break;
		default: p->ret = dynbuf_add(p->b, s, 1);
		}
	}
}

/* A whole count with thousands separators: 12,345. */
static void put_count(struct page *p, double v)
{
	char buf[32];
	int n, lead;

	if (!isfinite(v) || fabs(v) >= 1e15) {
		put(p, "&ndash;");
		return;
	}
	n = snprintf(buf, sizeof(buf), "%.0f", fabs(v));
	lead = n % 3 ? n % 3 : 3;
	put(p, "%s%.*s", v < 0 ? "-" : "", lead, buf);
	for (int i = lead; i < n; i += 3)
		put(p, ",%.3s", buf + i);
}

/* A number with `dec` decimals, or an en dash when there is none. */
static void put_num(struct page *p, double v, int dec)
{
	if (isfinite(v))
		put(p, "%.*f", dec, v);
	else
		put(p, "&ndash;");
}

/* "2026-03-01T06:00:00Z" as "2026-03-01 06:00 UTC". */
static void put_time(struct page *p, const char *iso)
{
	if (iso && strlen(iso) == 20 && iso[10] == 'T')
		put(p, "%.10s %.5s UTC", iso, iso + 11);
	else
		put_text(p, iso);
}

/* A table cell with a number (bold for the model's column). */
static void cell(struct page *p, double v, int dec, bool model)
{
	put(p, "<td%s>", model ? " class=\"model\"" : "");
	put_num(p, v, dec);
	put(p, "</td>");
}

static double get_num(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);

	return json_is_number(v) ? json_number_value(v) : NAN;
}

static const char *get_str(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

/* scores of method m in a {method: scores} object */
static const json_t *scores(const json_t *set, int m)
{
	return json_object_get(set, methods[m]);
}

/* ---- charts --------------------------------------------------------------------- */

struct chart {
	struct page *p;
	double x0, x1, y0, y1;		/* data ranges */
	int W, H, L, R, T, B;		/* size and margins, px of the viewBox */
};

static double cx(const struct chart *c, double x)
{
	return c->L + (x - c->x0) / (c->x1 - c->x0) * (c->W - c->L - c->R);
}

static double cy(const struct chart *c, double y)
{
	return c->H - c->B - (y - c->y0) / (c->y1 - c->y0) * (c->H - c->T - c->B);
}

/* A step of 1, 2 or 5 times a power of ten giving about `n` intervals over range. */
static double nice_step(double range, int n)
{
	double raw = range / n, mag, f;

	if (!(raw > 0))
		return 1;
	mag = pow(10, floor(log10(raw)));
	f = raw / mag;
	return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * mag;
}

/* Decimals to print multiples of step. */
static int step_decimals(double step)
{
	int d = 0;

	while (d < 6 && fabs(step * pow(10, d) - round(step * pow(10, d))) > 1e-6)
		d++;
	return d;
}

/*
 * Open an SVG chart: the frame, the y grid and labels (every ystep), the x grid and
 * labels (every xstep, or none when xstep is 0: the caller draws them), axis titles.
 */
static void chart_begin(struct chart *c, const char *label, const char *xtitle,
			const char *ytitle, double xstep, double ystep)
{
	struct page *p = c->p;
	int yd = step_decimals(ystep), xd = step_decimals(xstep);

	put(p, "<svg class=\"chart\" viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"", c->W,
	    c->H);
	put_text(p, label);
	put(p, "\" xmlns=\"http://www.w3.org/2000/svg\">\n");
	put(p, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"#fff\" "
	       "stroke=\"#bbb\"/>\n",
	    c->L, c->T, c->W - c->L - c->R, c->H - c->T - c->B);
	for (double y = ceil(c->y0 / ystep - 1e-9) * ystep; y <= c->y1 + 1e-9 * ystep;
	     y += ystep) {
		put(p, "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#e4e4e4\"/>",
		    c->L, c->W - c->R, cy(c, y), cy(c, y));
		put(p, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\" class=\"tick\">%.*f</text>\n",
		    c->L - 6, cy(c, y) + 4, yd, fabs(y) < ystep * 1e-6 ? 0.0 : y);
	}
	if (xstep > 0)
		for (double x = ceil(c->x0 / xstep - 1e-9) * xstep; x <= c->x1 + 1e-9 * xstep;
		     x += xstep) {
			put(p, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\" "
			       "stroke=\"#e4e4e4\"/>",
			    cx(c, x), cx(c, x), c->T, c->H - c->B);
			put(p, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\" "
			       "class=\"tick\">%.*f</text>\n",
			    cx(c, x), c->H - c->B + 16, xd, fabs(x) < xstep * 1e-6 ? 0.0 : x);
		}
	put(p, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\" class=\"axis\">",
	    (c->L + c->W - c->R) / 2.0, c->H - c->B + 36);
	put_text(p, xtitle);
	put(p, "</text>\n<text transform=\"translate(14 %.1f) rotate(-90)\" "
	       "text-anchor=\"middle\" class=\"axis\">",
	    (c->T + c->H - c->B) / 2.0);
	put_text(p, ytitle);
	put(p, "</text>\n");
}

/* A line through (x[i], y[i]), broken where y is NaN. */
static void chart_line(struct chart *c, const double *x, const double *y, size_t n,
		       const char *color, double width, const char *dash)
{
	struct page *p = c->p;
	bool pen = false;

	put(p, "<path fill=\"none\" stroke=\"%s\" stroke-width=\"%.1f\" "
	       "stroke-linejoin=\"round\"%s%s%s d=\"",
	    color, width, dash && *dash ? " stroke-dasharray=\"" : "", dash ? dash : "",
	    dash && *dash ? "\"" : "");
	for (size_t i = 0; i < n; i++) {
		if (!isfinite(y[i]) || !isfinite(x[i])) {
			pen = false;
			continue;
		}
		put(p, "%s%.1f %.1f", pen ? " L" : (i ? " M" : "M"), cx(c, x[i]), cy(c, y[i]));
		pen = true;
	}
	put(p, "\"/>\n");
}

/* Markers at the points. */
static void chart_dots(struct chart *c, const double *x, const double *y, size_t n,
		       const char *color, double r)
{
	for (size_t i = 0; i < n; i++)
		if (isfinite(x[i]) && isfinite(y[i]))
			put(c->p, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%.1f\" fill=\"%s\"/>",
			    cx(c, x[i]), cy(c, y[i]), r, color);
	put(c->p, "\n");
}

/* The band between lo and hi, one polygon per run of hours where both are known. */
static void chart_band(struct chart *c, const double *x, const double *lo, const double *hi,
		       size_t n, const char *color, double opacity)
{
	size_t i = 0;

	while (i < n) {
		size_t a, b;

		while (i < n && !(isfinite(lo[i]) && isfinite(hi[i])))
			i++;
		a = i;
		while (i < n && isfinite(lo[i]) && isfinite(hi[i]))
			i++;
		b = i;
		if (b <= a)
			continue;
		put(c->p, "<path fill=\"%s\" fill-opacity=\"%.2f\" stroke=\"none\" d=\"", color,
		    opacity);
		for (size_t k = a; k < b; k++)
			put(c->p, "%s%.1f %.1f", k == a ? "M" : " L", cx(c, x[k]), cy(c, hi[k]));
		for (size_t k = b; k-- > a;)
			put(c->p, " L%.1f %.1f", cx(c, x[k]), cy(c, lo[k]));
		put(c->p, " Z\"/>\n");
	}
}

/* One legend entry: a line sample (opacity 0) or a filled swatch of that opacity. */
struct legend {
	const char *name, *color, *dash;
	double width, opacity;
};

/* Approximate width of a legend entry, px (12 px text). */
static int legend_width(const struct legend *e)
{
	return 44 + 7 * (int)strlen(e->name) + 16;
}

/* Rows the legend takes under the plot, laid out left to right. */
static int legend_rows(const struct chart *c, const struct legend *e, int n)
{
	int rows = 1, x = c->L;

	for (int i = 0; i < n; i++) {
		if (x + legend_width(&e[i]) > c->W - c->R && x > c->L) {
			rows++;
			x = c->L;
		}
		x += legend_width(&e[i]);
	}
	return rows;
}

/* Make room under the plot for the legend: the bottom margin grows by its rows. */
static void legend_reserve(struct chart *c, const struct legend *e, int n)
{
	c->B += 8 + 20 * legend_rows(c, e, n);
}

/* The legend under the x axis title, left to right, wrapping. */
static void chart_legend(struct chart *c, const struct legend *e, int n)
{
	int rows = legend_rows(c, e, n), x = c->L, y = c->H - 20 * rows + 6;

	put(c->p, "<g class=\"legend\">");
	for (int i = 0; i < n; i++) {
		if (x + legend_width(&e[i]) > c->W - c->R && x > c->L) {
			x = c->L;
			y += 20;
		}
		if (e[i].opacity > 0)
			put(c->p, "<rect x=\"%d\" y=\"%d\" width=\"28\" height=\"10\" fill=\"%s\" "
				  "fill-opacity=\"%.2f\"/>",
			    x, y - 9, e[i].color, e[i].opacity);
		else
			put(c->p, "<line x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\" stroke=\"%s\" "
				  "stroke-width=\"%.1f\"%s%s%s/>",
			    x, x + 28, y - 4, y - 4, e[i].color, e[i].width,
			    e[i].dash && *e[i].dash ? " stroke-dasharray=\"" : "",
			    e[i].dash ? e[i].dash : "", e[i].dash && *e[i].dash ? "\"" : "");
		put(c->p, "<text x=\"%d\" y=\"%d\" class=\"leg\">", x + 34, y);
		put_text(c->p, e[i].name);
		put(c->p, "</text>");
		x += legend_width(&e[i]);
	}
	put(c->p, "</g>\n");
}

static void chart_end(struct chart *c)
{
	put(c->p, "</svg>\n");
}

/* ---- the plots -------------------------------------------------------------------- */

/* A label for method m: the model's name as asked ("model (nn)"), else the baseline's. */
static void method_label(const json_t *metrics, int m, char *buf, size_t len)
{
	if (m == 0)
		snprintf(buf, len, "model (%s)", get_str(metrics, "model") ? get_str(metrics, "model")
									    : "?");
	else
		snprintf(buf, len, "%s", methods[m]);
}

/* The legend entries of the four methods (names into names[]). */
static void method_legend(const json_t *metrics, struct legend *e, char names[][48])
{
	for (int m = 0; m < NMETHODS; m++) {
		method_label(metrics, m, names[m], sizeof(names[m]));
		e[m] = (struct legend){ .name = names[m], .color = colors[m], .dash = dashes[m],
					.width = m == 0 ? 2.6 : 1.8 };
	}
}

/* A score by lead for every method: RMSE, MAE or CRPS. */
static void plot_by_lead(struct page *p, const json_t *metrics, const char *key,
			 const char *title)
{
	const json_t *by_lead = json_object_get(metrics, "by_lead");
	size_t n = json_array_size(by_lead);
	double *x = calloc(n ? n : 1, sizeof(double)), *y = calloc(n ? n : 1, sizeof(double));
	double ymax = 0;
	char names[NMETHODS][48], ytitle[96];
	struct legend leg[NMETHODS];
	struct chart c = { .p = p, .W = 560, .H = 340, .L = 56, .R = 12, .T = 12, .B = 44 };

	if (!x || !y) {
		p->ret = WC_ENOMEM;
		goto cleanup;
	}
	for (size_t i = 0; i < n; i++)
		for (int m = 0; m < NMETHODS; m++) {
			double v = get_num(scores(json_array_get(by_lead, i), m), key);

			if (isfinite(v) && v > ymax)
				ymax = v;
		}
	method_legend(metrics, leg, names);
	legend_reserve(&c, leg, NMETHODS);
	c.x0 = 0;
	c.x1 = n > 0 ? (double)n : 1;
	c.y0 = 0;
	c.y1 = ymax > 0 ? ymax * 1.05 : 1;
	snprintf(ytitle, sizeof(ytitle), "%s, %% of capacity", title);
	chart_begin(&c, ytitle, "lead time (hours after the issue time)", ytitle,
		    nice_step(c.x1, 8), nice_step(c.y1, 6));
	for (int m = NMETHODS - 1; m >= 0; m--) {
		for (size_t i = 0; i < n; i++) {
			const json_t *e = json_array_get(by_lead, i);

			x[i] = get_num(e, "lead");
			y[i] = get_num(scores(e, m), key);
		}
		chart_line(&c, x, y, n, colors[m], leg[m].width, dashes[m]);
	}
	chart_legend(&c, leg, NMETHODS);
	chart_end(&c);
cleanup:
	free(x);
	free(y);
}

/* Observed coverage against nominal level, every method, with the diagonal. */
static void plot_reliability(struct page *p, const json_t *metrics)
{
	const json_t *levels = json_object_get(metrics, "levels");
	const json_t *overall = json_object_get(metrics, "overall");
	size_t n = json_array_size(levels);
	double x[QMETRICS_MAX_LEVELS], y[QMETRICS_MAX_LEVELS], d[2] = { 0, 1 };
	char names[NMETHODS][48], key[32];
	struct legend leg[NMETHODS + 1];
	struct chart c = { .p = p, .W = 420, .H = 400, .L = 56, .R = 12, .T = 12, .B = 44,
			   .x0 = 0, .x1 = 1, .y0 = 0, .y1 = 1 };

	if (n > QMETRICS_MAX_LEVELS)
		n = QMETRICS_MAX_LEVELS;
	method_legend(metrics, leg, names);
	leg[NMETHODS] = (struct legend){ .name = "perfectly reliable", .color = "#444",
					 .dash = "4 4", .width = 1 };
	legend_reserve(&c, leg, NMETHODS + 1);
	chart_begin(&c, "reliability diagram", "nominal level of the quantile",
		    "share of observations at or below it", 0.1, 0.1);
	chart_line(&c, d, d, 2, "#444", 1, "4 4");
	for (int m = NMETHODS - 1; m >= 0; m--) {
		const json_t *cov = json_object_get(scores(overall, m), "coverage");

		for (size_t k = 0; k < n; k++) {
			x[k] = json_number_value(json_array_get(levels, k));
			snprintf(key, sizeof(key), "%g", x[k]);
			y[k] = get_num(cov, key);
		}
		chart_line(&c, x, y, n, colors[m], m == 0 ? 2.4 : 1.5, dashes[m]);
		chart_dots(&c, x, y, n, colors[m], m == 0 ? 3 : 2);
	}
	chart_legend(&c, leg, NMETHODS + 1);
	chart_end(&c);
}

/* Index of the level nearest tau among the fan's, or -1 when none is within 0.001. */
static int fan_level(const struct report_fan *f, double tau)
{
	for (int k = 0; k < f->nq; k++)
		if (fabs(f->taus[k] - tau) < 1e-3)
			return k;
	return -1;
}

/* The fan chart of the sample fortnight, in MW. */
static void plot_fan(struct page *p, const struct report_fan *f)
{
	static const double bands[][2] = { { 0.05, 0.95 }, { 0.1, 0.9 }, { 0.25, 0.75 } };
	static const double opacity[] = { 0.16, 0.20, 0.30 };
	size_t a = 0, b = 0, n;
	double *x = NULL, *lo = NULL, *hi = NULL, *y = NULL, cap, clear = 1;
	struct chart c = { .p = p, .W = 900, .H = 340, .L = 56, .R = 12, .T = 12, .B = 44 };
	struct legend leg[5];
	char bandname[3][64];
	int nl = 0;
	int64_t y0;
	int mo0, d0, h0, mi0, s0;

	report_fan_window(f, &a, &b);
	if (b <= a) {
		put(p, "<p class=\"note\">No hour has both a forecast of the model and an "
		       "observation: there is no fortnight to draw.</p>\n");
		return;
	}
	n = b - a;
	cap = f->capacity_mw > 0 ? f->capacity_mw : 1;
	x = malloc(n * sizeof(double));
	lo = malloc(n * sizeof(double));
	hi = malloc(n * sizeof(double));
	y = malloc(n * sizeof(double));
	if (!x || !lo || !hi || !y) {
		p->ret = WC_ENOMEM;
		goto cleanup;
	}
	for (size_t k = 0; k < sizeof(bands) / sizeof(bands[0]); k++) {
		if (fan_level(f, bands[k][0]) < 0 || fan_level(f, bands[k][1]) < 0)
			continue;
		/* the bands are nested: an inner one shows through every outer one */
		clear *= 1 - opacity[k];
		snprintf(bandname[nl], sizeof(bandname[nl]), "%g\u2013%g %% interval",
			 bands[k][0] * 100, bands[k][1] * 100);
		leg[nl] = (struct legend){ .name = bandname[nl], .color = colors[0],
					   .opacity = 1 - clear };
		nl++;
	}
	leg[nl++] = (struct legend){ .name = "forecast (point)", .color = colors[0],
				     .width = 2.2 };
	leg[nl++] = (struct legend){ .name = "observed", .color = "#111", .width = 1.6 };
	legend_reserve(&c, leg, nl);
	/* x in days since the window's first midnight */
	utc_to_fields(f->t0 + (int64_t)a * UTC_HOUR, &y0, &mo0, &d0, &h0, &mi0, &s0);
	{
		int64_t mid = utc_from_fields(y0, mo0, d0, 0, 0, 0);

		for (size_t i = 0; i < n; i++)
			x[i] = (double)(f->t0 + (int64_t)(a + i) * UTC_HOUR - mid) / UTC_DAY;
		c.x0 = x[0];
		c.x1 = x[n - 1] > x[0] ? x[n - 1] : x[0] + 1;
		c.y0 = 0;
		c.y1 = cap * 1.02;
		chart_begin(&c, "fan chart", "valid time (UTC, hour ending)",
			    "power, MW", 0, nice_step(c.y1, 5));
		/* day ticks: every day, labelled every 2 days (every day when short) */
		for (int dd = (int)ceil(c.x0); dd <= (int)floor(c.x1); dd++) {
			char t[UTC_ISO_LEN];

			put(p, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\" stroke=\"#e4e4e4\"/>",
			    cx(&c, dd), cx(&c, dd), c.T, c.H - c.B);
			if (n > 7 * 24 && dd % 2)
				continue;
			utc_format(mid + (int64_t)dd * UTC_DAY, t);
			t[10] = '\0';
			put(p, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\" class=\"tick\">%s"
			       "</text>\n",
			    cx(&c, dd), c.H - c.B + 16, t + 5);
		}
	}
	for (size_t k = 0; k < sizeof(bands) / sizeof(bands[0]); k++) {
		int i = fan_level(f, bands[k][0]), j = fan_level(f, bands[k][1]);

		if (i < 0 || j < 0)
			continue;
		for (size_t t = 0; t < n; t++) {
			lo[t] = f->q[(a + t) * (size_t)f->nq + i] * cap;
			hi[t] = f->q[(a + t) * (size_t)f->nq + j] * cap;
		}
		chart_band(&c, x, lo, hi, n, colors[0], opacity[k]);
	}
	for (size_t t = 0; t < n; t++)
		y[t] = f->point[a + t] * cap;
	chart_line(&c, x, y, n, colors[0], 2.2, "");
	for (size_t t = 0; t < n; t++)
		y[t] = f->obs[a + t] * cap;
	chart_line(&c, x, y, n, "#111", 1.6, "");
	chart_legend(&c, leg, nl);
	chart_end(&c);
cleanup:
	free(x);
	free(lo);
	free(hi);
	free(y);
}

/* ---- the tables --------------------------------------------------------------------- */

/* The interval nearest 80 % among a score's, for the tables: its name into buf. */
static const json_t *main_interval(const json_t *sc, char *buf, size_t len)
{
	static const char *const pref[] = { "80", "90", "50", "98" };
	const json_t *iv = json_object_get(sc, "intervals");

	for (size_t i = 0; i < sizeof(pref) / sizeof(pref[0]); i++)
		if (json_object_get(iv, pref[i])) {
			snprintf(buf, len, "%s", pref[i]);
			return json_object_get(iv, pref[i]);
		}
	buf[0] = '\0';
	return NULL;
}

static void table_overall(struct page *p, const json_t *metrics)
{
	const json_t *overall = json_object_get(metrics, "overall");
	char iv[8], name[48];

	main_interval(scores(overall, 0), iv, sizeof(iv));
	put(p, "<table><thead><tr><th>method</th><th>pairs</th><th>bias</th><th>MAE</th>"
	       "<th>RMSE</th><th>SDE</th><th>skill vs persistence</th>"
	       "<th>skill vs climatology</th><th>pinball</th><th>CRPS</th>");
	if (iv[0])
		put(p, "<th>%s %% interval: coverage</th><th>width</th>", iv);
	put(p, "</tr></thead><tbody>\n");
	for (int m = 0; m < NMETHODS; m++) {
		const json_t *s = scores(overall, m);
		const json_t *ivs = iv[0] ? json_object_get(json_object_get(s, "intervals"), iv)
					  : NULL;

		method_label(metrics, m, name, sizeof(name));
		put(p, "<tr%s><td class=\"l\"><span class=\"sw\" style=\"background:%s\"></span>",
		    m == 0 ? " class=\"model\"" : "", colors[m]);
		put_text(p, name);
		put(p, "</td><td>");
		put_count(p, get_num(s, "n"));
		put(p, "</td>");
		cell(p, get_num(s, "bias"), 2, false);
		cell(p, get_num(s, "mae"), 2, false);
		cell(p, get_num(s, "rmse"), 2, false);
		cell(p, get_num(s, "sde"), 2, false);
		cell(p, get_num(s, "skill_persistence"), 1, false);
		cell(p, get_num(s, "skill_climatology"), 1, false);
		cell(p, get_num(s, "pinball"), 3, false);
		cell(p, get_num(s, "crps"), 2, false);
		if (iv[0]) {
			cell(p, 100 * get_num(ivs, "coverage"), 1, false);
			cell(p, get_num(ivs, "width"), 1, false);
		}
		put(p, "</tr>\n");
	}
	put(p, "</tbody></table>\n<p class=\"note\">Bias, MAE, RMSE, SDE, pinball, CRPS and "
	       "interval width in %% of capacity; skill is 1 &minus; RMSE / RMSE of the "
	       "reference, in %%, on the hours both forecast; coverage in %% of the "
	       "observations.</p>\n");
}

static void table_by_lead(struct page *p, const json_t *metrics)
{
	const json_t *by_lead = json_object_get(metrics, "by_lead");
	char name[48];

	put(p, "<table class=\"narrow\"><thead><tr><th rowspan=\"2\">lead, h</th>"
	       "<th colspan=\"%d\">RMSE</th><th colspan=\"2\">model</th></tr><tr>",
	    NMETHODS);
	for (int m = 0; m < NMETHODS; m++) {
		method_label(metrics, m, name, sizeof(name));
		put(p, "<th>");
		put_text(p, m == 0 ? "model" : name);
		put(p, "</th>");
	}
	put(p, "<th>MAE</th><th>CRPS</th></tr></thead><tbody>\n");
	for (size_t i = 0; i < json_array_size(by_lead); i++) {
		const json_t *e = json_array_get(by_lead, i);

		put(p, "<tr><td>%.0f</td>", get_num(e, "lead"));
		for (int m = 0; m < NMETHODS; m++)
			cell(p, get_num(scores(e, m), "rmse"), 2, m == 0);
		cell(p, get_num(scores(e, 0), "mae"), 2, false);
		cell(p, get_num(scores(e, 0), "crps"), 2, false);
		put(p, "</tr>\n");
	}
	put(p, "</tbody></table>\n");
}

static void table_by_farm(struct page *p, const json_t *metrics)
{
	const json_t *by_farm = json_object_get(metrics, "by_farm");
	const char *id;
	const json_t *set;

	put(p, "<table class=\"narrow\"><thead><tr><th>farm</th><th>pairs</th><th>RMSE "
	       "model</th><th>RMSE persistence</th><th>RMSE climatology</th><th>skill vs "
	       "persistence</th><th>CRPS model</th></tr></thead><tbody>\n");
	json_object_foreach((json_t *)by_farm, id, set) {
		put(p, "<tr><td class=\"l\">");
		put_text(p, id);
		put(p, "</td><td>");
		put_count(p, get_num(scores(set, 0), "n"));
		put(p, "</td>");
		cell(p, get_num(scores(set, 0), "rmse"), 2, true);
		cell(p, get_num(scores(set, 1), "rmse"), 2, false);
		cell(p, get_num(scores(set, 2), "rmse"), 2, false);
		cell(p, get_num(scores(set, 0), "skill_persistence"), 1, false);
		cell(p, get_num(scores(set, 0), "crps"), 2, false);
		put(p, "</tr>\n");
	}
	put(p, "</tbody></table>\n");
}

static void table_coverage(struct page *p, const json_t *metrics)
{
	const json_t *levels = json_object_get(metrics, "levels");
	const json_t *overall = json_object_get(metrics, "overall");
	char name[48], key[32];

	put(p, "<table class=\"narrow\"><thead><tr><th>level</th>");
	for (int m = 0; m < NMETHODS; m++) {
		method_label(metrics, m, name, sizeof(name));
		put(p, "<th>");
		put_text(p, name);
		put(p, "</th>");
	}
	put(p, "</tr></thead><tbody>\n");
	for (size_t k = 0; k < json_array_size(levels); k++) {
		double tau = json_number_value(json_array_get(levels, k));

		snprintf(key, sizeof(key), "%g", tau);
		put(p, "<tr><td>%s</td>", key);
		for (int m = 0; m < NMETHODS; m++)
			cell(p, 100 * get_num(json_object_get(scores(overall, m), "coverage"), key), 1,
			     m == 0);
		put(p, "</tr>\n");
	}
	put(p, "</tbody></table>\n");
}

static void table_intervals(struct page *p, const json_t *metrics)
{
	const json_t *overall = json_object_get(metrics, "overall");
	const json_t *ivs = json_object_get(scores(overall, 0), "intervals");
	const char *key;
	const json_t *v;
	char name[48];

	if (!json_object_size(ivs))
		return;
	put(p, "<table class=\"narrow\"><thead><tr><th>interval</th>");
	for (int m = 0; m < NMETHODS; m++) {
		method_label(metrics, m, name, sizeof(name));
		put(p, "<th>");
		put_text(p, name);
		put(p, ": coverage, width</th>");
	}
	put(p, "</tr></thead><tbody>\n");
	json_object_foreach((json_t *)ivs, key, v) {
		put(p, "<tr><td class=\"nw\">");
		put_text(p, key);
		put(p, " %% <span class=\"note\">(%g&ndash;%g)</span></td>", get_num(v, "lower"),
		    get_num(v, "upper"));
		for (int m = 0; m < NMETHODS; m++) {
			const json_t *w = json_object_get(
				json_object_get(scores(overall, m), "intervals"), key);

			put(p, "<td%s>", m == 0 ? " class=\"model\"" : "");
			put_num(p, 100 * get_num(w, "coverage"), 1);
			put(p, " %%, ");
			put_num(p, get_num(w, "width"), 1);
			put(p, "</td>");
		}
		put(p, "</tr>\n");
	}
	put(p, "</tbody></table>\n");
}

static void table_retrains(struct page *p, const json_t *metrics)
{
	const json_t *rt = json_object_get(metrics, "retrains");

	if (!json_array_size(rt))
		return;
	put(p, "<h2>Retraining</h2>\n<p>Each model was trained on what was observed before "
	       "its time, and served the issue times until the next one.</p>\n"
	       "<table class=\"narrow\"><thead><tr><th>trained on data before</th><th>farms"
	       "</th><th>issue times served</th><th>status</th><th>training rows</th>"
	       "</tr></thead><tbody>\n");
	for (size_t i = 0; i < json_array_size(rt); i++) {
		const json_t *e = json_array_get(rt, i), *farms = json_object_get(e, "farms");
		const json_t *models = json_object_get(e, "models");
		double rows = 0;

		for (size_t k = 0; k < json_array_size(models); k++)
			rows = get_num(json_array_get(models, k), "rows");
		put(p, "<tr><td>");
		put_time(p, get_str(e, "at"));
		put(p, "</td><td class=\"l\">");
		if (json_is_true(json_object_get(e, "pool")))
			put(p, "pool of %zu", json_array_size(farms));
		else
			put_text(p, json_string_value(json_array_get(farms, 0)));
		put(p, "</td><td>%.0f</td><td class=\"l\">", get_num(e, "issue_times"));
		put_text(p, get_str(e, "status"));
		if (get_str(e, "error")) {
			put(p, ": ");
			put_text(p, get_str(e, "error"));
		}
		put(p, "</td><td>");
		if (rows > 0)
			put(p, "%.0f", rows);
		put(p, "</td></tr>\n");
	}
	put(p, "</tbody></table>\n");
}

/* ---- the value of the commitments (metrics.json "trading") ------------------------- */

#define NSCHED 5

static const char *const sched_keys[NSCHED] = { "alpha_quantile", "median", "mean", "nothing",
						"perfect" };
static const char *const sched_labels[NSCHED] = { "alpha-quantile (the rule)", "median", "mean",
						  "nothing ahead", "perfect foresight" };
static const char *const sched_colors[NSCHED] = { "#1f4e9c", "#3a923a", "#d9822b", "#8c8c8c",
						  "#7b3fa0" };
static const char *const sched_dashes[NSCHED] = { "", "6 4", "2 3", "9 3 2 3", "4 2" };

/* A scale for currency amounts up to vmax: units, thousands or millions, and its name. */
static double money_scale(double vmax, const char **name)
{
	if (vmax >= 2e6) {
		*name = "millions";
		return 1e6;
	}
	if (vmax >= 2e3) {
		*name = "thousands";
		return 1e3;
	}
	*name = "units";
	return 1;
}

/* The running sum of schedule k by day (shortfall: perfect foresight's less its own). */
static void cumulate(const json_t *daily, int k, bool shortfall, double *y, size_t n)
{
	const json_t *col = json_object_get(daily, sched_keys[k]);
	const json_t *best = json_object_get(daily, "perfect");
	double sum = 0;

	for (size_t i = 0; i < n; i++) {
		double v = json_number_value(json_array_get(col, i));

		sum += shortfall ? json_number_value(json_array_get(best, i)) - v : v;
		y[i] = sum;
	}
}

/*
 * The cumulative revenue of each schedule by delivery day, or (shortfall) what each
 * left against perfect foresight (its cumulative imbalance cost).
 */
static void plot_cumulative(struct page *p, const json_t *trading, bool shortfall)
{
	const json_t *daily = json_object_get(trading, "daily");
	const json_t *days = json_object_get(daily, "day");
	size_t n = json_array_size(days);
	double *x = calloc(n ? n : 1, sizeof(double)), *y = calloc(n ? n : 1, sizeof(double));
	double vmax = 0, scale;
	const char *unit;
	char ytitle[128];
	struct legend leg[NSCHED];
	struct chart c = { .p = p, .W = 900, .H = 360, .L = 64, .R = 16, .T = 12, .B = 44 };
	int ns = shortfall ? NSCHED - 1 : NSCHED;

	if (!x || !y) {
		p->ret = WC_ENOMEM;
		goto cleanup;
	}
	for (int k = 0; k < ns; k++) {
		cumulate(daily, k, shortfall, y, n);
		for (size_t i = 0; i < n; i++)
			if (fabs(y[i]) > vmax)
				vmax = fabs(y[i]);
		leg[k] = (struct legend){ .name = sched_labels[k], .color = sched_colors[k],
					  .dash = sched_dashes[k], .width = k == 0 ? 2.6 : 1.8 };
	}
	scale = money_scale(vmax, &unit);
	legend_reserve(&c, leg, ns);
	c.x0 = 0;
	c.x1 = n > 0 ? (double)n : 1;
	c.y0 = 0;
	c.y1 = vmax > 0 ? vmax / scale * 1.05 : 1;
	snprintf(ytitle, sizeof(ytitle), "%s, %s", shortfall ? "shortfall to perfect" : "revenue",
		 unit);
	chart_begin(&c, ytitle, "delivery day (UTC, month-day)", ytitle, 0, nice_step(c.y1, 6));
	/* dates under the axis: about eight, at the days' starts */
	for (size_t i = 0, step = n > 8 ? (n + 7) / 8 : 1; i < n; i += step) {
		const char *d = json_string_value(json_array_get(days, i));

		put(p, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\" stroke=\"#e4e4e4\"/>",
		    cx(&c, (double)i), cx(&c, (double)i), c.T, c.H - c.B);
		put(p, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\" class=\"tick\">",
		    cx(&c, (double)i), c.H - c.B + 16);
		put_text(p, d && strlen(d) >= 10 ? d + 5 : d);
		put(p, "</text>\n");
	}
	for (int k = ns - 1; k >= 0; k--) {
		cumulate(daily, k, shortfall, y, n);
		for (size_t i = 0; i < n; i++) {
			x[i] = (double)i + 1;	/* the day's end */
			y[i] /= scale;
		}
		chart_line(&c, x, y, n, sched_colors[k], leg[k].width, sched_dashes[k]);
	}
	chart_legend(&c, leg, ns);
	chart_end(&c);
cleanup:
	free(x);
	free(y);
}

/* Revenue, imbalance cost, value captured and uplift of the five schedules; captured
 * per lead block. */
static void table_value(struct page *p, const json_t *trading)
{
	const json_t *all = json_object_get(trading, "overall");
	const json_t *blocks = json_object_get(trading, "by_lead_block");
	const char *unit;
	double scale = money_scale(fabs(get_num(json_object_get(all, "revenue"), "perfect")),
				   &unit);

	put(p, "<table><thead><tr><th class=\"l\">schedule</th><th>revenue</th>"
	       "<th>imbalance cost</th><th>value captured</th><th>uplift over nothing "
	       "ahead, %%</th></tr></thead><tbody>\n");
	for (int k = 0; k < NSCHED; k++) {
		put(p, "<tr%s><td class=\"l\"><span class=\"sw\" style=\"background:%s\"></span>",
		    k == 0 ? " class=\"model\"" : "", sched_colors[k]);
		put_text(p, sched_labels[k]);
		put(p, "</td>");
		cell(p, get_num(json_object_get(all, "revenue"), sched_keys[k]) / scale, 3, false);
		cell(p, get_num(json_object_get(all, "imbalance_cost"), sched_keys[k]) / scale, 3,
		     false);
		cell(p, get_num(json_object_get(all, "captured"), sched_keys[k]), 3, false);
		cell(p, get_num(json_object_get(all, "uplift_pct"), sched_keys[k]), 2, false);
		put(p, "</tr>\n");
	}
	put(p, "</tbody></table>\n<p class=\"note\">Revenue and imbalance cost in %s of the "
	       "prices' currency, over ",
	    unit);
	put_count(p, get_num(all, "hours"));
	put(p, " hours settled (");
	put_count(p, get_num(all, "unscored"));
	put(p, " more were committed without an observation); value captured is (R &minus; "
	       "R<sub>nothing</sub>) / (R<sub>perfect</sub> &minus; R<sub>nothing</sub>), the "
	       "uplift in %% of nothing ahead's revenue.</p>\n");
	put(p, "<table class=\"narrow\"><thead><tr><th>leads, h</th><th>hours</th>"
	       "<th>captured: alpha-quantile</th><th>median</th><th>mean</th></tr></thead>"
	       "<tbody>\n");
	for (size_t i = 0; i < json_array_size(blocks); i++) {
		const json_t *b = json_array_get(blocks, i);

		put(p, "<tr><td>%.0f&ndash;%.0f</td><td>", get_num(b, "first_lead"),
		    get_num(b, "last_lead"));
		put_count(p, get_num(b, "hours"));
		put(p, "</td>");
		for (int k = 0; k < 3; k++)
			cell(p, get_num(json_object_get(b, "captured"), sched_keys[k]), 3, k == 0);
		put(p, "</tr>\n");
	}
	put(p, "</tbody></table>\n");
}

/* The section: what was valued, the two plots, the tables. */
static void section_value(struct page *p, const json_t *trading)
{
	const json_t *cap = json_object_get(json_object_get(trading, "overall"), "captured");
	const char *from = get_str(trading, "prices_from");

	put(p, "<h2>Value of the commitments</h2>\n<p>Each forecast of the model commits its "
	       "leads at the quantile &alpha; = &psi;<sup>+</sup> / (&psi;<sup>+</sup> + "
	       "&psi;<sup>&minus;</sup>) of its distribution (prices from ");
	put_text(p, from && !strcmp(from, "file")	 ? "the prices file"
		    : from && !strcmp(from, "options") ? "the command's options"
						       : "the stored market settings");
	put(p, "). Settled against what was metered, it captured <b>");
	put_num(p, get_num(cap, "alpha_quantile"), 3);
	put(p, "</b> of the uplift that perfect foresight earns over committing nothing "
	       "ahead; committing the median captured ");
	put_num(p, get_num(cap, "median"), 3);
	put(p, " and the mean ");
	put_num(p, get_num(cap, "mean"), 3);
	put(p, ".</p>\n<figure>");
	plot_cumulative(p, trading, false);
	put(p, "<figcaption>Cumulative revenue of each schedule by delivery day, in the "
	       "prices' currency: p&middot;a "
	       "&minus; &psi;<sup>+</sup>(a &minus; c)<sup>+</sup> &minus; &psi;<sup>&minus;"
	       "</sup>(c &minus; a)<sup>+</sup> for commitment c and metered a, summed over "
	       "every issue time's settled hours.</figcaption></figure>\n<figure>");
	plot_cumulative(p, trading, true);
	put(p, "<figcaption>What each schedule left against perfect foresight, cumulative, "
	       "in the prices' currency (its imbalance cost): lower is better.</figcaption>"
	       "</figure>\n");
	table_value(p, trading);
}

/* ---- the page ---------------------------------------------------------------------- */

static const char style[] =
	"body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,'Helvetica Neue',Arial,"
	"sans-serif;color:#1d1d1d;background:#f6f7f9;margin:0}\n"
	"main{max-width:1000px;margin:0 auto;padding:24px 28px 48px;background:#fff;"
	"box-shadow:0 0 0 1px #e3e5e8}\n"
	"h1{font-size:26px;margin:8px 0 4px}h2{font-size:19px;margin:34px 0 8px;"
	"border-bottom:1px solid #e3e5e8;padding-bottom:4px}\n"
	"p{line-height:1.45;margin:6px 0}.sub{color:#555}.note{color:#666;font-size:13px}\n"
	".cards{display:flex;flex-wrap:wrap;gap:12px;margin:18px 0 8px}\n"
	".card{flex:1 1 170px;border:1px solid #dfe3e8;border-radius:6px;padding:10px 14px;"
	"background:#fbfcfd}\n"
	".card .v{font-size:26px;font-weight:600;color:#1f4e9c}.card .k{font-size:13px;"
	"color:#555}\n"
	".warn{background:#fff4e5;border:1px solid #f0b35b;border-radius:6px;padding:10px "
	"14px;margin:14px 0}\n"
	".row{display:flex;flex-wrap:wrap;gap:18px;align-items:flex-start}\n"
	".row figure{flex:1 1 420px}\n"
	"figure{margin:10px 0}figcaption{font-size:13px;color:#555;margin-top:4px}\n"
	"svg.chart{width:100%;height:auto;display:block;font-size:12px}\n"
	"svg .tick{fill:#555;font-size:11px}svg .axis{fill:#333;font-size:12px}"
	"svg .leg{fill:#222;font-size:12px}\n"
	"table{border-collapse:collapse;margin:10px 0;font-size:13px;"
	"font-variant-numeric:tabular-nums}\n"
	"th,td{border-bottom:1px solid #e6e8eb;padding:4px 9px;text-align:right}"
	"th{background:#f1f3f6;font-weight:600;vertical-align:bottom}\n"
	"td.l,th.l{text-align:left}td.nw{white-space:nowrap}tr.model td,td.model{font-weight:600}\n"
	".sw{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:6px}\n"
	"details{margin:8px 0}summary{cursor:pointer;color:#1f4e9c}\n"
	"code{font-size:12px;background:#f1f3f6;padding:1px 4px;border-radius:3px;"
	"word-break:break-all}\n"
	"@media print{body{background:#fff}main{box-shadow:none}}\n";

/* The subject in words: "farm 'x'", "7 farms (a, b, ...)" or "portfolio P of 3 farms
 * (a, b, c)". */
static void put_subject(struct page *p, const json_t *metrics)
{
	const json_t *farms = json_object_get(metrics, "farms");
	size_t n = json_array_size(farms);

	if (get_str(metrics, "portfolio")) {
		put(p, "portfolio ");
		put_text(p, get_str(metrics, "portfolio"));
		put(p, " of ");
	} else if (n == 1) {
		put(p, "farm ");
		put_text(p, json_string_value(json_array_get(farms, 0)));
		return;
	}
	put(p, "%zu farms (", n);
	for (size_t i = 0; i < n && i < 8; i++) {
		put(p, "%s", i ? ", " : "");
		put_text(p, json_string_value(json_array_get(farms, i)));
	}
	put(p, "%s)", n > 8 ? ", ..." : "");
}

static void summary(struct page *p, const json_t *metrics)
{
	const json_t *overall = json_object_get(metrics, "overall");
	const json_t *model = scores(overall, 0), *hours = json_object_get(metrics,
									   "issue_hours");
	const json_t *counts = json_object_get(metrics, "forecasts");
	const json_t *made = json_object_get(counts, "model");
	const char *retrain = get_str(metrics, "retrain");
	char iv[8];
	const json_t *ivs = main_interval(model, iv, sizeof(iv));
	double rt = json_array_size(json_object_get(metrics, "retrains"));
	const char *first = get_str(metrics, "first_issue"), *last = get_str(metrics,
									       "last_issue");

	put(p, "<h1>Backtest of ");
	put_subject(p, metrics);
	put(p, "</h1>\n<p class=\"sub\">");
	put_count(p, get_num(metrics, "issue_times"));
	if (get_num(metrics, "issue_times") == 1) {
		put(p, " issue time, ");
		put_time(p, first);
	} else {
		put(p, " issue times from ");
		put_time(p, first);
		put(p, " to ");
		put_time(p, last);
		if (json_array_size(hours)) {
			put(p, " (every day at ");
			for (size_t i = 0; i < json_array_size(hours); i++)
				put(p, "%s%02.0f:00", i ? ", " : "",
				    json_number_value(json_array_get(hours, i)));
			put(p, ")");
		} else if (get_str(metrics, "issued_file")) {
			put(p, " (from ");
			put_text(p, get_str(metrics, "issued_file"));
			put(p, ")");
		}
	}
	put(p, ", leads 1&ndash;%.0f h. Model <b>", get_num(metrics, "horizon"));
	put_text(p, get_str(metrics, "model"));
	put(p, "</b>");
	if (retrain && !strcmp(retrain, "never"))
		put(p, ", the stored model, never retrained");
	else if (retrain)
		put(p, ", retrained %s%s (%.0f training%s, each on data before its time)",
		    !strcmp(retrain, "monthly") ? "" : "every ",
		    !strcmp(retrain, "monthly") ? "monthly" : retrain, rt, rt == 1 ? "" : "s");
	put(p, "; scored against persistence, climatology and a power curve, all issued "
	       "through the code that serves forecasts.</p>\n");
	if (json_is_true(json_object_get(metrics, "hindcast"))) {
		put(p, "<div class=\"warn\"><b>Hindcast.</b> ");
		put_text(p, get_str(metrics, "hindcast_reason"));
		put(p, "</div>\n");
	}
	if (get_num(made, "failed") > 0) {
		put(p, "<div class=\"warn\">%.0f forecasts of the model could not be made "
		       "(%.0f were); metrics.json lists the first failures. Scores are over the "
		       "hours forecast.</div>\n",
		    get_num(made, "failed"), get_num(made, "made"));
	}
	put(p, "<div class=\"cards\">\n<div class=\"card\"><div class=\"v\">");
	put_num(p, get_num(model, "rmse"), 1);
	put(p, " %%</div><div class=\"k\">RMSE of the model, of capacity "
	       "(persistence ");
	put_num(p, get_num(scores(overall, 1), "rmse"), 1);
	put(p, " %%)</div></div>\n<div class=\"card\"><div class=\"v\">");
	put_num(p, get_num(model, "skill_persistence"), 0);
	put(p, " %%</div><div class=\"k\">skill against persistence</div></div>\n"
	       "<div class=\"card\"><div class=\"v\">");
	put_num(p, get_num(model, "skill_climatology"), 0);
	put(p, " %%</div><div class=\"k\">skill against climatology</div></div>\n"
	       "<div class=\"card\"><div class=\"v\">");
	put_num(p, get_num(model, "mae"), 1);
	put(p, " %%</div><div class=\"k\">MAE of the model, of capacity</div></div>\n");
	if (ivs) {
		put(p, "<div class=\"card\"><div class=\"v\">");
		put_num(p, 100 * get_num(ivs, "coverage"), 0);
		put(p, " %%</div><div class=\"k\">of observations inside the %s %% interval "
		       "(width ",
		    iv);
		put_num(p, get_num(ivs, "width"), 0);
		put(p, " %%)</div></div>\n");
	}
	if (json_is_object(json_object_get(metrics, "trading"))) {
		const json_t *all = json_object_get(json_object_get(metrics, "trading"), "overall");

		put(p, "<div class=\"card\"><div class=\"v\">");
		put_num(p, get_num(json_object_get(all, "captured"), "alpha_quantile"), 2);
		put(p, "</div><div class=\"k\">value captured by the commitments (mean "
		       "forecast ");
		put_num(p, get_num(json_object_get(all, "captured"), "mean"), 2);
		put(p, "; perfect foresight 1)</div></div>\n");
	}
	put(p, "</div>\n<p>Over ");
	put_count(p, get_num(model, "n"));
	put(p, " forecast hours the model's RMSE is ");
	put_num(p, get_num(model, "rmse"), 2);
	put(p, " %% of capacity, ");
	put_num(p, fabs(get_num(model, "skill_persistence")), 0);
	put(p, " %% %s persistence and ", get_num(model, "skill_persistence") >= 0 ? "below"
										  : "above");
	put_num(p, fabs(get_num(model, "skill_climatology")), 0);
	put(p, " %% %s climatology; its bias is ", get_num(model, "skill_climatology") >= 0
						       ? "below"
						       : "above");
	put_num(p, get_num(model, "bias"), 2);
	put(p, " %% and its CRPS ");
	put_num(p, get_num(model, "crps"), 2);
	put(p, " %% of capacity.</p>\n");
}

enum wc_status report_html(const json_t *metrics, const struct report_fan *fan,
			   struct dynbuf *out, struct wc_error *err)
{
	struct page p = { .b = out, .ret = WC_OK };
	const json_t *cmd = json_object_get(metrics, "command");
	size_t nfarms = json_object_size(json_object_get(metrics, "by_farm"));
	const json_t *trading = json_object_get(metrics, "trading");

	if (!json_is_object(json_object_get(metrics, "overall")) ||
	    !json_is_array(json_object_get(metrics, "by_lead")))
		return wc_error_set(err, WC_EINVAL, "metrics without scores to report");
	put(&p, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
		"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
		"<title>windcast backtest: ");
	put_subject(&p, metrics);
	put(&p, "</title>\n<style>\n%s</style>\n</head>\n<body>\n<main>\n", style);
	summary(&p, metrics);

	put(&p, "<h2>Error by lead time</h2>\n<div class=\"row\">\n<figure>");
	plot_by_lead(&p, metrics, "rmse", "RMSE");
	put(&p, "<figcaption>RMSE of the point forecast by hours after the issue time, "
		"pooled over %s.</figcaption></figure>\n<figure>",
	    nfarms > 1 ? "the farms" : "the issue times");
	plot_by_lead(&p, metrics, "crps", "CRPS");
	put(&p, "<figcaption>CRPS of the quantile forecast (the whole distribution; for a "
		"point forecast it is its MAE).</figcaption></figure>\n</div>\n");

	put(&p, "<h2>Reliability</h2>\n<div class=\"row\">\n"
		"<figure style=\"flex:0 1 380px\">");
	plot_reliability(&p, metrics);
	put(&p, "<figcaption>A reliable forecaster's quantile at level &tau; has a share &tau; "
		"of the observations at or below it: points on the diagonal.</figcaption>"
		"</figure>\n<div style=\"flex:1 1 300px\">");
	table_intervals(&p, metrics);
	put(&p, "</div>\n</div>\n<h2>A sample fortnight</h2>\n<figure>");
	plot_fan(&p, fan);
	put(&p, "<figcaption>");
	if (fan && fan->n) {
		put(&p, "Farm ");
		put_text(&p, fan->farm);
		put(&p, ", capacity %.4g MW: the model's freshest forecast of each hour (the latest "
			"issue time before it) with its central intervals, against what was "
			"metered, over the last fortnight of the backtest.",
		    fan->capacity_mw);
	}
	put(&p, "</figcaption></figure>\n");
	if (json_is_object(trading))
		section_value(&p, trading);

	put(&p, "<h2>Scores</h2>\n");
	table_overall(&p, metrics);
	if (nfarms > 1) {
		put(&p, "<h2>By farm</h2>\n");
		table_by_farm(&p, metrics);
	}
	put(&p, "<h2>By lead time</h2>\n<details open><summary>RMSE, MAE and CRPS per hour of "
		"lead, %% of capacity</summary>\n");
	table_by_lead(&p, metrics);
	put(&p, "</details>\n<h2>Coverage of each quantile</h2>\n<details><summary>Share of "
		"observations at or below each quantile level, %%</summary>\n");
	table_coverage(&p, metrics);
	put(&p, "</details>\n");
	table_retrains(&p, metrics);
	put(&p, "<h2>How this was made</h2>\n<p class=\"note\">windcast ");
	put_text(&p, get_str(metrics, "windcast_version"));
	put(&p, " <code>");
	for (size_t i = 0; i < json_array_size(cmd); i++) {
		put(&p, "%s", i ? " " : "");
		put_text(&p, json_string_value(json_array_get(cmd, i)));
	}
	put(&p, "</code>. Every forecast, with the observation it is scored against, is in "
		"forecasts.csv beside this page; every number here is in metrics.json.</p>\n"
		"</main>\n</body>\n</html>\n");
	if (p.ret)
		return wc_error_set(err, p.ret, p.ret == WC_ETOOLARGE ? "report larger than its cap"
								     : "out of memory");
	return WC_OK;
}
