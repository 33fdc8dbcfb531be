/* DNS names in wire form: presentation text both ways (escapes, limits, refusals), the
 * bounded check for untrusted wire data, RFC 4034 §6.1's canonical order example, labels,
 * ancestry and parents. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns/wire.h"

static void wire_equal(const uint8_t *w, int len, const char *hex)
{
	size_t n = strlen(hex) / 2;

	assert_int_equal(len, (int)n);
	for (size_t i = 0; i < n; i++) {
		unsigned v;

		assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
		assert_int_equal(w[i], v);
	}
}

static size_t name(uint8_t w[DNS_NAME_MAX], const char *text)
{
	int n = dns_name_from_text(w, text);

	assert_true(n > 0);
	return (size_t)n;
}

/* text -> wire (as hex) -> text, and the text read back gives the same wire. */
static void round_trip(const char *text, const char *hex, const char *back)
{
	uint8_t w[DNS_NAME_MAX], w2[DNS_NAME_MAX];
	char out[DNS_NAME_TEXT_MAX];
	int n = dns_name_from_text(w, text), t;

	wire_equal(w, n, hex);
	assert_int_equal(dns_name_check(w, (size_t)n), n);
	assert_int_equal(dns_name_len(w), (size_t)n);
	t = dns_name_to_text(w, out, sizeof(out));
	assert_int_equal(t, (int)strlen(back));
	assert_string_equal(out, back);
	assert_int_equal(dns_name_from_text(w2, out), n);
	assert_memory_equal(w, w2, (size_t)n);
}

static void test_round_trips(void **state)
{
	(void)state;
	round_trip(".", "00", ".");
	round_trip("cn.", "02636e00", "cn.");
	round_trip("A.DNS.Cn.", "016103646e7302636e00", "a.dns.cn.");
	round_trip("xn--fiqs8s.", "0a786e2d2d66697173387300", "xn--fiqs8s.");
	/* An escaped dot is part of a label, not a separator. */
	round_trip("a\\.b.cn.", "03612e6202636e00", "a\\.b.cn.");
	/* \DDD is decimal; escaped letters are lower-cased like the others. */
	round_trip("\\065\\066c.", "0361626300", "abc.");
	round_trip("\\000\\255\\127.", "0300ff7f00", "\\000\\255\\127.");
	round_trip("\\\\.", "015c00", "\\\\.");
	round_trip("a\\ b.", "0361206200", "a\\032b.");
	round_trip("\\@\\$\\;\\(\\)\\\".", "0640243b28292200", "\\@\\$\\;\\(\\)\\\".");
	round_trip("@.", "014000", "\\@.");
	round_trip("*.example.", "012a076578616d706c6500", "*.example.");
	round_trip("\\x.", "017800", "x.");
}

static void fill(char *p, char c, size_t n)
{
	memset(p, c, n);
}

static void test_limits(void **state)
{
	char text[2000], out[DNS_NAME_TEXT_MAX];
	uint8_t w[DNS_NAME_MAX + 8];
	size_t pos = 0;

	(void)state;
	/* A 63-octet label is the longest. */
	fill(text, 'a', 63);
	strcpy(text + 63, ".");
	assert_int_equal(dns_name_from_text(w, text), 65);
	fill(text, 'a', 64);
	strcpy(text + 64, ".");
	assert_int_equal(dns_name_from_text(w, text), CC_EINVAL);
	/* Three 63-octet labels and one of 61: 3 * 64 + 62 + 1 = 255 octets. */
	for (int i = 0; i < 3; i++) {
		fill(text + pos, 'b', 63);
		pos += 63;
		text[pos++] = '.';
	}
	fill(text + pos, 'c', 61);
	strcpy(text + pos + 61, ".");
	assert_int_equal(dns_name_from_text(w, text), 255);
	assert_int_equal(dns_name_labels(w), 4);
	assert_int_equal(dns_name_check(w, 255), 255);
	assert_int_equal(dns_name_check(w, 254), CC_EINVAL);
	/* One more octet is one too many. */
	fill(text + pos, 'c', 62);
	strcpy(text + pos + 62, ".");
	assert_int_equal(dns_name_from_text(w, text), CC_EINVAL);

	/* The longest text: 255 octets, all escaped as \DDD. */
	pos = 0;
	for (int i = 0; i < 4; i++) {
		size_t n = i < 3 ? 63 : 61;

		for (size_t j = 0; j < n; j++, pos += 4)
			memcpy(text + pos, "\\000", 4);
		text[pos++] = '.';
	}
	text[pos] = '\0';
	assert_int_equal(pos, DNS_NAME_TEXT_MAX - 1);
	assert_int_equal(dns_name_from_text(w, text), 255);
	assert_int_equal(dns_name_to_text(w, out, sizeof(out)), (int)pos);
	assert_string_equal(out, text);
	/* No room for the NUL: refused, and out left empty rather than cut. */
	assert_int_equal(dns_name_to_text(w, out, DNS_NAME_TEXT_MAX - 1), CC_ETOOBIG);
	assert_string_equal(out, "");
	assert_int_equal(dns_name_to_text(w, out, 0), CC_ETOOBIG);

	/* Small buffers: exactly enough works, one less does not. */
	name(w, "cn.");
	assert_int_equal(dns_name_to_text(w, out, 4), 3);
	assert_int_equal(dns_name_to_text(w, out, 3), CC_ETOOBIG);
	assert_string_equal(out, "");
	name(w, ".");
	assert_int_equal(dns_name_to_text(w, out, 2), 1);
	assert_int_equal(dns_name_to_text(w, out, 1), CC_ETOOBIG);
}

