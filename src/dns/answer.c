#include "dns/answer.h"

#include <stdlib.h>
#include <string.h>

#include "dns/wire.h"

#define ANS_HDR	      12
#define ANS_OPT_LEN   11  /* root name, type, class, ttl, rdlength 0 */
#define ANS_CT_MAX    256 /* names a message's compression table remembers */
#define ANS_CT_BITS   9	  /* its slots: twice as many, so never full */
#define ANS_CT_SLOTS  (1u << ANS_CT_BITS)
#define ANS_LABELS    128 /* labels of a 255-octet name, the root's included */
#define ANS_TYPE_ANY  255
#define ANS_TYPE_AXFR 252
#define ANS_TYPE_IXFR 251
/* A name's canonical key (name_key), a "*" label added. */
#define ANS_KEY_MAX (2 * DNS_NAME_MAX + 2)
/* Ids of the zone's suffixes stay below; the question's own are above. */
#define ANS_ID_MAX (UINT32_MAX - ANS_LABELS)

/* The index does once per zone version what answering would otherwise search for on every
 * query:
 * - Every suffix of every name an answer can write (owners, names in NS and SOA rdata) gets
 *   a number, one for names equal but for case. A name is its suffixes' ids and offsets
 *   (az->id, az->off: 0-terminated, the offset after the last one the root label's), so
 *   compression compares numbers, not bytes; the question's suffixes, looked up once, give
 *   the query's node and its TLD's.
 * - Every NS set's targets' addresses are found (az->glue): a referral searches nothing.
 * - Where canonical order matters (NSEC proofs for names the zone does not have), a binary
 *   search compares keys with memcmp (name_key) instead of labels right to left. */

struct ans_node {
	const uint8_t *name;  /* owner, in the zone's records */
	uint32_t first, n;    /* its records z->rr[first .. first + n) */
	uint32_t sets, nsets; /* its runs of records of one type, az->sets[sets .. sets + nsets) */
	uint32_t sig, nsig;   /* its RRSIGs, z->rr[sig .. sig + nsig) */
	uint32_t glue, nglue; /* its NS targets' addresses, az->glue[glue .. glue + nglue) */
	uint32_t key;	      /* its canonical key, az->keys[key .. key + klen) */
	uint32_t ids;	      /* its suffixes' ids, az->id[ids ..] */
	uint16_t klen;
	uint8_t deleg; /* a delegation point (NS below the apex) */
	uint8_t nsec;  /* has an NSEC record: authoritative */
};

struct ans_set { /* records of one type in a row */
	uint32_t first, n;
	uint16_t type;
};

/* The addresses of one type of one NS target, found once per zone version so that a
 * referral searches nothing. */
struct ans_glue {
	uint32_t node;	   /* the target's node */
	uint32_t first, n; /* its A or AAAA records, z->rr[first .. first + n) */
	uint16_t type;
	uint8_t in_domain; /* below the name of the NS set: RFC 9471 truncation */
};

struct ans_slot {	     /* the suffix index: open addressing, linear probing */
	const uint8_t *name; /* the suffix, in the zone's records */
	uint32_t hash;	     /* name_hashes of it */
	uint32_t id;	     /* its id; 0 for an empty slot */
};

struct ans_zone {
	const struct zone *z;
	struct ans_node *nodes; /* canonical order, the apex first */
	size_t n;
	struct ans_set *sets;
	size_t nsets;
	struct ans_slot *slots; /* mask + 1 of them, more than twice the ids: never full */
	size_t mask;
	uint32_t *node_of; /* by id (from 1): index + 1 of the node of that name, 0 for none */
	size_t nids;
	uint32_t *id; /* names as ids, 0-terminated ... */
	uint8_t *off; /* ... and their labels' offsets */
	size_t nid, idcap;
	uint32_t *rdata; /* by record: the names of an NS or SOA rdata, az->id[rdata[i] ..] */
	struct ans_glue *glue;
	size_t nglue;
	uint8_t *keys;			/* every node's canonical key, back to back */
	struct zone_delta *const *hist; /* versions that led to z, oldest first (not owned) */
	size_t nhist;
};

static uint8_t lower(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? (uint8_t)(c + 32) : c;
}

static int same_name(const uint8_t *a, const uint8_t *b, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (lower(a[i]) != lower(b[i]))
			return 0;
	return 1;
}

/* A name's suffixes hashed label by label from the right (FNV-1a over each label, length
 * octet included, case folded), so that one pass hashes them all. Fills off[i] (where label
 * i starts) and h[i] (the hash of the suffix there) for the labels left of the root, and
 * off[n] (the root label); returns n, the name's wire length in *len. */
static unsigned name_hashes(const uint8_t *name, uint8_t off[ANS_LABELS], uint32_t h[ANS_LABELS],
			    size_t *len)
{
	unsigned n = 0;
	size_t i = 0;
	uint32_t x = 2166136261u;

	while (name[i] != 0) {
		off[n++] = (uint8_t)i;
		i += 1u + name[i];
	}
	off[n] = (uint8_t)i;
	*len = i + 1;
	for (unsigned k = n; k > 0; k--) {
		const uint8_t *l = name + off[k - 1];

		for (size_t j = 0; j <= l[0]; j++)
			x = (x ^ lower(l[j])) * 16777619u;
		h[k - 1] = x;
	}
	return n;
}

/* FNV's low bits are weak: mixed (murmur3's finaliser) before they pick a slot. */
static uint32_t hash_mix(uint32_t h)
{
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	h ^= h >> 16;
	return h;
}

/* A name's key for canonical order (RFC 4034 §6.1) by memcmp: labels right to left, each
 * lower-cased and ended by a 0, the octets 0 and 1 escaped as 1 1 and 1 2 so that no octet
 * inside a label is 0 and the order of octets is kept. A label then sorts before every
 * longer one it begins, a name before the names below it, and the first octet where two
 * keys differ decides as dns_name_cmp does. bound[j] is the key's length after the j
 * rightmost labels: the key of every ancestor is a prefix. Returns the labels. */
static unsigned name_key(const uint8_t *name, uint8_t key[ANS_KEY_MAX], uint16_t bound[ANS_LABELS])
{
	uint8_t off[ANS_LABELS];
	unsigned n = 0;
	size_t i = 0, k = 0;

	while (name[i] != 0) {
		off[n++] = (uint8_t)i;
		i += 1u + name[i];
	}
	bound[0] = 0;
	for (unsigned j = n; j > 0; j--) {
		const uint8_t *l = name + off[j - 1];

		for (size_t t = 1; t <= l[0]; t++) {
			uint8_t c = lower(l[t]);

			if (c < 2) {
				key[k++] = 1;
				key[k++] = (uint8_t)(c + 1);
			} else {
				key[k++] = c;
			}
		}
		key[k++] = 0;
		bound[n - j + 1] = (uint16_t)k;
	}
	return n;
}

