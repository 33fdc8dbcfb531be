/* Store tests: schema and refusals, entries (ranges, gaps, duplicates, rollback), meta,
 * proposal rows (upsert keeps arrival order, status filter, limit), a reader connection
 * seeing only committed data, and durability across close and reopen. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "node/store.h"

struct fixture {
	char dir[64];	/* temporary directory */
	char path[128]; /* dir/concord.db */
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_store.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/concord.db", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char p[160];

	unlink(f->path);
	snprintf(p, sizeof(p), "%s-wal", f->path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", f->path);
	unlink(p);
	rmdir(f->dir);
	free(f);
	return 0;
}

static struct store *create(const struct fixture *f)
{
	struct store *s = NULL;
	struct cc_err e = {0};

	assert_int_equal(store_open(&s, f->path, STORE_CREATE, &e), 0);
	assert_non_null(s);
	return s;
}

static void put_entries(struct store *s, uint64_t from, uint64_t n)
{
	struct cc_err e = {0};
	char data[32];

	assert_int_equal(store_begin(s, &e), 0);
	for (uint64_t i = from; i < from + n; i++) {
		int len = snprintf(data, sizeof(data), "entry %llu", (unsigned long long)i);

		assert_int_equal(store_entry_put(s, i, data, (size_t)len, &e), 0);
	}
	assert_int_equal(store_commit(s, &e), 0);
}

static void test_open_refusals(void **state)
{
	struct fixture *f = *state;
	struct store *s = NULL;
	struct cc_err e = {0};
	sqlite3 *db;

	assert_int_equal(store_open(&s, f->path, 0, &e), CC_ENOENT);
	assert_null(s);
	s = create(f);
	store_close(s);
	s = NULL;
	/* Never create over an existing store. */
	assert_int_equal(store_open(&s, f->path, STORE_CREATE, &e), CC_EEXIST);
	assert_null(s);
	assert_int_equal(store_open(&s, f->path, 0, &e), 0);
	store_close(s);
	s = NULL;
	/* Any other SQLite file is refused. */
	unlink(f->path);
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "CREATE TABLE t(x)", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(store_open(&s, f->path, 0, &e), CC_EINVAL);
	assert_non_null(strstr(e.msg, "not a Concord node database"));
	assert_null(s);
}

static void test_wal_mode(void **state)
{
	struct fixture *f = *state;
	struct store *s = create(f);
	sqlite3 *db;
	sqlite3_stmt *st;

	/* WAL is a property of the file: a separate connection sees it. */
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
	sqlite3_finalize(st);
	sqlite3_close(db);
	store_close(s);
}

static int collect(void *ctx, uint64_t idx, const unsigned char *data, size_t len)
{
	struct cbuf *b = ctx;

	cbuf_printf(b, "%llu:%.*s;", (unsigned long long)idx, (int)len, (const char *)data);
	return 0;
}

static int stop_at_two(void *ctx, uint64_t idx, const unsigned char *data, size_t len)
{
	(*(int *)ctx)++;
	return idx == 2 ? 7 : 0;
}

static void test_entries(void **state)
{
	struct fixture *f = *state;
	struct store *s = create(f);
	struct cbuf b = CBUF_INIT;
	struct cc_err e = {0};
	uint64_t n = 99;
	int calls = 0;

	assert_int_equal(store_entry_count(s, &n, &e), 0);
	assert_int_equal(n, 0);
	put_entries(s, 0, 5);
	assert_int_equal(store_entry_count(s, &n, &e), 0);
	assert_int_equal(n, 5);
	assert_int_equal(store_entry_get(s, 3, &b, &e), 0);
	assert_string_equal(b.p, "entry 3");
	assert_int_equal(store_entry_get(s, 5, &b, &e), CC_ENOENT);
	cbuf_reset(&b);
	assert_int_equal(store_entries(s, 1, 3, collect, &b, &e), 0);
	assert_string_equal(b.p, "1:entry 1;2:entry 2;3:entry 3;");
	/* A range past the end is a missing entry, not a short answer. */
	cbuf_reset(&b);
	assert_int_equal(store_entries(s, 3, 4, collect, &b, &e), CC_ENOENT);
	assert_int_equal(store_entries(s, 0, 5, stop_at_two, &calls, &e), 7);
	assert_int_equal(calls, 3);
	/* Same index twice: the primary key refuses it. */
	assert_int_equal(store_begin(s, &e), 0);
	assert_int_equal(store_entry_put(s, 4, "x", 1, &e), CC_EIO);
	store_rollback(s);
	/* Empty entries are stored as empty, not NULL. */
	put_entries(s, 5, 0);
	assert_int_equal(store_begin(s, &e), 0);
	assert_int_equal(store_entry_put(s, 5, "", 0, &e), 0);
	assert_int_equal(store_commit(s, &e), 0);
	assert_int_equal(store_entry_get(s, 5, &b, &e), 0);
	assert_int_equal(b.len, 0);
	cbuf_free(&b);
	store_close(s);
}

static void test_gap_and_rollback(void **state)
{
	struct fixture *f = *state;
	struct store *s = create(f);
	struct cc_err e = {0};
	uint64_t n;

	put_entries(s, 0, 3);
	assert_int_equal(store_begin(s, &e), 0);
	assert_int_equal(store_entry_put(s, 3, "x", 1, &e), 0);
	assert_int_equal(store_meta_put(s, "checkpoint", "uncommitted", &e), 0);
	store_rollback(s);
	assert_int_equal(store_entry_count(s, &n, &e), 0);
	assert_int_equal(n, 3);
	/* A hole in the indexes is reported, not papered over. */
	put_entries(s, 4, 1);
	assert_int_equal(store_entry_count(s, &n, &e), CC_ECONFLICT);
	assert_non_null(strstr(e.msg, "gap"));
	store_close(s);
}

static void test_meta(void **state)
{
	struct fixture *f = *state;
	struct store *s = create(f);
	struct cbuf b = CBUF_INIT;
	struct cc_err e = {0};

	assert_int_equal(store_meta_get(s, "checkpoint", &b, &e), CC_ENOENT);
	assert_int_equal(store_meta_get(s, "schema", &b, &e), 0);
	assert_string_equal(b.p, STORE_SCHEMA);
	assert_int_equal(store_meta_put(s, "checkpoint", "one", &e), 0);
	assert_int_equal(store_meta_put(s, "checkpoint", "two", &e), 0);
	assert_int_equal(store_meta_get(s, "checkpoint", &b, &e), 0);
	assert_string_equal(b.p, "two");
	cbuf_free(&b);
	store_close(s);
}

/* The outbox is first in, first out; marks say which requests hold up new ones. */
static void test_outbox(void **state)
{
	struct fixture *f = *state;
	struct store *s = create(f);
	struct cbuf path = CBUF_INIT, body = CBUF_INIT;
	struct cc_err e = {0};
	int64_t seq = 0, at = 0, last = -1, received = 0, seqs[3];
	const char *bodies = "abc";

	assert_int_equal(store_outbox_next(s, 0, &seq, &path, &body, &received, &e), CC_ENOENT);
	assert_int_equal(store_outbox_last(s, &last, &e), 0);
	assert_int_equal(last, 0);
	assert_int_equal(store_outbox_waiting(s, &e), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(store_outbox_put(s, "/v1/proposals", bodies + i, 1, 100 + i, &e),
				 0);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(store_outbox_next(s, at, &seq, &path, &body, &received, &e), 0);
		assert_memory_equal(body.p, bodies + i, 1);
		assert_string_equal(path.p, "/v1/proposals");
		assert_int_equal(received, 100 + i);
		assert_true(seq > at);
		seqs[i] = at = seq;
	}
	assert_int_equal(store_outbox_next(s, at, &seq, &path, &body, &received, &e), CC_ENOENT);
	assert_int_equal(store_outbox_last(s, &last, &e), 0);
	assert_int_equal(last, seqs[2]);
	/* deferred (0) or waiting for its proposal (-1): no longer holds up new requests */
	assert_int_equal(store_outbox_waiting(s, &e), 1);
	assert_int_equal(store_outbox_mark(s, seqs[0], 0, &e), 0);
	assert_int_equal(store_outbox_mark(s, seqs[1], -1, &e), 0);
	assert_int_equal(store_outbox_waiting(s, &e), 1);
	assert_int_equal(store_outbox_mark(s, seqs[2], 0, &e), 0);
	assert_int_equal(store_outbox_waiting(s, &e), 0);
	/* marks keep the order */
	assert_int_equal(store_outbox_next(s, 0, &seq, &path, &body, &received, &e), 0);
	assert_int_equal(seq, seqs[0]);
	assert_int_equal(received, 0);
	assert_int_equal(store_outbox_del(s, seqs[0], &e), 0);
	assert_int_equal(store_outbox_next(s, 0, &seq, &path, &body, &received, &e), 0);
	assert_int_equal(seq, seqs[1]);
	assert_int_equal(received, -1);
	/* a seq is never given again, even after the last one went */
	assert_int_equal(store_outbox_del(s, seqs[1], &e), 0);
	assert_int_equal(store_outbox_del(s, seqs[2], &e), 0);
	assert_int_equal(store_outbox_put(s, "/v1/proposals", "d", 1, 200, &e), 0);
	assert_int_equal(store_outbox_next(s, 0, &seq, &path, &body, &received, &e), 0);
	assert_true(seq > seqs[2]);
	cbuf_free(&path);
	cbuf_free(&body);
	store_close(s);
}

static int collect_body(void *ctx, const char *path, const void *body, size_t len)
{
	struct cbuf *out = ctx;

	if (strcmp(path, "/v1/proposals/x/signatures") == 0 && cbuf_puts(out, "+") < 0)
		return CC_ENOMEM;
	return cbuf_put(out, body, len) < 0 ? CC_ENOMEM : out->len >= 4;
}

/* The deferred requests to one or two paths, oldest first, and only those; the callback
 * stops the walk. */
static void test_outbox_deferred(void **state)
{
	struct fixture *f = *state;
	struct store *s = create(f);
	struct cbuf seen = CBUF_INIT;
	struct cc_err e = {0};
	const char *sigs = "/v1/proposals/x/signatures";

	assert_int_equal(store_outbox_deferred(s, "/v1/proposals", sigs, collect_body, &seen, &e),
			 0);
	assert_int_equal(store_outbox_put(s, "/v1/proposals", "a", 1, 100, &e), 0);
	assert_int_equal(store_outbox_put(s, sigs, "s", 1, 0, &e), 0);
	assert_int_equal(store_outbox_put(s, "/v1/proposals/y/signatures", "t", 1, 0, &e), 0);
	assert_int_equal(store_outbox_put(s, "/v1/proposals", "b", 1, 0, &e), 0);
	assert_int_equal(store_outbox_put(s, "/v1/proposals", "c", 1, -1, &e), 0);
	assert_int_equal(store_outbox_deferred(s, "/v1/proposals", NULL, collect_body, &seen, &e),
			 0);
	assert_int_equal(seen.len, 1);
	assert_memory_equal(seen.p, "b", 1);
	cbuf_reset(&seen);
	assert_int_equal(store_outbox_deferred(s, "/v1/proposals", sigs, collect_body, &seen, &e),
			 0);
	assert_int_equal(seen.len, 3);
	assert_memory_equal(seen.p, "+sb", 3);
	/* the callback's non-zero answer ends the walk and is returned */
	assert_int_equal(store_outbox_put(s, "/v1/proposals", "d", 1, 0, &e), 0);
	assert_int_equal(store_outbox_put(s, "/v1/proposals", "e", 1, 0, &e), 0);
	cbuf_reset(&seen);
	assert_int_equal(store_outbox_deferred(s, "/v1/proposals", sigs, collect_body, &seen, &e),
			 1);
	assert_memory_equal(seen.p, "+sbd", 4);
	cbuf_free(&seen);
	store_close(s);
}

static void prop_set(struct store_proposal *p, const char *id, const char *status, int64_t received)
{
	memset(p, 0, sizeof(*p));
	snprintf(p->id, sizeof(p->id), "%s", id);
	snprintf(p->status, sizeof(p->status), "%s", status);
	p->body = (char *)"body\n";
	p->sigs = (char *)"";
	p->objections = (char *)"";
	p->received = received;
	p->idx = -1;
}

