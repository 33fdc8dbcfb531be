/* Who sequences: whether this node decides proposals, follows the sequencer or stands by,
 * and the network's other nodes (their keys and URLs). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ledger.h"
#include "core/note.h"
#include "node/failover.h"
#include "node/node_impl.h"

/* The sequencer: the one the state names, or the one a failover note named since. */
static const char *node_seq_id(const struct node *n)
{
	return n->failover_to[0] != '\0' ? n->failover_to : ledger_sequencer(n->ledger);
}

int node_follows(const struct node *n)
{
	const char *seq = node_seq_id(n);

	return seq[0] != '\0' && strcmp(seq, n->conf.member) != 0;
}

void node_role_update(struct node *n)
{
	/* the failover is done once the log itself names that sequencer */
	if (n->failover_to[0] != '\0' && strcmp(n->failover_to, ledger_sequencer(n->ledger)) == 0)
		n->failover_to[0] = '\0';
	if (n->alarm == NULL)
		n->following = node_follows(n);
}

int node_sequencer_key(const struct node *n, struct note_key *k)
{
	return node_key_of(n, node_seq_id(n), k);
}

int node_key_of(const struct node *n, const char *id, struct note_key *k)
{
	const struct ledger_node *sn = ledger_node(n->ledger, id);

	if (sn == NULL)
		return CC_ENOENT;
	memset(k, 0, sizeof(*k));
	snprintf(k->name, sizeof(k->name), "%s", n->origin);
	memcpy(k->pub, sn->key, sizeof(k->pub));
	k->id = note_key_id(k->name, k->pub);
	return 0;
}

int node_sequencer_url(struct node *n, char *url, size_t cap)
{
	const struct ledger_node *sn;
	int ret = 0;

	node_rdlock(n);
	sn = n->following ? ledger_node(n->ledger, node_seq_id(n)) : NULL;
	if (sn != NULL) {
		snprintf(url, cap, "%s", sn->url);
		ret = 1;
	}
	node_unlock(n);
	return ret;
}

size_t node_count(struct node *n)
{
	size_t c;

	node_rdlock(n);
	c = ledger_node_count(n->ledger);
	node_unlock(n);
	return c;
}

int node_other(struct node *n, int slot, int any, char id[MEMBER_ID_MAX + 1],
	       char url[NODE_URL_MAX + 1])
{
	int ret = 0;

	node_rdlock(n);
	/* a node a failover named asks for cosignatures once the log names it, not before */
	if (any ||
	    (!n->following && n->alarm == NULL && strcmp(node_seq_id(n), n->conf.member) == 0 &&
	     strcmp(ledger_sequencer(n->ledger), n->conf.member) == 0)) {
		for (size_t i = 0; i < ledger_node_count(n->ledger); i++) {
			const struct ledger_node *nd = ledger_node_at(n->ledger, i);

			if (strcmp(nd->id, n->conf.member) == 0 || slot-- > 0)
				continue;
			snprintf(id, MEMBER_ID_MAX + 1, "%s", nd->id);
			snprintf(url, NODE_URL_MAX + 1, "%s", nd->url);
			ret = 1;
			break;
		}
	}
	node_unlock(n);
	return ret;
}

int node_url_of(struct node *n, const char *id, char url[NODE_URL_MAX + 1])
{
	const struct ledger_node *nd;
	int ret = 0;

	node_rdlock(n);
	if ((nd = ledger_node(n->ledger, id)) != NULL) {
		snprintf(url, NODE_URL_MAX + 1, "%s", nd->url);
		ret = 1;
	}
	node_unlock(n);
	return ret;
}

int node_failover_pending_self(struct node *n, char self[MEMBER_ID_MAX + 1])
{
	int ret;

	node_rdlock(n);
	ret = strcmp(n->failover_to, n->conf.member) == 0;
	snprintf(self, MEMBER_ID_MAX + 1, "%s", n->conf.member);
	node_unlock(n);
	return ret;
}

struct node_peer *node_others(struct node *n, size_t *count)
{
	struct node_peer *v;
	size_t k = 0, all;

	node_rdlock(n);
	all = ledger_node_count(n->ledger);
	v = all ? calloc(all, sizeof(*v)) : NULL;
	for (size_t i = 0; v && i < all; i++) {
		const struct ledger_node *nd = ledger_node_at(n->ledger, i);

		if (strcmp(nd->id, n->conf.member) == 0)
			continue;
		snprintf(v[k].id, sizeof(v[k].id), "%s", nd->id);
		snprintf(v[k].url, sizeof(v[k].url), "%s", nd->url);
		k++;
	}
	node_unlock(n);
	*count = k;
	return v;
}

void node_settle_deposed(struct node *n)
{
	uint64_t size = 0;
	int was;

	node_rdlock(n);
	was = strcmp(ledger_sequencer(n->ledger), n->conf.member) == 0 && n->failover_to[0] &&
	      strcmp(n->failover_to, n->conf.member) != 0;
	if (was)
		size = ledger_size(n->ledger);
	node_unlock(n);
	if (was)
		node_wait_durable(n, size);
}

/* A final checkpoint carries the cosignatures of witness_need nodes, each of which held every
 * entry it covers; any N - need + 1 nodes include one of them, so a takeover that has the
 * logs of that many leaves no final entry behind (with no witness quorum nothing is final).
 * And a node holds one failover note at a time: a takeover backed by more than half the
 * nodes is the only one, even when members signed two notes naming two nodes. */
size_t node_takeover_need(struct node *n, size_t *nodes)
{
	size_t all, need, witnesses;

	node_rdlock(n);
	all = ledger_node_count(n->ledger);
	need = ledger_witness_need(n->ledger);
	node_unlock(n);
	*nodes = all;
	witnesses = need == 0 || need > all ? 1 : all - need + 1;
	return witnesses > all / 2 + 1 ? witnesses : all / 2 + 1;
}

int node_takeover_note(const struct node *n, const struct proposal *p)
{
	char id[MEMBER_ID_MAX + 1];

	return strcmp(n->failover_to, n->conf.member) == 0 && failover_target(p, id) == 0 &&
	       strcmp(id, n->conf.member) == 0;
}

/* Whether this node decides proposals now: it is the sequencer the log names (a node a
 * failover named decides once the log holds the note), or the network names none. Under the
 * lock. */
int node_decides(const struct node *n)
{
	const char *seq = node_seq_id(n);

	if (n->alarm != NULL)
		return 0;
	return seq[0] == '\0' ||
	       (strcmp(seq, n->conf.member) == 0 && strcmp(ledger_sequencer(n->ledger), seq) == 0);
}

int node_role(struct node *n, char *url, size_t cap)
{
	const struct ledger_node *sn;
	const char *seq;
	int role = NODE_STANDS_BY;

	node_rdlock(n);
	seq = node_seq_id(n);
	if (node_decides(n))
		role = NODE_DECIDES;
	else if (n->alarm == NULL && strcmp(seq, n->conf.member) != 0 &&
		 (sn = ledger_node(n->ledger, seq)) != NULL)
		role = NODE_FOLLOWS, snprintf(url, cap, "%s", sn->url);
	node_unlock(n);
	return role;
}
