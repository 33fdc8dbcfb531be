#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/note.h"

#define DASH "\xe2\x80\x94 "

/* Reads a file under $CONCORD_VECTORS/note/ whole; NUL-terminated for convenience. */
static char *vec_read(const char *rel, size_t *len)
{
	const char *dir = getenv("CONCORD_VECTORS");
	char path[1024];
	char *buf;
	FILE *f;
	long n;

	snprintf(path, sizeof(path), "%s/note/%s", dir ? dir : "tests/vectors", rel);
	f = fopen(path, "rb");
	if (f == NULL)
		fail_msg("cannot open %s", path);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return buf;
}

/* Reads a one-value file and drops its final '\n'. */
static char *vec_value(const char *rel)
{
	size_t len;
	char *s = vec_read(rel, &len);

	assert_true(len > 0 && s[len - 1] == '\n');
	s[len - 1] = '\0';
	return s;
}

static void hex_decode(unsigned char *out, size_t n, const char *hex)
{
	size_t got = 0;

	assert_int_equal(strlen(hex), 2 * n);
	assert_int_equal(sodium_hex2bin(out, n, hex, 2 * n, NULL, &got, NULL), 0);
	assert_int_equal(got, n);
}

static void make_signer(struct note_signer *s, const char *name, unsigned char fill)
{
	unsigned char seed[32];

	memset(seed, fill, sizeof(seed));
	assert_int_equal(note_signer_from_seed(s, name, seed), 0);
}

static int parse_str(struct note *n, const char *msg, struct cc_err *e)
{
	return note_parse(n, msg, strlen(msg), e);
}

/* A note signed by "alice": the base of many refusal tests. */
static char *signed_note(const char *text)
{
	struct note_signer s;
	struct note_sig sig;
	struct cbuf out = CBUF_INIT;

	make_signer(&s, "alice", 7);
	assert_int_equal(note_sign(&s, text, strlen(text), &sig), 0);
	assert_int_equal(note_format(text, strlen(text), &sig, 1, &out), 0);
	return cbuf_take(&out);
}

static void test_example_vector(void **state)
{
	char *seedhex = vec_value("seed.hex"), *name = vec_value("name.txt");
	char *idhex = vec_value("keyid.hex"), *vkey = vec_value("vkey.txt");
	unsigned char seed[32];
	struct note_signer s;
	struct note_key k;
	struct note_sig sig;
	struct note n;
	struct cbuf out = CBUF_INIT;
	struct cc_err e = {0};
	char idbuf[9];
	size_t tlen, slen;
	char *text = vec_read("text.txt", &tlen), *signed_ = vec_read("signed.txt", &slen);

	(void)state;
	hex_decode(seed, sizeof(seed), seedhex);
	for (size_t i = 0; i < 32; i++)
		assert_int_equal(seed[i], i + 1);
	assert_string_equal(name, "example");
	assert_int_equal(note_signer_from_seed(&s, name, seed), 0);
	snprintf(idbuf, sizeof(idbuf), "%08x", s.key.id);
	assert_string_equal(idbuf, idhex);
	assert_int_equal(note_key_id(name, s.key.pub), s.key.id);

	assert_int_equal(note_vkey_format(&s.key, &out), 0);
	assert_string_equal(out.p, vkey);
	cbuf_reset(&out);
	assert_int_equal(note_vkey_parse(&k, vkey, strlen(vkey), &e), 0);
	assert_memory_equal(k.pub, s.key.pub, 32);
	assert_int_equal(k.id, s.key.id);

	/* Ed25519 is deterministic: our signature must be the vector byte for byte. */
	assert_int_equal(note_sign(&s, text, tlen, &sig), 0);
	assert_int_equal(note_format(text, tlen, &sig, 1, &out), 0);
	assert_int_equal(out.len, slen);
	assert_memory_equal(out.p, signed_, slen);

	assert_int_equal(note_parse(&n, signed_, slen, &e), 0);
	assert_int_equal(n.text_len, tlen);
	assert_memory_equal(n.text, text, tlen);
	assert_int_equal(n.nsigs, 1);
	assert_int_equal(note_verify(&k, n.text, n.text_len, &n.sigs[0]), 0);
	note_free(&n);

	cbuf_free(&out);
	free(seedhex);
	free(name);
	free(idhex);
	free(vkey);
	free(text);
	free(signed_);
}

