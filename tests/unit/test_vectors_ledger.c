/* The ledger vectors of tests/vectors/ledger (README.md there): a genesis, a run of accepted
 * proposals, the state and root zone they leave, the Merkle root of the log, and entries that
 * must be refused. Everything here is read from the files, so the test checks the code against
 * the vectors rather than the generator against itself. CONCORD_VECTORS names the vectors
 * directory (default tests/vectors). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ledger.h"
#include "core/merkle.h"
#include "core/proposal.h"
#include "core/tlog.h"

#define MAX_ENTRIES 1000

struct vectors {
	char dir[4096];			  /* .../ledger */
	struct cbuf entries[MAX_ENTRIES]; /* entries/NNNN.txt, in order */
	size_t n;			  /* how many */
};

static int slurp(const char *dir, const char *name, struct cbuf *out)
{
	char path[4096 + 256], buf[8192];
	FILE *f;
	size_t k;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "rb");
	if (f == NULL)
		return -1;
	cbuf_reset(out);
	while ((k = fread(buf, 1, sizeof(buf), f)) > 0)
		if (cbuf_put(out, buf, k) < 0)
			break;
	fclose(f);
	if (out->p == NULL)
		cbuf_put(out, "", 0);
	return 0;
}

static int setup(void **state)
{
	const char *base = getenv("CONCORD_VECTORS");
	struct vectors *v = calloc(1, sizeof(*v));

	assert_non_null(v);
	snprintf(v->dir, sizeof(v->dir), "%s/ledger", base ? base : "tests/vectors");
	for (v->n = 0; v->n < MAX_ENTRIES; v->n++) {
		char name[64];

		snprintf(name, sizeof(name), "entries/%04zu.txt", v->n);
		if (slurp(v->dir, name, &v->entries[v->n]) < 0)
			break;
	}
	if (v->n < 3)
		fail_msg("%s: no ledger vectors (set CONCORD_VECTORS)", v->dir);
	*state = v;
	return 0;
}

static int teardown(void **state)
{
	struct vectors *v = *state;

	for (size_t i = 0; i <= v->n && i < MAX_ENTRIES; i++)
		cbuf_free(&v->entries[i]);
	free(v);
	return 0;
}

static int dump_one(void *ctx, const char *path, const char *content, size_t len, uint64_t ver)
{
	unsigned char h[32];
	char hex[65];

	crypto_hash_sha256(h, (const unsigned char *)content, len);
	sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
	return cbuf_printf(ctx, "%s %" PRIu64 " %s\n", path, ver, hex);
}

/* state.txt's form; also the witness that a refused entry changed nothing. */
static void dump_state(const struct ledger *l, struct cbuf *out)
{
	cbuf_reset(out);
	assert_int_equal(ledger_foreach(l, "", dump_one, out), 0);
	cbuf_printf(out, "size %" PRIu64 " time %" PRId64 " members %zu ready %d origin %s\n",
		    ledger_size(l), ledger_time(l), ledger_member_count(l), ledger_ready(l),
		    ledger_origin(l));
}

static struct ledger *replay(const struct vectors *v, int verify)
{
	struct ledger *l = ledger_new();
	struct cc_err e = {0};

	assert_non_null(l);
	for (size_t i = 0; i < v->n; i++) {
		if (ledger_apply_entry(l, (const unsigned char *)v->entries[i].p, v->entries[i].len,
				       verify, &e) != 0)
			fail_msg("entries/%04zu.txt (verify=%d): %s", i, verify, e.msg);
		assert_int_equal(ledger_size(l), i + 1);
	}
	assert_true(ledger_ready(l));
	return l;
}

static void assert_same_file(const struct vectors *v, const char *name, const struct cbuf *got)
{
	struct cbuf want = CBUF_INIT;

	if (slurp(v->dir, name, &want) < 0)
		fail_msg("%s/%s missing", v->dir, name);
	if (want.len != got->len || memcmp(want.p, got->p, want.len) != 0)
		fail_msg("%s differs:\n--- want\n%s--- got\n%s", name, want.p, got->p);
	cbuf_free(&want);
}

