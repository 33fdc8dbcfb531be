/* The ledger against the rules of issue 2: sovereignty over ccTLDs, quorum for shared
 * resources, shared hosts, versions, expiry, objections, and entries that replay. */
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
#include "core/proposal.h"
#include "core/tfmt.h"
#include "core/tlog.h"

#define T0 1795000000 /* genesis time */

static const char *ids[] = {"br", "cn", "de", "isoc", "za"};
static const int chambers[] = {CHAMBER_GOVERNMENT, CHAMBER_GOVERNMENT, CHAMBER_GOVERNMENT,
			       CHAMBER_TECHNICAL, CHAMBER_GOVERNMENT};
#define NM 5

static const char *zone =
    "cn. 172800 IN NS a.dns.cn.\n"
    "cn. 172800 IN NS ns.shared.net.\n"
    "a.dns.cn. 172800 IN A 192.0.2.1\n"
    "ns.shared.net. 172800 IN A 192.0.2.53\n"
    "ns.shared.net. 172800 IN AAAA 2001:db8::53\n"
    "com. 172800 IN NS a.gtld-servers.net.\n"
    "com. 172800 IN NS ns.shared.net.\n"
    "com. 86400 IN DS 30909 8 2 E2D3C916F6DEEAC73294E8268FB5885044A833FC5459588F4A9184CF C41A5766\n"
    "a.gtld-servers.net. 172800 IN A 192.5.6.30\n"
    "net. 172800 IN NS a.gtld-servers.net.\n"
    "fr. 172800 IN NS d.nic.fr.\n"
    "d.nic.fr. 172800 IN A 192.93.0.4\n"
    "de. 172800 IN NS a.nic.de.\n"
    "a.nic.de. 172800 IN A 194.0.0.53\n";

struct world {
	struct key_pair keys[NM];
	struct ledger *l;
};

static const struct key_pair *key_of(struct world *w, const char *id)
{
	for (int i = 0; i < NM; i++)
		if (strcmp(ids[i], id) == 0)
			return &w->keys[i];
	return NULL;
}

static int setup(void **state)
{
	struct world *w = calloc(1, sizeof(*w));
	struct genesis_member gm[NM];
	struct genesis_params gp = {0};
	struct rr_set root = {0};
	struct cbuf bundle = CBUF_INIT;
	struct cc_err e = {0};
	const unsigned char *entry;
	size_t elen, off = 0;

	assert_non_null(w);
	for (int i = 0; i < NM; i++) {
		unsigned char seed[32];

		memset(seed, i + 1, sizeof(seed));
		assert_int_equal(note_signer_from_seed(&w->keys[i].sign, ids[i], seed), 0);
		crypto_box_seed_keypair(w->keys[i].box_pk, w->keys[i].box_sk, seed);
		memset(&gm[i], 0, sizeof(gm[i]));
		snprintf(gm[i].id, sizeof(gm[i].id), "%s", ids[i]);
		gm[i].chamber = chambers[i];
		key_public(&w->keys[i], &gm[i].pub);
	}
	assert_int_equal(rr_parse(&root, zone, strlen(zone), &e), 0);
	gp.origin = "test.concord.example/root";
	gp.time = T0;
	gp.members = gm;
	gp.nmembers = NM;
	gp.root = &root;
	assert_int_equal(genesis_build(&gp, &bundle, &e), 0);
	for (int i = NM - 1; i >= 0; i--)
		assert_int_equal(genesis_sign(&bundle, &w->keys[i], &e), 0);
	w->l = ledger_new();
	while (tlog_bundle_next((unsigned char *)bundle.p, bundle.len, &off, &entry, &elen) == 1) {
		int r = ledger_apply_entry(w->l, entry, elen, 1, &e);

		if (r)
			fail_msg("genesis entry: %s", e.msg);
	}
	assert_true(ledger_ready(w->l));
	rr_set_free(&root);
	cbuf_free(&bundle);
	*state = w;
	return 0;
}

