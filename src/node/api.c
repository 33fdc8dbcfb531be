#include "node/api.h"

#include <errno.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "core/buf.h"
#include "core/ledger.h"
#include "core/tlog.h"
#include "node/conf.h"
#include "node/peer.h"
#include "node/witness.h"

#define CT_JSON		"application/json"
#define CT_PROBLEM	"application/problem+json"
#define CT_TEXT		"text/plain; charset=utf-8"
#define CT_OCTETS	"application/octet-stream"
#define CACHE_IMMUTABLE "public, max-age=31536000, immutable"

struct api {
	struct MHD_Daemon *d; /* the HTTP daemon */
	struct node *n;	      /* the node served */
	struct peer *peer;    /* the way to the sequencer, or NULL */
	atomic_int active;    /* requests in progress */
	atomic_int closing;   /* stopping: new requests are answered 503 (api_quiesce) */
};

enum req_phase {
	REQ_READING, /* receiving the body */
	REQ_WAITING, /* suspended until the node's commit */
	REQ_READY    /* woken: the answer can be sent */
};

enum req_kind {
	REQ_CHANGE, /* a POST: the answer is reply */
	REQ_BATCH,  /* POST /v1/proposals/batch: the answer is batch */
	REQ_RECORD, /* GET /v1/records/{path}: ask again once woken */
	REQ_FORWARD /* carried to the sequencer: the answer is fwd */
};

struct api_req {		       /* one request */
	struct node_waiter w;	       /* first member: the committer wakes us through it */
	struct api *a;		       /* the server */
	struct MHD_Connection *c;      /* its connection */
	struct cbuf body;	       /* the request body */
	size_t max;		       /* the body limit of this request */
	int too_big;		       /* the body went over max */
	int phase;		       /* enum req_phase */
	int kind;		       /* enum req_kind, once suspended */
	struct node_reply reply;       /* REQ_CHANGE: the answer */
	struct node_batch_reply batch; /* REQ_BATCH: the answer */
	struct peer_fwd fwd;	       /* REQ_FORWARD: the request and its answer */
	time_t since;		       /* REQ_RECORD: when it began to wait */
};

/* ---- responses ---- */

static enum MHD_Result api_send(struct MHD_Connection *c, unsigned status, const char *ctype,
				struct cbuf *body, const char *cache, const char *allow,
				const char *etag)
{
	struct MHD_Response *resp;
	size_t len = body->len;
	char *data = cbuf_take(body);
	enum MHD_Result ret;

	resp = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
	if (resp == NULL) {
		free(data);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	if (cache)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, cache);
	if (allow)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
	if (etag)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, etag);
	ret = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static void problem_kind(int code, unsigned *status, const char **type)
{
	switch (code) {
	case CC_EINVAL:
		*status = 400, *type = "invalid";
		break;
	case CC_ESIG:
		*status = 403, *type = "bad-signature";
		break;
	case CC_EPERM:
		*status = 403, *type = "forbidden";
		break;
	case CC_ENOENT:
		*status = 404, *type = "not-found";
		break;
	case CC_ESTALE:
		*status = 409, *type = "stale";
		break;
	case CC_EEXIST:
		*status = 409, *type = "exists";
		break;
	case CC_ECONFLICT:
		*status = 409, *type = "conflict";
		break;
	case CC_EEXPIRED:
		*status = 410, *type = "expired";
		break;
	case CC_ETOOBIG:
		*status = 413, *type = "too-large";
		break;
	case CC_ETIME:
		*status = 422, *type = "bad-time";
		break;
	case CC_EQUOTA:
		*status = 429, *type = "quota";
		break;
	case CC_EAGAIN:
		*status = 503, *type = "unavailable";
		break;
	default:
		*status = 500, *type = "internal";
		break;
	}
}

