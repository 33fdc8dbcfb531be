/* libFuzzer target for the DNS query path: any bytes as a query over UDP and over TCP, to a
 * small signed root zone (two TLDs, one signed, a root server in the zone). Besides not
 * crashing: an answer is never longer than allowed, echoes the id, is a response, and
 * libknot parses it whole. A UDP answer kept in the workers' cache (dns/pcache.h) comes
 * back for the query with another id as the answer to that query. */
#include <libknot/libknot.h>
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/genesis.h"
#include "core/ledger.h"
#include "core/tlog.h"
#include "dns/answer.h"
#include "dns/pcache.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct ans_zone *az;
static struct zone *z;
static struct pcache *pc;

static const char delegations[] =
    "cn. 172800 IN NS a.dns.cn.\n"
    "cn. 172800 IN NS ns.cernet.net.\n"
    "cn. 86400 IN DS 57724 8 2 5D0BB7FA4FCFC8C4F6FBF37E83A8B7E791CF6A96B4F4F0F12BE5B563D2BD40E8\n"
    "a.dns.cn. 172800 IN A 203.119.25.1\n"
    "a.dns.cn. 172800 IN AAAA 2001:dc7::1\n"
    "net. 172800 IN NS a.gtld-servers.net.\n"
    "a.gtld-servers.net. 172800 IN A 192.5.6.30\n"
    "ns.cernet.net. 172800 IN A 202.112.0.44\n";

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct rr_set root = {0};
	struct key_pair k;
	struct genesis_member gm;
	struct genesis_params gp = {0};
	struct cbuf bundle = CBUF_INIT;
	struct cc_err e = {0};
	struct ledger *l = ledger_new();
	struct dns_key ksk, zsk;
	struct zone_keys zk = {.ksk = &ksk, .zsk = &zsk};
	unsigned char seed[32];
	const unsigned char *entry;
	size_t elen, off = 0;
	static const char dns[] = "ns.cn.root.concord.example. 192.0.2.53 2001:db8::53";

	(void)argc;
	(void)argv;
	if (sodium_init() < 0 || l == NULL ||
	    rr_parse(&root, delegations, sizeof(delegations) - 1, &e) < 0)
		abort();
	memset(seed, 7, sizeof(seed));
	memset(&gm, 0, sizeof(gm));
	if (note_signer_from_seed(&k.sign, "cn", seed) < 0)
		abort();
	crypto_box_seed_keypair(k.box_pk, k.box_sk, seed);
	strcpy(gm.id, "cn");
	gm.chamber = CHAMBER_GOVERNMENT;
	key_public(&k, &gm.pub);
	if (member_dns_parse(&gm.dns, dns, strlen(dns), &e) < 0)
		abort();
	gp.origin = "fuzz.concord.example/root";
	gp.time = 1795000000;
	gp.members = &gm;
	gp.nmembers = 1;
	gp.root = &root;
	if (genesis_build(&gp, &bundle, &e) < 0 || genesis_sign(&bundle, &k, &e) < 0)
		abort();
	while (tlog_bundle_next((unsigned char *)bundle.p, bundle.len, &off, &entry, &elen) == 1)
		if (ledger_apply_entry(l, entry, elen, 1, &e) < 0)
			abort();
	memset(seed, 0x4b, sizeof(seed));
	dns_key_from_seed(&ksk, seed, DNS_KEY_KSK);
	memset(seed, 0x5a, sizeof(seed));
	dns_key_from_seed(&zsk, seed, DNS_KEY_ZSK);
	if (zone_build(l, &zk, 20779, &z, &e) < 0 || ans_zone_new(z, &az) < 0)
		abort();
	memset(seed, 0x33, PCACHE_SEED_BYTES);
	if (pcache_new(1 << 20, seed, &pc) < 0)
		abort();
	rr_set_free(&root);
	cbuf_free(&bundle);
	ledger_free(l);
	return 0;
}

static void check(const uint8_t *data, size_t size, int tcp)
{
	static uint8_t out[65535];
	struct ans_query q = {.tcp = tcp, .udp_max = ANS_UDP_DEFAULT};
	size_t n = ans_answer(az, &q, data, size, out, sizeof(out));
	knot_pkt_t *pkt;

	if (n == 0)
		return;
	if (n < 12 || n > (tcp ? 65535u : ANS_UDP_DEFAULT) || size < 12 ||
	    memcmp(out, data, 2) != 0 || !(out[2] & 0x80))
		abort();
	pkt = knot_pkt_new(out, (uint16_t)n, NULL);
	if (pkt == NULL || knot_pkt_parse(pkt, 0) != KNOT_EOK)
		abort();
	knot_pkt_free(pkt);
	if (!tcp && size <= PCACHE_QUERY_MAX) {
		static uint8_t q2[PCACHE_QUERY_MAX], a2[ANS_UDP_DEFAULT], c2[ANS_UDP_DEFAULT];
		size_t n2, c;

		pcache_put(pc, data, size, out, n);
		memcpy(q2, data, size);
		q2[0] ^= 0x5a;
		n2 = ans_answer(az, &q, q2, size, a2, sizeof(a2));
		c = pcache_get(pc, q2, size, c2, sizeof(c2));
		if (c != n2 || memcmp(c2, a2, n2) != 0)
			abort();
	}
}

/* A transfer: every message well-formed, the SOA first and last, and an end. */
static void check_xfr(const uint8_t *data, size_t size)
{
	static uint8_t out[65535];
	size_t pos = 0, n, msgs = 0;

	if (!ans_is_xfr(data, size))
		return;
	while ((n = ans_xfr_next(az, data, size, &pos, out, sizeof(out))) > 0) {
		knot_pkt_t *pkt = knot_pkt_new(out, (uint16_t)n, NULL);

		if (pkt == NULL || knot_pkt_parse(pkt, 0) != KNOT_EOK ||
		    memcmp(out, data, 2) != 0 || ++msgs > 100)
			abort();
		knot_pkt_free(pkt);
	}
	if (msgs == 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check(data, size, 0);
	check(data, size, 1);
	check_xfr(data, size);
	return 0;
}
