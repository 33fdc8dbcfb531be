#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/key.h"

static char *vec_read(const char *rel, size_t *len)
{
	const char *dir = getenv("CONCORD_VECTORS");
	char path[1024];
	char *buf;
	FILE *f;
	long n;

	snprintf(path, sizeof(path), "%s/note/%s", dir ? dir : "tests/vectors", rel);
	f = fopen(path, "rb");
	if (f == NULL)
		fail_msg("cannot open %s", path);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static int is_zero(const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++)
		if (b[i])
			return 0;
	return 1;
}

static int parse_priv(struct key_pair *k, const char *s, struct cc_err *e)
{
	return key_parse_private(k, s, strlen(s), e);
}

static int parse_pub(struct key_pub *k, const char *s, struct cc_err *e)
{
	return key_parse_public(k, s, strlen(s), e);
}

static void test_vectors(void **state)
{
	size_t klen, plen, hlen;
	char *priv = vec_read("keyfile/example.key", &klen);
	char *pub = vec_read("keyfile/example.pub", &plen);
	char *boxhex = vec_read("keyfile/box-secret.hex", &hlen);
	char *vkey = vec_read("vkey.txt", &hlen);
	struct key_pair k;
	struct key_pub p, p2;
	struct cbuf out = CBUF_INIT;
	struct cc_err e = {0};

	(void)state;
	assert_int_equal(key_parse_private(&k, priv, klen, &e), 0);
	assert_string_equal(k.sign.key.name, "example");
	assert_int_equal(k.sign.key.id, 0x06a3db04);
	for (int i = 0; i < 32; i++) {
		assert_int_equal(k.sign.sk[i], i + 1);
		assert_int_equal(k.box_sk[i], 0x21 + i);
	}
	assert_int_equal(key_format_private(&k, &out), 0);
	assert_int_equal(out.len, klen);
	assert_memory_equal(out.p, priv, klen);
	sodium_memzero(out.p, out.len);
	cbuf_reset(&out);

	assert_int_equal(key_parse_public(&p, pub, plen, &e), 0);
	key_public(&k, &p2);
	assert_memory_equal(&p, &p2, sizeof(p));
	assert_int_equal(key_format_public(&p, &out), 0);
	assert_int_equal(out.len, plen);
	assert_memory_equal(out.p, pub, plen);
	/* The first line of the .pub file is the verifier key of vkey.txt. */
	assert_memory_equal(pub, vkey, strlen(vkey));

	key_wipe(&k);
	assert_true(is_zero(&k, sizeof(k)));
	cbuf_free(&out);
	free(priv);
	free(pub);
	free(boxhex);
	free(vkey);
}

static void test_generate_roundtrip(void **state)
{
	struct key_pair k, k2;
	struct key_pub p, p2;
	struct note_sig sig;
	struct cbuf out = CBUF_INIT;
	struct cc_err e = {0};
	unsigned char shared1[32], shared2[32];
	const char *text = "hello\n";

	(void)state;
	assert_int_equal(key_generate(&k, "cn", &e), 0);
	assert_string_equal(k.sign.key.name, "cn");
	assert_int_equal(key_format_private(&k, &out), 0);
	assert_int_equal(key_parse_private(&k2, out.p, out.len, &e), 0);
	assert_memory_equal(&k, &k2, sizeof(k));
	sodium_memzero(out.p, out.len);
	cbuf_reset(&out);

	key_public(&k, &p);
	assert_int_equal(key_format_public(&p, &out), 0);
	assert_int_equal(key_parse_public(&p2, out.p, out.len, &e), 0);
	assert_memory_equal(&p, &p2, sizeof(p));

	/* The halves belong together: a signature verifies, and both ends of a box
	 * key exchange agree. */
	assert_int_equal(note_sign(&k2.sign, text, strlen(text), &sig), 0);
	assert_int_equal(note_verify(&p2.sign, text, strlen(text), &sig), 0);
	{
		struct key_pair other;
		struct key_pub op;

		assert_int_equal(key_generate(&other, "br", &e), 0);
		key_public(&other, &op);
		assert_int_equal(crypto_scalarmult(shared1, k.box_sk, op.box_pk), 0);
		assert_int_equal(crypto_scalarmult(shared2, other.box_sk, p.box_pk), 0);
		assert_memory_equal(shared1, shared2, 32);
		assert_memory_not_equal(other.sign.sk, k.sign.sk, 64);
		key_wipe(&other);
	}
	key_wipe(&k);
	key_wipe(&k2);
	cbuf_free(&out);
}

