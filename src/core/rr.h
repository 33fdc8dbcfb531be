/* Delegation data of the root zone: NS, DS and glue A/AAAA records, read from RFC 1035
 * master-file text with libzscanner and written back in one canonical form:
 *   "<owner> <ttl> IN <TYPE> <rdata>"
 * owner and NS target lower-case and absolute; DS "keytag alg digest-type HEX" (upper-case,
 * no spaces); A dotted quad; AAAA per RFC 5952. */
#ifndef CONCORD_RR_H
#define CONCORD_RR_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"

#define RR_NAME_MAX    255 /* presentation form of an absolute name, with the final dot */
#define RR_RDATA_MAX   300 /* presentation form of the longest rdata we accept (DS SHA-384) */
#define RR_TTL_OMITTED 0   /* ttl reported for a line with no TTL (or an explicit 0) */

enum rr_type { RR_A = 1, RR_NS = 2, RR_DS = 43, RR_AAAA = 28 };

struct rr {
	char owner[RR_NAME_MAX + 1];  /* absolute, lower-case, e.g. "cn." or "a.dns.cn." */
	uint16_t type;		      /* one of enum rr_type */
	uint32_t ttl;		      /* as written, RR_TTL_OMITTED when not */
	char rdata[RR_RDATA_MAX + 1]; /* canonical presentation rdata */
	uint16_t line;		      /* 1-based line of the input it came from */
};

struct rr_set {
	struct rr *v; /* records */
	size_t n;     /* used */
	size_t cap;   /* allocated */
};

typedef int (*rr_cb)(void *ctx, const struct rr *r);

/* Parses master-file text, origin ".", class IN only. Types other than NS, DS, A, AAAA are
 * refused with CC_EINVAL and the line number, as are directives ($INCLUDE, $ORIGIN, $TTL),
 * and anything zscanner rejects. Blank lines and comments are allowed. Text already in the
 * canonical form (rr_format's lines) is read without zscanner, with the same results. */
int rr_parse(struct rr_set *out, const char *text, size_t len, struct cc_err *e);
/* rr_parse without its fast path for text already in canonical form: always libzscanner.
 * Same contract and results; it exists so tests and the fuzzer can compare the two. */
int rr_parse_scanner(struct rr_set *out, const char *text, size_t len, struct cc_err *e);
/* How many texts the calling thread's rr_parse read on the fast path, for tests. */
size_t rr_parse_fast_count(void);
/* rr_parse keeps one scanner per thread, freed when the thread ends; this frees the calling
 * thread's now (the main thread's is otherwise left to the process exit). */
void rr_thread_cleanup(void);

/* Reads a whole zone file (a real root zone: directives allowed, every type allowed) and
 * calls cb for each NS, DS, A and AAAA record whose owner is not the apex. Other types
 * (SOA, DNSKEY, RRSIG, NSEC, ZONEMD, ...) are skipped. A non-zero cb result stops the scan
 * and is returned. */
int rr_scan_file(const char *path, rr_cb cb, void *ctx, struct cc_err *e);

int rr_format(const struct rr *r, uint32_t ttl, struct cbuf *out); /* one line with '\n' */

/* Canonical order: owner (DNS canonical name order, RFC 4034 §6.1), then NS, DS, A, AAAA,
 * then rdata (addresses and DS numerically, names canonically). */
int rr_cmp(const struct rr *a, const struct rr *b);
void rr_sort(struct rr_set *s);

int rr_set_add(struct rr_set *s, const struct rr *r);
/* Makes room for n more records at once (records are large: growing by doubling copies them
 * again and again). */
int rr_set_reserve(struct rr_set *s, size_t n);
/* Appends n records (not inside s). */
int rr_set_append(struct rr_set *s, const struct rr *v, size_t n);
/* Gives back the room beyond s->n: for sets kept for long (a ledger holds thousands of
 * small ones, and a record is over 500 bytes). */
void rr_set_shrink(struct rr_set *s);
void rr_set_free(struct rr_set *s);

/* Canonical DNS name comparison of two absolute lower-case names (RFC 4034 §6.1). */
int rr_name_cmp(const char *a, const char *b);
/* True when name equals zone or lies below it (both absolute, lower-case). */
int rr_name_under(const char *name, const char *zone);

#endif
