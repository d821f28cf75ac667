/*
 * teensy for linux/386: a complete executable written by hand, 100 bytes.
 *
 * There is no linker. The assembled bytes are the file: an ELF header, one program
 * header that overlaps the ELF header's last 8 bytes, and code in the header fields
 * that neither the kernel nor Go's debug/elf reads. It prints its message with
 * write(1, msg, 24), then exit(0).
 *
 * Linux starts a static program with every general register zero except %esp, so the
 * code sets only the low bytes it needs.
 *
 * Why not smaller: the result must also be an ELF file that Go's debug/elf reads,
 * which wants a valid EI_DATA, EI_VERSION, e_version and e_shoff. With those in place
 * the program header can overlap no more than the ELF header's last 8 bytes, so the
 * headers take 76 bytes, and the 24-byte message fits in none of their free fields:
 * 100 bytes is the floor for this message.
 *
 * Addresses are written as base + (label - ehdr): differences of labels in one section
 * are constants to the assembler, so the object needs no relocation.
 */
	.set	base, 0x08048000	/* where the file is mapped */

	.text
ehdr:
	.byte	0x7f, 'E', 'L', 'F'	/* e_ident: magic */
	.byte	1, 1, 1			/* ELFCLASS32, ELFDATA2LSB, EV_CURRENT */
start:					/* e_ident[7..15]: OS ABI and padding, unused */
	mov	$base + (msg - ehdr), %ecx	/* buf */
	inc	%ebx			/* fd 1 */
	inc	%edi			/* keep a 1 for the exit call number */
	jmp	1f
	.org	16
	.short	2			/* e_type: ET_EXEC */
	.short	3			/* e_machine: EM_386 */
	.long	1			/* e_version */
	.long	base + (start - ehdr)	/* e_entry */
	.long	phdr - ehdr		/* e_phoff */
	.long	0			/* e_shoff: no section headers */
1:					/* e_flags and e_ehsize, unused */
	mov	$msgend - msg, %dl	/* count */
	mov	$4, %al			/* write */
	jmp	2f
	.org	42
	.short	32			/* e_phentsize */
phdr:
	.long	1			/* e_phnum = 1, e_shentsize = 0; p_type: PT_LOAD */
	.long	0			/* e_shnum = 0, e_shstrndx = 0; p_offset */
	.long	base			/* p_vaddr */
2:					/* p_paddr, unused */
	int	$0x80
	jmp	3f
	.org	60
	.long	end - ehdr		/* p_filesz */
	.long	end - ehdr		/* p_memsz */
	.long	5			/* p_flags: PF_R | PF_X */
3:					/* p_align, unused for ET_EXEC */
	xchg	%eax, %edi		/* exit; the write's result goes to %edi */
	dec	%ebx			/* status 0 */
	int	$0x80
	.org	76
msg:
	.ascii	"Hi minimal scratch! ELF\n"
msgend:
end:
