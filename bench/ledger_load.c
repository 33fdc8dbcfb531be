/* ledger_load: the load generator and the Ed25519 yardstick of `make bench-ledger`.
 *
 *   ledger_load rate  --node HOST:PORT --keys DIR --states FILE [--seconds S] [--ops 1|3|13]
 *   ledger_load run   --node HOST:PORT --keys DIR --states FILE --sigs 1|3
 *                     [--count N] [--seconds S] [--conns C] [--label L] [--progress SEC]
 *
 * Both read the states' keys (DIR/<cc>.key) and their current tld/<cc> records from the
 * node (GET /v1/records/tld/<cc>, untimed).
 *
 * rate: builds the proposal bodies the run would send (one per state with one operation, and
 * one per group of three states with three), signs them, then counts how many
 * crypto_sign_verify_detached calls the machine does per second over those messages with one
 * thread and with two (--seconds each; --ops chooses the bodies, default both). This is the
 * bound a node that checks every signature cannot beat. Prints, per kind of body:
 *
 *   RATE ops=1 msgs=… avg_bytes=… threads1=… threads2=… per_cpu1=… per_cpu2=… build_sign_us=…
 *        cpu=…
 *
 * threadsN: verifications per second of wall time with N threads; per_cpuN: per second of CPU
 * time those threads got (what one core does when nothing else competes for it);
 * build_sign_us: client CPU to build and sign one proposal, per signature; cpu: the process's
 * CPU time so far.
 *
 * run: sends real proposals to concordd over plain HTTP/1.1 on C kept-alive connections (one
 * epoll loop, one request in flight per connection). A unit is one state (--sigs 1: it
 * changes its own ccTLD, signed by itself) or three states (--sigs 3: one proposal puts the
 * three ccTLDs, signed by the three, proposer the first). Each connection owns some units and
 * takes them in turn, so a unit never has two proposals in flight: each proposal names the
 * version its unit's previous one got (the "index" of the 201 answer) and successive changes
 * of a record form a chain. Content: the record as served plus one extra DS record
 * (algorithm 15, digest type 2, digest starting BE4C4B00) that changes every time; an extra
 * DS left by an earlier run is dropped first, so the content stays the same size.
 * It stops sending after N proposals or S seconds, whichever comes first, waits for the
 * answers in flight (bounded), and prints one line:
 *
 *   RESULT label=L sigs=1 sent=… acked=… errors=… seconds=… rate=… p50_ms=… p99_ms=…
 *          client_cpu=… sign_cpu=…
 *
 * rate = acknowledged (201) proposals / seconds from the first request sent to the last 201
 * received.
 *
 * batch: the same proposals, all built and signed before the clock starts (a node's clients
 * sign on their own machines), sent as POST /v1/proposals/batch requests of B notes (default
 * 1000) one after the other on one connection, until N are sent or S seconds have passed. Proposal
 * k belongs to unit k mod U and names as its version the index its unit's previous proposal gets
 * when all are accepted in order (log size at the start + k - U), so the chains hold only if the
 * node appends every one, in the batch's order. Prints the RESULT line (latencies per batch,
 * batch=B, presign_cpu).  Never fails on a figure; exits 1 only when it cannot do its job at all.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <sodium.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/key.h"
#include "core/note.h"
#include "core/proposal.h"

#define MAX_STATES 512
#define MAX_CONNS  1024
#define UNIT_MAX   3
#define DS_MARK	   "BE4C4B00" /* first digest bytes of the bench's own DS records */
#define HARD_EXTRA 60	      /* seconds allowed past --seconds for answers in flight */

struct state {			    /* one member state and its ccTLD */
	char id[MEMBER_ID_MAX + 1]; /* member id = ccTLD label */
	struct key_pair key;	    /* its signing key */
	struct cbuf content;	    /* tld/<id> as served, without the bench's extra DS */
	int64_t version;	    /* current version of tld/<id> as this client knows it */
	uint64_t seq;		    /* changes made so far (varies the extra DS) */
};

struct unit {		  /* states that change together, one proposal at a time */
	int st[UNIT_MAX]; /* indexes into states, ascending ids */
	int n;		  /* 1 or 3 */
};

struct conn {		     /* one kept-alive HTTP connection */
	int fd;		     /* socket, -1 when closed */
	int *units;	     /* units it owns */
	int nunits;	     /* how many */
	int next;	     /* the unit it sends next (round robin) */
	int cur;	     /* unit in flight, -1 when idle */
	struct cbuf out;     /* request being written */
	size_t off;	     /* bytes of out written */
	char *in;	     /* answer being read */
	size_t inlen, incap; /* bytes read, allocated */
	double sent_at;	     /* when the request went out */
};

static struct state states[MAX_STATES];
static int nstates;
static struct unit units[MAX_STATES];
static int nunits;
static char origin[300];
static char host[64] = "127.0.0.1";
static unsigned port;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static double thread_cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void die(const char *fmt, ...)
{
	va_list ap;

	fputs("ledger_load: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

/* ---- plain blocking HTTP for the untimed setup ---- */

static int tcp_connect(void)
{
	struct sockaddr_in sa = {0};
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	if (fd < 0)
		die("socket: %s", strerror(errno));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
		die("bad address %s", host);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("connect %s:%u: %s", host, port, strerror(errno));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

/* GET path with Connection: close; returns the status, body in out. */
static int http_get(const char *path, struct cbuf *out)
{
	struct cbuf req = CBUF_INIT, all = CBUF_INIT;
	char buf[65536];
	int fd = tcp_connect(), status = 0;
	ssize_t k;
	const char *hdr_end;

	cbuf_printf(&req, "GET %s HTTP/1.1\r\nHost: %s:%u\r\nConnection: close\r\n\r\n", path, host,
		    port);
	for (size_t off = 0; off < req.len; off += (size_t)k)
		if ((k = write(fd, req.p + off, req.len - off)) <= 0)
			die("write: %s", strerror(errno));
	while ((k = read(fd, buf, sizeof(buf))) > 0)
		cbuf_put(&all, buf, (size_t)k);
	close(fd);
	if (all.len < 12 || sscanf(all.p, "HTTP/1.%*d %d", &status) != 1)
		die("GET %s: no HTTP answer", path);
	hdr_end = strstr(all.p, "\r\n\r\n");
	if (hdr_end == NULL)
		die("GET %s: truncated answer", path);
	cbuf_reset(out);
	cbuf_put(out, hdr_end + 4, all.len - (size_t)(hdr_end + 4 - all.p));
	cbuf_free(&req);
	cbuf_free(&all);
	return status;
}

static void fetch_origin(void)
{
	struct cbuf b = CBUF_INIT;
	json_error_t je;
	json_t *j;

	if (http_get("/v1/network", &b) != 200)
		die("GET /v1/network failed");
	j = json_loadb(b.p, b.len, 0, &je);
	if (j == NULL || !json_is_string(json_object_get(j, "origin")))
		die("GET /v1/network: no origin");
	snprintf(origin, sizeof(origin), "%s", json_string_value(json_object_get(j, "origin")));
	json_decref(j);
	cbuf_free(&b);
}

/* Reads tld/<id>'s content and version; drops the bench's own extra DS lines. */
static void fetch_record(struct state *s)
{
	struct cbuf b = CBUF_INIT;
	char path[128];
	json_error_t je;
	json_t *j, *c, *v;
	const char *p, *e;

	snprintf(path, sizeof(path), "/v1/records/tld/%s", s->id);
	if (http_get(path, &b) != 200)
		die("GET %s: %s", path, b.p ? b.p : "");
	j = json_loadb(b.p, b.len, 0, &je);
	c = j ? json_object_get(j, "content") : NULL;
	v = j ? json_object_get(j, "version") : NULL;
	if (!json_is_string(c) || !json_is_integer(v))
		die("GET %s: unexpected answer", path);
	cbuf_reset(&s->content);
	for (p = json_string_value(c); *p; p = e) {
		e = strchr(p, '\n');
		e = e ? e + 1 : p + strlen(p);
		if (memmem(p, (size_t)(e - p), " 15 2 " DS_MARK, 14) == NULL)
			cbuf_put(&s->content, p, (size_t)(e - p));
	}
	s->version = json_integer_value(v);
	json_decref(j);
	cbuf_free(&b);
}

/* ---- setup ---- */

static void load_states(const char *keys, const char *file, int group)
{
	FILE *f = fopen(file, "r");
	char line[128];

	if (f == NULL)
		die("%s: %s", file, strerror(errno));
	while (fgets(line, sizeof(line), f) && nstates < MAX_STATES) {
		struct state *s = &states[nstates];
		char kpath[4200];
		struct cbuf kb = CBUF_INIT;
		struct cc_err e = {0};
		FILE *kf;
		size_t k;
		char buf[4096];

		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] == '\0')
			continue;
		snprintf(s->id, sizeof(s->id), "%.32s", line);
		snprintf(kpath, sizeof(kpath), "%s/%s.key", keys, s->id);
		if ((kf = fopen(kpath, "r")) == NULL)
			die("%s: %s", kpath, strerror(errno));
		while ((k = fread(buf, 1, sizeof(buf), kf)) > 0)
			cbuf_put(&kb, buf, k);
		fclose(kf);
		if (key_parse_private(&s->key, kb.p, kb.len, &e) < 0)
			die("%s: %s", kpath, e.msg);
		cbuf_free(&kb);
		nstates++;
	}
	fclose(f);
	if (nstates < group)
		die("%s: not enough states", file);
	fetch_origin();
	for (int i = 0; i < nstates; i++)
		fetch_record(&states[i]);
	nunits = 0;
	for (int i = 0; i + group <= nstates; i += group) {
		units[nunits].n = group;
		for (int j = 0; j < group; j++)
			units[nunits].st[j] = i + j;
		nunits++;
	}
}

/* The content of one put: the record plus the extra DS of change number seq. */
static void make_content(const struct state *s, uint64_t seq, struct cbuf *out)
{
	unsigned char h[32], in[64];
	char hex[65];
	int n;

	n = snprintf((char *)in, sizeof(in), "%s %" PRIu64, s->id, seq);
	crypto_hash_sha256(h, in, (unsigned long long)n);
	memcpy(h, "\xbe\x4c\x4b\x00", 4);
	sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
	cbuf_reset(out);
	cbuf_put(out, s->content.p, s->content.len);
	cbuf_printf(out, "%s. 86400 IN DS %u 15 2 %s\n", s->id, (unsigned)(seq % 65535) + 1, hex);
}

/* Builds, signs and formats the next proposal of unit u into note; body into body when
 * not NULL. */
static void make_proposal(const struct unit *u, int64_t created, struct cbuf *note,
			  struct cbuf *body_out)
{
	struct proposal_op ops[UNIT_MAX];
	struct cbuf contents[UNIT_MAX] = {CBUF_INIT, CBUF_INIT, CBUF_INIT};
	struct cbuf body = CBUF_INIT;
	struct note_sig sigs[UNIT_MAX];

	memset(ops, 0, sizeof(ops));
	for (int i = 0; i < u->n; i++) {
		struct state *s = &states[u->st[i]];

		make_content(s, s->seq, &contents[i]);
		ops[i].kind = OP_PUT;
		snprintf(ops[i].path, sizeof(ops[i].path), "tld/%s", s->id);
		ops[i].version = s->version;
		ops[i].content = contents[i].p;
		ops[i].content_len = contents[i].len;
	}
	if (proposal_format(&body, origin, states[u->st[0]].id, created, created + 3600, ops,
			    (size_t)u->n) < 0)
		die("proposal_format failed");
	for (int i = 0; i < u->n; i++)
		if (note_sign(&states[u->st[i]].key.sign, body.p, body.len, &sigs[i]) < 0)
			die("note_sign failed");
	cbuf_reset(note);
	if (note_format(body.p, body.len, sigs, (size_t)u->n, note) < 0)
		die("note_format failed");
	if (body_out) {
		cbuf_reset(body_out);
		cbuf_put(body_out, body.p, body.len);
	}
	for (int i = 0; i < u->n; i++)
		cbuf_free(&contents[i]);
	cbuf_free(&body);
}

/* ---- rate: crypto_sign_verify_detached per second ---- */

struct vmsg {		       /* one signed message */
	unsigned char *m;      /* bytes */
	size_t len;	       /* length */
	unsigned char sig[64]; /* signature */
	unsigned char pk[32];  /* public key */
};

struct vjob { /* one verifying thread */
	const struct vmsg *msgs;
	size_t nmsgs;
	double seconds;
	atomic_int *go; /* start flag */
	uint64_t count; /* verifications done */
	double elapsed; /* wall time */
	double cpu;	/* the thread's CPU time */
};

static void *vjob_run(void *arg)
{
	struct vjob *j = arg;
	uint64_t n = 0;
	double t0, t, c0;

	while (atomic_load(j->go) == 0)
		;
	t0 = now_s();
	c0 = thread_cpu_s();
	do {
		for (size_t i = 0; i < j->nmsgs; i++) {
			const struct vmsg *v = &j->msgs[(i + n) % j->nmsgs];

			if (crypto_sign_verify_detached(v->sig, v->m, v->len, v->pk) != 0)
				die("a signature does not verify");
		}
		n += j->nmsgs;
		t = now_s();
	} while (t - t0 < j->seconds);
	j->count = n;
	j->elapsed = t - t0;
	j->cpu = thread_cpu_s() - c0;
	return NULL;
}

/* Verifications per second of wall time over threads; *per_cpu: per second of CPU time. */
static double verify_rate(const struct vmsg *msgs, size_t n, int threads, double seconds,
			  double *per_cpu)
{
	struct vjob jobs[8];
	pthread_t th[8];
	atomic_int go;
	double rate = 0, cpu = 0;
	uint64_t total = 0;

	atomic_init(&go, 0);
	for (int i = 0; i < threads; i++) {
		jobs[i] = (struct vjob){.msgs = msgs, .nmsgs = n, .seconds = seconds, .go = &go};
		pthread_create(&th[i], NULL, vjob_run, &jobs[i]);
	}
	atomic_store(&go, 1);
	for (int i = 0; i < threads; i++) {
		pthread_join(th[i], NULL);
		rate += (double)jobs[i].count / jobs[i].elapsed;
		cpu += jobs[i].cpu;
		total += jobs[i].count;
	}
	*per_cpu = cpu > 0 ? (double)total / cpu : 0;
	return rate;
}

static void build_msgs(int group, struct vmsg **out, size_t *nout, double *avg_len)
{
	struct cbuf note = CBUF_INIT, body = CBUF_INIT;
	size_t n = 0, total = 0;
	struct vmsg *v = calloc((size_t)nstates, sizeof(*v));

	/* One message per signer of each unit's next proposal: the very bodies a run sends. */
	for (int i = 0; i + group <= nstates; i += group) {
		struct unit u = {{i, i + 1, i + 2}, group};
		struct note_sig sig;

		make_proposal(&u, (int64_t)time(NULL), &note, &body);
		for (int k = 0; k < group; k++) {
			const struct state *s = &states[i + k];

			note_sign(&s->key.sign, body.p, body.len, &sig);
			v[n].m = malloc(body.len);
			memcpy(v[n].m, body.p, body.len);
			v[n].len = body.len;
			memcpy(v[n].sig, sig.sig, 64);
			memcpy(v[n].pk, s->key.sign.key.pub, 32);
			total += body.len;
			n++;
		}
	}
	cbuf_free(&note);
	cbuf_free(&body);
	*out = v;
	*nout = n;
	*avg_len = n ? (double)total / (double)n : 0;
}

static int cmd_rate(double seconds, const char *ops)
{
	for (int group = 1; group <= 3; group += 2) {
		if (strchr(ops, '0' + group) == NULL)
			continue;
		struct vmsg *msgs;
		size_t n;
		double avg, r1, r2, c1, c2, t0 = now_s(), c0 = thread_cpu_s();
		struct cbuf note = CBUF_INIT;
		int signs = 0;

		/* Signing cost, for the record: the client pays it during the runs. */
		while (now_s() - t0 < 0.5) {
			for (int i = 0; i + group <= nstates; i += group) {
				struct unit u = {{i, i + 1, i + 2}, group};

				make_proposal(&u, (int64_t)time(NULL), &note, NULL);
				signs += group;
			}
		}
		double sign_us = (thread_cpu_s() - c0) / signs * 1e6;

		cbuf_free(&note);
		build_msgs(group, &msgs, &n, &avg);
		r1 = verify_rate(msgs, n, 1, seconds, &c1);
		r2 = verify_rate(msgs, n, 2, seconds, &c2);
		printf("RATE ops=%d msgs=%zu avg_bytes=%.0f threads1=%.0f threads2=%.0f "
		       "per_cpu1=%.0f per_cpu2=%.0f build_sign_us=%.1f cpu=%.2f\n",
		       group, n, avg, r1, r2, c1, c2, sign_us, cpu_s());
		fflush(stdout);
		for (size_t i = 0; i < n; i++)
			free(msgs[i].m);
		free(msgs);
	}
	return 0;
}

/* ---- run: the load ---- */

static struct conn conns[MAX_CONNS];
static int nconns;
static double *lat; /* latency of each 201, seconds */
static size_t nlat, caplat;

static void conn_open(struct conn *c)
{
	c->fd = tcp_connect();
	fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
	c->inlen = 0;
}

/* Parses a complete answer in c->in: returns its length, 0 if incomplete. */
static size_t answer_len(const struct conn *c, int *status, const char **body, size_t *blen,
			 int *close_after)
{
	const char *end, *p;
	size_t hlen, clen = 0;

	if (c->inlen < 4)
		return 0;
	end = memmem(c->in, c->inlen, "\r\n\r\n", 4);
	if (end == NULL)
		return 0;
	hlen = (size_t)(end - c->in) + 4;
	if (sscanf(c->in, "HTTP/1.%*d %d", status) != 1)
		die("not an HTTP answer: %.40s", c->in);
	*close_after = 0;
	for (p = c->in; p && p < end; p = memmem(p, (size_t)(end - p), "\r\n", 2)) {
		p += 2;
		if (strncasecmp(p, "content-length:", 15) == 0)
			clen = strtoul(p + 15, NULL, 10);
		else if (strncasecmp(p, "connection:", 11) == 0 &&
			 strncasecmp(p + 11 + strspn(p + 11, " "), "close", 5) == 0)
			*close_after = 1;
	}
	if (c->inlen < hlen + clen)
		return 0;
	*body = c->in + hlen;
	*blen = clen;
	return hlen + clen;
}

static void conn_want(int ep, struct conn *c, uint32_t ev, int add)
{
	struct epoll_event e = {.events = ev, .data.ptr = c};

	if (epoll_ctl(ep, add ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, c->fd, &e) < 0)
		die("epoll_ctl: %s", strerror(errno));
}

struct run_stats {
	uint64_t sent, acked, errors, other;
	double sign_cpu;
	double first_sent, last_ack;
};

static void conn_send(int ep, struct conn *c, struct run_stats *st)
{
	struct cbuf note = CBUF_INIT;
	double c0 = thread_cpu_s();
	const struct unit *u;

	c->cur = c->units[c->next];
	c->next = (c->next + 1) % c->nunits;
	u = &units[c->cur];
	make_proposal(u, (int64_t)time(NULL), &note, NULL);
	st->sign_cpu += thread_cpu_s() - c0;
	cbuf_reset(&c->out);
	cbuf_printf(&c->out,
		    "POST /v1/proposals HTTP/1.1\r\nHost: %s:%u\r\nContent-Type: text/plain\r\n"
		    "Content-Length: %zu\r\n\r\n",
		    host, port, note.len);
	cbuf_put(&c->out, note.p, note.len);
	cbuf_free(&note);
	c->off = 0;
	c->sent_at = now_s();
	if (st->sent == 0)
		st->first_sent = c->sent_at;
	st->sent++;
	for (;;) {
		ssize_t k = write(c->fd, c->out.p + c->off, c->out.len - c->off);

		if (k > 0) {
			c->off += (size_t)k;
			if (c->off == c->out.len) {
				conn_want(ep, c, EPOLLIN, 0);
				return;
			}
			continue;
		}
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			conn_want(ep, c, EPOLLOUT, 0);
			return;
		}
		die("write: %s", strerror(errno));
	}
}

