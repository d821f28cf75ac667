package publish

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/minimalbuild/minimal/magefiles/internal/files"
)

// RefName is the annotation that names the entries of a layout's
// index.json. Tools find an entry by it: `skopeo inspect
// oci:images/oci:hello` reads the entry named hello.
const RefName = "org.opencontainers.image.ref.name"

// layoutVersion is the content of a layout's oci-layout file.
const layoutVersion = "1.0.0"

// Layout returns a publisher that keeps every app in one OCI image layout at
// dir, which it creates if needed. An app's index is the entry named after
// the app (RefName: hello), which skopeo and podman read, picking the
// platform they run on. Each of its images is also an entry of its own,
// named <app>/<arch>, or <app>/<arch>-<variant> when the platform has a
// variant (hello/amd64, hello/386): umoci refuses an entry that holds more
// than one image, so `umoci unpack --image images/oci:hello/amd64 bundle`
// is how to unpack one. App names have no slash, so these names cannot
// clash with another app's. Publishing an app again replaces all its
// entries and deletes the blobs nothing refers to any more. Entries are
// sorted by app and platform, so the layout's bytes do not depend on the
// order apps are published in. Tags are not used.
//
// Blobs are written first, each to a temporary file that is checked against
// its digest and then renamed to its content address; index.json is replaced
// last, by a rename. A failure or an interrupt at any point leaves a valid
// layout holding either the old entries or the new.
//
// Publish may be called from many goroutines, for the same dir through any
// number of publishers. Dir must not be written by another process at the
// same time. A dir that holds files but no oci-layout file is not touched.
//
// Referrers attached to the index (WithReferrers), such as each image's
// SBOM and provenance, are written too, each as an entry of index.json
// with no name, after the entries of the app: an OCI 1.1 artifact manifest
// whose subject is the image it describes, as `oras attach --oci-layout`
// leaves them, so `oras discover --oci-layout images/oci:hello/amd64` lists
// them. Tools that look entries up by name (skopeo, umoci, podman) pass
// over them. Republishing an app replaces its referrers with the new ones.
//
// Publish returns the app's entry first, then one per image, in the order
// of the index.
func Layout(dir string) Interface {
	return &layoutPublisher{dir: dir}
}

type layoutPublisher struct {
	dir string
}

var _ Interface = (*layoutPublisher)(nil)

// layoutState is what the publishers of one directory share.
type layoutState struct {
	mu sync.Mutex
	// pending counts, per blob, the publishes in flight that will refer to
	// it, so that another publish's garbage collection leaves it alone.
	pending map[v1.Hash]int
	// inflight counts the publishes in flight; leftover temporary files are
	// only removed when there is one, the publish removing them.
	inflight int
	// manifests remembers what the layout's manifests say, so that each
	// publish does not read every manifest of the layout again.
	manifests manifestMemo
}

// layoutStates holds the state of every layout written by this process,
// keyed by absolute directory.
var layoutStates sync.Map

func stateFor(dir string) (*layoutState, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	s, _ := layoutStates.LoadOrStore(abs, &layoutState{pending: map[v1.Hash]int{}, manifests: manifestMemo{}})
	return s.(*layoutState), nil
}

// Publish implements Interface.
func (l *layoutPublisher) Publish(ctx context.Context, app string, idx v1.ImageIndex, _ []string) ([]Result, error) {
	if err := checkApp(app); err != nil {
		return nil, fmt.Errorf("publishing to OCI layout %s: %w", l.dir, err)
	}
	entries, err := l.publish(ctx, app, idx)
	if err != nil {
		return nil, fmt.Errorf("publishing %s to OCI layout %s: %w", app, l.dir, err)
	}
	rs := make([]Result, len(entries))
	for i, e := range entries {
		rs[i] = Result{Ref: "oci:" + l.dir + ":" + e.Annotations[RefName], Digest: e.Digest}
	}
	return rs, nil
}

// platformName is the part of an image's entry name after the app's.
func platformName(p *v1.Platform) string {
	n := p.Architecture
	if p.OS != "linux" {
		n = p.OS + "-" + n
	}
	if p.Variant != "" {
		n += "-" + p.Variant
	}
	return n
}

// layoutEntries returns the index.json entries of app: its index, then its
// images one by one.
func layoutEntries(app string, desc v1.Descriptor, idx v1.ImageIndex) ([]v1.Descriptor, error) {
	desc.Annotations = map[string]string{RefName: app}
	entries := []v1.Descriptor{desc}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, d := range im.Manifests {
		if !d.MediaType.IsImage() || d.Platform == nil {
			continue
		}
		name := app + "/" + platformName(d.Platform)
		if seen[name] {
			return nil, fmt.Errorf("two images in the index are both named %s", name)
		}
		seen[name] = true
		entries = append(entries, v1.Descriptor{
			MediaType:   d.MediaType,
			Digest:      d.Digest,
			Size:        d.Size,
			Platform:    d.Platform,
			Annotations: map[string]string{RefName: name},
		})
	}
	return entries, nil
}

// sortEntries sorts the entries of index.json by app, then the app's own
// entry before its images, then platform; each referrer comes right after
// the entry of its subject, referrers of one subject sorted by artifact type
// and digest. Entries with no name that are not referrers of a named entry
// (written by another tool) come first, as they were. subjects maps each
// referrer's digest to its subject's. The order depends only on the
// entries, not on the order apps were published in.
func sortEntries(entries []v1.Descriptor, subjects map[v1.Hash]v1.Hash) {
	named := map[v1.Hash]string{}
	for _, e := range entries {
		if n, ok := e.Annotations[RefName]; ok {
			if old, seen := named[e.Digest]; !seen || n < old {
				named[e.Digest] = n
			}
		}
	}
	type key struct {
		app, plat  string
		refers     int
		at, digest string
	}
	keyOf := func(e v1.Descriptor) key {
		if n, ok := e.Annotations[RefName]; ok {
			app, plat, _ := strings.Cut(n, "/")
			return key{app: app, plat: plat}
		}
		s, ok := subjects[e.Digest]
		if !ok {
			return key{}
		}
		k := key{refers: 1, at: e.ArtifactType, digest: e.Digest.String()}
		k.app, k.plat, _ = strings.Cut(named[s], "/")
		return k
	}
	slices.SortStableFunc(entries, func(a, b v1.Descriptor) int {
		ka, kb := keyOf(a), keyOf(b)
		return cmp.Or(
			strings.Compare(ka.app, kb.app),
			strings.Compare(ka.plat, kb.plat),
			cmp.Compare(ka.refers, kb.refers),
			strings.Compare(ka.at, kb.at),
			strings.Compare(ka.digest, kb.digest),
		)
	})
}

