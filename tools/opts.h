/* SPDX-License-Identifier: GPL-2.0 */
/* Option values and event type names; pure, shared with the unit tests. */
#ifndef VB_OPTS_H
#define VB_OPTS_H

#include "vbtrace.h"

#define VB_ALL_EVENTS ((1u << VB_NR_TYPES) - 1)
/* Upper bound for -d/-i: one year, far beyond any test run. */
#define VB_MAX_SECONDS (365.0 * 24 * 3600)

/* Shortest -i: the poll period; shorter would only burn CPU. */
#define VB_MIN_INTERVAL 0.1

const char *vb_type_name(unsigned int type);
const char *vb_constraint_name(unsigned int constraint);
int vb_type_from_name(const char *name, size_t len);
int parse_seconds(const char *s, double *out);
int parse_events(const char *s, unsigned int *mask);

#endif
