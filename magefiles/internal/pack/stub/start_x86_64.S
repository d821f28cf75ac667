/*
 * Entry and thread glue of the stub for linux/amd64. Everything here is
 * position-independent: the packer places the stub at an address of its
 * choosing.
 */
	.section .text.start, "ax", @progbits
	.globl	_start
_start:
	/* The kernel leaves argc, argv, envp and auxv at %rsp. */
	mov	%rsp, %rbx		/* callee-saved: the initial stack pointer */
	mov	%rsp, %rdi
	lea	stub_end(%rip), %rsi	/* the packer's header follows the stub */
	and	$-16, %rsp
	call	stub_main		/* returns the program's entry point */
	/* Enter the program as the kernel would: the initial stack pointer
	 * and every other register zero (%rdx is the atexit function the C
	 * runtime registers when it is not zero). */
	lea	-8(%rbx), %rsp
	mov	%rax, (%rsp)
	xor	%eax, %eax
	xor	%ebx, %ebx
	xor	%ecx, %ecx
	xor	%edx, %edx
	xor	%esi, %esi
	xor	%edi, %edi
	xor	%ebp, %ebp
	xor	%r8d, %r8d
	xor	%r9d, %r9d
	xor	%r10d, %r10d
	xor	%r11d, %r11d
	xor	%r12d, %r12d
	xor	%r13d, %r13d
	xor	%r14d, %r14d
	xor	%r15d, %r15d
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
	and	$-16, %rdi
	mov	%rsi, -8(%rdi)		/* fn and arg, for the new thread */
	mov	%rdx, -16(%rdi)
	lea	-16(%rdi), %rsi		/* the new stack pointer */
	mov	%rcx, %r10		/* child_tid */
	/* CLONE_VM|FS|FILES|SIGHAND|THREAD|SYSVSEM|CHILD_CLEARTID */
	mov	$0x250f00, %edi
	xor	%edx, %edx		/* parent_tid */
	xor	%r8d, %r8d		/* tls */
	mov	$56, %eax		/* clone */
	syscall
	test	%rax, %rax
	jnz	1f
	/* The new thread: its stack holds arg, then fn. */
	pop	%rdi
	pop	%rax
	xor	%ebp, %ebp
	call	*%rax
	xor	%edi, %edi
	mov	$60, %eax		/* exit: this thread only */
	syscall
	hlt
1:	ret

	.section .note.GNU-stack, "", @progbits
