// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "opts.h"

static const char *const type_names[VB_NR_TYPES] = {
	[VB_INFLATE] = "inflate",
	[VB_DEFLATE] = "deflate",
	[VB_OOM_LEAK] = "oom_leak",
	[VB_OOM_KILL] = "oom_kill",
	[VB_REPORT] = "report",
	[VB_HINT] = "hint",
};

static const char *const constraint_names[VB_NR_CONSTRAINTS] = {
	[VB_CONSTRAINT_NONE] = "none",
	[VB_CONSTRAINT_CPUSET] = "cpuset",
	[VB_CONSTRAINT_MEMPOLICY] = "mempolicy",
	[VB_CONSTRAINT_MEMCG] = "memcg",
};

const char *vb_constraint_name(unsigned int c)
{
	return c < VB_NR_CONSTRAINTS ? constraint_names[c] : "unknown";
}

const char *vb_type_name(unsigned int type)
{
	return type < VB_NR_TYPES ? type_names[type] : "unknown";
}

/* Type index for the first len bytes of name, or -1. */
int vb_type_from_name(const char *name, size_t len)
{
	unsigned int i;

	for (i = 0; i < VB_NR_TYPES; i++)
		if (strlen(type_names[i]) == len &&
		    !strncmp(type_names[i], name, len))
			return i;
	return -1;
}

/* A positive decimal number of seconds; fractions allowed ("0.5"). */
int parse_seconds(const char *s, double *out)
{
	char *end;
	double v;

	/* Plain decimal only: strtod would also take hex, "inf", exponents. */
	if (!s || !*s || s[strspn(s, "0123456789.")])
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno || *end || !isfinite(v) || v <= 0 || v > VB_MAX_SECONDS)
		return -EINVAL;
	*out = v;
	return 0;
}

/* Comma-separated type names; "all" selects every type. */
int parse_events(const char *s, unsigned int *mask)
{
	unsigned int m = 0;
	const char *p = s;
	size_t n;
	int t;

	if (!s || !*s)
		return -EINVAL;
	for (;;) {
		n = strcspn(p, ",");
		if (n == 3 && !strncmp(p, "all", 3)) {
			m |= VB_ALL_EVENTS;
		} else {
			t = vb_type_from_name(p, n);
			if (t < 0)
				return -EINVAL;
			m |= 1u << t;
		}
		if (!p[n])
			break;
		p += n + 1;
	}
	*mask = m;
	return 0;
}
