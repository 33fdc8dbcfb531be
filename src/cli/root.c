/* concord root zone|trust-anchor|ksk: the signed root zone a node serves, the key that
 * resolvers anchor their validation on, and a new such key for a network's operators. */
#include "cli/cli.h"

#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "node/conf.h"
#include "node/http.h"
#include "dns/sign.h"
#include "dns/wire.h"
#include "dns/zone.h"

/* GET /v1/zone into r. */
static int root_fetch(const char *node, struct http_resp *r, struct cc_err *e)
{
	struct http *h = NULL;
	int ret = http_new(&h, cli_node_url(node), e);

	if (ret == 0)
		ret = http_get(h, "/v1/zone", HTTP_MAX_JSON, r, e);
	http_free(h);
	return ret;
}

/* The apex DNSKEY line of flags 257 (the KSK) in the zone text: its public key. */
static int root_ksk(const char *zone, size_t len, struct dns_key *k, struct cc_err *e)
{
	static const char want[] = ". 172800 IN DNSKEY 257 3 15 ";
	const char *p = zone, *end = zone + len;
	unsigned char pub[32];
	size_t n = 0;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t ll = (size_t)((nl ? nl : end) - p);

		if (ll > sizeof(want) - 1 && memcmp(p, want, sizeof(want) - 1) == 0) {
			if (sodium_base642bin(pub, sizeof(pub), p + sizeof(want) - 1,
					      ll - (sizeof(want) - 1), NULL, &n, NULL,
					      sodium_base64_VARIANT_ORIGINAL) != 0 ||
			    n != sizeof(pub) || dns_key_from_public(k, pub, DNS_KEY_KSK) < 0)
				return cc_fail(e, CC_EINVAL,
					       "the zone's KSK is not an Ed25519 key");
			return 0;
		}
		p = nl ? nl + 1 : end;
	}
	return cc_fail(e, CC_ENOENT, "the zone has no KSK (DNSKEY 257)");
}

/* Prints the KSK k as a trust anchor. */
static int root_anchor_print(const struct dns_key *k, struct cc_err *e)
{
	struct cbuf ds = CBUF_INIT, key = CBUF_INIT;
	uint8_t rd[DNS_DNSKEY_RDATA], dsrd[DNS_DS_RDATA];
	static const uint8_t root[1] = {0};
	int ret;

	dns_dnskey_rdata(k, rd);
	if (dns_ds_rdata(root, rd, sizeof(rd), dsrd) != sizeof(dsrd))
		return cc_fail(e, CC_EINVAL, "cannot compute the DS");
	ret = zone_rdata_text(DNS_DS, dsrd, sizeof(dsrd), &ds);
	if (ret == 0)
		ret = zone_rdata_text(DNS_DNSKEY, rd, sizeof(rd), &key);
	if (ret == 0) {
		/* The lines an unbound trust-anchor-file takes, and the DS alone. */
		printf("; the root zone's key-signing key, tag %u\n", k->tag);
		printf(". IN DS %s\n", ds.p);
		printf(". IN DNSKEY %s\n", key.p);
	}
	cbuf_free(&ds);
	cbuf_free(&key);
	return ret < 0 ? cc_fail(e, ret, "cannot write the trust anchor") : 0;
}

static int root_trust_anchor(const char *zone, size_t len, struct cc_err *e)
{
	struct dns_key k;
	int ret = root_ksk(zone, len, &k, e);

	return ret < 0 ? ret : root_anchor_print(&k, e);
}

/* A new KSK for a network: FILE (which must not exist) in the node's own key file format,
 * for every operator's `node init --ksk`; prints its trust anchor. */
static int root_new_ksk(const char *path, struct cc_err *e)
{
	unsigned char seed[32];
	char dir[CONF_PATH_MAX];
	struct dns_key k;
	int ret;

	memset(&k, 0, sizeof(k));
	if (snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir))
		return cc_fail(e, CC_EINVAL, "%s: path too long", path);
	randombytes_buf(seed, sizeof(seed));
	ret = conf_dnssec_write(path, CONF_KSK_NAME, seed, e);
	/* The name too must survive a crash before the operators copy the key. */
	if (ret == 0 && (ret = conf_sync_dir(dirname(dir), e)) < 0)
		unlink(path);
	if (ret == 0 && (ret = dns_key_from_seed(&k, seed, DNS_KEY_KSK)) < 0)
		ret = cc_fail(e, ret, "cannot make the KSK");
	sodium_memzero(seed, sizeof(seed));
	if (ret == 0)
		ret = root_anchor_print(&k, e);
	dns_key_wipe(&k);
	return ret;
}

int cli_root(int argc, char **argv, struct cc_err *e)
{
	const char *node = NULL;
	const struct cli_opt opts[] = {{"node", 0, CLI_ARG, &node}, {0}};
	struct cli_args a = {0};
	struct http_resp r = {0};
	int ret;

	ret = cli_parse(argc, argv, opts, &a, e);
	if (ret < 0)
		goto out;
	if (a.npos == 2 && strcmp(a.pos[0], "ksk") == 0 && node == NULL) {
		ret = root_new_ksk(a.pos[1], e);
		goto out;
	}
	if (a.npos != 1 ||
	    (strcmp(a.pos[0], "zone") != 0 && strcmp(a.pos[0], "trust-anchor") != 0)) {
		ret = cc_fail(e, CLI_EUSAGE, "root: say zone, trust-anchor or ksk FILE");
		goto out;
	}
	ret = root_fetch(node, &r, e);
	if (ret < 0)
		goto out;
	if (strcmp(a.pos[0], "zone") == 0)
		fwrite(r.body.p, 1, r.body.len, stdout);
	else
		ret = root_trust_anchor(r.body.p, r.body.len, e);
out:
	http_resp_free(&r);
	cli_args_free(&a);
	return ret;
}