static void test_refusals(void **state)
{
	static const char *bad[] = {
	    "",		"cn",	     "a.dns.cn", "..",	   ".cn.", "a..cn.", "a.\\",
	    "a\\.",	"\\25.",     "\\2a.",	 "\\256.", "a b.", "a\tb.",  "\\\001.",
	    "tab\x7f.", "\xc3\xa9.", "\\",	 "a.b",	   "...",  "cn..",
	};
	uint8_t w[DNS_NAME_MAX];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(dns_name_from_text(w, bad[i]), CC_EINVAL);
	assert_int_equal(dns_name_from_text(w, NULL), CC_EINVAL);
}

static void test_wire_refusals(void **state)
{
	static const uint8_t pointer[] = {0x02, 'c', 'n', 0xc0, 0x0c};
	static const uint8_t long_label[] = {64, 'a'};
	uint8_t w[DNS_NAME_MAX], big[300];
	char out[DNS_NAME_TEXT_MAX];
	size_t n = name(w, "a.dns.cn.");

	(void)state;
	assert_int_equal(dns_name_check(pointer, sizeof(pointer)), CC_EINVAL);
	assert_int_equal(dns_name_to_text(pointer, out, sizeof(out)), CC_EINVAL);
	assert_string_equal(out, "");
	assert_int_equal(dns_name_check(long_label, sizeof(long_label)), CC_EINVAL);
	/* Every cut of a valid name is refused; trailing data is not part of the name. */
	for (size_t i = 0; i < n; i++)
		assert_int_equal(dns_name_check(w, i), CC_EINVAL);
	memcpy(big, w, n);
	memset(big + n, 0xff, sizeof(big) - n);
	assert_int_equal(dns_name_check(big, sizeof(big)), n);
	/* 256 octets of well-formed labels are still too long. */
	for (size_t i = 0; i < 4; i++) {
		big[i * 64] = 63;
		memset(big + i * 64 + 1, 'x', 63);
	}
	big[256] = 0;
	assert_int_equal(dns_name_check(big, sizeof(big)), CC_EINVAL);
	assert_int_equal(dns_name_to_text(big, out, sizeof(out)), CC_EINVAL);
}

/* RFC 4034 §6.1: "example" sorts first, ..., in exactly this order. */
static const char *rfc4034_order[] = {
    "example.",	  "a.example.",	      "yljkjljk.a.example.", "Z.a.example.",	 "zABC.a.EXAMPLE.",
    "z.example.", "\\001.z.example.", "*.z.example.",	     "\\200.z.example.",
};
#define NORDER (sizeof(rfc4034_order) / sizeof(rfc4034_order[0]))

static int qsort_name_cmp(const void *a, const void *b)
{
	return dns_name_cmp(a, b);
}

static void test_canonical_order(void **state)
{
	uint8_t w[NORDER][DNS_NAME_MAX], shuffled[NORDER][DNS_NAME_MAX];
	static const int perm[NORDER] = {8, 3, 0, 6, 1, 7, 5, 2, 4};

	(void)state;
	for (size_t i = 0; i < NORDER; i++)
		name(w[i], rfc4034_order[i]);
	for (size_t i = 0; i < NORDER; i++)
		for (size_t j = 0; j < NORDER; j++) {
			int c = dns_name_cmp(w[i], w[j]);

			if (i < j)
				assert_true(c < 0);
			else if (i > j)
				assert_true(c > 0);
			else
				assert_int_equal(c, 0);
		}
	for (size_t i = 0; i < NORDER; i++)
		memcpy(shuffled[i], w[perm[i]], DNS_NAME_MAX);
	qsort(shuffled, NORDER, sizeof(shuffled[0]), qsort_name_cmp);
	for (size_t i = 0; i < NORDER; i++)
		assert_memory_equal(shuffled[i], w[i], dns_name_len(w[i]));
}

