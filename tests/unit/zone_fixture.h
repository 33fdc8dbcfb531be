/* Test fixture shared by the DNS tests: a ledger over the real root zone whose members cn
 * and isoc run name servers (one in-zone name, one under net.), maybe with node records,
 * and a fixed key pair. */
#ifndef CONCORD_TEST_ZONE_FIXTURE_H
#define CONCORD_TEST_ZONE_FIXTURE_H

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/genesis.h"
#include "core/proposal.h"
#include "core/tfmt.h"
#include "core/ledger.h"
#include "core/tlog.h"
#include "dns/zone.h"

#define EPOCH 20779u /* 2026-11-22 */

static int add(void *ctx, const struct rr *r)
{
	return rr_set_add(ctx, r);
}

/* A node record's keys in the fixtures: node i's node key and zone-signing key come from
 * these seeds. */
#define FIXTURE_NODE_KEY_SEED(i) (0x70 + (int)(i))
#define FIXTURE_NODE_ZSK_SEED(i) (0x20 + (int)(i))

/* The zone-signing key of the fixtures' node i. */
static __attribute__((unused)) void node_zsk(struct dns_key *zsk, size_t i)
{
	unsigned char seed[32];

	memset(seed, FIXTURE_NODE_ZSK_SEED(i), sizeof(seed));
	assert_int_equal(dns_key_from_seed(zsk, seed, DNS_KEY_ZSK), 0);
}

/* A ledger of the genesis of nmembers members ids[i] (key seed i + 7; isoc technical, the
 * others government), each running the name server dns[i] (NULL: none), the first nnodes
 * of them a node each (http://node.<id>.example:8053, keys of FIXTURE_NODE_*_SEED(i)), over
 * the real root zone when root is set; NULL when the root zone is not there. */
static struct ledger *fixture_ledger(const char *const *ids, const char *const *dns,
				     size_t nmembers, size_t nnodes, int root)
{
	const char *dir = getenv("CONCORD_DATA");
	char path[4096];
	struct rr_set zone = {0};
	struct key_pair *k = calloc(nmembers, sizeof(*k));
	struct genesis_member *gm = calloc(nmembers, sizeof(*gm));
	struct ledger_node *gn = calloc(nnodes ? nnodes : 1, sizeof(*gn));
	struct genesis_params gp = {0};
	struct cbuf bundle = CBUF_INIT;
	struct cc_err e = {0};
	const unsigned char *entry;
	size_t elen, off = 0;
	struct ledger *l = NULL;

	assert_true(k && gm && gn && nnodes <= nmembers);
	snprintf(path, sizeof(path), "%s/root-2025082000.zone", dir ? dir : "../shared/data/root");
	if (root && rr_scan_file(path, add, &zone, &e) < 0)
		goto out;
	for (size_t i = 0; i < nmembers; i++) {
		unsigned char seed[32];

		memset(seed, (int)i + 7, sizeof(seed));
		assert_int_equal(note_signer_from_seed(&k[i].sign, ids[i], seed), 0);
		crypto_box_seed_keypair(k[i].box_pk, k[i].box_sk, seed);
		snprintf(gm[i].id, sizeof(gm[i].id), "%s", ids[i]);
		gm[i].chamber =
		    strcmp(ids[i], "isoc") == 0 ? CHAMBER_TECHNICAL : CHAMBER_GOVERNMENT;
		key_public(&k[i], &gm[i].pub);
		if (dns && dns[i] && member_dns_parse(&gm[i].dns, dns[i], strlen(dns[i]), &e) < 0)
			fail_msg("%s", e.msg);
	}
	for (size_t i = 0; i < nnodes; i++) {
		unsigned char seed[32], sk[64];

		snprintf(gn[i].id, sizeof(gn[i].id), "%s", ids[i]);
		snprintf(gn[i].url, sizeof(gn[i].url), "http://node.%s.example:8053", ids[i]);
		memset(seed, FIXTURE_NODE_KEY_SEED(i), sizeof(seed));
		crypto_sign_seed_keypair(gn[i].key, sk, seed);
		memset(seed, FIXTURE_NODE_ZSK_SEED(i), sizeof(seed));
		crypto_sign_seed_keypair(gn[i].zsk, sk, seed);
	}
	gp.origin = "test.concord.example/root";
	gp.time = 1795000000;
	gp.members = gm;
	gp.nmembers = nmembers;
	gp.root = root ? &zone : NULL;
	gp.nodes = gn;
	gp.nnodes = nnodes;
	if (genesis_build(&gp, &bundle, &e) < 0)
		fail_msg("%s", e.msg);
	for (size_t i = 0; i < nmembers; i++)
		assert_int_equal(genesis_sign(&bundle, &k[i], &e), 0);
	l = ledger_new();
	while (tlog_bundle_next((unsigned char *)bundle.p, bundle.len, &off, &entry, &elen) == 1)
		if (ledger_apply_entry(l, entry, elen, 1, &e) < 0)
			fail_msg("%s", e.msg);
out:
	rr_set_free(&zone);
	cbuf_free(&bundle);
	free(k);
	free(gm);
	free(gn);
	return l;
}

