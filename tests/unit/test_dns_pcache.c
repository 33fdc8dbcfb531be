/* The UDP workers' answer cache: a stored answer comes back with the new query's id and
 * nothing else changed; any other byte of the query misses; clearing forgets; the budget
 * holds under any load, and answers asked for again survive those asked once. Over the
 * real root zone: the cached answer to every question of a mix (names in mixed case,
 * with and without EDNS and DO, three payload sizes) is the very answer ans_answer gives
 * to the query with the new id, the property the cache rests on. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "dns/answer.h"
#include "dns/pcache.h"
#include "dns/wire.h"

#include "zone_fixture.h"

static const uint8_t SEED[PCACHE_SEED_BYTES] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};

/* A query for a name made of i (and its length, 12 + 4 + len + 5), and an answer of alen
 * bytes that says which query it answers. */
static size_t fake_query(uint8_t *q, unsigned i, uint16_t id)
{
	int n;
	char name[32];

	memset(q, 0, 12);
	dns_put16(q, id);
	dns_put16(q + 4, 1);
	snprintf(name, sizeof(name), "q%u.example.", i);
	n = dns_name_from_text(q + 12, name);
	assert_true(n > 0);
	dns_put16(q + 12 + n, DNS_A);
	dns_put16(q + 14 + n, DNS_CLASS_IN);
	return 16 + (size_t)n;
}

static void fake_answer(uint8_t *a, size_t alen, unsigned i, uint16_t id)
{
	for (size_t k = 0; k < alen; k++)
		a[k] = (uint8_t)(i * 31 + k);
	dns_put16(a, id);
}

static void test_hit_has_the_new_id(void **state)
{
	struct pcache *c;
	uint8_t q[64], a[300], out[512];
	size_t ql;
	struct pcache_stats st;

	(void)state;
	assert_int_equal(pcache_new(1 << 20, SEED, &c), 0);
	ql = fake_query(q, 7, 0x1111);
	assert_int_equal(pcache_get(c, q, ql, out, sizeof(out)), 0);
	fake_answer(a, sizeof(a), 7, 0x1111);
	pcache_put(c, q, ql, a, sizeof(a));
	dns_put16(q, 0xbeef);
	assert_int_equal(pcache_get(c, q, ql, out, sizeof(out)), sizeof(a));
	assert_int_equal(dns_get16(out), 0xbeef);
	assert_memory_equal(out + 2, a + 2, sizeof(a) - 2);
	/* Not in a buffer too small for it. */
	assert_int_equal(pcache_get(c, q, ql, out, sizeof(a) - 1), 0);
	pcache_stats(c, &st);
	assert_int_equal(st.hits, 1);
	assert_int_equal(st.misses, 2);
	assert_int_equal(st.entries, 1);
	pcache_free(c);
}

static void test_every_other_byte_is_the_key(void **state)
{
	struct pcache *c;
	uint8_t q[64], a[100], out[512];
	size_t ql;

	(void)state;
	assert_int_equal(pcache_new(1 << 20, SEED, &c), 0);
	ql = fake_query(q, 1, 1);
	fake_answer(a, sizeof(a), 1, 1);
	pcache_put(c, q, ql, a, sizeof(a));
	for (size_t k = 2; k < ql; k++) {
		/* One bit anywhere: flags, counts, a letter's case, the type or class. */
		q[k] ^= 0x20;
		assert_int_equal(pcache_get(c, q, ql, out, sizeof(out)), 0);
		q[k] ^= 0x20;
	}
	/* Longer by a byte (an EDNS option, say) or shorter is another query too. */
	q[ql] = 0;
	assert_int_equal(pcache_get(c, q, ql + 1, out, sizeof(out)), 0);
	assert_int_equal(pcache_get(c, q, ql - 1, out, sizeof(out)), 0);
	assert_int_equal(pcache_get(c, q, ql, out, sizeof(out)), sizeof(a));
	pcache_free(c);
}

static void test_clear_forgets(void **state)
{
	struct pcache *c;
	uint8_t q[64], a[100], b[120], out[512];
	size_t ql;

	(void)state;
	assert_int_equal(pcache_new(1 << 16, SEED, &c), 0);
	ql = fake_query(q, 3, 3);
	fake_answer(a, sizeof(a), 3, 3);
	pcache_put(c, q, ql, a, sizeof(a));
	pcache_clear(c);
	assert_int_equal(pcache_get(c, q, ql, out, sizeof(out)), 0);
	/* The new zone's answer, not the old one. */
	fake_answer(b, sizeof(b), 4, 3);
	pcache_put(c, q, ql, b, sizeof(b));
	assert_int_equal(pcache_get(c, q, ql, out, sizeof(out)), sizeof(b));
	assert_memory_equal(out, b, sizeof(b));
	pcache_free(c);
}

