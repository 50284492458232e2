/*
 * store_portfolio.c - portfolios and farms' market settings in the store; see
 * data/portfolio.h. Settings are kept as the JSON of market_to_json and read back
 * through market_from_json, so a stored record always validates.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/utc.h"
#include "data/portfolio.h"
#include "data/store_internal.h"

/* The JSON text of m (malloc'd), or NULL for empty settings; *oom on allocation failure. */
static char *market_text(const struct market_settings *m, bool *oom)
{
	json_t *v;
	char *s;

	*oom = false;
	if (market_empty(m))
		return NULL;
	v = market_to_json(m);
	s = v ? json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(v);
	*oom = !s;
	return s;
}

/* Parse stored settings text (NULL: none) into m; WC_EFORMAT naming whose they are. */
static enum wc_status market_read(const unsigned char *text, const char *whose,
				  struct market_settings *m, struct wc_error *err)
{
	struct wc_error why = { 0 };
	json_t *v;
	enum wc_status ret;

	market_init(m);
	if (!text)
		return WC_OK;
	v = json_loads((const char *)text, 0, NULL);
	ret = v ? market_from_json(v, m, &why) : wc_error_set(&why, WC_EFORMAT, "not JSON");
	json_decref(v);
	if (ret)
		return wc_error_set(err, WC_EFORMAT, "the stored market settings of %s are damaged "
						     "(%s): set them again",
				    whose, why.msg);
	return WC_OK;
}

