/* The ledger state machine: genesis, proposals, policies, and the state they build. */
#include "core/ledger.h"
#include "core/kinds/kinds.h"
#include "core/sha256.h"
#include "core/tfmt.h"
#include "core/tlog.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ledger *ledger_new(void)
{
	struct ledger *l = calloc(1, sizeof(*l));

	if (l == NULL)
		return NULL;
	l->members = calloc(LEDGER_MAX_MEMBERS, sizeof(*l->members));
	if (l->members == NULL) {
		free(l);
		return NULL;
	}
	return l;
}

void ledger_free(struct ledger *l)
{
	if (l == NULL)
		return;
	for (size_t i = 0; i < l->tlds.cap; i++)
		if (l->tlds.slot[i].key)
			tld_free(l->tlds.slot[i].val);
	for (size_t i = 0; i < l->hosts.cap; i++)
		if (l->hosts.slot[i].key)
			host_free(l->hosts.slot[i].val);
	map_free(&l->tlds);
	map_free(&l->hosts);
	map_free(&l->dnsnames);
	free(l->touched);
	cbuf_free(&l->touch_names);
	free(l->members);
	free(l->policies);
	free(l->nodes);
	free(l->chunks);
	free(l);
}

/* ---- plans ---- */

void plan_free(struct plan *pl)
{
	for (size_t i = 0; i < pl->ntlds; i++)
		rr_set_free(&pl->tlds[i].recs);
	for (size_t i = 0; i < pl->nhosts; i++)
		rr_set_free(&pl->hosts[i].addrs);
	free(pl->tlds);
	free(pl->hosts);
	free(pl->members);
	free(pl->policies);
	free(pl->nodes);
	free(pl->network);
	free(pl->governed);
	memset(pl, 0, sizeof(*pl));
}

int plan_govern(struct plan *pl, const char *path)
{
	for (size_t i = 0; i < pl->ngoverned; i++)
		if (strcmp(pl->governed[i], path) == 0)
			return 0;
	if (pl->ngoverned == pl->capgoverned) {
		size_t cap = pl->capgoverned ? pl->capgoverned * 2 : 8;
		char(*v)[PATH_MAX_LEN + 1] = realloc(pl->governed, cap * sizeof(*v));

		if (v == NULL)
			return CC_ENOMEM;
		pl->governed = v;
		pl->capgoverned = cap;
	}
	str_copy(pl->governed[pl->ngoverned++], PATH_MAX_LEN + 1, path);
	return 0;
}

static int member_cmp(const void *a, const void *b)
{
	return strcmp(((const struct ledger_member *)a)->id, ((const struct ledger_member *)b)->id);
}

/* Every kind must stay governed, else nobody could ever change it again; so must every
 * node and network record there is (those kinds need no policy while they hold nothing). */
static int policies_cover(const struct policy_rec *set, size_t n,
			  const struct ledger_member *members, size_t nmembers,
			  const struct ledger_node *nodes, size_t nnodes,
			  const struct network_state *net, struct cc_err *e)
{
	static const char *const probes[] = {"tld/example", "member/example", "policy/example"};
	const struct ledger_member *st;
	char path[PATH_MAX_LEN + 1];

	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++)
			if (strcmp(set[i].pol.pattern, set[j].pol.pattern) == 0)
				return cc_fail(e, CC_EINVAL, "%s and %s both apply to %s",
					       set[i].path, set[j].path, set[i].pol.pattern);
	for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++)
		if (!policy_resolve(set, n, members, nmembers, probes[i], &st))
			return cc_fail(e, CC_EINVAL, "no policy would govern %.*s*",
				       (int)(strchr(probes[i], '/') - probes[i] + 1), probes[i]);
	for (size_t i = 0; i < nnodes + 2; i++) {
		if (i < nnodes)
			snprintf(path, sizeof(path), "node/%s", nodes[i].id);
		else if (i == nnodes && net->sequencer[0])
			str_copy(path, sizeof(path), "network/sequencer");
		else if (i == nnodes + 1 && net->den)
			str_copy(path, sizeof(path), "network/witness");
		else
			continue;
		if (!policy_resolve(set, n, members, nmembers, path, &st))
			return cc_fail(e, CC_EINVAL, "no policy would govern %s", path);
	}
	return 0;
}

static int members_check(const struct ledger_member *m, size_t nm, struct cc_err *e)
{
	if (nm == 0)
		return cc_fail(e, CC_EINVAL, "a network needs at least one member");
	if (nm > LEDGER_MAX_MEMBERS)
		return cc_fail(e, CC_ETOOBIG, "more than %d members", LEDGER_MAX_MEMBERS);
	for (size_t i = 0; i < nm; i++)
		for (size_t j = i + 1; j < nm; j++)
			if (memcmp(m[i].key.pub, m[j].key.pub, 32) == 0)
				return cc_fail(e, CC_EINVAL, "members %s and %s would share a key",
					       m[i].id, m[j].id);
	return 0;
}

/* Checks the member, policy, node and network sets a plan would leave behind. A genesis
 * chunk is checked whole only when it is the last one: until then records may still
 * come that a rule asks for (the sequencer's node, a policy). */
static int plan_check_registry(const struct ledger *l, const struct plan *pl, struct cc_err *e)
{
	struct ledger_member *m = NULL;
	struct policy_rec *p = NULL;
	struct ledger_node *nodes = NULL;
	struct network_state net;
	size_t nm = l->nmembers, np = l->npolicies, nn = 0;
	int last = pl->genesis && l->size == l->nchunks, ret = 0;

	if (pl->genesis ? !last && pl->nnodes == 0
			: pl->nmembers + pl->npolicies + pl->nnodes + pl->nnetwork == 0)
		return 0;
	m = calloc(LEDGER_MAX_MEMBERS + PROPOSAL_MAX_OPS, sizeof(*m));
	p = calloc(l->npolicies + pl->npolicies + 1, sizeof(*p));
	if (m == NULL || p == NULL || nodes_after(l, pl, &nodes, &nn) < 0) {
		ret = CC_ENOMEM;
		goto out;
	}
	network_after(l, pl, &net);
	memcpy(m, l->members, nm * sizeof(*m));
	if (np)
		memcpy(p, l->policies, np * sizeof(*p));
	for (size_t i = 0; i < pl->nmembers; i++) {
		const struct plan_member *pm = &pl->members[i];
		struct ledger_member *cur =
		    (struct ledger_member *)members_find(m, nm, pm->op->path + 7);

		if (pm->op->kind == OP_DELETE)
			*cur = m[--nm];
		else if (cur)
			*cur = pm->m;
		else
			m[nm++] = pm->m;
		qsort(m, nm, sizeof(*m), member_cmp);
	}
	for (size_t i = 0; i < pl->npolicies; i++) {
		const struct plan_policy *pp = &pl->policies[i];
		size_t j;

		for (j = 0; j < np && strcmp(p[j].path, pp->op->path) != 0; j++)
			;
		if (pp->op->kind == OP_DELETE)
			p[j] = p[--np];
		else if (j < np)
			p[j] = pp->rec;
		else
			p[np++] = pp->rec;
	}
	ret = nodes_check(l, m, nm, nodes, nn, e);
	if (ret < 0 || (pl->genesis && !last))
		goto out;
	/* The founding members are the genesis note's business. */
	if (!pl->genesis && (ret = members_check(m, nm, e)) < 0)
		goto out;
	ret = network_check(l, &net, nodes, nn, e);
	if (ret == 0)
		ret = policies_cover(p, np, m, nm, nodes, nn, &net, e);
out:
	free(m);
	free(p);
	free(nodes);
	return ret;
}

static int plan_build(const struct ledger *l, const struct proposal_op *ops, size_t nops,
		      int genesis, struct plan *pl, struct cc_err *e)
{
	int ret = 0;

	memset(pl, 0, sizeof(*pl));
	pl->genesis = genesis;
	pl->tlds = calloc(nops, sizeof(*pl->tlds));
	pl->members = calloc(nops, sizeof(*pl->members));
	pl->policies = calloc(nops, sizeof(*pl->policies));
	pl->nodes = calloc(nops, sizeof(*pl->nodes));
	pl->network = calloc(nops, sizeof(*pl->network));
	if (pl->tlds == NULL || pl->members == NULL || pl->policies == NULL || pl->nodes == NULL ||
	    pl->network == NULL) {
		ret = CC_ENOMEM;
		goto out;
	}
	/* TLDs first so that a host operation in the same proposal sees their glue. */
	for (size_t i = 0; ret == 0 && i < nops; i++)
		if (strncmp(ops[i].path, "tld/", 4) == 0)
			ret = tld_plan(l, pl, &ops[i], e);
	for (size_t i = 0; ret == 0 && i < nops; i++) {
		const struct proposal_op *op = &ops[i];

		if (strncmp(op->path, "host/", 5) == 0 && !genesis)
			ret = host_plan(l, pl, op, e);
		else if (strncmp(op->path, "member/", 7) == 0 && !genesis)
			ret = member_plan(l, pl, op, e);
		else if (strncmp(op->path, "policy/", 7) == 0)
			ret = policyrec_plan(l, pl, op, e);
		else if (strncmp(op->path, "node/", 5) == 0)
			ret = noderec_plan(l, pl, op, e);
		else if (strncmp(op->path, "network/", 8) == 0)
			ret = networkrec_plan(l, pl, op, e);
		else if (strncmp(op->path, "tld/", 4) != 0)
			ret = cc_fail(e, CC_EINVAL, "%s cannot be written here", op->path);
	}
	if (ret == 0)
		ret = tld_plan_finish(l, pl, e);
	if (ret == 0)
		ret = plan_check_registry(l, pl, e);
out:
	if (ret < 0)
		plan_free(pl);
	return ret;
}

/* ---- what entries wrote, for the zone (ledger_touched) ---- */

/* Remembers that entry index wrote name. Forgetting is always safe (a reader then rebuilds
 * everything), so memory trouble here costs history, never the entry. Names are kept one
 * after the other in one buffer: every entry touches several, and a copy of each on the
 * heap showed in the replay profile. */
static void touch(struct ledger *l, uint64_t index, const char *name)
{
	size_t len = strlen(name) + 1;
	struct ledger_touch *t;

	if (l->ntouched == LEDGER_TOUCH_MAX) {
		size_t half = LEDGER_TOUCH_MAX / 2, base = l->touched[half].name;

		l->touch_floor = l->touched[half - 1].index + 1;
		memmove(l->touched, l->touched + half, (l->ntouched - half) * sizeof(*t));
		l->ntouched -= half;
		memmove(l->touch_names.p, l->touch_names.p + base, l->touch_names.len - base);
		l->touch_names.len -= base;
		for (size_t i = 0; i < l->ntouched; i++)
			l->touched[i].name -= base;
	}
	if (l->touched == NULL) {
		l->touched = malloc(LEDGER_TOUCH_MAX * sizeof(*t));
		if (l->touched == NULL)
			goto forget;
	}
	/* with its NUL: names are read in place (ledger_touched) */
	t = &l->touched[l->ntouched];
	t->index = index;
	t->name = l->touch_names.len;
	if (cbuf_put(&l->touch_names, name, len) < 0)
		goto forget;
	l->ntouched++;
	return;
forget:
	l->touch_floor = index + 1;
}

/* The names a plan writes, before it is applied: its TLDs, the name servers they named
 * until now (a host no TLD uses any more disappears), the hosts given new addresses, and
 * the apex when a member (and with it maybe a root server) changes. */
static void plan_touch(struct ledger *l, const struct plan *pl, uint64_t index)
{
	char owner[RR_NAME_MAX + 2];

	if (pl->genesis) {
		l->touch_floor = index + 1;
		return;
	}
	for (size_t i = 0; i < pl->ntlds; i++) {
		const struct tld *t = pl->tlds[i].cur;

		snprintf(owner, sizeof(owner), "%s.", pl->tlds[i].label);
		touch(l, index, owner);
		for (size_t j = 0; t && j < t->recs.n; j++)
			if (t->recs.v[j].type == RR_NS)
				touch(l, index, t->recs.v[j].rdata);
	}
	for (size_t i = 0; i < pl->nhosts; i++)
		if (pl->hosts[i].changed)
			touch(l, index, pl->hosts[i].name);
	if (pl->nmembers || pl->nnodes)
		touch(l, index, ".");
}

int ledger_touched(const struct ledger *l, uint64_t since, ledger_touch_fn fn, void *ctx)
{
	size_t lo = 0, hi = l->ntouched;
	int ret = 0;

	if (since < l->touch_floor)
		return CC_ENOENT;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (l->touched[mid].index < since)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t i = lo; ret == 0 && i < l->ntouched; i++)
		ret = fn(ctx, l->touch_names.p + l->touched[i].name);
	return ret;
}

static int plan_apply(struct ledger *l, struct plan *pl, uint64_t index)
{
	int ret;

	plan_touch(l, pl, index);
	ret = tld_apply(l, pl, index);
	if (ret == 0)
		ret = member_apply(l, pl, index);
	if (ret == 0)
		ret = policyrec_apply(l, pl, index);
	if (ret == 0)
		ret = noderec_apply(l, pl, index);
	if (ret == 0)
		ret = networkrec_apply(l, pl, index);
	return ret;
}

