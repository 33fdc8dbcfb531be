/* TSIG (dns/tsig.h) against RFC 8945 and against real peers:
 *   - key specs; round trips; every byte of a signed request and of a signed answer
 *     changed in turn; BADKEY, BADSIG, BADTIME (both edges of the fudge), BADTRUNC and
 *     the FORMERR placements; multi-message chains; every MAC also recomputed here, apart
 *     from tsig.c, from the RFC's description (ref_mac);
 *   - requests captured from BIND's dig 9.18 and Knot's kdig 3.2, verified at their own
 *     Time Signed (see "Captured requests" for how they were taken);
 *   - libknot's TSIG (what kdig and knotd use), in-process, both ways, multi-message too;
 *   - live, when the tools are there: a loopback server forked here answers dig -y and
 *     kdig -y over UDP and TCP, an AXFR in three messages included, with negative
 *     controls that show both tools do check; and dnspython checks a NOTIFY we sign and
 *     signs the answer we then check. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <libknot/libknot.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dns/tsig.h"
#include "dns/wire.h"
#include "tools.h"

/* SECRET1 is base64(SHA-256("concord tsig test")). */
#define SECRET1	  "/6QVwFkDVfLOFzSOATt+Km5J5zZnlssKxKpKYgPKOjM="
#define SECRET2	  "c2Vjb25kIGtleSwgYSBkaWZmZXJlbnQgc2VjcmV0IQ=="
#define KEY1	  "k1.concord.example"
#define T0	  1795327071u /* a Time Signed: 2026-11-22 */
#define DNS_AXFR  252
#define OP_NOTIFY 4
#define MSG_MAX	  4096

static struct tsig_key K[2]; /* what the server knows: k1 and k2 */
static struct tsig_key K9;   /* a key it does not know */
static struct tsig_key K1X;  /* k1's name with k2's secret */

static void key(struct tsig_key *k, const char *spec)
{
	struct cc_err e = {0};

	assert_int_equal(tsig_key_parse(k, spec, &e), 0);
}

static int setup(void **state)
{
	(void)state;
	key(&K[0], "hmac-sha256:" KEY1 ":" SECRET1);
	key(&K[1], "k2.concord.example:" SECRET2);
	key(&K9, "k9.concord.example:" SECRET1);
	key(&K1X, KEY1 ":" SECRET2);
	return 0;
}

/* ---- building messages ---- */

static size_t unhex(const char *hex, uint8_t *out, size_t cap)
{
	size_t n = 0;

	assert_int_equal(sodium_hex2bin(out, cap, hex, strlen(hex), " \n", &n, NULL), 0);
	return n;
}

static size_t wname(uint8_t w[DNS_NAME_MAX], const char *text)
{
	int n = dns_name_from_text(w, text);

	assert_true(n > 0);
	return (size_t)n;
}

/* A request: header and one question. */
static size_t query(uint8_t *m, uint16_t id, int opcode, const char *qname, uint16_t qtype)
{
	size_t n = wname(m + 12, qname);

	memset(m, 0, 12);
	dns_put16(m, id);
	m[2] = (uint8_t)(opcode << 3);
	dns_put16(m + 4, 1);
	dns_put16(m + 12 + n, qtype);
	dns_put16(m + 14 + n, DNS_CLASS_IN);
	return 16 + n;
}

/* Appends an RR and counts it in section sec: 0 answer, 1 authority, 2 additional. */
static size_t add_rr(uint8_t *m, size_t len, int sec, const char *owner, uint16_t type,
		     const uint8_t *rd, uint16_t rdlen)
{
	size_t n = wname(m + len, owner);

	dns_put16(m + len + n, type);
	dns_put16(m + len + n + 2, DNS_CLASS_IN);
	dns_put32(m + len + n + 4, 3600);
	dns_put16(m + len + n + 8, rdlen);
	memcpy(m + len + n + 10, rd, rdlen);
	dns_put16(m + 6 + 2 * sec, (uint16_t)(dns_get16(m + 6 + 2 * sec) + 1));
	return len + n + 10 + rdlen;
}

/* The head of the answer to q: its ID, opcode, RD and question, QR and AA set. 0 when q
 * has no plain question (no cmocka here: the live server, a child process, uses it). */
static size_t answer_head(const uint8_t *q, size_t qlen, uint8_t *m)
{
	int n = qlen > 12 && dns_get16(q + 4) == 1 ? dns_name_check(q + 12, qlen - 12) : -1;

	if (n < 0 || qlen < 16 + (size_t)n)
		return 0;
	memset(m, 0, 12);
	memcpy(m, q, 2);
	m[2] = (uint8_t)(0x84 | (q[2] & 0x79));
	dns_put16(m + 4, 1);
	memcpy(m + 12, q + 12, (size_t)n + 4);
	return 16 + (size_t)n;
}

static size_t soa_rdata(uint8_t *rd, uint32_t serial)
{
	size_t n = (size_t)dns_name_from_text(rd, "a.example.");

	n += (size_t)dns_name_from_text(rd + n, "h.example.");
	dns_put32(rd + n, serial);
	dns_put32(rd + n + 4, 1800);
	dns_put32(rd + n + 8, 900);
	dns_put32(rd + n + 12, 604800);
	dns_put32(rd + n + 16, 86400);
	return n + 20;
}

/* Part i (0..2) of a small root zone's transfer: SOA NS | A | AAAA SOA. */
static size_t zone_part(uint8_t *m, size_t len, int i)
{
	static const uint8_t a[4] = {192, 0, 2, 1};
	static const uint8_t aaaa[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1};
	uint8_t rd[2 * DNS_NAME_MAX + 20];
	size_t n;

	if (i == 0 || i == 2) {
		if (i == 2)
			len = add_rr(m, len, 0, "a.example.", 28, aaaa, sizeof(aaaa));
		n = soa_rdata(rd, 2024010100);
		len = add_rr(m, len, 0, ".", DNS_SOA, rd, (uint16_t)n);
	}
	if (i == 0) {
		n = (size_t)dns_name_from_text(rd, "a.example.");
		len = add_rr(m, len, 0, ".", DNS_NS, rd, (uint16_t)n);
	}
	if (i == 1)
		len = add_rr(m, len, 0, "a.example.", DNS_A, a, sizeof(a));
	return len;
}

/* ---- reading a TSIG RR and recomputing its MAC by hand ---- */

struct view { /* a TSIG RR at the end of a message */
	size_t start, owner_len, alg_len;
	const uint8_t *owner, *alg, *mac, *other;
	uint64_t time;
	uint16_t fudge, mac_len, orig_id, error, other_len;
};

static void view(const uint8_t *m, size_t len, size_t start, struct view *v)
{
	const uint8_t *p;
	int n;

	v->start = start;
	v->owner = m + start;
	n = dns_name_check(v->owner, len - start);
	assert_true(n > 0);
	v->owner_len = (size_t)n;
	p = v->owner + n;
	assert_int_equal(dns_get16(p), DNS_TSIG);
	assert_int_equal(dns_get16(p + 2), DNS_CLASS_ANY);
	assert_int_equal(dns_get32(p + 4), 0);
	assert_int_equal(dns_get16(p + 8), len - start - (size_t)n - 10);
	v->alg = p + 10;
	n = dns_name_check(v->alg, len - (size_t)(v->alg - m));
	assert_true(n > 0);
	v->alg_len = (size_t)n;
	p = v->alg + n;
	v->time = (uint64_t)dns_get16(p) << 32 | dns_get32(p + 2);
	v->fudge = dns_get16(p + 6);
	v->mac_len = dns_get16(p + 8);
	v->mac = p + 10;
	p = v->mac + v->mac_len;
	v->orig_id = dns_get16(p);
	v->error = dns_get16(p + 2);
	v->other_len = dns_get16(p + 4);
	v->other = p + 6;
	assert_int_equal(v->other + v->other_len - m, len);
}

/* RFC 8945 §4.3 and §5.3.1 spelled out, apart from tsig.c: HMAC-SHA256 over the prior MAC
 * (its size, then it), the message as it was without the TSIG RR (ID = Original ID, ARCOUNT
 * less the TSIG when counted), then the TSIG variables (key name and algorithm lower-case)
 * or, for later messages of an answer, the timers alone. */
