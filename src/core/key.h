/* A member's key pair files: an Ed25519 signing key (as a C2SP signer) and an X25519
 * encryption key (for sealed content, used by later record kinds).
 *
 *   ID.key (mode 0600):  PRIVATE+KEY+<id>+<hex8 key id>+<base64(0x01 || seed)>\n
 *                        box <base64(x25519 secret)>\n
 *   ID.pub:              <verifier key>\n
 *                        box <base64(x25519 public)>\n */
#ifndef CONCORD_KEY_H
#define CONCORD_KEY_H

#include "core/note.h"

struct key_pair {
	struct note_signer sign;  /* Ed25519 signer; sign.key.name is the member id */
	unsigned char box_sk[32]; /* X25519 secret */
	unsigned char box_pk[32]; /* X25519 public */
};

struct key_pub {
	struct note_key sign;	  /* Ed25519 verifier */
	unsigned char box_pk[32]; /* X25519 public */
};

int key_generate(struct key_pair *k, const char *id, struct cc_err *e);
int key_format_private(const struct key_pair *k, struct cbuf *out);
int key_parse_private(struct key_pair *k, const char *s, size_t len, struct cc_err *e);
int key_format_public(const struct key_pub *k, struct cbuf *out);
int key_parse_public(struct key_pub *k, const char *s, size_t len, struct cc_err *e);
void key_public(const struct key_pair *k, struct key_pub *out);
/* The PRIVATE+KEY line alone, for a signer of any valid key name (a node's log key is named
 * after the network origin, which is not a member id). */
int key_format_signer(const struct note_signer *s, struct cbuf *out);
int key_parse_signer(struct note_signer *s, const char *line, size_t len, struct cc_err *e);
/* Zeroes secrets. */
void key_wipe(struct key_pair *k);

#endif
