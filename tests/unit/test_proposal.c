/* Proposals (docs/format.md, "Proposals"): the body's exact form, the writer the CLI uses,
 * every refusal, paths and member ids. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/proposal.h"
#include "core/tfmt.h"

#define HEAD                                                                                       \
	"concord proposal v1\norigin test.example/root\nproposer cn\ncreated "                     \
	"2026-01-01T00:00:00Z\nexpires 2026-01-08T00:00:00Z\n"

static int parse(struct proposal *p, const char *s, struct cc_err *e)
{
	return proposal_parse(p, s, strlen(s), e);
}

static void test_parse_fields(void **state)
{
	const char *body = HEAD "put tld/cn 12 2\ncn. NS a.dns.cn.\na.dns.cn. A 192.0.2.1\n"
				"delete tld/fr 3\n"
				"put member/za new 1\nchamber government\n"
				"put host/a.dns.cn. 9223372036854775807 1\na.dns.cn. A 192.0.2.2\n";
	struct proposal p;
	struct cc_err e = {0};
	char id[PROPOSAL_ID_LEN + 1];
	unsigned char h[32];
	char hex[65];

	assert_int_equal(parse(&p, body, &e), 0);
	assert_string_equal(p.origin, "test.example/root");
	assert_string_equal(p.proposer, "cn");
	assert_int_equal(p.created, 1767225600);
	assert_int_equal(p.expires, 1767225600 + 7 * 86400);
	assert_int_equal(p.nops, 4);
	assert_int_equal(p.ops[0].kind, OP_PUT);
	assert_string_equal(p.ops[0].path, "tld/cn");
	assert_int_equal(p.ops[0].version, 12);
	assert_int_equal(p.ops[0].content_len, strlen("cn. NS a.dns.cn.\na.dns.cn. A 192.0.2.1\n"));
	assert_memory_equal(p.ops[0].content, "cn. NS a.dns.cn.\na.dns.cn. A 192.0.2.1\n",
			    p.ops[0].content_len);
	/* Content points into the proposal's own copy of the body. */
	assert_true(p.ops[0].content >= p.body && p.ops[0].content < p.body + p.body_len);
	assert_int_equal(p.ops[1].kind, OP_DELETE);
	assert_string_equal(p.ops[1].path, "tld/fr");
	assert_int_equal(p.ops[1].version, 3);
	assert_int_equal(p.ops[1].content_len, 0);
	assert_int_equal(p.ops[2].version, PROPOSAL_VERSION_NEW);
	assert_int_equal(p.ops[3].version, INT64_MAX);
	assert_int_equal(p.body_len, strlen(body));
	assert_memory_equal(p.body, body, p.body_len);
	/* The id is the hex SHA-256 of the body. */
	crypto_hash_sha256(h, (const unsigned char *)body, strlen(body));
	sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
	assert_string_equal(p.id, hex);
	proposal_id(body, strlen(body), id);
	assert_string_equal(id, hex);
	proposal_free(&p);
	assert_null(p.body);
	assert_null(p.ops);
	/* The body need not be NUL-terminated: len bounds it. */
	{
		char *copy = malloc(strlen(body) + 5);

		memcpy(copy, body, strlen(body));
		memcpy(copy + strlen(body), "junk", 4);
		assert_int_equal(proposal_parse(&p, copy, strlen(body), &e), 0);
		assert_int_equal(p.body[p.body_len], '\0');
		proposal_free(&p);
		free(copy);
	}
}

/* Whatever proposal_format writes parses back to the same parts, and formatting those parts
 * writes the same bytes. */
