/* concord replay-root-changes: real root zone changes turned into governed proposals.
 *
 * Each non-empty $CHANGE block becomes one proposal. NS and DS records belong to tld/<label>;
 * A and AAAA records to host/<name>, which every TLD using that name server shares. A TLD's
 * put carries its NS and DS and the glue of those of its name servers that are new or change
 * in the block; a host whose addresses change while none of its TLDs does is a put of
 * host/<name>; hosts nobody uses any more are the ledger's to collect. The proposal is signed
 * by the proposer, then by keys of DIR among the candidates the node names, until the node
 * accepts it. */
#include "cli/cli.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/policy.h"
#include "core/proposal.h"
#include "core/rr.h"
#include "core/tfmt.h"

#define RP_FILE_MAX   (64u << 20)
#define RP_MAX_ROUNDS 16     /* signature rounds per proposal before giving up */
#define RP_MAX_WAIT   600    /* seconds the replay waits for a consultation period */
#define RP_PROGRESS   50     /* blocks between progress lines */
#define RP_TTL_NS     172800 /* TTLs of the root's delegations, for lines written without one */
#define RP_TTL_DS     86400

struct rp_member {		    /* a member as GET /v1/network lists it */
	char id[MEMBER_ID_MAX + 1]; /* member id */
	int chamber;		    /* enum chamber */
};

struct rp_net {			   /* what the replay knows of the network */
	char origin[256];	   /* network origin */
	struct rp_member *members; /* members */
	size_t nmembers;	   /* how many */
	struct policy *policies;   /* parsed policy records */
	size_t npolicies;	   /* how many */
	struct key_pair *keys;	   /* keys of DIR, sorted by member id */
	size_t nkeys;		   /* how many */
};

struct rp_block {		/* one $CHANGE block */
	char old[24], new_[24]; /* serials */
	size_t line;		/* line of its $CHANGE */
	const char *text;	/* its lines, from the $CHANGE line on */
	size_t len;		/* bytes of them */
	struct cbuf minus;	/* its '-' records, prefix removed */
	struct cbuf plus;	/* its '+' records, prefix removed */
};

struct rp_rec {			     /* a record the block touches */
	char path[PATH_MAX_LEN + 1]; /* tld/<label> or host/<name> */
	char name[RR_NAME_MAX + 1];  /* owner name: "cn." or "a.dns.cn." */
	int tld;		     /* 1 for a TLD, 0 for a host */
	int exists;		     /* the node has it */
	int64_t version;	     /* its version when it exists */
	struct rr_set cur;	     /* its records, the block applied (TLD: NS and DS only) */
	int covered;		     /* host: its glue rides on a TLD put of this block */
};

struct rp_work {	  /* one block's records */
	struct rp_rec *v; /* records */
	size_t n, cap;	  /* used, allocated */
};

static double rp_clock(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int rp_key_cmp(const void *a, const void *b)
{
	const struct key_pair *x = a, *y = b;

	return strcmp(x->sign.key.name, y->sign.key.name);
}

static int rp_load_keys(struct rp_net *net, const char *dir, struct cc_err *e)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	struct cbuf path = CBUF_INIT;
	int ret = 0;

	if (d == NULL)
		return cc_fail(e, CC_EIO, "%s: cannot open the key directory", dir);
	while ((de = readdir(d)) != NULL) {
		size_t n = strlen(de->d_name);
		struct key_pair *v;

		if (n <= 4 || strcmp(de->d_name + n - 4, ".key") != 0)
			continue;
		v = realloc(net->keys, (net->nkeys + 1) * sizeof(*v));
		if (v == NULL) {
			ret = cc_fail(e, CC_ENOMEM, "out of memory");
			goto out;
		}
		net->keys = v;
		cbuf_reset(&path);
		if (cbuf_printf(&path, "%s/%s", dir, de->d_name) != 0) {
			ret = cc_fail(e, CC_ENOMEM, "out of memory");
			goto out;
		}
		ret = cli_load_key(path.p, &net->keys[net->nkeys], e);
		if (ret < 0)
			goto out;
		net->nkeys++;
	}
	if (net->nkeys == 0) {
		ret = cc_fail(e, CC_ENOENT, "%s: no *.key files", dir);
		goto out;
	}
	qsort(net->keys, net->nkeys, sizeof(*net->keys), rp_key_cmp);
out:
	closedir(d);
	cbuf_free(&path);
	return ret;
}

static const struct key_pair *rp_key(const struct rp_net *net, const char *id)
{
	for (size_t i = 0; i < net->nkeys; i++)
		if (strcmp(net->keys[i].sign.key.name, id) == 0)
			return &net->keys[i];
	return NULL;
}

static const struct rp_member *rp_member(const struct rp_net *net, const char *id)
{
	for (size_t i = 0; i < net->nmembers; i++)
		if (strcmp(net->members[i].id, id) == 0)
			return &net->members[i];
	return NULL;
}

static int rp_load_network(struct http *h, struct rp_net *net, struct cc_err *e)
{
	json_t *j = NULL, *m, *p;
	const char *origin;
	size_t i;
	int ret;

	ret = cli_get_json(h, "/v1/network", &j, e);
	if (ret < 0)
		return ret;
	origin = json_string_value(json_object_get(j, "origin"));
	if (origin == NULL || strlen(origin) >= sizeof(net->origin)) {
		ret = cc_fail(e, CC_EINVAL, "GET /v1/network: no usable origin");
		goto out;
	}
	strcpy(net->origin, origin);
	net->members =
	    calloc(json_array_size(json_object_get(j, "members")) + 1, sizeof(*net->members));
	net->policies =
	    calloc(json_array_size(json_object_get(j, "policies")) + 1, sizeof(*net->policies));
	if (net->members == NULL || net->policies == NULL) {
		ret = cc_fail(e, CC_ENOMEM, "out of memory");
		goto out;
	}
	json_array_foreach(json_object_get(j, "members"), i, m)
	{
		const char *id = json_string_value(json_object_get(m, "id"));
		const char *ch = json_string_value(json_object_get(m, "chamber"));
		struct rp_member *rm = &net->members[net->nmembers];

		if (id == NULL || strlen(id) > MEMBER_ID_MAX || ch == NULL)
			continue;
		strcpy(rm->id, id);
		rm->chamber = chamber_parse(ch);
		net->nmembers++;
	}
	/* policies only guide the choice of the proposer: one we cannot read is skipped */
	json_array_foreach(json_object_get(j, "policies"), i, p)
	{
		const char *content = json_string_value(json_object_get(p, "content"));

		if (content != NULL && policy_parse(&net->policies[net->npolicies], content,
						    strlen(content), NULL) == 0)
			net->npolicies++;
	}
out:
	json_decref(j);
	return ret;
}

/* The last DNS label of a path ("tld/cn" -> "cn", "host/a.dns.cn." -> "cn"). */
static void rp_last_label(const char *path, char *out, size_t size)
{
	const char *s = strchr(path, '/'), *end, *p;
	size_t n;

	s = s != NULL ? s + 1 : path;
	end = s + strlen(s);
	if (end > s && end[-1] == '.')
		end--;
	for (p = end; p > s && p[-1] != '.'; p--)
		;
	n = (size_t)(end - p) < size - 1 ? (size_t)(end - p) : size - 1;
	memcpy(out, p, n);
	out[n] = '\0';
}

/* Whether member m could count toward the policy that governs path, as far as the network's
 * published policies tell (the node has the last word: a wrong guess costs one retry). */
static int rp_candidate(const struct rp_net *net, const struct rp_member *m, const char *path)
{
	const struct policy *best = NULL;
	char label[64], tpath[80];
	size_t i;
	unsigned r;

	rp_last_label(path, label, sizeof(label));
	/* a host answers to the TLDs that use it; the one it is named under is the best guess */
	if (strncmp(path, "host/", 5) == 0) {
		snprintf(tpath, sizeof(tpath), "tld/%s", label);
		path = tpath;
	}
	for (i = 0; i < net->npolicies; i++) {
		const struct policy *p = &net->policies[i];
		int applies = policy_matches(p, path);

		for (r = 0; applies && r < p->nreq; r++) {
			const struct rp_member *st;

			if (p->req[r].kind != REQ_STATE)
				continue;
			st = rp_member(net, label);
			applies = st != NULL && st->chamber == CHAMBER_GOVERNMENT;
		}
		if (applies && (best == NULL || p->pattern_kind > best->pattern_kind))
			best = p;
	}
	if (best == NULL)
		return 1;
	for (r = 0; r < best->nreq; r++) {
		const struct policy_req *q = &best->req[r];
		int named = 0;

		switch (q->kind) {
		case REQ_STATE:
			if (strcmp(m->id, label) == 0)
				return 1;
			break;
		case REQ_MEMBER:
			if (strcmp(m->id, q->member) == 0)
				return 1;
			break;
		case REQ_ALL:
			return 1;
		case REQ_CHAMBER:
			if (m->chamber == q->chamber)
				return 1;
			break;
		case REQ_OTHER_CHAMBERS:
			for (unsigned k = 0; k < best->nreq; k++)
				named |= best->req[k].kind == REQ_CHAMBER &&
					 best->req[k].chamber == m->chamber;
			if (!named)
				return 1;
			break;
		}
	}
	return 0;
}