/* The members of an RFC 9457 problem document, also one item of a batch answer. */
static json_t *problem_json(unsigned status, const char *type, const char *title,
			    const char *detail)
{
	char urn[64];
	json_t *j;

	snprintf(urn, sizeof(urn), "urn:concord:problem:%s", type);
	j = json_pack("{s:s, s:s, s:I, s:s}", "type", urn, "title", title, "status",
		      (json_int_t)status, "detail", detail);
	/* A detail echoing client input may not be UTF-8: keep its ASCII, mark the rest. */
	if (j == NULL) {
		char safe[CC_ERR_MSG];
		size_t i;

		for (i = 0; detail[i] && i + 1 < sizeof(safe); i++)
			safe[i] = (unsigned char)detail[i] < 0x20 || (unsigned char)detail[i] > 0x7e
				      ? '?'
				      : detail[i];
		safe[i] = '\0';
		j = json_pack("{s:s, s:s, s:I, s:s}", "type", urn, "title", title, "status",
			      (json_int_t)status, "detail", safe);
	}
	return j;
}

/* An RFC 9457 problem document; status and type given explicitly (405, 503) or from code. */
static enum MHD_Result api_problem_full(struct MHD_Connection *c, unsigned status, const char *type,
					const char *title, const char *detail, const char *allow)
{
	struct cbuf body = CBUF_INIT;
	json_t *j = problem_json(status, type, title, detail);
	char *s;

	s = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (s == NULL || cbuf_puts(&body, s) < 0) {
		free(s);
		cbuf_free(&body);
		return MHD_NO;
	}
	free(s);
	return api_send(c, status, CT_PROBLEM, &body, NULL, allow, NULL);
}

static enum MHD_Result api_problem(struct api *a, struct MHD_Connection *c, int code,
				   const char *detail)
{
	const char *type;
	unsigned status;

	if (code == CC_EIO && node_stopping(a->n))
		return api_problem_full(c, 503, "unavailable", "service unavailable", detail, NULL);
	problem_kind(code, &status, &type);
	return api_problem_full(c, status, type, cc_strerror(code), detail, NULL);
}

static enum MHD_Result api_err(struct api *a, struct MHD_Connection *c, const struct cc_err *e,
			       int code)
{
	if (e->code == 0)
		return api_problem(a, c, code, cc_strerror(code));
	return api_problem(a, c, e->code, e->msg);
}

static enum MHD_Result api_bad_method(struct MHD_Connection *c, const char *method,
				      const char *allow)
{
	char detail[128];

	snprintf(detail, sizeof(detail), "%.16s is not allowed here; use %s", method, allow);
	return api_problem_full(c, 405, "method-not-allowed", "method not allowed", detail, allow);
}

static enum MHD_Result api_not_found(struct MHD_Connection *c, const char *url)
{
	char detail[160];

	snprintf(detail, sizeof(detail), "no such resource: %.120s", url);
	return api_problem_full(c, 404, "not-found", cc_strerror(CC_ENOENT), detail, NULL);
}

/* ---- waiting for the committer ---- */

static void api_wake(struct node_waiter *w)
{
	struct api_req *q = (struct api_req *)w;

	q->phase = REQ_READY;
	MHD_resume_connection(q->c);
}

/* Runs a change with the connection suspended: the committer may wake it at any moment
 * after the change is queued, and resuming a connection that is not suspended is undefined.
 * An answer available at once resumes it straight away. Either way the answer goes out
 * when MHD calls the handler again. */
static enum MHD_Result api_change(struct api_req *q,
				  int (*fn)(struct node *, const char *, const char *, size_t,
					    struct node_waiter *, struct node_reply *),
				  const char *id)
{
	int wait;

	q->kind = REQ_CHANGE;
	q->phase = REQ_WAITING;
	MHD_suspend_connection(q->c);
	if (fn)
		wait = fn(q->a->n, id, q->body.p ? q->body.p : "", q->body.len, &q->w, &q->reply);
	else
		wait =
		    node_submit(q->a->n, q->body.p ? q->body.p : "", q->body.len, &q->w, &q->reply);
	if (!wait) {
		q->phase = REQ_READY;
		MHD_resume_connection(q->c);
	}
	return MHD_YES;
}

