; nasm-hello for linux/386: write(1, msg, len), then exit(0), in NASM syntax.
	bits 32
	global _start
	section .text
_start:
	mov eax, 4		; write
	mov ebx, 1		; stdout
	mov ecx, msg
	mov edx, len
	int 0x80
	mov eax, 1		; exit
	xor ebx, ebx		; status 0
	int 0x80
msg:	db "hello from a minimal scratch container!", 10
len:	equ $ - msg

	section .note.GNU-stack noalloc noexec nowrite progbits
