#include "node/failover.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "core/merkle.h"
#include "core/note.h"
#include "core/proposal.h"
#include "core/tlog.h"
#include "node/node_impl.h"
#include "node/witness.h"

int failover_target(const struct proposal *p, char id[MEMBER_ID_MAX + 1])
{
	const struct proposal_op *op = &p->ops[0];
	size_t k = sizeof("sequencer ") - 1, len;

	if (p->nops != 1 || op->kind != OP_PUT || strcmp(op->path, "network/sequencer") != 0 ||
	    op->content_len <= k + 1 || strncmp(op->content, "sequencer ", k) != 0)
		return -1;
	len = op->content_len - k - 1;
	if (len > MEMBER_ID_MAX || op->content[op->content_len - 1] != '\n')
		return -1;
	memcpy(id, op->content + k, len);
	id[len] = '\0';
	return 0;
}

/* failover_check, at time at (0: now). */
static int failover_judge(struct node *n, const char *text, size_t len, int64_t at,
			  char id[MEMBER_ID_MAX + 1], struct cc_err *e)
{
	const char *signers[NOTE_MAX_SIGS];
	struct note note = {0};
	struct proposal p = {0};
	struct ledger_verdict *v = NULL;
	size_t ns = 0;
	int ret;

	if ((ret = note_parse(&note, text, len, e)) < 0 ||
	    (ret = proposal_parse(&p, note.text, note.text_len, e)) < 0)
		goto out;
	if (failover_target(&p, id) < 0) {
		ret = cc_fail(e, CC_EINVAL,
			      "a failover note is a proposal with the one operation "
			      "\"put network/sequencer\"");
		goto out;
	}
	if ((v = malloc(sizeof(*v))) == NULL) {
		ret = cc_fail(e, CC_ENOMEM, "out of memory");
		goto out;
	}
	node_rdlock(n);
	for (size_t i = 0; i < note.nsigs; i++) {
		const struct ledger_member *m =
		    ledger_check_sig(n->ledger, note.text, note.text_len, &note.sigs[i], e);

		if (m == NULL) {
			ret = e ? e->code : CC_ESIG;
			break;
		}
		signers[ns++] = m->id;
	}
	if (ret == 0)
		ret = ledger_evaluate(n->ledger, &p, signers, ns, NULL, 0,
				      at ? at : (int64_t)time(NULL), v, e);
	node_unlock(n);
	if (ret == 0 && v->status != LEDGER_READY)
		ret = cc_fail(e, CC_EPERM,
			      "the note does not meet network/sequencer's policy yet: a failover "
			      "note must be valid on its own");
out:
	free(v);
	proposal_free(&p);
	note_free(&note);
	return ret;
}

int failover_check(struct node *n, const char *text, size_t len, char id[MEMBER_ID_MAX + 1],
		   struct cc_err *e)
{
	return failover_judge(n, text, len, 0, id, e);
}

/* The note kept on disk ("" for none), through a connection of its own. */
static int failover_keep(struct node *n, const char *text, struct cc_err *e)
{
	char path[CONF_PATH_MAX];
	struct store *s = NULL;
	int ret;

	if ((ret = conf_path(path, n->dir, CONF_DB_FILE, e)) == 0 &&
	    (ret = store_open(&s, path, 0, e)) == 0)
		ret = store_meta_put(s, "failover", text, e);
	store_close(s);
	return ret;
}

/* The node a note names and whether it is spent: the log moved past the network/sequencer
 * version it replaces (it was appended, or another change came). Expiry alone does not spend
 * a note: the node it names may have appended it in time, unseen here. -1 when it is not a
 * failover note. */
static int failover_spent(struct node *n, const char *text, char id[MEMBER_ID_MAX + 1])
{
	struct note note = {0};
	struct proposal p = {0};
	struct cbuf cur = CBUF_INIT;
	uint64_t version = 0;
	int ret = -1;

	if (note_parse(&note, text, strlen(text), NULL) == 0 &&
	    proposal_parse(&p, note.text, note.text_len, NULL) == 0 &&
	    failover_target(&p, id) == 0) {
		node_rdlock(n);
		ret = ledger_get(n->ledger, "network/sequencer", &cur, &version) < 0 ||
		      (uint64_t)p.ops[0].version != version;
		node_unlock(n);
	}
	cbuf_free(&cur);
	proposal_free(&p);
	note_free(&note);
	return ret;
}