static void test_go_vectors(void **state)
{
	char *pv = vec_value("go/peter-vkey.txt"), *ev = vec_value("go/enoch-vkey.txt");
	char *skey = vec_value("go/peter-skey.txt");
	size_t tlen, slen, s2len, got = 0;
	char *text = vec_read("go/text.txt", &tlen), *one = vec_read("go/signed.txt", &slen);
	char *two = vec_read("go/signed-two.txt", &s2len);
	const char *b64;
	unsigned char blob[33];
	struct note_key peter, enoch;
	struct note_signer s;
	struct note_sig sig;
	struct note n;
	struct cbuf out = CBUF_INIT;
	struct cc_err e = {0};

	(void)state;
	assert_int_equal(note_vkey_parse(&peter, pv, strlen(pv), &e), 0);
	assert_string_equal(peter.name, "PeterNeumann");
	assert_int_equal(peter.id, 0xc74f20a3);
	assert_int_equal(note_vkey_parse(&enoch, ev, strlen(ev), &e), 0);
	assert_int_equal(enoch.id, 0xaf0cfe78);
	assert_int_equal(note_vkey_format(&peter, &out), 0);
	assert_string_equal(out.p, pv);
	cbuf_reset(&out);

	/* The Go signer key is "PRIVATE+KEY+name+id+base64(0x01 || seed)". */
	assert_true(strncmp(skey, "PRIVATE+KEY+PeterNeumann+c74f20a3+", 34) == 0);
	b64 = skey + 34;
	assert_int_equal(sodium_base642bin(blob, sizeof(blob), b64, strlen(b64), NULL, &got, NULL,
					   sodium_base64_VARIANT_ORIGINAL),
			 0);
	assert_int_equal(got, 33);
	assert_int_equal(blob[0], 1);
	assert_int_equal(note_signer_from_seed(&s, "PeterNeumann", blob + 1), 0);
	assert_int_equal(s.key.id, peter.id);
	assert_memory_equal(s.key.pub, peter.pub, 32);
	assert_int_equal(note_sign(&s, text, tlen, &sig), 0);
	assert_int_equal(note_format(text, tlen, &sig, 1, &out), 0);
	assert_int_equal(out.len, slen);
	assert_memory_equal(out.p, one, slen);

	assert_int_equal(note_parse(&n, two, s2len, &e), 0);
	assert_int_equal(n.nsigs, 2);
	assert_int_equal(n.text_len, tlen);
	assert_int_equal(note_verify(&peter, n.text, n.text_len, &n.sigs[0]), 0);
	assert_int_equal(note_verify(&enoch, n.text, n.text_len, &n.sigs[1]), 0);
	assert_int_equal(note_verify(&peter, n.text, n.text_len, &n.sigs[1]), CC_ESIG);
	assert_int_equal(note_verify(&enoch, n.text, n.text_len, &n.sigs[0]), CC_ESIG);
	assert_int_equal(note_signed_by(&n, &peter), 1);
	assert_int_equal(note_signed_by(&n, &enoch), 1);
	n.nsigs = 1; /* Peter's line alone */
	assert_int_equal(note_signed_by(&n, &peter), 1);
	assert_int_equal(note_signed_by(&n, &enoch), 0);
	n.nsigs = 2;
	cbuf_reset(&out);
	assert_int_equal(note_format(n.text, n.text_len, n.sigs, n.nsigs, &out), 0);
	assert_int_equal(out.len, s2len);
	assert_memory_equal(out.p, two, s2len);
	note_free(&n);

	cbuf_free(&out);
	free(pv);
	free(ev);
	free(skey);
	free(text);
	free(one);
	free(two);
}

