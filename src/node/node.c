#include "node/node.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "core/ledger.h"
#include "core/map.h"
#include "core/merkle.h"
#include "core/note.h"
#include "core/proposal.h"
#include "core/tfmt.h"
#include "core/tlog.h"
#include "node/conf.h"
#include "node/store.h"

#define NODE_LIST_MAX 1000 /* proposals in one listing */
#define NODE_TICK_SEC 1	   /* timer period: expiries and consultation periods */

enum prop_status { PS_PENDING, PS_ACCEPTED, PS_REJECTED, PS_EXPIRED, PS_COUNT };

static const char *const prop_status_name[PS_COUNT] = {"pending", "accepted", "rejected",
						       "expired"};

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
};

struct node_batch {		     /* changes waiting for the committer */
	struct cbuf *entries;	     /* new log entries, in index order */
	size_t nentries;	     /* used */
	size_t capentries;	     /* allocated */
	uint64_t first;		     /* index of entries[0] */
	struct store_proposal *rows; /* proposal rows to upsert, in order */
	size_t nrows;		     /* used */
	size_t caprows;		     /* allocated */
	struct node_waiter *head;    /* requests to wake after the commit (under q_mu) */
	struct node_waiter **tail;   /* where the next waiter goes */
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
	struct ledger *ledger;	  /* state, possibly ahead of the disk by one batch */
	struct merkle_tree tree;  /* every entry's leaf, same size as the ledger */
	struct map props;	  /* id -> node_prop: pending, and final ones not yet durable */
	struct node_batch batch;  /* changes not yet taken by the committer */
	uint64_t seq;		  /* batches taken by the committer so far */
	uint64_t pub_size;	  /* durable log size, that of the checkpoint below */
	char *checkpoint;	  /* latest durable signed checkpoint */
	int stopping;		  /* node_stop has begun: no more changes */
	struct ledger_verdict *v; /* scratch verdict for the exclusive holder */

	pthread_mutex_t q_mu;  /* wakes the committer; guards batch.head/tail */
	pthread_cond_t q_cond; /* signalled on a new change or stop */
	int q_kick;	       /* a change is queued */
	int q_stop;	       /* the committer must finish */
	pthread_t committer;   /* the committer thread */
	int started;	       /* committer running */
};

/* ---- small helpers ---- */

