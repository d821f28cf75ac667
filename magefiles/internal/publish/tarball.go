package publish

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/minimalbuild/minimal/magefiles/internal/files"
)

// Tarball returns a publisher that writes one `docker load` tarball per app
// and platform to dir, which it creates if needed: <dir>/<app>-<arch>.tar
// (<app>-<arch>-<variant>.tar when the platform has a variant), tagged
// <app>:<tag> with the first of the tags, or latest. Each file is written
// under a temporary name and renamed into place.
func Tarball(dir string) Interface {
	return &tarballPublisher{dir: dir}
}

// TarballName is the name of the tarball Tarball writes for app's image for p:
// <app>-<arch>.tar, or <app>-<arch>-<variant>.tar when p has a variant.
func TarballName(app string, p v1.Platform) string {
	name := app + "-" + p.Architecture
	if p.Variant != "" {
		name += "-" + p.Variant
	}
	return name + ".tar"
}

type tarballPublisher struct {
	dir string
}

var _ Interface = (*tarballPublisher)(nil)

// Publish implements Interface.
func (p *tarballPublisher) Publish(ctx context.Context, app string, idx v1.ImageIndex, tags []string) ([]Result, error) {
	rs, err := p.publish(ctx, app, idx, tags)
	if err != nil {
		return rs, fmt.Errorf("publishing %s as tarballs in %s: %w", app, p.dir, err)
	}
	return rs, nil
}

func (p *tarballPublisher) publish(ctx context.Context, app string, idx v1.ImageIndex, tags []string) ([]Result, error) {
	if err := checkApp(app); err != nil {
		return nil, err
	}
	tag := defaultTag
	if len(tags) > 0 {
		tag = tags[0]
	}
	ref, err := name.NewTag(app + ":" + tag)
	if err != nil {
		return nil, fmt.Errorf("tag %q: %w", tag, err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("reading index: %w", err)
	}
	type entry struct {
		path string
		img  v1.Image
	}
	var entries []entry
	seen := map[string]bool{}
	for _, d := range im.Manifests {
		if !d.MediaType.IsImage() {
			return nil, fmt.Errorf("index entry %s has media type %s, not an image", d.Digest, d.MediaType)
		}
		if d.Platform == nil || d.Platform.Architecture == "" {
			return nil, fmt.Errorf("index entry %s has no platform", d.Digest)
		}
		file := TarballName(app, *d.Platform)
		if seen[file] {
			return nil, fmt.Errorf("two images in the index would both be written to %s", file)
		}
		seen[file] = true
		img, err := idx.Image(d.Digest)
		if err != nil {
			return nil, fmt.Errorf("reading image %s: %w", d.Digest, err)
		}
		entries = append(entries, entry{filepath.Join(p.dir, file), img})
	}
	if err := os.MkdirAll(p.dir, 0o755); err != nil {
		return nil, err
	}
	var rs []Result
	for _, e := range entries {
		err := files.Write(ctx, e.path, 0o644, func(w io.Writer) error {
			return tarball.Write(ref, e.img, w)
		})
		if err != nil {
			return rs, fmt.Errorf("writing %s: %w", e.path, err)
		}
		d, err := e.img.Digest()
		if err != nil {
			return rs, err
		}
		rs = append(rs, Result{Ref: e.path, Digest: d})
	}
	return rs, nil
}
