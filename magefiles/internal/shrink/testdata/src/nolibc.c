/*
 * nolibc.c: a static x86 program without a C library, for -m64 and -m32.
 *
 * It prints a greeting kept in writable data whose tail is zero, checks
 * that the zero tail and a bss array read as zero and can be written, and
 * exits 0. Built with -DREADONLY the greeting is const and the program has
 * no writable data, so its last loadable segment is read-only.
 */

#if defined(__x86_64__)
enum { SYS_write = 1, SYS_exit = 60 };
#elif defined(__i386__)
enum { SYS_write = 4, SYS_exit = 1 };
#else
#error "x86 only"
#endif

static long sys3(long n, long a, long b, long c)
{
	long r;
#if defined(__x86_64__)
	__asm__ volatile("syscall"
			 : "=a"(r)
			 : "a"(n), "D"(a), "S"(b), "d"(c)
			 : "rcx", "r11", "memory");
#else
	__asm__ volatile("int $0x80"
			 : "=a"(r)
			 : "a"(n), "b"(a), "c"(b), "d"(c)
			 : "memory");
#endif
	return r;
}

#ifdef READONLY
static const char greeting[] = "hello from C without libc\n";
#else
static char greeting[256] = "hello from C without libc\n";
static char scratch[8192];
#endif

void _start(void)
{
	const volatile char *g = greeting;
	long n = 0;
	while (g[n])
		n++;
#ifndef READONLY
	volatile char *w = greeting;
	volatile char *s = scratch;
	for (unsigned long i = n; i < sizeof greeting; i++)
		if (w[i])
			sys3(SYS_exit, 3, 0, 0);
	for (unsigned long i = 0; i < sizeof scratch; i++)
		if (s[i])
			sys3(SYS_exit, 4, 0, 0);
	w[sizeof greeting - 1] = 'x';
	s[sizeof scratch - 1] = 'x';
#endif
	sys3(SYS_write, 1, (long)greeting, n);
	for (;;)
		sys3(SYS_exit, 0, 0, 0);
}
