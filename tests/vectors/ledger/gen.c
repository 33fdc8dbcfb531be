/* Writes the ledger vectors (see README.md in this directory). Built on demand, not by the
 * Makefile:
 *
 *   make build
 *   cc -std=c17 -D_DEFAULT_SOURCE -D_GNU_SOURCE -Isrc -o build/gen-ledger \
 *      tests/vectors/ledger/gen.c build/libconcord.a \
 *      $(pkg-config --libs libsodium libknot libzscanner)
 *   rm -rf tests/vectors/ledger/entries tests/vectors/ledger/invalid \
 *      tests/vectors/ledger/invalid-genesis fuzz/corpus/fuzz_entry fuzz/corpus/fuzz_proposal
 *   build/gen-ledger tests/vectors/ledger fuzz/corpus
 *
 * Everything is deterministic (fixed keys, fixed times, Ed25519 signatures are deterministic),
 * so running it again writes the same bytes. It checks what it writes as it goes: every valid
 * entry is applied with full verification, and every invalid entry must be refused with the
 * code its README line gives, leaving the ledger as it was; otherwise it stops and says why. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/ledger.h"
#include "core/merkle.h"
#include "core/proposal.h"
#include "core/tfmt.h"
#include "core/tlog.h"
#include "scenario.h"

#define MAX_ENTRIES 64
#define WEEK	    (7 * 86400)
#define CURRENT	    INT64_MIN /* an op's version: the record's current one */

struct gen {
	struct key_pair keys[SCENARIO_KEYS]; /* founders, then fr */
	struct ledger *l;		     /* state after the entries so far */
	struct cbuf entries[MAX_ENTRIES];    /* every valid entry, in log order */
	size_t n;			     /* entries written */
	const char *dir;		     /* output directory */
	const char *corpus;		     /* fuzz corpus root, or NULL */
	struct cbuf readme;		     /* invalid/README being written */
	struct cbuf cases;		     /* invalid entry names, one per line */
	struct cbuf greadme;		     /* invalid-genesis/README being written */
	struct cbuf gcases;		     /* invalid genesis names, one per line */
};

/* One operation as the scenario writes it: content NULL means delete. */
struct opspec {
	const char *path;    /* record path */
	const char *content; /* put: master-file or record lines; NULL: delete */
	int64_t version;     /* CURRENT, PROPOSAL_VERSION_NEW or a number */
};

__attribute__((noreturn, format(printf, 1, 2))) static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("gen-ledger: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

static void write_file(const char *dir, const char *name, const void *data, size_t len)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (f == NULL || fwrite(data, 1, len, f) != len || fclose(f) != 0)
		die("%s: %s", path, strerror(errno));
}

static int read_all(const char *path, struct cbuf *out)
{
	char buf[8192];
	size_t n;
	FILE *f = fopen(path, "rb");

	if (f == NULL)
		return -1;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		cbuf_put(out, buf, n);
	fclose(f);
	return 0;
}

static void make_dir(const char *dir, const char *sub)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", dir, sub);
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		die("%s: %s", path, strerror(errno));
}

static const struct key_pair *key_of(struct gen *g, const char *id)
{
	for (int i = 0; i < SCENARIO_KEYS; i++)
		if (strcmp(scenario_ids[i], id) == 0)
			return &g->keys[i];
	die("no key %s", id);
}

static int64_t version_of(struct gen *g, const char *path)
{
	struct cbuf c = CBUF_INIT;
	uint64_t v = 0;
	int r = ledger_get(g->l, path, &c, &v);

	cbuf_free(&c);
	return r < 0 ? PROPOSAL_VERSION_NEW : (int64_t)v;
}

/* "path version sha256(content)" per record, in path order: state.txt. */
static int dump_one(void *ctx, const char *path, const char *content, size_t len, uint64_t v)
{
	unsigned char h[32];
	char hex[65];

	crypto_hash_sha256(h, (const unsigned char *)content, len);
	sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
	return cbuf_printf(ctx, "%s %" PRIu64 " %s\n", path, v, hex);
}

static void dump_state(const struct ledger *l, struct cbuf *out)
{
	if (ledger_foreach(l, "", dump_one, out) < 0)
		die("ledger_foreach failed");
}

/* The records and what else a refused entry must leave alone. */
static void dump_full(const struct ledger *l, struct cbuf *out)
{
	cbuf_reset(out);
	cbuf_printf(out, "size %" PRIu64 " time %" PRId64 " members %zu ready %d origin %s\n",
		    ledger_size(l), ledger_time(l), ledger_member_count(l), ledger_ready(l),
		    ledger_origin(l));
	dump_state(l, out);
}

static void body_of(struct gen *g, struct cbuf *out, const char *proposer, int64_t created,
		    int64_t expires, const struct opspec *spec, size_t n)
{
	struct proposal_op ops[8];

	if (n > 8)
		die("too many operations");
	for (size_t i = 0; i < n; i++) {
		memset(&ops[i], 0, sizeof(ops[i]));
		ops[i].kind = spec[i].content ? OP_PUT : OP_DELETE;
		snprintf(ops[i].path, sizeof(ops[i].path), "%s", spec[i].path);
		ops[i].version =
		    spec[i].version == CURRENT ? version_of(g, spec[i].path) : spec[i].version;
		ops[i].content = spec[i].content;
		ops[i].content_len = spec[i].content ? strlen(spec[i].content) : 0;
	}
	cbuf_reset(out);
	if (proposal_format(out, ledger_origin(g->l), proposer, created, expires, ops, n) < 0)
		die("proposal_format failed");
}

/* An entry with the signatures of signers, in the order given: invalid entries need orders
 * and signers the ledger would never write itself. */
static void entry_of(struct cbuf *entry, int64_t t, const char *body, const struct key_pair **k,
		     size_t n)
{
	struct note_sig sigs[SCENARIO_KEYS + 2];
	char ts[TFMT_LEN + 1];

	for (size_t i = 0; i < n; i++)
		if (note_sign(&k[i]->sign, body, strlen(body), &sigs[i]) < 0)
			die("note_sign failed");
	tfmt_format(t, ts);
	cbuf_reset(entry);
	if (cbuf_printf(entry, "concord proposal %s\n", ts) < 0 ||
	    note_format(body, strlen(body), sigs, n, entry) < 0)
		die("note_format failed");
}

