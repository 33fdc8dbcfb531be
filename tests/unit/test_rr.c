#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/rr.h"

static const char *vectors_dir(void)
{
	const char *d = getenv("CONCORD_VECTORS");

	return d && *d ? d : "tests/vectors";
}

static const char *data_dir(void)
{
	const char *d = getenv("CONCORD_DATA");

	return d && *d ? d : "../shared/data/root";
}

/* Reads a whole file into a NUL-terminated heap buffer; NULL when it cannot be opened. */
static char *slurp(const char *path, size_t *len)
{
	struct cbuf b = CBUF_INIT;
	char chunk[4096];
	size_t n;
	FILE *f = fopen(path, "rb");

	if (f == NULL)
		return NULL;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		assert_int_equal(cbuf_put(&b, chunk, n), 0);
	fclose(f);
	*len = b.len;
	return cbuf_take(&b);
}

static char *vector_path(const char *rel)
{
	struct cbuf b = CBUF_INIT;

	assert_int_equal(cbuf_printf(&b, "%s/rr/%s", vectors_dir(), rel), 0);
	return cbuf_take(&b);
}

/* Parses, sorts and formats text the way canonical.txt is made. */
static int canonicalise(const char *text, size_t len, struct cbuf *out, struct cc_err *e)
{
	struct rr_set s = {0};
	size_t i;
	int ret = rr_parse(&s, text, len, e);

	if (ret == 0) {
		rr_sort(&s);
		for (i = 0; i < s.n && ret == 0; i++)
			ret = rr_format(&s.v[i], s.v[i].ttl, out);
	}
	rr_set_free(&s);
	return ret;
}

/* Parses one text that must hold exactly one record and returns its canonical line. */
static void expect_one(const char *text, const char *want)
{
	struct rr_set s = {0};
	struct cc_err e = {0};
	struct cbuf b = CBUF_INIT;
	int ret = rr_parse(&s, text, strlen(text), &e);

	if (ret != 0)
		fail_msg("%s: refused: %s", text, e.msg);
	assert_int_equal(s.n, 1);
	assert_int_equal(rr_format(&s.v[0], s.v[0].ttl, &b), 0);
	assert_string_equal(b.p, want);
	cbuf_free(&b);
	rr_set_free(&s);
}

static void expect_refused(const char *text, int code, const char *msg_part)
{
	struct rr_set s = {0};
	struct cc_err e = {0};
	struct rr keep;
	int ret;

	/* A record already in the set must survive a refused text, and nothing may be added. */
	memset(&keep, 0, sizeof(keep));
	strcpy(keep.owner, "keep.");
	keep.type = RR_NS;
	strcpy(keep.rdata, "ns.keep.");
	assert_int_equal(rr_set_add(&s, &keep), 0);
	ret = rr_parse(&s, text, strlen(text), &e);
	if (ret != code)
		fail_msg("%s: got %d (%s), want %d", text, ret, e.msg, code);
	assert_int_equal(e.code, code);
	if (strstr(e.msg, msg_part) == NULL)
		fail_msg("%s: message \"%s\" lacks \"%s\"", text, e.msg, msg_part);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.v[0].owner, "keep.");
	rr_set_free(&s);
}

static void test_vectors_canonical(void **state)
{
	char *in_path = vector_path("input.txt"), *out_path = vector_path("canonical.txt");
	size_t in_len, want_len;
	char *in = slurp(in_path, &in_len), *want = slurp(out_path, &want_len);
	struct cbuf got = CBUF_INIT, again = CBUF_INIT;
	struct cc_err e = {0};

	(void)state;
	if (in == NULL || want == NULL)
		fail_msg("cannot read %s or %s (set CONCORD_VECTORS)", in_path, out_path);
	if (canonicalise(in, in_len, &got, &e) != 0)
		fail_msg("input.txt refused: %s", e.msg);
	assert_string_equal(got.p, want);
	/* Canonical text is a fixed point. */
	assert_int_equal(canonicalise(want, want_len, &again, &e), 0);
	assert_string_equal(again.p, want);
	cbuf_free(&got);
	cbuf_free(&again);
	free(in);
	free(want);
	free(in_path);
	free(out_path);
}

