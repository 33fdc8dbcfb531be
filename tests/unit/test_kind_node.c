/* The node/ and network/ record kinds: a genesis naming nodes, URLs and their canonical
 * form, the uniqueness of URLs and keys, nodes that go with their members, the sequencer
 * that must run a node, the witness quorum, and the policies that govern them. */
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
#include "core/tlog.h"

#define T0 1795000000 /* genesis time */
#define NM 5

static const char *ids[NM] = {"br", "cn", "de", "isoc", "za"};
static const char *all[NM] = {"br", "cn", "de", "isoc", "za"};

struct world {
	struct key_pair keys[NM];
	struct ledger *l;
	struct cbuf bundle; /* the genesis file */
	int64_t now;	    /* time of the next proposal */
};

/* The public half of the Ed25519 key of seed bytes b, in base64. */
static void pub_b64(int b, char out[45])
{
	unsigned char seed[32], pk[32], sk[64];

	memset(seed, b, sizeof(seed));
	crypto_sign_seed_keypair(pk, sk, seed);
	sodium_bin2base64(out, 45, pk, 32, sodium_base64_VARIANT_ORIGINAL);
}

static void pub_raw(int b, unsigned char pk[32])
{
	unsigned char seed[32], sk[64];

	memset(seed, b, sizeof(seed));
	crypto_sign_seed_keypair(pk, sk, seed);
}

/* The content of a node record with keys of seeds k and z. */
static void node_content(char *out, size_t n, const char *url, int k, int z)
{
	char key[45], zsk[45];

	pub_b64(k, key);
	pub_b64(z, zsk);
	snprintf(out, n, "url %s\nkey %s\nzsk %s\n", url, key, zsk);
}

/* Replaces from by to in chunk 1 of an unsigned genesis, and its hash in entry 0: a genesis
 * its builder would not have written. */
static void tamper(struct cbuf *bundle, const char *from, const char *to)
{
	const unsigned char *entry;
	size_t elen, off = 0;
	struct cbuf e0 = CBUF_INIT, c1 = CBUF_INIT, out = CBUF_INIT;
	unsigned char h[32];
	char hex[2][65];
	const char *at;

	assert_int_equal(
	    tlog_bundle_next((unsigned char *)bundle->p, bundle->len, &off, &entry, &elen), 1);
	assert_int_equal(cbuf_put(&e0, entry, elen), 0);
	assert_int_equal(
	    tlog_bundle_next((unsigned char *)bundle->p, bundle->len, &off, &entry, &elen), 1);
	assert_int_equal(off, bundle->len); /* one chunk */
	crypto_hash_sha256(h, entry, elen);
	sodium_bin2hex(hex[0], sizeof(hex[0]), h, 32);
	at = memmem(entry, elen, from, strlen(from));
	assert_non_null(at);
	assert_int_equal(cbuf_put(&c1, entry, (size_t)(at - (const char *)entry)), 0);
	assert_int_equal(cbuf_puts(&c1, to), 0);
	assert_int_equal(cbuf_put(&c1, at + strlen(from),
				  elen - (size_t)(at - (const char *)entry) - strlen(from)),
			 0);
	crypto_hash_sha256(h, (unsigned char *)c1.p, c1.len);
	sodium_bin2hex(hex[1], sizeof(hex[1]), h, 32);
	memcpy(strstr(e0.p, hex[0]), hex[1], 64);
	assert_int_equal(tlog_bundle_append(&out, e0.p, e0.len), 0);
	assert_int_equal(tlog_bundle_append(&out, c1.p, c1.len), 0);
	cbuf_free(bundle);
	*bundle = out;
	cbuf_free(&e0);
	cbuf_free(&c1);
}

/* A genesis of five members; nodes for br, cn, de (keys 101.., zsks 201..) unless nnodes is
 * 0; chunk 1 tampered with when from is set. Returns what applying it gave. */
