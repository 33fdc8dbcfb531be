/* C2SP signed notes (c2sp.org/signed-note) with Ed25519 keys.
 *
 * A note is UTF-8 text ending in '\n', a blank line, then signature lines
 * "— <name> <base64(key id || signature)>\n". Key id = first 4 bytes (big-endian) of
 * SHA-256(name || "\n" || 0x01 || public key). Verifier keys are written
 * "<name>+<hex8 key id>+<base64(0x01 || public key)>". */
#ifndef CONCORD_NOTE_H
#define CONCORD_NOTE_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"

#define NOTE_MAX_SIZE                                                                              \
	65000		  /* whole note; leaves room for the entry header in a 65,535-byte entry */
#define NOTE_MAX_SIGS 400 /* signature lines; 2/3 of LEDGER_MAX_MEMBERS must fit */
#define NOTE_NAME_MAX 63  /* key name bytes */

struct note_key {		      /* a verifier key */
	char name[NOTE_NAME_MAX + 1]; /* key name, no spaces, no '+' */
	uint32_t id;		      /* key id (see above) */
	unsigned char pub[32];	      /* Ed25519 public key */
};

struct note_signer {	      /* a signer key; keep it secret */
	struct note_key key;  /* its public half */
	unsigned char sk[64]; /* libsodium Ed25519 secret key (seed || public) */
};

struct note_sig {		      /* one signature line */
	char name[NOTE_NAME_MAX + 1]; /* key name as written on the line */
	uint32_t id;		      /* key id from the first 4 bytes of the base64 blob */
	unsigned char sig[64];	      /* Ed25519 signature */
	int cosig;		      /* a timestamped cosignature (c2sp.org/tlog-cosignature) */
	uint64_t time;		      /* its time, when cosig */
};

struct note {		       /* a parsed note; owns its memory */
	char *text;	       /* note text including its final '\n', NUL-terminated */
	size_t text_len;       /* bytes of text */
	struct note_sig *sigs; /* signatures in the order they appeared */
	size_t nsigs;	       /* number of signatures (at least 1 after note_parse) */
};

/* True when name is a valid key name: 1..NOTE_NAME_MAX bytes, printable, no space or '+'. */
int note_name_valid(const char *name);

uint32_t note_key_id(const char *name, const unsigned char pub[32]);

/* Builds a signer from a 32-byte Ed25519 seed. */
int note_signer_from_seed(struct note_signer *s, const char *name, const unsigned char seed[32]);

/* Parses "name+hex8+base64(0x01||pub)"; checks the key id matches. */
int note_vkey_parse(struct note_key *k, const char *s, size_t len, struct cc_err *e);
int note_vkey_format(const struct note_key *k, struct cbuf *out);

/* Strict parse: text non-empty, valid UTF-8, no control characters but '\n', every line
 * ends in '\n', then one blank line, then 1..NOTE_MAX_SIGS well-formed signature lines (plain, or
 * timestamped cosignatures) with
 * no two from the same key (name and id), at most NOTE_MAX_SIZE bytes in all.
 * Verifies nothing: see note_verify. */
int note_parse(struct note *n, const char *msg, size_t len, struct cc_err *e);
void note_free(struct note *n);

/* Parses signature lines alone ("— name base64\n" ...), as sent to add approvals. *sigs is
 * malloc'd (free() it); NULL and 0 on error. */
int note_parse_sigs(struct note_sig **sigs, size_t *nsigs, const char *s, size_t len,
		    struct cc_err *e);

/* Checks text is acceptable as a note text (same rules as note_parse applies). */
int note_text_valid(const char *text, size_t len, struct cc_err *e);

int note_sign(const struct note_signer *s, const char *text, size_t len, struct note_sig *out);

/* Cosignatures (c2sp.org/tlog-cosignature, Ed25519): a witness's statement that, at time t,
 * the note (a checkpoint) is the largest consistent tree head it has seen of that log. The
 * key id is SHA-256(name || "\n" || 0x04 || public key)[:4]; the signed message is
 * "cosignature/v1\ntime <t>\n" then the note's text. */
uint32_t note_cosig_key_id(const char *name, const unsigned char pub[32]);
int note_cosign(const struct note_signer *s, const char *name, uint64_t t, const char *text,
		size_t len, struct note_sig *out);
/* 0 when sig is a valid cosignature of text by (name, pub); CC_ESIG otherwise. */
int note_cosig_verify(const char *name, const unsigned char pub[32], const char *text, size_t len,
		      const struct note_sig *sig);

/* 0 when sig is k's valid signature of text; CC_ESIG otherwise (also on name/id mismatch). */
int note_verify(const struct note_key *k, const char *text, size_t len, const struct note_sig *sig);
/* 1 when one of the note's signatures is k's and verifies, 0 otherwise. */
int note_signed_by(const struct note *n, const struct note_key *k);

/* A batch of notes (POST /v1/proposals/batch, docs/api.md): each note preceded by its length
 * in bytes, in decimal without leading zeros, and a '\n'; the notes follow each other with
 * nothing between. note_batch_next reads the item at *pos of [batch, batch + len): 1 with
 * *note and *nlen set and *pos moved past it, 0 at the end, CC_EINVAL or CC_ETOOBIG (a note
 * over NOTE_MAX_SIZE) when the framing is wrong. The note itself is not checked. */
int note_batch_next(const char *batch, size_t len, size_t *pos, const char **note, size_t *nlen,
		    struct cc_err *e);
int note_batch_append(const char *note, size_t len, struct cbuf *out);

/* Appends text, the blank line and the signature lines; refuses (leaving out as it was)
 * anything note_parse would refuse. Every writer here appends to its cbuf. */
int note_format(const char *text, size_t len, const struct note_sig *sigs, size_t nsigs,
		struct cbuf *out);
int note_format_sig(const struct note_sig *sig, struct cbuf *out);

#endif
