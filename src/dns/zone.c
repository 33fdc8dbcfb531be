#include "dns/zone.h"

#include <arpa/inet.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/rr.h"
#include "dns/wire.h"

static const uint8_t zone_root[1] = {0};

/* ---- records ---- */

/* Records being added live in large blocks until zone_seal moves them into the image: a
 * whole zone is tens of thousands of small records. */
struct zone_arena {
	struct zone_arena *next;
	size_t used, cap;
	uint8_t data[];
};

#define ZONE_ARENA_BLOCK (256u * 1024u)

static uint8_t *arena_alloc(struct zone *z, size_t n)
{
	struct zone_arena *a = z->arena;

	if (a == NULL || a->cap - a->used < n) {
		size_t cap = n > ZONE_ARENA_BLOCK ? n : ZONE_ARENA_BLOCK;

		a = malloc(sizeof(*a) + cap);
		if (a == NULL)
			return NULL;
		a->next = z->arena;
		a->used = 0;
		a->cap = cap;
		z->arena = a;
	}
	a->used += n;
	return a->data + a->used - n;
}

static void arena_free(struct zone *z)
{
	while (z->arena) {
		struct zone_arena *next = z->arena->next;

		free(z->arena);
		z->arena = next;
	}
}

/* Appends a record whose owner and rdata already live long enough (in another zone's
 * image or arena). */
static int zone_put(struct zone *z, const struct zone_rr *r)
{
	if (z->n == z->cap) {
		size_t cap = z->cap ? 2 * z->cap : 4096;
		struct zone_rr *v = realloc(z->rr, cap * sizeof(*v));

		if (v == NULL)
			return CC_ENOMEM;
		z->rr = v;
		z->cap = cap;
	}
	z->rr[z->n++] = *r;
	return 0;
}

/* Every record, in an arena or an image, is laid out in canonical wire form: owner, type,
 * class, TTL, rdata length, rdata. So a record's bytes run from its owner to the end of
 * its rdata, and runs of records copied from an older image move as one block. */
static int zone_add(struct zone *z, const uint8_t *owner, uint16_t type, uint32_t ttl,
		    const uint8_t *rdata, size_t rdlen, int auth)
{
	size_t olen = dns_name_len(owner);
	struct zone_rr r = {.type = type, .ttl = ttl, .rdlen = (uint16_t)rdlen, .auth = auth};
	uint8_t *p;

	if (rdlen > UINT16_MAX)
		return CC_EINVAL;
	p = arena_alloc(z, olen + 10 + rdlen);
	if (p == NULL)
		return CC_ENOMEM;
	memcpy(p, owner, olen);
	dns_put16(p + olen, type);
	dns_put16(p + olen + 2, DNS_CLASS_IN);
	dns_put32(p + olen + 4, ttl);
	dns_put16(p + olen + 8, (uint16_t)rdlen);
	if (rdlen)
		memcpy(p + olen + 10, rdata, rdlen);
	r.owner = p;
	r.rdata = p + olen + 10;
	return zone_put(z, &r);
}

static size_t rr_wire_len(const struct zone_rr *r)
{
	return (size_t)(r->rdata - r->owner) + r->rdlen;
}

/* Moves every record into one image (the records must be in order), repointing owner and
 * rdata there: consecutive records that were consecutive before are copied in one go. */
static int zone_seal(struct zone *z)
{
	size_t len = 0, at = 0, run = 0;
	uint8_t *img;

	for (size_t i = 0; i < z->n; i++)
		len += rr_wire_len(&z->rr[i]);
	img = malloc(len ? len : 1);
	if (img == NULL)
		return CC_ENOMEM;
	for (size_t i = 0; i <= z->n; i++) {
		/* Records run .. i - 1 lie back to back in their source. */
		if (i < z->n && i > run &&
		    z->rr[i].owner == z->rr[i - 1].rdata + z->rr[i - 1].rdlen)
			continue;
		if (i > run) {
			const uint8_t *src = z->rr[run].owner;
			size_t n = (size_t)(z->rr[i - 1].rdata + z->rr[i - 1].rdlen - src);

			memcpy(img + at, src, n);
			for (size_t j = run; j < i; j++) {
				z->rr[j].rdata = img + at + (z->rr[j].rdata - src);
				z->rr[j].owner = img + at + (z->rr[j].owner - src);
			}
			at += n;
		}
		run = i;
	}
	arena_free(z);
	free(z->img);
	z->img = img;
	z->img_len = len;
	return 0;
}

/* Canonical order of RFC 8976 §3.3.1: owner, then type, then rdata as left-justified octet
 * strings (the order of RFC 4034 §6.3 within an RRset). */
static int zone_rr_cmp(const void *pa, const void *pb)
{
	const struct zone_rr *a = pa, *b = pb;
	int c = dns_name_cmp(a->owner, b->owner);
	size_t n;

	if (c != 0)
		return c;
	if (a->type != b->type)
		return a->type < b->type ? -1 : 1;
	n = a->rdlen < b->rdlen ? a->rdlen : b->rdlen;
	c = memcmp(a->rdata, b->rdata, n);
	if (c != 0)
		return c < 0 ? -1 : 1;
	return (a->rdlen > b->rdlen) - (a->rdlen < b->rdlen);
}

static void zone_sort(struct zone *z)
{
	if (z->n > 1)
		qsort(z->rr, z->n, sizeof(*z->rr), zone_rr_cmp);
}

/* Records rr[0 .. n0) are in order and more were appended: sort those and merge, rather than
 * sort the whole zone again. */
static int zone_merge(struct zone *z, size_t n0)
{
	struct zone_rr *v;
	size_t i = 0, j = n0, k = 0;

	if (n0 == z->n)
		return 0;
	qsort(z->rr + n0, z->n - n0, sizeof(*z->rr), zone_rr_cmp);
	v = malloc(z->cap * sizeof(*v));
	if (v == NULL) {
		zone_sort(z);
		return 0;
	}
	while (i < n0 || j < z->n)
		v[k++] = j == z->n || (i < n0 && zone_rr_cmp(&z->rr[i], &z->rr[j]) <= 0)
			     ? z->rr[i++]
			     : z->rr[j++];
	free(z->rr);
	z->rr = v;
	return 0;
}

static struct zone *zone_new(void)
{
	struct zone *z = calloc(1, sizeof(*z));

	if (z)
		z->refs = 1;
	return z;
}

struct zone *zone_ref(struct zone *z)
{
	__atomic_fetch_add(&z->refs, 1, __ATOMIC_RELAXED);
	return z;
}

