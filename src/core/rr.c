#include "core/rr.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <libzscanner/scanner.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <threads.h>

#define RR_TEXT_MAX 60000 /* bytes of master-file text rr_parse accepts at once */
#define RR_CLASS_IN 1

/* One scanner per thread for rr_parse. zs_init clears the whole scanner (about 200 KB, three
 * 64 KB buffers) and parses "$ORIGIN ."; rr_parse runs for every TLD a proposal puts, so each
 * thread initialises one scanner once and keeps a copy of what zs_init left in it, except
 * those three buffers: the scanner writes each of them before reading it in every record
 * (buffer_length, r_data_tail and the include name are part of the restored state), the way
 * zs_init's own memset of them is never read either. Restoring that copy puts the scanner
 * back exactly where zs_init left it, pointers into itself included (same object). */
struct rr_scanner {
	zs_scanner_t s; /* the thread's scanner, initialised once */
	unsigned char head[offsetof(zs_scanner_t, buffer)];
	/* s from path to r_data, as zs_init left it */
	unsigned char mid[offsetof(zs_scanner_t, r_data) - offsetof(zs_scanner_t, path)];
};

_Static_assert(offsetof(zs_scanner_t, buffer) < offsetof(zs_scanner_t, include_filename) &&
		   offsetof(zs_scanner_t, include_filename) < offsetof(zs_scanner_t, path) &&
		   offsetof(zs_scanner_t, path) < offsetof(zs_scanner_t, r_data) &&
		   offsetof(zs_scanner_t, r_data) + ZS_MAX_RDATA_LENGTH <= sizeof(zs_scanner_t),
	       "zs_scanner_t layout: buffer, include_filename, ..., r_data last");

static _Thread_local struct rr_scanner *rr_tls;	   /* this thread's scanner, or NULL */
static tss_t rr_key;				   /* frees it when the thread ends */
static pthread_once_t rr_once = PTHREAD_ONCE_INIT; /* not call_once: see sha256.c */
static int rr_key_ok;				   /* rr_key exists */

static void rr_scanner_free(void *p)
{
	struct rr_scanner *sc = p;

	if (sc != NULL) {
		zs_deinit(&sc->s);
		free(sc);
	}
}

static void rr_key_init(void)
{
	rr_key_ok = tss_create(&rr_key, rr_scanner_free) == thrd_success;
}

/* This thread's scanner, as zs_init leaves it. */
static zs_scanner_t *rr_scanner(struct cc_err *e)
{
	struct rr_scanner *sc = rr_tls;

	if (sc != NULL) {
		memcpy(&sc->s, sc->head, sizeof(sc->head));
		memcpy((unsigned char *)&sc->s + offsetof(zs_scanner_t, path), sc->mid,
		       sizeof(sc->mid));
		return &sc->s;
	}
	pthread_once(&rr_once, rr_key_init);
	sc = malloc(sizeof(*sc));
	if (sc == NULL) {
		cc_fail(e, CC_ENOMEM, "out of memory");
		return NULL;
	}
	if (zs_init(&sc->s, ".", RR_CLASS_IN, RR_TTL_OMITTED) != 0) {
		cc_fail(e, CC_ENOMEM, "zscanner: %s", zs_strerror(sc->s.error.code));
		zs_deinit(&sc->s);
		free(sc);
		return NULL;
	}
	memcpy(sc->head, &sc->s, sizeof(sc->head));
	memcpy(sc->mid, (unsigned char *)&sc->s + offsetof(zs_scanner_t, path), sizeof(sc->mid));
	rr_tls = sc;
	if (rr_key_ok)
		tss_set(rr_key, sc);
	return &sc->s;
}

void rr_thread_cleanup(void)
{
	struct rr_scanner *sc = rr_tls;

	rr_tls = NULL;
	if (sc != NULL && rr_key_ok)
		tss_set(rr_key, NULL);
	rr_scanner_free(sc);
}

/* A name in wire order with its label starts, so names compare label by label from the right. */
struct rr_dname {
	uint8_t w[256];	  /* length-prefixed labels, lower-cased, no root label */
	uint8_t lab[128]; /* offset in w of each label's length byte, left to right */
	int n;		  /* number of labels; 0 for the root */
};

static const char *rr_type_str(uint16_t type)
{
	switch (type) {
	case RR_NS:
		return "NS";
	case RR_DS:
		return "DS";
	case RR_A:
		return "A";
	case RR_AAAA:
		return "AAAA";
	}
	return NULL;
}

/* Names a refused type the way the user wrote it, so the message points at the line's mnemonic
 * rather than at a number. */
static void rr_other_type_str(uint16_t type, char *buf, size_t len)
{
	static const struct {
		uint16_t type;
		const char *name;
	} names[] = {
	    {5, "CNAME"},   {6, "SOA"},	    {12, "PTR"},   {13, "HINFO"},    {15, "MX"},
	    {16, "TXT"},    {17, "RP"},	    {18, "AFSDB"}, {24, "SIG"},	     {25, "KEY"},
	    {29, "LOC"},    {33, "SRV"},    {35, "NAPTR"}, {36, "KX"},	     {37, "CERT"},
	    {39, "DNAME"},  {42, "APL"},    {44, "SSHFP"}, {45, "IPSECKEY"}, {46, "RRSIG"},
	    {47, "NSEC"},   {48, "DNSKEY"}, {49, "DHCID"}, {50, "NSEC3"},    {51, "NSEC3PARAM"},
	    {52, "TLSA"},   {53, "SMIMEA"}, {59, "CDS"},   {60, "CDNSKEY"},  {61, "OPENPGPKEY"},
	    {62, "CSYNC"},  {63, "ZONEMD"}, {64, "SVCB"},  {65, "HTTPS"},    {99, "SPF"},
	    {104, "NID"},   {105, "L32"},   {106, "L64"},  {107, "LP"},	     {108, "EUI48"},
	    {109, "EUI64"}, {256, "URI"},   {257, "CAA"},
	};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (names[i].type == type) {
			snprintf(buf, len, "%s", names[i].name);
			return;
		}
	}
	snprintf(buf, len, "TYPE%u", (unsigned)type);
}

static int rr_type_rank(uint16_t type)
{
	switch (type) {
	case RR_NS:
		return 0;
	case RR_DS:
		return 1;
	case RR_A:
		return 2;
	case RR_AAAA:
		return 3;
	}
	return 4 + type;
}

static int rr_hostname_byte(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

static uint8_t rr_lower(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') ? (uint8_t)(c - 'A' + 'a') : c;
}

/* Writes a wire name as lower-case absolute text. Any byte outside [a-z0-9-_] becomes \DDD: one
 * escape form for everything keeps the text canonical, and rr_parse can refuse a non-hostname
 * by the mere presence of a backslash. Returns CC_ETOOBIG when the text does not fit. */
static int rr_name_to_text(const uint8_t *w, size_t wlen, char *out, size_t cap)
{
	size_t i = 0, o = 0;

	while (i < wlen && w[i] != 0) {
		size_t l = w[i++], k;

		if (l > 63 || i + l > wlen)
			return CC_EINVAL;
		for (k = 0; k < l; k++) {
			uint8_t c = rr_lower(w[i + k]);

			if (rr_hostname_byte(c)) {
				if (o + 1 >= cap)
					return CC_ETOOBIG;
				out[o++] = (char)c;
			} else {
				if (o + 4 >= cap)
					return CC_ETOOBIG;
				snprintf(out + o, 5, "\\%03u", (unsigned)c);
				o += 4;
			}
		}
		if (o + 1 >= cap)
			return CC_ETOOBIG;
		out[o++] = '.';
		i += l;
	}
	if (i >= wlen)
		return CC_EINVAL;
	if (o == 0) {
		if (cap < 2)
			return CC_ETOOBIG;
		out[o++] = '.';
	}
	out[o] = '\0';
	return 0;
}

static size_t rr_ds_digest_len(uint8_t digest_type)
{
	switch (digest_type) {
	case 1: /* SHA-1 */
		return 20;
	case 2: /* SHA-256 */
		return 32;
	case 4: /* SHA-384 */
		return 48;
	}
	return 0;
}

/* inet_ntop(AF_INET, ...) without printf: a dotted quad. out holds at least 16 bytes. */
static char *rr_ntop4(const uint8_t a[4], char *out)
{
	char *o = out;

	for (int i = 0; i < 4; i++) {
		unsigned v = a[i];

		if (i)
			*o++ = '.';
		if (v >= 100)
			*o++ = (char)('0' + v / 100);
		if (v >= 10)
			*o++ = (char)('0' + v / 10 % 10);
		*o++ = (char)('0' + v % 10);
	}
	*o = '\0';
	return o;
}

/* inet_ntop(AF_INET6, ...) as glibc writes it (RFC 5952: lower-case hex, no leading zeros,
 * the first longest run of two or more zero groups as "::", and the last 32 bits as a dotted
 * quad for ::a.b.c.d and ::ffff:a.b.c.d), without printf. out holds at least 46 bytes. */
static void rr_ntop6(const uint8_t a[16], char *out)
{
	static const char hex[] = "0123456789abcdef";
	unsigned w[8];
	int best = -1, bestlen = 0, cur = -1, curlen = 0, i;
	char *o = out;

	for (i = 0; i < 8; i++)
		w[i] = (unsigned)a[2 * i] << 8 | a[2 * i + 1];
	for (i = 0; i < 8; i++) {
		if (w[i] == 0) {
			if (cur == -1)
				cur = i, curlen = 1;
			else
				curlen++;
		} else if (cur != -1) {
			if (best == -1 || curlen > bestlen)
				best = cur, bestlen = curlen;
			cur = -1;
		}
	}
	if (cur != -1 && (best == -1 || curlen > bestlen))
		best = cur, bestlen = curlen;
	if (best != -1 && bestlen < 2)
		best = -1;
	for (i = 0; i < 8; i++) {
		int started = 0;

		if (best != -1 && i >= best && i < best + bestlen) {
			if (i == best)
				*o++ = ':';
			continue;
		}
		if (i != 0)
			*o++ = ':';
		if (i == 6 && best == 0 && (bestlen == 6 || (bestlen == 5 && w[5] == 0xffff))) {
			o = rr_ntop4(a + 12, o);
			break;
		}
		for (int sh = 12; sh >= 0; sh -= 4) {
			unsigned nib = (w[i] >> sh) & 15;

			if (nib || started || sh == 0) {
				*o++ = hex[nib];
				started = 1;
			}
		}
	}
	if (best != -1 && best + bestlen == 8)
		*o++ = ':';
	*o = '\0';
}

/* Fills r from the scanner's current record. strict is rr_parse's rule that owners and NS
 * targets are hostnames. where prefixes messages ("line 3" or "root.zone: line 3"). */
static int rr_from_scanner(const zs_scanner_t *s, struct rr *r, int strict, const char *where,
			   struct cc_err *e)
{
	static const char hex[] = "0123456789ABCDEF";
	const uint8_t *d = s->r_data;
	size_t dlen = s->r_data_length, want, i;
	char *o;
	int ret;

	memset(r, 0, sizeof(*r));
	r->type = s->r_type;
	r->ttl = s->r_ttl;

	ret = rr_name_to_text(s->r_owner, s->r_owner_length, r->owner, sizeof(r->owner));
	if (ret == 0 && strict && strchr(r->owner, '\\') != NULL)
		ret = CC_EINVAL;
	if (ret < 0) {
		/* Only an escaped name can outgrow the buffer, so both cases are a non-hostname. */
		ret = cc_fail(e, CC_EINVAL, "%s: owner is not a hostname (a-z, 0-9, '-', '_' only)",
			      where);
		goto out;
	}

	switch (s->r_type) {
	case RR_NS:
		ret = rr_name_to_text(d, dlen, r->rdata, sizeof(r->rdata));
		if (ret == 0 && strict && strchr(r->rdata, '\\') != NULL)
			ret = CC_EINVAL;
		if (ret < 0) {
			ret = cc_fail(e, CC_EINVAL,
				      "%s: NS target is not a hostname (a-z, 0-9, '-', '_' only)",
				      where);
			goto out;
		}
		break;
	case RR_DS:
		if (dlen < 4) {
			ret = cc_fail(e, CC_EINVAL, "%s: DS rdata is %zu bytes, too short", where,
				      dlen);
			goto out;
		}
		want = rr_ds_digest_len(d[3]);
		if (want == 0) {
			ret = cc_fail(e, CC_EINVAL,
				      "%s: DS digest type %u not allowed (1, 2 or 4 only)", where,
				      (unsigned)d[3]);
			goto out;
		}
		if (dlen - 4 != want) {
			ret = cc_fail(e, CC_EINVAL,
				      "%s: DS digest is %zu bytes, digest type %u needs %zu", where,
				      dlen - 4, (unsigned)d[3], want);
			goto out;
		}
		o = r->rdata + snprintf(r->rdata, sizeof(r->rdata), "%u %u %u ",
					(unsigned)(d[0] << 8 | d[1]), (unsigned)d[2],
					(unsigned)d[3]);
		for (i = 4; i < dlen; i++) {
			*o++ = hex[d[i] >> 4];
			*o++ = hex[d[i] & 15];
		}
		*o = '\0';
		break;
	case RR_A:
	case RR_AAAA:
		if (dlen != (s->r_type == RR_A ? 4u : 16u)) {
			ret = cc_fail(e, CC_EINVAL, "%s: bad address", where);
			goto out;
		}
		if (s->r_type == RR_A)
			rr_ntop4(d, r->rdata);
		else
			rr_ntop6(d, r->rdata);
		break;
	default:
		ret =
		    cc_fail(e, CC_EINVAL, "%s: type %u not supported", where, (unsigned)s->r_type);
		goto out;
	}
	ret = 0;
out:
	return ret;
}

/* Walks text between records, counting lines, so that a record spread over several lines with
 * parentheses reports the line it starts on rather than the one zscanner ends it on. */
struct rr_lines {
	const char *base; /* input text */
	size_t len;	  /* its length */
	size_t pos;	  /* where the previous record ended */
	uint64_t line;	  /* line number at pos */
};

static uint64_t rr_lines_start(struct rr_lines *lc)
{
	size_t p = lc->pos;
	int bol = p == 0 || lc->base[p - 1] == '\n';

	while (p < lc->len) {
		char c = lc->base[p];

		if (c == '\n') {
			lc->line++;
			p++;
			bol = 1;
		} else if (c == ' ' || c == '\t' || c == '(' || c == ')') {
			/* zscanner takes an empty pair of parentheses for white space. */
			p++;
			bol = 0;
		} else if (c == ';' || (c == '$' && bol)) {
			while (p < lc->len && lc->base[p] != '\n')
				p++;
		} else {
			break;
		}
	}
	lc->pos = p;
	return lc->line;
}

/* Moves past the record just parsed; the scanner stops on the newline that ends it. */
static void rr_lines_end(struct rr_lines *lc, const zs_scanner_t *s)
{
	size_t p, end;

	if (s->input.start != lc->base || s->input.current < lc->base ||
	    (size_t)(s->input.current - lc->base) > lc->len) {
		/* The scanner has moved on to its own final newline: nothing follows. */
		lc->pos = lc->len;
		return;
	}
	end = (size_t)(s->input.current - lc->base);
	for (p = lc->pos; p < end; p++)
		if (lc->base[p] == '\n')
			lc->line++;
	lc->pos = end;
}

static uint16_t rr_line16(uint64_t line)
{
	return line > UINT16_MAX ? UINT16_MAX : (uint16_t)line;
}

/* Directives are refused before zscanner sees them, because it acts on $TTL and $ORIGIN itself
 * and would silently change what later lines mean. */
static int rr_check_directives(const char *text, size_t len, struct cc_err *e)
{
	uint64_t line = 1;
	size_t p = 0;

	while (p < len) {
		const char *nl;

		if (text[p] == '$') {
			char name[17];
			size_t k = 0;

			while (k < sizeof(name) - 1 && p + 1 + k < len &&
			       ((text[p + 1 + k] >= 'A' && text[p + 1 + k] <= 'Z') ||
				(text[p + 1 + k] >= 'a' && text[p + 1 + k] <= 'z'))) {
				name[k] = text[p + 1 + k];
				k++;
			}
			name[k] = '\0';
			return cc_fail(e, CC_EINVAL, "line %" PRIu64 ": directive $%s not allowed",
				       line, name);
		}
		nl = memchr(text + p, '\n', len - p);
		if (nl == NULL)
			break;
		p = (size_t)(nl - text) + 1;
		line++;
	}
	return 0;
}

/* "line N", as snprintf would write it: once per record, so without printf. */
static void rr_where(char *out, size_t cap, uint64_t line)
{
	char digits[24];
	size_t n = 0, o = 0;

	do {
		digits[n++] = (char)('0' + line % 10);
		line /= 10;
	} while (line > 0);
	if (cap < sizeof("line ") + n) {
		snprintf(out, cap, "line %s", "?");
		return;
	}
	memcpy(out, "line ", 5);
	o = 5;
	while (n > 0)
		out[o++] = digits[--n];
	out[o] = '\0';
}

/* Makes room in s for one more record. */
static int rr_set_room(struct rr_set *s)
{
	struct rr *v;
	size_t cap;

	if (s->n < s->cap)
		return 0;
	cap = s->cap ? s->cap * 2 : 4;
	if (cap > ((size_t)-1) / sizeof(*v))
		return CC_ENOMEM;
	v = realloc(s->v, cap * sizeof(*v));
	if (v == NULL)
		return CC_ENOMEM;
	s->v = v;
	s->cap = cap;
	return 0;
}

/* The fast path reads only text already in the form rr_format writes, one record a line:
 *   "<owner> <ttl> IN <TYPE> <rdata>", single spaces, lower-case absolute hostnames.
 * Proposals and replayed log entries carry exactly that, and zscanner takes several times
 * longer to read it. Anything else (comments, tabs, CR, omitted fields, escapes, upper case,
 * leading zeros, another spelling of the same address) makes it give up on the whole text,
 * and zscanner reads it instead: the fast path accepts only what zscanner accepts, as the
 * very records zscanner would give, and leaves every refusal to zscanner to word. */

/* zscanner takes TTLs up to 2^32-1 as written, though RFC 2181 has a receiver read those
 * over 2^31-1 as 0: too odd to be worth being sure about here. */
#define RR_FAST_TTL_MAX 2147483647u
/* A name of 255 octets in wire form is 254 bytes of absolute presentation text. */
#define RR_FAST_NAME_TEXT_MAX (RR_NAME_MAX - 1)

/* Reads a canonical decimal (no sign, no leading zero) no larger than max, up to the first
 * byte that is not a digit. Returns where it stopped, NULL when it is not one. */
static const char *rr_fast_uint(const char *p, const char *end, uint32_t max, uint32_t *v)
{
	const char *start = p;
	uint64_t x = 0;

	while (p < end && *p >= '0' && *p <= '9') {
		x = x * 10 + (uint64_t)(*p - '0');
		if (x > max)
			return NULL;
		p++;
	}
	if (p == start || (*start == '0' && p - start > 1))
		return NULL;
	*v = (uint32_t)x;
	return p;
}

/* Reads a lower-case absolute hostname up to the next space or end, as rr_name_to_text would
 * write it back: labels of 1 to 63 bytes of [a-z0-9-_], 255 octets in wire form at most, or
 * the root alone. Returns where it stopped, NULL when it is not one. */
static const char *rr_fast_name(const char *p, const char *end, char *out)
{
	const char *start = p;
	size_t label = 0, n;

	if (p < end && *p == '.') {
		p++;
		if (p < end && *p != ' ')
			return NULL;
		memcpy(out, ".", 2);
		return p;
	}
	for (; p < end && *p != ' '; p++) {
		if (*p == '.') {
			if (label == 0)
				return NULL;
			label = 0;
		} else if (!rr_hostname_byte((uint8_t)*p) || ++label > 63) {
			return NULL;
		}
	}
	/* Empty, or relative: zscanner would append the origin. */
	n = (size_t)(p - start);
	if (n == 0 || label != 0 || n > RR_FAST_NAME_TEXT_MAX)
		return NULL;
	memcpy(out, start, n);
	out[n] = '\0';
	return p;
}

/* A dotted quad exactly as rr_ntop4 writes it. */
static int rr_fast_a(const char *p, const char *end)
{
	uint32_t v;

	for (int i = 0; i < 4; i++) {
		if (i > 0) {
			if (p == end || *p != '.')
				return CC_EINVAL;
			p++;
		}
		p = rr_fast_uint(p, end, 255, &v);
		if (p == NULL)
			return CC_EINVAL;
	}
	return p == end ? 0 : CC_EINVAL;
}

/* An IPv6 address exactly as rr_ntop6 writes it: reading it and writing it back must give the
 * same bytes, which is the only way to be sure of RFC 5952's "::" and zero rules. */
static int rr_fast_aaaa(const char *p, const char *end)
{
	char text[INET6_ADDRSTRLEN], canon[INET6_ADDRSTRLEN];
	uint8_t a[16];
	size_t n = (size_t)(end - p);

	if (n == 0 || n >= sizeof(text))
		return CC_EINVAL;
	for (size_t i = 0; i < n; i++) {
		char c = p[i];

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || c == ':' || c == '.'))
			return CC_EINVAL;
	}
	memcpy(text, p, n);
	text[n] = '\0';
	if (inet_pton(AF_INET6, text, a) != 1)
		return CC_EINVAL;
	rr_ntop6(a, canon);
	return strcmp(text, canon) == 0 ? 0 : CC_EINVAL;
}

/* "keytag alg digest-type HEX" as rr_from_scanner writes it, with a digest type and length
 * it would take: its refusals and their messages stay its own. */
static int rr_fast_ds(const char *p, const char *end)
{
	uint32_t keytag, alg, dtype;
	size_t want;

	p = rr_fast_uint(p, end, 65535, &keytag);
	if (p == NULL || p == end || *p++ != ' ')
		return CC_EINVAL;
	p = rr_fast_uint(p, end, 255, &alg);
	if (p == NULL || p == end || *p++ != ' ')
		return CC_EINVAL;
	p = rr_fast_uint(p, end, 255, &dtype);
	if (p == NULL || p == end || *p++ != ' ')
		return CC_EINVAL;
	want = rr_ds_digest_len((uint8_t)dtype);
	if (want == 0 || (size_t)(end - p) != 2 * want)
		return CC_EINVAL;
	/* Lower-case hex too: clients write digests either way, and both read the same. */
	for (; p < end; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'A' && *p <= 'F') ||
		      (*p >= 'a' && *p <= 'f')))
			return CC_EINVAL;
	return 0;
}

/* One non-empty line [p, end), without its newline, into r, which is all zeros. */
static int rr_fast_line(const char *p, const char *end, struct rr *r)
{
	const char *type;
	size_t tlen, rlen;
	int ret;

	p = rr_fast_name(p, end, r->owner);
	if (p == NULL || p == end || *p++ != ' ')
		return CC_EINVAL;
	p = rr_fast_uint(p, end, RR_FAST_TTL_MAX, &r->ttl);
	if (p == NULL || end - p < 4 || memcmp(p, " IN ", 4) != 0)
		return CC_EINVAL;
	type = p + 4;
	for (p = type; p < end && *p != ' '; p++)
		;
	tlen = (size_t)(p - type);
	if (p == end)
		return CC_EINVAL;
	p++;
	rlen = (size_t)(end - p);
	if (rlen == 0 || rlen > RR_RDATA_MAX)
		return CC_EINVAL;

	if (tlen == 2 && memcmp(type, "NS", 2) == 0) {
		r->type = RR_NS;
		return rr_fast_name(p, end, r->rdata) == end ? 0 : CC_EINVAL;
	}
	if (tlen == 2 && memcmp(type, "DS", 2) == 0) {
		r->type = RR_DS;
		ret = rr_fast_ds(p, end);
	} else if (tlen == 1 && type[0] == 'A') {
		r->type = RR_A;
		ret = rr_fast_a(p, end);
	} else if (tlen == 4 && memcmp(type, "AAAA", 4) == 0) {
		r->type = RR_AAAA;
		ret = rr_fast_aaaa(p, end);
	} else {
		ret = CC_EINVAL;
	}
	/* Canonical rdata is its own presentation form, but for a DS digest's case. */
	if (ret == 0) {
		memcpy(r->rdata, p, rlen);
		if (r->type == RR_DS)
			for (size_t i = 0; i < rlen; i++)
				if (r->rdata[i] >= 'a' && r->rdata[i] <= 'f')
					r->rdata[i] = (char)(r->rdata[i] - 'a' + 'A');
	}
	return ret;
}

