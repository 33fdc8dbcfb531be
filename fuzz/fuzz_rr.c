/* libFuzzer target for rr_parse. Beyond not crashing, it checks the properties the rest of
 * Concord relies on: accepted text has one canonical form that parses back to itself, the sort
 * agrees with rr_cmp, a refusal leaves the set alone, name comparison is antisymmetric, and
 * rr_parse (with its fast path for canonical text) answers exactly as rr_parse_scanner. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/rr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void canonical_text(struct rr_set *s, struct cbuf *out)
{
	size_t i;

	rr_sort(s);
	for (i = 0; i < s->n; i++)
		if (rr_format(&s->v[i], s->v[i].ttl, out) != 0)
			abort();
}

static void check_records(const struct rr_set *s, int sorted)
{
	size_t i;

	for (i = 0; i < s->n; i++) {
		const struct rr *r = &s->v[i];

		/* rr_parse admits hostnames only, so no escape can reach the canonical form. */
		if (strchr(r->owner, '\\') || (r->type == RR_NS && strchr(r->rdata, '\\')))
			abort();
		if (!rr_name_under(r->owner, ".") || rr_cmp(r, r) != 0)
			abort();
		if (sorted && i + 1 < s->n &&
		    (rr_cmp(r, &s->v[i + 1]) > 0 || rr_cmp(&s->v[i + 1], r) < 0))
			abort();
	}
}

/* Takes the first two lines of the input as names: rr_name_cmp and rr_name_under must be total
 * and consistent on any text, names or not. */
static void check_names(const uint8_t *data, size_t size)
{
	char a[300], b[300];
	const uint8_t *nl = memchr(data, '\n', size), *end;
	size_t la, lb;
	int ab, ba;

	if (nl == NULL)
		return;
	la = (size_t)(nl - data);
	end = memchr(nl + 1, '\n', size - la - 1);
	lb = end ? (size_t)(end - nl - 1) : size - la - 1;
	if (la >= sizeof(a) || lb >= sizeof(b))
		return;
	memcpy(a, data, la);
	a[la] = '\0';
	memcpy(b, nl + 1, lb);
	b[lb] = '\0';
	ab = rr_name_cmp(a, b);
	ba = rr_name_cmp(b, a);
	if ((ab > 0) != (ba < 0) || (ab < 0) != (ba > 0) || rr_name_cmp(a, a) != 0)
		abort();
	if (rr_name_under(a, b) && rr_name_under(b, a) && ab != 0)
		abort();
}

static void add_keep(struct rr_set *s)
{
	struct rr keep;

	memset(&keep, 0, sizeof(keep));
	strcpy(keep.owner, "keep.");
	keep.type = RR_NS;
	strcpy(keep.rdata, "ns.keep.");
	if (rr_set_add(s, &keep) != 0)
		abort();
}

/* The fast path must be invisible: same result, same refusal, the same records to the byte
 * (both clear a record before filling it, so whole buffers compare). */
static void check_same(const char *text, size_t len)
{
	struct rr_set a = {0}, b = {0};
	struct cc_err ea = {0}, eb = {0};
	int ra, rb;
	size_t i;

	add_keep(&a);
	add_keep(&b);
	ra = rr_parse(&a, text, len, &ea);
	rb = rr_parse_scanner(&b, text, len, &eb);
	if (ra != rb || ea.code != eb.code || strcmp(ea.msg, eb.msg) != 0 || a.n != b.n)
		__builtin_trap();
	for (i = 0; i < a.n; i++) {
		const struct rr *x = &a.v[i], *y = &b.v[i];

		if (memcmp(x->owner, y->owner, sizeof(x->owner)) != 0 || x->type != y->type ||
		    x->ttl != y->ttl || memcmp(x->rdata, y->rdata, sizeof(x->rdata)) != 0 ||
		    x->line != y->line)
			__builtin_trap();
	}
	rr_set_free(&a);
	rr_set_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rr_set s = {0}, again = {0};
	struct cbuf text = CBUF_INIT, text2 = CBUF_INIT;
	struct cc_err e = {0};
	int ret;

	check_same((const char *)data, size);
	add_keep(&s);
	ret = rr_parse(&s, (const char *)data, size, &e);
	if (ret != 0) {
		if (ret > 0 || e.code != ret || e.msg[0] == '\0' || s.n != 1)
			abort();
		goto out;
	}
	check_records(&s, 0);
	canonical_text(&s, &text);
	check_records(&s, 1);
	/* Omitted owners come back written out, so canonical text can outgrow the input limit. */
	if (text.len <= 60000) {
		/* Canonical text is what the fast path is for: compare it there too. */
		check_same(text.p ? text.p : "", text.len);
		if (rr_parse(&again, text.p ? text.p : "", text.len, &e) != 0)
			abort();
		canonical_text(&again, &text2);
		if (again.n != s.n || text.len != text2.len ||
		    (text.len && memcmp(text.p, text2.p, text.len) != 0))
			abort();
	}
out:
	check_names(data, size);
	rr_set_free(&s);
	rr_set_free(&again);
	cbuf_free(&text);
	cbuf_free(&text2);
	return 0;
}
