package publish_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/minimalbuild/minimal/magefiles/internal/publish"
)

func TestTarball(t *testing.T) {
	tests := []struct {
		name    string
		tags    []string
		wantTag string
	}{
		{"no tags means latest", nil, "hello:latest"},
		{"the first tag names the image", []string{"v1.2", "latest"}, "hello:v1.2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "tar")
			idx := appIndex(t, "hello", "v1")
			rs, err := publish.Tarball(dir).Publish(context.Background(), "hello", idx, tt.tags)
			if err != nil {
				t.Fatal(err)
			}
			im, err := idx.IndexManifest()
			if err != nil {
				t.Fatal(err)
			}
			want := []publish.Result{
				{Ref: filepath.Join(dir, "hello-amd64.tar"), Digest: im.Manifests[0].Digest},
				{Ref: filepath.Join(dir, "hello-386.tar"), Digest: im.Manifests[1].Digest},
			}
			if diff := cmp.Diff(want, rs); diff != "" {
				t.Fatalf("results (-want +got):\n%s", diff)
			}
			for i, r := range rs {
				orig, err := idx.Image(im.Manifests[i].Digest)
				if err != nil {
					t.Fatal(err)
				}
				checkTarball(t, r.Ref, tt.wantTag, orig)
			}
			checkNoTemps(t, dir)
		})
	}
}

// checkTarball reads a docker tarball back and compares it with the image it
// was written from.
func checkTarball(t *testing.T, path, wantTag string, orig v1.Image) {
	t.Helper()
	m, err := tarball.LoadManifest(func() (io.ReadCloser, error) { return os.Open(path) })
	if err != nil {
		t.Fatal(err)
	}
	if len(m) != 1 {
		t.Fatalf("%s: manifest.json lists %d images, want 1", path, len(m))
	}
	if diff := cmp.Diff([]string{wantTag}, m[0].RepoTags); diff != "" {
		t.Errorf("%s: RepoTags (-want +got):\n%s", path, diff)
	}
	img, err := tarball.ImageFromPath(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(img); err != nil {
		t.Errorf("%s: validate.Image: %v", path, err)
	}
	for _, f := range []func(v1.Image) (any, error){
		func(i v1.Image) (any, error) { return i.ConfigName() },
		func(i v1.Image) (any, error) { return i.RawConfigFile() },
		func(i v1.Image) (any, error) { return layerIDs(i) },
	} {
		want, err := f(orig)
		if err != nil {
			t.Fatal(err)
		}
		got, err := f(img)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s differs from the image it was written from (-want +got):\n%s", path, diff)
		}
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o644 {
		t.Errorf("%s has mode %v, want 0644", path, fi.Mode())
	}
}

// layerIDs lists each layer's digest and diff ID.
func layerIDs(img v1.Image) ([][2]v1.Hash, error) {
	layers, err := img.Layers()
	if err != nil {
		return nil, err
	}
	var ids [][2]v1.Hash
	for _, l := range layers {
		d, err := l.Digest()
		if err != nil {
			return nil, err
		}
		diff, err := l.DiffID()
		if err != nil {
			return nil, err
		}
		ids = append(ids, [2]v1.Hash{d, diff})
	}
	return ids, nil
}

func TestTarballErrors(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name string
		ctx  context.Context
		app  string
		tags []string
		want string
	}{
		{"an app name that would leave the directory", context.Background(), "../hello", nil, "invalid app name"},
		{"a tag docker cannot load", context.Background(), "hello", []string{"no spaces"}, "tag"},
		{"an interrupt writes nothing", cancelled, "hello", nil, "context canceled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			_, err := publish.Tarball(dir).Publish(tt.ctx, tt.app, appIndex(t, "hello", "v1"), tt.tags)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Publish error = %v, want one containing %q", err, tt.want)
			}
			entries, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) != 0 {
				t.Errorf("a failed publish left %d files in %s", len(entries), dir)
			}
		})
	}
}

func TestMulti(t *testing.T) {
	root := t.TempDir()
	ociDir, tarDir := filepath.Join(root, "oci"), filepath.Join(root, "tar")
	idx := appIndex(t, "hello", "v1")
	rs, err := publish.Multi(publish.Layout(ociDir), publish.Tarball(tarDir)).Publish(context.Background(), "hello", idx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var refs []string
	for _, r := range rs {
		refs = append(refs, r.Ref)
	}
	want := []string{
		"oci:" + ociDir + ":hello", "oci:" + ociDir + ":hello/amd64", "oci:" + ociDir + ":hello/386",
		filepath.Join(tarDir, "hello-amd64.tar"), filepath.Join(tarDir, "hello-386.tar"),
	}
	if diff := cmp.Diff(want, refs); diff != "" {
		t.Errorf("results in order (-want +got):\n%s", diff)
	}
	checkLayout(t, ociDir, entries(t, "hello", idx))

	// The first failure stops the rest.
	bad := filepath.Join(root, "not-a-layout")
	if err := os.MkdirAll(bad, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bad, "notes.txt"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	later := filepath.Join(root, "later")
	rs, err = publish.Multi(publish.Layout(bad), publish.Tarball(later)).Publish(context.Background(), "hello", idx, nil)
	if err == nil || len(rs) != 0 {
		t.Fatalf("Multi after a failing publisher = %v, %v; want no results and an error", rs, err)
	}
	if _, err := os.Stat(later); !os.IsNotExist(err) {
		t.Errorf("the publisher after a failure ran: %s exists", later)
	}
}

func TestTarballName(t *testing.T) {
	tests := []struct {
		platform v1.Platform
		want     string
	}{
		{v1.Platform{OS: "linux", Architecture: "amd64"}, "hello-amd64.tar"},
		{v1.Platform{OS: "linux", Architecture: "386"}, "hello-386.tar"},
		{v1.Platform{OS: "linux", Architecture: "arm", Variant: "v7"}, "hello-arm-v7.tar"}, // two variants of one arch get two files
	}
	for _, tt := range tests {
		if got := publish.TarballName("hello", tt.platform); got != tt.want {
			t.Errorf("TarballName(hello, %v) = %q, want %q", tt.platform, got, tt.want)
		}
	}
}