static _Thread_local size_t rr_fast_hits; /* texts this thread read on the fast path */

size_t rr_parse_fast_count(void)
{
	return rr_fast_hits;
}

static size_t rr_count_lines(const char *text, size_t len, size_t max)
{
	const char *p = text, *end = text + len, *nl;
	size_t n = 0;

	for (; p < end && n < max; n++) {
		nl = memchr(p, '\n', (size_t)(end - p));
		p = nl != NULL ? nl + 1 : end;
	}
	return n;
}

/* Canonical lines and empty lines only, appended to out. When any line is anything else, or
 * memory runs out, a negative code with out as it was: the text is zscanner's to read. */
static int rr_parse_fast(struct rr_set *out, const char *text, size_t len)
{
	const char *p = text, *end = text + len, *nl, *eol;
	size_t n0 = out->n;
	uint64_t line = 1;
	struct rr *r;
	int ret;

	/* One allocation for a usual text: a line is at most one record. Bounded, so that a
	 * hostile text of many short lines costs no more than it did line by line. */
	ret = rr_set_reserve(out, rr_count_lines(text, len, 128));
	if (ret < 0)
		return ret;
	for (; p < end; line++) {
		nl = memchr(p, '\n', (size_t)(end - p));
		eol = nl != NULL ? nl : end;
		if (eol != p) {
			ret = rr_set_room(out);
			if (ret < 0)
				goto out;
			/* Built in place; cleared as rr_from_scanner clears its record, so the
			 * two paths give equal records to the last byte. */
			r = &out->v[out->n++];
			memset(r, 0, sizeof(*r));
			ret = rr_fast_line(p, eol, r);
			if (ret < 0)
				goto out;
			r->line = rr_line16(line);
		}
		p = nl != NULL ? nl + 1 : end;
	}
	rr_fast_hits++;
	ret = 0;
out:
	if (ret < 0)
		out->n = n0;
	return ret;
}

