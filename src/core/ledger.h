/* The ledger: a deterministic state machine over log entries. Same entries, same state, byte
 * for byte, on every node. No clock: time enters only as the value written in each entry.
 *
 * Entries (each at most TLOG_ENTRY_MAX bytes):
 *   "concord genesis <time>\n" <genesis note, signed by every founding member>   index 0
 *   "concord chunk <k>\n" <records text, hash listed in the genesis note>      1..k
 *   "concord proposal <time>\n" <proposal note, with exactly the counted signatures
 *                               in ascending order of member id>
 *
 * Records: tld/<label> (NS, DS and glue of the TLD), host/<name> (a name server's
 * addresses, shared by every TLD that uses it), member/<id>, policy/<name>, node/<id> (the
 * node member <id> runs: its URL and keys), network/sequencer (the member whose node orders
 * the log) and network/witness (the cosignatures that make a checkpoint final). */
#ifndef CONCORD_LEDGER_H
#define CONCORD_LEDGER_H

#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/note.h"
#include "core/policy.h"
#include "core/proposal.h"
#include "core/rr.h"

#define LEDGER_MAX_MEMBERS 512
#define LEDGER_CLOCK_SKEW  300 /* seconds a proposal's creation may lie ahead of the entry time */

struct ledger;

#define MEMBER_DNS_ADDRS 8 /* addresses of a member's name server */

struct member_dns {	 /* the name server a member's node runs for the root zone */
	char name[256];	 /* absolute lower-case host name, "" when it runs none */
	unsigned naddrs; /* 1 .. MEMBER_DNS_ADDRS when name is set */
	char addrs[MEMBER_DNS_ADDRS][40]; /* canonical text: IPv4 first, each family ascending */
};

/* "NAME ADDRESS [ADDRESS ...]" (a member record's dns line) into d, canonical; any order of
 * addresses, one space apart. member_dns_render writes it back in the one canonical form. */
int member_dns_parse(struct member_dns *d, const char *s, size_t len, struct cc_err *e);
int member_dns_render(const struct member_dns *d, struct cbuf *out);

struct ledger_member {
	char id[MEMBER_ID_MAX + 1]; /* member id, also its key name */
	int chamber;		    /* enum chamber */
	struct note_key key;	    /* Ed25519 verifier */
	unsigned char box[32];	    /* X25519 public key */
	struct member_dns dns;	    /* its node's name server: the apex NS set of the zone */
	uint64_t version;	    /* log index of the last write */
};

#define NODE_URL_MAX 200

/* A member's node: record node/<id>. Its key signs checkpoints when the node is the
 * sequencer and cosignatures when it witnesses. */
struct ledger_node {
	char id[MEMBER_ID_MAX + 1]; /* the member that runs it */
	char url[NODE_URL_MAX + 1]; /* API base URL, canonical, e.g. "http://192.0.2.1:8053" */
	unsigned char key[32];	    /* node key (Ed25519): checkpoints, cosignatures */
	unsigned char zsk[32];	    /* its zone-signing key (Ed25519) */
	uint64_t version;	    /* log index of the last write */
};

/* A node URL ("http[s]://HOST[:PORT]", nothing after) into its canonical form: scheme and
 * host lower-case, IPv6 as RFC 5952 writes it. CC_EINVAL with e set when it is not one. */
int node_url_parse(char out[NODE_URL_MAX + 1], const char *s, struct cc_err *e);
/* A node record's content (the lines "url", "key", "zsk") into n, whose id becomes id;
 * ledger_node_render writes the one canonical form back. */
int ledger_node_parse(struct ledger_node *n, const char *id, const char *content, size_t len,
		      struct cc_err *e);
int ledger_node_render(const struct ledger_node *n, struct cbuf *out);

/* Where a proposal stands against the current state. */
enum ledger_status {
	LEDGER_READY = 1,   /* every requirement met; may be appended now */
	LEDGER_PENDING = 2, /* requirements still missing, or the consultation period runs */
	LEDGER_REJECTED = 3 /* objections leave some requirement impossible to meet */
};

#define LEDGER_MAX_NEEDS 64

