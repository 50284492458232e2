/*
 * modelfile.c - the model file format (docs/model-format.md): encoder, bounds-checked
 * decoder, atomic save and checked load. Little-endian on disk whatever the host.
 */
#include "forecast/modelfile.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define RETRAIN "retrain with 'windcast train --farm ID'"

uint32_t nn_crc32(const void *p, size_t n)
{
	return (uint32_t)crc32_z(crc32_z(0, Z_NULL, 0), p, n);
}

/* ---- encoding ------------------------------------------------------------------- */

/* An append-only writer that remembers its first failure. */
struct writer {
	struct dynbuf *b;
	enum wc_status st;
};

static void put(struct writer *w, const void *p, size_t n)
{
	if (!w->st)
		w->st = dynbuf_add(w->b, p, n);
}

static void put_u32(struct writer *w, uint32_t v)
{
	unsigned char b[4] = { v, v >> 8, v >> 16, v >> 24 };

	put(w, b, 4);
}

static void put_u64(struct writer *w, uint64_t v)
{
	put_u32(w, (uint32_t)v);
	put_u32(w, (uint32_t)(v >> 32));
}

static void put_f32(struct writer *w, float f)
{
	uint32_t u;

	memcpy(&u, &f, 4);
	put_u32(w, u);
}

static void put_f64(struct writer *w, double f)
{
	uint64_t u;

	memcpy(&u, &f, 8);
	put_u64(w, u);
}

static void put_f32s(struct writer *w, const float *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		put_f32(w, p[i]);
}

enum wc_status nn_model_encode(const struct nn_model *m, struct dynbuf *out,
			       struct wc_error *err)
{
	struct writer w = { out, WC_OK };
	const struct mlp *net0 = &m->member[0];
	size_t start = out->len, meta_len = strlen(m->meta);
	uint32_t crc;

	if (m->n_members < 1)
		return wc_error_set(err, WC_EINVAL, "cannot encode a model without members");
	/* header; length and checksum are patched in below */
	put(&w, NN_MODEL_MAGIC, 8);
	put_u32(&w, NN_MODEL_VERSION);
	put_u32(&w, NN_MODEL_HEADER);
	put_u64(&w, 0);
	put_u32(&w, 0);
	put_u32(&w, 0);
	/* architecture */
	put_u32(&w, (uint32_t)m->n_features);
	put_u32(&w, (uint32_t)m->n_inputs);
	put_u32(&w, (uint32_t)m->head);
	put_u32(&w, (uint32_t)net0->act);
	put_u32(&w, (uint32_t)m->n_outputs);
	put_u32(&w, (uint32_t)m->n_quantiles);
	put_u32(&w, (uint32_t)net0->anchor);
	put_u32(&w, (uint32_t)(net0->n_layers - 1));
	for (int l = 1; l < net0->n_layers; l++)
		put_u32(&w, (uint32_t)net0->sizes[l]);
	put_u32(&w, (uint32_t)m->n_members);
	put_f32s(&w, m->quantiles, (size_t)m->n_quantiles);
	/* features and standardisation */
	for (int f = 0; f < m->n_features; f++) {
		size_t n = strlen(m->feature_names[f]);

		put_u32(&w, (uint32_t)n);
		put(&w, m->feature_names[f], n);
	}
	put_f32s(&w, m->mean, (size_t)m->n_features);
	put_f32s(&w, m->std, (size_t)m->n_features);
	for (int f = 0; f < m->n_features; f++)
		put_u32(&w, (uint32_t)m->miss[f]);
	/* training metadata */
	put_u64(&w, (uint64_t)m->info.data_from);
	put_u64(&w, (uint64_t)m->info.data_to);
	put_u64(&w, (uint64_t)m->info.n_train);
	put_u64(&w, (uint64_t)m->info.n_val);
	put_u64(&w, m->info.seed);
	put_f32(&w, m->info.val_loss);
	put_f64(&w, m->info.train_seconds);
	for (int k = 0; k < m->n_members; k++) {
		const struct nn_member_info *mi = &m->info.member[k];

		put_u32(&w, (uint32_t)mi->epochs_run);
		put_u32(&w, (uint32_t)mi->best_epoch);
		put_f32(&w, mi->train_loss);
		put_f32(&w, mi->val_loss);
		put_f32(&w, mi->last_val_loss);
	}
	put_u32(&w, (uint32_t)meta_len);
	put(&w, m->meta, meta_len);
	/* weights */
	for (int k = 0; k < m->n_members; k++) {
		put_u64(&w, m->member[k].n_params);
		put_f32s(&w, m->member[k].params, m->member[k].n_params);
	}
	if (w.st)
		return wc_error_set(err, w.st, "cannot encode model: %s", wc_strerror(w.st));
	{
		unsigned char *h = (unsigned char *)out->data + start;
		uint64_t plen = out->len - start - NN_MODEL_HEADER;

		crc = nn_crc32(h + NN_MODEL_HEADER, plen);
		for (int i = 0; i < 8; i++)
			h[16 + i] = (unsigned char)(plen >> (8 * i));
		for (int i = 0; i < 4; i++)
			h[24 + i] = (unsigned char)(crc >> (8 * i));
	}
	return WC_OK;
}

