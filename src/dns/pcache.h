/* A UDP worker's cache of whole answers. ans_answer's answer is a function of the zone and
 * of the query's bytes alone, the id aside (it copies the question, the flags, the EDNS
 * size and DO bit from them), so a query seen before, byte for byte from its flags on, is
 * answered by copying the answer stored then and writing the new id in it: no lookup, no
 * name compression. Resolvers ask the same few questions of a root server over and over
 * (the TLDs' referrals, DNSKEY, priming); anything else is answered as before and stored.
 *
 * Pure: no sockets, no clock, no lock (one cache a worker). The caller clears it when the
 * zone it answers from changes, stores only answers that depend on nothing else (not a
 * TSIG-signed one: those depend on the time), and chooses the hash's secret seed, so that
 * nobody can aim queries at one bucket. Bounded by the bytes given at creation, all of
 * them allocated then: nothing is allocated while answering. The answers are written in
 * turn round a ring, so the oldest go first, but one still asked for is copied ahead before
 * its turn comes; in a full bucket a new answer replaces the least recently used. */
#ifndef CONCORD_DNS_PCACHE_H
#define CONCORD_DNS_PCACHE_H

#include <stddef.h>
#include <stdint.h>

#define PCACHE_QUERY_MAX  512	/* longer queries are not stored (nor looked up) */
#define PCACHE_ANSWER_MAX 65535 /* longer answers are not stored */
#define PCACHE_SEED_BYTES 16

struct pcache;

/* A cache of about bytes bytes (entries and their index), at least 64 KB; *out NULL and
 * CC_ENOMEM on failure, CC_EINVAL for less than 64 KB. */
int pcache_new(size_t bytes, const uint8_t seed[PCACHE_SEED_BYTES], struct pcache **out);
void pcache_free(struct pcache *c);

/* Forgets every answer (the zone changed); O(1): stale entries are replaced as new ones
 * come. */
void pcache_clear(struct pcache *c);

/* The stored answer to q[0..qlen) with q's id, written to out (cap bytes): its length, or 0
 * when none is stored (or it does not fit in cap). */
size_t pcache_get(struct pcache *c, const uint8_t *q, size_t qlen, uint8_t *out, size_t cap);

/* Stores a[0..alen), the answer to q[0..qlen); a query or answer too long or too short for a
 * DNS header is ignored, as is one that would not fit in the cache at all. */
void pcache_put(struct pcache *c, const uint8_t *q, size_t qlen, const uint8_t *a, size_t alen);

struct pcache_stats {
	uint64_t hits, misses; /* pcache_get's answers since creation */
	size_t entries, bytes; /* answers kept for the current zone; bytes written so far */
};
void pcache_stats(const struct pcache *c, struct pcache_stats *s);

#endif
