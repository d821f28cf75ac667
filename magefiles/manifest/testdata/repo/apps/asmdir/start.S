	.globl _start
_start:
	hlt
