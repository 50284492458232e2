/*
 * portfolio.h - the portfolio registry: a named set of registered farms traded together,
 * with its market settings; and the market settings of single farms. The records, their
 * validation, JSON and CSV forms, and their store calls (SQL in data/store_portfolio.c).
 *
 * Invariants of a valid portfolio (portfolio_validate): id as a farm id (farm_id_valid;
 * portfolios have their own namespace), name 1..FARM_NAME_MAX bytes of UTF-8 without
 * control characters, 1..PORTFOLIO_MAX_FARMS farms, each a valid farm id, none twice,
 * market settings valid (market_validate). The store adds: every farm registered. A farm
 * that belongs to a portfolio cannot be removed until the portfolio no longer lists it
 * (store_farm_delete says which portfolio).
 *
 * What a portfolio forecasts and commits is trading/'s (trading/portfolio.h).
 */
#ifndef WC_PORTFOLIO_H
#define WC_PORTFOLIO_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/dynbuf.h"
#include "common/status.h"
#include "data/farm.h"
#include "data/market.h"
#include "data/store.h"

#define PORTFOLIO_MAX_FARMS 200

struct portfolio {
	char id[FARM_ID_MAX + 1];
	char name[FARM_NAME_MAX + 1];
	int nfarms;
	char farms[PORTFOLIO_MAX_FARMS][FARM_ID_MAX + 1];	/* in the order given */
	struct market_settings market;
	double capacity_mw;		/* the farms' sum, set by the store on reads */
	int64_t created_at, updated_at;	/* set by the store; 0 before */
};

/* An empty portfolio (no farms, market settings unset). */
void portfolio_init(struct portfolio *p);

/* Check every invariant above but the store's; the message names the rule broken. */
enum wc_status portfolio_validate(const struct portfolio *p, struct wc_error *err);

/*
 * Set p's farms from a comma-separated list "a,b,c" (at most PORTFOLIO_MAX_FARMS). An
 * empty list, an empty item, an invalid id or a farm named twice is WC_EINVAL naming it.
 */
enum wc_status portfolio_set_farms(struct portfolio *p, const char *list,
				   struct wc_error *err);

/*
 * Fill *p from a JSON object: id (unless id_override, which wins; a differing "id" is an
 * error), farms (array of farm ids), name (optional, default the id), market (optional
 * object, see market_from_json). Unknown fields are refused. Validates the result.
 */
enum wc_status portfolio_from_json(const json_t *obj, const char *id_override,
				   struct portfolio *p, struct wc_error *err);

/* A new JSON object: id, name, farms, capacity_mw, market, created_at, updated_at. */
json_t *portfolio_to_json(const struct portfolio *p);

/*
 * Append portfolios[0..n) to b as CSV: "id,name,capacity_mw,nfarms,farms" with farms
 * joined by ';'. WC_ETOOLARGE at b's cap, WC_ENOMEM.
 */
enum wc_status portfolio_csv_write(struct dynbuf *b, const struct portfolio *p, size_t n);

/* ---- the store (data/store_portfolio.c) ---- */

/*
 * Insert; WC_EEXIST if the id is taken, WC_EINVAL naming a farm that is not registered.
 * Validates first; sets created_at and updated_at.
 */
enum wc_status store_portfolio_add(struct store *st, struct portfolio *p, struct wc_error *err);
/* Insert or replace (farms and settings); *created tells which. */
enum wc_status store_portfolio_put(struct store *st, struct portfolio *p, bool *created,
				   struct wc_error *err);
/* WC_ENOTFOUND "no portfolio 'x'" when absent. */
enum wc_status store_portfolio_get(struct store *st, const char *id, struct portfolio *out,
				   struct wc_error *err);
enum wc_status store_portfolio_delete(struct store *st, const char *id, struct wc_error *err);
/* All portfolios ordered by id; *out malloc'd (free it), NULL when *n == 0. */
enum wc_status store_portfolio_list(struct store *st, struct portfolio **out, size_t *n,
				    struct wc_error *err);

/*
 * A farm's stored market settings (every field unset when it has none). WC_ENOTFOUND
 * when the farm does not exist.
 */
enum wc_status store_farm_market_get(struct store *st, const char *farm_id,
				     struct market_settings *out, struct wc_error *err);
/* Replace them (validated first; empty settings remove them). WC_ENOTFOUND as above. */
enum wc_status store_farm_market_put(struct store *st, const char *farm_id,
				     const struct market_settings *m, struct wc_error *err);

#endif
