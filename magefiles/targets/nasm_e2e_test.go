package targets_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/minimalbuild/minimal/magefiles/internal/pipeline"
	"github.com/minimalbuild/minimal/magefiles/manifest"
)

// TestNASMInContainer builds the NASM-syntax hello of the toolchain's test data as an app
// of its own (the example monorepo does not need nasm), then runs its image under umoci +
// runc for both platforms.
func TestNASMInContainer(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs images; not in -short mode")
	}
	need(t, "nasm", "umoci", "runc")
	root := t.TempDir()
	src := filepath.Join(repoRoot(t), "magefiles", "internal", "toolchain", "testdata", "nasm-hello")
	if err := os.CopyFS(filepath.Join(root, "nasm-hello"), os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	yaml := `version: 1
apps:
  - name: nasm-hello
    lang: asm
    targets:
      amd64: {src: ./nasm-hello/x86_64.asm}
      "386": {src: ./nasm-hello/i386.asm}
    test:
      stdout: "hello from a minimal scratch container!\n"
`
	path := filepath.Join(root, "minimal.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := manifest.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pipeline.Build(context.Background(), m, pipeline.WithLog(io.Discard)); err != nil {
		t.Fatal(err)
	}
	specs, err := m.Specs()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range specs {
		t.Run(s.Platform.Arch, func(t *testing.T) {
			runInContainer(t, filepath.Join(root, "images", "oci")+":"+s.App+"/"+s.Platform.Arch, s)
		})
	}
}
