/*
 * fuzz_model.c - libFuzzer harness over the model file loader (nn_model_decode, what
 * nn_model_load runs on a file's bytes), seeded with the model files of tests/fixtures.
 *
 * Each input is decoded twice: as it is (the header checks, the checksum), then with its
 * header's payload length and CRC-32 set to fit the bytes, so that the fuzzer reaches the
 * payload parser instead of stopping at the checksum. A decoded model predicts on a few
 * rows (finite, NaN and huge inputs), and encodes to bytes that decode and encode again
 * to the same bytes.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/dynbuf.h"
#include "common/log.h"
#include "forecast/modelfile.h"
#include "forecast/nn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ROWS 3

static void put_le(uint8_t *p, uint64_t v, int bytes)
{
	for (int i = 0; i < bytes; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void exercise(const struct nn_model *m)
{
	struct nn_workspace ws;
	struct dynbuf a, b;
	struct nn_model *again = NULL;
	float *X, *out;
	size_t nx = (size_t)m->n_features * ROWS;

	X = malloc(nx * sizeof(*X));
	out = malloc((size_t)m->n_outputs * ROWS * sizeof(*out));
	if (!X || !out)
		abort();
	for (size_t i = 0; i < nx; i++)
		X[i] = i % 3 == 0 ? 1.5f : i % 3 == 1 ? NAN : 3e38f;
	if (nn_workspace_init(&ws, m, ROWS, NULL) == WC_OK) {
		nn_model_predict(m, &ws, X, ROWS, out, NULL);
		nn_workspace_release(&ws);
	}
	free(X);
	free(out);
	dynbuf_init(&a, NN_MODEL_MAX_BYTES);
	dynbuf_init(&b, NN_MODEL_MAX_BYTES);
	if (nn_model_encode(m, &a, NULL) != WC_OK)
		abort();
	if (nn_model_decode(a.data, a.len, "re-encoded", &again, NULL) != WC_OK ||
	    nn_model_encode(again, &b, NULL) != WC_OK || a.len != b.len ||
	    memcmp(a.data, b.data, a.len)) {
		fprintf(stderr, "encode -> decode -> encode changed the bytes\n");
		abort();
	}
	nn_model_free(again);
	dynbuf_release(&a);
	dynbuf_release(&b);
}

static void decode(const uint8_t *data, size_t size)
{
	struct nn_model *m = NULL;

	if (nn_model_decode(data, size, "fuzz.wcm", &m, NULL) == WC_OK) {
		exercise(m);
		nn_model_free(m);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *fixed;

	log_set_level(LOG_OFF);
	decode(data, size);
	if (size < NN_MODEL_HEADER)
		return 0;
	/* header: magic[8] version u32 header_size u32 payload_len u64 crc32 u32 */
	if (!(fixed = malloc(size)))
		abort();
	memcpy(fixed, data, size);
	put_le(fixed + 16, size - NN_MODEL_HEADER, 8);
	put_le(fixed + 24, nn_crc32(fixed + NN_MODEL_HEADER, size - NN_MODEL_HEADER), 4);
	decode(fixed, size);
	free(fixed);
	return 0;
}
