/*
 * sites.c - interpolation of NWP fields to farm sites; see sites.h.
 *
 * Flow: locate every site (fractional row/column or station), take the bounding box of
 * the 4x4 cell windows around the sites, then per block of times read each variable over
 * the box once, copy each site's window out of it, and derive the columns.
 */
#include "data/sites.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/projection.h"

#define WIN 4		/* window rows/columns: i0-1 .. i0+2 */
#define WIN2 (WIN * WIN)
#define DEG (M_PI / 180.0)

static const char *const column_names[SITE_NCOLUMNS] = {
	"u10", "v10", "u100", "v100", "ws10", "ws100", "wd10", "wd100", "t2m", "sp",
	"nbr_mean", "nbr_std", "ws_hub", "rho",
};

const char *site_column_name(enum site_column c)
{
	return (unsigned)c < SITE_NCOLUMNS ? column_names[c] : "?";
}

void sites_result_release(struct sites_result *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->nseries; i++) {
		free(r->series[i].values);
		free(r->series[i].ws_h);
	}
	free(r->series);
	free(r->skipped);
	free(r->valid_times);
	free(r->lead_hours);
	memset(r, 0, sizeof(*r));
}

/* Where a site sits on the grid. */
struct loc {
	size_t site;
	double fy, fx;
	long i0, j0;		/* lower-left corner */
	double wy, wx;		/* weights of the upper corner */
	double dist_km;
};

static double haversine_km(double lat1, double lon1, double lat2, double lon2)
{
	double dlat = (lat2 - lat1) * DEG, dlon = (lon2 - lon1) * DEG;
	double a = sin(dlat / 2) * sin(dlat / 2) +
		   cos(lat1 * DEG) * cos(lat2 * DEG) * sin(dlon / 2) * sin(dlon / 2);

	return 2 * 6371.0088 * asin(fmin(1, sqrt(a)));
}

/*
 * Fractional index of v in the strictly monotonic c[n]; false when outside. A
 * dimension one point wide accepts v within `tol` of it (nearest).
 */
static bool locate_1d(const double *c, size_t n, double v, double tol, double *fi)
{
	size_t lo = 0, hi;
	bool asc;
	double eps;

	if (n == 1) {
		*fi = 0;
		return fabs(v - c[0]) <= tol;
	}
	asc = c[n - 1] > c[0];
	eps = 1e-9 * fabs(c[n - 1] - c[0]);
	if (asc ? (v < c[0] - eps || v > c[n - 1] + eps) : (v > c[0] + eps || v < c[n - 1] - eps))
		return false;
	hi = n - 1;
	while (hi - lo > 1) {
		size_t mid = (lo + hi) / 2;

		if (asc ? c[mid] <= v : c[mid] >= v)
			lo = mid;
		else
			hi = mid;
	}
	*fi = lo + (v - c[lo]) / (c[lo + 1] - c[lo]);
	if (*fi < 0)
		*fi = 0;
	if (*fi > (double)(n - 1))
		*fi = (double)(n - 1);
	return true;
}

static double spacing(const double *c, size_t n)
{
	return n > 1 ? fabs(c[1] - c[0]) : NAN;
}

static bool locate_regular(const struct nwp_file *f, double lat, double lon, double *fy,
			   double *fx)
{
	size_t nx = f->nx;
	const double *L = f->lon1d;
	double dl = spacing(L, nx), dlat = spacing(f->lat1d, f->ny);
	double lo = nx > 1 ? fmin(L[0], L[nx - 1]) : L[0], hi = nx > 1 ? fmax(L[0], L[nx - 1]) : L[0];
	double tol_y = isnan(dlat) ? (isnan(dl) ? 0.25 : dl / 2) : dlat / 2;
	double tol_x = isnan(dl) ? tol_y : dl / 2;
	double v;

	if (!locate_1d(f->lat1d, f->ny, lat, tol_y, fy))
		return false;
	if (nx == 1) {
		*fx = 0;
		return fabs(remainder(lon - L[0], 360)) <= tol_x;
	}
	/* bring the site longitude into [lo, lo + 360) */
	v = lo + fmod(fmod(lon - lo, 360) + 360, 360);
	if (v >= lo + 360 - 1e-9)
		v -= 360;
	if (v <= hi + 1e-9 * (hi - lo))
		return locate_1d(L, nx, v, tol_x, fx);
	if (f->lon_wraps && L[nx - 1] > L[0]) {
		/* between the last column and the first one, across the seam */
		*fx = (double)(nx - 1) + (v - hi) / dl;
		return *fx < (double)nx;
	}
	/* NEEDSWORK: global grids stored with descending longitudes do not wrap */
	return false;
}

static bool locate_projected(const struct nwp_file *f, double lat, double lon, double *fy,
			     double *fx)
{
	double x, y, dx = spacing(f->x1d, f->nx), dy = spacing(f->y1d, f->ny);

	projection_forward(&f->proj, lat, lon, &x, &y);
	return locate_1d(f->y1d, f->ny, y, isnan(dy) ? (isnan(dx) ? 1e4 : dx / 2) : dy / 2,
			 fy) &&
	       locate_1d(f->x1d, f->nx, x, isnan(dx) ? (isnan(dy) ? 1e4 : dy / 2) : dx / 2,
			 fx);
}

static double lon_near(double lon, double ref)
{
	return lon - 360 * round((lon - ref) / 360);
}

/*
 * Curvilinear: nearest cell by a coarse then local search, then invert the bilinear
 * map of the quads around it with Newton steps (local x = lon * cos(lat), y = lat).
 */
static bool locate_curvilinear(const struct nwp_file *f, double lat, double lon,
			       double *fy, double *fx)
{
	size_t ny = f->ny, nx = f->nx, step = 1, bi = 0, bj = 0;
	const double *la = f->lat2d, *lo = f->lon2d;
	double best = INFINITY, cl = cos(lat * DEG);

	while ((ny / step) * (nx / step) > 40000)
		step *= 2;
	for (int pass = 0; pass < 2; pass++) {
		size_t i0 = 0, i1 = ny, j0 = 0, j1 = nx, s = step;

		if (pass == 1) {
			if (step == 1)
				break;
			i0 = bi > 2 * step ? bi - 2 * step : 0;
			j0 = bj > 2 * step ? bj - 2 * step : 0;
			i1 = bi + 2 * step + 1 < ny ? bi + 2 * step + 1 : ny;
			j1 = bj + 2 * step + 1 < nx ? bj + 2 * step + 1 : nx;
			s = 1;
		}
		for (size_t i = i0; i < i1; i += s) {
			for (size_t j = j0; j < j1; j += s) {
				double dy = la[i * nx + j] - lat;
				double dx = (lon_near(lo[i * nx + j], lon) - lon) * cl;

				if (dy * dy + dx * dx < best) {
					best = dy * dy + dx * dx;
					bi = i;
					bj = j;
				}
			}
		}
	}
	if (ny < 2 || nx < 2)
		return false;
	for (int di = -1; di <= 0; di++) {
		for (int dj = -1; dj <= 0; dj++) {
			long i = (long)bi + di, j = (long)bj + dj;
			double a = 0.5, b = 0.5, X[4], Y[4];

			if (i < 0 || j < 0 || i + 1 >= (long)ny || j + 1 >= (long)nx)
				continue;
			/* corners: 0 (i,j) 1 (i,j+1) 2 (i+1,j) 3 (i+1,j+1) */
			for (int k = 0; k < 4; k++) {
				size_t ci = (size_t)(i + k / 2), cj = (size_t)(j + k % 2);

				X[k] = (lon_near(lo[ci * nx + cj], lon) - lon) * cl;
				Y[k] = la[ci * nx + cj] - lat;
			}
			for (int it = 0; it < 30; it++) {
				double px = (1 - a) * (1 - b) * X[0] + b * (1 - a) * X[1] +
					    a * (1 - b) * X[2] + a * b * X[3];
				double py = (1 - a) * (1 - b) * Y[0] + b * (1 - a) * Y[1] +
					    a * (1 - b) * Y[2] + a * b * Y[3];
				double dxa = (1 - b) * (X[2] - X[0]) + b * (X[3] - X[1]);
				double dxb = (1 - a) * (X[1] - X[0]) + a * (X[3] - X[2]);
				double dya = (1 - b) * (Y[2] - Y[0]) + b * (Y[3] - Y[1]);
				double dyb = (1 - a) * (Y[1] - Y[0]) + a * (Y[3] - Y[2]);
				double det = dxa * dyb - dxb * dya;

				if (fabs(det) < 1e-300)
					break;
				a -= (px * dyb - py * dxb) / det;
				b -= (py * dxa - px * dya) / det;
			}
			if (a >= -1e-9 && a <= 1 + 1e-9 && b >= -1e-9 && b <= 1 + 1e-9) {
				*fy = (double)i + fmin(fmax(a, 0), 1);
				*fx = (double)j + fmin(fmax(b, 0), 1);
				return true;
			}
		}
	}
	return false;
}

