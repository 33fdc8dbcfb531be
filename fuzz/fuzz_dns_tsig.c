/* libFuzzer target for TSIG (dns/tsig.h). The first byte picks what the rest is:
 *   0  a request from the network, checked at a fixed time against two keys: the result and
 *      ctx->error agree, and whatever the answer is (an error answer, or a signed one) it
 *      fits its buffer, parses with libknot, and checks out with the client's side of the
 *      exchange;
 *   1  a message body we sign as a request: it verifies when libknot parses it, then so do
 *      two signed answer messages in order (and not out of it); a bit flipped where the
 *      next input byte says breaks it, but in the ID (not covered, §4.3) and in the case
 *      of a name's letters (names are signed in lower case);
 *   2  a key spec: what parses prints back to a spec that parses to the same key. */
#include <libknot/libknot.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns/tsig.h"
#include "dns/wire.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW	1795327071u /* the Time Signed of the seeds (dig and kdig requests) */
#define MSG_MAX 65535

static struct tsig_key keys[2];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (sodium_init() < 0 ||
	    tsig_key_parse(
		&keys[0],
		"k1.concord.example:/6QVwFkDVfLOFzSOATt+Km5J5zZnlssKxKpKYgPKOjM=", NULL) != 0 ||
	    tsig_key_parse(
		&keys[1],
		"k2.concord.example:c2Vjb25kIGtleSwgYSBkaWZmZXJlbnQgc2VjcmV0IQ==", NULL) != 0)
		abort();
	return 0;
}

/* libknot parses the message whole, and finds a TSIG RR in it. */
static void knot_parses(const uint8_t *m, size_t len)
{
	static uint8_t copy[MSG_MAX];
	knot_pkt_t *p;

	memcpy(copy, m, len);
	p = knot_pkt_new(copy, (uint16_t)len, NULL);
	if (p == NULL || knot_pkt_parse(p, 0) != KNOT_EOK || p->tsig_rr == NULL)
		abort();
	knot_pkt_free(p);
}

/* The answer head to a request: ID, QR, and nothing else. */
static size_t head(const uint8_t *q, uint8_t *a)
{
	memset(a, 0, 12);
	memcpy(a, q, 2);
	a[2] = 0x80;
	return 12;
}

static void request_mode(const uint8_t *data, size_t size)
{
	static uint8_t a[MSG_MAX];
	struct tsig_ctx s, c;
	struct tsig_key named;
	size_t alen, cap;
	int r = tsig_verify_query(keys, 2, data, size, NOW, &s), r2;

	switch (r) {
	case 0:
	case TSIG_NONE:
	case CC_EINVAL:
		if (s.error != TSIG_NOERROR)
			abort();
		break;
	case CC_ENOENT:
		if (s.error != TSIG_BADKEY || s.key != NULL)
			abort();
		break;
	case CC_ESIG:
		if (s.error != TSIG_BADSIG && s.error != TSIG_BADTRUNC)
			abort();
		break;
	case CC_ETIME:
		if (s.error != TSIG_BADTIME || s.key == NULL)
			abort();
		break;
	default:
		abort();
	}
	if (r == TSIG_NONE || r == CC_EINVAL)
		return;
	/* A room the input chooses, to try the bounds. */
	cap = size > 2 ? 12 + (size_t)dns_get16(data + size - 2) % 600 : MSG_MAX;
	if (r == 0) {
		alen = head(data, a);
		r2 = tsig_sign(&s, a, &alen, cap, NOW);
	} else {
		r2 = tsig_error_answer(&s, data, size, a, &alen, cap, NOW);
	}
	if (r2 == CC_ETOOBIG)
		return;
	if (r2 != 0 || alen > cap)
		abort();
	knot_parses(a, alen);
	/* The client's side: it knows the key and its request's MAC. */
	memset(&c, 0, sizeof(c));
	c.key = s.key;
	if (s.error == TSIG_BADKEY || s.error == TSIG_BADSIG) {
		memset(&named, 0, sizeof(named));
		memcpy(named.name, s.name, dns_name_len(s.name));
		c.key = &named;
	} else {
		memcpy(c.mac, s.mac, s.mac_len);
		c.mac_len = s.mac_len;
	}
	r2 = tsig_verify_answer(&c, a, alen, NOW);
	if (s.error == TSIG_NOERROR ? r2 != 0 : r2 != CC_EPERM || c.error != s.error) {
		/* Unsigned errors name the algorithm the request did, which may not be ours. */
		if (!(r2 == CC_ENOENT && (s.error == TSIG_BADKEY || s.error == TSIG_BADSIG)))
			abort();
	}
}

/* 1 when flipping mask at octet i of the signed request m is allowed to leave it valid. */
static int neutral(const uint8_t *m, size_t body, size_t i, uint8_t mask)
{
	size_t nlen = dns_name_len(keys[0].name); /* both keys' names are as long */
	uint8_t c = m[i];

	if (i < 2)
		return 1;
	/* Letters of the key name and of the algorithm name, in case only. */
	if (mask == 0x20 && ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') &&
	    ((i > body && i < body + nlen) || (i > body + nlen + 10 && i < body + nlen + 10 + 13)))
		return 1;
	return 0;
}

