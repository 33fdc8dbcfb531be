/* The answers to reads: checkpoint, tiles, network, proposals and their listings, records
 * with their proofs, the root. Apart from node.c: nothing here changes the node's state. */
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/dec.h"
#include "core/ledger.h"
#include "core/map.h"
#include "core/merkle.h"
#include "core/note.h"
#include "core/proposal.h"
#include "core/tlog.h"
#include "node/jb64.h"
#include "node/node_impl.h"
#include "node/store.h"

#define NODE_LIST_MAX 1000 /* proposals in one listing */

static json_t *json_strn(const char *s, size_t n)
{
	json_t *j = json_stringn(s, n);

	/* Everything rendered was validated as UTF-8 on the way in; never emit a broken doc. */
	return j ? j : json_string("");
}

static int json_out(json_t *j, struct cbuf *out)
{
	char *s;
	int ret;

	if (j == NULL)
		return CC_ENOMEM;
	s = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	if (s == NULL)
		return CC_ENOMEM;
	cbuf_reset(out);
	ret = cbuf_puts(out, s);
	free(s);
	return ret;
}

/* Appends np for a reader: pending ones are evaluated against the current state. */
static int prop_json_now(const struct node *n, const struct node_prop *np, struct cbuf *out)
{
	struct ledger_verdict *v = NULL;
	int ret;

	if (np->status == PS_PENDING) {
		v = malloc(sizeof(*v));
		if (v && node_prop_evaluate(n, np, node_now(n), v, NULL) < 0) {
			free(v);
			v = NULL;
		}
	}
	ret = node_prop_json(np, v, out);
	free(v);
	return ret;
}

const char *node_origin(const struct node *n)
{
	return n->origin;
}

const char *node_dir(const struct node *n)
{
	return n->dir;
}

int node_alarmed(struct node *n)
{
	int a;

	node_rdlock(n);
	a = n->alarm != NULL;
	node_unlock(n);
	return a;
}

int node_final_behind(struct node *n)
{
	int behind;

	node_rdlock(n);
	behind = ledger_witness_need(n->ledger) > 0 && n->final_size < n->pub_size;
	node_unlock(n);
	return behind;
}

int node_failover_note(struct node *n, struct cbuf *out)
{
	int ret = 0;

	node_rdlock(n);
	if (n->failover != NULL)
		ret = cbuf_puts(out, n->failover) < 0 ? CC_ENOMEM : 1;
	node_unlock(n);
	return ret;
}

int node_final(struct node *n, struct cbuf *out)
{
	int ret = 0;

	node_rdlock(n);
	if (n->final_ck != NULL)
		ret = cbuf_puts(out, n->final_ck) < 0 ? CC_ENOMEM : 1;
	node_unlock(n);
	return ret;
}

int node_alarm(struct node *n, struct cbuf *out)
{
	int ret = 0;

	node_rdlock(n);
	if (n->alarm != NULL)
		ret = cbuf_puts(out, n->alarm) < 0 ? CC_ENOMEM : 1;
	node_unlock(n);
	return ret;
}

const char *node_http(const struct node *n)
{
	return n->conf.http;
}

uint64_t node_size(struct node *n)
{
	uint64_t s;

	node_rdlock(n);
	s = n->pub_size;
	node_unlock(n);
	return s;
}

int node_stopping(struct node *n)
{
	return atomic_load(&n->stopping);
}

int node_checkpoint(struct node *n, struct cbuf *out)
{
	int ret;

	node_rdlock(n);
	cbuf_reset(out);
	ret = cbuf_puts(out, n->checkpoint);
	node_unlock(n);
	return ret;
}

static int bundle_add(void *ctx, uint64_t idx, const unsigned char *data, size_t len)
{
	return tlog_bundle_append(ctx, data, len) < 0 ? CC_ENOMEM : 0;
}

int node_tile(struct node *n, int level, uint64_t index, unsigned w, struct cbuf *out,
	      struct cc_err *e)
{
	uint64_t size, count;
	int ret = 0;