static void signers_of(struct gen *g, const char *const *ids, size_t n, const struct key_pair **k)
{
	for (size_t i = 0; i < n; i++)
		k[i] = key_of(g, ids[i]);
}

/* Appends a valid proposal entry. Signatures are handed to ledger_entry_build in reverse, so
 * the vectors also show that the writer sorts them, and the result must equal the entry built
 * by hand with the signers in ascending order. */
static void accept(struct gen *g, const char *proposer, int64_t created, int64_t t,
		   const struct opspec *ops, size_t nops, const char *const *signers, size_t ns)
{
	struct cbuf body = CBUF_INIT, entry = CBUF_INIT, want = CBUF_INIT;
	const struct key_pair *k[SCENARIO_KEYS];
	struct note_sig sigs[SCENARIO_KEYS];
	struct cc_err e = {0};
	struct proposal p;

	body_of(g, &body, proposer, created, created + WEEK, ops, nops);
	if (proposal_parse(&p, body.p, body.len, &e) < 0)
		die("entry %zu: %s", g->n, e.msg);
	signers_of(g, signers, ns, k);
	for (size_t i = 0; i < ns; i++)
		if (note_sign(&k[ns - 1 - i]->sign, body.p, body.len, &sigs[i]) < 0)
			die("note_sign failed");
	if (ledger_entry_build(g->l, &p, sigs, ns, t, &entry, &e) < 0)
		die("entry %zu: %s", g->n, e.msg);
	entry_of(&want, t, body.p, k, ns);
	if (entry.len != want.len || memcmp(entry.p, want.p, want.len) != 0)
		die("entry %zu: ledger_entry_build wrote other bytes", g->n);
	if (ledger_apply_entry(g->l, (unsigned char *)entry.p, entry.len, 1, &e) < 0)
		die("entry %zu: %s", g->n, e.msg);
	g->entries[g->n++] = entry;
	proposal_free(&p);
	cbuf_free(&body);
	cbuf_free(&want);
}

static const char *code_name(int code)
{
	switch (code) {
	case CC_EINVAL:
		return "EINVAL";
	case CC_ESIG:
		return "ESIG";
	case CC_EPERM:
		return "EPERM";
	case CC_ESTALE:
		return "ESTALE";
	case CC_EEXPIRED:
		return "EEXPIRED";
	case CC_EEXIST:
		return "EEXIST";
	case CC_ETOOBIG:
		return "ETOOBIG";
	case CC_ETIME:
		return "ETIME";
	case CC_ECONFLICT:
		return "ECONFLICT";
	}
	die("no name for code %d", code);
}

/* Writes invalid/<name>.txt after checking the ledger refuses it with code and stays as it
 * was. */
static void refuse(struct gen *g, const char *name, int code, const char *why,
		   const struct cbuf *entry)
{
	struct cbuf before = CBUF_INIT, after = CBUF_INIT;
	struct cc_err e = {0};
	uint64_t size = ledger_size(g->l);
	char file[128];
	int r;

	dump_full(g->l, &before);
	r = ledger_apply_entry(g->l, (const unsigned char *)entry->p, entry->len, 1, &e);
	dump_full(g->l, &after);
	if (r != code)
		die("invalid/%s: expected %s, got %d (%s)", name, code_name(code), r,
		    r ? e.msg : "accepted");
	if (ledger_size(g->l) != size || strcmp(before.p, after.p) != 0)
		die("invalid/%s: refused, but the ledger changed", name);
	snprintf(file, sizeof(file), "%s.txt", name);
	make_dir(g->dir, "invalid");
	{
		char sub[4096];

		snprintf(sub, sizeof(sub), "%s/invalid", g->dir);
		write_file(sub, file, entry->p, entry->len);
	}
	cbuf_printf(&g->readme, "%s: %s: %s (%s)\n", file, code_name(code), why, e.msg);
	cbuf_printf(&g->cases, "%s\n", name);
	cbuf_free(&before);
	cbuf_free(&after);
}

/* A proposal entry signed in the order given, for the invalid cases. */
static void signed_entry(struct gen *g, struct cbuf *entry, const char *proposer, int64_t created,
			 int64_t expires, int64_t t, const struct opspec *ops, size_t nops,
			 const char *const *signers, size_t ns)
{
	struct cbuf body = CBUF_INIT;
	const struct key_pair *k[SCENARIO_KEYS + 2];

	body_of(g, &body, proposer, created, expires, ops, nops);
	signers_of(g, signers, ns, k);
	entry_of(entry, t, body.p, k, ns);
	cbuf_free(&body);
}

static char *member_content(struct gen *g, const char *id, const char *chamber)
{
	const struct key_pair *k = key_of(g, id);
	struct key_pub pub;
	struct cbuf c = CBUF_INIT;
	char box[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_ORIGINAL)];

	key_public(k, &pub);
	sodium_bin2base64(box, sizeof(box), k->box_pk, 32, sodium_base64_VARIANT_ORIGINAL);
	if (cbuf_printf(&c, "chamber %s\nkey ", chamber) < 0 ||
	    note_vkey_format(&pub.sign, &c) < 0 || cbuf_printf(&c, "\nbox %s\n", box) < 0)
		die("member content");
	return cbuf_take(&c);
}

static void expect_policy(struct gen *g, const char *path, const char *want)
{
	char pol[PATH_MAX_LEN + 1];

	if (ledger_policy_for(g->l, path, pol) < 0 || strcmp(pol, want) != 0)
		die("%s is governed by %s, expected %s", path, pol, want);
}

static void genesis(struct gen *g)
{
	struct cbuf bundle = CBUF_INIT;
	struct cc_err e = {0};
	const unsigned char *entry;
	size_t elen, off = 0;

	if (scenario_keys(g->keys) < 0 || scenario_genesis(g->keys, &bundle, &e) < 0)
		die("genesis: %s", e.msg);
	write_file(g->dir, "genesis.bundle", bundle.p, bundle.len);
	write_file(g->dir, "zone.txt", scenario_zone, strlen(scenario_zone));
	while (tlog_bundle_next((unsigned char *)bundle.p, bundle.len, &off, &entry, &elen) == 1) {
		struct cbuf c = CBUF_INIT;

		if (ledger_apply_entry(g->l, entry, elen, 1, &e) < 0)
			die("genesis entry %zu: %s", g->n, e.msg);
		cbuf_put(&c, entry, elen);
		g->entries[g->n++] = c;
	}
	if (!ledger_ready(g->l))
		die("genesis incomplete");
	cbuf_free(&bundle);
}

#define T(s) (SCENARIO_T0 + (s))
#define N(a) (sizeof(a) / sizeof((a)[0]))

static void proposals(struct gen *g)
{
	char *fr = member_content(g, "fr", "government");

	/* 2: a state changes its own ccTLD alone; the glue of the shared name server is
	 * omitted since the host record already holds it. */
	{
		const struct opspec ops[] = {{"tld/cn",
					      "cn. NS a.dns.cn.\ncn. NS b.dns.cn.\n"
					      "cn. NS ns.shared.net.\na.dns.cn. A 192.0.2.1\n"
					      "b.dns.cn. A 192.0.2.2\nb.dns.cn. AAAA 2001:db8::2\n",
					      CURRENT}};
		const char *s[] = {"cn"};

		expect_policy(g, "tld/cn", "policy/cctld");
		accept(g, "cn", T(3600), T(3660), ops, N(ops), s, N(s));
	}
	/* 3: a new gTLD: 2/3 of governments (3 of 4), 1/2 of technical (1 of 1), after the
	 * 86400-second consultation. */
	{
		const struct opspec ops[] = {
		    {"tld/org",
		     "org. NS a0.org.afilias-nst.info.\norg. NS ns.shared.net.\n"
		     "org. DS 26974 8 2 "
		     "4FEDE294C53F438A158C41D39489CD78A86BEB0D8A0AEAFF14745C0D16E40D99\n"
		     "a0.org.afilias-nst.info. A 199.19.56.1\n",
		     PROPOSAL_VERSION_NEW}};
		const char *s[] = {"br", "cn", "de", "isoc"};

		accept(g, "br", T(7200), T(7200 + 86400), ops, N(ops), s, N(s));
	}
	/* 4: cn renumbers ns.shared.net, which com and org use too: cn's own policy and the
	 * gTLD policy must both be met, and com's and org's versions move to this entry. */
	{
		const struct opspec ops[] = {{"tld/cn",
					      "cn. NS a.dns.cn.\ncn. NS b.dns.cn.\n"
					      "cn. NS ns.shared.net.\n"
					      "ns.shared.net. A 198.51.100.53\n"
					      "ns.shared.net. AAAA 2001:db8:53::53\n",
					      CURRENT}};
		const char *s[] = {"br", "cn", "de", "isoc"};

		accept(g, "cn", T(93600), T(93600 + 86400), ops, N(ops), s, N(s));
	}
	/* 5: fr joins: 2/3 of all members, 4 of 5. */
	{
		const struct opspec ops[] = {{"member/fr", fr, PROPOSAL_VERSION_NEW}};
		const char *s[] = {"br", "cn", "de", "za"};

		expect_policy(g, "tld/fr", "policy/tld");
		accept(g, "br", T(180600), T(181200), ops, N(ops), s, N(s));
		expect_policy(g, "tld/fr", "policy/cctld");
	}
	/* 6: now that fr is a member, its ccTLD is its own. */
	{
		const struct opspec ops[] = {{"tld/fr",
					      "fr. NS d.nic.fr.\nfr. NS e.ext.nic.fr.\n"
					      "e.ext.nic.fr. A 193.176.144.22\n",
					      CURRENT}};
		const char *s[] = {"fr"};

		accept(g, "fr", T(182000), T(182100), ops, N(ops), s, N(s));
	}
	/* 7: the gTLD consultation shrinks to an hour: 2/3 of all six members. */
	{
		const struct opspec ops[] = {{"policy/tld",
					      "applies tld/*\nrequire chamber government 2/3\n"
					      "require chamber * 1/2\ndelay 3600\n",
					      CURRENT}};
		const char *s[] = {"cn", "de", "fr", "isoc"};

		accept(g, "de", T(190000), T(190600), ops, N(ops), s, N(s));
	}
	/* 8: net is deleted (4 of 5 governments now, and isoc), after the new delay;
	 * b.gtld-servers.net, which only net used, goes with it. */
	{
		const struct opspec ops[] = {{"tld/net", NULL, CURRENT}};
		const char *s[] = {"br", "de", "fr", "isoc", "za"};

		accept(g, "za", T(191000), T(191000 + 3600), ops, N(ops), s, N(s));
		if (version_of(g, "host/b.gtld-servers.net.") != PROPOSAL_VERSION_NEW)
			die("b.gtld-servers.net survived net");
	}
	/* 9: the shared host put directly: every TLD using it (cn, com, org) must agree. */
	{
		const struct opspec ops[] = {{"host/ns.shared.net.",
					      "ns.shared.net. A 198.51.100.53\n"
					      "ns.shared.net. AAAA 2001:db8:53::53\n"
					      "ns.shared.net. AAAA 2001:db8:53::54\n",
					      CURRENT}};
		const char *s[] = {"br", "cn", "de", "isoc", "za"};

		accept(g, "isoc", T(195000), T(195000 + 3600), ops, N(ops), s, N(s));
	}
	/* 10: two states in one proposal: de changes its ccTLD, za creates its own. */
	{
		const struct opspec ops[] = {
		    {"tld/de",
		     "de. NS a.nic.de.\nde. NS f.nic.de.\n"
		     "de. DS 26755 8 2 F341357809A5954311CCB82ADE114C6C1D724A75C0395137AA397803 "
		     "5425E78D\n"
		     "f.nic.de. A 81.91.164.5\nf.nic.de. AAAA 2a02:568:0:2::53\n",
		     CURRENT},
		    {"tld/za", "za. NS ns1.zadna.org.za.\nns1.zadna.org.za. A 196.10.0.1\n",
		     PROPOSAL_VERSION_NEW}};
		const char *s[] = {"de", "za"};

		accept(g, "de", T(200000), T(200060), ops, N(ops), s, N(s));
	}
	free(fr);
}

