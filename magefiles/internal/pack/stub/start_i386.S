/*
 * Entry and thread glue of the stub for linux/386. Everything here is
 * position-independent: the packer places the stub at an address of its
 * choosing.
 */
	.section .text.start, "ax", @progbits
	.globl	_start
_start:
	/* The kernel leaves argc, argv, envp and auxv at %esp. */
	mov	%esp, %esi		/* callee-saved: the initial stack pointer */
	call	1f
1:	pop	%eax
	add	$(stub_end - 1b), %eax	/* the packer's header follows the stub */
	and	$-16, %esp
	sub	$8, %esp
	push	%eax
	push	%esi
	call	stub_main		/* returns the program's entry point */
	/* Enter the program as the kernel would: the initial stack pointer
	 * and every other register zero (%edx is the atexit function the C
	 * runtime registers when it is not zero). */
	lea	-4(%esi), %esp
	mov	%eax, (%esp)
	xor	%eax, %eax
	xor	%ebx, %ebx
	xor	%ecx, %ecx
	xor	%edx, %edx
	xor	%esi, %esi
	xor	%edi, %edi
	xor	%ebp, %ebp
	ret

	.text
/*
 * long spawn(void *stack_top, void (*fn)(void *), void *arg, int *tid)
 * starts a thread of this process that runs fn(arg) on the given stack and
 * then exits. The kernel clears *tid and wakes futex waiters on it when the
 * thread is gone. Returns the thread id or a negative errno.
 */
	.globl	spawn
	.hidden	spawn
spawn:
	push	%ebx
	push	%esi
	push	%edi
	mov	16(%esp), %ecx		/* the new stack */
	and	$-16, %ecx
	sub	$16, %ecx
	mov	20(%esp), %eax
	mov	%eax, 4(%ecx)		/* fn */
	mov	24(%esp), %eax
	mov	%eax, (%ecx)		/* arg, where fn finds it */
	mov	28(%esp), %edi		/* child_tid */
	/* CLONE_VM|FS|FILES|SIGHAND|THREAD|SYSVSEM|CHILD_CLEARTID */
	mov	$0x250f00, %ebx
	xor	%edx, %edx		/* parent_tid */
	xor	%esi, %esi		/* tls */
	mov	$120, %eax		/* clone */
	int	$0x80
	test	%eax, %eax
	jnz	1f
	/* The new thread: arg at %esp, fn above it. */
	xor	%ebp, %ebp
	call	*4(%esp)
	xor	%ebx, %ebx
	mov	$1, %eax		/* exit: this thread only */
	int	$0x80
	hlt
1:	pop	%edi
	pop	%esi
	pop	%ebx
	ret

	.section .note.GNU-stack, "", @progbits
