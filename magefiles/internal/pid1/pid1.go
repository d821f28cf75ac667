package pid1

import (
	_ "embed"
	"fmt"
	"slices"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/minimalbuild/minimal/magefiles/internal/oci"
	"github.com/minimalbuild/minimal/magefiles/manifest"
)

// Path is where the init sits in an image, and the first word of the entrypoint of
// an image that has one.
const Path = manifest.ImageInit

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

// arches are the architectures (GOARCH) the init is built for.
var arches = []string{"amd64", "386"}

// Arches returns the architectures (GOARCH) the init is built for.
func Arches() []string { return slices.Clone(arches) }

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

// For returns the init the image img runs its entrypoint under on arch, or nil when
// img does not ask for one (image.init).
func For(img manifest.Image, arch string) ([]byte, error) {
	if !img.UsesInit() {
		return nil, nil
	}
	return Binary(arch)
}
