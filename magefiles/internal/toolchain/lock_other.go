//go:build !unix

package toolchain

import (
	"context"
	"fmt"
	"runtime"
)

// lockFile reports that the zig cache cannot be shared safely on this system.
func lockFile(ctx context.Context, path string, waiting func()) (unlock func(), err error) {
	return nil, fmt.Errorf("locking %s: file locks are not supported on %s", path, runtime.GOOS)
}
