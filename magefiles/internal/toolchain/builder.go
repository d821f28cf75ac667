package toolchain

import (
	"context"

	"github.com/minimalbuild/minimal/magefiles/internal/cache"

	"github.com/minimalbuild/minimal/magefiles/manifest"
)

// Builder compiles one app for one platform into a static executable, and reports what
// determines the executable it makes, so that a build can be looked up before it runs.
type Builder interface {
	// Inputs reports, for each of specs, everything that determines the executable
	// Build makes of it, but for the files Build finds it reads (Discovered). It runs no
	// compiler: at most tools that report versions or list packages. The result is in
	// the order of specs.
	Inputs(ctx context.Context, specs []manifest.Spec) ([]Inputs, error)
	// Build compiles spec and writes the executable to out. out's directory exists;
	// on error, out may be absent but is never a partial executable.
	Build(ctx context.Context, spec manifest.Spec, out string) error
	// Discovered returns the files a successful Build of spec read beyond its Inputs,
	// such as the headers a C source includes, as host paths. What they hold keys the
	// next build of spec, as ccache's direct mode does.
	Discovered(ctx context.Context, spec manifest.Spec) ([]string, error)
}

// Builders returns the builder of each language, by its lang in minimal.yaml. The C
// and assembly builders share one zig of version, resolved with opts on first use, so
// a build without C or assembly never looks for zig.
func Builders(version string, opts ...ZigOption) map[string]Builder {
	zig := LazyZig(version, opts...)
	return map[string]Builder{
		manifest.LangGo:  Go(),
		manifest.LangC:   C(zig),
		manifest.LangAsm: Asm(zig),
	}
}

// Inputs is what determines one build's output, in a fixed order.
type Inputs []cache.Input

// value appends a named value.
func (in *Inputs) value(name, value string) { *in = append(*in, cache.Input{Name: name, Value: value}) }

// file appends a file by its content.
func (in *Inputs) file(name, path string) { *in = append(*in, cache.Input{Name: name, Path: path}) }