func (l *layoutPublisher) publish(ctx context.Context, app string, idx v1.ImageIndex) ([]v1.Descriptor, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	refs, err := referrersOf(idx)
	if err != nil {
		return nil, err
	}
	refImgs := make([]v1.Image, len(refs))
	for i, r := range refs {
		refImgs[i] = r.img
	}
	desc, blobs, err := indexBlobs(idx, refImgs...)
	if err != nil {
		return nil, err
	}
	entries, err := layoutEntries(app, desc, idx)
	if err != nil {
		return nil, err
	}
	own, err := manifestDigests(idx)
	if err != nil {
		return nil, err
	}
	st, err := stateFor(l.dir)
	if err != nil {
		return nil, err
	}

	st.mu.Lock()
	err = initLayout(ctx, l.dir)
	if err == nil {
		st.inflight++
		for _, b := range blobs {
			st.pending[b.digest]++
		}
	}
	st.mu.Unlock()
	if err != nil {
		return nil, err
	}
	defer func() {
		st.mu.Lock()
		defer st.mu.Unlock()
		st.inflight--
		for _, b := range blobs {
			if st.pending[b.digest]--; st.pending[b.digest] == 0 {
				delete(st.pending, b.digest)
			}
		}
	}()

	for _, b := range blobs {
		if err := writeBlob(ctx, l.dir, b); err != nil {
			return nil, err
		}
	}

	st.mu.Lock()
	defer st.mu.Unlock()
	top, err := readTopIndex(l.dir)
	if err != nil {
		return nil, err
	}
	subjects, err := layoutSubjects(l.dir, top, st.manifests)
	if err != nil {
		return nil, err
	}
	// The app's old entries go, and with them the referrers of what they
	// named and any referrer of what the new entries name.
	dropApp(top, app, subjects, maps.Clone(own))
	top.Manifests = append(top.Manifests, entries...)
	for _, r := range refs {
		if subjects[r.desc.Digest] == r.subject && slices.ContainsFunc(top.Manifests, func(d v1.Descriptor) bool { return d.Digest == r.desc.Digest }) {
			continue // attached twice
		}
		top.Manifests = append(top.Manifests, r.desc)
		subjects[r.desc.Digest] = r.subject
	}
	sortEntries(top.Manifests, subjects)
	if err := writeTopIndex(ctx, l.dir, top); err != nil {
		return nil, err
	}
	if err := collectGarbage(l.dir, top, st.pending, st.inflight == 1, st.manifests); err != nil {
		return nil, fmt.Errorf("the entry is written, but removing unused blobs failed: %w", err)
	}
	return entries, nil
}

// layoutFile is the file that makes a directory an OCI image layout.
const layoutFile = "oci-layout"

// dropApp removes from top the entries of app, and the referrers whose subject
// one of them, or one of the manifests gone already holds, names. It reports
// whether there were any.
func dropApp(top *v1.IndexManifest, app string, subjects map[v1.Hash]v1.Hash, gone map[v1.Hash]bool) bool {
	ofApp := func(name string) bool { return name == app || strings.HasPrefix(name, app+"/") }
	found := false
	for _, d := range top.Manifests {
		if ofApp(d.Annotations[RefName]) {
			gone[d.Digest], found = true, true
		}
	}
	top.Manifests = slices.DeleteFunc(top.Manifests, func(d v1.Descriptor) bool {
		if name, ok := d.Annotations[RefName]; ok {
			return ofApp(name)
		}
		s, ok := subjects[d.Digest]
		return ok && gone[s]
	})
	return found
}

// RemoveFromLayout removes app from the OCI layout in dir, as Layout writes
// it: the app's entries, the referrers of what they name, and the blobs no
// other entry uses. A dir that is no layout, or a layout without the app, is
// left as it is.
func RemoveFromLayout(ctx context.Context, dir, app string) error {
	if err := checkApp(app); err != nil {
		return fmt.Errorf("removing from OCI layout %s: %w", dir, err)
	}
	if err := removeFromLayout(ctx, dir, app); err != nil {
		return fmt.Errorf("removing %s from OCI layout %s: %w", app, dir, err)
	}
	return nil
}

func removeFromLayout(ctx context.Context, dir, app string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(dir, layoutFile)); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	st, err := stateFor(dir)
	if err != nil {
		return err
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	top, err := readTopIndex(dir)
	if err != nil {
		return err
	}
	subjects, err := layoutSubjects(dir, top, st.manifests)
	if err != nil {
		return err
	}
	if !dropApp(top, app, subjects, map[v1.Hash]bool{}) {
		return nil
	}
	if err := writeTopIndex(ctx, dir, top); err != nil {
		return err
	}
	if err := collectGarbage(dir, top, st.pending, st.inflight == 0, st.manifests); err != nil {
		return fmt.Errorf("the entries are removed, but removing unused blobs failed: %w", err)
	}
	return nil
}