static void test_vectors_invalid(void **state)
{
	char *readme_path = vector_path("invalid/README"), *dir_path = vector_path("invalid");
	size_t len, files = 0, listed = 0;
	char *readme = slurp(readme_path, &len), *line, *save = NULL;
	struct dirent *de;
	DIR *dir;

	(void)state;
	if (readme == NULL)
		fail_msg("cannot read %s", readme_path);
	for (line = strtok_r(readme, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *colon = strchr(line, ':'), *path, *text, want[32];
		unsigned long want_line;
		struct rr_set s = {0};
		struct cc_err e = {0};
		size_t tlen;

		assert_non_null(colon);
		*colon = '\0';
		assert_int_equal(sscanf(colon + 1, " line %lu:", &want_line), 1);
		{
			struct cbuf p = CBUF_INIT;

			assert_int_equal(cbuf_printf(&p, "invalid/%s", line), 0);
			path = vector_path(p.p);
			cbuf_free(&p);
		}
		text = slurp(path, &tlen);
		if (text == NULL)
			fail_msg("README names %s, which cannot be read", path);
		if (rr_parse(&s, text, tlen, &e) != CC_EINVAL)
			fail_msg("%s was not refused", line);
		assert_int_equal(s.n, 0);
		snprintf(want, sizeof(want), "line %lu: ", want_line);
		if (strncmp(e.msg, want, strlen(want)) != 0)
			fail_msg("%s: message \"%s\" does not start with \"%s\"", line, e.msg,
				 want);
		rr_set_free(&s);
		free(text);
		free(path);
		listed++;
	}
	/* Every vector carries its reason. */
	dir = opendir(dir_path);
	assert_non_null(dir);
	while ((de = readdir(dir)) != NULL) {
		size_t n = strlen(de->d_name);

		if (n > 4 && strcmp(de->d_name + n - 4, ".txt") == 0)
			files++;
	}
	closedir(dir);
	assert_int_equal(files, listed);
	assert_true(listed >= 20);
	free(readme);
	free(readme_path);
	free(dir_path);
}

static void test_canonical_forms(void **state)
{
	(void)state;
	expect_one("CN. 172800 IN NS A.DNS.CN.\n", "cn. 172800 IN NS a.dns.cn.\n");
	expect_one("cn 172800 NS a.dns.cn", "cn. 172800 IN NS a.dns.cn.\n");
	expect_one("Xn--FIQS8S. 2d IN NS NS.Cnnic.Net.Cn.",
		   "xn--fiqs8s. 172800 IN NS ns.cnnic.net.cn.\n");
	expect_one("cn. NS a.dns.cn.", "cn. 0 IN NS a.dns.cn.\n");
	expect_one("cn. 0 NS a.dns.cn.", "cn. 0 IN NS a.dns.cn.\n");
	expect_one("@ 518400 IN NS a.root-servers.net.", ". 518400 IN NS a.root-servers.net.\n");
	expect_one("_tcp.cn. 1 IN NS ns_1.cn.", "_tcp.cn. 1 IN NS ns_1.cn.\n");
	expect_one("cn. 1 IN NS \\# 4 01610000", "cn. 1 IN NS a.\n");
	expect_one("cn. 1 IN TYPE2 a.dns.cn.", "cn. 1 IN NS a.dns.cn.\n");
	expect_one("cn. 1 IN NS \\097.dns.cn.", "cn. 1 IN NS a.dns.cn.\n");
	expect_one("cn. 86400 IN DS 57724 8 2 ( 5d0bb7fa 4fcfc8c4 f6fbf37e\n"
		   "  83a8b7e7 91cf6a96 b4f4f0f1 2be5b563 d2bd40e8 )",
		   "cn. 86400 IN DS 57724 8 2 "
		   "5D0BB7FA4FCFC8C4F6FBF37E83A8B7E791CF6A96B4F4F0F12BE5B563D2BD40E8\n");
	expect_one("cn. 86400 IN DS 1 RSASHA256 1 0123456789abcdef0123456789ABCDEF01234567",
		   "cn. 86400 IN DS 1 8 1 0123456789ABCDEF0123456789ABCDEF01234567\n");
	expect_one("cn. 86400 IN DS 65535 15 4 "
		   "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
		   "202122232425262728292a2b2c2d2e2f",
		   "cn. 86400 IN DS 65535 15 4 000102030405060708090A0B0C0D0E0F101112131415161718"
		   "191A1B1C1D1E1F202122232425262728292A2B2C2D2E2F\n");
	expect_one("a.dns.cn. 172800 IN A 203.119.25.1", "a.dns.cn. 172800 IN A 203.119.25.1\n");
	expect_one("a.dns.cn. 1 IN A 0.0.0.0", "a.dns.cn. 1 IN A 0.0.0.0\n");
	expect_one("a.dns.cn. 1 IN AAAA 2001:DC7:0:0:0:0:0:1", "a.dns.cn. 1 IN AAAA 2001:dc7::1\n");
	expect_one("a.dns.cn. 1 IN AAAA 2001:0db8:0000:0000:0001:0000:0000:0001",
		   "a.dns.cn. 1 IN AAAA 2001:db8::1:0:0:1\n");
	expect_one("a.dns.cn. 1 IN AAAA 2001:db8:0:1:1:1:1:1",
		   "a.dns.cn. 1 IN AAAA 2001:db8:0:1:1:1:1:1\n");
	expect_one("a.dns.cn. 1 IN AAAA 2001:db8:0:0:1:0:0:0",
		   "a.dns.cn. 1 IN AAAA 2001:db8:0:0:1::\n");
	expect_one("a.dns.cn. 1 IN AAAA ::", "a.dns.cn. 1 IN AAAA ::\n");
	expect_one("a.dns.cn. 1 IN AAAA ::FFFF:192.0.2.1",
		   "a.dns.cn. 1 IN AAAA ::ffff:192.0.2.1\n");
	expect_one("; comment\n\n   \n\t; another\na.dns.cn. 1 IN A 192.0.2.1 ; trailing\n\n",
		   "a.dns.cn. 1 IN A 192.0.2.1\n");
	expect_one("a.dns.cn. 1 IN A 192.0.2.1\n  \n\t; indented\n",
		   "a.dns.cn. 1 IN A 192.0.2.1\n");
}

static void test_line_numbers(void **state)
{
	const char *text = "; header\n"
			   "\n"
			   "cn. 1 IN NS a.dns.cn.\n"
			   "\tNS b.dns.cn.\n"
			   "cn. 1 IN DS 57724 8 2 (\n"
			   "  5D0BB7FA4FCFC8C4F6FBF37E83A8B7E7 ; first half\n"
			   "  91CF6A96B4F4F0F12BE5B563D2BD40E8 )\n"
			   "; between\n"
			   "a.dns.cn. 1 IN A 192.0.2.1";
	struct rr_set s = {0};
	struct cc_err e = {0};

	(void)state;
	assert_int_equal(rr_parse(&s, text, strlen(text), &e), 0);
	assert_int_equal(s.n, 4);
	assert_int_equal(s.v[0].line, 3);
	assert_int_equal(s.v[1].line, 4);
	assert_string_equal(s.v[1].owner, "cn.");
	assert_int_equal(s.v[2].line, 5);
	assert_int_equal(s.v[3].line, 9);
	/* Empty parentheses between records are white space to zscanner. */
	text = "a. NS b.\n (\n)\nc. NS d.\n( )\n\n(\n) ; x\nd. NS e.\n";
	assert_int_equal(rr_parse(&s, text, strlen(text), &e), 0);
	assert_int_equal(s.n, 7);
	assert_int_equal(s.v[4].line, 1);
	assert_int_equal(s.v[5].line, 4);
	assert_int_equal(s.v[6].line, 9);
	rr_set_free(&s);
}

static void test_refusals(void **state)
{
	(void)state;
	/* types */
	expect_refused("cn. 1 IN NS a.dns.cn.\ncn. 1 IN TXT \"x\"\n", CC_EINVAL,
		       "line 2: type TXT not allowed");
	expect_refused(". 86400 IN SOA a. b. 1 2 3 4 5", CC_EINVAL, "line 1: type SOA");
	expect_refused("www.cn. 1 IN CNAME cn.", CC_EINVAL, "type CNAME");
	expect_refused("cn. 1 IN MX 10 mail.cn.", CC_EINVAL, "type MX");
	expect_refused("cn. 1 IN NSEC cn. NS", CC_EINVAL, "type NSEC");
	expect_refused(
	    "cn. 1 IN CDS 57724 8 2 5D0BB7FA4FCFC8C4F6FBF37E83A8B7E791CF6A96B4F4F0F12BE5B5"
	    "63D2BD40E8",
	    CC_EINVAL, "type CDS");
	expect_refused("cn. 1 IN TYPE999 \\# 0", CC_EINVAL, "type TYPE999");
	/* classes: zscanner knows only IN, so these are its own errors */
	expect_refused("cn. 1 CH NS a.dns.cn.", CC_EINVAL, "line 1: ");
	expect_refused("cn. 1 CLASS3 NS a.dns.cn.", CC_EINVAL, "line 1: ");
	expect_refused("cn. 1 HS NS a.dns.cn.", CC_EINVAL, "line 1: ");
	/* directives, wherever they are and however they are spelt */
	expect_refused("$TTL 3600\ncn. NS a.dns.cn.", CC_EINVAL, "line 1: directive $TTL");
	expect_refused("cn. NS a.dns.cn.\n$ORIGIN cn.\n", CC_EINVAL, "line 2: directive $ORIGIN");
	expect_refused("\n\n$INCLUDE /etc/passwd", CC_EINVAL, "line 3: directive $INCLUDE");
	expect_refused("$GENERATE 1-2 a$ A 192.0.2.$", CC_EINVAL, "directive $GENERATE");
	expect_refused("$ttl 1", CC_EINVAL, "directive $ttl");
	expect_refused("$", CC_EINVAL, "line 1: directive $ not allowed");
	/* DS digests */
	expect_refused(
	    "cn. 1 IN DS 1 8 1 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789A"
	    "BCDEF",
	    CC_EINVAL, "DS digest is 32 bytes, digest type 1 needs 20");
	expect_refused("cn. 1 IN DS 1 8 2 0123456789ABCDEF0123456789ABCDEF01234567", CC_EINVAL,
		       "DS digest is 20 bytes, digest type 2 needs 32");
	expect_refused(
	    "cn. 1 IN DS 1 8 4 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789A"
	    "BCDEF",
	    CC_EINVAL, "DS digest is 32 bytes, digest type 4 needs 48");
	expect_refused(
	    "cn. 1 IN DS 1 8 3 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789A"
	    "BCDEF",
	    CC_EINVAL, "DS digest type 3 not allowed");
	expect_refused("cn. 1 IN DS 1 8 0 00", CC_EINVAL, "DS digest type 0 not allowed");
	expect_refused("cn. 1 IN DS 1 8 5 00", CC_EINVAL, "DS digest type 5 not allowed");
	expect_refused("cn. 1 IN DS 1 8 2 \\# 4 00010802", CC_EINVAL, "line 1: ");
	expect_refused("cn. 1 IN NS a.\ncn. 1 IN DS \\# 3 000108", CC_EINVAL,
		       "line 2: DS rdata is 3 bytes, too short");
	/* names */
	expect_refused("*.cn. 1 IN NS a.dns.cn.", CC_EINVAL, "line 1: owner is not a hostname");
	expect_refused("a\\.b.cn. 1 IN NS a.dns.cn.", CC_EINVAL, "owner is not a hostname");
	expect_refused("a\\032b.cn. 1 IN NS a.dns.cn.", CC_EINVAL, "owner is not a hostname");
	expect_refused("a\\000b.cn. 1 IN A 192.0.2.1", CC_EINVAL, "owner is not a hostname");
	expect_refused("a\\255b.cn. 1 IN A 192.0.2.1", CC_EINVAL, "owner is not a hostname");
	expect_refused("a/b.cn. 1 IN A 192.0.2.1", CC_EINVAL, "owner is not a hostname");
	expect_refused("cn. 1 IN NS a.dns.cn.\ncn. 1 IN NS a/b.dns.cn.", CC_EINVAL,
		       "line 2: NS target is not a hostname");
	expect_refused("cn. 1 IN NS \\# 4 012a0000", CC_EINVAL, "NS target is not a hostname");
	/* zscanner's own errors, with the line it stopped on */
	expect_refused("cn. 1 IN NS a.dns.cn.\n\na.dns.cn. 1 IN A 192.0.2.256\n", CC_EINVAL,
		       "line 3: invalid IPv4 address");
	expect_refused("a.dns.cn. 1 IN AAAA 2001:db8::1::2", CC_EINVAL,
		       "line 1: invalid IPv6 address");
	expect_refused("a.dns.cn. 1 IN A 192.0.2.1 192.0.2.2", CC_EINVAL, "line 1: ");
	expect_refused("\tIN NS a.dns.cn.", CC_EINVAL, "line 1: previous owner is invalid");
	expect_refused("  \n\t; c\n\tIN NS a.dns.cn.", CC_EINVAL,
		       "line 3: previous owner is invalid");
	expect_refused("\n  \n\t; c\ncn. 1 IN A 192.0.2", CC_EINVAL,
		       "line 4: invalid IPv4 address");
	expect_refused("cn. 1 IN DS 1 8 2 (\n00\n", CC_EINVAL, "line 3: ");
	expect_refused("cn. 1 IN NS a.dns.cn.\r\n", CC_EINVAL, "line 1: ");
	expect_refused("cn. 99999999999 IN NS a.dns.cn.", CC_EINVAL, "line 1: ");
	expect_refused("cn. 1 IN NS a..cn.", CC_EINVAL, "line 1: ");
	expect_refused("cn. 1 IN", CC_EINVAL, "line 1: ");
	expect_refused("cn. 1 IN A", CC_EINVAL, "line 1: ");
	expect_refused("cn. 1 IN NS a.dns.cn. extra", CC_EINVAL, "line 1: ");
}

static void test_sizes(void **state)
{
	struct rr_set s = {0};
	struct cc_err e = {0};
	size_t n = 60001;
	char *text = malloc(n);

	(void)state;
	assert_non_null(text);
	/* Exactly at the limit: all comment, no records. */
	memset(text, ' ', n);
	text[0] = ';';
	text[59999] = '\n';
	assert_int_equal(rr_parse(&s, text, 60000, &e), 0);
	assert_int_equal(s.n, 0);
	assert_int_equal(rr_parse(&s, text, n, &e), CC_ETOOBIG);
	assert_int_equal(e.code, CC_ETOOBIG);
	assert_int_equal(rr_parse(&s, "", 0, &e), 0);
	assert_int_equal(rr_parse(&s, NULL, 0, &e), 0);
	assert_int_equal(rr_parse(&s, "\n \n\t; c\n", 8, &e), 0);
	assert_int_equal(s.n, 0);
	/* Errors without a cc_err are still reported by code. */
	assert_int_equal(rr_parse(&s, "x. TXT a", 8, NULL), CC_EINVAL);
	/* A NUL byte in the middle is data, not an end. */
	assert_int_equal(rr_parse(&s, "cn. 1 IN NS a.\0\n", 16, &e), CC_EINVAL);
	assert_int_equal(s.n, 0);
	rr_set_free(&s);
	free(text);
}

static void test_parse_appends(void **state)
{
	struct rr_set s = {0};
	struct cc_err e = {0};
	const char *a = "cn. 1 IN NS a.dns.cn.\n", *b = "br. 1 IN NS a.dns.br.\n";
	size_t i;

	(void)state;
	assert_int_equal(rr_parse(&s, a, strlen(a), &e), 0);
	assert_int_equal(rr_parse(&s, b, strlen(b), &e), 0);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.v[0].owner, "cn.");
	assert_string_equal(s.v[1].owner, "br.");
	for (i = 0; i < 1000; i++)
		assert_int_equal(rr_set_add(&s, &s.v[0]), 0);
	assert_int_equal(s.n, 1002);
	assert_true(s.cap >= s.n);
	rr_set_free(&s);
	assert_null(s.v);
	assert_int_equal(s.n, 0);
	assert_int_equal(s.cap, 0);
	rr_set_free(&s);
}

