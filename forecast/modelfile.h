/*
 * modelfile.h - save and load a struct nn_model as one versioned binary file, laid out in
 * docs/model-format.md: magic "WCNNMODL", format version, payload length and CRC-32, then
 * architecture, feature names, standardisation, quantile levels, training metadata, a
 * free-form metadata text and the members' weights, all little-endian.
 *
 * Loading treats the file as untrusted: every count and length is checked against the
 * bytes that remain before anything is allocated, and a wrong magic, an unknown version, a
 * truncated or damaged file or a feature list other than the caller's is refused with a
 * message that says what to do. A loaded model predicts bit for bit like the saved one.
 */
#ifndef WC_MODELFILE_H
#define WC_MODELFILE_H

#include <stddef.h>
#include <stdint.h>

#include "common/dynbuf.h"
#include "common/status.h"
#include "forecast/nn.h"

#define NN_MODEL_MAGIC "WCNNMODL"	/* 8 bytes, no NUL */
#define NN_MODEL_VERSION 1
#define NN_MODEL_HEADER 32		/* bytes before the payload */
#define NN_MODEL_MAX_BYTES (1u << 30)	/* files larger than this are refused */
#define NN_MODEL_MAX_META (1u << 20)

/* CRC-32 (IEEE 802.3) of n bytes: zlib's crc32, the payload checksum in the header. */
uint32_t nn_crc32(const void *p, size_t n);

/* Append the whole file image of model to out (cap NN_MODEL_MAX_BYTES). */
enum wc_status nn_model_encode(const struct nn_model *model, struct dynbuf *out,
			       struct wc_error *err);

/*
 * Parse a file image of len bytes; `name` is used in messages (a path, or "<memory>").
 * On success *out is a new model owned by the caller. Never reads outside buf.
 */
enum wc_status nn_model_decode(const void *buf, size_t len, const char *name,
			       struct nn_model **out, struct wc_error *err);

/*
 * Write model to path atomically (a temporary file in the same directory, fsync, rename).
 * WC_EIO with the system's reason on failure; the old file, if any, is then untouched.
 */
enum wc_status nn_model_save(const struct nn_model *model, const char *path,
			     struct wc_error *err);

/*
 * Read the model at path into *out (owned by the caller). When features is not NULL, the
 * model's feature list must equal features[0..n_features) in order (WC_EFORMAT otherwise).
 * Errors: WC_ENOTFOUND / WC_EIO (cannot read), WC_EFORMAT (bad magic, truncated, malformed),
 * WC_EVERSION, WC_ECHECKSUM, WC_ETOOLARGE, WC_ENOMEM; each message ends with a hint.
 */
enum wc_status nn_model_load(const char *path, const char *const *features, int n_features,
			     struct nn_model **out, struct wc_error *err);

#endif
