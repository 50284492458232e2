/* projection.c - spherical LCC and Mercator; see projection.h. */
#include "data/projection.h"

#include <math.h>
#include <stdbool.h>

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

enum wc_status projection_init_rotated(struct projection *p, double pole_lat_deg,
				       double pole_lon_deg, double north_pole_grid_lon_deg,
				       struct wc_error *err)
{
	if (!isfinite(pole_lat_deg) || fabs(pole_lat_deg) > 90 || !isfinite(pole_lon_deg))
		return wc_error_set(err, WC_EINVAL, "invalid rotated pole parameters");
	if (isfinite(north_pole_grid_lon_deg) && north_pole_grid_lon_deg != 0)
		return wc_error_set(err, WC_EUNSUPPORTED,
				    "unsupported rotated pole: north_pole_grid_longitude %g "
				    "(only 0 is supported)", north_pole_grid_lon_deg);
	p->kind = PROJECTION_ROTATED;
	p->radius = 1;
	p->pole_lat = pole_lat_deg * DEG;
	p->pole_lon = pole_lon_deg * DEG;
	p->false_easting = p->false_northing = 0;
	return WC_OK;
}

/*
 * Rotated to geographic: rotate the unit vector about y by theta = 90 - pole_lat, then
 * about z by phi = pole_lon + 180; geographic to rotated is the reverse. With the pole
 * at (40, -170) the rotated origin is at 50 N, 10 E (COSMO-EU).
 */
static void rotate(const struct projection *p, double lat, double lon, bool to_geo,
		   double *olat, double *olon)
{
	double th = M_PI / 2 - p->pole_lat, ph = p->pole_lon + M_PI;
	double x = cos(lat * DEG) * cos(lon * DEG), y = cos(lat * DEG) * sin(lon * DEG);
	double z = sin(lat * DEG), x2, y2, z2;

	if (to_geo) {
		x2 = cos(th) * x - sin(th) * z;
		z2 = sin(th) * x + cos(th) * z;
		y2 = sin(ph) * x2 + cos(ph) * y;
		x2 = cos(ph) * x2 - sin(ph) * y;
	} else {
		x2 = cos(ph) * x + sin(ph) * y;
		y2 = -sin(ph) * x + cos(ph) * y;
		z2 = -sin(th) * x2 + cos(th) * z;
		x2 = cos(th) * x2 + sin(th) * z;
	}
	*olat = asin(fmax(-1, fmin(1, z2))) / DEG;
	*olon = atan2(y2, x2) / DEG;
}

void projection_forward(const struct projection *p, double lat, double lon, double *x,
			double *y)
{
	double dl = wrap180(lon - p->lon0 / DEG) * DEG, phi = lat * DEG;

	if (p->kind == PROJECTION_ROTATED) {
		rotate(p, lat, lon, false, y, x);
	} else if (p->kind == PROJECTION_LCC) {
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
	if (p->kind == PROJECTION_ROTATED) {
		rotate(p, y, x, true, lat, lon);
		return;
	}
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

double projection_convergence(const struct projection *p, double lat, double lon)
{
	if (p->kind == PROJECTION_LCC)
		return p->n * wrap180(lon - p->lon0 / DEG) * DEG;
	if (p->kind == PROJECTION_ROTATED) {
		/* the rotated meridian through the point, by a small step along it */
		double rx, ry, la1, lo1, la2, lo2, e = 1e-5;

		projection_forward(p, lat, lon, &rx, &ry);
		projection_inverse(p, rx, ry - e, &la1, &lo1);
		projection_inverse(p, rx, ry + e, &la2, &lo2);
		return atan2(wrap180(lo2 - lo1) * cos(lat * DEG), la2 - la1);
	}
	return 0;
}

void projection_rotate_to_earth(double angle, double *u, double *v)
{
	double c = cos(angle), s = sin(angle), uu = *u, vv = *v;

	*u = uu * c + vv * s;
	*v = -uu * s + vv * c;
}
