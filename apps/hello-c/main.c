#include <stdio.h>

int main(void) {
	printf("hello from a minimal scratch container!\n");
	return 0;
}