void zone_free(struct zone *z)
{
	if (z == NULL || __atomic_sub_fetch(&z->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	arena_free(z);
	free(z->img);
	free(z->rr);
	free(z);
}

/* ---- from the ledger's records ---- */

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* rdata of one ledger record (canonical presentation, as rr.h keeps it) in wire form. */
static int zone_rdata_from_rr(const struct rr *r, uint8_t *out, size_t *len)
{
	unsigned keytag, alg, dt;
	int n = 0;

	switch (r->type) {
	case RR_A:
		*len = 4;
		return inet_pton(AF_INET, r->rdata, out) == 1 ? 0 : CC_EINVAL;
	case RR_AAAA:
		*len = 16;
		return inet_pton(AF_INET6, r->rdata, out) == 1 ? 0 : CC_EINVAL;
	case RR_NS:
		n = dns_name_from_text(out, r->rdata);
		if (n < 0)
			return n;
		*len = (size_t)n;
		return 0;
	case RR_DS: {
		const char *h;
		size_t k = 4;

		if (sscanf(r->rdata, "%u %u %u %n", &keytag, &alg, &dt, &n) != 3 || n == 0 ||
		    keytag > 65535 || alg > 255 || dt > 255)
			return CC_EINVAL;
		dns_put16(out, (uint16_t)keytag);
		out[2] = (uint8_t)alg;
		out[3] = (uint8_t)dt;
		for (h = r->rdata + n; h[0] && h[1] && k < RR_RDATA_MAX; h += 2) {
			int hi = hexval(h[0]), lo = hexval(h[1]);

			if (hi < 0 || lo < 0)
				return CC_EINVAL;
			out[k++] = (uint8_t)(hi << 4 | lo);
		}
		if (*h != '\0')
			return CC_EINVAL;
		*len = k;
		return 0;
	}
	}
	return CC_EINVAL;
}

/* The TLD a name lies under: its last label before the root, in wire form inside w. */
static const uint8_t *zone_tld_of(const uint8_t *w)
{
	while (dns_name_labels(w) > 1)
		w = dns_name_parent(w);
	return w;
}

struct cuts {		   /* delegation points: TLD owners, canonical order */
	const uint8_t **v; /* wire names (pointing into the zone's records) */
	size_t n, cap;
};

static int cuts_find(const struct cuts *c, const uint8_t *name)
{
	size_t lo = 0, hi = c->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int d = dns_name_cmp(c->v[mid], name);

		if (d == 0)
			return 1;
		if (d < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

/* Data at or below a delegation point is not the root zone's own (RFC 4035 §2.2). */
static int zone_below_cut(const struct cuts *c, const uint8_t *name)
{
	return dns_name_labels(name) > 0 && cuts_find(c, zone_tld_of(name));
}

/* ---- the apex ---- */

static int soa_rdata(const uint8_t *mname, uint32_t serial, uint8_t *out, size_t *len)
{
	uint8_t rname[DNS_NAME_MAX];
	size_t ml = dns_name_len(mname), rl;
	int n = dns_name_from_text(rname, ZONE_SOA_RNAME);
	uint32_t f[5] = {serial, ZONE_SOA_REFRESH, ZONE_SOA_RETRY, ZONE_SOA_EXPIRE,
			 ZONE_TTL_NEGATIVE};

	if (n < 0)
		return n;
	rl = (size_t)n;
	memcpy(out, mname, ml);
	memcpy(out + ml, rname, rl);
	for (int i = 0; i < 5; i++)
		dns_put32(out + ml + rl + 4 * (size_t)i, f[i]);
	*len = ml + rl + 20;
	return 0;
}

/* The addresses of a member's name server at name, with authority auth. */
static int zone_add_server_addrs(struct zone *z, const uint8_t *name, const struct member_dns *d,
				 int auth)
{
	int ret = 0;

	for (unsigned a = 0; ret == 0 && a < d->naddrs; a++) {
		uint8_t addr[16];
		int v6 = strchr(d->addrs[a], ':') != NULL;

		if (inet_pton(v6 ? AF_INET6 : AF_INET, d->addrs[a], addr) != 1)
			return CC_EINVAL;
		ret = zone_add(z, name, v6 ? DNS_AAAA : DNS_A, ZONE_TTL_APEX_NS, addr, v6 ? 16 : 4,
			       auth);
	}
	return ret;
}

/* The members' name servers: apex NS records and the servers' addresses. */
static int zone_apex_ns(struct zone *z, const struct ledger *l, uint8_t *mname, struct cc_err *e)
{
	size_t nm = ledger_member_count(l), found = 0;
	int ret = 0;

	for (size_t i = 0; ret == 0 && i < nm; i++) {
		const struct member_dns *d = &ledger_member_at(l, i)->dns;
		uint8_t name[DNS_NAME_MAX];
		int n;

		if (d->name[0] == '\0')
			continue;
		n = dns_name_from_text(name, d->name);
		if (n < 0)
			return cc_fail(e, CC_EINVAL, "member %s: bad name server name",
				       ledger_member_at(l, i)->id);
		if (found == 0 || dns_name_cmp(name, mname) < 0)
			memcpy(mname, name, (size_t)n);
		found++;
		ret = zone_add(z, zone_root, DNS_NS, ZONE_TTL_APEX_NS, name, (size_t)n, 1);
		/* authority decided once the delegations are known */
		if (ret == 0)
			ret = zone_add_server_addrs(z, name, d, -1);
		if (ret == CC_EINVAL)
			return cc_fail(e, ret, "member %s: bad address in its dns line",
				       ledger_member_at(l, i)->id);
	}
	if (ret == 0 && found == 0)
		ret = cc_fail(e, CC_ENOENT,
			      "no member runs a name server (member records' dns lines): the zone "
			      "would have no NS set");
	return ret;
}

/* ---- NSEC and signatures ---- */

/* Appends the NSEC record of the authoritative name at rr[i] (the first record of that
 * owner) to z, next being the following authoritative name. */
static int zone_nsec(struct zone *z, size_t i, size_t end, const uint8_t *next, int cut)
{
	uint16_t types[64];
	size_t nt = 0;
	struct cbuf rd = CBUF_INIT;
	uint8_t owner[DNS_NAME_MAX];
	int ret;

	memcpy(owner, z->rr[i].owner, dns_name_len(z->rr[i].owner));
	for (size_t j = i; j < end && nt < 60; j++) {
		/* At a cut only the delegation's own NS and DS are the parent's types. The
		 * types added below may be there already when a zone is updated. */
		if ((cut && z->rr[j].type != DNS_NS && z->rr[j].type != DNS_DS) ||
		    z->rr[j].type == DNS_RRSIG || z->rr[j].type == DNS_NSEC ||
		    z->rr[j].type == DNS_ZONEMD)
			continue;
		if (nt == 0 || types[nt - 1] != z->rr[j].type)
			types[nt++] = z->rr[j].type;
	}
	types[nt++] = DNS_RRSIG;
	types[nt++] = DNS_NSEC;
	if (dns_name_labels(owner) == 0)
		types[nt++] = DNS_ZONEMD;
	ret = dns_nsec_rdata(next, types, nt, &rd);
	if (ret == 0)
		ret = zone_add(z, owner, DNS_NSEC, ZONE_TTL_NEGATIVE, (const uint8_t *)rd.p, rd.len,
			       1);
	cbuf_free(&rd);
	return ret;
}

/* Owners in the NSEC chain, each the index of its first record. */
static int zone_chain(struct zone *z, struct cc_err *e)
{
	size_t *first = NULL, nf = 0, n0 = z->n;
	int ret = 0;

	first = malloc((n0 + 1) * sizeof(*first));
	if (first == NULL)
		return cc_fail(e, CC_ENOMEM, "out of memory");
	for (size_t i = 0; i < n0;) {
		size_t j = i;
		int auth = 0;

		/* The root's own names, and delegation points (NS: the child's set). */
		for (; j < n0 && dns_name_cmp(z->rr[j].owner, z->rr[i].owner) == 0; j++)
			auth |= z->rr[j].auth == 1 || z->rr[j].type == DNS_NS;
		if (auth)
			first[nf++] = i;
		i = j;
	}
	for (size_t k = 0; ret == 0 && k < nf; k++) {
		size_t i = first[k], end = i;
		const uint8_t *next = z->rr[first[(k + 1) % nf]].owner;
		int cut = 0;

		while (end < n0 && dns_name_cmp(z->rr[end].owner, z->rr[i].owner) == 0) {
			cut |= z->rr[end].type == DNS_NS && dns_name_labels(z->rr[end].owner) > 0;
			end++;
		}
		ret = zone_nsec(z, i, end, next, cut);
	}
	free(first);
	return ret < 0 ? cc_fail(e, ret, "cannot build the NSEC chain") : 0;
}

static uint32_t zone_inception(uint32_t epoch)
{
	return epoch * ZONE_EPOCH - ZONE_SIG_BEFORE;
}

static uint32_t zone_expiration(uint32_t epoch)
{
	return epoch * ZONE_EPOCH + ZONE_SIG_LIFETIME;
}

/* The KSK's signature made elsewhere, for the DNSKEY RRset rds: checked, then added. */
static int zone_dnskey_sig(struct zone *z, const struct zone_keys *k, const struct dns_rdata *rds,
			   size_t n)
{
	struct dns_rrsig_info s;

	if (k->dnskey_rrsig == NULL)
		return CC_EPERM;
	if (dns_rrsig_parse(k->dnskey_rrsig, k->dnskey_rrsig_len, &s) < 0 ||
	    s.inception != zone_inception(z->epoch) || s.expiration != zone_expiration(z->epoch) ||
	    dns_name_labels(s.signer) != 0 ||
	    dns_rrsig_verify(k->ksk, zone_root, DNS_DNSKEY, ZONE_TTL_DNSKEY, rds, n,
			     k->dnskey_rrsig, k->dnskey_rrsig_len) < 0)
		return CC_ESIG;
	return zone_add(z, zone_root, DNS_RRSIG, ZONE_TTL_DNSKEY, k->dnskey_rrsig,
			k->dnskey_rrsig_len, 1);
}

/* Signs the RRset rr[i .. end) (one owner, one type) and appends its RRSIG. */
static int zone_sign_set(struct zone *z, size_t i, size_t end, const struct zone_keys *k)
{
	struct dns_rdata rds[256];
	struct cbuf sig = CBUF_INIT;
	const struct dns_key *key = z->rr[i].type == DNS_DNSKEY ? k->ksk : k->zsk;
	uint8_t owner[DNS_NAME_MAX];
	uint16_t type = z->rr[i].type;
	uint32_t ttl = z->rr[i].ttl;
	size_t n = 0;
	int ret;

	if (end - i > sizeof(rds) / sizeof(rds[0]))
		return CC_ETOOBIG;
	for (size_t j = i; j < end; j++) {
		rds[n].p = z->rr[j].rdata;
		rds[n++].len = z->rr[j].rdlen;
	}
	memcpy(owner, z->rr[i].owner, dns_name_len(z->rr[i].owner));
	if (type == DNS_DNSKEY && !key->has_private)
		return zone_dnskey_sig(z, k, rds, n);
	ret = dns_rrsig(key, owner, type, ttl, rds, n, zone_root, zone_inception(z->epoch),
			zone_expiration(z->epoch), &sig);
	if (ret == 0)
		ret = zone_add(z, owner, DNS_RRSIG, ttl, (const uint8_t *)sig.p, sig.len, 1);
	cbuf_free(&sig);
	return ret;
}

/* Signs every authoritative RRset of types other than skip. */
static int zone_sign(struct zone *z, const struct zone_keys *k, uint16_t only)
{
	size_t n0 = z->n;
	int ret = 0;

	for (size_t i = 0; ret == 0 && i < n0;) {
		size_t j = i;

		while (j < n0 && z->rr[j].type == z->rr[i].type &&
		       dns_name_cmp(z->rr[j].owner, z->rr[i].owner) == 0)
			j++;
		if (z->rr[i].auth == 1 && z->rr[i].type != DNS_RRSIG &&
		    (only == 0 || z->rr[i].type == only))
			ret = zone_sign_set(z, i, j, k);
		i = j;
	}
	return ret;
}

/* RRSIG rdata of our signatures: type covered, algorithm, labels, original TTL,
 * expiration, inception, key tag, signer (the root), Ed25519 signature. */
#define ZONE_RRSIG_RDATA (18 + 1 + DNS_SIG_LEN)

/* The apex ZONEMD and its RRSIG, as placeholders of their final size: the digest covers the
 * zone once it is sealed into its image, and is then written in place (zone_finish). */
static int zone_zonemd_slots(struct zone *z)
{
	uint8_t rd[ZONE_RRSIG_RDATA] = {0};
	int ret = zone_add(z, zone_root, DNS_ZONEMD, ZONE_TTL_NEGATIVE, rd, DNS_ZONEMD_RDATA, 1);

	dns_put16(rd, DNS_ZONEMD);
	if (ret == 0)
		ret = zone_add(z, zone_root, DNS_RRSIG, ZONE_TTL_NEGATIVE, rd, sizeof(rd), 1);
	return ret;
}

/* Seals z, then computes its ZONEMD over the image and signs it, in place. */
static int zone_finish(struct zone *z, const struct zone_keys *k)
{
	struct cbuf sig = CBUF_INIT;
	struct dns_rdata rds;
	uint8_t digest[DNS_ZONEMD_DIGEST], rd[DNS_ZONEMD_RDATA];
	size_t skip[2][2], zi = SIZE_MAX, si = SIZE_MAX;
	int ret = zone_seal(z);

	for (size_t i = 0; ret == 0 && i < z->n && dns_name_labels(z->rr[i].owner) == 0; i++) {
		if (z->rr[i].type == DNS_ZONEMD)
			zi = i;
		else if (z->rr[i].type == DNS_RRSIG && dns_get16(z->rr[i].rdata) == DNS_ZONEMD)
			si = i;
	}
	if (ret == 0 && (zi == SIZE_MAX || si == SIZE_MAX || si > zi))
		ret = CC_EINVAL;
	if (ret < 0)
		goto out;
	/* Records span from their owner to the end of their rdata in the image. */
	skip[0][0] = (size_t)(z->rr[si].owner - z->img);
	skip[0][1] = (size_t)(z->rr[si].rdata - z->img) + z->rr[si].rdlen;
	skip[1][0] = (size_t)(z->rr[zi].owner - z->img);
	skip[1][1] = (size_t)(z->rr[zi].rdata - z->img) + z->rr[zi].rdlen;
	ret = dns_zonemd_image(z->img, z->img_len, (const size_t(*)[2])skip, 2, digest);
	if (ret < 0)
		goto out;
	dns_zonemd_rdata(z->serial, digest, rd);
	memcpy((uint8_t *)z->rr[zi].rdata, rd, sizeof(rd));
	rds.p = rd;
	rds.len = sizeof(rd);
	ret = dns_rrsig(k->zsk, zone_root, DNS_ZONEMD, ZONE_TTL_NEGATIVE, &rds, 1, zone_root,
			zone_inception(z->epoch), zone_expiration(z->epoch), &sig);
	if (ret == 0 && sig.len != z->rr[si].rdlen)
		ret = CC_EINVAL;
	if (ret == 0)
		memcpy((uint8_t *)z->rr[si].rdata, sig.p, sig.len);
out:
	cbuf_free(&sig);
	return ret;
}

/* One delegation record of the ledger at owner, as the zone holds it: a delegation's NS set
 * belongs to the child, DS to the root, and an address has the authority addr_auth (-1:
 * settled once the cuts are known). CC_EINVAL for a record the zone cannot carry. */
static int zone_add_ledger_rr(struct zone *z, const uint8_t *owner, const struct rr *r,
			      uint32_t ttl, int addr_auth)
{
	uint8_t rd[RR_RDATA_MAX + DNS_NAME_MAX];
	size_t len;

	if (zone_rdata_from_rr(r, rd, &len) < 0)
		return CC_EINVAL;
	return zone_add(z, owner, r->type, ttl, rd, len,
			r->type == RR_DS   ? 1
			: r->type == RR_NS ? 0
					   : addr_auth);
}

static int zone_add_delegation(void *ctx, const struct rr *r, uint32_t ttl)
{
	uint8_t owner[DNS_NAME_MAX];

	if (dns_name_from_text(owner, r->owner) < 0)
		return CC_EINVAL;
	return zone_add_ledger_rr(ctx, owner, r, ttl, -1);
}

/* The DNSKEY RRset's rdata for l: the KSK, then (RFC 8901, model 2) the ZSK of every node
 * record, so that whichever node a resolver asks, the keys of every node's signatures are
 * in the one RRset the KSK signs; and the signing ZSK, unless a node record lists it (or
 * there is none: a network without node records has exactly the node's own pair). A node
 * whose zsk.key is not its record's thus serves a DNSKEY RRset (and KSK signature) of its
 * own, which its signatures validate under. *out is malloc'ed, *n rdata of
 * DNS_DNSKEY_RDATA octets each, in no particular order. */
static int zone_dnskeys(const struct ledger *l, const struct zone_keys *k,
			uint8_t (**out)[DNS_DNSKEY_RDATA], size_t *n)
{
	size_t nn = ledger_node_count(l), m = 0;
	uint8_t(*v)[DNS_DNSKEY_RDATA] = malloc((nn + 2) * sizeof(*v));
	int listed = 0;

	*out = NULL;
	*n = 0;
	if (v == NULL)
		return CC_ENOMEM;
	dns_dnskey_rdata(k->ksk, v[m++]);
	for (size_t i = 0; i < nn; i++) {
		const struct ledger_node *nd = ledger_node_at(l, i);
		struct dns_key zk;

		/* The ledger checked every zsk is a usable Ed25519 key. */
		if (dns_key_from_public(&zk, nd->zsk, DNS_KEY_ZSK) < 0) {
			free(v);
			return CC_EINVAL;
		}
		dns_dnskey_rdata(&zk, v[m++]);
		listed |= memcmp(nd->zsk, k->zsk->pub, sizeof(nd->zsk)) == 0;
	}
	if (!listed)
		dns_dnskey_rdata(k->zsk, v[m++]);
	*out = v;
	*n = m;
	return 0;
}

int zone_build(const struct ledger *l, const struct zone_keys *k, uint32_t epoch, struct zone **out,
	       struct cc_err *e)
{
	struct zone *z = zone_new();
	struct cuts cuts = {0};
	uint8_t mname[DNS_NAME_MAX], rd[RR_RDATA_MAX + DNS_NAME_MAX];
	uint8_t(*dnskey)[DNS_DNSKEY_RDATA] = NULL;
	size_t len, n0, ndnskey = 0;
	int ret;

	*out = NULL;
	if (z == NULL)
		return cc_fail(e, CC_ENOMEM, "out of memory");
	z->epoch = epoch;
	z->log_size = ledger_size(l);
	z->serial = (uint32_t)(ledger_size(l) + epoch) + k->serial_offset;
	ret = zone_apex_ns(z, l, mname, e);
	if (ret < 0)
		goto out;
	ret = ledger_delegations_each(l, zone_add_delegation, z);
	if (ret == CC_EINVAL)
		ret = cc_fail(e, ret, "a delegation record cannot be served");
	if (ret < 0)
		goto fail;
	ret = soa_rdata(mname, z->serial, rd, &len);
	if (ret == 0)
		ret = zone_add(z, zone_root, DNS_SOA, ZONE_TTL_NEGATIVE, rd, len, 1);
	if (ret == 0)
		ret = zone_dnskeys(l, k, &dnskey, &ndnskey);
	for (size_t i = 0; ret == 0 && i < ndnskey; i++)
		ret = zone_add(z, zone_root, DNS_DNSKEY, ZONE_TTL_DNSKEY, dnskey[i],
			       DNS_DNSKEY_RDATA, 1);
	if (ret < 0)
		goto fail;
	zone_sort(z);
	/* The cuts, then what is glue: addresses at or below a cut. */
	for (size_t i = 0; i < z->n; i++) {
		if (z->rr[i].type != DNS_NS || z->rr[i].auth != 0 ||
		    (cuts.n && dns_name_cmp(cuts.v[cuts.n - 1], z->rr[i].owner) == 0))
			continue;
		if (cuts.n == cuts.cap) {
			size_t cap = cuts.cap ? 2 * cuts.cap : 2048;
			const uint8_t **v = realloc(cuts.v, cap * sizeof(*v));

			if (v == NULL) {
				ret = CC_ENOMEM;
				goto fail;
			}
			cuts.v = v;
			cuts.cap = cap;
		}
		cuts.v[cuts.n++] = z->rr[i].owner;
	}
	for (size_t i = 0; i < z->n; i++)
		if (z->rr[i].auth == -1)
			z->rr[i].auth = !zone_below_cut(&cuts, z->rr[i].owner);
	n0 = z->n;
	ret = zone_chain(z, e);
	if (ret < 0)
		goto out;
	zone_merge(z, n0);
	n0 = z->n;
	ret = zone_sign(z, k, 0);
	if (ret == 0) {
		zone_merge(z, n0);
		n0 = z->n;
		ret = zone_zonemd_slots(z);
	}
	if (ret == 0) {
		zone_merge(z, n0);
		ret = zone_finish(z, k);
	}
fail:
	if (ret == CC_EPERM)
		ret = cc_fail(e, ret,
			      "the KSK's private half is not here and no signature of the DNSKEY "
			      "RRset was given");
	else if (ret == CC_ESIG)
		ret = cc_fail(
		    e, ret, "the KSK's signature of the DNSKEY RRset does not verify for epoch %u",
		    epoch);
	else if (ret < 0 && (e == NULL || e->code == 0))
		ret = cc_fail(e, ret, "cannot build the zone: %s", cc_strerror(ret));
out:
	free((void *)cuts.v);
	free(dnskey);
	if (ret < 0) {
		zone_free(z);
		return ret;
	}
	*out = z;
	return 0;
}

int zone_dnskey_data(const struct ledger *l, const struct zone_keys *k, uint32_t epoch,
		     struct cbuf *out, size_t *prefix_len)
{
	uint8_t(*key)[DNS_DNSKEY_RDATA] = NULL;
	struct dns_rdata *rds = NULL;
	size_t n = 0;
	int ret = zone_dnskeys(l, k, &key, &n);

	if (ret == 0 && (rds = malloc(n * sizeof(*rds))) == NULL)
		ret = CC_ENOMEM;
	for (size_t i = 0; ret == 0 && i < n; i++) {
		rds[i].p = key[i];
		rds[i].len = DNS_DNSKEY_RDATA;
	}
	if (ret == 0)
		ret = dns_rrsig_data(zone_root, DNS_DNSKEY, ZONE_TTL_DNSKEY, rds, n, k->ksk->tag,
				     zone_root, zone_inception(epoch), zone_expiration(epoch), out,
				     prefix_len);
	free(rds);
	free(key);
	return ret;
}

/* ---- changes by parts ---- */

struct zone_changes {
	uint64_t log_size;     /* the ledger's size when collected */
	const uint8_t **names; /* changed owner names, canonical order, no repeats */
	size_t nnames;
	struct zone *recs; /* the records those names hold now, canonical order (unsealed) */
	struct zone *own;  /* storage of names */
};

void zone_changes_free(struct zone_changes *c)
{
	if (c == NULL)
		return;
	free((void *)c->names);
	zone_free(c->recs);
	zone_free(c->own);
	free(c);
}

size_t zone_changes_names(const struct zone_changes *c)
{
	return c->nnames;
}

static int name_ptr_cmp(const void *a, const void *b)
{
	return dns_name_cmp(*(const uint8_t *const *)a, *(const uint8_t *const *)b);
}

/* The first record of z whose owner is not below-or-before name in canonical order. */
static size_t zone_lower_bound(const struct zone *z, const uint8_t *name)
{
	size_t lo = 0, hi = z->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (dns_name_cmp(z->rr[mid].owner, name) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

struct touched {
	struct zone_changes *c;
	int ret;
	size_t cap;
};

static int changes_add_name(struct zone_changes *c, size_t *cap, const uint8_t *name)
{
	uint8_t *p;

	if (c->nnames == *cap) {
		size_t ncap = *cap ? 2 * *cap : 64;
		const uint8_t **v = realloc((void *)c->names, ncap * sizeof(*v));

		if (v == NULL)
			return CC_ENOMEM;
		c->names = v;
		*cap = ncap;
	}
	p = arena_alloc(c->own, dns_name_len(name));
	if (p == NULL)
		return CC_ENOMEM;
	memcpy(p, name, dns_name_len(name));
	c->names[c->nnames++] = p;
	return 0;
}

static int on_touched(void *ctx, const char *name)
{
	struct touched *t = ctx;
	uint8_t w[DNS_NAME_MAX];

	if (strcmp(name, ".") == 0)
		return 1; /* a member or node changed (root servers, DNSKEY set): the zone
			   * is built whole */
	if (dns_name_from_text(w, name) < 0)
		return CC_EINVAL;
	return changes_add_name(t->c, &t->cap, w);
}

/* Whether the TLD name (wire) is delegated in l: data below it is glue. */
static int ledger_is_cut(const struct ledger *l, const uint8_t *tld, int *cut)
{
	struct rr_set s = {0};
	char text[DNS_NAME_TEXT_MAX];
	int ret = dns_name_to_text(tld, text, sizeof(text));

	*cut = 0;
	if (ret >= 0)
		ret = ledger_delegations_at(l, text, &s);
	for (size_t i = 0; ret >= 0 && i < s.n; i++)
		*cut |= s.v[i].type == RR_NS;
	rr_set_free(&s);
	return ret < 0 ? ret : 0;
}

/* The records name holds in l, as zone_build would add them, appended to z. */
static int changes_records(struct zone *z, const struct ledger *l, const uint8_t *name,
			   struct cc_err *e)
{
	struct rr_set s = {0};
	char text[DNS_NAME_TEXT_MAX];
	size_t nm = ledger_member_count(l);
	int ret = dns_name_to_text(name, text, sizeof(text)), cut = 0;

	if (ret >= 0 && dns_name_labels(name) > 0)
		ret = ledger_is_cut(l, zone_tld_of(name), &cut);
	if (ret >= 0)
		ret = ledger_delegations_at(l, text, &s);
	for (size_t i = 0; ret >= 0 && i < s.n; i++) {
		ret = zone_add_ledger_rr(z, name, &s.v[i], s.v[i].ttl, !cut);
		if (ret == CC_EINVAL)
			ret = cc_fail(e, ret, "record %s %s cannot be served", s.v[i].owner,
				      s.v[i].rdata);
	}
	/* A root server under this name: its addresses, as zone_apex_ns adds them. */
	for (size_t i = 0; ret >= 0 && i < nm; i++)
		if (strcmp(ledger_member_at(l, i)->dns.name, text) == 0)
			ret = zone_add_server_addrs(z, name, &ledger_member_at(l, i)->dns, !cut);
	rr_set_free(&s);
	return ret < 0 ? ret : 0;
}

int zone_changes(const struct zone *z, const struct ledger *l, struct zone_changes **out,
		 struct cc_err *e)
{
	struct zone_changes *c = calloc(1, sizeof(*c));
	struct touched t = {.c = c};
	size_t n0, k = 0;
	int ret = CC_ENOMEM;

	*out = NULL;
	if (c == NULL || (c->recs = zone_new()) == NULL || (c->own = zone_new()) == NULL)
		goto fail;
	c->log_size = ledger_size(l);
	ret = ledger_touched(l, z->log_size, on_touched, &t);
	if (ret == 1 || ret == CC_ENOENT) {
		ret = cc_fail(e, CC_ENOENT, "%s",
			      ret == 1 ? "a member or node changed: the apex with it"
				       : "the ledger's history is too short");
		goto out;
	}
	if (ret < 0)
		goto fail;
	/* A TLD that appears or goes changes what is glue below it. */
	n0 = c->nnames;
	for (size_t i = 0; ret == 0 && i < n0; i++) {
		if (dns_name_labels(c->names[i]) != 1)
			continue;
		for (size_t j = zone_lower_bound(z, c->names[i]);
		     ret == 0 && j < z->n && dns_name_is_below(z->rr[j].owner, c->names[i]); j++)
			if (j == 0 || dns_name_cmp(z->rr[j].owner, z->rr[j - 1].owner) != 0)
				ret = changes_add_name(c, &t.cap, z->rr[j].owner);
	}
	if (ret < 0)
		goto fail;
	if (c->nnames > 1)
		qsort((void *)c->names, c->nnames, sizeof(*c->names), name_ptr_cmp);
	for (size_t i = 0; i < c->nnames; i++)
		if (k == 0 || dns_name_cmp(c->names[k - 1], c->names[i]) != 0)
			c->names[k++] = c->names[i];
	c->nnames = k;
	for (size_t i = 0; ret == 0 && i < c->nnames; i++)
		ret = changes_records(c->recs, l, c->names[i], e);
	if (ret < 0)
		goto fail;
	zone_sort(c->recs);
	*out = c;
	return 0;
fail:
	if (e == NULL || e->code == 0)
		ret = cc_fail(e, ret, "cannot collect the zone's changes: %s", cc_strerror(ret));
out:
	zone_changes_free(c);
	return ret;
}

void zone_delta_free(struct zone_delta *d)
{
	if (d == NULL)
		return;
	zone_free(d->del);
	zone_free(d->add);
	free(d);
}

/* One owner's records in the old and the new version of a zone. */
struct zgroup {
	const uint8_t *owner;
	const uint8_t *next;	   /* the next name in the NSEC chain */
	size_t old_first, old_end; /* in the old zone (empty: a new name) */
	size_t new_first, new_end; /* in the changes, for a changed name */
	size_t out_first, out_end; /* in the new zone */
	int changed;		   /* a changed name: its records come from the changes */
	int chain;		   /* in the NSEC chain of the new zone */
	int nsec;		   /* its NSEC must be made again */
};

/* Owners of two records (each in wire form: the owner ends 10 octets before the rdata). */
static int owner_eq(const struct zone_rr *a, const struct zone_rr *b)
{
	size_t n = (size_t)(a->rdata - a->owner) - 10;

	return n == (size_t)(b->rdata - b->owner) - 10 && memcmp(a->owner, b->owner, n) == 0;
}

static int name_eq(const uint8_t *a, const uint8_t *b)
{
	size_t n = dns_name_len(a);

	return n == dns_name_len(b) && memcmp(a, b, n) == 0;
}

/* Whether the signature rr is over an RRset of type. */
static int sig_covers(const struct zone_rr *rr, uint16_t type)
{
	return rr->type == DNS_RRSIG && rr->rdlen >= 2 && dns_get16(rr->rdata) == type;
}

static int rr_same(const struct zone_rr *a, const struct zone_rr *b)
{
	return a->type == b->type && a->ttl == b->ttl && a->rdlen == b->rdlen &&
	       memcmp(a->rdata, b->rdata, a->rdlen) == 0;
}

/* The old zone's signature over the RRset of type at g, when that RRset was exactly
 * rr[0 .. n) (signatures are deterministic: reusing one gives the same bytes as signing
 * again); NULL otherwise. */
static const struct zone_rr *old_sig(const struct zone *old, const struct zgroup *g,
				     const struct zone_rr *rr, size_t n)
{
	size_t of = g->old_first, oe, j = 0;

	while (of < g->old_end && old->rr[of].type != rr->type)
		of++;
	for (oe = of; oe < g->old_end && old->rr[oe].type == rr->type;)
		oe++;
	if (oe - of != n)
		return NULL;
	while (j < n && rr_same(&old->rr[of + j], &rr[j]))
		j++;
	for (size_t s = g->old_first; j == n && s < g->old_end; s++)
		if (sig_covers(&old->rr[s], rr->type))
			return &old->rr[s];
	return NULL;
}

/* A changed name's records, from the changes, each authoritative RRset signed. */
static int update_base(struct zone *z, const struct zone *old, const struct zone_changes *c,
		       const struct zgroup *g, const struct zone_keys *k)
{
	size_t n0 = z->n, nb;
	int ret = 0;

	for (size_t i = g->new_first; ret == 0 && i < g->new_end; i++)
		ret = zone_put(z, &c->recs->rr[i]);
	nb = z->n;
	for (size_t i = n0; ret == 0 && i < nb;) {
		size_t j = i;
		const struct zone_rr *sig;

		while (j < nb && z->rr[j].type == z->rr[i].type)
			j++;
		if (z->rr[i].auth == 1) {
			sig = old_sig(old, g, &z->rr[i], j - i);
			ret = sig ? zone_put(z, sig) : zone_sign_set(z, i, j, k);
		}
		i = j;
	}
	return ret;
}

/* The apex's records of each version: SOA with the new serial, its RRSIG, ZONEMD slots. */
static int update_apex(struct zone *z, const struct zone *old, const struct zgroup *g,
		       const struct zone_keys *k)
{
	uint8_t rd[2 * DNS_NAME_MAX + 20];
	size_t soa = SIZE_MAX, len;
	int ret;

	for (size_t i = g->old_first; i < g->old_end; i++)
		if (old->rr[i].type == DNS_SOA)
			soa = i;
	if (soa == SIZE_MAX || old->rr[soa].rdlen < 22 || old->rr[soa].rdlen > sizeof(rd))
		return CC_EINVAL;
	len = old->rr[soa].rdlen;
	memcpy(rd, old->rr[soa].rdata, len);
	dns_put32(rd + len - 20, z->serial);
	ret = zone_add(z, zone_root, DNS_SOA, ZONE_TTL_NEGATIVE, rd, len, 1);
	if (ret == 0)
		ret = zone_sign_set(z, z->n - 1, z->n, k);
	if (ret == 0)
		ret = zone_zonemd_slots(z);
	return ret;
}

/* g's NSEC (its records so far z->rr[g->out_first ..), sorted) and its signature. */
static int update_nsec(struct zone *z, const struct zone *old, const struct zgroup *g,
		       const struct zone_keys *k)
{
	const struct zone_rr *sig = NULL;
	size_t end = z->n;
	int cut = 0, ret;

	for (size_t i = g->out_first; i < end; i++)
		cut |= z->rr[i].type == DNS_NS && dns_name_labels(g->owner) > 0;
	ret = zone_nsec(z, g->out_first, end, g->next, cut);
	if (ret < 0)
		return ret;
	sig = old_sig(old, g, &z->rr[z->n - 1], 1);
	return sig ? zone_put(z, sig) : zone_sign_set(z, z->n - 1, z->n, k);
}

/* The records of group g in the new zone, appended to z in order. */
static int update_group(struct zone *z, const struct zone *old, const struct zone_changes *c,
			struct zgroup *g, const struct zone_keys *k)
{
	int apex = dns_name_labels(g->owner) == 0, ret = 0;

	g->out_first = z->n;
	/* Most names: the same records as before, moved as one block. */
	if (!g->changed && !g->nsec && !apex && z->cap - z->n >= g->old_end - g->old_first) {
		memcpy(z->rr + z->n, old->rr + g->old_first,
		       (g->old_end - g->old_first) * sizeof(*z->rr));
		z->n += g->old_end - g->old_first;
		g->out_end = z->n;
		return 0;
	}
	if (g->changed)
		ret = update_base(z, old, c, g, k);
	for (size_t i = g->old_first; !g->changed && ret == 0 && i < g->old_end; i++) {
		const struct zone_rr *r = &old->rr[i];

		/* Made again below: the apex's records of each version, a stale NSEC. */
		if ((apex && (r->type == DNS_SOA || r->type == DNS_ZONEMD ||
			      sig_covers(r, DNS_SOA) || sig_covers(r, DNS_ZONEMD))) ||
		    (g->nsec && (r->type == DNS_NSEC || sig_covers(r, DNS_NSEC))))
			continue;
		ret = zone_put(z, r);
	}
	if (ret == 0 && apex)
		ret = update_apex(z, old, g, k);
	if (ret == 0 && (g->changed || g->nsec || apex))
		qsort(z->rr + g->out_first, z->n - g->out_first, sizeof(*z->rr), zone_rr_cmp);
	if (ret == 0 && g->nsec) {
		ret = update_nsec(z, old, g, k);
		qsort(z->rr + g->out_first, z->n - g->out_first, sizeof(*z->rr), zone_rr_cmp);
	}
	g->out_end = z->n;
	return ret;
}

static int group_has(const struct zone_rr *rr, size_t first, size_t end, uint16_t type)
{
	for (size_t i = first; i < end; i++)
		if (rr[i].type == type)
			return 1;
	return 0;
}

/* Old and new versions' groups side by side; a changed name absent from the old zone is a
 * new group, one whose records are all gone is kept (for the delta) outside the chain. */
static int update_groups(const struct zone *old, const struct zone_changes *c, struct zgroup *g,
			 size_t *ng)
{
	size_t i = 0, ci = 0, ri = 0, n = 0, first = SIZE_MAX, prev = SIZE_MAX;

	while (i < old->n || ci < c->nnames) {
		struct zgroup *x = &g[n++];
		size_t end = i;
		int d;

		memset(x, 0, sizeof(*x));
		while (end < old->n && owner_eq(&old->rr[end], &old->rr[i]))
			end++;
		d = i == old->n	      ? 1
		    : ci == c->nnames ? -1
				      : dns_name_cmp(old->rr[i].owner, c->names[ci]);
		x->old_first = x->old_end = i;
		if (d <= 0) {
			x->owner = old->rr[i].owner;
			x->old_end = i = end;
		}
		if (d >= 0) {
			x->owner = c->names[ci];
			x->changed = 1;
			x->new_first = ri;
			while (ri < c->recs->n && name_eq(c->recs->rr[ri].owner, c->names[ci]))
				ri++;
			x->new_end = ri;
			ci++;
			if (dns_name_labels(x->owner) == 0)
				return CC_EINVAL; /* the apex changes by zone_build only */
		}
		for (size_t j = x->new_first; x->changed && j < x->new_end; j++)
			x->chain |= c->recs->rr[j].auth == 1 || c->recs->rr[j].type == DNS_NS;
		x->chain |= !x->changed && group_has(old->rr, x->old_first, x->old_end, DNS_NSEC);
	}
	if (ri != c->recs->n)
		return CC_EINVAL;
	/* Each chain name's next one, cyclic; an NSEC is made again when it changes. */
	for (size_t j = 0; j <= n && n; j++) {
		size_t at = j == n ? first : j;

		if (at == SIZE_MAX || !g[at].chain)
			continue;
		if (prev != SIZE_MAX) {
			g[prev].next = g[at].owner;
			g[prev].nsec = g[prev].changed;
			for (size_t s = g[prev].old_first; !g[prev].nsec && s < g[prev].old_end;
			     s++)
				if (old->rr[s].type == DNS_NSEC)
					g[prev].nsec = !name_eq(old->rr[s].rdata, g[at].owner);
		}
		if (j == n)
			break;
		if (first == SIZE_MAX)
			first = at;
		prev = at;
	}
	*ng = n;
	return 0;
}

/* What changed between old and z, group by group (both in canonical order). */
static int update_delta(const struct zone *old, const struct zone *z, const struct zgroup *g,
			size_t ng, struct zone_delta **out)
{
	struct zone_delta *d = calloc(1, sizeof(*d));
	int ret = CC_ENOMEM;

	*out = NULL;
	if (d == NULL || (d->del = zone_new()) == NULL || (d->add = zone_new()) == NULL)
		goto out;
	d->from = old->serial;
	d->to = z->serial;
	d->del->serial = old->serial;
	d->add->serial = z->serial;
	ret = 0;
	for (size_t k = 0; ret == 0 && k < ng; k++) {
		size_t i = g[k].old_first, j = g[k].out_first;

		if (!g[k].changed && !g[k].nsec && dns_name_labels(g[k].owner) > 0)
			continue;
		while (ret == 0 && (i < g[k].old_end || j < g[k].out_end)) {
			int cmp = i == g[k].old_end   ? 1
				  : j == g[k].out_end ? -1
						      : zone_rr_cmp(&old->rr[i], &z->rr[j]);

			if (cmp == 0 && old->rr[i].ttl == z->rr[j].ttl) {
				i++;
				j++;
				continue;
			}
			if (cmp <= 0)
				ret = zone_put(d->del, &old->rr[i++]);
			if (ret == 0 && cmp >= 0)
				ret = zone_put(d->add, &z->rr[j++]);
		}
	}
	if (ret == 0)
		ret = zone_seal(d->del);
	if (ret == 0)
		ret = zone_seal(d->add);
	if (ret == 0) {
		*out = d;
		d = NULL;
	}
out:
	zone_delta_free(d);
	return ret;
}

int zone_update(const struct zone *old, const struct zone_changes *c, const struct zone_keys *k,
		struct zone **out, struct zone_delta **delta, struct cc_err *e)
{
	struct zone *z = zone_new();
	struct zgroup *g = malloc((old->n + c->nnames + 1) * sizeof(*g));
	size_t ng = 0;
	int ret = CC_ENOMEM;

	*out = NULL;
	if (delta)
		*delta = NULL;
	if (z == NULL || g == NULL)
		goto out;
	z->cap = old->n + 4 * c->recs->n + 64;
	z->rr = malloc(z->cap * sizeof(*z->rr));
	if (z->rr == NULL)
		goto out;
	z->epoch = old->epoch;
	z->log_size = c->log_size;
	z->serial = (uint32_t)(c->log_size + old->epoch) + k->serial_offset;
	ret = update_groups(old, c, g, &ng);
	for (size_t i = 0; ret == 0 && i < ng; i++)
		if (!g[i].changed || g[i].new_end > g[i].new_first)
			ret = update_group(z, old, c, &g[i], k);
	if (ret == 0)
		ret = zone_finish(z, k);
	if (ret == 0 && delta)
		ret = update_delta(old, z, g, ng, delta);
	if (ret == 0) {
		*out = z;
		z = NULL;
	}
out:
	free(g);
	zone_free(z);
	return ret < 0 ? cc_fail(e, ret, "cannot update the zone: %s", cc_strerror(ret)) : 0;
}

/* ---- presentation ---- */

const char *zone_type_name(uint16_t type)
{
	switch (type) {
	case DNS_A:
		return "A";
	case DNS_NS:
		return "NS";
	case DNS_SOA:
		return "SOA";
	case DNS_AAAA:
		return "AAAA";
	case DNS_DS:
		return "DS";
	case DNS_RRSIG:
		return "RRSIG";
	case DNS_NSEC:
		return "NSEC";
	case DNS_DNSKEY:
		return "DNSKEY";
	case DNS_ZONEMD:
		return "ZONEMD";
	}
	return NULL;
}

static int put_name(struct cbuf *out, const uint8_t *p, size_t len, size_t *used)
{
	char text[DNS_NAME_TEXT_MAX];
	int n = dns_name_check(p, len);

	if (n < 0 || dns_name_to_text(p, text, sizeof(text)) < 0)
		return CC_EINVAL;
	*used = (size_t)n;
	return cbuf_puts(out, text);
}

static int put_hex(struct cbuf *out, const uint8_t *p, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	int ret = 0;

	for (size_t i = 0; ret == 0 && i < n; i++) {
		ret = cbuf_putc(out, hex[p[i] >> 4]);
		if (ret == 0)
			ret = cbuf_putc(out, hex[p[i] & 15]);
	}
	return ret;
}

static int put_b64(struct cbuf *out, const uint8_t *p, size_t n)
{
	size_t cap = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
	char *b = malloc(cap);
	int ret;

	if (b == NULL)
		return CC_ENOMEM;
	sodium_bin2base64(b, cap, p, n, sodium_base64_VARIANT_ORIGINAL);
	ret = cbuf_puts(out, b);
	free(b);
	return ret;
}

static int put_time(struct cbuf *out, uint32_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL)
		return CC_EINVAL;
	return cbuf_printf(out, "%04d%02d%02d%02d%02d%02d", tm.tm_year + 1900, tm.tm_mon + 1,
			   tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static int put_type(struct cbuf *out, uint16_t type)
{
	const char *name = zone_type_name(type);

	return name ? cbuf_puts(out, name) : cbuf_printf(out, "TYPE%u", (unsigned)type);
}

int zone_rdata_text(uint16_t type, const uint8_t *p, size_t len, struct cbuf *out)
{
	char addr[INET6_ADDRSTRLEN];
	size_t used = 0, off;
	int ret = CC_EINVAL;

	switch (type) {
	case DNS_A:
	case DNS_AAAA:
		if (len != (type == DNS_A ? 4u : 16u) ||
		    inet_ntop(type == DNS_A ? AF_INET : AF_INET6, p, addr, sizeof(addr)) == NULL)
			return CC_EINVAL;
		return cbuf_puts(out, addr);
	case DNS_NS:
		ret = put_name(out, p, len, &used);
		return ret == 0 && used == len ? 0 : CC_EINVAL;
	case DNS_DS:
		if (len < 5)
			return CC_EINVAL;
		ret = cbuf_printf(out, "%u %u %u ", dns_get16(p), p[2], p[3]);
		return ret == 0 ? put_hex(out, p + 4, len - 4) : ret;
	case DNS_SOA:
		ret = put_name(out, p, len, &used);
		off = used;
		if (ret == 0)
			ret = cbuf_putc(out, ' ');
		if (ret == 0)
			ret = put_name(out, p + off, len - off, &used);
		off += used;
		if (ret == 0 && len - off != 20)
			ret = CC_EINVAL;
		for (int i = 0; ret == 0 && i < 5; i++)
			ret = cbuf_printf(out, " %u", dns_get32(p + off + 4 * (size_t)i));
		return ret;
	case DNS_DNSKEY:
		if (len < 5)
			return CC_EINVAL;
		ret = cbuf_printf(out, "%u %u %u ", dns_get16(p), p[2], p[3]);
		return ret == 0 ? put_b64(out, p + 4, len - 4) : ret;
	case DNS_RRSIG: {
		struct dns_rrsig_info s;

		if (dns_rrsig_parse(p, len, &s) < 0)
			return CC_EINVAL;
		ret = put_type(out, s.type_covered);
		if (ret == 0)
			ret = cbuf_printf(out, " %u %u %u ", s.algorithm, s.labels, s.ttl);
		if (ret == 0)
			ret = put_time(out, s.expiration);
		if (ret == 0)
			ret = cbuf_putc(out, ' ');
		if (ret == 0)
			ret = put_time(out, s.inception);
		if (ret == 0)
			ret = cbuf_printf(out, " %u ", s.keytag);
		if (ret == 0)
			ret = put_name(out, s.signer, len - (size_t)(s.signer - p), &used);
		if (ret == 0)
			ret = cbuf_putc(out, ' ');
		return ret == 0 ? put_b64(out, s.sig, s.sig_len) : ret;
	}
	case DNS_NSEC:
		ret = put_name(out, p, len, &used);
		/* Window blocks: number, length, bitmap (RFC 4034 §4.1.2). */
		for (off = used; ret == 0 && off < len;) {
			unsigned win, blen;

			if (len - off < 2 || (blen = p[off + 1]) == 0 || blen > 32 ||
			    len - off - 2 < blen)
				return CC_EINVAL;
			win = p[off];
			for (unsigned b = 0; ret == 0 && b < blen * 8; b++)
				if (p[off + 2 + b / 8] & (0x80 >> (b % 8))) {
					ret = cbuf_putc(out, ' ');
					if (ret == 0)
						ret = put_type(out, (uint16_t)(win * 256 + b));
				}
			off += 2 + blen;
		}
		return ret;
	case DNS_ZONEMD:
		if (len < 6)
			return CC_EINVAL;
		ret = cbuf_printf(out, "%u %u %u ", dns_get32(p), p[4], p[5]);
		return ret == 0 ? put_hex(out, p + 6, len - 6) : ret;
	}
	return ret;
}

/* Master-file line of one record. */
static int zone_line(const struct zone_rr *r, struct cbuf *out)
{
	size_t used;
	int ret = put_name(out, r->owner, DNS_NAME_MAX, &used);

	if (ret == 0)
		ret = cbuf_printf(out, " %u IN ", r->ttl);
	if (ret == 0)
		ret = put_type(out, r->type);
	if (ret == 0)
		ret = cbuf_putc(out, ' ');
	if (ret == 0)
		ret = zone_rdata_text(r->type, r->rdata, r->rdlen, out);
	if (ret == 0)
		ret = cbuf_putc(out, '\n');
	return ret;
}

/* The SOA first, as master files and zone transfers have it, then canonical order. */
int zone_write(const struct zone *z, struct cbuf *out)
{
	int ret = 0;

	for (size_t i = 0; ret == 0 && i < z->n; i++)
		if (z->rr[i].type == DNS_SOA && dns_name_labels(z->rr[i].owner) == 0)
			ret = zone_line(&z->rr[i], out);
	for (size_t i = 0; ret == 0 && i < z->n; i++) {
		const struct zone_rr *r = &z->rr[i];

		if (r->type == DNS_SOA && dns_name_labels(r->owner) == 0)
			continue;
		ret = zone_line(r, out);
	}
	return ret;
}
