#include "dns/pcache.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/err.h"

#define PC_WAYS	    4	      /* entries a bucket: a hot answer survives three newer ones */
#define PC_PER_SLOT 512	      /* budget bytes an index slot: a root answer averages less */
#define PC_MIN	    (1 << 16) /* smallest budget */

/* Answers live in one ring of bytes allocated at creation, written in turn: nothing is
 * allocated or freed while answering. An entry is intact as long as the ring has not come
 * round to its bytes again; an answer asked for once the ring is half-way round to it is
 * copied ahead, so answers in use stay while those asked once fall off the end. */
struct pc_entry {
	uint64_t h;
	uint64_t off;	/* logical offset in the ring: the query from its flags on, the answer */
	uint32_t epoch; /* the cache's epoch when stored: older ones are stale */
	uint32_t used;	/* tick of the last use, for the bucket's LRU */
	uint16_t klen;
	uint16_t alen;
	uint8_t live; /* 0: a free slot */
};

struct pcache {
	struct pc_entry *e; /* nslots = (mask + 1) * PC_WAYS */
	size_t mask, nslots;
	uint8_t *ring;
	uint64_t ringsz, head; /* head: logical offset of the next byte written */
	size_t budget;
	uint32_t epoch, tick;
	uint64_t hits, misses;
	uint8_t seed[crypto_shorthash_KEYBYTES];
};

_Static_assert(PCACHE_SEED_BYTES == crypto_shorthash_KEYBYTES, "SipHash takes a 16-byte key");

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
	c->ringsz = bytes - c->nslots * sizeof(*c->e) - sizeof(*c);
	/* Pages of the index and the ring are touched only as they fill. */
	c->e = calloc(c->nslots, sizeof(*c->e));
	c->ring = malloc(c->ringsz);
	if (c->e == NULL || c->ring == NULL) {
		ret = CC_ENOMEM;
		goto out;
	}
	c->budget = bytes;
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
	free(c->e);
	free(c->ring);
	sodium_memzero(c->seed, sizeof(c->seed));
	free(c);
}

void pcache_clear(struct pcache *c)
{
	/* After 2^32 zones an entry of the same epoch number could come back: free every
	 * slot then, once in a node's lifetime at most. */
	if (++c->epoch == 0)
		memset(c->e, 0, c->nslots * sizeof(*c->e));
}

static int intact(const struct pcache *c, const struct pc_entry *s)
{
	return s->live && s->epoch == c->epoch && s->off + c->ringsz >= c->head;
}

/* Room for len contiguous bytes at the head (len <= ringsz): the bytes it returns may
 * still be read until they are written. */
static uint8_t *ring_take(struct pcache *c, size_t len, uint64_t *off)
{
	uint64_t p = c->head % c->ringsz;

	if (p + len > c->ringsz)
		c->head += c->ringsz - p; /* what would not fit before the end goes at the start */
	*off = c->head;
	c->head += len;
	return c->ring + *off % c->ringsz;
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
	return s->h == h && s->klen == klen && intact(c, s) &&
	       memcmp(c->ring + s->off % c->ringsz, k, klen) == 0;
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
		size_t len = (size_t)s->klen + s->alen;

		if (!same(c, s, h, q + 2, qlen - 2))
			continue;
		if (s->alen > cap)
			goto miss;
		if (c->head - s->off > c->ringsz / 2) {
			/* Half-way to being overwritten and still asked for: ahead again. */
			const uint8_t *from = c->ring + s->off % c->ringsz;
			uint8_t *to = ring_take(c, len, &s->off);

			memmove(to, from, len);
		}
		memcpy(out, c->ring + s->off % c->ringsz + s->klen, s->alen);
		out[0] = q[0];
		out[1] = q[1];
		s->used = ++c->tick;
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
	size_t klen = qlen - 2;
	uint8_t *to;
	uint64_t h;

	if (qlen < 12 || qlen > PCACHE_QUERY_MAX || alen < 12 || alen > PCACHE_ANSWER_MAX ||
	    klen + alen > c->ringsz)
		return;
	b = bucket(c, q + 2, klen, &h);
	/* The same query again, else a free or stale slot, else the bucket's least recently
	 * used answer. */
	for (int w = 0; w < PC_WAYS && s == NULL; w++)
		if (same(c, &b[w], h, q + 2, klen))
			s = &b[w];
	for (int w = 0; w < PC_WAYS && s == NULL; w++)
		if (!intact(c, &b[w]))
			s = &b[w];
	if (s == NULL) {
		s = &b[0];
		for (int w = 1; w < PC_WAYS; w++)
			if (c->tick - b[w].used > c->tick - s->used)
				s = &b[w];
	}
	to = ring_take(c, klen + alen, &s->off);
	memcpy(to, q + 2, klen);
	memcpy(to + klen, a, alen);
	s->h = h;
	s->epoch = c->epoch;
	s->used = ++c->tick;
	s->klen = (uint16_t)klen;
	s->alen = (uint16_t)alen;
	s->live = 1;
}

void pcache_stats(const struct pcache *c, struct pcache_stats *s)
{
	s->hits = c->hits;
	s->misses = c->misses;
	s->entries = 0;
	for (size_t i = 0; i < c->nslots; i++)
		s->entries += intact(c, &c->e[i]);
	s->bytes =
	    c->nslots * sizeof(*c->e) + sizeof(*c) + (c->head < c->ringsz ? c->head : c->ringsz);
}
