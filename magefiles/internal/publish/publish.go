package publish

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"

	v1 "github.com/google/go-containerregistry/pkg/v1"
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

// appName is the form of an app name, the same as in minimal.yaml. It keeps
// names safe in file names and in skopeo's and umoci's "dir:name" syntax.
var appName = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)

func checkApp(app string) error {
	if !appName.MatchString(app) {
		return fmt.Errorf("invalid app name %q: want lowercase letters, digits, '.', '_' and '-', starting with a letter or digit", app)
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

// tmpPrefix starts the name of every temporary file a publisher writes.
const tmpPrefix = ".tmp-"

// writeAtomic writes what write produces to path: into a temporary file in
// the same directory, synced, then renamed over path with mode 0644. On an
// error, or if ctx ends first, path is left as it was.
func writeAtomic(ctx context.Context, path string, write func(io.Writer) error) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, tmpPrefix+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := write(ctxWriter{ctx, tmp}); err != nil {
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	return syncDir(dir)
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return fmt.Errorf("syncing %s: %w", dir, err)
	}
	return nil
}

// ctxWriter stops writing once ctx ends, so an interrupt stops a long write.
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c ctxWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}
