#include "node/peer.h"

#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/ledger.h"
#include "core/sha256.h"
#include "core/tfmt.h"
#include "core/tlog.h"
#include "node/conf.h"
#include "node/failover.h"
#include "node/fetch.h"
#include "node/follow.h"
#include "node/http.h"
#include "node/jb64.h"
#include "node/node_impl.h"
#include "node/split.h"
#include "node/store.h"
#include "node/witness.h"

#define PEER_POLL_MS	  500		 /* the sequencer's checkpoint is looked at this often */
#define PEER_RETRY_MS	  1000		 /* after a failed round or an unreachable sequencer */
#define PEER_FINAL_MS	  100		 /* the poll while the log held is not final yet */
#define PEER_BUSY_MS	  50		 /* a witness that said "ask again", first time */
#define PEER_CONNECT_MS	  2000		 /* to connect to a peer */
#define PEER_SMALL_MS	  10000		 /* the sequencer's checkpoint, whole */
#define PEER_REQUEST_MS	  30000		 /* a forwarded request, whole (a batch takes a while) */
#define PEER_CATCHUP_MS	  600000	 /* a follow round's transfers, whole */
#define PEER_READBACK_MS  10000		 /* a forwarded change waits this long to be held here */
#define PEER_LOOK_SEC	  2		 /* how often a node looks at what the other nodes see */
#define PEER_PENDING_MAX  (64u << 20)	 /* the sequencer's pending proposals, as JSON */
#define PEER_PENDING_META "pending_copy" /* where a follower keeps them (store meta) */
#define PEER_PENDING_PAGE 64		 /* proposals a page (a note may be 64 KB, twice) */

#define PEER_DEFER_SEC	 5    /* the outbox asks again this often for what waits on a quota */
#define PEER_TAKE_PASSES 4    /* a takeover's passes over the other nodes, at most */
#define PEER_COSIGNERS	 32   /* other nodes asked for cosignatures, at most */
#define PEER_COSIGN_MS	 2000 /* a cosigner looks again at least this often */

struct peer;

struct peer_cosigner {	/* asks the slot-th other node to cosign each new checkpoint */
	struct peer *p; /* the peer module */
	int slot;	/* which other node, in id order */
	pthread_t th;	/* its thread */
};

struct peer {
	struct node *n;		/* the node */
	pthread_mutex_t mu;	/* guards the fields below */
	pthread_cond_t cv;	/* signalled on a wake, a new job or stop */
	int stop;		/* threads must finish */
	int wake;		/* the follower should look now */
	int taking;		/* a takeover (a failover to this node) is running */
	char *spread;		/* a failover note the spreader thread passes on, or NULL */
	time_t defer_next;	/* when the outbox asks again for what the sequencer deferred */
	struct peer_fwd *head;	/* forwarding jobs, oldest first */
	struct peer_fwd **tail; /* where the next one goes */
	pthread_t follower;	/* the follower thread */
	int follower_started;	/* joined by peer_stop */
	pthread_t spreader;	/* passes failover notes on */
	int spreader_started;	/* joined by peer_stop */
	pthread_t fwd[PEER_FORWARDERS];
	int nfwd;				  /* forwarders started */
	struct peer_cosigner cos[PEER_COSIGNERS]; /* on the sequencer: one per other node */
	int ncos;				  /* cosigners started */
	pthread_mutex_t st_mu;			  /* guards st */
	struct store *st;			  /* the outbox: a connection of its own */
	unsigned char pending_sum[SHA256_DIGEST]; /* of the copy of pending proposals kept */
	char pending_etag[HTTP_ETAG_MAX + 1];	  /* the sequencer's tag for that copy, or "" */
	int copy_warned;			  /* the last copy failed, and was said so */
	int copy_short;				  /* the last copy was partial, and was said so */
};

static void deadline_in(struct timespec *ts, long ms)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/* Sleeps up to ms, or until a wake or stop; returns 1 when stopping. */
static int peer_sleep(struct peer *p, long ms)
{
	struct timespec until;
	int stop;

	deadline_in(&until, ms);
	pthread_mutex_lock(&p->mu);
	while (!p->stop && !p->wake && pthread_cond_timedwait(&p->cv, &p->mu, &until) == 0)
		;
	p->wake = 0;
	stop = p->stop;
	pthread_mutex_unlock(&p->mu);
	return stop;
}

