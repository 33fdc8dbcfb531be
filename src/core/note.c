/* C2SP signed notes, Ed25519 only, parsed strictly.
 *
 * Strictness is the point: a note is what members sign and what the log keeps, so two
 * implementations must agree on every byte. Anything the spec leaves loose (non-canonical
 * base64, duplicate signatures, other signature types) is refused rather than ignored, so
 * that note_format(note_parse(x)) == x for every accepted x. */
#include "core/note.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define SIG_PREFIX     "\xe2\x80\x94 " /* U+2014 EM DASH, then a space */
#define SIG_PREFIX_LEN 4
#define ALG_ED25519    0x01
#define SIG_BLOB_LEN   68 /* key id (4) || Ed25519 signature (64) */
#define SIG_B64_LEN    92
#define COSIG_BLOB_LEN 76 /* key id (4) || timestamp (8) || Ed25519 signature (64) */
#define COSIG_B64_LEN  104
#define ALG_COSIG_V1   0x04 /* c2sp.org/tlog-cosignature, Ed25519 */
#define VKEY_BLOB_LEN  33   /* 0x01 || Ed25519 public key (32) */
#define VKEY_B64_LEN   44
/* The shortest signature line: dash, space, 1-byte name, space, base64, newline. */
#define SIG_LINE_MIN (SIG_PREFIX_LEN + 1 + 1 + SIG_B64_LEN + 1)
/* A text longer than this cannot be signed into a note of at most NOTE_MAX_SIZE bytes. */
#define TEXT_MAX (NOTE_MAX_SIZE - 1 - SIG_LINE_MIN)

/* Decodes the UTF-8 sequence at p; returns its length (1..4), or 0 when it is malformed,
 * overlong, a surrogate or beyond U+10FFFF. */
static size_t utf8_decode(const unsigned char *p, size_t n, uint32_t *cp)
{
	unsigned char c = p[0];
	unsigned char lo = 0x80, hi = 0xbf;
	size_t need, i;
	uint32_t v;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		need = 1;
		v = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		need = 2;
		v = c & 0x0f;
		if (c == 0xe0)
			lo = 0xa0; /* overlong */
		else if (c == 0xed)
			hi = 0x9f; /* surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		need = 3;
		v = c & 0x07;
		if (c == 0xf0)
			lo = 0x90; /* overlong */
		else if (c == 0xf4)
			hi = 0x8f; /* beyond U+10FFFF */
	} else {
		return 0;
	}
	if (n < need + 1)
		return 0;
	for (i = 1; i <= need; i++) {
		if (p[i] < lo || p[i] > hi)
			return 0;
		v = (v << 6) | (p[i] & 0x3f);
		lo = 0x80;
		hi = 0xbf;
	}
	*cp = v;
	return need + 1;
}

/* Unicode White_Space code points: the spec forbids every one of them in key names,
 * not just ASCII space, because a name must survive being copied from a document. */
static int is_unicode_space(uint32_t c)
{
	return (c >= 0x09 && c <= 0x0d) || c == 0x20 || c == 0x85 || c == 0xa0 || c == 0x1680 ||
	       (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f ||
	       c == 0x205f || c == 0x3000;
}

/* Checks a key name of n bytes; on failure sets *why to the reason. */
static int name_check(const char *s, size_t n, const char **why)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i, k;
	uint32_t c;

	if (n == 0) {
		*why = "empty key name";
		return 0;
	}
	if (n > NOTE_NAME_MAX) {
		*why = "key name longer than 63 bytes";
		return 0;
	}
	for (i = 0; i < n; i += k) {
		k = utf8_decode(p + i, n - i, &c);
		if (k == 0) {
			*why = "key name is not valid UTF-8";
			return 0;
		}
		if (c == '+') {
			*why = "key name contains '+'";
			return 0;
		}
		if (is_unicode_space(c)) {
			*why = "key name contains a space";
			return 0;
		}
		if (c < 0x20 || (c >= 0x7f && c <= 0x9f)) {
			*why = "key name contains a control character";
			return 0;
		}
	}
	return 1;
}

