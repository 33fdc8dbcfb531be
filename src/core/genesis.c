#include "core/genesis.h"
#include "core/kinds/kinds.h"
#include "core/map.h"
#include "core/sha256.h"
#include "core/tfmt.h"
#include "core/tlog.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The default policies in path order, with those of nodes and the network when asked. */
static int policies_text(struct cbuf *out, int64_t consultation, int nodes)
{
	int ret = cbuf_puts(out, "record policy/cctld 2\napplies tld/??\nrequire state\n"
				 "record policy/member 2\napplies member/*\nrequire all 2/3\n");

	if (ret == 0 && nodes)
		ret = cbuf_puts(out, "record policy/network 2\napplies network/*\nrequire all 2/3\n"
				     "record policy/node 2\napplies node/*\nrequire all 2/3\n");
	if (ret == 0)
		ret = cbuf_puts(out, "record policy/policy 2\napplies policy/*\nrequire all 2/3\n");

	if (ret == 0 && consultation > 0)
		ret = cbuf_printf(
		    out,
		    "record policy/tld 4\napplies tld/*\nrequire chamber government 2/3\n"
		    "require chamber * 1/2\ndelay %lld\n",
		    (long long)consultation);
	else if (ret == 0)
		ret = cbuf_puts(
		    out, "record policy/tld 3\napplies tld/*\nrequire chamber government 2/3\n"
			 "require chamber * 1/2\n");
	return ret;
}

int genesis_default_policies(struct cbuf *out, int64_t consultation)
{
	return policies_text(out, consultation, 0);
}

static int gnode_cmp(const void *a, const void *b)
{
	return strcmp(((const struct ledger_node *)a)->id, ((const struct ledger_node *)b)->id);
}

/* The network and node records: each node read back through the node kind, so that a
 * genesis holds only what the ledger will accept, in its canonical form. */
static int nodes_text(const struct genesis_params *gp, struct cbuf *out, struct cc_err *e)
{
	struct ledger_node *v = calloc(gp->nnodes + 1, sizeof(*v));
	struct cbuf raw = CBUF_INIT;
	const char *seq = gp->sequencer, *q = gp->witness_quorum ? gp->witness_quorum : "2/3";
	unsigned num, den;
	int ret = 0;

	if (v == NULL)
		return CC_ENOMEM;
	if (gp->nnodes > gp->nmembers) {
		ret = cc_fail(e, CC_EINVAL, "more nodes than founding members");
		goto out;
	}
	memcpy(v, gp->nodes, gp->nnodes * sizeof(*v));
	qsort(v, gp->nnodes, sizeof(*v), gnode_cmp);
	for (size_t i = 0; i < gp->nnodes; i++) {
		char id[MEMBER_ID_MAX + 1];
		int member = 0;

		for (size_t j = 0; j < gp->nmembers; j++)
			member |= strcmp(gp->members[j].id, v[i].id) == 0;
		if (!member || (i && strcmp(v[i - 1].id, v[i].id) == 0)) {
			ret = cc_fail(e, CC_EINVAL, "node/%.32s: %s", v[i].id,
				      member ? "given twice" : "not a founding member");
			goto out;
		}
		str_copy(id, sizeof(id), v[i].id);
		cbuf_reset(&raw);
		ret = ledger_node_render(&v[i], &raw);
		if (ret == 0)
			ret = ledger_node_parse(&v[i], id, raw.p, raw.len, e);
		if (ret < 0)
			goto out;
	}
	ret = nodes_unique(v, gp->nnodes, e);
	if (ret < 0)
		goto out;
	if (seq == NULL)
		seq = v[0].id;
	if (nodes_find(v, gp->nnodes, seq) == NULL) {
		ret = cc_fail(e, CC_EINVAL, "sequencer %.32s: not one of the nodes", seq);
		goto out;
	}
	if (policy_fraction_parse(q, &num, &den) < 0) {
		ret = cc_fail(e, CC_EINVAL,
			      "witness quorum \"%.16s\": not N/D with 1 <= N <= D <= 100", q);
		goto out;
	}
	ret = cbuf_printf(out,
			  "record network/sequencer 1\nsequencer %s\n"
			  "record network/witness 1\nquorum %u/%u\n",
			  seq, num, den);
	for (size_t i = 0; ret == 0 && i < gp->nnodes; i++) {
		ret = cbuf_printf(out, "record node/%s 3\n", v[i].id);
		if (ret == 0)
			ret = ledger_node_render(&v[i], out);
	}
out:
	cbuf_free(&raw);
	free(v);
	return ret;
}

struct gtld {
	char label[64];	    /* map key */
	struct rr_set recs; /* NS, DS and glue */
};

struct ghost {
	char name[RR_NAME_MAX + 1]; /* map key */
	struct rr_set addrs;	    /* A, AAAA */
};

/* Groups the imported records by TLD (NS, DS) and host (A, AAAA). */
static int group(const struct rr_set *root, struct map *tlds, struct map *hosts, struct cc_err *e)
{
	int ret = 0;

	for (size_t i = 0; ret == 0 && i < root->n; i++) {
		const struct rr *r = &root->v[i];

		if (r->type == RR_NS || r->type == RR_DS) {
			struct gtld *t;
			size_t n = strlen(r->owner);

			if (n < 2 || n > 64 || strchr(r->owner, '.') != r->owner + n - 1)
				return cc_fail(e, CC_EINVAL, "%s %s record: not a TLD", r->owner,
					       r->type == RR_NS ? "NS" : "DS");
			t = map_get(tlds, r->owner);
			if (t == NULL) {
				t = calloc(1, sizeof(*t));
				if (t == NULL)
					return CC_ENOMEM;
				snprintf(t->label, sizeof(t->label), "%s", r->owner);
				ret = map_put(tlds, t->label, t);
				if (ret < 0) {
					free(t);
					return ret;
				}
			}
			ret = rr_set_add(&t->recs, r);
		} else {
			struct ghost *h = map_get(hosts, r->owner);

			if (h == NULL) {
				h = calloc(1, sizeof(*h));
				if (h == NULL)
					return CC_ENOMEM;
				snprintf(h->name, sizeof(h->name), "%s", r->owner);
				ret = map_put(hosts, h->name, h);
				if (ret < 0) {
					free(h);
					return ret;
				}
			}
			ret = rr_set_add(&h->addrs, r);
		}
	}
	return ret;
}

static int label_cmp(const void *a, const void *b)
{
	return rr_name_cmp((*(struct gtld *const *)a)->label, (*(struct gtld *const *)b)->label);
}

/* Appends one "record tld/<label>" block with the TLD's NS, DS and its name servers' glue. */
static int tld_block(struct gtld *t, const struct map *hosts, struct cbuf *out, struct cc_err *e)
{
	struct rr_set all = {0};
	struct cbuf lines = CBUF_INIT;
	size_t n = 0;
	int ret = 0;

	for (size_t i = 0; ret == 0 && i < t->recs.n; i++) {
		const struct ghost *h;

		ret = rr_set_add(&all, &t->recs.v[i]);
		if (ret < 0 || t->recs.v[i].type != RR_NS)
			continue;
		h = map_get(hosts, t->recs.v[i].rdata);
		if (h == NULL) {
			ret = cc_fail(e, CC_EINVAL, "%s: name server %s has no address in the zone",
				      t->label, t->recs.v[i].rdata);
			break;
		}
		for (size_t j = 0; ret == 0 && j < h->addrs.n; j++)
			ret = rr_set_add(&all, &h->addrs.v[j]);
	}
	if (ret == 0)
		rr_sort(&all);
	for (size_t i = 0; ret == 0 && i < all.n; i++) {
		if (i && rr_cmp(&all.v[i - 1], &all.v[i]) == 0)
			continue;
		ret =
		    rr_format(&all.v[i], all.v[i].type == RR_DS ? TTL_DS : TTL_DELEGATION, &lines);
		n++;
	}
	if (ret == 0)
		ret = cbuf_printf(out, "record tld/%.*s %zu\n", (int)strlen(t->label) - 1, t->label,
				  n);
	if (ret == 0)
		ret = cbuf_put(out, lines.p, lines.len);
	rr_set_free(&all);
	cbuf_free(&lines);
	return ret;
}

static int member_cmp(const void *a, const void *b)
{
	return strcmp(((const struct genesis_member *)a)->id,
		      ((const struct genesis_member *)b)->id);
}

static int members_text(const struct genesis_params *gp, struct cbuf *text, struct cc_err *e)
{
	struct genesis_member *m = calloc(gp->nmembers + 1, sizeof(*m));
	int ret = 0;

	if (m == NULL)
		return CC_ENOMEM;
	if (gp->nmembers == 0 || gp->nmembers > LEDGER_MAX_MEMBERS) {
		ret = cc_fail(e, CC_EINVAL, "a genesis needs 1 to %d members", LEDGER_MAX_MEMBERS);
		goto out;
	}
	memcpy(m, gp->members, gp->nmembers * sizeof(*m));
	qsort(m, gp->nmembers, sizeof(*m), member_cmp);
	for (size_t i = 0; ret == 0 && i < gp->nmembers; i++) {
		char box[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_ORIGINAL)];

		if (!member_id_valid(m[i].id) || strcmp(m[i].pub.sign.name, m[i].id) != 0 ||
		    m[i].chamber < 0 || m[i].chamber >= CHAMBER_COUNT) {
			ret = cc_fail(e, CC_EINVAL, "member \"%s\": bad id, chamber, or key name",
				      m[i].id);
			break;
		}
		for (size_t j = 0; j < i; j++)
			if (strcmp(m[j].id, m[i].id) == 0 ||
			    memcmp(m[j].pub.sign.pub, m[i].pub.sign.pub, 32) == 0) {
				ret =
				    cc_fail(e, CC_EINVAL, "members %s and %s: same id or same key",
					    m[j].id, m[i].id);
				goto out;
			}
		sodium_bin2base64(box, sizeof(box), m[i].pub.box_pk, 32,
				  sodium_base64_VARIANT_ORIGINAL);
		ret = cbuf_printf(text, "member %s %s ", m[i].id, chamber_name(m[i].chamber));
		if (ret == 0)
			ret = note_vkey_format(&m[i].pub.sign, text);
		if (ret == 0)
			ret = cbuf_printf(text, " %s\n", box);
	}
	/* Then the founding members' name servers, the apex NS set of the zone. */
	for (size_t i = 0; ret == 0 && i < gp->nmembers; i++) {
		if (m[i].dns.name[0] == '\0')
			continue;
		for (size_t j = 0; j < i; j++)
			if (strcmp(m[j].dns.name, m[i].dns.name) == 0) {
				ret = cc_fail(e, CC_EINVAL,
					      "members %s and %s: the same name server %s", m[j].id,
					      m[i].id, m[i].dns.name);
				goto out;
			}
		ret = cbuf_printf(text, "dns %s ", m[i].id);
		if (ret == 0)
			ret = member_dns_render(&m[i].dns, text);
		if (ret == 0)
			ret = cbuf_putc(text, '\n');
	}
out:
	free(m);
	return ret;
}

int genesis_build(const struct genesis_params *gp, struct cbuf *bundle, struct cc_err *e)
{
	struct map tlds = {0}, hosts = {0};
	struct cbuf recs = CBUF_INIT, text = CBUF_INIT, chunks = CBUF_INIT, chunk = CBUF_INIT,
		    e0 = CBUF_INIT;
	struct gtld **order = NULL;
	char t[TFMT_LEN + 1];
	size_t n = 0, k = 0, off = 0;
	int ret = 0;

	if (gp->origin == NULL || gp->origin[0] == '\0' || strlen(gp->origin) > TLOG_ORIGIN_MAX ||
	    strpbrk(gp->origin, " \t\n+")) {
		ret =
		    cc_fail(e, CC_EINVAL, "origin must be 1-255 printable bytes, no spaces or '+'");
		goto out;
	}
	tfmt_format(gp->time, t);
	ret = cbuf_printf(&text, "concord genesis v1\norigin %s\ntime %s\n", gp->origin, t);
	if (ret == 0)
		ret = members_text(gp, &text, e);
	if (ret == 0 && gp->nnodes == 0 && (gp->sequencer || gp->witness_quorum))
		ret = cc_fail(e, CC_EINVAL, "a sequencer or a witness quorum needs nodes");
	if (ret == 0)
		ret = policies_text(&recs, gp->consultation, gp->nnodes > 0);
	if (ret == 0 && gp->nnodes)
		ret = nodes_text(gp, &recs, e);
	if (ret == 0 && gp->root)
		ret = group(gp->root, &tlds, &hosts, e);
	if (ret < 0)
		goto out;
	order = calloc(tlds.n + 1, sizeof(*order));
	if (order == NULL) {
		ret = CC_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < tlds.cap; i++)
		if (tlds.slot[i].key)
			order[n++] = tlds.slot[i].val;
	qsort(order, n, sizeof(*order), label_cmp);
	for (size_t i = 0; ret == 0 && i < n; i++)
		ret = tld_block(order[i], &hosts, &recs, e);
	if (ret < 0)
		goto out;
	/* Cut the records into chunk entries at record boundaries. */
	while (off < recs.len) {
		size_t end = off, next;
		unsigned char h[32];
		char hex[65];

		while (end < recs.len) {
			unsigned lines = 0;
			const char *p = recs.p + end;

			sscanf(p, "record %*s %u", &lines);
			next = end;
			for (unsigned i = 0; i <= lines; i++)
				next =
				    (size_t)((char *)memchr(recs.p + next, '\n', recs.len - next) -
					     recs.p) +
				    1;
			if (next - off > GENESIS_CHUNK_MAX - 32 && end > off)
				break;
			end = next;
		}
		if (end - off > GENESIS_CHUNK_MAX) {
			ret = cc_fail(e, CC_ETOOBIG, "a record is larger than a genesis chunk");
			goto out;
		}
		k++;
		cbuf_reset(&chunk);
		ret = cbuf_printf(&chunk, "concord chunk %zu\n", k);
		if (ret == 0)
			ret = cbuf_put(&chunk, recs.p + off, end - off);
		if (ret < 0)
			goto out;
		sha256_digest(chunk.p, chunk.len, h);
		sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
		ret = cbuf_printf(&text, "chunk %s\n", hex);
		if (ret == 0)
			ret = tlog_bundle_append(&chunks, chunk.p, chunk.len);
		if (ret < 0)
			goto out;
		off = end;
	}
	ret = cbuf_printf(&e0, "concord genesis %s\n%s\n", t, text.p);
	if (ret == 0 && e0.len > NOTE_MAX_SIZE)
		ret = cc_fail(e, CC_ETOOBIG, "too many members for one genesis note");
	if (ret == 0)
		ret = tlog_bundle_append(bundle, e0.p, e0.len);
	if (ret == 0)
		ret = cbuf_put(bundle, chunks.p, chunks.len);
out:
	for (size_t i = 0; i < tlds.cap; i++)
		if (tlds.slot[i].key) {
			rr_set_free(&((struct gtld *)tlds.slot[i].val)->recs);
			free(tlds.slot[i].val);
		}
	for (size_t i = 0; i < hosts.cap; i++)
		if (hosts.slot[i].key) {
			rr_set_free(&((struct ghost *)hosts.slot[i].val)->addrs);
			free(hosts.slot[i].val);
		}
	map_free(&tlds);
	map_free(&hosts);
	free(order);
	cbuf_free(&recs);
	cbuf_free(&text);
	cbuf_free(&chunks);
	cbuf_free(&chunk);
	cbuf_free(&e0);
	return ret;
}

/* Entry 0 split into its header, note text and signature lines (possibly none yet). */
struct e0 {
	const char *hdr, *text, *sigs; /* pointers into the entry */
	size_t hlen, tlen, slen;       /* their lengths */
};

static int split_e0(const unsigned char *entry, size_t len, struct e0 *s, struct cc_err *e)
{
	const char *p = (const char *)entry, *end = p + len, *nl, *sep = NULL;

	nl = memchr(p, '\n', len);
	if (nl == NULL || strncmp(p, "concord genesis ", 16) != 0)
		return cc_fail(e, CC_EINVAL, "not a genesis file: entry 0 is not a genesis note");
	s->hdr = p;
	s->hlen = (size_t)(nl - p) + 1;
	for (const char *q = nl + 1; q + 1 < end; q++)
		if (q[0] == '\n' && q[1] == '\n')
			sep = q;
	if (sep == NULL)
		return cc_fail(e, CC_EINVAL,
			       "genesis note has no blank line before its signatures");
	s->text = nl + 1;
	s->tlen = (size_t)(sep + 1 - s->text);
	s->sigs = sep + 2;
	s->slen = (size_t)(end - s->sigs);
	return 0;
}

static int sig_cmp(const void *a, const void *b)
{
	return strcmp(((const struct note_sig *)a)->name, ((const struct note_sig *)b)->name);
}