// initLayout makes sure dir is an OCI layout, creating an empty one if dir
// is missing or empty, and checks that its index.json can be read.
func initLayout(ctx context.Context, dir string) error {
	raw, err := os.ReadFile(filepath.Join(dir, layoutFile))
	switch {
	case err == nil:
		var f struct {
			Version string `json:"imageLayoutVersion"`
		}
		if err := json.Unmarshal(raw, &f); err != nil || f.Version != layoutVersion {
			return fmt.Errorf("oci-layout: want imageLayoutVersion %q, got %q", layoutVersion, raw)
		}
	case errors.Is(err, fs.ErrNotExist):
		if err := createLayout(ctx, dir); err != nil {
			return err
		}
	default:
		return err
	}
	_, err = readTopIndex(dir)
	return err
}

// createLayout makes dir an empty OCI layout if it is missing or empty. The
// layout is assembled in a temporary directory beside dir and renamed into
// place, so dir is never a layout with a file missing.
func createLayout(ctx context.Context, dir string) (err error) {
	entries, err := os.ReadDir(dir)
	exists := err == nil
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if len(entries) > 0 {
		return fmt.Errorf("not an OCI image layout (no oci-layout file) and not empty; refusing to write into it")
	}
	parent := filepath.Dir(filepath.Clean(dir))
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(parent, tmpPrefix+filepath.Base(dir)+"-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(tmp)
		}
	}()
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	if err := writeTopIndex(ctx, tmp, emptyIndex()); err != nil {
		return err
	}
	err = files.Write(ctx, filepath.Join(tmp, layoutFile), 0o644, func(w io.Writer) error {
		_, err := fmt.Fprintf(w, "{\"imageLayoutVersion\":%q}", layoutVersion)
		return err
	})
	if err != nil {
		return err
	}
	if exists {
		// os.Rename does not replace a directory, even an empty one.
		if err := os.Remove(dir); err != nil {
			return err
		}
	}
	if err := os.Rename(tmp, dir); err != nil {
		return err
	}
	return files.SyncDir(parent)
}

func emptyIndex() *v1.IndexManifest {
	return &v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: []v1.Descriptor{}}
}

func readTopIndex(dir string) (*v1.IndexManifest, error) {
	f, err := os.Open(filepath.Join(dir, "index.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return emptyIndex(), nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	im, err := v1.ParseIndexManifest(f)
	if err != nil {
		return nil, fmt.Errorf("reading index.json: %w", err)
	}
	return im, nil
}

func writeTopIndex(ctx context.Context, dir string, im *v1.IndexManifest) error {
	raw, err := json.MarshalIndent(im, "", "  ")
	if err != nil {
		return err
	}
	return files.Write(ctx, filepath.Join(dir, "index.json"), 0o644, func(w io.Writer) error {
		_, err := w.Write(append(raw, '\n'))
		return err
	})
}

// blob is one content-addressed blob of an index.
type blob struct {
	digest v1.Hash
	size   int64
	open   func() (io.ReadCloser, error)
}

func bytesBlob(d v1.Hash, raw []byte) blob {
	return blob{d, int64(len(raw)), func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(raw)), nil }}
}