int note_name_valid(const char *name)
{
	const char *why;

	if (name == NULL)
		return 0;
	return name_check(name, strnlen(name, NOTE_NAME_MAX + 1), &why);
}

static uint32_t get_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put_be32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

/* Decodes outlen bytes from their canonical padded base64 spelling and from nothing else, so
 * that each byte string has one accepted spelling. */
/* Value of a base64 character (standard alphabet), -1 for any other byte. */
static int b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	return c == '+' ? 62 : c == '/' ? 63 : -1;
}

/* Strict base64 (standard alphabet, padded) of exactly outlen bytes: the one spelling that
 * encodes them, so unused bits are zero and padding is exact. Only for public data (keys
 * and signatures in notes); it is not constant-time, unlike the decoding of secret keys. */
static int b64_decode_exact(unsigned char *out, size_t outlen, const char *s, size_t slen)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t full = outlen / 3, rest = outlen % 3, o = 0, i = 0;
	int v[4];

	if (slen != (full + (rest != 0)) * 4)
		return -1;
	for (size_t g = 0; g < full; g++, i += 4) {
		for (int k = 0; k < 4; k++)
			if ((v[k] = b64_value(p[i + k])) < 0)
				return -1;
		out[o++] = (unsigned char)(v[0] << 2 | v[1] >> 4);
		out[o++] = (unsigned char)((v[1] & 15) << 4 | v[2] >> 2);
		out[o++] = (unsigned char)((v[2] & 3) << 6 | v[3]);
	}
	if (rest == 0)
		return 0;
	/* The last group: 1 byte is two characters and "==", 2 bytes three and "=". */
	for (int k = 0; k < (int)rest + 1; k++)
		if ((v[k] = b64_value(p[i + k])) < 0)
			return -1;
	if (rest == 1) {
		if ((v[1] & 15) != 0 || p[i + 2] != '=' || p[i + 3] != '=')
			return -1;
		out[o] = (unsigned char)(v[0] << 2 | v[1] >> 4);
		return 0;
	}
	if ((v[2] & 3) != 0 || p[i + 3] != '=')
		return -1;
	out[o++] = (unsigned char)(v[0] << 2 | v[1] >> 4);
	out[o] = (unsigned char)((v[1] & 15) << 4 | v[2] >> 2);
	return 0;
}

/* SHA-256(name || "\n" || alg || pub)[:4]: the key id of a key of signature type alg. */
static uint32_t key_id_of(const char *name, unsigned char alg, const unsigned char pub[32])
{
	crypto_hash_sha256_state st;
	unsigned char h[crypto_hash_sha256_BYTES];
	const unsigned char sep[2] = {'\n', alg};

	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, (const unsigned char *)name, strlen(name));
	crypto_hash_sha256_update(&st, sep, sizeof(sep));
	crypto_hash_sha256_update(&st, pub, 32);
	crypto_hash_sha256_final(&st, h);
	return get_be32(h);
}

uint32_t note_key_id(const char *name, const unsigned char pub[32])
{
	return key_id_of(name, ALG_ED25519, pub);
}

int note_signer_from_seed(struct note_signer *s, const char *name, const unsigned char seed[32])
{
	int ret;

	memset(s, 0, sizeof(*s));
	if (!note_name_valid(name)) {
		ret = CC_EINVAL;
		goto out;
	}
	if (crypto_sign_ed25519_seed_keypair(s->key.pub, s->sk, seed) != 0) {
		ret = CC_EINVAL;
		goto out;
	}
	memcpy(s->key.name, name, strlen(name) + 1);
	s->key.id = note_key_id(name, s->key.pub);
	ret = 0;
out:
	if (ret < 0)
		sodium_memzero(s, sizeof(*s));
	return ret;
}

/* Lowercase only: we write lowercase, and one spelling per key keeps keys comparable as
 * strings in configuration and logs. */
static int parse_hex8(const char *s, uint32_t *v)
{
	uint32_t x = 0;
	int i;

	for (i = 0; i < 8; i++) {
		char c = s[i];

		if (c >= '0' && c <= '9')
			x = x << 4 | (uint32_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			x = x << 4 | (uint32_t)(c - 'a' + 10);
		else
			return -1;
	}
	*v = x;
	return 0;
}

int note_vkey_parse(struct note_key *k, const char *s, size_t len, struct cc_err *e)
{
	unsigned char blob[VKEY_BLOB_LEN];
	const char *plus, *hex, *b64, *why;
	size_t namelen;
	uint32_t id, want;
	int ret;

	memset(k, 0, sizeof(*k));
	plus = memchr(s, '+', len);
	if (plus == NULL) {
		ret = cc_fail(e, CC_EINVAL, "verifier key: not of the form name+keyid+key");
		goto out;
	}
	namelen = (size_t)(plus - s);
	if (!name_check(s, namelen, &why)) {
		ret = cc_fail(e, CC_EINVAL, "verifier key: %s", why);
		goto out;
	}
	hex = plus + 1;
	if (len - namelen - 1 < 9 || hex[8] != '+' || parse_hex8(hex, &id) < 0) {
		ret = cc_fail(e, CC_EINVAL, "verifier key: key id is not 8 lowercase hex digits");
		goto out;
	}
	b64 = hex + 9;
	if (b64_decode_exact(blob, sizeof(blob), b64, len - namelen - 10) < 0) {
		ret =
		    cc_fail(e, CC_EINVAL,
			    "verifier key: key is not the base64 of 33 bytes (0x01, Ed25519 key)");
		goto out;
	}
	if (blob[0] != ALG_ED25519) {
		ret = cc_fail(e, CC_EINVAL,
			      "verifier key: signature type 0x%02x is not supported (only 0x01, "
			      "Ed25519)",
			      blob[0]);
		goto out;
	}
	/* Refusing small-order and non-canonical points here gives the operator a clear
	 * message at configuration time instead of every signature failing later. */
	if (!crypto_core_ed25519_is_valid_point(blob + 1)) {
		ret = cc_fail(e, CC_EINVAL, "verifier key: not a valid Ed25519 public key");
		goto out;
	}
	memcpy(k->name, s, namelen);
	k->name[namelen] = '\0';
	memcpy(k->pub, blob + 1, 32);
	want = note_key_id(k->name, k->pub);
	if (id != want) {
		ret = cc_fail(e, CC_EINVAL,
			      "verifier key: key id %08x does not match the key (%08x)", id, want);
		goto out;
	}
	k->id = id;
	ret = 0;
out:
	if (ret < 0)
		memset(k, 0, sizeof(*k));
	return ret;
}

int note_vkey_format(const struct note_key *k, struct cbuf *out)
{
	unsigned char blob[VKEY_BLOB_LEN];
	char b64[VKEY_B64_LEN + 1];

	if (!note_name_valid(k->name))
		return CC_EINVAL;
	blob[0] = ALG_ED25519;
	memcpy(blob + 1, k->pub, 32);
	sodium_bin2base64(b64, sizeof(b64), blob, sizeof(blob), sodium_base64_VARIANT_ORIGINAL);
	return cbuf_printf(out, "%s+%08x+%s", k->name, k->id, b64);
}

/* Checks UTF-8 and control characters over s, numbering lines from line0 for messages. */
static int scan_chars(const char *s, size_t len, size_t line0, struct cc_err *e)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i, k, line = line0;
	uint32_t c;

	for (i = 0; i < len; i += k) {
		/* Notes are nearly all printable ASCII: eight bytes at a time while no byte is
		 * under 0x20 or over 0x7f; only the rest needs decoding. */
		if (len - i >= 8) {
			uint64_t w;

			memcpy(&w, p + i, 8);
			if ((((w - 0x2020202020202020ULL) & ~w) | w) & 0x8080808080808080ULL) {
				/* some byte below, fall through to one at a time */
			} else {
				k = 8;
				continue;
			}
		}
		if (p[i] >= 0x20 && p[i] < 0x80) {
			k = 1;
			continue;
		}
		if (p[i] == '\n') {
			line++;
			k = 1;
			continue;
		}
		k = utf8_decode(p + i, len - i, &c);
		if (k == 0)
			return cc_fail(e, CC_EINVAL, "note: line %zu: invalid UTF-8 at byte %zu",
				       line, i);
		if (c < 0x20)
			return cc_fail(e, CC_EINVAL, "note: line %zu: control character 0x%02x",
				       line, (unsigned)c);
	}
	return 0;
}