/* Keys in the order the replay tries them as proposer: the state of a ccTLD of the block
 * first, then keys the policies make candidates, then the rest. */
static size_t rp_proposers(const struct rp_net *net, const struct proposal_op *ops, size_t nops,
			   const struct key_pair **order)
{
	size_t n = 0, i, k;
	int pass;

	for (i = 0; i < nops; i++) {
		char label[64];
		const struct key_pair *kp;

		rp_last_label(ops[i].path, label, sizeof(label));
		if (strlen(label) != 2 || rp_member(net, label) == NULL ||
		    (kp = rp_key(net, label)) == NULL)
			continue;
		for (k = 0; k < n && order[k] != kp; k++)
			;
		if (k == n)
			order[n++] = kp;
	}
	for (pass = 0; pass < 2; pass++) {
		for (k = 0; k < net->nkeys; k++) {
			const struct key_pair *kp = &net->keys[k];
			const struct rp_member *m = rp_member(net, kp->sign.key.name);
			int cand = 0;

			if (m == NULL)
				continue;
			for (i = 0; i < nops && !cand; i++)
				cand = rp_candidate(net, m, ops[i].path);
			if (cand != (pass == 0))
				continue;
			for (i = 0; i < n && order[i] != kp; i++)
				;
			if (i == n)
				order[n++] = kp;
		}
	}
	return n;
}

static int rp_same(const struct rr *a, const struct rr *b)
{
	return a->type == b->type && strcmp(a->owner, b->owner) == 0 &&
	       strcmp(a->rdata, b->rdata) == 0;
}

static ssize_t rp_find_rr(const struct rr_set *s, const struct rr *r)
{
	for (size_t i = 0; i < s->n; i++)
		if (rp_same(&s->v[i], r))
			return (ssize_t)i;
	return -1;
}

static void rp_work_free(struct rp_work *w)
{
	for (size_t i = 0; i < w->n; i++)
		rr_set_free(&w->v[i].cur);
	free(w->v);
	memset(w, 0, sizeof(*w));
}

/* The record an RR belongs to, fetched from the node the first time. */
static int rp_record(struct http *h, struct rp_work *w, const struct rr *r, struct rp_rec **out,
		     struct cc_err *e)
{
	int tld = r->type == RR_NS || r->type == RR_DS;
	struct rr_set all = {0};
	struct cbuf url = CBUF_INIT;
	json_t *j = NULL;
	struct rp_rec *rec;
	struct cc_err pe = {0, ""};
	const char *content;
	size_t i, olen = strlen(r->owner);
	int ret;

	for (i = 0; i < w->n; i++)
		if (w->v[i].tld == tld && strcmp(w->v[i].name, r->owner) == 0) {
			*out = &w->v[i];
			return 0;
		}
	/* NS and DS owners are TLDs: one label and the root's dot */
	if (tld && (olen < 2 || memchr(r->owner, '.', olen - 1) != NULL))
		return cc_fail(e, CC_EINVAL, "%s record of '%s', which is not a TLD",
			       r->type == RR_NS ? "NS" : "DS", r->owner);
	if (w->n == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 16;
		struct rp_rec *v = realloc(w->v, cap * sizeof(*v));

		if (v == NULL)
			return cc_fail(e, CC_ENOMEM, "out of memory");
		w->v = v;
		w->cap = cap;
	}
	rec = &w->v[w->n];
	memset(rec, 0, sizeof(*rec));
	rec->tld = tld;
	strcpy(rec->name, r->owner);
	if (tld)
		snprintf(rec->path, sizeof(rec->path), "tld/%.*s", (int)(olen - 1), r->owner);
	else
		snprintf(rec->path, sizeof(rec->path), "host/%s", r->owner);
	w->n++;
	if (cbuf_printf(&url, "/v1/records/%s", rec->path) != 0) {
		ret = cc_fail(e, CC_ENOMEM, "out of memory");
		goto out;
	}
	ret = cli_get_json(h, url.p, &j, e);
	if (ret == CC_ENOENT) {
		ret = 0;
		goto done;
	}
	if (ret < 0)
		goto out;
	content = json_string_value(json_object_get(j, "content"));
	if (content == NULL || !json_is_integer(json_object_get(j, "version"))) {
		ret = cc_fail(e, CC_EINVAL, "GET %s: no content or version", url.p);
		goto out;
	}
	rec->exists = 1;
	rec->version = json_integer_value(json_object_get(j, "version"));
	ret = rr_parse(&all, content, strlen(content), &pe);
	if (ret < 0) {
		cc_fail(e, ret, "%s as the node serves it: %s", rec->path, pe.msg);
		goto out;
	}
	/* a TLD's content may carry its glue; the block's host changes are what the put will
	 * carry, so only the apex records are kept */
	for (i = 0; i < all.n; i++) {
		if (strcmp(all.v[i].owner, rec->name) != 0)
			continue;
		ret = rr_set_add(&rec->cur, &all.v[i]);
		if (ret < 0) {
			cc_fail(e, ret, "out of memory");
			goto out;
		}
	}
done:
	*out = rec;
out:
	json_decref(j);
	rr_set_free(&all);
	cbuf_free(&url);
	return ret;
}

