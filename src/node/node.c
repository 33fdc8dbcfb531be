/* Proposals: merged, decided and kept pending under the exclusive lock, as requests (one note
 * or a batch) change them and as the timer sweeps them. The rest of the node (committing,
 * opening, reading, ...) is in the files beside this one, listed in node_impl.h. */
#include "node/node.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/ledger.h"
#include "core/map.h"
#include "core/merkle.h"
#include "core/note.h"
#include "core/proposal.h"
#include "core/tfmt.h"
#include "node/node_impl.h"
#include "node/store.h"

/* What one member may keep waiting for approvals: pending proposals live in memory and in the
 * store until decided or expired, and their expiry has no bound, so each proposer's share is
 * bounded instead. A proposal accepted at once takes none. */
#define NODE_PENDING_PER_MEMBER 1000
#define NODE_PENDING_BYTES	(16u << 20) /* of proposal bodies, per member */

const char *const node_prop_status_name[PS_COUNT] = {"pending", "accepted", "rejected", "expired"};

/* ---- small helpers ---- */

/* Memory is ahead of the disk and cannot be made to agree: stop; a restart replays the disk. */
void node_fatal(const char *fmt, ...)
{
	va_list ap;

	fputs("concordd: fatal: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	_exit(1);
}

void node_log(const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* One write per line so lines from several threads do not interleave. */
	fprintf(stderr, "concordd: %s\n", line);
}

void node_rdlock(struct node *n)
{
	pthread_rwlock_rdlock(&n->lock);
}

void node_wrlock(struct node *n)
{
	pthread_rwlock_wrlock(&n->lock);
}

void node_unlock(struct node *n)
{
	pthread_rwlock_unlock(&n->lock);
}

/* The time written into entries: the clock, but never before the last entry. */
int64_t node_now(const struct node *n)
{
	int64_t now = (int64_t)time(NULL), last = ledger_time(n->ledger);

	return now > last ? now : last;
}

int node_id_valid(const char *id)
{
	size_t i;

	for (i = 0; id[i]; i++)
		if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
			return 0;
	return i == PROPOSAL_ID_LEN;
}

int node_objection_text(struct cbuf *out, const char *origin, const char *id)
{
	return cbuf_printf(out, "concord objection v1\norigin %s\nproposal %s\n", origin, id);
}

static int reply_fail(struct node_reply *r, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int reply_fail(struct node_reply *r, int code, const char *fmt, ...)
{
	va_list ap;

	r->status = code;
	r->err.code = code;
	va_start(ap, fmt);
	vsnprintf(r->err.msg, sizeof(r->err.msg), fmt, ap);
	va_end(ap);
	return 0;
}

/* Ends a change that fails with the code already in r->err. */
static int reply_err(struct node_reply *r, const char *what)
{
	if (r->err.code == 0)
		r->err.code = CC_EIO;
	r->status = r->err.code;
	if (r->err.msg[0] == '\0')
		snprintf(r->err.msg, sizeof(r->err.msg), "%s", cc_strerror(r->err.code));
	node_log("refused %s: %s: %s", what, cc_strerror(r->err.code), r->err.msg);
	return 0;
}

void node_reply_free(struct node_reply *r)
{
	cbuf_free(&r->body);
}

/* ---- proposals in memory ---- */

void node_prop_free(struct node_prop *np)
{
	if (np == NULL)
		return;
	proposal_free(&np->p);
	free(np->sigs);
	free(np->objs);
	free(np->reason);
	free(np);
}

struct node_prop *node_prop_ref(struct node_prop *np)
{
	atomic_fetch_add_explicit(&np->refs, 1, memory_order_relaxed);
	return np;
}

/* Drops one reference; the last one frees. */
void node_prop_unref(struct node_prop *np)
{
	if (np && atomic_fetch_sub_explicit(&np->refs, 1, memory_order_acq_rel) == 1)
		node_prop_free(np);
}

/* ---- the member keys, for signature checks ---- */

/* Copies the member keys after the registry changed (or at startup). Under the exclusive
 * lock, or before the node is shared. */
void node_keys_refresh(struct node *n)
{
	size_t count = ledger_member_count(n->ledger);
	struct note_key *v = malloc((count + 1) * sizeof(*v));

	if (v == NULL)
		node_fatal("out of memory copying the member keys");
	for (size_t i = 0; i < count; i++)
		v[i] = ledger_member_at(n->ledger, i)->key;
	pthread_mutex_lock(&n->keys_mu);
	free(n->keys);
	n->keys = v;
	n->nkeys = count;
	pthread_mutex_unlock(&n->keys_mu);
}

/* After np was accepted: the copy follows the registry when np wrote to it, and a node that
 * named another sequencer follows it from the next entry on. */
static void keys_follow(struct node *n, const struct node_prop *np)
{
	int refresh = 0;

	for (size_t i = 0; i < np->p.nops; i++) {
		refresh |= strncmp(np->p.ops[i].path, "member/", 7) == 0;
		if (strcmp(np->p.ops[i].path, "network/sequencer") == 0)
			node_role_update(n);
	}
	if (refresh)
		node_keys_refresh(n);
}

/* The current key of member id, copied into k: 0, or -1 when id is not a member. */
static int keys_get(struct node *n, const char *id, struct note_key *k)
{
	size_t lo = 0, hi;
	int ret = -1;

	pthread_mutex_lock(&n->keys_mu);
	hi = n->nkeys;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(n->keys[mid].name, id);

		if (c == 0) {
			*k = n->keys[mid];
			ret = 0;
			break;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	pthread_mutex_unlock(&n->keys_mu);
	return ret;
}

static int vsig_current(const struct ledger *l, const struct node_vsig *s)
{
	const struct ledger_member *m = ledger_member(l, s->sig.name);

	return m && m->key.id == s->key.id && memcmp(m->key.pub, s->key.pub, 32) == 0;
}

static const struct node_vsig *vsig_find(const struct node_vsig *v, size_t n, const char *id)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i].sig.name, id) == 0)
			return &v[i];
	return NULL;
}

/* Inserts s into the array sorted by member id, replacing that member's earlier one. Returns 1
 * when added or replaced, 0 when the same member's current signature was already there. */
int node_vsig_merge(const struct ledger *l, struct node_vsig **v, size_t *n,
		    const struct node_vsig *s)
{
	struct node_vsig *nv;
	size_t i;

	for (i = 0; i < *n; i++) {
		int c = strcmp((*v)[i].sig.name, s->sig.name);

		if (c == 0) {
			if (vsig_current(l, &(*v)[i]))
				return 0;
			(*v)[i] = *s; /* the member's key changed: the old one is worthless */
			return 1;
		}
		if (c > 0)
			break;
	}
	nv = realloc(*v, (*n + 1) * sizeof(*nv));
	if (nv == NULL)
		return CC_ENOMEM;
	memmove(&nv[i + 1], &nv[i], (*n - i) * sizeof(*nv));
	nv[i] = *s;
	*v = nv;
	(*n)++;
	return 1;
}

/* Drops signatures and objections whose key is no longer the member's; returns how many. */
static size_t prop_prune(const struct ledger *l, struct node_prop *np)
{
	size_t i, k, dropped = 0;

	for (i = k = 0; i < np->nsigs; i++)
		if (vsig_current(l, &np->sigs[i]))
			np->sigs[k++] = np->sigs[i];
	dropped += np->nsigs - k;
	np->nsigs = k;
	for (i = k = 0; i < np->nobjs; i++)
		if (vsig_current(l, &np->objs[i]))
			np->objs[k++] = np->objs[i];
	dropped += np->nobjs - k;
	np->nobjs = k;
	return dropped;
}

/* Evaluates np at now with its signatures and objections that still hold. Read-only. */
int node_prop_evaluate(const struct node *n, const struct node_prop *np, int64_t now,
		       struct ledger_verdict *v, struct cc_err *e)
{
	const char **names = NULL, **objs = NULL;
	size_t nn = 0, no = 0;
	int ret;

