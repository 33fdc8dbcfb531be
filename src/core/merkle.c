/* RFC 6962 / RFC 9162 Merkle trees.
 *
 * The tree keeps the hash of every complete subtree, level by level, so any Merkle Tree Hash a
 * root or a proof needs is a fold over at most 64 stored hashes: no leaf is ever hashed twice.
 * Proof generators walk the RFC's recursive definitions top-down and fill the proof from its end,
 * because the recursion emits the deepest hash first. */
#include "core/merkle.h"
#include "core/sha256.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

/* The largest tree any function accepts. Beyond it proofs could exceed MERKLE_MAX_PROOF hashes
 * and a complete subtree would need a 65th level. */

/* SHA-256 of the empty string: RFC 9162 §2.1.1, MTH({}). */
static const unsigned char merkle_empty_root[MERKLE_HASH] = {
    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
    0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
};

void merkle_leaf_hash(const void *entry, size_t len, unsigned char out[MERKLE_HASH])
{
	static const unsigned char prefix = 0x00;
	const struct sha256_part parts[2] = {{&prefix, 1}, {entry, len}};

	sha256_parts(parts, 2, out);
}

/* out may alias l or r: both are consumed before the digest is written, and the verifiers rely
 * on that to fold in place. */
void merkle_node_hash(const unsigned char l[MERKLE_HASH], const unsigned char r[MERKLE_HASH],
		      unsigned char out[MERKLE_HASH])
{
	static const unsigned char prefix = 0x01;
	unsigned char buf[1 + 2 * MERKLE_HASH];

	buf[0] = prefix;
	memcpy(buf + 1, l, MERKLE_HASH);
	memcpy(buf + 1 + MERKLE_HASH, r, MERKLE_HASH);
	sha256_digest(buf, sizeof(buf), out);
}

/* The RFC's k: the largest power of two smaller than n, for n >= 2. */
static uint64_t split(uint64_t n)
{
	return (uint64_t)1 << (63 - __builtin_clzll(n - 1));
}

/* Hashes in PATH(index, D[size]) (RFC 9162 §2.1.3.1), for index < size <= MERKLE_MAX_SIZE.
 * Walks the same recursion as the generator so the two can never disagree. */
static size_t inclusion_len(uint64_t index, uint64_t size)
{
	uint64_t lo = 0, hi = size, k;
	size_t len = 0;

	while (hi - lo > 1) {
		k = split(hi - lo);
		if (index < lo + k)
			hi = lo + k;
		else
			lo += k;
		len++;
	}
	return len;
}

/* Hashes in PROOF(old, D[size]) (RFC 9162 §2.1.4.1), for 0 < old < size <= MERKLE_MAX_SIZE. */
static size_t consistency_len(uint64_t old, uint64_t size)
{
	uint64_t lo = 0, hi = size, k;
	size_t len = 0;
	int whole = 1; /* the RFC's b: still on the left edge, where the old root is known */

	while (old != hi) {
		k = split(hi - lo);
		if (old <= lo + k) {
			hi = lo + k;
		} else {
			lo += k;
			whole = 0;
		}
		len++;
	}
	return len + !whole;
}

void merkle_tree_init(struct merkle_tree *t)
{
	memset(t, 0, sizeof(*t));
}

void merkle_tree_free(struct merkle_tree *t)
{
	unsigned l;

	for (l = 0; l < 64; l++)
		free(t->level[l]);
	memset(t, 0, sizeof(*t));
}

static int level_reserve(struct merkle_tree *t, unsigned l, uint64_t need)
{
	uint64_t cap;
	unsigned char *p;
	int ret = 0;

	if (need <= t->cap[l])
		goto out;
	cap = t->cap[l] ? t->cap[l] : 64;
	while (cap < need)
		cap *= 2;
	if (cap > SIZE_MAX / MERKLE_HASH) {
		ret = CC_ENOMEM;
		goto out;
	}
	p = realloc(t->level[l], (size_t)cap * MERKLE_HASH);
	if (p == NULL) {
		ret = CC_ENOMEM;
		goto out;
	}
	t->level[l] = p;
	t->cap[l] = cap;
out:
	return ret;
}

static unsigned char *hash_at(const struct merkle_tree *t, unsigned l, uint64_t i)
{
	return t->level[l] + (size_t)i * MERKLE_HASH;
}

int merkle_tree_append(struct merkle_tree *t, const unsigned char leaf[MERKLE_HASH])
{
	unsigned top, l;
	int ret = 0;

	if (t->size >= MERKLE_MAX_SIZE) {
		ret = CC_ETOOBIG;
		goto out;
	}
	/* The new leaf closes one subtree per trailing 1 bit of the old size. Reserve every level
	 * it will touch first, so that a failed allocation leaves the tree as it was. */
	top = (unsigned)__builtin_ctzll(~t->size);
	for (l = 0; l <= top; l++) {
		ret = level_reserve(t, l, t->count[l] + 1);
		if (ret < 0)
			goto out;
	}
	memcpy(hash_at(t, 0, t->count[0]), leaf, MERKLE_HASH);
	t->count[0]++;
	for (l = 0; l < top; l++) {
		merkle_node_hash(hash_at(t, l, t->count[l] - 2), hash_at(t, l, t->count[l] - 1),
				 hash_at(t, l + 1, t->count[l + 1]));
		t->count[l + 1]++;
	}
	t->size++;
out:
	return ret;
}

