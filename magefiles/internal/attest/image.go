package attest

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"path"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// imageFacts is what the documents need to know of the image they
// describe.
type imageFacts struct {
	desc   v1.Descriptor // the image manifest, the documents' subject
	layers []layerFacts
}

// checkBinary checks that the executable in describes is the one in the
// image, so that documents never pair an image with another build's
// history.
func checkBinary(f imageFacts, in Input) error {
	if in.BinaryPath == "" {
		return errors.New("the input gives no path for the executable in the image")
	}
	for _, l := range f.layers {
		for _, file := range l.files {
			if file.Path == in.BinaryPath {
				if file.SHA256 != in.Binary.Final.SHA256 {
					return fmt.Errorf("the image's %s has sha256:%s, not the final binary sha256:%s the input describes", in.BinaryPath, file.SHA256, in.Binary.Final.SHA256)
				}
				return nil
			}
		}
	}
	return fmt.Errorf("the image has no file %s", in.BinaryPath)
}

// layerFacts is one layer of an image and the regular files in it.
type layerFacts struct {
	digest, diffID v1.Hash
	files          []File
}

// factsOf reads the manifest digest, platform and layers of img.
func factsOf(img v1.Image) (imageFacts, error) {
	var f imageFacts
	raw, err := img.RawManifest()
	if err != nil {
		return f, err
	}
	mt, err := img.MediaType()
	if err != nil {
		return f, err
	}
	d, err := img.Digest()
	if err != nil {
		return f, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return f, fmt.Errorf("reading image config: %w", err)
	}
	f.desc = v1.Descriptor{MediaType: mt, Digest: d, Size: int64(len(raw)), Platform: cf.Platform()}
	if f.desc.Platform == nil || f.desc.Platform.OS == "" || f.desc.Platform.Architecture == "" {
		return f, errors.New("the image config names no platform")
	}
	layers, err := img.Layers()
	if err != nil {
		return f, err
	}
	for i, l := range layers {
		lf, err := layerFactsOf(l)
		if err != nil {
			return f, fmt.Errorf("reading layer %d: %w", i, err)
		}
		f.layers = append(f.layers, lf)
	}
	return f, nil
}

// layerFactsOf lists the regular files of l, in the order of its tar.
// Directories and links are left out: they hold no bytes to check.
func layerFactsOf(l v1.Layer) (layerFacts, error) {
	var lf layerFacts
	var err error
	if lf.digest, err = l.Digest(); err != nil {
		return lf, err
	}
	if lf.diffID, err = l.DiffID(); err != nil {
		return lf, err
	}
	rc, err := l.Uncompressed()
	if err != nil {
		return lf, err
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return lf, nil
		}
		if err != nil {
			return lf, err
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		f, err := fileOf(path.Join("/", h.Name), tr)
		if err != nil {
			return lf, fmt.Errorf("%s: %w", h.Name, err)
		}
		lf.files = append(lf.files, f)
	}
}
