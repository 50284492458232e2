/*
 * outfile.h - output files that appear whole: written under a temporary name in their
 * directory, fsync'd, renamed, the directory fsync'd. A reader sees the old file or the
 * new one, never part of one; a writer killed mid-way leaves only a temporary name
 * starting with '.', which readers ignore. Used by the nightly batch and the backtest.
 */
#ifndef WC_OUTFILE_H
#define WC_OUTFILE_H

#include <jansson.h>
#include <stddef.h>

#include "common/status.h"

#define OUTFILE_PATH_MAX 4096
/* JSON as output files hold it: indented, in insertion order, 10 significant digits. */
#define OUTFILE_JSON_FLAGS (JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10))

/* fsync a directory (after a rename in it). WC_EIO naming it. */
enum wc_status outfile_sync_dir(const char *dir, struct wc_error *err);

/* mkdir -p of dir, the last component included. WC_EIO naming the failing path;
 * WC_EINVAL for a path of OUTFILE_PATH_MAX bytes or more. */
enum wc_status outfile_mkdirs(const char *dir, struct wc_error *err);

/*
 * The temporary name of dir/base into buf: "dir/.<base>.tmp.<host>.<pid>", so that
 * writers on several hosts sharing the directory never share one.
 */
void outfile_tmp_name(const char *dir, const char *base, char *buf, size_t len);

/*
 * Make dir/base appear from the complete file tmp (in dir): fsync it, hash it, rename
 * it, fsync the directory. rec (may be NULL) gets "bytes" and "sha256". On failure tmp
 * is removed.
 */
enum wc_status outfile_publish(const char *dir, const char *base, const char *tmp,
			       json_t *rec, struct wc_error *err);

/*
 * Write len bytes of data to dir/base's temporary name (outfile_tmp_name, into tmp of
 * tmplen bytes), for outfile_publish later: several files written first and published
 * together. On failure nothing is left behind.
 */
enum wc_status outfile_stage(const char *dir, const char *base, const void *data, size_t len,
			     char *tmp, size_t tmplen, struct wc_error *err);

/* Write len bytes of data as dir/base: outfile_stage, then outfile_publish. */
enum wc_status outfile_write(const char *dir, const char *base, const void *data, size_t len,
			     json_t *rec, struct wc_error *err);

/* v as OUTFILE_JSON_FLAGS text with a final newline; malloc'd (free it), *len its length;
 * NULL when out of memory. */
char *outfile_json_text(const json_t *v, size_t *len);

#endif
