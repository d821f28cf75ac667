/*
 * teensy for linux/amd64: a complete executable written by hand, 126 bytes.
 *
 * There is no linker. The assembled bytes are the file: an ELF header, one program
 * header that overlaps the ELF header's last 16 bytes, code in the fields that neither
 * the kernel nor Go's debug/elf reads, and the message, which starts in the program
 * header's last field. It prints with write(1, msg, 24), then exit(0).
 *
 * Linux starts a static program with every general register zero except %rsp, so the
 * code sets only the low bytes it needs.
 *
 * Why not smaller: the result must also be an ELF file that Go's debug/elf reads,
 * which wants a valid EI_DATA, EI_VERSION, e_version and e_shoff. With those in place
 * the only overlap that leaves p_type 1 and p_flags executable is this one, at byte
 * 48, so the headers take 104 bytes. The code fills their free fields, and the
 * 24-byte message can only start in the last 2 bytes of p_align: 126 bytes.
 *
 * Addresses are written as base + (label - ehdr): differences of labels in one section
 * are constants to the assembler, so the object needs no relocation.
 */
	.set	base, 0x400000		/* where the file is mapped */

	.text
ehdr:
	.byte	0x7f, 'E', 'L', 'F'	/* e_ident: magic */
	.byte	2, 1, 1			/* ELFCLASS64, ELFDATA2LSB, EV_CURRENT */
start:					/* e_ident[7..15]: OS ABI and padding, unused */
	mov	$base + (msg - ehdr), %esi	/* buf */
	inc	%edi			/* fd 1 */
	jmp	1f
	.org	16
	.short	2			/* e_type: ET_EXEC */
	.short	62			/* e_machine: EM_X86_64 */
	.long	1			/* e_version */
	.quad	base + (start - ehdr)	/* e_entry */
	.quad	phdr - ehdr		/* e_phoff */
	.quad	0			/* e_shoff: no section headers */
phdr:
	.long	1			/* e_flags; p_type: PT_LOAD */
	.short	5			/* e_ehsize; p_flags: PF_R | PF_X ... */
	.short	56			/* e_phentsize; ... and bits the kernel ignores */
	.short	1			/* e_phnum; p_offset = 1 */
	.short	0			/* e_shentsize */
	.short	0			/* e_shnum */
	.short	0			/* e_shstrndx */
	.quad	base + 1		/* p_vaddr: p_offset's place in the mapped page */
1:					/* p_paddr, unused */
	mov	$msgend - msg, %dl	/* count */
	mov	$1, %al			/* write */
	syscall
	jmp	2f
	.org	80
	.quad	end - ehdr - 1		/* p_filesz: from p_offset to the end */
	.quad	end - ehdr - 1		/* p_memsz */
2:					/* p_align, unused for ET_EXEC */
	mov	$60, %al		/* exit; the write returned 24 */
	dec	%edi			/* status 0 */
	syscall
msg:					/* p_align's last 2 bytes, then the rest of the file */
	.ascii	"Hi minimal scratch! ELF\n"
msgend:
end:
