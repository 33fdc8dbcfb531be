/* A proposal as docs/api.md's JSON object, written directly rather than through jansson: it
 * is the hot answer of every change. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "core/ledger.h"
#include "core/note.h"
#include "core/proposal.h"
#include "core/tfmt.h"
#include "node/node_impl.h"

struct jw {		/* a JSON writer into a cbuf */
	struct cbuf *b; /* output */
	int err;	/* first error (sticky) */
};

static void jw_put(struct jw *w, const char *s, size_t n)
{
	if (w->err == 0)
		w->err = cbuf_put(w->b, s, n);
}

static void jw_raw(struct jw *w, const char *s)
{
	jw_put(w, s, strlen(s));
}

/* Whether s is UTF-8 as JSON (and jansson) require: no overlong forms, no surrogates, nothing
 * above U+10FFFF. */
static int utf8_valid(const unsigned char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned c = s[i];

		if (c < 0x80) {
			i++;
		} else if (c >= 0xc2 && c <= 0xdf) {
			if (i + 1 >= n || (s[i + 1] & 0xc0) != 0x80)
				return 0;
			i += 2;
		} else if (c >= 0xe0 && c <= 0xef) {
			unsigned c1 = i + 1 < n ? s[i + 1] : 0;

			if (i + 2 >= n || (c1 & 0xc0) != 0x80 || (s[i + 2] & 0xc0) != 0x80 ||
			    (c == 0xe0 && c1 < 0xa0) || (c == 0xed && c1 >= 0xa0))
				return 0;
			i += 3;
		} else if (c >= 0xf0 && c <= 0xf4) {
			unsigned c1 = i + 1 < n ? s[i + 1] : 0;

			if (i + 3 >= n || (c1 & 0xc0) != 0x80 || (s[i + 2] & 0xc0) != 0x80 ||
			    (s[i + 3] & 0xc0) != 0x80 || (c == 0xf0 && c1 < 0x90) ||
			    (c == 0xf4 && c1 >= 0x90))
				return 0;
			i += 4;
		} else {
			return 0;
		}
	}
	return 1;
}

/* Appends s escaped as the inside of a JSON string. */
static void jw_esc(struct jw *w, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, run = 0;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[7];
		size_t elen = 2;

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		jw_put(w, s + run, i - run);
		run = i + 1;
		esc[0] = '\\';
		switch (c) {
		case '"':
		case '\\':
			esc[1] = (char)c;
			break;
		case '\n':
			esc[1] = 'n';
			break;
		case '\t':
			esc[1] = 't';
			break;
		case '\r':
			esc[1] = 'r';
			break;
		case '\b':
			esc[1] = 'b';
			break;
		case '\f':
			esc[1] = 'f';
			break;
		default:
			memcpy(esc + 1, "u00", 3);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			elen = 6;
			break;
		}
		jw_put(w, esc, elen);
	}
	jw_put(w, s + run, n - run);
}

/* A JSON string; text that is not UTF-8 becomes "" (everything rendered was validated on the
 * way in: never emit a broken document). Returns whether the text was written. */
static int jw_strn(struct jw *w, const char *s, size_t n)
{
	int ok = utf8_valid((const unsigned char *)s, n);

	jw_put(w, "\"", 1);
	if (ok)
		jw_esc(w, s, n);
	jw_put(w, "\"", 1);
	return ok;
}

static void jw_str(struct jw *w, const char *s)
{
	jw_strn(w, s, strlen(s));
}

static void jw_int(struct jw *w, int64_t v)
{
	char s[24];

	jw_put(w, s, (size_t)snprintf(s, sizeof(s), "%" PRId64, v));
}

static void jw_time(struct jw *w, int64_t t)
{
	char s[TFMT_LEN + 1];

	tfmt_format(t, s);
	jw_str(w, s);
}

/* The "note" member: the body with every verified signature, as note_format writes it (""
 * where note_format would refuse it). The body is the JSON string just written at body_at
 * .. body_end (body_ok: it was, not "" for want of UTF-8): its escaped text is copied rather than
 * escaped again; a proposal body is a note text checked on the way in. */
static void prop_json_note(struct jw *w, const struct node_prop *np, size_t body_at,
			   size_t body_end, int body_ok)
{
	struct cbuf sigs = CBUF_INIT;
	size_t blen;
	int ok = body_ok && np->nsigs > 0 && np->nsigs <= NOTE_MAX_SIGS;

	for (size_t i = 0; ok && i < np->nsigs; i++)
		ok = note_format_sig(&np->sigs[i].sig, &sigs) == 0;
	if (!ok || w->err != 0 || np->p.body_len + 1 + sigs.len > NOTE_MAX_SIZE) {
		cbuf_free(&sigs);
		jw_raw(w, "\"\"");
		return;
	}
	/* The escaped body less its closing quote, the blank line, then the signatures. */
	blen = body_end - body_at - 1;
	if (w->err == 0 && (w->err = cbuf_reserve(w->b, blen)) == 0)
		jw_put(w, w->b->p + body_at, blen);
	jw_raw(w, "\\n");
	jw_esc(w, sigs.p, sigs.len);
	jw_raw(w, "\"");
	cbuf_free(&sigs);
}