static void test_invalid_vectors(void **state)
{
	size_t rlen, len, count = 0;
	char *readme = vec_read("invalid/README", &rlen), *vkey = vec_value("vkey.txt");
	char *line, *save = NULL;
	struct note_key k;
	struct cc_err e = {0};

	(void)state;
	assert_int_equal(note_vkey_parse(&k, vkey, strlen(vkey), &e), 0);
	for (line = strtok_r(readme, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char file[256], rel[300], *msg, *colon;
		struct note n;
		int rc;

		if (line[0] == '#')
			continue;
		colon = strstr(line, ": ");
		assert_non_null(colon);
		snprintf(file, sizeof(file), "%.*s", (int)(colon - line), line);
		snprintf(rel, sizeof(rel), "invalid/%s", file);
		msg = vec_read(rel, &len);
		memset(&e, 0, sizeof(e));
		rc = note_parse(&n, msg, len, &e);
		if (strncmp(colon + 2, "parse:", 6) == 0) {
			if (rc == 0)
				fail_msg("%s: parsed, should be refused", file);
			assert_true(e.msg[0] != '\0');
			assert_null(strchr(e.msg, '\n'));
		} else {
			assert_true(strncmp(colon + 2, "verify:", 7) == 0);
			if (rc != 0)
				fail_msg("%s: refused (%s), should parse", file, e.msg);
			for (size_t i = 0; i < n.nsigs; i++)
				assert_int_equal(note_verify(&k, n.text, n.text_len, &n.sigs[i]),
						 CC_ESIG);
			note_free(&n);
		}
		free(msg);
		count++;
	}
	assert_true(count >= 30);
	free(readme);
	free(vkey);
}

static void test_roundtrip(void **state)
{
	const char *text = "proposal 1\nset tld/cn\n\nblank line above\n";
	const char *names[] = {"cn", "concord.example/br", "za", "caf\xc3\xa9"};
	struct note_signer s[4];
	struct note_sig sigs[4];
	struct note_key k;
	struct note n;
	struct cbuf out = CBUF_INIT, out2 = CBUF_INIT;
	struct cc_err e = {0};

	(void)state;
	for (int i = 0; i < 4; i++) {
		make_signer(&s[i], names[i], (unsigned char)(i + 1));
		assert_int_equal(note_sign(&s[i], text, strlen(text), &sigs[i]), 0);
	}
	assert_int_equal(note_format(text, strlen(text), sigs, 4, &out), 0);
	assert_int_equal(note_parse(&n, out.p, out.len, &e), 0);
	assert_string_equal(n.text, text);
	assert_int_equal(n.nsigs, 4);
	for (int i = 0; i < 4; i++) {
		assert_string_equal(n.sigs[i].name, names[i]);
		assert_int_equal(n.sigs[i].id, s[i].key.id);
		assert_int_equal(note_verify(&s[i].key, n.text, n.text_len, &n.sigs[i]), 0);
		/* Through the verifier key text too. */
		cbuf_reset(&out2);
		assert_int_equal(note_vkey_format(&s[i].key, &out2), 0);
		assert_int_equal(note_vkey_parse(&k, out2.p, out2.len, &e), 0);
		assert_int_equal(note_verify(&k, n.text, n.text_len, &n.sigs[i]), 0);
	}
	cbuf_reset(&out2);
	assert_int_equal(note_format(n.text, n.text_len, n.sigs, n.nsigs, &out2), 0);
	assert_string_equal(out2.p, out.p);
	note_free(&n);
	note_free(&n); /* idempotent */

	/* Approvals arrive as signature lines alone. */
	cbuf_reset(&out2);
	for (int i = 0; i < 4; i++)
		assert_int_equal(note_format_sig(&sigs[i], &out2), 0);
	{
		struct note_sig *ps;
		size_t np;

		assert_int_equal(note_parse_sigs(&ps, &np, out2.p, out2.len, &e), 0);
		assert_int_equal(np, 4);
		for (int i = 0; i < 4; i++)
			assert_memory_equal(&ps[i], &sigs[i], sizeof(ps[i]));
		free(ps);
	}
	cbuf_free(&out);
	cbuf_free(&out2);
}

static void test_text_shapes(void **state)
{
	/* Texts that end in blank lines, are a lone newline, or hold a line that looks
	 * like a signature: the last blank line still separates correctly. */
	const char *texts[] = {"a\n\n", "\n", "\n\n\n", "x\n" DASH "alice AAAA\n", "a\n\nb\n"};
	struct cc_err e = {0};
	struct note n;

	(void)state;
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		char *msg = signed_note(texts[i]);

		assert_int_equal(note_text_valid(texts[i], strlen(texts[i]), &e), 0);
		assert_int_equal(parse_str(&n, msg, &e), 0);
		assert_string_equal(n.text, texts[i]);
		assert_int_equal(n.nsigs, 1);
		note_free(&n);
		free(msg);
	}
	assert_int_equal(note_text_valid("", 0, &e), CC_EINVAL);
	assert_int_equal(note_text_valid("abc", 3, &e), CC_EINVAL);
	assert_string_equal(e.msg, "note: text does not end in a newline");
}

static void test_control_chars(void **state)
{
	struct cc_err e = {0};
	struct note n;
	char want[64];

	(void)state;
	for (int c = 0; c < 0x20; c++) {
		char text[] = "line one\nline two\nthird ? line\n";
		char *msg;
		size_t len;

		if (c == '\n')
			continue;
		*strchr(text, '?') = (char)c;
		assert_int_equal(note_text_valid(text, sizeof(text) - 1, &e), CC_EINVAL);
		/* Splice the character into an otherwise valid note (NUL included, hence the
		 * length taken first). */
		msg = signed_note("line one\nline two\nthird x line\n");
		len = strlen(msg);
		*strchr(msg, 'x') = (char)c;
		memset(&e, 0, sizeof(e));
		assert_int_equal(note_parse(&n, msg, len, &e), CC_EINVAL);
		snprintf(want, sizeof(want), "note: line 3: control character 0x%02x", c);
		assert_string_equal(e.msg, want);
		assert_null(n.text);
		assert_null(n.sigs);
		free(msg);
	}
	{
		/* CR LF line endings, in the text and on the signature line. */
		char *msg = signed_note("abc\n");
		struct cbuf b = CBUF_INIT;
		size_t len = strlen(msg);

		assert_int_equal(cbuf_put(&b, msg, len - 1), 0);
		assert_int_equal(cbuf_puts(&b, "\r\n"), 0);
		assert_int_equal(note_parse(&n, b.p, b.len, &e), CC_EINVAL);
		assert_string_equal(e.msg, "note: line 3: control character 0x0d");
		cbuf_free(&b);
		free(msg);
	}
	/* DEL and C1 controls are not ASCII controls: allowed in text, not in names. */
	{
		char *msg = signed_note("del \x7f and c1 \xc2\x85\n");

		assert_int_equal(parse_str(&n, msg, &e), 0);
		note_free(&n);
		free(msg);
	}
}

static void test_utf8(void **state)
{
	const char *bad[] = {
	    "\x80\n",		      /* lone continuation */
	    "\xc0\xaf\n",	      /* overlong '/' */
	    "\xc1\xbf\n",	      /* overlong */
	    "\xe0\x80\xaf\n",	      /* overlong 3-byte */
	    "\xe0\x9f\xbf\n",	      /* overlong 3-byte, highest */
	    "\xf0\x80\x80\xaf\n",     /* overlong 4-byte */
	    "\xf0\x8f\xbf\xbf\n",     /* overlong 4-byte, highest */
	    "\xed\xa0\x80\n",	      /* U+D800 */
	    "\xed\xbf\xbf\n",	      /* U+DFFF */
	    "\xf4\x90\x80\x80\n",     /* U+110000 */
	    "\xf5\x80\x80\x80\n",     /* lead byte F5 */
	    "\xff\n",		      /* never UTF-8 */
	    "\xfe\n",		      /* never UTF-8 */
	    "\xe5\xb9\n",	      /* truncated */
	    "\xe5\n",		      /* truncated */
	    "\xc3\n",		      /* truncated before '\n' */
	    "\xc3\xc3\xa9\n",	      /* lead without continuation */
	    "\xf8\x88\x80\x80\x80\n", /* 5-byte form */
	};
	const char *good[] = {
	    "\xc2\x80\n",	    /* U+0080 */
	    "\xdf\xbf\n",	    /* U+07FF */
	    "\xe0\xa0\x80\n",	    /* U+0800 */
	    "\xed\x9f\xbf\n",	    /* U+D7FF */
	    "\xee\x80\x80\n",	    /* U+E000 */
	    "\xef\xbf\xbd\n",	    /* U+FFFD */
	    "\xef\xbb\xbf\x62om\n", /* U+FEFF, then "bom" */
	    "\xf0\x90\x80\x80\n",   /* U+10000 */
	    "\xf4\x8f\xbf\xbf\n",   /* U+10FFFF */
	};
	struct cc_err e = {0};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&e, 0, sizeof(e));
		if (note_text_valid(bad[i], strlen(bad[i]), &e) != CC_EINVAL)
			fail_msg("bad UTF-8 #%zu accepted", i);
		assert_non_null(strstr(e.msg, "invalid UTF-8"));
	}
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		char *msg = signed_note(good[i]);
		struct note n;

		if (note_text_valid(good[i], strlen(good[i]), &e) != 0)
			fail_msg("good UTF-8 #%zu refused: %s", i, e.msg);
		assert_int_equal(parse_str(&n, msg, &e), 0);
		note_free(&n);
		free(msg);
	}
}

static void test_structure(void **state)
{
	char *msg = signed_note("hello\n");
	size_t len = strlen(msg);
	struct cbuf b = CBUF_INIT;
	struct cc_err e = {0};
	struct note n;

	(void)state;
	assert_int_equal(note_parse(&n, "", 0, &e), CC_EINVAL);
	assert_int_equal(parse_str(&n, "hello\n", &e), CC_EINVAL);
	assert_int_equal(parse_str(&n, "hello\n\n", &e), CC_EINVAL);
	assert_string_equal(e.msg, "note: no signature after the blank line");
	assert_int_equal(parse_str(&n, "\n\n", &e), CC_EINVAL);
	assert_int_equal(parse_str(&n, msg, &e), 0);
	note_free(&n);
	/* Missing blank line. */
	cbuf_put(&b, msg, 6);
	cbuf_puts(&b, msg + 7);
	assert_int_equal(note_parse(&n, b.p, b.len, &e), CC_EINVAL);
	assert_string_equal(e.msg, "note: no blank line between the text and the signatures");
	/* No final newline. */
	assert_int_equal(note_parse(&n, msg, len - 1, &e), CC_EINVAL);
	assert_string_equal(e.msg, "note: last line does not end in a newline");
	/* A stray line after the signatures. */
	cbuf_reset(&b);
	cbuf_puts(&b, msg);
	cbuf_puts(&b, "Unexpected line.\n");
	assert_int_equal(note_parse(&n, b.p, b.len, &e), CC_EINVAL);
	assert_non_null(strstr(e.msg, "note: line 4: not a signature line"));
	/* A blank line after the signatures makes them text, and leaves no signature. */
	cbuf_reset(&b);
	cbuf_puts(&b, msg);
	cbuf_puts(&b, "\n");
	assert_int_equal(note_parse(&n, b.p, b.len, &e), CC_EINVAL);
	/* Dash lookalikes and spacing. */
	{
		const char *lines[] = {
		    "-- alice AAAA\n",
		    "\xe2\x80\x93 alice AAAA\n",   /* en dash */
		    "\xe2\x80\x94\x61lice AAAA\n", /* no space after the dash */
		    DASH "alice\n",		   /* no signature */
		    DASH " alice AAAA\n",	   /* empty name */
		};
		for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
			cbuf_reset(&b);
			cbuf_puts(&b, "t\n\n");
			cbuf_puts(&b, lines[i]);
			assert_int_equal(note_parse(&n, b.p, b.len, &e), CC_EINVAL);
		}
	}
	cbuf_free(&b);
	free(msg);
}

static void test_duplicates(void **state)
{
	const char *text = "dup\n";
	struct note_signer a, a2, b;
	struct note_sig sigs[3];
	struct cbuf out = CBUF_INIT;
	struct cc_err e = {0};
	struct note n;
	char *msg;

	(void)state;
	make_signer(&a, "alice", 1);
	make_signer(&a2, "alice", 2); /* same name, other key: a different key id */
	make_signer(&b, "bob", 3);
	assert_int_equal(note_sign(&a, text, 4, &sigs[0]), 0);
	assert_int_equal(note_sign(&a2, text, 4, &sigs[1]), 0);
	assert_int_equal(note_sign(&b, text, 4, &sigs[2]), 0);
	assert_int_equal(note_format(text, 4, sigs, 3, &out), 0);
	assert_int_equal(note_parse(&n, out.p, out.len, &e), 0);
	assert_int_equal(n.nsigs, 3);
	note_free(&n);

	/* Same key twice, even with a different signature. */
	msg = strdup(out.p);
	cbuf_reset(&out);
	assert_int_equal(cbuf_puts(&out, msg), 0);
	sigs[2] = sigs[0];
	sigs[2].sig[0] ^= 1;
	assert_int_equal(note_format_sig(&sigs[2], &out), 0);
	assert_int_equal(note_parse(&n, out.p, out.len, &e), CC_EEXIST);
	assert_non_null(strstr(e.msg, "note: line 6: second signature by key alice+"));
	assert_null(n.sigs);
	/* The formatter refuses to write it. */
	cbuf_reset(&out);
	assert_int_equal(note_format(text, 4, sigs, 3, &out), CC_EEXIST);
	assert_int_equal(out.len, 0);
	/* Same id, other name: a different key. */
	sigs[2] = sigs[0];
	strcpy(sigs[2].name, "alicf");
	assert_int_equal(note_format(text, 4, sigs, 3, &out), 0);
	free(msg);
	cbuf_free(&out);
}

static void test_limits(void **state)
{
	struct note_signer s[NOTE_MAX_SIGS + 1];
	struct note_sig sigs[NOTE_MAX_SIGS + 1];
	const char *text = "many\n";
	struct cbuf out = CBUF_INIT, tmp = CBUF_INIT;
	struct cc_err e = {0};
	struct note n;
	struct note_sig *ps;
	size_t np;
	char *big;

	(void)state;
	for (int i = 0; i <= NOTE_MAX_SIGS; i++) {
		char name[16];

		snprintf(name, sizeof(name), "k%d", i);
		make_signer(&s[i], name, (unsigned char)i);
		assert_int_equal(note_sign(&s[i], text, 5, &sigs[i]), 0);
	}
	assert_int_equal(note_format(text, 5, sigs, NOTE_MAX_SIGS, &out), 0);
	assert_int_equal(note_parse(&n, out.p, out.len, &e), 0);
	assert_int_equal(n.nsigs, NOTE_MAX_SIGS);
	note_free(&n);
	assert_int_equal(note_format_sig(&sigs[NOTE_MAX_SIGS], &out), 0);
	assert_int_equal(note_parse(&n, out.p, out.len, &e), CC_ETOOBIG);
	{
		char want[80];

		snprintf(want, sizeof(want), "note: %d signature lines, more than the limit of %d",
			 NOTE_MAX_SIGS + 1, NOTE_MAX_SIGS);
		assert_string_equal(e.msg, want);
	}
	assert_int_equal(note_format(text, 5, sigs, NOTE_MAX_SIGS + 1, &tmp), CC_ETOOBIG);
	assert_int_equal(note_parse_sigs(&ps, &np, out.p + 6, out.len - 6, &e), CC_ETOOBIG);
	assert_null(ps);
	assert_int_equal(np, 0);
	cbuf_reset(&out);

	/* The largest text: with a 1-byte name the note is exactly NOTE_MAX_SIZE bytes. */
	big = malloc(NOTE_MAX_SIZE + 2);
	assert_non_null(big);
	memset(big, 'a', NOTE_MAX_SIZE + 2);
	for (size_t i = 99; i < NOTE_MAX_SIZE; i += 100)
		big[i] = '\n';
	big[64899] = '\n';
	assert_int_equal(note_text_valid(big, 64900, &e), 0);
	big[64900] = '\n';
	assert_int_equal(note_text_valid(big, 64901, &e), CC_ETOOBIG);
	{
		struct note_signer one, two;
		struct note_sig sg;

		make_signer(&one, "z", 9);
		assert_int_equal(note_sign(&one, big, 64900, &sg), 0);
		assert_int_equal(note_format(big, 64900, &sg, 1, &out), 0);
		assert_int_equal(out.len, NOTE_MAX_SIZE);
		assert_int_equal(note_parse(&n, out.p, out.len, &e), 0);
		assert_int_equal(note_verify(&one.key, n.text, n.text_len, &n.sigs[0]), 0);
		note_free(&n);
		/* One byte more of name: over the limit. */
		cbuf_reset(&out);
		make_signer(&two, "zz", 9);
		assert_int_equal(note_sign(&two, big, 64900, &sg), 0);
		assert_int_equal(note_format(big, 64900, &sg, 1, &out), CC_ETOOBIG);
		assert_int_equal(out.len, 0);
		cbuf_put(&out, big, 64900);
		cbuf_putc(&out, '\n');
		assert_int_equal(note_format_sig(&sg, &out), 0);
		assert_int_equal(out.len, NOTE_MAX_SIZE + 1);
		assert_int_equal(note_parse(&n, out.p, out.len, &e), CC_ETOOBIG);
		assert_string_equal(e.msg, "note: 65001 bytes, more than the limit of 65000");
		assert_int_equal(note_parse_sigs(&ps, &np, out.p, out.len, &e), CC_ETOOBIG);
	}
	free(big);
	cbuf_free(&out);
	cbuf_free(&tmp);
}

static void test_base64(void **state)
{
	char *msg = signed_note("b64\n");
	char *b64 = strrchr(msg, ' ') + 1;
	size_t blen = strlen(b64) - 1;
	struct cc_err e = {0};
	struct note n;
	char *m2;

	(void)state;
	assert_int_equal(blen, 92);
	assert_int_equal(b64[91], '=');
	{
		/* Non-zero trailing bits: lenient decoders read the same bytes. */
		static const char alpha[] =
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
		char c = b64[90];
		int v = (int)(strchr(alpha, c) - alpha);

		assert_int_equal(v & 3, 0);
		b64[90] = alpha[v | 1];
		assert_int_equal(parse_str(&n, msg, &e), CC_EINVAL);
		assert_string_equal(
		    e.msg, "note: line 3: signature is not the canonical base64 of 68 bytes");
		b64[90] = c;
	}
	b64[5] = '!';
	assert_int_equal(parse_str(&n, msg, &e), CC_EINVAL);
	b64[5] = '-'; /* URL-safe alphabet */
	assert_int_equal(parse_str(&n, msg, &e), CC_EINVAL);
	b64[5] = 'A';
	{
		/* Two non-ASCII bytes in place of two base64 characters: valid UTF-8, same
		 * length, and libsodium 1.0.18 alone would decode them as "//". */
		char c4 = b64[4], c5 = b64[5];

		b64[4] = '\xc3';
		b64[5] = '\xa9';
		assert_int_equal(parse_str(&n, msg, &e), CC_EINVAL);
		assert_string_equal(
		    e.msg, "note: line 3: signature is not the canonical base64 of 68 bytes");
		b64[4] = c4;
		b64[5] = c5;
	}
	/* Missing padding, or a padding character too many. */
	m2 = strdup(msg);
	strcpy(strrchr(m2, '='), "\n");
	assert_int_equal(parse_str(&n, m2, &e), CC_EINVAL);
	free(m2);
	m2 = malloc(strlen(msg) + 2);
	strcpy(m2, msg);
	strcpy(strrchr(m2, '='), "==\n");
	assert_int_equal(parse_str(&n, m2, &e), CC_EINVAL);
	free(m2);
	/* Still well formed after the edits above (only the signature changed). */
	assert_int_equal(parse_str(&n, msg, &e), 0);
	note_free(&n);
	free(msg);
}

static void test_names(void **state)
{
	const char *good[] = {"a",
			      "cn",
			      "concord.example/cn",
			      "caf\xc3\xa9",
			      "A-b_c.d~e!",
			      "\xe5\xb9\xb3\xe7\xad\x89",
			      "123456789012345678901234567890123456789012345678901234567890123"};
	const char *bad[] = {
	    "",
	    "a+b",
	    "a b",
	    "a\tb",
	    "a\nb",
	    "a\x7f",
	    "a\xc2\x85",     /* NEL */
	    "a\xc2\xa0",     /* NO-BREAK SPACE */
	    "a\xe1\x9a\x80", /* OGHAM SPACE MARK */
	    "a\xe2\x80\x80", /* EN QUAD */
	    "a\xe2\x80\x8a", /* HAIR SPACE */
	    "a\xe2\x80\xa8", /* LINE SEPARATOR */
	    "a\xe2\x80\xaf", /* NARROW NO-BREAK SPACE */
	    "a\xe2\x81\x9f", /* MEDIUM MATHEMATICAL SPACE */
	    "a\xe3\x80\x80", /* IDEOGRAPHIC SPACE */
	    "a\xc3",	     /* truncated UTF-8 */
	    "a\xc0\xaf",     /* overlong */
	    "1234567890123456789012345678901234567890123456789012345678901234",
	};
	struct note_signer s;
	unsigned char seed[32] = {0};

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (!note_name_valid(good[i]))
			fail_msg("good name #%zu refused", i);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (note_name_valid(bad[i]))
			fail_msg("bad name #%zu accepted", i);
		assert_int_equal(note_signer_from_seed(&s, bad[i], seed), CC_EINVAL);
	}
	assert_false(note_name_valid(NULL));
}

static void test_verify_refusals(void **state)
{
	const char *text = "verify me\n";
	struct note_signer a, b;
	struct note_sig sig, bad;

	(void)state;
	make_signer(&a, "alice", 1);
	make_signer(&b, "bob", 2);
	assert_int_equal(note_sign(&a, text, strlen(text), &sig), 0);
	assert_int_equal(note_verify(&a.key, text, strlen(text), &sig), 0);
	/* Forged: every single-bit flip of the signature. */
	for (int i = 0; i < 64 * 8; i++) {
		bad = sig;
		bad.sig[i / 8] ^= (unsigned char)(1u << (i % 8));
		assert_int_equal(note_verify(&a.key, text, strlen(text), &bad), CC_ESIG);
	}
	/* Altered text. */
	assert_int_equal(note_verify(&a.key, "verify mE\n", 10, &sig), CC_ESIG);
	assert_int_equal(note_verify(&a.key, text, strlen(text) - 1, &sig), CC_ESIG);
	/* Wrong key id, wrong name, wrong key. */
	bad = sig;
	bad.id ^= 1;
	assert_int_equal(note_verify(&a.key, text, strlen(text), &bad), CC_ESIG);
	bad = sig;
	strcpy(bad.name, "alicf");
	assert_int_equal(note_verify(&a.key, text, strlen(text), &bad), CC_ESIG);
	assert_int_equal(note_verify(&b.key, text, strlen(text), &sig), CC_ESIG);
	/* Bob's key under Alice's name and id: the signature check still catches it. */
	{
		struct note_key k = b.key;

		strcpy(k.name, "alice");
		k.id = a.key.id;
		assert_int_equal(note_verify(&k, text, strlen(text), &sig), CC_ESIG);
	}
	/* Signing refuses what no parser would accept. */
	assert_int_equal(note_sign(&a, "no newline", 10, &sig), CC_EINVAL);
	assert_int_equal(note_sign(&a, "", 0, &sig), CC_EINVAL);
	assert_int_equal(note_sign(&a, "a\rb\n", 4, &sig), CC_EINVAL);
}

static void test_vkey(void **state)
{
	const char *vkey = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
	size_t len = strlen(vkey);
	char b[128];
	struct note_key k;
	struct cc_err e = {0};

	(void)state;
	assert_int_equal(note_vkey_parse(&k, vkey, len, &e), 0);
	/* As the Go tests do: every proper substring and every single-byte change is refused. */
	for (size_t i = 0; i <= len; i++)
		for (size_t j = i + 1; j <= len; j++)
			if (i != 0 || j != len)
				if (note_vkey_parse(&k, vkey + i, j - i, &e) == 0)
					fail_msg("substring [%zu,%zu) accepted", i, j);
	memcpy(b, vkey, len);
	for (size_t i = 0; i < len; i++) {
		b[i]++;
		if (note_vkey_parse(&k, b, len, &e) == 0)
			fail_msg("change at %zu accepted", i);
		b[i]--;
	}
	/* Wrong length with adjusted id, unknown algorithm with adjusted id (from Go). */
	strcpy(b, "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==");
	assert_int_equal(note_vkey_parse(&k, b, strlen(b), &e), CC_EINVAL);
	strcpy(b, "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW");
	assert_int_equal(note_vkey_parse(&k, b, strlen(b), &e), CC_EINVAL);
	assert_non_null(strstr(e.msg, "signature type 0x65"));
	/* A non-ASCII byte where the key has '/'. */
	memcpy(b, vkey, len + 1);
	assert_true(b[len - 13] == '/');
	b[len - 13] = '\x80';
	assert_int_equal(note_vkey_parse(&k, b, len, &e), CC_EINVAL);
	/* Uppercase hex, trailing newline, wrong id. */
	strcpy(b, "PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW");
	assert_int_equal(note_vkey_parse(&k, b, strlen(b), &e), CC_EINVAL);
	snprintf(b, sizeof(b), "%s\n", vkey);
	assert_int_equal(note_vkey_parse(&k, b, strlen(b), &e), CC_EINVAL);
	strcpy(b, "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW");
	assert_int_equal(note_vkey_parse(&k, b, strlen(b), &e), CC_EINVAL);
	assert_string_equal(e.msg,
			    "verifier key: key id c74f20a4 does not match the key (c74f20a3)");
	assert_int_equal(k.id, 0);
	/* A small-order point (the identity) is no public key. */
	{
		struct note_key id0;
		struct cbuf out = CBUF_INIT;

		memset(&id0, 0, sizeof(id0));
		strcpy(id0.name, "weak");
		id0.pub[0] = 1;
		id0.id = note_key_id("weak", id0.pub);
		assert_int_equal(note_vkey_format(&id0, &out), 0);
		assert_int_equal(note_vkey_parse(&k, out.p, out.len, &e), CC_EINVAL);
		assert_string_equal(e.msg, "verifier key: not a valid Ed25519 public key");
		cbuf_free(&out);
	}
	/* Formatting refuses an invalid name. */
	{
		struct cbuf out = CBUF_INIT;

		assert_int_equal(note_vkey_parse(&k, vkey, len, &e), 0);
		strcpy(k.name, "bad name");
		assert_int_equal(note_vkey_format(&k, &out), CC_EINVAL);
		cbuf_free(&out);
	}
}

/* A witness's timestamped cosignature over a checkpoint: made, written, read back, checked,
 * and never taken for a plain signature. */
