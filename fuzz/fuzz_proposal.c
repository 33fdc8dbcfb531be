/* libFuzzer target for the proposal and policy parsers (and the time format they use).
 * Beyond memory safety it checks what the ledger relies on:
 * - an accepted proposal is well formed (1..256 operations on distinct valid paths, content
 *   inside the body, non-empty lines), its id is the hash of its bytes, and proposal_format
 *   writes its parts back to the same bytes whenever no content line has something the writer
 *   cleans (tabs, trailing blanks, blank-looking lines); otherwise the writer is idempotent;
 * - an accepted policy has one canonical text, which parses to itself;
 * - an accepted time formats back to the same 20 characters;
 * - every refusal says why, on one line. */
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/policy.h"
#include "core/proposal.h"
#include "core/tfmt.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (sodium_init() < 0)
		abort();
	return 0;
}

static void refused_well(int r, const struct cc_err *e)
{
	if (r >= 0 || e->code != r || e->msg[0] == '\0' || strchr(e->msg, '\n') != NULL)
		abort();
}

/* Whether proposal_format would write this content line for line. */
static int content_clean(const char *s, size_t n)
{
	const char *end = s + n;

	while (s < end) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		size_t k = (size_t)(nl - s), blank = 0;

		if (memchr(s, '\t', k) != NULL || s[k - 1] == ' ' || s[k - 1] == '\r')
			return 0;
		while (blank < k && (s[blank] == ' ' || s[blank] == '\r'))
			blank++;
		if (blank == k)
			return 0;
		s = nl + 1;
	}
	return 1;
}

static void check_proposal(const struct proposal *p, const uint8_t *data, size_t size)
{
	char id[PROPOSAL_ID_LEN + 1];
	int clean = 1;

	if (p->nops < 1 || p->nops > PROPOSAL_MAX_OPS || p->body_len != size ||
	    memcmp(p->body, data, size) != 0 || p->body[size] != '\0' || p->created >= p->expires ||
	    !member_id_valid(p->proposer) || p->origin[0] == '\0')
		abort();
	proposal_id((const char *)data, size, id);
	if (strcmp(id, p->id) != 0)
		abort();
	for (size_t i = 0; i < p->nops; i++) {
		const struct proposal_op *op = &p->ops[i];

		if (path_valid(op->path, NULL) != 0 || op->version < PROPOSAL_VERSION_NEW)
			abort();
		for (size_t j = 0; j < i; j++)
			if (strcmp(p->ops[j].path, op->path) == 0)
				abort();
		if (op->kind == OP_DELETE) {
			if (op->content_len != 0 || op->version == PROPOSAL_VERSION_NEW)
				abort();
			continue;
		}
		if (op->kind != OP_PUT || op->content_len == 0 || op->content < p->body ||
		    op->content + op->content_len > p->body + p->body_len ||
		    op->content[op->content_len - 1] != '\n' || op->content[0] == '\n' ||
		    memmem(op->content, op->content_len, "\n\n", 2) != NULL)
			abort();
		clean &= content_clean(op->content, op->content_len);
	}
	{
		struct cbuf a = CBUF_INIT, b = CBUF_INIT;
		struct proposal q;

		if (proposal_format(&a, p->origin, p->proposer, p->created, p->expires, p->ops,
				    p->nops) != 0)
			abort();
		if (clean && (a.len != size || memcmp(a.p, data, size) != 0))
			abort();
		/* Cleaning can empty a put (every line blank-looking), which the parser then
		 * refuses; whatever does parse must be a fixed point of the writer. */
		if (proposal_parse(&q, a.p, a.len, NULL) == 0) {
			if (proposal_format(&b, q.origin, q.proposer, q.created, q.expires, q.ops,
					    q.nops) != 0 ||
			    b.len != a.len || memcmp(a.p, b.p, a.len) != 0)
				abort();
			proposal_free(&q);
		} else if (clean) {
			abort();
		}
		cbuf_free(&a);
		cbuf_free(&b);
	}
}

static void check_policy(const struct policy *p)
{
	struct cbuf a = CBUF_INIT, b = CBUF_INIT;
	struct policy q;

	if (p->nreq < 1 || p->nreq > POLICY_MAX_REQS || p->delay < 0 || p->pattern[0] == '\0')
		abort();
	for (unsigned i = 0; i < p->nreq; i++) {
		const struct policy_req *r = &p->req[i];

		if ((r->kind == REQ_ALL || r->kind == REQ_CHAMBER ||
		     r->kind == REQ_OTHER_CHAMBERS) &&
		    (r->num < 1 || r->num > r->den || r->den > 100))
			abort();
		if (r->kind == REQ_STATE && p->pattern_kind != PAT_TWO)
			abort();
	}
	if (p->pattern_kind == PAT_EXACT && !policy_matches(p, p->pattern))
		abort();
	if (policy_format(p, &a) != 0 || policy_parse(&q, a.p, a.len, NULL) != 0 ||
	    policy_format(&q, &b) != 0 || a.len != b.len || memcmp(a.p, b.p, a.len) != 0 ||
	    q.nreq != p->nreq || q.delay != p->delay || strcmp(q.pattern, p->pattern) != 0)
		abort();
	cbuf_free(&a);
	cbuf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	struct cc_err e = {0};
	struct proposal p;
	struct policy pol;
	int r;

	r = proposal_parse(&p, s, size, &e);
	if (r == 0) {
		check_proposal(&p, data, size);
		proposal_free(&p);
	} else {
		refused_well(r, &e);
		if (p.body != NULL || p.ops != NULL || p.nops != 0)
			abort();
	}

	memset(&e, 0, sizeof(e));
	r = policy_parse(&pol, s, size, &e);
	if (r == 0)
		check_policy(&pol);
	else
		refused_well(r, &e);

	if (size == TFMT_LEN) {
		char in[TFMT_LEN + 1], out[TFMT_LEN + 1];
		int64_t t;

		memcpy(in, data, TFMT_LEN);
		in[TFMT_LEN] = '\0';
		if (tfmt_parse(in, &t) == 0) {
			tfmt_format(t, out);
			if (strcmp(in, out) != 0)
				abort();
		}
	}
	return 0;
}