struct ids {		    /* ids seen by a listing */
	char all[256];	    /* first 4 characters of each, space-separated */
	struct store_at at; /* the last one's place */
};

static int list_ids(void *ctx, const struct store_proposal *p)
{
	struct ids *ids = ctx;
	size_t l = strlen(ids->all);

	snprintf(ids->all + l, sizeof(ids->all) - l, "%s%.4s", l ? " " : "", p->id);
	return 0;
}

static int list_at(void *ctx, const struct store_proposal *p)
{
	struct ids *ids = ctx;

	ids->at = p->at;
	return list_ids(ctx, p);
}

static void test_proposals(void **state)
{
	struct fixture *f = *state;
	struct store *s = create(f);
	struct store_proposal p, got;
	struct cc_err e = {0};
	struct ids ids;

	prop_set(&p, "aaaa", "pending", 100);
	assert_int_equal(store_proposal_put(s, &p, &e), 0);
	prop_set(&p, "bbbb", "pending", 100);
	assert_int_equal(store_proposal_put(s, &p, &e), 0);
	prop_set(&p, "cccc", "expired", 90);
	p.reason = (char *)"expired at 2026-11-29T00:00:00Z with state cn unmet";
	assert_int_equal(store_proposal_put(s, &p, &e), 0);
	/* Upsert: aaaa becomes accepted and keeps its place (rowid) among equal times. */
	prop_set(&p, "aaaa", "accepted", 100);
	p.sigs = (char *)"\xe2\x80\x94 cn AAAA\n";
	p.idx = 42;
	assert_int_equal(store_proposal_put(s, &p, &e), 0);

	assert_int_equal(store_proposal_get(s, "aaaa", &got, &e), 0);
	assert_string_equal(got.status, "accepted");
	assert_int_equal(got.idx, 42);
	assert_string_equal(got.sigs, "\xe2\x80\x94 cn AAAA\n");
	assert_string_equal(got.body, "body\n");
	assert_null(got.reason);
	store_proposal_free(&got);
	assert_int_equal(store_proposal_get(s, "cccc", &got, &e), 0);
	assert_int_equal(got.idx, -1);
	assert_non_null(got.reason);
	store_proposal_free(&got);
	assert_int_equal(store_proposal_get(s, "dddd", &got, &e), CC_ENOENT);

	/* Newest first: by time received, then by arrival. Without a status, every row but the
	 * accepted ones (the node reads those from the log). */
	memset(&ids, 0, sizeof(ids));
	assert_int_equal(store_proposals(s, NULL, NULL, 10, list_ids, &ids, &e), 0);
	assert_string_equal(ids.all, "bbbb cccc");
	memset(&ids, 0, sizeof(ids));
	assert_int_equal(store_proposals(s, "accepted", NULL, 10, list_ids, &ids, &e), 0);
	assert_string_equal(ids.all, "aaaa");
	memset(&ids, 0, sizeof(ids));
	assert_int_equal(store_proposals(s, "pending", NULL, 10, list_ids, &ids, &e), 0);
	assert_string_equal(ids.all, "bbbb");
	memset(&ids, 0, sizeof(ids));
	assert_int_equal(store_proposals(s, NULL, NULL, 1, list_ids, &ids, &e), 0);
	assert_string_equal(ids.all, "bbbb");
	memset(&ids, 0, sizeof(ids));
	assert_int_equal(store_proposals(s, "rejected", NULL, 10, list_ids, &ids, &e), 0);
	assert_string_equal(ids.all, "");
	/* Page by page: each row says where the next page starts, ties of a second included. */
	prop_set(&p, "ffff", "pending", 100);
	assert_int_equal(store_proposal_put(s, &p, &e), 0);
	memset(&ids, 0, sizeof(ids));
	assert_int_equal(store_proposals(s, NULL, NULL, 1, list_at, &ids, &e), 0);
	assert_string_equal(ids.all, "ffff");
	assert_int_equal(store_proposals(s, NULL, &ids.at, 1, list_at, &ids, &e), 0);
	assert_string_equal(ids.all, "ffff bbbb");
	assert_int_equal(store_proposals(s, NULL, &ids.at, 1, list_at, &ids, &e), 0);
	assert_string_equal(ids.all, "ffff bbbb cccc");
	assert_int_equal(store_proposals(s, NULL, &ids.at, 1, list_at, &ids, &e), 0);
	assert_string_equal(ids.all, "ffff bbbb cccc");
	memset(&ids, 0, sizeof(ids));
	assert_int_equal(store_proposals(s, "pending", NULL, 1, list_at, &ids, &e), 0);
	assert_int_equal(store_proposals(s, "pending", &ids.at, 5, list_at, &ids, &e), 0);
	assert_string_equal(ids.all, "ffff bbbb");
	assert_int_equal(store_proposal_forget_pending(s, "ffff", &e), 0);

	/* A log cut back to 42 forgets what was accepted at 42 and after, nothing else. */
	prop_set(&p, "eeee", "accepted", 110);
	p.idx = 41;
	assert_int_equal(store_proposal_put(s, &p, &e), 0);
	assert_int_equal(store_proposals_cut(s, 42, &e), 0);
	assert_int_equal(store_proposal_get(s, "aaaa", &got, &e), CC_ENOENT);
	memset(&ids, 0, sizeof(ids));
	assert_int_equal(store_proposals(s, "accepted", NULL, 10, list_ids, &ids, &e), 0);
	assert_string_equal(ids.all, "eeee");

	/* Handed to another node: a pending proposal is forgotten, a decided one never. */
	assert_int_equal(store_proposal_forget_pending(s, "bbbb", &e), 0);
	assert_int_equal(store_proposal_forget_pending(s, "eeee", &e), 0);
	memset(&ids, 0, sizeof(ids));
	assert_int_equal(store_proposals(s, NULL, NULL, 10, list_ids, &ids, &e), 0);
	assert_string_equal(ids.all, "cccc");
	assert_int_equal(store_proposal_get(s, "eeee", &got, &e), 0);
	store_proposal_free(&got);
	store_close(s);
}

