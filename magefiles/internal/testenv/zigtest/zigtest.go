// Package zigtest gives tests outside the toolchain package the pinned zig, resolved
// once per test binary as a build resolves it (from $ZIG, PATH, minimal's cache, or
// fetched with npm).
package zigtest

import (
	"context"
	"io"
	"testing"

	"github.com/minimalbuild/minimal/magefiles/internal/testenv"
	"github.com/minimalbuild/minimal/magefiles/internal/toolchain"
	"github.com/minimalbuild/minimal/magefiles/manifest"
)

// pinned resolves manifest.DefaultZig once.
var pinned = testenv.Zig(func(ctx context.Context) (*toolchain.ZigTool, error) {
	return toolchain.Zig(ctx, manifest.DefaultZig, toolchain.WithZigLog(io.Discard))
})

// Pinned returns the zig of manifest.DefaultZig. It skips t under -short, and when zig
// cannot be had, or fails t then under CI=true, as testenv.Zig does.
func Pinned(t testing.TB) *toolchain.ZigTool {
	t.Helper()
	return pinned(t)
}
