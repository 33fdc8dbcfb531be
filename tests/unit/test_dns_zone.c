/* The signed root zone built from a ledger over the real root zone: its apex from the members'
 * name servers, every delegation, NSEC and RRSIGs, ZONEMD; the same inputs give the same bytes,
 * and the real tools (ldns-verify-zone, dnssec-verify, named-checkzone) accept it when they are
 * installed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/genesis.h"
#include "core/ledger.h"
#include "core/tlog.h"
#include "dns/zone.h"
#include "zone_fixture.h"

static size_t count(const char *text, const char *what)
{
	size_t n = 0;

	for (const char *p = text; (p = strstr(p, what)) != NULL; p++)
		n++;
	return n;
}

/* TLDs with a DS RRset: owners of the DS lines, each counted once. */
static size_t ds_owners(const char *text)
{
	char last[300] = "";
	size_t n = 0;

	for (const char *p = text; (p = strstr(p, " IN DS ")) != NULL; p++) {
		const char *bol = p;

		while (bol > text && bol[-1] != '\n')
			bol--;
		if (strncmp(bol, last, strlen(last)) != 0 || last[0] == '\0' ||
		    bol[strlen(last)] != ' ') {
			snprintf(last, sizeof(last), "%.*s", (int)strcspn(bol, " "), bol);
			n++;
		}
	}
	return n;
}

/* Runs a tool on a zone file when it is installed: 1 when it accepts the zone, 0 when it
 * refuses it, -1 when it is not installed. Its output goes to the test log. */
static int tool(const char *name, const char *args, const char *path)
{
	char cmd[1024];

	snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", name);
	if (system(cmd) != 0) {
		printf("(%s not installed: skipped)\n", name);
		return -1;
	}
	snprintf(cmd, sizeof(cmd), "%s %s %s >/dev/null", name, args, path);
	return system(cmd) == 0;
}

static void write_file(const char *path, const char *data, size_t len)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

/* The signature of aaa.'s DS with its first bytes changed. */
static void spoil(struct cbuf *text)
{
	char *p = strstr(text->p, "\naaa. 86400 IN RRSIG DS ");

	assert_non_null(p);
	p = strstr(p, " . ");
	assert_non_null(p);
	p[3] = p[3] == 'A' ? 'B' : 'A';
}

