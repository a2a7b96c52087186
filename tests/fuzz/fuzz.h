/* SPDX-License-Identifier: GPL-2.0 */
/* Shared by the libFuzzer targets: abort loudly on a broken property. */
#ifndef VB_FUZZ_H
#define VB_FUZZ_H

#include <stdio.h>
#include <stdlib.h>

#define REQUIRE(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, #cond); \
		abort();						\
	}								\
} while (0)

/*
 * A JSON text with only well-formed strings: no raw control bytes inside
 * strings, every backslash escape valid, quotes balanced.
 */
static inline int json_strings_ok(const char *s, size_t n)
{
	int in = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = s[i];

		if (!in) {
			in = c == '"';
			continue;
		}
		if (c < 0x20)
			return 0;
		if (c == '"') {
			in = 0;
		} else if (c == '\\') {
			if (++i == n)
				return 0;
			if (s[i] == 'u') {
				if (i + 4 >= n)
					return 0;
				i += 4;
			} else if (s[i] != '"' && s[i] != '\\') {
				return 0;
			}
		}
	}
	return !in;
}

#endif
