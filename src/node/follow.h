/* Following a sequencer: taking its log into this node, checked entry by entry. */
#ifndef CONCORD_NODE_FOLLOW_H
#define CONCORD_NODE_FOLLOW_H

#include <stddef.h>

#include "core/err.h"
#include "node/node.h"

/* Brings the node's log up to the checkpoint ck (a signed note the sequencer signed), with
 * the tiles of the log at source (a URL whose /log/ serves them: the sequencer, a peer, a
 * mirror). Returns 1 when the log grew and the checkpoint is durable, 0 when the node held
 * it already, or a negative code: CC_ECONFLICT when the source or the sequencer is at fault
 * (an alarm is kept for the latter), CC_EIO for transport errors, CC_EPERM when the node
 * follows no sequencer (it is the sequencer, or it raised an alarm). */
#define FOLLOW_ROUND_MAX (1 << 22) /* entries one round takes: 128 MB of leaf hashes */
#define FOLLOW_CUT	 4	   /* (internal) unconfirmed entries were dropped already */
#define FOLLOW_FINAL	 8	   /* (internal) entries beyond the last final one were dropped */
#define FOLLOW_MIRROR	 16	   /* (internal) the source is a mirror, not the sequencer */
#define FOLLOW_TRY	 2	   /* give up at once when a round is in progress */
#define FOLLOW_TAKEOVER	 1	   /* the node a failover named takes the deposed sequencer's log */

int follow_round(struct node *n, const char *source, const char *ck, size_t cklen, int flags,
		 struct cc_err *e);

/* A follow round from the node's mirrors (--mirror) in turn, then from the sequencer at
 * URL sequencer. */
int follow_sync(struct node *n, const char *sequencer, const char *ck, size_t cklen, int flags,
		struct cc_err *e);

/* Raises an alarm against the sequencer: kept on disk and served (GET /v1/alarm); the node
 * follows it no more. evidence: JSON that shows it (split.h), or NULL. */
void follow_alarm(struct node *n, const char *kind, const char *why, const char *evidence);

#endif
