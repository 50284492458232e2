/*
 * netcdf.c - inspect and decode NWP NetCDF files; see netcdf.h.
 *
 * Inspection reads attributes and coordinate variables only. Field data is read by
 * nwp_file_read() in boxes. The rules follow ../shared/grids/CATALOG.md R1-R7; the
 * comments name the file of that catalogue that motivates a rule (#n).
 */
#include "data/netcdf.h"

#include <ctype.h>
#include <math.h>
#include <netcdf.h>
#include <netcdf_mem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "common/log.h"
#include "common/utc.h"
#include "data/cftime.h"

#define MAX_FILE_VARS 100000
#define TEXT_MAX 512

/* What inspection learns about one variable of the file. */
struct vinfo {
	char name[NC_MAX_NAME + 1];
	nc_type type;
	int ndims;
	int dimids[NWP_MAX_DIMS];
	bool too_many_dims;
};

/* A wind/temperature/pressure candidate before dimension checks. */
struct cand {
	int varid;
	enum nwp_quantity q;
	double height;		/* NaN when unknown */
	int height_dim;		/* dimension (index in var) holding several heights, -1 */
	bool grid_relative;
	bool pressure_level;
	char level_text[64];
	int prio;
};

struct inspect {
	struct nwp_file *f;
	int nvars;
	struct vinfo *v;
	int ndims_file;
	int time_dim;		/* file dimid, -1 when none */
	int y_dim, x_dim;	/* file dimids, -1 when absent (single station) */
	int wrf_map_proj;	/* WRF MAP_PROJ or 0 */
	bool ncep_grib;		/* netCDF-Java translation of NCEP GRIB (#7) */
};

/* netCDF's message; system errors on reads mean the bytes are not there. */
static const char *nc_msg(int rc)
{
	static _Thread_local char buf[128];

	if (rc > 0) {
		snprintf(buf, sizeof(buf), "file truncated or damaged (%s)", nc_strerror(rc));
		return buf;
	}
	return nc_strerror(rc);
}

static enum wc_status nc_fail(struct wc_error *err, int rc, const char *what,
			      const char *label)
{
	return wc_error_set(err, WC_ENETCDF, "cannot %s '%s': %s", what, label, nc_msg(rc));
}

/* ---- attributes ---------------------------------------------------------------- */

/* Text attribute (NC_CHAR or first NC_STRING) into buf; false when absent. */
/*
 * A text attribute whole (NC_CHAR, or the first string of NC_STRING), malloc'd and
 * NUL-terminated; NULL when absent, of another type, over 1 MiB, or out of memory.
 */
static char *att_text_alloc(int ncid, int varid, const char *name)
{
	nc_type t;
	size_t n;
	char *text = NULL;

	if (nc_inq_att(ncid, varid, name, &t, &n) != NC_NOERR)
		return NULL;
	if (t == NC_CHAR) {
		if (n > 1 << 20 || !(text = malloc(n + 1)))
			return NULL;
		if (nc_get_att_text(ncid, varid, name, text) != NC_NOERR) {
			free(text);
			return NULL;
		}
		text[n] = '\0';
		return text;
	}
	if (t == NC_STRING && n >= 1 && n < 4096) {
		char **sv = calloc(n, sizeof(*sv));

		if (!sv)
			return NULL;
		if (nc_get_att_string(ncid, varid, name, sv) == NC_NOERR) {
			if (!sv[0] || strlen(sv[0]) <= 1 << 20)
				text = strdup(sv[0] ? sv[0] : "");
			nc_free_string(n, sv);
		}
		free(sv);
	}
	return text;
}

/* The same into buf (cut to len; for names, units and flags, never for display). */
static bool att_text(int ncid, int varid, const char *name, char *buf, size_t len)
{
	char *text = att_text_alloc(ncid, varid, name);

	buf[0] = '\0';
	if (!text)
		return false;
	snprintf(buf, len, "%s", text);
	free(text);
	return true;
}

static bool is_numeric_type(nc_type t)
{
	return t >= NC_BYTE && t <= NC_UINT64 && t != NC_CHAR && t != NC_STRING;
}

/* Up to `max` numeric values of an attribute; returns how many were read (0: absent). */
static size_t att_doubles(int ncid, int varid, const char *name, double *out, size_t max)
{
	nc_type t;
	size_t n;
	double *tmp;

	if (nc_inq_att(ncid, varid, name, &t, &n) != NC_NOERR || n == 0 ||
	    !is_numeric_type(t) || n > 4096)
		return 0;
	tmp = malloc(n * sizeof(*tmp));
	if (!tmp)
		return 0;
	if (nc_get_att_double(ncid, varid, name, tmp) != NC_NOERR) {
		free(tmp);
		return 0;
	}
	if (n > max)
		n = max;
	memcpy(out, tmp, n * sizeof(*tmp));
	free(tmp);
	return n;
}

static bool att_double(int ncid, int varid, const char *name, double *out)
{
	return att_doubles(ncid, varid, name, out, 1) == 1;
}

static void lower(char *dst, const char *src, size_t len)
{
	size_t i = 0;

	for (; src[i] && i < len - 1; i++)
		dst[i] = (char)tolower((unsigned char)src[i]);
	dst[i] = '\0';
}

static bool streq_ci(const char *a, const char *b)
{
	return strcasecmp(a, b) == 0;
}

static bool contains_ci(const char *hay, const char *needle)
{
	return strcasestr(hay, needle) != NULL;
}

/* ---- names ------------------------------------------------------------------- */

/* s == pre <digits> post (case-insensitive); the digits into *num. */
static bool pat(const char *s, const char *pre, const char *post, double *num)
{
	size_t lp = strlen(pre);
	const char *p;
	double v = 0;
	int nd = 0;

	if (strncasecmp(s, pre, lp) != 0)
		return false;
	p = s + lp;
	while (isdigit((unsigned char)*p) && nd < 5) {
		v = v * 10 + (*p - '0');
		p++;
		nd++;
	}
	if (nd == 0 || strcasecmp(p, post) != 0)
		return false;
	*num = v;
	return true;
}

static const char *const pressure_units[] = { "pa", "hpa", "mb", "mbar", "millibar",
					      "millibars", "kpa", "bar", "atm", NULL };

static bool is_pressure_unit(const char *u)
{
	for (size_t i = 0; pressure_units[i]; i++)
		if (streq_ci(u, pressure_units[i]))
			return true;
	return false;
}

/*
 * Classify a name (variable name, GRIB_shortName, cfVarName or non-CF standard_name)
 * into *c. Height NaN when the name does not carry it.
 */
static bool classify_name(const char *name, struct cand *c)
{
	static const struct {
		const char *pre, *post;
		enum nwp_quantity q;
		bool rel;
	} pats[] = {
		{ "u", "", NWP_U, false }, { "v", "", NWP_V, false },
		{ "u", "m", NWP_U, false }, { "v", "m", NWP_V, false },
		{ "", "u", NWP_U, false }, { "", "v", NWP_V, false },
		{ "u_", "m", NWP_U, false }, { "v_", "m", NWP_V, false },
		{ "ugrd_", "maboveground", NWP_U, false },
		{ "vgrd_", "maboveground", NWP_V, false },
		{ "ugrd", "m", NWP_U, false }, { "vgrd", "m", NWP_V, false },
		{ "x_wind_", "m", NWP_U, true }, { "y_wind_", "m", NWP_V, true },
		{ "eastward_wind_", "m", NWP_U, false },
		{ "northward_wind_", "m", NWP_V, false },
		{ "eastward_wind_at_", "m", NWP_U, false },
		{ "northward_wind_at_", "m", NWP_V, false },
		{ "u_wind_", "m", NWP_U, false }, { "v_wind_", "m", NWP_V, false },
		{ "si", "", NWP_SPEED, false }, { "ws", "", NWP_SPEED, false },
		{ "ws", "m", NWP_SPEED, false }, { "wspd", "", NWP_SPEED, false },
		{ "wspd", "m", NWP_SPEED, false }, { "wspd_", "m", NWP_SPEED, false },
		{ "wind_speed_", "m", NWP_SPEED, false },
		{ "wind_speed_at_", "m", NWP_SPEED, false },
		{ "windspeed", "", NWP_SPEED, false },
		{ "windspeed_", "m", NWP_SPEED, false },
		{ "ws_", "m", NWP_SPEED, false }, { "ff", "", NWP_SPEED, false },
	};
	static const struct {
		const char *name;
		enum nwp_quantity q;
		double h;
		bool rel;
	} exact[] = {
		{ "uas", NWP_U, 10, false }, { "vas", NWP_V, 10, false },
		{ "sfcwind", NWP_SPEED, 10, false },
		{ "uwnd", NWP_U, NAN, false }, { "vwnd", NWP_V, NAN, false },
		{ "x_wind", NWP_U, NAN, true }, { "y_wind", NWP_V, NAN, true },
		{ "wind_speed", NWP_SPEED, NAN, false }, { "ws", NWP_SPEED, NAN, false },
		{ "wspd", NWP_SPEED, NAN, false },
		{ "t2m", NWP_T2M, 2, false }, { "2t", NWP_T2M, 2, false },
		{ "t2", NWP_T2M, 2, false }, { "tas", NWP_T2M, 2, false },
		{ "t_2m", NWP_T2M, 2, false }, { "tmp_2maboveground", NWP_T2M, 2, false },
		{ "air_temperature_2m", NWP_T2M, 2, false },
		{ "temperature_2m", NWP_T2M, 2, false },
		{ "sp", NWP_SP, 0, false }, { "psfc", NWP_SP, 0, false },
		{ "ps", NWP_SP, 0, false }, { "pres_surface", NWP_SP, 0, false },
		{ "surface_pressure", NWP_SP, 0, false },
		{ "pressure_surface", NWP_SP, 0, false },
		{ "air_pressure_at_surface", NWP_SP, 0, false },
		{ "surface_air_pressure", NWP_SP, 0, false },
		{ "pres_sfc", NWP_SP, 0, false },
	};
	double num;

	for (size_t i = 0; i < sizeof(exact) / sizeof(exact[0]); i++) {
		if (streq_ci(name, exact[i].name)) {
			c->q = exact[i].q;
			c->height = exact[i].h;
			c->grid_relative = exact[i].rel;
			return true;
		}
	}
	for (size_t i = 0; i < sizeof(pats) / sizeof(pats[0]); i++) {
		if (pat(name, pats[i].pre, pats[i].post, &num)) {
			c->q = pats[i].q;
			c->height = num;
			c->grid_relative = pats[i].rel;
			return true;
		}
	}
	/* netCDF-Java names (#7): "u-component_of_wind_height_above_ground" */
	if (strncasecmp(name, "u-component_of_wind", 19) == 0 ||
	    strncasecmp(name, "u_component_of_wind", 19) == 0) {
		c->q = NWP_U;
		c->height = NAN;
		return true;
	}
	if (strncasecmp(name, "v-component_of_wind", 19) == 0 ||
	    strncasecmp(name, "v_component_of_wind", 19) == 0) {
		c->q = NWP_V;
		c->height = NAN;
		return true;
	}
	if (strncasecmp(name, "wind_speed", 10) == 0) {
		c->q = NWP_SPEED;
		c->height = NAN;
		return true;
	}
	if (strncasecmp(name, "temperature_height_above_ground", 31) == 0) {
		c->q = NWP_T2M;
		c->height = NAN;
		return true;
	}
	return false;
}

static bool classify_standard_name(const char *sn, struct cand *c)
{
	static const struct {
		const char *sn;
		enum nwp_quantity q;
		bool rel;
	} tab[] = {
		{ "eastward_wind", NWP_U, false }, { "northward_wind", NWP_V, false },
		{ "x_wind", NWP_U, true }, { "y_wind", NWP_V, true },
		{ "grid_eastward_wind", NWP_U, true }, { "grid_northward_wind", NWP_V, true },
		{ "wind_speed", NWP_SPEED, false }, { "air_temperature", NWP_T2M, false },
		{ "surface_air_pressure", NWP_SP, false },
	};

	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
		if (streq_ci(sn, tab[i].sn)) {
			c->q = tab[i].q;
			c->grid_relative = tab[i].rel;
			c->height = c->q == NWP_SP ? 0 : NAN;
			return true;
		}
	}
	return false;
}

/* "10 metre U wind component", "2 metre temperature", "Surface pressure" (#1). */
static bool classify_long_name(const char *ln, struct cand *c)
{
	char s[TEXT_MAX];
	const char *p;
	double h = NAN;

	lower(s, ln, sizeof(s));
	p = s;
	while (*p && !isdigit((unsigned char)*p))
		p++;
	if (*p) {
		char *end;
		double v = strtod(p, &end);

		while (*end == ' ')
			end++;
		if (strncmp(end, "metre", 5) == 0 || strncmp(end, "meter", 5) == 0 ||
		    strncmp(end, "m ", 2) == 0)
			h = v;
	}
	if (strstr(s, "u wind component") || strstr(s, "u-component of wind")) {
		c->q = NWP_U;
	} else if (strstr(s, "v wind component") || strstr(s, "v-component of wind")) {
		c->q = NWP_V;
	} else if (strstr(s, "wind speed") && !strstr(s, "gust")) {
		c->q = NWP_SPEED;
	} else if (strstr(s, "metre temperature") && h == 2) {
		c->q = NWP_T2M;
	} else if (strcmp(s, "surface pressure") == 0) {
		c->q = NWP_SP;
		h = 0;
	} else {
		return false;
	}
	c->height = h;
	return true;
}

/* ---- vertical coordinates ------------------------------------------------------ */

enum vkind { VK_NONE = 0, VK_HEIGHT, VK_PRESSURE };

static enum vkind vertical_kind(int ncid, int vid, double *to_m)
{
	char units[64], sn[64], pos[16], name[NC_MAX_NAME + 1], axt[32];

	if (nc_inq_varname(ncid, vid, name) != NC_NOERR)
		return VK_NONE;
	att_text(ncid, vid, "units", units, sizeof(units));
	att_text(ncid, vid, "standard_name", sn, sizeof(sn));
	att_text(ncid, vid, "positive", pos, sizeof(pos));
	att_text(ncid, vid, "_CoordinateAxisType", axt, sizeof(axt));
	if (is_pressure_unit(units) || streq_ci(sn, "air_pressure"))
		return VK_PRESSURE;
	*to_m = streq_ci(units, "km") ? 1000 : 1;
	if ((streq_ci(units, "m") || streq_ci(units, "km") || streq_ci(units, "meters") ||
	     streq_ci(units, "metres") || streq_ci(units, "meter")) &&
	    (pos[0] || streq_ci(sn, "height") || contains_ci(name, "height") ||
	     streq_ci(axt, "Height")))
		return VK_HEIGHT;
	return VK_NONE;
}

/* Coordinate variable of dimension `dimid` (1-D variable of the same name), or -1. */
static int coord_var(const struct inspect *in, int dimid)
{
	char dname[NC_MAX_NAME + 1];
	int vid;

	if (nc_inq_dimname(in->f->ncid, dimid, dname) != NC_NOERR)
		return -1;
	if (nc_inq_varid(in->f->ncid, dname, &vid) != NC_NOERR)
		return -1;
	if (vid < 0 || vid >= in->nvars || in->v[vid].ndims != 1 ||
	    in->v[vid].dimids[0] != dimid)
		return -1;
	return vid;
}

/* Fill the height (or pressure level) of candidate c from coordinates and attributes. */
static void find_level(const struct inspect *in, const struct vinfo *vi, struct cand *c)
{
	int ncid = in->f->ncid;
	char text[TEXT_MAX], coords[TEXT_MAX];
	double to_m, val;

	/* a vertical dimension of the variable (#7 height_above_ground2) */
	for (int d = 0; d < vi->ndims; d++) {
		int cv = coord_var(in, vi->dimids[d]);
		size_t len = 0;
		enum vkind k;

		if (cv < 0)
			continue;
		k = vertical_kind(ncid, cv, &to_m);
		if (k == VK_NONE)
			continue;
		nc_inq_dimlen(ncid, vi->dimids[d], &len);
		if (k == VK_PRESSURE) {
			double p = NAN;
			size_t start = 0;

			nc_get_var1_double(ncid, cv, &start, &p);
			c->pressure_level = true;
			snprintf(c->level_text, sizeof(c->level_text), "pressure level %g", p);
			return;
		}
		if (len == 1) {
			size_t start = 0;

			if (nc_get_var1_double(ncid, cv, &start, &val) == NC_NOERR &&
			    isfinite(val) && isnan(c->height))
				c->height = val * to_m;
		} else if (len > 1 && isnan(c->height)) {
			c->height_dim = d;
		}
		return;
	}
	/* a scalar coordinate named in `coordinates` (#6 heightAboveGround) */
	if (att_text(ncid, vi - in->v, "coordinates", coords, sizeof(coords))) {
		char *save = NULL;

		for (char *tok = strtok_r(coords, " ", &save); tok;
		     tok = strtok_r(NULL, " ", &save)) {
			int cv;
			enum vkind k;

			if (nc_inq_varid(ncid, tok, &cv) != NC_NOERR || in->v[cv].ndims != 0)
				continue;
			k = vertical_kind(ncid, cv, &to_m);
			if (k == VK_PRESSURE) {
				double p = NAN;

				nc_get_var_double(ncid, cv, &p);
				c->pressure_level = true;
				snprintf(c->level_text, sizeof(c->level_text),
					 "pressure level %g", p);
				return;
			}
			if (k == VK_HEIGHT && nc_get_var_double(ncid, cv, &val) == NC_NOERR &&
			    isfinite(val) && isnan(c->height))
				c->height = val * to_m;
		}
	}
	/* attributes: level = "10 m above ground" (#5), level_desc (#12), GRIB keys */
	int vid = (int)(vi - in->v);
	const char *lattrs[] = { "level", "level_desc", "GRIB_typeOfLevel", "long_name" };

	for (size_t i = 0; i < sizeof(lattrs) / sizeof(lattrs[0]); i++) {
		char low[TEXT_MAX];

		if (!att_text(ncid, vid, lattrs[i], text, sizeof(text)))
			continue;
		lower(low, text, sizeof(low));
		if (strstr(low, "pressure level") || strstr(low, "isobaric") ||
		    strstr(low, "mb ") || (strstr(low, "mb") && strlen(low) < 12) ||
		    strstr(low, "hpa")) {
			c->pressure_level = true;
			snprintf(c->level_text, sizeof(c->level_text), "%.60s", text);
			return;
		}
		if (i == 0 && isnan(c->height)) {
			char *end;
			double h = strtod(low, &end);

			if (end != low && strncmp(end, " m above", 8) == 0)
				c->height = h;
		}
		if (i == 2 && streq_ci(text, "heightAboveGround") && isnan(c->height) &&
		    att_double(ncid, vid, "GRIB_level", &val))
			c->height = val;
	}
	if (att_double(ncid, vid, "height", &val) && isnan(c->height))
		c->height = val;
}

/* Is the candidate classified at all? Sets q/height/grid_relative/prio. */
static bool classify(const struct inspect *in, int vid, struct cand *c)
{
	int ncid = in->f->ncid;
	const struct vinfo *vi = &in->v[vid];
	char sn[128], text[128];
	struct cand byname;

	memset(c, 0, sizeof(*c));
	c->varid = vid;
	c->height = NAN;
	c->height_dim = -1;
	if (vi->too_many_dims || vi->ndims == 0 || !is_numeric_type(vi->type))
		return false;
	memset(&byname, 0, sizeof(byname));
	byname.height = NAN;
	bool named = classify_name(vi->name, &byname);

	if (!named) {
		const char *keys[] = { "GRIB_shortName", "GRIB_cfVarName", "short_name" };

		for (size_t i = 0; i < 3 && !named; i++)
			if (att_text(ncid, vid, keys[i], text, sizeof(text)))
				named = classify_name(text, &byname);
	}
	if (att_text(ncid, vid, "standard_name", sn, sizeof(sn)) &&
	    classify_standard_name(sn, c)) {
		c->prio = 3;
		if (named && byname.q == c->q)
			c->height = byname.height;
	} else if (sn[0] && classify_name(sn, c)) {
		/* non-CF standard names such as "wind_speed_at_10m" (#14) */
		c->prio = 2;
	} else if (named) {
		*c = byname;
		c->varid = vid;
		c->height_dim = -1;
		c->prio = 1;
	} else if (att_text(ncid, vid, "long_name", text, sizeof(text)) &&
		   classify_long_name(text, c)) {
		c->prio = 0;
	} else {
		return false;
	}
	c->varid = vid;
	c->height_dim = -1;
	find_level(in, vi, c);
	/* grid-relative flags: GRIB_uvRelativeToGrid (cfgrib), gridRelative */
	if (c->q == NWP_U || c->q == NWP_V) {
		double flag;

		if (att_double(ncid, vid, "GRIB_uvRelativeToGrid", &flag) ||
		    att_double(ncid, vid, "gridRelative", &flag) ||
		    att_double(ncid, vid, "grid_relative", &flag))
			c->grid_relative = c->grid_relative || flag != 0;
	}
	return true;
}

/* ---- coordinates --------------------------------------------------------------- */

enum ckind { CK_NONE = 0, CK_LAT, CK_LON, CK_PX, CK_PY };

static bool is_lat_units(const char *u)
{
	static const char *const t[] = { "degrees_north", "degree_north", "degree_N",
					 "degrees_N", "degreeN", "degreesN", NULL };
	for (size_t i = 0; t[i]; i++)
		if (streq_ci(u, t[i]))
			return true;
	return false;
}

static bool is_lon_units(const char *u)
{
	static const char *const t[] = { "degrees_east", "degree_east", "degree_E",
					 "degrees_E", "degreeE", "degreesE", NULL };
	for (size_t i = 0; t[i]; i++)
		if (streq_ci(u, t[i]))
			return true;
	return false;
}

static bool is_length_unit(const char *u, double *to_m)
{
	if (streq_ci(u, "m") || streq_ci(u, "meter") || streq_ci(u, "meters") ||
	    streq_ci(u, "metre") || streq_ci(u, "metres")) {
		*to_m = 1;
		return true;
	}
	if (streq_ci(u, "km") || streq_ci(u, "kilometer") || streq_ci(u, "kilometers") ||
	    streq_ci(u, "kilometre") || streq_ci(u, "kilometres")) {
		*to_m = 1000;
		return true;
	}
	return false;
}

/* Coordinate kind by standard_name, then axis, then units, then name (R4). */
static enum ckind coord_kind(int ncid, int vid, const char *name)
{
	char sn[64], axis[16], units[64], axt[32];
	double to_m;

	att_text(ncid, vid, "standard_name", sn, sizeof(sn));
	att_text(ncid, vid, "axis", axis, sizeof(axis));
	att_text(ncid, vid, "units", units, sizeof(units));
	att_text(ncid, vid, "_CoordinateAxisType", axt, sizeof(axt));
	if (streq_ci(sn, "latitude"))
		return CK_LAT;
	if (streq_ci(sn, "longitude"))
		return CK_LON;
	if (streq_ci(sn, "projection_x_coordinate"))
		return CK_PX;
	if (streq_ci(sn, "projection_y_coordinate"))
		return CK_PY;
	/* rotated pole: rotated degrees, used with the grid mapping like x/y */
	if (streq_ci(sn, "grid_latitude"))
		return CK_PY;
	if (streq_ci(sn, "grid_longitude"))
		return CK_PX;
	if (streq_ci(axis, "Y") || streq_ci(axt, "GeoY"))
		return is_length_unit(units, &to_m) ? CK_PY : CK_LAT;
	if (streq_ci(axis, "X") || streq_ci(axt, "GeoX"))
		return is_length_unit(units, &to_m) ? CK_PX : CK_LON;
	if (is_lat_units(units) || streq_ci(axt, "Lat"))
		return CK_LAT;
	if (is_lon_units(units) || streq_ci(axt, "Lon"))
		return CK_LON;
	/* names: lat, latitude, lats, nav_lat, XLAT, gridlat_0, ...; units "degrees" (#13) */
	if (strncasecmp(name, "lat", 3) == 0 || streq_ci(name, "nav_lat") ||
	    streq_ci(name, "xlat") || streq_ci(name, "gridlat_0"))
		return CK_LAT;
	if (strncasecmp(name, "lon", 3) == 0 || streq_ci(name, "nav_lon") ||
	    streq_ci(name, "xlong") || streq_ci(name, "gridlon_0"))
		return CK_LON;
	return CK_NONE;
}

static bool dim_in(const struct vinfo *vi, int dimid, int *pos)
{
	for (int d = 0; d < vi->ndims; d++) {
		if (vi->dimids[d] == dimid) {
			if (pos)
				*pos = d;
			return true;
		}
	}
	return false;
}

static int find_time_dim(const struct inspect *in, const struct vinfo *vi)
{
	int ncid = in->f->ncid, nunlim = 0, unlim[NC_MAX_DIMS];
	static const char *const names[] = { "time", "valid_time", "Time", "step", "t",
					     "forecast_time", "forecast_period", "date",
					     "times", NULL };

	for (int d = 0; d < vi->ndims; d++) {
		int cv = coord_var(in, vi->dimids[d]);
		char units[128], sn[64], axis[8], dname[NC_MAX_NAME + 1];

		if (cv >= 0) {
			att_text(ncid, cv, "units", units, sizeof(units));
			att_text(ncid, cv, "standard_name", sn, sizeof(sn));
			att_text(ncid, cv, "axis", axis, sizeof(axis));
			if (contains_ci(units, " since ") || streq_ci(sn, "time") ||
			    streq_ci(sn, "forecast_period") || streq_ci(axis, "T"))
				return vi->dimids[d];
		}
		nc_inq_dimname(ncid, vi->dimids[d], dname);
		for (size_t i = 0; names[i]; i++)
			if (streq_ci(dname, names[i]))
				return vi->dimids[d];
	}
	if (nc_inq_unlimdims(ncid, &nunlim, NULL) == NC_NOERR && nunlim > 0 &&
	    nunlim <= NC_MAX_DIMS && nc_inq_unlimdims(ncid, &nunlim, unlim) == NC_NOERR) {
		for (int i = 0; i < nunlim; i++)
			if (dim_in(vi, unlim[i], NULL))
				return unlim[i];
	}
	return -1;
}

/* Read a whole numeric variable of `n` values into a new double array. */
static enum wc_status read_all(const struct inspect *in, int vid, size_t n, double **out,
			       struct wc_error *err)
{
	double *buf;
	int rc;

	*out = NULL;
	if (n == 0 || n > NWP_MAX_CELLS)
		return wc_error_set(err, WC_ETOOLARGE,
				    "cannot read '%s' in '%s': %zu values is too many",
				    in->v[vid].name, in->f->label, n);
	buf = malloc(n * sizeof(*buf));
	if (!buf)
		return wc_error_set(err, WC_ENOMEM, "out of memory reading '%s'",
				    in->v[vid].name);
	rc = nc_get_var_double(in->f->ncid, vid, buf);
	if (rc != NC_NOERR) {
		free(buf);
		return wc_error_set(err, WC_ENETCDF, "cannot read '%s' in '%s': %s",
				    in->v[vid].name, in->f->label, nc_msg(rc));
	}
	*out = buf;
	return WC_OK;
}

