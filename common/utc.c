/* utc.c - civil calendar arithmetic and ISO 8601; see utc.h. */
#include "common/utc.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

int64_t utc_days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

	return era * 146097 + doe - 719468;
}

void utc_civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	int dd = (int)(doy - (153 * mp + 2) / 5 + 1);
	int mm = (int)(mp < 10 ? mp + 3 : mp - 9);

	*y = yoe + era * 400 + (mm <= 2);
	*m = mm;
	*d = dd;
}

bool utc_is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int utc_days_in_month(int64_t y, int m)
{
	static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	if (m < 1 || m > 12)
		return 0;
	return m == 2 && utc_is_leap(y) ? 29 : days[m - 1];
}

int64_t utc_from_fields(int64_t y, int mo, int d, int h, int mi, int s)
{
	return utc_days_from_civil(y, mo, d) * UTC_DAY + (int64_t)h * 3600 +
	       (int64_t)mi * 60 + s;
}

int64_t utc_floor(int64_t t, int64_t step)
{
	int64_t q = t / step;

	if (t % step != 0 && t < 0)
		q--;
	return q * step;
}

void utc_to_fields(int64_t t, int64_t *y, int *mo, int *d, int *h, int *mi, int *s)
{
	int64_t days = utc_floor(t, UTC_DAY) / UTC_DAY;
	int64_t rem = t - days * UTC_DAY;

	utc_civil_from_days(days, y, mo, d);
	*h = (int)(rem / 3600);
	*mi = (int)(rem % 3600 / 60);
	*s = (int)(rem % 60);
}

/* Read exactly n digits at *p; advance. */
static bool digits(const char **p, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*p)[i]))
			return false;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*out = v;
	return true;
}

bool utc_parse_iso8601(const char *s, int64_t *out)
{
	int y, mo, d, h = 0, mi = 0, sec = 0, zh = 0, zm = 0, sign = 1;
	const char *p = s;

	if (!s || !digits(&p, 4, &y) || *p++ != '-' || !digits(&p, 2, &mo) ||
	    *p++ != '-' || !digits(&p, 2, &d))
		return false;
	if (*p == 'T' || *p == ' ') {
		p++;
		if (!digits(&p, 2, &h) || *p++ != ':' || !digits(&p, 2, &mi))
			return false;
		if (*p == ':') {
			p++;
			if (!digits(&p, 2, &sec))
				return false;
			if (*p == '.' || *p == ',') {
				p++;
				if (!isdigit((unsigned char)*p))
					return false;
				while (isdigit((unsigned char)*p))
					p++;
			}
		}
		if (*p == 'Z') {
			p++;
		} else if (*p == '+' || *p == '-') {
			sign = *p++ == '-' ? -1 : 1;
			if (!digits(&p, 2, &zh))
				return false;
			if (*p == ':')
				p++;
			if (isdigit((unsigned char)*p) && !digits(&p, 2, &zm))
				return false;
			if (zh > 23 || zm > 59)
				return false;
		}
	}
	if (*p != '\0')
		return false;
	if (mo < 1 || mo > 12 || d < 1 || d > utc_days_in_month(y, mo) || h > 24 ||
	    mi > 59 || sec > 60 || (h == 24 && (mi || sec)))
		return false;
	*out = utc_from_fields(y, mo, d, h, mi, sec) - sign * (zh * 3600 + zm * 60);
	return true;
}

bool utc_parse_compact_hour(const char *s, int64_t *out)
{
	int y, mo, d, h;
	const char *p = s;

	if (!s || !digits(&p, 4, &y) || !digits(&p, 2, &mo) || !digits(&p, 2, &d) ||
	    !digits(&p, 2, &h) || *p != '\0')
		return false;
	if (mo < 1 || mo > 12 || d < 1 || d > utc_days_in_month(y, mo) || h > 23)
		return false;
	*out = utc_from_fields(y, mo, d, h, 0, 0);
	return true;
}

bool utc_parse(const char *s, int64_t *out)
{
	return utc_parse_iso8601(s, out) || utc_parse_compact_hour(s, out);
}

char *utc_format(int64_t t, char *buf)
{
	int64_t y;
	int mo, d, h, mi, s;

	utc_to_fields(t, &y, &mo, &d, &h, &mi, &s);
	if (y < 0 || y > 9999) {
		strcpy(buf, "invalid");
		return buf;
	}
	snprintf(buf, UTC_ISO_LEN, "%04d-%02d-%02dT%02d:%02d:%02dZ", (int)y, mo, d, h,
		 mi, s);
	return buf;
}

int64_t utc_now(void)
{
	return (int64_t)time(NULL);
}