/* ---- requirements ---- */

struct reqev {
	const struct policy_rec *pol;	   /* governing policy */
	const struct policy_req *req;	   /* its requirement */
	const struct ledger_member *state; /* REQ_STATE: the state */
	int chamber;			   /* REQ_CHAMBER / expanded REQ_OTHER_CHAMBERS */
	const char *path;		   /* first governed path it came from */
};

static int eligible(const struct reqev *r, const struct ledger_member *m)
{
	switch (r->req->kind) {
	case REQ_STATE:
		return m == r->state;
	case REQ_MEMBER:
		return strcmp(m->id, r->req->member) == 0;
	case REQ_ALL:
		return 1;
	default:
		return m->chamber == r->chamber;
	}
}

static int in_list(const char *const *v, size_t n, const char *id)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i], id) == 0)
			return 1;
	return 0;
}

static int reqs_add(struct reqev *v, size_t *n, const struct reqev *r)
{
	for (size_t i = 0; i < *n; i++)
		if (v[i].pol == r->pol && v[i].req == r->req && v[i].state == r->state &&
		    v[i].chamber == r->chamber)
			return 0;
	if (*n == LEDGER_MAX_NEEDS)
		return CC_ETOOBIG;
	v[(*n)++] = *r;
	return 0;
}

static int reqs_collect(const struct ledger *l, const struct plan *pl, struct reqev *v, size_t *n,
			int64_t *delay, struct cc_err *e)
{
	*n = 0;
	*delay = 0;
	for (size_t g = 0; g < pl->ngoverned; g++) {
		const struct ledger_member *state;
		const struct policy_rec *pr = policy_resolve(l->policies, l->npolicies, l->members,
							     l->nmembers, pl->governed[g], &state);

		if (pr == NULL)
			return cc_fail(e, CC_EPERM, "no policy governs %s", pl->governed[g]);
		if (pr->pol.delay > *delay)
			*delay = pr->pol.delay;
		for (unsigned i = 0; i < pr->pol.nreq; i++) {
			const struct policy_req *q = &pr->pol.req[i];
			struct reqev r = {pr, q, state, q->chamber, pl->governed[g]};
			int ret = 0;

			if (q->kind != REQ_OTHER_CHAMBERS) {
				r.chamber = q->kind == REQ_CHAMBER ? q->chamber : -1;
				ret = reqs_add(v, n, &r);
			}
			for (int c = 0;
			     ret == 0 && q->kind == REQ_OTHER_CHAMBERS && c < CHAMBER_COUNT; c++) {
				int named = 0, nonempty = 0;

				for (unsigned k = 0; k < pr->pol.nreq; k++)
					named |= pr->pol.req[k].kind == REQ_CHAMBER &&
						 pr->pol.req[k].chamber == c;
				for (size_t m = 0; m < l->nmembers; m++)
					nonempty |= l->members[m].chamber == c;
				if (named || !nonempty)
					continue;
				r.chamber = c;
				ret = reqs_add(v, n, &r);
			}
			if (ret < 0)
				return cc_fail(e, ret, "proposal touches too many policies");
		}
	}
	return 0;
}

static void need_describe(const struct reqev *r, char *out, size_t n)
{
	switch (r->req->kind) {
	case REQ_STATE:
		snprintf(out, n, "state %s", r->state->id);
		break;
	case REQ_MEMBER:
		snprintf(out, n, "member %s", r->req->member);
		break;
	case REQ_ALL:
		snprintf(out, n, "%u/%u of all members", r->req->num, r->req->den);
		break;
	default:
		snprintf(out, n, "%u/%u of %s", r->req->num, r->req->den, chamber_name(r->chamber));
		break;
	}
}

static int evaluate(const struct ledger *l, const struct proposal *p, const char *const *signers,
		    size_t nsigners, const char *const *objectors, size_t nobjectors, int64_t now,
		    struct ledger_verdict *v, struct plan *pl, struct cc_err *e)
{
	struct reqev *reqs = NULL;
	size_t nreqs = 0;
	int64_t delay = 0;
	int ret = 0, met = 1, impossible = 0;

	/* The verdict is large (every need's candidates); clear only what is read. */
	v->status = 0;
	v->nneeds = 0;
	v->ncounted = 0;
	v->not_before = 0;
	if (!l->ready)
		return cc_fail(e, CC_EINVAL, "the network's genesis is not complete");
	if (strcmp(p->origin, l->origin) != 0)
		return cc_fail(e, CC_EINVAL, "proposal is for network \"%s\", this is \"%s\"",
			       p->origin, l->origin);
	if (now > p->expires)
		return cc_fail(e, CC_EEXPIRED, "proposal %.16s expired", p->id);
	if (p->created > now + LEDGER_CLOCK_SKEW)
		return cc_fail(e, CC_ETIME, "proposal created in the future");
	if (!in_list(signers, nsigners, p->proposer))
		return cc_fail(e, CC_EPERM, "the proposer %s has not signed the proposal",
			       p->proposer);
	for (size_t i = 0; i < nobjectors; i++)
		if (in_list(signers, nsigners, objectors[i]))
			return cc_fail(e, CC_EINVAL, "%s both approves and objects", objectors[i]);
	ret = plan_build(l, p->ops, p->nops, 0, pl, e);
	if (ret < 0)
		return ret;
	reqs = calloc(LEDGER_MAX_NEEDS, sizeof(*reqs));
	if (reqs == NULL) {
		ret = CC_ENOMEM;
		goto out;
	}
	ret = reqs_collect(l, pl, reqs, &nreqs, &delay, e);
	if (ret < 0)
		goto out;
	/* Every operation governs some path; a plan that needs nobody's consent is a bug in
	 * a record kind, and must not pass as approved by everyone. */
	if (nreqs == 0) {
		ret =
		    cc_fail(e, CC_EINVAL, "proposal %.16s changes nothing a policy governs", p->id);
		goto out;
	}
	/* Every signature must count for something: a member signing for another state's
	 * ccTLD is refused, not silently ignored. */
	for (size_t s = 0; s < nsigners; s++) {
		const struct ledger_member *m = members_find(l->members, l->nmembers, signers[s]);
		int counts = 0;

		for (size_t i = 0; m && i < nreqs && !counts; i++)
			counts = eligible(&reqs[i], m);
		if (!counts) {
			char what[128];

			need_describe(&reqs[0], what, sizeof(what));
			ret = cc_fail(e, CC_EPERM, "%s may not sign for %s: %s needs %s%s",
				      signers[s], reqs[0].path, reqs[0].pol->path, what,
				      nreqs > 1 ? " and more" : "");
			goto out;
		}
	}
	for (size_t i = 0; i < nreqs; i++) {
		struct ledger_need *nd = &v->needs[v->nneeds++];
		unsigned size = 0, have = 0, open = 0;
		size_t cl = 0;

		nd->candidates[0] = '\0';

		str_copy(nd->policy, sizeof(nd->policy), reqs[i].pol->path);
		str_copy(nd->path, sizeof(nd->path), reqs[i].path);
		need_describe(&reqs[i], nd->what, sizeof(nd->what));
		for (size_t m = 0; m < l->nmembers; m++) {
			const struct ledger_member *mb = &l->members[m];

			if (!eligible(&reqs[i], mb))
				continue;
			size++;
			if (in_list(signers, nsigners, mb->id)) {
				have++;
			} else if (!in_list(objectors, nobjectors, mb->id)) {
				open++;
				if (cl + strlen(mb->id) + 2 < sizeof(nd->candidates))
					cl += (size_t)snprintf(nd->candidates + cl,
							       sizeof(nd->candidates) - cl, "%s%s",
							       cl ? " " : "", mb->id);
			}
		}
		if (reqs[i].req->kind == REQ_STATE || reqs[i].req->kind == REQ_MEMBER)
			nd->need = 1;
		else
			nd->need =
			    (reqs[i].req->num * size + reqs[i].req->den - 1) / reqs[i].req->den;
		nd->have = have;
		met &= have >= nd->need;
		impossible |= have + open < nd->need;
	}
	/* Without a consultation period there is nothing to wait for: a proposal dated a few
	 * seconds ahead by its maker's clock (within the allowed skew) is not held back. */
	v->not_before = p->created + delay;
	if (impossible)
		v->status = LEDGER_REJECTED;
	else if (met && (delay == 0 || now >= v->not_before))
		v->status = LEDGER_READY;
	else
		v->status = LEDGER_PENDING;
	for (size_t s = 0; s < nsigners; s++)
		str_copy(v->counted[v->ncounted++], MEMBER_ID_MAX + 1, signers[s]);
	qsort(v->counted, v->ncounted, sizeof(v->counted[0]),
	      (int (*)(const void *, const void *))strcmp);
out:
	free(reqs);
	if (ret < 0)
		plan_free(pl);
	return ret;
}

