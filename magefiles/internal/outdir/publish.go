package outdir

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
	"slices"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/minimalbuild/minimal/magefiles/internal/files"
	"github.com/minimalbuild/minimal/magefiles/internal/oci"
	"github.com/minimalbuild/minimal/magefiles/internal/publish"
	"github.com/minimalbuild/minimal/magefiles/internal/report"
	"github.com/minimalbuild/minimal/magefiles/manifest"
)

// App is one app's images to publish.
type App struct {
	Name string
	// Tags name the app's index in the layout and the tarballs.
	Tags []string
	// Annotations go on the app's multi-arch index.
	Annotations map[string]string
	// Platforms are the app's images, one per platform, in index order.
	Platforms []Platform
}

// Platform is one app's image for one platform.
type Platform struct {
	Platform manifest.Platform
	Image    v1.Image
	Binary   Binary
	// Steps, Content and Pull are the image's report: the binary's size after each
	// step, and the image's content and pull sizes.
	Steps         []report.Step
	Content, Pull int64
	// Budget is the image's budget as the report shows it; nil for none.
	Budget *report.Budget
	// Referrers are the documents attached to the image, such as its SBOM.
	Referrers []v1.Image
}

// Binary is an executable to publish, read only when it has changed.
type Binary struct {
	Size   int64
	SHA256 [sha256.Size]byte
	Read   func() ([]byte, error)
}

// state is the content of StateFile.
type state struct {
	// Layout is the SHA-256 of oci/index.json as the build left it.
	Layout string `json:"layout"`
	// Apps maps each app to the digest of its index in the layout.
	Apps map[string]string `json:"apps"`
	// Files maps files under the output directory to the digest of what they hold: the
	// SHA-256 of a binary, the image digest of a tarball.
	Files map[string]string `json:"files"`
}

func readState(out string) state {
	st := state{Apps: map[string]string{}, Files: map[string]string{}}
	data, err := os.ReadFile(filepath.Join(out, StateFile))
	if err != nil || json.Unmarshal(data, &st) != nil || st.Apps == nil || st.Files == nil {
		return state{Apps: map[string]string{}, Files: map[string]string{}}
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

// publisher is one publish into an output directory.
type publisher struct {
	out      string
	old, new state
	wrote    int
	layout   publish.Interface
	tarball  publish.Interface
	// published is called after each app is written to the layout.
	published func(app string)
}

// Publish writes the binaries, images, indexes and report of apps under out, skipping
// what the last build already wrote there, and returns the report and how many things
// it wrote. Each file is written beside its final name and renamed into place, and the
// layout's index.json is replaced last, so an interrupted publish never leaves a
// partial file. Before the first change the state file is removed, so that a build
// interrupted while publishing is followed by one that checks everything again. When
// every is false, apps published before and not in apps keep what they had; when it is
// true, apps are every app there is, and what the last build published that they do
// not have (an app's layout entries, a tarball or binary of an app or platform no
// longer built) is removed. published, when not nil, is called after each app is
// written to the layout.
func Publish(ctx context.Context, out string, apps []App, every bool, published func(app string)) (*report.Report, int, error) {
	old := readState(out)
	if fileSum(filepath.Join(out, layoutDir, "index.json")) != old.Layout || old.Layout == "" {
		old.Apps = map[string]string{}
	}
	p := &publisher{
		out:     out,
		old:     old,
		new:     state{Apps: map[string]string{}, Files: map[string]string{}},
		layout:  publish.Layout(filepath.Join(out, layoutDir)),
		tarball: publish.Tarball(filepath.Join(out, tarDir)),

		published: published,
	}
	rep := &report.Report{}
	for _, a := range apps {
		ar, err := p.app(ctx, a)
		if err != nil {
			return nil, 0, err
		}
		rep.Apps = append(rep.Apps, ar)
	}
	if every {
		if err := p.prune(ctx); err != nil {
			return nil, 0, err
		}
	} else {
		// The apps not published now keep what they had.
		p.new.Apps = merged(p.old.Apps, p.new.Apps)
		p.new.Files = merged(p.old.Files, p.new.Files)
	}
	if err := p.report(rep); err != nil {
		return nil, 0, err
	}
	if p.wrote > 0 || old.Layout == "" {
		p.new.Layout = fileSum(filepath.Join(out, layoutDir, "index.json"))
		data, err := json.MarshalIndent(p.new, "", "  ")
		if err != nil {
			return nil, 0, err
		}
		if err := files.WriteAtomic(filepath.Join(out, StateFile), data, 0o644); err != nil {
			return nil, 0, err
		}
	}
	return rep, p.wrote, nil
}

// prune removes what the last build published and this one did not: the layout
// entries of the apps and the files of the old state that the new one lacks.
func (p *publisher) prune(ctx context.Context) error {
	for _, name := range slices.Sorted(maps.Keys(p.old.Apps)) {
		if _, ok := p.new.Apps[name]; ok {
			continue
		}
		if err := p.dirty(); err != nil {
			return err
		}
		if err := publish.RemoveFromLayout(ctx, filepath.Join(p.out, layoutDir), name); err != nil {
			return err
		}
	}
	for _, rel := range slices.Sorted(maps.Keys(p.old.Files)) {
		if _, ok := p.new.Files[rel]; ok {
			continue
		}
		if err := p.dirty(); err != nil {
			return err
		}
		if err := os.Remove(filepath.Join(p.out, filepath.FromSlash(rel))); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

// merged returns old's entries with now's over them.
func merged(old, now map[string]string) map[string]string {
	out := maps.Clone(old)
	maps.Copy(out, now)
	return out
}

// dirty notes a write, removing the state file before the first.
func (p *publisher) dirty() error {
	if p.wrote == 0 {
		if err := os.Remove(filepath.Join(p.out, StateFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	p.wrote++
	return nil
}

// app publishes one app: its binaries, its index in the layout, its tarballs.
func (p *publisher) app(ctx context.Context, a App) (report.App, error) {
	ar := report.App{Name: a.Name}
	images := make([]v1.Image, len(a.Platforms))
	var refs []v1.Image
	tarsFresh := true
	for i, pl := range a.Platforms {
		images[i] = pl.Image
		refs = append(refs, pl.Referrers...)
		if err := p.binary(BinaryPath(p.out, a.Name, pl.Platform), pl.Binary); err != nil {
			return report.App{}, err
		}
		d, err := pl.Image.Digest()
		if err != nil {
			return report.App{}, fmt.Errorf("%s %s: %w", a.Name, pl.Platform, err)
		}
		ar.Platforms = append(ar.Platforms, report.Platform{
			Platform: pl.Platform.String(),
			Manifest: d.String(),
			Steps:    pl.Steps,
			Binary:   pl.Binary.Size,
			Content:  pl.Content,
			Pull:     pl.Pull,
			Budget:   pl.Budget,
		})
		tar := tarDir + "/" + publish.TarballName(a.Name, v1.Platform{OS: pl.Platform.OS, Architecture: pl.Platform.Arch})
		if _, err := os.Stat(filepath.Join(p.out, filepath.FromSlash(tar))); err != nil || p.old.Files[tar] != d.String() {
			tarsFresh = false
		}
		p.new.Files[tar] = d.String()
	}
	idx, err := oci.Index(images, a.Annotations)
	if err != nil {
		return report.App{}, fmt.Errorf("%s: index: %w", a.Name, err)
	}
	d, err := idx.Digest()
	if err != nil {
		return report.App{}, fmt.Errorf("%s: index: %w", a.Name, err)
	}
	ar.Index = d.String()
	// The layout holds the referrers beside the index, whose digest they leave alone.
	published := ar.Index
	for _, r := range refs {
		rd, err := r.Digest()
		if err != nil {
			return report.App{}, fmt.Errorf("%s: referrer: %w", a.Name, err)
		}
		published += " " + rd.String()
	}
	idx = publish.WithReferrers(idx, refs...)
	if p.old.Apps[a.Name] != published {
		if err := p.dirty(); err != nil {
			return report.App{}, err
		}
		if _, err := p.layout.Publish(ctx, a.Name, idx, a.Tags); err != nil {
			return report.App{}, err
		}
		if p.published != nil {
			p.published(a.Name)
		}
	}
	p.new.Apps[a.Name] = published
	if !tarsFresh {
		if err := p.dirty(); err != nil {
			return report.App{}, err
		}
		if _, err := p.tarball.Publish(ctx, a.Name, idx, a.Tags); err != nil {
			return report.App{}, err
		}
	}
	return ar, nil
}

// binary writes bin to path unless the last build wrote the same bytes there.
func (p *publisher) binary(path string, bin Binary) error {
	rel, err := filepath.Rel(p.out, path)
	if err != nil {
		return err
	}
	rel = filepath.ToSlash(rel)
	sum := hex.EncodeToString(bin.SHA256[:])
	p.new.Files[rel] = sum
	if fi, err := os.Stat(path); err == nil && fi.Size() == bin.Size && p.old.Files[rel] == sum {
		return nil
	}
	data, err := bin.Read()
	if err != nil {
		return err
	}
	if err := p.dirty(); err != nil {
		return err
	}
	return files.WriteAtomic(path, data, 0o755)
}

// report writes the report as JSON and as a chart, where it changed.
func (p *publisher) report(rep *report.Report) error {
	var js, svg bytes.Buffer
	if err := rep.WriteJSON(&js); err != nil {
		return err
	}
	if err := rep.WriteSVG(&svg, report.Classic); err != nil {
		return err
	}
	for name, data := range map[string][]byte{reportJSON: js.Bytes(), reportSVG: svg.Bytes()} {
		path := filepath.Join(p.out, name)
		if cur, err := os.ReadFile(path); err == nil && bytes.Equal(cur, data) {
			continue
		}
		if err := p.dirty(); err != nil {
			return err
		}
		if err := files.WriteAtomic(path, data, 0o644); err != nil {
			return err
		}
	}
	return nil
}
