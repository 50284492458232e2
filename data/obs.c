/* obs.c - parsing and validating metered output; see obs.h. */
#include "data/obs.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/utc.h"

static const char *const flag_names[] = { "ok", "outage", "curtailed" };

const char *obs_flag_name(enum obs_flag f)
{
	return (unsigned)f < 3 ? flag_names[f] : "unknown";
}

static int parse_flag(const char *s, enum obs_flag *out)
{
	if (!*s) {
		*out = OBS_OK;
		return 0;
	}
	for (int i = 0; i < 3; i++) {
		if (!strcasecmp(s, flag_names[i])) {
			*out = (enum obs_flag)i;
			return 0;
		}
	}
	return -1;
}

/* Check one row; `where` is "line 7" or "element 3". */
static enum wc_status check_row(const struct obs_row *r, double capacity_mw, const char *where,
				struct wc_error *err)
{
	double lo = OBS_MIN_FRACTION * capacity_mw, hi = OBS_MAX_FRACTION * capacity_mw;
	char buf[UTC_ISO_LEN];

	if (r->time < OBS_TIME_MIN || r->time > OBS_TIME_MAX)
		return wc_error_set(err, WC_EINVAL,
				    "%s: time %s is outside 1900-01-01T00:00:00Z .. "
				    "2200-01-01T00:00:00Z",
				    where, utc_format(r->time, buf));
	if (r->time % UTC_HOUR != 0)
		return wc_error_set(err, WC_EINVAL,
				    "%s: time %s is not on a whole hour (hourly, hour-ending)",
				    where, utc_format(r->time, buf));
	if (!isfinite(r->power_mw))
		return wc_error_set(err, WC_EINVAL, "%s: power_mw is not a finite number", where);
	if (r->power_mw < lo || r->power_mw > hi)
		return wc_error_set(err, WC_EINVAL,
				    "%s: power_mw %g is outside [%g, %g] (-5%%..110%% of the "
				    "capacity %g MW)",
				    where, r->power_mw, lo, hi, capacity_mw);
	return WC_OK;
}

static int cmp_time(const void *a, const void *b)
{
	const struct obs_row *x = a, *y = b;

	return (x->time > y->time) - (x->time < y->time);
}

/* Sort by time and refuse duplicate hours. */
static enum wc_status sort_unique(struct obs_row *rows, size_t n, struct wc_error *err)
{
	char buf[UTC_ISO_LEN];

	if (n < 2)
		return WC_OK;
	qsort(rows, n, sizeof(*rows), cmp_time);
	for (size_t i = 1; i < n; i++)
		if (rows[i].time == rows[i - 1].time)
			return wc_error_set(err, WC_EINVAL, "time %s appears more than once",
					    utc_format(rows[i].time, buf));
	return WC_OK;
}

static enum wc_status parse_time(const char *s, int64_t *t, const char *where,
				 struct wc_error *err)
{
	if (!utc_parse(s, t))
		return wc_error_set(err, WC_EINVAL,
				    "%s: cannot parse time '%.40s': use ISO 8601 "
				    "(2026-01-01T13:00:00Z) or YYYYMMDDHH",
				    where, s);
	return WC_OK;
}

static enum wc_status parse_power(const char *s, double *v, const char *where,
				  struct wc_error *err)
{
	char *end;

	errno = 0;
	*v = strtod(s, &end);
	if (!*s || *end || errno == ERANGE)
		return wc_error_set(err, WC_EINVAL, "%s: power_mw '%.40s' is not a number",
				    where, s);
	return WC_OK;
}

/*
 * Split one CSV line (no embedded newlines) in place into at most `max` fields, with
 * blanks around fields trimmed and simple "quoted" fields unquoted. Returns the field
 * count, or -1 for a malformed line or too many fields.
 */
static int split_csv(char *line, char **fields, int max)
{
	int n = 0;
	char *p = line;

	for (;;) {
		char *start, *end, sep;

		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '"') {
			start = ++p;
			if (!(end = strchr(p, '"')))
				return -1;
			p = end + 1;
			while (*p == ' ' || *p == '\t')
				p++;
			if (*p && *p != ',')
				return -1;
		} else {
			start = p;
			p += strcspn(p, ",");
			end = p;
			while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
				end--;
		}
		sep = *p;
		*end = '\0';
		if (n == max)
			return -1;
		fields[n++] = start;
		if (sep != ',')
			return n;
		p++;
	}
}

enum wc_status obs_parse_csv(const char *text, size_t len, double capacity_mw,
			     struct obs_row **rows, size_t *n, struct wc_error *err)
{
	int col_time = -1, col_power = -1, col_flag = -1, ncols = 0;
	struct obs_row *v = NULL;
	size_t count = 0, cap = 0, lineno = 0;
	enum wc_status ret = WC_OK;
	char *copy, *line, *next;

	*rows = NULL;
	*n = 0;
	copy = malloc(len + 1);
	if (!copy)
		return wc_error_set(err, WC_ENOMEM, "out of memory");
	memcpy(copy, text, len);
	copy[len] = '\0';
	if (strlen(copy) != len) {
		ret = wc_error_set(err, WC_EINVAL, "the CSV contains a NUL byte");
		goto cleanup;
	}
	for (line = copy; line && !ret; line = next) {
		char *fields[16], where[48];
		int nf;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		lineno++;
		line[strcspn(line, "\r")] = '\0';
		if (lineno == 1 && !strncmp(line, "\xef\xbb\xbf", 3))
			line += 3;	/* UTF-8 byte order mark */
		if (!*line)
			continue;
		snprintf(where, sizeof(where), "line %zu", lineno);
		nf = split_csv(line, fields, 16);
		if (nf < 0) {
			ret = wc_error_set(err, WC_EINVAL, "%s: malformed CSV", where);
			break;
		}
		if (ncols == 0) {
			for (int i = 0; i < nf && !ret; i++) {
				int *col = !strcasecmp(fields[i], "time")       ? &col_time
					 : !strcasecmp(fields[i], "power_mw") ? &col_power
					 : !strcasecmp(fields[i], "flag")     ? &col_flag
									      : NULL;

				if (col && *col >= 0)
					ret = wc_error_set(err, WC_EINVAL,
							   "line %zu: column '%s' appears twice in "
							   "the header",
							   lineno, fields[i]);
				else if (col)
					*col = i;
			}
			if (ret)
				break;
			if (col_time < 0 || col_power < 0) {
				ret = wc_error_set(err, WC_EINVAL,
						   "line %zu: expected a header with columns 'time' "
						   "and 'power_mw' (and optionally 'flag')",
						   lineno);
				break;
			}
			ncols = nf;
			continue;
		}
		if (nf != ncols) {
			ret = wc_error_set(err, WC_EINVAL, "%s: %d fields, the header has %d",
					   where, nf, ncols);
			break;
		}
		if (count == cap) {
			size_t ncap = cap ? cap * 2 : 4096;
			struct obs_row *nv;

			if (ncap > OBS_MAX_ROWS) {
				ret = wc_error_set(err, WC_ETOOLARGE, "more than %d rows",
						   OBS_MAX_ROWS);
				break;
			}
			nv = realloc(v, ncap * sizeof(*v));
			if (!nv) {
				ret = wc_error_set(err, WC_ENOMEM, "out of memory");
				break;
			}
			v = nv;
			cap = ncap;
		}
		struct obs_row *r = &v[count];

		if ((ret = parse_time(fields[col_time], &r->time, where, err)) ||
		    (ret = parse_power(fields[col_power], &r->power_mw, where, err)))
			break;
		r->flag = OBS_OK;
		if (col_flag >= 0 && parse_flag(fields[col_flag], &r->flag)) {
			ret = wc_error_set(err, WC_EINVAL,
					   "%s: unknown flag '%.40s': use ok, outage or curtailed",
					   where, fields[col_flag]);
			break;
		}
		if ((ret = check_row(r, capacity_mw, where, err)))
			break;
		count++;
	}
	if (!ret && ncols == 0)
		ret = wc_error_set(err, WC_EINVAL, "the CSV is empty: expected a header "
						   "'time,power_mw' and hourly rows");
	if (!ret)
		ret = sort_unique(v, count, err);
cleanup:
	free(copy);
	if (ret) {
		free(v);
		return ret;
	}
	*rows = v;
	*n = count;
	return WC_OK;
}

/* The first key of an element other than time, power_mw and flag; NULL when none. */
static const char *unknown_key(json_t *el)
{
	const char *key;
	json_t *v;

	json_object_foreach(el, key, v) {
		if (strcmp(key, "time") && strcmp(key, "power_mw") && strcmp(key, "flag"))
			return key;
	}
	return NULL;
}

enum wc_status obs_parse_json(const char *text, size_t len, double capacity_mw,
			      struct obs_row **rows, size_t *n, struct wc_error *err)
{
	json_error_t jerr;
	json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr), *el;
	struct obs_row *v = NULL;
	enum wc_status ret = WC_OK;
	size_t i, count;

	*rows = NULL;
	*n = 0;
	if (!root)
		return wc_error_set(err, WC_EINVAL, "malformed JSON at line %d column %d: %s",
				    jerr.line, jerr.column, jerr.text);
	if (!json_is_array(root)) {
		json_decref(root);
		return wc_error_set(err, WC_EINVAL,
				    "expected a JSON array of {\"time\", \"power_mw\"} objects");
	}
	count = json_array_size(root);
	if (count > OBS_MAX_ROWS) {
		json_decref(root);
		return wc_error_set(err, WC_ETOOLARGE, "more than %d rows", OBS_MAX_ROWS);
	}
	v = calloc(count ? count : 1, sizeof(*v));
	if (!v) {
		json_decref(root);
		return wc_error_set(err, WC_ENOMEM, "out of memory");
	}
	json_array_foreach(root, i, el) {
		json_t *t = json_object_get(el, "time"), *p = json_object_get(el, "power_mw");
		json_t *f = json_object_get(el, "flag");
		const char *unknown = json_is_object(el) ? unknown_key(el) : NULL;
		char where[48];

		snprintf(where, sizeof(where), "element %zu", i + 1);
		if (!json_is_object(el) || !json_is_string(t)) {
			ret = wc_error_set(err, WC_EINVAL,
					   "%s: expected an object with a string 'time'", where);
			break;
		}
		if (unknown) {
			ret = wc_error_set(err, WC_EINVAL,
					   "%s: unknown field '%.40s': use time, power_mw and flag",
					   where, unknown);
			break;
		}
		if (!json_is_number(p)) {
			ret = wc_error_set(err, WC_EINVAL, "%s: power_mw must be a number", where);
			break;
		}
		if ((ret = parse_time(json_string_value(t), &v[i].time, where, err)))
			break;
		v[i].power_mw = json_number_value(p);
		v[i].flag = OBS_OK;
		if (f && !json_is_null(f) &&
		    (!json_is_string(f) || parse_flag(json_string_value(f), &v[i].flag))) {
			ret = wc_error_set(err, WC_EINVAL,
					   "%s: unknown flag: use \"ok\", \"outage\" or \"curtailed\"",
					   where);
			break;
		}
		if ((ret = check_row(&v[i], capacity_mw, where, err)))
			break;
	}
	json_decref(root);
	if (!ret)
		ret = sort_unique(v, count, err);
	if (ret) {
		free(v);
		return ret;
	}
	*rows = v;
	*n = count;
	return WC_OK;
}

enum wc_status obs_parse(const char *text, size_t len, double capacity_mw,
			 struct obs_row **rows, size_t *n, struct wc_error *err)
{
	size_t i = 0;

	while (i < len && isspace((unsigned char)text[i]))
		i++;
	if (i < len && text[i] == '[')
		return obs_parse_json(text, len, capacity_mw, rows, n, err);
	return obs_parse_csv(text, len, capacity_mw, rows, n, err);
}

json_t *obs_stored_json(const char *farm_id, const struct obs_row *rows, size_t n)
{
	char a[UTC_ISO_LEN], z[UTC_ISO_LEN];

	return json_pack("{s:s,s:I,s:o,s:o}", "farm", farm_id, "stored", (json_int_t)n, "first",
			 n ? json_string(utc_format(rows[0].time, a)) : json_null(), "last",
			 n ? json_string(utc_format(rows[n - 1].time, z)) : json_null());
}
