/*
 * test_checksums.c - the two checksums windcast relies on, against published values:
 * SHA-256 (common/sha256.h over libcrypto) on the FIPS 180-2 appendix B examples and
 * NIST CAVS SHA256ShortMsg messages, streamed in uneven pieces, abandoned streams, files;
 * the model file's CRC-32 (zlib) on the catalogue check value, and a model file written
 * by the build before zlib (tests/fixtures/model-crc-v1.wcm, the hand-written CRC-32 of
 * 7c03333) still loads and predicts the values recorded when it was written.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/sha256.h"
#include "forecast/modelfile.h"
#include "tests/unit/testutil.h"

struct vector {
	const char *msg;	/* bytes */
	size_t len;
	const char *hex;	/* the published digest */
};

/* FIPS 180-2 appendix B.1-B.3 (B.3 below: one million 'a') and the empty message; NIST
 * CAVS 11.0 SHA256ShortMsg.rsp Len = 8, 16, 32. */
static const struct vector vectors[] = {
	{ "", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
	{ "abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
	{ "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56,
	  "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1" },
	{ "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopq"
	  "klmnopqrlmnopqrsmnopqrstnopqrstu", 112,
	  "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1" },
	{ "\xd3", 1, "28969cdfa74a12c82f3bad960b0b000aca2ac329deea5c2328ebc6f2ba9802c1" },
	{ "\x11\xaf", 2, "5ca7133fa735326081558ac312c620eeca9970d1e70a4b95533d956f072d1f98" },
	{ "\x74\xba\x25\x21", 4, "b16aa56be3880d18cd41e68384cf1ec8c17680c45a02b1575dc1518923ae8b0e" },
};

Test(sha256, published_vectors)
{
	char hex[SHA256_HEX_LEN];
	struct sha256 s;

	for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		cr_assert_eq(sha256_init(&s), WC_OK);
		sha256_update(&s, vectors[i].msg, vectors[i].len);
		cr_assert_eq(sha256_final_hex(&s, hex), WC_OK);
		cr_assert_str_eq(hex, vectors[i].hex, "vector %zu (%zu bytes)", i, vectors[i].len);
		/* byte by byte through the streaming interface */
		sha256_init(&s);
		for (size_t k = 0; k < vectors[i].len; k++)
			sha256_update(&s, vectors[i].msg + k, 1);
		sha256_final_hex(&s, hex);
		cr_assert_str_eq(hex, vectors[i].hex, "vector %zu byte by byte", i);
	}
}

/* FIPS 180-2 B.3: one million 'a', fed in pieces of 1, 2, ..., 997 bytes. */
Test(sha256, million_a_in_uneven_pieces)
{
	char a[997], hex[SHA256_HEX_LEN];
	struct sha256 s;
	size_t left = 1000000;

	memset(a, 'a', sizeof(a));
	sha256_init(&s);
	for (size_t k = 1; left; k = k % 997 + 1) {
		size_t n = k < left ? k : left;

		sha256_update(&s, a, n);
		left -= n;
	}
	sha256_final_hex(&s, hex);
	cr_assert_str_eq(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

/* A stream given up half-way is released without a leak (LeakSanitizer watches), a
 * released or finished state refuses to produce a digest, and a re-init starts afresh. */
Test(sha256, abandoned_and_reused_states)
{
	char hex[SHA256_HEX_LEN] = "x";
	uint8_t d[32];
	struct sha256 s = { 0 };

	sha256_release(&s);			/* zeroed: nothing to free */
	sha256_init(&s);
	sha256_update(&s, "ab", 2);
	sha256_release(&s);
	sha256_release(&s);			/* twice is fine */
	cr_assert_eq(sha256_final_hex(&s, hex), WC_ENOMEM, "a released state has no digest");
	cr_assert_str_eq(hex, "");
	sha256_init(&s);
	sha256_update(&s, "abc", 3);
	cr_assert_eq(sha256_final(&s, d), WC_OK);
	cr_assert_eq(d[0], 0xba);
	cr_assert_eq(d[31], 0xad);
	cr_assert_eq(sha256_final(&s, d), WC_ENOMEM, "finished once already");
	sha256_init(&s);
	sha256_update(&s, "abc", 3);
	sha256_final_hex(&s, hex);
	cr_assert_str_eq(hex, vectors[1].hex);
}

Test(sha256, file_digest_and_missing_file)
{
	char *dir = tu_tmpdir(), path[4096], hex[SHA256_HEX_LEN];
	struct wc_error err = { 0 };
	FILE *f;

	snprintf(path, sizeof(path), "%s/million-a", dir);
	f = fopen(path, "wb");
	for (int i = 0; i < 1000000; i++)
		fputc('a', f);
	fclose(f);
	cr_assert_eq(sha256_file(path, hex, &err), WC_OK, "%s", err.msg);
	cr_assert_str_eq(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
	cr_assert_eq(sha256_file("/nonexistent/x", hex, &err), WC_EIO);
	cr_assert(strstr(err.msg, "cannot open '/nonexistent/x'"), "%s", err.msg);
	tu_rmrf_free(dir);
}

/* The CRC catalogue's check value of CRC-32/ISO-HDLC (the zlib and IEEE 802.3 one). */
Test(crc32, catalogue_check_value)
{
	cr_assert_eq(nn_crc32("123456789", 9), 0xCBF43926u);
	cr_assert_eq(nn_crc32("", 0), 0u);
	cr_assert_eq(nn_crc32("a", 1), 0xE8B7BE43u);
}

/*
 * tests/fixtures/model-crc-v1.wcm was written by 7c03333, whose CRC-32 was a hand-written
 * 4-bit table: 2 members of 3 inputs -> 4 -> 3 levels (0.1, 0.5, 0.9). It must still load
 * (same checksum) and predict, for the rows below, the bits printed when it was written.
 */
Test(crc32, model_file_written_before_zlib_loads)
{
	static const char *const names[] = { "ws100", "wd100_sin", "power_lag1" };
	static const float rows[5 * 3] = { 3, 0.5f, 0.1f, NAN, NAN, NAN, 11, -1, 0.9f,
					   0, 0, 0, 7, 1, 2 };
	static const float want[5 * 3] = {
		0x1.198e3p-6, 0x1.e0f1dp-3, 0x1.779008p-1, 0x1.686dfp-6, 0x1.e75f0ep-3,
		0x1.7b124p-1, 0x1.042668p-5, 0x1.f68fbp-3, 0x1.81f5bp-1, 0x1.2c634p-6,
		0x1.e5c3d4p-3, 0x1.766b0cp-1, 0x1.0f908ep-4, 0x1.19c9fcp-2, 0x1.a0e542p-1,
	};
	char path[4096];
	struct nn_model *m = NULL;
	struct nn_workspace ws;
	struct wc_error err = { 0 };
	float q[5 * 3];
	size_t len;
	unsigned char *img;
	uint32_t stored;

	snprintf(path, sizeof(path), "%s/tests/fixtures/model-crc-v1.wcm", tu_src());
	img = (unsigned char *)tu_read_file(path, &len);
	cr_assert_not_null(img, "cannot read '%s'", path);
	stored = img[24] | (uint32_t)img[25] << 8 | (uint32_t)img[26] << 16 |
		 (uint32_t)img[27] << 24;
	cr_assert_eq(stored, 0xdce08976u, "the fixture is the one written by 7c03333");
	cr_assert_eq(nn_crc32(img + NN_MODEL_HEADER, len - NN_MODEL_HEADER), stored);
	free(img);
	cr_assert_eq(nn_model_load(path, names, 3, &m, &err), WC_OK, "%s", err.msg);
	cr_assert_eq(m->n_members, 2);
	cr_assert_eq(m->n_outputs, 3);
	cr_assert_eq(nn_workspace_init(&ws, m, 8, &err), WC_OK);
	cr_assert_eq(nn_model_predict(m, &ws, rows, 5, q, &err), WC_OK);
	for (int i = 0; i < 15; i++)
		cr_assert_eq(memcmp(&q[i], &want[i], 4), 0, "output %d: %a, written %a", i,
			     (double)q[i], (double)want[i]);
	nn_workspace_release(&ws);
	nn_model_free(m);
}
