/* The node's insides, shared by the files that make it up (node.c: proposals; the others
 * each have a group of declarations below) and the files that take part of its work
 * (follow.c: taking entries from a sequencer). Not an API: the rest of the program uses
 * node.h. Locking rules are those of node.h. */
#ifndef CONCORD_NODE_IMPL_H
#define CONCORD_NODE_IMPL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/ledger.h"
#include "core/map.h"
#include "core/merkle.h"
#include "core/note.h"
#include "core/proposal.h"
#include "core/tlog.h"
#include "dns/zone.h"
#include "node/conf.h"
#include "node/node.h"
#include "node/store.h"

enum prop_status { PS_PENDING, PS_ACCEPTED, PS_REJECTED, PS_EXPIRED, PS_COUNT };

struct node_vsig {	     /* a verified signature */
	struct note_sig sig; /* as received; sig.name is the member id */
	struct note_key key; /* the member key it verified against (zero when loaded unverified) */
};

struct node_prop {		/* a proposal the node holds in memory */
	struct proposal p;	/* parsed body; p.id is the map key */
	struct node_vsig *sigs; /* verified approvals, sorted by member id */
	size_t nsigs;		/* entries in sigs */
	struct node_vsig *objs; /* verified objections (over the objection body), by member id */
	size_t nobjs;		/* entries in objs */
	int status;		/* enum prop_status */
	int64_t received;	/* unix time first received */
	int64_t idx;		/* log index once accepted, else -1 */
	char *reason;		/* why rejected or expired, else NULL */
	uint64_t eval_size;	/* ledger size at the last evaluation (0: never) */
	int64_t not_before;	/* last evaluation: earliest acceptance time */
	int met;		/* last evaluation: every requirement met, only time is missing */
	uint64_t final_seq;	/* batch carrying the final status; the prop leaves memory once
				 * that batch is durable */
	int row_kept;		/* a row of it is stored, or queued for the committer */
	int whole_in_log;	/* accepted, and its entry holds every signature it has and it
				 * has no objection: the log says all, no row is kept */
	int tallied;		/* counted in its proposer's pending share (node->pend_by) */
	atomic_int refs;	/* the map's reference, plus one per batch row or request still
				 * reading it; a final prop never changes, so it is read unlocked */
};

struct node_row {		   /* a proposal row queued for the committer */
	struct store_proposal row; /* a snapshot (pending proposals change), when np is NULL */
	struct node_prop *np;	   /* a final proposal (it no longer changes), referenced: the
				    * committer builds its row, off the lock */
};

/* The ids of proposals whose final status is durable, so that a new proposal is told apart
 * from a decided one without a store lookup. Open addressing on the binary id (a SHA-256,
 * so its first bytes are a fine hash). */
#define FINAL_FREE	0  /* empty slot */
#define FINAL_REJECTED	-1 /* rejected or expired: the reason is in the store */
#define FINAL_ACCEPTED0 1  /* accepted at log index v - FINAL_ACCEPTED0 */

struct node_final {	      /* one decided proposal */
	unsigned char id[32]; /* binary id */
	int64_t v;	      /* FINAL_* */
};

struct node_finals {
	struct node_final *v; /* cap slots */
	size_t cap;	      /* power of two, or 0 */
	size_t n;	      /* used */
};

struct node_batch {		   /* changes waiting for the committer */
	struct cbuf *entries;	   /* new log entries, in index order */
	size_t nentries;	   /* used */
	size_t capentries;	   /* allocated */
	uint64_t first;		   /* index of entries[0] */
	int followed;		   /* its entries came from a sequencer (follow.c): this node
				    * does not sign them */
	char *checkpoint;	   /* following: the sequencer's checkpoint of the log as it is
				    * with these entries, or NULL (none covers them yet) */
	char *final;		   /* a newly final checkpoint (witness.c) to keep, or NULL */
	struct node_row *rows;	   /* proposal rows to upsert, in order */
	size_t nrows;		   /* used */
	size_t caprows;		   /* allocated */
	struct node_waiter *head;  /* requests to wake after the commit (under q_mu) */
	struct node_waiter **tail; /* where the next waiter goes */
};

/* Group commit under load: once a batch held NODE_LINGER_MIN changes, the next one is taken
 * NODE_LINGER_US after its first change, or as soon as NODE_BATCH_FULL requests wait on it:
 * larger batches spread each commit's fixed cost (the WAL's last pages written again, the
 * checkpoint signature, the fsync) over more entries. A lone change is committed at once. */
#define NODE_LINGER_MIN 4
#define NODE_LINGER_US	1500
#define NODE_BATCH_FULL 64

#define NODE_RECENT 32 /* checkpoints of the sequencer's that cosignatures can come for */

struct node_recent {   /* one of them */
	uint64_t size; /* its size */
	char *ck;      /* the note, with the cosignatures it got so far */
};

struct node {
	char dir[CONF_PATH_MAX];	  /* node directory */
	int dirfd;			  /* open on dir, holding its exclusive flock */
	struct conf conf;		  /* node.conf */
	struct note_signer key;		  /* log signing key (name = origin) */
	char origin[TLOG_ORIGIN_MAX + 1]; /* network origin, fixed by the genesis */
	char *log_vkey;			  /* verifier key of the log key, for /v1/network */
	struct store *wr;		  /* the committer's connection */
	struct store *rd;		  /* readers' connection, under rd_mu */
	pthread_mutex_t rd_mu;		  /* serializes rd (taken after lock, never before) */

	/* Everything below is under lock: shared for reading, exclusive for changing. */
	pthread_rwlock_t lock;
	struct ledger *ledger;	   /* state, possibly ahead of the disk by one batch */
	struct merkle_tree tree;   /* every entry's leaf, same size as the ledger */
	struct map props;	   /* id -> node_prop: pending, and final ones not yet durable */
	struct map pend_by;	   /* proposer -> struct pend_share: its pending proposals */
	struct node_finals finals; /* decided proposals no longer in props */
	struct node_batch batch;   /* changes not yet taken by the committer */
	uint64_t seq;		   /* batches taken by the committer so far */
	uint64_t seq_done;	   /* of which committed */
	uint64_t pub_size;	   /* durable log size, that of the checkpoint below */
	char *checkpoint;	   /* latest durable signed checkpoint */
	atomic_int stopping;	   /* node_stop has begun: no more changes (read without the
				    * lock: a waiter on dur_mu must not take it) */
	int following;		   /* entries come from the sequencer (follow.c), not from
				    * this node's own decisions */
	char *alarm;		   /* the sequencer misbehaved (follow.c): what it did, or NULL */
	char failover_to[MEMBER_ID_MAX + 1]; /* a failover note, or a log that showed a failover
					      * this node missed (failover_seen), named this
					      * sequencer, which the log does not name yet; ""
					      * otherwise */
	char *failover;			     /* the last note taken, or NULL */
	int failover_unnoted;		     /* failover_to came from a log, not a note */
	pthread_mutex_t fo_mu;		     /* one failover note taken at a time (failover.c) */
	char *suspect;	     /* a checkpoint whose consistency proof failed (split.c), or NULL */
	uint64_t final_size; /* size of the last final checkpoint (witness quorum), or 0 */
	char *final_ck;	     /* that checkpoint with its cosignatures, or NULL */
	pthread_mutex_t follow_mu;		/* one follow round at a time (follow.c) */
	struct node_recent recent[NODE_RECENT]; /* on the sequencer (witness.c) */
	unsigned nrecent;			/* checkpoints kept so far */
	char *mirrors[NODE_MIRRORS_MAX];	/* --mirror URLs, read first when following */
	int nmirrors;				/* used */
	_Atomic size_t pending_copied;		/* the sequencer's pending proposals copied */
	_Atomic int64_t pending_copied_at;	/* when that list was asked for, last */
	_Atomic uint64_t final_known;		/* final_size, readable without the lock */
	_Atomic uint64_t rows_gen;		/* counts the commits that changed proposal rows */
	uint64_t boot;		/* random, drawn at open: tells one run's rows_gen from another's */
	pthread_mutex_t fin_mu; /* guards fin_head */
	struct node_waiter *fin_head; /* on a sequencer of nodes: answers held until final */
	struct ledger_verdict *v;     /* scratch verdict for the exclusive holder */

