/* DNS names in wire form (RFC 1035 §3.1): a sequence of labels, each a length octet (1..63)
 * and that many octets, ending with the zero-length root label; at most 255 octets in all,
 * never compressed. Canonical order and case as RFC 4034 §6.
 *
 * Trust: functions taking a bare `const uint8_t *` name expect a valid name (one made by
 * dns_name_from_text, or accepted by dns_name_check); bytes from the network or from another
 * node go through dns_name_check first, which never reads past the length it is given. */
#ifndef CONCORD_DNS_WIRE_H
#define CONCORD_DNS_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define DNS_NAME_MAX	  255  /* octets of a wire name, root label included */
#define DNS_LABEL_MAX	  63   /* octets of one label */
#define DNS_NAME_TEXT_MAX 1005 /* bytes of the longest presentation name, NUL included */
#define DNS_CLASS_IN	  1

enum dns_type {
	DNS_A = 1,
	DNS_NS = 2,
	DNS_SOA = 6,
	DNS_AAAA = 28,
	DNS_OPT = 41,
	DNS_DS = 43,
	DNS_RRSIG = 46,
	DNS_NSEC = 47,
	DNS_DNSKEY = 48,
	DNS_ZONEMD = 63
};

/* Presentation text ("cn.", "a.dns.cn.", ".") to lower-case uncompressed wire form. The
 * name must be absolute (final dot); \DDD (decimal, three digits) and \X (X printable
 * ASCII or space) escapes are read; other characters must be printable ASCII, space not
 * included. Upper-case ASCII becomes lower-case, escaped or not (RFC 4034 §6.2). Returns
 * the wire length (1..255) or CC_EINVAL (relative, empty label, label over 63, name over
 * 255, bad escape, NULL), out then holding garbage. */
int dns_name_from_text(uint8_t out[DNS_NAME_MAX], const char *text);

/* Wire name to absolute presentation text, NUL-terminated, in cap bytes (DNS_NAME_TEXT_MAX
 * always suffices). Escapes '.', '\\' and the master-file specials '"' '(' ')' ';' '@' '$'
 * as \X, and bytes outside printable ASCII as \DDD, so dns_name_from_text reads it back.
 * Letters are written as they are in w. Returns the text length, CC_EINVAL for a malformed
 * name (a label over 63 or a compression pointer; at most 255 octets of w are read) or
 * CC_ETOOBIG when cap is short (out then holds "" when cap > 0). */
int dns_name_to_text(const uint8_t *w, char *out, size_t cap);

/* Wire length of the valid name at p[0..len), which may be followed by other data: 1..255,
 * or CC_EINVAL when p does not start with a whole uncompressed name. Reads nothing past
 * p[len - 1]; the check for wire data from outside. */
int dns_name_check(const uint8_t *p, size_t len);

/* The offset just past the name at msg[off] in a message, where it may end in a compression
 * pointer (which is not followed); 0 when it runs past len or a label is malformed. */
size_t dns_name_skip(const uint8_t *msg, size_t len, size_t off);
size_t dns_name_len(const uint8_t *w);	    /* wire length of a valid name, root = 1 */
unsigned dns_name_labels(const uint8_t *w); /* labels without the root: "cn." = 1, "." = 0 */
/* Canonical order, RFC 4034 §6.1: <0, 0, >0. Labels compare right to left as unsigned
 * octet strings with upper-case ASCII read as lower-case, so names equal but for case
 * compare equal. */
int dns_name_cmp(const uint8_t *a, const uint8_t *b);
/* 1 when name is zone or lies below it (case-insensitive, as dns_name_cmp), else 0. */
int dns_name_is_below(const uint8_t *name, const uint8_t *zone);
/* The name without its first label, pointing into w; NULL for the root. */
const uint8_t *dns_name_parent(const uint8_t *w);
/* Lower-cases the ASCII letters of a valid name in place. */
void dns_name_lower(uint8_t *w);

/* Big-endian fields, as everything on the wire. */
static inline void dns_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void dns_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline uint16_t dns_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t dns_get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

#endif
