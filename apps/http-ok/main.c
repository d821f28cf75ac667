/*
 * http-ok: answers every HTTP request with 200 OK and the body "ok\n", for service-mesh
 * latency tests, where the app behind the proxy must add as little time as it can.
 *
 * It listens on the port of its first argument, else $PORT, else 8080, on every IPv4
 * address (port 0 lets the kernel pick one), and serves every connection from one
 * thread with epoll. HTTP/1.1 connections stay open for more requests, pipelined or
 * not, until the client closes them; an HTTP/1.0 connection is closed after its
 * answer. Requests may arrive split across any number of packets; bodies announced by
 * Content-Length are read and dropped. A request line that does not end in HTTP/1.x, a
 * bad Content-Length, or a request head of more than MAXHEAD bytes gets 400 and its
 * connection is closed (a chunked body fails the same way, as its chunks are not a
 * request). A connection that sends half a request and stops holds only its own
 * buffer. SIGTERM and SIGINT make it exit 0, also as process 1 of a container.
 * Freestanding C, no C library: about 2 kB.
 */
#include "sys.h"

enum {
	AF_INET = 2, SOCK_STREAM = 1, SOCK_NONBLOCK = 04000, SOL_SOCKET = 1, SO_REUSEADDR = 2,
	EPOLL_CTL_ADD = 1, EPOLLIN = 1, EAGAIN = 11,
	MAXFD = 16384,  /* connections whose descriptor is above this are refused */
	MAXHEAD = 4096, /* the longest request head, with pipelined requests after it */
	NEVENTS = 256,
};

struct event {
	unsigned events;
	int fd, pad;
} __attribute__((packed));

/* What each connection has read of a request it has not answered yet. */
static char buf[MAXFD][MAXHEAD];
static unsigned short len[MAXFD];
/* Body bytes still to drop. */
static unsigned skip[MAXFD];

/*
 * The answers, kept with the code, which saves a segment. An HTTP/1.0 client reads the
 * same answer and closes the connection after it, as its version does by default.
 */
#define TEXT __attribute__((section(".text")))
static const char TEXT ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n";
static const char TEXT bad[] = "HTTP/1.1 400 Bad Request\r\n\r\n";
static const char TEXT usage[] = "http-ok: cannot listen\n";

