/* concord genesis new|sign|show: making and signing a network's first entries offline. */
#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/genesis.h"
#include "core/policy.h"
#include "core/proposal.h"
#include "core/rr.h"
#include "core/tfmt.h"
#include "node/init.h"

#define CLI_GENESIS_MAX (256u << 20) /* a genesis file: the whole root zone in chunks */
#define CLI_PUBFILE_MAX 4096

static int cli_root_add(void *ctx, const struct rr *r)
{
	return rr_set_add(ctx, r);
}

/* "ID:CHAMBER:PUBFILE"; the file name may itself hold ':' (only the first two split). */
static int cli_member_parse(const char *spec, struct genesis_member *m, struct cc_err *e)
{
	const char *c1 = strchr(spec, ':'), *c2 = c1 != NULL ? strchr(c1 + 1, ':') : NULL;
	struct cbuf text = CBUF_INIT;
	struct cc_err ke = {0, ""};
	char chamber[32];
	size_t idlen;
	int ret;

	memset(m, 0, sizeof(*m));
	if (c1 == NULL || c2 == NULL || c2[1] == '\0')
		return cc_fail(e, CLI_EUSAGE,
			       "genesis new: --member '%s' is not ID:CHAMBER:PUBFILE", spec);
	idlen = (size_t)(c1 - spec);
	if (idlen == 0 || idlen > MEMBER_ID_MAX || (size_t)(c2 - c1 - 1) >= sizeof(chamber))
		return cc_fail(e, CLI_EUSAGE, "genesis new: --member '%s': bad id or chamber",
			       spec);
	memcpy(m->id, spec, idlen);
	m->id[idlen] = '\0';
	if (!member_id_valid(m->id))
		return cc_fail(e, CLI_EUSAGE, "genesis new: '%s' is not a member id", m->id);
	memcpy(chamber, c1 + 1, (size_t)(c2 - c1 - 1));
	chamber[c2 - c1 - 1] = '\0';
	m->chamber = chamber_parse(chamber);
	if (m->chamber < 0)
		return cc_fail(e, CLI_EUSAGE,
			       "genesis new: unknown chamber '%s' (government, private-sector, "
			       "civil-society, technical, academic)",
			       chamber);
	ret = cli_read_file(c2 + 1, CLI_PUBFILE_MAX, &text, e);
	if (ret < 0)
		goto out;
	ret = key_parse_public(&m->pub, text.p, text.len, &ke);
	if (ret < 0) {
		cc_fail(e, ret, "%s: %s", c2 + 1, ke.msg[0] != '\0' ? ke.msg : cc_strerror(ret));
		goto out;
	}
	/* the key name is what signature lines carry: it must be the member id */
	if (strcmp(m->pub.sign.name, m->id) != 0) {
		ret = cc_fail(e, CC_EINVAL, "%s is the key of '%s', not of '%s'", c2 + 1,
			      m->pub.sign.name, m->id);
		goto out;
	}
out:
	cbuf_free(&text);
	return ret;
}

/* "ID=NAME,ADDR[,ADDR...]": a founding member's name server. */
static int cli_dns_parse(const char *spec, struct genesis_member *gm, size_t n, struct cc_err *e)
{
	const char *eq = strchr(spec, '=');
	struct genesis_member *m = NULL;
	struct cc_err de = {0, ""};
	char *line;
	int ret;

	for (size_t i = 0; eq && i < n; i++)
		if (strlen(gm[i].id) == (size_t)(eq - spec) &&
		    strncmp(gm[i].id, spec, (size_t)(eq - spec)) == 0)
			m = &gm[i];
	if (eq == NULL || m == NULL)
		return cc_fail(e, CLI_EUSAGE,
			       "genesis new: --dns '%s' is not ID=NAME,ADDRESS[,ADDRESS...] for a "
			       "--member",
			       spec);
	if (m->dns.name[0])
		return cc_fail(e, CLI_EUSAGE, "genesis new: --dns given twice for %s", m->id);
	line = strdup(eq + 1);
	if (line == NULL)
		return cc_fail(e, CC_ENOMEM, "out of memory");
	for (char *c = line; *c; c++)
		if (*c == ',')
			*c = ' ';
	ret = member_dns_parse(&m->dns, line, strlen(line), &de);
	if (ret < 0)
		cc_fail(e, CLI_EUSAGE, "genesis new: --dns '%s': %s", spec, de.msg);
	free(line);
	return ret < 0 ? CLI_EUSAGE : 0;
}

