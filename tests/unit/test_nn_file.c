/*
 * test_nn_file.c - model files: save/load round trip bit for bit, predictions identical in
 * another process, and every kind of damage refused with a hint (wrong magic, unknown
 * version, bad checksum, truncation, other features, malformed content with a valid
 * checksum, random byte flips).
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "forecast/modelfile.h"
#include "forecast/nn.h"
#include "tests/unit/testutil.h"

static const char *const names[] = { "ws100", "wd100_sin", "power_lag1" };

static struct nn_model *train_tiny(void)
{
	enum { N = 400 };
	static float X[N * 3], Y[N];
	struct nn_data d = { X, Y, N, 3, 1, 300, names, 1700000000, 1710000000 };
	struct nn_config c;
	struct nn_model *m = NULL;
	struct wc_error err = { 0 };
	uint64_t rng = 31;

	for (int r = 0; r < N; r++) {
		X[r * 3] = 12 * nn_rng_uniform(&rng);
		X[r * 3 + 1] = r % 7 ? sinf((float)r) : NAN;
		X[r * 3 + 2] = nn_rng_uniform(&rng);
		Y[r] = fminf(1, X[r * 3] / 12 * X[r * 3] / 12) + 0.05f * nn_rng_normal(&rng);
	}
	nn_config_default(&c);
	c.hidden[0] = 16;
	c.hidden[1] = 8;
	c.n_members = 3;
	c.epochs = 3;
	c.progress = 0;
	cr_assert_eq(nn_model_train(&c, &d, &m, &err), WC_OK, "%s", err.msg);
	cr_assert_eq(nn_model_set_meta(m, "farm=F1\nval_pinball_lead_1=0.031\n", &err), WC_OK);
	return m;
}

static float test_rows[5 * 3] = { 3, 0.5f, 0.1f, NAN, NAN, NAN, 11, -1, 0.9f, 0, 0, 0, 7, 1, 2 };

static void predict5(const struct nn_model *m, float *out)
{
	struct nn_workspace ws;

	cr_assert_eq(nn_workspace_init(&ws, m, 8, NULL), WC_OK);
	cr_assert_eq(nn_model_predict(m, &ws, test_rows, 5, out, NULL), WC_OK);
	nn_workspace_release(&ws);
}

Test(nn_file, crc32_known_value)
{
	cr_assert_eq(nn_crc32("123456789", 9), 0xCBF43926u);
	cr_assert_eq(nn_crc32("", 0), 0u);
}

Test(nn_file, round_trip_bit_exact)
{
	struct nn_model *a = train_tiny(), *b = NULL;
	char *dir = tu_tmpdir(), path[512];
	struct wc_error err = { 0 };
	float pa[5 * 64], pb[5 * 64];

	snprintf(path, sizeof(path), "%s/f1.model", dir);
	cr_assert_eq(nn_model_save(a, path, &err), WC_OK, "%s", err.msg);
	cr_assert_eq(nn_model_load(path, names, 3, &b, &err), WC_OK, "%s", err.msg);
	cr_assert_eq(b->n_features, 3);
	cr_assert_eq(b->n_inputs, a->n_inputs);
	cr_assert_eq(b->n_inputs, 4, "one indicator for wd100_sin");
	cr_assert_eq(b->head, a->head);
	cr_assert_eq(b->n_quantiles, a->n_quantiles);
	cr_assert_eq(memcmp(b->quantiles, a->quantiles, sizeof(a->quantiles)), 0);
	for (int f = 0; f < 3; f++) {
		cr_assert_str_eq(b->feature_names[f], names[f]);
		cr_assert_eq(memcmp(&a->mean[f], &b->mean[f], 4), 0);
		cr_assert_eq(memcmp(&a->std[f], &b->std[f], 4), 0);
		cr_assert_eq(a->miss[f], b->miss[f]);
	}
	cr_assert_str_eq(b->meta, a->meta);
	cr_assert_eq(b->info.data_from, 1700000000);
	cr_assert_eq(b->info.data_to, 1710000000);
	cr_assert_eq(b->info.n_train, 300);
	cr_assert_eq(memcmp(&a->info.val_loss, &b->info.val_loss, 4), 0);
	cr_assert_eq(b->n_members, 3);
	for (int k = 0; k < 3; k++) {
		cr_assert_eq(b->member[k].n_params, a->member[k].n_params);
		cr_assert_eq(b->member[k].anchor, a->member[k].anchor);
		cr_assert_eq(memcmp(b->member[k].params, a->member[k].params,
				    a->member[k].n_params * 4), 0);
		cr_assert_eq(b->info.member[k].epochs_run, a->info.member[k].epochs_run);
	}
	predict5(a, pa);
	predict5(b, pb);
	cr_assert_eq(memcmp(pa, pb, 5 * (size_t)a->n_outputs * 4), 0);
	nn_model_free(a), nn_model_free(b), tu_rmrf_free(dir);
}

Test(nn_file, same_predictions_in_another_process)
{
	struct nn_model *a = train_tiny();
	char *dir = tu_tmpdir(), path[512];
	float pa[5 * 64], pb[5 * 64];
	size_t n = 5 * (size_t)a->n_outputs * sizeof(float), got = 0;
	int fds[2], status;
	pid_t pid;

	snprintf(path, sizeof(path), "%s/f1.model", dir);
	cr_assert_eq(nn_model_save(a, path, NULL), WC_OK);
	predict5(a, pa);
	cr_assert_eq(pipe(fds), 0);
	pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		struct nn_model *b = NULL;
		float out[5 * 64];

		close(fds[0]);
		if (nn_model_load(path, names, 3, &b, NULL))
			_exit(2);
		predict5(b, out);
		if (write(fds[1], out, 5 * (size_t)b->n_outputs * sizeof(float)) < 0)
			_exit(3);
		nn_model_free(b);
		_exit(0);
	}
	close(fds[1]);
	while (got < n) {
		ssize_t k = read(fds[0], (char *)pb + got, n - got);

		if (k <= 0)
			break;
		got += (size_t)k;
	}
	close(fds[0]);
	waitpid(pid, &status, 0);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	cr_assert_eq(got, n);
	cr_assert_eq(memcmp(pa, pb, n), 0, "another process predicts other bits");
	nn_model_free(a), tu_rmrf_free(dir);
}

/* Encode a model into a malloc'd image. */
static unsigned char *image_of(const struct nn_model *m, size_t *len)
{
	struct dynbuf b;
	char *p;

	dynbuf_init(&b, NN_MODEL_MAX_BYTES);
	cr_assert_eq(nn_model_encode(m, &b, NULL), WC_OK);
	p = dynbuf_detach(&b, len);
	return (unsigned char *)p;
}

