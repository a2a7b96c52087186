// SPDX-License-Identifier: GPL-2.0
#include <stdlib.h>
#include "check.h"

int check_passed, check_failed;

int main(void)
{
	/* Fixed zone so text times are deterministic. */
	setenv("TZ", "UTC", 1);
	test_expect();
	test_json();
	test_opts();
	test_output();
	test_prom();
	test_oom_policy();
	printf("%d passed, %d failed\n", check_passed, check_failed);
	return check_failed ? 1 : 0;
}
