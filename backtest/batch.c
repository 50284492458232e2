/*
 * batch.c - the nightly batch; see batch.h for what a night does and promises.
 *
 * Everything a night decides goes through the library paths the CLI and the API use
 * (ingest_file, obs_parse + store_obs_upsert, train_request_*, forecast_get_or_issue,
 * forecast_json, forecast_csv; portfolio_forecast_get and pforecast_json for portfolios;
 * commit_get, schedule_json and schedule_csv for commitments); this file adds the inbox,
 * the retrain policy, the shard, which trading day is tomorrow, the files and the
 * manifest. Limits: the night is sequential (one farm after the other, each training on
 * the options' worker threads); a shard's farms and portfolios must fit in memory as
 * struct farm (about 1.3 kB each) and struct portfolio (about 13 kB each).
 */
#include "backtest/batch.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "backtest/outfile.h"
#include "common/dynbuf.h"
#include "common/log.h"
#include "common/sha256.h"
#include "common/tz.h"
#include "data/ingest.h"
#include "data/ncwrite.h"
#include "data/obs.h"
#include "forecast/model.h"
#include "trading/commit.h"
#include "trading/portfolio.h"

#define CSV_MAX ((size_t)64 << 20)	/* bytes of one farm's CSV (about 300,000 leads) */
#define MOVE_SUFFIX_MAX 1000		/* name.1 .. name.999 in processed/ or rejected/ */

/* ---- options ---------------------------------------------------------------------- */

void batch_options_init(struct batch_options *o)
{
	memset(o, 0, sizeof(*o));
	o->issued = INT64_MIN;
	o->shard_k = o->shard_n = 1;
	o->retrain_after = BATCH_DEFAULT_RETRAIN_AFTER;
	market_init(&o->market);
	snprintf(o->retrain_text, sizeof(o->retrain_text), "30d");
	forecast_request_init(&o->forecast);
	train_request_init(&o->train, TRAIN_CLI);
	o->version = "unknown";
}

/* A whole decimal number in [lo, hi] at s, ending at end (exclusive). */
static bool whole(const char *s, const char *end, long lo, long hi, long *out)
{
	long v = 0;

	if (s == end || end - s > 9)
		return false;
	for (const char *p = s; p < end; p++) {
		if (*p < '0' || *p > '9')
			return false;
		v = v * 10 + (*p - '0');
	}
	if (v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

enum wc_status batch_parse_shard(const char *s, int *k, int *n, struct wc_error *err)
{
	const char *slash = s ? strchr(s, '/') : NULL;
	long kk, nn;

	if (!slash || !whole(s, slash, 1, BATCH_MAX_SHARDS, &kk) ||
	    !whole(slash + 1, slash + strlen(slash), 1, BATCH_MAX_SHARDS, &nn) || kk > nn)
		return wc_error_set(err, WC_EINVAL, "use K/N with 1 <= K <= N <= %d, e.g. 2/4",
				    BATCH_MAX_SHARDS);
	*k = (int)kk;
	*n = (int)nn;
	return WC_OK;
}

enum wc_status batch_parse_age(const char *s, int64_t *seconds, struct wc_error *err)
{
	size_t len = s ? strlen(s) : 0;
	long v;

	if (s && !strcmp(s, "never")) {
		*seconds = BATCH_RETRAIN_NEVER;
		return WC_OK;
	}
	if (len >= 2 && (s[len - 1] == 'd' || s[len - 1] == 'h') &&
	    whole(s, s + len - 1, 1, s[len - 1] == 'd' ? 3650 : 3650 * 24, &v)) {
		*seconds = (int64_t)v * (s[len - 1] == 'd' ? UTC_DAY : UTC_HOUR);
		return WC_OK;
	}
	return wc_error_set(err, WC_EINVAL, "use days or hours like 30d or 36h (1h..3650d), "
					    "or never");
}

enum wc_status batch_train_args(struct train_request *r, const char *args, struct wc_error *err)
{
	char *copy, *save = NULL, *tok;
	enum wc_status ret = WC_OK;

	if (!args || strlen(args) >= BATCH_TRAIN_ARGS_MAX)
		return wc_error_set(err, WC_EINVAL, "training options longer than %d bytes",
				    BATCH_TRAIN_ARGS_MAX - 1);
	if (!(copy = strdup(args)))
		return wc_error_set(err, WC_ENOMEM, "out of memory");
	tok = strtok_r(copy, " \t\n", &save);
	while (tok && !ret) {
		const struct train_option *opt;
		char *value = NULL, *eq;

		if (strncmp(tok, "--", 2) || !tok[2]) {
			ret = wc_error_set(err, WC_EINVAL, "unexpected '%s': training options "
							   "are --name value",
					   tok);
			break;
		}
		if ((eq = strchr(tok, '=')))
			*eq = '\0', value = eq + 1;
		if (!(opt = train_option_find(tok + 2, TRAIN_CLI))) {
			ret = wc_error_set(err, WC_EINVAL, "unknown training option '%s'; see "
							   "'windcast train --help'",
					   tok);
			break;
		}
		if (opt->type == TOPT_BOOL && value) {
			ret = wc_error_set(err, WC_EINVAL, "option '%s' takes no value", tok);
			break;
		}
		if (opt->type != TOPT_BOOL && !value &&
		    !(value = strtok_r(NULL, " \t\n", &save))) {
			ret = wc_error_set(err, WC_EINVAL, "option '%s' needs a value", tok);
			break;
		}
		ret = train_option_set(r, opt, value, err);
		tok = strtok_r(NULL, " \t\n", &save);
	}
	free(copy);
	return ret;
}

int batch_shard_of(const char *farm_id, int n)
{
	uint64_t h = 0xcbf29ce484222325ull;	/* FNV-1a 64 offset basis */

	for (const unsigned char *p = (const unsigned char *)farm_id; *p; p++) {
		h ^= *p;
		h *= 0x100000001b3ull;		/* FNV 64 prime */
	}
	return n < 1 ? 1 : (int)(h % (uint64_t)n) + 1;
}

/* The issue time as it names a night: 20260301T0600Z. */
static void compact_time(int64_t t, char *buf, size_t len)
{
	int64_t y;
	int mo, d, h, mi, s;

	utc_to_fields(t, &y, &mo, &d, &h, &mi, &s);
	snprintf(buf, len, "%04lld%02d%02dT%02d%02dZ", (long long)y, mo, d, h, mi);
}

enum wc_status batch_out_dir(const char *out, int64_t issued, char *buf, size_t len,
			     struct wc_error *err)
{
	char stamp[32];
	struct dynbuf b;
	const char *p = out, *hit;
	enum wc_status ret = WC_OK;

	if (!out || !*out)
		return wc_error_set(err, WC_EINVAL, "no output directory");
	compact_time(issued, stamp, sizeof(stamp));
	dynbuf_init(&b, len - 1);
	while (!ret && (hit = strstr(p, BATCH_ISSUED_TOKEN))) {
		ret = dynbuf_add(&b, p, (size_t)(hit - p));
		if (!ret)
			ret = dynbuf_adds(&b, stamp);
		p = hit + strlen(BATCH_ISSUED_TOKEN);
	}
	if (!ret)
		ret = dynbuf_adds(&b, p);
	if (ret)
		ret = wc_error_set(err, ret == WC_ETOOLARGE ? WC_EINVAL : ret,
				   "output path '%s' is too long", out);
	else
		snprintf(buf, len, "%s", dynbuf_str(&b));
	dynbuf_release(&b);
	return ret;
}

/* ---- the lock --------------------------------------------------------------------- */

enum wc_status batch_lock_take(const char *data_dir, struct batch_lock *lk,
			       struct wc_error *err)
{
	char path[BATCH_PATH_MAX], info[384], host[256] = "", t[UTC_ISO_LEN];
	int fd;
	ssize_t n;

	lk->fd = -1;
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", data_dir, BATCH_LOCK_NAME) >=
	    sizeof(path))
		return wc_error_set(err, WC_EINVAL, "data directory '%s' is too long", data_dir);
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644)) < 0)
		return wc_error_set(err, WC_EIO, "cannot open lock '%s': %s", path,
				    strerror(errno));
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		int e = errno;

		if (e != EWOULDBLOCK) {
			close(fd);
			return wc_error_set(err, WC_EIO, "cannot lock '%s': %s", path, strerror(e));
		}
		n = pread(fd, info, sizeof(info) - 1, 0);
		close(fd);
		info[n > 0 ? n : 0] = '\0';
		info[strcspn(info, "\r\n")] = '\0';
		return wc_error_set(err, WC_EBUSY,
				    "a batch is already running on '%s' (%s); wait for it to "
				    "finish, or stop that process",
				    data_dir, info[0] ? info : "holder unknown: it is starting");
	}
	gethostname(host, sizeof(host) - 1);
	n = snprintf(info, sizeof(info), "pid %ld on host %s since %s\n", (long)getpid(),
		     host[0] ? host : "unknown", utc_format(utc_now(), t));
	/* the holder is told to whoever finds the lock taken: a stale text is replaced */
	if (ftruncate(fd, 0) || pwrite(fd, info, (size_t)n, 0) != n)
		log_warn("batch: cannot record the lock holder in '%s': %s", path,
			 strerror(errno));
	lk->fd = fd;
	return WC_OK;
}

void batch_lock_release(struct batch_lock *lk)
{
	if (!lk || lk->fd < 0)
		return;
	if (ftruncate(lk->fd, 0))
		log_debug("batch: cannot clear the lock file: %s", strerror(errno));
	close(lk->fd);	/* drops the flock */
	lk->fd = -1;
}

/* ---- the night -------------------------------------------------------------------- */

struct night {
	struct store *st;
	const struct batch_options *o;
	struct batch_result *res;
	int64_t issued;
	char farms_dir[BATCH_PATH_MAX];
	char portfolios_dir[BATCH_PATH_MAX];
	json_t *inbox;		/* the manifest's inbox entries */
	json_t *farms;		/* the manifest's farm entries */
	json_t *portfolios;	/* the manifest's portfolio entries */
};

static bool stopping(const struct night *n)
{
	return n->o->stop && *n->o->stop;
}

static void add_failure(struct night *n, const char *subject, const char *msg)
{
	struct batch_result *res = n->res;
	struct batch_failure *f = realloc(res->failures, (res->nfailures + 1) * sizeof(*f));

	if (!f) {
		log_error("batch: out of memory recording the failure of %s: %s", subject, msg);
		return;
	}
	res->failures = f;
	f = &res->failures[res->nfailures++];
	snprintf(f->subject, sizeof(f->subject), "%s", subject);
	snprintf(f->msg, sizeof(f->msg), "%s", msg);
}

/* ---- the inbox ---- */

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && !strcasecmp(s + a - b, suffix);
}

/* A name the inbox takes: not hidden, not still being written. */
static bool inbox_name(const char *name)
{
	return name[0] != '.' && !ends_with(name, ".tmp") && !ends_with(name, ".part");
}

/*
 * The regular files of the inbox, sorted (malloc'd names, at most
 * BATCH_INBOX_MAX_FILES: *more tells whether others wait).
 */
static enum wc_status inbox_list(const char *dir, char ***names, size_t *n, bool *more,
				 struct wc_error *err)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char **v = NULL, path[BATCH_PATH_MAX];
	size_t len = 0;

	*names = NULL;
	*n = 0;
	*more = false;
	if (!d)
		return wc_error_set(err, WC_EIO, "cannot read inbox '%s': %s", dir, strerror(errno));
	while ((e = readdir(d))) {
		struct stat sb;
		char **nv;

		if (!inbox_name(e->d_name))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (stat(path, &sb) || !S_ISREG(sb.st_mode))
			continue;
		if (len == BATCH_INBOX_MAX_FILES) {
			*more = true;
			continue;
		}
		if (!(nv = realloc(v, (len + 1) * sizeof(*v))) || !(nv[len] = strdup(e->d_name))) {
			if (nv)
				v = nv;
			for (size_t i = 0; i < len; i++)
				free(v[i]);
			free(v);
			closedir(d);
			return wc_error_set(err, WC_ENOMEM, "out of memory listing inbox '%s'", dir);
		}
		v = nv;
		len++;
	}
	closedir(d);
	if (len)
		qsort(v, len, sizeof(*v), cmp_names);
	*names = v;
	*n = len;
	return WC_OK;
}

/*
 * Move inbox/name into inbox/sub/ under a free name (name, name.1, ...); rel gets
 * "sub/<that name>". With `reason`, write it beside as <that name>.reason.
 */
static enum wc_status inbox_move(const char *inbox, const char *name, const char *sub,
				 const char *reason, char *rel, size_t rel_len,
				 struct wc_error *err)
{
	char dir[BATCH_PATH_MAX], from[BATCH_PATH_MAX], to[BATCH_PATH_MAX], base[1024];
	enum wc_status ret;
	struct stat sb;
	int k;

	snprintf(dir, sizeof(dir), "%s/%s", inbox, sub);
	snprintf(from, sizeof(from), "%s/%s", inbox, name);
	if ((ret = outfile_mkdirs(dir, err)))
		return ret;
	for (k = 0; k < MOVE_SUFFIX_MAX; k++) {
		if (k)
			snprintf(base, sizeof(base), "%s.%d", name, k);
		else
			snprintf(base, sizeof(base), "%s", name);
		snprintf(to, sizeof(to), "%s/%s", dir, base);
		if (lstat(to, &sb) && errno == ENOENT)
			break;
	}
	if (k == MOVE_SUFFIX_MAX)
		return wc_error_set(err, WC_EEXIST, "cannot move '%s': %s/%s.1 .. .%d are taken",
				    from, sub, name, MOVE_SUFFIX_MAX - 1);
	if (rename(from, to))
		return wc_error_set(err, WC_EIO, "cannot move '%s' to '%s': %s", from, to,
				    strerror(errno));
	snprintf(rel, rel_len, "%s/%s", sub, base);
	if (reason) {
		char rname[1100], *text;
		size_t len = strlen(reason);
		struct wc_error rerr = { 0 };

		snprintf(rname, sizeof(rname), "%s.reason", base);
		if (!(text = malloc(len + 2)))
			return wc_error_set(err, WC_ENOMEM, "out of memory");
		memcpy(text, reason, len);
		text[len] = '\n';
		/* the file is moved already: a reason that cannot be written is only logged */
		if (outfile_write(dir, rname, text, len + 1, NULL, &rerr))
			log_warn("batch: cannot write the reason of '%s': %s", to,
				 wc_error_msg(&rerr));
		free(text);
	}
	return outfile_sync_dir(inbox, err);
}

/* Whether a failure is the file's (reject it) or the store's (keep it for next night). */
static bool file_fault(enum wc_status code)
{
	switch (code) {
	case WC_EIO:
	case WC_ESQL:
	case WC_EBUSY:
	case WC_ENOMEM:
	case WC_EINTERNAL:
		return false;
	default:
		return true;
	}
}

/* Read a whole file into b (capped); the message names it. */
static enum wc_status read_all(const char *path, struct dynbuf *b, struct wc_error *err)
{
	char chunk[65536];
	enum wc_status ret = WC_OK;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return wc_error_set(err, WC_EFORMAT, "cannot read it: %s", strerror(errno));
	for (;;) {
		ssize_t r = read(fd, chunk, sizeof(chunk));

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			ret = wc_error_set(err, WC_EFORMAT, "cannot read it: %s", strerror(errno));
			break;
		}
		if (!r)
			break;
		if ((ret = dynbuf_add(b, chunk, (size_t)r))) {
			ret = wc_error_set(err, ret, ret == WC_ETOOLARGE ? "larger than %zu MiB"
									 : "out of memory (%zu MiB)",
					   b->max >> 20);
			break;
		}
	}
	close(fd);
	return ret;
}

/* The file's kind from its first bytes and name. */
enum inbox_kind { KIND_UNKNOWN, KIND_GRID, KIND_OBS };

static const char *const kind_names[] = { "unknown", "grid", "observations" };

