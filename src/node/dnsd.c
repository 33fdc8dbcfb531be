#include "node/dnsd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "dns/pcache.h"
#include "dns/tsig.h"
#include "dns/wire.h"
#include "node/conf.h"

#define DNSD_BATCH	32	      /* datagrams per recvmmsg / sendmmsg */
#define DNSD_QUERY	4096	      /* bytes read of a datagram */
#define DNSD_POLL_MS	200	      /* how often an idle thread looks at the stop flag */
#define DNSD_UDP_BUFFER (1024 * 1024) /* bytes of socket buffer asked for, each way */

struct hist { /* one version's delta, shared by the snapshots whose history holds it */
	struct zone_delta *d;
	atomic_int refs;
};

struct snap { /* a published zone, its index and history, kept alive by their users */
	struct zone *z;
	struct ans_zone *az;
	struct hist **h; /* the versions that led to z, oldest first */
	struct zone_delta **hd;
	size_t nh;
	atomic_int refs;
};

struct udp_bufs { /* a worker's batch: queries in, answers out */
	uint8_t in[DNSD_BATCH][DNSD_QUERY];
	uint8_t out[DNSD_BATCH][ANS_UDP_DEFAULT];
};

/* One thread's counters: written by that thread alone (a load and a store, no locked
 * instruction), read by dnsd_stats at any time. */
struct dnsd_count {
	/* a cache line of its own, apart from the fields every worker reads */
	_Alignas(64) atomic_uint_fast64_t queries;
	atomic_uint_fast64_t answers, cached, truncated, transfers;
	atomic_uint_fast64_t rcode[DNSD_RCODES];
};

/* What a batch adds, counted in plain variables first. */
struct batch_count {
	uint64_t queries, answers, cached, truncated, transfers;
	uint64_t rcode[DNSD_RCODES];
};

struct udp_worker {
	struct dnsd *d;
	struct dnsd_count cnt;
	int fd;
	pthread_t th;
	int started;
	struct udp_bufs *b;
	struct pcache *pc; /* answers already given from the worker's snapshot; NULL: none */
};

struct snap;

struct tcp_conn {
	int fd;
	uint8_t *in; /* 2-byte length and the query */
	size_t inlen;
	uint8_t *out; /* 2-byte length and the answer being sent */
	size_t outlen, outoff;
	int64_t last_ms;      /* last activity */
	struct snap *xfr;     /* the zone being transferred (the query stays in in), or NULL */
	size_t xfr_pos;	      /* ans_xfr_next's progress */
	struct tsig_ctx tsig; /* the transfer's TSIG, when its request was signed */
	int xfr_signed;
};

struct notify_target {
	struct sockaddr_storage sa;
	socklen_t salen;
	uint32_t serial;      /* serial to announce, 0 when announced */
	uint16_t id;	      /* id of the NOTIFY in flight */
	int tries;	      /* sent so far for this serial */
	int64_t next_ms;      /* when to send again */
	int key;	      /* index of the key NOTIFYs are signed with, -1 for none */
	struct tsig_ctx tsig; /* the NOTIFY in flight, to check its answer */
};

struct xfr_rule { /* who may transfer the zone: an address prefix, maybe a key */
	int family;
	uint8_t net[16];
	unsigned bits;
	int key; /* index of the key the request must be signed with, -1 for none */
};

struct dnsd {
	struct sockaddr_storage sa; /* bound address (UDP and TCP share the port) */
	socklen_t salen;
	unsigned port;
	struct udp_worker w[DNSD_WORKERS_MAX];
	int nw;
	int tcp_fd;
	pthread_t tcp_th;
	int tcp_started;
	atomic_int stop;
	atomic_uint gen; /* bumped at each publication: workers then take the new snapshot */
	size_t cache;	 /* bytes of answers the UDP workers keep, all their caches together */
	struct dnsd_count tcp_cnt;
	pthread_mutex_t mu; /* guards cur and the notify targets */
	struct snap *cur;
	struct hist *hist[DNSD_HISTORY]; /* deltas up to cur's zone, oldest first */
	size_t nhist;
	struct notify_target nt[DNSD_NOTIFY_MAX];
	int nnt;
	struct tsig_key keys[DNSD_KEYS_MAX]; /* set before the threads start, then read only */
	size_t nkeys;
	struct xfr_rule rules[DNSD_RULES_MAX];
	size_t nrules;
	int notify_fd;
	pthread_t notify_th;
	int notify_started;
};

/* ---- zones ---- */

static void hist_release(struct hist *h)
{
	if (h == NULL || atomic_fetch_sub(&h->refs, 1) != 1)
		return;
	zone_delta_free(h->d);
	free(h);
}

static void snap_release(struct snap *s)
{
	if (s == NULL || atomic_fetch_sub(&s->refs, 1) != 1)
		return;
	ans_zone_free(s->az);
	zone_free(s->z);
	for (size_t i = 0; i < s->nh; i++)
		hist_release(s->h[i]);
	free(s->h);
	free(s->hd);
	free(s);
}

/* Adds deltas (taken) to d's history of versions up to serial: they continue it, or start
 * it anew; the oldest go beyond DNSD_HISTORY. Under d->mu. */
