; The teensy example of apps/teensy/x86_64.S in NASM syntax, for nasm -f bin: the same
; 126 bytes, an ELF header and program header that overlap, with the code in fields
; that neither the kernel nor Go's debug/elf reads.
	bits 64
	org 0x400000

ehdr:	db 0x7f, "ELF", 2, 1, 1		; magic, ELFCLASS64, ELFDATA2LSB, EV_CURRENT
_start:	mov esi, msg			; e_ident[7..15]
	inc edi				; fd 1
	jmp short part2
	times 16-($-$$) db 0
	dw 2				; e_type: ET_EXEC
	dw 62				; e_machine: EM_X86_64
	dd 1				; e_version
	dq _start			; e_entry
	dq phdr - $$			; e_phoff
	dq 0				; e_shoff
phdr:	dd 1				; e_flags; p_type: PT_LOAD
	dw 5				; e_ehsize; p_flags: PF_R | PF_X ...
	dw 56				; e_phentsize; ... and bits the kernel ignores
	dw 1, 0, 0, 0			; e_phnum, e_shentsize, e_shnum, e_shstrndx; p_offset = 1
	dq $$ + 1			; p_vaddr
part2:	mov dl, msgend - msg		; p_paddr
	mov al, 1			; write
	syscall
	jmp short part3
	times 80-($-$$) db 0
	dq end - $$ - 1			; p_filesz
	dq end - $$ - 1			; p_memsz
part3:	mov al, 60			; p_align: exit
	dec edi				; status 0
	syscall
msg:	db "Hi minimal scratch! ELF", 10
msgend:
end:
