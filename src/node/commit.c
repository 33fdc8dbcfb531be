/* The committer thread (group commit: one transaction and one signed checkpoint per batch),
 * the WAL checkpointer beside it, and the waits of requests for what they make durable or
 * final. Apart from node.c, which only queues changes for them. */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/ledger.h"
#include "core/map.h"
#include "core/merkle.h"
#include "core/note.h"
#include "core/tlog.h"
#include "node/node_impl.h"
#include "node/store.h"
#include "node/witness.h"

#define NODE_TICK_SEC	 1     /* timer period: expiries and consultation periods */
#define NODE_CKPT_FRAMES 16384 /* WAL frames (pages) that start a background checkpoint */
/* On the sequencer of several nodes a change is answered once a witness quorum holds it
 * (final), so that no answered change can be lost with the sequencer; if the witnesses do
 * not answer, it is answered anyway after this long (its record then says "final": false). */
#define NODE_FINAL_WAIT_SEC 10

/* Writes the queued log lines in one go (committer thread, or node_stop). */
static void log_flush(struct node *n)
{
	struct cbuf q;
	size_t off = 0;

	pthread_mutex_lock(&n->q_mu);
	q = n->logq;
	memset(&n->logq, 0, sizeof(n->logq));
	pthread_mutex_unlock(&n->q_mu);
	while (off < q.len) {
		ssize_t k = write(STDERR_FILENO, q.p + off, q.len - off);

		if (k <= 0)
			break;
		off += (size_t)k;
	}
	cbuf_free(&q);
}

static void mono_now(struct timespec *ts)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
}

static int ts_after(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec > b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec >= b->tv_nsec);
}

