#include "node/store.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Statements prepared once per connection, by index. */
enum {
	Q_BEGIN,
	Q_COMMIT,
	Q_ROLLBACK,
	Q_ENTRY_PUT,
	Q_ENTRY_GET,
	Q_ENTRY_COUNT,
	Q_ENTRY_RANGE,
	Q_ENTRY_CUT,
	Q_META_PUT,
	Q_META_GET,
	Q_PROP_PUT,
	Q_PROP_GET,
	Q_PROP_ALL,
	Q_PROP_STATUS,
	Q_PROP_FINALS,
	Q_OUTBOX_PUT,
	Q_OUTBOX_NEXT,
	Q_OUTBOX_LAST,
	Q_OUTBOX_MARK,
	Q_OUTBOX_SETTLE,
	Q_OUTBOX_DEL,
	Q_OUTBOX_WAITING,
	Q_OUTBOX_DEFERRED,
	Q_PROP_CUT,
	Q_PROP_FORGET,
	Q_COUNT
};

static const char *const store_sql[Q_COUNT] = {
    [Q_BEGIN] = "BEGIN IMMEDIATE",
    [Q_COMMIT] = "COMMIT",
    [Q_ROLLBACK] = "ROLLBACK",
    [Q_ENTRY_PUT] = "INSERT INTO entries(idx, data) VALUES (?, ?)",
    [Q_ENTRY_GET] = "SELECT data FROM entries WHERE idx = ?",
    [Q_ENTRY_COUNT] = "SELECT count(*), coalesce(min(idx), 0), coalesce(max(idx), -1) FROM entries",
    [Q_ENTRY_RANGE] = "SELECT idx, data FROM entries WHERE idx >= ? AND idx < ? ORDER BY idx",
    [Q_ENTRY_CUT] = "DELETE FROM entries WHERE idx >= ?",
    [Q_META_PUT] = "INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)",
    [Q_META_GET] = "SELECT value FROM meta WHERE key = ?",
    /* An upsert rather than INSERT OR REPLACE: REPLACE deletes the row and gives it a new
     * rowid, which would reorder the "newest first" listing. */
    [Q_PROP_PUT] = "INSERT INTO proposals(id, body, sigs, objections, status, received, idx, "
		   "reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET "
		   "body = excluded.body, sigs = excluded.sigs, objections = excluded.objections, "
		   "status = excluded.status, received = excluded.received, idx = excluded.idx, "
		   "reason = excluded.reason",
    [Q_PROP_GET] = "SELECT id, body, sigs, objections, status, received, idx, reason FROM "
		   "proposals WHERE id = ?",
    [Q_PROP_ALL] = "SELECT id, body, sigs, objections, status, received, idx, reason, rowid "
		   "FROM proposals WHERE status <> 'accepted' AND (received < ?2 OR "
		   "(received = ?2 AND rowid < ?3)) ORDER BY received DESC, rowid DESC LIMIT ?4",
    [Q_PROP_STATUS] = "SELECT id, body, sigs, objections, status, received, idx, reason, rowid "
		      "FROM proposals WHERE status = ?1 AND (received < ?2 OR "
		      "(received = ?2 AND rowid < ?3)) ORDER BY received DESC, rowid DESC LIMIT ?4",
    [Q_PROP_FINALS] = "SELECT id, status, idx FROM proposals WHERE status <> 'pending'",
    [Q_OUTBOX_PUT] = "INSERT INTO outbox(path, body, received) VALUES (?, ?, ?)",
    [Q_OUTBOX_NEXT] = "SELECT seq, path, body, received FROM outbox WHERE seq > ? ORDER BY seq "
		      "LIMIT 1",
    [Q_OUTBOX_LAST] = "SELECT coalesce(max(seq), 0) FROM outbox",
    [Q_OUTBOX_MARK] = "UPDATE outbox SET received = ?2 WHERE seq = ?1",
    /* at start: a deferred request other than a plain proposal is judged again (an approval
     * kept by an older node with 0; a whole note sent for its approvals comes back 429 and
     * deferred again) */
    [Q_OUTBOX_SETTLE] = "UPDATE outbox SET received = -1 WHERE received = 0 AND "
			"path <> '/v1/proposals'",
    [Q_OUTBOX_DEL] = "DELETE FROM outbox WHERE seq = ?",
    /* received: when kept (> 0); 0 once the sequencer deferred it (429); -1 while it waits
     * for its proposal, deferred here. Only the first kind holds up new requests. */
    [Q_OUTBOX_WAITING] = "SELECT 1 FROM outbox WHERE received > 0 LIMIT 1",
    [Q_OUTBOX_DEFERRED] = "SELECT path, body FROM outbox WHERE received = 0 AND (path = ?1 OR "
			  "path = ?2) ORDER BY seq",
    [Q_PROP_CUT] = "DELETE FROM proposals WHERE status = 'accepted' AND idx >= ?",
    [Q_PROP_FORGET] = "DELETE FROM proposals WHERE id = ? AND status = 'pending'",
};

static const char store_outbox_schema[] =
    "CREATE TABLE IF NOT EXISTS outbox(seq INTEGER PRIMARY KEY AUTOINCREMENT, path TEXT NOT NULL, "
    "body BLOB NOT NULL, received INTEGER NOT NULL)";

static const char store_schema[] =
    "CREATE TABLE entries(idx INTEGER PRIMARY KEY, data BLOB NOT NULL);"
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value);"
    "CREATE TABLE proposals(id TEXT PRIMARY KEY, body TEXT, sigs TEXT, objections TEXT, "
    "status TEXT, received INTEGER, idx INTEGER, reason TEXT);"
    "CREATE INDEX proposals_status ON proposals(status, received);"
    "INSERT INTO meta(key, value) VALUES ('schema', '" STORE_SCHEMA "');";

struct store {
	sqlite3 *db;		  /* the connection */
	sqlite3_stmt *q[Q_COUNT]; /* prepared statements, NULL until first used */
	int wal_frames;		  /* frames in the WAL after the last commit (store_wal_manual) */
	char path[4096];	  /* database file, for messages */
};

static int store_fail(struct store *s, struct cc_err *e, const char *what)
{
	return cc_fail(e, CC_EIO, "%s: %s: %s", s->path, what, sqlite3_errmsg(s->db));
}

/* Returns the statement, reset and unbound, or NULL with e set. */
static sqlite3_stmt *store_stmt(struct store *s, int which, struct cc_err *e)
{
	sqlite3_stmt *st = s->q[which];

	if (st == NULL) {
		if (sqlite3_prepare_v3(s->db, store_sql[which], -1, SQLITE_PREPARE_PERSISTENT,
				       &s->q[which], NULL) != SQLITE_OK) {
			store_fail(s, e, "prepare");
			return NULL;
		}
		return s->q[which];
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return st;
}

/* Runs a statement that returns no row. */
static int store_step_done(struct store *s, sqlite3_stmt *st, const char *what, struct cc_err *e)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return store_fail(s, e, what);
	return 0;
}

static int store_pragma(struct store *s, const char *sql, const char *want, struct cc_err *e)
{
	sqlite3_stmt *st = NULL;
	int ret = 0, rc;

	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
		ret = store_fail(s, e, sql);
		goto out;
	}
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		ret = store_fail(s, e, sql);
		goto out;
	}
	if (want && (rc != SQLITE_ROW || sqlite3_column_text(st, 0) == NULL ||
		     strcmp((const char *)sqlite3_column_text(st, 0), want) != 0)) {
		ret = cc_fail(e, CC_EIO, "%s: %s did not give %s", s->path, sql, want);
		goto out;
	}
out:
	sqlite3_finalize(st);
	return ret;
}

