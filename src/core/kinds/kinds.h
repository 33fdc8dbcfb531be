/* Internals shared by the ledger and its record kinds. Not part of the public API: the
 * node and CLI use ledger.h only.
 *
 * Applying a proposal is two steps. The plan step parses and validates every operation
 * against the current state without touching it, and says which paths' policies must be
 * met; the apply step then mutates the state and cannot fail but for memory. */
#ifndef CONCORD_KINDS_H
#define CONCORD_KINDS_H

#include "core/ledger.h"
#include "core/map.h"
#include "core/rr.h"

#define TTL_DELEGATION 172800 /* NS and glue, as the real root */
#define TTL_DS	       86400

struct tld {
	char label[64];	    /* TLD label, no dot: the map key */
	char owner[66];	    /* label + "." */
	struct rr_set recs; /* NS and DS records, canonical order */
	uint64_t version;   /* log index of the last write */
};

struct host {
	char name[RR_NAME_MAX + 1]; /* absolute name: the map key */
	struct rr_set addrs;	    /* A and AAAA records, canonical order */
	struct tld **users;	    /* TLDs whose NS set names this host */
	size_t nusers;		    /* used entries in users */
	size_t capusers;	    /* allocated entries in users */
	uint64_t version;	    /* log index of the last address change */
};

struct policy_rec {
	char path[PATH_MAX_LEN + 1]; /* "policy/<name>" */
	struct policy pol;	     /* parsed */
	uint64_t version;	     /* log index of the last write */
};

struct network_state {			   /* network/sequencer and network/witness */
	char sequencer[MEMBER_ID_MAX + 1]; /* the sequencer's id, "" without the record */
	uint64_t sequencer_version;	   /* log index of its last write */
	unsigned num, den;		   /* the witness quorum n/d, 0/0 without the record */
	char quorum[8];			   /* "n/d", "" without the record */
	uint64_t witness_version;	   /* log index of its last write */
};

struct ledger_touch {	/* a name whose delegation records an entry wrote */
	uint64_t index; /* the entry */
	size_t name;	/* offset in the ledger's touch_names of the owner name: a TLD, a name
			 * server host, "." for the members' servers */
};

#define LEDGER_TOUCH_MAX 65536 /* names remembered; older ones are forgotten by halves */

struct ledger {
	char origin[256];	       /* network origin, from the genesis */
	uint64_t size;		       /* entries applied */
	int64_t time;		       /* time of the last timed entry */
	int ready;		       /* genesis complete */
	unsigned char (*chunks)[32];   /* genesis chunk entry hashes */
	size_t nchunks;		       /* chunks announced */
	struct ledger_member *members; /* sorted by id */
	size_t nmembers;	       /* used */
	struct policy_rec *policies;   /* sorted by path */
	size_t npolicies;	       /* used */
	struct ledger_node *nodes;     /* sorted by id */
	size_t nnodes;		       /* used */
	struct network_state net;      /* network/ records */
	struct map tlds;	       /* label -> struct tld */
	struct map hosts;	       /* name -> struct host */
	struct map dnsnames; /* member dns name -> struct ledger_member (members_reindex) */
	int dnsnames_ok;     /* dnsnames matches members; else member_by_dns scans */
	struct ledger_touch *touched;	   /* names written by recent entries, by index */
	size_t ntouched;		   /* used */
	struct cbuf touch_names;	   /* their names, one after the other, NUL-terminated */
	uint64_t touch_floor;		   /* entries before this one are not remembered */
	char last_id[PROPOSAL_ID_LEN + 1]; /* proposal of the last entry applied, "" if none */
};

/* A staged change. Pointers into the ledger stay valid because planning never mutates. */
struct plan_tld {
	const struct proposal_op *op; /* the operation */
	struct tld *cur;	      /* current TLD or NULL when new */
	char label[64];		      /* label */
	struct rr_set recs;	      /* put: new NS and DS */
};

struct plan_host {
	char name[RR_NAME_MAX + 1]; /* host */
	struct host *cur;	    /* current host or NULL when new */
	struct rr_set addrs;	    /* new addresses, when changed */
	int changed;		    /* addresses differ from current (or new) */
	const char *from;	    /* path that declared them, for messages */
};

struct plan_member {
	const struct proposal_op *op; /* the operation */
	struct ledger_member m;	      /* put: the new member */
	int exists;		      /* a member with this id exists */
};

struct plan_policy {
	const struct proposal_op *op; /* the operation */
	struct policy_rec rec;	      /* put: the new policy */
	int exists;		      /* a policy at this path exists */
};

struct plan_node {
	const struct proposal_op *op; /* the operation */
	struct ledger_node n;	      /* put: the new node */
};

struct plan_network {
	const struct proposal_op *op;	   /* the operation (a put: these records stay) */
	char sequencer[MEMBER_ID_MAX + 1]; /* network/sequencer: the new sequencer */
	unsigned num, den;		   /* network/witness: the new quorum */
};

