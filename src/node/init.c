#include "node/init.h"

#include <dirent.h>
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/ledger.h"
#include "core/merkle.h"
#include "core/tlog.h"
#include "node/conf.h"
#include "node/store.h"

/* 1 when dir does not exist or is an empty directory; 0 with e set otherwise. */
static int init_dir_usable(const char *dir, int *exists, struct cc_err *e)
{
	struct dirent *de;
	struct stat sb;
	DIR *d;
	int empty = 1;

	*exists = 0;
	if (stat(dir, &sb) != 0) {
		if (errno == ENOENT)
			return 1;
		cc_fail(e, CC_EIO, "%s: %s", dir, strerror(errno));
		return 0;
	}
	*exists = 1;
	if (!S_ISDIR(sb.st_mode)) {
		cc_fail(e, CC_EEXIST, "%s exists and is not a directory", dir);
		return 0;
	}
	d = opendir(dir);
	if (d == NULL) {
		cc_fail(e, CC_EIO, "%s: %s", dir, strerror(errno));
		return 0;
	}
	while (empty && (de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			empty = 0;
	closedir(d);
	if (!empty)
		cc_fail(e, CC_EEXIST, "%s exists and is not empty: refusing to overwrite a node",
			dir);
	return empty;
}

/* Applies every genesis entry with verification; fills tree. */
static int init_check_genesis(struct ledger *l, struct merkle_tree *t, const unsigned char *g,
			      size_t len, struct cc_err *e)
{
	const unsigned char *entry;
	size_t off = 0, elen;
	unsigned char leaf[MERKLE_HASH];
	int ret;

	while ((ret = tlog_bundle_next(g, len, &off, &entry, &elen)) == 1) {
		if ((ret = ledger_apply_entry(l, entry, elen, 1, e)) < 0)
			return ret;
		merkle_leaf_hash(entry, elen, leaf);
		if (merkle_tree_append(t, leaf) < 0)
			return cc_fail(e, CC_ENOMEM, "out of memory");
	}
	if (ret < 0)
		return cc_fail(e, CC_EINVAL,
			       "the genesis file is not an entry bundle (truncated?)");
	if (ledger_size(l) == 0)
		return cc_fail(e, CC_EINVAL, "the genesis file is empty");
	if (!ledger_ready(l))
		return cc_fail(
		    e, CC_EINVAL,
		    "the genesis file is incomplete: %llu entries do not finish the genesis",
		    (unsigned long long)ledger_size(l));
	return 0;
}

struct init_files {			  /* what node_init created, to undo on failure */
	int made_dir;			  /* created dir itself */
	char key[CONF_PATH_MAX];	  /* node.key */
	char conf[CONF_PATH_MAX];	  /* node.conf */
	char db[CONF_PATH_MAX];		  /* concord.db */
	int have_key, have_conf, have_db; /* which exist */
};

static void init_undo(const char *dir, struct init_files *f)
{
	char p[CONF_PATH_MAX + 8];

	if (f->have_key)
		unlink(f->key);
	if (f->have_conf)
		unlink(f->conf);
	if (f->have_db) {
		unlink(f->db);
		snprintf(p, sizeof(p), "%s-wal", f->db);
		unlink(p);
		snprintf(p, sizeof(p), "%s-shm", f->db);
		unlink(p);
		snprintf(p, sizeof(p), "%s-journal", f->db);
		unlink(p);
	}
	if (f->made_dir)
		rmdir(dir);
}

static int init_write_db(const char *path, const unsigned char *g, size_t len,
			 const char *checkpoint, struct cc_err *e)
{
	struct store *s = NULL;
	const unsigned char *entry;
	size_t off = 0, elen;
	uint64_t idx = 0;
	int ret;

	if ((ret = store_open(&s, path, STORE_CREATE, e)) < 0)
		return ret;
	if ((ret = store_begin(s, e)) < 0)
		goto out;
	while (ret == 0 && tlog_bundle_next(g, len, &off, &entry, &elen) == 1)
		ret = store_entry_put(s, idx++, entry, elen, e);
	if (ret == 0)
		ret = store_meta_put(s, "checkpoint", checkpoint, e);
	if (ret == 0)
		ret = store_commit(s, e);
	else
		store_rollback(s);
out:
	store_close(s);
	return ret;
}

int node_init_bundle(const char *dir, const unsigned char *genesis, size_t len,
		     const struct key_pair *member, struct cc_err *e)
{
	struct init_files f;
	struct ledger *l = ledger_new();
	struct merkle_tree t;
	const struct ledger_member *m;
	struct note_signer logkey;
	struct note_sig sig;
	struct conf conf;
	struct cbuf keytext = CBUF_INIT, conftext = CBUF_INIT, cktext = CBUF_INIT, ck = CBUF_INIT;
	unsigned char seed[32], root[MERKLE_HASH];
	const char *origin;
	int exists, ret;

	memset(&f, 0, sizeof(f));
	memset(&logkey, 0, sizeof(logkey));
	merkle_tree_init(&t);
	if (l == NULL) {
		ret = cc_fail(e, CC_ENOMEM, "out of memory");
		goto out;
	}
	if (!init_dir_usable(dir, &exists, e)) {
		ret = e && e->code ? e->code : CC_EEXIST;
		goto out;
	}
	if ((ret = conf_path(f.key, dir, CONF_KEY_FILE, e)) < 0 ||
	    (ret = conf_path(f.conf, dir, CONF_FILE, e)) < 0 ||
	    (ret = conf_path(f.db, dir, CONF_DB_FILE, e)) < 0)
		goto out;
	/* Every check before anything is written. */
	if ((ret = init_check_genesis(l, &t, genesis, len, e)) < 0)
		goto out;
	origin = ledger_origin(l);
	m = ledger_member(l, member->sign.key.name);
	if (m == NULL) {
		ret =
		    cc_fail(e, CC_EPERM, "%s is not a member of %s", member->sign.key.name, origin);
		goto out;
	}
	if (memcmp(m->key.pub, member->sign.key.pub, 32) != 0) {
		ret =
		    cc_fail(e, CC_EPERM, "the key given is not member %s's registered key", m->id);
		goto out;
	}
	if (!note_name_valid(origin)) {
		ret = cc_fail(e, CC_EINVAL, "origin \"%s\" cannot name a key", origin);
		goto out;
	}
	randombytes_buf(seed, sizeof(seed));
	ret = note_signer_from_seed(&logkey, origin, seed);
	sodium_memzero(seed, sizeof(seed));
	if (ret < 0) {
		ret = cc_fail(e, ret, "cannot make the log key");
		goto out;
	}
	if ((ret = key_format_signer(&logkey, &keytext)) < 0 ||
	    (keytext.len && keytext.p[keytext.len - 1] != '\n' &&
	     (ret = cbuf_putc(&keytext, '\n')) < 0)) {
		ret = cc_fail(e, ret, "cannot write the log key");
		goto out;
	}
	memset(&conf, 0, sizeof(conf));
	snprintf(conf.member, sizeof(conf.member), "%s", m->id);
	snprintf(conf.http, sizeof(conf.http), "%s", CONF_HTTP_DEFAULT);
	if ((ret = merkle_tree_root(&t, ledger_size(l), root)) < 0 ||
	    (ret = tlog_checkpoint_text(&cktext, origin, ledger_size(l), root)) < 0 ||
	    (ret = note_sign(&logkey, cktext.p, cktext.len, &sig)) < 0 ||
	    (ret = note_format(cktext.p, cktext.len, &sig, 1, &ck)) < 0 ||
	    (ret = conf_format(&conf, &conftext)) < 0) {
		ret = cc_fail(e, ret, "cannot sign the first checkpoint");
		goto out;
	}
	if (!exists) {
		if (mkdir(dir, 0700) < 0) {
			ret = cc_fail(e, CC_EIO, "%s: %s", dir, strerror(errno));
			goto out;
		}
		f.made_dir = 1;
	}
	f.have_key = 1;
	if ((ret = conf_write_file(f.key, keytext.p, keytext.len, 0600, e)) < 0)
		goto out;
	f.have_conf = 1;
	if ((ret = conf_write_file(f.conf, conftext.p, conftext.len, 0644, e)) < 0)
		goto out;
	f.have_db = 1;
	if ((ret = init_write_db(f.db, genesis, len, ck.p, e)) < 0)
		goto out;
	ret = conf_sync_dir(dir, e);
out:
	if (ret < 0)
		init_undo(dir, &f);
	if (keytext.p)
		sodium_memzero(keytext.p, keytext.cap);
	sodium_memzero(&logkey, sizeof(logkey));
	cbuf_free(&keytext);
	cbuf_free(&conftext);
	cbuf_free(&cktext);
	cbuf_free(&ck);
	merkle_tree_free(&t);
	ledger_free(l);
	return ret;
}

int node_init(const char *dir, const char *genesis_path, const char *key_path, struct cc_err *e)
{
	struct cbuf g = CBUF_INIT, k = CBUF_INIT;
	struct key_pair kp;
	int ret;

	memset(&kp, 0, sizeof(kp));
	/* A genesis is one entry of at most 64 KiB plus its chunks: bound what we read. */
	if ((ret = conf_read_file(genesis_path, 256u << 20, &g, e)) < 0)
		goto out;
	if ((ret = conf_read_file(key_path, 4096, &k, e)) < 0)
		goto out;
	if ((ret = key_parse_private(&kp, k.p, k.len, e)) < 0)
		goto out;
	ret = node_init_bundle(dir, (const unsigned char *)g.p, g.len, &kp, e);
out:
	key_wipe(&kp);
	if (k.p)
		sodium_memzero(k.p, k.cap);
	cbuf_free(&k);
	cbuf_free(&g);
	return ret;
}