int store_open(struct store **out, const char *path, int flags, struct cc_err *e)
{
	struct store *s;
	struct stat sb;
	struct cbuf v = CBUF_INIT;
	int oflags, ret;

	*out = NULL;
	if (strlen(path) >= sizeof(s->path))
		return cc_fail(e, CC_EINVAL, "%s: path too long", path);
	if ((flags & STORE_CREATE) && stat(path, &sb) == 0)
		return cc_fail(e, CC_EEXIST, "%s: already exists", path);
	if (!(flags & STORE_CREATE) && stat(path, &sb) != 0)
		return cc_fail(e, CC_ENOENT, "%s: no such database", path);
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return cc_fail(e, CC_ENOMEM, "out of memory");
	strcpy(s->path, path);
	if (flags & STORE_READONLY)
		oflags = SQLITE_OPEN_READONLY;
	else if (flags & STORE_CREATE)
		oflags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
	else
		oflags = SQLITE_OPEN_READWRITE;
	/* Each connection is used by one thread at a time (the caller's lock), so SQLite's own
	 * per-connection mutex is not needed. */
	oflags |= SQLITE_OPEN_NOMUTEX;
	if (sqlite3_open_v2(path, &s->db, oflags, NULL) != SQLITE_OK) {
		ret = cc_fail(e, CC_EIO, "%s: %s", path,
			      s->db ? sqlite3_errmsg(s->db) : "cannot open");
		goto out;
	}
	sqlite3_extended_result_codes(s->db, 1);
	/* Writers wait for each other rather than fail; readers in WAL mode never wait. */
	if ((ret = store_pragma(s, "PRAGMA busy_timeout = 10000", NULL, e)) < 0)
		goto out;
	if (!(flags & STORE_READONLY)) {
		if ((ret = store_pragma(s, "PRAGMA journal_mode = WAL", "wal", e)) < 0)
			goto out;
		/* FULL: the WAL is fsynced at every commit, so a commit that returned is on disk.
		 */
		if ((ret = store_pragma(s, "PRAGMA synchronous = FULL", NULL, e)) < 0)
			goto out;
	}
	if (flags & STORE_CREATE) {
		if (sqlite3_exec(s->db, store_schema, NULL, NULL, NULL) != SQLITE_OK) {
			ret = store_fail(s, e, "create schema");
			goto out;
		}
	}
	/* A file without our meta table is someone else's database (or not one at all). */
	if (store_pragma(s,
			 "SELECT 'yes' FROM sqlite_master WHERE type = 'table' AND name = 'meta'",
			 "yes", NULL) < 0) {
		ret = cc_fail(e, CC_EINVAL, "%s: not a Concord node database", path);
		goto out;
	}
	ret = store_meta_get(s, "schema", &v, e);
	if (ret == CC_ENOENT || (ret == 0 && strcmp(v.p, STORE_SCHEMA) != 0)) {
		ret = cc_fail(e, CC_EINVAL, "%s: not a Concord node database (schema %s)", path,
			      ret == 0 ? v.p : "missing");
		goto out;
	}
	if (ret < 0)
		goto out;
	/* Added after schema 1 was fixed, and harmless to nodes that never follow. */
	if (!(flags & STORE_READONLY) &&
	    sqlite3_exec(s->db, store_outbox_schema, NULL, NULL, NULL) != SQLITE_OK) {
		ret = store_fail(s, e, "create the outbox");
		goto out;
	}
	*out = s;
	s = NULL;
out:
	cbuf_free(&v);
	if (s)
		store_close(s);
	return ret;
}

void store_close(struct store *s)
{
	int i;

	if (s == NULL)
		return;
	for (i = 0; i < Q_COUNT; i++)
		sqlite3_finalize(s->q[i]);
	sqlite3_close(s->db);
	free(s);
}

static int store_exec(struct store *s, int which, const char *what, struct cc_err *e)
{
	sqlite3_stmt *st = store_stmt(s, which, e);

	if (st == NULL)
		return CC_EIO;
	return store_step_done(s, st, what, e);
}

int store_begin(struct store *s, struct cc_err *e)
{
	return store_exec(s, Q_BEGIN, "begin", e);
}

int store_commit(struct store *s, struct cc_err *e)
{
	return store_exec(s, Q_COMMIT, "commit", e);
}

void store_rollback(struct store *s)
{
	/* Fails harmlessly when no transaction is open (SQLite may have rolled back itself). */
	store_exec(s, Q_ROLLBACK, "rollback", NULL);
}

