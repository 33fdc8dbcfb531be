/* Times in notes and entries: RFC 3339 UTC, whole seconds, 'Z' ("2026-11-22T00:58:00Z").
 * One strict form so that every node writes and reads the same bytes. */
#ifndef CONCORD_TFMT_H
#define CONCORD_TFMT_H

#include <stdint.h>

#define TFMT_LEN 20 /* characters, without the NUL */

int tfmt_parse(const char *s, int64_t *t); /* exactly TFMT_LEN characters; years 1970-9999 */
void tfmt_format(int64_t t, char out[TFMT_LEN + 1]);
/* "7d", "24h", "30m", "90s" or plain seconds; at most 10 years. */
int tfmt_duration(const char *s, int64_t *secs);

#endif
