/* Policies (docs/format.md, "Policies"): the record's text, one canonical form for it, every
 * refusal, pattern matching, and which policy governs a path when several match. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/genesis.h"
#include "core/kinds/kinds.h"
#include "core/ledger.h"
#include "core/policy.h"
#include "core/tlog.h"

static int parse(struct policy *p, const char *s, struct cc_err *e)
{
	return policy_parse(p, s, strlen(s), e);
}

/* Parses s, formats it, and checks the result is want and formats to itself again. */
static void assert_canonical(const char *s, const char *want)
{
	struct policy p, q;
	struct cbuf a = CBUF_INIT, b = CBUF_INIT;
	struct cc_err e = {0};

	if (parse(&p, s, &e) != 0)
		fail_msg("refused \"%s\": %s", s, e.msg);
	assert_int_equal(policy_format(&p, &a), 0);
	assert_string_equal(a.p, want);
	assert_int_equal(parse(&q, a.p, &e), 0);
	assert_int_equal(policy_format(&q, &b), 0);
	assert_string_equal(b.p, a.p);
	assert_int_equal(q.nreq, p.nreq);
	assert_int_equal(q.delay, p.delay);
	assert_int_equal(q.pattern_kind, p.pattern_kind);
	cbuf_free(&a);
	cbuf_free(&b);
}

static void test_round_trip(void **state)
{
	static const char *const same[] = {
	    "applies tld/??\nrequire state\n",
	    "applies tld/*\nrequire chamber government 2/3\nrequire chamber * 1/2\n",
	    "applies tld/*\nrequire chamber government 2/3\nrequire chamber * 1/2\ndelay 86400\n",
	    "applies member/*\nrequire all 2/3\n",
	    "applies policy/*\nrequire all 1/1\n",
	    "applies tld/cn\nrequire member cn\nrequire member isoc\n",
	    "applies member/??\nrequire state\nrequire all 1/100\n",
	    "applies policy/tld\nrequire chamber private-sector 1/2\nrequire chamber "
	    "civil-society 1/3\nrequire chamber technical 99/100\nrequire chamber academic "
	    "1/1\n",
	    "applies tld/xn--fiqs8s\nrequire all 2/3\ndelay 31622400\n",
	    "applies host/x.\nrequire all 1/2\n" /* not governable: refused below */};
	struct policy p;

	for (size_t i = 0; i + 1 < sizeof(same) / sizeof(same[0]); i++)
		assert_canonical(same[i], same[i]);
	assert_int_equal(parse(&p, same[9], NULL), CC_EINVAL);
}

/* Comments, blank lines, runs of spaces, a missing final newline and "delay 0" all read as
 * the canonical text; what is stored and shown is always that text. */
static void test_canonical_form(void **state)
{
	assert_canonical("# the gTLD rule\n\napplies   tld/*\n  require chamber government 2/3  \n"
			 "require chamber * 1/2\n# end\n",
			 "applies tld/*\nrequire chamber government 2/3\nrequire chamber * 1/2\n");
	assert_canonical("applies tld/??\nrequire state", "applies tld/??\nrequire state\n");
	assert_canonical("applies tld/*\nrequire all 1/2\ndelay 0\n",
			 "applies tld/*\nrequire all 1/2\n");
	/* Order of the lines is kept: delay may come first, it is written last. */
	assert_canonical("delay 60\nrequire all 1/2\napplies tld/*\n",
			 "applies tld/*\nrequire all 1/2\ndelay 60\n");
}