static void test_what_is_not_stored(void **state)
{
	struct pcache *c;
	struct pcache_stats st;
	uint8_t q[PCACHE_QUERY_MAX + 2] = {0}, a[64] = {0}, out[512];

	(void)state;
	assert_int_equal(pcache_new(1000, SEED, &c), CC_EINVAL);
	assert_null(c);
	assert_int_equal(pcache_new(1 << 16, SEED, &c), 0);
	pcache_put(c, q, 11, a, sizeof(a));		      /* shorter than a header */
	pcache_put(c, q, 12, a, 11);			      /* an answer shorter than one */
	pcache_put(c, q, PCACHE_QUERY_MAX + 1, a, sizeof(a)); /* a query too long */
	pcache_stats(c, &st);
	assert_int_equal(st.entries, 0);
	assert_int_equal(pcache_get(c, q, 11, out, sizeof(out)), 0);
	assert_int_equal(pcache_get(c, q, PCACHE_QUERY_MAX + 1, out, sizeof(out)), 0);
	/* The longest query and answer that may be kept are. */
	pcache_put(c, q, PCACHE_QUERY_MAX, a, sizeof(a));
	assert_int_equal(pcache_get(c, q, PCACHE_QUERY_MAX, out, sizeof(out)), sizeof(a));
	pcache_free(c);
}

/* 20,000 answers of 12 to 1,232 bytes through a 256 KB cache: never over the budget; the ten
 * asked for after every new one are all still there at the end, the others are not. */
static void test_budget_and_hot_answers(void **state)
{
	const size_t budget = 256 << 10;
	struct pcache *c;
	struct pcache_stats st;
	uint8_t q[64], a[ANS_UDP_DEFAULT], out[ANS_UDP_DEFAULT];
	size_t ql, lens[10];

	(void)state;
	assert_int_equal(pcache_new(budget, SEED, &c), 0);
	for (unsigned i = 0; i < 10; i++) {
		lens[i] = 12 + i * 100;
		ql = fake_query(q, 1000000 + i, 0);
		fake_answer(a, lens[i], 1000000 + i, 0);
		pcache_put(c, q, ql, a, lens[i]);
	}
	for (unsigned i = 0; i < 20000; i++) {
		size_t alen = 12 + (i * 7919u) % (sizeof(a) - 12);

		ql = fake_query(q, i, 0);
		fake_answer(a, alen, i, 0);
		pcache_put(c, q, ql, a, alen);
		for (unsigned h = 0; h < 10; h++) {
			ql = fake_query(q, 1000000 + h, (uint16_t)i);
			assert_int_equal(pcache_get(c, q, ql, out, sizeof(out)), lens[h]);
			fake_answer(a, lens[h], 1000000 + h, (uint16_t)i);
			assert_memory_equal(out, a, lens[h]);
		}
	}
	pcache_stats(c, &st);
	assert_true(st.entries > 100);
	/* The ring came round many times: the first answers asked once are gone. */
	ql = fake_query(q, 0, 0);
	assert_int_equal(pcache_get(c, q, ql, out, sizeof(out)), 0);
	pcache_free(c);
}

/* Random puts and gets of 300 queries with answers of random sizes through the smallest
 * cache: the ring comes round again and again, answers are copied ahead from where the
 * copy overlaps them; every hit must be exactly the answer stored for that query. */
static void test_random_model(void **state)
{
	struct pcache *c;
	uint32_t x = 12345;
	size_t lens[300] = {0};
	unsigned hits = 0, tries = 0;
	uint8_t q[64], a[ANS_UDP_DEFAULT], out[ANS_UDP_DEFAULT];

	(void)state;
	assert_int_equal(pcache_new(1 << 16, SEED, &c), 0);
	for (int op = 0; op < 200000; op++) {
		unsigned k;
		size_t ql, n;

		x = x * 1103515245u + 12345u;
		k = (x >> 8) % 300;
		ql = fake_query(q, k, (uint16_t)op);
		if (lens[k] == 0 || (x >> 28) < 4) {
			/* A new answer for k (a new zone would give one): its size from k and
			 * the op, so that it changes. */
			lens[k] = 12 + ((x >> 4) ^ k * 7919u) % (sizeof(a) - 12);
			fake_answer(a, lens[k], k * 131 + (unsigned)lens[k], (uint16_t)op);
			pcache_put(c, q, ql, a, lens[k]);
			continue;
		}
		tries++;
		n = pcache_get(c, q, ql, out, sizeof(out));
		if (n == 0)
			continue;
		hits++;
		assert_int_equal(n, lens[k]);
		fake_answer(a, lens[k], k * 131 + (unsigned)lens[k], (uint16_t)op);
		assert_memory_equal(out, a, n);
	}
	assert_true(hits > tries / 10);
	assert_true(hits < tries);
	pcache_free(c);
}