static int world_make(struct world *w, size_t nnodes, const char *sequencer, const char *quorum,
		      const char *from, const char *to, struct cc_err *e)
{
	struct genesis_member gm[NM];
	struct ledger_node gn[3];
	struct genesis_params gp = {0};
	const unsigned char *entry;
	size_t elen, off = 0;
	int r = 0;

	for (int i = 0; i < NM; i++) {
		unsigned char seed[32];

		memset(seed, i + 1, sizeof(seed));
		assert_int_equal(note_signer_from_seed(&w->keys[i].sign, ids[i], seed), 0);
		crypto_box_seed_keypair(w->keys[i].box_pk, w->keys[i].box_sk, seed);
		memset(&gm[i], 0, sizeof(gm[i]));
		snprintf(gm[i].id, sizeof(gm[i].id), "%s", ids[i]);
		gm[i].chamber = i == 3 ? CHAMBER_TECHNICAL : CHAMBER_GOVERNMENT;
		key_public(&w->keys[i], &gm[i].pub);
	}
	/* Given out of order and not canonical: the genesis sorts and canonicalises. */
	for (size_t i = 0; i < nnodes; i++) {
		size_t j = nnodes - 1 - i;

		memset(&gn[i], 0, sizeof(gn[i]));
		snprintf(gn[i].id, sizeof(gn[i].id), "%s", ids[j]);
		snprintf(gn[i].url, sizeof(gn[i].url), "HTTP://Node.%s.Example:8053", ids[j]);
		pub_raw(101 + (int)j, gn[i].key);
		pub_raw(201 + (int)j, gn[i].zsk);
	}
	gp.origin = "test.concord.example/root";
	gp.time = T0;
	gp.members = gm;
	gp.nmembers = NM;
	gp.nodes = gn;
	gp.nnodes = nnodes;
	gp.sequencer = sequencer;
	gp.witness_quorum = quorum;
	if (genesis_build(&gp, &w->bundle, e) != 0)
		fail_msg("genesis_build: %s", e->msg);
	if (from)
		tamper(&w->bundle, from, to);
	for (int i = 0; i < NM; i++)
		assert_int_equal(genesis_sign(&w->bundle, &w->keys[i], e), 0);
	w->l = ledger_new();
	while (r == 0 && tlog_bundle_next((unsigned char *)w->bundle.p, w->bundle.len, &off, &entry,
					  &elen) == 1)
		r = ledger_apply_entry(w->l, entry, elen, 1, e);
	w->now = T0 + 100;
	return r;
}

static struct world *world_new(size_t nnodes, const char *sequencer, const char *quorum)
{
	struct world *w = calloc(1, sizeof(*w));
	struct cc_err e = {0};

	assert_non_null(w);
	if (world_make(w, nnodes, sequencer, quorum, NULL, NULL, &e) != 0)
		fail_msg("genesis entry: %s", e.msg);
	assert_true(ledger_ready(w->l));
	return w;
}

static int setup(void **state)
{
	*state = world_new(3, NULL, NULL);
	return 0;
}

static int setup_plain(void **state)
{
	*state = world_new(0, NULL, NULL);
	return 0;
}

