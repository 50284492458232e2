/*
 * model.h - a farm's trained forecaster: its feature configuration, the quantile MLP
 * ensemble (forecast/nn.h), the training range and the validation scores per lead, saved
 * as DATA/models/<farm>/<version>.wcm (forecast/modelfile.h) and recorded in the store.
 *
 * Training (farm_model_train) loads the farm and its regional farms once for issue times
 * up to `to` (so targets and inputs are all observed by then), builds a row per (issue
 * time, lead) with forecast/features, splits them by issue time (the last val_frac of
 * issue times validate, for early stopping and scores), trains K members, and scores the
 * ensemble median per lead against persistence, climatology and a power curve fitted on
 * the training rows. With refit, it then trains again on all rows (validation ones
 * included: they are the most recent) for the epochs early stopping chose; the scores
 * stay those of the validated fit. With obs_dropout, a share of the training issue times
 * lose each farm's observed power (a telemetry gap). The model records its online
 * adaptation (forecast/adapt.h) and where its replay may start (adapt_from).
 *
 * The model file's metadata block holds key=value lines: farm, version, train_from,
 * train_to, obs_to, n_rows, delay_s, point (median or mean), smooth, adapt
 * (adapt_config_format), adapt_from, features (feature_config_format) and scores
 * (one-line JSON).
 */
#ifndef WC_MODEL_H
#define WC_MODEL_H

#include <jansson.h>
#include <stdint.h>

#include "common/status.h"
#include "data/store.h"
#include "forecast/adapt.h"
#include "forecast/features.h"
#include "forecast/nn.h"

struct train_options {
	int64_t from, to;		/* issue times; INT64_MIN / INT64_MAX for all */
	int64_t issue_every;		/* seconds between issue times; 0: run deliveries */
	int short_leads;		/* > 0: extra issue times every short_every between */
	int64_t short_every;		/* those, with leads 1..short_leads (training only) */
	double val_frac;		/* share of issue times held out, 0 .. MODEL_MAX_VAL_FRAC */
	enum { VAL_TAIL, VAL_WEEKLY } val_mode;	/* the latest issue times, or every
						 * round(1 / val_frac)-th week */
	bool point_mean;		/* the model's point forecast is its mean, not median */
	int smooth;			/* lead smoothing half-width, 0..MODEL_SMOOTH_MAX */
	bool refit;			/* after validating, train again on every row for the
					 * epochs early stopping chose */
	double obs_dropout;		/* share of (farm, issue time) pairs of the training
					 * rows whose observed power is hidden, 0..MODEL_MAX_OBS_DROPOUT */
	const int64_t (*hide_obs)[2];	/* borrowed, may be NULL: n_hide_obs intervals
					 * [from, to] of hour-ending times whose observations
					 * (every farm's: targets, lags, regional power) the
					 * training does not read, as if flagged outage */
	size_t n_hide_obs;
	struct adapt_config adapt;	/* the online adaptation it forecasts with */
	struct feature_config features;
	struct nn_config nn;
};

/*
 * Defaults: all data, issue times at run deliveries, 15 % validation, features as
 * feature_config_init, nn: 2 hidden layers of 64, ReLU, dropout 0.1, the 21 default
 * quantile levels, lr 2e-3, 60 epochs, patience 8, batch 256, K = 3, seed 1, 1 BLAS
 * thread, members trained on train_default_workers() threads at once, quiet.
 */
void train_options_init(struct train_options *o);

/* The online CPUs, 1..NN_MAX_MEMBERS: members trained at once by default (the result is
 * bit-identical for any count). */
int train_default_workers(void);

#define MODEL_SMOOTH_MAX 6
#define MODEL_MAX_VAL_FRAC 0.5	/* share of issue times held out for validation */
#define MODEL_MAX_OBS_DROPOUT 0.5	/* share of training issue times without power */

