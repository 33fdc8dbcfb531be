/* host/<name>: a name server's addresses, shared by every TLD whose NS set names it, as the
 * IANA database keeps host objects. A change to a shared host's addresses is one change that
 * needs the consent of every TLD that uses it; a host no TLD uses any more disappears. */
#include "core/kinds/kinds.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Records in canonical form are equal when their texts are (rr_cmp's order is only needed
 * for sorting). */
int rr_set_equal(const struct rr_set *a, const struct rr_set *b)
{
	if (a->n != b->n)
		return 0;
	for (size_t i = 0; i < a->n; i++)
		if (a->v[i].type != b->v[i].type || strcmp(a->v[i].owner, b->v[i].owner) != 0 ||
		    strcmp(a->v[i].rdata, b->v[i].rdata) != 0)
			return 0;
	return 1;
}

struct plan_host *plan_host_find(struct plan *pl, const char *name)
{
	for (size_t i = 0; i < pl->nhosts; i++)
		if (strcmp(pl->hosts[i].name, name) == 0)
			return &pl->hosts[i];
	return NULL;
}

/* One host's sorted addresses: 1..32 of them, no repeats. */
static int host_addrs_check_sorted(const struct rr *v, size_t n, const char *what, struct cc_err *e)
{
	if (n == 0)
		return cc_fail(e, CC_EINVAL, "%s: no address", what);
	if (n > 32)
		return cc_fail(e, CC_EINVAL, "%s: more than 32 addresses", what);
	for (size_t i = 1; i < n; i++)
		if (rr_cmp(&v[i - 1], &v[i]) == 0)
			return cc_fail(e, CC_EINVAL, "%s: line %u repeats address %s", what,
				       v[i].line, v[i].rdata);
	return 0;
}

/* The addresses a staged host will have. */
static const struct rr_set *plan_host_addrs(const struct plan_host *ph)
{
	return ph->changed ? &ph->addrs : &ph->cur->addrs;
}

/* Most TLD changes leave their name servers' addresses as they are: those are compared
 * where they lie and copied only when the plan writes them. */
int host_stage(const struct ledger *l, struct plan *pl, const char *name, const struct rr *v,
	       size_t n, int force, const char *from, struct cc_err *e)
{
	struct plan_host *ph = plan_host_find(pl, name);
	const struct rr_set view = {(struct rr *)v, n, n};
	int ret = host_addrs_check_sorted(v, n, from, e);

	if (ret < 0)
		return ret;
	if (ph) {
		if (!rr_set_equal(plan_host_addrs(ph), &view))
			return cc_fail(e, CC_EINVAL,
				       "%s and %s give different addresses for name server %s",
				       ph->from, from, name);
		if (!force || ph->changed)
			return 0;
		ret = rr_set_append(&ph->addrs, v, n);
		if (ret == 0)
			ph->changed = 1;
		return ret;
	}
	if (pl->nhosts == pl->caphosts) {
		size_t cap = pl->caphosts ? pl->caphosts * 2 : 16;
		struct plan_host *nv = realloc(pl->hosts, cap * sizeof(*nv));

		if (nv == NULL)
			return CC_ENOMEM;
		pl->hosts = nv;
		pl->caphosts = cap;
	}
	if (member_by_dns(l, name))
		return cc_fail(e, CC_EINVAL,
			       "%s: %s is a root server (member %s's name server), not a TLD's",
			       from, name, member_by_dns(l, name)->id);
	ph = &pl->hosts[pl->nhosts];
	memset(ph, 0, sizeof(*ph));
	str_copy(ph->name, sizeof(ph->name), name);
	ph->cur = map_get(&l->hosts, name);
	ph->changed = force || ph->cur == NULL || !rr_set_equal(&ph->cur->addrs, &view);
	ph->from = from;
	if (ph->changed) {
		ret = rr_set_append(&ph->addrs, v, n);
		if (ret < 0)
			return ret;
	}
	pl->nhosts++;
	return 0;
}

int host_plan(const struct ledger *l, struct plan *pl, const struct proposal_op *op,
	      struct cc_err *e)
{
	const char *name = op->path + 5;
	struct rr_set s = {0};
	const struct host *cur = map_get(&l->hosts, name);
	int ret = 0;

	if (op->kind == OP_DELETE || cur == NULL) {
		ret = cc_fail(e, CC_EINVAL,
			      "%s: a name server exists while a TLD uses it: change it through "
			      "that TLD's record",
			      op->path);
		goto out;
	}
	if (op->version != (int64_t)cur->version) {
		ret = cc_fail(e, CC_ESTALE, "%s: expected version %lld, current version is %llu",
			      op->path, (long long)op->version, (unsigned long long)cur->version);
		goto out;
	}
	ret = rr_parse(&s, op->content, op->content_len, e);
	if (ret < 0)
		goto out;
	for (size_t i = 0; i < s.n; i++) {
		if ((s.v[i].type != RR_A && s.v[i].type != RR_AAAA) ||
		    strcmp(s.v[i].owner, name) != 0) {
			ret = cc_fail(e, CC_EINVAL, "%s: line %u: only A and AAAA records of %s",
				      op->path, s.v[i].line, name);
			goto out;
		}
		if (s.v[i].ttl != RR_TTL_OMITTED && s.v[i].ttl != TTL_DELEGATION) {
			ret = cc_fail(e, CC_EINVAL, "%s: line %u: glue TTL is %d", op->path,
				      s.v[i].line, TTL_DELEGATION);
			goto out;
		}
	}
	rr_sort(&s);
	/* A put writes the host even when the addresses stay the same (force): it then needs
	 * every TLD using the host like any other change, and spends its version so it cannot
	 * be replayed. Left "unchanged", it would need nobody's consent. */
	ret = host_stage(l, pl, name, s.v, s.n, 1, op->path, e);
out:
	rr_set_free(&s);
	return ret;
}

int host_render(const struct host *h, struct cbuf *out)
{
	int ret = 0;

	for (size_t i = 0; ret == 0 && i < h->addrs.n; i++)
		ret = rr_format(&h->addrs.v[i], TTL_DELEGATION, out);
	return ret;
}

void host_free(struct host *h)
{
	if (h == NULL)
		return;
	rr_set_free(&h->addrs);
	free(h->users);
	free(h);
}
