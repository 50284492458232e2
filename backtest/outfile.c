/*
 * outfile.c - files that appear whole; see outfile.h.
 */
#include "backtest/outfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/sha256.h"

enum wc_status outfile_sync_dir(const char *dir, struct wc_error *err)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc = fd < 0 ? -1 : fsync(fd);
	int e = errno;

	if (fd >= 0)
		close(fd);
	if (rc)
		return wc_error_set(err, WC_EIO, "cannot sync directory '%s': %s", dir,
				    strerror(e));
	return WC_OK;
}

/* mkdir -p of a directory (the last component included). */
enum wc_status outfile_mkdirs(const char *dir, struct wc_error *err)
{
	char path[OUTFILE_PATH_MAX];
	size_t len = strlen(dir);

	if (len >= sizeof(path))
		return wc_error_set(err, WC_EINVAL, "path '%s' is too long", dir);
	memcpy(path, dir, len + 1);
	for (char *p = path + 1; ; p++) {
		if (*p == '/' || !*p) {
			char c = *p;

			*p = '\0';
			if (mkdir(path, 0755) && errno != EEXIST)
				return wc_error_set(err, WC_EIO, "cannot create directory '%s': %s",
						    path, strerror(errno));
			*p = c;
			if (!c)
				break;
		}
	}
	{
		struct stat sb;

		if (stat(dir, &sb) || !S_ISDIR(sb.st_mode))
			return wc_error_set(err, WC_EIO, "'%s' is not a directory", dir);
	}
	return WC_OK;
}

/*
 * The temporary name of dir/base: ".<base>.tmp.<host>.<pid>" in the same directory, so
 * that shards on several hosts writing into one shared directory never share one. A
 * batch killed mid-write leaves it behind; readers ignore names starting with '.'.
 */
void outfile_tmp_name(const char *dir, const char *base, char *buf, size_t len)
{
	char host[64] = "";

	if (gethostname(host, sizeof(host) - 1) || !host[0] || strchr(host, '/'))
		snprintf(host, sizeof(host), "host");
	snprintf(buf, len, "%s/.%s.tmp.%s.%ld", dir, base, host, (long)getpid());
}

/*
 * Make dir/base appear atomically from the complete file `tmp` (in dir): fsync it, hash
 * it, rename it, fsync the directory. rec (may be NULL) gets "bytes" and "sha256". On
 * failure tmp is removed.
 */
enum wc_status outfile_publish(const char *dir, const char *base, const char *tmp,
				   json_t *rec, struct wc_error *err)
{
	char path[OUTFILE_PATH_MAX], sha[SHA256_HEX_LEN];
	enum wc_status ret = WC_OK;
	struct stat sb;
	int fd = open(tmp, O_RDONLY | O_CLOEXEC);

	snprintf(path, sizeof(path), "%s/%s", dir, base);
	if (fd < 0 || fsync(fd) || fstat(fd, &sb)) {
		ret = wc_error_set(err, WC_EIO, "cannot write '%s': %s", path, strerror(errno));
		goto cleanup;
	}
	if ((ret = sha256_file(tmp, sha, err)))
		goto cleanup;
	if (rename(tmp, path)) {
		ret = wc_error_set(err, WC_EIO, "cannot write '%s': %s", path, strerror(errno));
		goto cleanup;
	}
	if ((ret = outfile_sync_dir(dir, err)))
		goto cleanup;
	if (rec) {
		json_object_set_new(rec, "bytes", json_integer((json_int_t)sb.st_size));
		json_object_set_new(rec, "sha256", json_string(sha));
	}
cleanup:
	if (fd >= 0)
		close(fd);
	if (ret)
		unlink(tmp);
	return ret;
}

enum wc_status outfile_stage(const char *dir, const char *base, const void *data, size_t len,
			     char *tmp, size_t tmplen, struct wc_error *err)
{
	int fd;
	const char *p = data;

	outfile_tmp_name(dir, base, tmp, tmplen);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0)
		return wc_error_set(err, WC_EIO, "cannot write '%s/%s': %s", dir, base,
				    strerror(errno));
	while (len) {
		ssize_t w = write(fd, p, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			int e = w < 0 ? errno : ENOSPC;

			close(fd);
			unlink(tmp);
			return wc_error_set(err, WC_EIO, "cannot write '%s/%s': %s", dir, base,
					    strerror(e));
		}
		p += w;
		len -= (size_t)w;
	}
	if (close(fd)) {
		unlink(tmp);
		return wc_error_set(err, WC_EIO, "cannot write '%s/%s': %s", dir, base,
				    strerror(errno));
	}
	return WC_OK;
}

enum wc_status outfile_write(const char *dir, const char *base, const void *data, size_t len,
			     json_t *rec, struct wc_error *err)
{
	char tmp[OUTFILE_PATH_MAX];
	enum wc_status ret = outfile_stage(dir, base, data, len, tmp, sizeof(tmp), err);

	return ret ? ret : outfile_publish(dir, base, tmp, rec, err);
}

/* JSON as the files hold it: indented, in insertion order, with a final newline. */
char *outfile_json_text(const json_t *v, size_t *len)
{
	char *s = v ? json_dumps(v, OUTFILE_JSON_FLAGS) : NULL;
	char *t;

	if (!s)
		return NULL;
	*len = strlen(s);
	if (!(t = realloc(s, *len + 2))) {
		free(s);
		return NULL;
	}
	t[(*len)++] = '\n';
	t[*len] = '\0';
	return t;
}
