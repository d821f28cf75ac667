package attest_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/minimalbuild/minimal/magefiles/internal/attest"
	"github.com/minimalbuild/minimal/magefiles/internal/shrink"
	"github.com/minimalbuild/minimal/magefiles/manifest"
)

func h1Hex(t *testing.T, sum string) string {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(sum, "h1:"))
	if err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(raw)
}

// golden compares got with testdata/golden/name, or rewrites it with
// -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to write it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s differs (-want +got); run go test -update if the change is meant:\n%s", path, diff)
	}
}

func digestOf(s string) attest.Digest { return attest.DigestOf([]byte(s)) }

// finalBinary is the executable in the images of the golden documents.
const finalBinary = "the final binary"

// inputs are the inputs of the golden documents: a Go app with a
// replaced module and one replaced by a directory, and a C app.
func inputs() map[string]attest.Input {
	// Each input's final binary is the one image() gets in the tests.
	compiled, sstripped, packed := digestOf("compiled"), digestOf("sstripped"), digestOf(finalBinary)
	return map[string]attest.Input{
		"go": {
			Entry: attest.Entry{
				Name: "hello", Platform: "linux/amd64", Lang: "go", Src: []string{"apps/hello"},
				Ldflags: []string{"-X main.v=1"}, Env: map[string]string{"GOAMD64": "v2"},
				Shrink: []string{"strip", "sstrip", "pack"},
				Image:  attest.EntryImage{User: "65532", Ports: []string{"8080/tcp"}},
				Tags:   []string{"latest"},
			},
			Binary: attest.Binary{
				Compiled: compiled,
				Go: &attest.GoBuild{
					GoVersion: "go1.26.8",
					Path:      "github.com/minimalbuild/minimal/apps/hello",
					Main:      attest.Module{Path: "github.com/minimalbuild/minimal", Version: "(devel)"},
					Deps: []attest.Module{
						{Path: "golang.org/x/sync", Version: "v0.22.0", Sum: "h1:SZjpbeLmrCk4xhRSZFNZW5gFUeCeFgjekvI/+gfScek="},
						{Path: "example.com/forked", Version: "v1.0.0", Replace: &attest.Module{Path: "example.com/fork", Version: "v1.0.1", Sum: "h1:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="}},
						{Path: "example.com/local", Version: "v0.0.0", Replace: &attest.Module{Path: "../local"}},
					},
					Settings: []attest.Setting{{Key: "-trimpath", Value: "true"}, {Key: "CGO_ENABLED", Value: "0"}, {Key: "GOARCH", Value: "amd64"}},
				},
				Passes: []attest.Pass{
					{Name: "sstrip", In: compiled, Out: sstripped},
					{Name: "pack", In: sstripped, Out: packed},
				},
				Final: packed,
			},
			BinaryPath: "/ko-app/hello",
			Toolchains: []attest.Tool{{Name: "go", Version: "ignored: the binary says which Go built it"}},
			Created:    created,
		},
		"c": {
			Entry: attest.Entry{
				Name: "hello", Platform: "linux/amd64", Lang: "c", Src: []string{"apps/hello-c/hello.c"},
				Defines: map[string]string{"GREETING": `"hi"`}, Shrink: []string{"strip", "sstrip", "pack"},
				ShrinkFailure: "skip",
			},
			Binary: attest.Binary{
				Compiled: compiled,
				Passes: []attest.Pass{
					{Name: "sstrip", In: compiled, Out: packed},
					{Name: "pack", In: packed, Out: packed, Skipped: "no gain: the stub is larger than what it saves"},
				},
				Final: packed,
			},
			BinaryPath: "/ko-app/hello",
			Sources: []attest.File{
				{Path: "apps/hello-c/hello.c", SHA256: digestOf("int main(){}").SHA256, SHA1: "da39a3ee5e6b4b0d3255bfef95601890afd80709", Size: 12},
				{Path: "apps/hello-c/inc/greeting.h", SHA256: digestOf("#define G").SHA256, SHA1: "0000000000000000000000000000000000000000", Size: 9},
			},
			Toolchains: []attest.Tool{
				{Name: "zig", Version: "0.11.0", Digest: map[string]string{"sha512": strings.Repeat("ab", 64)}},
				{Name: "musl", Version: "1.2.4"},
				{Name: "nasm", Version: "2.16.01"},
			},
			Builder: "v1.2.3",
			Created: created,
		},
	}
}

