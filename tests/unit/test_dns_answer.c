/* Answers from the signed root zone: referrals with DS or NSEC, the DS from the parent side,
 * priming, NXDOMAIN and NODATA with their NSEC proofs, EDNS and the DO bit, truncation, and
 * the refusals (FORMERR, NOTIMP, REFUSED, BADVERS). Every answer must parse with libknot. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <libknot/libknot.h>

#include "dns/answer.h"
#include "dns/wire.h"
#include "zone_fixture.h"

struct a {
	size_t len;
	int rcode, aa, tc;
	unsigned an, ns, ar;
	knot_pkt_t *pkt;
	uint8_t wire[65535];
};

static struct a A; /* the last answer */
static struct ledger *L;
static struct zone *Z;
static struct ans_zone *AZ;
static struct dns_key KSK, ZSK;

static int setup(void **state)
{
	struct zone_keys zk = {.ksk = &KSK, .zsk = &ZSK};
	struct cc_err e = {0};

	(void)state;
	L = root_ledger(1);
	if (L == NULL)
		return 0;
	keys(&KSK, &ZSK);
	if (zone_build(L, &zk, EPOCH, &Z, &e) < 0 || ans_zone_new(Z, &AZ) < 0)
		return -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	knot_pkt_free(A.pkt);
	ans_zone_free(AZ);
	zone_free(Z);
	ledger_free(L);
	return 0;
}

struct q {
	const char *name;
	uint16_t type, qclass;
	int edns, dnssec;
	uint16_t udp;
};

static size_t query(const struct q *q, uint8_t *msg)
{
	size_t len = 12;
	int n;

	memset(msg, 0, 12);
	dns_put16(msg, 0x1234);
	msg[2] = 0x01; /* RD */
	dns_put16(msg + 4, 1);
	n = dns_name_from_text(msg + len, q->name);
	assert_true(n > 0);
	len += (size_t)n;
	dns_put16(msg + len, q->type);
	dns_put16(msg + len + 2, q->qclass ? q->qclass : DNS_CLASS_IN);
	len += 4;
	if (q->edns) {
		dns_put16(msg + 10, 1);
		msg[len] = 0;
		dns_put16(msg + len + 1, DNS_OPT);
		dns_put16(msg + len + 3, q->udp ? q->udp : 1232);
		msg[len + 5] = 0;
		msg[len + 6] = 0;
		msg[len + 7] = q->dnssec ? 0x80 : 0;
		msg[len + 8] = 0;
		dns_put16(msg + len + 9, 0);
		len += 11;
	}
	return len;
}

static struct a *ask(const struct q *q, int tcp)
{
	struct a *a0 = &A;
	struct ans_query aq = {.tcp = tcp, .udp_max = ANS_UDP_DEFAULT};
	uint8_t msg[600];
	size_t len = query(q, msg);

	knot_pkt_free(a0->pkt);
	memset(a0, 0, offsetof(struct a, wire));
	a0->len = ans_answer(AZ, &aq, msg, len, a0->wire, sizeof(a0->wire));
	assert_true(a0->len >= 12);
	assert_int_equal(dns_get16(a0->wire), 0x1234);
	assert_true(a0->wire[2] & 0x80);
	a0->aa = (a0->wire[2] & 0x04) != 0;
	a0->tc = (a0->wire[2] & 0x02) != 0;
	a0->rcode = a0->wire[3] & 15;
	a0->an = dns_get16(a0->wire + 6);
	a0->ns = dns_get16(a0->wire + 8);
	a0->ar = dns_get16(a0->wire + 10);
	/* A well-formed message, every name and record in place. */
	a0->pkt = knot_pkt_new(a0->wire, (uint16_t)a0->len, NULL);
	assert_non_null(a0->pkt);
	assert_int_equal(knot_pkt_parse(a0->pkt, 0), KNOT_EOK);
	return a0;
}

/* Records of type in a section of the last answer. */
static unsigned in_section(const struct a *a, knot_section_t s, uint16_t type)
{
	const knot_pktsection_t *sec = knot_pkt_section(a->pkt, s);
	unsigned n = 0;

	for (uint16_t i = 0; i < sec->count; i++)
		n += knot_pkt_rr(sec, i)->type == type;
	return n;
}