/* lower returns c in lower case if it is an ASCII letter. */
static int lower(int c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

/* prefix reports whether line starts with name (lower case), ignoring case. */
__attribute__((noinline)) static int prefix(const char *line, const char *end, const char *name)
{
	for (; *name; line++, name++)
		if (line == end || lower(*line) != *name)
			return 0;
	return 1;
}

/* number parses a decimal number up to 99,999,999 after spaces; -1 if there is none or junk. */
__attribute__((noinline)) static long number(const char *p, const char *end)
{
	long n = 0;
	while (p < end && *p == ' ')
		p++;
	if (p == end || end - p > 8)
		return -1;
	for (; p < end; p++) {
		unsigned d = *p - '0';
		if (d > 9)
			return -1;
		n = n * 10 + d;
	}
	return n;
}

/* say writes the n bytes of s to fd and reports whether they all went. */
__attribute__((noinline)) static int say(int fd, const char *s, long n)
{
	return sys(SYS_write, fd, s, n) == n;
}

/* eol returns the first carriage return at or after p. */
__attribute__((noinline)) static char *eol(char *p)
{
	while (*p != '\r')
		p++;
	return p;
}

/*
 * serve handles what fd has sent: it answers each complete request in order and
 * reports whether to keep the connection.
 */
__attribute__((noinline)) static int serve(int fd)
{
	char *b = buf[fd];
	long n = sys(SYS_read, fd, b + len[fd], MAXHEAD - len[fd]);

	if (n <= 0)
		return n == -EAGAIN;
	char *p = b, *end = b + len[fd] + n;
	for (;;) {
		unsigned d = end - p;
		if (d > skip[fd])
			d = skip[fd];
		p += d;
		if ((skip[fd] -= d))
			break;
		/* Find the blank line that ends the head. */
		char *h = p;
		while (h + 3 < end && !(h[0] == '\r' && h[1] == '\n' && h[2] == '\r' && h[3] == '\n'))
			h++;
		if (h + 3 >= end)
			break;
		/* The request line: METHOD SP TARGET SP HTTP/1.x */
		char *e = eol(p);
		long body = e - p < 14 || e[-9] != ' ' || !prefix(e - 8, e, "http/1.") ? -1 : 0;
		int keep = e[-1] == '1';
		/* The headers, one line at a time. */
		for (char *l = e + 2; l < h; l = e + 2) {
			e = eol(l);
			if (prefix(l, e, "content-length:"))
				body = number(l + 15, e);
		}
		if (body < 0)
			goto bad;
		/* HEAD gets the answer without its body; HTTP/1.0 gets it, then the end. */
		if (!say(fd, ok, sizeof ok - (*p == 'H' ? 4 : 1)) || !keep)
			return 0;
		skip[fd] = body;
		p = h + 4;
	}
	n = end - p;
	if (n == MAXHEAD) {
bad:
		say(fd, bad, sizeof bad - 1);
		return 0;
	}
	for (len[fd] = n; n--;)
		*b++ = *p++;
	return 1;
}

void start(long argc, char **argv, char **envp)
{
	unsigned long long set = SIGBIT(SIGINT) | SIGBIT(SIGTERM) | SIGBIT(SIGPIPE);
	const char *port = "8080";
	struct event ev[NEVENTS];
	int one = 1;

	for (; *envp; envp++) {
		const char *v = *envp;
		unsigned w;
		__builtin_memcpy(&w, v, 4); /* x86 reads "PORT" as this number */
		if (w == 0x54524f50 && v[4] == '=')
			port = v + 5;
	}
	if (argc > 1)
		port = argv[1];
	const char *e = port;
	while (*e)
		e++;
	long p = number(port, e);
	/* sockaddr_in: family, port in network order, address 0.0.0.0. */
	unsigned long long addr[2] = {AF_INET | (p >> 8 & 0xffULL) << 16 | (p & 0xffULL) << 24, 0};

	sys4(SYS_rt_sigprocmask, SIG_BLOCK, (long)&set, 0, 8);
	set &= ~SIGBIT(SIGPIPE);
	int sfd = sys4(SYS_signalfd4, -1, (long)&set, 8, 0);
	int lfd = sys(SYS_socket, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	sys5(SYS_setsockopt, lfd, SOL_SOCKET, SO_REUSEADDR, (long)&one, sizeof one);
	if (p < 0 || p > 65535 || sys(SYS_bind, lfd, addr, sizeof addr) < 0 || sys2(SYS_listen, lfd, 4096) < 0) {
		sys(SYS_write, 2, usage, sizeof usage - 1);
		exit_group(1);
	}
	int ep = sys1(SYS_epoll_create1, 0);
	ev[0].events = EPOLLIN;
	ev[0].fd = lfd;
	sys4(SYS_epoll_ctl, ep, EPOLL_CTL_ADD, lfd, (long)ev);
	ev[0].fd = sfd;
	sys4(SYS_epoll_ctl, ep, EPOLL_CTL_ADD, sfd, (long)ev);
	for (;;) {
		long n = sys4(SYS_epoll_wait, ep, (long)ev, NEVENTS, -1);
		for (long i = 0; i < n; i++) {
			int fd = ev[i].fd;
			if (fd == sfd)
				exit_group(0);
			if (fd != lfd) {
				if (!serve(fd))
					sys1(SYS_close, fd);
				continue;
			}
			int c;
			while ((c = sys4(SYS_accept4, lfd, 0, 0, SOCK_NONBLOCK)) >= 0) {
				struct event a = {EPOLLIN, c, 0};
				if (c >= MAXFD || sys4(SYS_epoll_ctl, ep, EPOLL_CTL_ADD, c, (long)&a) < 0) {
					sys1(SYS_close, c);
					continue;
				}
				len[c] = 0;
				skip[c] = 0;
			}
		}
	}
}
