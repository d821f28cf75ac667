/*
 * The decompression stub of a packed executable. The kernel loads the packed
 * file, whose one PT_LOAD segment holds this code, the header the packer
 * writes right after it, and the compressed streams. The stub maps the
 * program's memory at the program's own addresses, decodes the streams into
 * it (one thread per stream), undoes the x86 branch filter, gives every page
 * its segment's protection, points the auxiliary vector at the program's
 * headers and entry, and returns the entry point to start_*.S, which jumps
 * to it with the initial stack: argc, argv, envp and auxv stay where the
 * kernel put them.
 *
 * Built freestanding: no C library, no writable data, position-independent.
 */

#include "lzmadec.h"

typedef unsigned long word;

/* The header the packer writes after the stub, in native words. */
#ifdef PC_TABLES
/* The kinds of pc table the packer groups the tables by (pctab.go's pcKinds),
 * and how many of them are pcdata tables. */
#define PC_KINDS 8
#define PC_KIND_PCDATA 4
#endif

struct header {
	word base;      /* lowest address of the program's memory */
	word size;      /* bytes of address space from base */
	word entry;     /* the program's entry point */
	word phdr;      /* address of the program headers in its memory */
	word phnum;     /* number of program headers */
	word flags;     /* FLAG_RELOCATABLE */
	word nstreams;  /* struct stream entries that follow */
	word nranges;   /* struct range entries after those */
};

/* The program may be mapped anywhere: every address is then relative. */
#define FLAG_RELOCATABLE 1

/* One compressed stream: it decodes into base+offset..base+offset+size. */
struct stream {
	word offset;    /* from base */
	word size;      /* decoded bytes */
	word data;      /* offset of the stream from the header */
	word length;    /* compressed bytes */
	word props;     /* lc | lp << 8 | pb << 16 | FILTER_* << 24 */
	word filter;    /* start of the filtered bytes, from offset */
	word filtered;  /* bytes under the filter */
#ifdef PC_TABLES
	lz_u32 groups[2 * PC_KINDS]; /* FILTER_PC: bytes of value deltas of each kind, then of pc deltas */
	word nfunc;     /* FILTER_PC: functions in the table after the filtered bytes */
	word pcdata;    /* FILTER_PC: offset of the pcdata tables' offsets in a record */
	word pow10;     /* 0, or 1 + the offset of the table of powers of ten */
#endif
};

/* Pages base+offset..base+offset+size get prot, or are unmapped. */
struct range {
	word offset;
	word size;
	word prot;      /* PROT_* bits, or UNMAP */
};

#define UNMAP ((word)-1)
#define MAX_STREAMS 4
#define THREAD_STACK 65536

long spawn(void *stack_top, void (*fn)(void *), void *arg, volatile int *tid);

#define PROT_READ 1
#define PROT_WRITE 2
#define MAP_PRIVATE 0x02
#define MAP_ANONYMOUS 0x20
#define MAP_FIXED_NOREPLACE 0x100000
#define FUTEX_WAIT 0
#define PAGE 4096ul

#define AT_NULL 0
#define AT_PHDR 3
#define AT_PHNUM 5
#define AT_ENTRY 9

#if defined(__x86_64__)
#define SYS_write 1
#define SYS_mprotect 10
#define SYS_munmap 11
#define SYS_futex 202
#define SYS_exit_group 231

/* A system call with up to four arguments. */
static long sys(long nr, long a, long b, long c, long d)
{
	register long r10 __asm__("r10") = d;
	__asm__ volatile("syscall"
			 : "+a"(nr)
			 : "D"(a), "S"(b), "d"(c), "r"(r10)
			 : "rcx", "r11", "memory");
	return nr;
}

