// SPDX-License-Identifier: GPL-2.0
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "expect.h"
#include "opts.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Two-character operators first, so ">=" is not read as ">". */
static const struct {
	const char *text;
	enum vb_op op;
} ops[] = {
	{ ">=", VB_GE }, { "<=", VB_LE }, { "==", VB_EQ }, { "!=", VB_NE },
	{ ">", VB_GT }, { "<", VB_LT },
};

static const char *op_text(enum vb_op op)
{
	unsigned int i;

	for (i = 0; i < ARRAY_LEN(ops); i++)
		if (ops[i].op == op)
			return ops[i].text;
	return "?";
}

static const char *skip_space(const char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	return s;
}

static int parse_name(const char *s, size_t n, struct vb_expect *x)
{
	static const char suffix[] = "_pages";
	size_t sl = sizeof(suffix) - 1;
	int t;

	if (n == 4 && !strncmp(s, "lost", 4)) {
		x->kind = VB_M_LOST;
		x->type = 0;
		return 0;
	}
	x->kind = VB_M_COUNT;
	if (n > sl && !strncmp(s + n - sl, suffix, sl)) {
		x->kind = VB_M_PAGES;
		n -= sl;
	}
	t = vb_type_from_name(s, n);
	if (t < 0)
		return -EINVAL;
	x->type = t;
	return 0;
}

static const char *parse_op(const char *s, enum vb_op *op)
{
	unsigned int i;
	size_t n;

	for (i = 0; i < ARRAY_LEN(ops); i++) {
		n = strlen(ops[i].text);
		if (!strncmp(s, ops[i].text, n)) {
			*op = ops[i].op;
			return s + n;
		}
	}
	return NULL;
}

/* Unsigned decimal only: no sign, no hex, no suffix. */
static const char *parse_value(const char *s, unsigned long long *v)
{
	char *end;

	if (!isdigit((unsigned char)*s))
		return NULL;
	errno = 0;
	*v = strtoull(s, &end, 10);
	if (errno)
		return NULL;
	return end;
}

int expect_parse(const char *s, struct vb_expect *x)
{
	const char *name;
	size_t n;

	if (!s)
		return -EINVAL;
	name = skip_space(s);
	n = 0;
	while (islower((unsigned char)name[n]) || name[n] == '_')
		n++;
	if (!n || parse_name(name, n, x))
		return -EINVAL;
	s = parse_op(skip_space(name + n), &x->op);
	if (!s)
		return -EINVAL;
	s = parse_value(skip_space(s), &x->value);
	if (!s || *skip_space(s))
		return -EINVAL;
	return 0;
}

unsigned long long expect_actual(const struct vb_expect *x,
				 const struct vb_totals *t)
{
	switch (x->kind) {
	case VB_M_COUNT:
		return t->count[x->type];
	case VB_M_PAGES:
		return t->pages[x->type];
	default:
		return t->lost;
	}
}

bool expect_eval(const struct vb_expect *x, const struct vb_totals *t)
{
	unsigned long long a = expect_actual(x, t), v = x->value;

	switch (x->op) {
	case VB_GE: return a >= v;
	case VB_LE: return a <= v;
	case VB_EQ: return a == v;
	case VB_NE: return a != v;
	case VB_GT: return a > v;
	case VB_LT: return a < v;
	}
	return false;
}

int expect_format(const struct vb_expect *x, char *buf, size_t len)
{
	const char *name = x->kind == VB_M_LOST ? "lost" : vb_type_name(x->type);

	return snprintf(buf, len, "%s%s %s %llu", name,
			x->kind == VB_M_PAGES ? "_pages" : "", op_text(x->op),
			x->value);
}
