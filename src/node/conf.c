#include "node/conf.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/key.h"

int conf_path(char out[CONF_PATH_MAX], const char *dir, const char *file, struct cc_err *e)
{
	int n = snprintf(out, CONF_PATH_MAX, "%s/%s", dir, file);

	if (n < 0 || n >= CONF_PATH_MAX)
		return cc_fail(e, CC_EINVAL, "%s: path too long", dir);
	return 0;
}

int conf_split_addr(const char *s, char host[CONF_ADDR_MAX], unsigned *port, struct cc_err *e)
{
	const char *colon, *h = s;
	size_t hlen;
	char *end;
	unsigned long p;

	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (close == NULL || close[1] != ':')
			goto bad;
		h = s + 1;
		hlen = (size_t)(close - h);
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL || memchr(s, ':', (size_t)(colon - s)) != NULL)
			goto bad;
		hlen = (size_t)(colon - s);
	}
	if (hlen == 0 || hlen >= CONF_ADDR_MAX || colon[1] < '0' || colon[1] > '9')
		goto bad;
	errno = 0;
	p = strtoul(colon + 1, &end, 10);
	if (errno || *end != '\0' || p > 65535)
		goto bad;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	*port = (unsigned)p;
	return 0;
bad:
	return cc_fail(e, CC_EINVAL, "%s: not an address ADDR:PORT or [ADDR6]:PORT", s);
}

int conf_parse(struct conf *c, const char *text, size_t len, struct cc_err *e)
{
	const char *p = text, *end = text + len;
	unsigned lineno = 0, port;
	char host[CONF_ADDR_MAX];
	int ret;

	memset(c, 0, sizeof(*c));
	snprintf(c->http, sizeof(c->http), "%s", CONF_HTTP_DEFAULT);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		char line[256], key[32], val[CONF_ADDR_MAX + 1], extra[2];
		int k;

		lineno++;
		if (n >= sizeof(line))
			return cc_fail(e, CC_EINVAL, "%s line %u: too long", CONF_FILE, lineno);
		memcpy(line, p, n);
		line[n] = '\0';
		p += n + (nl != NULL);
		if (strchr(line, '#'))
			*strchr(line, '#') = '\0';
		k = sscanf(line, "%31s %128s %1s", key, val, extra);
		if (k <= 0)
			continue;
		if (k != 2)
			return cc_fail(e, CC_EINVAL, "%s line %u: expected \"<key> <value>\"",
				       CONF_FILE, lineno);
		if (strcmp(key, "member") == 0) {
			if (!member_id_valid(val))
				return cc_fail(e, CC_EINVAL, "%s line %u: invalid member id %s",
					       CONF_FILE, lineno, val);
			snprintf(c->member, sizeof(c->member), "%s", val);
		} else if (strcmp(key, "http") == 0) {
			if ((ret = conf_split_addr(val, host, &port, e)) < 0)
				return ret;
			snprintf(c->http, sizeof(c->http), "%s", val);
		} else {
			return cc_fail(e, CC_EINVAL, "%s line %u: unknown key %s", CONF_FILE,
				       lineno, key);
		}
	}
	if (c->member[0] == '\0')
		return cc_fail(e, CC_EINVAL, "%s: no \"member <id>\" line", CONF_FILE);
	return 0;
}

int conf_format(const struct conf *c, struct cbuf *out)
{
	return cbuf_printf(out, "member %s\nhttp %s\n", c->member, c->http);
}

int conf_read_file(const char *path, size_t max, struct cbuf *out, struct cc_err *e)
{
	char chunk[4096];
	ssize_t n;
	int fd, ret = 0;

	cbuf_reset(out);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return cc_fail(e, errno == ENOENT ? CC_ENOENT : CC_EIO, "%s: %s", path,
			       strerror(errno));
	while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			ret = cc_fail(e, CC_EIO, "%s: %s", path, strerror(errno));
			goto out;
		}
		if (out->len + (size_t)n > max) {
			ret = cc_fail(e, CC_ETOOBIG, "%s: larger than %zu bytes", path, max);
			goto out;
		}
		if (cbuf_put(out, chunk, (size_t)n) < 0) {
			ret = cc_fail(e, CC_ENOMEM, "out of memory");
			goto out;
		}
	}
	if (out->p == NULL && cbuf_reserve(out, 0) < 0)
		ret = cc_fail(e, CC_ENOMEM, "out of memory");
	else
		out->p[out->len] = '\0';
out:
	close(fd);
	return ret;
}

int conf_write_file(const char *path, const void *data, size_t len, mode_t mode, struct cc_err *e)
{
	const char *p = data;
	ssize_t n;
	int fd, ret = 0;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0)
		return cc_fail(e, errno == EEXIST ? CC_EEXIST : CC_EIO, "%s: %s", path,
			       strerror(errno));
	while (len > 0) {
		n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			ret = cc_fail(e, CC_EIO, "%s: %s", path, strerror(errno));
			goto out;
		}
		p += n;
		len -= (size_t)n;
	}
	if (fsync(fd) < 0)
		ret = cc_fail(e, CC_EIO, "%s: fsync: %s", path, strerror(errno));