static void hist_add(struct dnsd *d, struct zone_delta **deltas, size_t n, uint32_t serial)
{
	/* A zone published again at the serial the history ends at is the same zone (same
	 * log, same day): the history still leads to it. */
	int same = d->nhist && d->hist[d->nhist - 1]->d->to == serial;

	if ((n == 0 && !same) ||
	    (n && d->nhist && d->hist[d->nhist - 1]->d->to != deltas[0]->from)) {
		for (size_t i = 0; i < d->nhist; i++)
			hist_release(d->hist[i]);
		d->nhist = 0;
	}
	for (size_t i = 0; i < n; i++) {
		struct hist *h = calloc(1, sizeof(*h));

		if (h == NULL) {
			/* A gap: what came before can no longer be chained. */
			for (size_t j = 0; j < d->nhist; j++)
				hist_release(d->hist[j]);
			d->nhist = 0;
			zone_delta_free(deltas[i]);
			continue;
		}
		h->d = deltas[i];
		atomic_init(&h->refs, 1);
		if (d->nhist == DNSD_HISTORY) {
			hist_release(d->hist[0]);
			memmove(d->hist, d->hist + 1, (DNSD_HISTORY - 1) * sizeof(*d->hist));
			d->nhist--;
		}
		d->hist[d->nhist++] = h;
	}
}

static struct snap *snap_get(struct dnsd *d)
{
	struct snap *s;

	pthread_mutex_lock(&d->mu);
	s = d->cur;
	if (s)
		atomic_fetch_add(&s->refs, 1);
	pthread_mutex_unlock(&d->mu);
	return s;
}

void dnsd_publish(struct dnsd *d, struct zone *z, struct ans_zone *az, struct zone_delta **deltas,
		  size_t n)
{
	struct snap *s = calloc(1, sizeof(*s)), *old;

	pthread_mutex_lock(&d->mu);
	hist_add(d, deltas, n, z->serial);
	if (s) {
		s->h = malloc((d->nhist + 1) * sizeof(*s->h));
		s->hd = malloc((d->nhist + 1) * sizeof(*s->hd));
	}
	if (s == NULL || s->h == NULL || s->hd == NULL) {
		/* Keep serving the zone in place; the next publication tries again. */
		pthread_mutex_unlock(&d->mu);
		if (s) {
			free(s->h);
			free(s->hd);
			free(s);
		}
		ans_zone_free(az);
		zone_free(z);
		return;
	}
	for (size_t i = 0; i < d->nhist; i++) {
		atomic_fetch_add(&d->hist[i]->refs, 1);
		s->h[s->nh] = d->hist[i];
		s->hd[s->nh++] = d->hist[i]->d;
	}
	s->z = z;
	s->az = az;
	ans_zone_history(az, s->hd, s->nh);
	atomic_init(&s->refs, 1);
	old = d->cur;
	d->cur = s;
	atomic_fetch_add_explicit(&d->gen, 1, memory_order_release);
	for (int i = 0; i < d->nnt; i++)
		if (old == NULL || old->z->serial != z->serial) {
			d->nt[i].serial = z->serial;
			d->nt[i].tries = 0;
			d->nt[i].next_ms = 0;
		}
	pthread_mutex_unlock(&d->mu);
	snap_release(old);
}

/* An answer without a zone to answer from. */
static size_t servfail(const uint8_t *q, size_t len, uint8_t *out)
{
	if (len < 12 || (q[2] & 0x80))
		return 0;
	memset(out, 0, 12);
	memcpy(out, q, 2);
	out[2] = (uint8_t)(0x80 | (q[2] & 0x79));
	out[3] = 2;
	return 12;
}

/* The header of an answer with rcode, and the question when it ends at qend. */
static size_t rcode_answer(const uint8_t *q, size_t len, uint8_t *out, int rcode, size_t qend)
{
	size_t n = servfail(q, len, out);

	if (n == 0)
		return 0;
	out[3] = (uint8_t)rcode;
	if (qend > 12 && qend <= len) {
		memcpy(out + 12, q + 12, qend - 12);
		dns_put16(out + 4, 1);
		n = qend;
	}
	return n;
}

/* A query ans_answer found malformed may be a signed one (its TSIG is one more record in
 * the additional section): checked here, off the path of every other query. The answer
 * to a verified query is the answer to it without its TSIG, signed; a failed check gets
 * NOTAUTH with the TSIG error (RFC 8945 §5.2). Otherwise n, the FORMERR, stands. */
static size_t answer_signed(struct dnsd *d, struct snap *s, int tcp, const uint8_t *q, size_t len,
			    uint8_t *out, size_t cap, size_t n)
{
	struct ans_query aq = {.tcp = tcp, .udp_max = ANS_UDP_DEFAULT};
	struct tsig_ctx ctx;
	uint8_t req[ANS_MSG_MAX];
	uint64_t now = (uint64_t)time(NULL);
	size_t olen = 0, room;
	int r = tsig_verify_query(d->keys, d->nkeys, q, len, now, &ctx);

	if (r == TSIG_NONE || r == CC_EINVAL)
		return n;
	if (r < 0)
		return tsig_error_answer(&ctx, q, len, out, &olen, cap, now) == 0 ? olen : n;
	room = tsig_space(&ctx);
	if (cap < room + ANS_UDP_MIN || ctx.unsigned_len > sizeof(req))
		return n;
	memcpy(req, q, ctx.unsigned_len);
	dns_put16(req + 10, (uint16_t)(dns_get16(req + 10) - 1));
	aq.reserve = room;
	olen = s ? ans_answer(s->az, &aq, req, ctx.unsigned_len, out, cap)
		 : servfail(req, ctx.unsigned_len, out);
	if (olen == 0 || tsig_sign(&ctx, out, &olen, cap, now) < 0)
		return 0;
	return olen;
}

/* *pure: the answer is the zone's to these bytes whatever the id, and would be the same
 * again: not one about TSIG (which depends on the time), not a SERVFAIL for want of a zone. */
static size_t answer(struct dnsd *d, struct snap *s, int tcp, const uint8_t *q, size_t len,
		     uint8_t *out, size_t cap, int *pure)
{
	struct ans_query aq = {.tcp = tcp, .udp_max = ANS_UDP_DEFAULT};
	size_t n = s ? ans_answer(s->az, &aq, q, len, out, cap) : servfail(q, len, out);

	*pure = s != NULL;
	/* The IXFR over UDP (the root's question, type 251) is answered with a SOA before any
	 * look at its additional section, which may hold a TSIG too. */
	if (dns_get16(q + 10) > 0 && ((n >= 12 && (out[3] & 15) == ANS_FORMERR) ||
				      (n >= 15 && out[12] == 0 && dns_get16(out + 13) == 251))) {
		*pure = 0;
		n = answer_signed(d, s, tcp, q, len, out, cap, n);
	}
	return n;
}

