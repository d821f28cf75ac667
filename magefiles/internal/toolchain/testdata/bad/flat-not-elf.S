/* A flat program whose bytes are not an ELF file. */
	.text
	.ascii	"not an ELF file\n"
