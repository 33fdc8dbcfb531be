/* A growable byte buffer. The owner frees it with cbuf_free; data is always NUL-terminated
 * (not counted in len) so text can be used as a C string. */
#ifndef CONCORD_BUF_H
#define CONCORD_BUF_H

#include <stddef.h>

struct cbuf {
	char *p;    /* data, NUL-terminated when non-NULL */
	size_t len; /* bytes used, excluding the terminator */
	size_t cap; /* bytes allocated */
};

#define CBUF_INIT                                                                                  \
	{                                                                                          \
		NULL, 0, 0                                                                         \
	}

int cbuf_reserve(struct cbuf *b, size_t extra);
int cbuf_put(struct cbuf *b, const void *data, size_t n);
int cbuf_puts(struct cbuf *b, const char *s);
int cbuf_putc(struct cbuf *b, char c);
int cbuf_printf(struct cbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cbuf_reset(struct cbuf *b);
void cbuf_free(struct cbuf *b);
/* Hands the data to the caller (free() it) and leaves b empty. */
char *cbuf_take(struct cbuf *b);

/* Copies the string src into dst of cap > 0 bytes, cut to fit, always NUL-terminated: what
 * snprintf(dst, cap, "%s", src) does, without formatting, for the hot paths. */
void str_copy(char *dst, size_t cap, const char *src);

#endif
