package pipeline

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/minimalbuild/minimal/magefiles/internal/cache"
	"github.com/minimalbuild/minimal/magefiles/internal/toolchain"
	"github.com/minimalbuild/minimal/magefiles/manifest"
)

// toolID identifies the running minimal: the SHA-256 of its own executable, which holds
// every pass, layer writer and compiler flag table. A changed minimal rebuilds
// everything, and the same minimal, built reproducibly from the same source, keeps its
// cache.
var toolID = sync.OnceValues(func() (string, error) {
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
	return fmt.Sprintf("%x", h.Sum(nil)), nil
})

// inputsKey hashes what a toolchain reported as the inputs of a compile.
func inputsKey(tool string, in toolchain.Inputs) (cache.Key, error) {
	k := cache.NewKey("compile-inputs")
	k.String("tool", tool)
	for _, i := range in {
		if i.Path == "" {
			k.String(i.Name, i.Value)
			continue
		}
		if err := k.File(i.Name, i.Path); err != nil {
			return cache.Key{}, err
		}
	}
	return k.Sum(), nil
}

// compileKey is the key of a compile: the key of its reported inputs, plus the content
// of each file it discovered it read, named as s.RepoPath names them.
func compileKey(s manifest.Spec, inputs cache.Key, discovered []string) (cache.Key, error) {
	k := cache.NewKey("compile")
	k.Key("inputs", inputs)
	for _, d := range discovered {
		if err := k.File(d, s.HostPath(d)); err != nil {
			return cache.Key{}, err
		}
	}
	return k.Sum(), nil
}

// jsonValue adds v to k as JSON.
func jsonValue(k *cache.KeyBuilder, name string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	k.Bytes(name, data)
	return nil
}

// hashTree adds every file under dir to k: relative path, mode and content.
func hashTree(k *cache.KeyBuilder, dir string) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		fi, err := os.Stat(p) // symlinks are followed, as the data layer does
		if err != nil {
			return err
		}
		k.String("path", filepath.ToSlash(rel))
		k.Int("mode", int64(fi.Mode()))
		if fi.Mode().IsRegular() {
			return k.File(rel, p)
		}
		return nil
	})
}