struct farm_model {
	char farm_id[FARM_ID_MAX + 1];
	int version;			/* 0 until saved */
	struct feature_config features;
	struct nn_model *nn;		/* owned unless nn_borrowed */
	bool nn_borrowed;		/* a pool's farms after the first share its network */
	int64_t train_from, train_to;	/* first and last issue time of the rows */
	int64_t obs_to;			/* the latest hour-ending time of an observation
					 * its rows read (a target); 0: unknown (a model
					 * saved before windcast recorded it) */
	int64_t n_rows;
	bool point_mean;		/* point forecast: mean of the quantiles, else median */
	int smooth;			/* lead smoothing half-width (farm_model_smooth) */
	struct adapt_config adapt;	/* online adaptation (forecast/adapt.h); off in models
					 * from before it */
	int64_t adapt_from;		/* from this issue time on its network was fitted on no
					 * row (the validation tail's first, else the latest
					 * target time): where the adaptation's replay may start */
	double train_seconds;
	char *scores;			/* one-line JSON, owned */
};

/*
 * Train a model of farm `farm_id` from the store. On success *out is owned by the caller
 * (farm_model_free). WC_ENODATA when the farm has no usable rows (no NWP or no
 * observations in range), WC_EINVAL for bad options.
 */
enum wc_status farm_model_train(struct store *st, const char *farm_id,
				const struct train_options *o, struct farm_model **out,
				struct wc_error *err);

/*
 * Save as the farm's next version under DATA/models/<farm>/ and record it in the store;
 * sets m->version. The file is written atomically; on failure nothing is recorded.
 */
enum wc_status farm_model_save(struct store *st, struct farm_model *m, struct wc_error *err);
/*
 * Save n models (a pool's farms) the same way, all or none: on failure no version is
 * recorded, the files written are removed and every m[i]->version is 0.
 */
enum wc_status farm_models_save(struct store *st, struct farm_model **m, int n,
				struct wc_error *err);

/*
 * Load a farm's model (version <= 0: the newest). WC_ENOTFOUND (with a train hint) when
 * there is none; file errors as nn_model_load. *out owned by the caller.
 */
enum wc_status farm_model_load(struct store *st, const char *farm_id, int version,
			       struct farm_model **out, struct wc_error *err);

/*
 * Train one network for the n_farms farms ids (2..FEAT_MAX_REGIONAL): every farm's rows
 * as farm_model_train builds them, with a one-hot of the farm among the inputs and, when
 * o->features has regional farms at all, every farm of the pool as regional inputs in the
 * order of ids (so all rows have the same columns). The validation split is each farm's
 * latest val_frac of issue times. On success out[i] is farm ids[i]'s model with its own
 * validation scores; out[1..] borrow out[0]'s network: free them first, out[0] last.
 */
enum wc_status farm_model_train_pool(struct store *st, const char *const *ids, int n_farms,
				     const struct train_options *o, struct farm_model **out,
				     struct wc_error *err);

void farm_model_free(struct farm_model *m);

/* {farm, version, rows, train_from, train_to, train_seconds, adaptation, scores} of a
 * trained model, as the CLI and the API report it; NULL on allocation failure. */
json_t *farm_model_json(const struct farm_model *m);

/*
 * What `--model auto` serves for m's farm: whichever of m's network and the baselines
 * has the lowest overall validation RMSE in m's scores (the network's point is its
 * median, or with `mean` the mean of its quantiles). -1 for the network, else an enum
 * baseline; a baseline must score strictly lower. Baselines without a score (no curve
 * could be fitted) are left out; a model without scores keeps its network. `why` (len
 * bytes) gets the comparison, e.g. "powercurve: validation RMSE 0.1330 < nn (model 2)
 * 0.4580; persistence 0.3000, climatology 0.3400".
 */
int farm_model_auto_choice(const struct farm_model *m, bool mean, char *why, size_t len);

/* Index of the quantile level nearest 0.5 (the point forecast). */
int farm_model_median(const struct farm_model *m);

/*
 * Lead smoothing of half-width K (train --smooth K): row i's nq quantiles in `out` become
 * the mean of rows i-K..i+K of `q` weighted K + 1 - |d| (d the lead distance), over the
 * neighbours present, renormalised. Rows j and i are neighbours at distance d = j - i
 * when T[j] == T[i] and lead[j] - lead[i] == d; T and lead NULL: the rows are leads 1..n
 * of one issue time. A mean of ordered quantile vectors stays ordered, and one of values
 * in [0, 1] stays there. K = 0 copies. q and out must not overlap.
 */
void farm_model_smooth(int K, const float *q, float *out, int n, int nq, const int64_t *T,
		       const int *lead);

#endif