	/* A copy of the member keys, changed with the registry under the exclusive lock, read
	 * by signature checks without the node lock (a waiting writer would hold them up). */
	pthread_mutex_t keys_mu; /* guards keys and nkeys */
	struct note_key *keys;	 /* every member's key, in member id order */
	size_t nkeys;		 /* entries in keys */

	pthread_mutex_t q_mu;  /* wakes the committer; guards batch.head/tail */
	pthread_cond_t q_cond; /* signalled on a new change or stop */
	int q_kick;	       /* a change is queued */
	unsigned q_nwait;      /* requests waiting on the batch being filled */
	int q_linger;	       /* the last batch was large: let the next one fill */
	int q_stop;	       /* the committer must finish */
	int q_done;	       /* the committer is gone: a late waiter is woken at once */
	pthread_t committer;   /* the committer thread */
	int started;	       /* committer running */
	struct cbuf logq;      /* log lines written after the next commit (under q_mu) */

	/* The WAL is copied into the database by a thread of its own, off the commit path;
	 * the committer only tops a finished pass off, so that the WAL can start over. */
	struct store *ck;	/* the checkpointer's connection */
	pthread_t ckpt;		/* the checkpointer thread */
	pthread_mutex_t ck_mu;	/* guards the ck_* flags */
	pthread_cond_t ck_cond; /* signalled when a pass is asked for, or on stop */
	int ck_run;		/* a pass is asked for or running */
	int ck_done;		/* a pass finished since the committer last looked */
	int ck_stop;		/* the checkpointer must finish */
	int ck_started;		/* checkpointer running */

	/* The signed zone, built from the durable state when asked for and kept until the log
	 * or the signing epoch moves on. */
	pthread_mutex_t zone_mu;     /* guards zone and journal; taken before the node lock */
	struct zone *zone;	     /* the last zone made, or NULL */
	uint32_t serial_offset;	     /* added to its serial: meta "serial_offset" (node_cut) */
	uint64_t zone_gen;	     /* bumped when the log went back: zones made before are void */
	struct zone_delta **journal; /* versions made since the publisher last took them */
	size_t njournal;
	int journal_gap;	 /* a version was built whole since: the history starts anew */
	struct dns_key ksk, zsk; /* the zone's keys (DIR/ksk.key, DIR/zsk.key) */
	struct dnsd *dnsd;	 /* the DNS server the publisher feeds, or NULL */
	pthread_t publisher;	 /* rebuilds the zone when the durable log or the day moves */
	int publishing;		 /* publisher running */

	/* Readers that show the state of the in-memory ledger wait until it is durable, so
	 * that nothing served is ahead of the checkpoint. */
	pthread_mutex_t dur_mu;	 /* guards durable */
	pthread_cond_t dur_cond; /* broadcast when durable grows or the node stops */
	uint64_t durable;	 /* copy of pub_size readable without the node lock */
};

/* node.c: proposals, decided under the exclusive lock as requests (one or a batch) change
 * them and as the timer sweeps them. */
void node_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void node_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void node_rdlock(struct node *n);
void node_wrlock(struct node *n);
void node_unlock(struct node *n);
/* The time written into entries: the clock, but never before the last entry. Under the lock. */
int64_t node_now(const struct node *n);
/* Whether id is a proposal id (PROPOSAL_ID_LEN lower-case hex digits). */
int node_id_valid(const char *id);
/* Appends the text an objection to proposal id signs. */
int node_objection_text(struct cbuf *out, const char *origin, const char *id);
/* enum prop_status, as docs/api.md and the store spell it. */
extern const char *const node_prop_status_name[PS_COUNT];
/* A proposal's memory: freed at once (np not shared), or by its last reference. */
void node_prop_free(struct node_prop *np);
struct node_prop *node_prop_ref(struct node_prop *np);
void node_prop_unref(struct node_prop *np);
/* Inserts s into *v, sorted by member id, replacing that member's earlier one: 1 when added
 * or replaced, 0 when already there, CC_ENOMEM. */
