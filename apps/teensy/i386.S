/*
 * teensy for linux/386: a complete executable written by hand, 72 bytes.
 *
 * There is no linker. The assembled bytes are the file: an ELF header whose bytes 4 to
 * 35 are also the one program header, then the message. Linux's loader reads only some
 * fields of these headers (the magic, e_type, e_machine, e_entry, e_phoff, e_phentsize,
 * e_phnum, and the program header but for p_paddr and p_align), so the rest hold code,
 * and some fields the loader does read are code too. The program is
 *
 *	mov	$24, %dl		count
 *	inc	%ebx			fd 1
 *	add	$0x14, %al		(undone next)
 *	mov	$0, %al
 *	add	$4, %eax		write
 *	mov	$msg, %ecx		buf
 *	int	$0x80			write(1, msg, 24), which returns 24
 *	xchg	%eax, %ebx		exit, and %ebx = 24
 *	and	$0x10020, %ebx		status 24 & 0x10020 = 0
 *	int	$0x80			exit(0)
 *
 * Linux starts a 386 program with every general register zero but %esp.
 *
 * How the fields and the code share bytes:
 *
 *   - e_ident[4..15] are the program header's p_type, p_offset and p_vaddr, and its
 *     p_paddr is e_type and e_machine: a program header at byte 4 is the only place one
 *     fits in a 72-byte file, because its p_type must read 1 (e_ident's padding is free),
 *     and it makes p_filesz e_version, p_memsz e_entry and p_flags e_phoff.
 *   - The code starts at e_version, so p_filesz is the number its first 4 bytes make,
 *     0x044318b2, and p_offset is chosen so that p_vaddr + p_filesz ends on a page:
 *     Linux maps the rest of p_memsz as zeros, and kernels before 6.7 refuse to clear
 *     the tail of a page they cannot write. p_filesz runs past the end of the file:
 *     Linux maps whole pages, and the pages past the end are never touched.
 *   - e_entry, so also p_memsz, is base + 20. Its first byte is the operand of the
 *     "add $0x14, %al" before it; the next three, which are base's, are "mov $0, %al"
 *     and the opcode of "add $4, %eax", whose operand is e_phoff. That fixes base at
 *     0x0500b000 and p_memsz at about 80 MiB of address space, which is why teensy
 *     runs under ulimit -v 100000 but not much less.
 *   - e_phoff is 4, so p_flags is PF_R alone. That is enough: Linux makes readable
 *     memory executable for a 386 program without a PT_GNU_STACK header.
 *   - e_shoff, e_flags and e_ehsize hold the code that writes; e_phentsize and e_phnum
 *     are the operand of the "and" that clears the exit status.
 *   - The message fills the file from byte 48, over e_shnum and e_shstrndx.
 *
 * Addresses are written as base + (label - ehdr): differences of labels in one section
 * are constants to the assembler, so the object needs no relocation.
 */
	.set	base, 0x0500b000	/* where the file's first page is mapped */
	.set	filesz, 0x044318b2	/* p_filesz: the code bytes at "start" */
	.set	off, -filesz & 0xfff	/* p_offset: p_vaddr + p_filesz is a page boundary */

	.text
ehdr:
	.byte	0x7f, 'E', 'L', 'F'	/* e_ident: magic */
phdr:
	.long	1			/* e_ident[4..7]; p_type: PT_LOAD */
	.long	off			/* e_ident[8..11]; p_offset */
	.long	base + off		/* e_ident[12..15]; p_vaddr */
	.short	2			/* e_type: ET_EXEC; p_paddr */
	.short	3			/* e_machine: EM_386 */
start:					/* e_version; p_filesz */
	mov	$msgend - msg, %dl	/* count */
	inc	%ebx			/* fd 1 */
	.byte	0x04			/* add $(e_entry's low byte), %al */
	.org	24
	.long	base + (start - ehdr)	/* e_entry; p_memsz; then "mov $0, %al" and the */
					/* opcode of "add $(e_phoff), %eax" */
	.long	phdr - ehdr		/* e_phoff; p_flags: PF_R; 4, the write call */
	mov	$base + (msg - ehdr), %ecx	/* e_shoff (p_align) and e_flags: buf */
	int	$0x80
	xchg	%eax, %ebx		/* exit; %ebx = 24 */
	.byte	0x81, 0xe3		/* e_ehsize: and $(e_phentsize, e_phnum), %ebx */
	.org	42
	.short	32			/* e_phentsize */
	.short	1			/* e_phnum */
	int	$0x80			/* e_shentsize */
	.org	48
msg:					/* e_shnum, e_shstrndx, and 20 bytes more */
	.ascii	"Hi minimal scratch! ELF\n"
msgend:
