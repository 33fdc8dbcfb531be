/* concord verify: audits a node from outside with nothing but its public HTTP answers.
 *
 * The log is the source of truth, so the audit rebuilds everything from it: every entry goes
 * through a fresh ledger (every decision since genesis is taken again), every leaf into a
 * Merkle tree. The rebuilt tree must give the signed checkpoint's root and the node's hash
 * tiles; the rebuilt state must give the records and the root zone the node serves.
 *
 * Signature checks are most of the cost, and the ledger is a sequential state machine, so a
 * fetching thread gets the bundles ahead (its own kept-alive connection) and checking threads,
 * one per CPU, share each bundle's entries: they hash the leaves and check each proposal's
 * signatures against the member keys they have seen. The ledger then takes an entry without
 * checking signatures again only when every signature was found valid under exactly the key
 * the ledger holds for that member at that point of the replay; any other entry goes through
 * ledger_apply_entry with verify = 1. The verdict is the same as a one-thread replay
 * (--serial), on every core. */
#include "cli/cli.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "core/ledger.h"
#include "core/merkle.h"
#include "core/note.h"
#include "core/tlog.h"

#define VF_SLOTS      8	 /* bundles fetched ahead of the ledger */
#define VF_ROUNDS     10 /* checkpoints the audit follows while the log grows */
#define VF_MAX_REPORT 20 /* differences listed before "..." */
#define VF_MAX_CHECK  8	 /* checking threads at most */
#define VF_INLINE     3	 /* keys kept in the entry itself; more are allocated */

struct vf_pre {				 /* what the checkers learnt of one entry */
	unsigned char leaf[MERKLE_HASH]; /* its leaf hash */
	const unsigned char *entry;	 /* the entry, inside the slot's data */
	size_t len;			 /* its length */
	int checked;			 /* every signature valid under the keys in refs */
	size_t nref;			 /* its signatures' keys, in order: */
	struct note_key inl[VF_INLINE];	 /* here when nref <= VF_INLINE, */
	struct note_key *refs;		 /* else here (capref allocated, kept for reuse) */
	size_t capref;
	int parsed; /* a proposal entry read into note and prop, which the
		     * ledger then takes as they are (freed once applied) */
	struct note note;
	struct proposal prop;
};

struct vf_slot {			    /* one fetched bundle */
	uint64_t tile;			    /* its tile index */
	int state;			    /* 0 free, 1 fetched (being checked), 2 ready */
	int ret;			    /* fetch result */
	struct cc_err err;		    /* why the fetch or the bundle failed */
	struct cbuf data;		    /* the bundle */
	struct vf_pre pre[TLOG_TILE_WIDTH]; /* its entries, from the tile's first on */
	size_t npre;			    /* entries found */
	int done;			    /* checkers through with it */
};

struct vf_keys {	    /* member keys */
	struct note_key *v; /* keys */
	size_t n, cap;	    /* used, allocated */
};

struct vf_fetch;

struct vf_checker {	     /* one checking thread */
	pthread_t th;	     /* the thread */
	struct vf_fetch *f;  /* the replay */
	int id;		     /* it checks entries id, id + ncheck, ... of each bundle */
	struct vf_keys keys; /* keys it verifies with (its own) */
	uint64_t pubgen;     /* consumer publication merged last */
	uint64_t gengen;     /* genesis publication merged last */
};

struct vf_fetch {		       /* the fetching thread and the checkers */
	pthread_t th;		       /* the fetching thread */
	pthread_mutex_t mu;	       /* guards the fields below up to slot */
	pthread_cond_t cv;	       /* signalled on every slot change */
	uint64_t consumed;	       /* tiles the consumer has released */
	int stop;		       /* consumer gave up */
	struct vf_keys pub;	       /* member keys published by the consumer */
	uint64_t pubgen;	       /* bumped on every publication */
	struct vf_keys gen;	       /* founding members' keys, read by the fetcher */
	uint64_t gengen;	       /* bumped when gen is filled */
	struct vf_slot slot[VF_SLOTS]; /* ring, tile t in slot t % VF_SLOTS */
	struct http *h;		       /* the fetching thread's own connection */
	uint64_t first, last;	       /* tiles to fetch, inclusive */
	uint64_t from, size;	       /* entries wanted: [from, size) */
	int serial;		       /* leave every signature to the ledger */
	int ncheck;		       /* checking threads */
	int nstarted;		       /* of which started */
	struct vf_checker check[VF_MAX_CHECK];
};

struct vf_rec {		  /* one record, from either side */
	char *path;	  /* record path */
	uint64_t version; /* log index of its last write */
	char sha[65];	  /* hex SHA-256 of its content */
};

struct vf_recs {
	struct vf_rec *v; /* records */
	size_t n, cap;	  /* used, allocated */
};

