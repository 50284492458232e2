/*
 * nc3size.c - walk a netCDF classic header (the "netCDF Classic and 64-bit Offset
 * Format" grammar, plus CDF-5) to find where the data must end; see nc3size.h.
 */
#include "data/nc3size.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

enum { TAG_DIMENSION = 0x0A, TAG_VARIABLE = 0x0B, TAG_ATTRIBUTE = 0x0C };

#define MAX_DIMS 65536
#define MAX_HEADER ((size_t)256 << 20)

struct cursor {
	const uint8_t *p;
	size_t len, off;
	int version;		/* 1, 2 or 5 */
	int fail;		/* 1: ran past the end, 2: malformed */
};

static uint64_t get_be(struct cursor *c, int n)
{
	uint64_t v = 0;

	if (c->fail)
		return 0;
	if (c->len - c->off < (size_t)n) {
		c->fail = 1;
		c->off = c->len;
		return 0;
	}
	for (int i = 0; i < n; i++)
		v = v << 8 | c->p[c->off + i];
	c->off += (size_t)n;
	return v;
}

/* NON_NEG counts: 4 bytes, 8 in CDF-5 */
static uint64_t get_count(struct cursor *c)
{
	return get_be(c, c->version == 5 ? 8 : 4);
}

static void skip(struct cursor *c, uint64_t n)
{
	if (c->fail)
		return;
	if (n > c->len - c->off) {
		c->fail = 1;
		c->off = c->len;
		return;
	}
	c->off += (size_t)n;
}

static uint64_t pad4(uint64_t n)
{
	return (n + 3) & ~(uint64_t)3;
}

static int type_size(uint64_t t)
{
	static const int sizes[] = { 0, 1, 1, 2, 4, 4, 8, 1, 2, 4, 8, 8 };

	return t >= 1 && t <= 11 ? sizes[t] : 0;
}

static void skip_name(struct cursor *c)
{
	skip(c, pad4(get_count(c)));
}

static void skip_atts(struct cursor *c)
{
	uint64_t tag = get_be(c, 4), n = get_count(c);

	if (tag == 0 && n == 0)
		return;
	if (tag != TAG_ATTRIBUTE) {
		c->fail = c->fail ? c->fail : 2;
		return;
	}
	for (uint64_t i = 0; i < n && !c->fail; i++) {
		uint64_t type, count;
		int sz;

		skip_name(c);
		type = get_be(c, 4);
		count = get_count(c);
		sz = type_size(type);
		if (!sz || count > UINT64_MAX / 8) {
			c->fail = c->fail ? c->fail : 2;
			return;
		}
		skip(c, pad4(count * (uint64_t)sz));
	}
}