int note_text_valid(const char *text, size_t len, struct cc_err *e)
{
	int ret;

	if (len == 0)
		return cc_fail(e, CC_EINVAL, "note: empty text");
	if (len > TEXT_MAX)
		return cc_fail(e, CC_ETOOBIG, "note: text of %zu bytes, more than the limit of %d",
			       len, TEXT_MAX);
	ret = scan_chars(text, len, 1, e);
	if (ret < 0)
		return ret;
	if (text[len - 1] != '\n')
		return cc_fail(e, CC_EINVAL, "note: text does not end in a newline");
	return 0;
}

/* Parses one signature line of n bytes, without its '\n'. */
static int parse_sig_line(const char *s, size_t n, size_t line, struct note_sig *sig,
			  struct cc_err *e)
{
	unsigned char blob[COSIG_BLOB_LEN];
	const char *name, *sp, *why;
	size_t namelen, rest, b64len;

	if (n < SIG_PREFIX_LEN || memcmp(s, SIG_PREFIX, SIG_PREFIX_LEN) != 0)
		return cc_fail(e, CC_EINVAL,
			       "note: line %zu: not a signature line (em dash, space, name, space, "
			       "base64)",
			       line);
	name = s + SIG_PREFIX_LEN;
	rest = n - SIG_PREFIX_LEN;
	sp = memchr(name, ' ', rest);
	if (sp == NULL)
		return cc_fail(e, CC_EINVAL, "note: line %zu: no space after the key name", line);
	namelen = (size_t)(sp - name);
	if (!name_check(name, namelen, &why))
		return cc_fail(e, CC_EINVAL, "note: line %zu: %s", line, why);
	b64len = rest - namelen - 1;
	if (b64len != SIG_B64_LEN && b64len != COSIG_B64_LEN)
		return cc_fail(
		    e, CC_EINVAL,
		    "note: line %zu: signature of %zu base64 characters, not 92 (4-byte key "
		    "id, 64-byte Ed25519 signature) nor 104 (a cosignature: key id, time, "
		    "signature)",
		    line, b64len);
	if (b64_decode_exact(blob, b64len == SIG_B64_LEN ? SIG_BLOB_LEN : COSIG_BLOB_LEN, sp + 1,
			     b64len) < 0)
		return cc_fail(e, CC_EINVAL,
			       "note: line %zu: signature is not the canonical base64 of %d bytes",
			       line, b64len == SIG_B64_LEN ? SIG_BLOB_LEN : COSIG_BLOB_LEN);
	memcpy(sig->name, name, namelen);
	sig->name[namelen] = '\0';
	sig->id = get_be32(blob);
	sig->cosig = b64len == COSIG_B64_LEN;
	if (sig->cosig) {
		sig->time = (uint64_t)get_be32(blob + 4) << 32 | get_be32(blob + 8);
		memcpy(sig->sig, blob + 12, 64);
	} else {
		memcpy(sig->sig, blob + 4, 64);
	}
	return 0;
}

