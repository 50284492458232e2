/*
 * store_tokens.c - API token records: hash, scope, name, revocation (store.h). The
 * token text never reaches the database; data/token.c makes and hashes it.
 *
 * Every change bumps the counter in DIR/tokens.gen after its commit, so that a server
 * (another process, perhaps) drops its cached keys at its next request. A process that
 * dies between the commit and the bump leaves the change unseen until the next change,
 * a SIGHUP, or the server's periodic reload (server/auth.c).
 */
#include <errno.h>
#include <jansson.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/utc.h"
#include "data/store_internal.h"

#define GEN_FILE "tokens.gen"
#define GEN_SIZE 4096		/* one page; the counter is its first 8 bytes */

/* Open DIR/tokens.gen and map it; NULL with err set on failure. */
static uint64_t *gen_map(struct store *st, struct wc_error *err)
{
	char path[4096];
	struct stat sb;
	void *p = MAP_FAILED;
	int fd;

	snprintf(path, sizeof(path), "%s/" GEN_FILE, store_dir(st));
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	/* never shrink: another process may have the page mapped */
	if (fd >= 0 && fstat(fd, &sb) == 0 && (sb.st_size >= GEN_SIZE || !ftruncate(fd, GEN_SIZE)))
		p = mmap(NULL, GEN_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		wc_error_set(err, WC_EIO, "cannot map '%s': %s", path, strerror(errno));
		p = NULL;
	}
	if (fd >= 0)
		close(fd);
	return p;
}

enum wc_status store_token_generation_map(struct store *st, const uint64_t **out,
					  struct wc_error *err)
{
	*out = gen_map(st, err);
	return *out ? WC_OK : WC_EIO;
}

void store_token_generation_unmap(const uint64_t *gen)
{
	if (gen)
		munmap((void *)gen, GEN_SIZE);
}

/* After a committed change: move the counter (a failure is logged by the caller's
 * error only when nothing else failed; a server still reloads on its timer). */
static void gen_bump(struct store *st)
{
	uint64_t *g = gen_map(st, NULL);

	if (!g)
		return;
	__atomic_add_fetch(g, 1, __ATOMIC_SEQ_CST);
	munmap(g, GEN_SIZE);
}

static void row_info(sqlite3_stmt *s, struct token_info *t)
{
	const char *name = (const char *)sqlite3_column_text(s, 1);
	const char *hint = (const char *)sqlite3_column_text(s, 3);

	memset(t, 0, sizeof(*t));
	t->id = sqlite3_column_int64(s, 0);
	snprintf(t->name, sizeof(t->name), "%s", name ? name : "");
	token_scope_parse((const char *)sqlite3_column_text(s, 2), &t->scope);
	snprintf(t->hint, sizeof(t->hint), "%s", hint ? hint : "");
	t->created_at = sqlite3_column_int64(s, 4);
	t->revoked_at = sqlite3_column_int64(s, 5);
}

#define INFO_COLUMNS "id, name, scope, hint, created_at, revoked_at"

enum wc_status store_token_create(struct store *st, enum token_scope scope, const char *name,
				  char token[TOKEN_LEN + 1], struct token_info *info,
				  struct wc_error *err)
{
	uint8_t hash[TOKEN_HASH_LEN];
	sqlite3_stmt *s = NULL;
	enum wc_status ret;
	int rc;

	token[0] = '\0';
	if (!token_name_valid(name, err))
		return wc_error_prefix(err, "invalid token name");
	if (scope < TOKEN_READ || scope > TOKEN_ADMIN)
		return wc_error_set(err, WC_EINVAL, "invalid scope %d: use read, write or admin",
				    (int)scope);
	if ((ret = token_generate(token, err)))
		return ret;
	if (!token_hash(token, TOKEN_LEN, hash)) {
		token[0] = '\0';
		return wc_error_set(err, WC_ENOMEM, "cannot hash the token: libcrypto failed");
	}
	store_lock(st);
	if ((ret = store_prepare(st, "INSERT INTO tokens (name, scope, hash, hint, created_at) "
				     "VALUES (?, ?, ?, ?, ?) RETURNING " INFO_COLUMNS,
				 &s, err)))
		goto cleanup;
	sqlite3_bind_text(s, 1, name, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(s, 2, token_scope_name(scope), -1, SQLITE_STATIC);
	sqlite3_bind_blob(s, 3, hash, TOKEN_HASH_LEN, SQLITE_TRANSIENT);
	sqlite3_bind_text(s, 4, token + TOKEN_LEN - 4, 4, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 5, utc_now());
	if ((rc = sqlite3_step(s)) != SQLITE_ROW) {
		ret = store_sql_error(st, rc, err, "cannot store the token");
		goto cleanup;
	}
	if (info)
		row_info(s, info);
	if ((rc = sqlite3_step(s)) != SQLITE_DONE)
		ret = store_sql_error(st, rc, err, "cannot store the token");
cleanup:
	sqlite3_finalize(s);
	store_unlock(st);
	if (ret)
		token[0] = '\0';
	else
		gen_bump(st);
	return ret;
}

static enum wc_status info_row(sqlite3_stmt *s, void *elem, struct wc_error *err)
{
	row_info(s, elem);
	return WC_OK;
}

enum wc_status store_token_list(struct store *st, struct token_info **out, size_t *n,
				struct wc_error *err)
{
	return store_collect(st, "SELECT " INFO_COLUMNS " FROM tokens ORDER BY id",
			     sizeof(**out), info_row, (void **)out, n, "cannot list tokens", err);
}

enum wc_status store_token_revoke(struct store *st, int64_t id, struct token_info *info,
				  struct wc_error *err)
{
	sqlite3_stmt *s = NULL;
	enum wc_status ret;
	bool changed = false;
	int rc;

	store_lock(st);
	if ((ret = store_prepare(st, "UPDATE tokens SET revoked_at = coalesce(revoked_at, ?2) "
				     "WHERE id = ?1 RETURNING " INFO_COLUMNS,
				 &s, err)))
		goto cleanup;
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_int64(s, 2, utc_now());
	rc = sqlite3_step(s);
	if (rc == SQLITE_DONE) {
		ret = wc_error_set(err, WC_ENOTFOUND, "no token %lld", (long long)id);
		goto cleanup;
	}
	if (rc != SQLITE_ROW) {
		ret = store_sql_error(st, rc, err, "cannot revoke the token");
		goto cleanup;
	}
	if (info)
		row_info(s, info);
	changed = true;
	if ((rc = sqlite3_step(s)) != SQLITE_DONE)
		ret = store_sql_error(st, rc, err, "cannot revoke the token");
cleanup:
	sqlite3_finalize(s);
	store_unlock(st);
	if (!ret && changed)
		gen_bump(st);
	return ret;
}

static enum wc_status key_row(sqlite3_stmt *s, void *elem, struct wc_error *err)
{
	struct token_key *k = elem;

	/* the CHECK keeps every hash 32 bytes; a short one would never match anyway */
	memset(k, 0, sizeof(*k));
	if (sqlite3_column_bytes(s, 0) == TOKEN_HASH_LEN)
		memcpy(k->hash, sqlite3_column_blob(s, 0), TOKEN_HASH_LEN);
	token_scope_parse((const char *)sqlite3_column_text(s, 1), &k->scope);
	k->id = sqlite3_column_int64(s, 2);
	return WC_OK;
}

enum wc_status store_token_keys(struct store *st, struct token_key **out, size_t *n,
				struct wc_error *err)
{
	return store_collect(st, "SELECT hash, scope, id FROM tokens WHERE revoked_at IS NULL",
			     sizeof(**out), key_row, (void **)out, n, "cannot read the tokens",
			     err);
}

static json_t *time_or_null(int64_t t)
{
	char buf[UTC_ISO_LEN];

	return t ? json_string(utc_format(t, buf)) : json_null();
}

json_t *token_info_json(const struct token_info *t)
{
	return json_pack("{s:I,s:s,s:s,s:s,s:o,s:o}", "id", (json_int_t)t->id, "name", t->name,
			 "scope", token_scope_name(t->scope), "hint", t->hint, "created_at",
			 time_or_null(t->created_at), "revoked_at", time_or_null(t->revoked_at));
}
