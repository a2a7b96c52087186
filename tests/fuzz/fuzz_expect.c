// SPDX-License-Identifier: GPL-2.0
/* --expect parser: never crashes, and what it accepts round-trips. */
#include <stdint.h>
#include <string.h>
#include "expect.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vb_expect x, y;
	struct vb_totals t;
	char *s, buf[96];

	s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	memset(&t, 0x5a, sizeof(t));
	if (!expect_parse(s, &x)) {
		expect_format(&x, buf, sizeof(buf));
		REQUIRE(!expect_parse(buf, &y));
		REQUIRE(x.kind == y.kind && x.type == y.type &&
			x.op == y.op && x.value == y.value);
		REQUIRE(expect_eval(&x, &t) == expect_eval(&y, &t));
		expect_actual(&x, &t);
	}
	free(s);
	return 0;
}
