/* Times (docs/format.md: RFC 3339 UTC, whole seconds, 'Z'): one spelling per second from
 * 1970 to 9999, checked against the C library's gmtime_r, and every other spelling refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/err.h"
#include "core/tfmt.h"

#define MAX_T 253402300799LL /* 9999-12-31T23:59:59Z */

static void check(int64_t t, const char *s)
{
	char out[TFMT_LEN + 1];
	int64_t back = -1;

	tfmt_format(t, out);
	assert_string_equal(out, s);
	assert_int_equal(tfmt_parse(s, &back), 0);
	assert_int_equal(back, t);
}

static void test_known(void **state)
{
	check(0, "1970-01-01T00:00:00Z");
	check(59, "1970-01-01T00:00:59Z");
	check(86399, "1970-01-01T23:59:59Z");
	check(68169600, "1972-02-29T00:00:00Z");  /* first leap day after the epoch */
	check(951782400, "2000-02-29T00:00:00Z"); /* divisible by 400: leap */
	check(951868800, "2000-03-01T00:00:00Z");
	check(1767225600, "2026-01-01T00:00:00Z");
	check(1795000000, "2026-11-18T11:06:40Z");
	check(4107542399LL, "2100-02-28T23:59:59Z"); /* divisible by 100: not leap */
	check(4107542400LL, "2100-03-01T00:00:00Z");
	check(2147483647LL, "2038-01-19T03:14:07Z"); /* past 32-bit time */
	check(2147483648LL, "2038-01-19T03:14:08Z");
	check(4102444800LL, "2100-01-01T00:00:00Z");
	check(32503680000LL, "3000-01-01T00:00:00Z");
	check(MAX_T, "9999-12-31T23:59:59Z");
}

/* Every third day from 1970 to 9999 at a second that moves through the day, and every second of a
 * few days, against gmtime_r. */
static void test_against_libc(void **state)
{
	for (int64_t t = 0; t <= MAX_T; t += 3 * 86400 + 7) {
		time_t tt = (time_t)t;
		struct tm tm;
		char want[64], out[TFMT_LEN + 1];
		int64_t back;

		assert_non_null(gmtime_r(&tt, &tm));
		snprintf(want, sizeof(want), "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900,
			 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
		tfmt_format(t, out);
		if (strcmp(out, want) != 0)
			fail_msg("%lld: %s, libc says %s", (long long)t, out, want);
		assert_int_equal(tfmt_parse(out, &back), 0);
		assert_int_equal(back, t);
	}
	for (int64_t t = 951696000 - 3; t < 951868800 + 3; t++) { /* 2000-02-28 .. 03-01 */
		char out[TFMT_LEN + 1];
		int64_t back;

		tfmt_format(t, out);
		assert_int_equal(tfmt_parse(out, &back), 0);
		assert_int_equal(back, t);
	}
}

/* Leap years by the Gregorian rule: Feb 29 exists exactly in them. */
static void test_leap_years(void **state)
{
	for (int y = 1970; y <= 9999; y++) {
		int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
		char s[TFMT_LEN + 1];
		int64_t t28, t29, t31;

		snprintf(s, sizeof(s), "%04d-02-28T12:00:00Z", y);
		assert_int_equal(tfmt_parse(s, &t28), 0);
		snprintf(s, sizeof(s), "%04d-02-29T12:00:00Z", y);
		assert_int_equal(tfmt_parse(s, &t29), leap ? 0 : CC_EINVAL);
		if (leap)
			assert_int_equal(t29, t28 + 86400);
		snprintf(s, sizeof(s), "%04d-03-01T12:00:00Z", y);
		assert_int_equal(tfmt_parse(s, &t31), 0);
		assert_int_equal(t31, t28 + (leap ? 2 : 1) * 86400);
		snprintf(s, sizeof(s), "%04d-02-30T12:00:00Z", y);
		assert_int_equal(tfmt_parse(s, &t31), CC_EINVAL);
	}
}

static void test_month_lengths(void **state)
{
	static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	for (int m = 1; m <= 12; m++) {
		char s[TFMT_LEN + 1];
		int64_t t;

		snprintf(s, sizeof(s), "2025-%02d-%02dT00:00:00Z", m, days[m - 1]);
		assert_int_equal(tfmt_parse(s, &t), 0);
		snprintf(s, sizeof(s), "2025-%02d-%02dT00:00:00Z", m, days[m - 1] + 1);
		assert_int_equal(tfmt_parse(s, &t), CC_EINVAL);
		snprintf(s, sizeof(s), "2025-%02d-00T00:00:00Z", m);
		assert_int_equal(tfmt_parse(s, &t), CC_EINVAL);
	}
}

static void test_refusals(void **state)
{
	static const char *const bad[] = {
	    "",
	    "2026-01-01T00:00:00",	 /* no Z */
	    "2026-01-01T00:00:00z",	 /* lower-case z */
	    "2026-01-01t00:00:00Z",	 /* lower-case t */
	    "2026-01-01 00:00:00Z",	 /* space for T */
	    "2026-01-01T00:00:00+00:00", /* offset */
	    "2026-01-01T00:00:00.0Z",	 /* fraction */
	    "2026-01-01T00:00:00ZZ",
	    " 2026-01-01T00:00:00Z",
	    "2026-01-01T00:00:00Z ",
	    "2026-01-01T00:00:00Z\n",
	    "2026-01-01T00:00:60Z", /* no leap seconds */
	    "2026-01-01T00:00:99Z",
	    "2026-01-01T00:60:00Z",
	    "2026-01-01T24:00:00Z",
	    "2026-02-30T00:00:00Z",
	    "2026-02-29T00:00:00Z",
	    "2100-02-29T00:00:00Z",
	    "2026-04-31T00:00:00Z",
	    "2026-00-01T00:00:00Z",
	    "2026-13-01T00:00:00Z",
	    "2026-01-00T00:00:00Z",
	    "2026-01-32T00:00:00Z",
	    "1969-12-31T23:59:59Z", /* before the epoch */
	    "0000-01-01T00:00:00Z",
	    "20261-01-01T00:00:0Z",
	    "2026-1-01T00:00:00Z",
	    "2026/01/01T00:00:00Z",
	    "2026-01-01T00-00-00Z",
	    "+026-01-01T00:00:00Z",
	    "-026-01-01T00:00:00Z",
	    "2026-+1-01T00:00:00Z",
	    "2026-01-01T0 :00:00Z",
	    "2026-01-01T00:00: 0Z",
	    "2026-0a-01T00:00:00Z",
	    "２026-01-01T00:00:00Z", /* full-width digit */
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int64_t t = 12345;

		if (tfmt_parse(bad[i], &t) != CC_EINVAL)
			fail_msg("\"%s\" accepted", bad[i]);
		assert_int_equal(t, 12345); /* untouched */
	}
}

static void test_durations(void **state)
{
	static const struct {
		const char *s;
		int64_t secs;
	} good[] = {
	    {"0", 0},	    {"90", 90},		{"90s", 90},	      {"30m", 1800},
	    {"24h", 86400}, {"7d", 604800},	{"3660d", 316224000}, {"316224000", 316224000},
	    {"0d", 0},	    {"000000000001", 1}};
	static const char *const bad[] = {
	    "",	    "d",     "s",	  "-1",		  "+1",
	    "1.5h", "1w",    "1y",	  "1dd",	  "d1",
	    "1 d",  "3661d", "316224001", "99999999999d", "1234567890123",
	    "1D",   "1h30m", "0x10"};

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		int64_t v = -1;

		if (tfmt_duration(good[i].s, &v) != 0)
			fail_msg("\"%s\" refused", good[i].s);
		assert_int_equal(v, good[i].secs);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int64_t v = -1;

		if (tfmt_duration(bad[i], &v) != CC_EINVAL)
			fail_msg("\"%s\" accepted", bad[i]);
		assert_int_equal(v, -1);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_known),      cmocka_unit_test(test_against_libc),
	    cmocka_unit_test(test_leap_years), cmocka_unit_test(test_month_lengths),
	    cmocka_unit_test(test_refusals),   cmocka_unit_test(test_durations),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