static bool match_station(const struct nwp_file *f, const struct site *s, double max_km,
			  double *fx, double *dist)
{
	double best = INFINITY;
	size_t bi = 0;

	if (s->id && f->station_ids) {
		for (size_t i = 0; i < f->nx; i++) {
			if (f->station_ids[i] && strcmp(f->station_ids[i], s->id) == 0) {
				*fx = (double)i;
				*dist = haversine_km(s->lat, s->lon, f->lat2d[i], f->lon2d[i]);
				return true;
			}
		}
	}
	for (size_t i = 0; i < f->nx; i++) {
		double d = haversine_km(s->lat, s->lon, f->lat2d[i], f->lon2d[i]);

		if (d < best) {
			best = d;
			bi = i;
		}
	}
	if (!(best <= max_km))
		return false;
	*fx = (double)bi;
	*dist = best;
	return true;
}

static void domain_text(const struct nwp_file *f, char *buf, size_t len)
{
	double la0 = INFINITY, la1 = -INFINITY, lo0 = INFINITY, lo1 = -INFINITY;
	size_t corners[4][2] = { { 0, 0 }, { 0, f->nx - 1 }, { f->ny - 1, 0 },
				 { f->ny - 1, f->nx - 1 } };

	for (int k = 0; k < 4; k++) {
		double la, lo;

		nwp_file_cell_latlon(f, corners[k][0], corners[k][1], &la, &lo);
		la0 = fmin(la0, la);
		la1 = fmax(la1, la);
		lo0 = fmin(lo0, lo);
		lo1 = fmax(lo1, lo);
	}
	snprintf(buf, len, "lat %.2f..%.2f, lon %.2f..%.2f", la0, la1, lo0, lo1);
}

/* Meteorological direction (from where, clockwise from north). */
static double met_direction(double u, double v)
{
	double d;

	if (!isfinite(u) || !isfinite(v) || (u == 0 && v == 0))
		return NAN;
	d = atan2(-u, -v) / DEG;
	return d < 0 ? d + 360 : d;
}

/* Bilinear value from window w (WIN2) with renormalised weights over valid corners. */
static double bilinear(const double *w, double wy, double wx)
{
	double wt[4] = { (1 - wy) * (1 - wx), (1 - wy) * wx, wy * (1 - wx), wy * wx };
	int idx[4] = { 1 * WIN + 1, 1 * WIN + 2, 2 * WIN + 1, 2 * WIN + 2 };
	double sum = 0, sw = 0;

	for (int k = 0; k < 4; k++) {
		if (wt[k] > 0 && isfinite(w[idx[k]])) {
			sum += wt[k] * w[idx[k]];
			sw += wt[k];
		}
	}
	return sw > 0 ? sum / sw : NAN;
}

/* Mean and population standard deviation over the 3x3 around the nearest cell. */
static void neighbourhood(const double *spd, double wy, double wx, double *mean,
			  double *sd)
{
	int ci = wy < 0.5 ? 1 : 2, cj = wx < 0.5 ? 1 : 2, n = 0;
	double s = 0, s2 = 0;

	for (int i = ci - 1; i <= ci + 1; i++) {
		for (int j = cj - 1; j <= cj + 1; j++) {
			if (isfinite(spd[i * WIN + j])) {
				s += spd[i * WIN + j];
				n++;
			}
		}
	}
	if (n == 0) {
		*mean = *sd = NAN;
		return;
	}
	*mean = s / n;
	for (int i = ci - 1; i <= ci + 1; i++)
		for (int j = cj - 1; j <= cj + 1; j++)
			if (isfinite(spd[i * WIN + j]))
				s2 += (spd[i * WIN + j] - *mean) * (spd[i * WIN + j] - *mean);
	*sd = sqrt(s2 / n);
}

