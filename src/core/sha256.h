/* SHA-256, the hash of the log (RFC 6962 leaves and nodes), of proposal ids and of genesis
 * chunks. OpenSSL's libcrypto computes it, not libsodium: libcrypto uses the CPU's SHA
 * extensions and hashes a 1 KB entry about seven times faster, and every entry is hashed
 * on every node and by every auditor. The result is the same either way; when libcrypto
 * cannot give a context (out of memory) the digest comes from libsodium, so callers never
 * see an error. */
#ifndef CONCORD_SHA256_H
#define CONCORD_SHA256_H

#include <stddef.h>

#define SHA256_DIGEST 32

struct sha256_part {
	const void *p; /* bytes, may be NULL when len is 0 */
	size_t len;
};

/* out = SHA-256(data). */
void sha256_digest(const void *data, size_t len, unsigned char out[SHA256_DIGEST]);
/* out = SHA-256 of the concatenation of the n parts. */
void sha256_parts(const struct sha256_part *parts, size_t n, unsigned char out[SHA256_DIGEST]);
/* Frees the calling thread's libcrypto context now (otherwise freed when the thread ends). */
void sha256_thread_cleanup(void);

#endif