static int teardown(void **state)
{
	struct world *w = *state;

	ledger_free(w->l);
	cbuf_free(&w->bundle);
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

/* An operation for proposal(): content NULL deletes. */
struct op {
	const char *path;
	const char *content;
};

/* Builds a proposal of ops at the current versions, signed by signers, and accepts it when
 * ready: the result of ledger_accept, or CC_EPERM when it stays pending. */
static int propose(struct world *w, const struct op *ops, size_t nops, const char *const *signers,
		   size_t nsigners, struct cc_err *e)
{
	struct proposal_op po[8];
	struct note_sig sigs[NM];
	struct cbuf body = CBUF_INIT, entry = CBUF_INIT;
	struct ledger_verdict *v = malloc(sizeof(*v));
	struct proposal p;
	int r;

	assert_non_null(v);
	assert_true(nops <= 8);
	for (size_t i = 0; i < nops; i++) {
		memset(&po[i], 0, sizeof(po[i]));
		po[i].kind = ops[i].content ? OP_PUT : OP_DELETE;
		snprintf(po[i].path, sizeof(po[i].path), "%s", ops[i].path);
		po[i].version = version_of(w, ops[i].path);
		po[i].content = ops[i].content;
		po[i].content_len = ops[i].content ? strlen(ops[i].content) : 0;
	}
	w->now++;
	assert_int_equal(proposal_format(&body, ledger_origin(w->l), signers[0], w->now,
					 w->now + 3600, po, nops),
			 0);
	r = proposal_parse(&p, body.p, body.len, e);
	if (r == 0) {
		for (size_t i = 0; i < nsigners; i++)
			for (int k = 0; k < NM; k++)
				if (strcmp(ids[k], signers[i]) == 0)
					assert_int_equal(
					    note_sign(&w->keys[k].sign, body.p, body.len, &sigs[i]),
					    0);
		r = ledger_accept(w->l, &p, sigs, nsigners, NULL, 0, w->now, v, &entry, e);
		if (r == 0 && v->status != LEDGER_READY)
			r = CC_EPERM;
		proposal_free(&p);
	}
	free(v);
	cbuf_free(&body);
	cbuf_free(&entry);
	return r;
}

static int put1(struct world *w, const char *path, const char *content, struct cc_err *e)
{
	struct op o = {path, content};

	return propose(w, &o, 1, all, NM, e);
}

static void test_genesis_records(void **state)
{
	struct world *w = *state;
	struct cbuf c = CBUF_INIT;
	char want[256], pol[PATH_MAX_LEN + 1];
	const struct ledger_node *n;
	unsigned char pk[32];
	uint64_t v = 99;

	assert_int_equal(ledger_node_count(w->l), 3);
	assert_string_equal(ledger_node_at(w->l, 0)->id, "br");
	assert_string_equal(ledger_node_at(w->l, 1)->id, "cn");
	assert_string_equal(ledger_node_at(w->l, 2)->id, "de");
	assert_null(ledger_node_at(w->l, 3));
	assert_null(ledger_node(w->l, "za"));
	n = ledger_node(w->l, "cn");
	assert_non_null(n);
	assert_string_equal(n->url, "http://node.cn.example:8053");
	pub_raw(102, pk);
	assert_memory_equal(n->key, pk, 32);
	pub_raw(202, pk);
	assert_memory_equal(n->zsk, pk, 32);
	assert_int_equal(n->version, 1); /* written by chunk 1 */
	assert_string_equal(ledger_sequencer(w->l), "br");
	assert_string_equal(ledger_witness_quorum(w->l), "2/3");
	assert_int_equal(ledger_witness_need(w->l), 2);
	/* Through the generic reading, canonical. */
	assert_int_equal(ledger_get(w->l, "node/cn", &c, &v), 0);
	node_content(want, sizeof(want), "http://node.cn.example:8053", 102, 202);
	assert_string_equal(c.p, want);
	assert_int_equal(v, 1);
	cbuf_reset(&c);
	assert_int_equal(ledger_get(w->l, "network/sequencer", &c, &v), 0);
	assert_string_equal(c.p, "sequencer br\n");
	cbuf_reset(&c);
	assert_int_equal(ledger_get(w->l, "network/witness", &c, &v), 0);
	assert_string_equal(c.p, "quorum 2/3\n");
	assert_int_equal(v, 1);
	assert_int_equal(ledger_get(w->l, "network/foo", &c, &v), CC_ENOENT);
	assert_int_equal(ledger_get(w->l, "node/za", &c, &v), CC_ENOENT);
	cbuf_reset(&c);
	assert_int_equal(ledger_get(w->l, "policy/node", &c, &v), 0);
	assert_string_equal(c.p, "applies node/*\nrequire all 2/3\n");
	cbuf_reset(&c);
	assert_int_equal(ledger_get(w->l, "policy/network", &c, &v), 0);
	assert_string_equal(c.p, "applies network/*\nrequire all 2/3\n");
	assert_int_equal(ledger_policy_for(w->l, "node/cn", pol), 0);
	assert_string_equal(pol, "policy/node");
	assert_int_equal(ledger_policy_for(w->l, "network/sequencer", pol), 0);
	assert_string_equal(pol, "policy/network");
	cbuf_free(&c);
}

static int collect(void *ctx, const char *path, const char *content, size_t len, uint64_t version)
{
	struct cbuf *out = ctx;

	(void)content;
	(void)len;
	(void)version;
	return cbuf_printf(out, "%s ", path);
}

static void test_genesis_order(void **state)
{
	struct world *w = *state;
	struct cbuf c = CBUF_INIT;
	const unsigned char *entry;
	size_t elen, off = 0;
	const char *p0, *p1, *p2, *p3, *p4;

	assert_int_equal(ledger_foreach(w->l, "n", collect, &c), 0);
	assert_string_equal(c.p, "network/sequencer network/witness node/br node/cn node/de ");
	/* Chunk 1: policies by path, the network, the nodes by id. */
	assert_int_equal(
	    tlog_bundle_next((unsigned char *)w->bundle.p, w->bundle.len, &off, &entry, &elen), 1);
	assert_int_equal(
	    tlog_bundle_next((unsigned char *)w->bundle.p, w->bundle.len, &off, &entry, &elen), 1);
	cbuf_reset(&c);
	assert_int_equal(cbuf_put(&c, entry, elen), 0);
	p0 = strstr(c.p, "record policy/member ");
	p1 = strstr(c.p, "record policy/network 2\napplies network/*\nrequire all 2/3\n"
			 "record policy/node 2\napplies node/*\nrequire all 2/3\n"
			 "record policy/policy ");
	p2 = strstr(c.p, "record policy/tld ");
	p3 = strstr(c.p, "record network/sequencer 1\nsequencer br\n"
			 "record network/witness 1\nquorum 2/3\nrecord node/br 3\n");
	p4 = strstr(c.p, "record node/de 3\n");
	assert_true(p0 && p1 && p2 && p3 && p4);
	assert_true(p0 < p1 && p1 < p2 && p2 < p3 && p3 < p4);
	cbuf_free(&c);
}

static void test_genesis_refusals(void **state)
{
	struct genesis_member gm[2];
	struct ledger_node gn[2];
	struct genesis_params gp = {0};
	struct key_pair k[2];
	struct cbuf b = CBUF_INIT;
	struct cc_err e = {0};

	(void)state;
	for (int i = 0; i < 2; i++) {
		unsigned char seed[32];

		memset(seed, i + 1, sizeof(seed));
		assert_int_equal(note_signer_from_seed(&k[i].sign, ids[i], seed), 0);
		crypto_box_seed_keypair(k[i].box_pk, k[i].box_sk, seed);
		memset(&gm[i], 0, sizeof(gm[i]));
		snprintf(gm[i].id, sizeof(gm[i].id), "%s", ids[i]);
		gm[i].chamber = CHAMBER_GOVERNMENT;
		key_public(&k[i], &gm[i].pub);
		memset(&gn[i], 0, sizeof(gn[i]));
		snprintf(gn[i].id, sizeof(gn[i].id), "%s", ids[i]);
		snprintf(gn[i].url, sizeof(gn[i].url), "http://192.0.2.%d:8053", i + 1);
		pub_raw(101 + i, gn[i].key);
		pub_raw(201 + i, gn[i].zsk);
	}
	gp.origin = "test.concord.example/root";
	gp.time = T0;
	gp.members = gm;
	gp.nmembers = 2;
	gp.nodes = gn;
	gp.nnodes = 2;
	assert_int_equal(genesis_build(&gp, &b, &e), 0);
	cbuf_reset(&b);
	gp.sequencer = "de";
	assert_int_equal(genesis_build(&gp, &b, &e), CC_EINVAL);
	assert_non_null(strstr(e.msg, "sequencer de"));
	gp.sequencer = "cn";
	gp.witness_quorum = "3/2";
	assert_int_equal(genesis_build(&gp, &b, &e), CC_EINVAL);
	gp.witness_quorum = "1/2";
	assert_int_equal(genesis_build(&gp, &b, &e), 0);
	cbuf_reset(&b);
	snprintf(gn[1].id, sizeof(gn[1].id), "de");
	assert_int_equal(genesis_build(&gp, &b, &e), CC_EINVAL);
	assert_non_null(strstr(e.msg, "not a founding member"));
	snprintf(gn[1].id, sizeof(gn[1].id), "cn");
	memcpy(gn[1].zsk, gn[0].zsk, 32);
	assert_int_equal(genesis_build(&gp, &b, &e), CC_EINVAL);
	assert_non_null(strstr(e.msg, "would share a zsk"));
	pub_raw(202, gn[1].zsk);
	snprintf(gn[1].url, sizeof(gn[1].url), "http://192.0.2.1:8053");
	assert_int_equal(genesis_build(&gp, &b, &e), CC_EINVAL);
	assert_non_null(strstr(e.msg, "would share a url"));
	/* No nodes: no sequencer nor quorum either. */
	gp.nnodes = 0;
	assert_int_equal(genesis_build(&gp, &b, &e), CC_EINVAL);
	cbuf_free(&b);
}

static void test_url(void **state)
{
	static const struct {
		const char *in, *out; /* out NULL: refused */
	} cases[] = {
	    {"http://192.0.2.1:8053", "http://192.0.2.1:8053"},
	    {"https://node.example", "https://node.example"},
	    {"HTTPS://Node.CN.Example:443", "https://node.cn.example:443"},
	    {"http://[2001:DB8:0:0::1]:8053", "http://[2001:db8::1]:8053"},
	    {"http://[::ffff:192.0.2.1]", "http://[::ffff:192.0.2.1]"},
	    {"http://a-b.c1.example:65535", "http://a-b.c1.example:65535"},
	    {"http://localhost:1", "http://localhost:1"},
	    {"ftp://node.example", NULL},
	    {"node.example:8053", NULL},
	    {"http://node.example/", NULL},
	    {"http://node.example/api", NULL},
	    {"http://node.example?x=1", NULL},
	    {"http://node.example#f", NULL},
	    {"http://user@node.example", NULL},
	    {"http://user:pw@node.example:80", NULL},
	    {"http://node.example:0", NULL},
	    {"http://node.example:65536", NULL},
	    {"http://node.example:08053", NULL},
	    {"http://node.example:", NULL},
	    {"http://node.example:80:80", NULL},
	    {"http://node.example:+80", NULL},
	    {"http://node.example.", NULL},
	    {"http://", NULL},
	    {"http://-node.example", NULL},
	    {"http://node-.example", NULL},
	    {"http://no_de.example", NULL},
	    {"http://node..example", NULL},
	    {"http://192.0.2.01", NULL},
	    {"http://192.0.2", NULL},
	    {"http://192.0.2.256", NULL},
	    {"http://[2001:db8::1", NULL},
	    {"http://[2001:db8::1]x", NULL},
	    {"http://[fe80::1%eth0]", NULL},
	    {"http://[192.0.2.1]", NULL},
	    {"http://node example", NULL},
	};
	char out[NODE_URL_MAX + 1], longer[300], label[64];
	struct cc_err e = {0};
	size_t n;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int r = node_url_parse(out, cases[i].in, &e);

		if (cases[i].out == NULL && r != CC_EINVAL)
			fail_msg("%s: accepted as %s", cases[i].in, out);
		if (cases[i].out && r != 0)
			fail_msg("%s: %s", cases[i].in, e.msg);
		if (cases[i].out)
			assert_string_equal(out, cases[i].out);
	}
	/* Labels of 63 bytes but not 64; 200 bytes in all but not 201. */
	memset(label, 'a', 63);
	label[63] = '\0';
	snprintf(longer, sizeof(longer), "http://%s.example", label);
	assert_int_equal(node_url_parse(out, longer, &e), 0);
	snprintf(longer, sizeof(longer), "http://%sa.example", label);
	assert_int_equal(node_url_parse(out, longer, &e), CC_EINVAL);
	n = (size_t)snprintf(longer, sizeof(longer), "http://%.62s.%.62s.%.62s:8053", label, label,
			     label);
	assert_int_equal(n, NODE_URL_MAX);
	assert_int_equal(node_url_parse(out, longer, &e), 0);
	assert_string_equal(out, longer);
	snprintf(longer, sizeof(longer), "http://%.62s.%.62s.%.63s:8053", label, label, label);
	assert_int_equal(node_url_parse(out, longer, &e), CC_EINVAL);
	assert_non_null(strstr(e.msg, "longer than 200"));
}

