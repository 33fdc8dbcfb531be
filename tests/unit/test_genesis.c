/* Genesis from the real root zone: every delegation imported, IANA's own records dropped,
 * signatures required from every founding member. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/genesis.h"
#include "core/ledger.h"
#include "core/tlog.h"

static int add(void *ctx, const struct rr *r)
{
	return rr_set_add(ctx, r);
}

static void members(struct key_pair *k, struct genesis_member *gm, size_t n)
{
	static const char *ids[] = {"br", "cn", "de", "isoc", "za"};

	for (size_t i = 0; i < n; i++) {
		unsigned char seed[32];

		memset(seed, (int)i + 7, sizeof(seed));
		assert_int_equal(note_signer_from_seed(&k[i].sign, ids[i], seed), 0);
		crypto_box_seed_keypair(k[i].box_pk, k[i].box_sk, seed);
		memset(&gm[i], 0, sizeof(gm[i]));
		snprintf(gm[i].id, sizeof(gm[i].id), "%s", ids[i]);
		gm[i].chamber = i == 3 ? CHAMBER_TECHNICAL : CHAMBER_GOVERNMENT;
		key_public(&k[i], &gm[i].pub);
	}
}

static int apply_all(struct ledger *l, const struct cbuf *bundle, struct cc_err *e)
{
	const unsigned char *entry;
	size_t elen, off = 0;
	int r;

	while ((r = tlog_bundle_next((unsigned char *)bundle->p, bundle->len, &off, &entry,
				     &elen)) == 1) {
		r = ledger_apply_entry(l, entry, elen, 1, e);
		if (r < 0)
			return r;
	}
	return r;
}

static int count_tld(void *ctx, const char *path, const char *content, size_t len, uint64_t v)
{
	(*(size_t *)ctx)++;
	return 0;
}

static void test_real_root(void **state)
{
	const char *dir = getenv("CONCORD_DATA");
	char path[4096];
	struct rr_set root = {0};
	struct key_pair k[5];
	struct genesis_member gm[5];
	struct genesis_params gp = {0};
	struct cbuf bundle = CBUF_INIT, desc = CBUF_INIT, exp = CBUF_INIT;
	struct cc_err e = {0};
	struct ledger *l;
	size_t ntld = 0, nlines = 0;

	snprintf(path, sizeof(path), "%s/root-2025082000.zone", dir ? dir : "../shared/data/root");
	if (rr_scan_file(path, add, &root, &e) < 0)
		skip();
	members(k, gm, 5);
	gp.origin = "test.concord.example/root";
	gp.time = 1795000000;
	gp.members = gm;
	gp.nmembers = 5;
	gp.consultation = 0;
	gp.root = &root;
	assert_int_equal(genesis_build(&gp, &bundle, &e), 0);

	/* Unsigned, then partly signed: refused. */
	l = ledger_new();
	assert_int_equal(apply_all(l, &bundle, &e), CC_EINVAL);
	ledger_free(l);
	for (int i = 0; i < 4; i++)
		assert_int_equal(genesis_sign(&bundle, &k[i], &e), 0);
	l = ledger_new();
	assert_int_equal(apply_all(l, &bundle, &e), CC_EPERM);
	assert_non_null(strstr(e.msg, "signed by 4 of 5"));
	ledger_free(l);
	assert_int_equal(genesis_describe((unsigned char *)bundle.p, bundle.len, &desc, &e), 0);
	assert_non_null(strstr(desc.p, "NOT SIGNED"));
	assert_int_equal(genesis_sign(&bundle, &k[4], &e), 0);
	/* Signing twice replaces, never duplicates. */
	assert_int_equal(genesis_sign(&bundle, &k[0], &e), 0);

	l = ledger_new();
	if (apply_all(l, &bundle, &e) < 0)
		fail_msg("%s", e.msg);
	assert_true(ledger_ready(l));
	assert_int_equal(ledger_foreach(l, "tld/", count_tld, &ntld), 0);
	assert_int_equal(ntld, 1440);
	assert_int_equal(ledger_export_root(l, &exp), 0);
	for (size_t i = 0; i < exp.len; i++)
		nlines += exp.p[i] == '\n';
	/* NS 7548 + DS 1506 + A 5930 + AAAA 5628 below the apex, root-servers.net glue excluded */
	assert_int_equal(nlines, 7548 + 1506 + 5930 + 5628);
	assert_null(strstr(exp.p, "root-servers.net. 172800 IN A"));
	assert_null(strstr(exp.p, "NSEC"));
	ledger_free(l);
	rr_set_free(&root);
	cbuf_free(&bundle);
	cbuf_free(&desc);
	cbuf_free(&exp);
}

static void test_wrong_key_cannot_sign(void **state)
{
	struct key_pair k[5], other;
	struct genesis_member gm[5];
	struct genesis_params gp = {0};
	struct cbuf bundle = CBUF_INIT;
	struct cc_err e = {0};
	unsigned char seed[32];

	members(k, gm, 5);
	gp.origin = "x.example/root";
	gp.time = 1795000000;
	gp.members = gm;
	gp.nmembers = 5;
	assert_int_equal(genesis_build(&gp, &bundle, &e), 0);
	memset(seed, 42, sizeof(seed));
	assert_int_equal(note_signer_from_seed(&other.sign, "cn", seed), 0);
	assert_int_equal(genesis_sign(&bundle, &other, &e), CC_EPERM);
	assert_int_equal(note_signer_from_seed(&other.sign, "fr", seed), 0);
	assert_int_equal(genesis_sign(&bundle, &other, &e), CC_EPERM);
	cbuf_free(&bundle);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_real_root),
	    cmocka_unit_test(test_wrong_key_cannot_sign),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
