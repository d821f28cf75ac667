/*
 * init: the process 1 of a container. It starts its arguments as its only child,
 * passes every signal it can catch on to that child, reaps every process that ends
 * under it (its child's orphans too), and exits as its child did: with the child's
 * status, or 128+N when signal N ended the child.
 *
 * Freestanding C for linux/amd64 and linux/386: no C library, system calls inline,
 * no writable data, and no signal handler. It blocks every signal and takes them one
 * at a time with rt_sigtimedwait, so a signal that arrives at any moment is queued,
 * never lost, and never ignored (the kernel drops signals sent to a container's
 * process 1 only when they are not blocked and have no handler).
 */

#if defined(__x86_64__)
enum { SYS_rt_sigprocmask = 14, SYS_fork = 57, SYS_execve = 59, SYS_exit_group = 231,
       SYS_wait4 = 61, SYS_kill = 62, SYS_write = 1, SYS_rt_sigtimedwait = 128, SYS_prctl = 157 };

static long sys4(long n, long a, long b, long c, long d)
{
	long r;
	register long r10 __asm__("r10") = d;
	__asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10) : "rcx", "r11", "memory");
	return r;
}

__asm__(".text\n.globl _start\n_start:\n\tmov %rsp, %rdi\n\tcall start\n");
#elif defined(__i386__)
enum { SYS_rt_sigprocmask = 175, SYS_fork = 2, SYS_execve = 11, SYS_exit_group = 252,
       SYS_wait4 = 114, SYS_kill = 37, SYS_write = 4, SYS_rt_sigtimedwait = 177, SYS_prctl = 172 };

static long sys4(long n, long a, long b, long c, long d)
{
	long r;
	__asm__ volatile("int $0x80" : "=a"(r) : "a"(n), "b"(a), "c"(b), "d"(c), "S"(d) : "memory");
	return r;
}

__asm__(".text\n.globl _start\n_start:\n\tmov %esp, %eax\n\tand $-16, %esp\n\tsub $12, %esp\n\tpush %eax\n\tcall start\n");
#else
#error "init is written for x86_64 and i386"
#endif

#define sys(n, a, b, c) sys4(n, (long)(a), (long)(b), (long)(c), 0)

enum { SIG_SETMASK = 2, SIGCHLD = 17, WNOHANG = 1, PR_SET_CHILD_SUBREAPER = 36 };

static const char failed[] = "init: cannot execute the command\n";

__attribute__((noreturn, used)) void start(long *sp)
{
	char **argv = (char **)(sp + 1);
	char **envp = argv + sp[0] + 1;
	unsigned long long all = ~0ULL, old;
	int status;

	sys4(SYS_rt_sigprocmask, SIG_SETMASK, (long)&all, (long)&old, 8);
	/* Outside a PID namespace, orphans are still ours to reap. */
	sys(SYS_prctl, PR_SET_CHILD_SUBREAPER, 1, 0);
	long child = sys(SYS_fork, 0, 0, 0);
	if (child == 0) {
		sys4(SYS_rt_sigprocmask, SIG_SETMASK, (long)&old, 0, 8);
		sys(SYS_execve, argv[1], argv + 1, envp);
		sys(SYS_write, 2, failed, sizeof failed - 1);
		sys(SYS_exit_group, 127, 0, 0);
	}
	if (child < 0)
		sys(SYS_exit_group, 126, 0, 0);
	for (;;) {
		long sig = sys4(SYS_rt_sigtimedwait, (long)&all, 0, 0, 8);
		if (sig != SIGCHLD) {
			if (sig > 0)
				sys(SYS_kill, child, sig, 0);
			continue;
		}
		long pid;
		while ((pid = sys4(SYS_wait4, -1, (long)&status, WNOHANG, 0)) > 0)
			if (pid == child)
				sys(SYS_exit_group, status & 0x7f ? 128 + (status & 0x7f) : (status >> 8) & 0xff, 0, 0);
	}
}
