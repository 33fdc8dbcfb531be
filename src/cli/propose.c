/* concord propose, approve, object, show, proposals, export-root: the client side of the
 * node's proposal and record API. */
#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/proposal.h"
#include "core/tfmt.h"
#include "node/node.h"

#define CLI_CONTENT_MAX 65536 /* a put's content; the whole note must stay under 65,000 */

/* "/v1/records/<path>": paths are [a-z0-9-./]*, nothing needs escaping. */
static int cli_record_url(struct cbuf *url, const char *path, struct cc_err *e)
{
	cbuf_reset(url);
	if (cbuf_printf(url, "/v1/records/%s", path) != 0)
		return cc_fail(e, CC_ENOMEM, "out of memory");
	return 0;
}

int cli_current_version(struct http *h, const char *path, int64_t *version, struct cc_err *e)
{
	struct cbuf url = CBUF_INIT;
	json_t *rec = NULL, *v;
	int ret;

	ret = cli_record_url(&url, path, e);
	if (ret < 0)
		goto out;
	ret = cli_get_json(h, url.p, &rec, e);
	if (ret == CC_ENOENT) {
		*version = PROPOSAL_VERSION_NEW;
		ret = 0;
		goto out;
	}
	if (ret < 0)
		goto out;
	v = json_object_get(rec, "version");
	if (!json_is_integer(v) || json_integer_value(v) < 0) {
		ret = cc_fail(e, CC_EINVAL, "GET %s: no version in the answer", url.p);
		goto out;
	}
	*version = json_integer_value(v);
out:
	json_decref(rec);
	cbuf_free(&url);
	return ret;
}

/* Content as "propose put" sends it: '\n'-terminated lines, none of them empty. A missing
 * final newline (an editor's habit) is added rather than refused. */
static int cli_content_clean(struct cbuf *c, const char *name, struct cc_err *e)
{
	if (c->len == 0)
		return cc_fail(e, CC_EINVAL, "%s: empty content (use delete to remove a record)",
			       name);
	if (c->p[c->len - 1] != '\n' && cbuf_putc(c, '\n') != 0)
		return cc_fail(e, CC_ENOMEM, "out of memory");
	if (c->p[0] == '\n' || strstr(c->p, "\n\n") != NULL)
		return cc_fail(e, CC_EINVAL, "%s: empty line in content", name);
	return 0;
}

/* POSTs a signed note (or signature lines) and prints where the proposal stands. */
static int cli_submit(struct http *h, const char *url, const char *id, const struct cbuf *body,
		      struct cc_err *e)
{
	struct http_resp r = {0};
	json_t *prop = NULL;
	struct cbuf get = CBUF_INIT;
	int ret;

	ret = http_post(h, url, "text/plain", body->p, body->len, HTTP_MAX_JSON, &r, e);
	if (ret < 0)
		goto out;
	ret = cli_parse_json(&r, &prop, e);
	/* the answer should be the proposal itself; ask for it when it is not */
	if (ret < 0 || json_object_get(prop, "status") == NULL) {
		json_decref(prop);
		prop = NULL;
		if (cbuf_printf(&get, "/v1/proposals/%s", id) != 0) {
			ret = cc_fail(e, CC_ENOMEM, "out of memory");
			goto out;
		}
		ret = cli_get_json(h, get.p, &prop, e);
		if (ret < 0)
			goto out;
	}
	ret = cli_print_proposal(id, prop);
out:
	json_decref(prop);
	http_resp_free(&r);
	cbuf_free(&get);
	return ret;
}