out:
	if (close(fd) < 0 && ret == 0)
		ret = cc_fail(e, CC_EIO, "%s: %s", path, strerror(errno));
	/* Created here, so ours to remove: a half-written file must not pass for a whole one. */
	if (ret < 0)
		unlink(path);
	return ret;
}

int conf_sync_dir(const char *dir, struct cc_err *e)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int ret = 0;

	if (fd < 0)
		return cc_fail(e, CC_EIO, "%s: %s", dir, strerror(errno));
	if (fsync(fd) < 0)
		ret = cc_fail(e, CC_EIO, "%s: fsync: %s", dir, strerror(errno));
	close(fd);
	return ret;
}

int conf_read(struct conf *c, const char *dir, struct cc_err *e)
{
	char path[CONF_PATH_MAX];
	struct cbuf b = CBUF_INIT;
	int ret;

	if ((ret = conf_path(path, dir, CONF_FILE, e)) < 0)
		return ret;
	if ((ret = conf_read_file(path, 65536, &b, e)) < 0)
		goto out;
	if ((ret = conf_parse(c, b.p, b.len, e)) < 0)
		goto out;
out:
	cbuf_free(&b);
	return ret;
}

/* A secret key file: one PRIVATE+KEY line, named name when name is not NULL. */
static int conf_read_signer(const char *path, const char *name, struct note_signer *s,
			    struct cc_err *e)
{
	struct cbuf b = CBUF_INIT;
	struct stat sb;
	size_t n;
	int ret;

	if (stat(path, &sb) == 0 && (sb.st_mode & 077) != 0)
		fprintf(stderr, "concordd: warning: %s is readable by others (chmod 600 it)\n",
			path);
	if ((ret = conf_read_file(path, 4096, &b, e)) < 0)
		goto out;
	n = b.len;
	while (n > 0 && (b.p[n - 1] == '\n' || b.p[n - 1] == '\r'))
		n--;
	if (memchr(b.p, '\n', n) != NULL || (ret = key_parse_signer(s, b.p, n, e)) < 0 ||
	    (name && strcmp(s->key.name, name) != 0)) {
		ret = cc_fail(e, CC_EINVAL, "%s: expected one PRIVATE+KEY line%s%s", path,
			      name ? " named " : "", name ? name : "");
		goto out;
	}
out:
	if (b.p)
		sodium_memzero(b.p, b.cap);
	cbuf_free(&b);
	return ret;
}

int conf_read_key(struct note_signer *s, const char *dir, struct cc_err *e)
{
	char path[CONF_PATH_MAX];
	int ret = conf_path(path, dir, CONF_KEY_FILE, e);

	return ret < 0 ? ret : conf_read_signer(path, NULL, s, e);
}

int conf_dnssec_read(unsigned char seed[32], const char *path, const char *name, struct cc_err *e)
{
	struct note_signer k;
	int ret = conf_read_signer(path, name, &k, e);

	/* libsodium's secret key is the seed followed by the public key. */
	if (ret == 0)
		memcpy(seed, k.sk, 32);
	sodium_memzero(&k, sizeof(k));
	return ret;
}

int conf_dnssec_write(const char *path, const char *name, const unsigned char seed[32],
		      struct cc_err *e)
{
	struct note_signer k;
	struct cbuf text = CBUF_INIT;
	int ret = note_signer_from_seed(&k, name, seed);

	if (ret == 0)
		ret = key_format_signer(&k, &text);
	if (ret == 0 && (text.len == 0 || text.p[text.len - 1] != '\n'))
		ret = cbuf_putc(&text, '\n');
	if (ret < 0)
		ret = cc_fail(e, ret, "%s: cannot write the key %s", path, name);
	else
		ret = conf_write_file(path, text.p, text.len, 0600, e);
	if (text.p)
		sodium_memzero(text.p, text.cap);
	cbuf_free(&text);
	sodium_memzero(&k, sizeof(k));
	return ret;
}

int conf_dnssec_seed(unsigned char seed[32], const char *dir, const char *file, const char *name,
		     int *created, struct cc_err *e)
{
	char path[CONF_PATH_MAX];
	struct stat sb;
	int ret;

	*created = 0;
	if ((ret = conf_path(path, dir, file, e)) < 0)
		return ret;
	if (stat(path, &sb) != 0) {
		/* A new zone key: written once, fsynced, never replaced here. */
		randombytes_buf(seed, 32);
		ret = conf_dnssec_write(path, name, seed, e);
		if (ret == 0)
			ret = conf_sync_dir(dir, e);
		*created = ret == 0;
	} else {
		ret = conf_dnssec_read(seed, path, name, e);
	}
	if (ret < 0)
		sodium_memzero(seed, 32);
	return ret;
}
