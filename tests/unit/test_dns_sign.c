/* DNSSEC signing and ZONEMD against published vectors and real validators:
 *   - RFC 8080 §6.1 (both Ed25519 examples, signatures as corrected by erratum 4935): key
 *     from the example private key, DNSKEY, key tag, DS, the signed data and the RRSIG over
 *     the MX RRset, byte for byte;
 *   - RFC 4034 §4.3's NSEC type bitmap;
 *   - RFC 8976 Appendix A.1-A.4 ZONEMD digests (simple, complex, root-servers.net and the
 *     signed uri.arpa zone), read with libzscanner;
 *   - a small root zone signed here (DNSKEY, RRSIG, NSEC chain, ZONEMD) and handed to
 *     ldns-verify-zone and BIND's dnssec-verify, with negative controls to show they look. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <libzscanner/scanner.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dns/sign.h"
#include "dns/wire.h"
#include "tools.h"

/* ---- helpers ---- */

static size_t unhex(const char *hex, uint8_t *out, size_t cap)
{
	size_t n = 0;

	assert_int_equal(sodium_hex2bin(out, cap, hex, strlen(hex), " \n", &n, NULL), 0);
	return n;
}

static void hex_equal(const uint8_t *p, size_t len, const char *want)
{
	char got[2 * 1024 + 1];

	assert_true(len <= 1024);
	sodium_bin2hex(got, sizeof(got), p, len);
	assert_string_equal(got, want);
}

static size_t unb64(const char *b64, uint8_t *out, size_t cap)
{
	size_t n = 0;

	assert_int_equal(sodium_base642bin(out, cap, b64, strlen(b64), " ", &n, NULL,
					   sodium_base64_VARIANT_ORIGINAL),
			 0);
	return n;
}

static void name(uint8_t w[DNS_NAME_MAX], const char *text)
{
	assert_true(dns_name_from_text(w, text) > 0);
}

/* ---- RFC 8080 §6.1 ---- */

struct rfc8080 {
	const char *priv, *pub; /* base64, as printed */
	uint16_t tag;
	const char *ds;		 /* DS digest, hex */
	const char *sig;	 /* RRSIG signature, base64, erratum 4935 */
	const char *sig_labels3; /* the signature first printed, over labels = 3 */
};

static const struct rfc8080 ex8080[] = {
    {"ODIyNjAzODQ2MjgwODAxMjI2NDUxOTAyMDQxNDIyNjI=", "l02Woi0iS8Aa25FQkUd9RMzZHJpBoRQwAQEX1SxZJA4=",
     3613, "3aa5ab37efce57f737fc1627013fee07bdf241bd10f3b1964ab55c78e79a304b",
     "oL9krJun7xfBOIWcGHi7mag5/hdZrKWw15jPGrHpjQeRAvTdszaPD+QLs3fx8A4M3e23mRZ9VrbpMngwcrqNAg==",
     "Edk+IB9KNNWg0HAjm7FazXyrd5m3Rk8zNZbvNpAcM+eysqcUOMIjWoevFkjH5GaMWeG96GUVZu6ECKOQmemHDg=="},
    {"DSSF3o0s0f+ElWzj9E/Osxw8hLpk55chkmx0LYN5WiY=", "zPnZ/QwEe7S8C5SPz2OfS5RR40ATk2/rYnE9xHIEijs=",
     35217, "401781b934e392de492ec77ae2e15d70f6575a1c0bc59c5275c04ebe80c6614c",
     "zXQ0bkYgQTEFyfLyi9QoiY6D8ZdYo4wyUhVioYZXFdT410QPRITQSqJSnzQoSm5poJ7gD7AQR0O7KuI5k2pcBg==",
     "5LL2obmzdqjWI+Xto5eP5adXt/T5tMhasWvwcyW4L3SzfcRawOle9bodhC+oip9ayUGjY9T/rL4rN3bOuESGDA=="},
};

#define EX_INCEPTION  1438207200u
#define EX_EXPIRATION 1440021600u

/* example.com. 3600 IN MX 10 mail.example.com. */
static size_t mx_rdata(uint8_t out[2 + DNS_NAME_MAX])
{
	out[0] = 0;
	out[1] = 10;
	return 2 + (size_t)dns_name_from_text(out + 2, "mail.example.com.");
}

static void test_rfc8080(void **state)
{
	uint8_t seed[32], pub[32], rd[DNS_DNSKEY_RDATA], ds[DNS_DS_RDATA], owner[DNS_NAME_MAX];
	uint8_t mx[2 + DNS_NAME_MAX], sig[64], first[64];
	struct dns_rdata rr;
	struct cbuf data = CBUF_INIT, rrsig = CBUF_INIT;
	size_t plen = 0;

	(void)state;
	name(owner, "example.com.");
	rr.p = mx;
	rr.len = (uint16_t)mx_rdata(mx);
	for (size_t i = 0; i < sizeof(ex8080) / sizeof(ex8080[0]); i++) {
		const struct rfc8080 *x = &ex8080[i];
		struct dns_key k;
		char want[200];

		assert_int_equal(unb64(x->priv, seed, sizeof(seed)), 32);
		assert_int_equal(unb64(x->pub, pub, sizeof(pub)), 32);
		assert_int_equal(dns_key_from_seed(&k, seed, DNS_KEY_KSK), 0);
		assert_memory_equal(k.pub, pub, 32);
		assert_int_equal(k.tag, x->tag);
		assert_true(k.has_private);
		/* DNSKEY 257 3 15 <key> */
		assert_int_equal(dns_dnskey_rdata(&k, rd), DNS_DNSKEY_RDATA);
		assert_memory_equal(rd, "\x01\x01\x03\x0f", 4);
		assert_memory_equal(rd + 4, pub, 32);
		assert_int_equal(dns_keytag(rd, sizeof(rd)), x->tag);
		/* DS <tag> 15 2 <digest> */
		assert_int_equal(dns_ds_rdata(owner, rd, sizeof(rd), ds), DNS_DS_RDATA);
		snprintf(want, sizeof(want), "%04x0f02%s", x->tag, x->ds);
		hex_equal(ds, sizeof(ds), want);

		/* What is signed: RRSIG MX 15 2 3600 <exp> <inc> <tag> example.com., then the
		 * MX record in canonical form. */
		assert_int_equal(dns_rrsig_data(owner, 15, 3600, &rr, 1, k.tag, owner, EX_INCEPTION,
						EX_EXPIRATION, &data, &plen),
				 0);
		assert_int_equal(plen, 18 + 13);
		snprintf(want, sizeof(want),
			 "000f0f0200000e1055d4fc6055b94ce0%04x076578616d706c6503636f6d00"
			 "076578616d706c6503636f6d00000f000100000e100014000a046d61696c07"
			 "6578616d706c6503636f6d00",
			 x->tag);
		hex_equal((const uint8_t *)data.p, data.len, want);

		cbuf_reset(&rrsig);
		assert_int_equal(dns_rrsig(&k, owner, 15, 3600, &rr, 1, owner, EX_INCEPTION,
					   EX_EXPIRATION, &rrsig),
				 0);
		assert_int_equal(rrsig.len, plen + 64);
		assert_memory_equal(rrsig.p, data.p, plen);
		assert_int_equal(unb64(x->sig, sig, sizeof(sig)), 64);
		assert_memory_equal(rrsig.p + plen, sig, 64);
		assert_int_equal(dns_rrsig_verify(&k, owner, 15, 3600, &rr, 1,
						  (const uint8_t *)rrsig.p, rrsig.len),
				 0);

		/* The signature RFC 8080 first printed is over the same data with the labels
		 * field 3 instead of 2 (for a two-label owner): why erratum 4935 replaced it. */
		data.p[3] = 3;
		assert_int_equal(
		    crypto_sign_detached(sig, NULL, (const uint8_t *)data.p, data.len, k.sk), 0);
		assert_int_equal(unb64(x->sig_labels3, first, sizeof(first)), 64);
		assert_memory_equal(sig, first, 64);
		dns_key_wipe(&k);
	}
	cbuf_free(&data);
	cbuf_free(&rrsig);
}

static void test_public_only(void **state)
{
	uint8_t pub[32], seed[32], owner[DNS_NAME_MAX], mx[2 + DNS_NAME_MAX], zero[32] = {0};
	struct dns_key k, full;
	struct dns_rdata rr;
	struct cbuf out = CBUF_INIT;

	(void)state;
	unb64(ex8080[0].pub, pub, sizeof(pub));
	assert_int_equal(dns_key_from_public(&k, pub, DNS_KEY_KSK), 0);
	assert_false(k.has_private);
	assert_int_equal(k.tag, 3613);
	assert_memory_equal(k.sk, (uint8_t[64]){0}, 64);
	name(owner, "example.com.");
	rr.p = mx;
	rr.len = (uint16_t)mx_rdata(mx);
	assert_int_equal(dns_rrsig(&k, owner, 15, 3600, &rr, 1, owner, 1, 2, &out), CC_EINVAL);
	assert_int_equal(out.len, 0);
	/* Signatures made elsewhere with the private half verify with the public one. */
	unb64(ex8080[0].priv, seed, sizeof(seed));
	assert_int_equal(dns_key_from_seed(&full, seed, DNS_KEY_KSK), 0);
	assert_int_equal(dns_rrsig(&full, owner, 15, 3600, &rr, 1, owner, 1, 2, &out), 0);
	assert_int_equal(
	    dns_rrsig_verify(&k, owner, 15, 3600, &rr, 1, (const uint8_t *)out.p, out.len), 0);
	/* Refusals: the identity point, a bad flags value. */
	assert_int_equal(dns_key_from_public(&k, zero, DNS_KEY_KSK), CC_EINVAL);
	assert_int_equal(dns_key_from_public(&k, pub, 1), CC_EINVAL);
	assert_int_equal(dns_key_from_seed(&k, zero, 385), CC_EINVAL);
	assert_false(k.has_private);
	cbuf_free(&out);
}