	names = calloc(np->nsigs + 1, sizeof(*names));
	objs = calloc(np->nobjs + 1, sizeof(*objs));
	if (names == NULL || objs == NULL) {
		ret = cc_fail(e, CC_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < np->nsigs; i++)
		if (vsig_current(n->ledger, &np->sigs[i]))
			names[nn++] = np->sigs[i].sig.name;
	for (size_t i = 0; i < np->nobjs; i++)
		if (vsig_current(n->ledger, &np->objs[i]))
			objs[no++] = np->objs[i].sig.name;
	ret = ledger_evaluate(n->ledger, &np->p, names, nn, objs, no, now, v, e);
out:
	free(names);
	free(objs);
	return ret;
}

/* ---- the batch ---- */

void batch_init(struct node_batch *b, uint64_t first)
{
	memset(b, 0, sizeof(*b));
	b->first = first;
	b->tail = &b->head;
}

void batch_free(struct node_batch *b)
{
	for (size_t i = 0; i < b->nentries; i++)
		cbuf_free(&b->entries[i]);
	free(b->entries);
	for (size_t i = 0; i < b->nrows; i++) {
		store_proposal_free(&b->rows[i].row);
		node_prop_unref(b->rows[i].np);
	}
	free(b->rows);
	free(b->checkpoint);
	free(b->final);
	batch_init(b, 0);
}

/* Queues a new entry (taking its buffer). Under the exclusive lock. */
void node_batch_entry(struct node *n, struct cbuf *entry)
{
	struct node_batch *b = &n->batch;

	if (b->nentries == b->capentries) {
		size_t cap = b->capentries ? 2 * b->capentries : 16;
		struct cbuf *v = realloc(b->entries, cap * sizeof(*v));

		if (v == NULL)
			node_fatal("out of memory queueing an entry");
		b->entries = v;
		b->capentries = cap;
	}
	b->entries[b->nentries++] = *entry;
	memset(entry, 0, sizeof(*entry));
}

/* Queues np's row: a snapshot of a pending proposal, a reference to a final one (whose row
 * the committer builds off the lock). An accepted proposal that its entry holds whole needs
 * none: only the pending row it may have is dropped. Under the exclusive lock. */
static void batch_row(struct node *n, struct node_prop *np)
{
	struct node_batch *b = &n->batch;
	struct node_row *r;

	if (np->whole_in_log && !np->row_kept)
		return;

	if (b->nrows == b->caprows) {
		size_t cap = b->caprows ? 2 * b->caprows : 16;
		struct node_row *v = realloc(b->rows, cap * sizeof(*v));

		if (v == NULL)
			node_fatal("out of memory queueing a proposal");
		b->rows = v;
		b->caprows = cap;
	}
	r = &b->rows[b->nrows];
	memset(r, 0, sizeof(*r));
	if (np->status != PS_PENDING)
		r->np = node_prop_ref(np);
	else if (node_prop_row(n, np, &r->row) < 0)
		node_fatal("out of memory queueing a proposal");
	np->row_kept = 1;
	b->nrows++;
}

/* Registers w for the batch being filled and wakes the committer. Under the lock (shared or
 * exclusive): the committer takes a batch only with the exclusive lock. */
void node_batch_wait(struct node *n, struct node_waiter *w)
{
	pthread_mutex_lock(&n->q_mu);
	if (w) {
		w->next = NULL;
		*n->batch.tail = w;
		n->batch.tail = &w->next;
	}
	n->q_kick = 1;
	pthread_cond_signal(&n->q_cond);
	pthread_mutex_unlock(&n->q_mu);
}

/* ---- decisions (under the exclusive lock) ---- */

struct pend_share {			  /* one proposer's pending proposals */
	char proposer[MEMBER_ID_MAX + 1]; /* its member id, the key in node->pend_by */
	size_t n;			  /* how many */
	size_t bytes;			  /* their bodies */
};

/* Counts np, pending from now on, in its proposer's share. */
void node_pend_tally(struct node *n, struct node_prop *np)
{
	struct pend_share *s = map_get(&n->pend_by, np->p.proposer);

	if (np->tallied)
		return;
	if (s == NULL) {
		if ((s = calloc(1, sizeof(*s))) == NULL)
			node_fatal("out of memory");
		str_copy(s->proposer, sizeof(s->proposer), np->p.proposer);
		if (map_put(&n->pend_by, s->proposer, s) < 0)
			node_fatal("out of memory");
	}
	s->n++;
	s->bytes += np->p.body_len;
	np->tallied = 1;
}

/* np is pending no more (decided, or handed to another node). */
void node_pend_untally(struct node *n, struct node_prop *np)
{
	struct pend_share *s = np->tallied ? map_get(&n->pend_by, np->p.proposer) : NULL;

	np->tallied = 0;
	if (s == NULL)
		return;
	s->n--;
	s->bytes -= np->p.body_len;
	if (s->n == 0)
		free(map_del(&n->pend_by, s->proposer));
}

/* CC_EQUOTA, with r saying why, when p's proposer cannot keep one more proposal pending. */
static int pend_full(const struct node *n, const struct proposal *p, struct node_reply *r)
{
	const struct pend_share *s = map_get(&n->pend_by, p->proposer);

	if (s == NULL ||
	    (s->n < NODE_PENDING_PER_MEMBER && s->bytes + p->body_len <= NODE_PENDING_BYTES))
		return 0;
	reply_fail(r, CC_EQUOTA,
		   "%s has %zu proposals waiting for approvals (%zu bytes; at most %d, %u bytes): "
		   "one must be decided or expire before another can wait",
		   p->proposer, s->n, s->bytes, NODE_PENDING_PER_MEMBER, NODE_PENDING_BYTES);
	return CC_EQUOTA;
}

/* Gives np a final status; it stays in memory until that is durable. */
static void prop_finish(struct node *n, struct node_prop *np, int status, const char *reason)
{
	np->status = status;
	node_pend_untally(n, np);
	free(np->reason);
	np->reason = reason ? strdup(reason) : NULL;
	np->final_seq = n->seq + 1;
	batch_row(n, np);
	if (status != PS_ACCEPTED) /* prop_decide says more */
		node_log("%s %.16s: %s", node_prop_status_name[status], np->p.id,
			 reason ? reason : "");
}

/* "expired at <time> with <needs> unmet", the needs as they stood at the last second. */
static void prop_expire(struct node *n, struct node_prop *np)
{
	struct cbuf why = CBUF_INIT;
	struct cc_err e = {0};
	char t[TFMT_LEN + 1];
	int first = 1;

	tfmt_format(np->p.expires, t);
	cbuf_printf(&why, "expired at %s with ", t);
	if (node_prop_evaluate(n, np, np->p.expires, n->v, &e) < 0) {
		cbuf_printf(&why, "an invalid change unmet (%s)", e.msg);
	} else {
		for (unsigned i = 0; i < n->v->nneeds; i++) {
			const struct ledger_need *nd = &n->v->needs[i];

			if (nd->have >= nd->need)
				continue;
			cbuf_printf(&why, "%s%s for %s (%u of %u)", first ? "" : ", ", nd->what,
				    nd->path, nd->have, nd->need);
			first = 0;
		}
		if (first) {
			tfmt_format(n->v->not_before, t);
			cbuf_printf(&why, "the consultation period (until %s)", t);
		}
		cbuf_puts(&why, " unmet");
	}
	prop_finish(n, np, PS_EXPIRED, why.p ? why.p : "expired");
	cbuf_free(&why);
}

/* Why objections made v impossible. */
static void reject_reason(const struct ledger_verdict *v, struct cbuf *out)
{
	int first = 1;

	cbuf_puts(out, "objections leave ");
	for (unsigned i = 0; i < v->nneeds; i++) {
		const struct ledger_need *nd = &v->needs[i];
		unsigned open = 0;
		const char *s;

		for (s = nd->candidates; *s; s++)
			if (s == nd->candidates || s[-1] == ' ')
				open += *s != ' ';
		if (nd->have + open >= nd->need)
			continue;
		cbuf_printf(out, "%s%s for %s (%u of %u, %u more possible)", first ? "" : ", ",
			    nd->what, nd->path, nd->have, nd->need, open);
		first = 0;
	}
	cbuf_puts(out, " impossible to meet");
}

/* The proposal cannot pass any more (stale, invalid, expired): record why. */
static void prop_dead(struct node *n, struct node_prop *np, const struct cc_err *e)
{
	if (e->code == CC_EEXPIRED) {
		prop_expire(n, np);
	} else {
		char why[CC_ERR_MSG + 32];

		snprintf(why, sizeof(why), "%s: %s", cc_strerror(e->code), e->msg);
		prop_finish(n, np, PS_REJECTED, why);
	}
}

/* Decides np at time now with one ledger_accept: appends it when ready, rejects it when
 * objections make it impossible, else leaves it pending (queueing its row only when
 * row_if_pending: the timer re-decides often and need not rewrite unchanged rows). n->v holds
 * the verdict afterwards. On error the ledger is unchanged and np still pending. An
 * acceptance is not logged here: the caller does, preferably off the lock. */
static int prop_decide(struct node *n, struct node_prop *np, int64_t now, int row_if_pending,
		       struct cc_err *e)
{
	struct cbuf entry = CBUF_INIT, why = CBUF_INIT;
	struct note_sig *sigs = NULL;
	const char **objs = NULL;
	unsigned char leaf[MERKLE_HASH];
	uint64_t size = ledger_size(n->ledger);
	size_t ns = 0, no = 0;
	int ret = 0;