static void test_cosign(void **state)
{
	static const char ck[] =
	    "example.com/log\n42\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
	unsigned char seed[32];
	struct note_signer w, plain;
	struct note_sig cs, ps;
	struct cbuf text = CBUF_INIT;
	struct note n;

	(void)state;
	for (int i = 0; i < 32; i++)
		seed[i] = (unsigned char)(i + 1);
	assert_int_equal(note_signer_from_seed(&w, "witness.example/w1", seed), 0);
	assert_int_equal(note_signer_from_seed(&plain, "example.com/log", seed), 0);
	assert_int_equal(note_cosign(&w, "witness.example/w1", 1679315147, ck, strlen(ck), &cs), 0);
	assert_true(cs.cosig);
	assert_int_not_equal(cs.id, w.key.id); /* type 0x04, not 0x01 */
	assert_int_equal(note_sign(&plain, ck, strlen(ck), &ps), 0);
	assert_int_equal(note_format(ck, strlen(ck), &ps, 1, &text), 0);
	assert_int_equal(note_format_sig(&cs, &text), 0);
	assert_int_equal(note_parse(&n, text.p, text.len, NULL), 0);
	assert_int_equal(n.nsigs, 2);
	assert_true(n.sigs[1].cosig);
	assert_int_equal(n.sigs[1].time, 1679315147);
	assert_int_equal(
	    note_cosig_verify("witness.example/w1", w.key.pub, n.text, n.text_len, &n.sigs[1]), 0);
	assert_int_equal(note_verify(&plain.key, n.text, n.text_len, &n.sigs[0]), 0);
	/* a cosignature is no plain signature, and the other way round */
	assert_int_equal(note_verify(&w.key, n.text, n.text_len, &n.sigs[1]), CC_ESIG);
	assert_int_equal(
	    note_cosig_verify("example.com/log", plain.key.pub, n.text, n.text_len, &n.sigs[0]),
	    CC_ESIG);
	/* the time, the name and the text are all signed */
	n.sigs[1].time++;
	assert_int_equal(
	    note_cosig_verify("witness.example/w1", w.key.pub, n.text, n.text_len, &n.sigs[1]),
	    CC_ESIG);
	n.sigs[1].time--;
	assert_int_equal(
	    note_cosig_verify("witness.example/w2", w.key.pub, n.text, n.text_len, &n.sigs[1]),
	    CC_ESIG);
	n.text[3] ^= 1;
	assert_int_equal(
	    note_cosig_verify("witness.example/w1", w.key.pub, n.text, n.text_len, &n.sigs[1]),
	    CC_ESIG);
	note_free(&n);
	cbuf_free(&text);
}

static void test_parse_sigs(void **state)
{
	char *msg = signed_note("x\n");
	const char *line = strstr(msg, DASH);
	struct note_sig *ps = (struct note_sig *)1;
	size_t np = 99;
	struct cc_err e = {0};

	(void)state;
	assert_int_equal(note_parse_sigs(&ps, &np, line, strlen(line), &e), 0);
	assert_int_equal(np, 1);
	assert_string_equal(ps[0].name, "alice");
	free(ps);
	assert_int_equal(note_parse_sigs(&ps, &np, "", 0, &e), CC_EINVAL);
	assert_null(ps);
	assert_int_equal(np, 0);
	assert_int_equal(note_parse_sigs(&ps, &np, line, strlen(line) - 1, &e), CC_EINVAL);
	assert_int_equal(note_parse_sigs(&ps, &np, "\n", 1, &e), CC_EINVAL);
	assert_int_equal(note_parse_sigs(&ps, &np, msg, strlen(msg), &e), CC_EINVAL);
	{
		struct cbuf b = CBUF_INIT;

		cbuf_puts(&b, line);
		cbuf_puts(&b, line);
		assert_int_equal(note_parse_sigs(&ps, &np, b.p, b.len, &e), CC_EEXIST);
		assert_null(ps);
		cbuf_reset(&b);
		cbuf_puts(&b, line);
		cbuf_puts(&b, "\n");
		cbuf_puts(&b, line);
		assert_int_equal(note_parse_sigs(&ps, &np, b.p, b.len, &e), CC_EINVAL);
		assert_non_null(strstr(e.msg, "line 2"));
		cbuf_free(&b);
	}
	free(msg);
}

static void test_format_refusals(void **state)
{
	struct note_signer a;
	struct note_sig sig;
	struct cbuf out = CBUF_INIT;

	(void)state;
	make_signer(&a, "alice", 1);
	assert_int_equal(note_sign(&a, "t\n", 2, &sig), 0);
	assert_int_equal(cbuf_puts(&out, "keep"), 0);
	assert_int_equal(note_format("t\n", 2, &sig, 0, &out), CC_EINVAL);
	assert_int_equal(note_format("t", 1, &sig, 1, &out), CC_EINVAL);
	assert_int_equal(note_format("t\r\n", 3, &sig, 1, &out), CC_EINVAL);
	strcpy(sig.name, "a+b");
	assert_int_equal(note_format("t\n", 2, &sig, 1, &out), CC_EINVAL);
	assert_int_equal(note_format_sig(&sig, &out), CC_EINVAL);
	/* Failures leave what was already in the buffer untouched. */
	assert_string_equal(out.p, "keep");
	assert_int_equal(out.len, 4);
	cbuf_free(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_example_vector),
	    cmocka_unit_test(test_go_vectors),
	    cmocka_unit_test(test_invalid_vectors),
	    cmocka_unit_test(test_roundtrip),
	    cmocka_unit_test(test_text_shapes),
	    cmocka_unit_test(test_control_chars),
	    cmocka_unit_test(test_utf8),
	    cmocka_unit_test(test_structure),
	    cmocka_unit_test(test_duplicates),
	    cmocka_unit_test(test_limits),
	    cmocka_unit_test(test_base64),
	    cmocka_unit_test(test_names),
	    cmocka_unit_test(test_verify_refusals),
	    cmocka_unit_test(test_vkey),
	    cmocka_unit_test(test_parse_sigs),
	    cmocka_unit_test(test_cosign),
	    cmocka_unit_test(test_format_refusals),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
