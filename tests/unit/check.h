/* SPDX-License-Identifier: GPL-2.0 */
/* A tiny assertion harness: CHECK records, never aborts. */
#ifndef VB_CHECK_H
#define VB_CHECK_H

#include <stdio.h>
#include <string.h>

extern int check_passed, check_failed;

#define CHECK(cond) do {						\
	if (cond) {							\
		check_passed++;						\
	} else {							\
		check_failed++;						\
		fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__,	\
			#cond);						\
	}								\
} while (0)

#define CHECK_STR(a, b) do {						\
	const char *_a = (a), *_b = (b);				\
	if (!strcmp(_a, _b)) {						\
		check_passed++;						\
	} else {							\
		check_failed++;						\
		fprintf(stderr, "FAIL %s:%d: \"%s\" != \"%s\"\n",	\
			__FILE__, __LINE__, _a, _b);			\
	}								\
} while (0)

void test_expect(void);
void test_json(void);
void test_opts(void);
void test_output(void);
void test_prom(void);
void test_oom_policy(void);

#endif
