/* TSIG (RFC 8945) with HMAC-SHA256 only: checking signed requests (zone transfers, NOTIFY,
 * queries) and signing their answers, multi-message TCP transfers included; signing the
 * requests Concord sends itself (NOTIFY) and checking their answers. Pure: no clock (the
 * caller passes the time, in seconds since the epoch), no allocation, no I/O.
 *
 * A server does, for each message that comes in:
 *
 *	r = tsig_verify_query(keys, nkeys, msg, len, now, &ctx);
 *	TSIG_NONE       an unsigned message: answer it as usual (or refuse it, by policy)
 *	CC_EINVAL       FORMERR, without TSIG (RFC 8945 §5.2: misplaced or malformed TSIG)
 *	other r < 0     tsig_error_answer(&ctx, msg, len, out, &n, cap, now): NOTAUTH with
 *	                ctx.error (BADKEY, BADSIG: unsigned; BADTIME, BADTRUNC: signed)
 *	0               build the answer into cap - tsig_space(&ctx) bytes, then
 *	                tsig_sign(&ctx, out, &n, cap, now); for a transfer, every message
 *	                in turn with the same ctx.
 *
 * Every message from the network is hostile: nothing is read past the length given. The
 * replay cache RFC 8945 §5.2.3 suggests (refuse a Time Signed older than the last one seen
 * for the key) needs state and is the caller's, should it want one. */
#ifndef CONCORD_DNS_TSIG_H
#define CONCORD_DNS_TSIG_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "dns/wire.h"

#define DNS_TSIG	  250 /* RR type */
#define DNS_CLASS_ANY	  255
#define DNS_RCODE_NOTAUTH 9 /* the header RCODE of every TSIG error answer */

#define TSIG_NONE	1   /* tsig_verify_*: the message carries no TSIG RR */
#define TSIG_MAC_LEN	32  /* HMAC-SHA256 */
#define TSIG_MAC_MIN	16  /* shortest truncation: max(10, half the hash), §5.2.2.1 */
#define TSIG_SECRET_MAX 64  /* octets of a secret: one SHA-256 block, never hashed down */
#define TSIG_FUDGE	300 /* seconds of clock skew allowed, in what we sign */

/* The TSIG RR's Error field (RFC 8945 §3). */
enum tsig_error {
	TSIG_NOERROR = 0,
	TSIG_BADSIG = 16,  /* the MAC does not verify */
	TSIG_BADKEY = 17,  /* unknown key name, or the key's algorithm is not this one */
	TSIG_BADTIME = 18, /* Time Signed more than Fudge away from now */
	TSIG_BADTRUNC = 22 /* a truncated MAC: verified, but shorter than we accept */
};

struct tsig_key {
	uint8_t name[DNS_NAME_MAX];	 /* wire form, lower-case */
	uint8_t secret[TSIG_SECRET_MAX]; /* the shared secret */
	size_t secret_len;		 /* 1..TSIG_SECRET_MAX */
};

/* Reads "hmac-sha256:NAME:BASE64" or "NAME:BASE64" (hmac-sha256 too: kdig's reading of
 * -y; BIND's dig takes that form as hmac-md5, which is refused here). The algorithm is
 * matched without regard to case. NAME is a presentation name, the final dot optional; it
 * can hold a ':' only in the first form. CC_EINVAL, with e saying why, for another
 * algorithm, a bad name, a secret that is empty, over TSIG_SECRET_MAX octets or not base64
 * (padding optional). The secret is never quoted in e. */
int tsig_key_parse(struct tsig_key *k, const char *spec, struct cc_err *e);
void tsig_key_wipe(struct tsig_key *k); /* zeroes k */

/* Keys from a key file, into keys[0 .. *n) (at most max): BIND's key statements, as
 * tsig-keygen writes them (key "NAME" { algorithm hmac-sha256; secret "BASE64"; };), and
 * the one-word form above, any number of each; # and // comments. CC_EINVAL with the line
 * in e, CC_ETOOBIG beyond max keys or TSIG_KEYS_TEXT_MAX bytes, CC_EEXIST for two keys of
 * one name. On error no key is left. */
#define TSIG_KEYS_TEXT_MAX 65536
#define TSIG_KEYS_TOKEN	   512 /* longest word or quoted string */
int tsig_keys_parse(const char *text, size_t len, struct tsig_key *keys, size_t max, size_t *n,
		    struct cc_err *e);

/* One exchange: a request and its answer, one message or many. */
struct tsig_ctx {
	const struct tsig_key *key; /* the key used; NULL when none is known (BADKEY) */
	uint8_t name[DNS_NAME_MAX]; /* key name as the request gave it, lower-case */
	uint8_t alg[DNS_NAME_MAX];  /* algorithm name as the request gave it, lower-case */
	uint8_t mac[TSIG_MAC_LEN];  /* the last MAC of the exchange, which the next one covers */
	uint16_t mac_len;	    /* octets in mac (a request's may be truncated); 0: none */
	uint16_t error;		    /* enum tsig_error the answer carries */
	uint64_t time_signed;	    /* the request's Time Signed, echoed in a BADTIME answer */
	unsigned nmsg;		    /* answer messages signed or verified so far */
	size_t unsigned_len;	    /* tsig_verify_query: where the request's TSIG RR starts; the
				     * request without it (and with ARCOUNT one less) is what it asks */
};

/* Checks the TSIG of a request msg[0..len) against keys, at time now. The TSIG RR must be
 * the last RR of the additional section, the only one, class ANY, TTL 0; its MAC covers
 * the message without it, ARCOUNT one less and the ID replaced by its Original ID (§4.3).
 * Checks in the order of §5.2: key, MAC, time, truncation. Returns:
 *   0           verified: ctx is ready for tsig_sign, and holds the key and request MAC;
 *   TSIG_NONE   no TSIG RR in the message (ctx zeroed);
 *   CC_EINVAL   malformed: the message does not parse, the TSIG RR is misplaced, a second
 *               one, class or TTL wrong, its rdata malformed, the message runs on after
 *               it, or its MAC size is under TSIG_MAC_MIN or over TSIG_MAC_LEN: FORMERR;
 *   CC_ENOENT   BADKEY: no key of that name, or the algorithm is not hmac-sha256;
 *   CC_ESIG     BADSIG (ctx->error), or BADTRUNC: the MAC is right but truncated;
 *   CC_ETIME    BADTIME: the MAC is right, now is more than the request's Fudge away
 *               from its Time Signed.
 * For the last three ctx->error says which, and ctx is ready for tsig_error_answer. */
int tsig_verify_query(const struct tsig_key *keys, size_t nkeys, const uint8_t *msg, size_t len,
		      uint64_t now, struct tsig_ctx *ctx);

/* Octets tsig_sign will add to the next message: reserve them when building it. */
size_t tsig_space(const struct tsig_ctx *ctx);

/* Appends a TSIG RR to the answer msg[0..*len) (cap octets of room) and adds it to ARCOUNT;
 * *len grows by tsig_space(ctx). The first message's MAC covers the request MAC, the message
 * and the TSIG variables (§4.3); each later one's, the previous MAC, the message and the
 * timers (§5.3.1), so call it on every message of a transfer, in order. Time Signed is now,
 * Fudge TSIG_FUDGE, Original ID the message's ID. With ctx->error set the RR carries it:
 * no MAC for BADKEY and BADSIG (§5.2.1-2), and for BADTIME the request's Time Signed and now
 * in Other Data (§5.2.3). CC_ETOOBIG when the RR does not fit (msg untouched), CC_EINVAL
 * when *len is under a header, ARCOUNT is full, now does not fit in 48 bits or ctx has no
 * key to sign with. */
int tsig_sign(struct tsig_ctx *ctx, uint8_t *msg, size_t *len, size_t cap, uint64_t now);

/* Writes into out (cap octets) the answer to the request msg[0..len) that failed with
 * ctx->error set by tsig_verify_query: the request's ID, opcode and RD, QR set, RCODE
 * NOTAUTH, its question when it has exactly one, uncompressed, and the TSIG RR of
 * tsig_sign. *olen gets the length. CC_EINVAL when ctx->error is 0 or msg is shorter than
 * a header; CC_ETOOBIG. */
int tsig_error_answer(struct tsig_ctx *ctx, const uint8_t *msg, size_t len, uint8_t *out,
		      size_t *olen, size_t cap, uint64_t now);

/* Signs a request Concord sends (a NOTIFY): resets ctx for key and appends the TSIG RR as
 * tsig_sign does. Keep ctx to check the answer. Same errors as tsig_sign. */
int tsig_sign_request(struct tsig_ctx *ctx, const struct tsig_key *key, uint8_t *msg, size_t *len,
		      size_t cap, uint64_t now);

/* Checks an answer msg[0..len) to the request signed into ctx; for an answer of several
 * messages, each in turn (every one must be signed). Returns 0 (ctx then covers it),
 * TSIG_NONE (unsigned: not to be trusted), CC_EINVAL (malformed, as above), CC_ENOENT
 * (another key or algorithm), CC_ESIG (the MAC does not verify or is truncated), CC_ETIME
 * (outside the answer's Fudge) or CC_EPERM: the answer carries a TSIG error, put in
 * ctx->error, with no MAC (BADKEY, BADSIG: anyone could have sent it) or a verified one
 * (BADTIME: time_signed echoes ours; the server's clock is in its Other Data). */
int tsig_verify_answer(struct tsig_ctx *ctx, const uint8_t *msg, size_t len, uint64_t now);

#endif
