package stubbuild

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/minimalbuild/minimal/magefiles/internal/pid1"
	"github.com/minimalbuild/minimal/magefiles/internal/shrink"
	"github.com/minimalbuild/minimal/magefiles/internal/toolchain"
	"github.com/minimalbuild/minimal/magefiles/manifest"
)

// InitDir is the directory, relative to the repository's root, that holds the init's
// source (init.c) and the built inits the pid1 package embeds.
const InitDir = "magefiles/internal/pid1/init"

// initTarget is how the init of one architecture is built.
type initTarget struct {
	arch string   // GOARCH, in the file name init_<arch>.bin
	zig  []string // -target and -mcpu for zig cc
}

var initTargets = []initTarget{
	{arch: "amd64", zig: []string{"-target", "x86_64-linux-musl"}},
	{arch: "386", zig: []string{"-target", "x86-linux-musl", "-mcpu=i686"}},
}

// initFlags are the zig cc flags of the init: small code without the C library, no
// stack protector (there is no thread pointer), no unwind tables, build ID, symbols or
// paths, so that the bytes depend only on the source and the zig version.
var initFlags = []string{
	"-Os", "-ffreestanding", "-nostdlib", "-static", "-fno-stack-protector",
	"-fno-asynchronous-unwind-tables", "-fno-unwind-tables", "-fno-vectorize",
	"-fno-slp-vectorize", "-g0", "-s", "-Wl,--build-id=none", "-Wl,-z,norelro",
}

// InitFileName is the name of the file that holds the init for arch, a GOARCH.
func InitFileName(arch string) string { return "init_" + arch + ".bin" }

// RebuildInit rebuilds the init of every architecture with the pinned zig from root's
// InitDir and writes it there with WriteInits.
func RebuildInit(ctx context.Context, root string) error {
	zig, err := toolchain.Zig(ctx, manifest.DefaultZig)
	if err != nil {
		return err
	}
	return WriteInits(ctx, zig, filepath.Join(root, filepath.FromSlash(InitDir)))
}

// Inits compiles the init of every architecture from init.c in dir with zig and
// shrinks it with sstrip; it returns the bytes by GOARCH. It fails when an init is
// larger than pid1.MaxSize.
func Inits(ctx context.Context, zig *toolchain.ZigTool, dir string) (map[string][]byte, error) {
	source, err := os.ReadFile(filepath.Join(dir, "init.c"))
	if err != nil {
		return nil, fmt.Errorf("building the init: %w", err)
	}
	tmp, err := os.MkdirTemp("", "minimal-init-")
	if err != nil {
		return nil, fmt.Errorf("building the init: %w", err)
	}
	defer os.RemoveAll(tmp)
	if err := os.WriteFile(filepath.Join(tmp, "init.c"), source, 0o644); err != nil {
		return nil, fmt.Errorf("building the init: %w", err)
	}
	bins := map[string][]byte{}
	for _, t := range initTargets {
		out := "init-" + t.arch
		args := slices.Concat([]string{"cc"}, t.zig, initFlags, []string{"-ffile-prefix-map=" + tmp + "=.", "-o", out, "init.c"})
		cmd := zig.Command(ctx, args...)
		cmd.Dir = tmp
		if msg, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("building the %s init: zig %s: %w\n%s", t.arch, strings.Join(args, " "), err, msg)
		}
		linked, err := os.ReadFile(filepath.Join(tmp, out))
		if err != nil {
			return nil, fmt.Errorf("building the %s init: %w", t.arch, err)
		}
		b, err := shrink.SStrip(linked)
		if err != nil {
			return nil, fmt.Errorf("building the %s init: %w", t.arch, err)
		}
		if len(b) > pid1.MaxSize {
			return nil, fmt.Errorf("building the %s init: %d bytes, more than %d", t.arch, len(b), pid1.MaxSize)
		}
		bins[t.arch] = b
	}
	return bins, nil
}

// WriteInits builds the init of every architecture from dir and writes each there as
// InitFileName(arch). A file whose bytes are already right is left alone.
func WriteInits(ctx context.Context, zig *toolchain.ZigTool, dir string) error {
	bins, err := Inits(ctx, zig, dir)
	if err != nil {
		return err
	}
	for _, t := range initTargets {
		name := filepath.Join(dir, InitFileName(t.arch))
		if old, err := os.ReadFile(name); err == nil && bytes.Equal(old, bins[t.arch]) {
			continue
		}
		if err := os.WriteFile(name, bins[t.arch], 0o644); err != nil {
			return fmt.Errorf("writing the init: %w", err)
		}
	}
	return nil
}