static enum inbox_kind inbox_kind(const unsigned char *head, size_t n, const char *name)
{
	static const unsigned char hdf5[8] = { 0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n' };

	if (n >= 4 && !memcmp(head, "CDF", 3) && (head[3] == 1 || head[3] == 2 || head[3] == 5))
		return KIND_GRID;
	if (n >= 8 && !memcmp(head, hdf5, 8))
		return KIND_GRID;
	if (ends_with(name, ".csv") || ends_with(name, ".json"))
		return KIND_OBS;
	return KIND_UNKNOWN;
}

/* Observations of the farm the name says (<farm id>[.<anything>].csv|json). */
static enum wc_status inbox_obs(struct night *n, const char *path, const char *name,
				json_t *entry, struct wc_error *err)
{
	char farm_id[FARM_ID_MAX + 1];
	size_t idlen = strcspn(name, ".");
	struct obs_row *rows = NULL;
	enum wc_status ret;
	struct dynbuf b;
	struct farm f;
	size_t nrows = 0;

	if (idlen > FARM_ID_MAX)
		return wc_error_set(err, WC_EINVAL, "'%.*s' is not a farm id: observation files "
						    "are named <farm id>.csv or <farm id>.json",
				    (int)idlen, name);
	memcpy(farm_id, name, idlen);
	farm_id[idlen] = '\0';
	if (!farm_id_valid(farm_id))
		return wc_error_set(err, WC_EINVAL, "'%s' is not a farm id: observation files "
						    "are named <farm id>.csv or <farm id>.json",
				    farm_id);
	json_object_set_new(entry, "farm", json_string(farm_id));
	if ((ret = store_farm_get(n->st, farm_id, &f, err)))
		return ret == WC_ENOTFOUND
			       ? wc_error_set(err, WC_EINVAL, "no farm '%s': observation files are "
							      "named <farm id>.csv or <farm id>.json",
					      farm_id)
			       : ret;
	dynbuf_init(&b, BATCH_OBS_FILE_MAX);
	if ((ret = read_all(path, &b, err)))
		goto cleanup;
	if ((ret = obs_parse(dynbuf_str(&b), b.len, f.capacity_mw, &rows, &nrows, err)))
		goto cleanup;
	if ((ret = store_obs_upsert(n->st, farm_id, rows, nrows, err))) {
		wc_error_prefix(err, "cannot store its observations");
		if (ret == WC_ENOTFOUND)	/* the farm went meanwhile */
			ret = WC_EINVAL;
		goto cleanup;
	}
	json_object_set_new(entry, "result", obs_stored_json(farm_id, rows, nrows));
cleanup:
	free(rows);
	dynbuf_release(&b);
	return ret;
}

/* One inbox file: take it into the store, then move it; never stops the night. */
static void inbox_file(struct night *n, const char *name)
{
	const char *inbox = n->o->inbox;
	char path[BATCH_PATH_MAX], rel[BATCH_PATH_MAX], subject[600];
	unsigned char head[8];
	const char *status = NULL;
	struct wc_error err = { 0 }, merr = { 0 };
	enum inbox_kind kind = KIND_UNKNOWN;
	enum wc_status ret = WC_OK;
	json_t *entry = json_object();
	ssize_t got = -1;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", inbox, name);
	snprintf(subject, sizeof(subject), "inbox file '%s'", name);
	json_object_set_new(entry, "file", json_string(name));
	json_object_set_new(entry, "kind", json_null());
	json_object_set_new(entry, "status", json_null());
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 ||
	    (got = read(fd, head, sizeof(head))) < 0) {
		ret = wc_error_set(&err, WC_EFORMAT, "cannot read it: %s", strerror(errno));
	} else {
		kind = inbox_kind(head, (size_t)got, name);
	}
	if (fd >= 0)
		close(fd);
	json_object_set_new(entry, "kind", json_string(kind_names[kind]));
	if (!ret && kind == KIND_GRID) {
		struct ingest_options io;
		struct ingest_result ir;

		ingest_options_init(&io);
		io.original_name = name;
		ret = ingest_file(n->st, path, &io, &ir);
		if (ret)
			err = ir.error;
		else
			status = ir.outcome == INGEST_KNOWN ? "known" : "ingested";
		if (!ret)
			json_object_set_new(entry, "result", ingest_result_json(&ir));
		ingest_result_release(&ir);
	} else if (!ret && kind == KIND_OBS) {
		ret = inbox_obs(n, path, name, entry, &err);
		status = "imported";
	} else if (!ret) {
		ret = wc_error_set(&err, WC_EFORMAT, "neither a NetCDF grid (no netCDF signature) "
						     "nor observations (<farm id>.csv or <farm "
						     "id>.json)");
	}
	if (ret && !file_fault(ret)) {
		/* the store's trouble, not the file's: keep it for the next night */
		json_object_set_new(entry, "status", json_string("left"));
		json_object_set_new(entry, "moved_to", json_null());
		json_object_set_new(entry, "reason", json_string(wc_error_msg(&err)));
		n->res->inbox_left++;
		add_failure(n, subject, wc_error_msg(&err));
		log_warn("batch inbox file=\"%s\" kind=%s status=left reason=\"%s\"", name,
			  kind_names[kind], wc_error_msg(&err));
		json_array_append_new(n->inbox, entry);
		return;
	}
	if (inbox_move(inbox, name, ret ? "rejected" : "processed",
		       ret ? wc_error_msg(&err) : NULL, rel, sizeof(rel), &merr)) {
		/* taken in, or refused, but still in the inbox: say so; next night retries */
		json_object_set_new(entry, "status", json_string(ret ? "rejected" : status));
		json_object_set_new(entry, "moved_to", json_null());
		json_object_set_new(entry, "reason", json_string(wc_error_msg(ret ? &err : &merr)));
		json_object_set_new(entry, "move_error", json_string(wc_error_msg(&merr)));
		add_failure(n, subject, wc_error_msg(&merr));
		log_warn("batch inbox file=\"%s\" status=unmoved reason=\"%s\"", name,
			  wc_error_msg(&merr));
		if (ret)
			n->res->inbox_rejected++;
		else
			n->res->inbox_processed++;
		json_array_append_new(n->inbox, entry);
		return;
	}
	json_object_set_new(entry, "status", json_string(ret ? "rejected" : status));
	json_object_set_new(entry, "moved_to", json_string(rel));
	if (ret) {
		json_object_set_new(entry, "reason", json_string(wc_error_msg(&err)));
		n->res->inbox_rejected++;
		add_failure(n, subject, wc_error_msg(&err));
		log_warn("batch inbox file=\"%s\" kind=%s status=rejected moved_to=\"%s\" reason=\"%s\"",
			 name, kind_names[kind], rel, wc_error_msg(&err));
	} else {
		n->res->inbox_processed++;
		log_info("batch inbox file=\"%s\" kind=%s status=%s moved_to=\"%s\"", name,
			 kind_names[kind], status, rel);
	}
	json_array_append_new(n->inbox, entry);
}

static void run_inbox(struct night *n)
{
	struct wc_error err = { 0 };
	char **names;
	size_t count;
	bool more;

	if (inbox_list(n->o->inbox, &names, &count, &more, &err)) {
		add_failure(n, "inbox", wc_error_msg(&err));
		log_warn("batch inbox status=failed reason=\"%s\"", wc_error_msg(&err));
		return;
	}
	if (more)
		log_warn("batch inbox: more than %d files; the rest wait for the next night",
			 BATCH_INBOX_MAX_FILES);
	for (size_t i = 0; i < count; i++) {
		if (!stopping(n))
			inbox_file(n, names[i]);
		free(names[i]);
	}
	free(names);
}

/* ---- retraining ---- */

struct train_outcome {
	int version;
	struct wc_error err;
	bool failed;
};

static void train_report(void *arg, const char *farm_id, const struct farm_model *m,
			 const struct wc_error *err)
{
	struct train_outcome *t = arg;

	if (m) {
		t->version = m->version;
	} else {
		t->failed = true;
		if (err)
			t->err = *err;
	}
}

static double seconds_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/*
 * Decide whether farm f is due and train it when it is. Fills the manifest's "retrain"
 * object; returns false when training failed (the farm then fails, forecasting with the
 * model it had).
 */
static bool retrain(struct night *n, const struct farm *f, json_t *out)
{
	const struct batch_options *o = n->o;
	struct model_rec rec = { 0 };
	struct wc_error err = { 0 };
	struct train_request *tr = NULL;
	struct train_outcome t = { 0 };
	struct timespec t0 = { 0 };
	char reason[512], a[UTC_ISO_LEN];
	enum wc_status rc;
	bool have, ok = true;
	const char *status;

	rc = store_model_get(n->st, f->id, 0, &rec, &err);
	if (rc && rc != WC_ENOTFOUND) {
		json_object_set_new(out, "status", json_string("failed"));
		json_object_set_new(out, "reason", json_string(wc_error_msg(&err)));
		return false;
	}
	have = rc == WC_OK;
	json_object_set_new(out, "model_version", have ? json_integer(rec.version) : json_null());
	if (o->retrain_after == BATCH_RETRAIN_NEVER) {
		json_object_set_new(out, "status", json_string("off"));
		json_object_set_new(out, "reason", json_string("--retrain-after never"));
		goto cleanup;
	}
	if (have) {
		double days = (double)(n->issued - rec.train_to) / UTC_DAY;
		struct obs_row *rows = NULL;
		size_t nobs = 0;

		utc_format(rec.train_to, a);
		if (rec.train_to >= n->issued) {
			snprintf(reason, sizeof(reason), "model %d's rows end at %s, after the "
							 "issue time",
				 rec.version, a);
			status = "current";
		} else if (n->issued - rec.train_to <= o->retrain_after) {
			snprintf(reason, sizeof(reason), "model %d's rows end at %s, %.1f days "
							 "before the issue time (retrain after %s)",
				 rec.version, a, days, o->retrain_text);
			status = "current";
		} else if (store_obs_query(n->st, f->id, rec.train_to + UTC_DAY, n->issued, &rows,
					   &nobs, &err) == WC_OK && nobs == 0) {
			/* the rows end some hours before the last observation they used (at the
			 * last run delivery with a target): a day later there is something new */
			snprintf(reason, sizeof(reason), "model %d's rows end at %s, %.1f days "
							 "before the issue time, but no observation "
							 "came a day or more after them: nothing new to "
							 "train on",
				 rec.version, a, days);
			status = "current";
		} else {
			snprintf(reason, sizeof(reason), "model %d's rows end at %s, %.1f days "
							 "before the issue time (retrain after %s)",
				 rec.version, a, days, o->retrain_text);
			status = NULL;
		}
		free(rows);
		if (status) {
			json_object_set_new(out, "status", json_string(status));
			json_object_set_new(out, "reason", json_string(reason));
			log_info("batch retrain farm=%s status=%s reason=\"%s\"", f->id, status, reason);
			goto cleanup;
		}
	} else {
		snprintf(reason, sizeof(reason), "no model yet");
	}
	json_object_set_new(out, "reason", json_string(reason));
	if (!(tr = malloc(sizeof(*tr)))) {
		wc_error_set(&err, WC_ENOMEM, "out of memory");
		t.failed = true;
		t.err = err;
		goto report;
	}
	/* the batch's options for this one farm, seeing nothing after the night */
	*tr = o->train;
	snprintf(tr->farm, sizeof(tr->farm), "%s", f->id);
	tr->all_farms = tr->pool_all = false;
	tr->n_pool = 0;
	if (tr->o.to > n->issued)
		tr->o.to = n->issued;
	log_info("batch retrain farm=%s status=training reason=\"%s\"", f->id, reason);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (train_request_resolve(tr, n->st, &err) ||
	    train_request_run(tr, n->st, train_report, &t, &err)) {
		t.failed = true;
		if (!t.err.msg[0])
			t.err = err;
	}
report:
	if (!t.failed) {
		json_object_set_new(out, "status", json_string("trained"));
		json_object_set_new(out, "model_version", json_integer(t.version));
		log_info("batch retrain farm=%s status=trained model_version=%d seconds=%.1f", f->id,
			 t.version, seconds_since(&t0));
	} else if (!have && t.err.code == WC_ENODATA) {
		/* a new farm without history: its forecast comes from a baseline */
		json_object_set_new(out, "status", json_string("skipped"));
		json_object_set_new(out, "error", json_string(wc_error_msg(&t.err)));
		log_info("batch retrain farm=%s status=skipped reason=\"%s\"", f->id,
			 wc_error_msg(&t.err));
	} else {
		json_object_set_new(out, "status", json_string("failed"));
		json_object_set_new(out, "error", json_string(wc_error_msg(&t.err)));
		log_warn("batch retrain farm=%s status=failed reason=\"%s\"", f->id,
			  wc_error_msg(&t.err));
		ok = false;
	}
cleanup:
	free(tr);
	model_rec_release(&rec);
	return ok;
}

/* ---- forecasting and the files ---- */

/* What a night writes files of: a farm, or a portfolio. */
struct subject {
	bool portfolio;
	const char *id;
	const char *kind;		/* "farm" or "portfolio", for messages and logs */
	const char *sub;		/* "farms" or "portfolios": the directory under OUT */
	const char *dir;		/* OUT/<sub> */
	const char *name;		/* the farm's or portfolio's name */
	double lat, lon;		/* a farm's site; NaN for a portfolio */
};

static void subject_farm(struct subject *s, const struct night *n, const struct farm *f)
{
	*s = (struct subject){ .id = f->id, .kind = "farm", .sub = "farms", .dir = n->farms_dir,
			       .name = f->name, .lat = f->lat, .lon = f->lon };
}

static void subject_portfolio(struct subject *s, const struct night *n,
			      const struct portfolio *p)
{
	*s = (struct subject){ .portfolio = true, .id = p->id, .kind = "portfolio",
			       .sub = "portfolios", .dir = n->portfolios_dir, .name = p->name,
			       .lat = NAN, .lon = NAN };
}

/*
 * The NetCDF file of a forecast whose JSON reply is js: its numbers are the reply's
 * (rounded as the API rounds them), so the two files agree exactly. pfc (a portfolio's
 * forecast, its sum in pfc->fc == fc) lists the farms; NULL for a farm.
 */
static enum wc_status write_netcdf(struct night *n, const struct subject *s,
				   const struct forecast *fc, const struct pforecast *pfc,
				   const json_t *js, const char *base, json_t *rec,
				   struct wc_error *err)
{
	const json_t *leads = json_object_get(js, "leads"), *levels = json_object_get(js, "quantiles");
	size_t nlead = json_array_size(leads), nq = json_array_size(levels);
	int nm = pfc ? pfc->nfarms : 0;
	struct ncw_forecast w;
	char tmp[BATCH_PATH_MAX], source[64], notes[sizeof(fc->cut_note) + sizeof(fc->note) + 2];
	int64_t *valid = malloc((nlead + 1) * sizeof(*valid));
	double *lv = malloc((nq + 1) * sizeof(*lv));
	double *point = malloc((nlead + 1) * sizeof(*point));
	double *q = malloc((nlead * nq + 1) * sizeof(*q));
	struct ncw_member *members = calloc((size_t)nm + 1, sizeof(*members));
	enum wc_status ret;