static void test_reader_isolation(void **state)
{
	struct fixture *f = *state;
	struct store *w = create(f), *r = NULL;
	struct cc_err e = {0};
	uint64_t n;

	put_entries(w, 0, 2);
	assert_int_equal(store_open(&r, f->path, STORE_READONLY, &e), 0);
	assert_int_equal(store_begin(w, &e), 0);
	assert_int_equal(store_entry_put(w, 2, "x", 1, &e), 0);
	/* In WAL mode the reader neither blocks nor sees the open transaction. */
	assert_int_equal(store_entry_count(r, &n, &e), 0);
	assert_int_equal(n, 2);
	assert_int_equal(store_commit(w, &e), 0);
	assert_int_equal(store_entry_count(r, &n, &e), 0);
	assert_int_equal(n, 3);
	/* The reader cannot write. */
	assert_int_equal(store_meta_put(r, "x", "y", &e), CC_EIO);
	store_close(r);
	store_close(w);
}

static void test_reopen(void **state)
{
	struct fixture *f = *state;
	struct store *s = create(f);
	struct cbuf b = CBUF_INIT;
	struct cc_err e = {0};
	uint64_t n;

	put_entries(s, 0, 300);
	assert_int_equal(store_begin(s, &e), 0);
	assert_int_equal(store_meta_put(s, "checkpoint", "ck", &e), 0);
	assert_int_equal(store_commit(s, &e), 0);
	store_close(s);
	s = NULL;
	assert_int_equal(store_open(&s, f->path, 0, &e), 0);
	assert_int_equal(store_entry_count(s, &n, &e), 0);
	assert_int_equal(n, 300);
	assert_int_equal(store_entry_get(s, 299, &b, &e), 0);
	assert_string_equal(b.p, "entry 299");
	assert_int_equal(store_meta_get(s, "checkpoint", &b, &e), 0);
	assert_string_equal(b.p, "ck");
	cbuf_free(&b);
	store_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_open_refusals, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_wal_mode, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_entries, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_gap_and_rollback, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_meta, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_outbox, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_outbox_deferred, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_proposals, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reader_isolation, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reopen, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