	cbuf_reset(out);
	if (w == 0 || w > TLOG_TILE_WIDTH || level < TLOG_LEVEL_ENTRIES || level > 63)
		return cc_fail(e, CC_ENOENT, "no such tile");
	node_rdlock(n);
	size = n->pub_size;
	/* Hashes held at this level of the durable tree (level L holds tree level 8L). */
	count = level <= 0 ? size : (8 * level >= 64 ? 0 : size >> (8 * level));
	/* Any width whose hashes are all durable is served: a client that read an older
	 * checkpoint can still fetch the partial tile it names while the log grows. */
	if (index > count / TLOG_TILE_WIDTH || index * TLOG_TILE_WIDTH + w > count) {
		node_unlock(n);
		return cc_fail(e, CC_ENOENT, "no such tile in a tree of %" PRIu64 " entries", size);
	}
	if (level >= 0) {
		ret = tlog_tile_hashes(&n->tree, level, index, w, out);
		node_unlock(n);
		return ret < 0 ? cc_fail(e, ret, "cannot build the tile") : 0;
	}
	node_unlock(n);
	/* Entries are immutable once durable: read them from the store without the lock. */
	pthread_mutex_lock(&n->rd_mu);
	ret = store_entries(n->rd, index * TLOG_TILE_WIDTH, w, bundle_add, out, e);
	pthread_mutex_unlock(&n->rd_mu);
	return ret;
}

static int policy_json(void *ctx, const char *path, const char *content, size_t len,
		       uint64_t version)
{
	return json_array_append_new(ctx, json_pack("{s:s, s:o, s:I}", "path", path, "content",
						    json_strn(content, len), "version",
						    (json_int_t)version)) < 0
		   ? CC_ENOMEM
		   : 0;
}

int node_network(struct node *n, struct cbuf *json, struct cc_err *e)
{
	json_t *o = json_object(), *members = json_array(), *policies = json_array();
	json_t *nodes = json_array();
	struct cbuf vk = CBUF_INIT;
	struct note_key seq;
	int ret = 0;

	if (!o || !members || !policies || !nodes) {
		ret = cc_fail(e, CC_ENOMEM, "out of memory");
		goto out;
	}
	node_rdlock(n);
	for (size_t i = 0; i < ledger_member_count(n->ledger); i++) {
		const struct ledger_member *m = ledger_member_at(n->ledger, i);

		cbuf_reset(&vk);
		note_vkey_format(&m->key, &vk);
		json_array_append_new(
		    members, json_pack("{s:s, s:s, s:s, s:o, s:I}", "id", m->id, "chamber",
				       chamber_name(m->chamber), "key", vk.p ? vk.p : "", "box",
				       jb64_new(m->box, 32), "version", (json_int_t)m->version));
	}
	ret = ledger_foreach(n->ledger, "policy/", policy_json, policies);
	json_object_set_new(o, "origin", json_string(n->origin));
	/* the key of the checkpoints served: the sequencer's, when the network names one */
	if (node_sequencer_key(n, &seq) == 0) {
		cbuf_reset(&vk);
		note_vkey_format(&seq, &vk);
		json_object_set_new(o, "log_key", json_string(vk.p ? vk.p : ""));
	} else {
		json_object_set_new(o, "log_key", json_string(n->log_vkey));
	}
	json_object_set_new(o, "node", json_string(n->conf.member));
	json_object_set_new(o, "sequencer", json_string(ledger_sequencer(n->ledger)));
	json_object_set_new(o, "following", json_boolean(n->following));
	json_object_set_new(o, "alarm", n->alarm ? json_loads(n->alarm, 0, NULL) : json_null());
	json_object_set_new(o, "witness_quorum", json_string(ledger_witness_quorum(n->ledger)));
	json_object_set_new(o, "witness_need", json_integer(ledger_witness_need(n->ledger)));
	json_object_set_new(o, "final_size", json_integer((json_int_t)n->final_size));
	json_object_set_new(o, "pending_copied",
			    json_integer((json_int_t)atomic_load(&n->pending_copied)));
	json_object_set_new(o, "pending_copied_at",
			    json_integer((json_int_t)atomic_load(&n->pending_copied_at)));
	for (size_t i = 0; i < ledger_node_count(n->ledger); i++) {
		const struct ledger_node *nd = ledger_node_at(n->ledger, i);

		json_array_append_new(nodes, json_pack("{s:s, s:s, s:o, s:o, s:I}", "id", nd->id,
						       "url", nd->url, "key", jb64_new(nd->key, 32),
						       "zsk", jb64_new(nd->zsk, 32), "version",
						       (json_int_t)nd->version));
	}
	json_object_set_new(o, "tree_size", json_integer((json_int_t)n->pub_size));
	json_object_set_new(o, "checkpoint", json_string(n->checkpoint));
	node_unlock(n);
	if (ret < 0) {
		ret = cc_fail(e, ret, "cannot list policies");
		goto out;
	}
	json_object_set_new(o, "members", members);
	json_object_set_new(o, "policies", policies);
	json_object_set_new(o, "nodes", nodes);
	members = policies = nodes = NULL;
	ret = json_out(o, json);
	o = NULL;
	if (ret < 0)
		ret = cc_fail(e, ret, "out of memory");
out:
	json_decref(o);
	json_decref(members);
	json_decref(policies);
	json_decref(nodes);
	cbuf_free(&vk);
	return ret;
}

