/* concordd: a Concord node. Opens a node directory (made by `concord node init`), replays its
 * log, serves the HTTP API until SIGINT or SIGTERM, then finishes the batch in flight. */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "dns/tsig.h"
#include "node/api.h"
#include "node/conf.h"
#include "node/dnsd.h"
#include "node/node.h"
#include "node/peer.h"

#define DNS_CACHE_MAX_MB 4096

static void usage(FILE *f)
{
	fprintf(f,
		"usage: concordd DIR [--http ADDR:PORT] [--dns ADDR:PORT|off] [--dns-workers N]\n"
		"                    [--dns-cache MB] [--tsig-keys FILE] [--xfr-allow PREFIX[,KEY] "
		"...]\n"
		"                    [--notify ADDR:PORT[,KEY] ...] [--mirror URL ...]\n"
		"\n"
		"Runs the Concord node whose directory DIR was made by `concord node init`.\n"
		"  --http ADDR:PORT   listen there instead of node.conf's address\n"
		"                     (default %s; [::1]:PORT for IPv6, port 0 for any)\n"
		"  --dns ADDR:PORT    serve the signed root zone over UDP and TCP there\n"
		"                     (default %s; 53 in production; off for none)\n"
		"  --dns-workers N    UDP worker threads, 1..%d (default: one per CPU)\n"
		"  --dns-cache MB     memory for UDP answers kept to answer the same question\n"
		"                     again, shared out between the workers, 0..%d\n"
		"                     (default %u; 0 for none)\n"
		"  --tsig-keys FILE   TSIG keys (HMAC-SHA256): tsig-keygen's output, or\n"
		"                     hmac-sha256:NAME:SECRET lines; signed queries are\n"
		"                     answered signed\n"
		"  --xfr-allow PREFIX[,KEY]  who may transfer the zone (AXFR, IXFR): an address\n"
		"                     or prefix, signed with KEY if given (repeat; default:\n"
		"                     anyone, unsigned)\n"
		"  --notify ADDR:PORT[,KEY]  a secondary to NOTIFY of each new serial, signed\n"
		"                     with KEY if given (repeat, up to 16)\n"
		"  --mirror URL       where to read the log's tiles first when following the\n"
		"                     sequencer (a copy on nginx or a CDN; repeat, up to %d):\n"
		"                     checked like any source, the sequencer itself otherwise\n"
		"Stops cleanly on SIGINT or SIGTERM.\n",
		CONF_HTTP_DEFAULT, DNSD_DEFAULT, DNSD_WORKERS_MAX, DNS_CACHE_MAX_MB,
		DNSD_CACHE_DEFAULT >> 20, NODE_MIRRORS_MAX);
}

/* The TSIG key file, read whole (it is small), then wiped. */
static int dns_keys(struct dnsd *d, const char *path, struct cc_err *e)
{
	char buf[TSIG_KEYS_TEXT_MAX + 1];
	FILE *f = fopen(path, "r");
	size_t n;
	int ret;

	if (f == NULL)
		return cc_fail(e, CC_EIO, "--tsig-keys %s: %s", path, strerror(errno));
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	if (n > TSIG_KEYS_TEXT_MAX)
		ret = cc_fail(e, CC_ETOOBIG, "--tsig-keys %s: more than %d bytes", path,
			      TSIG_KEYS_TEXT_MAX);
	else
		ret = dnsd_keys_load(d, buf, n, e);
	if (ret < 0 && e) {
		char m[CC_ERR_MSG];

		memcpy(m, e->msg, sizeof(m));
		cc_fail(e, ret, "--tsig-keys %s: %.400s", path, m);
	}
	sodium_memzero(buf, sizeof(buf));
	return ret;
}

