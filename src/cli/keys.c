/* concord keygen: a member's key files. */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/proposal.h"

int cli_keygen(int argc, char **argv, struct cc_err *e)
{
	const char *dir = ".";
	const struct cli_opt opts[] = {{"dir", 0, CLI_ARG, &dir}, {0}};
	struct cli_args a = {0};
	struct key_pair k;
	struct key_pub pub;
	struct cbuf priv = CBUF_INIT, pubtext = CBUF_INIT, vkey = CBUF_INIT;
	struct cbuf kpath = CBUF_INIT, ppath = CBUF_INIT;
	int ret, wrote_key = 0;

	memset(&k, 0, sizeof(k));
	ret = cli_parse(argc, argv, opts, &a, e);
	if (ret < 0)
		return ret;
	if (a.npos != 1) {
		ret = cc_fail(e, CLI_EUSAGE, "keygen: expected one ID");
		goto out;
	}
	if (!member_id_valid(a.pos[0])) {
		ret = cc_fail(e, CLI_EUSAGE,
			      "keygen: '%s' is not a member id (1-32 of a-z, 0-9, '-')", a.pos[0]);
		goto out;
	}
	if (cbuf_printf(&kpath, "%s/%s.key", dir, a.pos[0]) != 0 ||
	    cbuf_printf(&ppath, "%s/%s.pub", dir, a.pos[0]) != 0) {
		ret = cc_fail(e, CC_ENOMEM, "out of memory");
		goto out;
	}
	/* checked before generating so that neither file is written when one exists */
	if (access(kpath.p, F_OK) == 0 || access(ppath.p, F_OK) == 0) {
		ret = cc_fail(e, CC_EEXIST, "%s exists: not overwriting it",
			      access(kpath.p, F_OK) == 0 ? kpath.p : ppath.p);
		goto out;
	}
	ret = key_generate(&k, a.pos[0], e);
	if (ret < 0)
		goto out;
	key_public(&k, &pub);
	if (key_format_private(&k, &priv) != 0 || key_format_public(&pub, &pubtext) != 0 ||
	    note_vkey_format(&pub.sign, &vkey) != 0) {
		ret = cc_fail(e, CC_ENOMEM, "out of memory");
		goto out;
	}
	ret = cli_write_excl(kpath.p, priv.p, priv.len, 0600, e);
	if (ret == CC_EEXIST)
		cc_fail(e, ret, "%s exists: not overwriting it", kpath.p);
	if (ret < 0)
		goto out;
	wrote_key = 1;
	ret = cli_write_excl(ppath.p, pubtext.p, pubtext.len, 0644, e);
	if (ret < 0)
		goto out;
	printf("%s\n", vkey.p);
out:
	/* a key without its public half would be an orphan nobody can enrol */
	if (ret < 0 && wrote_key)
		unlink(kpath.p);
	key_wipe(&k);
	if (priv.p != NULL)
		memset(priv.p, 0, priv.cap);
	cbuf_free(&priv);
	cbuf_free(&pubtext);
	cbuf_free(&vkey);
	cbuf_free(&kpath);
	cbuf_free(&ppath);
	cli_args_free(&a);
	return ret;
}
