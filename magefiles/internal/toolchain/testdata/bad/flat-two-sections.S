/* A flat program with bytes in two sections: which one is the program is unclear. */
	.text
	.byte	0x7f, 'E', 'L', 'F'
	.data
	.byte	1