static void handle_answer(struct conn *c, int status, const char *body, size_t blen,
			  struct run_stats *st)
{
	const struct unit *u = &units[c->cur];
	double t = now_s();

	if (status == 201) {
		const char *p = memmem(body, blen, "\"index\":", 8);
		int64_t idx;

		if (p == NULL || sscanf(p + 8, " %" SCNd64, &idx) != 1)
			die("201 without an index: %.*s", (int)blen, body);
		for (int i = 0; i < u->n; i++) {
			states[u->st[i]].version = idx;
			states[u->st[i]].seq++;
		}
		st->acked++;
		st->last_ack = t;
		if (nlat == caplat) {
			caplat = caplat ? caplat * 2 : 65536;
			lat = realloc(lat, caplat * sizeof(*lat));
		}
		lat[nlat++] = t - c->sent_at;
		return;
	}
	st->errors++;
	if (st->errors <= 5)
		fprintf(stderr, "ledger_load: answer %d: %.*s\n", status,
			(int)(blen > 400 ? 400 : blen), body);
	/* Not expected: re-read the unit's versions so that the chain goes on. */
	for (int i = 0; i < u->n; i++) {
		states[u->st[i]].seq++;
		fetch_record(&states[u->st[i]]);
	}
}

static int dcmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The RESULT line; latencies lat[0..n) are sorted here. */
static void print_result(const char *label, int conns, uint64_t sent, uint64_t acked,
			 uint64_t errors, double secs, double *lat, size_t n, double client_cpu,
			 double sign_cpu, const char *extra)
{
	double p50 = 0, p99 = 0;

	if (n) {
		qsort(lat, n, sizeof(*lat), dcmp);
		p50 = lat[n / 2];
		p99 = lat[(size_t)((double)n * 0.99)];
	}
	printf("RESULT label=%s sigs=%d conns=%d units=%d sent=%" PRIu64 " acked=%" PRIu64
	       " errors=%" PRIu64 " seconds=%.3f rate=%.1f p50_ms=%.1f p99_ms=%.1f "
	       "client_cpu=%.2f sign_cpu=%.2f%s\n",
	       label, units[0].n, conns, nunits, sent, acked, errors, secs,
	       secs > 0 ? (double)acked / secs : 0, p50 * 1e3, p99 * 1e3, client_cpu, sign_cpu,
	       extra);
	fflush(stdout);
}

