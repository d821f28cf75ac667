; The teensy example of apps/teensy/x86_64.S in NASM syntax, for nasm -f bin: the same
; 96 bytes. That file explains how the ELF header, the program header that starts at
; its byte 24, and the code share bytes.
	bits 64
hi	equ 0x1275			; e_entry's high half; p_flags; "jne write"
filesz	equ 0x050f0001			; p_filesz: e_phnum and the syscall after it

ehdr:	db 0x7f, "ELF"			; e_ident: magic; the entry point is byte 1,
					; three REX prefixes
	mov dl, msgend - msg		; e_ident[4..15]: count
	lea rsi, [rel msg]		; buf
	mov al, 1			; write
	db 0x3d				; cmp eax, (e_type, e_machine)
	times 16-($-$$) db 0
	dw 2				; e_type: ET_EXEC
	dw 62				; e_machine: EM_X86_64
	push 60				; e_version: exit, for later
	nop
	db 0xbf				; mov edi, (e_entry's low half): fd 1
	times 24-($-$$) db 0
phdr:	dq (hi << 32) + 1		; e_entry; p_type: PT_LOAD; p_flags: hi; jne write
	dq phdr - ehdr			; e_phoff; p_offset
	dq (hi << 32) + phdr - ehdr	; e_shoff; p_vaddr
write:	syscall				; e_flags; p_paddr: write(1, msg, 24)
	pop rax				; exit
	dec edi				; e_ehsize: status 0
	db 0x3d				; cmp eax, (e_phentsize, e_phnum)
	times 54-($-$$) db 0
	dw 56				; e_phentsize
	dw 1				; e_phnum; p_filesz
	syscall				; e_shentsize: exit(0)
	dw 0				; e_shnum
	dw 0				; e_shstrndx
	dq filesz			; p_memsz
msg:	db "Hi minimal scratch! ELF", 10	; p_align, and 16 bytes more
msgend:

%if (hi & 0xffff) != (0x75 | (write - (phdr + 6)) << 8)
%error "hi must begin with the bytes of jne write"
%endif
