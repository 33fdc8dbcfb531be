/* Split views: the proof that the sequencer signed two trees that cannot both be its log.
 *
 * Evidence is JSON that anyone holding the sequencer's key can check without trusting who
 * sent it:
 *
 *   {"a": <checkpoint A, size s, root r>, "b": <checkpoint B, size m >= s, root R>,
 *    "root_at": <base64 r', the root of B's tree at size s>,
 *    "consistency": [<base64 hashes of the RFC 9162 proof from s to m in B's tree>]}
 *
 * It holds when A and B both carry the sequencer's signature, the proof takes r' at s to R
 * at m, and r' differs from r: the sequencer signed A, and a larger tree that does not
 * contain it. (For s = m the proof is empty and r' = R.) A node that finds such a pair keeps
 * it as an alarm (GET /v1/alarm) and stops following; nodes look at each other's
 * checkpoints and alarms, so one node's finding becomes every node's. */
#ifndef CONCORD_NODE_SPLIT_H
#define CONCORD_NODE_SPLIT_H

#include <stddef.h>

#include "core/buf.h"
#include "core/err.h"
#include "node/node.h"

/* A checkpoint a (signed by the sequencer) against the log this node holds: 0 when they
 * agree or a is beyond it (nothing to say yet), 1 when they contradict each other (the
 * evidence JSON is in out). */
int split_against_log(struct node *n, const char *a, size_t len, struct cbuf *out);

/* Checks evidence for this node's sequencer: 0 when it proves a split view. */
int split_check(struct node *n, const char *json, size_t len, struct cc_err *e);

/* A checkpoint that came with a consistency proof that did not hold: it may be a bad proof
 * or a split view; kept until this node holds a log of its size, then judged. */
void split_suspect(struct node *n, const char *a, size_t len);
/* Judges the suspect once the log has grown to it: raises the alarm if it contradicts. */
void split_judge(struct node *n);

/* Raises the alarm of a split view with its evidence (kept on disk, served, following
 * stopped). */
void split_alarm(struct node *n, const char *why, const char *evidence);

#endif