/* ---- decoding ------------------------------------------------------------------- */

/* A bounds-checked reader: once short, every read yields 0 and `short_` stays set. */
struct reader {
	const unsigned char *p;
	size_t left;
	int short_;
};

static int take(struct reader *r, void *dst, size_t n)
{
	if (r->short_ || n > r->left) {
		r->short_ = 1;
		memset(dst, 0, n);
		return -1;
	}
	memcpy(dst, r->p, n);
	r->p += n;
	r->left -= n;
	return 0;
}

static uint32_t get_u32(struct reader *r)
{
	unsigned char b[4];

	take(r, b, 4);
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static uint64_t get_u64(struct reader *r)
{
	uint64_t lo = get_u32(r);

	return lo | (uint64_t)get_u32(r) << 32;
}

static float get_f32(struct reader *r)
{
	uint32_t u = get_u32(r);
	float f;

	memcpy(&f, &u, 4);
	return f;
}

static double get_f64(struct reader *r)
{
	uint64_t u = get_u64(r);
	double f;

	memcpy(&f, &u, 8);
	return f;
}

/* n floats, after checking that 4n bytes remain. */
static int get_f32s(struct reader *r, float *dst, size_t n)
{
	if (r->short_ || n > r->left / 4) {
		r->short_ = 1;
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		dst[i] = get_f32(r);
	return 0;
}

#define BAD(...) do { \
		ret = wc_error_set(err, WC_EFORMAT, __VA_ARGS__); \
		goto cleanup; \
	} while (0)

enum wc_status nn_model_decode(const void *buf, size_t len, const char *name,
			       struct nn_model **out, struct wc_error *err)
{
	const unsigned char *h = buf;
	struct reader r;
	struct nn_model *m = NULL;
	uint32_t version, hsize, crc, F, n_inputs, head, act, n_out, n_q, anchor, n_hidden,
		 n_members, meta_len, hidden[NN_MAX_HIDDEN];
	uint64_t plen;
	size_t name_bytes = 0;
	int sizes[NN_MAX_HIDDEN + 2];
	enum wc_status ret = WC_OK;

	*out = NULL;
	if (len < 8 || memcmp(h, NN_MODEL_MAGIC, 8))
		return wc_error_set(err, WC_EFORMAT,
				    "cannot load '%s': not a windcast model file (bad magic); %s",
				    name, RETRAIN);
	if (len < NN_MODEL_HEADER)
		return wc_error_set(err, WC_EFORMAT,
				    "cannot load '%s': file truncated in the header (%zu bytes); %s",
				    name, len, RETRAIN);
	r = (struct reader){ h + 8, NN_MODEL_HEADER - 8, 0 };
	version = get_u32(&r);
	hsize = get_u32(&r);
	plen = get_u64(&r);
	crc = get_u32(&r);
	if (version != NN_MODEL_VERSION)
		return wc_error_set(err, WC_EVERSION,
				    "cannot load '%s': model format version %u is not supported (this build reads version %d); %s",
				    name, version, NN_MODEL_VERSION, RETRAIN);
	if (hsize != NN_MODEL_HEADER)
		return wc_error_set(err, WC_EFORMAT, "cannot load '%s': bad header size %u; %s",
				    name, hsize, RETRAIN);
	if (plen != len - NN_MODEL_HEADER)
		return wc_error_set(err, WC_EFORMAT,
				    "cannot load '%s': file %s (%zu bytes, header says %llu); %s",
				    name, plen > len - NN_MODEL_HEADER ? "truncated" : "has trailing bytes",
				    len, (unsigned long long)(plen + NN_MODEL_HEADER), RETRAIN);
	if (nn_crc32(h + NN_MODEL_HEADER, (size_t)plen) != crc)
		return wc_error_set(err, WC_ECHECKSUM,
				    "cannot load '%s': checksum mismatch, the file is damaged; %s",
				    name, RETRAIN);

	/* The checksum only says the bytes are as written; the content is still checked. */
	r = (struct reader){ h + NN_MODEL_HEADER, (size_t)plen, 0 };
	F = get_u32(&r);
	n_inputs = get_u32(&r);
	head = get_u32(&r);
	act = get_u32(&r);
	n_out = get_u32(&r);
	n_q = get_u32(&r);
	anchor = get_u32(&r);
	n_hidden = get_u32(&r);
	if (F < 1 || F > NN_MAX_FEATURES || n_inputs < F || n_inputs > 2 * F ||
	    n_inputs > NN_MAX_WIDTH || head > NN_HEAD_QUANTILE || act > NN_ACT_SILU ||
	    n_out < 1 || n_out > NN_MAX_WIDTH || n_hidden < 1 || n_hidden > NN_MAX_HIDDEN)
		BAD("cannot load '%s': bad architecture; %s", name, RETRAIN);
	if (head == NN_HEAD_QUANTILE ? (n_q < 1 || n_q > NN_MAX_QUANTILES || n_out != n_q ||
					anchor >= n_q) : n_q != 0)
		BAD("cannot load '%s': bad quantile head; %s", name, RETRAIN);
	for (uint32_t l = 0; l < n_hidden; l++) {
		hidden[l] = get_u32(&r);
		if (hidden[l] < 1 || hidden[l] > NN_MAX_WIDTH)
			BAD("cannot load '%s': bad hidden width; %s", name, RETRAIN);
	}
	n_members = get_u32(&r);
	if (n_members < 1 || n_members > NN_MAX_MEMBERS)
		BAD("cannot load '%s': bad ensemble size %u; %s", name, n_members, RETRAIN);
	{
		/* size the feature names before allocating: a first pass over the lengths */
		struct reader scan = r;

		for (uint32_t q = 0; q < n_q; q++)
			get_f32(&scan);
		for (uint32_t f = 0; f < F && !scan.short_; f++) {
			uint32_t n = get_u32(&scan);

			if (n < 1 || n > NN_MAX_NAME || n > scan.left)
				BAD("cannot load '%s': bad feature name %u; %s", name, f, RETRAIN);
			scan.p += n;
			scan.left -= n;
			name_bytes += n + 1;
		}
		if (scan.short_)
			BAD("cannot load '%s': file truncated in the feature list; %s", name, RETRAIN);
	}
	m = nn_model_alloc((int)F, name_bytes);
	if (!m) {
		ret = wc_error_set(err, WC_ENOMEM, "cannot load '%s': out of memory", name);
		goto cleanup;
	}
	m->n_inputs = (int)n_inputs;
	m->head = (enum nn_head)head;
	m->n_outputs = (int)n_out;
	m->n_quantiles = (int)n_q;
	get_f32s(&r, m->quantiles, n_q);
	for (uint32_t q = 0; q < n_q; q++)
		if (!(m->quantiles[q] > 0.0f && m->quantiles[q] < 1.0f) ||
		    (q && !(m->quantiles[q] > m->quantiles[q - 1])))
			BAD("cannot load '%s': bad quantile levels; %s", name, RETRAIN);
	{
		char *s = (char *)(m->feature_names + F);

		for (uint32_t f = 0; f < F; f++) {
			uint32_t n = get_u32(&r);

			m->feature_names[f] = s;
			take(&r, s, n);	/* lengths were checked by the scan */
			s[n] = '\0';
			if (strlen(s) != n)
				BAD("cannot load '%s': feature name %u contains NUL; %s", name, f,
				    RETRAIN);
			s += n + 1;
		}
	}
	get_f32s(&r, m->mean, F);
	get_f32s(&r, m->std, F);
	{
		uint32_t next = F;

		for (uint32_t f = 0; f < F; f++) {
			m->miss[f] = (int32_t)get_u32(&r);
			if (!isfinite(m->mean[f]) || !(m->std[f] > 0.0f) || !isfinite(m->std[f]))
				BAD("cannot load '%s': bad standardisation of feature '%s'; %s",
				    name, m->feature_names[f], RETRAIN);
			/* indicators are numbered in feature order from F up */
			if (m->miss[f] != -1 && (uint32_t)m->miss[f] != next++)
				BAD("cannot load '%s': bad missing indicator of feature '%s'; %s",
				    name, m->feature_names[f], RETRAIN);
		}
		if (next != n_inputs)
			BAD("cannot load '%s': input count %u does not match the features; %s",
			    name, n_inputs, RETRAIN);
	}
	m->info.data_from = (int64_t)get_u64(&r);
	m->info.data_to = (int64_t)get_u64(&r);
	m->info.n_train = (int64_t)get_u64(&r);
	m->info.n_val = (int64_t)get_u64(&r);
	m->info.seed = get_u64(&r);
	m->info.val_loss = get_f32(&r);
	m->info.train_seconds = get_f64(&r);
	for (uint32_t k = 0; k < n_members; k++) {
		struct nn_member_info *mi = &m->info.member[k];

		mi->epochs_run = (int)get_u32(&r);
		mi->best_epoch = (int)get_u32(&r);
		mi->train_loss = get_f32(&r);
		mi->val_loss = get_f32(&r);
		mi->last_val_loss = get_f32(&r);
	}
	meta_len = get_u32(&r);
	if (r.short_ || meta_len > NN_MODEL_MAX_META || meta_len > r.left)
		BAD("cannot load '%s': bad metadata block; %s", name, RETRAIN);
	{
		char *meta = malloc((size_t)meta_len + 1);

		if (!meta) {
			ret = wc_error_set(err, WC_ENOMEM, "cannot load '%s': out of memory", name);
			goto cleanup;
		}
		take(&r, meta, meta_len);
		meta[meta_len] = '\0';
		free(m->meta);
		m->meta = meta;
	}
	sizes[0] = (int)n_inputs;
	for (uint32_t l = 0; l < n_hidden; l++)
		sizes[l + 1] = (int)hidden[l];
	sizes[n_hidden + 1] = (int)n_out;
	for (uint32_t k = 0; k < n_members; k++) {
		uint64_t n_params = get_u64(&r), want = 0;
		struct mlp *net = &m->member[k];

		for (uint32_t l = 0; l <= n_hidden; l++)
			want += (uint64_t)sizes[l] * sizes[l + 1] + sizes[l + 1];
		if (r.short_ || n_params != want || n_params > r.left / 4)
			BAD("cannot load '%s': weights of member %u %s; %s", name, k,
			    r.short_ || n_params > r.left / 4 ? "truncated" : "do not match the architecture",
			    RETRAIN);
		ret = mlp_init(net, (int)n_hidden + 1, sizes, (enum nn_act)act,
			       (enum nn_head)head, (int)anchor, err);
		if (ret)
			goto cleanup;
		m->n_members = (int)k + 1;
		get_f32s(&r, net->params, net->n_params);
		for (size_t i = 0; i < net->n_params; i++)
			if (!isfinite(net->params[i]))
				BAD("cannot load '%s': member %u has a non-finite weight; %s", name,
				    k, RETRAIN);
	}
	if (r.short_)
		BAD("cannot load '%s': file truncated; %s", name, RETRAIN);
	if (r.left)
		BAD("cannot load '%s': %zu unexpected bytes after the weights; %s", name,
		    r.left, RETRAIN);
	*out = m;
	m = NULL;
cleanup:
	nn_model_free(m);
	return ret;
}

/* ---- files ---------------------------------------------------------------------- */

enum wc_status nn_model_save(const struct nn_model *model, const char *path,
			     struct wc_error *err)
{
	struct dynbuf b;
	char tmp[4096];
	FILE *fp = NULL;
	enum wc_status ret;

	dynbuf_init(&b, NN_MODEL_MAX_BYTES);
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >= sizeof(tmp)) {
		ret = wc_error_set(err, WC_EINVAL, "cannot save model to '%s': path too long", path);
		goto cleanup;
	}
	ret = nn_model_encode(model, &b, err);
	if (ret)
		goto cleanup;
	fp = fopen(tmp, "wb");
	if (!fp) {
		ret = wc_error_set(err, WC_EIO, "cannot create '%s': %s", tmp, strerror(errno));
		goto cleanup;
	}
	if (fwrite(b.data, 1, b.len, fp) != b.len || fflush(fp) || fsync(fileno(fp))) {
		ret = wc_error_set(err, WC_EIO, "cannot write '%s': %s", tmp, strerror(errno));
		goto cleanup;
	}
	if (fclose(fp)) {
		fp = NULL;
		ret = wc_error_set(err, WC_EIO, "cannot write '%s': %s", tmp, strerror(errno));
		goto cleanup;
	}
	fp = NULL;
	if (rename(tmp, path)) {
		ret = wc_error_set(err, WC_EIO, "cannot rename '%s' to '%s': %s", tmp, path,
				   strerror(errno));
		goto cleanup;
	}
cleanup:
	if (fp)
		fclose(fp);
	if (ret)
		unlink(tmp);
	dynbuf_release(&b);
	return ret;
}

