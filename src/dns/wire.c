#include "dns/wire.h"

#include <string.h>

static uint8_t lower(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? (uint8_t)(c + ('a' - 'A')) : c;
}

static int is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

/* Reads one character of a label at *sp, escapes resolved; advances *sp. Returns the octet
 * or -1. */
static int text_octet(const unsigned char **sp)
{
	const unsigned char *s = *sp;
	int v;

	if (*s != '\\') {
		if (*s < 0x21 || *s > 0x7e)
			return -1;
		*sp = s + 1;
		return *s;
	}
	if (is_digit(s[1])) {
		if (!is_digit(s[2]) || !is_digit(s[3]))
			return -1;
		v = (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
		if (v > 255)
			return -1;
		*sp = s + 4;
		return v;
	}
	/* "\ " is the usual way to write a space; other bytes need \DDD. */
	if (s[1] < 0x20 || s[1] > 0x7e)
		return -1;
	*sp = s + 2;
	return s[1];
}

int dns_name_from_text(uint8_t out[DNS_NAME_MAX], const char *text)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t len = 0; /* octets written */

	if (s == NULL || *s == '\0')
		return CC_EINVAL;
	if (s[0] == '.' && s[1] == '\0') {
		out[0] = 0;
		return 1;
	}
	for (;;) {
		size_t lab = len++; /* where this label's length octet goes */
		unsigned n = 0;

		while (*s != '.') {
			int c;

			/* A name that runs out before a final dot is relative. */
			if (*s == '\0')
				return CC_EINVAL;
			c = text_octet(&s);
			/* The octet goes at len, and the root label must still fit after it. */
			if (c < 0 || n == DNS_LABEL_MAX || len + 2 > DNS_NAME_MAX)
				return CC_EINVAL;
			out[len++] = lower((uint8_t)c);
			n++;
		}
		if (n == 0)
			return CC_EINVAL;
		out[lab] = (uint8_t)n;
		if (*++s == '\0')
			break;
	}
	out[len++] = 0;
	return (int)len;
}

int dns_name_check(const uint8_t *p, size_t len)
{
	size_t off = 0; /* offset of the next length octet */

	for (;;) {
		if (off >= len)
			return CC_EINVAL;
		if (p[off] == 0)
			return (int)off + 1;
		/* 64..255 are compression pointers and the obsolete extended label types. */
		if (p[off] > DNS_LABEL_MAX)
			return CC_EINVAL;
		off += 1u + p[off];
		if (off + 1 > DNS_NAME_MAX)
			return CC_EINVAL;
	}
}

static int is_special(uint8_t c)
{
	return c == '.' || c == '\\' || c == '"' || c == '(' || c == ')' || c == ';' || c == '@' ||
	       c == '$';
}

int dns_name_to_text(const uint8_t *w, char *out, size_t cap)
{
	size_t pos = 0, off = 0;
	int ret = CC_ETOOBIG;

	if (cap > 0)
		out[0] = '\0';
	if (dns_name_check(w, DNS_NAME_MAX) < 0)
		return CC_EINVAL;
	if (w[0] == 0) {
		if (cap < 2)
			goto out;
		out[pos++] = '.';
	}
	while (w[off] != 0) {
		size_t n = w[off++];

		for (; n > 0; n--, off++) {
			uint8_t c = w[off];
			size_t k = c < 0x21 || c > 0x7e ? 4 : is_special(c) ? 2 : 1;

			/* The octet's text, the dot that ends its label and the NUL must fit. */
			if (pos + k + 2 > cap)
				goto out;
			if (k == 4) {
				out[pos++] = '\\';
				out[pos++] = (char)('0' + c / 100);
				out[pos++] = (char)('0' + c / 10 % 10);
				out[pos++] = (char)('0' + c % 10);
			} else {
				if (k == 2)
					out[pos++] = '\\';
				out[pos++] = (char)c;
			}
		}
		if (pos + 2 > cap)
			goto out;
		out[pos++] = '.';
	}
	out[pos] = '\0';
	ret = (int)pos;
out:
	if (ret < 0 && cap > 0)
		out[0] = '\0';
	return ret;
}

size_t dns_name_len(const uint8_t *w)
{
	size_t off = 0;

	while (w[off] != 0)
		off += 1u + w[off];
	return off + 1;
}

unsigned dns_name_labels(const uint8_t *w)
{
	unsigned n = 0;

	for (; *w != 0; w += 1u + *w)
		n++;
	return n;
}

/* Offsets of a valid name's labels, left to right; a 255-octet name has at most 127. */
static unsigned label_offsets(const uint8_t *w, uint8_t off[128])
{
	unsigned n = 0;
	size_t i = 0;

	while (w[i] != 0) {
		off[n++] = (uint8_t)i;
		i += 1u + w[i];
	}
	return n;
}

static int label_cmp(const uint8_t *a, const uint8_t *b)
{
	unsigned la = a[0], lb = b[0], n = la < lb ? la : lb;

	for (unsigned i = 1; i <= n; i++) {
		uint8_t x = lower(a[i]), y = lower(b[i]);

		if (x != y)
			return x < y ? -1 : 1;
	}
	return (la > lb) - (la < lb);
}

int dns_name_cmp(const uint8_t *a, const uint8_t *b)
{
	uint8_t oa[128], ob[128];
	unsigned na = label_offsets(a, oa), nb = label_offsets(b, ob);

	while (na > 0 && nb > 0) {
		int r = label_cmp(a + oa[--na], b + ob[--nb]);

		if (r != 0)
			return r;
	}
	return (na > nb) - (na < nb);
}

int dns_name_is_below(const uint8_t *name, const uint8_t *zone)
{
	size_t nl = dns_name_len(name), zl = dns_name_len(zone), off = 0;

	if (zl > nl)
		return 0;
	while (nl - off > zl)
		off += 1u + name[off];
	/* Landing past the suffix means it does not start on a label boundary. */
	if (nl - off != zl)
		return 0;
	/* Length octets are at most 63, below 'A', so lower() leaves them alone and a
	 * positional match means the same labels. */
	for (size_t i = 0; i < zl; i++)
		if (lower(name[off + i]) != lower(zone[i]))
			return 0;
	return 1;
}

const uint8_t *dns_name_parent(const uint8_t *w)
{
	return w[0] == 0 ? NULL : w + 1 + w[0];
}

void dns_name_lower(uint8_t *w)
{
	while (*w != 0) {
		uint8_t n = *w++;

		for (; n > 0; n--, w++)
			*w = lower(*w);
	}
}

size_t dns_name_skip(const uint8_t *msg, size_t len, size_t off)
{
	size_t start = off;

	while (off < len && off - start < DNS_NAME_MAX) {
		uint8_t c = msg[off];

		if (c == 0)
			return off + 1;
		if ((c & 0xc0) == 0xc0)
			return len - off >= 2 ? off + 2 : 0;
		if (c > DNS_LABEL_MAX)
			return 0;
		off += 1u + c;
	}
	return 0;
}
