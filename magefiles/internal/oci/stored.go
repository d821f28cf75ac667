package oci

import (
	"compress/gzip"
	"fmt"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// LayerInfo is what an image needs to know about a layer without reading it: the
// digest and size of its compressed blob, the digest of its uncompressed tar, and its
// media type.
type LayerInfo struct {
	Digest    v1.Hash         `json:"digest"`
	DiffID    v1.Hash         `json:"diffID"`
	Size      int64           `json:"size"`
	MediaType types.MediaType `json:"mediaType"`
}

// Describe returns l's LayerInfo.
func Describe(l v1.Layer) (LayerInfo, error) {
	var info LayerInfo
	var err error
	if info.Digest, err = l.Digest(); err != nil {
		return LayerInfo{}, fmt.Errorf("describing layer: %w", err)
	}
	if info.DiffID, err = l.DiffID(); err != nil {
		return LayerInfo{}, fmt.Errorf("describing layer: %w", err)
	}
	if info.Size, err = l.Size(); err != nil {
		return LayerInfo{}, fmt.Errorf("describing layer: %w", err)
	}
	if info.MediaType, err = l.MediaType(); err != nil {
		return LayerInfo{}, fmt.Errorf("describing layer: %w", err)
	}
	return info, nil
}

// StoredLayer returns a gzip-compressed layer described by info whose blob open reads.
// Nothing is read until the layer's bytes are asked for, so an image of stored layers
// has its manifest and digest at once. The blob must match info: what open returns is
// not checked here.
func StoredLayer(info LayerInfo, open func() (io.ReadCloser, error)) v1.Layer {
	return &storedLayer{info: info, open: open}
}

type storedLayer struct {
	info LayerInfo
	open func() (io.ReadCloser, error)
}

var _ v1.Layer = (*storedLayer)(nil)

func (l *storedLayer) Digest() (v1.Hash, error)             { return l.info.Digest, nil }
func (l *storedLayer) DiffID() (v1.Hash, error)             { return l.info.DiffID, nil }
func (l *storedLayer) Size() (int64, error)                 { return l.info.Size, nil }
func (l *storedLayer) MediaType() (types.MediaType, error)  { return l.info.MediaType, nil }
func (l *storedLayer) Compressed() (io.ReadCloser, error)   { return l.open() }
func (l *storedLayer) Uncompressed() (io.ReadCloser, error) { return gunzip(l.open) }

// gunzip opens a blob and decompresses it; closing the result closes the blob.
func gunzip(open func() (io.ReadCloser, error)) (io.ReadCloser, error) {
	rc, err := open()
	if err != nil {
		return nil, err
	}
	zr, err := gzip.NewReader(rc)
	if err != nil {
		rc.Close()
		return nil, fmt.Errorf("reading stored layer: %w", err)
	}
	return struct {
		io.Reader
		io.Closer
	}{zr, closers{zr, rc}}, nil
}

type closers []io.Closer

func (cs closers) Close() error {
	var first error
	for _, c := range cs {
		if err := c.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}
