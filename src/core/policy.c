#include "core/policy.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const chambers[CHAMBER_COUNT] = {"government", "private-sector", "civil-society",
						    "technical", "academic"};

const char *chamber_name(int chamber)
{
	return chamber >= 0 && chamber < CHAMBER_COUNT ? chambers[chamber] : "?";
}

int chamber_parse(const char *s)
{
	for (int i = 0; i < CHAMBER_COUNT; i++)
		if (strcmp(s, chambers[i]) == 0)
			return i;
	return -1;
}

/* Kinds a policy may govern; host records follow the TLDs that use them. */
static int kind_governable(const char *s, size_t n)
{
	return (n == 3 && memcmp(s, "tld", 3) == 0) || (n == 6 && memcmp(s, "member", 6) == 0) ||
	       (n == 6 && memcmp(s, "policy", 6) == 0) || (n == 4 && memcmp(s, "node", 4) == 0) ||
	       (n == 7 && memcmp(s, "network", 7) == 0);
}

static int pattern_parse(struct policy *p, const char *pat, struct cc_err *e)
{
	const char *slash = strchr(pat, '/');

	if (slash == NULL || !kind_governable(pat, (size_t)(slash - pat)))
		return cc_fail(
		    e, CC_EINVAL,
		    "policy: \"applies %.64s\": kind must be tld, member, policy, node or "
		    "network",
		    pat);
	if (strcmp(slash + 1, "*") == 0)
		p->pattern_kind = PAT_ANY;
	else if (strcmp(slash + 1, "??") == 0)
		p->pattern_kind = PAT_TWO;
	else if (path_valid(pat, e) == 0)
		p->pattern_kind = PAT_EXACT;
	else
		return cc_fail(e, CC_EINVAL, "policy: \"applies %.64s\": not a pattern or path",
			       pat);
	snprintf(p->pattern, sizeof(p->pattern), "%s", pat);
	return 0;
}

int policy_fraction_parse(const char *s, unsigned *num, unsigned *den)
{
	unsigned n, d;
	int used = 0;

	/* sscanf's %u would also take a sign ("+2/3"): digits only, so each fraction has one
	 * spelling. */
	if (s[strspn(s, "0123456789/")] != '\0' || sscanf(s, "%3u/%3u%n", &n, &d, &used) != 2 ||
	    s[used] != '\0' || n == 0 || d == 0 || n > d || d > 100 || s[0] == '0' ||
	    strchr(s, '/')[1] == '0')
		return CC_EINVAL;
	*num = n;
	*den = d;
	return 0;
}

static int require_parse(struct policy *p, char **f, int nf, unsigned lineno, struct cc_err *e)
{
	struct policy_req *r;

	if (p->nreq == POLICY_MAX_REQS)
		return cc_fail(e, CC_ETOOBIG, "policy: more than %d requirements", POLICY_MAX_REQS);
	r = &p->req[p->nreq];
	memset(r, 0, sizeof(*r));
	if (nf == 2 && strcmp(f[1], "state") == 0) {
		r->kind = REQ_STATE;
	} else if (nf == 3 && strcmp(f[1], "member") == 0 && member_id_valid(f[2])) {
		r->kind = REQ_MEMBER;
		snprintf(r->member, sizeof(r->member), "%s", f[2]);
	} else if (nf == 3 && strcmp(f[1], "all") == 0 &&
		   policy_fraction_parse(f[2], &r->num, &r->den) == 0) {
		r->kind = REQ_ALL;
	} else if (nf == 4 && strcmp(f[1], "chamber") == 0 &&
		   policy_fraction_parse(f[3], &r->num, &r->den) == 0) {
		if (strcmp(f[2], "*") == 0) {
			r->kind = REQ_OTHER_CHAMBERS;
		} else {
			r->kind = REQ_CHAMBER;
			r->chamber = chamber_parse(f[2]);
			if (r->chamber < 0)
				return cc_fail(e, CC_EINVAL,
					       "policy: line %u: unknown chamber \"%.32s\"", lineno,
					       f[2]);
		}
	} else {
		return cc_fail(
		    e, CC_EINVAL,
		    "policy: line %u: expected \"require state\", \"require member ID\", "
		    "\"require all N/D\" or \"require chamber NAME|* N/D\"",
		    lineno);
	}
	for (unsigned i = 0; i < p->nreq; i++)
		if (memcmp(&p->req[i], r, sizeof(*r)) == 0)
			return cc_fail(e, CC_EINVAL, "policy: line %u: requirement repeated",
				       lineno);
	p->nreq++;
	return 0;
}

