/* Authoritative answers from a signed zone (dns/zone.h): query parsing, referrals with DS or
 * their NSEC proof, NXDOMAIN and NODATA with NSEC proofs, priming, EDNS(0) with the DO bit,
 * truncation. Pure: no sockets, no clock; the server hands in a query and sends what comes
 * back.
 *
 * An ans_zone is a read-only index over a zone, shared by every worker; answering uses only
 * the caller's buffer and a table on the stack: no allocation, no lock. */
#ifndef CONCORD_DNS_ANSWER_H
#define CONCORD_DNS_ANSWER_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "dns/zone.h"

#define ANS_UDP_DEFAULT 1232 /* EDNS payload size offered, and the largest UDP answer */
#define ANS_UDP_MIN	512  /* without EDNS */
#define ANS_MSG_MAX	65535

enum ans_rcode {
	ANS_NOERROR = 0,
	ANS_FORMERR = 1,
	ANS_SERVFAIL = 2,
	ANS_NXDOMAIN = 3,
	ANS_NOTIMP = 4,
	ANS_REFUSED = 5,
	ANS_BADVERS = 16
};

struct ans_zone; /* the index */

/* Indexes z (which must outlive the index). CC_ENOMEM, CC_EINVAL for a zone without apex. */
int ans_zone_new(const struct zone *z, struct ans_zone **out);
void ans_zone_free(struct ans_zone *az);
/* The versions that led to the zone, oldest first (consecutive deltas ending at its serial;
 * a prefix that does not chain is ignored): IXFR answers from them. Not copied: d must
 * outlive the index. */
void ans_zone_history(struct ans_zone *az, struct zone_delta *const *d, size_t n);

struct ans_query {	/* what the server knows of the query besides its bytes */
	int tcp;	/* came over TCP: 65,535 bytes may be answered */
	size_t udp_max; /* largest UDP answer the server allows (ANS_UDP_DEFAULT) */
	size_t reserve; /* octets the server adds after the answer (a TSIG RR), within every
			 * limit; 0 for none */
};

/* Answers the query msg[0..len) into out (cap bytes, at least ANS_UDP_MIN); returns the
 * answer's length, or 0 when nothing must be sent (not a query, shorter than a header).
 * Every other query gets an answer: FORMERR, NOTIMP, REFUSED (another class, zone
 * transfers here), BADVERS, or the zone's data. */
size_t ans_answer(const struct ans_zone *az, const struct ans_query *q, const uint8_t *msg,
		  size_t len, uint8_t *out, size_t cap);

/* Zone transfers over TCP (RFC 5936, RFC 1995): when msg is an AXFR or IXFR query for the
 * root, IN, returns 1 and the caller asks ans_xfr_next for the messages of the transfer in
 * turn; 0 for any other message (answer it with ans_answer, which answers an IXFR over UDP
 * with the SOA alone). An IXFR is answered from the history (ans_zone_history) when it
 * reaches the client's serial, with the SOA alone when the client is up to date, and with
 * the whole zone otherwise, as RFC 1995 allows. */
int ans_is_xfr(const uint8_t *msg, size_t len);
/* What the transfer asked for by msg sends, for the server's log: the whole zone, the SOA
 * alone (the client is up to date), or the deltas of *versions versions. */
enum ans_xfr_kind { ANS_XFR_WHOLE, ANS_XFR_CURRENT, ANS_XFR_DELTAS };
int ans_xfr_kind(const struct ans_zone *az, const uint8_t *msg, size_t len, size_t *versions);
/* The next message of the transfer of az asked for by msg: for the whole zone the SOA,
 * every other record in canonical order, the SOA again; for an IXFR from the history the
 * deltas in RFC 1995's form; as many records a message as fit in cap (up to 65,535
 * bytes). *pos is the transfer's progress, 0 at first; returns the message's length, or 0
 * once everything was sent. */
size_t ans_xfr_next(const struct ans_zone *az, const uint8_t *msg, size_t len, size_t *pos,
		    uint8_t *out, size_t cap);

#endif
