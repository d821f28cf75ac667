package publish_test

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"

	"github.com/minimalbuild/minimal/magefiles/internal/oci"
)

var (
	amd64   = v1.Platform{OS: "linux", Architecture: "amd64"}
	i386    = v1.Platform{OS: "linux", Architecture: "386"}
	created = time.Unix(1700000000, 0).UTC()
)

// appIndex builds a two-platform index for app whose binary differs by
// version, with extra layers before the binary; the data layer of every
// app and version is the same, so apps share that blob.
func appIndex(t *testing.T, app, version string, extra ...v1.Layer) v1.ImageIndex {
	t.Helper()
	var imgs []v1.Image
	for _, p := range []v1.Platform{amd64, i386} {
		data, err := oci.Layer([]oci.File{{Path: "/var/run/ko/index.html", Mode: 0o644, Data: []byte("<p>shared</p>")}}, created)
		if err != nil {
			t.Fatal(err)
		}
		bin, err := oci.BinaryLayer(app, []byte(strings.Join([]string{"ELF", app, version, p.Architecture}, " ")), created)
		if err != nil {
			t.Fatal(err)
		}
		layers := append(append([]v1.Layer{data}, extra...), bin)
		img, err := oci.Image(oci.Config{Platform: p, Entrypoint: []string{"/ko-app/" + app}, Created: created}, layers...)
		if err != nil {
			t.Fatal(err)
		}
		imgs = append(imgs, img)
	}
	idx, err := oci.Index(imgs, nil)
	if err != nil {
		t.Fatal(err)
	}
	return idx
}

func digestOf(t *testing.T, d interface{ Digest() (v1.Hash, error) }) v1.Hash {
	t.Helper()
	h, err := d.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// blobFiles lists the names of all files under dir/blobs as "alg:name",
// sorted: blobs and anything else left there.
func blobFiles(t *testing.T, dir string) []string {
	t.Helper()
	var got []string
	root := filepath.Join(dir, "blobs")
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		got = append(got, strings.Replace(filepath.ToSlash(rel), "/", ":", 1))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	return got
}

// reachable lists, sorted, every blob the layout at dir refers to, read with
// go-containerregistry's layout package.
func reachable(t *testing.T, dir string) []string {
	t.Helper()
	lp, err := layout.FromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	top, err := lp.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	set := map[string]bool{}
	var walk func(ii v1.ImageIndex)
	walk = func(ii v1.ImageIndex) {
		im, err := ii.IndexManifest()
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range im.Manifests {
			set[d.Digest.String()] = true
			if d.MediaType.IsIndex() {
				child, err := ii.ImageIndex(d.Digest)
				if err != nil {
					t.Fatal(err)
				}
				walk(child)
				continue
			}
			img, err := ii.Image(d.Digest)
			if err != nil {
				t.Fatal(err)
			}
			m, err := img.Manifest()
			if err != nil {
				t.Fatal(err)
			}
			set[m.Config.Digest.String()] = true
			for _, l := range m.Layers {
				set[l.Digest.String()] = true
			}
		}
	}
	walk(top)
	var got []string
	for k := range set {
		got = append(got, k)
	}
	slices.Sort(got)
	return got
}

// allBlobs lists, sorted, every blob of idx, itself included.
func allBlobs(t *testing.T, idx v1.ImageIndex) []string {
	t.Helper()
	got := []string{digestOf(t, idx).String()}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range im.Manifests {
		img, err := idx.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		m, err := img.Manifest()
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, d.Digest.String(), m.Config.Digest.String())
		for _, l := range m.Layers {
			got = append(got, l.Digest.String())
		}
	}
	slices.Sort(got)
	return slices.Compact(got)
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// brokenLayer is a layer whose compressed bytes cannot be read, or differ
// from its digest.
type brokenLayer struct {
	v1.Layer
	wrongContent bool
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, io.ErrUnexpectedEOF }

func (b brokenLayer) Compressed() (io.ReadCloser, error) {
	if !b.wrongContent {
		return io.NopCloser(io.MultiReader(strings.NewReader("partial"), failingReader{})), nil
	}
	rc, err := b.Layer.Compressed()
	if err != nil {
		return nil, err
	}
	raw, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		return nil, err
	}
	raw[len(raw)-1] ^= 0xff
	return io.NopCloser(bytes.NewReader(raw)), nil
}

// interruptingLayer is a layer that is interrupted, as by Ctrl-C, while its
// compressed bytes are read.
type interruptingLayer struct {
	v1.Layer
	cancel func()
}

func (l interruptingLayer) Compressed() (io.ReadCloser, error) {
	rc, err := l.Layer.Compressed()
	if err != nil {
		return nil, err
	}
	return struct {
		io.Reader
		io.Closer
	}{readerFunc(func(p []byte) (int, error) {
		l.cancel()
		return rc.Read(p)
	}), rc}, nil
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }
