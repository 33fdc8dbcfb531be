/* tlog format tests: tile paths both ways, checkpoints, tile hashes against the tlog-tiles
 * definition, entry bundles, and the vectors in tests/vectors/tlog. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/tlog.h"

#define GEN_SIZE 70000 /* the tree of the tlog-tiles spec's example */

static size_t unhex(const char *s, size_t slen, unsigned char *out, size_t max)
{
	size_t i;
	unsigned v;

	assert_int_equal(slen % 2, 0);
	assert_true(slen / 2 <= max);
	for (i = 0; i < slen / 2; i++) {
		assert_int_equal(sscanf(s + 2 * i, "%2x", &v), 1);
		out[i] = (unsigned char)v;
	}
	return slen / 2;
}

static char *read_vector(const char *name, size_t *len)
{
	const char *dir = getenv("CONCORD_VECTORS");
	char path[4096];
	FILE *f;
	char *buf;
	long l;

	if (dir == NULL || *dir == '\0')
		dir = "tests/vectors";
	snprintf(path, sizeof(path), "%s/tlog/%s", dir, name);
	f = fopen(path, "rb");
	if (f == NULL)
		fail_msg("cannot open %s (set CONCORD_VECTORS)", path);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	l = ftell(f);
	assert_true(l >= 0);
	rewind(f);
	buf = malloc((size_t)l + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)l, f), (size_t)l);
	buf[l] = '\0';
	fclose(f);
	if (len)
		*len = (size_t)l;
	return buf;
}

/* The generated tree of tiles.txt: entry i is the ASCII decimal form of i. */
static size_t gen_entry(uint64_t i, char *s, size_t max)
{
	return (size_t)snprintf(s, max, "%llu", (unsigned long long)i);
}

static void gen_tree(struct merkle_tree *t, uint64_t n)
{
	unsigned char lh[MERKLE_HASH];
	char s[32];
	uint64_t i;

	merkle_tree_init(t);
	for (i = 0; i < n; i++) {
		merkle_leaf_hash(s, gen_entry(i, s, sizeof(s)), lh);
		assert_int_equal(merkle_tree_append(t, lh), 0);
	}
}

/* --- tile paths --- */

static void check_path(int level, uint64_t n, unsigned w, const char *want)
{
	struct cbuf b = CBUF_INIT;
	uint64_t pn;
	unsigned pw;
	int pl;

	assert_int_equal(tlog_tile_path(&b, level, n, w), 0);
	assert_string_equal(b.p, want);
	assert_int_equal(tlog_tile_parse_path(want, &pl, &pn, &pw), 0);
	assert_int_equal(pl, level);
	assert_int_equal(pn, n);
	assert_int_equal(pw, w);
	cbuf_free(&b);
}

static void test_tile_path_examples(void **state)
{
	struct cbuf b = CBUF_INIT;

	(void)state;
	check_path(0, 1234067, 256, "tile/0/x001/x234/067");
	check_path(0, 5, 256, "tile/0/005");
	check_path(0, 0, 256, "tile/0/000");
	check_path(1, 1000, 17, "tile/1/x001/000.p/17");
	check_path(63, 999, 255, "tile/63/999.p/255");
	check_path(TLOG_LEVEL_ENTRIES, 1234067, 1, "tile/entries/x001/x234/067.p/1");
	check_path(TLOG_LEVEL_ENTRIES, 0, 256, "tile/entries/000");
	check_path(2, UINT64_MAX, 256, "tile/2/x018/x446/x744/x073/x709/x551/615");

	/* Writers append, and leave the buffer alone when they refuse. */
	assert_int_equal(cbuf_puts(&b, "https://log.example/"), 0);
	assert_int_equal(tlog_tile_path(&b, 0, 1, 3), 0);
	assert_string_equal(b.p, "https://log.example/tile/0/001.p/3");
	assert_int_equal(tlog_tile_path(&b, -2, 0, 256), CC_EINVAL);
	assert_int_equal(tlog_tile_path(&b, 64, 0, 256), CC_EINVAL);
	assert_int_equal(tlog_tile_path(&b, 0, 0, 0), CC_EINVAL);
	assert_int_equal(tlog_tile_path(&b, 0, 0, 257), CC_EINVAL);
	assert_string_equal(b.p, "https://log.example/tile/0/001.p/3");
	cbuf_free(&b);
}