/* POST /v1/proposals/batch, run like api_change. */
static enum MHD_Result api_batch(struct api_req *q)
{
	q->kind = REQ_BATCH;
	q->phase = REQ_WAITING;
	MHD_suspend_connection(q->c);
	if (!node_submit_batch(q->a->n, q->body.p ? q->body.p : "", q->body.len, &q->w,
			       &q->batch)) {
		q->phase = REQ_READY;
		MHD_resume_connection(q->c);
	}
	return MHD_YES;
}

static json_t *batch_item_json(const struct node_item *it)
{
	const char *type;
	unsigned status;

	if (it->status < 0) {
		json_t *j;

		problem_kind(it->status, &status, &type);
		j = json_pack("{s:o*}", "error",
			      problem_json(status, type, cc_strerror(it->status),
					   it->why ? it->why : cc_strerror(it->status)));
		/* No id when the note could not be read that far. */
		if (j && it->id[0] && json_object_set_new(j, "id", json_string(it->id)) < 0) {
			json_decref(j);
			j = NULL;
		}
		return j;
	}
	if (it->status == NODE_CREATED)
		return json_pack("{s:s, s:s, s:I}", "id", it->id, "status", "accepted", "index",
				 (json_int_t)it->index);
	return json_pack("{s:s, s:s}", "id", it->id, "status", "pending");
}

/* {"results": [...]}: per note, in order, its id and "accepted" with the index, "pending",
 * or "error" with a problem document (docs/api.md). */
static enum MHD_Result api_batch_done(struct api_req *q)
{
	const struct node_batch_reply *r = &q->batch;
	struct cbuf out = CBUF_INIT;
	json_t *arr, *j;
	char *s = NULL;

	if (r->status < 0)
		return api_err(q->a, q->c, &r->err, r->status);
	arr = json_array();
	for (size_t i = 0; arr && i < r->n; i++)
		if (json_array_append_new(arr, batch_item_json(&r->items[i])) < 0) {
			json_decref(arr);
			arr = NULL;
		}
	j = arr ? json_pack("{s:o}", "results", arr) : NULL;
	if (j)
		s = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	if (s == NULL || cbuf_puts(&out, s) < 0 || cbuf_putc(&out, '\n') < 0) {
		free(s);
		cbuf_free(&out);
		return api_problem(q->a, q->c, CC_ENOMEM, "out of memory");
	}
	free(s);
	return api_send(q->c, 200, CT_JSON, &out, NULL, NULL, NULL);
}

static enum MHD_Result api_change_done(struct api_req *q)
{
	struct node_reply *r = &q->reply;

	if (r->status < 0)
		return api_err(q->a, q->c, &r->err, r->status);
	return api_send(q->c, (unsigned)r->status, CT_JSON, &r->body, NULL, NULL, NULL);
}

static enum MHD_Result api_record(struct api_req *q, const char *path)
{
	struct cbuf json = CBUF_INIT;
	struct cc_err e = {0};
	int ret;

	ret = node_record(q->a->n, path, NULL, &json, &e);
	if (ret == 1 && q->since == 0)
		q->since = time(NULL);
	if (ret == 1 && time(NULL) - q->since > API_RECORD_WAIT_SEC) {
		/* a follower whose last entries wait for a checkpoint that does not come */
		cbuf_free(&json);
		return api_problem_full(
		    q->c, 503, "unavailable", "service unavailable",
		    "the record's last write is not in a checkpoint yet: ask again", NULL);
	}
	if (ret == 1) {
		/* Written by an entry still being committed: wait for it (rare). */
		q->kind = REQ_RECORD;
		q->phase = REQ_WAITING;
		MHD_suspend_connection(q->c);
		ret = node_record(q->a->n, path, &q->w, &json, &e);
		if (ret != 1) {
			/* Became durable meanwhile: ask again once resumed. */
			q->phase = REQ_READY;
			MHD_resume_connection(q->c);
		}
		cbuf_free(&json);
		return MHD_YES;
	}
	if (ret < 0) {
		cbuf_free(&json);
		return api_err(q->a, q->c, &e, ret);
	}
	return api_send(q->c, 200, CT_JSON, &json, NULL, NULL, NULL);
}

/* ---- routes ---- */

static int is_get(const char *method)
{
	return strcmp(method, MHD_HTTP_METHOD_GET) == 0 ||
	       strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
}

static int is_post(const char *method)
{
	return strcmp(method, MHD_HTTP_METHOD_POST) == 0;
}

/* Sends a read's result: 200 with out, or the problem. */
static enum MHD_Result api_read(struct api_req *q, int ret, struct cc_err *e, const char *ctype,
				struct cbuf *out, const char *cache)
{
	if (ret < 0) {
		cbuf_free(out);
		return api_err(q->a, q->c, e, ret);
	}
	return api_send(q->c, 200, ctype, out, cache, NULL, NULL);
}

static enum MHD_Result api_log(struct api_req *q, const char *url, const char *method)
{
	const char *rest = url + strlen("/log/");
	struct cbuf out = CBUF_INIT;
	struct cc_err e = {0};
	uint64_t index;
	unsigned w;
	int level, ret;

	if (strcmp(rest, "checkpoint") == 0) {
		if (!is_get(method))
			return api_bad_method(q->c, method, "GET, HEAD");
		ret = node_checkpoint(q->a->n, &out);
		return api_read(q, ret, &e, CT_TEXT, &out, "no-cache");
	}
	if (strncmp(rest, "tile/", 5) != 0 || tlog_tile_parse_path(rest, &level, &index, &w) < 0)
		return api_not_found(q->c, url);
	if (!is_get(method))
		return api_bad_method(q->c, method, "GET, HEAD");
	ret = node_tile(q->a->n, level, index, w, &out, &e);
	/* Full tiles never change; a partial one is replaced as the tree grows. */
	return api_read(q, ret, &e, CT_OCTETS, &out,
			w == TLOG_TILE_WIDTH ? CACHE_IMMUTABLE : "no-cache");
}

/* On a node that follows a sequencer, proposals are the sequencer's business: the request
 * goes there and its answer comes back as it is. 1 when the request was taken. */
static int api_forward(struct api_req *q, const char *url, const char *method)
{
	struct peer_fwd *f = &q->fwd;
	/* the query words the API knows, each of its own characters, carried as they came */
	static const struct {
		const char *name, *chars;
	} words[] = {{"status", "abcdefghijklmnopqrstuvwxyz"},
		     {"limit", "0123456789"},
		     {"before", "0123456789."}};
	char seq[NODE_URL_MAX + 1];
	size_t n;
	int role;

	if (q->a->peer == NULL || !(is_get(method) || is_post(method)))
		return 0;
	role = node_role(q->a->n, seq, sizeof(seq));
	if (role == NODE_STANDS_BY && is_post(method)) {
		/* neither deciding nor following: a change here would fork the log */
		api_problem_full(q->c, 503, "unavailable", "service unavailable",
				 "this node does not take changes now: it stopped following after "
				 "an alarm (GET /v1/alarm), or it is taking over as sequencer",
				 NULL);
		return 1;
	}
	if (role != NODE_FOLLOWS)
		return 0;
	n = (size_t)snprintf(f->path, sizeof(f->path), "%s", url);
	/* a listing's words; a change takes none (the outbox keeps its path as it is) */
	for (size_t i = 0;
	     is_get(method) && i < sizeof(words) / sizeof(words[0]) && n < sizeof(f->path); i++) {
		const char *v =
		    MHD_lookup_connection_value(q->c, MHD_GET_ARGUMENT_KIND, words[i].name);

		if (v == NULL)
			continue;
		/* Ours are short and plain; anything else is nothing the API knows: answered
		 * here (a 400) */
		if (strspn(v, words[i].chars) != strlen(v))
			return 0;
		n += (size_t)snprintf(f->path + n, sizeof(f->path) - n, "%c%s=%s",
				      strchr(f->path, '?') ? '&' : '?', words[i].name, v);
	}
	if (n >= sizeof(f->path))
		return 0;
	f->w = &q->w;
	f->post = is_post(method);
	f->body = q->body.p;
	f->len = q->body.len;
	q->kind = REQ_FORWARD;
	q->phase = REQ_WAITING;
	MHD_suspend_connection(q->c);
	if (!peer_forward(q->a->peer, f)) {
		/* it stopped following between the two looks: the client asks again */
		f->status = 0;
		q->phase = REQ_READY;
		MHD_resume_connection(q->c);
	}
	return 1;
}