static void test_sort_order(void **state)
{
	/* Written shuffled; each reason for the order below is one line of the expected text. */
	const char *text = "ns.b.cn. 1 IN AAAA 2001:db8::10\n"
			   "cn. 1 IN A 192.0.2.1\n"
			   "ns.b.cn. 1 IN A 10.0.0.1\n"
			   "cn. 1 IN DS 1000 8 2 "
			   "0000000000000000000000000000000000000000000000000000000000000000\n"
			   "b.cn. 1 IN NS ns.b.cn.\n"
			   "cn. 1 IN DS 999 8 2 "
			   "FF00000000000000000000000000000000000000000000000000000000000000\n"
			   "ns.b.cn. 1 IN AAAA 2001:db8::9\n"
			   "cn. 1 IN AAAA 2001:db8::1\n"
			   "cn. 1 IN NS a.b.example.\n"
			   "cn. 1 IN NS b.example.\n"
			   "ns.b.cn. 1 IN A 9.0.0.1\n"
			   "cn. 1 IN DS 999 8 1 0000000000000000000000000000000000000000\n"
			   "cn. 1 IN DS 999 7 2 "
			   "FF00000000000000000000000000000000000000000000000000000000000000\n"
			   "cn. 1 IN DS 999 8 2 "
			   "0F00000000000000000000000000000000000000000000000000000000000000\n"
			   "a-.cn. 1 IN NS x.\n"
			   "br. 1 IN NS a.dns.br.\n"
			   "cn. 1 IN NS z.cn.\n"
			   "_a.cn. 1 IN NS x.\n";
	const char *want = "br. 1 IN NS a.dns.br.\n"
			   "cn. 1 IN NS z.cn.\n"
			   "cn. 1 IN NS b.example.\n"
			   "cn. 1 IN NS a.b.example.\n"
			   "cn. 1 IN DS 999 7 2 "
			   "FF00000000000000000000000000000000000000000000000000000000000000\n"
			   "cn. 1 IN DS 999 8 1 0000000000000000000000000000000000000000\n"
			   "cn. 1 IN DS 999 8 2 "
			   "0F00000000000000000000000000000000000000000000000000000000000000\n"
			   "cn. 1 IN DS 999 8 2 "
			   "FF00000000000000000000000000000000000000000000000000000000000000\n"
			   "cn. 1 IN DS 1000 8 2 "
			   "0000000000000000000000000000000000000000000000000000000000000000\n"
			   "cn. 1 IN A 192.0.2.1\n"
			   "cn. 1 IN AAAA 2001:db8::1\n"
			   "_a.cn. 1 IN NS x.\n"
			   "a-.cn. 1 IN NS x.\n"
			   "b.cn. 1 IN NS ns.b.cn.\n"
			   "ns.b.cn. 1 IN A 9.0.0.1\n"
			   "ns.b.cn. 1 IN A 10.0.0.1\n"
			   "ns.b.cn. 1 IN AAAA 2001:db8::9\n"
			   "ns.b.cn. 1 IN AAAA 2001:db8::10\n";
	struct cbuf got = CBUF_INIT;
	struct cc_err e = {0};
	struct rr_set s = {0};
	size_t i, j;

	(void)state;
	assert_int_equal(canonicalise(text, strlen(text), &got, &e), 0);
	assert_string_equal(got.p, want);
	/* The comparison is a total order: antisymmetric and consistent with the sort. */
	assert_int_equal(rr_parse(&s, want, strlen(want), &e), 0);
	for (i = 0; i < s.n; i++) {
		assert_int_equal(rr_cmp(&s.v[i], &s.v[i]), 0);
		for (j = i + 1; j < s.n; j++) {
			assert_true(rr_cmp(&s.v[i], &s.v[j]) < 0);
			assert_true(rr_cmp(&s.v[j], &s.v[i]) > 0);
		}
	}
	rr_set_free(&s);
	cbuf_free(&got);

	/* TTL is not part of a record's identity, but the sort still puts the lower TTL first. */
	text = "cn. 9 IN NS a.cn.\ncn. 7 IN NS a.cn.\ncn. 8 IN NS a.cn.\n";
	assert_int_equal(rr_parse(&s, text, strlen(text), &e), 0);
	assert_int_equal(rr_cmp(&s.v[0], &s.v[1]), 0);
	rr_sort(&s);
	assert_int_equal(s.v[0].ttl, 7);
	assert_int_equal(s.v[1].ttl, 8);
	assert_int_equal(s.v[2].ttl, 9);
	rr_set_free(&s);
}