static void test_record_refusals(void **state)
{
	struct world *w = *state;
	char c[256], key[45];
	struct cc_err e = {0};

	/* Fine: za's node, with an upper-case URL that becomes canonical. */
	node_content(c, sizeof(c), "http://Node.ZA.example", 105, 205);
	assert_int_equal(put1(w, "node/za", c, &e), 0);
	assert_string_equal(ledger_node(w->l, "za")->url, "http://node.za.example");
	assert_int_equal(ledger_node(w->l, "za")->version, ledger_size(w->l) - 1);
	assert_int_equal(ledger_witness_need(w->l), 3); /* 2/3 of 4 nodes */
	/* Another node's key, zsk or URL; a key that is its own zsk; a key that is another
	 * node's zsk. */
	node_content(c, sizeof(c), "http://isoc.example", 102, 204);
	assert_int_equal(put1(w, "node/isoc", c, &e), CC_EINVAL);
	assert_non_null(strstr(e.msg, "node/cn and node/isoc would share a key"));
	node_content(c, sizeof(c), "http://isoc.example", 104, 202);
	assert_int_equal(put1(w, "node/isoc", c, &e), CC_EINVAL);
	assert_non_null(strstr(e.msg, "would share a zsk"));
	node_content(c, sizeof(c), "http://node.cn.example:8053", 104, 204);
	assert_int_equal(put1(w, "node/isoc", c, &e), CC_EINVAL);
	assert_non_null(strstr(e.msg, "would share a url"));
	node_content(c, sizeof(c), "http://isoc.example", 104, 104);
	assert_int_equal(put1(w, "node/isoc", c, &e), CC_EINVAL);
	assert_non_null(strstr(e.msg, "key and zsk must differ"));
	node_content(c, sizeof(c), "http://isoc.example", 202, 204);
	assert_int_equal(put1(w, "node/isoc", c, &e), CC_EINVAL);
	/* Not a member; not a member id. */
	node_content(c, sizeof(c), "http://xx.example", 106, 206);
	assert_int_equal(put1(w, "node/xx", c, &e), CC_EINVAL);
	assert_non_null(strstr(e.msg, "node/xx: xx is not a member"));
	assert_int_equal(put1(w, "node/X", c, &e), CC_EINVAL);
	/* Content: order, extra lines, keys that are not canonical or not 32 bytes. */
	pub_b64(104, key);
	snprintf(c, sizeof(c), "key %s\nurl http://isoc.example\nzsk %s\n", key, key);
	assert_int_equal(put1(w, "node/isoc", c, &e), CC_EINVAL);
	snprintf(c, sizeof(c), "url http://isoc.example\nkey %s\nzsk %s\nx y\n", key, key);
	assert_int_equal(put1(w, "node/isoc", c, &e), CC_EINVAL);
	node_content(c, sizeof(c), "http://isoc.example", 104, 204);
	strstr(c, "=\nzsk")[-1] ^= 1; /* a non-zero trailing bit */
	assert_int_equal(put1(w, "node/isoc", c, &e), CC_EINVAL);
	assert_non_null(strstr(e.msg, "key is not the canonical base64"));
	snprintf(c, sizeof(c), "url http://isoc.example\nkey AAAA\nzsk %s\n", key);
	assert_int_equal(put1(w, "node/isoc", c, &e), CC_EINVAL);
	node_content(c, sizeof(c), "http://isoc.example/", 104, 204);
	assert_int_equal(put1(w, "node/isoc", c, &e), CC_EINVAL);
	assert_non_null(strstr(e.msg, "node/isoc: url"));
	/* Versions: new where one exists, a stale version. */
	node_content(c, sizeof(c), "http://cn2.example", 102, 202);
	{
		struct op o = {"node/cn", c};
		struct proposal_op po = {0};
		struct cbuf body = CBUF_INIT;
		struct proposal p;
		struct ledger_verdict *v = malloc(sizeof(*v));

		po.kind = OP_PUT;
		snprintf(po.path, sizeof(po.path), "%s", o.path);
		po.content = c;
		po.content_len = strlen(c);
		for (int k = 0; k < 2; k++) {
			po.version = k == 0 ? PROPOSAL_VERSION_NEW : 0;
			cbuf_reset(&body);
			assert_int_equal(proposal_format(&body, ledger_origin(w->l), "cn", w->now,
							 w->now + 60, &po, 1),
					 0);
			assert_int_equal(proposal_parse(&p, body.p, body.len, &e), 0);
			assert_int_equal(ledger_evaluate(w->l, &p, all, NM, NULL, 0, w->now, v, &e),
					 CC_ESTALE);
			proposal_free(&p);
		}
		free(v);
		cbuf_free(&body);
	}
	/* A URL change of its own is fine, and keeps the others unique. */
	assert_int_equal(put1(w, "node/cn", c, &e), 0);
	assert_string_equal(ledger_node(w->l, "cn")->url, "http://cn2.example");
}

static void test_member_goes_with_node(void **state)
{
	struct world *w = *state;
	struct op both[2] = {{"member/de", NULL}, {"node/de", NULL}};
	struct cc_err e = {0};

	assert_int_equal(put1(w, "member/de", NULL, &e), CC_EINVAL);
	assert_non_null(strstr(e.msg, "member/de runs node/de"));
	assert_non_null(ledger_member(w->l, "de"));
	/* Both in one proposal: 2/3 of all members for each policy. */
	assert_int_equal(propose(w, both, 2, all, 3, &e), CC_EPERM); /* 3 of 5: pending */
	assert_int_equal(propose(w, both, 2, all, 4, &e), 0);
	assert_null(ledger_member(w->l, "de"));
	assert_null(ledger_node(w->l, "de"));
	assert_int_equal(ledger_node_count(w->l), 2);
	assert_int_equal(ledger_witness_need(w->l), 2); /* 2/3 of 2 */
}

static void test_sequencer(void **state)
{
	struct world *w = *state;
	struct op move[2] = {{"node/br", NULL}, {"network/sequencer", "sequencer cn\n"}};
	struct cc_err e = {0};
	char c[256];

	assert_int_equal(put1(w, "network/sequencer", "sequencer cn\n", &e), 0);
	assert_string_equal(ledger_sequencer(w->l), "cn");
	assert_int_equal(version_of(w, "network/sequencer"), (int64_t)ledger_size(w->l) - 1);
	/* A member without a node, a stranger, not a member id. */
	assert_int_equal(put1(w, "network/sequencer", "sequencer isoc\n", &e), CC_EINVAL);
	assert_non_null(strstr(e.msg, "isoc has no node record"));
	assert_int_equal(put1(w, "network/sequencer", "sequencer xx\n", &e), CC_EINVAL);
	assert_int_equal(put1(w, "network/sequencer", "sequencer CN\n", &e), CC_EINVAL);
	assert_int_equal(put1(w, "network/sequencer", "sequencer cn\nsequencer br\n", &e),
			 CC_EINVAL);
	/* The sequencer's node stays while it is the sequencer's. */
	assert_int_equal(put1(w, "node/cn", NULL, &e), CC_EINVAL);
	assert_non_null(strstr(e.msg, "node/cn runs the sequencer"));
	/* Moving it back to br in the same proposal as br's node goes is refused; moving it to
	 * cn (already there) while br goes is fine. */
	move[1].content = "sequencer br\n";
	assert_int_equal(propose(w, move, 2, all, NM, &e), CC_EINVAL);
	move[1].content = "sequencer de\n";
	assert_int_equal(propose(w, move, 2, all, NM, &e), 0);
	assert_string_equal(ledger_sequencer(w->l), "de");
	assert_null(ledger_node(w->l, "br"));
	/* A node may still change its own record while it sequences. */
	node_content(c, sizeof(c), "http://de.example", 103, 203);
	assert_int_equal(put1(w, "node/de", c, &e), 0);
}

static void test_network_records(void **state)
{
	struct world *w = *state;
	struct cc_err e = {0};
	static const char *bad[] = {"quorum 0/3\n",  "quorum 3/2\n",  "quorum 1/101\n",
				    "quorum 02/3\n", "quorum 2/03\n", "quorum 2/3 x\n",
				    "quorum +2/3\n", "quorum 2\n",    "sequencer br\n"};

	assert_int_equal(put1(w, "network/sequencer", NULL, &e), CC_EINVAL);
	assert_non_null(strstr(e.msg, "cannot be deleted"));
	assert_int_equal(put1(w, "network/witness", NULL, &e), CC_EINVAL);
	assert_int_equal(put1(w, "network/foo", "x y\n", &e), CC_EINVAL);
	assert_non_null(strstr(e.msg, "unknown network record"));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (put1(w, "network/witness", bad[i], &e) != CC_EINVAL)
			fail_msg("%s accepted", bad[i]);
	assert_string_equal(ledger_witness_quorum(w->l), "2/3");
	/* 1/2 of 3 nodes is 2, of 4 is 2; 1/1 of 4 is 4; 2/3 of 5 is 4. */
	assert_int_equal(put1(w, "network/witness", "quorum 1/2\n", &e), 0);
	assert_string_equal(ledger_witness_quorum(w->l), "1/2");
	assert_int_equal(ledger_witness_need(w->l), 2);
	{
		char c[256];

		node_content(c, sizeof(c), "http://za.example", 105, 205);
		assert_int_equal(put1(w, "node/za", c, &e), 0);
		assert_int_equal(ledger_witness_need(w->l), 2);
		assert_int_equal(put1(w, "network/witness", "quorum 1/1\n", &e), 0);
		assert_int_equal(ledger_witness_need(w->l), 4);
		node_content(c, sizeof(c), "http://isoc.example", 104, 204);
		assert_int_equal(put1(w, "node/isoc", c, &e), 0);
		assert_int_equal(put1(w, "network/witness", "quorum 2/3\n", &e), 0);
		assert_int_equal(ledger_witness_need(w->l), 4);
	}
}