static int cmd_run(int sigs, uint64_t count, double seconds, int want_conns, const char *label,
		   double progress)
{
	struct run_stats st = {0};
	struct epoll_event evs[256];
	int ep = epoll_create1(0), active;
	double cpu0 = cpu_s(), deadline, hard, next_progress, t0;
	uint64_t last_progress_acked = 0;

	(void)sigs;
	nconns = want_conns < nunits ? want_conns : nunits;
	if (nconns > MAX_CONNS)
		nconns = MAX_CONNS;
	for (int i = 0; i < nconns; i++) {
		conns[i].units = calloc((size_t)nunits, sizeof(int));
		conns[i].cur = -1;
	}
	for (int u = 0; u < nunits; u++) {
		struct conn *c = &conns[u % nconns];

		c->units[c->nunits++] = u;
	}
	for (int i = 0; i < nconns; i++) {
		conn_open(&conns[i]);
		conn_want(ep, &conns[i], EPOLLIN, 1);
	}
	t0 = now_s();
	deadline = t0 + seconds;
	hard = deadline + HARD_EXTRA;
	next_progress = t0 + progress;
	for (int i = 0; i < nconns && st.sent < count; i++)
		conn_send(ep, &conns[i], &st);
	active = 0;
	for (int i = 0; i < nconns; i++)
		active += conns[i].cur >= 0;
	while (active > 0) {
		int n = epoll_wait(ep, evs, 256, 200);
		double t = now_s();

		if (n < 0 && errno != EINTR)
			die("epoll_wait: %s", strerror(errno));
		if (t > hard) {
			fprintf(stderr,
				"ledger_load: %d answers still missing after %d s more; "
				"giving up on them\n",
				active, HARD_EXTRA);
			break;
		}
		if (progress > 0 && t >= next_progress) {
			fprintf(stderr, "progress: %s %" PRIu64 " acknowledged, %.0f/s lately\n",
				label, st.acked,
				(double)(st.acked - last_progress_acked) / progress);
			last_progress_acked = st.acked;
			next_progress += progress;
		}
		for (int i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;

			if (evs[i].events & EPOLLOUT) {
				ssize_t k = write(c->fd, c->out.p + c->off, c->out.len - c->off);

				if (k < 0 && errno != EAGAIN && errno != EINTR)
					die("write: %s", strerror(errno));
				if (k > 0)
					c->off += (size_t)k;
				if (c->off == c->out.len)
					conn_want(ep, c, EPOLLIN, 0);
				continue;
			}
			for (;;) {
				ssize_t k;
				int status, close_after;
				const char *body;
				size_t blen, alen;

				if (c->incap - c->inlen < 65536) {
					c->incap = c->incap ? c->incap * 2 : 131072;
					c->in = realloc(c->in, c->incap);
				}
				k = read(c->fd, c->in + c->inlen, c->incap - c->inlen - 1);
				if (k < 0 && errno == EINTR)
					continue;
				if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
					break;
				if (k <= 0)
					die("connection closed by the node (request in flight: %s)",
					    c->cur >= 0 ? "yes" : "no");
				c->inlen += (size_t)k;
				c->in[c->inlen] = '\0';
				alen = answer_len(c, &status, &body, &blen, &close_after);
				if (alen == 0)
					continue;
				if (c->cur < 0)
					die("an answer nobody asked for");
				handle_answer(c, status, body, blen, &st);
				memmove(c->in, c->in + alen, c->inlen - alen);
				c->inlen -= alen;
				c->cur = -1;
				if (close_after) {
					epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
					close(c->fd);
					conn_open(c);
					conn_want(ep, c, EPOLLIN, 1);
				}
				if (st.sent < count && now_s() < deadline)
					conn_send(ep, c, &st);
				else
					active--;
				break;
			}
		}
	}
	print_result(label, nconns, st.sent, st.acked, st.errors, st.last_ack - st.first_sent, lat,
		     nlat, cpu_s() - cpu0, st.sign_cpu, "");
	return 0;
}

