/* The string map behind the ledger's TLD and host tables: put, get, replace, delete, growth,
 * and backward-shift deletion, whose slot moves are the easy thing to get wrong. After every
 * change the table is checked against a plain array and against the probing invariant: no
 * free slot lies between an entry's home slot and the slot it sits in. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/map.h"

#define NKEYS 4096

static char keys[NKEYS][16]; /* keys live as long as the test: the map does not copy them */

static void make_keys(void)
{
	for (int i = 0; i < NKEYS; i++)
		snprintf(keys[i], sizeof(keys[i]), "k%d", i);
}

/* Each used slot is reachable from its home slot without crossing a free one, and the count
 * is right: together these make every lookup correct. */
static void check_invariant(const struct map *m)
{
	size_t used = 0;

	if (m->cap == 0) {
		assert_int_equal(m->n, 0);
		return;
	}
	assert_int_equal(m->cap & (m->cap - 1), 0);
	assert_true(m->n * 2 <= m->cap);
	for (size_t i = 0; i < m->cap; i++) {
		size_t home;

		if (m->slot[i].key == NULL)
			continue;
		used++;
		for (home = (size_t)m->slot[i].hash & (m->cap - 1); home != i;
		     home = (home + 1) & (m->cap - 1))
			if (m->slot[home].key == NULL)
				fail_msg("slot %zu (%s): free slot %zu before it on its probe run",
					 i, m->slot[i].key, home);
	}
	assert_int_equal(used, m->n);
}

/* present[i]: whether keys[i] should be in the map, with value &keys[i][1] */
static void check_contents(const struct map *m, const unsigned char *present, int n)
{
	for (int i = 0; i < n; i++) {
		void *v = map_get(m, keys[i]);

		if (present[i] && v != &keys[i][1])
			fail_msg("%s: missing or wrong value", keys[i]);
		if (!present[i] && v != NULL)
			fail_msg("%s: present after deletion", keys[i]);
	}
	check_invariant(m);
}

static void test_empty(void **state)
{
	struct map m = {0};

	make_keys();
	assert_null(map_get(&m, "x"));
	assert_null(map_del(&m, "x"));
	map_free(&m);
	assert_int_equal(m.cap, 0);
	assert_int_equal(map_put(&m, "", keys[0]), 0); /* the empty key is a key */
	assert_ptr_equal(map_get(&m, ""), keys[0]);
	assert_null(map_get(&m, "x"));
	assert_ptr_equal(map_del(&m, ""), keys[0]);
	assert_int_equal(m.n, 0);
	map_free(&m);
	assert_null(m.slot);
	assert_int_equal(m.n, 0);
}

static void test_put_get_replace(void **state)
{
	struct map m = {0};
	unsigned char present[NKEYS] = {0};
	char other[16];

	make_keys();
	for (int i = 0; i < NKEYS; i++) {
		assert_int_equal(map_put(&m, keys[i], &keys[i][1]), 0);
		present[i] = 1;
		assert_int_equal(m.n, (size_t)i + 1);
		if (i % 97 == 0 || (i & (i - 1)) == 0)
			check_contents(&m, present, NKEYS);
	}
	check_contents(&m, present, NKEYS);
	/* Replacing keeps the count and takes the new key pointer and value. */
	snprintf(other, sizeof(other), "%s", keys[7]);
	assert_int_equal(map_put(&m, other, keys[8]), 0);
	assert_int_equal(m.n, NKEYS);
	assert_ptr_equal(map_get(&m, keys[7]), keys[8]);
	assert_int_equal(map_put(&m, keys[7], &keys[7][1]), 0);
	assert_null(map_get(&m, "k4096"));
	assert_null(map_get(&m, "k"));
	assert_null(map_get(&m, "k00"));
	check_contents(&m, present, NKEYS);
	map_free(&m);
}

/* Keys sorted by their home slot in a table of cap slots, found by inserting each alone. */
static size_t home_of(const char *key, size_t cap)
{
	struct map m = {0};
	size_t h = 0;

	assert_int_equal(map_put(&m, key, (void *)key), 0);
	for (size_t i = 0; i < m.cap; i++)
		if (m.slot[i].key)
			h = (size_t)m.slot[i].hash & (cap - 1);
	map_free(&m);
	return h;
}

/* Clusters that wrap around the end of a 64-slot table: keys at home 62, 63, 0 and 1 share
 * one probe run, so deleting any of them must shift entries back across the wrap, and must
 * not move an entry before its home. Every single deletion, then every deletion order of a
 * few permutations, is checked. */