static void invalid(struct gen *g)
{
	int64_t last = ledger_time(g->l);
	struct cbuf en = CBUF_INIT;
	const struct opspec de[] = {{"tld/de",
				     "de. NS a.nic.de.\nde. NS f.nic.de.\n"
				     "f.nic.de. A 81.91.164.5\nf.nic.de. AAAA 2a02:568:0:2::53\n",
				     CURRENT}};
	const struct opspec dz[] = {de[0], {"tld/za", "za. NS ns1.zadna.org.za.\n", CURRENT}};
	const struct opspec com[] = {
	    {"tld/com", "com. NS a.gtld-servers.net.\ncom. NS ns.shared.net.\n", CURRENT}};
	const char *sde[] = {"de"}, *szade[] = {"za", "de"}, *sdecn[] = {"cn", "de"};
	const char *q3[] = {"br", "cn", "de", "isoc"}, *q4[] = {"br", "cn", "de", "isoc", "za"};

	/* Each case is valid in every respect but the one it is named after. */
	signed_entry(g, &en, "de", last - 60, last + WEEK, last + 60, dz, N(dz), szade, N(szade));
	refuse(g, "signature-order", CC_EINVAL,
	       "signature lines not in ascending order of member id (za before de)", &en);

	signed_entry(g, &en, "de", last - 60, last + WEEK, last + 60, de, N(de), sdecn, N(sdecn));
	refuse(g, "signature-counts-for-nothing", CC_EPERM,
	       "cn signs de's ccTLD change, where only de's signature counts", &en);

	signed_entry(g, &en, "br", last - 3600, last + WEEK, last + 60, com, N(com), q3, N(q3));
	refuse(g, "quorum-missing", CC_EPERM,
	       "a gTLD change signed by 3 of 5 governments; 2/3 needs 4", &en);

	{
		const struct opspec ops[] = {
		    {"tld/cn", "cn. NS a.dns.cn.\ncn. NS ns.shared.net.\n", 2}};
		const char *s[] = {"cn"};

		signed_entry(g, &en, "cn", last - 60, last + WEEK, last + 60, ops, N(ops), s, N(s));
		refuse(g, "stale-version", CC_ESTALE,
		       "puts tld/cn at version 2, which entries 4 and 9 replaced", &en);
	}
	signed_entry(g, &en, "de", last - 600, last + WEEK, last - 1, de, N(de), sde, N(sde));
	refuse(g, "time-backwards", CC_ETIME, "entry time one second before the previous entry's",
	       &en);

	signed_entry(g, &en, "de", last - 7200, last - 3600, last + 60, de, N(de), sde, N(sde));
	refuse(g, "expired", CC_EEXPIRED, "entry time after the proposal's expiry", &en);

	signed_entry(g, &en, "de", last + 60 + LEDGER_CLOCK_SKEW + 1, last + WEEK, last + 60, de,
		     N(de), sde, N(sde));
	refuse(g, "created-in-future", CC_ETIME,
	       "created more than 300 seconds after the entry time", &en);

	signed_entry(g, &en, "br", last, last + WEEK, last + 3599, com, N(com), q4, N(q4));
	refuse(g, "consultation-running", CC_EPERM,
	       "a gTLD change with its quorum, one second before the 3600-second delay is over",
	       &en);

	/* Headers: the rest of each entry is a valid proposal. */
	signed_entry(g, &en, "de", last - 60, last + WEEK, last + 60, de, N(de), sde, N(sde));
	{
		struct cbuf h = CBUF_INIT;
		const char *note = strchr(en.p, '\n') + 1;
		char ts[TFMT_LEN + 1];

		tfmt_format(last + 60, ts);
		cbuf_printf(&h, "hello, ledger\n%s", note);
		refuse(g, "header-garbage", CC_EINVAL, "first line is not a concord header", &h);
		cbuf_reset(&h);
		cbuf_puts(&h, note);
		refuse(g, "header-missing", CC_EINVAL, "the proposal note without its header line",
		       &h);
		cbuf_reset(&h);
		cbuf_printf(&h, "concord proposal 2026-02-30T00:00:00Z\n%s", note);
		refuse(g, "header-bad-time", CC_EINVAL, "header time is February 30", &h);
		cbuf_reset(&h);
		cbuf_printf(&h, "concord proposal %.19s+00:00\n%s", ts, note);
		refuse(g, "header-offset-time", CC_EINVAL, "header time written +00:00, not Z", &h);
		cbuf_reset(&h);
		cbuf_printf(&h, "concord chunk %zu\n%s", g->n, note);
		refuse(g, "header-chunk", CC_EINVAL, "a chunk header after the genesis", &h);
		cbuf_reset(&h);
		cbuf_printf(&h, "concord proposal  %s\n%s", ts, note);
		refuse(g, "header-two-spaces", CC_EINVAL, "two spaces in the header line", &h);
		cbuf_reset(&h);
		cbuf_printf(&h, "concord proposal %s", ts);
		cbuf_putc(&h, '\0');
		cbuf_printf(&h, "x\n%s", note);
		refuse(g, "header-nul", CC_EINVAL,
		       "a NUL byte and more after the time in the header line", &h);
		cbuf_free(&h);
	}
	{
		char *at = strstr(en.p, "81.91.164.5");

		at[10] = '6';
		refuse(g, "tampered", CC_ESIG,
		       "one byte of the body changed after signing (an address)", &en);
	}
	{
		/* Two identical signature lines: the note itself is malformed. */
		struct cbuf dup = CBUF_INIT;
		const char *sig;

		signed_entry(g, &en, "de", last - 60, last + WEEK, last + 60, de, N(de), sde,
			     N(sde));
		sig = strstr(en.p, "\n\n") + 2;
		cbuf_put(&dup, en.p, en.len);
		cbuf_puts(&dup, sig);
		refuse(g, "signature-repeated", CC_EEXIST, "de's signature line twice", &dup);
		cbuf_reset(&dup);
		cbuf_put(&dup, en.p, (size_t)(sig - en.p));
		refuse(g, "signature-none", CC_EINVAL, "no signature line after the blank line",
		       &dup);
		cbuf_free(&dup);
	}
	{
		/* A key that is no member's, and de's name on another key. */
		struct key_pair other[2];
		unsigned char seed[32];
		struct cbuf body = CBUF_INIT;
		const struct key_pair *k[2];

		memset(seed, 0x77, sizeof(seed));
		memset(other, 0, sizeof(other));
		note_signer_from_seed(&other[0].sign, "xx", seed);
		note_signer_from_seed(&other[1].sign, "de", seed);
		body_of(g, &body, "de", last - 60, last + WEEK, de, N(de));
		k[0] = key_of(g, "de");
		k[1] = &other[0];
		entry_of(&en, last + 60, body.p, k, 2);
		refuse(g, "signer-not-member", CC_EPERM,
		       "de's valid signature and one by key xx, which is no member's", &en);
		k[0] = &other[1];
		entry_of(&en, last + 60, body.p, k, 1);
		refuse(g, "signer-wrong-key", CC_EPERM,
		       "signed under the name de with a key that is not de's registered key", &en);
		cbuf_free(&body);
	}
	signed_entry(g, &en, "cn", last - 60, last + WEEK, last + 60, de, N(de), sde, N(sde));
	refuse(g, "proposer-not-signed", CC_EPERM, "proposed by cn, signed by de alone", &en);

	{
		struct cbuf body = CBUF_INIT;
		const struct key_pair *k[1] = {key_of(g, "de")};
		char *o;

		body_of(g, &body, "de", last - 60, last + WEEK, de, N(de));
		o = strstr(body.p, SCENARIO_ORIGIN);
		o[0] = 'w';
		entry_of(&en, last + 60, body.p, k, 1);
		refuse(g, "wrong-origin", CC_EINVAL, "a proposal for another network's origin",
		       &en);
		cbuf_free(&body);
	}
	{
		struct cbuf again = CBUF_INIT;

		cbuf_put(&again, g->entries[g->n - 1].p, g->entries[g->n - 1].len);
		refuse(g, "replay", CC_ESTALE, "the last valid entry again: its versions are spent",
		       &again);
		cbuf_free(&again);
	}
	{
		/* Putting a shared host's addresses unchanged still needs every TLD using it. */
		const struct opspec ops[] = {{"host/ns.shared.net.",
					      "ns.shared.net. A 198.51.100.53\n"
					      "ns.shared.net. AAAA 2001:db8:53::53\n"
					      "ns.shared.net. AAAA 2001:db8:53::54\n",
					      CURRENT}};
		const char *s[] = {"isoc"};

		signed_entry(g, &en, "isoc", last - 60, last + WEEK, last + 60, ops, N(ops), s,
			     N(s));
		refuse(g, "host-unchanged-unapproved", CC_EPERM,
		       "puts ns.shared.net's current addresses signed by isoc alone; cn and the "
		       "gTLD quorum must still agree",
		       &en);
	}
	{
		const struct opspec ops[] = {{"policy/tld", NULL, CURRENT}};
		const char *s[] = {"br", "cn", "de", "fr"};

		signed_entry(g, &en, "br", last - 60, last + WEEK, last + 60, ops, N(ops), s, N(s));
		refuse(g, "policy-ungoverned", CC_EINVAL,
		       "deletes policy/tld with 4 of 6: no policy would govern tld/*", &en);
	}
	cbuf_free(&en);
}

/* ---- genesis files that must be refused ---- */

struct gfile {
	struct cbuf e[8]; /* entries: 0 is the genesis (header, text, blank line, signatures) */
	size_t n;	  /* how many */
};

static void gsplit(const struct cbuf *bundle, struct gfile *f)
{
	const unsigned char *entry;
	size_t elen, off = 0;

	memset(f, 0, sizeof(*f));
	while (tlog_bundle_next((unsigned char *)bundle->p, bundle->len, &off, &entry, &elen) ==
	       1) {
		if (f->n == 8)
			die("genesis with too many chunks");
		cbuf_put(&f->e[f->n++], entry, elen);
	}
}

static void gfree(struct gfile *f)
{
	for (size_t i = 0; i < f->n; i++)
		cbuf_free(&f->e[i]);
}

static void replace(struct cbuf *b, const char *old, const char *with)
{
	struct cbuf out = CBUF_INIT;
	const char *at = strstr(b->p, old);

	if (at == NULL)
		die("genesis edit: \"%s\" not found", old);
	cbuf_put(&out, b->p, (size_t)(at - b->p));
	cbuf_puts(&out, with);
	cbuf_puts(&out, at + strlen(old));
	cbuf_free(b);
	*b = out;
}

/* Entry 0's note text, from the line after the header to the first line of the blank line. */
static void gtext(const struct gfile *f, struct cbuf *text)
{
	const char *t = strchr(f->e[0].p, '\n') + 1, *sep = strstr(t, "\n\n");

	cbuf_reset(text);
	cbuf_put(text, t, (size_t)(sep + 1 - t));
}

