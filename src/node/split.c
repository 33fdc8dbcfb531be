#include "node/split.h"

#include <jansson.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "node/follow.h"
#include "node/jb64.h"
#include "node/node_impl.h"

/* A checkpoint signed by the sequencer: its size and root. */
static int split_read(const struct note_key *seq, const char *ck, size_t len, uint64_t *size,
		      unsigned char root[MERKLE_HASH])
{
	struct note note = {0};
	char origin[TLOG_ORIGIN_MAX + 1];
	int ret;

	if ((ret = note_parse(&note, ck, len, NULL)) < 0)
		return ret;
	ret = note_signed_by(&note, seq)
		  ? tlog_checkpoint_parse(note.text, note.text_len, origin, size, root, NULL)
		  : CC_ESIG;
	if (ret == 0 && strcmp(origin, seq->name) != 0)
		ret = CC_ECONFLICT;
	note_free(&note);
	return ret;
}

int split_against_log(struct node *n, const char *a, size_t len, struct cbuf *out)
{
	unsigned char r[MERKLE_HASH], rb[MERKLE_HASH], at[MERKLE_HASH];
	unsigned char proof[MERKLE_MAX_PROOF][MERKLE_HASH];
	struct note_key seq;
	uint64_t s, m, mb;
	json_t *j = NULL, *hashes;
	char *text = NULL;
	size_t np = 0;
	int ret = 0;

	node_rdlock(n);
	if (node_sequencer_key(n, &seq) < 0 || split_read(&seq, a, len, &s, r) < 0)
		goto out;
	m = n->pub_size;
	/* B: what this node holds, and it must be the same sequencer's word */
	if (s > m || n->checkpoint == NULL ||
	    split_read(&seq, n->checkpoint, strlen(n->checkpoint), &mb, rb) < 0 || mb != m ||
	    merkle_tree_root(&n->tree, s, at) < 0 || sodium_memcmp(at, r, MERKLE_HASH) == 0)
		goto out;
	if (s > 0 && s < m && merkle_tree_consistency(&n->tree, s, m, proof, &np) < 0)
		goto out;
	hashes = json_array();
	for (size_t i = 0; hashes && i < np; i++)
		json_array_append_new(hashes, jb64_new(proof[i], MERKLE_HASH));
	j = json_pack("{s:s%, s:s, s:o, s:o}", "a", a, len, "b", n->checkpoint, "root_at",
		      jb64_new(at, MERKLE_HASH), "consistency", hashes ? hashes : json_array());
	text = j ? json_dumps(j, JSON_COMPACT) : NULL;
	cbuf_reset(out);
	ret = text != NULL && cbuf_puts(out, text) == 0;
out:
	node_unlock(n);
	free(text);
	json_decref(j);
	return ret;
}

int split_check(struct node *n, const char *text, size_t len, struct cc_err *e)
{
	unsigned char r[MERKLE_HASH], rb[MERKLE_HASH], at[MERKLE_HASH];
	unsigned char proof[MERKLE_MAX_PROOF][MERKLE_HASH];
	json_t *j = json_loadb(text, len, 0, NULL), *hs, *h;
	const char *a, *b;
	struct note_key seq;
	uint64_t s, m;
	size_t np = 0, i;
	int ret;

	node_rdlock(n);
	ret = node_sequencer_key(n, &seq);
	node_unlock(n);
	if (ret < 0) {
		json_decref(j);
		return cc_fail(e, CC_ENOENT, "no sequencer");
	}
	a = json_string_value(json_object_get(j, "a"));
	b = json_string_value(json_object_get(j, "b"));
	hs = json_object_get(j, "consistency");
	ret = CC_EINVAL;
	if (a == NULL || b == NULL || !json_is_array(hs) ||
	    json_array_size(hs) > MERKLE_MAX_PROOF ||
	    jb64_get(json_object_get(j, "root_at"), at, MERKLE_HASH) < 0) {
		cc_fail(e, ret, "malformed evidence");
		goto out;
	}
	json_array_foreach(hs, i, h)
	{
		if (jb64_get(h, proof[np++], MERKLE_HASH) < 0) {
			cc_fail(e, ret, "malformed evidence");
			goto out;
		}
	}
	if (split_read(&seq, a, strlen(a), &s, r) < 0 ||
	    split_read(&seq, b, strlen(b), &m, rb) < 0) {
		cc_fail(e, ret, "the checkpoints are not both the sequencer's");
		goto out;
	}
	if (s > m ||
	    (s == m ? np != 0 || sodium_memcmp(at, rb, MERKLE_HASH) != 0
		    : merkle_verify_consistency(
			  s, m, at, rb, (const unsigned char(*)[MERKLE_HASH])proof, np) != 0)) {
		cc_fail(e, ret, "the proof does not take the smaller tree to the larger");
		goto out;
	}
	if (sodium_memcmp(at, r, MERKLE_HASH) == 0) {
		cc_fail(e, ret, "the two checkpoints agree");
		goto out;
	}
	ret = 0;
out:
	json_decref(j);
	return ret;
}

void split_alarm(struct node *n, const char *why, const char *evidence)
{
	follow_alarm(n, "equivocation", why, evidence);
}

void split_suspect(struct node *n, const char *a, size_t len)
{
	char *copy = strndup(a, len);

	node_wrlock(n);
	if (n->suspect == NULL) {
		n->suspect = copy;
		copy = NULL;
	}
	node_unlock(n);
	free(copy);
}

void split_judge(struct node *n)
{
	struct cbuf ev = CBUF_INIT;
	unsigned char r[MERKLE_HASH];
	struct note_key seq;
	uint64_t s = 0;
	char *a;
	int ready;

	node_wrlock(n);
	a = n->suspect;
	ready = a != NULL && node_sequencer_key(n, &seq) == 0 &&
		(split_read(&seq, a, strlen(a), &s, r) < 0 || s <= n->pub_size);
	if (ready)
		n->suspect = NULL;
	node_unlock(n);
	if (!ready)
		return;
	if (split_against_log(n, a, strlen(a), &ev) == 1)
		split_alarm(n,
			    "the sequencer signed a checkpoint that the log it signed since does "
			    "not contain",
			    ev.p);
	free(a);
	cbuf_free(&ev);
}