int store_entry_put(struct store *s, uint64_t idx, const void *data, size_t len, struct cc_err *e)
{
	sqlite3_stmt *st = store_stmt(s, Q_ENTRY_PUT, e);

	if (st == NULL)
		return CC_EIO;
	if (idx > INT64_MAX || len > INT32_MAX)
		return cc_fail(e, CC_EINVAL, "entry %llu: out of range", (unsigned long long)idx);
	sqlite3_bind_int64(st, 1, (sqlite3_int64)idx);
	/* A zero-length blob would bind as NULL with a NULL pointer: pass a real one. */
	sqlite3_bind_blob(st, 2, len ? data : "", (int)len, SQLITE_STATIC);
	return store_step_done(s, st, "write entry", e);
}

int store_entry_get(struct store *s, uint64_t idx, struct cbuf *out, struct cc_err *e)
{
	sqlite3_stmt *st = store_stmt(s, Q_ENTRY_GET, e);
	int rc, ret = 0;

	if (st == NULL)
		return CC_EIO;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)idx);
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		ret =
		    cc_fail(e, CC_ENOENT, "entry %llu: not in the store", (unsigned long long)idx);
		goto out;
	}
	if (rc != SQLITE_ROW) {
		ret = store_fail(s, e, "read entry");
		goto out;
	}
	cbuf_reset(out);
	if (cbuf_put(out, sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0)) < 0)
		ret = cc_fail(e, CC_ENOMEM, "out of memory");
out:
	sqlite3_reset(st);
	return ret;
}

int store_entry_count(struct store *s, uint64_t *n, struct cc_err *e)
{
	sqlite3_stmt *st = store_stmt(s, Q_ENTRY_COUNT, e);
	int64_t count, min, max;
	int ret = 0;

	if (st == NULL)
		return CC_EIO;
	if (sqlite3_step(st) != SQLITE_ROW) {
		ret = store_fail(s, e, "count entries");
		goto out;
	}
	count = sqlite3_column_int64(st, 0);
	min = sqlite3_column_int64(st, 1);
	max = sqlite3_column_int64(st, 2);
	/* Indexes are unique (primary key), so count = max+1 with min = 0 means no gap. */
	if (count > 0 && (min != 0 || max != count - 1)) {
		ret = cc_fail(e, CC_ECONFLICT,
			      "%s: the log has a gap (%lld entries with indexes %lld..%lld)",
			      s->path, (long long)count, (long long)min, (long long)max);
		goto out;
	}
	*n = (uint64_t)count;
out:
	sqlite3_reset(st);
	return ret;
}

int store_entries(struct store *s, uint64_t from, uint64_t count, store_entry_fn fn, void *ctx,
		  struct cc_err *e)
{
	sqlite3_stmt *st = store_stmt(s, Q_ENTRY_RANGE, e);
	uint64_t want = from;
	int rc, ret = 0;

	if (st == NULL)
		return CC_EIO;
	if (from > INT64_MAX || count > INT64_MAX - from)
		return cc_fail(e, CC_EINVAL, "entries: range out of bounds");
	sqlite3_bind_int64(st, 1, (sqlite3_int64)from);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)(from + count));
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		uint64_t idx = (uint64_t)sqlite3_column_int64(st, 0);
		const void *blob = sqlite3_column_blob(st, 1);
		size_t len = (size_t)sqlite3_column_bytes(st, 1);

		if (idx != want) {
			ret = cc_fail(e, CC_ENOENT, "entry %llu: not in the store",
				      (unsigned long long)want);
			goto out;
		}
		want++;
		if ((ret = fn(ctx, idx, blob ? blob : "", len)) != 0)
			goto out;
	}
	if (rc != SQLITE_DONE) {
		ret = store_fail(s, e, "read entries");
		goto out;
	}
	if (want != from + count)
		ret =
		    cc_fail(e, CC_ENOENT, "entry %llu: not in the store", (unsigned long long)want);
out:
	sqlite3_reset(st);
	return ret;
}

/* Runs q, a DELETE of the rows from index from on. */
static int store_cut(struct store *s, int q, uint64_t from, const char *what, struct cc_err *e)
{
	sqlite3_stmt *st = store_stmt(s, q, e);

	if (st == NULL)
		return CC_EIO;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)from);
	return store_step_done(s, st, what, e);
}

