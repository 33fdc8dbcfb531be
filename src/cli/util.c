/* Helpers shared by the verbs: option parsing, files, keys, JSON answers, status lines. */
#include "cli/cli.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int64_t cli_now(void)
{
	return (int64_t)time(NULL);
}

const char *cli_node_url(const char *opt)
{
	const char *env = getenv("CONCORD_NODE");

	if (opt != NULL)
		return opt;
	if (env != NULL && env[0] != '\0')
		return env;
	return CLI_DEFAULT_NODE;
}

void cli_args_free(struct cli_args *a)
{
	free(a->pos);
	a->pos = NULL;
	a->npos = 0;
}

void cli_list_free(struct cli_list *l)
{
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static int cli_set_opt(const struct cli_opt *o, const char *value, struct cc_err *e)
{
	struct cli_list *l;
	const char **v;

	switch (o->kind) {
	case CLI_FLAG:
		*(int *)o->dest = 1;
		return 0;
	case CLI_ARG:
		*(const char **)o->dest = value;
		return 0;
	default:
		l = o->dest;
		v = realloc(l->v, (l->n + 1) * sizeof(*v));
		if (v == NULL)
			return cc_fail(e, CC_ENOMEM, "out of memory");
		v[l->n++] = value;
		l->v = v;
		return 0;
	}
}

int cli_parse(int argc, char **argv, const struct cli_opt *opts, struct cli_args *a,
	      struct cc_err *e)
{
	int i, only_pos = 0, ret;

	a->pos = calloc((size_t)argc + 1, sizeof(*a->pos));
	a->npos = 0;
	if (a->pos == NULL)
		return cc_fail(e, CC_ENOMEM, "out of memory");
	for (i = 1; i < argc; i++) {
		const char *arg = argv[i], *name, *value = NULL, *eq;
		const struct cli_opt *o = NULL;
		size_t nlen;

		if (only_pos || arg[0] != '-' || arg[1] == '\0') {
			a->pos[a->npos++] = argv[i];
			continue;
		}
		if (strcmp(arg, "--") == 0) {
			only_pos = 1;
			continue;
		}
		if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
			ret = CLI_HELP;
			goto fail;
		}
		if (arg[1] == '-') {
			name = arg + 2;
			eq = strchr(name, '=');
			nlen = eq != NULL ? (size_t)(eq - name) : strlen(name);
			for (const struct cli_opt *p = opts; p->name != NULL; p++)
				if (strlen(p->name) == nlen && strncmp(p->name, name, nlen) == 0)
					o = p;
			if (eq != NULL)
				value = eq + 1;
		} else if (arg[2] == '\0') {
			for (const struct cli_opt *p = opts; p->name != NULL; p++)
				if (p->short_name == arg[1])
					o = p;
		}
		if (o == NULL) {
			ret = cc_fail(e, CLI_EUSAGE, "%s: unknown option %s", argv[0], arg);
			goto fail;
		}
		if (o->kind == CLI_FLAG) {
			if (value != NULL) {
				ret = cc_fail(e, CLI_EUSAGE, "%s: %s takes no value", argv[0], arg);
				goto fail;
			}
		} else if (value == NULL) {
			if (i + 1 >= argc) {
				ret = cc_fail(e, CLI_EUSAGE, "%s: %s needs a value", argv[0], arg);
				goto fail;
			}
			value = argv[++i];
		}
		ret = cli_set_opt(o, value, e);
		if (ret < 0)
			goto fail;
	}
	return 0;
fail:
	cli_args_free(a);
	return ret;
}

int cli_read_file(const char *path, size_t max, struct cbuf *out, struct cc_err *e)
{
	FILE *f = stdin;
	char chunk[65536];
	size_t n;
	int ret = 0;

	cbuf_reset(out);
	if (strcmp(path, "-") != 0) {
		f = fopen(path, "rb");
		if (f == NULL)
			return cc_fail(e, errno == ENOENT ? CC_ENOENT : CC_EIO, "%s: %s", path,
				       strerror(errno));
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (out->len + n > max) {
			ret = cc_fail(e, CC_ETOOBIG, "%s: larger than %zu bytes", path, max);
			goto out;
		}
		if (cbuf_put(out, chunk, n) != 0) {
			ret = cc_fail(e, CC_ENOMEM, "out of memory");
			goto out;
		}
	}
	if (ferror(f)) {
		ret = cc_fail(e, CC_EIO, "%s: read error", path);
		goto out;
	}
	if (out->p == NULL && cbuf_put(out, "", 0) != 0)
		ret = cc_fail(e, CC_ENOMEM, "out of memory");
out:
	if (f != stdin)
		fclose(f);
	return ret;
}

