/* concord: the command-line client of a Concord node, and its offline tools.
 * A table maps each verb to its function and help; main turns a verb's result into the
 * one-line error and the exit status scripts rely on (0 ok, 1 failure, 2 usage). */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

struct cli_verb {
	const char *name;				    /* as typed */
	const char *summary;				    /* one line for "concord help" */
	int (*fn)(int argc, char **argv, struct cc_err *e); /* NULL for help */
	int node;					    /* takes --node */
	const char *usage;				    /* synopsis lines */
	const char *help;				    /* what it does, options */
};

static const struct cli_verb cli_verbs[] = {
    {"keygen", "create a member key pair", cli_keygen, 0, "concord keygen ID [--dir DIR]",
     "Creates a member's key pair: DIR/ID.key (secret, mode 0600) and DIR/ID.pub.\n"
     "Never overwrites a file. Prints the Ed25519 verifier key line.\n"
     "  --dir DIR   where to write (default: the current directory)\n"},
    {"genesis", "build, sign and inspect a genesis file", cli_genesis, 0,
     "concord genesis new --origin ORIGIN --member ID:CHAMBER:PUBFILE ... [--root-zone FILE]\n"
     "                    [--dns ID=NAME,ADDRESS[,ADDRESS...] ...]\n"
     "                    [--node NODEPUB ... [--sequencer ID] [--witness-quorum N/D]]\n"
     "                    [--consultation DURATION] [--time T] -o FILE\n"
     "concord genesis sign FILE --key KEYFILE\n"
     "concord genesis show FILE",
     "new   builds an unsigned genesis file: the founding members (chambers: government,\n"
     "      private-sector, civil-society, technical, academic), the default policies and\n"
     "      the delegations (NS, DS, glue A/AAAA) of a real root zone file.\n"
     "        --dns ID=NAME,ADDRESS...  member ID's node serves the zone as name server NAME\n"
     "                                  at these addresses (the zone's apex NS set)\n"
     "        --node NODEPUB            a founding member's node (node.pub of node keys);\n"
     "                                  adds policy/network and policy/node (2/3 of all)\n"
     "        --sequencer ID            the node that orders the log (default: the\n"
     "                                  smallest node id)\n"
     "        --witness-quorum N/D      cosignatures that make a checkpoint final, as a\n"
     "                                  share of the nodes (default 2/3)\n"
     "        --consultation DURATION   delay of the gTLD policy (default 7d; 0 for none)\n"
     "        --time T                  genesis time, RFC 3339 UTC (default: now)\n"
     "        -o FILE                   output (never overwritten)\n"
     "sign  adds (or replaces) the key's member signature; the file is replaced atomically.\n"
     "show  lists who has signed and who has not yet.\n"},
    {"node", "create a node's keys and its directory", cli_node, 0,
     "concord node keys DIR --member ID --url URL\n"
     "concord node init DIR --genesis FILE --key KEYFILE [--ksk FILE]",
     "keys  creates DIR (absent or empty) with the node key (node.key), the zone-signing\n"
     "      key (zsk.key) and node.pub, the node record of member ID at API URL URL\n"
     "      (http[s]://HOST[:PORT]), for genesis new --node or a node/ID proposal.\n"
     "      Prints node.pub.\n"
     "init  creates a node's data directory from a fully signed genesis file and the\n"
     "      operator's member key. DIR is absent, empty, or holds what keys made: its\n"
     "      node key then signs the log, and must be the one the genesis lists.\n"
     "        --ksk FILE   the network's key-signing key (made by root ksk), copied to\n"
     "                     DIR/ksk.key: every node then publishes the same DNSKEY RRset\n"
     "                     and signature, under one trust anchor (default: the node makes\n"
     "                     a KSK of its own on the first start)\n"},
    {"propose", "submit a signed change of records", cli_propose, 1,
     "concord propose --key KEYFILE [--node URL] [--expires DURATION] OP...\n"
     "  OP: put PATH FILE|-  |  delete PATH",
     "Builds, signs and submits one proposal with every operation given (a shared name\n"
     "server moves with several puts in one proposal). Versions are read from the node\n"
     "(a missing record is \"new\"). Prints the proposal id on the first line, then\n"
     "\"accepted at index N\" or \"pending: <policy> <what> <have>/<need> [<candidates>]; ...\".\n"
     "  --expires DURATION   validity (default 7d)\n"},
    {"approve", "add your signature to a proposal", cli_approve, 1,
     "concord approve --key KEYFILE [--node URL] PROPOSAL-ID",
     "Signs the proposal's body (checked against its id) and submits the signature.\n"
     "Prints the id and the new status like propose.\n"},
    {"object", "object to a proposal", cli_object, 1,
     "concord object --key KEYFILE [--node URL] PROPOSAL-ID",
     "Submits a signed objection to the proposal. Prints the id and the new status.\n"},
    {"failover", "make, sign offline and submit a note naming a new sequencer", cli_failover, 1,
     "concord failover new ID --key KEYFILE [--node URL] [--expires DURATION] -o FILE\n"
     "concord failover sign FILE --key KEYFILE\n"
     "concord failover submit FILE [--node URL]",
     "A failover note is the proposal \"put network/sequencer\" naming member ID's node,\n"
     "signed by enough members to meet its policy (by default 2/3 of all members) and\n"
     "valid on its own. The sequencer being down, signatures are gathered offline.\n"
     "new     reads network/sequencer's version from the node (any node of the network),\n"
     "        builds the proposal as propose would, signs it with KEYFILE and writes it\n"
     "        to FILE (never overwritten). Prints the proposal id.\n"
     "          --expires DURATION   validity (default 1d)\n"
     "sign    adds (or replaces) the key's member signature to the note in FILE, the\n"
     "        signature lines in order of key name; FILE is replaced atomically. Offline.\n"
     "submit  gives the note to the node (POST /v1/failover). Prints \"taken: ID sequences\n"
     "        the log\" or \"known already: ID sequences the log\"; fails while the\n"
     "        signatures do not meet the policy yet.\n"},
    {"show", "print a record", cli_show, 1, "concord show [--node URL] [--json] PATH",
     "Prints a record's content exactly as \"propose put\" takes it back; on stderr, its\n"
     "version and, on a network of nodes, whether it is final (in a checkpoint a witness\n"
     "quorum of the nodes cosigned).\n"
     "  --json   print the node's JSON answer (version, final, policy, inclusion proof)\n"},
    {"network", "what a node says of the network: log, finality, sequencer, nodes", cli_network, 1,
     "concord network [--node URL] [--json]",
     "Prints the network's origin, the node's log size and how much of it is final (the\n"
     "witness quorum), the sequencer and whether this node follows it, every node with its\n"
     "URL, and the node's alarm if it raised one (exit 1 then).\n"
     "  --json   print the node's JSON answer (GET /v1/network)\n"},
    {"proposals", "list proposals and what they still need", cli_proposals, 1,
     "concord proposals [--node URL] [--status S] [--limit N] [--before CURSOR] [--all]",
     "One line per proposal, newest first:\n"
     "  ID STATUS PROPOSER PATH[,PATH...] MISSING\n"
     "MISSING is what a pending proposal still needs (as in propose), else '-'.\n"
     "The node answers a page at a time (at most 1,000); when more remain, the cursor of\n"
     "the next page is printed on stderr as 'more: --before CURSOR'.\n"
     "  --status S        pending, accepted, rejected or expired\n"
     "  --limit N         at most N per page (1 to 1000)\n"
     "  --before CURSOR   the page after the one that printed CURSOR\n"
     "  --all             every page (from CURSOR, with --before), one after the other\n"},
    {"export-root", "print the governed root delegations", cli_export_root, 1,
     "concord export-root [--node URL]",
     "Prints the governed delegations (NS, DS, glue) as a master file.\n"},
    {"root", "the signed root zone a node serves, and its trust anchor", cli_root, 1,
     "concord root zone [--node URL]\n"
     "concord root trust-anchor [--node URL]\n"
     "concord root ksk FILE",
     "zone          prints the signed root zone (DNSSEC, NSEC, ZONEMD) as a master file.\n"
     "trust-anchor  prints the zone's key-signing key as a DS line and a DNSKEY line, the\n"
     "              form of an unbound trust-anchor-file (and the DS for any resolver).\n"
     "ksk           creates FILE (which must not exist; mode 0600) holding a new\n"
     "              key-signing key for a network, to give every node's init --ksk;\n"
     "              prints its trust anchor as trust-anchor does. Offline.\n"},
    {"replay-root-changes", "replay real root zone changes as proposals", cli_replay, 1,
     "concord replay-root-changes FILE --keys DIR [--node URL] [--from SERIAL] [--limit N]",
     "Replays a file of real root zone changes ($CHANGE blocks of '-' and '+' records) as\n"
     "proposals: one per non-empty block, signed by the keys in DIR (*.key) that the\n"
     "policies call for, until each is accepted. Stops at the first refusal.\n"
     "  --from SERIAL   skip the blocks whose old serial is below SERIAL\n"
     "  --limit N       replay at most N blocks (empty ones count)\n"},
    {"verify", "audit a node by replaying its whole log", cli_verify, 0,
     "concord verify URL [--log-key VKEY] [--serial]",
     "Audits a node from outside: checks its checkpoint's signature, replays every entry of\n"
     "its log from genesis (every signature, every policy decision), rebuilds the Merkle\n"
     "tree and compares root, hash tiles, record list and exported root zone with what the\n"
     "node serves. Exit 0 only when all of it holds.\n"
     "  --log-key VKEY   pin the log's verifier key (default: the one GET /v1/network names)\n"
     "  --serial         let the ledger check every signature itself, on one core\n"},
    {"help", "explain the verbs", NULL, 0, "concord help [VERB]",
     "Lists the verbs, or explains one.\n"},
};