	if (!valid || !lv || !point || !q || !members) {
		ret = wc_error_set(err, WC_ENOMEM, "out of memory");
		goto cleanup;
	}
	for (size_t k = 0; k < nq; k++)
		lv[k] = json_number_value(json_array_get(levels, k));
	for (size_t i = 0; i < nlead; i++) {
		const json_t *l = json_array_get(leads, i);
		const json_t *qm = json_object_get(l, "quantiles_mw");

		valid[i] = fc->valid[i];
		point[i] = json_number_value(json_object_get(l, "point_mw"));
		for (size_t k = 0; k < nq; k++)
			q[i * nq + k] = json_number_value(json_array_get(qm, k));
	}
	for (int i = 0; i < nm; i++) {
		const struct forecast *f = &pfc->farms[i];

		members[i] = (struct ncw_member){
			.id = f->farm_id, .model = f->model,
			.model_version = strcmp(f->model, "nn") ? 0 : f->model_version,
			.capacity_mw = f->capacity_mw, .has_run = f->has_run,
			.run_is_forecast = f->run_is_forecast, .run_ref_time = f->run_ref_time,
		};
	}
	snprintf(source, sizeof(source), "windcast %s", n->o->version);
	forecast_notes(fc, notes, sizeof(notes));
	w = (struct ncw_forecast){
		.farm_id = s->id, .farm_name = s->name, .capacity_mw = fc->capacity_mw,
		.lat = s->lat, .lon = s->lon, .source = source, .issued = fc->issued,
		.issued_reason = fc->issued_reason, .model = fc->model,
		.model_version = fc->model_version, .model_choice = fc->model_choice,
		.fallback = fc->fallback, .note = notes, .has_run = fc->has_run,
		.run_is_forecast = fc->run_is_forecast, .run_ref_time = fc->run_ref_time,
		.run_source = fc->run_source, .nlead = (int)nlead, .nq = (int)nq, .valid = valid,
		.levels = lv, .point_mw = point, .q_mw = q, .portfolio = s->portfolio,
		.nmembers = nm, .members = members,
	};
	outfile_tmp_name(s->dir, base, tmp, sizeof(tmp));
	if ((ret = ncwrite_forecast(tmp, &w, err))) {
		unlink(tmp);
		goto cleanup;
	}
	ret = outfile_publish(s->dir, base, tmp, rec, err);
cleanup:
	free(valid);
	free(lv);
	free(point);
	free(q);
	free(members);
	return ret;
}

/* A file entry of the manifest: {"path" (relative to OUT), "format"}, then its size and
 * hash once written. */
static json_t *file_rec(const char *sub, const char *base, const char *format)
{
	char rel[BATCH_PATH_MAX];

	snprintf(rel, sizeof(rel), "%s/%s", sub, base);
	return json_pack("{s:s,s:s}", "path", rel, "format", format);
}

/* Write data as OUT/<sub>/<id><ext> and list it in files (with its hash). */
static enum wc_status write_file(const struct subject *s, const char *ext, const char *format,
				 const char *data, size_t len, json_t *files,
				 struct wc_error *err)
{
	char base[FARM_ID_MAX + 32];
	json_t *rec;

	snprintf(base, sizeof(base), "%s%s", s->id, ext);
	rec = file_rec(s->sub, base, format);
	json_array_append_new(files, rec);
	return outfile_write(s->dir, base, data ? data : "", len, rec, err);
}

static const char *const forecast_ext[] = { ".json", ".csv", ".nc" };
static const char *const commit_ext[] = { ".commitments.json", ".commitments.csv" };

/*
 * Remove files of s that this night does not list (a failed forecast lists none; a
 * skipped or failed schedule no commitments), so that a re-run leaves no stale one.
 */
static void remove_files(const struct subject *s, const char *const *ext, size_t n)
{
	char path[BATCH_PATH_MAX];

	for (size_t i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s%s", s->dir, s->id, ext[i]);
		if (unlink(path) && errno != ENOENT)
			log_warn("batch: cannot remove '%s': %s", path, strerror(errno));
	}
}

/*
 * Write the three forecast files of s from fc (a portfolio's sum when pfc is given) and
 * its reply js, listing them in `files`, and set the entry's "forecast" summary.
 */
static enum wc_status write_forecast(struct night *n, const struct subject *s,
				     const struct forecast *fc, const struct pforecast *pfc,
				     const json_t *js, json_t *files, json_t *entry,
				     struct wc_error *err)
{
	const struct forecast_request *fr = &n->o->forecast;
	char base[FARM_ID_MAX + 8], t[UTC_ISO_LEN], *text;
	json_t *rec, *summary;
	size_t len = 0;
	struct dynbuf csv;
	enum wc_status ret;

	dynbuf_init(&csv, CSV_MAX);
	if (!(text = outfile_json_text(js, &len))) {
		ret = wc_error_set(err, WC_ENOMEM, "out of memory");
		goto cleanup;
	}
	if ((ret = forecast_csv(fc, fr->levels, fr->nlevels, fr->o.horizon, true, fr->frac, &csv))) {
		ret = wc_error_set(err, ret, "the CSV of %s '%s' is larger than %zu MiB", s->kind,
				   s->id, CSV_MAX >> 20);
		goto cleanup;
	}
	summary = json_pack("{s:s,s:s,s:o,s:o,s:o,s:i}", "issued", utc_format(fc->issued, t),
			    "model", fc->model, "model_version",
			    strcmp(fc->model, "nn") ? json_null() : json_integer(fc->model_version),
			    "nwp_run",
			    fc->has_run && fc->run_is_forecast
				    ? json_string(utc_format(fc->run_ref_time, t))
				    : json_string(fc->has_run ? "analysis" : "none"),
			    "fallback", fc->fallback[0] ? json_string(fc->fallback) : json_null(),
			    "leads", (int)json_array_size(json_object_get(js, "leads")));
	json_object_set_new(entry, "forecast", summary);
	if ((ret = write_file(s, ".json", "json", text, len, files, err)) ||
	    (ret = write_file(s, ".csv", "csv", dynbuf_str(&csv), csv.len, files, err)))
		goto cleanup;
	snprintf(base, sizeof(base), "%s.nc", s->id);
	rec = file_rec(s->sub, base, "netcdf");
	json_array_append_new(files, rec);
	ret = write_netcdf(n, s, fc, pfc, js, base, rec, err);
cleanup:
	free(text);
	dynbuf_release(&csv);
	return ret;
}

/* Forecast farm f at the night's issue time and write its three files. */
static enum wc_status forecast_farm(struct night *n, const struct subject *s, json_t *files,
				    json_t *entry, struct wc_error *err)
{
	struct forecast_request fr = n->o->forecast;
	struct forecast fc = { 0 };
	json_t *js = NULL;
	enum wc_status ret;
	char t[UTC_ISO_LEN];

	fr.issued = n->issued;
	if ((ret = forecast_get_or_issue(n->st, s->id, &fr, &fc, err)) ||
	    (ret = forecast_check_levels(&fc, fr.levels, fr.nlevels, err)))
		goto cleanup;
	if (!(js = forecast_json(&fc, fr.levels, fr.nlevels, fr.o.horizon))) {
		ret = wc_error_set(err, WC_ENOMEM, "out of memory");
		goto cleanup;
	}
	if ((ret = write_forecast(n, s, &fc, NULL, js, files, entry, err)))
		goto cleanup;
	log_info("batch forecast farm=%s status=ok model=%s model_version=%d nwp_run=%s "
		 "fallback=%s files=3",
		 s->id, fc.model, fc.model_version,
		 fc.has_run && fc.run_is_forecast ? utc_format(fc.run_ref_time, t) : "none",
		 fc.fallback[0] ? "yes" : "no");
cleanup:
	json_decref(js);
	forecast_release(&fc);
	return ret;
}

/* ---- tomorrow's commitments ---- */

/*
 * Tomorrow for market settings m (defaults in) at instant t: the trading day after the
 * local date t falls on in m's zone (trading/market.h: its periods and gate closure).
 */
static enum wc_status next_day(const struct market_settings *m, int64_t t,
			       struct trading_day *day, struct wc_error *err)
{
	struct tz *z;
	int64_t local;
	enum wc_status ret;

	if ((ret = tz_load(m->time_zone, &z, err)))
		return ret;
	local = t + tz_offset(z, t);
	ret = trading_day_init(day, z, utc_floor(local, UTC_DAY) / UTC_DAY + 1, m->gate_min, err);
	tz_free(z);
	return ret;
}

/* Which of price, psi_plus and psi_minus m sets: 0 none, 3 all. */
static int price_fields(const struct market_settings *m)
{
	return !isnan(m->price) + !isnan(m->psi_plus) + !isnan(m->psi_minus);
}

