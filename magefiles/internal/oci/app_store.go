package oci

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/minimalbuild/minimal/magefiles/internal/cache"
)

// Inputs reports everything but the binary that determines a's image: its name and
// configuration, then each file of its data directory and each extra file, by path,
// mode and content.
func (a App) Inputs() ([]cache.Input, error) {
	cfg := a.Config()
	cfg.Created = cfg.Created.UTC()
	js, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	ins := []cache.Input{{Name: "app", Value: a.Name}, {Name: "config", Value: string(js)}}
	if a.Init != nil {
		ins = append(ins, cache.Digest("init", a.Init.Binary))
	}
	if a.Data != "" {
		err := filepath.WalkDir(a.Data, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, err := filepath.Rel(a.Data, p)
			if err != nil {
				return err
			}
			ins, err = appendFile(ins, filepath.ToSlash(rel), p)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("hashing image data: %w", err)
		}
	}
	for _, f := range a.Files {
		var err error
		if ins, err = appendFile(ins, f.To, f.From); err != nil {
			return nil, fmt.Errorf("hashing image files: %w", err)
		}
	}
	return ins, nil
}

// appendFile appends a host file's image path, its mode and, for a regular file, its
// content. Links are followed, as the layers do.
func appendFile(ins []cache.Input, name, path string) ([]cache.Input, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	ins = append(ins, cache.Input{Name: "path", Value: name}, cache.Input{Name: "mode", Value: strconv.FormatUint(uint64(fi.Mode()), 8)})
	if fi.Mode().IsRegular() {
		ins = append(ins, cache.Input{Name: name, Path: path})
	}
	return ins, nil
}

// Stored is an app's image as a cache keeps it beside its compressed layer blobs: what
// is needed to put the image together again without reading them.
type Stored struct {
	Layers []LayerInfo `json:"layers"`
	// Content and Pull are the image's sizes, as Sizes measures them.
	Content int64 `json:"content"`
	Pull    int64 `json:"pull"`
}

// Store builds the layers of a's image around bin and measures the image. It returns
// the image's description and each layer's compressed blob, in order.
func (a App) Store(bin []byte) (Stored, [][]byte, error) {
	layers, err := a.Layers(bin)
	if err != nil {
		return Stored{}, nil, err
	}
	img, err := a.Image(layers)
	if err != nil {
		return Stored{}, nil, err
	}
	var st Stored
	if st.Content, st.Pull, err = Sizes(img); err != nil {
		return Stored{}, nil, err
	}
	blobs := make([][]byte, len(layers))
	for i, l := range layers {
		info, err := Describe(l)
		if err != nil {
			return Stored{}, nil, err
		}
		st.Layers = append(st.Layers, info)
		rc, err := l.Compressed()
		if err != nil {
			return Stored{}, nil, err
		}
		var buf bytes.Buffer
		_, err = io.Copy(&buf, rc)
		rc.Close()
		if err != nil {
			return Stored{}, nil, err
		}
		blobs[i] = buf.Bytes()
	}
	return st, blobs, nil
}

// Restore puts a's image together from st, opening layer i's blob with open(i) only
// when its bytes are asked for.
func (a App) Restore(st Stored, open func(i int) (io.ReadCloser, error)) (v1.Image, error) {
	if len(st.Layers) == 0 {
		return nil, fmt.Errorf("stored image of %s has no layers", a.Name)
	}
	layers := make([]v1.Layer, len(st.Layers))
	for i, info := range st.Layers {
		layers[i] = StoredLayer(info, func() (io.ReadCloser, error) { return open(i) })
	}
	return a.Image(layers)
}