static void node_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* Memory is ahead of the disk and cannot be made to agree: stop; a restart replays the disk. */
static void node_fatal(const char *fmt, ...)
{
	va_list ap;

	fputs("concordd: fatal: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	_exit(1);
}

static void node_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void node_log(const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* One write per line so lines from several threads do not interleave. */
	fprintf(stderr, "concordd: %s\n", line);
}

static void rdlock(struct node *n)
{
	pthread_rwlock_rdlock(&n->lock);
}

static void wrlock(struct node *n)
{
	pthread_rwlock_wrlock(&n->lock);
}

static void unlock(struct node *n)
{
	pthread_rwlock_unlock(&n->lock);
}

/* The time written into entries: the clock, but never before the last entry. */
static int64_t node_now(const struct node *n)
{
	int64_t now = (int64_t)time(NULL), last = ledger_time(n->ledger);

	return now > last ? now : last;
}

static int id_valid(const char *id)
{
	size_t i;

	for (i = 0; id[i]; i++)
		if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
			return 0;
	return i == PROPOSAL_ID_LEN;
}

static int objection_text(struct cbuf *out, const char *origin, const char *id)
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

static void prop_free(struct node_prop *np)
{
	if (np == NULL)
		return;
	proposal_free(&np->p);
	free(np->sigs);
	free(np->objs);
	free(np->reason);
	free(np);
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
static int vsig_merge(const struct ledger *l, struct node_vsig **v, size_t *n,
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
static int prop_evaluate(const struct node *n, const struct node_prop *np, int64_t now,
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

/* ---- JSON ---- */

static json_t *json_time(int64_t t)
{
	char s[TFMT_LEN + 1];

	tfmt_format(t, s);
	return json_string(s);
}

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

/* Renders np as docs/api.md's proposal object; v is its current verdict when pending (or
 * NULL: needs are then empty). */
static json_t *prop_json(const struct node_prop *np, const struct ledger_verdict *v)
{
	json_t *o = json_object(), *ops = json_array(), *signers = json_array(),
	       *objectors = json_array(), *needs = json_array();
	struct note_sig *sigs = NULL;
	struct cbuf note = CBUF_INIT;

	if (!o || !ops || !signers || !objectors || !needs)
		goto fail;
	for (size_t i = 0; i < np->p.nops; i++) {
		const struct proposal_op *op = &np->p.ops[i];

		json_array_append_new(ops, json_pack("{s:s, s:s, s:o}", "op",
						     op->kind == OP_PUT ? "put" : "delete", "path",
						     op->path, "version",
						     op->version == PROPOSAL_VERSION_NEW
							 ? json_null()
							 : json_integer(op->version)));
	}
	sigs = calloc(np->nsigs + 1, sizeof(*sigs));
	if (sigs == NULL)
		goto fail;
	for (size_t i = 0; i < np->nsigs; i++) {
		json_array_append_new(signers, json_string(np->sigs[i].sig.name));
		sigs[i] = np->sigs[i].sig;
	}
	for (size_t i = 0; i < np->nobjs; i++)
		json_array_append_new(objectors, json_string(np->objs[i].sig.name));
	for (unsigned i = 0; v && i < v->nneeds; i++) {
		const struct ledger_need *nd = &v->needs[i];
		json_t *cand = json_array();
		const char *s = nd->candidates;

		while (cand && *s) {
			const char *sp = strchr(s, ' ');
			size_t len = sp ? (size_t)(sp - s) : strlen(s);

			if (len)
				json_array_append_new(cand, json_strn(s, len));
			s += len + (sp != NULL);
		}
		json_array_append_new(needs,
				      json_pack("{s:s, s:s, s:s, s:I, s:I, s:b, s:o}", "policy",
						nd->policy, "path", nd->path, "what", nd->what,
						"have", (json_int_t)nd->have, "need",
						(json_int_t)nd->need, "met", nd->have >= nd->need,
						"candidates", cand ? cand : json_array()));
	}
	if (note_format(np->p.body, np->p.body_len, sigs, np->nsigs, &note) < 0)
		cbuf_reset(&note);
	json_object_set_new(o, "id", json_string(np->p.id));
	json_object_set_new(o, "status", json_string(prop_status_name[np->status]));
	json_object_set_new(o, "proposer", json_string(np->p.proposer));
	json_object_set_new(o, "created", json_time(np->p.created));
	json_object_set_new(o, "expires", json_time(np->p.expires));
	json_object_set_new(o, "ops", ops);
	json_object_set_new(o, "signers", signers);
	json_object_set_new(o, "objectors", objectors);
	json_object_set_new(o, "needs", needs);
	json_object_set_new(o, "not_before", v ? json_time(v->not_before) : json_null());
	json_object_set_new(o, "index", np->idx >= 0 ? json_integer(np->idx) : json_null());
	json_object_set_new(o, "reason", np->reason ? json_string(np->reason) : json_null());
	json_object_set_new(o, "body", json_strn(np->p.body, np->p.body_len));
	json_object_set_new(o, "note", json_strn(note.p ? note.p : "", note.len));
	free(sigs);
	cbuf_free(&note);
	return o;
fail:
	json_decref(o);
	json_decref(ops);
	json_decref(signers);
	json_decref(objectors);
	json_decref(needs);
	return NULL;
}

/* Renders np for a reader: pending ones are evaluated against the current state. */
static json_t *prop_json_now(const struct node *n, const struct node_prop *np)
{
	struct ledger_verdict *v = NULL;
	json_t *j;

	if (np->status == PS_PENDING) {
		v = malloc(sizeof(*v));
		if (v && prop_evaluate(n, np, node_now(n), v, NULL) < 0) {
			free(v);
			v = NULL;
		}
	}
	j = prop_json(np, v);
	free(v);
	return j;
}

/* ---- rows ---- */

static int prop_row(const struct node *n, const struct node_prop *np, struct store_proposal *row)
{
	struct cbuf sigs = CBUF_INIT, objs = CBUF_INIT;
	int ret = 0;

	memset(row, 0, sizeof(*row));
	memcpy(row->id, np->p.id, sizeof(row->id));
	snprintf(row->status, sizeof(row->status), "%s", prop_status_name[np->status]);
	row->received = np->received;
	row->idx = np->idx;
	for (size_t i = 0; ret == 0 && i < np->nsigs; i++)
		ret = note_format_sig(&np->sigs[i].sig, &sigs);
	/* Objection notes are stored whole, one signature each, so anyone can re-check them. */
	for (size_t i = 0; ret == 0 && i < np->nobjs; i++) {
		ret = objection_text(&objs, n->origin, np->p.id);
		if (ret == 0)
			ret = cbuf_putc(&objs, '\n');
		if (ret == 0)
			ret = note_format_sig(&np->objs[i].sig, &objs);
	}
	row->body = strndup(np->p.body, np->p.body_len);
	row->sigs = cbuf_take(&sigs);
	row->objections = cbuf_take(&objs);
	if (np->reason)
		row->reason = strdup(np->reason);
	if (ret < 0 || !row->body || !row->sigs || !row->objections ||
	    (np->reason && !row->reason)) {
		store_proposal_free(row);
		ret = CC_ENOMEM;
	}
	cbuf_free(&sigs);
	cbuf_free(&objs);
	return ret;
}

/* Parses stored signature lines; with verify, keeps those that still verify against the
 * member registry (a restart re-checks what it reloads). */
static int prop_load_sigs(const struct node *n, const char *text, size_t len, const char *body,
			  size_t blen, int verify, struct node_vsig **out, size_t *nout,
			  struct cc_err *e)
{
	struct note_sig *sigs = NULL;
	size_t nsigs = 0;
	int ret;

	if (len == 0)
		return 0;
	if ((ret = note_parse_sigs(&sigs, &nsigs, text, len, e)) < 0)
		return ret;
	for (size_t i = 0; i < nsigs; i++) {
		struct node_vsig s;
		struct cc_err ve = {0};

		memset(&s, 0, sizeof(s));
		s.sig = sigs[i];
		if (verify) {
			const struct ledger_member *m =
			    ledger_check_sig(n->ledger, body, blen, &sigs[i], &ve);

			if (m == NULL) {
				node_log("dropping a stored signature: %s", ve.msg);
				continue;
			}
			s.key = m->key;
		}
		if ((ret = vsig_merge(n->ledger, out, nout, &s)) < 0)
			break;
	}
	free(sigs);
	return ret < 0 ? ret : 0;
}

/* Builds an in-memory proposal from a stored row. */
static int prop_from_row(const struct node *n, const struct store_proposal *row, int verify,
			 struct node_prop **out, struct cc_err *e)
{
	struct node_prop *np = calloc(1, sizeof(*np));
	struct cbuf ob = CBUF_INIT;
	const char *s, *end;
	int ret = 0;

	*out = NULL;
	if (np == NULL)
		return cc_fail(e, CC_ENOMEM, "out of memory");
	np->idx = -1;
	if ((ret = proposal_parse(&np->p, row->body, strlen(row->body), e)) < 0)
		goto out;
	for (np->status = 0; np->status < PS_COUNT; np->status++)
		if (strcmp(row->status, prop_status_name[np->status]) == 0)
			break;
	if (np->status == PS_COUNT) {
		ret = cc_fail(e, CC_EINVAL, "proposal %s: unknown status %s", row->id, row->status);
		goto out;
	}
	np->received = row->received;
	np->idx = row->idx;
	if (row->reason && (np->reason = strdup(row->reason)) == NULL) {
		ret = cc_fail(e, CC_ENOMEM, "out of memory");
		goto out;
	}
	ret = prop_load_sigs(n, row->sigs, strlen(row->sigs), np->p.body, np->p.body_len, verify,
			     &np->sigs, &np->nsigs, e);
	if (ret < 0)
		goto out;
	if ((ret = objection_text(&ob, n->origin, np->p.id)) < 0)
		goto out;
	s = row->objections;
	end = s + strlen(s);
	while (s < end) {
		const char *nl;

		if ((size_t)(end - s) < ob.len + 1 || memcmp(s, ob.p, ob.len) != 0 ||
		    s[ob.len] != '\n') {
			ret = cc_fail(e, CC_EINVAL, "proposal %s: bad stored objection", row->id);
			goto out;
		}
		s += ob.len + 1;
		nl = memchr(s, '\n', (size_t)(end - s));
		if (nl == NULL) {
			ret = cc_fail(e, CC_EINVAL, "proposal %s: bad stored objection", row->id);
			goto out;
		}
		ret = prop_load_sigs(n, s, (size_t)(nl + 1 - s), ob.p, ob.len, verify, &np->objs,
				     &np->nobjs, e);
		if (ret < 0)
			goto out;
		s = nl + 1;
	}
	*out = np;
	np = NULL;
out:
	cbuf_free(&ob);
	prop_free(np);
	return ret;
}

/* ---- the batch ---- */

static void batch_init(struct node_batch *b, uint64_t first)
{
	memset(b, 0, sizeof(*b));
	b->first = first;
	b->tail = &b->head;
}

static void batch_free(struct node_batch *b)
{
	for (size_t i = 0; i < b->nentries; i++)
		cbuf_free(&b->entries[i]);
	free(b->entries);
	for (size_t i = 0; i < b->nrows; i++)
		store_proposal_free(&b->rows[i]);
	free(b->rows);
	batch_init(b, 0);
}

/* Queues a new entry (taking its buffer). Under the exclusive lock. */
static void batch_entry(struct node *n, struct cbuf *entry)
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

/* Queues np's row. Under the exclusive lock. */
static void batch_row(struct node *n, const struct node_prop *np)
{
	struct node_batch *b = &n->batch;

	if (b->nrows == b->caprows) {
		size_t cap = b->caprows ? 2 * b->caprows : 16;
		struct store_proposal *v = realloc(b->rows, cap * sizeof(*v));

		if (v == NULL)
			node_fatal("out of memory queueing a proposal");
		b->rows = v;
		b->caprows = cap;
	}
	if (prop_row(n, np, &b->rows[b->nrows]) < 0)
		node_fatal("out of memory queueing a proposal");
	b->nrows++;
}

/* Registers w for the batch being filled and wakes the committer. Under the lock (shared or
 * exclusive): the committer takes a batch only with the exclusive lock. */
static void batch_wait(struct node *n, struct node_waiter *w)
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

/* Gives np a final status; it stays in memory until that is durable. */
static void prop_finish(struct node *n, struct node_prop *np, int status, const char *reason)
{
	np->status = status;
	free(np->reason);
	np->reason = reason ? strdup(reason) : NULL;
	np->final_seq = n->seq + 1;
	batch_row(n, np);
	if (status != PS_ACCEPTED) /* prop_decide says more */
		node_log("%s %.16s: %s", prop_status_name[status], np->p.id, reason ? reason : "");
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
	if (prop_evaluate(n, np, np->p.expires, n->v, &e) < 0) {
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
 * the verdict afterwards. On error the ledger is unchanged and np still pending. */
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
		batch_entry(n, &entry);
		prop_finish(n, np, PS_ACCEPTED, NULL);
		node_log("accepted %.16s at index %" PRId64 " (%zu signatures)", np->p.id, np->idx,
			 ns);
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

/* Looks a proposal up in the store; 0 and r untouched when unknown there too. */
static int stored_final(struct node *n, const char *id, struct node_reply *r)
{
	struct store_proposal row;
	struct cc_err e = {0};
	int ret, st;

	pthread_mutex_lock(&n->rd_mu);
	ret = store_proposal_get(n->rd, id, &row, &e);
	pthread_mutex_unlock(&n->rd_mu);
	if (ret == CC_ENOENT)
		return 0;
	if (ret < 0) {
		reply_fail(r, ret, "%s", e.msg);
		return 1;
	}
	for (st = 0; st < PS_COUNT; st++)
		if (strcmp(row.status, prop_status_name[st]) == 0)
			break;
	if (st == PS_PENDING || st == PS_COUNT)
		/* Every pending proposal is in memory: a pending row not there is a bug. */
		reply_fail(r, CC_EIO, "proposal %s: inconsistent state", id);
	else
		final_error(r, id, st, row.idx, row.reason);
	store_proposal_free(&row);
	return 1;
}

/* Applies c to proposal id: merges, evaluates, acts. */
static int node_change(struct node *n, const char *id, struct change *c, struct node_waiter *w,
		       struct node_reply *r)
{
	struct node_prop *np, *fresh = NULL;
	struct node_vsig *sigs = NULL, *objs = NULL, *old_sigs, *old_objs;
	size_t nsigs = 0, nobjs = 0, old_nsigs, old_nobjs, added = 0;
	char what[32];
	int64_t now;
	int ret, status;

	snprintf(what, sizeof(what), "%.16s", id);
	wrlock(n);
	if (n->stopping) {
		reply_fail(r, CC_EIO, "the node is shutting down");
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
		if ((ret = vsig_merge(n->ledger, &sigs, &nsigs, &c->sigs[i])) < 0)
			goto nomem;
		added += (size_t)ret;
	}
	for (size_t i = 0; i < c->nobjs; i++) {
		if ((ret = vsig_merge(n->ledger, &objs, &nobjs, &c->objs[i])) < 0)
			goto nomem;
		added += (size_t)ret;
	}
	old_sigs = np->sigs, old_nsigs = np->nsigs, old_objs = np->objs, old_nobjs = np->nobjs;
	np->sigs = sigs, np->nsigs = nsigs, np->objs = objs, np->nobjs = nobjs;
	now = node_now(n);
	ret = prop_decide(n, np, now, 1, &r->err);
	if (ret < 0) {
		/* Refused: put the proposal back as it was, then see whether it is itself dead
		 * (stale, expired) or only this request was wrong. */
		np->sigs = old_sigs, np->nsigs = old_nsigs, np->objs = old_objs,
		np->nobjs = old_nobjs;
		old_sigs = sigs, old_objs = objs;
		if (fresh == NULL) {
			struct cc_err e2 = {0};

			if (prop_evaluate(n, np, now, n->v, &e2) < 0)
				prop_dead(n, np, &e2);
		}
		free(old_sigs);
		free(old_objs);
		reply_err(r, what);
		goto done;
	}
	free(old_sigs);
	free(old_objs);
	if (fresh) {
		if (map_put(&n->props, np->p.id, np) < 0)
			node_fatal("out of memory");
		fresh = NULL;
		if (np->status == PS_PENDING)
			node_log("pending %.16s (%zu signatures)", np->p.id, np->nsigs);
		status = np->status == PS_ACCEPTED ? NODE_CREATED : NODE_ACCEPTED;
	} else {
		status = np->status == PS_ACCEPTED ? NODE_CREATED : NODE_OK;
		if (added && np->status == PS_PENDING)
			node_log("pending %.16s (%zu signatures, %zu objections)", np->p.id,
				 np->nsigs, np->nobjs);
	}
	if (json_out(prop_json(np, np->status == PS_PENDING ? n->v : NULL), &r->body) < 0)
		node_fatal("out of memory");
	r->status = status;
	/* Acknowledged once durable, even when nothing changed: the state the reply shows
	 * may itself still be in the batch. */
	batch_wait(n, w);
	unlock(n);
	prop_free(fresh);
	return 1;
nomem:
	free(sigs);
	free(objs);
	reply_fail(r, CC_ENOMEM, "out of memory");
done:
	unlock(n);
	prop_free(fresh);
	return 0;
}

/* Checks each signature against the member registry, under the shared lock so that
 * verifications run in parallel with each other but never with a change to the registry. */
static int verify_sigs(struct node *n, const char *body, size_t len, const struct note_sig *sigs,
		       size_t nsigs, struct node_vsig **out, struct cc_err *e)
{
	struct node_vsig *v = calloc(nsigs + 1, sizeof(*v));

	*out = NULL;
	if (v == NULL)
		return cc_fail(e, CC_ENOMEM, "out of memory");
	for (size_t i = 0; i < nsigs; i++) {
		const struct ledger_member *m;

		rdlock(n);
		m = ledger_check_sig(n->ledger, body, len, &sigs[i], e);
		if (m)
			v[i].key = m->key;
		unlock(n);
		if (m == NULL) {
			free(v);
			return e->code ? e->code : CC_ESIG;
		}
		v[i].sig = sigs[i];
	}
	*out = v;
	return 0;
}

int node_submit(struct node *n, const char *text, size_t len, struct node_waiter *w,
		struct node_reply *r)
{
	struct note note = {0};
	struct proposal p = {0};
	struct change c = {0};
	int ret;

	memset(r, 0, sizeof(*r));
	if (note_parse(&note, text, len, &r->err) < 0 ||
	    proposal_parse(&p, note.text, note.text_len, &r->err) < 0) {
		ret = reply_err(r, "proposal");
		goto out;
	}
	if (strcmp(p.origin, n->origin) != 0) {
		cc_fail(&r->err, CC_EINVAL, "proposal is for network \"%s\", this is \"%s\"",
			p.origin, n->origin);
		ret = reply_err(r, p.id);
		goto out;
	}
	if (verify_sigs(n, p.body, p.body_len, note.sigs, note.nsigs, &c.sigs, &r->err) < 0) {
		ret = reply_err(r, p.id);
		goto out;
	}
	c.nsigs = note.nsigs;
	c.p = &p;
	ret = node_change(n, p.id, &c, w, r);
out:
	free(c.sigs);
	proposal_free(&p);
	note_free(&note);
	return ret;
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
	if (!id_valid(id))
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
	rdlock(n);
	np = map_get(&n->props, id);
	pending = np && np->status == PS_PENDING;
	if (pending) {
		blen = np->p.body_len;
		body = strndup(np->p.body, blen);
	}
	unlock(n); /* np may be gone from here on */
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
	if (!id_valid(id))
		return reply_fail(r, CC_ENOENT, "no proposal %.80s", id);
	if (note_parse(&note, text, len, &r->err) < 0) {
		ret = reply_err(r, id);
		goto out;
	}
	if (objection_text(&want, n->origin, id) < 0) {
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

static void node_sweep(struct node *n)
{
	int64_t now = node_now(n);

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
	}
}

/* ---- the committer ---- */

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
	int ret = 0;

	if (b->nentries) {
		if (tlog_checkpoint_text(&text, n->origin, size, root) < 0 ||
		    note_sign(&n->key, text.p, text.len, &sig) < 0 ||
		    note_format(text.p, text.len, &sig, 1, &ck) < 0)
			node_fatal("cannot sign the checkpoint for size %" PRIu64, size);
	}
	if (b->nentries || b->nrows) {
		ret = store_begin(n->wr, &e);
		for (size_t i = 0; ret == 0 && i < b->nentries; i++)
			ret = store_entry_put(n->wr, b->first + i, b->entries[i].p,
					      b->entries[i].len, &e);
		for (size_t i = 0; ret == 0 && i < b->nrows; i++)
			ret = store_proposal_put(n->wr, &b->rows[i], &e);
		if (ret == 0 && b->nentries)
			ret = store_meta_put(n->wr, "checkpoint", ck.p, &e);
		if (ret == 0)
			ret = store_commit(n->wr, &e);
		if (ret < 0)
			node_fatal("commit of log entries %" PRIu64 "..%" PRIu64 " failed: %s",
				   b->first, size, e.msg);
	}
	wrlock(n);
	if (b->nentries) {
		free(n->checkpoint);
		n->checkpoint = cbuf_take(&ck);
		n->pub_size = size;
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
		map_del(&n->props, gone[i]->p.id);
		prop_free(gone[i]);
	}
	free(gone);
	unlock(n);
	pthread_mutex_lock(&n->q_mu);
	w = b->head;
	b->head = NULL;
	pthread_mutex_unlock(&n->q_mu);
	for (; w; w = next) {
		next = w->next;
		w->done(w);
	}
	cbuf_free(&text);
	cbuf_free(&ck);
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

		pthread_mutex_lock(&n->q_mu);
		for (;;) {
			mono_now(&now);
			if (n->q_kick || n->q_stop || ts_after(&now, &tick))
				break;
			pthread_cond_timedwait(&n->q_cond, &n->q_mu, &tick);
		}
		n->q_kick = 0;
		stop = n->q_stop;
		pthread_mutex_unlock(&n->q_mu);

		wrlock(n);
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
		unlock(n);
		if (b.first + b.nentries != size)
			node_fatal("batch holds entries %" PRIu64 "+%zu, the tree has %" PRIu64,
				   b.first, b.nentries, size);
		if (b.nentries || b.nrows || b.head)
			node_commit(n, &b, seq, size, root);
		batch_free(&b);
	}
	return NULL;
}

int node_start(struct node *n, struct cc_err *e)
{
	if (pthread_create(&n->committer, NULL, node_committer, n) != 0)
		return cc_fail(e, CC_EIO, "cannot start the committer thread");
	n->started = 1;
	return 0;
}

void node_stop(struct node *n)
{
	struct node_waiter *w, *next;

	wrlock(n);
	n->stopping = 1;
	unlock(n);
	if (n->started) {
		pthread_mutex_lock(&n->q_mu);
		n->q_stop = 1;
		pthread_cond_signal(&n->q_cond);
		pthread_mutex_unlock(&n->q_mu);
		pthread_join(n->committer, NULL);
		n->started = 0;
	}
	/* Nothing can be queued any more; wake anyone left (only without a committer). */
	pthread_mutex_lock(&n->q_mu);
	w = n->batch.head;
	n->batch.head = NULL;
	n->batch.tail = &n->batch.head;
	pthread_mutex_unlock(&n->q_mu);
	for (; w; w = next) {
		next = w->next;
		w->done(w);
	}
}

/* ---- open and close ---- */

struct replay {		  /* state of the startup replay */
	struct node *n;	  /* the node */
	struct cc_err *e; /* where to report */
};

static int replay_entry(void *ctx, uint64_t idx, const unsigned char *data, size_t len)
{
	struct replay *rp = ctx;
	unsigned char leaf[MERKLE_HASH];
	struct cc_err e = {0};

	if (ledger_apply_entry(rp->n->ledger, data, len, 0, &e) < 0)
		return cc_fail(rp->e, CC_ECONFLICT, "%s: log entry %" PRIu64 " does not apply: %s",
			       CONF_DB_FILE, idx, e.msg);
	merkle_leaf_hash(data, len, leaf);
	if (merkle_tree_append(&rp->n->tree, leaf) < 0)
		return cc_fail(rp->e, CC_ENOMEM, "out of memory");
	return 0;
}

/* Checks the stored checkpoint against the replayed tree and the log key. */
static int node_check_checkpoint(struct node *n, const char *text, size_t len, struct cc_err *e)
{
	struct note note = {0};
	char origin[TLOG_ORIGIN_MAX + 1];
	unsigned char root[MERKLE_HASH], want[MERKLE_HASH];
	uint64_t size, have = ledger_size(n->ledger);
	int ret, signed_ok = 0;

	if ((ret = note_parse(&note, text, len, e)) < 0)
		goto out;
	for (size_t i = 0; i < note.nsigs; i++)
		if (note_verify(&n->key.key, note.text, note.text_len, &note.sigs[i]) == 0)
			signed_ok = 1;
	if (!signed_ok) {
		ret = cc_fail(e, CC_ESIG, "%s: the stored checkpoint is not signed by %s",
			      CONF_DB_FILE, CONF_KEY_FILE);
		goto out;
	}
	if ((ret = tlog_checkpoint_parse(note.text, note.text_len, origin, &size, root, e)) < 0)
		goto out;
	if (strcmp(origin, n->origin) != 0) {
		ret =
		    cc_fail(e, CC_ECONFLICT, "%s: the checkpoint is for \"%s\", the log for \"%s\"",
			    CONF_DB_FILE, origin, n->origin);
		goto out;
	}
	if (size != have) {
		ret = cc_fail(e, CC_ECONFLICT,
			      "%s: the checkpoint covers %" PRIu64
			      " entries, the store holds %" PRIu64,
			      CONF_DB_FILE, size, have);
		goto out;
	}
	if ((ret = merkle_tree_root(&n->tree, size, want)) < 0)
		goto out;
	if (sodium_memcmp(root, want, MERKLE_HASH) != 0) {
		ret = cc_fail(e, CC_ECONFLICT,
			      "%s: the checkpoint's root hash does not match the %" PRIu64
			      " stored entries (the store was altered or is corrupt)",
			      CONF_DB_FILE, size);
		goto out;
	}
out:
	note_free(&note);
	return ret;
}

static int reload_prop(void *ctx, const struct store_proposal *row)
{
	struct replay *rp = ctx;
	struct node_prop *np;
	int ret;

	if ((ret = prop_from_row(rp->n, row, 1, &np, rp->e)) < 0)
		return ret;
	if (np->status != PS_PENDING || map_get(&rp->n->props, np->p.id) ||
	    map_put(&rp->n->props, np->p.id, np) < 0) {
		prop_free(np);
		return cc_fail(rp->e, CC_EIO, "%s: cannot reload proposal %s", CONF_DB_FILE,
			       row->id);
	}
	return 0;
}

int node_open(struct node **out, const char *dir, struct cc_err *e)
{
	char path[CONF_PATH_MAX];
	struct cbuf ck = CBUF_INIT, vk = CBUF_INIT;
	struct replay rp;
	struct node *n;
	uint64_t count;
	pthread_rwlockattr_t ra;
	pthread_condattr_t ca;
	int ret;

	*out = NULL;
	n = calloc(1, sizeof(*n));
	if (n == NULL)
		return cc_fail(e, CC_ENOMEM, "out of memory");
	snprintf(n->dir, sizeof(n->dir), "%s", dir);
	n->dirfd = -1;
	pthread_mutex_init(&n->rd_mu, NULL);
	pthread_rwlockattr_init(&ra);
	/* Signature checks hold the shared lock; without writer preference a steady stream of
	 * them could starve the appends. */
	pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&n->lock, &ra);
	pthread_rwlockattr_destroy(&ra);
	pthread_mutex_init(&n->q_mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&n->q_cond, &ca);
	pthread_condattr_destroy(&ca);
	merkle_tree_init(&n->tree);
	batch_init(&n->batch, 0);
	n->ledger = ledger_new();
	n->v = malloc(sizeof(*n->v));
	if (n->ledger == NULL || n->v == NULL) {
		ret = cc_fail(e, CC_ENOMEM, "out of memory");
		goto out;
	}
	/* One process per directory: two would append different entries at the same index. */
	n->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (n->dirfd < 0) {
		ret = cc_fail(e, errno == ENOENT ? CC_ENOENT : CC_EIO, "%s", strerror(errno));
		goto out;
	}
	if (flock(n->dirfd, LOCK_EX | LOCK_NB) < 0) {
		ret = cc_fail(e, CC_EEXIST,
			      errno == EWOULDBLOCK ? "another concordd is running on this directory"
						   : "cannot lock the directory");
		goto out;
	}
	if ((ret = conf_read(&n->conf, dir, e)) < 0)
		goto out;
	if ((ret = conf_read_key(&n->key, dir, e)) < 0)
		goto out;
	if ((ret = conf_path(path, dir, CONF_DB_FILE, e)) < 0)
		goto out;
	if ((ret = store_open(&n->wr, path, 0, e)) < 0)
		goto out;
	if ((ret = store_open(&n->rd, path, STORE_READONLY, e)) < 0)
		goto out;
	if ((ret = store_entry_count(n->wr, &count, e)) < 0)
		goto out;
	rp.n = n;
	rp.e = e;
	if ((ret = store_entries(n->wr, 0, count, replay_entry, &rp, e)) < 0)
		goto out;
	if (!ledger_ready(n->ledger)) {
		ret = cc_fail(e, CC_ECONFLICT, "%s: the genesis in the log is incomplete",
			      CONF_DB_FILE);
		goto out;
	}
	snprintf(n->origin, sizeof(n->origin), "%s", ledger_origin(n->ledger));
	if (strcmp(n->key.key.name, n->origin) != 0) {
		ret = cc_fail(e, CC_ECONFLICT, "%s: the key is named \"%s\", the network is \"%s\"",
			      CONF_KEY_FILE, n->key.key.name, n->origin);
		goto out;
	}
	if ((ret = store_meta_get(n->wr, "checkpoint", &ck, e)) < 0)
		goto out;
	if ((ret = node_check_checkpoint(n, ck.p, ck.len, e)) < 0)
		goto out;
	n->checkpoint = cbuf_take(&ck);
	n->pub_size = count;
	if ((ret = note_vkey_format(&n->key.key, &vk)) < 0)
		goto out;
	n->log_vkey = cbuf_take(&vk);
	batch_init(&n->batch, count);
	if (ledger_member(n->ledger, n->conf.member) == NULL)
		node_log("warning: %s names member %s, who is not a member of %s", CONF_FILE,
			 n->conf.member, n->origin);
	if ((ret = store_proposals(n->wr, "pending", (size_t)INT64_MAX, reload_prop, &rp, e)) < 0)
		goto out;
	*out = n;
	n = NULL;
out:
	cbuf_free(&ck);
	cbuf_free(&vk);
	node_close(n);
	return ret;
}

void node_close(struct node *n)
{
	if (n == NULL)
		return;
	if (n->started)
		node_stop(n);
	for (size_t i = 0; i < n->props.cap; i++)
		if (n->props.slot[i].key)
			prop_free(n->props.slot[i].val);
	map_free(&n->props);
	batch_free(&n->batch);
	merkle_tree_free(&n->tree);
	ledger_free(n->ledger);
	store_close(n->wr);
	store_close(n->rd);
	free(n->checkpoint);
	free(n->log_vkey);
	free(n->v);
	sodium_memzero(&n->key, sizeof(n->key));
	if (n->dirfd >= 0)
		close(n->dirfd); /* releases the lock, after the store is closed */
	pthread_mutex_destroy(&n->rd_mu);
	pthread_rwlock_destroy(&n->lock);
	pthread_mutex_destroy(&n->q_mu);
	pthread_cond_destroy(&n->q_cond);
	free(n);
}

/* ---- reads ---- */

const char *node_origin(const struct node *n)
{
	return n->origin;
}

const char *node_http(const struct node *n)
{
	return n->conf.http;
}

uint64_t node_size(struct node *n)
{
	uint64_t s;

	rdlock(n);
	s = n->pub_size;
	unlock(n);
	return s;
}

int node_stopping(struct node *n)
{
	int s;

	rdlock(n);
	s = n->stopping;
	unlock(n);
	return s;
}

int node_checkpoint(struct node *n, struct cbuf *out)
{
	int ret;

	rdlock(n);
	cbuf_reset(out);
	ret = cbuf_puts(out, n->checkpoint);
	unlock(n);
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
	rdlock(n);
	size = n->pub_size;
	/* Hashes held at this level of the durable tree (level L holds tree level 8L). */
	count = level <= 0 ? size : (8 * level >= 64 ? 0 : size >> (8 * level));
	/* Any width whose hashes are all durable is served: a client that read an older
	 * checkpoint can still fetch the partial tile it names while the log grows. */
	if (index > count / TLOG_TILE_WIDTH || index * TLOG_TILE_WIDTH + w > count) {
		unlock(n);
		return cc_fail(e, CC_ENOENT, "no such tile in a tree of %" PRIu64 " entries", size);
	}
	if (level >= 0) {
		ret = tlog_tile_hashes(&n->tree, level, index, w, out);
		unlock(n);
		return ret < 0 ? cc_fail(e, ret, "cannot build the tile") : 0;
	}
	unlock(n);
	/* Entries are immutable once durable: read them from the store without the lock. */
	pthread_mutex_lock(&n->rd_mu);
	ret = store_entries(n->rd, index * TLOG_TILE_WIDTH, w, bundle_add, out, e);
	pthread_mutex_unlock(&n->rd_mu);
	return ret;
}

static json_t *b64_json(const unsigned char *bin, size_t len)
{
	char s[256];

	if (sodium_base64_encoded_len(len, sodium_base64_VARIANT_ORIGINAL) > sizeof(s))
		return json_null();
	sodium_bin2base64(s, sizeof(s), bin, len, sodium_base64_VARIANT_ORIGINAL);
	return json_string(s);
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
	struct cbuf vk = CBUF_INIT;
	int ret = 0;

	if (!o || !members || !policies) {
		ret = cc_fail(e, CC_ENOMEM, "out of memory");
		goto out;
	}
	rdlock(n);
	for (size_t i = 0; i < ledger_member_count(n->ledger); i++) {
		const struct ledger_member *m = ledger_member_at(n->ledger, i);

		cbuf_reset(&vk);
		note_vkey_format(&m->key, &vk);
		json_array_append_new(
		    members, json_pack("{s:s, s:s, s:s, s:o, s:I}", "id", m->id, "chamber",
				       chamber_name(m->chamber), "key", vk.p ? vk.p : "", "box",
				       b64_json(m->box, 32), "version", (json_int_t)m->version));
	}
	ret = ledger_foreach(n->ledger, "policy/", policy_json, policies);
	json_object_set_new(o, "origin", json_string(n->origin));
	json_object_set_new(o, "log_key", json_string(n->log_vkey));
	json_object_set_new(o, "tree_size", json_integer((json_int_t)n->pub_size));
	json_object_set_new(o, "checkpoint", json_string(n->checkpoint));
	unlock(n);
	if (ret < 0) {
		ret = cc_fail(e, ret, "cannot list policies");
		goto out;
	}
	json_object_set_new(o, "members", members);
	json_object_set_new(o, "policies", policies);
	members = policies = NULL;
	ret = json_out(o, json);
	o = NULL;
	if (ret < 0)
		ret = cc_fail(e, ret, "out of memory");
out:
	json_decref(o);
	json_decref(members);
	json_decref(policies);
	cbuf_free(&vk);
	return ret;
}

/* Renders a stored row (a proposal no longer in memory). */
static json_t *row_json(const struct node *n, const struct store_proposal *row)
{
	struct node_prop *np;
	json_t *j;

	if (prop_from_row(n, row, 0, &np, NULL) < 0)
		return NULL;
	j = prop_json(np, NULL);
	prop_free(np);
	return j;
}

int node_proposal(struct node *n, const char *id, struct cbuf *json, struct cc_err *e)
{
	struct store_proposal row;
	struct node_prop *np;
	json_t *j = NULL;
	int ret = 0;

	if (!id_valid(id))
		return cc_fail(e, CC_ENOENT, "no proposal %.80s", id);
	rdlock(n);
	np = map_get(&n->props, id);
	if (np) {
		j = prop_json_now(n, np);
	} else {
		pthread_mutex_lock(&n->rd_mu);
		ret = store_proposal_get(n->rd, id, &row, e);
		pthread_mutex_unlock(&n->rd_mu);
		if (ret == 0) {
			j = row_json(n, &row);
			store_proposal_free(&row);
		}
	}
	unlock(n);
	if (ret == CC_ENOENT)
		return cc_fail(e, ret, "no proposal %s", id);
	if (ret < 0)
		return ret;
	if (j == NULL)
		return cc_fail(e, CC_EIO, "proposal %s: cannot render it", id);
	if ((ret = json_out(j, json)) < 0)
		return cc_fail(e, ret, "out of memory");
	return 0;
}

struct listing {	/* state of node_proposals */
	struct node *n; /* the node */
	json_t *list;	/* proposals rendered so far */
};

static int list_prop(void *ctx, const struct store_proposal *row)
{
	struct listing *ls = ctx;
	struct node_prop *np = map_get(&ls->n->props, row->id);
	json_t *j = np ? prop_json_now(ls->n, np) : row_json(ls->n, row);

	if (j == NULL)
		return CC_ENOMEM;
	return json_array_append_new(ls->list, j) < 0 ? CC_ENOMEM : 0;
}

int node_proposals(struct node *n, const char *status, struct cbuf *json, struct cc_err *e)
{
	struct listing ls = {n, json_array()};
	json_t *o;
	int ret, st;

	for (st = 0; status && st < PS_COUNT; st++)
		if (strcmp(status, prop_status_name[st]) == 0)
			break;
	if (st == PS_COUNT) {
		json_decref(ls.list);
		return cc_fail(e, CC_EINVAL,
			       "status must be pending, accepted, rejected or expired, not %.32s",
			       status);
	}
	if (ls.list == NULL)
		return cc_fail(e, CC_ENOMEM, "out of memory");
	rdlock(n);
	pthread_mutex_lock(&n->rd_mu);
	ret = store_proposals(n->rd, status, NODE_LIST_MAX, list_prop, &ls, e);
	pthread_mutex_unlock(&n->rd_mu);
	unlock(n);
	if (ret < 0) {
		json_decref(ls.list);
		return e && e->code ? ret : cc_fail(e, ret, "cannot list proposals");
	}
	o = json_pack("{s:o}", "proposals", ls.list);
	if ((ret = json_out(o, json)) < 0)
		return cc_fail(e, ret, "out of memory");
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
	rdlock(n);
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
		if (w)
			batch_wait(n, w);
		ret = 1;
		goto out;
	}
	if ((ret = merkle_tree_inclusion(&n->tree, version, n->pub_size, proof, &np)) < 0) {
		ret = cc_fail(e, ret, "cannot prove %s", path);
		goto out;
	}
	hashes = json_array();
	for (size_t i = 0; hashes && i < np; i++)
		json_array_append_new(hashes, b64_json(proof[i], MERKLE_HASH));
	o = json_pack(
	    "{s:s, s:o, s:I, s:o, s:{s:I, s:I, s:o}, s:s}", "path", path, "content",
	    json_strn(content.p ? content.p : "", content.len), "version", (json_int_t)version,
	    "policy",
	    ledger_policy_for(n->ledger, path, policy) == 0 ? json_string(policy) : json_null(),
	    "proof", "leaf_index", (json_int_t)version, "tree_size", (json_int_t)n->pub_size,
	    "hashes", hashes ? hashes : json_array(), "checkpoint", n->checkpoint);
	hashes = NULL;
	ret = json_out(o, json);
	if (ret < 0)
		ret = cc_fail(e, ret, "out of memory");
out:
	unlock(n);
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
	rdlock(n);
	ret = ledger_foreach(n->ledger, prefix ? prefix : "", list_record, &rl);
	size = n->pub_size;
	unlock(n);
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
	int ret;

	cbuf_reset(text);
	rdlock(n);
	ret = ledger_export_root(n->ledger, text);
	unlock(n);
	if (ret < 0)
		return cc_fail(e, ret, "cannot export the root");
	if (text->p == NULL && cbuf_reserve(text, 0) < 0)
		return cc_fail(e, CC_ENOMEM, "out of memory");
	return 0;
}