/*
 * Tomorrow's commitments of s (batch.h): the settings are s's stored ones over the
 * batch's defaults; without a price model the schedule is skipped (entry says why).
 * Writes OUT/<sub>/<id>.commitments.{json,csv}, lists them in files and sets the entry's
 * "commitments". A failure returns its status with err set (the entry says it too).
 */
static enum wc_status commit_subject(struct night *n, const struct subject *s,
				     const struct market_settings *stored, json_t *files,
				     json_t *entry, struct wc_error *err)
{
	struct commit_request r;
	struct market_settings m;
	struct schedule sch = { 0 };
	struct trading_day day;
	struct dynbuf csv;
	json_t *js = NULL, *summary;
	char *text = NULL, day_text[16], t[UTC_ISO_LEN], g[UTC_ISO_LEN], reason[512];
	int nstored = price_fields(stored);
	size_t len = 0;
	int64_t y;
	int mo, d;
	enum wc_status ret;

	dynbuf_init(&csv, CSV_MAX);
	market_merge(&m, &n->o->market, stored);
	market_defaults(&m);
	if (!price_fields(&m)) {
		snprintf(reason, sizeof(reason),
			 "no price model: %s '%s' has no stored price, psi_plus and psi_minus "
			 "('windcast %s market' sets them) and the batch was given no --price, "
			 "--psi-plus and --psi-minus",
			 s->kind, s->id, s->portfolio ? "portfolio" : "farm");
		json_object_set_new(entry, "commitments",
				    json_pack("{s:s,s:s}", "status", "skipped", "reason", reason));
		remove_files(s, commit_ext, 2);
		n->res->commitments_skipped++;
		log_info("batch commitments %s=%s status=skipped reason=\"%s\"", s->kind, s->id,
			 reason);
		return WC_OK;
	}
	if ((ret = next_day(&m, n->issued, &day, err)))
		goto cleanup;
	commit_request_init(&r);
	r.portfolio = s->portfolio;
	r.id = s->id;
	r.fr = n->o->forecast;
	/*
	 * A gate closure after the night's issue time is still to come: runs delivered
	 * before it may be missing from the store now, so that forecast is provisional and
	 * not stored (a stored one would be served later instead of the final one).
	 */
	r.fr.store = day.gate <= n->issued;
	r.day = day.day;
	r.over = m;		/* complete: the committer's merge with the stored ones keeps it */
	if ((ret = commit_get(n->st, &r, &sch, err)))
		goto cleanup;
	if (!(js = schedule_json(&sch)) || !(text = outfile_json_text(js, &len))) {
		ret = wc_error_set(err, WC_ENOMEM, "out of memory");
		goto cleanup;
	}
	if ((ret = schedule_csv(&sch, true, &csv))) {
		ret = wc_error_set(err, ret, "the commitments CSV is larger than %zu MiB",
				   CSV_MAX >> 20);
		goto cleanup;
	}
	if ((ret = write_file(s, commit_ext[0], "json", text, len, files, err)) ||
	    (ret = write_file(s, commit_ext[1], "csv", dynbuf_str(&csv), csv.len, files, err)))
		goto cleanup;
	utc_civil_from_days(sch.day.day, &y, &mo, &d);
	snprintf(day_text, sizeof(day_text), "%04lld-%02d-%02d", (long long)y, mo, d);
	summary = json_pack("{s:s,s:s,s:s,s:s,s:s,s:b,s:s,s:i,s:f,s:f,s:f}", "status", "ok",
			    "day", day_text, "time_zone", sch.market.time_zone, "gate_closure",
			    utc_format(sch.day.gate, g), "forecast_issued",
			    utc_format(sch.pfc.fc.issued, t), "provisional", !r.fr.store,
			    "price_model",
			    nstored == 3 ? "stored"
			    : nstored ? "stored over the batch's" : "the batch's",
			    "periods", sch.n, "committed_mwh", round(sch.committed_mwh * 1e6) / 1e6,
			    "expected_imbalance_cost", round(sch.imbalance_cost * 1e6) / 1e6,
			    "expected_revenue", round(sch.revenue * 1e6) / 1e6);
	json_object_set_new(entry, "commitments", summary);
	log_info("batch commitments %s=%s status=ok day=%s periods=%d committed_mwh=%.3f", s->kind,
		 s->id, day_text, sch.n, sch.committed_mwh);
cleanup:
	if (ret) {
		json_object_set_new(entry, "commitments",
				    json_pack("{s:s,s:s}", "status", "failed", "error",
					      wc_error_msg(err)));
		remove_files(s, commit_ext, 2);
	}
	free(text);
	json_decref(js);
	dynbuf_release(&csv);
	schedule_release(&sch);
	return ret;
}

/* ---- a farm, a portfolio ---- */

/* Record the failure of s (its entry, stderr's list, the counts). */
static void subject_failed(struct night *n, const struct subject *s, json_t *entry,
			   const char *what, const char *msg)
{
	char subject[FARM_ID_MAX + 32], text[sizeof(((struct wc_error *)0)->msg) + 64];

	snprintf(subject, sizeof(subject), "%s '%s'", s->kind, s->id);
	snprintf(text, sizeof(text), "%s%s", what, msg);
	json_object_set_new(entry, "status", json_string("failed"));
	json_object_set_new(entry, "error", json_string(text));
	add_failure(n, subject, text);
	if (s->portfolio)
		n->res->portfolios_failed++;
	else
		n->res->farms_failed++;
}

/* The forecast of s failed: it lists no file and holds none; no commitments either. */
static void forecast_failed(struct night *n, const struct subject *s, json_t *files,
			    json_t *entry, const char *msg)
{
	json_array_clear(files);
	remove_files(s, forecast_ext, 3);
	remove_files(s, commit_ext, 2);
	json_object_set_new(entry, "commitments",
			    json_pack("{s:s,s:s}", "status", "skipped", "reason",
				      "not run: the forecast failed"));
	subject_failed(n, s, entry, "", msg);
	log_warn("batch forecast %s=%s status=failed reason=\"%s\"", s->kind, s->id, msg);
}

/*
 * The forecast files are written; now the commitments. A failed schedule fails the
 * subject (its forecast files stay, listed).
 */
static void commit_after(struct night *n, const struct subject *s,
			 const struct market_settings *stored, json_t *files, json_t *entry,
			 bool *ok)
{
	struct wc_error err = { 0 };

	if (!commit_subject(n, s, stored, files, entry, &err))
		return;
	log_warn("batch commitments %s=%s status=failed reason=\"%s\"", s->kind, s->id,
		 wc_error_msg(&err));
	if (*ok)
		subject_failed(n, s, entry, "commitments: ", wc_error_msg(&err));
	*ok = false;
}

static void run_farm(struct night *n, const struct farm *f)
{
	/* the keys in the order the manifest shows them; values are set below */
	json_t *entry = json_pack("{s:s,s:n,s:n}", "id", f->id, "status", "error");
	json_t *rt = json_pack("{s:n,s:n,s:n}", "status", "reason", "model_version");
	json_t *files = json_array();
	struct market_settings stored;
	struct wc_error err = { 0 };
	struct subject s;
	bool trained, ok = true;

	subject_farm(&s, n, f);
	trained = retrain(n, f, rt);
	json_object_set_new(entry, "retrain", rt);
	json_object_set_new(entry, "forecast", json_null());
	json_object_set_new(entry, "files", json_array());
	json_object_set_new(entry, "commitments", json_null());
	if (forecast_farm(n, &s, files, entry, &err)) {
		forecast_failed(n, &s, files, entry, wc_error_msg(&err));
		ok = false;
	} else if (!trained) {
		const char *msg = json_string_value(json_object_get(rt, "error"));

		if (!msg)
			msg = json_string_value(json_object_get(rt, "reason"));
		subject_failed(n, &s, entry, "retraining failed: ", msg ? msg : "?");
		ok = false;
	}
	if (json_array_size(files)) {
		if (store_farm_market_get(n->st, f->id, &stored, &err)) {
			log_warn("batch commitments farm=%s status=failed reason=\"%s\"", f->id,
				 wc_error_msg(&err));
			json_object_set_new(entry, "commitments",
					    json_pack("{s:s,s:s}", "status", "failed", "error",
						      wc_error_msg(&err)));
			if (ok)
				subject_failed(n, &s, entry, "commitments: ", wc_error_msg(&err));
			ok = false;
		} else {
			commit_after(n, &s, &stored, files, entry, &ok);
		}
	}
	if (ok) {
		json_object_set_new(entry, "status", json_string("ok"));
		json_object_set_new(entry, "error", json_null());
	}
	json_object_set_new(entry, "files", files);
	json_array_append_new(n->farms, entry);
}

