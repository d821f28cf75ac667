/* A flat program that refers to a symbol's address, which needs a linker. */
	.text
start:
	.long	start