/* Parses a block of signature lines that scan_chars accepted and that ends in '\n'. */
static int parse_sig_block(const char *s, size_t len, size_t line0, struct note_sig **sigsp,
			   size_t *nsigsp, struct cc_err *e)
{
	struct note_sig *sigs = NULL;
	const char *p = s, *end = s + len, *nl;
	size_t count = 0, i, j;
	int ret;

	for (i = 0; i < len; i++)
		count += s[i] == '\n';
	if (count > NOTE_MAX_SIGS) {
		ret = cc_fail(e, CC_ETOOBIG, "note: %zu signature lines, more than the limit of %d",
			      count, NOTE_MAX_SIGS);
		goto out;
	}
	sigs = calloc(count, sizeof(*sigs));
	if (sigs == NULL) {
		ret = cc_fail(e, CC_ENOMEM, "note: out of memory");
		goto out;
	}
	for (i = 0; i < count; i++) {
		nl = memchr(p, '\n', (size_t)(end - p));
		ret = parse_sig_line(p, (size_t)(nl - p), line0 + i, &sigs[i], e);
		if (ret < 0)
			goto out;
		/* The same key twice would count once towards a quorum but twice in the
		 * bytes; refusing it keeps one note, one spelling. */
		for (j = 0; j < i; j++) {
			if (sigs[j].id == sigs[i].id && strcmp(sigs[j].name, sigs[i].name) == 0) {
				ret = cc_fail(e, CC_EEXIST,
					      "note: line %zu: second signature by key %s+%08x",
					      line0 + i, sigs[i].name, sigs[i].id);
				goto out;
			}
		}
		p = nl + 1;
	}
	*sigsp = sigs;
	*nsigsp = count;
	sigs = NULL;
	ret = 0;
out:
	free(sigs);
	return ret;
}

int note_parse(struct note *n, const char *msg, size_t len, struct cc_err *e)
{
	size_t split, i, lines;
	int ret;

	memset(n, 0, sizeof(*n));
	if (len > NOTE_MAX_SIZE) {
		ret = cc_fail(e, CC_ETOOBIG, "note: %zu bytes, more than the limit of %d", len,
			      NOTE_MAX_SIZE);
		goto out;
	}
	if (len == 0) {
		ret = cc_fail(e, CC_EINVAL, "note: empty");
		goto out;
	}
	ret = scan_chars(msg, len, 1, e);
	if (ret < 0)
		goto out;
	if (msg[len - 1] != '\n') {
		ret = cc_fail(e, CC_EINVAL, "note: last line does not end in a newline");
		goto out;
	}
	/* The text may hold blank lines itself; the spec splits at the last one. */
	for (split = len - 1; split > 0; split--)
		if (msg[split - 1] == '\n' && msg[split] == '\n')
			break;
	if (split == 0) {
		ret = cc_fail(e, CC_EINVAL,
			      "note: no blank line between the text and the signatures");
		goto out;
	}
	/* msg[split - 1] and msg[split] are the "\n\n"; the text keeps the first of them. */
	if (split + 1 == len) {
		ret = cc_fail(e, CC_EINVAL, "note: no signature after the blank line");
		goto out;
	}
	for (lines = 0, i = 0; i < split; i++)
		lines += msg[i] == '\n';
	ret = parse_sig_block(msg + split + 1, len - split - 1, lines + 2, &n->sigs, &n->nsigs, e);
	if (ret < 0)
		goto out;
	n->text = malloc(split + 1);
	if (n->text == NULL) {
		ret = cc_fail(e, CC_ENOMEM, "note: out of memory");
		goto out;
	}
	memcpy(n->text, msg, split);
	n->text[split] = '\0';
	n->text_len = split;
	ret = 0;
out:
	if (ret < 0)
		note_free(n);
	return ret;
}

void note_free(struct note *n)
{
	free(n->text);
	free(n->sigs);
	memset(n, 0, sizeof(*n));
}

int note_parse_sigs(struct note_sig **sigs, size_t *nsigs, const char *s, size_t len,
		    struct cc_err *e)
{
	int ret;

