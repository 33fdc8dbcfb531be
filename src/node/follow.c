/* Following a sequencer: the node side of a round (peer.c decides when and from where).
 *
 * A round brings the log from the node's size M (entries it took and checked, perhaps not yet
 * covered by a checkpoint) to the size N of a checkpoint the sequencer
 * signed. The leaves come first, from the source's hash tiles, and must give the
 * checkpoint's root on top of the node's own tree: from then on every entry is known before
 * it is read. The entries follow, fetched and checked on every CPU (fetch.c); each must hash
 * to its known leaf, and the ledger takes it as it takes the sequencer's own appends, every
 * signature and every policy decision checked again against this node's state. Entries are
 * committed as they come and the checkpoint last; a node that stops halfway keeps the
 * checkpoint it had and takes the rest again (node_open drops what no checkpoint covers).
 *
 * What does not hold is refused. A source whose tiles or entries do not match the signed
 * checkpoint is at fault, not the sequencer: the round fails and another source or a later
 * round does better. A checkpoint that contradicts the log the node holds, or an entry the
 * sequencer signed that the ledger refuses, is the sequencer's doing: an alarm, kept on
 * disk, after which the node follows that sequencer no more. */
#include "node/follow.h"

#include <inttypes.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "node/fetch.h"
#include "node/http.h"
#include "node/node_impl.h"
#include "node/split.h"
#include "node/witness.h"

#define FOLLOW_CONNECT_MS 5000	 /* to connect to a source */
#define FOLLOW_REQUEST_MS 120000 /* one tile or bundle, whole: a source that trickles is left */

struct follow_round {				    /* one round, for the take callback */
	struct node *n;				    /* the node */
	uint64_t from;				    /* M */
	const unsigned char (*leaves)[MERKLE_HASH]; /* the known leaves of [M, N) */
	const char *source;			    /* where the entries come from, for messages */
	int alarm;				    /* an entry of the sequencer's was refused */
	int takeover;				    /* FOLLOW_TAKEOVER */
};

/* Reads a checkpoint note signed by the sequencer's key for this network. */
static int follow_checkpoint(struct node *n, const char *ck, size_t len, int takeover,
			     uint64_t *size, unsigned char root[MERKLE_HASH], struct cc_err *e)
{
	struct note note = {0};
	struct note_key seq;
	char origin[TLOG_ORIGIN_MAX + 1];
	int ret;

	node_rdlock(n);
	/* taking over, the log to take is the deposed sequencer's */
	ret = takeover ? node_key_of(n, ledger_sequencer(n->ledger), &seq)
		       : node_sequencer_key(n, &seq);
	node_unlock(n);
	if (ret < 0)
		return cc_fail(e, CC_ENOENT, "the network names no sequencer node");
	if ((ret = note_parse(&note, ck, len, e)) < 0)
		goto out;
	if (!note_signed_by(&note, &seq)) {
		ret = cc_fail(e, CC_ESIG, "the checkpoint is not signed by the sequencer's key");
		goto out;
	}
	if ((ret = tlog_checkpoint_parse(note.text, note.text_len, origin, size, root, e)) < 0)
		goto out;
	if (strcmp(origin, n->origin) != 0)
		ret = cc_fail(e, CC_ECONFLICT, "the checkpoint is for \"%s\", not \"%s\"", origin,
			      n->origin);
out:
	note_free(&note);
	return ret;
}