int failover_take(struct node *n, const char *text, size_t len, char id[MEMBER_ID_MAX + 1],
		  struct cc_err *e)
{
	char *copy = NULL, *stored = NULL, sid[MEMBER_ID_MAX + 1], seq[MEMBER_ID_MAX + 1];
	int ret;

	if ((ret = failover_check(n, text, len, id, e)) < 0)
		return ret;
	/* one note taken at a time: the one on disk is the one in memory */
	pthread_mutex_lock(&n->fo_mu);
	node_rdlock(n);
	snprintf(seq, sizeof(seq), "%s", ledger_sequencer(n->ledger));
	if (n->failover != NULL &&
	    (strlen(n->failover) != len || memcmp(n->failover, text, len) != 0))
		stored = strdup(n->failover);
	ret = n->failover != NULL && stored == NULL; /* this very note */
	node_unlock(n);
	if (ret || strcmp(id, seq) == 0) {
		ret = 0; /* known, or the log names that node already */
		goto out;
	}
	/* Another note replaces the one held only when both name the same node, or once the
	 * log moved past the held one: of two notes naming two nodes, a node backs one. Only
	 * the node a note names can append it, so that node alone may also let its own note
	 * go once it expired unappended (by the clock its appends are judged by). */
	if (stored && failover_spent(n, stored, sid) == 0 && strcmp(sid, id) != 0 &&
	    !(strcmp(sid, n->conf.member) == 0 &&
	      failover_check(n, stored, strlen(stored), sid, NULL) == CC_EEXPIRED)) {
		ret = cc_fail(e, CC_ECONFLICT,
			      "this node holds a failover note naming %s: a node backs one note "
			      "until the log moves past the version it replaces",
			      sid);
		goto out;
	}
	if ((copy = strndup(text, len)) == NULL) {
		ret = cc_fail(e, CC_ENOMEM, "out of memory");
		goto out;
	}
	/* on disk first: after a restart the node still follows the one it named */
	if ((ret = failover_keep(n, copy, e)) < 0) {
		free(copy);
		goto out;
	}
	node_wrlock(n);
	free(n->failover);
	n->failover = copy;
	snprintf(n->failover_to, sizeof(n->failover_to), "%s", id);
	n->failover_unnoted = 0;
	node_role_update(n);
	node_unlock(n);
	node_log("failover: %s sequences the log from now on (a note signed by the quorum)", id);
	ret = 1;
out:
	pthread_mutex_unlock(&n->fo_mu);
	free(stored);
	return ret;
}

void failover_load(struct node *n, const char *text, size_t len)
{
	char id[MEMBER_ID_MAX + 1], *copy = strndup(text, len);

	/* Kept until the log moves past the version it replaces, expired or not (see
	 * failover_spent); spent once the log names that node. */
	if (copy != NULL && failover_spent(n, copy, id) == 0 &&
	    strcmp(id, ledger_sequencer(n->ledger)) != 0) {
		n->failover = copy;
		snprintf(n->failover_to, sizeof(n->failover_to), "%s", id);
		return;
	}
	free(copy);
}

/* The node whose key signed the checkpoint note, when it is neither this one, nor the one it
 * follows, nor the one the log names while a note names another (the deposed sequencer,
 * whose final checkpoints say nothing of where the network went since; a node that another
 * log made this one follow may find it went back there). Under the lock. */
static int failover_signer(const struct node *n, const struct note *ck, char id[MEMBER_ID_MAX + 1])
{
	struct note_key seq, k;
	int have_seq = node_sequencer_key(n, &seq) == 0;

	for (size_t i = 0; i < ledger_node_count(n->ledger); i++) {
		const struct ledger_node *nd = ledger_node_at(n->ledger, i);

		if (strcmp(nd->id, n->conf.member) == 0 ||
		    (!n->failover_unnoted && strcmp(nd->id, ledger_sequencer(n->ledger)) == 0) ||
		    node_key_of(n, nd->id, &k) < 0 ||
		    (have_seq && sodium_memcmp(k.pub, seq.pub, sizeof(k.pub)) == 0))
			continue;
		if (note_signed_by(ck, &k)) {
			snprintf(id, MEMBER_ID_MAX + 1, "%s", nd->id);
			return 1;
		}
	}
	return 0;
}