	sigs = calloc(np->nsigs + 1, sizeof(*sigs));
	objs = calloc(np->nobjs + 1, sizeof(*objs));
	if (sigs == NULL || objs == NULL) {
		ret = cc_fail(e, CC_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < np->nsigs; i++)
		if (vsig_current(n->ledger, &np->sigs[i]))
			sigs[ns++] = np->sigs[i].sig;
	for (size_t i = 0; i < np->nobjs; i++)
		if (vsig_current(n->ledger, &np->objs[i]))
			objs[no++] = np->objs[i].sig.name;
	if (ns > NOTE_MAX_SIGS) {
		ret = cc_fail(e, CC_ETOOBIG, "more than %d signatures", NOTE_MAX_SIGS);
		goto out;
	}
	ret = ledger_accept(n->ledger, &np->p, sigs, ns, objs, no, now, n->v, &entry, e);
	if (ret < 0) {
		/* Past a READY verdict only the entry's size can fail before the state changes;
		 * anything later leaves memory in doubt. */
		if (n->v->status == LEDGER_READY && ret != CC_ETOOBIG)
			node_fatal("appending %.16s failed: %s", np->p.id, e ? e->msg : "");
		goto out;
	}
	np->eval_size = size;
	np->not_before = n->v->not_before;
	np->met = 1;
	for (unsigned i = 0; i < n->v->nneeds; i++)
		if (n->v->needs[i].have < n->v->needs[i].need)
			np->met = 0;
	switch (n->v->status) {
	case LEDGER_READY:
		if (ledger_size(n->ledger) != size + 1)
			node_fatal("ledger_accept of %.16s did not append", np->p.id);
		merkle_leaf_hash(entry.p, entry.len, leaf);
		if (merkle_tree_append(&n->tree, leaf) < 0)
			node_fatal("out of memory growing the Merkle tree");
		np->idx = (int64_t)size;
		np->whole_in_log = np->nobjs == 0 && n->v->ncounted == np->nsigs;
		node_batch_entry(n, &entry);
		prop_finish(n, np, PS_ACCEPTED, NULL);
		/* The caller logs it, after the lock. */
		break;
	case LEDGER_REJECTED:
		reject_reason(n->v, &why);
		prop_finish(n, np, PS_REJECTED, why.p);
		break;
	default:
		if (row_if_pending)
			batch_row(n, np);
		break;
	}
out:
	free(sigs);
	free(objs);
	cbuf_free(&entry);
	cbuf_free(&why);
	return ret;
}

/* ---- changes ---- */

struct change {			/* what one request brings */
	struct proposal *p;	/* parsed body, when the request carried it (moved into a new
				 * node_prop) */
	struct node_vsig *sigs; /* newly verified approvals */
	size_t nsigs;		/* entries in sigs */
	struct node_vsig *objs; /* newly verified objections */
	size_t nobjs;		/* entries in objs */
};

/* Answers a request about a proposal that is no longer pending. */
static int final_error(struct node_reply *r, const char *id, int status, int64_t idx,
		       const char *reason)
{
	switch (status) {
	case PS_ACCEPTED:
		return reply_fail(r, CC_EEXIST, "proposal %s was accepted at log index %" PRId64,
				  id, idx);
	case PS_EXPIRED:
		return reply_fail(r, CC_EEXPIRED, "proposal %s %s", id,
				  reason ? reason : "expired");
	default:
		return reply_fail(r, CC_ECONFLICT, "proposal %s was rejected: %s", id,
				  reason ? reason : "");
	}
}

/* Answers a request about a decided proposal no longer in memory; 0 and r untouched when id
 * is not one. Accepted ones are answered from the in-memory index; rejected and expired
 * ones (rare) from the store, which holds their reason. */
static int stored_final(struct node *n, const char *id, struct node_reply *r)
{
	struct store_proposal row;
	struct cc_err e = {0};
	int64_t v = node_finals_get(&n->finals, id);
	int ret, st;

	if (v == FINAL_FREE)
		return 0;
	if (v >= FINAL_ACCEPTED0) {
		final_error(r, id, PS_ACCEPTED, v - FINAL_ACCEPTED0, NULL);
		return 1;
	}
	pthread_mutex_lock(&n->rd_mu);
	ret = store_proposal_get(n->rd, id, &row, &e);
	pthread_mutex_unlock(&n->rd_mu);
	if (ret == CC_ENOENT) {
		reply_fail(r, CC_EIO, "proposal %s: inconsistent state", id);
		return 1;
	}
	if (ret < 0) {
		reply_fail(r, ret, "%s", e.msg);
		return 1;
	}
	for (st = 0; st < PS_COUNT; st++)
		if (strcmp(row.status, node_prop_status_name[st]) == 0)
			break;
	if (st == PS_PENDING || st == PS_COUNT)
		/* Every pending proposal is in memory: a pending row not there is a bug. */
		reply_fail(r, CC_EIO, "proposal %s: inconsistent state", id);
	else
		final_error(r, id, st, row.idx, row.reason);
	store_proposal_free(&row);
	return 1;
}

/* Registers w for the next commit without the node lock, once its change is made: the
 * batch holding the change is then being filled, being committed or committed, and the
 * commit that wakes w comes after it in every case (batches commit in order). When the
 * committer is gone (node_stop), every queued change is durable: w is woken at once. */
static void batch_wait_after(struct node *n, struct node_waiter *w, const char *line)
{
	int now;

	pthread_mutex_lock(&n->q_mu);
	now = n->q_done;
	/* Logged with the next commit: one write for a whole batch of lines. */
	if (line && !now && cbuf_printf(&n->logq, "concordd: %s\n", line) < 0)
		cbuf_reset(&n->logq);
	if (!now) {
		if (w) {
			w->next = NULL;
			*n->batch.tail = w;
			n->batch.tail = &w->next;
		}
		/* Wake the committer for the first change, and when a lingering batch is full. */
		if (!n->q_kick || ++n->q_nwait == NODE_BATCH_FULL)
			pthread_cond_signal(&n->q_cond);
		n->q_kick = 1;
	}
	pthread_mutex_unlock(&n->q_mu);
	if (now) {
		if (line)
			node_log("%s", line);
		if (w)
			w->done(w);
	}
}

/* Applies c to proposal id: merges, evaluates, acts. Only the decision runs under the
 * exclusive lock; the answer is written after it, from the proposal itself when it is final
 * (it no longer changes; a reference keeps it alive), and the request then waits for the
 * commit that makes it durable. With w NULL (a batch, which waits once for all) there is
 * no JSON answer and no wait: r gets the outcome and, when accepted, the index. */
static int node_change(struct node *n, const char *id, struct change *c, struct node_waiter *w,
		       struct node_reply *r)
{
	struct node_prop *np, *fresh = NULL, *done = NULL;
	struct node_vsig *sigs = NULL, *objs = NULL, *old_sigs, *old_objs;
	size_t nsigs = 0, nobjs = 0, old_nsigs, old_nobjs, added = 0;
	char what[32], line[128];
	int64_t now;
	int ret, status, logged = 0;