static void test_fields(void **state)
{
	struct policy p;
	struct cc_err e = {0};

	assert_int_equal(parse(&p,
			       "applies tld/*\nrequire chamber government 2/3\nrequire chamber * "
			       "1/2\nrequire member isoc\nrequire all 3/5\ndelay 7\n",
			       &e),
			 0);
	assert_string_equal(p.pattern, "tld/*");
	assert_int_equal(p.pattern_kind, PAT_ANY);
	assert_int_equal(p.nreq, 4);
	assert_int_equal(p.req[0].kind, REQ_CHAMBER);
	assert_int_equal(p.req[0].chamber, CHAMBER_GOVERNMENT);
	assert_int_equal(p.req[0].num, 2);
	assert_int_equal(p.req[0].den, 3);
	assert_int_equal(p.req[1].kind, REQ_OTHER_CHAMBERS);
	assert_int_equal(p.req[1].num, 1);
	assert_int_equal(p.req[1].den, 2);
	assert_int_equal(p.req[2].kind, REQ_MEMBER);
	assert_string_equal(p.req[2].member, "isoc");
	assert_int_equal(p.req[3].kind, REQ_ALL);
	assert_int_equal(p.delay, 7);
	assert_int_equal(parse(&p, "applies tld/??\nrequire state\n", &e), 0);
	assert_int_equal(p.pattern_kind, PAT_TWO);
	assert_int_equal(p.req[0].kind, REQ_STATE);
	assert_int_equal(parse(&p, "applies member/br\nrequire member br\n", &e), 0);
	assert_int_equal(p.pattern_kind, PAT_EXACT);
}

static void test_refusals(void **state)
{
	static const struct {
		const char *text; /* policy content */
		int code;	  /* expected result */
		const char *msg;  /* part of the message */
	} bad[] = {
	    {"", CC_EINVAL, "missing \"applies"},
	    {"# nothing\n\n", CC_EINVAL, "missing \"applies"},
	    {"require all 1/2\n", CC_EINVAL, "missing \"applies"},
	    {"applies tld/*\n", CC_EINVAL, "no requirement"},
	    {"applies tld/*\ndelay 5\n", CC_EINVAL, "no requirement"},
	    {"applies tld/*\napplies tld/*\nrequire all 1/2\n", CC_EINVAL, "given twice"},
	    {"applies tld/*\napplies member/*\nrequire all 1/2\n", CC_EINVAL, "given twice"},
	    {"applies\nrequire all 1/2\n", CC_EINVAL, "line 1"},
	    {"applies tld/* member/*\nrequire all 1/2\n", CC_EINVAL, "line 1"},
	    /* kinds: host records follow their TLDs, and nothing else exists */
	    {"applies host/*\nrequire all 1/2\n", CC_EINVAL, "kind must be"},
	    {"applies host/a.example.\nrequire all 1/2\n", CC_EINVAL, "kind must be"},
	    {"applies poc/*\nrequire all 1/2\n", CC_EINVAL, "kind must be"},
	    {"applies tld\nrequire all 1/2\n", CC_EINVAL, "kind must be"},
	    {"applies *\nrequire all 1/2\n", CC_EINVAL, "kind must be"},
	    {"applies TLD/*\nrequire all 1/2\n", CC_EINVAL, "kind must be"},
	    /* patterns: *, ?? or one valid path, nothing in between */
	    {"applies tld/\nrequire all 1/2\n", CC_EINVAL, "not a pattern"},
	    {"applies tld/c*\nrequire all 1/2\n", CC_EINVAL, "not a pattern"},
	    {"applies tld/?\nrequire all 1/2\n", CC_EINVAL, "not a pattern"},
	    {"applies tld/???\nrequire all 1/2\n", CC_EINVAL, "not a pattern"},
	    {"applies tld/**\nrequire all 1/2\n", CC_EINVAL, "not a pattern"},
	    {"applies tld/CN\nrequire all 1/2\n", CC_EINVAL, "not a pattern"},
	    {"applies tld/-cn\nrequire all 1/2\n", CC_EINVAL, "not a pattern"},
	    {"applies tld/a.b\nrequire all 1/2\n", CC_EINVAL, "not a pattern"},
	    {"applies member/-x\nrequire all 1/2\n", CC_EINVAL, "not a pattern"},
	    {"applies policy/a_b\nrequire all 1/2\n", CC_EINVAL, "not a pattern"},
	    /* requirements */
	    {"applies tld/*\nrequire\n", CC_EINVAL, "line 2: expected"},
	    {"applies tld/*\nrequire nobody\n", CC_EINVAL, "line 2: expected"},
	    {"applies tld/??\nrequire state cn\n", CC_EINVAL, "line 2: expected"},
	    {"applies tld/*\nrequire member\n", CC_EINVAL, "line 2: expected"},
	    {"applies tld/*\nrequire member Cn\n", CC_EINVAL, "line 2: expected"},
	    {"applies tld/*\nrequire member -cn\n", CC_EINVAL, "line 2: expected"},
	    {"applies tld/*\nrequire member cn de\n", CC_EINVAL, "line 2: expected"},
	    {"applies tld/*\nrequire all\n", CC_EINVAL, "line 2: expected"},
	    {"applies tld/*\nrequire all 2/3 x\n", CC_EINVAL, "line 2: expected"},
	    {"applies tld/*\nrequire chamber government\n", CC_EINVAL, "line 2: expected"},
	    {"applies tld/*\nrequire chamber 2/3\n", CC_EINVAL, "line 2: expected"},
	    {"applies tld/*\nrequire chamber parliament 2/3\n", CC_EINVAL,
	     "unknown chamber \"parliament\""},
	    {"applies tld/*\nrequire chamber Government 2/3\n", CC_EINVAL, "unknown chamber"},
	    {"applies tld/*\nrequire all 1/2\nrequire all 1/2\n", CC_EINVAL,
	     "line 3: requirement repeated"},
	    {"applies tld/*\nrequire chamber * 1/2\nrequire chamber * 1/2\n", CC_EINVAL,
	     "repeated"},
	    {"applies tld/??\nrequire state\nrequire state\n", CC_EINVAL, "repeated"},
	    {"applies tld/*\nrequire member cn\nrequire member cn\n", CC_EINVAL, "repeated"},
	    /* "require state" names the state by the last label: two letters only */
	    {"applies tld/*\nrequire state\n", CC_EINVAL, "needs a \"<kind>/??\" pattern"},
	    {"applies tld/cn\nrequire state\n", CC_EINVAL, "needs a \"<kind>/??\" pattern"},
	    /* delay */
	    {"applies tld/*\nrequire all 1/2\ndelay\n", CC_EINVAL, "line 3: unknown or repeated"},
	    {"applies tld/*\nrequire all 1/2\ndelay 1 2\n", CC_EINVAL, "unknown or repeated"},
	    {"applies tld/*\nrequire all 1/2\ndelay 5\ndelay 5\n", CC_EINVAL,
	     "line 4: unknown or repeated"},
	    {"applies tld/*\nrequire all 1/2\ndelay -1\n", CC_EINVAL, "delay must be"},
	    {"applies tld/*\nrequire all 1/2\ndelay 31622401\n", CC_EINVAL, "delay must be"},
	    {"applies tld/*\nrequire all 1/2\ndelay 99999999999999999999\n", CC_EINVAL,
	     "delay must be"},
	    {"applies tld/*\nrequire all 1/2\ndelay 060\n", CC_EINVAL, "delay must be"},
	    {"applies tld/*\nrequire all 1/2\ndelay +60\n", CC_EINVAL, "delay must be"},
	    {"applies tld/*\nrequire all 1/2\ndelay -0\n", CC_EINVAL, "delay must be"},
	    {"applies tld/*\nrequire all 1/2\ndelay 1h\n", CC_EINVAL, "delay must be"},
	    {"applies tld/*\nrequire all 1/2\ndelay 0x10\n", CC_EINVAL, "delay must be"},
	    {"applies tld/*\nrequire all 1/2\ndelay \t5\n", CC_EINVAL, "delay must be"},
	    /* unknown directives and shapes */
	    {"applies tld/*\nrequire all 1/2\nexpires 5\n", CC_EINVAL, "unknown or repeated"},
	    {"applies tld/*\nrequire all 1/2\nApplies tld/*\n", CC_EINVAL, "unknown"},
	    {"applies tld/*\nrequire all 1/2\n\trequire all 1/3\n", CC_EINVAL, "unknown"},
	    {"applies tld/*\nrequire chamber government 1/2 a b\n", CC_EINVAL,
	     "line 2: too many fields"},
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct policy p;
		struct cc_err e = {0};
		int r = parse(&p, bad[i].text, &e);

		if (r != bad[i].code)
			fail_msg("\"%s\": expected %d, got %d (%s)", bad[i].text, bad[i].code, r,
				 e.msg);
		if (strstr(e.msg, bad[i].msg) == NULL)
			fail_msg("\"%s\": message \"%s\" lacks \"%s\"", bad[i].text, e.msg,
				 bad[i].msg);
		assert_null(strchr(e.msg, '\n'));
	}
}

