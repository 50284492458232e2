/* sha256.c - SHA-256 through libcrypto's EVP interface; see sha256.h. */
#include "common/sha256.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

enum wc_status sha256_init(struct sha256 *s)
{
	s->failed = false;
	s->ctx = EVP_MD_CTX_new();
	if (!s->ctx || !EVP_DigestInit_ex(s->ctx, EVP_sha256(), NULL)) {
		sha256_release(s);
		s->failed = true;
		return WC_ENOMEM;
	}
	return WC_OK;
}

void sha256_update(struct sha256 *s, const void *data, size_t n)
{
	if (s->failed || !n)
		return;
	if (!s->ctx || !EVP_DigestUpdate(s->ctx, data, n)) {
		sha256_release(s);
		s->failed = true;
	}
}

enum wc_status sha256_final(struct sha256 *s, uint8_t out[32])
{
	unsigned int len = 0;
	bool ok = !s->failed && s->ctx && EVP_DigestFinal_ex(s->ctx, out, &len) && len == 32;

	sha256_release(s);
	if (!ok) {
		memset(out, 0, 32);
		return WC_ENOMEM;
	}
	return WC_OK;
}

enum wc_status sha256_final_hex(struct sha256 *s, char out[SHA256_HEX_LEN])
{
	static const char hex[] = "0123456789abcdef";
	uint8_t d[32];

	if (sha256_final(s, d) != WC_OK) {
		out[0] = '\0';
		return WC_ENOMEM;
	}
	for (int i = 0; i < 32; i++) {
		out[2 * i] = hex[d[i] >> 4];
		out[2 * i + 1] = hex[d[i] & 15];
	}
	out[64] = '\0';
	return WC_OK;
}

void sha256_release(struct sha256 *s)
{
	EVP_MD_CTX_free(s->ctx);	/* NULL is fine */
	s->ctx = NULL;
}

enum wc_status sha256_file(const char *path, char out[SHA256_HEX_LEN],
			   struct wc_error *err)
{
	static __thread uint8_t buf[1 << 20];
	struct sha256 s;
	size_t n;
	FILE *f = fopen(path, "rb");

	if (!f)
		return wc_error_set(err, WC_EIO, "cannot open '%s': %s", path, strerror(errno));
	sha256_init(&s);
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		sha256_update(&s, buf, n);
	if (ferror(f)) {
		fclose(f);
		sha256_release(&s);
		return wc_error_set(err, WC_EIO, "cannot read '%s': %s", path, strerror(errno));
	}
	fclose(f);
	if (sha256_final_hex(&s, out) != WC_OK)
		return wc_error_set(err, WC_ENOMEM, "cannot hash '%s': out of memory", path);
	return WC_OK;
}