	snprintf(what, sizeof(what), "%.16s", id);
	node_wrlock(n);
	if (n->stopping) {
		reply_fail(r, CC_EIO, "the node is shutting down");
		goto done;
	}
	/* Checked again here, where it counts: a change prepared (its signatures checked, off
	 * the lock) while a failover note arrived must not be appended by the deposed
	 * sequencer. The node the note names appends the note itself before it decides. */
	if (!node_decides(n) && !(c->p && node_takeover_note(n, c->p))) {
		reply_fail(r, CC_EAGAIN,
			   "this node does not decide proposals now (a failover is under way, "
			   "or it follows a sequencer): ask again");
		goto done;
	}
	np = map_get(&n->props, id);
	if (np && np->status != PS_PENDING) {
		final_error(r, id, np->status, np->idx, np->reason);
		reply_err(r, what);
		goto done;
	}
	if (np == NULL) {
		if (stored_final(n, id, r)) {
			reply_err(r, what);
			goto done;
		}
		if (c->p == NULL) {
			reply_fail(r, CC_ENOENT, "no proposal %s", id);
			goto done;
		}
		fresh = calloc(1, sizeof(*fresh));
		if (fresh == NULL) {
			reply_fail(r, CC_ENOMEM, "out of memory");
			goto done;
		}
		fresh->p = *c->p;
		memset(c->p, 0, sizeof(*c->p));
		fresh->status = PS_PENDING;
		fresh->received = (int64_t)time(NULL);
		fresh->idx = -1;
		atomic_init(&fresh->refs, 1);
		np = fresh;
	}
	prop_prune(n->ledger, np);
	/* An objector cannot also approve, nor an approver object. */
	for (size_t i = 0; i < c->nsigs; i++)
		if (vsig_find(np->objs, np->nobjs, c->sigs[i].sig.name)) {
			reply_fail(r, CC_EPERM, "%s objected to proposal %s and cannot approve it",
				   c->sigs[i].sig.name, id);
			reply_err(r, what);
			goto done;
		}
	for (size_t i = 0; i < c->nobjs; i++)
		if (vsig_find(np->sigs, np->nsigs, c->objs[i].sig.name) ||
		    vsig_find(c->sigs, c->nsigs, c->objs[i].sig.name)) {
			reply_fail(r, CC_EPERM, "%s approved proposal %s and cannot object to it",
				   c->objs[i].sig.name, id);
			reply_err(r, what);
			goto done;
		}
	/* Merge into copies, so that a refused request leaves the proposal as it was. */
	if (np->nsigs && (sigs = malloc(np->nsigs * sizeof(*sigs))) == NULL)
		goto nomem;
	if (np->nobjs && (objs = malloc(np->nobjs * sizeof(*objs))) == NULL)
		goto nomem;
	if (np->nsigs)
		memcpy(sigs, np->sigs, np->nsigs * sizeof(*sigs));
	if (np->nobjs)
		memcpy(objs, np->objs, np->nobjs * sizeof(*objs));
	nsigs = np->nsigs;
	nobjs = np->nobjs;
	for (size_t i = 0; i < c->nsigs; i++) {
		if ((ret = node_vsig_merge(n->ledger, &sigs, &nsigs, &c->sigs[i])) < 0)
			goto nomem;
		added += (size_t)ret;
	}
	for (size_t i = 0; i < c->nobjs; i++) {
		if ((ret = node_vsig_merge(n->ledger, &objs, &nobjs, &c->objs[i])) < 0)
			goto nomem;
		added += (size_t)ret;
	}
	old_sigs = np->sigs, old_nsigs = np->nsigs, old_objs = np->objs, old_nobjs = np->nobjs;
	np->sigs = sigs, np->nsigs = nsigs, np->objs = objs, np->nobjs = nobjs;
	now = node_now(n);
	/* A proposer whose share is used up may still make a change that is accepted at once. */
	if (fresh && pend_full(n, &np->p, r) < 0) {
		struct cc_err qe = {0};

		if (node_prop_evaluate(n, np, now, n->v, &qe) == 0 &&
		    n->v->status == LEDGER_PENDING) {
			free(old_sigs);
			free(old_objs);
			reply_err(r, what);
			goto done;
		}
		memset(&r->err, 0, sizeof(r->err));
		r->status = 0;
	}
	ret = prop_decide(n, np, now, 1, &r->err);
	if (ret < 0) {
		/* Refused: put the proposal back as it was, then see whether it is itself dead
		 * (stale, expired) or only this request was wrong. */
		np->sigs = old_sigs, np->nsigs = old_nsigs, np->objs = old_objs,
		np->nobjs = old_nobjs;
		old_sigs = sigs, old_objs = objs;
		if (fresh == NULL) {
			struct cc_err e2 = {0};

			if (node_prop_evaluate(n, np, now, n->v, &e2) < 0)
				prop_dead(n, np, &e2);
		}
		free(old_sigs);
		free(old_objs);
		reply_err(r, what);
		goto done;
	}
	free(old_sigs);
	free(old_objs);
	if (np->status == PS_ACCEPTED)
		keys_follow(n, np);
	if (fresh) {
		if (map_put(&n->props, np->p.id, np) < 0)
			node_fatal("out of memory");
		if (np->status == PS_PENDING)
			node_pend_tally(n, np);
		fresh = NULL;
		logged = np->status == PS_PENDING;
		status = np->status == PS_ACCEPTED ? NODE_CREATED : NODE_ACCEPTED;
	} else {
		status = np->status == PS_ACCEPTED ? NODE_CREATED : NODE_OK;
		logged = added && np->status == PS_PENDING;
	}
	r->status = status;
	r->index = np->idx;
	if (np->status == PS_PENDING) {
		/* Still changing: the answer is written now, with the verdict just taken. */
		if (w != NULL && node_prop_json(np, n->v, &r->body) < 0)
			node_fatal("out of memory");
		nsigs = np->nsigs;
		nobjs = np->nobjs;
	} else {
		done = node_prop_ref(np);
	}
	node_unlock(n);
	line[0] = '\0';
	if (done) {
		if (w != NULL && node_prop_json(done, NULL, &r->body) < 0)
			node_fatal("out of memory");
		if (done->status == PS_ACCEPTED)
			snprintf(line, sizeof(line),
				 "accepted %.16s at index %" PRId64 " (%zu signatures)", done->p.id,
				 done->idx, done->nsigs);
		node_prop_unref(done);
	} else if (logged) {
		snprintf(line, sizeof(line), "pending %.16s (%zu signatures, %zu objections)", what,
			 nsigs, nobjs);
	}
	/* Acknowledged once durable, even when nothing changed: the state the reply shows
	 * may itself still be in the batch. */
	batch_wait_after(n, w, line[0] ? line : NULL);
	return 1;
nomem:
	free(sigs);
	free(objs);
	reply_fail(r, CC_ENOMEM, "out of memory");
done:
	node_unlock(n);
	node_prop_free(fresh);
	return 0;
}

/* Checks each signature against the member registry: the member's current key is copied
 * from the node's copy of the keys (never waiting for the node lock), and the Ed25519 check
 * runs outside any lock, so verifications run in parallel with each other and with appends.
 * A key that changes meanwhile is caught under the exclusive lock: vsig_current compares the
 * key each signature verified against with the member's key at that point, and a signature
 * under a replaced key never counts. */
static int verify_sigs(struct node *n, const char *body, size_t len, const struct note_sig *sigs,
		       size_t nsigs, struct node_vsig **out, struct cc_err *e)
{
	struct node_vsig *v = calloc(nsigs + 1, sizeof(*v));

	*out = NULL;
	if (v == NULL)
		return cc_fail(e, CC_ENOMEM, "out of memory");
	for (size_t i = 0; i < nsigs; i++) {
		int found = keys_get(n, sigs[i].name, &v[i].key) == 0;
		int ret = ledger_verify_sig(found ? &v[i].key : NULL, body, len, &sigs[i], e);

		if (ret < 0) {
			free(v);
			return ret;
		}
		v[i].sig = sigs[i];
	}
	*out = v;
	return 0;
}

/* Everything about a submitted note that needs no lock: reading it, its network, its
 * signatures. 0 with c ready for node_change (c->p = p), or a refusal in r. */
static int submit_prepare(struct node *n, const char *text, size_t len, struct note *note,
			  struct proposal *p, struct change *c, struct node_reply *r)
{
	memset(r, 0, sizeof(*r));
	if (note_parse(note, text, len, &r->err) < 0 ||
	    proposal_parse(p, note->text, note->text_len, &r->err) < 0) {
		reply_err(r, "proposal");
		return -1;
	}
	if (strcmp(p->origin, n->origin) != 0) {
		cc_fail(&r->err, CC_EINVAL, "proposal is for network \"%s\", this is \"%s\"",
			p->origin, n->origin);
		reply_err(r, p->id);
		return -1;
	}
	if (verify_sigs(n, p->body, p->body_len, note->sigs, note->nsigs, &c->sigs, &r->err) < 0) {
		reply_err(r, p->id);
		return -1;
	}
	c->nsigs = note->nsigs;
	c->p = p;
	return 0;
}

int node_submit(struct node *n, const char *text, size_t len, struct node_waiter *w,
		struct node_reply *r)
{
	struct note note = {0};
	struct proposal p = {0};
	struct change c = {0};
	int ret = 0;