struct plan {
	struct plan_tld *tlds;
	size_t ntlds;
	struct plan_host *hosts;
	size_t nhosts, caphosts;
	struct plan_member *members;
	size_t nmembers;
	struct plan_policy *policies;
	size_t npolicies;
	struct plan_node *nodes;
	size_t nnodes;
	struct plan_network *network;
	size_t nnetwork;
	char (*governed)[PATH_MAX_LEN + 1]; /* paths whose policy must be met */
	size_t ngoverned, capgoverned;
	int genesis; /* genesis records: no policy, no versions */
};

void plan_free(struct plan *pl);
int plan_govern(struct plan *pl, const char *path);
struct plan_host *plan_host_find(struct plan *pl, const char *name);

/* Record kinds. plan_* validate one operation into the plan; *_apply make the plan real. */
int tld_plan(const struct ledger *l, struct plan *pl, const struct proposal_op *op,
	     struct cc_err *e);
int tld_plan_finish(const struct ledger *l, struct plan *pl, struct cc_err *e);
int tld_apply(struct ledger *l, struct plan *pl, uint64_t index);
int tld_render(const struct ledger *l, const struct tld *t, struct cbuf *out);
void tld_free(struct tld *t);

int host_plan(const struct ledger *l, struct plan *pl, const struct proposal_op *op,
	      struct cc_err *e);
int host_render(const struct host *h, struct cbuf *out);
void host_free(struct host *h);
int rr_set_equal(const struct rr_set *a, const struct rr_set *b);
/* Checks the sorted addresses v[0..n) of a host (1..32, no repeats) and stages them, copied
 * when they differ from its current ones or force is set (a put of the host itself); a
 * second declaration in the same plan must agree. */
int host_stage(const struct ledger *l, struct plan *pl, const char *name, const struct rr *v,
	       size_t n, int force, const char *from, struct cc_err *e);

int member_plan(const struct ledger *l, struct plan *pl, const struct proposal_op *op,
		struct cc_err *e);
int member_apply(struct ledger *l, struct plan *pl, uint64_t index);
/* Reads the line "<key> <value>" at *s into out and moves *s past it; CC_EINVAL when the
 * line is another or the value does not fit. */
int record_line(const char **s, const char *end, const char *key, char *out, size_t outsz);
/* A base64 key of 32 bytes (X25519 or Ed25519) in its one canonical spelling. */
int member_box_parse(unsigned char box[32], const char *s);
/* The member whose name server is called name, or NULL. */
const struct ledger_member *member_by_dns(const struct ledger *l, const char *name);
/* Rebuilds the index member_by_dns reads, after members were added, removed or moved. */
void members_reindex(struct ledger *l);
int member_render(const struct ledger_member *m, struct cbuf *out);
int member_parse(struct ledger_member *m, const char *id, const char *content, size_t len,
		 struct cc_err *e);

int noderec_plan(const struct ledger *l, struct plan *pl, const struct proposal_op *op,
		 struct cc_err *e);
int noderec_apply(struct ledger *l, struct plan *pl, uint64_t index);
const struct ledger_node *nodes_find(const struct ledger_node *v, size_t n, const char *id);
/* The node set a plan leaves behind, sorted by id, in a new array (*out, NULL when empty). */
int nodes_after(const struct ledger *l, const struct plan *pl, struct ledger_node **out, size_t *n);
/* No two nodes share a URL or a key, a node key or zone-signing key being one key. */
int nodes_unique(const struct ledger_node *v, size_t n, struct cc_err *e);
/* The node set v (as nodes_after gives it) against the members m that will be: every node
 * is a member's, and unique. */
int nodes_check(const struct ledger *l, const struct ledger_member *m, size_t nm,
		const struct ledger_node *v, size_t n, struct cc_err *e);

int networkrec_plan(const struct ledger *l, struct plan *pl, const struct proposal_op *op,
		    struct cc_err *e);
int networkrec_apply(struct ledger *l, struct plan *pl, uint64_t index);
/* The content of network/<name>, CC_ENOENT when the network has no such record. */
int networkrec_render(const struct network_state *s, const char *name, struct cbuf *out,
		      uint64_t *version);
void network_after(const struct ledger *l, const struct plan *pl, struct network_state *out);
/* The network records s against the nodes v that will be: the sequencer runs one of them,
 * and nodes need both records. */
int network_check(const struct ledger *l, const struct network_state *s,
		  const struct ledger_node *v, size_t n, struct cc_err *e);

int policyrec_plan(const struct ledger *l, struct plan *pl, const struct proposal_op *op,
		   struct cc_err *e);
int policyrec_apply(struct ledger *l, struct plan *pl, uint64_t index);

/* Resolves the policy governing path in a given policy set (most specific first; a
 * "require state" naming no government member does not apply). state gets the member the
 * policy's "require state" names, if any. */
const struct policy_rec *policy_resolve(const struct policy_rec *set, size_t n,
					const struct ledger_member *members, size_t nmembers,
					const char *path, const struct ledger_member **state);

const struct ledger_member *members_find(const struct ledger_member *m, size_t n, const char *id);

#endif