static void test_tile_path_round_trip(void **state)
{
	static const uint64_t ns[] = {
	    0,
	    1,
	    9,
	    10,
	    99,
	    100,
	    999,
	    1000,
	    1001,
	    999999,
	    1000000,
	    1000001,
	    123456789,
	    1ULL << 32,
	    1ULL << 63,
	    999999999999999999ULL,
	    1000000000000000000ULL,
	    UINT64_MAX - 1,
	    UINT64_MAX,
	};
	static const unsigned ws[] = {1, 2, 9, 10, 99, 100, 255, 256};
	struct cbuf b = CBUF_INIT;
	size_t i, j;
	int level, pl;
	uint64_t pn;
	unsigned pw;

	(void)state;
	for (level = TLOG_LEVEL_ENTRIES; level <= 63; level++) {
		for (i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
			for (j = 0; j < sizeof(ws) / sizeof(ws[0]); j++) {
				cbuf_reset(&b);
				assert_int_equal(tlog_tile_path(&b, level, ns[i], ws[j]), 0);
				assert_int_equal(tlog_tile_parse_path(b.p, &pl, &pn, &pw), 0);
				assert_int_equal(pl, level);
				assert_int_equal(pn, ns[i]);
				assert_int_equal(pw, ws[j]);
			}
		}
	}
	cbuf_free(&b);
}

static void check_bad_path(const char *path)
{
	int level = 99;
	uint64_t n = 99;
	unsigned w = 99;

	if (tlog_tile_parse_path(path, &level, &n, &w) != CC_EINVAL)
		fail_msg("accepted invalid tile path \"%s\"", path);
	/* Nothing is written on refusal. */
	assert_int_equal(level, 99);
	assert_int_equal(n, 99);
	assert_int_equal(w, 99);
}

static void test_tile_path_refusals(void **state)
{
	static const char *const bad[] = {
	    "",
	    "tile",
	    "tile/",
	    "tile/0",
	    "tile/0/ 000",
	    "tile/0/000 ",
	    " tile/0/000",
	    "tile/0/000\n",
	    "tile/0/-01",
	    "tile/0/+01",
	    "tile/0/x-01/000",
	    "tile/0/000.p/+1",
	    "tile/0/000.p/-1",
	    "tile/0/000.p/ 1",
	    "tile/0/000.p/1 ",
	    "tile/0/000.p/99999999999999999999999",
	    "tile/99999999999999999999/000",
	    "tile/18446744073709551616/000",
	    "tile/4294967296/000",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		check_bad_path(bad[i]);
}

static void test_tile_path_vectors(void **state)
{
	char *text, *line, *save = NULL, lvl[16], path[256];
	unsigned long long n;
	unsigned w;
	size_t count = 0, bad = 0;

	(void)state;
	text = read_vector("tile-paths.txt", NULL);
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (line[0] == '#')
			continue;
		assert_int_equal(sscanf(line, "%15s %llu %u -> %255s", lvl, &n, &w, path), 4);
		check_path(strcmp(lvl, "entries") == 0 ? TLOG_LEVEL_ENTRIES : atoi(lvl), n, w,
			   path);
		count++;
	}
	free(text);
	assert_true(count >= 10);

	text = read_vector("tile-paths-invalid.txt", NULL);
	save = NULL;
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (line[0] == '#')
			continue;
		check_bad_path(line);
		bad++;
	}
	free(text);
	assert_true(bad >= 30);
}

/* --- checkpoints --- */

static const char cp_origin[] = "example.org/concord/test";
static const char cp_root_b64[] = "XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=";

static void check_checkpoint(const char *text, size_t len, const char *origin, uint64_t size,
			     const char *root_b64)
{
	char o[TLOG_ORIGIN_MAX + 1], b64[64];
	unsigned char root[MERKLE_HASH];
	uint64_t s;
	struct cc_err e = {0};

	if (tlog_checkpoint_parse(text, len, o, &s, root, &e) != 0)
		fail_msg("refused checkpoint: %s", e.msg);
	assert_string_equal(o, origin);
	assert_int_equal(s, size);
	sodium_bin2base64(b64, sizeof(b64), root, MERKLE_HASH, sodium_base64_VARIANT_ORIGINAL);
	assert_string_equal(b64, root_b64);
}

static void check_bad_checkpoint(const char *text, size_t len)
{
	char o[TLOG_ORIGIN_MAX + 1] = "untouched";
	unsigned char root[MERKLE_HASH] = {0};
	uint64_t s = 42;
	struct cc_err e = {0};

	if (tlog_checkpoint_parse(text, len, o, &s, root, &e) != CC_EINVAL)
		fail_msg("accepted invalid checkpoint \"%.*s\"", (int)len, text);
	assert_int_equal(e.code, CC_EINVAL);
	assert_true(strlen(e.msg) > 0);
	assert_null(strchr(e.msg, '\n'));
	assert_string_equal(o, "untouched");
	assert_int_equal(s, 42);
}