static void test_name_cmp(void **state)
{
	/* RFC 4034 section 6.1, in its order. */
	static const char *const names[] = {
	    ".",
	    "example.",
	    "a.example.",
	    "yljkjljk.a.example.",
	    "Z.a.example.",
	    "zABC.a.EXAMPLE.",
	    "z.example.",
	    "\\001.z.example.",
	    "*.z.example.",
	    "\\200.z.example.",
	    "org.",
	};
	size_t n = sizeof(names) / sizeof(names[0]), i, j;

	(void)state;
	for (i = 0; i < n; i++) {
		assert_int_equal(rr_name_cmp(names[i], names[i]), 0);
		for (j = i + 1; j < n; j++) {
			if (rr_name_cmp(names[i], names[j]) >= 0 ||
			    rr_name_cmp(names[j], names[i]) <= 0)
				fail_msg("%s should sort before %s", names[i], names[j]);
		}
	}
	assert_int_equal(rr_name_cmp("CN.", "cn."), 0);
	assert_int_equal(rr_name_cmp("a.cn.", "\\097.cn."), 0);
	assert_int_equal(rr_name_cmp("a\\.b.cn.", "a\\046b.cn."), 0);
	/* "a.b" is one label, after "a" and its whole subtree. */
	assert_true(rr_name_cmp("b.a.cn.", "a\\.b.cn.") < 0);
	assert_true(rr_name_cmp("cn.", "a.cn.") < 0);
	assert_true(rr_name_cmp("cn.", "cna.") < 0);
	assert_true(rr_name_cmp("z.cn.", "a.de.") < 0);
	/* Labels compare as unsigned bytes. */
	assert_true(rr_name_cmp("\\127.cn.", "\\128.cn.") < 0);
	assert_true(rr_name_cmp("\\255.cn.", "a.cn.") > 0);
	/* Relative text is read label by label too. */
	assert_int_equal(rr_name_cmp("a.cn", "a.cn."), 0);
	/* Text that is not a name sorts after every name, consistently. */
	assert_true(rr_name_cmp("a..cn.", "zz.") > 0);
	assert_true(rr_name_cmp("zz.", "a..cn.") < 0);
	assert_true(rr_name_cmp("", ".") > 0);
	assert_true(rr_name_cmp("a..", "b..") < 0);
	assert_true(rr_name_cmp("a\\", "a.") > 0);
	assert_true(rr_name_cmp("a\\256.", "a.") > 0);
}

static void test_name_under(void **state)
{
	(void)state;
	assert_true(rr_name_under("cn.", "cn."));
	assert_true(rr_name_under("a.cn.", "cn."));
	assert_true(rr_name_under("a.b.dns.cn.", "dns.cn."));
	assert_true(rr_name_under("A.CN.", "cn."));
	assert_true(rr_name_under("cn.", "."));
	assert_true(rr_name_under(".", "."));
	assert_false(rr_name_under(".", "cn."));
	assert_false(rr_name_under("acn.", "cn."));
	assert_false(rr_name_under("cn.", "a.cn."));
	assert_false(rr_name_under("cn.br.", "cn."));
	assert_false(rr_name_under("a\\.cn.", "cn."));
	assert_true(rr_name_under("x.a\\.cn.", "a\\.cn."));
	assert_false(rr_name_under("a..cn.", "cn."));
	assert_false(rr_name_under("cn.", ""));
}

static void test_format(void **state)
{
	struct rr r;
	struct cbuf b = CBUF_INIT;

	(void)state;
	memset(&r, 0, sizeof(r));
	strcpy(r.owner, "cn.");
	r.type = RR_NS;
	r.ttl = 1;
	strcpy(r.rdata, "a.dns.cn.");
	assert_int_equal(rr_format(&r, 172800, &b), 0);
	assert_string_equal(b.p, "cn. 172800 IN NS a.dns.cn.\n");
	r.type = RR_AAAA;
	strcpy(r.rdata, "2001:db8::1");
	assert_int_equal(rr_format(&r, 4294967295u, &b), 0);
	assert_string_equal(b.p,
			    "cn. 172800 IN NS a.dns.cn.\ncn. 4294967295 IN AAAA 2001:db8::1\n");
	r.type = 16;
	assert_int_equal(rr_format(&r, 1, &b), CC_EINVAL);
	cbuf_free(&b);
}

struct collect {
	struct rr_set set; /* records seen */
	size_t stop_after; /* return 7 after this many, 0 for never */
};

static int collect_cb(void *ctx, const struct rr *r)
{
	struct collect *c = ctx;

	assert_int_equal(rr_set_add(&c->set, r), 0);
	return c->stop_after && c->set.n == c->stop_after ? 7 : 0;
}

static char *write_temp(const char *text)
{
	char tmpl[] = "/tmp/test_rr_XXXXXX";
	int fd = mkstemp(tmpl);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return strdup(tmpl);
}

static void test_scan_file_small(void **state)
{
	const char *zone =
	    "$TTL 86400\n"
	    ".\tIN SOA a.root-servers.net. nstld.verisign-grs.com. 1 2 3 4 5\n"
	    ". 518400 IN NS a.root-servers.net.\n"
	    ". 172800 IN DNSKEY 257 3 15 l02Woi0iS8Aa25FQkUd9RMzZHJpBoRQwAQEX1SxZJA4=\n"
	    "CN.  172800  IN  NS  A.DNS.CN.\n"
	    "cn. DS 57724 8 2 5D0BB7FA4FCFC8C4F6FBF37E83A8B7E791CF6A96B4F4F0F12BE5B563D2BD"
	    "40E8\n"
	    "cn. NSEC de. NS DS RRSIG NSEC\n"
	    "cn. RRSIG NSEC 8 1 86400 20250902050000 20250820040000 46441 .    AAAA   BBBB\n"
	    "$ORIGIN cn.\n"
	    "a.dns 172800 IN A 203.119.25.1\n"
	    "a.dns 172800 IN AAAA 2001:dc7::1\n"
	    "a.dns 172800 IN TXT \"not delegation data\"\n"
	    "x\\032y 172800 IN A 192.0.2.1\n"
	    "a.root-servers.net. 518400 IN A 198.41.0.4\n";
	char *path = write_temp(zone);
	struct collect c = {{0}, 0};
	struct cbuf b = CBUF_INIT;
	struct cc_err e = {0};
	size_t i;

	(void)state;
	assert_int_equal(rr_scan_file(path, collect_cb, &c, &e), 0);
	for (i = 0; i < c.set.n; i++)
		assert_int_equal(rr_format(&c.set.v[i], c.set.v[i].ttl, &b), 0);
	assert_string_equal(b.p,
			    "cn. 172800 IN NS a.dns.cn.\n"
			    "cn. 86400 IN DS 57724 8 2 "
			    "5D0BB7FA4FCFC8C4F6FBF37E83A8B7E791CF6A96B4F4F0F12BE5B563D2BD40E8\n"
			    "a.dns.cn. 172800 IN A 203.119.25.1\n"
			    "a.dns.cn. 172800 IN AAAA 2001:dc7::1\n"
			    "x\\032y.cn. 172800 IN A 192.0.2.1\n"
			    "a.root-servers.net. 518400 IN A 198.41.0.4\n");
	assert_int_equal(c.set.v[0].line, 5);
	assert_int_equal(c.set.v[2].line, 10);
	rr_set_free(&c.set);

	/* A callback's non-zero result stops the scan and comes back unchanged. */
	c.stop_after = 2;
	assert_int_equal(rr_scan_file(path, collect_cb, &c, &e), 7);
	assert_int_equal(c.set.n, 2);
	rr_set_free(&c.set);
	unlink(path);
	free(path);
	cbuf_free(&b);

	assert_int_equal(rr_scan_file("/nonexistent/root.zone", collect_cb, &c, &e), CC_EIO);
	assert_non_null(strstr(e.msg, "/nonexistent/root.zone"));

	path = write_temp("cn. 1 IN NS a.dns.cn.\n\ncn. 1 IN A 1.2.3\n");
	assert_int_equal(rr_scan_file(path, collect_cb, &c, &e), CC_EINVAL);
	assert_non_null(strstr(e.msg, ": line 3: "));
	assert_int_equal(c.set.n, 1);
	rr_set_free(&c.set);
	unlink(path);
	free(path);

	path = write_temp("cn. 1 IN NS a.dns.cn.\n$INCLUDE /etc/hostname\n");
	assert_int_equal(rr_scan_file(path, collect_cb, &c, &e), CC_EINVAL);
	assert_non_null(strstr(e.msg, "line 2: $INCLUDE"));
	rr_set_free(&c.set);
	unlink(path);
	free(path);

	path = write_temp("cn. 1 IN DS 1 8 2 00\n");
	assert_int_equal(rr_scan_file(path, collect_cb, &c, &e), CC_EINVAL);
	assert_non_null(strstr(e.msg, "line 1: DS digest is 1 bytes"));
	unlink(path);
	free(path);

	path = write_temp("");
	assert_int_equal(rr_scan_file(path, collect_cb, &c, &e), 0);
	assert_int_equal(c.set.n, 0);
	unlink(path);
	free(path);
	rr_set_free(&c.set);
}

struct counts {
	size_t ns, ds, a, aaaa;	       /* records seen, by type */
	size_t rs_a, rs_aaaa;	       /* of which A/AAAA of *.root-servers.net. */
	size_t apex, bad_owner, other; /* must stay 0 */
	size_t lines_sorted;	       /* records whose line is after the previous one */
	uint16_t last_line;
};

static int count_cb(void *ctx, const struct rr *r)
{
	struct counts *c = ctx;
	int rs = rr_name_under(r->owner, "root-servers.net.");

	if (strcmp(r->owner, ".") == 0)
		c->apex++;
	if (strchr(r->owner, '\\') || strchr(r->rdata, '\\'))
		c->bad_owner++;
	switch (r->type) {
	case RR_NS:
		c->ns++;
		break;
	case RR_DS:
		c->ds++;
		break;
	case RR_A:
		c->a++;
		c->rs_a += rs;
		break;
	case RR_AAAA:
		c->aaaa++;
		c->rs_aaaa += rs;
		break;
	default:
		c->other++;
	}
	if (r->line > c->last_line)
		c->lines_sorted++;
	c->last_line = r->line;
	return 0;
}

static void test_scan_root_zone(void **state)
{
	struct cbuf path = CBUF_INIT;
	struct counts c;
	struct cc_err e = {0};

	(void)state;
	memset(&c, 0, sizeof(c));
	assert_int_equal(cbuf_printf(&path, "%s/root-2025082000.zone", data_dir()), 0);
	if (access(path.p, R_OK) != 0) {
		cbuf_free(&path);
		skip();
	}
	if (rr_scan_file(path.p, count_cb, &c, &e) != 0)
		fail_msg("%s", e.msg);
	/* Cross-checked with awk on the file: 7561 NS, 1506 DS, 5943 A and 5641 AAAA in all,
	 * 13 NS at the apex, 13 A and 13 AAAA for the root servers. */
	assert_int_equal(c.ns, 7548);
	assert_int_equal(c.ds, 1506);
	assert_int_equal(c.a - c.rs_a, 5930);
	assert_int_equal(c.aaaa - c.rs_aaaa, 5628);
	assert_int_equal(c.rs_a, 13);
	assert_int_equal(c.rs_aaaa, 13);
	assert_int_equal(c.apex, 0);
	assert_int_equal(c.bad_owner, 0);
	assert_int_equal(c.other, 0);
	/* One record a line, in file order: every line number grows. */
	assert_int_equal(c.lines_sorted, c.ns + c.ds + c.a + c.aaaa);
	cbuf_free(&path);
}

/* rr_parse must answer exactly as rr_parse_scanner, records equal to the last byte; fast says
 * whether it may do so on its fast path (1) or must leave the text to zscanner (0). */
static void expect_same_len(const char *text, size_t len, int fast)
{
	struct rr_set a = {0}, b = {0};
	struct cc_err ea = {0}, eb = {0};
	struct rr keep;
	size_t before, i;
	int ra, rb;

	memset(&keep, 0, sizeof(keep));
	strcpy(keep.owner, "keep.");
	keep.type = RR_NS;
	strcpy(keep.rdata, "ns.keep.");
	assert_int_equal(rr_set_add(&a, &keep), 0);
	assert_int_equal(rr_set_add(&b, &keep), 0);
	before = rr_parse_fast_count();
	ra = rr_parse(&a, text, len, &ea);
	if (rr_parse_fast_count() - before != (size_t)fast)
		fail_msg("%.*s: fast path %s", (int)len, text, fast ? "not taken" : "taken");
	rb = rr_parse_scanner(&b, text, len, &eb);
	if (ra != rb || ea.code != eb.code || strcmp(ea.msg, eb.msg) != 0)
		fail_msg("%.*s: rr_parse %d (%s), rr_parse_scanner %d (%s)", (int)len, text, ra,
			 ea.msg, rb, eb.msg);
	assert_int_equal(a.n, b.n);
	for (i = 0; i < a.n; i++) {
		assert_memory_equal(a.v[i].owner, b.v[i].owner, sizeof(a.v[i].owner));
		assert_int_equal(a.v[i].type, b.v[i].type);
		assert_int_equal(a.v[i].ttl, b.v[i].ttl);
		assert_memory_equal(a.v[i].rdata, b.v[i].rdata, sizeof(a.v[i].rdata));
		assert_int_equal(a.v[i].line, b.v[i].line);
	}
	rr_set_free(&a);
	rr_set_free(&b);
}

static void expect_same(const char *text, int fast)
{
	expect_same_len(text, strlen(text), fast);
}

static void test_fast_path_canonical(void **state)
{
	const char *text = "\n"
			   "cn. 172800 IN NS a.dns.cn.\n"
			   "cn. 86400 IN DS 57724 8 2 "
			   "5D0BB7FA4FCFC8C4F6FBF37E83A8B7E791CF6A96B4F4F0F12BE5B563D2BD40E8\n"
			   "\n"
			   "\n"
			   "a.dns.cn. 172800 IN A 203.119.25.1\n"
			   "a.dns.cn. 0 IN AAAA 2001:dc7::1";
	static const struct {
		const char *owner, *rdata;
		uint16_t type, line;
		uint32_t ttl;
	} want[] = {
	    {"cn.", "a.dns.cn.", RR_NS, 2, 172800},
	    {"cn.", "57724 8 2 5D0BB7FA4FCFC8C4F6FBF37E83A8B7E791CF6A96B4F4F0F12BE5B563D2BD40E8",
	     RR_DS, 3, 86400},
	    {"a.dns.cn.", "203.119.25.1", RR_A, 6, 172800},
	    {"a.dns.cn.", "2001:dc7::1", RR_AAAA, 7, 0},
	};
	char l63[64], n254[256], line[600];
	struct rr_set s = {0};
	struct cc_err e = {0};
	size_t before = rr_parse_fast_count(), i;

	(void)state;
	assert_int_equal(rr_parse(&s, text, strlen(text), &e), 0);
	assert_int_equal(rr_parse_fast_count(), before + 1);
	assert_int_equal(s.n, 4);
	for (i = 0; i < s.n; i++) {
		assert_string_equal(s.v[i].owner, want[i].owner);
		assert_int_equal(s.v[i].type, want[i].type);
		assert_int_equal(s.v[i].ttl, want[i].ttl);
		assert_string_equal(s.v[i].rdata, want[i].rdata);
		assert_int_equal(s.v[i].line, want[i].line);
	}
	rr_set_free(&s);
	expect_same(text, 1);

	/* Limits and corners that are still canonical. */
	expect_same("\n\n\n", 1);
	expect_same(". 0 IN NS .\n", 1);
	expect_same("cn. 2147483647 IN NS a.\n", 1);
	expect_same("-._.cn. 1 IN NS _-.0.\n", 1);
	expect_same("a. 1 IN A 0.0.0.0\na. 1 IN A 255.255.255.255\na. 1 IN A 10.100.1.99\n", 1);
	expect_same("a. 1 IN AAAA ::\na. 1 IN AAAA ::1\na. 1 IN AAAA 1::\n"
		    "a. 1 IN AAAA 2001:db8:0:0:1::\na. 1 IN AAAA 2001:db8::1:0:0:1\n"
		    "a. 1 IN AAAA 1:2:3:4:5:6:7:8\na. 1 IN AAAA ::ffff:192.0.2.1\n"
		    "a. 1 IN AAAA ::1.2.3.4\na. 1 IN AAAA fe80::\n",
		    1);
	expect_same("cn. 1 IN DS 0 0 1 0123456789ABCDEF0123456789ABCDEF01234567\n"
		    "cn. 1 IN DS 65535 255 4 000102030405060708090A0B0C0D0E0F101112131415161718"
		    "191A1B1C1D1E1F202122232425262728292A2B2C2D2E2F\n",
		    1);
	memset(l63, 'a', 63);
	l63[63] = '\0';
	snprintf(line, sizeof(line), "%s. 1 IN NS %s.cn.\n", l63, l63);
	expect_same(line, 1);
	/* 254 bytes of text: 255 octets in wire form, the most a name can have. */
	snprintf(n254, sizeof(n254), "%s.%s.%s.%.61s.", l63, l63, l63, l63);
	assert_int_equal(strlen(n254), 254);
	snprintf(line, sizeof(line), "%s 1 IN NS %s", n254, n254);
	expect_same(line, 1);
	n254[0] = 'B';
	snprintf(line, sizeof(line), "%s 1 IN NS a.", n254);
	expect_same(line, 0);
}