/* The row of the proposal that log entry idx accepted, from the entry: the body, the
 * signatures it holds (all the proposal had, else its row was kept), the entry's time as
 * received. With rd_mu held. CC_ENOENT when the entry is not stored yet or holds no
 * proposal. */
static int entry_row(struct node *n, int64_t idx, struct store_proposal *row, struct cc_err *e)
{
	struct cbuf data = CBUF_INIT;
	struct note nt = {0};
	size_t h, rest;
	int ret;

	memset(row, 0, sizeof(*row));
	if ((ret = store_entry_get(n->rd, (uint64_t)idx, &data, e)) < 0)
		goto out;
	if (ledger_proposal_entry((const unsigned char *)data.p, data.len, &row->received, &h) <
	    0) {
		ret = cc_fail(e, CC_ENOENT, "log entry %" PRId64 " holds no proposal", idx);
		goto out;
	}
	if ((ret = note_parse(&nt, data.p + h, data.len - h, e)) < 0)
		goto out;
	rest = data.len - h - nt.text_len - 1; /* the signature lines, after the blank line */
	proposal_id(nt.text, nt.text_len, row->id);
	snprintf(row->status, sizeof(row->status), "%s", node_prop_status_name[PS_ACCEPTED]);
	row->idx = idx;
	row->body = strndup(nt.text, nt.text_len);
	row->sigs = strndup(data.p + h + nt.text_len + 1, rest);
	row->objections = strdup("");
	if (!row->body || !row->sigs || !row->objections)
		ret = cc_fail(e, CC_ENOMEM, "out of memory");
out:
	if (ret < 0)
		store_proposal_free(row);
	note_free(&nt);
	cbuf_free(&data);
	return ret;
}

/* The row of a proposal no longer in memory: its own, or (accepted whole into the log) one
 * from its entry. With rd_mu held; CC_ENOENT when unknown. */
static int final_row(struct node *n, const char *id, int64_t fin, struct store_proposal *row,
		     struct cc_err *e)
{
	int ret = store_proposal_get(n->rd, id, row, e);

	if (ret != CC_ENOENT || fin < FINAL_ACCEPTED0)
		return ret;
	ret = entry_row(n, fin - FINAL_ACCEPTED0, row, e);
	if (ret == 0 && strcmp(row->id, id) != 0) {
		store_proposal_free(row);
		ret = cc_fail(e, CC_EIO, "proposal %s: log entry %" PRId64 " holds another", id,
			      fin - FINAL_ACCEPTED0);
	}
	return ret;
}

/* Appends a stored row (a proposal no longer in memory). */
static int row_json(const struct node *n, const struct store_proposal *row, struct cbuf *out)
{
	struct node_prop *np;
	int ret;

	if (node_prop_from_row(n, row, 0, &np, NULL) < 0)
		return CC_EIO;
	ret = node_prop_json(np, NULL, out);
	node_prop_free(np);
	return ret;
}

