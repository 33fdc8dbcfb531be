/* The root zone a node serves, built from the ledger's state alone and signed (docs/format.md,
 * "The zone"): the apex (SOA, the members' name servers as NS with their addresses, DNSKEY,
 * ZONEMD), every TLD's delegation (NS, DS, glue), an NSEC chain over the authoritative names
 * and RRSIGs over every authoritative RRset. The same ledger, keys and signing epoch give the
 * same zone, byte for byte: Ed25519 signatures are deterministic and every field, the
 * validity period included, is derived from those three.
 *
 * Pure: the caller passes the epoch (from its clock) and the keys (from its files). */
#ifndef CONCORD_DNS_ZONE_H
#define CONCORD_DNS_ZONE_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/ledger.h"
#include "dns/sign.h"

#define ZONE_EPOCH	  86400u	 /* seconds of a signing epoch */
#define ZONE_SIG_BEFORE	  3600u		 /* signatures valid from an hour before the epoch */
#define ZONE_SIG_LIFETIME (14u * 86400u) /* ... to 14 days after its start */
#define ZONE_TTL_APEX_NS  518400u	 /* apex NS and the root servers' addresses */
#define ZONE_TTL_DNSKEY	  172800u
#define ZONE_TTL_NEGATIVE 86400u /* SOA, its minimum, NSEC, ZONEMD, as the real root */
#define ZONE_SOA_REFRESH  1800u
#define ZONE_SOA_RETRY	  900u
#define ZONE_SOA_EXPIRE	  604800u
#define ZONE_SOA_RNAME	  "hostmaster.invalid."

struct zone_rr {	/* one record */
	uint8_t *owner; /* wire name, lower-case (owned) */
	uint16_t type;	/* enum dns_type */
	uint32_t ttl;
	uint16_t rdlen;
	uint8_t *rdata; /* canonical rdata (owned) */
	int auth;	/* authoritative data (signed, in the NSEC chain) rather than glue or a
			 * delegation's NS set */
};

struct zone {
	uint32_t serial;    /* log size + epoch: both only grow */
	uint32_t epoch;	    /* signing epoch, days since 1970-01-01 */
	uint64_t log_size;  /* entries of the log the zone reflects */
	struct zone_rr *rr; /* every record in canonical order (owner, type, rdata) */
	size_t n, cap;
};

struct zone_keys {
	const struct dns_key *ksk; /* signs the DNSKEY RRset (private half required for now) */
	const struct dns_key *zsk; /* signs everything else */
};

/* Builds the signed zone for ledger state l at signing epoch epoch (now / ZONE_EPOCH).
 * CC_ENOENT when no member runs a name server (a zone needs an apex NS set). */
int zone_build(const struct ledger *l, const struct zone_keys *k, uint32_t epoch, struct zone **out,
	       struct cc_err *e);
/* The zone as an RFC 1035 master file, one record per line, in canonical order. */
int zone_write(const struct zone *z, struct cbuf *out);
void zone_free(struct zone *z);

/* Presentation form of one record's rdata (appended to out); CC_EINVAL for malformed
 * rdata. */
int zone_rdata_text(uint16_t type, const uint8_t *rdata, size_t len, struct cbuf *out);
const char *zone_type_name(uint16_t type); /* "NS", ...; NULL for a type not used here */

#endif