/* Power-law speed at z from per-height speeds ws[nh] at heights h[nh]. */
static double speed_at(const double *h, const double *ws, size_t nh, double z,
		       size_t *nearest)
{
	size_t a = SIZE_MAX, b = SIZE_MAX;
	double alpha = 1.0 / 7.0;

	for (size_t k = 0; k < nh; k++) {
		if (!isfinite(ws[k]))
			continue;
		if (a == SIZE_MAX || fabs(log(h[k] / z)) < fabs(log(h[a] / z))) {
			b = a;
			a = k;
		} else if (b == SIZE_MAX || fabs(log(h[k] / z)) < fabs(log(h[b] / z))) {
			b = k;
		}
	}
	*nearest = a;
	if (a == SIZE_MAX)
		return NAN;
	if (fabs(h[a] - z) < 0.5)
		return ws[a];
	if (b != SIZE_MAX && ws[a] >= 0.1 && ws[b] >= 0.1)
		alpha = log(ws[b] / ws[a]) / log(h[b] / h[a]);
	return ws[a] * pow(z / h[a], alpha);
}

struct plan {
	struct nwp_file *f;
	size_t nh;
	double h[8];
	int iu[8], iv[8], is[8];	/* variable index per height, -1 */
	int it, ip;			/* t2m, sp */
	size_t nbr;			/* height index of the neighbourhood */
	bool rotate;
};

/* Derive all columns of one site at one time from its windows (var, WIN2). */
static void derive(const struct plan *p, const struct site *s, const struct loc *l,
		   const double *win, const double *angle, size_t nt_b, size_t t,
		   struct site_series *out, size_t ntimes, size_t tg)
{
	double u[8], v[8], ws[8], mean = NAN, sd = NAN;
	size_t nvars = p->f->nvars;

#define W(k) (win + ((size_t)(k) * nt_b + t) * WIN2)
	for (size_t k = 0; k < p->nh; k++) {
		double spd[WIN2];

		u[k] = v[k] = ws[k] = NAN;
		if (p->iu[k] >= 0) {
			double uu[WIN2], vv[WIN2];

			memcpy(uu, W(p->iu[k]), sizeof(uu));
			memcpy(vv, W(p->iv[k]), sizeof(vv));
			for (int w = 0; w < WIN2; w++) {
				if (p->f->vars[p->iu[k]].grid_relative && isfinite(uu[w]) &&
				    isfinite(vv[w]))
					projection_rotate_to_earth(angle[w], &uu[w], &vv[w]);
				spd[w] = hypot(uu[w], vv[w]);
			}
			u[k] = bilinear(uu, l->wy, l->wx);
			v[k] = bilinear(vv, l->wy, l->wx);
			ws[k] = hypot(u[k], v[k]);
		} else if (p->is[k] >= 0) {
			memcpy(spd, W(p->is[k]), sizeof(spd));
			ws[k] = bilinear(spd, l->wy, l->wx);
		} else {
			continue;
		}
		if (k == p->nbr && p->f->geometry != NWP_POINTS)
			neighbourhood(spd, l->wy, l->wx, &mean, &sd);
		out->ws_h[k * ntimes + tg] = ws[k];
		out->wd_h[k * ntimes + tg] = met_direction(u[k], v[k]);
	}
	(void)nvars;
	double *val = out->values;
	const double targets[2] = { 10, 100 };
	const int cu[2] = { SITE_U10, SITE_U100 }, cv[2] = { SITE_V10, SITE_V100 };
	const int cw[2] = { SITE_WS10, SITE_WS100 }, cd[2] = { SITE_WD10, SITE_WD100 };

	for (int k = 0; k < 2; k++) {
		size_t near;
		double z = targets[k], w = speed_at(p->h, ws, p->nh, z, &near);
		double r;

		if (near == SIZE_MAX)
			continue;
		r = ws[near] > 0 ? w / ws[near] : 1;
		val[cw[k] * ntimes + tg] = w;
		val[cu[k] * ntimes + tg] = u[near] * r;
		val[cv[k] * ntimes + tg] = v[near] * r;
		val[cd[k] * ntimes + tg] = met_direction(u[near], v[near]);
		if (fabs(p->h[near] - z) >= 0.5)
			out->derived |= 1u << cw[k] | 1u << cu[k] | 1u << cv[k] |
					1u << cd[k];
	}
	if (s->hub_height_m > 0) {
		size_t near;

		val[SITE_WS_HUB * ntimes + tg] = speed_at(p->h, ws, p->nh, s->hub_height_m,
							  &near);
		if (near != SIZE_MAX && fabs(p->h[near] - s->hub_height_m) >= 0.5)
			out->derived |= 1u << SITE_WS_HUB;
	}
	val[SITE_NBR_MEAN * ntimes + tg] = mean;
	val[SITE_NBR_STD * ntimes + tg] = sd;
	if (p->it >= 0)
		val[SITE_T2M * ntimes + tg] = bilinear(W(p->it), l->wy, l->wx);
	if (p->ip >= 0)
		val[SITE_SP * ntimes + tg] = bilinear(W(p->ip), l->wy, l->wx);
	val[SITE_RHO * ntimes + tg] = val[SITE_SP * ntimes + tg] /
				      (287.05 * val[SITE_T2M * ntimes + tg]);
#undef W
}

static void make_plan(struct plan *p, struct nwp_file *f)
{
	memset(p, 0, sizeof(*p));
	p->f = f;
	p->nh = nwp_file_heights(f, p->h, 8);
	if (p->nh > 8)
		p->nh = 8;
	for (size_t k = 0; k < p->nh; k++) {
		p->iu[k] = nwp_file_find(f, NWP_U, p->h[k]);
		p->iv[k] = nwp_file_find(f, NWP_V, p->h[k]);
		p->is[k] = nwp_file_find(f, NWP_SPEED, p->h[k]);
		if (p->iu[k] < 0 || p->iv[k] < 0)
			p->iu[k] = p->iv[k] = -1;
		if (p->iu[k] >= 0 && f->vars[p->iu[k]].grid_relative)
			p->rotate = true;
		if (fabs(log(p->h[k] / 100)) < fabs(log(p->h[p->nbr] / 100)))
			p->nbr = k;
	}
	p->it = nwp_file_find(f, NWP_T2M, 0);
	p->ip = nwp_file_find(f, NWP_SP, 0);
}

static bool locate(const struct nwp_file *f, const struct site *s, double max_km,
		   struct loc *l)
{
	bool ok = false;

	l->dist_km = 0;
	switch (f->geometry) {
	case NWP_GRID_REGULAR: ok = locate_regular(f, s->lat, s->lon, &l->fy, &l->fx); break;
	case NWP_GRID_PROJECTED: ok = locate_projected(f, s->lat, s->lon, &l->fy, &l->fx); break;
	case NWP_GRID_CURVILINEAR:
		ok = locate_curvilinear(f, s->lat, s->lon, &l->fy, &l->fx);
		break;
	case NWP_POINTS:
		l->fy = 0;
		ok = match_station(f, s, max_km, &l->fx, &l->dist_km);
		break;
	}
	if (!ok)
		return false;
	l->i0 = (long)floor(l->fy);
	l->j0 = (long)floor(l->fx);
	if (f->ny > 1 && l->i0 >= (long)f->ny - 1)
		l->i0 = (long)f->ny - 2;
	if (f->geometry == NWP_POINTS || f->ny == 1)
		l->i0 = 0;
	if (f->geometry != NWP_POINTS && !f->lon_wraps && f->nx > 1 &&
	    l->j0 >= (long)f->nx - 1)
		l->j0 = (long)f->nx - 2;
	if (f->nx == 1)
		l->j0 = 0;
	l->wy = f->ny > 1 && f->geometry != NWP_POINTS ? l->fy - (double)l->i0 : 0;
	l->wx = f->nx > 1 && f->geometry != NWP_POINTS ? l->fx - (double)l->j0 : 0;
	return true;
}