static const char *rp_type(uint16_t type)
{
	switch (type) {
	case RR_NS:
		return "NS";
	case RR_DS:
		return "DS";
	case RR_A:
		return "A";
	default:
		return "AAAA";
	}
}

/* Applies the block's '-' then '+' records to the records they touch. */
static int rp_apply(struct http *h, struct rp_work *w, const struct rr_set *minus,
		    const struct rr_set *plus, struct cc_err *e)
{
	struct rp_rec *rec;
	size_t i;
	ssize_t at;
	int ret;

	for (i = 0; i < minus->n; i++) {
		ret = rp_record(h, w, &minus->v[i], &rec, e);
		if (ret < 0)
			return ret;
		at = rp_find_rr(&rec->cur, &minus->v[i]);
		if (at < 0)
			return cc_fail(e, CC_ESTALE, "'- %s %s %s' is not in %s%s",
				       minus->v[i].owner, rp_type(minus->v[i].type),
				       minus->v[i].rdata, rec->path,
				       rec->exists ? "" : " (no such record)");
		rec->cur.v[at] = rec->cur.v[--rec->cur.n];
	}
	for (i = 0; i < plus->n; i++) {
		ret = rp_record(h, w, &plus->v[i], &rec, e);
		if (ret < 0)
			return ret;
		if (rp_find_rr(&rec->cur, &plus->v[i]) >= 0)
			return cc_fail(e, CC_EEXIST, "'+ %s %s %s' is already in %s",
				       plus->v[i].owner, rp_type(plus->v[i].type), plus->v[i].rdata,
				       rec->path);
		ret = rr_set_add(&rec->cur, &plus->v[i]);
		if (ret < 0)
			return cc_fail(e, ret, "out of memory");
	}
	return 0;
}

static int rp_uses(const struct rp_rec *tld, const char *host)
{
	for (size_t i = 0; i < tld->cur.n; i++)
		if (tld->cur.v[i].type == RR_NS && strcmp(tld->cur.v[i].rdata, host) == 0)
			return 1;
	return 0;
}

static int rp_format_set(struct rr_set *s, struct cbuf *out)
{
	rr_sort(s);
	for (size_t i = 0; i < s->n; i++) {
		uint32_t ttl = s->v[i].ttl;

		if (ttl == RR_TTL_OMITTED)
			ttl = s->v[i].type == RR_DS ? RP_TTL_DS : RP_TTL_NS;
		if (rr_format(&s->v[i], ttl, out) != 0)
			return CC_ENOMEM;
	}
	return 0;
}

/* The operations of a block; contents[i] holds op i's content. */
static int rp_ops(struct rp_work *w, const struct rr_set *minus, struct proposal_op *ops,
		  struct cbuf *contents, size_t *nops, struct cc_err *e)
{
	struct rr_set set = {0};
	size_t i, j, n = 0;
	int ret = 0, ns;