static void test_root_zone(void **state)
{
	struct ledger *l = root_ledger(1);
	struct dns_key ksk, zsk;
	struct zone_keys zk = {.ksk = &ksk, .zsk = &zsk};
	struct zone *z = NULL, *again = NULL;
	struct cbuf text = CBUF_INIT, text2 = CBUF_INIT;
	struct cc_err e = {0};
	char dir[] = "/tmp/concord-zone-XXXXXX", path[256], cmd[300];

	if (l == NULL)
		skip();
	keys(&ksk, &zsk);
	if (zone_build(l, &zk, EPOCH, &z, &e) < 0)
		fail_msg("%s", e.msg);
	assert_int_equal(z->serial, ledger_size(l) + EPOCH);
	assert_int_equal(zone_write(z, &text), 0);
	/* The apex as the issue asks: SOA, two NS, two DNSKEY, ZONEMD, all signed. */
	{
		static const char soa[] = ". 86400 IN SOA ns.cn.root.concord.example. "
					  "hostmaster.invalid. ";

		assert_memory_equal(text.p, soa, sizeof(soa) - 1);
	}
	assert_non_null(strstr(text.p, ". 518400 IN NS ns.cn.root.concord.example.\n"));
	assert_non_null(strstr(text.p, ". 518400 IN NS ns.isoc.root-servers.net.\n"));
	assert_non_null(strstr(text.p, ". 172800 IN DNSKEY 257 3 15 "));
	assert_non_null(strstr(text.p, ". 172800 IN DNSKEY 256 3 15 "));
	assert_non_null(strstr(text.p, ". 86400 IN ZONEMD "));
	assert_non_null(strstr(text.p, ". 86400 IN RRSIG ZONEMD 15 0 86400 "));
	/* In-zone server addresses are signed; those under net. are glue. */
	assert_non_null(strstr(text.p, "ns.cn.root.concord.example. 518400 IN A 192.0.2.53\n"));
	assert_non_null(strstr(text.p, "ns.cn.root.concord.example. 518400 IN RRSIG A "));
	assert_non_null(strstr(text.p, "ns.isoc.root-servers.net. 518400 IN A 198.51.100.7\n"));
	assert_null(strstr(text.p, "ns.isoc.root-servers.net. 518400 IN RRSIG"));
	/* Every TLD delegation, with an NSEC each; DS signed, NS not. */
	assert_int_equal(count(text.p, " IN NSEC "), 1440 + 1 + 1);
	assert_int_equal(count(text.p, " IN DS "), 1506);
	assert_int_equal(count(text.p, " IN RRSIG DS "), ds_owners(text.p));
	assert_null(strstr(text.p, " IN RRSIG NS 15 1 "));
	assert_non_null(strstr(text.p, "\ncn. 86400 IN NSEC co. NS DS RRSIG NSEC\n"));
	/* Same inputs, same bytes. */
	assert_int_equal(zone_build(l, &zk, EPOCH, &again, &e), 0);
	assert_int_equal(zone_write(again, &text2), 0);
	assert_int_equal(text.len, text2.len);
	assert_memory_equal(text.p, text2.p, text.len);

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/root.zone", dir);
	write_file(path, text.p, text.len);
	/* The validity period is around EPOCH: ldns is told the time; dnssec-verify checks the
	 * signatures (-x: the DNSKEY set by the KSK only) and not the time. */
	assert_int_not_equal(tool("ldns-verify-zone", "-Z -t 20261122120000", path), 0);
	assert_int_not_equal(tool("dnssec-verify", "-q -o . -x", path), 0);
	assert_int_not_equal(tool("named-checkzone", "-q -n ignore -i local .", path), 0);
	/* ... and they do look: one spoilt signature is enough to be refused. */
	spoil(&text);
	write_file(path, text.p, text.len);
	assert_int_not_equal(tool("ldns-verify-zone", "-Z -t 20261122120000", path), 1);
	assert_int_not_equal(tool("dnssec-verify", "-q -o . -x", path), 1);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
	zone_free(z);
	zone_free(again);
	cbuf_free(&text);
	cbuf_free(&text2);
	ledger_free(l);
}

static void test_no_name_server(void **state)
{
	struct ledger *l = root_ledger(0);
	struct dns_key ksk, zsk;
	struct zone_keys zk = {.ksk = &ksk, .zsk = &zsk};
	struct zone *z = (struct zone *)1;
	struct cc_err e = {0};

	if (l == NULL)
		skip();
	keys(&ksk, &zsk);
	assert_int_equal(zone_build(l, &zk, EPOCH, &z, &e), CC_ENOENT);
	assert_null(z);
	assert_non_null(strstr(e.msg, "no member runs a name server"));
	ledger_free(l);
}

#define G "br cn de isoc" /* enough for a gTLD: 2/3 of government, half of technical */

/* Brings z up to date with l by parts, and checks the result against the zone built whole
 * from l: the same bytes, and a delta that turns one into the other. Returns the new zone. */
static struct zone *update_check(struct zone *z, const struct ledger *l, const struct zone_keys *zk,
				 size_t min_names)
{
	struct zone_changes *c = NULL;
	struct zone_delta *d = NULL;
	struct zone *up = NULL, *full = NULL;
	struct cc_err e = {0};

	if (zone_changes(z, l, &c, &e) < 0)
		fail_msg("zone_changes: %s", e.msg);
	assert_true(zone_changes_names(c) >= min_names);
	if (zone_update(z, c, zk, &up, &d, &e) < 0)
		fail_msg("zone_update: %s", e.msg);
	assert_int_equal(zone_build(l, zk, EPOCH, &full, &e), 0);
	assert_int_equal(up->serial, full->serial);
	assert_int_equal(up->log_size, ledger_size(l));
	assert_int_equal(up->n, full->n);
	assert_int_equal(up->img_len, full->img_len);
	assert_memory_equal(up->img, full->img, full->img_len);
	/* The delta: the old SOA out, the new one in, and exactly the difference. */
	assert_int_equal(d->from, z->serial);
	assert_int_equal(d->to, up->serial);
	assert_int_equal(z->n - d->del->n + d->add->n, up->n);
	assert_true(d->del->n >= 4 && d->add->n >= 4); /* SOA, ZONEMD and their RRSIGs */
	for (size_t i = 0; i < d->add->n; i++) {
		size_t j = 0;

		while (j < up->n && (up->rr[j].type != d->add->rr[i].type ||
				     up->rr[j].rdlen != d->add->rr[i].rdlen ||
				     memcmp(up->rr[j].rdata, d->add->rr[i].rdata, up->rr[j].rdlen)))
			j++;
		assert_true(j < up->n);
	}
	zone_delta_free(d);
	zone_changes_free(c);
	zone_free(full);
	zone_free(z);
	return up;
}