/* Columns of the box: [c0, c0 + nxb) modulo nx, the complement of the largest gap. */
static enum wc_status column_box(const struct nwp_file *f, const struct loc *locs,
				 size_t nloc, size_t *c0, size_t *nxb, struct wc_error *err)
{
	size_t nx = f->nx, best_len = 0, best_start = 0;
	bool *used;

	if (!f->lon_wraps || f->geometry == NWP_POINTS) {
		long lo = (long)nx, hi = -1;

		for (size_t i = 0; i < nloc; i++) {
			long a = f->geometry == NWP_POINTS ? locs[i].j0 : locs[i].j0 - 1;
			long b = f->geometry == NWP_POINTS ? locs[i].j0 : locs[i].j0 + 2;

			lo = a < lo ? a : lo;
			hi = b > hi ? b : hi;
		}
		lo = lo < 0 ? 0 : lo;
		hi = hi >= (long)nx ? (long)nx - 1 : hi;
		*c0 = (size_t)lo;
		*nxb = (size_t)(hi - lo + 1);
		return WC_OK;
	}
	used = calloc(nx, sizeof(*used));
	if (!used)
		return wc_error_set(err, WC_ENOMEM, "out of memory");
	for (size_t i = 0; i < nloc; i++)
		for (long k = -1; k <= 2; k++)
			used[(size_t)((locs[i].j0 + k + (long)nx) % (long)nx)] = true;
	/* largest circular run of unused columns */
	for (size_t start = 0; start < nx; start++) {
		size_t len = 0;

		if (used[start] || !used[(start + nx - 1) % nx])
			continue;
		while (len < nx && !used[(start + len) % nx])
			len++;
		if (len > best_len) {
			best_len = len;
			best_start = start;
		}
	}
	free(used);
	*c0 = best_len ? (best_start + best_len) % nx : 0;
	*nxb = nx - best_len;
	/* a box over most of the globe: one contiguous read beats two strided ones */
	if (*nxb > nx / 2) {
		*c0 = 0;
		*nxb = nx;
	}
	return WC_OK;
}

/* The part of the grid read for every time block: rows [r0, r0 + nyb), columns
 * [c0, c0 + nxb) modulo nx. */
struct box {
	size_t r0, nyb, c0, nxb;
};

/*
 * Locate every site: the located ones into locs[0 .. *nloc) (with their index in sites),
 * the others into out->skipped with the reason.
 */
static void locate_sites(const struct nwp_file *f, const struct site *sites, size_t n,
			 double max_km, struct loc *locs, size_t *nloc,
			 struct sites_result *out)
{
	char dom[128];

	domain_text(f, dom, sizeof(dom));
	*nloc = 0;
	for (size_t i = 0; i < n; i++) {
		const struct site *s = &sites[i];
		struct site_skip *sk = &out->skipped[out->nskipped];

		locs[*nloc].site = i;
		if (!isfinite(s->lat) || !isfinite(s->lon) || fabs(s->lat) > 90) {
			sk->site = i;
			snprintf(sk->reason, sizeof(sk->reason), "invalid coordinates");
			out->nskipped++;
		} else if (!locate(f, s, max_km, &locs[*nloc])) {
			sk->site = i;
			if (f->geometry == NWP_POINTS)
				snprintf(sk->reason, sizeof(sk->reason),
					 "no station with id '%.40s' or within %.0f km",
					 s->id ? s->id : "", max_km);
			else
				snprintf(sk->reason, sizeof(sk->reason),
					 "outside the grid (%s)", dom);
			out->nskipped++;
		} else {
			(*nloc)++;
		}
	}
}

/* One series per located site, every value NaN: nt times of the columns and nh heights. */
static enum wc_status series_alloc(struct sites_result *out, const struct loc *locs,
				   size_t nloc, size_t nt, size_t nh, struct wc_error *err)
{
	out->series = calloc(nloc, sizeof(*out->series));
	if (!out->series)
		return wc_error_set(err, WC_ENOMEM, "out of memory");
	for (size_t i = 0; i < nloc; i++) {
		struct site_series *ss = &out->series[i];

		out->nseries++;
		ss->site = locs[i].site;
		ss->fy = locs[i].fy;
		ss->fx = locs[i].fx;
		ss->distance_km = locs[i].dist_km;
		ss->values = malloc(SITE_NCOLUMNS * nt * sizeof(double));
		ss->ws_h = malloc((2 * nh + 1) * nt * sizeof(double));
		ss->wd_h = ss->ws_h + nh * nt;
		for (size_t k = 0; ss->ws_h && k < 2 * nh * nt; k++)
			ss->ws_h[k] = NAN;
		if (!ss->values || !ss->ws_h)
			return wc_error_set(err, WC_ENOMEM, "out of memory");
		for (size_t k = 0; k < SITE_NCOLUMNS * nt; k++)
			ss->values[k] = NAN;
	}
	return WC_OK;
}

