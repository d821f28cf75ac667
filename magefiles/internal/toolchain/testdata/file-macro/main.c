/* Prints its own file name: the build must not depend on where the repository is. */
#include <stdio.h>

int main(void) {
	puts(__FILE__);
	return 0;
}
