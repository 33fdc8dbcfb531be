/* A node that no longer decides (it follows a sequencer after a failover) hands its pending
 * proposals, with their approvals and objections, to the sequencer through the outbox. */
#include <stdlib.h>
#include <time.h>

#include "core/map.h"
#include "core/note.h"
#include "node/node_impl.h"
#include "node/store.h"

struct hand_on {		  /* what a node hands to the sequencer */
	struct cbuf *path, *body; /* outbox requests */
	size_t n, cap;		  /* used, allocated */
};

static int hand_on_add(struct hand_on *h, const char *path, struct cbuf *body)
{
	if (h->n == h->cap) {
		size_t cap = h->cap ? 2 * h->cap : 16;
		struct cbuf *p = realloc(h->path, cap * sizeof(*p)), *b;

		if (p == NULL)
			return CC_ENOMEM;
		h->path = p;
		if ((b = realloc(h->body, cap * sizeof(*b))) == NULL)
			return CC_ENOMEM;
		h->body = b;
		h->cap = cap;
	}
	h->path[h->n] = (struct cbuf)CBUF_INIT;
	if (cbuf_puts(&h->path[h->n], path) < 0) {
		cbuf_free(&h->path[h->n]);
		return CC_ENOMEM;
	}
	/* the body is taken, not copied */
	h->body[h->n++] = *body;
	*body = (struct cbuf)CBUF_INIT;
	return 0;
}

static void hand_on_free(struct hand_on *h)
{
	for (size_t i = 0; i < h->n; i++) {
		cbuf_free(&h->path[i]);
		cbuf_free(&h->body[i]);
	}
	free(h->path);
	free(h->body);
}

/* One pending proposal for the sequencer: the proposal with every approval, then each
 * objection. Under the lock (shared). */
static int hand_on_one(const struct node *n, const struct node_prop *np, struct hand_on *h)
{
	struct cbuf note = CBUF_INIT, path = CBUF_INIT;
	int ret = cbuf_put(&note, np->p.body, np->p.body_len) < 0 || cbuf_putc(&note, '\n') < 0
		      ? CC_ENOMEM
		      : 0;

	for (size_t i = 0; ret == 0 && i < np->nsigs; i++)
		ret = note_format_sig(&np->sigs[i].sig, &note);
	if (ret == 0)
		ret = hand_on_add(h, "/v1/proposals", &note);
	if (ret == 0 && cbuf_printf(&path, "/v1/proposals/%s/objections", np->p.id) < 0)
		ret = CC_ENOMEM;
	for (size_t i = 0; ret == 0 && i < np->nobjs; i++) {
		cbuf_reset(&note);
		if (node_objection_text(&note, n->origin, np->p.id) < 0 ||
		    cbuf_putc(&note, '\n') < 0 || note_format_sig(&np->objs[i].sig, &note) < 0)
			ret = CC_ENOMEM;
		else
			ret = hand_on_add(h, path.p, &note);
	}
	cbuf_free(&note);
	cbuf_free(&path);
	return ret;
}

int node_hand_on(struct node *n, struct store *s, struct cc_err *e)
{
	struct hand_on h = {0};
	struct node_prop **v = NULL;
	size_t nv = 0;
	int ret = 0;

	/* What to send is read under the lock; it is written with no lock held (SQLite may
	 * wait for the committer's transaction). A follower's pending proposals change no
	 * more: requests go to the sequencer. */
	node_rdlock(n);
	if (!node_decides(n) && n->props.n > 0 && (v = calloc(n->props.n, sizeof(*v))) != NULL)
		for (size_t i = 0; i < n->props.cap; i++) {
			struct node_prop *np = n->props.slot[i].key ? n->props.slot[i].val : NULL;

			if (np && np->status == PS_PENDING)
				v[nv++] = node_prop_ref(np);
		}
	for (size_t i = 0; ret == 0 && i < nv; i++)
		ret = hand_on_one(n, v[i], &h);
	node_unlock(n);
	if (ret < 0) {
		cc_fail(e, ret, "out of memory");
		goto out;
	}
	if (nv == 0 || (ret = store_begin(s, e)) < 0)
		goto out;
	for (size_t i = 0; ret == 0 && i < h.n; i++)
		ret = store_outbox_put(s, h.path[i].p, h.body[i].p, h.body[i].len,
				       (int64_t)time(NULL), e);
	for (size_t i = 0; ret == 0 && i < nv; i++)
		ret = store_proposal_forget_pending(s, v[i]->p.id, e);
	if (ret == 0)
		ret = store_commit(s, e);
	if (ret < 0) /* a COMMIT that failed (busy) leaves the transaction open */
		store_rollback(s);
	if (ret < 0)
		goto out;
	node_rows_changed(n);
	node_wrlock(n);
	for (size_t i = 0; i < nv; i++)
		if (map_get(&n->props, v[i]->p.id) == v[i]) {
			map_del(&n->props, v[i]->p.id);
			node_pend_untally(n, v[i]);
			node_prop_unref(v[i]);
		}
	node_unlock(n);
	node_log("%zu pending proposals handed to the sequencer: this node follows it", nv);
out:
	for (size_t i = 0; i < nv; i++)
		node_prop_unref(v[i]);
	free(v);
	hand_on_free(&h);
	return ret < 0 ? ret : (int)(nv > 0);
}