/* A request the peer module answers (witness, failover), with the connection suspended. */
static enum MHD_Result api_peer_job(struct api_req *q,
				    void (*queue)(struct peer *, struct peer_fwd *))
{
	q->fwd.w = &q->w;
	q->fwd.body = q->body.p;
	q->fwd.len = q->body.len;
	q->kind = REQ_FORWARD;
	q->phase = REQ_WAITING;
	MHD_suspend_connection(q->c);
	queue(q->a->peer, &q->fwd);
	return MHD_YES;
}

static enum MHD_Result api_forward_done(struct api_req *q)
{
	struct peer_fwd *f = &q->fwd;

	if (f->status == 0)
		return api_problem_full(q->c, 503, "unavailable", "service unavailable",
					"the node's role changed: try again", NULL);
	return api_send(q->c, (unsigned)f->status, f->ctype, &f->out, NULL, NULL, NULL);
}

/* If-None-Match (RFC 9110 13.1.2): "*", or a list of tags compared weakly. */
static int etag_listed(const char *header, const char *etag)
{
	size_t n = strlen(etag);
	const char *s = header;

	while (*s) {
		while (*s == ' ' || *s == '\t' || *s == ',')
			s++;
		if (*s == '*')
			return 1;
		if (strncmp(s, "W/", 2) == 0)
			s += 2;
		if (strncmp(s, etag, n) == 0 &&
		    (s[n] == '\0' || s[n] == ',' || s[n] == ' ' || s[n] == '\t'))
			return 1;
		while (*s && *s != ',')
			s++;
	}
	return 0;
}

/* A listing of pending proposals carries an ETag; one the client holds already is 304. */
static enum MHD_Result api_listing(struct api_req *q)
{
	const char *status = MHD_lookup_connection_value(q->c, MHD_GET_ARGUMENT_KIND, "status");
	const char *inm;
	char etag[NODE_ETAG_MAX] = "";
	struct cbuf out = CBUF_INIT;
	struct cc_err e = {0};
	int ret;

	if (status && strcmp(status, "pending") == 0) {
		node_pending_etag(q->a->n, etag);
		inm = MHD_lookup_connection_value(q->c, MHD_HEADER_KIND,
						  MHD_HTTP_HEADER_IF_NONE_MATCH);
		if (inm && etag_listed(inm, etag)) {
			struct MHD_Response *resp =
			    MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
			enum MHD_Result r;

			if (resp == NULL)
				return MHD_NO;
			MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, etag);
			MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
			r = MHD_queue_response(q->c, MHD_HTTP_NOT_MODIFIED, resp);
			MHD_destroy_response(resp);
			return r;
		}
	}
	ret = node_proposals(
	    q->a->n, status, MHD_lookup_connection_value(q->c, MHD_GET_ARGUMENT_KIND, "before"),
	    MHD_lookup_connection_value(q->c, MHD_GET_ARGUMENT_KIND, "limit"), &out, &e);
	if (ret < 0 || etag[0] == '\0')
		return api_read(q, ret, &e, CT_JSON, &out, NULL);
	return api_send(q->c, 200, CT_JSON, &out, "no-cache", NULL, etag);
}