/* Appends np as docs/api.md's proposal object; v is its current verdict when pending (or
 * NULL: needs are then empty). */
int node_prop_json(const struct node_prop *np, const struct ledger_verdict *v, struct cbuf *out)
{
	struct jw w = {out, 0};
	size_t body_at, body_end;
	int body_ok;

	jw_raw(&w, "{\"id\":");
	jw_str(&w, np->p.id);
	jw_raw(&w, ",\"status\":");
	jw_str(&w, node_prop_status_name[np->status]);
	jw_raw(&w, ",\"proposer\":");
	jw_str(&w, np->p.proposer);
	jw_raw(&w, ",\"created\":");
	jw_time(&w, np->p.created);
	jw_raw(&w, ",\"expires\":");
	jw_time(&w, np->p.expires);
	jw_raw(&w, ",\"ops\":[");
	for (size_t i = 0; i < np->p.nops; i++) {
		const struct proposal_op *op = &np->p.ops[i];

		jw_raw(&w, i ? ",{\"op\":" : "{\"op\":");
		jw_str(&w, op->kind == OP_PUT ? "put" : "delete");
		jw_raw(&w, ",\"path\":");
		jw_str(&w, op->path);
		jw_raw(&w, ",\"version\":");
		if (op->version == PROPOSAL_VERSION_NEW)
			jw_raw(&w, "null");
		else
			jw_int(&w, op->version);
		jw_raw(&w, "}");
	}
	jw_raw(&w, "],\"signers\":[");
	for (size_t i = 0; i < np->nsigs; i++) {
		if (i)
			jw_raw(&w, ",");
		jw_str(&w, np->sigs[i].sig.name);
	}
	jw_raw(&w, "],\"objectors\":[");
	for (size_t i = 0; i < np->nobjs; i++) {
		if (i)
			jw_raw(&w, ",");
		jw_str(&w, np->objs[i].sig.name);
	}
	jw_raw(&w, "],\"needs\":[");
	for (unsigned i = 0; v && i < v->nneeds; i++) {
		const struct ledger_need *nd = &v->needs[i];
		const char *s = nd->candidates;
		int first = 1;

		jw_raw(&w, i ? ",{\"policy\":" : "{\"policy\":");
		jw_str(&w, nd->policy);
		jw_raw(&w, ",\"path\":");
		jw_str(&w, nd->path);
		jw_raw(&w, ",\"what\":");
		jw_str(&w, nd->what);
		jw_raw(&w, ",\"have\":");
		jw_int(&w, nd->have);
		jw_raw(&w, ",\"need\":");
		jw_int(&w, nd->need);
		jw_raw(&w, nd->have >= nd->need ? ",\"met\":true" : ",\"met\":false");
		jw_raw(&w, ",\"candidates\":[");
		while (*s) {
			const char *sp = strchr(s, ' ');
			size_t len = sp ? (size_t)(sp - s) : strlen(s);

			if (len) {
				if (!first)
					jw_raw(&w, ",");
				jw_strn(&w, s, len);
				first = 0;
			}
			s += len + (sp != NULL);
		}
		jw_raw(&w, "]}");
	}
	jw_raw(&w, "],\"not_before\":");
	if (v)
		jw_time(&w, v->not_before);
	else
		jw_raw(&w, "null");
	jw_raw(&w, ",\"index\":");
	if (np->idx >= 0)
		jw_int(&w, np->idx);
	else
		jw_raw(&w, "null");
	jw_raw(&w, ",\"reason\":");
	if (np->reason)
		jw_str(&w, np->reason);
	else
		jw_raw(&w, "null");
	jw_raw(&w, ",\"body\":");
	body_at = out->len;
	body_ok = jw_strn(&w, np->p.body, np->p.body_len);
	body_end = out->len;
	jw_raw(&w, ",\"note\":");
	prop_json_note(&w, np, body_at, body_end, body_ok);
	/* each objection note whole, so that anyone (a node taking over) can check it again */
	jw_raw(&w, ",\"objections\":[");
	for (size_t i = 0; i < np->nobjs && w.err == 0; i++) {
		struct cbuf o = CBUF_INIT;

		if (node_objection_text(&o, np->p.origin, np->p.id) < 0 ||
		    cbuf_putc(&o, '\n') < 0 || note_format_sig(&np->objs[i].sig, &o) < 0)
			w.err = CC_ENOMEM;
		if (i)
			jw_raw(&w, ",");
		jw_strn(&w, o.p ? o.p : "", o.len);
		cbuf_free(&o);
	}
	jw_raw(&w, "]}");
	return w.err;
}