/* The latest of its farms' forecasts' computation times: the sum is a function of them
 * (and of the hindcasts), so a re-run of the night shows the same instant. */
static int64_t newest_input(const struct pforecast *p)
{
	int64_t t = 0;

	for (int i = 0; i < p->nfarms; i++)
		if (p->farms[i].computed_at > t)
			t = p->farms[i].computed_at;
	return t;
}

/*
 * Portfolio p: its forecast at the night's issue time (trading/portfolio.h, the farms'
 * forecasts kept as the batch keeps every farm's), its three files in OUT/portfolios/,
 * its commitments.
 */
static void run_portfolio(struct night *n, const struct portfolio *p)
{
	json_t *entry = json_pack("{s:s,s:n,s:n,s:[]}", "id", p->id, "status", "error", "farms");
	json_t *files = json_array(), *js = NULL;
	struct forecast_request fr = n->o->forecast;
	struct pforecast pfc = { 0 };
	struct wc_error err = { 0 };
	struct subject s;
	bool ok = true;
	char t[UTC_ISO_LEN];

	subject_portfolio(&s, n, p);
	for (int i = 0; i < p->nfarms; i++)
		json_array_append_new(json_object_get(entry, "farms"), json_string(p->farms[i]));
	json_object_set_new(entry, "forecast", json_null());
	json_object_set_new(entry, "files", json_array());
	json_object_set_new(entry, "commitments", json_null());
	fr.issued = n->issued;
	fr.store = true;
	if (portfolio_forecast_get(n->st, p->id, &fr, &pfc, &err) ||
	    forecast_check_levels(&pfc.fc, fr.levels, fr.nlevels, &err))
		goto failed;
	pfc.fc.computed_at = newest_input(&pfc);
	if (!(js = pforecast_json(&pfc, fr.levels, fr.nlevels, fr.o.horizon))) {
		wc_error_set(&err, WC_ENOMEM, "out of memory");
		goto failed;
	}
	if (write_forecast(n, &s, &pfc.fc, &pfc, js, files, entry, &err))
		goto failed;
	log_info("batch forecast portfolio=%s status=ok farms=%d nwp_run=%s fallback=%s files=3",
		 p->id, pfc.nfarms,
		 pfc.fc.has_run && pfc.fc.run_is_forecast ? utc_format(pfc.fc.run_ref_time, t)
							  : "none",
		 pfc.fc.fallback[0] ? "yes" : "no");
	commit_after(n, &s, &p->market, files, entry, &ok);
	goto done;
failed:
	forecast_failed(n, &s, files, entry, wc_error_msg(&err));
	ok = false;
done:
	if (ok) {
		json_object_set_new(entry, "status", json_string("ok"));
		json_object_set_new(entry, "error", json_null());
	}
	json_object_set_new(entry, "files", files);
	json_array_append_new(n->portfolios, entry);
	json_decref(js);
	pforecast_release(&pfc);
}

/* ---- the manifest ---- */

/* The selection as the manifest shows it: the ids, or null when all are covered. */
static json_t *selection_json(bool select, const char *const *ids, size_t n)
{
	json_t *a;

	if (!select)
		return json_null();
	a = json_array();
	for (size_t i = 0; a && i < n; i++)
		json_array_append_new(a, json_string(ids[i]));
	return a;
}

static json_t *manifest(const struct night *n, const char *data_dir, int64_t started,
			size_t farms_total, size_t portfolios_total)
{
	const struct batch_options *o = n->o;
	const struct batch_result *res = n->res;
	char issued[UTC_ISO_LEN], a[UTC_ISO_LEN], b[UTC_ISO_LEN];
	json_t *levels = json_array(), *opts;

	for (int k = 0; k < o->forecast.nlevels; k++)
		json_array_append_new(levels,
				      json_real(round(o->forecast.levels[k] * 1e6) / 1e6));
	opts = json_pack("{s:s,s:s?,s:s,s:s,s:i,s:o,s:s,s:s}", "issued",
			 utc_format(n->issued, issued), "inbox", o->inbox, "out", o->out,
			 "shard_rule", "1 + FNV-1a-64(id) mod N, for farms and portfolios alike",
			 "horizon", o->forecast.o.horizon, "quantiles", levels, "model",
			 o->forecast.o.model, "retrain_after", o->retrain_text);
	json_object_set_new(opts, "train_args", json_string(o->train_args));
	json_object_set_new(opts, "farms", selection_json(o->select, o->farms, o->nfarms));
	json_object_set_new(opts, "portfolios",
			    selection_json(o->select, o->portfolios, o->nportfolios));
	json_object_set_new(opts, "market", market_to_json(&o->market));
	json_object_set_new(opts, "commitments_rule",
			    json_string("the trading day after the issue time in the market's "
					"time zone, from the forecast at its gate closure; stored "
					"settings over the batch's market options; skipped without "
					"a price model"));
	return json_pack("{s:s,s:i,s:s,s:s,s:s,s:O?,s:o,s:s,s:s,s:s,s:s,s:{s:i,s:i},s:I,s:I,s:I,"
			 "s:I,s:I,s:I,s:I,s:{s:s?,s:o},s:O,s:O}",
			 "kind", "windcast-batch-manifest", "manifest_version", 2,
			 "windcast_version", o->version, "issued", issued, "status",
			 res->interrupted			       ? "interrupted"
			 : res->farms_failed || res->portfolios_failed ? "failed"
								       : "ok",
			 "arguments", (json_t *)o->argv,
			 "options", opts, "data", data_dir, "out", res->out_dir, "started_at",
			 utc_format(started, a), "finished_at", utc_format(utc_now(), b), "shard",
			 "k", o->shard_k, "n", o->shard_n, "farms_total", (json_int_t)farms_total,
			 "farms_in_shard", (json_int_t)res->farms, "farms_failed",
			 (json_int_t)res->farms_failed, "portfolios_total",
			 (json_int_t)portfolios_total, "portfolios_in_shard",
			 (json_int_t)res->portfolios, "portfolios_failed",
			 (json_int_t)res->portfolios_failed, "commitments_skipped",
			 (json_int_t)res->commitments_skipped, "inbox", "dir", o->inbox, "files",
			 json_incref(n->inbox), "farms", n->farms, "portfolios", n->portfolios);
}

void batch_result_release(struct batch_result *res)
{
	if (!res)
		return;
	free(res->failures);
	res->failures = NULL;
	res->nfailures = 0;
}

enum wc_status batch_check_market(const struct market_settings *m, struct wc_error *err)
{
	static const enum market_field trio[] = { MARKET_PRICE, MARKET_PSI_PLUS, MARKET_PSI_MINUS };
	int given = price_fields(m);

	if (given && given < 3)
		for (size_t i = 0; i < 3; i++)
			if (isnan(i == 0 ? m->price : i == 1 ? m->psi_plus : m->psi_minus))
				return wc_error_set(err, WC_EINVAL,
						    "%s is missing: give --price, --psi-plus "
						    "and --psi-minus together (the batch's "
						    "price model for farms without their own)",
						    market_fields[trio[i]].option);
	if (given == 3 && !(m->psi_plus + m->psi_minus > 0))
		return wc_error_set(err, WC_EINVAL, "invalid --psi-plus and --psi-minus: both are "
						    "0; one must be positive (alpha = psi_plus / "
						    "(psi_plus + psi_minus))");
	if (!isnan(m->min_mw) || !isnan(m->max_mw))
		return wc_error_set(err, WC_EINVAL, "%s is not a batch option: limits are per "
						    "farm ('windcast farm market')",
				    market_fields[isnan(m->min_mw) ? MARKET_MAX_MW : MARKET_MIN_MW]
					    .option);
	return market_validate(m, err);
}

