/*
 * adapt.c - the online adaptation's pairs and fit; see adapt.h.
 *
 * Limits: a fit reads every pair once (O(pairs)); a replay holds at most ADAPT_MAX_PAIRS.
 */
#include "forecast/adapt.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/utc.h"

#define DEFAULT_HALF_LIFE_H 72
#define DEFAULT_PRIOR 8.0
/*
 * The offset's prior weighs this many times the gain's: a power forecast f has a small
 * spread (its mean square is about a sixth of 1), so with equal priors a few calm days
 * would fit a drop in output as an offset rather than a gain, and follow a lost turbine
 * slowly. On GEFCom2012's validation 10 scored better than 1 and 100 (docs/accuracy.md).
 */
#define OFFSET_PRIOR 10.0
/* bounds of the gain: the prior keeps it near 1, these only guard odd data */
#define MIN_GAIN 0.05
#define MAX_GAIN 3.0

void adapt_config_init(struct adapt_config *c)
{
	c->on = false;
	c->half_life_s = (int64_t)DEFAULT_HALF_LIFE_H * UTC_HOUR;
	c->prior = DEFAULT_PRIOR;
}

void adapt_config_format(const struct adapt_config *c, char *buf, size_t len)
{
	snprintf(buf, len, "%s half_life_s=%lld prior=%.17g", c->on ? "on" : "off",
		 (long long)c->half_life_s, c->prior);
}

enum wc_status adapt_config_parse(const char *text, struct adapt_config *c,
				  struct wc_error *err)
{
	char word[8];
	long long hl;
	double prior;
	int used = 0;

	if (sscanf(text, "%7s half_life_s=%lld prior=%lf%n", word, &hl, &prior, &used) != 3 ||
	    text[used] || (strcmp(word, "on") && strcmp(word, "off")) ||
	    hl < (long long)ADAPT_MIN_HALF_LIFE_H * UTC_HOUR ||
	    hl > (long long)ADAPT_MAX_HALF_LIFE_H * UTC_HOUR || !(prior >= 0) ||
	    prior > ADAPT_MAX_PRIOR)
		return wc_error_set(err, WC_EFORMAT, "bad adaptation settings '%s'", text);
	c->on = !strcmp(word, "on");
	c->half_life_s = hl;
	c->prior = prior;
	return WC_OK;
}

/* Lead blocks of a lead-dependent model: the first lead of each, then the open end. */
static const int block_lo[] = { 1, 7, 13, 25, 49, 169 };
#define NBLOCKS ((int)(sizeof(block_lo) / sizeof(block_lo[0])))

int adapt_block_count(bool nwp_only, int max_lead)
{
	int n = 1;

	while (!nwp_only && n < NBLOCKS && block_lo[n] <= max_lead)
		n++;
	return n;
}

int adapt_block_of(bool nwp_only, int lead)
{
	int i = 0;

	if (nwp_only)
		return 0;
	while (i + 1 < NBLOCKS && lead >= block_lo[i + 1])
		i++;
	return i;
}

void adapt_block_leads(bool nwp_only, int i, int *lo, int *hi)
{
	if (nwp_only) {
		*lo = 1;
		*hi = INT32_MAX;
		return;
	}
	*lo = block_lo[i];
	*hi = i + 1 < NBLOCKS ? block_lo[i + 1] - 1 : INT32_MAX;
}

void adapter_init(struct adapter *a, const struct adapt_config *cfg, bool nwp_only,
		  int64_t from, int max_lead)
{
	memset(a, 0, sizeof(*a));
	a->cfg = *cfg;
	a->nwp_only = nwp_only;
	a->max_lead = max_lead;
	a->from = from;
	a->replayed = INT64_MIN;
}

void adapter_release(struct adapter *a)
{
	free(a->pair);
	memset(a, 0, sizeof(*a));
}

void adapter_reset(struct adapter *a)
{
	a->n = 0;
	a->replayed = INT64_MIN;
}

int64_t adapter_start(const struct adapter *a, int64_t T)
{
	int64_t w = (int64_t)ADAPT_WINDOW_HALF_LIVES * a->cfg.half_life_s;

	return T - w > a->from ? T - w : a->from;
}

