package resolve_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minimalbuild/minimal/magefiles/internal/resolve"
)

// FuzzResolve checks that on any input Resolve either fails or returns a
// stream with no reference left in it.
func FuzzResolve(f *testing.F) {
	inputs, _ := filepath.Glob("testdata/*.in.yaml")
	for _, in := range inputs {
		data, err := os.ReadFile(in)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(data))
	}
	f.Add("a: &x 'minimal://hello'\nb: *x\r\nc: [minimal://web]\n")
	f.Fuzz(func(t *testing.T, in string) {
		out, err := resolve.Resolve(context.Background(), strings.NewReader(in), "in.yaml", pushed)
		if err != nil {
			return
		}
		refs, err := resolve.Refs(strings.NewReader(string(out)), "out.yaml")
		if err != nil {
			t.Fatalf("the result of Resolve does not parse: %v\n%q\n%q", err, in, out)
		}
		if len(refs) != 0 {
			t.Fatalf("references left in the result: %v\n%q\n%q", refs, in, out)
		}
	})
}