enum wc_status nn_model_load(const char *path, const char *const *features, int n_features,
			     struct nn_model **out, struct wc_error *err)
{
	unsigned char *buf = NULL;
	struct stat st;
	size_t len = 0;
	int fd;
	enum wc_status ret = WC_OK;

	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return wc_error_set(err, errno == ENOENT ? WC_ENOTFOUND : WC_EIO,
				    "cannot open model '%s': %s; train one with 'windcast train --farm ID'",
				    path, strerror(errno));
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		ret = wc_error_set(err, WC_EIO, "cannot read model '%s': not a regular file", path);
		goto cleanup;
	}
	if ((uint64_t)st.st_size > NN_MODEL_MAX_BYTES) {
		ret = wc_error_set(err, WC_ETOOLARGE,
				   "cannot load '%s': %lld bytes is larger than any model (max %u); %s",
				   path, (long long)st.st_size, NN_MODEL_MAX_BYTES, RETRAIN);
		goto cleanup;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		ret = wc_error_set(err, WC_ENOMEM, "cannot load '%s': out of memory", path);
		goto cleanup;
	}
	while (len < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + len, (size_t)st.st_size - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = wc_error_set(err, WC_EIO, "cannot read model '%s': %s", path,
					   strerror(errno));
			goto cleanup;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	ret = nn_model_decode(buf, len, path, out, err);
	if (!ret && features) {
		ret = nn_model_check_features(*out, features, n_features, err);
		if (ret) {
			wc_error_prefix(err, "cannot use '%s'", path);
			nn_model_free(*out);
			*out = NULL;
		}
	}
cleanup:
	close(fd);
	free(buf);
	return ret;
}