static int teardown(void **state)
{
	struct world *w = *state;

	ledger_free(w->l);
	free(w);
	return 0;
}

static int64_t version_of(struct world *w, const char *path)
{
	struct cbuf c = CBUF_INIT;
	uint64_t v = 0;
	int r = ledger_get(w->l, path, &c, &v);

	cbuf_free(&c);
	return r < 0 ? PROPOSAL_VERSION_NEW : (int64_t)v;
}

/* Builds a one-operation proposal body. content NULL means delete. */
static void body_of(struct world *w, struct cbuf *out, const char *proposer, const char *path,
		    const char *content, int64_t now, int64_t ttl)
{
	struct proposal_op op = {0};

	op.kind = content ? OP_PUT : OP_DELETE;
	snprintf(op.path, sizeof(op.path), "%s", path);
	op.version = version_of(w, path);
	op.content = content;
	op.content_len = content ? strlen(content) : 0;
	assert_int_equal(
	    proposal_format(out, ledger_origin(w->l), proposer, now, now + ttl, &op, 1), 0);
}

/* Evaluates body signed by the given members; returns the result code and verdict. */
static int eval(struct world *w, const char *body, const char *const *signers, size_t n,
		const char *const *objectors, size_t no, int64_t now, struct ledger_verdict *v,
		struct cc_err *e)
{
	struct proposal p;
	int r = proposal_parse(&p, body, strlen(body), e);

	if (r < 0)
		return r;
	r = ledger_evaluate(w->l, &p, signers, n, objectors, no, now, v, e);
	proposal_free(&p);
	return r;
}

/* Signs, builds the entry, applies it with full verification. */
static int accept(struct world *w, const char *body, const char *const *signers, size_t n,
		  int64_t now, struct cc_err *e)
{
	struct note_sig sigs[NM];
	struct proposal p;
	struct cbuf entry = CBUF_INIT;
	int r = proposal_parse(&p, body, strlen(body), e);

	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++)
		assert_int_equal(
		    note_sign(&key_of(w, signers[i])->sign, body, strlen(body), &sigs[i]), 0);
	r = ledger_entry_build(w->l, &p, sigs, n, now, &entry, e);
	if (r == 0)
		r = ledger_apply_entry(w->l, (unsigned char *)entry.p, entry.len, 1, e);
	proposal_free(&p);
	cbuf_free(&entry);
	return r;
}

static void test_genesis_state(void **state)
{
	struct world *w = *state;
	struct cbuf c = CBUF_INIT;
	uint64_t v;
	char pol[PATH_MAX_LEN + 1];

	assert_int_equal(ledger_member_count(w->l), NM);
	assert_string_equal(ledger_last_id(w->l), ""); /* the genesis and chunks log none */
	assert_int_equal(ledger_get(w->l, "tld/cn", &c, &v), 0);
	assert_string_equal(c.p, "cn. 172800 IN NS a.dns.cn.\n"
				 "cn. 172800 IN NS ns.shared.net.\n"
				 "a.dns.cn. 172800 IN A 192.0.2.1\n"
				 "ns.shared.net. 172800 IN A 192.0.2.53\n"
				 "ns.shared.net. 172800 IN AAAA 2001:db8::53\n");
	cbuf_reset(&c);
	assert_int_equal(ledger_get(w->l, "host/ns.shared.net.", &c, &v), 0);
	assert_int_equal(ledger_policy_for(w->l, "tld/cn", pol), 0);
	assert_string_equal(pol, "policy/cctld");
	/* fr's state is not a member: governed like a gTLD. */
	assert_int_equal(ledger_policy_for(w->l, "tld/fr", pol), 0);
	assert_string_equal(pol, "policy/tld");
	assert_int_equal(ledger_get(w->l, "tld/zz", &c, &v), CC_ENOENT);
	cbuf_free(&c);
}