static double vf_clock(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* GETs entry bundle n of a tree of size leaves. A partial tile is served only while the tree
 * has exactly that width; once the log has grown past it, the full tile holds the same
 * entries first. */
static int vf_get_bundle(struct http *h, uint64_t n, uint64_t size, struct cbuf *out,
			 struct cc_err *e)
{
	uint64_t left = size - n * TLOG_TILE_WIDTH;
	unsigned w = left >= TLOG_TILE_WIDTH ? TLOG_TILE_WIDTH : (unsigned)left;
	struct cbuf path = CBUF_INIT;
	struct http_resp r = {0};
	int ret;

	if (cbuf_puts(&path, "/log/") != 0 ||
	    tlog_tile_path(&path, TLOG_LEVEL_ENTRIES, n, w) != 0) {
		ret = cc_fail(e, CC_ENOMEM, "out of memory");
		goto out;
	}
	ret = http_get(h, path.p, HTTP_MAX_BUNDLE, &r, e);
	if (ret == CC_ENOENT && w < TLOG_TILE_WIDTH) {
		cbuf_reset(&path);
		if (cbuf_puts(&path, "/log/") != 0 ||
		    tlog_tile_path(&path, TLOG_LEVEL_ENTRIES, n, TLOG_TILE_WIDTH) != 0) {
			ret = cc_fail(e, CC_ENOMEM, "out of memory");
			goto out;
		}
		ret = http_get(h, path.p, HTTP_MAX_BUNDLE, &r, e);
	}
	if (ret < 0) {
		struct cc_err ge = *e;

		cc_fail(e, ret, "GET %s: %s", path.p, ge.msg);
		goto out;
	}
	/* hand the body over without a copy */
	cbuf_free(out);
	*out = r.body;
	r.body = (struct cbuf)CBUF_INIT;
out:
	http_resp_free(&r);
	cbuf_free(&path);
	return ret;
}

static const struct note_key *vf_keys_find(const struct vf_keys *ks, const char *name, uint32_t id)
{
	for (size_t i = 0; i < ks->n; i++)
		if (ks->v[i].id == id && strcmp(ks->v[i].name, name) == 0)
			return &ks->v[i];
	return NULL;
}

static int vf_keys_add(struct vf_keys *ks, const struct note_key *k)
{
	const struct note_key *have = vf_keys_find(ks, k->name, k->id);

	if (have != NULL && memcmp(have->pub, k->pub, sizeof(k->pub)) == 0)
		return 0;
	if (ks->n == ks->cap) {
		size_t cap = ks->cap ? ks->cap * 2 : 64;
		struct note_key *v = realloc(ks->v, cap * sizeof(*v));

		if (v == NULL)
			return CC_ENOMEM;
		ks->v = v;
		ks->cap = cap;
	}
	ks->v[ks->n++] = *k;
	return 0;
}

/* The founding members' keys, read from the genesis entry ("member <id> <chamber> <vkey>
 * <box>" lines), so that the checkers can check proposals before the ledger has applied it.
 * Anything it cannot read is simply not learnt: the ledger checks those entries itself. */
static void vf_learn_genesis(struct vf_keys *ks, const unsigned char *entry, size_t len)
{
	const char *s = (const char *)entry, *end = s + len;

	while (s < end) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		size_t n = nl != NULL ? (size_t)(nl - s) : (size_t)(end - s);
		char id[64], chamber[32], vkey[256];
		struct note_key k;
		char line[512];

		if (n < sizeof(line) && strncmp(s, "member ", 7) == 0) {
			memcpy(line, s, n);
			line[n] = '\0';
			if (sscanf(line, "member %63s %31s %255s", id, chamber, vkey) == 3 &&
			    note_vkey_parse(&k, vkey, strlen(vkey), NULL) == 0)
				vf_keys_add(ks, &k);
		}
		if (nl == NULL)
			break;
		s = nl + 1;
	}
}

static const struct note_key *vf_pre_refs(const struct vf_pre *p)
{
	return p->nref <= VF_INLINE ? p->inl : p->refs;
}

/* Checks the signatures of one proposal entry; leaves p->checked 0 when any of them is not
 * known valid (unknown key, bad signature, unparsable note): the ledger will say why. */
static void vf_precheck(const struct vf_keys *keys, struct vf_pre *p)
{
	static const char hdr[] = "concord proposal ";
	const unsigned char *nl;
	struct note_key *refs;
	struct note n = {0};
	size_t i, h;

	p->checked = 0;
	p->nref = 0;
	p->parsed = 0;
	if (p->len < sizeof(hdr) || memcmp(p->entry, hdr, sizeof(hdr) - 1) != 0)
		return;
	nl = memchr(p->entry, '\n', p->len);
	if (nl == NULL)
		return;
	h = (size_t)(nl - p->entry) + 1;
	if (note_parse(&n, (const char *)p->entry + h, p->len - h, NULL) != 0)
		return;
	/* Read here, on a checking thread, the proposal is not read again by the ledger. */
	if (proposal_parse(&p->prop, n.text, n.text_len, NULL) == 0) {
		p->note = n;
		p->parsed = 1;
	}
	if (n.nsigs <= VF_INLINE) {
		refs = p->inl;
	} else {
		if (n.nsigs > p->capref) {
			struct note_key *v = realloc(p->refs, n.nsigs * sizeof(*v));

			if (v == NULL)
				goto out;
			p->refs = v;
			p->capref = n.nsigs;
		}
		refs = p->refs;
	}
	for (i = 0; i < n.nsigs; i++) {
		const struct note_key *k = vf_keys_find(keys, n.sigs[i].name, n.sigs[i].id);

		if (k == NULL || note_verify(k, n.text, n.text_len, &n.sigs[i]) != 0)
			goto out;
		refs[i] = *k;
	}
	p->nref = n.nsigs;
	p->checked = 1;
out:
	if (!p->parsed)
		note_free(&n);
}

