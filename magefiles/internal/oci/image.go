package oci

import (
	"fmt"
	"maps"
	"slices"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/minimalbuild/minimal/magefiles/manifest"
)

// createdBy is what each layer's history entry says made it.
const createdBy = "minimal"

// Config is the run-time configuration of one image.
type Config struct {
	// Platform is the platform the image's binary runs on. OS and
	// Architecture are required.
	Platform v1.Platform
	// Entrypoint and Cmd are the process the image runs, as in a Dockerfile.
	Entrypoint, Cmd []string
	// Env holds KEY=value pairs, in order.
	Env []string
	// WorkingDir is the process's working directory; empty means /.
	WorkingDir string
	// User is the uid[:gid] the process runs as; empty means root.
	User string
	// ExposedPorts lists ports as minimal.yaml's image.ports does, port or
	// port/protocol (tcp or udp); a bare port means tcp (manifest.NormalizePort).
	ExposedPorts []string
	// Labels are the config's labels.
	Labels map[string]string
	// Annotations are the image manifest's annotations.
	Annotations map[string]string
	// Created is stamped on the config and on each layer's history entry.
	// The zero time means the Unix epoch.
	Created time.Time
}

// Image returns a FROM-scratch image holding layers in the order given (put
// the layer that changes most last), with OCI media types for the manifest,
// the config and every layer, and cfg applied to the config last. Each layer
// gets a history entry stamped with cfg.Created.
func Image(cfg Config, layers ...v1.Layer) (v1.Image, error) {
	if cfg.Platform.OS == "" || cfg.Platform.Architecture == "" {
		return nil, fmt.Errorf("building image: platform %q needs an OS and an architecture", cfg.Platform.String())
	}
	created := cfg.Created
	if created.IsZero() {
		created = time.Unix(0, 0)
	}
	created = time.Unix(created.Unix(), 0).UTC()
	ports, err := exposedPorts(cfg.ExposedPorts)
	if err != nil {
		return nil, fmt.Errorf("building image: %w", err)
	}

	base := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	adds := make([]mutate.Addendum, 0, len(layers))
	for i, l := range layers {
		mt, err := l.MediaType()
		if err != nil {
			return nil, fmt.Errorf("building image: layer %d: %w", i, err)
		}
		if !isOCILayer(mt) {
			return nil, fmt.Errorf("building image: layer %d has media type %s, want an OCI layer", i, mt)
		}
		adds = append(adds, mutate.Addendum{
			Layer:     l,
			MediaType: mt,
			History:   v1.History{Created: v1.Time{Time: created}, CreatedBy: createdBy},
		})
	}
	img, err := mutate.Append(base, adds...)
	if err != nil {
		return nil, fmt.Errorf("building image: %w", err)
	}

	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("building image: reading config: %w", err)
	}
	cf = cf.DeepCopy()
	cf.Created = v1.Time{Time: created}
	cf.OS = cfg.Platform.OS
	cf.Architecture = cfg.Platform.Architecture
	cf.Variant = cfg.Platform.Variant
	cf.OSVersion = cfg.Platform.OSVersion
	cf.OSFeatures = slices.Clone(cfg.Platform.OSFeatures)
	cf.Config = v1.Config{
		Entrypoint:   slices.Clone(cfg.Entrypoint),
		Cmd:          slices.Clone(cfg.Cmd),
		Env:          slices.Clone(cfg.Env),
		WorkingDir:   cfg.WorkingDir,
		User:         cfg.User,
		ExposedPorts: ports,
		Labels:       maps.Clone(cfg.Labels),
	}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, fmt.Errorf("building image: setting config: %w", err)
	}
	if len(cfg.Annotations) > 0 {
		img = mutate.Annotations(img, maps.Clone(cfg.Annotations)).(v1.Image)
	}
	// mutate computes lazily; compute now so errors surface here.
	if _, err := img.Digest(); err != nil {
		return nil, fmt.Errorf("building image: %w", err)
	}
	return img, nil
}

func isOCILayer(mt types.MediaType) bool {
	switch mt {
	case types.OCILayer, types.OCILayerZStd, types.OCIUncompressedLayer:
		return true
	}
	return false
}

// exposedPorts turns "8080" and "53/udp" into the config's port set.
func exposedPorts(ports []string) (map[string]struct{}, error) {
	if len(ports) == 0 {
		return nil, nil
	}
	set := make(map[string]struct{}, len(ports))
	for _, p := range ports {
		port, err := manifest.NormalizePort(p)
		if err != nil {
			return nil, err
		}
		set[port] = struct{}{}
	}
	return set, nil
}
