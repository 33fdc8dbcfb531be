/* libFuzzer target for the signed-note parsers. Besides not crashing, every input a parser
 * accepts must format back to exactly the same bytes: the parsers are strict so that one note
 * has one spelling, and this checks it. */
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/note.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (sodium_init() < 0)
		abort();
	return 0;
}

static void same(const struct cbuf *b, const uint8_t *data, size_t size)
{
	if (b->len != size || memcmp(b->p, data, size) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	struct cbuf out = CBUF_INIT;
	struct cc_err e = {0};
	struct note_sig *sigs;
	struct note_key k;
	struct note n;
	size_t nsigs, i;

	if (note_parse(&n, s, size, &e) == 0) {
		if (n.nsigs == 0 || n.nsigs > NOTE_MAX_SIGS || n.text_len == 0 ||
		    n.text[n.text_len - 1] != '\n' || n.text[n.text_len] != '\0')
			abort();
		if (note_text_valid(n.text, n.text_len, NULL) != 0)
			abort();
		if (note_format(n.text, n.text_len, n.sigs, n.nsigs, &out) != 0)
			abort();
		same(&out, data, size);
		note_free(&n);
	} else if (e.msg[0] == '\0' || strchr(e.msg, '\n') != NULL) {
		abort(); /* every refusal says why, on one line */
	}

	cbuf_reset(&out);
	if (note_parse_sigs(&sigs, &nsigs, s, size, NULL) == 0) {
		if (nsigs == 0 || nsigs > NOTE_MAX_SIGS)
			abort();
		for (i = 0; i < nsigs; i++)
			if (note_format_sig(&sigs[i], &out) != 0)
				abort();
		same(&out, data, size);
		free(sigs);
	} else if (sigs != NULL || nsigs != 0) {
		abort();
	}

	/* Batch framing: items lie inside the input, in order, and framing them again gives the
	 * input back (up to where an error stopped the reading). */
	cbuf_reset(&out);
	{
		size_t pos = 0, nlen, before = 0;
		const char *note;
		int r;

		while ((r = note_batch_next(s, size, &pos, &note, &nlen, &e)) == 1) {
			if (note < s || nlen == 0 || nlen > NOTE_MAX_SIZE || pos > size ||
			    note + nlen != s + pos || note_batch_append(note, nlen, &out) != 0)
				abort();
			before = pos;
		}
		if (r == 0 && pos != size)
			abort();
		if (out.len != before || memcmp(out.p ? out.p : "", data, before) != 0)
			abort();
	}

	cbuf_reset(&out);
	if (note_vkey_parse(&k, s, size, NULL) == 0) {
		if (k.id != note_key_id(k.name, k.pub) || note_vkey_format(&k, &out) != 0)
			abort();
		same(&out, data, size);
	}
	cbuf_free(&out);
	return 0;
}
