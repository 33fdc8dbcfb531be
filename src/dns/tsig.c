#include "dns/tsig.h"

#include <sodium.h>
#include <string.h>
#include <strings.h>

#define HDR	     12	  /* DNS header */
#define RR_FIXED     10	  /* type, class, ttl, rdlength after an owner name */
#define TSIG_FIXED   16	  /* rdata octets besides the algorithm name, MAC and other data */
#define TIME_LEN     6	  /* Time Signed and a BADTIME answer's Other Data: 48 bits */
#define SPEC_MAX     1200 /* a key spec: name text, algorithm and base64 are well under it */
#define SECRET_B64   128  /* base64 octets we decode at most (96 octets, over any secret) */
#define NAME_PTR     0xc0 /* the two top bits of a compression pointer */
#define QR	     0x80 /* in header octet 2 */
#define OPCODE_RD    0x79 /* opcode and RD, kept from a request */
#define ALG_WIRE_LEN 13

/* "hmac-sha256.", the only algorithm: RFC 8945 §6. */
static const uint8_t alg_sha256[ALG_WIRE_LEN] = "\x0bhmac-sha256";

/* A TSIG RR found in a message: copies of its names, pointers into the message. */
struct tsig_rr {
	size_t start;		    /* offset of the RR: what is signed ends here */
	uint8_t name[DNS_NAME_MAX]; /* owner (the key name), decompressed, lower-case */
	size_t name_len;	    /* its wire length */
	uint8_t alg[DNS_NAME_MAX];  /* algorithm name, lower-case */
	size_t alg_len;		    /* its wire length */
	uint64_t time_signed;	    /* 48 bits: seconds since the epoch */
	uint16_t fudge;		    /* seconds of skew the signer allows */
	uint16_t mac_len;	    /* octets at mac */
	const uint8_t *mac;	    /* the MAC, in the message */
	uint16_t orig_id;	    /* the ID the message was signed with */
	uint16_t error;		    /* enum tsig_error */
	uint16_t other_len;	    /* octets at other */
	const uint8_t *other;	    /* other data, in the message (a server's time) */
};

static uint8_t lower(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? (uint8_t)(c + ('a' - 'A')) : c;
}

static void put48(uint8_t *p, uint64_t v)
{
	dns_put16(p, (uint16_t)(v >> 32));
	dns_put32(p + 2, (uint32_t)v);
}

static uint64_t get48(const uint8_t *p)
{
	return (uint64_t)dns_get16(p) << 32 | dns_get32(p + 2);
}

/* Reads the name at msg[off..len), following compression pointers, into out in lower case.
 * Each pointer must lead before the stretch of labels it ends, so a loop is impossible.
 * Returns the wire length or CC_EINVAL. */
static int read_name(const uint8_t *msg, size_t len, size_t off, uint8_t out[DNS_NAME_MAX])
{
	size_t n = 0, seg = off; /* octets written; where the current stretch began */

	for (;;) {
		uint8_t c;

		if (off >= len)
			return CC_EINVAL;
		c = msg[off];
		if ((c & NAME_PTR) == NAME_PTR) {
			size_t to;

			if (len - off < 2)
				return CC_EINVAL;
			to = (size_t)(c & ~NAME_PTR) << 8 | msg[off + 1];
			if (to >= seg)
				return CC_EINVAL;
			off = seg = to;
			continue;
		}
		if (c == 0) {
			out[n++] = 0;
			return (int)n;
		}
		/* The label and the root label after it must fit in a name. */
		if (c > DNS_LABEL_MAX || n + 1u + c + 1 > DNS_NAME_MAX || len - off - 1 < c)
			return CC_EINVAL;
		out[n++] = c;
		for (size_t i = 1; i <= c; i++)
			out[n++] = lower(msg[off + i]);
		off += 1u + c;
	}
}