static void test_cctld_alone(void **state)
{
	struct world *w = *state;
	struct cbuf b = CBUF_INIT, c = CBUF_INIT;
	struct ledger_verdict v;
	struct cc_err e = {0};
	const char *cn[] = {"cn"}, *de[] = {"de"};
	int64_t now = T0 + 100;
	uint64_t ver;

	body_of(
	    w, &b, "cn", "tld/cn",
	    "cn. NS a.dns.cn.\ncn. NS ns.shared.net.\ncn. NS b.dns.cn.\nb.dns.cn. A 192.0.2.2\n",
	    now, 3600);
	assert_int_equal(eval(w, b.p, cn, 1, NULL, 0, now, &v, &e), 0);
	assert_int_equal(v.status, LEDGER_READY);
	/* Another state cannot sign for cn's ccTLD, even next to cn. */
	cbuf_reset(&c);
	body_of(w, &c, "de", "tld/cn", "cn. NS a.dns.cn.\n", now, 3600);
	assert_int_equal(eval(w, c.p, de, 1, NULL, 0, now, &v, &e), CC_EPERM);
	assert_non_null(strstr(e.msg, "de may not sign for tld/cn"));
	assert_int_equal(accept(w, b.p, cn, 1, now, &e), 0);
	cbuf_reset(&c);
	assert_int_equal(ledger_get(w->l, "tld/cn", &c, &ver), 0);
	assert_int_equal(ver, ledger_size(w->l) - 1);
	assert_non_null(strstr(c.p, "b.dns.cn. 172800 IN A 192.0.2.2\n"));
	/* The same proposal again is stale: it cannot be applied twice. */
	assert_int_equal(accept(w, b.p, cn, 1, now + 1, &e), CC_ESTALE);
	cbuf_free(&b);
	cbuf_free(&c);
}

static void test_gtld_quorum(void **state)
{
	struct world *w = *state;
	struct cbuf b = CBUF_INIT;
	struct ledger_verdict v;
	struct cc_err e = {0};
	const char *s1[] = {"cn"}, *s3[] = {"cn", "br", "za"}, *s4[] = {"cn", "br", "za", "isoc"};
	int64_t now = T0 + 200;

	body_of(w, &b, "cn", "tld/net",
		"net. NS a.gtld-servers.net.\nnet. NS b.gtld-servers.net.\n"
		"b.gtld-servers.net. A 192.33.14.30\n",
		now, 3600);
	assert_int_equal(eval(w, b.p, s1, 1, NULL, 0, now, &v, &e), 0);
	assert_int_equal(v.status, LEDGER_PENDING);
	assert_int_equal(v.nneeds, 2); /* 2/3 of government, 1/2 of technical */
	assert_string_equal(v.needs[0].what, "2/3 of government");
	assert_int_equal(v.needs[0].need, 3);
	assert_int_equal(v.needs[0].have, 1);
	assert_int_equal(eval(w, b.p, s3, 3, NULL, 0, now, &v, &e), 0);
	assert_int_equal(v.status, LEDGER_PENDING);
	assert_int_equal(accept(w, b.p, s3, 3, now, &e), CC_EINVAL); /* not ready */
	assert_int_equal(eval(w, b.p, s4, 4, NULL, 0, now, &v, &e), 0);
	assert_int_equal(v.status, LEDGER_READY);
	assert_int_equal(accept(w, b.p, s4, 4, now, &e), 0);
	cbuf_free(&b);
}

