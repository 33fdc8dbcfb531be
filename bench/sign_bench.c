/* sign_bench: the signing half of `make bench-sign`. Builds a ledger over the real root zone
 * (one member with a name server), then times zone_build (the whole zone from the ledger:
 * records, NSEC chain, every RRSIG, ZONEMD) several times, and the path a delegation change
 * takes in a node (the entry applied, the changes collected, the zone updated by parts with
 * its IXFR delta; the entry's own apply timed apart). Writes the zone without its DNSSEC
 * records to OUT for ldns-signzone, and prints:
 *
 *   RESULT records=N signatures=S build_ms_median=… build_ms_min=… change_ms_median=…
 *          change_ms_max=… apply_ms_median=… resigned=…
 *
 * usage: sign_bench ZONEFILE OUT [RUNS] */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/genesis.h"
#include "core/ledger.h"
#include "core/proposal.h"
#include "core/tfmt.h"
#include "core/tlog.h"
#include "dns/zone.h"

static double now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static int add(void *ctx, const struct rr *r)
{
	return rr_set_add(ctx, r);
}

static int dcmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void die(const char *what, const struct cc_err *e)
{
	fprintf(stderr, "sign_bench: %s: %s\n", what, e ? e->msg : "");
	exit(1);
}

int main(int argc, char **argv)
{
	static const char dns[] = "ns.cn.root.concord.example. 192.0.2.53 2001:db8::53";
	struct rr_set root = {0};
	struct key_pair k;
	struct genesis_member gm;
	struct genesis_params gp = {0};
	struct cbuf bundle = CBUF_INIT, text = CBUF_INIT, content = CBUF_INIT, body = CBUF_INIT,
		    entry = CBUF_INIT;
	struct cc_err e = {0};
	struct ledger *l = ledger_new();
	struct dns_key ksk, zsk;
	struct zone_keys zk = {.ksk = &ksk, .zsk = &zsk};
	struct zone *z = NULL;
	unsigned char seed[32];
	const unsigned char *ent;
	size_t elen, off = 0, sigs = 0;
	int runs = argc > 3 ? atoi(argv[3]) : 5, changes = 10 * runs;
	double *t, *c, *a;
	struct zone_changes *ch;
	struct zone_delta *d;
	struct zone *up;
	size_t resigned = 0;
	uint64_t version;
	FILE *f;

	if (argc < 3 || runs < 1 || sodium_init() < 0 || l == NULL) {
		fprintf(stderr, "usage: sign_bench ZONEFILE OUT [RUNS]\n");
		return 2;
	}
	t = calloc((size_t)runs, sizeof(*t));
	c = calloc((size_t)changes, sizeof(*c));
	a = calloc((size_t)changes, sizeof(*a));
	if (rr_scan_file(argv[1], add, &root, &e) < 0)
		die(argv[1], &e);
	memset(seed, 7, sizeof(seed));
	memset(&gm, 0, sizeof(gm));
	if (note_signer_from_seed(&k.sign, "cn", seed) < 0)
		die("key", NULL);
	crypto_box_seed_keypair(k.box_pk, k.box_sk, seed);
	strcpy(gm.id, "cn");
	gm.chamber = CHAMBER_GOVERNMENT;
	key_public(&k, &gm.pub);
	if (member_dns_parse(&gm.dns, dns, strlen(dns), &e) < 0)
		die("dns", &e);
	gp.origin = "bench.concord.example/root";
	gp.time = 1795000000;
	gp.members = &gm;
	gp.nmembers = 1;
	gp.consultation = 0;
	gp.root = &root;
	if (genesis_build(&gp, &bundle, &e) < 0 || genesis_sign(&bundle, &k, &e) < 0)
		die("genesis", &e);
	while (tlog_bundle_next((unsigned char *)bundle.p, bundle.len, &off, &ent, &elen) == 1)
		if (ledger_apply_entry(l, ent, elen, 1, &e) < 0)
			die("genesis entry", &e);
	randombytes_buf(seed, sizeof(seed));
	dns_key_from_seed(&ksk, seed, DNS_KEY_KSK);
	randombytes_buf(seed, sizeof(seed));
	dns_key_from_seed(&zsk, seed, DNS_KEY_ZSK);
	for (int i = 0; i < runs; i++) {
		double t0 = now_ms();

		zone_free(z);
		if (zone_build(l, &zk, 20779, &z, &e) < 0)
			die("zone_build", &e);
		t[i] = now_ms() - t0;
	}
	/* The unsigned zone, for the other signer: everything but DNSSEC's own records. */
	if (zone_write(z, &text) < 0 || (f = fopen(argv[2], "w")) == NULL)
		die(argv[2], NULL);
	for (char *p = text.p; p && *p;) {
		char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p + 1) : strlen(p);

		if (!memmem(p, n, " IN RRSIG ", 10) && !memmem(p, n, " IN NSEC ", 9) &&
		    !memmem(p, n, " IN DNSKEY ", 11) && !memmem(p, n, " IN ZONEMD ", 11))
			fwrite(p, 1, n, f);
		p += n;
	}
	fclose(f);
	for (size_t i = 0; i < z->n; i++)
		sigs += z->rr[i].type == DNS_RRSIG;
	/* One delegation change as a node makes it: the entry applied, then the zone. */
	for (int i = 0; i < changes; i++) {
		struct proposal_op op = {0};
		struct note_sig sig;
		char when[TFMT_LEN + 1];
		double t0;

		cbuf_reset(&content);
		cbuf_reset(&body);
		cbuf_reset(&entry);
		if (ledger_get(l, "tld/cn", &content, &version) < 0)
			die("tld/cn", NULL);
		/* cn.'s delegation with one more DS each time, from the second on replacing the
		 * one added before (a TLD holds at most 32). */
		if (i > 0) {
			char *ds = strstr(content.p, "cn. 86400 IN DS 10"), *nl;

			if (ds == NULL || (nl = strchr(ds, '\n')) == NULL)
				die("tld/cn: our DS is gone", NULL);
			memmove(ds, nl + 1, strlen(nl + 1) + 1);
			content.len = strlen(content.p);
		}
		cbuf_printf(&content, "cn. 86400 IN DS %d 15 2 ", 1000 + i);
		for (int b = 0; b < 32; b++)
			cbuf_printf(&content, "%02X", b + i);
		cbuf_putc(&content, '\n');
		op.kind = OP_PUT;
		strcpy(op.path, "tld/cn");
		op.version = (int64_t)version;
		op.content = content.p;
		op.content_len = content.len;
		if (proposal_format(&body, gp.origin, "cn", 1795000100 + i, 1795090000, &op, 1) <
			0 ||
		    note_sign(&k.sign, body.p, body.len, &sig) < 0 ||
		    (tfmt_format(1795000200 + i, when),
		     cbuf_printf(&entry, "concord proposal %s\n", when)) < 0 ||
		    note_format(body.p, body.len, &sig, 1, &entry) < 0)
			die("proposal", NULL);
		t0 = now_ms();
		if (ledger_apply_entry(l, (const unsigned char *)entry.p, entry.len, 1, &e) < 0)
			die("apply", &e);
		a[i] = now_ms() - t0;
		t0 = now_ms();
		if (zone_changes(z, l, &ch, &e) < 0 || zone_update(z, ch, &zk, &up, &d, &e) < 0)
			die("zone_update", &e);
		c[i] = now_ms() - t0;
		for (size_t j = 0; j < d->add->n; j++)
			resigned += d->add->rr[j].type == DNS_RRSIG;
		zone_changes_free(ch);
		zone_delta_free(d);
		zone_free(z);
		z = up;
	}
	qsort(t, (size_t)runs, sizeof(*t), dcmp);
	qsort(c, (size_t)changes, sizeof(*c), dcmp);
	qsort(a, (size_t)changes, sizeof(*a), dcmp);
	printf("RESULT records=%zu signatures=%zu build_ms_median=%.1f build_ms_min=%.1f "
	       "change_ms_median=%.2f change_ms_max=%.2f apply_ms_median=%.2f resigned=%.1f\n",
	       z->n, sigs, t[runs / 2], t[0], c[changes / 2], c[changes - 1], a[changes / 2],
	       (double)resigned / changes);
	zone_free(z);
	ledger_free(l);
	rr_set_free(&root);
	cbuf_free(&bundle);
	cbuf_free(&text);
	cbuf_free(&content);
	cbuf_free(&body);
	cbuf_free(&entry);
	free(t);
	free(c);
	free(a);
	return 0;
}
