/* SPDX-License-Identifier: GPL-2.0 */
/* --expect NAME OP N: parse, evaluate against the totals, format. */
#ifndef VB_EXPECT_H
#define VB_EXPECT_H

#include <stdbool.h>
#include <stddef.h>
#include "vbtrace.h"

enum vb_op { VB_GE, VB_LE, VB_EQ, VB_NE, VB_GT, VB_LT };

/* A metric is a count, a page total, or the lost counter. */
enum vb_metric_kind { VB_M_COUNT, VB_M_PAGES, VB_M_LOST };

struct vb_expect {
	enum vb_metric_kind kind;
	unsigned int type;		/* enum vb_type, unless VB_M_LOST */
	enum vb_op op;
	unsigned long long value;
};

int expect_parse(const char *s, struct vb_expect *x);
unsigned long long expect_actual(const struct vb_expect *x,
				 const struct vb_totals *t);
bool expect_eval(const struct vb_expect *x, const struct vb_totals *t);
/* Canonical text, e.g. "inflate_pages >= 1000". */
int expect_format(const struct vb_expect *x, char *buf, size_t len);

#endif