int merkle_tree_get(const struct merkle_tree *t, unsigned level, uint64_t index,
		    unsigned char out[MERKLE_HASH])
{
	int ret = 0;

	if (level >= 64) {
		ret = CC_EINVAL;
		goto out;
	}
	if (index >= t->count[level]) {
		ret = CC_ENOENT;
		goto out;
	}
	memcpy(out, hash_at(t, level, index), MERKLE_HASH);
out:
	return ret;
}

/* MTH(D[lo:hi]) for a range the RFC recursion produces: lo is a multiple of a power of two at
 * least hi - lo, so the range splits into complete subtrees along the bits of hi - lo, largest
 * first. Folding from the right end avoids a temporary list of those subtrees. */
static void range_hash(const struct merkle_tree *t, uint64_t lo, uint64_t hi,
		       unsigned char out[MERKLE_HASH])
{
	uint64_t n = hi - lo, end = hi, start;
	unsigned l;
	int first = 1;

	for (l = 0; l < 64 && (n >> l) != 0; l++) {
		if (((n >> l) & 1) == 0)
			continue;
		start = end - ((uint64_t)1 << l);
		if (first)
			memcpy(out, hash_at(t, l, start >> l), MERKLE_HASH);
		else
			merkle_node_hash(hash_at(t, l, start >> l), out, out);
		first = 0;
		end = start;
	}
}

int merkle_tree_root(const struct merkle_tree *t, uint64_t size, unsigned char out[MERKLE_HASH])
{
	int ret = 0;

	if (size > t->size) {
		ret = CC_ENOENT;
		goto out;
	}
	if (size == 0)
		memcpy(out, merkle_empty_root, MERKLE_HASH);
	else
		range_hash(t, 0, size, out);
out:
	return ret;
}

int merkle_tree_inclusion(const struct merkle_tree *t, uint64_t index, uint64_t size,
			  unsigned char proof[][MERKLE_HASH], size_t *n)
{
	uint64_t lo = 0, hi = size, k;
	size_t pos;
	int ret = 0;

	if (size > t->size) {
		ret = CC_ENOENT;
		goto out;
	}
	if (index >= size) {
		ret = CC_EINVAL;
		goto out;
	}
	*n = pos = inclusion_len(index, size);
	while (hi - lo > 1) {
		k = split(hi - lo);
		if (index < lo + k) {
			range_hash(t, lo + k, hi, proof[--pos]);
			hi = lo + k;
		} else {
			range_hash(t, lo, lo + k, proof[--pos]);
			lo += k;
		}
	}
out:
	return ret;
}

int merkle_tree_consistency(const struct merkle_tree *t, uint64_t old, uint64_t size,
			    unsigned char proof[][MERKLE_HASH], size_t *n)
{
	uint64_t lo = 0, hi = size, k;
	size_t pos;
	int whole = 1, ret = 0;

	if (size > t->size) {
		ret = CC_ENOENT;
		goto out;
	}
	if (old > size) {
		ret = CC_EINVAL;
		goto out;
	}
	/* Every tree extends the empty tree and itself: nothing to prove. */
	if (old == 0 || old == size) {
		*n = 0;
		goto out;
	}
	*n = pos = consistency_len(old, size);
	while (old != hi) {
		k = split(hi - lo);
		if (old <= lo + k) {
			range_hash(t, lo + k, hi, proof[--pos]);
			hi = lo + k;
		} else {
			range_hash(t, lo, lo + k, proof[--pos]);
			lo += k;
			whole = 0;
		}
	}
	if (!whole)
		range_hash(t, lo, hi, proof[--pos]);
out:
	return ret;
}

/* Shifts fn and sn right together until fn is odd or zero (RFC 9162 wording). */
static void shift_to_odd(uint64_t *fn, uint64_t *sn)
{
	while ((*fn & 1) == 0 && *fn != 0) {
		*fn >>= 1;
		*sn >>= 1;
	}
}

