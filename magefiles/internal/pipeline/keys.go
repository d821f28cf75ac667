package pipeline

import (
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"sync"
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
