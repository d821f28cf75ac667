/* hash prints the number of arguments and environment entries and an
 * FNV-1a hash of each list, as testdata/progs/gotest does; it exits with the
 * status given as its first argument, if any. */
#include <stdio.h>
#include <stdlib.h>

extern char **environ;

static unsigned long long sum(char **list, int *n)
{
	unsigned long long h = 0xcbf29ce484222325ULL;
	for (*n = 0; list[*n] != NULL; (*n)++) {
		const unsigned char *s = (const unsigned char *)list[*n];
		do {
			h ^= *s;
			h *= 0x100000001b3ULL;
		} while (*s++ != 0);
	}
	return h;
}

int main(int argc, char **argv)
{
	int nargs, nenv;
	unsigned long long a = sum(argv, &nargs), e = sum(environ, &nenv);
	printf("argc=%d argv=%016llx envc=%d env=%016llx\n", nargs, a, nenv, e);
	return argc > 1 ? atoi(argv[1]) & 0xff : 0;
}