int ledger_evaluate(const struct ledger *l, const struct proposal *p, const char *const *signers,
		    size_t nsigners, const char *const *objectors, size_t nobjectors, int64_t now,
		    struct ledger_verdict *v, struct cc_err *e)
{
	struct plan pl;
	int ret = evaluate(l, p, signers, nsigners, objectors, nobjectors, now, v, &pl, e);

	if (ret == 0)
		plan_free(&pl);
	return ret;
}

int ledger_verify_sig(const struct note_key *k, const char *body, size_t len,
		      const struct note_sig *sig, struct cc_err *e)
{
	if (k == NULL)
		return cc_fail(e, CC_EPERM, "key \"%s\" is not a member's", sig->name);
	if (k->id != sig->id)
		return cc_fail(e, CC_EPERM,
			       "%s signed with key %08" PRIx32
			       ", not its registered key %08" PRIx32,
			       sig->name, sig->id, k->id);
	if (note_verify(k, body, len, sig) < 0)
		return cc_fail(e, CC_ESIG, "the signature of %s does not verify", sig->name);
	return 0;
}

const struct ledger_member *ledger_check_sig(const struct ledger *l, const char *body, size_t len,
					     const struct note_sig *sig, struct cc_err *e)
{
	const struct ledger_member *m = members_find(l->members, l->nmembers, sig->name);

	return ledger_verify_sig(m ? &m->key : NULL, body, len, sig, e) < 0 ? NULL : m;
}

/* Distinct signatures, sorted by member id: the canonical order of an entry. */
static int sigs_canonical(const struct note_sig *sigs, size_t nsigs, struct note_sig *sorted,
			  const char **names, size_t *n, struct cc_err *e)
{
	*n = 0;
	if (nsigs > NOTE_MAX_SIGS)
		return cc_fail(e, CC_ETOOBIG, "too many signatures");
	for (size_t i = 0; i < nsigs; i++) {
		size_t j = *n;

		if (in_list(names, *n, sigs[i].name))
			continue;
		while (j > 0 && strcmp(sorted[j - 1].name, sigs[i].name) > 0) {
			sorted[j] = sorted[j - 1];
			j--;
		}
		sorted[j] = sigs[i];
		(*n)++;
		for (size_t k = 0; k < *n; k++)
			names[k] = sorted[k].name;
	}
	return 0;
}

static int entry_write(const struct proposal *p, const struct note_sig *sorted, size_t n,
		       int64_t now, struct cbuf *entry, struct cc_err *e)
{
	size_t start = entry->len;
	char t[TFMT_LEN + 1];
	int ret;

	tfmt_format(now, t);
	ret = cbuf_printf(entry, "concord proposal %s\n", t);
	if (ret == 0)
		ret = note_format(p->body, p->body_len, sorted, n, entry);
	if (ret == 0 && entry->len - start > TLOG_ENTRY_MAX)
		ret = cc_fail(e, CC_ETOOBIG, "the entry would exceed %d bytes", TLOG_ENTRY_MAX);
	if (ret < 0 && entry->len > start) {
		entry->len = start;
		entry->p[start] = '\0';
	}
	return ret;
}

int ledger_entry_build(const struct ledger *l, const struct proposal *p,
		       const struct note_sig *sigs, size_t nsigs, int64_t now, struct cbuf *entry,
		       struct cc_err *e)
{
	const char *names[NOTE_MAX_SIGS];
	struct note_sig sorted[NOTE_MAX_SIGS];
	struct ledger_verdict *v = NULL;
	size_t n = 0;
	int ret = sigs_canonical(sigs, nsigs, sorted, names, &n, e);

	if (ret < 0)
		return ret;
	v = malloc(sizeof(*v));
	if (v == NULL)
		return CC_ENOMEM;
	ret = ledger_evaluate(l, p, names, n, NULL, 0, now, v, e);
	if (ret == 0 && v->status != LEDGER_READY)
		ret = cc_fail(e, CC_EINVAL, "proposal %.16s is not ready", p->id);
	if (ret == 0)
		ret = entry_write(p, sorted, n, now, entry, e);
	free(v);
	return ret;
}

int ledger_accept(struct ledger *l, const struct proposal *p, const struct note_sig *sigs,
		  size_t nsigs, const char *const *objectors, size_t nobjectors, int64_t now,
		  struct ledger_verdict *v, struct cbuf *entry, struct cc_err *e)
{
	const char *names[NOTE_MAX_SIGS];
	struct note_sig sorted[NOTE_MAX_SIGS];
	struct plan pl;
	size_t n = 0;
	int ret = sigs_canonical(sigs, nsigs, sorted, names, &n, e);

