/* A node directory's small files and the helpers that write them safely.
 *
 *   DIR/node.conf   "member <id>" (the operating member) and "http <addr:port>", one per
 *                   line; '#' starts a comment
 *   DIR/node.key    the node key, which signs the log: one PRIVATE+KEY line
 *                   (key_format_signer), mode 0600, named "concord-node" when `concord node
 *                   keys` made it (the key of the member's node/ record), else named after
 *                   the network origin
 *   DIR/node.pub    what `concord node keys` made public: "member <id>" then the lines of a
 *                   node/<id> record (url, key, zsk), mode 0644
 *   DIR/ksk.key, DIR/zsk.key   the DNSSEC keys of the zone the node serves (Ed25519): one
 *                   PRIVATE+KEY line each, named "dnssec-ksk" and "dnssec-zsk", mode 0600;
 *                   made on the first start when missing. ksk.key is the network's when
 *                   `node init --ksk` copied it there (one KSK for every node)
 *   DIR/concord.db  the SQLite store (store.h) */
#ifndef CONCORD_NODE_CONF_H
#define CONCORD_NODE_CONF_H

#include <stddef.h>
#include <sys/types.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/note.h"
#include "core/proposal.h"

#define CONF_FILE	   "node.conf"
#define CONF_KEY_FILE	   "node.key"
#define CONF_DB_FILE	   "concord.db"
#define CONF_KSK_FILE	   "ksk.key"
#define CONF_ZSK_FILE	   "zsk.key"
#define CONF_PUB_FILE	   "node.pub"
#define CONF_NODE_KEY_NAME "concord-node" /* a node key made by `concord node keys` */
#define CONF_KSK_NAME	   "dnssec-ksk"
#define CONF_ZSK_NAME	   "dnssec-zsk"
#define CONF_HTTP_DEFAULT  "127.0.0.1:8053"
#define CONF_ADDR_MAX	   128
#define CONF_PATH_MAX	   4096

struct conf {
	char member[MEMBER_ID_MAX + 1]; /* id of the member operating the node */
	char http[CONF_ADDR_MAX];	/* HTTP listen address, "addr:port" or "[v6]:port" */
};

/* Writes "dir/file" to out; CC_EINVAL when too long. */
int conf_path(char out[CONF_PATH_MAX], const char *dir, const char *file, struct cc_err *e);

int conf_parse(struct conf *c, const char *text, size_t len, struct cc_err *e);
int conf_format(const struct conf *c, struct cbuf *out);
int conf_read(struct conf *c, const char *dir, struct cc_err *e);

/* The node's log key from DIR/node.key. */
int conf_read_key(struct note_signer *s, const char *dir, struct cc_err *e);
/* A DNSSEC key's seed from DIR/file (name its key name), made first when the file does not
 * exist (created is then 1). The caller wipes seed. */
int conf_dnssec_seed(unsigned char seed[32], const char *dir, const char *file, const char *name,
		     int *created, struct cc_err *e);
/* The seed of the DNSSEC key file path: one PRIVATE+KEY line named name (CC_EINVAL
 * otherwise). The caller wipes seed. */
int conf_dnssec_read(unsigned char seed[32], const char *path, const char *name, struct cc_err *e);
/* Creates the DNSSEC key file path (CC_EEXIST when it exists) for seed, named name: mode
 * 0600, fsynced; the caller syncs its directory. */
int conf_dnssec_write(const char *path, const char *name, const unsigned char seed[32],
		      struct cc_err *e);

/* Reads a whole file of at most max bytes. */
int conf_read_file(const char *path, size_t max, struct cbuf *out, struct cc_err *e);
/* Creates path (which must not exist: CC_EEXIST) with mode, writes data and fsyncs it; on a
 * later failure removes it again. */
int conf_write_file(const char *path, const void *data, size_t len, mode_t mode, struct cc_err *e);
/* fsyncs a directory, so that the names created in it are durable. */
int conf_sync_dir(const char *dir, struct cc_err *e);

/* Splits "addr:port" / "[v6]:port" into host and port; CC_EINVAL when malformed. */
int conf_split_addr(const char *s, char host[CONF_ADDR_MAX], unsigned *port, struct cc_err *e);

#endif
