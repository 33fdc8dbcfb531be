/* Opening a node (its directory, keys and store; the log replayed and checked against its
 * checkpoint; the pending proposals and the index of decided ones reloaded) and closing it. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "core/ledger.h"
#include "core/map.h"
#include "core/merkle.h"
#include "core/note.h"
#include "core/proposal.h"
#include "core/tlog.h"
#include "dns/zone.h"
#include "node/conf.h"
#include "node/failover.h"
#include "node/node_impl.h"
#include "node/store.h"
#include "node/witness.h"

static int replay_entry(void *ctx, uint64_t idx, const unsigned char *data, size_t len)
{
	struct node_replay *rp = ctx;
	unsigned char leaf[MERKLE_HASH];
	struct cc_err e = {0};

	if (ledger_apply_entry(rp->n->ledger, data, len, 0, &e) < 0)
		return cc_fail(rp->e, CC_ECONFLICT, "%s: log entry %" PRIu64 " does not apply: %s",
			       CONF_DB_FILE, idx, e.msg);
	merkle_leaf_hash(data, len, leaf);
	if (merkle_tree_append(&rp->n->tree, leaf) < 0 ||
	    node_finals_logged(&rp->n->finals, rp->n->ledger, idx) < 0)
		return cc_fail(rp->e, CC_ENOMEM, "out of memory");
	return 0;
}

/* The log key signs checkpoints under the network's origin; a node key made before the
 * genesis (concord node keys) carries another name, and the same seed serves. When the
 * network lists this node, its key must be the one listed. */
static int node_key_named(struct node *n, struct cc_err *e)
{
	const struct ledger_node *me = ledger_node(n->ledger, n->conf.member);
	int ret = 0;

	if (strcmp(n->key.key.name, n->origin) != 0) {
		struct note_signer s;

		if (strcmp(n->key.key.name, CONF_NODE_KEY_NAME) != 0)
			return cc_fail(e, CC_ECONFLICT,
				       "%s: the key is named \"%s\", the network is \"%s\"",
				       CONF_KEY_FILE, n->key.key.name, n->origin);
		ret = note_signer_from_seed(&s, n->origin, n->key.sk);
		if (ret == 0)
			n->key = s;
		sodium_memzero(&s, sizeof(s));
		if (ret < 0)
			return cc_fail(e, ret, "%s: cannot use the key", CONF_KEY_FILE);
	}
	if (me != NULL && memcmp(me->key, n->key.key.pub, 32) != 0)
		node_log("warning: %s is not the key of node/%s: this node can neither sequence "
			 "nor witness",
			 CONF_KEY_FILE, n->conf.member);
	return 0;
}

/* A follower commits the entries it takes from its sequencer as they come and the
 * sequencer's checkpoint once it holds all the entries it covers; entries stored beyond the
 * stored checkpoint are not confirmed and are taken again. */
static int node_cut_unconfirmed(struct node *n, const char *ck, size_t len, uint64_t *count,
				struct cc_err *e)
{
	struct note note = {0};
	char origin[TLOG_ORIGIN_MAX + 1];
	unsigned char root[MERKLE_HASH];
	uint64_t size;
	int ret;

	if ((ret = note_parse(&note, ck, len, e)) < 0 ||
	    (ret = tlog_checkpoint_parse(note.text, note.text_len, origin, &size, root, e)) < 0)
		goto out;
	if (size < *count) {
		ret = store_begin(n->wr, e);
		if (ret == 0)
			ret = store_entries_cut(n->wr, size, e);
		if (ret == 0)
			ret = store_commit(n->wr, e);
		if (ret < 0) /* a COMMIT that failed (busy) leaves the transaction open */
			store_rollback(n->wr);
		if (ret < 0)
			goto out;
		node_log("%" PRIu64 " entries beyond the checkpoint (size %" PRIu64
			 ") were not confirmed: taken again from the sequencer",
			 *count - size, size);
		*count = size;
	}
out:
	note_free(&note);
	return ret;
}

