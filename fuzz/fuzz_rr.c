/* libFuzzer target for rr_parse. Beyond not crashing, it checks the properties the rest of
 * Concord relies on: accepted text has one canonical form that parses back to itself, the sort
 * agrees with rr_cmp, a refusal leaves the set alone, and name comparison is antisymmetric. */
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rr_set s = {0}, again = {0};
	struct cbuf text = CBUF_INIT, text2 = CBUF_INIT;
	struct cc_err e = {0};
	struct rr keep;
	int ret;

	memset(&keep, 0, sizeof(keep));
	strcpy(keep.owner, "keep.");
	keep.type = RR_NS;
	strcpy(keep.rdata, "ns.keep.");
	if (rr_set_add(&s, &keep) != 0)
		abort();
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
