package attest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"debug/buildinfo"
	"encoding/hex"
	"fmt"
	"runtime/debug"

	"github.com/minimalbuild/minimal/magefiles/internal/shrink"
)

// Digest identifies some bytes: their SHA-256 and their size.
type Digest struct {
	// SHA256 is the lowercase hex SHA-256 of the bytes.
	SHA256 string `json:"sha256"`
	// Size is their length in bytes.
	Size int64 `json:"size"`
}

// DigestOf returns the Digest of b.
func DigestOf(b []byte) Digest {
	sum := sha256.Sum256(b)
	return Digest{SHA256: hex.EncodeToString(sum[:]), Size: int64(len(b))}
}

// Binary describes an executable from the compiler's output to the bytes in
// the image. It is a plain value that can be stored as JSON beside the
// shrunk binary and read back when the binary comes from a cache.
type Binary struct {
	// Compiled is the executable as the toolchain linked it, before any
	// post-link shrink pass.
	Compiled Digest `json:"compiled"`
	// Go is the build information the Go linker recorded in the compiled
	// executable; nil for an executable that is not a Go program.
	Go *GoBuild `json:"go,omitempty"`
	// Passes are the post-link shrink passes in the order they ran, each
	// with the binary it was given and the one it made.
	Passes []Pass `json:"passes,omitempty"`
	// Final is the executable that went into the image.
	Final Digest `json:"final"`
}

// Pass is one post-link shrink pass applied to a binary.
type Pass struct {
	// Name is the pass's name in minimal.yaml, such as sstrip or pack.
	Name string `json:"name"`
	// In is the binary the pass was given.
	In Digest `json:"in"`
	// Out is the binary that went on to the next pass: In again when the
	// pass was skipped.
	Out Digest `json:"out"`
	// Skipped says why the pass's output was dropped; empty when it was
	// kept.
	Skipped string `json:"skipped,omitempty"`
}

// GoBuild is the build information of a Go executable, as debug/buildinfo
// reads it.
type GoBuild struct {
	// GoVersion is the version of the Go toolchain that built it, such as
	// go1.26.8.
	GoVersion string `json:"goVersion"`
	// Path is the import path of its main package.
	Path string `json:"path"`
	// Main is the module holding the main package.
	Main Module `json:"main"`
	// Deps are every other module linked in, sorted by path as the Go
	// linker records them.
	Deps []Module `json:"deps,omitempty"`
	// Settings are the build settings: flags, GOOS, GOARCH, CGO_ENABLED and
	// the like.
	Settings []Setting `json:"settings,omitempty"`
}

// Module is one Go module of a build.
type Module struct {
	// Path is the module path, such as golang.org/x/sync.
	Path string `json:"path"`
	// Version is its version, such as v0.22.0, or (devel) for the main
	// module.
	Version string `json:"version,omitempty"`
	// Sum is its go.sum checksum, such as h1:...=; empty for the main
	// module and for replacements by a directory.
	Sum string `json:"sum,omitempty"`
	// Replace is the module that replaced this one, if any.
	Replace *Module `json:"replace,omitempty"`
}

// Setting is one Go build setting, such as -trimpath=true.
type Setting struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// goBuildInfoMagic starts the block of build information that the Go
// linker writes into every Go executable.
var goBuildInfoMagic = []byte("\xff Go buildinf:")

// Describe describes a binary: compiled, the executable as the toolchain
// linked it, became final through the shrink passes that steps record, in
// order, as shrink.Run returned them.
//
// Go's build information is read from compiled, since the binary after
// pack has none. The digest of each pass's input and output is found by
// running the passes again on compiled, except the last one kept, whose
// output is final; a pass that is not deterministic, or steps that do not
// match compiled, are an error.
func Describe(ctx context.Context, compiled []byte, steps []shrink.Step, final []byte) (Binary, error) {
	b := Binary{Compiled: DigestOf(compiled), Final: DigestOf(final)}
	if bytes.Contains(compiled, goBuildInfoMagic) {
		info, err := buildinfo.Read(bytes.NewReader(compiled))
		if err != nil {
			return Binary{}, fmt.Errorf("describing binary: reading Go build information: %w", err)
		}
		b.Go = goBuildOf(info)
	}
	last := -1 // the last pass whose output was kept
	for i, s := range steps {
		if s.Skipped == "" {
			last = i
		}
	}
	cur := compiled
	for i, s := range steps {
		if err := ctx.Err(); err != nil {
			return Binary{}, err
		}
		p := Pass{Name: s.Pass, In: DigestOf(cur), Skipped: s.Skipped}
		if s.Before != int64(len(cur)) {
			return Binary{}, fmt.Errorf("describing binary: %s was given %d bytes, not the %d of the binary before it", s.Pass, s.Before, len(cur))
		}
		if s.Skipped == "" {
			var out []byte
			if i == last {
				out = final
			} else {
				var err error
				if out, err = shrink.Apply(ctx, s.Pass, cur); err != nil {
					return Binary{}, fmt.Errorf("describing binary: running %s again: %w", s.Pass, err)
				}
			}
			if int64(len(out)) != s.After {
				return Binary{}, fmt.Errorf("describing binary: %s made %d bytes, not the %d recorded", s.Pass, len(out), s.After)
			}
			cur = out
		}
		p.Out = DigestOf(cur)
		b.Passes = append(b.Passes, p)
	}
	if got := DigestOf(cur); got != b.Final {
		return Binary{}, fmt.Errorf("describing binary: the shrink passes lead to sha256:%s (%d bytes), not to the final binary sha256:%s (%d bytes)", got.SHA256, got.Size, b.Final.SHA256, b.Final.Size)
	}
	return b, nil
}

func goBuildOf(info *debug.BuildInfo) *GoBuild {
	g := &GoBuild{GoVersion: info.GoVersion, Path: info.Path, Main: moduleOf(&info.Main)}
	for _, d := range info.Deps {
		g.Deps = append(g.Deps, moduleOf(d))
	}
	for _, s := range info.Settings {
		g.Settings = append(g.Settings, Setting{Key: s.Key, Value: s.Value})
	}
	return g
}

func moduleOf(m *debug.Module) Module {
	mod := Module{Path: m.Path, Version: m.Version, Sum: m.Sum}
	if m.Replace != nil {
		r := moduleOf(m.Replace)
		mod.Replace = &r
	}
	return mod
}