// indexBlobs lists every blob idx consists of, each once, children before
// the manifests that refer to them and idx's own manifest last, then the
// blobs of each of extra, and returns the descriptor of idx.
func indexBlobs(idx v1.ImageIndex, extra ...v1.Image) (v1.Descriptor, []blob, error) {
	var blobs []blob
	seen := map[v1.Hash]bool{}
	add := func(b blob) {
		if !seen[b.digest] {
			seen[b.digest] = true
			blobs = append(blobs, b)
		}
	}
	var walkIndex func(v1.ImageIndex) (v1.Descriptor, error)
	walkImage := func(img v1.Image) error {
		layers, err := img.Layers()
		if err != nil {
			return err
		}
		for _, l := range layers {
			d, err := l.Digest()
			if err != nil {
				return err
			}
			size, err := l.Size()
			if err != nil {
				return err
			}
			add(blob{d, size, l.Compressed})
		}
		cfgName, err := img.ConfigName()
		if err != nil {
			return err
		}
		cfg, err := img.RawConfigFile()
		if err != nil {
			return err
		}
		add(bytesBlob(cfgName, cfg))
		d, err := img.Digest()
		if err != nil {
			return err
		}
		raw, err := img.RawManifest()
		if err != nil {
			return err
		}
		add(bytesBlob(d, raw))
		return nil
	}
	walkIndex = func(ii v1.ImageIndex) (v1.Descriptor, error) {
		im, err := ii.IndexManifest()
		if err != nil {
			return v1.Descriptor{}, err
		}
		for _, d := range im.Manifests {
			switch {
			case d.MediaType.IsIndex():
				child, err := ii.ImageIndex(d.Digest)
				if err != nil {
					return v1.Descriptor{}, err
				}
				if _, err := walkIndex(child); err != nil {
					return v1.Descriptor{}, err
				}
			case d.MediaType.IsImage():
				img, err := ii.Image(d.Digest)
				if err != nil {
					return v1.Descriptor{}, err
				}
				if err := walkImage(img); err != nil {
					return v1.Descriptor{}, fmt.Errorf("image %s: %w", d.Digest, err)
				}
			default:
				return v1.Descriptor{}, fmt.Errorf("index entry %s has media type %s, not an image or an index", d.Digest, d.MediaType)
			}
		}
		d, err := ii.Digest()
		if err != nil {
			return v1.Descriptor{}, err
		}
		raw, err := ii.RawManifest()
		if err != nil {
			return v1.Descriptor{}, err
		}
		mt, err := ii.MediaType()
		if err != nil {
			return v1.Descriptor{}, err
		}
		add(bytesBlob(d, raw))
		return v1.Descriptor{MediaType: mt, Digest: d, Size: int64(len(raw))}, nil
	}
	desc, err := walkIndex(idx)
	if err != nil {
		return v1.Descriptor{}, nil, fmt.Errorf("reading index: %w", err)
	}
	for _, img := range extra {
		if err := walkImage(img); err != nil {
			return v1.Descriptor{}, nil, fmt.Errorf("reading referrer: %w", err)
		}
	}
	return desc, blobs, nil
}

func blobPath(dir string, d v1.Hash) string {
	return filepath.Join(dir, "blobs", d.Algorithm, d.Hex)
}

