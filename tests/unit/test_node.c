/* Node tests: node_init refusals leave nothing behind, a node opens by replaying its store,
 * a proposal goes through the committer and survives a restart, and a store whose
 * checkpoint does not match its entries (or its key) is refused at startup. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <sodium.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/genesis.h"
#include "core/proposal.h"
#include "core/tlog.h"
#include "node/conf.h"
#include "node/init.h"
#include "node/node.h"

#define ORIGIN "test.concord.example/root"

struct fixture {
	char base[64];	      /* temporary directory */
	char dir[96];	      /* base/node, the node directory (absent at first) */
	struct key_pair k[3]; /* br, cn (founders), xx (outsider) */
	struct cbuf signed_;  /* genesis signed by every founder */
	struct cbuf partial;  /* genesis signed by cn only */
};

static void make_key(struct key_pair *k, const char *id, int seedbyte)
{
	unsigned char seed[32];

	memset(seed, seedbyte, sizeof(seed));
	assert_int_equal(note_signer_from_seed(&k->sign, id, seed), 0);
	crypto_box_seed_keypair(k->box_pk, k->box_sk, seed);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct genesis_member gm[2];
	struct genesis_params gp = {0};
	struct cc_err e = {0};

	assert_non_null(f);
	snprintf(f->base, sizeof(f->base), "/tmp/test_node.XXXXXX");
	assert_non_null(mkdtemp(f->base));
	snprintf(f->dir, sizeof(f->dir), "%s/node", f->base);
	make_key(&f->k[0], "br", 1);
	make_key(&f->k[1], "cn", 2);
	make_key(&f->k[2], "xx", 3);
	for (int i = 0; i < 2; i++) {
		memset(&gm[i], 0, sizeof(gm[i]));
		snprintf(gm[i].id, sizeof(gm[i].id), "%s", f->k[i].sign.key.name);
		gm[i].chamber = CHAMBER_GOVERNMENT;
		key_public(&f->k[i], &gm[i].pub);
	}
	gp.origin = ORIGIN;
	gp.time = (int64_t)time(NULL) - 60;
	gp.members = gm;
	gp.nmembers = 2;
	assert_int_equal(genesis_build(&gp, &f->partial, &e), 0);
	assert_int_equal(genesis_sign(&f->partial, &f->k[1], &e), 0);
	assert_int_equal(cbuf_put(&f->signed_, f->partial.p, f->partial.len), 0);
	assert_int_equal(genesis_sign(&f->signed_, &f->k[0], &e), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->base);
	assert_int_equal(system(cmd), 0);
	cbuf_free(&f->signed_);
	cbuf_free(&f->partial);
	free(f);
	return 0;
}

static int init(struct fixture *f, const struct cbuf *g, const struct key_pair *k, struct cc_err *e)
{
	return node_init_bundle(f->dir, (const unsigned char *)g->p, g->len, k, e);
}

static void test_init_refusals(void **state)
{
	struct fixture *f = *state;
	struct cc_err e = {0};
	struct stat sb;
	char path[160];

	/* Partly signed: the ledger's own message, and no directory. */
	assert_int_equal(init(f, &f->partial, &f->k[1], &e), CC_EPERM);
	assert_non_null(strstr(e.msg, "signed by 1 of 2"));
	assert_int_equal(stat(f->dir, &sb), -1);
	/* Not a member, or a member id with another key. */
	assert_int_equal(init(f, &f->signed_, &f->k[2], &e), CC_EPERM);
	assert_int_equal(stat(f->dir, &sb), -1);
	{
		struct key_pair fake;

		make_key(&fake, "cn", 9);
		assert_int_equal(init(f, &f->signed_, &fake, &e), CC_EPERM);
		assert_int_equal(stat(f->dir, &sb), -1);
	}
	/* Not a bundle. */
	{
		struct cbuf junk = CBUF_INIT;

		assert_int_equal(cbuf_puts(&junk, "\xff\xffjunk"), 0);
		assert_int_equal(init(f, &junk, &f->k[1], &e), CC_EINVAL);
		cbuf_free(&junk);
		assert_int_equal(stat(f->dir, &sb), -1);
	}
	/* An empty existing directory is used; a non-empty one is refused untouched. */
	assert_int_equal(mkdir(f->dir, 0700), 0);
	assert_int_equal(init(f, &f->signed_, &f->k[1], &e), 0);
	assert_int_equal(init(f, &f->signed_, &f->k[1], &e), CC_EEXIST);
	snprintf(path, sizeof(path), "%s/%s", f->dir, CONF_KEY_FILE);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
}

struct waiter {		      /* a node_waiter that flags its call */
	struct node_waiter w; /* first: the node calls w.done */
	atomic_int done;      /* set by done */
};

static void waiter_done(struct node_waiter *w)
{
	atomic_store(&((struct waiter *)w)->done, 1);
}

static void waiter_wait(struct waiter *w)
{
	struct timespec ts = {0, 5 * 1000 * 1000};

	for (int i = 0; i < 1000 && !atomic_load(&w->done); i++)
		nanosleep(&ts, NULL);
	assert_true(atomic_load(&w->done));
}

/* A proposal by cn putting tld/cn, which cn alone may do. */
static void make_proposal(const struct key_pair *k, struct cbuf *note)
{
	static const char content[] =
	    "cn. 172800 IN NS a.dns.cn.\na.dns.cn. 172800 IN A 192.0.2.1\n";
	struct proposal_op op;
	struct cbuf body = CBUF_INIT;
	struct note_sig sig;
	int64_t now = (int64_t)time(NULL);

	memset(&op, 0, sizeof(op));
	op.kind = OP_PUT;
	snprintf(op.path, sizeof(op.path), "tld/cn");
	op.version = PROPOSAL_VERSION_NEW;
	op.content = content;
	op.content_len = sizeof(content) - 1;
	assert_int_equal(proposal_format(&body, ORIGIN, "cn", now - 5, now + 3600, &op, 1), 0);
	assert_int_equal(note_sign(&k->sign, body.p, body.len, &sig), 0);
	assert_int_equal(note_format(body.p, body.len, &sig, 1, note), 0);
	cbuf_free(&body);
}

static void test_submit_and_restart(void **state)
{
	struct fixture *f = *state;
	struct node *n = NULL;
	struct node_reply r;
	struct waiter w = {{waiter_done, NULL, 0, 0, 0}, 0};
	struct cbuf note = CBUF_INIT, ck = CBUF_INIT;
	struct cc_err e = {0};

	assert_int_equal(init(f, &f->signed_, &f->k[1], &e), 0);
	assert_int_equal(node_open(&n, f->dir, &e), 0);
	assert_string_equal(node_origin(n), ORIGIN);
	assert_string_equal(node_http(n), CONF_HTTP_DEFAULT);
	assert_int_equal(node_size(n), 2);
	assert_int_equal(node_start(n, &e), 0);

	make_proposal(&f->k[1], &note);
	assert_int_equal(node_submit(n, note.p, note.len, &w.w, &r), 1);
	waiter_wait(&w);
	assert_int_equal(r.status, NODE_CREATED);
	assert_non_null(strstr(r.body.p, "\"status\":\"accepted\""));
	assert_non_null(strstr(r.body.p, "\"index\":2"));
	node_reply_free(&r);
	assert_int_equal(node_size(n), 3);
	assert_int_equal(node_checkpoint(n, &ck), 0);
	assert_non_null(strstr(ck.p, ORIGIN "\n3\n"));

	/* Again: already in the log. Nothing to wait for. */
	assert_int_equal(node_submit(n, note.p, note.len, &w.w, &r), 0);
	assert_int_equal(r.status, CC_EEXIST);
	node_reply_free(&r);
	/* Garbage is refused, never queued. */
	assert_int_equal(node_submit(n, "\x01\x02", 2, &w.w, &r), 0);
	assert_int_equal(r.status, CC_EINVAL);
	node_reply_free(&r);
	node_stop(n);
	node_close(n);

	n = NULL;
	assert_int_equal(node_open(&n, f->dir, &e), 0);
	assert_int_equal(node_size(n), 3);
	node_close(n);
	cbuf_free(&note);
	cbuf_free(&ck);
}

static void db_exec(const struct fixture *f, const char *sql, const char *arg)
{
	char path[160];
	sqlite3 *db;
	sqlite3_stmt *st;

	snprintf(path, sizeof(path), "%s/%s", f->dir, CONF_DB_FILE);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	if (arg)
		sqlite3_bind_text(st, 1, arg, -1, SQLITE_STATIC);
	assert_int_equal(sqlite3_step(st), SQLITE_DONE);
	sqlite3_finalize(st);
	sqlite3_close(db);
}

/* A checkpoint for size entries with a zero root, signed by s. */
static void forge_checkpoint(const struct note_signer *s, uint64_t size, struct cbuf *out)
{
	unsigned char root[MERKLE_HASH] = {0};
	struct cbuf text = CBUF_INIT;
	struct note_sig sig;

	assert_int_equal(tlog_checkpoint_text(&text, ORIGIN, size, root), 0);
	assert_int_equal(note_sign(s, text.p, text.len, &sig), 0);
	assert_int_equal(note_format(text.p, text.len, &sig, 1, out), 0);
	cbuf_free(&text);
}

static void test_tampered_store(void **state)
{
	struct fixture *f = *state;
	struct node *n = NULL;
	struct note_signer logkey, other;
	struct cbuf ck = CBUF_INIT;
	struct cc_err e = {0};
	unsigned char seed[32] = {42};

	assert_int_equal(init(f, &f->signed_, &f->k[1], &e), 0);
	assert_int_equal(conf_read_key(&logkey, f->dir, &e), 0);
	assert_string_equal(logkey.key.name, ORIGIN);

	/* Signed by the node's key, but the root is not the entries'. */
	forge_checkpoint(&logkey, 2, &ck);
	db_exec(f, "UPDATE meta SET value = ? WHERE key = 'checkpoint'", ck.p);
	assert_int_equal(node_open(&n, f->dir, &e), CC_ECONFLICT);
	assert_null(n);
	assert_non_null(strstr(e.msg, "root hash does not match"));

	/* Signed by another key. */
	cbuf_reset(&ck);
	assert_int_equal(note_signer_from_seed(&other, ORIGIN, seed), 0);
	forge_checkpoint(&other, 2, &ck);
	db_exec(f, "UPDATE meta SET value = ? WHERE key = 'checkpoint'", ck.p);
	assert_int_equal(node_open(&n, f->dir, &e), CC_ESIG);
	assert_non_null(strstr(e.msg, "signed neither by"));

	/* A checkpoint for more entries than stored. */
	cbuf_reset(&ck);
	forge_checkpoint(&logkey, 3, &ck);
	db_exec(f, "UPDATE meta SET value = ? WHERE key = 'checkpoint'", ck.p);
	assert_int_equal(node_open(&n, f->dir, &e), CC_ECONFLICT);
	assert_non_null(strstr(e.msg, "covers 3 entries"));

	/* An entry changed under the checkpoint. */
	db_exec(f, "UPDATE entries SET data = CAST(? AS BLOB) WHERE idx = 1", "concord chunk 1\n");
	assert_int_equal(node_open(&n, f->dir, &e), CC_ECONFLICT);
	assert_null(n);
	cbuf_free(&ck);
}

static void test_conf(void **state)
{
	struct conf c;
	struct cc_err e = {0};
	char host[CONF_ADDR_MAX];
	unsigned port;

	assert_int_equal(conf_parse(&c, "# node\nmember cn\n\nhttp [::1]:9000 # v6\n", 38, &e), 0);
	assert_string_equal(c.member, "cn");
	assert_string_equal(c.http, "[::1]:9000");
	assert_int_equal(conf_parse(&c, "member cn\n", 10, &e), 0);
	assert_string_equal(c.http, CONF_HTTP_DEFAULT);
	assert_int_equal(conf_parse(&c, "http 1.2.3.4:5\n", 15, &e), CC_EINVAL);
	assert_int_equal(conf_parse(&c, "member CN\n", 10, &e), CC_EINVAL);
	assert_int_equal(conf_parse(&c, "member cn\nport 5\n", 17, &e), CC_EINVAL);
	assert_int_equal(conf_parse(&c, "member cn extra\n", 16, &e), CC_EINVAL);
	assert_int_equal(conf_split_addr("127.0.0.1:8053", host, &port, &e), 0);
	assert_string_equal(host, "127.0.0.1");
	assert_int_equal(port, 8053);
	assert_int_equal(conf_split_addr("[::1]:0", host, &port, &e), 0);
	assert_string_equal(host, "::1");
	assert_int_equal(port, 0);
	assert_int_equal(conf_split_addr("::1:80", host, &port, &e), CC_EINVAL);
	assert_int_equal(conf_split_addr("host:65536", host, &port, &e), CC_EINVAL);
	assert_int_equal(conf_split_addr("host:", host, &port, &e), CC_EINVAL);
	assert_int_equal(conf_split_addr(":80", host, &port, &e), CC_EINVAL);
}

/* A listing's cursor: strict both ways, and a page's must go on from the one before. */
static void test_list_cursor(void **state)
{
	static const char *const bad[] = {"",
					  "1",
					  "1.2",
					  "1.2.3.4",
					  "01.2.3",
					  "1.02.3",
					  "1.2.03",
					  "-1.2.3",
					  "1.2.3 ",
					  " 1.2.3",
					  "1..3",
					  "1.2.x",
					  "18446744073709551616.0.0",
					  "0.9223372036854775808.0",
					  "0.0.9223372036854775808"};
	const struct node_list_at top = NODE_LIST_TOP;
	struct node_list_at a, b;

	(void)state;
	assert_int_equal(node_list_at_parse(&a, "18446744073709551615.9223372036854775807.0"), 0);
	assert_true(a.log == UINT64_MAX && a.received == INT64_MAX && a.rowid == 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(node_list_at_parse(&b, bad[i]), CC_EINVAL);
	assert_int_equal(node_list_at_parse(&a, "140.1700000000.12"), 0);
	assert_true(node_list_at_moved(&top, &a));
	assert_false(node_list_at_moved(&a, &a));
	assert_int_equal(node_list_at_parse(&b, "139.1700000000.12"), 0);
	assert_true(node_list_at_moved(&a, &b));
	assert_false(node_list_at_moved(&b, &a));
	assert_int_equal(node_list_at_parse(&b, "140.1700000000.11"), 0);
	assert_true(node_list_at_moved(&a, &b));
	assert_int_equal(node_list_at_parse(&b, "140.1699999999.99"), 0);
	assert_true(node_list_at_moved(&a, &b));
	/* one side on, the other back: not a page's cursor */
	assert_int_equal(node_list_at_parse(&b, "139.1700000001.0"), 0);
	assert_false(node_list_at_moved(&a, &b));
	assert_int_equal(node_list_at_parse(&b, "141.0.0"), 0);
	assert_false(node_list_at_moved(&a, &b));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_init_refusals, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_submit_and_restart, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_tampered_store, setup, teardown),
	    cmocka_unit_test(test_conf),
	    cmocka_unit_test(test_list_cursor),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