int merkle_verify_inclusion(const unsigned char leaf[MERKLE_HASH], uint64_t index, uint64_t size,
			    const unsigned char proof[][MERKLE_HASH], size_t n,
			    const unsigned char root[MERKLE_HASH])
{
	unsigned char r[MERKLE_HASH];
	uint64_t fn, sn;
	size_t i;
	int ret = 0;

	/* A wrong length is a malformed proof, not evidence against the log: say so apart from a
	 * hash mismatch. */
	if (size > MERKLE_MAX_SIZE || index >= size || n > MERKLE_MAX_PROOF ||
	    n != inclusion_len(index, size)) {
		ret = CC_EINVAL;
		goto out;
	}
	/* RFC 9162 §2.1.3.2, step by step. */
	fn = index;
	sn = size - 1;
	memcpy(r, leaf, MERKLE_HASH);
	for (i = 0; i < n; i++) {
		if (sn == 0) {
			ret = CC_ECONFLICT;
			goto out;
		}
		if ((fn & 1) || fn == sn) {
			merkle_node_hash(proof[i], r, r);
			shift_to_odd(&fn, &sn);
		} else {
			merkle_node_hash(r, proof[i], r);
		}
		fn >>= 1;
		sn >>= 1;
	}
	if (sn != 0 || memcmp(r, root, MERKLE_HASH) != 0)
		ret = CC_ECONFLICT;
out:
	return ret;
}

int merkle_verify_consistency(uint64_t old, uint64_t size,
			      const unsigned char old_root[MERKLE_HASH],
			      const unsigned char root[MERKLE_HASH],
			      const unsigned char proof[][MERKLE_HASH], size_t n)
{
	unsigned char fr[MERKLE_HASH], sr[MERKLE_HASH];
	const unsigned char *c;
	uint64_t fn, sn;
	size_t i;
	int ret = 0;

	if (size > MERKLE_MAX_SIZE || old > size || n > MERKLE_MAX_PROOF) {
		ret = CC_EINVAL;
		goto out;
	}
	/* RFC 9162 §2.1.4.2 covers 0 < old < size. Outside it the proof is empty, and the roots
	 * still have to be the ones those sizes imply. */
	if (old == 0 || old == size) {
		if (n != 0)
			ret = CC_EINVAL;
		else if (old == 0 && memcmp(old_root, merkle_empty_root, MERKLE_HASH) != 0)
			ret = CC_ECONFLICT;
		else if (old == size && memcmp(old_root, root, MERKLE_HASH) != 0)
			ret = CC_ECONFLICT;
		goto out;
	}
	if (n != consistency_len(old, size)) {
		ret = CC_EINVAL;
		goto out;
	}
	/* Step 2 prepends old_root when old is a power of two; reading it from old_root instead
	 * of copying the proof gives the same sequence. */
	i = 0;
	c = (old & (old - 1)) == 0 ? old_root : proof[i++];
	fn = old - 1;
	sn = size - 1;
	while (fn & 1) {
		fn >>= 1;
		sn >>= 1;
	}
	memcpy(fr, c, MERKLE_HASH);
	memcpy(sr, c, MERKLE_HASH);
	for (; i < n; i++) {
		c = proof[i];
		if (sn == 0) {
			ret = CC_ECONFLICT;
			goto out;
		}
		if ((fn & 1) || fn == sn) {
			merkle_node_hash(c, fr, fr);
			merkle_node_hash(c, sr, sr);
			shift_to_odd(&fn, &sn);
		} else {
			merkle_node_hash(sr, c, sr);
		}
		fn >>= 1;
		sn >>= 1;
	}
	if (sn != 0 || memcmp(fr, old_root, MERKLE_HASH) != 0 || memcmp(sr, root, MERKLE_HASH) != 0)
		ret = CC_ECONFLICT;
out:
	return ret;
}

int merkle_root_extended(const struct merkle_tree *t, const unsigned char (*leaves)[MERKLE_HASH],
			 uint64_t n, unsigned char out[MERKLE_HASH])
{
	/* The frontier: the perfect subtrees the leaves so far split into, largest first. */
	unsigned char hash[64][MERKLE_HASH];
	unsigned level[64];
	unsigned k = 0;
	uint64_t off = 0;
	int ret = 0;

	if (n > MERKLE_MAX_SIZE - t->size)
		return CC_ETOOBIG;
	for (int b = 63; b >= 0; b--) {
		if (!(t->size >> b & 1))
			continue;
		ret = merkle_tree_get(t, (unsigned)b, off >> b, hash[k]);
		if (ret < 0)
			return ret;
		level[k++] = (unsigned)b;
		off += (uint64_t)1 << b;
	}
	for (uint64_t i = 0; i < n; i++) {
		memcpy(hash[k], leaves[i], MERKLE_HASH);
		level[k++] = 0;
		while (k >= 2 && level[k - 2] == level[k - 1]) {
			merkle_node_hash(hash[k - 2], hash[k - 1], hash[k - 2]);
			level[k - 2]++;
			k--;
		}
	}
	if (k == 0) {
		memcpy(out, merkle_empty_root, MERKLE_HASH);
		return 0;
	}
	memcpy(out, hash[k - 1], MERKLE_HASH);
	while (k-- > 1)
		merkle_node_hash(hash[k - 1], out, out);
	return 0;
}
