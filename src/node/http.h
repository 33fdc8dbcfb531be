/* A small HTTP client over libcurl for the node's API: one handle per client (connections are
 * kept alive between requests), bounded response sizes, and RFC 9457 problem documents turned
 * into a cc_err whose message is "<title>: <detail>". */
#ifndef CONCORD_NODE_HTTP_H
#define CONCORD_NODE_HTTP_H

#include <stddef.h>

#include "core/buf.h"
#include "core/err.h"

#define HTTP_MAX_JSON	(64u << 20) /* any JSON answer (the record list of a big network) */
#define HTTP_MAX_SMALL	(1u << 20)  /* checkpoints, problem documents, single records */
#define HTTP_MAX_BUNDLE (17u << 20) /* an entry bundle: 256 entries of up to 65,537 bytes */
#define HTTP_ETAG_MAX	95	    /* an ETag kept (a longer one is not kept) */

struct http;

struct http_resp {
	long status;		      /* HTTP status, 0 when no answer came */
	char ctype[128];	      /* Content-Type without parameters, lower-case */
	char etag[HTTP_ETAG_MAX + 1]; /* the ETag header as sent, or "" */
	struct cbuf body;	      /* the body, NUL-terminated */
};

/* base is the node's URL ("http://127.0.0.1:8053"); a trailing '/' is dropped. */
int http_new(struct http **h, const char *base, struct cc_err *e);
void http_free(struct http *h);
/* Bounds on later requests, in milliseconds (0: the defaults, 10 s to connect and no bound
 * on the whole): a node talking to its peers must not hang on one that vanished. */
void http_set_timeouts(struct http *h, long connect_ms, long total_ms);
const char *http_base(const struct http *h); /* base as given, without a trailing '/' */

/* GET base+path into r (reset first). Returns 0 on a 2xx answer. Otherwise a negative code:
 * the problem document's (r->status tells 404 etc.) with e->msg "<title>: <detail>", CC_EIO
 * for transport errors, CC_ETOOBIG when the body passes max bytes. */
int http_get(struct http *h, const char *path, size_t max, struct http_resp *r, struct cc_err *e);
/* http_get with If-None-Match: etag (none when NULL or ""): 0 on a 2xx answer, or on 304
 * (r->status says which). */
int http_get_if(struct http *h, const char *path, const char *etag, size_t max, struct http_resp *r,
		struct cc_err *e);
/* POST body (ctype, e.g. "text/plain") to base+path, same answers as http_get. */
int http_post(struct http *h, const char *path, const char *ctype, const void *body, size_t len,
	      size_t max, struct http_resp *r, struct cc_err *e);

void http_resp_free(struct http_resp *r);

#endif
