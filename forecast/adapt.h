/*
 * adapt.h - online adaptation of a trained model between retrains (WPPT's recursive
 * correction): per lead block, the observed power y is fitted as a + b f on the
 * network's own point forecast f, by least squares with exponential forgetting, and the
 * forecast's quantiles q become a + b q (clipped to [0, 1]). A farm that lost a turbine
 * (b about 0.7), a new NWP version or icing (a bias) is followed within days, without
 * retraining.
 *
 * The state is a pure function of the model and of the data available at the issue time
 * T (a deterministic replay, so that the backtest and the server agree and nothing later
 * than T can enter): the model's forecasts at every replay issue time t in [start(T), T)
 * (the NWP runs' deliveries, as training's issue times; every 24 h with leads 1..24 for a
 * model of analyses alone), and each pair (f, y) of lead h whose valid time v = t + h is
 * observed by T (v <= T, the availability rule). Pair weights halve every half-life of
 * T - v. Each block's fit minimises
 *
 *     sum_i w_i (y_i - a - b f_i)^2 + prior (a^2 + (b - 1)^2)
 *
 * that is recursive least squares with exponential forgetting started from the identity
 * (a, b) = (0, 1) with precision `prior`, whose start is never forgotten: a block without
 * recent observations returns to the identity instead of drifting.
 *
 * start(T) = max(from, T - ADAPT_WINDOW_HALF_LIVES half-lives): `from` is the first issue
 * time whose rows the model's network was not fitted on (its validation tail, or its last
 * training issue time after a refit), recorded in the model when it is trained, so a new
 * model starts afresh ("train resets it") from what it has not seen. Weights beyond the
 * window are below 2^-8.
 *
 * This module holds the pairs and the fit; forecast/forecast.c drives the replay (it owns
 * the model's rows and the network).
 */
#ifndef WC_ADAPT_H
#define WC_ADAPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/status.h"
#include "forecast/series.h"

#define ADAPT_MAX_BLOCKS 8
#define ADAPT_WINDOW_HALF_LIVES 8
#define ADAPT_MAX_PAIRS ((size_t)4 << 20)	/* pairs one replay may hold (96 MB) */
#define ADAPT_MIN_HALF_LIFE_H 6
#define ADAPT_MAX_HALF_LIFE_H (24 * 90)
#define ADAPT_MAX_PRIOR 100000.0
#define ADAPT_NWP_ONLY_LEADS 24	/* replay leads of a model of analyses (daily issues) */

/* How a model adapts (train --adapt, --adapt-half-life, --adapt-prior). */
struct adapt_config {
	bool on;
	int64_t half_life_s;		/* of T - v, seconds */
	double prior;			/* precision of the identity, in hours of data */
};

/* Off, with the defaults for half-life and prior when it is turned on. */
void adapt_config_init(struct adapt_config *c);

/* "on half_life_s=604800 prior=24" (or "off ..."), and its parser (unknown keys and
 * values out of range are refused; WC_EFORMAT). */
void adapt_config_format(const struct adapt_config *c, char *buf, size_t len);
enum wc_status adapt_config_parse(const char *text, struct adapt_config *c,
				  struct wc_error *err);

/* The lead blocks: 1-6, 7-12, 13-24, 25-48, 49-168, 169-... ; one block (all leads)
 * for a model of analyses alone. Returns the block of lead h (>= 1). */
int adapt_block_of(bool nwp_only, int lead);
/* The blocks that leads 1..max_lead reach. */
int adapt_block_count(bool nwp_only, int max_lead);
/* The first and last lead of block i (last INT32_MAX for the open one). */
void adapt_block_leads(bool nwp_only, int i, int *lo, int *hi);

/* What an adaptation did to one forecast, as the reply reports it. */
struct adapt_report {
	bool on;			/* applied (else nothing below is meaningful) */
	int64_t since;			/* start(T): the first replayed issue time */
	int64_t as_of;			/* the latest valid time observed and used; 0: none */
	int64_t pairs;			/* observed pairs behind the fit */
	double size;			/* mean |adapted - raw| point over the leads, of capacity */
	int nblocks;
	struct {
		int lo, hi;		/* leads */
		double a, b;		/* y = a + b f */
		double weight;		/* sum of the pair weights: hours of data, forgotten */
	} block[ADAPT_MAX_BLOCKS];
};

/* The replay's pairs of one farm and model, in the order they were added. */
struct adapter {
	struct adapt_config cfg;
	bool nwp_only;
	int max_lead;			/* the model's leads: which blocks it has */
	int64_t from;			/* the model's first unseen issue time */
	int64_t replayed;		/* issue times <= this are in pairs; INT64_MIN: none */
	size_t n, cap;
	struct adapt_pair {
		int64_t t, v;		/* issue and valid time */
		float f;		/* the network's point at v, issued at t */
		int block;
	} *pair;			/* (n) owned, at most ADAPT_MAX_PAIRS */
};

void adapter_init(struct adapter *a, const struct adapt_config *cfg, bool nwp_only,
		  int64_t from, int max_lead);
void adapter_release(struct adapter *a);

/* start(T) for this adapter (see the top of the file). */
int64_t adapter_start(const struct adapter *a, int64_t T);

/* Forget the pairs (a replay must start again, e.g. for an earlier issue time). */
void adapter_reset(struct adapter *a);

/*
 * Add the forecast issued at t: point[h - 1] for leads h = 1..nlead (NaN: none). Issue
 * times must come in increasing order (a->replayed < t); WC_ETOOLARGE past
 * ADAPT_MAX_PAIRS, WC_ENOMEM.
 */
enum wc_status adapter_add(struct adapter *a, int64_t t, const float *point, int nlead,
			   struct wc_error *err);

/*
 * The fit at issue time T from the pairs with t >= start(T) whose valid time is observed
 * in s by T (farm_series_obs(s, v, T)). Fills r (on, since, as_of, pairs, blocks; size 0).
 */
void adapter_fit(const struct adapter *a, const struct farm_series *s, int64_t T,
		 struct adapt_report *r);

/*
 * Apply r to the nq ordered quantiles q of lead h in place (a + b q, clipped to [0, 1]:
 * b > 0 keeps them ordered).
 */
void adapt_apply(const struct adapt_report *r, bool nwp_only, int lead, float *q, int nq);

#endif
