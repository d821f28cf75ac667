package stubbuild_test

import (
	"bytes"
	"testing"

	"github.com/minimalbuild/minimal/magefiles/internal/pack/stubbuild"
	"github.com/minimalbuild/minimal/magefiles/internal/pid1"
	"github.com/minimalbuild/minimal/magefiles/internal/testenv/zigtest"
)

// initDir is the directory of the init's source and committed bytes.
const initDir = "../../pid1/init"

// TestInitUpToDate rebuilds the inits and compares them with the committed bytes the
// pid1 package embeds: a change to init.c must come with the rebuilt inits, and the
// build must be reproducible.
func TestInitUpToDate(t *testing.T) {
	z := zigtest.Pinned(t)
	if *update {
		if err := stubbuild.WriteInits(t.Context(), z, initDir); err != nil {
			t.Fatal(err)
		}
		return
	}
	got, err := stubbuild.Inits(t.Context(), z, initDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, arch := range pid1.Arches() {
		want, err := pid1.Binary(arch)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got[arch], want) {
			t.Errorf("%s: a rebuild gives %d bytes that differ from the committed %d; run go test -run TestInitUpToDate -update ./magefiles/internal/pack/stubbuild", stubbuild.InitFileName(arch), len(got[arch]), len(want))
		}
	}
}