int rr_parse(struct rr_set *out, const char *text, size_t len, struct cc_err *e)
{
	/* Empty and oversized texts go to rr_parse_scanner, which answers them at once. */
	if (len > 0 && len <= RR_TEXT_MAX && rr_parse_fast(out, text, len) == 0)
		return 0;
	return rr_parse_scanner(out, text, len, e);
}

int rr_parse_scanner(struct rr_set *out, const char *text, size_t len, struct cc_err *e)
{
	zs_scanner_t *s = NULL;
	struct rr_lines lc = {text, len, 0, 1};
	size_t n0 = out->n, skip;
	int ret;
	char where[32], tname[16];
	uint64_t start;
	struct rr r;

	if (len > RR_TEXT_MAX) {
		ret = cc_fail(e, CC_ETOOBIG, "text is %zu bytes, over the limit of %d", len,
			      RR_TEXT_MAX);
		goto out;
	}
	if (len == 0) {
		ret = 0;
		goto out;
	}
	ret = rr_check_directives(text, len, e);
	if (ret < 0)
		goto out;
	/* zscanner takes a blank or comment line that starts with white space, before any
	 * record, for a record without an owner; so it only sees text from the first record's
	 * line on, and counts lines from there. */
	rr_lines_start(&lc);
	if (lc.pos == len) {
		ret = 0;
		goto out;
	}
	for (skip = lc.pos; skip > 0 && text[skip - 1] != '\n'; skip--)
		;
	lc.base = text + skip;
	lc.len = len - skip;
	lc.pos -= skip;

	/* The scanner is about 200 KB: the thread's own, reset (see rr_scanner). */
	s = rr_scanner(e);
	if (s == NULL) {
		ret = e ? e->code : CC_ENOMEM;
		goto out;
	}
	if (zs_set_input_string(s, lc.base, lc.len) != 0) {
		ret = cc_fail(e, CC_EINVAL, "zscanner: %s", zs_strerror(s->error.code));
		goto out;
	}
	s->line_counter = lc.line;

	for (;;) {
		start = rr_lines_start(&lc);
		if (zs_parse_record(s) != 0 || s->state == ZS_STATE_ERROR) {
			ret = cc_fail(e, CC_EINVAL, "line %" PRIu64 ": %s", s->line_counter,
				      zs_strerror(s->error.code));
			goto out;
		}
		if (s->state == ZS_STATE_INCLUDE) {
			ret = cc_fail(e, CC_EINVAL,
				      "line %" PRIu64 ": directive $INCLUDE not allowed",
				      s->line_counter);
			goto out;
		}
		if (s->state != ZS_STATE_DATA)
			break;
		if (start > s->line_counter)
			start = s->line_counter;
		rr_where(where, sizeof(where), start);
		if (s->r_class != RR_CLASS_IN) {
			ret = cc_fail(e, CC_EINVAL, "%s: class %u not allowed (IN only)", where,
				      (unsigned)s->r_class);
			goto out;
		}
		if (rr_type_str(s->r_type) == NULL) {
			rr_other_type_str(s->r_type, tname, sizeof(tname));
			ret =
			    cc_fail(e, CC_EINVAL, "%s: type %s not allowed (NS, DS, A, AAAA only)",
				    where, tname);
			goto out;
		}
		ret = rr_from_scanner(s, &r, 1, where, e);
		if (ret < 0)
			goto out;
		r.line = rr_line16(start);
		ret = rr_set_add(out, &r);
		if (ret < 0) {
			ret = cc_fail(e, ret, "out of memory");
			goto out;
		}
		rr_lines_end(&lc, s);
	}
	ret = 0;
out:
	/* All or nothing: a caller never sees half of a refused text. */
	if (ret < 0)
		out->n = n0;
	return ret;
}