static void test_backward_shift_wrap(void **state)
{
	static const size_t homes[] = {62, 62, 62, 62, 63, 63, 63, 0, 0, 0, 1, 1, 5, 5, 4};
	enum { NC = sizeof(homes) / sizeof(homes[0]) };
	int chosen[NC];
	int used[NKEYS] = {0};
	unsigned char present[NKEYS];

	make_keys();
	for (size_t c = 0; c < NC; c++) {
		int found = -1;

		for (int i = 0; i < NKEYS && found < 0; i++)
			if (!used[i] && home_of(keys[i], 64) == homes[c])
				found = i;
		assert_true(found >= 0);
		used[found] = 1;
		chosen[c] = found;
	}
	/* Delete each key alone from the full cluster. */
	for (size_t d = 0; d < NC; d++) {
		struct map m = {0};

		memset(present, 0, sizeof(present));
		for (size_t c = 0; c < NC; c++) {
			assert_int_equal(map_put(&m, keys[chosen[c]], &keys[chosen[c]][1]), 0);
			present[chosen[c]] = 1;
		}
		assert_int_equal(m.cap, 64);
		check_contents(&m, present, NKEYS);
		assert_ptr_equal(map_del(&m, keys[chosen[d]]), &keys[chosen[d]][1]);
		present[chosen[d]] = 0;
		check_contents(&m, present, NKEYS);
		assert_null(map_del(&m, keys[chosen[d]]));
		map_free(&m);
	}
	/* Delete all, in a few orders, re-inserting some on the way. */
	for (unsigned seed = 1; seed <= 50; seed++) {
		struct map m = {0};
		int order[NC];

		memset(present, 0, sizeof(present));
		for (size_t c = 0; c < NC; c++) {
			order[c] = (int)c;
			assert_int_equal(map_put(&m, keys[chosen[c]], &keys[chosen[c]][1]), 0);
			present[chosen[c]] = 1;
		}
		srand(seed);
		for (size_t c = NC - 1; c > 0; c--) {
			size_t j = (size_t)rand() % (c + 1);
			int t = order[c];

			order[c] = order[j];
			order[j] = t;
		}
		for (size_t c = 0; c < NC; c++) {
			int k = chosen[order[c]];

			assert_ptr_equal(map_del(&m, keys[k]), &keys[k][1]);
			present[k] = 0;
			check_contents(&m, present, NKEYS);
			if (c % 4 == 1) {
				int back = chosen[order[c - 1]];

				assert_int_equal(map_put(&m, keys[back], &keys[back][1]), 0);
				present[back] = 1;
				check_contents(&m, present, NKEYS);
				assert_ptr_equal(map_del(&m, keys[back]), &keys[back][1]);
				present[back] = 0;
			}
		}
		assert_int_equal(m.n, 0);
		map_free(&m);
	}
}

/* A long run against a plain array: random puts, replaces and deletes over a key space
 * larger than the table, so the table grows, fills to half, and empties again. */
static void test_random_model(void **state)
{
	struct map m = {0};
	unsigned char present[NKEYS] = {0};
	size_t n = 0;
	unsigned r = 12345;

	make_keys();
	for (int step = 0; step < 200000; step++) {
		int k, op;

		r = r * 1103515245u + 12345u;
		k = (int)((r >> 8) % (step < 100000 ? NKEYS : 300));
		op = (int)((r >> 4) % 3);
		if (op < 2 && (step / 20000) % 2 == 0) {
			assert_int_equal(map_put(&m, keys[k], &keys[k][1]), 0);
			n += !present[k];
			present[k] = 1;
		} else {
			void *v = map_del(&m, keys[k]);

			assert_ptr_equal(v, present[k] ? &keys[k][1] : NULL);
			n -= present[k];
			present[k] = 0;
		}
		assert_int_equal(m.n, n);
		if (step % 5000 == 0)
			check_contents(&m, present, NKEYS);
	}
	check_contents(&m, present, NKEYS);
	/* Delete everything left: the table keeps its size and ends empty. */
	for (int i = 0; i < NKEYS; i++)
		if (present[i]) {
			assert_ptr_equal(map_del(&m, keys[i]), &keys[i][1]);
			present[i] = 0;
		}
	assert_int_equal(m.n, 0);
	check_contents(&m, present, NKEYS);
	map_free(&m);
}

/* Deleting in insertion order and in reverse drains long probe runs from either end. */
static void test_drain_orders(void **state)
{
	unsigned char present[NKEYS];

	make_keys();
	for (int pass = 0; pass < 2; pass++) {
		struct map m = {0};

		memset(present, 0, sizeof(present));
		for (int i = 0; i < 1000; i++) {
			assert_int_equal(map_put(&m, keys[i], &keys[i][1]), 0);
			present[i] = 1;
		}
		for (int j = 0; j < 1000; j++) {
			int i = pass ? 999 - j : j;

			assert_ptr_equal(map_del(&m, keys[i]), &keys[i][1]);
			present[i] = 0;
			if (j % 50 == 0)
				check_contents(&m, present, 1000);
		}
		assert_int_equal(m.n, 0);
		map_free(&m);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_empty),
	    cmocka_unit_test(test_put_get_replace),
	    cmocka_unit_test(test_backward_shift_wrap),
	    cmocka_unit_test(test_random_model),
	    cmocka_unit_test(test_drain_orders),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