static int touched(void *ctx, const char *name)
{
	return cbuf_printf(ctx, "%s ", name);
}

static void test_node_touches_apex(void **state)
{
	struct world *w = *state;
	struct cbuf t = CBUF_INIT;
	struct cc_err e = {0};
	uint64_t before = ledger_size(w->l);
	char c[256];

	assert_int_equal(put1(w, "network/witness", "quorum 1/2\n", &e), 0);
	assert_int_equal(ledger_touched(w->l, before, touched, &t), 0);
	assert_int_equal(t.len, 0); /* the witness quorum is not in the zone */
	node_content(c, sizeof(c), "http://za.example", 105, 205);
	assert_int_equal(put1(w, "node/za", c, &e), 0);
	assert_int_equal(ledger_touched(w->l, before, touched, &t), 0);
	assert_string_equal(t.p, ". ");
	cbuf_free(&t);
}

static void test_policies(void **state)
{
	struct world *w = *state;
	struct cc_err e = {0};

	/* Without policy/node, the nodes there are would be ungoverned. */
	assert_int_equal(put1(w, "policy/node", NULL, &e), CC_EINVAL);
	assert_non_null(strstr(e.msg, "no policy would govern node/br"));
	assert_int_equal(put1(w, "policy/network", NULL, &e), CC_EINVAL);
	assert_non_null(strstr(e.msg, "no policy would govern network/sequencer"));
	/* A narrower policy for one node is fine, and then governs it. */
	assert_int_equal(put1(w, "policy/node-cn", "applies node/cn\nrequire member cn\n", &e), 0);
	{
		char pol[PATH_MAX_LEN + 1], c[256];
		const char *cn[] = {"cn"};
		struct op o = {"node/cn", c};

		assert_int_equal(ledger_policy_for(w->l, "node/cn", pol), 0);
		assert_string_equal(pol, "policy/node-cn");
		node_content(c, sizeof(c), "http://cn.example", 102, 202);
		assert_int_equal(propose(w, &o, 1, cn, 1, &e), 0);
	}
}