static void test_shared_host_needs_every_user(void **state)
{
	struct world *w = *state;
	struct cbuf b = CBUF_INIT, c = CBUF_INIT;
	struct ledger_verdict v;
	struct cc_err e = {0};
	const char *cn[] = {"cn"}, *all[] = {"br", "cn", "de", "isoc"};
	int64_t now = T0 + 300;
	uint64_t before = (uint64_t)version_of(w, "tld/com"), ver;

	/* cn renumbers ns.shared.net, which com uses too: com's policy must agree. */
	body_of(w, &b, "cn", "tld/cn",
		"cn. NS a.dns.cn.\ncn. NS ns.shared.net.\nns.shared.net. A 198.51.100.53\n", now,
		3600);
	assert_int_equal(eval(w, b.p, cn, 1, NULL, 0, now, &v, &e), 0);
	assert_int_equal(v.status, LEDGER_PENDING);
	assert_int_equal(v.nneeds, 3);
	assert_string_equal(v.needs[1].path, "tld/com");
	assert_int_equal(accept(w, b.p, all, 4, now, &e), 0);
	assert_int_equal(ledger_get(w->l, "tld/com", &c, &ver), 0);
	assert_true(ver > before);
	assert_non_null(strstr(c.p, "ns.shared.net. 172800 IN A 198.51.100.53\n"));
	assert_null(strstr(c.p, "AAAA"));
	cbuf_free(&b);
	cbuf_free(&c);
}

/* One proposal moves both TLDs that share ns.shared.net to name servers of their own: the
 * host, left by two TLDs at once, disappears (once: ASan watches the second). */
static void test_shared_host_left_by_both_users(void **state)
{
	struct world *w = *state;
	struct cbuf b = CBUF_INIT, c = CBUF_INIT;
	struct proposal_op ops[2];
	struct cc_err e = {0};
	const char *all[] = {"br", "cn", "de", "isoc"};
	/* Last of the group: after test_members_and_policies' consultation period of a day. */
	int64_t now = T0 + 10 * 86400;
	uint64_t ver;

	memset(ops, 0, sizeof(ops));
	ops[0].kind = ops[1].kind = OP_PUT;
	snprintf(ops[0].path, sizeof(ops[0].path), "tld/cn");
	snprintf(ops[1].path, sizeof(ops[1].path), "tld/com");
	ops[0].version = version_of(w, "tld/cn");
	ops[1].version = version_of(w, "tld/com");
	ops[0].content = "cn. NS a.dns.cn.\ncn. NS b.dns.cn.\nb.dns.cn. A 192.0.2.2\n";
	ops[1].content = "com. NS a.gtld-servers.net.\n"
			 "com. DS 30909 8 2 "
			 "E2D3C916F6DEEAC73294E8268FB5885044A833FC5459588F4A9184CFC41A5766\n";
	ops[0].content_len = strlen(ops[0].content);
	ops[1].content_len = strlen(ops[1].content);
	assert_int_equal(
	    proposal_format(&b, ledger_origin(w->l), "cn", now, now + 3 * 86400, ops, 2), 0);
	assert_int_equal(accept(w, b.p, all, 4, now + 86400, &e), 0);
	assert_int_equal(ledger_get(w->l, "host/ns.shared.net.", &c, &ver), CC_ENOENT);
	assert_int_equal(ledger_get(w->l, "host/a.gtld-servers.net.", &c, &ver), 0);
	assert_int_equal(ledger_get(w->l, "tld/cn", &c, &ver), 0);
	assert_null(strstr(c.p, "shared"));
	cbuf_free(&b);
	cbuf_free(&c);
}

static int count_touched(void *ctx, const char *name)
{
	struct cbuf *out = ctx;

	return cbuf_printf(out, "%s ", name);
}

/* The names entries wrote, which the zone is updated by, are kept for the latest 65,536 and
 * forgotten by halves: a reader asking from before what is kept is told to rebuild, and the
 * names kept after a halving are still right. */
