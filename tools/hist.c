// SPDX-License-Identifier: GPL-2.0
#include <string.h>
#include "hist.h"

#define BAR_COLS 30

static const char *const names[VB_NR_HISTS] = {
	[VB_HIST_INFLATE] = "inflate",
	[VB_HIST_DEFLATE] = "deflate",
	[VB_HIST_OOM_LEAK] = "oom_release",
	[VB_HIST_REPORT] = "report",
	[VB_HIST_HINT] = "hint",
};

const char *hist_name(unsigned int hist)
{
	return hist < VB_NR_HISTS ? names[hist] : "unknown";
}

unsigned long long hist_slot_hi(unsigned int slot)
{
	return 2ULL << slot;
}

static unsigned long long slot_lo(unsigned int slot)
{
	return slot ? 1ULL << slot : 0;
}

/* First and last non-empty slots; 0 when all are empty. */
static int used_range(const unsigned long long *slots, unsigned int *lo,
		      unsigned int *hi)
{
	unsigned int i;
	int any = 0;

	for (i = 0; i < VB_HIST_SLOTS; i++) {
		if (!slots[i])
			continue;
		if (!any)
			*lo = i;
		*hi = i;
		any = 1;
	}
	return any;
}

void hist_text(FILE *f, unsigned int hist, const unsigned long long *slots)
{
	unsigned long long max = 0;
	unsigned int lo = 0, hi = 0, i, n;
	char bar[BAR_COLS + 1];

	if (!used_range(slots, &lo, &hi))
		return;
	for (i = lo; i <= hi; i++)
		if (slots[i] > max)
			max = slots[i];
	fprintf(f, "\n%s time:\n%29s : %-8s %s\n", hist_name(hist), "ns",
		"count", "distribution");
	for (i = lo; i <= hi; i++) {
		n = slots[i] * BAR_COLS / max;
		memset(bar, '*', n);
		bar[n] = '\0';
		fprintf(f, "%12llu -> %-12llu : %-8llu |%-*s|\n", slot_lo(i),
			hist_slot_hi(i) - 1, slots[i], BAR_COLS, bar);
	}
}

void hist_json(FILE *f, unsigned int hist, const unsigned long long *slots)
{
	const char *sep = "";
	unsigned int i;

	fprintf(f, ",\"name\":\"%s\",\"unit\":\"ns\",\"buckets\":[",
		hist_name(hist));
	for (i = 0; i < VB_HIST_SLOTS; i++) {
		if (!slots[i])
			continue;
		fprintf(f, "%s{\"lo\":%llu,\"hi\":%llu,\"count\":%llu}", sep,
			slot_lo(i), hist_slot_hi(i) - 1, slots[i]);
		sep = ",";
	}
	fputc(']', f);
}
