/*
 * sys.h: Linux system calls and program entry for freestanding C on linux/amd64 and
 * linux/386, for apps built with -ffreestanding -nostdlib: no C library, so the
 * programs are a few hundred bytes. The app defines
 *
 *	void start(long argc, char **argv, char **envp)
 *
 * which must not return; _start calls it with the stack the kernel built.
 */
#ifndef SYS_H
#define SYS_H

#if defined(__x86_64__)
enum {
	SYS_read = 0, SYS_write = 1, SYS_close = 3, SYS_rt_sigprocmask = 14,
	SYS_socket = 41, SYS_bind = 49, SYS_listen = 50, SYS_setsockopt = 54, SYS_fork = 57,
	SYS_wait4 = 61, SYS_kill = 62, SYS_getpid = 39, SYS_rt_sigtimedwait = 128,
	SYS_epoll_wait = 232, SYS_epoll_ctl = 233, SYS_exit_group = 231,
	SYS_accept4 = 288, SYS_signalfd4 = 289, SYS_epoll_create1 = 291,
};

static inline long sys5(long n, long a, long b, long c, long d, long e)
{
	long r;
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	__asm__ volatile("syscall"
			 : "=a"(r)
			 : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8)
			 : "rcx", "r11", "memory");
	return r;
}

static inline long sys4(long n, long a, long b, long c, long d)
{
	long r;
	register long r10 __asm__("r10") = d;
	__asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10) : "rcx", "r11", "memory");
	return r;
}

static inline long sys3(long n, long a, long b, long c)
{
	long r;
	__asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
	return r;
}

static inline long sys2(long n, long a, long b)
{
	long r;
	__asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b) : "rcx", "r11", "memory");
	return r;
}

static inline long sys1(long n, long a)
{
	long r;
	__asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a) : "rcx", "r11", "memory");
	return r;
}

__asm__(".text\n.globl _start\n_start:\n"
	"\tmov (%rsp), %rdi\n\tlea 8(%rsp), %rsi\n\tlea 8(%rsi,%rdi,8), %rdx\n\tcall start\n");
#elif defined(__i386__)
enum {
	SYS_read = 3, SYS_write = 4, SYS_close = 6, SYS_rt_sigprocmask = 175,
	SYS_socket = 359, SYS_bind = 361, SYS_listen = 363, SYS_setsockopt = 366, SYS_fork = 2,
	SYS_wait4 = 114, SYS_kill = 37, SYS_getpid = 20, SYS_rt_sigtimedwait = 177,
	SYS_epoll_wait = 256, SYS_epoll_ctl = 255, SYS_exit_group = 252,
	SYS_accept4 = 364, SYS_signalfd4 = 327, SYS_epoll_create1 = 329,
};

static inline long sys5(long n, long a, long b, long c, long d, long e)
{
	long r;
	__asm__ volatile("int $0x80"
			 : "=a"(r)
			 : "a"(n), "b"(a), "c"(b), "d"(c), "S"(d), "D"(e)
			 : "memory");
	return r;
}

static inline long sys4(long n, long a, long b, long c, long d)
{
	long r;
	__asm__ volatile("int $0x80" : "=a"(r) : "a"(n), "b"(a), "c"(b), "d"(c), "S"(d) : "memory");
	return r;
}

static inline long sys3(long n, long a, long b, long c)
{
	long r;
	__asm__ volatile("int $0x80" : "=a"(r) : "a"(n), "b"(a), "c"(b), "d"(c) : "memory");
	return r;
}

static inline long sys2(long n, long a, long b)
{
	long r;
	__asm__ volatile("int $0x80" : "=a"(r) : "a"(n), "b"(a), "c"(b) : "memory");
	return r;
}

static inline long sys1(long n, long a)
{
	long r;
	__asm__ volatile("int $0x80" : "=a"(r) : "a"(n), "b"(a) : "memory");
	return r;
}

__asm__(".text\n.globl _start\n_start:\n"
	"\tmov (%esp), %eax\n\tlea 4(%esp), %ecx\n\tlea 4(%ecx,%eax,4), %edx\n"
	"\tand $-16, %esp\n\tpush %edx\n\tpush %ecx\n\tpush %eax\n\tcall start\n");
#else
#error "sys.h is written for x86_64 and i386"
#endif

#define sys(n, a, b, c) sys3(n, (long)(a), (long)(b), (long)(c))

enum {
	SIGINT = 2, SIGPIPE = 13, SIGTERM = 15, SIGCHLD = 17,
	SIG_BLOCK = 0, SIG_SETMASK = 2, WNOHANG = 1,
};

/* The bit of signal n in a 64-bit signal set. */
#define SIGBIT(n) (1ULL << ((n) - 1))

__attribute__((noreturn)) static inline void exit_group(long status)
{
	sys1(SYS_exit_group, status);
	__builtin_unreachable();
}

void start(long argc, char **argv, char **envp) __attribute__((noreturn, used));

#endif
