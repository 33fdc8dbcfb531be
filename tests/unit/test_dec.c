/* dec_parse: the one reader of decimal numbers in Concord's formats. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "core/dec.h"

static int dec(const char *s, uint64_t max, uint64_t *v)
{
	return dec_parse(s, strlen(s), max, v);
}

static void test_dec(void **state)
{
	uint64_t v = 7;

	(void)state;
	assert_int_equal(dec("0", 10, &v), 1);
	assert_true(v == 0);
	assert_int_equal(dec("1234", UINT64_MAX, &v), 4);
	assert_true(v == 1234);
	assert_int_equal(dec("42.7", UINT64_MAX, &v), 2); /* stops at the first non-digit */
	assert_true(v == 42);
	assert_int_equal(dec("0\n", 5, &v), 1);
	assert_int_equal(dec("18446744073709551615", UINT64_MAX, &v), 20);
	assert_true(v == UINT64_MAX);
	assert_int_equal(dec("1000", 1000, &v), 4);
	/* refused, and v left alone */
	v = 7;
	assert_int_equal(dec("", 10, &v), -1);
	assert_int_equal(dec("x1", 10, &v), -1);
	assert_int_equal(dec("-1", 10, &v), -1);
	assert_int_equal(dec("+1", 10, &v), -1);
	assert_int_equal(dec(" 1", 10, &v), -1);
	assert_int_equal(dec("01", 10, &v), -1);
	assert_int_equal(dec("00", 10, &v), -1);
	assert_int_equal(dec("11", 10, &v), -1);
	assert_int_equal(dec("1001", 1000, &v), -1);
	assert_int_equal(dec("18446744073709551616", UINT64_MAX, &v), -1);
	assert_int_equal(dec("99999999999999999999999", UINT64_MAX, &v), -1);
	assert_true(v == 7);
	/* the length bounds it, not a NUL */
	assert_int_equal(dec_parse("123", 2, 1000, &v), 2);
	assert_true(v == 12);
	assert_int_equal(dec_parse("012", 1, 1000, &v), 1);
	assert_true(v == 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_dec)};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