static void test_priming(void **state)
{
	struct a *a;

	if (AZ == NULL)
		skip();
	a = ask(&(struct q){".", DNS_NS, 0, 1, 1, 0}, 0);
	assert_int_equal(a->rcode, 0);
	assert_true(a->aa && !a->tc);
	assert_int_equal(in_section(a, KNOT_ANSWER, DNS_NS), 2);
	assert_int_equal(in_section(a, KNOT_ANSWER, DNS_RRSIG), 1);
	/* cn's in-zone server with its signatures, isoc's glue under net. without */
	assert_int_equal(in_section(a, KNOT_ADDITIONAL, DNS_A), 2);
	assert_int_equal(in_section(a, KNOT_ADDITIONAL, DNS_AAAA), 1);
	assert_int_equal(in_section(a, KNOT_ADDITIONAL, DNS_RRSIG), 2);
	assert_int_equal(in_section(a, KNOT_ADDITIONAL, DNS_OPT), 1);
	/* without DO, no signature anywhere */
	a = ask(&(struct q){".", DNS_NS, 0, 1, 0, 0}, 0);
	assert_int_equal(a->an, 2);
	assert_int_equal(in_section(a, KNOT_ADDITIONAL, DNS_RRSIG), 0);
}

static void test_referral(void **state)
{
	struct a *a;

	if (AZ == NULL)
		skip();
	/* cn. is signed: NS, DS and its RRSIG, glue. Not authoritative. */
	a = ask(&(struct q){"www.gov.CN.", DNS_A, 0, 1, 1, 0}, 0);
	assert_int_equal(a->rcode, 0);
	assert_false(a->aa);
	assert_int_equal(a->an, 0);
	assert_int_equal(in_section(a, KNOT_AUTHORITY, DNS_NS), 6);
	assert_int_equal(in_section(a, KNOT_AUTHORITY, DNS_DS), 1);
	assert_int_equal(in_section(a, KNOT_AUTHORITY, DNS_RRSIG), 1);
	assert_true(in_section(a, KNOT_ADDITIONAL, DNS_A) >= 5);
	/* An unsigned delegation: the NSEC that proves it has no DS. */
	a = ask(&(struct q){"xn--fiqs8s.", DNS_NS, 0, 1, 1, 0}, 0);
	if (in_section(a, KNOT_AUTHORITY, DNS_DS) == 0) {
		assert_int_equal(in_section(a, KNOT_AUTHORITY, DNS_NSEC), 1);
		assert_int_equal(in_section(a, KNOT_AUTHORITY, DNS_RRSIG), 1);
	}
	/* Without EDNS a referral still fits 512 bytes: glue that does not is left out. */
	a = ask(&(struct q){"example.com.", DNS_A, 0, 0, 0, 0}, 0);
	assert_true(a->len <= 512);
	assert_false(a->tc);
	assert_int_equal(in_section(a, KNOT_AUTHORITY, DNS_NS), 13);
}

static void test_ds_from_parent(void **state)
{
	struct a *a;

	if (AZ == NULL)
		skip();
	a = ask(&(struct q){"cn.", DNS_DS, 0, 1, 1, 0}, 0);
	assert_int_equal(a->rcode, 0);
	assert_true(a->aa);
	assert_int_equal(in_section(a, KNOT_ANSWER, DNS_DS), 1);
	assert_int_equal(in_section(a, KNOT_ANSWER, DNS_RRSIG), 1);
	assert_int_equal(a->ns, 0);
}