int node_vsig_merge(const struct ledger *l, struct node_vsig **v, size_t *n,
		    const struct node_vsig *s);
/* Evaluates np at now with its signatures and objections that still hold. Read-only. */
int node_prop_evaluate(const struct node *n, const struct node_prop *np, int64_t now,
		       struct ledger_verdict *v, struct cc_err *e);
/* Counts np in its proposer's pending share (node->pend_by), or no more. Exclusive lock. */
void node_pend_tally(struct node *n, struct node_prop *np);
void node_pend_untally(struct node *n, struct node_prop *np);
void batch_init(struct node_batch *b, uint64_t first);
void batch_free(struct node_batch *b);
/* Queues an entry the ledger took (taking entry), under the exclusive lock. */
void node_batch_entry(struct node *n, struct cbuf *entry);
/* Registers w (may be NULL) for the batch being filled and wakes the committer. */
void node_batch_wait(struct node *n, struct node_waiter *w);
/* Copies the member keys again after the registry changed, under the exclusive lock. */
void node_keys_refresh(struct node *n);
/* The timer (committer thread, exclusive lock): expires pending proposals and decides again
 * those that the state, the keys or the clock may have changed. */
void node_sweep(struct node *n);

/* finals.c: the index of decided proposals no longer in memory (struct node_finals). */
/* A lower-case hex id to binary; -1 when it is not one. */
int node_id_bin(const char *hex, unsigned char out[32]);
/* The FINAL_* value of id, FINAL_FREE when it is not a decided proposal. */
int64_t node_finals_get(const struct node_finals *f, const char *hex);
int node_finals_put(struct node_finals *f, const char *hex, int64_t v);
/* The FINAL_* value of a proposal decided with status (at log index idx when accepted). */
int64_t node_final_value(int status, int64_t idx);
/* Indexes the proposal the ledger l logged last, at idx (nothing after a genesis or chunk). */
int node_finals_logged(struct node_finals *f, const struct ledger *l, uint64_t idx);
/* Indexes the proposal of the entry the ledger applied last, at log index idx, as accepted
 * (nothing for the genesis or a chunk): accepted proposals are read from the log. Under the
 * exclusive lock. */
void node_index_logged(struct node *n, uint64_t idx);

/* propjson.c: a proposal as JSON. */
/* Appends np as docs/api.md's proposal object; v is its current verdict when pending (or
 * NULL: needs are then empty). */
int node_prop_json(const struct node_prop *np, const struct ledger_verdict *v, struct cbuf *out);

/* proprow.c: a proposal's stored row, both ways. */
/* np as a row of the store (store_proposal_free frees it). */
int node_prop_row(const struct node *n, const struct node_prop *np, struct store_proposal *row);
/* Builds an in-memory proposal from a stored row; with verify, keeps only the signatures
 * that still verify against the member registry. */
int node_prop_from_row(const struct node *n, const struct store_proposal *row, int verify,
		       struct node_prop **out, struct cc_err *e);

/* commit.c: the committer and the checkpointer (node_start, node_stop), and the waits for
 * what they make durable or final. */
/* Wakes the requests whose change is now final (all of them when stopping or after
 * NODE_FINAL_WAIT_SEC). Any thread, with or without the lock. */
void node_final_wake(struct node *n, int all);
/* Waits up to ms milliseconds for the durable log to grow past size; its size then. */
uint64_t node_wait_growth(struct node *n, uint64_t size, long ms);
/* Waits until the durable log holds size entries; CC_EIO when the node stops first. */
int node_wait_durable(struct node *n, uint64_t size);

/* open.c: node_open, node_close: the log replayed and checked, the proposals reloaded. */
struct node_replay {		    /* state of the startup replay */
	struct node *n;		    /* the node */
	struct cc_err *e;	    /* where to report */
	struct node_finals *finals; /* decided proposals go there (NULL: n->finals) */
};
/* A store_proposal_finals callback (ctx: a struct node_replay): indexes one decided
 * proposal. */
