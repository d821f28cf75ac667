/*
 * pause: waits, as process 1 of a pod, until it is told to stop. It exits 0 on SIGINT
 * or SIGTERM, reaps every child that ends under it (a pod that shares its process
 * namespace re-parents orphans to it), and prints its version for -v. Freestanding C:
 * it blocks the signals it waits for and takes them with rt_sigtimedwait, so as
 * process 1, where the kernel drops signals that are neither blocked nor handled,
 * it still gets them.
 */
#include "sys.h"

static const char version[] = "pause (minimal) 1.0\n";

void start(long argc, char **argv, char **envp)
{
	unsigned long long set = SIGBIT(SIGINT) | SIGBIT(SIGTERM) | SIGBIT(SIGCHLD);
	int status;

	(void)envp;
	if (argc > 1 && argv[1][0] == '-' && argv[1][1] == 'v' && argv[1][2] == 0) {
		sys(SYS_write, 1, version, sizeof version - 1);
		exit_group(0);
	}
	sys4(SYS_rt_sigprocmask, SIG_BLOCK, (long)&set, 0, 8);
	for (;;) {
		long sig = sys4(SYS_rt_sigtimedwait, (long)&set, 0, 0, 8);
		if (sig == SIGINT || sig == SIGTERM)
			exit_group(0);
		while (sys4(SYS_wait4, -1, (long)&status, WNOHANG, 0) > 0)
			;
	}
}