int node_proposal(struct node *n, const char *id, struct cbuf *json, struct cc_err *e)
{
	struct store_proposal row;
	struct node_prop *np;
	int ret = 0, jr = 0;

	cbuf_reset(json);
	if (!node_id_valid(id))
		return cc_fail(e, CC_ENOENT, "no proposal %.80s", id);
	node_rdlock(n);
	np = map_get(&n->props, id);
	if (np) {
		jr = prop_json_now(n, np, json);
	} else {
		pthread_mutex_lock(&n->rd_mu);
		ret = final_row(n, id, node_finals_get(&n->finals, id), &row, e);
		pthread_mutex_unlock(&n->rd_mu);
		if (ret == 0) {
			jr = row_json(n, &row, json);
			store_proposal_free(&row);
		}
	}
	node_unlock(n);
	if (ret == CC_ENOENT)
		return cc_fail(e, ret, "no proposal %s", id);
	if (ret < 0)
		return ret;
	if (jr == CC_ENOMEM)
		return cc_fail(e, jr, "out of memory");
	if (jr < 0)
		return cc_fail(e, CC_EIO, "proposal %s: cannot render it", id);
	return 0;
}

#define LIST_CHUNK 256 /* log entries read at a time, walking back */

struct listed {			      /* one proposal of a listing, before it is written */
	int64_t t;		      /* when received, or its entry's time */
	int64_t idx;		      /* its log entry, or -1: it has a row */
	struct store_at at;	      /* a row's place among the rows */
	char id[PROPOSAL_ID_LEN + 1]; /* the row's id */
};

struct listing {	  /* state of node_proposals */
	struct node *n;	  /* the node */
	struct listed *v; /* collected, newest first */
	size_t nv, cap;	  /* used, allocated */
	size_t want;	  /* collected at most */
};

/* The number at *p, then stop (a separator, or the end with '\0'); *p moves past both. */
static int dec_field(const char **p, char stop, uint64_t max, uint64_t *v)
{
	int n = dec_parse(*p, strlen(*p), max, v);

	if (n < 0 || (*p)[n] != stop)
		return -1;
	*p += n + (stop != '\0');
	return 0;
}

int node_list_at_parse(struct node_list_at *at, const char *s)
{
	uint64_t log, t, r;

	if (s == NULL || dec_field(&s, '.', UINT64_MAX, &log) < 0 ||
	    dec_field(&s, '.', INT64_MAX, &t) < 0 || dec_field(&s, '\0', INT64_MAX, &r) < 0)
		return CC_EINVAL;
	at->log = log;
	at->received = (int64_t)t;
	at->rowid = (int64_t)r;
	return 0;
}

int node_list_at_moved(const struct node_list_at *a, const struct node_list_at *b)
{
	int row_le =
	    b->received < a->received || (b->received == a->received && b->rowid <= a->rowid);
	int row_eq = b->received == a->received && b->rowid == a->rowid;

	return b->log <= a->log && row_le && (b->log < a->log || !row_eq);
}

static int list_push(struct listing *ls, int64_t t, int64_t idx, const char *id)
{
	if (ls->nv == ls->cap) {
		size_t cap = ls->cap ? 2 * ls->cap : 64;
		struct listed *v = realloc(ls->v, cap * sizeof(*v));

		if (v == NULL)
			return CC_ENOMEM;
		ls->v = v;
		ls->cap = cap;
	}
	ls->v[ls->nv].t = t;
	ls->v[ls->nv].idx = idx;
	snprintf(ls->v[ls->nv].id, sizeof(ls->v[ls->nv].id), "%s", id ? id : "");
	ls->nv++;
	return 0;
}

static int list_row(void *ctx, const struct store_proposal *row)
{
	struct listing *ls = ctx;
	int ret = list_push(ls, row->received, -1, row->id);

	if (ret == 0)
		ls->v[ls->nv - 1].at = row->at;
	return ret;
}

static int list_entry(void *ctx, uint64_t idx, const unsigned char *data, size_t len)
{
	int64_t t;
	size_t h;

	return ledger_proposal_entry(data, len, &t, &h) < 0 ? 0
							    : list_push(ctx, t, (int64_t)idx, NULL);
}

/* The newest accepted proposals below entry before, from the log as stored: its last
 * proposal entries, newest first. Stored, not only under the checkpoint: the committer drops
 * the pending row of a proposal in the transaction that stores its entry, and raises pub_size
 * only after it. With rd_mu held. */
