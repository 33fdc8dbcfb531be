/* Policies: who must sign a change to a path. A policy record's content:
 *
 *   applies <pattern>                pattern: "<kind>/" then "*" (any), "??" (two letters), or a
 * path require state                    the government member whose id is the path's last label
 *   require member <id>
 *   require all <n>/<d>              of all members
 *   require chamber <chamber> <n>/<d>    of that chamber, when it is not empty
 *   require chamber * <n>/<d>        of every other non-empty chamber
 *   delay <seconds>                  consultation period after the proposal's creation
 *
 * n/d of c members means at least ceil(n*c/d) signatures. The most specific pattern wins
 * (exact, then "??", then any); a policy whose "require state" names no member does not
 * apply and the next one does. */
#ifndef CONCORD_POLICY_H
#define CONCORD_POLICY_H

#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/proposal.h"

#define POLICY_MAX_REQS 16

enum chamber {
	CHAMBER_GOVERNMENT,
	CHAMBER_PRIVATE,
	CHAMBER_CIVIL,
	CHAMBER_TECHNICAL,
	CHAMBER_ACADEMIC,
	CHAMBER_COUNT
};

enum policy_req_kind { REQ_STATE, REQ_MEMBER, REQ_ALL, REQ_CHAMBER, REQ_OTHER_CHAMBERS };
enum policy_pattern_kind { PAT_EXACT = 3, PAT_TWO = 2, PAT_ANY = 1 };

struct policy_req {
	int kind;			/* enum policy_req_kind */
	int chamber;			/* REQ_CHAMBER: enum chamber */
	char member[MEMBER_ID_MAX + 1]; /* REQ_MEMBER */
	unsigned num, den;		/* fraction for ALL / CHAMBER / OTHER_CHAMBERS */
};

struct policy {
	char pattern[PATH_MAX_LEN + 1];		/* as written after "applies" */
	int pattern_kind;			/* enum policy_pattern_kind */
	struct policy_req req[POLICY_MAX_REQS]; /* all must hold */
	unsigned nreq;				/* requirements */
	int64_t delay;				/* seconds */
};

int policy_parse(struct policy *p, const char *content, size_t len, struct cc_err *e);
int policy_format(const struct policy *p, struct cbuf *out); /* canonical content */
/* 1 when pattern matches path. */
int policy_matches(const struct policy *p, const char *path);

/* "n/d" with 1 <= n <= d <= 100, decimal digits without leading zeros (one spelling). */
int policy_fraction_parse(const char *s, unsigned *num, unsigned *den);

const char *chamber_name(int chamber);
int chamber_parse(const char *s); /* enum chamber, or -1 */

#endif
