/*
 * train_request.h - a training request as the CLI, the API and (later) the batch make it:
 * what to train (one farm, every farm in turn, or one network for a pool of farms), the
 * regional farms and the training options. One library path checks it, resolves it
 * against the store and runs it (set the regional farms, train, save), so that a front end
 * only parses its input, calls train_request_*() and prints or serialises the outcome.
 *
 * The option table. Every training option is one row of train_option_table (redis's
 * command table, git's parse-options): its name, the kind of value, the range, the
 * default, the help text and where the value lands in struct train_request. The CLI's
 * getopt_long options, the JSON fields of POST /v1/farms/{id}/train, the usage text and
 * the option lists of docs/cli.md and docs/api.md all come from it; ranges live only
 * there (or in the hard limits of nn.h, features.h and model.h that it names).
 *
 * Names. The CLI spells an option --name; JSON uses the same name with '_' for '-'
 * (--weight-decay, "weight_decay"). A value is parsed from its CLI text; a JSON value of
 * the fitting type is first written as that text (numbers exactly, %.17g), so one input
 * gives the same train_options by either route, and a bad value gets the same hint:
 *     invalid --dropout '2': use 0..0.9          (TRAIN_CLI)
 *     invalid 'dropout' 2: use 0..0.9            (TRAIN_JSON)
 * JSON null for an option keeps its default.
 *
 * Lifecycle: train_request_init(), then the subject (r->farm, r->all_farms, or a pool by
 * train_request_set_pool / the JSON "pool"), options (train_option_set or
 * train_request_json), then train_request_resolve() against the store, then
 * train_request_run(). Errors are enum wc_status with a message that names the field as
 * the front end spells it: WC_EINVAL for a bad request (CLI exit 2, HTTP 400),
 * WC_ENOTFOUND for a farm that does not exist (CLI exit 1, HTTP 404). Nothing here exits;
 * every function is safe on a request path.
 */
#ifndef WC_TRAIN_REQUEST_H
#define WC_TRAIN_REQUEST_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/status.h"
#include "data/farm.h"
#include "data/store.h"
#include "forecast/features.h"
#include "forecast/model.h"

/* How messages name a field and show a value: --name 'text', or 'name' <json>. */
enum train_style { TRAIN_CLI, TRAIN_JSON };

#define TRAIN_REGIONAL_MAX 512	/* bytes of a regional spec, NUL included */

struct train_request {
	enum train_style style;
	/* the farm to train; with a pool, a farm that must be one of it ("" for none) */
	char farm[FARM_ID_MAX + 1];
	bool all_farms;			/* every farm of the store, each in turn (CLI --farm all) */
	bool pool_all;			/* the pool is every farm of the store (resolve fills pool) */
	int n_pool;			/* 0: no pool; else 2..FEAT_MAX_REGIONAL once resolved */
	char pool[FEAT_MAX_REGIONAL][FARM_ID_MAX + 1];
	char regional[TRAIN_REGIONAL_MAX];	/* none, all, <R>km or farm ids */
	struct train_options o;
};

/* ---- the option table ------------------------------------------------------------ */

enum train_opt_type {
	TOPT_INT,	/* an integer in [min, max]; stored as int, int64_t or uint64_t */
	TOPT_NUMBER,	/* a number in [min, max] (min excluded with TOPT_MIN_OPEN); float or
			 * double */
	TOPT_HOURS,	/* hours in [min, max], stored as int64_t seconds (rounded) */
	TOPT_BOOL,	/* a flag: no argument on the CLI, true/false in JSON; bool (negated
			 * with TOPT_INVERT: --no-prev-run clears prev_run) */
	TOPT_ENUM,	/* one of words[], stored as its index (an int-sized enum or a bool) */
	TOPT_INTS,	/* min_count..max_count integers in [min, max], "a,b" ("none" or "":
			 * none); int array, its count at count_offset */
	TOPT_LEVELS,	/* quantile levels, forecast_parse_levels' syntax, strictly increasing
			 * after sorting, min_count..max_count; float array, count at count_offset */
	TOPT_TIME,	/* ISO 8601 UTC; int64_t seconds */
	TOPT_TEXT,	/* a string shorter than the field, checked by train_request_resolve */
};

enum {
	TOPT_MIN_OPEN = 1 << 0,	/* the range excludes min */
	TOPT_INVERT = 1 << 1,	/* a flag that clears its bool */
	TOPT_DEF_WORDS = 1 << 2,	/* def describes the default in words, not as a value */
};

struct train_option {
	const char *name;		/* the CLI's --name; JSON: with '_' for '-' */
	enum train_opt_type type;
	const char *arg;		/* usage metavariable ("N", "P", "LIST"); NULL for flags */
	double min, max;		/* the value's range, or each list element's */
	int min_count, max_count;	/* lists: how many elements */
	const char *const *words;	/* enum: the accepted words, NULL-terminated */
	unsigned flags;
	const char *def;		/* the default as CLI text (or in words: TOPT_DEF_WORDS);
					 * NULL for flags */
	const char *example;		/* lists and text: what a value looks like */
	const char *help;		/* one sentence for the usage text and the docs */
	size_t offset, size;		/* the value in struct train_request */
	size_t count_offset;		/* lists: the int element count in struct train_request */
};

extern const struct train_option train_option_table[];
extern const size_t train_option_count;

