/* libFuzzer target for ledger_apply_entry, on top of the genesis of the ledger vectors
 * (tests/vectors/ledger/scenario.h builds it at startup, so the vectors' entries are valid
 * seeds). The input is one entry when it starts with "concord ", otherwise an entry bundle
 * (uint16 big-endian length, then the entry, repeated) applied in order. When the first entry
 * is a genesis, the input is applied to an empty ledger instead (seeds: the vectors' genesis
 * files).
 *
 * Each entry is applied with verify=1 first and, when that refuses it, with verify=0: random
 * bytes never carry valid signatures, so only the second reaches the proposal, plan and apply
 * code. Checked besides memory safety:
 * - a refused entry leaves the ledger as it was (size, time, every record), and says why;
 * - verification only adds signature checks: refused with verify=1 for any other reason, an
 *   entry is refused with verify=0 for the same reason, and accepted with verify=0 only if
 *   verify=1 refused a signature;
 * - replaying the accepted entries on a fresh ledger reaches the same state (the ledger is a
 *   function of its log), and every record it holds is content a proposal could put back. */
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../tests/vectors/ledger/scenario.h"
#include "core/kinds/kinds.h"
#include "core/ledger.h"
#include "core/tlog.h"

#define MAX_STEPS 16

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct cbuf genesis;   /* the signed genesis file, built once */
static struct ledger *base;   /* genesis applied; kept while no input changes it */
static struct cbuf base_dump; /* dump() of base */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct key_pair keys[SCENARIO_KEYS];
	struct cc_err e = {0};

	(void)argc;
	(void)argv;
	if (sodium_init() < 0 || scenario_keys(keys) < 0 ||
	    scenario_genesis(keys, &genesis, &e) < 0)
		abort();
	return 0;
}

static struct ledger *fresh(void)
{
	struct ledger *l = ledger_new();
	const unsigned char *entry;
	size_t elen, off = 0;

	if (l == NULL)
		abort();
	/* Our own genesis, verified when the vectors were made: skip its signatures here. */
	while (tlog_bundle_next((unsigned char *)genesis.p, genesis.len, &off, &entry, &elen) == 1)
		if (ledger_apply_entry(l, entry, elen, 0, NULL) != 0)
			abort();
	if (!ledger_ready(l))
		abort();
	return l;
}

static int dump_one(void *ctx, const char *path, const char *content, size_t len, uint64_t v)
{
	return cbuf_printf(ctx, "%s %llu %zu\n", path, (unsigned long long)v, len) ||
	       cbuf_put(ctx, content, len);
}

static void dump(const struct ledger *l, struct cbuf *out)
{
	cbuf_reset(out);
	if (ledger_foreach(l, "", dump_one, out) != 0 ||
	    cbuf_printf(out, "size %llu time %lld\n", (unsigned long long)ledger_size(l),
			(long long)ledger_time(l)) != 0 ||
	    ledger_export_root(l, out) != 0)
		abort();
}

/* Every record the ledger holds must be acceptable content for its kind. */
static int content_ok(void *ctx, const char *path, const char *content, size_t len, uint64_t v)
{
	struct cc_err e = {0};

	(void)ctx;
	(void)v;
	if (path_valid(path, NULL) != 0 || len == 0 || content[len - 1] != '\n')
		abort();
	if (strncmp(path, "policy/", 7) == 0) {
		struct policy p;

		if (policy_parse(&p, content, len, &e) != 0)
			abort();
	} else if (strncmp(path, "member/", 7) == 0) {
		struct ledger_member m;

		if (member_parse(&m, path + 7, content, len, &e) != 0)
			abort();
	} else {
		struct rr_set s = {0};

		if (rr_parse(&s, content, len, &e) != 0 || s.n == 0)
			abort();
		rr_set_free(&s);
	}
	return 0;
}

static int same(const struct cbuf *a, const struct cbuf *b)
{
	return a->len == b->len && memcmp(a->p, b->p, a->len) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const unsigned char *steps[MAX_STEPS], *entry;
	size_t lens[MAX_STEPS], nsteps = 0, off = 0, elen;
	const unsigned char *accepted[MAX_STEPS];
	size_t alens[MAX_STEPS], nacc = 0;
	struct cbuf before = CBUF_INIT, after = CBUF_INIT;
	struct ledger *l, *r;
	int from_empty, have = 0;

	if (size >= 8 && memcmp(data, "concord ", 8) == 0) {
		steps[0] = data;
		lens[0] = size;
		nsteps = 1;
	} else {
		while (nsteps < MAX_STEPS &&
		       tlog_bundle_next(data, size, &off, &entry, &elen) == 1) {
			steps[nsteps] = entry;
			lens[nsteps++] = elen;
		}
	}
	/* An input whose first entry is a genesis is applied to an empty ledger, so genesis
	 * notes and chunks get fuzzed too. Other inputs mostly change nothing (which is checked
	 * below), so the genesis state is kept from one input to the next until one does. */
	from_empty = nsteps > 0 && lens[0] >= 16 && memcmp(steps[0], "concord genesis ", 16) == 0;
	if (from_empty) {
		l = ledger_new();
		if (l == NULL)
			abort();
	} else {
		if (base == NULL)
			base = fresh();
		l = base;
	}
	for (size_t i = 0; i < nsteps; i++) {
		struct cc_err e1 = {0}, e0 = {0};
		int r1, r0;

		/* Rendering the state is most of the cost: after a refusal, before still
		 * holds it. */
		if (!have) {
			int pristine = l == base && nacc == 0;

			if (pristine && base_dump.len)
				cbuf_put(&before, base_dump.p, base_dump.len);
			else
				dump(l, &before);
			if (pristine && base_dump.len == 0)
				cbuf_put(&base_dump, before.p, before.len);
			have = 1;
		}
		r1 = ledger_apply_entry(l, steps[i], lens[i], 1, &e1);
		if (r1 == 0) {
			accepted[nacc] = steps[i];
			alens[nacc++] = lens[i];
			have = 0;
			cbuf_reset(&before);
			continue;
		}
		dump(l, &after);
		if (e1.code != r1 || e1.msg[0] == '\0' || !same(&before, &after))
			abort();
		r0 = ledger_apply_entry(l, steps[i], lens[i], 0, &e0);
		if (r0 == 0) {
			if (r1 != CC_ESIG)
				abort();
			accepted[nacc] = steps[i];
			alens[nacc++] = lens[i];
			have = 0;
			cbuf_reset(&before);
			continue;
		}
		dump(l, &after);
		if (e0.code != r0 || e0.msg[0] == '\0' || !same(&before, &after))
			abort();
		if (r1 != CC_ESIG && r0 != r1)
			abort();
	}
	if (nacc > 0 || from_empty) {
		/* Same log, same state. */
		r = from_empty ? ledger_new() : fresh();
		if (r == NULL)
			abort();
		for (size_t i = 0; i < nacc; i++)
			if (ledger_apply_entry(r, accepted[i], alens[i], 0, NULL) != 0)
				abort();
		dump(l, &before);
		dump(r, &after);
		if (!same(&before, &after) || ledger_foreach(l, "", content_ok, NULL) != 0)
			abort();
		ledger_free(l);
		ledger_free(r);
		if (!from_empty) {
			base = NULL;
			cbuf_reset(&base_dump);
		}
	}
	cbuf_free(&before);
	cbuf_free(&after);
	return 0;
}