void ans_zone_history(struct ans_zone *az, struct zone_delta *const *d, size_t n)
{
	/* Only a chain that ends at this zone can answer an IXFR. */
	while (n > 0 && d[n - 1]->to != az->z->serial)
		n--;
	for (size_t i = n; i > 1; i--)
		if (d[i - 2]->to != d[i - 1]->from) {
			d += i - 1;
			n -= i - 1;
			break;
		}
	az->hist = d;
	az->nhist = n;
}

/* The records of type at a node: [*first, *first + return). As a scan of its records
 * would: the first run of a type not below type, when it is of type (canonical order has
 * one run of each type). */
static size_t node_set(const struct ans_zone *az, const struct ans_node *nd, uint16_t type,
		       size_t *first)
{
	const struct ans_set *s = az->sets + nd->sets, *end = s + nd->nsets;

	while (s < end && s->type < type)
		s++;
	*first = s < end ? s->first : (size_t)nd->first + nd->n;
	return s < end && s->type == type ? s->n : 0;
}

/* The id of the suffix s (len octets, hash h), matched as dns_name_cmp does; 0 when no name
 * of the zone has it. *slot: where it would go. */
static uint32_t suffix_find(const struct ans_zone *az, const uint8_t *s, size_t len, uint32_t h,
			    size_t *slot)
{
	size_t i = hash_mix(h) & az->mask;

	/* No lengths compared: two names whose octets agree up to the root label of one end
	 * there both, and same_name stops at the first octet that differs, inside both. */
	for (; az->slots[i].id != 0; i = (i + 1) & az->mask)
		if (az->slots[i].hash == h && same_name(az->slots[i].name, s, len))
			break;
	*slot = i;
	return az->slots[i].id;
}

/* Room for one more of n elements of size bytes in *v, of *cap. */
static int grow(void **v, size_t n, size_t *cap, size_t size)
{
	void *p;

	if (n < *cap)
		return 0;
	p = realloc(*v, (*cap ? 2 * *cap : 4096) * size);
	if (p == NULL)
		return CC_ENOMEM;
	*v = p;
	*cap = *cap ? 2 * *cap : 4096;
	return 0;
}

/* Gives back what *v (n elements of size bytes) does not use; kept as is when that fails. */
static void shrink(void **v, size_t n, size_t size)
{
	void *p = realloc(*v, (n ? n : 1) * size);

	if (p != NULL)
		*v = p;
}

/* The nodes, cut from the records in canonical order, and their runs of one type. */
static int index_nodes(struct ans_zone *az)
{
	const struct zone *z = az->z;
	size_t cap = 0, setcap = 0;
	void *v;

	for (size_t i = 0; i < z->n;) {
		struct ans_node *nd;
		size_t j = i, first;

		v = az->nodes;
		if (grow(&v, az->n, &cap, sizeof(*az->nodes)) < 0)
			return CC_ENOMEM;
		az->nodes = v;
		nd = &az->nodes[az->n++];
		memset(nd, 0, sizeof(*nd));
		nd->name = z->rr[i].owner;
		nd->first = (uint32_t)i;
		nd->sets = (uint32_t)az->nsets;
		for (; j < z->n && dns_name_cmp(z->rr[j].owner, nd->name) == 0; j++) {
			nd->nsec |= z->rr[j].type == DNS_NSEC;
			nd->deleg |= z->rr[j].type == DNS_NS && dns_name_labels(nd->name) > 0;
			if (j > i && z->rr[j].type == z->rr[j - 1].type) {
				az->sets[az->nsets - 1].n++;
				continue;
			}
			v = az->sets;
			if (grow(&v, az->nsets, &setcap, sizeof(*az->sets)) < 0)
				return CC_ENOMEM;
			az->sets = v;
			az->sets[az->nsets].first = (uint32_t)j;
			az->sets[az->nsets].n = 1;
			az->sets[az->nsets++].type = z->rr[j].type;
		}
		nd->n = (uint32_t)(j - i);
		nd->nsets = (uint32_t)(az->nsets - nd->sets);
		nd->nsig = (uint32_t)node_set(az, nd, DNS_RRSIG, &first);
		nd->sig = (uint32_t)first;
		i = j;
	}
	if (az->n == 0 || dns_name_labels(az->nodes[0].name) != 0)
		return CC_EINVAL;
	return 0;
}

/* Doubles the suffix index (the ids stay). */
static int suffix_grow(struct ans_zone *az)
{
	size_t cap = 2 * (az->mask + 1);
	struct ans_slot *v = calloc(cap, sizeof(*v));
	uint32_t *node = realloc(az->node_of, cap / 2 * sizeof(*node));

	if (node != NULL)
		az->node_of = node;
	if (v == NULL || node == NULL) {
		free(v);
		return CC_ENOMEM;
	}
	for (size_t k = 0; k <= az->mask; k++) {
		size_t s;

		if (az->slots[k].id == 0)
			continue;
		s = hash_mix(az->slots[k].hash) & (cap - 1);
		while (v[s].id != 0)
			s = (s + 1) & (cap - 1);
		v[s] = az->slots[k];
	}
	free(az->slots);
	az->slots = v;
	az->mask = cap - 1;
	return 0;
}

/* Interns a name (valid, in the zone's records): an id for each suffix not seen yet, and
 * the name as ids appended to az->id; *at: where it starts there. */
static int intern(struct ans_zone *az, const uint8_t *name, uint32_t *at)
{
	uint8_t off[ANS_LABELS];
	uint32_t h[ANS_LABELS];
	size_t len;
	unsigned n = name_hashes(name, off, h, &len);
	size_t cap = az->idcap;
	void *v = az->id;

	if (grow(&v, az->nid + n, &cap, sizeof(*az->id)) < 0)
		return CC_ENOMEM;
	az->id = v;
	if (cap != az->idcap) {
		v = realloc(az->off, cap);
		if (v == NULL)
			return CC_ENOMEM;
		az->off = v;
		az->idcap = cap;
	}
	*at = (uint32_t)az->nid;
	for (unsigned i = 0; i < n; i++) {
		size_t slot;
		uint32_t id = suffix_find(az, name + off[i], len - off[i], h[i], &slot);

		if (id == 0) {
			/* More than half the slots stay empty, and node_of has room for the id. */
			if (2 * (az->nids + 1) >= az->mask) {
				if (az->nids + 1 >= ANS_ID_MAX || suffix_grow(az) < 0)
					return CC_ENOMEM;
				suffix_find(az, name + off[i], len - off[i], h[i], &slot);
			}
			id = (uint32_t)++az->nids;
			az->slots[slot].name = name + off[i];
			az->slots[slot].hash = h[i];
			az->slots[slot].id = id;
			az->node_of[id] = 0;
		}
		az->id[az->nid] = id;
		az->off[az->nid++] = off[i];
	}
	az->id[az->nid] = 0;
	az->off[az->nid++] = off[n];
	return 0;
}

/* Ids for every node's name and every name in NS and SOA rdata; every node's canonical
 * key. */
static int index_names(struct ans_zone *az)
{
	const struct zone *z = az->z;
	size_t keys = 0, pos = 0;
	void *v;
	int ret;

	az->mask = 4095;
	az->slots = calloc(az->mask + 1, sizeof(*az->slots));
	az->node_of = malloc((az->mask + 1) / 2 * sizeof(*az->node_of));
	az->rdata = malloc((z->n ? z->n : 1) * sizeof(*az->rdata));
	for (size_t i = 0; i < az->n; i++)
		keys += 2 * dns_name_len(az->nodes[i].name);
	az->keys = malloc(keys);
	if (az->slots == NULL || az->node_of == NULL || az->rdata == NULL || az->keys == NULL)
		return CC_ENOMEM;
	for (size_t i = 0; i < az->n; i++) {
		struct ans_node *nd = &az->nodes[i];
		uint8_t key[ANS_KEY_MAX];
		uint16_t bound[ANS_LABELS];
		unsigned labels = name_key(nd->name, key, bound);

		nd->key = (uint32_t)pos;
		nd->klen = bound[labels];
		memcpy(az->keys + pos, key, nd->klen);
		pos += nd->klen;
		if ((ret = intern(az, nd->name, &nd->ids)) < 0)
			return ret;
		/* Node names are distinct (the records are in canonical order); were they not,
		 * the first would be the one found. */
		if (labels > 0 && az->node_of[az->id[nd->ids]] == 0)
			az->node_of[az->id[nd->ids]] = (uint32_t)i + 1;
	}
	v = az->keys;
	shrink(&v, pos, 1);
	az->keys = v;
	for (size_t i = 0; i < z->n; i++) {
		const struct zone_rr *r = &z->rr[i];
		int a, b = 0;
		uint32_t at;

		az->rdata[i] = 0;
		if (r->type != DNS_NS && r->type != DNS_SOA)
			continue;
		/* What put_rr writes of them must be whole names. */
		a = dns_name_check(r->rdata, r->rdlen);
		if (a > 0 && r->type == DNS_SOA)
			b = dns_name_check(r->rdata + a, r->rdlen - (size_t)a);
		if (a < 0 || b < 0)
			return CC_EINVAL;
		if ((ret = intern(az, r->rdata, &az->rdata[i])) < 0 ||
		    (b > 0 && (ret = intern(az, r->rdata + a, &at)) < 0))
			return ret;
	}
	return 0;
}

/* The addresses of every NS set's targets, in the order a referral or priming answer
 * gives them: every IPv4 address first, then IPv6. */
static int index_glue(struct ans_zone *az)
{
	static const uint16_t order[2] = {DNS_A, DNS_AAAA};
	const struct zone_rr *rr = az->z->rr;
	size_t cap = 0;

	for (size_t i = 0; i < az->n; i++) {
		struct ans_node *nd = &az->nodes[i];
		size_t first, n = node_set(az, nd, DNS_NS, &first);

		nd->glue = (uint32_t)az->nglue;
		for (int k = 0; k < 2; k++)
			for (size_t j = 0; j < n; j++) {
				const uint8_t *target = rr[first + j].rdata;
				uint32_t id = az->id[az->rdata[first + j]];
				uint32_t t = id ? az->node_of[id] : 1; /* the root is the apex */
				struct ans_glue *g;
				size_t afirst, an;
				void *v = az->glue;

				if (t == 0 ||
				    (an = node_set(az, &az->nodes[t - 1], order[k], &afirst)) == 0)
					continue;
				if (grow(&v, az->nglue, &cap, sizeof(*az->glue)) < 0)
					return CC_ENOMEM;
				az->glue = v;
				g = &az->glue[az->nglue++];
				g->node = t - 1;
				g->first = (uint32_t)afirst;
				g->n = (uint32_t)an;
				g->type = order[k];
				g->in_domain = (uint8_t)dns_name_is_below(target, nd->name);
			}
		nd->nglue = (uint32_t)(az->nglue - nd->glue);
	}
	return 0;
}

int ans_zone_new(const struct zone *z, struct ans_zone **out)
{
	struct ans_zone *az = calloc(1, sizeof(*az));
	void *v;
	int ret;

	*out = NULL;
	if (az == NULL)
		return CC_ENOMEM;
	az->z = z;
	if ((ret = index_nodes(az)) < 0 || (ret = index_names(az)) < 0 ||
	    (ret = index_glue(az)) < 0) {
		ans_zone_free(az);
		return ret;
	}
	/* The arrays grew by doubling: one index a zone version, for as long as it is served. */
	v = az->nodes;
	shrink(&v, az->n, sizeof(*az->nodes));
	az->nodes = v;
	v = az->sets;
	shrink(&v, az->nsets, sizeof(*az->sets));
	az->sets = v;
	v = az->glue;
	shrink(&v, az->nglue, sizeof(*az->glue));
	az->glue = v;
	v = az->id;
	shrink(&v, az->nid, sizeof(*az->id));
	az->id = v;
	v = az->off;
	shrink(&v, az->nid, sizeof(*az->off));
	az->off = v;
	*out = az;
	return 0;
}

void ans_zone_free(struct ans_zone *az)
{
	if (az == NULL)
		return;
	free(az->nodes);
	free(az->slots);
	free(az->node_of);
	free(az->sets);
	free(az->id);
	free(az->off);
	free(az->rdata);
	free(az->glue);
	free(az->keys);
	free(az);
}