int store_entries_cut(struct store *s, uint64_t from, struct cc_err *e)
{
	return store_cut(s, Q_ENTRY_CUT, from, "remove entries", e);
}

int store_proposals_cut(struct store *s, uint64_t from, struct cc_err *e)
{
	return store_cut(s, Q_PROP_CUT, from, "remove accepted proposals", e);
}

int store_proposal_forget_pending(struct store *s, const char *id, struct cc_err *e)
{
	sqlite3_stmt *st = store_stmt(s, Q_PROP_FORGET, e);

	if (st == NULL)
		return CC_EIO;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	return store_step_done(s, st, "forget a pending proposal", e);
}

int store_meta_put(struct store *s, const char *key, const char *value, struct cc_err *e)
{
	sqlite3_stmt *st = store_stmt(s, Q_META_PUT, e);

	if (st == NULL)
		return CC_EIO;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
	return store_step_done(s, st, "write meta", e);
}

int store_meta_get(struct store *s, const char *key, struct cbuf *out, struct cc_err *e)
{
	sqlite3_stmt *st = store_stmt(s, Q_META_GET, e);
	const unsigned char *v;
	int rc, ret = 0;

	if (st == NULL)
		return CC_EIO;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		ret = cc_fail(e, CC_ENOENT, "%s: no meta value %s", s->path, key);
		goto out;
	}
	if (rc != SQLITE_ROW) {
		ret = store_fail(s, e, "read meta");
		goto out;
	}
	v = sqlite3_column_text(st, 0);
	cbuf_reset(out);
	if (cbuf_put(out, v ? (const char *)v : "", (size_t)sqlite3_column_bytes(st, 0)) < 0)
		ret = cc_fail(e, CC_ENOMEM, "out of memory");
out:
	sqlite3_reset(st);
	return ret;
}

int store_proposal_put(struct store *s, const struct store_proposal *p, struct cc_err *e)
{
	sqlite3_stmt *st = store_stmt(s, Q_PROP_PUT, e);

	if (st == NULL)
		return CC_EIO;
	sqlite3_bind_text(st, 1, p->id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, p->body ? p->body : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, p->sigs ? p->sigs : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, p->objections ? p->objections : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, p->status, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, p->received);
	if (p->idx >= 0)
		sqlite3_bind_int64(st, 7, p->idx);
	else
		sqlite3_bind_null(st, 7);
	if (p->reason)
		sqlite3_bind_text(st, 8, p->reason, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 8);
	return store_step_done(s, st, "write proposal", e);
}

static char *store_col_dup(sqlite3_stmt *st, int col)
{
	const unsigned char *v = sqlite3_column_text(st, col);
	size_t n = (size_t)sqlite3_column_bytes(st, col);
	char *p;

	if (v == NULL)
		v = (const unsigned char *)"";
	p = malloc(n + 1);
	if (p) {
		memcpy(p, v, n);
		p[n] = '\0';
	}
	return p;
}

/* Fills p from the current row of a proposals SELECT. */
static int store_proposal_row(sqlite3_stmt *st, struct store_proposal *p, struct cc_err *e)
{
	const unsigned char *id = sqlite3_column_text(st, 0);
	const unsigned char *status = sqlite3_column_text(st, 4);

	memset(p, 0, sizeof(*p));
	snprintf(p->id, sizeof(p->id), "%s", id ? (const char *)id : "");
	snprintf(p->status, sizeof(p->status), "%s", status ? (const char *)status : "");
	p->received = sqlite3_column_int64(st, 5);
	p->idx = sqlite3_column_type(st, 6) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 6);
	p->body = store_col_dup(st, 1);
	p->sigs = store_col_dup(st, 2);
	p->objections = store_col_dup(st, 3);
	if (sqlite3_column_type(st, 7) != SQLITE_NULL)
		p->reason = store_col_dup(st, 7);
	if (!p->body || !p->sigs || !p->objections ||
	    (sqlite3_column_type(st, 7) != SQLITE_NULL && !p->reason)) {
		store_proposal_free(p);
		return cc_fail(e, CC_ENOMEM, "out of memory");
	}
	return 0;
}

