#include "core/err.h"

#include <stdarg.h>
#include <stdio.h>

int cc_fail(struct cc_err *e, int code, const char *fmt, ...)
{
	va_list ap;

	if (e == NULL)
		return code;
	e->code = code;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return code;
}

const char *cc_strerror(int code)
{
	switch (code) {
	case CC_OK:
		return "ok";
	case CC_EINVAL:
		return "invalid";
	case CC_ENOMEM:
		return "out of memory";
	case CC_ESIG:
		return "bad signature";
	case CC_EPERM:
		return "forbidden";
	case CC_ESTALE:
		return "stale version";
	case CC_EEXPIRED:
		return "expired";
	case CC_ENOENT:
		return "not found";
	case CC_EEXIST:
		return "already exists";
	case CC_ETOOBIG:
		return "too large";
	case CC_EIO:
		return "i/o error";
	case CC_ETIME:
		return "bad time";
	case CC_ECONFLICT:
		return "conflict";
	case CC_EQUOTA:
		return "quota full";
	case CC_EAGAIN:
		return "try again";
	}
	return "unknown error";
}
