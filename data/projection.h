/*
 * projection.h - the map projections of NWP grids (CF grid_mapping), on a sphere.
 *
 * Lambert conformal conic (one or two standard parallels), Mercator and rotated pole
 * (rotated_latitude_longitude), forward (lat/lon -> projection x/y, in metres, or in
 * rotated degrees for the rotated pole) and inverse, plus the convergence angle that
 * turns grid-relative wind components (CF x_wind/y_wind, grid_eastward_wind, WRF
 * U10/V10 on a Lambert grid) into earth-relative ones. Ellipsoidal parameters are approximated by a sphere of the
 * semi-major axis (an error of well under a grid cell for kilometre-scale NWP grids).
 */
#ifndef WC_PROJECTION_H
#define WC_PROJECTION_H

#include "common/status.h"

enum projection_kind {
	PROJECTION_NONE = 0,
	PROJECTION_LCC,
	PROJECTION_MERCATOR,
	PROJECTION_ROTATED	/* rotated pole: x = rotated longitude, y = rotated latitude */
};

/* Plain data; no resources. Angles in radians inside, degrees at the interface. */
struct projection {
	enum projection_kind kind;
	double radius;		/* earth radius, m */
	double lon0, lat0;	/* central meridian, latitude of origin (rad) */
	double false_easting, false_northing;	/* m */
	double n, F, rho0;	/* LCC cone constant and helpers */
	double k0;		/* Mercator scale at the standard parallel */
	double pole_lat, pole_lon;	/* rotated pole: grid north pole (rad) */
};

/* Lambert conformal conic; lat1 == lat2 for the tangent case. WC_EINVAL when degenerate. */
enum wc_status projection_init_lcc(struct projection *p, double lat1_deg, double lat2_deg,
				   double lat0_deg, double lon0_deg, double radius_m,
				   double false_easting, double false_northing,
				   struct wc_error *err);
/* Mercator with true scale at latitude lat_ts_deg. */
enum wc_status projection_init_mercator(struct projection *p, double lat_ts_deg,
					double lon0_deg, double radius_m,
					double false_easting, double false_northing,
					struct wc_error *err);

/*
 * Rotated pole with the grid's north pole at (pole_lat, pole_lon) in degrees (CF
 * grid_north_pole_latitude/longitude). north_pole_grid_longitude other than 0 is refused.
 */
enum wc_status projection_init_rotated(struct projection *p, double pole_lat_deg,
				       double pole_lon_deg, double north_pole_grid_lon_deg,
				       struct wc_error *err);

/* Degrees in, metres (rotated degrees) out. */
void projection_forward(const struct projection *p, double lat, double lon, double *x,
			double *y);
/* Metres in, degrees out (longitude in -180..180). */
void projection_inverse(const struct projection *p, double x, double y, double *lat,
			double *lon);

/*
 * Angle (radians) by which the grid's +y axis is turned clockwise from true north at
 * (lat, lon) in degrees: n (lon - lon0) for Lambert, 0 for Mercator, from the local
 * direction of the rotated meridian for the rotated pole.
 */
double projection_convergence(const struct projection *p, double lat, double lon);

/*
 * Rotate grid-relative (u, v) in place to earth-relative, for a convergence angle
 * `angle` from projection_convergence (NCEP/WRF convention):
 *   u_e = u cos a + v sin a,  v_e = -u sin a + v cos a
 */
void projection_rotate_to_earth(double angle, double *u, double *v);

#endif
