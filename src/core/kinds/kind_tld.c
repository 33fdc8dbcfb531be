/* tld/<label>: a top-level domain's delegation: its NS set, its DS set, and the glue of its
 * name servers. The content holds all three as master-file lines; the glue is kept in the
 * shared host records, so a TLD's content may omit the glue of a name server that already
 * has addresses, and giving other addresses changes the host for every TLD that uses it. */
#include "core/kinds/kinds.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TLD_MAX_NS 64
#define TLD_MAX_DS 32

static int ttl_ok(const struct rr *r)
{
	uint32_t want = r->type == RR_DS ? TTL_DS : TTL_DELEGATION;

	return r->ttl == RR_TTL_OMITTED || r->ttl == want;
}

static int is_ns_target(const struct rr_set *recs, const char *name)
{
	for (size_t i = 0; i < recs->n; i++)
		if (recs->v[i].type == RR_NS && strcmp(recs->v[i].rdata, name) == 0)
			return 1;
	return 0;
}

static int version_check(const struct plan *pl, const struct proposal_op *op, const struct tld *cur,
			 struct cc_err *e)
{
	if (pl->genesis)
		return cur ? cc_fail(e, CC_EINVAL, "genesis: %s given twice", op->path) : 0;
	if (op->version == PROPOSAL_VERSION_NEW) {
		if (cur)
			return cc_fail(e, CC_ESTALE, "%s exists (version %llu): name its version",
				       op->path, (unsigned long long)cur->version);
		return 0;
	}
	if (cur == NULL)
		return cc_fail(e, CC_ESTALE, "%s does not exist: put it as new", op->path);
	if ((uint64_t)op->version != cur->version)
		return cc_fail(e, CC_ESTALE, "%s: expected version %lld, current version is %llu",
			       op->path, (long long)op->version, (unsigned long long)cur->version);
	return 0;
}

/* Splits parsed content into the TLD's own records and per-host glue sets. */
static int split_content(const struct ledger *l, struct plan *pl, struct plan_tld *pt,
			 struct rr_set *all, struct cc_err *e)
{
	struct rr_set glue = {0};
	size_t nns = 0, nds = 0;
	char owner[66];
	int ret = 0;

	for (size_t i = 0; i < all->n; i++) {
		struct rr *r = &all->v[i];

		if (!ttl_ok(r)) {
			ret =
			    cc_fail(e, CC_EINVAL, "%s: line %u: TTL %u; NS and glue use %d, DS %d",
				    pt->op->path, r->line, r->ttl, TTL_DELEGATION, TTL_DS);
			goto out;
		}
	}
	snprintf(owner, sizeof(owner), "%s.", pt->label);
	ret = rr_set_reserve(&pt->recs, all->n);
	if (ret == 0)
		ret = rr_set_reserve(&glue, all->n);
	if (ret < 0)
		goto out;
	for (size_t i = 0; i < all->n; i++) {
		struct rr *r = &all->v[i];

		if (r->type != RR_NS && r->type != RR_DS)
			continue;
		if (strcmp(r->owner, owner) != 0) {
			ret = cc_fail(e, CC_EINVAL, "%s: line %u: %s record of %s, not of %s",
				      pt->op->path, r->line, r->type == RR_NS ? "NS" : "DS",
				      r->owner, owner);
			goto out;
		}
		nns += r->type == RR_NS;
		nds += r->type == RR_DS;
		ret = rr_set_add(&pt->recs, r);
		if (ret < 0)
			goto out;
	}
	if (nns == 0) {
		ret = cc_fail(e, CC_EINVAL, "%s: no NS record (to remove a TLD, delete it)",
			      pt->op->path);
		goto out;
	}
	if (nns > TLD_MAX_NS || nds > TLD_MAX_DS) {
		ret = cc_fail(e, CC_EINVAL, "%s: more than %d NS or %d DS records", pt->op->path,
			      TLD_MAX_NS, TLD_MAX_DS);
		goto out;
	}
	rr_sort(&pt->recs);
	for (size_t i = 1; i < pt->recs.n; i++)
		if (rr_cmp(&pt->recs.v[i - 1], &pt->recs.v[i]) == 0) {
			ret = cc_fail(e, CC_EINVAL, "%s: line %u repeats a record", pt->op->path,
				      pt->recs.v[i].line);
			goto out;
		}
	/* Glue, grouped by host: content order is free, so sort a copy by owner first. */
	for (size_t i = 0; i < all->n; i++) {
		struct rr *r = &all->v[i];

		if (r->type != RR_A && r->type != RR_AAAA)
			continue;
		if (!is_ns_target(&pt->recs, r->owner)) {
			ret = cc_fail(e, CC_EINVAL, "%s: line %u: %s is not a name server of %s",
				      pt->op->path, r->line, r->owner, pt->label);
			goto out;
		}
		ret = rr_set_add(&glue, r);
		if (ret < 0)
			goto out;
	}
	rr_sort(&glue);
	/* Sorted, each host's addresses lie together and in order. */
	for (size_t i = 0; i < glue.n;) {
		size_t j = i;

		while (j < glue.n && strcmp(glue.v[j].owner, glue.v[i].owner) == 0)
			j++;
		ret = host_stage(l, pl, glue.v[i].owner, &glue.v[i], j - i, 0, pt->op->path, e);
		if (ret < 0)
			goto out;
		i = j;
	}
out:
	rr_set_free(&glue);
	return ret;
}