struct ledger_need {		       /* one requirement of one governing policy */
	char policy[PATH_MAX_LEN + 1]; /* e.g. "policy/tld" */
	char path[PATH_MAX_LEN + 1];   /* first record path it governs in this proposal */
	char what[128];		       /* e.g. "2/3 of government", "state cn" */
	unsigned have;		       /* counted signatures */
	unsigned need;		       /* required signatures */
	char candidates[512];	       /* space-separated ids who could still sign */
};

struct ledger_verdict {
	int status;				    /* enum ledger_status */
	struct ledger_need needs[LEDGER_MAX_NEEDS]; /* every requirement, met or not */
	unsigned nneeds;			    /* entries in needs */
	int64_t not_before; /* earliest acceptance time (creation + longest delay) */
	char counted[LEDGER_MAX_MEMBERS][MEMBER_ID_MAX + 1]; /* signers who count, sorted */
	unsigned ncounted;				     /* entries in counted */
};

struct ledger *ledger_new(void);
void ledger_free(struct ledger *l);

/* Applies one log entry at index ledger_size(l). With verify, every signature is checked;
 * a node replaying its own store, whose entries it checked before writing, passes 0.
 * On failure the state is unchanged. */
int ledger_apply_entry(struct ledger *l, const unsigned char *entry, size_t len, int verify,
		       struct cc_err *e);
/* The same, for a caller that read a proposal entry's payload itself (on another thread):
 * n = note_parse and p = proposal_parse of the payload after the entry's header line, or
 * both NULL to have them read here. Other entries ignore them. */
int ledger_apply_entry_parsed(struct ledger *l, const unsigned char *entry, size_t len,
			      const struct note *n, const struct proposal *p, int verify,
			      struct cc_err *e);

/* Whether entry is a proposal entry ("concord proposal <time>\n" then the note): 0 with its
 * time and the offset of its note, CC_EINVAL for any other entry (the genesis, a chunk, a
 * malformed one). Reads the header line only. */
int ledger_proposal_entry(const unsigned char *entry, size_t len, int64_t *t, size_t *note_at);

/* The same check against a key the caller looked up itself (NULL: the signer is not a
 * member), so that the expensive part can run outside a lock on the registry. */
int ledger_verify_sig(const struct note_key *k, const char *body, size_t len,
		      const struct note_sig *sig, struct cc_err *e);

/* Checks one signature on a proposal body against the member registry: the key must be a
 * member's current key and the signature valid. Returns the member or NULL with e set
 * (CC_EPERM: not a member or not its current key; CC_ESIG: does not verify). */
const struct ledger_member *ledger_check_sig(const struct ledger *l, const char *body, size_t len,
					     const struct note_sig *sig, struct cc_err *e);

/* Evaluates a proposal at time now with the given verified signers (member ids) and
 * objectors: validates every operation against the state (CC_ESTALE for a version that is
 * not current, CC_EINVAL for bad content, CC_EPERM when the proposer or a signer counts
 * toward nothing, CC_EEXPIRED after expiry, CC_ETIME when created lies in the future),
 * then reports what is met and missing. */
int ledger_evaluate(const struct ledger *l, const struct proposal *p, const char *const *signers,
		    size_t nsigners, const char *const *objectors, size_t nobjectors, int64_t now,
		    struct ledger_verdict *v, struct cc_err *e);

/* Builds the log entry for a proposal that is LEDGER_READY at time now: the body and the
 * signatures of the counted signers, sorted by member id. sigs are the verified signatures
 * collected so far (any order, extra ones are dropped). */
int ledger_entry_build(const struct ledger *l, const struct proposal *p,
		       const struct note_sig *sigs, size_t nsigs, int64_t now, struct cbuf *entry,
		       struct cc_err *e);

/* Evaluates a proposal with the given verified signatures and, when it is LEDGER_READY at
 * now, appends it in one step: writes its log entry to entry (as ledger_entry_build would)
 * and applies it (as ledger_apply_entry would, without checking signatures again). v says
 * where the proposal stands either way; entry is untouched unless v->status is READY.
 * This is the node's path: the proposal is planned once, not three times. */
