/* The concord command-line tool: verbs and the helpers they share. A verb returns 0 or a
 * negative code with e set; main prints "concord: <e->msg>" and maps the code to the exit
 * status (CLI_EUSAGE -> 2, CLI_HELP -> the verb's help and 0, anything else -> 1). */
#ifndef CONCORD_CLI_H
#define CONCORD_CLI_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "node/http.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/key.h"

#define CLI_EUSAGE    (-100) /* bad command line: exit 2 */
#define CLI_HELP      (-101) /* --help was given: print the verb's help, exit 0 */
#define CLI_EREPORTED (-102) /* failure already explained on stderr: exit 1, print nothing */

#define CLI_DEFAULT_NODE    "http://127.0.0.1:8053"
#define CLI_DEFAULT_EXPIRES (7 * 86400)

enum cli_opt_kind {
	CLI_FLAG, /* dest is int *, set to 1 */
	CLI_ARG,  /* dest is const char **, the option's value */
	CLI_LIST  /* dest is struct cli_list *, every value in order */
};

struct cli_list {
	const char **v; /* values (point into argv) */
	size_t n;	/* how many */
};

struct cli_opt {
	const char *name; /* long name without "--" */
	char short_name;  /* single-letter form ("-o"), 0 when none */
	int kind;	  /* enum cli_opt_kind */
	void *dest;	  /* see enum cli_opt_kind */
};

struct cli_args {
	char **pos;  /* positional arguments in order (owned array, strings in argv) */
	size_t npos; /* how many */
};

/* Parses argv[1..argc-1] (argv[0] is the verb): options may come anywhere, "--" ends them,
 * a lone "-" is positional (stdin). opts ends with a zero entry. "--help" returns CLI_HELP. */
int cli_parse(int argc, char **argv, const struct cli_opt *opts, struct cli_args *a,
	      struct cc_err *e);
void cli_args_free(struct cli_args *a);
void cli_list_free(struct cli_list *l);

/* --node value, else $CONCORD_NODE, else CLI_DEFAULT_NODE. */
const char *cli_node_url(const char *opt);

int cli_read_file(const char *path, size_t max, struct cbuf *out, struct cc_err *e);
/* Writes through a temporary file in the same directory and rename(2), so a reader never sees
 * half a file; the file and then its directory are fsynced, so the new name survives a crash. */
int cli_write_atomic(const char *path, const void *data, size_t len, int mode, struct cc_err *e);
/* Creates path (O_EXCL: an existing file is never overwritten). */
int cli_write_excl(const char *path, const void *data, size_t len, int mode, struct cc_err *e);

int cli_load_key(const char *path, struct key_pair *k, struct cc_err *e);

/* GET path and parse the answer as a JSON object. */
int cli_get_json(struct http *h, const char *path, json_t **out, struct cc_err *e);
/* A node's answer as it is, ending with a newline (--json). */
void cli_print_answer(const struct http_resp *r);
int cli_parse_json(const struct http_resp *r, json_t **out, struct cc_err *e);
/* The network's origin from GET /v1/network (origin holds 256 bytes). */
int cli_network_origin(struct http *h, char *origin, size_t size, struct cc_err *e);

/* The node's current version of path (GET /v1/records/PATH), PROPOSAL_VERSION_NEW when it
 * has none. */
int cli_current_version(struct http *h, const char *path, int64_t *version, struct cc_err *e);

/* One line saying where a proposal (API JSON) stands, without '\n':
 * "accepted at index N", "pending: <need>; <need>", "rejected: <reason>". */
int cli_status_line(json_t *prop, struct cbuf *out);
/* Prints "<id>\n<status line>\n" to stdout. */
int cli_print_proposal(const char *id, json_t *prop);

int64_t cli_now(void);

/* Verbs. */
int cli_keygen(int argc, char **argv, struct cc_err *e);
int cli_genesis(int argc, char **argv, struct cc_err *e);
int cli_node(int argc, char **argv, struct cc_err *e);
int cli_propose(int argc, char **argv, struct cc_err *e);
int cli_approve(int argc, char **argv, struct cc_err *e);
int cli_object(int argc, char **argv, struct cc_err *e);
int cli_show(int argc, char **argv, struct cc_err *e);
int cli_proposals(int argc, char **argv, struct cc_err *e);
int cli_export_root(int argc, char **argv, struct cc_err *e);
int cli_root(int argc, char **argv, struct cc_err *e);
int cli_replay(int argc, char **argv, struct cc_err *e);
int cli_verify(int argc, char **argv, struct cc_err *e);
int cli_failover(int argc, char **argv, struct cc_err *e);
int cli_network(int argc, char **argv, struct cc_err *e);

#endif