int tld_plan(const struct ledger *l, struct plan *pl, const struct proposal_op *op,
	     struct cc_err *e)
{
	struct plan_tld *pt = &pl->tlds[pl->ntlds];
	struct rr_set all = {0};
	int ret = 0;

	memset(pt, 0, sizeof(*pt));
	pt->op = op;
	str_copy(pt->label, sizeof(pt->label), op->path + 4);
	pt->cur = map_get(&l->tlds, pt->label);
	pl->ntlds++;
	ret = version_check(pl, op, pt->cur, e);
	if (ret < 0)
		goto out;
	if (!pl->genesis) {
		ret = plan_govern(pl, op->path);
		if (ret < 0)
			goto out;
	}
	if (op->kind == OP_DELETE)
		goto out;
	ret = rr_parse(&all, op->content, op->content_len, e);
	if (ret < 0) {
		char msg[CC_ERR_MSG];

		if (e) {
			snprintf(msg, sizeof(msg), "%s", e->msg);
			cc_fail(e, ret, "%s: %s", op->path, msg);
		}
		goto out;
	}
	ret = split_content(l, pl, pt, &all, e);
out:
	rr_set_free(&all);
	return ret;
}

int tld_plan_finish(const struct ledger *l, struct plan *pl, struct cc_err *e)
{
	int ret = 0;

	for (size_t i = 0; i < pl->ntlds; i++) {
		const struct plan_tld *pt = &pl->tlds[i];

		if (pt->op->kind != OP_PUT)
			continue;
		for (size_t j = 0; j < pt->recs.n; j++) {
			const char *ns = pt->recs.v[j].rdata;

			if (pt->recs.v[j].type != RR_NS)
				continue;
			if (!plan_host_find(pl, ns) && !map_get(&l->hosts, ns))
				return cc_fail(e, CC_EINVAL,
					       "%s: name server %s has no address: give its A or "
					       "AAAA lines",
					       pt->op->path, ns);
		}
	}
	if (pl->genesis)
		return 0;
	/* A shared host's new addresses change every TLD that uses it. */
	for (size_t i = 0; ret == 0 && i < pl->nhosts; i++) {
		const struct plan_host *ph = &pl->hosts[i];
		char path[PATH_MAX_LEN + 1];

		if (!ph->changed || ph->cur == NULL)
			continue;
		for (size_t j = 0; ret == 0 && j < ph->cur->nusers; j++) {
			snprintf(path, sizeof(path), "tld/%s", ph->cur->users[j]->label);
			ret = plan_govern(pl, path);
		}
	}
	return ret;
}

static int users_add(struct host *h, struct tld *t)
{
	if (h->nusers == h->capusers) {
		size_t cap = h->capusers ? h->capusers * 2 : 4;
		struct tld **v = realloc(h->users, cap * sizeof(*v));

		if (v == NULL)
			return CC_ENOMEM;
		h->users = v;
		h->capusers = cap;
	}
	h->users[h->nusers++] = t;
	return 0;
}

static void users_remove(struct host *h, const struct tld *t)
{
	for (size_t i = 0; i < h->nusers; i++)
		if (h->users[i] == t) {
			h->users[i] = h->users[--h->nusers];
			return;
		}
}

struct host_list { /* hosts a plan detached TLDs from */
	struct host **v;
	size_t n, cap;
};

/* Detaches t from the hosts its current NS set names; adds those hosts to gc so the ones
 * left unused can be removed once the plan is applied. Hosts are only freed then, so the
 * pointers stay valid until that point. */
static int detach(struct ledger *l, struct tld *t, struct host_list *gc)
{
	for (size_t i = 0; i < t->recs.n; i++) {
		struct host *h;

		if (t->recs.v[i].type != RR_NS)
			continue;
		h = map_get(&l->hosts, t->recs.v[i].rdata);
		if (h == NULL)
			continue;
		users_remove(h, t);
		if (gc->n == gc->cap) {
			size_t cap = gc->cap ? gc->cap * 2 : 16;
			struct host **v = realloc(gc->v, cap * sizeof(*v));

			if (v == NULL)
				return CC_ENOMEM;
			gc->v = v;
			gc->cap = cap;
		}
		gc->v[gc->n++] = h;
	}
	return 0;
}