// TestDocumentsGolden checks the SBOM and the provenance of a Go and a C
// app, byte for byte, against files a person has read.
func TestDocumentsGolden(t *testing.T) {
	for name, in := range inputs() {
		t.Run(name, func(t *testing.T) {
			img := image(t, in.Entry.Name, amd64, []byte(finalBinary))
			sbom, err := attest.SBOM(img, in)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, name+".spdx.json", sbom)
			prov, err := attest.Provenance(img, in)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, name+".intoto.json", prov)
			for _, doc := range [][]byte{sbom, prov} {
				if !json.Valid(doc) {
					t.Errorf("not valid JSON:\n%s", doc)
				}
			}
		})
	}
}

// TestDocumentsDescribeTheImage checks what the documents take from the
// image rather than from the input: its digest, its layers and their files.
func TestDocumentsDescribeTheImage(t *testing.T) {
	in := inputs()["c"]
	img := image(t, "hello", amd64, []byte(finalBinary))
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	sbom, err := attest.SBOM(img, in)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`"checksumValue": "` + d.Hex + `"`,
		`"fileName": "/ko-app/hello"`,
		`"checksumValue": "` + digestOf("the final binary").SHA256 + `"`,
		`"fileName": "/var/run/ko/css/site.css"`,
		`"checksumValue": "` + digestOf("p { margin: 0 }\n").SHA256 + `"`,
		`"created": "2023-11-14T22:13:20Z"`,
	} {
		if !strings.Contains(string(sbom), want) {
			t.Errorf("SBOM lacks %s", want)
		}
	}
	if strings.Contains(string(sbom), "/var/run/ko/latest") {
		t.Error("SBOM lists a symbolic link as a file")
	}
	prov, err := attest.Provenance(img, in)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(prov), `"sha256": "`+d.Hex+`"`) {
		t.Errorf("provenance subject is not the image digest %s:\n%s", d, prov)
	}

	other := image(t, "hello", amd64, []byte("another final binary"))
	in.Binary.Final = digestOf("another final binary")
	sbom2, err := attest.SBOM(other, in)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(sbom, sbom2) {
		t.Error("two images with different binaries have the same SBOM")
	}
}

// TestReferrers checks the artifact manifests: OCI 1.1 form, subject the
// image, reproducible, and changed only by what they describe.
func TestReferrers(t *testing.T) {
	in := inputs()["go"]
	img := image(t, "hello", amd64, []byte(finalBinary))
	imgDigest, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	imgRaw, err := img.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	refs, err := attest.Referrers(img, in)
	if err != nil {
		t.Fatal(err)
	}
	if len(refs) != 2 {
		t.Fatalf("got %d referrers, want the SBOM and the provenance", len(refs))
	}
	wantDocs := map[string]func(v1.Image, attest.Input) ([]byte, error){
		attest.MediaTypeSPDX:   attest.SBOM,
		attest.MediaTypeInToto: attest.Provenance,
	}
	for i, ref := range refs {
		m, err := ref.Manifest()
		if err != nil {
			t.Fatal(err)
		}
		want := &v1.Descriptor{MediaType: types.OCIManifestSchema1, Digest: imgDigest, Size: int64(len(imgRaw))}
		if diff := cmp.Diff(want, m.Subject); diff != "" {
			t.Errorf("referrer %d subject (-want +got):\n%s", i, diff)
		}
		if m.MediaType != types.OCIManifestSchema1 || m.Config.MediaType != types.OCIEmptyJSON ||
			m.Config.Digest.String() != "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a" || m.Config.Size != 2 {
			t.Errorf("referrer %d is not an OCI 1.1 artifact with the empty config: %+v", i, m)
		}
		if m.Annotations[attest.AnnotationCreated] != "2023-11-14T22:13:20Z" {
			t.Errorf("referrer %d created = %q, want the build's creation time", i, m.Annotations[attest.AnnotationCreated])
		}
		doc, ok := wantDocs[m.ArtifactType]
		if !ok || len(m.Layers) != 1 || string(m.Layers[0].MediaType) != m.ArtifactType {
			t.Fatalf("referrer %d has artifact type %q and layers %+v", i, m.ArtifactType, m.Layers)
		}
		delete(wantDocs, m.ArtifactType)
		layers, err := ref.Layers()
		if err != nil {
			t.Fatal(err)
		}
		rc, err := layers[0].Compressed()
		if err != nil {
			t.Fatal(err)
		}
		var got bytes.Buffer
		_, err = got.ReadFrom(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		wantDoc, err := doc(img, in)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Bytes(), wantDoc) {
			t.Errorf("referrer %d's layer is not the %s document", i, m.ArtifactType)
		}
		cfg, err := ref.RawConfigFile()
		if err != nil || string(cfg) != "{}" {
			t.Errorf("referrer %d config = %q, %v; want {}", i, cfg, err)
		}
	}

	digests := func(in attest.Input) []string {
		refs, err := attest.Referrers(img, in)
		if err != nil {
			t.Fatal(err)
		}
		var ds []string
		for _, r := range refs {
			d, err := r.Digest()
			if err != nil {
				t.Fatal(err)
			}
			ds = append(ds, d.String())
		}
		return ds
	}
	first := digests(in)
	if again := digests(inputs()["go"]); !cmp.Equal(first, again) {
		t.Errorf("referrers of the same input differ: %v, then %v", first, again)
	}
	later := in
	later.Created = created.Add(time.Hour)
	if ds := digests(later); ds[0] == first[0] || ds[1] == first[1] {
		t.Errorf("another SOURCE_DATE_EPOCH left a referrer digest unchanged: %v, then %v", first, ds)
	}
	shrunk := in
	shrunk.Binary.Passes = shrunk.Binary.Passes[:1]
	if ds := digests(shrunk); ds[1] == first[1] {
		t.Error("a different shrink history left the provenance unchanged")
	}
}