	for (i = 0; i < w->n; i++) {
		struct rp_rec *t = &w->v[i];

		if (!t->tld)
			continue;
		ns = 0;
		for (j = 0; j < t->cur.n; j++)
			ns |= t->cur.v[j].type == RR_NS;
		if (!ns) {
			if (t->cur.n > 0) {
				ret =
				    cc_fail(e, CC_EINVAL, "%s keeps DS records but no NS", t->path);
				goto out;
			}
			if (!t->exists)
				continue;
			ops[n].kind = OP_DELETE;
		} else {
			set.n = 0;
			for (j = 0; j < t->cur.n; j++)
				ret |= rr_set_add(&set, &t->cur.v[j]);
			for (j = 0; j < w->n; j++) {
				struct rp_rec *hr = &w->v[j];

				if (hr->tld || hr->cur.n == 0 || !rp_uses(t, hr->name))
					continue;
				hr->covered = 1;
				for (size_t k = 0; k < hr->cur.n; k++)
					ret |= rr_set_add(&set, &hr->cur.v[k]);
			}
			if (ret != 0 || rp_format_set(&set, &contents[n]) != 0) {
				ret = cc_fail(e, CC_ENOMEM, "out of memory");
				goto out;
			}
			ops[n].kind = OP_PUT;
			ops[n].content = contents[n].p;
			ops[n].content_len = contents[n].len;
		}
		strcpy(ops[n].path, t->path);
		ops[n].version = t->exists ? t->version : PROPOSAL_VERSION_NEW;
		n++;
	}
	for (i = 0; i < w->n; i++) {
		struct rp_rec *hr = &w->v[i];
		int dropped = 0;

		if (hr->tld || hr->covered)
			continue;
		if (hr->cur.n == 0) {
			/* a host the block takes out of an NS set goes with its last user */
			for (j = 0; j < minus->n; j++)
				dropped |= minus->v[j].type == RR_NS &&
					   strcmp(minus->v[j].rdata, hr->name) == 0;
			if (dropped || !hr->exists)
				continue;
			ops[n].kind = OP_DELETE;
		} else {
			set.n = 0;
			for (j = 0; j < hr->cur.n; j++)
				ret |= rr_set_add(&set, &hr->cur.v[j]);
			if (ret != 0 || rp_format_set(&set, &contents[n]) != 0) {
				ret = cc_fail(e, CC_ENOMEM, "out of memory");
				goto out;
			}
			ops[n].kind = OP_PUT;
			ops[n].content = contents[n].p;
			ops[n].content_len = contents[n].len;
		}
		strcpy(ops[n].path, hr->path);
		ops[n].version = hr->exists ? hr->version : PROPOSAL_VERSION_NEW;
		n++;
	}
	*nops = n;
out:
	rr_set_free(&set);
	return ret;
}

static int rp_has(const char *const *ids, size_t n, const char *id)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(ids[i], id) == 0)
			return 1;
	return 0;
}

/* Picks keys of DIR among the candidates of every unmet need and writes their signature
 * lines. Returns how many, 0 when nothing is missing but time, or an error when a need
 * cannot be met with the keys at hand. */
static int rp_more_sigs(const struct rp_net *net, json_t *prop, const struct cbuf *body,
			const char **signed_ids, size_t *nsigned, struct cbuf *lines,
			struct cc_err *e)
{
	json_t *n, *c;
	size_t i, j, round0 = *nsigned;

	json_array_foreach(json_object_get(prop, "needs"), i, n)
	{
		json_int_t have = json_integer_value(json_object_get(n, "have"));
		json_int_t need = json_integer_value(json_object_get(n, "need"));
		json_t *cand = json_object_get(n, "candidates");

		if (json_is_true(json_object_get(n, "met")) || have >= need)
			continue;
		/* signers added this round for an earlier need may count here too */
		json_array_foreach(cand, j, c)
		{
			const char *id = json_string_value(c);

			if (id != NULL && rp_has(signed_ids + round0, *nsigned - round0, id))
				have++;
		}
		json_array_foreach(cand, j, c)
		{
			const char *id = json_string_value(c);
			const struct key_pair *kp;
			struct note_sig sig;

			if (have >= need)
				break;
			if (id == NULL || rp_has(signed_ids, *nsigned, id) ||
			    (kp = rp_key(net, id)) == NULL)
				continue;
			if (note_sign(&kp->sign, body->p, body->len, &sig) != 0 ||
			    note_format_sig(&sig, lines) != 0)
				return cc_fail(e, CC_ENOMEM, "cannot sign as %s", id);
			signed_ids[(*nsigned)++] = kp->sign.key.name;
			have++;
		}
		if (have < need) {
			const char *pol = json_string_value(json_object_get(n, "policy"));
			const char *what = json_string_value(json_object_get(n, "what"));

			return cc_fail(e, CC_EPERM,
				       "%s (%s) needs %lld signatures and the keys in the "
				       "directory give only %lld",
				       pol != NULL ? pol : "?", what != NULL ? what : "?",
				       (long long)need, (long long)have);
		}
	}
	return (int)(*nsigned - round0);
}

