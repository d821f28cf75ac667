; The teensy example of apps/teensy/i386.S in NASM syntax, for nasm -f bin: the same
; 100 bytes, an ELF header and program header that overlap, with the code in fields
; that neither the kernel nor Go's debug/elf reads.
	bits 32
	org 0x08048000

ehdr:	db 0x7f, "ELF", 1, 1, 1		; magic, ELFCLASS32, ELFDATA2LSB, EV_CURRENT
_start:	mov ecx, msg			; e_ident[7..15]
	inc ebx				; fd 1
	inc edi				; a 1 for the exit call number
	jmp short part2
	times 16-($-$$) db 0
	dw 2				; e_type: ET_EXEC
	dw 3				; e_machine: EM_386
	dd 1				; e_version
	dd _start			; e_entry
	dd phdr - $$			; e_phoff
	dd 0				; e_shoff
part2:	mov dl, msgend - msg		; e_flags, e_ehsize
	mov al, 4			; write
	jmp short part3
	times 42-($-$$) db 0
	dw 32				; e_phentsize
phdr:	dd 1				; e_phnum, e_shentsize; p_type: PT_LOAD
	dd 0				; e_shnum, e_shstrndx; p_offset
	dd $$				; p_vaddr
part3:	int 0x80			; p_paddr
	jmp short part4
	times 60-($-$$) db 0
	dd end - $$			; p_filesz
	dd end - $$			; p_memsz
	dd 5				; p_flags: PF_R | PF_X
part4:	xchg eax, edi			; p_align: exit
	dec ebx				; status 0
	int 0x80
	times 76-($-$$) db 0
msg:	db "Hi minimal scratch! ELF", 10
msgend:
end:
