#include "node/fetch.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/tlog.h"
#include "node/http.h"

#define FETCH_SLOTS	 8	/* bundles fetched ahead of the consumer */
#define FETCH_MAX_CHECK	 8	/* checking threads at most */
#define FETCH_CONNECT_MS 10000	/* to connect */
#define FETCH_BUNDLE_MS	 300000 /* one bundle, whole */

struct fetch_slot {				 /* one fetched bundle */
	uint64_t tile;				 /* its tile index */
	int state;				 /* 0 free, 1 fetched (being checked), 2 ready */
	int ret;				 /* fetch result */
	struct cc_err err;			 /* why the fetch or the bundle failed */
	struct cbuf data;			 /* the bundle */
	struct fetch_entry pre[TLOG_TILE_WIDTH]; /* its entries, from the tile's first on */
	size_t npre;				 /* entries found */
	int done;				 /* checkers through with it */
};

struct fetch_keys {	    /* member keys */
	struct note_key *v; /* keys */
	size_t n, cap;	    /* used, allocated */
};

struct fetch;

struct fetch_checker {		/* one checking thread */
	pthread_t th;		/* the thread */
	struct fetch *f;	/* the replay */
	int id;			/* it checks entries id, id + ncheck, ... of each bundle */
	struct fetch_keys keys; /* keys it verifies with (its own) */
	uint64_t pubgen;	/* consumer publication merged last */
	uint64_t gengen;	/* genesis publication merged last */
};

struct fetch {				     /* the fetching thread and the checkers */
	pthread_t th;			     /* the fetching thread */
	pthread_mutex_t mu;		     /* guards the fields below up to slot */
	pthread_cond_t cv;		     /* signalled on every slot change */
	uint64_t consumed;		     /* tiles the consumer has released */
	int stop;			     /* consumer gave up */
	struct fetch_keys pub;		     /* member keys published by the consumer */
	uint64_t pubgen;		     /* bumped on every publication */
	struct fetch_keys gen;		     /* founding members' keys, read by the fetcher */
	uint64_t gengen;		     /* bumped when gen is filled */
	struct fetch_slot slot[FETCH_SLOTS]; /* ring, tile t in slot t % FETCH_SLOTS */
	struct http *h;			     /* the fetching thread's own connection */
	uint64_t first, last;		     /* tiles to fetch, inclusive */
	uint64_t from, size;		     /* entries wanted: [from, size) */
	int serial;			     /* leave every signature to the ledger */
	int ncheck;			     /* checking threads */
	int nstarted;			     /* of which started */
	struct fetch_checker check[FETCH_MAX_CHECK];
};

int fetch_get_bundle(struct http *h, uint64_t n, uint64_t size, struct cbuf *out, struct cc_err *e)
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

static const struct note_key *fetch_keys_find(const struct fetch_keys *ks, const char *name,
					      uint32_t id)
{
	for (size_t i = 0; i < ks->n; i++)
		if (ks->v[i].id == id && strcmp(ks->v[i].name, name) == 0)
			return &ks->v[i];
	return NULL;
}

static int fetch_keys_add(struct fetch_keys *ks, const struct note_key *k)
{
	const struct note_key *have = fetch_keys_find(ks, k->name, k->id);

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
static void fetch_learn_genesis(struct fetch_keys *ks, const unsigned char *entry, size_t len)
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
				fetch_keys_add(ks, &k);
		}
		if (nl == NULL)
			break;
		s = nl + 1;
	}
}

static const struct note_key *fetch_entry_refs(const struct fetch_entry *p)
{
	return p->nref <= FETCH_INLINE ? p->inl : p->refs;
}

/* Checks the signatures of one proposal entry; leaves p->checked 0 when any of them is not
 * known valid (unknown key, bad signature, unparsable note): the ledger will say why. */