#define BAD_CP(lit) check_bad_checkpoint(lit, sizeof(lit) - 1)

static void test_checkpoint(void **state)
{
	struct cbuf b = CBUF_INIT;
	unsigned char root[MERKLE_HASH], got[MERKLE_HASH];
	char o[TLOG_ORIGIN_MAX + 1], longest[TLOG_ORIGIN_MAX + 2];
	uint64_t s;
	size_t hl, i;

	(void)state;
	assert_int_equal(sodium_base642bin(root, sizeof(root), cp_root_b64, strlen(cp_root_b64),
					   NULL, &hl, NULL, sodium_base64_VARIANT_ORIGINAL),
			 0);
	assert_int_equal(hl, MERKLE_HASH);
	assert_int_equal(tlog_checkpoint_text(&b, cp_origin, 8, root), 0);
	assert_string_equal(b.p, "example.org/concord/test\n8\n"
				 "XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n");
	check_checkpoint(b.p, b.len, cp_origin, 8, cp_root_b64);

	/* Sizes at both ends, and the longest origin. */
	for (i = 0; i < TLOG_ORIGIN_MAX; i++)
		longest[i] = (char)('!' + i % 94);
	longest[TLOG_ORIGIN_MAX] = '\0';
	cbuf_reset(&b);
	assert_int_equal(tlog_checkpoint_text(&b, longest, 0, root), 0);
	check_checkpoint(b.p, b.len, longest, 0, cp_root_b64);
	cbuf_reset(&b);
	assert_int_equal(tlog_checkpoint_text(&b, "o", UINT64_MAX, root), 0);
	assert_string_equal(b.p, "o\n18446744073709551615\n"
				 "XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n");
	assert_int_equal(tlog_checkpoint_parse(b.p, b.len, o, &s, got, NULL), 0);
	assert_int_equal(s, UINT64_MAX);
	assert_memory_equal(got, root, MERKLE_HASH);

	/* The writer refuses what the parser would. */
	cbuf_reset(&b);
	longest[TLOG_ORIGIN_MAX] = 'x';
	longest[TLOG_ORIGIN_MAX + 1] = '\0';
	assert_int_equal(tlog_checkpoint_text(&b, longest, 1, root), CC_EINVAL);
	assert_int_equal(tlog_checkpoint_text(&b, "", 1, root), CC_EINVAL);
	assert_int_equal(tlog_checkpoint_text(&b, "a\nb", 1, root), CC_EINVAL);
	assert_int_equal(tlog_checkpoint_text(&b, "a\tb", 1, root), CC_EINVAL);
	assert_int_equal(tlog_checkpoint_text(&b, "caf\xc3\xa9", 1, root), CC_EINVAL);
	assert_int_equal(b.len, 0);
	cbuf_free(&b);

	/* Extension lines are read past. */
	check_checkpoint("o\n1\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\next\n", 53, "o", 1,
			 cp_root_b64);
	check_checkpoint("o\n1\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\na\nb b\n", 55, "o", 1,
			 cp_root_b64);
	check_checkpoint("with space\n1\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n", 58,
			 "with space", 1, cp_root_b64);
}

static void test_checkpoint_refusals(void **state)
{
	char text[512];
	size_t i;

	(void)state;
	check_bad_checkpoint(NULL, 0);
	BAD_CP("");
	BAD_CP("\n");
	BAD_CP("o");
	BAD_CP("o\n");
	BAD_CP("o\n8");
	BAD_CP("o\n8\n");
	/* Missing final newline, blank or unterminated extension lines. */
	BAD_CP("o\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=");
	BAD_CP("o\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n\n");
	BAD_CP("o\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\next");
	BAD_CP("o\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\next\n\n");
	/* Origins. */
	BAD_CP("\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n");
	BAD_CP("o\r\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n");
	BAD_CP("o\x7f\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n");
	BAD_CP("o\0o\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n");
	BAD_CP("caf\xc3\xa9\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n");
	for (i = 0; i < TLOG_ORIGIN_MAX + 1; i++)
		text[i] = 'a';
	snprintf(text + TLOG_ORIGIN_MAX + 1, sizeof(text) - TLOG_ORIGIN_MAX - 1, "\n8\n%s\n",
		 cp_root_b64);
	check_bad_checkpoint(text, strlen(text));
	/* Sizes. */
	BAD_CP("o\n08\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n");
	BAD_CP("o\n00\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n");
	BAD_CP("o\n+8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n");
	BAD_CP("o\n-1\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n");
	BAD_CP("o\n 8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n");
	BAD_CP("o\n8 \nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n");
	BAD_CP("o\n8\r\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n");
	BAD_CP("o\n0x8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n");
	BAD_CP("o\n\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n");
	BAD_CP("o\n18446744073709551616\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n");
	BAD_CP("o\n99999999999999999999\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n");
	/* Roots: unpadded, short, long, URL-safe, non-zero trailing bits, blanks. */
	BAD_CP("o\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg\n");
	BAD_CP("o\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQy=\n");
	BAD_CP("o\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg==\n");
	BAD_CP("o\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQygA\n");
	BAD_CP("o\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz-Nw7_RgQyg=\n");
	BAD_CP("o\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyh=\n");
	BAD_CP("o\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQy g=\n");
	BAD_CP("o\n8\n XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n");
	BAD_CP("o\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\r\n");
	BAD_CP("o\n8\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n");
	BAD_CP("o\n8\n\n");
}