static void sign_mode(const uint8_t *data, size_t size)
{
	static uint8_t m[MSG_MAX + 512], x[MSG_MAX + 512], a[2][MSG_MAX];
	const struct tsig_key *k;
	struct tsig_ctx c, c2, s;
	size_t len, body, alen[2], at;
	uint8_t mask;
	knot_pkt_t *p;
	int r, parses = 0;

	if (size < 3 || size - 3 > MSG_MAX)
		return;
	k = &keys[data[0] & 1];
	mask = data[1] ? data[1] : 1;
	at = data[2];
	data += 3;
	size -= 3;
	memcpy(m, data, size);
	len = body = size;
	r = tsig_sign_request(&c, k, m, &len, sizeof(m), NOW);
	if (size < 12 || dns_get16(data + 10) == UINT16_MAX) {
		if (r != CC_EINVAL || len != body)
			abort();
		return;
	}
	if (r != 0 || len != body + tsig_space(&c))
		abort();
	/* What libknot reads whole, without a TSIG RR of its own, we must take once signed. */
	memcpy(x, data, size);
	p = knot_pkt_new(x, (uint16_t)size, NULL);
	if (p != NULL && size <= UINT16_MAX && knot_pkt_parse(p, 0) == KNOT_EOK &&
	    p->tsig_rr == NULL && p->parsed == size)
		parses = 1;
	knot_pkt_free(p);
	/* Bytes left after the body's counted records are read as records, so a body that
	 * does not parse may give any result; but never accepted with another MAC. */
	r = tsig_verify_query(keys, 2, m, len, NOW, &s);
	if (parses && r != 0)
		abort();
	if (r != 0)
		return;
	if (s.key != k || s.mac_len != TSIG_MAC_LEN || memcmp(s.mac, c.mac, TSIG_MAC_LEN) != 0)
		abort();
	/* One flipped bit somewhere in the signed request. */
	at = (at * len) / 256;
	memcpy(x, m, len);
	x[at] ^= mask;
	if (tsig_verify_query(keys, 2, x, len, NOW, &s) == 0 && !neutral(m, body, at, mask))
		abort();
	/* Two answer messages, checked in order, and the second alone fails. */
	if (tsig_verify_query(keys, 2, m, len, NOW, &s) != 0)
		abort();
	for (int i = 0; i < 2; i++) {
		alen[i] = head(m, a[i]);
		a[i][3] = (uint8_t)i; /* two different messages */
		if (tsig_sign(&s, a[i], &alen[i], sizeof(a[i]), NOW + (unsigned)i) != 0)
			abort();
	}
	c2 = c;
	if (tsig_verify_answer(&c2, a[1], alen[1], NOW) != CC_ESIG ||
	    tsig_verify_answer(&c, a[0], alen[0], NOW) != 0 ||
	    tsig_verify_answer(&c, a[1], alen[1], NOW) != 0)
		abort();
}

static void spec_mode(const uint8_t *data, size_t size)
{
	static char spec[2048], again[2048];
	char name[DNS_NAME_TEXT_MAX], b64[128];
	struct tsig_key k, k2;
	int n;

	if (size >= sizeof(spec))
		size = sizeof(spec) - 1;
	memcpy(spec, data, size);
	spec[size] = '\0';
	if (tsig_key_parse(&k, spec, NULL) != 0) {
		for (size_t i = 0; i < sizeof(k); i++)
			if (((uint8_t *)&k)[i] != 0)
				abort();
		return;
	}
	n = dns_name_check(k.name, DNS_NAME_MAX);
	if (n < 1 || k.secret_len < 1 || k.secret_len > TSIG_SECRET_MAX)
		abort();
	for (int i = 0; i < n; i++)
		if (k.name[i] >= 'A' && k.name[i] <= 'Z')
			abort();
	if (dns_name_to_text(k.name, name, sizeof(name)) < 0)
		abort();
	sodium_bin2base64(b64, sizeof(b64), k.secret, k.secret_len, sodium_base64_VARIANT_ORIGINAL);
	/* Written with the algorithm, a name may even hold a ':'. */
	snprintf(again, sizeof(again), "hmac-sha256:%s:%s", name, b64);
	if (tsig_key_parse(&k2, again, NULL) != 0 || memcmp(&k, &k2, sizeof(k)) != 0)
		abort();
}

/* Key files (tsig_keys_parse): whatever is read is a key that parses again from its own
 * one-word form; on error nothing is left. */
static void keyfile_mode(const uint8_t *d, size_t n)
{
	struct tsig_key k[4];
	struct cc_err e = {0};
	size_t got = 99;
	int r = tsig_keys_parse((const char *)d, n, k, 4, &got, &e);

	if ((r == 0 && got > 4) || (r < 0 && (e.msg[0] == '\0' || got != 0)))
		abort();
	for (size_t i = 0; r == 0 && i < got; i++)
		if (k[i].secret_len == 0 || k[i].secret_len > TSIG_SECRET_MAX)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	if (data[0] == 0xff) {
		keyfile_mode(data + 1, size - 1);
		return 0;
	}
	switch (data[0] % 3) {
	case 0:
		request_mode(data + 1, size - 1);
		break;
	case 1:
		sign_mode(data + 1, size - 1);
		break;
	default:
		spec_mode(data + 1, size - 1);
		break;
	}
	return 0;
}
