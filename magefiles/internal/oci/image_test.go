package oci_test

import (
	"bytes"
	"encoding/json"
	"io"
	"io/fs"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/minimalbuild/minimal/magefiles/internal/oci"
)

var (
	amd64 = v1.Platform{OS: "linux", Architecture: "amd64"}
	i386  = v1.Platform{OS: "linux", Architecture: "386"}
)

// appLayers returns a data layer and a binary layer, in the order an app's
// image holds them.
func appLayers(t *testing.T, bin string, created time.Time) []v1.Layer {
	t.Helper()
	data, err := oci.Layer([]oci.File{{Path: "/var/run/ko/index.html", Mode: 0o644, Data: []byte("<p>hi</p>")}}, created)
	if err != nil {
		t.Fatal(err)
	}
	binary, err := oci.BinaryLayer("hello", []byte(bin), created)
	if err != nil {
		t.Fatal(err)
	}
	return []v1.Layer{data, binary}
}

func digest(t *testing.T, d interface{ Digest() (v1.Hash, error) }) v1.Hash {
	t.Helper()
	h, err := d.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestImage(t *testing.T) {
	epoch := time.Unix(0, 0).UTC()
	tests := []struct {
		name            string
		cfg             oci.Config
		wantCreated     time.Time
		wantConfig      v1.Config
		wantAnnotations map[string]string
	}{{
		name: "every field lands in the config or the manifest",
		cfg: oci.Config{
			Platform:     amd64,
			Entrypoint:   []string{"/ko-app/hello"},
			Cmd:          []string{"--port", "8080"},
			Env:          []string{"KO_DATA_PATH=/var/run/ko", "LOG=info"},
			WorkingDir:   "/",
			User:         "65532",
			ExposedPorts: []string{"8080/tcp", "53/udp"},
			Labels:       map[string]string{"team": "edge"},
			Annotations:  map[string]string{"org.opencontainers.image.source": "https://example.com/repo"},
			Created:      created,
		},
		wantCreated: created,
		wantConfig: v1.Config{
			Entrypoint:   []string{"/ko-app/hello"},
			Cmd:          []string{"--port", "8080"},
			Env:          []string{"KO_DATA_PATH=/var/run/ko", "LOG=info"},
			WorkingDir:   "/",
			User:         "65532",
			ExposedPorts: map[string]struct{}{"8080/tcp": {}, "53/udp": {}},
			Labels:       map[string]string{"team": "edge"},
		},
		wantAnnotations: map[string]string{"org.opencontainers.image.source": "https://example.com/repo"},
	}, {
		name:        "zero creation time means the epoch, a bare port means tcp",
		cfg:         oci.Config{Platform: i386, ExposedPorts: []string{"80"}},
		wantCreated: epoch,
		wantConfig:  v1.Config{ExposedPorts: map[string]struct{}{"80/tcp": {}}},
	}, {
		name:        "sub-second creation times are cut to the second, like the layers",
		cfg:         oci.Config{Platform: amd64, Created: created.Add(500 * time.Millisecond)},
		wantCreated: created,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			layers := appLayers(t, "ELF", tt.wantCreated)
			img, err := oci.Image(tt.cfg, layers...)
			if err != nil {
				t.Fatal(err)
			}
			if err := validate.Image(img); err != nil {
				t.Fatalf("validate.Image: %v", err)
			}
			checkImageMediaTypes(t, img)

			m, err := img.Manifest()
			if err != nil {
				t.Fatal(err)
			}
			var gotLayers, wantLayers []v1.Hash
			for i, d := range m.Layers {
				gotLayers = append(gotLayers, d.Digest)
				wantLayers = append(wantLayers, digest(t, layers[i]))
			}
			if diff := cmp.Diff(wantLayers, gotLayers); diff != "" {
				t.Errorf("layer order (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantAnnotations, m.Annotations); diff != "" {
				t.Errorf("manifest annotations (-want +got):\n%s", diff)
			}

			cf, err := img.ConfigFile()
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.wantConfig, cf.Config); diff != "" {
				t.Errorf("config (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(&tt.cfg.Platform, cf.Platform()); diff != "" {
				t.Errorf("platform (-want +got):\n%s", diff)
			}
			if !cf.Created.Equal(tt.wantCreated) {
				t.Errorf("created = %v, want %v", cf.Created.Time, tt.wantCreated)
			}
			if len(cf.History) != len(layers) || len(cf.RootFS.DiffIDs) != len(layers) {
				t.Errorf("%d history entries and %d diff IDs for %d layers", len(cf.History), len(cf.RootFS.DiffIDs), len(layers))
			}
			for i, h := range cf.History {
				if !h.Created.Equal(tt.wantCreated) || h.EmptyLayer {
					t.Errorf("history[%d] = %+v, want a layer created %v", i, h, tt.wantCreated)
				}
			}
		})
	}
}

// checkImageMediaTypes fails unless the manifest, the config and every layer
// have OCI media types.
func checkImageMediaTypes(t *testing.T, img v1.Image) {
	t.Helper()
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	if m.MediaType != types.OCIManifestSchema1 {
		t.Errorf("manifest media type %s", m.MediaType)
	}
	if m.Config.MediaType != types.OCIConfigJSON {
		t.Errorf("config media type %s", m.Config.MediaType)
	}
	for _, l := range m.Layers {
		if l.MediaType != types.OCILayer {
			t.Errorf("layer %s media type %s", l.Digest, l.MediaType)
		}
	}
}

func TestImageErrors(t *testing.T) {
	docker, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(nil)), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		cfg    oci.Config
		layers []v1.Layer
		want   string
	}{
		{"an image without a platform cannot go in an index", oci.Config{}, nil, "needs an OS"},
		{"an architecture alone is not a platform", oci.Config{Platform: v1.Platform{Architecture: "amd64"}}, nil, "needs an OS"},
		{"port out of range", oci.Config{Platform: amd64, ExposedPorts: []string{"70000"}}, nil, "from 1 to 65535"},
		{"port zero", oci.Config{Platform: amd64, ExposedPorts: []string{"0/tcp"}}, nil, "from 1 to 65535"},
		{"unknown protocol", oci.Config{Platform: amd64, ExposedPorts: []string{"80/http"}}, nil, "protocol"},
		{"a Docker layer would mix media types", oci.Config{Platform: amd64}, []v1.Layer{docker}, "want an OCI layer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := oci.Image(tt.cfg, tt.layers...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Image error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// buildIndex builds the two-platform index of a small app as the pipeline
// would, stamped with the time Created returns.
func buildIndex(t *testing.T) v1.ImageIndex {
	t.Helper()
	created, err := oci.Created()
	if err != nil {
		t.Fatal(err)
	}
	var imgs []v1.Image
	for _, p := range []v1.Platform{amd64, i386} {
		img, err := oci.Image(oci.Config{Platform: p, Entrypoint: []string{"/ko-app/hello"}, Created: created},
			appLayers(t, "ELF "+p.Architecture, created)...)
		if err != nil {
			t.Fatal(err)
		}
		imgs = append(imgs, img)
	}
	idx, err := oci.Index(imgs, map[string]string{"org.opencontainers.image.title": "hello"})
	if err != nil {
		t.Fatal(err)
	}
	return idx
}

func TestBuildTwiceSameDigests(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "")
	a, b := buildIndex(t), buildIndex(t)
	if da, db := digest(t, a), digest(t, b); da != db {
		t.Errorf("two builds of the same inputs: index digests %s and %s", da, db)
	}
}

func TestSourceDateEpoch(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "")
	unset := digest(t, buildIndex(t))

	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	idx := buildIndex(t)
	if d := digest(t, idx); d == unset {
		t.Errorf("SOURCE_DATE_EPOCH did not change the index digest %s", d)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	want := time.Unix(1700000000, 0).UTC()
	for _, d := range im.Manifests {
		img, err := idx.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		if !cf.Created.Equal(want) {
			t.Errorf("%s: config created %v, want %v", d.Platform, cf.Created.Time, want)
		}
		layers, err := img.Layers()
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range layers {
			readLayer(t, l, want) // checks every entry's mtime
		}
	}
}

func TestIndex(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "")
	idx := buildIndex(t)
	if err := validate.Index(idx); err != nil {
		t.Fatalf("validate.Index: %v", err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if im.MediaType != types.OCIImageIndex {
		t.Errorf("index media type %s", im.MediaType)
	}
	if mt, err := idx.MediaType(); err != nil || mt != types.OCIImageIndex {
		t.Errorf("MediaType() = %s, %v", mt, err)
	}
	if diff := cmp.Diff(map[string]string{"org.opencontainers.image.title": "hello"}, im.Annotations); diff != "" {
		t.Errorf("index annotations (-want +got):\n%s", diff)
	}
	// An image is no artifact: a descriptor with artifactType would be
	// dropped by tools that copy the index, changing its digest.
	raw, err := idx.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	var fields struct{ Manifests []map[string]any }
	if err := json.Unmarshal(raw, &fields); err != nil {
		t.Fatal(err)
	}
	for i, d := range fields.Manifests {
		if _, ok := d["artifactType"]; ok {
			t.Errorf("descriptor %d has artifactType %v", i, d["artifactType"])
		}
	}
	var got []v1.Platform
	for _, d := range im.Manifests {
		if d.MediaType != types.OCIManifestSchema1 {
			t.Errorf("descriptor %s media type %s", d.Digest, d.MediaType)
		}
		if d.Platform == nil {
			t.Fatalf("descriptor %s has no platform", d.Digest)
		}
		got = append(got, *d.Platform)
		img, err := idx.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		checkImageMediaTypes(t, img)
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(d.Platform, cf.Platform()); diff != "" {
			t.Errorf("descriptor platform differs from the config's (-desc +config):\n%s", diff)
		}
	}
	if diff := cmp.Diff([]v1.Platform{amd64, i386}, got); diff != "" {
		t.Errorf("platforms in order (-want +got):\n%s", diff)
	}
}

func TestIndexErrors(t *testing.T) {
	img := func(p v1.Platform) v1.Image {
		i, err := oci.Image(oci.Config{Platform: p})
		if err != nil {
			t.Fatal(err)
		}
		return i
	}
	noPlatform := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	tests := []struct {
		name string
		imgs []v1.Image
		want string
	}{
		{"an index of nothing", nil, "no images"},
		{"two images for one platform", []v1.Image{img(amd64), img(amd64)}, "both for linux/amd64"},
		{"a Docker manifest would mix media types", []v1.Image{mutate.MediaType(img(amd64), types.DockerManifestSchema2)}, "want " + string(types.OCIManifestSchema1)},
		{"an image whose config names no platform", []v1.Image{noPlatform}, "no platform"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := oci.Index(tt.imgs, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Index error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestSizes(t *testing.T) {
	img, err := oci.Image(oci.Config{Platform: amd64}, appLayers(t, strings.Repeat("ELF", 5000), created)...)
	if err != nil {
		t.Fatal(err)
	}
	content, pull, err := oci.Sizes(img)
	if err != nil {
		t.Fatal(err)
	}

	// Count the bytes themselves rather than trusting descriptors.
	raw, err := img.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := img.RawConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	wantPull := int64(len(raw) + len(cfg))
	// docker images counts file bytes: the 9-byte page and the 15000-byte binary, not
	// directories or tar headers.
	wantContent := int64(len("<p>hi</p>") + 15000)
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range layers {
		rc, err := l.Compressed()
		if err != nil {
			t.Fatal(err)
		}
		compressed, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		wantPull += int64(len(compressed))
	}
	if content != wantContent || pull != wantPull {
		t.Errorf("Sizes = content %d, pull %d; want %d, %d", content, pull, wantContent, wantPull)
	}
	symlink, err := oci.Layer([]oci.File{{Path: "/bin/app", Mode: fs.ModeSymlink | 0o777, Link: "/ko-app/hello"}}, created)
	if err != nil {
		t.Fatal(err)
	}
	withLink, err := oci.Image(oci.Config{Platform: amd64}, symlink)
	if err != nil {
		t.Fatal(err)
	}
	if content, _, err := oci.Sizes(withLink); err != nil || content != int64(len("/ko-app/hello")) {
		t.Errorf("Sizes of a symlink = %d, %v; want the length of its target, %d", content, err, len("/ko-app/hello"))
	}
}

func TestCreated(t *testing.T) {
	tests := []struct {
		name    string
		env     string
		want    time.Time
		wantErr bool
	}{
		{"unset means the epoch", "", time.Unix(0, 0).UTC(), false},
		{"a time in seconds", "1700000000", time.Unix(1700000000, 0).UTC(), false},
		{"zero is the epoch", "0", time.Unix(0, 0).UTC(), false},
		{"words are malformed", "yesterday", time.Time{}, true},
		{"fractions are malformed", "1700000000.5", time.Time{}, true},
		{"negative times are malformed", "-1", time.Time{}, true},
		{"signs are malformed", "+1", time.Time{}, true},
		{"spaces are malformed", " 1", time.Time{}, true},
		{"beyond int64", "99999999999999999999", time.Time{}, true},
		{"past the year 9999 cannot be written in a config", "253402300800", time.Time{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("SOURCE_DATE_EPOCH", tt.env)
			got, err := oci.Created()
			if (err != nil) != tt.wantErr {
				t.Fatalf("Created() error = %v, want error %v", err, tt.wantErr)
			}
			if !got.Equal(tt.want) {
				t.Errorf("Created() = %v, want %v", got, tt.want)
			}
		})
	}
}