/* The five members br, cn, de, isoc, za over the real root zone; cn and isoc run name
 * servers when with_dns; the first nnodes (br, cn, de, ...) run nodes. */
static __attribute__((unused)) struct ledger *root_ledger_nodes(int with_dns, size_t nnodes)
{
	static const char *const ids[] = {"br", "cn", "de", "isoc", "za"};
	static const char *const dns[] = {NULL,
					  "ns.cn.root.concord.example. 192.0.2.53 2001:db8::53",
					  NULL, "ns.isoc.root-servers.net. 198.51.100.7", NULL};

	return fixture_ledger(ids, with_dns ? dns : NULL, 5, nnodes, 1);
}

static __attribute__((unused)) struct ledger *root_ledger(int with_dns)
{
	return root_ledger_nodes(with_dns, 0);
}

/* Appends to l the proposal of one operation (put content at path, or delete it when content
 * is NULL) signed by the members in signers (space-separated, the first one proposes), as
 * a node would write it, at time t. */
static __attribute__((unused)) void fixture_change(struct ledger *l, const char *signers,
						   const char *path, const char *content, int64_t t)
{
	static const char *ids[] = {"br", "cn", "de", "isoc", "za"}; /* sorted */
	struct proposal_op op = {0};
	struct note_sig sigs[5];
	size_t nsigs = 0;
	struct cbuf body = CBUF_INIT, entry = CBUF_INIT, cur = CBUF_INIT;
	static struct ledger_verdict v;
	struct proposal p;
	struct cc_err e = {0};
	uint64_t version;

	op.kind = content ? OP_PUT : OP_DELETE;
	snprintf(op.path, sizeof(op.path), "%s", path);
	op.version =
	    ledger_get(l, path, &cur, &version) == 0 ? (int64_t)version : PROPOSAL_VERSION_NEW;
	op.content = content;
	op.content_len = content ? strlen(content) : 0;
	assert_int_equal(proposal_format(&body, "test.concord.example/root",
					 (char[]){signers[0], signers[1], 0}, t - 10, t + 86400,
					 &op, 1),
			 0);
	for (size_t i = 0; i < 5; i++) {
		struct note_signer s;
		unsigned char seed[32];
		const char *at = strstr(signers, ids[i]);

		if (at == NULL || (at[strlen(ids[i])] != ' ' && at[strlen(ids[i])] != '\0'))
			continue;
		memset(seed, (int)i + 7, sizeof(seed));
		assert_int_equal(note_signer_from_seed(&s, ids[i], seed), 0);
		assert_int_equal(note_sign(&s, body.p, body.len, &sigs[nsigs++]), 0);
	}
	assert_int_equal(proposal_parse(&p, body.p, body.len, &e), 0);
	if (ledger_accept(l, &p, sigs, nsigs, NULL, 0, t, &v, &entry, &e) < 0 ||
	    v.status != LEDGER_READY)
		fail_msg("%s: %s", path, e.msg);
	proposal_free(&p);
	cbuf_free(&body);
	cbuf_free(&entry);
	cbuf_free(&cur);
}

static void keys(struct dns_key *ksk, struct dns_key *zsk)
{
	unsigned char seed[32];

	memset(seed, 0x4b, sizeof(seed));
	assert_int_equal(dns_key_from_seed(ksk, seed, DNS_KEY_KSK), 0);
	memset(seed, 0x5a, sizeof(seed));
	assert_int_equal(dns_key_from_seed(zsk, seed, DNS_KEY_ZSK), 0);
}

#endif