int genesis_sign(struct cbuf *bundle, const struct key_pair *k, struct cc_err *e)
{
	const unsigned char *entry;
	size_t elen, off = 0, nsigs = 0, rest;
	struct note_sig *sigs = NULL, *v;
	struct cbuf vk = CBUF_INIT, want = CBUF_INIT, e0 = CBUF_INIT, out = CBUF_INIT;
	struct key_pub pub;
	struct e0 s;
	int ret;

	ret = tlog_bundle_next((const unsigned char *)bundle->p, bundle->len, &off, &entry, &elen);
	if (ret != 1) {
		ret = cc_fail(e, CC_EINVAL, "not a genesis file");
		goto out;
	}
	rest = off;
	ret = split_e0(entry, elen, &s, e);
	if (ret < 0)
		goto out;
	key_public(k, &pub);
	ret = note_vkey_format(&pub.sign, &vk);
	if (ret == 0)
		ret = cbuf_printf(&want, "\nmember %s ", k->sign.key.name);
	if (ret < 0)
		goto out;
	{
		/* The member's line must list exactly this key. */
		const char *at = memmem(s.text, s.tlen, want.p + 1, want.len - 1), *eol;

		if (at == NULL || (at != s.text && at[-1] != '\n')) {
			ret = cc_fail(e, CC_EPERM, "%s is not a founding member of this genesis",
				      k->sign.key.name);
			goto out;
		}
		eol = memchr(at, '\n', (size_t)(s.text + s.tlen - at));
		if (eol == NULL || memmem(at, (size_t)(eol - at), vk.p, vk.len) == NULL) {
			ret =
			    cc_fail(e, CC_EPERM, "this key is not the one the genesis lists for %s",
				    k->sign.key.name);
			goto out;
		}
	}
	if (s.slen) {
		ret = note_parse_sigs(&sigs, &nsigs, s.sigs, s.slen, e);
		if (ret < 0)
			goto out;
	}
	v = realloc(sigs, (nsigs + 1) * sizeof(*v));
	if (v == NULL) {
		ret = CC_ENOMEM;
		goto out;
	}
	sigs = v;
	for (size_t i = 0; i < nsigs; i++)
		if (strcmp(sigs[i].name, k->sign.key.name) == 0)
			sigs[i] = sigs[--nsigs];
	ret = note_sign(&k->sign, s.text, s.tlen, &sigs[nsigs]);
	if (ret < 0)
		goto out;
	nsigs++;
	qsort(sigs, nsigs, sizeof(*sigs), sig_cmp);
	ret = cbuf_put(&e0, s.hdr, s.hlen);
	if (ret == 0)
		ret = note_format(s.text, s.tlen, sigs, nsigs, &e0);
	if (ret == 0)
		ret = tlog_bundle_append(&out, e0.p, e0.len);
	if (ret == 0)
		ret = cbuf_put(&out, bundle->p + rest, bundle->len - rest);
	if (ret == 0) {
		cbuf_free(bundle);
		*bundle = out;
		memset(&out, 0, sizeof(out));
	}
out:
	free(sigs);
	cbuf_free(&vk);
	cbuf_free(&want);
	cbuf_free(&e0);
	cbuf_free(&out);
	return ret;
}

int genesis_describe(const unsigned char *bundle, size_t len, struct cbuf *out, struct cc_err *e)
{
	const unsigned char *entry;
	size_t elen, off = 0, nsigs = 0, entries = 0;
	struct note_sig *sigs = NULL;
	struct e0 s;
	int ret = 0;

	if (tlog_bundle_next(bundle, len, &off, &entry, &elen) != 1)
		return cc_fail(e, CC_EINVAL, "not a genesis file");
	entries = 1;
	ret = split_e0(entry, elen, &s, e);
	if (ret == 0 && s.slen)
		ret = note_parse_sigs(&sigs, &nsigs, s.sigs, s.slen, e);
	if (ret < 0)
		goto out;
	for (const char *p = s.text; p < s.text + s.tlen;) {
		const char *nl = memchr(p, '\n', (size_t)(s.text + s.tlen - p));
		char id[MEMBER_ID_MAX + 1], chamber[32];

		if (sscanf(p, "member %32s %31s", id, chamber) == 2) {
			int signed_ = 0;

			for (size_t i = 0; i < nsigs; i++)
				signed_ |= strcmp(sigs[i].name, id) == 0;
			ret = cbuf_printf(out, "member %-12s %-15s %s\n", id, chamber,
					  signed_ ? "signed" : "NOT SIGNED");
		} else if (strncmp(p, "origin ", 7) == 0 || strncmp(p, "time ", 5) == 0) {
			ret = cbuf_put(out, p, (size_t)(nl - p) + 1);
		}
		if (ret < 0)
			goto out;
		p = nl + 1;
	}
	for (;;) {
		int r = tlog_bundle_next(bundle, len, &off, &entry, &elen);

		if (r < 0) {
			ret = cc_fail(e, CC_EINVAL, "genesis file truncated");
			goto out;
		}
		if (r == 0)
			break;
		entries++;
	}
	ret = cbuf_printf(out, "entries %zu (1 genesis note, %zu record chunks)\n", entries,
			  entries - 1);
out:
	free(sigs);
	return ret;
}