enum wc_status nc3_required_size(const uint8_t *buf, size_t len, uint64_t *required,
				 size_t *need, struct wc_error *err)
{
	struct cursor c = { .p = buf, .len = len };
	uint64_t numrecs, ndims, nvars, *dimlen = NULL, recsize = 0, end = 0, tag;
	uint64_t rec_begin_max = 0, rec_tail = 0, nrecvars = 0, last_rec_unpadded = 0;
	enum wc_status ret = WC_OK;

	if (len < 4 || memcmp(buf, "CDF", 3) || (buf[3] != 1 && buf[3] != 2 && buf[3] != 5))
		return wc_error_set(err, WC_EUNSUPPORTED, "not a netCDF classic file");
	c.version = buf[3];
	c.off = 4;
	numrecs = get_count(&c);
	if (numrecs == (c.version == 5 ? UINT64_MAX : 0xFFFFFFFFu))
		numrecs = 0;	/* "streaming": the count is not known from the header */
	tag = get_be(&c, 4);
	ndims = get_count(&c);
	if (!(tag == 0 && ndims == 0) && (tag != TAG_DIMENSION || ndims > MAX_DIMS)) {
		c.fail = c.fail ? c.fail : 2;
		goto done;
	}
	dimlen = calloc(ndims ? ndims : 1, sizeof(*dimlen));
	if (!dimlen)
		return wc_error_set(err, WC_ENOMEM, "out of memory");
	for (uint64_t i = 0; i < ndims && !c.fail; i++) {
		skip_name(&c);
		dimlen[i] = get_count(&c);
	}
	skip_atts(&c);
	tag = get_be(&c, 4);
	nvars = get_count(&c);
	if (!(tag == 0 && nvars == 0) && tag != TAG_VARIABLE)
		c.fail = c.fail ? c.fail : 2;
	for (uint64_t v = 0; v < nvars && !c.fail; v++) {
		uint64_t nd, size = 1, begin, type;
		int is_rec = 0, sz;

		skip_name(&c);
		nd = get_count(&c);
		if (nd > MAX_DIMS) {
			c.fail = 2;
			break;
		}
		for (uint64_t k = 0; k < nd && !c.fail; k++) {
			uint64_t id = get_count(&c);

			if (id >= ndims) {
				c.fail = 2;
				break;
			}
			if (dimlen[id] == 0 && k == 0)
				is_rec = 1;
			else if (dimlen[id] && size <= UINT64_MAX / dimlen[id])
				size *= dimlen[id];
			else if (dimlen[id])
				c.fail = 2;
		}
		skip_atts(&c);
		type = get_be(&c, 4);
		get_count(&c);	/* vsize: recomputed, it overflows for large variables */
		begin = get_be(&c, c.version == 1 ? 4 : 8);
		sz = type_size(type);
		if (c.fail)
			break;
		if (!sz || size > UINT64_MAX / 16) {
			c.fail = 2;
			break;
		}
		size *= (uint64_t)sz;
		if (is_rec) {
			recsize += pad4(size);
			nrecvars++;
			last_rec_unpadded = size;
			if (begin >= rec_begin_max) {
				rec_begin_max = begin;
				rec_tail = size;
			}
		} else if (begin + size > end) {
			end = begin + size;
		}
	}
	if (!c.fail && numrecs > 0 && nrecvars > 0) {
		/* a lone record variable is not padded between records */
		if (nrecvars == 1)
			recsize = last_rec_unpadded;
		if (numrecs - 1 > (UINT64_MAX - rec_begin_max - rec_tail) / (recsize ? recsize : 1))
			c.fail = 2;
		else if (rec_begin_max + (numrecs - 1) * recsize + rec_tail > end)
			end = rec_begin_max + (numrecs - 1) * recsize + rec_tail;
	}
done:
	free(dimlen);
	if (c.fail == 1) {
		if (need)
			*need = len < MAX_HEADER / 2 ? len * 2 + 4096 : MAX_HEADER;
		return wc_error_set(err, WC_EFORMAT, "the header is cut off after %zu bytes", len);
	}
	if (c.fail)
		return wc_error_set(err, WC_EFORMAT, "malformed header near byte %zu", c.off);
	*required = end > c.off ? end : c.off;
	return ret;
}

enum wc_status nc3_check_size(const char *path, const void *buf, size_t size,
			      const char *label, struct wc_error *err)
{
	uint8_t *head = NULL;
	size_t want = 65536, got = 0, need = 0;
	uint64_t required = 0, actual = size;
	enum wc_status ret;
	FILE *f = NULL;

	if (!buf) {
		struct stat sb;

		if (stat(path, &sb) != 0)
			return wc_error_set(err, WC_EIO, "cannot open '%s': %s", label,
					    strerror(errno));
		actual = (uint64_t)sb.st_size;
		f = fopen(path, "rb");
		if (!f)
			return wc_error_set(err, WC_EIO, "cannot open '%s': %s", label,
					    strerror(errno));
	}
	for (;;) {
		if (buf) {
			ret = nc3_required_size(buf, size, &required, &need, err);
			break;
		}
		if (want > actual)
			want = (size_t)actual;
		uint8_t *nh = realloc(head, want ? want : 1);

		if (!nh) {
			ret = wc_error_set(err, WC_ENOMEM, "out of memory");
			break;
		}
		head = nh;
		got += fread(head + got, 1, want - got, f);
		ret = nc3_required_size(head, got, &required, &need, err);
		/* stop unless the header may continue in bytes not read yet */
		if (ret != WC_EFORMAT || got < want || got >= actual || need <= want ||
		    want >= MAX_HEADER)
			break;
		want = need;
	}
	if (f)
		fclose(f);
	free(head);
	if (ret == WC_EUNSUPPORTED) {
		if (err) {
			err->code = WC_OK;
			err->msg[0] = '\0';
		}
		return WC_OK;	/* not classic: HDF5 checks itself */
	}
	if (ret == WC_EFORMAT)
		return wc_error_prefix(err, "cannot read '%s' (truncated or corrupt)", label);
	if (ret)
		return ret;
	if (actual < required)
		return wc_error_set(err, WC_EFORMAT,
				    "cannot read '%s': truncated: the header describes %llu bytes "
				    "of data but the file has %llu",
				    label, (unsigned long long)required,
				    (unsigned long long)actual);
	return WC_OK;
}
