#include "core/dec.h"

int dec_parse(const char *s, size_t len, uint64_t max, uint64_t *v)
{
	uint64_t x = 0;
	size_t i = 0;
	int ret = -1;

	if (len == 0 || s[0] < '0' || s[0] > '9')
		goto out;
	if (s[0] == '0' && len > 1 && s[1] >= '0' && s[1] <= '9')
		goto out;
	for (; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
		if ((uint64_t)(s[i] - '0') > max || x > (max - (uint64_t)(s[i] - '0')) / 10)
			goto out;
		x = x * 10 + (uint64_t)(s[i] - '0');
	}
	*v = x;
	ret = (int)i;
out:
	return ret;
}
