#include "core/buf.h"
#include "core/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cbuf_reserve(struct cbuf *b, size_t extra)
{
	size_t need, cap;
	char *p;

	if (extra > ((size_t)-1) / 2 - b->len)
		return CC_ENOMEM;
	need = b->len + extra + 1;
	if (need <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap *= 2;
	p = realloc(b->p, cap);
	if (p == NULL)
		return CC_ENOMEM;
	b->p = p;
	b->cap = cap;
	return 0;
}

int cbuf_put(struct cbuf *b, const void *data, size_t n)
{
	if (cbuf_reserve(b, n) < 0)
		return CC_ENOMEM;
	if (n)
		memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

int cbuf_puts(struct cbuf *b, const char *s)
{
	return cbuf_put(b, s, strlen(s));
}

int cbuf_putc(struct cbuf *b, char c)
{
	return cbuf_put(b, &c, 1);
}

int cbuf_printf(struct cbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || cbuf_reserve(b, (size_t)n) < 0)
		return CC_ENOMEM;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

void cbuf_reset(struct cbuf *b)
{
	b->len = 0;
	if (b->p)
		b->p[0] = '\0';
}

void cbuf_free(struct cbuf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

char *cbuf_take(struct cbuf *b)
{
	char *p = b->p;

	if (p == NULL)
		p = calloc(1, 1);
	b->p = NULL;
	b->len = b->cap = 0;
	return p;
}

void str_copy(char *dst, size_t cap, const char *src)
{
	size_t n = strnlen(src, cap - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
}