static void test_cmp_case_and_root(void **state)
{
	/* Upper-case wire, as a parser may hand it over, compares as lower-case. */
	static const uint8_t upper[] = {2, 'C', 'N', 0};
	uint8_t lower[DNS_NAME_MAX], root[DNS_NAME_MAX], w[DNS_NAME_MAX], copy[sizeof(upper)];

	(void)state;
	name(lower, "cn.");
	name(root, ".");
	assert_int_equal(dns_name_cmp(upper, lower), 0);
	assert_true(dns_name_is_below(upper, lower));
	assert_true(dns_name_cmp(root, lower) < 0);
	assert_true(dns_name_cmp(lower, root) > 0);
	assert_int_equal(dns_name_cmp(root, root), 0);
	/* Ancestors sort before their descendants; a longer label after its prefix. */
	name(w, "a.cn.");
	assert_true(dns_name_cmp(lower, w) < 0);
	name(w, "cna.");
	assert_true(dns_name_cmp(lower, w) < 0);
	memcpy(copy, upper, sizeof(upper));
	dns_name_lower(copy);
	assert_memory_equal(copy, lower, sizeof(copy));
}

static void test_labels(void **state)
{
	uint8_t w[DNS_NAME_MAX];

	(void)state;
	name(w, ".");
	assert_int_equal(dns_name_labels(w), 0);
	name(w, "cn.");
	assert_int_equal(dns_name_labels(w), 1);
	name(w, "a.dns.cn.");
	assert_int_equal(dns_name_labels(w), 3);
	name(w, "*.z.example.");
	assert_int_equal(dns_name_labels(w), 3);
}

static int below(const char *n, const char *z)
{
	uint8_t a[DNS_NAME_MAX], b[DNS_NAME_MAX];

	name(a, n);
	name(b, z);
	return dns_name_is_below(a, b);
}

static void test_is_below(void **state)
{
	(void)state;
	assert_true(below("a.dns.cn.", "cn."));
	assert_true(below("a.dns.cn.", "dns.cn."));
	assert_true(below("cn.", "cn."));
	assert_true(below("cn.", "."));
	assert_true(below(".", "."));
	assert_true(below("A.DNS.CN.", "dns.cn."));
	assert_false(below("xcn.", "cn."));
	assert_false(below("cn.", "a.cn."));
	assert_false(below(".", "cn."));
	assert_false(below("a.bcn.", "cn."));
	assert_false(below("cn.", "br."));
	/* The zone's octets appear at the end of the name, but not on a label boundary:
	 * "x\001b.c." ends in 01 'b' 01 'c' 00, which is "b.c.". */
	assert_false(below("x\\001b.c.", "b.c."));
	assert_true(below("x.b.c.", "b.c."));
}

static void test_parent(void **state)
{
	static const char *chain[] = {"a.dns.cn.", "dns.cn.", "cn.", "."};
	uint8_t w[DNS_NAME_MAX], want[DNS_NAME_MAX];
	const uint8_t *p;
	size_t i = 0;

	(void)state;
	name(w, chain[0]);
	for (p = w; p != NULL; p = dns_name_parent(p), i++) {
		size_t n = name(want, chain[i]);

		assert_int_equal(dns_name_len(p), n);
		assert_memory_equal(p, want, n);
	}
	assert_int_equal(i, 4);
}

static void test_put_get(void **state)
{
	uint8_t b[4];

	(void)state;
	dns_put16(b, 0xbeef);
	assert_int_equal(b[0], 0xbe);
	assert_int_equal(b[1], 0xef);
	assert_int_equal(dns_get16(b), 0xbeef);
	dns_put32(b, 0x89abcdefu);
	assert_int_equal(b[0], 0x89);
	assert_int_equal(b[3], 0xef);
	assert_int_equal(dns_get32(b), 0x89abcdefu);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trips),	    cmocka_unit_test(test_limits),
	    cmocka_unit_test(test_refusals),	    cmocka_unit_test(test_wire_refusals),
	    cmocka_unit_test(test_canonical_order), cmocka_unit_test(test_cmp_case_and_root),
	    cmocka_unit_test(test_labels),	    cmocka_unit_test(test_is_below),
	    cmocka_unit_test(test_parent),	    cmocka_unit_test(test_put_get),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