static void test_checkpoint_vectors(void **state)
{
	struct merkle_tree t;
	struct cbuf b = CBUF_INIT;
	unsigned char root[MERKLE_HASH], want[MERKLE_HASH];
	char o[TLOG_ORIGIN_MAX + 1], *text;
	uint64_t size;
	size_t len;

	(void)state;
	/* The checkpoint commits to the root of tree.txt's eight entries, whose bundle is
	 * bundle.hex: rebuild the tree from the bundle to tie the three vectors together. */
	{
		unsigned char *bundle, lh[MERKLE_HASH];
		const unsigned char *entry;
		size_t blen, off = 0, elen;
		char *hex = read_vector("bundle.hex", &len);
		int r;

		assert_true(len > 0 && hex[len - 1] == '\n');
		bundle = malloc(len / 2);
		assert_non_null(bundle);
		blen = unhex(hex, len - 1, bundle, len / 2);
		merkle_tree_init(&t);
		while ((r = tlog_bundle_next(bundle, blen, &off, &entry, &elen)) == 1) {
			merkle_leaf_hash(entry, elen, lh);
			assert_int_equal(merkle_tree_append(&t, lh), 0);
		}
		assert_int_equal(r, 0);
		assert_int_equal(t.size, 8);
		free(bundle);
		free(hex);
	}
	assert_int_equal(merkle_tree_root(&t, 8, want), 0);
	assert_int_equal(tlog_checkpoint_text(&b, cp_origin, 8, want), 0);

	text = read_vector("checkpoint.txt", &len);
	assert_int_equal(tlog_checkpoint_parse(text, len, o, &size, root, NULL), 0);
	assert_string_equal(o, cp_origin);
	assert_int_equal(size, 8);
	assert_memory_equal(root, want, MERKLE_HASH);
	assert_int_equal(len, b.len);
	assert_memory_equal(text, b.p, len);
	free(text);

	text = read_vector("checkpoint-ext.txt", &len);
	assert_int_equal(tlog_checkpoint_parse(text, len, o, &size, root, NULL), 0);
	assert_string_equal(o, cp_origin);
	assert_int_equal(size, 8);
	assert_memory_equal(root, want, MERKLE_HASH);
	assert_true(len > b.len);
	assert_memory_equal(text, b.p, b.len);
	free(text);
	cbuf_free(&b);
	merkle_tree_free(&t);
}

/* --- tile hashes --- */

/* The tlog-tiles definition: hash i of tile n at level l is MTH of 256^l leaves starting at
 * (n * 256 + i) * 256^l; at level l > 0 it is also the root of the full tile below. */
static void tile_root(const unsigned char *tile, unsigned char out[MERKLE_HASH])
{
	struct merkle_tree sub;
	size_t i;

	merkle_tree_init(&sub);
	for (i = 0; i < TLOG_TILE_WIDTH; i++)
		assert_int_equal(merkle_tree_append(&sub, tile + i * MERKLE_HASH), 0);
	assert_int_equal(merkle_tree_root(&sub, TLOG_TILE_WIDTH, out), 0);
	merkle_tree_free(&sub);
}