static void test_touched_names_kept_by_halves(void **state)
{
	struct world *w = *state;
	struct cbuf b = CBUF_INIT, c = CBUF_INIT, t = CBUF_INIT, want = CBUF_INIT;
	struct cc_err e = {0};
	const char *cn[] = {"cn"};
	static const int order[13] = {0, 1, 10, 11, 12, 2, 3, 4, 5, 6, 7, 8, 9}; /* canonical */
	int64_t now = T0 + 20 * 86400;
	uint64_t first = ledger_size(w->l), since = first;
	const int rounds = 3500;

	/* Each entry moves cn to 13 new name servers: 27 names (the TLD, its name servers
	 * before, the new hosts), unique to the entry so that a name read at a wrong offset
	 * shows. The limit is passed after about 2,420 entries, and half of it forgotten. */
	for (int round = 0; round < rounds; round++) {
		cbuf_reset(&c);
		for (int i = 0; i < 13; i++)
			assert_int_equal(cbuf_printf(&c, "cn. NS ns%d.r%d.dns.cn.\n", i, round), 0);
		for (int i = 0; i < 13; i++)
			assert_int_equal(
			    cbuf_printf(&c, "ns%d.r%d.dns.cn. A 198.51.100.%d\n", i, round, i + 1),
			    0);
		cbuf_reset(&b);
		body_of(w, &b, "cn", "tld/cn", c.p, now, 3600);
		assert_int_equal(accept(w, b.p, cn, 1, now, &e), 0);
	}
	/* Everything from the oldest entry still known: those written before the halving were
	 * moved, and the names of the 1,000 entries written since lie where they were. */
	while (ledger_touched(w->l, since, count_touched, &t) == CC_ENOENT)
		since++;
	assert_true(since > first + 1000 && since < ledger_size(w->l) - 1000);
	for (int round = (int)(since - first); round < rounds; round++) {
		assert_int_equal(cbuf_puts(&want, "cn. "), 0);
		for (int k = 0; k < 26; k++)
			assert_int_equal(cbuf_printf(&want, "ns%d.r%d.dns.cn. ", order[k % 13],
						     k < 13 ? round - 1 : round),
					 0);
	}
	assert_int_equal(t.len, want.len);
	assert_memory_equal(t.p, want.p, want.len);
	cbuf_free(&b);
	cbuf_free(&c);
	cbuf_free(&t);
	cbuf_free(&want);
}

static void test_refusals(void **state)
{
	struct world *w = *state;
	struct cbuf b = CBUF_INIT;
	struct ledger_verdict v;
	struct cc_err e = {0};
	struct note_sig sig;
	struct key_pair stranger;
	const char *de[] = {"de"};
	int64_t now = T0 + 400;
	unsigned char seed[32];

	body_of(w, &b, "de", "tld/de",
		"de. NS a.nic.de.\nde. NS b.nic.de.\nb.nic.de. A 194.0.1.53\n", now, 60);
	/* expired */
	assert_int_equal(eval(w, b.p, de, 1, NULL, 0, now + 61, &v, &e), CC_EEXPIRED);
	/* created in the future */
	assert_int_equal(eval(w, b.p, de, 1, NULL, 0, now - LEDGER_CLOCK_SKEW - 1, &v, &e),
			 CC_ETIME);
	/* forged: de's key id, another key's signature */
	memset(seed, 99, sizeof(seed));
	assert_int_equal(note_signer_from_seed(&stranger.sign, "de", seed), 0);
	assert_int_equal(note_sign(&stranger.sign, b.p, b.len, &sig), 0);
	sig.id = key_of(w, "de")->sign.key.id;
	assert_null(ledger_check_sig(w->l, b.p, b.len, &sig, &e));
	assert_int_equal(e.code, CC_ESIG);
	/* a key that is not a member's */
	assert_int_equal(note_signer_from_seed(&stranger.sign, "xx", seed), 0);
	assert_int_equal(note_sign(&stranger.sign, b.p, b.len, &sig), 0);
	assert_null(ledger_check_sig(w->l, b.p, b.len, &sig, &e));
	assert_int_equal(e.code, CC_EPERM);
	/* the genuine signature verifies */
	assert_int_equal(note_sign(&key_of(w, "de")->sign, b.p, b.len, &sig), 0);
	assert_non_null(ledger_check_sig(w->l, b.p, b.len, &sig, &e));
	cbuf_reset(&b);
	/* glue for a host that is not a name server of the TLD; NS without address */
	body_of(w, &b, "de", "tld/de", "de. NS a.nic.de.\nx.nic.de. A 194.0.1.53\n", now, 60);
	assert_int_equal(eval(w, b.p, de, 1, NULL, 0, now, &v, &e), CC_EINVAL);
	cbuf_reset(&b);
	body_of(w, &b, "de", "tld/de", "de. NS a.nic.de.\nde. NS z.nic.de.\n", now, 60);
	assert_int_equal(eval(w, b.p, de, 1, NULL, 0, now, &v, &e), CC_EINVAL);
	assert_non_null(strstr(e.msg, "z.nic.de. has no address"));
	cbuf_reset(&b);
	body_of(w, &b, "de", "tld/de", "de. 3600 NS a.nic.de.\n", now, 60);
	assert_int_equal(eval(w, b.p, de, 1, NULL, 0, now, &v, &e), CC_EINVAL);
	cbuf_reset(&b);
	body_of(w, &b, "de", "tld/de", "de. NS a.nic.de.\nde. MX 10 mail.de.\n", now, 60);
	assert_int_equal(eval(w, b.p, de, 1, NULL, 0, now, &v, &e), CC_EINVAL);
	/* the proposer must sign */
	{
		const char *cn[] = {"cn"};

		assert_int_equal(eval(w, b.p, cn, 1, NULL, 0, now, &v, &e), CC_EPERM);
	}
	cbuf_free(&b);
}