/* The box that holds every located site's window. */
static enum wc_status box_of(const struct nwp_file *f, const struct loc *locs, size_t nloc,
			     struct box *b, struct wc_error *err)
{
	size_t r0 = f->ny - 1, r1 = 0;

	for (size_t i = 0; i < nloc; i++) {
		long lo = locs[i].i0 - 1 < 0 ? 0 : locs[i].i0 - 1;
		long hi = locs[i].i0 + 2 >= (long)f->ny ? (long)f->ny - 1 : locs[i].i0 + 2;

		r0 = (size_t)lo < r0 ? (size_t)lo : r0;
		r1 = (size_t)hi > r1 ? (size_t)hi : r1;
	}
	b->r0 = r0;
	b->nyb = r1 - r0 + 1;
	return column_box(f, locs, nloc, &b->c0, &b->nxb, err);
}

/* Rotation angles of grid-relative winds at each window cell, (nloc, WIN2); *out owned
 * by the caller. */
static enum wc_status window_angles(const struct nwp_file *f, const struct loc *locs,
				    size_t nloc, double **out, struct wc_error *err)
{
	double *angles = calloc(nloc * WIN2, sizeof(double));

	if (!(*out = angles))
		return wc_error_set(err, WC_ENOMEM, "out of memory");
	for (size_t i = 0; i < nloc; i++) {
		for (int w = 0; w < WIN2; w++) {
			long r = locs[i].i0 - 1 + w / WIN, c = locs[i].j0 - 1 + w % WIN;
			double la, lo;

			if (r < 0 || r >= (long)f->ny || c < 0 || c >= (long)f->nx)
				continue;
			nwp_file_cell_latlon(f, (size_t)r, (size_t)c, &la, &lo);
			angles[i * WIN2 + (size_t)w] = projection_convergence(&f->proj, la, lo);
		}
	}
	return WC_OK;
}

/* One time block for all variables within max_cells, and each variable's cache sized
 * for it. */
static size_t time_block(struct nwp_file *f, size_t nloc, const struct box *b,
			 size_t max_cells)
{
	size_t block = SIZE_MAX, nvars = f->nvars;

	for (size_t k = 0; k < nvars; k++) {
		size_t tb = nwp_file_time_block(f, k, b->nyb, b->nxb, max_cells);

		block = tb < block ? tb : block;
	}
	if (block > max_cells / (nloc * nvars * WIN2))
		block = max_cells / (nloc * nvars * WIN2);
	if (block == 0)
		block = 1;
	for (size_t k = 0; k < nvars; k++)
		nwp_file_time_block(f, k, b->nyb, b->nxb, block * b->nyb * b->nxb);
	return block;
}

/* Window cell q of the site at l, time t of the block read into buf; NaN off the grid or
 * the box (and for a station's file everywhere but the centre cell). */
static double window_value(const struct nwp_file *f, const struct nwp_var *v, const void *buf,
			   const struct box *b, const struct loc *l, size_t t, int q)
{
	long r = l->i0 - 1 + q / WIN, c = l->j0 - 1 + q % WIN;
	size_t bc;

	if (f->geometry == NWP_POINTS && (q / WIN != 1 || q % WIN != 1))
		return NAN;
	if (r < 0 || r >= (long)f->ny)
		return NAN;
	if (f->lon_wraps)
		c = (c + (long)f->nx) % (long)f->nx;
	else if (c < 0 || c >= (long)f->nx)
		return NAN;
	bc = ((size_t)c + f->nx - b->c0) % f->nx;
	if (bc >= b->nxb)
		return NAN;
	return nwp_var_value(v, buf, (t * b->nyb + (size_t)r - b->r0) * b->nxb + bc);
}

/* Copy variable k's windows of nb times out of its block in buf: win (nloc, nvars,
 * block, WIN2). */
static void fill_windows(const struct nwp_file *f, size_t k, const void *buf,
			 const struct box *b, const struct loc *locs, size_t nloc,
			 size_t block, size_t nb, double *win)
{
	for (size_t i = 0; i < nloc; i++) {
		double *w0 = win + ((i * f->nvars + k) * block) * WIN2;

		for (size_t t = 0; t < nb; t++)
			for (int q = 0; q < WIN2; q++)
				w0[t * WIN2 + (size_t)q] =
					window_value(f, &f->vars[k], buf, b, &locs[i], t, q);
	}
}