static void test_member_ids(void **state)
{
	const char *good[] = {"cn",    "a",   "0",   "isoc",
			      "cnnic", "a-b", "x1-", "abcdefghijklmnopqrstuvwxyz012345"};
	const char *bad[] = {
	    "",	   "-cn", "CN",		 "c n", "c+n",
	    "c_n", "c.n", "caf\xc3\xa9", "c\n", "abcdefghijklmnopqrstuvwxyz0123456"};
	struct key_pair k;
	struct cc_err e = {0};

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		if (key_generate(&k, good[i], &e) != 0)
			fail_msg("member id \"%s\" refused: %s", good[i], e.msg);
		key_wipe(&k);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (key_generate(&k, bad[i], &e) != CC_EINVAL)
			fail_msg("member id #%zu accepted", i);
		assert_true(is_zero(&k, sizeof(k)));
	}
	/* Keys under names that are valid note names but not member ids are not member keys. */
	{
		const char *pub =
		    "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW\n"
		    "box WGmv9FBUlzLLqu1eXfmzCm2jHLDldCutWtShp2jxpns=\n";
		const char *priv = "PRIVATE+KEY+PeterNeumann+c74f20a3+"
				   "AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz\n"
				   "box ISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+P0A=\n";
		struct key_pub p;

		assert_int_equal(parse_pub(&p, pub, &e), CC_EINVAL);
		assert_string_equal(e.msg, "key: line 1: key name is not a valid member id");
		assert_int_equal(parse_priv(&k, priv, &e), CC_EINVAL);
		assert_string_equal(e.msg, "key: line 1: invalid member id");
	}
	/* Formatting a key whose name is not a member id is refused. */
	{
		struct cbuf out = CBUF_INIT;
		struct key_pub p;

		assert_int_equal(key_generate(&k, "ok", &e), 0);
		strcpy(k.sign.key.name, "Not-OK");
		assert_int_equal(key_format_private(&k, &out), CC_EINVAL);
		key_public(&k, &p);
		assert_int_equal(key_format_public(&p, &out), CC_EINVAL);
		assert_int_equal(out.len, 0);
		key_wipe(&k);
		cbuf_free(&out);
	}
}