static int cli_write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t w = write(fd, p, len);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

int cli_write_excl(const char *path, const void *data, size_t len, int mode, struct cc_err *e)
{
	int fd, ret = 0;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0)
		return cc_fail(e, errno == EEXIST ? CC_EEXIST : CC_EIO, "%s: %s", path,
			       strerror(errno));
	if (cli_write_all(fd, data, len) != 0 || fsync(fd) != 0) {
		ret = cc_fail(e, CC_EIO, "%s: %s", path, strerror(errno));
		unlink(path);
	}
	if (close(fd) != 0 && ret == 0)
		ret = cc_fail(e, CC_EIO, "%s: %s", path, strerror(errno));
	return ret;
}

/* fsync of the directory holding path: a rename is durable only once its directory is. */
static int cli_fsync_dir(const char *path, struct cc_err *e)
{
	const char *slash = strrchr(path, '/');
	struct cbuf dir = CBUF_INIT;
	int fd = -1, ret = 0;

	if (slash == NULL)
		ret = cbuf_puts(&dir, ".");
	else if (slash == path)
		ret = cbuf_puts(&dir, "/");
	else
		ret = cbuf_put(&dir, path, (size_t)(slash - path));
	if (ret != 0) {
		ret = cc_fail(e, CC_ENOMEM, "out of memory");
		goto out;
	}
	fd = open(dir.p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) != 0)
		ret = cc_fail(e, CC_EIO, "%s: %s", dir.p, strerror(errno));
out:
	if (fd >= 0)
		close(fd);
	cbuf_free(&dir);
	return ret;
}

int cli_write_atomic(const char *path, const void *data, size_t len, int mode, struct cc_err *e)
{
	struct cbuf tmp = CBUF_INIT;
	int fd = -1, ret;

	if (cbuf_printf(&tmp, "%s.tmpXXXXXX", path) != 0)
		return cc_fail(e, CC_ENOMEM, "out of memory");
	fd = mkstemp(tmp.p);
	if (fd < 0) {
		ret = cc_fail(e, CC_EIO, "%s: %s", tmp.p, strerror(errno));
		goto out;
	}
	if (fchmod(fd, (mode_t)mode) != 0 || cli_write_all(fd, data, len) != 0 || fsync(fd) != 0) {
		ret = cc_fail(e, CC_EIO, "%s: %s", tmp.p, strerror(errno));
		goto out;
	}
	if (close(fd) != 0) {
		fd = -1;
		ret = cc_fail(e, CC_EIO, "%s: %s", tmp.p, strerror(errno));
		goto out;
	}
	fd = -1;
	if (rename(tmp.p, path) != 0) {
		ret = cc_fail(e, CC_EIO, "%s: %s", path, strerror(errno));
		goto out;
	}
	/* the new file is in place: from here on there is no temporary file to remove */
	cbuf_free(&tmp);
	ret = cli_fsync_dir(path, e);
out:
	if (fd >= 0)
		close(fd);
	if (ret != 0 && tmp.p != NULL)
		unlink(tmp.p);
	cbuf_free(&tmp);
	return ret;
}

int cli_load_key(const char *path, struct key_pair *k, struct cc_err *e)
{
	struct cbuf b = CBUF_INIT;
	struct cc_err ke = {0, ""};
	int ret;

	ret = cli_read_file(path, 4096, &b, e);
	if (ret < 0)
		goto out;
	ret = key_parse_private(k, b.p, b.len, &ke);
	if (ret < 0)
		cc_fail(e, ret, "%s: %s", path, ke.msg[0] != '\0' ? ke.msg : cc_strerror(ret));
out:
	/* the buffer held the secret key */
	if (b.p != NULL)
		memset(b.p, 0, b.cap);
	cbuf_free(&b);
	return ret;
}

void cli_print_answer(const struct http_resp *r)
{
	fwrite(r->body.p, 1, r->body.len, stdout);
	if (r->body.len > 0 && r->body.p[r->body.len - 1] != '\n')
		putchar('\n');
}

