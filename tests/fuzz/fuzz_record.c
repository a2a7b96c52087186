// SPDX-License-Identifier: GPL-2.0
/*
 * Record writer: any ring buffer record, as NDJSON, is one line of well
 * formed strings; as text, one line within 80 columns when its numbers
 * fit their columns.
 */
#include <stdint.h>
#include <string.h>
#include "output.h"
#include "fuzz.h"

static char *render(const struct vb_event *e, bool json, size_t *len)
{
	struct vb_out o = { NULL, json, 4096, 0 };
	char *mem = NULL;

	o.f = open_memstream(&mem, len);
	REQUIRE(o.f);
	out_event(&o, e, 1795694400ULL * 1000000000ULL);
	fclose(o.f);
	REQUIRE(!o.err);
	return mem;
}

static int fits(unsigned long long v)
{
	return v < 100000000ULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vb_event e;
	size_t len;
	char *s;

	memset(&e, 0, sizeof(e));
	memcpy(&e, data, size < sizeof(e) ? size : sizeof(e));
	e.type %= VB_NR_TYPES;

	s = render(&e, true, &len);
	REQUIRE(len > 2 && s[0] == '{' && !strcmp(s + len - 2, "}\n"));
	REQUIRE(memchr(s, '\n', len) == s + len - 1);
	REQUIRE(json_strings_ok(s, len));
	free(s);

	s = render(&e, false, &len);
	REQUIRE(len && memchr(s, '\n', len) == s + len - 1);
	if (fits(e.pages) && fits(e.rss_pages) && fits(e.balloon_pages) &&
	    fits(e.target_pages))
		REQUIRE(len - 1 <= VB_TEXT_COLS);
	free(s);
	return 0;
}