static void test_genesis_bundle(void **state)
{
	struct vectors *v = *state;
	struct cbuf b = CBUF_INIT;
	const unsigned char *entry;
	size_t elen, off = 0, i = 0;
	int r;

	assert_int_equal(slurp(v->dir, "genesis.bundle", &b), 0);
	/* The genesis file is exactly entries 0..k: the genesis note and every chunk. */
	while ((r = tlog_bundle_next((unsigned char *)b.p, b.len, &off, &entry, &elen)) == 1) {
		assert_true(i < v->n);
		assert_int_equal(elen, v->entries[i].len);
		assert_memory_equal(entry, v->entries[i].p, elen);
		i++;
	}
	assert_int_equal(r, 0);
	assert_true(i >= 2);
	assert_memory_equal(v->entries[0].p, "concord genesis ", 16);
	for (size_t k = 1; k < i; k++)
		assert_memory_equal(v->entries[k].p, "concord chunk ", 14);
	assert_memory_equal(v->entries[i].p, "concord proposal ", 17);
	cbuf_free(&b);
}

static void test_replay_state(void **state)
{
	struct vectors *v = *state;
	struct ledger *l = replay(v, 1);
	struct cbuf c = CBUF_INIT;

	cbuf_reset(&c);
	assert_int_equal(ledger_foreach(l, "", dump_one, &c), 0);
	assert_same_file(v, "state.txt", &c);
	cbuf_reset(&c);
	assert_int_equal(ledger_export_root(l, &c), 0);
	assert_same_file(v, "export-root.txt", &c);
	ledger_free(l);
	cbuf_free(&c);
}

/* A node replaying its own store skips signatures; it must reach the same state. */
static void test_replay_unverified(void **state)
{
	struct vectors *v = *state;
	struct ledger *a = replay(v, 1), *b = replay(v, 0);
	struct cbuf sa = CBUF_INIT, sb = CBUF_INIT;

	dump_state(a, &sa);
	dump_state(b, &sb);
	assert_string_equal(sa.p, sb.p);
	ledger_free(a);
	ledger_free(b);
	cbuf_free(&sa);
	cbuf_free(&sb);
}

static void test_checkpoint_root(void **state)
{
	struct vectors *v = *state;
	struct merkle_tree t;
	unsigned char root[MERKLE_HASH], want[MERKLE_HASH];
	char origin[TLOG_ORIGIN_MAX + 1];
	struct cbuf c = CBUF_INIT, text = CBUF_INIT;
	struct cc_err e = {0};
	struct ledger *l = replay(v, 0);
	uint64_t size;

	merkle_tree_init(&t);
	for (size_t i = 0; i < v->n; i++) {
		unsigned char leaf[MERKLE_HASH];

		merkle_leaf_hash(v->entries[i].p, v->entries[i].len, leaf);
		assert_int_equal(merkle_tree_append(&t, leaf), 0);
	}
	assert_int_equal(merkle_tree_root(&t, t.size, root), 0);
	assert_int_equal(slurp(v->dir, "checkpoint-root.txt", &c), 0);
	assert_int_equal(tlog_checkpoint_parse(c.p, c.len, origin, &size, want, &e), 0);
	assert_string_equal(origin, ledger_origin(l));
	assert_int_equal(size, v->n);
	assert_memory_equal(root, want, MERKLE_HASH);
	assert_int_equal(tlog_checkpoint_text(&text, origin, size, root), 0);
	assert_same_file(v, "checkpoint-root.txt", &text);
	merkle_tree_free(&t);
	ledger_free(l);
	cbuf_free(&c);
	cbuf_free(&text);
}

static int code_of(const char *name)
{
	static const struct {
		const char *name;
		int code;
	} codes[] = {
	    {"EINVAL", CC_EINVAL},   {"ESIG", CC_ESIG},		{"EPERM", CC_EPERM},
	    {"ESTALE", CC_ESTALE},   {"EEXPIRED", CC_EEXPIRED}, {"EEXIST", CC_EEXIST},
	    {"ETOOBIG", CC_ETOOBIG}, {"ETIME", CC_ETIME},	{"ECONFLICT", CC_ECONFLICT}};

	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (strcmp(codes[i].name, name) == 0)
			return codes[i].code;
	fail_msg("invalid/README: unknown code %s", name);
	return 0;
}