static void test_round_trip(void **state)
{
	static const char *const contents[] = {
	    "cn. NS a.dns.cn.\n",
	    "cn. NS a.dns.cn.\ncn. NS b.dns.cn.\nb.dns.cn. A 192.0.2.2\n",
	    "chamber government\nkey x\nbox y\n",
	    "applies tld/*\nrequire all 1/2\ndelay 60\n",
	    " leading space is kept\n",
	    "x\n",
	};
	static const int64_t versions[] = {PROPOSAL_VERSION_NEW, 0, 1, 42, INT64_MAX};
	static const char *const paths[] = {"tld/cn",	   "tld/xn--fiqs8s", "host/a.dns.cn.",
					    "member/isoc", "policy/tld",     "tld/a"};

	for (size_t i = 0; i < 60; i++) {
		struct proposal_op ops[3];
		struct proposal p;
		struct cbuf a = CBUF_INIT, b = CBUF_INIT;
		struct cc_err e = {0};
		size_t n = 1 + i % 3;
		int64_t created = 1767225600 + (int64_t)i * 86399;

		for (size_t k = 0; k < n; k++) {
			const char *c = contents[(i + k) % 6];

			memset(&ops[k], 0, sizeof(ops[k]));
			snprintf(ops[k].path, sizeof(ops[k].path), "%s", paths[(i + 2 * k) % 6]);
			ops[k].version = versions[(i + k) % 5];
			ops[k].kind = (i + k) % 4 == 3 && ops[k].version >= 0 ? OP_DELETE : OP_PUT;
			ops[k].content = ops[k].kind == OP_PUT ? c : NULL;
			ops[k].content_len = ops[k].kind == OP_PUT ? strlen(c) : 0;
		}
		assert_int_equal(
		    proposal_format(&a, "o.example/root", "cn", created, created + 3600, ops, n),
		    0);
		if (parse(&p, a.p, &e) != 0)
			fail_msg("%s\n%s", e.msg, a.p);
		assert_int_equal(p.nops, n);
		assert_int_equal(p.created, created);
		assert_int_equal(p.expires, created + 3600);
		for (size_t k = 0; k < n; k++) {
			assert_int_equal(p.ops[k].kind, ops[k].kind);
			assert_string_equal(p.ops[k].path, ops[k].path);
			assert_int_equal(p.ops[k].version, ops[k].version);
			assert_int_equal(p.ops[k].content_len, ops[k].content_len);
			if (ops[k].content_len)
				assert_memory_equal(p.ops[k].content, ops[k].content,
						    ops[k].content_len);
		}
		assert_int_equal(
		    proposal_format(&b, p.origin, p.proposer, p.created, p.expires, p.ops, p.nops),
		    0);
		assert_string_equal(a.p, b.p);
		proposal_free(&p);
		cbuf_free(&a);
		cbuf_free(&b);
	}
}

/* Zone files hold tabs, blank lines and trailing blanks; a note holds none of them. */
static void test_format_cleans_content(void **state)
{
	struct proposal_op op = {0};
	struct cbuf out = CBUF_INIT;
	struct proposal p;
	struct cc_err e = {0};
	const char *in = "\n\ncn.\tNS\ta.dns.cn.\n   \n\t\n"
			 "a.dns.cn.\t172800\tIN\tA\t192.0.2.1  \t\r\n"
			 "\r\n"
			 "  b.dns.cn. A 192.0.2.2\n"
			 "last.dns.cn. A 192.0.2.3"; /* no final newline */

	op.kind = OP_PUT;
	snprintf(op.path, sizeof(op.path), "tld/cn");
	op.version = 7;
	op.content = in;
	op.content_len = strlen(in);
	assert_int_equal(proposal_format(&out, "o", "cn", 0, 60, &op, 1), 0);
	assert_string_equal(out.p, "concord proposal v1\norigin o\nproposer cn\n"
				   "created 1970-01-01T00:00:00Z\nexpires 1970-01-01T00:01:00Z\n"
				   "put tld/cn 7 4\n"
				   "cn. NS a.dns.cn.\n"
				   "a.dns.cn. 172800 IN A 192.0.2.1\n"
				   "  b.dns.cn. A 192.0.2.2\n"
				   "last.dns.cn. A 192.0.2.3\n");
	assert_null(memchr(out.p, '\t', out.len));
	assert_null(memchr(out.p, '\r', out.len));
	assert_int_equal(parse(&p, out.p, &e), 0);
	proposal_free(&p);
	cbuf_reset(&out);
	/* Deletes carry no content, whatever is passed; versions are written as numbers. */
	op.kind = OP_DELETE;
	op.version = 0;
	assert_int_equal(proposal_format(&out, "o", "cn", 0, 60, &op, 1), 0);
	assert_non_null(strstr(out.p, "\ndelete tld/cn 0\n"));
	assert_null(strstr(out.p, "NS"));
	/* It appends, like every writer here. */
	assert_int_equal(proposal_format(&out, "o", "cn", 0, 60, &op, 1), 0);
	assert_non_null(strstr(strstr(out.p, "delete") + 1, "concord proposal v1\n"));
	cbuf_free(&out);
}

static void test_refusals(void **state)
{
	static const struct {
		const char *body;
		int code;
		const char *msg;
	} bad[] = {
	    {"", CC_EINVAL, "ending in a newline"},
	    {HEAD "delete tld/cn 1", CC_EINVAL, "ending in a newline"},
	    /* header lines: exact, in order */
	    {"concord proposal v2\n", CC_EINVAL, "first line"},
	    {"concord proposal v1 \n", CC_EINVAL, "first line"},
	    {"Concord proposal v1\n", CC_EINVAL, "first line"},
	    {"\nconcord proposal v1\n", CC_EINVAL, "first line"},
	    {"concord proposal v1\n", CC_EINVAL, "line 2"},
	    {"concord proposal v1\norigin\n", CC_EINVAL, "line 2"},
	    {"concord proposal v1\norigin \n", CC_EINVAL, "line 2"},
	    {"concord proposal v1\norigin a b\n", CC_EINVAL, "line 2"},
	    {"concord proposal v1\norigin  a\n", CC_EINVAL, "line 2"},
	    {"concord proposal v1\nproposer cn\n", CC_EINVAL, "line 2"},
	    {"concord proposal v1\norigin o\n", CC_EINVAL, "line 3"},
	    {"concord proposal v1\norigin o\nproposer\n", CC_EINVAL, "line 3"},
	    {"concord proposal v1\norigin o\nproposer Cn\n", CC_EINVAL, "line 3"},
	    {"concord proposal v1\norigin o\nproposer -cn\n", CC_EINVAL, "line 3"},
	    {"concord proposal v1\norigin o\nproposer c_n\n", CC_EINVAL, "line 3"},
	    {"concord proposal v1\norigin o\nproposer cn de\n", CC_EINVAL, "line 3"},
	    {"concord proposal v1\norigin o\nproposer "
	     "abcdefghijklmnopqrstuvwxyz0123456\n",
	     CC_EINVAL, "line 3"},
	    {"concord proposal v1\norigin o\nproposer cn\n", CC_EINVAL, "line 4"},
	    {"concord proposal v1\norigin o\nproposer cn\ncreated 2026-01-01T00:00:00\n", CC_EINVAL,
	     "line 4"},
	    {"concord proposal v1\norigin o\nproposer cn\ncreated 2026-01-01T00:00:00+00:00\n",
	     CC_EINVAL, "line 4"},
	    {"concord proposal v1\norigin o\nproposer cn\ncreated 2026-01-01T00:00:60Z\n",
	     CC_EINVAL, "line 4"},
	    {"concord proposal v1\norigin o\nproposer cn\ncreated 2026-02-30T00:00:00Z\n",
	     CC_EINVAL, "line 4"},
	    {"concord proposal v1\norigin o\nproposer cn\nexpires 2026-01-01T00:00:00Z\n",
	     CC_EINVAL, "line 4"},
	    {"concord proposal v1\norigin o\nproposer cn\ncreated 2026-01-01T00:00:00Z\n",
	     CC_EINVAL, "line 5"},
	    {"concord proposal v1\norigin o\nproposer cn\ncreated 2026-01-01T00:00:00Z\n"
	     "expires 2026-01-01t00:00:01Z\n",
	     CC_EINVAL, "line 5"},
	    {"concord proposal v1\norigin o\nproposer cn\ncreated 2026-01-01T00:00:00Z\n"
	     "expires 2026-01-01T00:00:00Z\ndelete tld/cn 1\n",
	     CC_EINVAL, "expires is not after created"},
	    {"concord proposal v1\norigin o\nproposer cn\ncreated 2026-01-01T00:00:00Z\n"
	     "expires 2025-12-31T23:59:59Z\ndelete tld/cn 1\n",
	     CC_EINVAL, "expires is not after created"},
	    {HEAD, CC_EINVAL, "no operation"},
	    /* operation lines */
	    {HEAD "\n", CC_EINVAL, "line 6: expected"},
	    {HEAD "delete tld/cn 1\n\n", CC_EINVAL, "line 7: expected"},
	    {HEAD "patch tld/cn 1\n", CC_EINVAL, "line 6: expected"},
	    {HEAD "PUT tld/cn 1 1\nx\n", CC_EINVAL, "line 6: expected"},
	    {HEAD "put tld/cn 1\n", CC_EINVAL, "line 6: expected"},
	    {HEAD "delete tld/cn\n", CC_EINVAL, "line 6: expected"},
	    {HEAD "delete tld/cn 1 1\n", CC_EINVAL, "line 6: expected"},
	    {HEAD "put tld/cn 1 1 x\ncn. NS a.dns.cn.\n", CC_EINVAL, "line 6: malformed"},
	    {HEAD "put tld/cn 1 1 x y\ncn. NS a.dns.cn.\n", CC_EINVAL, "line 6: malformed"},
	    {HEAD "delete  tld/cn 1\n", CC_EINVAL, "line 6: malformed"},
	    {HEAD " delete tld/cn 1\n", CC_EINVAL, "line 6: malformed"},
	    {HEAD "delete tld/cn 1 \n", CC_EINVAL, "line 6: malformed"},
	    {HEAD "delete tld/cn 1\ndelete tld/de 1\ndelete  tld/fr 1\n", CC_EINVAL,
	     "line 8: malformed"},
	    /* paths */
	    {HEAD "delete dns/cn 1\n", CC_EINVAL, "unknown record kind"},
	    {HEAD "delete cn 1\n", CC_EINVAL, "expected kind/name"},
	    {HEAD "delete tld/ 1\n", CC_EINVAL, "not a TLD label"},
	    {HEAD "delete tld/CN 1\n", CC_EINVAL, "not a TLD label"},
	    {HEAD "delete tld/cn. 1\n", CC_EINVAL, "not a TLD label"},
	    {HEAD "delete tld/-cn 1\n", CC_EINVAL, "not a TLD label"},
	    {HEAD "delete tld/cn- 1\n", CC_EINVAL, "not a TLD label"},
	    {HEAD "delete tld/c_n 1\n", CC_EINVAL, "not a TLD label"},
	    {HEAD "delete host/a.dns.cn 1\n", CC_EINVAL, "absolute"},
	    {HEAD "delete host/A.dns.cn. 1\n", CC_EINVAL, "absolute"},
	    {HEAD "delete host/a..cn. 1\n", CC_EINVAL, "absolute"},
	    {HEAD "delete host/. 1\n", CC_EINVAL, "absolute"},
	    {HEAD "delete member/-x 1\n", CC_EINVAL, "not a member id"},
	    {HEAD "delete member/ 1\n", CC_EINVAL, "not a member id"},
	    {HEAD "delete policy/A 1\n", CC_EINVAL, "not a policy name"},
	    /* versions */
	    {HEAD "delete tld/cn new\n", CC_EINVAL, "bad version"},
	    {HEAD "delete tld/cn 01\n", CC_EINVAL, "bad version"},
	    {HEAD "delete tld/cn -1\n", CC_EINVAL, "bad version"},
	    {HEAD "delete tld/cn +1\n", CC_EINVAL, "bad version"},
	    {HEAD "delete tld/cn 1a\n", CC_EINVAL, "bad version"},
	    {HEAD "delete tld/cn 0x1\n", CC_EINVAL, "bad version"},
	    {HEAD "delete tld/cn 9223372036854775808\n", CC_EINVAL, "bad version"},
	    {HEAD "delete tld/cn 99999999999999999999\n", CC_EINVAL, "bad version"},
	    {HEAD "put tld/cn New 1\nx\n", CC_EINVAL, "bad version"},
	    /* duplicate paths */
	    {HEAD "delete tld/cn 1\ndelete tld/cn 1\n", CC_EINVAL, "tld/cn appears twice"},
	    {HEAD "put tld/cn 1 1\nx\ndelete tld/cn 2\n", CC_EINVAL, "tld/cn appears twice"},
	    /* line counts */
	    {HEAD "put tld/cn 1 0\n", CC_EINVAL, "bad line count"},
	    {HEAD "put tld/cn 1 01\nx\n", CC_EINVAL, "bad line count"},
	    {HEAD "put tld/cn 1 -1\nx\n", CC_EINVAL, "bad line count"},
	    {HEAD "put tld/cn 1 4097\nx\n", CC_EINVAL, "bad line count"},
	    {HEAD "put tld/cn 1 x\nx\n", CC_EINVAL, "bad line count"},
	    {HEAD "put tld/cn 1 2\nx\n", CC_EINVAL, "2 content lines announced, 1 present"},
	    {HEAD "put tld/cn 1 1\n", CC_EINVAL, "1 content lines announced, 0 present"},
	    {HEAD "put tld/cn 1 2\nx\n\n", CC_EINVAL, "empty content line"},
	    {HEAD "put tld/cn 1 1\nx\ny\n", CC_EINVAL, "line 8: expected"},
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct proposal p;
		struct cc_err e = {0};
		int r = parse(&p, bad[i].body, &e);

		if (r != bad[i].code)
			fail_msg("\"%s\": expected %d, got %d (%s)", bad[i].body, bad[i].code, r,
				 e.msg);
		if (strstr(e.msg, bad[i].msg) == NULL)
			fail_msg("\"%s\": message \"%s\" lacks \"%s\"", bad[i].body, e.msg,
				 bad[i].msg);
		/* A refusal leaves nothing to free. */
		assert_null(p.body);
		assert_null(p.ops);
		assert_int_equal(p.nops, 0);
	}
	/* A NUL byte anywhere */
	{
		const char body[] = HEAD "delete tld/cn 1\0\n";
		struct proposal p;

		assert_int_equal(proposal_parse(&p, body, sizeof(body) - 1, NULL), CC_EINVAL);
	}
}

static void test_limits(void **state)
{
	struct cbuf b = CBUF_INIT;
	struct proposal p;
	struct cc_err e = {0};

	/* 256 operations, then 257 */
	cbuf_puts(&b, HEAD);
	for (int i = 0; i < PROPOSAL_MAX_OPS; i++)
		cbuf_printf(&b, "delete tld/t%d %d\n", i, i);
	assert_int_equal(proposal_parse(&p, b.p, b.len, &e), 0);
	assert_int_equal(p.nops, PROPOSAL_MAX_OPS);
	assert_string_equal(p.ops[255].path, "tld/t255");
	proposal_free(&p);
	cbuf_puts(&b, "delete tld/t256 1\n");
	assert_int_equal(proposal_parse(&p, b.p, b.len, &e), CC_ETOOBIG);
	assert_non_null(strstr(e.msg, "more than 256 operations"));
	/* Size: NOTE_MAX_SIZE bytes is the limit, checked before anything else. */
	cbuf_reset(&b);
	cbuf_puts(&b, HEAD "put tld/cn 1 4000\n");
	for (int i = 0; b.len < NOTE_MAX_SIZE; i++)
		cbuf_printf(&b, "x%d\n", i);
	{
		size_t over = b.len;

		assert_true(over > NOTE_MAX_SIZE);
		assert_int_equal(proposal_parse(&p, b.p, b.len, &e), CC_ETOOBIG);
		assert_non_null(strstr(e.msg, "over 65000"));
	}
	/* 4096 content lines is the most a put may have; exactly NOTE_MAX_SIZE bytes parse. */
	cbuf_reset(&b);
	cbuf_puts(&b, HEAD "put tld/cn 1 4096\n");
	for (int i = 0; i < 4095; i++)
		cbuf_puts(&b, "x\n");
	{
		size_t need = NOTE_MAX_SIZE - b.len - 1;

		for (size_t i = 0; i < need; i++)
			cbuf_putc(&b, 'y');
		cbuf_putc(&b, '\n');
	}
	assert_int_equal(b.len, NOTE_MAX_SIZE);
	if (proposal_parse(&p, b.p, b.len, &e) != 0)
		fail_msg("%s", e.msg);
	assert_int_equal(p.ops[0].content_len, b.len - strlen(HEAD "put tld/cn 1 4096\n"));
	proposal_free(&p);
	/* An operation line longer than any valid one */
	cbuf_reset(&b);
	cbuf_puts(&b, HEAD "delete policy/");
	for (int i = 0; i < 400; i++)
		cbuf_putc(&b, 'a');
	cbuf_puts(&b, " 1\n");
	assert_int_equal(proposal_parse(&p, b.p, b.len, &e), CC_EINVAL);
	assert_non_null(strstr(e.msg, "line 6: too long"));
	/* The longest host path: 254 bytes of name */
	cbuf_reset(&b);
	cbuf_puts(&b, HEAD "delete host/");
	for (int i = 0; i < 4; i++) {
		for (int k = 0; k < 62; k++)
			cbuf_putc(&b, 'a' + i);
		cbuf_putc(&b, '.');
	}
	cbuf_puts(&b, "x. 1\n");
	if (proposal_parse(&p, b.p, b.len, &e) != 0)
		fail_msg("%s", e.msg);
	assert_int_equal(strlen(p.ops[0].path), 5 + 254);
	proposal_free(&p);
	/* one byte more */
	b.len -= strlen("x. 1\n");
	cbuf_puts(&b, "xy. 1\n");
	assert_int_equal(proposal_parse(&p, b.p, b.len, &e), CC_EINVAL);
	cbuf_free(&b);
}