	*sigs = NULL;
	*nsigs = 0;
	if (len == 0)
		return cc_fail(e, CC_EINVAL, "note: no signature lines");
	if (len > NOTE_MAX_SIZE)
		return cc_fail(e, CC_ETOOBIG,
			       "note: %zu bytes of signatures, more than the limit "
			       "of %d",
			       len, NOTE_MAX_SIZE);
	ret = scan_chars(s, len, 1, e);
	if (ret < 0)
		return ret;
	if (s[len - 1] != '\n')
		return cc_fail(e, CC_EINVAL, "note: last line does not end in a newline");
	return parse_sig_block(s, len, 1, sigs, nsigs, e);
}

int note_sign(const struct note_signer *s, const char *text, size_t len, struct note_sig *out)
{
	int ret;

	memset(out, 0, sizeof(*out));
	ret = note_text_valid(text, len, NULL);
	if (ret < 0)
		return ret;
	if (!note_name_valid(s->key.name))
		return CC_EINVAL;
	if (crypto_sign_ed25519_detached(out->sig, NULL, (const unsigned char *)text, len, s->sk) !=
	    0)
		return CC_EINVAL;
	memcpy(out->name, s->key.name, strlen(s->key.name) + 1);
	out->id = s->key.id;
	return 0;
}

int note_verify(const struct note_key *k, const char *text, size_t len, const struct note_sig *sig)
{
	if (sig->cosig || sig->id != k->id || strncmp(sig->name, k->name, sizeof(k->name)) != 0)
		return CC_ESIG;
	if (crypto_sign_ed25519_verify_detached(sig->sig, (const unsigned char *)text, len,
						k->pub) != 0)
		return CC_ESIG;
	return 0;
}

int note_signed_by(const struct note *n, const struct note_key *k)
{
	for (size_t i = 0; i < n->nsigs; i++)
		if (note_verify(k, n->text, n->text_len, &n->sigs[i]) == 0)
			return 1;
	return 0;
}

int note_format_sig(const struct note_sig *sig, struct cbuf *out)
{
	unsigned char blob[COSIG_BLOB_LEN];
	char b64[COSIG_B64_LEN + 1];
	size_t n = 4;

	if (!note_name_valid(sig->name))
		return CC_EINVAL;
	put_be32(blob, sig->id);
	if (sig->cosig) {
		put_be32(blob + 4, (uint32_t)(sig->time >> 32));
		put_be32(blob + 8, (uint32_t)sig->time);
		n += 8;
	}
	memcpy(blob + n, sig->sig, 64);
	n += 64;
	sodium_bin2base64(b64, sizeof(b64), blob, n, sodium_base64_VARIANT_ORIGINAL);
	return cbuf_printf(out, SIG_PREFIX "%s %s\n", sig->name, b64);
}

uint32_t note_cosig_key_id(const char *name, const unsigned char pub[32])
{
	return key_id_of(name, ALG_COSIG_V1, pub);
}

/* The message a cosignature signs: a header for domain separation, the time, the body. */
static int cosig_message(uint64_t t, const char *text, size_t len, struct cbuf *m)
{
	if (t > INT64_MAX)
		return CC_EINVAL;
	if (cbuf_printf(m, "cosignature/v1\ntime %llu\n", (unsigned long long)t) < 0 ||
	    cbuf_put(m, text, len) < 0)
		return CC_ENOMEM;
	return 0;
}

int note_cosign(const struct note_signer *s, const char *name, uint64_t t, const char *text,
		size_t len, struct note_sig *out)
{
	struct cbuf m = CBUF_INIT;
	int ret;

	memset(out, 0, sizeof(*out));
	if (!note_name_valid(name))
		return CC_EINVAL;
	if ((ret = note_text_valid(text, len, NULL)) < 0 ||
	    (ret = cosig_message(t, text, len, &m)) < 0)
		goto out;
	if (crypto_sign_ed25519_detached(out->sig, NULL, (const unsigned char *)m.p, m.len,
					 s->sk) != 0) {
		ret = CC_EINVAL;
		goto out;
	}
	memcpy(out->name, name, strlen(name) + 1);
	out->id = note_cosig_key_id(name, s->key.pub);
	out->cosig = 1;
	out->time = t;
out:
	cbuf_free(&m);
	return ret;
}