/* Checks the stored checkpoint against the replayed tree and the log key. */
static int node_check_checkpoint(struct node *n, const char *text, size_t len, struct cc_err *e)
{
	struct note note = {0};
	char origin[TLOG_ORIGIN_MAX + 1];
	unsigned char root[MERKLE_HASH], want[MERKLE_HASH];
	uint64_t size, have = ledger_size(n->ledger);
	struct note_key seq;
	int ret, signed_ok = 0, have_seq;

	if ((ret = note_parse(&note, text, len, e)) < 0)
		goto out;
	/* Its own key, or any node's: it was checked when it was taken (a failover may have
	 * named another sequencer since). */
	signed_ok = note_signed_by(&note, &n->key.key);
	for (size_t j = 0; !signed_ok && j < ledger_node_count(n->ledger); j++) {
		have_seq = node_key_of(n, ledger_node_at(n->ledger, j)->id, &seq) == 0;
		signed_ok = have_seq && note_signed_by(&note, &seq);
	}
	if (!signed_ok) {
		ret = cc_fail(e, CC_ESIG,
			      "%s: the stored checkpoint is signed neither by %s nor by the "
			      "sequencer",
			      CONF_DB_FILE, CONF_KEY_FILE);
		goto out;
	}
	if ((ret = tlog_checkpoint_parse(note.text, note.text_len, origin, &size, root, e)) < 0)
		goto out;
	if (strcmp(origin, n->origin) != 0) {
		ret =
		    cc_fail(e, CC_ECONFLICT, "%s: the checkpoint is for \"%s\", the log for \"%s\"",
			    CONF_DB_FILE, origin, n->origin);
		goto out;
	}
	if (size != have) {
		ret = cc_fail(e, CC_ECONFLICT,
			      "%s: the checkpoint covers %" PRIu64
			      " entries, the store holds %" PRIu64,
			      CONF_DB_FILE, size, have);
		goto out;
	}
	if ((ret = merkle_tree_root(&n->tree, size, want)) < 0)
		goto out;
	if (sodium_memcmp(root, want, MERKLE_HASH) != 0) {
		ret = cc_fail(e, CC_ECONFLICT,
			      "%s: the checkpoint's root hash does not match the %" PRIu64
			      " stored entries (the store was altered or is corrupt)",
			      CONF_DB_FILE, size);
		goto out;
	}
out:
	note_free(&note);
	return ret;
}

static int reload_prop(void *ctx, const struct store_proposal *row)
{
	struct node_replay *rp = ctx;
	struct node_prop *np;
	int ret;

	if ((ret = node_prop_from_row(rp->n, row, 1, &np, rp->e)) < 0)
		return ret;
	np->row_kept = 1;
	if (np->status != PS_PENDING || map_get(&rp->n->props, np->p.id) ||
	    map_put(&rp->n->props, np->p.id, np) < 0) {
		node_prop_free(np);
		return cc_fail(rp->e, CC_EIO, "%s: cannot reload proposal %s", CONF_DB_FILE,
			       row->id);
	}
	node_pend_tally(rp->n, np);
	return 0;
}

int node_reload_final(void *ctx, const char *id, const char *status, int64_t idx)
{
	struct node_replay *rp = ctx;
	unsigned char bin[32];
	int st;

	/* An id that is not one can never be asked for. */
	if (strlen(id) != PROPOSAL_ID_LEN || node_id_bin(id, bin) < 0)
		return 0;
	for (st = 0; st < PS_COUNT; st++)
		if (strcmp(status, node_prop_status_name[st]) == 0)
			break;
	/* An unknown status is looked up in the store when asked for, and reported there. */
	if (node_finals_put(rp->finals ? rp->finals : &rp->n->finals, id,
			    st == PS_ACCEPTED ? node_final_value(st, idx) : FINAL_REJECTED) < 0)
		return cc_fail(rp->e, CC_ENOMEM, "out of memory");
	return 0;
}

/* The zone's keys, made on the first start. */
static int node_dnssec_keys(struct node *n, struct cc_err *e)
{
	static const struct {
		const char *file, *name;
		uint16_t flags;
	} k[2] = {{CONF_KSK_FILE, "dnssec-ksk", DNS_KEY_KSK},
		  {CONF_ZSK_FILE, "dnssec-zsk", DNS_KEY_ZSK}};
	unsigned char seed[32];
	int ret = 0, created;

	for (int i = 0; ret == 0 && i < 2; i++) {
		ret = conf_dnssec_seed(seed, n->dir, k[i].file, k[i].name, &created, e);
		if (ret == 0)
			ret = dns_key_from_seed(i == 0 ? &n->ksk : &n->zsk, seed, k[i].flags);
		sodium_memzero(seed, sizeof(seed));
		if (ret == 0 && created)
			node_log("made the zone's %s in %s/%s", k[i].name, n->dir, k[i].file);
	}
	return ret < 0 && e && e->code == 0 ? cc_fail(e, ret, "cannot read the DNSSEC keys") : ret;
}

