/* Reading a log's entries from a tlog-tiles server (a node, a mirror, a CDN), checked on
 * every CPU.
 *
 * The ledger is a sequential state machine and signature checks are most of its cost, so a
 * fetching thread gets the entry bundles ahead on a kept-alive connection of its own, and
 * checking threads, one per CPU, share each bundle: they hash each entry's leaf and check
 * each proposal's signatures against the member keys the consumer published. The consumer
 * takes the entries in order, one tile at a time, and applies them with fetch_apply, which
 * has the ledger verify again every signature the checkers could not vouch for under exactly
 * the key the ledger holds at that point. The verdict is the same as a one-thread replay.
 * Used by `concord verify` and by a node following its sequencer. */
#ifndef CONCORD_NODE_FETCH_H
#define CONCORD_NODE_FETCH_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/ledger.h"
#include "core/merkle.h"
#include "core/note.h"
#include "core/proposal.h"

#define FETCH_INLINE 3 /* keys kept in the entry itself; more are allocated */

struct fetch_entry {			   /* what the checkers learnt of one entry */
	unsigned char leaf[MERKLE_HASH];   /* its leaf hash */
	const unsigned char *entry;	   /* the entry, inside the slot's data */
	size_t len;			   /* its length */
	int checked;			   /* every signature valid under the keys in refs */
	size_t nref;			   /* its signatures' keys, in order: */
	struct note_key inl[FETCH_INLINE]; /* here when nref <= FETCH_INLINE, */
	struct note_key *refs;		   /* else here (capref allocated, kept for reuse) */
	size_t capref;
	int parsed; /* a proposal entry read into note and prop, which the
		     * ledger then takes as they are (freed once applied) */
	struct note note;
	struct proposal prop;
};

struct fetch;

/* Takes n entries from log index first on (one tile's, in order). The entries are the
 * fetcher's again once it returns. A negative return stops the run with that code. */
typedef int (*fetch_take_fn)(void *ctx, struct fetch *f, uint64_t first, struct fetch_entry *v,
			     size_t n, struct cc_err *e);

/* A run over entries [from, to) of the log at base (an http:// or https:// URL whose /log/
 * serves the tiles). serial leaves every signature to the ledger. */
int fetch_new(struct fetch **out, const char *base, uint64_t from, uint64_t to, int serial,
	      struct cc_err *e);
/* Gives the checkers the ledger's member keys when they changed (a member joined, left or
 * rotated its key): call it before fetch_run and whenever take has applied entries. */
int fetch_publish(struct fetch *f, const struct ledger *l);
/* Fetches, checks and hands every entry to take. A bundle that cannot be fetched or read
 * stops the run: CC_EIO (transport), CC_ECONFLICT (a short or truncated bundle). */
int fetch_run(struct fetch *f, fetch_take_fn take, void *ctx, struct cc_err *e);
void fetch_free(struct fetch *f);

/* Applies one entry to l at its next index: 0 when the checkers' work covered every
 * signature, 1 when the ledger verified them itself, or the ledger's negative code. */
int fetch_apply(struct ledger *l, const struct fetch_entry *p, struct cc_err *e);

/* GETs entry bundle n of a tree of size leaves from the server at h into out. A partial
 * tile is served only while the tree has exactly that width; once the log has grown past
 * it, the full tile holds the same entries first. */
struct http;
int fetch_get_bundle(struct http *h, uint64_t n, uint64_t size, struct cbuf *out, struct cc_err *e);

#endif
