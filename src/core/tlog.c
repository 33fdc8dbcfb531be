/* C2SP tlog-checkpoint and tlog-tiles formats.
 *
 * Every parser here accepts exactly what the matching writer produces, so that two nodes can
 * never disagree about which file or which checkpoint a string names. Writers append to the
 * caller's buffer and leave it as it was when they fail. */
#include "core/tlog.h"

#include <inttypes.h>
#include <sodium.h>
#include <string.h>

#include "core/dec.h"

#define TLOG_ROOT_B64 44 /* standard padded base64 of a 32-byte hash */

/* Origins are limited to printable ASCII: the spec recommends a schema-less URL, and refusing
 * everything else keeps the line unambiguous without a UTF-8 validator. */
static int origin_valid(const char *s, size_t len)
{
	size_t i;
	int ok = len > 0 && len <= TLOG_ORIGIN_MAX;

	for (i = 0; ok && i < len; i++)
		ok = (unsigned char)s[i] >= 0x20 && (unsigned char)s[i] <= 0x7e;
	return ok;
}

static int put_index(struct cbuf *out, uint64_t n)
{
	unsigned g[7]; /* 3-digit groups, least significant first; 2^64 has 20 digits */
	int i = 0, ret = 0;

	do {
		g[i++] = (unsigned)(n % 1000);
		n /= 1000;
	} while (n > 0);
	while (--i > 0) {
		ret = cbuf_printf(out, "x%03u/", g[i]);
		if (ret < 0)
			goto out;
	}
	ret = cbuf_printf(out, "%03u", g[0]);
out:
	return ret;
}

int tlog_tile_path(struct cbuf *out, int level, uint64_t n, unsigned w)
{
	size_t mark = out->len;
	int ret = 0;

	if (level < TLOG_LEVEL_ENTRIES || level > 63 || w < 1 || w > TLOG_TILE_WIDTH) {
		ret = CC_EINVAL;
		goto out;
	}
	if (level == TLOG_LEVEL_ENTRIES)
		ret = cbuf_puts(out, "tile/entries/");
	else
		ret = cbuf_printf(out, "tile/%d/", level);
	if (ret < 0)
		goto out;
	ret = put_index(out, n);
	if (ret < 0)
		goto out;
	if (w < TLOG_TILE_WIDTH)
		ret = cbuf_printf(out, ".p/%u", w);
out:
	if (ret < 0 && out->p != NULL) {
		out->len = mark;
		out->p[mark] = '\0';
	}
	return ret;
}

int tlog_tile_parse_path(const char *path, int *level, uint64_t *n, unsigned *w)
{
	const char *p = path;
	uint64_t v, idx = 0, g;
	size_t groups = 0;
	int lvl, k, x, ret = CC_EINVAL;

	if (strncmp(p, "tile/", 5) != 0)
		goto out;
	p += 5;
	if (strncmp(p, "entries/", 8) == 0) {
		lvl = TLOG_LEVEL_ENTRIES;
		p += 8;
	} else {
		k = dec_parse(p, strlen(p), 63, &v);
		if (k < 0 || p[k] != '/')
			goto out;
		lvl = (int)v;
		p += k + 1;
	}
	/* "x" groups say more follow; the first group may be zero only when it is the last. */
	for (;;) {
		x = *p == 'x';
		p += x;
		if (p[0] < '0' || p[0] > '9' || p[1] < '0' || p[1] > '9' || p[2] < '0' ||
		    p[2] > '9')
			goto out;
		g = (uint64_t)(p[0] - '0') * 100 + (uint64_t)(p[1] - '0') * 10 +
		    (uint64_t)(p[2] - '0');
		p += 3;
		if (groups == 0 && x && g == 0)
			goto out;
		if (idx > (UINT64_MAX - g) / 1000)
			goto out;
		idx = idx * 1000 + g;
		groups++;
		if (!x)
			break;
		if (*p++ != '/')
			goto out;
	}
	v = TLOG_TILE_WIDTH;
	if (*p != '\0') {
		if (strncmp(p, ".p/", 3) != 0)
			goto out;
		p += 3;
		k = dec_parse(p, strlen(p), TLOG_TILE_WIDTH - 1, &v);
		if (k < 0 || v == 0 || p[k] != '\0')
			goto out;
	}
	*level = lvl;
	*n = idx;
	*w = (unsigned)v;
	ret = 0;
out:
	return ret;
}

int tlog_checkpoint_text(struct cbuf *out, const char *origin, uint64_t size,
			 const unsigned char root[MERKLE_HASH])
{
	char b64[sodium_base64_ENCODED_LEN(MERKLE_HASH, sodium_base64_VARIANT_ORIGINAL)];
	int ret = CC_EINVAL;

	if (!origin_valid(origin, strlen(origin)))
		goto out;
	sodium_bin2base64(b64, sizeof(b64), root, MERKLE_HASH, sodium_base64_VARIANT_ORIGINAL);
	ret = cbuf_printf(out, "%s\n%" PRIu64 "\n%s\n", origin, size, b64);
out:
	return ret;
}