/* Parses the TSIG rdata at msg[off..off + rdlen) into rr. */
static int parse_rdata(const uint8_t *msg, size_t off, size_t rdlen, struct tsig_rr *rr)
{
	const uint8_t *p = msg + off;
	int alen = dns_name_check(p, rdlen);
	size_t pos, left;

	/* RFC 3597 §4: names in TSIG rdata are never compressed. */
	if (alen < 0 || rdlen - (size_t)alen < TSIG_FIXED)
		return CC_EINVAL;
	rr->alg_len = (size_t)alen;
	for (int i = 0; i < alen; i++)
		rr->alg[i] = lower(p[i]);
	pos = (size_t)alen;
	rr->time_signed = get48(p + pos);
	rr->fudge = dns_get16(p + pos + 6);
	rr->mac_len = dns_get16(p + pos + 8);
	pos += 10;
	left = rdlen - pos;
	if (left < (size_t)rr->mac_len + 6)
		return CC_EINVAL;
	rr->mac = p + pos;
	pos += rr->mac_len;
	rr->orig_id = dns_get16(p + pos);
	rr->error = dns_get16(p + pos + 2);
	rr->other_len = dns_get16(p + pos + 4);
	pos += 6;
	if (rdlen - pos != rr->other_len)
		return CC_EINVAL;
	rr->other = p + pos;
	return 0;
}

/* Finds the message's TSIG RR. 0, TSIG_NONE, or CC_EINVAL when the message does not parse
 * as far as the TSIG RR, or holds a TSIG RR anywhere but last in the additional section, or
 * anything after it, or it is malformed (§5.2: FORMERR). */
static int find_tsig(const uint8_t *msg, size_t len, struct tsig_rr *rr)
{
	size_t off = HDR, nrr, before_ar;
	uint16_t qd;
	int nlen;

	if (msg == NULL || len < HDR)
		return CC_EINVAL;
	qd = dns_get16(msg + 4);
	before_ar = (size_t)dns_get16(msg + 6) + dns_get16(msg + 8);
	nrr = before_ar + dns_get16(msg + 10);
	for (size_t i = 0; i < qd; i++) {
		off = dns_name_skip(msg, len, off);
		if (off == 0 || len - off < 4)
			return CC_EINVAL;
		off += 4;
	}
	for (size_t i = 0; i < nrr; i++) {
		size_t start = off, rdlen;
		uint16_t type;

		off = dns_name_skip(msg, len, off);
		if (off == 0 || len - off < RR_FIXED)
			return CC_EINVAL;
		type = dns_get16(msg + off);
		rdlen = dns_get16(msg + off + 8);
		if (len - off - RR_FIXED < rdlen)
			return CC_EINVAL;
		if (type != DNS_TSIG) {
			off += RR_FIXED + rdlen;
			continue;
		}
		if (i != nrr - 1 || i < before_ar || dns_get16(msg + off + 2) != DNS_CLASS_ANY ||
		    dns_get32(msg + off + 4) != 0 || len - off - RR_FIXED != rdlen)
			return CC_EINVAL;
		nlen = read_name(msg, len, start, rr->name);
		if (nlen < 0)
			return CC_EINVAL;
		rr->name_len = (size_t)nlen;
		rr->start = start;
		return parse_rdata(msg, off + RR_FIXED, rdlen, rr);
	}
	return TSIG_NONE;
}

static void mac_init(crypto_auth_hmacsha256_state *st, const struct tsig_key *k)
{
	crypto_auth_hmacsha256_init(st, k->secret, k->secret_len);
}

static void mac_put16(crypto_auth_hmacsha256_state *st, uint16_t v)
{
	uint8_t b[2];

	dns_put16(b, v);
	crypto_auth_hmacsha256_update(st, b, sizeof(b));
}

/* A previous MAC, as its size then its octets (§4.3.1, §5.3.1). */
static void mac_prior(crypto_auth_hmacsha256_state *st, const uint8_t *mac, uint16_t len)
{
	mac_put16(st, len);
	crypto_auth_hmacsha256_update(st, mac, len);
}

/* The message as signed: ID replaced by the Original ID, ARCOUNT without the TSIG RR. */
static void mac_message(crypto_auth_hmacsha256_state *st, const uint8_t *msg, size_t len,
			uint16_t orig_id, uint16_t arcount)
{
	uint8_t h[HDR];

	memcpy(h, msg, HDR);
	dns_put16(h, orig_id);
	dns_put16(h + 10, arcount);
	crypto_auth_hmacsha256_update(st, h, HDR);
	crypto_auth_hmacsha256_update(st, msg + HDR, len - HDR);
}

/* The timers alone, or with them the TSIG variables of §4.3.3: key name, class, TTL and
 * algorithm, all canonical, then time, fudge, error and other data. */
static void mac_vars(crypto_auth_hmacsha256_state *st, int timers_only, const uint8_t *name,
		     size_t name_len, const uint8_t *alg, size_t alg_len, uint64_t time,
		     uint16_t fudge, uint16_t error, const uint8_t *other, uint16_t other_len)
{
	uint8_t b[TIME_LEN];

	if (!timers_only) {
		crypto_auth_hmacsha256_update(st, name, name_len);
		mac_put16(st, DNS_CLASS_ANY);
		mac_put16(st, 0); /* TTL, 32 bits */
		mac_put16(st, 0);
		crypto_auth_hmacsha256_update(st, alg, alg_len);
	}
	put48(b, time);
	crypto_auth_hmacsha256_update(st, b, TIME_LEN);
	mac_put16(st, fudge);
	if (timers_only)
		return;
	mac_put16(st, error);
	mac_put16(st, other_len);
	crypto_auth_hmacsha256_update(st, other, other_len);
}

/* The MAC a received message should carry, ctx->mac and ctx->nmsg saying what it chains
 * to (with no MAC yet, nothing: a request). */
static void mac_received(const struct tsig_ctx *ctx, const struct tsig_key *k, const uint8_t *msg,
			 const struct tsig_rr *rr, uint8_t out[TSIG_MAC_LEN])
{
	crypto_auth_hmacsha256_state st;

	mac_init(&st, k);
	if (ctx->mac_len > 0)
		mac_prior(&st, ctx->mac, ctx->mac_len);
	mac_message(&st, msg, rr->start, rr->orig_id, (uint16_t)(dns_get16(msg + 10) - 1));
	mac_vars(&st, ctx->nmsg > 0, rr->name, rr->name_len, rr->alg, rr->alg_len, rr->time_signed,
		 rr->fudge, rr->error, rr->other, rr->other_len);
	crypto_auth_hmacsha256_final(&st, out);
	sodium_memzero(&st, sizeof(st));
}

static int time_ok(uint64_t now, uint64_t signed_at, uint16_t fudge)
{
	return (now > signed_at ? now - signed_at : signed_at - now) <= fudge;
}

static const struct tsig_key *key_find(const struct tsig_key *keys, size_t nkeys,
				       const uint8_t *name, size_t name_len)
{
	for (size_t i = 0; i < nkeys; i++)
		if (dns_name_len(keys[i].name) == name_len &&
		    memcmp(keys[i].name, name, name_len) == 0)
			return &keys[i];
	return NULL;
}

int tsig_verify_query(const struct tsig_key *keys, size_t nkeys, const uint8_t *msg, size_t len,
		      uint64_t now, struct tsig_ctx *ctx)
{
	struct tsig_rr rr;
	uint8_t mac[TSIG_MAC_LEN];
	const struct tsig_key *k;
	int ret;

	memset(ctx, 0, sizeof(*ctx));
	ret = find_tsig(msg, len, &rr);
	if (ret != 0)
		goto out;
	/* Kept for the answer, which names the key and algorithm even when unknown. */
	memcpy(ctx->name, rr.name, rr.name_len);
	memcpy(ctx->alg, rr.alg, rr.alg_len);
	ctx->time_signed = rr.time_signed;
	ctx->unsigned_len = rr.start;
	k = key_find(keys, nkeys, rr.name, rr.name_len);
	ret = CC_ENOENT;
	ctx->error = TSIG_BADKEY;
	if (k == NULL || rr.alg_len != ALG_WIRE_LEN || memcmp(rr.alg, alg_sha256, ALG_WIRE_LEN))
		goto out;
	ret = CC_EINVAL;
	ctx->error = TSIG_NOERROR;
	if (rr.mac_len < TSIG_MAC_MIN || rr.mac_len > TSIG_MAC_LEN)
		goto out;
	mac_received(ctx, k, msg, &rr, mac);
	ret = CC_ESIG;
	ctx->error = TSIG_BADSIG;
	if (sodium_memcmp(mac, rr.mac, rr.mac_len) != 0)
		goto out;
	/* From here on the request is authentic, and the answer signed. */
	ctx->key = k;
	memcpy(ctx->mac, rr.mac, rr.mac_len);
	ctx->mac_len = rr.mac_len;
	ret = CC_ETIME;
	ctx->error = TSIG_BADTIME;
	if (!time_ok(now, rr.time_signed, rr.fudge))
		goto out;
	/* A MAC cut to half its length is allowed by §5.2.2.1, but we sign whole ones and
	 * ask as much of others. */
	ret = CC_ESIG;
	ctx->error = TSIG_BADTRUNC;
	if (rr.mac_len < TSIG_MAC_LEN)
		goto out;
	ctx->error = TSIG_NOERROR;
	ret = 0;
out:
	if (ret == TSIG_NONE)
		memset(ctx, 0, sizeof(*ctx));
	sodium_memzero(mac, sizeof(mac));
	return ret;
}

static int unsigned_error(const struct tsig_ctx *ctx)
{
	return ctx->error == TSIG_BADKEY || ctx->error == TSIG_BADSIG;
}

size_t tsig_space(const struct tsig_ctx *ctx)
{
	return dns_name_len(ctx->name) + RR_FIXED + dns_name_len(ctx->alg) + TSIG_FIXED +
	       (unsigned_error(ctx) ? 0 : TSIG_MAC_LEN) +
	       (ctx->error == TSIG_BADTIME ? TIME_LEN : 0);
}

int tsig_sign(struct tsig_ctx *ctx, uint8_t *msg, size_t *len, size_t cap, uint64_t now)
{
	crypto_auth_hmacsha256_state st;
	uint8_t mac[TSIG_MAC_LEN], other[TIME_LEN], *p;
	size_t nlen = dns_name_len(ctx->name), alen = dns_name_len(ctx->alg);
	size_t need = tsig_space(ctx), n = *len;
	uint16_t mac_len = unsigned_error(ctx) ? 0 : TSIG_MAC_LEN, other_len = 0;
	uint16_t id, ar;
	/* A BADTIME answer gives the client its own time back, and ours apart (§5.2.3). */
	uint64_t t = ctx->error == TSIG_BADTIME ? ctx->time_signed : now;
	int ret = CC_EINVAL;

	if (n < HDR || n > cap || (mac_len > 0 && ctx->key == NULL) || now >> 48 != 0)
		goto out;
	id = dns_get16(msg);
	ar = dns_get16(msg + 10);
	if (ar == UINT16_MAX)
		goto out;
	ret = CC_ETOOBIG;
	if (cap - n < need)
		goto out;
	if (ctx->error == TSIG_BADTIME) {
		put48(other, now);
		other_len = TIME_LEN;
	}
	if (mac_len > 0) {
		mac_init(&st, ctx->key);
		if (ctx->mac_len > 0)
			mac_prior(&st, ctx->mac, ctx->mac_len);
		crypto_auth_hmacsha256_update(&st, msg, n);
		mac_vars(&st, ctx->nmsg > 0, ctx->name, nlen, ctx->alg, alen, t, TSIG_FUDGE,
			 ctx->error, other, other_len);
		crypto_auth_hmacsha256_final(&st, mac);
		sodium_memzero(&st, sizeof(st));
	}
	p = msg + n;
	memcpy(p, ctx->name, nlen);
	p += nlen;
	dns_put16(p, DNS_TSIG);
	dns_put16(p + 2, DNS_CLASS_ANY);
	dns_put32(p + 4, 0);
	dns_put16(p + 8, (uint16_t)(need - nlen - RR_FIXED));
	p += RR_FIXED;
	memcpy(p, ctx->alg, alen);
	p += alen;
	put48(p, t);
	dns_put16(p + 6, TSIG_FUDGE);
	dns_put16(p + 8, mac_len);
	p += 10;
	memcpy(p, mac, mac_len);
	p += mac_len;
	dns_put16(p, id);
	dns_put16(p + 2, ctx->error);
	dns_put16(p + 4, other_len);
	memcpy(p + 6, other, other_len);
	dns_put16(msg + 10, (uint16_t)(ar + 1));
	*len = n + need;
	if (mac_len > 0) {
		memcpy(ctx->mac, mac, mac_len);
		ctx->mac_len = mac_len;
		ctx->nmsg++;
	}
	ret = 0;
out:
	sodium_memzero(mac, sizeof(mac));
	return ret;
}

int tsig_error_answer(struct tsig_ctx *ctx, const uint8_t *msg, size_t len, uint8_t *out,
		      size_t *olen, size_t cap, uint64_t now)
{
	size_t n = HDR;
	int qlen;

	if (ctx->error == TSIG_NOERROR || msg == NULL || len < HDR)
		return CC_EINVAL;
	if (cap < HDR)
		return CC_ETOOBIG;
	memset(out, 0, HDR);
	memcpy(out, msg, 2);
	out[2] = (uint8_t)(QR | (msg[2] & OPCODE_RD));
	out[3] = DNS_RCODE_NOTAUTH;
	/* The question is echoed only when it is one plain name: a compressed one would
	 * point at what is not copied. */
	qlen = dns_get16(msg + 4) == 1 ? dns_name_check(msg + HDR, len - HDR) : CC_EINVAL;
	if (qlen > 0 && len - HDR - (size_t)qlen >= 4 && cap - HDR >= (size_t)qlen + 4) {
		memcpy(out + HDR, msg + HDR, (size_t)qlen + 4);
		dns_put16(out + 4, 1);
		n += (size_t)qlen + 4;
	}
	*olen = n;
	return tsig_sign(ctx, out, olen, cap, now);
}

int tsig_sign_request(struct tsig_ctx *ctx, const struct tsig_key *key, uint8_t *msg, size_t *len,
		      size_t cap, uint64_t now)
{
	int ret;

	memset(ctx, 0, sizeof(*ctx));
	ctx->key = key;
	memcpy(ctx->name, key->name, dns_name_len(key->name));
	/* Signed in canonical form, whatever the caller put in the key. */
	dns_name_lower(ctx->name);
	memcpy(ctx->alg, alg_sha256, ALG_WIRE_LEN);
	ret = tsig_sign(ctx, msg, len, cap, now);
	/* The request's MAC stays for the answer's first message to cover. */
	ctx->nmsg = 0;
	return ret;
}

int tsig_verify_answer(struct tsig_ctx *ctx, const uint8_t *msg, size_t len, uint64_t now)
{
	struct tsig_rr rr;
	uint8_t mac[TSIG_MAC_LEN];
	int ret;

	ret = find_tsig(msg, len, &rr);
	if (ret != 0)
		goto out;
	ret = CC_ENOENT;
	if (ctx->key == NULL || rr.name_len != dns_name_len(ctx->key->name) ||
	    memcmp(rr.name, ctx->key->name, rr.name_len) != 0 || rr.alg_len != ALG_WIRE_LEN ||
	    memcmp(rr.alg, alg_sha256, ALG_WIRE_LEN) != 0)
		goto out;
	/* BADKEY and BADSIG come unsigned: say so, but it proves nothing. */
	ret = CC_EPERM;
	if (rr.mac_len == 0 && rr.error != TSIG_NOERROR) {
		ctx->error = rr.error;
		goto out;
	}
	ret = CC_EINVAL;
	if (rr.mac_len < TSIG_MAC_MIN || rr.mac_len > TSIG_MAC_LEN)
		goto out;
	mac_received(ctx, ctx->key, msg, &rr, mac);
	ret = CC_ESIG;
	if (sodium_memcmp(mac, rr.mac, rr.mac_len) != 0 || rr.mac_len < TSIG_MAC_LEN)
		goto out;
	ret = CC_EPERM;
	if (rr.error != TSIG_NOERROR) {
		ctx->error = rr.error;
		goto out;
	}
	ret = CC_ETIME;
	if (!time_ok(now, rr.time_signed, rr.fudge))
		goto out;
	memcpy(ctx->mac, rr.mac, rr.mac_len);
	ctx->mac_len = rr.mac_len;
	ctx->nmsg++;
	ret = 0;
out:
	sodium_memzero(mac, sizeof(mac));
	return ret;
}

/* Copies s[0..n) to out (cap > n) as a NUL-terminated string; 0, or -1 when it is long. */
static int cut(char *out, size_t cap, const char *s, size_t n)
{
	if (n >= cap)
		return -1;
	memcpy(out, s, n);
	out[n] = '\0';
	return 0;
}

/* 1 when the presentation name ends with a dot that is not escaped. */
static int absolute(const char *s, size_t n)
{
	size_t bs = 0;

	if (n == 0 || s[n - 1] != '.')
		return 0;
	while (bs < n - 1 && s[n - 2 - bs] == '\\')
		bs++;
	return bs % 2 == 0;
}

int tsig_key_parse(struct tsig_key *k, const char *spec, struct cc_err *e)
{
	char text[DNS_NAME_TEXT_MAX + 1], b64[SECRET_B64 + 1];
	uint8_t secret[SECRET_B64];
	const char *c1, *c2, *name;
	size_t slen, nlen, blen, got = 0;
	int ret = CC_EINVAL;

	memset(k, 0, sizeof(*k));
	memset(b64, 0, sizeof(b64));
	if (spec == NULL) {
		ret = cc_fail(e, CC_EINVAL, "TSIG key: none given");
		goto out;
	}
	slen = strnlen(spec, SPEC_MAX + 1);
	if (slen > SPEC_MAX) {
		ret = cc_fail(e, CC_EINVAL, "TSIG key: longer than %d bytes", SPEC_MAX);
		goto out;
	}
	c2 = memrchr(spec, ':', slen);
	if (c2 == NULL) {
		ret = cc_fail(e, CC_EINVAL, "TSIG key: expected [hmac-sha256:]NAME:BASE64SECRET");
		goto out;
	}
	c1 = memchr(spec, ':', (size_t)(c2 - spec));
	name = spec;
	if (c1 != NULL) {
		if ((size_t)(c1 - spec) != strlen("hmac-sha256") ||
		    strncasecmp(spec, "hmac-sha256", (size_t)(c1 - spec)) != 0) {
			ret = cc_fail(e, CC_EINVAL,
				      "TSIG key: algorithm \"%.*s\" is not supported, only "
				      "hmac-sha256",
				      (int)(c1 - spec > 64 ? 64 : c1 - spec), spec);
			goto out;
		}
		name = c1 + 1;
	}
	nlen = (size_t)(c2 - name);
	/* Room for the final dot a relative name gets, and the NUL. */
	if (nlen == 0 || cut(text, sizeof(text) - 1, name, nlen) < 0) {
		ret = cc_fail(e, CC_EINVAL, "TSIG key: the key name is empty or too long");
		goto out;
	}
	if (!absolute(text, nlen))
		strcat(text, ".");
	if (dns_name_from_text(k->name, text) < 0) {
		ret = cc_fail(e, CC_EINVAL, "TSIG key: bad key name \"%.*s\"",
			      (int)(nlen > 255 ? 255 : nlen), name);
		goto out;
	}
	blen = slen - (size_t)(c2 + 1 - spec);
	if (blen == 0) {
		ret = cc_fail(e, CC_EINVAL, "TSIG key %s: empty secret", text);
		goto out;
	}
	if (cut(b64, sizeof(b64), c2 + 1, blen) < 0) {
		ret = cc_fail(e, CC_EINVAL, "TSIG key %s: secret longer than %d bytes", text,
			      TSIG_SECRET_MAX);
		goto out;
	}
	if (sodium_base642bin(secret, sizeof(secret), b64, blen, NULL, &got, NULL,
			      sodium_base64_VARIANT_ORIGINAL) != 0 &&
	    sodium_base642bin(secret, sizeof(secret), b64, blen, NULL, &got, NULL,
			      sodium_base64_VARIANT_ORIGINAL_NO_PADDING) != 0) {
		ret = cc_fail(e, CC_EINVAL, "TSIG key %s: the secret is not base64", text);
		goto out;
	}
	if (got == 0 || got > TSIG_SECRET_MAX) {
		ret = cc_fail(e, CC_EINVAL, "TSIG key %s: the secret is %zu bytes, not 1 to %d",
			      text, got, TSIG_SECRET_MAX);
		goto out;
	}
	memcpy(k->secret, secret, got);
	k->secret_len = got;
	ret = 0;
out:
	if (ret < 0)
		sodium_memzero(k, sizeof(*k));
	sodium_memzero(secret, sizeof(secret));
	sodium_memzero(b64, sizeof(b64));
	return ret;
}

void tsig_key_wipe(struct tsig_key *k)
{
	sodium_memzero(k, sizeof(*k));
}

/* ---- key files ---- */

struct ktok {
	const char *p, *end; /* the text left */
	char t[TSIG_KEYS_TOKEN];
	int quoted; /* the token was a quoted string */
	unsigned line;
};

/* The next token: a quoted string, one of { } ;, or a run of other non-blank characters;
 * # and // start comments to the end of the line. 1, 0 at the end, CC_EINVAL. */
static int ktok_next(struct ktok *k)
{
	size_t n = 0;

	k->quoted = 0;
	for (;;) {
		while (k->p < k->end &&
		       (*k->p == ' ' || *k->p == '\t' || *k->p == '\r' || *k->p == '\n')) {
			k->line += *k->p == '\n';
			k->p++;
		}
		if (k->p < k->end &&
		    (*k->p == '#' || (*k->p == '/' && k->end - k->p > 1 && k->p[1] == '/'))) {
			while (k->p < k->end && *k->p != '\n')
				k->p++;
			continue;
		}
		break;
	}
	if (k->p == k->end)
		return 0;
	if (*k->p == '{' || *k->p == '}' || *k->p == ';') {
		k->t[0] = *k->p++;
		k->t[1] = '\0';
		return 1;
	}
	if (*k->p == '"') {
		k->quoted = 1;
		for (k->p++; k->p < k->end && *k->p != '"' && *k->p != '\n'; k->p++) {
			if (n + 1 == sizeof(k->t))
				return CC_EINVAL;
			k->t[n++] = *k->p;
		}
		if (k->p == k->end || *k->p != '"')
			return CC_EINVAL;
		k->p++;
	} else {
		for (; k->p < k->end && !strchr(" \t\r\n{};\"#", *k->p); k->p++) {
			if (n + 1 == sizeof(k->t) || *k->p == '\0')
				return CC_EINVAL;
			k->t[n++] = *k->p;
		}
	}
	k->t[n] = '\0';
	return 1;
}

static int ktok_want(struct ktok *k, const char *what)
{
	return ktok_next(k) == 1 && !k->quoted && strcmp(k->t, what) == 0;
}

