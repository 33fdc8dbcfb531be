/* node/<id>: the node member <id> runs. Content:
 *   url <http[s]://HOST[:PORT]>
 *   key <base64 Ed25519 public key>      the node key: checkpoints, cosignatures
 *   zsk <base64 Ed25519 public key>      its DNSSEC zone-signing key
 * Every node's ZSK is in the zone's DNSKEY set, so a node change touches the apex. */
#include "core/kinds/kinds.h"

#include <arpa/inet.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define NODE_HOST_MAX 253

/* ASCII alone, whatever the locale: every node must read a record the same way. */
static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int is_ldh(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-';
}

const struct ledger_node *nodes_find(const struct ledger_node *v, size_t n, const char *id)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(v[mid].id, id);

		if (c == 0)
			return &v[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* LDH labels of 1..63, no trailing dot; a last label of digits alone would read as an IPv4
 * address to some clients and a name to others, so it is refused. */
static int dns_host_valid(const char *h, size_t n)
{
	size_t label = 0, start = 0;
	int digits = 1;

	if (n == 0 || n > NODE_HOST_MAX)
		return 0;
	for (size_t i = 0; i <= n; i++) {
		if (i == n || h[i] == '.') {
			label = i - start;
			if (label == 0 || label > 63 || h[start] == '-' || h[i - 1] == '-')
				return 0;
			if (i < n) {
				start = i + 1;
				digits = 1;
			}
			continue;
		}
		if (!is_ldh(h[i]))
			return 0;
		digits &= is_digit(h[i]);
	}
	return !digits;
}

int node_url_parse(char out[NODE_URL_MAX + 1], const char *s, struct cc_err *e)
{
	char host[NODE_HOST_MAX + 1], scheme[8];
	const char *rest, *hs, *he, *port = NULL;
	size_t n = strlen(s), k;

	out[0] = '\0';
	if (n > NODE_URL_MAX)
		return cc_fail(e, CC_EINVAL, "url: longer than %d bytes", NODE_URL_MAX);
	if (strncasecmp(s, "http://", 7) == 0)
		str_copy(scheme, sizeof(scheme), "http");
	else if (strncasecmp(s, "https://", 8) == 0)
		str_copy(scheme, sizeof(scheme), "https");
	else
		return cc_fail(e, CC_EINVAL, "url \"%.64s\": must start with http:// or https://",
			       s);
	rest = s + strlen(scheme) + 3;
	if (strchr(rest, '@'))
		return cc_fail(e, CC_EINVAL, "url \"%.64s\": no user information allowed", s);
	if (strpbrk(rest, "/?#"))
		return cc_fail(e, CC_EINVAL,
			       "url \"%.64s\": no path, query or fragment (not even a final "
			       "'/'): only scheme, host and port",
			       s);
	if (rest[0] == '[') {
		unsigned char a6[16];
		char lit[INET6_ADDRSTRLEN];

		hs = rest + 1;
		he = strchr(hs, ']');
		if (he == NULL || (size_t)(he - hs) >= sizeof(lit))
			goto bad_host;
		memcpy(lit, hs, (size_t)(he - hs));
		lit[he - hs] = '\0';
		if (inet_pton(AF_INET6, lit, a6) != 1 ||
		    inet_ntop(AF_INET6, a6, lit, sizeof(lit)) == NULL)
			goto bad_host;
		snprintf(host, sizeof(host), "[%s]", lit);
		if (he[1] == ':')
			port = he + 2;
		else if (he[1] != '\0')
			goto bad_host;
	} else {
		unsigned char a4[4];
		char again[INET_ADDRSTRLEN];

		hs = rest;
		he = strchr(hs, ':');
		if (he == NULL)
			he = hs + strlen(hs);
		else
			port = he + 1;
		k = (size_t)(he - hs);
		if (k == 0 || k > NODE_HOST_MAX)
			goto bad_host;
		memcpy(host, hs, k);
		host[k] = '\0';
		/* A dotted quad in its one spelling, or a name. */
		if (inet_pton(AF_INET, host, a4) == 1) {
			if (inet_ntop(AF_INET, a4, again, sizeof(again)) == NULL ||
			    strcmp(again, host) != 0)
				goto bad_host;
		} else if (!dns_host_valid(host, k)) {
			goto bad_host;
		}
		for (char *c = host; *c; c++)
			if (*c >= 'A' && *c <= 'Z')
				*c = (char)(*c - 'A' + 'a');
	}
	if (port) {
		unsigned long p = 0;

		for (k = 0; port[k]; k++) {
			if (!is_digit(port[k]) || k == 5)
				break;
			p = p * 10 + (unsigned long)(port[k] - '0');
		}
		if (k == 0 || port[k] != '\0' || port[0] == '0' || p > 65535)
			return cc_fail(e, CC_EINVAL,
				       "url \"%.64s\": the port must be 1 to 65535, without "
				       "leading zeros",
				       s);
	}
	if (snprintf(out, NODE_URL_MAX + 1, "%s://%s%s%s", scheme, host, port ? ":" : "",
		     port ? port : "") > NODE_URL_MAX) {
		out[0] = '\0';
		return cc_fail(e, CC_EINVAL, "url: longer than %d bytes", NODE_URL_MAX);
	}
	return 0;
bad_host:
	return cc_fail(e, CC_EINVAL,
		       "url \"%.64s\": the host must be a DNS name, a dotted-quad IPv4 address "
		       "or [IPv6]",
		       s);
}

/* A 32-byte Ed25519 public key, canonical base64, a point of large order. */
static int node_key_parse(unsigned char key[32], const char *s)
{
	if (member_box_parse(key, s) < 0 || !crypto_core_ed25519_is_valid_point(key))
		return CC_EINVAL;
	return 0;
}

int ledger_node_parse(struct ledger_node *n, const char *id, const char *content, size_t len,
		      struct cc_err *e)
{
	const char *s = content, *end = content + len;
	char url[NODE_URL_MAX + 2], key[64], zsk[64];
	struct cc_err ue = {0, ""};

	memset(n, 0, sizeof(*n));
	if (!member_id_valid(id))
		return cc_fail(e, CC_EINVAL, "node/%.40s: not a member id", id);
	if (record_line(&s, end, "url", url, sizeof(url)) < 0 ||
	    record_line(&s, end, "key", key, sizeof(key)) < 0 ||
	    record_line(&s, end, "zsk", zsk, sizeof(zsk)) < 0 || s != end)
		return cc_fail(e, CC_EINVAL,
			       "node/%s: content must be the lines \"url URL\", \"key BASE64\" "
			       "and \"zsk BASE64\"",
			       id);
	if (node_url_parse(n->url, url, &ue) < 0)
		return cc_fail(e, CC_EINVAL, "node/%s: %s", id, ue.msg);
	if (node_key_parse(n->key, key) < 0)
		return cc_fail(e, CC_EINVAL,
			       "node/%s: key is not the canonical base64 of an Ed25519 public key",
			       id);
	if (node_key_parse(n->zsk, zsk) < 0)
		return cc_fail(e, CC_EINVAL,
			       "node/%s: zsk is not the canonical base64 of an Ed25519 public key",
			       id);
	/* One key, one role: a cosignature must never pass for a zone signature. */
	if (memcmp(n->key, n->zsk, 32) == 0)
		return cc_fail(e, CC_EINVAL, "node/%s: key and zsk must differ", id);
	str_copy(n->id, sizeof(n->id), id);
	return 0;
}

int ledger_node_render(const struct ledger_node *n, struct cbuf *out)
{
	char key[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_ORIGINAL)];
	char zsk[sizeof(key)];

	sodium_bin2base64(key, sizeof(key), n->key, 32, sodium_base64_VARIANT_ORIGINAL);
	sodium_bin2base64(zsk, sizeof(zsk), n->zsk, 32, sodium_base64_VARIANT_ORIGINAL);
	return cbuf_printf(out, "url %s\nkey %s\nzsk %s\n", n->url, key, zsk);
}

int noderec_plan(const struct ledger *l, struct plan *pl, const struct proposal_op *op,
		 struct cc_err *e)
{
	const char *id = op->path + 5;
	const struct ledger_node *cur = nodes_find(l->nodes, l->nnodes, id);
	struct plan_node *pn = &pl->nodes[pl->nnodes];
	int ret;

	memset(pn, 0, sizeof(*pn));
	pn->op = op;
	if (pl->genesis && cur)
		return cc_fail(e, CC_EINVAL, "genesis: %s given twice", op->path);
	if (!pl->genesis && (op->version == PROPOSAL_VERSION_NEW
				 ? cur != NULL
				 : cur == NULL || cur->version != (uint64_t)op->version))
		return cc_fail(e, CC_ESTALE, "%s: %s", op->path,
			       cur ? "the node exists with another version" : "no such node");
	if (op->kind == OP_PUT) {
		ret = ledger_node_parse(&pn->n, id, op->content, op->content_len, e);
		if (ret < 0)
			return ret;
	}
	pl->nnodes++;
	return pl->genesis ? 0 : plan_govern(pl, op->path);
}

static int node_cmp(const void *a, const void *b)
{
	return strcmp(((const struct ledger_node *)a)->id, ((const struct ledger_node *)b)->id);
}

int nodes_after(const struct ledger *l, const struct plan *pl, struct ledger_node **out, size_t *n)
{
	struct ledger_node *v = NULL;
	size_t k = l->nnodes;

	*out = NULL;
	*n = 0;
	if (l->nnodes + pl->nnodes == 0)
		return 0;
	v = calloc(l->nnodes + pl->nnodes, sizeof(*v));
	if (v == NULL)
		return CC_ENOMEM;
	if (l->nnodes)
		memcpy(v, l->nodes, l->nnodes * sizeof(*v));
	for (size_t i = 0; i < pl->nnodes; i++) {
		const struct plan_node *pn = &pl->nodes[i];
		struct ledger_node *cur = (struct ledger_node *)nodes_find(v, k, pn->op->path + 5);

		if (pn->op->kind == OP_DELETE)
			*cur = v[--k];
		else if (cur)
			*cur = pn->n;
		else
			v[k++] = pn->n;
		qsort(v, k, sizeof(*v), node_cmp);
	}
	*out = v;
	*n = k;
	return 0;
}

int nodes_unique(const struct ledger_node *v, size_t n, struct cc_err *e)
{
	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++) {
			const char *what = NULL;

			if (strcmp(v[i].url, v[j].url) == 0)
				what = "a url";
			else if (memcmp(v[i].key, v[j].key, 32) == 0)
				what = "a key";
			else if (memcmp(v[i].zsk, v[j].zsk, 32) == 0)
				what = "a zsk";
			else if (memcmp(v[i].key, v[j].zsk, 32) == 0 ||
				 memcmp(v[i].zsk, v[j].key, 32) == 0)
				what = "a key (one's key is the other's zsk)";
			if (what)
				return cc_fail(e, CC_EINVAL, "node/%s and node/%s would share %s",
					       v[i].id, v[j].id, what);
		}
	return 0;
}

int nodes_check(const struct ledger *l, const struct ledger_member *m, size_t nm,
		const struct ledger_node *v, size_t n, struct cc_err *e)
{
	for (size_t i = 0; i < n; i++) {
		if (members_find(m, nm, v[i].id))
			continue;
		if (members_find(l->members, l->nmembers, v[i].id))
			return cc_fail(e, CC_EINVAL,
				       "member/%s runs node/%s: delete node/%s in the same "
				       "proposal",
				       v[i].id, v[i].id, v[i].id);
		return cc_fail(e, CC_EINVAL, "node/%s: %s is not a member", v[i].id, v[i].id);
	}
	return nodes_unique(v, n, e);
}

int noderec_apply(struct ledger *l, struct plan *pl, uint64_t index)
{
	for (size_t i = 0; i < pl->nnodes; i++) {
		struct plan_node *pn = &pl->nodes[i];
		struct ledger_node *cur = (struct ledger_node *)nodes_find(l->nodes, l->nnodes,
									   pn->op->path + 5),
				   *v;

		if (pn->op->kind == OP_DELETE) {
			if (cur) {
				*cur = l->nodes[--l->nnodes];
				qsort(l->nodes, l->nnodes, sizeof(*cur), node_cmp);
			}
			continue;
		}
		pn->n.version = index;
		if (cur) {
			*cur = pn->n;
			continue;
		}
		v = realloc(l->nodes, (l->nnodes + 1) * sizeof(*v));
		if (v == NULL)
			return CC_ENOMEM;
		l->nodes = v;
		l->nodes[l->nnodes++] = pn->n;
		qsort(l->nodes, l->nnodes, sizeof(*v), node_cmp);
	}
	return 0;
}