/* n/d is one spelling: positive, n <= d <= 100, digits only, no leading zeros, no sign. */
static void test_fractions(void **state)
{
	static const char *const good[] = {"1/1",     "1/2",   "2/3", "99/100",
					   "100/100", "1/100", "7/9"};
	static const char *const bad[] = {"0/3",   "4/3",	"1/0",	"1/101", "101/101", "01/3",
					  "1/03",  "2/3x",	"2",	"/3",	 "2/",	    "a/b",
					  "2//3",  "2/3/4",	"+2/3", "2/+3",	 "-1/3",    "2/-3",
					  "1.5/3", "1000/1000", "2 /3", "0x1/2"};

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		char text[128], want[128];

		snprintf(text, sizeof(text), "applies tld/*\nrequire all %s\n", good[i]);
		snprintf(want, sizeof(want), "%s", text);
		assert_canonical(text, want);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char text[128];
		struct policy p;
		struct cc_err e = {0};

		snprintf(text, sizeof(text), "applies tld/*\nrequire chamber government %s\n",
			 bad[i]);
		if (parse(&p, text, &e) != CC_EINVAL)
			fail_msg("fraction \"%s\" accepted", bad[i]);
		snprintf(text, sizeof(text), "applies tld/*\nrequire all %s\n", bad[i]);
		if (parse(&p, text, &e) != CC_EINVAL)
			fail_msg("fraction \"%s\" accepted", bad[i]);
	}
}

static void test_limits(void **state)
{
	struct cbuf t = CBUF_INIT;
	struct policy p;
	struct cc_err e = {0};
	char id[64];

	/* 16 requirements, then 17 */
	cbuf_puts(&t, "applies tld/*\n");
	for (int i = 0; i < POLICY_MAX_REQS; i++) {
		snprintf(id, sizeof(id), "m%d", i);
		cbuf_printf(&t, "require member %s\n", id);
	}
	assert_int_equal(policy_parse(&p, t.p, t.len, &e), 0);
	assert_int_equal(p.nreq, POLICY_MAX_REQS);
	cbuf_puts(&t, "require all 1/2\n");
	assert_int_equal(policy_parse(&p, t.p, t.len, &e), CC_ETOOBIG);
	/* A line longer than any valid one */
	cbuf_reset(&t);
	cbuf_puts(&t, "applies tld/*\nrequire all 1/2\n# ");
	for (int i = 0; i < 400; i++)
		cbuf_putc(&t, 'x');
	cbuf_putc(&t, '\n');
	assert_int_equal(policy_parse(&p, t.p, t.len, &e), CC_EINVAL);
	assert_non_null(strstr(e.msg, "line 3 too long"));
	/* The longest exact path fits. */
	cbuf_reset(&t);
	cbuf_puts(&t, "applies tld/");
	for (int i = 0; i < 63; i++)
		cbuf_putc(&t, 'a');
	cbuf_puts(&t, "\nrequire all 1/2\n");
	assert_int_equal(policy_parse(&p, t.p, t.len, &e), 0);
	/* A NUL byte would hide the rest of its line from a parser working on C strings. */
	{
		static const char nul[] = "applies tld/*\0 member/*\nrequire all 1/2\n";

		assert_int_equal(policy_parse(&p, nul, sizeof(nul) - 1, &e), CC_EINVAL);
	}
	/* The length bounds the parse: bytes after it are not read. */
	assert_int_equal(policy_parse(&p, "applies tld/*\nrequire all 1/2\ngarbage", 30, &e), 0);
	cbuf_free(&t);
}

static void test_chambers(void **state)
{
	static const char *const names[] = {"government", "private-sector", "civil-society",
					    "technical", "academic"};

	for (int i = 0; i < CHAMBER_COUNT; i++) {
		assert_string_equal(chamber_name(i), names[i]);
		assert_int_equal(chamber_parse(names[i]), i);
	}
	assert_string_equal(chamber_name(-1), "?");
	assert_string_equal(chamber_name(CHAMBER_COUNT), "?");
	assert_int_equal(chamber_parse(""), -1);
	assert_int_equal(chamber_parse("*"), -1);
	assert_int_equal(chamber_parse("governments"), -1);
	assert_int_equal(chamber_parse("GOVERNMENT"), -1);
}

static void test_matches(void **state)
{
	static const struct {
		const char *pattern; /* after "applies" */
		const char *path;    /* candidate */
		int match;	     /* expected */
	} cases[] = {
	    {"tld/*", "tld/com", 1},
	    {"tld/*", "tld/cn", 1},
	    {"tld/*", "tld/x", 1},
	    {"tld/*", "tld/", 0},
	    {"tld/*", "member/cn", 0},
	    {"tld/*", "tldx/com", 0},
	    {"tld/*", "host/a.tld.", 0},
	    {"member/*", "member/isoc", 1},
	    {"member/*", "policy/isoc", 0},
	    {"tld/??", "tld/cn", 1},
	    {"tld/??", "tld/zz", 1},
	    {"tld/??", "tld/com", 0},
	    {"tld/??", "tld/c", 0},
	    {"tld/??", "tld/c1", 0},
	    {"tld/??", "tld/1c", 0},
	    {"tld/??", "tld/", 0},
	    {"tld/??", "member/cn", 0},
	    {"member/??", "member/br", 1},
	    {"member/??", "member/isoc", 0},
	    {"tld/cn", "tld/cn", 1},
	    {"tld/cn", "tld/cnn", 0},
	    {"tld/cn", "tld/c", 0},
	    {"tld/cn", "tld/de", 0},
	    {"policy/tld", "policy/tld", 1},
	    {"policy/tld", "policy/tlds", 0},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text[128];
		struct policy p;
		struct cc_err e = {0};

		snprintf(text, sizeof(text), "applies %s\nrequire all 1/2\n", cases[i].pattern);
		assert_int_equal(parse(&p, text, &e), 0);
		if (policy_matches(&p, cases[i].path) != cases[i].match)
			fail_msg("%s vs %s: expected %d", cases[i].pattern, cases[i].path,
				 cases[i].match);
	}
}

/* policy_resolve over a hand-made set: exact beats ?? beats *, and a "require state" policy
 * whose state is not a government member steps aside for the next one. */