/* Writes the chunk lines of entry 0 anew from the chunks' hashes, and drops signatures. */
static void grehash(struct gfile *f)
{
	struct cbuf text = CBUF_INIT, e0 = CBUF_INIT;
	const char *hdr_end = strchr(f->e[0].p, '\n') + 1;
	char *chunk;

	gtext(f, &text);
	chunk = strstr(text.p, "\nchunk ");
	text.len = (size_t)(chunk + 1 - text.p);
	text.p[text.len] = '\0';
	for (size_t i = 1; i < f->n; i++) {
		unsigned char h[32];
		char hex[65];

		crypto_hash_sha256(h, (unsigned char *)f->e[i].p, f->e[i].len);
		sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
		cbuf_printf(&text, "chunk %s\n", hex);
	}
	cbuf_put(&e0, f->e[0].p, (size_t)(hdr_end - f->e[0].p));
	cbuf_put(&e0, text.p, text.len);
	cbuf_putc(&e0, '\n');
	cbuf_free(&f->e[0]);
	f->e[0] = e0;
	cbuf_free(&text);
}

/* Signs entry 0's text with the given keys, written in the order given. */
static void gsign(struct gfile *f, const struct key_pair **k, size_t n)
{
	struct cbuf text = CBUF_INIT, e0 = CBUF_INIT;
	struct note_sig sigs[SCENARIO_KEYS + 2];
	const char *hdr_end = strchr(f->e[0].p, '\n') + 1;

	gtext(f, &text);
	for (size_t i = 0; i < n; i++)
		if (note_sign(&k[i]->sign, text.p, text.len, &sigs[i]) < 0)
			die("note_sign");
	cbuf_put(&e0, f->e[0].p, (size_t)(hdr_end - f->e[0].p));
	if (n == 0)
		cbuf_printf(&e0, "%s\n", text.p);
	else if (note_format(text.p, text.len, sigs, n, &e0) < 0)
		die("note_format");
	cbuf_free(&f->e[0]);
	f->e[0] = e0;
	cbuf_free(&text);
}

static void gsign_founders(struct gen *g, struct gfile *f)
{
	const struct key_pair *k[SCENARIO_FOUNDERS];

	for (int i = 0; i < SCENARIO_FOUNDERS; i++)
		k[i] = &g->keys[i];
	gsign(f, k, SCENARIO_FOUNDERS);
}

/* Writes invalid-genesis/<name>.bundle after checking that applying its entries in order
 * stops at entry at with code. */
static void refuse_genesis(struct gen *g, const char *name, size_t at, int code, const char *why,
			   const struct gfile *f)
{
	struct ledger *l = ledger_new();
	struct cbuf bundle = CBUF_INIT, c = CBUF_INIT;
	struct cc_err e = {0};
	char file[128], sub[4096];
	size_t i;
	int r = 0;

	struct cbuf before = CBUF_INIT;

	for (i = 0; i < f->n; i++)
		tlog_bundle_append(&bundle, f->e[i].p, f->e[i].len);
	for (i = 0; i < f->n; i++) {
		dump_full(l, &before);
		r = ledger_apply_entry(l, (unsigned char *)f->e[i].p, f->e[i].len, 1, &e);
		if (r != 0)
			break;
	}
	if (r != code || i != at)
		die("invalid-genesis/%s: expected %s at entry %zu, got %d at entry %zu (%s)", name,
		    code_name(code), at, r, i, r ? e.msg : "accepted");
	dump_full(l, &c);
	if (ledger_ready(l) || ledger_size(l) != at || strcmp(before.p, c.p) != 0)
		die("invalid-genesis/%s: refused, but the ledger changed", name);
	cbuf_free(&before);
	make_dir(g->dir, "invalid-genesis");
	snprintf(sub, sizeof(sub), "%s/invalid-genesis", g->dir);
	snprintf(file, sizeof(file), "%s.bundle", name);
	write_file(sub, file, bundle.p, bundle.len);
	cbuf_printf(&g->greadme, "%s: %zu: %s: %s (%s)\n", file, at, code_name(code), why, e.msg);
	cbuf_printf(&g->gcases, "%s\n", name);
	ledger_free(l);
	cbuf_free(&bundle);
	cbuf_free(&c);
}

static void invalid_genesis(struct gen *g)
{
	struct cbuf bundle = CBUF_INIT;
	struct cc_err e = {0};
	struct gfile f;
	const struct key_pair *k[SCENARIO_KEYS + 1];
	struct key_pair other;
	unsigned char seed[32];

	if (scenario_genesis_unsigned(g->keys, &bundle, &e) < 0)
		die("genesis: %s", e.msg);
	memset(seed, 0x77, sizeof(seed));
	memset(&other, 0, sizeof(other));

	gsplit(&bundle, &f);
	refuse_genesis(g, "unsigned", 0, CC_EINVAL, "nobody has signed the genesis note", &f);
	gfree(&f);

	gsplit(&bundle, &f);
	for (int i = 0; i < 4; i++)
		k[i] = &g->keys[i];
	gsign(&f, k, 4);
	refuse_genesis(g, "signature-missing", 0, CC_EPERM, "za, a founder, has not signed", &f);
	gfree(&f);

	gsplit(&bundle, &f);
	note_signer_from_seed(&other.sign, "zz", seed);
	for (int i = 0; i < SCENARIO_FOUNDERS; i++)
		k[i] = &g->keys[i];
	k[SCENARIO_FOUNDERS] = &other;
	gsign(&f, k, SCENARIO_FOUNDERS + 1);
	refuse_genesis(g, "signature-stranger", 0, CC_EPERM,
		       "the five founders and zz, who is not one, have signed", &f);
	gfree(&f);

	gsplit(&bundle, &f);
	note_signer_from_seed(&other.sign, "de", seed);
	for (int i = 0; i < SCENARIO_FOUNDERS; i++)
		k[i] = i == 2 ? &other : &g->keys[i];
	gsign(&f, k, SCENARIO_FOUNDERS);
	refuse_genesis(
	    g, "signature-wrong-key", 0, CC_EPERM,
	    "de's signature is made with a key that is not the one its member line lists", &f);
	gfree(&f);

	gsplit(&bundle, &f);
	for (int i = 0; i < SCENARIO_FOUNDERS; i++)
		k[i] = &g->keys[SCENARIO_FOUNDERS - 1 - i];
	gsign(&f, k, SCENARIO_FOUNDERS);
	refuse_genesis(g, "signature-order", 0, CC_EINVAL,
		       "signature lines in descending order of member id", &f);
	gfree(&f);

	gsplit(&bundle, &f);
	gsign_founders(g, &f);
	{
		/* The first signature's last base64 characters, changed: same key ID, and still
		 * canonical base64 (the last character carries no unused bits here). */
		char *sig = strstr(f.e[0].p, "\xe2\x80\x94 br ") + 8;

		sig[80] = sig[80] == 'A' ? 'B' : 'A';
	}
	refuse_genesis(g, "signature-forged", 0, CC_ESIG, "br's signature does not verify", &f);
	gfree(&f);

	gsplit(&bundle, &f);
	gsign_founders(g, &f);
	replace(&f.e[1], "192.93.0.4", "192.93.0.5");
	refuse_genesis(g, "chunk-tampered", 1, CC_ECONFLICT,
		       "chunk 1 changed after the genesis note listed its hash", &f);
	gfree(&f);

	gsplit(&bundle, &f);
	replace(&f.e[1], "concord chunk 1\n", "concord chunk 2\n");
	grehash(&f);
	gsign_founders(g, &f);
	refuse_genesis(g, "chunk-header", 1, CC_EINVAL,
		       "the first chunk says it is chunk 2 (its hash is listed correctly)", &f);
	gfree(&f);

	gsplit(&bundle, &f);
	replace(&f.e[0], "concord genesis 2026-01-01T00:00:00Z\n",
		"concord genesis 2026-01-01T00:00:01Z\n");
	gsign_founders(g, &f);
	refuse_genesis(g, "time-mismatch", 0, CC_EINVAL,
		       "the entry's time is one second after the time line of the note", &f);
	gfree(&f);

	gsplit(&bundle, &f);
	{
		struct cbuf t = CBUF_INIT;
		char *br = strstr(f.e[0].p, "member br "), *cn = strstr(f.e[0].p, "member cn ");
		char *de = strstr(f.e[0].p, "member de ");

		/* br's line moved after cn's */
		cbuf_put(&t, f.e[0].p, (size_t)(br - f.e[0].p));
		cbuf_put(&t, cn, (size_t)(de - cn));
		cbuf_put(&t, br, (size_t)(cn - br));
		cbuf_puts(&t, de);
		cbuf_free(&f.e[0]);
		f.e[0] = t;
	}
	gsign_founders(g, &f);
	refuse_genesis(g, "member-order", 0, CC_EINVAL, "member lines not in ascending order of id",
		       &f);
	gfree(&f);

	gsplit(&bundle, &f);
	{
		char *za = strstr(f.e[0].p, "member za "), *eol = strchr(za, '\n');
		struct cbuf t = CBUF_INIT;

		cbuf_put(&t, f.e[0].p, (size_t)(eol - f.e[0].p));
		cbuf_puts(&t, " extra");
		cbuf_puts(&t, eol);
		cbuf_free(&f.e[0]);
		f.e[0] = t;
	}
	gsign_founders(g, &f);
	refuse_genesis(g, "member-extra-field", 0, CC_EINVAL,
		       "a member line with a sixth field after the box key", &f);
	gfree(&f);

	gsplit(&bundle, &f);
	replace(&f.e[0], "\norigin ", "\norigin  ");
	gsign_founders(g, &f);
	refuse_genesis(g, "two-spaces", 0, CC_EINVAL, "two spaces after \"origin\"", &f);
	gfree(&f);

	gsplit(&bundle, &f);
	cbuf_puts(&f.e[1], "record tld/de 2\nde. 172800 IN NS a.nic.de.\n"
			   "a.nic.de. 172800 IN A 194.0.0.53\n");
	grehash(&f);
	gsign_founders(g, &f);
	refuse_genesis(g, "chunk-duplicate-tld", 1, CC_EINVAL, "tld/de twice in the same chunk",
		       &f);
	gfree(&f);

	gsplit(&bundle, &f);
	replace(&f.e[1], "record policy/member 2\napplies member/*\nrequire all 2/3\n",
		"record policy/member 2\napplies member/*\nrequire all 2/3\n"
		"record policy/member 2\napplies member/??\nrequire state\n");
	grehash(&f);
	gsign_founders(g, &f);
	refuse_genesis(g, "chunk-duplicate-policy", 1, CC_EINVAL,
		       "policy/member twice in the same chunk, with different patterns", &f);
	gfree(&f);

	gsplit(&bundle, &f);
	replace(&f.e[1], "record policy/member 2\napplies member/*\nrequire all 2/3\n", "");
	grehash(&f);
	gsign_founders(g, &f);
	refuse_genesis(g, "policy-missing", 1, CC_EINVAL,
		       "no policy governs member/* once the last chunk is applied", &f);
	gfree(&f);

	cbuf_free(&bundle);
}

static void outputs(struct gen *g)
{
	struct cbuf c = CBUF_INIT;
	struct merkle_tree t;
	unsigned char root[MERKLE_HASH];

	make_dir(g->dir, "entries");
	for (size_t i = 0; i < g->n; i++) {
		char name[64];

		snprintf(name, sizeof(name), "entries/%04zu.txt", i);
		write_file(g->dir, name, g->entries[i].p, g->entries[i].len);
	}
	dump_state(g->l, &c);
	write_file(g->dir, "state.txt", c.p, c.len);
	cbuf_reset(&c);
	if (ledger_export_root(g->l, &c) < 0)
		die("export");
	write_file(g->dir, "export-root.txt", c.p, c.len);
	merkle_tree_init(&t);
	for (size_t i = 0; i < g->n; i++) {
		unsigned char leaf[MERKLE_HASH];

		merkle_leaf_hash(g->entries[i].p, g->entries[i].len, leaf);
		if (merkle_tree_append(&t, leaf) < 0)
			die("merkle");
	}
	if (merkle_tree_root(&t, t.size, root) < 0)
		die("merkle");
	cbuf_reset(&c);
	if (tlog_checkpoint_text(&c, ledger_origin(g->l), t.size, root) < 0)
		die("checkpoint");
	write_file(g->dir, "checkpoint-root.txt", c.p, c.len);
	merkle_tree_free(&t);
	cbuf_free(&c);
}