int node_reload_final(void *ctx, const char *id, const char *status, int64_t idx);

/* cut.c: the log cut back when the network's log went another way. */
/* A follower whose entries beyond its checkpoint turned out not to be the sequencer's log
 * (a failover appended elsewhere): drops them, from disk and memory, back to the checkpoint.
 * With follow_mu held. */
int node_cut_back(struct node *n, struct cc_err *e);
/* A node whose checkpointed entries a failover left behind (the new sequencer took a log
 * without them): drops every entry beyond the last final checkpoint, which it holds again,
 * and hands the proposals of the dropped entries to the sequencer through the outbox. Final
 * entries are never dropped. With follow_mu held. */
int node_cut_to_final(struct node *n, struct cc_err *e);

/* handon.c: pending proposals handed on to the sequencer. */
/* A node that does not decide proposals (it follows a sequencer) hands the pending ones it
 * holds (it decided before a failover) to the sequencer: each goes to the outbox in s with
 * its approvals and objections, and leaves this node. 1 when some went, 0 when none. */
int node_hand_on(struct node *n, struct store *s, struct cc_err *e);

/* role.c: who sequences, and the network's nodes. */
/* Whether the node takes its entries from a sequencer: the network names one, and it is
 * another member's node. Under the lock. */
int node_follows(const struct node *n);
/* Whether this node decides proposals now: it is the sequencer the log names, or the
 * network names none. Under the lock. */
int node_decides(const struct node *n);
/* Whether p is the failover note that names this node, which it appends before it decides
 * anything else. Under the lock. */
int node_takeover_note(const struct node *n, const struct proposal *p);
/* Member id's node key under the origin's name, as checkpoints carry it. Under the lock. */
int node_key_of(const struct node *n, const char *id, struct note_key *k);
/* Under the exclusive lock, after the state or a failover changed who sequences. */
void node_role_update(struct node *n);
/* The sequencer's checkpoint key (its node key under the origin's name). Under the lock. */
int node_sequencer_key(const struct node *n, struct note_key *k);
/* The network's nodes: how many, and the slot-th other than this one (1 with its id and
 * URL; 0 past the end, or, unless any, when this node is not the sequencer). */
size_t node_count(struct node *n);
int node_other(struct node *n, int slot, int any, char id[MEMBER_ID_MAX + 1],
	       char url[NODE_URL_MAX + 1]);
/* 1 with the URL of member id's node, 0 when the network lists none. */
int node_url_of(struct node *n, const char *id, char url[NODE_URL_MAX + 1]);
/* 1 when a failover named this node and the log does not hold it yet (self gets the id). */
int node_failover_pending_self(struct node *n, char self[MEMBER_ID_MAX + 1]);
/* The network's other nodes as the state lists them now, in one look: a malloc'd array of
 * *count (NULL when none or out of memory). */
struct node_peer {
	char id[MEMBER_ID_MAX + 1];
	char url[NODE_URL_MAX + 1];
};
struct node_peer *node_others(struct node *n, size_t *count);
/* On the sequencer the log names, once a failover note named another: waits until every
 * entry it sequenced is durable and its checkpoint published (role.c). */
void node_settle_deposed(struct node *n);
/* How many nodes, this one among them, must have given their log to the node a failover
 * named before it appends the note (role.c); nodes gets the network's count. */
size_t node_takeover_need(struct node *n, size_t *nodes);

/* After proposal rows changed on disk (pending listings' ETag): any thread, no lock. */
void node_rows_changed(struct node *n);

/* reads.c: the answers to reads (the rest is in node.h). */
/* Whether an alarm was raised (this node follows no sequencer any more). */
int node_alarmed(struct node *n);
/* Whether the last final checkpoint known here is older than the log held. */
int node_final_behind(struct node *n);

/* publish.c: the zone, both under zone_mu: the journal of versions not yet handed to the
 * DNS server dropped; the zone forgotten, so that the next one is built whole (the log went
 * back). */
void node_journal_clear(struct node *n);
void node_zone_forget(struct node *n);

#endif