/* ---- batch: pre-signed proposals, POST /v1/proposals/batch ---- */

/* The log size, from the checkpoint's second line. */
static uint64_t fetch_size(void)
{
	struct cbuf b = CBUF_INIT;
	const char *nl;
	uint64_t size;

	if (http_get("/log/checkpoint", &b) != 200 || (nl = memchr(b.p, '\n', b.len)) == NULL ||
	    sscanf(nl + 1, "%" SCNu64, &size) != 1)
		die("GET /log/checkpoint failed");
	cbuf_free(&b);
	return size;
}

/* Writes all of req on fd, reads one answer (Content-Length framed) into body. */
static int http_exchange(int fd, const struct cbuf *req, struct cbuf *in, struct cbuf *body)
{
	size_t off = 0, need = 0, hlen = 0;
	int status = 0;
	ssize_t k;

	while (off < req->len) {
		k = write(fd, req->p + off, req->len - off);
		if (k <= 0)
			die("write: %s", strerror(errno));
		off += (size_t)k;
	}
	cbuf_reset(in);
	for (;;) {
		char buf[65536];
		const char *end;

		if (hlen == 0 && in->len > 0 && (end = memmem(in->p, in->len, "\r\n\r\n", 4))) {
			const char *cl = strcasestr(in->p, "\r\nContent-Length:");

			hlen = (size_t)(end - in->p) + 4;
			if (cl == NULL || cl > end || sscanf(in->p, "HTTP/1.%*d %d", &status) != 1)
				die("an answer without a length");
			need = hlen + strtoull(cl + 17, NULL, 10);
		}
		if (hlen && in->len >= need)
			break;
		k = read(fd, buf, sizeof(buf));
		if (k <= 0)
			die("read: %s", k == 0 ? "connection closed" : strerror(errno));
		cbuf_put(in, buf, (size_t)k);
	}
	cbuf_reset(body);
	cbuf_put(body, in->p + hlen, need - hlen);
	return status;
}