func TestDocumentsErrors(t *testing.T) {
	img := image(t, "hello", amd64, []byte(finalBinary))
	noName := inputs()["go"]
	noName.Entry.Name = ""
	badSum := inputs()["go"]
	badSum.Binary.Go = &attest.GoBuild{GoVersion: "go1.26.8", Deps: []attest.Module{{Path: "x.example/m", Version: "v1.0.0", Sum: "h2:abc"}}}
	otherBinary := inputs()["go"]
	otherBinary.Binary.Final = digestOf("another build")
	noPath := inputs()["go"]
	noPath.BinaryPath = ""
	wrongPath := inputs()["go"]
	wrongPath.BinaryPath = "/ko-app/other"
	for _, tc := range []struct {
		name string
		in   attest.Input
		want string
	}{
		{"an input without an app cannot name its documents", noName, "names no app"},
		{"the history of another binary is not paired with this image", otherBinary, "not the final binary sha256:" + digestOf("another build").SHA256},
		{"the executable must be found", noPath, "gives no path for the executable"},
		{"the executable must be where the input says", wrongPath, "the image has no file /ko-app/other"},
		{"a checksum that is not go.sum's h1 is not written as SHA256", badSum, `"h2:abc" is not an h1: hash`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for what, f := range map[string]func(v1.Image, attest.Input) ([]byte, error){"SBOM": attest.SBOM, "provenance": attest.Provenance} {
				if _, err := f(img, tc.in); err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("%s: error %v, want one containing %q", what, err, tc.want)
				}
			}
		})
	}
}

