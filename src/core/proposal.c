#include "core/proposal.h"
#include "core/dec.h"
#include "core/sha256.h"
#include "core/tfmt.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define CONTENT_MAX_LINES 4096

int member_id_valid(const char *id)
{
	size_t n = strlen(id);

	if (n == 0 || n > MEMBER_ID_MAX || id[0] == '-')
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((id[i] >= 'a' && id[i] <= 'z') || (id[i] >= '0' && id[i] <= '9') ||
		      id[i] == '-'))
			return 0;
	return 1;
}

/* A DNS label as root-zone delegations use them: letters, digits, hyphen (and underscore for
 * host names), never starting or ending with a hyphen. */
static int label_valid(const char *s, size_t n, int underscore)
{
	if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-')
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-' ||
		      (underscore && s[i] == '_')))
			return 0;
	return 1;
}

static int host_valid(const char *s)
{
	size_t n = strlen(s);
	const char *p = s, *dot;

	if (n < 2 || n > 254 || s[n - 1] != '.')
		return 0;
	while (*p) {
		dot = strchr(p, '.');
		if (!label_valid(p, (size_t)(dot - p), 1))
			return 0;
		p = dot + 1;
	}
	return 1;
}

int path_valid(const char *path, struct cc_err *e)
{
	const char *slash = strchr(path, '/'), *rest;
	size_t n = strlen(path);

	if (n > PATH_MAX_LEN || slash == NULL)
		return cc_fail(e, CC_EINVAL, "bad path \"%.64s\": expected kind/name", path);
	rest = slash + 1;
	if (strncmp(path, "tld/", 4) == 0) {
		if (!label_valid(rest, strlen(rest), 0))
			return cc_fail(e, CC_EINVAL, "bad path %.64s: not a TLD label", path);
	} else if (strncmp(path, "host/", 5) == 0) {
		if (!host_valid(rest))
			return cc_fail(e, CC_EINVAL,
				       "bad path %.80s: not an absolute lower-case host name",
				       path);
	} else if (strncmp(path, "member/", 7) == 0) {
		if (!member_id_valid(rest))
			return cc_fail(e, CC_EINVAL, "bad path %.64s: not a member id", path);
	} else if (strncmp(path, "policy/", 7) == 0) {
		if (!member_id_valid(rest))
			return cc_fail(e, CC_EINVAL, "bad path %.64s: not a policy name", path);
	} else if (strncmp(path, "node/", 5) == 0) {
		if (!member_id_valid(rest))
			return cc_fail(e, CC_EINVAL, "bad path %.64s: not a member id", path);
	} else if (strncmp(path, "network/", 8) == 0) {
		/* The name's syntax only: which names exist is the record kind's business. */
		if (!member_id_valid(rest))
			return cc_fail(e, CC_EINVAL, "bad path %.64s: not a network record name",
				       path);
	} else {
		return cc_fail(e, CC_EINVAL, "bad path \"%.64s\": unknown record kind", path);
	}
	return 0;
}

void proposal_id(const char *body, size_t len, char id[PROPOSAL_ID_LEN + 1])
{
	unsigned char h[SHA256_DIGEST];

	sha256_digest(body, len, h);
	sodium_bin2hex(id, PROPOSAL_ID_LEN + 1, h, sizeof(h));
}

/* Next line of [*p, end) without its '\n'; the body is known to end in '\n'. */
static int next_line(const char **p, const char *end, const char **line, size_t *n)
{
	const char *nl;

	if (*p >= end)
		return 0;
	nl = memchr(*p, '\n', (size_t)(end - *p));
	if (nl == NULL)
		return 0;
	*line = *p;
	*n = (size_t)(nl - *p);
	*p = nl + 1;
	return 1;
}

/* Matches "<key> <value>" exactly, copying value (no spaces allowed in it). */
static int keyed(const char *line, size_t n, const char *key, char *out, size_t outsz)
{
	size_t k = strlen(key);

	if (n <= k + 1 || memcmp(line, key, k) != 0 || line[k] != ' ')
		return 0;
	if (n - k - 1 >= outsz || memchr(line + k + 1, ' ', n - k - 1))
		return 0;
	memcpy(out, line + k + 1, n - k - 1);
	out[n - k - 1] = '\0';
	return 1;
}

static int parse_uint(const char *s, int64_t max, int64_t *out)
{
	size_t n = strlen(s);
	uint64_t v;

	if (dec_parse(s, n, (uint64_t)max, &v) != (int)n)
		return CC_EINVAL;
	*out = (int64_t)v;
	return 0;
}

static int parse_op(struct proposal *p, const char *line, size_t n, const char **cur,
		    const char *end, unsigned lineno, struct cc_err *e)
{
	char buf[PATH_MAX_LEN + 64], *f[5], *save = NULL;
	struct proposal_op *op = &p->ops[p->nops];
	int nf = 0, ret = 0;
	int64_t nlines = 0;
	const char *l;
	size_t ln;

	if (n >= sizeof(buf))
		return cc_fail(e, CC_EINVAL, "proposal: line %u: too long", lineno);
	memcpy(buf, line, n);
	buf[n] = '\0';
	/* Up to one field more than any operation has, so that a fifth one is seen and
	 * refused rather than left unread. */
	for (char *t = strtok_r(buf, " ", &save); t && nf < 5; t = strtok_r(NULL, " ", &save))
		f[nf++] = t;
	if (nf == 5 || memmem(line, n, "  ", 2) || line[0] == ' ' || (n > 0 && line[n - 1] == ' '))
		return cc_fail(e, CC_EINVAL, "proposal: line %u: malformed operation", lineno);
	memset(op, 0, sizeof(*op));
	if (nf == 4 && strcmp(f[0], "put") == 0)
		op->kind = OP_PUT;
	else if (nf == 3 && strcmp(f[0], "delete") == 0)
		op->kind = OP_DELETE;
	else
		return cc_fail(e, CC_EINVAL,
			       "proposal: line %u: expected \"put PATH VERSION LINES\" or "
			       "\"delete PATH VERSION\"",
			       lineno);
	ret = path_valid(f[1], e);
	if (ret < 0)
		return ret;
	str_copy(op->path, sizeof(op->path), f[1]);
	if (strcmp(f[2], "new") == 0 && op->kind == OP_PUT)
		op->version = PROPOSAL_VERSION_NEW;
	else if (parse_uint(f[2], INT64_MAX, &op->version) < 0)
		return cc_fail(e, CC_EINVAL, "proposal: line %u: bad version \"%.32s\"", lineno,
			       f[2]);
	for (size_t i = 0; i < p->nops; i++)
		if (strcmp(p->ops[i].path, op->path) == 0)
			return cc_fail(e, CC_EINVAL, "proposal: %s appears twice", op->path);
	if (op->kind == OP_PUT) {
		if (parse_uint(f[3], CONTENT_MAX_LINES, &nlines) < 0 || nlines == 0)
			return cc_fail(e, CC_EINVAL, "proposal: line %u: bad line count", lineno);
		op->content = *cur;
		for (int64_t i = 0; i < nlines; i++) {
			if (!next_line(cur, end, &l, &ln))
				return cc_fail(e, CC_EINVAL,
					       "proposal: %s: %" PRId64 " content lines announced, "
					       "%" PRId64 " present",
					       op->path, nlines, i);
			if (ln == 0)
				return cc_fail(e, CC_EINVAL, "proposal: %s: empty content line",
					       op->path);
		}
		op->content_len = (size_t)(*cur - op->content);
	}
	p->nops++;
	return 0;
}