void tld_free(struct tld *t)
{
	if (t == NULL)
		return;
	rr_set_free(&t->recs);
	free(t);
}

static int host_ptr_cmp(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t) * (struct host *const *)a,
		  y = (uintptr_t) * (struct host *const *)b;

	return (x > y) - (x < y);
}

int tld_apply(struct ledger *l, struct plan *pl, uint64_t index)
{
	struct host_list gc = {0};
	int ret = 0;

	for (size_t i = 0; ret == 0 && i < pl->ntlds; i++) {
		struct plan_tld *pt = &pl->tlds[i];
		struct tld *t = pt->cur;

		if (t)
			ret = detach(l, t, &gc);
		if (ret < 0)
			break;
		if (pt->op->kind == OP_DELETE) {
			map_del(&l->tlds, t->label);
			tld_free(t);
			pt->cur = NULL;
			continue;
		}
		if (t == NULL) {
			t = calloc(1, sizeof(*t));
			if (t == NULL) {
				ret = CC_ENOMEM;
				break;
			}
			snprintf(t->label, sizeof(t->label), "%s", pt->label);
			snprintf(t->owner, sizeof(t->owner), "%s.", pt->label);
			ret = map_put(&l->tlds, t->label, t);
			if (ret < 0) {
				tld_free(t);
				break;
			}
			pt->cur = t;
		}
		rr_set_free(&t->recs);
		t->recs = pt->recs;
		rr_set_shrink(&t->recs);
		memset(&pt->recs, 0, sizeof(pt->recs));
		t->version = index;
	}
	for (size_t i = 0; ret == 0 && i < pl->nhosts; i++) {
		struct plan_host *ph = &pl->hosts[i];
		struct host *h = ph->cur;

		if (!ph->changed)
			continue;
		if (h == NULL) {
			h = calloc(1, sizeof(*h));
			if (h == NULL) {
				ret = CC_ENOMEM;
				break;
			}
			snprintf(h->name, sizeof(h->name), "%s", ph->name);
			ret = map_put(&l->hosts, h->name, h);
			if (ret < 0) {
				host_free(h);
				break;
			}
			ph->cur = h;
		}
		rr_set_free(&h->addrs);
		h->addrs = ph->addrs;
		rr_set_shrink(&h->addrs);
		memset(&ph->addrs, 0, sizeof(ph->addrs));
		h->version = index;
	}
	for (size_t i = 0; ret == 0 && i < pl->ntlds; i++) {
		struct tld *t = pl->tlds[i].cur;

		for (size_t j = 0; t && ret == 0 && j < t->recs.n; j++) {
			struct host *h = map_get(&l->hosts, t->recs.v[j].rdata);

			/* tld_plan_finish made sure every name server has a host. */
			if (t->recs.v[j].type == RR_NS && h)
				ret = users_add(h, t);
		}
	}
	/* Every TLD that shows a changed host's glue has changed too. */
	for (size_t i = 0; ret == 0 && i < pl->nhosts; i++) {
		struct host *h = pl->hosts[i].cur;

		if (pl->hosts[i].changed && h)
			for (size_t j = 0; j < h->nusers; j++)
				h->users[j]->version = index;
	}
	/* A host two TLDs left is listed twice and must be freed once: sorted, a repeat is
	 * next to its first. */
	if (gc.n > 1) {
		size_t k = 1;

		qsort(gc.v, gc.n, sizeof(*gc.v), host_ptr_cmp);
		for (size_t i = 1; i < gc.n; i++)
			if (gc.v[i] != gc.v[k - 1])
				gc.v[k++] = gc.v[i];
		gc.n = k;
	}
	for (size_t i = 0; ret == 0 && i < gc.n; i++) {
		struct host *h = gc.v[i];

		if (h->nusers != 0)
			continue;
		map_del(&l->hosts, h->name);
		host_free(h);
	}
	free(gc.v);
	return ret;
}

int tld_render(const struct ledger *l, const struct tld *t, struct cbuf *out)
{
	struct rr_set all = {0};
	int ret = 0;

	for (size_t i = 0; ret == 0 && i < t->recs.n; i++) {
		const struct host *h;

		ret = rr_set_add(&all, &t->recs.v[i]);
		if (ret < 0 || t->recs.v[i].type != RR_NS)
			continue;
		h = map_get(&l->hosts, t->recs.v[i].rdata);
		for (size_t j = 0; h && ret == 0 && j < h->addrs.n; j++)
			ret = rr_set_add(&all, &h->addrs.v[j]);
	}
	if (ret == 0)
		rr_sort(&all);
	for (size_t i = 0; ret == 0 && i < all.n; i++) {
		/* Two NS targets are never the same host, so glue cannot repeat. */
		ret = rr_format(&all.v[i], all.v[i].type == RR_DS ? TTL_DS : TTL_DELEGATION, out);
	}
	rr_set_free(&all);
	return ret;
}