int rr_scan_file(const char *path, rr_cb cb, void *ctx, struct cc_err *e)
{
	zs_scanner_t *s = NULL;
	struct rr_lines lc = {NULL, 0, 0, 1};
	int inited = 0, ret;
	char where[CC_ERR_MSG / 2];
	uint64_t start;
	struct rr r;

	s = malloc(sizeof(*s));
	if (s == NULL) {
		ret = cc_fail(e, CC_ENOMEM, "out of memory");
		goto out;
	}
	if (zs_init(s, ".", RR_CLASS_IN, RR_TTL_OMITTED) != 0) {
		ret = cc_fail(e, CC_ENOMEM, "zscanner: %s", zs_strerror(s->error.code));
		goto out;
	}
	inited = 1;
	if (zs_set_input_file(s, path) != 0) {
		ret = cc_fail(e, CC_EIO, "%s: %s", path, zs_strerror(s->error.code));
		goto out;
	}
	/* zscanner maps the whole file as one block, which is what line counting walks. */
	lc.base = s->input.start;
	lc.len = s->input.start ? (size_t)(s->input.end - s->input.start) : 0;

	for (;;) {
		start = rr_lines_start(&lc);
		if (zs_parse_record(s) != 0 || s->state == ZS_STATE_ERROR) {
			ret = cc_fail(e, CC_EINVAL, "%s: line %" PRIu64 ": %s", path,
				      s->line_counter, zs_strerror(s->error.code));
			goto out;
		}
		if (s->state == ZS_STATE_INCLUDE) {
			/* Following it would read a file the caller never named. */
			ret = cc_fail(e, CC_EINVAL, "%s: line %" PRIu64 ": $INCLUDE not supported",
				      path, s->line_counter);
			goto out;
		}
		if (s->state != ZS_STATE_DATA)
			break;
		if (s->r_owner_length <= 1 || s->r_class != RR_CLASS_IN ||
		    rr_type_str(s->r_type) == NULL) {
			rr_lines_end(&lc, s);
			continue;
		}
		if (start > s->line_counter)
			start = s->line_counter;
		snprintf(where, sizeof(where), "%s: line %" PRIu64, path, start);
		ret = rr_from_scanner(s, &r, 0, where, e);
		if (ret < 0)
			goto out;
		r.line = rr_line16(start);
		ret = cb(ctx, &r);
		if (ret != 0)
			goto out;
		rr_lines_end(&lc, s);
	}
	ret = 0;
out:
	if (inited)
		zs_deinit(s);
	free(s);
	return ret;
}

int rr_format(const struct rr *r, uint32_t ttl, struct cbuf *out)
{
	const char *type = rr_type_str(r->type);

	if (type == NULL)
		return CC_EINVAL;
	if (cbuf_printf(out, "%s %" PRIu32 " IN %s %s\n", r->owner, ttl, type, r->rdata) < 0)
		return CC_ENOMEM;
	return 0;
}

/* Reads presentation text (with \DDD and \c escapes) into labels. Returns -1 when the text is
 * not a name, so callers can order such strings apart instead of guessing. */
static int rr_dname_parse(const char *s, struct rr_dname *d)
{
	size_t pos = 0;

	d->n = 0;
	if (s[0] == '.' && s[1] == '\0')
		return 0;
	if (s[0] == '\0')
		return -1;
	while (*s) {
		size_t at = pos++, l = 0;

		if (d->n == (int)sizeof(d->lab) || pos >= sizeof(d->w))
			return -1;
		d->lab[d->n] = (uint8_t)at;
		while (*s && *s != '.') {
			unsigned c = (unsigned char)*s++;

			if (c == '\\') {
				if (s[0] >= '0' && s[0] <= '9' && s[1] >= '0' && s[1] <= '9' &&
				    s[2] >= '0' && s[2] <= '9') {
					c = (unsigned)(s[0] - '0') * 100 +
					    (unsigned)(s[1] - '0') * 10 + (unsigned)(s[2] - '0');
					s += 3;
					if (c > 255)
						return -1;
				} else if (*s) {
					c = (unsigned char)*s++;
				} else {
					return -1;
				}
			}
			/* Room is kept for the root label: the wire form is at most 255 bytes. */
			if (++l > 63 || pos + 2 >= sizeof(d->w))
				return -1;
			d->w[pos++] = rr_lower((uint8_t)c);
		}
		if (l == 0)
			return -1;
		d->w[at] = (uint8_t)l;
		d->n++;
		if (*s == '.')
			s++;
	}
	return 0;
}

static int rr_dname_cmp(const struct rr_dname *a, const struct rr_dname *b)
{
	int i = a->n - 1, j = b->n - 1;

	for (; i >= 0 && j >= 0; i--, j--) {
		const uint8_t *la = a->w + a->lab[i], *lb = b->w + b->lab[j];
		int c = memcmp(la + 1, lb + 1, la[0] < lb[0] ? la[0] : lb[0]);

		if (c != 0)
			return c < 0 ? -1 : 1;
		if (la[0] != lb[0])
			return la[0] < lb[0] ? -1 : 1;
	}
	return (i >= 0) - (j >= 0);
}

static int rr_sign(int v)
{
	return (v > 0) - (v < 0);
}

/* Length of s when it is a plain absolute hostname, as records hold them: lower-case letters,
 * digits, '-' and '_', labels of 1 to 63 bytes, a final dot, well under the 255-byte limit;
 * or "." alone. 0 for anything else. */
static size_t rr_plain_len(const char *s)
{
	size_t i, label = 0;

	if (s[0] == '.')
		return s[1] == '\0' ? 1 : 0;
	for (i = 0; s[i]; i++) {
		unsigned char c = (unsigned char)s[i];

		if (i >= 250)
			return 0;
		if (c == '.') {
			if (label == 0)
				return 0;
			label = 0;
		} else if (rr_hostname_byte(c)) {
			if (++label > 63)
				return 0;
		} else {
			return 0;
		}
	}
	return i > 0 && label == 0 ? i : 0;
}

/* rr_dname_cmp on plain names, read in place from the right. */
static int rr_plain_cmp(const char *a, size_t na, const char *b, size_t nb)
{
	/* ea, eb: the dot that ends the next label to compare; 0 when none is left. */
	size_t ea = na - 1, eb = nb - 1;

	while (ea > 0 && eb > 0) {
		size_t sa = ea, sb = eb, la, lb;
		int c;

		while (sa > 0 && a[sa - 1] != '.')
			sa--;
		while (sb > 0 && b[sb - 1] != '.')
			sb--;
		la = ea - sa;
		lb = eb - sb;
		c = memcmp(a + sa, b + sb, la < lb ? la : lb);
		if (c != 0)
			return c < 0 ? -1 : 1;
		if (la != lb)
			return la < lb ? -1 : 1;
		ea = sa ? sa - 1 : 0;
		eb = sb ? sb - 1 : 0;
	}
	return (ea > 0) - (eb > 0);
}

int rr_name_cmp(const char *a, const char *b)
{
	struct rr_dname da, db;
	size_t na, nb;
	int ba, bb;

	/* The same text is the same name (or the same non-name): no need to parse it. */
	if (strcmp(a, b) == 0)
		return 0;
	/* Names in records are plain: compared where they lie, without a copy. */
	na = rr_plain_len(a);
	nb = na ? rr_plain_len(b) : 0;
	if (na && nb)
		return rr_plain_cmp(a, na, b, nb);
	ba = rr_dname_parse(a, &da) < 0;
	bb = rr_dname_parse(b, &db) < 0;

	/* Strings that are not names sort after all names, among themselves by bytes, which keeps
	 * the order total for qsort whatever a caller hands in. */
	if (ba || bb)
		return ba != bb ? ba - bb : rr_sign(strcmp(a, b));
	return rr_dname_cmp(&da, &db);
}

int rr_name_under(const char *name, const char *zone)
{
	struct rr_dname dn, dz;
	int i;

	if (rr_dname_parse(name, &dn) < 0 || rr_dname_parse(zone, &dz) < 0 || dz.n > dn.n)
		return 0;
	for (i = 1; i <= dz.n; i++) {
		const uint8_t *ln = dn.w + dn.lab[dn.n - i], *lz = dz.w + dz.lab[dz.n - i];

		if (ln[0] != lz[0] || memcmp(ln + 1, lz + 1, ln[0]) != 0)
			return 0;
	}
	return 1;
}

static int rr_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return 16;
}

/* Splits "keytag alg digest-type HEX" into its numbers and the digest text. */
static int rr_ds_split(const char *s, unsigned long v[3], const char **digest)
{
	char *end;
	int i;

	for (i = 0; i < 3; i++) {
		if (*s < '0' || *s > '9')
			return -1;
		v[i] = strtoul(s, &end, 10);
		if (*end != ' ')
			return -1;
		s = end + 1;
	}
	*digest = s;
	return 0;
}

static int rr_ds_cmp(const char *a, const char *b)
{
	unsigned long va[3], vb[3];
	const char *ha, *hb;
	int i, bada, badb;

	if (strcmp(a, b) == 0)
		return 0;
	bada = rr_ds_split(a, va, &ha) < 0;
	badb = rr_ds_split(b, vb, &hb) < 0;

	if (bada || badb)
		return bada != badb ? bada - badb : rr_sign(strcmp(a, b));
	for (i = 0; i < 3; i++)
		if (va[i] != vb[i])
			return va[i] < vb[i] ? -1 : 1;
	/* Nibble by nibble equals byte by byte for whole bytes, and ignores hex case. */
	for (; *ha && *hb; ha++, hb++) {
		int x = rr_hexval(*ha), y = rr_hexval(*hb);

		if (x != y)
			return x < y ? -1 : 1;
	}
	return (*ha != '\0') - (*hb != '\0');
}

