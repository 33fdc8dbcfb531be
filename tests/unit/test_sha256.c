/* SHA-256 through libcrypto: the FIPS 180-4 examples, and for many lengths and splits the
 * same digest as libsodium's, which the module falls back to; on several threads at once,
 * since each thread keeps its own context. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <sodium.h>
#include <string.h>

#include "core/sha256.h"

static void hex_equal(const unsigned char h[SHA256_DIGEST], const char *want)
{
	char got[2 * SHA256_DIGEST + 1];

	sodium_bin2hex(got, sizeof(got), h, SHA256_DIGEST);
	assert_string_equal(got, want);
}

static void test_known(void **state)
{
	unsigned char h[SHA256_DIGEST];
	const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	struct sha256_part parts[3] = {{"ab", 2}, {NULL, 0}, {"c", 1}};

	(void)state;
	sha256_digest("", 0, h);
	hex_equal(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	sha256_digest("abc", 3, h);
	hex_equal(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	sha256_parts(parts, 3, h);
	hex_equal(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	sha256_digest(two, strlen(two), h);
	hex_equal(h, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

static void *same_as_sodium(void *arg)
{
	unsigned char buf[3000], a[SHA256_DIGEST], b[SHA256_DIGEST];
	long bad = 0;

	(void)arg;
	randombytes_buf(buf, sizeof(buf));
	for (size_t len = 0; len <= sizeof(buf); len += len < 200 ? 1 : 97) {
		size_t cut = len / 3;
		struct sha256_part parts[2] = {{buf, cut}, {buf + cut, len - cut}};

		crypto_hash_sha256(a, buf, len);
		sha256_parts(parts, 2, b);
		bad += memcmp(a, b, sizeof(a)) != 0;
		sha256_digest(buf, len, b);
		bad += memcmp(a, b, sizeof(a)) != 0;
	}
	sha256_thread_cleanup();
	return (void *)bad;
}

static void test_threads(void **state)
{
	pthread_t t[4];
	void *bad;

	(void)state;
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, same_as_sodium, NULL), 0);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(t[i], &bad), 0);
		assert_null(bad);
	}
	assert_null(same_as_sodium(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_known),
	    cmocka_unit_test(test_threads),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
