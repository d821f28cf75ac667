/* hello-asm for linux/amd64: write(1, msg, len), then exit(0), with no C library. */
	.globl	_start
	.text
_start:
	mov	$1, %eax		/* write */
	mov	$1, %edi		/* stdout */
	lea	msg(%rip), %rsi
	mov	$len, %edx
	syscall
	mov	$60, %eax		/* exit */
	xor	%edi, %edi		/* status 0 */
	syscall
msg:
	.ascii	"hello from a minimal scratch container!\n"
	.set	len, . - msg

	.section .note.GNU-stack, "", @progbits	/* the stack is not executable */
