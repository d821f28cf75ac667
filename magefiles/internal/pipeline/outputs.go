package pipeline

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/minimalbuild/minimal/magefiles/internal/oci"
	"github.com/minimalbuild/minimal/magefiles/internal/publish"
	"github.com/minimalbuild/minimal/magefiles/internal/report"
	"github.com/minimalbuild/minimal/magefiles/manifest"
)

// testHookPublished, when set, is called after each app is written to the layout.
var testHookPublished func(app string)

// stateFile, in the output directory, records what the last build published there, so
// that the next one writes only what changed.
const stateFile = ".minimal-state.json"

// outState is the content of stateFile.
type outState struct {
	// Layout is the SHA-256 of oci/index.json as the build left it.
	Layout string `json:"layout"`
	// Apps maps each app to the digest of its index in the layout.
	Apps map[string]string `json:"apps"`
	// Files maps files under the output directory to the digest of what they hold: the
	// SHA-256 of a binary, the image digest of a tarball.
	Files map[string]string `json:"files"`
}

func readState(out string) outState {
	st := outState{Apps: map[string]string{}, Files: map[string]string{}}
	data, err := os.ReadFile(filepath.Join(out, stateFile))
	if err != nil || json.Unmarshal(data, &st) != nil || st.Apps == nil || st.Files == nil {
		return outState{Apps: map[string]string{}, Files: map[string]string{}}
	}
	return st
}

// fileSum returns the hex SHA-256 of the file at path, or "" if it cannot be read.
func fileSum(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// publishAll writes the binaries, images, indexes and report of every app, skipping
// what the last build already wrote there. Each file is written beside its final name
// and renamed into place, and the layout's index.json is replaced last, so an
// interrupted publish never leaves a partial file. Before the first change the state
// file is removed, so that a build interrupted while publishing is followed by one that
// checks everything again. It returns the report and how many things it wrote.
func publishAll(ctx context.Context, o *options, m *manifest.Manifest, results []*built) (*report.Report, int, error) {
	layoutDir := filepath.Join(o.out, "oci")
	old := readState(o.out)
	if fileSum(filepath.Join(layoutDir, "index.json")) != old.Layout || old.Layout == "" {
		old.Apps = map[string]string{}
	}
	// Apps this build leaves alone (app and pushApp build some) keep their entries.
	next := outState{Apps: maps.Clone(old.Apps), Files: maps.Clone(old.Files)}
	wrote := 0
	dirty := func() error {
		if wrote == 0 {
			if err := os.Remove(filepath.Join(o.out, stateFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
		wrote++
		return nil
	}
	layout, tarball := publish.Layout(layoutDir), publish.Tarball(filepath.Join(o.out, "tar"))
	rep := &report.Report{}
	for _, a := range m.Apps {
		var imgs []*built
		for _, b := range results {
			if b.spec.App == a.Name {
				imgs = append(imgs, b)
			}
		}
		if len(imgs) == 0 {
			continue
		}
		ar := report.App{Name: a.Name}
		images := make([]v1.Image, len(imgs))
		tarsFresh := true
		for i, b := range imgs {
			images[i] = b.image
			bin := BinaryPath(o.out, b.spec)
			rel := filepath.ToSlash(strings.TrimPrefix(bin, o.out+string(filepath.Separator)))
			sum := hex.EncodeToString(b.bin.sha256[:])
			if fi, err := os.Stat(bin); err != nil || fi.Size() != b.bin.size || old.Files[rel] != sum {
				data, err := b.bin.read()
				if err != nil {
					return nil, 0, err
				}
				if err := dirty(); err != nil {
					return nil, 0, err
				}
				if err := writeFile(bin, data, 0o755); err != nil {
					return nil, 0, err
				}
			}
			next.Files[rel] = sum
			pr, err := platformReport(b)
			if err != nil {
				return nil, 0, fmt.Errorf("%s %s: %w", b.spec.App, b.spec.Platform, err)
			}
			ar.Platforms = append(ar.Platforms, pr)
			tar := "tar/" + a.Name + "-" + b.spec.Platform.Arch + ".tar"
			if _, err := os.Stat(filepath.Join(o.out, filepath.FromSlash(tar))); err != nil || old.Files[tar] != pr.Manifest {
				tarsFresh = false
			}
			next.Files[tar] = pr.Manifest
		}
		idx, err := oci.Index(images, a.Image.Annotations)
		if err != nil {
			return nil, 0, fmt.Errorf("%s: index: %w", a.Name, err)
		}
		d, err := idx.Digest()
		if err != nil {
			return nil, 0, fmt.Errorf("%s: index: %w", a.Name, err)
		}
		ar.Index = d.String()
		if old.Apps[a.Name] != ar.Index {
			if err := dirty(); err != nil {
				return nil, 0, err
			}
			if _, err := layout.Publish(ctx, a.Name, idx, a.Tags); err != nil {
				return nil, 0, err
			}
			if testHookPublished != nil {
				testHookPublished(a.Name)
			}
		}
		next.Apps[a.Name] = ar.Index
		if !tarsFresh {
			if err := dirty(); err != nil {
				return nil, 0, err
			}
			if _, err := tarball.Publish(ctx, a.Name, idx, a.Tags); err != nil {
				return nil, 0, err
			}
		}
		rep.Apps = append(rep.Apps, ar)
	}
	var js, svg bytes.Buffer
	if err := rep.WriteJSON(&js); err != nil {
		return nil, 0, err
	}
	if err := rep.WriteSVG(&svg, report.Classic); err != nil {
		return nil, 0, err
	}
	for name, data := range map[string][]byte{"report.json": js.Bytes(), "report.svg": svg.Bytes()} {
		path := filepath.Join(o.out, name)
		if cur, err := os.ReadFile(path); err == nil && bytes.Equal(cur, data) {
			continue
		}
		if err := dirty(); err != nil {
			return nil, 0, err
		}
		if err := writeFile(path, data, 0o644); err != nil {
			return nil, 0, err
		}
	}
	if wrote > 0 || old.Layout == "" {
		next.Layout = fileSum(filepath.Join(layoutDir, "index.json"))
		data, err := json.MarshalIndent(next, "", "  ")
		if err != nil {
			return nil, 0, err
		}
		if err := writeFile(filepath.Join(o.out, stateFile), data, 0o644); err != nil {
			return nil, 0, err
		}
	}
	return rep, wrote, nil
}

// platformReport measures one built image.
func platformReport(b *built) (report.Platform, error) {
	d, err := b.image.Digest()
	if err != nil {
		return report.Platform{}, err
	}
	return report.Platform{
		Platform: b.spec.Platform.String(),
		Manifest: d.String(),
		Steps:    b.sizes,
		Binary:   b.bin.size,
		Content:  b.content,
		Pull:     b.pull,
	}, nil
}

// lockOut takes the lock of the output directory, so that builds into the same
// directory run one after another; it waits, saying so, while another build holds it.
// The lock lives in the cache, so that images/ holds nothing but outputs.
func lockOut(ctx context.Context, o *options, cacheDir string) (func(), error) {
	abs, err := filepath.Abs(o.out)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256([]byte(abs))
	dir := filepath.Join(cacheDir, "locks")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("locking %s: %w", o.out, err)
	}
	f, err := os.OpenFile(filepath.Join(dir, hex.EncodeToString(sum[:8])+".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("locking %s: %w", o.out, err)
	}
	said := false
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("locking %s: %w", o.out, err)
		}
		if !said {
			fmt.Fprintf(o.log, "waiting for another build writing %s to finish\n", o.out)
			said = true
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return func() { f.Close() }, nil
}

// workDir creates this build's scratch directory in the cache, named after the process,
// and removes those of processes that are gone, such as killed builds.
func workDir(cacheDir string) (string, error) {
	entries, _ := os.ReadDir(cacheDir)
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
			os.RemoveAll(filepath.Join(cacheDir, e.Name()))
		}
	}
	dir, err := os.MkdirTemp(cacheDir, "work-"+strconv.Itoa(os.Getpid())+"-")
	if err != nil {
		return "", fmt.Errorf("creating work directory: %w", err)
	}
	return dir, nil
}