#define CLI_NVERBS (sizeof(cli_verbs) / sizeof(cli_verbs[0]))

static const struct cli_verb *cli_find(const char *name)
{
	for (size_t i = 0; i < CLI_NVERBS; i++)
		if (strcmp(cli_verbs[i].name, name) == 0)
			return &cli_verbs[i];
	return NULL;
}

static void cli_help_verb(FILE *f, const struct cli_verb *v)
{
	fprintf(f, "usage: %s\n\n%s", v->usage, v->help);
	if (v->node)
		fprintf(f, "  --node URL   the node (default: $CONCORD_NODE, else %s)\n",
			CLI_DEFAULT_NODE);
}

static void cli_help_all(FILE *f)
{
	fprintf(f, "usage: concord VERB [OPTIONS] [ARGS]\n\nverbs:\n");
	for (size_t i = 0; i < CLI_NVERBS; i++)
		fprintf(f, "  %-20s %s\n", cli_verbs[i].name, cli_verbs[i].summary);
	fprintf(f, "\n\"concord help VERB\" or \"concord VERB --help\" explains one.\n"
		   "Exit status: 0 success, 1 failure, 2 usage error.\n");
}

static int cli_help(int argc, char **argv)
{
	const struct cli_verb *v;

	if (argc < 3) {
		cli_help_all(stdout);
		return 0;
	}
	v = cli_find(argv[2]);
	if (v == NULL) {
		fprintf(stderr, "concord: help: unknown verb '%s' (see concord help)\n", argv[2]);
		return 2;
	}
	cli_help_verb(stdout, v);
	return 0;
}

int main(int argc, char **argv)
{
	struct cc_err e = {0, ""};
	const struct cli_verb *v;
	int ret;

	if (argc < 2) {
		cli_help_all(stderr);
		return 2;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
		return cli_help(1, argv);
	v = cli_find(argv[1]);
	if (v == NULL) {
		fprintf(stderr, "concord: unknown verb '%s' (see concord help)\n", argv[1]);
		return 2;
	}
	if (v->fn == NULL)
		return cli_help(argc, argv);
	ret = v->fn(argc - 1, argv + 1, &e);
	/* stdout may be a pipe or a full disk: a lost line is a failure too */
	if (fflush(stdout) != 0 && ret == 0) {
		fprintf(stderr, "concord: cannot write standard output\n");
		return 1;
	}
	if (ret == 0)
		return 0;
	if (ret == CLI_HELP) {
		cli_help_verb(stdout, v);
		return 0;
	}
	/* one line, so that scripts can show it as it is */
	if (ret == CLI_EUSAGE)
		fprintf(stderr, "concord: %s (see concord help %s)\n", e.msg, v->name);
	else if (ret != CLI_EREPORTED)
		fprintf(stderr, "concord: %s\n", e.msg[0] != '\0' ? e.msg : cc_strerror(ret));
	return ret == CLI_EUSAGE ? 2 : 1;
}
