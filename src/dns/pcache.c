#include "dns/pcache.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/err.h"

#define PC_WAYS	    4	      /* entries a bucket: a hot answer survives three newer ones */
#define PC_PER_SLOT 512	      /* budget bytes an index slot: a root answer averages less */
#define PC_MIN	    (1 << 16) /* smallest budget */
#define PC_MALLOC   16	      /* what malloc adds to a block, counted against the budget */

struct pc_entry {
	uint64_t h;
	uint8_t *blob;	/* the query from its flags on, then the answer; NULL: free slot */
	uint32_t epoch; /* the cache's epoch when stored: older ones are stale */
	uint32_t used;	/* tick of the last use, for the bucket's LRU */
	uint16_t klen;
	uint16_t alen;
	uint8_t ref; /* used since the clock hand last passed: passed over once more */
};

struct pcache {
	struct pc_entry *e; /* nslots = (mask + 1) * PC_WAYS */
	size_t mask, nslots, hand;
	size_t budget, base, bytes, entries; /* base: the index; bytes: it and every blob */
	uint32_t epoch, tick;
	uint64_t hits, misses;
	uint8_t seed[crypto_shorthash_KEYBYTES];
};

_Static_assert(PCACHE_SEED_BYTES == crypto_shorthash_KEYBYTES, "SipHash takes a 16-byte key");

static size_t blob_cost(size_t klen, size_t alen)
{
	return klen + alen + PC_MALLOC;
}

static void slot_drop(struct pcache *c, struct pc_entry *s)
{
	if (s->blob == NULL)
		return;
	c->bytes -= blob_cost(s->klen, s->alen);
	c->entries--;
	free(s->blob);
	s->blob = NULL;
}

int pcache_new(size_t bytes, const uint8_t seed[PCACHE_SEED_BYTES], struct pcache **out)
{
	struct pcache *c = NULL;
	size_t buckets = 1;
	int ret = 0;

	*out = NULL;
	if (bytes < PC_MIN)
		return CC_EINVAL;
	while (buckets * 2 * PC_WAYS <= bytes / PC_PER_SLOT)
		buckets *= 2;
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		ret = CC_ENOMEM;
		goto out;
	}
	c->nslots = buckets * PC_WAYS;
	c->mask = buckets - 1;
	/* calloc: the pages of an index never filled are never touched. */
	c->e = calloc(c->nslots, sizeof(*c->e));
	if (c->e == NULL) {
		ret = CC_ENOMEM;
		goto out;
	}
	c->budget = bytes;
	c->base = c->nslots * sizeof(*c->e) + sizeof(*c);
	c->bytes = c->base;
	memcpy(c->seed, seed, sizeof(c->seed));
	*out = c;
	c = NULL;
out:
	pcache_free(c);
	return ret;
}

void pcache_free(struct pcache *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; c->e && i < c->nslots; i++)
		free(c->e[i].blob);
	free(c->e);
	sodium_memzero(c->seed, sizeof(c->seed));
	free(c);
}

void pcache_clear(struct pcache *c)
{
	/* After 2^32 zones an entry of the same epoch number could come back: drop them all
	 * then, once in a node's lifetime at most. */
	if (++c->epoch == 0)
		for (size_t i = 0; i < c->nslots; i++)
			slot_drop(c, &c->e[i]);
}

/* The key is the query without its id: two bytes in. */
static struct pc_entry *bucket(const struct pcache *c, const uint8_t *k, size_t klen, uint64_t *h)
{
	unsigned char out[crypto_shorthash_BYTES];

	crypto_shorthash(out, k, klen, c->seed);
	memcpy(h, out, sizeof(*h));
	return &c->e[(*h & c->mask) * PC_WAYS];
}

static int same(const struct pcache *c, const struct pc_entry *s, uint64_t h, const uint8_t *k,
		size_t klen)
{
	return s->blob && s->h == h && s->epoch == c->epoch && s->klen == klen &&
	       memcmp(s->blob, k, klen) == 0;
}

size_t pcache_get(struct pcache *c, const uint8_t *q, size_t qlen, uint8_t *out, size_t cap)
{
	struct pc_entry *b;
	uint64_t h;

	if (qlen < 12 || qlen > PCACHE_QUERY_MAX)
		goto miss;
	b = bucket(c, q + 2, qlen - 2, &h);
	for (int w = 0; w < PC_WAYS; w++) {
		struct pc_entry *s = &b[w];

		if (!same(c, s, h, q + 2, qlen - 2))
			continue;
		if (s->alen > cap)
			goto miss;
		memcpy(out, s->blob + s->klen, s->alen);
		out[0] = q[0];
		out[1] = q[1];
		s->used = ++c->tick;
		s->ref = 1;
		c->hits++;
		return s->alen;
	}
miss:
	c->misses++;
	return 0;
}

void pcache_put(struct pcache *c, const uint8_t *q, size_t qlen, const uint8_t *a, size_t alen)
{
	struct pc_entry *b, *s = NULL;
	size_t klen = qlen - 2, cost = blob_cost(qlen - 2, alen);
	uint64_t h;

	if (qlen < 12 || qlen > PCACHE_QUERY_MAX || alen < 12 || alen > PCACHE_ANSWER_MAX ||
	    c->base + cost > c->budget)
		return;
	b = bucket(c, q + 2, klen, &h);
	/* The same query again, else a free or stale slot, else the bucket's least recently
	 * used answer. */
	for (int w = 0; w < PC_WAYS && s == NULL; w++)
		if (same(c, &b[w], h, q + 2, klen))
			s = &b[w];
	for (int w = 0; w < PC_WAYS && s == NULL; w++)
		if (b[w].blob == NULL || b[w].epoch != c->epoch)
			s = &b[w];
	if (s == NULL) {
		s = &b[0];
		for (int w = 1; w < PC_WAYS; w++)
			if (c->tick - b[w].used > c->tick - s->used)
				s = &b[w];
	}
	slot_drop(c, s);
	/* Over the budget (answers bigger than those they replace): the clock hand frees
	 * others until this one fits, passing once over those asked for since its last turn
	 * (CLOCK); the index alone always fits, so two turns at most. */
	while (c->bytes + cost > c->budget) {
		struct pc_entry *v = &c->e[c->hand];

		c->hand = (c->hand + 1) % c->nslots;
		if (v->blob && v->ref && v->epoch == c->epoch)
			v->ref = 0;
		else
			slot_drop(c, v);
	}
	s->blob = malloc(klen + alen);
	if (s->blob == NULL)
		return;
	memcpy(s->blob, q + 2, klen);
	memcpy(s->blob + klen, a, alen);
	s->h = h;
	s->epoch = c->epoch;
	s->used = ++c->tick;
	s->ref = 0;
	s->klen = (uint16_t)klen;
	s->alen = (uint16_t)alen;
	c->bytes += cost;
	c->entries++;
}

void pcache_stats(const struct pcache *c, struct pcache_stats *s)
{
	s->hits = c->hits;
	s->misses = c->misses;
	s->entries = c->entries;
	s->bytes = c->bytes;
}
