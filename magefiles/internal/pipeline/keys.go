package pipeline

import (
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/minimalbuild/minimal/magefiles/internal/cache"
	"github.com/minimalbuild/minimal/magefiles/internal/toolchain"
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
	if err := k.Inputs(in); err != nil {
		return cache.Key{}, err
	}
	return k.Sum(), nil
}