// writeBlob stores b at its content address, unless a blob of the right size
// is already there. The bytes are checked against the digest before the
// rename, so a blob file is never wrong.
func writeBlob(ctx context.Context, dir string, b blob) error {
	if b.digest.Algorithm != "sha256" {
		return fmt.Errorf("blob %s: only sha256 digests are supported", b.digest)
	}
	path := blobPath(dir, b.digest)
	if fi, err := os.Stat(path); err == nil && fi.Mode().IsRegular() && fi.Size() == b.size {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	err := files.Write(ctx, path, 0o644, func(w io.Writer) error {
		rc, err := b.open()
		if err != nil {
			return err
		}
		defer rc.Close()
		h := sha256.New()
		n, err := io.Copy(io.MultiWriter(w, h), rc)
		if err != nil {
			return err
		}
		if n != b.size {
			return fmt.Errorf("wrote %d bytes, want %d", n, b.size)
		}
		if got := hexSum(h); got != b.digest.Hex {
			return fmt.Errorf("content has digest sha256:%s", got)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("writing blob %s: %w", b.digest, err)
	}
	return nil
}

func hexSum(h hash.Hash) string { return hex.EncodeToString(h.Sum(nil)) }

// collectGarbage removes every blob that top does not reach and no publish
// in flight will refer to, and, when cleanTemps is set, the temporary files
// an interrupted run left behind. memo holds what manifests say.
func collectGarbage(dir string, top *v1.IndexManifest, pending map[v1.Hash]int, cleanTemps bool, memo manifestMemo) error {
	live := map[v1.Hash]bool{}
	for _, d := range top.Manifests {
		if err := markLive(dir, d, live, memo); err != nil {
			return err
		}
	}
	if cleanTemps {
		if err := removeTemps(dir); err != nil {
			return err
		}
	}
	algs, err := os.ReadDir(filepath.Join(dir, "blobs"))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	for _, alg := range algs {
		if !alg.IsDir() {
			continue
		}
		algDir := filepath.Join(dir, "blobs", alg.Name())
		if cleanTemps {
			if err := removeTemps(algDir); err != nil {
				return err
			}
		}
		files, err := os.ReadDir(algDir)
		if err != nil {
			return err
		}
		for _, f := range files {
			h, err := v1.NewHash(alg.Name() + ":" + f.Name())
			if err != nil || !f.Type().IsRegular() {
				continue // not a blob, maybe a temporary file in use
			}
			if live[h] || pending[h] > 0 {
				continue
			}
			if err := os.Remove(filepath.Join(algDir, f.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
	}
	return nil
}

func removeTemps(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), tmpPrefix) && e.Type().IsRegular() {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
	}
	return nil
}

// markLive marks d and everything it refers to as live, reading manifests
// through memo.
func markLive(dir string, d v1.Descriptor, live map[v1.Hash]bool, memo manifestMemo) error {
	if live[d.Digest] {
		return nil
	}
	live[d.Digest] = true
	if !d.MediaType.IsIndex() && !d.MediaType.IsImage() {
		return nil
	}
	f, err := memo.read(dir, d)
	var unread *fs.PathError
	if errors.As(err, &unread) {
		return fmt.Errorf("the layout is damaged (delete %s and build again): %w", dir, err)
	}
	if err != nil {
		return err
	}
	for _, c := range f.children {
		if err := markLive(dir, c, live, memo); err != nil {
			return err
		}
	}
	for _, b := range f.blobs {
		live[b] = true
	}
	return nil
}

// manifestMemo remembers what a layout's manifests say, by digest. A blob
// holds what its digest names, so what a manifest says never changes. A nil
// memo reads the manifest every time.
type manifestMemo map[v1.Hash]manifestFacts

// manifestFacts is what an index or an image manifest says.
type manifestFacts struct {
	children []v1.Descriptor // an index's manifests
	blobs    []v1.Hash       // an image manifest's config and layers
	subject  *v1.Hash        // an image manifest's subject
}

// read returns what the index or image manifest d says. A blob it cannot
// read is an *fs.PathError.
func (m manifestMemo) read(dir string, d v1.Descriptor) (manifestFacts, error) {
	if f, ok := m[d.Digest]; ok {
		return f, nil
	}
	raw, err := os.ReadFile(blobPath(dir, d.Digest))
	if err != nil {
		return manifestFacts{}, err
	}
	var f manifestFacts
	if d.MediaType.IsIndex() {
		im, err := v1.ParseIndexManifest(bytes.NewReader(raw))
		if err != nil {
			return manifestFacts{}, fmt.Errorf("reading index %s: %w", d.Digest, err)
		}
		f.children = im.Manifests
	} else {
		mf, err := v1.ParseManifest(bytes.NewReader(raw))
		if err != nil {
			return manifestFacts{}, fmt.Errorf("reading manifest %s: %w", d.Digest, err)
		}
		f.blobs = append(f.blobs, mf.Config.Digest)
		for _, l := range mf.Layers {
			f.blobs = append(f.blobs, l.Digest)
		}
		if mf.Subject != nil {
			f.subject = &mf.Subject.Digest
		}
	}
	if m != nil {
		m[d.Digest] = f
	}
	return f, nil
}
