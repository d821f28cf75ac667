package toolid

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
)

// tree writes files under a new directory and returns it.
func tree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, content := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestSourceIdentity(t *testing.T) {
	base := map[string]string{
		"go.mod":                           "module m\n",
		"go.sum":                           "",
		"magefiles/targets/t.go":           "package targets\n",
		"magefiles/internal/x/x.go":        "package x\n",
		"magefiles/internal/x/x_test.go":   "package x\n",
		"magefiles/internal/x/testdata/in": "data\n",
		"apps/hello/main.go":               "package main\n",
	}
	sum := func(files map[string]string) string {
		h := sha256.New()
		if err := hashSource(h, tree(t, files)); err != nil {
			t.Fatal(err)
		}
		return hex.EncodeToString(h.Sum(nil))
	}
	with := func(name, content string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		m[name] = content
		return m
	}
	want := sum(base)
	tests := []struct {
		why   string
		files map[string]string
		same  bool
	}{
		{"the same source at another path is the same minimal", base, true},
		{"a changed source file is another minimal", with("magefiles/internal/x/x.go", "package x\n\nvar y = 1\n"), false},
		{"a new source file is another minimal", with("magefiles/internal/x/y.go", "package x\n"), false},
		{"go.sum counts", with("go.sum", "m v1 h1:x\n"), false},
		{"a test does not change what minimal builds", with("magefiles/internal/x/x_test.go", "package x\n\nfunc f() {}\n"), true},
		{"test data does not either", with("magefiles/internal/x/testdata/in", "other\n"), true},
		{"nor do the apps it builds", with("apps/hello/main.go", "package main\n\nfunc main() {}\n"), true},
	}
	for _, tt := range tests {
		if got := sum(tt.files); (got == want) != tt.same {
			t.Errorf("%s: same identity = %v", tt.why, got == want)
		}
	}
}

func TestGet(t *testing.T) {
	a, err := Get()
	if err != nil || len(a) != 64 {
		t.Fatalf("Get() = %q, %v; want a hex SHA-256", a, err)
	}
	if b, _ := Get(); b != a {
		t.Errorf("Get() changed within one process: %s, then %s", a, b)
	}
}