/* The option called `name` in the given style (CLI "weight-decay", JSON "weight_decay");
 * NULL when none is. */
const struct train_option *train_option_find(const char *name, enum train_style style);

/*
 * Set option opt of r from its CLI text (NULL for a flag, which sets it). WC_EINVAL with
 * "invalid <field> <value>: use <range>" in r's style on a bad value (r unchanged).
 */
enum wc_status train_option_set(struct train_request *r, const struct train_option *opt,
				const char *text, struct wc_error *err);

/* The hint a bad value gets ("use 0..0.9"), into buf of len bytes; returns buf. */
const char *train_option_hint(const struct train_option *opt, char *buf, size_t len);

/* What the docs and the usage text print; see train_options_doc. */
enum train_doc {
	TRAIN_DOC_SYNOPSIS,	/* "[--from ISO] [--to ISO] ..." wrapped, for a usage line */
	TRAIN_DOC_USAGE,	/* one entry per option: "  --name ARG  help (range; default)" */
	TRAIN_DOC_CLI_MD,	/* the Markdown table of docs/cli.md */
	TRAIN_DOC_JSON_MD,	/* the Markdown table of docs/api.md (JSON names and types) */
};

/* The table as text of the given kind: malloc'd (free it); cut short when memory runs
 * out (NULL when none could be had). */
char *train_options_doc(enum train_doc what);

/* ---- a request ------------------------------------------------------------------- */

/*
 * Empty request in `style`: no farm, no pool, regional "none", options as
 * train_options_init.
 */
void train_request_init(struct train_request *r, enum train_style style);

/*
 * The pool from the CLI's text: "all" (every farm of the store, resolved later) or
 * 2..FEAT_MAX_REGIONAL comma-separated farm ids, each once. WC_EINVAL on a bad spec.
 */
enum wc_status train_request_set_pool(struct train_request *r, const char *spec,
				      struct wc_error *err);

/*
 * Fill r from a JSON object (the body of POST /v1/farms/{id}/train): "pool" ("all" or
 * an array of farm ids) and any option of the table by its JSON name. WC_EINVAL for a
 * body that is not an object, an unknown field (the message lists the valid ones) or a
 * bad value of a fitting or unfitting JSON type. Borrows body.
 */
enum wc_status train_request_json(struct train_request *r, const json_t *body,
				  struct wc_error *err);

/*
 * Check r and resolve it against the store, before any training: the cross-field rules
 * (from before to; with a pool, regional none or all; --short-leads without
 * --short-every trains them hourly), the farm exists (WC_ENOTFOUND), a pool "all" becomes
 * the store's farms in id order (2..FEAT_MAX_REGIONAL of them, else WC_EINVAL), each
 * listed pool farm exists (WC_ENOTFOUND), the farm is one of the pool when both are given
 * (WC_EINVAL), every farm of all_farms exists at all (WC_ENOTFOUND when the store has
 * none), and the regional spec resolves for each farm to train (WC_EINVAL,
 * WC_ENOTFOUND). Exactly one of farm, all_farms and a pool must be given (WC_EINVAL).
 * Logs nn_blas_warn_slow_kernels()'s warning first (once per process).
 */
enum wc_status train_request_resolve(struct train_request *r, struct store *st,
				     struct wc_error *err);

/*
 * The outcome of one farm's training: its model on success (borrowed for the call: it is
 * freed after), else NULL and the error. farm_id is NULL for the failure of a pool as a
 * whole (training or an all-or-none save: no farm of it got a new version).
 */
typedef void (*train_report_fn)(void *arg, const char *farm_id, const struct farm_model *m,
				const struct wc_error *err);

/*
 * Run a resolved request: for each farm (in store order with all_farms) set its regional
 * farms from the spec, train, save as its next version and report; or train the pool's
 * network and save it as each farm's next version, all or none, reporting each farm in
 * pool order. With all_farms a failed farm is reported and the next one trains. Returns
 * WC_OK when every model was saved, else the first failure's status and message in err
 * (already reported through fn, which may be NULL).
 */
enum wc_status train_request_run(const struct train_request *r, struct store *st,
				 train_report_fn fn, void *arg, struct wc_error *err);

/*
 * Train a resolved request of one farm (r->farm, not all_farms) or a pool as
 * train_request_run does, without saving anything: the models it would save, version 0,
 * in out[0..*n) (one for a farm; a pool's farms in pool order, out[1..] borrowing
 * out[0]'s network). out has room for FEAT_MAX_REGIONAL models. On success they are
 * the caller's (train_models_free); on failure *n is 0 and nothing is left to free. For
 * callers that forecast with a model they will not keep (the backtest); WC_EINVAL for
 * a request of every farm.
 */
enum wc_status train_request_train(const struct train_request *r, struct store *st,
				   struct farm_model **out, int *n, struct wc_error *err);

/* Free n models from train_request_train (borrowers first), setting each to NULL. */
void train_models_free(struct farm_model **m, int n);

/*
 * r as a JSON body: {"pool" (when one: the farm ids once resolved), and every option of
 * the table by its JSON name}, null for a default described in words (all data, each
 * run's delivery). Fed back to train_request_json it gives the same request. A new
 * reference; NULL when out of memory.
 */
json_t *train_request_to_json(const struct train_request *r);

#endif