static int list_logged(struct listing *ls, uint64_t before, struct cc_err *e)
{
	uint64_t hi = ledger_size(ls->n->ledger), lo;
	int ret = 0;

	if (hi > before)
		hi = before;
	for (; hi > 0 && ls->nv < ls->want; hi = lo) {
		size_t mark = ls->nv;
		struct cc_err le = {0};

		lo = hi > LIST_CHUNK ? hi - LIST_CHUNK : 0;
		/* the entries of a batch not yet committed are missing at the end (CC_ENOENT) */
		ret = store_entries(ls->n->rd, lo, hi - lo, list_entry, ls, &le);
		if (ret == CC_ENOENT)
			ret = 0;
		if (ret < 0) {
			cc_fail(e, ret, "%s", le.msg);
			break;
		}
		for (size_t a = mark, b = ls->nv; a + 1 < b; a++, b--) {
			struct listed t = ls->v[a];

			ls->v[a] = ls->v[b - 1];
			ls->v[b - 1] = t;
		}
	}
	if (ls->nv > ls->want)
		ls->nv = ls->want;
	return ret;
}

/* Writes one collected proposal. With rd_mu held. */
static int list_write(struct node *n, const struct listed *it, struct cbuf *out, struct cc_err *e)
{
	struct store_proposal row, own;
	struct node_prop *np;
	int ret;

	if (it->idx < 0 && (np = map_get(&n->props, it->id)) != NULL)
		return prop_json_now(n, np, out) < 0 ? cc_fail(e, CC_ENOMEM, "out of memory") : 0;
	ret = it->idx < 0 ? store_proposal_get(n->rd, it->id, &row, e)
			  : entry_row(n, it->idx, &row, e);
	if (ret < 0)
		return ret;
	/* an entry's proposal with a row of its own: signatures the entry does not hold */
	if (it->idx >= 0 && store_proposal_get(n->rd, row.id, &own, NULL) == 0) {
		if (strcmp(own.status, node_prop_status_name[PS_ACCEPTED]) == 0) {
			store_proposal_free(&row);
			row = own;
		} else {
			store_proposal_free(&own);
		}
	}
	ret = row_json(n, &row, out);
	store_proposal_free(&row);
	if (ret == CC_ENOMEM)
		return cc_fail(e, ret, "out of memory");
	return ret < 0 ? cc_fail(e, CC_EIO, "cannot render a proposal") : 0;
}

void node_rows_changed(struct node *n)
{
	atomic_fetch_add(&n->rows_gen, 1);
}

/* A pending proposal's JSON depends on its row and, through "needs", on the state: the rows'
 * generation and the log's size cover both. */
void node_pending_etag(struct node *n, char etag[NODE_ETAG_MAX])
{
	uint64_t gen = atomic_load(&n->rows_gen), size;

	node_rdlock(n);
	size = ledger_size(n->ledger);
	node_unlock(n);
	snprintf(etag, NODE_ETAG_MAX, "\"%016" PRIx64 "-%" PRIu64 "-%" PRIu64 "\"", n->boot, gen,
		 size);
}

int node_proposals(struct node *n, const char *status, const char *before, const char *limit,
		   struct cbuf *json, struct cc_err *e)
{
	struct listing rows = {n, NULL, 0, 0, 0}, logged = {n, NULL, 0, 0, 0};
	struct node_list_at at = NODE_LIST_TOP, next;
	const char *lp = limit;
	uint64_t max = NODE_LIST_MAX;
	size_t a = 0, b = 0, count = 0;
	int ret = 0, st, took_row = 0, took_log = 0;

