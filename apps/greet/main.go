// Command greet greets each name on its command line with the greeting in its data
// directory ($KO_DATA_PATH/greeting.txt), ending each line with $PUNCTUATION.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

func main() {
	b, err := os.ReadFile(filepath.Join(os.Getenv("KO_DATA_PATH"), "greeting.txt"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "greet:", err)
		os.Exit(1)
	}
	greeting := strings.TrimSpace(string(b))
	names := os.Args[1:]
	if len(names) == 0 {
		names = []string{"world"}
	}
	for _, name := range names {
		fmt.Printf("%s, %s%s\n", greeting, name, os.Getenv("PUNCTUATION"))
	}
}
