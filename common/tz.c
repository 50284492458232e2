/*
 * tz.c - TZif version 1-4 files (RFC 8536) and their POSIX TZ footer rule; see tz.h.
 *
 * Limits: a file of at most TZ_FILE_MAX bytes; leap-second files are refused; rule
 * dates of the three POSIX forms (Jn, n, Mm.w.d) with times -167..167 h (RFC 8536's
 * extension).
 */
#include "common/tz.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/utc.h"

/* One end of daylight saving time in a POSIX TZ rule. */
struct rule_date {
	char kind;		/* 'J' Julian 1..365 without Feb 29, 'D' zero-based day
				 * 0..365, 'M' day d of week w (5: last) of month m */
	int n, m, w, d;
	int32_t secs;		/* local time of the change, seconds from midnight */
};

struct tz {
	char name[TZ_NAME_MAX + 1];
	size_t ntrans;
	int64_t *trans;		/* (ntrans) transition instants, increasing */
	int32_t *trans_off;	/* (ntrans) offset from each transition on */
	int32_t first_off;	/* before the first transition (time type 0) */
	bool has_rule;		/* the footer's rule applies after the last transition */
	bool rule_dst;
	int32_t std_off, dst_off;	/* seconds east */
	struct rule_date start, end;
};

bool tz_name_valid(const char *name)
{
	size_t len = strlen(name), part = 0;

	if (len == 0 || len > TZ_NAME_MAX || name[0] == '/')
		return false;
	for (size_t i = 0; i <= len; i++) {
		char c = name[i];

		if (c == '/' || c == '\0') {
			/* empty, "." and ".." parts could leave the zone directory */
			if (part == 0 || (part == 1 && name[i - 1] == '.') ||
			    (part == 2 && name[i - 1] == '.' && name[i - 2] == '.'))
				return false;
			part = 0;
			continue;
		}
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '+' || c == '-' || c == '.'))
			return false;
		part++;
	}
	return true;
}

void tz_free(struct tz *z)
{
	if (!z)
		return;
	free(z->trans);
	free(z->trans_off);
	free(z);
}

const char *tz_name(const struct tz *z)
{
	return z->name;
}

/* ---- the POSIX TZ rule of the footer ---- */

static bool parse_num(const char **p, int lo, int hi, int *out)
{
	int v = 0, n = 0;

	while (**p >= '0' && **p <= '9' && n < 4) {
		v = v * 10 + (**p - '0');
		(*p)++;
		n++;
	}
	if (n == 0 || v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

/* [+-]hh[:mm[:ss]] with hours up to max_h; seconds, sign applied. */
static bool parse_hms(const char **p, int max_h, int32_t *out)
{
	int sign = 1, h, m = 0, s = 0;

	if (**p == '+' || **p == '-')
		sign = *(*p)++ == '-' ? -1 : 1;
	if (!parse_num(p, 0, max_h, &h))
		return false;
	if (**p == ':') {
		(*p)++;
		if (!parse_num(p, 0, 59, &m))
			return false;
		if (**p == ':') {
			(*p)++;
			if (!parse_num(p, 0, 59, &s))
				return false;
		}
	}
	*out = sign * (h * 3600 + m * 60 + s);
	return true;
}

/* A zone abbreviation: <...> or 3+ letters. */
static bool parse_abbr(const char **p)
{
	const char *s = *p;

	if (*s == '<') {
		while (*s && *s != '>')
			s++;
		if (*s != '>')
			return false;
		*p = s + 1;
		return true;
	}
	while ((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z'))
		s++;
	if (s - *p < 3)
		return false;
	*p = s;
	return true;
}

static bool parse_rule_date(const char **p, struct rule_date *r)
{
	r->secs = 2 * 3600;
	if (**p == 'J') {
		(*p)++;
		r->kind = 'J';
		if (!parse_num(p, 1, 365, &r->n))
			return false;
	} else if (**p == 'M') {
		(*p)++;
		r->kind = 'M';
		if (!parse_num(p, 1, 12, &r->m) || *(*p)++ != '.' || !parse_num(p, 1, 5, &r->w) ||
		    *(*p)++ != '.' || !parse_num(p, 0, 6, &r->d))
			return false;
	} else {
		r->kind = 'D';
		if (!parse_num(p, 0, 365, &r->n))
			return false;
	}
	if (**p == '/') {
		(*p)++;
		return parse_hms(p, 167, &r->secs);
	}
	return true;
}

/* Parse the footer's rule s into z (an empty rule: none). */
static bool parse_rule(struct tz *z, const char *s)
{
	int32_t off;

	if (!*s)
		return true;
	/* POSIX offsets count west of Greenwich: negate */
	if (!parse_abbr(&s) || !parse_hms(&s, 24, &off))
		return false;
	z->has_rule = true;
	z->std_off = -off;
	if (!*s)
		return true;
	if (!parse_abbr(&s))
		return false;
	z->rule_dst = true;
	z->dst_off = z->std_off + 3600;
	if (*s && *s != ',') {
		if (!parse_hms(&s, 24, &off))
			return false;
		z->dst_off = -off;
	}
	if (!*s) {	/* POSIX's default dates, those of the United States */
		z->start = (struct rule_date){ 'M', 0, 3, 2, 0, 7200 };
		z->end = (struct rule_date){ 'M', 0, 11, 1, 0, 7200 };
		return true;
	}
	return *s++ == ',' && parse_rule_date(&s, &z->start) && *s++ == ',' &&
	       parse_rule_date(&s, &z->end) && !*s;
}

/* Local midnight (days since the epoch) of a rule date in year y, plus its time. */
static int64_t rule_local(const struct rule_date *r, int64_t y)
{
	int64_t day;

	if (r->kind == 'J') {
		day = utc_days_from_civil(y, 1, 1) + r->n - 1 + (utc_is_leap(y) && r->n >= 60);
	} else if (r->kind == 'D') {
		day = utc_days_from_civil(y, 1, 1) + r->n;
	} else {
		int64_t first = utc_days_from_civil(y, r->m, 1);
		int dow1 = (int)(((first + 4) % 7 + 7) % 7);	/* 1970-01-01 was a Thursday */
		int64_t last = first + utc_days_in_month(y, r->m) - 1;

		day = first + (r->d - dow1 + 7) % 7 + 7 * (r->w - 1);
		while (day > last)
			day -= 7;
	}
	return day * UTC_DAY + r->secs;
}

static int32_t rule_offset(const struct tz *z, int64_t t)
{
	int64_t y, s, e;
	int mo, d, h, mi, sec;

	if (!z->rule_dst)
		return z->std_off;
	utc_to_fields(t + z->std_off, &y, &mo, &d, &h, &mi, &sec);
	/* the start is written in standard time, the end in summer time */
	s = rule_local(&z->start, y) - z->std_off;
	e = rule_local(&z->end, y) - z->dst_off;
	if (s < e)
		return t >= s && t < e ? z->dst_off : z->std_off;
	return t >= e && t < s ? z->std_off : z->dst_off;
}

int32_t tz_offset(const struct tz *z, int64_t t)
{
	size_t lo = 0, hi = z->ntrans;

	if (z->ntrans == 0 || t < z->trans[0])
		return z->ntrans == 0 && z->has_rule ? rule_offset(z, t) : z->first_off;
	if (t >= z->trans[z->ntrans - 1] && z->has_rule)
		return rule_offset(z, t);
	while (hi - lo > 1) {	/* the last transition at or before t */
		size_t mid = lo + (hi - lo) / 2;

		if (z->trans[mid] <= t)
			lo = mid;
		else
			hi = mid;
	}
	return z->trans_off[lo];
}

int64_t tz_local_to_utc(const struct tz *z, int64_t local)
{
	/* offsets a day either side: at most one change within a day in any real zone */
	int32_t before = tz_offset(z, local - UTC_DAY), after = tz_offset(z, local + UTC_DAY);
	int64_t a = local - before, b = local - after;
	bool a_ok = tz_offset(z, a) == before, b_ok = tz_offset(z, b) == after;

	if (a_ok && b_ok)
		return a < b ? a : b;	/* an overlap: the earlier */
	if (a_ok)
		return a;
	if (b_ok)
		return b;
	return a;	/* a gap: under the offset before it */
}

/* ---- the file ---- */

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p)
{
	return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

struct tzif_counts {
	uint32_t isut, isstd, leap, time, type, chars;
};

static bool read_counts(const unsigned char *p, size_t len, struct tzif_counts *c)
{
	if (len < 44 || memcmp(p, "TZif", 4))
		return false;
	c->isut = be32(p + 20);
	c->isstd = be32(p + 24);
	c->leap = be32(p + 28);
	c->time = be32(p + 32);
	c->type = be32(p + 36);
	c->chars = be32(p + 40);
	/* counts a real file never reaches; keeps the sizes below from overflowing */
	return c->time < (1u << 20) && c->type >= 1 && c->type <= 256 && c->chars < 65536 &&
	       c->leap < 65536 && c->isut <= c->type && c->isstd <= c->type;
}

/* Bytes of a data block with times of `tsize` bytes. */
static size_t block_size(const struct tzif_counts *c, size_t tsize)
{
	return c->time * tsize + c->time + c->type * 6 + c->chars + c->leap * (tsize + 4) +
	       c->isstd + c->isut;
}

/* Parse the file's bytes into z; false when damaged. */
static bool parse_tzif(struct tz *z, const unsigned char *p, size_t len)
{
	struct tzif_counts c;
	size_t tsize = 4, need;
	const unsigned char *types;
	char rule[256];

	if (!read_counts(p, len, &c))
		return false;
	if (p[4] >= '2') {	/* skip the 32-bit block for the 64-bit one */
		need = 44 + block_size(&c, 4);
		if (len < need || !read_counts(p + need, len - need, &c))
			return false;
		p += need;
		len -= need;
		tsize = 8;
	}
	need = 44 + block_size(&c, tsize);
	if (len < need || c.leap)
		return false;
	z->ntrans = c.time;
	z->trans = calloc(c.time ? c.time : 1, sizeof(*z->trans));
	z->trans_off = calloc(c.time ? c.time : 1, sizeof(*z->trans_off));
	if (!z->trans || !z->trans_off)
		return false;
	types = p + 44 + c.time * tsize + c.time;
	for (uint32_t i = 0; i < c.time; i++) {
		const unsigned char *t = p + 44 + i * tsize;
		unsigned idx = p[44 + c.time * tsize + i];

		if (idx >= c.type)
			return false;
		z->trans[i] = tsize == 8 ? be64(t) : (int64_t)(int32_t)be32(t);
		z->trans_off[i] = (int32_t)be32(types + idx * 6);
		if (i && z->trans[i] <= z->trans[i - 1])
			return false;
	}
	z->first_off = (int32_t)be32(types);
	if (tsize == 8) {	/* the footer: "\n" rule "\n" */
		const unsigned char *f = p + need, *e;

		if (len - need < 2 || *f != '\n' ||
		    !(e = memchr(f + 1, '\n', len - need - 1)) || (size_t)(e - f - 1) >= sizeof(rule))
			return false;
		memcpy(rule, f + 1, (size_t)(e - f - 1));
		rule[e - f - 1] = '\0';
		if (!parse_rule(z, rule))
			return false;
	}
	return true;
}

enum wc_status tz_load(const char *name, struct tz **out, struct wc_error *err)
{
	const char *dir = getenv("TZDIR");
	unsigned char *buf = NULL;
	enum wc_status ret = WC_OK;
	struct tz *z;
	char path[4096];
	size_t len = 0;
	FILE *fp;

	*out = NULL;
	if (!tz_name_valid(name))
		return wc_error_set(err, WC_EINVAL,
				    "invalid time zone '%.80s': use an IANA name such as UTC or "
				    "Europe/Berlin",
				    name);
	if (!(z = calloc(1, sizeof(*z))))
		return wc_error_set(err, WC_ENOMEM, "out of memory");
	snprintf(z->name, sizeof(z->name), "%s", name);
	if (!strcmp(name, "UTC")) {
		*out = z;
		return WC_OK;
	}
	snprintf(path, sizeof(path), "%s/%s", dir && *dir ? dir : "/usr/share/zoneinfo", name);
	if (!(fp = fopen(path, "rb"))) {
		ret = errno == ENOENT || errno == ENOTDIR || errno == EISDIR
			      ? wc_error_set(err, WC_ENOTFOUND,
					     "unknown time zone '%s': use an IANA name such as UTC "
					     "or Europe/Berlin (zone files in '%s')",
					     name, dir && *dir ? dir : "/usr/share/zoneinfo")
			      : wc_error_set(err, WC_EIO, "cannot open time zone file '%s': %s", path,
					     strerror(errno));
		goto cleanup;
	}
	if (!(buf = malloc(TZ_FILE_MAX + 1))) {
		fclose(fp);
		ret = wc_error_set(err, WC_ENOMEM, "out of memory");
		goto cleanup;
	}
	len = fread(buf, 1, TZ_FILE_MAX + 1, fp);
	fclose(fp);
	/* a directory opens on Linux and reads nothing: "Europe" is no zone either */
	if (len == 0)
		ret = wc_error_set(err, WC_ENOTFOUND, "unknown time zone '%s': use an IANA name "
						      "such as UTC or Europe/Berlin",
				   name);
	else if (len > TZ_FILE_MAX || !parse_tzif(z, buf, len))
		ret = wc_error_set(err, WC_EFORMAT,
				   "cannot read time zone '%s': '%s' is not a TZif file without "
				   "leap seconds",
				   name, path);
cleanup:
	free(buf);
	if (ret)
		tz_free(z);
	else
		*out = z;
	return ret;
}
