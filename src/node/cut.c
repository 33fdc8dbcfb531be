/* Cutting the log back when the network's log went another way: a follower drops what lies
 * beyond its checkpoint, a deposed sequencer what lies beyond the last final checkpoint. */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/ledger.h"
#include "core/merkle.h"
#include "node/conf.h"
#include "node/node_impl.h"
#include "node/store.h"
#include "node/witness.h"

struct rebuild {		    /* a replay into new state */
	struct ledger *l;	    /* the ledger */
	struct merkle_tree *t;	    /* its tree */
	struct node_finals *finals; /* its accepted proposals */
};

static int rebuild_entry(void *ctx, uint64_t idx, const unsigned char *data, size_t len)
{
	struct rebuild *rb = ctx;
	unsigned char leaf[MERKLE_HASH];

	if (ledger_apply_entry(rb->l, data, len, 0, NULL) < 0)
		return CC_ECONFLICT;
	merkle_leaf_hash(data, len, leaf);
	return merkle_tree_append(rb->t, leaf) < 0 || node_finals_logged(rb->finals, rb->l, idx) < 0
		   ? CC_ENOMEM
		   : 0;
}

/* The dropped entries' proposals, handed to the sequencer again through the outbox: a change
 * that never became final is not lost with the branch it was on, the sequencer judges it
 * anew. */
struct resubmit {
	struct store *s;  /* the transaction */
	int64_t now;	  /* when */
	size_t count;	  /* proposals queued */
	struct cc_err *e; /* where to report */
};

static int resubmit_entry(void *ctx, uint64_t idx, const unsigned char *data, size_t len)
{
	struct resubmit *rs = ctx;
	int64_t t;
	size_t h;

	(void)idx;
	if (ledger_proposal_entry(data, len, &t, &h) < 0)
		return 0; /* the genesis or a chunk: nothing to hand on */
	rs->count++;
	return store_outbox_put(rs->s, "/v1/proposals", data + h, len - h, rs->now, rs->e);
}

/* Drops the entries beyond keep, from disk and memory; to_final: keep is the last final
 * checkpoint's size, which becomes the checkpoint held. With follow_mu held. */
static int node_cut(struct node *n, int to_final, struct cc_err *e)
{
	struct merkle_tree tree, old_tree;
	struct node_finals finals = {0};
	struct rebuild rb = {NULL, &tree, &finals};
	struct resubmit rs = {NULL, (int64_t)time(NULL), 0, e};
	struct node_replay rp = {n, e, &finals};
	struct ledger *old;
	struct store *s = NULL;
	char path[CONF_PATH_MAX], *ck = NULL, num[16];
	uint64_t keep, had, served;
	uint32_t offset;
	int ret, settled = 0, open = 0, zlocked = 0;

	merkle_tree_init(&tree);
	/* Everything taken so far committed first: the store is then exactly what memory is. */
	for (int i = 0; i < 600 && !settled && !node_stopping(n); i++) {
		node_wrlock(n);
		settled = n->batch.nentries == 0 && n->seq_done == n->seq;
		if (!settled)
			node_batch_wait(n, NULL);
		node_unlock(n);
		if (!settled)
			node_wait_growth(n, UINT64_MAX, 100);
	}
	if (!settled)
		return cc_fail(e, CC_EIO, "the committer did not settle");
	node_rdlock(n);
	had = ledger_size(n->ledger);
	keep = to_final ? n->final_size : n->pub_size;
	ret = to_final && n->final_ck == NULL ? CC_ENOENT : 0;
	if (to_final && ret == 0 && (ck = strdup(n->final_ck)) == NULL)
		ret = CC_ENOMEM;
	node_unlock(n);
	if (ret < 0) {
		cc_fail(e, ret, ret == CC_ENOENT ? "no checkpoint is final" : "out of memory");
		goto out;
	}
	if ((rb.l = ledger_new()) == NULL) {
		ret = cc_fail(e, CC_ENOMEM, "out of memory");
		goto out;
	}
	if ((ret = conf_path(path, n->dir, CONF_DB_FILE, e)) < 0 ||
	    (ret = store_open(&s, path, 0, e)) < 0)
		goto out;
	/* The entries kept do not change: replayed with no transaction open, which would keep
	 * the committer from writing meanwhile. */
	if ((ret = store_entries(s, 0, keep, rebuild_entry, &rb, e)) < 0) {
		cc_fail(e, ret, "the log held does not replay");
		goto out;
	}
	/* The zone lock before the transaction (a zone being signed holds it a moment; the
	 * committer waits for the transaction), and before the node lock (its order): held
	 * until the node has the shorter log and the new serial offset, the last zone
	 * forgotten. */
	pthread_mutex_lock(&n->zone_mu);
	zlocked = 1;
	if ((ret = store_begin(s, e)) < 0)
		goto out;
	open = 1;
	rs.s = s;
	/* One transaction: the log, its checkpoint, the proposals it accepted and what goes to
	 * the sequencer again change together or not at all. */
	if (to_final && ((ret = store_entries(s, keep, had - keep, resubmit_entry, &rs, e)) < 0 ||
			 (ret = store_meta_put(s, "checkpoint", ck, e)) < 0 ||
			 (ret = store_proposals_cut(s, keep, e)) < 0))
		goto out;
	if ((ret = store_proposal_finals(s, node_reload_final, &rp, e)) < 0)
		goto out;
	if ((ret = store_entries_cut(s, keep, e)) < 0)
		goto out;
	/* A zone may have shown the durable entries dropped (only durable ones are served),
	 * under serials that must not come again with other content: the serials go on from
	 * above them (docs/format.md). */
	pthread_mutex_lock(&n->dur_mu);
	served = n->durable;
	pthread_mutex_unlock(&n->dur_mu);
	offset = n->serial_offset + (served > keep ? (uint32_t)(served - keep) + 1 : 0);
	snprintf(num, sizeof(num), "%" PRIu32, offset);
	if (offset != n->serial_offset && (ret = store_meta_put(s, "serial_offset", num, e)) < 0)
		goto out;
	node_wrlock(n);
	/* Nothing may have moved since it was read: a checkpoint that became final meanwhile
	 * (a late cosignature) is not dropped. */
	if (ledger_size(n->ledger) != had || n->batch.nentries != 0 ||
	    keep != (to_final ? n->final_size : n->pub_size)) {
		node_unlock(n);
		ret = cc_fail(e, CC_EIO, "the log moved while it was cut back: taken again later");
		goto out;
	}
	if ((ret = store_commit(s, e)) < 0) {
		node_unlock(n);
		goto out;
	}
	open = 0;
	node_rows_changed(n);
	n->serial_offset = offset;
	old = n->ledger;
	old_tree = n->tree;
	n->ledger = rb.l;
	n->tree = tree;
	rb.l = NULL;
	merkle_tree_init(&tree);
	/* settled: no entries queued; readers waiting in it stay */
	n->batch.first = keep;
	n->batch.followed = 0;
	free(n->batch.checkpoint);
	n->batch.checkpoint = NULL;
	/* checkpoints of the dropped entries, kept for late cosignatures, are gone with them */
	witness_forget_recent(n);
	/* the accepted proposals of the dropped entries are asked for again */
	free(n->finals.v);
	n->finals = finals;
	memset(&finals, 0, sizeof(finals));
	if (to_final) {
		free(n->checkpoint);
		n->checkpoint = ck;
		ck = NULL;
		n->pub_size = keep;
		pthread_mutex_lock(&n->dur_mu);
		n->durable = keep;
		pthread_cond_broadcast(&n->dur_cond);
		pthread_mutex_unlock(&n->dur_mu);
	}
	node_keys_refresh(n);
	node_role_update(n);
	node_unlock(n);
	/* the zone may have shown the dropped entries: the next one is built whole, and none
	 * made before is served */
	node_zone_forget(n);
	pthread_mutex_unlock(&n->zone_mu);
	zlocked = 0;
	ledger_free(old);
	merkle_tree_free(&old_tree);
	if (to_final)
		node_log("dropped %" PRIu64
			 " entries beyond the last final checkpoint (size %" PRIu64
			 "): they never became final and the network's log went another way; %zu "
			 "proposals of theirs handed to the sequencer again",
			 had - keep, keep, rs.count);
	else
		node_log("dropped the entries beyond the checkpoint (size %" PRIu64
			 "): the sequencer's log went another way",
			 keep);
out:
	if (open)
		store_rollback(s);
	if (zlocked)
		pthread_mutex_unlock(&n->zone_mu);
	store_close(s);
	ledger_free(rb.l);
	merkle_tree_free(&tree);
	free(finals.v);
	free(ck);
	return ret;
}

int node_cut_back(struct node *n, struct cc_err *e)
{
	return node_cut(n, 0, e);
}

int node_cut_to_final(struct node *n, struct cc_err *e)
{
	return node_cut(n, 1, e);
}
