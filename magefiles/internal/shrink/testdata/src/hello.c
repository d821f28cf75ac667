/* hello.c: a static C program on the system C library. */
#include <stdio.h>
#include <stdlib.h>

static char buffer[4096];

int main(int argc, char **argv)
{
	printf("hello from C\n");
	for (size_t i = 0; i < sizeof buffer; i++)
		if (buffer[i])
			return 3;
	fprintf(stderr, "%d argument(s)\n", argc - 1);
	return argc > 1 ? atoi(argv[1]) : 0;
}
