/* libFuzzer target for the tlog parsers. Beyond memory safety it checks that each parser is
 * the strict inverse of its writer: whatever parses must be written back to the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/tlog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_path(const uint8_t *data, size_t size)
{
	struct cbuf b = CBUF_INIT;
	char *s;
	uint64_t n;
	unsigned w;
	int level;

	s = malloc(size + 1);
	if (s == NULL)
		return;
	memcpy(s, data, size);
	s[size] = '\0';
	if (tlog_tile_parse_path(s, &level, &n, &w) == 0) {
		if (tlog_tile_path(&b, level, n, w) != 0 || strcmp(b.p, s) != 0)
			abort();
	}
	cbuf_free(&b);
	free(s);
}

static void fuzz_checkpoint(const uint8_t *data, size_t size)
{
	struct cbuf b = CBUF_INIT;
	char origin[TLOG_ORIGIN_MAX + 1];
	unsigned char root[MERKLE_HASH];
	struct cc_err e = {0};
	uint64_t tree;

	if (tlog_checkpoint_parse((const char *)data, size, origin, &tree, root, &e) == 0) {
		/* Extension lines are ignored, so the rewrite is a prefix of the input. */
		if (tlog_checkpoint_text(&b, origin, tree, root) != 0 || b.len > size ||
		    memcmp(b.p, data, b.len) != 0)
			abort();
	} else if (e.code == 0 || e.msg[0] == '\0') {
		abort();
	}
	cbuf_free(&b);
}

static void fuzz_bundle(const uint8_t *data, size_t size)
{
	struct cbuf b = CBUF_INIT;
	const unsigned char *entry;
	size_t off = 0, elen;
	int r;

	while ((r = tlog_bundle_next(data, size, &off, &entry, &elen)) == 1) {
		if (entry < data || elen > size || entry + elen > data + size)
			abort();
		if (tlog_bundle_append(&b, entry, elen) != 0)
			abort();
	}
	/* A bundle that reads to its end is rewritten byte for byte. */
	if (r == 0 && (b.len != size || (size > 0 && memcmp(b.p, data, size) != 0)))
		abort();
	if (r != 0 && r != CC_EINVAL)
		abort();
	cbuf_free(&b);
}

/* The witness's request and its 409 size answer, both from the other side of the network. */
static void fuzz_witness(const uint8_t *data, size_t size)
{
	unsigned char proof[TLOG_WITNESS_PROOF_MAX][MERKLE_HASH];
	struct cbuf b = CBUF_INIT;
	struct cc_err e = {0};
	uint64_t old, held;
	size_t np, at;

	if (tlog_witness_parse((const char *)data, size, &old, proof, &np, &at, &e) == 0) {
		if (at > size || np > TLOG_WITNESS_PROOF_MAX ||
		    tlog_witness_request(&b, old, (const unsigned char(*)[MERKLE_HASH])proof, np,
					 (const char *)data + at, size - at) != 0 ||
		    b.len != size || memcmp(b.p, data, size) != 0)
			abort();
	} else if (e.code == 0 || e.msg[0] == '\0') {
		abort();
	}
	cbuf_reset(&b);
	if (tlog_size_parse((const char *)data, size, &held) == 0 &&
	    (tlog_size_text(&b, held) != 0 || b.len != size || memcmp(b.p, data, size) != 0))
		abort();
	cbuf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_path(data, size);
	fuzz_checkpoint(data, size);
	fuzz_bundle(data, size);
	fuzz_witness(data, size);
	return 0;
}