static void vf_pre_free(struct vf_pre *p)
{
	if (p->parsed) {
		note_free(&p->note);
		proposal_free(&p->prop);
		p->parsed = 0;
	}
}

/* Splits a fetched bundle into its entries [from, size) of the tile. A short or truncated
 * bundle is a finding for the consumer. The founding members' keys are learnt here, before
 * any checker sees the bundle. */
static int vf_prepare(struct vf_fetch *f, struct vf_slot *s, uint64_t tile)
{
	uint64_t idx = tile * TLOG_TILE_WIDTH;
	uint64_t end = idx + TLOG_TILE_WIDTH < f->size ? idx + TLOG_TILE_WIDTH : f->size;
	const unsigned char *b = (const unsigned char *)s->data.p, *entry;
	size_t off = 0, elen;
	int ret;

	s->npre = 0;
	for (; idx < end; idx++) {
		struct vf_pre *p = &s->pre[s->npre];

		ret = tlog_bundle_next(b, s->data.len, &off, &entry, &elen);
		if (ret < 0)
			return cc_fail(&s->err, CC_ECONFLICT, "entry bundle %llu is truncated",
				       (unsigned long long)tile);
		if (ret == 0)
			return cc_fail(
			    &s->err, CC_ECONFLICT,
			    "entry bundle %llu ends at entry %llu, the checkpoint needs %llu",
			    (unsigned long long)tile, (unsigned long long)idx,
			    (unsigned long long)end);
		p->entry = entry;
		p->len = elen;
		p->checked = 0;
		p->nref = 0;
		s->npre++;
		if (idx == 0 && f->from == 0) {
			struct vf_keys g = {0};

			vf_learn_genesis(&g, entry, elen);
			pthread_mutex_lock(&f->mu);
			free(f->gen.v);
			f->gen = g;
			f->gengen++;
			pthread_mutex_unlock(&f->mu);
		}
	}
	return 0;
}

/* Merges the keys published since the checker last looked: the founding members' and the
 * ledger's. */
static int vf_merge_keys(struct vf_checker *c)
{
	struct vf_fetch *f = c->f;
	int ret = 0;

	pthread_mutex_lock(&f->mu);
	if (c->gengen != f->gengen) {
		for (size_t i = 0; ret == 0 && i < f->gen.n; i++)
			ret = vf_keys_add(&c->keys, &f->gen.v[i]);
		c->gengen = f->gengen;
	}
	if (c->pubgen != f->pubgen) {
		for (size_t i = 0; ret == 0 && i < f->pub.n; i++)
			ret = vf_keys_add(&c->keys, &f->pub.v[i]);
		c->pubgen = f->pubgen;
	}
	pthread_mutex_unlock(&f->mu);
	return ret;
}

static void *vf_fetch_main(void *arg)
{
	struct vf_fetch *f = arg;
	struct cbuf data = CBUF_INIT;
	struct cc_err err;
	uint64_t t;
	int ret;

	for (t = f->first; t <= f->last; t++) {
		struct vf_slot *s = &f->slot[t % VF_SLOTS];

		pthread_mutex_lock(&f->mu);
		while (!f->stop && t >= f->consumed + VF_SLOTS)
			pthread_cond_wait(&f->cv, &f->mu);
		if (f->stop) {
			pthread_mutex_unlock(&f->mu);
			break;
		}
		pthread_mutex_unlock(&f->mu);

		/* the slot is free: nobody touches it again until its state changes */
		memset(&err, 0, sizeof(err));
		ret = vf_get_bundle(f->h, t, f->size, &data, &err);
		cbuf_free(&s->data);
		s->data = data;
		data = (struct cbuf)CBUF_INIT;
		s->err = err;
		if (ret == 0)
			ret = vf_prepare(f, s, t);

		pthread_mutex_lock(&f->mu);
		s->tile = t;
		s->ret = ret;
		s->done = 0;
		/* a failed bundle goes straight to the consumer, which stops the replay */
		s->state = ret < 0 ? 2 : 1;
		pthread_cond_broadcast(&f->cv);
		pthread_mutex_unlock(&f->mu);
		if (ret < 0)
			break;
	}
	cbuf_free(&data);
	return NULL;
}

/* A checking thread: its share of every bundle, in tile order: leaf hashes, and the
 * signatures of proposals. */
