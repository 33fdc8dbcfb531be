/* Witnessing (c2sp.org/tlog-witness, c2sp.org/tlog-cosignature).
 *
 * Every member's node cosigns the checkpoints it has checked: a node cosigns a checkpoint of
 * the sequencer only once it holds that log itself, every entry taken and re-validated
 * (follow.c), so a cosignature says more than the protocol asks: "consistent with all I saw,
 * and I hold and checked every entry". The sequencer asks each node for its cosignature of
 * every new checkpoint, serves the checkpoint with the cosignatures it got, and a checkpoint
 * is final once network/witness's quorum of node keys has cosigned it. Nodes learn the
 * cosignatures with the checkpoints they follow, so every node can say how final a record
 * is.
 *
 * A cosigner is named "<origin>/<member id>" (or "concord/<id>/<hex>" when that passes the
 * 63-byte key name limit) and signs with its node key. */
#ifndef CONCORD_NODE_WITNESS_H
#define CONCORD_NODE_WITNESS_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/note.h"
#include "node/node.h"

#define WITNESS_PATH	 "/witness/add-checkpoint"
#define WITNESS_MAX_BODY 65536
#define CT_TLOG_SIZE	 "text/x.tlog.size"

/* The cosigner name of member id's node in the network of origin. */
void witness_name(char out[NOTE_NAME_MAX + 1], const char *origin, const char *id);

/* Answers an add-checkpoint request: *status, ctype and out as tlog-witness says (200 with
 * this node's cosignature line; 400, 403, 404, 409 with the size it holds, 422; 503 when it
 * cannot take the log up to the checkpoint now). */
void witness_add(struct node *n, const char *body, size_t len, long *status, char ctype[128],
		 struct cbuf *out);

/* The sequencer's side. witness_request builds the request for member to's node, whose latest
 * cosigned size is old (0 when unknown), for the current checkpoint (*size). witness_take checks
 * the answer of member id's node (its cosignature of the checkpoint of that size) and adds it. */
int witness_request(struct node *n, const char *to, uint64_t old, struct cbuf *body, uint64_t *size,
		    struct cc_err *e);
int witness_take(struct node *n, const char *id, uint64_t size, const char *answer, size_t len,
		 struct cc_err *e);

/* The checkpoint ck with only what verifies: the sequencer's signature and one cosignature
 * per node (from ck, or from more, a note of the same text). Returns the number of node
 * cosignatures, or CC_ESIG when the sequencer did not sign it. Under the lock. */
int witness_clean(const struct node *n, const char *ck, size_t len, const char *more,
		  struct cbuf *out);

/* Node keys that validly cosigned the note (a checkpoint), each counted once. Under the
 * lock. */
unsigned witness_count(const struct node *n, const struct note *ck);

/* Under the exclusive lock, on the sequencer: keeps a checkpoint it just signed among the
 * recent ones that cosignatures can still come for. */
void witness_recent(struct node *n, uint64_t size, const char *ck);
/* Under the exclusive lock: forgets them (the log they were of was cut back). */
void witness_forget_recent(struct node *n);

/* A checkpoint the sequencer signed, with perhaps more cosignatures than the one this node
 * holds for the same tree: keeps the better of the two. */
void witness_merge(struct node *n, const char *ck, size_t len);

/* A final checkpoint (GET /v1/final of the sequencer) of the log this node holds: taken as
 * this node's own knowledge of finality when its cosignatures make the quorum. */
void witness_final_offer(struct node *n, const char *ck, size_t len);

/* Signs this node's own cosignature onto a checkpoint it just signed as sequencer (text is
 * the checkpoint note), when the network lists its node key; nothing otherwise. */
int witness_self(struct node *n, struct cbuf *ck);

/* Under the exclusive lock: after n->checkpoint changed, records it as final when enough
 * node keys have cosigned it (and has the committer keep it). */
void witness_finality(struct node *n);

/* At open: the last final checkpoint, as kept. */
void node_final_load(struct node *n, const char *ck, size_t len);

/* How final the log is: the size of the last final checkpoint and, for the current one, how
 * many node keys have cosigned it and how many are needed. Under no lock. */
void witness_status(struct node *n, uint64_t *final_size, unsigned *have, unsigned *need);

#endif