static void test_resolve(void **state)
{
	static const struct {
		const char *path;
		const char *text;
	} set[] = {
	    {"policy/cctld", "applies tld/??\nrequire state\n"},
	    {"policy/cn-extra", "applies tld/cn\nrequire member isoc\n"},
	    {"policy/members", "applies member/??\nrequire state\n"},
	    {"policy/member", "applies member/*\nrequire all 2/3\n"},
	    {"policy/tld", "applies tld/*\nrequire all 1/2\n"},
	    {"policy/two-letters", "applies tld/??\nrequire all 1/1\n"},
	};
	static const struct {
		const char *path;   /* asked */
		const char *policy; /* governing, or NULL */
		const char *state;  /* the state it names, or NULL */
	} want[] = {
	    {"tld/cn", "policy/cn-extra", NULL},    /* exact first */
	    {"tld/br", "policy/cctld", "br"},	    /* ?? with a government */
	    {"tld/eu", "policy/two-letters", NULL}, /* eu is civil society: next ?? */
	    {"tld/fr", "policy/two-letters", NULL}, /* fr is no member */
	    {"tld/com", "policy/tld", NULL},	    /* not two letters */
	    {"member/br", "policy/members", "br"},  /* "require state" over members */
	    {"member/eu", "policy/member", NULL},   /* not a government */
	    {"member/isoc", "policy/member", NULL},
	    {"policy/tld", NULL, NULL}, /* nothing governs policies in this set */
	};
	struct policy_rec recs[sizeof(set) / sizeof(set[0])];
	struct ledger_member m[3];
	struct cc_err e = {0};

	memset(m, 0, sizeof(m));
	snprintf(m[0].id, sizeof(m[0].id), "br");
	m[0].chamber = CHAMBER_GOVERNMENT;
	snprintf(m[1].id, sizeof(m[1].id), "eu");
	m[1].chamber = CHAMBER_CIVIL;
	snprintf(m[2].id, sizeof(m[2].id), "isoc");
	m[2].chamber = CHAMBER_TECHNICAL;
	memset(recs, 0, sizeof(recs));
	for (size_t i = 0; i < sizeof(set) / sizeof(set[0]); i++) {
		snprintf(recs[i].path, sizeof(recs[i].path), "%s", set[i].path);
		assert_int_equal(parse(&recs[i].pol, set[i].text, &e), 0);
	}
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		const struct ledger_member *st = (void *)1;
		const struct policy_rec *r =
		    policy_resolve(recs, sizeof(recs) / sizeof(recs[0]), m, 3, want[i].path, &st);

		if (want[i].policy == NULL) {
			assert_null(r);
			continue;
		}
		assert_non_null(r);
		if (strcmp(r->path, want[i].policy) != 0)
			fail_msg("%s: governed by %s, expected %s", want[i].path, r->path,
				 want[i].policy);
		if (want[i].state)
			assert_string_equal(st->id, want[i].state);
		else
			assert_null(st);
	}
}