static void test_paths(void **state)
{
	static const char *const good[] = {
	    "tld/cn",	 "tld/com",	   "tld/xn--fiqs8s", "tld/a",
	    "tld/1",	 "host/a.dns.cn.", "host/_x.cn.",    "host/a-b.c.",
	    "host/x.",	 "member/cn",	   "member/isoc",    "member/0",
	    "member/a-", "policy/tld",	   "policy/cctld",   "policy/cn-extra"};
	static const char *const bad[] = {
	    "",	       "tld",	    "/cn",	   "tld/",	 "tld/cn/",    "tld/c n",
	    "tld/c_n", "tld/Cn",    "tld/-cn",	   "tld/cn-",	 "tld/cn.",    "host/",
	    "host/a",  "host/.",    "host/a..b.",  "host/-a.b.", "host/a-.b.", "host/A.b.",
	    "member/", "member/-a", "member/a_b",  "member/A",	 "policy/",    "policy/a.b",
	    "poc/cn",  "TLD/cn",    "tld/\xc3\xa9"};
	char longest[PATH_MAX_LEN + 2];

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (path_valid(good[i], NULL) != 0)
			fail_msg("%s refused", good[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct cc_err e = {0};

		if (path_valid(bad[i], &e) != CC_EINVAL)
			fail_msg("\"%s\" accepted", bad[i]);
		assert_true(e.msg[0] != '\0');
	}
	/* Labels: 63 bytes at most. */
	snprintf(longest, sizeof(longest), "tld/%063d", 0);
	assert_int_equal(path_valid(longest, NULL), 0);
	snprintf(longest, sizeof(longest), "tld/%064d", 0);
	assert_int_equal(path_valid(longest, NULL), CC_EINVAL);
	/* Over PATH_MAX_LEN */
	memset(longest, 'a', sizeof(longest) - 1);
	memcpy(longest, "policy/", 7);
	longest[PATH_MAX_LEN + 1] = '\0';
	assert_int_equal(path_valid(longest, NULL), CC_EINVAL);
}

static void test_member_ids(void **state)
{
	static const char *const good[] = {
	    "cn", "isoc", "a", "0", "a-b", "a-", "cnnic-2", "abcdefghijklmnopqrstuvwxyz012345"};
	static const char *const bad[] = {"",	 "-a",	     "A",
					  "a_b", "a.b",	     "a b",
					  "a+b", "\xc3\xa9", "abcdefghijklmnopqrstuvwxyz0123456"};

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (!member_id_valid(good[i]))
			fail_msg("%s refused", good[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (member_id_valid(bad[i]))
			fail_msg("\"%s\" accepted", bad[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_fields),
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_format_cleans_content),
	    cmocka_unit_test(test_refusals),
	    cmocka_unit_test(test_limits),
	    cmocka_unit_test(test_paths),
	    cmocka_unit_test(test_member_ids),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