static void test_tile_hashes(void **state)
{
	struct merkle_tree t;
	struct cbuf tile = CBUF_INIT, below = CBUF_INIT;
	unsigned char h[MERKLE_HASH];
	unsigned i;

	(void)state;
	gen_tree(&t, GEN_SIZE);
	/* The spec's example: 70,000 leaves make 273 full level-0 tiles and one of width 112,
	 * one full level-1 tile and one of width 17, and a level-2 tile of width 1. */
	assert_int_equal(tlog_tile_hashes(&t, 0, 272, 256, &tile), 0);
	assert_int_equal(tlog_tile_hashes(&t, 0, 273, 112, &tile), 0);
	assert_int_equal(tlog_tile_hashes(&t, 1, 0, 256, &tile), 0);
	assert_int_equal(tlog_tile_hashes(&t, 1, 1, 17, &tile), 0);
	assert_int_equal(tlog_tile_hashes(&t, 2, 0, 1, &tile), 0);
	assert_int_equal(tile.len, (256 + 112 + 256 + 17 + 1) * MERKLE_HASH);
	cbuf_reset(&tile);
	assert_int_equal(tlog_tile_hashes(&t, 0, 273, 113, &tile), CC_ENOENT);
	assert_int_equal(tlog_tile_hashes(&t, 0, 274, 1, &tile), CC_ENOENT);
	assert_int_equal(tlog_tile_hashes(&t, 1, 1, 18, &tile), CC_ENOENT);
	assert_int_equal(tlog_tile_hashes(&t, 1, 1, 256, &tile), CC_ENOENT);
	assert_int_equal(tlog_tile_hashes(&t, 2, 0, 2, &tile), CC_ENOENT);
	assert_int_equal(tlog_tile_hashes(&t, 3, 0, 1, &tile), CC_ENOENT);
	assert_int_equal(tlog_tile_hashes(&t, 7, 0, 1, &tile), CC_ENOENT);
	assert_int_equal(tlog_tile_hashes(&t, 8, 0, 1, &tile), CC_ENOENT);
	assert_int_equal(tlog_tile_hashes(&t, 63, 0, 1, &tile), CC_ENOENT);
	assert_int_equal(tlog_tile_hashes(&t, 0, UINT64_MAX, 256, &tile), CC_ENOENT);
	assert_int_equal(tlog_tile_hashes(&t, 0, UINT64_MAX / 256, 256, &tile), CC_ENOENT);
	assert_int_equal(tlog_tile_hashes(&t, TLOG_LEVEL_ENTRIES, 0, 1, &tile), CC_EINVAL);
	assert_int_equal(tlog_tile_hashes(&t, 64, 0, 1, &tile), CC_EINVAL);
	assert_int_equal(tlog_tile_hashes(&t, 0, 0, 0, &tile), CC_EINVAL);
	assert_int_equal(tlog_tile_hashes(&t, 0, 0, 257, &tile), CC_EINVAL);
	assert_int_equal(tile.len, 0);

	/* Level 0 holds leaf hashes. */
	assert_int_equal(tlog_tile_hashes(&t, 0, 5, 256, &tile), 0);
	for (i = 0; i < 256; i++) {
		char s[32];

		merkle_leaf_hash(s, gen_entry(5 * 256 + i, s, sizeof(s)), h);
		assert_memory_equal(tile.p + i * MERKLE_HASH, h, MERKLE_HASH);
	}
	/* A partial tile is a prefix of the full one. */
	cbuf_reset(&below);
	assert_int_equal(tlog_tile_hashes(&t, 0, 5, 100, &below), 0);
	assert_int_equal(below.len, 100 * MERKLE_HASH);
	assert_memory_equal(below.p, tile.p, below.len);

	/* Level 1 hash i is the root of full level-0 tile i; level 2 hash 0 the root of full
	 * level-1 tile 0, which is the tree of 65,536 leaves. */
	cbuf_reset(&tile);
	assert_int_equal(tlog_tile_hashes(&t, 1, 0, 256, &tile), 0);
	for (i = 0; i < 256; i += 51) {
		cbuf_reset(&below);
		assert_int_equal(tlog_tile_hashes(&t, 0, i, 256, &below), 0);
		tile_root((const unsigned char *)below.p, h);
		assert_memory_equal(tile.p + i * MERKLE_HASH, h, MERKLE_HASH);
	}
	tile_root((const unsigned char *)tile.p, h);
	cbuf_reset(&below);
	assert_int_equal(tlog_tile_hashes(&t, 2, 0, 1, &below), 0);
	assert_memory_equal(below.p, h, MERKLE_HASH);
	assert_int_equal(merkle_tree_root(&t, 65536, h), 0);
	assert_memory_equal(below.p, h, MERKLE_HASH);

	cbuf_free(&tile);
	cbuf_free(&below);
	merkle_tree_free(&t);
}

