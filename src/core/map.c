#include "core/map.h"
#include "core/err.h"

#include <stdlib.h>
#include <string.h>

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	while (*s) {
		h ^= (unsigned char)*s++;
		h *= 1099511628211ULL;
	}
	return h ^ (h >> 29);
}

static size_t find(const struct map *m, const char *key, uint64_t h)
{
	size_t mask = m->cap - 1, i = (size_t)h & mask;

	while (m->slot[i].key && (m->slot[i].hash != h || strcmp(m->slot[i].key, key) != 0))
		i = (i + 1) & mask;
	return i;
}

void *map_get(const struct map *m, const char *key)
{
	size_t i;

	if (m->cap == 0)
		return NULL;
	i = find(m, key, hash_str(key));
	return m->slot[i].key ? m->slot[i].val : NULL;
}

static int grow(struct map *m)
{
	size_t cap = m->cap ? m->cap * 2 : 64;
	struct map_slot *old = m->slot, *s = calloc(cap, sizeof(*s));
	size_t oldcap = m->cap;

	if (s == NULL)
		return CC_ENOMEM;
	m->slot = s;
	m->cap = cap;
	for (size_t i = 0; i < oldcap; i++)
		if (old[i].key)
			m->slot[find(m, old[i].key, old[i].hash)] = old[i];
	free(old);
	return 0;
}

int map_put(struct map *m, const char *key, void *val)
{
	uint64_t h = hash_str(key);
	size_t i;

	/* Kept at most half full so probe sequences stay short. */
	if ((m->n + 1) * 2 > m->cap && grow(m) < 0)
		return CC_ENOMEM;
	i = find(m, key, h);
	if (m->slot[i].key == NULL)
		m->n++;
	m->slot[i].key = key;
	m->slot[i].val = val;
	m->slot[i].hash = h;
	return 0;
}

void *map_del(struct map *m, const char *key)
{
	size_t mask, i, j, k;
	void *val;

	if (m->cap == 0)
		return NULL;
	mask = m->cap - 1;
	i = find(m, key, hash_str(key));
	if (m->slot[i].key == NULL)
		return NULL;
	val = m->slot[i].val;
	/* Backward shift: move later members of the probe run into the hole so lookups never
	 * need tombstones. */
	j = i;
	for (;;) {
		j = (j + 1) & mask;
		if (m->slot[j].key == NULL)
			break;
		k = (size_t)m->slot[j].hash & mask;
		if ((j > i && (k <= i || k > j)) || (j < i && (k <= i && k > j))) {
			m->slot[i] = m->slot[j];
			i = j;
		}
	}
	m->slot[i].key = NULL;
	m->slot[i].val = NULL;
	m->n--;
	return val;
}

void map_free(struct map *m)
{
	free(m->slot);
	memset(m, 0, sizeof(*m));
}
