package pid1

import (
	"bytes"
	"context"
	_ "embed"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/minimalbuild/minimal/magefiles/internal/oci"
	"github.com/minimalbuild/minimal/magefiles/internal/shrink"
	"github.com/minimalbuild/minimal/magefiles/internal/toolchain"
)

// Path is where the init sits in an image, and the first word of the entrypoint of
// an image that has one.
const Path = "/init"

// MaxSize is the most bytes the init of any architecture may take.
const MaxSize = 1024

// The inits as Build makes them from init/init.c.
var (
	//go:embed init/init_amd64.bin
	initAMD64 []byte
	//go:embed init/init_386.bin
	init386 []byte

	inits = map[string][]byte{"amd64": initAMD64, "386": init386}
)

//go:embed init/init.c
var source []byte

// target is how the init of one architecture is built.
type target struct {
	arch string   // GOARCH, in the file name init_<arch>.bin
	zig  []string // -target and -mcpu for zig cc
}

var targets = []target{
	{arch: "amd64", zig: []string{"-target", "x86_64-linux-musl"}},
	{arch: "386", zig: []string{"-target", "x86-linux-musl", "-mcpu=i686"}},
}

// flags are the zig cc flags of the init: small code without the C library, no
// stack protector (there is no thread pointer), no unwind tables, build ID,
// symbols or paths, so that the bytes depend only on the source and the zig
// version.
var flags = []string{
	"-Os", "-ffreestanding", "-nostdlib", "-static", "-fno-stack-protector",
	"-fno-asynchronous-unwind-tables", "-fno-unwind-tables", "-fno-vectorize",
	"-fno-slp-vectorize", "-g0", "-s", "-Wl,--build-id=none", "-Wl,-z,norelro",
}

// Arches returns the architectures (GOARCH) the init is built for.
func Arches() []string {
	a := make([]string, len(targets))
	for i, t := range targets {
		a[i] = t.arch
	}
	return a
}

// Binary returns the init for arch, a GOARCH such as amd64 or 386. The caller
// must not change the bytes.
func Binary(arch string) ([]byte, error) {
	b, ok := inits[arch]
	if !ok {
		return nil, fmt.Errorf("no init for architecture %q: want one of %s", arch, strings.Join(Arches(), ", "))
	}
	return b, nil
}

// Layer returns the layer holding the init for arch at Path, mode 0o755. It is
// built by oci.Layer, so for a given arch and creation time its bytes, and so
// its digest, are the same in every image.
func Layer(arch string, created time.Time) (v1.Layer, error) {
	b, err := Binary(arch)
	if err != nil {
		return nil, fmt.Errorf("init layer: %w", err)
	}
	return oci.Layer([]oci.File{{Path: Path, Mode: 0o755, Data: b}}, created)
}

// Entrypoint returns the entrypoint of an image that runs entrypoint under the
// init: Path, then entrypoint.
func Entrypoint(entrypoint []string) []string {
	return append([]string{Path}, entrypoint...)
}

// Build compiles the init of every architecture from init/init.c with zig and
// shrinks it with sstrip; it returns the bytes by GOARCH. It fails when an init
// is larger than MaxSize.
func Build(ctx context.Context, zig *toolchain.ZigTool) (map[string][]byte, error) {
	tmp, err := os.MkdirTemp("", "minimal-init-")
	if err != nil {
		return nil, fmt.Errorf("building the init: %w", err)
	}
	defer os.RemoveAll(tmp)
	if err := os.WriteFile(filepath.Join(tmp, "init.c"), source, 0o644); err != nil {
		return nil, fmt.Errorf("building the init: %w", err)
	}
	bins := map[string][]byte{}
	for _, t := range targets {
		out := "init-" + t.arch
		args := slices.Concat([]string{"cc"}, t.zig, flags, []string{"-ffile-prefix-map=" + tmp + "=.", "-o", out, "init.c"})
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
		if len(b) > MaxSize {
			return nil, fmt.Errorf("building the %s init: %d bytes, more than %d", t.arch, len(b), MaxSize)
		}
		bins[t.arch] = b
	}
	return bins, nil
}

// WriteFiles builds the init of every architecture and writes each to dir as
// init_<arch>.bin, the files this package embeds (magefiles/internal/pid1/init).
// A file whose bytes are already right is left alone.
func WriteFiles(ctx context.Context, zig *toolchain.ZigTool, dir string) error {
	bins, err := Build(ctx, zig)
	if err != nil {
		return err
	}
	for _, t := range targets {
		name := filepath.Join(dir, "init_"+t.arch+".bin")
		if old, err := os.ReadFile(name); err == nil && bytes.Equal(old, bins[t.arch]) {
			continue
		}
		if err := os.WriteFile(name, bins[t.arch], 0o644); err != nil {
			return fmt.Errorf("writing the init: %w", err)
		}
	}
	return nil
}