enum wc_status adapter_add(struct adapter *a, int64_t t, const float *point, int nlead,
			   struct wc_error *err)
{
	if (t <= a->replayed)
		return wc_error_set(err, WC_EINTERNAL, "adaptation replay out of order");
	if (a->n + (size_t)nlead > a->cap) {
		size_t ncap = a->cap ? a->cap : 1024;
		struct adapt_pair *np;

		while (ncap < a->n + (size_t)nlead)
			ncap *= 2;
		if (ncap > ADAPT_MAX_PAIRS) {
			if (a->n + (size_t)nlead > ADAPT_MAX_PAIRS)
				return wc_error_set(err, WC_ETOOLARGE,
						    "adaptation replay too long (more than %zu "
						    "forecast hours)",
						    ADAPT_MAX_PAIRS);
			ncap = ADAPT_MAX_PAIRS;
		}
		if (!(np = realloc(a->pair, ncap * sizeof(*np))))
			return wc_error_set(err, WC_ENOMEM, "out of memory");
		a->pair = np;
		a->cap = ncap;
	}
	for (int h = 1; h <= nlead; h++) {
		if (!isfinite(point[h - 1]))
			continue;
		a->pair[a->n++] = (struct adapt_pair){ .t = t, .v = t + (int64_t)h * UTC_HOUR,
						       .f = point[h - 1],
						       .block = adapt_block_of(a->nwp_only, h) };
	}
	a->replayed = t;
	return WC_OK;
}

void adapter_fit(const struct adapter *a, const struct farm_series *s, int64_t T,
		 struct adapt_report *r)
{
	/* per block: the weighted sums of 1, f, f^2, y, f y */
	double S[ADAPT_MAX_BLOCKS][5];
	double ln2 = log(2.0), hl = (double)a->cfg.half_life_s;
	int64_t start = adapter_start(a, T);
	int nb = adapt_block_count(a->nwp_only, a->max_lead);

	memset(r, 0, sizeof(*r));
	memset(S, 0, sizeof(S));
	r->on = true;
	r->since = start;
	r->nblocks = nb;
	for (size_t i = 0; i < a->n; i++) {
		const struct adapt_pair *p = &a->pair[i];
		double w, f = p->f, y;

		if (p->t < start || p->v > T)
			continue;
		y = farm_series_obs(s, p->v, T);
		if (!isfinite(y))
			continue;
		w = exp(-ln2 * (double)(T - p->v) / hl);
		S[p->block][0] += w;
		S[p->block][1] += w * f;
		S[p->block][2] += w * f * f;
		S[p->block][3] += w * y;
		S[p->block][4] += w * f * y;
		r->pairs++;
		if (p->v > r->as_of)
			r->as_of = p->v;
	}
	for (int k = 0; k < nb; k++) {
		/* (S + diag(OFFSET_PRIOR prior, prior)) (a, b) = (Sy, Sfy) + prior (0, 1) */
		double k0 = a->cfg.prior;
		double m00 = S[k][0] + OFFSET_PRIOR * k0, m01 = S[k][1], m11 = S[k][2] + k0;
		double r0 = S[k][3], r1 = S[k][4] + k0;
		double det = m00 * m11 - m01 * m01;
		double aa = 0, bb = 1;

		if (det > 1e-12 * (m00 * m11) && det > 0) {
			aa = (m11 * r0 - m01 * r1) / det;
			bb = (m00 * r1 - m01 * r0) / det;
		}
		if (!(bb >= MIN_GAIN))
			bb = MIN_GAIN;
		if (bb > MAX_GAIN)
			bb = MAX_GAIN;
		if (!isfinite(aa))
			aa = 0;
		adapt_block_leads(a->nwp_only, k, &r->block[k].lo, &r->block[k].hi);
		r->block[k].a = aa;
		r->block[k].b = bb;
		r->block[k].weight = S[k][0];
	}
}

void adapt_apply(const struct adapt_report *r, bool nwp_only, int lead, float *q, int nq)
{
	int k = adapt_block_of(nwp_only, lead);
	double a, b;

	if (!r->on || k >= r->nblocks)
		return;
	a = r->block[k].a;
	b = r->block[k].b;
	for (int j = 0; j < nq; j++) {
		double v = a + b * q[j];

		q[j] = (float)(v < 0 ? 0 : v > 1 ? 1 : v);
	}
}