enum wc_status sites_extract(struct nwp_file *f, const struct site *sites, size_t n,
			     const struct sites_options *opt, struct sites_result *out,
			     struct wc_error *err)
{
	double max_km = opt && opt->max_station_km > 0 ? opt->max_station_km : 30;
	size_t max_cells = opt && opt->max_cells > 0 ? opt->max_cells : (size_t)1 << 20;
	size_t tf = opt ? opt->time_first : 0, nt = opt && opt->time_count ? opt->time_count :
		    f->ntimes - (tf < f->ntimes ? tf : f->ntimes);
	size_t nloc = 0, nvars = f->nvars, block, es = 1;
	struct loc *locs = NULL;
	double *win = NULL, *angles = NULL;
	void *buf = NULL;
	struct plan p;
	struct box b = { 0 };
	enum wc_status ret = WC_OK;

	memset(out, 0, sizeof(*out));
	if (tf >= f->ntimes || nt > f->ntimes - tf)
		return wc_error_set(err, WC_EINVAL,
				    "times %zu..%zu are outside '%s' (%zu times)", tf, tf + nt,
				    f->label, f->ntimes);
	locs = calloc(n + 1, sizeof(*locs));
	out->skipped = calloc(n + 1, sizeof(*out->skipped));
	out->valid_times = malloc(nt * sizeof(int64_t));
	out->lead_hours = malloc(nt * sizeof(double));
	if (!locs || !out->skipped || !out->valid_times || !out->lead_hours) {
		ret = wc_error_set(err, WC_ENOMEM, "out of memory");
		goto cleanup;
	}
	out->ntimes = nt;
	memcpy(out->valid_times, f->valid_times + tf, nt * sizeof(int64_t));
	memcpy(out->lead_hours, f->lead_hours + tf, nt * sizeof(double));
	make_plan(&p, f);
	out->nheights = p.nh;
	memcpy(out->heights_m, p.h, p.nh * sizeof(double));
	out->nbr_height_m = p.nh ? p.h[p.nbr] : NAN;
	locate_sites(f, sites, n, max_km, locs, &nloc, out);
	if (nloc == 0)
		goto cleanup;
	if (nt > (size_t)67108864 / (SITE_NCOLUMNS + 2 * p.nh) / nloc) {
		ret = wc_error_set(err, WC_ETOOLARGE,
				   "cannot extract %zu sites x %zu times from '%s': too large; "
				   "split the sites or the file", nloc, nt, f->label);
		goto cleanup;
	}
	if ((ret = series_alloc(out, locs, nloc, nt, p.nh, err)) ||
	    (ret = box_of(f, locs, nloc, &b, err)) ||
	    (p.rotate && (ret = window_angles(f, locs, nloc, &angles, err))))
		goto cleanup;
	block = time_block(f, nloc, &b, max_cells);
	for (size_t k = 0; k < nvars; k++)
		es = nwp_var_size(&f->vars[k]) > es ? nwp_var_size(&f->vars[k]) : es;
	buf = malloc(block * b.nyb * b.nxb * es);
	win = malloc(nloc * nvars * block * WIN2 * sizeof(double));
	if (!buf || !win) {
		ret = wc_error_set(err, WC_ENOMEM, "out of memory");
		goto cleanup;
	}
	for (size_t t0 = 0; t0 < nt; t0 += block) {
		size_t nb = nt - t0 < block ? nt - t0 : block;

		for (size_t k = 0; k < nvars; k++) {
			if ((ret = nwp_file_read_native(f, k, tf + t0, nb, b.r0, b.nyb, b.c0,
							b.nxb, buf, err)))
				goto cleanup;
			fill_windows(f, k, buf, &b, locs, nloc, block, nb, win);
		}
		for (size_t i = 0; i < nloc; i++)
			for (size_t t = 0; t < nb; t++)
				derive(&p, &sites[locs[i].site], &locs[i],
				       win + i * nvars * block * WIN2,
				       angles ? angles + i * WIN2 : NULL, block, t,
				       &out->series[i], nt, t0 + t);
	}
cleanup:
	free(locs);
	free(buf);
	free(win);
	free(angles);
	if (ret)
		sites_result_release(out);
	return ret;
}
