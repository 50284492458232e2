/*
 * fixture_farms.h - what the farm/weather tests of test_store_farms.c,
 * test_ingest_farms.c and test_http_farms.c share: synthetic NWP runs on disk, the
 * synthetic farms, and a store's weather of one farm as text that compares exactly.
 */
#ifndef WC_FIXTURE_FARMS_H
#define WC_FIXTURE_FARMS_H

#include "data/farm.h"
#include "data/store.h"
#include "data/synth.h"

#define FFX_RUNS 2

struct ffx {
	char *dir;			/* temp root (removed by ffx_release) */
	char run[FFX_RUNS][4200];	/* the synthetic NWP files, runs 0 and 1 */
	struct synth *syn;		/* one day, the generator's default 3 farms */
};

void ffx_init(struct ffx *fx);
void ffx_release(struct ffx *fx);

/* Synthetic farm i as a struct farm. */
void ffx_farm(const struct ffx *fx, int i, struct farm *f);
/* A new store under fx->dir/name (its path into path, 4200 bytes). */
struct store *ffx_store(const struct ffx *fx, const char *name, char *path);
/* Ingest every run file into st (asserting it was ingested). */
void ffx_ingest_all(const struct ffx *fx, struct store *st);
/*
 * Farm `id`'s site weather in st as text (malloc'd): one line per row with its run's
 * reference time, valid time, lead and every column to 17 digits ("nan" where empty),
 * so that two stores compare exactly with strcmp. *nrows gets the row count.
 */
char *ffx_weather_text(struct store *st, const char *id, size_t *nrows);

#endif