/* Writes one batch in one transaction, publishes its checkpoint, wakes its waiters. */
static void node_commit(struct node *n, struct node_batch *b, uint64_t seq, uint64_t size,
			const unsigned char root[MERKLE_HASH])
{
	struct cbuf text = CBUF_INIT, ck = CBUF_INIT;
	struct cc_err e = {0};
	struct note_sig sig;
	struct node_waiter *w, *next;
	struct node_prop **gone = NULL;
	size_t ngone = 0;
	int ret = 0, hold = 0;

	if (b->checkpoint) {
		/* Following: the sequencer's own signed checkpoint, checked by follow.c. */
		if (cbuf_puts(&ck, b->checkpoint) < 0)
			node_fatal("out of memory");
	} else if (b->nentries && !b->followed) {
		if (tlog_checkpoint_text(&text, n->origin, size, root) < 0 ||
		    note_sign(&n->key, text.p, text.len, &sig) < 0 ||
		    note_format(text.p, text.len, &sig, 1, &ck) < 0 || witness_self(n, &ck) < 0)
			node_fatal("cannot sign the checkpoint for size %" PRIu64, size);
	}
	if (b->nentries || b->nrows || ck.len || b->final) {
		ret = store_begin(n->wr, &e);
		for (size_t i = 0; ret == 0 && i < b->nentries; i++)
			ret = store_entry_put(n->wr, b->first + i, b->entries[i].p,
					      b->entries[i].len, &e);
		for (size_t i = 0; ret == 0 && i < b->nrows; i++) {
			struct store_proposal row;

			if (b->rows[i].np == NULL) {
				ret = store_proposal_put(n->wr, &b->rows[i].row, &e);
				continue;
			}
			if (b->rows[i].np->whole_in_log) {
				/* read from its entry from now on */
				ret = store_proposal_forget_pending(n->wr, b->rows[i].np->p.id, &e);
				continue;
			}
			/* A final proposal: its row is built here, off the lock. */
			if (node_prop_row(n, b->rows[i].np, &row) < 0)
				node_fatal("out of memory writing a proposal");
			ret = store_proposal_put(n->wr, &row, &e);
			store_proposal_free(&row);
		}
		if (ret == 0 && ck.len)
			ret = store_meta_put(n->wr, "checkpoint", ck.p, &e);
		if (ret == 0 && b->final)
			ret = store_meta_put(n->wr, "final", b->final, &e);
		if (ret == 0)
			ret = store_commit(n->wr, &e);
		if (ret < 0)
			node_fatal("commit of log entries %" PRIu64 "..%" PRIu64 " failed: %s",
				   b->first, size, e.msg);
		if (b->nrows)
			node_rows_changed(n);
	}
	node_wrlock(n);
	if (ck.len) {
		free(n->checkpoint);
		n->checkpoint = cbuf_take(&ck);
		n->pub_size = size;
		if (!b->followed && !b->checkpoint)
			witness_recent(n, size, n->checkpoint);
		witness_finality(n);
		hold = !b->followed && ledger_witness_need(n->ledger) > 0;
		pthread_mutex_lock(&n->dur_mu);
		n->durable = size;
		pthread_cond_broadcast(&n->dur_cond);
		pthread_mutex_unlock(&n->dur_mu);
	}
	/* Final statuses are durable now: those proposals are served from the store. Collect
	 * first: deleting from the map moves its slots. */
	if (n->props.n > 0 && (gone = calloc(n->props.n, sizeof(*gone))) == NULL)
		node_fatal("out of memory");
	for (size_t i = 0; i < n->props.cap; i++) {
		struct node_prop *np = n->props.slot[i].key ? n->props.slot[i].val : NULL;

		if (np && np->status != PS_PENDING && np->final_seq <= seq)
			gone[ngone++] = np;
	}
	for (size_t i = 0; i < ngone; i++) {
		if (node_finals_put(&n->finals, gone[i]->p.id,
				    node_final_value(gone[i]->status, gone[i]->idx)) < 0)
			node_fatal("out of memory");
		map_del(&n->props, gone[i]->p.id);
		node_prop_unref(gone[i]);
	}
	free(gone);
	node_unlock(n);
	pthread_mutex_lock(&n->q_mu);
	w = b->head;
	b->head = NULL;
	pthread_mutex_unlock(&n->q_mu);
	if (hold) {
		/* answered once final: held, in order, until the witnesses have cosigned */
		int64_t now = (int64_t)time(NULL);

		struct node_waiter *keep = NULL;

		pthread_mutex_lock(&n->fin_mu);
		for (; w; w = next) {
			next = w->next;
			if (w->durable_only) { /* answered below, with the others */
				w->next = keep;
				keep = w;
				continue;
			}
			w->final_at = size;
			w->since = now;
			w->next = n->fin_head;
			n->fin_head = w;
		}
		pthread_mutex_unlock(&n->fin_mu);
		node_final_wake(n, 0);
		w = keep;
	}
	for (; w; w = next) {
		next = w->next;
		w->done(w);
	}
	log_flush(n);
	cbuf_free(&text);
	cbuf_free(&ck);
	node_wrlock(n);
	n->seq_done = seq;
	node_unlock(n);
	pthread_mutex_lock(&n->dur_mu);
	pthread_cond_broadcast(&n->dur_cond);
	pthread_mutex_unlock(&n->dur_mu);
}

/* The checkpointer: copies the WAL into the database when the committer asks, off the commit
 * path (a PASSIVE checkpoint runs alongside the commits). */
static void *node_checkpointer(void *arg)
{
	struct node *n = arg;

	pthread_mutex_lock(&n->ck_mu);
	for (;;) {
		struct cc_err e = {0};
		int ret;

		while (!n->ck_run && !n->ck_stop)
			pthread_cond_wait(&n->ck_cond, &n->ck_mu);
		if (n->ck_stop)
			break;
		pthread_mutex_unlock(&n->ck_mu);
		ret = store_checkpoint(n->ck, NULL, NULL, &e);
		if (ret < 0 && ret != CC_EEXIST)
			node_log("warning: %s", e.msg);
		pthread_mutex_lock(&n->ck_mu);
		n->ck_run = 0;
		n->ck_done = 1;
	}
	pthread_mutex_unlock(&n->ck_mu);
	return NULL;
}

/* After a commit: asks for a background checkpoint once the WAL is long; once one has run,
 * copies the few frames committed since (the WAL then starts over at the next commit,
 * instead of growing while commits keep coming). */
static void node_after_commit(struct node *n)
{
	struct cc_err e = {0};
	int frames = store_wal_frames(n->wr), here = 0, ret;

	if (!n->ck_started) {
		here = frames >= NODE_CKPT_FRAMES;
	} else {
		pthread_mutex_lock(&n->ck_mu);
		if (n->ck_done) {
			n->ck_done = 0;
			here = 1;
		} else if (!n->ck_run && frames >= NODE_CKPT_FRAMES) {
			n->ck_run = 1;
			pthread_cond_signal(&n->ck_cond);
		}
		pthread_mutex_unlock(&n->ck_mu);
	}
	if (here && (ret = store_checkpoint(n->wr, NULL, NULL, &e)) < 0 && ret != CC_EEXIST)
		node_log("warning: %s", e.msg);
}

static void *node_committer(void *arg)
{
	struct node *n = arg;
	struct timespec tick, now;
	int stop = 0;

	mono_now(&tick);
	tick.tv_sec += NODE_TICK_SEC;
	while (!stop) {
		struct node_batch b;
		unsigned char root[MERKLE_HASH];
		uint64_t seq, size;
		int empty;

		pthread_mutex_lock(&n->q_mu);
		for (;;) {
			mono_now(&now);
			if (n->q_kick || n->q_stop || ts_after(&now, &tick))
				break;
			pthread_cond_timedwait(&n->q_cond, &n->q_mu, &tick);
		}
		if (n->q_kick && n->q_linger) {
			struct timespec until = now;

			until.tv_nsec += NODE_LINGER_US * 1000L;
			if (until.tv_nsec >= 1000000000L) {
				until.tv_sec++;
				until.tv_nsec -= 1000000000L;
			}
			while (!n->q_stop && n->q_nwait < NODE_BATCH_FULL &&
			       pthread_cond_timedwait(&n->q_cond, &n->q_mu, &until) == 0)
				;
		}
		n->q_kick = 0;
		n->q_nwait = 0;
		stop = n->q_stop;
		pthread_mutex_unlock(&n->q_mu);

		node_wrlock(n);
		mono_now(&now);
		if (!stop && ts_after(&now, &tick)) {
			node_sweep(n);
			tick = now;
			tick.tv_sec += NODE_TICK_SEC;
		}
		size = ledger_size(n->ledger);
		if (merkle_tree_root(&n->tree, size, root) < 0)
			node_fatal("cannot compute the tree root");
		/* Take the batch; waiters move with it under q_mu. */
		pthread_mutex_lock(&n->q_mu);
		b = n->batch;
		if (b.head == NULL)
			b.tail = &b.head;
		batch_init(&n->batch, size);
		pthread_mutex_unlock(&n->q_mu);
		seq = ++n->seq;
		/* nothing to write: done as taken (node_cut waits for seq_done to reach seq) */
		empty = !(b.nentries || b.nrows || b.head || b.checkpoint || b.final);
		if (empty)
			n->seq_done = seq;
		node_unlock(n);
		node_final_wake(n, 0);
		if (b.first + b.nentries != size)
			node_fatal("batch holds entries %" PRIu64 "+%zu, the tree has %" PRIu64,
				   b.first, b.nentries, size);
		if (!empty)
			node_commit(n, &b, seq, size, root);
		if (b.nentries || b.nrows)
			node_after_commit(n);
		pthread_mutex_lock(&n->q_mu);
		n->q_linger = b.nentries + b.nrows >= NODE_LINGER_MIN;
		pthread_mutex_unlock(&n->q_mu);
		batch_free(&b);
	}
	return NULL;
}

int node_start(struct node *n, struct cc_err *e)
{
	/* Without a checkpointer the committer checkpoints itself (node_after_commit). */
	if (n->ck && pthread_create(&n->ckpt, NULL, node_checkpointer, n) == 0)
		n->ck_started = 1;
	if (pthread_create(&n->committer, NULL, node_committer, n) != 0)
		return cc_fail(e, CC_EIO, "cannot start the committer thread");
	n->started = 1;
	return 0;
}

void node_stop(struct node *n)
{
	struct node_waiter *w, *next;

	node_wrlock(n);
	n->stopping = 1;
	node_unlock(n);
	if (n->started) {
		pthread_mutex_lock(&n->q_mu);
		n->q_stop = 1;
		pthread_cond_signal(&n->q_cond);
		pthread_mutex_unlock(&n->q_mu);
		pthread_join(n->committer, NULL);
		n->started = 0;
	}
	if (n->ck_started) {
		pthread_mutex_lock(&n->ck_mu);
		n->ck_stop = 1;
		pthread_cond_signal(&n->ck_cond);
		pthread_mutex_unlock(&n->ck_mu);
		pthread_join(n->ckpt, NULL);
		n->ck_started = 0;
	}
	node_final_wake(n, 1);
	/* Nothing can be queued any more; wake anyone left (only without a committer), and
	 * anyone who registers later at once (batch_wait_after). */
	pthread_mutex_lock(&n->q_mu);
	n->q_done = 1;
	w = n->batch.head;
	n->batch.head = NULL;
	n->batch.tail = &n->batch.head;
	pthread_mutex_unlock(&n->q_mu);
	for (; w; w = next) {
		next = w->next;
		w->done(w);
	}
	if (n->publishing) {
		pthread_mutex_lock(&n->dur_mu);
		pthread_cond_broadcast(&n->dur_cond);
		pthread_mutex_unlock(&n->dur_mu);
		pthread_join(n->publisher, NULL);
		n->publishing = 0;
	}
	log_flush(n);
}

void node_final_wake(struct node *n, int all)
{
	uint64_t final = atomic_load(&n->final_known);
	int64_t old = (int64_t)time(NULL) - NODE_FINAL_WAIT_SEC;
	struct node_waiter *ready = NULL, **pp, *w, *next;

	pthread_mutex_lock(&n->fin_mu);
	for (pp = &n->fin_head; (w = *pp) != NULL;) {
		if (all || w->final_at <= final || w->since <= old) {
			*pp = w->next;
			w->next = ready;
			ready = w;
		} else {
			pp = &w->next;
		}
	}
	pthread_mutex_unlock(&n->fin_mu);
	for (w = ready; w; w = next) {
		next = w->next;
		w->done(w);
	}
}

/* Waits until the first size entries are durable; CC_EIO if the node stops first (what is
 * queued is committed on stop, so that only happens after a failed commit). */
uint64_t node_wait_growth(struct node *n, uint64_t size, long ms)
{
	struct timespec until;
	uint64_t now;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&n->dur_mu);
	while (n->durable <= size && pthread_cond_timedwait(&n->dur_cond, &n->dur_mu, &until) == 0)
		;
	now = n->durable;
	pthread_mutex_unlock(&n->dur_mu);
	return now;
}

int node_wait_durable(struct node *n, uint64_t size)
{
	int ret = 0;

	pthread_mutex_lock(&n->dur_mu);
	while (n->durable < size) {
		struct timespec until;

		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += 1;
		if (pthread_cond_timedwait(&n->dur_cond, &n->dur_mu, &until) != 0 &&
		    node_stopping(n) && n->durable < size) {
			ret = CC_EIO;
			break;
		}
	}
	pthread_mutex_unlock(&n->dur_mu);
	return ret;
}
