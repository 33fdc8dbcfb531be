#include "node/node.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdatomic.h>
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
#include "dns/zone.h"
#include "node/conf.h"
#include "node/dnsd.h"
#include "node/node_impl.h"
#include "node/failover.h"
#include "node/store.h"
#include "node/witness.h"

#define NODE_LIST_MAX 1000 /* proposals in one listing */
/* What one member may keep waiting for approvals: pending proposals live in memory and in the
 * store until decided or expired, and their expiry has no bound, so each proposer's share is
 * bounded instead. A proposal accepted at once takes none. */
#define NODE_PENDING_PER_MEMBER 1000
#define NODE_PENDING_BYTES	(16u << 20) /* of proposal bodies, per member */
#define NODE_TICK_SEC		1	    /* timer period: expiries and consultation periods */
#define NODE_CKPT_FRAMES	16384 /* WAL frames (pages) that start a background checkpoint */
/* Group commit under load: once a batch held NODE_LINGER_MIN changes, the next one is taken
 * NODE_LINGER_US after its first change, or as soon as NODE_BATCH_FULL requests wait on it:
 * larger batches spread each commit's fixed cost (the WAL's last pages written again, the
 * checkpoint signature, the fsync) over more entries. A lone change is committed at once. */
/* On the sequencer of several nodes a change is answered once a witness quorum holds it
 * (final), so that no answered change can be lost with the sequencer; if the witnesses do
 * not answer, it is answered anyway after this long (its record then says "final": false). */
#define NODE_FINAL_WAIT_SEC 10
#define NODE_LINGER_MIN	    4
#define NODE_LINGER_US	    1500
#define NODE_BATCH_FULL	    64

static const char *const prop_status_name[PS_COUNT] = {"pending", "accepted", "rejected",
						       "expired"};

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

/* Writes the queued log lines in one go (committer thread, or node_stop). */
static void log_flush(struct node *n)
{
	struct cbuf q;
	size_t off = 0;

	pthread_mutex_lock(&n->q_mu);
	q = n->logq;
	memset(&n->logq, 0, sizeof(n->logq));
	pthread_mutex_unlock(&n->q_mu);
	while (off < q.len) {
		ssize_t k = write(STDERR_FILENO, q.p + off, q.len - off);

		if (k <= 0)
			break;
		off += (size_t)k;
	}
	cbuf_free(&q);
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

static struct node_prop *prop_ref(struct node_prop *np)
{
	atomic_fetch_add_explicit(&np->refs, 1, memory_order_relaxed);
	return np;
}

/* Drops one reference; the last one frees. */
static void prop_unref(struct node_prop *np)
{
	if (np && atomic_fetch_sub_explicit(&np->refs, 1, memory_order_acq_rel) == 1)
		prop_free(np);
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

/* ---- decided proposals ---- */

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* A lower-case hex id to binary; -1 when it is not one. */
static int id_bin(const char *hex, unsigned char out[32])
{
	for (int i = 0; i < 32; i++) {
		int hi = hexval(hex[2 * i]), lo = hi < 0 ? -1 : hexval(hex[2 * i + 1]);

		if (lo < 0)
			return -1;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return hex[64] == '\0' ? 0 : -1;
}

static size_t finals_slot(const struct node_finals *f, const unsigned char id[32])
{
	uint64_t h;

	memcpy(&h, id, sizeof(h));
	return (size_t)h & (f->cap - 1);
}

/* The FINAL_* value of id, FINAL_FREE when it is not a decided proposal. */
static int64_t finals_get(const struct node_finals *f, const char *hex)
{
	unsigned char id[32];

	if (f->cap == 0 || id_bin(hex, id) < 0)
		return FINAL_FREE;
	for (size_t i = finals_slot(f, id);; i = (i + 1) & (f->cap - 1)) {
		if (f->v[i].v == FINAL_FREE)
			return FINAL_FREE;
		if (memcmp(f->v[i].id, id, 32) == 0)
			return f->v[i].v;
	}
}

static int finals_put(struct node_finals *f, const char *hex, int64_t v)
{
	unsigned char id[32];
	size_t i;

	if (id_bin(hex, id) < 0)
		return CC_EINVAL;
	if (4 * (f->n + 1) > 3 * f->cap) {
		struct node_finals g = {NULL, f->cap ? 2 * f->cap : 1024, 0};

		g.v = calloc(g.cap, sizeof(*g.v));
		if (g.v == NULL)
			return CC_ENOMEM;
		for (size_t k = 0; k < f->cap; k++) {
			if (f->v[k].v == FINAL_FREE)
				continue;
			for (i = finals_slot(&g, f->v[k].id); g.v[i].v != FINAL_FREE;
			     i = (i + 1) & (g.cap - 1))
				;
			g.v[i] = f->v[k];
			g.n++;
		}
		free(f->v);
		*f = g;
	}
	for (i = finals_slot(f, id); f->v[i].v != FINAL_FREE; i = (i + 1) & (f->cap - 1))
		if (memcmp(f->v[i].id, id, 32) == 0) {
			f->v[i].v = v;
			return 0;
		}
	memcpy(f->v[i].id, id, 32);
	f->v[i].v = v;
	f->n++;
	return 0;
}

static int64_t final_value(int status, int64_t idx)
{
	return status == PS_ACCEPTED && idx >= 0 ? idx + FINAL_ACCEPTED0 : FINAL_REJECTED;
}

/* Indexes the proposal the ledger l logged last, at idx (nothing after a genesis or chunk). */
static int finals_logged(struct node_finals *f, const struct ledger *l, uint64_t idx)
{
	const char *id = ledger_last_id(l);

	return id[0] ? finals_put(f, id, final_value(PS_ACCEPTED, (int64_t)idx)) : 0;
}

void node_index_logged(struct node *n, uint64_t idx)
{
	if (finals_logged(&n->finals, n->ledger, idx) < 0)
		node_fatal("out of memory");
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

/* ---- proposal JSON, written directly: the hot answer of every change ---- */

struct jw {		/* a JSON writer into a cbuf */
	struct cbuf *b; /* output */
	int err;	/* first error (sticky) */
};

static void jw_put(struct jw *w, const char *s, size_t n)
{
	if (w->err == 0)
		w->err = cbuf_put(w->b, s, n);
}

static void jw_raw(struct jw *w, const char *s)
{
	jw_put(w, s, strlen(s));
}

/* Whether s is UTF-8 as JSON (and jansson) require: no overlong forms, no surrogates, nothing
 * above U+10FFFF. */
static int utf8_valid(const unsigned char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned c = s[i];

		if (c < 0x80) {
			i++;
		} else if (c >= 0xc2 && c <= 0xdf) {
			if (i + 1 >= n || (s[i + 1] & 0xc0) != 0x80)
				return 0;
			i += 2;
		} else if (c >= 0xe0 && c <= 0xef) {
			unsigned c1 = i + 1 < n ? s[i + 1] : 0;

			if (i + 2 >= n || (c1 & 0xc0) != 0x80 || (s[i + 2] & 0xc0) != 0x80 ||
			    (c == 0xe0 && c1 < 0xa0) || (c == 0xed && c1 >= 0xa0))
				return 0;
			i += 3;
		} else if (c >= 0xf0 && c <= 0xf4) {
			unsigned c1 = i + 1 < n ? s[i + 1] : 0;

			if (i + 3 >= n || (c1 & 0xc0) != 0x80 || (s[i + 2] & 0xc0) != 0x80 ||
			    (s[i + 3] & 0xc0) != 0x80 || (c == 0xf0 && c1 < 0x90) ||
			    (c == 0xf4 && c1 >= 0x90))
				return 0;
			i += 4;
		} else {
			return 0;
		}
	}
	return 1;
}

/* Appends s escaped as the inside of a JSON string. */
static void jw_esc(struct jw *w, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, run = 0;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[7];
		size_t elen = 2;

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		jw_put(w, s + run, i - run);
		run = i + 1;
		esc[0] = '\\';
		switch (c) {
		case '"':
		case '\\':
			esc[1] = (char)c;
			break;
		case '\n':
			esc[1] = 'n';
			break;
		case '\t':
			esc[1] = 't';
			break;
		case '\r':
			esc[1] = 'r';
			break;
		case '\b':
			esc[1] = 'b';
			break;
		case '\f':
			esc[1] = 'f';
			break;
		default:
			memcpy(esc + 1, "u00", 3);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			elen = 6;
			break;
		}
		jw_put(w, esc, elen);
	}
	jw_put(w, s + run, n - run);
}

/* A JSON string; text that is not UTF-8 becomes "" (everything rendered was validated on the
 * way in: never emit a broken document). Returns whether the text was written. */
static int jw_strn(struct jw *w, const char *s, size_t n)
{
	int ok = utf8_valid((const unsigned char *)s, n);

	jw_put(w, "\"", 1);
	if (ok)
		jw_esc(w, s, n);
	jw_put(w, "\"", 1);
	return ok;
}

static void jw_str(struct jw *w, const char *s)
{
	jw_strn(w, s, strlen(s));
}

static void jw_int(struct jw *w, int64_t v)
{
	char s[24];

	jw_put(w, s, (size_t)snprintf(s, sizeof(s), "%" PRId64, v));
}

static void jw_time(struct jw *w, int64_t t)
{
	char s[TFMT_LEN + 1];

	tfmt_format(t, s);
	jw_str(w, s);
}

/* The "note" member: the body with every verified signature, as note_format writes it (""
 * where note_format would refuse it). The body is the JSON string just written at body_at
 * .. body_end (body_ok: it was, not "" for want of UTF-8): its escaped text is copied rather than
 * escaped again; a proposal body is a note text checked on the way in. */
static void prop_json_note(struct jw *w, const struct node_prop *np, size_t body_at,
			   size_t body_end, int body_ok)
{
	struct cbuf sigs = CBUF_INIT;
	size_t blen;
	int ok = body_ok && np->nsigs > 0 && np->nsigs <= NOTE_MAX_SIGS;

	for (size_t i = 0; ok && i < np->nsigs; i++)
		ok = note_format_sig(&np->sigs[i].sig, &sigs) == 0;
	if (!ok || w->err != 0 || np->p.body_len + 1 + sigs.len > NOTE_MAX_SIZE) {
		cbuf_free(&sigs);
		jw_raw(w, "\"\"");
		return;
	}
	/* The escaped body less its closing quote, the blank line, then the signatures. */
	blen = body_end - body_at - 1;
	if (w->err == 0 && (w->err = cbuf_reserve(w->b, blen)) == 0)
		jw_put(w, w->b->p + body_at, blen);
	jw_raw(w, "\\n");
	jw_esc(w, sigs.p, sigs.len);
	jw_raw(w, "\"");
	cbuf_free(&sigs);
}

/* Appends np as docs/api.md's proposal object; v is its current verdict when pending (or
 * NULL: needs are then empty). */
static int prop_json(const struct node_prop *np, const struct ledger_verdict *v, struct cbuf *out)
{
	struct jw w = {out, 0};
	size_t body_at, body_end;
	int body_ok;

	jw_raw(&w, "{\"id\":");
	jw_str(&w, np->p.id);
	jw_raw(&w, ",\"status\":");
	jw_str(&w, prop_status_name[np->status]);
	jw_raw(&w, ",\"proposer\":");
	jw_str(&w, np->p.proposer);
	jw_raw(&w, ",\"created\":");
	jw_time(&w, np->p.created);
	jw_raw(&w, ",\"expires\":");
	jw_time(&w, np->p.expires);
	jw_raw(&w, ",\"ops\":[");
	for (size_t i = 0; i < np->p.nops; i++) {
		const struct proposal_op *op = &np->p.ops[i];

		jw_raw(&w, i ? ",{\"op\":" : "{\"op\":");
		jw_str(&w, op->kind == OP_PUT ? "put" : "delete");
		jw_raw(&w, ",\"path\":");
		jw_str(&w, op->path);
		jw_raw(&w, ",\"version\":");
		if (op->version == PROPOSAL_VERSION_NEW)
			jw_raw(&w, "null");
		else
			jw_int(&w, op->version);
		jw_raw(&w, "}");
	}
	jw_raw(&w, "],\"signers\":[");
	for (size_t i = 0; i < np->nsigs; i++) {
		if (i)
			jw_raw(&w, ",");
		jw_str(&w, np->sigs[i].sig.name);
	}
	jw_raw(&w, "],\"objectors\":[");
	for (size_t i = 0; i < np->nobjs; i++) {
		if (i)
			jw_raw(&w, ",");
		jw_str(&w, np->objs[i].sig.name);
	}
	jw_raw(&w, "],\"needs\":[");
	for (unsigned i = 0; v && i < v->nneeds; i++) {
		const struct ledger_need *nd = &v->needs[i];
		const char *s = nd->candidates;
		int first = 1;

		jw_raw(&w, i ? ",{\"policy\":" : "{\"policy\":");
		jw_str(&w, nd->policy);
		jw_raw(&w, ",\"path\":");
		jw_str(&w, nd->path);
		jw_raw(&w, ",\"what\":");
		jw_str(&w, nd->what);
		jw_raw(&w, ",\"have\":");
		jw_int(&w, nd->have);
		jw_raw(&w, ",\"need\":");
		jw_int(&w, nd->need);
		jw_raw(&w, nd->have >= nd->need ? ",\"met\":true" : ",\"met\":false");
		jw_raw(&w, ",\"candidates\":[");
		while (*s) {
			const char *sp = strchr(s, ' ');
			size_t len = sp ? (size_t)(sp - s) : strlen(s);

			if (len) {
				if (!first)
					jw_raw(&w, ",");
				jw_strn(&w, s, len);
				first = 0;
			}
			s += len + (sp != NULL);
		}
		jw_raw(&w, "]}");
	}
	jw_raw(&w, "],\"not_before\":");
	if (v)
		jw_time(&w, v->not_before);
	else
		jw_raw(&w, "null");
	jw_raw(&w, ",\"index\":");
	if (np->idx >= 0)
		jw_int(&w, np->idx);
	else
		jw_raw(&w, "null");
	jw_raw(&w, ",\"reason\":");
	if (np->reason)
		jw_str(&w, np->reason);
	else
		jw_raw(&w, "null");
	jw_raw(&w, ",\"body\":");
	body_at = out->len;
	body_ok = jw_strn(&w, np->p.body, np->p.body_len);
	body_end = out->len;
	jw_raw(&w, ",\"note\":");
	prop_json_note(&w, np, body_at, body_end, body_ok);
	/* each objection note whole, so that anyone (a node taking over) can check it again */
	jw_raw(&w, ",\"objections\":[");
	for (size_t i = 0; i < np->nobjs && w.err == 0; i++) {
		struct cbuf o = CBUF_INIT;

		if (objection_text(&o, np->p.origin, np->p.id) < 0 || cbuf_putc(&o, '\n') < 0 ||
		    note_format_sig(&np->objs[i].sig, &o) < 0)
			w.err = CC_ENOMEM;
		if (i)
			jw_raw(&w, ",");
		jw_strn(&w, o.p ? o.p : "", o.len);
		cbuf_free(&o);
	}
	jw_raw(&w, "]}");
	return w.err;
}

/* Appends np for a reader: pending ones are evaluated against the current state. */
static int prop_json_now(const struct node *n, const struct node_prop *np, struct cbuf *out)
{
	struct ledger_verdict *v = NULL;
	int ret;

	if (np->status == PS_PENDING) {
		v = malloc(sizeof(*v));
		if (v && prop_evaluate(n, np, node_now(n), v, NULL) < 0) {
			free(v);
			v = NULL;
		}
	}
	ret = prop_json(np, v, out);
	free(v);
	return ret;
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
	atomic_init(&np->refs, 1);
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
		prop_unref(b->rows[i].np);
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
		r->np = prop_ref(np);
	else if (prop_row(n, np, &r->row) < 0)
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
static void pend_tally(struct node *n, struct node_prop *np)
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
static void pend_untally(struct node *n, struct node_prop *np)
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
	pend_untally(n, np);
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
	int64_t v = finals_get(&n->finals, id);
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
	/* A proposer whose share is used up may still make a change that is accepted at once. */
	if (fresh && pend_full(n, &np->p, r) < 0) {
		struct cc_err qe = {0};

		if (prop_evaluate(n, np, now, n->v, &qe) == 0 && n->v->status == LEDGER_PENDING) {
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
	if (np->status == PS_ACCEPTED)
		keys_follow(n, np);
	if (fresh) {
		if (map_put(&n->props, np->p.id, np) < 0)
			node_fatal("out of memory");
		if (np->status == PS_PENDING)
			pend_tally(n, np);
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
		if (w != NULL && prop_json(np, n->v, &r->body) < 0)
			node_fatal("out of memory");
		nsigs = np->nsigs;
		nobjs = np->nobjs;
	} else {
		done = prop_ref(np);
	}
	node_unlock(n);
	line[0] = '\0';
	if (done) {
		if (w != NULL && prop_json(done, NULL, &r->body) < 0)
			node_fatal("out of memory");
		if (done->status == PS_ACCEPTED)
			snprintf(line, sizeof(line),
				 "accepted %.16s at index %" PRId64 " (%zu signatures)", done->p.id,
				 done->idx, done->nsigs);
		prop_unref(done);
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
	prop_free(fresh);
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

static int node_decides(const struct node *n);

static void node_sweep(struct node *n)
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
	int ret = 0, hold = 0;

	if (b->checkpoint) {
		/* Following: the sequencer's own signed checkpoint, checked by follow.c. */
		if (cbuf_puts(&ck, b->checkpoint) < 0)
			node_fatal("out of memory");
	} else if (b->nentries && !b->followed) {
		if (tlog_checkpoint_text(&text, n->origin, size, root) < 0 ||
		    note_sign(&n->key, text.p, text.len, &sig) < 0 ||
		    note_format(text.p, text.len, &sig, 1, &ck) < 0 || witness_self(n, &ck) < 0)
			node_fatal("cannot sign the checkpoint for size %" PRIu64, size);
	}
	if (b->nentries || b->nrows || ck.len || b->final) {
		ret = store_begin(n->wr, &e);
		for (size_t i = 0; ret == 0 && i < b->nentries; i++)
			ret = store_entry_put(n->wr, b->first + i, b->entries[i].p,
					      b->entries[i].len, &e);
		for (size_t i = 0; ret == 0 && i < b->nrows; i++) {
			struct store_proposal row;

			if (b->rows[i].np == NULL) {
				ret = store_proposal_put(n->wr, &b->rows[i].row, &e);
				continue;
			}
			if (b->rows[i].np->whole_in_log) {
				/* read from its entry from now on */
				ret = store_proposal_forget_pending(n->wr, b->rows[i].np->p.id, &e);
				continue;
			}
			/* A final proposal: its row is built here, off the lock. */
			if (prop_row(n, b->rows[i].np, &row) < 0)
				node_fatal("out of memory writing a proposal");
			ret = store_proposal_put(n->wr, &row, &e);
			store_proposal_free(&row);
		}
		if (ret == 0 && ck.len)
			ret = store_meta_put(n->wr, "checkpoint", ck.p, &e);
		if (ret == 0 && b->final)
			ret = store_meta_put(n->wr, "final", b->final, &e);
		if (ret == 0)
			ret = store_commit(n->wr, &e);
		if (ret < 0)
			node_fatal("commit of log entries %" PRIu64 "..%" PRIu64 " failed: %s",
				   b->first, size, e.msg);
	}
	node_wrlock(n);
	if (ck.len) {
		free(n->checkpoint);
		n->checkpoint = cbuf_take(&ck);
		n->pub_size = size;
		if (!b->followed && !b->checkpoint)
			witness_recent(n, size, n->checkpoint);
		witness_finality(n);
		hold = !b->followed && ledger_witness_need(n->ledger) > 0;
		pthread_mutex_lock(&n->dur_mu);
		n->durable = size;
		pthread_cond_broadcast(&n->dur_cond);
		pthread_mutex_unlock(&n->dur_mu);
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
		if (finals_put(&n->finals, gone[i]->p.id,
			       final_value(gone[i]->status, gone[i]->idx)) < 0)
			node_fatal("out of memory");
		map_del(&n->props, gone[i]->p.id);
		prop_unref(gone[i]);
	}
	free(gone);
	node_unlock(n);
	pthread_mutex_lock(&n->q_mu);
	w = b->head;
	b->head = NULL;
	pthread_mutex_unlock(&n->q_mu);
	if (hold) {
		/* answered once final: held, in order, until the witnesses have cosigned */
		int64_t now = (int64_t)time(NULL);

		pthread_mutex_lock(&n->fin_mu);
		for (; w; w = next) {
			next = w->next;
			w->final_at = size;
			w->since = now;
			w->next = n->fin_head;
			n->fin_head = w;
		}
		pthread_mutex_unlock(&n->fin_mu);
		node_final_wake(n, 0);
	}
	for (; w; w = next) {
		next = w->next;
		w->done(w);
	}
	log_flush(n);
	cbuf_free(&text);
	cbuf_free(&ck);
	node_wrlock(n);
	n->seq_done = seq;
	node_unlock(n);
	pthread_mutex_lock(&n->dur_mu);
	pthread_cond_broadcast(&n->dur_cond);
	pthread_mutex_unlock(&n->dur_mu);
}

/* The checkpointer: copies the WAL into the database when the committer asks, off the commit
 * path (a PASSIVE checkpoint runs alongside the commits). */
static void *node_checkpointer(void *arg)
{
	struct node *n = arg;

	pthread_mutex_lock(&n->ck_mu);
	for (;;) {
		struct cc_err e = {0};
		int ret;

		while (!n->ck_run && !n->ck_stop)
			pthread_cond_wait(&n->ck_cond, &n->ck_mu);
		if (n->ck_stop)
			break;
		pthread_mutex_unlock(&n->ck_mu);
		ret = store_checkpoint(n->ck, NULL, NULL, &e);
		if (ret < 0 && ret != CC_EEXIST)
			node_log("warning: %s", e.msg);
		pthread_mutex_lock(&n->ck_mu);
		n->ck_run = 0;
		n->ck_done = 1;
	}
	pthread_mutex_unlock(&n->ck_mu);
	return NULL;
}

/* After a commit: asks for a background checkpoint once the WAL is long; once one has run,
 * copies the few frames committed since (the WAL then starts over at the next commit,
 * instead of growing while commits keep coming). */
static void node_after_commit(struct node *n)
{
	struct cc_err e = {0};
	int frames = store_wal_frames(n->wr), here = 0, ret;

	if (!n->ck_started) {
		here = frames >= NODE_CKPT_FRAMES;
	} else {
		pthread_mutex_lock(&n->ck_mu);
		if (n->ck_done) {
			n->ck_done = 0;
			here = 1;
		} else if (!n->ck_run && frames >= NODE_CKPT_FRAMES) {
			n->ck_run = 1;
			pthread_cond_signal(&n->ck_cond);
		}
		pthread_mutex_unlock(&n->ck_mu);
	}
	if (here && (ret = store_checkpoint(n->wr, NULL, NULL, &e)) < 0 && ret != CC_EEXIST)
		node_log("warning: %s", e.msg);
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
		if (n->q_kick && n->q_linger) {
			struct timespec until = now;

			until.tv_nsec += NODE_LINGER_US * 1000L;
			if (until.tv_nsec >= 1000000000L) {
				until.tv_sec++;
				until.tv_nsec -= 1000000000L;
			}
			while (!n->q_stop && n->q_nwait < NODE_BATCH_FULL &&
			       pthread_cond_timedwait(&n->q_cond, &n->q_mu, &until) == 0)
				;
		}
		n->q_kick = 0;
		n->q_nwait = 0;
		stop = n->q_stop;
		pthread_mutex_unlock(&n->q_mu);

		node_wrlock(n);
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
		node_unlock(n);
		node_final_wake(n, 0);
		if (b.first + b.nentries != size)
			node_fatal("batch holds entries %" PRIu64 "+%zu, the tree has %" PRIu64,
				   b.first, b.nentries, size);
		if (b.nentries || b.nrows || b.head || b.checkpoint || b.final)
			node_commit(n, &b, seq, size, root);
		if (b.nentries || b.nrows)
			node_after_commit(n);
		pthread_mutex_lock(&n->q_mu);
		n->q_linger = b.nentries + b.nrows >= NODE_LINGER_MIN;
		pthread_mutex_unlock(&n->q_mu);
		batch_free(&b);
	}
	return NULL;
}

int node_start(struct node *n, struct cc_err *e)
{
	/* Without a checkpointer the committer checkpoints itself (node_after_commit). */
	if (n->ck && pthread_create(&n->ckpt, NULL, node_checkpointer, n) == 0)
		n->ck_started = 1;
	if (pthread_create(&n->committer, NULL, node_committer, n) != 0)
		return cc_fail(e, CC_EIO, "cannot start the committer thread");
	n->started = 1;
	return 0;
}

void node_stop(struct node *n)
{
	struct node_waiter *w, *next;

	node_wrlock(n);
	n->stopping = 1;
	node_unlock(n);
	if (n->started) {
		pthread_mutex_lock(&n->q_mu);
		n->q_stop = 1;
		pthread_cond_signal(&n->q_cond);
		pthread_mutex_unlock(&n->q_mu);
		pthread_join(n->committer, NULL);
		n->started = 0;
	}
	if (n->ck_started) {
		pthread_mutex_lock(&n->ck_mu);
		n->ck_stop = 1;
		pthread_cond_signal(&n->ck_cond);
		pthread_mutex_unlock(&n->ck_mu);
		pthread_join(n->ckpt, NULL);
		n->ck_started = 0;
	}
	node_final_wake(n, 1);
	/* Nothing can be queued any more; wake anyone left (only without a committer), and
	 * anyone who registers later at once (batch_wait_after). */
	pthread_mutex_lock(&n->q_mu);
	n->q_done = 1;
	w = n->batch.head;
	n->batch.head = NULL;
	n->batch.tail = &n->batch.head;
	pthread_mutex_unlock(&n->q_mu);
	for (; w; w = next) {
		next = w->next;
		w->done(w);
	}
	if (n->publishing) {
		pthread_mutex_lock(&n->dur_mu);
		pthread_cond_broadcast(&n->dur_cond);
		pthread_mutex_unlock(&n->dur_mu);
		pthread_join(n->publisher, NULL);
		n->publishing = 0;
	}
	log_flush(n);
}

/* ---- open and close ---- */

struct replay {			    /* state of the startup replay */
	struct node *n;		    /* the node */
	struct cc_err *e;	    /* where to report */
	struct node_finals *finals; /* decided proposals go there (NULL: n->finals) */
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
	if (merkle_tree_append(&rp->n->tree, leaf) < 0 ||
	    finals_logged(&rp->n->finals, rp->n->ledger, idx) < 0)
		return cc_fail(rp->e, CC_ENOMEM, "out of memory");
	return 0;
}

struct rebuild {		    /* a replay into new state */
	struct ledger *l;	    /* the ledger */
	struct merkle_tree *t;	    /* its tree */
	struct node_finals *finals; /* its accepted proposals */
};

static int rebuild_entry(void *ctx, uint64_t idx, const unsigned char *data, size_t len)
{
	struct rebuild *rb = ctx;
	unsigned char leaf[MERKLE_HASH];

	if (ledger_apply_entry(rb->l, data, len, 0, NULL) < 0)
		return CC_ECONFLICT;
	merkle_leaf_hash(data, len, leaf);
	return merkle_tree_append(rb->t, leaf) < 0 || finals_logged(rb->finals, rb->l, idx) < 0
		   ? CC_ENOMEM
		   : 0;
}

/* The dropped entries' proposals, handed to the sequencer again through the outbox: a change
 * that never became final is not lost with the branch it was on, the sequencer judges it
 * anew. */
struct resubmit {
	struct store *s;  /* the transaction */
	int64_t now;	  /* when */
	size_t count;	  /* proposals queued */
	struct cc_err *e; /* where to report */
};

static int resubmit_entry(void *ctx, uint64_t idx, const unsigned char *data, size_t len)
{
	struct resubmit *rs = ctx;
	int64_t t;
	size_t h;

	(void)idx;
	if (ledger_proposal_entry(data, len, &t, &h) < 0)
		return 0; /* the genesis or a chunk: nothing to hand on */
	rs->count++;
	return store_outbox_put(rs->s, "/v1/proposals", data + h, len - h, rs->now, rs->e);
}

static int reload_final(void *ctx, const char *id, const char *status, int64_t idx);

/* Drops the entries beyond keep, from disk and memory; to_final: keep is the last final
 * checkpoint's size, which becomes the checkpoint held. With follow_mu held. */
static int node_cut(struct node *n, int to_final, struct cc_err *e)
{
	struct merkle_tree tree, old_tree;
	struct node_finals finals = {0};
	struct rebuild rb = {NULL, &tree, &finals};
	struct resubmit rs = {NULL, (int64_t)time(NULL), 0, e};
	struct replay rp = {n, e, &finals};
	struct ledger *old;
	struct store *s = NULL;
	char path[CONF_PATH_MAX], *ck = NULL, num[16];
	uint64_t keep, had, served;
	uint32_t offset;
	int ret, settled = 0, open = 0, zlocked = 0;

	merkle_tree_init(&tree);
	/* Everything taken so far committed first: the store is then exactly what memory is. */
	for (int i = 0; i < 600 && !settled && !node_stopping(n); i++) {
		node_wrlock(n);
		settled = n->batch.nentries == 0 && n->seq_done == n->seq;
		if (!settled)
			node_batch_wait(n, NULL);
		node_unlock(n);
		if (!settled)
			node_wait_growth(n, UINT64_MAX, 100);
	}
	if (!settled)
		return cc_fail(e, CC_EIO, "the committer did not settle");
	node_rdlock(n);
	had = ledger_size(n->ledger);
	keep = to_final ? n->final_size : n->pub_size;
	ret = to_final && n->final_ck == NULL ? CC_ENOENT : 0;
	if (to_final && ret == 0 && (ck = strdup(n->final_ck)) == NULL)
		ret = CC_ENOMEM;
	node_unlock(n);
	if (ret < 0) {
		cc_fail(e, ret, ret == CC_ENOENT ? "no checkpoint is final" : "out of memory");
		goto out;
	}
	if ((rb.l = ledger_new()) == NULL) {
		ret = cc_fail(e, CC_ENOMEM, "out of memory");
		goto out;
	}
	if ((ret = conf_path(path, n->dir, CONF_DB_FILE, e)) < 0 ||
	    (ret = store_open(&s, path, 0, e)) < 0)
		goto out;
	/* The entries kept do not change: replayed with no transaction open, which would keep
	 * the committer from writing meanwhile. */
	if ((ret = store_entries(s, 0, keep, rebuild_entry, &rb, e)) < 0) {
		cc_fail(e, ret, "the log held does not replay");
		goto out;
	}
	/* The zone lock before the transaction (a zone being signed holds it a moment; the
	 * committer waits for the transaction), and before the node lock (its order): held
	 * until the node has the shorter log and the new serial offset, the last zone
	 * forgotten. */
	pthread_mutex_lock(&n->zone_mu);
	zlocked = 1;
	if ((ret = store_begin(s, e)) < 0)
		goto out;
	open = 1;
	rs.s = s;
	/* One transaction: the log, its checkpoint, the proposals it accepted and what goes to
	 * the sequencer again change together or not at all. */
	if (to_final && ((ret = store_entries(s, keep, had - keep, resubmit_entry, &rs, e)) < 0 ||
			 (ret = store_meta_put(s, "checkpoint", ck, e)) < 0 ||
			 (ret = store_proposals_cut(s, keep, e)) < 0))
		goto out;
	if ((ret = store_proposal_finals(s, reload_final, &rp, e)) < 0)
		goto out;
	if ((ret = store_entries_cut(s, keep, e)) < 0)
		goto out;
	/* A zone may have shown the durable entries dropped (only durable ones are served),
	 * under serials that must not come again with other content: the serials go on from
	 * above them (docs/format.md). */
	pthread_mutex_lock(&n->dur_mu);
	served = n->durable;
	pthread_mutex_unlock(&n->dur_mu);
	offset = n->serial_offset + (served > keep ? (uint32_t)(served - keep) + 1 : 0);
	snprintf(num, sizeof(num), "%" PRIu32, offset);
	if (offset != n->serial_offset && (ret = store_meta_put(s, "serial_offset", num, e)) < 0)
		goto out;
	node_wrlock(n);
	/* Nothing may have moved since it was read: a checkpoint that became final meanwhile
	 * (a late cosignature) is not dropped. */
	if (ledger_size(n->ledger) != had || n->batch.nentries != 0 ||
	    keep != (to_final ? n->final_size : n->pub_size)) {
		node_unlock(n);
		ret = cc_fail(e, CC_EIO, "the log moved while it was cut back: taken again later");
		goto out;
	}
	if ((ret = store_commit(s, e)) < 0) {
		node_unlock(n);
		goto out;
	}
	open = 0;
	n->serial_offset = offset;
	old = n->ledger;
	old_tree = n->tree;
	n->ledger = rb.l;
	n->tree = tree;
	rb.l = NULL;
	merkle_tree_init(&tree);
	/* settled: no entries queued; readers waiting in it stay */
	n->batch.first = keep;
	n->batch.followed = 0;
	free(n->batch.checkpoint);
	n->batch.checkpoint = NULL;
	/* checkpoints of the dropped entries, kept for late cosignatures, are gone with them */
	witness_forget_recent(n);
	/* the accepted proposals of the dropped entries are asked for again */
	free(n->finals.v);
	n->finals = finals;
	memset(&finals, 0, sizeof(finals));
	if (to_final) {
		free(n->checkpoint);
		n->checkpoint = ck;
		ck = NULL;
		n->pub_size = keep;
		pthread_mutex_lock(&n->dur_mu);
		n->durable = keep;
		pthread_cond_broadcast(&n->dur_cond);
		pthread_mutex_unlock(&n->dur_mu);
	}
	node_keys_refresh(n);
	node_role_update(n);
	node_unlock(n);
	/* the zone may have shown the dropped entries: the next one is built whole, and none
	 * made before is served */
	node_zone_forget(n);
	pthread_mutex_unlock(&n->zone_mu);
	zlocked = 0;
	ledger_free(old);
	merkle_tree_free(&old_tree);
	if (to_final)
		node_log("dropped %" PRIu64
			 " entries beyond the last final checkpoint (size %" PRIu64
			 "): they never became final and the network's log went another way; %zu "
			 "proposals of theirs handed to the sequencer again",
			 had - keep, keep, rs.count);
	else
		node_log("dropped the entries beyond the checkpoint (size %" PRIu64
			 "): the sequencer's log went another way",
			 keep);
out:
	if (open)
		store_rollback(s);
	if (zlocked)
		pthread_mutex_unlock(&n->zone_mu);
	store_close(s);
	ledger_free(rb.l);
	merkle_tree_free(&tree);
	free(finals.v);
	free(ck);
	return ret;
}

int node_cut_back(struct node *n, struct cc_err *e)
{
	return node_cut(n, 0, e);
}

int node_cut_to_final(struct node *n, struct cc_err *e)
{
	return node_cut(n, 1, e);
}

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
		if (objection_text(&note, n->origin, np->p.id) < 0 || cbuf_putc(&note, '\n') < 0 ||
		    note_format_sig(&np->objs[i].sig, &note) < 0)
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
				v[nv++] = prop_ref(np);
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
	else
		store_rollback(s);
	if (ret < 0)
		goto out;
	node_wrlock(n);
	for (size_t i = 0; i < nv; i++)
		if (map_get(&n->props, v[i]->p.id) == v[i]) {
			map_del(&n->props, v[i]->p.id);
			pend_untally(n, v[i]);
			prop_unref(v[i]);
		}
	node_unlock(n);
	node_log("%zu pending proposals handed to the sequencer: this node follows it", nv);
out:
	for (size_t i = 0; i < nv; i++)
		prop_unref(v[i]);
	free(v);
	hand_on_free(&h);
	return ret < 0 ? ret : (int)(nv > 0);
}

/* The sequencer: the one the state names, or the one a failover note named since. */
static const char *node_seq_id(const struct node *n)
{
	return n->failover_to[0] != '\0' ? n->failover_to : ledger_sequencer(n->ledger);
}

int node_follows(const struct node *n)
{
	const char *seq = node_seq_id(n);

	return seq[0] != '\0' && strcmp(seq, n->conf.member) != 0;
}

void node_role_update(struct node *n)
{
	/* the failover is done once the log itself names that sequencer */
	if (n->failover_to[0] != '\0' && strcmp(n->failover_to, ledger_sequencer(n->ledger)) == 0)
		n->failover_to[0] = '\0';
	if (n->alarm == NULL)
		n->following = node_follows(n);
}

int node_sequencer_key(const struct node *n, struct note_key *k)
{
	return node_key_of(n, node_seq_id(n), k);
}

int node_key_of(const struct node *n, const char *id, struct note_key *k)
{
	const struct ledger_node *sn = ledger_node(n->ledger, id);

	if (sn == NULL)
		return CC_ENOENT;
	memset(k, 0, sizeof(*k));
	snprintf(k->name, sizeof(k->name), "%s", n->origin);
	memcpy(k->pub, sn->key, sizeof(k->pub));
	k->id = note_key_id(k->name, k->pub);
	return 0;
}

/* The log key signs checkpoints under the network's origin; a node key made before the
 * genesis (concord node keys) carries another name, and the same seed serves. When the
 * network lists this node, its key must be the one listed. */
static int node_key_named(struct node *n, struct cc_err *e)
{
	const struct ledger_node *me = ledger_node(n->ledger, n->conf.member);
	int ret = 0;

	if (strcmp(n->key.key.name, n->origin) != 0) {
		struct note_signer s;

		if (strcmp(n->key.key.name, CONF_NODE_KEY_NAME) != 0)
			return cc_fail(e, CC_ECONFLICT,
				       "%s: the key is named \"%s\", the network is \"%s\"",
				       CONF_KEY_FILE, n->key.key.name, n->origin);
		ret = note_signer_from_seed(&s, n->origin, n->key.sk);
		if (ret == 0)
			n->key = s;
		sodium_memzero(&s, sizeof(s));
		if (ret < 0)
			return cc_fail(e, ret, "%s: cannot use the key", CONF_KEY_FILE);
	}
	if (me != NULL && memcmp(me->key, n->key.key.pub, 32) != 0)
		node_log("warning: %s is not the key of node/%s: this node can neither sequence "
			 "nor witness",
			 CONF_KEY_FILE, n->conf.member);
	return 0;
}

/* A follower commits the entries it takes from its sequencer as they come and the
 * sequencer's checkpoint once it holds all the entries it covers; entries stored beyond the
 * stored checkpoint are not confirmed and are taken again. */
static int node_cut_unconfirmed(struct node *n, const char *ck, size_t len, uint64_t *count,
				struct cc_err *e)
{
	struct note note = {0};
	char origin[TLOG_ORIGIN_MAX + 1];
	unsigned char root[MERKLE_HASH];
	uint64_t size;
	int ret;

	if ((ret = note_parse(&note, ck, len, e)) < 0 ||
	    (ret = tlog_checkpoint_parse(note.text, note.text_len, origin, &size, root, e)) < 0)
		goto out;
	if (size < *count) {
		ret = store_begin(n->wr, e);
		if (ret == 0)
			ret = store_entries_cut(n->wr, size, e);
		if (ret == 0)
			ret = store_commit(n->wr, e);
		else
			store_rollback(n->wr);
		if (ret < 0)
			goto out;
		node_log("%" PRIu64 " entries beyond the checkpoint (size %" PRIu64
			 ") were not confirmed: taken again from the sequencer",
			 *count - size, size);
		*count = size;
	}
out:
	note_free(&note);
	return ret;
}

/* Checks the stored checkpoint against the replayed tree and the log key. */
static int node_check_checkpoint(struct node *n, const char *text, size_t len, struct cc_err *e)
{
	struct note note = {0};
	char origin[TLOG_ORIGIN_MAX + 1];
	unsigned char root[MERKLE_HASH], want[MERKLE_HASH];
	uint64_t size, have = ledger_size(n->ledger);
	struct note_key seq;
	int ret, signed_ok = 0, have_seq;

	if ((ret = note_parse(&note, text, len, e)) < 0)
		goto out;
	/* Its own key, or any node's: it was checked when it was taken (a failover may have
	 * named another sequencer since). */
	for (size_t i = 0; i < note.nsigs; i++) {
		signed_ok |= note_verify(&n->key.key, note.text, note.text_len, &note.sigs[i]) == 0;
		for (size_t j = 0; !signed_ok && j < ledger_node_count(n->ledger); j++) {
			have_seq = node_key_of(n, ledger_node_at(n->ledger, j)->id, &seq) == 0;
			signed_ok = have_seq &&
				    note_verify(&seq, note.text, note.text_len, &note.sigs[i]) == 0;
		}
	}
	if (!signed_ok) {
		ret = cc_fail(e, CC_ESIG,
			      "%s: the stored checkpoint is signed neither by %s nor by the "
			      "sequencer",
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
	np->row_kept = 1;
	if (np->status != PS_PENDING || map_get(&rp->n->props, np->p.id) ||
	    map_put(&rp->n->props, np->p.id, np) < 0) {
		prop_free(np);
		return cc_fail(rp->e, CC_EIO, "%s: cannot reload proposal %s", CONF_DB_FILE,
			       row->id);
	}
	pend_tally(rp->n, np);
	return 0;
}

static int reload_final(void *ctx, const char *id, const char *status, int64_t idx)
{
	struct replay *rp = ctx;
	unsigned char bin[32];
	int st;

	/* An id that is not one can never be asked for. */
	if (strlen(id) != PROPOSAL_ID_LEN || id_bin(id, bin) < 0)
		return 0;
	for (st = 0; st < PS_COUNT; st++)
		if (strcmp(status, prop_status_name[st]) == 0)
			break;
	/* An unknown status is looked up in the store when asked for, and reported there. */
	if (finals_put(rp->finals ? rp->finals : &rp->n->finals, id,
		       st == PS_ACCEPTED ? final_value(st, idx) : FINAL_REJECTED) < 0)
		return cc_fail(rp->e, CC_ENOMEM, "out of memory");
	return 0;
}

/* The zone's keys, made on the first start. */
static int node_dnssec_keys(struct node *n, struct cc_err *e)
{
	static const struct {
		const char *file, *name;
		uint16_t flags;
	} k[2] = {{CONF_KSK_FILE, "dnssec-ksk", DNS_KEY_KSK},
		  {CONF_ZSK_FILE, "dnssec-zsk", DNS_KEY_ZSK}};
	unsigned char seed[32];
	int ret = 0, created;

	for (int i = 0; ret == 0 && i < 2; i++) {
		ret = conf_dnssec_seed(seed, n->dir, k[i].file, k[i].name, &created, e);
		if (ret == 0)
			ret = dns_key_from_seed(i == 0 ? &n->ksk : &n->zsk, seed, k[i].flags);
		sodium_memzero(seed, sizeof(seed));
		if (ret == 0 && created)
			node_log("made the zone's %s in %s/%s", k[i].name, n->dir, k[i].file);
	}
	return ret < 0 && e && e->code == 0 ? cc_fail(e, ret, "cannot read the DNSSEC keys") : ret;
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
	/* Readers hold the shared lock briefly; writer preference keeps a steady stream of them
	 * from starving the appends. */
	pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&n->lock, &ra);
	pthread_rwlockattr_destroy(&ra);
	pthread_mutex_init(&n->q_mu, NULL);
	pthread_mutex_init(&n->ck_mu, NULL);
	pthread_mutex_init(&n->keys_mu, NULL);
	pthread_mutex_init(&n->dur_mu, NULL);
	pthread_mutex_init(&n->zone_mu, NULL);
	pthread_mutex_init(&n->follow_mu, NULL);
	pthread_mutex_init(&n->fin_mu, NULL);
	pthread_cond_init(&n->dur_cond, NULL);
	pthread_cond_init(&n->ck_cond, NULL);
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
	if ((ret = node_dnssec_keys(n, e)) < 0)
		goto out;
	if ((ret = conf_path(path, dir, CONF_DB_FILE, e)) < 0)
		goto out;
	if ((ret = store_open(&n->wr, path, 0, e)) < 0)
		goto out;
	if ((ret = store_open(&n->rd, path, STORE_READONLY, e)) < 0)
		goto out;
	/* The checkpointer's connection; without one the committer checkpoints itself. */
	if (store_open(&n->ck, path, 0, NULL) < 0)
		n->ck = NULL;
	store_wal_manual(n->wr);
	if ((ret = store_entry_count(n->wr, &count, e)) < 0)
		goto out;
	if ((ret = store_meta_get(n->wr, "checkpoint", &ck, e)) < 0)
		goto out;
	if ((ret = node_cut_unconfirmed(n, ck.p, ck.len, &count, e)) < 0)
		goto out;
	rp.n = n;
	rp.e = e;
	rp.finals = NULL;
	if ((ret = store_entries(n->wr, 0, count, replay_entry, &rp, e)) < 0)
		goto out;
	if (!ledger_ready(n->ledger)) {
		ret = cc_fail(e, CC_ECONFLICT, "%s: the genesis in the log is incomplete",
			      CONF_DB_FILE);
		goto out;
	}
	snprintf(n->origin, sizeof(n->origin), "%s", ledger_origin(n->ledger));
	if ((ret = node_key_named(n, e)) < 0)
		goto out;
	if (store_meta_get(n->wr, "failover", &ck, NULL) == 0)
		failover_load(n, ck.p, ck.len);
	cbuf_reset(&ck);
	node_role_update(n);
	if (store_meta_get(n->wr, "alarm", &ck, NULL) == 0) {
		/* An alarm outlives a restart: the operator decides what follows. */
		n->alarm = cbuf_take(&ck);
		n->following = 0;
		json_t *a = json_loads(n->alarm, 0, NULL);

		node_log("ALARM (raised before): %s: %s",
			 json_string_value(json_object_get(a, "kind")) ?: "?",
			 json_string_value(json_object_get(a, "detail")) ?: "?");
		json_decref(a);
	}
	cbuf_reset(&ck);
	if (store_meta_get(n->wr, "final", &ck, NULL) == 0)
		node_final_load(n, ck.p, ck.len);
	cbuf_reset(&ck);
	if ((ret = store_meta_get(n->wr, "serial_offset", &ck, e)) == 0) {
		char *end;
		unsigned long v = strtoul(ck.p, &end, 10);

		if (*end != '\0' || end == ck.p || v > UINT32_MAX) {
			ret = cc_fail(e, CC_EINVAL, "%s: meta serial_offset is not a number",
				      CONF_DB_FILE);
			goto out;
		}
		n->serial_offset = (uint32_t)v;
	} else if (ret != CC_ENOENT) {
		goto out;
	}
	ret = 0;
	cbuf_reset(&ck);
	if ((ret = store_meta_get(n->wr, "checkpoint", &ck, e)) < 0)
		goto out;
	if ((ret = node_check_checkpoint(n, ck.p, ck.len, e)) < 0)
		goto out;
	n->checkpoint = cbuf_take(&ck);
	n->pub_size = count;
	n->durable = count;
	/* The checkpoint of a node that decides is its own: its witnesses' cosignatures are
	 * taken for it as for one just signed. Else the log of a network just made, or of a
	 * sequencer restarted before its last entries were final, waits for the next change
	 * to become final. */
	if (node_decides(n) && n->final_size < count)
		witness_recent(n, count, n->checkpoint);
	node_keys_refresh(n);
	if ((ret = note_vkey_format(&n->key.key, &vk)) < 0)
		goto out;
	n->log_vkey = cbuf_take(&vk);
	batch_init(&n->batch, count);
	if (ledger_member(n->ledger, n->conf.member) == NULL)
		node_log("warning: %s names member %s, who is not a member of %s", CONF_FILE,
			 n->conf.member, n->origin);
	if ((ret = store_proposals(n->wr, "pending", (size_t)INT64_MAX, reload_prop, &rp, e)) < 0)
		goto out;
	if ((ret = store_proposal_finals(n->wr, reload_final, &rp, e)) < 0)
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
			prop_unref(n->props.slot[i].val);
	map_free(&n->props);
	for (size_t i = 0; i < n->pend_by.cap; i++)
		if (n->pend_by.slot[i].key)
			free(n->pend_by.slot[i].val);
	map_free(&n->pend_by);
	free(n->finals.v);
	batch_free(&n->batch);
	merkle_tree_free(&n->tree);
	ledger_free(n->ledger);
	store_close(n->wr);
	store_close(n->rd);
	store_close(n->ck);
	cbuf_free(&n->logq);
	pthread_mutex_destroy(&n->ck_mu);
	pthread_mutex_destroy(&n->keys_mu);
	free(n->keys);
	pthread_cond_destroy(&n->ck_cond);
	free(n->checkpoint);
	free(n->alarm);
	free(n->failover);
	free(n->suspect);
	for (int i = 0; i < NODE_RECENT; i++)
		free(n->recent[i].ck);
	for (int i = 0; i < n->nmirrors; i++)
		free(n->mirrors[i]);
	free(n->final_ck);
	free(n->log_vkey);
	free(n->v);
	sodium_memzero(&n->key, sizeof(n->key));
	zone_free(n->zone);
	if (n->journal)
		node_journal_clear(n);
	free(n->journal);
	dns_key_wipe(&n->ksk);
	dns_key_wipe(&n->zsk);
	pthread_mutex_destroy(&n->zone_mu);
	pthread_mutex_destroy(&n->follow_mu);
	pthread_mutex_destroy(&n->fin_mu);
	if (n->dirfd >= 0)
		close(n->dirfd); /* releases the lock, after the store is closed */
	pthread_mutex_destroy(&n->rd_mu);
	pthread_rwlock_destroy(&n->lock);
	pthread_mutex_destroy(&n->q_mu);
	pthread_mutex_destroy(&n->dur_mu);
	pthread_cond_destroy(&n->dur_cond);
	pthread_cond_destroy(&n->q_cond);
	free(n);
}

/* ---- reads ---- */

const char *node_origin(const struct node *n)
{
	return n->origin;
}

const char *node_dir(const struct node *n)
{
	return n->dir;
}

int node_sequencer_url(struct node *n, char *url, size_t cap)
{
	const struct ledger_node *sn;
	int ret = 0;

	node_rdlock(n);
	sn = n->following ? ledger_node(n->ledger, node_seq_id(n)) : NULL;
	if (sn != NULL) {
		snprintf(url, cap, "%s", sn->url);
		ret = 1;
	}
	node_unlock(n);
	return ret;
}

void node_final_wake(struct node *n, int all)
{
	uint64_t final = atomic_load(&n->final_known);
	int64_t old = (int64_t)time(NULL) - NODE_FINAL_WAIT_SEC;
	struct node_waiter *ready = NULL, **pp, *w, *next;

	pthread_mutex_lock(&n->fin_mu);
	for (pp = &n->fin_head; (w = *pp) != NULL;) {
		if (all || w->final_at <= final || w->since <= old) {
			*pp = w->next;
			w->next = ready;
			ready = w;
		} else {
			pp = &w->next;
		}
	}
	pthread_mutex_unlock(&n->fin_mu);
	for (w = ready; w; w = next) {
		next = w->next;
		w->done(w);
	}
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

size_t node_count(struct node *n)
{
	size_t c;

	node_rdlock(n);
	c = ledger_node_count(n->ledger);
	node_unlock(n);
	return c;
}

int node_other(struct node *n, int slot, int any, char id[MEMBER_ID_MAX + 1],
	       char url[NODE_URL_MAX + 1])
{
	int ret = 0;

	node_rdlock(n);
	if (any ||
	    (!n->following && n->alarm == NULL && strcmp(node_seq_id(n), n->conf.member) == 0)) {
		for (size_t i = 0; i < ledger_node_count(n->ledger); i++) {
			const struct ledger_node *nd = ledger_node_at(n->ledger, i);

			if (strcmp(nd->id, n->conf.member) == 0 || slot-- > 0)
				continue;
			snprintf(id, MEMBER_ID_MAX + 1, "%s", nd->id);
			snprintf(url, NODE_URL_MAX + 1, "%s", nd->url);
			ret = 1;
			break;
		}
	}
	node_unlock(n);
	return ret;
}

int node_mirror_add(struct node *n, const char *url, struct cc_err *e)
{
	char *copy;

	if (n->nmirrors == NODE_MIRRORS_MAX)
		return cc_fail(e, CC_ETOOBIG, "at most %d mirrors", NODE_MIRRORS_MAX);
	if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
		return cc_fail(e, CC_EINVAL, "a mirror is an http:// or https:// URL");
	if ((copy = strdup(url)) == NULL)
		return cc_fail(e, CC_ENOMEM, "out of memory");
	n->mirrors[n->nmirrors++] = copy;
	return 0;
}

int node_failover_pending_self(struct node *n, char self[MEMBER_ID_MAX + 1])
{
	int ret;

	node_rdlock(n);
	ret = strcmp(n->failover_to, n->conf.member) == 0;
	snprintf(self, MEMBER_ID_MAX + 1, "%s", n->conf.member);
	node_unlock(n);
	return ret;
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

/* Whether this node decides proposals now: it is the sequencer the log names (a node a
 * failover named decides once the log holds the note), or the network names none. Under the
 * lock. */
static int node_decides(const struct node *n)
{
	const char *seq = node_seq_id(n);

	if (n->alarm != NULL)
		return 0;
	return seq[0] == '\0' ||
	       (strcmp(seq, n->conf.member) == 0 && strcmp(ledger_sequencer(n->ledger), seq) == 0);
}

int node_role(struct node *n, char *url, size_t cap)
{
	const struct ledger_node *sn;
	const char *seq;
	int role = NODE_STANDS_BY;

	node_rdlock(n);
	seq = node_seq_id(n);
	if (node_decides(n))
		role = NODE_DECIDES;
	else if (n->alarm == NULL && strcmp(seq, n->conf.member) != 0 &&
		 (sn = ledger_node(n->ledger, seq)) != NULL)
		role = NODE_FOLLOWS, snprintf(url, cap, "%s", sn->url);
	node_unlock(n);
	return role;
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
				       b64_json(m->box, 32), "version", (json_int_t)m->version));
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
						       "url", nd->url, "key", b64_json(nd->key, 32),
						       "zsk", b64_json(nd->zsk, 32), "version",
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
	snprintf(row->status, sizeof(row->status), "%s", prop_status_name[PS_ACCEPTED]);
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

	if (prop_from_row(n, row, 0, &np, NULL) < 0)
		return CC_EIO;
	ret = prop_json(np, NULL, out);
	prop_free(np);
	return ret;
}

int node_proposal(struct node *n, const char *id, struct cbuf *json, struct cc_err *e)
{
	struct store_proposal row;
	struct node_prop *np;
	int ret = 0, jr = 0;

	cbuf_reset(json);
	if (!id_valid(id))
		return cc_fail(e, CC_ENOENT, "no proposal %.80s", id);
	node_rdlock(n);
	np = map_get(&n->props, id);
	if (np) {
		jr = prop_json_now(n, np, json);
	} else {
		pthread_mutex_lock(&n->rd_mu);
		ret = final_row(n, id, finals_get(&n->finals, id), &row, e);
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
	char id[PROPOSAL_ID_LEN + 1]; /* the row's id */
};

struct listing {	  /* state of node_proposals */
	struct node *n;	  /* the node */
	struct listed *v; /* collected, newest first */
	size_t nv, cap;	  /* used, allocated */
};

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
	return list_push(ctx, row->received, -1, row->id);
}

static int list_entry(void *ctx, uint64_t idx, const unsigned char *data, size_t len)
{
	int64_t t;
	size_t h;

	return ledger_proposal_entry(data, len, &t, &h) < 0 ? 0
							    : list_push(ctx, t, (int64_t)idx, NULL);
}

/* The newest accepted proposals, from the log as stored: its last proposal entries, newest
 * first. Stored, not only under the checkpoint: the committer drops the pending row of a
 * proposal in the transaction that stores its entry, and raises pub_size only after it.
 * With rd_mu held. */
static int list_logged(struct listing *ls, struct cc_err *e)
{
	uint64_t hi = ledger_size(ls->n->ledger), lo;
	int ret = 0;

	for (; hi > 0 && ls->nv < NODE_LIST_MAX; hi = lo) {
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
	if (ls->nv > NODE_LIST_MAX)
		ls->nv = NODE_LIST_MAX;
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
		if (strcmp(own.status, prop_status_name[PS_ACCEPTED]) == 0) {
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

int node_proposals(struct node *n, const char *status, struct cbuf *json, struct cc_err *e)
{
	struct listing rows = {n, NULL, 0, 0}, logged = {n, NULL, 0, 0};
	size_t a = 0, b = 0, count = 0;
	int ret = 0, st;

	for (st = 0; status && st < PS_COUNT; st++)
		if (strcmp(status, prop_status_name[st]) == 0)
			break;
	if (st == PS_COUNT)
		return cc_fail(e, CC_EINVAL,
			       "status must be pending, accepted, rejected or expired, not %.32s",
			       status);
	cbuf_reset(json);
	if (cbuf_puts(json, "{\"proposals\":[") < 0)
		return cc_fail(e, CC_ENOMEM, "out of memory");
	node_rdlock(n);
	pthread_mutex_lock(&n->rd_mu);
	/* Accepted proposals are read from the log, the others from their rows; without a
	 * status, both lists merged by time. */
	if (st != PS_ACCEPTED)
		ret = store_proposals(n->rd, status, NODE_LIST_MAX, list_row, &rows, e);
	if (ret == 0 && (status == NULL || st == PS_ACCEPTED))
		ret = list_logged(&logged, e);
	while (ret == 0 && count < NODE_LIST_MAX && (a < rows.nv || b < logged.nv)) {
		int take_row = b == logged.nv || (a < rows.nv && rows.v[a].t > logged.v[b].t);
		size_t at = json->len;

		if (count && cbuf_putc(json, ',') < 0) {
			ret = cc_fail(e, CC_ENOMEM, "out of memory");
			break;
		}
		ret = list_write(n, take_row ? &rows.v[a++] : &logged.v[b++], json, e);
		if (ret == CC_ENOENT) {
			/* gone since it was listed (a log cut back): left out */
			json->len = at;
			json->p[at] = '\0';
			ret = 0;
		} else if (ret == 0) {
			count++;
		}
	}
	pthread_mutex_unlock(&n->rd_mu);
	node_unlock(n);
	free(rows.v);
	free(logged.v);
	if (ret < 0) {
		cbuf_reset(json);
		return e && e->code ? ret : cc_fail(e, ret, "cannot list proposals");
	}
	if (cbuf_puts(json, "]}") < 0)
		return cc_fail(e, CC_ENOMEM, "out of memory");
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
		json_array_append_new(hashes, b64_json(proof[i], MERKLE_HASH));
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

/* Waits until the first size entries are durable; CC_EIO if the node stops first (what is
 * queued is committed on stop, so that only happens after a failed commit). */
uint64_t node_wait_growth(struct node *n, uint64_t size, long ms)
{
	struct timespec until;
	uint64_t now;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&n->dur_mu);
	while (n->durable <= size && pthread_cond_timedwait(&n->dur_cond, &n->dur_mu, &until) == 0)
		;
	now = n->durable;
	pthread_mutex_unlock(&n->dur_mu);
	return now;
}

int node_wait_durable(struct node *n, uint64_t size)
{
	int ret = 0;

	pthread_mutex_lock(&n->dur_mu);
	while (n->durable < size) {
		struct timespec until;

		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += 1;
		if (pthread_cond_timedwait(&n->dur_cond, &n->dur_mu, &until) != 0 &&
		    node_stopping(n) && n->durable < size) {
			ret = CC_EIO;
			break;
		}
	}
	pthread_mutex_unlock(&n->dur_mu);
	return ret;
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
