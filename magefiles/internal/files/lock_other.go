//go:build !unix

package files

import (
	"context"
	"fmt"
	"runtime"
)

// Lock fails: file locks are not supported on this system.
func Lock(ctx context.Context, path string, waiting func()) (unlock func(), err error) {
	return nil, fmt.Errorf("locking %s: file locks are not supported on %s", path, runtime.GOOS)
}
