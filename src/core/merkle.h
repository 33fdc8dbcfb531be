/* RFC 6962 / RFC 9162 Merkle trees: hashes, an in-memory tree of every complete subtree,
 * inclusion and consistency proofs. Leaf hash = SHA-256(0x00 || entry); node hash =
 * SHA-256(0x01 || left || right). */
#ifndef CONCORD_MERKLE_H
#define CONCORD_MERKLE_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define MERKLE_HASH	 32
#define MERKLE_MAX_PROOF 64 /* hashes in any proof for a tree of at most 2^63 leaves */
#define MERKLE_MAX_SIZE	 ((uint64_t)1 << 63) /* leaves in a tree */

void merkle_leaf_hash(const void *entry, size_t len, unsigned char out[MERKLE_HASH]);
void merkle_node_hash(const unsigned char l[MERKLE_HASH], const unsigned char r[MERKLE_HASH],
		      unsigned char out[MERKLE_HASH]);

/* Every complete subtree hash, by level (0 = leaves) and index within the level.
 * Appending a leaf completes the subtrees it closes. */
struct merkle_tree {
	unsigned char *level[64]; /* level[l]: hashes of complete 2^l-leaf subtrees, in order */
	uint64_t count[64];	  /* hashes held at each level */
	uint64_t cap[64];	  /* hashes allocated at each level */
	uint64_t size;		  /* leaves */
};

void merkle_tree_init(struct merkle_tree *t);
void merkle_tree_free(struct merkle_tree *t);
/* Appends a leaf given its leaf hash. */
int merkle_tree_append(struct merkle_tree *t, const unsigned char leaf[MERKLE_HASH]);
/* Hash of the complete subtree at (level, index); CC_ENOENT when not complete yet. */
int merkle_tree_get(const struct merkle_tree *t, unsigned level, uint64_t index,
		    unsigned char out[MERKLE_HASH]);
/* Root of the first size leaves (size <= t->size); the empty tree's root is SHA-256(""). */
int merkle_tree_root(const struct merkle_tree *t, uint64_t size, unsigned char out[MERKLE_HASH]);
/* Root of the tree of t's leaves followed by n more leaf hashes, t unchanged: how a follower
 * checks leaves it was sent against a signed checkpoint before it takes any of them. */
int merkle_root_extended(const struct merkle_tree *t, const unsigned char (*leaves)[MERKLE_HASH],
			 uint64_t n, unsigned char out[MERKLE_HASH]);
/* Inclusion proof of leaf index in the tree of size leaves, RFC 9162 §2.1.3. proof must hold
 * MERKLE_MAX_PROOF hashes; *n is set to the number written. CC_ENOENT when size > t->size. */
int merkle_tree_inclusion(const struct merkle_tree *t, uint64_t index, uint64_t size,
			  unsigned char proof[][MERKLE_HASH], size_t *n);
/* Consistency proof from old to size, RFC 9162 §2.1.4. */
int merkle_tree_consistency(const struct merkle_tree *t, uint64_t old, uint64_t size,
			    unsigned char proof[][MERKLE_HASH], size_t *n);

/* Verifiers, usable without a tree: 0 when the proof holds, CC_ECONFLICT when the hashes
 * disagree, CC_EINVAL for a malformed proof (sizes out of range, wrong number of hashes) —
 * which is not evidence that a log misbehaved. */
int merkle_verify_inclusion(const unsigned char leaf[MERKLE_HASH], uint64_t index, uint64_t size,
			    const unsigned char proof[][MERKLE_HASH], size_t n,
			    const unsigned char root[MERKLE_HASH]);
int merkle_verify_consistency(uint64_t old, uint64_t size,
			      const unsigned char old_root[MERKLE_HASH],
			      const unsigned char root[MERKLE_HASH],
			      const unsigned char proof[][MERKLE_HASH], size_t n);

#endif