static void test_private_refusals(void **state)
{
	size_t klen;
	char *priv = vec_read("keyfile/example.key", &klen);
	char *line2 = strchr(priv, '\n') + 1;
	size_t l1 = (size_t)(line2 - priv);
	struct key_pair k;
	struct cc_err e = {0};
	struct cbuf b = CBUF_INIT;
	char *m;

	(void)state;
	/* Every truncation is refused, and leaves no secret behind. */
	for (size_t n = 0; n < klen; n++) {
		if (key_parse_private(&k, priv, n, &e) == 0)
			fail_msg("truncation to %zu accepted", n);
		assert_true(is_zero(&k, sizeof(k)));
	}
	/* Every single-byte change of the first line is refused: it would change the name,
	 * the id or the seed, and the id no longer matches. */
	m = strdup(priv);
	for (size_t i = 0; i + 1 < l1; i++) {
		m[i]++;
		if (key_parse_private(&k, m, klen, &e) == 0)
			fail_msg("change at %zu accepted", i);
		assert_true(is_zero(&k, sizeof(k)));
		m[i]--;
	}
	free(m);

	assert_int_equal(parse_priv(&k,
				    "PRIVATE+KEY+example+06a3db05+"
				    "AQECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8g\n"
				    "box ISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+P0A=\n",
				    &e),
			 CC_EINVAL);
	assert_string_equal(e.msg,
			    "key: line 1: key id 06a3db05 does not match the key (06a3db04)");
	/* Another signature type. */
	assert_int_equal(parse_priv(&k,
				    "PRIVATE+KEY+example+06a3db04+"
				    "AgECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8g\n"
				    "box ISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+P0A=\n",
				    &e),
			 CC_EINVAL);
	assert_non_null(strstr(e.msg, "signature type 0x02"));
	/* Uppercase id hex. */
	assert_int_equal(parse_priv(&k,
				    "PRIVATE+KEY+example+06A3DB04+"
				    "AQECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8g\n"
				    "box ISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+P0A=\n",
				    &e),
			 CC_EINVAL);
	/* A public key file is not a private one. */
	{
		size_t plen;
		char *pub = vec_read("keyfile/example.pub", &plen);

		assert_int_equal(key_parse_private(&k, pub, plen, &e), CC_EINVAL);
		assert_string_equal(e.msg, "key: line 1: not a private key (PRIVATE+KEY+...)");
		free(pub);
	}
	/* Line structure: CR LF, missing box line, extra line, extra spaces, bad box key. */
	{
		const char *tails[] = {
		    "box ISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+P0A=\r\n",
		    "",
		    "box ISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+P0A=\n\n",
		    "box ISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+P0A=\nbox x\n",
		    "box  ISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+P0A=\n",
		    "Box ISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+P0A=\n",
		    "box ISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+P0B=\n", /* trailing bits */
		    "box ISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+P0A\n",
		    "box ISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+\n",
		    "box ISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+P0A=",
		};
		for (size_t i = 0; i < sizeof(tails) / sizeof(tails[0]); i++) {
			cbuf_reset(&b);
			cbuf_put(&b, priv, l1);
			cbuf_puts(&b, tails[i]);
			if (key_parse_private(&k, b.p, b.len, &e) != CC_EINVAL)
				fail_msg("tail #%zu accepted", i);
			assert_true(is_zero(&k, sizeof(k)));
		}
		cbuf_reset(&b);
		cbuf_put(&b, priv, l1 - 1);
		cbuf_puts(&b, "\r\n");
		cbuf_puts(&b, line2);
		assert_int_equal(key_parse_private(&k, b.p, b.len, &e), CC_EINVAL);
	}
	/* The box line before the signing line. */
	cbuf_reset(&b);
	cbuf_puts(&b, line2);
	cbuf_put(&b, priv, l1);
	assert_int_equal(key_parse_private(&k, b.p, b.len, &e), CC_EINVAL);
	/* Still fine after all that. */
	assert_int_equal(key_parse_private(&k, priv, klen, &e), 0);
	key_wipe(&k);
	cbuf_free(&b);
	sodium_memzero(priv, klen);
	free(priv);
}

static void test_public_refusals(void **state)
{
	size_t plen;
	char *pub = vec_read("keyfile/example.pub", &plen);
	size_t l1 = (size_t)(strchr(pub, '\n') + 1 - pub);
	struct key_pub p;
	struct cc_err e = {0};
	char *m;

	(void)state;
	for (size_t n = 0; n < plen; n++)
		if (key_parse_public(&p, pub, n, &e) == 0)
			fail_msg("truncation to %zu accepted", n);
	m = strdup(pub);
	for (size_t i = 0; i + 1 < l1; i++) {
		m[i]++;
		if (key_parse_public(&p, m, plen, &e) == 0)
			fail_msg("change at %zu accepted", i);
		assert_true(is_zero(&p, sizeof(p)));
		m[i]--;
	}
	free(m);
	assert_int_equal(parse_pub(&p,
				   "example+06a3db05+AXm1Vi6P5lT5QHixEuipi6eQH4U65pW+1+DjkQutBJZk\n"
				   "box WGmv9FBUlzLLqu1eXfmzCm2jHLDldCutWtShp2jxpns=\n",
				   &e),
			 CC_EINVAL);
	assert_string_equal(e.msg, "key: line 1: verifier key: key id 06a3db05 does not match the "
				   "key (06a3db04)");
	assert_int_equal(parse_pub(&p,
				   "example+06a3db04+AXm1Vi6P5lT5QHixEuipi6eQH4U65pW+1+DjkQutBJZk\n"
				   "box WGmv9FBUlzLLqu1eXfmzCm2jHLDldCutWtShp2jxpns=\nextra\n",
				   &e),
			 CC_EINVAL);
	assert_string_equal(e.msg, "key: line 3: unexpected data after the box key");
	assert_int_equal(
	    parse_pub(&p, "example+06a3db04+AXm1Vi6P5lT5QHixEuipi6eQH4U65pW+1+DjkQutBJZk\n", &e),
	    CC_EINVAL);
	assert_int_equal(parse_pub(&p,
				   "example+06a3db04+AXm1Vi6P5lT5QHixEuipi6eQH4U65pW+1+DjkQutBJZk\n"
				   "box WGmv9FBUlzLLqu1eXfmzCm2jHLDldCutWtShp2jxpns\n",
				   &e),
			 CC_EINVAL);
	assert_string_equal(e.msg, "key: line 2: box key is not the base64 of 32 bytes");
	/* A private key file is not a public one. */
	{
		size_t klen;
		char *priv = vec_read("keyfile/example.key", &klen);

		assert_int_equal(key_parse_public(&p, priv, klen, &e), CC_EINVAL);
		free(priv);
	}
	free(pub);
}