int node_open(struct node **out, const char *dir, struct cc_err *e)
{
	char path[CONF_PATH_MAX];
	struct cbuf ck = CBUF_INIT, vk = CBUF_INIT;
	struct node_replay rp;
	struct node *n;
	uint64_t count;
	pthread_rwlockattr_t ra;
	pthread_condattr_t ca;
	int ret;

	*out = NULL;
	n = calloc(1, sizeof(*n));
	if (n == NULL)
		return cc_fail(e, CC_ENOMEM, "out of memory");
	snprintf(n->dir, sizeof(n->dir), "%s", dir);
	n->dirfd = -1;
	randombytes_buf(&n->boot, sizeof(n->boot));
	pthread_mutex_init(&n->rd_mu, NULL);
	pthread_rwlockattr_init(&ra);
	/* Readers hold the shared lock briefly; writer preference keeps a steady stream of them
	 * from starving the appends. */
	pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&n->lock, &ra);
	pthread_rwlockattr_destroy(&ra);
	pthread_mutex_init(&n->q_mu, NULL);
	pthread_mutex_init(&n->ck_mu, NULL);
	pthread_mutex_init(&n->keys_mu, NULL);
	pthread_mutex_init(&n->dur_mu, NULL);
	pthread_mutex_init(&n->zone_mu, NULL);
	pthread_mutex_init(&n->follow_mu, NULL);
	pthread_mutex_init(&n->fin_mu, NULL);
	pthread_mutex_init(&n->fo_mu, NULL);
	pthread_cond_init(&n->dur_cond, NULL);
	pthread_cond_init(&n->ck_cond, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&n->q_cond, &ca);
	pthread_condattr_destroy(&ca);
	merkle_tree_init(&n->tree);
	batch_init(&n->batch, 0);
	n->ledger = ledger_new();
	n->v = malloc(sizeof(*n->v));
	if (n->ledger == NULL || n->v == NULL) {
		ret = cc_fail(e, CC_ENOMEM, "out of memory");
		goto out;
	}
	/* One process per directory: two would append different entries at the same index. */
	n->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (n->dirfd < 0) {
		ret = cc_fail(e, errno == ENOENT ? CC_ENOENT : CC_EIO, "%s", strerror(errno));
		goto out;
	}
	if (flock(n->dirfd, LOCK_EX | LOCK_NB) < 0) {
		ret = cc_fail(e, CC_EEXIST,
			      errno == EWOULDBLOCK ? "another concordd is running on this directory"
						   : "cannot lock the directory");
		goto out;
	}
	if ((ret = conf_read(&n->conf, dir, e)) < 0)
		goto out;
	if ((ret = conf_read_key(&n->key, dir, e)) < 0)
		goto out;
	if ((ret = node_dnssec_keys(n, e)) < 0)
		goto out;
	if ((ret = conf_path(path, dir, CONF_DB_FILE, e)) < 0)
		goto out;
	if ((ret = store_open(&n->wr, path, 0, e)) < 0)
		goto out;
	if ((ret = store_open(&n->rd, path, STORE_READONLY, e)) < 0)
		goto out;
	/* The checkpointer's connection; without one the committer checkpoints itself. */
	if (store_open(&n->ck, path, 0, NULL) < 0)
		n->ck = NULL;
	store_wal_manual(n->wr);
	if ((ret = store_entry_count(n->wr, &count, e)) < 0)
		goto out;
	if ((ret = store_meta_get(n->wr, "checkpoint", &ck, e)) < 0)
		goto out;
	if ((ret = node_cut_unconfirmed(n, ck.p, ck.len, &count, e)) < 0)
		goto out;
	rp.n = n;
	rp.e = e;
	rp.finals = NULL;
	if ((ret = store_entries(n->wr, 0, count, replay_entry, &rp, e)) < 0)
		goto out;
	if (!ledger_ready(n->ledger)) {
		ret = cc_fail(e, CC_ECONFLICT, "%s: the genesis in the log is incomplete",
			      CONF_DB_FILE);
		goto out;
	}
	snprintf(n->origin, sizeof(n->origin), "%s", ledger_origin(n->ledger));
	if ((ret = node_key_named(n, e)) < 0)
		goto out;
	if (store_meta_get(n->wr, "failover", &ck, NULL) == 0)
		failover_load(n, ck.p, ck.len);
	cbuf_reset(&ck);
	node_role_update(n);
	if (store_meta_get(n->wr, "alarm", &ck, NULL) == 0) {
		/* An alarm outlives a restart: the operator decides what follows. */
		n->alarm = cbuf_take(&ck);
		n->following = 0;
		json_t *a = json_loads(n->alarm, 0, NULL);

		node_log("ALARM (raised before): %s: %s",
			 json_string_value(json_object_get(a, "kind")) ?: "?",
			 json_string_value(json_object_get(a, "detail")) ?: "?");
		json_decref(a);
	}
	cbuf_reset(&ck);
	if (store_meta_get(n->wr, "final", &ck, NULL) == 0)
		node_final_load(n, ck.p, ck.len);
	cbuf_reset(&ck);
	if ((ret = store_meta_get(n->wr, "serial_offset", &ck, e)) == 0) {
		char *end;
		unsigned long v = strtoul(ck.p, &end, 10);

		if (*end != '\0' || end == ck.p || v > UINT32_MAX) {
			ret = cc_fail(e, CC_EINVAL, "%s: meta serial_offset is not a number",
				      CONF_DB_FILE);
			goto out;
		}
		n->serial_offset = (uint32_t)v;
	} else if (ret != CC_ENOENT) {
		goto out;
	}
	ret = 0;
	cbuf_reset(&ck);
	if ((ret = store_meta_get(n->wr, "checkpoint", &ck, e)) < 0)
		goto out;
	if ((ret = node_check_checkpoint(n, ck.p, ck.len, e)) < 0)
		goto out;
	n->checkpoint = cbuf_take(&ck);
	n->pub_size = count;
	n->durable = count;
	/* The checkpoint of a node that decides is its own: its witnesses' cosignatures are
	 * taken for it as for one just signed. Else the log of a network just made, or of a
	 * sequencer restarted before its last entries were final, waits for the next change
	 * to become final. */
	if (node_decides(n) && n->final_size < count)
		witness_recent(n, count, n->checkpoint);
	node_keys_refresh(n);
	if ((ret = note_vkey_format(&n->key.key, &vk)) < 0)
		goto out;
	n->log_vkey = cbuf_take(&vk);
	batch_init(&n->batch, count);
	if (ledger_member(n->ledger, n->conf.member) == NULL)
		node_log("warning: %s names member %s, who is not a member of %s", CONF_FILE,
			 n->conf.member, n->origin);
	if ((ret = store_proposals(n->wr, "pending", NULL, (size_t)INT64_MAX, reload_prop, &rp,
				   e)) < 0)
		goto out;
	if ((ret = store_proposal_finals(n->wr, node_reload_final, &rp, e)) < 0)
		goto out;
	*out = n;
	n = NULL;
