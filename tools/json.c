// SPDX-License-Identifier: GPL-2.0
#include <stdio.h>
#include <string.h>
#include "json.h"

/* Where escaped bytes go: a bounded buffer, or a stream when f is set. */
struct out {
	FILE *f;
	char *dst;
	size_t cap;
	size_t len;
};

static void put(struct out *o, const char *s, size_t n)
{
	size_t i;

	if (o->f) {
		fwrite(s, 1, n, o->f);
		o->len += n;
		return;
	}
	for (i = 0; i < n; i++, o->len++)
		if (o->len + 1 < o->cap)
			o->dst[o->len] = s[i];
}

/*
 * Length of the valid UTF-8 sequence at s (at most n bytes), or 0.
 * Rejects overlong forms, surrogates and code points above U+10FFFF.
 */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	size_t len, i;
	unsigned int cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return len;
}

static void put_byte(struct out *o, unsigned char c)
{
	char esc[8];

	if (c == '"' || c == '\\') {
		esc[0] = '\\';
		esc[1] = c;
		put(o, esc, 2);
	} else if (c < 0x20 || c == 0x7f) {
		snprintf(esc, sizeof(esc), "\\u%04x", c);
		put(o, esc, 6);
	} else {
		put(o, (const char *)&c, 1);
	}
}

static void escape(struct out *o, const char *src, size_t n)
{
	const unsigned char *s = (const unsigned char *)src;
	size_t i = 0, l;

	while (i < n) {
		l = utf8_len(s + i, n - i);
		if (l == 1)
			put_byte(o, s[i]);
		else if (l)
			put(o, src + i, l);
		else
			put(o, "\\ufffd", 6);	/* one per invalid byte */
		i += l ? l : 1;
	}
}

size_t json_escape(char *dst, size_t cap, const char *src, size_t n)
{
	struct out o = { NULL, dst, cap, 0 };

	escape(&o, src, n);
	if (cap)
		dst[o.len < cap ? o.len : cap - 1] = '\0';
	return o.len;
}

/* Streamed whole: no chunks, so no chunk edge can split a character. */
void json_put_str(FILE *f, const char *src, size_t n)
{
	struct out o = { f, NULL, 0, 0 };

	fputc('"', f);
	escape(&o, src, n);
	fputc('"', f);
}