/* Submits one proposal and signs it until accepted; *index gets its log index. */
static int rp_propose(struct http *h, const struct rp_net *net, const struct proposal_op *ops,
		      size_t nops, int64_t *index, struct cc_err *e)
{
	const struct key_pair **order = NULL;
	const char **signed_ids = NULL;
	struct cbuf body = CBUF_INIT, note = CBUF_INIT, lines = CBUF_INIT, url = CBUF_INIT;
	struct http_resp r = {0};
	json_t *prop = NULL;
	struct note_sig sig;
	char id[PROPOSAL_ID_LEN + 1];
	size_t norder, nsigned = 0, tries;
	int ret = CC_EPERM, round;

	order = calloc(net->nkeys + 1, sizeof(*order));
	signed_ids = calloc(net->nkeys + 1, sizeof(*signed_ids));
	if (order == NULL || signed_ids == NULL)
		return cc_fail(e, CC_ENOMEM, "out of memory");
	norder = rp_proposers(net, ops, nops, order);
	if (norder == 0) {
		ret = cc_fail(e, CC_EPERM, "no key in the directory belongs to a member");
		goto out;
	}
	/* the first proposer the node takes; a proposer who counts toward nothing is refused
	 * as forbidden, and the next one tries */
	for (tries = 0; tries < norder; tries++) {
		const struct key_pair *kp = order[tries];
		int64_t now = cli_now();

		cbuf_reset(&body);
		cbuf_reset(&note);
		ret = proposal_format(&body, net->origin, kp->sign.key.name, now,
				      now + CLI_DEFAULT_EXPIRES, ops, nops);
		if (ret < 0) {
			cc_fail(e, ret, "cannot build the proposal: %s", cc_strerror(ret));
			goto out;
		}
		if (note_sign(&kp->sign, body.p, body.len, &sig) != 0 ||
		    note_format(body.p, body.len, &sig, 1, &note) != 0) {
			ret = cc_fail(e, CC_ETOOBIG, "cannot sign the proposal (over %d bytes?)",
				      NOTE_MAX_SIZE);
			goto out;
		}
		ret = http_post(h, "/v1/proposals", "text/plain", note.p, note.len, HTTP_MAX_JSON,
				&r, e);
		if (ret != CC_EPERM)
			break;
	}
	if (ret < 0)
		goto out;
	proposal_id(body.p, body.len, id);
	signed_ids[nsigned++] = order[tries]->sign.key.name;
	for (round = 0;; round++) {
		const char *status;

		json_decref(prop);
		prop = NULL;
		ret = cli_parse_json(&r, &prop, e);
		if (ret < 0)
			goto out;
		status = json_string_value(json_object_get(prop, "status"));
		if (status == NULL) {
			ret = cc_fail(e, CC_EINVAL, "proposal %s: the node's answer has no status",
				      id);
			goto out;
		}
		if (strcmp(status, "accepted") == 0) {
			*index = json_integer_value(json_object_get(prop, "index"));
			ret = 0;
			goto out;
		}
		if (strcmp(status, "pending") != 0) {
			const char *reason = json_string_value(json_object_get(prop, "reason"));

			ret = cc_fail(e, CC_EPERM, "proposal %s is %s: %s", id, status,
				      reason != NULL ? reason : "no reason given");
			goto out;
		}
		if (round >= RP_MAX_ROUNDS) {
			ret = cc_fail(e, CC_EPERM, "proposal %s still pending after %d rounds", id,
				      round);
			goto out;
		}
		cbuf_reset(&lines);
		ret = rp_more_sigs(net, prop, &body, signed_ids, &nsigned, &lines, e);
		if (ret < 0)
			goto out;
		cbuf_reset(&url);
		if (ret > 0) {
			if (cbuf_printf(&url, "/v1/proposals/%s/signatures", id) != 0) {
				ret = cc_fail(e, CC_ENOMEM, "out of memory");
				goto out;
			}
			ret = http_post(h, url.p, "text/plain", lines.p, lines.len, HTTP_MAX_JSON,
					&r, e);
		} else {
			/* every signature is in; only the consultation period runs */
			const char *nb = json_string_value(json_object_get(prop, "not_before"));
			int64_t t = 0, wait;

			if (nb == NULL || tfmt_parse(nb, &t) != 0) {
				ret = cc_fail(e, CC_EINVAL,
					      "proposal %s: pending with every need met and no "
					      "not_before",
					      id);
				goto out;
			}
			wait = t - cli_now();
			if (wait > RP_MAX_WAIT) {
				ret = cc_fail(e, CC_ETIME,
					      "proposal %s waits for its consultation period until "
					      "%s; replay on a network made with --consultation 0",
					      id, nb);
				goto out;
			}
			if (cbuf_printf(&url, "/v1/proposals/%s", id) != 0) {
				ret = cc_fail(e, CC_ENOMEM, "out of memory");
				goto out;
			}
			if (wait >= 0) {
				/* the node's timer accepts it once the period is over */
				sleep((unsigned)wait + 1);
				ret = http_get(h, url.p, HTTP_MAX_JSON, &r, e);
			} else {
				/* still pending after the period: submitting the body again makes
				 * the node look at it anew, unless its timer just did */
				ret = http_post(h, "/v1/proposals", "text/plain", note.p, note.len,
						HTTP_MAX_JSON, &r, e);
				if (ret == CC_EEXIST)
					ret = http_get(h, url.p, HTTP_MAX_JSON, &r, e);
			}
		}
		if (ret < 0)
			goto out;
	}
out:
	json_decref(prop);
	http_resp_free(&r);
	cbuf_free(&body);
	cbuf_free(&note);
	cbuf_free(&lines);
	cbuf_free(&url);
	free(order);
	free(signed_ids);
	return ret;
}

