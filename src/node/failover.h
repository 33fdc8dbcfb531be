/* Failover: a note naming a new sequencer, signed by the quorum network/sequencer's policy
 * asks, is valid on its own. It is the proposal `put network/sequencer` that the new
 * sequencer appends as its next entry; until the log holds it, every node that has it takes
 * the named node's checkpoints and follows it. A node that receives it keeps it on disk,
 * passes it on to every other node, and, when it is the one named, takes the longest log it
 * can find among the nodes (entries the old sequencer answered are final, so some node holds
 * them) and appends the note. */
#ifndef CONCORD_NODE_FAILOVER_H
#define CONCORD_NODE_FAILOVER_H

#include <stddef.h>

#include "core/err.h"
#include "core/ledger.h"
#include "core/merkle.h"
#include "core/proposal.h"
#include "node/node.h"

/* 0 when p is a failover proposal, the one operation "put network/sequencer" with content
 * "sequencer <id>\n" (id: that node), -1 otherwise. */
int failover_target(const struct proposal *p, char id[MEMBER_ID_MAX + 1]);

/* Checks a failover note against the node's state: one operation, put network/sequencer,
 * every signature a member's, the policy met now. id gets the sequencer it names. */
int failover_check(struct node *n, const char *note, size_t len, char id[MEMBER_ID_MAX + 1],
		   struct cc_err *e);

/* Takes a failover note: checked, kept on disk and in memory. Returns 1 when it is new to
 * this node (the caller passes it on and, if named, takes over), 0 when known already. */
int failover_take(struct node *n, const char *note, size_t len, char id[MEMBER_ID_MAX + 1],
		  struct cc_err *e);

/* Whether the tree that checkpoint ck commits to holds, at index, a failover note naming
 * named: entry is that leaf (from the tiles), a proposal entry whose note was valid when
 * appended (at the entry's time, against this node's state: the members chose that node),
 * and proof (np hashes) its inclusion proof. 0 when it does. The checkpoint's signature is
 * failover_seen's to check. */
int failover_logged(struct node *n, const unsigned char *entry, size_t elen, uint64_t index,
		    const unsigned char (*proof)[MERKLE_HASH], size_t np, const char *ck,
		    size_t cklen, const char *named);

/* A checkpoint another node serves, signed by a node other than this one, the one it
 * follows and the one its log names, of a log this node does not hold, beyond its final
 * part: the network may have gone on from that node's log through a failover this node
 * missed (its note expired, or forgotten). It did when a witness quorum cosigned the
 * checkpoint (it is final), or when proved names that node and the caller found, with as
 * many nodes serving its checkpoints as a takeover needs, its note appended in the very
 * tree the checkpoint commits to (failover_logged). The node then follows that one, as the
 * note would have had it do, and drops what never became final here (follow.c). Returns 1
 * then (id: that node), 2 when such a checkpoint is neither (id: its signer), 0 otherwise
 * (id untouched). */
int failover_seen(struct node *n, const char *ck, size_t len, const char *proved,
		  char id[MEMBER_ID_MAX + 1]);

/* At open: a failover note kept before. */
void failover_load(struct node *n, const char *note, size_t len);

#endif
