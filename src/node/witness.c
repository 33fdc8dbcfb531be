#include "node/witness.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/sha256.h"
#include "node/follow.h"
#include "node/node_impl.h"
#include "node/split.h"

void witness_name(char out[NOTE_NAME_MAX + 1], const char *origin, const char *id)
{
	unsigned char h[SHA256_DIGEST];
	int n = snprintf(out, NOTE_NAME_MAX + 1, "%s/%s", origin, id);

	if (n >= 0 && n <= NOTE_NAME_MAX)
		return;
	/* a long origin: still one name per node and network */
	sha256_digest(origin, strlen(origin), h);
	snprintf(out, NOTE_NAME_MAX + 1, "concord/%s/%02x%02x%02x%02x", id, h[0], h[1], h[2], h[3]);
}

unsigned witness_count(const struct node *n, const struct note *ck)
{
	size_t nn = ledger_node_count(n->ledger);
	unsigned count = 0;

	for (size_t i = 0; i < nn; i++) {
		const struct ledger_node *nd = ledger_node_at(n->ledger, i);
		char name[NOTE_NAME_MAX + 1];

		witness_name(name, n->origin, nd->id);
		for (size_t j = 0; j < ck->nsigs; j++)
			if (ck->sigs[j].cosig &&
			    note_cosig_verify(name, nd->key, ck->text, ck->text_len,
					      &ck->sigs[j]) == 0) {
				count++;
				break;
			}
	}
	return count;
}

int witness_clean(const struct node *n, const char *ck, size_t len, const char *more,
		  struct cbuf *out)
{
	struct note a = {0}, b = {0};
	struct note_key seq;
	size_t nn = ledger_node_count(n->ledger);
	int ret, count = 0, signed_ok = 0;

	cbuf_reset(out);
	if ((ret = note_parse(&a, ck, len, NULL)) < 0 || (ret = node_sequencer_key(n, &seq)) < 0)
		goto out;
	if (more && note_parse(&b, more, strlen(more), NULL) == 0 &&
	    (b.text_len != a.text_len || memcmp(b.text, a.text, a.text_len) != 0))
		note_free(&b);
	if ((ret = cbuf_put(out, a.text, a.text_len)) < 0 || (ret = cbuf_puts(out, "\n")) < 0)
		goto out;
	for (size_t i = 0; ret == 0 && i < a.nsigs; i++)
		if (note_verify(&seq, a.text, a.text_len, &a.sigs[i]) == 0) {
			ret = note_format_sig(&a.sigs[i], out);
			signed_ok = 1;
		}
	if (ret == 0 && !signed_ok)
		ret = CC_ESIG;
	/* one verified cosignature per node, from either note */
	for (size_t k = 0; ret == 0 && k < nn; k++) {
		const struct ledger_node *nd = ledger_node_at(n->ledger, k);
		const struct note *from[2] = {&a, &b};
		char name[NOTE_NAME_MAX + 1];
		int found = 0;

		witness_name(name, n->origin, nd->id);
		for (int w = 0; w < 2 && !found; w++)
			for (size_t i = 0; i < from[w]->nsigs && !found; i++)
				if (from[w]->sigs[i].cosig &&
				    note_cosig_verify(name, nd->key, a.text, a.text_len,
						      &from[w]->sigs[i]) == 0) {
					ret = note_format_sig(&from[w]->sigs[i], out);
					found = 1;
				}
		count += found;
	}
out:
	note_free(&a);
	note_free(&b);
	return ret < 0 ? ret : count;
}

/* Reads a checkpoint note: parsed note and its size. */
static int ck_read(const char *ck, size_t len, struct note *note, uint64_t *size,
		   unsigned char root[MERKLE_HASH], struct cc_err *e)
{
	char origin[TLOG_ORIGIN_MAX + 1];
	int ret = note_parse(note, ck, len, e);

	if (ret == 0)
		ret = tlog_checkpoint_parse(note->text, note->text_len, origin, size, root, e);
	if (ret < 0)
		note_free(note);
	return ret;
}

void node_final_load(struct node *n, const char *ck, size_t len)
{
	struct note note;
	unsigned char root[MERKLE_HASH];
	uint64_t size;

	if (ck_read(ck, len, &note, &size, root, NULL) < 0)
		return;
	note_free(&note);
	free(n->final_ck);
	n->final_ck = strndup(ck, len);
	n->final_size = n->final_ck ? size : 0;
	atomic_store(&n->final_known, n->final_size);
}

/* Under the exclusive lock: keep (owned) is the new last final checkpoint, of size. */
static void final_set(struct node *n, uint64_t size, char *keep)
{
	free(n->final_ck);
	n->final_ck = keep;
	n->final_size = size;
	atomic_store(&n->final_known, size);
	node_final_wake(n, 0);
	/* kept by the committer with its next batch */
	free(n->batch.final);
	n->batch.final = strdup(keep);
	node_batch_wait(n, NULL);
}

void witness_finality(struct node *n)
{
	struct note note;
	unsigned char root[MERKLE_HASH];
	unsigned need = ledger_witness_need(n->ledger);
	uint64_t size;
	char *keep;

	if (need == 0 || n->checkpoint == NULL ||
	    ck_read(n->checkpoint, strlen(n->checkpoint), &note, &size, root, NULL) < 0)
		return;
	if (size > n->final_size && witness_count(n, &note) >= need &&
	    (keep = strdup(n->checkpoint)) != NULL)
		final_set(n, size, keep);
	note_free(&note);
}

void witness_status(struct node *n, uint64_t *final_size, unsigned *have, unsigned *need)
{
	struct note note;
	unsigned char root[MERKLE_HASH];
	uint64_t size;

	node_rdlock(n);
	*final_size = n->final_size;
	*need = ledger_witness_need(n->ledger);
	*have = 0;
	if (n->checkpoint &&
	    ck_read(n->checkpoint, strlen(n->checkpoint), &note, &size, root, NULL) == 0) {
		*have = witness_count(n, &note);
		note_free(&note);
	}
	node_unlock(n);
}

/* Under the lock: this node's cosigning key and name, when the network lists it with the key
 * it holds. */
static int witness_me(const struct node *n, char name[NOTE_NAME_MAX + 1])
{
	const struct ledger_node *me = ledger_node(n->ledger, n->conf.member);

	if (me == NULL || memcmp(me->key, n->key.key.pub, 32) != 0)
		return 0;
	witness_name(name, n->origin, me->id);
	return 1;
}

int witness_self(struct node *n, struct cbuf *ck)
{
	char name[NOTE_NAME_MAX + 1];
	const char *end = strstr(ck->p, "\n\n");
	struct note_sig sig;
	int ret = 0, me;

	if (end == NULL)
		return CC_EINVAL;
	node_rdlock(n);
	me = witness_me(n, name);
	node_unlock(n);
	if (!me)
		return 0;
	ret = note_cosign(&n->key, name, (uint64_t)time(NULL), ck->p, (size_t)(end - ck->p) + 1,
			  &sig);
	if (ret == 0)
		ret = note_format_sig(&sig, ck);
	return ret;
}

