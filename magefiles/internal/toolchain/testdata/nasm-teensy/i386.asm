; The teensy example of apps/teensy/i386.S in NASM syntax, for nasm -f bin: the same
; 72 bytes. That file explains how the ELF header, the program header that starts at
; its byte 4, and the code share bytes.
	bits 32
base	equ 0x0500b000			; where the file's first page is mapped
filesz	equ 0x044318b2			; p_filesz: the code bytes at start
off	equ -filesz & 0xfff		; p_offset: p_vaddr + p_filesz is a page boundary
	org base

ehdr:	db 0x7f, "ELF"			; e_ident: magic
phdr:	dd 1				; e_ident[4..7]; p_type: PT_LOAD
	dd off				; e_ident[8..11]; p_offset
	dd base + off			; e_ident[12..15]; p_vaddr
	dw 2				; e_type: ET_EXEC; p_paddr
	dw 3				; e_machine: EM_386
start:	mov dl, msgend - msg		; e_version; p_filesz: count
	inc ebx				; fd 1
	db 0x04				; add al, (e_entry's low byte)
	times 24-($-$$) db 0
	dd start			; e_entry; p_memsz; then "mov al, 0" and the
					; opcode of "add eax, (e_phoff)"
	dd phdr - ehdr			; e_phoff; p_flags: PF_R; 4, the write call
	mov ecx, msg			; e_shoff (p_align) and e_flags: buf
	int 0x80
	xchg eax, ebx			; exit; ebx = 24
	db 0x81, 0xe3			; e_ehsize: and ebx, (e_phentsize, e_phnum)
	times 42-($-$$) db 0
	dw 32				; e_phentsize
	dw 1				; e_phnum
	int 0x80			; e_shentsize
	times 48-($-$$) db 0
msg:	db "Hi minimal scratch! ELF", 10	; e_shnum, e_shstrndx, and 20 bytes more
msgend:
