/* A flat program with a valid ELF header for linux/amd64 but no program header, so
   Linux has nothing to load. */
	.text
ehdr:
	.byte	0x7f, 'E', 'L', 'F', 2, 1, 1, 0
	.quad	0
	.short	2		/* e_type: ET_EXEC */
	.short	62		/* e_machine: EM_X86_64 */
	.long	1		/* e_version */
	.quad	0x400000	/* e_entry */
	.quad	0		/* e_phoff */
	.quad	0		/* e_shoff */
	.long	0		/* e_flags */
	.short	64		/* e_ehsize */
	.short	56		/* e_phentsize */
	.short	0		/* e_phnum */
	.short	64		/* e_shentsize */
	.short	0		/* e_shnum */
	.short	0		/* e_shstrndx */
