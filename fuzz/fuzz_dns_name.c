/* libFuzzer target for DNS names (dns/wire.h) and the DNSSEC rdata read from outside
 * (dns/sign.h). The first byte picks what the rest is:
 *   0  presentation text: accepted text has one wire form, which prints to text that reads
 *      back to the same wire; to_text refuses a short buffer without writing past it;
 *   1  wire data of untrusted length: only what dns_name_check accepts goes to the other
 *      functions, and then they agree with it; to_text alone may see raw bytes (it reads at
 *      most 255 of them);
 *   2  two wire names: canonical order is antisymmetric and agrees with ancestry;
 *   3  RRSIG rdata against a fixed key and RRset: parse and verify never crash, and accept
 *      only the one genuine signature (seeded); then the same bytes as NSEC types: they go
 *      into a type bitmap and come back out, as a set. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dns/sign.h"
#include "dns/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define TEXT_MAX 4096

static void check_valid(const uint8_t *w, size_t n)
{
	char text[DNS_NAME_TEXT_MAX];
	uint8_t back[DNS_NAME_MAX], lower[DNS_NAME_MAX], root = 0;
	const uint8_t *p;
	unsigned hops = 0;
	int t;

	if (dns_name_len(w) != n || dns_name_check(w, n) != (int)n || dns_name_cmp(w, w) != 0 ||
	    !dns_name_is_below(w, w) || !dns_name_is_below(w, &root))
		abort();
	for (p = dns_name_parent(w); p != NULL; p = dns_name_parent(p), hops++)
		if (!dns_name_is_below(w, p) || dns_name_cmp(p, w) >= 0)
			abort();
	if (hops != dns_name_labels(w))
		abort();
	t = dns_name_to_text(w, text, sizeof(text));
	if (t <= 0 || (size_t)t != strlen(text) || text[t - 1] != '.')
		abort();
	/* Exactly t + 1 bytes are needed. */
	if (dns_name_to_text(w, text, (size_t)t) != CC_ETOOBIG || text[0] != '\0' ||
	    dns_name_to_text(w, text, (size_t)t + 1) != t)
		abort();
	memcpy(lower, w, n);
	dns_name_lower(lower);
	if (dns_name_from_text(back, text) != (int)n || memcmp(back, lower, n) != 0 ||
	    dns_name_cmp(w, lower) != 0)
		abort();
}

static void text_mode(const uint8_t *data, size_t size)
{
	char text[TEXT_MAX + 1];
	uint8_t w[DNS_NAME_MAX];
	int n;

	if (size > TEXT_MAX)
		size = TEXT_MAX;
	memcpy(text, data, size);
	text[size] = '\0';
	n = dns_name_from_text(w, text);
	if (n == CC_EINVAL)
		return;
	if (n < 1 || n > DNS_NAME_MAX)
		abort();
	for (int i = 0; i < n; i++)
		if (w[i] >= 'A' && w[i] <= 'Z')
			abort();
	check_valid(w, (size_t)n);
}

static void wire_mode(const uint8_t *data, size_t size)
{
	char text[DNS_NAME_TEXT_MAX];
	uint8_t *raw = malloc(DNS_NAME_MAX);
	int n = dns_name_check(data, size), t;

	if (raw == NULL)
		abort();
	if (n != CC_EINVAL && (n < 1 || (size_t)n > size || n > DNS_NAME_MAX))
		abort();
	if (n > 0)
		check_valid(data, (size_t)n);
	/* to_text reads at most 255 octets and judges them as dns_name_check does. */
	memset(raw, 0xff, DNS_NAME_MAX);
	memcpy(raw, data, size < DNS_NAME_MAX ? size : DNS_NAME_MAX);
	n = dns_name_check(raw, DNS_NAME_MAX);
	t = dns_name_to_text(raw, text, sizeof(text));
	if ((n < 0) != (t < 0))
		abort();
	free(raw);
}

