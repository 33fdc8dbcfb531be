/* The state of a running node: the ledger replayed from the store, the Merkle tree of the
 * log, the log key, the pending proposals, and the committer thread that makes changes
 * durable in batches (group commit).
 *
 * Threads: any number of request threads call the node_* functions; one committer thread
 * (node_start) writes batches and runs the ~1 s timer. A change (a new entry, a proposal's
 * new status) is applied to memory under the node's write lock, queued, and acknowledged only
 * once the committer has committed the batch holding it: the caller passes a node_waiter
 * whose done() the committer calls after the commit. Signature checks run outside the lock,
 * against member keys copied under the shared (read) lock, in parallel with each other and
 * with appends; the exclusive holder counts a signature only while the key it verified
 * against is still the member's. */
#ifndef CONCORD_NODE_NODE_H
#define CONCORD_NODE_NODE_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"

struct node;

/* Outcomes of a change, beside the negative CC_E* codes. */
enum node_outcome {
	NODE_OK = 200,	    /* known proposal, updated or unchanged */
	NODE_CREATED = 201, /* appended to the log */
	NODE_ACCEPTED = 202 /* new proposal kept as pending */
};

struct node_reply {	   /* the result of a change */
	int status;	   /* enum node_outcome, or a negative CC_E* code */
	struct cc_err err; /* why, when status < 0 */
	struct cbuf body;  /* when status > 0: the proposal as JSON (docs/api.md) */
	int64_t index;	   /* when NODE_CREATED: the log index of the entry */
};

#define NODE_BATCH_MAX 4096 /* proposals in one batch */

struct node_item {     /* the outcome of one proposal of a batch */
	char id[65];   /* its id, "" when the note could not be read that far */
	int status;    /* enum node_outcome, or a negative CC_E* code */
	int64_t index; /* when NODE_CREATED: the log index of the entry */
	char *why;     /* when status < 0: the reason (owned) */
};

struct node_batch_reply {	 /* the result of a batch */
	int status;		 /* 0, or a negative CC_E* code when the batch itself is refused */
	struct cc_err err;	 /* why, when status < 0 */
	struct node_item *items; /* one per note, in the batch's order */
	size_t n;		 /* entries in items */
};

struct node_waiter {			     /* a request waiting for a commit */
	void (*done)(struct node_waiter *w); /* called once, from the committer thread (or the
					      * one that made its change final) */
	struct node_waiter *next;	     /* node-private queue link */
	uint64_t final_at;		     /* node-private: the log size that must be final */
	int64_t since;			     /* node-private: when it began to wait for that */
	int durable_only; /* answered once durable, even on a sequencer that holds answers until
			   * final (the node's own threads) */
};

/* Opens DIR: reads node.conf and node.key, replays concord.db and checks its checkpoint. */
int node_open(struct node **out, const char *dir, struct cc_err *e);
/* Starts the committer thread. */
int node_start(struct node *n, struct cc_err *e);
/* Refuses further changes, commits what is queued, wakes every waiter, joins the committer
 * (and the zone publisher). */
void node_stop(struct node *n);
struct dnsd;
/* Starts the thread that publishes the signed zone of the durable state to the DNS server d
 * whenever the log grows or the day changes. d must outlive node_stop. */
int node_serve_dns(struct node *n, struct dnsd *d, struct cc_err *e);
void node_close(struct node *n);

const char *node_origin(const struct node *n);
const char *node_http(const struct node *n); /* the address in node.conf */
uint64_t node_size(struct node *n);	     /* durable log size */
int node_stopping(struct node *n);	     /* 1 once node_stop has begun */

/* Changes. Each returns 1 when r will be filled by the time w->done is called (the change
 * must become durable first), 0 when r is filled now (w is not used). */
int node_submit(struct node *n, const char *note, size_t len, struct node_waiter *w,
		struct node_reply *r);
/* data: signature lines over the proposal's body, or the whole signed note. */
int node_sign(struct node *n, const char *id, const char *data, size_t len, struct node_waiter *w,
	      struct node_reply *r);
int node_object(struct node *n, const char *id, const char *note, size_t len, struct node_waiter *w,
		struct node_reply *r);
void node_reply_free(struct node_reply *r);
/* Submits the notes of a batch (note_batch_next framing), each decided on its own and in
 * the batch's order, so a proposal may name the version an earlier one of the batch
 * creates. Signatures are checked on every CPU while the decisions are taken. Returns 1
 * when r will be filled by the time w->done is called (every accepted proposal durable),
 * 0 when r is filled now. */
int node_submit_batch(struct node *n, const char *batch, size_t len, struct node_waiter *w,
		      struct node_batch_reply *r);