/* A tlog-witness answer. */
static void answer(long *status, char ctype[128], struct cbuf *out, long code, const char *ct,
		   const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static void answer(long *status, char ctype[128], struct cbuf *out, long code, const char *ct,
		   const char *fmt, ...)
{
	char text[600];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	*status = code;
	snprintf(ctype, 128, "%s", ct);
	cbuf_reset(out);
	if (cbuf_puts(out, text) < 0)
		*status = 500;
}

/* 409: the size of the tree this node holds, as tlog-witness writes it. */
static void answer_size(long *status, char ctype[128], struct cbuf *out, uint64_t held)
{
	*status = 409;
	snprintf(ctype, 128, "%s", CT_TLOG_SIZE);
	cbuf_reset(out);
	if (tlog_size_text(out, held) < 0)
		*status = 500;
}

void witness_add(struct node *n, const char *body, size_t len, long *status, char ctype[128],
		 struct cbuf *out)
{
	const char *p, *end;
	unsigned char proof[TLOG_WITNESS_PROOF_MAX][MERKLE_HASH], root[MERKLE_HASH],
	    mine[MERKLE_HASH];
	char seq_url[NODE_URL_MAX + 1], name[NOTE_NAME_MAX + 1], origin[TLOG_ORIGIN_MAX + 1];
	struct note note = {0};
	struct note_key seq, now;
	struct note_sig sig;
	struct cc_err e = {0};
	struct cbuf ev = CBUF_INIT;
	uint64_t old, size, held;
	size_t np, at;
	int ret, following, me;

	if (body == NULL || tlog_witness_parse(body, len, &old, proof, &np, &at, &e) < 0) {
		answer(status, ctype, out, 400, "text/plain",
		       "malformed request (\"old N\", proof lines, an empty line, then the "
		       "checkpoint): %s\n",
		       body ? e.msg : "no body");
		return;
	}
	p = body + at;
	end = body + len;
	if (note_parse(&note, p, (size_t)(end - p), &e) < 0 ||
	    tlog_checkpoint_parse(note.text, note.text_len, origin, &size, root, &e) < 0) {
		answer(status, ctype, out, 400, "text/plain", "bad checkpoint: %s\n", e.msg);
		goto out;
	}
	if (strcmp(origin, n->origin) != 0) {
		answer(status, ctype, out, 404, "text/plain", "unknown log %s\n", origin);
		goto out;
	}
	node_rdlock(n);
	ret = node_sequencer_key(n, &seq);
	following = n->following;
	me = witness_me(n, name);
	held = n->pub_size;
	if (merkle_tree_root(&n->tree, held, mine) < 0)
		ret = CC_ENOMEM;
	node_unlock(n);
	if (ret < 0 || !note_signed_by(&note, &seq)) {
		answer(status, ctype, out, 403, "text/plain",
		       "the checkpoint is not signed by the sequencer\n");
		goto out;
	}
	if (old > size) {
		answer(status, ctype, out, 400, "text/plain",
		       "old size %" PRIu64 " > %" PRIu64 "\n", old, size);
		goto out;
	}
	if (old != held) {
		answer_size(status, ctype, out, held);
		goto out;
	}
	if (old == size
		? sodium_memcmp(mine, root, MERKLE_HASH) != 0
		: merkle_verify_consistency(old, size, mine, root,
					    (const unsigned char(*)[MERKLE_HASH])proof, np) != 0) {
		/* Same size, other root: a split view, proved at once. A proof that does not
		 * hold may be a bad proof: judged once this node holds a log that large. */
		if (old == size && split_against_log(n, p, (size_t)(end - p), &ev) == 1)
			split_alarm(n, "two checkpoints of one size with different roots", ev.p);
		else if (old != size)
			split_suspect(n, p, (size_t)(end - p));
		if (old == size)
			answer_size(status, ctype, out, held);
		else
			answer(status, ctype, out, 422, "text/plain",
			       "inconsistent (size %" PRIu64 ")\n", held);
		goto out;
	}
	/* A cosignature says this node holds and checked that log: take it first. */
	if (following && node_sequencer_url(n, seq_url, sizeof(seq_url)) &&
	    (ret = follow_sync(n, seq_url, p, (size_t)(end - p), FOLLOW_TRY, &e)) < 0) {
		answer(status, ctype, out, 503, "text/plain", "cannot take the log: %s\n", e.msg);
		goto out;
	}
	if (!me) {
		answer(status, ctype, out, 503, "text/plain",
		       "this node's key is not the one its node record lists\n");
		goto out;
	}
	/* Cosigned under the lock a failover note takes: either this node holds the note by
	 * now and cosigns nothing of the deposed sequencer's, or the checkpoint it cosigns is
	 * already the one it serves, where a takeover that asks after the note finds it. */
	node_rdlock(n);
	held = n->pub_size;
	if ((ret = node_sequencer_key(n, &now)) == 0 &&
	    (now.id != seq.id || memcmp(now.pub, seq.pub, sizeof(seq.pub)) != 0))
		ret = CC_EPERM;
	if (ret == 0 && held >= size)
		ret = note_cosign(&n->key, name, (uint64_t)time(NULL), note.text, note.text_len,
				  &sig);
	node_unlock(n);
	if (ret < 0 || held < size) {
		answer(status, ctype, out, ret == CC_EPERM ? 403 : 503, "text/plain", "%s\n",
		       ret == CC_EPERM ? "the checkpoint is not signed by the sequencer"
		       : ret < 0       ? "cannot cosign"
				       : "the log is not held yet");
		goto out;
	}
	*status = 200;
	snprintf(ctype, 128, "text/plain; charset=utf-8");
	cbuf_reset(out);
	if (note_format_sig(&sig, out) < 0)
		*status = 500;
	/* the sequencer's cosignatures so far come along */
	witness_merge(n, p, (size_t)(end - p));
out:
	cbuf_free(&ev);
	note_free(&note);
}

#ifdef CONCORD_TEST_EQUIVOCATE
/* Test-only (make EQUIVOCATE=1): the checkpoint shown to the node CONCORD_EQUIVOCATE names is
 * the real one's size over another root, signed all the same: a split view to be caught. */
static int witness_forge(struct node *n, const char *to, struct cbuf *ck)
{
	const char *victim = getenv("CONCORD_EQUIVOCATE");
	unsigned char root[MERKLE_HASH];
	struct cbuf text = CBUF_INIT;
	struct note_sig sig;
	int ret;

	if (victim == NULL || strcmp(victim, to) != 0)
		return 0;
	if ((ret = merkle_tree_root(&n->tree, n->pub_size, root)) < 0)
		return ret;
	root[0] ^= 0x5a;
	cbuf_reset(ck);
	ret = tlog_checkpoint_text(&text, n->origin, n->pub_size, root);
	if (ret == 0)
		ret = note_sign(&n->key, text.p, text.len, &sig);
	if (ret == 0)
		ret = note_format(text.p, text.len, &sig, 1, ck);
	cbuf_free(&text);
	return ret;
}
#endif

int witness_request(struct node *n, const char *to, uint64_t old, struct cbuf *body, uint64_t *size,
		    struct cc_err *e)
{
	unsigned char proof[MERKLE_MAX_PROOF][MERKLE_HASH];
	struct cbuf forged = CBUF_INIT;
	const char *ck;
	size_t np = 0;
	int ret = 0;

	cbuf_reset(body);
	node_rdlock(n);
	*size = n->pub_size;
	ck = n->checkpoint;
#ifdef CONCORD_TEST_EQUIVOCATE
	if (ck != NULL && witness_forge(n, to, &forged) == 0 && forged.len > 0)
		ck = forged.p;
#else
	(void)to;
#endif
	if (ck == NULL)
		ret = cc_fail(e, CC_ENOENT, "no checkpoint yet");
	else if (old > *size)
		ret = cc_fail(e, CC_EINVAL, "old size %" PRIu64 " beyond the log", old);
	else if (old > 0 && old < *size &&
		 merkle_tree_consistency(&n->tree, old, *size, proof, &np) < 0)
		ret = cc_fail(e, CC_ENOMEM, "cannot make the consistency proof");
	else if ((ret = tlog_witness_request(body, old, (const unsigned char(*)[MERKLE_HASH])proof,
					     np, ck, strlen(ck))) < 0)
		cc_fail(e, ret, "%s",
			ret == CC_ENOMEM ? "out of memory" : "the consistency proof is too long");
	node_unlock(n);
	cbuf_free(&forged);
	return ret;
}

/* Under the exclusive lock: the recent checkpoint of that size, NULL when it is gone. */
static char **recent_of(struct node *n, uint64_t size)
{
	for (int i = 0; i < NODE_RECENT; i++)
		if (n->recent[i].ck != NULL && n->recent[i].size == size)
			return &n->recent[i].ck;
	return NULL;
}

void witness_recent(struct node *n, uint64_t size, const char *ck)
{
	struct node_recent *r = &n->recent[n->nrecent++ % NODE_RECENT];

	free(r->ck);
	r->ck = strdup(ck);
	r->size = size;
}

void witness_forget_recent(struct node *n)
{
	for (int i = 0; i < NODE_RECENT; i++) {
		free(n->recent[i].ck);
		n->recent[i].ck = NULL;
	}
	n->nrecent = 0;
}

int witness_take(struct node *n, const char *id, uint64_t size, const char *answer_text, size_t len,
		 struct cc_err *e)
{
	struct note_sig *sigs = NULL;
	struct note note = {0};
	struct cbuf line = CBUF_INIT;
	unsigned char root[MERKLE_HASH], mine[MERKLE_HASH];
	char name[NOTE_NAME_MAX + 1], **ck, *grown;
	const struct ledger_node *nd;
	size_t nsigs = 0;
	uint64_t cur;
	int ret, taken = 0;
	unsigned need;

	witness_name(name, n->origin, id);
	if ((ret = note_parse_sigs(&sigs, &nsigs, answer_text, len, e)) < 0)
		return ret;
	node_wrlock(n);
	nd = ledger_node(n->ledger, id);
	/* Cosignatures are kept for the last few checkpoints: a witness answers after the
	 * sequencer has signed more, and an older checkpoint's quorum is finality too. */
	ck = recent_of(n, size);
	if (nd == NULL || ck == NULL || ck_read(*ck, strlen(*ck), &note, &cur, root, e) < 0) {
		ret = 0;
		goto out;
	}
	for (size_t i = 0; i < nsigs && !taken; i++) {
		if (note_cosig_verify(name, nd->key, note.text, note.text_len, &sigs[i]) != 0)
			continue;
		/* a cosignature of that node already there: nothing to add */
		for (size_t j = 0; j < note.nsigs; j++)
			if (note.sigs[j].cosig &&
			    note_cosig_verify(name, nd->key, note.text, note.text_len,
					      &note.sigs[j]) == 0)
				goto out;
		if (note_format_sig(&sigs[i], &line) < 0 ||
		    (grown = malloc(strlen(*ck) + line.len + 1)) == NULL) {
			ret = cc_fail(e, CC_ENOMEM, "out of memory");
			goto out;
		}
		strcpy(grown, *ck);
		strcat(grown, line.p);
		free(*ck);
		*ck = grown;
		taken = 1;
	}
	if (!taken) {
		ret = cc_fail(e, CC_ESIG, "no valid cosignature by %s", name);
		goto out;
	}
	/* the current checkpoint is served with what it has */
	if (size == n->pub_size && (grown = strdup(*ck)) != NULL) {
		free(n->checkpoint);
		n->checkpoint = grown;
	}
	note_free(&note);
	need = ledger_witness_need(n->ledger);
	/* final only for the log held: the tree this node has at that size */
	if (need > 0 && size > n->final_size && size <= n->pub_size &&
	    ck_read(*ck, strlen(*ck), &note, &cur, root, NULL) == 0 &&
	    merkle_tree_root(&n->tree, size, mine) == 0 &&
	    sodium_memcmp(mine, root, MERKLE_HASH) == 0 && witness_count(n, &note) >= need &&
	    (grown = strdup(*ck)) != NULL)
		final_set(n, size, grown);
out:
	node_unlock(n);
	note_free(&note);
	cbuf_free(&line);
	free(sigs);
	return ret;
}

void witness_merge(struct node *n, const char *ck, size_t len)
{
	struct cbuf clean = CBUF_INIT;
	struct note held = {0}, got = {0};
	unsigned char r1[MERKLE_HASH], r2[MERKLE_HASH];
	uint64_t s1, s2;
	int have;

	if (ck_read(ck, len, &got, &s1, r1, NULL) < 0)
		return;
	node_wrlock(n);
	/* only what verifies is kept: the sequencer's signature and node cosignatures */
	if (n->checkpoint &&
	    ck_read(n->checkpoint, strlen(n->checkpoint), &held, &s2, r2, NULL) == 0 && s1 == s2 &&
	    sodium_memcmp(r1, r2, MERKLE_HASH) == 0 &&
	    (have = witness_clean(n, ck, len, n->checkpoint, &clean)) > 0 &&
	    (unsigned)have > witness_count(n, &held)) {
		free(n->checkpoint);
		n->checkpoint = cbuf_take(&clean);
		witness_finality(n);
	}
	node_unlock(n);
	cbuf_free(&clean);
	note_free(&got);
	note_free(&held);
}

void witness_final_offer(struct node *n, const char *ck, size_t len)
{
	struct cbuf clean = CBUF_INIT;
	struct note note = {0};
	unsigned char root[MERKLE_HASH], mine[MERKLE_HASH];
	uint64_t size;
	int have;

	if (ck_read(ck, len, &note, &size, root, NULL) < 0)
		return;
	node_wrlock(n);
	if (size <= n->final_size || size > n->pub_size ||
	    merkle_tree_root(&n->tree, size, mine) < 0 ||
	    sodium_memcmp(mine, root, MERKLE_HASH) != 0)
		goto out;
	have = witness_clean(n, ck, len, NULL, &clean);
	if (have > 0 && (unsigned)have >= ledger_witness_need(n->ledger))
		final_set(n, size, cbuf_take(&clean));
out:
	node_unlock(n);
	cbuf_free(&clean);
	note_free(&note);
}