int cli_propose(int argc, char **argv, struct cc_err *e)
{
	const char *keyfile = NULL, *node = NULL, *expires = NULL;
	const struct cli_opt opts[] = {{"key", 0, CLI_ARG, &keyfile},
				       {"node", 0, CLI_ARG, &node},
				       {"expires", 0, CLI_ARG, &expires},
				       {0}};
	struct cli_args a = {0};
	struct http *h = NULL;
	struct key_pair k;
	struct proposal_op *ops = NULL;
	struct cbuf *contents = NULL, body = CBUF_INIT, note = CBUF_INIT;
	struct note_sig sig;
	struct cc_err pe = {0, ""};
	char origin[256], id[PROPOSAL_ID_LEN + 1];
	size_t nops = 0, i, j;
	int64_t now, life = CLI_DEFAULT_EXPIRES;
	int ret;

	memset(&k, 0, sizeof(k));
	ret = cli_parse(argc, argv, opts, &a, e);
	if (ret < 0)
		goto out;
	if (keyfile == NULL || a.npos == 0) {
		ret = cc_fail(e, CLI_EUSAGE, "propose: expected --key KEYFILE and operations");
		goto out;
	}
	if (expires != NULL && (tfmt_duration(expires, &life) != 0 || life <= 0)) {
		ret = cc_fail(e, CLI_EUSAGE, "propose: --expires '%s' is not a duration (7d, 24h)",
			      expires);
		goto out;
	}
	ops = calloc(a.npos, sizeof(*ops));
	contents = calloc(a.npos, sizeof(*contents));
	if (ops == NULL || contents == NULL) {
		ret = cc_fail(e, CC_ENOMEM, "out of memory");
		goto out;
	}
	/* read every operation before touching the network: a typo costs nothing */
	for (i = 0; i < a.npos;) {
		struct proposal_op *op = &ops[nops];
		int put = strcmp(a.pos[i], "put") == 0;

		if (!put && strcmp(a.pos[i], "delete") != 0) {
			ret = cc_fail(e, CLI_EUSAGE, "propose: expected put or delete, not '%s'",
				      a.pos[i]);
			goto out;
		}
		if (i + (put ? 2 : 1) >= a.npos) {
			ret = cc_fail(e, CLI_EUSAGE, "propose: %s needs PATH%s", a.pos[i],
				      put ? " and FILE" : "");
			goto out;
		}
		if (strlen(a.pos[i + 1]) > PATH_MAX_LEN || path_valid(a.pos[i + 1], &pe) < 0) {
			ret = cc_fail(e, CLI_EUSAGE, "propose: '%s' is not a record path%s%s",
				      a.pos[i + 1], pe.msg[0] != '\0' ? ": " : "", pe.msg);
			goto out;
		}
		for (j = 0; j < nops; j++)
			if (strcmp(ops[j].path, a.pos[i + 1]) == 0) {
				ret =
				    cc_fail(e, CLI_EUSAGE, "propose: %s named twice", a.pos[i + 1]);
				goto out;
			}
		op->kind = put ? OP_PUT : OP_DELETE;
		strcpy(op->path, a.pos[i + 1]);
		if (put) {
			ret = cli_read_file(a.pos[i + 2], CLI_CONTENT_MAX, &contents[nops], e);
			if (ret < 0)
				goto out;
			ret = cli_content_clean(&contents[nops], a.pos[i + 2], e);
			if (ret < 0)
				goto out;
			op->content = contents[nops].p;
			op->content_len = contents[nops].len;
		}
		i += put ? 3 : 2;
		nops++;
	}
	if (nops > PROPOSAL_MAX_OPS) {
		ret = cc_fail(e, CLI_EUSAGE, "propose: more than %d operations", PROPOSAL_MAX_OPS);
		goto out;
	}
	ret = cli_load_key(keyfile, &k, e);
	if (ret < 0)
		goto out;
	ret = http_new(&h, cli_node_url(node), e);
	if (ret < 0)
		goto out;
	ret = cli_network_origin(h, origin, sizeof(origin), e);
	if (ret < 0)
		goto out;
	for (i = 0; i < nops; i++) {
		ret = cli_current_version(h, ops[i].path, &ops[i].version, e);
		if (ret < 0)
			goto out;
		if (ops[i].kind == OP_DELETE && ops[i].version == PROPOSAL_VERSION_NEW) {
			ret = cc_fail(e, CC_ENOENT, "%s: no such record to delete", ops[i].path);
			goto out;
		}
	}
	now = cli_now();
	ret = proposal_format(&body, origin, k.sign.key.name, now, now + life, ops, nops);
	if (ret < 0) {
		cc_fail(e, ret, "cannot build the proposal: %s", cc_strerror(ret));
		goto out;
	}
	proposal_id(body.p, body.len, id);
	if (note_sign(&k.sign, body.p, body.len, &sig) != 0 ||
	    note_format(body.p, body.len, &sig, 1, &note) != 0) {
		ret = cc_fail(e, CC_EINVAL, "cannot sign the proposal (is it over %d bytes?)",
			      NOTE_MAX_SIZE);
		goto out;
	}
	ret = cli_submit(h, "/v1/proposals", id, &note, e);
out:
	key_wipe(&k);
	if (contents != NULL)
		for (i = 0; i < a.npos; i++)
			cbuf_free(&contents[i]);
	free(contents);
	free(ops);
	cbuf_free(&body);
	cbuf_free(&note);
	http_free(h);
	cli_args_free(&a);
	return ret;
}

static int cli_id_valid(const char *id)
{
	size_t i;

	for (i = 0; id[i] != '\0'; i++)
		if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
			return 0;
	return i == PROPOSAL_ID_LEN;
}