/* Changes by parts give the zone zone_build gives (with a serial offset too): a DS added, a
 * TLD with in-zone glue
 * created, its host moved, a TLD created over a root server's name (its addresses become
 * glue) and removed again, several entries at once, a TLD deleted with its host; a member
 * change asks for a whole build. */
static void test_update(void **state)
{
	struct ledger *l = root_ledger(1);
	struct dns_key ksk, zsk;
	struct zone_keys zk = {.ksk = &ksk, .zsk = &zsk};
	struct zone *z = NULL;
	struct zone_changes *c = NULL;
	struct cbuf cn = CBUF_INIT;
	struct cc_err e = {0};
	uint64_t version;
	int64_t t = 1795000100;

	(void)state;
	if (l == NULL)
		skip();
	keys(&ksk, &zsk);
	assert_int_equal(zone_build(l, &zk, EPOCH, &z, &e), 0);

	assert_int_equal(ledger_get(l, "tld/cn", &cn, &version), 0);
	assert_int_equal(
	    cbuf_puts(&cn, "cn. 86400 IN DS 4711 15 2 "
			   "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n"),
	    0);
	fixture_change(l, "cn", "tld/cn", cn.p, t++);
	z = update_check(z, l, &zk, 1);
	assert_int_equal(z->serial, ledger_size(l) + EPOCH);
	/* A node that went back on its log adds an offset to its serials, by parts as whole. */
	zk.serial_offset = 5;
	assert_int_equal(cbuf_puts(&cn, "cn. 86400 IN DS 4712 15 2 "
					"00112233445566778899aabbccddeeff00112233445566778899aabbcc"
					"ddeeff\n"),
			 0);
	fixture_change(l, "cn", "tld/cn", cn.p, t++);
	z = update_check(z, l, &zk, 1);
	assert_int_equal(z->serial, ledger_size(l) + EPOCH + 5);

	fixture_change(l, G, "tld/zzzz",
		       "zzzz. 172800 IN NS ns1.zzzz.\nzzzz. 172800 IN NS ns2.zzzz.\n"
		       "ns1.zzzz. 172800 IN A 192.0.2.1\nns2.zzzz. 172800 IN AAAA 2001:db8::2\n",
		       t++);
	z = update_check(z, l, &zk, 3);
	fixture_change(l, G, "host/ns1.zzzz.", "ns1.zzzz. 172800 IN A 192.0.2.9\n", t++);
	z = update_check(z, l, &zk, 1);

	/* A root server's name (ns.cn.root.concord.example.) lies under example. */
	fixture_change(l, G, "tld/example", "example. 172800 IN NS ns1.zzzz.\n", t++);
	z = update_check(z, l, &zk, 2);
	fixture_change(l, G, "tld/example", NULL, t++);
	z = update_check(z, l, &zk, 2);

	fixture_change(l, G, "tld/aaaa", "aaaa. 172800 IN NS ns1.zzzz.\n", t++);
	fixture_change(l, G, "tld/zzzz", NULL, t++);
	fixture_change(l, G, "tld/aaaa", "aaaa. 172800 IN NS a.nic.de.\n", t++);
	z = update_check(z, l, &zk, 4);

	fixture_change(l, "br cn de za", "member/isoc", NULL, t++);
	assert_int_equal(zone_changes(z, l, &c, &e), CC_ENOENT);
	assert_null(c);

	zone_free(z);
	cbuf_free(&cn);
	ledger_free(l);
}