static void ref_mac(const struct tsig_key *k, const uint8_t *prior, uint16_t prior_len,
		    const uint8_t *m, const struct view *v, int counted, int timers_only,
		    uint8_t out[TSIG_MAC_LEN])
{
	static uint8_t buf[2 * MSG_MAX];
	uint8_t lc[DNS_NAME_MAX];
	crypto_auth_hmacsha256_state st;
	size_t n = 0;

	if (prior_len > 0) {
		dns_put16(buf, prior_len);
		memcpy(buf + 2, prior, prior_len);
		n = 2u + prior_len;
	}
	memcpy(buf + n, m, v->start);
	dns_put16(buf + n, v->orig_id);
	dns_put16(buf + n + 10, (uint16_t)(dns_get16(m + 10) - counted));
	n += v->start;
	if (!timers_only) {
		memcpy(lc, k->name, dns_name_len(k->name));
		dns_name_lower(lc);
		memcpy(buf + n, lc, dns_name_len(lc));
		n += dns_name_len(lc);
		memcpy(buf + n, "\x00\xff\x00\x00\x00\x00", 6);
		n += 6;
		memcpy(buf + n, "\x0bhmac-sha256", 13);
		n += 13;
	}
	dns_put16(buf + n, (uint16_t)(v->time >> 32));
	dns_put32(buf + n + 2, (uint32_t)v->time);
	dns_put16(buf + n + 6, v->fudge);
	n += 8;
	if (!timers_only) {
		dns_put16(buf + n, v->error);
		dns_put16(buf + n + 2, v->other_len);
		if (v->other_len > 0)
			memcpy(buf + n + 4, v->other, v->other_len);
		n += 4u + v->other_len;
	}
	crypto_auth_hmacsha256_init(&st, k->secret, k->secret_len);
	crypto_auth_hmacsha256_update(&st, buf, n);
	crypto_auth_hmacsha256_final(&st, out);
}

/* Appends a TSIG RR made here, not by tsig.c: owner as given (compressed, upper-case, ...),
 * the MAC cut to mac_len octets, or zero-padded past 32. Returns the new length. */
static size_t hand_sign(uint8_t *m, size_t len, const struct tsig_key *k, const uint8_t *owner,
			size_t owner_len, uint64_t t, uint16_t mac_len, uint8_t mac[TSIG_MAC_LEN])
{
	struct view v = {.start = len, .time = t, .fudge = 300, .orig_id = dns_get16(m)};
	uint8_t full[TSIG_MAC_LEN], *p = m + len;

	ref_mac(k, NULL, 0, m, &v, 0, 0, full);
	memcpy(mac, full, TSIG_MAC_LEN);
	memcpy(p, owner, owner_len);
	p += owner_len;
	dns_put16(p, DNS_TSIG);
	dns_put16(p + 2, DNS_CLASS_ANY);
	dns_put32(p + 4, 0);
	dns_put16(p + 8, (uint16_t)(13 + 16 + mac_len));
	memcpy(p + 10, "\x0bhmac-sha256", 13);
	p += 23;
	dns_put16(p, 0);
	dns_put32(p + 2, (uint32_t)t);
	dns_put16(p + 6, 300);
	dns_put16(p + 8, mac_len);
	memset(p + 10, 0, mac_len);
	memcpy(p + 10, full, mac_len < TSIG_MAC_LEN ? mac_len : TSIG_MAC_LEN);
	p += 10u + mac_len;
	dns_put16(p, dns_get16(m));
	dns_put16(p + 2, 0);
	dns_put16(p + 4, 0);
	dns_put16(m + 10, (uint16_t)(dns_get16(m + 10) + 1));
	return (size_t)(p + 6 - m);
}

/* ---- key specs ---- */

static void bad_spec(const char *spec, const char *why)
{
	struct tsig_key k;
	struct cc_err e = {0};

	memset(&k, 0x55, sizeof(k));
	assert_int_equal(tsig_key_parse(&k, spec, &e), CC_EINVAL);
	assert_int_equal(e.code, CC_EINVAL);
	if (strstr(e.msg, why) == NULL)
		fail_msg("\"%s\": \"%s\" does not say \"%s\"", spec ? spec : "(null)", e.msg, why);
	/* Nothing of the secret stays behind, and never in the message. */
	for (size_t i = 0; i < sizeof(k); i++)
		assert_int_equal(((uint8_t *)&k)[i], 0);
	assert_null(strstr(e.msg, "6QVwFkDV"));
}

static void test_key_parse(void **state)
{
	static const char *const same[] = {
	    "hmac-sha256:" KEY1 ":" SECRET1, "HMAC-SHA256:K1.Concord.Example.:" SECRET1,
	    KEY1 ":" SECRET1, KEY1 ".:/6QVwFkDVfLOFzSOATt+Km5J5zZnlssKxKpKYgPKOjM"};
	uint8_t w[DNS_NAME_MAX], secret[32];
	char spec[2100];
	struct tsig_key k;

	(void)state;
	wname(w, KEY1 ".");
	assert_int_equal(unhex("ffa415c0590355f2ce17348e013b7e2a6e49e7366796cb0ac4aa4a6203ca3a33",
			       secret, sizeof(secret)),
			 32);
	for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
		key(&k, same[i]);
		assert_memory_equal(k.name, w, dns_name_len(w));
		assert_int_equal(k.secret_len, 32);
		assert_memory_equal(k.secret, secret, 32);
	}
	/* One octet and 64 octets are the bounds. */
	key(&k, "a:AA==");
	assert_int_equal(k.secret_len, 1);
	key(&k, "a:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7"
		"PD0+Pw==");
	assert_int_equal(k.secret_len, 64);
	tsig_key_wipe(&k);
	assert_int_equal(k.secret_len, 0);

	bad_spec(NULL, "none given");
	bad_spec("k1" SECRET1, "expected [hmac-sha256:]NAME:BASE64SECRET");
	bad_spec("hmac-md5:k1:" SECRET1, "\"hmac-md5\" is not supported");
	bad_spec("hmac-sha256-128:k1:" SECRET1, "\"hmac-sha256-128\" is not supported");
	bad_spec("hmac-sha512:k1:" SECRET1, "only hmac-sha256");
	bad_spec(":" SECRET1, "key name is empty");
	bad_spec("hmac-sha256::" SECRET1, "key name is empty");
	bad_spec("a..b:" SECRET1, "bad key name \"a..b\"");
	bad_spec("a b:" SECRET1, "bad key name");
	bad_spec("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.b:" SECRET1,
		 "bad key name");
	bad_spec("k1:", "empty secret");
	bad_spec("hmac-sha256:k1:", "empty secret");
	bad_spec("k1:" SECRET1 "!", "not base64");
	bad_spec("k1:/6QVwFkDVfLOFzSOATt+Km5J5zZn lssKxKpKYgPKOjM=", "not base64");
	bad_spec("k1:====", "not base64");
	/* 65 octets: base64 of 0..64. */
	bad_spec(
	    "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7"
	    "PD0+P0A=",
	    "65 bytes, not 1 to 64");
	memset(spec, 'A', sizeof(spec));
	memcpy(spec, "k1:", 3);
	spec[3 + 200] = '\0';
	bad_spec(spec, "longer than 64 bytes");
	/* Over any bound at all: refused before being read. */
	spec[3 + 200] = 'A';
	spec[sizeof(spec) - 1] = '\0';
	spec[1000] = ':';
	bad_spec(spec, "longer than 1200 bytes");
}

/* ---- round trips ---- */

static void test_round_trip(void **state)
{
	uint8_t q[MSG_MAX], a[MSG_MAX], mac[TSIG_MAC_LEN], w[DNS_NAME_MAX];
	size_t qlen, q0, alen, a0;
	struct tsig_ctx c, s;
	struct view v;

	(void)state;
	q0 = qlen = query(q, 0x1234, 0, ".", DNS_SOA);
	assert_int_equal(tsig_sign_request(&c, &K[0], q, &qlen, sizeof(q), T0), 0);
	assert_int_equal(dns_get16(q + 10), 1);
	view(q, qlen, q0, &v);
	assert_int_equal(v.owner_len, wname(w, KEY1 "."));
	assert_memory_equal(v.owner, w, v.owner_len);
	assert_int_equal(v.alg_len, 13);
	assert_memory_equal(v.alg, "\x0bhmac-sha256", 13);
	assert_true(v.time == T0 && v.fudge == 300 && v.mac_len == 32 && v.orig_id == 0x1234 &&
		    v.error == 0 && v.other_len == 0);
	ref_mac(&K[0], NULL, 0, q, &v, 1, 0, mac);
	assert_memory_equal(v.mac, mac, 32);
	assert_int_equal(c.mac_len, 32);
	assert_memory_equal(c.mac, mac, 32);

	assert_int_equal(tsig_verify_query(K, 2, q, qlen, T0 + 10, &s), 0);
	assert_ptr_equal(s.key, &K[0]);
	assert_int_equal(s.error, 0);
	assert_int_equal(s.mac_len, 32);
	assert_memory_equal(s.mac, mac, 32);

	a0 = alen = zone_part(a, answer_head(q, qlen, a), 0);
	assert_int_equal(tsig_space(&s), 20 + 10 + 13 + 16 + 32);
	assert_int_equal(tsig_sign(&s, a, &alen, sizeof(a), T0 + 11), 0);
	assert_int_equal(alen, a0 + tsig_space(&s));
	assert_int_equal(dns_get16(a + 10), 1);
	view(a, alen, a0, &v);
	assert_true(v.time == T0 + 11 && v.mac_len == 32 && v.orig_id == 0x1234 && v.error == 0);
	/* The first answer covers the request MAC. */
	ref_mac(&K[0], mac, 32, a, &v, 1, 0, mac);
	assert_memory_equal(v.mac, mac, 32);
	assert_int_equal(tsig_verify_answer(&c, a, alen, T0 + 12), 0);
	assert_int_equal(c.nmsg, 1);

	/* An unsigned message is told apart from a malformed one. */
	dns_put16(q + 10, 0);
	assert_int_equal(tsig_verify_query(K, 2, q, q0, T0, &s), TSIG_NONE);
	assert_null(s.key);
	assert_int_equal(tsig_verify_query(K, 2, q, 11, T0, &s), CC_EINVAL);
	assert_int_equal(tsig_verify_query(K, 2, NULL, 0, T0, &s), CC_EINVAL);
	dns_put16(q + 10, 1);
	assert_int_equal(tsig_verify_query(K, 0, q, qlen, T0, &s), CC_ENOENT);
	dns_put16(a + 10, 0);
	assert_int_equal(tsig_verify_answer(&c, a, a0, T0), TSIG_NONE);
}

/* Every octet of a signed request and of a signed answer matters, but the ID's: the MAC
 * covers the Original ID instead, so that a forwarder may change the ID (RFC 8945 §4.3). */
static void test_tamper(void **state)
{
	static const uint8_t flips[] = {0x01, 0x80, 0xff}; /* not 0x20: case, tried below */
	uint8_t q[MSG_MAX], a[MSG_MAX], x[MSG_MAX];
	size_t qlen, q0, alen;
	struct tsig_ctx c, s, c2;
	int r;

	(void)state;
	q0 = qlen = query(q, 7, 0, "cn.", DNS_NS);
	assert_int_equal(tsig_sign_request(&c, &K[1], q, &qlen, sizeof(q), T0), 0);
	assert_int_equal(tsig_verify_query(K, 2, q, qlen, T0, &s), 0);
	alen = zone_part(a, answer_head(q, qlen, a), 1);
	assert_int_equal(tsig_sign(&s, a, &alen, sizeof(a), T0), 0);
	for (size_t i = 0; i < qlen; i++)
		for (size_t f = 0; f < sizeof(flips); f++) {
			memcpy(x, q, qlen);
			x[i] ^= flips[f];
			r = tsig_verify_query(K, 2, x, qlen, T0, &s);
			if ((r == 0) != (i < 2))
				fail_msg("request octet %zu ^ %#x: %d", i, flips[f], r);
		}
	/* A key name's case does not matter (it is signed lower-case); its letters do. */
	memcpy(x, q, qlen);
	x[q0 + 1] ^= 0x20;
	assert_int_equal(x[q0 + 1], 'K');
	assert_int_equal(tsig_verify_query(K, 2, x, qlen, T0, &s), 0);
	for (size_t i = 0; i < alen; i++)
		for (size_t f = 0; f < sizeof(flips); f++) {
			memcpy(x, a, alen);
			x[i] ^= flips[f];
			c2 = c;
			r = tsig_verify_answer(&c2, x, alen, T0);
			if ((r == 0) != (i < 2))
				fail_msg("answer octet %zu ^ %#x: %d", i, flips[f], r);
		}
	/* And nothing may be cut off or added. */
	for (size_t n = 0; n < qlen; n++)
		assert_int_not_equal(tsig_verify_query(K, 2, q, n, T0, &s), 0);
	q[qlen] = 0;
	assert_int_equal(tsig_verify_query(K, 2, q, qlen + 1, T0, &s), CC_EINVAL);
	for (size_t n = 0; n < alen; n++) {
		c2 = c;
		assert_int_not_equal(tsig_verify_answer(&c2, a, n, T0), 0);
	}
}

/* ---- errors ---- */

/* Checks the NOTAUTH answer to q: header, question, and a TSIG RR naming name with err. */
static void check_error_answer(const uint8_t *q, const uint8_t *a, size_t alen, size_t qsize,
			       const char *name, uint16_t err, struct view *v)
{
	uint8_t w[DNS_NAME_MAX];

	assert_memory_equal(a, q, 2);
	assert_int_equal(a[2] & 0x80, 0x80);
	assert_int_equal(a[2] & 0x78, q[2] & 0x78);
	assert_int_equal(a[3] & 0x0f, DNS_RCODE_NOTAUTH);
	assert_int_equal(dns_get16(a + 4), 1);
	assert_int_equal(dns_get16(a + 6) + dns_get16(a + 8), 0);
	assert_int_equal(dns_get16(a + 10), 1);
	assert_memory_equal(a + 12, q + 12, qsize - 12);
	view(a, alen, qsize, v);
	assert_int_equal(v->owner_len, wname(w, name));
	assert_memory_equal(v->owner, w, v->owner_len);
	assert_int_equal(v->orig_id, dns_get16(q));
	assert_int_equal(v->error, err);
}

static void test_badkey_badsig(void **state)
{
	uint8_t q[MSG_MAX], a[MSG_MAX];
	size_t qlen, q0, alen;
	struct tsig_ctx c, s;
	struct view v;

	(void)state;
	/* A key the server does not have. */
	q0 = qlen = query(q, 0xbeef, 0, ".", DNS_AXFR);
	assert_int_equal(tsig_sign_request(&c, &K9, q, &qlen, sizeof(q), T0), 0);
	assert_int_equal(tsig_verify_query(K, 2, q, qlen, T0, &s), CC_ENOENT);
	assert_int_equal(s.error, TSIG_BADKEY);
	assert_null(s.key);
	assert_int_equal(tsig_error_answer(&s, q, qlen, a, &alen, sizeof(a), T0 + 5), 0);
	check_error_answer(q, a, alen, q0, "k9.concord.example.", TSIG_BADKEY, &v);
	/* Unsigned (§5.2.1): nothing was verified to sign with. */
	assert_int_equal(v.mac_len, 0);
	assert_int_equal(v.other_len, 0);
	assert_int_equal(tsig_verify_answer(&c, a, alen, T0), CC_EPERM);
	assert_int_equal(c.error, TSIG_BADKEY);
	/* No room: refused whole. */
	assert_int_equal(tsig_error_answer(&s, q, qlen, a, &alen, alen - 1, T0), CC_ETOOBIG);
	assert_int_equal(tsig_error_answer(&s, q, qlen, a, &alen, 11, T0), CC_ETOOBIG);

	/* The right name with the wrong secret. */
	q0 = qlen = query(q, 0xbeef, 0, ".", DNS_AXFR);
	assert_int_equal(tsig_sign_request(&c, &K1X, q, &qlen, sizeof(q), T0), 0);
	assert_int_equal(tsig_verify_query(K, 2, q, qlen, T0, &s), CC_ESIG);
	assert_int_equal(s.error, TSIG_BADSIG);
	assert_null(s.key);
	assert_int_equal(tsig_error_answer(&s, q, qlen, a, &alen, sizeof(a), T0), 0);
	check_error_answer(q, a, alen, q0, KEY1 ".", TSIG_BADSIG, &v);
	assert_int_equal(v.mac_len, 0);
	assert_int_equal(tsig_verify_answer(&c, a, alen, T0), CC_EPERM);
	assert_int_equal(c.error, TSIG_BADSIG);
	/* No error, no error answer. */
	s.error = 0;
	assert_int_equal(tsig_error_answer(&s, q, qlen, a, &alen, sizeof(a), T0), CC_EINVAL);
}