/* A UDP query: from the worker's cache when it was asked before, else answered and kept
 * when it is worth it (data or NXDOMAIN: errors are cheap to answer again). */
static size_t udp_answer(struct udp_worker *w, struct snap *s, const uint8_t *q, size_t len,
			 uint8_t *out, size_t cap, struct batch_count *b)
{
	size_t n = w->pc && s ? pcache_get(w->pc, q, len, out, cap) : 0;
	int pure, rc;

	if (n > 0) {
		b->cached++;
		return n;
	}
	n = answer(w->d, s, 0, q, len, out, cap, &pure);
	rc = n >= 12 ? out[3] & 15 : -1;
	if (w->pc && pure && (rc == ANS_NOERROR || rc == ANS_NXDOMAIN))
		pcache_put(w->pc, q, len, out, n);
	return n;
}

static int64_t now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* ---- counters ---- */

static void count_answer(struct batch_count *b, const uint8_t *a, size_t n)
{
	unsigned rc;

	b->answers++;
	if (n < 12)
		return;
	rc = a[3] & 15;
	/* An OPT record last (not so when a TSIG follows) holds the RCODE's upper bits:
	 * BADVERS is 16, not NOERROR. */
	if (n >= 23 && a[n - 11] == 0 && dns_get16(a + n - 10) == DNS_OPT)
		rc |= (unsigned)a[n - 6] << 4;
	b->truncated += (a[2] & 0x02) != 0;
	b->rcode[rc < DNSD_RCODES - 1 ? rc : DNSD_RCODES - 1]++;
}

static void count_add(atomic_uint_fast64_t *c, uint64_t v)
{
	if (v)
		atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + v,
				      memory_order_relaxed);
}

static void count_flush(struct dnsd_count *c, struct batch_count *b)
{
	count_add(&c->queries, b->queries);
	count_add(&c->answers, b->answers);
	count_add(&c->cached, b->cached);
	count_add(&c->truncated, b->truncated);
	count_add(&c->transfers, b->transfers);
	for (int i = 0; i < DNSD_RCODES; i++)
		count_add(&c->rcode[i], b->rcode[i]);
	memset(b, 0, sizeof(*b));
}

