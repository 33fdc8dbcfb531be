#include "dns/answer.h"

#include <stdlib.h>
#include <string.h>

#include "dns/wire.h"

#define ANS_HDR	      12
#define ANS_OPT_LEN   11 /* root name, type, class, ttl, rdlength 0 */
#define ANS_CT_SLOTS  256
#define ANS_TYPE_ANY  255
#define ANS_TYPE_AXFR 252
#define ANS_TYPE_IXFR 251

struct ans_node {
	const uint8_t *name; /* owner, in the zone's records */
	uint32_t first, n;   /* its records z->rr[first .. first + n) */
	uint8_t deleg;	     /* a delegation point (NS below the apex) */
	uint8_t nsec;	     /* has an NSEC record: authoritative */
};

struct ans_zone {
	const struct zone *z;
	struct ans_node *nodes; /* canonical order, the apex first */
	size_t n;
	struct zone_delta *const *hist; /* versions that led to z, oldest first (not owned) */
	size_t nhist;
};

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

int ans_zone_new(const struct zone *z, struct ans_zone **out)
{
	struct ans_zone *az = calloc(1, sizeof(*az));
	size_t cap = 0;

	*out = NULL;
	if (az == NULL)
		return CC_ENOMEM;
	az->z = z;
	for (size_t i = 0; i < z->n;) {
		struct ans_node *nd;
		size_t j = i;

		if (az->n == cap) {
			struct ans_node *v;

			cap = cap ? 2 * cap : 4096;
			v = realloc(az->nodes, cap * sizeof(*v));
			if (v == NULL) {
				ans_zone_free(az);
				return CC_ENOMEM;
			}
			az->nodes = v;
		}
		nd = &az->nodes[az->n++];
		memset(nd, 0, sizeof(*nd));
		nd->name = z->rr[i].owner;
		nd->first = (uint32_t)i;
		for (; j < z->n && dns_name_cmp(z->rr[j].owner, nd->name) == 0; j++) {
			nd->nsec |= z->rr[j].type == DNS_NSEC;
			nd->deleg |= z->rr[j].type == DNS_NS && dns_name_labels(nd->name) > 0;
		}
		nd->n = (uint32_t)(j - i);
		i = j;
	}
	if (az->n == 0 || dns_name_labels(az->nodes[0].name) != 0) {
		ans_zone_free(az);
		return CC_EINVAL;
	}
	*out = az;
	return 0;
}

void ans_zone_free(struct ans_zone *az)
{
	if (az == NULL)
		return;
	free(az->nodes);
	free(az);
}

/* First node at or after name in canonical order (az->n when none). */
static size_t node_lower(const struct ans_zone *az, const uint8_t *name)
{
	size_t lo = 0, hi = az->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (dns_name_cmp(az->nodes[mid].name, name) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static const struct ans_node *node_find(const struct ans_zone *az, const uint8_t *name)
{
	size_t i = node_lower(az, name);

	return i < az->n && dns_name_cmp(az->nodes[i].name, name) == 0 ? &az->nodes[i] : NULL;
}

/* The name exists in the zone, as a node or as an empty non-terminal above one. */
static int name_exists(const struct ans_zone *az, const uint8_t *name)
{
	size_t i = node_lower(az, name);

	return i < az->n && dns_name_is_below(az->nodes[i].name, name);
}

/* The authoritative node whose NSEC covers name: the last one before it. */
static const struct ans_node *node_cover(const struct ans_zone *az, const uint8_t *name)
{
	size_t i = node_lower(az, name);

	while (i > 0) {
		i--;
		if (az->nodes[i].nsec)
			return &az->nodes[i];
	}
	return &az->nodes[0];
}

/* The records of type at a node: [*first, *first + return). */
static size_t node_set(const struct ans_zone *az, const struct ans_node *nd, uint16_t type,
		       size_t *first)
{
	const struct zone_rr *rr = az->z->rr;
	size_t i = nd->first, end = nd->first + nd->n;

	while (i < end && rr[i].type < type)
		i++;
	*first = i;
	while (i < end && rr[i].type == type)
		i++;
	return i - *first;
}

/* ---- writing a message ---- */

struct ct_entry {	    /* a name written at off: its uncompressed suffix at src */
	const uint8_t *src; /* wire bytes of the suffix (zone or question, any case) */
	uint16_t off;	    /* where it is in the message */
	uint8_t len;	    /* wire length of the suffix */
	uint8_t used;
};

struct msg {
	uint8_t *p;
	size_t len;   /* bytes written */
	size_t limit; /* bytes the answer may take (room for the OPT record kept apart) */
	int tc;	      /* something that had to be sent did not fit */
	struct ct_entry ct[ANS_CT_SLOTS];
};

static uint8_t lower(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? (uint8_t)(c + 32) : c;
}

static unsigned ct_hash(const uint8_t *s, size_t len)
{
	unsigned h = 2166136261u;

	for (size_t i = 0; i < len; i++)
		h = (h ^ lower(s[i])) * 16777619u;
	return h;
}

static int same_name(const uint8_t *a, const uint8_t *b, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (lower(a[i]) != lower(b[i]))
			return 0;
	return 1;
}

static struct ct_entry *ct_find(struct msg *m, const uint8_t *s, size_t len)
{
	unsigned h = ct_hash(s, len);

	for (unsigned k = 0; k < ANS_CT_SLOTS; k++) {
		struct ct_entry *c = &m->ct[(h + k) % ANS_CT_SLOTS];

		if (!c->used || (c->len == len && same_name(c->src, s, len)))
			return c;
	}
	return NULL;
}

/* Writes a name, compressed against what the message holds (O(1) per label). */
static int put_name(struct msg *m, const uint8_t *name, int compress)
{
	const uint8_t *s = name;

	while (s[0] != 0) {
		size_t len = dns_name_len(s);
		struct ct_entry *c = compress ? ct_find(m, s, len) : NULL;

		if (c && c->used) {
			if (m->len + 2 > m->limit)
				return -1;
			dns_put16(m->p + m->len, (uint16_t)(0xC000 | c->off));
			m->len += 2;
			return 0;
		}
		if (m->len + 1 + s[0] > m->limit)
			return -1;
		if (c && m->len < 0x3FFF) {
			c->used = 1;
			c->src = s;
			c->len = (uint8_t)len;
			c->off = (uint16_t)m->len;
		}
		memcpy(m->p + m->len, s, 1 + (size_t)s[0]);
		m->len += 1 + (size_t)s[0];
		s += 1 + s[0];
	}
	if (m->len + 1 > m->limit)
		return -1;
	m->p[m->len++] = 0;
	return 0;
}

/* Forgets what was written from len on, compression entries included. */
static void msg_cut(struct msg *m, size_t len)
{
	m->len = len;
	for (int k = 0; k < ANS_CT_SLOTS; k++)
		if (m->ct[k].used && m->ct[k].off >= len)
			m->ct[k].used = 0;
	/* A cleared slot may sit inside a probe chain: rebuild the table from what is left. */
	{
		struct ct_entry keep[ANS_CT_SLOTS];
		int n = 0;

		for (int k = 0; k < ANS_CT_SLOTS; k++)
			if (m->ct[k].used)
				keep[n++] = m->ct[k];
		memset(m->ct, 0, sizeof(m->ct));
		for (int k = 0; k < n; k++) {
			struct ct_entry *c = ct_find(m, keep[k].src, keep[k].len);

			if (c)
				*c = keep[k];
		}
	}
}

/* One record; on overflow nothing of it stays. */
static int put_rr(struct msg *m, const uint8_t *owner, const struct zone_rr *r)
{
	size_t start = m->len, rdpos, off = 0;
	int ret = put_name(m, owner, 1);

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
		/* Names in NS and SOA rdata may be compressed (RFC 3597 §4); no other's. */
		ret = put_name(m, r->rdata, 1);
		off = dns_name_len(r->rdata);
		if (ret == 0 && r->type == DNS_SOA) {
			ret = put_name(m, r->rdata + off, 1);
			off += dns_name_len(r->rdata + off);
		}
	}
	if (ret == 0 && m->len + (r->rdlen - off) > m->limit)
		ret = -1;
	if (ret == 0) {
		memcpy(m->p + m->len, r->rdata + off, r->rdlen - off);
		m->len += r->rdlen - off;
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
	uint16_t qtype;
	int dnssec;	   /* DO bit */
	uint16_t count[3]; /* answer, authority, additional */
};

/* The RRset of type at nd, with its RRSIG when DNSSEC was asked for, into section sec.
 * Returns the records written or -1 (nothing of them stays) when it does not fit. */
static int put_set(struct ans_ctx *c, const struct ans_node *nd, uint16_t type, int sec,
		   const uint8_t *owner)
{
	const struct zone_rr *rr = c->az->z->rr;
	size_t first, n = node_set(c->az, nd, type, &first), start = c->m->len, sfirst, ns;
	int wrote = 0;

	for (size_t i = 0; i < n; i++, wrote++)
		if (put_rr(c->m, owner ? owner : nd->name, &rr[first + i]) < 0)
			goto full;
	if (c->dnssec && n > 0) {
		ns = node_set(c->az, nd, DNS_RRSIG, &sfirst);
		for (size_t i = 0; i < ns; i++) {
			const struct zone_rr *s = &rr[sfirst + i];

			if (s->rdlen < 2 || dns_get16(s->rdata) != type)
				continue;
			if (put_rr(c->m, owner ? owner : nd->name, s) < 0)
				goto full;
			wrote++;
		}
	}
	c->count[sec] += (uint16_t)wrote;
	return wrote;
full:
	msg_cut(c->m, start);
	return -1;
}

/* Additional section for an NS RRset at nd: its targets' addresses the zone holds, every
 * IPv4 address first, then IPv6 (the ones most resolvers can use come first when not all
 * fit). Addresses that do not fit are left out; in-domain glue that does not fit makes the
 * answer truncated (RFC 9471). */
static void put_ns_addrs(struct ans_ctx *c, const struct ans_node *nd)
{
	static const uint16_t order[2] = {DNS_A, DNS_AAAA};
	const struct zone_rr *rr = c->az->z->rr;
	size_t first, n = node_set(c->az, nd, DNS_NS, &first);

	for (int k = 0; k < 2; k++)
		for (size_t i = 0; i < n; i++) {
			const uint8_t *target = rr[first + i].rdata;
			const struct ans_node *h = node_find(c->az, target);

			if (h && put_set(c, h, order[k], 2, NULL) < 0)
				c->m->tc |= dns_name_is_below(target, nd->name);
		}
}

/* SOA (and its RRSIG) in the authority section, for negative answers. */
static int put_soa(struct ans_ctx *c)
{
	return put_set(c, &c->az->nodes[0], DNS_SOA, 1, NULL);
}

static void ans_referral(struct ans_ctx *c, const struct ans_node *cut)
{
	if (put_set(c, cut, DNS_NS, 1, NULL) < 0) {
		c->m->tc = 1;
		return;
	}
	/* With DNSSEC: the DS, or the NSEC that proves there is none (RFC 4035 §3.1.4). */
	if (c->dnssec) {
		int n = put_set(c, cut, DNS_DS, 1, NULL);

		if (n < 0 || (n == 0 && put_set(c, cut, DNS_NSEC, 1, NULL) < 0)) {
			c->m->tc = 1;
			return;
		}
	}
	put_ns_addrs(c, cut);
}

/* NXDOMAIN or NODATA proof: SOA, then with DNSSEC the covering NSECs (RFC 4035 §3.1.3). */
static void ans_negative(struct ans_ctx *c, const struct ans_node *match, int nxdomain)
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
		 * NXDOMAIN also the wildcard at the closest encloser. */
		const uint8_t *ce = dns_name_parent(c->lname);
		uint8_t wild[DNS_NAME_MAX];

		a = node_cover(c->az, c->lname);
		if (nxdomain) {
			while (ce && ce[0] != 0 && !name_exists(c->az, ce))
				ce = dns_name_parent(ce);
			if (ce && dns_name_len(ce) + 2 <= DNS_NAME_MAX) {
				wild[0] = 1;
				wild[1] = '*';
				memcpy(wild + 2, ce, dns_name_len(ce));
				b = node_cover(c->az, wild);
				if (b == a)
					b = NULL;
			}
		}
	}
	if (put_set(c, a, DNS_NSEC, 1, NULL) < 0 || (b && put_set(c, b, DNS_NSEC, 1, NULL) < 0))
		c->m->tc = 1;
}

