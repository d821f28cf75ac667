package manifest

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// FuzzParse checks that Parse never panics, that it returns either a Manifest or a
// sorted ErrorList naming the file, and that every manifest it accepts gives Specs
// without error. The seeds are the fixtures under testdata/valid and testdata/invalid.
func FuzzParse(f *testing.F) {
	for _, dir := range []string{"testdata/valid", "testdata/invalid"} {
		files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
		if err != nil {
			f.Fatal(err)
		}
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	root := fixtureRepo(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Parse("fuzz.yaml", root, data)
		if err == nil {
			if m == nil {
				t.Fatal("Parse returned neither a Manifest nor an error")
			}
			if _, err := m.Specs(); err != nil {
				t.Fatalf("Parse accepted a manifest whose Specs fail: %v", err)
			}
			return
		}
		if m != nil {
			t.Error("Parse returned a Manifest with its errors")
		}
		var list ErrorList
		if !errors.As(err, &list) || len(list) == 0 {
			t.Fatalf("error %T %v; want a non-empty ErrorList", err, err)
		}
		for _, e := range list {
			if e.File != "fuzz.yaml" || e.Msg == "" || e.Line < 0 || e.Column < 0 {
				t.Errorf("malformed error %#v", e)
			}
		}
		if !slices.IsSortedFunc(list, func(a, b *Error) int {
			if a.Line != b.Line {
				return a.Line - b.Line
			}
			return a.Column - b.Column
		}) {
			t.Errorf("errors not sorted by position:\n%v", err)
		}
	})
}