	if (ret < 0)
		return ret;
	if (now < l->time)
		now = l->time; /* entry times never go backwards */
	ret = evaluate(l, p, names, n, objectors, nobjectors, now, v, &pl, e);
	if (ret < 0)
		return ret;
	if (v->status == LEDGER_READY) {
		ret = entry_write(p, sorted, n, now, entry, e);
		if (ret == 0)
			ret = plan_apply(l, &pl, l->size);
		if (ret == 0) {
			l->size++;
			l->time = now;
			memcpy(l->last_id, p->id, sizeof(l->last_id));
		}
	}
	plan_free(&pl);
	return ret;
}

/* ---- entries ---- */

static int parse_header(const unsigned char *entry, size_t len, char *kind, size_t kindsz,
			char *arg, size_t argsz, size_t *hlen)
{
	const unsigned char *nl = memchr(entry, '\n', len < 128 ? len : 128);
	char line[128], *sp;

	/* A NUL would end the copied line early and let bytes after it ride along unread:
	 * two different entries would then be the same decision. */
	if (nl == NULL || (size_t)(nl - entry) >= sizeof(line) ||
	    memchr(entry, '\0', (size_t)(nl - entry)) != NULL)
		return CC_EINVAL;
	memcpy(line, entry, (size_t)(nl - entry));
	line[nl - entry] = '\0';
	if (strncmp(line, "concord ", 8) != 0)
		return CC_EINVAL;
	sp = strchr(line + 8, ' ');
	if (sp == NULL || strchr(sp + 1, ' ') || (size_t)(sp - line - 8) >= kindsz ||
	    strlen(sp + 1) >= argsz)
		return CC_EINVAL;
	memcpy(kind, line + 8, (size_t)(sp - line - 8));
	kind[sp - line - 8] = '\0';
	snprintf(arg, argsz, "%s", sp + 1);
	*hlen = (size_t)(nl - entry) + 1;
	return 0;
}

static int apply_genesis(struct ledger *l, const char *payload, size_t len, int64_t t, int verify,
			 struct cc_err *e)
{
	struct note n = {0};
	const char *s, *end;
	char line[512], tb[TFMT_LEN + 2];
	size_t nm = 0, nc = 0;
	char last_dns[MEMBER_ID_MAX + 1] = "";
	int ret = note_parse(&n, payload, len, e), step = 0;
	int64_t bt = 0;

	if (ret < 0)
		return ret;
	free(l->chunks);
	l->chunks = calloc(len / 70 + 1, sizeof(*l->chunks));
	if (l->chunks == NULL) {
		ret = CC_ENOMEM;
		goto out;
	}
	s = n.text;
	end = n.text + n.text_len;
	while (s < end) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		size_t ln = (size_t)(nl - s);
		char f[6][256];
		int nf;

		if (ln >= sizeof(line)) {
			ret = cc_fail(e, CC_EINVAL, "genesis: line too long");
			goto out;
		}
		memcpy(line, s, ln);
		line[ln] = '\0';
		s = nl + 1;
		/* One spelling: fields apart by one space, and a sixth field read so that a
		 * member line cannot carry anything unread after its box key. */
		if (ln == 0 || line[0] == ' ' || line[ln - 1] == ' ' || strstr(line, "  ")) {
			ret = cc_fail(e, CC_EINVAL, "genesis: unexpected line \"%.64s\"", line);
			goto out;
		}
		nf = sscanf(line, "%255s %255s %255s %255s %255s %255s", f[0], f[1], f[2], f[3],
			    f[4], f[5]);
		if ((step == 3 || step == 5) && nf >= 4 && strcmp(f[0], "dns") == 0) {
			/* dns <id> <name> <address>...: a founding member's name server. */
			struct ledger_member *m =
			    (struct ledger_member *)members_find(l->members, nm, f[1]);
			const char *rest = line + 5 + strlen(f[1]);
			struct cbuf again = CBUF_INIT;
			int bad;

			if (m == NULL || strcmp(f[1], last_dns) <= 0 ||
			    member_dns_parse(&m->dns, rest, strlen(rest), NULL) < 0) {
				memset(&m->dns, 0, m ? sizeof(m->dns) : 0);
				ret = cc_fail(e, CC_EINVAL,
					      "genesis: dns %.32s: not a founding member, out of "
					      "order, or not \"NAME ADDRESS...\"",
					      f[1]);
				goto out;
			}
			/* One spelling, and one member per name server. */
			bad = member_dns_render(&m->dns, &again) < 0 || strcmp(again.p, rest) != 0;
			cbuf_free(&again);
			for (size_t j = 0; !bad && j < nm; j++)
				bad = &l->members[j] != m &&
				      strcmp(l->members[j].dns.name, m->dns.name) == 0;
			if (bad) {
				ret = cc_fail(
				    e, CC_EINVAL,
				    "genesis: dns %s: not in canonical form, or a name server "
				    "named twice",
				    m->id);
				goto out;
			}
			str_copy(last_dns, sizeof(last_dns), f[1]);
			step = 5;
			continue;
		}
		if (step == 0 && strcmp(line, "concord genesis v1") == 0) {
			step = 1;
		} else if (step == 1 && nf == 2 && strcmp(f[0], "origin") == 0 &&
			   strlen(f[1]) < sizeof(l->origin)) {
			snprintf(l->origin, sizeof(l->origin), "%s", f[1]);
			step = 2;
		} else if (step == 2 && nf == 2 && strcmp(f[0], "time") == 0 &&
			   snprintf(tb, sizeof(tb), "%s", f[1]) < (int)sizeof(tb) &&
			   tfmt_parse(tb, &bt) == 0 && bt == t) {
			step = 3;
		} else if (step == 3 && nf == 5 && strcmp(f[0], "member") == 0) {
			struct ledger_member *m = &l->members[nm];

			if (nm == LEDGER_MAX_MEMBERS || !member_id_valid(f[1]) ||
			    (nm && strcmp(l->members[nm - 1].id, f[1]) >= 0)) {
				ret = cc_fail(
				    e, CC_EINVAL,
				    "genesis: member \"%.32s\": bad id or not in ascending order",
				    f[1]);
				goto out;
			}
			snprintf(m->id, sizeof(m->id), "%s", f[1]);
			m->chamber = chamber_parse(f[2]);
			if (m->chamber < 0 || note_vkey_parse(&m->key, f[3], strlen(f[3]), e) < 0 ||
			    strcmp(m->key.name, m->id) != 0 || member_box_parse(m->box, f[4]) < 0) {
				ret = cc_fail(e, CC_EINVAL,
					      "genesis: member %s: bad chamber or keys", m->id);
				goto out;
			}
			m->version = 0;
			nm++;
		} else if ((step >= 3 && step <= 5) && nf == 2 && strcmp(f[0], "chunk") == 0 &&
			   strlen(f[1]) == 64 &&
			   sodium_hex2bin(l->chunks[nc], 32, f[1], 64, NULL, NULL, NULL) == 0) {
			nc++;
			step = 4;
		} else {
			ret = cc_fail(e, CC_EINVAL, "genesis: unexpected line \"%.64s\"", line);
			goto out;
		}
	}
	if (step != 4 || nm == 0) {
		ret = cc_fail(e, CC_EINVAL, "genesis: needs origin, time, members and chunks");
		goto out;
	}
	l->nmembers = nm;
	l->nchunks = nc;
	/* Every founding member signs, and nobody else. */
	if (n.nsigs != nm) {
		ret = cc_fail(e, CC_EPERM, "genesis: signed by %zu of %zu founding members",
			      n.nsigs, nm);
		goto out;
	}
	for (size_t i = 0; i < n.nsigs; i++) {
		const struct ledger_member *m;

		if (i && strcmp(n.sigs[i - 1].name, n.sigs[i].name) >= 0) {
			ret = cc_fail(e, CC_EINVAL, "genesis: signatures not in member order");
			goto out;
		}
		m = members_find(l->members, nm, n.sigs[i].name);
		if (m == NULL || m->key.id != n.sigs[i].id) {
			ret = cc_fail(e, CC_EPERM,
				      "genesis: signature by \"%s\", not a founding member's key",
				      n.sigs[i].name);
			goto out;
		}
		if (verify && note_verify(&m->key, n.text, n.text_len, &n.sigs[i]) < 0) {
			ret = cc_fail(e, CC_ESIG, "genesis: the signature of %s does not verify",
				      m->id);
			goto out;
		}
	}
	l->time = t;
out:
	if (ret < 0) {
		memset(l->origin, 0, sizeof(l->origin));
		l->nmembers = 0;
		l->nchunks = 0;
	}
	members_reindex(l);
	note_free(&n);
	return ret;
}

static int apply_chunk(struct ledger *l, const unsigned char *entry, size_t len, size_t hlen,
		       struct cc_err *e)
{
	const char *s = (const char *)entry + hlen, *end = (const char *)entry + len;
	unsigned char h[32];
	struct proposal_op *ops = NULL;
	size_t nops = 0, cap = 0;
	struct plan pl;
	int ret = 0;

	sha256_digest(entry, len, h);
	if (sodium_memcmp(h, l->chunks[l->size - 1], 32) != 0)
		return cc_fail(e, CC_ECONFLICT, "genesis chunk %llu does not match its hash",
			       (unsigned long long)l->size);
	while (s < end) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		char path[PATH_MAX_LEN + 1], extra;
		unsigned lines = 0;
		char hdr[PATH_MAX_LEN + 40];

		if (nl == NULL || (size_t)(nl - s) >= sizeof(hdr)) {
			ret = cc_fail(e, CC_EINVAL, "genesis chunk: bad record header");
			goto out;
		}
		memcpy(hdr, s, (size_t)(nl - s));
		hdr[nl - s] = '\0';
		if (sscanf(hdr, "record %300s %u%c", path, &lines, &extra) != 2 || lines == 0 ||
		    path_valid(path, e) < 0) {
			ret = cc_fail(e, CC_EINVAL, "genesis chunk: bad record header \"%.64s\"",
				      hdr);
			goto out;
		}
		if (nops == cap) {
			struct proposal_op *v;

			cap = cap ? cap * 2 : 64;
			v = realloc(ops, cap * sizeof(*v));
			if (v == NULL) {
				ret = CC_ENOMEM;
				goto out;
			}
			ops = v;
		}
		/* Earlier chunks' records are caught by the record kinds; within a chunk, a
		 * second record of a path would be planned as new next to the first. */
		for (size_t i = 0; i < nops; i++)
			if (strcmp(ops[i].path, path) == 0) {
				ret = cc_fail(e, CC_EINVAL, "genesis chunk: %s given twice", path);
				goto out;
			}
		memset(&ops[nops], 0, sizeof(ops[nops]));
		ops[nops].kind = OP_PUT;
		snprintf(ops[nops].path, sizeof(ops[nops].path), "%s", path);
		ops[nops].version = PROPOSAL_VERSION_NEW;
		s = nl + 1;
		ops[nops].content = s;
		for (unsigned i = 0; i < lines; i++) {
			nl = s < end ? memchr(s, '\n', (size_t)(end - s)) : NULL;
			if (nl == NULL) {
				ret = cc_fail(e, CC_EINVAL, "genesis chunk: %s: truncated", path);
				goto out;
			}
			s = nl + 1;
		}
		ops[nops].content_len = (size_t)(s - ops[nops].content);
		nops++;
	}
	/* The last chunk must leave every kind governed and the network whole: plan_build
	 * checks what it would leave, before applying, so that a refused chunk changes
	 * nothing. */
	ret = plan_build(l, ops, nops, 1, &pl, e);
	if (ret < 0)
		goto out;
	ret = plan_apply(l, &pl, l->size);
	plan_free(&pl);
	if (ret == 0 && l->size == l->nchunks)
		l->ready = 1;
out:
	free(ops);
	return ret;
}

/* A proposal entry whose payload is already read: n its note, p the note's proposal. */
static int apply_parsed(struct ledger *l, const struct note *n, const struct proposal *p, int64_t t,
			int verify, struct cc_err *e)
{
	struct ledger_verdict *v = NULL;
	const char *names[NOTE_MAX_SIGS];
	struct plan pl;
	int ret = 0;

	if (t < l->time) {
		ret = cc_fail(e, CC_ETIME, "entry time goes backwards");
		goto out;
	}
	for (size_t i = 0; i < n->nsigs; i++) {
		if (i && strcmp(n->sigs[i - 1].name, n->sigs[i].name) >= 0) {
			ret = cc_fail(e, CC_EINVAL, "signatures not in ascending member order");
			goto out;
		}
		if (verify) {
			if (!ledger_check_sig(l, n->text, n->text_len, &n->sigs[i], e)) {
				ret = e ? e->code : CC_ESIG;
				goto out;
			}
		} else {
			const struct ledger_member *m =
			    members_find(l->members, l->nmembers, n->sigs[i].name);

			if (m == NULL || m->key.id != n->sigs[i].id) {
				ret = cc_fail(e, CC_EPERM,
					      "signature by a key that is not a member's");
				goto out;
			}
		}
		names[i] = n->sigs[i].name;
	}
	v = malloc(sizeof(*v));
	if (v == NULL) {
		ret = CC_ENOMEM;
		goto out;
	}
	ret = evaluate(l, p, names, n->nsigs, NULL, 0, t, v, &pl, e);
	if (ret < 0)
		goto out;
	if (v->status != LEDGER_READY) {
		plan_free(&pl);
		ret = cc_fail(e, CC_EPERM, "the proposal's signatures do not meet its policies");
		goto out;
	}
	ret = plan_apply(l, &pl, l->size);
	plan_free(&pl);
	if (ret == 0) {
		l->time = t;
		memcpy(l->last_id, p->id, sizeof(l->last_id));
	}
out:
	free(v);
	return ret;
}

