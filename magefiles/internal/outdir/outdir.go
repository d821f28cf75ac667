package outdir

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"

	"github.com/minimalbuild/minimal/magefiles/internal/files"
	"github.com/minimalbuild/minimal/magefiles/internal/publish"
	"github.com/minimalbuild/minimal/magefiles/manifest"
)

// Name is the output directory's name under the repository root.
const Name = "images"

// The parts of an output directory.
const (
	layoutDir  = "oci"
	tarDir     = "tar"
	binDir     = "bin"
	reportJSON = "report.json"
	reportSVG  = "report.svg"
	pushJSON   = "push.json"
)

// StateFile, in the output directory, records what the last build published there, so
// that the next one writes only what changed.
const StateFile = ".minimal-state.json"

// BinaryPath is where a build puts the binary of app for p under out:
// bin/<os>_<arch>/<app>.
func BinaryPath(out, app string, p manifest.Platform) string {
	return filepath.Join(out, binDir, p.OS+"_"+p.Arch, app)
}

// Clean removes everything under out except a .gitkeep file.
func Clean(out string) error {
	entries, err := os.ReadDir(out)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("cleaning: %w", err)
	}
	for _, e := range entries {
		if e.Name() == ".gitkeep" {
			continue
		}
		if err := os.RemoveAll(filepath.Join(out, e.Name())); err != nil {
			return fmt.Errorf("cleaning: %w", err)
		}
	}
	return nil
}

// Lock takes the lock of the output directory out, so that builds into the same
// directory run one after another; it waits, saying so on log, while another build
// holds it. The lock lives in lockDir, so that out holds nothing but outputs.
func Lock(ctx context.Context, out, lockDir string, log io.Writer) (unlock func(), err error) {
	abs, err := filepath.Abs(out)
	if err != nil {
		return nil, fmt.Errorf("locking %s: %w", out, err)
	}
	sum := sha256.Sum256([]byte(abs))
	if err := os.MkdirAll(lockDir, 0o755); err != nil {
		return nil, fmt.Errorf("locking %s: %w", out, err)
	}
	path := filepath.Join(lockDir, hex.EncodeToString(sum[:8])+".lock")
	unlock, err = files.Lock(ctx, path, func() {
		fmt.Fprintf(log, "waiting for another build writing %s to finish\n", out)
	})
	if err != nil {
		return nil, fmt.Errorf("locking %s: %w", out, err)
	}
	return unlock, nil
}

// WorkDir creates a build's scratch directory in dir, named after the process, and
// removes those of processes that are gone, such as killed builds.
func WorkDir(dir string) (string, error) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), "work-")
		if !ok || !e.IsDir() {
			continue
		}
		pidText, _, _ := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidText)
		if err != nil || pid <= 0 {
			continue
		}
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			os.RemoveAll(filepath.Join(dir, e.Name()))
		}
	}
	work, err := os.MkdirTemp(dir, "work-"+strconv.Itoa(os.Getpid())+"-")
	if err != nil {
		return "", fmt.Errorf("creating work directory: %w", err)
	}
	return work, nil
}

// Indexes returns each named app's multi-arch index from the OCI layout under out, as
// the last build published it.
func Indexes(out string, apps []string) ([]v1.ImageIndex, error) {
	dir := filepath.Join(out, layoutDir)
	p, err := layout.FromPath(dir)
	if err != nil {
		return nil, fmt.Errorf("reading the built images: %w", err)
	}
	top, err := p.ImageIndex()
	if err != nil {
		return nil, fmt.Errorf("reading the built images: %w", err)
	}
	im, err := top.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("reading the built images: %w", err)
	}
	idxs := make([]v1.ImageIndex, len(apps))
	for i, app := range apps {
		for _, d := range im.Manifests {
			if d.Annotations[publish.RefName] == app {
				if idxs[i], err = top.ImageIndex(d.Digest); err != nil {
					return nil, fmt.Errorf("reading the index of %s: %w", app, err)
				}
				if idxs[i], err = publish.LayoutReferrers(dir, idxs[i]); err != nil {
					return nil, fmt.Errorf("reading the referrers of %s: %w", app, err)
				}
			}
		}
		if idxs[i] == nil {
			return nil, fmt.Errorf("%s: not in %s; build it first", app, dir)
		}
	}
	return idxs, nil
}

// WritePushed writes what a push did, as JSON, to push.json under out.
func WritePushed(out string, pushed any) error {
	js, err := json.MarshalIndent(pushed, "", "  ")
	if err != nil {
		return err
	}
	return files.WriteAtomic(filepath.Join(out, pushJSON), append(js, '\n'), 0o644)
}