/* CPU seconds of process pid (user + system), from /proc. */
static double proc_cpu(int pid)
{
	char path[64], buf[1024], *p;
	unsigned long ut = 0, st = 0;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* Fields 14 and 15, counted after the command name's closing parenthesis. */
	p = strrchr(buf, ')');
	if (p == NULL ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
		return 0;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* CPU seconds the whole machine has been busy (user, nice, system, irq, softirq, steal). */
static double machine_busy(void)
{
	unsigned long long v[8] = {0};
	FILE *f = fopen("/proc/stat", "r");

	if (f == NULL)
		return 0;
	if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
		   &v[4], &v[5], &v[6], &v[7]) != 8)
		v[0] = v[1] = v[2] = v[5] = v[6] = v[7] = 0;
	fclose(f);
	return (double)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / (double)sysconf(_SC_CLK_TCK);
}

static int cmd_batch(uint64_t count, double seconds, size_t bsize, const char *label, int node_pid)
{
	double n0, m0;
	struct cbuf *notes, req = CBUF_INIT, in = CBUF_INIT, body = CBUF_INIT;
	uint64_t size0 = fetch_size(), acked = 0, errors = 0, sent = 0;
	int64_t created = (int64_t)time(NULL) - 1;
	double c0, sign_cpu, t0, secs, cpu0;
	char extra[128];
	double *blat;
	size_t nb = 0;
	int fd;

	if (count == UINT64_MAX)
		count = 20000;
	notes = calloc(count, sizeof(*notes));
	blat = calloc(count / bsize + 2, sizeof(*blat));
	if (notes == NULL || blat == NULL)
		die("out of memory");
	/* Proposal k is unit k mod U's; if every one is accepted in order, it gets log index
	 * size0 + k, which the unit's next proposal names as the version it replaces. */
	c0 = cpu_s();
	for (uint64_t k = 0; k < count; k++) {
		const struct unit *u = &units[k % (uint64_t)nunits];

		if (k >= (uint64_t)nunits)
			for (int i = 0; i < u->n; i++)
				states[u->st[i]].version = (int64_t)(size0 + k - (uint64_t)nunits);
		make_proposal(u, created, &notes[k], NULL);
		for (int i = 0; i < u->n; i++)
			states[u->st[i]].seq++;
	}
	sign_cpu = cpu_s() - c0;
	fd = tcp_connect();
	n0 = node_pid ? proc_cpu(node_pid) : 0;
	m0 = machine_busy();
	cpu0 = cpu_s();
	t0 = now_s();
	for (uint64_t k = 0; k < count && now_s() - t0 < seconds; k += bsize) {
		uint64_t end = k + bsize < count ? k + bsize : count;
		struct cbuf framed = CBUF_INIT;
		double b0 = now_s();
		int status;

		for (uint64_t i = k; i < end; i++)
			note_batch_append(notes[i].p, notes[i].len, &framed);
		sent += end - k;
		cbuf_reset(&req);
		cbuf_printf(&req,
			    "POST /v1/proposals/batch HTTP/1.1\r\nHost: %s:%u\r\n"
			    "Content-Type: application/vnd.concord.note-batch\r\n"
			    "Content-Length: %zu\r\n\r\n",
			    host, port, framed.len);
		cbuf_put(&req, framed.p, framed.len);
		cbuf_free(&framed);
		status = http_exchange(fd, &req, &in, &body);
		blat[nb++] = now_s() - b0;
		if (status != 200)
			die("batch answer %d: %.*s", status, (int)(body.len > 400 ? 400 : body.len),
			    body.p);
		for (const char *p = body.p;
		     (p = memmem(p, body.len - (size_t)(p - body.p), "\"accepted\"", 10)) != NULL;
		     p += 10)
			acked++;
		for (const char *p = body.p;
		     (p = memmem(p, body.len - (size_t)(p - body.p), "\"error\"", 7)) != NULL;
		     p += 7) {
			if (++errors <= 3)
				fprintf(stderr, "ledger_load: %.300s\n", p);
		}
	}
	secs = now_s() - t0;
	n0 = node_pid ? proc_cpu(node_pid) - n0 : 0;
	m0 = machine_busy() - m0;
	close(fd);
	snprintf(extra, sizeof(extra), " batch=%zu presign_cpu=%.2f node_cpu=%.2f busy=%.2f", bsize,
		 sign_cpu, n0, m0);
	print_result(label, 1, sent, acked, errors, secs, blat, nb, cpu_s() - cpu0, 0.0, extra);
	for (uint64_t k = 0; k < count; k++)
		cbuf_free(&notes[k]);
	free(notes);
	free(blat);
	cbuf_free(&req);
	cbuf_free(&in);
	cbuf_free(&body);
	return 0;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: ledger_load rate --node HOST:PORT --keys DIR --states FILE [--seconds S]\n"
		"                        [--ops 1|3|13]\n"
		"       ledger_load run  --node HOST:PORT --keys DIR --states FILE --sigs 1|3\n"
		"                        [--count N] [--seconds S] [--conns C] [--label L]\n"
		"                        [--progress SEC]\n"
		"       ledger_load batch --node HOST:PORT --keys DIR --states FILE --sigs 1|3\n"
		"                        [--count N] [--seconds S] [--batch B] [--label L]\n"
		"                        [--node-pid PID]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *keys = NULL, *statefile = NULL, *label = "run", *node = NULL, *ops = "13";
	int sigs = 1, want_conns = 256, bsize = 1000, node_pid = 0;
	uint64_t count = UINT64_MAX;
	double seconds = 20, progress = 0;

	if (argc < 2)
		usage();
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (v == NULL)
			usage();
		if (strcmp(a, "--node") == 0)
			node = v;
		else if (strcmp(a, "--keys") == 0)
			keys = v;
		else if (strcmp(a, "--states") == 0)
			statefile = v;
		else if (strcmp(a, "--sigs") == 0)
			sigs = atoi(v);
		else if (strcmp(a, "--count") == 0)
			count = strtoull(v, NULL, 10);
		else if (strcmp(a, "--seconds") == 0)
			seconds = atof(v);
		else if (strcmp(a, "--conns") == 0)
			want_conns = atoi(v);
		else if (strcmp(a, "--label") == 0)
			label = v;
		else if (strcmp(a, "--ops") == 0)
			ops = v;
		else if (strcmp(a, "--node-pid") == 0)
			node_pid = atoi(v);
		else if (strcmp(a, "--batch") == 0)
			bsize = atoi(v);
		else if (strcmp(a, "--progress") == 0)
			progress = atof(v);
		else
			usage();
		i++;
	}
	if (node == NULL || keys == NULL || statefile == NULL || (sigs != 1 && sigs != 3) ||
	    want_conns < 1 || bsize < 1 || bsize > 4096)
		usage();
	{
		const char *colon = strrchr(node, ':');

		if (colon == NULL || (size_t)(colon - node) >= sizeof(host))
			usage();
		memcpy(host, node, (size_t)(colon - node));
		host[colon - node] = '\0';
		port = (unsigned)atoi(colon + 1);
	}
	if (sodium_init() < 0)
		die("cannot initialise libsodium");
	signal(SIGPIPE, SIG_IGN);
	if (strcmp(argv[1], "rate") == 0) {
		load_states(keys, statefile, 3);
		return cmd_rate(seconds, ops);
	}
	if (strcmp(argv[1], "run") == 0) {
		load_states(keys, statefile, sigs);
		return cmd_run(sigs, count, seconds, want_conns, label, progress);
	}
	if (strcmp(argv[1], "batch") == 0) {
		load_states(keys, statefile, sigs);
		return cmd_batch(count, seconds, (size_t)bsize, label, node_pid);
	}
	usage();
}
