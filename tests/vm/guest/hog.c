/* Allocate and touch N MiB, report elapsed and CPU time (user + system)
 * and the start (CLOCK_MONOTONIC): "hog mib=N ms=T cpu_ms=C start_ms=S".
 * Optional: seconds to hold the memory before exiting, and a pace (a slow
 * grower): STEP_MIB every STEP_MS, e.g. "hog 300 0 10 100". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* This process's CPU time (user + system), ms. */
static long cpu_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

int main(int argc, char **argv)
{
	long mib, i, hold = 0, start, cpu0, step = 0, step_ms = 0;
	const long chunk = 1L << 20;

	if (argc < 2 || (mib = atol(argv[1])) <= 0) {
		fprintf(stderr, "usage: hog MIB [HOLD_S [STEP_MIB STEP_MS]]\n");
		return 2;
	}
	if (argc > 2)
		hold = atol(argv[2]);
	if (argc > 4) {
		step = atol(argv[3]);
		step_ms = atol(argv[4]);
	}
	start = now_ms();
	cpu0 = cpu_ms();	/* not exec and start-up: the loop alone */
	/* One chunk at a time so an OOM kill hits us mid-way, like a real app. */
	for (i = 0; i < mib; i++) {
		char *p;

		/* Paced from the start: a slow allocation is not paid twice. */
		if (step > 0 && i % step == 0) {
			long due = start + i / step * step_ms;

			if (due > now_ms())
				usleep((due - now_ms()) * 1000);
		}
		p = malloc(chunk);

		if (!p) {
			printf("hog mib=%ld ms=%ld failed_at=%ld\n", mib, now_ms() - start, i);
			return 1;
		}
		memset(p, 0x5a, chunk);
	}
	printf("hog mib=%ld ms=%ld cpu_ms=%ld start_ms=%ld\n", mib,
	       now_ms() - start, cpu_ms() - cpu0, start);
	fflush(stdout);
	if (hold > 0)
		sleep(hold);
	return 0;
}
