/* Test fixture shared by the DNS tests: a ledger over the real root zone whose members cn
 * and isoc run name servers (one in-zone name, one under net.), and a fixed key pair. */
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

static struct ledger *root_ledger(int with_dns)
{
	static const char *ids[] = {"br", "cn", "de", "isoc", "za"};
	static const char *dns[] = {"ns.cn.root.concord.example. 192.0.2.53 2001:db8::53",
				    "ns.isoc.root-servers.net. 198.51.100.7"};
	const char *dir = getenv("CONCORD_DATA");
	char path[4096];
	struct rr_set root = {0};
	struct key_pair k[5];
	struct genesis_member gm[5];
	struct genesis_params gp = {0};
	struct cbuf bundle = CBUF_INIT;
	struct cc_err e = {0};
	const unsigned char *entry;
	size_t elen, off = 0;
	struct ledger *l;

	snprintf(path, sizeof(path), "%s/root-2025082000.zone", dir ? dir : "../shared/data/root");
	if (rr_scan_file(path, add, &root, &e) < 0)
		return NULL;
	for (size_t i = 0; i < 5; i++) {
		unsigned char seed[32];

		memset(seed, (int)i + 7, sizeof(seed));
		assert_int_equal(note_signer_from_seed(&k[i].sign, ids[i], seed), 0);
		crypto_box_seed_keypair(k[i].box_pk, k[i].box_sk, seed);
		memset(&gm[i], 0, sizeof(gm[i]));
		snprintf(gm[i].id, sizeof(gm[i].id), "%s", ids[i]);
		gm[i].chamber = i == 3 ? CHAMBER_TECHNICAL : CHAMBER_GOVERNMENT;
		key_public(&k[i], &gm[i].pub);
	}
	if (with_dns) {
		assert_int_equal(member_dns_parse(&gm[1].dns, dns[0], strlen(dns[0]), &e), 0);
		assert_int_equal(member_dns_parse(&gm[3].dns, dns[1], strlen(dns[1]), &e), 0);
	}
	gp.origin = "test.concord.example/root";
	gp.time = 1795000000;
	gp.members = gm;
	gp.nmembers = 5;
	gp.root = &root;
	if (genesis_build(&gp, &bundle, &e) < 0)
		fail_msg("%s", e.msg);
	for (int i = 0; i < 5; i++)
		assert_int_equal(genesis_sign(&bundle, &k[i], &e), 0);
	l = ledger_new();
	while (tlog_bundle_next((unsigned char *)bundle.p, bundle.len, &off, &entry, &elen) == 1)
		if (ledger_apply_entry(l, entry, elen, 1, &e) < 0)
			fail_msg("%s", e.msg);
	rr_set_free(&root);
	cbuf_free(&bundle);
	return l;
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
