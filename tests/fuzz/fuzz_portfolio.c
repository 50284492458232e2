/*
 * fuzz_portfolio.c - libFuzzer harness over the portfolio JSON (portfolio_from_json, the
 * body of POST and PUT /v1/portfolios, with its market settings through
 * market_from_json, the body of PUT /v1/farms/{id}/market) and the farm list text
 * (portfolio_set_farms, as `portfolio add --farms a,b,c` reads it).
 *
 * Checked on every accepted portfolio: it validates, and it survives a round trip
 * portfolio_to_json -> portfolio_from_json unchanged (id, name, farms in order, every
 * market setting bit for bit); accepted market settings round-trip too.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "data/market.h"
#include "data/portfolio.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what, const char *msg)
{
	fprintf(stderr, "%s: %s\n", what, msg);
	abort();
}

static bool same_double(double a, double b)
{
	return (isnan(a) && isnan(b)) || a == b;
}

static bool same_market(const struct market_settings *a, const struct market_settings *b)
{
	return same_double(a->price, b->price) && same_double(a->psi_plus, b->psi_plus) &&
	       same_double(a->psi_minus, b->psi_minus) && a->gate_min == b->gate_min &&
	       !strcmp(a->time_zone, b->time_zone) && same_double(a->min_mw, b->min_mw) &&
	       same_double(a->max_mw, b->max_mw);
}

static void portfolio_round_trip(const struct portfolio *p)
{
	static struct portfolio q;	/* 200 ids: too large for the stack */
	struct wc_error err = { 0 };
	json_t *v;

	if (portfolio_validate(p, &err))
		fail("accepted portfolio does not validate", err.msg);
	if (!(v = portfolio_to_json(p)))
		abort();
	/* the reply's read-only fields (capacity, times) are not part of a request body */
	json_object_del(v, "capacity_mw");
	json_object_del(v, "created_at");
	json_object_del(v, "updated_at");
	if (portfolio_from_json(v, NULL, &q, &err))
		fail("portfolio_to_json output refused", err.msg);
	json_decref(v);
	if (strcmp(p->id, q.id) || strcmp(p->name, q.name) || p->nfarms != q.nfarms ||
	    !same_market(&p->market, &q.market))
		fail("round trip", p->id);
	for (int i = 0; i < p->nfarms; i++)
		if (strcmp(p->farms[i], q.farms[i]))
			fail("round trip: farms differ", p->farms[i]);
}

static void market_round_trip(const struct market_settings *m)
{
	struct wc_error err = { 0 };
	struct market_settings n;
	json_t *v;

	if (market_validate(m, &err))
		fail("accepted market settings do not validate", err.msg);
	if (!(v = market_to_json(m)))
		abort();
	if (market_from_json(v, &n, &err))
		fail("market_to_json output refused", err.msg);
	json_decref(v);
	if (!same_market(m, &n))
		fail("market round trip", "settings differ");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct portfolio p;
	struct wc_error err = { 0 };
	struct market_settings m;
	json_t *v;
	char *text;

	log_set_level(LOG_OFF);
	v = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
	if (v) {
		if (portfolio_from_json(v, NULL, &p, &err) == WC_OK)
			portfolio_round_trip(&p);
		if (portfolio_from_json(v, "from-path", &p, &err) == WC_OK)
			portfolio_round_trip(&p);
		if (market_from_json(v, &m, &err) == WC_OK)
			market_round_trip(&m);
		json_decref(v);
	}
	/* the --farms list, as a C string (a NUL inside ends it, as on a command line) */
	if (size <= 64 * 1024 && (text = malloc(size + 1))) {
		memcpy(text, data, size);
		text[size] = '\0';
		portfolio_init(&p);
		if (portfolio_set_farms(&p, text, &err) == WC_OK) {
			if (p.nfarms < 1 || p.nfarms > PORTFOLIO_MAX_FARMS)
				fail("accepted farm list", "count out of range");
			for (int i = 0; i < p.nfarms; i++)
				for (int j = i + 1; j < p.nfarms; j++)
					if (!strcmp(p.farms[i], p.farms[j]))
						fail("accepted farm list names a farm twice", p.farms[i]);
		}
		free(text);
	}
	return 0;
}
