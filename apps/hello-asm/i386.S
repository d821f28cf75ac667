/* hello-asm for linux/386: write(1, msg, len), then exit(0), with no C library. */
	.globl	_start
	.text
_start:
	mov	$4, %eax		/* write */
	mov	$1, %ebx		/* stdout */
	mov	$msg, %ecx
	mov	$len, %edx
	int	$0x80
	mov	$1, %eax		/* exit */
	xor	%ebx, %ebx		/* status 0 */
	int	$0x80
msg:
	.ascii	"hello from a minimal scratch container!\n"
	.set	len, . - msg

	.section .note.GNU-stack, "", @progbits	/* the stack is not executable */