out:
	cbuf_free(&ck);
	cbuf_free(&vk);
	node_close(n);
	return ret;
}

void node_close(struct node *n)
{
	if (n == NULL)
		return;
	if (n->started)
		node_stop(n);
	for (size_t i = 0; i < n->props.cap; i++)
		if (n->props.slot[i].key)
			node_prop_unref(n->props.slot[i].val);
	map_free(&n->props);
	for (size_t i = 0; i < n->pend_by.cap; i++)
		if (n->pend_by.slot[i].key)
			free(n->pend_by.slot[i].val);
	map_free(&n->pend_by);
	free(n->finals.v);
	batch_free(&n->batch);
	merkle_tree_free(&n->tree);
	ledger_free(n->ledger);
	store_close(n->wr);
	store_close(n->rd);
	store_close(n->ck);
	cbuf_free(&n->logq);
	pthread_mutex_destroy(&n->ck_mu);
	pthread_mutex_destroy(&n->keys_mu);
	free(n->keys);
	pthread_cond_destroy(&n->ck_cond);
	free(n->checkpoint);
	free(n->alarm);
	free(n->failover);
	free(n->suspect);
	for (int i = 0; i < NODE_RECENT; i++)
		free(n->recent[i].ck);
	for (int i = 0; i < n->nmirrors; i++)
		free(n->mirrors[i]);
	free(n->final_ck);
	free(n->log_vkey);
	free(n->v);
	sodium_memzero(&n->key, sizeof(n->key));
	zone_free(n->zone);
	if (n->journal)
		node_journal_clear(n);
	free(n->journal);
	dns_key_wipe(&n->ksk);
	dns_key_wipe(&n->zsk);
	pthread_mutex_destroy(&n->zone_mu);
	pthread_mutex_destroy(&n->follow_mu);
	pthread_mutex_destroy(&n->fin_mu);
	pthread_mutex_destroy(&n->fo_mu);
	if (n->dirfd >= 0)
		close(n->dirfd); /* releases the lock, after the store is closed */
	pthread_mutex_destroy(&n->rd_mu);
	pthread_rwlock_destroy(&n->lock);
	pthread_mutex_destroy(&n->q_mu);
	pthread_mutex_destroy(&n->dur_mu);
	pthread_cond_destroy(&n->dur_cond);
	pthread_cond_destroy(&n->q_cond);
	free(n);
}

int node_mirror_add(struct node *n, const char *url, struct cc_err *e)
{
	char *copy;

	if (n->nmirrors == NODE_MIRRORS_MAX)
		return cc_fail(e, CC_ETOOBIG, "at most %d mirrors", NODE_MIRRORS_MAX);
	if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
		return cc_fail(e, CC_EINVAL, "a mirror is an http:// or https:// URL");
	if ((copy = strdup(url)) == NULL)
		return cc_fail(e, CC_ENOMEM, "out of memory");
	n->mirrors[n->nmirrors++] = copy;
	return 0;
}