void follow_alarm(struct node *n, const char *kind, const char *why, const char *evidence)
{
	json_t *ev = evidence ? json_loads(evidence, 0, NULL) : NULL;
	json_t *j = json_pack("{s:s, s:s, s:o, s:I}", "kind", kind, "detail", why, "evidence",
			      ev	 ? ev
			      : evidence ? json_string(evidence)
					 : json_null(),
			      "time", (json_int_t)time(NULL));
	char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
	struct cc_err e = {0};
	struct store *s = NULL;
	char path[CONF_PATH_MAX];

	node_log("ALARM: %s: %s", kind, why);
	/* A reason cut short in the middle of a character is not JSON's UTF-8: kept as kind
	 * alone then, rather than lost. */
	if (text == NULL)
		text = strdup("{\"kind\":\"alarm\",\"detail\":\"(unreadable)\"}");
	if (text == NULL)
		node_fatal("out of memory");
	/* On disk first, a restart must not forget it; with a connection of its own, the
	 * committer's is the committer's. */
	if (conf_path(path, n->dir, CONF_DB_FILE, &e) < 0 || store_open(&s, path, 0, &e) < 0 ||
	    store_meta_put(s, "alarm", text, &e) < 0)
		node_log("warning: the alarm could not be written down: %s", e.msg);
	store_close(s);
	node_wrlock(n);
	if (n->alarm == NULL) {
		n->alarm = text;
		text = NULL;
	}
	n->following = 0;
	node_unlock(n);
	free(text);
	json_decref(j);
}

/* Fetches the leaf hashes of [from, size) from the hash tiles at base, checking the ones of
 * the first tile that the node holds already against its own. */
static int follow_leaves(struct node *n, struct http *h, uint64_t from, uint64_t size,
			 unsigned char (*out)[MERKLE_HASH], int *mismatch, struct cc_err *e)
{
	struct cbuf path = CBUF_INIT;
	struct http_resp r = {0};
	int ret = 0;

	*mismatch = 0;
	for (uint64_t t = from / TLOG_TILE_WIDTH; ret == 0 && t * TLOG_TILE_WIDTH < size; t++) {
		uint64_t base = t * TLOG_TILE_WIDTH, left = size - base;
		unsigned w = left >= TLOG_TILE_WIDTH ? TLOG_TILE_WIDTH : (unsigned)left;

		cbuf_reset(&path);
		if (cbuf_puts(&path, "/log/") < 0 || tlog_tile_path(&path, 0, t, w) < 0) {
			ret = cc_fail(e, CC_ENOMEM, "out of memory");
			break;
		}
		ret = http_get(h, path.p, HTTP_MAX_SMALL, &r, e);
		/* a partial tile is gone once the source's log has grown past it */
		if (ret == CC_ENOENT && w < TLOG_TILE_WIDTH) {
			cbuf_reset(&path);
			if (cbuf_puts(&path, "/log/") < 0 ||
			    tlog_tile_path(&path, 0, t, TLOG_TILE_WIDTH) < 0) {
				ret = cc_fail(e, CC_ENOMEM, "out of memory");
				break;
			}
			ret = http_get(h, path.p, HTTP_MAX_SMALL, &r, e);
		}
		if (ret < 0)
			break;
		if (r.body.len < (size_t)w * MERKLE_HASH || r.body.len % MERKLE_HASH != 0) {
			ret = cc_fail(e, CC_ECONFLICT, "%s holds %zu bytes, not %u hashes", path.p,
				      r.body.len, w);
			break;
		}
		for (unsigned j = 0; j < w; j++) {
			const unsigned char *leaf =
			    (const unsigned char *)r.body.p + j * MERKLE_HASH;
			unsigned char mine[MERKLE_HASH];

			if (base + j >= from) {
				memcpy(out[base + j - from], leaf, MERKLE_HASH);
				continue;
			}
			node_rdlock(n);
			ret = merkle_tree_get(&n->tree, 0, base + j, mine);
			node_unlock(n);
			if (ret < 0)
				break;
			if (memcmp(mine, leaf, MERKLE_HASH) != 0)
				*mismatch = 1;
		}
	}
	http_resp_free(&r);
	cbuf_free(&path);
	return ret;
}

static int follow_round_locked(struct node *n, const char *source, const char *ck, size_t cklen,
			       int flags, struct cc_err *e);

/* Whether the node holds checkpointed entries that a failover left behind: its checkpoint is
 * not signed by the sequencer it follows now, and goes beyond the last final one. Those
 * entries never became final (no witness quorum held them), so the new sequencer could not
 * be bound to take them: they may be dropped. What a quorum cosigned never is. */