/* The same precedence on a real ledger, through ledger_policy_for. */
static void test_policy_for(void **state)
{
	static const char *const ids[] = {"br", "eu", "isoc"};
	static const int ch[] = {CHAMBER_GOVERNMENT, CHAMBER_CIVIL, CHAMBER_TECHNICAL};
	static const char zone[] = "br. NS a.dns.br.\na.dns.br. A 192.0.2.1\n"
				   "eu. NS x.dns.eu.\nx.dns.eu. A 192.0.2.2\n"
				   "fr. NS d.nic.fr.\nd.nic.fr. A 192.0.2.3\n"
				   "com. NS a.gtld-servers.net.\na.gtld-servers.net. A 192.0.2.4\n";
	struct key_pair k[3];
	struct genesis_member gm[3];
	struct genesis_params gp = {0};
	struct rr_set root = {0};
	struct cbuf b = CBUF_INIT, body = CBUF_INIT, entry = CBUF_INIT;
	struct cc_err e = {0};
	struct ledger *l = ledger_new();
	const unsigned char *en;
	size_t elen, off = 0;
	char pol[PATH_MAX_LEN + 1];

	for (int i = 0; i < 3; i++) {
		unsigned char seed[32];

		memset(seed, 0x40 + i, sizeof(seed));
		assert_int_equal(note_signer_from_seed(&k[i].sign, ids[i], seed), 0);
		crypto_box_seed_keypair(k[i].box_pk, k[i].box_sk, seed);
		memset(&gm[i], 0, sizeof(gm[i]));
		snprintf(gm[i].id, sizeof(gm[i].id), "%s", ids[i]);
		gm[i].chamber = ch[i];
		key_public(&k[i], &gm[i].pub);
	}
	assert_int_equal(rr_parse(&root, zone, strlen(zone), &e), 0);
	gp.origin = "policy.test/root";
	gp.time = 1767225600;
	gp.members = gm;
	gp.nmembers = 3;
	gp.root = &root;
	assert_int_equal(genesis_build(&gp, &b, &e), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(genesis_sign(&b, &k[i], &e), 0);
	while (tlog_bundle_next((unsigned char *)b.p, b.len, &off, &en, &elen) == 1)
		assert_int_equal(ledger_apply_entry(l, en, elen, 1, &e), 0);

	assert_int_equal(ledger_policy_for(l, "tld/br", pol), 0);
	assert_string_equal(pol, "policy/cctld");
	assert_int_equal(ledger_policy_for(l, "tld/eu", pol), 0); /* eu is no government */
	assert_string_equal(pol, "policy/tld");
	assert_int_equal(ledger_policy_for(l, "tld/fr", pol), 0); /* fr is no member */
	assert_string_equal(pol, "policy/tld");
	assert_int_equal(ledger_policy_for(l, "tld/com", pol), 0);
	assert_string_equal(pol, "policy/tld");
	assert_int_equal(ledger_policy_for(l, "member/br", pol), 0);
	assert_string_equal(pol, "policy/member");
	assert_int_equal(ledger_policy_for(l, "policy/anything", pol), 0);
	assert_string_equal(pol, "policy/policy");
	assert_int_equal(ledger_policy_for(l, "host/a.dns.br.", pol), 0);
	assert_string_equal(pol, "every TLD using it");
	assert_int_equal(ledger_policy_for(l, "host/nowhere.example.", pol), CC_ENOENT);

	/* An exact policy for tld/br takes over from "require state". */
	{
		struct proposal_op op = {0};
		struct note_sig sigs[3];
		struct proposal p;
		const char *content = "applies tld/br\nrequire member isoc\n";

		op.kind = OP_PUT;
		snprintf(op.path, sizeof(op.path), "policy/br-tech");
		op.version = PROPOSAL_VERSION_NEW;
		op.content = content;
		op.content_len = strlen(content);
		assert_int_equal(proposal_format(&body, ledger_origin(l), "br", gp.time + 10,
						 gp.time + 3600, &op, 1),
				 0);
		assert_int_equal(proposal_parse(&p, body.p, body.len, &e), 0);
		for (int i = 0; i < 3; i++)
			assert_int_equal(note_sign(&k[i].sign, body.p, body.len, &sigs[i]), 0);
		if (ledger_entry_build(l, &p, sigs, 3, gp.time + 20, &entry, &e) != 0)
			fail_msg("%s", e.msg);
		assert_int_equal(ledger_apply_entry(l, (unsigned char *)entry.p, entry.len, 1, &e),
				 0);
		proposal_free(&p);
	}
	assert_int_equal(ledger_policy_for(l, "tld/br", pol), 0);
	assert_string_equal(pol, "policy/br-tech");
	assert_int_equal(ledger_policy_for(l, "tld/bq", pol), 0);
	assert_string_equal(pol, "policy/tld");
	ledger_free(l);
	rr_set_free(&root);
	cbuf_free(&b);
	cbuf_free(&body);
	cbuf_free(&entry);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip), cmocka_unit_test(test_canonical_form),
	    cmocka_unit_test(test_fields),     cmocka_unit_test(test_refusals),
	    cmocka_unit_test(test_fractions),  cmocka_unit_test(test_limits),
	    cmocka_unit_test(test_chambers),   cmocka_unit_test(test_matches),
	    cmocka_unit_test(test_resolve),    cmocka_unit_test(test_policy_for),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
