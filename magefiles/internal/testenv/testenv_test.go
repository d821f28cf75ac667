package testenv

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// recorder is a testing.TB that records how a test would end instead of ending it.
type recorder struct {
	testing.TB
	skipped, failed string
}

func (r *recorder) Helper() {}

func (r *recorder) Skip(args ...any) { r.skipped = fmt.Sprint(args...) }

func (r *recorder) Skipf(format string, args ...any) { r.skipped = fmt.Sprintf(format, args...) }

func (r *recorder) Fatalf(format string, args ...any) { r.failed = fmt.Sprintf(format, args...) }

func TestRequire(t *testing.T) {
	tests := []struct {
		name        string
		ci          string
		err         error
		wantSkip    bool
		wantFail    bool
		wantMessage []string
	}{
		{name: "nothing missing", ci: "true"},
		{name: "missing on a developer's machine skips", ci: "", err: errors.New("nasm is not on PATH"), wantSkip: true, wantMessage: []string{"nasm is not on PATH", "apt-get install nasm"}},
		{name: "CI other than true still skips", ci: "1", err: errors.New("x"), wantSkip: true},
		{name: "missing under CI=true fails", ci: "true", err: errors.New("nasm is not on PATH"), wantFail: true, wantMessage: []string{"nasm is not on PATH", "CI=true", "apt-get install nasm"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("CI", tt.ci)
			r := &recorder{TB: t}
			Require(r, tt.err, "apt-get install nasm")
			if got := r.skipped != ""; got != tt.wantSkip {
				t.Errorf("skipped = %q, want a skip: %v", r.skipped, tt.wantSkip)
			}
			if got := r.failed != ""; got != tt.wantFail {
				t.Errorf("failed = %q, want a failure: %v", r.failed, tt.wantFail)
			}
			for _, want := range tt.wantMessage {
				if msg := r.skipped + r.failed; !strings.Contains(msg, want) {
					t.Errorf("message %q does not say %q", msg, want)
				}
			}
		})
	}
}

func TestTool(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "present")
	if err := os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir)
	t.Setenv("CI", "")

	r := &recorder{TB: t}
	if got := Tool(r, "present", "pkg"); got != exe || r.skipped != "" {
		t.Errorf("Tool(present) = %q, skipped %q; want %q", got, r.skipped, exe)
	}
	r = &recorder{TB: t}
	Tool(r, "absent", "absent-pkg")
	if !strings.Contains(r.skipped, "absent is not on PATH") || !strings.Contains(r.skipped, "apt-get install absent-pkg") {
		t.Errorf("skip message %q does not name the tool and its Debian package", r.skipped)
	}
}

func TestZigResolvesOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("Zig skips every test under -short")
	}
	t.Setenv("CI", "")
	calls := 0
	zig := Zig(func(context.Context) (string, error) {
		calls++
		return "/zig", nil
	})
	for range 3 {
		if got := zig(&recorder{TB: t}); got != "/zig" {
			t.Errorf("zig() = %q, want /zig", got)
		}
	}
	if calls != 1 {
		t.Errorf("resolve ran %d times, want once per test binary", calls)
	}

	failing := Zig(func(context.Context) (string, error) { return "", errors.New("no npm") })
	r := &recorder{TB: t}
	failing(r)
	if !strings.Contains(r.skipped, "no npm") || !strings.Contains(r.skipped, "npm") {
		t.Errorf("skip message %q does not say why zig is missing", r.skipped)
	}
}

func TestCopyTree(t *testing.T) {
	src := t.TempDir()
	files := map[string]fs.FileMode{
		"a.txt":          0o644,
		"bin/run":        0o755,
		"skip/x":         0o644,
		"keep/skip":      0o644, // only the top-level skip/ is left out
		"deep/er/file.c": 0o600,
	}
	for name, mode := range files {
		p := filepath.Join(src, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(name), mode); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("a.txt", filepath.Join(src, "link")); err != nil {
		t.Fatal(err)
	}

	dst := filepath.Join(t.TempDir(), "new", "copy")
	CopyTree(t, dst, src, func(rel string, d fs.DirEntry) bool { return rel == "skip" })

	var got []string
	err := filepath.WalkDir(dst, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dst, p)
		rel = filepath.ToSlash(rel)
		got = append(got, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		if want := files[rel]; info.Mode() != want {
			t.Errorf("%s has mode %v, want %v", rel, info.Mode(), want)
		}
		if data, err := os.ReadFile(p); err != nil || string(data) != rel {
			t.Errorf("%s holds %q (%v), want %q", rel, data, err, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	want := []string{"a.txt", "bin/run", "deep/er/file.c", "keep/skip"}
	if !slices.Equal(got, want) {
		t.Errorf("copied %v, want %v (no skip/, no symbolic link)", got, want)
	}

	// A single file is copied to dst itself.
	one := filepath.Join(t.TempDir(), "sub", "a")
	CopyTree(t, one, filepath.Join(src, "a.txt"), nil)
	if data, err := os.ReadFile(one); err != nil || string(data) != "a.txt" {
		t.Errorf("copying one file gave %q, %v", data, err)
	}
}