void peer_wake(struct peer *p)
{
	pthread_mutex_lock(&p->mu);
	p->wake = 1;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

/* A connection to url, kept while the URL stays the same. */
static int peer_http(struct http **h, const char *url, long total_ms, struct cc_err *e)
{
	int ret;

	if (*h != NULL && strcmp(http_base(*h), url) == 0)
		return 0;
	http_free(*h);
	*h = NULL;
	if ((ret = http_new(h, url, e)) == 0)
		http_set_timeouts(*h, PEER_CONNECT_MS, total_ms);
	return ret;
}

/* Logs the first failure of a streak, not every retry; last is "" while things work. */
static void peer_complain(char *last, size_t cap, const char *what, const char *msg)
{
	if (strcmp(last, what) == 0)
		return;
	size_t n = strlen(msg);

	snprintf(last, cap, "%s", what);
	while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
		n--;
	node_log("%s: %.*s (retrying quietly)", what, (int)n, msg);
}

/* The proposal a request for its approvals or objections names: 1 with its id. */
static int path_proposal(const char *path, char id[PROPOSAL_ID_LEN + 1])
{
	static const char pre[] = "/v1/proposals/";
	const char *rest;

	if (strncmp(path, pre, sizeof(pre) - 1) != 0)
		return 0;
	rest = path + sizeof(pre) - 1;
	if (strlen(rest) <= PROPOSAL_ID_LEN ||
	    (strcmp(rest + PROPOSAL_ID_LEN, "/signatures") != 0 &&
	     strcmp(rest + PROPOSAL_ID_LEN, "/objections") != 0))
		return 0;
	memcpy(id, rest, PROPOSAL_ID_LEN);
	id[PROPOSAL_ID_LEN] = '\0';
	return 1;
}

struct deferred_q {
	const char *id;	  /* the proposal looked for */
	const char *path; /* the path a whole note for it may have been posted to */
};

/* A kept proposal (a whole note), read: 0 with pr filled (the caller frees it). */
static int outbox_read(const void *body, size_t len, struct proposal *pr)
{
	struct note note = {0};
	int ret = note_parse(&note, body, len, NULL);

	if (ret == 0)
		ret = proposal_parse(pr, note.text, note.text_len, NULL);
	note_free(&note);
	return ret;
}

static int deferred_is(void *ctx, const char *path, const void *body, size_t len)
{
	const struct deferred_q *q = ctx;
	struct proposal pr = {0};
	int same;

	if (strcmp(path, q->path) == 0)
		return 1; /* a whole note posted for its approvals, taken as the proposal */
	same = outbox_read(body, len, &pr) == 0 && strcmp(pr.id, q->id) == 0;
	proposal_free(&pr);
	return same;
}

/* 1 when path approves of or objects to a proposal this node keeps for the sequencer, which
 * deferred it (429): the sequencer does not know that proposal yet (it would answer 404, or
 * take a whole note for a new proposal of the wrong proposer), so the request waits until
 * that proposal has gone. */
static int outbox_holds_its_proposal(struct peer *p, const char *path)
{
	char id[PROPOSAL_ID_LEN + 1], sigs[sizeof("/v1/proposals//signatures") + PROPOSAL_ID_LEN];
	struct deferred_q q = {id, sigs};
	struct cc_err e = {0};
	int ret;

	if (!path_proposal(path, id))
		return 0;
	snprintf(sigs, sizeof(sigs), "/v1/proposals/%s/signatures", id);
	pthread_mutex_lock(&p->st_mu);
	ret = store_outbox_deferred(p->st, "/v1/proposals", sigs, deferred_is, &q, &e);
	pthread_mutex_unlock(&p->st_mu);
	if (ret < 0)
		node_log("warning: outbox: %s", e.msg);
	return ret == 1;
}

static int outbox_mark(struct peer *p, int64_t seq, int64_t received, struct cc_err *e)
{
	int ret;

	pthread_mutex_lock(&p->st_mu);
	ret = store_outbox_mark(p->st, seq, received, e);
	pthread_mutex_unlock(&p->st_mu);
	return ret;
}

struct sync_waiter { /* a node_waiter a thread of ours waits on */
	struct node_waiter w;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int done;
};

/* durable: answered once durable, without waiting for the witnesses (a kept request) */
#define SYNC_WAITER(durable)                                                                       \
	{                                                                                          \
		{sync_done, NULL, 0, 0, durable}, PTHREAD_MUTEX_INITIALIZER,                       \
		    PTHREAD_COND_INITIALIZER, 0                                                    \
	}

static void sync_done(struct node_waiter *w)
{
	struct sync_waiter *s = (struct sync_waiter *)w;

	pthread_mutex_lock(&s->mu);
	s->done = 1;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

static void sync_wait(struct sync_waiter *s)
{
	pthread_mutex_lock(&s->mu);
	while (!s->done)
		pthread_cond_wait(&s->cv, &s->mu);
	pthread_mutex_unlock(&s->mu);
}

/* A change made here by a thread of ours, waited for until it is answered: a proposal, or
 * (id given) an objection to proposal id. */
static void peer_change(struct peer *p, const char *id, const char *body, size_t len,
			struct node_reply *r)
{
	struct sync_waiter sw = SYNC_WAITER(1);
	int later = id ? node_object(p->n, id, body, len, &sw.w, r)
		       : node_submit(p->n, body, len, &sw.w, r);

	if (later == 1)
		sync_wait(&sw);
}

/* Signatures for proposal id, given here by a thread of ours and waited for. */
static void peer_sign(struct peer *p, const char *id, const char *data, size_t len,
		      struct node_reply *r)
{
	struct sync_waiter sw = SYNC_WAITER(1);

	if (node_sign(p->n, id, data, len, &sw.w, r) == 1)
		sync_wait(&sw);
}

static long status_of(int code)
{
	switch (code) {
	case NODE_OK:
	case NODE_CREATED:
	case NODE_ACCEPTED:
		return code;
	case CC_EQUOTA:
		return 429;
	case CC_EAGAIN:
	case CC_EIO:
	case CC_ENOMEM:
		return 503; /* not now: kept */
	default:
		return 400; /* decided: refused */
	}
}

struct batch_quota {	     /* the notes of a batch its decider deferred (429) */
	unsigned char *flag; /* one per note, 1: deferred */
	size_t n, nset;	     /* notes, flags set */
};

static int quota_flag(struct batch_quota *q, size_t i, size_t n)
{
	if (q->flag == NULL) {
		if ((q->flag = calloc(n, 1)) == NULL)
			return CC_ENOMEM;
		q->n = n;
	}
	if (i < q->n && !q->flag[i]) {
		q->flag[i] = 1;
		q->nset++;
	}
	return 0;
}

/* The sequencer's answer to a batch: which notes it deferred (error status 429). 1 when it
 * could not decide one now (5xx): the whole batch is kept then, as peer_local keeps it;
 * negative when out of memory (kept too). */
static int quota_of_answer(struct batch_quota *q, const struct cbuf *body, struct cc_err *e)
{
	json_t *j = json_loadb(body->p ? body->p : "", body->len, 0, NULL), *results, *it;
	size_t i;
	int ret = 0;

	results = json_object_get(j, "results");
	if (!json_is_array(results))
		node_log("warning: the sequencer's answer to a queued batch lists no results: "
			 "proposals of it it deferred (429), if any, are not kept");
	json_array_foreach(results, i, it)
	{
		json_t *err = json_object_get(it, "error"), *st = json_object_get(err, "status");
		json_int_t code = json_is_integer(st) ? json_integer_value(st) : 0;
		const char *why = json_string_value(json_object_get(err, "detail"));

		if (code >= 500) {
			ret = 1;
			cc_fail(e, CC_EAGAIN, "proposal %zu of the batch not decided now: %s", i,
				why ? why : "");
			break;
		}
		if (code == 429 && quota_flag(q, i, json_array_size(results)) < 0) {
			ret = cc_fail(e, CC_ENOMEM, "out of memory");
			break;
		}
	}
	json_decref(j);
	return ret;
}

/* A kept batch, answered: the notes its decider deferred are kept one by one, each asked
 * again as a deferred proposal is (received 0). One transaction with the batch's removal,
 * so that neither a crash nor a forwarder looking at the outbox meanwhile sees the batch
 * gone and its deferred notes not yet there. */
static int outbox_keep_deferred(struct peer *p, int64_t seq, const struct cbuf *batch,
				const struct batch_quota *q, struct cc_err *e)
{
	struct cc_err fe = {0};
	const char *note;
	size_t pos = 0, nlen, i = 0;
	int ret, more = 1;

	pthread_mutex_lock(&p->st_mu);
	ret = store_begin(p->st, e);
	while (ret == 0 && more) {
		more =
		    note_batch_next(batch->p ? batch->p : "", batch->len, &pos, &note, &nlen, &fe);
		if (more < 0) {
			/* The decider read these very bytes; a batch that no longer reads is no
			 * reason to send it for ever: what was read is kept, the rest said. */
			node_log("warning: a queued batch no longer reads after note %zu (%s): the "
				 "notes after it the sequencer deferred are not kept",
				 i, fe.msg);
			more = 0;
		}
		if (more == 1 && i < q->n && q->flag[i])
			ret = store_outbox_put(p->st, "/v1/proposals", note, nlen, 0, e);
		i++;
	}
	if (ret == 0)
		ret = store_outbox_del(p->st, seq, e);
	if (ret == 0)
		ret = store_commit(p->st, e);
	if (ret < 0)
		store_rollback(p->st);
	pthread_mutex_unlock(&p->st_mu);
	return ret;
}

/* A request the outbox kept, decided here: this node sequences now (a failover named it
 * while its requests waited for the old sequencer). The HTTP status the sequencer would
 * have answered, with why in msg. */
static long peer_local(struct peer *p, const char *path, const char *body, size_t len,
		       struct cc_err *msg, struct batch_quota *q)
{
	char id[PROPOSAL_ID_LEN + 1];
	struct node_reply r = {0};
	long status;

	if (strcmp(path, "/v1/proposals/batch") == 0) {
		struct node_batch_reply br = {0};
		struct sync_waiter sw = SYNC_WAITER(1);

		if (node_submit_batch(p->n, body, len, &sw.w, &br) == 1)
			sync_wait(&sw);
		status = br.status < 0 ? status_of(br.status) : 200;
		if (br.status < 0)
			*msg = br.err;
		/* an item this node could not decide now keeps the batch (the others, given
		 * again, are known by their ids); the flags of those deferred then go unused */
		for (size_t i = 0; status == 200 && i < br.n; i++) {
			long st = status_of(br.items[i].status);

			if (st == 503)
				cc_fail(msg, CC_EAGAIN, "%s",
					br.items[i].why ? br.items[i].why : "not now");
			else if (st == 429 && quota_flag(q, i, br.n) < 0)
				cc_fail(msg, CC_ENOMEM, "out of memory");
			else
				continue;
			status = 503;
		}
		node_batch_reply_free(&br);
		return status;
	}
	if (strcmp(path, "/v1/proposals") == 0)
		peer_change(p, NULL, body, len, &r);
	else if (path_proposal(path, id) && strstr(path, "/objections") != NULL)
		peer_change(p, id, body, len, &r);
	else if (path_proposal(path, id))
		peer_sign(p, id, body, len, &r);
	else
		r.status = cc_fail(&r.err, CC_ENOENT, "no such request %s", path);
	status = status_of(r.status);
	if (r.status < 0)
		*msg = r.err;
	node_reply_free(&r);
	return status;
}

#define PEER_FULL_MAX 64 /* proposers one pass over the outbox remembers as full */

struct outbox_full { /* proposers the sequencer answered 429 in this pass */
	char id[PEER_FULL_MAX][MEMBER_ID_MAX + 1];
	size_t len[PEER_FULL_MAX]; /* the smallest proposal of each refused */
	size_t n;
};

/* The proposer a kept proposal (a whole note) names; "" when it does not read. */
static void outbox_proposer(const struct cbuf *body, char out[MEMBER_ID_MAX + 1])
{
	struct proposal pr = {0};

	out[0] = '\0';
	if (outbox_read(body->p ? body->p : "", body->len, &pr) == 0)
		snprintf(out, MEMBER_ID_MAX + 1, "%s", pr.proposer);
	proposal_free(&pr);
}

/* Whether a proposal of len bytes by id would meet a share the sequencer found full in this
 * pass: one as large as one it refused (a share is bounded in count and in bytes). */
static int outbox_full_has(const struct outbox_full *f, const char *id, size_t len)
{
	for (size_t i = 0; id[0] != '\0' && i < f->n; i++)
		if (strcmp(f->id[i], id) == 0)
			return len >= f->len[i];
	return 0;
}

/* Remembers that the sequencer refused a proposal of len bytes by id (429) in this pass. */
static void outbox_full_add(struct outbox_full *f, const char *id, size_t len)
{
	size_t i = 0;

	while (i < f->n && strcmp(f->id[i], id) != 0)
		i++;
	if (id[0] == '\0' || i == PEER_FULL_MAX)
		return;
	if (i == f->n) {
		snprintf(f->id[f->n], MEMBER_ID_MAX + 1, "%s", id);
		f->len[f->n++] = len;
	} else if (len < f->len[i]) {
		f->len[i] = len;
	}
}

/* One step of a pass over the outbox (peer_outbox_pass): the request after *at, if any up
 * to last, sent to the sequencer through h, or decided here when h is NULL. 1 when it went
 * or was left for later, 0 at the end of the pass, negative when it must be sent again: the
 * sequencer could not be reached or decide it now, or this node could not store what the
 * answer left to keep. */
static int peer_outbox_one(struct peer *p, struct http *h, int64_t *at, int64_t last,
			   int retry_deferred, struct outbox_full *full, struct cc_err *e)
{
	struct cbuf path = CBUF_INIT, body = CBUF_INIT;
	struct http_resp r = {0};
	struct cc_err ae = {0};
	struct batch_quota q = {0};
	char proposer[MEMBER_ID_MAX + 1] = "";
	int64_t seq = 0, received = 0;
	int ret, batch, decided;

	pthread_mutex_lock(&p->st_mu);
	ret = store_outbox_next(p->st, *at, &seq, &path, &body, &received, e);
	pthread_mutex_unlock(&p->st_mu);
	if (ret == CC_ENOENT || (ret == 0 && seq > last)) {
		ret = 0; /* what came after the pass began waits for the next */
		goto out;
	}
	if (ret < 0)
		goto out;
	*at = seq;
	ret = 1;
	if (received == 0 && !retry_deferred)
		goto out; /* deferred by the sequencer: asked again every PEER_DEFER_SEC */
	if (received != 0 && outbox_holds_its_proposal(p, path.p)) {
		/* Not sent: the sequencer would take it for a new proposal, or answer 404. Marked,
		 * so that it holds up no other request. */
		if (received > 0 && (ret = outbox_mark(p, seq, -1, e)) == 0)
			ret = 1;
		goto out;
	}
	/* A proposer's share found full at the sequencer in this pass stays full for the pass:
	 * its other deferred proposals, as large as one refused, wait for the next rather than
	 * each costing the sequencer a signature check to be answered 429 again. */
	if (received == 0 && strcmp(path.p, "/v1/proposals") == 0) {
		outbox_proposer(&body, proposer);
		if (outbox_full_has(full, proposer, body.len))
			goto out;
	}
	batch = strcmp(path.p, "/v1/proposals/batch") == 0;
	if (h != NULL) {
		/* a batch's answer has a result per note */
		ret = http_post(h, path.p, "text/plain", body.p ? body.p : "", body.len,
				batch ? HTTP_MAX_JSON : HTTP_MAX_SMALL, &r, &ae);
		if (ret == 0 && batch && r.status == 200 && quota_of_answer(&q, &r.body, &ae) != 0)
			r.status = 503;
	} else {
		r.status = peer_local(p, path.p, body.p ? body.p : "", body.len, &ae, &q);
		ret = r.status >= 300 ? -1 : 0;
	}
	if (r.status == 0 || r.status >= 500) {
		ret = cc_fail(e, CC_EIO, "%s", ae.msg);
		goto out;
	}
	if (r.status == 429) {
		/* Not decided: its proposer's share at the sequencer is full for now. Kept; the
		 * others, before and after it, do not wait for it (but for the same proposer's
		 * as large, in this pass). */
		ret = 1;
		if (proposer[0] == '\0' && strcmp(path.p, "/v1/proposals") == 0)
			outbox_proposer(&body, proposer);
		outbox_full_add(full, proposer, body.len);
		if (received != 0) {
			node_log("queued %s kept, sent again later: %s", path.p, ae.msg);
			if ((ret = outbox_mark(p, seq, 0, e)) == 0)
				ret = 1;
		}
		goto out;
	}
	/* Answered: the sequencer decided, whatever it decided; but a batch's notes it deferred
	 * stay kept, as a single proposal it deferred would. */
	decided = ret;
	if (q.nset > 0) {
		ret = outbox_keep_deferred(p, seq, &body, &q, e);
	} else {
		pthread_mutex_lock(&p->st_mu);
		ret = store_outbox_del(p->st, seq, e);
		pthread_mutex_unlock(&p->st_mu);
	}
	if (ret < 0)
		goto out;
	node_log("queued %s %s: HTTP %ld%s%s", path.p,
		 h ? "handed to the sequencer" : "decided here, this node sequencing now", r.status,
		 decided < 0 ? ", " : "", decided < 0 ? ae.msg : "");
	if (q.nset > 0)
		node_log("queued %s: %zu of its proposals deferred (429), kept, sent again later",
			 path.p, q.nset);
	ret = 1;
out:
	free(q.flag);
	http_resp_free(&r);
	cbuf_free(&path);
	cbuf_free(&body);
	return ret;
}

static int peer_stopping(struct peer *p)
{
	int stop;

	pthread_mutex_lock(&p->mu);
	stop = p->stop;
	pthread_mutex_unlock(&p->mu);
	return stop;
}

/* Sends what the outbox holds to the sequencer through h (NULL: this node sequences now and
 * decides them itself), oldest first, once each: requests that wait for a deferred proposal
 * are passed over, deferred ones are asked again only every PEER_DEFER_SEC (and not past one
 * of their proposer's as large that the sequencer deferred again in this pass). 0, or
 * negative when the sequencer could not be reached (the rest waits for the next pass). */
static int peer_outbox_pass(struct peer *p, struct http *h, struct cc_err *e)
{
	struct outbox_full full = {.n = 0};
	int64_t at = 0, last = 0;
	time_t now = time(NULL);
	int retry = now >= p->defer_next, ret;

	pthread_mutex_lock(&p->st_mu);
	ret = store_outbox_last(p->st, &last, e);
	pthread_mutex_unlock(&p->st_mu);
	if (ret == 0 && last == 0)
		return 0; /* empty */
	while (ret == 0 && !peer_stopping(p) &&
	       (ret = peer_outbox_one(p, h, &at, last, retry, &full, e)) == 1)
		ret = 0;
	if (retry)
		p->defer_next = now + PEER_DEFER_SEC;
	return ret;
}

/* Has the spreader thread pass a failover note on (the last one given wins). */
static void peer_spread_later(struct peer *p, const char *note, size_t len)
{
	char *copy = strndup(note, len);

	if (copy == NULL)
		return; /* the takeover and the other nodes' looks pass it on all the same */
	pthread_mutex_lock(&p->mu);
	free(p->spread);
	p->spread = copy;
	p->wake = 1;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

/* Passes a failover note on to every other node (each checks it itself). */
static void peer_spread(struct peer *p, const char *note, size_t len)
{
	char id[MEMBER_ID_MAX + 1], url[NODE_URL_MAX + 1];
	struct http *h = NULL;

	for (int i = 0; !peer_stopping(p) && node_other(p->n, i, 1, id, url); i++) {
		struct http_resp r = {0};
		struct cc_err e = {0};

		if (peer_http(&h, url, PEER_CONNECT_MS * 2, &e) == 0)
			http_post(h, "/v1/failover", "text/plain", note, len, HTTP_MAX_SMALL, &r,
				  &e);
		http_resp_free(&r);
		http_free(h);
		h = NULL;
	}
}

/* The spreader thread: passes on each note peer_spread_later left, at once (the follower may
 * be held up by a sequencer that no longer answers, the forwarders are for requests). */
static void *peer_spreader(void *arg)
{
	struct peer *p = arg;
	char *spread;

	for (;;) {
		pthread_mutex_lock(&p->mu);
		while (!p->stop && p->spread == NULL)
			pthread_cond_wait(&p->cv, &p->mu);
		spread = p->stop ? NULL : p->spread;
		p->spread = p->stop ? p->spread : NULL;
		pthread_mutex_unlock(&p->mu);
		if (spread == NULL)
			break;
		peer_spread(p, spread, strlen(spread));
		free(spread);
	}
	return NULL;
}

/* Takes what the other nodes have, the sequencer being away: a failover note one of them
 * took, and the longest log one of them holds. 0 when some node helped. */
static int peer_from_others(struct peer *p)
{
	char id[MEMBER_ID_MAX + 1], url[NODE_URL_MAX + 1], seq[MEMBER_ID_MAX + 1];
	struct http *h = NULL;
	int ret = -1;

	for (int i = 0; node_other(p->n, i, 1, id, url); i++) {
		struct http_resp r = {0};
		struct cc_err e = {0};

		/* small answers: a node that hangs must not hold this one up (the log itself
		 * comes through follow_round's own connections) */
		if (peer_http(&h, url, PEER_CONNECT_MS * 2, &e) < 0)
			continue;
		if (http_get(h, "/v1/failover", HTTP_MAX_SMALL, &r, &e) == 0 &&
		    failover_take(p->n, r.body.p, r.body.len, seq, &e) == 1)
			peer_spread(p, r.body.p, r.body.len);
		if (http_get(h, "/log/checkpoint", HTTP_MAX_SMALL, &r, &e) == 0 &&
		    follow_round(p->n, url, r.body.p, r.body.len, 0, &e) >= 0)
			ret = 0;
		http_resp_free(&r);
		http_free(h);
		h = NULL;
	}
	return ret;
}

/* A checkpoint that another node serves (r), signed by a node this one does not follow:
 * when it or the final one that node serves shows the network went on from there, this
 * node follows it too (failover_seen). Returns 1 then, else failover_seen's verdict on r
 * (cand: the signer when 2). */
static int peer_seen(struct http *h, const char *url, struct http_resp *r, struct node *n,
		     char cand[MEMBER_ID_MAX + 1])
{
	char seq[MEMBER_ID_MAX + 1];
	struct cc_err e = {0};
	int ret = failover_seen(n, r->body.p, r->body.len, NULL, cand);

	if (ret == 1)
		snprintf(seq, sizeof(seq), "%s", cand);
	else if (ret == 2 && http_get(h, "/v1/final", HTTP_MAX_SMALL, r, &e) == 0 &&
		 failover_seen(n, r->body.p, r->body.len, NULL, seq) == 1)
		ret = 1;
	if (ret == 1)
		node_log("failover: %s serves a final log of %s that this node does not hold, a "
			 "failover it missed: following %s",
			 url, seq, seq);
	return ret;
}

/* The entry at index of the tree of size that the node at h serves, in *entry (pointing
 * into bundle). */
static int peer_entry(struct http *h, uint64_t index, uint64_t size, struct cbuf *bundle,
		      const unsigned char **entry, size_t *len, struct cc_err *e)
{
	uint64_t tile = index / TLOG_TILE_WIDTH;
	size_t off = 0;
	int ret = fetch_get_bundle(h, tile, size, bundle, e);

	for (uint64_t i = tile * TLOG_TILE_WIDTH; ret == 0 && i <= index; i++)
		if (tlog_bundle_next((const unsigned char *)bundle->p, bundle->len, &off, entry,
				     len) != 1)
			ret = cc_fail(e, CC_EINVAL, "no entry %" PRIu64 " at %s", index,
				      http_base(h));
	return ret;
}

/* A node this one does not follow, whose checkpoints as many nodes serve as a takeover needs:
 * a failover to it that this node missed, its note expired or forgotten, unless its log does
 * not hold such a note. Its record of network/sequencer says where (the index, an inclusion
 * proof against a checkpoint it signed) and its tiles give the entry; when that tree holds a
 * note naming it, valid until appended, the network went on from it (failover_seen).
 * Returns 1 when this node follows it now. */
static int peer_lapsed(struct peer *p, const char *named)
{
	unsigned char(*proof)[MERKLE_HASH] = calloc(MERKLE_MAX_PROOF, MERKLE_HASH);
	char url[NODE_URL_MAX + 1], want[MEMBER_ID_MAX + sizeof("sequencer \n")],
	    seq[MEMBER_ID_MAX + 1];
	struct cbuf bundle = CBUF_INIT;
	struct http_resp r = {0};
	struct http *h = NULL;
	struct cc_err e = {0};
	const unsigned char *entry;
	const char *ck, *content;
	json_t *j = NULL, *pr, *hashes;
	json_int_t index, size;
	size_t np = 0, elen;
	int ret = 0;

	if (proof == NULL || !node_url_of(p->n, named, url) ||
	    peer_http(&h, url, PEER_REQUEST_MS, &e) < 0 ||
	    http_get(h, "/v1/records/network/sequencer", HTTP_MAX_SMALL, &r, &e) < 0 ||
	    (j = json_loadb(r.body.p, r.body.len, 0, NULL)) == NULL)
		goto out;
	snprintf(want, sizeof(want), "sequencer %s\n", named);
	pr = json_object_get(j, "proof");
	hashes = json_object_get(pr, "hashes");
	ck = json_string_value(json_object_get(j, "checkpoint"));
	content = json_string_value(json_object_get(j, "content"));
	index = json_integer_value(json_object_get(pr, "leaf_index"));
	size = json_integer_value(json_object_get(pr, "tree_size"));
	/* the record names that node (else it did not append the note: no tile is asked for) */
	if (ck == NULL || content == NULL || strcmp(content, want) != 0 || index < 0 ||
	    size <= index || !json_is_array(hashes) || json_array_size(hashes) > MERKLE_MAX_PROOF)
		goto out;
	for (np = 0; np < json_array_size(hashes); np++)
		if (jb64_get(json_array_get(hashes, np), proof[np], MERKLE_HASH) < 0)
			goto out;
	if (peer_entry(h, (uint64_t)index, (uint64_t)size, &bundle, &entry, &elen, &e) == 0 &&
	    failover_logged(p->n, entry, elen, (uint64_t)index,
			    (const unsigned char(*)[MERKLE_HASH])proof, np, ck, strlen(ck),
			    named) == 0 &&
	    (ret = failover_seen(p->n, ck, strlen(ck), named, seq) == 1))
		node_log("failover: %s appended a note naming it (entry %" PRId64 " of the log it "
			 "signed, which most nodes follow), a failover this node missed: following "
			 "%s",
			 url, (int64_t)index, seq);
out:
	json_decref(j);
	http_resp_free(&r);
	http_free(h);
	cbuf_free(&bundle);
	free(proof);
	return ret;
}

/* Looks at what the other nodes see: a checkpoint of the sequencer's that contradicts the
 * log this node holds, or a split view one of them proved, is this node's alarm too; a
 * sequencer asks, too, whether a failover replaced it while it was away. A node that
 * follows no one, or whose last round failed, also looks for a log that went on from
 * another node through a failover it missed (peer_seen, peer_lapsed); one that follows its
 * sequencer well does not (a node behind would see the final logs of sequencers before). */
static void peer_look_around(struct peer *p, int sequencer, int stuck)
{
	char seq[MEMBER_ID_MAX + 1] = "";
	struct cbuf ev = CBUF_INIT, why = CBUF_INIT;
	struct http *h = NULL;
	size_t nodes, need = node_takeover_need(p->n, &nodes), nt = 0, nv = 0;
	/* one look at the list: each node counted once */
	struct node_peer *v = node_others(p->n, &nv);
	struct peer_tally {
		char id[MEMBER_ID_MAX + 1]; /* a node this one does not follow */
		size_t count;		    /* how many nodes serve checkpoints it signed */
	} *tally = calloc(nv + 1, sizeof(*tally));
	int switched = 0;

	for (size_t i = 0; i < nv && !switched && !node_alarmed(p->n); i++) {
		const char *id = v[i].id, *url = v[i].url;
		struct http_resp r = {0};
		struct cc_err e = {0};
		json_t *j;
		char *text;
		size_t k;
		int ret = 0;

		if (peer_http(&h, url, PEER_CONNECT_MS, &e) < 0)
			goto next;
		if (sequencer && http_get(h, "/v1/failover", HTTP_MAX_SMALL, &r, &e) == 0 &&
		    failover_take(p->n, r.body.p, r.body.len, seq, &e) == 1)
			node_log("failover: learnt from %s that %s sequences the log", url, seq);
		cbuf_reset(&why);
		if (http_get(h, "/log/checkpoint", HTTP_MAX_SMALL, &r, &e) == 0) {
			if (split_against_log(p->n, r.body.p, r.body.len, &ev) == 1 &&
			    cbuf_printf(
				&why,
				"the sequencer's checkpoint that %s holds contradicts the log "
				"held here",
				id) == 0)
				split_alarm(p->n, why.p, ev.p);
			else if (stuck && (ret = peer_seen(h, url, &r, p->n, seq)) == 1)
				switched = 1;
			else if (ret == 2 && tally) {
				for (k = 0; k < nt && strcmp(tally[k].id, seq) != 0; k++)
					;
				if (k == nt && nt < nv + 1)
					snprintf(tally[nt++].id, sizeof(tally->id), "%s", seq);
				if (k < nt)
					tally[k].count++;
			}
		}
		if (node_alarmed(p->n) || http_get(h, "/v1/alarm", HTTP_MAX_SMALL, &r, &e) < 0)
			goto next;
		j = json_loadb(r.body.p, r.body.len, 0, NULL);
		text = j ? json_dumps(json_object_get(j, "evidence"), JSON_COMPACT) : NULL;
		if (text && split_check(p->n, text, strlen(text), &e) == 0 &&
		    cbuf_printf(&why, "a split view that %s found and proved", id) == 0)
			split_alarm(p->n, why.p, text);
		free(text);
		json_decref(j);
	next:
		http_resp_free(&r);
		http_free(h);
		h = NULL;
	}
	/* a node that as many nodes follow as a takeover needs, not final yet */
	for (size_t k = 0; k < nt && !switched && !node_alarmed(p->n); k++)
		if (tally[k].count >= need && peer_lapsed(p, tally[k].id) == 1)
			break;
	free(tally);
	free(v);
	cbuf_free(&ev);
	cbuf_free(&why);
}

static void *peer_cosigner_main(void *arg);

/* One cosigner per other node, started as nodes join (from the follower thread only). */
static void peer_cosigners(struct peer *p)
{
	while (p->ncos < PEER_COSIGNERS && p->ncos + 1 < (int)node_count(p->n)) {
		p->cos[p->ncos].p = p;
		p->cos[p->ncos].slot = p->ncos;
		if (pthread_create(&p->cos[p->ncos].th, NULL, peer_cosigner_main,
				   &p->cos[p->ncos]) != 0) {
			node_log("warning: cannot start a cosigning thread");
			return;
		}
		p->ncos++;
	}
}

/* Reads every page of the sequencer's pending proposals into list, PEER_PENDING_MAX bytes of
 * answers at most. Returns 1 when the copy is whole, 0 when it stopped short (the bound, or
 * a listing that does not go on as it must: each page non-empty, each cursor further on). */
static int peer_pending_pages(struct http *h, const char *inm, char etag[HTTP_ETAG_MAX + 1],
			      json_t *list, struct cc_err *e)
{
	struct node_list_at at = NODE_LIST_TOP, nat;
	char path[160], next[96] = "";
	size_t total = 0;

	for (;;) {
		struct http_resp r = {0};
		json_t *j, *page;
		const char *c;
		int ret;

		/* small pages, so that the bound cuts between two of them */
		snprintf(path, sizeof(path), "/v1/proposals?status=pending&limit=%d%s%s",
			 PEER_PENDING_PAGE, next[0] ? "&before=" : "", next);
		/* the first page's tag stands for the whole listing as it was then */
		ret = http_get_if(h, path, next[0] ? NULL : inm, PEER_PENDING_MAX - total, &r, e);
		if (ret == 0 && r.status == 304) {
			http_resp_free(&r);
			return 3;
		}
		if (ret == 0 && next[0] == '\0')
			snprintf(etag, HTTP_ETAG_MAX + 1, "%s", r.etag);
		/* past this side's bound halfway (not an answer of the sequencer's) */
		if (ret == CC_ETOOBIG && r.status == 0 && json_array_size(list) > 0) {
			http_resp_free(&r);
			cc_fail(e, 0, "the newest %u MiB of them", PEER_PENDING_MAX >> 20);
			return 0;
		}
		if (ret < 0) {
			http_resp_free(&r);
			return CC_EIO;
		}
		total += r.body.len;
		j = json_loadb(r.body.p, r.body.len, 0, NULL);
		http_resp_free(&r);
		page = json_object_get(j, "proposals");
		if (!json_is_array(page) || json_array_extend(list, page) < 0) {
			json_decref(j);
			return cc_fail(e, CC_EINVAL, "the sequencer's listing is not a list");
		}
		c = json_string_value(json_object_get(j, "next"));
		ret = c == NULL ? 1
		      : json_array_size(page) == 0 || strlen(c) >= sizeof(next) ||
			      node_list_at_parse(&nat, c) < 0 || !node_list_at_moved(&at, &nat)
			  ? 0
			  : 2;
		if (ret == 2)
			snprintf(next, sizeof(next), "%s", c);
		json_decref(j);
		if (ret == 0)
			cc_fail(e, 0, "the listing did not go on as it must (cursor %.40s)", c);
		if (ret < 2)
			return ret;
		at = nat;
		if (total >= PEER_PENDING_MAX) {
			cc_fail(e, 0, "the newest %u MiB of them", PEER_PENDING_MAX >> 20);
			return 0;
		}
	}
}

/* Keeps a copy of the proposals waiting at the sequencer for approvals: they live there
 * alone, and a failover to this node must not lose them (peer_takeover submits them again,
 * checking everything anew). Every page of them, newest first, up to PEER_PENDING_MAX bytes,
 * asked for again only when the listing's ETag moved. Written only when it changed. */
static void peer_copy_pending(struct peer *p, struct http *h)
{
	unsigned char sum[SHA256_DIGEST];
	struct cc_err e = {0};
	int64_t asked = (int64_t)time(NULL);
	json_t *list = json_array(), *copy = NULL;
	char *text = NULL, etag[HTTP_ETAG_MAX + 1] = "";
	int whole = list ? peer_pending_pages(h, p->pending_etag, etag, list, &e) : CC_ENOMEM;

	if (whole == 3) { /* as copied last time */
		atomic_store(&p->n->pending_copied_at, asked);
		goto out;
	}
	p->pending_etag[0] = '\0';

	/* where it comes from is part of the copy (a failover changes it), when is not */
	if (whole >= 0 &&
	    (copy = json_pack("{sO,ss}", "proposals", list, "from", http_base(h))) != NULL)
		text = json_dumps(copy, JSON_COMPACT);
	if (text == NULL) {
		if (!p->copy_warned)
			node_log("warning: no copy of the sequencer's pending proposals: %s",
				 e.msg[0] ? e.msg : "out of memory");
		p->copy_warned = 1;
		goto out;
	}
	if (!whole && !p->copy_short)
		node_log("warning: the copy of the sequencer's pending proposals holds only the "
			 "newest %zu: %s",
			 json_array_size(list), e.msg);
	p->copy_warned = 0;
	p->copy_short = !whole;
	/* pending_sum is this thread's alone (the follower's) */
	sha256_digest(text, strlen(text), sum);
	if (memcmp(sum, p->pending_sum, sizeof(sum)) != 0) {
		char *dated = json_object_set_new(copy, "taken", json_integer(asked)) == 0
				  ? json_dumps(copy, JSON_COMPACT)
				  : NULL;
		int kept = 0;

		if (dated == NULL) {
			cc_fail(&e, CC_ENOMEM, "out of memory");
		} else {
			pthread_mutex_lock(&p->st_mu);
			kept = store_meta_put(p->st, PEER_PENDING_META, dated, &e) == 0;
			pthread_mutex_unlock(&p->st_mu);
		}
		free(dated);
		if (!kept) {
			node_log("warning: the sequencer's pending proposals not kept: %s", e.msg);
		} else {
			memcpy(p->pending_sum, sum, sizeof(sum));
			atomic_store(&p->n->pending_copied, json_array_size(list));
		}
	}
	if (memcmp(sum, p->pending_sum, sizeof(sum)) == 0) {
		atomic_store(&p->n->pending_copied_at, asked);
		memcpy(p->pending_etag, etag, sizeof(etag));
	}
out:
	free(text);
	json_decref(copy);
	json_decref(list);
}

static void peer_adopt_pending(struct peer *p);
static void peer_take_again(struct peer *p, char *last, size_t cap);

static void *peer_follower(void *arg)
{
	struct peer *p = arg;
	struct http *h = NULL;
	char url[NODE_URL_MAX + 1], last[512] = "";
	long wait = 0; /* a node that starts looks at once: it may be far behind */
	time_t next_look = 0, next_copy = 0, next_take = 0;
	int following, adopt = 1; /* a copy of pending proposals may wait from before a restart */
	int failing = 0;	  /* the last round failed */

	for (;;) {
		struct http_resp r = {0};
		struct cc_err e = {0}, oe = {0};
		int ret, reached;

		peer_cosigners(p);
		if (peer_sleep(p, wait))
			break;
		wait = PEER_POLL_MS;
		following = node_sequencer_url(p->n, url, sizeof(url));
		if (node_count(p->n) > 1 && time(NULL) >= next_look) {
			peer_look_around(p, !following, !following || failing);
			next_look = time(NULL) + PEER_LOOK_SEC;
			following = node_sequencer_url(p->n, url, sizeof(url));
		}
		if (!following) {
			char self[MEMBER_ID_MAX + 1];

			if (node_failover_pending_self(p->n, self) && time(NULL) >= next_take) {
				peer_take_again(p, last, sizeof(last));
				next_take = time(NULL) + PEER_LOOK_SEC;
			}
			/* the node a failover named, sequencing now: what waited at the deposed
			 * sequencer is decided here from now on */
			if (node_role(p->n, url, sizeof(url)) == NODE_DECIDES) {
				if (adopt)
					peer_adopt_pending(p);
				adopt = 0;
				/* and what this node kept for the old one (queued, answered 202) */
				if (peer_outbox_pass(p, NULL, &e) < 0)
					peer_complain(last, sizeof(last), "outbox", e.msg);
				else
					last[0] = '\0';
			}
			continue;
		}
		adopt = 1;
		if (peer_http(&h, url, PEER_CATCHUP_MS, &e) < 0) {
			peer_complain(last, sizeof(last), url, e.msg);
			wait = PEER_RETRY_MS;
			continue;
		}
		/* a deposed sequencer's pending proposals are the new one's to decide */
		pthread_mutex_lock(&p->st_mu);
		ret = node_hand_on(p->n, p->st, &e);
		pthread_mutex_unlock(&p->st_mu);
		if (ret < 0)
			peer_complain(last, sizeof(last), "pending proposals", e.msg);
		/* A small answer first: a sequencer cut off (its packets dropped) is soon found
		 * out, and what waits in the outbox is sent only to one that answers. */
		http_set_timeouts(h, PEER_CONNECT_MS, PEER_SMALL_MS);
		ret = http_get(h, "/log/checkpoint", HTTP_MAX_SMALL, &r, &e);
		http_set_timeouts(h, PEER_CONNECT_MS, PEER_CATCHUP_MS);
		reached = ret == 0;
		if (reached && peer_outbox_pass(p, h, &oe) < 0) {
			peer_complain(last, sizeof(last), "outbox", oe.msg);
			wait = PEER_RETRY_MS;
		}
		if (ret == 0)
			ret = follow_sync(p->n, url, r.body.p, r.body.len, 0, &e);
		else if (r.status == 0 && peer_from_others(p) == 0)
			ret = 0; /* the sequencer is away: another node had what it had */
		if (reached && ret >= 0 && time(NULL) >= next_copy) {
			peer_copy_pending(p, h);
			next_copy = time(NULL) + PEER_LOOK_SEC;
		}
		/* how final the log is: the sequencer knows first */
		if (reached && ret >= 0 && node_final_behind(p->n) &&
		    http_get(h, "/v1/final", HTTP_MAX_SMALL, &r, &e) == 0)
			witness_final_offer(p->n, r.body.p, r.body.len);
		http_resp_free(&r);
		/* other nodes may hold what it held, and no more: still cut off from it */
		failing = ret < 0 || !reached;
		if (ret < 0) {
			peer_complain(last, sizeof(last), url, e.msg);
			wait = PEER_RETRY_MS;
		} else {
			if (last[0] != '\0')
				node_log("following %s again", url);
			last[0] = '\0';
			/* more may have come meanwhile; finality is a round of cosignatures away */
			if (ret == 1)
				wait = 0;
			else if (reached && node_final_behind(p->n))
				wait = PEER_FINAL_MS;
		}
	}
	http_free(h);
	return NULL;
}

/* An answer of the forwarder's own (taking j). */
static void fwd_json(struct peer_fwd *f, long status, const char *ctype, json_t *j)
{
	char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;

	f->status = status;
	snprintf(f->ctype, sizeof(f->ctype), "%s", ctype);
	cbuf_reset(&f->out);
	if (s == NULL || cbuf_puts(&f->out, s) < 0)
		f->status = 500;
	free(s);
	json_decref(j);
}

static void fwd_problem(struct peer_fwd *f, long status, const char *type, const char *title,
			const char *detail)
{
	fwd_json(f, status, "application/problem+json",
		 json_pack("{s:s,s:s,s:i,s:s}", "type", type, "title", title, "status", (int)status,
			   "detail", detail));
}

/* The largest log index an accepted answer names (a proposal, or a batch's items). */
static int64_t fwd_index(const struct cbuf *body)
{
	json_t *j = json_loadb(body->p ? body->p : "", body->len, 0, NULL), *items, *it;
	int64_t max = -1;
	size_t i;

	if (j == NULL)
		return -1;
	if (json_is_integer(json_object_get(j, "index")))
		max = json_integer_value(json_object_get(j, "index"));
	items = json_object_get(j, "items");
	json_array_foreach(items, i, it)
	{
		json_t *x = json_object_get(it, "index");

		if (json_is_integer(x) && json_integer_value(x) > max)
			max = json_integer_value(x);
	}
	json_decref(j);
	return max;
}

/* Whether requests wait in the outbox, not counting those the sequencer deferred (429): a
 * new request must not overtake the others, but need not wait for those. */
static int peer_outbox_busy(struct peer *p)
{
	int busy;

	pthread_mutex_lock(&p->st_mu);
	busy = store_outbox_waiting(p->st, NULL) != 0;
	pthread_mutex_unlock(&p->st_mu);
	return busy;
}

#define QUEUED_AWAY   0 /* the sequencer could not be reached */
#define QUEUED_BEHIND 1 /* earlier requests wait to be sent */
#define QUEUED_AFTER  2 /* its proposal waits here, deferred by the sequencer */

/* Keeps a change the sequencer could not be given now; answers 202 queued. A change that
 * waits for its proposal, which the sequencer deferred, is kept deferred too: it holds up no
 * other request. */
static void fwd_queue(struct peer *p, struct peer_fwd *f, const char *url, const char *why,
		      int kind)
{
	static const char *const detail[] = {
	    [QUEUED_AWAY] = "the sequencer is unreachable: the request is kept on this node and "
			    "sent again until the sequencer answers it",
	    [QUEUED_BEHIND] = "earlier requests wait on this node to be sent to the sequencer: "
			      "the request is kept and sent after them",
	    [QUEUED_AFTER] = "its proposal waits on this node until the sequencer takes it (the "
			     "proposer's share there is full): the request is kept and sent "
			     "after it",
	};
	struct cc_err e = {0};
	int ret;

	pthread_mutex_lock(&p->st_mu);
	ret = store_outbox_put(p->st, f->path, f->body ? f->body : "", f->len,
			       kind == QUEUED_AFTER ? -1 : (int64_t)time(NULL), &e);
	pthread_mutex_unlock(&p->st_mu);
	if (ret < 0) {
		fwd_problem(f, 503, "urn:concord:problem:unavailable", "sequencer unreachable",
			    e.msg);
		return;
	}
	node_log("sequencer %s: %s: %s kept, sent again later", url, why, f->path);
	fwd_json(f, 202, "application/json",
		 json_pack("{s:s,s:s,s:s}", "status", "queued", "sequencer", url, "detail",
			   detail[kind]));
}

/* The sequencer out of reach, a GET of one proposal is answered from what this node holds:
 * its own record of a decided proposal, else its copy of the proposals that waited at the
 * sequencer (peer_copy_pending), marked "copy" with where and when that was taken. A member
 * can then still read a waiting proposal here and approve it: the approval is kept
 * (fwd_queue) and handed over once the sequencer answers. 1 when answered. */
static int fwd_from_here(struct peer *p, struct peer_fwd *f)
{
	static const char prefix[] = "/v1/proposals/";
	const char *id = f->path + sizeof(prefix) - 1;
	struct cbuf out = CBUF_INIT, copy = CBUF_INIT;
	struct cc_err e = {0};
	json_t *j = NULL, *v, *found = NULL, *mark = NULL;
	char key[PROPOSAL_ID_LEN + 8];
	const char *when;
	int64_t expires;
	size_t i;
	int ret, answered = 0;

	if (f->post || strncmp(f->path, prefix, sizeof(prefix) - 1) != 0 || !node_id_valid(id))
		goto out;
	ret = node_proposal(p->n, id, &out, &e);
	/* a pending one held here is left over from when this node sequenced, and is handed on
	 * to the sequencer shortly (node_hand_on): where it stands is the sequencer's to say */
	if (ret == 0 && (j = json_loadb(out.p, out.len, 0, NULL)) != NULL &&
	    json_is_string(json_object_get(j, "status")) &&
	    strcmp(json_string_value(json_object_get(j, "status")), "pending") == 0)
		ret = CC_ENOENT;
	json_decref(j);
	j = NULL;
	if (ret == 0) {
		f->status = 200;
		snprintf(f->ctype, sizeof(f->ctype), "application/json");
		cbuf_free(&f->out);
		f->out = out;
		out = (struct cbuf)CBUF_INIT;
		answered = 1;
		goto out;
	}
	if (ret != CC_ENOENT)
		goto out;
	pthread_mutex_lock(&p->st_mu);
	ret = store_meta_get(p->st, PEER_PENDING_META, &copy, NULL);
	pthread_mutex_unlock(&p->st_mu);
	/* the copy may be large, the question anyone's: parsed only when it names the id */
	snprintf(key, sizeof(key), "\"id\":\"%s\"", id);
	if (ret == 0 && copy.len > 0 && memmem(copy.p, copy.len, key, strlen(key)) != NULL)
		j = json_loadb(copy.p, copy.len, 0, NULL);
	json_array_foreach(json_object_get(j, "proposals"), i, v)
	{
		const char *vid = json_string_value(json_object_get(v, "id"));

		if (json_is_object(v) && vid != NULL && strcmp(vid, id) == 0) {
			found = v;
			break;
		}
	}
	/* a copy of an earlier form says neither where nor when: not shown */
	if (found == NULL || !json_is_string(json_object_get(j, "from")) ||
	    !json_is_integer(json_object_get(j, "taken")))
		goto out;
	mark = json_pack("{sOsO}", "from", json_object_get(j, "from"), "taken",
			 json_object_get(j, "taken"));
	if (mark == NULL || json_object_set_new(found, "copy", mark) < 0)
		goto out;
	/* waiting then, but past its expiry now: the sequencer would say so too */
	when = json_string_value(json_object_get(found, "expires"));
	if (when && tfmt_parse(when, &expires) == 0 && (int64_t)time(NULL) > expires)
		json_object_set_new(found, "status", json_string("expired"));
	fwd_json(f, 200, "application/json", json_incref(found));
	answered = 1;
out:
	json_decref(j);
	cbuf_free(&copy);
	cbuf_free(&out);
	return answered;
}

static void fwd_run(struct peer *p, struct peer_fwd *f, struct http **h)
{
	char url[NODE_URL_MAX + 1];
	struct http_resp r = {0};
	struct cc_err e = {0};
	int64_t idx;

	if (!node_sequencer_url(p->n, url, sizeof(url))) {
		/* the node became the sequencer meanwhile, or stopped following */
		fwd_problem(f, 503, "urn:concord:problem:unavailable", "try again",
			    "this node no longer follows a sequencer");
		return;
	}
	if (f->post && peer_outbox_busy(p)) {
		/* behind what waits already: sent in its turn, oldest first */
		fwd_queue(p, f, url, "earlier requests wait to be sent", QUEUED_BEHIND);
		return;
	}
	if (f->post && outbox_holds_its_proposal(p, f->path)) {
		fwd_queue(p, f, url, "its proposal waits on this node to be sent", QUEUED_AFTER);
		return;
	}
	if (peer_http(h, url, PEER_REQUEST_MS, &e) < 0) {
		if (!fwd_from_here(p, f))
			fwd_problem(f, 503, "urn:concord:problem:unavailable",
				    "sequencer unreachable", e.msg);
		return;
	}
	if (f->post)
		http_post(*h, f->path, "text/plain", f->body ? f->body : "", f->len, HTTP_MAX_JSON,
			  &r, &e);
	else
		http_get(*h, f->path, HTTP_MAX_JSON, &r, &e);
	if (r.status == 0) {
		if (f->post)
			fwd_queue(p, f, url, e.msg[0] ? e.msg : "unreachable", QUEUED_AWAY);
		else if (!fwd_from_here(p, f))
			fwd_problem(f, 502, "urn:concord:problem:unavailable",
				    "sequencer unreachable", e.msg);
		goto out;
	}
	f->status = r.status;
	snprintf(f->ctype, sizeof(f->ctype), "%s", r.ctype[0] ? r.ctype : "application/json");
	cbuf_free(&f->out);
	f->out = r.body;
	r.body = (struct cbuf)CBUF_INIT;
	/* Read-your-writes: answered once this node holds what the sequencer appended. */
	if (f->post && f->status >= 200 && f->status < 300 && (idx = fwd_index(&f->out)) >= 0) {
		struct timespec until, now;

		peer_wake(p);
		deadline_in(&until, PEER_READBACK_MS);
		while (node_size(p->n) <= (uint64_t)idx && !node_stopping(p->n)) {
			struct timespec ts = {0, 20 * 1000000L};

			clock_gettime(CLOCK_REALTIME, &now);
			if (now.tv_sec > until.tv_sec ||
			    (now.tv_sec == until.tv_sec && now.tv_nsec >= until.tv_nsec))
				break;
			nanosleep(&ts, NULL);
		}
	}
out:
	http_resp_free(&r);
}

/* The node a failover named, sequencing now: the proposals that waited at the deposed
 * sequencer (the copy peer_copy_pending kept) are submitted here again, with their
 * objections; each is checked as any new one. */
static void peer_adopt_pending(struct peer *p)
{
	struct cbuf copy = CBUF_INIT;
	json_t *j = NULL, *v, *o;
	size_t i, k, taken = 0, all = 0;
	int ret;

	pthread_mutex_lock(&p->st_mu);
	ret = store_meta_get(p->st, PEER_PENDING_META, &copy, NULL);
	pthread_mutex_unlock(&p->st_mu);
	if (ret < 0 || copy.len == 0)
		goto out;
	if ((j = json_loadb(copy.p, copy.len, 0, NULL)) == NULL)
		goto done;
	json_array_foreach(json_object_get(j, "proposals"), i, v)
	{
		const char *id = json_string_value(json_object_get(v, "id"));
		json_t *note = json_object_get(v, "note");
		struct node_reply r = {0};

		if (id == NULL || !json_is_string(note) || json_string_length(note) == 0)
			continue;
		all++;
		peer_change(p, NULL, json_string_value(note), json_string_length(note), &r);
		if (r.status == NODE_ACCEPTED || r.status == NODE_CREATED)
			taken++;
		else
			node_log("failover: proposal %.16s not taken over: %s", id,
				 r.status < 0 ? r.err.msg : "known here already");
		node_reply_free(&r);
		json_array_foreach(json_object_get(v, "objections"), k, o)
		{
			struct node_reply ro = {0};

			if (json_is_string(o))
				peer_change(p, id, json_string_value(o), json_string_length(o),
					    &ro);
			node_reply_free(&ro);
		}
	}
	node_log("failover: %zu of the %zu proposals that waited at the deposed sequencer taken "
		 "over",
		 taken, all);
done:
	/* forgotten once submitted: a crash before takes them again (the same again is known) */
	pthread_mutex_lock(&p->st_mu);
	if (store_meta_put(p->st, PEER_PENDING_META, "", NULL) == 0) {
		memset(p->pending_sum, 0, sizeof(p->pending_sum));
		p->pending_etag[0] = '\0';
		atomic_store(&p->n->pending_copied, 0);
	}
	pthread_mutex_unlock(&p->st_mu);
out:
	json_decref(j);
	cbuf_free(&copy);
}

/* This node is the one a failover named: it takes the longest log the other nodes hold of
 * the deposed sequencer, then appends the note and sequences from there. A change the deposed
 * sequencer answered was final, so some witnesses hold it: the note is appended only once
 * enough nodes have given their logs that one of those witnesses is among them
 * (node_takeover_need); until then the takeover fails and is tried again. Each node is given
 * the note first: one that holds it cosigns no more checkpoints of the deposed sequencer, so
 * nothing becomes final behind the takeover. The count holds for the state the pass ends
 * with: a pass that took entries (which may change the nodes or the quorum) is run again. */
static int peer_takeover(struct peer *p, const char *note, size_t len, struct cc_err *e)
{
	struct cbuf missing = CBUF_INIT, why = CBUF_INIT;
	struct node_reply r = {0};
	struct node_peer *v = NULL;
	size_t nodes = 0, heard = 0, need = 0, nv = 0;
	int ret = 0, pass, stable = 0;

	for (pass = 0; pass < PEER_TAKE_PASSES && !stable; pass++) {
		uint64_t size = node_size(p->n);
		size_t nodes0;
		size_t need0 = node_takeover_need(p->n, &nodes0);
		struct http *h = NULL;

		free(v);
		v = node_others(p->n, &nv);
		heard = 1;
		cbuf_reset(&missing);
		cbuf_reset(&why);
		for (size_t i = 0; i < nv; i++) {
			struct http_resp hr = {0};
			struct cc_err ce = {0};

			if (peer_stopping(p)) {
				ret = cc_fail(e, CC_EIO, "the node is stopping");
				goto out;
			}
			if (peer_http(&h, v[i].url, PEER_CONNECT_MS * 2, &ce) == 0 &&
			    http_post(h, "/v1/failover", "text/plain", note, len, HTTP_MAX_SMALL,
				      &hr, &ce) == 0 &&
			    http_get(h, "/log/checkpoint", HTTP_MAX_SMALL, &hr, &ce) == 0 &&
			    follow_round(p->n, v[i].url, hr.body.p, hr.body.len, FOLLOW_TAKEOVER,
					 &ce) >= 0)
				heard++;
			else if (cbuf_printf(&missing, "%s%s", missing.len ? ", " : "", v[i].id) <
				     0 ||
				 cbuf_printf(&why, "%s%s: %s", why.len ? "; " : "", v[i].id,
					     ce.msg[0] ? ce.msg : "no answer") < 0)
				node_fatal("out of memory");
			http_resp_free(&hr);
			http_free(h);
			h = NULL;
		}
		need = node_takeover_need(p->n, &nodes);
		stable = node_size(p->n) == size && need == need0 && nodes == nodes0;
	}
	if (!stable) {
		ret =
		    cc_fail(e, CC_EIO, "the log kept moving while it was taken: tried again later");
		goto out;
	}
	if (heard < need) {
		/* the nodes first: a long detail is cut at the end */
		ret =
		    cc_fail(e, CC_EIO,
			    "%zu of the %zu nodes gave their log (this one among them), %zu must "
			    "before the note is appended, so that no final entry is left behind; "
			    "not heard: %s; this node keeps trying (%s)",
			    heard, nodes, need, missing.p ? missing.p : "none", why.p ? why.p : "");
		goto out;
	}
	node_log("failover: appending the note at log size %" PRIu64 " (%zu of the %zu nodes "
		 "gave their log)",
		 node_size(p->n), heard, nodes);
	peer_change(p, NULL, note, len, &r);
	ret = r.status == NODE_CREATED ? 0 : r.status < 0 ? r.status : CC_ECONFLICT;
	if (ret < 0)
		cc_fail(e, ret, "the failover note was not appended: %s",
			r.status < 0 ? r.err.msg : "it did not pass");
	else
		node_log("failover: the note is entry %" PRId64 ", this node sequences the log",
			 r.index);
	node_reply_free(&r);
out:
	free(v);
	cbuf_free(&missing);
	cbuf_free(&why);
	return ret;
}

/* One takeover at a time, from a request or from the follower thread: 1 when this call ran
 * it (ret gets its outcome), 0 when another was running (wait: after waiting for it) or the
 * log holds the note by now. */
static int peer_take_once(struct peer *p, const char *note, size_t len, int wait, int *ret,
			  struct cc_err *e)
{
	char self[MEMBER_ID_MAX + 1];
	int mine;

	pthread_mutex_lock(&p->mu);
	while (wait && p->taking && !p->stop)
		pthread_cond_wait(&p->cv, &p->mu);
	mine = !p->taking && !p->stop;
	if (mine)
		p->taking = 1;
	pthread_mutex_unlock(&p->mu);
	if (!mine)
		return 0;
	if (node_failover_pending_self(p->n, self)) {
		*ret = peer_takeover(p, note, len, e);
		mine = 1;
	} else {
		mine = 0;
	}
	pthread_mutex_lock(&p->mu);
	p->taking = 0;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	return mine;
}

/* The follower thread of a node a failover named whose log does not hold the note yet (too
 * few nodes answered, or it restarted meanwhile): tries again. */
static void peer_take_again(struct peer *p, char *last, size_t cap)
{
	char id[MEMBER_ID_MAX + 1];
	struct cbuf note = CBUF_INIT;
	struct cc_err e = {0}, ce = {0};
	int ret = 0;

	if (node_failover_note(p->n, &note) != 1)
		goto out;
	/* A note that no longer holds (it expired, or the log moved past the version it
	 * replaces) will never be appended: not tried again. The node stands by (the others
	 * follow it now) until the members give a new note, which replaces this one. */
	if (failover_check(p->n, note.p, note.len, id, &ce) < 0) {
		char msg[CC_ERR_MSG + 96];

		snprintf(msg, sizeof(msg),
			 "the note naming this node no longer holds (%s): it stands by until a new "
			 "note is given",
			 ce.msg);
		/* said once, even after complaints of attempts that failed before */
		peer_complain(last, cap, "failover note", msg);
		goto out;
	}
	if (peer_take_once(p, note.p, note.len, 0, &ret, &e) == 1) {
		if (ret < 0)
			peer_complain(last, cap, "failover", e.msg);
		else
			last[0] = '\0';
	}
out:
	cbuf_free(&note);
}

static void fwd_failover(struct peer *p, struct peer_fwd *f)
{
	char id[MEMBER_ID_MAX + 1], self[MEMBER_ID_MAX + 1];
	struct cc_err e = {0};
	int ret = failover_take(p->n, f->body, f->len, id, &e);

	if (ret == CC_ECONFLICT) {
		fwd_problem(f, 409, "urn:concord:problem:conflict", "another failover note is held",
			    e.msg);
		return;
	}
	if (ret < 0) {
		fwd_problem(f, ret == CC_EPERM || ret == CC_ESIG ? 403 : 400,
			    ret == CC_EPERM || ret == CC_ESIG ? "urn:concord:problem:forbidden"
							      : "urn:concord:problem:invalid",
			    "not a valid failover note", e.msg);
		return;
	}
	/* A deposed sequencer answers once what it sequenced before the note is published: a
	 * takeover that asks for its checkpoint after this answer finds all of it. */
	node_settle_deposed(p->n);
	/* passed on by the spreader thread: this answer waits for no other node */
	if (ret == 1)
		peer_spread_later(p, f->body, f->len);
	if (node_failover_pending_self(p->n, self)) {
		int took = 0;

		/* One takeover at a time. A note new here waits for one the follower runs, to
		 * answer how it went; one known already (passed on by the others, given again)
		 * does not wait. */
		if (peer_take_once(p, f->body, f->len, ret == 1, &took, &e) == 1) {
			if (took < 0) {
				node_log("failover: %s", e.msg);
				fwd_problem(f, 503, "urn:concord:problem:unavailable",
					    "failover incomplete", e.msg);
				return;
			}
			ret = 1;
		}
	}
	if (peer_stopping(p)) {
		fwd_problem(f, 503, "urn:concord:problem:unavailable", "stopping",
			    "the node is stopping");
		return;
	}
	fwd_json(f, ret == 1 ? 202 : 200, "application/json",
		 json_pack("{s:s,s:s}", "status", ret == 1 ? "taken" : "known", "sequencer", id));
}

static void *peer_forwarder(void *arg)
{
	struct peer *p = arg;
	struct http *h = NULL;

	for (;;) {
		struct peer_fwd *f;

		pthread_mutex_lock(&p->mu);
		while (!p->stop && p->head == NULL)
			pthread_cond_wait(&p->cv, &p->mu);
		f = p->head;
		if (f != NULL) {
			p->head = f->next;
			if (p->head == NULL)
				p->tail = &p->head;
		}
		pthread_mutex_unlock(&p->mu);
		if (f == NULL)
			break;
		if (p->stop)
			fwd_problem(f, 503, "urn:concord:problem:unavailable", "stopping",
				    "the node is stopping");
		else if (f->witness)
			witness_add(p->n, f->body, f->len, &f->status, f->ctype, &f->out);
		else if (f->failover)
			fwd_failover(p, f);
		else
			fwd_run(p, f, &h);
		f->w->done(f->w);
	}
	http_free(h);
	return NULL;
}

static void peer_enqueue(struct peer *p, struct peer_fwd *f)
{
	int stopped;

	f->next = NULL;
	f->status = 0;
	pthread_mutex_lock(&p->mu);
	stopped = p->stop;
	if (!stopped) {
		*p->tail = f;
		p->tail = &f->next;
		pthread_cond_broadcast(&p->cv);
	}
	pthread_mutex_unlock(&p->mu);
	/* no forwarder left to answer: answered here */
	if (stopped) {
		fwd_problem(f, 503, "urn:concord:problem:unavailable", "stopping",
			    "the node is stopping");
		f->w->done(f->w);
	}
}

void peer_witness(struct peer *p, struct peer_fwd *f)
{
	f->witness = 1;
	peer_enqueue(p, f);
}

void peer_failover(struct peer *p, struct peer_fwd *f)
{
	f->failover = 1;
	peer_enqueue(p, f);
}

static void *peer_cosigner_main(void *arg)
{
	struct peer_cosigner *c = arg;
	struct peer *p = c->p;
	struct http *h = NULL;
	struct cbuf body = CBUF_INIT;
	char id[MEMBER_ID_MAX + 1] = "", url[NODE_URL_MAX + 1], last[512] = "";
	uint64_t known = 0, done = 0, until = UINT64_MAX;
	long wait = 0;
	int busy = 0; /* 503s in a row: the node is taking the log, or cannot yet */

	for (;;) {
		char nid[MEMBER_ID_MAX + 1];
		struct http_resp r = {0};
		struct cc_err e = {0};
		uint64_t size, held;
		int ret;

		/* until the log grows past until, or the time is up: UINT64_MAX is a plain
		 * wait (nothing to do here, or a peer to leave alone for a while) */
		if (wait > 0)
			node_wait_growth(p->n, until, wait);
		pthread_mutex_lock(&p->mu);
		ret = p->stop;
		pthread_mutex_unlock(&p->mu);
		if (ret)
			break;
		wait = PEER_COSIGN_MS;
		until = UINT64_MAX;
		if (!node_other(p->n, c->slot, 0, nid, url))
			continue;
		if (strcmp(nid, id) != 0) {
			/* another node in this slot: it says where it stands */
			snprintf(id, sizeof(id), "%s", nid);
			known = done = 0;
		}
		if (node_size(p->n) == done) {
			until = done;
			continue;
		}
		if (peer_http(&h, url, PEER_REQUEST_MS, &e) < 0 ||
		    witness_request(p->n, id, known, &body, &size, &e) < 0) {
			peer_complain(last, sizeof(last), url, e.msg);
			known = 0;
			continue;
		}
		http_post(h, WITNESS_PATH, "text/plain", body.p, body.len, HTTP_MAX_SMALL, &r, &e);
		if (r.status == 200) {
			if (witness_take(p->n, id, size, r.body.p, r.body.len, &e) < 0)
				peer_complain(last, sizeof(last), url, e.msg);
			else
				last[0] = '\0';
			known = done = size;
			wait = 0;
			busy = 0;
		} else if (r.status == 503 && busy < 5) {
			/* "ask again": usually the node is taking this very log a moment
			 * earlier on its own; soon, then less and less often */
			wait = PEER_BUSY_MS << busy++;
			known = 0;
		} else if (r.status == 409 && strcmp(r.ctype, CT_TLOG_SIZE) == 0 &&
			   tlog_size_parse(r.body.p, r.body.len, &held) == 0) {
			/* It holds another size: ask again from there at once. The size asked
			 * for, held, is another tree of that size: it keeps an alarm. */
			if (held == known) {
				peer_complain(last, sizeof(last), url,
					      "holds another tree of the same size");
			} else {
				known = held;
				wait = 0;
			}
		} else {
			peer_complain(last, sizeof(last), url, r.status ? r.body.p : e.msg);
			known = 0;
		}
		http_resp_free(&r);
	}
	cbuf_free(&body);
	http_free(h);
	return NULL;
}

int peer_forward(struct peer *p, struct peer_fwd *f)
{
	char url[NODE_URL_MAX + 1];

	if (p == NULL || !node_sequencer_url(p->n, url, sizeof(url)))
		return 0;
	f->witness = 0;
	peer_enqueue(p, f);
	return 1;
}

int peer_start(struct peer **out, struct node *n, struct cc_err *e)
{
	char path[CONF_PATH_MAX];
	struct peer *p;
	int ret;

	*out = NULL;
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return cc_fail(e, CC_ENOMEM, "out of memory");
	p->n = n;
	p->tail = &p->head;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	pthread_mutex_init(&p->st_mu, NULL);
	if ((ret = conf_path(path, node_dir(n), CONF_DB_FILE, e)) < 0 ||
	    (ret = store_open(&p->st, path, 0, e)) < 0 || (ret = store_outbox_settle(p->st, e)) < 0)
		goto out;
	if (pthread_create(&p->follower, NULL, peer_follower, p) != 0) {
		ret = cc_fail(e, CC_ENOMEM, "cannot start the follower thread");
		goto out;
	}
	p->follower_started = 1;
	if (pthread_create(&p->spreader, NULL, peer_spreader, p) != 0) {
		ret = cc_fail(e, CC_ENOMEM, "cannot start the spreader thread");
		goto out;
	}
	p->spreader_started = 1;
	for (; p->nfwd < PEER_FORWARDERS; p->nfwd++)
		if (pthread_create(&p->fwd[p->nfwd], NULL, peer_forwarder, p) != 0) {
			ret = cc_fail(e, CC_ENOMEM, "cannot start the forwarding threads");
			goto out;
		}
	*out = p;
	p = NULL;
out:
	peer_free(p);
	return ret;
}

void peer_stop(struct peer *p)
{
	if (p == NULL)
		return;
	pthread_mutex_lock(&p->mu);
	p->stop = 1;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	if (p->follower_started)
		pthread_join(p->follower, NULL);
	if (p->spreader_started)
		pthread_join(p->spreader, NULL);
	for (int i = 0; i < p->nfwd; i++)
		pthread_join(p->fwd[i], NULL);
	for (int i = 0; i < p->ncos; i++)
		pthread_join(p->cos[i].th, NULL);
	p->follower_started = p->spreader_started = p->nfwd = p->ncos = 0;
}

void peer_free(struct peer *p)
{
	if (p == NULL)
		return;
	peer_stop(p);
	free(p->spread);
	store_close(p->st);
	pthread_mutex_destroy(&p->st_mu);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
	free(p);
}