int note_cosig_verify(const char *name, const unsigned char pub[32], const char *text, size_t len,
		      const struct note_sig *sig)
{
	struct cbuf m = CBUF_INIT;
	int ret = CC_ESIG;

	if (!sig->cosig || strcmp(sig->name, name) != 0 || sig->id != note_cosig_key_id(name, pub))
		return CC_ESIG;
	if (cosig_message(sig->time, text, len, &m) == 0 &&
	    crypto_sign_ed25519_verify_detached(sig->sig, (const unsigned char *)m.p, m.len, pub) ==
		0)
		ret = 0;
	cbuf_free(&m);
	return ret;
}

/* Writes only what note_parse accepts, so a note we emit is never refused by a peer
 * running the same rules. */
int note_format(const char *text, size_t len, const struct note_sig *sigs, size_t nsigs,
		struct cbuf *out)
{
	size_t start = out->len, i, j;
	int ret;

	if (nsigs == 0) {
		ret = CC_EINVAL;
		goto out;
	}
	if (nsigs > NOTE_MAX_SIGS) {
		ret = CC_ETOOBIG;
		goto out;
	}
	ret = note_text_valid(text, len, NULL);
	if (ret < 0)
		goto out;
	for (i = 0; i < nsigs; i++) {
		for (j = 0; j < i; j++) {
			if (sigs[j].id == sigs[i].id &&
			    strncmp(sigs[j].name, sigs[i].name, sizeof(sigs[i].name)) == 0) {
				ret = CC_EEXIST;
				goto out;
			}
		}
	}
	ret = cbuf_put(out, text, len);
	if (ret == 0)
		ret = cbuf_putc(out, '\n');
	for (i = 0; ret == 0 && i < nsigs; i++)
		ret = note_format_sig(&sigs[i], out);
	if (ret < 0)
		goto out;
	if (out->len - start > NOTE_MAX_SIZE) {
		ret = CC_ETOOBIG;
		goto out;
	}
	ret = 0;
out:
	if (ret < 0 && out->p != NULL) {
		out->len = start;
		out->p[start] = '\0';
	}
	return ret;
}

int note_batch_next(const char *batch, size_t len, size_t *pos, const char **note, size_t *nlen,
		    struct cc_err *e)
{
	size_t p = *pos, n = 0, digits = 0;

	if (p >= len)
		return 0;
	/* Six digits are enough to tell an oversize note from a well-framed one. */
	while (p < len && batch[p] >= '0' && batch[p] <= '9' && digits < 6) {
		n = n * 10 + (size_t)(batch[p] - '0');
		p++;
		digits++;
	}
	if (digits == 0 || p >= len || batch[p] != '\n' || (digits > 1 && batch[*pos] == '0'))
		return cc_fail(e, CC_EINVAL, "batch: at byte %zu: expected a length and a newline",
			       *pos);
	if (n > NOTE_MAX_SIZE)
		return cc_fail(e, CC_ETOOBIG, "batch: at byte %zu: a note of %zu bytes, over %d",
			       *pos, n, NOTE_MAX_SIZE);
	if (n == 0 || n > len - p - 1)
		return cc_fail(e, CC_EINVAL, "batch: at byte %zu: a note of %zu bytes %s", *pos, n,
			       n == 0 ? "(empty)" : "runs past the end");
	*note = batch + p + 1;
	*nlen = n;
	*pos = p + 1 + n;
	return 1;
}

int note_batch_append(const char *note, size_t len, struct cbuf *out)
{
	int ret = cbuf_printf(out, "%zu\n", len);

	return ret < 0 ? ret : cbuf_put(out, note, len);
}