static enum MHD_Result api_proposals(struct api_req *q, const char *url, const char *method)
{
	const char *rest = url + strlen("/v1/proposals");
	struct cbuf out = CBUF_INIT;
	struct cc_err e = {0};
	char id[PROPOSAL_ID_LEN + 2];
	const char *slash;
	int ret;

	if (api_forward(q, url, method))
		return MHD_YES;
	if (*rest == '\0') {
		if (is_post(method))
			return api_change(q, NULL, NULL);
		if (!is_get(method))
			return api_bad_method(q->c, method, "GET, HEAD, POST");
		return api_listing(q);
	}
	if (*rest != '/')
		return api_not_found(q->c, url);
	if (strcmp(rest, "/batch") == 0) {
		if (!is_post(method))
			return api_bad_method(q->c, method, "POST");
		return api_batch(q);
	}
	rest++;
	slash = strchr(rest, '/');
	if ((slash ? (size_t)(slash - rest) : strlen(rest)) != PROPOSAL_ID_LEN)
		return api_not_found(q->c, url);
	memcpy(id, rest, PROPOSAL_ID_LEN);
	id[PROPOSAL_ID_LEN] = '\0';
	if (slash == NULL) {
		if (!is_get(method))
			return api_bad_method(q->c, method, "GET, HEAD");
		ret = node_proposal(q->a->n, id, &out, &e);
		return api_read(q, ret, &e, CT_JSON, &out, NULL);
	}
	if (strcmp(slash, "/signatures") == 0) {
		if (!is_post(method))
			return api_bad_method(q->c, method, "POST");
		return api_change(q, node_sign, id);
	}
	if (strcmp(slash, "/objections") == 0) {
		if (!is_post(method))
			return api_bad_method(q->c, method, "POST");
		return api_change(q, node_object, id);
	}
	return api_not_found(q->c, url);
}

static enum MHD_Result api_route(struct api_req *q, const char *url, const char *method)
{
	struct cbuf out = CBUF_INIT;
	struct cc_err e = {0};
	int ret;

	if (strncmp(url, "/log/", 5) == 0)
		return api_log(q, url, method);
	if (strcmp(url, "/v1/proposals") == 0 || strncmp(url, "/v1/proposals/", 14) == 0)
		return api_proposals(q, url, method);
	if (strcmp(url, WITNESS_PATH) == 0) {
		if (!is_post(method))
			return api_bad_method(q->c, method, "POST");
		if (q->a->peer == NULL)
			return api_not_found(q->c, url);
		return api_peer_job(q, peer_witness);
	}
	if (strcmp(url, "/v1/failover") == 0) {
		if (is_post(method) && q->a->peer != NULL) {
			return api_peer_job(q, peer_failover);
		}
		if (!is_get(method))
			return api_bad_method(q->c, method, "GET, HEAD, POST");
		ret = node_failover_note(q->a->n, &out);
		if (ret == 0)
			ret = cc_fail(&e, CC_ENOENT, "no failover note was taken");
		return api_read(q, ret < 0 ? ret : 0, &e, CT_TEXT, &out, NULL);
	}
	if (strcmp(url, "/v1/final") == 0 || strcmp(url, "/v1/alarm") == 0) {
		int alarm = url[4] == 'a';

		if (!is_get(method))
			return api_bad_method(q->c, method, "GET, HEAD");
		ret = alarm ? node_alarm(q->a->n, &out) : node_final(q->a->n, &out);
		if (ret == 0) {
			ret = CC_ENOENT;
			cc_fail(&e, ret, "%s",
				alarm ? "no alarm has been raised" : "no checkpoint is final yet");
		}
		return api_read(q, ret < 0 ? ret : 0, &e, alarm ? CT_JSON : CT_TEXT, &out, NULL);
	}
	if (strcmp(url, "/v1/network") == 0) {
		if (!is_get(method))
			return api_bad_method(q->c, method, "GET, HEAD");
		ret = node_network(q->a->n, &out, &e);
		return api_read(q, ret, &e, CT_JSON, &out, NULL);
	}
	if (strcmp(url, "/v1/dns") == 0) {
		if (!is_get(method))
			return api_bad_method(q->c, method, "GET, HEAD");
		ret = node_dns_stats(q->a->n, &out, &e);
		return api_read(q, ret, &e, CT_JSON, &out, "no-cache");
	}
	if (strcmp(url, "/v1/records") == 0) {
		if (!is_get(method))
			return api_bad_method(q->c, method, "GET, HEAD");
		ret = node_records(
		    q->a->n, MHD_lookup_connection_value(q->c, MHD_GET_ARGUMENT_KIND, "prefix"),
		    &out, &e);
		return api_read(q, ret, &e, CT_JSON, &out, NULL);
	}
	if (strncmp(url, "/v1/records/", 12) == 0) {
		if (!is_get(method))
			return api_bad_method(q->c, method, "GET, HEAD");
		return api_record(q, url + 12);
	}
	if (strcmp(url, "/v1/zone") == 0) {
		if (!is_get(method))
			return api_bad_method(q->c, method, "GET, HEAD");
		ret = node_zone(q->a->n, (int64_t)time(NULL), &out, &e);
		return api_read(q, ret, &e, CT_TEXT, &out, "no-cache");
	}
	if (strcmp(url, "/v1/root") == 0) {
		if (!is_get(method))
			return api_bad_method(q->c, method, "GET, HEAD");
		ret = node_root(q->a->n, &out, &e);
		return api_read(q, ret, &e, CT_TEXT, &out, NULL);
	}
	return api_not_found(q->c, url);
}