/* Reads the next block from *pos; returns 1 with a block, 0 at the end. */
static int rp_next_block(const char *text, size_t len, size_t *pos, size_t *lineno,
			 struct rp_block *b, struct cc_err *e)
{
	int have = 0;

	cbuf_reset(&b->minus);
	cbuf_reset(&b->plus);
	while (*pos < len) {
		const char *line = text + *pos, *nl = memchr(line, '\n', len - *pos);
		size_t n = nl != NULL ? (size_t)(nl - line) : len - *pos;

		if (n > 0 && line[n - 1] == '\r')
			n--;
		if (strncmp(line, "$CHANGE", 7) == 0 && n > 7 &&
		    (line[7] == ' ' || line[7] == '\t')) {
			if (have)
				break;
			have = 1;
			b->line = *lineno;
			b->text = line;
			if (sscanf(line + 8, "%23s %23s", b->old, b->new_) != 2) {
				return cc_fail(e, CC_EINVAL, "line %zu: $CHANGE needs two serials",
					       *lineno);
			}
		} else if (n == 0 || line[0] == ';') {
			/* blank lines and comments */
		} else if ((line[0] == '-' || line[0] == '+') && n > 2 && line[1] == ' ') {
			struct cbuf *dst = line[0] == '-' ? &b->minus : &b->plus;

			if (!have)
				return cc_fail(e, CC_EINVAL, "line %zu: record before any $CHANGE",
					       *lineno);
			if (cbuf_put(dst, line + 2, n - 2) != 0 || cbuf_putc(dst, '\n') != 0)
				return cc_fail(e, CC_ENOMEM, "out of memory");
		} else {
			return cc_fail(e, CC_EINVAL, "line %zu: expected $CHANGE, '- RR' or '+ RR'",
				       *lineno);
		}
		*pos += nl != NULL ? (size_t)(nl - line) + 1 : len - *pos;
		(*lineno)++;
		b->len = (size_t)(text + *pos - b->text);
	}
	return have;
}

/* Explains a refusal: the block, then the node's reason. */
static void rp_report(const struct rp_block *b, const struct cc_err *e)
{
	size_t n = b->len;

	while (n > 0 && b->text[n - 1] == '\n')
		n--;
	fprintf(stderr, "concord: block %s -> %s (line %zu): %s\n", b->old, b->new_, b->line,
		e->msg);
	fprintf(stderr, "%.*s\n", (int)n, b->text);
}

static int rp_serial_ok(const char *s)
{
	if (*s == '\0' || strlen(s) > 19)
		return 0;
	for (; *s != '\0'; s++)
		if (*s < '0' || *s > '9')
			return 0;
	return 1;
}

