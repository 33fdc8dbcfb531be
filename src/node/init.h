/* `concord node init DIR --genesis FILE --key KEYFILE`: creates a node directory from a
 * complete, fully signed genesis file. */
#ifndef CONCORD_NODE_INIT_H
#define CONCORD_NODE_INIT_H

#include <stddef.h>

#include "core/err.h"
#include "core/key.h"

/* Reads the genesis file and the member's private key file (ID.key), then node_init_bundle. */
int node_init(const char *dir, const char *genesis_path, const char *key_path, struct cc_err *e);

/* Checks the genesis (every entry applied with full verification) and that member is one of
 * its members with that very key, then creates DIR (which must be absent or empty) with
 * node.conf ("member <id>", default HTTP address), a fresh node.key named after the network
 * origin, and concord.db holding the genesis entries and the first signed checkpoint.
 * On any failure nothing is left behind. */
int node_init_bundle(const char *dir, const unsigned char *genesis, size_t len,
		     const struct key_pair *member, struct cc_err *e);

#endif
