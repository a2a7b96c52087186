/* SPDX-License-Identifier: GPL-2.0 */
/*
 * --prom FILE: the Prometheus text format for node_exporter's textfile
 * collector. The metric names are an ABI (README, "Prometheus").
 */
#ifndef VB_PROM_H
#define VB_PROM_H

#include <stdio.h>
#include "vbtrace.h"
#include "levels.h"

/* Default --prom period without -i: node_exporter's usual scrape. */
#define VB_PROM_INTERVAL 15.0

void prom_write(FILE *f, const struct vb_totals *t, const struct vb_levels *l);
/* Write path atomically (temporary file, then rename); 0 or -errno. */
int prom_update(const char *path, const struct vb_totals *t,
		const struct vb_levels *l);

#endif