static void test_stale_version(void **state)
{
	struct world *w = *state;
	struct cbuf b = CBUF_INIT;
	struct ledger_verdict v;
	struct cc_err e = {0};
	const char *de[] = {"de"};
	int64_t now = T0 + 500;
	char *at;

	body_of(w, &b, "de", "tld/de", "de. NS a.nic.de.\n", now, 60);
	at = strstr(b.p, "put tld/de ");
	assert_non_null(at);
	at[11] = '0'; /* version 0: the genesis note, never a TLD's version */
	assert_int_equal(eval(w, b.p, de, 1, NULL, 0, now, &v, &e), CC_ESTALE);
	cbuf_free(&b);
}

static void test_objection_rejects(void **state)
{
	struct world *w = *state;
	struct cbuf b = CBUF_INIT;
	struct ledger_verdict v;
	struct cc_err e = {0};
	const char *s[] = {"cn"}, *o1[] = {"br"}, *o2[] = {"br", "za"};
	int64_t now = T0 + 600;

	body_of(w, &b, "cn", "tld/fr", NULL, now, 3600);
	assert_int_equal(eval(w, b.p, s, 1, o1, 1, now, &v, &e), 0);
	assert_int_equal(v.status, LEDGER_PENDING); /* cn, de, za could still make 3 of 4 */
	assert_int_equal(eval(w, b.p, s, 1, o2, 2, now, &v, &e), 0);
	assert_int_equal(v.status, LEDGER_REJECTED);
	cbuf_free(&b);
}