int proposal_parse(struct proposal *p, const char *body, size_t len, struct cc_err *e)
{
	const char *cur = body, *end = body + len, *line;
	char tbuf[TFMT_LEN + 2];
	unsigned lineno = 0;
	size_t n, cap;
	int ret = 0;

	memset(p, 0, sizeof(*p));
	if (len == 0 || body[len - 1] != '\n' || memchr(body, '\0', len))
		return cc_fail(e, CC_EINVAL, "proposal: body must be text ending in a newline");
	if (len > NOTE_MAX_SIZE)
		return cc_fail(e, CC_ETOOBIG, "proposal: body over %d bytes", NOTE_MAX_SIZE);
	p->body = malloc(len + 1);
	/* Most proposals change one or a few records: grow the operations on demand rather
	 * than clear room for PROPOSAL_MAX_OPS on every parse (this is on the node's hot path). */
	cap = 4;
	p->ops = malloc(cap * sizeof(*p->ops));
	if (p->body == NULL || p->ops == NULL) {
		ret = CC_ENOMEM;
		goto out;
	}
	memcpy(p->body, body, len);
	p->body[len] = '\0';
	p->body_len = len;
	cur = p->body;
	end = p->body + len;
	proposal_id(p->body, len, p->id);

	lineno++;
	if (!next_line(&cur, end, &line, &n) || n != 19 ||
	    memcmp(line, "concord proposal v1", 19)) {
		ret = cc_fail(e, CC_EINVAL, "proposal: first line must be \"concord proposal v1\"");
		goto out;
	}
	lineno++;
	if (!next_line(&cur, end, &line, &n) ||
	    !keyed(line, n, "origin", p->origin, sizeof(p->origin))) {
		ret = cc_fail(e, CC_EINVAL, "proposal: line 2 must be \"origin ORIGIN\"");
		goto out;
	}
	lineno++;
	if (!next_line(&cur, end, &line, &n) ||
	    !keyed(line, n, "proposer", p->proposer, sizeof(p->proposer)) ||
	    !member_id_valid(p->proposer)) {
		ret = cc_fail(e, CC_EINVAL, "proposal: line 3 must be \"proposer MEMBER-ID\"");
		goto out;
	}
	lineno++;
	if (!next_line(&cur, end, &line, &n) || !keyed(line, n, "created", tbuf, sizeof(tbuf)) ||
	    tfmt_parse(tbuf, &p->created) < 0) {
		ret = cc_fail(e, CC_EINVAL,
			      "proposal: line 4 must be \"created YYYY-MM-DDTHH:MM:SSZ\"");
		goto out;
	}
	lineno++;
	if (!next_line(&cur, end, &line, &n) || !keyed(line, n, "expires", tbuf, sizeof(tbuf)) ||
	    tfmt_parse(tbuf, &p->expires) < 0) {
		ret = cc_fail(e, CC_EINVAL,
			      "proposal: line 5 must be \"expires YYYY-MM-DDTHH:MM:SSZ\"");
		goto out;
	}
	if (p->expires <= p->created) {
		ret = cc_fail(e, CC_EINVAL, "proposal: expires is not after created");
		goto out;
	}
	while (next_line(&cur, end, &line, &n)) {
		lineno++;
		if (p->nops == PROPOSAL_MAX_OPS) {
			ret = cc_fail(e, CC_ETOOBIG, "proposal: more than %d operations",
				      PROPOSAL_MAX_OPS);
			goto out;
		}
		if (p->nops == cap) {
			struct proposal_op *v;

			cap = cap * 2 < PROPOSAL_MAX_OPS ? cap * 2 : PROPOSAL_MAX_OPS;
			v = realloc(p->ops, cap * sizeof(*v));
			if (v == NULL) {
				ret = CC_ENOMEM;
				goto out;
			}
			p->ops = v;
		}
		ret = parse_op(p, line, n, &cur, end, lineno, e);
		if (ret < 0)
			goto out;
		/* Content lines are lines too: later messages must name the right one. */
		for (size_t i = 0; i < p->ops[p->nops - 1].content_len; i++)
			lineno += p->ops[p->nops - 1].content[i] == '\n';
	}
	if (p->nops == 0)
		ret = cc_fail(e, CC_EINVAL, "proposal: no operation");
out:
	if (ret < 0)
		proposal_free(p);
	return ret;
}

void proposal_free(struct proposal *p)
{
	free(p->body);
	free(p->ops);
	memset(p, 0, sizeof(*p));
}

int proposal_format(struct cbuf *out, const char *origin, const char *proposer, int64_t created,
		    int64_t expires, const struct proposal_op *ops, size_t nops)
{
	char c[TFMT_LEN + 1], x[TFMT_LEN + 1];
	struct cbuf content = CBUF_INIT;
	int ret = 0;

	tfmt_format(created, c);
	tfmt_format(expires, x);
	ret = cbuf_printf(out,
			  "concord proposal v1\norigin %s\nproposer %s\ncreated %s\nexpires %s\n",
			  origin, proposer, c, x);
	for (size_t i = 0; ret == 0 && i < nops; i++) {
		const struct proposal_op *op = &ops[i];
		/* Deletes may come with no content at all: no arithmetic on NULL. */
		const char *s = op->content, *se = s ? s + op->content_len : s;
		unsigned lines = 0;

		if (op->kind == OP_DELETE) {
			ret = cbuf_printf(out, "delete %s %" PRId64 "\n", op->path, op->version);
			continue;
		}
		/* Blank lines carry nothing in master-file text and a body cannot hold them. */
		cbuf_reset(&content);
		while (ret == 0 && s < se) {
			const char *nl = memchr(s, '\n', (size_t)(se - s));
			const char *le = nl ? nl : se, *t = s;

			while (t < le && (*t == ' ' || *t == '\t' || *t == '\r'))
				t++;
			if (t < le) {
				size_t ln = (size_t)(le - s);

				while (ln > 0 &&
				       (s[ln - 1] == '\r' || s[ln - 1] == ' ' || s[ln - 1] == '\t'))
					ln--;
				/* Notes allow no control characters: tabs, common in zone
				 * files, become spaces. */
				for (size_t k = 0; ret == 0 && k < ln; k++)
					ret = cbuf_putc(&content, s[k] == '\t' ? ' ' : s[k]);
				if (ret == 0)
					ret = cbuf_putc(&content, '\n');
				lines++;
			}
			s = nl ? nl + 1 : se;
		}
		if (ret < 0)
			break;
		if (op->version == PROPOSAL_VERSION_NEW)
			ret = cbuf_printf(out, "put %s new %u\n", op->path, lines);
		else
			ret = cbuf_printf(out, "put %s %" PRId64 " %u\n", op->path, op->version,
					  lines);
		if (ret == 0 && content.len)
			ret = cbuf_put(out, content.p, content.len);
	}
	cbuf_free(&content);
	return ret;
}
