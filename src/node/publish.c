/* The zone a node serves: built from the durable state, by parts when it can, and handed to
 * the DNS server (dnsd.c) by a publisher thread whenever the durable log or the day moves,
 * with the versions between (the journal) for IXFR. */
#include <inttypes.h>
#include <malloc.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dns/zone.h"
#include "node/dnsd.h"
#include "node/node_impl.h"

#define NODE_JOURNAL_MAX 4096 /* versions kept for a publisher that falls behind */

void node_journal_clear(struct node *n)
{
	for (size_t i = 0; i < n->njournal; i++)
		zone_delta_free(n->journal[i]);
	n->njournal = 0;
	n->journal_gap = 1;
}

/* The log went back: the next zone is built whole, not by parts from one the log no longer
 * leads to. */
void node_zone_forget(struct node *n)
{
	n->zone_gen++;
	zone_free(n->zone);
	n->zone = NULL;
	node_journal_clear(n);
}

/* Brings n->zone up to the in-memory ledger at epoch and returns a reference to it: by
 * parts (zone_update) when the ledger remembers what changed and the day is the same, whole
 * otherwise. Only collecting the changes holds the node lock; signing does not, except for a
 * whole build. Under zone_mu; the deltas of versions made go to the journal. */
static int zone_fresh(struct node *n, uint32_t epoch, struct zone **out, struct cc_err *e)
{
	const struct zone_keys keys = {
	    .ksk = &n->ksk, .zsk = &n->zsk, .serial_offset = n->serial_offset};
	struct zone_changes *c = NULL;
	struct zone_delta *d = NULL;
	struct zone *z = NULL, *cur = n->zone;
	int ret = 0, whole = 0;

	node_rdlock(n);
	if (cur && cur->epoch == epoch && cur->log_size == ledger_size(n->ledger)) {
		node_unlock(n);
		*out = zone_ref(cur);
		return 0;
	}
	if (cur == NULL || cur->epoch != epoch || zone_changes(cur, n->ledger, &c, NULL) < 0) {
		whole = 1;
		ret = zone_build(n->ledger, &keys, epoch, &z, e);
		node_unlock(n);
	} else {
		node_unlock(n);
		ret = zone_update(cur, c, &keys, &z, n->dnsd ? &d : NULL, e);
		if (ret < 0) {
			/* Whatever stopped the parts, the whole is built from the ledger alone. */
			node_log("zone by parts failed (%s): building it whole", e ? e->msg : "");
			whole = 1;
			node_rdlock(n);
			ret = zone_build(n->ledger, &keys, epoch, &z, e);
			node_unlock(n);
		}
	}
	zone_changes_free(c);
	if (ret < 0)
		return ret;
	if (whole || (n->dnsd && d == NULL) || n->njournal == NODE_JOURNAL_MAX) {
		node_journal_clear(n);
		zone_delta_free(d);
	} else if (d) {
		n->journal[n->njournal++] = d;
	}
	zone_free(n->zone);
	n->zone = z;
	*out = zone_ref(z);
	return 0;
}

int node_zone(struct node *n, int64_t now, struct cbuf *text, struct cc_err *e)
{
	struct zone *z = NULL;
	uint64_t gen;
	int ret = 0;

	/* Served only once what it shows is durable, like every other read; made again if the
	 * log went back meanwhile (what it showed may then never become durable). */
	for (int tries = 0; tries < 3; tries++) {
		cbuf_reset(text);
		pthread_mutex_lock(&n->zone_mu);
		ret = zone_fresh(n, (uint32_t)(now / ZONE_EPOCH), &z, e);
		gen = n->zone_gen;
		pthread_mutex_unlock(&n->zone_mu);
		if (ret == 0)
			ret = zone_write(z, text);
		if (ret == 0 && node_wait_durable(n, z->log_size) < 0)
			ret = cc_fail(e, CC_EIO, "the node is shutting down");
		zone_free(z);
		z = NULL;
		if (ret < 0)
			break;
		pthread_mutex_lock(&n->zone_mu);
		if (n->zone_gen != gen)
			ret = cc_fail(e, CC_EIO, "the log went back while the zone was made");
		pthread_mutex_unlock(&n->zone_mu);
		if (ret == 0)
			break;
	}
	if (ret < 0 && e && e->code == 0)
		ret = cc_fail(e, ret, "cannot build the zone");
	return ret;
}

/* Brings the zone up to the durable log and hands it to the DNS server, whenever the log
 * has grown or a new day has come; checks once a second. */