static void fetch_precheck(const struct fetch_keys *keys, struct fetch_entry *p)
{
	struct note_key *refs;
	struct note n = {0};
	size_t i, h;
	int64_t t;

	p->checked = 0;
	p->nref = 0;
	p->parsed = 0;
	if (ledger_proposal_entry(p->entry, p->len, &t, &h) < 0)
		return;
	if (note_parse(&n, (const char *)p->entry + h, p->len - h, NULL) != 0)
		return;
	/* Read here, on a checking thread, the proposal is not read again by the ledger. */
	if (proposal_parse(&p->prop, n.text, n.text_len, NULL) == 0) {
		p->note = n;
		p->parsed = 1;
	}
	if (n.nsigs <= FETCH_INLINE) {
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
		const struct note_key *k = fetch_keys_find(keys, n.sigs[i].name, n.sigs[i].id);

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

static void fetch_entry_free(struct fetch_entry *p)
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
static int fetch_prepare(struct fetch *f, struct fetch_slot *s, uint64_t tile)
{
	uint64_t idx = tile * TLOG_TILE_WIDTH;
	uint64_t end = idx + TLOG_TILE_WIDTH < f->size ? idx + TLOG_TILE_WIDTH : f->size;
	const unsigned char *b = (const unsigned char *)s->data.p, *entry;
	size_t off = 0, elen;
	int ret;

	s->npre = 0;
	for (; idx < end; idx++) {
		struct fetch_entry *p = &s->pre[s->npre];

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
			struct fetch_keys g = {0};

			fetch_learn_genesis(&g, entry, elen);
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
static int fetch_merge_keys(struct fetch_checker *c)
{
	struct fetch *f = c->f;
	int ret = 0;

	pthread_mutex_lock(&f->mu);
	if (c->gengen != f->gengen) {
		for (size_t i = 0; ret == 0 && i < f->gen.n; i++)
			ret = fetch_keys_add(&c->keys, &f->gen.v[i]);
		c->gengen = f->gengen;
	}
	if (c->pubgen != f->pubgen) {
		for (size_t i = 0; ret == 0 && i < f->pub.n; i++)
			ret = fetch_keys_add(&c->keys, &f->pub.v[i]);
		c->pubgen = f->pubgen;
	}
	pthread_mutex_unlock(&f->mu);
	return ret;
}

static void *fetch_main(void *arg)
{
	struct fetch *f = arg;
	struct cbuf data = CBUF_INIT;
	struct cc_err err;
	uint64_t t;
	int ret;

	for (t = f->first; t <= f->last; t++) {
		struct fetch_slot *s = &f->slot[t % FETCH_SLOTS];

		pthread_mutex_lock(&f->mu);
		while (!f->stop && t >= f->consumed + FETCH_SLOTS)
			pthread_cond_wait(&f->cv, &f->mu);
		if (f->stop) {
			pthread_mutex_unlock(&f->mu);
			break;
		}
		pthread_mutex_unlock(&f->mu);

		/* the slot is free: nobody touches it again until its state changes */
		memset(&err, 0, sizeof(err));
		ret = fetch_get_bundle(f->h, t, f->size, &data, &err);
		cbuf_free(&s->data);
		s->data = data;
		data = (struct cbuf)CBUF_INIT;
		s->err = err;
		if (ret == 0)
			ret = fetch_prepare(f, s, t);

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
static void *fetch_check_main(void *arg)
{
	struct fetch_checker *c = arg;
	struct fetch *f = c->f;

	for (uint64_t t = f->first; t <= f->last; t++) {
		struct fetch_slot *s = &f->slot[t % FETCH_SLOTS];
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
		merged = fetch_merge_keys(c) == 0;
		for (size_t i = (size_t)c->id; i < s->npre; i += (size_t)f->ncheck) {
			struct fetch_entry *p = &s->pre[i];

			if (base + i < f->from)
				continue;
			merkle_leaf_hash(p->entry, p->len, p->leaf);
			if (base + i != 0 && !f->serial && merged)
				fetch_precheck(&c->keys, p);
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

/* Waits for tile t; the slot stays the consumer's until fetch_release. */
static struct fetch_slot *fetch_wait(struct fetch *f, uint64_t t)
{
	struct fetch_slot *s = &f->slot[t % FETCH_SLOTS];

	pthread_mutex_lock(&f->mu);
	while (!(s->state == 2 && s->tile == t))
		pthread_cond_wait(&f->cv, &f->mu);
	pthread_mutex_unlock(&f->mu);
	return s;
}

static void fetch_release(struct fetch *f, struct fetch_slot *s)
{
	pthread_mutex_lock(&f->mu);
	s->state = 0;
	f->consumed++;
	pthread_cond_broadcast(&f->cv);
	pthread_mutex_unlock(&f->mu);
}

/* Publishes the ledger's member keys to the checkers when they changed (a member joined,
 * left or rotated its key). */
int fetch_publish(struct fetch *f, const struct ledger *l)
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
static int fetch_covered(const struct ledger *l, const struct fetch_entry *p)
{
	const struct note_key *refs = fetch_entry_refs(p);

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

static int fetch_ncheck(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : n > FETCH_MAX_CHECK ? FETCH_MAX_CHECK : (int)n;
}

int fetch_new(struct fetch **out, const char *base, uint64_t from, uint64_t to, int serial,
	      struct cc_err *e)
{
	struct fetch *f;
	int ret;

	*out = NULL;
	/* a few MB: the slots' entry tables */
	f = calloc(1, sizeof(*f));
	if (f == NULL)
		return cc_fail(e, CC_ENOMEM, "out of memory");
	pthread_mutex_init(&f->mu, NULL);
	pthread_cond_init(&f->cv, NULL);
	f->first = from / TLOG_TILE_WIDTH;
	f->last = to > from ? (to - 1) / TLOG_TILE_WIDTH : f->first;
	f->from = from;
	f->size = to;
	f->serial = serial;
	f->consumed = f->first;
	f->ncheck = fetch_ncheck();
	if ((ret = http_new(&f->h, base, e)) < 0) {
		fetch_free(f);
		return ret;
	}
	/* a bundle is at most 17 MB: a source that takes longer is not worth waiting for */
	http_set_timeouts(f->h, FETCH_CONNECT_MS, FETCH_BUNDLE_MS);
	*out = f;
	return 0;
}

int fetch_run(struct fetch *f, fetch_take_fn take, void *ctx, struct cc_err *e)
{
	int ret = 0, started = 0;

	if (f->from >= f->size)
		return 0;
	for (int i = 0; i < f->ncheck; i++) {
		f->check[i].f = f;
		f->check[i].id = i;
		if (pthread_create(&f->check[i].th, NULL, fetch_check_main, &f->check[i]) != 0)
			break;
		f->nstarted++;
	}
	/* Every share of a bundle has its checker, or nothing is checked at all. */
	if (f->nstarted < f->ncheck || pthread_create(&f->th, NULL, fetch_main, f) != 0) {
		ret = cc_fail(e, CC_ENOMEM, "cannot start the fetching and checking threads");
		goto out;
	}
	started = 1;
	for (uint64_t tile = f->first; tile <= f->last; tile++) {
		struct fetch_slot *s = fetch_wait(f, tile);
		uint64_t base = tile * TLOG_TILE_WIDTH;
		size_t skip = base < f->from ? (size_t)(f->from - base) : 0;

		if (s->ret < 0) {
			*e = s->err;
			ret = s->ret;
			goto out;
		}
		ret = take(ctx, f, base + skip, s->pre + skip, s->npre - skip, e);
		for (size_t i = 0; i < s->npre; i++)
			fetch_entry_free(&s->pre[i]);
		fetch_release(f, s);
		if (ret < 0)
			goto out;
	}
out:
	pthread_mutex_lock(&f->mu);
	f->stop = 1;
	pthread_cond_broadcast(&f->cv);
	pthread_mutex_unlock(&f->mu);
	if (started)
		pthread_join(f->th, NULL);
	for (int i = 0; i < f->nstarted; i++)
		pthread_join(f->check[i].th, NULL);
	f->nstarted = 0;
	return ret;
}

void fetch_free(struct fetch *f)
{
	if (f == NULL)
		return;
	for (int i = 0; i < FETCH_SLOTS; i++) {
		cbuf_free(&f->slot[i].data);
		for (size_t j = 0; j < TLOG_TILE_WIDTH; j++) {
			free(f->slot[i].pre[j].refs);
			fetch_entry_free(&f->slot[i].pre[j]);
		}
	}
	for (int i = 0; i < FETCH_MAX_CHECK; i++)
		free(f->check[i].keys.v);
	free(f->gen.v);
	free(f->pub.v);
	http_free(f->h);
	pthread_cond_destroy(&f->cv);
	pthread_mutex_destroy(&f->mu);
	free(f);
}

int fetch_apply(struct ledger *l, const struct fetch_entry *p, struct cc_err *e)
{
	int covered = fetch_covered(l, p);
	int ret = ledger_apply_entry_parsed(l, p->entry, p->len, p->parsed ? &p->note : NULL,
					    p->parsed ? &p->prop : NULL, !covered, e);

	return ret < 0 ? ret : !covered;
}
