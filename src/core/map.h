/* A string-keyed hash map (open addressing, linear probing, backward-shift deletion).
 * Keys are not copied: each key must live as long as its entry, typically inside the value. */
#ifndef CONCORD_MAP_H
#define CONCORD_MAP_H

#include <stddef.h>
#include <stdint.h>

struct map_slot {
	const char *key; /* NULL when the slot is free */
	void *val;	 /* the value */
	uint64_t hash;	 /* hash of key, to skip most comparisons */
};

struct map {
	struct map_slot *slot; /* cap slots */
	size_t cap;	       /* power of two, or 0 */
	size_t n;	       /* used slots */
};

void *map_get(const struct map *m, const char *key);
/* Inserts or replaces; returns 0 or CC_ENOMEM. */
int map_put(struct map *m, const char *key, void *val);
/* Removes key; returns its value or NULL. */
void *map_del(struct map *m, const char *key);
void map_free(struct map *m);

#endif
