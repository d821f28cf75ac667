/* pausle waits for a signal and does nothing else: the smallest long-running server. */
#include <unistd.h>

int main(void) { return pause(); }
