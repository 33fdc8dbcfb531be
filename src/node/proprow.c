/* A proposal's stored row, both ways: built for the store (by the committer, off the lock) and
 * read back into memory (at start, and to answer for a proposal no longer in memory). */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ledger.h"
#include "core/note.h"
#include "core/proposal.h"
#include "node/node_impl.h"
#include "node/store.h"

int node_prop_row(const struct node *n, const struct node_prop *np, struct store_proposal *row)
{
	struct cbuf sigs = CBUF_INIT, objs = CBUF_INIT;
	int ret = 0;

	memset(row, 0, sizeof(*row));
	memcpy(row->id, np->p.id, sizeof(row->id));
	snprintf(row->status, sizeof(row->status), "%s", node_prop_status_name[np->status]);
	row->received = np->received;
	row->idx = np->idx;
	for (size_t i = 0; ret == 0 && i < np->nsigs; i++)
		ret = note_format_sig(&np->sigs[i].sig, &sigs);
	/* Objection notes are stored whole, one signature each, so anyone can re-check them. */
	for (size_t i = 0; ret == 0 && i < np->nobjs; i++) {
		ret = node_objection_text(&objs, n->origin, np->p.id);
		if (ret == 0)
			ret = cbuf_putc(&objs, '\n');
		if (ret == 0)
			ret = note_format_sig(&np->objs[i].sig, &objs);
	}
	row->body = strndup(np->p.body, np->p.body_len);
	row->sigs = cbuf_take(&sigs);
	row->objections = cbuf_take(&objs);
	if (np->reason)
		row->reason = strdup(np->reason);
	if (ret < 0 || !row->body || !row->sigs || !row->objections ||
	    (np->reason && !row->reason)) {
		store_proposal_free(row);
		ret = CC_ENOMEM;
	}
	cbuf_free(&sigs);
	cbuf_free(&objs);
	return ret;
}

/* Parses stored signature lines; with verify, keeps those that still verify against the
 * member registry (a restart re-checks what it reloads). */
static int prop_load_sigs(const struct node *n, const char *text, size_t len, const char *body,
			  size_t blen, int verify, struct node_vsig **out, size_t *nout,
			  struct cc_err *e)
{
	struct note_sig *sigs = NULL;
	size_t nsigs = 0;
	int ret;

	if (len == 0)
		return 0;
	if ((ret = note_parse_sigs(&sigs, &nsigs, text, len, e)) < 0)
		return ret;
	for (size_t i = 0; i < nsigs; i++) {
		struct node_vsig s;
		struct cc_err ve = {0};

		memset(&s, 0, sizeof(s));
		s.sig = sigs[i];
		if (verify) {
			const struct ledger_member *m =
			    ledger_check_sig(n->ledger, body, blen, &sigs[i], &ve);

			if (m == NULL) {
				node_log("dropping a stored signature: %s", ve.msg);
				continue;
			}
			s.key = m->key;
		}
		if ((ret = node_vsig_merge(n->ledger, out, nout, &s)) < 0)
			break;
	}
	free(sigs);
	return ret < 0 ? ret : 0;
}

/* Builds an in-memory proposal from a stored row. */
int node_prop_from_row(const struct node *n, const struct store_proposal *row, int verify,
		       struct node_prop **out, struct cc_err *e)
{
	struct node_prop *np = calloc(1, sizeof(*np));
	struct cbuf ob = CBUF_INIT;
	const char *s, *end;
	int ret = 0;

	*out = NULL;
	if (np == NULL)
		return cc_fail(e, CC_ENOMEM, "out of memory");
	atomic_init(&np->refs, 1);
	np->idx = -1;
	if ((ret = proposal_parse(&np->p, row->body, strlen(row->body), e)) < 0)
		goto out;
	for (np->status = 0; np->status < PS_COUNT; np->status++)
		if (strcmp(row->status, node_prop_status_name[np->status]) == 0)
			break;
	if (np->status == PS_COUNT) {
		ret = cc_fail(e, CC_EINVAL, "proposal %s: unknown status %s", row->id, row->status);
		goto out;
	}
	np->received = row->received;
	np->idx = row->idx;
	if (row->reason && (np->reason = strdup(row->reason)) == NULL) {
		ret = cc_fail(e, CC_ENOMEM, "out of memory");
		goto out;
	}
	ret = prop_load_sigs(n, row->sigs, strlen(row->sigs), np->p.body, np->p.body_len, verify,
			     &np->sigs, &np->nsigs, e);
	if (ret < 0)
		goto out;
	if ((ret = node_objection_text(&ob, n->origin, np->p.id)) < 0)
		goto out;
	s = row->objections;
	end = s + strlen(s);
	while (s < end) {
		const char *nl;

		if ((size_t)(end - s) < ob.len + 1 || memcmp(s, ob.p, ob.len) != 0 ||
		    s[ob.len] != '\n') {
			ret = cc_fail(e, CC_EINVAL, "proposal %s: bad stored objection", row->id);
			goto out;
		}
		s += ob.len + 1;
		nl = memchr(s, '\n', (size_t)(end - s));
		if (nl == NULL) {
			ret = cc_fail(e, CC_EINVAL, "proposal %s: bad stored objection", row->id);
			goto out;
		}
		ret = prop_load_sigs(n, s, (size_t)(nl + 1 - s), ob.p, ob.len, verify, &np->objs,
				     &np->nobjs, e);
		if (ret < 0)
			goto out;
		s = nl + 1;
	}
	*out = np;
	np = NULL;
out:
	cbuf_free(&ob);
	node_prop_free(np);
	return ret;
}