/* A KSK whose private half is elsewhere: the zone takes its signature over the DNSKEY RRset,
 * made from zone_dnskey_data, and is then the zone the KSK's holder would have built; no
 * signature, or a wrong one, builds no zone. */
static void test_ksk_elsewhere(void **state)
{
	struct ledger *l = root_ledger(1);
	struct dns_key ksk, zsk, kpub;
	struct zone_keys zk = {.ksk = &ksk, .zsk = &zsk}, pk = {.ksk = &kpub, .zsk = &zsk};
	struct zone *z = NULL, *z2 = NULL;
	struct cbuf data = CBUF_INIT;
	struct cc_err e = {0};
	uint8_t rrsig[256];
	size_t prefix;

	(void)state;
	if (l == NULL)
		skip();
	keys(&ksk, &zsk);
	assert_int_equal(dns_key_from_public(&kpub, ksk.pub, DNS_KEY_KSK), 0);
	assert_int_equal(zone_build(l, &zk, EPOCH, &z, &e), 0);
	assert_int_equal(zone_build(l, &pk, EPOCH, &z2, &e), CC_EPERM);
	/* The holder's side: sign what the zone says, append the signature to the prefix. */
	assert_int_equal(zone_dnskey_data(l, &pk, EPOCH, &data, &prefix), 0);
	assert_true(prefix + DNS_SIG_LEN <= sizeof(rrsig));
	memcpy(rrsig, data.p, prefix);
	crypto_sign_detached(rrsig + prefix, NULL, (const uint8_t *)data.p, data.len, ksk.sk);
	pk.dnskey_rrsig = rrsig;
	pk.dnskey_rrsig_len = prefix + DNS_SIG_LEN;
	assert_int_equal(zone_build(l, &pk, EPOCH, &z2, &e), 0);
	assert_int_equal(z2->img_len, z->img_len);
	assert_memory_equal(z2->img, z->img, z->img_len);
	zone_free(z2);
	z2 = NULL;
	/* Another epoch's, or a spoilt one, is refused. */
	assert_int_equal(zone_build(l, &pk, EPOCH + 1, &z2, &e), CC_ESIG);
	rrsig[prefix + 5] ^= 1;
	assert_int_equal(zone_build(l, &pk, EPOCH, &z2, &e), CC_ESIG);
	assert_null(z2);
	cbuf_free(&data);
	zone_free(z);
	ledger_free(l);
}

/* The apex RRset of type in z: its first record's index, and how many. */
static size_t apex_set(const struct zone *z, uint16_t type, size_t *first)
{
	size_t n = 0;

	*first = 0;
	for (size_t i = 0; i < z->n && dns_name_labels(z->rr[i].owner) == 0; i++)
		if (z->rr[i].type == type && n++ == 0)
			*first = i;
	return n;
}

/* The apex RRSIG over type in z. */
static const struct zone_rr *apex_sig(const struct zone *z, uint16_t type)
{
	for (size_t i = 0; i < z->n && dns_name_labels(z->rr[i].owner) == 0; i++)
		if (z->rr[i].type == DNS_RRSIG && dns_get16(z->rr[i].rdata) == type)
			return &z->rr[i];
	return NULL;
}

static int rr_equal(const struct zone_rr *a, const struct zone_rr *b)
{
	return a->type == b->type && a->ttl == b->ttl && a->rdlen == b->rdlen &&
	       memcmp(a->rdata, b->rdata, a->rdlen) == 0;
}

/* Checks every RRSIG of z with dns_rrsig_verify: the DNSKEY RRset's with ksk, every other
 * with zsk. Returns how many were checked (each must verify). */
static size_t verify_all(const struct zone *z, const struct dns_key *ksk, const struct dns_key *zsk)
{
	static struct dns_rdata rds[256];
	size_t checked = 0;

	for (size_t a = 0, b; a < z->n; a = b) {
		for (b = a; b < z->n && dns_name_cmp(z->rr[b].owner, z->rr[a].owner) == 0;)
			b++;
		for (size_t j = a; j < b; j++) {
			uint16_t covered;
			uint32_t ttl = 0;
			size_t n = 0;

			if (z->rr[j].type != DNS_RRSIG)
				continue;
			covered = dns_get16(z->rr[j].rdata);
			for (size_t i = a; i < b && n < 256; i++)
				if (z->rr[i].type == covered) {
					rds[n].p = z->rr[i].rdata;
					rds[n++].len = z->rr[i].rdlen;
					ttl = z->rr[i].ttl;
				}
			assert_true(n > 0);
			if (dns_rrsig_verify(covered == DNS_DNSKEY ? ksk : zsk, z->rr[j].owner,
					     covered, ttl, rds, n, z->rr[j].rdata,
					     z->rr[j].rdlen) != 0)
				fail_msg("RRSIG %u of record %zu does not verify", covered, j);
			checked++;
		}
	}
	return checked;
}

/* The zone's text without its signatures and ZONEMD: what every node must agree on. */
static void content_of(const struct zone *z, struct cbuf *out)
{
	struct cbuf text = CBUF_INIT;

	assert_int_equal(zone_write(z, &text), 0);
	for (const char *p = text.p; p < text.p + text.len;) {
		const char *nl = strchr(p, '\n');

		if (strstr(p, " IN RRSIG ") == NULL || strstr(p, " IN RRSIG ") > nl)
			if (strstr(p, " IN ZONEMD ") == NULL || strstr(p, " IN ZONEMD ") > nl)
				assert_int_equal(cbuf_put(out, p, (size_t)(nl + 1 - p)), 0);
		p = nl + 1;
	}
	cbuf_free(&text);
}

/* RFC 8901's model 2 with one KSK: with node records, the DNSKEY RRset is the KSK and every
 * node's ZSK; two nodes signing with their own ZSKs publish the same DNSKEY RRset and the
 * same RRSIG over it, the same content, and signatures each of their own ZSK; a ZSK no
 * record lists joins the set of the node using it; a KSK signing elsewhere signs once for
 * every node. */
static void test_multisigner(void **state)
{
	struct ledger *l = root_ledger_nodes(1, 3);
	struct dns_key ksk, zsk, kpub, nz[3];
	struct zone_keys k0 = {0}, k1 = {0}, ko = {0}, pk = {0};
	struct zone *a = NULL, *b = NULL, *o = NULL, *p = NULL;
	struct cbuf ta = CBUF_INIT, tb = CBUF_INIT, data = CBUF_INIT;
	struct cc_err e = {0};
	const struct zone_rr *sa, *sb;
	uint8_t want[DNS_DNSKEY_RDATA], rrsig[256];
	char dir[] = "/tmp/concord-zone-XXXXXX", path[256], cmd[300];
	size_t fa, fb, fo, n, prefix;

	(void)state;
	if (l == NULL)
		skip();
	keys(&ksk, &zsk);
	for (size_t i = 0; i < 3; i++)
		node_zsk(&nz[i], i);
	k0 = (struct zone_keys){.ksk = &ksk, .zsk = &nz[0]};
	k1 = (struct zone_keys){.ksk = &ksk, .zsk = &nz[1]};
	ko = (struct zone_keys){.ksk = &ksk, .zsk = &zsk};
	if (zone_build(l, &k0, EPOCH, &a, &e) < 0 || zone_build(l, &k1, EPOCH, &b, &e) < 0 ||
	    zone_build(l, &ko, EPOCH, &o, &e) < 0)
		fail_msg("%s", e.msg);
	/* KSK + the three node ZSKs, TTL 172800, in canonical (rdata) order. */
	assert_int_equal(apex_set(a, DNS_DNSKEY, &fa), 4);
	for (size_t i = 0; i < 4; i++) {
		const struct zone_rr *r = &a->rr[fa + i];
		int found = 0;

		assert_int_equal(r->ttl, ZONE_TTL_DNSKEY);
		assert_int_equal(r->rdlen, DNS_DNSKEY_RDATA);
		for (size_t k = 0; k < 4; k++) {
			dns_dnskey_rdata(k == 3 ? &ksk : &nz[k], want);
			found += memcmp(r->rdata, want, sizeof(want)) == 0;
		}
		assert_int_equal(found, 1);
		if (i > 0)
			assert_true(memcmp(a->rr[fa + i - 1].rdata, r->rdata, r->rdlen) < 0);
	}
	/* The same DNSKEY RRset and KSK signature on both nodes ... */
	assert_int_equal(apex_set(b, DNS_DNSKEY, &fb), 4);
	for (size_t i = 0; i < 4; i++)
		assert_true(rr_equal(&a->rr[fa + i], &b->rr[fb + i]));
	sa = apex_sig(a, DNS_DNSKEY);
	sb = apex_sig(b, DNS_DNSKEY);
	assert_non_null(sa);
	assert_non_null(sb);
	assert_true(rr_equal(sa, sb));
	/* ... the same content, each signed by its own ZSK (other key tags, other ZONEMD). */
	content_of(a, &ta);
	content_of(b, &tb);
	assert_int_equal(ta.len, tb.len);
	assert_memory_equal(ta.p, tb.p, ta.len);
	n = verify_all(a, &ksk, &nz[0]);
	assert_true(n > 1000);
	assert_int_equal(verify_all(b, &ksk, &nz[1]), n);
	assert_int_equal(dns_get16(apex_sig(a, DNS_SOA)->rdata + 16), nz[0].tag);
	assert_int_equal(dns_get16(apex_sig(b, DNS_SOA)->rdata + 16), nz[1].tag);
	assert_int_not_equal(nz[0].tag, nz[1].tag);
	assert_false(rr_equal(&a->rr[apex_set(a, DNS_ZONEMD, &fa) ? fa : 0],
			      &b->rr[apex_set(b, DNS_ZONEMD, &fb) ? fb : 0]));
	/* A ZSK no node record lists is in its own node's DNSKEY RRset, which then differs. */
	assert_int_equal(apex_set(o, DNS_DNSKEY, &fo), 5);
	dns_dnskey_rdata(&zsk, want);
	for (n = 0; n < 5 && memcmp(o->rr[fo + n].rdata, want, sizeof(want)) != 0;)
		n++;
	assert_true(n < 5);
	assert_false(rr_equal(apex_sig(o, DNS_DNSKEY), sa));
	assert_true(verify_all(o, &ksk, &zsk) > 1000);
	/* The KSK's holder signs what zone_dnskey_data gives once: every node builds with it. */
	assert_int_equal(dns_key_from_public(&kpub, ksk.pub, DNS_KEY_KSK), 0);
	pk = (struct zone_keys){.ksk = &kpub, .zsk = &nz[1]};
	assert_int_equal(zone_dnskey_data(l, &pk, EPOCH, &data, &prefix), 0);
	memcpy(rrsig, data.p, prefix);
	crypto_sign_detached(rrsig + prefix, NULL, (const uint8_t *)data.p, data.len, ksk.sk);
	pk.dnskey_rrsig = rrsig;
	pk.dnskey_rrsig_len = prefix + DNS_SIG_LEN;
	assert_int_equal(zone_build(l, &pk, EPOCH, &p, &e), 0);
	assert_int_equal(p->img_len, b->img_len);
	assert_memory_equal(p->img, b->img, b->img_len);
	zone_free(p);
	pk.zsk = &nz[0];
	assert_int_equal(zone_build(l, &pk, EPOCH, &p, &e), 0);
	assert_int_equal(p->img_len, a->img_len);
	assert_memory_equal(p->img, a->img, a->img_len);
	/* The real tools accept a node's zone. */
	cbuf_reset(&ta);
	assert_int_equal(zone_write(a, &ta), 0);
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/root.zone", dir);
	write_file(path, ta.p, ta.len);
	assert_int_not_equal(tool("ldns-verify-zone", "-Z -t 20261122120000", path), 0);
	assert_int_not_equal(tool("dnssec-verify", "-q -o . -x", path), 0);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
	zone_free(a);
	zone_free(b);
	zone_free(o);
	zone_free(p);
	cbuf_free(&ta);
	cbuf_free(&tb);
	cbuf_free(&data);
	ledger_free(l);
}

/* The content of node i's record with the zone-signing key of seed zseed. */
static void node_record(char *out, size_t len, size_t i, const char *id, int zseed)
{
	unsigned char seed[32], pk[32], sk[64];
	char key[45], zsk[45];

	memset(seed, FIXTURE_NODE_KEY_SEED(i), sizeof(seed));
	crypto_sign_seed_keypair(pk, sk, seed);
	sodium_bin2base64(key, sizeof(key), pk, 32, sodium_base64_VARIANT_ORIGINAL);
	memset(seed, zseed, sizeof(seed));
	crypto_sign_seed_keypair(pk, sk, seed);
	sodium_bin2base64(zsk, sizeof(zsk), pk, 32, sodium_base64_VARIANT_ORIGINAL);
	snprintf(out, len, "url http://node.%s.example:8053\nkey %s\nzsk %s\n", id, key, zsk);
}

/* With node records, changes by parts still give the whole build; a node's new ZSK touches
 * the apex, so the zone is built whole, with the new DNSKEY RRset, and by parts again after. */
static void test_update_nodes(void **state)
{
	struct ledger *l = root_ledger_nodes(1, 3);
	struct dns_key ksk, zsk, nz, cz;
	struct zone_keys zk = {0}, ck = {0};
	struct zone *z = NULL, *old = NULL;
	struct zone_changes *c = NULL;
	struct cbuf cn = CBUF_INIT;
	struct cc_err e = {0};
	uint8_t want[DNS_DNSKEY_RDATA];
	char rec[300];
	unsigned char seed[32];
	uint64_t version;
	size_t first, n;
	int64_t t = 1795000100;

	(void)state;
	if (l == NULL)
		skip();
	keys(&ksk, &zsk);
	node_zsk(&cz, 1); /* cn's */
	zk = (struct zone_keys){.ksk = &ksk, .zsk = &cz};
	assert_int_equal(zone_build(l, &zk, EPOCH, &z, &e), 0);
	assert_int_equal(ledger_get(l, "tld/cn", &cn, &version), 0);
	assert_int_equal(
	    cbuf_puts(&cn, "cn. 86400 IN DS 4711 15 2 "
			   "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n"),
	    0);
	fixture_change(l, "cn", "tld/cn", cn.p, t++);
	z = update_check(z, l, &zk, 1);

	/* cn's node takes a new ZSK (seed 0x33). */
	node_record(rec, sizeof(rec), 1, "cn", 0x33);
	fixture_change(l, G, "node/cn", rec, t++);
	assert_int_equal(zone_changes(z, l, &c, &e), CC_ENOENT);
	assert_null(c);
	old = z;
	memset(seed, 0x33, sizeof(seed));
	assert_int_equal(dns_key_from_seed(&nz, seed, DNS_KEY_ZSK), 0);
	ck = (struct zone_keys){.ksk = &ksk, .zsk = &nz};
	assert_int_equal(zone_build(l, &ck, EPOCH, &z, &e), 0);
	n = apex_set(z, DNS_DNSKEY, &first);
	assert_int_equal(n, 4);
	dns_dnskey_rdata(&nz, want);
	while (n > 0 && memcmp(z->rr[first + n - 1].rdata, want, sizeof(want)) != 0)
		n--;
	assert_true(n > 0);
	dns_dnskey_rdata(&cz, want);
	for (size_t i = 0; i < 4; i++)
		assert_memory_not_equal(z->rr[first + i].rdata, want, sizeof(want));
	assert_false(rr_equal(apex_sig(z, DNS_DNSKEY), apex_sig(old, DNS_DNSKEY)));
	assert_true(verify_all(z, &ksk, &nz) > 1000);
	zone_free(old);
	/* By parts again from the new whole zone. */
	fixture_change(l, G, "tld/zzzz", "zzzz. 172800 IN NS a.nic.de.\n", t++);
	z = update_check(z, l, &ck, 1);
	zone_free(z);
	cbuf_free(&cn);
	ledger_free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_root_zone),	cmocka_unit_test(test_no_name_server),
	    cmocka_unit_test(test_update),	cmocka_unit_test(test_ksk_elsewhere),
	    cmocka_unit_test(test_multisigner), cmocka_unit_test(test_update_nodes),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
