package toolchain

import (
	"context"

	"github.com/minimalbuild/minimal/magefiles/manifest"
)

// Builder compiles one app for one platform into a static executable.
type Builder interface {
	// Build compiles spec and writes the executable to out. out's directory exists;
	// on error, out may be absent but is never a partial executable.
	Build(ctx context.Context, spec manifest.Spec, out string) error
}
