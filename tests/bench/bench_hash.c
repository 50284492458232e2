/*
 * bench_hash.c - throughput of the two checksums windcast computes over whole files:
 * SHA-256 (common/sha256.h: content address of every raw grid, hashed while an upload
 * streams in) and CRC-32 (forecast/modelfile.h: the model file's payload checksum).
 * Not a test: it prints figures and never fails on timing.
 *
 * Input: a 64 MiB buffer of pseudo-random bytes. Each figure is the best of 5 runs (the
 * machine is shared), in MB/s (10^6 bytes per second):
 *   sha256_mbps        the buffer in one sha256_update call
 *   sha256_64k_mbps    the buffer in 64 KiB pieces (an upload's or a file read's chunks)
 *   crc32_mbps         nn_crc32 over the buffer
 * The digests are printed as well, so two builds can be seen to agree.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "common/sha256.h"
#include "forecast/modelfile.h"

#define LEN ((size_t)64 << 20)
#define PIECE ((size_t)64 << 10)
#define RUNS 5

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double sha256_run(const uint8_t *buf, size_t piece, char hex[SHA256_HEX_LEN])
{
	struct sha256 s;
	double t = now();

	sha256_init(&s);
	for (size_t off = 0; off < LEN; off += piece)
		sha256_update(&s, buf + off, LEN - off < piece ? LEN - off : piece);
	sha256_final_hex(&s, hex);
	return now() - t;
}

int main(void)
{
	uint8_t *buf = malloc(LEN);
	uint64_t x = 0x9e3779b97f4a7c15u;
	char hex[SHA256_HEX_LEN], hex64k[SHA256_HEX_LEN];
	double best_one = 1e30, best_64k = 1e30, best_crc = 1e30;
	uint32_t crc = 0;

	if (!buf) {
		fprintf(stderr, "bench_hash: out of memory\n");
		return 1;
	}
	for (size_t i = 0; i < LEN; i++) {	/* xorshift64: bytes no hardware shortcuts */
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		buf[i] = (uint8_t)(x >> 56);
	}
	for (int r = 0; r < RUNS; r++) {
		double t = sha256_run(buf, LEN, hex);

		best_one = t < best_one ? t : best_one;
		t = sha256_run(buf, PIECE, hex64k);
		best_64k = t < best_64k ? t : best_64k;
		t = now();
		crc = nn_crc32(buf, LEN);
		t = now() - t;
		best_crc = t < best_crc ? t : best_crc;
	}
	printf("64 MiB of pseudo-random bytes, best of %d runs\n", RUNS);
	printf("sha256 %s (64 KiB pieces: %s)\n", hex, hex64k);
	printf("crc32 %08x\n", (unsigned)crc);
	printf("sha256_mbps=%.0f\n", LEN / best_one / 1e6);
	printf("sha256_64k_mbps=%.0f\n", LEN / best_64k / 1e6);
	printf("crc32_mbps=%.0f\n", LEN / best_crc / 1e6);
	free(buf);
	return 0;
}