	for (st = 0; status && st < PS_COUNT; st++)
		if (strcmp(status, node_prop_status_name[st]) == 0)
			break;
	if (st == PS_COUNT)
		return cc_fail(e, CC_EINVAL,
			       "status must be pending, accepted, rejected or expired, not %.32s",
			       status);
	if (before && node_list_at_parse(&at, before) < 0)
		return cc_fail(e, CC_EINVAL,
			       "before must be the \"next\" of an earlier page, not %.64s", before);
	if (limit && (dec_field(&lp, '\0', NODE_LIST_MAX, &max) < 0 || max == 0))
		return cc_fail(e, CC_EINVAL, "limit must be a number from 1 to %d, not %.32s",
			       NODE_LIST_MAX, limit);
	/* one more than a page from each side: whether another page follows */
	rows.want = logged.want = (size_t)max + 1;
	next = at;
	cbuf_reset(json);
	if (cbuf_puts(json, "{\"proposals\":[") < 0)
		return cc_fail(e, CC_ENOMEM, "out of memory");
	node_rdlock(n);
	pthread_mutex_lock(&n->rd_mu);
	/* Accepted proposals are read from the log, the others from their rows; without a
	 * status, both lists merged by time. */
	if (st != PS_ACCEPTED)
		ret = store_proposals(n->rd, status, &(struct store_at){at.received, at.rowid},
				      rows.want, list_row, &rows, e);
	if (ret == 0 && (status == NULL || st == PS_ACCEPTED))
		ret = list_logged(&logged, at.log, e);
	while (ret == 0 && count < max && (a < rows.nv || b < logged.nv)) {
		int take_row = b == logged.nv || (a < rows.nv && rows.v[a].t > logged.v[b].t);
		const struct listed *it = take_row ? &rows.v[a++] : &logged.v[b++];
		size_t mark = json->len;

		if (take_row)
			next.received = it->at.received, next.rowid = it->at.rowid, took_row = 1;
		else
			next.log = (uint64_t)it->idx, took_log = 1;
		if (count && cbuf_putc(json, ',') < 0) {
			ret = cc_fail(e, CC_ENOMEM, "out of memory");
			break;
		}
		ret = list_write(n, it, json, e);
		if (ret == CC_ENOENT) {
			/* gone since it was listed (a log cut back): left out */
			json->len = mark;
			json->p[mark] = '\0';
			ret = 0;
		} else if (ret == 0) {
			count++;
		}
	}
	pthread_mutex_unlock(&n->rd_mu);
	node_unlock(n);
	/* A side this page took nothing from goes on from its first one: what arrived since
	 * comes before the cursor, not after it. */
	if (!took_row && rows.nv > 0) {
		next.received = rows.v[0].at.received;
		next.rowid = rows.v[0].at.rowid + (rows.v[0].at.rowid < INT64_MAX);
	} else if (!took_row) {
		next.received = next.rowid = 0;
	}
	if (!took_log)
		next.log = logged.nv > 0 ? (uint64_t)logged.v[0].idx + 1 : 0;
	if (ret == 0 && cbuf_puts(json, "],\"next\":") < 0)
		ret = cc_fail(e, CC_ENOMEM, "out of memory");
	/* collected but not written, or a side gave all it was asked for (some left out as
	 * gone): there is more */
	if (ret == 0 && (a < rows.nv || b < logged.nv || rows.nv == rows.want ||
			 logged.nv == logged.want)
		? cbuf_printf(json, "\"%" PRIu64 ".%" PRId64 ".%" PRId64 "\"}", next.log,
			      next.received, next.rowid) < 0
		: ret == 0 && cbuf_puts(json, "null}") < 0)
		ret = cc_fail(e, CC_ENOMEM, "out of memory");
	free(rows.v);
	free(logged.v);
	if (ret < 0) {
		cbuf_reset(json);
		return e && e->code ? ret : cc_fail(e, ret, "cannot list proposals");
	}
	return 0;
}

int node_record(struct node *n, const char *path, struct node_waiter *w, struct cbuf *json,
		struct cc_err *e)
{
	unsigned char(*proof)[MERKLE_HASH] = NULL;
	struct cbuf content = CBUF_INIT;
	char policy[PATH_MAX_LEN + 1];
	uint64_t version = 0;
	size_t np = 0;
	json_t *o = NULL, *hashes = NULL;
	int ret;

