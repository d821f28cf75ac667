package publish

import (
	"context"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/minimalbuild/minimal/magefiles/internal/files"
	"github.com/minimalbuild/minimal/magefiles/manifest"
)

// Interface publishes one app's images.
type Interface interface {
	// Publish puts idx, the index of app's per-platform images, in the
	// destination and returns where it went. tags are the tags to give it
	// where the destination has tags; publishers use "latest" when there are
	// none.
	Publish(ctx context.Context, app string, idx v1.ImageIndex, tags []string) ([]Result, error)
}

// Result is one thing a publisher wrote.
type Result struct {
	// Ref names it in the form the tools that read it take, for example
	// "oci:images/oci:hello" for an OCI layout (skopeo's syntax) or
	// "images/tar/hello-amd64.tar" for a tarball.
	Ref string
	// Digest is the digest of the index or image manifest Ref names.
	Digest v1.Hash
}

// defaultTag is the tag used when an app has none.
const defaultTag = "latest"

// checkApp refuses a name that is not an app name of minimal.yaml, which keeps names
// safe in file names and in skopeo's and umoci's "dir:name" syntax.
func checkApp(app string) error {
	if !manifest.ValidAppName(app) {
		return fmt.Errorf("invalid app name %q: want %s", app, manifest.AppNameRule)
	}
	return nil
}

// Multi returns a publisher that publishes to each of pubs in turn and
// returns all their results in that order. It stops at the first error,
// returning the results so far with it.
func Multi(pubs ...Interface) Interface {
	return multi(pubs)
}

type multi []Interface

var _ Interface = multi(nil)

// Publish implements Interface.
func (m multi) Publish(ctx context.Context, app string, idx v1.ImageIndex, tags []string) ([]Result, error) {
	var all []Result
	for _, p := range m {
		rs, err := p.Publish(ctx, app, idx, tags)
		all = append(all, rs...)
		if err != nil {
			return all, err
		}
	}
	return all, nil
}

// tmpPrefix starts the name of every temporary file and directory a publisher writes.
const tmpPrefix = files.TempPrefix
