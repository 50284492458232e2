/*
 * market.h - a farm's or a portfolio's market settings (DESIGN.md 8): the day-ahead price,
 * the two imbalance penalties, the gate closure, the market's time zone and optional
 * limits on what may be committed. The record the store keeps, its one table of fields
 * (names, ranges, what to write), its validation and its JSON form. What the settings
 * mean for a trading day (periods, gate closure instants, the commitment rule) is
 * trading/'s.
 *
 * Every field may be unset: a request's overrides, a farm's and a portfolio's stored
 * settings are merged (market_merge) over the defaults (gate closure 12:00 local time
 * the day before delivery, time zone UTC); price and penalties have no default.
 *
 * Units: price and penalties in currency per MWh (one currency throughout, unnamed);
 * limits in MW.
 */
#ifndef WC_MARKET_H
#define WC_MARKET_H

#include <jansson.h>
#include <stdbool.h>

#include "common/status.h"
#include "common/tz.h"

#define MARKET_PRICE_MAX 100000.0	/* currency per MWh; also the penalties' bound */
#define MARKET_MW_MAX 100000.0		/* farm_ranges' capacity bound */
#define MARKET_GATE_DEFAULT (12 * 60)	/* minutes: 12:00 the day before delivery */
#define MARKET_TZ_DEFAULT "UTC"

enum market_field {
	MARKET_PRICE, MARKET_PSI_PLUS, MARKET_PSI_MINUS, MARKET_GATE_CLOSURE, MARKET_TIME_ZONE,
	MARKET_MIN_MW, MARKET_MAX_MW, MARKET_NFIELDS
};

/* One field: its JSON key (and query parameter), CLI option, and what values it takes. */
struct market_field_info {
	const char *key;	/* "psi_plus" */
	const char *option;	/* "--psi-plus" */
	const char *hint;	/* "use a number 0..100000 (currency per MWh)" */
	const char *doc;	/* one line for the docs and --help */
};

extern const struct market_field_info market_fields[MARKET_NFIELDS];

struct market_settings {
	double price;		/* day-ahead price p; NaN: unset */
	double psi_plus;	/* surplus sold at p - psi_plus; NaN: unset */
	double psi_minus;	/* deficit bought at p + psi_minus; NaN: unset */
	int gate_min;		/* gate closure, minutes after local midnight of the day
				 * before delivery, 0..1439; -1: unset */
	char time_zone[TZ_NAME_MAX + 1];	/* IANA name; "": unset */
	double min_mw, max_mw;	/* limits of a commitment; NaN: none */
};

/* Every field unset. */
void market_init(struct market_settings *m);
/* True when no field is set. */
bool market_empty(const struct market_settings *m);

/*
 * Set field `key` (a market_fields key) from text, as an option or a query parameter
 * gives it: numbers for the prices and limits, "HH:MM" for gate_closure, a zone name.
 * On a bad value WC_EINVAL with err->msg the field's hint (for the caller to name the
 * option as its user wrote it); an unknown zone is WC_EINVAL too, saying so. WC_EINVAL
 * "unknown" for another key. m is unchanged on failure.
 */
enum wc_status market_set(struct market_settings *m, const char *key, const char *value,
			  struct wc_error *err);

/*
 * Check every set field against its range, min_mw <= max_mw, and that the time zone
 * exists (tz_load). The message names the field: "invalid market setting psi_plus -1:
 * use ...".
 */
enum wc_status market_validate(const struct market_settings *m, struct wc_error *err);

/* *out = base with every field that `over` sets replaced by over's. */
void market_merge(struct market_settings *out, const struct market_settings *base,
		  const struct market_settings *over);

/* Fill the defaults into unset gate closure and time zone. */
void market_defaults(struct market_settings *m);

/* "12:00" for gate_min 720 into buf (at least 6 bytes); "" when unset. */
const char *market_gate_text(int gate_min, char *buf);

/*
 * Fill *m from a JSON object with the market_fields keys (each optional; null or absent:
 * unset); unknown keys and wrong types are refused naming them. Validates the result.
 * The message starts "field 'market'".
 */
enum wc_status market_from_json(const json_t *obj, struct market_settings *m,
				struct wc_error *err);

/* A new JSON object with every key, null where unset. */
json_t *market_to_json(const struct market_settings *m);

#endif
