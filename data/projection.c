/* projection.c - spherical LCC and Mercator; see projection.h. */
#include "data/projection.h"

#include <math.h>

#define DEG (M_PI / 180.0)

static double wrap180(double d)
{
	d = fmod(d + 180.0, 360.0);
	if (d < 0)
		d += 360.0;
	return d - 180.0;
}

enum wc_status projection_init_lcc(struct projection *p, double lat1_deg, double lat2_deg,
				   double lat0_deg, double lon0_deg, double radius_m,
				   double false_easting, double false_northing,
				   struct wc_error *err)
{
	double p1 = lat1_deg * DEG, p2 = lat2_deg * DEG, p0 = lat0_deg * DEG;

	if (!isfinite(p1) || !isfinite(p2) || !isfinite(p0) || !isfinite(lon0_deg) ||
	    !(radius_m > 1e6 && radius_m < 1e8) || fabs(lat1_deg) >= 89.999 ||
	    fabs(lat2_deg) >= 89.999 || fabs(lat0_deg) >= 89.999)
		return wc_error_set(err, WC_EINVAL, "invalid lambert_conformal_conic parameters");
	p->kind = PROJECTION_LCC;
	p->radius = radius_m;
	p->lon0 = lon0_deg * DEG;
	p->lat0 = p0;
	p->false_easting = isfinite(false_easting) ? false_easting : 0;
	p->false_northing = isfinite(false_northing) ? false_northing : 0;
	if (fabs(p1 - p2) < 1e-10)
		p->n = sin(p1);
	else
		p->n = log(cos(p1) / cos(p2)) /
		       log(tan(M_PI / 4 + p2 / 2) / tan(M_PI / 4 + p1 / 2));
	if (!isfinite(p->n) || fabs(p->n) < 1e-6)
		return wc_error_set(err, WC_EINVAL,
				    "invalid lambert_conformal_conic parameters: cone "
				    "constant is zero");
	p->F = cos(p1) * pow(tan(M_PI / 4 + p1 / 2), p->n) / p->n;
	p->rho0 = radius_m * p->F / pow(tan(M_PI / 4 + p0 / 2), p->n);
	p->k0 = 1;
	return WC_OK;
}

enum wc_status projection_init_mercator(struct projection *p, double lat_ts_deg,
					double lon0_deg, double radius_m,
					double false_easting, double false_northing,
					struct wc_error *err)
{
	if (!isfinite(lat_ts_deg) || fabs(lat_ts_deg) >= 89 || !isfinite(lon0_deg) ||
	    !(radius_m > 1e6 && radius_m < 1e8))
		return wc_error_set(err, WC_EINVAL, "invalid mercator parameters");
	p->kind = PROJECTION_MERCATOR;
	p->radius = radius_m;
	p->lon0 = lon0_deg * DEG;
	p->lat0 = 0;
	p->false_easting = isfinite(false_easting) ? false_easting : 0;
	p->false_northing = isfinite(false_northing) ? false_northing : 0;
	p->k0 = cos(lat_ts_deg * DEG);
	p->n = 0;
	return WC_OK;
}

void projection_forward(const struct projection *p, double lat, double lon, double *x,
			double *y)
{
	double dl = wrap180(lon - p->lon0 / DEG) * DEG, phi = lat * DEG;

	if (p->kind == PROJECTION_LCC) {
		double rho = p->radius * p->F / pow(tan(M_PI / 4 + phi / 2), p->n);

		*x = rho * sin(p->n * dl) + p->false_easting;
		*y = p->rho0 - rho * cos(p->n * dl) + p->false_northing;
	} else if (p->kind == PROJECTION_MERCATOR) {
		*x = p->radius * p->k0 * dl + p->false_easting;
		*y = p->radius * p->k0 * log(tan(M_PI / 4 + phi / 2)) + p->false_northing;
	} else {
		*x = lon;
		*y = lat;
	}
}

void projection_inverse(const struct projection *p, double x, double y, double *lat,
			double *lon)
{
	x -= p->false_easting;
	y -= p->false_northing;
	if (p->kind == PROJECTION_LCC) {
		double s = p->n > 0 ? 1 : -1;
		double yy = p->rho0 - y;
		double rho = s * sqrt(x * x + yy * yy);
		double theta = atan2(s * x, s * yy);

		*lat = (2 * atan(pow(p->radius * p->F / rho, 1 / p->n)) - M_PI / 2) / DEG;
		*lon = wrap180((theta / p->n + p->lon0) / DEG);
	} else if (p->kind == PROJECTION_MERCATOR) {
		*lon = wrap180((x / (p->radius * p->k0) + p->lon0) / DEG);
		*lat = (2 * atan(exp(y / (p->radius * p->k0))) - M_PI / 2) / DEG;
	} else {
		*lon = x;
		*lat = y;
	}
}

double projection_convergence(const struct projection *p, double lon)
{
	if (p->kind != PROJECTION_LCC)
		return 0;
	return p->n * wrap180(lon - p->lon0 / DEG) * DEG;
}

void projection_rotate_to_earth(double angle, double *u, double *v)
{
	double c = cos(angle), s = sin(angle), uu = *u, vv = *v;

	*u = uu * c + vv * s;
	*v = -uu * s + vv * c;
}