/* One BIND key statement after its "key": NAME { algorithm ALG; secret "B64"; }; */
static int key_statement(struct ktok *k, struct tsig_key *out, struct cc_err *e)
{
	char name[TSIG_KEYS_TOKEN], alg[TSIG_KEYS_TOKEN] = "", secret[TSIG_KEYS_TOKEN] = "";
	char spec[3 * TSIG_KEYS_TOKEN + 3];
	int ret = CC_EINVAL;

	if (ktok_next(k) != 1 || (!k->quoted && strchr("{};", k->t[0])))
		goto bad;
	memcpy(name, k->t, sizeof(name));
	if (!ktok_want(k, "{"))
		goto bad;
	for (;;) {
		char *slot;

		if (ktok_next(k) != 1)
			goto bad;
		if (!k->quoted && strcmp(k->t, "}") == 0)
			break;
		if (!k->quoted && strcmp(k->t, "algorithm") == 0)
			slot = alg;
		else if (!k->quoted && strcmp(k->t, "secret") == 0)
			slot = secret;
		else
			goto bad;
		if (slot[0] != '\0' || ktok_next(k) != 1 || (!k->quoted && strchr("{};", k->t[0])))
			goto bad;
		memcpy(slot, k->t, TSIG_KEYS_TOKEN);
		if (!ktok_want(k, ";"))
			goto bad;
	}
	if (!ktok_want(k, ";") || alg[0] == '\0' || secret[0] == '\0')
		goto bad;
	snprintf(spec, sizeof(spec), "%s:%s:%s", alg, name, secret);
	ret = tsig_key_parse(out, spec, e);
	sodium_memzero(spec, sizeof(spec));
	sodium_memzero(secret, sizeof(secret));
	return ret;
bad:
	sodium_memzero(secret, sizeof(secret));
	return cc_fail(e, ret, "line %u: expected key NAME { algorithm ALG; secret \"BASE64\"; };",
		       k->line);
}

int tsig_keys_parse(const char *text, size_t len, struct tsig_key *keys, size_t max, size_t *n,
		    struct cc_err *e)
{
	struct ktok k = {.p = text, .end = text + len, .line = 1};
	int ret = 0, r;

	*n = 0;
	if (len > TSIG_KEYS_TEXT_MAX)
		return cc_fail(e, CC_ETOOBIG, "more than %d bytes", TSIG_KEYS_TEXT_MAX);
	while (ret == 0 && (r = ktok_next(&k)) != 0) {
		unsigned line = k.line;

		if (r < 0) {
			ret =
			    cc_fail(e, CC_EINVAL, "line %u: unterminated or overlong token", line);
			break;
		}
		if (*n == max) {
			ret = cc_fail(e, CC_ETOOBIG, "more than %zu keys", max);
			break;
		}
		if (!k.quoted && strcmp(k.t, "key") == 0)
			ret = key_statement(&k, &keys[*n], e);
		else if (!k.quoted && strchr(k.t, ':'))
			ret = tsig_key_parse(&keys[*n], k.t, e);
		else
			ret = cc_fail(e, CC_EINVAL, "line %u: expected a key statement or a key",
				      line);
		if (ret < 0 && e && strncmp(e->msg, "line ", 5) != 0) {
			char m[CC_ERR_MSG];

			memcpy(m, e->msg, sizeof(m));
			ret = cc_fail(e, ret, "line %u: %.400s", line, m);
		}
		if (ret == 0) {
			for (size_t i = 0; ret == 0 && i < *n; i++)
				if (dns_name_cmp(keys[i].name, keys[*n].name) == 0)
					ret = cc_fail(e, CC_EEXIST,
						      "line %u: a second key of that name", line);
			if (ret == 0)
				(*n)++;
		}
	}
	sodium_memzero(k.t, sizeof(k.t));
	if (ret < 0) {
		for (size_t i = 0; i <= *n && i < max; i++)
			tsig_key_wipe(&keys[i]);
		*n = 0;
	}
	return ret;
}