void node_batch_reply_free(struct node_batch_reply *r);

/* Following a sequencer (peer.c, follow.c). node_sequencer_url: 1 with the URL of the
 * sequencer's node in url (cap bytes), 0 when this node decides itself (it is the sequencer,
 * the network names none, or an alarm stopped it following). node_alarm: 1 with the alarm
 * raised against the sequencer in out, 0 when none. */
int node_sequencer_url(struct node *n, char *url, size_t cap);
/* What this node does with a change: NODE_DECIDES (it sequences, or the network names no
 * sequencer), NODE_FOLLOWS (url gets the sequencer's; changes go there), NODE_STANDS_BY (an
 * alarm stopped it following, or it is taking over after a failover: no change now). */
enum node_role { NODE_DECIDES, NODE_FOLLOWS, NODE_STANDS_BY };
int node_role(struct node *n, char *url, size_t cap);
int node_alarm(struct node *n, struct cbuf *out);
/* The last checkpoint a witness quorum cosigned (network/witness): 1 with it in out (a
 * signed note with the cosignatures), 0 when none yet. */
int node_final(struct node *n, struct cbuf *out);
#define NODE_MIRRORS_MAX 8

/* A copy of the log's tiles (nginx, a CDN) to read first when following: an http:// or
 * https:// URL whose /log/ serves them. */
int node_mirror_add(struct node *n, const char *url, struct cc_err *e);

/* The failover note this node took (failover.h): 1 with it in out, 0 when none. */
int node_failover_note(struct node *n, struct cbuf *out);
const char *node_dir(const struct node *n);

/* Reads: 0 with out filled, or a CC_E* code with e set. */
int node_checkpoint(struct node *n, struct cbuf *out);
/* A tile (level >= 0) or an entry bundle (level TLOG_LEVEL_ENTRIES) of the durable tree;
 * w = 256 for a full tile. *full says whether it is immutable. */
int node_tile(struct node *n, int level, uint64_t index, unsigned w, struct cbuf *out,
	      struct cc_err *e);
int node_network(struct node *n, struct cbuf *json, struct cc_err *e);
/* The DNS server's counters (node/dnsd.h) as JSON; CC_ENOENT when it serves no DNS. */
int node_dns_stats(struct node *n, struct cbuf *json, struct cc_err *e);
int node_proposal(struct node *n, const char *id, struct cbuf *json, struct cc_err *e);
/* A listing's cursor: the "next" of a page, the "before" of the request for the next one,
 * written "<log>.<received>.<rowid>". What follows it: entries below log, rows older than
 * (received, rowid) (arrival time and order on the node that wrote it). */
struct node_list_at {
	uint64_t log;
	int64_t received, rowid;
};
#define NODE_LIST_TOP ((struct node_list_at){UINT64_MAX, INT64_MAX, INT64_MAX})
/* Strict: CC_EINVAL unless s is a cursor as a page writes it. */
int node_list_at_parse(struct node_list_at *at, const char *s);
/* Whether b goes on from a as a page's cursor must: no side later, one earlier. A client
 * stops on a cursor that does not (a node that would send it round in circles). */
int node_list_at_moved(const struct node_list_at *a, const struct node_list_at *b);

/* A page of proposals, newest first. status: "pending", "accepted", "rejected", "expired" or
 * NULL for all; before: the "next" of the page before (NULL: the first); limit: at most this
 * many (decimal, 1 to 1000; NULL: 1000). The query's words as given: CC_EINVAL when wrong. */
int node_proposals(struct node *n, const char *status, const char *before, const char *limit,
		   struct cbuf *json, struct cc_err *e);
/* The entity tag of the pending proposals' listings, quoted: it changes whenever a page of
 * them could (a proposal row written, an entry appended, a restart). Read it before the
 * listing, which is then at least as new as the tag says. */
#define NODE_ETAG_MAX 64
void node_pending_etag(struct node *n, char etag[NODE_ETAG_MAX]);
/* Returns 1 when the record's last write is not durable yet, registering w (when not NULL):
 * call again once w->done has been called. */
int node_record(struct node *n, const char *path, struct node_waiter *w, struct cbuf *json,
		struct cc_err *e);
int node_records(struct node *n, const char *prefix, struct cbuf *json, struct cc_err *e);
int node_root(struct node *n, struct cbuf *text, struct cc_err *e);
/* The signed root zone (dns/zone.h) of the durable state, at signing epoch now / 86400, as
 * a master file. CC_ENOENT when no member runs a name server. */
int node_zone(struct node *n, int64_t now, struct cbuf *text, struct cc_err *e);

#endif