static void *vf_check_main(void *arg)
{
	struct vf_checker *c = arg;
	struct vf_fetch *f = c->f;

	for (uint64_t t = f->first; t <= f->last; t++) {
		struct vf_slot *s = &f->slot[t % VF_SLOTS];
		uint64_t base = t * TLOG_TILE_WIDTH;
		int merged;

		pthread_mutex_lock(&f->mu);
		while (!f->stop && !(s->tile == t && s->state != 0))
			pthread_cond_wait(&f->cv, &f->mu);
		if (f->stop || s->ret < 0 || s->state != 1) {
			pthread_mutex_unlock(&f->mu);
			break;
		}
		pthread_mutex_unlock(&f->mu);
		/* Without the keys, entries are left to the ledger, which is always right. */
		merged = vf_merge_keys(c) == 0;
		for (size_t i = (size_t)c->id; i < s->npre; i += (size_t)f->ncheck) {
			struct vf_pre *p = &s->pre[i];

			if (base + i < f->from)
				continue;
			merkle_leaf_hash(p->entry, p->len, p->leaf);
			if (base + i != 0 && !f->serial && merged)
				vf_precheck(&c->keys, p);
		}
		pthread_mutex_lock(&f->mu);
		if (++s->done == f->ncheck) {
			s->state = 2;
			pthread_cond_broadcast(&f->cv);
		}
		pthread_mutex_unlock(&f->mu);
	}
	return NULL;
}

/* Waits for tile t; the slot stays the consumer's until vf_release. */
static struct vf_slot *vf_wait(struct vf_fetch *f, uint64_t t)
{
	struct vf_slot *s = &f->slot[t % VF_SLOTS];

	pthread_mutex_lock(&f->mu);
	while (!(s->state == 2 && s->tile == t))
		pthread_cond_wait(&f->cv, &f->mu);
	pthread_mutex_unlock(&f->mu);
	return s;
}

static void vf_release(struct vf_fetch *f, struct vf_slot *s)
{
	pthread_mutex_lock(&f->mu);
	s->state = 0;
	f->consumed++;
	pthread_cond_broadcast(&f->cv);
	pthread_mutex_unlock(&f->mu);
}

/* Publishes the ledger's member keys to the checkers when they changed (a member joined,
 * left or rotated its key). */
static int vf_publish(struct vf_fetch *f, const struct ledger *l)
{
	size_t n = ledger_member_count(l), i;
	int same, ret = 0;

	pthread_mutex_lock(&f->mu);
	same = f->pub.n == n;
	for (i = 0; same && i < n; i++)
		same = memcmp(&f->pub.v[i], &ledger_member_at(l, i)->key,
			      sizeof(struct note_key)) == 0;
	if (!same) {
		f->pub.n = 0;
		for (i = 0; ret == 0 && i < n; i++) {
			if (f->pub.n == f->pub.cap) {
				size_t cap = f->pub.cap ? f->pub.cap * 2 : 64;
				struct note_key *v = realloc(f->pub.v, cap * sizeof(*v));

				if (v == NULL) {
					ret = CC_ENOMEM;
					break;
				}
				f->pub.v = v;
				f->pub.cap = cap;
			}
			f->pub.v[f->pub.n++] = ledger_member_at(l, i)->key;
		}
		f->pubgen++;
	}
	pthread_mutex_unlock(&f->mu);
	return ret;
}

/* Whether the checkers' work covers every signature of the entry under the keys the ledger
 * holds now: then the ledger need not verify them again. */
static int vf_covered(const struct ledger *l, const struct vf_pre *p)
{
	const struct note_key *refs = vf_pre_refs(p);

	if (!p->checked)
		return 0;
	for (size_t i = 0; i < p->nref; i++) {
		const struct note_key *k = &refs[i];
		const struct ledger_member *m = ledger_member(l, k->name);

		if (m == NULL || m->key.id != k->id || memcmp(m->key.pub, k->pub, 32) != 0)
			return 0;
	}
	return 1;
}

static int vf_ncheck(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : n > VF_MAX_CHECK ? VF_MAX_CHECK : (int)n;
}

/* Replays entries [from, to) into the ledger and the tree. A failing entry is a finding,
 * not a transport error: it returns CC_ECONFLICT with the entry's index in e. */
static int vf_entries(const char *base, struct ledger *l, struct merkle_tree *t, uint64_t from,
		      uint64_t to, int serial, uint64_t *rechecked, struct cc_err *e)
{
	struct vf_fetch *f;
	uint64_t tile, idx;
	int ret = 0, started = 0;

	if (from >= to)
		return 0;
	/* a few MB: the slots' entry tables */
	f = calloc(1, sizeof(*f));
	if (f == NULL)
		return cc_fail(e, CC_ENOMEM, "out of memory");
	pthread_mutex_init(&f->mu, NULL);
	pthread_cond_init(&f->cv, NULL);
	f->first = from / TLOG_TILE_WIDTH;
	f->last = (to - 1) / TLOG_TILE_WIDTH;
	f->from = from;
	f->size = to;
	f->serial = serial;
	f->consumed = f->first;
	f->ncheck = vf_ncheck();
	ret = vf_publish(f, l);
	if (ret == 0)
		ret = http_new(&f->h, base, e);
	if (ret < 0)
		goto out;
	for (int i = 0; i < f->ncheck; i++) {
		f->check[i].f = f;
		f->check[i].id = i;
		if (pthread_create(&f->check[i].th, NULL, vf_check_main, &f->check[i]) != 0)
			break;
		f->nstarted++;
	}
	/* Every share of a bundle has its checker, or nothing is checked at all. */
	if (f->nstarted < f->ncheck || pthread_create(&f->th, NULL, vf_fetch_main, f) != 0) {
		ret = cc_fail(e, CC_ENOMEM, "cannot start the fetching and checking threads");
		goto out;
	}
	started = 1;
	for (tile = f->first; tile <= f->last; tile++) {
		struct vf_slot *s = vf_wait(f, tile);

		if (s->ret < 0) {
			*e = s->err;
			ret = s->ret;
			goto out;
		}
		for (size_t i = 0; i < s->npre; i++) {
			struct vf_pre *p = &s->pre[i];
			struct cc_err le = {0, ""};
			int covered;

			idx = tile * TLOG_TILE_WIDTH + i;
			if (idx < from) {
				vf_pre_free(p);
				continue;
			}
			ret = merkle_tree_append(t, p->leaf);
			if (ret < 0) {
				cc_fail(e, ret, "out of memory");
				goto out;
			}
			covered = !serial && vf_covered(l, p);
			*rechecked += !covered;
			ret = ledger_apply_entry_parsed(l, p->entry, p->len,
							p->parsed ? &p->note : NULL,
							p->parsed ? &p->prop : NULL, !covered, &le);
			vf_pre_free(p);
			if (ret < 0) {
				ret = cc_fail(e, CC_ECONFLICT, "entry %llu does not replay: %s",
					      (unsigned long long)idx,
					      le.msg[0] != '\0' ? le.msg : cc_strerror(ret));
				goto out;
			}
		}
		vf_release(f, s);
		if (!serial) {
			ret = vf_publish(f, l);
			if (ret < 0) {
				cc_fail(e, ret, "out of memory");
				goto out;
			}
		}
	}
	ret = 0;
out:
	pthread_mutex_lock(&f->mu);
	f->stop = 1;
	pthread_cond_broadcast(&f->cv);
	pthread_mutex_unlock(&f->mu);
	if (started)
		pthread_join(f->th, NULL);
	for (int i = 0; i < f->nstarted; i++)
		pthread_join(f->check[i].th, NULL);
	for (int i = 0; i < VF_SLOTS; i++) {
		cbuf_free(&f->slot[i].data);
		for (size_t j = 0; j < TLOG_TILE_WIDTH; j++) {
			free(f->slot[i].pre[j].refs);
			vf_pre_free(&f->slot[i].pre[j]);
		}
	}
	for (int i = 0; i < f->nstarted; i++)
		free(f->check[i].keys.v);
	free(f->gen.v);
	free(f->pub.v);
	http_free(f->h);
	pthread_cond_destroy(&f->cv);
	pthread_mutex_destroy(&f->mu);
	free(f);
	return ret;
}

/* Fetches and checks the checkpoint: signed by the log key, for the log key's origin. */
static int vf_checkpoint(struct http *h, const struct note_key *key, uint64_t *size,
			 unsigned char root[MERKLE_HASH], struct cc_err *e)
{
	struct http_resp r = {0};
	struct note n = {0};
	struct cc_err pe = {0, ""};
	char origin[TLOG_ORIGIN_MAX + 1];
	size_t i;
	int ret, found = 0;

	ret = http_get(h, "/log/checkpoint", HTTP_MAX_SMALL, &r, e);
	if (ret < 0)
		goto out;
	ret = note_parse(&n, r.body.p, r.body.len, &pe);
	if (ret < 0) {
		ret = cc_fail(e, CC_ECONFLICT, "the checkpoint is not a signed note: %s", pe.msg);
		goto out;
	}
	for (i = 0; i < n.nsigs; i++) {
		if (n.sigs[i].id != key->id || strcmp(n.sigs[i].name, key->name) != 0)
			continue;
		found = 1;
		if (note_verify(key, n.text, n.text_len, &n.sigs[i]) != 0) {
			ret = cc_fail(e, CC_ECONFLICT,
				      "the checkpoint's signature by %s does not "
				      "verify",
				      key->name);
			goto out;
		}
	}
	if (!found) {
		ret = cc_fail(e, CC_ECONFLICT,
			      "the checkpoint carries no signature of the log key %s", key->name);
		goto out;
	}
	ret = tlog_checkpoint_parse(n.text, n.text_len, origin, size, root, &pe);
	if (ret < 0) {
		ret = cc_fail(e, CC_ECONFLICT, "bad checkpoint: %s", pe.msg);
		goto out;
	}
	if (strcmp(origin, key->name) != 0) {
		ret = cc_fail(e, CC_ECONFLICT, "the checkpoint is for '%s', the log key for '%s'",
			      origin, key->name);
		goto out;
	}
out:
	note_free(&n);
	http_resp_free(&r);
	return ret;
}

/* Compares every hash tile of a tree of size leaves, at every level that has one. */
static int vf_hash_tiles(struct http *h, const struct merkle_tree *t, uint64_t size,
			 uint64_t *ntiles, struct cc_err *e)
{
	struct cbuf path = CBUF_INIT, want = CBUF_INIT;
	struct http_resp r = {0};
	int level, ret = 0;

	for (level = 0; level < 8 && (size >> (TLOG_TILE_HEIGHT * level)) > 0; level++) {
		uint64_t count = size >> (TLOG_TILE_HEIGHT * level), n;

		for (n = 0; n * TLOG_TILE_WIDTH < count; n++) {
			uint64_t left = count - n * TLOG_TILE_WIDTH;
			unsigned w = left >= TLOG_TILE_WIDTH ? TLOG_TILE_WIDTH : (unsigned)left;

			cbuf_reset(&path);
			cbuf_reset(&want);
			if (cbuf_puts(&path, "/log/") != 0 ||
			    tlog_tile_path(&path, level, n, w) != 0 ||
			    tlog_tile_hashes(t, level, n, w, &want) != 0) {
				ret = cc_fail(e, CC_ENOMEM, "cannot compute tile %d/%llu", level,
					      (unsigned long long)n);
				goto out;
			}
			ret = http_get(h, path.p, HTTP_MAX_SMALL, &r, e);
			if (ret == CC_ENOENT && w < TLOG_TILE_WIDTH) {
				/* the log grew past this partial tile: its full tile starts the
				 * same */
				cbuf_reset(&path);
				cbuf_puts(&path, "/log/");
				tlog_tile_path(&path, level, n, TLOG_TILE_WIDTH);
				ret = http_get(h, path.p, HTTP_MAX_SMALL, &r, e);
			}
			if (ret < 0) {
				struct cc_err ge = *e;

				cc_fail(e, ret, "GET %s: %s", path.p, ge.msg);
				goto out;
			}
			if (r.body.len < want.len || memcmp(r.body.p, want.p, want.len) != 0) {
				size_t k = 0;

				while (k + MERKLE_HASH <= r.body.len && k < want.len &&
				       memcmp(r.body.p + k, want.p + k, MERKLE_HASH) == 0)
					k += MERKLE_HASH;
				ret = cc_fail(e, CC_ECONFLICT,
					      "hash tile %s differs from the log: hash %zu of %u "
					      "(%zu bytes served)",
					      path.p, k / MERKLE_HASH, w, r.body.len);
				goto out;
			}
			(*ntiles)++;
		}
	}
out:
	http_resp_free(&r);
	cbuf_free(&path);
	cbuf_free(&want);
	return ret;
}

static int vf_recs_add(struct vf_recs *rs, const char *path, uint64_t version, const char *sha)
{
	if (rs->n == rs->cap) {
		size_t cap = rs->cap ? rs->cap * 2 : 1024;
		struct vf_rec *v = realloc(rs->v, cap * sizeof(*v));

		if (v == NULL)
			return CC_ENOMEM;
		rs->v = v;
		rs->cap = cap;
	}
	rs->v[rs->n].path = strdup(path);
	if (rs->v[rs->n].path == NULL)
		return CC_ENOMEM;
	rs->v[rs->n].version = version;
	snprintf(rs->v[rs->n].sha, sizeof(rs->v[rs->n].sha), "%s", sha);
	rs->n++;
	return 0;
}

static void vf_recs_free(struct vf_recs *rs)
{
	for (size_t i = 0; i < rs->n; i++)
		free(rs->v[i].path);
	free(rs->v);
	memset(rs, 0, sizeof(*rs));
}

static int vf_rec_cmp(const void *a, const void *b)
{
	return strcmp(((const struct vf_rec *)a)->path, ((const struct vf_rec *)b)->path);
}

static int vf_ledger_rec(void *ctx, const char *path, const char *content, size_t len,
			 uint64_t version)
{
	unsigned char d[crypto_hash_sha256_BYTES];
	char hex[65];

	crypto_hash_sha256(d, (const unsigned char *)content, len);
	sodium_bin2hex(hex, sizeof(hex), d, sizeof(d));
	return vf_recs_add(ctx, path, version, hex);
}

static void vf_diff(unsigned *ndiff, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Reports one difference on stderr, the first VF_MAX_REPORT of them. */
static void vf_diff(unsigned *ndiff, const char *fmt, ...)
{
	va_list ap;

	if ((*ndiff)++ >= VF_MAX_REPORT) {
		if (*ndiff == VF_MAX_REPORT + 1)
			fprintf(stderr, "concord: ... (more differences not shown)\n");
		return;
	}
	fprintf(stderr, "concord: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* GET /v1/records against the rebuilt ledger. *tree_size gets the size the node answered
 * for; the comparison only runs when it is the one verified. */
static int vf_records(struct http *h, const struct ledger *l, uint64_t size, uint64_t *tree_size,
		      size_t *nrecs, unsigned *ndiff, struct cc_err *e)
{
	struct vf_recs node = {0}, mine = {0};
	json_t *j = NULL, *rec;
	size_t i, a = 0, b = 0;
	int ret;

	ret = cli_get_json(h, "/v1/records", &j, e);
	if (ret < 0)
		goto out;
	*tree_size = (uint64_t)json_integer_value(json_object_get(j, "tree_size"));
	if (!json_is_integer(json_object_get(j, "tree_size"))) {
		ret = cc_fail(e, CC_EINVAL, "GET /v1/records: no tree_size");
		goto out;
	}
	if (*tree_size != size)
		goto out;
	json_array_foreach(json_object_get(j, "records"), i, rec)
	{
		const char *path = json_string_value(json_object_get(rec, "path"));
		const char *sha = json_string_value(json_object_get(rec, "sha256"));
		json_t *v = json_object_get(rec, "version");

		if (path == NULL || sha == NULL || !json_is_integer(v)) {
			ret = cc_fail(e, CC_EINVAL, "GET /v1/records: record %zu is malformed", i);
			goto out;
		}
		if (vf_recs_add(&node, path, (uint64_t)json_integer_value(v), sha) != 0) {
			ret = cc_fail(e, CC_ENOMEM, "out of memory");
			goto out;
		}
	}
	ret = ledger_foreach(l, "", vf_ledger_rec, &mine);
	if (ret < 0) {
		cc_fail(e, ret, "cannot list the rebuilt records");
		goto out;
	}
	*nrecs = mine.n;
	qsort(node.v, node.n, sizeof(*node.v), vf_rec_cmp);
	qsort(mine.v, mine.n, sizeof(*mine.v), vf_rec_cmp);
	while (a < node.n || b < mine.n) {
		int c = a == node.n ? 1 : b == mine.n ? -1 : strcmp(node.v[a].path, mine.v[b].path);

		if (c < 0) {
			vf_diff(ndiff, "record %s: served by the node, not in the log",
				node.v[a].path);
			a++;
		} else if (c > 0) {
			vf_diff(ndiff,
				"record %s: in the log (version %llu), not served by the node",
				mine.v[b].path, (unsigned long long)mine.v[b].version);
			b++;
		} else {
			if (node.v[a].version != mine.v[b].version)
				vf_diff(ndiff, "record %s: node says version %llu, the log %llu",
					node.v[a].path, (unsigned long long)node.v[a].version,
					(unsigned long long)mine.v[b].version);
			else if (strcmp(node.v[a].sha, mine.v[b].sha) != 0)
				vf_diff(ndiff,
					"record %s: node's content has sha256 %s, the log's %s",
					node.v[a].path, node.v[a].sha, mine.v[b].sha);
			a++;
			b++;
		}
	}
out:
	json_decref(j);
	vf_recs_free(&node);
	vf_recs_free(&mine);
	return ret;
}

/* GET /v1/root against ledger_export_root, pointing at the first line that differs. */
static int vf_root(struct http *h, const struct ledger *l, unsigned *ndiff, struct cc_err *e)
{
	struct http_resp r = {0};
	struct cbuf mine = CBUF_INIT;
	const char *x, *y;
	size_t line = 1;
	int ret;

	ret = ledger_export_root(l, &mine);
	if (ret < 0) {
		cc_fail(e, ret, "cannot export the rebuilt root zone");
		goto out;
	}
	ret = http_get(h, "/v1/root", HTTP_MAX_JSON, &r, e);
	if (ret < 0)
		goto out;
	if (r.body.len == mine.len && memcmp(r.body.p, mine.p, mine.len) == 0)
		goto out;
	for (x = r.body.p, y = mine.p;; line++) {
		const char *xn = strchr(x, '\n'), *yn = strchr(y, '\n');
		size_t xl = xn != NULL ? (size_t)(xn - x) : strlen(x);
		size_t yl = yn != NULL ? (size_t)(yn - y) : strlen(y);

		if (xl != yl || memcmp(x, y, xl) != 0 || (xn == NULL) != (yn == NULL)) {
			vf_diff(ndiff,
				"/v1/root differs from the log's root zone at line %zu: "
				"node '%.*s', log '%.*s'",
				line, (int)(xl > 200 ? 200 : xl), x, (int)(yl > 200 ? 200 : yl), y);
			break;
		}
		if (xn == NULL)
			break;
		x = xn + 1;
		y = yn + 1;
	}
out:
	http_resp_free(&r);
	cbuf_free(&mine);
	return ret;
}

static int vf_log_key(struct http *h, const char *pinned, struct note_key *key, struct cc_err *e)
{
	struct cc_err pe = {0, ""};
	json_t *net = NULL;
	const char *s = pinned;
	int ret;

	if (s == NULL) {
		ret = cli_get_json(h, "/v1/network", &net, e);
		if (ret < 0)
			return ret;
		s = json_string_value(json_object_get(net, "log_key"));
		if (s == NULL) {
			ret = cc_fail(e, CC_EINVAL, "GET /v1/network: no log_key");
			goto out;
		}
	}
	ret = note_vkey_parse(key, s, strlen(s), &pe);
	if (ret < 0 && pinned != NULL)
		ret = cc_fail(e, CLI_EUSAGE, "verify: --log-key: %s", pe.msg);
	else if (ret < 0)
		ret = cc_fail(e, CC_EINVAL, "the node's log key: %s", pe.msg);
out:
	json_decref(net);
	return ret;
}

int cli_verify(int argc, char **argv, struct cc_err *e)
{
	const char *pinned = NULL;
	int serial = 0;
	const struct cli_opt opts[] = {
	    {"log-key", 0, CLI_ARG, &pinned}, {"serial", 0, CLI_FLAG, &serial}, {0}};
	struct cli_args a = {0};
	struct http *h = NULL;
	struct ledger *l = NULL;
	struct merkle_tree t;
	struct note_key key;
	unsigned char root[MERKLE_HASH], mroot[MERKLE_HASH];
	char b64[sodium_base64_ENCODED_LEN(MERKLE_HASH, sodium_base64_VARIANT_ORIGINAL)];
	uint64_t size = 0, done = 0, tree_size = 0, ntiles = 0, rechecked = 0;
	size_t nrecs = 0;
	unsigned ndiff = 0;
	double t0, t1, t2;
	int ret, round;

	merkle_tree_init(&t);
	ret = cli_parse(argc, argv, opts, &a, e);
	if (ret < 0)
		goto out;
	if (a.npos != 1) {
		ret = cc_fail(e, CLI_EUSAGE, "verify: expected the node's URL");
		goto out;
	}
	if (sodium_init() < 0) {
		ret = cc_fail(e, CC_EIO, "cannot initialise libsodium");
		goto out;
	}
	ret = http_new(&h, a.pos[0], e);
	if (ret < 0)
		goto out;
	ret = vf_log_key(h, pinned, &key, e);
	if (ret < 0)
		goto out;
	l = ledger_new();
	if (l == NULL) {
		ret = cc_fail(e, CC_ENOMEM, "out of memory");
		goto out;
	}
	t0 = vf_clock();
	t1 = t0;
	/* A live node may append while we read: follow it a few times, then give up. */
	for (round = 0;; round++) {
		/* A partial tile vanishes when the log grows past it, and the records may be read
		 * at a later size: then start again from a newer checkpoint, keeping what is
		 * replayed already. */
		if (round >= VF_ROUNDS) {
			struct cc_err last = *e;

			ret = cc_fail(e, CC_ECONFLICT,
				      "the node kept growing through %d checkpoints (%s): audit it "
				      "when it is quiet",
				      VF_ROUNDS, last.msg);
			goto out;
		}
		ret = vf_checkpoint(h, &key, &size, root, e);
		if (ret < 0)
			goto out;
		if (size < done) {
			ret = cc_fail(e, CC_ECONFLICT,
				      "the checkpoint went back from %llu to %llu entries",
				      (unsigned long long)done, (unsigned long long)size);
			goto out;
		}
		ret = vf_entries(a.pos[0], l, &t, done, size, serial, &rechecked, e);
		done = ledger_size(l);
		t1 = vf_clock();
		if (ret == CC_ENOENT)
			continue;
		if (ret < 0)
			goto out;
		ret = merkle_tree_root(&t, size, mroot);
		if (ret < 0) {
			cc_fail(e, ret, "cannot compute the tree's root");
			goto out;
		}
		if (memcmp(root, mroot, MERKLE_HASH) != 0) {
			sodium_bin2base64(b64, sizeof(b64), mroot, MERKLE_HASH,
					  sodium_base64_VARIANT_ORIGINAL);
			ret = cc_fail(e, CC_ECONFLICT,
				      "the entries give root %s for %llu entries, the checkpoint "
				      "another",
				      b64, (unsigned long long)size);
			goto out;
		}
		if (size > 0 && strcmp(ledger_origin(l), key.name) != 0) {
			ret = cc_fail(e, CC_ECONFLICT,
				      "the log's genesis is for '%s', its key for '%s'",
				      ledger_origin(l), key.name);
			goto out;
		}
		ntiles = 0;
		ret = vf_hash_tiles(h, &t, size, &ntiles, e);
		if (ret == CC_ENOENT)
			continue;
		if (ret < 0)
			goto out;
		ret = vf_records(h, l, size, &tree_size, &nrecs, &ndiff, e);
		if (ret < 0)
			goto out;
		if (tree_size == size)
			break;
		cc_fail(e, CC_ECONFLICT, "records at %llu entries, checkpoint at %llu",
			(unsigned long long)tree_size, (unsigned long long)size);
	}
	ret = vf_root(h, l, &ndiff, e);
	if (ret < 0)
		goto out;
	if (ndiff > 0) {
		fprintf(stderr, "concord: verify: %u difference%s between %s and its log\n", ndiff,
			ndiff == 1 ? "" : "s", a.pos[0]);
		ret = CLI_EREPORTED;
		goto out;
	}
	t2 = vf_clock();
	sodium_bin2base64(b64, sizeof(b64), root, MERKLE_HASH, sodium_base64_VARIANT_ORIGINAL);
	printf("verified %llu entries, %zu records, root %s\n", (unsigned long long)size, nrecs,
	       b64);
	printf("replayed %llu entries in %.2f s: %.0f entries/s (%llu with signatures checked by "
	       "the ledger itself); %llu hash tiles; total %.2f s\n",
	       (unsigned long long)size, t1 - t0, t1 > t0 ? (double)size / (t1 - t0) : 0.0,
	       (unsigned long long)rechecked, (unsigned long long)ntiles, t2 - t0);
out:
	/* a finding is exit 1 like any failure, but it must name what differs */
	if (ret < 0 && ret != CLI_EUSAGE && ret != CLI_EREPORTED && ret != CLI_HELP) {
		fprintf(stderr, "concord: verify: %s\n", e->msg);
		ret = CLI_EREPORTED;
	}
	if (l != NULL)
		ledger_free(l);
	merkle_tree_free(&t);
	http_free(h);
	cli_args_free(&a);
	return ret;
}