static enum MHD_Result api_too_big(struct api_req *q)
{
	char detail[64];

	snprintf(detail, sizeof(detail), "the request body is over %zu bytes", q->max);
	return api_problem(q->a, q->c, CC_ETOOBIG, detail);
}

static enum MHD_Result api_handler(void *cls, struct MHD_Connection *c, const char *url,
				   const char *method, const char *version, const char *upload_data,
				   size_t *upload_size, void **con_cls)
{
	struct api *a = cls;
	struct api_req *q = *con_cls;

	if (q == NULL) {
		const char *cl =
		    MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);

		if (atomic_load(&a->closing))
			return api_problem_full(c, 503, "unavailable", "service unavailable",
						"the node is stopping", NULL);
		q = calloc(1, sizeof(*q));
		if (q == NULL)
			return MHD_NO;
		q->a = a;
		q->c = c;
		q->w.done = api_wake;
		q->max = strcmp(url, "/v1/proposals/batch") == 0 ? API_BATCH_MAX : API_BODY_MAX;
		*con_cls = q;
		atomic_fetch_add(&a->active, 1);
		/* Refuse a declared oversize body before reading any of it. */
		if (cl) {
			char *end;
			unsigned long long v;

			errno = 0;
			v = strtoull(cl, &end, 10);
			if (errno == 0 && *end == '\0' && v > q->max) {
				q->too_big = 1;
				return api_too_big(q);
			}
		}
		return MHD_YES;
	}
	if (*upload_size) {
		/* Keep reading (and dropping) an oversize chunked body, then answer 413. */
		if (!q->too_big && q->body.len + *upload_size > q->max) {
			q->too_big = 1;
			cbuf_free(&q->body);
		}
		if (!q->too_big && cbuf_put(&q->body, upload_data, *upload_size) < 0)
			return MHD_NO;
		*upload_size = 0;
		return MHD_YES;
	}
	if (q->phase == REQ_READY) {
		if (q->kind == REQ_CHANGE)
			return api_change_done(q);
		if (q->kind == REQ_BATCH)
			return api_batch_done(q);
		if (q->kind == REQ_FORWARD)
			return api_forward_done(q);
		q->phase = REQ_READING;
		return api_record(q, url + 12);
	}
	if (q->phase == REQ_WAITING)
		return MHD_YES; /* not expected: MHD calls again only once resumed */
	if (q->too_big)
		return api_too_big(q);
	return api_route(q, url, method);
}

