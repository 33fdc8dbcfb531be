/* Genesis: the first entries of a network's log. Entry 0 is a note that every founding
 * member signs:
 *
 *   concord genesis v1
 *   origin <origin>
 *   time <time>
 *   member <id> <chamber> <verifier key> <base64 X25519 public key>   (one per member)
 *   chunk <hex SHA-256 of chunk entry k>                             (one per chunk, in order)
 *
 * Chunk entries carry the initial records ("record <path> <n>\n" then n lines): policies
 * (by path), then when the genesis names nodes network/sequencer, network/witness and
 * node/<id> (ascending ids), then TLDs in canonical order, each chunk at most
 * GENESIS_CHUNK_MAX bytes.
 * A genesis file is the entry bundle (tlog format) of entries 0..k; entry 0 may carry no
 * signatures yet while members sign it. */
#ifndef CONCORD_GENESIS_H
#define CONCORD_GENESIS_H

#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/key.h"
#include "core/ledger.h"
#include "core/policy.h"
#include "core/rr.h"

#define GENESIS_CHUNK_MAX 60000

struct genesis_member {
	char id[MEMBER_ID_MAX + 1]; /* member id */
	int chamber;		    /* enum chamber */
	struct key_pub pub;	    /* its keys */
	struct member_dns dns;	    /* its node's name server, name "" when none */
};

struct genesis_params {
	const char *origin;		      /* network / log origin */
	int64_t time;			      /* genesis time */
	const struct genesis_member *members; /* founding members */
	size_t nmembers;		      /* how many */
	int64_t consultation;		      /* delay of the gTLD policy, seconds */
	const struct rr_set *root;	      /* delegation records to import, may be NULL */
	const struct ledger_node *nodes;      /* founding members' nodes (version ignored) */
	size_t nnodes;			      /* how many; 0: no node, network or their policies */
	const char *sequencer;		      /* a node's id; NULL: the smallest node id */
	const char *witness_quorum;	      /* "n/d"; NULL: "2/3" */
};

/* Writes the default policies' records text (policy/cctld, policy/tld, policy/member,
 * policy/policy) for a given gTLD consultation delay. A genesis naming nodes adds
 * policy/network and policy/node (two thirds of all members each). */
int genesis_default_policies(struct cbuf *out, int64_t consultation);

/* Builds an unsigned genesis file (entry bundle). */
int genesis_build(const struct genesis_params *gp, struct cbuf *bundle, struct cc_err *e);

/* Adds (or replaces) a founding member's signature on entry 0 of the bundle in place. */
int genesis_sign(struct cbuf *bundle, const struct key_pair *k, struct cc_err *e);

/* Lists who signed and who has not yet. */
int genesis_describe(const unsigned char *bundle, size_t len, struct cbuf *out, struct cc_err *e);

#endif