static void test_invalid(void **state)
{
	/* The cases the format must cover, whatever else the README lists. */
	static const char *const required[] = {"signature-order",
					       "signature-counts-for-nothing",
					       "quorum-missing",
					       "stale-version",
					       "time-backwards",
					       "expired",
					       "consultation-running",
					       "header-garbage",
					       "tampered"};
	struct vectors *v = *state;
	struct ledger *l = replay(v, 1);
	struct cbuf readme = CBUF_INIT, entry = CBUF_INIT, before = CBUF_INIT, after = CBUF_INIT;
	char sub[4096 + 16], *line, *save = NULL;
	size_t listed = 0, files = 0;
	DIR *d;
	struct dirent *de;

	snprintf(sub, sizeof(sub), "%s/invalid", v->dir);
	assert_int_equal(slurp(sub, "README", &readme), 0);
	dump_state(l, &before);
	for (line = strtok_r(readme.p, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char file[256], code[32];
		struct cc_err e = {0};
		int want, r;

		if (line[0] == '#')
			continue;
		if (sscanf(line, "%255[^:]: %31[^:]:", file, code) != 2)
			fail_msg("invalid/README: bad line \"%s\"", line);
		want = code_of(code);
		if (slurp(sub, file, &entry) < 0)
			fail_msg("invalid/%s missing", file);
		r = ledger_apply_entry(l, (const unsigned char *)entry.p, entry.len, 1, &e);
		if (r != want)
			fail_msg("invalid/%s: expected %s (%d), got %d: %s", file, code, want, r,
				 r ? e.msg : "accepted");
		assert_true(e.msg[0] != '\0');
		dump_state(l, &after);
		if (strcmp(before.p, after.p) != 0)
			fail_msg("invalid/%s: refused, but the ledger changed", file);
		listed++;
	}
	for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
		char want[128];

		snprintf(want, sizeof(want), "%s.txt", required[i]);
		assert_int_equal(slurp(sub, want, &entry), 0);
	}
	/* Every file in invalid/ is listed, so none escapes the check. */
	d = opendir(sub);
	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		files += strstr(de->d_name, ".txt") != NULL;
	closedir(d);
	assert_int_equal(files, listed);
	ledger_free(l);
	cbuf_free(&readme);
	cbuf_free(&entry);
	cbuf_free(&before);
	cbuf_free(&after);
}

/* Genesis files that must be refused: entries before the listed one apply, the listed one
 * is refused with the listed code and changes nothing, and the network is never ready. */
