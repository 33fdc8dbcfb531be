/* network/<name>: how the members' nodes make one log. Two records, one line each:
 *   network/sequencer   "sequencer <id>"   the member whose node orders the log
 *   network/witness     "quorum <n>/<d>"   a checkpoint is final when ceil(n * nodes / d)
 *                                          node keys have cosigned it
 * Neither can be deleted, only replaced: a network with nodes always names both. */
#include "core/kinds/kinds.h"

#include <stdio.h>
#include <string.h>

enum { NET_SEQUENCER, NET_WITNESS };

static int network_which(const char *name)
{
	if (strcmp(name, "sequencer") == 0)
		return NET_SEQUENCER;
	if (strcmp(name, "witness") == 0)
		return NET_WITNESS;
	return -1;
}

int networkrec_plan(const struct ledger *l, struct plan *pl, const struct proposal_op *op,
		    struct cc_err *e)
{
	const char *s = op->content, *end = op->content + op->content_len;
	struct plan_network *pn = &pl->network[pl->nnetwork];
	int which = network_which(op->path + 8), exists;
	uint64_t version;
	char val[MEMBER_ID_MAX + 2];

	memset(pn, 0, sizeof(*pn));
	pn->op = op;
	if (which < 0)
		return cc_fail(e, CC_EINVAL,
			       "%s: unknown network record (network/sequencer, network/witness)",
			       op->path);
	if (op->kind == OP_DELETE)
		return cc_fail(e, CC_EINVAL, "%s cannot be deleted, only replaced", op->path);
	exists = which == NET_SEQUENCER ? l->net.sequencer[0] != '\0' : l->net.den != 0;
	version = which == NET_SEQUENCER ? l->net.sequencer_version : l->net.witness_version;
	if (pl->genesis && exists)
		return cc_fail(e, CC_EINVAL, "genesis: %s given twice", op->path);
	if (!pl->genesis &&
	    (op->version == PROPOSAL_VERSION_NEW ? exists
						 : !exists || version != (uint64_t)op->version))
		return cc_fail(e, CC_ESTALE, "%s: %s", op->path,
			       exists ? "the record exists with another version"
				      : "no such record");
	if (which == NET_SEQUENCER) {
		if (record_line(&s, end, "sequencer", val, sizeof(val)) < 0 || s != end ||
		    !member_id_valid(val))
			return cc_fail(e, CC_EINVAL,
				       "%s: content must be the line \"sequencer ID\" (a member "
				       "id)",
				       op->path);
		str_copy(pn->sequencer, sizeof(pn->sequencer), val);
	} else if (record_line(&s, end, "quorum", val, sizeof(val)) < 0 || s != end ||
		   policy_fraction_parse(val, &pn->num, &pn->den) < 0) {
		return cc_fail(e, CC_EINVAL,
			       "%s: content must be the line \"quorum N/D\" with 1 <= N <= D <= "
			       "100",
			       op->path);
	}
	pl->nnetwork++;
	return pl->genesis ? 0 : plan_govern(pl, op->path);
}

/* Writes one planned record into s; versions are the caller's. */
static void network_put(struct network_state *s, const struct plan_network *pn)
{
	if (network_which(pn->op->path + 8) == NET_SEQUENCER) {
		str_copy(s->sequencer, sizeof(s->sequencer), pn->sequencer);
		return;
	}
	s->num = pn->num;
	s->den = pn->den;
	snprintf(s->quorum, sizeof(s->quorum), "%u/%u", pn->num, pn->den);
}

void network_after(const struct ledger *l, const struct plan *pl, struct network_state *out)
{
	*out = l->net;
	for (size_t i = 0; i < pl->nnetwork; i++)
		network_put(out, &pl->network[i]);
}

int network_check(const struct ledger *l, const struct network_state *s,
		  const struct ledger_node *v, size_t n, struct cc_err *e)
{
	if (n && (s->sequencer[0] == '\0' || s->den == 0))
		return cc_fail(e, CC_EINVAL,
			       "a network with node records needs network/sequencer and "
			       "network/witness");
	if (s->sequencer[0] == '\0' || nodes_find(v, n, s->sequencer))
		return 0;
	if (nodes_find(l->nodes, l->nnodes, s->sequencer) &&
	    strcmp(l->net.sequencer, s->sequencer) == 0)
		return cc_fail(e, CC_EINVAL,
			       "node/%s runs the sequencer: name another in network/sequencer "
			       "in the same proposal",
			       s->sequencer);
	return cc_fail(e, CC_EINVAL, "network/sequencer: %s has no node record", s->sequencer);
}

int networkrec_apply(struct ledger *l, struct plan *pl, uint64_t index)
{
	for (size_t i = 0; i < pl->nnetwork; i++) {
		network_put(&l->net, &pl->network[i]);
		if (network_which(pl->network[i].op->path + 8) == NET_SEQUENCER)
			l->net.sequencer_version = index;
		else
			l->net.witness_version = index;
	}
	return 0;
}

int networkrec_render(const struct network_state *s, const char *name, struct cbuf *out,
		      uint64_t *version)
{
	switch (network_which(name)) {
	case NET_SEQUENCER:
		if (s->sequencer[0] == '\0')
			return CC_ENOENT;
		*version = s->sequencer_version;
		return cbuf_printf(out, "sequencer %s\n", s->sequencer);
	case NET_WITNESS:
		if (s->den == 0)
			return CC_ENOENT;
		*version = s->witness_version;
		return cbuf_printf(out, "quorum %s\n", s->quorum);
	}
	return CC_ENOENT;
}
