// Package testenv is what tests share about their environment: tools that must be
// installed, the pinned zig, and copies of file trees.
//
// A test whose tool is missing skips, saying what to install; under CI=true it fails
// instead, since CI installs every tool the tests use. Require and Tool do that for
// every test, so the rule and its messages live here once.
package testenv

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// CI reports whether the tests run with CI=true, where a missing tool is a failure.
func CI() bool { return os.Getenv("CI") == "true" }

// Require does nothing when err is nil. Otherwise it skips t with err and what to do
// about it, install (for example "apt-get install nasm"), or fails t under CI=true.
func Require(t testing.TB, err error, install string) {
	t.Helper()
	if err == nil {
		return
	}
	if CI() {
		t.Fatalf("%v; CI=true needs it: %s", err, install)
		return
	}
	t.Skipf("%v; to run this test: %s", err, install)
}

// Tool returns the path of the executable name found on PATH. When there is none it
// skips t, naming the Debian package that provides it, or fails t under CI=true.
func Tool(t testing.TB, name, debianPackage string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		err = fmt.Errorf("%s is not on PATH", name)
	}
	Require(t, err, "apt-get install "+debianPackage)
	return p
}

// ZigInstall is what a test needs installed to have zig: npm, with which the pinned zig
// is fetched into the cache on first use.
const ZigInstall = "apt-get install npm, with which the pinned zig is fetched"

// zigTimeout bounds a first resolution of zig, which may download about 70 MB.
const zigTimeout = 10 * time.Minute

// Zig returns the function tests call for the pinned zig. resolve (for example
// toolchain.Zig with the pinned version) runs once per test binary, when a test first
// asks, and every test gets its result. Under -short the function skips the test,
// since building with zig is slow; when resolve fails it skips the test, or fails it
// under CI=true, as Require does.
//
// Zig is generic so that the toolchain package's own tests, which cannot import a
// package that imports toolchain, use it the same way as everyone else.
func Zig[T any](resolve func(context.Context) (T, error)) func(testing.TB) T {
	var (
		once sync.Once
		zig  T
		err  error
	)
	return func(t testing.TB) T {
		t.Helper()
		if testing.Short() {
			t.Skip("builds with the real zig; not in -short")
		}
		once.Do(func() {
			ctx, cancel := context.WithTimeout(context.Background(), zigTimeout)
			defer cancel()
			zig, err = resolve(ctx)
		})
		if err != nil {
			Require(t, fmt.Errorf("zig is not available: %w", err), ZigInstall)
		}
		return zig
	}
}

// CopyTree copies src, a directory or a file, to dst, creating dst's parent
// directories as needed. Directories are made with mode 0755 and regular files keep
// their permission bits; anything else, such as a symbolic link, is left out. skip,
// when not nil, is asked about every path under src (relative to it, with the
// system's separator) and leaves out those it returns true for, a directory with
// everything in it. CopyTree fails t if the copy fails.
func CopyTree(t testing.TB, dst, src string, skip func(rel string, d fs.DirEntry) bool) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		if rel != "." && skip != nil && skip(rel, d) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		switch {
		case err != nil:
			return err
		case d.IsDir():
			return os.MkdirAll(target, 0o755)
		case info.Mode().IsRegular():
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return err
			}
			return copyFile(target, p, info.Mode().Perm())
		}
		return nil
	})
	if err != nil {
		t.Fatalf("copying %s to %s: %v", src, dst, err)
	}
}

// copyFile copies the regular file src to dst with mode perm.
func copyFile(dst, src string, perm fs.FileMode) (err error) {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, perm)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	return errors.Join(err, out.Close())
}
