/*
 * kpause: a pause with the behaviour of the one Kubernetes runs in every pod, written
 * for the fleet benchmark and built the way Kubernetes builds its own (gcc -Os
 * -static with glibc, then stripped): it prints a version for -v, warns when it is
 * not process 1, exits 0 on SIGINT or SIGTERM from signal handlers, reaps children on
 * SIGCHLD, and otherwise sleeps in pause().
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void stop(int sig)
{
	fprintf(stderr, "stopping on signal %d\n", sig);
	exit(0);
}

static void reap(int sig)
{
	(void)sig;
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "-v") == 0) {
		printf("kpause 1.0\n");
		return 0;
	}
	if (getpid() != 1)
		fprintf(stderr, "warning: kpause should be process 1\n");
	struct sigaction sa = {.sa_handler = stop};
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = reap;
	sa.sa_flags = SA_NOCLDSTOP;
	sigaction(SIGCHLD, &sa, NULL);
	for (;;)
		pause();
}