static int ans_lookup(struct ans_ctx *c)
{
	const struct ans_zone *az = c->az;
	const struct ans_node *nd, *tld = NULL;
	const uint8_t *t = c->lname;

	if (c->lname[0] != 0) {
		while (dns_name_labels(t) > 1)
			t = dns_name_parent(t);
		tld = node_find(az, t);
	}
	if (tld && tld->deleg) {
		/* At or below a cut: the child's data, but for the DS the parent holds. */
		if (t == c->lname && c->qtype == DNS_DS) {
			int n = put_set(c, tld, DNS_DS, 0, c->qname);

			if (n < 0)
				c->m->tc = 1;
			else if (n == 0)
				ans_negative(c, tld, 0);
			return 1;
		}
		ans_referral(c, tld);
		return 0;
	}
	nd = node_find(az, c->lname);
	if (nd == NULL) {
		ans_negative(c, NULL, !name_exists(az, c->lname));
		return name_exists(az, c->lname) ? 1 : -1;
	}
	if (c->qtype == ANS_TYPE_ANY) {
		/* Every RRset of the name (RRSIGs come with their sets when asked for). */
		const struct zone_rr *rr = az->z->rr;
		int n = 0;

		for (size_t i = nd->first; i < nd->first + nd->n && !c->m->tc; i++)
			if ((i == nd->first || rr[i].type != rr[i - 1].type) &&
			    rr[i].type != DNS_RRSIG) {
				int k = put_set(c, nd, rr[i].type, 0, c->qname);

				c->m->tc |= k < 0;
				n += k > 0 ? k : 0;
			}
		if (n == 0 && !c->m->tc)
			ans_negative(c, nd, 0);
		return 1;
	}
	{
		int n = put_set(c, nd, c->qtype, 0, c->qname);

		if (n < 0) {
			c->m->tc = 1;
			return 1;
		}
		if (n == 0) {
			ans_negative(c, nd, 0);
			return 1;
		}
		/* Priming: the root servers' addresses. */
		if (c->qtype == DNS_NS)
			put_ns_addrs(c, nd);
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

/* Skips a name that may be compressed (in an IXFR's SOA); 0 when malformed. */
static size_t skip_name(const uint8_t *msg, size_t len, size_t off)
{
	for (size_t labels = 0; off < len && labels < 128; labels++) {
		if ((msg[off] & 0xc0) == 0xc0)
			return off + 2 <= len ? off + 2 : 0;
		if (msg[off] & 0xc0)
			return 0;
		if (msg[off] == 0)
			return off + 1;
		off += 1 + (size_t)msg[off];
	}
	return 0;
}

/* The serial of the SOA an IXFR query carries in its authority section (RFC 1995 §3);
 * 1 when there is one (serial may be NULL), 0 when the query has none. */
static int ixfr_serial(const uint8_t *msg, size_t len, const struct ans_in *in, uint32_t *serial)
{
	size_t off, rdend;

	if (dns_get16(msg + 6) != 0 || dns_get16(msg + 8) != 1)
		return 0;
	off = skip_name(msg, len, in->qend);
	if (off == 0 || len - off < 10 || dns_get16(msg + off) != DNS_SOA)
		return 0;
	rdend = off + 10 + dns_get16(msg + off + 8);
	if (rdend > len)
		return 0;
	off = skip_name(msg, rdend, off + 10);
	off = off ? skip_name(msg, rdend, off) : 0;
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
	memset(&m, 0, sizeof(m));
	m.p = out;
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
	m.limit = limit - (in.edns ? ANS_OPT_LEN : 0);
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
			    put_rr(&m, in.qname, &az->z->rr[apex->first + i]) == 0)
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

		memset(&c, 0, sizeof(c));
		c.az = az;
		c.m = &m;
		c.qname = msg + ANS_HDR;
		memcpy(c.lname, in.qname, in.qname_len);
		dns_name_lower(c.lname);
		c.qtype = in.qtype;
		c.dnssec = in.edns && in.do_bit;
		/* The question's names compress against the question as it came. */
		for (const uint8_t *s = c.qname; s[0] != 0; s += 1 + s[0]) {
			struct ct_entry *e = ct_find(&m, s, dns_name_len(s));

			if (e && !e->used) {
				e->used = 1;
				e->src = s;
				e->len = (uint8_t)dns_name_len(s);
				e->off = (uint16_t)(s - msg);
			}
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
	memset(&m, 0, sizeof(m));
	m.p = out;
	m.limit = cap < ANS_MSG_MAX ? cap : ANS_MSG_MAX;
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
		if (put_rr(&m, r->owner, r) < 0)
			break;
		k++;
	}
	if (k == 0)
		return 0; /* a record larger than a message: cannot happen with this zone */
	dns_put16(out + 6, (uint16_t)k);
	return m.len;
}
