// Command hello prints a greeting. The publish tests build it as a static
// binary and put it in an image.
package main

import "fmt"

func main() {
	fmt.Println("hello")
}
