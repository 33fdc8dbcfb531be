/* SQLite persistence of a node: the log entries (the source of truth), a few meta values (the
 * latest signed checkpoint) and every proposal the node has seen. WAL mode with
 * synchronous=FULL, so a committed transaction survives a crash or a power loss.
 *
 *   entries(idx INTEGER PRIMARY KEY, data BLOB NOT NULL)
 *   meta(key TEXT PRIMARY KEY, value)
 *   proposals(id TEXT PRIMARY KEY, body TEXT, sigs TEXT, objections TEXT, status TEXT,
 *             received INTEGER, idx INTEGER, reason TEXT)
 *   outbox(seq INTEGER PRIMARY KEY AUTOINCREMENT, path TEXT, body BLOB, received INTEGER)
 *
 * One struct store is one connection: use it from one thread at a time. */
#ifndef CONCORD_NODE_STORE_H
#define CONCORD_NODE_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/proposal.h"

#define STORE_CREATE   1 /* create the file and the schema; refuse an existing file */
#define STORE_READONLY 2 /* a reader connection */

#define STORE_SCHEMA "1" /* meta "schema" value this code reads and writes */

struct store;

struct store_at {	  /* a row's place in a listing, newest first */
	int64_t received; /* its arrival time */
	int64_t rowid;	  /* its arrival order, for rows of the same second */
};

struct store_proposal {		      /* one row of proposals */
	char id[PROPOSAL_ID_LEN + 1]; /* hex SHA-256 of the body */
	char *body;		      /* the proposal note text */
	char *sigs;		      /* verified signature lines, "" when none */
	char *objections;	      /* signed objection notes, one signature each, concatenated */
	char status[16];	      /* "pending", "accepted", "rejected" or "expired" */
	int64_t received;	      /* unix time the node first saw it */
	int64_t idx;		      /* log index once accepted, -1 otherwise */
	char *reason;		      /* why rejected or expired, NULL otherwise */
	struct store_at at;	      /* set by store_proposals: where it lies in the list */
};

int store_open(struct store **out, const char *path, int flags, struct cc_err *e);
void store_close(struct store *s);

/* A write transaction (BEGIN IMMEDIATE .. COMMIT). store_commit returns only once the
 * transaction is durable. */
int store_begin(struct store *s, struct cc_err *e);
int store_commit(struct store *s, struct cc_err *e);
void store_rollback(struct store *s);

int store_entry_put(struct store *s, uint64_t idx, const void *data, size_t len, struct cc_err *e);
int store_entry_get(struct store *s, uint64_t idx, struct cbuf *out, struct cc_err *e);
/* Removes entries from index from on: a follower's entries beyond its last checkpoint, which
 * it took from a sequencer before the checkpoint that covers them was durable. */
int store_entries_cut(struct store *s, uint64_t from, struct cc_err *e);
/* Number of entries; CC_ECONFLICT when their indexes are not exactly 0..n-1. */
int store_entry_count(struct store *s, uint64_t *n, struct cc_err *e);
/* Calls fn for entries from .. from+count-1 in order (stops at a non-zero result, returned);
 * CC_ENOENT when one is missing. */
typedef int (*store_entry_fn)(void *ctx, uint64_t idx, const unsigned char *data, size_t len);
int store_entries(struct store *s, uint64_t from, uint64_t count, store_entry_fn fn, void *ctx,
		  struct cc_err *e);

int store_meta_put(struct store *s, const char *key, const char *value, struct cc_err *e);
/* CC_ENOENT when the key is absent. */
int store_meta_get(struct store *s, const char *key, struct cbuf *out, struct cc_err *e);

/* Inserts or replaces the row with p->id (the rowid, hence the arrival order, is kept). */
int store_proposal_put(struct store *s, const struct store_proposal *p, struct cc_err *e);
/* Fills p (free it with store_proposal_free); CC_ENOENT when unknown. */
int store_proposal_get(struct store *s, const char *id, struct store_proposal *p, struct cc_err *e);
/* Calls fn for up to limit rows, newest first, of one status (NULL: any but accepted, whose
 * proposals are read from the log), from the newest or, given before, from the first row
 * strictly older than that place. fn takes ownership of nothing: the row is freed after it
 * returns. */
typedef int (*store_proposal_fn)(void *ctx, const struct store_proposal *p);
int store_proposals(struct store *s, const char *status, const struct store_at *before,
		    size_t limit, store_proposal_fn fn, void *ctx, struct cc_err *e);
void store_proposal_free(struct store_proposal *p);
/* Forgets the proposals accepted into entries from on (a log cut back). */
int store_proposals_cut(struct store *s, uint64_t from, struct cc_err *e);
/* Forgets a pending proposal (handed to another node); a decided one stays. */
int store_proposal_forget_pending(struct store *s, const char *id, struct cc_err *e);
/* Calls fn with the id, status and log index (-1: none) of every proposal that is not
 * pending, in no particular order (stops at a non-zero result, returned). */
typedef int (*store_final_fn)(void *ctx, const char *id, const char *status, int64_t idx);
int store_proposal_finals(struct store *s, store_final_fn fn, void *ctx, struct cc_err *e);

/* Checkpoints are the caller's: SQLite no longer copies the WAL into the database at the end
 * of a commit that made it long (which delays that commit); store_wal_frames says how long
 * it is after the last commit, store_checkpoint copies what it can without waiting for
 * anyone (CC_EEXIST when another connection is checkpointing). */
void store_wal_manual(struct store *s);
int store_wal_frames(const struct store *s);
int store_checkpoint(struct store *s, int *frames, int *backfilled, struct cc_err *e);

/* The outbox: requests a follower could not hand to its sequencer yet, kept until it can
 * (sent oldest first). received: when one was kept (> 0); 0 once the sequencer deferred it
 * (429); -1 while it waits for its proposal, which the sequencer deferred. */
int store_outbox_put(struct store *s, const char *path, const void *body, size_t len,
		     int64_t received, struct cc_err *e);
/* The request after seq after (0: the first); CC_ENOENT when there is none. */
int store_outbox_next(struct store *s, int64_t after, int64_t *seq, struct cbuf *path,
		      struct cbuf *body, int64_t *received, struct cc_err *e);
/* The largest seq in use (0 when empty): what a pass over the outbox stops at. */
int store_outbox_last(struct store *s, int64_t *seq, struct cc_err *e);
int store_outbox_mark(struct store *s, int64_t seq, int64_t received, struct cc_err *e);
/* At start: every deferred request but a plain proposal is judged again (marked -1). */
int store_outbox_settle(struct store *s, struct cc_err *e);
int store_outbox_del(struct store *s, int64_t seq, struct cc_err *e);
/* 1 when a request kept while the sequencer was away waits (received > 0): a new one must
 * then queue behind it. */
int store_outbox_waiting(struct store *s, struct cc_err *e);
/* Calls fn on each request the sequencer deferred (received 0) to path or path2 (NULL: path
 * alone), oldest first, until fn returns non-zero; returns that, 0 after the last, or a
 * negative code. */
typedef int (*store_body_fn)(void *ctx, const char *path, const void *body, size_t len);
int store_outbox_deferred(struct store *s, const char *path, const char *path2, store_body_fn fn,
			  void *ctx, struct cc_err *e);

#endif