static void test_negative(void **state)
{
	struct a *a;

	if (AZ == NULL)
		skip();
	/* NXDOMAIN: SOA, the NSEC over the name and the one over the wildcard, signed. */
	a = ask(&(struct q){"no-such-tld-here.", DNS_A, 0, 1, 1, 0}, 0);
	assert_int_equal(a->rcode, 3);
	assert_true(a->aa);
	assert_int_equal(a->an, 0);
	assert_int_equal(in_section(a, KNOT_AUTHORITY, DNS_SOA), 1);
	assert_int_equal(in_section(a, KNOT_AUTHORITY, DNS_NSEC), 2);
	assert_int_equal(in_section(a, KNOT_AUTHORITY, DNS_RRSIG), 3);
	/* Before the first TLD: the apex NSEC covers both. */
	a = ask(&(struct q){"0.", DNS_A, 0, 1, 1, 0}, 0);
	assert_int_equal(a->rcode, 3);
	assert_int_equal(in_section(a, KNOT_AUTHORITY, DNS_NSEC), 1);
	/* NODATA at the apex, and at an empty non-terminal. */
	a = ask(&(struct q){".", DNS_A, 0, 1, 1, 0}, 0);
	assert_int_equal(a->rcode, 0);
	assert_true(a->aa);
	assert_int_equal(a->an, 0);
	assert_int_equal(in_section(a, KNOT_AUTHORITY, DNS_NSEC), 1);
	a = ask(&(struct q){"root.concord.example.", DNS_A, 0, 1, 1, 0}, 0);
	assert_int_equal(a->rcode, 0);
	assert_int_equal(a->an, 0);
	assert_int_equal(in_section(a, KNOT_AUTHORITY, DNS_SOA), 1);
	assert_int_equal(in_section(a, KNOT_AUTHORITY, DNS_NSEC), 1);
	/* Without DO: the SOA only. */
	a = ask(&(struct q){"no-such-tld-here.", DNS_A, 0, 0, 0, 0}, 0);
	assert_int_equal(a->rcode, 3);
	assert_int_equal(a->ns, 1);
}

static void test_apex(void **state)
{
	struct a *a;

	if (AZ == NULL)
		skip();
	a = ask(&(struct q){".", DNS_DNSKEY, 0, 1, 1, 0}, 0);
	assert_int_equal(in_section(a, KNOT_ANSWER, DNS_DNSKEY), 2);
	assert_int_equal(in_section(a, KNOT_ANSWER, DNS_RRSIG), 1);
	a = ask(&(struct q){".", DNS_SOA, 0, 0, 0, 0}, 0);
	assert_int_equal(a->an, 1);
	assert_true(a->aa);
	a = ask(&(struct q){".", DNS_ZONEMD, 0, 1, 1, 0}, 0);
	assert_int_equal(in_section(a, KNOT_ANSWER, DNS_ZONEMD), 1);
	a = ask(&(struct q){"ns.cn.root.concord.example.", DNS_AAAA, 0, 1, 1, 0}, 0);
	assert_int_equal(in_section(a, KNOT_ANSWER, DNS_AAAA), 1);
	assert_int_equal(in_section(a, KNOT_ANSWER, DNS_RRSIG), 1);
}

static void test_truncation(void **state)
{
	struct a *a;

	if (AZ == NULL)
		skip();
	/* The apex ANY with signatures cannot fit 512 bytes: TC, the question alone; over TCP
	 * it all comes. */
	a = ask(&(struct q){".", 255, 0, 1, 1, 512}, 0);
	assert_true(a->tc);
	assert_int_equal(a->an + a->ns, 0);
	a = ask(&(struct q){".", 255, 0, 1, 1, 512}, 1);
	assert_false(a->tc);
	assert_true(a->an >= 8);
}