static void test_badtime(void **state)
{
	uint8_t q[MSG_MAX], a[MSG_MAX], x[MSG_MAX], mac[TSIG_MAC_LEN];
	size_t qlen, q0, alen;
	struct tsig_ctx c, c2, s;
	struct view v;

	(void)state;
	q0 = qlen = query(q, 99, OP_NOTIFY, ".", DNS_SOA);
	assert_int_equal(tsig_sign_request(&c, &K[0], q, &qlen, sizeof(q), T0), 0);
	assert_int_equal(tsig_verify_query(K, 2, q, qlen, T0 + 300, &s), 0);
	assert_int_equal(tsig_verify_query(K, 2, q, qlen, T0 - 300, &s), 0);
	assert_int_equal(tsig_verify_query(K, 2, q, qlen, T0 - 301, &s), CC_ETIME);
	assert_int_equal(tsig_verify_query(K, 2, q, qlen, 0, &s), CC_ETIME);
	assert_int_equal(tsig_verify_query(K, 2, q, qlen, UINT64_MAX, &s), CC_ETIME);
	assert_int_equal(tsig_verify_query(K, 2, q, qlen, T0 + 301, &s), CC_ETIME);
	assert_int_equal(s.error, TSIG_BADTIME);
	assert_ptr_equal(s.key, &K[0]);
	assert_int_equal(tsig_error_answer(&s, q, qlen, a, &alen, sizeof(a), T0 + 301), 0);
	check_error_answer(q, a, alen, q0, KEY1 ".", TSIG_BADTIME, &v);
	/* Signed (§5.2.3), with the client's time and ours apart. */
	assert_int_equal(v.time, T0);
	assert_int_equal(v.other_len, 6);
	assert_int_equal((uint64_t)dns_get16(v.other) << 32 | dns_get32(v.other + 2), T0 + 301);
	assert_int_equal(v.mac_len, 32);
	ref_mac(&K[0], c.mac, c.mac_len, a, &v, 1, 0, mac);
	assert_memory_equal(v.mac, mac, 32);
	c2 = c;
	assert_int_equal(tsig_verify_answer(&c2, a, alen, T0), CC_EPERM);
	assert_int_equal(c2.error, TSIG_BADTIME);
	/* That one is authenticated: a server's time changed in flight does not pass. */
	memcpy(x, a, alen);
	x[alen - 1] ^= 1;
	c2 = c;
	assert_int_equal(tsig_verify_answer(&c2, x, alen, T0), CC_ESIG);

	/* An answer out of its own fudge. */
	assert_int_equal(tsig_verify_query(K, 2, q, qlen, T0, &s), 0);
	alen = answer_head(q, qlen, a);
	assert_int_equal(tsig_sign(&s, a, &alen, sizeof(a), T0), 0);
	c2 = c;
	assert_int_equal(tsig_verify_answer(&c2, a, alen, T0 + 301), CC_ETIME);
	/* A time past 48 bits cannot be signed. */
	alen = answer_head(q, qlen, a);
	assert_int_equal(tsig_sign(&s, a, &alen, sizeof(a), (uint64_t)1 << 48), CC_EINVAL);
}

static void test_badtrunc(void **state)
{
	uint8_t q[MSG_MAX], a[MSG_MAX], mac[TSIG_MAC_LEN], w[DNS_NAME_MAX];
	size_t qlen, q0, alen, wl = wname(w, KEY1 ".");
	struct tsig_ctx c, s;
	struct view v;

	(void)state;
	/* Half a MAC verifies, and is refused by policy with a signed BADTRUNC. */
	q0 = query(q, 5, 0, ".", DNS_SOA);
	qlen = hand_sign(q, q0, &K[0], w, wl, T0, 16, mac);
	assert_int_equal(tsig_verify_query(K, 2, q, qlen, T0, &s), CC_ESIG);
	assert_int_equal(s.error, TSIG_BADTRUNC);
	assert_int_equal(s.mac_len, 16);
	assert_int_equal(tsig_error_answer(&s, q, qlen, a, &alen, sizeof(a), T0), 0);
	check_error_answer(q, a, alen, q0, KEY1 ".", TSIG_BADTRUNC, &v);
	assert_int_equal(v.mac_len, 32);
	assert_int_equal(v.other_len, 0);
	/* It covers the request MAC as it came, cut. */
	memset(&c, 0, sizeof(c));
	c.key = &K[0];
	memcpy(c.mac, mac, 16);
	c.mac_len = 16;
	assert_int_equal(tsig_verify_answer(&c, a, alen, T0), CC_EPERM);
	assert_int_equal(c.error, TSIG_BADTRUNC);
	/* Half a wrong MAC is BADSIG. */
	q[qlen - 7] ^= 1;
	assert_int_equal(tsig_verify_query(K, 2, q, qlen, T0, &s), CC_ESIG);
	assert_int_equal(s.error, TSIG_BADSIG);
	/* Below half, or longer than the hash: FORMERR. */
	query(q, 5, 0, ".", DNS_SOA);
	qlen = hand_sign(q, q0, &K[0], w, wl, T0, 15, mac);
	assert_int_equal(tsig_verify_query(K, 2, q, qlen, T0, &s), CC_EINVAL);
	query(q, 5, 0, ".", DNS_SOA);
	qlen = hand_sign(q, q0, &K[0], w, wl, T0, 33, mac);
	assert_int_equal(tsig_verify_query(K, 2, q, qlen, T0, &s), CC_EINVAL);
	query(q, 5, 0, ".", DNS_SOA);
	qlen = hand_sign(q, q0, &K[0], w, wl, T0, 0, mac);
	assert_int_equal(tsig_verify_query(K, 2, q, qlen, T0, &s), CC_EINVAL);
	/* The whole MAC, made here: the same as tsig.c's. */
	query(q, 5, 0, ".", DNS_SOA);
	qlen = hand_sign(q, q0, &K[0], w, wl, T0, 32, mac);
	assert_int_equal(tsig_verify_query(K, 2, q, qlen, T0, &s), 0);
}