int cli_replay(int argc, char **argv, struct cc_err *e)
{
	const char *node = NULL, *keys = NULL, *from = NULL, *limit = NULL;
	const struct cli_opt opts[] = {{"node", 0, CLI_ARG, &node},
				       {"keys", 0, CLI_ARG, &keys},
				       {"from", 0, CLI_ARG, &from},
				       {"limit", 0, CLI_ARG, &limit},
				       {0}};
	struct cli_args a = {0};
	struct rp_net net;
	struct rp_block b;
	struct rp_work w = {0};
	struct cc_err pe = {0, ""};
	struct rr_set minus = {0}, plus = {0};
	struct http *h = NULL;
	struct cbuf text = CBUF_INIT, *contents = NULL;
	struct proposal_op *ops = NULL;
	size_t pos = 0, lineno = 1, blocks = 0, total = 0, accepted = 0, maxops = 0, nops = 0, i;
	unsigned long long from_serial = 0, max_blocks = (unsigned long long)-1;
	double t0, secs;
	int64_t index;
	int ret;

	memset(&net, 0, sizeof(net));
	memset(&b, 0, sizeof(b));
	ret = cli_parse(argc, argv, opts, &a, e);
	if (ret < 0)
		goto out;
	if (a.npos != 1 || keys == NULL) {
		ret = cc_fail(e, CLI_EUSAGE, "replay-root-changes: expected FILE and --keys DIR");
		goto out;
	}
	if (from != NULL) {
		if (!rp_serial_ok(from)) {
			ret = cc_fail(e, CLI_EUSAGE, "replay-root-changes: --from takes a serial");
			goto out;
		}
		from_serial = strtoull(from, NULL, 10);
	}
	if (limit != NULL) {
		if (!rp_serial_ok(limit)) {
			ret = cc_fail(e, CLI_EUSAGE, "replay-root-changes: --limit takes a number");
			goto out;
		}
		max_blocks = strtoull(limit, NULL, 10);
	}
	ret = cli_read_file(a.pos[0], RP_FILE_MAX, &text, e);
	if (ret < 0)
		goto out;
	/* count the blocks first, so that progress lines can say how far along we are, and a
	 * malformed file fails before anything is proposed */
	while ((ret = rp_next_block(text.p, text.len, &pos, &lineno, &b, &pe)) == 1) {
		if (strtoull(b.old, NULL, 10) >= from_serial && total < max_blocks)
			total++;
	}
	if (ret < 0) {
		cc_fail(e, ret, "%s: %s", a.pos[0], pe.msg);
		goto out;
	}
	ret = rp_load_keys(&net, keys, e);
	if (ret < 0)
		goto out;
	ret = http_new(&h, cli_node_url(node), e);
	if (ret < 0)
		goto out;
	ret = rp_load_network(h, &net, e);
	if (ret < 0)
		goto out;

	t0 = rp_clock();
	pos = 0;
	lineno = 1;
	while (blocks < total &&
	       (ret = rp_next_block(text.p, text.len, &pos, &lineno, &b, e)) == 1) {
		if (strtoull(b.old, NULL, 10) < from_serial)
			continue;
		blocks++;
		minus.n = plus.n = 0;
		rp_work_free(&w);
		ret = rr_parse(&minus, b.minus.p != NULL ? b.minus.p : "", b.minus.len, e);
		if (ret == 0)
			ret = rr_parse(&plus, b.plus.p != NULL ? b.plus.p : "", b.plus.len, e);
		if (ret == 0)
			ret = rp_apply(h, &w, &minus, &plus, e);
		if (ret == 0 && w.n > maxops) {
			struct cbuf *c = realloc(contents, w.n * sizeof(*c));
			struct proposal_op *o = realloc(ops, w.n * sizeof(*o));

			if (c != NULL)
				contents = c;
			if (o != NULL)
				ops = o;
			if (c == NULL || o == NULL) {
				ret = cc_fail(e, CC_ENOMEM, "out of memory");
				goto out;
			}
			for (i = maxops; i < w.n; i++)
				memset(&contents[i], 0, sizeof(contents[i]));
			maxops = w.n;
		}
		for (i = 0; i < maxops; i++)
			cbuf_reset(&contents[i]);
		if (ret == 0 && w.n > 0) {
			memset(ops, 0, w.n * sizeof(*ops));
			ret = rp_ops(&w, &minus, ops, contents, &nops, e);
			if (ret == 0 && nops > 0) {
				ret = rp_propose(h, &net, ops, nops, &index, e);
				if (ret == 0)
					accepted++;
			}
		}
		if (ret < 0) {
			rp_report(&b, e);
			ret = CLI_EREPORTED;
			goto out;
		}
		if (blocks % RP_PROGRESS == 0) {
			printf("progress: %zu/%zu blocks, %zu proposals accepted, serial %s\n",
			       blocks, total, accepted, b.new_);
			fflush(stdout);
		}
	}
	if (ret < 0)
		goto out;
	secs = rp_clock() - t0;
	printf("replayed %zu blocks, %zu proposals accepted, %.2f s, %.1f proposals/s\n", blocks,
	       accepted, secs, secs > 0 ? (double)accepted / secs : 0.0);
	ret = 0;
out:
	for (i = 0; i < net.nkeys; i++)
		key_wipe(&net.keys[i]);
	free(net.keys);
	free(net.members);
	free(net.policies);
	for (i = 0; i < maxops; i++)
		cbuf_free(&contents[i]);
	free(contents);
	free(ops);
	rp_work_free(&w);
	rr_set_free(&minus);
	rr_set_free(&plus);
	cbuf_free(&b.minus);
	cbuf_free(&b.plus);
	cbuf_free(&text);
	http_free(h);
	cli_args_free(&a);
	return ret;
}
