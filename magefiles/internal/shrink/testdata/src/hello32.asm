; hello32.asm: write a greeting and exit 0, i386 Linux, NASM syntax.
bits 32
section .text
global _start
_start:
	mov eax, 4		; write
	mov ebx, 1		; stdout
	mov ecx, msg
	mov edx, len
	int 0x80
	mov eax, 1		; exit
	xor ebx, ebx
	int 0x80

section .data
msg:	db "hello from nasm", 10
len:	equ $ - msg