/* Read the first `n` values of a variable with a leading dimension fixed at 0. */
static enum wc_status read_first(const struct inspect *in, int vid, size_t n,
				 double **out, struct wc_error *err)
{
	size_t start[NWP_MAX_DIMS] = { 0 }, count[NWP_MAX_DIMS];
	const struct vinfo *vi = &in->v[vid];
	double *buf;
	int rc;

	if (vi->ndims <= 2)
		return read_all(in, vid, n, out, err);
	for (int d = 0; d < vi->ndims; d++) {
		size_t len = 0;

		nc_inq_dimlen(in->f->ncid, vi->dimids[d], &len);
		count[d] = d < vi->ndims - 2 ? 1 : len;
	}
	if (n == 0 || n > NWP_MAX_CELLS)
		return wc_error_set(err, WC_ETOOLARGE, "cannot read '%s': too large",
				    vi->name);
	buf = malloc(n * sizeof(*buf));
	if (!buf)
		return wc_error_set(err, WC_ENOMEM, "out of memory reading '%s'", vi->name);
	rc = nc_get_vara_double(in->f->ncid, vid, start, count, buf);
	if (rc != NC_NOERR) {
		free(buf);
		return wc_error_set(err, WC_ENETCDF, "cannot read '%s' in '%s': %s",
				    vi->name, in->f->label, nc_msg(rc));
	}
	*out = buf;
	return WC_OK;
}

static enum wc_status check_monotonic(const struct inspect *in, const char *name,
				      const double *c, size_t n, struct wc_error *err)
{
	for (size_t i = 0; i < n; i++) {
		if (!isfinite(c[i]) || (i >= 2 && (c[i] - c[i - 1]) * (c[1] - c[0]) <= 0) ||
		    (i == 1 && c[1] == c[0]))
			return wc_error_set(err, WC_EFORMAT,
					    "invalid coordinate '%s' in '%s': values must be "
					    "finite and strictly monotonic", name,
					    in->f->label);
	}
	return WC_OK;
}

/* ---- geometry ------------------------------------------------------------------ */

static enum wc_status setup_projection(const struct inspect *in, int gm,
				       struct wc_error *err)
{
	int ncid = in->f->ncid;
	char name[64];
	double sp[2], lat0 = 0, lon0 = 0, r = 6371229, fe = 0, fn = 0, k0;
	size_t nsp;

	att_text(ncid, gm, "grid_mapping_name", name, sizeof(name));
	if (!att_double(ncid, gm, "earth_radius", &r))
		att_double(ncid, gm, "semi_major_axis", &r);
	att_double(ncid, gm, "false_easting", &fe);
	att_double(ncid, gm, "false_northing", &fn);
	if (streq_ci(name, "lambert_conformal_conic")) {
		nsp = att_doubles(ncid, gm, "standard_parallel", sp, 2);
		att_double(ncid, gm, "latitude_of_projection_origin", &lat0);
		att_double(ncid, gm, "longitude_of_central_meridian", &lon0);
		if (nsp == 0)
			sp[0] = lat0;
		if (nsp < 2)
			sp[1] = sp[0];
		return projection_init_lcc(&in->f->proj, sp[0], sp[1], lat0, lon0, r, fe, fn,
					   err);
	}
	if (streq_ci(name, "mercator")) {
		if (!att_double(ncid, gm, "longitude_of_projection_origin", &lon0))
			att_double(ncid, gm, "longitude_of_central_meridian", &lon0);
		if (att_doubles(ncid, gm, "standard_parallel", sp, 1) != 1) {
			sp[0] = 0;
			if (att_double(ncid, gm, "scale_factor_at_projection_origin", &k0) &&
			    k0 > 0 && k0 <= 1)
				sp[0] = acos(k0) * 180 / M_PI;
		}
		return projection_init_mercator(&in->f->proj, sp[0], lon0, r, fe, fn, err);
	}
	if (streq_ci(name, "rotated_latitude_longitude")) {
		double plat = NAN, plon = NAN, npgl = 0;

		att_double(ncid, gm, "grid_north_pole_latitude", &plat);
		att_double(ncid, gm, "grid_north_pole_longitude", &plon);
		att_double(ncid, gm, "north_pole_grid_longitude", &npgl);
		return projection_init_rotated(&in->f->proj, plat, plon, npgl, err);
	}
	return wc_error_set(err, WC_EUNSUPPORTED,
			    "unsupported grid_mapping '%s' in '%s': windcast reads "
			    "lambert_conformal_conic, mercator and rotated_latitude_longitude "
			    "grids, or files with latitude/longitude", name[0] ? name : "?",
			    in->f->label);
}

/* Find a variable with grid_mapping_name: the var's grid_mapping, else any. */
static int find_grid_mapping(const struct inspect *in, int vid)
{
	char gm[NC_MAX_NAME + 1], text[64];
	int g;

	if (att_text(in->f->ncid, vid, "grid_mapping", gm, sizeof(gm)) &&
	    nc_inq_varid(in->f->ncid, gm, &g) == NC_NOERR)
		return g;
	for (int i = 0; i < in->nvars; i++)
		if (att_text(in->f->ncid, i, "grid_mapping_name", text, sizeof(text)) &&
		    !streq_ci(text, "latitude_longitude"))
			return i;
	return -1;
}

/* 2-D (or time, y, x) latitude/longitude whose last two dims belong to the variable. */
static bool find_2d_latlon(const struct inspect *in, const struct vinfo *vi, int *lat,
			   int *lon)
{
	char coords[TEXT_MAX];
	int ncid = in->f->ncid;

	*lat = *lon = -1;
	for (int pass = 0; pass < 2; pass++) {
		int cands[64], n = 0;

		if (pass == 0) {
			char *save = NULL;

			if (!att_text(ncid, (int)(vi - in->v), "coordinates", coords,
				      sizeof(coords)))
				continue;
			for (char *t = strtok_r(coords, " ", &save); t && n < 64;
			     t = strtok_r(NULL, " ", &save))
				if (nc_inq_varid(ncid, t, &cands[n]) == NC_NOERR)
					n++;
		} else {
			for (int i = 0; i < in->nvars && n < 64; i++)
				cands[n++] = i;
		}
		for (int k = 0; k < n; k++) {
			const struct vinfo *c = &in->v[cands[k]];
			enum ckind kind;

			if (c->ndims < 2 || c->ndims > 3 || !is_numeric_type(c->type) ||
			    (c->ndims == 3 && c->dimids[0] != in->time_dim) ||
			    !dim_in(vi, c->dimids[c->ndims - 2], NULL) ||
			    !dim_in(vi, c->dimids[c->ndims - 1], NULL))
				continue;
			kind = coord_kind(ncid, cands[k], c->name);
			if (kind == CK_LAT && *lat < 0)
				*lat = cands[k];
			if (kind == CK_LON && *lon < 0)
				*lon = cands[k];
		}
		if (*lat >= 0 && *lon >= 0) {
			const struct vinfo *a = &in->v[*lat], *b = &in->v[*lon];

			if (a->dimids[a->ndims - 2] == b->dimids[b->ndims - 2] &&
			    a->dimids[a->ndims - 1] == b->dimids[b->ndims - 1])
				return true;
		}
		*lat = *lon = -1;
	}
	return false;
}

static enum wc_status read_station_ids(const struct inspect *in, int nstations,
				       struct wc_error *err)
{
	struct nwp_file *f = in->f;
	char role[64];
	int vid = -1;

	for (int i = 0; i < in->nvars; i++) {
		if (att_text(f->ncid, i, "cf_role", role, sizeof(role)) &&
		    streq_ci(role, "timeseries_id")) {
			vid = i;
			break;
		}
	}
	f->station_ids = calloc((size_t)nstations, sizeof(*f->station_ids));
	if (!f->station_ids)
		return wc_error_set(err, WC_ENOMEM, "out of memory");
	if (vid < 0)
		return WC_OK;
	const struct vinfo *vi = &in->v[vid];

	if (vi->type == NC_CHAR && vi->ndims == 2) {
		size_t slen = 0, n = 0;
		char *buf;

		nc_inq_dimlen(f->ncid, vi->dimids[0], &n);
		nc_inq_dimlen(f->ncid, vi->dimids[1], &slen);
		if (n != (size_t)nstations || slen == 0 || slen > 1024)
			return WC_OK;
		buf = calloc(n, slen);
		if (!buf)
			return wc_error_set(err, WC_ENOMEM, "out of memory");
		if (nc_get_var_text(f->ncid, vid, buf) == NC_NOERR) {
			for (size_t s = 0; s < n; s++) {
				size_t l = strnlen(buf + s * slen, slen);

				while (l > 0 && buf[s * slen + l - 1] == ' ')
					l--;
				f->station_ids[s] = strndup(buf + s * slen, l);
			}
		}
		free(buf);
	} else if (vi->type == NC_STRING && vi->ndims == 1) {
		char **s = calloc((size_t)nstations, sizeof(*s));

		if (!s)
			return wc_error_set(err, WC_ENOMEM, "out of memory");
		if (nc_get_var_string(f->ncid, vid, s) == NC_NOERR) {
			for (int i = 0; i < nstations; i++)
				f->station_ids[i] = strdup(s[i] ? s[i] : "");
			nc_free_string((size_t)nstations, s);
		}
		free(s);
	} else if (is_numeric_type(vi->type) && vi->ndims <= 1) {
		double *ids = NULL;

		if (read_all(in, vid, (size_t)nstations, &ids, NULL) == WC_OK) {
			for (int i = 0; i < nstations; i++) {
				char b[32];

				snprintf(b, sizeof(b), "%.0f", ids[i]);
				f->station_ids[i] = strdup(b);
			}
		}
		free(ids);
	}
	return WC_OK;
}

/* The primary variable's 1-D coordinate axes: dimension and coordinate variable of
 * latitude, longitude and projection x/y, -1 when absent. */
struct axes {
	int dlat, dlon, dpx, dpy;
	int vlat, vlon, vpx, vpy;
};

static void find_axes(const struct inspect *in, const struct vinfo *vi, struct axes *ax)
{
	*ax = (struct axes){ -1, -1, -1, -1, -1, -1, -1, -1 };
	for (int d = 0; d < vi->ndims; d++) {
		int cv;

		if (vi->dimids[d] == in->time_dim)
			continue;
		cv = coord_var(in, vi->dimids[d]);
		if (cv < 0)
			continue;
		switch (coord_kind(in->f->ncid, cv, in->v[cv].name)) {
		case CK_LAT: ax->dlat = vi->dimids[d]; ax->vlat = cv; break;
		case CK_LON: ax->dlon = vi->dimids[d]; ax->vlon = cv; break;
		case CK_PX: ax->dpx = vi->dimids[d]; ax->vpx = cv; break;
		case CK_PY: ax->dpy = vi->dimids[d]; ax->vpy = cv; break;
		default: break;
		}
	}
}

/* 1-D latitude and longitude: read, checked, longitudes unwrapped, global wrap found. */
static enum wc_status setup_regular(struct inspect *in, const struct axes *ax,
				    struct wc_error *err)
{
	struct nwp_file *f = in->f;
	size_t ny = 0, nx = 0;
	enum wc_status ret;

	f->geometry = NWP_GRID_REGULAR;
	in->y_dim = ax->dlat;
	in->x_dim = ax->dlon;
	nc_inq_dimlen(f->ncid, ax->dlat, &ny);
	nc_inq_dimlen(f->ncid, ax->dlon, &nx);
	if (ny == 0 || nx == 0 || ny > NWP_MAX_CELLS / nx)
		return wc_error_set(err, WC_ETOOLARGE, "cannot read '%s': grid %zux%zu is too large",
				    f->label, ny, nx);
	f->ny = ny;
	f->nx = nx;
	if ((ret = read_all(in, ax->vlat, ny, &f->lat1d, err)) ||
	    (ret = read_all(in, ax->vlon, nx, &f->lon1d, err)))
		return ret;
	if (ny > 1 && (ret = check_monotonic(in, in->v[ax->vlat].name, f->lat1d, ny, err)))
		return ret;
	/* unwrap longitudes across the antimeridian / the 360 seam */
	for (size_t i = 0; i < nx; i++) {
		if (!isfinite(f->lon1d[i]) || fabs(f->lon1d[i]) > 1080)
			return wc_error_set(err, WC_EFORMAT, "invalid longitude %g in '%s'",
					    f->lon1d[i], f->label);
		if (i > 0)
			f->lon1d[i] -= 360 * round((f->lon1d[i] - f->lon1d[i - 1]) / 360);
	}
	if (nx > 1 && (ret = check_monotonic(in, in->v[ax->vlon].name, f->lon1d, nx, err)))
		return ret;
	if (nx > 2) {
		double dl = fabs(f->lon1d[1] - f->lon1d[0]);
		double span = fabs(f->lon1d[nx - 1] - f->lon1d[0]) + dl;

		f->lon_wraps = fabs(span - 360) < 0.5 * dl;
	}
	for (size_t i = 0; i < ny; i++)
		if (fabs(f->lat1d[i]) > 90.001)
			return wc_error_set(err, WC_EFORMAT, "invalid latitude %g in '%s'",
					    f->lat1d[i], f->label);
	return WC_OK;
}

/* Projection x/y with the grid_mapping variable gm: the projection and the axes in m. */
static enum wc_status setup_projected(struct inspect *in, const struct axes *ax, int gm,
				      struct wc_error *err)
{
	struct nwp_file *f = in->f;
	int ncid = f->ncid;
	size_t ny = 0, nx = 0;
	char ux[32], uy[32];
	double sx = 1, sy = 1;
	enum wc_status ret;

	if ((ret = setup_projection(in, gm, err)))
		return ret;
	f->geometry = NWP_GRID_PROJECTED;
	in->y_dim = ax->dpy;
	in->x_dim = ax->dpx;
	nc_inq_dimlen(ncid, ax->dpy, &ny);
	nc_inq_dimlen(ncid, ax->dpx, &nx);
	if (ny == 0 || nx == 0 || ny > NWP_MAX_CELLS / nx)
		return wc_error_set(err, WC_ETOOLARGE, "cannot read '%s': grid is too large",
				    f->label);
	f->ny = ny;
	f->nx = nx;
	att_text(ncid, ax->vpx, "units", ux, sizeof(ux));
	att_text(ncid, ax->vpy, "units", uy, sizeof(uy));
	is_length_unit(ux, &sx);
	is_length_unit(uy, &sy);
	if ((ret = read_all(in, ax->vpy, ny, &f->y1d, err)) ||
	    (ret = read_all(in, ax->vpx, nx, &f->x1d, err)))
		return ret;
	for (size_t i = 0; i < ny; i++)
		f->y1d[i] *= sy;
	for (size_t i = 0; i < nx; i++)
		f->x1d[i] *= sx;
	if ((ny > 1 && (ret = check_monotonic(in, in->v[ax->vpy].name, f->y1d, ny, err))) ||
	    (nx > 1 && (ret = check_monotonic(in, in->v[ax->vpx].name, f->x1d, nx, err))))
		return ret;
	return WC_OK;
}

/* 2-D latitude/longitude variables vlat, vlon (as find_2d_latlon found them). */
static enum wc_status setup_curvilinear(struct inspect *in, int vlat, int vlon,
					struct wc_error *err)
{
	struct nwp_file *f = in->f;
	const struct vinfo *a = &in->v[vlat];
	size_t ny = 0, nx = 0;
	enum wc_status ret;

	f->geometry = NWP_GRID_CURVILINEAR;
	in->y_dim = a->dimids[a->ndims - 2];
	in->x_dim = a->dimids[a->ndims - 1];
	nc_inq_dimlen(f->ncid, in->y_dim, &ny);
	nc_inq_dimlen(f->ncid, in->x_dim, &nx);
	if (ny == 0 || nx == 0 || ny > NWP_MAX_CURVILINEAR / nx)
		return wc_error_set(err, WC_ETOOLARGE,
				    "cannot read '%s': curvilinear grid %zux%zu is too large "
				    "(at most %d cells)", f->label, ny, nx, NWP_MAX_CURVILINEAR);
	f->ny = ny;
	f->nx = nx;
	if ((ret = read_first(in, vlat, ny * nx, &f->lat2d, err)) ||
	    (ret = read_first(in, vlon, ny * nx, &f->lon2d, err)))
		return ret;
	for (size_t i = 0; i < ny * nx; i++)
		if (!isfinite(f->lat2d[i]) || !isfinite(f->lon2d[i]) ||
		    fabs(f->lat2d[i]) > 90.001 || fabs(f->lon2d[i]) > 1080)
			return wc_error_set(err, WC_EFORMAT,
					    "invalid 2-D latitude/longitude '%s' in '%s'", a->name,
					    f->label);
	return WC_OK;
}

/* Station latitude/longitude: over one dimension of the variable (the same for both), or
 * scalars. */
static bool find_station_coords(const struct inspect *in, const struct vinfo *vi, int *vlat,
				int *vlon)
{
	*vlat = *vlon = -1;
	for (int i = 0; i < in->nvars; i++) {
		const struct vinfo *c = &in->v[i];
		enum ckind k;

		if (c->ndims > 1 || !is_numeric_type(c->type) ||
		    (c->ndims == 1 && (c->dimids[0] == in->time_dim ||
				       !dim_in(vi, c->dimids[0], NULL))))
			continue;
		k = coord_kind(in->f->ncid, i, c->name);
		if (k == CK_LAT && *vlat < 0)
			*vlat = i;
		else if (k == CK_LON && *vlon < 0)
			*vlon = i;
	}
	return *vlat >= 0 && *vlon >= 0 && in->v[*vlat].ndims == in->v[*vlon].ndims &&
	       (in->v[*vlat].ndims == 0 || in->v[*vlat].dimids[0] == in->v[*vlon].dimids[0]);
}

static enum wc_status setup_stations(struct inspect *in, int vlat, int vlon,
				     struct wc_error *err)
{
	struct nwp_file *f = in->f;
	size_t nx = 1;
	enum wc_status ret;

	f->geometry = NWP_POINTS;
	f->ny = 1;
	if (in->v[vlat].ndims == 1) {
		in->x_dim = in->v[vlat].dimids[0];
		nc_inq_dimlen(f->ncid, in->x_dim, &nx);
	}
	if (nx == 0 || nx > NWP_MAX_STATIONS)
		return wc_error_set(err, WC_ETOOLARGE, "cannot read '%s': %zu stations", f->label,
				    nx);
	f->nx = nx;
	if ((ret = read_all(in, vlat, nx, &f->lat2d, err)) ||
	    (ret = read_all(in, vlon, nx, &f->lon2d, err)))
		return ret;
	return read_station_ids(in, (int)nx, err);
}

/*
 * Decide the geometry from the primary wind variable, in this order: 1-D lat/lon,
 * projection x/y with a grid_mapping, 2-D lat/lon, or stations.
 */
static enum wc_status setup_grid(struct inspect *in, const struct vinfo *vi,
				 struct wc_error *err)
{
	struct axes ax;
	int gm, vlat, vlon;
	char ft[64];

	find_axes(in, vi, &ax);
	if (ax.dlat >= 0 && ax.dlon >= 0 && ax.dlat != ax.dlon)
		return setup_regular(in, &ax, err);
	if (ax.dpx >= 0 && ax.dpy >= 0 && ax.dpx != ax.dpy &&
	    (gm = find_grid_mapping(in, (int)(vi - in->v))) >= 0)
		return setup_projected(in, &ax, gm, err);
	if (find_2d_latlon(in, vi, &vlat, &vlon))
		return setup_curvilinear(in, vlat, vlon, err);
	if (find_station_coords(in, vi, &vlat, &vlon))
		return setup_stations(in, vlat, vlon, err);
	att_text(in->f->ncid, NC_GLOBAL, "featureType", ft, sizeof(ft));
	if (streq_ci(ft, "timeSeries"))
		return wc_error_set(err, WC_EFORMAT,
				    "cannot read point file '%s': no station latitude/"
				    "longitude variables for '%s'", in->f->label, vi->name);
	return wc_error_set(err, WC_EFORMAT,
			    "cannot find the latitude/longitude of '%s' in '%s': looked for "
			    "coordinate variables by standard_name, axis, units and name, a "
			    "grid_mapping with projection x/y, and 2-D latitude/longitude",
			    vi->name, in->f->label);
}

/* ---- time ---------------------------------------------------------------------- */

static bool var_units_time(int ncid, int vid, struct cftime *t)
{
	char units[128], cal[64];

	if (!att_text(ncid, vid, "units", units, sizeof(units)))
		return false;
	att_text(ncid, vid, "calendar", cal, sizeof(cal));
	return cftime_parse(t, units, cal, NULL) == WC_OK;
}

/* Convert n stored values of variable vid (CF units) to UTC seconds. */
static enum wc_status convert_times(const struct inspect *in, int vid, const double *v,
				    size_t n, int64_t *out, struct wc_error *err)
{
	char units[128], cal[64];
	struct cftime t;
	enum wc_status ret;

	att_text(in->f->ncid, vid, "units", units, sizeof(units));
	att_text(in->f->ncid, vid, "calendar", cal, sizeof(cal));
	if ((ret = cftime_parse(&t, units, cal, err)))
		return wc_error_prefix(err, "cannot decode time '%s' in '%s'",
				       in->v[vid].name, in->f->label);
	for (size_t i = 0; i < n; i++)
		if ((ret = cftime_to_utc(&t, v[i], &out[i], err)))
			return wc_error_prefix(err, "cannot decode time '%s' in '%s'",
					       in->v[vid].name, in->f->label);
	return WC_OK;
}

static bool is_reftime_var(const struct inspect *in, int vid)
{
	char sn[64];
	const char *n = in->v[vid].name;

	att_text(in->f->ncid, vid, "standard_name", sn, sizeof(sn));
	return streq_ci(sn, "forecast_reference_time") || streq_ci(n, "reftime") ||
	       streq_ci(n, "forecast_reference_time") || streq_ci(n, "time_run") ||
	       streq_ci(n, "run_time") || streq_ci(n, "analysis_time");
}

/*
 * Reference time: a forecast_reference_time variable (scalar or per step), attributes
 * of the time variable, global attributes, WRF's SIMULATION_START_DATE. refs gets one
 * value per time (ntimes), or stays untouched when there is none (returns false).
 */
static bool find_reference(const struct inspect *in, int time_vid, int64_t *refs,
			   size_t ntimes, struct wc_error *err, enum wc_status *ret)
{
	struct nwp_file *f = in->f;
	int ncid = f->ncid;
	char text[128];
	double v;
	int64_t r;
	struct cftime t;

	*ret = WC_OK;
	for (int i = 0; i < in->nvars; i++) {
		const struct vinfo *vi = &in->v[i];
		double *vals = NULL;
		size_t n = 1;

		if (!is_numeric_type(vi->type) || !is_reftime_var(in, i) ||
		    !var_units_time(ncid, i, &t) || !t.has_epoch)
			continue;
		if (vi->ndims == 1 && vi->dimids[0] == in->time_dim)
			n = ntimes;
		else if (vi->ndims != 0)
			continue;
		if ((*ret = read_all(in, i, n, &vals, err)))
			return false;
		int64_t *tmp = malloc(n * sizeof(*tmp));

		if (!tmp) {
			free(vals);
			*ret = wc_error_set(err, WC_ENOMEM, "out of memory");
			return false;
		}
		*ret = convert_times(in, i, vals, n, tmp, err);
		free(vals);
		if (*ret) {
			free(tmp);
			return false;
		}
		for (size_t k = 0; k < ntimes; k++)
			refs[k] = tmp[n == 1 ? 0 : k];
		free(tmp);
		return true;
	}
	if (time_vid >= 0) {
		const char *keys[] = { "reference_time", "forecast_reference_time" };

		for (size_t k = 0; k < 2; k++) {
			if (att_double(ncid, time_vid, keys[k], &v) &&
			    var_units_time(ncid, time_vid, &t) &&
			    cftime_to_utc(&t, v, &r, NULL) == WC_OK)
				goto found;
			if (att_text(ncid, time_vid, keys[k], text, sizeof(text)) &&
			    utc_parse_iso8601(text, &r))
				goto found;
		}
	}
	const char *gkeys[] = { "forecast_reference_time", "reference_time", "run_time",
				"analysis_time" };

	for (size_t k = 0; k < 4; k++)
		if (att_text(ncid, NC_GLOBAL, gkeys[k], text, sizeof(text)) &&
		    utc_parse_iso8601(text, &r))
			goto found;
	if ((att_text(ncid, NC_GLOBAL, "SIMULATION_START_DATE", text, sizeof(text)) ||
	     att_text(ncid, NC_GLOBAL, "START_DATE", text, sizeof(text))) &&
	    cftime_parse_wrf(text, strlen(text), &r))
		goto found;
	return false;
found:
	for (size_t k = 0; k < ntimes; k++)
		refs[k] = r;
	return true;
}

/* An auxiliary valid-time variable over the time dimension (#6 valid_time(step)). */
static int find_aux_time(const struct inspect *in)
{
	struct cftime t;
	int best = -1;

	for (int i = 0; i < in->nvars; i++) {
		const struct vinfo *vi = &in->v[i];
		char sn[64];

		if (vi->ndims != 1 || vi->dimids[0] != in->time_dim ||
		    !is_numeric_type(vi->type) || is_reftime_var(in, i) ||
		    !var_units_time(in->f->ncid, i, &t) || !t.has_epoch)
			continue;
		att_text(in->f->ncid, i, "standard_name", sn, sizeof(sn));
		if (streq_ci(sn, "time"))
			return i;
		if (best < 0)
			best = i;
	}
	return best;
}

static enum wc_status setup_times(struct inspect *in, struct wc_error *err)
{
	struct nwp_file *f = in->f;
	int ncid = f->ncid, cv = -1, aux = -1;
	size_t n = 1;
	double *vals = NULL;
	int64_t *lead = NULL, *refs = NULL;
	struct cftime t;
	enum wc_status ret = WC_OK;
	bool have_ref;

	if (in->time_dim >= 0) {
		nc_inq_dimlen(ncid, in->time_dim, &n);
		if (n == 0)
			return wc_error_set(err, WC_EFORMAT, "no time steps in '%s'", f->label);
		if (n > NWP_MAX_TIMES)
			return wc_error_set(err, WC_ETOOLARGE,
					    "cannot read '%s': %zu time steps (at most %d)",
					    f->label, n, NWP_MAX_TIMES);
		cv = coord_var(in, in->time_dim);
		if (cv >= 0 && !is_numeric_type(in->v[cv].type))
			cv = -1;
	}
	f->ntimes = n;
	f->valid_times = calloc(n, sizeof(int64_t));
	f->lead_hours = calloc(n, sizeof(double));
	refs = calloc(n, sizeof(int64_t));
	lead = calloc(n, sizeof(int64_t));
	if (!f->valid_times || !f->lead_hours || !refs || !lead) {
		ret = wc_error_set(err, WC_ENOMEM, "out of memory");
		goto cleanup;
	}
	if (in->time_dim < 0) {
		/* one time: a scalar time variable */
		for (int i = 0; i < in->nvars && cv < 0; i++) {
			char sn[64];

			att_text(ncid, i, "standard_name", sn, sizeof(sn));
			if (in->v[i].ndims == 0 && is_numeric_type(in->v[i].type) &&
			    !is_reftime_var(in, i) && var_units_time(ncid, i, &t) &&
			    t.has_epoch && (streq_ci(sn, "time") ||
					    streq_ci(in->v[i].name, "time") ||
					    streq_ci(in->v[i].name, "valid_time")))
				cv = i;
		}
	}
	have_ref = find_reference(in, cv, refs, n, err, &ret);
	if (ret)
		goto cleanup;
	if (cv >= 0 && var_units_time(ncid, cv, &t) && t.has_epoch) {
		if ((ret = read_all(in, cv, n, &vals, err)) ||
		    (ret = convert_times(in, cv, vals, n, f->valid_times, err)))
			goto cleanup;
	} else if (in->time_dim >= 0 && (aux = find_aux_time(in)) >= 0) {
		if ((ret = read_all(in, aux, n, &vals, err)) ||
		    (ret = convert_times(in, aux, vals, n, f->valid_times, err)))
			goto cleanup;
	} else if (cv >= 0 && var_units_time(ncid, cv, &t) && !t.has_epoch) {
		/* lead-time axis without valid times: valid = reference + lead (#6) */
		if (!have_ref) {
			ret = wc_error_set(err, WC_EFORMAT,
					   "cannot decode time in '%s': '%s' is a lead time "
					   "but the file has no forecast reference time",
					   f->label, in->v[cv].name);
			goto cleanup;
		}
		if ((ret = read_all(in, cv, n, &vals, err)) ||
		    (ret = convert_times(in, cv, vals, n, lead, err)))
			goto cleanup;
		for (size_t i = 0; i < n; i++)
			f->valid_times[i] = refs[i] + lead[i];
	} else {
		/* WRF: char Times(Time, DateStrLen) (#10) */
		int tv;
		size_t slen = 0;
		char *buf;

		if (in->time_dim < 0 || nc_inq_varid(ncid, "Times", &tv) != NC_NOERR ||
		    in->v[tv].type != NC_CHAR || in->v[tv].ndims != 2 ||
		    in->v[tv].dimids[0] != in->time_dim) {
			if (in->time_dim < 0 && have_ref) {
				for (size_t i = 0; i < n; i++)
					f->valid_times[i] = refs[i];
				goto leads;
			}
			ret = wc_error_set(err, WC_EFORMAT,
					   "cannot find the valid times in '%s': looked for a "
					   "time coordinate with CF units '<unit> since <date>', "
					   "a valid_time variable and WRF Times", f->label);
			goto cleanup;
		}
		nc_inq_dimlen(ncid, in->v[tv].dimids[1], &slen);
		if (slen == 0 || slen > 64) {
			ret = wc_error_set(err, WC_EFORMAT, "bad WRF 'Times' in '%s'", f->label);
			goto cleanup;
		}
		buf = malloc(n * slen);
		if (!buf) {
			ret = wc_error_set(err, WC_ENOMEM, "out of memory");
			goto cleanup;
		}
		int rc = nc_get_var_text(ncid, tv, buf);

		for (size_t i = 0; rc == NC_NOERR && i < n; i++) {
			if (!cftime_parse_wrf(buf + i * slen, slen, &f->valid_times[i])) {
				ret = wc_error_set(err, WC_EFORMAT,
						   "bad WRF time '%.*s' in '%s'", (int)slen,
						   buf + i * slen, f->label);
				break;
			}
		}
		free(buf);
		if (rc != NC_NOERR)
			ret = nc_fail(err, rc, "read 'Times' in", f->label);
		if (ret)
			goto cleanup;
	}
leads:
	f->is_forecast = have_ref;
	f->reference_time = have_ref ? refs[0] : 0;
	for (size_t i = 0; i < n; i++) {
		if (have_ref && refs[i] < f->reference_time)
			f->reference_time = refs[i];
		f->lead_hours[i] = have_ref ? (double)(f->valid_times[i] - refs[i]) / 3600.0
					    : NAN;
	}
cleanup:
	free(vals);
	free(lead);
	free(refs);
	return ret;
}

/* ---- variables ----------------------------------------------------------------- */

static void unit_conversion(enum nwp_quantity q, const char *u, double *scale,
			    double *offset)
{
	*scale = 1;
	*offset = 0;
	if (q == NWP_T2M) {
		if (streq_ci(u, "C") || streq_ci(u, "degC") || streq_ci(u, "deg_C") ||
		    streq_ci(u, "celsius") || streq_ci(u, "degrees_C") ||
		    streq_ci(u, "degree_C") || streq_ci(u, "degree_Celsius"))
			*offset = 273.15;
		else if (streq_ci(u, "F") || streq_ci(u, "degF") || streq_ci(u, "degrees_F")) {
			*scale = 5.0 / 9.0;
			*offset = 273.15 - 32 * 5.0 / 9.0;
		}
	} else if (q == NWP_SP) {
		if (streq_ci(u, "hPa") || streq_ci(u, "mb") || streq_ci(u, "mbar") ||
		    streq_ci(u, "millibar") || streq_ci(u, "millibars"))
			*scale = 100;
		else if (streq_ci(u, "kPa"))
			*scale = 1000;
	} else {
		if (streq_ci(u, "knots") || streq_ci(u, "knot") || streq_ci(u, "kt") ||
		    streq_ci(u, "kts"))
			*scale = 1852.0 / 3600.0;
		else if (streq_ci(u, "km/h") || streq_ci(u, "km h-1") || streq_ci(u, "kph") ||
			 streq_ci(u, "km h**-1"))
			*scale = 1 / 3.6;
	}
}

/* Default fill of a type (netCDF), or NaN for types without masking (byte). */
static double default_fill(nc_type t)
{
	switch (t) {
	case NC_SHORT: return NC_FILL_SHORT;
	case NC_USHORT: return NC_FILL_USHORT;
	case NC_INT: return NC_FILL_INT;
	case NC_UINT: return NC_FILL_UINT;
	case NC_FLOAT: return NC_FILL_FLOAT;
	case NC_DOUBLE: return NC_FILL_DOUBLE;
	default: return NAN;
	}
}

/* Packing and masking attributes of a selected variable (R2, R3). */
static enum wc_status setup_decoding(const struct inspect *in, struct nwp_var *v,
				     struct wc_error *err)
{
	int ncid = in->f->ncid, vid = v->varid;
	double range[2], tmp[NWP_MAX_MISSING];
	char units[64], uns[16];
	nc_type at;
	size_t alen;

	v->scale = 1;
	v->offset = 0;
	v->valid_min = -INFINITY;
	v->valid_max = INFINITY;
	if (nc_inq_att(ncid, vid, "scale_factor", &at, &alen) == NC_NOERR &&
	    (!is_numeric_type(at) || !att_double(ncid, vid, "scale_factor", &v->scale) ||
	     !isfinite(v->scale) || v->scale == 0))
		return wc_error_set(err, WC_EFORMAT,
				    "invalid scale_factor on '%s' in '%s'", v->name,
				    in->f->label);
	if (nc_inq_att(ncid, vid, "add_offset", &at, &alen) == NC_NOERR &&
	    (!is_numeric_type(at) || !att_double(ncid, vid, "add_offset", &v->offset) ||
	     !isfinite(v->offset)))
		return wc_error_set(err, WC_EFORMAT,
				    "invalid add_offset on '%s' in '%s'", v->name,
				    in->f->label);
	/* _FillValue read with its own type, compared on raw values; a NaN fill on an
	 * integer variable masks nothing (R3). */
	if (att_double(ncid, vid, "_FillValue", &v->fill)) {
		v->has_fill = true;
	} else {
		v->fill = default_fill((nc_type)v->type);
		v->has_fill = !isnan(v->fill);
	}
	v->nmissing = att_doubles(ncid, vid, "missing_value", tmp, NWP_MAX_MISSING);
	memcpy(v->missing, tmp, v->nmissing * sizeof(double));
	if (att_doubles(ncid, vid, "valid_range", range, 2) == 2) {
		v->valid_min = range[0];
		v->valid_max = range[1];
	} else {
		att_double(ncid, vid, "valid_min", &v->valid_min);
		att_double(ncid, vid, "valid_max", &v->valid_max);
		if (isinf(v->valid_min) && isinf(v->valid_max) && v->has_fill &&
		    !isnan(v->fill) && v->type != NC_FLOAT && v->type != NC_DOUBLE &&
		    att_double(ncid, vid, "_FillValue", tmp)) {
			/* NUG: an explicit integer fill also bounds the valid range */
			if (v->fill > 0)
				v->valid_max = v->fill - 1;
			else
				v->valid_min = v->fill + 1;
		}
	}
	/* netCDF-3 convention for unsigned bytes/shorts */
	if (att_text(ncid, vid, "_Unsigned", uns, sizeof(uns)) && streq_ci(uns, "true") &&
	    (v->type == NC_BYTE || v->type == NC_SHORT || v->type == NC_INT))
		v->as_unsigned = true;
	att_text(ncid, vid, "units", units, sizeof(units));
	unit_conversion(v->quantity, units, &v->unit_scale, &v->unit_offset);
	return WC_OK;
}

/*
 * Roles of the dimensions of a candidate relative to the file's time/y/x dimensions.
 * Returns WC_OK, or WC_EUNSUPPORTED for a real extra dimension; *usable false when the
 * variable lives on another grid (it is then silently left out).
 */
static enum wc_status setup_roles(const struct inspect *in, const struct cand *c,
				  struct nwp_var *v, size_t level, bool *usable,
				  struct wc_error *err)
{
	const struct vinfo *vi = &in->v[c->varid];
	bool has_y = in->y_dim < 0, has_x = in->x_dim < 0, has_expver = false;

	*usable = false;
	v->varid = c->varid;
	v->type = vi->type;
	v->ndims = vi->ndims;
	for (int d = 0; d < vi->ndims; d++) {
		char dname[NC_MAX_NAME + 1];
		size_t len = 0;

		nc_inq_dimname(in->f->ncid, vi->dimids[d], dname);
		nc_inq_dimlen(in->f->ncid, vi->dimids[d], &len);
		v->dimlen[d] = len;
		v->fixed[d] = 0;
		if (vi->dimids[d] == in->time_dim) {
			v->role[d] = NWP_DIM_TIME;
		} else if (vi->dimids[d] == in->y_dim) {
			v->role[d] = NWP_DIM_Y;
			has_y = true;
		} else if (vi->dimids[d] == in->x_dim) {
			v->role[d] = NWP_DIM_X;
			has_x = true;
		} else if (d == c->height_dim) {
			v->role[d] = NWP_DIM_FIXED;
			v->fixed[d] = level;
		} else if (streq_ci(dname, "expver") && !has_expver && len <= 16) {
			v->role[d] = NWP_DIM_EXPVER;	/* ERA5/ERA5T (#2, R6) */
			has_expver = true;
		} else if (len == 1) {
			v->role[d] = NWP_DIM_FIXED;	/* singleton level or member */
		} else if (len == 0) {
			return wc_error_set(err, WC_EFORMAT,
					    "cannot read '%s' in '%s': dimension '%s' is empty",
					    vi->name, in->f->label, dname);
		} else {
			return wc_error_set(err, WC_EUNSUPPORTED,
					    "cannot read '%s' in '%s': unsupported extra "
					    "dimension '%s' of size %zu (windcast reads one "
					    "level, member and experiment per variable; "
					    "select one, e.g. with 'cdo sellevidx' or "
					    "'ncks -d %s,0')", vi->name, in->f->label, dname,
					    len, dname);
		}
	}
	*usable = has_y && has_x;
	return WC_OK;
}

static bool wind_height_ok(double h)
{
	return h >= 1 && h <= 300;
}

/* Describe what was found for the rejection message. */
static void describe_cand(const struct inspect *in, const struct cand *c, char *buf,
			  size_t len)
{
	const char *q = nwp_quantity_name(c->q);

	if (c->pressure_level)
		snprintf(buf, len, "%.40s (%s at '%.40s')", in->v[c->varid].name, q, c->level_text);
	else if (isnan(c->height) && c->height_dim < 0)
		snprintf(buf, len, "%.40s (%s, height unknown)", in->v[c->varid].name, q);
	else
		snprintf(buf, len, "%.40s (%s at %g m)", in->v[c->varid].name, q, c->height);
}

/* ---- inspection ---------------------------------------------------------------- */

/* Append part (with "; " before it when source is not empty) if it fits whole. */
static void source_add(char *source, const char *pre, const char *part)
{
	size_t used = strlen(source), need;

	if (!part || !*part)
		return;
	need = (used ? 2 : 0) + strlen(pre) + strlen(part);
	if (need >= NWP_SOURCE_MAX - used)
		return;		/* left out whole; the attributes keep it */
	snprintf(source + used, NWP_SOURCE_MAX - used, "%s%s%s", used ? "; " : "", pre, part);
}

/* Replies carry the source as JSON: bytes of invalid UTF-8 become '?'. */
static void source_utf8(char *source)
{
	json_t *j = json_string(source);

	if (j) {
		json_decref(j);
		return;
	}
	for (char *p = source; *p; p++)
		if ((unsigned char)*p >= 0x80)
			*p = '?';
}

/*
 * f->source: the producing software (recognised from history or title), institution,
 * source and Conventions, each whole; a part that would not fit is left out, never cut.
 */
static void describe_source(struct nwp_file *f)
{
	char hist[TEXT_MAX], title[128];
	char *inst, *src, *conv;
	const char *kind = NULL;
	int ncid = f->ncid;

	if (!att_text(ncid, NC_GLOBAL, "history", hist, sizeof(hist)))
		att_text(ncid, NC_GLOBAL, "History", hist, sizeof(hist));
	inst = att_text_alloc(ncid, NC_GLOBAL, "institution");
	if (!inst || !inst[0]) {
		free(inst);
		inst = att_text_alloc(ncid, NC_GLOBAL, "Originating_or_generating_Center");
	}
	src = att_text_alloc(ncid, NC_GLOBAL, "source");
	conv = att_text_alloc(ncid, NC_GLOBAL, "Conventions");
	if (!att_text(ncid, NC_GLOBAL, "title", title, sizeof(title)))
		att_text(ncid, NC_GLOBAL, "TITLE", title, sizeof(title));
	if (strstr(hist, "grib_to_netcdf"))
		kind = "ECMWF grib_to_netcdf (ERA5, CDS legacy)";
	else if (strstr(hist, "cfgrib"))
		kind = "cfgrib/xarray (new CDS or GRIB conversion)";
	else if (strstr(hist, "wgrib2"))
		kind = "wgrib2 -netcdf";
	else if (strstr(title, "WRF"))
		kind = "WRF output";
	else if (strstr(hist, "CDM") || strstr(hist, "Netcdf-Java"))
		kind = "netCDF-Java (THREDDS)";
	else if (strstr(hist, "fimex"))
		kind = "MET Norway fimex";
	else if (strstr(hist, "cdo "))
		kind = "cdo";
	f->source[0] = '\0';
	source_add(f->source, "", kind);
	source_add(f->source, "", inst);
	source_add(f->source, "", src);
	source_add(f->source, "Conventions=", conv);
	for (char *p = f->source; *p; p++)
		if (*p == '\n' || *p == '\r' || *p == '\t')
			*p = ' ';
	source_utf8(f->source);
	free(inst);
	free(src);
	free(conv);
}

/* A JSON string of n bytes of attribute text, invalid UTF-8 bytes replaced by '?'. */
static json_t *json_text(const char *text, size_t n)
{
	json_t *j = json_stringn(text, n);
	char *copy;

	if (j || !(copy = malloc(n + 1)))
		return j;
	for (size_t i = 0; i < n; i++)
		copy[i] = (unsigned char)text[i] < 0x80 ? text[i] : '?';
	j = json_stringn(copy, n);
	free(copy);
	return j;
}

/* One attribute's value as JSON: text as a string, numbers as a number or an array;
 * NULL for other types or when too large. */
static json_t *att_json(int ncid, int varid, const char *name, nc_type t, size_t n)
{
	json_t *j = NULL;

	if (t == NC_CHAR || t == NC_STRING) {
		char *text = att_text_alloc(ncid, varid, name);

		if (text)
			j = json_text(text, strlen(text));
		free(text);
		return j;
	}
	if (is_numeric_type(t) && n >= 1 && n <= 4096) {
		double *v = malloc(n * sizeof(*v));

		if (v && nc_get_att_double(ncid, varid, name, v) == NC_NOERR) {
			if (n == 1) {
				j = isfinite(v[0]) ? json_real(v[0]) : json_null();
			} else {
				j = json_array();
				for (size_t i = 0; j && i < n; i++)
					json_array_append_new(j, isfinite(v[i]) ? json_real(v[i])
										: json_null());
			}
		}
		free(v);
	}
	return j;
}

/*
 * f->attributes: every global attribute, whole, as one JSON object in file order. A value
 * over 1 MiB, or past NWP_ATTRIBUTES_MAX bytes in all, is left out (never cut).
 */
static enum wc_status collect_attributes(struct nwp_file *f, struct wc_error *err)
{
	json_t *o = json_object();
	int natts = 0;
	size_t total = 2;

	if (!o)
		return wc_error_set(err, WC_ENOMEM, "out of memory");
	nc_inq_natts(f->ncid, &natts);
	for (int i = 0; i < natts && i < 4096; i++) {
		char name[NC_MAX_NAME + 1];
		nc_type t;
		size_t n;
		json_t *v;
		char *text;

		if (nc_inq_attname(f->ncid, NC_GLOBAL, i, name) != NC_NOERR ||
		    nc_inq_att(f->ncid, NC_GLOBAL, name, &t, &n) != NC_NOERR ||
		    !(v = att_json(f->ncid, NC_GLOBAL, name, t, n)))
			continue;
		text = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
		if (text && total + strlen(name) + strlen(text) + 6 <= NWP_ATTRIBUTES_MAX &&
		    json_object_set_new(o, name, v) == 0)
			total += strlen(name) + strlen(text) + 6, v = NULL;
		json_decref(v);
		free(text);
	}
	f->attributes = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	if (!f->attributes)
		return wc_error_set(err, WC_ENOMEM, "out of memory");
	return WC_OK;
}

static void format_name(struct nwp_file *f)
{
	int fmt = 0;

	nc_inq_format(f->ncid, &fmt);
	snprintf(f->format, sizeof(f->format), "%s",
		 fmt == NC_FORMAT_CLASSIC ? "classic" :
		 fmt == NC_FORMAT_64BIT_OFFSET ? "64-bit offset" :
		 fmt == NC_FORMAT_CDF5 ? "CDF5" :
		 fmt == NC_FORMAT_NETCDF4 ? "netCDF-4" :
		 fmt == NC_FORMAT_NETCDF4_CLASSIC ? "netCDF-4 classic" : "unknown");
}

static enum wc_status reject_no_wind(const struct inspect *in, const struct cand *cands,
				     size_t ncand, struct wc_error *err)
{
	char found[300] = "", one[128];
	size_t used = 0, shown = 0;

	for (size_t i = 0; i < ncand && shown < 4; i++) {
		if (cands[i].q == NWP_T2M || cands[i].q == NWP_SP)
			continue;
		describe_cand(in, &cands[i], one, sizeof(one));
		used += (size_t)snprintf(found + used, sizeof(found) - used, "%s%s",
					 shown ? ", " : "", one);
		if (used >= sizeof(found))
			break;
		shown++;
	}
	return wc_error_set(err, WC_EFORMAT,
			    "no usable near-surface wind in '%s': found %s; looked for u/v "
			    "components or wind speed between 1 and 300 m above ground "
			    "(standard_name eastward_wind, northward_wind, x_wind, y_wind, "
			    "wind_speed, or names such as u10 v10 u100 v100 10u "
			    "UGRD_10maboveground U10 x_wind_10m U50M si10 ws10)",
			    in->f->label, shown ? found : "no wind variable at all");
}

static bool is_wind(enum nwp_quantity q)
{
	return q == NWP_U || q == NWP_V || q == NWP_SPEED;
}

static int cand_cmp(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;

	if (x->prio != y->prio)
		return y->prio - x->prio;
	return x->varid - y->varid;
}

/* Add candidate c (all its levels) to f->vars. */
static enum wc_status add_cand(struct inspect *in, const struct cand *c,
			       struct wc_error *err)
{
	struct nwp_file *f = in->f;
	const struct vinfo *vi = &in->v[c->varid];
	double heights[64];
	size_t nlev = 1;
	enum wc_status ret;

	heights[0] = c->height;
	if (c->height_dim >= 0) {
		int cv = coord_var(in, vi->dimids[c->height_dim]);
		double to_m = 1, *vals = NULL;

		nc_inq_dimlen(f->ncid, vi->dimids[c->height_dim], &nlev);
		if (cv < 0 || nlev > 64 || vertical_kind(f->ncid, cv, &to_m) != VK_HEIGHT ||
		    read_all(in, cv, nlev, &vals, NULL) != WC_OK) {
			free(vals);
			return WC_OK;
		}
		for (size_t k = 0; k < nlev; k++)
			heights[k] = vals[k] * to_m;
		free(vals);
	}
	for (size_t k = 0; k < nlev; k++) {
		struct nwp_var v;
		double h = heights[k];
		bool usable;

		if (c->pressure_level)
			return WC_OK;
		if (c->q == NWP_T2M) {
			if (isnan(h) || h < 1.5 || h > 10)
				continue;
		} else if (c->q == NWP_SP) {
			h = 0;
		} else if (!wind_height_ok(h)) {
			continue;
		}
		if (nwp_file_find(f, c->q, h) >= 0 || f->nvars >= NWP_MAX_VARS)
			continue;
		memset(&v, 0, sizeof(v));
		snprintf(v.name, sizeof(v.name), "%s", vi->name);
		v.quantity = c->q;
		v.height_m = h;
		v.grid_relative = c->grid_relative;
		ret = setup_roles(in, c, &v, k, &usable, err);
		if (ret == WC_OK && usable)
			ret = setup_decoding(in, &v, err);
		if (ret) {
			if (is_wind(c->q))
				return ret;
			log_warn("ignoring '%s' in '%s': %s", vi->name, f->label,
				 wc_error_msg(err));
			wc_error_clear(err);
			continue;
		}
		if (!usable)
			continue;
		f->vars[f->nvars++] = v;
	}
	return WC_OK;
}

/* Drop u without v at the same height and the reverse. */
static void drop_unpaired(struct nwp_file *f)
{
	size_t o = 0;

	for (size_t i = 0; i < f->nvars; i++) {
		const struct nwp_var *v = &f->vars[i];

		if ((v->quantity == NWP_U &&
		     nwp_file_find(f, NWP_V, v->height_m) < 0) ||
		    (v->quantity == NWP_V &&
		     nwp_file_find(f, NWP_U, v->height_m) < 0)) {
			log_warn("ignoring '%s' in '%s': no matching component", v->name,
				 f->label);
			continue;
		}
		f->vars[o++] = *v;
	}
	f->nvars = o;
}

static enum wc_status setup_rotation(struct inspect *in, struct wc_error *err)
{
	struct nwp_file *f = in->f;
	bool any_rel = false;
	char center[256];

	att_text(f->ncid, NC_GLOBAL, "Originating_or_generating_Center", center,
		 sizeof(center));
	for (size_t i = 0; i < f->nvars; i++) {
		struct nwp_var *v = &f->vars[i];
		nc_type at;
		size_t al;

		if (v->quantity != NWP_U && v->quantity != NWP_V)
			continue;
		/* NAM via netCDF-Java is grid-relative without saying so (#7) */
		if (f->geometry == NWP_GRID_PROJECTED && f->proj.kind == PROJECTION_LCC &&
		    strstr(center, "NCEP") &&
		    nc_inq_att(f->ncid, v->varid, "GRIB_uvRelativeToGrid", &at, &al) != NC_NOERR)
			v->grid_relative = true;
		/* WRF winds follow the model grid (#10): Lambert needs a rotation */
		if (in->wrf_map_proj == 1 || in->wrf_map_proj == 2)
			v->grid_relative = true;
		/* rotated-pole models (COSMO) write components along the rotated grid
		 * unless the standard_name says eastward/northward */
		if (f->geometry == NWP_GRID_PROJECTED && f->proj.kind == PROJECTION_ROTATED) {
			char sn[64];

			att_text(f->ncid, v->varid, "standard_name", sn, sizeof(sn));
			if (!streq_ci(sn, "eastward_wind") && !streq_ci(sn, "northward_wind"))
				v->grid_relative = true;
		}
		if (f->geometry == NWP_GRID_REGULAR)
			v->grid_relative = false;
		any_rel = any_rel || v->grid_relative;
	}
	if (!any_rel || f->proj.kind == PROJECTION_LCC || f->proj.kind == PROJECTION_ROTATED)
		return WC_OK;
	if (in->wrf_map_proj == 1) {
		double t1 = NAN, t2 = NAN, sl = NAN;

		att_double(f->ncid, NC_GLOBAL, "TRUELAT1", &t1);
		att_double(f->ncid, NC_GLOBAL, "TRUELAT2", &t2);
		att_double(f->ncid, NC_GLOBAL, "STAND_LON", &sl);
		return projection_init_lcc(&f->proj, t1, t2, t1, sl, 6370000, 0, 0, err);
	}
	if (f->proj.kind == PROJECTION_MERCATOR) {
		for (size_t i = 0; i < f->nvars; i++)
			f->vars[i].grid_relative = false;	/* grid axes are east/north */
		return WC_OK;
	}
	return wc_error_set(err, WC_EUNSUPPORTED,
			    "cannot rotate grid-relative winds in '%s' to earth-relative: "
			    "the grid projection is not known (windcast supports Lambert "
			    "conformal and Mercator)", f->label);
}

/*
 * netCDF-3 files are laid out by the header; a truncated one opens fine and fails later
 * (from memory) or reads zeros (from a path). classic_header_ok() compares the sizes;
 * as a second line, read the last value of every variable so that a file missing its
 * tail is refused at open, before anything is stored. HDF5-based files are checked by
 * the library on open.
 */
static enum wc_status check_complete(const struct inspect *in, struct wc_error *err)
{
	struct nwp_file *f = in->f;

	if (strcmp(f->format, "classic") != 0 && strcmp(f->format, "64-bit offset") != 0 &&
	    strcmp(f->format, "CDF5") != 0)
		return WC_OK;
	for (int i = 0; i < in->nvars; i++) {
		const struct vinfo *vi = &in->v[i];
		size_t idx[NWP_MAX_DIMS];
		double d;
		char c;
		int rc;

		if (vi->too_many_dims)
			continue;
		for (int k = 0; k < vi->ndims; k++) {
			size_t len = 0;

			nc_inq_dimlen(f->ncid, vi->dimids[k], &len);
			if (len == 0)
				goto next;
			idx[k] = len - 1;
		}
		rc = vi->type == NC_CHAR ? nc_get_var1_text(f->ncid, i, idx, &c) :
		     nc_get_var1_double(f->ncid, i, idx, &d);
		if (rc != NC_NOERR && rc != NC_ERANGE)
			return wc_error_set(err, WC_EFORMAT,
					    "cannot read '%s': the file is truncated or damaged "
					    "(variable '%s': %s)", f->label, vi->name,
					    nc_strerror(rc));
next:;
	}
	return WC_OK;
}

static enum wc_status inspect_file(struct nwp_file *f, struct wc_error *err)
{
	struct inspect in = { .f = f, .time_dim = -1, .y_dim = -1, .x_dim = -1 };
	struct cand *cands = NULL;
	size_t ncand = 0;
	int nvars = 0, rc, primary = -1;
	double mp;
	enum wc_status ret = WC_OK;

	rc = nc_inq_nvars(f->ncid, &nvars);
	if (rc != NC_NOERR) {
		ret = nc_fail(err, rc, "read", f->label);
		goto cleanup;
	}
	if (nvars < 0 || nvars > MAX_FILE_VARS) {
		ret = wc_error_set(err, WC_ETOOLARGE, "cannot read '%s': %d variables",
				   f->label, nvars);
		goto cleanup;
	}
	in.nvars = nvars;
	in.v = calloc((size_t)nvars + 1, sizeof(*in.v));
	cands = calloc((size_t)nvars + 1, sizeof(*cands));
	if (!in.v || !cands) {
		ret = wc_error_set(err, WC_ENOMEM, "out of memory");
		goto cleanup;
	}
	for (int i = 0; i < nvars; i++) {
		struct vinfo *vi = &in.v[i];

		rc = nc_inq_var(f->ncid, i, vi->name, &vi->type, &vi->ndims, NULL, NULL);
		if (rc != NC_NOERR) {
			ret = nc_fail(err, rc, "read", f->label);
			goto cleanup;
		}
		if (vi->ndims > NWP_MAX_DIMS || vi->ndims < 0) {
			vi->too_many_dims = true;
			vi->ndims = 0;
		} else if ((rc = nc_inq_vardimid(f->ncid, i, vi->dimids)) != NC_NOERR) {
			ret = nc_fail(err, rc, "read", f->label);
			goto cleanup;
		}
	}
	format_name(f);
	describe_source(f);
	if ((ret = collect_attributes(f, err)))
		goto cleanup;
	/* WRF's projection code is a small integer (1..6); anything else is no code */
	if (att_double(f->ncid, NC_GLOBAL, "MAP_PROJ", &mp) && mp >= 0 && mp <= 99 &&
	    mp == (int)mp)
		in.wrf_map_proj = (int)mp;
	for (int i = 0; i < nvars; i++)
		if (classify(&in, i, &cands[ncand]))
			ncand++;
	qsort(cands, ncand, sizeof(*cands), cand_cmp);
	for (size_t i = 0; i < ncand && primary < 0; i++)
		if (is_wind(cands[i].q) && !cands[i].pressure_level &&
		    (wind_height_ok(cands[i].height) || cands[i].height_dim >= 0))
			primary = (int)i;
	if (primary < 0) {
		ret = reject_no_wind(&in, cands, ncand, err);
		goto cleanup;
	}
	in.time_dim = find_time_dim(&in, &in.v[cands[primary].varid]);
	if ((ret = setup_grid(&in, &in.v[cands[primary].varid], err)) ||
	    (ret = setup_times(&in, err)))
		goto cleanup;
	if ((ret = add_cand(&in, &cands[primary], err)))
		goto cleanup;
	for (size_t i = 0; i < ncand; i++)
		if ((int)i != primary && (ret = add_cand(&in, &cands[i], err)))
			goto cleanup;
	drop_unpaired(f);
	bool wind = false;

	for (size_t i = 0; i < f->nvars; i++)
		wind = wind || is_wind(f->vars[i].quantity);
	if (!wind) {
		ret = reject_no_wind(&in, cands, ncand, err);
		goto cleanup;
	}
	if ((ret = setup_rotation(&in, err)))
		goto cleanup;
	ret = check_complete(&in, err);
cleanup:
	free(cands);
	free(in.v);
	return ret;
}

/* ---- public -------------------------------------------------------------------- */

static enum wc_status open_finish(struct nwp_file **out, struct nwp_file *f,
				  struct wc_error *err)
{
	enum wc_status ret = inspect_file(f, err);

	if (ret) {
		nwp_file_free(f);
		return ret;
	}
	*out = f;
	return WC_OK;
}

static struct nwp_file *file_new(const char *label)
{
	struct nwp_file *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	f->ncid = -1;
	f->label = strdup(label ? label : "(memory)");
	if (!f->label) {
		free(f);
		return NULL;
	}
	return f;
}

/*
 * Walk a netCDF-3 header (classic, 64-bit offset, CDF5) and check that every count and
 * length it declares fits in the bytes that follow, before netcdf-c allocates by them
 * (a 100-byte header may otherwise ask for gigabytes). Returns false with *why set.
 */
struct hdr {
	const unsigned char *p, *end;
	int width;		/* 4, or 8 for CDF5 counts */
};

static bool hdr_u(struct hdr *h, int width, uint64_t *v)
{
	*v = 0;
	if (h->end - h->p < width)
		return false;
	for (int i = 0; i < width; i++)
		*v = *v << 8 | *h->p++;
	return true;
}

static bool hdr_skip(struct hdr *h, uint64_t n)
{
	uint64_t pad = (n + 3) & ~(uint64_t)3;

	if (n > (uint64_t)(h->end - h->p) || pad > (uint64_t)(h->end - h->p))
		return false;
	h->p += pad;
	return true;
}

static bool hdr_name(struct hdr *h)
{
	uint64_t n;

	return hdr_u(h, h->width, &n) && n <= NC_MAX_NAME && hdr_skip(h, n);
}

static int type_size(uint64_t t)
{
	switch (t) {
	case NC_BYTE: case NC_CHAR: case NC_UBYTE: return 1;
	case NC_SHORT: case NC_USHORT: return 2;
	case NC_INT: case NC_UINT: case NC_FLOAT: return 4;
	case NC_DOUBLE: case NC_INT64: case NC_UINT64: return 8;
	default: return 0;
	}
}

/* A list header: ABSENT (two zeros) or tag + count; every element needs >= 8 bytes. */
static bool hdr_list(struct hdr *h, uint64_t tag, uint64_t *count)
{
	uint64_t t;

	if (!hdr_u(h, 4, &t) || !hdr_u(h, h->width, count))
		return false;
	if (t == 0 && *count == 0)
		return true;
	return t == tag && *count <= (uint64_t)(h->end - h->p) / 8;
}

static bool hdr_atts(struct hdr *h)
{
	uint64_t n, type, len;

	if (!hdr_list(h, 0x0C, &n))
		return false;
	for (uint64_t i = 0; i < n; i++) {
		int sz;

		if (!hdr_name(h) || !hdr_u(h, 4, &type) || !(sz = type_size(type)) ||
		    !hdr_u(h, h->width, &len) || len > (uint64_t)(h->end - h->p) / (uint64_t)sz ||
		    !hdr_skip(h, len * (uint64_t)sz))
			return false;
	}
	return true;
}

/*
 * Check a netCDF-3 header held in hdr[len] of a file of `file_size` bytes: every count
 * and length fits, and the file is as long as its variables say (netcdf-c reading a
 * truncated file from a path silently returns zeros). Returns true for files that are
 * not netCDF-3 (left to the library); false with *why set otherwise.
 */
static bool classic_header_ok(const void *hdr, size_t len, uint64_t file_size,
			      const char **why)
{
	const unsigned char *b = hdr;
	struct hdr h = { b + 4, b + len, 4 };
	uint64_t v, n, ndims = 0, numrecs, recsize = 0, need = 0, last_rec = 0;
	bool record_dim[64] = { false }, big = false;
	int nrecvars = 0;

	*why = "damaged netCDF-3 header";
	if (len < 8 || memcmp(b, "CDF", 3) != 0)
		return true;
	if (b[3] == 5)
		h.width = 8;
	else if (b[3] != 1 && b[3] != 2)
		return false;
	if (!hdr_u(&h, h.width, &numrecs) || !hdr_list(&h, 0x0A, &ndims))
		return false;
	for (uint64_t i = 0; i < ndims; i++) {
		if (!hdr_name(&h) || !hdr_u(&h, h.width, &v))
			return false;
		if (i < 64)
			record_dim[i] = v == 0;
	}
	if (!hdr_atts(&h) || !hdr_list(&h, 0x0B, &n))
		return false;
	for (uint64_t i = 0; i < n; i++) {
		uint64_t nd, type, vsize, begin, first = UINT64_MAX;

		if (!hdr_name(&h) || !hdr_u(&h, h.width, &nd) || nd > ndims ||
		    nd > (uint64_t)(h.end - h.p) / 4)
			return false;
		for (uint64_t k = 0; k < nd; k++) {
			if (!hdr_u(&h, h.width, &v) || v >= ndims)
				return false;
			if (k == 0)
				first = v;
		}
		if (!hdr_atts(&h) || !hdr_u(&h, 4, &type) || !type_size(type) ||
		    !hdr_u(&h, h.width, &vsize) || !hdr_u(&h, b[3] == 1 ? 4 : 8, &begin))
			return false;
		if (b[3] != 5 && vsize == 0xFFFFFFFFu) {
			big = true;	/* over 4 GiB: size unknown from the header */
			continue;
		}
		if (first < 64 && record_dim[first]) {
			recsize += vsize;
			nrecvars++;
			if (begin + vsize > last_rec)
				last_rec = begin + vsize;
		} else if (begin + vsize > need) {
			need = begin + vsize;
		}
	}
	/* one record variable: records are not padded (up to 3 bytes less) */
	if (nrecvars > 0 && numrecs > 0 && numrecs != 0xFFFFFFFFu && !big) {
		uint64_t end = last_rec + (numrecs - 1) * recsize;

		if (end > need)
			need = end;
	}
	if (!big && need > file_size + (nrecvars == 1 ? 3 : 0)) {
		*why = "file truncated (shorter than its header says)";
		return false;
	}
	return true;
}

/* Check the header of a netCDF-3 file on disk (first 8 MiB at most). */
static bool classic_file_ok(const char *path, const char **why)
{
	struct stat st;
	unsigned char *buf;
	size_t len;
	ssize_t got;
	bool ok;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	*why = NULL;
	if (fd < 0)
		return true;	/* nc_open says why */
	if (fstat(fd, &st) != 0 || st.st_size < 4) {
		close(fd);
		return true;
	}
	len = st.st_size < (8 << 20) ? (size_t)st.st_size : (8 << 20);
	buf = malloc(len);
	if (!buf) {
		close(fd);
		return true;
	}
	got = pread(fd, buf, len, 0);
	close(fd);
	ok = got != (ssize_t)len || classic_header_ok(buf, len, (uint64_t)st.st_size, why);
	free(buf);
	return ok;
}

enum wc_status nwp_file_open(struct nwp_file **out, const char *path, struct wc_error *err)
{
	struct nwp_file *f;
	const char *base, *why;
	int rc;

	*out = NULL;
	base = strrchr(path, '/');
	base = base ? base + 1 : path;
	if (!classic_file_ok(path, &why))
		return wc_error_set(err, WC_EFORMAT, "cannot open '%s': %s", base, why);
	f = file_new(base);
	if (!f)
		return wc_error_set(err, WC_ENOMEM, "out of memory");
	rc = nc_open(path, NC_NOWRITE, &f->ncid);
	if (rc != NC_NOERR) {
		f->ncid = -1;
		nwp_file_free(f);
		return wc_error_set(err, WC_ENETCDF, "cannot open '%s': %s", base,
				    rc == NC_ENOTNC ? "not a netCDF file (or truncated)" :
				    nc_msg(rc));
	}
	return open_finish(out, f, err);
}

enum wc_status nwp_file_open_mem(struct nwp_file **out, const char *label,
				 const void *data, size_t size, struct wc_error *err)
{
	struct nwp_file *f;
	int rc;

	*out = NULL;
	if (!label)
		label = "(memory)";
	if (size == 0 || !data)
		return wc_error_set(err, WC_EFORMAT, "cannot open '%s': empty file", label);
	if (size < 8 || (memcmp(data, "CDF", 3) != 0 && memcmp(data, "\x89HDF", 4) != 0))
		return wc_error_set(err, WC_ENETCDF, "cannot open '%s': not a netCDF file",
				    label);
	const char *why;

	if (!classic_header_ok(data, size, size, &why))
		return wc_error_set(err, WC_EFORMAT, "cannot open '%s': %s", label, why);
	f = file_new(label);
	if (!f)
		return wc_error_set(err, WC_ENOMEM, "out of memory");
	/* netcdf-c takes a non-const pointer but does not write with NC_NOWRITE */
	rc = nc_open_mem(label, NC_NOWRITE, size, (void *)(uintptr_t)data, &f->ncid);
	if (rc != NC_NOERR) {
		f->ncid = -1;
		nwp_file_free(f);
		return wc_error_set(err, WC_ENETCDF, "cannot open '%s': %s", label,
				    rc == NC_ENOTNC ? "not a netCDF file (or truncated)" :
				    nc_msg(rc));
	}
	return open_finish(out, f, err);
}

void nwp_file_free(struct nwp_file *f)
{
	if (!f)
		return;
	if (f->ncid >= 0)
		nc_close(f->ncid);
	if (f->station_ids) {
		for (size_t i = 0; i < f->nx; i++)
			free(f->station_ids[i]);
		free(f->station_ids);
	}
	free(f->valid_times);
	free(f->lead_hours);
	free(f->lat1d);
	free(f->lon1d);
	free(f->y1d);
	free(f->x1d);
	free(f->lat2d);
	free(f->lon2d);
	free(f->label);
	free(f->attributes);
	free(f);
}

int nwp_file_find(const struct nwp_file *f, enum nwp_quantity q, double height_m)
{
	for (size_t i = 0; i < f->nvars; i++) {
		const struct nwp_var *v = &f->vars[i];

		if (v->quantity != q)
			continue;
		if (q == NWP_T2M || q == NWP_SP || fabs(v->height_m - height_m) < 0.5)
			return (int)i;
	}
	return -1;
}

static int dbl_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

size_t nwp_file_heights(const struct nwp_file *f, double *heights, size_t max)
{
	double all[NWP_MAX_VARS];
	size_t n = 0, out = 0;

	for (size_t i = 0; i < f->nvars; i++) {
		const struct nwp_var *v = &f->vars[i];
		bool seen = false;

		if (!is_wind(v->quantity))
			continue;
		for (size_t k = 0; k < n; k++)
			seen = seen || fabs(all[k] - v->height_m) < 0.5;
		if (!seen)
			all[n++] = v->height_m;
	}
	qsort(all, n, sizeof(double), dbl_cmp);
	for (size_t k = 0; k < n; k++)
		if (out < max)
			heights[out++] = all[k];
	return n;
}

static double decode(const struct nwp_var *v, double raw)
{
	if (isnan(raw))
		return NAN;
	if (v->has_fill && raw == v->fill)
		return NAN;
	for (size_t k = 0; k < v->nmissing; k++)
		if (raw == v->missing[k])
			return NAN;
	if (v->as_unsigned && raw < 0)
		raw += v->type == NC_BYTE ? 256.0 : v->type == NC_SHORT ? 65536.0 : 4294967296.0;
	if (raw < v->valid_min || raw > v->valid_max)
		return NAN;
	if ((v->type == NC_FLOAT || v->type == NC_DOUBLE) && fabs(raw) >= 1e30)
		return NAN;
	return (raw * v->scale + v->offset) * v->unit_scale + v->unit_offset;
}

size_t nwp_var_size(const struct nwp_var *v)
{
	switch (v->type) {
	case NC_BYTE: case NC_UBYTE: return 1;
	case NC_SHORT: case NC_USHORT: return 2;
	case NC_INT: case NC_UINT: case NC_FLOAT: return 4;
	default: return 8;
	}
}

static double native_at(int type, const void *p, size_t i)
{
	switch (type) {
	case NC_BYTE: return ((const signed char *)p)[i];
	case NC_UBYTE: return ((const unsigned char *)p)[i];
	case NC_SHORT: return ((const short *)p)[i];
	case NC_USHORT: return ((const unsigned short *)p)[i];
	case NC_INT: return ((const int *)p)[i];
	case NC_UINT: return ((const unsigned int *)p)[i];
	case NC_INT64: return (double)((const long long *)p)[i];
	case NC_UINT64: return (double)((const unsigned long long *)p)[i];
	case NC_FLOAT: return ((const float *)p)[i];
	default: return ((const double *)p)[i];
	}
}

double nwp_var_value(const struct nwp_var *v, const void *raw, size_t i)
{
	return decode(v, native_at(v->type, raw, i));
}

/*
 * One netCDF read of the box into out (nt, ny, out_nx) of native values at column
 * offset xoff. The read goes straight into `out` when the file's dimension order is
 * (time, y, x) and the box is as wide as `out`; through a buffer copied row by row when
 * only the width differs (the two halves of a box across the seam); otherwise through
 * a buffer element by element (other orders, expver).
 */
static enum wc_status read_box(struct nwp_file *f, const struct nwp_var *v, size_t t0,
			       size_t nt, size_t y0, size_t ny, size_t x0, size_t nx,
			       void *out, size_t out_nx, size_t xoff, struct wc_error *err)
{
	size_t start[NWP_MAX_DIMS], count[NWP_MAX_DIMS], stride[NWP_MAX_DIMS];
	size_t st = 0, sy = 0, sx = 0, se = 0, nexp = 1, total = 1, es = nwp_var_size(v);
	bool direct = true, rows;
	int last = -1, rc;
	unsigned char *buf, *o = out;
	enum wc_status ret = WC_OK;

	for (int d = 0; d < v->ndims; d++) {
		switch (v->role[d]) {
		case NWP_DIM_TIME: start[d] = t0; count[d] = nt; break;
		case NWP_DIM_Y: start[d] = y0; count[d] = ny; break;
		case NWP_DIM_X: start[d] = x0; count[d] = nx; break;
		case NWP_DIM_EXPVER:
			start[d] = 0;
			count[d] = nexp = v->dimlen[d];
			direct = false;
			break;
		case NWP_DIM_FIXED: start[d] = v->fixed[d]; count[d] = 1; break;
		}
		if (count[d] != 1 && v->role[d] != NWP_DIM_FIXED) {
			/* direct only when time, y, x come in that order */
			if ((int)v->role[d] < last)
				direct = false;
			last = (int)v->role[d];
		}
		if (count[d] > 0 && total > NWP_MAX_READ / count[d])
			return wc_error_set(err, WC_ETOOLARGE,
					    "cannot read '%s' in '%s': box too large", v->name,
					    f->label);
		total *= count[d];
	}
	if (total == 0)
		return WC_OK;
	for (int d = v->ndims - 1, s = 1; d >= 0; d--) {
		stride[d] = (size_t)s;
		s *= (int)count[d];
		if (v->role[d] == NWP_DIM_TIME)
			st = stride[d];
		else if (v->role[d] == NWP_DIM_Y)
			sy = stride[d];
		else if (v->role[d] == NWP_DIM_X)
			sx = stride[d];
		else if (v->role[d] == NWP_DIM_EXPVER)
			se = stride[d];
	}
	/* canonical order but a narrower part of a wider box: copy whole rows */
	rows = direct && out_nx != nx;
	direct = direct && out_nx == nx;
	buf = direct ? out : malloc(total * es);
	if (!buf)
		return wc_error_set(err, WC_ENOMEM, "out of memory reading '%s'", v->name);
	rc = nc_get_vara(f->ncid, v->varid, start, count, buf);
	if (rc != NC_NOERR) {
		ret = wc_error_set(err, WC_ENETCDF, "cannot read '%s' in '%s': %s", v->name,
				   f->label, nc_msg(rc));
		goto cleanup;
	}
	if (direct)
		goto cleanup;
	if (rows) {
		for (size_t r = 0; r < nt * ny; r++)
			memcpy(o + (r * out_nx + xoff) * es, buf + r * nx * es, nx * es);
		goto cleanup;
	}
	for (size_t t = 0; t < nt; t++) {
		size_t e = 0;

		/* ERA5 expver: the first slice holding any valid value at this time (#2) */
		for (size_t k = 0; k < nexp && nexp > 1; k++) {
			bool valid = false;

			for (size_t y = 0; y < ny && !valid; y++)
				for (size_t x = 0; x < nx && !valid; x++)
					valid = !isnan(nwp_var_value(v, buf, t * st + y * sy +
								     x * sx + k * se));
			if (valid) {
				e = k;
				break;
			}
		}
		for (size_t y = 0; y < ny; y++)
			for (size_t x = 0; x < nx; x++)
				memcpy(o + ((t * ny + y) * out_nx + xoff + x) * es,
				       buf + (t * st + y * sy + x * sx + e * se) * es, es);
	}
cleanup:
	if (!direct)
		free(buf);
	return ret;
}

enum wc_status nwp_file_read_native(struct nwp_file *f, size_t var, size_t t0, size_t nt,
				    size_t y0, size_t ny, size_t x0, size_t nx, void *out,
				    struct wc_error *err)
{
	const struct nwp_var *v;
	size_t n1;
	enum wc_status ret;

	if (var >= f->nvars || t0 > f->ntimes || nt > f->ntimes - t0 || y0 > f->ny ||
	    ny > f->ny - y0 || x0 >= f->nx || nx > f->nx)
		return wc_error_set(err, WC_EINVAL, "read outside '%s'", f->label);
	v = &f->vars[var];
	n1 = x0 + nx <= f->nx ? nx : f->nx - x0;
	if ((ret = read_box(f, v, t0, nt, y0, ny, x0, n1, out, nx, 0, err)))
		return ret;
	if (n1 < nx)
		ret = read_box(f, v, t0, nt, y0, ny, 0, nx - n1, out, nx, n1, err);
	return ret;
}

enum wc_status nwp_file_read(struct nwp_file *f, size_t var, size_t t0, size_t nt,
			     size_t y0, size_t ny, size_t x0, size_t nx, double *out,
			     struct wc_error *err)
{
	enum wc_status ret = nwp_file_read_native(f, var, t0, nt, y0, ny, x0, nx, out, err);
	const struct nwp_var *v = &f->vars[var];

	if (ret)
		return ret;
	/* widen in place from the end: native values are never larger than a double */
	for (size_t i = nt * ny * nx; i-- > 0;)
		out[i] = nwp_var_value(v, out, i);
	return WC_OK;
}

size_t nwp_file_time_block(struct nwp_file *f, size_t var, size_t box_ny, size_t box_nx,
			   size_t max_cells)
{
	const struct nwp_var *v = &f->vars[var];
	size_t chunks[NWP_MAX_DIMS], cells = box_ny * box_nx, ct = 1, block, tsize = 8;
	size_t chunk_bytes, touched = 1;
	int storage = NC_CONTIGUOUS;

	for (int d = 0; d < v->ndims; d++)
		if (v->role[d] == NWP_DIM_EXPVER)
			cells *= v->dimlen[d];
	if (cells == 0)
		cells = 1;
	block = max_cells / cells;
	if (block == 0)
		block = 1;
	if (block > f->ntimes)
		block = f->ntimes;
	if (nc_inq_var_chunking(f->ncid, v->varid, &storage, chunks) != NC_NOERR ||
	    storage != NC_CHUNKED)
		return block;
	nc_inq_type(f->ncid, v->type, NULL, &tsize);
	chunk_bytes = tsize;
	for (int d = 0; d < v->ndims; d++) {
		chunk_bytes *= chunks[d];
		if (v->role[d] == NWP_DIM_TIME)
			ct = chunks[d];
		else if (v->role[d] == NWP_DIM_Y)
			touched *= box_ny / chunks[d] + 2;
		else if (v->role[d] == NWP_DIM_X)
			touched *= box_nx / chunks[d] + 2;
		else if (v->role[d] == NWP_DIM_EXPVER)
			touched *= v->dimlen[d] / chunks[d] + 1;
	}
	if (ct == 0)
		ct = 1;
	if (block >= ct || block == f->ntimes) {
		/* each chunk is read once per block: no need to keep it */
		if (block < f->ntimes)
			block -= block % ct;
		nc_set_var_chunk_cache(f->ncid, v->varid, chunk_bytes < (1 << 20) ?
				       chunk_bytes * touched : 0, 1009, 0.75f);
		return block;
	}
	/* a chunk spans several blocks: keep every chunk the box touches */
	size_t bytes = touched * chunk_bytes;

	if (bytes > ((size_t)512 << 20))
		bytes = (size_t)512 << 20;
	nc_set_var_chunk_cache(f->ncid, v->varid, bytes, 1009, 0.75f);
	return block;
}

void nwp_file_cell_latlon(const struct nwp_file *f, size_t iy, size_t ix, double *lat,
			  double *lon)
{
	switch (f->geometry) {
	case NWP_GRID_REGULAR:
		*lat = f->lat1d[iy];
		*lon = f->lon1d[ix];
		break;
	case NWP_GRID_PROJECTED:
		projection_inverse(&f->proj, f->x1d[ix], f->y1d[iy], lat, lon);
		break;
	default:
		*lat = f->lat2d[iy * f->nx + ix];
		*lon = f->lon2d[iy * f->nx + ix];
		break;
	}
	*lon = fmod(*lon + 180.0, 360.0);
	if (*lon < 0)
		*lon += 360;
	*lon -= 180;
}

const char *nwp_quantity_name(enum nwp_quantity q)
{
	switch (q) {
	case NWP_U: return "u";
	case NWP_V: return "v";
	case NWP_SPEED: return "wind speed";
	case NWP_T2M: return "t2m";
	case NWP_SP: return "sp";
	}
	return "?";
}

void nwp_file_describe(const struct nwp_file *f, char *buf, size_t len)
{
	static const char *const geo[] = { "regular lat/lon", "projected", "curvilinear",
					   "points" };
	char t0[UTC_ISO_LEN], t1[UTC_ISO_LEN], ref[UTC_ISO_LEN];
	size_t used;

	utc_format(f->valid_times[0], t0);
	utc_format(f->valid_times[f->ntimes - 1], t1);
	utc_format(f->reference_time, ref);
	used = (size_t)snprintf(buf, len, "%s; %s %s; %zu times %s..%s; %s %zux%zu;",
				f->format, f->is_forecast ? "forecast from" : "analysis",
				f->is_forecast ? ref : "", f->ntimes, t0, t1,
				geo[f->geometry], f->ny, f->nx);
	for (size_t i = 0; i < f->nvars && used < len; i++) {
		const struct nwp_var *v = &f->vars[i];

		if (v->quantity == NWP_T2M || v->quantity == NWP_SP)
			used += (size_t)snprintf(buf + used, len - used, " %s=%s;",
						 nwp_quantity_name(v->quantity), v->name);
		else
			used += (size_t)snprintf(buf + used, len - used, " %s%s@%gm=%s;",
						 nwp_quantity_name(v->quantity),
						 v->grid_relative ? "(grid)" : "", v->height_m,
						 v->name);
	}
}