/* RFC 8945 §5.2 asks FORMERR for a TSIG RR anywhere but last in the additional section. */
static void test_placement(void **state)
{
	static const uint8_t addr[4] = {192, 0, 2, 1};
	uint8_t q[MSG_MAX], x[MSG_MAX], w[DNS_NAME_MAX], mac[TSIG_MAC_LEN];
	size_t qlen, q0, xlen, wl = wname(w, KEY1 ".");
	struct tsig_ctx c, s;
	uint8_t opt[11] = {0, 0, 41, 4, 0xd0, 0, 0, 0x80, 0, 0, 0};

	(void)state;
	q0 = query(q, 1, 0, KEY1 ".", DNS_SOA);
	/* After an authority RR and an EDNS OPT RR: fine. */
	q0 = add_rr(q, q0, 1, "cn.", DNS_A, addr, sizeof(addr));
	memcpy(q + q0, opt, sizeof(opt));
	dns_put16(q + 10, 1);
	qlen = q0 += sizeof(opt);
	assert_int_equal(tsig_sign_request(&c, &K[0], q, &qlen, sizeof(q), T0), 0);
	assert_int_equal(tsig_verify_query(K, 2, q, qlen, T0, &s), 0);
	/* Then an RR after it. */
	memcpy(x, q, qlen);
	xlen = add_rr(x, qlen, 2, "cn.", DNS_A, addr, sizeof(addr));
	assert_int_equal(tsig_verify_query(K, 2, x, xlen, T0, &s), CC_EINVAL);
	/* Two of them. */
	memcpy(x, q, qlen);
	xlen = qlen;
	assert_int_equal(tsig_sign_request(&c, &K[0], x, &xlen, sizeof(x), T0), 0);
	assert_int_equal(tsig_verify_query(K, 2, x, xlen, T0, &s), CC_EINVAL);
	/* Counted in the authority section, or in the answer section. */
	memcpy(x, q, qlen);
	dns_put16(x + 8, 3);
	dns_put16(x + 10, 0);
	assert_int_equal(tsig_verify_query(K, 2, x, qlen, T0, &s), CC_EINVAL);
	xlen = query(x, 1, 0, ".", DNS_SOA);
	assert_int_equal(tsig_sign_request(&c, &K[0], x, &xlen, sizeof(x), T0), 0);
	dns_put16(x + 6, 1);
	dns_put16(x + 10, 0);
	assert_int_equal(tsig_verify_query(K, 2, x, xlen, T0, &s), CC_EINVAL);
	/* Class other than ANY, TTL other than 0. */
	xlen = query(x, 1, 0, ".", DNS_SOA);
	assert_int_equal(tsig_sign_request(&c, &K[0], x, &xlen, sizeof(x), T0), 0);
	x[17 + wl + 3] = 1;
	assert_int_equal(tsig_verify_query(K, 2, x, xlen, T0, &s), CC_EINVAL);
	x[17 + wl + 3] = 255;
	x[17 + wl + 7] = 1;
	assert_int_equal(tsig_verify_query(K, 2, x, xlen, T0, &s), CC_EINVAL);
	x[17 + wl + 7] = 0;
	assert_int_equal(tsig_verify_query(K, 2, x, xlen, T0, &s), 0);

	/* The owner may be compressed (it is read whole, lower-cased) ... */
	q0 = query(q, 1, 0, KEY1 ".", DNS_SOA);
	qlen = hand_sign(q, q0, &K[0], (const uint8_t *)"\xc0\x0c", 2, T0, 32, mac);
	assert_int_equal(tsig_verify_query(K, 2, q, qlen, T0, &s), 0);
	assert_memory_equal(s.name, w, wl);
	/* ... and in upper case ... */
	memcpy(x, w, wl);
	for (size_t i = 0; i < wl; i++)
		if (x[i] >= 'a' && x[i] <= 'z')
			x[i] ^= 0x20;
	q0 = query(q, 1, 0, ".", DNS_SOA);
	qlen = hand_sign(q, q0, &K[0], x, wl, T0, 32, mac);
	assert_int_equal(tsig_verify_query(K, 2, q, qlen, T0, &s), 0);
	assert_memory_equal(s.name, w, wl);
	/* ... but a pointer must lead back, never to itself or on. */
	q0 = query(q, 1, 0, ".", DNS_SOA);
	x[0] = (uint8_t)(0xc0 | q0 >> 8);
	x[1] = (uint8_t)q0;
	qlen = hand_sign(q, q0, &K[0], x, 2, T0, 32, mac);
	assert_int_equal(tsig_verify_query(K, 2, q, qlen, T0, &s), CC_EINVAL);
	x[1] = (uint8_t)(q0 + 2);
	query(q, 1, 0, ".", DNS_SOA);
	qlen = hand_sign(q, q0, &K[0], x, 2, T0, 32, mac);
	assert_int_equal(tsig_verify_query(K, 2, q, qlen, T0, &s), CC_EINVAL);
	/* A pointer back into the question's type, read as a label: garbage, never a key. */
	x[1] = 14;
	query(q, 1, 0, ".", DNS_SOA);
	qlen = hand_sign(q, q0, &K[0], x, 2, T0, 32, mac);
	assert_int_not_equal(tsig_verify_query(K, 2, q, qlen, T0, &s), 0);
}

/* ---- multi-message answers ---- */

static void test_multi(void **state)
{
	uint8_t q[MSG_MAX], m[4][MSG_MAX], mac[TSIG_MAC_LEN], prev[TSIG_MAC_LEN];
	size_t qlen, len[4], start[4];
	struct tsig_ctx c, c2, s;
	struct view v;

	(void)state;
	qlen = query(q, 0xaaaa, 0, ".", DNS_AXFR);
	assert_int_equal(tsig_sign_request(&c, &K[0], q, &qlen, sizeof(q), T0), 0);
	assert_int_equal(tsig_verify_query(K, 2, q, qlen, T0, &s), 0);
	memcpy(prev, c.mac, 32);
	for (int i = 0; i < 4; i++) {
		start[i] = len[i] = zone_part(m[i], answer_head(q, qlen, m[i]), i % 3);
		assert_int_equal(tsig_sign(&s, m[i], &len[i], sizeof(m[i]), T0 + (unsigned)i), 0);
		view(m[i], len[i], start[i], &v);
		assert_int_equal(v.time, T0 + (unsigned)i);
		/* The first like any answer; later ones: prior MAC, message, timers (§5.3.1). */
		ref_mac(&K[0], prev, 32, m[i], &v, 1, i > 0, mac);
		assert_memory_equal(v.mac, mac, 32);
		memcpy(prev, mac, 32);
	}
	assert_int_equal(s.nmsg, 4);
	c2 = c;
	for (int i = 0; i < 4; i++)
		assert_int_equal(tsig_verify_answer(&c2, m[i], len[i], T0 + 4), 0);
	/* Out of order, skipped, replayed, or one changed: the chain breaks there. */
	c2 = c;
	assert_int_equal(tsig_verify_answer(&c2, m[1], len[1], T0), CC_ESIG);
	c2 = c;
	assert_int_equal(tsig_verify_answer(&c2, m[0], len[0], T0), 0);
	assert_int_equal(tsig_verify_answer(&c2, m[2], len[2], T0), CC_ESIG);
	assert_int_equal(tsig_verify_answer(&c2, m[0], len[0], T0), CC_ESIG);
	assert_int_equal(tsig_verify_answer(&c2, m[1], len[1], T0), 0);
	m[2][20] ^= 1;
	assert_int_equal(tsig_verify_answer(&c2, m[2], len[2], T0), CC_ESIG);
	/* A message of another exchange, same key. */
	c2 = c;
	c2.mac[0] ^= 1;
	assert_int_equal(tsig_verify_answer(&c2, m[0], len[0], T0), CC_ESIG);
}

static void test_room(void **state)
{
	uint8_t q[MSG_MAX], a[MSG_MAX], x[MSG_MAX];
	size_t qlen, alen, a0, need;
	struct tsig_ctx c, s, z;

	(void)state;
	qlen = query(q, 3, 0, ".", DNS_SOA);
	assert_int_equal(tsig_sign_request(&c, &K[0], q, &qlen, sizeof(q), T0), 0);
	assert_int_equal(tsig_verify_query(K, 2, q, qlen, T0, &s), 0);
	a0 = zone_part(a, answer_head(q, qlen, a), 0);
	need = tsig_space(&s);
	memcpy(x, a, a0);
	alen = a0;
	/* One octet short: CC_ETOOBIG and nothing written. */
	assert_int_equal(tsig_sign(&s, a, &alen, a0 + need - 1, T0), CC_ETOOBIG);
	assert_int_equal(alen, a0);
	assert_memory_equal(a, x, a0);
	assert_int_equal(s.nmsg, 0);
	assert_int_equal(tsig_sign(&s, a, &alen, a0 + need, T0), 0);
	assert_int_equal(alen, a0 + need);
	/* Nonsense from the caller. */
	alen = 11;
	assert_int_equal(tsig_sign(&s, a, &alen, sizeof(a), T0), CC_EINVAL);
	alen = 20;
	assert_int_equal(tsig_sign(&s, a, &alen, 19, T0), CC_EINVAL);
	alen = a0;
	dns_put16(a + 10, 0xffff);
	assert_int_equal(tsig_sign(&s, a, &alen, sizeof(a), T0), CC_EINVAL);
	memset(&z, 0, sizeof(z));
	alen = a0;
	assert_int_equal(tsig_sign(&z, a, &alen, sizeof(a), T0), CC_EINVAL);
}

/* ---- captured requests ---- */

/* Taken on this machine with a Python listener on 127.0.0.1 that printed the raw bytes of
 * one request, over UDP or TCP, then stopped (after 10 s at most), e.g.
 *   dig -y hmac-sha256:k1.concord.example:SECRET1 @127.0.0.1 -p 53531 . SOA +tcp +tries=1
 * (BIND 9.18.49) and kdig -y ... (Knot 3.2.6); the time is each request's Time Signed. */
struct vector {
	const char *what;
	uint64_t time;
	int want;
	uint16_t error;
	const char *hex;
};

static const struct vector vectors[] = {
    {"dig . SOA +tcp (EDNS, cookie)", 1795327071, 0, 0,
     "f95101200001000000000002000006000100002904d000000000000c000a0008284765a655f1d566026b3107"
     "636f6e636f7264076578616d706c650000fa00ff00000000003d0b686d61632d7368613235360000006b02"
     "845f012c00203f4e2de49a7fbcc74454edacf6c115190c47dba2bb4c7e33723b25edc58ef7b7f951000000"
     "00"},
    {"dig . IXFR=2024010100 (SOA in authority, EDNS)", 1795327094, 0, 0,
     "0976000000010000000100020000fb00010000060001000000000016000078a3f1740000000000000000"
     "000000000000000000002904d000000000000c000a0008a44a9c6ae5ba7136026b3107636f6e636f72640765"
     "78616d706c650000fa00ff00000000003d0b686d61632d7368613235360000006b028476012c0020e6ad8a4f"
     "85499e448e50c9a6ee6b6a35202170b6c91f04b0e19e367fdd7f14fd097600000000"},
    {"dig . SOA +opcode=notify", 1795327095, 0, 0,
     "607720200001000000000002000006000100002904d000000000000c000a000888bfad36c6a3f061026b31"
     "07636f6e636f7264076578616d706c650000fa00ff00000000003d0b686d61632d7368613235360000006b"
     "028477012c0020e16bd47066dd63dd53bcdc5a3376415390fe4c7d326cdca2020b58eeb714a22d607700000"
     "000"},
    {"kdig . AXFR (key name given as K1.Concord.Example)", 1795327085, 0, 0,
     "5d67012000010000000000010000fc0001026b3107636f6e636f7264076578616d706c650000fa00ff0000"
     "0000003d0b686d61632d7368613235360000006b02846d012c002099bdaba3e4da18bec074f0e7ce4cc19d"
     "5f71435b067064462a43d9ec4df131045d6700000000"},
    {"kdig . SOA, -y NAME:SECRET", 1795327086, 0, 0,
     "f26f012000010000000000010000060001026b3107636f6e636f7264076578616d706c650000fa00ff0000"
     "0000003d0b686d61632d7368613235360000006b02846e012c0020219926bb656517fd4d9f8b2fd0d9d718"
     "c02c42649325d40a2716e2806332f123f26f00000000"},
    /* dig -y hmac-sha256-128:...: a MAC of 16 octets, which we refuse by policy. */
    {"dig cn. NS, hmac-sha256-128", 1795327073, CC_ESIG, TSIG_BADTRUNC,
     "37170120000100000000000202636e000002000100002904d000000000000c000a00082a8192b4f9a29252"
     "026b3107636f6e636f7264076578616d706c650000fa00ff00000000002d0b686d61632d73686132353600"
     "00006b028461012c0010eaa55affc501d7050153a1183acacf00371700000000"},
    /* dig -y NAME:SECRET means hmac-md5 to BIND: the same key name, another algorithm. */
    {"dig . AXFR, -y NAME:SECRET (hmac-md5)", 1795327079, CC_ENOENT, TSIG_BADKEY,
     "abe5002000010000000000020000fc000100002904d000000000000c000a00084009e23bbf3b7077026b31"
     "07636f6e636f7264076578616d706c650000fa00ff00000000003a08686d61632d6d6435077369672d616c"
     "670372656703696e740000006b028467012c0010dc06a4d16b00e53dc1db15a7c5e53410abe500000000"},
};

static void test_captured(void **state)
{
	uint8_t m[MSG_MAX], a[MSG_MAX], w[DNS_NAME_MAX];
	struct tsig_key wrong[1];
	struct tsig_ctx s;
	struct view v;
	size_t n, alen;
	int r;

	(void)state;
	wrong[0] = K1X;
	for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		const struct vector *t = &vectors[i];

		n = unhex(t->hex, m, sizeof(m));
		r = tsig_verify_query(K, 2, m, n, t->time, &s);
		if (r != t->want || s.error != t->error)
			fail_msg("%s: %d, error %u", t->what, r, s.error);
		if (t->want == CC_ENOENT) {
			/* The error answer names the algorithm the client used. */
			assert_int_equal(tsig_error_answer(&s, m, n, a, &alen, sizeof(a), t->time),
					 0);
			view(a, alen, 16 + (size_t)dns_name_check(m + 12, n - 12), &v);
			assert_int_equal(v.alg_len, wname(w, "hmac-md5.sig-alg.reg.int."));
			assert_memory_equal(v.alg, w, v.alg_len);
			assert_int_equal(v.mac_len, 0);
			continue;
		}
		if (t->want != 0)
			continue;
		assert_int_equal(tsig_verify_query(K, 2, m, n, t->time + 301, &s), CC_ETIME);
		assert_int_equal(tsig_verify_query(wrong, 1, m, n, t->time, &s), CC_ESIG);
		m[n - 7] ^= 1;
		assert_int_equal(tsig_verify_query(K, 2, m, n, t->time, &s), CC_ESIG);
	}
}

/* ---- libknot, in-process ---- */

/* libknot parses a copy, since it strips the TSIG RR from the wire it parses (and then
 * hashes p->size octets, without it). */
static knot_pkt_t *kparse(const uint8_t *m, size_t len)
{
	static uint8_t copy[MSG_MAX];
	knot_pkt_t *p;

	memcpy(copy, m, len);
	p = knot_pkt_new(copy, len, NULL);

	assert_non_null(p);
	assert_int_equal(knot_pkt_parse(p, 0), KNOT_EOK);
	assert_non_null(p->tsig_rr);
	return p;
}