int cli_parse_json(const struct http_resp *r, json_t **out, struct cc_err *e)
{
	json_error_t je;
	json_t *j;

	j = json_loadb(r->body.p, r->body.len, 0, &je);
	if (j == NULL)
		return cc_fail(e, CC_EINVAL, "node answered invalid JSON: %s", je.text);
	if (!json_is_object(j)) {
		json_decref(j);
		return cc_fail(e, CC_EINVAL, "node answered JSON that is not an object");
	}
	*out = j;
	return 0;
}

int cli_get_json(struct http *h, const char *path, json_t **out, struct cc_err *e)
{
	struct http_resp r = {0};
	int ret;

	*out = NULL;
	ret = http_get(h, path, HTTP_MAX_JSON, &r, e);
	if (ret == 0)
		ret = cli_parse_json(&r, out, e);
	http_resp_free(&r);
	return ret;
}

int cli_network_origin(struct http *h, char *origin, size_t size, struct cc_err *e)
{
	json_t *net = NULL;
	const char *o;
	int ret;

	ret = cli_get_json(h, "/v1/network", &net, e);
	if (ret < 0)
		return ret;
	o = json_string_value(json_object_get(net, "origin"));
	if (o == NULL || strlen(o) >= size) {
		ret = cc_fail(e, CC_EINVAL, "GET /v1/network: no usable origin");
		goto out;
	}
	strcpy(origin, o);
out:
	json_decref(net);
	return ret;
}

/* Appends the unmet needs: "<policy> <what> <have>/<need> [<candidates>]" joined by "; ". */
static int cli_needs_missing(json_t *prop, struct cbuf *out)
{
	json_t *needs = json_object_get(prop, "needs"), *n;
	size_t i, k = 0;

	json_array_foreach(needs, i, n)
	{
		json_t *cand = json_object_get(n, "candidates"), *c;
		json_int_t have = json_integer_value(json_object_get(n, "have"));
		json_int_t need = json_integer_value(json_object_get(n, "need"));
		const char *pol = json_string_value(json_object_get(n, "policy"));
		const char *what = json_string_value(json_object_get(n, "what"));
		size_t j;

		if (json_is_true(json_object_get(n, "met")) || have >= need)
			continue;
		if (cbuf_printf(out, "%s%s %s %lld/%lld [", k++ > 0 ? "; " : "",
				pol != NULL ? pol : "?", what != NULL ? what : "?", (long long)have,
				(long long)need) != 0)
			return CC_ENOMEM;
		json_array_foreach(cand, j, c)
		{
			if (cbuf_printf(out, "%s%s", j > 0 ? " " : "",
					json_string_value(c) != NULL ? json_string_value(c) : "?"))
				return CC_ENOMEM;
		}
		if (cbuf_puts(out, "]") != 0)
			return CC_ENOMEM;
	}
	return (int)k;
}

int cli_status_line(json_t *prop, struct cbuf *out)
{
	const char *status = json_string_value(json_object_get(prop, "status"));
	const char *reason = json_string_value(json_object_get(prop, "reason"));
	const char *nb = json_string_value(json_object_get(prop, "not_before"));
	json_t *index = json_object_get(prop, "index");
	int n;

	if (status == NULL)
		return cbuf_puts(out, "unknown");
	if (strcmp(status, "accepted") == 0 && json_is_integer(index))
		return cbuf_printf(out, "accepted at index %lld",
				   (long long)json_integer_value(index));
	if (strcmp(status, "pending") == 0) {
		if (cbuf_puts(out, "pending: ") != 0)
			return CC_ENOMEM;
		n = cli_needs_missing(prop, out);
		if (n < 0)
			return n;
		/* every signature is in: only the consultation period holds it back */
		if (n == 0)
			return cbuf_printf(out, "consultation until %s", nb != NULL ? nb : "?");
		return 0;
	}
	if (reason != NULL)
		return cbuf_printf(out, "%s: %s", status, reason);
	return cbuf_puts(out, status);
}

int cli_print_proposal(const char *id, json_t *prop)
{
	struct cbuf line = CBUF_INIT;
	int ret;

	ret = cli_status_line(prop, &line);
	if (ret == 0)
		printf("%s\n%s\n", id, line.p);
	cbuf_free(&line);
	return ret < 0 ? CC_ENOMEM : 0;
}