static int follow_left_behind(struct node *n, int flags)
{
	struct note note = {0};
	struct note_key seq;
	char *held = NULL;
	int behind = 0;

	/* a mirror that serves another log is at fault, not the log this node holds */
	if (flags & (FOLLOW_FINAL | FOLLOW_TAKEOVER | FOLLOW_MIRROR))
		return 0;
	node_rdlock(n);
	if (ledger_witness_need(n->ledger) > 0 && n->final_ck != NULL &&
	    n->final_size < n->pub_size && n->checkpoint != NULL &&
	    node_sequencer_key(n, &seq) == 0)
		held = strdup(n->checkpoint);
	node_unlock(n);
	if (held == NULL || note_parse(&note, held, strlen(held), NULL) < 0)
		goto out;
	/* the same sequencer's log went another way: not this case */
	behind = !note_signed_by(&note, &seq);
out:
	note_free(&note);
	free(held);
	return behind;
}

/* A checkpoint of the sequencer's that the log it signed before does not hold. */
static void follow_contradiction(struct node *n, const char *ck, size_t len)
{
	struct cbuf ev = CBUF_INIT;

	if (split_against_log(n, ck, len, &ev) == 1)
		split_alarm(n,
			    "the sequencer signed a checkpoint that the log it signed before does "
			    "not hold",
			    ev.p);
	cbuf_free(&ev);
}

static int follow_take(void *ctx, struct fetch *f, uint64_t first, struct fetch_entry *v,
		       size_t cnt, struct cc_err *e)
{
	struct follow_round *fr = ctx;
	struct node *n = fr->n;
	int ret = 0;

	for (size_t i = 0; i < cnt; i++)
		if (memcmp(v[i].leaf, fr->leaves[first + i - fr->from], MERKLE_HASH) != 0)
			return cc_fail(e, CC_ECONFLICT,
				       "entry %" PRIu64 " from %s is not the entry the checkpoint "
				       "holds (altered on the way?): refused",
				       first + i, fr->source);
	node_wrlock(n);
	if (n->stopping) {
		ret = cc_fail(e, CC_EIO, "the node is stopping");
		goto out;
	}
	/* entries of its own not yet committed (it sequenced until a moment ago): those are
	 * signed by this node, these will not be; the next round takes them */
	if (n->batch.nentries > 0 && !n->batch.followed) {
		ret = cc_fail(e, CC_EIO, "the node's own last entries are not committed yet");
		goto out;
	}
	if (ledger_size(n->ledger) != first || !(n->following || fr->takeover)) {
		ret = cc_fail(e, CC_ECONFLICT, "the log moved under the round");
		goto out;
	}
	for (size_t i = 0; i < cnt; i++) {
		struct cbuf entry = CBUF_INIT;
		struct cc_err le = {0};

		ret = fetch_apply(n->ledger, &v[i], &le);
		if (ret < 0) {
			/* the ledger's verdict, not a want of memory, is the sequencer's doing */
			fr->alarm = ret != CC_ENOMEM;
			ret = cc_fail(e, CC_ECONFLICT,
				      "entry %" PRIu64 ", in a checkpoint the sequencer signed, is "
				      "invalid: %s",
				      first + i, le.msg[0] ? le.msg : cc_strerror(ret));
			break;
		}
		if (merkle_tree_append(&n->tree, v[i].leaf) < 0 ||
		    cbuf_put(&entry, v[i].entry, v[i].len) < 0)
			node_fatal("out of memory taking entry %" PRIu64, first + i);
		node_index_logged(n, first + i);
		node_batch_entry(n, &entry);
		n->batch.followed = 1;
	}
	node_keys_refresh(n);
	if (fetch_publish(f, n->ledger) < 0)
		node_fatal("out of memory");
	/* committed as they come; the checkpoint follows at the end of the round */
	node_batch_wait(n, NULL);
out:
	node_unlock(n);
	return ret;
}

int follow_round(struct node *n, const char *source, const char *ck, size_t cklen, int flags,
		 struct cc_err *e)
{
	int ret;