static void test_knot(void **state)
{
	uint8_t q[MSG_MAX], m[3][MSG_MAX], digest[64];
	size_t qlen, len[3], dlen;
	uint64_t now = (uint64_t)time(NULL);
	knot_tsig_key_t kk;
	knot_pkt_t *p;
	struct tsig_ctx c, s;

	(void)state;
	/* libknot checks times against the clock, so this test runs on it. */
	assert_int_equal(knot_tsig_key_init_str(&kk, "hmac-sha256:" KEY1 ":" SECRET1), KNOT_EOK);

	/* Knot signs a request, we check it and sign a three-message answer, Knot checks. */
	qlen = query(q, 0x4b4b, 0, ".", DNS_AXFR);
	dlen = sizeof(digest);
	assert_int_equal(knot_tsig_sign(q, &qlen, sizeof(q), NULL, 0, digest, &dlen, &kk, 0, 0),
			 KNOT_EOK);
	assert_int_equal(tsig_verify_query(K, 2, q, qlen, now, &s), 0);
	assert_int_equal(dlen, 32);
	assert_memory_equal(s.mac, digest, 32);
	for (int i = 0; i < 3; i++) {
		len[i] = zone_part(m[i], answer_head(q, qlen, m[i]), i);
		assert_int_equal(tsig_sign(&s, m[i], &len[i], sizeof(m[i]), now), 0);
	}
	for (int i = 0; i < 3; i++) {
		p = kparse(m[i], len[i]);
		if (i == 0)
			assert_int_equal(knot_tsig_client_check(p->tsig_rr, p->wire, p->size,
								digest, dlen, &kk, 0),
					 KNOT_EOK);
		else
			assert_int_equal(knot_tsig_client_check_next(p->tsig_rr, p->wire, p->size,
								     digest, dlen, &kk, 0),
					 KNOT_EOK);
		memcpy(digest, knot_tsig_rdata_mac(p->tsig_rr), 32);
		knot_pkt_free(p);
	}
	/* Knot's check does fail where it should: the second message again. */
	p = kparse(m[1], len[1]);
	assert_int_not_equal(
	    knot_tsig_client_check_next(p->tsig_rr, p->wire, p->size, digest, dlen, &kk, 0),
	    KNOT_EOK);
	knot_pkt_free(p);

	/* We sign a request, Knot checks it and signs a three-message answer, we check. */
	qlen = query(q, 0x5a5a, OP_NOTIFY, ".", DNS_SOA);
	assert_int_equal(tsig_sign_request(&c, &K[0], q, &qlen, sizeof(q), now), 0);
	p = kparse(q, qlen);
	assert_int_equal(knot_tsig_server_check(p->tsig_rr, p->wire, p->size, &kk), KNOT_EOK);
	knot_pkt_free(p);
	memcpy(digest, c.mac, 32);
	dlen = 32;
	for (int i = 0; i < 3; i++) {
		size_t dl = sizeof(digest);

		len[i] = zone_part(m[i], answer_head(q, qlen, m[i]), i);
		if (i == 0)
			assert_int_equal(knot_tsig_sign(m[i], &len[i], sizeof(m[i]), digest, dlen,
							digest, &dl, &kk, 0, 0),
					 KNOT_EOK);
		else
			assert_int_equal(knot_tsig_sign_next(m[i], &len[i], sizeof(m[i]), digest,
							     dlen, digest, &dl, &kk, m[i], len[i]),
					 KNOT_EOK);
		dlen = dl;
		assert_int_equal(tsig_verify_answer(&c, m[i], len[i], now), 0);
	}
	/* Our BADTIME answer, from a server 1000 s ahead: its MAC (over the echoed client time
	 * and ours in Other Data) is right for Knot, which leaves the error to its caller; one
	 * bit off and Knot says BADSIG. */
	qlen = query(q, 0x5a5c, 0, ".", DNS_SOA);
	dlen = sizeof(digest);
	assert_int_equal(knot_tsig_sign(q, &qlen, sizeof(q), NULL, 0, digest, &dlen, &kk, 0, 0),
			 KNOT_EOK);
	assert_int_equal(tsig_verify_query(K, 2, q, qlen, now + 1000, &s), CC_ETIME);
	assert_int_equal(tsig_error_answer(&s, q, qlen, m[0], &len[0], sizeof(m[0]), now + 1000),
			 0);
	p = kparse(m[0], len[0]);
	assert_int_equal(knot_tsig_rdata_error(p->tsig_rr), TSIG_BADTIME);
	assert_int_equal(knot_tsig_client_check(p->tsig_rr, p->wire, p->size, digest, dlen, &kk, 0),
			 KNOT_EOK);
	knot_pkt_free(p);
	m[0][len[0] - 13] ^= 1; /* the MAC's last octet, before ID, error and 6 of other data */
	p = kparse(m[0], len[0]);
	assert_int_equal(knot_tsig_client_check(p->tsig_rr, p->wire, p->size, digest, dlen, &kk, 0),
			 KNOT_TSIG_EBADSIG);
	knot_pkt_free(p);

	/* Knot's BADTIME answer: signed, the error reported. */
	qlen = query(q, 0x5a5b, 0, ".", DNS_SOA);
	assert_int_equal(tsig_sign_request(&c, &K[0], q, &qlen, sizeof(q), now), 0);
	len[0] = answer_head(q, qlen, m[0]);
	dlen = sizeof(digest);
	assert_int_equal(knot_tsig_sign(m[0], &len[0], sizeof(m[0]), c.mac, c.mac_len, digest,
					&dlen, &kk, TSIG_BADTIME, now),
			 KNOT_EOK);
	assert_int_equal(tsig_verify_answer(&c, m[0], len[0], now), CC_EPERM);
	assert_int_equal(c.error, TSIG_BADTIME);
	knot_tsig_key_deinit(&kk);
}

/* ---- live peers ---- */

/* 1 when the file holds the text. */
static int holds(const char *path, const char *text)
{
	static char buf[1 << 16];
	FILE *f = fopen(path, "r");
	size_t n;

	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return strstr(buf, text) != NULL;
}