static void test_signer_line(void **state)
{
	size_t len, vlen;
	char *skey = vec_read("go/peter-skey.txt", &len);
	char *vkey = vec_read("go/peter-vkey.txt", &vlen);
	struct note_signer sg;
	struct note_key k;
	struct cbuf out = CBUF_INIT;
	struct cc_err e = {0};
	char *m;

	(void)state;
	/* The Go signer key format, for names that are not member ids (a log's origin). */
	len--; /* the file's final newline */
	vlen--;
	assert_int_equal(key_parse_signer(&sg, skey, len, &e), 0);
	assert_int_equal(note_vkey_parse(&k, vkey, vlen, &e), 0);
	assert_memory_equal(&sg.key, &k, sizeof(k));
	assert_int_equal(key_format_signer(&sg, &out), 0);
	assert_int_equal(out.len, len);
	assert_memory_equal(out.p, skey, len);
	sodium_memzero(out.p, out.len);
	cbuf_reset(&out);

	/* As the Go tests do: every proper substring and every single-byte change is refused. */
	for (size_t i = 0; i <= len; i++)
		for (size_t j = i + 1; j <= len; j++)
			if ((i != 0 || j != len) && key_parse_signer(&sg, skey + i, j - i, &e) == 0)
				fail_msg("substring [%zu,%zu) accepted", i, j);
	m = malloc(len + 1);
	memcpy(m, skey, len + 1);
	for (size_t i = 0; i < len; i++) {
		m[i]++;
		if (key_parse_signer(&sg, m, len, &e) == 0)
			fail_msg("change at %zu accepted", i);
		assert_true(is_zero(&sg, sizeof(sg)));
		m[i]--;
	}
	free(m);
	/* The line alone: no newline. */
	assert_int_equal(key_parse_signer(&sg, skey, len + 1, &e), CC_EINVAL);
	assert_int_equal(
	    key_parse_signer(
		&sg, "PRIVATE+KEY+a b+00000000+AQECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8g", 68,
		&e),
	    CC_EINVAL);
	assert_string_equal(e.msg, "private key: invalid key name");

	/* Any valid key name round-trips, member id or not. */
	{
		unsigned char seed[32] = {9};
		const char *names[] = {"concord.example/log", "cn", "caf\xc3\xa9"};

		for (size_t i = 0; i < 3; i++) {
			struct note_signer a, b;

			assert_int_equal(note_signer_from_seed(&a, names[i], seed), 0);
			cbuf_reset(&out);
			assert_int_equal(key_format_signer(&a, &out), 0);
			assert_null(strchr(out.p, '\n'));
			assert_int_equal(key_parse_signer(&b, out.p, out.len, &e), 0);
			assert_memory_equal(&a, &b, sizeof(a));
		}
		strcpy(sg.key.name, "bad+name");
		cbuf_reset(&out);
		assert_int_equal(key_format_signer(&sg, &out), CC_EINVAL);
	}
	cbuf_free(&out);
	sodium_memzero(skey, len);
	free(skey);
	free(vkey);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_vectors),	    cmocka_unit_test(test_generate_roundtrip),
	    cmocka_unit_test(test_member_ids),	    cmocka_unit_test(test_private_refusals),
	    cmocka_unit_test(test_public_refusals), cmocka_unit_test(test_signer_line),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
