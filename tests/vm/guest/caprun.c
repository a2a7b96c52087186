// SPDX-License-Identifier: GPL-2.0
/*
 * caprun UID CMD...: run CMD as UID (and GID UID, no groups) keeping only
 * CAP_BPF and CAP_PERFMON, as ambient capabilities so they survive exec.
 * The busybox guest has no setpriv or capsh.
 */
#define _GNU_SOURCE
#include <grp.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef CAP_PERFMON
#define CAP_PERFMON 38
#define CAP_BPF 39
#endif

static void die(const char *what)
{
	perror(what);
	exit(126);
}

int main(int argc, char **argv)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2] = { { 0 } };
	unsigned int want = 1u << (CAP_PERFMON - 32) | 1u << (CAP_BPF - 32);
	uid_t uid;

	if (argc < 3) {
		fprintf(stderr, "usage: caprun UID CMD...\n");
		return 2;
	}
	uid = atoi(argv[1]);
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0))
		die("keepcaps");
	if (setgroups(0, NULL) || setresgid(uid, uid, uid) ||
	    setresuid(uid, uid, uid))
		die("setresuid");
	/* Both capabilities are above 31: the second data word. */
	d[1].effective = d[1].permitted = d[1].inheritable = want;
	if (syscall(SYS_capset, &h, d))
		die("capset");
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_BPF, 0, 0) ||
	    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_PERFMON, 0, 0))
		die("ambient");
	execvp(argv[2], argv + 2);
	die("exec");
}
