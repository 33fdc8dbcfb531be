/* DNSSEC for the zones Concord serves: Ed25519 keys and signatures (algorithm 15, RFC 8080),
 * DS digests (SHA-256), NSEC type bitmaps (RFC 4034 §4) and ZONEMD SIMPLE/SHA-384 digests
 * (RFC 8976). Everything here is a pure function of its arguments: no clock, no files, no
 * randomness (Ed25519 signatures are deterministic), so every node signs the same zone to
 * the same bytes.
 *
 * Names are wire names (dns/wire.h) and must be lower-case; rdata must already be in
 * canonical form (RFC 4034 §6.2: names inside NS, SOA, ... rdata lower-case, uncompressed). */
#ifndef CONCORD_DNS_SIGN_H
#define CONCORD_DNS_SIGN_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"
#include "dns/wire.h"

#define DNS_ALG_ED25519	  15
#define DNS_KEY_ZSK	  256 /* zone key */
#define DNS_KEY_KSK	  257 /* zone key + secure entry point */
#define DNS_DNSKEY_RDATA  36  /* flags, protocol, algorithm, 32-octet key */
#define DNS_DS_RDATA	  36  /* key tag, algorithm, digest type, SHA-256 */
#define DNS_SIG_LEN	  64  /* an Ed25519 signature */
#define DNS_ZONEMD_RDATA  54  /* serial, scheme, hash algorithm, SHA-384 */
#define DNS_ZONEMD_DIGEST 48

struct dns_key {
	uint16_t flags;	       /* DNS_KEY_ZSK or DNS_KEY_KSK */
	unsigned char pub[32]; /* Ed25519 public key, as in the DNSKEY */
	unsigned char sk[64];  /* libsodium secret key; all zero without the private half */
	int has_private;       /* sk is usable */
	uint16_t tag;	       /* key tag of the DNSKEY, RFC 4034 Appendix B */
};

/* Key from a 32-octet Ed25519 seed (the "PrivateKey:" of a BIND key file for algorithm 15).
 * CC_EINVAL for flags other than DNS_KEY_ZSK / DNS_KEY_KSK. The caller wipes the seed. */
int dns_key_from_seed(struct dns_key *k, const unsigned char seed[32], uint16_t flags);
/* Public half only, for a key whose signatures are made elsewhere (the jointly held KSK).
 * CC_EINVAL for bad flags or a point that is not a usable Ed25519 public key. */
int dns_key_from_public(struct dns_key *k, const unsigned char pub[32], uint16_t flags);
/* Zeroes k, private half included. */
void dns_key_wipe(struct dns_key *k);

/* DNSKEY rdata: flags, protocol 3, algorithm 15, key. Returns DNS_DNSKEY_RDATA. */
size_t dns_dnskey_rdata(const struct dns_key *k, uint8_t out[DNS_DNSKEY_RDATA]);
/* Key tag of any DNSKEY rdata (RFC 4034 Appendix B; not for algorithm 1). */
uint16_t dns_keytag(const uint8_t *dnskey_rdata, size_t len);
/* DS rdata for the DNSKEY at owner, digest type 2: key tag, algorithm, 2, SHA-256(owner ||
 * rdata). Returns DNS_DS_RDATA, or 0 when the rdata is shorter than a DNSKEY's 4-octet head
 * or owner is malformed. */
size_t dns_ds_rdata(const uint8_t *owner, const uint8_t *dnskey_rdata, size_t len,
		    uint8_t out[DNS_DS_RDATA]);

struct dns_rdata {
	const uint8_t *p; /* one record's rdata in canonical form */
	uint16_t len;	  /* its length */
};

/* The octets an RRSIG signs (RFC 4034 §3.1.8.1): the RRSIG rdata without its signature
 * (type covered, algorithm 15, labels, original TTL, expiration, inception, key tag,
 * signer), then each record of the RRset as owner | type | class IN | ttl | rdlength |
 * rdata, sorted by rdata as left-justified octet strings, duplicates dropped. out is reset
 * first; the rdata prefix is its first *prefix_len octets. Labels is the owner's label
 * count, less one when the owner is a wildcard ("*.example." signs with 1, RFC 4034
 * §3.1.3). CC_EINVAL when n is 0, a name is malformed or owner is not at or below
 * signer; CC_ENOMEM. */
int dns_rrsig_data(const uint8_t *owner, uint16_t type, uint32_t ttl, const struct dns_rdata *rrs,
		   size_t n, uint16_t keytag, const uint8_t *signer, uint32_t inception,
		   uint32_t expiration, struct cbuf *out, size_t *prefix_len);
/* Appends a whole RRSIG rdata to out: the prefix above, then the Ed25519 signature of k,
 * whose tag goes in the key tag field. CC_EINVAL also when k has no private half. */
int dns_rrsig(const struct dns_key *k, const uint8_t *owner, uint16_t type, uint32_t ttl,
	      const struct dns_rdata *rrs, size_t n, const uint8_t *signer, uint32_t inception,
	      uint32_t expiration, struct cbuf *out);

/* The fields of an RRSIG rdata, pointing into it. */
struct dns_rrsig_info {
	uint16_t type_covered;
	uint8_t algorithm;
	uint8_t labels;
	uint32_t ttl; /* original TTL */
	uint32_t expiration;
	uint32_t inception;
	uint16_t keytag;
	const uint8_t *signer; /* a checked wire name */
	const uint8_t *sig;    /* signature octets */
	size_t sig_len;
	size_t prefix_len; /* octets before the signature */
};
/* Splits untrusted RRSIG rdata; CC_EINVAL when it is too short or the signer malformed.
 * Any algorithm; the signature is whatever follows the signer. */
int dns_rrsig_parse(const uint8_t *rrsig, size_t len, struct dns_rrsig_info *out);
/* Checks RRSIG rdata (from anywhere) over the RRset owner/type/ttl/rrs with public key k:
 * 0, CC_ESIG when the signature is wrong, CC_EINVAL when the rdata is malformed or does not
 * describe this RRset and key (algorithm, type covered, labels, original TTL equal to ttl,
 * key tag, owner at or below the signer) or is not canonical (signer not lower-case), since
 * callers publish the rdata exactly as it came. The validity period is not checked: there is no
 * clock here; compare expiration and inception from dns_rrsig_parse yourself. */
int dns_rrsig_verify(const struct dns_key *k, const uint8_t *owner, uint16_t type, uint32_t ttl,
		     const struct dns_rdata *rrs, size_t n, const uint8_t *rrsig, size_t rrsig_len);

/* Appends NSEC rdata to out: next owner name, then the type bitmap (RFC 4034 §4.1.2) of the
 * given types, in any order, duplicates allowed. CC_EINVAL for a malformed next name, for
 * type 0, OPT and the meta/query types 128..255, which no bitmap may carry. */
int dns_nsec_rdata(const uint8_t *next, const uint16_t *types, size_t ntypes, struct cbuf *out);

/* ZONEMD SIMPLE/SHA-384 (RFC 8976 §3.3.1). The caller chooses the records: every RR of
 * the zone (glue, occluded data and RRSIGs included, out-of-zone data not), except the
 * apex ZONEMD RRset and the apex RRSIGs that cover ZONEMD. It feeds them in canonical
 * order: owner (dns_name_cmp), then type ascending, then rdata as left-justified octet
 * strings; RRSIGs are one RRset of type 46 like any other. Each RR is hashed as
 * owner | type | class IN | ttl | rdlength | rdata. */
struct dns_zonemd;
int dns_zonemd_init(struct dns_zonemd **z); /* CC_ENOMEM */
/* 0; CC_EEXIST for a duplicate of the previous RR (same owner, type and rdata): it is not
 * hashed, as RFC 8976 asks, and the context goes on; CC_EINVAL for an RR out of canonical
 * order or after dns_zonemd_final (not hashed either: the digest would be worthless, so
 * stop); CC_ENOMEM. */
int dns_zonemd_add(struct dns_zonemd *z, const uint8_t *owner, uint16_t type, uint32_t ttl,
		   const uint8_t *rdata, uint16_t rdlen);
/* The digest; once only (CC_EINVAL after). Frees nothing. */
int dns_zonemd_final(struct dns_zonemd *z, uint8_t digest[DNS_ZONEMD_DIGEST]);
void dns_zonemd_free(struct dns_zonemd *z); /* NULL is fine */
/* The same digest when the caller holds the zone already as the digest's input: every RR
 * in canonical wire form (owner, type, class, TTL, rdata length, rdata), in canonical
 * order, no duplicates, back to back in img[0 .. len), minus the byte ranges skip[i] =
 * {from, to} (ascending, disjoint): the apex ZONEMD and its RRSIG. The caller vouches for
 * the form and the order; this only hashes. */
int dns_zonemd_image(const uint8_t *img, size_t len, const size_t (*skip)[2], size_t nskip,
		     uint8_t digest[DNS_ZONEMD_DIGEST]);
/* ZONEMD rdata: serial, scheme 1 (SIMPLE), hash algorithm 1 (SHA-384), digest. Returns
 * DNS_ZONEMD_RDATA. */
size_t dns_zonemd_rdata(uint32_t serial, const uint8_t digest[DNS_ZONEMD_DIGEST],
			uint8_t out[DNS_ZONEMD_RDATA]);

#endif