int store_proposal_get(struct store *s, const char *id, struct store_proposal *p, struct cc_err *e)
{
	sqlite3_stmt *st = store_stmt(s, Q_PROP_GET, e);
	int rc, ret;

	memset(p, 0, sizeof(*p));
	if (st == NULL)
		return CC_EIO;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE)
		ret = cc_fail(e, CC_ENOENT, "no proposal %s", id);
	else if (rc != SQLITE_ROW)
		ret = store_fail(s, e, "read proposal");
	else
		ret = store_proposal_row(st, p, e);
	sqlite3_reset(st);
	return ret;
}

int store_proposals(struct store *s, const char *status, const struct store_at *before,
		    size_t limit, store_proposal_fn fn, void *ctx, struct cc_err *e)
{
	sqlite3_stmt *st = store_stmt(s, status ? Q_PROP_STATUS : Q_PROP_ALL, e);
	struct store_proposal p;
	int rc, ret = 0;

	if (st == NULL)
		return CC_EIO;
	if (status)
		sqlite3_bind_text(st, 1, status, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, before ? before->received : INT64_MAX);
	sqlite3_bind_int64(st, 3, before ? before->rowid : INT64_MAX);
	sqlite3_bind_int64(st, 4, limit > INT64_MAX ? INT64_MAX : (sqlite3_int64)limit);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if ((ret = store_proposal_row(st, &p, e)) < 0)
			goto out;
		p.at.received = p.received;
		p.at.rowid = sqlite3_column_int64(st, 8);
		ret = fn(ctx, &p);
		store_proposal_free(&p);
		if (ret != 0)
			goto out;
	}
	if (rc != SQLITE_DONE)
		ret = store_fail(s, e, "list proposals");
out:
	sqlite3_reset(st);
	return ret;
}

void store_proposal_free(struct store_proposal *p)
{
	free(p->body);
	free(p->sigs);
	free(p->objections);
	free(p->reason);
	p->body = p->sigs = p->objections = p->reason = NULL;
}

int store_proposal_finals(struct store *s, store_final_fn fn, void *ctx, struct cc_err *e)
{
	sqlite3_stmt *st = store_stmt(s, Q_PROP_FINALS, e);
	int rc, ret = 0;

	if (st == NULL)
		return CC_EIO;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const unsigned char *id = sqlite3_column_text(st, 0);
		const unsigned char *status = sqlite3_column_text(st, 1);
		int64_t idx =
		    sqlite3_column_type(st, 2) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 2);

		ret = fn(ctx, id ? (const char *)id : "", status ? (const char *)status : "", idx);
		if (ret != 0)
			goto out;
	}
	if (rc != SQLITE_DONE)
		ret = store_fail(s, e, "list decided proposals");
out:
	sqlite3_reset(st);
	return ret;
}

static int store_wal_hook(void *ctx, sqlite3 *db, const char *name, int frames)
{
	struct store *s = ctx;

	s->wal_frames = frames;
	return SQLITE_OK;
}

void store_wal_manual(struct store *s)
{
	/* Replaces SQLite's own hook, which is what checkpoints automatically. */
	sqlite3_wal_hook(s->db, store_wal_hook, s);
}

int store_wal_frames(const struct store *s)
{
	return s->wal_frames;
}

int store_checkpoint(struct store *s, int *frames, int *backfilled, struct cc_err *e)
{
	int log = 0, done = 0, rc;

	rc = sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &done);
	if (frames)
		*frames = log;
	if (backfilled)
		*backfilled = done;
	if (rc == SQLITE_BUSY)
		return CC_EEXIST; /* another checkpoint is running */
	if (rc != SQLITE_OK)
		return store_fail(s, e, "checkpoint");
	return 0;
}

int store_outbox_put(struct store *s, const char *path, const void *body, size_t len,
		     int64_t received, struct cc_err *e)
{
	sqlite3_stmt *st = store_stmt(s, Q_OUTBOX_PUT, e);

	if (st == NULL)
		return CC_EIO;
	sqlite3_bind_text(st, 1, path, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 2, body, (int)len, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, received);
	return store_step_done(s, st, "queue a request", e);
}

