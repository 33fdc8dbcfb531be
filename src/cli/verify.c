/* concord verify: audits a node from outside with nothing but its public HTTP answers.
 *
 * The log is the source of truth, so the audit rebuilds everything from it: every entry goes
 * through a fresh ledger (every decision since genesis is taken again), every leaf into a
 * Merkle tree. The rebuilt tree must give the signed checkpoint's root and the node's hash
 * tiles; the rebuilt state must give the records and the root zone the node serves.
 *
 * Entries come through node/fetch.c, which checks signatures on every CPU while the ledger
 * replays; the verdict is the same as a one-thread replay (--serial). */
#include "cli/cli.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "core/ledger.h"
#include "core/merkle.h"
#include "core/note.h"
#include "core/tlog.h"
#include "node/fetch.h"

#define VF_ROUNDS     10 /* checkpoints the audit follows while the log grows */
#define VF_MAX_REPORT 20 /* differences listed before "..." */

struct vf_rec {		  /* one record, from either side */
	char *path;	  /* record path */
	uint64_t version; /* log index of its last write */
	char sha[65];	  /* hex SHA-256 of its content */
};

struct vf_recs {
	struct vf_rec *v; /* records */
	size_t n, cap;	  /* used, allocated */
};

static double vf_clock(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct vf_replay {	       /* the consumer of a fetch run */
	struct ledger *l;      /* the ledger rebuilt */
	struct merkle_tree *t; /* and its tree */
	uint64_t *rechecked;   /* entries whose signatures the ledger checked itself */
};

static int vf_take(void *ctx, struct fetch *f, uint64_t first, struct fetch_entry *v, size_t n,
		   struct cc_err *e)
{
	struct vf_replay *r = ctx;
	int ret;

	for (size_t i = 0; i < n; i++) {
		struct cc_err le = {0, ""};

		if (merkle_tree_append(r->t, v[i].leaf) < 0)
			return cc_fail(e, CC_ENOMEM, "out of memory");
		ret = fetch_apply(r->l, &v[i], &le);
		if (ret < 0)
			return cc_fail(e, CC_ECONFLICT, "entry %llu does not replay: %s",
				       (unsigned long long)(first + i),
				       le.msg[0] != '\0' ? le.msg : cc_strerror(ret));
		*r->rechecked += (uint64_t)ret;
	}
	if (fetch_publish(f, r->l) < 0)
		return cc_fail(e, CC_ENOMEM, "out of memory");
	return 0;
}

/* Replays entries [from, to) into the ledger and the tree. A failing entry is a finding,
 * not a transport error: it returns CC_ECONFLICT with the entry's index in e. */
static int vf_entries(const char *base, struct ledger *l, struct merkle_tree *t, uint64_t from,
		      uint64_t to, int serial, uint64_t *rechecked, struct cc_err *e)
{
	struct vf_replay r = {l, t, rechecked};
	struct fetch *f = NULL;
	int ret;

	if (from >= to)
		return 0;
	ret = fetch_new(&f, base, from, to, serial, e);
	if (ret == 0 && fetch_publish(f, l) < 0)
		ret = cc_fail(e, CC_ENOMEM, "out of memory");
	if (ret == 0)
		ret = fetch_run(f, vf_take, &r, e);
	fetch_free(f);
	return ret;
}

/* Fetches and checks the checkpoint: signed by the log key, for the log key's origin. */
static int vf_checkpoint(struct http *h, const struct note_key *key, uint64_t *size,
			 unsigned char root[MERKLE_HASH], struct cc_err *e)
{
	struct http_resp r = {0};
	struct note n = {0};
	struct cc_err pe = {0, ""};
	char origin[TLOG_ORIGIN_MAX + 1];
	size_t i;
	int ret, found = 0;

	ret = http_get(h, "/log/checkpoint", HTTP_MAX_SMALL, &r, e);
	if (ret < 0)
		goto out;
	ret = note_parse(&n, r.body.p, r.body.len, &pe);
	if (ret < 0) {
		ret = cc_fail(e, CC_ECONFLICT, "the checkpoint is not a signed note: %s", pe.msg);
		goto out;
	}
	for (i = 0; i < n.nsigs; i++) {
		if (n.sigs[i].id != key->id || strcmp(n.sigs[i].name, key->name) != 0)
			continue;
		found = 1;
		if (note_verify(key, n.text, n.text_len, &n.sigs[i]) != 0) {
			ret = cc_fail(e, CC_ECONFLICT,
				      "the checkpoint's signature by %s does not "
				      "verify",
				      key->name);
			goto out;
		}
	}
	if (!found) {
		ret = cc_fail(e, CC_ECONFLICT,
			      "the checkpoint carries no signature of the log key %s", key->name);
		goto out;
	}
	ret = tlog_checkpoint_parse(n.text, n.text_len, origin, size, root, &pe);
	if (ret < 0) {
		ret = cc_fail(e, CC_ECONFLICT, "bad checkpoint: %s", pe.msg);
		goto out;
	}
	if (strcmp(origin, key->name) != 0) {
		ret = cc_fail(e, CC_ECONFLICT, "the checkpoint is for '%s', the log key for '%s'",
			      origin, key->name);
		goto out;
	}
out:
	note_free(&n);
	http_resp_free(&r);
	return ret;
}

/* Compares every hash tile of a tree of size leaves, at every level that has one. */
static int vf_hash_tiles(struct http *h, const struct merkle_tree *t, uint64_t size,
			 uint64_t *ntiles, struct cc_err *e)
{
	struct cbuf path = CBUF_INIT, want = CBUF_INIT;
	struct http_resp r = {0};
	int level, ret = 0;

	for (level = 0; level < 8 && (size >> (TLOG_TILE_HEIGHT * level)) > 0; level++) {
		uint64_t count = size >> (TLOG_TILE_HEIGHT * level), n;

		for (n = 0; n * TLOG_TILE_WIDTH < count; n++) {
			uint64_t left = count - n * TLOG_TILE_WIDTH;
			unsigned w = left >= TLOG_TILE_WIDTH ? TLOG_TILE_WIDTH : (unsigned)left;

			cbuf_reset(&path);
			cbuf_reset(&want);
			if (cbuf_puts(&path, "/log/") != 0 ||
			    tlog_tile_path(&path, level, n, w) != 0 ||
			    tlog_tile_hashes(t, level, n, w, &want) != 0) {
				ret = cc_fail(e, CC_ENOMEM, "cannot compute tile %d/%llu", level,
					      (unsigned long long)n);
				goto out;
			}
			ret = http_get(h, path.p, HTTP_MAX_SMALL, &r, e);
			if (ret == CC_ENOENT && w < TLOG_TILE_WIDTH) {
				/* the log grew past this partial tile: its full tile starts the
				 * same */
				cbuf_reset(&path);
				cbuf_puts(&path, "/log/");
				tlog_tile_path(&path, level, n, TLOG_TILE_WIDTH);
				ret = http_get(h, path.p, HTTP_MAX_SMALL, &r, e);
			}
			if (ret < 0) {
				struct cc_err ge = *e;

				cc_fail(e, ret, "GET %s: %s", path.p, ge.msg);
				goto out;
			}
			if (r.body.len < want.len || memcmp(r.body.p, want.p, want.len) != 0) {
				size_t k = 0;

				while (k + MERKLE_HASH <= r.body.len && k < want.len &&
				       memcmp(r.body.p + k, want.p + k, MERKLE_HASH) == 0)
					k += MERKLE_HASH;
				ret = cc_fail(e, CC_ECONFLICT,
					      "hash tile %s differs from the log: hash %zu of %u "
					      "(%zu bytes served)",
					      path.p, k / MERKLE_HASH, w, r.body.len);
				goto out;
			}
			(*ntiles)++;
		}
	}
out:
	http_resp_free(&r);
	cbuf_free(&path);
	cbuf_free(&want);
	return ret;
}

static int vf_recs_add(struct vf_recs *rs, const char *path, uint64_t version, const char *sha)
{
	if (rs->n == rs->cap) {
		size_t cap = rs->cap ? rs->cap * 2 : 1024;
		struct vf_rec *v = realloc(rs->v, cap * sizeof(*v));

		if (v == NULL)
			return CC_ENOMEM;
		rs->v = v;
		rs->cap = cap;
	}
	rs->v[rs->n].path = strdup(path);
	if (rs->v[rs->n].path == NULL)
		return CC_ENOMEM;
	rs->v[rs->n].version = version;
	snprintf(rs->v[rs->n].sha, sizeof(rs->v[rs->n].sha), "%s", sha);
	rs->n++;
	return 0;
}

static void vf_recs_free(struct vf_recs *rs)
{
	for (size_t i = 0; i < rs->n; i++)
		free(rs->v[i].path);
	free(rs->v);
	memset(rs, 0, sizeof(*rs));
}

static int vf_rec_cmp(const void *a, const void *b)
{
	return strcmp(((const struct vf_rec *)a)->path, ((const struct vf_rec *)b)->path);
}

static int vf_ledger_rec(void *ctx, const char *path, const char *content, size_t len,
			 uint64_t version)
{
	unsigned char d[crypto_hash_sha256_BYTES];
	char hex[65];

	crypto_hash_sha256(d, (const unsigned char *)content, len);
	sodium_bin2hex(hex, sizeof(hex), d, sizeof(d));
	return vf_recs_add(ctx, path, version, hex);
}

static void vf_diff(unsigned *ndiff, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Reports one difference on stderr, the first VF_MAX_REPORT of them. */
static void vf_diff(unsigned *ndiff, const char *fmt, ...)
{
	va_list ap;

	if ((*ndiff)++ >= VF_MAX_REPORT) {
		if (*ndiff == VF_MAX_REPORT + 1)
			fprintf(stderr, "concord: ... (more differences not shown)\n");
		return;
	}
	fprintf(stderr, "concord: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* GET /v1/records against the rebuilt ledger. *tree_size gets the size the node answered
 * for; the comparison only runs when it is the one verified. */
static int vf_records(struct http *h, const struct ledger *l, uint64_t size, uint64_t *tree_size,
		      size_t *nrecs, unsigned *ndiff, struct cc_err *e)
{
	struct vf_recs node = {0}, mine = {0};
	json_t *j = NULL, *rec;
	size_t i, a = 0, b = 0;
	int ret;

	ret = cli_get_json(h, "/v1/records", &j, e);
	if (ret < 0)
		goto out;
	*tree_size = (uint64_t)json_integer_value(json_object_get(j, "tree_size"));
	if (!json_is_integer(json_object_get(j, "tree_size"))) {
		ret = cc_fail(e, CC_EINVAL, "GET /v1/records: no tree_size");
		goto out;
	}
	if (*tree_size != size)
		goto out;
	json_array_foreach(json_object_get(j, "records"), i, rec)
	{
		const char *path = json_string_value(json_object_get(rec, "path"));
		const char *sha = json_string_value(json_object_get(rec, "sha256"));
		json_t *v = json_object_get(rec, "version");

		if (path == NULL || sha == NULL || !json_is_integer(v)) {
			ret = cc_fail(e, CC_EINVAL, "GET /v1/records: record %zu is malformed", i);
			goto out;
		}
		if (vf_recs_add(&node, path, (uint64_t)json_integer_value(v), sha) != 0) {
			ret = cc_fail(e, CC_ENOMEM, "out of memory");
			goto out;
		}
	}
	ret = ledger_foreach(l, "", vf_ledger_rec, &mine);
	if (ret < 0) {
		cc_fail(e, ret, "cannot list the rebuilt records");
		goto out;
	}
	*nrecs = mine.n;
	qsort(node.v, node.n, sizeof(*node.v), vf_rec_cmp);
	qsort(mine.v, mine.n, sizeof(*mine.v), vf_rec_cmp);
	while (a < node.n || b < mine.n) {
		int c = a == node.n ? 1 : b == mine.n ? -1 : strcmp(node.v[a].path, mine.v[b].path);

		if (c < 0) {
			vf_diff(ndiff, "record %s: served by the node, not in the log",
				node.v[a].path);
			a++;
		} else if (c > 0) {
			vf_diff(ndiff,
				"record %s: in the log (version %llu), not served by the node",
				mine.v[b].path, (unsigned long long)mine.v[b].version);
			b++;
		} else {
			if (node.v[a].version != mine.v[b].version)
				vf_diff(ndiff, "record %s: node says version %llu, the log %llu",
					node.v[a].path, (unsigned long long)node.v[a].version,
					(unsigned long long)mine.v[b].version);
			else if (strcmp(node.v[a].sha, mine.v[b].sha) != 0)
				vf_diff(ndiff,
					"record %s: node's content has sha256 %s, the log's %s",
					node.v[a].path, node.v[a].sha, mine.v[b].sha);
			a++;
			b++;
		}
	}
out:
	json_decref(j);
	vf_recs_free(&node);
	vf_recs_free(&mine);
	return ret;
}

/* GET /v1/root against ledger_export_root, pointing at the first line that differs. */
static int vf_root(struct http *h, const struct ledger *l, unsigned *ndiff, struct cc_err *e)
{
	struct http_resp r = {0};
	struct cbuf mine = CBUF_INIT;
	const char *x, *y;
	size_t line = 1;
	int ret;

	ret = ledger_export_root(l, &mine);
	if (ret < 0) {
		cc_fail(e, ret, "cannot export the rebuilt root zone");
		goto out;
	}
	ret = http_get(h, "/v1/root", HTTP_MAX_JSON, &r, e);
	if (ret < 0)
		goto out;
	if (r.body.len == mine.len && memcmp(r.body.p, mine.p, mine.len) == 0)
		goto out;
	for (x = r.body.p, y = mine.p;; line++) {
		const char *xn = strchr(x, '\n'), *yn = strchr(y, '\n');
		size_t xl = xn != NULL ? (size_t)(xn - x) : strlen(x);
		size_t yl = yn != NULL ? (size_t)(yn - y) : strlen(y);

		if (xl != yl || memcmp(x, y, xl) != 0 || (xn == NULL) != (yn == NULL)) {
			vf_diff(ndiff,
				"/v1/root differs from the log's root zone at line %zu: "
				"node '%.*s', log '%.*s'",
				line, (int)(xl > 200 ? 200 : xl), x, (int)(yl > 200 ? 200 : yl), y);
			break;
		}
		if (xn == NULL)
			break;
		x = xn + 1;
		y = yn + 1;
	}
out:
	http_resp_free(&r);
	cbuf_free(&mine);
	return ret;
}

static int vf_log_key(struct http *h, const char *pinned, struct note_key *key, struct cc_err *e)
{
	struct cc_err pe = {0, ""};
	json_t *net = NULL;
	const char *s = pinned;
	int ret;

	if (s == NULL) {
		ret = cli_get_json(h, "/v1/network", &net, e);
		if (ret < 0)
			return ret;
		s = json_string_value(json_object_get(net, "log_key"));
		if (s == NULL) {
			ret = cc_fail(e, CC_EINVAL, "GET /v1/network: no log_key");
			goto out;
		}
	}
	ret = note_vkey_parse(key, s, strlen(s), &pe);
	if (ret < 0 && pinned != NULL)
		ret = cc_fail(e, CLI_EUSAGE, "verify: --log-key: %s", pe.msg);
	else if (ret < 0)
		ret = cc_fail(e, CC_EINVAL, "the node's log key: %s", pe.msg);
out:
	json_decref(net);
	return ret;
}

int cli_verify(int argc, char **argv, struct cc_err *e)
{
	const char *pinned = NULL;
	int serial = 0;
	const struct cli_opt opts[] = {
	    {"log-key", 0, CLI_ARG, &pinned}, {"serial", 0, CLI_FLAG, &serial}, {0}};
	struct cli_args a = {0};
	struct http *h = NULL;
	struct ledger *l = NULL;
	struct merkle_tree t;
	struct note_key key;
	unsigned char root[MERKLE_HASH], mroot[MERKLE_HASH];
	char b64[sodium_base64_ENCODED_LEN(MERKLE_HASH, sodium_base64_VARIANT_ORIGINAL)];
	uint64_t size = 0, done = 0, tree_size = 0, ntiles = 0, rechecked = 0;
	size_t nrecs = 0;
	unsigned ndiff = 0;
	double t0, t1, t2;
	int ret, round;

	merkle_tree_init(&t);
	ret = cli_parse(argc, argv, opts, &a, e);
	if (ret < 0)
		goto out;
	if (a.npos != 1) {
		ret = cc_fail(e, CLI_EUSAGE, "verify: expected the node's URL");
		goto out;
	}
	if (sodium_init() < 0) {
		ret = cc_fail(e, CC_EIO, "cannot initialise libsodium");
		goto out;
	}
	ret = http_new(&h, a.pos[0], e);
	if (ret < 0)
		goto out;
	ret = vf_log_key(h, pinned, &key, e);
	if (ret < 0)
		goto out;
	l = ledger_new();
	if (l == NULL) {
		ret = cc_fail(e, CC_ENOMEM, "out of memory");
		goto out;
	}
	t0 = vf_clock();
	t1 = t0;
	/* A live node may append while we read: follow it a few times, then give up. */
	for (round = 0;; round++) {
		/* A partial tile vanishes when the log grows past it, and the records may be read
		 * at a later size: then start again from a newer checkpoint, keeping what is
		 * replayed already. */
		if (round >= VF_ROUNDS) {
			struct cc_err last = *e;

			ret = cc_fail(e, CC_ECONFLICT,
				      "the node kept growing through %d checkpoints (%s): audit it "
				      "when it is quiet",
				      VF_ROUNDS, last.msg);
			goto out;
		}
		ret = vf_checkpoint(h, &key, &size, root, e);
		if (ret < 0)
			goto out;
		if (size < done) {
			ret = cc_fail(e, CC_ECONFLICT,
				      "the checkpoint went back from %llu to %llu entries",
				      (unsigned long long)done, (unsigned long long)size);
			goto out;
		}
		ret = vf_entries(a.pos[0], l, &t, done, size, serial, &rechecked, e);
		done = ledger_size(l);
		t1 = vf_clock();
		if (ret == CC_ENOENT)
			continue;
		if (ret < 0)
			goto out;
		ret = merkle_tree_root(&t, size, mroot);
		if (ret < 0) {
			cc_fail(e, ret, "cannot compute the tree's root");
			goto out;
		}
		if (memcmp(root, mroot, MERKLE_HASH) != 0) {
			sodium_bin2base64(b64, sizeof(b64), mroot, MERKLE_HASH,
					  sodium_base64_VARIANT_ORIGINAL);
			ret = cc_fail(e, CC_ECONFLICT,
				      "the entries give root %s for %llu entries, the checkpoint "
				      "another",
				      b64, (unsigned long long)size);
			goto out;
		}
		if (size > 0 && strcmp(ledger_origin(l), key.name) != 0) {
			ret = cc_fail(e, CC_ECONFLICT,
				      "the log's genesis is for '%s', its key for '%s'",
				      ledger_origin(l), key.name);
			goto out;
		}
		ntiles = 0;
		ret = vf_hash_tiles(h, &t, size, &ntiles, e);
		if (ret == CC_ENOENT)
			continue;
		if (ret < 0)
			goto out;
		ret = vf_records(h, l, size, &tree_size, &nrecs, &ndiff, e);
		if (ret < 0)
			goto out;
		if (tree_size == size)
			break;
		cc_fail(e, CC_ECONFLICT, "records at %llu entries, checkpoint at %llu",
			(unsigned long long)tree_size, (unsigned long long)size);
	}
	ret = vf_root(h, l, &ndiff, e);
	if (ret < 0)
		goto out;
	if (ndiff > 0) {
		fprintf(stderr, "concord: verify: %u difference%s between %s and its log\n", ndiff,
			ndiff == 1 ? "" : "s", a.pos[0]);
		ret = CLI_EREPORTED;
		goto out;
	}
	t2 = vf_clock();
	sodium_bin2base64(b64, sizeof(b64), root, MERKLE_HASH, sodium_base64_VARIANT_ORIGINAL);
	printf("verified %llu entries, %zu records, root %s\n", (unsigned long long)size, nrecs,
	       b64);
	printf("replayed %llu entries in %.2f s: %.0f entries/s (%llu with signatures checked by "
	       "the ledger itself); %llu hash tiles; total %.2f s\n",
	       (unsigned long long)size, t1 - t0, t1 > t0 ? (double)size / (t1 - t0) : 0.0,
	       (unsigned long long)rechecked, (unsigned long long)ntiles, t2 - t0);
out:
	/* a finding is exit 1 like any failure, but it must name what differs */
	if (ret < 0 && ret != CLI_EUSAGE && ret != CLI_EREPORTED && ret != CLI_HELP) {
		fprintf(stderr, "concord: verify: %s\n", e->msg);
		ret = CLI_EREPORTED;
	}
	if (l != NULL)
		ledger_free(l);
	merkle_tree_free(&t);
	http_free(h);
	cli_args_free(&a);
	return ret;
}
