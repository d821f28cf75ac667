/*
 * teensy for linux/amd64: a complete executable written by hand, 96 bytes.
 *
 * There is no linker. The assembled bytes are the file: an ELF header whose bytes 24
 * to 63 are also the first 40 bytes of the one program header, the rest of that
 * header, and the message, which starts in its p_align. Linux's loader reads only some
 * fields of these headers (the magic, e_type, e_machine, e_entry, e_phoff, e_phentsize,
 * e_phnum, and the program header but for p_paddr and p_align), so the rest hold code,
 * and some fields the loader does read are code too. The program is
 *
 *	mov	$24, %dl		count
 *	lea	msg(%rip), %rsi		buf
 *	mov	$1, %al			write
 *	cmp	$0x3e0002, %eax		(sets ZF = 0)
 *	push	$60			exit, for later
 *	nop
 *	mov	$1, %edi		fd 1
 *	jne	1f
 * 1:	syscall				write(1, msg, 24)
 *	pop	%rax			exit
 *	dec	%edi			status 0
 *	cmp	$0x10038, %eax
 *	syscall				exit(0)
 *
 * Linux starts a program with every general register zero but %rsp.
 *
 * How the fields and the code share bytes:
 *
 *   - The program header is at byte 24, the only place one fits in a 96-byte file:
 *     its p_type must read 1 and its p_flags must allow execution. So p_type and
 *     p_flags are e_entry, p_offset is e_phoff (24), p_vaddr is e_shoff, and p_filesz
 *     is e_phnum and the three fields after it.
 *   - e_entry, so also the address of the file's first byte, is hi << 32 + 1: its low
 *     half is p_type, and its high half hi is p_flags, PF_R | PF_X and bits Linux
 *     ignores, chosen so that its first two bytes are the "jne" at byte 28.
 *   - The entry point is byte 1 of the file: "ELF" are three REX prefixes, which the
 *     CPU skips, and e_ident[4..15] hold the first instructions.
 *   - e_type and e_machine are the operand of the "cmp" before them, e_entry's low
 *     half the operand of the "mov $1, %edi"; e_phentsize and e_phnum that of the
 *     second "cmp".
 *   - The second syscall is e_shentsize, so p_filesz reads 0x050f0001 and runs past
 *     the end of the file: Linux maps whole pages, and the pages past the end are never
 *     touched. p_memsz equals it, so Linux has no zeros to add. The mapping takes about
 *     80 MiB of address space, which is why teensy runs under ulimit -v 100000 but not
 *     much less.
 *
 * The message's address is %rip-relative, and %rip-relative operands to a label of the
 * same section are constants to the assembler, so the object needs no relocation.
 */
	.set	hi, 0x1275		/* e_entry's high half; p_flags; "jne +0x12" */
	.set	filesz, 0x050f0001	/* p_filesz: e_phnum and the syscall after it */

	.text
ehdr:
	.byte	0x7f			/* e_ident: magic; the entry point is byte 1, */
	.ascii	"ELF"			/* three REX prefixes */
	mov	$msgend - msg, %dl	/* e_ident[4..15]: count */
	lea	msg(%rip), %rsi		/* buf */
	mov	$1, %al			/* write */
	.byte	0x3d			/* cmp $(e_type, e_machine), %eax */
	.org	16
	.short	2			/* e_type: ET_EXEC */
	.short	62			/* e_machine: EM_X86_64 */
	push	$60			/* e_version: exit, for later */
	nop
	.byte	0xbf			/* mov $(e_entry's low half), %edi: fd 1 */
	.org	24
phdr:
	.quad	(hi << 32) + 1		/* e_entry; p_type: PT_LOAD; p_flags: hi; jne 1f */
	.quad	phdr - ehdr		/* e_phoff; p_offset */
	.quad	(hi << 32) + (phdr - ehdr)	/* e_shoff; p_vaddr */
1:	syscall				/* e_flags; p_paddr: write(1, msg, 24) */
	pop	%rax			/* exit */
	dec	%edi			/* e_ehsize: status 0 */
	.byte	0x3d			/* cmp $(e_phentsize, e_phnum), %eax */
	.org	54
	.short	56			/* e_phentsize */
	.short	1			/* e_phnum; p_filesz */
	syscall				/* e_shentsize: exit(0) */
	.short	0			/* e_shnum */
	.short	0			/* e_shstrndx */
	.quad	filesz			/* p_memsz */
msg:					/* p_align, and 16 bytes more */
	.ascii	"Hi minimal scratch! ELF\n"
msgend:

	.if	(hi & 0xffff) != (0x75 | (1b - (phdr + 6)) << 8)
	.error	"hi must begin with the bytes of jne 1f"
	.endif
