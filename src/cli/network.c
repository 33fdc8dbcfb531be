/* concord network: what one node says of the network: its log and how much of it is final,
 * the sequencer, the nodes, an alarm. The answer of GET /v1/network, for people. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "node/http.h"

static const char *str(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "?";
}

static void network_print(json_t *j)
{
	json_t *nodes = json_object_get(j, "nodes"), *nd, *alarm = json_object_get(j, "alarm");
	json_int_t size = json_integer_value(json_object_get(j, "tree_size"));
	json_int_t final = json_integer_value(json_object_get(j, "final_size"));
	json_int_t need = json_integer_value(json_object_get(j, "witness_need"));
	const char *seq = str(j, "sequencer"), *me = str(j, "node");
	size_t i;

	printf("origin     %s\n", str(j, "origin"));
	if (need > 0)
		printf("log        %lld entries, final up to %lld (%s of the nodes cosign: %lld)\n",
		       (long long)size, (long long) final, str(j, "witness_quorum"),
		       (long long)need);
	else
		printf("log        %lld entries (no witness quorum: no entry is final)\n",
		       (long long)size);
	if (json_array_size(nodes) == 0) {
		printf("nodes      one, no sequencer named\n");
	} else {
		printf("sequencer  %s\n", seq);
		printf("this node  %s, %s\n", me,
		       json_is_true(json_object_get(j, "following"))
			   ? "following the sequencer"
			   : (strcmp(me, seq) == 0 ? "sequencing" : "following no one"));
		json_array_foreach(nodes, i, nd)
		{
			const char *id = str(nd, "id");

			printf("node       %-12s %s%s\n", id, str(nd, "url"),
			       strcmp(id, seq) == 0 ? "  (sequencer)" : "");
		}
	}
	if (json_is_object(alarm))
		printf("ALARM      %s: %s\n", str(alarm, "kind"), str(alarm, "detail"));
	else
		printf("alarm      none\n");
}

int cli_network(int argc, char **argv, struct cc_err *e)
{
	const char *node = NULL;
	int json = 0;
	const struct cli_opt opts[] = {
	    {"node", 0, CLI_ARG, &node}, {"json", 0, CLI_FLAG, &json}, {0}};
	struct cli_args a = {0};
	struct http *h = NULL;
	struct http_resp r = {0};
	json_t *j = NULL;
	int ret;

	if ((ret = cli_parse(argc, argv, opts, &a, e)) < 0)
		goto out;
	if (a.npos != 0) {
		ret = cc_fail(e, CLI_EUSAGE, "network: no argument expected");
		goto out;
	}
	if ((ret = http_new(&h, cli_node_url(node), e)) < 0 ||
	    (ret = http_get(h, "/v1/network", HTTP_MAX_JSON, &r, e)) < 0)
		goto out;
	if (json) {
		cli_print_answer(&r);
		goto out;
	}
	if ((ret = cli_parse_json(&r, &j, e)) < 0)
		goto out;
	network_print(j);
	/* an alarm is the node's verdict on the network: said by the exit status too */
	if (json_is_object(json_object_get(j, "alarm")))
		ret = cc_fail(e, CC_ECONFLICT, "the node raised an alarm (GET /v1/alarm)");
out:
	json_decref(j);
	http_resp_free(&r);
	http_free(h);
	cli_args_free(&a);
	return ret;
}