static void expect_refused(const unsigned char *img, size_t len, enum wc_status code,
			   const char *needle)
{
	struct nn_model *m = (struct nn_model *)1;
	struct wc_error err = { 0 };

	cr_assert_eq(nn_model_decode(img, len, "f1.model", &m, &err), code,
		     "want %s, got: %s", wc_strerror(code), err.msg);
	cr_assert_null(m);
	cr_assert(strstr(err.msg, needle), "message '%s' lacks '%s'", err.msg, needle);
	cr_assert(strstr(err.msg, "retrain with 'windcast train --farm ID'"), "%s", err.msg);
}

static void fix_crc(unsigned char *img, size_t len)
{
	uint32_t crc = nn_crc32(img + NN_MODEL_HEADER, len - NN_MODEL_HEADER);

	for (int i = 0; i < 4; i++)
		img[24 + i] = (unsigned char)(crc >> (8 * i));
}

Test(nn_file, damage_refused_with_hint)
{
	struct nn_model *m = train_tiny();
	size_t len;
	unsigned char *img = image_of(m, &len), *bad = malloc(len);

	memcpy(bad, img, len);
	bad[0] = 'X';
	expect_refused(bad, len, WC_EFORMAT, "not a windcast model file");
	memcpy(bad, img, len);
	bad[8] = 99;
	expect_refused(bad, len, WC_EVERSION, "version 99 is not supported");
	memcpy(bad, img, len);
	bad[len / 2] ^= 0x10;
	expect_refused(bad, len, WC_ECHECKSUM, "checksum mismatch");
	for (size_t cut = 0; cut < len; cut += cut < 40 ? 1 : 97) {
		const char *why = cut < 8 ? "not a windcast model" : "truncated";

		expect_refused(img, cut, WC_EFORMAT, why);
	}
	expect_refused(img, len - 1, WC_EFORMAT, "truncated");
	/* valid checksum, malformed content: the decoder checks every field itself */
	memcpy(bad, img, len);
	bad[NN_MODEL_HEADER + 3] = 0x7f;	/* n_features = huge */
	fix_crc(bad, len);
	expect_refused(bad, len, WC_EFORMAT, "bad architecture");
	memcpy(bad, img, len);
	bad[NN_MODEL_HEADER + 8 * 4 + 2 * 4] = 0xff;	/* n_members = 255 */
	fix_crc(bad, len);
	expect_refused(bad, len, WC_EFORMAT, "bad ensemble size");
	free(bad), free(img), nn_model_free(m);
}

