#include "node/http.h"

#include <ctype.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>

#define HTTP_CONNECT_TIMEOUT 10L /* seconds to establish a connection */
#define HTTP_STALL_TIMEOUT   60L /* seconds without a byte before a transfer is abandoned */
#define HTTP_URL_MAX	     4096

struct http {
	CURL *curl;		      /* the one reused handle: keeps the connection alive */
	struct curl_slist *hdr;	      /* request headers of the current POST */
	char base[HTTP_URL_MAX / 2];  /* node URL without trailing '/' */
	char errbuf[CURL_ERROR_SIZE]; /* libcurl's reason for a transport failure */
	long timeout_ms;	      /* whole request, 0 for none */
	long connect_ms;	      /* connection, 0 for HTTP_CONNECT_TIMEOUT */
};

struct http_sink {	/* where a response body goes */
	struct cbuf *b; /* body */
	size_t max;	/* bytes allowed */
	int overflow;	/* set when the body passed max */
};

static pthread_once_t http_once = PTHREAD_ONCE_INIT;
static int http_global_rc;

static void http_global_init(void)
{
	http_global_rc = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : CC_EIO;
}

int http_new(struct http **hp, const char *base, struct cc_err *e)
{
	struct http *h = NULL;
	size_t n = strlen(base);
	int ret;

	*hp = NULL;
	pthread_once(&http_once, http_global_init);
	if (http_global_rc != 0)
		return cc_fail(e, CC_EIO, "cannot initialise libcurl");
	while (n > 0 && base[n - 1] == '/')
		n--;
	if (n == 0 || n >= sizeof(h->base))
		return cc_fail(e, CC_EINVAL, "bad node URL '%s'", base);
	if (strncmp(base, "http://", 7) != 0 && strncmp(base, "https://", 8) != 0)
		return cc_fail(e, CC_EINVAL, "node URL '%s' is not http:// or https://", base);
	h = calloc(1, sizeof(*h));
	if (h == NULL)
		return cc_fail(e, CC_ENOMEM, "out of memory");
	memcpy(h->base, base, n);
	h->curl = curl_easy_init();
	if (h->curl == NULL) {
		ret = cc_fail(e, CC_ENOMEM, "cannot create a libcurl handle");
		goto out;
	}
	*hp = h;
	h = NULL;
	ret = 0;
out:
	http_free(h);
	return ret;
}

void http_free(struct http *h)
{
	if (h == NULL)
		return;
	if (h->curl != NULL)
		curl_easy_cleanup(h->curl);
	curl_slist_free_all(h->hdr);
	free(h);
}

void http_resp_free(struct http_resp *r)
{
	cbuf_free(&r->body);
	r->status = 0;
	r->ctype[0] = '\0';
}

static size_t http_write(char *data, size_t size, size_t nmemb, void *ctx)
{
	struct http_sink *s = ctx;
	size_t n = size * nmemb;

	if (s->b->len + n > s->max) {
		s->overflow = 1;
		return 0; /* makes libcurl stop with CURLE_WRITE_ERROR */
	}
	if (cbuf_put(s->b, data, n) != 0)
		return 0;
	return n;
}

/* The problem type's suffix ("urn:concord:problem:stale" -> "stale") tells the core code;
 * the status alone is ambiguous (403 and 409 carry several). */
static int http_code_of(long status, const char *type)
{
	static const struct {
		const char *suffix;
		int code;
	} map[] = {
	    {"invalid", CC_EINVAL},	{"bad-signature", CC_ESIG}, {"forbidden", CC_EPERM},
	    {"not-found", CC_ENOENT},	{"stale", CC_ESTALE},	    {"exists", CC_EEXIST},
	    {"conflict", CC_ECONFLICT}, {"expired", CC_EEXPIRED},   {"too-large", CC_ETOOBIG},
	    {"bad-time", CC_ETIME},	{"internal", CC_EIO},	    {"quota", CC_EQUOTA},
	};
	const char *colon = type != NULL ? strrchr(type, ':') : NULL;
	const char *suffix = colon != NULL ? colon + 1 : type;

	if (suffix != NULL) {
		for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
			if (strcmp(map[i].suffix, suffix) == 0)
				return map[i].code;
	}
	switch (status) {
	case 400:
		return CC_EINVAL;
	case 403:
		return CC_EPERM;
	case 404:
		return CC_ENOENT;
	case 409:
		return CC_ECONFLICT;
	case 410:
		return CC_EEXPIRED;
	case 413:
		return CC_ETOOBIG;
	case 422:
		return CC_ETIME;
	default:
		return CC_EIO;
	}
}

/* Turns a non-2xx answer into an error. A problem document gives "<title>: <detail>";
 * anything else (a proxy's HTML page) gives the status and the URL. */
static int http_problem(const struct http_resp *r, const char *url, struct cc_err *e)
{
	json_t *doc = NULL;
	const char *type = NULL, *title = NULL, *detail = NULL;
	int code;

	if (r->body.len > 0)
		doc = json_loadb(r->body.p, r->body.len, 0, NULL);
	if (json_is_object(doc)) {
		type = json_string_value(json_object_get(doc, "type"));
		title = json_string_value(json_object_get(doc, "title"));
		detail = json_string_value(json_object_get(doc, "detail"));
	}
	code = http_code_of(r->status, type);
	if (title != NULL && detail != NULL && detail[0] != '\0')
		cc_fail(e, code, "%s: %s", title, detail);
	else if (title != NULL)
		cc_fail(e, code, "%s", title);
	else
		cc_fail(e, code, "HTTP %ld from %s", r->status, url);
	json_decref(doc);
	return code;
}

/* GET, or POST when ctype is not NULL; inm, when not NULL, is sent as If-None-Match. */
static int http_do(struct http *h, const char *path, const char *inm, const char *ctype,
		   const void *body, size_t len, size_t max, struct http_resp *r, struct cc_err *e)
{
	char url[HTTP_URL_MAX];
	struct http_sink sink = {&r->body, max, 0};
	CURL *c = h->curl;
	const char *ct = NULL;
	CURLcode cr;
	size_t i;
	int n;

	struct curl_header *tag = NULL;

	cbuf_reset(&r->body);
	r->status = 0;
	r->ctype[0] = '\0';
	r->etag[0] = '\0';
	n = snprintf(url, sizeof(url), "%s%s%s", h->base, path[0] == '/' ? "" : "/", path);
	if (n < 0 || (size_t)n >= sizeof(url))
		return cc_fail(e, CC_EINVAL, "URL too long for %s", path);

	/* Reset keeps the live connections and the DNS cache, drops the previous request's
	 * options, so a POST cannot leak into the next GET. */
	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, http_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, h->errbuf);
	if (h->connect_ms > 0)
		curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, h->connect_ms);
	else
		curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, HTTP_CONNECT_TIMEOUT);
	if (h->timeout_ms > 0)
		curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, h->timeout_ms);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, HTTP_STALL_TIMEOUT);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "concord");
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
	curl_slist_free_all(h->hdr);
	h->hdr = NULL;
	if (ctype != NULL) {
		char ctline[160];

		snprintf(ctline, sizeof(ctline), "Content-Type: %s", ctype);
		h->hdr = curl_slist_append(h->hdr, ctline);
		/* the node answers at once; waiting for "100 Continue" only costs a round trip */
		if (h->hdr != NULL)
			h->hdr = curl_slist_append(h->hdr, "Expect:");
		if (h->hdr == NULL)
			return cc_fail(e, CC_ENOMEM, "out of memory");
		curl_easy_setopt(c, CURLOPT_POST, 1L);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	}
	if (inm != NULL) {
		char line[HTTP_ETAG_MAX + 32];

		snprintf(line, sizeof(line), "If-None-Match: %s", inm);
		if ((h->hdr = curl_slist_append(h->hdr, line)) == NULL)
			return cc_fail(e, CC_ENOMEM, "out of memory");
	}
	if (h->hdr != NULL)
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, h->hdr);
	h->errbuf[0] = '\0';
	cr = curl_easy_perform(c);
	if (cr != CURLE_OK) {
		if (sink.overflow)
			return cc_fail(e, CC_ETOOBIG, "answer from %s is larger than %zu bytes",
				       url, max);
		return cc_fail(e, CC_EIO, "%s: %s", url,
			       h->errbuf[0] != '\0' ? h->errbuf : curl_easy_strerror(cr));
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
	if (ct != NULL) {
		for (i = 0;
		     ct[i] != '\0' && ct[i] != ';' && ct[i] != ' ' && i + 1 < sizeof(r->ctype); i++)
			r->ctype[i] = (char)tolower((unsigned char)ct[i]);
		r->ctype[i] = '\0';
	}
	if (curl_easy_header(c, "ETag", 0, CURLH_HEADER, -1, &tag) == CURLHE_OK &&
	    strlen(tag->value) < sizeof(r->etag))
		snprintf(r->etag, sizeof(r->etag), "%s", tag->value);
	/* an empty body still gives the caller a valid C string */
	if (r->body.p == NULL && cbuf_put(&r->body, "", 0) != 0)
		return cc_fail(e, CC_ENOMEM, "out of memory");
	if (inm != NULL && r->status == 304)
		return 0;
	if (r->status < 200 || r->status > 299)
		return http_problem(r, url, e);
	return 0;
}

void http_set_timeouts(struct http *h, long connect_ms, long total_ms)
{
	h->connect_ms = connect_ms;
	h->timeout_ms = total_ms;
}

const char *http_base(const struct http *h)
{
	return h->base;
}

int http_get(struct http *h, const char *path, size_t max, struct http_resp *r, struct cc_err *e)
{
	return http_do(h, path, NULL, NULL, NULL, 0, max, r, e);
}

int http_get_if(struct http *h, const char *path, const char *etag, size_t max, struct http_resp *r,
		struct cc_err *e)
{
	return http_do(h, path, etag && etag[0] ? etag : NULL, NULL, NULL, 0, max, r, e);
}

int http_post(struct http *h, const char *path, const char *ctype, const void *body, size_t len,
	      size_t max, struct http_resp *r, struct cc_err *e)
{
	return http_do(h, path, NULL, ctype, body, len, max, r, e);
}