static void test_fast_path_fallback(void **state)
{
	static const char *const texts[] = {
	    /* names */
	    "CN. 1 IN NS a.dns.cn.\n",
	    "cn. 1 IN NS a.DNS.cn.\n",
	    "cn 1 IN NS a.dns.cn.\n",
	    "cn. 1 IN NS a.dns.cn\n",
	    "*.cn. 1 IN NS a.dns.cn.\n",
	    "a\\.b.cn. 1 IN NS a.dns.cn.\n",
	    "a\\097.cn. 1 IN NS a.dns.cn.\n",
	    "cn. 1 IN NS a..cn.\n",
	    "cn. 1 IN NS ..\n",
	    ".cn. 1 IN NS a.\n",
	    "@ 1 IN NS a.\n",
	    "a/b.cn. 1 IN NS a.\n",
	    "caf\xc3\xa9. 1 IN NS a.\n",
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa. 1 IN NS a.\n",
	    "cn. 1 IN NS aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.\n",
	    /* separators, comments, line ends */
	    "cn.\t1 IN NS a.dns.cn.\n",
	    "cn.  1 IN NS a.dns.cn.\n",
	    "cn. 1 IN NS a.dns.cn. \n",
	    " cn. 1 IN NS a.dns.cn.\n",
	    "cn. 1 IN NS a.dns.cn.\n\tNS b.dns.cn.\n",
	    "cn. 1 IN NS a.dns.cn.\n \n",
	    "cn. 1 IN NS a.dns.cn. ; comment\n",
	    "; comment\ncn. 1 IN NS a.dns.cn.\n",
	    "cn. 1 IN NS a.dns.cn.\r\n",
	    "cn. 1 IN NS a.dns.cn.\n\r\n",
	    "cn. 1 IN NS ( a.dns.cn. )\n",
	    "$TTL 1\ncn. 1 IN NS a.dns.cn.\n",
	    "cn. 1 IN NS a.dns.cn.\n$ORIGIN cn.\n",
	    /* TTL and class */
	    "cn. 01 IN NS a.dns.cn.\n",
	    "cn. 00 IN NS a.dns.cn.\n",
	    "cn. 2147483648 IN NS a.dns.cn.\n",
	    "cn. 4294967295 IN NS a.dns.cn.\n",
	    "cn. 4294967296 IN NS a.dns.cn.\n",
	    "cn. 99999999999999999999 IN NS a.dns.cn.\n",
	    "cn. 1d IN NS a.dns.cn.\n",
	    "cn. IN NS a.dns.cn.\n",
	    "cn. 1 NS a.dns.cn.\n",
	    "cn. NS a.dns.cn.\n",
	    "cn. IN 1 NS a.dns.cn.\n",
	    "cn. 1 in NS a.dns.cn.\n",
	    "cn. 1 CH NS a.dns.cn.\n",
	    /* types */
	    "cn. 1 IN ns a.dns.cn.\n",
	    "cn. 1 IN TYPE2 a.dns.cn.\n",
	    "cn. 1 IN NS \\# 4 01610000\n",
	    "cn. 1 IN TXT \"x\"\n",
	    "cn. 1 IN CNAME a.dns.cn.\n",
	    "cn. 1 IN AAAAA ::1\n",
	    "cn. 1 IN\n",
	    "cn. 1 IN NS\n",
	    "cn. 1 IN NS \n",
	    /* A */
	    "a. 1 IN A 01.2.3.4\n",
	    "a. 1 IN A 1.2.3.256\n",
	    "a. 1 IN A 1.2.3\n",
	    "a. 1 IN A 1.2.3.4.5\n",
	    "a. 1 IN A 1.2.3.4 5\n",
	    "a. 1 IN A 1.2.3.\n",
	    "a. 1 IN A 0x1.2.3.4\n",
	    /* AAAA */
	    "a. 1 IN AAAA 2001:DB8::1\n",
	    "a. 1 IN AAAA 2001:db8:0:0::1\n",
	    "a. 1 IN AAAA 2001:0db8::1\n",
	    "a. 1 IN AAAA 2001:db8:0:0:0:0:0:1\n",
	    "a. 1 IN AAAA 2001:db8::1:0:0:0\n",
	    "a. 1 IN AAAA 2001:db8:0:1:1:1:1::\n",
	    "a. 1 IN AAAA ::ffff:102:304\n",
	    "a. 1 IN AAAA ::0.0.0.1\n",
	    "a. 1 IN AAAA 1:2:3:4:5:6:1.2.3.4\n",
	    "a. 1 IN AAAA 2001:db8::1::2\n",
	    "a. 1 IN AAAA 1.2.3.4\n",
	    "a. 1 IN AAAA :::\n",
	    /* DS */
	    "cn. 1 IN DS 57724 8 2 "
	    "5D0BB7FA4FCFC8C4F6FBF37E83A8B7E7 91CF6A96B4F4F0F12BE5B563D2BD40E8\n",
	    "cn. 1 IN DS 057724 8 2 "
	    "5D0BB7FA4FCFC8C4F6FBF37E83A8B7E791CF6A96B4F4F0F12BE5B563D2BD40E8\n",
	    "cn. 1 IN DS 57724 08 2 "
	    "5D0BB7FA4FCFC8C4F6FBF37E83A8B7E791CF6A96B4F4F0F12BE5B563D2BD40E8\n",
	    "cn. 1 IN DS 65536 8 2 "
	    "5D0BB7FA4FCFC8C4F6FBF37E83A8B7E791CF6A96B4F4F0F12BE5B563D2BD40E8\n",
	    "cn. 1 IN DS 1 256 2 "
	    "5D0BB7FA4FCFC8C4F6FBF37E83A8B7E791CF6A96B4F4F0F12BE5B563D2BD40E8\n",
	    "cn. 1 IN DS 1 RSASHA256 2 "
	    "5D0BB7FA4FCFC8C4F6FBF37E83A8B7E791CF6A96B4F4F0F12BE5B563D2BD40E8\n",
	    "cn. 1 IN DS 1 8 2 5D0BB7FA4FCFC8C4F6FBF37E83A8B7E791CF6A96B4F4F0F12BE5B563D2BD40\n",
	    "cn. 1 IN DS 1 8 2 5D0BB7FA4FCFC8C4F6FBF37E83A8B7E791CF6A96B4F4F0F12BE5B563D2BD40E\n",
	    "cn. 1 IN DS 1 8 1 5D0BB7FA4FCFC8C4F6FBF37E83A8B7E791CF6A96B4F4F0F12BE5B563D2BD40E8\n",
	    "cn. 1 IN DS 1 8 3 5D0BB7FA4FCFC8C4F6FBF37E83A8B7E791CF6A96B4F4F0F12BE5B563D2BD40E8\n",
	    "cn. 1 IN DS 1 8 0 00\n",
	    "cn. 1 IN DS 1 8 2 \\# 4 00010802\n",
	    "cn. 1 IN DS 1 8 2\n",
	    /* one bad line spoils the whole text, wherever it is */
	    "cn. 1 IN NS a.dns.cn.\ncn. 1 IN NS b.dns.cn.\ncn. 1 IN NS C.dns.cn.\n",
	    "cn. 1 IN NS a.dns.cn.\ncn. 1 IN TXT \"x\"\ncn. 1 IN NS b.dns.cn.\n",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
		expect_same(texts[i], 0);
	/* A NUL byte is data; so is everything after it. */
	expect_same_len("cn. 1 IN NS a.\0\n", 16, 0);
	expect_same_len("cn. 1 IN NS a.\n\0", 16, 0);
	/* Canonical without its last newline, and with an explicit zero TTL: still fast. */
	expect_same("cn. 1 IN NS a.dns.cn.", 1);
	expect_same("cn. 0 IN NS a.dns.cn.\n", 1);
	/* A lower-case digest reads as the same upper-case one on either path. */
	expect_same("cn. 1 IN DS 57724 8 2 "
		    "5d0bb7fa4fcfc8c4f6fbF37e83a8b7e791cf6a96b4f4f0f12be5b563d2bd40e8\n",
		    1);
}

/* Cuts a scan of the root zone into one text per TLD, as rr_format writes them. */
struct tld_texts {
	struct cbuf cur; /* the TLD being read */
	char tld[RR_NAME_MAX + 1];
	struct cbuf *v; /* finished texts */
	size_t n, cap;
};

static const char *tld_of(const char *owner)
{
	size_t n = strlen(owner);
	const char *p;

	if (n < 2)
		return owner;
	for (p = owner + n - 2; p > owner && p[-1] != '.'; p--)
		;
	return p;
}

static void tld_flush(struct tld_texts *t)
{
	if (t->cur.len == 0)
		return;
	if (t->n == t->cap) {
		t->cap = t->cap ? 2 * t->cap : 256;
		t->v = realloc(t->v, t->cap * sizeof(*t->v));
		assert_non_null(t->v);
	}
	t->v[t->n++] = t->cur;
	t->cur = (struct cbuf)CBUF_INIT;
}

static int tld_cb(void *ctx, const struct rr *r)
{
	struct tld_texts *t = ctx;
	const char *tld = tld_of(r->owner);

	/* The zone is in canonical order, so each TLD's subtree is one run of records. */
	if (strcmp(tld, t->tld) != 0) {
		tld_flush(t);
		snprintf(t->tld, sizeof(t->tld), "%s", tld);
	}
	return rr_format(r, r->ttl, &t->cur);
}

static void test_fast_path_root_zone(void **state)
{
	struct tld_texts t = {CBUF_INIT, "", NULL, 0, 0};
	struct cbuf path = CBUF_INIT;
	struct cc_err e = {0};
	size_t i;

	(void)state;
	assert_int_equal(cbuf_printf(&path, "%s/root-2025082000.zone", data_dir()), 0);
	if (access(path.p, R_OK) != 0) {
		cbuf_free(&path);
		skip();
	}
	if (rr_scan_file(path.p, tld_cb, &t, &e) != 0)
		fail_msg("%s", e.msg);
	tld_flush(&t);
	/* Every TLD of the zone, and the root servers' addresses in "net." */
	assert_true(t.n > 1400);
	for (i = 0; i < t.n; i++) {
		assert_true(t.v[i].len <= 60000);
		expect_same_len(t.v[i].p, t.v[i].len, 1);
		cbuf_free(&t.v[i]);
	}
	free(t.v);
	cbuf_free(&path);
}

/* RFC 4034 §6.1 written out the plain way: labels from the right, each compared as
 * lower-cased bytes, a shorter label first, fewer labels first. For names without escapes. */
static int ref_name_cmp(const char *a, const char *b)
{
	char la[128][64], lb[128][64];
	int na = 0, nb = 0;
	const char *s;

	for (s = a; *s && strcmp(s, ".") != 0; na++) {
		size_t k = strcspn(s, ".");

		snprintf(la[na], sizeof(la[na]), "%.*s", (int)k, s);
		for (char *c = la[na]; *c; c++)
			*c = (char)tolower((unsigned char)*c);
		s += k + (s[k] == '.');
	}
	for (s = b; *s && strcmp(s, ".") != 0; nb++) {
		size_t k = strcspn(s, ".");

		snprintf(lb[nb], sizeof(lb[nb]), "%.*s", (int)k, s);
		for (char *c = lb[nb]; *c; c++)
			*c = (char)tolower((unsigned char)*c);
		s += k + (s[k] == '.');
	}
	for (int i = na - 1, j = nb - 1; i >= 0 && j >= 0; i--, j--) {
		size_t x = strlen(la[i]), y = strlen(lb[j]);
		int c = memcmp(la[i], lb[j], x < y ? x : y);

		if (c != 0)
			return c < 0 ? -1 : 1;
		if (x != y)
			return x < y ? -1 : 1;
	}
	return (na > nb) - (na < nb);
}

struct names {
	char (*v)[RR_NAME_MAX + 1];
	size_t n, cap;
};

static int names_cb(void *ctx, const struct rr *r)
{
	struct names *ns = ctx;
	const char *add[2] = {r->owner, r->type == RR_NS ? r->rdata : NULL};

	for (int i = 0; i < 2 && add[i]; i++) {
		if (ns->n == ns->cap) {
			ns->cap = ns->cap ? 2 * ns->cap : 1024;
			ns->v = realloc(ns->v, ns->cap * sizeof(*ns->v));
			assert_non_null(ns->v);
		}
		snprintf(ns->v[ns->n++], sizeof(ns->v[0]), "%s", add[i]);
	}
	return 0;
}

/* rr_name_cmp against the reference on the names of the real root zone (plain names, read in
 * place) and on names that take the general path (upper case, no final dot). */
static void test_name_order(void **state)
{
	static const char *const odd[] = {".",	  "a.",	      "A.",	"a",	     "b.a.",
					  "B.A",  "a-.",      "_a.",	"0.",	     "zz.",
					  "z.z.", "a.b.c.d.", "a.b.C.", "xn--p1ai.", "-."};
	struct names ns = {0};
	struct cbuf path = CBUF_INIT;
	struct cc_err e = {0};
	size_t n = sizeof(odd) / sizeof(odd[0]);

	(void)state;
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < n; j++)
			if (rr_name_cmp(odd[i], odd[j]) != ref_name_cmp(odd[i], odd[j]))
				fail_msg("%s vs %s: %d, expected %d", odd[i], odd[j],
					 rr_name_cmp(odd[i], odd[j]), ref_name_cmp(odd[i], odd[j]));
	assert_int_equal(cbuf_printf(&path, "%s/root-2025082000.zone", data_dir()), 0);
	if (access(path.p, R_OK) != 0) {
		cbuf_free(&path);
		skip();
	}
	if (rr_scan_file(path.p, names_cb, &ns, &e) != 0)
		fail_msg("%s", e.msg);
	assert_true(ns.n > 10000);
	/* Every name against its neighbours in file order and against names far away. */
	for (size_t i = 0; i < ns.n; i++)
		for (size_t d = 1; d < ns.n; d = d * 3 + 1) {
			const char *a = ns.v[i], *b = ns.v[(i + d) % ns.n];

			if (rr_name_cmp(a, b) != ref_name_cmp(a, b))
				fail_msg("%s vs %s: %d, expected %d", a, b, rr_name_cmp(a, b),
					 ref_name_cmp(a, b));
		}
	free(ns.v);
	cbuf_free(&path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_vectors_canonical),
	    cmocka_unit_test(test_vectors_invalid),
	    cmocka_unit_test(test_canonical_forms),
	    cmocka_unit_test(test_line_numbers),
	    cmocka_unit_test(test_refusals),
	    cmocka_unit_test(test_sizes),
	    cmocka_unit_test(test_parse_appends),
	    cmocka_unit_test(test_sort_order),
	    cmocka_unit_test(test_name_cmp),
	    cmocka_unit_test(test_name_order),
	    cmocka_unit_test(test_name_under),
	    cmocka_unit_test(test_format),
	    cmocka_unit_test(test_scan_file_small),
	    cmocka_unit_test(test_scan_root_zone),
	    cmocka_unit_test(test_fast_path_canonical),
	    cmocka_unit_test(test_fast_path_fallback),
	    cmocka_unit_test(test_fast_path_root_zone),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