/* The cache rests on ans_answer depending on the query's bytes alone, the id aside. */
static void test_real_zone_answers(void **state)
{
	static const char *const names[] = {
	    "cn.", "CN.",     "cN.",	  "com.",    "Org.",
	    "de.", "www.cn.", "a.B.Com.", "nope-x.", "ns.cn.root.concord.example.",
	    "."};
	static const uint16_t types[] = {DNS_NS,  DNS_DS,     DNS_A,	  DNS_AAAA,
					 DNS_SOA, DNS_DNSKEY, DNS_ZONEMD, 16 /* TXT */};
	static const uint16_t sizes[] = {0, 512, 1232, 4096};
	struct dns_key ksk, zsk;
	struct zone_keys zk = {.ksk = &ksk, .zsk = &zsk};
	struct ans_query aq = {.udp_max = ANS_UDP_DEFAULT};
	struct cc_err e = {0};
	struct ledger *l = root_ledger(1);
	struct zone *z = NULL;
	struct ans_zone *az = NULL;
	struct pcache *c;
	unsigned hits = 0;

	(void)state;
	if (l == NULL)
		skip();
	keys(&ksk, &zsk);
	assert_int_equal(zone_build(l, &zk, EPOCH, &z, &e), 0);
	assert_int_equal(ans_zone_new(z, &az), 0);
	assert_int_equal(pcache_new(4 << 20, SEED, &c), 0);
	for (size_t ni = 0; ni < sizeof(names) / sizeof(names[0]); ni++)
		for (size_t ti = 0; ti < sizeof(types) / sizeof(types[0]); ti++)
			for (size_t si = 0; si < sizeof(sizes) / sizeof(sizes[0]); si++)
				for (int dnssec = 0; dnssec < 2 && (dnssec == 0 || sizes[si]);
				     dnssec++) {
					uint8_t q[600], fresh[ANS_UDP_DEFAULT],
					    got[ANS_UDP_DEFAULT];
					size_t ql = 12, fl, gl;
					int n;

					memset(q, 0, 12);
					dns_put16(q + 4, 1);
					/* The name as written: case kept, as resolvers using
					 * 0x20 send it. */
					n = dns_name_from_text(q + 12, names[ni]);
					assert_true(n > 0);
					for (int k = 0; names[ni][k] && names[ni][k] != '.'; k++)
						q[13 + k] = (uint8_t)names[ni][k];
					ql += (size_t)n;
					dns_put16(q + ql, types[ti]);
					dns_put16(q + ql + 2, DNS_CLASS_IN);
					ql += 4;
					if (sizes[si]) {
						uint8_t opt[11] = {0, 0, DNS_OPT, 0, 0, 0,
								   0, 0, 0,	  0, 0};

						dns_put16(opt + 3, sizes[si]);
						opt[7] = dnssec ? 0x80 : 0;
						memcpy(q + ql, opt, sizeof(opt));
						ql += sizeof(opt);
						dns_put16(q + 10, 1);
					}
					dns_put16(q, 0x0101);
					fl = ans_answer(az, &aq, q, ql, fresh, sizeof(fresh));
					assert_true(fl >= 12);
					pcache_put(c, q, ql, fresh, fl);
					dns_put16(q, 0x7e57);
					gl = pcache_get(c, q, ql, got, sizeof(got));
					fl = ans_answer(az, &aq, q, ql, fresh, sizeof(fresh));
					assert_int_equal(gl, fl);
					assert_memory_equal(got, fresh, fl);
					hits++;
				}
	assert_true(hits > 500);
	pcache_free(c);
	ans_zone_free(az);
	zone_free(z);
	ledger_free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_hit_has_the_new_id),
	    cmocka_unit_test(test_every_other_byte_is_the_key),
	    cmocka_unit_test(test_clear_forgets),
	    cmocka_unit_test(test_what_is_not_stored),
	    cmocka_unit_test(test_budget_and_hot_answers),
	    cmocka_unit_test(test_random_model),
	    cmocka_unit_test(test_real_zone_answers),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
