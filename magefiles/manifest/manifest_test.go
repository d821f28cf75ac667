package manifest

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

// fixtureRepo copies testdata/repo into a temporary directory and adds the symlinks the
// fixtures use, which a module zip could not carry: "inside" points at apps/hello, and
// "outside" at a directory next to the repository.
func fixtureRepo(tb testing.TB) string {
	tb.Helper()
	dir := tb.TempDir()
	root := filepath.Join(dir, "repo")
	if err := os.CopyFS(root, os.DirFS("testdata/repo")); err != nil {
		tb.Fatal(err)
	}
	elsewhere := filepath.Join(dir, "elsewhere")
	if err := os.Mkdir(elsewhere, 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(elsewhere, "main.c"), []byte("int main(void) { return 0; }\n"), 0o644); err != nil {
		tb.Fatal(err)
	}
	if err := os.Symlink(filepath.Join("..", "elsewhere"), filepath.Join(root, "outside")); err != nil {
		tb.Fatal(err)
	}
	if err := os.Symlink(filepath.Join("apps", "hello"), filepath.Join(root, "inside")); err != nil {
		tb.Fatal(err)
	}
	return root
}

// checkGolden compares got with the file golden, or rewrites it with -update.
func checkGolden(t *testing.T, golden string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", golden, diff)
	}
}

// fixtures returns the fixtures in dir, by name.
func fixtures(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string][]byte)
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[strings.TrimSuffix(filepath.Base(f), ".yaml")] = data
	}
	return out
}

// TestParseValid parses each manifest in testdata/valid (whose first comment says what
// it covers) and compares the Manifest and its Specs with NAME.json. Root is blanked in
// the Manifest and written $ROOT in the Specs, so the goldens are the same on any machine.
func TestParseValid(t *testing.T) {
	root := fixtureRepo(t)
	for name, data := range fixtures(t, "testdata/valid") {
		t.Run(name, func(t *testing.T) {
			m, err := Parse(name+".yaml", root, data)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if m.Root != root {
				t.Errorf("Root = %q, want %q", m.Root, root)
			}
			specs, err := m.Specs()
			if err != nil {
				t.Fatalf("Specs: %v", err)
			}
			shown := *m
			shown.Root = ""
			got, err := json.MarshalIndent(struct {
				Manifest *Manifest
				Specs    []Spec
			}{&shown, specs}, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = []byte(strings.ReplaceAll(string(got), root, "$ROOT") + "\n")
			checkGolden(t, filepath.Join("testdata/valid", name+".json"), got)
		})
	}
}

// TestParseInvalid parses each manifest in testdata/invalid (whose first comment says
// what is wrong) and compares the whole error text with NAME.err.
func TestParseInvalid(t *testing.T) {
	root := fixtureRepo(t)
	cases := fixtures(t, "testdata/invalid")
	if len(cases) < 30 {
		t.Errorf("%d invalid fixtures; want at least 30", len(cases))
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			m, err := Parse(name+".yaml", root, data)
			if err == nil {
				t.Fatal("Parse succeeded; want errors")
			}
			if m != nil {
				t.Error("Parse returned a Manifest with its errors")
			}
			var list ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("error is %T; want ErrorList", err)
			}
			for _, e := range list {
				if e.File != name+".yaml" {
					t.Errorf("error %q names file %q", e, e.File)
				}
			}
			checkGolden(t, filepath.Join("testdata/invalid", name+".err"), []byte(err.Error()+"\n"))
		})
	}
}

func TestLoad(t *testing.T) {
	root := fixtureRepo(t)
	path := filepath.Join(root, "minimal.yaml")
	m, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if m.File != path || m.Root != root {
		t.Errorf("File, Root = %q, %q; want %q, %q", m.File, m.Root, path, root)
	}
	if _, err := Load(filepath.Join(root, "absent.yaml")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load of a missing file: %v; want an error wrapping os.ErrNotExist", err)
	}
}