static void pair_mode(const uint8_t *data, size_t size)
{
	size_t cut;
	int na, nb, ab, ba, a_in_b, b_in_a;
	const uint8_t *a, *b;

	if (size < 1)
		return;
	cut = 1 + data[0] % size;
	a = data + 1;
	na = dns_name_check(a, cut - 1);
	b = data + cut;
	nb = dns_name_check(b, size - cut);
	if (na < 0 || nb < 0)
		return;
	ab = dns_name_cmp(a, b);
	ba = dns_name_cmp(b, a);
	a_in_b = dns_name_is_below(a, b);
	b_in_a = dns_name_is_below(b, a);
	if ((ab < 0) != (ba > 0) || (ab == 0) != (ba == 0))
		abort();
	/* An ancestor sorts first; names equal in order are equal but for case. */
	if ((a_in_b && ab < 0) || (b_in_a && ab > 0))
		abort();
	if ((ab == 0) != (a_in_b && b_in_a))
		abort();
	if (ab == 0 && na != nb)
		abort();
}

static void rrsig_mode(const uint8_t *data, size_t size)
{
	static struct dns_key k;
	static struct cbuf genuine = CBUF_INIT; /* the one RRSIG that must verify */
	static int ready;
	static const uint8_t owner[] = {1, 'a', 2, 'c', 'n', 0};
	static const uint8_t addr[4] = {192, 0, 2, 1};
	struct dns_rdata rr = {addr, sizeof(addr)};
	struct dns_rrsig_info f;
	struct cbuf out = CBUF_INIT;
	uint16_t types[64];
	uint8_t seen[8192] = {0}, want[8192] = {0};
	size_t nt = 0, off;
	int ok = 1;

	if (!ready) {
		unsigned char seed[32] = {42};

		if (dns_key_from_seed(&k, seed, DNS_KEY_ZSK) != 0 ||
		    dns_rrsig(&k, owner, DNS_A, 3600, &rr, 1, owner + 2, 1, 2, &genuine) != 0)
			abort();
		ready = 1;
	}
	if (dns_rrsig_parse(data, size, &f) == 0 &&
	    (f.prefix_len + f.sig_len != size || f.sig != data + f.prefix_len ||
	     dns_name_check(f.signer, size - 18) < 0))
		abort();
	/* Ed25519 is deterministic and the rdata must be canonical: one encoding passes. */
	if (dns_rrsig_verify(&k, owner, DNS_A, 3600, &rr, 1, data, size) == 0 &&
	    (size != genuine.len || memcmp(data, genuine.p, size) != 0))
		abort();

	/* The same bytes as a list of types for an NSEC bitmap. */
	for (size_t i = 0; i + 1 < size && nt < 64; i += 2) {
		types[nt] = dns_get16(data + i);
		if (types[nt] == 0 || types[nt] == DNS_OPT ||
		    (types[nt] >= 128 && types[nt] <= 255))
			ok = 0;
		want[types[nt] / 8] |= (uint8_t)(0x80 >> (types[nt] % 8));
		nt++;
	}
	if (dns_nsec_rdata(owner, types, nt, &out) != (ok ? 0 : CC_EINVAL))
		abort();
	if (!ok) {
		if (out.len != 0)
			abort();
		goto out;
	}
	off = sizeof(owner);
	if (out.len < off || memcmp(out.p, owner, off) != 0)
		abort();
	for (int last = -1; off < out.len;) {
		const uint8_t *b = (const uint8_t *)out.p + off;
		size_t len;

		/* Windows ascend, each 1..32 octets, the last octet never zero. */
		if (out.len - off < 2 || (int)b[0] <= last || b[1] < 1 || b[1] > 32 ||
		    out.len - off < 2u + b[1] || b[1 + b[1]] == 0)
			abort();
		last = b[0];
		len = b[1];
		memcpy(seen + 32 * b[0], b + 2, len);
		off += 2 + len;
	}
	if (memcmp(seen, want, sizeof(seen)) != 0)
		abort();
out:
	cbuf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	switch (data[0] % 4) {
	case 0:
		text_mode(data + 1, size - 1);
		break;
	case 1:
		wire_mode(data + 1, size - 1);
		break;
	case 2:
		pair_mode(data + 1, size - 1);
		break;
	default:
		rrsig_mode(data + 1, size - 1);
		break;
	}
	return 0;
}