static void api_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			  enum MHD_RequestTerminationCode toe)
{
	struct api *a = cls;
	struct api_req *q = *con_cls;

	if (q == NULL)
		return;
	node_reply_free(&q->reply);
	node_batch_reply_free(&q->batch);
	cbuf_free(&q->fwd.out);
	cbuf_free(&q->body);
	free(q);
	*con_cls = NULL;
	atomic_fetch_sub(&a->active, 1);
}

/* ---- lifecycle ---- */

/* One worker per CPU: signature checks, the bulk of a request, keep them busy, and more
 * workers than CPUs only preempt each other in the middle of a check (measured: 2 workers
 * on 2 CPUs answer a quarter more proposals than 3 or 4). At least 2, so that a worker
 * waiting for the node lock does not leave the other CPU idle. */
static unsigned api_threads(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n < API_THREADS_MIN   ? API_THREADS_MIN
	       : n > API_THREADS_MAX ? API_THREADS_MAX
				     : (unsigned)n;
}

int api_start(struct api **out, struct node *n, struct peer *peer, const char *addr,
	      struct cc_err *e)
{
	struct addrinfo hints, *ai = NULL;
	char host[CONF_ADDR_MAX], port[8];
	unsigned p;
	unsigned flags;
	struct api *a;
	int ret;

	*out = NULL;
	if ((ret = conf_split_addr(addr, host, &p, e)) < 0)
		return ret;
	snprintf(port, sizeof(port), "%u", p);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if ((ret = getaddrinfo(host, port, &hints, &ai)) != 0)
		return cc_fail(e, CC_EINVAL, "%s: %s", addr, gai_strerror(ret));
	a = calloc(1, sizeof(*a));
	if (a == NULL) {
		freeaddrinfo(ai);
		return cc_fail(e, CC_ENOMEM, "out of memory");
	}
	a->n = n;
	a->peer = peer;
	atomic_init(&a->active, 0);
	atomic_init(&a->closing, 0);
	flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_ALLOW_SUSPEND_RESUME;
	if (ai->ai_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	a->d = MHD_start_daemon(
	    flags, (uint16_t)p, NULL, NULL, api_handler, a, MHD_OPTION_SOCK_ADDR, ai->ai_addr,
	    MHD_OPTION_THREAD_POOL_SIZE, api_threads(), MHD_OPTION_CONNECTION_LIMIT,
	    (unsigned)API_CONN_LIMIT, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)API_CONN_TIMEOUT,
	    MHD_OPTION_NOTIFY_COMPLETED, api_completed, a, MHD_OPTION_END);
	freeaddrinfo(ai);
	if (a->d == NULL) {
		free(a);
		return cc_fail(e, CC_EIO, "cannot listen on %s (address in use or not local?)",
			       addr);
	}
	*out = a;
	return 0;
}

unsigned api_port(const struct api *a)
{
	const union MHD_DaemonInfo *i = MHD_get_daemon_info(a->d, MHD_DAEMON_INFO_BIND_PORT);

	return i ? i->port : 0;
}

/* Not MHD_quiesce_daemon: on an epoll daemon with its own threads it races with the
 * workers' event loop, which then aborts the process ("Failed to remove listen FD from epoll
 * set": seen in CI at a node's SIGTERM, a known libmicrohttpd defect). Connections are still
 * accepted until api_stop; their requests get a 503 at once. */
void api_quiesce(struct api *a)
{
	atomic_store(&a->closing, 1);
}

void api_drain(struct api *a, unsigned ms)
{
	struct timespec ts = {0, 10 * 1000 * 1000};

	for (unsigned waited = 0; waited < ms && atomic_load(&a->active) > 0; waited += 10)
		nanosleep(&ts, NULL);
}

void api_stop(struct api *a)
{
	if (a == NULL)
		return;
	MHD_stop_daemon(a->d);
	free(a);
}
