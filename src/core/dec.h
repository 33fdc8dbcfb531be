/* Decimal numbers as every Concord format writes them: digits only, no sign, no leading zero
 * ("0" itself aside). One reader, so that no two formats disagree about what a number is. */
#ifndef CONCORD_DEC_H
#define CONCORD_DEC_H

#include <stddef.h>
#include <stdint.h>

/* Reads the number at s[0..len), stopping at the first byte that is not a digit. Returns the
 * digits read, or -1 when there are none, a leading zero, or a value above max. */
int dec_parse(const char *s, size_t len, uint64_t max, uint64_t *v);

#endif
