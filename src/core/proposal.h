/* Proposals: signed notes that change records. Body (the note text):
 *
 *   concord proposal v1
 *   origin <network origin>
 *   proposer <member id>
 *   created <time>
 *   expires <time>
 *   put <path> <version|new> <n>      followed by n content lines
 *   delete <path> <version>
 *   ...                               (1..PROPOSAL_MAX_OPS operations, distinct paths)
 *
 * A version is the log index of the entry that last wrote the record; "new" means the record
 * must not exist. The proposal id is the lower-case hex SHA-256 of the body. Approving is
 * adding a signature to the same body. */
#ifndef CONCORD_PROPOSAL_H
#define CONCORD_PROPOSAL_H

#include <stdint.h>

#include "core/note.h"

#define PROPOSAL_MAX_OPS     256
#define PROPOSAL_ID_LEN	     64
#define PATH_MAX_LEN	     300
#define MEMBER_ID_MAX	     32
#define PROPOSAL_VERSION_NEW (-1)

enum proposal_op_kind { OP_PUT = 1, OP_DELETE = 2 };

struct proposal_op {
	int kind;		     /* OP_PUT or OP_DELETE */
	char path[PATH_MAX_LEN + 1]; /* e.g. "tld/cn" */
	int64_t version;	     /* expected current version, PROPOSAL_VERSION_NEW if absent */
	const char *content;	     /* put: content lines, '\n'-terminated, inside body text */
	size_t content_len;	     /* put: bytes of content */
};

struct proposal {
	char id[PROPOSAL_ID_LEN + 1];	  /* hex SHA-256 of the body */
	char origin[256];		  /* network the proposal is for */
	char proposer[MEMBER_ID_MAX + 1]; /* member who made it; must sign it */
	int64_t created;		  /* when it was made */
	int64_t expires;		  /* last second it may be accepted */
	struct proposal_op *ops;	  /* operations, in body order */
	size_t nops;			  /* number of operations */
	char *body;			  /* the note text, owned, NUL-terminated */
	size_t body_len;		  /* bytes of body */
};

/* Parses a proposal body (a note text, without signatures). Strict: exact header lines,
 * valid paths, distinct paths, content lines non-empty. */
int proposal_parse(struct proposal *p, const char *body, size_t len, struct cc_err *e);
void proposal_free(struct proposal *p);

/* Builds a body from parts (used by the CLI); ops' content may be NULL for deletes. */
int proposal_format(struct cbuf *out, const char *origin, const char *proposer, int64_t created,
		    int64_t expires, const struct proposal_op *ops, size_t nops);

/* The id of a body: hex SHA-256. */
void proposal_id(const char *body, size_t len, char id[PROPOSAL_ID_LEN + 1]);

/* Path syntax: "tld/<label>", "host/<absolute name>", "member/<id>", "policy/<name>",
 * "node/<member id>", "network/<name>". */
int path_valid(const char *path, struct cc_err *e);
/* Member ids: 1..32 of [a-z0-9-], starting with a letter or digit. */
int member_id_valid(const char *id);

#endif