static void test_refusals(void **state)
{
	struct ans_query aq = {.udp_max = ANS_UDP_DEFAULT};
	uint8_t msg[600], out[4096];
	size_t len;
	struct a *a;

	if (AZ == NULL)
		skip();
	a = ask(&(struct q){"cn.", DNS_A, 3 /* CH */, 0, 0, 0}, 0);
	assert_int_equal(a->rcode, ANS_REFUSED);
	a = ask(&(struct q){".", 252 /* AXFR */, 0, 0, 0, 0}, 0);
	assert_int_equal(a->rcode, ANS_REFUSED);
	/* opcode 2 (STATUS) */
	len = query(&(struct q){"cn.", DNS_A, 0, 0, 0, 0}, msg);
	msg[2] |= 2 << 3;
	len = ans_answer(AZ, &aq, msg, len, out, sizeof(out));
	assert_int_equal(out[3] & 15, ANS_NOTIMP);
	/* two questions, a truncated question, trailing garbage: FORMERR */
	len = query(&(struct q){"cn.", DNS_A, 0, 0, 0, 0}, msg);
	dns_put16(msg + 4, 2);
	assert_true(ans_answer(AZ, &aq, msg, len, out, sizeof(out)) >= 12);
	assert_int_equal(out[3] & 15, ANS_FORMERR);
	len = query(&(struct q){"cn.", DNS_A, 0, 0, 0, 0}, msg);
	assert_true(ans_answer(AZ, &aq, msg, len - 3, out, sizeof(out)) >= 12);
	assert_int_equal(out[3] & 15, ANS_FORMERR);
	msg[len] = 0;
	assert_true(ans_answer(AZ, &aq, msg, len + 1, out, sizeof(out)) >= 12);
	assert_int_equal(out[3] & 15, ANS_FORMERR);
	/* EDNS version 1: BADVERS (extended rcode 1 in the OPT) */
	len = query(&(struct q){"cn.", DNS_A, 0, 1, 0, 0}, msg);
	msg[len - 5] = 1;
	len = ans_answer(AZ, &aq, msg, len, out, sizeof(out));
	assert_int_equal(out[3] & 15, 0);
	assert_int_equal(out[len - 6], 1);
	/* a response, or less than a header: no answer at all */
	len = query(&(struct q){"cn.", DNS_A, 0, 0, 0, 0}, msg);
	msg[2] |= 0x80;
	assert_int_equal(ans_answer(AZ, &aq, msg, len, out, sizeof(out)), 0);
	assert_int_equal(ans_answer(AZ, &aq, msg, 11, out, sizeof(out)), 0);
}

/* The first record of Z at or after name in canonical order: the zone's own order, searched
 * without the answering index. */