static void test_members_and_policies(void **state)
{
	struct world *w = *state;
	struct cbuf b = CBUF_INIT, c = CBUF_INIT;
	struct ledger_verdict v;
	struct cc_err e = {0};
	const char *three[] = {"br", "cn", "de"}, *four[] = {"br", "cn", "de", "za"};
	int64_t now = T0 + 700;
	uint64_t ver;

	/* Removing the gTLD policy would leave gTLDs ungoverned. */
	body_of(w, &b, "br", "policy/tld", NULL, now, 3600);
	assert_int_equal(eval(w, b.p, four, 4, NULL, 0, now, &v, &e), CC_EINVAL);
	cbuf_reset(&b);
	/* A consultation period: 2/3 of all members agree; 3 of 5 is not enough. */
	body_of(
	    w, &b, "br", "policy/tld",
	    "applies tld/*\nrequire chamber government 2/3\nrequire chamber * 1/2\ndelay 86400\n",
	    now, 3600);
	assert_int_equal(eval(w, b.p, three, 3, NULL, 0, now, &v, &e), 0);
	assert_int_equal(v.status, LEDGER_PENDING);
	assert_int_equal(accept(w, b.p, four, 4, now, &e), 0);
	assert_int_equal(ledger_get(w->l, "policy/tld", &c, &ver), 0);
	assert_non_null(strstr(c.p, "delay 86400\n"));
	cbuf_reset(&b);
	/* Now a gTLD change with full quorum still waits for the consultation. */
	{
		const char *q[] = {"br", "cn", "de", "isoc"};

		body_of(w, &b, "br", "tld/fr", NULL, now + 10, 2 * 86400);
		assert_int_equal(eval(w, b.p, q, 4, NULL, 0, now + 10, &v, &e), 0);
		assert_int_equal(v.status, LEDGER_PENDING);
		assert_int_equal(v.not_before, now + 10 + 86400);
		assert_int_equal(accept(w, b.p, q, 4, now + 10 + 86400, &e), 0);
		assert_int_equal(ledger_get(w->l, "tld/fr", &c, &ver), CC_ENOENT);
		/* fr's name server went with it. */
		assert_int_equal(ledger_get(w->l, "host/d.nic.fr.", &c, &ver), CC_ENOENT);
	}
	cbuf_free(&b);
	cbuf_free(&c);
}

static void test_tampered_entry_refused(void **state)
{
	struct world *w = *state;
	struct cbuf b = CBUF_INIT, entry = CBUF_INIT;
	struct note_sig sig;
	struct proposal p;
	struct cc_err e = {0};
	uint64_t size = ledger_size(w->l);
	int64_t now = ledger_time(w->l) + 5;
	char *at;

	body_of(w, &b, "de", "tld/de",
		"de. NS a.nic.de.\nde. NS c.nic.de.\nc.nic.de. A 194.0.2.53\n", now, 60);
	assert_int_equal(note_sign(&key_of(w, "de")->sign, b.p, b.len, &sig), 0);
	assert_int_equal(proposal_parse(&p, b.p, b.len, &e), 0);
	assert_int_equal(ledger_entry_build(w->l, &p, &sig, 1, now, &entry, &e), 0);
	at = strstr(entry.p, "194.0.2.53");
	at[8] = '6';
	assert_int_equal(ledger_apply_entry(w->l, (unsigned char *)entry.p, entry.len, 1, &e),
			 CC_ESIG);
	assert_int_equal(ledger_size(w->l), size);
	assert_string_not_equal(ledger_last_id(w->l), p.id);
	at[8] = '5';
	assert_int_equal(ledger_apply_entry(w->l, (unsigned char *)entry.p, entry.len, 1, &e), 0);
	assert_int_equal(ledger_size(w->l), size + 1);
	assert_string_equal(ledger_last_id(w->l), p.id);
	proposal_free(&p);
	cbuf_free(&b);
	cbuf_free(&entry);
}