// TestLoadRelative checks that a relative path gives an absolute Root, so that Specs
// hold absolute paths.
func TestLoadRelative(t *testing.T) {
	m, err := Load("testdata/repo/minimal.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !filepath.IsAbs(m.Root) {
		t.Errorf("Root %q is relative", m.Root)
	}
	if m.File != "testdata/repo/minimal.yaml" {
		t.Errorf("File = %q; want the path as given", m.File)
	}
	specs, err := m.Specs()
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(m.Root, "apps", "hello"); specs[0].Src[0] != want {
		t.Errorf("Src = %q; want %q", specs[0].Src, want)
	}
}

func TestErrorFormat(t *testing.T) {
	tests := []struct {
		name string
		err  *Error
		want string
	}{
		{"line and column", &Error{File: "m.yaml", Line: 7, Column: 11, Msg: "bad"}, "m.yaml:7:11: bad"},
		{"a syntax error has only a line", &Error{File: "m.yaml", Line: 3, Msg: "bad"}, "m.yaml:3: bad"},
		{"a whole-file problem has neither", &Error{File: "m.yaml", Msg: "empty"}, "m.yaml: empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// TestErrorListSorted checks that errors come out sorted by position whatever order the
// checks found them in, without repeats, and that errors.As reaches each *Error.
func TestErrorListSorted(t *testing.T) {
	root := fixtureRepo(t)
	// The app-level checks (src, name) run after the top level's, but come first in
	// the file.
	_, err := Parse("m.yaml", root, []byte("apps:\n  - {name: A, src: nope}\nversion: 2\n"))
	want := strings.Join([]string{
		`m.yaml:2:12: apps[0].name: invalid app name "A"; want at most 128 lowercase letters and digits, joined by single '.', '_' or '__', or by dashes`,
		`m.yaml:2:20: apps[0].src: path "nope" does not exist`,
		`m.yaml:3:10: version: unsupported version "2"; want 1`,
	}, "\n")
	if err == nil || err.Error() != want {
		t.Fatalf("got\n%v\nwant\n%s", err, want)
	}
	var e *Error
	if !errors.As(err, &e) || e.Line != 2 || e.Column != 12 {
		t.Errorf("errors.As found %+v; want the first error", e)
	}
}

func TestSuggest(t *testing.T) {
	keys := []string{"lang", "src", "include", "shrink", "image", "tags", "test"}
	tests := []struct {
		key, want string
		why       string
	}{
		{"shirnk", "shrink", "a transposition is two edits"},
		{"imgae", "image", "another transposition"},
		{"sources", "", "too far from src"},
		{"x", "", "a one-letter key is one edit from too much to suggest anything"},
		{"tag", "tags", "the first of equally close keys (tags, test are not equally close)"},
		{"tes", "test", "one deletion"},
	}
	for _, tt := range tests {
		if got := suggest(tt.key, keys); got != tt.want {
			t.Errorf("suggest(%q) = %q, want %q: %s", tt.key, got, tt.want, tt.why)
		}
	}
}

// TestAliasBudget checks that a small manifest naming a large anchor many times fails
// with an error instead of walking every use: here 400 aliases of an app whose image
// env has 400 entries, 160,000 values from some 1,600 nodes.
func TestAliasBudget(t *testing.T) {
	root := fixtureRepo(t)
	var b strings.Builder
	b.WriteString("version: 1\ndefaults:\n  env: &env\n")
	for i := range 400 {
		fmt.Fprintf(&b, "    K%d: v\n", i)
	}
	b.WriteString("apps:\n  - &app {name: a, src: apps/hello, image: {env: *env}}\n")
	for range 400 {
		b.WriteString("  - *app\n")
	}
	_, err := Parse("m.yaml", root, []byte(b.String()))
	var list ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("Parse: %v; want an ErrorList", err)
	}
	const want = "m.yaml: the manifest expands to too many values through aliases; want fewer uses of large anchors"
	if got := list[0].Error(); got != want {
		t.Errorf("first error %q; want %q", got, want)
	}
}