static void hash_hex(const void *p, size_t len, char out[2 * MERKLE_HASH + 1])
{
	unsigned char h[MERKLE_HASH];

	crypto_hash_sha256(h, p, len);
	sodium_bin2hex(out, 2 * MERKLE_HASH + 1, h, MERKLE_HASH);
}

static void test_tiles_vectors(void **state)
{
	struct merkle_tree t;
	struct cbuf b = CBUF_INIT;
	char *text, *line, *save = NULL, kind[16], want[80], got[2 * MERKLE_HASH + 1], s[32];
	unsigned char root[MERKLE_HASH];
	unsigned long long a, n;
	unsigned w;
	size_t count = 0;
	uint64_t i;

	(void)state;
	gen_tree(&t, GEN_SIZE);
	text = read_vector("tiles.txt", NULL);
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (line[0] == '#')
			continue;
		assert_int_equal(sscanf(line, "%15s", kind), 1);
		cbuf_reset(&b);
		if (strcmp(kind, "root") == 0) {
			assert_int_equal(sscanf(line, "%15s %llu %79s", kind, &a, want), 3);
			assert_int_equal(merkle_tree_root(&t, a, root), 0);
			sodium_bin2hex(got, sizeof(got), root, MERKLE_HASH);
		} else if (strcmp(kind, "tile") == 0) {
			assert_int_equal(
			    sscanf(line, "%15s %llu %llu %u %79s", kind, &a, &n, &w, want), 5);
			assert_int_equal(tlog_tile_hashes(&t, (int)a, n, w, &b), 0);
			hash_hex(b.p, b.len, got);
		} else if (strcmp(kind, "bundle") == 0) {
			assert_int_equal(sscanf(line, "%15s %llu %u %79s", kind, &n, &w, want), 4);
			for (i = n * 256; i < n * 256 + w; i++)
				assert_int_equal(
				    tlog_bundle_append(&b, s, gen_entry(i, s, sizeof(s))), 0);
			hash_hex(b.p, b.len, got);
		} else if (strcmp(kind, "notile") == 0) {
			assert_int_equal(sscanf(line, "%15s %llu %llu %u", kind, &a, &n, &w), 4);
			assert_int_equal(tlog_tile_hashes(&t, (int)a, n, w, &b), CC_ENOENT);
			count++;
			continue;
		} else {
			fail_msg("tiles.txt: unknown record %s", kind);
		}
		assert_string_equal(got, want);
		count++;
	}
	assert_true(count >= 20);
	free(text);
	cbuf_free(&b);
	merkle_tree_free(&t);
}

/* --- bundles --- */

static void test_bundle(void **state)
{
	static unsigned char big[TLOG_ENTRY_MAX + 16]; /* room for the offsets below */
	static const size_t lens[] = {0, 1, 2, 255, 256, 0, 1000, TLOG_ENTRY_MAX, 3};
	const size_t n = sizeof(lens) / sizeof(lens[0]);
	struct cbuf b = CBUF_INIT;
	const unsigned char *entry;
	size_t i, off, elen, cut, len, seen, boundary[16];
	int r;

	(void)state;
	for (i = 0; i < sizeof(big); i++)
		big[i] = (unsigned char)(i * 31 + 7);
	boundary[0] = 0;
	for (i = 0; i < n; i++) {
		assert_int_equal(tlog_bundle_append(&b, big + i, lens[i]), 0);
		boundary[i + 1] = b.len;
	}
	assert_int_equal(tlog_bundle_append(&b, big, TLOG_ENTRY_MAX + 1), CC_ETOOBIG);
	assert_int_equal(tlog_bundle_append(&b, NULL, 0), 0);
	len = b.len - 2;
	assert_int_equal(len, boundary[n]);
	/* The big-endian prefix, by hand. */
	assert_int_equal((unsigned char)b.p[boundary[3]], 0);
	assert_int_equal((unsigned char)b.p[boundary[3] + 1], 255);
	assert_int_equal((unsigned char)b.p[boundary[4]], 1);
	assert_int_equal((unsigned char)b.p[boundary[4] + 1], 0);
	assert_int_equal((unsigned char)b.p[boundary[7]], 0xff);
	assert_int_equal((unsigned char)b.p[boundary[7] + 1], 0xff);

	off = 0;
	for (i = 0; i < n; i++) {
		assert_int_equal(tlog_bundle_next((unsigned char *)b.p, len, &off, &entry, &elen),
				 1);
		assert_int_equal(elen, lens[i]);
		assert_ptr_equal(entry, (unsigned char *)b.p + boundary[i] + 2);
		if (elen > 0)
			assert_memory_equal(entry, big + i, elen);
		assert_int_equal(off, boundary[i + 1]);
	}
	assert_int_equal(tlog_bundle_next((unsigned char *)b.p, len, &off, &entry, &elen), 0);
	assert_int_equal(tlog_bundle_next((unsigned char *)b.p, len, &off, &entry, &elen), 0);

	/* Every truncation: whole entries, then either a clean end (at an entry boundary) or
	 * CC_EINVAL. */
	for (cut = 0; cut < len; cut++) {
		off = 0;
		seen = 0;
		while ((r = tlog_bundle_next((unsigned char *)b.p, cut, &off, &entry, &elen)) == 1)
			seen++;
		if (cut == boundary[seen]) {
			assert_int_equal(r, 0);
		} else {
			assert_int_equal(r, CC_EINVAL);
			assert_int_equal(off, boundary[seen]);
		}
	}
	off = len + 1;
	assert_int_equal(tlog_bundle_next((unsigned char *)b.p, len, &off, &entry, &elen),
			 CC_EINVAL);
	off = 0;
	assert_int_equal(tlog_bundle_next(NULL, 0, &off, &entry, &elen), 0);
	cbuf_free(&b);
}