static void *node_publisher(void *arg)
{
	struct node *n = arg;
	uint64_t done = UINT64_MAX;
	uint32_t done_epoch = 0;
	int warned = 0;

	while (!node_stopping(n)) {
		uint32_t epoch = (uint32_t)((int64_t)time(NULL) / ZONE_EPOCH);
		struct zone *z = NULL;
		struct ans_zone *az = NULL;
		struct zone_delta **deltas = NULL;
		struct cc_err e = {0};
		size_t nd = 0;
		uint64_t size = done, durable, gen = 0;
		uint32_t serial = 0;
		int ret, gap = 0, stale = 0;

		pthread_mutex_lock(&n->dur_mu);
		durable = n->durable;
		if (durable == done && epoch == done_epoch) {
			struct timespec until;

			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_sec += 1;
			pthread_cond_timedwait(&n->dur_cond, &n->dur_mu, &until);
			pthread_mutex_unlock(&n->dur_mu);
			continue;
		}
		pthread_mutex_unlock(&n->dur_mu);
		pthread_mutex_lock(&n->zone_mu);
		ret = zone_fresh(n, epoch, &z, &e);
		gen = n->zone_gen;
		if (ret == 0) {
			/* The versions that led to z, taken with it. */
			deltas = malloc((n->njournal + 1) * sizeof(*deltas));
			if (deltas) {
				memcpy(deltas, n->journal, n->njournal * sizeof(*deltas));
				nd = n->njournal;
				gap = n->journal_gap;
				n->njournal = 0;
				n->journal_gap = 0;
			} else {
				node_journal_clear(n);
			}
		}
		pthread_mutex_unlock(&n->zone_mu);
		if (ret == 0) {
			size = z->log_size;
			ret = ans_zone_new(z, &az);
		}
		/* What is served never runs ahead of what is durable. */
		if (ret == 0 && node_wait_durable(n, size) < 0)
			ret = CC_EIO;
		if (ret == 0) {
			serial = z->serial;
			if (gap) {
				for (size_t i = 0; i < nd; i++)
					zone_delta_free(deltas[i]);
				nd = 0;
			}
			/* Not if the log went back since z was made: its entries may be gone. The
			 * zone lock keeps a cut from coming between the look and the hand-over. */
			pthread_mutex_lock(&n->zone_mu);
			stale = n->zone_gen != gen;
			if (!stale) {
				dnsd_publish(n->dnsd, z, az, deltas, nd);
				nd = 0;
				z = NULL;
				az = NULL;
			}
			pthread_mutex_unlock(&n->zone_mu);
		}
		if (ret == 0 && stale) {
			/* made again at once from the log as it is now */
			size = done;
		} else if (ret == 0) {
			node_log("serving zone serial %u over DNS (log size %" PRIu64 ")", serial,
				 size);
			warned = 0;
			/* A whole build's scaffolding (every delegation as text, the zone's
			 * records while sorted) is freed but stays resident until trimmed. */
			if (gap)
				malloc_trim(0);
		} else {
			if (!warned)
				node_log("no zone to serve over DNS: %s",
					 e.msg[0] ? e.msg : cc_strerror(ret));
			warned = 1;
			/* Tried at this size: the next try waits for the log to grow or the
			 * epoch to turn, not spin on a zone the state cannot give. */
			size = durable;
		}
		for (size_t i = 0; i < nd; i++)
			zone_delta_free(deltas[i]);
		free(deltas);
		ans_zone_free(az);
		zone_free(z);
		done = size;
		done_epoch = epoch;
	}
	return NULL;
}

int node_serve_dns(struct node *n, struct dnsd *d, struct cc_err *e)
{
	n->journal = calloc(NODE_JOURNAL_MAX, sizeof(*n->journal));
	if (n->journal == NULL)
		return cc_fail(e, CC_ENOMEM, "out of memory");
	pthread_mutex_lock(&n->zone_mu);
	n->journal_gap = 1;
	n->dnsd = d;
	pthread_mutex_unlock(&n->zone_mu);
	if (pthread_create(&n->publisher, NULL, node_publisher, n) != 0)
		return cc_fail(e, CC_ENOMEM, "cannot start the zone publisher");
	n->publishing = 1;
	return 0;
}

int node_dns_stats(struct node *n, struct cbuf *json, struct cc_err *e)
{
	static const char *const rcodes[DNSD_RCODES] = {
	    "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "other"};
	struct dnsd_stats s;
	struct dnsd *d;
	int ret;

	/* Set once at start, maybe while the API already answers; the server outlives it. */
	pthread_mutex_lock(&n->zone_mu);
	d = n->dnsd;
	pthread_mutex_unlock(&n->zone_mu);
	if (d == NULL)
		return cc_fail(e, CC_ENOENT, "this node serves no DNS (--dns off)");
	dnsd_stats(d, &s);
	cbuf_reset(json);
	/* Numbers only: printed, not built with jansson. */
	ret = s.serving ? cbuf_printf(json, "{\"serial\":%" PRIu32, s.serial)
			: cbuf_puts(json, "{\"serial\":null");
	if (ret == 0)
		ret =
		    cbuf_printf(json,
				",\"udp\":{\"workers\":%d,\"cache_bytes\":%zu,\"queries\":%" PRIu64
				",\"answers\":%" PRIu64 ",\"from_cache\":%" PRIu64
				",\"truncated\":%" PRIu64 "},\"tcp\":{\"queries\":%" PRIu64
				",\"answers\":%" PRIu64 ",\"transfers\":%" PRIu64 "},\"rcodes\":{",
				s.workers, s.cache, s.udp_queries, s.udp_answers, s.udp_cached,
				s.udp_truncated, s.tcp_queries, s.tcp_answers, s.transfers);
	for (int i = 0; ret == 0 && i < DNSD_RCODES; i++)
		ret = cbuf_printf(json, "%s\"%s\":%" PRIu64, i ? "," : "", rcodes[i], s.rcode[i]);
	if (ret == 0)
		ret = cbuf_puts(json, "}}");
	return ret < 0 ? cc_fail(e, CC_ENOMEM, "out of memory") : 0;
}
