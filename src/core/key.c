/* Member key files. The private line is the Go signed-note signer key format
 * ("PRIVATE+KEY+name+id+base64(0x01 || seed)"), so the same file can be used with other
 * C2SP tooling; the box line is ours. */
#include "core/key.h"
#include "core/proposal.h" /* member_id_valid: member ids are key names */

#include <sodium.h>
#include <string.h>

#define MEMBER_ID_MAX	32
#define PRIV_PREFIX	"PRIVATE+KEY+"
#define PRIV_PREFIX_LEN 12
#define BOX_PREFIX	"box "
#define BOX_PREFIX_LEN	4
#define ALG_ED25519	0x01
#define SEED_BLOB_LEN	33 /* 0x01 || Ed25519 seed */
#define SEED_B64_LEN	44
#define BOX_B64_LEN	44

static int b64_decode_exact(unsigned char *out, size_t outlen, const char *s, size_t slen)
{
	char again[128];
	size_t got = 0;
	int ret;

	if (slen != sodium_base64_ENCODED_LEN(outlen, sodium_base64_VARIANT_ORIGINAL) - 1 ||
	    slen >= sizeof(again))
		return -1;
	if (sodium_base642bin(out, outlen, s, slen, NULL, &got, NULL,
			      sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    got != outlen)
		return -1;
	/* libsodium 1.0.18 decodes every byte >= 0x80 as '/', so only a re-encoding that
	 * gives back the input proves it was canonical base64. */
	sodium_bin2base64(again, sizeof(again), out, outlen, sodium_base64_VARIANT_ORIGINAL);
	ret = memcmp(again, s, slen) == 0 ? 0 : -1;
	sodium_memzero(again, sizeof(again)); /* it may spell a secret key */
	return ret;
}

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

/* Splits off the line starting at *p (up to end); returns its length without '\n', or -1
 * when it has no '\n'. */
static long next_line(const char **p, const char *end, const char **line)
{
	const char *nl = memchr(*p, '\n', (size_t)(end - *p));

	if (nl == NULL)
		return -1;
	*line = *p;
	*p = nl + 1;
	return (long)(nl - *line);
}

/* Parses "box <base64 of 32 bytes>" (without its '\n'). */
static int parse_box_line(unsigned char key[32], const char *s, size_t n, struct cc_err *e)
{
	if (n < BOX_PREFIX_LEN || memcmp(s, BOX_PREFIX, BOX_PREFIX_LEN) != 0)
		return cc_fail(e, CC_EINVAL, "key: line 2: expected \"box <base64 X25519 key>\"");
	if (b64_decode_exact(key, 32, s + BOX_PREFIX_LEN, n - BOX_PREFIX_LEN) < 0)
		return cc_fail(e, CC_EINVAL, "key: line 2: box key is not the base64 of 32 bytes");
	return 0;
}

int key_generate(struct key_pair *k, const char *id, struct cc_err *e)
{
	unsigned char seed[32];
	int ret;

	memset(k, 0, sizeof(*k));
	if (!member_id_valid(id)) {
		ret = cc_fail(e, CC_EINVAL,
			      "key: invalid member id (1 to 32 of a-z, 0-9 and '-', not starting "
			      "with '-')");
		goto out;
	}
	if (sodium_init() < 0) {
		ret = cc_fail(e, CC_EIO, "key: libsodium failed to initialise");
		goto out;
	}
	randombytes_buf(seed, sizeof(seed));
	ret = note_signer_from_seed(&k->sign, id, seed);
	if (ret < 0) {
		ret = cc_fail(e, ret, "key: cannot derive the signing key");
		goto out;
	}
	if (crypto_box_keypair(k->box_pk, k->box_sk) != 0) {
		ret = cc_fail(e, CC_EIO, "key: cannot generate the box key");
		goto out;
	}
	ret = 0;
out:
	sodium_memzero(seed, sizeof(seed));
	if (ret < 0)
		key_wipe(k);
	return ret;
}

/* Writes "PRIVATE+KEY+name+id+base64(0x01 || seed)", without a newline. The caller has
 * checked the name. */
static int format_signer_line(const struct note_signer *sg, struct cbuf *out, size_t extra)
{
	unsigned char blob[SEED_BLOB_LEN];
	char seed64[SEED_B64_LEN + 1];
	size_t namelen = strlen(sg->key.name);
	int ret;

	blob[0] = ALG_ED25519;
	memcpy(blob + 1, sg->sk, 32);
	sodium_bin2base64(seed64, sizeof(seed64), blob, sizeof(blob),
			  sodium_base64_VARIANT_ORIGINAL);
	/* Reserving first means the secret is written once and never left behind in a
	 * buffer that realloc freed. */
	ret = cbuf_reserve(out, PRIV_PREFIX_LEN + namelen + 1 + 8 + 1 + SEED_B64_LEN + extra);
	if (ret == 0)
		ret = cbuf_printf(out, PRIV_PREFIX "%s+%08x+%s", sg->key.name, sg->key.id, seed64);
	sodium_memzero(blob, sizeof(blob));
	sodium_memzero(seed64, sizeof(seed64));
	return ret;
}

/* Parses a PRIVATE+KEY line of n bytes (no newline) into sg. member: the name must be a
 * member id. where: the message prefix. */
static int parse_signer_line(struct note_signer *sg, const char *line, size_t n, int member,
			     const char *where, struct cc_err *e)
{
	unsigned char blob[SEED_BLOB_LEN];
	char name[NOTE_NAME_MAX + 1];
	const char *id, *plus;
	size_t idlen;
	uint32_t want;
	int ret;

	memset(sg, 0, sizeof(*sg));
	if (n < PRIV_PREFIX_LEN || memcmp(line, PRIV_PREFIX, PRIV_PREFIX_LEN) != 0) {
		ret = cc_fail(e, CC_EINVAL, "%snot a private key (PRIVATE+KEY+...)", where);
		goto out;
	}
	id = line + PRIV_PREFIX_LEN;
	plus = memchr(id, '+', n - PRIV_PREFIX_LEN);
	idlen = plus ? (size_t)(plus - id) : 0;
	if (plus == NULL || idlen > NOTE_NAME_MAX || memchr(id, '\0', idlen) != NULL) {
		ret = cc_fail(e, CC_EINVAL, "%sinvalid key name", where);
		goto out;
	}
	memcpy(name, id, idlen);
	name[idlen] = '\0';
	if (member ? !member_id_valid(name) : !note_name_valid(name)) {
		ret =
		    cc_fail(e, CC_EINVAL, "%sinvalid %s", where, member ? "member id" : "key name");
		goto out;
	}
	/* What is left after "name+": "hex8+" then the base64 seed. */
	if (n - PRIV_PREFIX_LEN - idlen - 1 < 9 || plus[9] != '+' ||
	    parse_hex8(plus + 1, &want) < 0) {
		ret = cc_fail(e, CC_EINVAL, "%skey id is not 8 lowercase hex digits", where);
		goto out;
	}
	if (b64_decode_exact(blob, sizeof(blob), plus + 10, n - PRIV_PREFIX_LEN - idlen - 10) < 0) {
		ret = cc_fail(e, CC_EINVAL,
			      "%skey is not the base64 of 33 bytes (0x01, Ed25519 seed)", where);
		goto out;
	}
	if (blob[0] != ALG_ED25519) {
		ret = cc_fail(e, CC_EINVAL,
			      "%ssignature type 0x%02x is not supported (only 0x01, Ed25519)",
			      where, blob[0]);
		goto out;
	}
	ret = note_signer_from_seed(sg, name, blob + 1);
	if (ret < 0) {
		ret = cc_fail(e, ret, "%scannot derive the signing key", where);
		goto out;
	}
	/* A mismatch means a corrupted seed or a hand-edited name: signing with it would
	 * produce signatures nobody could attribute. */
	if (sg->key.id != want) {
		ret = cc_fail(e, CC_EINVAL, "%skey id %08x does not match the key (%08x)", where,
			      want, sg->key.id);
		goto out;
	}
	ret = 0;
out:
	sodium_memzero(blob, sizeof(blob));
	if (ret < 0)
		sodium_memzero(sg, sizeof(*sg));
	return ret;
}

int key_format_signer(const struct note_signer *s, struct cbuf *out)
{
	if (!note_name_valid(s->key.name))
		return CC_EINVAL;
	return format_signer_line(s, out, 0);
}

int key_parse_signer(struct note_signer *s, const char *line, size_t len, struct cc_err *e)
{
	return parse_signer_line(s, line, len, 0, "private key: ", e);
}

int key_format_private(const struct key_pair *k, struct cbuf *out)
{
	char box64[BOX_B64_LEN + 1];
	size_t start = out->len;
	int ret;

	if (!member_id_valid(k->sign.key.name))
		return CC_EINVAL;
	sodium_bin2base64(box64, sizeof(box64), k->box_sk, 32, sodium_base64_VARIANT_ORIGINAL);
	ret = format_signer_line(&k->sign, out, 1 + BOX_PREFIX_LEN + BOX_B64_LEN + 1);
	if (ret == 0)
		ret = cbuf_printf(out, "\n" BOX_PREFIX "%s\n", box64);
	sodium_memzero(box64, sizeof(box64));
	if (ret < 0 && out->p != NULL) {
		sodium_memzero(out->p + start, out->len - start);
		out->len = start;
	}
	return ret;
}

int key_parse_private(struct key_pair *k, const char *s, size_t len, struct cc_err *e)
{
	const char *p = s, *end = s + len, *line;
	long n;
	int ret;

	memset(k, 0, sizeof(*k));
	n = next_line(&p, end, &line);
	if (n < 0) {
		ret = cc_fail(e, CC_EINVAL, "key: line 1: missing newline");
		goto out;
	}
	ret = parse_signer_line(&k->sign, line, (size_t)n, 1, "key: line 1: ", e);
	if (ret < 0)
		goto out;
	n = next_line(&p, end, &line);
	if (n < 0) {
		ret = cc_fail(e, CC_EINVAL, "key: line 2: missing, or without its final newline");
		goto out;
	}
	ret = parse_box_line(k->box_sk, line, (size_t)n, e);
	if (ret < 0)
		goto out;
	if (p != end) {
		ret = cc_fail(e, CC_EINVAL, "key: line 3: unexpected data after the box key");
		goto out;
	}
	if (crypto_scalarmult_curve25519_base(k->box_pk, k->box_sk) != 0) {
		ret = cc_fail(e, CC_EINVAL, "key: line 2: unusable box key");
		goto out;
	}
	ret = 0;
out:
	if (ret < 0)
		key_wipe(k);
	return ret;
}

int key_format_public(const struct key_pub *k, struct cbuf *out)
{
	char box64[BOX_B64_LEN + 1];
	size_t start = out->len;
	int ret;

	if (!member_id_valid(k->sign.name))
		return CC_EINVAL;
	sodium_bin2base64(box64, sizeof(box64), k->box_pk, 32, sodium_base64_VARIANT_ORIGINAL);
	ret = note_vkey_format(&k->sign, out);
	if (ret == 0)
		ret = cbuf_printf(out, "\n" BOX_PREFIX "%s\n", box64);
	if (ret < 0 && out->p != NULL) {
		out->len = start;
		out->p[start] = '\0';
	}
	return ret;
}

int key_parse_public(struct key_pub *k, const char *s, size_t len, struct cc_err *e)
{
	const char *p = s, *end = s + len, *line;
	long n;
	int ret;

	memset(k, 0, sizeof(*k));
	n = next_line(&p, end, &line);
	if (n < 0) {
		ret = cc_fail(e, CC_EINVAL, "key: line 1: missing newline");
		goto out;
	}
	ret = note_vkey_parse(&k->sign, line, (size_t)n, e);
	if (ret < 0) {
		if (e != NULL) {
			char why[CC_ERR_MSG];

			memcpy(why, e->msg, sizeof(why));
			cc_fail(e, ret, "key: line 1: %s", why);
		}
		goto out;
	}
	if (!member_id_valid(k->sign.name)) {
		ret = cc_fail(e, CC_EINVAL, "key: line 1: key name is not a valid member id");
		goto out;
	}
	n = next_line(&p, end, &line);
	if (n < 0) {
		ret = cc_fail(e, CC_EINVAL, "key: line 2: missing, or without its final newline");
		goto out;
	}
	ret = parse_box_line(k->box_pk, line, (size_t)n, e);
	if (ret < 0)
		goto out;
	if (p != end) {
		ret = cc_fail(e, CC_EINVAL, "key: line 3: unexpected data after the box key");
		goto out;
	}
	ret = 0;
out:
	if (ret < 0)
		memset(k, 0, sizeof(*k));
	return ret;
}

void key_public(const struct key_pair *k, struct key_pub *out)
{
	memset(out, 0, sizeof(*out));
	out->sign = k->sign.key;
	memcpy(out->box_pk, k->box_pk, sizeof(out->box_pk));
}

void key_wipe(struct key_pair *k)
{
	sodium_memzero(k, sizeof(*k));
}
