; nasm-hello for linux/amd64: write(1, msg, len), then exit(0), in NASM syntax.
	bits 64
	global _start
	section .text
_start:
	mov eax, 1		; write
	mov edi, 1		; stdout
	lea rsi, [rel msg]
	mov edx, len
	syscall
	mov eax, 60		; exit
	xor edi, edi		; status 0
	syscall
msg:	db "hello from a minimal scratch container!", 10
len:	equ $ - msg

	section .note.GNU-stack noalloc noexec nowrite progbits
