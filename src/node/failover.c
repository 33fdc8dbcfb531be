#include "node/failover.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/note.h"
#include "core/proposal.h"
#include "node/node_impl.h"

/* The sequencer a put network/sequencer names. */
static int failover_target(const struct proposal *p, char id[MEMBER_ID_MAX + 1])
{
	const struct proposal_op *op = &p->ops[0];
	size_t k = sizeof("sequencer ") - 1, len;

	if (p->nops != 1 || op->kind != OP_PUT || strcmp(op->path, "network/sequencer") != 0 ||
	    op->content_len <= k + 1 || strncmp(op->content, "sequencer ", k) != 0)
		return -1;
	len = op->content_len - k - 1;
	if (len > MEMBER_ID_MAX || op->content[op->content_len - 1] != '\n')
		return -1;
	memcpy(id, op->content + k, len);
	id[len] = '\0';
	return 0;
}

int failover_check(struct node *n, const char *text, size_t len, char id[MEMBER_ID_MAX + 1],
		   struct cc_err *e)
{
	const char *signers[NOTE_MAX_SIGS];
	struct note note = {0};
	struct proposal p = {0};
	struct ledger_verdict *v = NULL;
	size_t ns = 0;
	int ret;

	if ((ret = note_parse(&note, text, len, e)) < 0 ||
	    (ret = proposal_parse(&p, note.text, note.text_len, e)) < 0)
		goto out;
	if (failover_target(&p, id) < 0) {
		ret = cc_fail(e, CC_EINVAL,
			      "a failover note is a proposal with the one operation "
			      "\"put network/sequencer\"");
		goto out;
	}
	if ((v = malloc(sizeof(*v))) == NULL) {
		ret = cc_fail(e, CC_ENOMEM, "out of memory");
		goto out;
	}
	node_rdlock(n);
	for (size_t i = 0; i < note.nsigs; i++) {
		const struct ledger_member *m =
		    ledger_check_sig(n->ledger, note.text, note.text_len, &note.sigs[i], e);

		if (m == NULL) {
			ret = e ? e->code : CC_ESIG;
			break;
		}
		signers[ns++] = m->id;
	}
	if (ret == 0)
		ret =
		    ledger_evaluate(n->ledger, &p, signers, ns, NULL, 0, (int64_t)time(NULL), v, e);
	node_unlock(n);
	if (ret == 0 && v->status != LEDGER_READY)
		ret = cc_fail(e, CC_EPERM,
			      "the note does not meet network/sequencer's policy yet: a failover "
			      "note must be valid on its own");
out:
	free(v);
	proposal_free(&p);
	note_free(&note);
	return ret;
}

/* The note kept on disk ("" for none), through a connection of its own. */
static int failover_keep(struct node *n, const char *text, struct cc_err *e)
{
	char path[CONF_PATH_MAX];
	struct store *s = NULL;
	int ret;

	if ((ret = conf_path(path, n->dir, CONF_DB_FILE, e)) == 0 &&
	    (ret = store_open(&s, path, 0, e)) == 0)
		ret = store_meta_put(s, "failover", text, e);
	store_close(s);
	return ret;
}

int failover_take(struct node *n, const char *text, size_t len, char id[MEMBER_ID_MAX + 1],
		  struct cc_err *e)
{
	char *copy = NULL, *stored = NULL, sid[MEMBER_ID_MAX + 1], held[MEMBER_ID_MAX + 1];
	int ret;

	if ((ret = failover_check(n, text, len, id, e)) < 0)
		return ret;
	/* one note taken at a time: the one on disk is the one in memory */
	pthread_mutex_lock(&n->fo_mu);
	node_rdlock(n);
	ret = strcmp(id, n->failover_to) == 0 || strcmp(id, ledger_sequencer(n->ledger)) == 0;
	snprintf(held, sizeof(held), "%s", n->failover_to);
	/* another note replaces the one held only once that one no longer holds (expired,
	 * stale): two valid notes naming two nodes must not both win */
	if (n->failover != NULL &&
	    (strlen(n->failover) != len || memcmp(n->failover, text, len) != 0))
		stored = strdup(n->failover);
	node_unlock(n);
	if (stored && failover_check(n, stored, strlen(stored), sid, NULL) < 0) {
		ret = 0; /* spent: the new note takes its place */
	} else if (ret) {
		ret = 0;
		goto out;
	} else if (stored) {
		ret =
		    cc_fail(e, CC_ECONFLICT,
			    "this node holds a failover note naming %s, which still holds: a node "
			    "takes one note until the log holds it or it expires",
			    held);
		goto out;
	}
	if ((copy = strndup(text, len)) == NULL) {
		ret = cc_fail(e, CC_ENOMEM, "out of memory");
		goto out;
	}
	/* on disk first: after a restart the node still follows the one it named */
	if ((ret = failover_keep(n, copy, e)) < 0) {
		free(copy);
		goto out;
	}
	node_wrlock(n);
	free(n->failover);
	n->failover = copy;
	snprintf(n->failover_to, sizeof(n->failover_to), "%s", id);
	node_role_update(n);
	node_unlock(n);
	node_log("failover: %s sequences the log from now on (a note signed by the quorum)", id);
	ret = 1;
out:
	pthread_mutex_unlock(&n->fo_mu);
	free(stored);
	return ret;
}

void failover_load(struct node *n, const char *text, size_t len)
{
	char id[MEMBER_ID_MAX + 1];

	/* Checked again against the log as it is now: once the log names that sequencer, or
	 * has moved on past the version the note replaces, the note is spent. */
	if (failover_check(n, text, len, id, NULL) == 0 &&
	    strcmp(id, ledger_sequencer(n->ledger)) != 0 &&
	    (n->failover = strndup(text, len)) != NULL)
		snprintf(n->failover_to, sizeof(n->failover_to), "%s", id);
}