/* approve and object share their command line and their first steps. */
static int cli_vote(int argc, char **argv, int approve, struct cc_err *e)
{
	const char *keyfile = NULL, *node = NULL;
	const struct cli_opt opts[] = {
	    {"key", 0, CLI_ARG, &keyfile}, {"node", 0, CLI_ARG, &node}, {0}};
	struct cli_args a = {0};
	struct http *h = NULL;
	struct key_pair k;
	struct note_sig sig;
	struct cbuf url = CBUF_INIT, text = CBUF_INIT, post = CBUF_INIT;
	json_t *prop = NULL;
	char origin[256], id[PROPOSAL_ID_LEN + 1];
	const char *verb = approve ? "approve" : "object", *body;
	int ret;

	memset(&k, 0, sizeof(k));
	ret = cli_parse(argc, argv, opts, &a, e);
	if (ret < 0)
		goto out;
	if (keyfile == NULL || a.npos != 1) {
		ret = cc_fail(e, CLI_EUSAGE, "%s: expected --key KEYFILE and PROPOSAL-ID", verb);
		goto out;
	}
	if (!cli_id_valid(a.pos[0])) {
		ret = cc_fail(e, CLI_EUSAGE, "%s: '%s' is not a proposal id (64 hex digits)", verb,
			      a.pos[0]);
		goto out;
	}
	ret = cli_load_key(keyfile, &k, e);
	if (ret < 0)
		goto out;
	ret = http_new(&h, cli_node_url(node), e);
	if (ret < 0)
		goto out;
	if (approve) {
		if (cbuf_printf(&url, "/v1/proposals/%s", a.pos[0]) != 0) {
			ret = cc_fail(e, CC_ENOMEM, "out of memory");
			goto out;
		}
		ret = cli_get_json(h, url.p, &prop, e);
		if (ret < 0)
			goto out;
		body = json_string_value(json_object_get(prop, "body"));
		if (body == NULL) {
			ret = cc_fail(e, CC_EINVAL, "GET %s: no body in the answer", url.p);
			goto out;
		}
		/* sign only what the id names: the node cannot slip another text in */
		proposal_id(body, strlen(body), id);
		if (strcmp(id, a.pos[0]) != 0) {
			ret = cc_fail(e, CC_ECONFLICT,
				      "the node's body for %s hashes to %s: not signing it",
				      a.pos[0], id);
			goto out;
		}
		if (cbuf_puts(&text, body) != 0) {
			ret = cc_fail(e, CC_ENOMEM, "out of memory");
			goto out;
		}
		ret = note_sign(&k.sign, text.p, text.len, &sig);
		if (ret == 0)
			ret = note_format_sig(&sig, &post);
		if (ret < 0) {
			cc_fail(e, ret, "cannot sign proposal %s", a.pos[0]);
			goto out;
		}
		cbuf_reset(&url);
		cbuf_printf(&url, "/v1/proposals/%s/signatures", a.pos[0]);
	} else {
		ret = cli_network_origin(h, origin, sizeof(origin), e);
		if (ret < 0)
			goto out;
		if (cbuf_printf(&text, "concord objection v1\norigin %s\nproposal %s\n", origin,
				a.pos[0]) != 0) {
			ret = cc_fail(e, CC_ENOMEM, "out of memory");
			goto out;
		}
		ret = note_sign(&k.sign, text.p, text.len, &sig);
		if (ret == 0)
			ret = note_format(text.p, text.len, &sig, 1, &post);
		if (ret < 0) {
			cc_fail(e, ret, "cannot sign the objection");
			goto out;
		}
		if (cbuf_printf(&url, "/v1/proposals/%s/objections", a.pos[0]) != 0) {
			ret = cc_fail(e, CC_ENOMEM, "out of memory");
			goto out;
		}
	}
	ret = cli_submit(h, url.p, a.pos[0], &post, e);
out:
	key_wipe(&k);
	json_decref(prop);
	cbuf_free(&url);
	cbuf_free(&text);
	cbuf_free(&post);
	http_free(h);
	cli_args_free(&a);
	return ret;
}

int cli_approve(int argc, char **argv, struct cc_err *e)
{
	return cli_vote(argc, argv, 1, e);
}

int cli_object(int argc, char **argv, struct cc_err *e)
{
	return cli_vote(argc, argv, 0, e);
}

int cli_show(int argc, char **argv, struct cc_err *e)
{
	const char *node = NULL;
	int json = 0;
	const struct cli_opt opts[] = {
	    {"node", 0, CLI_ARG, &node}, {"json", 0, CLI_FLAG, &json}, {0}};
	struct cli_args a = {0};
	struct http *h = NULL;
	struct http_resp r = {0};
	struct cbuf url = CBUF_INIT;
	json_t *rec = NULL, *final;
	const char *content;
	int ret;

	ret = cli_parse(argc, argv, opts, &a, e);
	if (ret < 0)
		goto out;
	if (a.npos != 1) {
		ret = cc_fail(e, CLI_EUSAGE, "show: expected one PATH");
		goto out;
	}
	if (path_valid(a.pos[0], NULL) < 0) {
		ret = cc_fail(e, CLI_EUSAGE, "show: '%s' is not a record path", a.pos[0]);
		goto out;
	}
	ret = http_new(&h, cli_node_url(node), e);
	if (ret < 0)
		goto out;
	ret = cli_record_url(&url, a.pos[0], e);
	if (ret < 0)
		goto out;
	ret = http_get(h, url.p, HTTP_MAX_JSON, &r, e);
	if (ret < 0)
		goto out;
	if (json) {
		cli_print_answer(&r);
		goto out;
	}
	ret = cli_parse_json(&r, &rec, e);
	if (ret < 0)
		goto out;
	content = json_string_value(json_object_get(rec, "content"));
	if (content == NULL) {
		ret = cc_fail(e, CC_EINVAL, "GET %s: no content in the answer", url.p);
		goto out;
	}
	/* exactly the bytes, so that show > f; propose put PATH f round-trips */
	fwrite(content, 1, json_string_length(json_object_get(rec, "content")), stdout);
	/* how far the record can be relied on, for the one who reads it */
	final = json_object_get(rec, "final");
	fprintf(stderr, "%s: version %lld%s\n", a.pos[0],
		(long long)json_integer_value(json_object_get(rec, "version")),
		!json_is_boolean(final) ? ""
		: json_is_true(final)	? ", final"
					: ", not final yet (no witness quorum has cosigned it)");
out:
	json_decref(rec);
	http_resp_free(&r);
	cbuf_free(&url);
	http_free(h);
	cli_args_free(&a);
	return ret;
}

/* "ID STATUS PROPOSER PATHS MISSING": the first four fields never hold a space. */
static int cli_proposal_line(json_t *p, struct cbuf *line)
{
	const char *id = json_string_value(json_object_get(p, "id"));
	const char *status = json_string_value(json_object_get(p, "status"));
	const char *proposer = json_string_value(json_object_get(p, "proposer"));
	json_t *ops = json_object_get(p, "ops"), *op;
	struct cbuf st = CBUF_INIT;
	size_t i;
	int ret;

	ret = cbuf_printf(line, "%s %s %s ", id != NULL ? id : "?", status != NULL ? status : "?",
			  proposer != NULL ? proposer : "?");
	json_array_foreach(ops, i, op)
	{
		const char *path = json_string_value(json_object_get(op, "path"));

		ret |= cbuf_printf(line, "%s%s", i > 0 ? "," : "", path != NULL ? path : "?");
	}
	if (json_array_size(ops) == 0)
		ret |= cbuf_puts(line, "-");
	if (status != NULL && strcmp(status, "pending") == 0) {
		ret |= cli_status_line(p, &st);
		/* drop the "pending: " that the status field already says */
		ret |= cbuf_printf(line, " %s", st.len > 9 ? st.p + 9 : "-");
	} else {
		ret |= cbuf_puts(line, " -");
	}
	ret |= cbuf_putc(line, '\n');
	cbuf_free(&st);
	return ret != 0 ? CC_ENOMEM : 0;
}

/* The query of one page: status, where the page starts, how many. */
static int cli_proposals_url(struct cbuf *url, const char *status, const char *before,
			     const char *limit)
{
	char sep = '?';
	int ret;

	cbuf_reset(url);
	ret = cbuf_puts(url, "/v1/proposals");
	if (ret == 0 && status != NULL && (ret = cbuf_printf(url, "%cstatus=%s", sep, status)) == 0)
		sep = '&';
	if (ret == 0 && before != NULL && (ret = cbuf_printf(url, "%cbefore=%s", sep, before)) == 0)
		sep = '&';
	if (ret == 0 && limit != NULL)
		ret = cbuf_printf(url, "%climit=%s", sep, limit);
	return ret;
}

/* A limit goes into the query as it is: 1 to 1000, as the node reads it. */
static int cli_limit_word(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	return s == NULL ||
	       (n >= 1 && n <= 4 && strspn(s, "0123456789") == n && s[0] != '0' && atoi(s) <= 1000);
}

int cli_proposals(int argc, char **argv, struct cc_err *e)
{
	const char *node = NULL, *status = NULL, *before = NULL, *limit = NULL;
	int all = 0;
	const struct cli_opt opts[] = {
	    {"node", 0, CLI_ARG, &node},     {"status", 0, CLI_ARG, &status},
	    {"before", 0, CLI_ARG, &before}, {"limit", 0, CLI_ARG, &limit},
	    {"all", 0, CLI_FLAG, &all},	     {0}};
	static const char *const statuses[] = {"pending", "accepted", "rejected", "expired"};
	struct cli_args a = {0};
	struct http *h = NULL;
	struct cbuf url = CBUF_INIT, line = CBUF_INIT;
	struct node_list_at at = NODE_LIST_TOP, nat;
	char next[80] = "";
	json_t *list = NULL, *p;
	const char *nx;
	size_t i;
	int ret, ok = 0;

	ret = cli_parse(argc, argv, opts, &a, e);
	if (ret < 0)
		goto out;
	if (a.npos != 0) {
		ret = cc_fail(e, CLI_EUSAGE, "proposals: unexpected argument '%s'", a.pos[0]);
		goto out;
	}
	if (status != NULL) {
		for (i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++)
			ok |= strcmp(status, statuses[i]) == 0;
		if (!ok) {
			ret = cc_fail(
			    e, CLI_EUSAGE,
			    "proposals: --status is pending, accepted, rejected or expired");
			goto out;
		}
	}
	if ((before != NULL &&
	     (strlen(before) >= sizeof(next) || node_list_at_parse(&at, before) < 0)) ||
	    !cli_limit_word(limit)) {
		ret = cc_fail(e, CLI_EUSAGE,
			      "proposals: --before takes the cursor a listing printed, --limit a "
			      "number");
		goto out;
	}
	if (before != NULL)
		snprintf(next, sizeof(next), "%s", before);
	ret = http_new(&h, cli_node_url(node), e);
	if (ret < 0)
		goto out;
	/* one page, or with --all every page until the node says there is no more */
	do {
		if (cli_proposals_url(&url, status, next[0] ? next : NULL, limit) < 0) {
			ret = cc_fail(e, CC_ENOMEM, "out of memory");
			goto out;
		}
		json_decref(list);
		list = NULL;
		ret = cli_get_json(h, url.p, &list, e);
		if (ret < 0)
			goto out;
		json_array_foreach(json_object_get(list, "proposals"), i, p)
		{
			cbuf_reset(&line);
			ret = cli_proposal_line(p, &line);
			if (ret < 0) {
				cc_fail(e, ret, "out of memory");
				goto out;
			}
			fwrite(line.p, 1, line.len, stdout);
		}
		/* a node that sends a listing round in circles is not followed */
		nx = json_string_value(json_object_get(list, "next"));
		if (nx != NULL && (json_array_size(json_object_get(list, "proposals")) == 0 ||
				   strlen(nx) >= sizeof(next) || node_list_at_parse(&nat, nx) < 0 ||
				   !node_list_at_moved(&at, &nat))) {
			ret = cc_fail(e, CC_EIO,
				      "proposals: the node's listing does not go on (next %.40s)",
				      nx);
			goto out;
		}
		next[0] = '\0';
		if (nx != NULL) {
			snprintf(next, sizeof(next), "%s", nx);
			at = nat;
		}
	} while (all && next[0]);
	if (!all && next[0])
		fprintf(stderr, "more: --before %s (or --all)\n", next);
out:
	json_decref(list);
	cbuf_free(&url);
	cbuf_free(&line);
	http_free(h);
	cli_args_free(&a);
	return ret;
}

int cli_export_root(int argc, char **argv, struct cc_err *e)
{
	const char *node = NULL;
	const struct cli_opt opts[] = {{"node", 0, CLI_ARG, &node}, {0}};
	struct cli_args a = {0};
	struct http *h = NULL;
	struct http_resp r = {0};
	int ret;

	ret = cli_parse(argc, argv, opts, &a, e);
	if (ret < 0)
		goto out;
	if (a.npos != 0) {
		ret = cc_fail(e, CLI_EUSAGE, "export-root: unexpected argument '%s'", a.pos[0]);
		goto out;
	}
	ret = http_new(&h, cli_node_url(node), e);
	if (ret < 0)
		goto out;
	ret = http_get(h, "/v1/root", HTTP_MAX_JSON, &r, e);
	if (ret < 0)
		goto out;
	fwrite(r.body.p, 1, r.body.len, stdout);
out:
	http_resp_free(&r);
	http_free(h);
	cli_args_free(&a);
	return ret;
}