static int rr_addr_cmp(int af, const char *a, const char *b)
{
	unsigned char xa[16], xb[16];
	int bada, badb;

	if (strcmp(a, b) == 0)
		return 0;
	bada = inet_pton(af, a, xa) != 1;
	badb = inet_pton(af, b, xb) != 1;

	if (bada || badb)
		return bada != badb ? bada - badb : rr_sign(strcmp(a, b));
	return rr_sign(memcmp(xa, xb, af == AF_INET ? 4 : 16));
}

int rr_cmp(const struct rr *a, const struct rr *b)
{
	int c = rr_name_cmp(a->owner, b->owner), ta, tb;

	if (c != 0)
		return c;
	ta = rr_type_rank(a->type);
	tb = rr_type_rank(b->type);
	if (ta != tb)
		return ta < tb ? -1 : 1;
	switch (a->type) {
	case RR_NS:
		return rr_name_cmp(a->rdata, b->rdata);
	case RR_DS:
		return rr_ds_cmp(a->rdata, b->rdata);
	case RR_A:
		return rr_addr_cmp(AF_INET, a->rdata, b->rdata);
	case RR_AAAA:
		return rr_addr_cmp(AF_INET6, a->rdata, b->rdata);
	}
	return rr_sign(strcmp(a->rdata, b->rdata));
}

/* rr_cmp leaves the TTL out, as DNS identity does; qsort is not stable, so without the TTL as a
 * last key two records differing only in TTL could come out in either order, and the text
 * would differ between nodes. */
static int rr_qsort_cmp(const void *a, const void *b)
{
	const struct rr *x = a, *y = b;
	int c = rr_cmp(x, y);

	if (c != 0)
		return c;
	return (x->ttl > y->ttl) - (x->ttl < y->ttl);
}

static int rr_ptr_cmp(const void *a, const void *b)
{
	return rr_qsort_cmp(*(const struct rr *const *)a, *(const struct rr *const *)b);
}

#define RR_SORT_SMALL 32 /* sets up to this size are sorted by insertion */

/* Records are large and usually arrive in order already (rr_format's output, edited): check
 * that first, and otherwise sort pointers and move each record once. */
void rr_sort(struct rr_set *s)
{
	const struct rr **ptr;
	struct rr *v;
	size_t i;

	for (i = 1; i < s->n; i++)
		if (rr_qsort_cmp(&s->v[i - 1], &s->v[i]) > 0)
			break;
	if (i >= s->n)
		return;
	ptr = malloc(s->n * sizeof(*ptr));
	v = malloc(s->cap * sizeof(*v));
	if (ptr == NULL || v == NULL) {
		/* Sorting in place needs no memory. */
		free(ptr);
		free(v);
		qsort(s->v, s->n, sizeof(s->v[0]), rr_qsort_cmp);
		return;
	}
	for (i = 0; i < s->n; i++)
		ptr[i] = &s->v[i];
	if (s->n <= RR_SORT_SMALL) {
		/* A TLD's few records, one or two out of place (a line added at the end):
		 * insertion takes about one comparison per record; qsort several. */
		for (i = 1; i < s->n; i++) {
			const struct rr *x = ptr[i];
			size_t j = i;

			for (; j > 0 && rr_qsort_cmp(ptr[j - 1], x) > 0; j--)
				ptr[j] = ptr[j - 1];
			ptr[j] = x;
		}
	} else {
		qsort(ptr, s->n, sizeof(*ptr), rr_ptr_cmp);
	}
	for (i = 0; i < s->n; i++)
		v[i] = *ptr[i];
	free(ptr);
	free(s->v);
	s->v = v;
}

int rr_set_reserve(struct rr_set *s, size_t n)
{
	struct rr *v;

	if (n <= s->cap - s->n)
		return 0;
	if (n > ((size_t)-1) / sizeof(*v) - s->n)
		return CC_ENOMEM;
	v = realloc(s->v, (s->n + n) * sizeof(*v));
	if (v == NULL)
		return CC_ENOMEM;
	s->v = v;
	s->cap = s->n + n;
	return 0;
}

int rr_set_append(struct rr_set *s, const struct rr *v, size_t n)
{
	size_t cap = s->cap;
	struct rr *nv;

	/* Sets are mostly small (a name server's one or two addresses) and many are kept. */
	while (cap < s->n + n)
		cap = cap ? 2 * cap : s->n + n > 4 ? s->n + n : 4;
	if (cap > ((size_t)-1) / sizeof(*nv))
		return CC_ENOMEM;
	if (cap != s->cap) {
		if ((nv = realloc(s->v, cap * sizeof(*nv))) == NULL)
			return CC_ENOMEM;
		s->v = nv;
		s->cap = cap;
	}
	if (n)
		memcpy(s->v + s->n, v, n * sizeof(*v));
	s->n += n;
	return 0;
}

int rr_set_add(struct rr_set *s, const struct rr *r)
{
	struct rr copy;
	int ret;

	/* With room, one copy; a record is over 500 bytes. */
	if (s->n < s->cap) {
		s->v[s->n++] = *r;
		return 0;
	}
	/* r may point into s->v, which realloc can move. */
	copy = *r;
	ret = rr_set_room(s);
	if (ret < 0)
		return ret;
	s->v[s->n++] = copy;
	return 0;
}

void rr_set_shrink(struct rr_set *s)
{
	struct rr *v;

	if (s->cap == s->n || s->n == 0)
		return;
	/* Keeping the room on failure is harmless. */
	v = realloc(s->v, s->n * sizeof(*v));
	if (v == NULL)
		return;
	s->v = v;
	s->cap = s->n;
}

void rr_set_free(struct rr_set *s)
{
	free(s->v);
	s->v = NULL;
	s->n = s->cap = 0;
}
