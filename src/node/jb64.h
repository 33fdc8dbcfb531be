/* Binary values in the JSON that nodes serve and read (keys, hashes, proofs): standard
 * base64 strings, padded. */
#ifndef CONCORD_NODE_JB64_H
#define CONCORD_NODE_JB64_H

#include <jansson.h>
#include <stddef.h>

/* A JSON string holding bin's base64 (JSON null past 189 bytes, which no caller has). */
json_t *jb64_new(const unsigned char *bin, size_t len);

/* Decodes j, a string that must be the base64 of exactly len bytes, into out: 0, or -1. */
int jb64_get(const json_t *j, unsigned char *out, size_t len);

#endif