Test(nn_file, random_damage_with_valid_checksum_never_crashes)
{
	struct nn_model *m = train_tiny();
	size_t len;
	unsigned char *img = image_of(m, &len), *bad = malloc(len);
	uint64_t rng = 1;
	int refused = 0;

	for (int i = 0; i < 3000; i++) {
		struct nn_model *out = NULL;
		size_t at = NN_MODEL_HEADER + (size_t)(nn_rng_u64(&rng) % (len - NN_MODEL_HEADER));

		/* flips concentrate on the header fields, where the lengths live */
		if (i % 2)
			at = NN_MODEL_HEADER + (size_t)(nn_rng_u64(&rng) % 400);
		memcpy(bad, img, len);
		bad[at] ^= (unsigned char)(1 + nn_rng_u64(&rng) % 255);
		fix_crc(bad, len);
		if (nn_model_decode(bad, len, "fuzz", &out, NULL))
			refused++;
		nn_model_free(out);
	}
	printf("nn_file random flips: %d of 3000 refused, the rest decoded\n", refused);
	cr_assert(refused > 100);
	free(bad), free(img), nn_model_free(m);
}

Test(nn_file, other_features_refused)
{
	struct nn_model *a = train_tiny(), *b = NULL;
	char *dir = tu_tmpdir(), path[512];
	struct wc_error err = { 0 };
	const char *other[] = { "ws100", "wd100_cos", "power_lag1" };

	snprintf(path, sizeof(path), "%s/f1.model", dir);
	cr_assert_eq(nn_model_save(a, path, NULL), WC_OK);
	cr_assert_eq(nn_model_load(path, other, 3, &b, &err), WC_EFORMAT);
	cr_assert_null(b);
	cr_assert(strstr(err.msg, "'wd100_sin'") && strstr(err.msg, "'wd100_cos'") &&
		  strstr(err.msg, "retrain with"), "%s", err.msg);
	cr_assert_eq(nn_model_load(path, names, 2, &b, &err), WC_EFORMAT);
	cr_assert(strstr(err.msg, "3 features but data has 2"), "%s", err.msg);
	snprintf(path, sizeof(path), "%s/none.model", dir);
	cr_assert_eq(nn_model_load(path, NULL, 0, &b, &err), WC_ENOTFOUND);
	cr_assert(strstr(err.msg, "cannot open model"), "%s", err.msg);
	nn_model_free(a), tu_rmrf_free(dir);
}

Test(nn_file, linear_head_round_trip)
{
	enum { N = 200, T = 3 };
	float X[N * 2], Y[N * T], pa[4 * T], pb[4 * T];
	struct nn_data d = { X, Y, N, 2, T, 150, NULL, 0, 0 };
	struct nn_config c;
	struct nn_model *a = NULL, *b = NULL;
	struct dynbuf img;
	struct nn_workspace ws;
	uint64_t rng = 3;

	for (int r = 0; r < N; r++) {
		X[r * 2] = nn_rng_normal(&rng);
		X[r * 2 + 1] = nn_rng_normal(&rng);
		for (int t = 0; t < T; t++)
			Y[r * T + t] = X[r * 2] * (float)t - X[r * 2 + 1];
	}
	nn_config_default(&c);
	c.head = NN_HEAD_LINEAR;
	c.act = NN_ACT_SILU;
	c.n_hidden = 3;
	c.hidden[2] = 5;
	c.n_members = 2;
	c.epochs = 2;
	c.progress = 0;
	cr_assert_eq(nn_model_train(&c, &d, &a, NULL), WC_OK);
	dynbuf_init(&img, NN_MODEL_MAX_BYTES);
	cr_assert_eq(nn_model_encode(a, &img, NULL), WC_OK);
	cr_assert_eq(nn_model_decode(img.data, img.len, "<memory>", &b, NULL), WC_OK);
	cr_assert_eq(b->head, NN_HEAD_LINEAR);
	cr_assert_eq(b->n_quantiles, 0);
	cr_assert_eq(b->n_outputs, T);
	cr_assert_eq(b->member[1].act, NN_ACT_SILU);
	cr_assert_eq(b->member[1].n_layers, 4);
	cr_assert_eq(nn_workspace_init(&ws, a, 4, NULL), WC_OK);
	cr_assert_eq(nn_model_predict(a, &ws, X, 4, pa, NULL), WC_OK);
	cr_assert_eq(nn_model_predict(b, &ws, X, 4, pb, NULL), WC_OK);
	cr_assert_eq(memcmp(pa, pb, sizeof(pa)), 0);
	nn_workspace_release(&ws);
	dynbuf_release(&img);
	nn_model_free(a), nn_model_free(b);
}