static void test_accept_in_one_step(void **state)
{
	struct world *w = *state;
	struct cbuf b = CBUF_INIT, built = CBUF_INIT, entry = CBUF_INIT;
	struct ledger_verdict *v = malloc(sizeof(*v));
	struct note_sig sigs[2];
	struct proposal p;
	struct cc_err e = {0};
	int64_t now = ledger_time(w->l) + 1;
	uint64_t size = ledger_size(w->l);

	/* policy/tld now asks for a day of consultation (see test_members_and_policies). */
	body_of(w, &b, "za", "tld/net", "net. NS a.gtld-servers.net.\n", now, 2 * 86400);
	assert_int_equal(proposal_parse(&p, b.p, b.len, &e), 0);
	assert_int_equal(note_sign(&key_of(w, "za")->sign, b.p, b.len, &sigs[0]), 0);
	assert_int_equal(ledger_accept(w->l, &p, sigs, 1, NULL, 0, now, v, &entry, &e), 0);
	assert_int_equal(v->status, LEDGER_PENDING);
	assert_int_equal(entry.len, 0);
	assert_int_equal(ledger_size(w->l), size);
	assert_string_not_equal(ledger_last_id(w->l), p.id);
	/* Signatures given in any order, one repeated: the entry is canonical. */
	{
		const char *signers[] = {"br", "cn", "isoc"};
		struct note_sig all[5];

		all[0] = sigs[0];
		for (int i = 0; i < 3; i++)
			assert_int_equal(
			    note_sign(&key_of(w, signers[i])->sign, b.p, b.len, &all[i + 1]), 0);
		all[4] = all[2];
		assert_int_equal(ledger_accept(w->l, &p, all, 5, NULL, 0, now, v, &entry, &e), 0);
		assert_int_equal(v->status, LEDGER_PENDING); /* quorum met, consultation runs */
		now += 86400;
		if (ledger_entry_build(w->l, &p, all, 5, now, &built, &e) != 0)
			fail_msg("%s", e.msg);
		assert_int_equal(ledger_accept(w->l, &p, all, 5, NULL, 0, now, v, &entry, &e), 0);
	}
	assert_int_equal(v->status, LEDGER_READY);
	assert_int_equal(ledger_size(w->l), size + 1);
	assert_string_equal(ledger_last_id(w->l), p.id); /* the node indexes it by this */
	assert_int_equal(entry.len, built.len);
	assert_memory_equal(entry.p, built.p, built.len);
	{
		int64_t t = 0;
		size_t at = 0;

		assert_int_equal(
		    ledger_proposal_entry((unsigned char *)entry.p, entry.len, &t, &at), 0);
		assert_int_equal(t, now);
		assert_memory_equal(entry.p + at, b.p, b.len); /* the note, body first */
		assert_int_equal(
		    ledger_proposal_entry((unsigned char *)"concord chunk 1\nx", 17, &t, &at),
		    CC_EINVAL);
		entry.p[8] = 'P'; /* "concord Proposal" */
		assert_int_equal(
		    ledger_proposal_entry((unsigned char *)entry.p, entry.len, &t, &at), CC_EINVAL);
	}
	assert_int_equal(version_of(w, "tld/net"), (int64_t)size);
	proposal_free(&p);
	free(v);
	cbuf_free(&b);
	cbuf_free(&built);
	cbuf_free(&entry);
}

static void test_export_root(void **state)
{
	struct world *w = *state;
	struct cbuf c = CBUF_INIT;

	assert_int_equal(ledger_export_root(w->l, &c), 0);
	assert_non_null(
	    strstr(c.p, "com. 86400 IN DS 30909 8 2 "
			"E2D3C916F6DEEAC73294E8268FB5885044A833FC5459588F4A9184CFC41A5766\n"));
	/* a shared host appears once */
	{
		const char *needle = "a.gtld-servers.net. 172800 IN A 192.5.6.30\n", *p = c.p;
		int n = 0;

		while ((p = strstr(p, needle)) != NULL) {
			n++;
			p++;
		}
		assert_int_equal(n, 1);
	}
	cbuf_free(&c);
}

int main(void)
{
	/* One world, in order: each test builds on the state the previous ones left. */
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_genesis_state),
	    cmocka_unit_test(test_cctld_alone),
	    cmocka_unit_test(test_gtld_quorum),
	    cmocka_unit_test(test_shared_host_needs_every_user),
	    cmocka_unit_test(test_refusals),
	    cmocka_unit_test(test_stale_version),
	    cmocka_unit_test(test_objection_rejects),
	    cmocka_unit_test(test_members_and_policies),
	    cmocka_unit_test(test_tampered_entry_refused),
	    cmocka_unit_test(test_accept_in_one_step),
	    cmocka_unit_test(test_export_root),
	    cmocka_unit_test(test_shared_host_left_by_both_users),
	    cmocka_unit_test(test_touched_names_kept_by_halves),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, setup, teardown);
}
