#include "node/jb64.h"

#include <sodium.h>
#include <string.h>

json_t *jb64_new(const unsigned char *bin, size_t len)
{
	char s[256];

	if (sodium_base64_encoded_len(len, sodium_base64_VARIANT_ORIGINAL) > sizeof(s))
		return json_null();
	sodium_bin2base64(s, sizeof(s), bin, len, sodium_base64_VARIANT_ORIGINAL);
	return json_string(s);
}

int jb64_get(const json_t *j, unsigned char *out, size_t len)
{
	const char *s = json_string_value(j);
	size_t bin;

	/* the whole string, padded, and nothing but len bytes */
	return s != NULL &&
		       strlen(s) + 1 ==
			   sodium_base64_encoded_len(len, sodium_base64_VARIANT_ORIGINAL) &&
		       sodium_base642bin(out, len, s, strlen(s), NULL, &bin, NULL,
					 sodium_base64_VARIANT_ORIGINAL) == 0 &&
		       bin == len
		   ? 0
		   : -1;
}