static void test_invalid_genesis(void **state)
{
	struct vectors *v = *state;
	struct cbuf readme = CBUF_INIT, bundle = CBUF_INIT, before = CBUF_INIT, after = CBUF_INIT;
	char sub[4096 + 16], *line, *save = NULL;
	size_t listed = 0, files = 0;
	DIR *d;
	struct dirent *de;

	snprintf(sub, sizeof(sub), "%s/invalid-genesis", v->dir);
	assert_int_equal(slurp(sub, "README", &readme), 0);
	for (line = strtok_r(readme.p, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char file[256], code[32];
		struct ledger *l;
		const unsigned char *entry;
		size_t elen, off = 0, at, i = 0;
		struct cc_err e = {0};
		int r = 0;

		if (line[0] == '#')
			continue;
		if (sscanf(line, "%255[^:]: %zu: %31[^:]:", file, &at, code) != 3)
			fail_msg("invalid-genesis/README: bad line \"%s\"", line);
		l = ledger_new();
		assert_non_null(l);
		if (slurp(sub, file, &bundle) < 0)
			fail_msg("invalid-genesis/%s missing", file);
		while (tlog_bundle_next((unsigned char *)bundle.p, bundle.len, &off, &entry,
					&elen) == 1) {
			dump_state(l, &before);
			r = ledger_apply_entry(l, entry, elen, 1, &e);
			if (r != 0)
				break;
			i++;
		}
		if (r != code_of(code) || i != at)
			fail_msg(
			    "invalid-genesis/%s: expected %s at entry %zu, got %d at entry %zu: %s",
			    file, code, at, r, i, r ? e.msg : "accepted");
		dump_state(l, &after);
		if (strcmp(before.p, after.p) != 0)
			fail_msg("invalid-genesis/%s: refused, but the ledger changed", file);
		assert_false(ledger_ready(l));
		ledger_free(l);
		listed++;
	}
	d = opendir(sub);
	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		files += strstr(de->d_name, ".bundle") != NULL;
	closedir(d);
	assert_int_equal(files, listed);
	assert_true(listed >= 10);
	cbuf_free(&readme);
	cbuf_free(&bundle);
	cbuf_free(&before);
	cbuf_free(&after);
}

/* Member keys as README.md gives them: member i's seed is 32 bytes of value i + 1. */
static void member_key(struct note_signer *s, const char *id)
{
	static const char *const ids[] = {"br", "cn", "de", "isoc", "za", "fr"};
	unsigned char seed[32];

	for (int i = 0; i < 6; i++)
		if (strcmp(ids[i], id) == 0) {
			memset(seed, i + 1, sizeof(seed));
			assert_int_equal(note_signer_from_seed(s, id, seed), 0);
			return;
		}
	fail_msg("no member %s", id);
}

/* Putting a shared host's addresses unchanged is a write like any other: it needs every TLD
 * using the host (invalid/host-unchanged-unapproved.txt is the refusal; Concord used to crash
 * on it) and, once approved, spends the versions so that it cannot be replayed. */
static void test_host_put_unchanged(void **state)
{
	static const char *const signers[] = {"br", "cn", "de", "isoc", "za"};
	struct vectors *v = *state;
	struct ledger *l = replay(v, 1);
	struct cbuf c = CBUF_INIT, body = CBUF_INIT, entry = CBUF_INIT;
	struct note_sig sigs[5];
	struct proposal_op op = {0};
	struct proposal p;
	struct cc_err e = {0};
	uint64_t ver, com;
	int64_t now = ledger_time(l) + 10;

	assert_int_equal(ledger_get(l, "host/ns.shared.net.", &c, &ver), 0);
	cbuf_reset(&body);
	assert_int_equal(ledger_get(l, "tld/com", &body, &com), 0);
	op.kind = OP_PUT;
	snprintf(op.path, sizeof(op.path), "host/ns.shared.net.");
	op.version = (int64_t)ver;
	op.content = c.p;
	op.content_len = c.len;
	cbuf_reset(&body);
	assert_int_equal(
	    proposal_format(&body, ledger_origin(l), "isoc", now - 3600, now + 3600, &op, 1), 0);
	assert_int_equal(proposal_parse(&p, body.p, body.len, &e), 0);
	for (int i = 0; i < 5; i++) {
		struct note_signer s;

		member_key(&s, signers[i]);
		assert_int_equal(note_sign(&s, body.p, body.len, &sigs[i]), 0);
	}
	/* isoc alone: cn and the gTLD quorum are missing */
	assert_int_equal(ledger_entry_build(l, &p, &sigs[3], 1, now, &entry, &e), CC_EINVAL);
	if (ledger_entry_build(l, &p, sigs, 5, now, &entry, &e) != 0)
		fail_msg("%s", e.msg);
	assert_int_equal(ledger_apply_entry(l, (unsigned char *)entry.p, entry.len, 1, &e), 0);
	cbuf_reset(&c);
	assert_int_equal(ledger_get(l, "host/ns.shared.net.", &c, &ver), 0);
	assert_int_equal(ver, ledger_size(l) - 1);
	cbuf_reset(&c);
	assert_int_equal(ledger_get(l, "tld/com", &c, &com), 0);
	assert_int_equal(com, ledger_size(l) - 1);
	/* the same entry again */
	assert_int_equal(ledger_apply_entry(l, (unsigned char *)entry.p, entry.len, 1, &e),
			 CC_ESTALE);
	proposal_free(&p);
	ledger_free(l);
	cbuf_free(&c);
	cbuf_free(&body);
	cbuf_free(&entry);
}

/* Each prefix of the log is a valid log: a node that stopped anywhere can resume. And a
 * refused entry in the middle does not keep the next valid one out. */
static void test_prefixes_resume(void **state)
{
	struct vectors *v = *state;
	struct ledger *l = ledger_new();
	struct cc_err e = {0};
	const char *garbage = "concord proposal 2026-01-01T00:00:00Z\nnot a note\n";

	for (size_t i = 0; i < v->n; i++) {
		if (i > 0)
			assert_int_not_equal(ledger_apply_entry(l, (const unsigned char *)garbage,
								strlen(garbage), 1, &e),
					     0);
		assert_int_equal(ledger_size(l), i);
		if (ledger_apply_entry(l, (const unsigned char *)v->entries[i].p, v->entries[i].len,
				       1, &e) != 0)
			fail_msg("entries/%04zu.txt: %s", i, e.msg);
	}
	ledger_free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_genesis_bundle),
	    cmocka_unit_test(test_replay_state),
	    cmocka_unit_test(test_replay_unverified),
	    cmocka_unit_test(test_checkpoint_root),
	    cmocka_unit_test(test_invalid),
	    cmocka_unit_test(test_invalid_genesis),
	    cmocka_unit_test(test_host_put_unchanged),
	    cmocka_unit_test(test_prefixes_resume),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, setup, teardown);
}