/* failover_seen's verdict on a checkpoint of size and root. Under the lock. */
static int failover_verdict(const struct node *n, const struct note *ck, uint64_t size,
			    const unsigned char root[MERKLE_HASH], const char *proved,
			    char id[MEMBER_ID_MAX + 1])
{
	unsigned char mine[MERKLE_HASH];
	unsigned need = ledger_witness_need(n->ledger);

	/* A log this node holds is not news, nor one within the final part of its own, which no
	 * quorum can have replaced. Without a witness quorum nothing is final, and a node with
	 * no final checkpoint could not drop what the other log lacks (follow.c). */
	if (n->alarm != NULL || need == 0 || n->final_ck == NULL || size <= n->final_size ||
	    (size <= ledger_size(n->ledger) && merkle_tree_root(&n->tree, size, mine) == 0 &&
	     sodium_memcmp(mine, root, MERKLE_HASH) == 0) ||
	    !failover_signer(n, ck, id))
		return 0;
	return (proved != NULL && strcmp(id, proved) == 0) || witness_count(n, ck) >= need ? 1 : 2;
}

int failover_seen(struct node *n, const char *ck, size_t len, const char *proved,
		  char id[MEMBER_ID_MAX + 1])
{
	struct note note = {0};
	char origin[TLOG_ORIGIN_MAX + 1];
	unsigned char root[MERKLE_HASH];
	uint64_t size;
	int ret = 0;

	if (note_parse(&note, ck, len, NULL) < 0 ||
	    tlog_checkpoint_parse(note.text, note.text_len, origin, &size, root, NULL) < 0 ||
	    strcmp(origin, n->origin) != 0)
		goto out;
	node_rdlock(n);
	ret = failover_verdict(n, &note, size, root, proved, id);
	node_unlock(n);
	if (ret != 1)
		goto out;
	/* Taken as a note would be, in memory only (the log names that node soon), and judged
	 * again: a note, an entry or a cosignature may have come meanwhile. */
	pthread_mutex_lock(&n->fo_mu);
	node_wrlock(n);
	ret = failover_verdict(n, &note, size, root, proved, id);
	if (ret == 1) {
		snprintf(n->failover_to, sizeof(n->failover_to), "%s", id);
		n->failover_unnoted = 1;
		node_role_update(n);
	}
	node_unlock(n);
	pthread_mutex_unlock(&n->fo_mu);
out:
	note_free(&note);
	return ret;
}

int failover_logged(struct node *n, const unsigned char *entry, size_t elen, uint64_t index,
		    const unsigned char (*proof)[MERKLE_HASH], size_t np, const char *ck,
		    size_t cklen, const char *named)
{
	struct note c = {0};
	char origin[TLOG_ORIGIN_MAX + 1], id[MEMBER_ID_MAX + 1];
	unsigned char root[MERKLE_HASH], leaf[MERKLE_HASH];
	uint64_t size;
	int64_t t;
	size_t at;
	int ret = CC_ECONFLICT;

	/* The note as the entry carries it, the members' signatures meeting the policy when it
	 * was appended, as the ledger judges it when the log is taken. */
	if (ledger_proposal_entry(entry, elen, &t, &at) < 0 || t <= 0 ||
	    failover_judge(n, (const char *)entry + at, elen - at, t, id, NULL) < 0 ||
	    strcmp(id, named) != 0 || note_parse(&c, ck, cklen, NULL) < 0 ||
	    tlog_checkpoint_parse(c.text, c.text_len, origin, &size, root, NULL) < 0)
		goto out;
	merkle_leaf_hash(entry, elen, leaf);
	if (merkle_verify_inclusion(leaf, index, size, proof, np, root) == 0)
		ret = 0;
out:
	note_free(&c);
	return ret;
}
