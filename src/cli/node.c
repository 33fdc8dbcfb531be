/* concord node keys|init: a node's keys and data directory, made by the node's own code. */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

#include "node/init.h"

static int cli_node_init(int argc, char **argv, struct cc_err *e)
{
	const char *genesis = NULL, *keyfile = NULL, *ksk = NULL;
	const struct cli_opt opts[] = {{"genesis", 0, CLI_ARG, &genesis},
				       {"key", 0, CLI_ARG, &keyfile},
				       {"ksk", 0, CLI_ARG, &ksk},
				       {0}};
	struct cli_args a = {0};
	int ret;

	ret = cli_parse(argc, argv, opts, &a, e);
	if (ret < 0)
		goto out;
	if (a.npos != 1 || genesis == NULL || keyfile == NULL) {
		ret = cc_fail(e, CLI_EUSAGE,
			      "node init: expected DIR, --genesis FILE and --key "
			      "KEYFILE (and maybe --ksk FILE)");
		goto out;
	}
	ret = node_init(a.pos[0], genesis, keyfile, ksk, e);
	if (ret < 0)
		goto out;
	printf("%s: node initialised\n", a.pos[0]);
out:
	cli_args_free(&a);
	return ret;
}

static int cli_node_keys(int argc, char **argv, struct cc_err *e)
{
	const char *member = NULL, *url = NULL;
	const struct cli_opt opts[] = {
	    {"member", 0, CLI_ARG, &member}, {"url", 0, CLI_ARG, &url}, {0}};
	struct cli_args a = {0};
	struct cbuf pub = CBUF_INIT;
	int ret;

	ret = cli_parse(argc, argv, opts, &a, e);
	if (ret < 0)
		goto out;
	if (a.npos != 1 || member == NULL || url == NULL) {
		ret = cc_fail(e, CLI_EUSAGE, "node keys: expected DIR, --member ID and --url URL");
		goto out;
	}
	ret = node_keys(a.pos[0], member, url, &pub, e);
	if (ret < 0)
		goto out;
	fwrite(pub.p, 1, pub.len, stdout);
out:
	cbuf_free(&pub);
	cli_args_free(&a);
	return ret;
}

int cli_node(int argc, char **argv, struct cc_err *e)
{
	if (argc < 2)
		return cc_fail(e, CLI_EUSAGE, "node: expected keys or init");
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
		return CLI_HELP;
	if (strcmp(argv[1], "keys") == 0)
		return cli_node_keys(argc - 1, argv + 1, e);
	if (strcmp(argv[1], "init") == 0)
		return cli_node_init(argc - 1, argv + 1, e);
	return cc_fail(e, CLI_EUSAGE, "node: unknown subcommand '%s' (keys, init)", argv[1]);
}