	if (submit_prepare(n, text, len, &note, &p, &c, r) == 0)
		ret = node_change(n, p.id, &c, w, r);
	free(c.sigs);
	proposal_free(&p);
	note_free(&note);
	return ret;
}

/* ---- batches ---- */

struct bitem {		     /* one note of a batch */
	const char *text;    /* the note, inside the request body */
	size_t len;	     /* its bytes */
	struct note note;    /* parsed */
	struct proposal p;   /* parsed */
	struct change c;     /* what node_change gets */
	struct node_reply r; /* a refusal while preparing, then the decision */
	int ok;		     /* prepared: node_change may decide it */
	int ready;	     /* prepared or refused (under job.mu) */
};

struct bjob {		     /* a batch being prepared by workers and decided in order */
	struct node *n;	     /* the node */
	struct bitem *items; /* the notes */
	size_t count;	     /* entries in items */
	atomic_size_t next;  /* next item to prepare */
	pthread_mutex_t mu;  /* guards items[].ready */
	pthread_cond_t cond; /* signalled when an item is ready */
};

static void *bjob_prepare(void *arg)
{
	struct bjob *j = arg;

	for (;;) {
		size_t i = atomic_fetch_add(&j->next, 1);
		struct bitem *it;

		if (i >= j->count)
			break;
		it = &j->items[i];
		it->ok =
		    submit_prepare(j->n, it->text, it->len, &it->note, &it->p, &it->c, &it->r) == 0;
		pthread_mutex_lock(&j->mu);
		it->ready = 1;
		pthread_cond_broadcast(&j->cond);
		pthread_mutex_unlock(&j->mu);
	}
	return NULL;
}

/* After node_change, which may have moved the proposal out of it->p (id included). */
static void bitem_result(struct bitem *it, struct node_item *out)
{
	out->status = it->r.status;
	out->index = it->r.status == NODE_CREATED ? it->r.index : -1;
	out->why = it->r.status < 0 ? strdup(it->r.err.msg) : NULL;
	free(it->c.sigs);
	proposal_free(&it->p);
	note_free(&it->note);
	node_reply_free(&it->r);
}

static size_t batch_workers(size_t count)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	size_t k = cpus < 1 ? 1 : cpus > 16 ? 16 : (size_t)cpus;