/* An anonymous private read-write mapping. */
__attribute__((noinline)) static void *map(word addr, word size, long flags)
{
	register long r10 __asm__("r10") = MAP_PRIVATE | MAP_ANONYMOUS | flags;
	register long r8 __asm__("r8") = -1;
	register long r9 __asm__("r9") = 0;
	long nr = 9; /* mmap */
	__asm__ volatile("syscall"
			 : "+a"(nr)
			 : "D"(addr), "S"(size), "d"(PROT_READ | PROT_WRITE), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	return (void *)nr;
}
#else
#define SYS_write 4
#define SYS_mprotect 125
#define SYS_munmap 91
#define SYS_futex 240
#define SYS_exit_group 252

/* A system call with up to four arguments. */
static long sys(long nr, long a, long b, long c, long d)
{
	__asm__ volatile("int $0x80"
			 : "+a"(nr)
			 : "b"(a), "c"(b), "d"(c), "S"(d)
			 : "memory");
	return nr;
}

/* An anonymous private read-write mapping, through the old mmap system
 * call, which takes its six arguments in memory. */
__attribute__((noinline)) static void *map(word addr, word size, long flags)
{
	word args[6] = {addr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | flags, (word)-1, 0};
	return (void *)sys(90, (long)args, 0, 0, 0);
}
#endif

static int failed(const void *p)
{
	return (word)p > (word)-4096;
}

/* Writes "packed executable: <why>" to stderr and exits with status 127. */
__attribute__((noinline, noreturn)) static void die(const char *why, word n)
{
	static const char prefix[] = "packed executable: ";
	sys(SYS_write, 2, (long)prefix, sizeof prefix - 1, 0);
	sys(SYS_write, 2, (long)why, (long)n, 0);
	for (;;)
		sys(SYS_exit_group, 127, 0, 0, 0);
}

#define DIE(s) die(s "\n", sizeof s)

/* The branches the filter converted besides calls, in struct stream's props;
 * or FILTER_PC, a Go program's pc tables split in two. */
#define FILTER_JUMPS 1
#define FILTER_COND 2
#define FILTER_PC 4
#define FILTER_RIP 8
#define FILTER_POW10_HI 16 /* the table of powers of ten has its high halves first */

#ifdef __x86_64__
/* With FILTER_RIP, the opcode bytes after which a ModRM byte of mod 00 and
 * r/m 101 (a 32-bit displacement from the instruction's end) had its
 * operand converted too, a bit per byte value (bcj.go's ripOpcode). */
static const unsigned char rip_opcodes[32] = {
	0x0a, 0x08, 0x03, 0x00, 0x00, 0x08, 0x08, 0x0a, 0x00, 0x00, 0x00, 0x00, 0x08, 0x80, 0x00, 0x00,
	0x8b, 0x2f, 0x04, 0x00, 0x00, 0x00, 0x42, 0x00, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x80, 0x40, 0x80,
};
#endif

/*
 * unfilter undoes the packer's x86 branch filter on p[0:n]. Where a call
 * (E8), and if kind says so a jump (E9), a conditional jump (0F 8x) or an
 * opcode of rip_opcodes followed by a RIP-relative ModRM byte, has a
 * 32-bit operand whose top byte is 00 or FF, the packer replaced the
 * relative displacement by the absolute target: the displacement plus the
 * offset of the operand's end, modulo 2^25 and sign-extended from bit
 * 24, stored as bytes 2, 1, 0, 3 of the value. It then moved past the
 * operand; past a failing operand it moved on to the operand's top byte. No
 * conversion changed a byte a test read and a converted operand passes the
 * test, so the stub finds the same operands.
 */
static void unfilter(unsigned char *p, word n, word kind)
{
	/* For each byte value, what the next byte must be for an operand to
	 * start after them: (next & mask) == value, as mask | value << 8, and
	 * whether the operand starts two bytes on, not one (bit 16). A value
	 * outside its mask never matches. One load and one rarely taken branch
	 * per byte of code. */
	lz_u32 tab[256], e, v;
	word i, op;
	for (i = 0; i < 256; i++) {
		tab[i] = 0x100;
#ifdef __x86_64__
		if ((kind & FILTER_RIP) && (rip_opcodes[i >> 3] >> (i & 7) & 1))
			tab[i] = 0x105C7;
#endif
	}
	tab[0xE8] = 0;
	if (kind & FILTER_JUMPS)
		tab[0xE9] = 0;
	if (kind & FILTER_COND)
		tab[0x0F] = 0x180F0;
	i = 0;
	while (i + 5 <= n) {
		e = tab[p[i]];
		if ((p[i + 1] & e & 0xFF) != (e >> 8 & 0xFF) || i + 5 + (e >> 16) > n) {
			i++;
			continue;
		}
		op = i + 1 + (e >> 16);
		if ((unsigned char)(p[op + 3] + 1) > 1) {
			i = op + 3;
			continue;
		}
		/* Bit 24 and the top byte are both the sign: 00 or FF. */
		v = ((lz_u32)p[op] << 16 | (lz_u32)p[op + 1] << 8 | p[op + 2] | (lz_u32)p[op + 3] << 24) - (lz_u32)(op + 4);
		p[op] = (unsigned char)v;
		p[op + 1] = (unsigned char)(v >> 8);
		p[op + 2] = (unsigned char)(v >> 16);
		p[op + 3] = (unsigned char)(0u - (v >> 24 & 1));
		i = op + 4;
	}
}

#ifdef PC_TABLES
static lz_u32 get32(const unsigned char *p)
{
	lz_u32 v;
	__builtin_memcpy(&v, p, 4);
	return v;
}

static void add32(unsigned char *p, lz_u32 d)
{
	d += get32(p);
	__builtin_memcpy(p, &d, 4);
}

/*
 * undelta undoes the packer's function-table filter on p[0:n], which starts
 * with a Go function table of nfunc functions: nfunc pairs of uint32s
 * (entry, record offset) and the end of the text. It adds to each uint32
 * of the table after the first pair the one 8 bytes before it; then, in
 * order, to the fields at 0, 4, 16, 20 and 24 of each record after the
 * first those of the record before it. It returns nonzero when the table
 * does not fit in n or a record leaves no room for the fields.
 */
static int undelta(unsigned char *p, word n, word nfunc)
{
	word k, f, off, prev;
	if (n < 28 || nfunc == 0 || nfunc > (n - 4) / 8)
		return 1;
	for (k = 8; k < nfunc * 8 + 4; k += 4)
		add32(p + k, get32(p + k - 8));
	for (k = 1; k < nfunc; k++) {
		off = get32(p + 8 * k + 4);
		prev = get32(p + 8 * k - 4);
		if (off > n - 28 || prev > n - 28)
			return 1;
		for (f = 0; f < 28; f += 4)
			if (f < 8 || f >= 16)
				add32(p + off + f, get32(p + prev + f));
	}
	return 0;
}

/*
 * kinds_of marks in k[0:n], for each table of the pc tables p[0:n] that a
 * function record names, 1 + its kind: 1 to 3 for the stack, file and line
 * tables at 16, 20 and 24 in the record, 4 to 7 for the first four pcdata
 * tables (their number at 28, their offsets at pcdata), the lowest where
 * two records disagree. Records come from the function table of nfunc
 * functions in f[0:m] that follows p, once undelta has restored it; a
 * record is read when its first 32 bytes are in f, and each offset when it
 * is.
 */
static void kinds_of(unsigned char *k, word n, const unsigned char *f, word m, word nfunc, word pcdata)
{
	word i, j, rec, at, off;
	for (i = 0; i < nfunc; i++) {
		rec = get32(f + 8 * i + 4);
		if (rec > m || m - rec < 32)
			continue;
		for (j = 0; j < 3 + PC_KIND_PCDATA && (j < 3 || j - 3 < get32(f + rec + 28)); j++) {
			at = rec + (j < 3 ? 16 + 4 * j : pcdata + 4 * (j - 3));
			if (at > m - 4)
				break;
			off = (word)get32(f + at) - 1;
			if (off < n && (k[off] == 0 || k[off] > j + 1))
				k[off] = (unsigned char)(j + 1);
		}
	}
}

/*
 * unsplit undoes the packer's pc-table filter on p[0:n], which holds the
 * value deltas of the tables of each kind, then their pc deltas, of the
 * lengths in g; f[0:m] is the function table after them, restored by
 * undelta, nfunc and pcdata as for kinds_of. Working from a copy, it has
 * kinds_of mark the tables' kinds in p itself, cleared: a table's mark is
 * read before any byte is written where it starts, and bytes are only
 * written where earlier tables went. Then, for each table, it takes the
 * kind marked where it starts (PC_KINDS - 1 where none is) and moves from
 * that kind's value deltas a value varint (bytes up to one below 0x80) and,
 * unless the value is a lone zero byte after the table's first pair, which
 * ends the table, a varint from its pc deltas, until p is full. It returns
 * nonzero when the lengths do not add up to n or the parts were not used
 * up exactly. Each byte written is read from one part, so n bytes are read
 * in all and no part is read past its start plus n: the copy has room for
 * that, and the loop needs no bounds but p's.
 */
static int unsplit(unsigned char *p, word n, const lz_u32 *g, const unsigned char *f, word m, word nfunc,
		   word pcdata)
{
	unsigned char *t, *end = p + n, *at;
	const unsigned char *src[2 * PC_KINDS], *v, *d;
	int first, bad = 0;
	word i, sum = 0, c;
	/* 2n cannot wrap where n is mapped memory and words are 64-bit. */
	if (sizeof(word) < 8 && n > ~(word)0 / 2)
		return 1;
	for (i = 0; i < 2 * PC_KINDS; i++) {
		if (g[i] > n - sum)
			return 1;
		sum += g[i];
	}
	if (sum != n)
		return 1;
	t = map(0, 2 * n, 0);
	if (failed(t))
		return 1;
	for (i = 0; i < n; i++) {
		t[i] = p[i];
		p[i] = 0;
	}
	if (nfunc)
		kinds_of(p, n, f, m, nfunc, pcdata);
	for (i = 0, sum = 0; i < 2 * PC_KINDS; i++) {
		src[i] = t + sum;
		sum += g[i];
	}
	while (p < end) {
		c = *p ? *p - 1u : PC_KINDS - 1;
		v = src[c];
		d = src[PC_KINDS + c];
		for (first = 1;; first = 0) {
			at = p;
			while ((*p++ = *v++) >= 0x80 && p < end)
				;
			if (p == end || (p == at + 1 && *at == 0 && !first))
				break;
			while ((*p++ = *d++) >= 0x80 && p < end)
				;
			if (p == end)
				break;
		}
		src[c] = v;
		src[PC_KINDS + c] = d;
	}
	sys(SYS_munmap, (long)t, (long)(2 * n), 0, 0);
	for (i = 0, sum = 0; i < 2 * PC_KINDS; i++) {
		sum += g[i];
		bad |= src[i] != t + sum;
	}
	return bad;
}

/* The table of powers of ten (pow10.go): 696 entries of 16 bytes, for
 * 1e-348 to 1e347; and the scale and size, in 16-bit limbs, of the numbers
 * that compute it. */
#define POW10_COUNT 696
#define POW10_BYTES (16 * POW10_COUNT)
#define POW10_NEG 348
#define POW10_SCALE 1296
#define POW10_LIMBS 154

/* pow10_put writes at e the 128 bits of x[0:n] from its leading one, whose
 * top limb x[n-1] is not zero, as two little-endian halves, the high one
 * first if hi: byte k holds bits lo+8k to lo+8k+7, lo 127 bits below the
 * leading one, which are in two limbs at most. */
static void pow10_put(unsigned char *e, const lz_u32 *x, word n, word hi)
{
	word lo = n * 16 - 128, k, pos;
	while (!(x[n - 1] >> (lo + 127 - (n - 1) * 16)))
		lo--;
	for (k = 0; k < 16; k++) {
		pos = lo + 8 * k;
		e[k ^ (hi ? 8 : 0)] = (unsigned char)((x[pos >> 4] | x[(pos >> 4) + 1] << 16) >> (pos & 15));
	}
}

/*
 * pow10s writes Go's table of powers of ten at t, as pow10.go's pow10Table
 * does: from x = 2^POW10_SCALE it multiplies by ten for 1e0 up and, from
 * x = 2^POW10_SCALE again, divides by ten, rounding down, for 1e-1 down,
 * each entry the 128 bits of x from its leading one. n counts the limbs up
 * to the highest that is not zero.
 */
static void pow10s(unsigned char *t, word hi)
{
	lz_u32 x[POW10_LIMBS + 1], v, r;
	word i, j, n = 0;
	for (i = 0; i < POW10_COUNT; i++) {
		if (i % POW10_NEG == 0) {
			for (j = 0; j <= POW10_LIMBS; j++)
				x[j] = j == POW10_SCALE / 16;
			n = POW10_SCALE / 16 + 1;
		}
		if (i < POW10_NEG) {
			pow10_put(t + 16 * (POW10_NEG + i), x, n, hi);
			for (j = 0, r = 0; j < n; j++) {
				v = x[j] * 10 + r;
				x[j] = v & 0xFFFF;
				r = v >> 16;
			}
			if (r)
				x[n++] = r;
		} else {
			for (j = n, r = 0; j-- > 0;) {
				v = r << 16 | x[j];
				x[j] = v / 10;
				r = v % 10;
			}
			n -= !x[n - 1];
			pow10_put(t + 16 * (POW10_COUNT - 1 - i), x, n, hi);
		}
	}
}

#endif

struct job {
	const struct header *h;
	const struct stream *s;
	unsigned char *mem;  /* where base is mapped */
	int err;
	volatile int tid;    /* nonzero while the thread runs */
};

/* Decodes one stream into place and undoes its filter; a thread's body. */
static void decode(void *arg)
{
	struct job *j = arg;
	const struct stream *s = j->s;
	lz_prob probs[LZ_PROBS];
	unsigned char *out = j->mem + s->offset;
	if (s->offset > j->h->size || s->size > j->h->size - s->offset ||
	    s->filter > s->size || s->filtered > s->size - s->filter ||
	    lz_decode((const unsigned char *)j->h + s->data, s->length, out, s->size,
		      s->props & 0xFF, (s->props >> 8) & 0xFF, (s->props >> 16) & 0xFF,
		      probs) != 0)
		goto corrupt;
#ifdef PC_TABLES
	if (s->pow10) {
		if (s->size < POW10_BYTES || s->pow10 - 1 > s->size - POW10_BYTES)
			goto corrupt;
		pow10s(out + s->pow10 - 1, (s->props >> 24) & FILTER_POW10_HI);
	}
	if ((s->props >> 24) & FILTER_PC) {
		word end = s->filter + s->filtered;
		if ((s->nfunc && undelta(out + end, s->size - end, s->nfunc)) ||
		    unsplit(out + s->filter, s->filtered, s->groups, out + end, s->size - end, s->nfunc, s->pcdata))
			goto corrupt;
		return;
	}
#endif
	unfilter(out + s->filter, s->filtered, s->props >> 24);
	return;
corrupt:
	j->err = 1;
}

word stub_main(word *sp, const struct header *h)
{
	const struct stream *s = (const struct stream *)(h + 1);
	const struct range *r = (const struct range *)(s + h->nstreams);
	struct job jobs[MAX_STREAMS];
	word reloc = h->flags & FLAG_RELOCATABLE, n = h->nstreams, i;
	unsigned char *mem, *stacks;
	word *auxv;

	/* At the program's own addresses, where nothing may be mapped yet
	 * (kernels before 4.17 take MAP_FIXED_NOREPLACE as a hint, hence the
	 * comparison), or anywhere if the program does not mind. */
	mem = map(reloc ? 0 : h->base, h->size, reloc ? 0 : MAP_FIXED_NOREPLACE);
	if (failed(mem) || (!reloc && (word)mem != h->base))
		DIE("cannot map memory");
	if (n - 1 >= MAX_STREAMS)
		DIE("corrupt data");

	/* One thread per stream; this thread decodes the first, and any
	 * other for which there is no thread to be had. */
	stacks = map(0, MAX_STREAMS * THREAD_STACK, 0);
	for (i = n; i-- > 0;) {
		jobs[i].h = h;
		jobs[i].s = s + i;
		jobs[i].mem = mem;
		jobs[i].err = 0;
		jobs[i].tid = 1;
		if (i == 0 || failed(stacks) ||
		    spawn(stacks + i * THREAD_STACK, decode, &jobs[i], &jobs[i].tid) < 0) {
			jobs[i].tid = 0;
			decode(&jobs[i]);
		}
	}
	for (i = 0; i < n; i++) {
		int t;
		while ((t = jobs[i].tid) != 0)
			sys(SYS_futex, (long)&jobs[i].tid, FUTEX_WAIT, t, 0);
		if (jobs[i].err)
			DIE("corrupt data");
	}
	sys(SYS_munmap, (long)stacks, MAX_STREAMS * THREAD_STACK, 0, 0);

	for (i = 0; i < h->nranges; i++, r++) {
		long addr = (long)(mem + r->offset);
		if (r->prot == UNMAP)
			sys(SYS_munmap, addr, (long)r->size, 0, 0);
		else if (sys(SYS_mprotect, addr, (long)r->size, (long)r->prot, 0) < 0)
			DIE("cannot map memory");
	}

	/* The compressed streams are not needed any more. */
	{
		word from = ((word)r + PAGE - 1) & ~(PAGE - 1);
		word to = ((word)h + s[n - 1].data + s[n - 1].length + PAGE - 1) & ~(PAGE - 1);
		if (to > from)
			sys(SYS_munmap, (long)from, (long)(to - from), 0, 0);
	}

	/* argc, argv[], 0, envp[], 0, then auxv pairs up to AT_NULL. */
	auxv = sp + 1 + sp[0] + 1;
	while (*auxv)
		auxv++;
	for (auxv++; auxv[0] != AT_NULL; auxv += 2) {
		if (auxv[0] == AT_PHDR)
			auxv[1] = h->phdr + (word)mem - h->base;
		else if (auxv[0] == AT_PHNUM)
			auxv[1] = h->phnum;
		else if (auxv[0] == AT_ENTRY)
			auxv[1] = h->entry + (word)mem - h->base;
	}
	return h->entry + (word)mem - h->base;
}
