//go:build mage

// The example monorepo's build: every target but the developer tools stubs and init
// comes from the importable targets package.
package main

import (
	"context"

	"github.com/minimalbuild/minimal/magefiles/internal/pack/stubbuild"
	//mage:import
	"github.com/minimalbuild/minimal/magefiles/targets"
)

// Default is what `go tool mage` runs with no target: build every app.
var Default = targets.Build

// Stubs rebuilds the packer's start-up stubs (magefiles/internal/pack/stub/stub_*.bin) from their C and assembly sources with the pinned zig; commit the result.
func Stubs(ctx context.Context) error {
	return stubbuild.Rebuild(ctx, ".")
}

// Init rebuilds the init that image.init adds to images (magefiles/internal/pid1/init/init_*.bin) from its C source with the pinned zig; commit the result.
func Init(ctx context.Context) error {
	return stubbuild.RebuildInit(ctx, ".")
}
