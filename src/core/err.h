/* Error codes and messages shared by every module.
 * Functions return 0 or a negative CC_E* code; when given a struct cc_err they also
 * say, in one line a user can act on, what was wrong. */
#ifndef CONCORD_ERR_H
#define CONCORD_ERR_H

enum cc_code {
	CC_OK = 0,
	CC_EINVAL = -1,	    /* malformed input */
	CC_ENOMEM = -2,	    /* allocation failed */
	CC_ESIG = -3,	    /* a signature does not verify */
	CC_EPERM = -4,	    /* a signer may not do this (not a member, not entitled) */
	CC_ESTALE = -5,	    /* a proposal names a version that is no longer current */
	CC_EEXPIRED = -6,   /* a proposal's validity window has passed */
	CC_ENOENT = -7,	    /* no such record, proposal, tile */
	CC_EEXIST = -8,	    /* already there (applied proposal, duplicate signature) */
	CC_ETOOBIG = -9,    /* over a size limit */
	CC_EIO = -10,	    /* storage or network failure */
	CC_ETIME = -11,	    /* a time outside what the rules allow (not yet valid, backwards) */
	CC_ECONFLICT = -12, /* inconsistent with the log (different root, wrong index) */
	CC_EQUOTA = -13,    /* a share is used up (proposals one member may keep pending) */
	CC_EAGAIN = -14	    /* not now: the node's role is changing (ask again) */
};

#define CC_ERR_MSG 512

struct cc_err {
	int code;	      /* last CC_E* code, 0 when none */
	char msg[CC_ERR_MSG]; /* human-readable reason, one line */
};

/* Records code and a printf-style reason in e (when non-NULL); returns code. */
int cc_fail(struct cc_err *e, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* A short, stable name for a code ("invalid", "forbidden", ...). */
const char *cc_strerror(int code);

#endif
