/* token.c - API token text, scopes and hashing; see token.h. */
#include "data/token.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <string.h>
#include <sys/random.h>

#include "common/utf8.h"

static const char b64url[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static const char *const scope_names[] = { "?", "read", "write", "admin" };

const char *token_scope_name(enum token_scope s)
{
	return s >= TOKEN_READ && s <= TOKEN_ADMIN ? scope_names[s] : "?";
}

bool token_scope_parse(const char *s, enum token_scope *out)
{
	for (int i = TOKEN_READ; i <= TOKEN_ADMIN; i++) {
		if (!strcmp(s, scope_names[i])) {
			*out = (enum token_scope)i;
			return true;
		}
	}
	return false;
}

enum wc_status token_generate(char out[TOKEN_LEN + 1], struct wc_error *err)
{
	unsigned char r[33];	/* 256 bits, plus one byte so the 43rd character is whole */
	size_t got = 0;
	char *o = out + strlen(TOKEN_PREFIX);

	while (got < 32) {
		ssize_t n = getrandom(r + got, 32 - got, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return wc_error_set(err, WC_EIO, "cannot make a token: getrandom: %s",
					    n < 0 ? strerror(errno) : "no bytes");
		got += (size_t)n;
	}
	r[32] = 0;
	memcpy(out, TOKEN_PREFIX, strlen(TOKEN_PREFIX));
	/* 43 characters of 6 bits = 258 bits: the last one carries 4 random bits */
	for (int i = 0; i < 43; i++) {
		int bit = i * 6, byte = bit / 8, shift = bit % 8;
		unsigned v = ((unsigned)r[byte] << 8 | r[byte + 1]) >> (10 - shift);

		o[i] = b64url[v & 63];
	}
	out[TOKEN_LEN] = '\0';
	OPENSSL_cleanse(r, sizeof(r));
	return WC_OK;
}

bool token_well_formed(const char *s, size_t n)
{
	size_t p = strlen(TOKEN_PREFIX);

	if (n != TOKEN_LEN || memcmp(s, TOKEN_PREFIX, p))
		return false;
	for (size_t i = p; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_'))
			return false;
	}
	return true;
}

/*
 * Every request hashes its token: EVP_Digest's one-shot form looks the algorithm up and
 * allocates a context each time (about 1.7 us a hash measured here); the algorithm is
 * fetched once and each thread keeps its context (about 0.3 us).
 */
static pthread_once_t hash_once = PTHREAD_ONCE_INIT;
static EVP_MD *sha256_md;	/* process lifetime */
static pthread_key_t ctx_key;

static void ctx_free(void *ctx)
{
	EVP_MD_CTX_free(ctx);
}

static void hash_init(void)
{
	sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
	if (pthread_key_create(&ctx_key, ctx_free) != 0)
		sha256_md = NULL;
}

bool token_hash(const char *s, size_t n, uint8_t out[TOKEN_HASH_LEN])
{
	EVP_MD_CTX *ctx;
	unsigned int len = 0;

	pthread_once(&hash_once, hash_init);
	if (sha256_md && !(ctx = pthread_getspecific(ctx_key)) &&
	    (ctx = EVP_MD_CTX_new()) && pthread_setspecific(ctx_key, ctx) != 0) {
		EVP_MD_CTX_free(ctx);
		ctx = NULL;
	}
	if (sha256_md && ctx && EVP_DigestInit_ex(ctx, sha256_md, NULL) &&
	    EVP_DigestUpdate(ctx, s, n) && EVP_DigestFinal_ex(ctx, out, &len) &&
	    len == TOKEN_HASH_LEN)
		return true;
	memset(out, 0, TOKEN_HASH_LEN);
	return false;
}

bool token_hash_equal(const uint8_t a[TOKEN_HASH_LEN], const uint8_t b[TOKEN_HASH_LEN])
{
	return CRYPTO_memcmp(a, b, TOKEN_HASH_LEN) == 0;
}

bool token_name_valid(const char *name, struct wc_error *err)
{
	size_t n = strlen(name);

	if (n > TOKEN_NAME_MAX || !utf8_valid(name, n))
		goto bad;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
			goto bad;
	return true;
bad:
	wc_error_set(err, WC_EINVAL,
		     "use at most %d bytes of UTF-8 text without control characters",
		     TOKEN_NAME_MAX);
	return false;
}
