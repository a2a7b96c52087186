/* bgrun NAME CMD [ARG...]: run CMD detached with default signal handling
 * (a shell's "&" leaves SIGINT ignored, so the host could not stop a tracer
 * with it). Files: /tmp/bg/NAME.pid (CMD's pid), NAME.out (stdout+stderr),
 * NAME.rc (exit code, or 128+signal), written when CMD ends. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static void write_file(const char *name, const char *ext, int val)
{
	char path[256], tmp[270];
	FILE *f;

	snprintf(path, sizeof(path), "/tmp/bg/%s.%s", name, ext);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f)
		return;
	fprintf(f, "%d\n", val);
	fclose(f);
	rename(tmp, path);	/* readers never see a half-written file */
}

int main(int argc, char **argv)
{
	char out[256];
	int st, fd, sig;
	sigset_t none;
	pid_t pid;

	if (argc < 3) {
		fprintf(stderr, "usage: bgrun NAME CMD [ARG...]\n");
		return 2;
	}
	snprintf(out, sizeof(out), "/tmp/bg/%s.out", argv[1]);
	pid = fork();
	if (pid < 0)
		return 1;
	if (pid == 0) {
		for (sig = 1; sig < NSIG; sig++)
			signal(sig, SIG_DFL);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		setsid();
		fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		fd = open("/dev/null", O_RDONLY);
		if (fd >= 0) {
			dup2(fd, 0);
			close(fd);
		}
		execvp(argv[2], argv + 2);
		perror("bgrun: exec");
		_exit(127);
	}
	write_file(argv[1], "pid", pid);
	while (waitpid(pid, &st, 0) < 0)
		;
	write_file(argv[1], "rc", WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
	return 0;
}