	/* the follower's polls and the witness requests take turns; a witness request does not
	 * wait for a round in progress (its sender asks again) */
	if (!(flags & FOLLOW_TRY))
		pthread_mutex_lock(&n->follow_mu);
	else if (pthread_mutex_trylock(&n->follow_mu) != 0)
		return cc_fail(e, CC_EIO, "busy taking the log: ask again");
	ret = follow_round_locked(n, source, ck, cklen, flags, e);
	pthread_mutex_unlock(&n->follow_mu);
	return ret;
}

static int follow_round_locked(struct node *n, const char *source, const char *ck, size_t cklen,
			       int flags, struct cc_err *e)
{
	unsigned char root[MERKLE_HASH], mine[MERKLE_HASH];
	unsigned char(*leaves)[MERKLE_HASH] = NULL;
	struct follow_round fr = {0};
	struct fetch *f = NULL;
	struct http *h = NULL;
	uint64_t size, from, confirmed;
	struct cbuf clean = CBUF_INIT;
	char *copy = NULL;
	int ret, mismatch = 0, following, takeover = (flags & FOLLOW_TAKEOVER) != 0;

	if ((ret = follow_checkpoint(n, ck, cklen, takeover, &size, root, e)) < 0)
		return ret;
	node_rdlock(n);
	following = n->following || (takeover && strcmp(n->failover_to, n->conf.member) == 0);
	from = ledger_size(n->ledger);
	ret = size <= from ? merkle_tree_root(&n->tree, size, mine) : 0;
	confirmed = n->pub_size;
	node_unlock(n);
	if (!following)
		return cc_fail(e, CC_EPERM, "this node does not follow a sequencer");
	if (ret < 0)
		return cc_fail(e, ret, "cannot compute the tree root");
	if (size <= from) {
		if (sodium_memcmp(mine, root, MERKLE_HASH) == 0) {
			/* the same tree, perhaps with more cosignatures */
			if (size == from)
				witness_merge(n, ck, cklen);
			return 0;
		}
		/* entries no checkpoint covered went another way: only those are dropped */
		if (size > confirmed && !(flags & FOLLOW_CUT)) {
			if ((ret = node_cut_back(n, e)) < 0)
				return ret;
			return follow_round_locked(n, source, ck, cklen, flags | FOLLOW_CUT, e);
		}
		if (follow_left_behind(n, flags)) {
			if ((ret = node_cut_to_final(n, e)) < 0)
				return ret;
			return follow_round_locked(n, source, ck, cklen,
						   flags | FOLLOW_CUT | FOLLOW_FINAL, e);
		}
		follow_contradiction(n, ck, cklen);
		return cc_fail(e, CC_ECONFLICT, "the sequencer's checkpoint contradicts the log");
	}
	/* what a signature asks for, not what came: bounded before anything is allocated */
	if (size > MERKLE_MAX_SIZE || size - from > FOLLOW_ROUND_MAX) {
		ret = cc_fail(e, CC_ETOOBIG,
			      "the checkpoint is %" PRIu64
			      " entries ahead, more than one round takes "
			      "(%d)",
			      size - from, FOLLOW_ROUND_MAX);
		goto out;
	}
	leaves = malloc((size_t)(size - from) * MERKLE_HASH);
	if (leaves == NULL) {
		ret = cc_fail(e, CC_ENOMEM, "out of memory");
		goto out;
	}
	if ((ret = http_new(&h, source, e)) == 0)
		http_set_timeouts(h, FOLLOW_CONNECT_MS, FOLLOW_REQUEST_MS);
	if (ret < 0 || (ret = follow_leaves(n, h, from, size, leaves, &mismatch, e)) < 0)
		goto out;
	node_rdlock(n);
	ret = merkle_root_extended(&n->tree, (const unsigned char(*)[MERKLE_HASH])leaves,
				   size - from, mine);
	node_unlock(n);
	if (ret < 0) {
		cc_fail(e, ret, "cannot compute the tree root");
		goto out;
	}
	if (sodium_memcmp(mine, root, MERKLE_HASH) != 0) {
		/* the source's tiles may be right and this node's unconfirmed entries wrong */
		if (mismatch && from > confirmed && !(flags & FOLLOW_CUT)) {
			free(leaves);
			leaves = NULL;
			http_free(h);
			h = NULL;
			if ((ret = node_cut_back(n, e)) == 0)
				ret = follow_round_locked(n, source, ck, cklen, flags | FOLLOW_CUT,
							  e);
			goto out;
		}
		if (follow_left_behind(n, flags)) {
			free(leaves);
			leaves = NULL;
			http_free(h);
			h = NULL;
			if ((ret = node_cut_to_final(n, e)) == 0)
				ret = follow_round_locked(n, source, ck, cklen,
							  flags | FOLLOW_CUT | FOLLOW_FINAL, e);
			goto out;
		}
		ret = cc_fail(e, CC_ECONFLICT,
			      "the hash tiles of %s do not give the signed checkpoint's root%s",
			      source, mismatch ? " (nor the entries this node holds)" : "");
		goto out;
	}
	fr.n = n;
	fr.from = from;
	fr.leaves = (const unsigned char(*)[MERKLE_HASH])leaves;
	fr.source = source;
	fr.takeover = takeover;
	if ((ret = fetch_new(&f, source, from, size, 0, e)) < 0)
		goto out;
	node_rdlock(n);
	ret = fetch_publish(f, n->ledger);
	node_unlock(n);
	if (ret < 0) {
		cc_fail(e, ret, "out of memory");
		goto out;
	}
	if ((ret = fetch_run(f, follow_take, &fr, e)) < 0) {
		if (fr.alarm)
			follow_alarm(n, "invalid-entry", e->msg, NULL);
		goto out;
	}
	node_wrlock(n);
	if (ledger_size(n->ledger) != size) {
		node_unlock(n);
		ret = cc_fail(e, CC_ECONFLICT, "the log moved under the round");
		goto out;
	}
	/* kept as signed, less any line that does not verify (a source may add some) */
	if (witness_clean(n, ck, cklen, NULL, &clean) < 0 && !takeover) {
		node_unlock(n);
		ret = cc_fail(e, CC_ESIG, "the checkpoint lost its signature");
		goto out;
	}
	copy = takeover ? strndup(ck, cklen) : cbuf_take(&clean);
	if (copy == NULL) {
		node_unlock(n);
		ret = cc_fail(e, CC_ENOMEM, "out of memory");
		goto out;
	}
	free(n->batch.checkpoint);
	n->batch.checkpoint = copy;
	copy = NULL;
	/* an entry may have named another sequencer */
	node_role_update(n);
	node_batch_wait(n, NULL);
	node_unlock(n);
	if (node_wait_durable(n, size) < 0) {
		ret = cc_fail(e, CC_EIO, "the node is stopping");
	} else {
		ret = 1;
		split_judge(n);
	}
out:
	free(copy);
	cbuf_free(&clean);
	fetch_free(f);
	http_free(h);
	free(leaves);
	return ret;
}

int follow_sync(struct node *n, const char *sequencer, const char *ck, size_t cklen, int flags,
		struct cc_err *e)
{
	int ret;

	/* The mirrors first (they take load off the sequencer); each is checked as strictly as
	 * the sequencer, and one that serves something else is passed over. */
	for (int i = 0; i < n->nmirrors; i++) {
		struct cc_err me = {0};

		ret = follow_round(n, n->mirrors[i], ck, cklen, flags | FOLLOW_MIRROR, &me);
		if (ret >= 0 || ret == CC_EPERM) {
			if (ret == CC_EPERM)
				*e = me;
			return ret;
		}
		node_log("mirror %s: %s", n->mirrors[i], me.msg);
		if (node_alarmed(n)) {
			*e = me;
			return ret;
		}
	}
	return follow_round(n, sequencer, ck, cklen, flags, e);
}
