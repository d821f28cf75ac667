// Command modapp prints a greeting from two goroutines joined by errgroup:
// the smallest program that links one module besides the standard library.
package main

import (
	"fmt"
	"os"

	"golang.org/x/sync/errgroup"
)

func main() {
	var g errgroup.Group
	words := make([]string, 2)
	g.Go(func() error { words[0] = "hello"; return nil })
	g.Go(func() error { words[1] = "modules"; return nil })
	if err := g.Wait(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(words[0], "from", words[1])
}
