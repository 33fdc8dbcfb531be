/* The node's DNS server: answers queries for the root zone over UDP and TCP from the zone
 * last published (dns/answer.h). One SO_REUSEPORT UDP socket per worker thread, queries
 * read and answers sent in batches (recvmmsg/sendmmsg); TCP on the same port with a bounded
 * number of connections and an idle timeout. Until a zone is published every query gets
 * SERVFAIL. */
#ifndef CONCORD_NODE_DNSD_H
#define CONCORD_NODE_DNSD_H

#include "core/err.h"
#include "dns/answer.h"

#define DNSD_DEFAULT "127.0.0.1:5353"
#define DNSD_TCP_MAX 64 /* TCP connections at once; more wait in the backlog */
#define DNSD_TCP_IDLE_MS                                                                           \
	10000 /* a TCP connection without a whole query for this long is closed                    \
	       */
#define DNSD_WORKERS_MAX 16

struct dnsd;

/* Binds addr ("127.0.0.1:5353", "[::1]:53"; port 0 picks one) for UDP and TCP and starts
 * workers UDP threads (0: one per CPU) and the TCP thread. cache: bytes of answers the UDP
 * workers keep between them (dns/pcache.h; each at least DNSD_CACHE_MIN), 0 for none. */
#define DNSD_CACHE_DEFAULT (32u << 20)
#define DNSD_CACHE_MIN	   (1u << 16)
int dnsd_start(struct dnsd **out, const char *addr, int workers, size_t cache, struct cc_err *e);
unsigned dnsd_port(const struct dnsd *d);
/* Serves z (with its index az) from now on; takes both, and frees the previous pair once
 * no worker uses it any more. deltas[0 .. n) (taken too) are the versions from the zone
 * published last to z, for IXFR: they extend the history kept (the last DNSD_HISTORY
 * versions); n = 0 (a zone built whole) starts it anew, unless z has the serial the
 * history ends at (the same zone again). */
#define DNSD_HISTORY 1024
void dnsd_publish(struct dnsd *d, struct zone *z, struct ans_zone *az, struct zone_delta **deltas,
		  size_t n);
/* Secondaries to NOTIFY (RFC 1996) whenever a zone with a new serial is published: each is
 * sent a NOTIFY over UDP, again after 1, 2, 4, 8 and 16 s until it answers. At most
 * DNSD_NOTIFY_MAX; call before dnsd_publish. */
#define DNSD_NOTIFY_MAX 16
/* target: "ADDR:PORT", or "ADDR:PORT,KEY" to sign the NOTIFYs with that TSIG key (and
 * count one as heard only by a signed answer). */
int dnsd_notify_add(struct dnsd *d, const char *target, struct cc_err *e);

/* TSIG (HMAC-SHA256, RFC 8945) and who may transfer the zone. Call these first, before
 * the rules and targets that name keys, and before dnsd_publish.
 *
 * The keys of a key file (dns/tsig.h: tsig-keygen's form, or NAME:SECRET lines): a query
 * signed with one is answered signed, one signed with another gets NOTAUTH (BADKEY). */
#define DNSD_KEYS_MAX 16
int dnsd_keys_load(struct dnsd *d, const char *text, size_t len, struct cc_err *e);
/* Allows zone transfers (AXFR, IXFR) from PREFIX ("192.0.2.0/24", "2001:db8::/32", one
 * address), and with ",KEY" only when signed with that key. Without any rule anyone may
 * transfer the zone (it is public); with rules, a transfer no rule allows gets REFUSED. */
#define DNSD_RULES_MAX 32
int dnsd_xfr_allow(struct dnsd *d, const char *rule, struct cc_err *e);
/* What the server did since it started, summed over its threads (each counts alone, so
 * the sums may be a batch apart from one another). rcode[i]: answers with RCODE i for
 * NOERROR to REFUSED (0..5), others in the last. */
#define DNSD_RCODES 7
struct dnsd_stats {
	int serving;	 /* a zone is published */
	uint32_t serial; /* the zone's, when serving */
	int workers;	 /* UDP worker threads */
	size_t cache;	 /* bytes their caches hold together (--dns-cache; each at least
			  * DNSD_CACHE_MIN), 0 for none */
	uint64_t udp_queries, udp_answers, udp_cached, udp_truncated;
	uint64_t tcp_queries, tcp_answers, transfers; /* transfers begun (AXFR, IXFR) */
	uint64_t rcode[DNSD_RCODES];
};
void dnsd_stats(struct dnsd *d, struct dnsd_stats *s);

/* Stops the threads (within about 200 ms) and frees everything. */
void dnsd_stop(struct dnsd *d);

#endif
