/* The ledger vectors' world: members, keys, root zone and genesis. Shared by gen.c, which writes
 * the vectors, and fuzz/fuzz_entry.c, which fuzzes entries on top of the same genesis, so that
 * the vectors' entries are valid seeds for the fuzzer. The unit test reads only the files.
 *
 * Member i (in the order of scenario_ids) has the Ed25519 seed of 32 bytes of value i + 1 and
 * the X25519 key pair crypto_box_seed_keypair() derives from that same seed. "fr" is not a
 * founding member: it joins in entry 5 with seed 6. */
#ifndef CONCORD_VECTORS_LEDGER_SCENARIO_H
#define CONCORD_VECTORS_LEDGER_SCENARIO_H

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "core/genesis.h"
#include "core/key.h"
#include "core/rr.h"

#define SCENARIO_ORIGIN	      "vectors.concord.example/root"
#define SCENARIO_T0	      1767225600 /* 2026-01-01T00:00:00Z */
#define SCENARIO_CONSULTATION 86400
#define SCENARIO_FOUNDERS     5
#define SCENARIO_KEYS	      6 /* founders, then fr */

static const char *const scenario_ids[SCENARIO_KEYS] = {"br", "cn", "de", "isoc", "za", "fr"};
static const int scenario_chambers[SCENARIO_KEYS] = {CHAMBER_GOVERNMENT, CHAMBER_GOVERNMENT,
						     CHAMBER_GOVERNMENT, CHAMBER_TECHNICAL,
						     CHAMBER_GOVERNMENT, CHAMBER_GOVERNMENT};

/* cn is a member's ccTLD, fr a non-member's (until fr joins), com and net are gTLDs sharing
 * a.gtld-servers.net, and ns.shared.net serves a ccTLD and a gTLD at once. */
static const char scenario_zone[] =
    "cn. NS a.dns.cn.\n"
    "cn. NS ns.shared.net.\n"
    "a.dns.cn. A 192.0.2.1\n"
    "ns.shared.net. A 192.0.2.53\n"
    "ns.shared.net. AAAA 2001:db8::53\n"
    "com. NS a.gtld-servers.net.\n"
    "com. NS ns.shared.net.\n"
    "com. DS 30909 8 2 E2D3C916F6DEEAC73294E8268FB5885044A833FC5459588F4A9184CFC41A5766\n"
    "net. NS a.gtld-servers.net.\n"
    "net. NS b.gtld-servers.net.\n"
    "a.gtld-servers.net. A 192.5.6.30\n"
    "a.gtld-servers.net. AAAA 2001:503:a83e::2:30\n"
    "b.gtld-servers.net. A 192.33.14.30\n"
    "fr. NS d.nic.fr.\n"
    "d.nic.fr. A 192.93.0.4\n"
    "de. NS a.nic.de.\n"
    "a.nic.de. A 194.0.0.53\n";

__attribute__((unused)) static int scenario_keys(struct key_pair keys[SCENARIO_KEYS])
{
	for (int i = 0; i < SCENARIO_KEYS; i++) {
		unsigned char seed[32];

		memset(&keys[i], 0, sizeof(keys[i]));
		memset(seed, i + 1, sizeof(seed));
		if (note_signer_from_seed(&keys[i].sign, scenario_ids[i], seed) < 0 ||
		    crypto_box_seed_keypair(keys[i].box_pk, keys[i].box_sk, seed) != 0)
			return -1;
	}
	return 0;
}

/* The genesis file (entry bundle) before anyone signed it. */
__attribute__((unused)) static int
scenario_genesis_unsigned(const struct key_pair keys[SCENARIO_KEYS], struct cbuf *bundle,
			  struct cc_err *e)
{
	struct genesis_member gm[SCENARIO_FOUNDERS];
	struct genesis_params gp = {0};
	struct rr_set root = {0};
	int ret;

	for (int i = 0; i < SCENARIO_FOUNDERS; i++) {
		memset(&gm[i], 0, sizeof(gm[i]));
		snprintf(gm[i].id, sizeof(gm[i].id), "%s", scenario_ids[i]);
		gm[i].chamber = scenario_chambers[i];
		key_public(&keys[i], &gm[i].pub);
	}
	ret = rr_parse(&root, scenario_zone, strlen(scenario_zone), e);
	if (ret == 0) {
		gp.origin = SCENARIO_ORIGIN;
		gp.time = SCENARIO_T0;
		gp.members = gm;
		gp.nmembers = SCENARIO_FOUNDERS;
		gp.consultation = SCENARIO_CONSULTATION;
		gp.root = &root;
		ret = genesis_build(&gp, bundle, e);
	}
	rr_set_free(&root);
	return ret;
}

/* The fully signed genesis file. */
__attribute__((unused)) static int scenario_genesis(const struct key_pair keys[SCENARIO_KEYS],
						    struct cbuf *bundle, struct cc_err *e)
{
	int ret = scenario_genesis_unsigned(keys, bundle, e);

	for (int i = 0; ret == 0 && i < SCENARIO_FOUNDERS; i++)
		ret = genesis_sign(bundle, &keys[i], e);
	return ret;
}

#endif
