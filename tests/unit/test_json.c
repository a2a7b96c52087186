// SPDX-License-Identifier: GPL-2.0
#include <stdlib.h>
#include "check.h"
#include "json.h"

static const char *esc(const char *s, size_t n)
{
	static char buf[512];

	json_escape(buf, sizeof(buf), s, n);
	return buf;
}

#define ESC(lit) esc(lit, sizeof(lit) - 1)

/* json_put_str through a memory stream, quotes included. */
static char *put(const char *s, size_t n)
{
	static char *mem;
	size_t len;
	FILE *f;

	free(mem);
	f = open_memstream(&mem, &len);
	json_put_str(f, s, n);
	fclose(f);
	return mem;
}

static void test_escapes(void)
{
	CHECK_STR(ESC("plain"), "plain");
	CHECK_STR(ESC("a\"b"), "a\\\"b");
	CHECK_STR(ESC("a\\b"), "a\\\\b");
	CHECK_STR(ESC("\n\t\r"), "\\u000a\\u0009\\u000d");
	CHECK_STR(ESC("\x01\x1f\x7f"), "\\u0001\\u001f\\u007f");
	CHECK_STR(ESC("a\0b"), "a\\u0000b");
	CHECK_STR(ESC("/ ok"), "/ ok");
}

static void test_utf8(void)
{
	CHECK_STR(ESC("caf\xc3\xa9"), "caf\xc3\xa9");
	CHECK_STR(ESC("\xe2\x82\xac"), "\xe2\x82\xac");
	CHECK_STR(ESC("\xf0\x9f\x98\x80"), "\xf0\x9f\x98\x80");
	CHECK_STR(ESC("\xff"), "\\ufffd");
	CHECK_STR(ESC("a\xc3"), "a\\ufffd");			/* truncated */
	CHECK_STR(ESC("\xc0\xaf"), "\\ufffd\\ufffd");		/* overlong */
	CHECK_STR(ESC("\xe0\x80\xaf"), "\\ufffd\\ufffd\\ufffd");
	CHECK_STR(ESC("\xed\xa0\x80"), "\\ufffd\\ufffd\\ufffd");	/* surrogate */
	CHECK_STR(ESC("\xf4\x90\x80\x80"), "\\ufffd\\ufffd\\ufffd\\ufffd");
	CHECK_STR(ESC("\x80x"), "\\ufffdx");
}

static void test_sizes(void)
{
	char small[4];

	/* Returns the full length and truncates like snprintf. */
	CHECK(json_escape(small, sizeof(small), "\"\"", 2) == 4);
	CHECK_STR(small, "\\\"\\");
	CHECK(json_escape(NULL, 0, "\x01", 1) == 6);
}

static void test_put(void)
{
	/* Exactly 16 bytes, so not NUL-terminated, like a full comm. */
	/* Exactly 16 bytes, so not NUL-terminated, like a full comm. */
	static const char comm[16] = "ev\"il\\\n\xff\xc3\xa9name12";
	char long_in[100];
	char *out;

	CHECK_STR(put("kworker/0:1", 11), "\"kworker/0:1\"");
	CHECK_STR(put("", 0), "\"\"");
	CHECK_STR(put(comm, sizeof(comm)),
		  "\"ev\\\"il\\\\\\u000a\\ufffd\xc3\xa9name12\"");
	/* Long input crosses the chunk boundary without splitting UTF-8. */
	memset(long_in, 'a', sizeof(long_in));
	long_in[31] = '\xc3';
	long_in[32] = '\xa9';
	out = put(long_in, sizeof(long_in));
	CHECK(strstr(out, "\xc3\xa9") != NULL);
	CHECK(strstr(out, "ufffd") == NULL);
	CHECK(strlen(out) == sizeof(long_in) + 2);
}

/*
 * A lead byte followed by a long run of continuation bytes: the streamed
 * string equals the one-shot escape (a chunked writer cut the U+00C0).
 */
static void test_put_no_split(void)
{
	char in[41], whole[41 * 6 + 1], quoted[41 * 6 + 3];

	in[0] = '\xc3';
	memset(in + 1, 0x80, sizeof(in) - 1);
	json_escape(whole, sizeof(whole), in, sizeof(in));
	snprintf(quoted, sizeof(quoted), "\"%s\"", whole);
	CHECK_STR(put(in, sizeof(in)), quoted);
	CHECK(!strncmp(whole, "\xc3\x80\\ufffd", 8));
}

void test_json(void)
{
	test_escapes();
	test_utf8();
	test_sizes();
	test_put();
	test_put_no_split();
}
