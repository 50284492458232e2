/*
 * batch.c - the nightly batch; see batch.h for what a night does and promises.
 *
 * Everything a night decides goes through the library paths the CLI and the API use
 * (ingest_file, obs_parse + store_obs_upsert, train_request_*, forecast_get_or_issue,
 * forecast_json, forecast_csv); this file adds the inbox, the retrain policy, the shard,
 * the files and the manifest. Limits: the night is sequential (one farm after the other,
 * each training on the options' worker threads); a shard's farms must fit in memory as
 * struct farm (about 1.3 kB each).
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
#include "data/ingest.h"
#include "data/ncwrite.h"
#include "data/obs.h"
#include "forecast/model.h"

#define CSV_MAX ((size_t)64 << 20)	/* bytes of one farm's CSV (about 300,000 leads) */
#define MOVE_SUFFIX_MAX 1000		/* name.1 .. name.999 in processed/ or rejected/ */

/* ---- options ---------------------------------------------------------------------- */

void batch_options_init(struct batch_options *o)
{
	memset(o, 0, sizeof(*o));
	o->issued = INT64_MIN;
	o->shard_k = o->shard_n = 1;
	o->retrain_after = BATCH_DEFAULT_RETRAIN_AFTER;
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
	json_t *inbox;		/* the manifest's inbox entries */
	json_t *farms;		/* the manifest's farm entries */
	json_t *portfolios;	/* the manifest's portfolio entries (issue 12) */
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

/*
 * The NetCDF file of a forecast whose JSON reply is js: its numbers are the reply's
 * (rounded as the API rounds them), so the two files agree exactly.
 */
static enum wc_status write_netcdf(struct night *n, const struct farm *f,
				   const struct forecast *fc, const json_t *js, const char *base,
				   json_t *rec, struct wc_error *err)
{
	const json_t *leads = json_object_get(js, "leads"), *levels = json_object_get(js, "quantiles");
	size_t nlead = json_array_size(leads), nq = json_array_size(levels);
	struct ncw_forecast w;
	char tmp[BATCH_PATH_MAX], source[64], notes[sizeof(fc->cut_note) + sizeof(fc->note) + 2];
	int64_t *valid = malloc((nlead + 1) * sizeof(*valid));
	double *lv = malloc((nq + 1) * sizeof(*lv));
	double *point = malloc((nlead + 1) * sizeof(*point));
	double *q = malloc((nlead * nq + 1) * sizeof(*q));
	enum wc_status ret;

	if (!valid || !lv || !point || !q) {
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
	snprintf(source, sizeof(source), "windcast %s", n->o->version);
	forecast_notes(fc, notes, sizeof(notes));
	w = (struct ncw_forecast){
		.farm_id = f->id, .farm_name = f->name, .capacity_mw = f->capacity_mw,
		.lat = f->lat, .lon = f->lon, .source = source, .issued = fc->issued,
		.issued_reason = fc->issued_reason, .model = fc->model,
		.model_version = fc->model_version, .model_choice = fc->model_choice,
		.fallback = fc->fallback, .note = notes, .has_run = fc->has_run,
		.run_is_forecast = fc->run_is_forecast, .run_ref_time = fc->run_ref_time,
		.run_source = fc->run_source, .nlead = (int)nlead, .nq = (int)nq, .valid = valid,
		.levels = lv, .point_mw = point, .q_mw = q,
	};
	outfile_tmp_name(n->farms_dir, base, tmp, sizeof(tmp));
	if ((ret = ncwrite_forecast(tmp, &w, err))) {
		unlink(tmp);
		goto cleanup;
	}
	ret = outfile_publish(n->farms_dir, base, tmp, rec, err);
cleanup:
	free(valid);
	free(lv);
	free(point);
	free(q);
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

/* Remove a farm's files of this night (a failed farm lists none, so holds none). */
static void remove_files(struct night *n, const char *id)
{
	static const char *const ext[] = { "json", "csv", "nc" };
	char path[BATCH_PATH_MAX];

	for (size_t i = 0; i < sizeof(ext) / sizeof(ext[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s.%s", n->farms_dir, id, ext[i]);
		if (unlink(path) && errno != ENOENT)
			log_warn("batch: cannot remove '%s': %s", path, strerror(errno));
	}
}

/* Forecast farm f at the night's issue time and write its three files. */
static enum wc_status forecast_farm(struct night *n, const struct farm *f, json_t *entry,
				    struct wc_error *err)
{
	struct forecast_request fr = n->o->forecast;
	struct forecast fc = { 0 };
	char base[FARM_ID_MAX + 8], t[UTC_ISO_LEN];
	json_t *js = NULL, *files = json_array(), *rec, *summary;
	char *text = NULL;
	size_t len = 0;
	struct dynbuf csv;
	enum wc_status ret;

	dynbuf_init(&csv, CSV_MAX);
	fr.issued = n->issued;
	if ((ret = forecast_get_or_issue(n->st, f->id, &fr, &fc, err)) ||
	    (ret = forecast_check_levels(&fc, fr.levels, fr.nlevels, err)))
		goto cleanup;
	if (!(js = forecast_json(&fc, fr.levels, fr.nlevels, fr.o.horizon)) ||
	    !(text = outfile_json_text(js, &len))) {
		ret = wc_error_set(err, WC_ENOMEM, "out of memory");
		goto cleanup;
	}
	if ((ret = forecast_csv(&fc, fr.levels, fr.nlevels, fr.o.horizon, true, fr.frac, &csv))) {
		ret = wc_error_set(err, ret, "the CSV of farm '%s' is larger than %zu MiB", f->id,
				   CSV_MAX >> 20);
		goto cleanup;
	}
	summary = json_pack("{s:s,s:s,s:o,s:o,s:o,s:i}", "issued", utc_format(fc.issued, t),
			    "model", fc.model, "model_version",
			    strcmp(fc.model, "nn") ? json_null() : json_integer(fc.model_version),
			    "nwp_run",
			    fc.has_run && fc.run_is_forecast
				    ? json_string(utc_format(fc.run_ref_time, t))
				    : json_string(fc.has_run ? "analysis" : "none"),
			    "fallback", fc.fallback[0] ? json_string(fc.fallback) : json_null(),
			    "leads", (int)json_array_size(json_object_get(js, "leads")));
	json_object_set_new(entry, "forecast", summary);

	snprintf(base, sizeof(base), "%s.json", f->id);
	rec = file_rec("farms", base, "json");
	json_array_append_new(files, rec);
	if ((ret = outfile_write(n->farms_dir, base, text, len, rec, err)))
		goto cleanup;
	snprintf(base, sizeof(base), "%s.csv", f->id);
	rec = file_rec("farms", base, "csv");
	json_array_append_new(files, rec);
	if ((ret = outfile_write(n->farms_dir, base, csv.data ? csv.data : "", csv.len, rec, err)))
		goto cleanup;
	snprintf(base, sizeof(base), "%s.nc", f->id);
	rec = file_rec("farms", base, "netcdf");
	json_array_append_new(files, rec);
	if ((ret = write_netcdf(n, f, &fc, js, base, rec, err)))
		goto cleanup;
	/*
	 * HOOK(issue 12, commitments): the trading library's day-ahead schedule of farm f
	 * for the trading day after n->issued goes here: write OUT/farms/<id>.commitments.json
	 * and .csv with outfile_write(), append their file_rec() entries to `files`, and set the
	 * entry's "commitments" (today null) to the schedule's summary.
	 */
	json_object_set_new(entry, "files", files);
	files = NULL;
	log_info("batch forecast farm=%s status=ok model=%s model_version=%d nwp_run=%s "
		 "fallback=%s files=3",
		 f->id, fc.model, fc.model_version,
		 fc.has_run && fc.run_is_forecast ? utc_format(fc.run_ref_time, t) : "none",
		 fc.fallback[0] ? "yes" : "no");
cleanup:
	json_decref(files);
	json_decref(js);
	free(text);
	dynbuf_release(&csv);
	forecast_release(&fc);
	return ret;
}

static void run_farm(struct night *n, const struct farm *f)
{
	/* the keys in the order the manifest shows them; values are set below */
	json_t *entry = json_pack("{s:s,s:n,s:n}", "id", f->id, "status", "error");
	json_t *rt = json_pack("{s:n,s:n,s:n}", "status", "reason", "model_version");
	struct wc_error err = { 0 };
	char subject[FARM_ID_MAX + 16];
	bool trained;

	snprintf(subject, sizeof(subject), "farm '%s'", f->id);
	trained = retrain(n, f, rt);
	json_object_set_new(entry, "retrain", rt);
	json_object_set_new(entry, "forecast", json_null());
	json_object_set_new(entry, "files", json_array());
	json_object_set_new(entry, "commitments", json_null());	/* HOOK(issue 12) */
	if (forecast_farm(n, f, entry, &err)) {
		remove_files(n, f->id);
		json_object_set_new(entry, "files", json_array());
		json_object_set_new(entry, "status", json_string("failed"));
		json_object_set_new(entry, "error", json_string(wc_error_msg(&err)));
		add_failure(n, subject, wc_error_msg(&err));
		log_warn("batch forecast farm=%s status=failed reason=\"%s\"", f->id,
			  wc_error_msg(&err));
		n->res->farms_failed++;
	} else if (!trained) {
		const char *msg = json_string_value(json_object_get(rt, "error"));

		if (!msg)
			msg = json_string_value(json_object_get(rt, "reason"));
		snprintf(err.msg, sizeof(err.msg), "retraining failed: %s", msg ? msg : "?");
		json_object_set_new(entry, "status", json_string("failed"));
		json_object_set_new(entry, "error", json_string(err.msg));
		add_failure(n, subject, err.msg);
		n->res->farms_failed++;
	} else {
		json_object_set_new(entry, "status", json_string("ok"));
		json_object_set_new(entry, "error", json_null());
	}
	json_array_append_new(n->farms, entry);
}

/*
 * HOOK(issue 12, portfolios): forecast each portfolio of this shard (shard by the
 * portfolio's id, batch_shard_of) through the trading library's portfolio forecast, write
 * OUT/portfolios/<id>.{json,csv,nc} as forecast_farm() does for a farm, and append an
 * entry {"id", "status", "forecast", "files", "error"} to n->portfolios; a failed
 * portfolio counts as a failed farm does. Until data/portfolio.c lands there are none.
 * NEEDSWORK: with one store per host, a portfolio's member farms are retrained on other
 * hosts; its host must see their models (a shared store, issue 14's PostgreSQL).
 */
static void run_portfolios(struct night *n)
{
	(void)n;
}

/* ---- the manifest ---- */

static json_t *manifest(const struct night *n, const char *data_dir, int64_t started,
			size_t farms_total)
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
			 "shard_rule", "1 + FNV-1a-64(farm id) mod N", "horizon",
			 o->forecast.o.horizon, "quantiles", levels, "model", o->forecast.o.model,
			 "retrain_after", o->retrain_text);
	json_object_set_new(opts, "train_args", json_string(o->train_args));
	return json_pack("{s:s,s:i,s:s,s:s,s:s,s:O?,s:o,s:s,s:s,s:s,s:s,s:{s:i,s:i},s:I,s:I,s:I,"
			 "s:{s:s?,s:o},s:O,s:O}",
			 "kind", "windcast-batch-manifest", "manifest_version", 1,
			 "windcast_version", o->version, "issued", issued, "status",
			 res->interrupted ? "interrupted" : res->farms_failed ? "failed" : "ok",
			 "arguments", (json_t *)o->argv,
			 "options", opts, "data", data_dir, "out", res->out_dir, "started_at",
			 utc_format(started, a), "finished_at", utc_format(utc_now(), b), "shard",
			 "k", o->shard_k, "n", o->shard_n, "farms_total", (json_int_t)farms_total,
			 "farms_in_shard", (json_int_t)res->farms, "farms_failed",
			 (json_int_t)res->farms_failed, "inbox", "dir", o->inbox, "files",
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

enum wc_status batch_run(struct store *st, const struct batch_options *o,
			 struct batch_result *res, struct wc_error *err)
{
	struct night n = { .st = st, .o = o, .res = res };
	struct batch_lock lk = { -1 };
	struct farm *farms = NULL;
	size_t nfarms = 0;
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
	if ((ret = batch_out_dir(o->out, n.issued, res->out_dir, sizeof(res->out_dir), err)))
		return ret;
	if ((size_t)snprintf(n.farms_dir, sizeof(n.farms_dir), "%s/farms", res->out_dir) >=
	    sizeof(n.farms_dir) - FARM_ID_MAX - 32)
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
	if ((ret = store_farm_list(st, &farms, &nfarms, err)))
		goto cleanup;
	for (size_t i = 0; i < nfarms; i++) {
		if (batch_shard_of(farms[i].id, o->shard_n) != o->shard_k)
			continue;
		res->farms++;
		if (stopping(&n)) {
			char subject[FARM_ID_MAX + 16];

			res->interrupted = true;
			res->farms_failed++;
			snprintf(subject, sizeof(subject), "farm '%s'", farms[i].id);
			add_failure(&n, subject, "not run: the batch was interrupted");
			json_array_append_new(n.farms,
					      json_pack("{s:s,s:s,s:[],s:s}", "id", farms[i].id,
							"status", "failed", "files", "error",
							"not run: the batch was interrupted"));
			continue;
		}
		run_farm(&n, &farms[i]);
	}
	if (!stopping(&n))
		run_portfolios(&n);
	else
		res->interrupted = true;

	/* the manifest last: whoever sees it sees every file it lists */
	if (!(man = manifest(&n, store_dir(st), started, nfarms))) {
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
	log_info("batch done issued=%s farms=%zu failed=%zu inbox_processed=%zu "
		 "inbox_rejected=%zu manifest=\"%s\" seconds=%.1f",
		 utc_format(n.issued, base), res->farms, res->farms_failed, res->inbox_processed,
		 res->inbox_rejected, res->manifest, seconds_since(&t0));
cleanup:
	free(text);
	free(farms);
	json_decref(man);
	json_decref(n.inbox);
	json_decref(n.farms);
	json_decref(n.portfolios);
	batch_lock_release(&lk);
	return ret;
}
