/* Merkle tree tests: the RFC 6962 reference tree, every proof of small trees against a naive
 * recursive implementation of RFC 9162's definitions, and the vectors in tests/vectors/tlog. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/merkle.h"

#define BRUTE_MAX 70 /* every proof of every tree up to this size is checked */

typedef unsigned char hash_t[MERKLE_HASH];

/* The Certificate Transparency reference tree (also in transparency-dev/merkle). */
static const char *const ref_leaves[8] = {
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
};

static const char *const ref_roots[9] = {
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
};

struct ref_proof {
	uint64_t a, b; /* index and size, or old and size */
	const char *hashes[3];
};

static const struct ref_proof ref_inclusion[] = {
    {0,
     8,
     {"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
      "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"}},
    {5,
     8,
     {"bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
      "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
      "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
    {2, 3, {"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"}},
    {1,
     5,
     {"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
      "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"}},
};

static const struct ref_proof ref_consistency[] = {
    {1,
     8,
     {"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
      "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"}},
    {6,
     8,
     {"0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
      "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
      "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
    {2,
     5,
     {"5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"}},
    {6,
     7,
     {"0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
      "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
      "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
};

static size_t unhex(const char *s, size_t slen, unsigned char *out, size_t max)
{
	size_t i;
	unsigned v;

	assert_int_equal(slen % 2, 0);
	assert_true(slen / 2 <= max);
	for (i = 0; i < slen / 2; i++) {
		assert_int_equal(sscanf(s + 2 * i, "%2x", &v), 1);
		out[i] = (unsigned char)v;
	}
	return slen / 2;
}

static void unhash(const char *s, unsigned char out[MERKLE_HASH])
{
	assert_int_equal(strlen(s), 2 * MERKLE_HASH);
	unhex(s, strlen(s), out, MERKLE_HASH);
}

/* --- the naive implementation: RFC 9162 §2.1 definitions, recursively, over leaf hashes --- */

static uint64_t k_of(uint64_t n)
{
	uint64_t k = 1;

	while (k * 2 < n)
		k *= 2;
	return k;
}

static void naive_mth(const hash_t *lh, uint64_t n, unsigned char out[MERKLE_HASH])
{
	hash_t a, b;
	uint64_t k;

	if (n == 0) {
		unhash(ref_roots[0], out);
		return;
	}
	if (n == 1) {
		memcpy(out, lh[0], MERKLE_HASH);
		return;
	}
	k = k_of(n);
	naive_mth(lh, k, a);
	naive_mth(lh + k, n - k, b);
	merkle_node_hash(a, b, out);
}

static void naive_path(const hash_t *lh, uint64_t m, uint64_t n, hash_t *proof, size_t *len)
{
	uint64_t k;

	if (n <= 1)
		return;
	k = k_of(n);
	if (m < k) {
		naive_path(lh, m, k, proof, len);
		naive_mth(lh + k, n - k, proof[(*len)++]);
	} else {
		naive_path(lh + k, m - k, n - k, proof, len);
		naive_mth(lh, k, proof[(*len)++]);
	}
}

static void naive_subproof(const hash_t *lh, uint64_t m, uint64_t n, int b, hash_t *proof,
			   size_t *len)
{
	uint64_t k;

	if (m == n) {
		if (!b)
			naive_mth(lh, n, proof[(*len)++]);
		return;
	}
	k = k_of(n);
	if (m <= k) {
		naive_subproof(lh, m, k, b, proof, len);
		naive_mth(lh + k, n - k, proof[(*len)++]);
	} else {
		naive_subproof(lh + k, m - k, n - k, 0, proof, len);
		naive_mth(lh, k, proof[(*len)++]);
	}
}

static void naive_consistency(const hash_t *lh, uint64_t m, uint64_t n, hash_t *proof, size_t *len)
{
	*len = 0;
	if (m > 0)
		naive_subproof(lh, m, n, 1, proof, len);
}

/* Proof lengths from bit arithmetic (as transparency-dev/merkle computes them), to check the
 * recursive counting in merkle.c on sizes too large to build. */
static unsigned bitlen(uint64_t x)
{
	return x ? 64 - (unsigned)__builtin_clzll(x) : 0;
}

static size_t formula_inclusion_len(uint64_t index, uint64_t size)
{
	unsigned inner = bitlen(index ^ (size - 1));

	return inner + (size_t)__builtin_popcountll(inner < 64 ? index >> inner : 0);
}

static size_t formula_consistency_len(uint64_t old, uint64_t size)
{
	unsigned inner, shift;
	size_t border;

	if (old == 0 || old == size)
		return 0;
	inner = bitlen((old - 1) ^ (size - 1));
	border = (size_t)__builtin_popcountll(inner < 64 ? (old - 1) >> inner : 0);
	shift = (unsigned)__builtin_ctzll(old);
	return ((old & (old - 1)) != 0) + inner - shift + border;
}

/* Leaf i of the generated trees: any distinct entries do. */
static void gen_leaf(uint64_t i, unsigned char out[MERKLE_HASH])
{
	char s[32];

	snprintf(s, sizeof(s), "%llu", (unsigned long long)i);
	merkle_leaf_hash(s, strlen(s), out);
}

static void build(struct merkle_tree *t, hash_t *lh, uint64_t n)
{
	uint64_t i;

	merkle_tree_init(t);
	for (i = 0; i < n; i++) {
		gen_leaf(i, lh[i]);
		assert_int_equal(merkle_tree_append(t, lh[i]), 0);
	}
}

/* --- tests --- */

static void test_reference_tree(void **state)
{
	struct merkle_tree t;
	unsigned char entry[16], lh[MERKLE_HASH], want[MERKLE_HASH], got[MERKLE_HASH];
	hash_t proof[MERKLE_MAX_PROOF], ref[3];
	size_t i, j, len, n;

	(void)state;
	merkle_tree_init(&t);
	assert_int_equal(merkle_tree_root(&t, 0, got), 0);
	unhash(ref_roots[0], want);
	assert_memory_equal(got, want, MERKLE_HASH);
	assert_int_equal(merkle_tree_root(&t, 1, got), CC_ENOENT);
	for (i = 0; i < 8; i++) {
		len = unhex(ref_leaves[i], strlen(ref_leaves[i]), entry, sizeof(entry));
		merkle_leaf_hash(entry, len, lh);
		assert_int_equal(merkle_tree_append(&t, lh), 0);
		assert_int_equal(merkle_tree_root(&t, i + 1, got), 0);
		unhash(ref_roots[i + 1], want);
		assert_memory_equal(got, want, MERKLE_HASH);
	}
	/* Earlier sizes stay available after the tree grew. */
	for (i = 0; i <= 8; i++) {
		assert_int_equal(merkle_tree_root(&t, i, got), 0);
		unhash(ref_roots[i], want);
		assert_memory_equal(got, want, MERKLE_HASH);
	}
	for (i = 0; i < sizeof(ref_inclusion) / sizeof(ref_inclusion[0]); i++) {
		const struct ref_proof *p = &ref_inclusion[i];

		assert_int_equal(merkle_tree_inclusion(&t, p->a, p->b, proof, &n), 0);
		for (j = 0; j < 3 && p->hashes[j]; j++) {
			unhash(p->hashes[j], ref[j]);
			assert_memory_equal(proof[j], ref[j], MERKLE_HASH);
		}
		assert_int_equal(n, j);
		assert_int_equal(merkle_tree_get(&t, 0, p->a, lh), 0);
		unhash(ref_roots[p->b], want);
		assert_int_equal(merkle_verify_inclusion(lh, p->a, p->b, ref, n, want), 0);
	}
	for (i = 0; i < sizeof(ref_consistency) / sizeof(ref_consistency[0]); i++) {
		const struct ref_proof *p = &ref_consistency[i];

		assert_int_equal(merkle_tree_consistency(&t, p->a, p->b, proof, &n), 0);
		for (j = 0; j < 3 && p->hashes[j]; j++) {
			unhash(p->hashes[j], ref[j]);
			assert_memory_equal(proof[j], ref[j], MERKLE_HASH);
		}
		assert_int_equal(n, j);
		unhash(ref_roots[p->a], got);
		unhash(ref_roots[p->b], want);
		assert_int_equal(merkle_verify_consistency(p->a, p->b, got, want, ref, n), 0);
	}
	merkle_tree_free(&t);
}

/* Flips each bit position 3 of each hash in turn and checks the proof then fails. */
static void check_inclusion_corrupt(const unsigned char *leaf, uint64_t index, uint64_t size,
				    hash_t *proof, size_t n, const unsigned char *root)
{
	hash_t other;
	size_t i;

	for (i = 0; i < n; i++) {
		proof[i][i % MERKLE_HASH] ^= 8;
		assert_int_equal(merkle_verify_inclusion(leaf, index, size, proof, n, root),
				 CC_ECONFLICT);
		proof[i][i % MERKLE_HASH] ^= 8;
	}
	memcpy(other, leaf, MERKLE_HASH);
	other[0] ^= 1;
	assert_int_equal(merkle_verify_inclusion(other, index, size, proof, n, root), CC_ECONFLICT);
	memcpy(other, root, MERKLE_HASH);
	other[31] ^= 0x80;
	assert_int_equal(merkle_verify_inclusion(leaf, index, size, proof, n, other), CC_ECONFLICT);
	/* Wrong positions either change the proof's length or its hashing. */
	if (index + 1 < size)
		assert_int_not_equal(merkle_verify_inclusion(leaf, index + 1, size, proof, n, root),
				     0);
	if (index > 0)
		assert_int_not_equal(merkle_verify_inclusion(leaf, index - 1, size, proof, n, root),
				     0);
	/* A proof does not bind the size by itself (leaf 0 of 3 and of 4 share their path
	 * shape): the signed size does. Doubling the size always adds a level. */
	assert_int_not_equal(merkle_verify_inclusion(leaf, index, size * 2, proof, n, root), 0);
	if (size / 2 > index)
		assert_int_not_equal(merkle_verify_inclusion(leaf, index, size / 2, proof, n, root),
				     0);
	/* Missing, extra and preceding hashes. */
	if (n > 0)
		assert_int_equal(merkle_verify_inclusion(leaf, index, size, proof, n - 1, root),
				 CC_EINVAL);
	if (n < MERKLE_MAX_PROOF) {
		memcpy(proof[n], root, MERKLE_HASH);
		assert_int_equal(merkle_verify_inclusion(leaf, index, size, proof, n + 1, root),
				 CC_EINVAL);
	}
	assert_int_equal(merkle_verify_inclusion(leaf, index, index, proof, n, root), CC_EINVAL);
}

static void check_consistency_corrupt(uint64_t old, uint64_t size, const unsigned char *r1,
				      const unsigned char *r2, hash_t *proof, size_t n)
{
	hash_t other;
	size_t i;

	for (i = 0; i < n; i++) {
		proof[i][(i * 7) % MERKLE_HASH] ^= 16;
		assert_int_equal(merkle_verify_consistency(old, size, r1, r2, proof, n),
				 CC_ECONFLICT);
		proof[i][(i * 7) % MERKLE_HASH] ^= 16;
	}
	memcpy(other, r1, MERKLE_HASH);
	other[5] ^= 2;
	assert_int_not_equal(merkle_verify_consistency(old, size, other, r2, proof, n), 0);
	/* The empty tree is consistent with any tree, whatever its root. */
	memcpy(other, r2, MERKLE_HASH);
	other[7] ^= 2;
	if (old > 0)
		assert_int_not_equal(merkle_verify_consistency(old, size, r1, other, proof, n), 0);
	if (memcmp(r1, r2, MERKLE_HASH) != 0)
		assert_int_not_equal(merkle_verify_consistency(old, size, r2, r1, proof, n), 0);
	if (old > 0 && old < size) {
		assert_int_not_equal(merkle_verify_consistency(old - 1, size, r1, r2, proof, n), 0);
		assert_int_not_equal(merkle_verify_consistency(old + 1, size, r1, r2, proof, n), 0);
		assert_int_not_equal(merkle_verify_consistency(old, size * 2, r1, r2, proof, n), 0);
		assert_int_equal(merkle_verify_consistency(old, size, r1, r2, proof, 0), CC_EINVAL);
		assert_int_equal(merkle_verify_consistency(old, size, r1, r2, proof, n - 1),
				 CC_EINVAL);
	}
	if (n < MERKLE_MAX_PROOF) {
		memcpy(proof[n], r2, MERKLE_HASH);
		assert_int_equal(merkle_verify_consistency(old, size, r1, r2, proof, n + 1),
				 CC_EINVAL);
	}
	assert_int_equal(merkle_verify_consistency(size + 1, size, r1, r2, proof, n), CC_EINVAL);
}

static void test_brute_force(void **state)
{
	struct merkle_tree t;
	hash_t lh[BRUTE_MAX], proof[MERKLE_MAX_PROOF + 1], want[MERKLE_MAX_PROOF + 1];
	hash_t r1, r2, got;
	uint64_t size, i, m;
	size_t n, wn;

	(void)state;
	build(&t, lh, BRUTE_MAX);
	for (size = 0; size <= BRUTE_MAX; size++) {
		naive_mth(lh, size, r2);
		assert_int_equal(merkle_tree_root(&t, size, got), 0);
		assert_memory_equal(got, r2, MERKLE_HASH);

		for (i = 0; i < size; i++) {
			wn = 0;
			naive_path(lh, i, size, want, &wn);
			assert_int_equal(merkle_tree_inclusion(&t, i, size, proof, &n), 0);
			assert_int_equal(n, wn);
			assert_int_equal(n, formula_inclusion_len(i, size));
			if (n > 0)
				assert_memory_equal(proof, want, n * MERKLE_HASH);
			assert_int_equal(merkle_verify_inclusion(lh[i], i, size, proof, n, r2), 0);
			check_inclusion_corrupt(lh[i], i, size, proof, n, r2);
		}
		assert_int_equal(merkle_tree_inclusion(&t, size, size, proof, &n), CC_EINVAL);

		for (m = 0; m <= size; m++) {
			naive_mth(lh, m, r1);
			naive_consistency(lh, m, size, want, &wn);
			assert_int_equal(merkle_tree_consistency(&t, m, size, proof, &n), 0);
			assert_int_equal(n, wn);
			assert_int_equal(n, formula_consistency_len(m, size));
			if (n > 0)
				assert_memory_equal(proof, want, n * MERKLE_HASH);
			assert_int_equal(merkle_verify_consistency(m, size, r1, r2, proof, n), 0);
			check_consistency_corrupt(m, size, r1, r2, proof, n);
		}
		assert_int_equal(merkle_tree_consistency(&t, size + 1, size, proof, &n), CC_EINVAL);
	}
	assert_int_equal(merkle_tree_inclusion(&t, 0, BRUTE_MAX + 1, proof, &n), CC_ENOENT);
	assert_int_equal(merkle_tree_consistency(&t, 1, BRUTE_MAX + 1, proof, &n), CC_ENOENT);
	assert_int_equal(merkle_tree_root(&t, BRUTE_MAX + 1, got), CC_ENOENT);
	merkle_tree_free(&t);
}

/* The root of a tree extended by leaves it does not hold, for every split of every size. */
static void test_root_extended(void **state)
{
	hash_t lh[BRUTE_MAX], want, got;

	(void)state;
	for (uint64_t m = 0; m <= BRUTE_MAX; m++) {
		struct merkle_tree t;

		build(&t, lh, m);
		for (uint64_t n = 0; m + n <= BRUTE_MAX; n++) {
			hash_t more[BRUTE_MAX];

			for (uint64_t i = 0; i < n; i++) {
				gen_leaf(m + i, lh[m + i]);
				memcpy(more[i], lh[m + i], MERKLE_HASH);
			}
			naive_mth(lh, m + n, want);
			assert_int_equal(merkle_root_extended(
					     &t, (const unsigned char(*)[MERKLE_HASH])more, n, got),
					 0);
			assert_memory_equal(got, want, MERKLE_HASH);
		}
		merkle_tree_free(&t);
	}
}

static void test_get(void **state)
{
	struct merkle_tree t;
	hash_t lh[BRUTE_MAX], got, want;
	unsigned l;
	uint64_t i;

	(void)state;
	build(&t, lh, BRUTE_MAX);
	for (l = 0; l < 64; l++) {
		assert_int_equal(t.count[l], (uint64_t)BRUTE_MAX >> l);
		for (i = 0; i < t.count[l]; i++) {
			assert_int_equal(merkle_tree_get(&t, l, i, got), 0);
			naive_mth(lh + (i << l), (uint64_t)1 << l, want);
			assert_memory_equal(got, want, MERKLE_HASH);
		}
		assert_int_equal(merkle_tree_get(&t, l, t.count[l], got), CC_ENOENT);
	}
	assert_int_equal(merkle_tree_get(&t, 64, 0, got), CC_EINVAL);
	merkle_tree_free(&t);
	/* A freed tree is an empty tree. */
	assert_int_equal(t.size, 0);
	assert_int_equal(merkle_tree_get(&t, 0, 0, got), CC_ENOENT);
	merkle_tree_free(&t);
}

static void test_large_append(void **state)
{
	enum { N = 100000 };
	struct merkle_tree t;
	hash_t *lh, got, want, proof[MERKLE_MAX_PROOF];
	unsigned l;
	size_t n;

	(void)state;
	lh = malloc(N * sizeof(*lh));
	assert_non_null(lh);
	build(&t, lh, N);
	assert_int_equal(t.size, N);
	for (l = 0; l < 64; l++)
		assert_int_equal(t.count[l], (uint64_t)N >> l);
	naive_mth(lh, N, want);
	assert_int_equal(merkle_tree_root(&t, N, got), 0);
	assert_memory_equal(got, want, MERKLE_HASH);
	naive_mth(lh, 65537, want);
	assert_int_equal(merkle_tree_root(&t, 65537, got), 0);
	assert_memory_equal(got, want, MERKLE_HASH);
	assert_int_equal(merkle_tree_inclusion(&t, 77777, N, proof, &n), 0);
	assert_int_equal(merkle_verify_inclusion(lh[77777], 77777, N, proof, n, got), CC_ECONFLICT);
	assert_int_equal(merkle_tree_root(&t, N, got), 0);
	assert_int_equal(merkle_verify_inclusion(lh[77777], 77777, N, proof, n, got), 0);
	assert_int_equal(merkle_tree_consistency(&t, 65537, N, proof, &n), 0);
	assert_int_equal(merkle_verify_consistency(65537, N, want, got, proof, n), 0);
	merkle_tree_free(&t);
	free(lh);
}

static void test_verify_limits(void **state)
{
	static hash_t proof[MERKLE_MAX_PROOF + 1];
	static const uint64_t big = (uint64_t)1 << 63;
	static const struct {
		uint64_t a, b;
	} pairs[] = {
	    {0, 1ULL << 63},
	    {(1ULL << 63) - 1, 1ULL << 63},
	    {3, 1ULL << 63},
	    {1, (1ULL << 63) - 1},
	    {12345678901ULL, (1ULL << 62) + 5},
	    {(1ULL << 62) + 1, 1ULL << 63},
	};
	hash_t leaf = {1}, root = {2}, empty;
	size_t i, n;

	(void)state;
	unhash(ref_roots[0], empty);
	for (i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		n = formula_inclusion_len(pairs[i].a, pairs[i].b);
		assert_true(n <= MERKLE_MAX_PROOF);
		assert_int_equal(
		    merkle_verify_inclusion(leaf, pairs[i].a, pairs[i].b, proof, n, root),
		    CC_ECONFLICT);
		assert_int_equal(
		    merkle_verify_inclusion(leaf, pairs[i].a, pairs[i].b, proof, n + 1, root),
		    CC_EINVAL);
		n = formula_consistency_len(pairs[i].a, pairs[i].b);
		assert_true(n <= MERKLE_MAX_PROOF);
		assert_int_equal(
		    merkle_verify_consistency(pairs[i].a, pairs[i].b, leaf, root, proof, n),
		    CC_ECONFLICT);
		assert_int_equal(
		    merkle_verify_consistency(pairs[i].a, pairs[i].b, leaf, root, proof, n + 1),
		    CC_EINVAL);
	}
	/* Out of range sizes. */
	assert_int_equal(merkle_verify_inclusion(leaf, 0, big + 1, proof, 64, root), CC_EINVAL);
	assert_int_equal(merkle_verify_inclusion(leaf, 0, UINT64_MAX, proof, 64, root), CC_EINVAL);
	assert_int_equal(merkle_verify_inclusion(leaf, 0, 0, proof, 0, root), CC_EINVAL);
	assert_int_equal(merkle_verify_inclusion(leaf, 5, 5, proof, 0, root), CC_EINVAL);
	assert_int_equal(merkle_verify_inclusion(leaf, 0, 1, proof, MERKLE_MAX_PROOF + 1, root),
			 CC_EINVAL);
	assert_int_equal(merkle_verify_consistency(1, big + 1, leaf, root, proof, 64), CC_EINVAL);
	assert_int_equal(merkle_verify_consistency(3, 2, leaf, root, proof, 1), CC_EINVAL);
	/* A tree of one leaf: its root is the leaf hash and the proof is empty. */
	assert_int_equal(merkle_verify_inclusion(leaf, 0, 1, proof, 0, leaf), 0);
	assert_int_equal(merkle_verify_inclusion(leaf, 0, 1, proof, 0, root), CC_ECONFLICT);
	/* The empty tree is consistent with every tree, but its root is fixed. */
	assert_int_equal(merkle_verify_consistency(0, 0, empty, empty, proof, 0), 0);
	assert_int_equal(merkle_verify_consistency(0, 7, empty, root, proof, 0), 0);
	assert_int_equal(merkle_verify_consistency(0, 7, leaf, root, proof, 0), CC_ECONFLICT);
	assert_int_equal(merkle_verify_consistency(0, 0, empty, root, proof, 0), CC_ECONFLICT);
	assert_int_equal(merkle_verify_consistency(0, 7, empty, root, proof, 1), CC_EINVAL);
	/* Equal sizes need equal roots and no proof. */
	assert_int_equal(merkle_verify_consistency(7, 7, root, root, proof, 0), 0);
	assert_int_equal(merkle_verify_consistency(7, 7, leaf, root, proof, 0), CC_ECONFLICT);
	assert_int_equal(merkle_verify_consistency(7, 7, root, root, proof, 1), CC_EINVAL);
}

/* --- vectors --- */

static char *read_vector(const char *name)
{
	const char *dir = getenv("CONCORD_VECTORS");
	char path[4096];
	FILE *f;
	char *buf;
	long len;

	if (dir == NULL || *dir == '\0')
		dir = "tests/vectors";
	snprintf(path, sizeof(path), "%s/tlog/%s", dir, name);
	f = fopen(path, "rb");
	if (f == NULL)
		fail_msg("cannot open %s (set CONCORD_VECTORS)", path);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	len = ftell(f);
	assert_true(len >= 0);
	rewind(f);
	buf = malloc((size_t)len + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)len, f), (size_t)len);
	buf[len] = '\0';
	fclose(f);
	return buf;
}

static size_t parse_proof(const char *s, hash_t *proof)
{
	size_t n = 0;

	if (strcmp(s, "-") == 0)
		return 0;
	for (;;) {
		assert_true(n < MERKLE_MAX_PROOF);
		unhex(s, 2 * MERKLE_HASH, proof[n++], MERKLE_HASH);
		s += 2 * MERKLE_HASH;
		if (*s == '\0')
			break;
		assert_int_equal(*s, ',');
		s++;
	}
	return n;
}

static void test_vectors(void **state)
{
	struct merkle_tree t;
	char *text, *line, *save = NULL, kind[16], arg[4096];
	unsigned char entry[64], got[MERKLE_HASH], want[MERKLE_HASH], roots[9][MERKLE_HASH];
	hash_t proof[MERKLE_MAX_PROOF], vp[MERKLE_MAX_PROOF];
	unsigned long long a, b;
	size_t len, n, vn, lines = 0;
	int fields;

	(void)state;
	merkle_tree_init(&t);
	text = read_vector("tree.txt");
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (line[0] == '#')
			continue;
		lines++;
		fields = sscanf(line, "%15s %llu %4095s", kind, &a, arg);
		if (strcmp(kind, "leaf") == 0) {
			assert_int_equal(fields, 3);
			assert_int_equal(a, t.size);
			len = strcmp(arg, "-") == 0 ? 0
						    : unhex(arg, strlen(arg), entry, sizeof(entry));
			merkle_leaf_hash(entry, len, got);
			assert_int_equal(merkle_tree_append(&t, got), 0);
		} else if (strcmp(kind, "leafhash") == 0) {
			unhash(arg, want);
			assert_int_equal(merkle_tree_get(&t, 0, a, got), 0);
			assert_memory_equal(got, want, MERKLE_HASH);
		} else if (strcmp(kind, "root") == 0) {
			assert_true(a <= 8);
			unhash(arg, roots[a]);
			assert_int_equal(merkle_tree_root(&t, a, got), 0);
			assert_memory_equal(got, roots[a], MERKLE_HASH);
		} else if (strcmp(kind, "inclusion") == 0 || strcmp(kind, "consistency") == 0) {
			assert_int_equal(sscanf(line, "%15s %llu %llu %4095s", kind, &a, &b, arg),
					 4);
			vn = parse_proof(arg, vp);
			if (kind[0] == 'i') {
				assert_int_equal(merkle_tree_inclusion(&t, a, b, proof, &n), 0);
				assert_int_equal(merkle_tree_get(&t, 0, a, got), 0);
				assert_int_equal(
				    merkle_verify_inclusion(got, a, b, vp, vn, roots[b]), 0);
			} else {
				assert_int_equal(merkle_tree_consistency(&t, a, b, proof, &n), 0);
				assert_int_equal(
				    merkle_verify_consistency(a, b, roots[a], roots[b], vp, vn), 0);
			}
			assert_int_equal(n, vn);
			if (n > 0)
				assert_memory_equal(proof, vp, n * MERKLE_HASH);
		} else {
			fail_msg("tree.txt: unknown record %s", kind);
		}
	}
	assert_true(lines > 100);
	free(text);
	merkle_tree_free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_reference_tree), cmocka_unit_test(test_brute_force),
	    cmocka_unit_test(test_root_extended),  cmocka_unit_test(test_get),
	    cmocka_unit_test(test_large_append),   cmocka_unit_test(test_verify_limits),
	    cmocka_unit_test(test_vectors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
