/* The index of decided proposals no longer in memory (accepted ones with their log index), so
 * that a new proposal is told apart from a decided one without a store lookup. */
#include <stdlib.h>
#include <string.h>

#include "core/ledger.h"
#include "node/node_impl.h"

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* A lower-case hex id to binary; -1 when it is not one. */
int node_id_bin(const char *hex, unsigned char out[32])
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
int64_t node_finals_get(const struct node_finals *f, const char *hex)
{
	unsigned char id[32];

	if (f->cap == 0 || node_id_bin(hex, id) < 0)
		return FINAL_FREE;
	for (size_t i = finals_slot(f, id);; i = (i + 1) & (f->cap - 1)) {
		if (f->v[i].v == FINAL_FREE)
			return FINAL_FREE;
		if (memcmp(f->v[i].id, id, 32) == 0)
			return f->v[i].v;
	}
}

int node_finals_put(struct node_finals *f, const char *hex, int64_t v)
{
	unsigned char id[32];
	size_t i;

	if (node_id_bin(hex, id) < 0)
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

int64_t node_final_value(int status, int64_t idx)
{
	return status == PS_ACCEPTED && idx >= 0 ? idx + FINAL_ACCEPTED0 : FINAL_REJECTED;
}

/* Indexes the proposal the ledger l logged last, at idx (nothing after a genesis or chunk). */
int node_finals_logged(struct node_finals *f, const struct ledger *l, uint64_t idx)
{
	const char *id = ledger_last_id(l);

	return id[0] ? node_finals_put(f, id, node_final_value(PS_ACCEPTED, (int64_t)idx)) : 0;
}

void node_index_logged(struct node *n, uint64_t idx)
{
	if (node_finals_logged(&n->finals, n->ledger, idx) < 0)
		node_fatal("out of memory");
}