	return count < k ? count : k;
}

int node_submit_batch(struct node *n, const char *batch, size_t len, struct node_waiter *w,
		      struct node_batch_reply *r)
{
	struct bjob j = {.n = n};
	pthread_t th[16];
	size_t pos = 0, nth = 0, k;
	int ret;

	memset(r, 0, sizeof(*r));
	pthread_mutex_init(&j.mu, NULL);
	pthread_cond_init(&j.cond, NULL);
	atomic_init(&j.next, 0);
	j.items = calloc(NODE_BATCH_MAX, sizeof(*j.items));
	if (j.items == NULL) {
		ret = r->status = cc_fail(&r->err, CC_ENOMEM, "out of memory");
		goto out;
	}
	for (;;) {
		const char *note;
		size_t nlen;

		ret = note_batch_next(batch, len, &pos, &note, &nlen, &r->err);
		if (ret <= 0)
			break;
		if (j.count == NODE_BATCH_MAX) {
			ret = cc_fail(&r->err, CC_ETOOBIG, "batch: more than %d notes",
				      NODE_BATCH_MAX);
			break;
		}
		j.items[j.count].text = note;
		j.items[j.count].len = nlen;
		j.count++;
	}
	if (ret == 0 && j.count == 0)
		ret = cc_fail(&r->err, CC_EINVAL, "batch: no note");
	if (ret < 0 || (r->items = calloc(j.count, sizeof(*r->items))) == NULL) {
		r->status = ret < 0 ? ret : cc_fail(&r->err, CC_ENOMEM, "out of memory");
		goto out;
	}
	r->n = j.count;
	/* The workers prepare (signatures are most of the work) while this thread decides in
	 * order; a worker that cannot start leaves its share to the others. */
	k = batch_workers(j.count);
	for (size_t i = 0; i < k; i++)
		if (pthread_create(&th[nth], NULL, bjob_prepare, &j) == 0)
			nth++;
	if (nth == 0)
		bjob_prepare(&j);
	for (size_t i = 0; i < j.count; i++) {
		struct bitem *it = &j.items[i];

		pthread_mutex_lock(&j.mu);
		while (!it->ready)
			pthread_cond_wait(&j.cond, &j.mu);
		pthread_mutex_unlock(&j.mu);
		snprintf(r->items[i].id, sizeof(r->items[i].id), "%s", it->p.id);
		if (it->ok)
			node_change(n, r->items[i].id, &it->c, NULL, &it->r);
		bitem_result(it, &r->items[i]);
	}
	for (size_t i = 0; i < nth; i++)
		pthread_join(th[i], NULL);
	ret = 0;
out:
	pthread_mutex_destroy(&j.mu);
	pthread_cond_destroy(&j.cond);
	free(j.items);
	if (ret < 0)
		return 0;
	/* Every change of the batch is in a batch of the committer by now: one wait for them. */
	batch_wait_after(n, w, NULL);
	return 1;
}

void node_batch_reply_free(struct node_batch_reply *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->items[i].why);
	free(r->items);
	memset(r, 0, sizeof(*r));
}