static void test_bundle_vector(void **state)
{
	static const char *const entries[8] = {
	    "",
	    "00",
	    "10",
	    "2021",
	    "3031",
	    "40414243",
	    "5051525354555657",
	    "606162636465666768696a6b6c6d6e6f",
	};
	struct cbuf b = CBUF_INIT;
	unsigned char e[16];
	char *hex, *mine;
	size_t i, len;

	(void)state;
	for (i = 0; i < 8; i++)
		assert_int_equal(
		    tlog_bundle_append(&b, e, unhex(entries[i], strlen(entries[i]), e, sizeof(e))),
		    0);
	hex = read_vector("bundle.hex", &len);
	mine = malloc(2 * b.len + 1);
	assert_non_null(mine);
	sodium_bin2hex(mine, 2 * b.len + 1, (unsigned char *)b.p, b.len);
	assert_int_equal(len, 2 * b.len + 1);
	assert_memory_equal(hex, mine, 2 * b.len);
	free(mine);
	free(hex);
	cbuf_free(&b);
}

/* --- the witness request (c2sp.org/tlog-witness) and its 409 answer --- */

static void test_witness_request(void **state)
{
	static const char ck[] = "example.org/log\n70000\nAAAA\n\n\u2014 x AAAA\n";
	unsigned char proof[MERKLE_MAX_PROOF][MERKLE_HASH],
	    back[TLOG_WITNESS_PROOF_MAX][MERKLE_HASH];
	unsigned char r1[MERKLE_HASH], r2[MERKLE_HASH];
	struct merkle_tree t;
	struct cbuf b = CBUF_INIT;
	struct cc_err e = {0};
	uint64_t old;
	size_t np, got, at;

	(void)state;
	gen_tree(&t, GEN_SIZE);
	assert_int_equal(merkle_tree_consistency(&t, 1234, GEN_SIZE, proof, &np), 0);
	assert_true(np > 0);
	assert_int_equal(tlog_witness_request(&b, 1234, (const unsigned char(*)[MERKLE_HASH])proof,
					      np, ck, strlen(ck)),
			 0);
	assert_int_equal(strncmp(b.p, "old 1234\n", 9), 0);
	assert_int_equal(tlog_witness_parse(b.p, b.len, &old, back, &got, &at, &e), 0);
	assert_int_equal(old, 1234);
	assert_int_equal(got, np);
	assert_memory_equal(back, proof, np * MERKLE_HASH);
	assert_int_equal(at, b.len - strlen(ck));
	assert_string_equal(b.p + at, ck);
	/* the proof read back proves what it proved */
	assert_int_equal(merkle_tree_root(&t, 1234, r1), 0);
	assert_int_equal(merkle_tree_root(&t, GEN_SIZE, r2), 0);
	assert_int_equal(merkle_verify_consistency(1234, GEN_SIZE, r1, r2,
						   (const unsigned char(*)[MERKLE_HASH])back, got),
			 0);
	/* from zero: no proof lines, the empty line at once */
	cbuf_reset(&b);
	assert_int_equal(tlog_witness_request(&b, 0, NULL, 0, ck, strlen(ck)), 0);
	assert_int_equal(strncmp(b.p, "old 0\n\n", 7), 0);
	assert_int_equal(tlog_witness_parse(b.p, b.len, &old, back, &got, &at, &e), 0);
	assert_true(old == 0 && got == 0 && at == 7);
	/* the writer refuses a proof longer than the format allows, and leaves b as it was */
	assert_int_equal(tlog_witness_request(&b, 5, (const unsigned char(*)[MERKLE_HASH])proof,
					      TLOG_WITNESS_PROOF_MAX + 1, ck, strlen(ck)),
			 CC_EINVAL);
	assert_int_equal(b.len, 7 + strlen(ck));
	cbuf_free(&b);
	merkle_tree_free(&t);
}

