#include "core/sha256.h"

#include <openssl/evp.h>
#include <sodium.h>
#include <pthread.h>
#include <threads.h>

/* One digest context per thread: creating one per hash costs more than hashing a Merkle
 * node. The algorithm is fetched once for the process (pthread_once, not C11's call_once:
 * glibc's call_once hides the ordering it gives from ThreadSanitizer). */
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;
static EVP_MD *sha256_md;		     /* NULL when libcrypto has none */
static tss_t sha256_key;		     /* frees a thread's context when it ends */
static int sha256_key_ok;		     /* sha256_key was created */
static _Thread_local EVP_MD_CTX *sha256_tls; /* this thread's context, or NULL */

static void sha256_ctx_free(void *p)
{
	EVP_MD_CTX_free(p);
}

static void sha256_init(void)
{
	sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
	sha256_key_ok = tss_create(&sha256_key, sha256_ctx_free) == thrd_success;
}

static EVP_MD_CTX *sha256_ctx(void)
{
	pthread_once(&sha256_once, sha256_init);
	if (sha256_tls == NULL && sha256_md != NULL && sha256_key_ok) {
		sha256_tls = EVP_MD_CTX_new();
		if (sha256_tls != NULL && tss_set(sha256_key, sha256_tls) != thrd_success) {
			EVP_MD_CTX_free(sha256_tls);
			sha256_tls = NULL;
		}
	}
	return sha256_tls;
}

void sha256_thread_cleanup(void)
{
	if (sha256_tls == NULL)
		return;
	tss_set(sha256_key, NULL);
	EVP_MD_CTX_free(sha256_tls);
	sha256_tls = NULL;
}

static int sha256_evp(const struct sha256_part *parts, size_t n, unsigned char *out)
{
	EVP_MD_CTX *c = sha256_ctx();

	if (c == NULL || EVP_DigestInit_ex(c, sha256_md, NULL) != 1)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (parts[i].len > 0 && EVP_DigestUpdate(c, parts[i].p, parts[i].len) != 1)
			return -1;
	return EVP_DigestFinal_ex(c, out, NULL) == 1 ? 0 : -1;
}

void sha256_parts(const struct sha256_part *parts, size_t n, unsigned char out[SHA256_DIGEST])
{
	crypto_hash_sha256_state st;

	if (sha256_evp(parts, n, out) == 0)
		return;
	crypto_hash_sha256_init(&st);
	for (size_t i = 0; i < n; i++)
		if (parts[i].len > 0)
			crypto_hash_sha256_update(&st, parts[i].p, parts[i].len);
	crypto_hash_sha256_final(&st, out);
}

void sha256_digest(const void *data, size_t len, unsigned char out[SHA256_DIGEST])
{
	struct sha256_part part = {data, len};

	sha256_parts(&part, 1, out);
}
