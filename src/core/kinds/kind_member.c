/* member/<id>: a participant, its chamber and its keys, and the name server its node runs.
 * Content:
 *   chamber <government|private-sector|civil-society|technical|academic>
 *   key <verifier key named <id>>
 *   box <base64 X25519 public key>
 *   dns <host name> <address> [<address> ...]      (optional)
 * The members' name servers are the root zone's apex NS set, with their addresses. */
#include "core/kinds/kinds.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const struct ledger_member *members_find(const struct ledger_member *m, size_t n, const char *id)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(m[mid].id, id);

		if (c == 0)
			return &m[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

int record_line(const char **s, const char *end, const char *key, char *out, size_t outsz)
{
	const char *nl = memchr(*s, '\n', (size_t)(end - *s));
	size_t k = strlen(key), n;

	if (nl == NULL)
		nl = end;
	n = (size_t)(nl - *s);
	if (n <= k + 1 || memcmp(*s, key, k) != 0 || (*s)[k] != ' ' || n - k - 1 >= outsz)
		return CC_EINVAL;
	memcpy(out, *s + k + 1, n - k - 1);
	out[n - k - 1] = '\0';
	*s = nl < end ? nl + 1 : end;
	return 0;
}

int member_box_parse(unsigned char box[32], const char *s)
{
	char again[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_ORIGINAL)];
	size_t n = 0;

	if (sodium_base642bin(box, 32, s, strlen(s), NULL, &n, NULL,
			      sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    n != 32)
		return CC_EINVAL;
	/* libsodium 1.0.18 decodes some non-alphabet bytes; only the one canonical spelling of
	 * a key may be accepted, or one key would have several record contents. */
	sodium_bin2base64(again, sizeof(again), box, 32, sodium_base64_VARIANT_ORIGINAL);
	return strcmp(again, s) == 0 ? 0 : CC_EINVAL;
}

/* The addresses as glue lines, read by rr_parse: one reading of names and addresses in the
 * whole ledger, and their one canonical spelling. */
int member_dns_parse(struct member_dns *d, const char *s, size_t len, struct cc_err *e)
{
	struct cbuf lines = CBUF_INIT;
	struct rr_set rs = {0};
	const char *p = s, *end = s + len, *sp;
	char name[RR_NAME_MAX + 1];
	int ret = 0;

	memset(d, 0, sizeof(*d));
	sp = memchr(p, ' ', len);
	if (sp == NULL || sp == p || (size_t)(sp - p) > RR_NAME_MAX || memchr(p, '\n', len)) {
		ret = cc_fail(e, CC_EINVAL, "dns: expected \"NAME ADDRESS [ADDRESS ...]\"");
		goto out;
	}
	memcpy(name, p, (size_t)(sp - p));
	name[sp - p] = '\0';
	for (p = sp + 1; ret == 0 && p <= end;) {
		const char *q = memchr(p, ' ', (size_t)(end - p));
		size_t n = (size_t)((q ? q : end) - p);

		if (n == 0 || n >= sizeof(d->addrs[0])) {
			ret = cc_fail(e, CC_EINVAL, "dns: bad address list");
			goto out;
		}
		ret = cbuf_printf(&lines, "%s %d IN %s %.*s\n", name, TTL_DELEGATION,
				  memchr(p, ':', n) ? "AAAA" : "A", (int)n, p);
		p += n + 1;
	}
	if (ret == 0)
		ret = rr_parse(&rs, lines.p, lines.len, e);
	if (ret < 0)
		goto out;
	if (rs.n > MEMBER_DNS_ADDRS || strcmp(rs.v[0].owner, ".") == 0) {
		ret = cc_fail(e, CC_EINVAL,
			      "dns: a host name other than the root and 1 to %d "
			      "addresses",
			      MEMBER_DNS_ADDRS);
		goto out;
	}
	rr_sort(&rs);
	for (size_t i = 0; i < rs.n; i++) {
		if (i && rr_cmp(&rs.v[i - 1], &rs.v[i]) == 0) {
			ret = cc_fail(e, CC_EINVAL, "dns: address %s given twice", rs.v[i].rdata);
			goto out;
		}
		str_copy(d->addrs[i], sizeof(d->addrs[i]), rs.v[i].rdata);
	}
	str_copy(d->name, sizeof(d->name), rs.v[0].owner);
	d->naddrs = (unsigned)rs.n;
out:
	if (ret < 0)
		memset(d, 0, sizeof(*d));
	rr_set_free(&rs);
	cbuf_free(&lines);
	return ret;
}

int member_dns_render(const struct member_dns *d, struct cbuf *out)
{
	int ret = cbuf_puts(out, d->name);

	for (unsigned i = 0; ret == 0 && i < d->naddrs; i++)
		ret = cbuf_printf(out, " %s", d->addrs[i]);
	return ret;
}

/* Every TLD name server is checked against the members' name servers: a scan of hundreds of
 * member records per entry showed in the replay profile, hence the index. */
void members_reindex(struct ledger *l)
{
	map_free(&l->dnsnames);
	l->dnsnames_ok = 1;
	for (size_t i = 0; l->dnsnames_ok && i < l->nmembers; i++)
		if (l->members[i].dns.name[0] &&
		    map_put(&l->dnsnames, l->members[i].dns.name, &l->members[i]) < 0)
			l->dnsnames_ok = 0; /* the scan still answers */
}

const struct ledger_member *member_by_dns(const struct ledger *l, const char *name)
{
	if (l->dnsnames_ok)
		return map_get(&l->dnsnames, name);
	for (size_t i = 0; i < l->nmembers; i++)
		if (l->members[i].dns.name[0] && strcmp(l->members[i].dns.name, name) == 0)
			return &l->members[i];
	return NULL;
}

int member_parse(struct ledger_member *m, const char *id, const char *content, size_t len,
		 struct cc_err *e)
{
	const char *s = content, *end = content + len;
	char chamber[32], key[256], box[64], dns[1024] = "";

	memset(m, 0, sizeof(*m));
	if (record_line(&s, end, "chamber", chamber, sizeof(chamber)) < 0 ||
	    record_line(&s, end, "key", key, sizeof(key)) < 0 ||
	    record_line(&s, end, "box", box, sizeof(box)) < 0 ||
	    (s != end && record_line(&s, end, "dns", dns, sizeof(dns)) < 0) || s != end)
		return cc_fail(e, CC_EINVAL,
			       "member/%s: content must be the lines \"chamber C\", \"key "
			       "VERIFIER-KEY\", \"box BASE64\", and \"dns NAME ADDRESS...\" "
			       "for a member whose node serves the zone",
			       id);
	if (dns[0] && member_dns_parse(&m->dns, dns, strlen(dns), e) < 0) {
		char msg[CC_ERR_MSG];

		if (e) {
			str_copy(msg, sizeof(msg), e->msg);
			cc_fail(e, CC_EINVAL, "member/%s: %s", id, msg);
		}
		return CC_EINVAL;
	}
	m->chamber = chamber_parse(chamber);
	if (m->chamber < 0)
		return cc_fail(e, CC_EINVAL, "member/%s: unknown chamber \"%s\"", id, chamber);
	if (note_vkey_parse(&m->key, key, strlen(key), e) < 0)
		return CC_EINVAL;
	if (strcmp(m->key.name, id) != 0)
		return cc_fail(e, CC_EINVAL, "member/%s: its key is named \"%s\", not \"%s\"", id,
			       m->key.name, id);
	if (member_box_parse(m->box, box) < 0)
		return cc_fail(e, CC_EINVAL, "member/%s: box is not a base64 X25519 key", id);
	snprintf(m->id, sizeof(m->id), "%s", id);
	return 0;
}

int member_render(const struct ledger_member *m, struct cbuf *out)
{
	char box[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_ORIGINAL)];
	int ret;

	sodium_bin2base64(box, sizeof(box), m->box, sizeof(m->box), sodium_base64_VARIANT_ORIGINAL);
	ret = cbuf_printf(out, "chamber %s\nkey ", chamber_name(m->chamber));
	if (ret == 0)
		ret = note_vkey_format(&m->key, out);
	if (ret == 0)
		ret = cbuf_printf(out, "\nbox %s\n", box);
	if (ret == 0 && m->dns.name[0]) {
		ret = cbuf_puts(out, "dns ");
		if (ret == 0)
			ret = member_dns_render(&m->dns, out);
		if (ret == 0)
			ret = cbuf_putc(out, '\n');
	}
	return ret;
}

