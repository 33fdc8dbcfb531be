/* The node's dealings with the other members' nodes: following the sequencer, and handing it
 * the requests this node receives but does not decide.
 *
 * Threads: one follower, which polls the sequencer's checkpoint, runs follow rounds and
 * empties the outbox; PEER_FORWARDERS forwarders, which carry API requests to the sequencer
 * and back and answer add-checkpoint requests (witness.c); on the sequencer, one cosigner
 * per other node, which asks it to cosign each new checkpoint. A forwarded change that the
 * sequencer accepted is answered once this node holds it too, so a client reads its change back
 * from the node it gave it to. A change that cannot reach the sequencer is kept in the outbox (on
 * disk) and sent again, oldest first, until the sequencer answers it. */
#ifndef CONCORD_NODE_PEER_H
#define CONCORD_NODE_PEER_H

#include <stddef.h>

#include "core/buf.h"
#include "core/err.h"
#include "node/node.h"

#define PEER_FORWARDERS 2
#define PEER_PATH_MAX	256

struct peer;

struct peer_fwd {		  /* a request carried to the sequencer */
	struct node_waiter *w;	  /* woken (from a forwarder) once the answer is in */
	int witness;		  /* an add-checkpoint for this node: answered here */
	int failover;		  /* a failover note for this node: taken here */
	int post;		  /* POST, else GET */
	char path[PEER_PATH_MAX]; /* path and query, e.g. "/v1/proposals?status=pending" */
	const char *body;	  /* POST body, the caller's until w is woken */
	size_t len;		  /* its length */
	long status;		  /* the answer: HTTP status */
	char ctype[128];	  /* its Content-Type */
	struct cbuf out;	  /* its body (the caller frees it) */
	struct peer_fwd *next;	  /* queue link */
};

int peer_start(struct peer **out, struct node *n, struct cc_err *e);
/* Stops and joins the threads; a request still queued, or queued later, is answered 503.
 * peer_free (which stops first) once the API that queues requests is gone. */
void peer_stop(struct peer *p);
void peer_free(struct peer *p);
/* Queues f for the sequencer and returns 1 when this node follows one (f->w is woken with
 * the answer in f), or returns 0 when this node decides itself (f is not used). */
int peer_forward(struct peer *p, struct peer_fwd *f);
/* Queues an add-checkpoint request (f->body) for this node's witness; f->w is woken with the
 * answer. Always taken. */
void peer_witness(struct peer *p, struct peer_fwd *f);
/* Queues a failover note (f->body, POST /v1/failover); f->w is woken with the answer. */
void peer_failover(struct peer *p, struct peer_fwd *f);
/* Asks the follower to look at the sequencer's checkpoint now. */
void peer_wake(struct peer *p);

#endif