/* Decodes a root hash line, then insists the text is exactly what the writer would emit: that
 * refuses stray or missing padding, non-zero trailing bits and the URL-safe alphabet at once. */
static int root_decode(const char *line, size_t len, unsigned char h[MERKLE_HASH])
{
	char canon[TLOG_ROOT_B64 + 1];
	size_t hlen = 0;
	int ret = -1;

	if (len != TLOG_ROOT_B64)
		goto out;
	if (sodium_base642bin(h, MERKLE_HASH, line, len, NULL, &hlen, NULL,
			      sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    hlen != MERKLE_HASH)
		goto out;
	sodium_bin2base64(canon, sizeof(canon), h, MERKLE_HASH, sodium_base64_VARIANT_ORIGINAL);
	if (memcmp(canon, line, TLOG_ROOT_B64) != 0)
		goto out;
	ret = 0;
out:
	return ret;
}

/* Finds the line starting at *pos; returns its length and moves *pos past its '\n', or -1 when
 * the text ends without one. */
static long next_line(const char *text, size_t len, size_t *pos, const char **line)
{
	const char *nl;
	long ret = -1;

	if (*pos >= len)
		goto out;
	nl = memchr(text + *pos, '\n', len - *pos);
	if (nl == NULL)
		goto out;
	*line = text + *pos;
	ret = nl - *line;
	*pos += (size_t)ret + 1;
out:
	return ret;
}

int tlog_checkpoint_parse(const char *text, size_t len, char *origin, uint64_t *size,
			  unsigned char root[MERKLE_HASH], struct cc_err *e)
{
	unsigned char h[MERKLE_HASH];
	const char *line = NULL, *o;
	size_t pos = 0, olen;
	uint64_t v;
	long n;
	int ret = 0;

	n = next_line(text, len, &pos, &line);
	if (n < 0) {
		ret = cc_fail(e, CC_EINVAL, "checkpoint: no origin line ending in a newline");
		goto out;
	}
	if (!origin_valid(line, (size_t)n)) {
		ret = cc_fail(e, CC_EINVAL,
			      "checkpoint: origin must be 1 to %d printable ASCII characters",
			      TLOG_ORIGIN_MAX);
		goto out;
	}
	o = line;
	olen = (size_t)n;

	n = next_line(text, len, &pos, &line);
	if (n < 0) {
		ret = cc_fail(e, CC_EINVAL, "checkpoint: no tree size line ending in a newline");
		goto out;
	}
	if (dec_parse(line, (size_t)n, UINT64_MAX, &v) != n) {
		ret = cc_fail(e, CC_EINVAL,
			      "checkpoint: tree size must be a decimal number below 2^64 with no "
			      "leading zeros");
		goto out;
	}

	n = next_line(text, len, &pos, &line);
	if (n < 0) {
		ret = cc_fail(e, CC_EINVAL, "checkpoint: no root hash line ending in a newline");
		goto out;
	}
	if (root_decode(line, (size_t)n, h) < 0) {
		ret = cc_fail(e, CC_EINVAL,
			      "checkpoint: root hash must be 32 bytes in standard padded base64");
		goto out;
	}

	/* Extension lines carry nothing Concord uses, but the spec forbids empty ones. */
	while (pos < len) {
		n = next_line(text, len, &pos, &line);
		if (n <= 0) {
			ret = cc_fail(e, CC_EINVAL,
				      "checkpoint: extension lines must be non-empty and end in a "
				      "newline");
			goto out;
		}
	}

	memcpy(origin, o, olen);
	origin[olen] = '\0';
	*size = v;
	memcpy(root, h, MERKLE_HASH);
out:
	return ret;
}

int tlog_tile_hashes(const struct merkle_tree *t, int level, uint64_t n, unsigned w,
		     struct cbuf *out)
{
	uint64_t first;
	unsigned l;
	int ret = 0;

	if (level < 0 || level > 63 || w < 1 || w > TLOG_TILE_WIDTH) {
		ret = CC_EINVAL;
		goto out;
	}
	/* A tile above level 7 would hold subtrees of 2^64 leaves or more. */
	if (level >= 64 / TLOG_TILE_HEIGHT || n > (UINT64_MAX - w) / TLOG_TILE_WIDTH) {
		ret = CC_ENOENT;
		goto out;
	}
	l = (unsigned)level * TLOG_TILE_HEIGHT;
	first = n * TLOG_TILE_WIDTH;
	if (first + w > t->count[l]) {
		ret = CC_ENOENT;
		goto out;
	}
	ret = cbuf_put(out, t->level[l] + (size_t)first * MERKLE_HASH, (size_t)w * MERKLE_HASH);
out:
	return ret;
}

int tlog_bundle_append(struct cbuf *b, const void *entry, size_t len)
{
	unsigned char be[2];
	int ret = 0;

	if (len > TLOG_ENTRY_MAX) {
		ret = CC_ETOOBIG;
		goto out;
	}
	be[0] = (unsigned char)(len >> 8);
	be[1] = (unsigned char)len;
	/* Reserve once so the prefix is never written without its entry: the puts below cannot
	 * fail after it. */
	ret = cbuf_reserve(b, 2 + len);
	if (ret < 0)
		goto out;
	cbuf_put(b, be, 2);
	cbuf_put(b, entry, len);
out:
	return ret;
}

int tlog_bundle_next(const unsigned char *b, size_t len, size_t *off, const unsigned char **entry,
		     size_t *elen)
{
	size_t l;
	int ret = 0;

	if (*off == len)
		goto out;
	if (*off > len || len - *off < 2) {
		ret = CC_EINVAL;
		goto out;
	}
	l = (size_t)b[*off] << 8 | b[*off + 1];
	if (len - *off - 2 < l) {
		ret = CC_EINVAL;
		goto out;
	}
	*entry = b + *off + 2;
	*elen = l;
	*off += 2 + l;
	ret = 1;
out:
	return ret;
}

int tlog_witness_request(struct cbuf *out, uint64_t old, const unsigned char (*proof)[MERKLE_HASH],
			 size_t np, const char *ck, size_t cklen)
{
	char b64[TLOG_ROOT_B64 + 1];
	size_t mark = out->len;
	int ret = CC_EINVAL;

	if (np > TLOG_WITNESS_PROOF_MAX)
		goto out;
	ret = cbuf_printf(out, "old %" PRIu64 "\n", old);
	for (size_t i = 0; ret == 0 && i < np; i++) {
		sodium_bin2base64(b64, sizeof(b64), proof[i], MERKLE_HASH,
				  sodium_base64_VARIANT_ORIGINAL);
		ret = cbuf_printf(out, "%s\n", b64);
	}
	if (ret == 0)
		ret = cbuf_put(out, "\n", 1);
	if (ret == 0)
		ret = cbuf_put(out, ck, cklen);
	if (ret < 0 && out->p != NULL) {
		out->len = mark;
		out->p[mark] = '\0';
	}
out:
	return ret;
}

int tlog_witness_parse(const char *body, size_t len, uint64_t *old,
		       unsigned char proof[TLOG_WITNESS_PROOF_MAX][MERKLE_HASH], size_t *np,
		       size_t *ck_at, struct cc_err *e)
{
	const char *line = NULL;
	size_t pos = 0, k = 0;
	uint64_t v = 0;
	long n;
	int ret = 0;

	n = next_line(body, len, &pos, &line);
	if (n < 5 || memcmp(line, "old ", 4) != 0 ||
	    dec_parse(line + 4, (size_t)n - 4, UINT64_MAX, &v) != n - 4) {
		ret = cc_fail(e, CC_EINVAL,
			      "witness request: the first line must be \"old <size>\", a decimal "
			      "number with no leading zeros");
		goto out;
	}
	for (;;) {
		n = next_line(body, len, &pos, &line);
		if (n < 0) {
			ret =
			    cc_fail(e, CC_EINVAL, "witness request: no empty line after the proof");
			goto out;
		}
		if (n == 0)
			break;
		if (k == TLOG_WITNESS_PROOF_MAX) {
			ret = cc_fail(e, CC_EINVAL, "witness request: more than %d proof lines",
				      TLOG_WITNESS_PROOF_MAX);
			goto out;
		}
		if (root_decode(line, (size_t)n, proof[k]) < 0) {
			ret = cc_fail(e, CC_EINVAL,
				      "witness request: proof line %zu is not a 32-byte hash in "
				      "standard padded base64",
				      k + 1);
			goto out;
		}
		k++;
	}
	*old = v;
	*np = k;
	*ck_at = pos;
out:
	return ret;
}

int tlog_size_text(struct cbuf *out, uint64_t size)
{
	return cbuf_printf(out, "%" PRIu64 "\n", size);
}

int tlog_size_parse(const char *text, size_t len, uint64_t *size)
{
	uint64_t v;
	int ret = CC_EINVAL;

	if (len < 2 || text[len - 1] != '\n' ||
	    dec_parse(text, len - 1, UINT64_MAX, &v) != (int)(len - 1))
		goto out;
	*size = v;
	ret = 0;
out:
	return ret;
}
