#include "dns/sign.h"

#include <openssl/evp.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "core/sha256.h"

#define RRSIG_FIXED   18 /* type covered .. key tag, before the signer's name */
#define RR_FIXED      10 /* type, class, ttl, rdlength after an owner name */
#define DNSKEY_PROTO  3	 /* RFC 4034 §2.1.2: always 3 */
#define DS_SHA256     2	 /* digest type */
#define ZONEMD_SIMPLE 1	 /* scheme */
#define ZONEMD_SHA384 1	 /* hash algorithm (2 is SHA-512) */
#define SORT_STACK    16 /* RRsets up to this size sort without allocating */

static int flags_ok(uint16_t flags)
{
	return flags == DNS_KEY_ZSK || flags == DNS_KEY_KSK;
}

static void key_set_tag(struct dns_key *k)
{
	uint8_t rd[DNS_DNSKEY_RDATA];

	dns_dnskey_rdata(k, rd);
	k->tag = dns_keytag(rd, sizeof(rd));
}

int dns_key_from_seed(struct dns_key *k, const unsigned char seed[32], uint16_t flags)
{
	memset(k, 0, sizeof(*k));
	if (!flags_ok(flags) || crypto_sign_seed_keypair(k->pub, k->sk, seed) != 0) {
		sodium_memzero(k, sizeof(*k));
		return CC_EINVAL;
	}
	k->flags = flags;
	k->has_private = 1;
	key_set_tag(k);
	return 0;
}

int dns_key_from_public(struct dns_key *k, const unsigned char pub[32], uint16_t flags)
{
	memset(k, 0, sizeof(*k));
	/* Small-order or non-canonical points verify forged signatures; no real key is one. */
	if (!flags_ok(flags) || !crypto_core_ed25519_is_valid_point(pub))
		return CC_EINVAL;
	memcpy(k->pub, pub, sizeof(k->pub));
	k->flags = flags;
	key_set_tag(k);
	return 0;
}

void dns_key_wipe(struct dns_key *k)
{
	sodium_memzero(k, sizeof(*k));
}

size_t dns_dnskey_rdata(const struct dns_key *k, uint8_t out[DNS_DNSKEY_RDATA])
{
	dns_put16(out, k->flags);
	out[2] = DNSKEY_PROTO;
	out[3] = DNS_ALG_ED25519;
	memcpy(out + 4, k->pub, sizeof(k->pub));
	return DNS_DNSKEY_RDATA;
}

uint16_t dns_keytag(const uint8_t *dnskey_rdata, size_t len)
{
	uint32_t ac = 0;

	for (size_t i = 0; i < len; i++)
		ac += i & 1 ? dnskey_rdata[i] : (uint32_t)dnskey_rdata[i] << 8;
	ac += ac >> 16 & 0xffff;
	return (uint16_t)(ac & 0xffff);
}

size_t dns_ds_rdata(const uint8_t *owner, const uint8_t *dnskey_rdata, size_t len,
		    uint8_t out[DNS_DS_RDATA])
{
	int olen = dns_name_check(owner, DNS_NAME_MAX);
	uint8_t lc[DNS_NAME_MAX];
	struct sha256_part parts[2] = {{lc, 0}, {dnskey_rdata, len}};

	if (olen < 0 || len < 4)
		return 0;
	/* The digest is over the canonical (lower-case) owner, RFC 4034 §5.1.4. */
	memcpy(lc, owner, (size_t)olen);
	dns_name_lower(lc);
	parts[0].len = (size_t)olen;
	dns_put16(out, dns_keytag(dnskey_rdata, len));
	out[2] = dnskey_rdata[3];
	out[3] = DS_SHA256;
	sha256_parts(parts, 2, out + 4);
	return DNS_DS_RDATA;
}

/* Canonical rdata order, RFC 4034 §6.3: left-justified octet strings, a missing octet
 * sorting before a zero. */
static int rdata_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	size_t n = alen < blen ? alen : blen;
	int r = n ? memcmp(a, b, n) : 0;

	if (r != 0)
		return r;
	return (alen > blen) - (alen < blen);
}

static int rdata_ptr_cmp(const void *x, const void *y)
{
	const struct dns_rdata *a = *(const struct dns_rdata *const *)x;
	const struct dns_rdata *b = *(const struct dns_rdata *const *)y;

	return rdata_cmp(a->p, a->len, b->p, b->len);
}

/* RFC 4034 §3.1.3: a wildcard's "*" label is not counted. */
static uint8_t rrsig_labels(const uint8_t *owner)
{
	unsigned n = dns_name_labels(owner);

	return (uint8_t)(owner[0] == 1 && owner[1] == '*' ? n - 1 : n);
}

