package pack

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/minimalbuild/minimal/magefiles/internal/toolchain"
	"github.com/minimalbuild/minimal/magefiles/manifest"
)

var update = flag.Bool("update", false, "rewrite the committed stubs in stub/ with zig's build")

// testZig returns the pinned zig from the cache, skipping the test when there
// is none; under CI=true zig must resolve.
func testZig(t *testing.T) *toolchain.ZigTool {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()
	z, err := toolchain.Zig(ctx, manifest.DefaultZig)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI needs zig %s: %v", manifest.DefaultZig, err)
		}
		t.Skipf("zig %s is not available: %v", manifest.DefaultZig, err)
	}
	return z
}

// TestStubsUpToDate rebuilds the stubs and compares them with the committed
// bytes the package embeds: a change to the stub's sources must come with
// the rebuilt stubs, and the build must be reproducible.
func TestStubsUpToDate(t *testing.T) {
	z := testZig(t)
	dir := t.TempDir()
	if *update {
		dir = "stub"
	}
	if err := BuildStubs(t.Context(), z, dir); err != nil {
		t.Fatal(err)
	}
	for arch, want := range stubs {
		got, err := os.ReadFile(filepath.Join(dir, "stub_"+arch+".bin"))
		if err != nil {
			t.Fatal(err)
		}
		if *update {
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("stub_%s.bin: a rebuild gives %d bytes that differ from the committed %d; run go test -run TestStubsUpToDate -update ./magefiles/internal/pack", arch, len(got), len(want))
		}
	}
}