int main(int argc, char **argv)
{
	const char *dir = NULL, *http = NULL, *dns = DNSD_DEFAULT, *notify[DNSD_NOTIFY_MAX];
	const char *mirror[NODE_MIRRORS_MAX];
	int nmirror = 0;
	const char *keys = NULL, *allow[DNSD_RULES_MAX];
	int nnotify = 0, nallow = 0, workers = 0;
	size_t cache = DNSD_CACHE_DEFAULT;
	struct node *n = NULL;
	struct api *a = NULL;
	struct peer *p = NULL;
	struct dnsd *d = NULL;
	struct cc_err e = {0};
	char host[CONF_ADDR_MAX];
	unsigned port;
	sigset_t set;
	unsigned long long size = 0;
	int sig, ret = 1;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return 0;
		} else if (strcmp(argv[i], "--http") == 0 && i + 1 < argc) {
			http = argv[++i];
		} else if (strncmp(argv[i], "--http=", 7) == 0) {
			http = argv[i] + 7;
		} else if (strcmp(argv[i], "--notify") == 0 && i + 1 < argc &&
			   nnotify < DNSD_NOTIFY_MAX) {
			notify[nnotify++] = argv[++i];
		} else if (strcmp(argv[i], "--mirror") == 0 && i + 1 < argc &&
			   nmirror < NODE_MIRRORS_MAX) {
			mirror[nmirror++] = argv[++i];
		} else if (strcmp(argv[i], "--tsig-keys") == 0 && i + 1 < argc) {
			keys = argv[++i];
		} else if (strcmp(argv[i], "--xfr-allow") == 0 && i + 1 < argc &&
			   nallow < DNSD_RULES_MAX) {
			allow[nallow++] = argv[++i];
		} else if (strcmp(argv[i], "--dns") == 0 && i + 1 < argc) {
			dns = argv[++i];
		} else if (strcmp(argv[i], "--dns-workers") == 0 && i + 1 < argc) {
			char *end;
			long w = strtol(argv[++i], &end, 10);

			if (*end != '\0' || w < 1 || w > DNSD_WORKERS_MAX) {
				fprintf(stderr, "concordd: --dns-workers takes 1 to %d\n",
					DNSD_WORKERS_MAX);
				return 2;
			}
			workers = (int)w;
		} else if (strcmp(argv[i], "--dns-cache") == 0 && i + 1 < argc) {
			char *end;
			long mb = strtol(argv[++i], &end, 10);

			if (*end != '\0' || end == argv[i] || mb < 0 || mb > DNS_CACHE_MAX_MB) {
				fprintf(stderr, "concordd: --dns-cache takes 0 to %d (MB)\n",
					DNS_CACHE_MAX_MB);
				return 2;
			}
			cache = (size_t)mb << 20;
		} else if (strncmp(argv[i], "--dns=", 6) == 0) {
			dns = argv[i] + 6;
		} else if (argv[i][0] != '-' && dir == NULL) {
			dir = argv[i];
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (dir == NULL) {
		usage(stderr);
		return 2;
	}
	/* Large passing buffers (a whole build's delegations, a zone's records being sorted)
	 * are mapped and unmapped on their own, rather than left in the heap between the
	 * small records that live on: glibc's threshold would otherwise grow to their size. */
	mallopt(M_MMAP_THRESHOLD, 256 * 1024);
	if (sodium_init() < 0) {
		fprintf(stderr, "concordd: cannot initialise libsodium\n");
		return 1;
	}
	/* Every thread started from here on inherits the mask: signals reach only sigwait. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

#ifdef CONCORD_TEST_EQUIVOCATE
	if (getenv("CONCORD_EQUIVOCATE"))
		fprintf(stderr, "concordd: TEST BUILD: as sequencer, shows node %s a split view\n",
			getenv("CONCORD_EQUIVOCATE"));
#else
	if (getenv("CONCORD_EQUIVOCATE")) {
		fprintf(stderr, "concordd: CONCORD_EQUIVOCATE is for the test-only build "
				"(make EQUIVOCATE=1); this one never equivocates\n");
		return 2;
	}
#endif
	if (node_open(&n, dir, &e) < 0) {
		fprintf(stderr, "concordd: %s: %s\n", dir, e.msg);
		goto out;
	}
	if (http == NULL)
		http = node_http(n);
	if (conf_split_addr(http, host, &port, &e) < 0) {
		fprintf(stderr, "concordd: %s\n", e.msg);
		goto out;
	}
	for (int i = 0; i < nmirror; i++)
		if (node_mirror_add(n, mirror[i], &e) < 0) {
			fprintf(stderr, "concordd: --mirror %s: %s\n", mirror[i], e.msg);
			goto out;
		}
	if (node_start(n, &e) < 0 || peer_start(&p, n, &e) < 0 ||
	    api_start(&a, n, p, http, &e) < 0) {
		fprintf(stderr, "concordd: %s\n", e.msg);
		goto out;
	}
	if (strcmp(dns, "off") != 0) {
		int bad = dnsd_start(&d, dns, workers, cache, &e) < 0;

		if (!bad && keys && dns_keys(d, keys, &e) < 0)
			bad = 1;
		for (int i = 0; !bad && i < nallow; i++)
			bad = dnsd_xfr_allow(d, allow[i], &e) < 0;
		for (int i = 0; !bad && i < nnotify; i++)
			bad = dnsd_notify_add(d, notify[i], &e) < 0;
		if (bad || node_serve_dns(n, d, &e) < 0) {
			fprintf(stderr, "concordd: %s\n", e.msg);
			goto out;
		}
		fprintf(stderr, "concordd: DNS on %s port %u (UDP and TCP)\n", dns, dnsd_port(d));
	}
	if (strchr(host, ':'))
		fprintf(stderr, "concordd: serving %s at http://[%s]:%u/ (log size %llu)\n",
			node_origin(n), host, api_port(a), (unsigned long long)node_size(n));
	else
		fprintf(stderr, "concordd: serving %s at http://%s:%u/ (log size %llu)\n",
			node_origin(n), host, api_port(a), (unsigned long long)node_size(n));
	while (sigwait(&set, &sig) != 0)
		;
	fprintf(stderr, "concordd: %s: stopping\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
	/* No new requests; commit what is queued and answer those requests; then close. */
	api_quiesce(a);
	node_stop(n);
	/* after node_stop: a follow round in progress then gives up at once; kept until the
	 * API is gone, which may still hand it requests (answered 503) */
	peer_stop(p);
	api_drain(a, 2000);
	/* The DNS server stops below, after the API, which may still read its counters. */
	size = node_size(n);
	ret = 0;
out:
	if (p) {
		node_stop(n);
		peer_stop(p); /* answers every forwarded request */
	}
	if (a) {
		node_stop(n); /* wakes any suspended request before MHD may close it */
		api_stop(a);
	}
	peer_free(p);
	if (d) {
		node_stop(n); /* the publisher feeds d */
		dnsd_stop(d);
	}
	node_close(n);
	if (ret == 0)
		fprintf(stderr, "concordd: stopped (log size %llu)\n", size);
	return ret;
}
