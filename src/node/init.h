/* `concord node init DIR --genesis FILE --key KEYFILE [--ksk FILE]`: creates a node
 * directory from a complete, fully signed genesis file. */
#ifndef CONCORD_NODE_INIT_H
#define CONCORD_NODE_INIT_H

#include <stddef.h>

#include "core/err.h"
#include "core/buf.h"
#include "core/key.h"
#include "core/ledger.h"

/* Reads the genesis file, the member's private key file (ID.key) and, with ksk_path, the
 * network's KSK (a key file of one PRIVATE+KEY line named dnssec-ksk, as `concord root
 * ksk` makes it; CC_EINVAL otherwise), then node_init_bundle_ksk. */
int node_init(const char *dir, const char *genesis_path, const char *key_path, const char *ksk_path,
	      struct cc_err *e);

/* Checks the genesis (every entry applied with full verification) and that member is one of
 * its members with that very key, then creates DIR (which must be absent or empty) with
 * node.conf ("member <id>", default HTTP address), a fresh node.key named after the network
 * origin, and concord.db holding the genesis entries and the first signed checkpoint.
 * DIR may instead hold exactly what node_keys wrote: its node key is then the log key
 * (CC_EPERM when node.pub is another member's, or the genesis lists other keys for the
 * member's node). A genesis listing the member's node needs those keys. On any failure DIR
 * is left as it was found. */
int node_init_bundle(const char *dir, const unsigned char *genesis, size_t len,
		     const struct key_pair *member, struct cc_err *e);
/* The same, and with ksk non-NULL (a 32-octet Ed25519 seed) DIR/ksk.key holding it (mode
 * 0600, fsynced): the network's KSK, which the node then signs its DNSKEY RRset with
 * instead of making a KSK of its own on the first start. */
int node_init_bundle_ksk(const char *dir, const unsigned char *genesis, size_t len,
			 const struct key_pair *member, const unsigned char *ksk, struct cc_err *e);

/* `concord node keys DIR --member ID --url URL`: creates DIR (absent or empty) with a fresh
 * node key (node.key, named "concord-node"), a zone-signing key (zsk.key) and node.pub, the
 * member's node record to be: "member <id>" then its url, key and zsk lines. Appends
 * node.pub's text to pub. On any failure nothing is left behind. */
int node_keys(const char *dir, const char *member, const char *url, struct cbuf *pub,
	      struct cc_err *e);

/* node.pub: "member <id>\n" then a node record's content, into n (canonical). */
int node_pub_parse(struct ledger_node *n, const char *text, size_t len, struct cc_err *e);

#endif
