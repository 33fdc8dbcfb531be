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

struct zone_rr {	      /* one record */
	const uint8_t *owner; /* wire name, lower-case, in the zone's image */
	uint16_t type;	      /* enum dns_type */
	uint32_t ttl;
	uint16_t rdlen;
	const uint8_t *rdata; /* canonical rdata, in the zone's image */
	int auth; /* authoritative data (signed, in the NSEC chain) rather than glue or a
		   * delegation's NS set */
};

struct zone_arena;

struct zone {
	uint32_t serial;    /* log size + epoch (+ the keys' serial_offset): only grows */
	uint32_t epoch;	    /* signing epoch, days since 1970-01-01 */
	uint64_t log_size;  /* entries of the log the zone reflects */
	struct zone_rr *rr; /* every record in canonical order (owner, type, rdata) */
	size_t n, cap;
	/* Every record in canonical wire form (owner, type, class, TTL, rdata length, rdata),
	 * in order, back to back: what owner and rdata point into, and what ZONEMD digests. A
	 * new version copies it with the few changed records spliced in. */
	uint8_t *img;
	size_t img_len;
	struct zone_arena *arena; /* records being added, until they move into img */
	int refs;		  /* holders: zone_ref takes one, zone_free drops one */
};

struct zone_keys {
	const struct dns_key *ksk; /* signs the DNSKEY RRset */
	const struct dns_key *zsk; /* signs everything else */
	/* For a KSK whose private half is not here (held jointly, signing elsewhere): its
	 * RRSIG rdata over the DNSKEY RRset of the zone's epoch, made from what
	 * zone_dnskey_data gives; checked before use. Unused when ksk has its private half. */
	const uint8_t *dnskey_rrsig;
	size_t dnskey_rrsig_len;
	/* Added to the SOA serial (log size + epoch): 0 but on a node that went back on its
	 * log (docs/format.md), so that its serials never repeat with other content. */
	uint32_t serial_offset;
};

/* Builds the signed zone for ledger state l at signing epoch epoch (now / ZONE_EPOCH).
 * The DNSKEY RRset is the KSK and the ZSK of every node record (RFC 8901, model 2: each node
 * signs the rest with its own ZSK, listed there), plus k->zsk when no node record lists it;
 * without node records, the KSK and k->zsk. Nodes sharing the KSK thus publish the same
 * DNSKEY RRset and, the signature being deterministic, the same RRSIG over it.
 * CC_ENOENT when no member runs a name server (a zone needs an apex NS set); CC_EPERM when
 * the KSK has no private half and no dnskey_rrsig is given, CC_ESIG when the one given
 * does not verify for this epoch. */
int zone_build(const struct ledger *l, const struct zone_keys *k, uint32_t epoch, struct zone **out,
	       struct cc_err *e);
/* What the KSK signs for epoch: the octets of the RRSIG over the DNSKEY RRset zone_build
 * makes from l and k (RFC 4034 §3.1.8.1), of which the first *prefix_len are the RRSIG
 * rdata before the signature. Its Ed25519 signature appended to that prefix is the
 * dnskey_rrsig a zone needs. */
int zone_dnskey_data(const struct ledger *l, const struct zone_keys *k, uint32_t epoch,
		     struct cbuf *out, size_t *prefix_len);
/* The zone as an RFC 1035 master file, one record per line, in canonical order. */
int zone_write(const struct zone *z, struct cbuf *out);
/* A zone is immutable once made, and may have several holders (the node, the DNS server's
 * snapshots): zone_ref takes a reference (returns z), zone_free drops one and frees the
 * zone with the last. Both may be called from any thread. */
struct zone *zone_ref(struct zone *z);
void zone_free(struct zone *z);

/* What changed in the ledger since a zone was built: the names whose delegation records
 * were written, with the records they hold now. Collected under the caller's lock on the
 * ledger (it is quick); the signing, in zone_update, needs no lock. */
struct zone_changes;

/* The records what changed since z hold in l (ledger_touched). CC_ENOENT when the zone
 * cannot be brought up to date by parts: the ledger no longer remembers that far back, or
 * a member or node changed (the apex: root servers, SOA, the DNSKEY RRset): build it anew
 * with zone_build. */
int zone_changes(const struct zone *z, const struct ledger *l, struct zone_changes **out,
		 struct cc_err *e);
void zone_changes_free(struct zone_changes *c);
size_t zone_changes_names(const struct zone_changes *c); /* names that changed */

/* A zone version's difference from the one before (an IXFR step, RFC 1995): the records
 * removed and added, each a zone of its own (canonical order; the old and the new SOA
 * among them). */
struct zone_delta {
	uint32_t from, to; /* serials */
	struct zone *del, *add;
};
void zone_delta_free(struct zone_delta *d);

/* The zone z brought to the state c was collected from, at z's signing epoch: re-signs
 * only the RRsets that changed, the NSEC records (and their RRSIGs) whose next name
 * changed, SOA and ZONEMD. The result is the zone zone_build makes from the same ledger,
 * byte for byte. z and c are only read. With delta non-NULL, also what changed. */
int zone_update(const struct zone *z, const struct zone_changes *c, const struct zone_keys *k,
		struct zone **out, struct zone_delta **delta, struct cc_err *e);

/* Presentation form of one record's rdata (appended to out); CC_EINVAL for malformed
 * rdata. */
int zone_rdata_text(uint16_t type, const uint8_t *rdata, size_t len, struct cbuf *out);
const char *zone_type_name(uint16_t type); /* "NS", ...; NULL for a type not used here */

#endif