static int apply_proposal(struct ledger *l, const char *payload, size_t len, int64_t t, int verify,
			  struct cc_err *e)
{
	struct note n = {0};
	struct proposal p = {0};
	int ret;

	ret = note_parse(&n, payload, len, e);
	if (ret == 0)
		ret = proposal_parse(&p, n.text, n.text_len, e);
	if (ret == 0)
		ret = apply_parsed(l, &n, &p, t, verify, e);
	proposal_free(&p);
	note_free(&n);
	return ret;
}

int ledger_proposal_entry(const unsigned char *entry, size_t len, int64_t *t, size_t *note_at)
{
	char kind[16], arg[32];

	if (parse_header(entry, len, kind, sizeof(kind), arg, sizeof(arg), note_at) < 0 ||
	    strcmp(kind, "proposal") != 0 || tfmt_parse(arg, t) < 0)
		return CC_EINVAL;
	return 0;
}

int ledger_apply_entry(struct ledger *l, const unsigned char *entry, size_t len, int verify,
		       struct cc_err *e)
{
	return ledger_apply_entry_parsed(l, entry, len, NULL, NULL, verify, e);
}

int ledger_apply_entry_parsed(struct ledger *l, const unsigned char *entry, size_t len,
			      const struct note *n, const struct proposal *p, int verify,
			      struct cc_err *e)
{
	char kind[16], arg[32];
	size_t hlen = 0;
	int64_t t = 0;
	int ret = 0;

	if (len > TLOG_ENTRY_MAX)
		return cc_fail(e, CC_ETOOBIG, "entry over %d bytes", TLOG_ENTRY_MAX);
	if (parse_header(entry, len, kind, sizeof(kind), arg, sizeof(arg), &hlen) < 0)
		return cc_fail(e, CC_EINVAL, "entry %llu: bad header line",
			       (unsigned long long)l->size);
	if (l->size == 0) {
		if (strcmp(kind, "genesis") != 0 || tfmt_parse(arg, &t) < 0)
			return cc_fail(e, CC_EINVAL, "entry 0 must be \"concord genesis TIME\"");
		ret = apply_genesis(l, (const char *)entry + hlen, len - hlen, t, verify, e);
	} else if (l->size <= l->nchunks) {
		char want[32];

		snprintf(want, sizeof(want), "%llu", (unsigned long long)l->size);
		if (strcmp(kind, "chunk") != 0 || strcmp(arg, want) != 0)
			return cc_fail(e, CC_EINVAL, "entry %s must be \"concord chunk %s\"", want,
				       want);
		ret = apply_chunk(l, entry, len, hlen, e);
	} else {
		if (strcmp(kind, "proposal") != 0 || tfmt_parse(arg, &t) < 0)
			return cc_fail(e, CC_EINVAL, "entry %llu must be \"concord proposal TIME\"",
				       (unsigned long long)l->size);
		if (n && p)
			ret = apply_parsed(l, n, p, t, verify, e);
		else
			ret =
			    apply_proposal(l, (const char *)entry + hlen, len - hlen, t, verify, e);
	}
	if (ret == 0) {
		if (strcmp(kind, "proposal") != 0)
			l->last_id[0] = '\0';
		l->size++;
	}
	return ret;
}

/* ---- queries ---- */

const char *ledger_origin(const struct ledger *l)
{
	return l->origin;
}

uint64_t ledger_size(const struct ledger *l)
{
	return l->size;
}

const char *ledger_last_id(const struct ledger *l)
{
	return l->last_id;
}

int64_t ledger_time(const struct ledger *l)
{
	return l->time;
}

int ledger_ready(const struct ledger *l)
{
	return l->ready;
}

size_t ledger_member_count(const struct ledger *l)
{
	return l->nmembers;
}

const struct ledger_member *ledger_member_at(const struct ledger *l, size_t i)
{
	return i < l->nmembers ? &l->members[i] : NULL;
}

const struct ledger_member *ledger_member(const struct ledger *l, const char *id)
{
	return members_find(l->members, l->nmembers, id);
}

size_t ledger_node_count(const struct ledger *l)
{
	return l->nnodes;
}

const struct ledger_node *ledger_node_at(const struct ledger *l, size_t i)
{
	return i < l->nnodes ? &l->nodes[i] : NULL;
}

const struct ledger_node *ledger_node(const struct ledger *l, const char *id)
{
	return nodes_find(l->nodes, l->nnodes, id);
}

const char *ledger_sequencer(const struct ledger *l)
{
	return l->net.sequencer;
}

unsigned ledger_witness_need(const struct ledger *l)
{
	if (l->net.den == 0)
		return 0;
	return (unsigned)((l->net.num * l->nnodes + l->net.den - 1) / l->net.den);
}

const char *ledger_witness_quorum(const struct ledger *l)
{
	return l->net.quorum;
}

int ledger_get(const struct ledger *l, const char *path, struct cbuf *content, uint64_t *version)
{
	const char *name = strchr(path, '/');
	int ret = CC_ENOENT;

	if (name == NULL)
		return CC_ENOENT;
	name++;
	if (strncmp(path, "tld/", 4) == 0) {
		const struct tld *t = map_get(&l->tlds, name);

		if (t) {
			*version = t->version;
			ret = tld_render(l, t, content);
		}
	} else if (strncmp(path, "host/", 5) == 0) {
		const struct host *h = map_get(&l->hosts, name);

		if (h) {
			*version = h->version;
			ret = host_render(h, content);
		}
	} else if (strncmp(path, "member/", 7) == 0) {
		const struct ledger_member *m = members_find(l->members, l->nmembers, name);

		if (m) {
			*version = m->version;
			ret = member_render(m, content);
		}
	} else if (strncmp(path, "policy/", 7) == 0) {
		for (size_t i = 0; i < l->npolicies; i++)
			if (strcmp(l->policies[i].path, path) == 0) {
				*version = l->policies[i].version;
				ret = policy_format(&l->policies[i].pol, content);
			}
	} else if (strncmp(path, "node/", 5) == 0) {
		const struct ledger_node *n = nodes_find(l->nodes, l->nnodes, name);

		if (n) {
			*version = n->version;
			ret = ledger_node_render(n, content);
		}
	} else if (strncmp(path, "network/", 8) == 0) {
		ret = networkrec_render(&l->net, name, content, version);
	}
	return ret;
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int ledger_foreach(const struct ledger *l, const char *prefix, ledger_record_fn fn, void *ctx)
{
	size_t cap = l->tlds.n + l->hosts.n + l->nmembers + l->npolicies + l->nnodes + 2, n = 0;
	char **paths = calloc(cap + 1, sizeof(*paths));
	struct cbuf c = CBUF_INIT;
	int ret = 0;

	if (paths == NULL)
		return CC_ENOMEM;
	for (size_t i = 0; ret == 0 && i < l->tlds.cap; i++)
		if (l->tlds.slot[i].key && asprintf(&paths[n++], "tld/%s", l->tlds.slot[i].key) < 0)
			ret = CC_ENOMEM;
	for (size_t i = 0; ret == 0 && i < l->hosts.cap; i++)
		if (l->hosts.slot[i].key &&
		    asprintf(&paths[n++], "host/%s", l->hosts.slot[i].key) < 0)
			ret = CC_ENOMEM;
	for (size_t i = 0; ret == 0 && i < l->nmembers; i++)
		if (asprintf(&paths[n++], "member/%s", l->members[i].id) < 0)
			ret = CC_ENOMEM;
	for (size_t i = 0; ret == 0 && i < l->npolicies; i++)
		if ((paths[n++] = strdup(l->policies[i].path)) == NULL)
			ret = CC_ENOMEM;
	for (size_t i = 0; ret == 0 && i < l->nnodes; i++)
		if (asprintf(&paths[n++], "node/%s", l->nodes[i].id) < 0)
			ret = CC_ENOMEM;
	if (ret == 0 && l->net.sequencer[0] && (paths[n++] = strdup("network/sequencer")) == NULL)
		ret = CC_ENOMEM;
	if (ret == 0 && l->net.den && (paths[n++] = strdup("network/witness")) == NULL)
		ret = CC_ENOMEM;
	if (ret == 0)
		qsort(paths, n, sizeof(*paths), str_cmp);
	for (size_t i = 0; ret == 0 && i < n; i++) {
		uint64_t version = 0;

		if (paths[i] == NULL || strncmp(paths[i], prefix, strlen(prefix)) != 0)
			continue;
		cbuf_reset(&c);
		ret = ledger_get(l, paths[i], &c, &version);
		if (ret == 0)
			ret = fn(ctx, paths[i], c.p ? c.p : "", c.len, version);
	}
	for (size_t i = 0; i < n; i++)
		free(paths[i]);
	free(paths);
	cbuf_free(&c);
	return ret;
}

/* The zone TTL of a delegation record: DS as the real root has it, NS and glue longer. */
static uint32_t delegation_ttl(const struct rr *r)
{
	return r->type == RR_DS ? TTL_DS : TTL_DELEGATION;
}

int ledger_delegations_each(const struct ledger *l, ledger_rr_fn fn, void *ctx)
{
	int ret = 0;

	for (size_t i = 0; ret == 0 && i < l->tlds.cap; i++) {
		const struct tld *t = l->tlds.slot[i].val;

		for (size_t j = 0; t && ret == 0 && j < t->recs.n; j++)
			ret = fn(ctx, &t->recs.v[j], delegation_ttl(&t->recs.v[j]));
	}
	for (size_t i = 0; ret == 0 && i < l->hosts.cap; i++) {
		const struct host *h = l->hosts.slot[i].val;

		for (size_t j = 0; h && ret == 0 && j < h->addrs.n; j++)
			ret = fn(ctx, &h->addrs.v[j], TTL_DELEGATION);
	}
	return ret;
}

static int delegation_append(void *ctx, const struct rr *r, uint32_t ttl)
{
	struct rr_set *out = ctx;
	int ret = rr_set_append(out, r, 1);

	if (ret == 0)
		out->v[out->n - 1].ttl = ttl;
	return ret;
}

int ledger_delegations(const struct ledger *l, struct rr_set *out)
{
	size_t n0 = out->n;
	int ret = ledger_delegations_each(l, delegation_append, out);

	/* What this call added goes on failure: out is as it was. */
	if (ret < 0)
		out->n = n0;
	return ret;
}

int ledger_delegations_at(const struct ledger *l, const char *owner, struct rr_set *out)
{
	size_t len = strlen(owner), n0 = out->n;
	const struct host *h = map_get(&l->hosts, owner);
	int ret = 0;

	/* A TLD's owner is its one label and the root: "cn." */
	if (len > 1 && len < 65 && memchr(owner, '.', len - 1) == NULL) {
		char label[64];
		const struct tld *t;

		memcpy(label, owner, len - 1);
		label[len - 1] = '\0';
		t = map_get(&l->tlds, label);
		if (t)
			ret = rr_set_append(out, t->recs.v, t->recs.n);
	}
	if (ret == 0 && h)
		ret = rr_set_append(out, h->addrs.v, h->addrs.n);
	for (size_t i = n0; ret == 0 && i < out->n; i++)
		out->v[i].ttl = delegation_ttl(&out->v[i]);
	return ret;
}

int ledger_export_root(const struct ledger *l, struct cbuf *out)
{
	struct rr_set all = {0};
	int ret = ledger_delegations(l, &all);

	if (ret == 0)
		rr_sort(&all);
	for (size_t i = 0; ret == 0 && i < all.n; i++)
		ret = rr_format(&all.v[i], all.v[i].ttl, out);
	rr_set_free(&all);
	return ret;
}

int ledger_policy_for(const struct ledger *l, const char *path, char out[PATH_MAX_LEN + 1])
{
	const struct ledger_member *state;
	const struct policy_rec *p;

	if (strncmp(path, "host/", 5) == 0) {
		const struct host *h = map_get(&l->hosts, path + 5);

		if (h == NULL || h->nusers == 0)
			return CC_ENOENT;
		snprintf(out, PATH_MAX_LEN + 1, "every TLD using it");
		return 0;
	}
	p = policy_resolve(l->policies, l->npolicies, l->members, l->nmembers, path, &state);
	if (p == NULL)
		return CC_ENOENT;
	snprintf(out, PATH_MAX_LEN + 1, "%s", p->path);
	return 0;
}