int ledger_accept(struct ledger *l, const struct proposal *p, const struct note_sig *sigs,
		  size_t nsigs, const char *const *objectors, size_t nobjectors, int64_t now,
		  struct ledger_verdict *v, struct cbuf *entry, struct cc_err *e);

/* State queries. */
const char *ledger_origin(const struct ledger *l);
uint64_t ledger_size(const struct ledger *l); /* entries applied */
int64_t ledger_time(const struct ledger *l);  /* time of the last entry */
/* The id of the proposal the last entry applied logged, "" when that entry was the genesis or
 * a chunk: a node indexes accepted proposals as it replays or takes entries. */
const char *ledger_last_id(const struct ledger *l);
int ledger_ready(const struct ledger *l); /* genesis complete: proposals may follow */
size_t ledger_member_count(const struct ledger *l);
const struct ledger_member *ledger_member_at(const struct ledger *l, size_t i); /* by id order */
const struct ledger_member *ledger_member(const struct ledger *l, const char *id);

size_t ledger_node_count(const struct ledger *l);
/* By id order, NULL past the end. */
const struct ledger_node *ledger_node_at(const struct ledger *l, size_t i);
const struct ledger_node *ledger_node(const struct ledger *l, const char *id); /* NULL when none */
/* The member whose node orders the log (network/sequencer), "" when the network names none:
 * then every node appends to its own log, as a single-node network does. */
const char *ledger_sequencer(const struct ledger *l);
/* Node-key cosignatures that make a checkpoint final (network/witness): ceil(n * nodes / d),
 * 0 when the network has no witness record. */
unsigned ledger_witness_need(const struct ledger *l);
/* "n/d" of network/witness, "" when none. */
const char *ledger_witness_quorum(const struct ledger *l);

/* A record's content in the form "propose put" takes, and its version. CC_ENOENT if none. */
int ledger_get(const struct ledger *l, const char *path, struct cbuf *content, uint64_t *version);

/* Calls fn for every record whose path starts with prefix ("" for all), in path order. */
typedef int (*ledger_record_fn)(void *ctx, const char *path, const char *content, size_t len,
				uint64_t version);
int ledger_foreach(const struct ledger *l, const char *prefix, ledger_record_fn fn, void *ctx);

/* The governed delegations as one master file: every TLD's NS and DS and the glue of their
 * name servers, in canonical order. */
int ledger_export_root(const struct ledger *l, struct cbuf *out);
/* The same records, appended to out in no particular order (sorting them is the caller's
 * choice: the zone sorts them its own way), each with its zone TTL (172800 for NS and glue,
 * 86400 for DS). */
int ledger_delegations(const struct ledger *l, struct rr_set *out);
/* The same records handed to fn one by one, with their zone TTL, without a copy; fn's first
 * non-zero result stops the walk and is returned. */
typedef int (*ledger_rr_fn)(void *ctx, const struct rr *r, uint32_t ttl);
int ledger_delegations_each(const struct ledger *l, ledger_rr_fn fn, void *ctx);

/* The owner names of delegation records (a TLD's NS and DS, a name server's addresses)
 * that entries since .. ledger_size(l) - 1 wrote, in the order written, repeats included;
 * "." when a member or node record changed (the apex: the root servers, and the nodes'
 * zone-signing keys). Returns fn's first non-zero result, or CC_ENOENT when the ledger no
 * longer remembers that far back (the genesis, or more than LEDGER_TOUCH_MAX names ago):
 * the caller then reads everything. */
typedef int (*ledger_touch_fn)(void *ctx, const char *name);
int ledger_touched(const struct ledger *l, uint64_t since, ledger_touch_fn fn, void *ctx);
/* The delegation records at one owner name (absolute, lower-case): the NS and DS of the TLD
 * of that name, the addresses of the name server host of that name, appended to out with
 * their zone TTLs as ledger_delegations gives them. */
int ledger_delegations_at(const struct ledger *l, const char *owner, struct rr_set *out);

/* Which policy governs path now (e.g. "policy/cctld"), or CC_ENOENT. */
int ledger_policy_for(const struct ledger *l, const char *path, char out[PATH_MAX_LEN + 1]);

#endif
