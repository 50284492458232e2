/*
 * synth.c - the synthetic data generator and its writers; the model is described in
 * synth.h.
 *
 * Limits: one grid per generator (the farms' bounding box plus a margin), sea-level
 * surface (sp is mslp), no missing values in the grids. Floating point results depend
 * only on libm and the compiler flags, so "same bytes" holds for one build.
 */
#include "data/synth.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <math.h>
#include <netcdf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/utc.h"

#define PI 3.14159265358979323846
#define DEG (PI / 180.0)
#define KM_PER_DEG 111.2
#define OMEGA 7.2921e-5		/* Earth's rotation, rad/s */
#define RHO 1.25		/* air density, kg/m3 */
#define P_BASE 101300.0		/* background pressure, Pa */
#define U_BG 7.0		/* background geostrophic westerly, m/s */
#define GEO_CAP 38.0		/* soft cap on the geostrophic speed, m/s */
#define MAX_LIFE (7.0 * UTC_DAY)
#define NMODES 4		/* spatial modes of the AR(1) forecast errors */
#define AR_PHI 0.93
#define PACK_FILL (-32767)
#define PACK_HALF 32766		/* packed values stay in [-32766, 32766] */

/* Purposes of the random streams, so that each is independent of the others. */
enum { STREAM_SYSTEMS = 1, STREAM_RUN = 2, STREAM_OBS = 3 };

static const struct synth_farm farm_table[SYNTH_MAX_FARMS] = {
	{ "north-sea-1", "Demo North Sea 1", 55.00, 6.25, 400, 105, 3.0, 12.5, 25 },
	{ "horns-reef", "Demo Horns Reef", 55.50, 7.75, 210, 80, 3.0, 13.0, 25 },
	{ "jutland-1", "Demo Jutland 1", 56.25, 8.50, 60, 95, 3.0, 12.0, 25 },
	{ "german-bight-1", "Demo German Bight 1", 54.25, 7.00, 300, 100, 3.0, 12.5, 25 },
	{ "anholt", "Demo Anholt", 56.50, 11.25, 400, 82, 3.5, 13.0, 25 },
	{ "kriegers-flak", "Demo Kriegers Flak", 55.00, 12.75, 600, 100, 3.0, 12.5, 25 },
	{ "hollandse-kust", "Demo Hollandse Kust", 52.50, 4.25, 750, 110, 3.0, 12.0, 25 },
	{ "dogger-bank-1", "Demo Dogger Bank 1", 54.75, 2.00, 1200, 130, 3.0, 12.5, 25 },
};

static const char *const var_names[SYNTH_NVARS] = { "u10", "v10", "u100", "v100", "t2m", "sp" };

/* A moving pressure system; positions in km on the plane tangent at the grid centre. */
struct system {
	double t0, life;	/* birth (s since epoch), life span (s) */
	double x0, y0;		/* centre at birth, km */
	double vx, vy;		/* drift, km/s */
	double amp;		/* peak pressure anomaly, Pa (< 0 low, > 0 high) */
	double radius;		/* km at birth; grows to 1.2x by death */
};

/* A forecast's error on one system at one lead. */
struct sys_pert {
	double dx, dy;		/* position error, km */
	double amp;		/* amplitude factor */
	double dt;		/* life-cycle timing error, s */
};

/* Additive errors of a forecast at one point. */
struct wx_err {
	double du, dv, dalpha, dt2m;
};

struct synth {
	struct synth_config cfg;
	struct synth_grid grid;
	double lat_c, lon_c, coslat_c, f0;
	struct system *sys;	/* (nsys), sorted by t0 */
	int nsys;
	double noise_w[4], noise_ph[4];	/* slow noise on alpha */
};

/* ---- random numbers: splitmix64 to seed, xoshiro256** to draw ---- */

struct rng {
	uint64_t s[4];
};

