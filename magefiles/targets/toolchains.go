package targets

import (
	"context"

	"github.com/minimalbuild/minimal/magefiles/internal/toolchain"
	"github.com/minimalbuild/minimal/magefiles/manifest"
)

// checkToolchains reports, at its place in the manifest and before anything runs, a
// toolchains.zig version that the build could neither fetch nor find: one with no pinned
// checksum that neither $ZIG nor the zig on $PATH supplies. It is a manifest error, so
// mage exits with status 2 as for any other.
func checkToolchains(ctx context.Context, m *manifest.Manifest) error {
	if err := toolchain.CheckZig(ctx, m.Toolchains.Zig); err != nil {
		if ctx.Err() != nil {
			return err
		}
		pos := m.Toolchains.ZigPos
		return usageError{manifest.ErrorList{{File: m.File, Line: pos.Line, Column: pos.Column, Msg: "toolchains.zig: " + err.Error()}}}
	}
	return nil
}