int policy_parse(struct policy *p, const char *content, size_t len, struct cc_err *e)
{
	char line[PATH_MAX_LEN + 64], *f[5], *save;
	const char *s = content, *end = content + len, *nl;
	unsigned lineno = 0;
	int nf, ret = 0, have_delay = 0;

	memset(p, 0, sizeof(*p));
	/* Lines are handled as C strings: a NUL would hide the rest of its line. */
	if (memchr(content, '\0', len) != NULL)
		return cc_fail(e, CC_EINVAL, "policy: NUL byte");
	while (s < end) {
		size_t n;

		lineno++;
		nl = memchr(s, '\n', (size_t)(end - s));
		n = (size_t)((nl ? nl : end) - s);
		if (n >= sizeof(line)) {
			ret = cc_fail(e, CC_EINVAL, "policy: line %u too long", lineno);
			goto out;
		}
		memcpy(line, s, n);
		line[n] = '\0';
		s = nl ? nl + 1 : end;
		nf = 0;
		save = NULL;
		for (char *t = strtok_r(line, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
			if (nf == 5) {
				ret = cc_fail(e, CC_EINVAL, "policy: line %u: too many fields",
					      lineno);
				goto out;
			}
			f[nf++] = t;
		}
		if (nf == 0 || f[0][0] == '#')
			continue;
		if (strcmp(f[0], "applies") == 0 && nf == 2) {
			if (p->pattern[0]) {
				ret = cc_fail(e, CC_EINVAL, "policy: \"applies\" given twice");
				goto out;
			}
			ret = pattern_parse(p, f[1], e);
		} else if (strcmp(f[0], "require") == 0) {
			ret = require_parse(p, f, nf, lineno, e);
		} else if (strcmp(f[0], "delay") == 0 && nf == 2 && !have_delay) {
			char *ep = NULL;
			long long d = strtoll(f[1], &ep, 10);

			/* Digits only: strtoll would also take a sign ("-0") or leading white
			 * space. */
			if (*ep || ep == f[1] || d < 0 || d > 366LL * 86400 ||
			    f[1][strspn(f[1], "0123456789")] != '\0' ||
			    (f[1][0] == '0' && f[1][1])) {
				ret = cc_fail(e, CC_EINVAL,
					      "policy: line %u: delay must be 0..31622400 seconds",
					      lineno);
				goto out;
			}
			p->delay = d;
			have_delay = 1;
		} else {
			ret = cc_fail(e, CC_EINVAL,
				      "policy: line %u: unknown or repeated directive \"%.32s\"",
				      lineno, f[0]);
		}
		if (ret < 0)
			goto out;
	}
	if (p->pattern[0] == '\0')
		ret = cc_fail(e, CC_EINVAL, "policy: missing \"applies PATTERN\"");
	else if (p->nreq == 0)
		ret = cc_fail(e, CC_EINVAL,
			      "policy: no requirement: a change would need nobody's consent");
	for (unsigned i = 0; ret == 0 && i < p->nreq; i++)
		if (p->req[i].kind == REQ_STATE && p->pattern_kind != PAT_TWO)
			ret = cc_fail(e, CC_EINVAL,
				      "policy: \"require state\" needs a \"<kind>/??\" pattern");
out:
	return ret;
}

int policy_format(const struct policy *p, struct cbuf *out)
{
	int ret = cbuf_printf(out, "applies %s\n", p->pattern);

	for (unsigned i = 0; ret == 0 && i < p->nreq; i++) {
		const struct policy_req *r = &p->req[i];

		switch (r->kind) {
		case REQ_STATE:
			ret = cbuf_puts(out, "require state\n");
			break;
		case REQ_MEMBER:
			ret = cbuf_printf(out, "require member %s\n", r->member);
			break;
		case REQ_ALL:
			ret = cbuf_printf(out, "require all %u/%u\n", r->num, r->den);
			break;
		case REQ_CHAMBER:
			ret = cbuf_printf(out, "require chamber %s %u/%u\n",
					  chamber_name(r->chamber), r->num, r->den);
			break;
		case REQ_OTHER_CHAMBERS:
			ret = cbuf_printf(out, "require chamber * %u/%u\n", r->num, r->den);
			break;
		}
	}
	if (ret == 0 && p->delay)
		ret = cbuf_printf(out, "delay %" PRId64 "\n", p->delay);
	return ret;
}

int policy_matches(const struct policy *p, const char *path)
{
	size_t k = (size_t)(strchr(p->pattern, '/') - p->pattern) + 1;

	switch (p->pattern_kind) {
	case PAT_EXACT:
		return strcmp(p->pattern, path) == 0;
	case PAT_ANY:
		return strncmp(p->pattern, path, k) == 0 && path[k] != '\0';
	case PAT_TWO:
		return strncmp(p->pattern, path, k) == 0 && strlen(path + k) == 2 &&
		       path[k] >= 'a' && path[k] <= 'z' && path[k + 1] >= 'a' && path[k + 1] <= 'z';
	}
	return 0;
}
