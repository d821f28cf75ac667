package attest_test

import (
	"bytes"
	"context"
	"debug/buildinfo"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/minimalbuild/minimal/magefiles/internal/attest"
	"github.com/minimalbuild/minimal/magefiles/internal/shrink"
)

// goSum returns the go.sum checksum of module@version in
// testdata/modapp/go.sum.
func goSum(t *testing.T, module, version string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "modapp", "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(raw)) {
		f := strings.Fields(line)
		if len(f) == 3 && f[0] == module && f[1] == version {
			return f[2]
		}
	}
	t.Fatalf("go.sum has no line for %s %s", module, version)
	return ""
}

// TestModuleAfterPack builds a Go program that links one module, shrinks it
// with sstrip and pack, and checks that the documents of its image still
// name that module with its version and go.sum checksum, although the
// packed binary has no build information left to read.
func TestModuleAfterPack(t *testing.T) {
	compiled := modApp(t)
	ctx := context.Background()
	final, steps, err := shrink.Run(ctx, compiled, []string{"strip", "sstrip", "pack"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(steps) != 2 || steps[1].Pass != "pack" || steps[1].Skipped != "" {
		t.Fatalf("shrink steps = %+v, want sstrip then pack, both kept", steps)
	}
	if _, err := buildinfo.Read(bytes.NewReader(final)); err == nil {
		t.Fatal("the packed binary still has readable build information; this test would not show that it is read before packing")
	}

	b, err := attest.Describe(ctx, compiled, steps, final)
	if err != nil {
		t.Fatal(err)
	}
	want := attest.Module{Path: "golang.org/x/sync", Version: "v0.22.0", Sum: goSum(t, "golang.org/x/sync", "v0.22.0")}
	if b.Go == nil || !slices.Contains(b.Go.Deps, want) {
		t.Fatalf("Describe found Go build info %+v; want it to list %+v", b.Go, want)
	}
	if len(b.Go.Deps) != 1 || b.Go.Main.Path != "example.com/modapp" || !strings.HasPrefix(b.Go.GoVersion, "go1.") {
		t.Errorf("Go build info = %+v; want main module example.com/modapp and golang.org/x/sync alone", b.Go)
	}
	sstrip, pack := b.Passes[0], b.Passes[1]
	if pack.In != sstrip.Out || pack.Out != attest.DigestOf(final) || sstrip.In != attest.DigestOf(compiled) {
		t.Errorf("passes = %+v; want compiled -> sstrip -> pack -> final, each output the next one's input", b.Passes)
	}
	if pack.In.Size != steps[1].Before || pack.Out.Size != steps[1].After {
		t.Errorf("pack sizes %d -> %d, shrink.Run said %d -> %d", pack.In.Size, pack.Out.Size, steps[1].Before, steps[1].After)
	}

	in := attest.Input{
		Entry:      attest.Entry{Name: "modapp", Platform: "linux/amd64", Lang: "go", Src: []string{"apps/modapp"}, Shrink: []string{"strip", "sstrip", "pack"}},
		Binary:     b,
		BinaryPath: "/ko-app/modapp",
		Created:    created,
	}
	img := image(t, "modapp", amd64, final)

	raw, err := attest.SBOM(img, in)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Packages []struct {
			Name, VersionInfo, Comment string
			Checksums                  []struct{ Algorithm, ChecksumValue string }
			ExternalRefs               []struct{ ReferenceLocator string }
		}
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, p := range doc.Packages {
		if p.Name != want.Path {
			continue
		}
		found = true
		if p.VersionInfo != want.Version || !strings.Contains(p.Comment, want.Sum) ||
			len(p.Checksums) != 1 || p.Checksums[0].Algorithm != "SHA256" || p.Checksums[0].ChecksumValue != h1Hex(t, want.Sum) ||
			len(p.ExternalRefs) != 1 || p.ExternalRefs[0].ReferenceLocator != "pkg:golang/golang.org/x/sync@v0.22.0" {
			t.Errorf("SBOM package for %s = %+v; want version %s, checksum %s, purl", want.Path, p, want.Version, want.Sum)
		}
	}
	if !found {
		t.Errorf("SBOM lists no package %s:\n%s", want.Path, raw)
	}

	raw, err = attest.Provenance(img, in)
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Predicate struct {
			BuildDefinition struct {
				ResolvedDependencies []struct {
					Name, URI string
					Digest    map[string]string
				}
			}
			RunDetails struct {
				Byproducts []struct {
					Name   string
					Digest map[string]string
				}
			}
		}
	}
	if err := json.Unmarshal(raw, &st); err != nil {
		t.Fatal(err)
	}
	found = false
	for _, d := range st.Predicate.BuildDefinition.ResolvedDependencies {
		if d.Name == want.Path {
			found = d.URI == "pkg:golang/golang.org/x/sync@v0.22.0" && d.Digest["dirHash"] == h1Hex(t, want.Sum)
		}
	}
	if !found {
		t.Errorf("provenance does not list %s with its URI and dirHash:\n%s", want.Path, raw)
	}
	found = false
	for _, bp := range st.Predicate.RunDetails.Byproducts {
		if bp.Name == "before pack" {
			found = bp.Digest["sha256"] == sstrip.Out.SHA256
		}
	}
	if !found {
		t.Errorf("provenance does not give the digest of the binary before pack (%s):\n%s", sstrip.Out.SHA256, raw)
	}
}