/* First node at or after the name of key[0..len) in canonical order (az->n when none). */
static size_t node_lower(const struct ans_zone *az, const uint8_t *key, size_t len)
{
	size_t lo = 0, hi = az->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		const struct ans_node *nd = &az->nodes[mid];
		int r = memcmp(az->keys + nd->key, key, nd->klen < len ? nd->klen : len);

		if (r < 0 || (r == 0 && nd->klen < len))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The authoritative node whose NSEC covers a name at or after node i: the last one before. */
static const struct ans_node *node_cover(const struct ans_zone *az, size_t i)
{
	while (i > 0) {
		i--;
		if (az->nodes[i].nsec)
			return &az->nodes[i];
	}
	return &az->nodes[0];
}

/* ---- writing a message ---- */

/* A name written at off. The entries are kept in the order they were made, which is the
 * order of their offsets, so forgetting the end of a message takes the last ones off
 * (linear probing is undone exactly in that order). Answers key them by suffix id
 * (src and len unused), transfers, whose records need not be the index's, by hash and
 * bytes. */
struct ct_entry {
	const uint8_t *src; /* wire bytes of the suffix (any case) */
	uint32_t key;	    /* the suffix's id, or name_hashes of it */
	uint16_t off;	    /* where it is in the message */
	uint16_t slot;	    /* its slot in the table */
	uint8_t len;	    /* wire length of the suffix */
};

struct msg {
	uint8_t *p;
	size_t len;   /* bytes written */
	size_t limit; /* bytes the answer may take (room for the OPT record kept apart) */
	int tc;	      /* something that had to be sent did not fit */
	const struct ans_zone *az;   /* names by id from its index; NULL: by bytes */
	int sorted;		     /* the entries' offsets only grow */
	unsigned n;		     /* entries */
	uint16_t slot[ANS_CT_SLOTS]; /* entry index + 1; 0 for an empty slot */
	struct ct_entry ct[ANS_CT_MAX];
};

static void msg_init(struct msg *m, const struct ans_zone *az, uint8_t *out, size_t limit)
{
	m->p = out;
	m->len = 0;
	m->limit = limit;
	m->tc = 0;
	m->az = az;
	m->sorted = 1;
	m->n = 0;
	memset(m->slot, 0, sizeof(m->slot));
}

/* The slot a key starts probing at: ids are small consecutive numbers, a multiplication
 * spreads them; hashes are mixed. */
static unsigned ct_home(const struct msg *m, uint32_t key)
{
	return m->az ? (key * 2654435761u) >> (32 - ANS_CT_BITS)
		     : hash_mix(key) & (ANS_CT_SLOTS - 1);
}

/* Remembers the suffix s at off, in the slot its probe ended at; a full table takes no
 * more. */
static inline void ct_add(struct msg *m, unsigned slot, const uint8_t *s, size_t len, uint32_t key,
			  size_t off)
{
	struct ct_entry *c;

	if (m->n == ANS_CT_MAX || off >= 0x3FFF)
		return;
	if (m->n > 0 && m->ct[m->n - 1].off > off)
		m->sorted = 0;
	c = &m->ct[m->n++];
	c->src = s;
	c->key = key;
	c->off = (uint16_t)off;
	c->slot = (uint16_t)slot;
	c->len = (uint8_t)len;
	m->slot[slot] = (uint16_t)m->n;
}

/* Writes the label at s, or a pointer to c when there is one; 1 when the name is whole. */
static inline int put_label(struct msg *m, const uint8_t *s, const struct ct_entry *c)
{
	if (c != NULL) {
		if (m->len + 2 > m->limit)
			return -1;
		dns_put16(m->p + m->len, (uint16_t)(0xC000 | c->off));
		m->len += 2;
		return 1;
	}
	if (m->len + 1 + s[0] > m->limit)
		return -1;
	/* Labels are short: a loop beats memcpy's start-up. */
	for (size_t i = 0; i <= s[0]; i++)
		m->p[m->len + i] = s[i];
	m->len += 1 + (size_t)s[0];
	return 0;
}

/* The entry for the suffix of id id, or NULL with *slot where it would go. */
static inline const struct ct_entry *ct_find_id(const struct msg *m, uint32_t id, unsigned *slot)
{
	unsigned k = ct_home(m, id);

	for (; m->slot[k] != 0; k = (k + 1) & (ANS_CT_SLOTS - 1))
		if (m->ct[m->slot[k] - 1].key == id)
			return &m->ct[m->slot[k] - 1];
	*slot = k;
	return NULL;
}

/* Writes a name, compressed against what the message holds (O(1) per label), in a
 * transfer: by hash and bytes. */
static int put_name_bytes(struct msg *m, const uint8_t *name)
{
	uint8_t off[ANS_LABELS];
	uint32_t h[ANS_LABELS];
	size_t len;
	unsigned n = name_hashes(name, off, h, &len);
	int r;

	for (unsigned i = 0; i < n; i++) {
		const uint8_t *s = name + off[i];
		unsigned k = ct_home(m, h[i]);
		const struct ct_entry *c = NULL;
		size_t at = m->len;

		for (; m->slot[k] != 0 && c == NULL; k = (k + 1) & (ANS_CT_SLOTS - 1)) {
			const struct ct_entry *e = &m->ct[m->slot[k] - 1];

			if (e->key == h[i] && e->len == len - off[i] &&
			    same_name(e->src, s, len - off[i]))
				c = e;
		}
		if ((r = put_label(m, s, c)) != 0)
			return r < 0 ? -1 : 0;
		ct_add(m, k, s, len - off[i], h[i], at);
	}
	if (m->len + 1 > m->limit)
		return -1;
	m->p[m->len++] = 0;
	return 0;
}

/* Writes a name as put_name_bytes, in an answer by its suffixes' ids and offsets (id
 * non-NULL), which the index made for every name an answer writes. */
static int put_name(struct msg *m, const uint8_t *name, const uint32_t *id, const uint8_t *off)
{
	int r;

	if (id == NULL)
		return put_name_bytes(m, name);
	for (; *id != 0; id++, off++) {
		unsigned slot = 0;
		const struct ct_entry *c = ct_find_id(m, *id, &slot);
		size_t at = m->len;

		if ((r = put_label(m, name + *off, c)) != 0)
			return r < 0 ? -1 : 0;
		ct_add(m, slot, NULL, 0, *id, at);
	}
	if (m->len + 1 > m->limit)
		return -1;
	m->p[m->len++] = 0;
	return 0;
}

/* Forgets what was written from len on, compression entries included. */
static void msg_cut(struct msg *m, size_t len)
{
	unsigned n = 0;

	m->len = len;
	if (m->sorted) {
		while (m->n > 0 && m->ct[m->n - 1].off >= len)
			m->slot[m->ct[--m->n].slot] = 0;
		return;
	}
	/* Entries out of order (a question that did not fit the answer): keep the ones before
	 * len, in their order, and fill the table again. */
	memset(m->slot, 0, sizeof(m->slot));
	for (unsigned k = 0; k < m->n; k++) {
		struct ct_entry *c = &m->ct[k];
		unsigned s = ct_home(m, c->key);

		if (c->off >= len)
			continue;
		while (m->slot[s] != 0)
			s = (s + 1) & (ANS_CT_SLOTS - 1);
		m->ct[n] = *c;
		m->ct[n].slot = (uint16_t)s;
		m->slot[s] = (uint16_t)++n;
	}
	m->n = n;
	m->sorted = 1;
	for (unsigned k = 1; k < n; k++)
		m->sorted &= m->ct[k - 1].off <= m->ct[k].off;
}

/* One record, its owner written from id and off (as put_name); on overflow nothing of it
 * stays. */
static int put_rr(struct msg *m, const uint8_t *owner, const uint32_t *id, const uint8_t *off,
		  const struct zone_rr *r)
{
	size_t start = m->len, rdpos, skip = 0;
	int ret = put_name(m, owner, id, off);

	if (ret == 0 && m->len + 10 > m->limit)
		ret = -1;
	if (ret == 0) {
		dns_put16(m->p + m->len, r->type);
		dns_put16(m->p + m->len + 2, DNS_CLASS_IN);
		dns_put32(m->p + m->len + 4, r->ttl);
		m->len += 10;
	}
	rdpos = m->len;
	if (ret == 0 && (r->type == DNS_NS || r->type == DNS_SOA)) {
		/* Names in NS and SOA rdata may be compressed (RFC 3597 §4); no other's. With
		 * ids, the record is the index's (ans_answer writes no other). */
		const uint32_t *rid = NULL;
		const uint8_t *roff = NULL;

		if (m->az) {
			rid = m->az->id + m->az->rdata[r - m->az->z->rr];
			roff = m->az->off + (rid - m->az->id);
		}
		ret = put_name(m, r->rdata, rid, roff);
		skip = dns_name_len(r->rdata);
		if (ret == 0 && r->type == DNS_SOA) {
			/* The RNAME's ids follow the MNAME's terminating 0. */
			size_t k = 0;

			while (rid != NULL && rid[k] != 0)
				k++;
			ret = put_name(m, r->rdata + skip, rid ? rid + k + 1 : NULL,
				       roff ? roff + k + 1 : NULL);
			skip += dns_name_len(r->rdata + skip);
		}
	}
	if (ret == 0 && m->len + (r->rdlen - skip) > m->limit)
		ret = -1;
	if (ret == 0) {
		memcpy(m->p + m->len, r->rdata + skip, r->rdlen - skip);
		m->len += r->rdlen - skip;
		dns_put16(m->p + rdpos - 2, (uint16_t)(m->len - rdpos));
		return 0;
	}
	msg_cut(m, start);
	return -1;
}

struct ans_ctx {
	const struct ans_zone *az;
	struct msg *m;
	const uint8_t *qname;	     /* as sent (its case is echoed), at offset 12 */
	uint8_t lname[DNS_NAME_MAX]; /* lower-case copy */
	size_t llen;		     /* its wire length */
	unsigned labels;	     /* its labels, the root's not counted */
	uint8_t loff[ANS_LABELS];    /* where each starts, then the root label */
	uint32_t lhash[ANS_LABELS];  /* name_hashes of each suffix */
	uint32_t lid[ANS_LABELS];    /* each suffix's id: the zone's, or one of its own */
	uint16_t qtype;
	int dnssec;	   /* DO bit */
	uint16_t count[3]; /* answer, authority, additional */
};

#define ANS_PUT_DATA 1 /* put_some: the records */
#define ANS_PUT_SIGS 2 /* ... their type's RRSIGs */

/* Records first .. first + n of node nd, all of one type, and (what has ANS_PUT_SIGS) that
 * type's RRSIGs, into section sec; owned by the node, or by the question name when qowner.
 * Returns the records written or -1 (nothing of them stays) when they do not fit. */
static int put_some(struct ans_ctx *c, const struct ans_node *nd, uint16_t type, size_t first,
		    size_t n, int sec, int qowner, int what)
{
	const struct ans_zone *az = c->az;
	const struct zone_rr *rr = az->z->rr;
	const uint8_t *owner = qowner ? c->qname : nd->name;
	const uint32_t *id = qowner ? c->lid : az->id + nd->ids;
	const uint8_t *off = qowner ? c->loff : az->off + nd->ids;
	size_t start = c->m->len;
	int wrote = 0;

	for (size_t i = 0; (what & ANS_PUT_DATA) && i < n; i++, wrote++)
		if (put_rr(c->m, owner, id, off, &rr[first + i]) < 0)
			goto full;
	if ((what & ANS_PUT_SIGS) && n > 0)
		for (size_t i = 0; i < nd->nsig; i++) {
			const struct zone_rr *s = &rr[nd->sig + i];

			if (s->rdlen < 2 || dns_get16(s->rdata) != type)
				continue;
			if (put_rr(c->m, owner, id, off, s) < 0)
				goto full;
			wrote++;
		}
	c->count[sec] += (uint16_t)wrote;
	return wrote;
full:
	msg_cut(c->m, start);
	return -1;
}

/* The records as put_some, with their RRSIGs when DNSSEC was asked for. */
static int put_records(struct ans_ctx *c, const struct ans_node *nd, uint16_t type, size_t first,
		       size_t n, int sec, int qowner)
{
	return put_some(c, nd, type, first, n, sec, qowner,
			ANS_PUT_DATA | (c->dnssec ? ANS_PUT_SIGS : 0));
}

/* The RRset of type at nd, as put_records. */
static int put_set(struct ans_ctx *c, const struct ans_node *nd, uint16_t type, int sec, int qowner)
{
	size_t first, n = node_set(c->az, nd, type, &first);

	return put_records(c, nd, type, first, n, sec, qowner);
}

/* Additional section for an NS RRset at nd: its targets' addresses the zone holds, every
 * IPv4 address first, then IPv6 (the ones most resolvers can use come first when not all
 * fit), each with its RRSIGs. When they do not all fit and some are signed (in-zone root
 * server names), the addresses go first, then as many of their RRSIGs as fit: RFC 4035
 * §3.1.1 lets the signatures of additional data go without TC, and an address is worth
 * more to a resolver than a signature it can ask for. Addresses that still do not fit are
 * left out; in a referral, in-domain glue that does not fit makes the answer truncated
 * (RFC 9471). A priming answer (referral 0) is whole with its NS RRset: what does not fit
 * of its additional data is left out, no TC (RFC 2181 §9), and the resolver asks for the
 * addresses it misses. */
static void put_ns_addrs(struct ans_ctx *c, const struct ans_node *nd, int referral)
{
	const struct ans_zone *az = c->az;
	size_t start = c->m->len, end = (size_t)nd->glue + nd->nglue;
	uint16_t count = c->count[2];
	int tc = c->m->tc, missed = 0;

	for (size_t i = nd->glue; i < end; i++) {
		const struct ans_glue *g = &az->glue[i];

		if (put_records(c, &az->nodes[g->node], g->type, g->first, g->n, 2, 0) < 0) {
			c->m->tc |= referral && g->in_domain;
			missed = 1;
		}
	}
	/* A referral's glue is never signed: nothing to gain by a second try. */
	if (!missed || !c->dnssec || referral)
		return;
	msg_cut(c->m, start);
	c->count[2] = count;
	c->m->tc = tc;
	for (size_t i = nd->glue; i < end; i++) {
		const struct ans_glue *g = &az->glue[i];

		if (put_some(c, &az->nodes[g->node], g->type, g->first, g->n, 2, 0, ANS_PUT_DATA) <
		    0)
			c->m->tc |= referral && g->in_domain;
	}
	for (size_t i = nd->glue; i < end; i++) {
		const struct ans_glue *g = &az->glue[i];

		put_some(c, &az->nodes[g->node], g->type, g->first, g->n, 2, 0, ANS_PUT_SIGS);
	}
}

/* SOA (and its RRSIG) in the authority section, for negative answers. */
static int put_soa(struct ans_ctx *c)
{
	return put_set(c, &c->az->nodes[0], DNS_SOA, 1, 0);
}

static void ans_referral(struct ans_ctx *c, const struct ans_node *cut)
{
	if (put_set(c, cut, DNS_NS, 1, 0) < 0) {
		c->m->tc = 1;
		return;
	}
	/* With DNSSEC: the DS, or the NSEC that proves there is none (RFC 4035 §3.1.4). */
	if (c->dnssec) {
		int n = put_set(c, cut, DNS_DS, 1, 0);

		if (n < 0 || (n == 0 && put_set(c, cut, DNS_NSEC, 1, 0) < 0)) {
			c->m->tc = 1;
			return;
		}
	}
	put_ns_addrs(c, cut, 1);
}

/* The query name's canonical key (name_key): its ancestors' are prefixes. */
struct ans_key {
	uint8_t key[ANS_KEY_MAX];
	uint16_t bound[ANS_LABELS];
};

/* The query name's ancestor of the given labels exists, as a node or an empty non-terminal
 * above one: the first node at or after it lies below it. */
static int ancestor_exists(const struct ans_ctx *c, const struct ans_key *k, unsigned labels)
{
	size_t i = node_lower(c->az, k->key, k->bound[labels]);

	return i < c->az->n &&
	       dns_name_is_below(c->az->nodes[i].name, c->lname + c->loff[c->labels - labels]);
}

/* NXDOMAIN or NODATA proof: SOA, then with DNSSEC the covering NSECs (RFC 4035 §3.1.3). For
 * a query name that is no node, k is its key and at where it falls among the nodes. */
static void ans_negative(struct ans_ctx *c, const struct ans_node *match, int nxdomain,
			 struct ans_key *k, size_t at)
{
	const struct ans_node *a, *b = NULL;

	if (put_soa(c) < 0) {
		c->m->tc = 1;
		return;
	}
	if (!c->dnssec)
		return;
	if (match) {
		a = match; /* NODATA at an existing node: its own NSEC */
	} else {
		/* The name (or empty non-terminal) is covered by its predecessor's NSEC; for
		 * NXDOMAIN also the wildcard at the closest encloser. The query name is not the
		 * apex (a node), so it has a parent. */
		unsigned ce = c->labels - 1;

		a = node_cover(c->az, at);
		if (nxdomain) {
			while (ce > 0 && !ancestor_exists(c, k, ce))
				ce--;
			if (c->llen - c->loff[c->labels - ce] + 2 <= DNS_NAME_MAX) {
				size_t len = k->bound[ce];

				k->key[len] = '*';
				k->key[len + 1] = 0;
				b = node_cover(c->az, node_lower(c->az, k->key, len + 2));
				if (b == a)
					b = NULL;
			}
		}
	}
	if (put_set(c, a, DNS_NSEC, 1, 0) < 0 || (b && put_set(c, b, DNS_NSEC, 1, 0) < 0))
		c->m->tc = 1;
}

static int ans_lookup(struct ans_ctx *c)
{
	const struct ans_zone *az = c->az;
	const struct ans_node *nd = &az->nodes[0], *tld = NULL;
	uint32_t id;

	if (c->labels > 0) {
		id = c->lid[c->labels - 1];
		tld = id <= az->nids && az->node_of[id] ? &az->nodes[az->node_of[id] - 1] : NULL;
		id = c->lid[0];
		nd = id <= az->nids && az->node_of[id] ? &az->nodes[az->node_of[id] - 1] : NULL;
	}
	if (tld && tld->deleg) {
		/* At or below a cut: the child's data, but for the DS the parent holds. */
		if (c->labels == 1 && c->qtype == DNS_DS) {
			int n = put_set(c, tld, DNS_DS, 0, 1);

			if (n < 0)
				c->m->tc = 1;
			else if (n == 0)
				ans_negative(c, tld, 0, NULL, 0);
			return 1;
		}
		ans_referral(c, tld);
		return 0;
	}
	if (nd == NULL) {
		/* No such node: an empty non-terminal above one, or no such name at all. */
		struct ans_key k;
		size_t at;
		int exists;

		name_key(c->lname, k.key, k.bound);
		at = node_lower(az, k.key, k.bound[c->labels]);
		exists = at < az->n && dns_name_is_below(az->nodes[at].name, c->lname);
		ans_negative(c, NULL, !exists, &k, at);
		return exists ? 1 : -1;
	}
	if (c->qtype == ANS_TYPE_ANY) {
		/* Every RRset of the name (RRSIGs come with their sets when asked for). */
		const struct zone_rr *rr = az->z->rr;
		int n = 0;

		for (size_t i = nd->first; i < (size_t)nd->first + nd->n && !c->m->tc; i++)
			if ((i == nd->first || rr[i].type != rr[i - 1].type) &&
			    rr[i].type != DNS_RRSIG) {
				int k = put_set(c, nd, rr[i].type, 0, 1);

				c->m->tc |= k < 0;
				n += k > 0 ? k : 0;
			}
		if (n == 0 && !c->m->tc)
			ans_negative(c, nd, 0, NULL, 0);
		return 1;
	}
	{
		int n = put_set(c, nd, c->qtype, 0, 1);

		if (n < 0) {
			c->m->tc = 1;
			return 1;
		}
		if (n == 0) {
			ans_negative(c, nd, 0, NULL, 0);
			return 1;
		}
		/* Priming: the root servers' addresses. */
		if (c->qtype == DNS_NS)
			put_ns_addrs(c, nd, 0);
	}
	return 1;
}

/* ---- the query ---- */

struct ans_in {
	uint16_t id, flags, qtype, qclass;
	const uint8_t *qname; /* inside the message */
	size_t qname_len;
	size_t qend; /* end of the question */
	int edns;    /* an OPT record came */
	int do_bit;
	unsigned version;
	size_t udp; /* requested payload size */
};

/* 0, or the rcode to answer with (the question is known when qend > 0). */
static int ans_parse(const uint8_t *msg, size_t len, struct ans_in *in)
{
	size_t off = ANS_HDR;
	uint16_t qd = dns_get16(msg + 4), an = dns_get16(msg + 6), ns = dns_get16(msg + 8),
		 ar = dns_get16(msg + 10);
	int n;

	memset(in, 0, sizeof(*in));
	in->id = dns_get16(msg);
	in->flags = dns_get16(msg + 2);
	if (qd != 1)
		return ANS_FORMERR;
	n = dns_name_check(msg + off, len - off);
	if (n < 0 || len - off - (size_t)n < 4)
		return ANS_FORMERR;
	in->qname = msg + off;
	in->qname_len = (size_t)n;
	off += (size_t)n;
	in->qtype = dns_get16(msg + off);
	in->qclass = dns_get16(msg + off + 2);
	off += 4;
	in->qend = off;
	if (((in->flags >> 11) & 15) != 0)
		return ANS_NOTIMP;
	if (an != 0 || ns != 0 || ar > 1)
		return ANS_FORMERR;
	if (ar == 1) {
		/* The OPT pseudo-record: root owner, type 41, payload size, flags, options. */
		uint16_t rdlen;

		if (len - off < ANS_OPT_LEN || msg[off] != 0 || dns_get16(msg + off + 1) != DNS_OPT)
			return ANS_FORMERR;
		in->edns = 1;
		in->udp = dns_get16(msg + off + 3);
		in->version = msg[off + 6];
		in->do_bit = (msg[off + 7] & 0x80) != 0;
		rdlen = dns_get16(msg + off + 9);
		if (len - off - ANS_OPT_LEN != rdlen)
			return ANS_FORMERR;
		off += ANS_OPT_LEN + rdlen;
		if (in->version != 0)
			return ANS_BADVERS;
	}
	return off == len ? 0 : ANS_FORMERR;
}

/* The serial of the SOA an IXFR query carries in its authority section (RFC 1995 §3);
 * 1 when there is one (serial may be NULL), 0 when the query has none. */
static int ixfr_serial(const uint8_t *msg, size_t len, const struct ans_in *in, uint32_t *serial)
{
	size_t off, rdend;

	if (dns_get16(msg + 6) != 0 || dns_get16(msg + 8) != 1)
		return 0;
	off = dns_name_skip(msg, len, in->qend);
	if (off == 0 || len - off < 10 || dns_get16(msg + off) != DNS_SOA)
		return 0;
	rdend = off + 10 + dns_get16(msg + off + 8);
	if (rdend > len)
		return 0;
	off = dns_name_skip(msg, rdend, off + 10);
	off = off ? dns_name_skip(msg, rdend, off) : 0;
	if (off == 0 || rdend - off != 20)
		return 0;
	if (serial)
		*serial = dns_get32(msg + off);
	return 1;
}

size_t ans_answer(const struct ans_zone *az, const struct ans_query *q, const uint8_t *msg,
		  size_t len, uint8_t *out, size_t cap)
{
	struct ans_in in;
	struct ans_ctx c;
	struct msg m;
	size_t limit;
	int rcode, aa = 0;

	if (len < ANS_HDR || cap < ANS_UDP_MIN || (msg[2] & 0x80))
		return 0; /* not a query: never answered */
	rcode = ans_parse(msg, len, &in);
	if (q->tcp)
		limit = ANS_MSG_MAX;
	else if (in.edns)
		limit = in.udp < ANS_UDP_MIN ? ANS_UDP_MIN : in.udp;
	else
		limit = ANS_UDP_MIN;
	if (!q->tcp && limit > q->udp_max)
		limit = q->udp_max;
	if (limit > cap)
		limit = cap;
	if (q->reserve < limit / 2)
		limit -= q->reserve;
	msg_init(&m, az, out, limit - (in.edns ? ANS_OPT_LEN : 0));
	memset(out, 0, ANS_HDR);
	dns_put16(out, in.id);
	m.len = ANS_HDR;
	if (in.qend > 0 && in.qend - ANS_HDR <= m.limit - ANS_HDR) {
		memcpy(out + ANS_HDR, msg + ANS_HDR, in.qend - ANS_HDR);
		m.len = in.qend;
		dns_put16(out + 4, 1);
	}
	/* An IXFR over UDP is answered with the current SOA alone: the client is up to date,
	 * or asks again over TCP (RFC 1995 §2). Its authority section (the client's SOA) is
	 * what ans_parse calls malformed. */
	if (in.qend > 0 && in.qtype == ANS_TYPE_IXFR && in.qclass == DNS_CLASS_IN &&
	    in.qname_len == 1 && ((msg[2] >> 3) & 15) == 0 && ixfr_serial(msg, len, &in, NULL)) {
		const struct ans_node *apex = &az->nodes[0];

		for (uint32_t i = 0; i < apex->n; i++)
			if (az->z->rr[apex->first + i].type == DNS_SOA &&
			    put_rr(&m, in.qname, az->id + apex->ids, az->off + apex->ids,
				   &az->z->rr[apex->first + i]) == 0)
				dns_put16(out + 6, 1);
		out[2] = (uint8_t)(0x84 | (msg[2] & 0x01));
		out[3] = 0;
		return m.len;
	}
	if (rcode == 0 && in.qclass != DNS_CLASS_IN)
		rcode = ANS_REFUSED;
	/* Transfers of the root go over TCP through ans_xfr_next (RFC 5936 §4.2); of any other
	 * zone, there is none here. */
	if (rcode == 0 && (in.qtype == ANS_TYPE_AXFR || in.qtype == ANS_TYPE_IXFR))
		rcode = ANS_REFUSED;
	if (rcode == 0) {
		int r;

		c.az = az;
		c.m = &m;
		c.qname = msg + ANS_HDR;
		memcpy(c.lname, in.qname, in.qname_len);
		dns_name_lower(c.lname);
		c.labels = name_hashes(c.lname, c.loff, c.lhash, &c.llen);
		c.qtype = in.qtype;
		c.dnssec = in.edns && in.do_bit;
		memset(c.count, 0, sizeof(c.count));
		/* The question's suffixes: the zone's ids, or ones no name of the zone has (from
		 * the right: below a suffix the zone does not know, it knows none). They
		 * compress against the question as it came. */
		for (unsigned i = c.labels, known = 1; i > 0; i--) {
			size_t slot;

			c.lid[i - 1] =
			    known ? suffix_find(az, c.lname + c.loff[i - 1], c.llen - c.loff[i - 1],
						c.lhash[i - 1], &slot)
				  : 0;
			known = c.lid[i - 1] != 0;
			if (!known)
				c.lid[i - 1] = (uint32_t)(az->nids + i);
		}
		c.lid[c.labels] = 0;
		for (unsigned i = 0; i < c.labels; i++) {
			const uint8_t *s = c.qname + c.loff[i];
			unsigned ct;

			if (ct_find_id(&m, c.lid[i], &ct) == NULL)
				ct_add(&m, ct, s, 0, c.lid[i], (size_t)(s - msg));
		}
		r = ans_lookup(&c);
		aa = r != 0;
		if (r < 0)
			rcode = ANS_NXDOMAIN;
		if (m.tc) {
			/* Too big for this transport: the question alone, TC set (RFC 2181 §9). */
			msg_cut(&m, in.qend);
			memset(c.count, 0, sizeof(c.count));
		}
		dns_put16(out + 6, c.count[0]);
		dns_put16(out + 8, c.count[1]);
		dns_put16(out + 10, c.count[2]);
	}
	/* QR, the opcode, AA, TC, RD and CD as asked, the rcode's low four bits. */
	out[2] = (uint8_t)(0x80 | (msg[2] & 0x79) | (aa ? 0x04 : 0) | (m.tc ? 0x02 : 0));
	out[3] = (uint8_t)((msg[3] & 0x10) | (rcode & 15));
	if (in.edns) {
		uint8_t *o = out + m.len;

		o[0] = 0;
		dns_put16(o + 1, DNS_OPT);
		dns_put16(o + 3,
			  (uint16_t)(q->udp_max < ANS_UDP_DEFAULT ? q->udp_max : ANS_UDP_DEFAULT));
		o[5] = (uint8_t)(rcode >> 4);
		o[6] = 0;
		o[7] = in.do_bit ? 0x80 : 0;
		o[8] = 0;
		dns_put16(o + 9, 0);
		m.len += ANS_OPT_LEN;
		dns_put16(out + 10, (uint16_t)(dns_get16(out + 10) + 1));
	}
	return m.len;
}

/* ---- zone transfers ---- */

int ans_is_xfr(const uint8_t *msg, size_t len)
{
	struct ans_in in;

	if (len < ANS_HDR || (msg[2] & 0x80))
		return 0;
	/* An IXFR carries the client's SOA in the authority section; only the question
	 * matters here, so a malformed rest is left to ans_answer. */
	if (ans_parse(msg, len, &in) != 0 && in.qend == 0)
		return 0;
	return in.qend > 0 && in.qclass == DNS_CLASS_IN && in.qname_len == 1 &&
	       (in.qtype == ANS_TYPE_AXFR || in.qtype == ANS_TYPE_IXFR) &&
	       ((msg[2] >> 3) & 15) == 0;
}

/* The SOA of a zone, and the index of its i-th other record. */
static size_t zone_soa(const struct zone *z)
{
	size_t soa = 0;

	while (soa < z->n &&
	       !(z->rr[soa].type == DNS_SOA && dns_name_labels(z->rr[soa].owner) == 0))
		soa++;
	return soa;
}

enum { XFR_FULL = ANS_XFR_WHOLE, XFR_CURRENT = ANS_XFR_CURRENT, XFR_INCREMENTAL = ANS_XFR_DELTAS };

/* What the transfer asked for by msg sends: the whole zone (AXFR, or an IXFR from a version
 * the history does not reach), the SOA alone (the client is up to date), or the history's
 * deltas from hist[*from] on. */
static int xfr_mode(const struct ans_zone *az, const uint8_t *msg, size_t len,
		    const struct ans_in *in, size_t *from)
{
	uint32_t serial, cur = az->z->serial;

	if (in->qtype != ANS_TYPE_IXFR || !ixfr_serial(msg, len, in, &serial))
		return XFR_FULL;
	/* Serial arithmetic (RFC 1982): the client's is not older than ours. */
	if (serial == cur || (int32_t)(serial - cur) > 0)
		return XFR_CURRENT;
	for (size_t k = 0; k < az->nhist; k++)
		if (az->hist[k]->from == serial) {
			*from = k;
			return XFR_INCREMENTAL;
		}
	return XFR_FULL;
}

/* The pos-th record of a transfer (NULL past its end): for the whole zone the SOA, every
 * other record, the SOA again; for deltas the current SOA, then for each version the old
 * SOA, what it removed, the new SOA, what it added (RFC 1995 §4), then the current SOA. */
static const struct zone_rr *xfr_record(const struct ans_zone *az, int mode, size_t from,
					size_t pos)
{
	const struct zone *z = az->z;
	size_t soa = zone_soa(z);

	if (soa == z->n)
		return NULL;
	if (pos == 0)
		return &z->rr[soa];
	if (mode == XFR_CURRENT)
		return NULL;
	if (mode == XFR_FULL)
		return pos < z->n    ? &z->rr[pos - 1 + (pos - 1 >= soa)]
		       : pos == z->n ? &z->rr[soa]
				     : NULL;
	pos--;
	for (size_t k = from; k < az->nhist; k++) {
		const struct zone *part[2] = {az->hist[k]->del, az->hist[k]->add};

		for (int h = 0; h < 2; h++) {
			size_t ps = zone_soa(part[h]);

			if (ps == part[h]->n)
				return NULL; /* every version changes the SOA */
			if (pos < part[h]->n)
				return pos == 0 ? &part[h]->rr[ps]
						: &part[h]->rr[pos - 1 + (pos - 1 >= ps)];
			pos -= part[h]->n;
		}
	}
	return pos == 0 ? &z->rr[soa] : NULL;
}

int ans_xfr_kind(const struct ans_zone *az, const uint8_t *msg, size_t len, size_t *versions)
{
	struct ans_in in;
	size_t from = 0;
	int mode;

	*versions = 0;
	if (len < ANS_HDR)
		return ANS_XFR_WHOLE;
	ans_parse(msg, len, &in);
	mode = in.qend ? xfr_mode(az, msg, len, &in, &from) : ANS_XFR_WHOLE;
	if (mode == ANS_XFR_DELTAS)
		*versions = az->nhist - from;
	return mode;
}

size_t ans_xfr_next(const struct ans_zone *az, const uint8_t *msg, size_t len, size_t *pos,
		    uint8_t *out, size_t cap)
{
	const struct zone_rr *r;
	size_t k = 0, from = 0;
	struct msg m;
	struct ans_in in;
	int mode;

	if (cap < ANS_UDP_MIN || len < ANS_HDR)
		return 0;
	ans_parse(msg, len, &in);
	if (in.qend == 0)
		return 0;
	mode = xfr_mode(az, msg, len, &in, &from);
	if (xfr_record(az, mode, from, *pos) == NULL)
		return 0;
	msg_init(&m, NULL, out, cap < ANS_MSG_MAX ? cap : ANS_MSG_MAX);
	memset(out, 0, ANS_HDR);
	memcpy(out, msg, 2);
	out[2] = (uint8_t)(0x84 | (msg[2] & 0x01));
	m.len = ANS_HDR;
	if (*pos == 0) {
		/* The question in the first message only (RFC 5936 §2.2). */
		memcpy(out + ANS_HDR, msg + ANS_HDR, in.qend - ANS_HDR);
		m.len = in.qend;
		dns_put16(out + 4, 1);
	}
	for (; (r = xfr_record(az, mode, from, *pos)) != NULL; (*pos)++) {
		if (put_rr(&m, r->owner, NULL, NULL, r) < 0)
			break;
		k++;
	}
	if (k == 0)
		return 0; /* a record larger than a message: cannot happen with this zone */
	dns_put16(out + 6, (uint16_t)k);
	return m.len;
}