/* A node.pub (what `concord node keys` printed) of one of the founding members. */
static int cli_node_read(const char *file, const struct genesis_member *gm, size_t n,
			 struct ledger_node *node, struct cc_err *e)
{
	struct cbuf text = CBUF_INIT;
	struct cc_err pe = {0, ""};
	int ret, member = 0;

	ret = cli_read_file(file, CLI_PUBFILE_MAX, &text, e);
	if (ret < 0)
		goto out;
	ret = node_pub_parse(node, text.p, text.len, &pe);
	if (ret < 0) {
		cc_fail(e, ret, "%s: %s", file, pe.msg);
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		member |= strcmp(gm[i].id, node->id) == 0;
	if (!member)
		ret = cc_fail(e, CLI_EUSAGE,
			      "genesis new: --node %s is the node of '%s', who is not a --member",
			      file, node->id);
out:
	cbuf_free(&text);
	return ret;
}

static int cli_genesis_new(int argc, char **argv, struct cc_err *e)
{
	const char *origin = NULL, *zone = NULL, *consult = NULL, *when = NULL, *outp = NULL;
	const char *sequencer = NULL, *quorum = NULL;
	struct cli_list members = {0}, dns = {0}, nodes = {0};
	const struct cli_opt opts[] = {{"origin", 0, CLI_ARG, &origin},
				       {"member", 0, CLI_LIST, &members},
				       {"dns", 0, CLI_LIST, &dns},
				       {"node", 0, CLI_LIST, &nodes},
				       {"sequencer", 0, CLI_ARG, &sequencer},
				       {"witness-quorum", 0, CLI_ARG, &quorum},
				       {"root-zone", 0, CLI_ARG, &zone},
				       {"consultation", 0, CLI_ARG, &consult},
				       {"time", 0, CLI_ARG, &when},
				       {"output", 'o', CLI_ARG, &outp},
				       {0}};
	struct cli_args a = {0};
	struct genesis_member *gm = NULL;
	struct ledger_node *gn = NULL;
	struct genesis_params gp;
	struct rr_set root = {0};
	struct cbuf bundle = CBUF_INIT;
	int64_t t, delay = CLI_DEFAULT_EXPIRES;
	int ret;

	ret = cli_parse(argc, argv, opts, &a, e);
	if (ret < 0)
		goto out;
	if (a.npos != 0) {
		ret = cc_fail(e, CLI_EUSAGE, "genesis new: unexpected argument '%s'", a.pos[0]);
		goto out;
	}
	if (origin == NULL || outp == NULL || members.n == 0) {
		ret = cc_fail(e, CLI_EUSAGE, "genesis new: --origin, --member and -o are required");
		goto out;
	}
	t = cli_now();
	if (when != NULL && tfmt_parse(when, &t) != 0) {
		ret = cc_fail(e, CLI_EUSAGE,
			      "genesis new: --time '%s' is not like "
			      "2026-11-22T00:00:00Z",
			      when);
		goto out;
	}
	/* the policy's delay; 7 days as in the default policy text */
	if (consult != NULL && tfmt_duration(consult, &delay) != 0) {
		ret = cc_fail(e, CLI_EUSAGE,
			      "genesis new: --consultation '%s' is not a duration "
			      "(7d, 24h, 30m, 90s)",
			      consult);
		goto out;
	}
	gm = calloc(members.n, sizeof(*gm));
	if (gm == NULL) {
		ret = cc_fail(e, CC_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < members.n; i++) {
		ret = cli_member_parse(members.v[i], &gm[i], e);
		if (ret < 0)
			goto out;
		for (size_t j = 0; j < i; j++)
			if (strcmp(gm[j].id, gm[i].id) == 0) {
				ret = cc_fail(e, CLI_EUSAGE, "genesis new: member '%s' given twice",
					      gm[i].id);
				goto out;
			}
	}
	for (size_t i = 0; i < dns.n; i++) {
		ret = cli_dns_parse(dns.v[i], gm, members.n, e);
		if (ret < 0)
			goto out;
	}
	if (nodes.n == 0 && (sequencer != NULL || quorum != NULL)) {
		ret = cc_fail(e, CLI_EUSAGE,
			      "genesis new: --sequencer and --witness-quorum need --node");
		goto out;
	}
	gn = calloc(nodes.n + 1, sizeof(*gn));
	if (gn == NULL) {
		ret = cc_fail(e, CC_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < nodes.n; i++) {
		ret = cli_node_read(nodes.v[i], gm, members.n, &gn[i], e);
		if (ret < 0)
			goto out;
	}
	if (zone != NULL) {
		ret = rr_scan_file(zone, cli_root_add, &root, e);
		if (ret < 0)
			goto out;
	}
	memset(&gp, 0, sizeof(gp));
	gp.origin = origin;
	gp.time = t;
	gp.members = gm;
	gp.nmembers = members.n;
	gp.consultation = delay;
	gp.root = zone != NULL ? &root : NULL;
	gp.nodes = gn;
	gp.nnodes = nodes.n;
	gp.sequencer = sequencer;
	gp.witness_quorum = quorum;
	ret = genesis_build(&gp, &bundle, e);
	if (ret < 0)
		goto out;
	ret = cli_write_excl(outp, bundle.p, bundle.len, 0644, e);
	if (ret == CC_EEXIST)
		cc_fail(e, ret, "%s exists: not overwriting it", outp);
	if (ret < 0)
		goto out;
	if (nodes.n)
		printf("%s: %zu members, %zu nodes, %zu delegation records, unsigned\n", outp,
		       members.n, nodes.n, root.n);
	else
		printf("%s: %zu members, %zu delegation records, unsigned\n", outp, members.n,
		       root.n);
out:
	free(gm);
	free(gn);
	rr_set_free(&root);
	cbuf_free(&bundle);
	cli_list_free(&members);
	cli_list_free(&dns);
	cli_list_free(&nodes);
	cli_args_free(&a);
	return ret;
}

static int cli_genesis_sign(int argc, char **argv, struct cc_err *e)
{
	const char *keyfile = NULL;
	const struct cli_opt opts[] = {{"key", 0, CLI_ARG, &keyfile}, {0}};
	struct cli_args a = {0};
	struct cbuf bundle = CBUF_INIT;
	struct key_pair k;
	int ret;

	memset(&k, 0, sizeof(k));
	ret = cli_parse(argc, argv, opts, &a, e);
	if (ret < 0)
		goto out;
	if (a.npos != 1 || keyfile == NULL) {
		ret = cc_fail(e, CLI_EUSAGE, "genesis sign: expected FILE and --key KEYFILE");
		goto out;
	}
	ret = cli_load_key(keyfile, &k, e);
	if (ret < 0)
		goto out;
	ret = cli_read_file(a.pos[0], CLI_GENESIS_MAX, &bundle, e);
	if (ret < 0)
		goto out;
	ret = genesis_sign(&bundle, &k, e);
	if (ret < 0)
		goto out;
	ret = cli_write_atomic(a.pos[0], bundle.p, bundle.len, 0644, e);
	if (ret < 0)
		goto out;
	printf("%s: signed by %s\n", a.pos[0], k.sign.key.name);
out:
	key_wipe(&k);
	cbuf_free(&bundle);
	cli_args_free(&a);
	return ret;
}

static int cli_genesis_show(int argc, char **argv, struct cc_err *e)
{
	const struct cli_opt opts[] = {{0}};
	struct cli_args a = {0};
	struct cbuf bundle = CBUF_INIT, out = CBUF_INIT;
	int ret;

	ret = cli_parse(argc, argv, opts, &a, e);
	if (ret < 0)
		goto out;
	if (a.npos != 1) {
		ret = cc_fail(e, CLI_EUSAGE, "genesis show: expected FILE");
		goto out;
	}
	ret = cli_read_file(a.pos[0], CLI_GENESIS_MAX, &bundle, e);
	if (ret < 0)
		goto out;
	ret = genesis_describe((const unsigned char *)bundle.p, bundle.len, &out, e);
	if (ret < 0)
		goto out;
	fwrite(out.p, 1, out.len, stdout);
out:
	cbuf_free(&bundle);
	cbuf_free(&out);
	cli_args_free(&a);
	return ret;
}

int cli_genesis(int argc, char **argv, struct cc_err *e)
{
	static const struct {
		const char *name;
		int (*fn)(int argc, char **argv, struct cc_err *e);
	} sub[] = {
	    {"new", cli_genesis_new}, {"sign", cli_genesis_sign}, {"show", cli_genesis_show}};

	if (argc < 2)
		return cc_fail(e, CLI_EUSAGE, "genesis: expected new, sign or show");
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
		return CLI_HELP;
	for (size_t i = 0; i < sizeof(sub) / sizeof(sub[0]); i++)
		if (strcmp(argv[1], sub[i].name) == 0)
			return sub[i].fn(argc - 1, argv + 1, e);
	return cc_fail(e, CLI_EUSAGE, "genesis: unknown subcommand '%s' (new, sign, show)",
		       argv[1]);
}