static int read_full(int fd, uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t r = read(fd, p, n);

		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

static void send_msg(int fd, int tcp, const uint8_t *m, size_t n, const struct sockaddr *to,
		     socklen_t tolen)
{
	uint8_t b[2 + MSG_MAX];

	if (!tcp) {
		(void)sendto(fd, m, n, 0, to, tolen);
		return;
	}
	dns_put16(b, (uint16_t)n);
	memcpy(b + 2, m, n);
	/* The peer may hang up after a bad message: no SIGPIPE for the server. */
	(void)send(fd, b, n + 2, MSG_NOSIGNAL);
}

/* What the live server does with one request: verify, then answer as tsig.h says. A query
 * for "bad." gets an answer whose MAC is spoiled after signing, to show the peer checks. */
static void respond(int fd, int tcp, const uint8_t *q, size_t qlen, const struct sockaddr *from,
		    socklen_t fromlen)
{
	uint8_t a[MSG_MAX], rd[2 * DNS_NAME_MAX + 20];
	struct tsig_ctx s;
	uint64_t now = (uint64_t)time(NULL);
	size_t n, parts = 1;
	int r = tsig_verify_query(K, 2, q, qlen, now, &s), qn;

	if (r < 0 && s.error != 0) {
		if (tsig_error_answer(&s, q, qlen, a, &n, sizeof(a), now) == 0)
			send_msg(fd, tcp, a, n, from, fromlen);
		return;
	}
	n = answer_head(q, qlen, a);
	if (n == 0)
		return;
	if (r != 0) {
		a[3] = r == TSIG_NONE ? 5 : 1; /* REFUSED unsigned, FORMERR */
		send_msg(fd, tcp, a, n, from, fromlen);
		return;
	}
	qn = dns_name_check(q + 12, qlen - 12);
	if (dns_get16(q + 12 + qn) == DNS_AXFR)
		parts = 3;
	for (size_t i = 0; i < parts; i++) {
		n = answer_head(q, qlen, a);
		if (parts > 1)
			n = zone_part(a, n, (int)i);
		else if ((q[2] & 0x78) == 0) /* a query, not a NOTIFY */
			n = add_rr(a, n, 0, ".", DNS_SOA, rd, (uint16_t)soa_rdata(rd, 1));
		if (tsig_sign(&s, a, &n, sizeof(a), now) != 0)
			return;
		if (qn == 5 && memcmp(q + 12, "\3bad", 4) == 0)
			a[n - 7] ^= 1;
		send_msg(fd, tcp, a, n, from, fromlen);
	}
}

/* The forked server: UDP and TCP on the same loopback port, until 30 s pass quietly. */
static void serve(int udp, int tcp)
{
	struct timeval tv = {5, 0};
	uint8_t q[MSG_MAX];

	alarm(120);
	for (;;) {
		struct pollfd p[2] = {{udp, POLLIN, 0}, {tcp, POLLIN, 0}};

		if (poll(p, 2, 30000) <= 0)
			_exit(0);
		if (p[0].revents & POLLIN) {
			struct sockaddr_storage from;
			socklen_t fl = sizeof(from);
			ssize_t n = recvfrom(udp, q, sizeof(q), 0, (struct sockaddr *)&from, &fl);

			if (n > 0)
				respond(udp, 0, q, (size_t)n, (struct sockaddr *)&from, fl);
		}
		if (p[1].revents & POLLIN) {
			int c = accept(tcp, NULL, NULL);
			uint8_t b[2];

			if (c < 0)
				continue;
			setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
			if (read_full(c, b, 2) == 0 && dns_get16(b) <= sizeof(q) &&
			    read_full(c, q, dns_get16(b)) == 0)
				respond(c, 1, q, dns_get16(b), NULL, 0);
			close(c);
		}
	}
}

static pid_t server_start(uint16_t *port)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	int udp = -1, tcp = -1, one = 1;
	pid_t pid;

	for (int tries = 0; tries < 20 && tcp < 0; tries++) {
		if (udp >= 0)
			close(udp);
		udp = socket(AF_INET, SOCK_DGRAM, 0);
		assert_true(udp >= 0);
		memset(&sa, 0, sizeof(sa));
		sa.sin_family = AF_INET;
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		assert_int_equal(bind(udp, (struct sockaddr *)&sa, sizeof(sa)), 0);
		assert_int_equal(getsockname(udp, (struct sockaddr *)&sa, &sl), 0);
		tcp = socket(AF_INET, SOCK_STREAM, 0);
		assert_true(tcp >= 0);
		setsockopt(tcp, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(tcp, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(tcp, 8) != 0) {
			close(tcp);
			tcp = -1;
		}
	}
	assert_true(tcp >= 0);
	*port = ntohs(sa.sin_port);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		serve(udp, tcp);
	close(udp);
	close(tcp);
	return pid;
}

static const char dnspython[] =
    "import sys, dns.message, dns.tsigkeyring\n"
    "kr = dns.tsigkeyring.from_text({'" KEY1 ".': ('hmac-sha256', '" SECRET1 "')})\n"
    "q = dns.message.from_wire(open(sys.argv[1], 'rb').read(), keyring=kr)\n"
    "r = dns.message.make_response(q)\n"
    "open(sys.argv[2], 'wb').write(r.to_wire())\n";

/* dnspython checks a NOTIFY we sign and signs its answer, which we check. */
static void peer_dnspython(const char *dir)
{
	char path[256];
	uint8_t q[MSG_MAX], a[MSG_MAX];
	size_t qlen;
	struct tsig_ctx c;
	FILE *f;
	size_t n;
	int r;

	snprintf(path, sizeof(path), "%s/peer.py", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(dnspython, f);
	assert_int_equal(fclose(f), 0);
	qlen = query(q, 0x6e6f, OP_NOTIFY, ".", DNS_SOA);
	assert_int_equal(tsig_sign_request(&c, &K[0], q, &qlen, sizeof(q), (uint64_t)time(NULL)),
			 0);
	/* First a copy with one bit of the MAC off, which dnspython must refuse. */
	for (int bad = 1; bad >= 0; bad--) {
		snprintf(path, sizeof(path), "%s/notify.bin", dir);
		f = fopen(path, "wb");
		assert_non_null(f);
		q[qlen - 7] ^= (uint8_t)bad;
		assert_int_equal(fwrite(q, 1, qlen, f), qlen);
		q[qlen - 7] ^= (uint8_t)bad;
		assert_int_equal(fclose(f), 0);
		r = run("/usr/bin/python3 %s/peer.py %s/notify.bin %s/answer.bin >%s/py.out 2>&1",
			dir, dir, dir, dir);
		if (bad) {
			assert_int_not_equal(r, 0);
			snprintf(path, sizeof(path), "%s/py.out", dir);
			assert_true(holds(path, "BadSignature"));
			continue;
		}
		assert_int_equal(r, 0);
		snprintf(path, sizeof(path), "%s/answer.bin", dir);
		f = fopen(path, "rb");
		assert_non_null(f);
		n = fread(a, 1, sizeof(a), f);
		fclose(f);
		assert_int_equal(tsig_verify_answer(&c, a, n, (uint64_t)time(NULL)), 0);
	}
}

static void test_peers(void **state)
{
	char dir[] = "/tmp/test_dns_tsig.XXXXXX", out[300];
	int has_dig = have("dig"), has_kdig = have("kdig");
	int has_py = run("/usr/bin/python3 -c 'import dns.tsig' >/dev/null 2>&1") == 0;
	uint16_t port;
	pid_t pid;

	(void)state;
	if (!has_dig && !has_kdig && !has_py)
		skip();
	assert_non_null(mkdtemp(dir));
	pid = server_start(&port);
	snprintf(out, sizeof(out), "%s/out", dir);
#define DIG  "dig -y hmac-sha256:" KEY1 ":" SECRET1 " @127.0.0.1 -p %u +tries=1 +time=5 "
#define KDIG "kdig -y hmac-sha256:" KEY1 ":" SECRET1 " @127.0.0.1 -p %u +retry=0 +time=5 "
	if (has_dig) {
		/* UDP, TCP, and a transfer in three messages; dig prints the TSIG it checked. */
		assert_int_equal(run(DIG ". SOA >%s 2>&1", port, out), 0);
		assert_true(holds(out, "status: NOERROR"));
		assert_true(holds(out, "TSIG PSEUDOSECTION"));
		assert_false(holds(out, "Couldn't verify"));
		assert_false(holds(out, "could not be validated"));
		assert_int_equal(run(DIG ". SOA +tcp >%s 2>&1", port, out), 0);
		assert_true(holds(out, "status: NOERROR"));
		assert_false(holds(out, "Couldn't verify"));
		assert_false(holds(out, "could not be validated"));
		assert_int_equal(run(DIG ". AXFR >%s 2>&1", port, out), 0);
		assert_true(holds(out, "XFR size: 5 records (messages 3"));
		assert_false(holds(out, "failed"));
		assert_false(holds(out, "Couldn't verify"));
		/* Negative controls: a spoiled MAC, a wrong secret, a truncated MAC. */
		run(DIG "bad. SOA >%s 2>&1", port, out);
		assert_true(holds(out, "Couldn't verify signature: tsig verify failure"));
		run(DIG "bad. AXFR >%s 2>&1", port, out);
		assert_true(holds(out, "tsig verify failure"));
		run("dig -y hmac-sha256:" KEY1 ":" SECRET2
		    " @127.0.0.1 -p %u +tries=1 +time=5 . SOA >%s 2>&1",
		    port, out);
		assert_true(holds(out, "status: NOTAUTH"));
		assert_true(holds(out, "BADSIG"));
		run("dig -y hmac-sha256-128:" KEY1 ":" SECRET1
		    " @127.0.0.1 -p %u +tries=1 +time=5 . SOA >%s 2>&1",
		    port, out);
		assert_true(holds(out, "status: NOTAUTH"));
		assert_true(holds(out, "BADTRUNC"));
	}
	if (has_kdig) {
		assert_int_equal(run(KDIG ". SOA >%s 2>&1", port, out), 0);
		assert_true(holds(out, "status: NOERROR"));
		assert_false(holds(out, "failed to verify TSIG"));
		assert_int_equal(run(KDIG ". AXFR >%s 2>&1", port, out), 0);
		assert_true(holds(out, "(3 messages, 5 records)"));
		assert_false(holds(out, "failed to verify TSIG"));
		/* Negative controls, as for dig. */
		run(KDIG "bad. SOA >%s 2>&1", port, out);
		assert_true(holds(out, "failed to verify TSIG"));
		run(KDIG "bad. AXFR >%s 2>&1", port, out);
		assert_true(holds(out, "failed to verify TSIG"));
		run("kdig -y hmac-sha256:" KEY1 ":" SECRET2
		    " @127.0.0.1 -p %u +retry=0 +time=5 . SOA >%s 2>&1",
		    port, out);
		assert_true(holds(out, "status: BADSIG"));
	}
#undef DIG
#undef KDIG
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	if (has_py)
		peer_dnspython(dir);
	run("rm -rf %s", dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_key_parse), cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_tamper),    cmocka_unit_test(test_badkey_badsig),
	    cmocka_unit_test(test_badtime),   cmocka_unit_test(test_badtrunc),
	    cmocka_unit_test(test_placement), cmocka_unit_test(test_multi),
	    cmocka_unit_test(test_room),      cmocka_unit_test(test_captured),
	    cmocka_unit_test(test_knot),      cmocka_unit_test(test_peers),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, setup, NULL);
}