// TestDescribe covers the bookkeeping of Describe on bytes that are not
// executables; TestModuleAfterPack runs it on a real one.
func TestDescribe(t *testing.T) {
	compiled := []byte("#!/bin/sh\necho not a Go program\n")
	smaller := []byte("smaller")
	for _, tc := range []struct {
		name    string
		steps   []shrink.Step
		final   []byte
		want    []attest.Pass
		wantErr string
	}{
		{name: "no pass: the compiled binary is the final one", final: compiled},
		{
			name:  "the last pass kept is not run again: its output is the final binary",
			steps: []shrink.Step{{Pass: "pack", Before: int64(len(compiled)), After: int64(len(smaller))}},
			final: smaller,
			want:  []attest.Pass{{Name: "pack", In: attest.DigestOf(compiled), Out: attest.DigestOf(smaller)}},
		},
		{
			name: "a skipped pass passes its input on",
			steps: []shrink.Step{
				{Pass: "sstrip", Before: int64(len(compiled)), After: int64(len(compiled)), Skipped: "smoke test failed"},
				{Pass: "pack", Before: int64(len(compiled)), After: int64(len(compiled)), Skipped: "no gain", NoGain: true},
			},
			final: compiled,
			want: []attest.Pass{
				{Name: "sstrip", In: attest.DigestOf(compiled), Out: attest.DigestOf(compiled), Skipped: "smoke test failed"},
				{Name: "pack", In: attest.DigestOf(compiled), Out: attest.DigestOf(compiled), Skipped: "no gain"},
			},
		},
		{name: "no pass, yet the final binary differs", final: smaller, wantErr: "lead to sha256:"},
		{
			name:    "a recorded size that is not the final binary's",
			steps:   []shrink.Step{{Pass: "pack", Before: int64(len(compiled)), After: 3}},
			final:   smaller,
			wantErr: "pack made 7 bytes, not the 3 recorded",
		},
		{
			name:    "steps of another binary",
			steps:   []shrink.Step{{Pass: "pack", Before: 1, After: int64(len(smaller))}},
			final:   smaller,
			wantErr: "pack was given 1 bytes",
		},
		{
			name: "a pass run again fails on what is not an ELF",
			steps: []shrink.Step{
				{Pass: "sstrip", Before: int64(len(compiled)), After: 5},
				{Pass: "pack", Before: 5, After: int64(len(smaller))},
			},
			final:   smaller,
			wantErr: "running sstrip again",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := attest.Describe(context.Background(), compiled, tc.steps, tc.final)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := attest.Binary{Compiled: attest.DigestOf(compiled), Passes: tc.want, Final: attest.DigestOf(tc.final)}
			if diff := cmp.Diff(want, b); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestBinaryRoundTrip checks that a Binary survives the JSON it is cached
// as.
func TestBinaryRoundTrip(t *testing.T) {
	b := inputs()["go"].Binary
	raw, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	var got attest.Binary
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(b, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestEntryOf(t *testing.T) {
	root := t.TempDir()
	after := 200 * time.Millisecond
	s := manifest.Spec{
		App: "web", Platform: manifest.Platform{OS: "linux", Arch: "386"}, Root: root,
		Fields: manifest.Fields{
			Lang: "c", Src: []string{filepath.Join(root, "apps", "web", "main.c")}, Include: []string{filepath.Join(root, "apps", "web", "inc")},
			Flags: []string{"-O2"}, Shrink: []string{"strip"},
			Image: manifest.Image{
				User: "65532", Data: filepath.Join(root, "apps", "web", "kodata"),
				Files: []manifest.File{{From: "/etc/ssl/certs/ca-certificates.crt", To: "/etc/ssl/certs/ca-certificates.crt"}},
			},
			Test: &manifest.Test{Signal: "TERM", After: after},
		},
	}
	want := attest.Entry{
		Name: "web", Platform: "linux/386", Lang: "c", Src: []string{"apps/web/main.c"}, Include: []string{"apps/web/inc"},
		Flags: []string{"-O2"}, Shrink: []string{"strip"},
		Image: attest.EntryImage{
			User: "65532", Data: "apps/web/kodata",
			Files: []attest.EntryFile{{From: "/etc/ssl/certs/ca-certificates.crt", To: "/etc/ssl/certs/ca-certificates.crt"}},
		},
	}
	if diff := cmp.Diff(want, attest.EntryOf(s)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	s.Shrink = nil
	if got := attest.EntryOf(s).Shrink; got == nil || len(got) != 0 {
		t.Errorf("no shrink passes gave %#v; want an empty list, written as []", got)
	}
}

func TestSourceFiles(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "src"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "src", "a.c"), []byte("abc"), 0o644); err != nil {
		t.Fatal(err)
	}
	outside := filepath.Join(t.TempDir(), "b.h")
	if err := os.WriteFile(outside, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := attest.SourceFiles(root, []string{"src/a.c", outside, "src/a.c"})
	if err != nil {
		t.Fatal(err)
	}
	want := []attest.File{
		// sha256sum and sha1sum of the same bytes.
		{Path: outside, SHA256: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", SHA1: "da39a3ee5e6b4b0d3255bfef95601890afd80709", Size: 0},
		{Path: "src/a.c", SHA256: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", SHA1: "a9993e364706816aba3e25717850c26c9cd0d89d", Size: 3},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if _, err := attest.SourceFiles(root, []string{"src/missing.c"}); err == nil {
		t.Error("a missing source gave no error")
	}
}

func TestMuslVersion(t *testing.T) {
	dir := t.TempDir()
	zig := filepath.Join(dir, "zig-0.11.0", "zig")
	versionH := filepath.Join(dir, "zig-0.11.0", "lib", "libc", "musl", "src", "internal", "version.h")
	if err := os.MkdirAll(filepath.Dir(versionH), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(zig, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(versionH, []byte("#define VERSION \"1.2.4\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// zig on PATH is often a link to the real one beside its lib directory.
	link := filepath.Join(dir, "bin", "zig")
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(zig, link); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{zig, link} {
		if v, err := attest.MuslVersion(p); err != nil || v != "1.2.4" {
			t.Errorf("MuslVersion(%s) = %q, %v; want 1.2.4", p, v, err)
		}
	}
	if err := os.WriteFile(versionH, []byte("/* nothing */\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := attest.MuslVersion(zig); err == nil || !strings.Contains(err.Error(), "does not define VERSION") {
		t.Errorf("a version.h without VERSION gave %v", err)
	}
	if _, err := attest.MuslVersion(filepath.Join(dir, "nowhere", "zig")); err == nil {
		t.Error("a missing zig gave no error")
	}
}
