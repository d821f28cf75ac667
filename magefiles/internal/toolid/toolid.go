// Package toolid identifies the running minimal, for the keys of the actions it caches:
// a minimal that could build something differently gets another identity, and the
// same minimal has the same identity in any checkout, at any path, on any machine, so
// that machines can share a cache.
package toolid

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
)

// module is minimal's module path.
const module = "github.com/minimalbuild/minimal"

// Get returns the identity of the running minimal. It is the SHA-256 of the Go
// version, the platform and every module the executable was built with, and of
// minimal itself: its module version and checksum when it is a dependency, else the
// content of its source, read from the directory it was built in. When neither can
// be had (an executable moved from where it was built from a working tree), it is the
// SHA-256 of the executable itself, which holds the paths it was built at.
var Get = sync.OnceValues(func() (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "minimal tool id v1\n%s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	info, ok := debug.ReadBuildInfo()
	if ok {
		for _, d := range info.Deps {
			if d.Replace != nil {
				d = d.Replace
			}
			fmt.Fprintf(h, "dep %s %s %s\n", d.Path, d.Version, d.Sum)
		}
		for _, s := range info.Settings {
			if strings.HasPrefix(s.Key, "-") || s.Key == "CGO_ENABLED" || strings.HasPrefix(s.Key, "GO") {
				fmt.Fprintf(h, "setting %s=%s\n", s.Key, s.Value)
			}
		}
	}
	if ok && info.Main.Path != module {
		for _, d := range info.Deps {
			if d.Path == module && d.Replace == nil && d.Sum != "" {
				fmt.Fprintf(h, "minimal %s %s\n", d.Version, d.Sum)
				return hex.EncodeToString(h.Sum(nil)), nil
			}
		}
	}
	if root, ok := sourceRoot(); ok {
		if err := hashSource(h, root); err == nil {
			return hex.EncodeToString(h.Sum(nil)), nil
		}
	}
	return executableSum()
})

// sourceRoot returns the root of minimal's module as this package was built from it,
// if it is still there.
func sourceRoot() (string, bool) {
	_, file, _, ok := runtime.Caller(0)
	if !ok || !filepath.IsAbs(file) {
		return "", false
	}
	root := filepath.Join(filepath.Dir(file), "..", "..", "..")
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		return "", false
	}
	return root, true
}

// hashSource adds go.mod, go.sum and every file under magefiles/ but tests and test
// data, by path relative to root and content.
func hashSource(h io.Writer, root string) error {
	for _, name := range []string{"go.mod", "go.sum"} {
		if err := hashFile(h, root, filepath.Join(root, name)); err != nil {
			return err
		}
	}
	return filepath.WalkDir(filepath.Join(root, "magefiles"), func(p string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case d.IsDir() && d.Name() == "testdata":
			return filepath.SkipDir
		case d.IsDir() || strings.HasSuffix(d.Name(), "_test.go") || !d.Type().IsRegular():
			return nil
		}
		return hashFile(h, root, p)
	})
}

// hashFile adds a file's path relative to root and its content.
func hashFile(h io.Writer, root, path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	rel, err := filepath.Rel(root, path)
	if err != nil {
		return err
	}
	fmt.Fprintf(h, "file %s %d\n", filepath.ToSlash(rel), len(data))
	_, err = h.Write(data)
	return err
}

// executableSum is the SHA-256 of the running executable.
func executableSum() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("finding minimal's own executable: %w", err)
	}
	f, err := os.Open(exe)
	if err != nil {
		return "", fmt.Errorf("hashing minimal's own executable: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hashing minimal's own executable: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
