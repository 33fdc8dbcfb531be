/* C2SP transparency-log formats: checkpoints (c2sp.org/tlog-checkpoint) and tiles
 * (c2sp.org/tlog-tiles). Tiles are 256 wide; a tile at level L holds tree-level 8L hashes.
 * Entry bundles are entries each prefixed by a big-endian uint16 length. */
#ifndef CONCORD_TLOG_H
#define CONCORD_TLOG_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/merkle.h"

#define TLOG_TILE_WIDTH	   256
#define TLOG_TILE_HEIGHT   8
#define TLOG_ENTRY_MAX	   65535
#define TLOG_ORIGIN_MAX	   255
#define TLOG_LEVEL_ENTRIES (-1) /* "level" of entry bundles, for the path helpers */

/* Writes "tile/<L>/<N>[.p/<W>]" or "tile/entries/<N>[.p/<W>]" (no leading slash), N in
 * x001/x234/067 form. w is 1..256; 256 writes a full tile (no .p/ suffix). */
int tlog_tile_path(struct cbuf *out, int level, uint64_t n, unsigned w);
/* Strict inverse of tlog_tile_path: rejects leading zeros other than the format's own,
 * non-canonical groups, widths 0 or >= 256 after .p/, levels above 63. */
int tlog_tile_parse_path(const char *path, int *level, uint64_t *n, unsigned *w);

/* Checkpoint note text: "<origin>\n<size>\n<base64 root>\n" (no extension lines). */
int tlog_checkpoint_text(struct cbuf *out, const char *origin, uint64_t size,
			 const unsigned char root[MERKLE_HASH]);
/* Parses a checkpoint text (the note text, not the signatures); extension lines are allowed
 * and ignored. origin must hold TLOG_ORIGIN_MAX + 1 bytes. */
int tlog_checkpoint_parse(const char *text, size_t len, char *origin, uint64_t *size,
			  unsigned char root[MERKLE_HASH], struct cc_err *e);

/* Hash tile data: the w hashes at tree level 8*level, indexes n*256 .. n*256+w-1. */
int tlog_tile_hashes(const struct merkle_tree *t, int level, uint64_t n, unsigned w,
		     struct cbuf *out);

/* c2sp.org/tlog-witness add-checkpoint request: "old <size>\n", the consistency proof from
 * that size (one standard base64 hash per line), an empty line, then the
 * checkpoint note. The writer appends ck as given; the parser is its strict inverse for the
 * head and leaves the note (at body + *ck_at) to note_parse. */
#define TLOG_WITNESS_PROOF_MAX 63
int tlog_witness_request(struct cbuf *out, uint64_t old, const unsigned char (*proof)[MERKLE_HASH],
			 size_t np, const char *ck, size_t cklen);
int tlog_witness_parse(const char *body, size_t len, uint64_t *old,
		       unsigned char proof[TLOG_WITNESS_PROOF_MAX][MERKLE_HASH], size_t *np,
		       size_t *ck_at, struct cc_err *e);
/* The body of a witness's 409 answer (text/x.tlog.size): "<size>\n", strictly. */
int tlog_size_text(struct cbuf *out, uint64_t size);
int tlog_size_parse(const char *text, size_t len, uint64_t *size);

int tlog_bundle_append(struct cbuf *b, const void *entry, size_t len);
/* Iterates a bundle: *off starts at 0; returns 1 with the next entry, 0 at the end,
 * CC_EINVAL on a truncated bundle. */
int tlog_bundle_next(const unsigned char *b, size_t len, size_t *off, const unsigned char **entry,
		     size_t *elen);

#endif