static uint64_t mix64(uint64_t z)
{
	z += 0x9e3779b97f4a7c15ULL;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void rng_init(struct rng *r, uint64_t seed, uint64_t purpose, uint64_t index)
{
	uint64_t key = mix64(mix64(mix64(seed) ^ purpose) ^ index);

	for (int i = 0; i < 4; i++) {
		key = mix64(key);
		r->s[i] = key;
	}
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(struct rng *r)
{
	uint64_t *s = r->s;
	uint64_t result = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

/* Uniform in [0, 1). */
static double rng_unif(struct rng *r)
{
	return (double)(rng_next(r) >> 11) * 0x1.0p-53;
}

static double rng_range(struct rng *r, double lo, double hi)
{
	return lo + (hi - lo) * rng_unif(r);
}

/* Standard normal (Box-Muller, one value per call). */
static double rng_normal(struct rng *r)
{
	double u1 = (double)((rng_next(r) >> 11) + 1) * 0x1.0p-53;	/* (0, 1] */
	double u2 = rng_unif(r);

	return sqrt(-2.0 * log(u1)) * cos(2.0 * PI * u2);
}

/* ---- configuration and set-up ---- */

const char *synth_var_name(enum synth_var v)
{
	if ((int)v < 0 || v >= SYNTH_NVARS)
		return NULL;
	return var_names[v];
}

const char *synth_flag_name(enum synth_flag f)
{
	switch (f) {
	case SYNTH_OUTAGE:
		return "outage";
	case SYNTH_CURTAILED:
		return "curtailed";
	default:
		return "ok";
	}
}

void synth_config_init(struct synth_config *cfg)
{
	cfg->start = utc_from_fields(2026, 1, 1, 0, 0, 0);
	cfg->days = 120;
	cfg->nfarms = 3;
	cfg->seed = 1;
}

/* Day-of-year phase: 1 in late January (coldest, stormiest), -1 in late July. */
static double winter(double t)
{
	double doy = fmod(t / UTC_DAY, 365.2425);

	return cos(2.0 * PI * (doy - 25.0) / 365.2425);
}

static void grid_setup(struct synth *s)
{
	const double step = SYNTH_GRID_STEP;
	double la0 = 90, la1 = -90, lo0 = 360, lo1 = -360, south, west, north, east;

	for (int i = 0; i < s->cfg.nfarms; i++) {
		la0 = fmin(la0, farm_table[i].lat);
		la1 = fmax(la1, farm_table[i].lat);
		lo0 = fmin(lo0, farm_table[i].lon);
		lo1 = fmax(lo1, farm_table[i].lon);
	}
	south = floor((la0 - SYNTH_GRID_MARGIN) / step) * step;
	north = ceil((la1 + SYNTH_GRID_MARGIN) / step) * step;
	west = floor((lo0 - SYNTH_GRID_MARGIN) / step) * step;
	east = ceil((lo1 + SYNTH_GRID_MARGIN) / step) * step;
	s->grid.step = step;
	s->grid.lat_north = north;
	s->grid.lon_west = west;
	s->grid.nlat = (int)lround((north - south) / step) + 1;
	s->grid.nlon = (int)lround((east - west) / step) + 1;
	s->lat_c = 0.5 * (north + south);
	s->lon_c = 0.5 * (east + west);
	s->coslat_c = cos(s->lat_c * DEG);
	s->f0 = 2.0 * OMEGA * sin(s->lat_c * DEG);
}

/*
 * Draw the systems of the whole period in one stream, in time order, so that a longer
 * period starts with the same systems as a shorter one.
 */
static enum wc_status systems_draw(struct synth *s, struct wc_error *err)
{
	struct rng r;
	double t = (double)s->cfg.start - 8.0 * UTC_DAY;
	double t_end = (double)s->cfg.start + (s->cfg.days + 3.0) * UTC_DAY;
	int cap = 0;

	rng_init(&r, s->cfg.seed, STREAM_SYSTEMS, 0);
	for (int i = 0; i < 4; i++) {
		s->noise_w[i] = 2.0 * PI / (rng_range(&r, 20.0, 120.0) * UTC_HOUR);
		s->noise_ph[i] = rng_range(&r, 0.0, 2.0 * PI);
	}
	for (;;) {
		struct system *y;
		double speed;

		t += fmax(10.0, -26.0 * log(1.0 - rng_unif(&r))) * UTC_HOUR;
		if (t >= t_end)
			break;
		if (s->nsys == cap) {
			int ncap = cap ? 2 * cap : 64;
			struct system *n = realloc(s->sys, (size_t)ncap * sizeof(*n));

			if (!n)
				return wc_error_set(err, WC_ENOMEM,
						    "cannot draw weather systems: out of memory");
			s->sys = n;
			cap = ncap;
		}
		y = &s->sys[s->nsys++];
		y->t0 = t;
		y->life = rng_range(&r, 3.0, 7.0) * UTC_DAY;
		speed = rng_range(&r, 7.0, 14.0);
		y->vx = speed / 1000.0;
		y->vy = fmax(-4.0, fmin(4.0, 2.0 * rng_normal(&r))) / 1000.0;
		/* born so that it passes the grid around mid-life, give or take 900 km */
		y->x0 = -y->vx * 0.5 * y->life + rng_range(&r, -900.0, 900.0);
		y->y0 = rng_range(&r, -1300.0, 1300.0) - y->vy * 0.5 * y->life;
		if (rng_unif(&r) < 0.65) {
			y->amp = -rng_range(&r, 1200.0, 4000.0);
			y->radius = rng_range(&r, 600.0, 1100.0);
		} else {
			y->amp = rng_range(&r, 800.0, 2500.0);
			y->radius = rng_range(&r, 800.0, 1500.0);
		}
		y->amp *= 1.0 + 0.25 * winter(t);
	}
	return WC_OK;
}

enum wc_status synth_new(const struct synth_config *cfg, struct synth **out,
			 struct wc_error *err)
{
	struct synth *s;
	enum wc_status ret;

	*out = NULL;
	if (cfg->days < 1 || cfg->days > SYNTH_MAX_DAYS)
		return wc_error_set(err, WC_EINVAL, "invalid days %d: use 1 to %d", cfg->days,
				    SYNTH_MAX_DAYS);
	if (cfg->nfarms < 1 || cfg->nfarms > SYNTH_MAX_FARMS)
		return wc_error_set(err, WC_EINVAL, "invalid farm count %d: use 1 to %d",
				    cfg->nfarms, SYNTH_MAX_FARMS);
	if (cfg->start % SYNTH_RUN_STEP != 0 || cfg->start < 0 ||
	    cfg->start > utc_from_fields(9000, 1, 1, 0, 0, 0)) {
		char buf[UTC_ISO_LEN];

		return wc_error_set(err, WC_EINVAL,
				    "invalid start '%s': use 00 or 12 UTC of a day from 1970 on",
				    utc_format(cfg->start, buf));
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return wc_error_set(err, WC_ENOMEM, "cannot create generator: out of memory");
	s->cfg = *cfg;
	grid_setup(s);
	ret = systems_draw(s, err);
	if (ret) {
		synth_free(s);
		return ret;
	}
	*out = s;
	return WC_OK;
}

void synth_free(struct synth *s)
{
	if (!s)
		return;
	free(s->sys);
	free(s);
}

const struct synth_config *synth_config(const struct synth *s)
{
	return &s->cfg;
}

const struct synth_farm *synth_farm(const struct synth *s, int i)
{
	if (i < 0 || i >= s->cfg.nfarms)
		return NULL;
	return &farm_table[i];
}

const struct synth_grid *synth_grid(const struct synth *s)
{
	return &s->grid;
}

int synth_nruns(const struct synth *s)
{
	return 2 * s->cfg.days;
}

int64_t synth_run_time(const struct synth *s, int run)
{
	return s->cfg.start + (int64_t)run * SYNTH_RUN_STEP;
}

/* ---- the weather ---- */

/* Index of the first system born at or after t (systems are sorted by birth). */
static int sys_lower(const struct synth *s, double t)
{
	int lo = 0, hi = s->nsys;

	while (lo < hi) {
		int mid = lo + (hi - lo) / 2;

		if (s->sys[mid].t0 < t)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/*
 * Pressure (Pa) and its gradient (Pa/m) at plane position (x, y) km and time t, from the
 * background and systems [k0, k1); pert (indexed from k0) perturbs them, or is NULL.
 */
static void pressure_at(const struct synth *s, int k0, int k1, const struct sys_pert *pert,
			double x, double y, double t, double *p, double *gx, double *gy)
{
	double pp = P_BASE - RHO * s->f0 * U_BG * y * 1000.0;
	double ggx = 0.0, ggy = -RHO * s->f0 * U_BG;

	for (int k = k0; k < k1; k++) {
		const struct system *sy = &s->sys[k];
		const struct sys_pert *e = pert ? &pert[k - k0] : NULL;
		double tau = t - sy->t0 + (e ? e->dt : 0.0);
		double env, a, rad, dx, dy, g;

		if (tau <= 0.0 || tau >= sy->life)
			continue;
		env = sin(PI * tau / sy->life);
		a = sy->amp * env * env * (e ? e->amp : 1.0);
		rad = sy->radius * (0.8 + 0.4 * tau / sy->life);
		dx = x - (sy->x0 + sy->vx * (t - sy->t0) + (e ? e->dx : 0.0));
		dy = y - (sy->y0 + sy->vy * (t - sy->t0) + (e ? e->dy : 0.0));
		g = a * exp(-(dx * dx + dy * dy) / (2.0 * rad * rad));
		pp += g;
		ggx -= g * dx / (rad * rad) / 1000.0;
		ggy -= g * dy / (rad * rad) / 1000.0;
	}
	*p = pp;
	*gx = ggx;
	*gy = ggy;
}

static void rotate(double *u, double *v, double angle)
{
	double c = cos(angle), sn = sin(angle), uu = *u, vv = *v;

	*u = uu * c - vv * sn;
	*v = uu * sn + vv * c;
}

/* The near-surface weather from the pressure field at one point (see synth.h). */
static void wx_compute(const struct synth *s, double lat, double lon, double t, double p,
		       double gx, double gy, const struct wx_err *e, struct synth_wx *out)
{
	/* geostrophy breaks down near the equator: hold f at its 10-degree value there */
	double f = 2.0 * OMEGA * sin(fmax(fabs(lat), 10.0) * DEG) * (lat < 0 ? -1.0 : 1.0);
	double ug = -gy / (RHO * f), vg = gx / (RHO * f);
	double geo = hypot(ug, vg), lh, night, wint, stab, alpha, g = 0.0, u, v, ws, shear;

	if (geo > 0.0) {
		double k = GEO_CAP * tanh(geo / GEO_CAP) / geo;

		ug *= k;
		vg *= k;
		geo *= k;
	}
	lh = fmod(t / UTC_HOUR + lon / 15.0, 24.0);
	if (lh < 0)
		lh += 24.0;
	night = 0.5 + 0.5 * cos(2.0 * PI * (lh - 3.0) / 24.0);
	wint = winter(t);
	ws = 0.72 * geo;
	stab = night * exp(-ws / 14.0) * (0.75 - 0.25 * wint);
	for (int i = 0; i < 4; i++)
		g += 0.5 * sin(s->noise_w[i] * t + s->noise_ph[i]);
	alpha = fmax(0.05, fmin(0.45, 0.11 + 0.20 * stab + 0.03 * g + e->dalpha));

	u = ug;
	v = vg;
	rotate(&u, &v, 15.0 * DEG);
	u = u * 0.72 * (1.0 + 0.10 * stab - 0.03 * (1.0 - night)) + e->du;
	v = v * 0.72 * (1.0 + 0.10 * stab - 0.03 * (1.0 - night)) + e->dv;
	out->u100 = u;
	out->v100 = v;
	shear = exp(-alpha * log(10.0));
	u *= shear;
	v *= shear;
	rotate(&u, &v, (6.0 + 12.0 * stab) * DEG);
	out->u10 = u;
	out->v10 = v;
	out->t2m = 282.0 - 5.5 * wint + (2.25 - 0.75 * wint) * cos(2.0 * PI * (lh - 15.0) / 24.0) +
		   0.25 * out->v100 - 0.5 * (lat - 55.0) + e->dt2m;
	out->sp = p;
}

static void plane_xy(const struct synth *s, double lat, double lon, double *x, double *y)
{
	*x = (lon - s->lon_c) * KM_PER_DEG * s->coslat_c;
	*y = (lat - s->lat_c) * KM_PER_DEG;
}

void synth_truth(const struct synth *s, double lat, double lon, double t,
		 struct synth_wx *out)
{
	static const struct wx_err none;
	int k0 = sys_lower(s, t - MAX_LIFE), k1 = sys_lower(s, t);
	double x, y, p, gx, gy;

	plane_xy(s, lat, lon, &x, &y);
	pressure_at(s, k0, k1, NULL, x, y, t, &p, &gx, &gy);
	wx_compute(s, lat, lon, t, p, gx, gy, &none, out);
}

/* A forecast error field: an AR(1) in lead on NMODES plane waves. */
struct err_field {
	double kx[NMODES], ky[NMODES], ph[NMODES];	/* rad/km, rad */
	double a[NMODES][SYNTH_LEADS];
};

static void err_field_draw(struct err_field *ef, struct rng *r)
{
	for (int m = 0; m < NMODES; m++) {
		double len = rng_range(r, 400.0, 1500.0), dir = rng_range(r, 0.0, 2.0 * PI);

		ef->kx[m] = 2.0 * PI / len * cos(dir);
		ef->ky[m] = 2.0 * PI / len * sin(dir);
		ef->ph[m] = rng_range(r, 0.0, 2.0 * PI);
		ef->a[m][0] = rng_normal(r);
		for (int h = 1; h < SYNTH_LEADS; h++)
			ef->a[m][h] = AR_PHI * ef->a[m][h - 1] +
				      sqrt(1.0 - AR_PHI * AR_PHI) * rng_normal(r);
	}
}

/* Unit-variance value of the field at lead h, plane position (x, y). */
static double err_field_at(const struct err_field *ef, int h, double x, double y)
{
	double sum = 0.0;

	for (int m = 0; m < NMODES; m++)
		sum += ef->a[m][h] * cos(ef->kx[m] * x + ef->ky[m] * y + ef->ph[m]);
	return sum * sqrt(2.0 / NMODES);
}

/* One run's error draws on one system. */
struct sys_err {
	double d0x, d0y, dvx, dvy, a0, a1, c;
};

enum wc_status synth_forecast_grid(const struct synth *s, int run, double *out,
				   struct wc_error *err)
{
	const struct synth_grid *gr = &s->grid;
	size_t plane = (size_t)gr->nlat * gr->nlon;
	struct err_field ef[4];	/* u, v, alpha, t2m */
	struct sys_err *se = NULL;
	struct sys_pert *pert = NULL;
	struct rng r;
	double ref;
	int k0, k1, n;
	enum wc_status ret = WC_OK;

	if (run < 0 || run >= synth_nruns(s))
		return wc_error_set(err, WC_EINVAL, "invalid run %d: the data set has %d runs",
				    run, synth_nruns(s));
	ref = (double)synth_run_time(s, run);
	/* timing errors stay well within a day, so these are all the systems that matter */
	k0 = sys_lower(s, ref - MAX_LIFE - UTC_DAY);
	k1 = sys_lower(s, ref + (SYNTH_LEADS + 24.0) * UTC_HOUR);
	n = k1 - k0;
	se = calloc((size_t)n + 1, sizeof(*se));
	pert = calloc((size_t)n + 1, sizeof(*pert));
	if (!se || !pert) {
		ret = wc_error_set(err, WC_ENOMEM, "cannot compute run %d: out of memory", run);
		goto cleanup;
	}
	rng_init(&r, s->cfg.seed, STREAM_RUN, (uint64_t)synth_run_time(s, run));
	for (int k = 0; k < n; k++) {
		se[k].d0x = 15.0 * rng_normal(&r);
		se[k].d0y = 15.0 * rng_normal(&r);
		se[k].dvx = 3.5 * rng_normal(&r);
		se[k].dvy = 3.5 * rng_normal(&r);
		se[k].a0 = 0.02 * rng_normal(&r);
		se[k].a1 = 0.12 * rng_normal(&r);
		se[k].c = 6.0 * UTC_HOUR * rng_normal(&r);
	}
	for (int i = 0; i < 4; i++)
		err_field_draw(&ef[i], &r);

	for (int h = 0; h < SYNTH_LEADS; h++) {
		double t = ref + h * (double)UTC_HOUR, fl = h / 48.0;
		double sw = 0.25 + 1.4 * fl, sa = 0.01 + 0.03 * fl, stt = 0.3 + 1.0 * fl;

		for (int k = 0; k < n; k++) {
			pert[k].dx = se[k].d0x + se[k].dvx * h;
			pert[k].dy = se[k].d0y + se[k].dvy * h;
			pert[k].amp = 1.0 + se[k].a0 + se[k].a1 * fl;
			pert[k].dt = se[k].c * fl;
		}
		for (int i = 0; i < gr->nlat; i++) {
			double lat = gr->lat_north - i * gr->step;

			for (int j = 0; j < gr->nlon; j++) {
				double lon = gr->lon_west + j * gr->step;
				double x, y, p, gx, gy;
				struct wx_err e;
				struct synth_wx wx;
				size_t at = (size_t)h * plane + (size_t)i * gr->nlon + j;

				plane_xy(s, lat, lon, &x, &y);
				e.du = sw * err_field_at(&ef[0], h, x, y);
				e.dv = sw * err_field_at(&ef[1], h, x, y);
				e.dalpha = sa * err_field_at(&ef[2], h, x, y);
				e.dt2m = stt * err_field_at(&ef[3], h, x, y);
				pressure_at(s, k0, k1, pert, x, y, t, &p, &gx, &gy);
				wx_compute(s, lat, lon, t, p, gx, gy, &e, &wx);
				out[SYNTH_U10 * SYNTH_LEADS * plane + at] = wx.u10;
				out[SYNTH_V10 * SYNTH_LEADS * plane + at] = wx.v10;
				out[SYNTH_U100 * SYNTH_LEADS * plane + at] = wx.u100;
				out[SYNTH_V100 * SYNTH_LEADS * plane + at] = wx.v100;
				out[SYNTH_T2M * SYNTH_LEADS * plane + at] = wx.t2m;
				out[SYNTH_SP * SYNTH_LEADS * plane + at] = wx.sp;
			}
		}
	}
cleanup:
	free(se);
	free(pert);
	return ret;
}

double synth_hub_speed(const struct synth_wx *wx, double z)
{
	double ws10 = hypot(wx->u10, wx->v10), ws100 = hypot(wx->u100, wx->v100);

	if (ws10 <= 0.0 || ws100 <= 0.0 || z <= 0.0)
		return ws100;
	return ws100 * exp(log(ws100 / ws10) / log(10.0) * log(z / 100.0));
}

double synth_power_curve(const struct synth_farm *f, double ws)
{
	double x, sstep;

	if (!(ws >= f->cut_in) || ws >= f->cut_out)
		return 0.0;
	if (ws >= f->rated)
		return 1.0;
	/* smoothstep raised to 1.4: a cubic-like rise from cut-in, flat at rated */
	x = (ws - f->cut_in) / (f->rated - f->cut_in);
	sstep = x * x * (3.0 - 2.0 * x);
	return pow(sstep, 1.4);
}

/* ---- observations ---- */

enum wc_status synth_observations(const struct synth *s, int farm, struct synth_obs **out,
				  size_t *n, struct wc_error *err)
{
	const struct synth_farm *f = synth_farm(s, farm);
	size_t nh = (size_t)s->cfg.days * 24;
	struct synth_obs *obs = NULL;
	double *cap = NULL, eta = 0.0;
	unsigned char *down = NULL;
	struct rng r;
	enum wc_status ret = WC_OK;

	*out = NULL;
	*n = 0;
	if (!f)
		return wc_error_set(err, WC_EINVAL, "invalid farm %d: the data set has %d farms",
				    farm, s->cfg.nfarms);
	obs = calloc(nh, sizeof(*obs));
	cap = malloc(nh * sizeof(*cap));
	down = calloc((size_t)s->cfg.days, 1);
	if (!obs || !cap || !down) {
		ret = wc_error_set(err, WC_ENOMEM, "cannot make observations of '%s': out of memory",
				   f->id);
		goto cleanup;
	}
	for (size_t i = 0; i < nh; i++)
		cap[i] = 2.0;	/* no curtailment */
	rng_init(&r, s->cfg.seed, STREAM_OBS, (uint64_t)farm);
	for (int d = 0; d < s->cfg.days; d++) {
		down[d] = rng_unif(&r) < 0.012;
		if (rng_unif(&r) < 0.05) {
			size_t h0 = (size_t)d * 24 + (size_t)(rng_unif(&r) * 24.0);
			size_t len = 2 + (size_t)(rng_unif(&r) * 7.0);
			double frac = rng_range(&r, 0.3, 0.7);

			for (size_t h = h0; h < h0 + len && h < nh; h++)
				cap[h] = frac;
		}
	}
	for (size_t i = 0; i < nh; i++) {
		int64_t t = s->cfg.start + (int64_t)(i + 1) * UTC_HOUR;
		double mean = 0.0, pw;

		eta = 0.8 * eta + 0.6 * 0.05 * rng_normal(&r);
		for (int q = 0; q < 4; q++) {
			struct synth_wx wx;

			synth_truth(s, f->lat, f->lon, (double)t - UTC_HOUR + 900.0 * (q + 1), &wx);
			mean += 0.25 * synth_power_curve(f, synth_hub_speed(&wx, f->hub_height_m) *
							    (1.0 + eta));
		}
		pw = f->capacity_mw * (0.96 * mean + 0.01 * rng_normal(&r));
		obs[i].time = t;
		obs[i].flag = SYNTH_OK;
		if (cap[i] < 1.0) {
			pw = fmin(pw, cap[i] * f->capacity_mw);
			obs[i].flag = SYNTH_CURTAILED;
		}
		if (down[i / 24]) {
			pw = 0.0;
			obs[i].flag = SYNTH_OUTAGE;
		}
		/* the CSV has 3 decimals: keep exactly what it says, within [0, capacity] */
		pw = round(pw * 1000.0) / 1000.0;
		if (!(pw > 0.0))
			pw = 0.0;
		if (pw > f->capacity_mw)
			pw = f->capacity_mw;
		obs[i].power_mw = pw;
	}
	*out = obs;
	*n = nh;
	obs = NULL;
cleanup:
	free(obs);
	free(cap);
	free(down);
	return ret;
}

/* ---- writers ---- */

static enum wc_status tmp_name(const char *path, char *tmp, size_t size, struct wc_error *err)
{
	int len = snprintf(tmp, size, "%s.tmp", path);

	if (len < 0 || (size_t)len >= size)
		return wc_error_set(err, WC_EINVAL, "cannot write '%s': path too long", path);
	return WC_OK;
}

static enum wc_status tmp_commit(const char *tmp, const char *path, struct wc_error *err)
{
	if (rename(tmp, path) != 0) {
		int e = errno;

		unlink(tmp);
		return wc_error_set(err, WC_EIO, "cannot rename '%s' to '%s': %s", tmp, path,
				    strerror(e));
	}
	return WC_OK;
}

static int put_text(int ncid, int varid, const char *name, const char *value)
{
	return nc_put_att_text(ncid, varid, name, strlen(value), value);
}

/* Attributes of a time-like variable (ERA5's units and calendar). */
static int put_time_atts(int ncid, int varid, const char *long_name, const char *std_name)
{
	int rc;

	if ((rc = put_text(ncid, varid, "units", "hours since 1900-01-01 00:00:00.0")) ||
	    (rc = put_text(ncid, varid, "long_name", long_name)) ||
	    (rc = put_text(ncid, varid, "standard_name", std_name)) ||
	    (rc = put_text(ncid, varid, "calendar", "gregorian")))
		return rc;
	return NC_NOERR;
}

/* A scalar height coordinate "height_<z>m". */
static int def_height(int ncid, int z, int *varid)
{
	char name[32];
	int rc;

	snprintf(name, sizeof(name), "height_%dm", z);
	if ((rc = nc_def_var(ncid, name, NC_FLOAT, 0, NULL, varid)) ||
	    (rc = put_text(ncid, *varid, "units", "m")) ||
	    (rc = put_text(ncid, *varid, "long_name", "height above the surface")) ||
	    (rc = put_text(ncid, *varid, "standard_name", "height")) ||
	    (rc = put_text(ncid, *varid, "positive", "up")))
		return rc;
	return NC_NOERR;
}

struct var_meta {
	const char *units, *long_name, *std_name;
	int height;	/* index into the height coordinates: 0 = 2 m, 1 = 10 m, 2 = 100 m */
};

static const struct var_meta var_meta[SYNTH_NVARS] = {
	[SYNTH_U10] = { "m s**-1", "10 metre U wind component", "eastward_wind", 1 },
	[SYNTH_V10] = { "m s**-1", "10 metre V wind component", "northward_wind", 1 },
	[SYNTH_U100] = { "m s**-1", "100 metre U wind component", "eastward_wind", 2 },
	[SYNTH_V100] = { "m s**-1", "100 metre V wind component", "northward_wind", 2 },
	[SYNTH_T2M] = { "K", "2 metre temperature", "air_temperature", 0 },
	[SYNTH_SP] = { "Pa", "Surface pressure", "surface_air_pressure", -1 },
};

static const int heights[3] = { 2, 10, 100 };

/* ERA5-style packing from the data range: packed values in [-32766, 32766]. */
static void pack_params(const double *x, size_t n, double *scale, double *offset)
{
	double lo = x[0], hi = x[0];

	for (size_t i = 1; i < n; i++) {
		lo = fmin(lo, x[i]);
		hi = fmax(hi, x[i]);
	}
	*offset = 0.5 * (lo + hi);
	*scale = hi > lo ? (hi - lo) / (2.0 * PACK_HALF) : 1.0;
}

static void pack(const double *x, size_t n, double scale, double offset, short *out)
{
	for (size_t i = 0; i < n; i++) {
		long v = lround((x[i] - offset) / scale);

		out[i] = (short)(v < -PACK_HALF ? -PACK_HALF : v > PACK_HALF ? PACK_HALF : v);
	}
}

#define NC_TRY(call)                                                                  \
	do {                                                                          \
		int rc_ = (call);                                                     \
		if (rc_ != NC_NOERR) {                                                \
			ret = wc_error_set(err, WC_ENETCDF, "cannot write '%s': %s", path, \
					   nc_strerror(rc_));                         \
			goto cleanup;                                                 \
		}                                                                     \
	} while (0)

enum wc_status synth_write_run(const struct synth *s, int run, const char *path,
			       struct wc_error *err)
{
	const struct synth_grid *gr = &s->grid;
	size_t plane = (size_t)gr->nlat * gr->nlon, slab = plane * SYNTH_LEADS;
	int64_t ref, t1900 = utc_from_fields(1900, 1, 1, 0, 0, 0);
	char tmp[PATH_MAX], title[128], source[160], iso[UTC_ISO_LEN];
	double *data = NULL, frt;
	short *packed = NULL;
	float *lat = NULL, *lon = NULL;
	int times[SYNTH_LEADS], periods[SYNTH_LEADS];
	int ncid = -1, dims[3], vid[SYNTH_NVARS], hid[3], lat_id, lon_id, time_id, frt_id, fp_id;
	double scale[SYNTH_NVARS], offset[SYNTH_NVARS];
	enum wc_status ret;

	if ((ret = tmp_name(path, tmp, sizeof(tmp), err)))
		return ret;
	if (run < 0 || run >= synth_nruns(s))
		return wc_error_set(err, WC_EINVAL, "invalid run %d: the data set has %d runs",
				    run, synth_nruns(s));
	data = malloc(SYNTH_NVARS * slab * sizeof(*data));
	packed = malloc(slab * sizeof(*packed));
	lat = malloc((size_t)gr->nlat * sizeof(*lat));
	lon = malloc((size_t)gr->nlon * sizeof(*lon));
	if (!data || !packed || !lat || !lon) {
		ret = wc_error_set(err, WC_ENOMEM, "cannot write '%s': out of memory", path);
		goto cleanup;
	}
	if ((ret = synth_forecast_grid(s, run, data, err)))
		goto cleanup;
	ref = synth_run_time(s, run);
	for (int i = 0; i < gr->nlat; i++)
		lat[i] = (float)(gr->lat_north - i * gr->step);
	for (int j = 0; j < gr->nlon; j++)
		lon[j] = (float)(gr->lon_west + j * gr->step);
	for (int h = 0; h < SYNTH_LEADS; h++) {
		times[h] = (int)((ref - t1900) / UTC_HOUR) + h;
		periods[h] = h;
	}
	frt = (double)((ref - t1900) / UTC_HOUR);
	for (int v = 0; v < SYNTH_NVARS; v++)
		pack_params(data + v * slab, slab, &scale[v], &offset[v]);

	NC_TRY(nc_create(tmp, NC_CLOBBER | NC_64BIT_OFFSET, &ncid));
	NC_TRY(nc_def_dim(ncid, "longitude", (size_t)gr->nlon, &dims[2]));
	NC_TRY(nc_def_dim(ncid, "latitude", (size_t)gr->nlat, &dims[1]));
	NC_TRY(nc_def_dim(ncid, "time", SYNTH_LEADS, &dims[0]));

	NC_TRY(nc_def_var(ncid, "longitude", NC_FLOAT, 1, &dims[2], &lon_id));
	NC_TRY(put_text(ncid, lon_id, "units", "degrees_east"));
	NC_TRY(put_text(ncid, lon_id, "long_name", "longitude"));
	NC_TRY(put_text(ncid, lon_id, "standard_name", "longitude"));
	NC_TRY(put_text(ncid, lon_id, "axis", "X"));
	NC_TRY(nc_def_var(ncid, "latitude", NC_FLOAT, 1, &dims[1], &lat_id));
	NC_TRY(put_text(ncid, lat_id, "units", "degrees_north"));
	NC_TRY(put_text(ncid, lat_id, "long_name", "latitude"));
	NC_TRY(put_text(ncid, lat_id, "standard_name", "latitude"));
	NC_TRY(put_text(ncid, lat_id, "axis", "Y"));
	NC_TRY(nc_def_var(ncid, "time", NC_INT, 1, &dims[0], &time_id));
	NC_TRY(put_time_atts(ncid, time_id, "time", "time"));
	NC_TRY(put_text(ncid, time_id, "axis", "T"));
	NC_TRY(nc_def_var(ncid, "forecast_reference_time", NC_DOUBLE, 0, NULL, &frt_id));
	NC_TRY(put_time_atts(ncid, frt_id, "forecast reference time",
			     "forecast_reference_time"));
	NC_TRY(nc_def_var(ncid, "forecast_period", NC_INT, 1, &dims[0], &fp_id));
	NC_TRY(put_text(ncid, fp_id, "units", "hours"));
	NC_TRY(put_text(ncid, fp_id, "long_name", "forecast period"));
	NC_TRY(put_text(ncid, fp_id, "standard_name", "forecast_period"));
	for (int i = 0; i < 3; i++)
		NC_TRY(def_height(ncid, heights[i], &hid[i]));

	for (int v = 0; v < SYNTH_NVARS; v++) {
		const struct var_meta *m = &var_meta[v];
		short fill = PACK_FILL;
		char coords[96];

		NC_TRY(nc_def_var(ncid, var_names[v], NC_SHORT, 3, dims, &vid[v]));
		NC_TRY(nc_put_att_double(ncid, vid[v], "scale_factor", NC_DOUBLE, 1, &scale[v]));
		NC_TRY(nc_put_att_double(ncid, vid[v], "add_offset", NC_DOUBLE, 1, &offset[v]));
		NC_TRY(nc_put_att_short(ncid, vid[v], "_FillValue", NC_SHORT, 1, &fill));
		NC_TRY(nc_put_att_short(ncid, vid[v], "missing_value", NC_SHORT, 1, &fill));
		NC_TRY(put_text(ncid, vid[v], "units", m->units));
		NC_TRY(put_text(ncid, vid[v], "long_name", m->long_name));
		NC_TRY(put_text(ncid, vid[v], "standard_name", m->std_name));
		if (m->height >= 0)
			snprintf(coords, sizeof(coords), "forecast_reference_time height_%dm",
				 heights[m->height]);
		else
			snprintf(coords, sizeof(coords), "forecast_reference_time");
		NC_TRY(put_text(ncid, vid[v], "coordinates", coords));
	}

	snprintf(title, sizeof(title), "windcast synthetic NWP run of %s",
		 utc_format(ref, iso));
	snprintf(source, sizeof(source),
		 "windcast demo-data: moving pressure systems with lead-dependent "
		 "forecast errors, seed %llu", (unsigned long long)s->cfg.seed);
	NC_TRY(put_text(ncid, NC_GLOBAL, "Conventions", "CF-1.6"));
	NC_TRY(put_text(ncid, NC_GLOBAL, "title", title));
	NC_TRY(put_text(ncid, NC_GLOBAL, "institution",
			"windcast (synthetic data, not a real weather service)"));
	NC_TRY(put_text(ncid, NC_GLOBAL, "source", source));
	NC_TRY(put_text(ncid, NC_GLOBAL, "history",
			"created by windcast demo-data; no creation time, so that the same "
			"seed gives the same bytes"));
	NC_TRY(nc_enddef(ncid));

	NC_TRY(nc_put_var_float(ncid, lon_id, lon));
	NC_TRY(nc_put_var_float(ncid, lat_id, lat));
	NC_TRY(nc_put_var_int(ncid, time_id, times));
	NC_TRY(nc_put_var_double(ncid, frt_id, &frt));
	NC_TRY(nc_put_var_int(ncid, fp_id, periods));
	for (int i = 0; i < 3; i++) {
		float z = (float)heights[i];

		NC_TRY(nc_put_var_float(ncid, hid[i], &z));
	}
	for (int v = 0; v < SYNTH_NVARS; v++) {
		pack(data + v * slab, slab, scale[v], offset[v], packed);
		NC_TRY(nc_put_var_short(ncid, vid[v], packed));
	}
	{
		int rc = nc_close(ncid);

		ncid = -1;
		NC_TRY(rc);
	}
	ret = tmp_commit(tmp, path, err);
cleanup:
	if (ncid >= 0) {
		nc_abort(ncid);
		unlink(tmp);
	} else if (ret) {
		unlink(tmp);
	}
	free(data);
	free(packed);
	free(lat);
	free(lon);
	return ret;
}

/* Close f (opened on tmp) and move tmp to path; on any failure remove tmp. */
static enum wc_status file_finish(FILE *f, bool failed, const char *tmp, const char *path,
				  struct wc_error *err)
{
	int e = 0;

	if (failed || ferror(f))
		e = errno ? errno : EIO;
	if (fclose(f) != 0 && !e)
		e = errno ? errno : EIO;
	if (e) {
		unlink(tmp);
		return wc_error_set(err, WC_EIO, "cannot write '%s': %s", path, strerror(e));
	}
	return tmp_commit(tmp, path, err);
}

static FILE *file_start(const char *path, char *tmp, size_t size, enum wc_status *ret,
			struct wc_error *err)
{
	FILE *f;

	if ((*ret = tmp_name(path, tmp, size, err)))
		return NULL;
	f = fopen(tmp, "w");
	if (!f)
		*ret = wc_error_set(err, WC_EIO, "cannot create '%s': %s", tmp, strerror(errno));
	return f;
}

enum wc_status synth_write_obs_csv(const struct synth *s, int farm, const char *path,
				   struct wc_error *err)
{
	struct synth_obs *obs = NULL;
	size_t n = 0;
	char tmp[PATH_MAX];
	bool failed = false;
	FILE *f;
	enum wc_status ret;

	if ((ret = synth_observations(s, farm, &obs, &n, err)))
		return ret;
	f = file_start(path, tmp, sizeof(tmp), &ret, err);
	if (!f)
		goto cleanup;
	errno = 0;
	failed = fputs("time,power_mw,flag\n", f) < 0;
	for (size_t i = 0; i < n && !failed; i++) {
		char iso[UTC_ISO_LEN];

		failed = fprintf(f, "%s,%.3f,%s\n", utc_format(obs[i].time, iso),
				 obs[i].power_mw, synth_flag_name(obs[i].flag)) < 0;
	}
	ret = file_finish(f, failed, tmp, path, err);
cleanup:
	free(obs);
	return ret;
}

enum wc_status synth_write_farms_json(const struct synth *s, const char *path,
				      struct wc_error *err)
{
	char tmp[PATH_MAX];
	bool failed;
	FILE *f;
	enum wc_status ret;

	f = file_start(path, tmp, sizeof(tmp), &ret, err);
	if (!f)
		return ret;
	errno = 0;
	failed = fputs("[\n", f) < 0;
	for (int i = 0; i < s->cfg.nfarms && !failed; i++) {
		const struct synth_farm *fm = &farm_table[i];

		failed = fprintf(f,
				 "  {\"id\": \"%s\", \"name\": \"%s\", \"lat\": %.2f, "
				 "\"lon\": %.2f, \"capacity_mw\": %.1f, \"hub_height_m\": %.1f}%s\n",
				 fm->id, fm->name, fm->lat, fm->lon, fm->capacity_mw,
				 fm->hub_height_m, i + 1 < s->cfg.nfarms ? "," : "") < 0;
	}
	if (!failed)
		failed = fputs("]\n", f) < 0;
	return file_finish(f, failed, tmp, path, err);
}

/* mkdir -p: create every missing component of dir. */
static enum wc_status make_dirs(const char *dir, struct wc_error *err)
{
	char buf[PATH_MAX];
	size_t len = strlen(dir);

	if (len == 0 || len >= sizeof(buf))
		return wc_error_set(err, WC_EINVAL, "invalid directory '%s'", dir);
	memcpy(buf, dir, len + 1);
	for (size_t i = 1; i <= len; i++) {
		struct stat st;

		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		buf[i] = '\0';
		if (mkdir(buf, 0755) != 0 && errno != EEXIST)
			return wc_error_set(err, WC_EIO, "cannot create directory '%s': %s", buf,
					    strerror(errno));
		if (stat(buf, &st) != 0 || !S_ISDIR(st.st_mode))
			return wc_error_set(err, WC_EIO, "cannot create directory '%s': %s", buf,
					    "a file of that name exists");
		if (i < len)
			buf[i] = '/';
	}
	return WC_OK;
}

static enum wc_status join(char *out, size_t size, const char *dir, const char *name,
			   struct wc_error *err)
{
	int len = snprintf(out, size, "%s/%s", dir, name);

	if (len < 0 || (size_t)len >= size)
		return wc_error_set(err, WC_EINVAL, "cannot write under '%s': path too long", dir);
	return WC_OK;
}

static uint64_t file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
}

enum wc_status synth_write_all(const struct synth *s, const char *dir,
			       struct synth_summary *sum, struct wc_error *err)
{
	char nwp[PATH_MAX], obsdir[PATH_MAX], path[PATH_MAX], name[64];
	struct synth_summary acc = { 0 };
	enum wc_status ret;

	if ((ret = join(nwp, sizeof(nwp), dir, "nwp", err)) ||
	    (ret = join(obsdir, sizeof(obsdir), dir, "obs", err)) ||
	    (ret = make_dirs(nwp, err)) || (ret = make_dirs(obsdir, err)))
		return ret;
	if ((ret = join(path, sizeof(path), dir, "farms.json", err)) ||
	    (ret = synth_write_farms_json(s, path, err)))
		return ret;
	acc.bytes += file_size(path);
	for (int i = 0; i < s->cfg.nfarms; i++) {
		snprintf(name, sizeof(name), "%s.csv", farm_table[i].id);
		if ((ret = join(path, sizeof(path), obsdir, name, err)) ||
		    (ret = synth_write_obs_csv(s, i, path, err)))
			return ret;
		acc.bytes += file_size(path);
		acc.obs_rows += (size_t)s->cfg.days * 24;
	}
	acc.nfarms = s->cfg.nfarms;
	for (int r = 0; r < synth_nruns(s); r++) {
		int64_t y;
		int mo, d, h, mi, sec;

		utc_to_fields(synth_run_time(s, r), &y, &mo, &d, &h, &mi, &sec);
		snprintf(name, sizeof(name), "demo_%04d%02d%02d%02d.nc", (int)y, mo, d, h);
		if ((ret = join(path, sizeof(path), nwp, name, err)) ||
		    (ret = synth_write_run(s, r, path, err)))
			return ret;
		acc.bytes += file_size(path);
		acc.nruns++;
	}
	if (sum)
		*sum = acc;
	return WC_OK;
}
