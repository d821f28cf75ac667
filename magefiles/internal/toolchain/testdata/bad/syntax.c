/* A C file with a syntax error: the build must fail with the compiler's message. */
int main(void) { return 0 }