static uint64_t count_get(const atomic_uint_fast64_t *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

static void count_sum(struct dnsd_stats *s, const struct dnsd_count *c, int tcp)
{
	if (tcp) {
		s->tcp_queries += count_get(&c->queries);
		s->tcp_answers += count_get(&c->answers);
		s->transfers += count_get(&c->transfers);
	} else {
		s->udp_queries += count_get(&c->queries);
		s->udp_answers += count_get(&c->answers);
		s->udp_cached += count_get(&c->cached);
		s->udp_truncated += count_get(&c->truncated);
	}
	for (int i = 0; i < DNSD_RCODES; i++)
		s->rcode[i] += count_get(&c->rcode[i]);
}

void dnsd_stats(struct dnsd *d, struct dnsd_stats *s)
{
	memset(s, 0, sizeof(*s));
	s->workers = d->nw;
	s->cache = d->cache;
	for (int i = 0; i < d->nw; i++)
		count_sum(s, &d->w[i].cnt, 0);
	count_sum(s, &d->tcp_cnt, 1);
	pthread_mutex_lock(&d->mu);
	if (d->cur) {
		s->serving = 1;
		s->serial = d->cur->z->serial;
	}
	pthread_mutex_unlock(&d->mu);
}

/* ---- UDP ---- */

static void *udp_main(void *arg)
{
	struct udp_worker *w = arg;
	uint8_t(*in)[DNSD_QUERY] = w->b->in, (*out)[ANS_UDP_DEFAULT] = w->b->out;
	struct mmsghdr rm[DNSD_BATCH], sm[DNSD_BATCH];
	struct iovec riov[DNSD_BATCH], siov[DNSD_BATCH];
	struct sockaddr_storage from[DNSD_BATCH];

	for (int i = 0; i < DNSD_BATCH; i++) {
		riov[i].iov_base = in[i];
		riov[i].iov_len = sizeof(in[i]);
		memset(&rm[i], 0, sizeof(rm[i]));
		rm[i].msg_hdr.msg_iov = &riov[i];
		rm[i].msg_hdr.msg_iovlen = 1;
		rm[i].msg_hdr.msg_name = &from[i];
		rm[i].msg_hdr.msg_namelen = sizeof(from[i]);
	}
	struct snap *s = NULL;
	struct batch_count bc = {0};
	unsigned gen = 0;

	while (!atomic_load(&w->d->stop)) {
		unsigned g;
		int n, k = 0;

		/* Blocks until a query comes (or the socket's receive timeout, to look at the
		 * stop flag), then takes what else is there: two system calls a batch. */
		n = recvmmsg(w->fd, rm, DNSD_BATCH, MSG_WAITFORONE, NULL);
		/* The worker keeps its snapshot until a new one is published: no lock here. An
		 * idle one lets go of an old zone at its next timeout. */
		g = atomic_load_explicit(&w->d->gen, memory_order_acquire);
		if (g != gen) {
			snap_release(s);
			s = NULL;
			gen = g;
			/* Its answers came from the zone let go of. */
			if (w->pc)
				pcache_clear(w->pc);
		}
		if (n <= 0)
			continue;
		if (s == NULL)
			s = snap_get(w->d);
		for (int i = 0; i < n; i++) {
			size_t len =
			    udp_answer(w, s, in[i], rm[i].msg_len, out[k], sizeof(out[k]), &bc);

			if (len == 0)
				continue;
			count_answer(&bc, out[k], len);
			siov[k].iov_base = out[k];
			siov[k].iov_len = len;
			memset(&sm[k], 0, sizeof(sm[k]));
			sm[k].msg_hdr.msg_iov = &siov[k];
			sm[k].msg_hdr.msg_iovlen = 1;
			sm[k].msg_hdr.msg_name = &from[i];
			sm[k].msg_hdr.msg_namelen = rm[i].msg_hdr.msg_namelen;
			k++;
		}
		for (int i = 0; i < n; i++)
			rm[i].msg_hdr.msg_namelen = sizeof(from[i]);
		/* Counted before they are sent: a client that has its answer finds it counted. */
		bc.queries += (uint64_t)n;
		count_flush(&w->cnt, &bc);
		/* A full socket buffer drops answers, as UDP may; the client asks again. */
		for (int sent = 0; sent < k;) {
			int r = sendmmsg(w->fd, sm + sent, (unsigned)(k - sent), 0);

			if (r <= 0)
				break;
			sent += r;
		}
	}
	snap_release(s);
	return NULL;
}

/* ---- TCP ---- */

static void conn_close(struct tcp_conn *c)
{
	close(c->fd);
	snap_release(c->xfr);
	free(c->in);
	free(c->out);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

/* Sends what is pending; 0 when done or waiting for room, -1 when the connection is gone. */
static int conn_flush(struct tcp_conn *c)
{
	while (c->outoff < c->outlen) {
		ssize_t k = send(c->fd, c->out + c->outoff, c->outlen - c->outoff, MSG_NOSIGNAL);

		if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (k <= 0)
			return -1;
		c->outoff += (size_t)k;
		c->last_ms = now_ms();
	}
	c->outlen = c->outoff = 0;
	return 0;
}

/* Reads until a whole query is in; 1 then, 0 when more must come, -1 to close. */
static int conn_fill(struct tcp_conn *c)
{
	for (;;) {
		size_t need = c->inlen < 2 ? 2 : 2 + (size_t)dns_get16(c->in);
		ssize_t k;

		if (c->inlen >= 2 && c->inlen == need)
			return 1;
		k = recv(c->fd, c->in + c->inlen, need - c->inlen, 0);
		if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (k <= 0)
			return -1;
		c->inlen += (size_t)k;
		c->last_ms = now_ms();
		if (c->inlen == 2 && dns_get16(c->in) < 12)
			return -1; /* shorter than a header: nothing to answer */
	}
}

/* One line on stderr per transfer, as concordd logs (one write, so threads do not mix). */
static void xfr_log(const struct tcp_conn *c, int refused)
{
	struct sockaddr_storage sa;
	socklen_t salen = sizeof(sa);
	char host[INET6_ADDRSTRLEN] = "?";
	const uint8_t *q = c->in + 2;
	size_t qlen = c->inlen - 2, versions, qn;
	int ixfr, kind = ans_xfr_kind(c->xfr->az, q, qlen, &versions);

	if (getpeername(c->fd, (struct sockaddr *)&sa, &salen) == 0)
		inet_ntop(sa.ss_family,
			  sa.ss_family == AF_INET6
			      ? (const void *)&((struct sockaddr_in6 *)&sa)->sin6_addr
			      : (const void *)&((struct sockaddr_in *)&sa)->sin_addr,
			  host, sizeof(host));
	qn = 12 + 1; /* the root's question: the type follows the name */
	ixfr = qlen >= qn + 2 && dns_get16(q + qn) == 251;
	if (refused)
		fprintf(stderr, "concordd: %s to %s refused (TSIG or transfer rules)\n",
			ixfr ? "IXFR" : "AXFR", host);
	else if (kind == ANS_XFR_DELTAS)
		fprintf(stderr, "concordd: IXFR to %s: %zu version%s up to serial %u\n", host,
			versions, versions == 1 ? "" : "s", c->xfr->z->serial);
	else if (kind == ANS_XFR_CURRENT)
		fprintf(stderr, "concordd: IXFR to %s: up to date at serial %u\n", host,
			c->xfr->z->serial);
	else
		fprintf(stderr, "concordd: %s to %s: the whole zone at serial %u\n",
			ixfr ? "IXFR" : "AXFR", host, c->xfr->z->serial);
}

static int prefix_match(const struct xfr_rule *r, const struct sockaddr_storage *sa)
{
	const uint8_t *a = sa->ss_family == AF_INET6
			       ? ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr
			       : (const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr;
	unsigned full = r->bits / 8, rest = r->bits % 8;

	if (sa->ss_family != r->family || memcmp(a, r->net, full) != 0)
		return 0;
	return rest == 0 || ((a[full] ^ r->net[full]) & (0xff00 >> rest) & 0xff) == 0;
}

/* Whether a transfer from sa, signed with key (NULL: unsigned), is allowed: by a rule for
 * its address that needs no key or that key; by default, without rules, to anyone. */
static int xfr_allowed(const struct dnsd *d, const struct sockaddr_storage *sa,
		       const struct tsig_key *key)
{
	if (d->nrules == 0)
		return 1;
	for (size_t i = 0; i < d->nrules; i++)
		if (prefix_match(&d->rules[i], sa) &&
		    (d->rules[i].key < 0 || key == &d->keys[d->rules[i].key]))
			return 1;
	return 0;
}

/* Checks a transfer's TSIG and the rules: 0 to go on with it, the length of the answer that
 * refuses it (written to c->out + 2), or SIZE_MAX to close the connection. */
static size_t xfr_admit(struct dnsd *d, struct tcp_conn *c)
{
	const uint8_t *q = c->in + 2;
	size_t qlen = c->inlen - 2, n = 0, qend = 12 + 1 + 4; /* ans_is_xfr: the root's question */
	struct sockaddr_storage sa;
	socklen_t salen = sizeof(sa);
	uint64_t now = (uint64_t)time(NULL);
	int r = tsig_verify_query(d->keys, d->nkeys, q, qlen, now, &c->tsig);

	c->xfr_signed = r == 0;
	if (r == CC_EINVAL)
		return rcode_answer(q, qlen, c->out + 2, ANS_FORMERR, qend);
	if (r < 0)
		return tsig_error_answer(&c->tsig, q, qlen, c->out + 2, &n, 65535, now) == 0
			   ? n
			   : rcode_answer(q, qlen, c->out + 2, ANS_SERVFAIL, qend);
	if (getpeername(c->fd, (struct sockaddr *)&sa, &salen) == 0 &&
	    xfr_allowed(d, &sa, c->xfr_signed ? c->tsig.key : NULL))
		return 0;
	n = rcode_answer(q, qlen, c->out + 2, ANS_REFUSED, qend);
	/* Refused it stays: unsigned if it cannot be signed, the connection closed if there
	 * is no answer at all. */
	if (n > 0 && c->xfr_signed) {
		size_t signed_len = n;

		if (tsig_sign(&c->tsig, c->out + 2, &signed_len, 65535, now) == 0)
			n = signed_len;
	}
	return n > 0 ? n : SIZE_MAX;
}

/* Moves the connection on as far as it can: sends, transfers, reads and answers queries
 * one after the other. 0 to wait for the socket, -1 to close. */
static int conn_work(struct dnsd *d, struct tcp_conn *c)
{
	struct batch_count bc = {0};

	for (;;) {
		size_t len;
		int r;

		if (c->outlen > 0) {
			if (conn_flush(c) < 0)
				return -1;
			if (c->outlen > 0)
				return 0;
		}
		if (c->xfr) {
			len = ans_xfr_next(c->xfr->az, c->in + 2, c->inlen - 2, &c->xfr_pos,
					   c->out + 2,
					   65535 - (c->xfr_signed ? tsig_space(&c->tsig) : 0));
			if (len > 0 && c->xfr_signed &&
			    tsig_sign(&c->tsig, c->out + 2, &len, 65535, (uint64_t)time(NULL)) < 0)
				return -1;
			if (len == 0) {
				snap_release(c->xfr);
				c->xfr = NULL;
				c->inlen = 0;
				continue;
			}
		} else {
			struct snap *s;
			int pure;

			if ((r = conn_fill(c)) <= 0)
				return r;
			bc.queries = 1;
			if (ans_is_xfr(c->in + 2, c->inlen - 2) && (c->xfr = snap_get(d)) != NULL) {
				len = xfr_admit(d, c);
				xfr_log(c, len > 0);
				if (len == 0)
					bc.transfers = 1;
				else if (len != SIZE_MAX)
					count_answer(&bc, c->out + 2, len);
				count_flush(&d->tcp_cnt, &bc);
				if (len == SIZE_MAX)
					return -1;
				c->xfr_pos = 0;
				if (len == 0)
					continue;
				snap_release(c->xfr);
				c->xfr = NULL;
				c->inlen = 0;
				dns_put16(c->out, (uint16_t)len);
				c->outlen = len + 2;
				c->outoff = 0;
				continue;
			}
			s = snap_get(d);
			len = answer(d, s, 1, c->in + 2, c->inlen - 2, c->out + 2, 65535, &pure);
			snap_release(s);
			if (len > 0)
				count_answer(&bc, c->out + 2, len);
			count_flush(&d->tcp_cnt, &bc);
			c->inlen = 0;
			if (len == 0)
				return -1;
		}
		dns_put16(c->out, (uint16_t)len);
		c->outlen = len + 2;
		c->outoff = 0;
	}
}

static void *tcp_main(void *arg)
{
	struct dnsd *d = arg;
	struct tcp_conn conns[DNSD_TCP_MAX];
	struct pollfd p[DNSD_TCP_MAX + 1];
	int map[DNSD_TCP_MAX + 1];

	for (int i = 0; i < DNSD_TCP_MAX; i++)
		conns[i].fd = -1;
	while (!atomic_load(&d->stop)) {
		int np = 0, open = 0;
		int64_t t = now_ms();

		for (int i = 0; i < DNSD_TCP_MAX; i++) {
			if (conns[i].fd < 0)
				continue;
			if (t - conns[i].last_ms > DNSD_TCP_IDLE_MS) {
				conn_close(&conns[i]);
				continue;
			}
			open++;
			p[np].fd = conns[i].fd;
			p[np].events = conns[i].outlen ? POLLOUT : POLLIN;
			map[np++] = i;
		}
		if (open < DNSD_TCP_MAX) {
			p[np].fd = d->tcp_fd;
			p[np].events = POLLIN;
			map[np++] = -1;
		}
		if (poll(p, (nfds_t)np, DNSD_POLL_MS) <= 0)
			continue;
		for (int k = 0; k < np; k++) {
			struct tcp_conn *c;

			if (!p[k].revents)
				continue;
			if (map[k] < 0) {
				int fd =
				    accept4(d->tcp_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
				int slot = -1;

				for (int i = 0; fd >= 0 && i < DNSD_TCP_MAX && slot < 0; i++)
					if (conns[i].fd < 0)
						slot = i;
				if (fd < 0)
					continue;
				c = slot >= 0 ? &conns[slot] : NULL;
				if (c == NULL || (c->in = malloc(2 + 65535)) == NULL ||
				    (c->out = malloc(2 + 65535)) == NULL) {
					if (c) {
						free(c->in);
						c->in = NULL;
					}
					close(fd);
					continue;
				}
				c->fd = fd;
				c->xfr = NULL;
				c->inlen = c->outlen = c->outoff = 0;
				c->last_ms = now_ms();
				continue;
			}
			c = &conns[map[k]];
			if ((p[k].revents & (POLLERR | POLLHUP | POLLNVAL)) &&
			    !(p[k].revents & POLLIN)) {
				conn_close(c);
				continue;
			}
			if (conn_work(d, c) < 0)
				conn_close(c);
		}
	}
	for (int i = 0; i < DNSD_TCP_MAX; i++)
		if (conns[i].fd >= 0)
			conn_close(&conns[i]);
	return NULL;
}

/* ---- NOTIFY ---- */

static void *notify_main(void *arg)
{
	struct dnsd *d = arg;
	uint8_t msg[512], in[512];
	struct pollfd p = {d->notify_fd, POLLIN, 0};

	while (!atomic_load(&d->stop)) {
		int64_t t = now_ms();

		pthread_mutex_lock(&d->mu);
		for (int i = 0; i < d->nnt; i++) {
			struct notify_target *n = &d->nt[i];
			size_t len;

			if (n->serial == 0 || n->next_ms > t)
				continue;
			if (n->tries == 6) {
				n->serial = 0; /* it will hear of the next change */
				continue;
			}
			/* NOTIFY, AA, question . SOA IN, the new SOA serial as a hint (RFC 1996
			 * §3.7) left out: secondaries ask for the SOA themselves. */
			randombytes_buf(&n->id, sizeof(n->id));
			memset(msg, 0, 12);
			dns_put16(msg, n->id);
			msg[2] = (uint8_t)(4 << 3 | 0x04);
			dns_put16(msg + 4, 1);
			msg[12] = 0;
			dns_put16(msg + 13, DNS_SOA);
			dns_put16(msg + 15, DNS_CLASS_IN);
			len = 17;
			if (n->key >= 0 && tsig_sign_request(&n->tsig, &d->keys[n->key], msg, &len,
							     sizeof(msg), (uint64_t)time(NULL)) < 0)
				len = 0;
			if (len)
				sendto(d->notify_fd, msg, len, 0, (struct sockaddr *)&n->sa,
				       n->salen);
			n->next_ms = t + (1000LL << n->tries);
			n->tries++;
		}
		pthread_mutex_unlock(&d->mu);
		if (poll(&p, 1, DNSD_POLL_MS) <= 0)
			continue;
		for (;;) {
			ssize_t k = recv(d->notify_fd, in, sizeof(in), MSG_DONTWAIT);

			if (k < 12)
				break;
			/* The answer to a NOTIFY: QR, opcode 4, an id in flight. */
			if ((in[2] & 0x80) == 0 || ((in[2] >> 3) & 15) != 4)
				continue;
			pthread_mutex_lock(&d->mu);
			for (int i = 0; i < d->nnt; i++) {
				struct notify_target *n = &d->nt[i];

				/* Signed NOTIFYs count as heard only by a signed answer. */
				if (n->serial && n->id == dns_get16(in) &&
				    (n->key < 0 || tsig_verify_answer(&n->tsig, in, (size_t)k,
								      (uint64_t)time(NULL)) == 0))
					n->serial = 0;
			}
			pthread_mutex_unlock(&d->mu);
		}
	}
	return NULL;
}

static int key_index(const struct dnsd *d, const char *name)
{
	char text[DNS_NAME_TEXT_MAX + 2];
	uint8_t w[DNS_NAME_MAX];
	size_t n = strlen(name);

	/* The final dot is optional, as in key files. */
	if (n == 0 || n >= DNS_NAME_TEXT_MAX)
		return -1;
	snprintf(text, sizeof(text), "%s%s", name, name[n - 1] == '.' ? "" : ".");
	if (dns_name_from_text(w, text) < 0)
		return -1;
	for (size_t i = 0; i < d->nkeys; i++)
		if (dns_name_cmp(d->keys[i].name, w) == 0)
			return (int)i;
	return -1;
}

int dnsd_keys_load(struct dnsd *d, const char *text, size_t len, struct cc_err *e)
{
	size_t n = 0;
	int ret;

	if (d->nkeys)
		return cc_fail(e, CC_EEXIST, "TSIG keys are loaded already");
	ret = tsig_keys_parse(text, len, d->keys, DNSD_KEYS_MAX, &n, e);
	if (ret == 0 && n == 0)
		ret = cc_fail(e, CC_EINVAL, "no key in it");
	if (ret == 0)
		d->nkeys = n;
	return ret;
}

int dnsd_xfr_allow(struct dnsd *d, const char *rule, struct cc_err *e)
{
	char addr[INET6_ADDRSTRLEN + 8];
	const char *comma = strchr(rule, ','), *slash;
	size_t alen = comma ? (size_t)(comma - rule) : strlen(rule);
	struct xfr_rule r = {.key = -1};
	unsigned long bits;
	char *end;

	if (d->nrules == DNSD_RULES_MAX)
		return cc_fail(e, CC_ETOOBIG, "more than %d transfer rules", DNSD_RULES_MAX);
	if (alen == 0 || alen >= sizeof(addr))
		return cc_fail(e, CC_EINVAL, "--xfr-allow %s: expected PREFIX[,KEY]", rule);
	memcpy(addr, rule, alen);
	addr[alen] = '\0';
	slash = strchr(addr, '/');
	if (slash)
		addr[slash - addr] = '\0';
	r.family = strchr(addr, ':') ? AF_INET6 : AF_INET;
	if (inet_pton(r.family, addr, r.net) != 1)
		return cc_fail(e, CC_EINVAL, "--xfr-allow %s: %s is not an address", rule, addr);
	bits = r.family == AF_INET6 ? 128 : 32;
	if (slash) {
		unsigned long max = bits;

		bits = strtoul(slash + 1, &end, 10);
		if (slash[1] == '\0' || *end != '\0' || bits > max)
			return cc_fail(e, CC_EINVAL, "--xfr-allow %s: bad prefix length", rule);
	}
	r.bits = (unsigned)bits;
	if (comma && (r.key = key_index(d, comma + 1)) < 0)
		return cc_fail(e, CC_ENOENT, "--xfr-allow %s: no TSIG key %s (--tsig-keys)", rule,
			       comma + 1);
	d->rules[d->nrules++] = r;
	return 0;
}

int dnsd_notify_add(struct dnsd *d, const char *target, struct cc_err *e)
{
	struct addrinfo hints = {0}, *ai = NULL;
	char host[CONF_ADDR_MAX], portstr[8], addr[CONF_ADDR_MAX + 8];
	const char *comma = strrchr(target, ',');
	unsigned port;
	int key = -1, ret;

	if (strlen(target) >= sizeof(addr))
		return cc_fail(e, CC_EINVAL, "--notify %s: too long", target);
	snprintf(addr, sizeof(addr), "%.*s",
		 (int)(comma ? (size_t)(comma - target) : strlen(target)), target);
	if (comma && (key = key_index(d, comma + 1)) < 0)
		return cc_fail(e, CC_ENOENT, "--notify %s: no TSIG key %s (--tsig-keys)", target,
			       comma + 1);
	ret = conf_split_addr(addr, host, &port, e);
	if (ret < 0)
		return ret;
	if (d->nnt == DNSD_NOTIFY_MAX)
		return cc_fail(e, CC_ETOOBIG, "more than %d secondaries to notify",
			       DNSD_NOTIFY_MAX);
	snprintf(portstr, sizeof(portstr), "%u", port ? port : 53);
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
	hints.ai_socktype = SOCK_DGRAM;
	if (getaddrinfo(host, portstr, &hints, &ai) != 0 || ai->ai_addrlen > sizeof(d->nt[0].sa)) {
		if (ai)
			freeaddrinfo(ai);
		return cc_fail(e, CC_EINVAL, "--notify %s: not an address and port", addr);
	}
	if (ai->ai_family != d->sa.ss_family) {
		freeaddrinfo(ai);
		return cc_fail(e, CC_EINVAL, "--notify %s: not the address family of --dns", addr);
	}
	pthread_mutex_lock(&d->mu);
	memcpy(&d->nt[d->nnt].sa, ai->ai_addr, ai->ai_addrlen);
	d->nt[d->nnt].salen = ai->ai_addrlen;
	d->nt[d->nnt].key = key;
	d->nnt++;
	pthread_mutex_unlock(&d->mu);
	freeaddrinfo(ai);
	if (!d->notify_started) {
		/* From an address of the server's family, any port: secondaries check the
		 * source address against what they allow. */
		d->notify_fd = socket(d->sa.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (d->notify_fd < 0)
			return cc_fail(e, CC_EIO, "NOTIFY socket: %s", strerror(errno));
		if (pthread_create(&d->notify_th, NULL, notify_main, d) != 0) {
			close(d->notify_fd);
			d->notify_fd = -1;
			return cc_fail(e, CC_ENOMEM, "cannot start the NOTIFY thread");
		}
		d->notify_started = 1;
	}
	return 0;
}

/* ---- lifecycle ---- */

static int dnsd_socket(struct dnsd *d, int type, struct cc_err *e)
{
	int fd = socket(d->sa.ss_family,
			type | SOCK_CLOEXEC | (type == SOCK_STREAM ? SOCK_NONBLOCK : 0), 0);
	int one = 1;

	if (fd < 0)
		return cc_fail(e, CC_EIO, "DNS socket: %s", strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* One UDP socket per worker on the same port: the kernel spreads the queries. */
	if (type == SOCK_DGRAM)
		setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	if (d->sa.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	/* Answers are never fragmented (RFC 9715): the DF bit set, ICMP's path MTU ignored
	 * (PROBE: a forged "fragmentation needed" cannot stop answers); they stay under
	 * 1,232 bytes anyway. */
	if (type == SOCK_DGRAM && d->sa.ss_family == AF_INET) {
		int pmtu = IP_PMTUDISC_PROBE;

		setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &pmtu, sizeof(pmtu));
	} else if (type == SOCK_DGRAM) {
		int pmtu = IPV6_PMTUDISC_PROBE;

		setsockopt(fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, &pmtu, sizeof(pmtu));
		setsockopt(fd, IPPROTO_IPV6, IPV6_DONTFRAG, &one, sizeof(one));
	}
	if (bind(fd, (struct sockaddr *)&d->sa, d->salen) < 0 ||
	    (type == SOCK_STREAM && listen(fd, 128) < 0)) {
		int err = errno;

		close(fd);
		return cc_fail(e, CC_EIO, "DNS %s on port %u: %s",
			       type == SOCK_STREAM ? "TCP" : "UDP", d->port, strerror(err));
	}
	return fd;
}

static void set_port(struct dnsd *d, unsigned port)
{
	d->port = port;
	if (d->sa.ss_family == AF_INET)
		((struct sockaddr_in *)&d->sa)->sin_port = htons((uint16_t)port);
	else
		((struct sockaddr_in6 *)&d->sa)->sin6_port = htons((uint16_t)port);
}

/* The worker sockets and the TCP listener on one port. */
static int dnsd_bind(struct dnsd *d, int workers, size_t cache, struct cc_err *e)
{
	for (int i = 0; i < workers; i++) {
		struct timeval tv = {0, DNSD_POLL_MS * 1000};
		int fd = dnsd_socket(d, SOCK_DGRAM, e), buf = DNSD_UDP_BUFFER;

		if (fd < 0)
			return fd;
		/* Bursts wait in a larger buffer than the kernel's default (what NSD asks for,
		 * forced beyond rmem_max when the process may); a refusal leaves the default,
		 * which only drops more under bursts. */
		if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof(buf)) < 0)
			setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
		if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &buf, sizeof(buf)) < 0)
			setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		d->w[d->nw].fd = fd;
		d->w[d->nw].d = d;
		d->w[d->nw].b = malloc(sizeof(struct udp_bufs));
		d->nw++;
		if (d->w[d->nw - 1].b == NULL)
			return cc_fail(e, CC_ENOMEM, "out of memory");
		if (cache > 0) {
			uint8_t seed[PCACHE_SEED_BYTES];
			size_t per = cache / (size_t)workers;

			if (per < DNSD_CACHE_MIN)
				per = DNSD_CACHE_MIN;
			randombytes_buf(seed, sizeof(seed));
			if (pcache_new(per, seed, &d->w[d->nw - 1].pc) < 0)
				return cc_fail(e, CC_ENOMEM, "out of memory");
			d->cache += per;
		}
		if (i == 0 && d->port == 0) {
			/* Port 0: the kernel's choice, then the same for the other sockets. */
			struct sockaddr_storage b;
			socklen_t bl = sizeof(b);

			getsockname(fd, (struct sockaddr *)&b, &bl);
			set_port(d, ntohs(b.ss_family == AF_INET
					      ? ((struct sockaddr_in *)&b)->sin_port
					      : ((struct sockaddr_in6 *)&b)->sin6_port));
		}
	}
	d->tcp_fd = dnsd_socket(d, SOCK_STREAM, e);
	return d->tcp_fd < 0 ? d->tcp_fd : 0;
}

static void dnsd_unbind(struct dnsd *d)
{
	for (int i = 0; i < d->nw; i++) {
		close(d->w[i].fd);
		free(d->w[i].b);
		pcache_free(d->w[i].pc);
		d->w[i].pc = NULL;
	}
	d->nw = 0;
	d->cache = 0;
	if (d->tcp_fd >= 0)
		close(d->tcp_fd);
	d->tcp_fd = -1;
}

int dnsd_start(struct dnsd **out, const char *addr, int workers, size_t cache, struct cc_err *e)
{
	/* Aligned as its counters ask (sizeof is a multiple of the alignment). */
	struct dnsd *d = aligned_alloc(_Alignof(struct dnsd), sizeof(struct dnsd));
	struct addrinfo hints = {0}, *ai = NULL;
	char host[CONF_ADDR_MAX], portstr[8];
	unsigned port;
	int ret = 0;

	*out = NULL;
	if (d == NULL)
		return cc_fail(e, CC_ENOMEM, "out of memory");
	memset(d, 0, sizeof(*d));
	pthread_mutex_init(&d->mu, NULL);
	d->tcp_fd = -1;
	if ((ret = conf_split_addr(addr, host, &port, e)) < 0)
		goto fail;
	snprintf(portstr, sizeof(portstr), "%u", port);
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
	hints.ai_socktype = SOCK_DGRAM;
	if (getaddrinfo(host, portstr, &hints, &ai) != 0 || ai->ai_addrlen > sizeof(d->sa)) {
		ret = cc_fail(e, CC_EINVAL, "--dns %s: not an address and port", addr);
		goto fail;
	}
	memcpy(&d->sa, ai->ai_addr, ai->ai_addrlen);
	d->salen = ai->ai_addrlen;
	d->port = port;
	if (workers <= 0)
		workers = (int)sysconf(_SC_NPROCESSORS_ONLN);
	if (workers < 1)
		workers = 1;
	if (workers > DNSD_WORKERS_MAX)
		workers = DNSD_WORKERS_MAX;
	/* Port 0: the kernel picks a UDP port, which TCP may hold elsewhere; try a few. */
	for (int attempt = 0; attempt < (port == 0 ? 20 : 1); attempt++) {
		ret = dnsd_bind(d, workers, cache, e);
		if (ret == 0 || port != 0)
			break;
		dnsd_unbind(d);
		set_port(d, 0);
	}
	if (ret < 0)
		goto fail;
	for (int i = 0; i < d->nw; i++) {
		if (pthread_create(&d->w[i].th, NULL, udp_main, &d->w[i]) != 0) {
			ret = cc_fail(e, CC_ENOMEM, "cannot start the DNS threads");
			goto fail;
		}
		d->w[i].started = 1;
	}
	if (pthread_create(&d->tcp_th, NULL, tcp_main, d) != 0) {
		ret = cc_fail(e, CC_ENOMEM, "cannot start the DNS threads");
		goto fail;
	}
	d->tcp_started = 1;
	freeaddrinfo(ai);
	*out = d;
	return 0;
fail:
	if (ai)
		freeaddrinfo(ai);
	dnsd_stop(d);
	return ret;
}

unsigned dnsd_port(const struct dnsd *d)
{
	return d->port;
}

void dnsd_stop(struct dnsd *d)
{
	if (d == NULL)
		return;
	atomic_store(&d->stop, 1);
	for (int i = 0; i < d->nw; i++) {
		if (d->w[i].started)
			pthread_join(d->w[i].th, NULL);
		close(d->w[i].fd);
		free(d->w[i].b);
		pcache_free(d->w[i].pc);
	}
	if (d->tcp_started)
		pthread_join(d->tcp_th, NULL);
	if (d->notify_started) {
		pthread_join(d->notify_th, NULL);
		close(d->notify_fd);
	}
	/* Once no thread can sign with them. */
	for (size_t i = 0; i < d->nkeys; i++)
		tsig_key_wipe(&d->keys[i]);
	if (d->tcp_fd >= 0)
		close(d->tcp_fd);
	snap_release(d->cur);
	for (size_t i = 0; i < d->nhist; i++)
		hist_release(d->hist[i]);
	pthread_mutex_destroy(&d->mu);
	free(d);
}
