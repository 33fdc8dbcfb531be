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

static int zone_add(struct zone *z, const uint8_t *owner, uint16_t type, uint32_t ttl,
		    const uint8_t *rdata, size_t rdlen, int auth)
{
	struct zone_rr *r;
	size_t olen = dns_name_len(owner);

	if (rdlen > UINT16_MAX)
		return CC_EINVAL;
	if (z->n == z->cap) {
		size_t cap = z->cap ? 2 * z->cap : 4096;
		struct zone_rr *v = realloc(z->rr, cap * sizeof(*v));

		if (v == NULL)
			return CC_ENOMEM;
		z->rr = v;
		z->cap = cap;
	}
	r = &z->rr[z->n];
	memset(r, 0, sizeof(*r));
	r->owner = malloc(olen);
	r->rdata = malloc(rdlen ? rdlen : 1);
	if (r->owner == NULL || r->rdata == NULL) {
		free(r->owner);
		free(r->rdata);
		return CC_ENOMEM;
	}
	memcpy(r->owner, owner, olen);
	if (rdlen)
		memcpy(r->rdata, rdata, rdlen);
	r->type = type;
	r->ttl = ttl;
	r->rdlen = (uint16_t)rdlen;
	r->auth = auth;
	z->n++;
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

void zone_free(struct zone *z)
{
	if (z == NULL)
		return;
	for (size_t i = 0; i < z->n; i++) {
		free(z->rr[i].owner);
		free(z->rr[i].rdata);
	}
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

struct cuts {	     /* delegation points: TLD owners, canonical order */
	uint8_t **v; /* wire names (pointing into the zone's records) */
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
		for (unsigned a = 0; ret == 0 && a < d->naddrs; a++) {
			uint8_t addr[16];
			int v6 = strchr(d->addrs[a], ':') != NULL;

			if (inet_pton(v6 ? AF_INET6 : AF_INET, d->addrs[a], addr) != 1)
				return cc_fail(e, CC_EINVAL, "member %s: bad address %s",
					       ledger_member_at(l, i)->id, d->addrs[a]);
			/* authority decided once the delegations are known */
			ret = zone_add(z, name, v6 ? DNS_AAAA : DNS_A, ZONE_TTL_APEX_NS, addr,
				       v6 ? 16 : 4, -1);
		}
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
		/* At a cut only the delegation's own NS and DS are the parent's types. */
		if (cut && z->rr[j].type != DNS_NS && z->rr[j].type != DNS_DS)
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

static int zone_zonemd(struct zone *z, const struct zone_keys *k)
{
	struct dns_zonemd *md = NULL;
	uint8_t digest[DNS_ZONEMD_DIGEST], rd[DNS_ZONEMD_RDATA];
	size_t n0;
	int ret = dns_zonemd_init(&md);

	for (size_t i = 0; ret == 0 && i < z->n; i++) {
		ret = dns_zonemd_add(md, z->rr[i].owner, z->rr[i].type, z->rr[i].ttl,
				     z->rr[i].rdata, z->rr[i].rdlen);
		if (ret == CC_EEXIST)
			ret = 0;
	}
	if (ret == 0)
		ret = dns_zonemd_final(md, digest);
	n0 = z->n;
	if (ret == 0)
		ret = zone_add(z, zone_root, DNS_ZONEMD, ZONE_TTL_NEGATIVE, rd,
			       dns_zonemd_rdata(z->serial, digest, rd), 1);
	dns_zonemd_free(md);
	if (ret == 0) {
		zone_merge(z, n0);
		n0 = z->n;
		ret = zone_sign(z, k, DNS_ZONEMD);
	}
	if (ret == 0)
		zone_merge(z, n0);
	return ret;
}

int zone_build(const struct ledger *l, const struct zone_keys *k, uint32_t epoch, struct zone **out,
	       struct cc_err *e)
{
	struct zone *z = calloc(1, sizeof(*z));
	struct rr_set dl = {0};
	struct cuts cuts = {0};
	uint8_t mname[DNS_NAME_MAX], rd[RR_RDATA_MAX + DNS_NAME_MAX], key[DNS_DNSKEY_RDATA];
	size_t len, n0;
	int ret;

	*out = NULL;
	if (z == NULL)
		return cc_fail(e, CC_ENOMEM, "out of memory");
	z->epoch = epoch;
	z->log_size = ledger_size(l);
	z->serial = (uint32_t)(ledger_size(l) + epoch);
	ret = zone_apex_ns(z, l, mname, e);
	if (ret < 0)
		goto out;
	ret = ledger_delegations(l, &dl);
	for (size_t i = 0; ret == 0 && i < dl.n; i++) {
		uint8_t owner[DNS_NAME_MAX];

		if (dns_name_from_text(owner, dl.v[i].owner) < 0 ||
		    zone_rdata_from_rr(&dl.v[i], rd, &len) < 0) {
			ret = cc_fail(e, CC_EINVAL, "record %s %s cannot be served", dl.v[i].owner,
				      dl.v[i].rdata);
			goto out;
		}
		/* A delegation's NS set belongs to the child; DS to the root. Glue is settled
		 * below. */
		ret = zone_add(z, owner, dl.v[i].type, dl.v[i].ttl, rd, len,
			       dl.v[i].type == RR_DS   ? 1
			       : dl.v[i].type == RR_NS ? 0
						       : -1);
	}
	if (ret < 0)
		goto fail;
	ret = soa_rdata(mname, z->serial, rd, &len);
	if (ret == 0)
		ret = zone_add(z, zone_root, DNS_SOA, ZONE_TTL_NEGATIVE, rd, len, 1);
	if (ret == 0)
		ret = zone_add(z, zone_root, DNS_DNSKEY, ZONE_TTL_DNSKEY, key,
			       dns_dnskey_rdata(k->ksk, key), 1);
	if (ret == 0)
		ret = zone_add(z, zone_root, DNS_DNSKEY, ZONE_TTL_DNSKEY, key,
			       dns_dnskey_rdata(k->zsk, key), 1);
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
			uint8_t **v = realloc(cuts.v, cap * sizeof(*v));

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
		ret = zone_zonemd(z, k);
	}
fail:
	if (ret < 0 && (e == NULL || e->code == 0))
		ret = cc_fail(e, ret, "cannot build the zone: %s", cc_strerror(ret));
out:
	free(cuts.v);
	rr_set_free(&dl);
	if (ret < 0) {
		zone_free(z);
		return ret;
	}
	*out = z;
	return 0;
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