/* Whether id is among ids[0..n). */
static bool listed(const char *id, const char *const *ids, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(ids[i], id))
			return true;
	return false;
}

/* Every selected farm and portfolio exists; WC_EINVAL naming the option and id. */
static enum wc_status check_selection(struct store *st, const struct batch_options *o,
				      struct wc_error *err)
{
	struct portfolio *p = NULL;
	struct farm f;
	enum wc_status ret = WC_OK;

	if (!o->select)
		return WC_OK;
	if (o->nfarms > BATCH_MAX_SELECT || o->nportfolios > BATCH_MAX_SELECT)
		return wc_error_set(err, WC_EINVAL, "more than %d ids given with --farm or "
						    "--portfolio",
				    BATCH_MAX_SELECT);
	for (size_t i = 0; !ret && i < o->nfarms; i++)
		if ((ret = store_farm_get(st, o->farms[i], &f, err)) == WC_ENOTFOUND)
			ret = wc_error_set(err, WC_EINVAL, "invalid --farm '%s': no farm '%s'; "
							   "see 'windcast farm list'",
					   o->farms[i], o->farms[i]);
	if (!ret && o->nportfolios && !(p = malloc(sizeof(*p))))
		ret = wc_error_set(err, WC_ENOMEM, "out of memory");
	for (size_t i = 0; !ret && i < o->nportfolios; i++)
		if ((ret = store_portfolio_get(st, o->portfolios[i], p, err)) == WC_ENOTFOUND)
			ret = wc_error_set(err, WC_EINVAL,
					   "invalid --portfolio '%s': no portfolio '%s'; see "
					   "'windcast portfolio list'",
					   o->portfolios[i], o->portfolios[i]);
	free(p);
	return ret;
}

/* Record a farm or portfolio the interrupted night did not run. */
static void not_run(struct night *n, const char *kind, const char *id, json_t *list)
{
	char subject[FARM_ID_MAX + 32];

	n->res->interrupted = true;
	if (!strcmp(kind, "farm"))
		n->res->farms_failed++;
	else
		n->res->portfolios_failed++;
	snprintf(subject, sizeof(subject), "%s '%s'", kind, id);
	add_failure(n, subject, "not run: the batch was interrupted");
	json_array_append_new(list, json_pack("{s:s,s:s,s:[],s:s}", "id", id, "status", "failed",
					      "files", "error",
					      "not run: the batch was interrupted"));
}

enum wc_status batch_run(struct store *st, const struct batch_options *o,
			 struct batch_result *res, struct wc_error *err)
{
	struct night n = { .st = st, .o = o, .res = res };
	struct batch_lock lk = { -1 };
	struct farm *farms = NULL;
	struct portfolio *ports = NULL;
	size_t nfarms = 0, nports = 0;
	char base[64], *text = NULL;
	int64_t started = utc_now();
	struct timespec t0;
	json_t *man = NULL;
	enum wc_status ret;
	struct stat sb;
	size_t len;

	memset(res, 0, sizeof(*res));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	n.issued = utc_floor(o->issued == INT64_MIN ? started : o->issued, UTC_HOUR);
	res->issued = n.issued;
	if (o->shard_k < 1 || o->shard_k > o->shard_n || o->shard_n > BATCH_MAX_SHARDS)
		return wc_error_set(err, WC_EINVAL, "invalid shard %d/%d", o->shard_k, o->shard_n);
	if (o->inbox && (stat(o->inbox, &sb) || !S_ISDIR(sb.st_mode)))
		return wc_error_set(err, WC_EINVAL, "inbox '%s' is not a directory", o->inbox);
	if ((ret = batch_check_market(&o->market, err)) || (ret = check_selection(st, o, err)))
		return ret;
	if ((ret = batch_out_dir(o->out, n.issued, res->out_dir, sizeof(res->out_dir), err)))
		return ret;
	if ((size_t)snprintf(n.farms_dir, sizeof(n.farms_dir), "%s/farms", res->out_dir) >=
		    sizeof(n.farms_dir) - FARM_ID_MAX - 32 ||
	    (size_t)snprintf(n.portfolios_dir, sizeof(n.portfolios_dir), "%s/portfolios",
			     res->out_dir) >= sizeof(n.portfolios_dir) - FARM_ID_MAX - 32)
		return wc_error_set(err, WC_EINVAL, "output path '%s' is too long", res->out_dir);
	if ((ret = batch_lock_take(store_dir(st), &lk, err)))
		return ret;
	n.inbox = json_array();
	n.farms = json_array();
	n.portfolios = json_array();
	if (!n.inbox || !n.farms || !n.portfolios) {
		ret = wc_error_set(err, WC_ENOMEM, "out of memory");
		goto cleanup;
	}
	if ((ret = outfile_mkdirs(n.farms_dir, err)))
		goto cleanup;
	log_info("batch start issued=%s shard=%d/%d out=\"%s\" inbox=\"%s\" retrain_after=%s",
		 utc_format(n.issued, base), o->shard_k, o->shard_n, res->out_dir,
		 o->inbox ? o->inbox : "", o->retrain_text);
	if (o->inbox)
		run_inbox(&n);
	if ((ret = store_farm_list(st, &farms, &nfarms, err)) ||
	    (ret = store_portfolio_list(st, &ports, &nports, err)))
		goto cleanup;
	for (size_t i = 0; i < nfarms; i++) {
		if (batch_shard_of(farms[i].id, o->shard_n) != o->shard_k ||
		    (o->select && !listed(farms[i].id, o->farms, o->nfarms)))
			continue;
		res->farms++;
		if (stopping(&n))
			not_run(&n, "farm", farms[i].id, n.farms);
		else
			run_farm(&n, &farms[i]);
	}
	for (size_t i = 0; i < nports; i++) {
		if (batch_shard_of(ports[i].id, o->shard_n) != o->shard_k ||
		    (o->select && !listed(ports[i].id, o->portfolios, o->nportfolios)))
			continue;
		if (!res->portfolios && (ret = outfile_mkdirs(n.portfolios_dir, err)))
			goto cleanup;
		res->portfolios++;
		if (stopping(&n))
			not_run(&n, "portfolio", ports[i].id, n.portfolios);
		else
			run_portfolio(&n, &ports[i]);
	}
	if (stopping(&n))
		res->interrupted = true;

	/* the manifest last: whoever sees it sees every file it lists */
	if (!(man = manifest(&n, store_dir(st), started, nfarms, nports))) {
		ret = wc_error_set(err, WC_ENOMEM, "out of memory");
		goto cleanup;
	}
	if (o->shard_n > 1)
		snprintf(base, sizeof(base), "manifest-%d-of-%d.json", o->shard_k, o->shard_n);
	else
		snprintf(base, sizeof(base), "manifest.json");
	if (!(text = outfile_json_text(man, &len))) {
		ret = wc_error_set(err, WC_ENOMEM, "out of memory");
		goto cleanup;
	}
	if ((ret = outfile_write(res->out_dir, base, text, len, NULL, err)))
		goto cleanup;
	snprintf(res->manifest, sizeof(res->manifest), "%s/%s", res->out_dir, base);
	log_info("batch done issued=%s farms=%zu failed=%zu portfolios=%zu failed=%zu "
		 "commitments_skipped=%zu inbox_processed=%zu inbox_rejected=%zu manifest=\"%s\" "
		 "seconds=%.1f",
		 utc_format(n.issued, base), res->farms, res->farms_failed, res->portfolios,
		 res->portfolios_failed, res->commitments_skipped, res->inbox_processed,
		 res->inbox_rejected, res->manifest, seconds_since(&t0));
cleanup:
	free(text);
	free(farms);
	free(ports);
	json_decref(man);
	json_decref(n.inbox);
	json_decref(n.farms);
	json_decref(n.portfolios);
	batch_lock_release(&lk);
	return ret;
}