static size_t zone_lower(const uint8_t *name)
{
	size_t lo = 0, hi = Z->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (dns_name_cmp(Z->rr[mid].owner, name) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The owner of the NSEC that covers name: the last one before it. */
static const uint8_t *nsec_before(const uint8_t *name)
{
	for (size_t i = zone_lower(name); i > 0; i--)
		if (Z->rr[i - 1].type == DNS_NSEC)
			return Z->rr[i - 1].owner;
	return Z->rr[0].owner;
}

/* The last answer's authority section has an NSEC owned by owner. */
static int has_nsec(const struct a *a, const uint8_t *owner)
{
	const knot_pktsection_t *sec = knot_pkt_section(a->pkt, KNOT_AUTHORITY);

	for (uint16_t i = 0; i < sec->count; i++) {
		const knot_rrset_t *rr = knot_pkt_rr(sec, i);

		if (rr->type == DNS_NSEC && dns_name_cmp(rr->owner, owner) == 0)
			return 1;
	}
	return 0;
}

/* Names that sort where octets 0, 1 and 2, upper case, prefixes and long labels decide:
 * the NSEC over each, and over the wildcard at its closest encloser, are the ones the
 * zone's own order gives. */
static void test_nsec_order(void **state)
{
	static const char *names[] = {
	    "\\000.",
	    "\\001.",
	    "\\002.",
	    "a\\000.",
	    "a\\001.",
	    "a\\001b.",
	    "a\\002.",
	    "CN\\000.",
	    "cn\\001.",
	    "cn\\255.",
	    "\\255\\255.",
	    "~.",
	    "-.",
	    "ZZZZ.",
	    "x.\\000.",
	    "\\000.\\001.",
	    "Aaaq.",
	    "aa\\000a.",
	    "x.root.concord.example.",
	    "\\000.root.concord.example.",
	    "a.b.concord.example.",
	    "zz.ns.cn.root.concord.example.",
	    "EXAMPLE.",
	};
	uint8_t name[DNS_NAME_MAX], wild[DNS_NAME_MAX];
	struct a *a;

	if (AZ == NULL)
		skip();
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const uint8_t *ce;
		size_t k;

		assert_true(dns_name_from_text(name, names[i]) > 0);
		a = ask(&(struct q){names[i], DNS_A, 0, 1, 1, 0}, 1);
		k = zone_lower(name);
		if (k < Z->n && dns_name_cmp(Z->rr[k].owner, name) == 0)
			fail_msg("%s: in the zone", names[i]);
		assert_true(has_nsec(a, nsec_before(name)));
		if (a->rcode != ANS_NXDOMAIN) {
			/* an empty non-terminal: NODATA */
			assert_int_equal(a->rcode, 0);
			assert_true(k < Z->n && dns_name_is_below(Z->rr[k].owner, name));
			continue;
		}
		/* The closest encloser: the nearest ancestor with a name at or below it. */
		for (ce = dns_name_parent(name); ce[0] != 0; ce = dns_name_parent(ce)) {
			k = zone_lower(ce);
			if (k < Z->n && dns_name_is_below(Z->rr[k].owner, ce))
				break;
		}
		wild[0] = 1;
		wild[1] = '*';
		memcpy(wild + 2, ce, dns_name_len(ce));
		assert_true(has_nsec(a, nsec_before(wild)));
	}
}

/* Every delegation's referral over TCP (nothing left out): its NS set, and the addresses
 * the zone holds for each target, found here by the zone's own order. */
static void test_every_referral(void **state)
{
	char text[DNS_NAME_TEXT_MAX + 2];
	size_t tlds = 0;
	struct a *a;

	if (AZ == NULL)
		skip();
	for (size_t i = 0; i < Z->n;) {
		const uint8_t *tld = Z->rr[i].owner;
		unsigned ns = 0, v4 = 0, v6 = 0;
		size_t j = i;

		for (; j < Z->n && dns_name_cmp(Z->rr[j].owner, tld) == 0; j++) {
			size_t k;

			if (Z->rr[j].type != DNS_NS)
				continue;
			ns++;
			for (k = zone_lower(Z->rr[j].rdata);
			     k < Z->n && dns_name_cmp(Z->rr[k].owner, Z->rr[j].rdata) == 0; k++) {
				v4 += Z->rr[k].type == DNS_A;
				v6 += Z->rr[k].type == DNS_AAAA;
			}
		}
		i = j;
		if (ns == 0 || dns_name_labels(tld) != 1)
			continue;
		text[0] = 'x';
		text[1] = '.';
		assert_true(dns_name_to_text(tld, text + 2, sizeof(text) - 2) > 0);
		a = ask(&(struct q){text, DNS_A, 0, 1, 0, 0}, 1);
		assert_int_equal(a->rcode, 0);
		assert_false(a->aa || a->tc);
		assert_int_equal(in_section(a, KNOT_AUTHORITY, DNS_NS), ns);
		assert_int_equal(in_section(a, KNOT_ADDITIONAL, DNS_A), v4);
		assert_int_equal(in_section(a, KNOT_ADDITIONAL, DNS_AAAA), v6);
		tlds++;
	}
	assert_true(tlds > 1000);
}

/* Names compress against the question as it was sent, whatever its case: the referral's
 * owner is a pointer to "Org." in "WWW.Org.", which is echoed as it came. */
static void test_compress_to_question(void **state)
{
	struct ans_query aq = {.udp_max = ANS_UDP_DEFAULT};
	uint8_t msg[600], out[4096];
	size_t len, qend = 12 + 9 + 4;

	if (AZ == NULL)
		skip();
	len = query(&(struct q){"www.org.", DNS_A, 0, 0, 0, 0}, msg);
	memcpy(msg + 12, "\3WWW\3Org", 8);
	len = ans_answer(AZ, &aq, msg, len, out, sizeof(out));
	assert_true(len > qend + 2);
	assert_true(dns_get16(out + 8) > 0);
	assert_memory_equal(out + 12, "\3WWW\3Org", 8);
	assert_int_equal(out[qend], 0xC0);
	assert_int_equal(out[qend + 1], 12 + 4);
}

/* The whole of a few answers, as text, against tests/vectors/dns/golden.txt: the zone,
 * keys and epoch are fixed and Ed25519 is deterministic, so every byte is. With
 * CONCORD_GOLDEN_WRITE=1 the file is written instead (after a reviewed change). */
static void dump(struct cbuf *out, const char *title, const struct a *a)
{
	static const char *names[3] = {"answer", "authority", "additional"};
	size_t cap = 4096;
	char *buf = malloc(cap);

	assert_non_null(buf);
	cbuf_printf(out, "== %s\nrcode %d aa %d tc %d\n", title, a->rcode, a->aa, a->tc);
	for (int s = 0; s < 3; s++) {
		const knot_pktsection_t *sec = knot_pkt_section(a->pkt, (knot_section_t)s);

		for (uint16_t i = 0; i < sec->count; i++) {
			const knot_rrset_t *rr = knot_pkt_rr(sec, i);

			if (rr->type == DNS_OPT)
				continue;
			assert_true(knot_rrset_txt_dump(rr, &buf, &cap, &KNOT_DUMP_STYLE_DEFAULT) >
				    0);
			cbuf_printf(out, "%s %s", names[s], buf);
		}
	}
	free(buf);
}

static void test_golden(void **state)
{
	static const struct {
		const char *title;
		struct q q;
		int tcp;
	} cases[] = {
	    {"priming . NS +dnssec", {".", DNS_NS, 0, 1, 1, 0}, 0},
	    {"referral www.gov.cn. A +dnssec", {"www.gov.cn.", DNS_A, 0, 1, 1, 0}, 0},
	    {"insecure referral xn--fiqs8s. NS +dnssec", {"xn--fiqs8s.", DNS_NS, 0, 1, 1, 0}, 0},
	    {"DS from the parent cn. DS +dnssec", {"cn.", DNS_DS, 0, 1, 1, 0}, 0},
	    {"NXDOMAIN no-such-tld. A +dnssec", {"no-such-tld.", DNS_A, 0, 1, 1, 0}, 0},
	    {"NODATA at an empty non-terminal +dnssec",
	     {"root.concord.example.", DNS_A, 0, 1, 1, 0},
	     0},
	    {"apex SOA, no EDNS", {".", DNS_SOA, 0, 0, 0, 0}, 0},
	    {"referral without EDNS: org. A", {"org.", DNS_A, 0, 0, 0, 0}, 0},
	    {"class CH: REFUSED", {"cn.", DNS_A, 3, 0, 0, 0}, 0},
	};
	struct cbuf out = CBUF_INIT, want = CBUF_INIT;
	char path[4096];
	FILE *f;

	if (AZ == NULL)
		skip();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		dump(&out, cases[i].title, ask(&cases[i].q, cases[i].tcp));
	snprintf(path, sizeof(path), "%s/dns/golden.txt",
		 getenv("CONCORD_VECTORS") ? getenv("CONCORD_VECTORS") : "tests/vectors");
	if (getenv("CONCORD_GOLDEN_WRITE")) {
		f = fopen(path, "w");
		assert_non_null(f);
		assert_int_equal(fwrite(out.p, 1, out.len, f), out.len);
		fclose(f);
	}
	f = fopen(path, "r");
	if (f == NULL)
		fail_msg("%s: missing (CONCORD_GOLDEN_WRITE=1 writes it)", path);
	for (int ch; (ch = fgetc(f)) != EOF;)
		cbuf_putc(&want, (char)ch);
	fclose(f);
	if (want.len != out.len || memcmp(want.p, out.p, out.len) != 0) {
		size_t k = 0;

		while (k < want.len && k < out.len && want.p[k] == out.p[k])
			k++;
		fail_msg("answers differ from %s at byte %zu: ...%.200s", path, k, out.p + k);
	}
	cbuf_free(&out);
	cbuf_free(&want);
}

/* The budget of RFC 8901's model with one KSK: with 15 nodes (15 ZSKs in the DNSKEY RRset)
 * whose members run 15 name servers (in-zone names, signed addresses, IPv4 and IPv6), the
 * DNSKEY answer and the priming answer, with DO, fit the 1,232 bytes of EDNS over UDP and are
 * not truncated: the answer section whole, the additional section as much as fits. */
static void test_fifteen_nodes(void **state)
{
	static const char *const ids[15] = {"ar", "au", "br", "ca", "cn", "de", "eg", "fr",
					    "in", "jp", "ke", "mx", "ng", "ru", "za"};
	char dnsbuf[15][128];
	const char *dns[15];
	struct ledger *l;
	struct zone *z = NULL;
	struct ans_zone *az = NULL, *saved = AZ;
	struct dns_key zsk;
	struct zone_keys zk = {.ksk = &KSK, .zsk = &zsk};
	struct cc_err e = {0};
	struct a *a;

	(void)state;
	for (size_t i = 0; i < 15; i++) {
		snprintf(dnsbuf[i], sizeof(dnsbuf[i]),
			 "ns.%s.root.concord.example. 192.0.2.%zu 2001:db8::%zu", ids[i], i + 1,
			 i + 1);
		dns[i] = dnsbuf[i];
	}
	l = fixture_ledger(ids, dns, 15, 15, 0);
	assert_non_null(l);
	node_zsk(&zsk, 3);
	if (zone_build(l, &zk, EPOCH, &z, &e) < 0)
		fail_msg("%s", e.msg);
	assert_int_equal(ans_zone_new(z, &az), 0);
	AZ = az;
	a = ask(&(struct q){".", DNS_DNSKEY, 0, 1, 1, 1232}, 0);
	printf("DNSKEY . +dnssec, 15 nodes: %zu bytes, tc %d\n", a->len, a->tc);
	assert_true(a->len <= 1232 && !a->tc && a->aa);
	assert_int_equal(in_section(a, KNOT_ANSWER, DNS_DNSKEY), 16);
	assert_int_equal(in_section(a, KNOT_ANSWER, DNS_RRSIG), 1);
	a = ask(&(struct q){".", DNS_NS, 0, 1, 1, 1232}, 0);
	printf("priming . NS +dnssec, 15 name servers: %zu bytes, tc %d, %u A, %u AAAA, %u RRSIG "
	       "in the additional section\n",
	       a->len, a->tc, in_section(a, KNOT_ADDITIONAL, DNS_A),
	       in_section(a, KNOT_ADDITIONAL, DNS_AAAA), in_section(a, KNOT_ADDITIONAL, DNS_RRSIG));
	assert_true(a->len <= 1232 && !a->tc && a->aa);
	assert_int_equal(in_section(a, KNOT_ANSWER, DNS_NS), 15);
	assert_int_equal(in_section(a, KNOT_ANSWER, DNS_RRSIG), 1);
	/* Every address, before any signature of one. */
	assert_int_equal(in_section(a, KNOT_ADDITIONAL, DNS_A), 15);
	assert_int_equal(in_section(a, KNOT_ADDITIONAL, DNS_AAAA), 15);
	/* Without EDNS (512 bytes): the NS RRset whole, addresses as they fit, no TC. */
	a = ask(&(struct q){".", DNS_NS, 0, 0, 0, 0}, 0);
	assert_true(a->len <= 512 && !a->tc);
	assert_int_equal(in_section(a, KNOT_ANSWER, DNS_NS), 15);
	assert_true(in_section(a, KNOT_ADDITIONAL, DNS_A) > 0);
	AZ = saved;
	knot_pkt_free(A.pkt);
	A.pkt = NULL;
	ans_zone_free(az);
	zone_free(z);
	ledger_free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_priming),
	    cmocka_unit_test(test_referral),
	    cmocka_unit_test(test_ds_from_parent),
	    cmocka_unit_test(test_negative),
	    cmocka_unit_test(test_apex),
	    cmocka_unit_test(test_truncation),
	    cmocka_unit_test(test_refusals),
	    cmocka_unit_test(test_golden),
	    cmocka_unit_test(test_nsec_order),
	    cmocka_unit_test(test_every_referral),
	    cmocka_unit_test(test_compress_to_question),
	    cmocka_unit_test(test_fifteen_nodes),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, setup, teardown);
}