int member_plan(const struct ledger *l, struct plan *pl, const struct proposal_op *op,
		struct cc_err *e)
{
	const char *id = op->path + 7;
	const struct ledger_member *cur = members_find(l->members, l->nmembers, id);
	struct plan_member *pm = &pl->members[pl->nmembers];
	int ret = 0;

	memset(pm, 0, sizeof(*pm));
	pm->op = op;
	pm->exists = cur != NULL;
	if (op->version == PROPOSAL_VERSION_NEW
		? cur != NULL
		: cur == NULL || cur->version != (uint64_t)op->version)
		return cc_fail(e, CC_ESTALE, "%s: %s", op->path,
			       cur ? "the member exists with another version" : "no such member");
	if (op->kind == OP_PUT) {
		const struct ledger_member *other;

		ret = member_parse(&pm->m, id, op->content, op->content_len, e);
		if (ret < 0)
			return ret;
		/* A root server's addresses come from its member record alone. */
		if (pm->m.dns.name[0] && map_get(&l->hosts, pm->m.dns.name))
			return cc_fail(
			    e, CC_EINVAL,
			    "%s: %s is a name server of TLDs; a root server needs a name "
			    "of its own",
			    op->path, pm->m.dns.name);
		other = pm->m.dns.name[0] ? member_by_dns(l, pm->m.dns.name) : NULL;
		if (other && strcmp(other->id, id) != 0)
			return cc_fail(e, CC_EINVAL,
				       "%s: %s is already the name server of member %s", op->path,
				       pm->m.dns.name, other->id);
		for (size_t i = 0; i < pl->nmembers; i++)
			if (pm->m.dns.name[0] &&
			    strcmp(pl->members[i].m.dns.name, pm->m.dns.name) == 0)
				return cc_fail(e, CC_EINVAL, "%s: %s is named twice", op->path,
					       pm->m.dns.name);
	}
	pl->nmembers++;
	return plan_govern(pl, op->path);
}

static int member_cmp(const void *a, const void *b)
{
	return strcmp(((const struct ledger_member *)a)->id, ((const struct ledger_member *)b)->id);
}

int member_apply(struct ledger *l, struct plan *pl, uint64_t index)
{
	for (size_t i = 0; i < pl->nmembers; i++) {
		struct plan_member *pm = &pl->members[i];
		struct ledger_member *cur =
		    (struct ledger_member *)members_find(l->members, l->nmembers, pm->op->path + 7);

		if (pm->op->kind == OP_DELETE) {
			if (cur) {
				*cur = l->members[--l->nmembers];
				qsort(l->members, l->nmembers, sizeof(*cur), member_cmp);
			}
			continue;
		}
		pm->m.version = index;
		if (cur) {
			*cur = pm->m;
			continue;
		}
		/* l->members has room for LEDGER_MAX_MEMBERS, checked when planning. */
		l->members[l->nmembers++] = pm->m;
		qsort(l->members, l->nmembers, sizeof(*cur), member_cmp);
	}
	if (pl->nmembers)
		members_reindex(l);
	return 0;
}
