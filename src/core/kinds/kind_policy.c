/* policy/<name>: who must sign changes to the paths a pattern matches (see policy.h).
 * Policies are records themselves and change under their own rule. */
#include "core/kinds/kinds.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const struct policy_rec *policy_resolve(const struct policy_rec *set, size_t n,
					const struct ledger_member *members, size_t nmembers,
					const char *path, const struct ledger_member **state)
{
	const char *last = strrchr(path, '/') + 1;

	*state = NULL;
	for (int kind = PAT_EXACT; kind >= PAT_ANY; kind--) {
		for (size_t i = 0; i < n; i++) {
			const struct policy *p = &set[i].pol;
			const struct ledger_member *st = NULL;
			int applies = 1;

			if (p->pattern_kind != kind || !policy_matches(p, path))
				continue;
			for (unsigned r = 0; r < p->nreq; r++) {
				if (p->req[r].kind != REQ_STATE)
					continue;
				st = members_find(members, nmembers, last);
				if (st == NULL || st->chamber != CHAMBER_GOVERNMENT)
					applies = 0;
			}
			if (!applies)
				continue;
			*state = st;
			return &set[i];
		}
	}
	return NULL;
}

int policyrec_plan(const struct ledger *l, struct plan *pl, const struct proposal_op *op,
		   struct cc_err *e)
{
	struct plan_policy *pp = &pl->policies[pl->npolicies];
	const struct policy_rec *cur = NULL;
	int ret = 0;

	for (size_t i = 0; i < l->npolicies; i++)
		if (strcmp(l->policies[i].path, op->path) == 0)
			cur = &l->policies[i];
	memset(pp, 0, sizeof(*pp));
	pp->op = op;
	pp->exists = cur != NULL;
	if (!pl->genesis && (op->version == PROPOSAL_VERSION_NEW
				 ? cur != NULL
				 : cur == NULL || cur->version != (uint64_t)op->version))
		return cc_fail(e, CC_ESTALE, "%s: %s", op->path,
			       cur ? "the policy exists with another version" : "no such policy");
	if (pl->genesis && cur)
		return cc_fail(e, CC_EINVAL, "genesis: %s given twice", op->path);
	if (op->kind == OP_PUT) {
		ret = policy_parse(&pp->rec.pol, op->content, op->content_len, e);
		if (ret < 0)
			return ret;
		snprintf(pp->rec.path, sizeof(pp->rec.path), "%s", op->path);
	}
	pl->npolicies++;
	return pl->genesis ? 0 : plan_govern(pl, op->path);
}

static int policy_cmp(const void *a, const void *b)
{
	return strcmp(((const struct policy_rec *)a)->path, ((const struct policy_rec *)b)->path);
}

int policyrec_apply(struct ledger *l, struct plan *pl, uint64_t index)
{
	for (size_t i = 0; i < pl->npolicies; i++) {
		struct plan_policy *pp = &pl->policies[i];
		struct policy_rec *cur = NULL, *v;

		for (size_t j = 0; j < l->npolicies; j++)
			if (strcmp(l->policies[j].path, pp->op->path) == 0)
				cur = &l->policies[j];
		if (pp->op->kind == OP_DELETE) {
			if (cur)
				*cur = l->policies[--l->npolicies];
			qsort(l->policies, l->npolicies, sizeof(*cur), policy_cmp);
			continue;
		}
		pp->rec.version = index;
		if (cur) {
			*cur = pp->rec;
			continue;
		}
		v = realloc(l->policies, (l->npolicies + 1) * sizeof(*v));
		if (v == NULL)
			return CC_ENOMEM;
		l->policies = v;
		l->policies[l->npolicies++] = pp->rec;
		qsort(l->policies, l->npolicies, sizeof(*v), policy_cmp);
	}
	return 0;
}
