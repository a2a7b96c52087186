// SPDX-License-Identifier: GPL-2.0
/*
 * JSON string encoder: output is well formed, bounded writes respect cap,
 * and the streamed form equals the one-shot escape.
 */
#include <stdint.h>
#include <string.h>
#include "json.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *src = (const char *)data;
	size_t need, cap, len;
	char *full, *small, *mem = NULL;
	FILE *f;

	need = json_escape(NULL, 0, src, size);
	full = malloc(need + 1);
	REQUIRE(full);
	REQUIRE(json_escape(full, need + 1, src, size) == need);
	REQUIRE(strlen(full) == need);

	/* A short buffer: truncated, terminated, never overrun. */
	cap = size ? data[0] % 16 + 1 : 1;
	small = malloc(cap);
	REQUIRE(small);
	REQUIRE(json_escape(small, cap, src, size) == need);
	REQUIRE(strlen(small) < cap && !strncmp(small, full, strlen(small)));

	f = open_memstream(&mem, &len);
	REQUIRE(f);
	json_put_str(f, src, size);
	fclose(f);
	REQUIRE(len == need + 2 && mem[0] == '"' && mem[len - 1] == '"');
	REQUIRE(!memcmp(mem + 1, full, need));
	REQUIRE(json_strings_ok(mem, len));
	free(mem);
	free(small);
	free(full);
	return 0;
}