	if (path_valid(path, NULL) < 0)
		return cc_fail(e, CC_ENOENT, "no record %.300s (not a valid path)", path);
	proof = calloc(MERKLE_MAX_PROOF, MERKLE_HASH);
	if (proof == NULL)
		return cc_fail(e, CC_ENOMEM, "out of memory");
	node_rdlock(n);
	ret = ledger_get(n->ledger, path, &content, &version);
	if (ret == CC_ENOENT) {
		ret = cc_fail(e, ret, "no record %s", path);
		goto out;
	}
	if (ret < 0) {
		ret = cc_fail(e, ret, "cannot read %s", path);
		goto out;
	}
	/* The proof must be against a durable checkpoint: wait for the write to be one. */
	if (version >= n->pub_size) {
		if (n->stopping) {
			ret = cc_fail(e, CC_EIO, "%s: its last write is not durable yet", path);
			goto out;
		}
		/* a follower that stopped halfway through the sequencer's entries: no checkpoint
		 * will come for them */
		if (n->alarm != NULL) {
			ret = cc_fail(
			    e, CC_EIO,
			    "%s: written by an entry no checkpoint covers (this node stopped "
			    "following: GET /v1/alarm)",
			    path);
			goto out;
		}
		if (w)
			node_batch_wait(n, w);
		ret = 1;
		goto out;
	}
	if ((ret = merkle_tree_inclusion(&n->tree, version, n->pub_size, proof, &np)) < 0) {
		ret = cc_fail(e, ret, "cannot prove %s", path);
		goto out;
	}
	hashes = json_array();
	for (size_t i = 0; hashes && i < np; i++)
		json_array_append_new(hashes, jb64_new(proof[i], MERKLE_HASH));
	o = json_pack(
	    "{s:s, s:o, s:I, s:o, s:{s:I, s:I, s:o}, s:s}", "path", path, "content",
	    json_strn(content.p ? content.p : "", content.len), "version", (json_int_t)version,
	    "policy",
	    ledger_policy_for(n->ledger, path, policy) == 0 ? json_string(policy) : json_null(),
	    "proof", "leaf_index", (json_int_t)version, "tree_size", (json_int_t)n->pub_size,
	    "hashes", hashes ? hashes : json_array(), "checkpoint", n->checkpoint);
	hashes = NULL;
	/* final: in a checkpoint a witness quorum of the members' nodes cosigned */
	if (o && ledger_witness_need(n->ledger) > 0)
		json_object_set_new(o, "final", json_boolean(version < n->final_size));
	ret = json_out(o, json);
	if (ret < 0)
		ret = cc_fail(e, ret, "out of memory");
out:
	node_unlock(n);
	free(proof);
	cbuf_free(&content);
	return ret;
}

struct rec_listing {  /* state of node_records */
	json_t *list; /* records so far */
};

static int list_record(void *ctx, const char *path, const char *content, size_t len,
		       uint64_t version)
{
	struct rec_listing *rl = ctx;
	unsigned char h[crypto_hash_sha256_BYTES];
	char hex[2 * crypto_hash_sha256_BYTES + 1];

	crypto_hash_sha256(h, (const unsigned char *)content, len);
	sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
	return json_array_append_new(rl->list, json_pack("{s:s, s:I, s:s}", "path", path, "version",
							 (json_int_t)version, "sha256", hex)) < 0
		   ? CC_ENOMEM
		   : 0;
}

int node_records(struct node *n, const char *prefix, struct cbuf *json, struct cc_err *e)
{
	struct rec_listing rl = {json_array()};
	uint64_t size;
	int ret;

	if (rl.list == NULL)
		return cc_fail(e, CC_ENOMEM, "out of memory");
	node_rdlock(n);
	ret = ledger_foreach(n->ledger, prefix ? prefix : "", list_record, &rl);
	/* The listing is the state after every entry applied so far; answer once those are
	 * durable, with that tree size, so it can be checked against a checkpoint. */
	size = ledger_size(n->ledger);
	node_unlock(n);
	if (ret == 0 && node_wait_durable(n, size) < 0)
		ret = CC_EIO;
	if (ret < 0) {
		json_decref(rl.list);
		return cc_fail(e, ret, "cannot list records");
	}
	ret = json_out(json_pack("{s:I, s:o}", "tree_size", (json_int_t)size, "records", rl.list),
		       json);
	return ret < 0 ? cc_fail(e, ret, "out of memory") : 0;
}

int node_root(struct node *n, struct cbuf *text, struct cc_err *e)
{
	uint64_t size;
	int ret;

	cbuf_reset(text);
	node_rdlock(n);
	ret = ledger_export_root(n->ledger, text);
	size = ledger_size(n->ledger);
	node_unlock(n);
	if (ret == 0 && node_wait_durable(n, size) < 0)
		ret = CC_EIO;
	if (ret < 0)
		return cc_fail(e, ret, "cannot export the root");
	if (text->p == NULL && cbuf_reserve(text, 0) < 0)
		return cc_fail(e, CC_ENOMEM, "out of memory");
	return 0;
}