enum wc_status store_farm_in_portfolio_locked(struct store *st, const char *farm_id,
					      char *portfolio, size_t len, struct wc_error *err)
{
	sqlite3_stmt *s;
	enum wc_status ret;
	int rc;

	portfolio[0] = '\0';
	if ((ret = store_prepare(st, "SELECT portfolio_id FROM portfolio_farms WHERE farm_id = ? "
				     "ORDER BY portfolio_id LIMIT 1",
				 &s, err)))
		return ret;
	sqlite3_bind_text(s, 1, farm_id, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		snprintf(portfolio, len, "%s", (const char *)sqlite3_column_text(s, 0));
	else if (rc != SQLITE_DONE)
		ret = store_sql_error(st, rc, err, "cannot read portfolio memberships");
	sqlite3_finalize(s);
	return ret;
}

/*
 * Move the generation of kind:id (STORE_SUBJECT_PORTFOLIO, STORE_SUBJECT_MARKET) in the
 * open transaction: the held replies computed from it are stale at its commit.
 */
static enum wc_status moved(struct store *st, const char *kind, const char *id,
			    struct wc_error *err)
{
	char subject[STORE_SUBJECT_MAX];

	return store_gen_bump_locked(st, store_gen_subject(subject, sizeof(subject), kind, id),
				     err);
}

/* Write p's row and its farms; lock and a transaction held. `replace`: upsert. */
static enum wc_status write_portfolio(struct store *st, struct portfolio *p, bool replace,
				      bool *created, struct wc_error *err)
{
	sqlite3_stmt *s = NULL;
	enum wc_status ret = WC_OK;
	char *market = NULL;
	int64_t old_created = 0;
	bool oom;
	int rc;

	*created = true;
	if ((ret = store_prepare(st, "SELECT created_at FROM portfolios WHERE id = ?", &s, err)))
		return ret;
	sqlite3_bind_text(s, 1, p->id, -1, SQLITE_TRANSIENT);
	if ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		*created = false;
		old_created = sqlite3_column_int64(s, 0);
	} else if (rc != SQLITE_DONE) {
		ret = store_sql_error(st, rc, err, "cannot read portfolio");
	}
	sqlite3_finalize(s);
	s = NULL;
	if (ret)
		return ret;
	if (!*created && !replace)
		return wc_error_set(err, WC_EEXIST, "portfolio '%s' already exists", p->id);
	for (int i = 0; i < p->nfarms; i++) {
		struct farm f;
		struct wc_error why = { 0 };

		ret = store_farm_get_locked(st, p->farms[i], &f, &why);
		if (ret == WC_ENOTFOUND)
			return wc_error_set(err, WC_EINVAL,
					    "invalid portfolio '%s': farm '%s' is not registered",
					    p->id, p->farms[i]);
		if (ret) {
			if (err)
				*err = why;
			return ret;
		}
	}
	market = market_text(&p->market, &oom);
	if (oom)
		return wc_error_set(err, WC_ENOMEM, "out of memory");
	p->updated_at = utc_now();
	p->created_at = *created ? p->updated_at : old_created;
	if ((ret = store_prepare(st, "INSERT INTO portfolios (id, name, market, created_at, "
				     "updated_at) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (id) DO "
				     "UPDATE SET name = ?2, market = ?3, updated_at = ?5",
				 &s, err)))
		goto cleanup;
	sqlite3_bind_text(s, 1, p->id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(s, 2, p->name, -1, SQLITE_TRANSIENT);
	if (market)
		sqlite3_bind_text(s, 3, market, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(s, 3);
	sqlite3_bind_int64(s, 4, p->created_at);
	sqlite3_bind_int64(s, 5, p->updated_at);
	if ((rc = sqlite3_step(s)) != SQLITE_DONE) {
		ret = store_sql_error(st, rc, err, "cannot store portfolio");
		goto cleanup;
	}
	sqlite3_finalize(s);
	s = NULL;
	if ((ret = store_exec_id(st, "DELETE FROM portfolio_farms WHERE portfolio_id = ?1", p->id,
				 NULL, "cannot store portfolio", err)) ||
	    (ret = store_prepare(st, "INSERT INTO portfolio_farms (portfolio_id, farm_id, "
				     "position) VALUES (?1, ?2, ?3)",
				 &s, err)))
		goto cleanup;
	sqlite3_bind_text(s, 1, p->id, -1, SQLITE_TRANSIENT);
	for (int i = 0; i < p->nfarms; i++) {
		sqlite3_bind_text(s, 2, p->farms[i], -1, SQLITE_TRANSIENT);
		sqlite3_bind_int(s, 3, i);
		rc = sqlite3_step(s);
		sqlite3_reset(s);
		if (rc != SQLITE_DONE) {
			ret = store_sql_error(st, rc, err, "cannot store portfolio farms");
			break;
		}
	}
	if (!ret)
		ret = moved(st, STORE_SUBJECT_PORTFOLIO, p->id, err);
cleanup:
	sqlite3_finalize(s);
	free(market);
	return ret;
}

static enum wc_status put(struct store *st, struct portfolio *p, bool replace, bool *created,
			  struct wc_error *err)
{
	enum wc_status ret;
	bool c;

	if ((ret = portfolio_validate(p, err)))
		return ret;
	store_lock(st);
	if (!(ret = store_exec(st, "BEGIN IMMEDIATE", err)))
		ret = store_end(st, write_portfolio(st, p, replace, &c, err), err);
	store_unlock(st);
	if (!ret && created)
		*created = c;
	return ret;
}

enum wc_status store_portfolio_add(struct store *st, struct portfolio *p, struct wc_error *err)
{
	return put(st, p, false, NULL, err);
}

enum wc_status store_portfolio_put(struct store *st, struct portfolio *p, bool *created,
				   struct wc_error *err)
{
	return put(st, p, true, created, err);
}

#define PORTFOLIO_COLS                                                                   \
	"p.id, p.name, p.market, p.created_at, p.updated_at, "                           \
	"(SELECT group_concat(farm_id, ',') FROM (SELECT farm_id FROM portfolio_farms "  \
	"WHERE portfolio_id = p.id ORDER BY position)), "                                \
	"(SELECT total(f.capacity_mw) FROM portfolio_farms pf JOIN farms f ON f.id = "   \
	"pf.farm_id WHERE pf.portfolio_id = p.id)"

/* One row of PORTFOLIO_COLS into *p. */
static enum wc_status read_portfolio(sqlite3_stmt *s, struct portfolio *p,
				     struct wc_error *err)
{
	const unsigned char *farms = sqlite3_column_text(s, 5);
	char whose[96];
	enum wc_status ret;

	portfolio_init(p);
	snprintf(p->id, sizeof(p->id), "%s", (const char *)sqlite3_column_text(s, 0));
	snprintf(p->name, sizeof(p->name), "%s", (const char *)sqlite3_column_text(s, 1));
	p->created_at = sqlite3_column_int64(s, 3);
	p->updated_at = sqlite3_column_int64(s, 4);
	p->capacity_mw = sqlite3_column_double(s, 6);
	snprintf(whose, sizeof(whose), "portfolio '%s'", p->id);
	if ((ret = market_read(sqlite3_column_text(s, 2), whose, &p->market, err)))
		return ret;
	if (farms && portfolio_set_farms(p, (const char *)farms, NULL))
		return wc_error_set(err, WC_EFORMAT, "the stored farms of portfolio '%s' are "
						     "damaged",
				    p->id);
	return WC_OK;
}

enum wc_status store_portfolio_get(struct store *st, const char *id, struct portfolio *out,
				   struct wc_error *err)
{
	sqlite3_stmt *s;
	enum wc_status ret;
	int rc;

	store_lock(st);
	if ((ret = store_prepare(st, "SELECT " PORTFOLIO_COLS " FROM portfolios p WHERE p.id = ?",
				 &s, err)))
		goto out;
	sqlite3_bind_text(s, 1, id, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		ret = read_portfolio(s, out, err);
	else if (rc == SQLITE_DONE)
		ret = wc_error_set(err, WC_ENOTFOUND, "no portfolio '%s'", id);
	else
		ret = store_sql_error(st, rc, err, "cannot read portfolio");
	sqlite3_finalize(s);
out:
	store_unlock(st);
	return ret;
}

enum wc_status store_portfolio_delete(struct store *st, const char *id, struct wc_error *err)
{
	enum wc_status ret;
	int changes = 0;

	store_lock(st);
	if ((ret = store_exec(st, "BEGIN IMMEDIATE", err)))
		goto out;
	ret = store_exec_id(st, "DELETE FROM portfolios WHERE id = ?1", id, &changes,
			    "cannot delete portfolio", err);
	if (!ret && changes == 0)
		ret = wc_error_set(err, WC_ENOTFOUND, "no portfolio '%s'", id);
	if (!ret)
		ret = moved(st, STORE_SUBJECT_PORTFOLIO, id, err);
	ret = store_end(st, ret, err);
out:
	store_unlock(st);
	return ret;
}

static enum wc_status portfolio_row(sqlite3_stmt *s, void *elem, struct wc_error *err)
{
	return read_portfolio(s, elem, err);
}

enum wc_status store_portfolio_list(struct store *st, struct portfolio **out, size_t *n,
				    struct wc_error *err)
{
	return store_collect(st, "SELECT " PORTFOLIO_COLS " FROM portfolios p ORDER BY p.id",
			     sizeof(**out), portfolio_row, (void **)out, n,
			     "cannot list portfolios", err);
}

enum wc_status store_farm_market_get(struct store *st, const char *farm_id,
				     struct market_settings *out, struct wc_error *err)
{
	sqlite3_stmt *s;
	struct farm f;
	enum wc_status ret;
	char whose[96];
	int rc;

	market_init(out);
	store_lock(st);
	if ((ret = store_farm_get_locked(st, farm_id, &f, err)) ||
	    (ret = store_prepare(st, "SELECT settings FROM farm_markets WHERE farm_id = ?", &s,
				 err)))
		goto out;
	sqlite3_bind_text(s, 1, farm_id, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(s);
	snprintf(whose, sizeof(whose), "farm '%s'", farm_id);
	if (rc == SQLITE_ROW)
		ret = market_read(sqlite3_column_text(s, 0), whose, out, err);
	else if (rc != SQLITE_DONE)
		ret = store_sql_error(st, rc, err, "cannot read market settings");
	sqlite3_finalize(s);
out:
	store_unlock(st);
	return ret;
}

enum wc_status store_farm_market_put(struct store *st, const char *farm_id,
				     const struct market_settings *m, struct wc_error *err)
{
	sqlite3_stmt *s = NULL;
	struct farm f;
	enum wc_status ret;
	char *text;
	bool oom;
	int rc;

	if ((ret = market_validate(m, err)))
		return ret;
	text = market_text(m, &oom);
	if (oom)
		return wc_error_set(err, WC_ENOMEM, "out of memory");
	store_lock(st);
	if ((ret = store_exec(st, "BEGIN IMMEDIATE", err)))
		goto out;
	if ((ret = store_farm_get_locked(st, farm_id, &f, err)))
		goto end;
	if ((ret = moved(st, STORE_SUBJECT_MARKET, farm_id, err)))
		goto end;
	if (!text) {
		ret = store_exec_id(st, "DELETE FROM farm_markets WHERE farm_id = ?1", farm_id, NULL,
				    "cannot remove market settings", err);
		goto end;
	}
	if ((ret = store_prepare(st, "INSERT INTO farm_markets (farm_id, settings, updated_at) "
				     "VALUES (?1, ?2, ?3) ON CONFLICT (farm_id) DO UPDATE SET "
				     "settings = ?2, updated_at = ?3",
				 &s, err)))
		goto end;
	sqlite3_bind_text(s, 1, farm_id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(s, 2, text, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 3, utc_now());
	if ((rc = sqlite3_step(s)) != SQLITE_DONE)
		ret = store_sql_error(st, rc, err, "cannot store market settings");
end:
	sqlite3_finalize(s);
	ret = store_end(st, ret, err);
out:
	store_unlock(st);
	free(text);
	return ret;
}
