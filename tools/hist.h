/* SPDX-License-Identifier: GPL-2.0 */
/* Log2 histograms of durations (ns), as counted by bpf/vbtrace.bpf.c. */
#ifndef VB_HIST_H
#define VB_HIST_H

#include <stdio.h>
#include "vbtrace.h"

const char *hist_name(unsigned int hist);
/* Upper bound of slot k, exclusive: 2^(k+1) ns (slot 0 holds 0 and 1). */
unsigned long long hist_slot_hi(unsigned int slot);
/* runqlat-style table, within 80 columns; nothing when empty. */
void hist_text(FILE *f, unsigned int hist, const unsigned long long *slots);
/* ,"name":...,"unit":"ns","buckets":[{"lo":..,"hi":..,"count":..},...] */
void hist_json(FILE *f, unsigned int hist, const unsigned long long *slots);

#endif