int node_sign(struct node *n, const char *id, const char *data, size_t len, struct node_waiter *w,
	      struct node_reply *r)
{
	static const char dash[] = "\xe2\x80\x94 "; /* an em dash and a space start a sig line */
	struct note_sig *sigs = NULL;
	struct node_prop *np;
	struct change c = {0};
	char *body = NULL;
	size_t nsigs = 0, blen = 0;
	int ret, pending;

	memset(r, 0, sizeof(*r));
	if (!node_id_valid(id))
		return reply_fail(r, CC_ENOENT, "no proposal %.80s", id);
	if (len < sizeof(dash) - 1 || memcmp(data, dash, sizeof(dash) - 1) != 0) {
		/* The whole signed note: the same as submitting it, for this id only. */
		struct note note = {0};
		char got[PROPOSAL_ID_LEN + 1];

		if (note_parse(&note, data, len, &r->err) < 0)
			return reply_err(r, id);
		proposal_id(note.text, note.text_len, got);
		note_free(&note);
		if (strcmp(got, id) != 0) {
			cc_fail(&r->err, CC_EINVAL, "the note's text is not proposal %s", id);
			return reply_err(r, id);
		}
		return node_submit(n, data, len, w, r);
	}
	if (note_parse_sigs(&sigs, &nsigs, data, len, &r->err) < 0) {
		ret = reply_err(r, id);
		goto out;
	}
	node_rdlock(n);
	np = map_get(&n->props, id);
	pending = np && np->status == PS_PENDING;
	if (pending) {
		blen = np->p.body_len;
		body = strndup(np->p.body, blen);
	}
	node_unlock(n); /* np may be gone from here on */
	if (pending && body == NULL) {
		ret = reply_fail(r, CC_ENOMEM, "out of memory");
		goto out;
	}
	/* Unknown or final: node_change gives the answer. */
	if (body && verify_sigs(n, body, blen, sigs, nsigs, &c.sigs, &r->err) < 0) {
		ret = reply_err(r, id);
		goto out;
	}
	c.nsigs = body ? nsigs : 0;
	ret = node_change(n, id, &c, w, r);
out:
	free(c.sigs);
	free(sigs);
	free(body);
	return ret;
}

int node_object(struct node *n, const char *id, const char *text, size_t len, struct node_waiter *w,
		struct node_reply *r)
{
	struct note note = {0};
	struct cbuf want = CBUF_INIT;
	struct change c = {0};
	int ret;

	memset(r, 0, sizeof(*r));
	if (!node_id_valid(id))
		return reply_fail(r, CC_ENOENT, "no proposal %.80s", id);
	if (note_parse(&note, text, len, &r->err) < 0) {
		ret = reply_err(r, id);
		goto out;
	}
	if (node_objection_text(&want, n->origin, id) < 0) {
		ret = reply_fail(r, CC_ENOMEM, "out of memory");
		goto out;
	}
	if (note.text_len != want.len || memcmp(note.text, want.p, want.len) != 0) {
		cc_fail(&r->err, CC_EINVAL,
			"an objection's text must be exactly \"concord objection v1\", "
			"\"origin %s\", \"proposal %s\"",
			n->origin, id);
		ret = reply_err(r, id);
		goto out;
	}
	if (verify_sigs(n, note.text, note.text_len, note.sigs, note.nsigs, &c.objs, &r->err) < 0) {
		ret = reply_err(r, id);
		goto out;
	}
	c.nobjs = note.nsigs;
	ret = node_change(n, id, &c, w, r);
	if (ret == 1 && r->status == NODE_CREATED)
		r->status = NODE_OK; /* cannot happen (objections never complete a proposal) */
out:
	free(c.objs);
	cbuf_free(&want);
	note_free(&note);
	return ret;
}

/* ---- the timer (committer thread, exclusive lock) ---- */

void node_sweep(struct node *n)
{
	int64_t now = node_now(n);

	/* Proposals are the sequencer's to decide: a node that follows appends nothing of its
	 * own (its pending ones go to the sequencer, node_hand_on). */
	if (!node_decides(n))
		return;

	for (size_t i = 0; i < n->props.cap; i++) {
		struct node_prop *np = n->props.slot[i].key ? n->props.slot[i].val : NULL;
		struct cc_err e = {0};
		size_t pruned;

		if (np == NULL || np->status != PS_PENDING)
			continue;
		if (now > np->p.expires) {
			prop_expire(n, np);
			continue;
		}
		pruned = prop_prune(n->ledger, np);
		/* Only what may have changed: the state (new entries), the keys, or the clock
		 * reaching the end of a consultation period. */
		if (!pruned && np->eval_size == ledger_size(n->ledger) &&
		    !(np->met && np->not_before <= now))
			continue;
		if (prop_decide(n, np, now, pruned > 0, &e) < 0)
			prop_dead(n, np, &e);
		else if (np->status == PS_ACCEPTED) {
			keys_follow(n, np);
			node_log("accepted %.16s at index %" PRId64 " (%zu signatures)", np->p.id,
				 np->idx, np->nsigs);
		}
	}
}
