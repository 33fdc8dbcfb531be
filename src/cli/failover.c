/* concord failover new|sign|submit: a failover note made, signed and handed to a node.
 * The sequencer is down when one is needed, so everything but reading the current version
 * and the final submission works offline: the note travels from member to member as a
 * file, each adding a signature, until it meets network/sequencer's policy on its own. */
#include "cli/cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/proposal.h"
#include "core/tfmt.h"

#define CLI_FAILOVER_EXPIRES 86400 /* a day: long enough to gather, short enough to go stale */
#define CLI_FAILOVER_PATH    "network/sequencer"
#define CLI_FAILOVER_PREFIX  "sequencer "

/* A failover note read from a file: the note, its proposal and the sequencer it names. */
struct cli_fnote {
	struct note note;		/* parsed note (text and signatures) */
	struct proposal prop;		/* its body as a proposal */
	char target[MEMBER_ID_MAX + 1]; /* the member whose node is to sequence */
	struct cbuf raw;		/* the file as read */
};

static void cli_fnote_free(struct cli_fnote *f)
{
	note_free(&f->note);
	proposal_free(&f->prop);
	cbuf_free(&f->raw);
}

/* Reads path and checks it is what a node takes at /v1/failover, as far as that can be
 * told offline: a signed proposal whose one operation puts network/sequencer with the one
 * line "sequencer ID". Whether the signers are members and meet the policy only a node can
 * say. */
static int cli_fnote_read(const char *path, struct cli_fnote *f, struct cc_err *e)
{
	const struct proposal_op *op;
	struct cc_err pe = {0, ""};
	size_t k = sizeof(CLI_FAILOVER_PREFIX) - 1, len;
	int ret;

	ret = cli_read_file(path, NOTE_MAX_SIZE, &f->raw, e);
	if (ret == CC_ETOOBIG)
		return cc_fail(e, CC_EINVAL, "%s is not a failover note: larger than %d bytes",
			       path, NOTE_MAX_SIZE);
	if (ret < 0)
		return ret;
	ret = note_parse(&f->note, f->raw.p, f->raw.len, &pe);
	if (ret == 0)
		ret = proposal_parse(&f->prop, f->note.text, f->note.text_len, &pe);
	if (ret < 0)
		return cc_fail(e, CC_EINVAL, "%s is not a failover note: %s", path,
			       pe.msg[0] != '\0' ? pe.msg : cc_strerror(ret));
	op = &f->prop.ops[0];
	if (f->prop.nops != 1 || op->kind != OP_PUT || strcmp(op->path, CLI_FAILOVER_PATH) != 0)
		return cc_fail(e, CC_EINVAL,
			       "%s is not a failover note: its proposal must have the one "
			       "operation \"put " CLI_FAILOVER_PATH "\"",
			       path);
	/* exactly one line "sequencer ID", as the node's own check and the record kind ask */
	len = op->content_len > k + 1 ? op->content_len - k - 1 : 0;
	if (len == 0 || len > MEMBER_ID_MAX || strncmp(op->content, CLI_FAILOVER_PREFIX, k) != 0 ||
	    memchr(op->content, '\n', op->content_len) != op->content + op->content_len - 1)
		return cc_fail(e, CC_EINVAL,
			       "%s is not a failover note: its content must be the one line "
			       "\"sequencer ID\"",
			       path);
	memcpy(f->target, op->content + k, len);
	f->target[len] = '\0';
	if (!member_id_valid(f->target))
		return cc_fail(e, CC_EINVAL, "%s is not a failover note: '%s' is not a member id",
			       path, f->target);
	for (size_t i = 0; i < f->note.nsigs; i++)
		if (f->note.sigs[i].cosig)
			return cc_fail(e, CC_EINVAL,
				       "%s is not a failover note: %s's line is a cosignature, not "
				       "a member's signature",
				       path, f->note.sigs[i].name);
	return 0;
}

/* Signature lines in ascending order of key name (then key id), so that every member's copy
 * of a note signed by the same people reads the same whatever the order of signing. */
static int cli_sig_cmp(const void *a, const void *b)
{
	const struct note_sig *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	if (c != 0)
		return c;
	return x->id < y->id ? -1 : x->id > y->id;
}

/* "br cn de": who signed, for messages. */
static int cli_signers(const struct note_sig *sigs, size_t n, struct cbuf *out)
{
	for (size_t i = 0; i < n; i++)
		if (cbuf_printf(out, "%s%s", i > 0 ? " " : "", sigs[i].name) != 0)
			return CC_ENOMEM;
	return 0;
}

/* The nodes GET /v1/network lists, and the sequencer it names: the new sequencer must be
 * one of the nodes and not the one being replaced. */
static int cli_failover_target_ok(struct http *h, const char *target, char *origin, size_t size,
				  struct cc_err *e)
{
	json_t *net = NULL, *nodes, *n;
	struct cbuf list = CBUF_INIT;
	const char *o, *seq;
	size_t i;
	int ret, found = 0;

	ret = cli_get_json(h, "/v1/network", &net, e);
	if (ret < 0)
		goto out;
	o = json_string_value(json_object_get(net, "origin"));
	if (o == NULL || strlen(o) >= size) {
		ret = cc_fail(e, CC_EINVAL, "GET /v1/network: no usable origin");
		goto out;
	}
	strcpy(origin, o);
	nodes = json_object_get(net, "nodes");
	json_array_foreach(nodes, i, n)
	{
		const char *id = json_string_value(json_object_get(n, "id"));

		if (id == NULL)
			continue;
		found |= strcmp(id, target) == 0;
		if (cbuf_printf(&list, "%s%s", list.len > 0 ? " " : "", id) != 0) {
			ret = cc_fail(e, CC_ENOMEM, "out of memory");
			goto out;
		}
	}
	if (json_array_size(nodes) == 0) {
		ret = cc_fail(e, CC_EINVAL,
			      "this network lists no nodes: there is no sequencer to replace");
		goto out;
	}
	if (!found) {
		ret = cc_fail(e, CC_EINVAL, "%s runs no node of this network (nodes: %s)", target,
			      list.p);
		goto out;
	}
	seq = json_string_value(json_object_get(net, "sequencer"));
	if (seq != NULL && strcmp(seq, target) == 0)
		ret = cc_fail(e, CC_EEXIST, "%s sequences the log already", target);
out:
	json_decref(net);
	cbuf_free(&list);
	return ret;
}

static int cli_failover_new(int argc, char **argv, struct cc_err *e)
{
	const char *keyfile = NULL, *node = NULL, *expires = NULL, *outp = NULL;
	const struct cli_opt opts[] = {{"key", 0, CLI_ARG, &keyfile},
				       {"node", 0, CLI_ARG, &node},
				       {"expires", 0, CLI_ARG, &expires},
				       {"output", 'o', CLI_ARG, &outp},
				       {0}};
	struct cli_args a = {0};
	struct http *h = NULL;
	struct key_pair k;
	struct proposal_op op;
	struct cbuf content = CBUF_INIT, body = CBUF_INIT, note = CBUF_INIT;
	struct note_sig sig;
	struct stat st;
	char origin[256], id[PROPOSAL_ID_LEN + 1];
	int64_t now, life = CLI_FAILOVER_EXPIRES;
	int ret;

	memset(&k, 0, sizeof(k));
	memset(&op, 0, sizeof(op));
	ret = cli_parse(argc, argv, opts, &a, e);
	if (ret < 0)
		goto out;
	if (a.npos != 1 || keyfile == NULL || outp == NULL) {
		ret =
		    cc_fail(e, CLI_EUSAGE, "failover new: expected ID, --key KEYFILE and -o FILE");
		goto out;
	}
	if (!member_id_valid(a.pos[0])) {
		ret = cc_fail(e, CLI_EUSAGE, "failover new: '%s' is not a member id", a.pos[0]);
		goto out;
	}
	if (expires != NULL && (tfmt_duration(expires, &life) != 0 || life <= 0)) {
		ret = cc_fail(e, CLI_EUSAGE,
			      "failover new: --expires '%s' is not a duration (1d, 24h)", expires);
		goto out;
	}
	/* checked before the network is asked; O_EXCL at the end still guards the race */
	if (lstat(outp, &st) == 0) {
		ret = cc_fail(e, CC_EEXIST, "%s exists: not overwriting it", outp);
		goto out;
	}
	if (errno != ENOENT) {
		ret = cc_fail(e, CC_EIO, "%s: %s", outp, strerror(errno));
		goto out;
	}
	ret = cli_load_key(keyfile, &k, e);
	if (ret < 0)
		goto out;
	ret = http_new(&h, cli_node_url(node), e);
	if (ret < 0)
		goto out;
	ret = cli_failover_target_ok(h, a.pos[0], origin, sizeof(origin), e);
	if (ret < 0)
		goto out;
	ret = cli_current_version(h, CLI_FAILOVER_PATH, &op.version, e);
	if (ret < 0)
		goto out;
	if (op.version == PROPOSAL_VERSION_NEW) {
		ret = cc_fail(e, CC_ENOENT, "%s: the node has no such record to replace",
			      CLI_FAILOVER_PATH);
		goto out;
	}
	if (cbuf_printf(&content, CLI_FAILOVER_PREFIX "%s\n", a.pos[0]) != 0) {
		ret = cc_fail(e, CC_ENOMEM, "out of memory");
		goto out;
	}
	op.kind = OP_PUT;
	strcpy(op.path, CLI_FAILOVER_PATH);
	op.content = content.p;
	op.content_len = content.len;
	now = cli_now();
	/* the very body "concord propose put network/sequencer" would build */
	ret = proposal_format(&body, origin, k.sign.key.name, now, now + life, &op, 1);
	if (ret < 0) {
		cc_fail(e, ret, "cannot build the proposal: %s", cc_strerror(ret));
		goto out;
	}
	proposal_id(body.p, body.len, id);
	if (note_sign(&k.sign, body.p, body.len, &sig) != 0 ||
	    note_format(body.p, body.len, &sig, 1, &note) != 0) {
		ret = cc_fail(e, CC_EINVAL, "cannot sign the proposal");
		goto out;
	}
	ret = cli_write_excl(outp, note.p, note.len, 0644, e);
	if (ret == CC_EEXIST)
		cc_fail(e, ret, "%s exists: not overwriting it", outp);
	if (ret < 0)
		goto out;
	printf("%s\n", id);
out:
	key_wipe(&k);
	cbuf_free(&content);
	cbuf_free(&body);
	cbuf_free(&note);
	http_free(h);
	cli_args_free(&a);
	return ret;
}

static int cli_failover_sign(int argc, char **argv, struct cc_err *e)
{
	const char *keyfile = NULL;
	const struct cli_opt opts[] = {{"key", 0, CLI_ARG, &keyfile}, {0}};
	struct cli_args a = {0};
	struct cli_fnote f;
	struct key_pair k;
	struct note_sig mine, *sigs = NULL;
	struct cbuf out = CBUF_INIT, who = CBUF_INIT;
	char when[TFMT_LEN + 1];
	size_t n = 0;
	int ret;

	memset(&k, 0, sizeof(k));
	memset(&f, 0, sizeof(f));
	ret = cli_parse(argc, argv, opts, &a, e);
	if (ret < 0)
		goto out;
	if (a.npos != 1 || keyfile == NULL) {
		ret = cc_fail(e, CLI_EUSAGE, "failover sign: expected FILE and --key KEYFILE");
		goto out;
	}
	ret = cli_load_key(keyfile, &k, e);
	if (ret < 0)
		goto out;
	ret = cli_fnote_read(a.pos[0], &f, e);
	if (ret < 0)
		goto out;
	/* a signature on a spent note is lost effort: every node would refuse it */
	if (f.prop.expires < cli_now()) {
		tfmt_format(f.prop.expires, when);
		ret = cc_fail(e, CC_EEXPIRED,
			      "%s expired at %s: make a new note with concord failover new",
			      a.pos[0], when);
		goto out;
	}
	ret = note_sign(&k.sign, f.note.text, f.note.text_len, &mine);
	if (ret < 0) {
		cc_fail(e, ret, "cannot sign %s", a.pos[0]);
		goto out;
	}
	sigs = calloc(f.note.nsigs + 1, sizeof(*sigs));
	if (sigs == NULL) {
		ret = cc_fail(e, CC_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < f.note.nsigs; i++) {
		const struct note_sig *s = &f.note.sigs[i];

		if (strcmp(s->name, mine.name) != 0) {
			sigs[n++] = *s;
			continue;
		}
		/* Ed25519 is deterministic: the same key over the same text gives the same bytes */
		if (s->id == mine.id && memcmp(s->sig, mine.sig, sizeof(mine.sig)) == 0) {
			printf("%s: already signed by %s, nothing changed\n", a.pos[0], mine.name);
			goto out;
		}
	}
	sigs[n++] = mine;
	qsort(sigs, n, sizeof(*sigs), cli_sig_cmp);
	ret = note_format(f.note.text, f.note.text_len, sigs, n, &out);
	if (ret < 0) {
		cc_fail(e, ret, "%s: cannot add a signature (over %d signatures or %d bytes?)",
			a.pos[0], NOTE_MAX_SIGS, NOTE_MAX_SIZE);
		goto out;
	}
	ret = cli_write_atomic(a.pos[0], out.p, out.len, 0644, e);
	if (ret < 0)
		goto out;
	if (cli_signers(sigs, n, &who) != 0) {
		ret = cc_fail(e, CC_ENOMEM, "out of memory");
		goto out;
	}
	printf("%s: signed by %s; signatures: %s\n", a.pos[0], mine.name, who.p);
out:
	key_wipe(&k);
	free(sigs);
	cli_fnote_free(&f);
	cbuf_free(&out);
	cbuf_free(&who);
	cli_args_free(&a);
	return ret;
}

/* True when the node's log holds the note's proposal (GET /v1/proposals/ID: accepted). */
static int cli_failover_logged(struct http *h, const struct cli_fnote *f)
{
	char id[PROPOSAL_ID_LEN + 1], url[sizeof("/v1/proposals/") + PROPOSAL_ID_LEN];
	struct cc_err ge = {0, ""};
	json_t *prop = NULL;
	const char *status;
	int ret;

	proposal_id(f->note.text, f->note.text_len, id);
	snprintf(url, sizeof(url), "/v1/proposals/%s", id);
	if (cli_get_json(h, url, &prop, &ge) < 0)
		return 0;
	status = json_string_value(json_object_get(prop, "status"));
	ret = status != NULL && strcmp(status, "accepted") == 0;
	json_decref(prop);
	return ret;
}

static int cli_failover_submit(int argc, char **argv, struct cc_err *e)
{
	const char *node = NULL;
	const struct cli_opt opts[] = {{"node", 0, CLI_ARG, &node}, {0}};
	struct cli_args a = {0};
	struct cli_fnote f;
	struct http *h = NULL;
	struct http_resp r = {0};
	struct cbuf who = CBUF_INIT;
	json_t *ans = NULL;
	const char *status, *seq;
	char why[CC_ERR_MSG];
	int ret;

	memset(&f, 0, sizeof(f));
	ret = cli_parse(argc, argv, opts, &a, e);
	if (ret < 0)
		goto out;
	if (a.npos != 1) {
		ret = cc_fail(e, CLI_EUSAGE, "failover submit: expected FILE");
		goto out;
	}
	/* a file that is no failover note is refused here, not by a node */
	ret = cli_fnote_read(a.pos[0], &f, e);
	if (ret < 0)
		goto out;
	ret = http_new(&h, cli_node_url(node), e);
	if (ret < 0)
		goto out;
	ret = http_post(h, "/v1/failover", "text/plain", f.raw.p, f.raw.len, HTTP_MAX_SMALL, &r, e);
	/* Once the log holds the note, the version it replaces is spent and the node refuses
	 * it as a failover note (400); it is then known all the same. 403 (too few signatures)
	 * is not asked about: a follower would carry the question to a sequencer that may be
	 * the very one that is down. */
	if (ret < 0 && r.status >= 400 && r.status < 500 && r.status != 403 &&
	    cli_failover_logged(h, &f)) {
		printf("known already: %s sequences the log\n", f.target);
		ret = 0;
		goto out;
	}
	if (ret < 0 && r.status == 403) {
		/* not enough (or not valid) signatures yet: say how to gather more */
		snprintf(why, sizeof(why), "%s", e->msg);
		if (cli_signers(f.note.sigs, f.note.nsigs, &who) != 0) {
			ret = cc_fail(e, CC_ENOMEM, "out of memory");
			goto out;
		}
		cc_fail(e, ret,
			"%s (signed by %s; add signatures with: concord failover sign %s --key "
			"KEYFILE)",
			why, who.p, a.pos[0]);
		goto out;
	}
	if (ret < 0)
		goto out;
	ret = cli_parse_json(&r, &ans, e);
	if (ret < 0)
		goto out;
	status = json_string_value(json_object_get(ans, "status"));
	seq = json_string_value(json_object_get(ans, "sequencer"));
	if (seq == NULL)
		seq = f.target;
	if (r.status == 202 && status != NULL && strcmp(status, "taken") == 0)
		printf("taken: %s sequences the log\n", seq);
	else if (r.status == 200 && status != NULL && strcmp(status, "known") == 0)
		printf("known already: %s sequences the log\n", seq);
	else
		ret = cc_fail(e, CC_EINVAL, "POST /v1/failover: unexpected answer (HTTP %ld, %s)",
			      r.status, status != NULL ? status : "no status");
out:
	json_decref(ans);
	http_resp_free(&r);
	http_free(h);
	cbuf_free(&who);
	cli_fnote_free(&f);
	cli_args_free(&a);
	return ret;
}

int cli_failover(int argc, char **argv, struct cc_err *e)
{
	static const struct {
		const char *name;
		int (*fn)(int argc, char **argv, struct cc_err *e);
	} sub[] = {{"new", cli_failover_new},
		   {"sign", cli_failover_sign},
		   {"submit", cli_failover_submit}};

	if (argc < 2)
		return cc_fail(e, CLI_EUSAGE, "failover: expected new, sign or submit");
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
		return CLI_HELP;
	for (size_t i = 0; i < sizeof(sub) / sizeof(sub[0]); i++)
		if (strcmp(argv[1], sub[i].name) == 0)
			return sub[i].fn(argc - 1, argv + 1, e);
	return cc_fail(e, CLI_EUSAGE, "failover: unknown subcommand '%s' (new, sign, submit)",
		       argv[1]);
}