static void test_witness_request_refusals(void **state)
{
	static const char *const bad[] = {
	    "",
	    "old 5",
	    "old 5\n",	  /* no empty line */
	    "old \n\n",	  /* no number */
	    "old 05\n\n", /* leading zero */
	    "old +5\n\n",
	    "old -5\n\n",
	    "old 5 \n\n",
	    "Old 5\n\n",
	    "old  5\n\n",
	    "old 18446744073709551616\n\n", /* 2^64 */
	    "old 5\r\n\r\n",
	    "old 5\nAAAA\n\n",					       /* not 32 bytes */
	    "old 5\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n\n",  /* no padding */
	    "old 5\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB=\n\n", /* non-zero padding bits */
	    "old 5\n_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n", /* URL-safe alphabet */
	    "old 5\n AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n",
	};
	unsigned char proof[TLOG_WITNESS_PROOF_MAX][MERKLE_HASH];
	struct cbuf b = CBUF_INIT;
	uint64_t old = 99;
	size_t np = 99, at = 99;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct cc_err e = {0};

		assert_int_equal(
		    tlog_witness_parse(bad[i], strlen(bad[i]), &old, proof, &np, &at, &e),
		    CC_EINVAL);
		assert_true(e.msg[0] != '\0');
		assert_true(old == 99 && np == 99 && at == 99);
	}
	/* 63 proof lines are the most */
	assert_int_equal(cbuf_puts(&b, "old 5\n"), 0);
	for (int i = 0; i < TLOG_WITNESS_PROOF_MAX; i++)
		assert_int_equal(cbuf_puts(&b, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"),
				 0);
	assert_int_equal(cbuf_puts(&b, "\n"), 0);
	assert_int_equal(tlog_witness_parse(b.p, b.len, &old, proof, &np, &at, NULL), 0);
	assert_int_equal(np, TLOG_WITNESS_PROOF_MAX);
	b.len -= 1;
	assert_int_equal(cbuf_puts(&b, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n"), 0);
	assert_int_equal(tlog_witness_parse(b.p, b.len, &old, proof, &np, &at, NULL), CC_EINVAL);
	cbuf_free(&b);
}

static void test_size_answer(void **state)
{
	static const char *const bad[] = {
	    "",	     "\n",   "12",   "012\n", "-1\n",
	    "+1\n",  " 1\n", "1 \n", "1\n\n", "18446744073709551616\n",
	    "0x10\n"};
	struct cbuf b = CBUF_INIT;
	uint64_t v = 7;

	(void)state;
	assert_int_equal(tlog_size_parse("0\n", 2, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(tlog_size_parse("18446744073709551615\n", 21, &v), 0);
	assert_true(v == UINT64_MAX);
	assert_int_equal(tlog_size_text(&b, 70000), 0);
	assert_string_equal(b.p, "70000\n");
	assert_int_equal(tlog_size_parse(b.p, b.len, &v), 0);
	assert_int_equal(v, 70000);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		v = 7;
		assert_int_equal(tlog_size_parse(bad[i], strlen(bad[i]), &v), CC_EINVAL);
		assert_int_equal(v, 7);
	}
	/* a number followed by a NUL and more: the length, not the NUL, bounds it */
	assert_int_equal(tlog_size_parse("12\n\0", 4, &v), CC_EINVAL);
	cbuf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_tile_path_examples),
	    cmocka_unit_test(test_tile_path_round_trip),
	    cmocka_unit_test(test_tile_path_refusals),
	    cmocka_unit_test(test_tile_path_vectors),
	    cmocka_unit_test(test_checkpoint),
	    cmocka_unit_test(test_checkpoint_refusals),
	    cmocka_unit_test(test_checkpoint_vectors),
	    cmocka_unit_test(test_tile_hashes),
	    cmocka_unit_test(test_tiles_vectors),
	    cmocka_unit_test(test_bundle),
	    cmocka_unit_test(test_bundle_vector),
	    cmocka_unit_test(test_witness_request),
	    cmocka_unit_test(test_witness_request_refusals),
	    cmocka_unit_test(test_size_answer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