/* Every single-bit change to an RRSIG, and to the RRset it covers, is refused. */
static void test_verify_refuses_flips(void **state)
{
	uint8_t seed[32] = {7}, owner[DNS_NAME_MAX], signer[DNS_NAME_MAX],
		a[3][4] = {
		    {192, 0, 2, 1},
		    {192, 0, 2, 2},
		    {192, 0, 2, 3},
		};
	struct dns_rdata rrs[3] = {{a[0], 4}, {a[1], 4}, {a[2], 4}};
	struct dns_key k, other;
	struct cbuf out = CBUF_INIT;
	uint8_t *p;

	(void)state;
	assert_int_equal(dns_key_from_seed(&k, seed, DNS_KEY_ZSK), 0);
	seed[0] = 8;
	assert_int_equal(dns_key_from_seed(&other, seed, DNS_KEY_ZSK), 0);
	name(owner, "a.dns.cn.");
	name(signer, "cn.");
	assert_int_equal(dns_rrsig(&k, owner, DNS_A, 172800, rrs, 3, signer, 100, 200, &out), 0);
	p = (uint8_t *)out.p;
	assert_int_equal(dns_rrsig_verify(&k, owner, DNS_A, 172800, rrs, 3, p, out.len), 0);
	for (size_t bit = 0; bit < out.len * 8; bit++) {
		int r;

		p[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		r = dns_rrsig_verify(&k, owner, DNS_A, 172800, rrs, 3, p, out.len);
		assert_true(r == CC_ESIG || r == CC_EINVAL);
		p[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
	for (size_t bit = 0; bit < 3 * 4 * 8; bit++) {
		a[bit / 32][bit % 32 / 8] ^= (uint8_t)(1u << (bit % 8));
		assert_int_equal(dns_rrsig_verify(&k, owner, DNS_A, 172800, rrs, 3, p, out.len),
				 CC_ESIG);
		a[bit / 32][bit % 32 / 8] ^= (uint8_t)(1u << (bit % 8));
	}
	/* Not this RRset: another TTL, type, owner, key, or a record missing. */
	assert_int_equal(dns_rrsig_verify(&k, owner, DNS_A, 172801, rrs, 3, p, out.len), CC_EINVAL);
	assert_int_equal(dns_rrsig_verify(&k, owner, DNS_AAAA, 172800, rrs, 3, p, out.len),
			 CC_EINVAL);
	assert_int_equal(dns_rrsig_verify(&k, signer, DNS_A, 172800, rrs, 3, p, out.len),
			 CC_EINVAL);
	assert_int_equal(dns_rrsig_verify(&other, owner, DNS_A, 172800, rrs, 3, p, out.len),
			 other.tag == k.tag ? CC_ESIG : CC_EINVAL);
	assert_int_equal(dns_rrsig_verify(&k, owner, DNS_A, 172800, rrs, 2, p, out.len), CC_ESIG);
	/* Truncated or extended rdata. */
	for (size_t len = 0; len < out.len; len++)
		assert_int_not_equal(dns_rrsig_verify(&k, owner, DNS_A, 172800, rrs, 3, p, len), 0);
	assert_int_equal(cbuf_putc(&out, 0), 0);
	assert_int_equal(
	    dns_rrsig_verify(&k, owner, DNS_A, 172800, rrs, 3, (const uint8_t *)out.p, out.len),
	    CC_EINVAL);
	cbuf_free(&out);
}

/* The RRset is signed as a set: order and duplicates in the input do not matter, and
 * records sort as left-justified octet strings, shorter first on a common prefix. */
static void test_rrset_canonical(void **state)
{
	static const uint8_t r1[] = {'a', 'b'}, r2[] = {'a', 'b', 'c'}, r3[] = {'b'},
			     r0[] = {'a', 'b', 0};
	struct dns_rdata in[] = {{r3, 1}, {r2, 3}, {r1, 2}, {r3, 1}, {r0, 3}, {r1, 2}};
	struct dns_rdata sorted[] = {{r1, 2}, {r0, 3}, {r2, 3}, {r3, 1}};
	uint8_t owner[DNS_NAME_MAX], wild[DNS_NAME_MAX], up[DNS_NAME_MAX];
	struct cbuf a = CBUF_INIT, b = CBUF_INIT;
	size_t pa = 0, pb = 0, off;
	struct dns_rdata many[40];
	uint8_t v[40];

	(void)state;
	name(owner, "x.");
	assert_int_equal(dns_rrsig_data(owner, 16, 60, in, 6, 1, owner, 1, 2, &a, &pa), 0);
	assert_int_equal(dns_rrsig_data(owner, 16, 60, sorted, 4, 1, owner, 1, 2, &b, &pb), 0);
	assert_int_equal(a.len, b.len);
	assert_memory_equal(a.p, b.p, a.len);
	/* prefix (18 + 3), then 4 records of owner (3) + 10 + rdata */
	assert_int_equal(a.len, 21 + 4 * 13 + 2 + 3 + 3 + 1);
	off = pa + 3 + 8;
	assert_int_equal(dns_get16((uint8_t *)a.p + off), 2);
	assert_memory_equal(a.p + off + 2, "ab", 2);
	off += 2 + 2 + 13;
	assert_memory_equal(a.p + off, "ab\0", 3);
	off += 3 + 13;
	assert_memory_equal(a.p + off, "abc", 3);
	off += 3 + 13;
	assert_memory_equal(a.p + off, "b", 1);

	/* Past the sort buffer on the stack. */
	for (size_t i = 0; i < 40; i++) {
		v[i] = (uint8_t)(39 - i);
		many[i].p = &v[i];
		many[i].len = 1;
	}
	assert_int_equal(dns_rrsig_data(owner, 16, 60, many, 40, 1, owner, 1, 2, &a, &pa), 0);
	for (size_t i = 0; i < 40; i++)
		assert_int_equal((uint8_t)a.p[pa + i * 14 + 13], i);

	/* Labels: a wildcard's "*" is not counted; names go in lower-case. */
	name(wild, "*.x.");
	assert_int_equal(dns_rrsig_data(wild, 16, 60, sorted, 1, 1, owner, 1, 2, &a, &pa), 0);
	assert_int_equal((uint8_t)a.p[3], 1);
	memcpy(up, "\001X\000", 3);
	assert_int_equal(dns_rrsig_data(up, 16, 60, sorted, 1, 1, up, 1, 2, &b, &pb), 0);
	assert_int_equal(dns_rrsig_data(owner, 16, 60, sorted, 1, 1, owner, 1, 2, &a, &pa), 0);
	assert_int_equal(a.len, b.len);
	assert_memory_equal(a.p, b.p, a.len);

	/* Refusals: empty set, owner outside the signer, RRSIG over RRSIG. */
	name(wild, "y.");
	assert_int_equal(dns_rrsig_data(owner, 16, 60, sorted, 0, 1, owner, 1, 2, &a, &pa),
			 CC_EINVAL);
	assert_int_equal(dns_rrsig_data(owner, 16, 60, sorted, 1, 1, wild, 1, 2, &a, &pa),
			 CC_EINVAL);
	assert_int_equal(dns_rrsig_data(owner, DNS_RRSIG, 60, sorted, 1, 1, owner, 1, 2, &a, &pa),
			 CC_EINVAL);
	cbuf_free(&a);
	cbuf_free(&b);
}

static void test_rrsig_parse(void **state)
{
	uint8_t seed[32] = {1}, owner[DNS_NAME_MAX], a[4] = {10, 0, 0, 1};
	struct dns_rdata rr = {a, 4};
	struct dns_rrsig_info f;
	struct dns_key k;
	struct cbuf out = CBUF_INIT;

	(void)state;
	assert_int_equal(dns_key_from_seed(&k, seed, DNS_KEY_ZSK), 0);
	name(owner, "ns.cn.");
	assert_int_equal(dns_rrsig(&k, owner, DNS_A, 86400, &rr, 1, owner + 3, 1000, 2000, &out),
			 0);
	assert_int_equal(dns_rrsig_parse((const uint8_t *)out.p, out.len, &f), 0);
	assert_int_equal(f.type_covered, DNS_A);
	assert_int_equal(f.algorithm, 15);
	assert_int_equal(f.labels, 2);
	assert_int_equal(f.ttl, 86400);
	assert_int_equal(f.inception, 1000);
	assert_int_equal(f.expiration, 2000);
	assert_int_equal(f.keytag, k.tag);
	assert_memory_equal(f.signer, owner + 3, 4);
	assert_int_equal(f.prefix_len, 18 + 4);
	assert_int_equal(f.sig_len, 64);
	assert_ptr_equal(f.sig, (const uint8_t *)out.p + 22);
	/* Up to the end of the signer there is no signature: refused. */
	for (size_t len = 0; len <= 22; len++)
		assert_int_equal(dns_rrsig_parse((const uint8_t *)out.p, len, &f), CC_EINVAL);
	cbuf_free(&out);
}

/* RFC 4034 §4.3: alfa.example.com. NSEC host.example.com. A MX RRSIG NSEC TYPE1234 */
static void test_nsec_bitmap(void **state)
{
	static const uint16_t types[] = {DNS_A, 15, DNS_RRSIG, DNS_NSEC, 1234};
	static const uint16_t shuffled[] = {1234, DNS_NSEC, DNS_A, 1234, 15, DNS_RRSIG, DNS_A};
	static const uint16_t bad[] = {0, DNS_OPT, 128, 251, 252, 255};
	uint8_t next[DNS_NAME_MAX], want[128];
	struct cbuf out = CBUF_INIT;
	size_t n;
	int nl;

	(void)state;
	nl = dns_name_from_text(next, "host.example.com.");
	n = unhex("04686f7374076578616d706c6503636f6d00"
		  "0006400100000003"
		  "041b000000000000000000000000000000000000000000000000000020",
		  want, sizeof(want));
	assert_int_equal(dns_nsec_rdata(next, types, 5, &out), 0);
	assert_int_equal(out.len, n);
	assert_memory_equal(out.p, want, n);
	/* Appends; any order, duplicates allowed. */
	assert_int_equal(dns_nsec_rdata(next, shuffled, 7, &out), 0);
	assert_int_equal(out.len, 2 * n);
	assert_memory_equal(out.p + n, want, n);
	/* The root apex of a signed root zone. */
	cbuf_reset(&out);
	name(next, "aaa.");
	assert_int_equal(dns_nsec_rdata(next,
					(const uint16_t[]){DNS_NS, DNS_SOA, DNS_RRSIG, DNS_NSEC,
							   DNS_DNSKEY, DNS_ZONEMD},
					6, &out),
			 0);
	hex_equal((const uint8_t *)out.p, out.len,
		  "0361616100000822000000000380"
		  "01");
	/* No types: the next name alone. */
	cbuf_reset(&out);
	assert_int_equal(dns_nsec_rdata(next, NULL, 0, &out), 0);
	assert_int_equal(out.len, 5);
	/* Pseudo and meta types are refused and out is left as it was. */
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint16_t t[2] = {DNS_A, bad[i]};

		assert_int_equal(dns_nsec_rdata(next, t, 2, &out), CC_EINVAL);
		assert_int_equal(out.len, 5);
	}
	cbuf_reset(&out);
	assert_int_equal(dns_nsec_rdata(next, (const uint16_t[]){65535, 256}, 2, &out), 0);
	/* Window 1 for type 256, window 255 for 65535 (the last bit of 32 octets). */
	hex_equal((const uint8_t *)out.p + 5, out.len - 5,
		  "010180"
		  "ff20"
		  "0000000000000000000000000000000000000000000000000000000000000001");
	(void)nl;
	cbuf_free(&out);
}

/* ---- zones read with libzscanner ---- */

struct trr {
	uint8_t owner[DNS_NAME_MAX];
	uint16_t type;
	uint32_t ttl;
	uint8_t *rd;
	uint16_t len;
};

struct tzone {
	struct trr *v;
	size_t n, cap;
};

static void zone_add(struct tzone *z, const uint8_t *owner, uint16_t type, uint32_t ttl,
		     const uint8_t *rd, size_t len)
{
	struct trr *r;

	if (z->n == z->cap) {
		z->cap = z->cap ? 2 * z->cap : 64;
		z->v = realloc(z->v, z->cap * sizeof(*z->v));
		assert_non_null(z->v);
	}
	r = &z->v[z->n++];
	memcpy(r->owner, owner, dns_name_len(owner));
	r->type = type;
	r->ttl = ttl;
	r->len = (uint16_t)len;
	r->rd = malloc(len ? len : 1);
	assert_non_null(r->rd);
	memcpy(r->rd, rd, len);
}

static void zone_free(struct tzone *z)
{
	for (size_t i = 0; i < z->n; i++)
		free(z->v[i].rd);
	free(z->v);
	memset(z, 0, sizeof(*z));
}

/* Lower-cases a name inside rdata at off; returns the offset after it. */
static size_t lower_at(uint8_t *rd, size_t len, size_t off)
{
	int n = dns_name_check(rd + off, len - off);

	assert_true(n > 0);
	dns_name_lower(rd + off);
	return off + (size_t)n;
}

static size_t skip_charstr(const uint8_t *rd, size_t len, size_t off)
{
	assert_true(off < len);
	return off + 1 + rd[off];
}

/* RFC 4034 §6.2 (with RFC 6840 §5.1: not NSEC) for the types in these zones. */
static void canonical_rdata(uint16_t type, uint8_t *rd, size_t len)
{
	size_t off;

	switch (type) {
	case DNS_NS:
	case 5:	 /* CNAME */
	case 12: /* PTR */
		lower_at(rd, len, 0);
		break;
	case DNS_SOA:
		lower_at(rd, len, lower_at(rd, len, 0));
		break;
	case 15: /* MX */
		lower_at(rd, len, 2);
		break;
	case 35: /* NAPTR: order, preference, flags, services, regexp, replacement */
		off = skip_charstr(rd, len, skip_charstr(rd, len, skip_charstr(rd, len, 4)));
		lower_at(rd, len, off);
		break;
	case DNS_RRSIG:
		lower_at(rd, len, 18);
		break;
	}
}

static void zone_parse(struct tzone *z, const char *origin, const char *text)
{
	zs_scanner_t *s = malloc(sizeof(*s));

	assert_non_null(s);
	assert_int_equal(zs_init(s, origin, DNS_CLASS_IN, 3600), 0);
	assert_int_equal(zs_set_input_string(s, text, strlen(text)), 0);
	for (;;) {
		assert_int_equal(zs_parse_record(s), 0);
		assert_int_not_equal(s->state, ZS_STATE_ERROR);
		if (s->state != ZS_STATE_DATA)
			break;
		dns_name_lower(s->r_owner);
		canonical_rdata(s->r_type, s->r_data, s->r_data_length);
		zone_add(z, s->r_owner, s->r_type, s->r_ttl, s->r_data, s->r_data_length);
	}
	zs_deinit(s);
	free(s);
}

static int rdata_order(const struct trr *a, const struct trr *b)
{
	size_t n = a->len < b->len ? a->len : b->len;
	int c = n ? memcmp(a->rd, b->rd, n) : 0;

	return c ? c : (a->len > b->len) - (a->len < b->len);
}

static int trr_cmp(const void *x, const void *y)
{
	const struct trr *a = x, *b = y;
	int c = dns_name_cmp(a->owner, b->owner);

	if (c == 0)
		c = (a->type > b->type) - (a->type < b->type);
	return c ? c : rdata_order(a, b);
}

static void zone_sort(struct tzone *z)
{
	qsort(z->v, z->n, sizeof(*z->v), trr_cmp);
}

/* RFC 8976 §3.3.1 for zone z at apex: the digest of every RR at or below the apex, in
 * canonical order, but the apex ZONEMD RRset and the apex RRSIGs over ZONEMD. Duplicates
 * are handed over too: dns_zonemd_add must drop them itself. */
static void zone_digest(struct tzone *z, const uint8_t *apex, uint8_t digest[48])
{
	struct dns_zonemd *md;
	size_t dups = 0;

	zone_sort(z);
	assert_int_equal(dns_zonemd_init(&md), 0);
	for (size_t i = 0; i < z->n; i++) {
		const struct trr *r = &z->v[i];
		int at_apex = dns_name_cmp(r->owner, apex) == 0, ret;

		if (!dns_name_is_below(r->owner, apex))
			continue;
		if (at_apex && (r->type == DNS_ZONEMD ||
				(r->type == DNS_RRSIG && dns_get16(r->rd) == DNS_ZONEMD)))
			continue;
		ret = dns_zonemd_add(md, r->owner, r->type, r->ttl, r->rd, r->len);
		if (ret == CC_EEXIST)
			dups++;
		else
			assert_int_equal(ret, 0);
	}
	assert_int_equal(dns_zonemd_final(md, digest), 0);
	assert_int_equal(dns_zonemd_final(md, digest), CC_EINVAL);
	dns_zonemd_free(md);
	/* Only A.2 has a duplicate, and it has exactly one. */
	assert_true(dups <= 1);
}

/* Digest of the zone equals what its apex ZONEMD says, and that ZONEMD's rdata is exactly
 * what dns_zonemd_rdata writes for it. */
static void check_rfc8976(const char *origin, const char *text, const char *digest_hex)
{
	struct tzone z = {0};
	uint8_t apex[DNS_NAME_MAX], digest[48], want[48], rd[DNS_ZONEMD_RDATA];
	const struct trr *zonemd = NULL;

	name(apex, origin);
	zone_parse(&z, origin, text);
	zone_digest(&z, apex, digest);
	unhex(digest_hex, want, sizeof(want));
	assert_memory_equal(digest, want, 48);
	for (size_t i = 0; i < z.n; i++)
		if (z.v[i].type == DNS_ZONEMD && dns_name_cmp(z.v[i].owner, apex) == 0)
			zonemd = &z.v[i];
	assert_non_null(zonemd);
	assert_int_equal(dns_zonemd_rdata(dns_get32(zonemd->rd), digest, rd), DNS_ZONEMD_RDATA);
	assert_int_equal(zonemd->len, DNS_ZONEMD_RDATA);
	assert_memory_equal(zonemd->rd, rd, DNS_ZONEMD_RDATA);
	zone_free(&z);
}

/* RFC 8976 A.1 */
static const char zone_a1[] =
    "example.      86400  IN  SOA     ns1 admin 2018031900 (\n"
    "                                 1800 900 604800 86400 )\n"
    "              86400  IN  NS      ns1\n"
    "              86400  IN  NS      ns2\n"
    "              86400  IN  ZONEMD  2018031900 1 1 (\n"
    "                                 c68090d90a7aed716bc459f9340e3d7c\n"
    "                                 1370d4d24b7e2fc3a1ddc0b9a87153b9\n"
    "                                 a9713b3c9ae5cc27777f98b8e730044c )\n"
    "ns1           3600   IN  A       203.0.113.63\n"
    "ns2           3600   IN  AAAA    2001:db8::63\n";

/* RFC 8976 A.2: uppercase, occluded data, a duplicate, out-of-zone data, a wildcard,
 * names in rdata, an RRset to sort, a ZONEMD off the apex (digested like any RR). */
static const char zone_a2[] =
    "example.      86400  IN  SOA     ns1 admin 2018031900 (\n"
    "                                 1800 900 604800 86400 )\n"
    "              86400  IN  NS      ns1\n"
    "              86400  IN  NS      ns2\n"
    "              86400  IN  ZONEMD  2018031900 1 1 (\n"
    "                                 a3b69bad980a3504\n"
    "                                 e1cffcb0fd6397f9\n"
    "                                 3848071c93151f55\n"
    "                                 2ae2f6b1711d4bd2\n"
    "                                 d8b39808226d7b9d\n"
    "                                 b71e34b72077f8fe )\n"
    "ns1           3600   IN  A       203.0.113.63\n"
    "NS2           3600   IN  AAAA    2001:db8::63\n"
    "occluded.sub  7200   IN  TXT     \"I'm occluded but must be digested\"\n"
    "sub           7200   IN  NS      ns1\n"
    "duplicate     300    IN  TXT     \"I must be digested just once\"\n"
    "duplicate     300    IN  TXT     \"I must be digested just once\"\n"
    "foo.test.     555    IN  TXT     \"out-of-zone data must be excluded\"\n"
    "UPPERCASE     3600   IN  TXT     \"canonicalize uppercase owner names\"\n"
    "*             777    IN  PTR     dont-forget-about-wildcards\n"
    "mail          3600   IN  MX      20 MAIL1\n"
    "mail          3600   IN  MX      10 Mail2.Example.\n"
    "sortme        3600   IN  AAAA    2001:db8::5:61\n"
    "sortme        3600   IN  AAAA    2001:db8::3:62\n"
    "sortme        3600   IN  AAAA    2001:db8::4:63\n"
    "sortme        3600   IN  AAAA    2001:db8::1:65\n"
    "sortme        3600   IN  AAAA    2001:db8::2:64\n"
    "non-apex      900    IN  ZONEMD  2018031900 1 1 (\n"
    "                                 616c6c6f77656420\n"
    "                                 6275742069676e6f\n"
    "                                 7265642e20616c6c\n"
    "                                 6f77656420627574\n"
    "                                 2069676e6f726564\n"
    "                                 2e20616c6c6f7765 )\n";

/* RFC 8976 A.3: root-servers.net. */
static const char zone_a3[] =
    "root-servers.net.     3600000 IN  SOA     a.root-servers.net. nstld.verisign-grs.com. (\n"
    "                                 2018091100 14400 7200 1209600 3600000 )\n"
    "root-servers.net.     3600000 IN  NS      a.root-servers.net.\n"
    "root-servers.net.     3600000 IN  NS      b.root-servers.net.\n"
    "root-servers.net.     3600000 IN  NS      c.root-servers.net.\n"
    "root-servers.net.     3600000 IN  NS      d.root-servers.net.\n"
    "root-servers.net.     3600000 IN  NS      e.root-servers.net.\n"
    "root-servers.net.     3600000 IN  NS      f.root-servers.net.\n"
    "root-servers.net.     3600000 IN  NS      g.root-servers.net.\n"
    "root-servers.net.     3600000 IN  NS      h.root-servers.net.\n"
    "root-servers.net.     3600000 IN  NS      i.root-servers.net.\n"
    "root-servers.net.     3600000 IN  NS      j.root-servers.net.\n"
    "root-servers.net.     3600000 IN  NS      k.root-servers.net.\n"
    "root-servers.net.     3600000 IN  NS      l.root-servers.net.\n"
    "root-servers.net.     3600000 IN  NS      m.root-servers.net.\n"
    "a.root-servers.net.   3600000 IN  AAAA    2001:503:ba3e::2:30\n"
    "a.root-servers.net.   3600000 IN  A       198.41.0.4\n"
    "b.root-servers.net.   3600000 IN  MX      20 mail.isi.edu.\n"
    "b.root-servers.net.   3600000 IN  AAAA    2001:500:200::b\n"
    "b.root-servers.net.   3600000 IN  A       199.9.14.201\n"
    "c.root-servers.net.   3600000 IN  AAAA    2001:500:2::c\n"
    "c.root-servers.net.   3600000 IN  A       192.33.4.12\n"
    "d.root-servers.net.   3600000 IN  AAAA    2001:500:2d::d\n"
    "d.root-servers.net.   3600000 IN  A       199.7.91.13\n"
    "e.root-servers.net.   3600000 IN  AAAA    2001:500:a8::e\n"
    "e.root-servers.net.   3600000 IN  A       192.203.230.10\n"
    "f.root-servers.net.   3600000 IN  AAAA    2001:500:2f::f\n"
    "f.root-servers.net.   3600000 IN  A       192.5.5.241\n"
    "g.root-servers.net.   3600000 IN  AAAA    2001:500:12::d0d\n"
    "g.root-servers.net.   3600000 IN  A       192.112.36.4\n"
    "h.root-servers.net.   3600000 IN  AAAA    2001:500:1::53\n"
    "h.root-servers.net.   3600000 IN  A       198.97.190.53\n"
    "i.root-servers.net.   3600000 IN  MX      10 mx.i.root-servers.org.\n"
    "i.root-servers.net.   3600000 IN  AAAA    2001:7fe::53\n"
    "i.root-servers.net.   3600000 IN  A       192.36.148.17\n"
    "j.root-servers.net.   3600000 IN  AAAA    2001:503:c27::2:30\n"
    "j.root-servers.net.   3600000 IN  A       192.58.128.30\n"
    "k.root-servers.net.   3600000 IN  AAAA    2001:7fd::1\n"
    "k.root-servers.net.   3600000 IN  A       193.0.14.129\n"
    "l.root-servers.net.   3600000 IN  AAAA    2001:500:9f::42\n"
    "l.root-servers.net.   3600000 IN  A       199.7.83.42\n"
    "m.root-servers.net.   3600000 IN  AAAA    2001:dc3::35\n"
    "m.root-servers.net.   3600000 IN  A       202.12.27.33\n"
    "root-servers.net.     3600000 IN  ZONEMD  2018091100 1 1 (\n"
    "     f1ca0ccd91bd5573d9f431c00ee0101b2545c97602be0a97\n"
    "     8a3b11dbfc1c776d5b3e86ae3d973d6b5349ba7f04340f79 )\n";

/* RFC 8976 A.4: uri.arpa., signed (RSA): RRSIGs and NSECs are digested like other RRs. */
static const char zone_a4[] =
    "uri.arpa. 3600 IN SOA sns.dns.icann.org. noc.dns.icann.org. 2018100702 10800 3600 "
    "1209600 3600\n"
    "uri.arpa. 3600 IN RRSIG NSEC 8 2 3600 20181028142623 20181007205525 47155 uri.arpa. "
    "eEC4w/oXLR1Epwgv4MBiDtSBsXhqrJVvJWUpbX8XpetAvD35bxwNCUTi/pAJVUXefegWeiriD2rkTgCBCMmn7YQIm"
    "3gdR+HjY/+o3BXNQnz97f+eHAE9EDDzoNVfL1PyV/2fde9tDeUuAGVVwmD399NGq9jWYMRpyri2kysr q/g=\n"
    "uri.arpa. 86400 IN RRSIG NS 8 2 86400 20181028172020 20181007175821 47155 uri.arpa. "
    "ATyV2A2A8ZoggC+68u4GuP5MOUuR+2rr3eWOkEU55zAHld/7FiBxl4ln4byJYy7NudUwlMOEXajqFZE7DVl8Ppcv"
    "rP3HeeGaVzKqaWj+aus0jbKFBsvs2b1qDZemBfkz/IfAhUTJKnto0vSUicJKfItu0GjyYNJCz2CqEuGD Wxc=\n"
    "uri.arpa. 600 IN RRSIG MX 8 2 600 20181028170556 20181007175821 47155 uri.arpa. "
    "e7/r3KXDohX1lyVavetFFObp8fB8aXT76HnN9KCQDxSnSghNM83UQV0tlTtD8JVeN1mCvcNFZpagwIgB7XhTtm6B"
    "eur/m5ES+4uSnVeS6Q66HBZKA3mR95IpevuVIZvvJ+GcCAQpBo6KRODYvJ/c/ZG6sfYWkZ7qg/Em5/+3 4UI=\n"
    "uri.arpa. 3600 IN RRSIG DNSKEY 8 2 3600 20181028152832 20181007175821 15796 uri.arpa. "
    "nzpbnh0OqsgBBP8St28pLvPEQ3wZAUdEBuUwil+rtjjWlYYiqjPxZ286XF4Rq1usfV5x71jZz5IqswOaQgia91yl"
    "odFpLuXD6FTGs2nXGhNKkg1VchHgtwj70mXU72GefVgo8TxrFYzxuEFP5ZTP92t97FVWVVyyFd86sbbR6DZj3uA2"
    "wEvqBVLECgJLrMQ9Yy7MueJl3UA4h4E6zO2JY9Yp0W9woq0BdqkkwYTwzogyYffPmGAJG91RJ2h6cHtFjEZe2Mna"
    "Y2glqniZ0WT9vXXduFPm0KD9U77Ac+ZtctAF9tsZwSdAoL365E2L1usZbA+K0BnPPqGFJRJk5R0A1w==\n"
    "uri.arpa. 3600 IN RRSIG DNSKEY 8 2 3600 20181028152832 20181007175821 55480 uri.arpa. "
    "lWtQV/5szQjkXmbcD47/+rOW8kJPksRFHlzxxmzt906+DBYyfrH6uq5XnHvrUlQO6M12uhqDeL+bDFVgqSpNy+42"
    "/OaZvaK3J8EzPZVBHPJykKMV63T83aAiJrAyHzOaEdmzLCpalqcEE2ImzlLHSafManRfJL8Yuv+JDZFj2WDWfEcU"
    "uwkmIZWX11zxp+DxwzyUlRl7x4+ok5iKZWIg5UnBAf6B8T75WnXzlhCw3F2pXI0a5LYg71L3Tp/xhjN6Yy9jGlIR"
    "f5BjB59X2zra3a2RPkI09SSnuEwHyF1mDaV5BmQrLGRnCjvwXA7ho2m+vv4SP5dUdXf+GTeA1HeBfw==\n"
    "uri.arpa. 3600 IN RRSIG SOA 8 2 3600 20181029114753 20181008222815 47155 uri.arpa. "
    "qn8yBNoHDjGdT79U2Wu9IIahoS0YPOgYP8lG+qwPcrZ1BwGiHywuoUa2Mx6BWZlg+HDyaxj2iOmox+IIqoUHhXUb"
    "O7IUkJFlgrOKCgAR2twDHrXu9BUQHy9SoV16wYm3kBTEPyxW5FFm8vcdnKAF7sxSY8BbaYNpRIEjDx4A JUc=\n"
    "uri.arpa. 3600 IN NSEC ftp.uri.arpa. NS SOA MX RRSIG NSEC DNSKEY\n"
    "uri.arpa. 86400 IN NS a.iana-servers.net.\n"
    "uri.arpa. 86400 IN NS b.iana-servers.net.\n"
    "uri.arpa. 86400 IN NS c.iana-servers.net.\n"
    "uri.arpa. 86400 IN NS ns2.lacnic.net.\n"
    "uri.arpa. 86400 IN NS sec3.apnic.net.\n"
    "uri.arpa. 600 IN MX 10 pechora.icann.org.\n"
    "uri.arpa. 3600 IN DNSKEY 256 3 8 "
    "AwEAAcBi7tSart2J599zbYWspMNGN70IBWb4ziqyQYH9MTB/VCz6WyUKuXunwiJJbbQ3bcLqTLWEw134B6cTMHrZ"
    "pjTAb5WAwg4XcWUu8mdcPTiLBl6qVRlRD0WiFCTzuYUfkwsh1Rbr7rvrxSQhF5rh71zSpwV5jjjp65WxSdJjlH0B\n"
    "uri.arpa. 3600 IN DNSKEY 257 3 8 "
    "AwEAAbNVv6ulgRdO31MtAehz7j3ALRjwZglWesnzvllQl/+hBRZr9QoYcO2I+DkO4Q1NKxox4DUIxj8SxPO3GwDu"
    "OFR9q2/CFi2O0mZjafbdYtWc3zSdBbi3q0cwCIx7GuG9eqlL+pg7mdk9dgdNZfHwB0LnqTD8ebLPsrO/Id7kBaiq"
    "YOfMlZnh2fp+2h6OOJZHtY0DK1UlssyB5PKsE0tVzo5s6zo9iXKe5u+8WTMaGDY49vG80JPAKE7ezMiH/NZcUMiE"
    "0PRZ8D3foq2dYuS5ym+vA83Z7v8A+Rwh4UGnjxKB8zmr803V0ASAmHz/gwH5Vb0nH+LObwFtl3wpbp+Wpm8=\n"
    "uri.arpa. 3600 IN DNSKEY 257 3 8 "
    "AwEAAbwnFTakCvaUKsXji4mgmxZUJi1IygbnGahbkmFEa0L16J+TchKRwcgzVfsxUGa2MmeA4hgkAooC3uy+tTmo"
    "Msgy8uq/JAj24DjiHzd46LfDFK/qMidVqFpYSHeq2Vv5ojkuIsx4oe4KsafGWYNOczKZgH5loGjN2aJGmrIm++XC"
    "phOskgCsQYl65MIzuXffzJyxlAuts+ecAIiVeqRaqQfr8LRU7wIsLxinXirprtQrbor+EtvlHp9qXE6ARTZDzf4j"
    "vsNpKvLFZtmxzFf3e/UJz5eHjpwDSiZL7xE8aE1o1nGfPtJx9ZnB3bapltaJ5wY+5XOCKgY0xmJVvNQlwdE=\n"
    "ftp.uri.arpa. 3600 IN RRSIG NSEC 8 3 3600 20181028080856 20181007175821 47155 uri.arpa. "
    "HClGAqPxzkYkAT7Q/QNtQeB6YrkP6EPOef+9Qo5/2zngwAewXEAQiyF9jD1USJiroM11QqBS3v3aIdW/LXORs4Ez"
    "3hLcKNO1cKHsOuWAqzmE+BPPArfh8N95jqh/q6vpaB9UtMkQ53tM2fYU1GszOLN0knxbHgDHAh2axMGH lqM=\n"
    "ftp.uri.arpa. 604800 IN RRSIG NAPTR 8 3 604800 20181028103644 20181007205525 47155 "
    "uri.arpa. "
    "WoLi+vZzkxaoLr2IGZnwkRvcDf6KxiWQd1WZP/U+AWnV+7MiqsWPZaf09toRErerGoFOiOASNxZjBGJrRgjmavOM"
    "9U+LZSconP9zrNFd4dIu6kp5YxlQJ0uHOvx1ZHFCj6lAt1ACUIw04ZhMydTmi27c8MzEOMepvn7iH7r7 k7k=\n"
    "ftp.uri.arpa. 3600 IN NSEC http.uri.arpa. NAPTR RRSIG NSEC\n"
    "ftp.uri.arpa. 604800 IN NAPTR 0 0 \"\" \"\" \"!^ftp://([^:/?#]*).*$!\\\\1!i\" .\n"
    "http.uri.arpa. 3600 IN RRSIG NSEC 8 3 3600 20181029010647 20181007175821 47155 uri.arpa. "
    "U03NntQ73LHWpfLmUK8nMsqkwVsOGW2KdsyuHYAjqQSZvKbtmbv7HBmEH1+Ii3Z+wtfdMZBy5aC/6sHdx69BfZJs"
    "16xumycMlAy6325DKTQbIMN+ift9GrKBC7cgCd2msF/uzSrYxxg4MJQzBPvlkwXnY3b7eJSlIXisBIn7 3b8=\n"
    "http.uri.arpa. 604800 IN RRSIG NAPTR 8 3 604800 20181029011815 20181007205525 47155 "
    "uri.arpa. "
    "T7mRrdag+WSmG+n22mtBSQ/0Y3v+rdDnfQV90LN5Fq32N5K2iYFajF7FTp56oOznytfcL4fHrqOE0wRc9NWOCCUe"
    "c9C7Wa1gJQcllEvgoAM+L6f0RsEjWq6+9jvlLKMXQv0xQuMX17338uoD/xiAFQSnDbiQKxwWMqVAimv5 7Zs=\n"
    "http.uri.arpa. 3600 IN NSEC mailto.uri.arpa. NAPTR RRSIG NSEC\n"
    "http.uri.arpa. 604800 IN NAPTR 0 0 \"\" \"\" \"!^http://([^:/?#]*).*$!\\\\1!i\" .\n"
    "mailto.uri.arpa. 3600 IN RRSIG NSEC 8 3 3600 20181028110727 20181007175821 47155 uri.arpa. "
    "GvxzVL85rEukwGqtuLxek9ipwjBMfTOFIEyJ7afC8HxVMs6mfFa/nEM/IdFvvFg+lcYoJSQYuSAVYFl3xPbgrxVS"
    "LK125QutCFMdC/YjuZEnq5clfQciMRD7R3+znZfm8d8u/snLV9w4D+lTBZrJJUBe1Efc8vum5vvV7819 ZoY=\n"
    "mailto.uri.arpa. 604800 IN RRSIG NAPTR 8 3 604800 20181028141825 20181007205525 47155 "
    "uri.arpa. "
    "MaADUgc3fc5v++M0YmqjGk3jBdfIA5RuP62hUSlPsFZO4k37erjIGCfFj+g84yc+QgbSde0PQHszl9fE/+SU5ZXi"
    "S9YdcbzSZxp2erFpZOTchrpg916T4vx6i59scodjb0l6bDyZ+mtIPrc1w6b4hUyOUTsDQoAJYxdfEuMg Vy4=\n"
    "mailto.uri.arpa. 3600 IN NSEC urn.uri.arpa. NAPTR RRSIG NSEC\n"
    "mailto.uri.arpa. 604800 IN NAPTR 0 0 \"\" \"\" \"!^mailto:(.*)@(.*)$!\\\\2!i\" .\n"
    "urn.uri.arpa. 3600 IN RRSIG NSEC 8 3 3600 20181028123243 20181007175821 47155 uri.arpa. "
    "Hgsw4Deops1O8uWyELGe6hpR/OEqCnTHvahlwiQkHhO5CSEQrbhmFAWeUOkmGAdTEYrSz+skLRQuITRMwzyFf4oU"
    "kZihGyhZyzHbcxWfuDc/Pd/9DSl56gdeBwy1evn5wBTms8yWQVkNtphbJH395gRqZuaJs3LD/qTyJ5Dp LvA=\n"
    "urn.uri.arpa. 604800 IN RRSIG NAPTR 8 3 604800 20181029071816 20181007205525 47155 "
    "uri.arpa. "
    "ALIZD0vBqAQQt40GQ0Efaj8OCyE9xSRJRdyvyn/H/wZVXFRFKrQYrLASD/K7q6CMTOxTRCu2J8yes63WJiaJEdnh"
    "+dscXzZkmOg4n5PsgZbkvUSWBiGtxvz5jNncM0xVbkjbtByrvJQAO1cU1mnlDKe1FmVB1uLpVdA9Ib4J hMU=\n"
    "urn.uri.arpa. 3600 IN NSEC uri.arpa. NAPTR RRSIG NSEC\n"
    "urn.uri.arpa. 604800 IN NAPTR 0 0 \"\" \"\" \"/urn:([^:]+)/\\\\1/i\" .\n"
    "uri.arpa. 3600 IN ZONEMD 2018100702 1 1 "
    "1291b78ddf7669b1a39d014d87626b709b55774c5d7d58fadc556439889a10eaf6f11d615900a4f996bd4627"
    "9514e473\n";

static void test_rfc8976(void **state)
{
	(void)state;
	check_rfc8976("example.", zone_a1,
		      "c68090d90a7aed716bc459f9340e3d7c1370d4d24b7e2fc3"
		      "a1ddc0b9a87153b9a9713b3c9ae5cc27777f98b8e730044c");
	check_rfc8976("example.", zone_a2,
		      "a3b69bad980a3504e1cffcb0fd6397f93848071c93151f55"
		      "2ae2f6b1711d4bd2d8b39808226d7b9db71e34b72077f8fe");
	check_rfc8976("root-servers.net.", zone_a3,
		      "f1ca0ccd91bd5573d9f431c00ee0101b2545c97602be0a97"
		      "8a3b11dbfc1c776d5b3e86ae3d973d6b5349ba7f04340f79");
	check_rfc8976("uri.arpa.", zone_a4,
		      "1291b78ddf7669b1a39d014d87626b709b55774c5d7d58fa"
		      "dc556439889a10eaf6f11d615900a4f996bd46279514e473");
}

/* Out of order input is refused, not hashed: the digest afterwards is as if it never came. */
static void test_zonemd_order(void **state)
{
	struct dns_zonemd *a, *b;
	uint8_t root[DNS_NAME_MAX], cn[DNS_NAME_MAX], da[48], db[48];
	static const uint8_t r1[] = {1}, r2[] = {1, 0};

	(void)state;
	name(root, ".");
	name(cn, "cn.");
	assert_int_equal(dns_zonemd_init(&a), 0);
	assert_int_equal(dns_zonemd_init(&b), 0);
	assert_int_equal(dns_zonemd_add(a, root, DNS_NS, 1, r1, 1), 0);
	assert_int_equal(dns_zonemd_add(a, root, DNS_NS, 1, r2, 2), 0);
	assert_int_equal(dns_zonemd_add(a, root, DNS_NS, 1, r2, 2), CC_EEXIST);
	assert_int_equal(dns_zonemd_add(a, root, DNS_NS, 9, r2, 2), CC_EEXIST);
	assert_int_equal(dns_zonemd_add(a, root, DNS_NS, 1, r1, 1), CC_EINVAL);
	assert_int_equal(dns_zonemd_add(a, root, DNS_A, 1, r2, 2), CC_EINVAL);
	assert_int_equal(dns_zonemd_add(a, root, DNS_SOA, 1, NULL, 0), 0);
	assert_int_equal(dns_zonemd_add(a, cn, DNS_A, 1, r1, 1), 0);
	assert_int_equal(dns_zonemd_add(a, root, DNS_ZONEMD, 1, r1, 1), CC_EINVAL);
	assert_int_equal(dns_zonemd_add(a, cn, DNS_A, 1, NULL, 1), CC_EINVAL);
	assert_int_equal(dns_zonemd_final(a, da), 0);
	assert_int_equal(dns_zonemd_add(a, cn, DNS_NS, 1, r1, 1), CC_EINVAL);

	assert_int_equal(dns_zonemd_add(b, root, DNS_NS, 1, r1, 1), 0);
	assert_int_equal(dns_zonemd_add(b, root, DNS_NS, 1, r2, 2), 0);
	assert_int_equal(dns_zonemd_add(b, root, DNS_SOA, 1, NULL, 0), 0);
	assert_int_equal(dns_zonemd_add(b, cn, DNS_A, 1, r1, 1), 0);
	assert_int_equal(dns_zonemd_final(b, db), 0);
	assert_memory_equal(da, db, 48);
	dns_zonemd_free(a);
	dns_zonemd_free(b);
	dns_zonemd_free(NULL);
}

/* ---- a signed root zone, checked by other implementations ---- */

static const char root_text[] =
    ". 86400 IN SOA a.root-servers.net. nstld.verisign-grs.com. 2024010100 1800 900 604800 "
    "86400\n"
    ". 518400 IN NS a.root-servers.net.\n"
    ". 518400 IN NS b.root-servers.net.\n"
    "net. 172800 IN NS a.gtld-servers.net.\n"
    "a.gtld-servers.net. 172800 IN A 192.5.6.30\n"
    "a.root-servers.net. 172800 IN A 198.41.0.4\n"
    "a.root-servers.net. 172800 IN AAAA 2001:503:ba3e::2:30\n"
    "b.root-servers.net. 172800 IN A 170.247.170.2\n"
    "cn. 172800 IN NS a.dns.cn.\n"
    "cn. 172800 IN NS b.dns.cn.\n"
    "a.dns.cn. 172800 IN A 203.119.25.1\n"
    "b.dns.cn. 172800 IN AAAA 2001:dc7::1\n"
    "br. 172800 IN NS a.dns.br.\n"
    "a.dns.br. 172800 IN A 200.219.148.10\n"
    "xn--fiqs8s. 172800 IN NS a.dns.cn.\n"
    "xn--fiqs8s. 172800 IN NS b.dns.cn.\n";

struct signer {
	const struct dns_key *ksk, *zsk;
	uint32_t inception, expiration;
	const uint8_t *apex;
};

static int is_cut(const struct tzone *z, const uint8_t *n, const uint8_t *apex)
{
	if (dns_name_cmp(n, apex) == 0)
		return 0;
	for (size_t i = 0; i < z->n; i++)
		if (z->v[i].type == DNS_NS && dns_name_cmp(z->v[i].owner, n) == 0)
			return 1;
	return 0;
}

/* Glue and anything else below a delegation: not authoritative, not in the NSEC chain. */
static int below_cut(const struct tzone *z, const uint8_t *n, const uint8_t *apex)
{
	for (const uint8_t *p = dns_name_parent(n); p != NULL; p = dns_name_parent(p))
		if (is_cut(z, p, apex))
			return 1;
	return 0;
}

static void sign_rrset(struct tzone *z, size_t from, size_t to, const struct signer *s,
		       struct tzone *sigs)
{
	struct dns_rdata rrs[64];
	const struct trr *r = &z->v[from];
	const struct dns_key *k = r->type == DNS_DNSKEY ? s->ksk : s->zsk;
	struct cbuf out = CBUF_INIT;

	assert_true(to - from <= 64);
	for (size_t i = from; i < to; i++) {
		rrs[i - from].p = z->v[i].rd;
		rrs[i - from].len = z->v[i].len;
	}
	assert_int_equal(dns_rrsig(k, r->owner, r->type, r->ttl, rrs, to - from, s->apex,
				   s->inception, s->expiration, &out),
			 0);
	assert_int_equal(dns_rrsig_verify(k, r->owner, r->type, r->ttl, rrs, to - from,
					  (const uint8_t *)out.p, out.len),
			 0);
	zone_add(sigs, r->owner, DNS_RRSIG, r->ttl, (const uint8_t *)out.p, out.len);
	cbuf_free(&out);
}

/* Signs every authoritative RRset of z (sorted) of the given type, or of every type but
 * ZONEMD when type is 0: at the apex all of them, at a delegation DS and NSEC only. */
static void sign_zone(struct tzone *z, const struct signer *s, uint16_t type)
{
	struct tzone sigs = {0};

	for (size_t i = 0, j; i < z->n; i = j) {
		const struct trr *r = &z->v[i];
		int cut = is_cut(z, r->owner, s->apex);

		for (j = i + 1; j < z->n && z->v[j].type == r->type &&
				dns_name_cmp(z->v[j].owner, r->owner) == 0;
		     j++)
			;
		if (r->type == DNS_RRSIG || below_cut(z, r->owner, s->apex))
			continue;
		if (cut && r->type != DNS_DS && r->type != DNS_NSEC)
			continue;
		if (type ? r->type != type : r->type == DNS_ZONEMD)
			continue;
		sign_rrset(z, i, j, s, &sigs);
	}
	for (size_t i = 0; i < sigs.n; i++)
		zone_add(z, sigs.v[i].owner, sigs.v[i].type, sigs.v[i].ttl, sigs.v[i].rd,
			 sigs.v[i].len);
	zone_free(&sigs);
	zone_sort(z);
}

/* NSEC at every authoritative name, pointing at the next, the last back to the apex. */
static void add_nsec(struct tzone *z, const uint8_t *apex, uint32_t ttl)
{
	const uint8_t *names[64];
	size_t nn = 0;
	struct tzone nsec = {0};

	zone_sort(z);
	for (size_t i = 0; i < z->n; i++) {
		const uint8_t *o = z->v[i].owner;

		if (below_cut(z, o, apex) || (nn > 0 && dns_name_cmp(names[nn - 1], o) == 0))
			continue;
		assert_true(nn < 64);
		names[nn++] = o;
	}
	for (size_t k = 0; k < nn; k++) {
		uint16_t types[16] = {DNS_RRSIG, DNS_NSEC};
		size_t nt = 2;
		struct cbuf out = CBUF_INIT;

		for (size_t i = 0; i < z->n; i++)
			if (dns_name_cmp(z->v[i].owner, names[k]) == 0 && nt < 16)
				types[nt++] = z->v[i].type;
		if (k == 0)
			types[nt++] = DNS_ZONEMD; /* added after the digest, listed now */
		assert_int_equal(dns_nsec_rdata(names[(k + 1) % nn], types, nt, &out), 0);
		zone_add(&nsec, names[k], DNS_NSEC, ttl, (const uint8_t *)out.p, out.len);
		cbuf_free(&out);
	}
	for (size_t i = 0; i < nsec.n; i++)
		zone_add(z, nsec.v[i].owner, DNS_NSEC, nsec.v[i].ttl, nsec.v[i].rd, nsec.v[i].len);
	zone_free(&nsec);
	zone_sort(z);
}

static void zone_write(const struct tzone *z, const char *path)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	for (size_t i = 0; i < z->n; i++) {
		const struct trr *r = &z->v[i];
		char owner[DNS_NAME_TEXT_MAX];

		assert_true(dns_name_to_text(r->owner, owner, sizeof(owner)) > 0);
		/* RFC 3597 generic form: every tool reads it, for every type. */
		fprintf(f, "%s %u IN TYPE%u \\# %u ", owner, r->ttl, r->type, r->len);
		for (size_t j = 0; j < r->len; j++)
			fprintf(f, "%02x", r->rd[j]);
		fputc('\n', f);
	}
	assert_int_equal(fclose(f), 0);
}

static void build_root(struct tzone *z, const struct signer *s, uint8_t digest[48])
{
	uint8_t rd[DNS_DNSKEY_RDATA], ds[DNS_DS_RDATA], w[DNS_NAME_MAX], seed[32];
	uint8_t zmd[DNS_ZONEMD_RDATA];
	struct dns_key child;
	struct dns_zonemd *md;

	zone_parse(z, ".", root_text);
	dns_dnskey_rdata(s->ksk, rd);
	zone_add(z, s->apex, DNS_DNSKEY, 172800, rd, sizeof(rd));
	dns_dnskey_rdata(s->zsk, rd);
	zone_add(z, s->apex, DNS_DNSKEY, 172800, rd, sizeof(rd));
	/* Secure delegations to cn. and br., from their own (made up) KSKs. */
	for (int i = 0; i < 2; i++) {
		memset(seed, 'c' + i, sizeof(seed));
		assert_int_equal(dns_key_from_seed(&child, seed, DNS_KEY_KSK), 0);
		dns_dnskey_rdata(&child, rd);
		name(w, i ? "br." : "cn.");
		assert_int_equal(dns_ds_rdata(w, rd, sizeof(rd), ds), DNS_DS_RDATA);
		zone_add(z, w, DNS_DS, 86400, ds, sizeof(ds));
	}
	add_nsec(z, s->apex, 86400);
	sign_zone(z, s, 0);

	assert_int_equal(dns_zonemd_init(&md), 0);
	for (size_t i = 0; i < z->n; i++)
		assert_int_equal(dns_zonemd_add(md, z->v[i].owner, z->v[i].type, z->v[i].ttl,
						z->v[i].rd, z->v[i].len),
				 0);
	assert_int_equal(dns_zonemd_final(md, digest), 0);
	dns_zonemd_free(md);
	dns_zonemd_rdata(2024010100, digest, zmd);
	zone_add(z, s->apex, DNS_ZONEMD, 86400, zmd, sizeof(zmd));
	zone_sort(z);
	sign_zone(z, s, DNS_ZONEMD);
}

static void test_tools(void **state)
{
	uint8_t seed[32], apex[DNS_NAME_MAX], digest[48], again[48];
	struct dns_key ksk, zsk;
	struct tzone z = {0}, z2 = {0};
	struct signer s;
	char dir[] = "/tmp/test_dns_sign.XXXXXX", path[256], bad[256];
	uint32_t now = (uint32_t)time(NULL);
	int has_ldns = have("ldns-verify-zone"), has_bind = have("dnssec-verify");

	(void)state;
	memset(seed, 'k', sizeof(seed));
	assert_int_equal(dns_key_from_seed(&ksk, seed, DNS_KEY_KSK), 0);
	memset(seed, 'z', sizeof(seed));
	assert_int_equal(dns_key_from_seed(&zsk, seed, DNS_KEY_ZSK), 0);
	name(apex, ".");
	s = (struct signer){&ksk, &zsk, now - 3600, now + 14 * 86400, apex};
	build_root(&z, &s, digest);
	/* Deterministic: the same inputs sign to the same zone, byte for byte. */
	build_root(&z2, &s, again);
	assert_memory_equal(digest, again, 48);
	assert_int_equal(z.n, z2.n);
	for (size_t i = 0; i < z.n; i++) {
		assert_int_equal(z.v[i].len, z2.v[i].len);
		assert_memory_equal(z.v[i].rd, z2.v[i].rd, z.v[i].len);
	}
	zone_free(&z2);

	if (!has_ldns && !has_bind) {
		zone_free(&z);
		skip();
	}
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/root.zone", dir);
	snprintf(bad, sizeof(bad), "%s/bad.zone", dir);
	zone_write(&z, path);
	/* To look at the zone by hand: CONCORD_DNS_ZONE_OUT=/tmp/root.zone */
	if (getenv("CONCORD_DNS_ZONE_OUT") != NULL)
		zone_write(&z, getenv("CONCORD_DNS_ZONE_OUT"));
	if (has_ldns) {
		/* -ZZ: a ZONEMD that matches the data, and a validly signed zone. */
		assert_int_equal(run("ldns-verify-zone -ZZ -V 2 %s >%s/ldns.out 2>&1", path, dir),
				 0);
	}
	if (has_bind)
		assert_int_equal(run("dnssec-verify -q -o . %s >%s/bind.out 2>&1", path, dir), 0);

	/* Negative controls. Glue is neither signed nor in the NSEC chain, so only the
	 * digest covers it: change one address and the ZONEMD check must fail. */
	for (size_t i = 0; i < z.n; i++)
		if (z.v[i].type == DNS_A && z.v[i].rd[0] == 203)
			z.v[i].rd[3] ^= 1;
	zone_write(&z, bad);
	if (has_ldns)
		assert_int_not_equal(run("ldns-verify-zone -Z -V 0 %s >/dev/null 2>&1", bad), 0);
	for (size_t i = 0; i < z.n; i++)
		if (z.v[i].type == DNS_A && z.v[i].rd[0] == 203)
			z.v[i].rd[3] ^= 1;
	/* And a signature with one bit off must fail DNSSEC validation. */
	for (size_t i = 0; i < z.n; i++)
		if (z.v[i].type == DNS_RRSIG && dns_get16(z.v[i].rd) == DNS_DS) {
			z.v[i].rd[z.v[i].len - 1] ^= 1;
			break;
		}
	zone_write(&z, bad);
	if (has_ldns)
		assert_int_not_equal(run("ldns-verify-zone -V 0 %s >/dev/null 2>&1", bad), 0);
	if (has_bind)
		assert_int_not_equal(run("dnssec-verify -q -o . %s >/dev/null 2>&1", bad), 0);

	run("rm -rf %s", dir);
	zone_free(&z);
	dns_key_wipe(&ksk);
	dns_key_wipe(&zsk);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rfc8080),
	    cmocka_unit_test(test_public_only),
	    cmocka_unit_test(test_verify_refuses_flips),
	    cmocka_unit_test(test_rrset_canonical),
	    cmocka_unit_test(test_rrsig_parse),
	    cmocka_unit_test(test_nsec_bitmap),
	    cmocka_unit_test(test_rfc8976),
	    cmocka_unit_test(test_zonemd_order),
	    cmocka_unit_test(test_tools),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
