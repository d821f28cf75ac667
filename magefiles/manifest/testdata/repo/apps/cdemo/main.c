#include "greet.h"

int main(void) { return greet(); }
