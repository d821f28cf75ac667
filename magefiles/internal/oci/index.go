package oci

import (
	"archive/tar"
	"fmt"
	"io"
	"maps"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Index returns an OCI image index with one manifest descriptor per image,
// in the order given, each carrying the platform from its image's config.
// The images must have OCI manifests and distinct platforms; annotations go
// on the index itself.
func Index(imgs []v1.Image, annotations map[string]string) (v1.ImageIndex, error) {
	if len(imgs) == 0 {
		return nil, fmt.Errorf("building index: no images")
	}
	seen := make(map[string]int, len(imgs))
	adds := make([]mutate.IndexAddendum, 0, len(imgs))
	for i, img := range imgs {
		mt, err := img.MediaType()
		if err != nil {
			return nil, fmt.Errorf("building index: image %d: %w", i, err)
		}
		if mt != types.OCIManifestSchema1 {
			return nil, fmt.Errorf("building index: image %d has media type %s, want %s", i, mt, types.OCIManifestSchema1)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			return nil, fmt.Errorf("building index: image %d: reading config: %w", i, err)
		}
		p := cf.Platform()
		if p == nil || p.OS == "" || p.Architecture == "" {
			return nil, fmt.Errorf("building index: image %d has no platform in its config", i)
		}
		if j, dup := seen[p.String()]; dup {
			return nil, fmt.Errorf("building index: images %d and %d are both for %s", j, i, p)
		}
		seen[p.String()] = i
		adds = append(adds, mutate.IndexAddendum{Add: notArtifact{img}, Descriptor: v1.Descriptor{Platform: p}})
	}
	var idx v1.ImageIndex = mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	idx = mutate.AppendManifests(idx, adds...)
	if len(annotations) > 0 {
		idx = mutate.Annotations(idx, maps.Clone(annotations)).(v1.ImageIndex)
	}
	if _, err := idx.Digest(); err != nil {
		return nil, fmt.Errorf("building index: %w", err)
	}
	return idx, nil
}

// notArtifact is an image whose descriptor has no artifactType. Without
// one of its own, go-containerregistry gives an image's descriptor the
// media type of its config as artifactType; an image is no artifact, and
// tools that copy an index (skopeo among them) drop the field and so change
// the index's digest.
type notArtifact struct{ v1.Image }

// ArtifactType returns "": the descriptor has none.
func (notArtifact) ArtifactType() (string, error) { return "", nil }

// Sizes returns two sizes of img. content is what `docker images` shows: the bytes of
// the files its layers hold (regular files, and symlinks as the length of their target;
// directories and tar headers count nothing), the same way the classic write-ups' 73-byte
// image is 73 B. pull is what a pull transfers: the manifest, the config and the
// compressed layers.
func Sizes(img v1.Image) (content, pull int64, err error) {
	raw, err := img.RawManifest()
	if err != nil {
		return 0, 0, fmt.Errorf("measuring image: %w", err)
	}
	m, err := img.Manifest()
	if err != nil {
		return 0, 0, fmt.Errorf("measuring image: %w", err)
	}
	pull = int64(len(raw)) + m.Config.Size
	for _, d := range m.Layers {
		pull += d.Size
	}
	layers, err := img.Layers()
	if err != nil {
		return 0, 0, fmt.Errorf("measuring image: %w", err)
	}
	for i, l := range layers {
		n, err := fileBytes(l)
		if err != nil {
			return 0, 0, fmt.Errorf("measuring image: layer %d: %w", i, err)
		}
		content += n
	}
	return content, pull, nil
}

// fileBytes sums the sizes of the files in a layer, as a file system would report them.
func fileBytes(l v1.Layer) (int64, error) {
	rc, err := l.Uncompressed()
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	var n int64
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return 0, err
		}
		switch h.Typeflag {
		case tar.TypeReg:
			n += h.Size
		case tar.TypeSymlink:
			n += int64(len(h.Linkname))
		}
	}
}
