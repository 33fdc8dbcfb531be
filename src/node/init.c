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

#define INIT_NO_DIR 1 /* dir does not exist, or is an empty directory */
#define INIT_KEYS   2 /* dir holds exactly what node_keys wrote */

/* What dir holds: INIT_NO_DIR, INIT_KEYS when keys_ok and dir holds the files of
 * node_keys and nothing else, or 0 with e set (anything else: never overwritten). */
static int init_dir_state(const char *dir, int keys_ok, int *exists, struct cc_err *e)
{
	static const char *const keyfiles[] = {CONF_KEY_FILE, CONF_ZSK_FILE, CONF_PUB_FILE};
	struct dirent *de;
	struct stat sb;
	DIR *d;
	unsigned seen = 0, other = 0;

	*exists = 0;
	if (stat(dir, &sb) != 0) {
		if (errno == ENOENT)
			return INIT_NO_DIR;
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
	while ((de = readdir(d)) != NULL) {
		unsigned bit = 0;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		for (unsigned i = 0; i < 3; i++)
			if (strcmp(de->d_name, keyfiles[i]) == 0)
				bit = 1u << i;
		if (bit == 0)
			other++;
		seen |= bit;
	}
	closedir(d);
	if (seen == 0 && other == 0)
		return INIT_NO_DIR;
	if (keys_ok && seen == 7 && other == 0)
		return INIT_KEYS;
	cc_fail(e, CC_EEXIST, "%s exists and is not empty%s: refusing to overwrite a node", dir,
		keys_ok ? " (nor does it hold just node.key, zsk.key and node.pub)" : "");
	return 0;
}

int node_pub_parse(struct ledger_node *n, const char *text, size_t len, struct cc_err *e)
{
	const char *nl = memchr(text, '\n', len);
	char id[MEMBER_ID_MAX + 1];
	size_t k;

	memset(n, 0, sizeof(*n));
	if (nl == NULL || len < 8 || memcmp(text, "member ", 7) != 0 ||
	    (k = (size_t)(nl - text) - 7) == 0 || k > MEMBER_ID_MAX)
		return cc_fail(e, CC_EINVAL, "%s: expected \"member ID\" then a node record",
			       CONF_PUB_FILE);
	memcpy(id, text + 7, k);
	id[k] = '\0';
	return ledger_node_parse(n, id, nl + 1, len - (size_t)(nl + 1 - text), e);
}

/* Reads what node_keys wrote into dir: the node key and node.pub, checked against each other
 * and against the zone-signing key's file. */
static int init_read_keys(const char *dir, struct note_signer *key, struct ledger_node *pub,
			  struct cc_err *e)
{
	char path[CONF_PATH_MAX];
	struct cbuf text = CBUF_INIT;
	struct cc_err pe = {0, ""};
	unsigned char seed[32], pk[32], sk[64];
	int created = 0, ret;

	if ((ret = conf_read_key(key, dir, e)) < 0)
		goto out;
	if (strcmp(key->key.name, CONF_NODE_KEY_NAME) != 0) {
		ret = cc_fail(e, CC_EINVAL, "%s/%s: the key is named %s, not %s", dir,
			      CONF_KEY_FILE, key->key.name, CONF_NODE_KEY_NAME);
		goto out;
	}
	/* The directory was seen to hold zsk.key: this reads it, never makes one. */
	if ((ret = conf_dnssec_seed(seed, dir, CONF_ZSK_FILE, CONF_ZSK_NAME, &created, e)) < 0)
		goto out;
	crypto_sign_seed_keypair(pk, sk, seed);
	if ((ret = conf_path(path, dir, CONF_PUB_FILE, e)) < 0 ||
	    (ret = conf_read_file(path, 4096, &text, e)) < 0)
		goto out;
	if ((ret = node_pub_parse(pub, text.p, text.len, &pe)) < 0) {
		cc_fail(e, ret, "%s: %s", path, pe.msg);
		goto out;
	}
	if (memcmp(pub->key, key->key.pub, 32) != 0 || memcmp(pub->zsk, pk, 32) != 0)
		ret = cc_fail(e, CC_EINVAL, "%s does not list the keys of %s and %s in %s",
			      CONF_PUB_FILE, CONF_KEY_FILE, CONF_ZSK_FILE, dir);
out:
	sodium_memzero(seed, sizeof(seed));
	sodium_memzero(sk, sizeof(sk));
	cbuf_free(&text);
	return ret;
}

/* The node keys in dir may serve member's node of this genesis. */
static int init_check_keys(const struct ledger *l, const char *member,
			   const struct ledger_node *pub, struct cc_err *e)
{
	const struct ledger_node *rec = ledger_node(l, member);

	if (strcmp(pub->id, member) != 0)
		return cc_fail(e, CC_EPERM, "%s is member %s's node, not member %s's",
			       CONF_PUB_FILE, pub->id, member);
	if (rec && (memcmp(rec->key, pub->key, 32) != 0 || memcmp(rec->zsk, pub->zsk, 32) != 0))
		return cc_fail(e, CC_EPERM,
			       "the genesis lists other keys for node/%s than %s: not this "
			       "node's keys",
			       member, CONF_PUB_FILE);
	return 0;
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

struct init_files {			  /* what node_init or node_keys created, to undo */
	int made_dir;			  /* created dir itself */
	char key[CONF_PATH_MAX];	  /* node.key */
	char conf[CONF_PATH_MAX];	  /* node.conf */
	char db[CONF_PATH_MAX];		  /* concord.db */
	char zsk[CONF_PATH_MAX];	  /* zsk.key */
	char pub[CONF_PATH_MAX];	  /* node.pub */
	char ksk[CONF_PATH_MAX];	  /* ksk.key, the network's KSK given to init */
	int have_key, have_conf, have_db; /* which exist */
	int have_zsk, have_pub, have_ksk; /* which exist */
};

static void init_undo(const char *dir, struct init_files *f)
{
	char p[CONF_PATH_MAX + 8];

	if (f->have_key)
		unlink(f->key);
	if (f->have_zsk)
		unlink(f->zsk);
	if (f->have_ksk)
		unlink(f->ksk);
	if (f->have_pub)
		unlink(f->pub);
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
	return node_init_bundle_ksk(dir, genesis, len, member, NULL, e);
}

int node_init_bundle_ksk(const char *dir, const unsigned char *genesis, size_t len,
			 const struct key_pair *member, const unsigned char *ksk, struct cc_err *e)
{
	struct init_files f;
	struct ledger *l = ledger_new();
	struct merkle_tree t;
	const struct ledger_member *m;
	struct note_signer logkey, nodekey;
	struct ledger_node pub;
	struct note_sig sig;
	struct conf conf;
	struct cbuf keytext = CBUF_INIT, conftext = CBUF_INIT, cktext = CBUF_INIT, ck = CBUF_INIT;
	unsigned char seed[32], root[MERKLE_HASH];
	const char *origin;
	int exists, state, ret;

	memset(&f, 0, sizeof(f));
	memset(&logkey, 0, sizeof(logkey));
	memset(&nodekey, 0, sizeof(nodekey));
	merkle_tree_init(&t);
	if (l == NULL) {
		ret = cc_fail(e, CC_ENOMEM, "out of memory");
		goto out;
	}
	state = init_dir_state(dir, 1, &exists, e);
	if (state == 0) {
		ret = e && e->code ? e->code : CC_EEXIST;
		goto out;
	}
	if ((ret = conf_path(f.key, dir, CONF_KEY_FILE, e)) < 0 ||
	    (ret = conf_path(f.conf, dir, CONF_FILE, e)) < 0 ||
	    (ret = conf_path(f.db, dir, CONF_DB_FILE, e)) < 0 ||
	    (ret = conf_path(f.ksk, dir, CONF_KSK_FILE, e)) < 0)
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
	if (state == INIT_KEYS) {
		/* The node key is the log key; the checkpoint names the log by its origin. */
		if ((ret = init_read_keys(dir, &nodekey, &pub, e)) < 0 ||
		    (ret = init_check_keys(l, m->id, &pub, e)) < 0)
			goto out;
		memcpy(seed, nodekey.sk, sizeof(seed));
	} else if (ledger_node(l, m->id)) {
		ret = cc_fail(e, CC_EPERM,
			      "the genesis lists node/%s: give a directory made by \"concord node "
			      "keys\" that holds its keys",
			      m->id);
		goto out;
	} else {
		randombytes_buf(seed, sizeof(seed));
	}
	ret = note_signer_from_seed(&logkey, origin, seed);
	sodium_memzero(seed, sizeof(seed));
	if (ret < 0) {
		ret = cc_fail(e, ret, "cannot make the log key");
		goto out;
	}
	if (state != INIT_KEYS && ((ret = key_format_signer(&logkey, &keytext)) < 0 ||
				   (keytext.len && keytext.p[keytext.len - 1] != '\n' &&
				    (ret = cbuf_putc(&keytext, '\n')) < 0))) {
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
	/* A file is ours to remove only once made here: conf_write_file removes what it
	 * half wrote, and never touches a file that was there. */
	if (state != INIT_KEYS &&
	    (ret = conf_write_file(f.key, keytext.p, keytext.len, 0600, e)) < 0)
		goto out;
	f.have_key = state != INIT_KEYS;
	/* The network's KSK: the node reads it on its first start instead of making one. */
	if (ksk && (ret = conf_dnssec_write(f.ksk, CONF_KSK_NAME, ksk, e)) < 0)
		goto out;
	f.have_ksk = ksk != NULL;
	if ((ret = conf_write_file(f.conf, conftext.p, conftext.len, 0644, e)) < 0)
		goto out;
	f.have_conf = 1;
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
	sodium_memzero(&nodekey, sizeof(nodekey));
	cbuf_free(&keytext);
	cbuf_free(&conftext);
	cbuf_free(&cktext);
	cbuf_free(&ck);
	merkle_tree_free(&t);
	ledger_free(l);
	return ret;
}

int node_init(const char *dir, const char *genesis_path, const char *key_path, const char *ksk_path,
	      struct cc_err *e)
{
	struct cbuf g = CBUF_INIT, k = CBUF_INIT;
	struct key_pair kp;
	unsigned char ksk[32];
	int ret;

	memset(&kp, 0, sizeof(kp));
	memset(ksk, 0, sizeof(ksk));
	if (ksk_path && (ret = conf_dnssec_read(ksk, ksk_path, CONF_KSK_NAME, e)) < 0)
		goto out;
	/* A genesis is one entry of at most 64 KiB plus its chunks: bound what we read. */
	if ((ret = conf_read_file(genesis_path, 256u << 20, &g, e)) < 0)
		goto out;
	if ((ret = conf_read_file(key_path, 4096, &k, e)) < 0)
		goto out;
	if ((ret = key_parse_private(&kp, k.p, k.len, e)) < 0)
		goto out;
	ret = node_init_bundle_ksk(dir, (const unsigned char *)g.p, g.len, &kp,
				   ksk_path ? ksk : NULL, e);
out:
	key_wipe(&kp);
	sodium_memzero(ksk, sizeof(ksk));
	if (k.p)
		sodium_memzero(k.p, k.cap);
	cbuf_free(&k);
	cbuf_free(&g);
	return ret;
}

int node_keys(const char *dir, const char *member, const char *url, struct cbuf *pub,
	      struct cc_err *e)
{
	struct init_files f;
	struct note_signer key;
	struct ledger_node n;
	struct cbuf keytext = CBUF_INIT, text = CBUF_INIT;
	unsigned char seed[32], sk[64];
	int exists, created = 0, ret;

	memset(&f, 0, sizeof(f));
	memset(&key, 0, sizeof(key));
	memset(&n, 0, sizeof(n));
	if (!member_id_valid(member)) {
		ret = cc_fail(e, CC_EINVAL, "\"%.40s\" is not a member id", member);
		goto out;
	}
	str_copy(n.id, sizeof(n.id), member);
	if ((ret = node_url_parse(n.url, url, e)) < 0)
		goto out;
	if (init_dir_state(dir, 0, &exists, e) == 0) {
		ret = e && e->code ? e->code : CC_EEXIST;
		goto out;
	}
	if ((ret = conf_path(f.key, dir, CONF_KEY_FILE, e)) < 0 ||
	    (ret = conf_path(f.pub, dir, CONF_PUB_FILE, e)) < 0 ||
	    (ret = conf_path(f.zsk, dir, CONF_ZSK_FILE, e)) < 0)
		goto out;
	randombytes_buf(seed, sizeof(seed));
	ret = note_signer_from_seed(&key, CONF_NODE_KEY_NAME, seed);
	if (ret == 0)
		ret = key_format_signer(&key, &keytext);
	if (ret == 0 && (keytext.len == 0 || keytext.p[keytext.len - 1] != '\n'))
		ret = cbuf_putc(&keytext, '\n');
	if (ret < 0) {
		ret = cc_fail(e, ret, "cannot make the node key");
		goto out;
	}
	memcpy(n.key, key.key.pub, 32);
	if (!exists) {
		if (mkdir(dir, 0700) < 0) {
			ret = cc_fail(e, CC_EIO, "%s: %s", dir, strerror(errno));
			goto out;
		}
		f.made_dir = 1;
	}
	if ((ret = conf_write_file(f.key, keytext.p, keytext.len, 0600, e)) < 0)
		goto out;
	f.have_key = 1;
	/* The zone-signing key file is the node's own format (conf_dnssec_seed): made here
	 * now instead of on the first start, so that its public half can be published. */
	f.have_zsk = 1;
	if ((ret = conf_dnssec_seed(seed, dir, CONF_ZSK_FILE, CONF_ZSK_NAME, &created, e)) < 0)
		goto out;
	crypto_sign_seed_keypair(n.zsk, sk, seed);
	if ((ret = cbuf_printf(&text, "member %s\n", n.id)) < 0 ||
	    (ret = ledger_node_render(&n, &text)) < 0) {
		ret = cc_fail(e, ret, "out of memory");
		goto out;
	}
	if ((ret = conf_write_file(f.pub, text.p, text.len, 0644, e)) < 0)
		goto out;
	f.have_pub = 1;
	if ((ret = conf_sync_dir(dir, e)) < 0)
		goto out;
	ret = cbuf_put(pub, text.p, text.len);
out:
	if (ret < 0)
		init_undo(dir, &f);
	sodium_memzero(seed, sizeof(seed));
	sodium_memzero(sk, sizeof(sk));
	sodium_memzero(&key, sizeof(key));
	if (keytext.p)
		sodium_memzero(keytext.p, keytext.cap);
	cbuf_free(&keytext);
	cbuf_free(&text);
	return ret;
}
