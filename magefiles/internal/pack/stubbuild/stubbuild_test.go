package stubbuild_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/minimalbuild/minimal/magefiles/internal/pack/stubbuild"
	"github.com/minimalbuild/minimal/magefiles/internal/testenv/zigtest"
)

var update = flag.Bool("update", false, "rewrite the committed stubs in ../stub with zig's build")

// stubDir is the directory of the stubs' sources and committed bytes.
const stubDir = "../stub"

// TestStubsUpToDate rebuilds the stubs and compares them with the committed bytes the
// pack package embeds: a change to the stub's sources must come with the rebuilt
// stubs, and the build must be reproducible.
func TestStubsUpToDate(t *testing.T) {
	z := zigtest.Pinned(t)
	if *update {
		if err := stubbuild.Build(t.Context(), z, stubDir); err != nil {
			t.Fatal(err)
		}
		return
	}
	stubs, err := stubbuild.Stubs(t.Context(), z, stubDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(stubs) != 2 {
		t.Errorf("built stubs for %d architectures, want 2 (amd64 and 386)", len(stubs))
	}
	for arch, got := range stubs {
		want, err := os.ReadFile(filepath.Join(stubDir, stubbuild.FileName(arch)))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: a rebuild gives %d bytes that differ from the committed %d; run go tool mage stubs, or go test -run TestStubsUpToDate -update ./magefiles/internal/pack/stubbuild", stubbuild.FileName(arch), len(got), len(want))
		}
	}
}

// TestBuildWritesTheStubs checks that Build writes what Stubs returns, under the names
// the pack package embeds, in a copy of the sources.
func TestBuildWritesTheStubs(t *testing.T) {
	z := zigtest.Pinned(t)
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(stubDir)); err != nil {
		t.Fatal(err)
	}
	for _, arch := range []string{"amd64", "386"} {
		if err := os.Remove(filepath.Join(dir, stubbuild.FileName(arch))); err != nil {
			t.Fatal(err)
		}
	}
	if err := stubbuild.Build(t.Context(), z, dir); err != nil {
		t.Fatal(err)
	}
	for _, arch := range []string{"amd64", "386"} {
		got, err := os.ReadFile(filepath.Join(dir, stubbuild.FileName(arch)))
		if err != nil {
			t.Fatal(err)
		}
		want, err := os.ReadFile(filepath.Join(stubDir, stubbuild.FileName(arch)))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("Build wrote a %s stub of %d bytes, want the committed %d", arch, len(got), len(want))
		}
	}
}