/* Appends each distinct record of the RRset in canonical form and order. */
static int put_rrset(struct cbuf *out, const uint8_t *owner, size_t olen, uint16_t type,
		     uint32_t ttl, const struct dns_rdata *rrs, size_t n)
{
	const struct dns_rdata *stack[SORT_STACK], **v = stack;
	uint8_t head[RR_FIXED];
	int ret = CC_ENOMEM;

	if (n > SORT_STACK) {
		v = calloc(n, sizeof(*v));
		if (v == NULL)
			return CC_ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		v[i] = &rrs[i];
	qsort(v, n, sizeof(*v), rdata_ptr_cmp);
	for (size_t i = 0; i < n; i++) {
		if (i > 0 && rdata_ptr_cmp(&v[i - 1], &v[i]) == 0)
			continue;
		dns_put16(head, type);
		dns_put16(head + 2, DNS_CLASS_IN);
		dns_put32(head + 4, ttl);
		dns_put16(head + 8, v[i]->len);
		if (cbuf_put(out, owner, olen) < 0 || cbuf_put(out, head, sizeof(head)) < 0 ||
		    cbuf_put(out, v[i]->p, v[i]->len) < 0)
			goto out;
	}
	ret = 0;
out:
	if (v != stack)
		free(v);
	return ret;
}

int dns_rrsig_data(const uint8_t *owner, uint16_t type, uint32_t ttl, const struct dns_rdata *rrs,
		   size_t n, uint16_t keytag, const uint8_t *signer, uint32_t inception,
		   uint32_t expiration, struct cbuf *out, size_t *prefix_len)
{
	uint8_t head[RRSIG_FIXED], lowner[DNS_NAME_MAX], lsigner[DNS_NAME_MAX];
	int olen, slen;

	cbuf_reset(out);
	olen = dns_name_check(owner, DNS_NAME_MAX);
	slen = dns_name_check(signer, DNS_NAME_MAX);
	/* RRSIGs are never signed themselves (RFC 4035 §2.2). */
	if (olen < 0 || slen < 0 || n == 0 || rrs == NULL || type == DNS_RRSIG ||
	    !dns_name_is_below(owner, signer))
		return CC_EINVAL;
	for (size_t i = 0; i < n; i++)
		if (rrs[i].p == NULL && rrs[i].len > 0)
			return CC_EINVAL;
	/* Both names go into the signed data in canonical form, RFC 4034 §6.2. */
	memcpy(lowner, owner, (size_t)olen);
	dns_name_lower(lowner);
	memcpy(lsigner, signer, (size_t)slen);
	dns_name_lower(lsigner);
	dns_put16(head, type);
	head[2] = DNS_ALG_ED25519;
	head[3] = rrsig_labels(owner);
	dns_put32(head + 4, ttl);
	dns_put32(head + 8, expiration);
	dns_put32(head + 12, inception);
	dns_put16(head + 16, keytag);
	if (cbuf_put(out, head, sizeof(head)) < 0 || cbuf_put(out, lsigner, (size_t)slen) < 0)
		return CC_ENOMEM;
	*prefix_len = out->len;
	return put_rrset(out, lowner, (size_t)olen, type, ttl, rrs, n);
}

int dns_rrsig(const struct dns_key *k, const uint8_t *owner, uint16_t type, uint32_t ttl,
	      const struct dns_rdata *rrs, size_t n, const uint8_t *signer, uint32_t inception,
	      uint32_t expiration, struct cbuf *out)
{
	struct cbuf data = CBUF_INIT;
	unsigned char sig[DNS_SIG_LEN];
	size_t plen = 0;
	int ret = CC_EINVAL;

	if (!k->has_private)
		goto out;
	ret = dns_rrsig_data(owner, type, ttl, rrs, n, k->tag, signer, inception, expiration, &data,
			     &plen);
	if (ret < 0)
		goto out;
	ret = CC_EINVAL;
	if (crypto_sign_detached(sig, NULL, (const unsigned char *)data.p, data.len, k->sk) != 0)
		goto out;
	/* Reserved first, so out gets the whole rdata or nothing. */
	ret = CC_ENOMEM;
	if (cbuf_reserve(out, plen + sizeof(sig)) < 0)
		goto out;
	cbuf_put(out, data.p, plen);
	cbuf_put(out, sig, sizeof(sig));
	ret = 0;
out:
	cbuf_free(&data);
	return ret;
}

int dns_rrsig_parse(const uint8_t *rrsig, size_t len, struct dns_rrsig_info *out)
{
	int slen;

	if (rrsig == NULL || len <= RRSIG_FIXED)
		return CC_EINVAL;
	slen = dns_name_check(rrsig + RRSIG_FIXED, len - RRSIG_FIXED);
	if (slen < 0 || len - RRSIG_FIXED == (size_t)slen)
		return CC_EINVAL;
	out->type_covered = dns_get16(rrsig);
	out->algorithm = rrsig[2];
	out->labels = rrsig[3];
	out->ttl = dns_get32(rrsig + 4);
	out->expiration = dns_get32(rrsig + 8);
	out->inception = dns_get32(rrsig + 12);
	out->keytag = dns_get16(rrsig + 16);
	out->signer = rrsig + RRSIG_FIXED;
	out->prefix_len = RRSIG_FIXED + (size_t)slen;
	out->sig = rrsig + out->prefix_len;
	out->sig_len = len - out->prefix_len;
	return 0;
}

int dns_rrsig_verify(const struct dns_key *k, const uint8_t *owner, uint16_t type, uint32_t ttl,
		     const struct dns_rdata *rrs, size_t n, const uint8_t *rrsig, size_t rrsig_len)
{
	struct dns_rrsig_info f;
	struct cbuf data = CBUF_INIT;
	size_t plen = 0;
	int ret;

	ret = dns_rrsig_parse(rrsig, rrsig_len, &f);
	if (ret < 0)
		goto out;
	ret = CC_EINVAL;
	if (dns_name_check(owner, DNS_NAME_MAX) < 0 || f.algorithm != DNS_ALG_ED25519 ||
	    f.sig_len != DNS_SIG_LEN || f.type_covered != type || f.keytag != k->tag ||
	    f.labels != rrsig_labels(owner) || f.ttl != ttl)
		goto out;
	ret = dns_rrsig_data(owner, type, ttl, rrs, n, f.keytag, f.signer, f.inception,
			     f.expiration, &data, &plen);
	if (ret < 0)
		goto out;
	/* The rdata is published as it came, so it must be canonical itself: a signer
	 * name in another case would sign the same and still be other bytes. */
	ret = CC_EINVAL;
	if (plen != f.prefix_len || memcmp(data.p, rrsig, plen) != 0)
		goto out;
	ret = CC_ESIG;
	if (crypto_sign_verify_detached(f.sig, (const unsigned char *)data.p, data.len, k->pub) !=
	    0)
		goto out;
	ret = 0;
out:
	cbuf_free(&data);
	return ret;
}

static int type_in_bitmap_ok(uint16_t t)
{
	/* 0 is reserved, OPT lives only in messages, 128..255 are query and meta types. */
	return t != 0 && t != DNS_OPT && (t < 128 || t > 255);
}

int dns_nsec_rdata(const uint8_t *next, const uint16_t *types, size_t ntypes, struct cbuf *out)
{
	size_t start = out->len;
	int nlen = dns_name_check(next, DNS_NAME_MAX);
	int ret = CC_EINVAL;

	if (nlen < 0 || (ntypes > 0 && types == NULL))
		goto out;
	for (size_t i = 0; i < ntypes; i++)
		if (!type_in_bitmap_ok(types[i]))
			goto out;
	ret = CC_ENOMEM;
	if (cbuf_put(out, next, (size_t)nlen) < 0)
		goto out;
	/* A window per high octet, in ascending order; types are few, so a pass over them
	 * per window is cheaper than sorting a copy. */
	for (unsigned w = 0; w < 256; w++) {
		uint8_t block[2 + 32] = {0};
		int last = -1; /* highest octet of the map in use */

		for (size_t i = 0; i < ntypes; i++) {
			unsigned lo = types[i] & 0xff;

			if (types[i] >> 8 != w)
				continue;
			block[2 + lo / 8] |= (uint8_t)(0x80 >> (lo % 8));
			if ((int)(lo / 8) > last)
				last = (int)(lo / 8);
		}
		if (last < 0)
			continue;
		block[0] = (uint8_t)w;
		block[1] = (uint8_t)(last + 1);
		if (cbuf_put(out, block, 2 + (size_t)last + 1) < 0)
			goto out;
	}
	ret = 0;
out:
	/* All or nothing: a failed append leaves out as it was. */
	if (ret < 0 && out->p != NULL) {
		out->len = start;
		out->p[start] = '\0';
	}
	return ret;
}

struct dns_zonemd {
	EVP_MD_CTX *ctx;		  /* SHA-384 over the RRs so far */
	int done;			  /* final was called */
	int have_prev;			  /* prev_* hold the last RR hashed */
	uint8_t prev_owner[DNS_NAME_MAX]; /* lower-case */
	uint16_t prev_type;
	uint8_t *prev_rdata; /* prev_cap octets allocated */
	size_t prev_len, prev_cap;
};

int dns_zonemd_init(struct dns_zonemd **z)
{
	struct dns_zonemd *c = calloc(1, sizeof(*c));
	int ret = CC_ENOMEM;

	*z = NULL;
	if (c == NULL)
		goto out;
	c->ctx = EVP_MD_CTX_new();
	if (c->ctx == NULL || EVP_DigestInit_ex(c->ctx, EVP_sha384(), NULL) != 1)
		goto out;
	*z = c;
	c = NULL;
	ret = 0;
out:
	dns_zonemd_free(c);
	return ret;
}

int dns_zonemd_add(struct dns_zonemd *z, const uint8_t *owner, uint16_t type, uint32_t ttl,
		   const uint8_t *rdata, uint16_t rdlen)
{
	uint8_t head[DNS_NAME_MAX + RR_FIXED];
	int olen = dns_name_check(owner, DNS_NAME_MAX), c;

	if (z->done || olen < 0 || (rdata == NULL && rdlen > 0))
		return CC_EINVAL;
	memcpy(head, owner, (size_t)olen);
	dns_name_lower(head);
	/* A digest over RRs out of order or twice is a digest nobody else computes; refuse
	 * here rather than publish a ZONEMD every validator rejects. */
	if (z->have_prev) {
		c = dns_name_cmp(head, z->prev_owner);
		if (c == 0)
			c = (type > z->prev_type) - (type < z->prev_type);
		if (c == 0)
			c = rdata_cmp(rdata, rdlen, z->prev_rdata, z->prev_len);
		if (c < 0)
			return CC_EINVAL;
		if (c == 0)
			return CC_EEXIST;
	}
	if (rdlen > z->prev_cap) {
		uint8_t *p = realloc(z->prev_rdata, rdlen);

		if (p == NULL)
			return CC_ENOMEM;
		z->prev_rdata = p;
		z->prev_cap = rdlen;
	}
	dns_put16(head + olen, type);
	dns_put16(head + olen + 2, DNS_CLASS_IN);
	dns_put32(head + olen + 4, ttl);
	dns_put16(head + olen + 8, rdlen);
	if (EVP_DigestUpdate(z->ctx, head, (size_t)olen + RR_FIXED) != 1 ||
	    (rdlen > 0 && EVP_DigestUpdate(z->ctx, rdata, rdlen) != 1)) {
		/* The hash state is now unknown: nothing more can be added. */
		z->done = 1;
		return CC_ENOMEM;
	}
	memcpy(z->prev_owner, head, (size_t)olen);
	z->prev_type = type;
	if (rdlen > 0)
		memcpy(z->prev_rdata, rdata, rdlen);
	z->prev_len = rdlen;
	z->have_prev = 1;
	return 0;
}

int dns_zonemd_final(struct dns_zonemd *z, uint8_t digest[DNS_ZONEMD_DIGEST])
{
	unsigned int len = 0;

	if (z->done)
		return CC_EINVAL;
	z->done = 1;
	if (EVP_DigestFinal_ex(z->ctx, digest, &len) != 1 || len != DNS_ZONEMD_DIGEST)
		return CC_ENOMEM;
	return 0;
}

int dns_zonemd_image(const uint8_t *img, size_t len, const size_t (*skip)[2], size_t nskip,
		     uint8_t digest[DNS_ZONEMD_DIGEST])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned int dlen = 0;
	size_t at = 0;
	int ret = CC_ENOMEM;

	if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha384(), NULL) != 1)
		goto out;
	ret = CC_EINVAL;
	for (size_t i = 0; i <= nskip; i++) {
		size_t to = i < nskip ? skip[i][0] : len;

		if (to < at || to > len || (i < nskip && skip[i][1] < to))
			goto out;
		if (to > at && EVP_DigestUpdate(ctx, img + at, to - at) != 1)
			goto out;
		at = i < nskip ? skip[i][1] : len;
	}
	if (EVP_DigestFinal_ex(ctx, digest, &dlen) != 1 || dlen != DNS_ZONEMD_DIGEST)
		goto out;
	ret = 0;
out:
	EVP_MD_CTX_free(ctx);
	return ret;
}

void dns_zonemd_free(struct dns_zonemd *z)
{
	if (z == NULL)
		return;
	EVP_MD_CTX_free(z->ctx);
	free(z->prev_rdata);
	free(z);
}

size_t dns_zonemd_rdata(uint32_t serial, const uint8_t digest[DNS_ZONEMD_DIGEST],
			uint8_t out[DNS_ZONEMD_RDATA])
{
	dns_put32(out, serial);
	out[4] = ZONEMD_SIMPLE;
	out[5] = ZONEMD_SHA384;
	memcpy(out + 6, digest, DNS_ZONEMD_DIGEST);
	return DNS_ZONEMD_RDATA;
}
