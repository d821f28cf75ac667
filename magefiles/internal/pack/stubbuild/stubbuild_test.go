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
	if want := 2 * len(stubbuild.Variants); len(stubs) != want {
		t.Errorf("built %d stubs, want %d (amd64 and 386, each variant)", len(stubs), want)
	}
	for name, got := range stubs {
		want, err := os.ReadFile(filepath.Join(stubDir, name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: a rebuild gives %d bytes that differ from the committed %d; run go tool mage stubs, or go test -run TestStubsUpToDate -update ./magefiles/internal/pack/stubbuild", name, len(got), len(want))
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
	var names []string
	for _, arch := range []string{"amd64", "386"} {
		for _, v := range stubbuild.Variants {
			names = append(names, stubbuild.FileName(arch, v.Name))
		}
	}
	for _, name := range names {
		if err := os.Remove(filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := stubbuild.Build(t.Context(), z, dir); err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		want, err := os.ReadFile(filepath.Join(stubDir, name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("Build wrote %s of %d bytes, want the committed %d", name, len(got), len(want))
		}
	}
}
