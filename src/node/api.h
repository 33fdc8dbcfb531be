/* The node's HTTP API (docs/api.md) on libmicrohttpd: an internal thread pool, request bodies
 * of at most API_BODY_MAX bytes, RFC 9457 problem documents for every error. Requests that
 * change state are suspended until the node has made the change durable. */
#ifndef CONCORD_NODE_API_H
#define CONCORD_NODE_API_H

#include "core/err.h"
#include "node/node.h"

#define API_BODY_MAX	    65536      /* bytes in a request body; more is 413 */
#define API_BATCH_MAX	    (16 << 20) /* bytes in a batch of proposals */
#define API_THREADS_MIN	    2	       /* MHD worker threads (signature checks run in them): one */
#define API_THREADS_MAX	    16	       /* per CPU, within these bounds */
#define API_CONN_LIMIT	    512	       /* concurrent connections */
#define API_CONN_TIMEOUT    30	       /* seconds of inactivity before a connection is closed */
#define API_RECORD_WAIT_SEC 15 /* a record read waits this long for its entry's checkpoint */

struct api;

struct peer;

/* Listens on addr ("127.0.0.1:8053", "[::1]:8053", port 0 for any free port). While the node
 * follows a sequencer, the proposal endpoints are the sequencer's: p carries them there. */
int api_start(struct api **out, struct node *n, struct peer *p, const char *addr, struct cc_err *e);
/* The port actually bound. */
unsigned api_port(const struct api *a);
/* Stops taking requests: new ones are answered 503; requests in progress go on. */
void api_quiesce(struct api *a);
/* Waits up to ms milliseconds for requests in progress to finish. */
void api_drain(struct api *a, unsigned ms);
/* Closes every connection and frees a. Every suspended request must have been woken
 * (node_stop does that). */
void api_stop(struct api *a);

#endif