/* Seeds for fuzz/fuzz_entry (entries alone, the whole valid sequence as one entry bundle,
 * and that sequence followed by each invalid entry) and fuzz/fuzz_proposal (every proposal
 * body and every policy). */
static void corpus(struct gen *g)
{
	char dir[4096], name[128], path[4096];
	struct cbuf seq = CBUF_INIT, b = CBUF_INIT;
	size_t first = 0;
	const char *s, *nl;

	if (g->corpus == NULL)
		return;
	make_dir(g->corpus, "fuzz_entry");
	make_dir(g->corpus, "fuzz_proposal");
	snprintf(dir, sizeof(dir), "%s/fuzz_entry", g->corpus);
	for (size_t i = 0; i < g->n; i++) {
		if (strncmp(g->entries[i].p, "concord proposal ", 17) != 0)
			continue;
		first = first ? first : i;
		snprintf(name, sizeof(name), "entry-%04zu", i);
		write_file(dir, name, g->entries[i].p, g->entries[i].len);
		tlog_bundle_append(&seq, g->entries[i].p, g->entries[i].len);
	}
	write_file(dir, "sequence", seq.p, seq.len);
	{
		/* Whole genesis files, valid and not, for the fuzzer's empty-ledger mode. */
		struct cbuf gb = CBUF_INIT;
		size_t genesis_entries = first;

		for (size_t i = 0; i < genesis_entries; i++)
			tlog_bundle_append(&gb, g->entries[i].p, g->entries[i].len);
		write_file(dir, "genesis", gb.p, gb.len);
		cbuf_put(&gb, seq.p, seq.len);
		write_file(dir, "genesis+sequence", gb.p, gb.len);
		cbuf_free(&gb);
		for (s = g->gcases.p; s && *s; s = nl + 1) {
			nl = strchr(s, '\n');
			snprintf(path, sizeof(path), "%s/invalid-genesis/%.*s.bundle", g->dir,
				 (int)(nl - s), s);
			cbuf_reset(&b);
			if (read_all(path, &b) < 0)
				die("%s: %s", path, strerror(errno));
			snprintf(name, sizeof(name), "genesis-%.*s", (int)(nl - s), s);
			write_file(dir, name, b.p, b.len);
		}
	}
	for (s = g->cases.p; s && *s; s = nl + 1) {
		struct cbuf inv = CBUF_INIT;

		nl = strchr(s, '\n');
		snprintf(path, sizeof(path), "%s/invalid/%.*s.txt", g->dir, (int)(nl - s), s);
		if (read_all(path, &inv) < 0)
			die("%s: %s", path, strerror(errno));
		cbuf_reset(&b);
		cbuf_put(&b, seq.p, seq.len);
		tlog_bundle_append(&b, inv.p, inv.len);
		cbuf_free(&inv);
		snprintf(name, sizeof(name), "sequence+%.*s", (int)(nl - s), s);
		write_file(dir, name, b.p, b.len);
	}
	snprintf(dir, sizeof(dir), "%s/fuzz_proposal", g->corpus);
	for (size_t i = first; i < g->n; i++) {
		const char *body = strchr(g->entries[i].p, '\n') + 1;
		const char *sep = strstr(body, "\n\n");

		snprintf(name, sizeof(name), "proposal-%04zu", i);
		write_file(dir, name, body, (size_t)(sep + 1 - body));
	}
	{
		struct cbuf pol = CBUF_INIT;
		const char *names[] = {"cctld", "member", "policy", "tld"};

		for (size_t i = 0; i < N(names); i++) {
			uint64_t v;
			char p[64];

			snprintf(p, sizeof(p), "policy/%s", names[i]);
			cbuf_reset(&pol);
			if (ledger_get(g->l, p, &pol, &v) < 0)
				die("%s", p);
			snprintf(name, sizeof(name), "policy-%s", names[i]);
			write_file(dir, name, pol.p, pol.len);
		}
		cbuf_free(&pol);
	}
	cbuf_free(&seq);
	cbuf_free(&b);
}

int main(int argc, char **argv)
{
	struct gen g = {0};
	char sub[4096];

	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: gen-ledger OUTDIR [FUZZ-CORPUS-DIR]\n");
		return 2;
	}
	if (sodium_init() < 0)
		die("sodium_init");
	g.dir = argv[1];
	g.corpus = argc == 3 ? argv[2] : NULL;
	g.l = ledger_new();
	cbuf_puts(
	    &g.readme,
	    "# Entries that must be refused when applied, each alone, after entries/0000.txt to\n"
	    "# the last entry. One line per file: <file>: <code>: <why> (<Concord's message>).\n"
	    "# Codes are those of src/core/err.h without the CC_ prefix. A refused entry leaves\n"
	    "# the ledger as it was: same size, same state.\n");
	genesis(&g);
	proposals(&g);
	outputs(&g);
	invalid(&g);
	snprintf(sub, sizeof(sub), "%s/invalid", g.dir);
	write_file(sub, "README", g.readme.p, g.readme.len);
	cbuf_puts(
	    &g.greadme,
	    "# Genesis files that must be refused. One line per file: <file>: <entry>: <code>:\n"
	    "# <why> (<Concord's message>). Applying the bundle's entries in order from an empty\n"
	    "# ledger, every entry before <entry> is accepted and entry <entry> is refused with\n"
	    "# <code>; the network never becomes ready.\n");
	invalid_genesis(&g);
	snprintf(sub, sizeof(sub), "%s/invalid-genesis", g.dir);
	write_file(sub, "README", g.greadme.p, g.greadme.len);
	corpus(&g);
	for (size_t i = 0; i < g.n; i++)
		cbuf_free(&g.entries[i]);
	cbuf_free(&g.readme);
	cbuf_free(&g.cases);
	cbuf_free(&g.greadme);
	cbuf_free(&g.gcases);
	ledger_free(g.l);
	printf("gen-ledger: %zu entries, %s\n", g.n, g.dir);
	return 0;
}