int store_outbox_next(struct store *s, int64_t after, int64_t *seq, struct cbuf *path,
		      struct cbuf *body, int64_t *received, struct cc_err *e)
{
	sqlite3_stmt *st = store_stmt(s, Q_OUTBOX_NEXT, e);
	int rc, ret = 0;

	if (st == NULL)
		return CC_EIO;
	sqlite3_bind_int64(st, 1, after);
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		ret = CC_ENOENT;
		goto out;
	}
	if (rc != SQLITE_ROW) {
		ret = store_fail(s, e, "read the outbox");
		goto out;
	}
	*seq = sqlite3_column_int64(st, 0);
	*received = sqlite3_column_int64(st, 3);
	cbuf_reset(path);
	cbuf_reset(body);
	if (cbuf_puts(path, (const char *)sqlite3_column_text(st, 1)) < 0 ||
	    cbuf_put(body, sqlite3_column_blob(st, 2), (size_t)sqlite3_column_bytes(st, 2)) < 0)
		ret = cc_fail(e, CC_ENOMEM, "out of memory");
out:
	sqlite3_reset(st);
	return ret;
}

int store_outbox_last(struct store *s, int64_t *seq, struct cc_err *e)
{
	sqlite3_stmt *st = store_stmt(s, Q_OUTBOX_LAST, e);
	int rc;

	if (st == NULL)
		return CC_EIO;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*seq = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? 0 : store_fail(s, e, "read the outbox");
}

int store_outbox_settle(struct store *s, struct cc_err *e)
{
	sqlite3_stmt *st = store_stmt(s, Q_OUTBOX_SETTLE, e);

	if (st == NULL)
		return CC_EIO;
	return store_step_done(s, st, "settle the outbox", e);
}

int store_outbox_mark(struct store *s, int64_t seq, int64_t received, struct cc_err *e)
{
	sqlite3_stmt *st = store_stmt(s, Q_OUTBOX_MARK, e);

	if (st == NULL)
		return CC_EIO;
	sqlite3_bind_int64(st, 1, seq);
	sqlite3_bind_int64(st, 2, received);
	return store_step_done(s, st, "mark a queued request", e);
}

/* Runs statement which on outbox request seq. */
static int store_outbox_seq(struct store *s, int which, int64_t seq, const char *what,
			    struct cc_err *e)
{
	sqlite3_stmt *st = store_stmt(s, which, e);

	if (st == NULL)
		return CC_EIO;
	sqlite3_bind_int64(st, 1, seq);
	return store_step_done(s, st, what, e);
}

int store_outbox_waiting(struct store *s, struct cc_err *e)
{
	sqlite3_stmt *st = store_stmt(s, Q_OUTBOX_WAITING, e);
	int rc;

	if (st == NULL)
		return CC_EIO;
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc == SQLITE_ROW || rc == SQLITE_DONE)
		return rc == SQLITE_ROW;
	return store_fail(s, e, "read the outbox");
}

int store_outbox_deferred(struct store *s, const char *path, const char *path2, store_body_fn fn,
			  void *ctx, struct cc_err *e)
{
	sqlite3_stmt *st = store_stmt(s, Q_OUTBOX_DEFERRED, e);
	int rc, ret = 0;

	if (st == NULL)
		return CC_EIO;
	sqlite3_bind_text(st, 1, path, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, path2 ? path2 : path, -1, SQLITE_STATIC);
	while (ret == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW)
		ret = fn(ctx, (const char *)sqlite3_column_text(st, 0), sqlite3_column_blob(st, 1),
			 (size_t)sqlite3_column_bytes(st, 1));
	if (ret == 0 && rc != SQLITE_DONE)
		ret = store_fail(s, e, "read the outbox");
	sqlite3_reset(st);
	return ret;
}

int store_outbox_del(struct store *s, int64_t seq, struct cc_err *e)
{
	return store_outbox_seq(s, Q_OUTBOX_DEL, seq, "remove a request", e);
}
