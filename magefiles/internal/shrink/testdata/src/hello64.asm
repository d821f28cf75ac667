; hello64.asm: write a greeting and exit 0, x86-64 Linux, NASM syntax.
bits 64
section .text
global _start
_start:
	mov eax, 1		; write
	mov edi, 1		; stdout
	lea rsi, [rel msg]
	mov edx, len
	syscall
	mov eax, 60		; exit
	xor edi, edi
	syscall

section .data
msg:	db "hello from nasm", 10
len:	equ $ - msg
