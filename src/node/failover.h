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
#include "node/node.h"

/* Checks a failover note against the node's state: one operation, put network/sequencer,
 * every signature a member's, the policy met now. id gets the sequencer it names. */
int failover_check(struct node *n, const char *note, size_t len, char id[MEMBER_ID_MAX + 1],
		   struct cc_err *e);

/* Takes a failover note: checked, kept on disk and in memory. Returns 1 when it is new to
 * this node (the caller passes it on and, if named, takes over), 0 when known already. */
int failover_take(struct node *n, const char *note, size_t len, char id[MEMBER_ID_MAX + 1],
		  struct cc_err *e);

/* At open: a failover note kept before. */
void failover_load(struct node *n, const char *note, size_t len);

#endif