/* A network founded without nodes: no node or network policy, so no node either until
 * the members add them; the first node needs the network records beside it. */
static void test_plain_network(void **state)
{
	struct world *w = *state;
	struct op first[3] = {{"network/sequencer", "sequencer cn\n"},
			      {"network/witness", "quorum 2/3\n"},
			      {"node/cn", NULL}};
	struct cc_err e = {0};
	struct cbuf c = CBUF_INIT;
	char node[256];

	assert_int_equal(ledger_node_count(w->l), 0);
	assert_string_equal(ledger_sequencer(w->l), "");
	assert_string_equal(ledger_witness_quorum(w->l), "");
	assert_int_equal(ledger_witness_need(w->l), 0);
	assert_int_equal(ledger_foreach(w->l, "n", collect, &c), 0);
	assert_int_equal(c.len, 0);
	node_content(node, sizeof(node), "http://cn.example", 102, 202);
	first[2].content = node;
	assert_int_equal(put1(w, "node/cn", node, &e), CC_EINVAL);
	assert_non_null(strstr(e.msg, "needs network/sequencer and network/witness"));
	assert_int_equal(propose(w, first, 3, all, NM, &e), CC_EINVAL);
	assert_non_null(strstr(e.msg, "no policy would govern node/cn"));
	assert_int_equal(put1(w, "policy/node", "applies node/*\nrequire all 2/3\n", &e), 0);
	assert_int_equal(put1(w, "policy/network", "applies network/*\nrequire all 2/3\n", &e), 0);
	assert_int_equal(propose(w, first, 3, all, NM, &e), 0);
	assert_string_equal(ledger_sequencer(w->l), "cn");
	assert_int_equal(ledger_witness_need(w->l), 1);
	cbuf_free(&c);
}

static void test_genesis_one_node(void **state)
{
	struct world *w = world_new(1, "br", "1/1");
	struct cbuf c = CBUF_INIT;
	uint64_t v;

	(void)state;
	assert_int_equal(ledger_node_count(w->l), 1);
	assert_int_equal(ledger_witness_need(w->l), 1);
	assert_int_equal(ledger_get(w->l, "network/witness", &c, &v), 0);
	assert_string_equal(c.p, "quorum 1/1\n");
	cbuf_free(&c);
	teardown((void **)&w);
}

/* What the genesis builder refuses to write, the ledger refuses to read: hand-made chunks. */
static void test_genesis_checked_by_ledger(void **state)
{
	static const struct {
		const char *from, *to, *msg;
	} cases[] = {
	    {"record network/sequencer 1\nsequencer br\n", "",
	     "needs network/sequencer and network/witness"},
	    {"record network/witness 1\nquorum 2/3\n", "",
	     "needs network/sequencer and network/witness"},
	    {"sequencer br\n", "sequencer isoc\n", "isoc has no node record"},
	    {"record policy/node 2\napplies node/*\nrequire all 2/3\n", "",
	     "no policy would govern node/br"},
	    {"record node/de 3\n", "record node/xx 3\n", "node/xx: xx is not a member"},
	    {"quorum 2/3\n", "quorum 2/0\n", "quorum N/D"},
	    {"network/witness 1", "network/quorum 1", "unknown network record"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct world *w = calloc(1, sizeof(*w));
		struct cc_err e = {0};

		assert_non_null(w);
		assert_int_equal(world_make(w, 3, NULL, NULL, cases[i].from, cases[i].to, &e),
				 CC_EINVAL);
		if (strstr(e.msg, cases[i].msg) == NULL)
			fail_msg("case %zu: %s", i, e.msg);
		assert_false(ledger_ready(w->l));
		teardown((void **)&w);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_genesis_records, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_genesis_order, setup, teardown),
	    cmocka_unit_test(test_genesis_refusals),
	    cmocka_unit_test(test_url),
	    cmocka_unit_test_setup_teardown(test_record_refusals, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_member_goes_with_node, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sequencer, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_network_records, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_node_touches_apex, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_policies, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_plain_network, setup_plain, teardown),
	    cmocka_unit_test(test_genesis_one_node),
	    cmocka_unit_test(test_genesis_checked_by_ledger),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
