package publish_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/minimalbuild/minimal/magefiles/internal/oci"
	"github.com/minimalbuild/minimal/magefiles/internal/publish"
)

// checkLayout reads the layout at dir back with go-containerregistry and
// checks that it holds exactly want (entry name to digest), each entry a
// valid OCI index or image, in order, and no blob it does not refer to.
func checkLayout(t *testing.T, dir string, want map[string]v1.Hash) {
	t.Helper()
	lp, err := layout.FromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	top, err := lp.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	im, err := top.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]v1.Hash{}
	var names []string
	for _, d := range im.Manifests {
		name := d.Annotations[publish.RefName]
		names = append(names, name)
		got[name] = d.Digest
		switch d.MediaType {
		case types.OCIImageIndex:
			ii, err := top.ImageIndex(d.Digest)
			if err != nil {
				t.Fatal(err)
			}
			if err := validate.Index(ii); err != nil {
				t.Errorf("entry %s: validate.Index: %v", name, err)
			}
			checkOCITypes(t, ii)
		case types.OCIManifestSchema1:
			img, err := top.Image(d.Digest)
			if err != nil {
				t.Fatal(err)
			}
			if err := validate.Image(img); err != nil {
				t.Errorf("entry %s: validate.Image: %v", name, err)
			}
			cf, err := img.ConfigFile()
			if err != nil {
				t.Fatal(err)
			}
			if d.Platform == nil || name != strings.Split(name, "/")[0]+"/"+cf.Architecture {
				t.Errorf("entry %s is the image for %s (descriptor platform %v)", name, cf.Platform(), d.Platform)
			}
		default:
			t.Errorf("entry %s has media type %s", name, d.MediaType)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("layout entries (-want +got):\n%s", diff)
	}
	sorted := slices.Clone(names)
	slices.SortFunc(sorted, func(a, b string) int {
		// By app, the app's index first, then by platform.
		return strings.Compare(strings.Replace(a, "/", "\x00", 1), strings.Replace(b, "/", "\x00", 1))
	})
	if diff := cmp.Diff(sorted, names); diff != "" {
		t.Errorf("entries are not in order (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(reachable(t, dir), blobFiles(t, dir)); diff != "" {
		t.Errorf("blob files differ from the blobs the layout refers to (-referenced +present):\n%s", diff)
	}
	for _, f := range []string{"oci-layout", "index.json"} {
		fi, err := os.Stat(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o644 {
			t.Errorf("%s has mode %v, want 0644", f, fi.Mode())
		}
	}
	checkNoTemps(t, dir)
}

// checkOCITypes walks an index and fails on any media type that is not OCI.
func checkOCITypes(t *testing.T, ii v1.ImageIndex) {
	t.Helper()
	im, err := ii.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if im.MediaType != types.OCIImageIndex {
		t.Errorf("index media type %s", im.MediaType)
	}
	for _, d := range im.Manifests {
		img, err := ii.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		m, err := img.Manifest()
		if err != nil {
			t.Fatal(err)
		}
		if d.MediaType != types.OCIManifestSchema1 || m.MediaType != types.OCIManifestSchema1 || m.Config.MediaType != types.OCIConfigJSON {
			t.Errorf("image %s: media types %s, %s, config %s", d.Digest, d.MediaType, m.MediaType, m.Config.MediaType)
		}
		for _, l := range m.Layers {
			if l.MediaType != types.OCILayer {
				t.Errorf("image %s: layer media type %s", d.Digest, l.MediaType)
			}
		}
	}
}

func checkNoTemps(t *testing.T, dir string) {
	t.Helper()
	err := filepath.WalkDir(filepath.Dir(dir), func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(d.Name(), ".tmp-") {
			t.Errorf("temporary file left behind: %s", p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// entries returns the layout entries an app's index should get: the index
// under the app's name and each image under <app>/<arch>.
func entries(t *testing.T, app string, idx v1.ImageIndex) map[string]v1.Hash {
	t.Helper()
	want := map[string]v1.Hash{app: digestOf(t, idx)}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range im.Manifests {
		want[app+"/"+d.Platform.Architecture] = d.Digest
	}
	return want
}

// union merges entry maps.
func union(ms ...map[string]v1.Hash) map[string]v1.Hash {
	out := map[string]v1.Hash{}
	for _, m := range ms {
		maps.Copy(out, m)
	}
	return out
}

func publishOne(t *testing.T, p publish.Interface, app string, idx v1.ImageIndex) []publish.Result {
	t.Helper()
	rs, err := p.Publish(context.Background(), app, idx, nil)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func TestLayoutPublish(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(t *testing.T, dir string)
		foreign bool // the layout holds entries without a name
	}{
		{"a missing directory is created", func(*testing.T, string) {}, false},
		{"an empty directory becomes the layout", func(t *testing.T, dir string) {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
		}, false},
		{"a layout made by another tool is added to", func(t *testing.T, dir string) {
			if _, err := layout.Write(dir, appIndex(t, "zeta", "v0")); err != nil {
				t.Fatal(err)
			}
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "images", "oci")
			tt.setup(t, dir)
			lp := publish.Layout(dir)
			hello, world := appIndex(t, "hello", "v1"), appIndex(t, "world", "v1")
			want := union(entries(t, "hello", hello), entries(t, "world", world))

			rs := publishOne(t, lp, "world", world)
			wantResults := []publish.Result{
				{Ref: "oci:" + dir + ":world", Digest: want["world"]},
				{Ref: "oci:" + dir + ":world/amd64", Digest: want["world/amd64"]},
				{Ref: "oci:" + dir + ":world/386", Digest: want["world/386"]},
			}
			if diff := cmp.Diff(wantResults, rs); diff != "" {
				t.Errorf("results (-want +got):\n%s", diff)
			}
			publishOne(t, lp, "hello", hello)

			if tt.foreign {
				checkForeignEntryKept(t, dir)
				return
			}
			checkLayout(t, dir, want)
		})
	}
}

// checkForeignEntryKept checks that a layout written by
// go-containerregistry kept its unnamed entries, sorted first, and their
// blobs.
func checkForeignEntryKept(t *testing.T, dir string) {
	t.Helper()
	im, err := v1.ParseIndexManifest(bytes.NewReader(readFile(t, filepath.Join(dir, "index.json"))))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range im.Manifests {
		names = append(names, d.Annotations[publish.RefName])
	}
	// layout.Write lists the index's own manifests at the top level.
	if diff := cmp.Diff([]string{"", "", "hello", "hello/386", "hello/amd64", "world", "world/386", "world/amd64"}, names); diff != "" {
		t.Errorf("entry names (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(reachable(t, dir), blobFiles(t, dir)); diff != "" {
		t.Errorf("blob files differ from the blobs the layout refers to (-referenced +present):\n%s", diff)
	}
}

func TestLayoutRepublishReplacesAndCollects(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "oci")
	lp := publish.Layout(dir)
	v1idx, v2idx, world := appIndex(t, "hello", "v1"), appIndex(t, "hello", "v2"), appIndex(t, "world", "v1")
	publishOne(t, lp, "hello", v1idx)
	publishOne(t, lp, "world", world)
	publishOne(t, lp, "hello", v2idx)
	checkLayout(t, dir, union(entries(t, "hello", v2idx), entries(t, "world", world)))

	present := blobFiles(t, dir)
	old, keep := allBlobs(t, v1idx), append(allBlobs(t, v2idx), allBlobs(t, world)...)
	var gone, shared []string
	for _, b := range old {
		if slices.Contains(keep, b) {
			shared = append(shared, b)
			if !slices.Contains(present, b) {
				t.Errorf("blob %s, still used, was removed", b)
			}
		} else {
			gone = append(gone, b)
			if slices.Contains(present, b) {
				t.Errorf("blob %s, only used by the replaced entry, is still there", b)
			}
		}
	}
	// The data layer is the same in every image, so some blobs must be
	// shared and others not, or the test proves nothing.
	if len(gone) == 0 || len(shared) == 0 {
		t.Fatalf("%d stale and %d shared blobs: the fixtures do not exercise collection", len(gone), len(shared))
	}

	// Publishing the same index again changes nothing.
	before := readFile(t, filepath.Join(dir, "index.json"))
	publishOne(t, lp, "hello", v2idx)
	if after := readFile(t, filepath.Join(dir, "index.json")); !bytes.Equal(before, after) {
		t.Errorf("republishing the same index changed index.json:\n%s\n---\n%s", before, after)
	}
	if diff := cmp.Diff(present, blobFiles(t, dir)); diff != "" {
		t.Errorf("republishing the same index changed the blobs (-before +after):\n%s", diff)
	}
}

// TestRemoveFromLayout checks that removing an app takes out its entries and
// the blobs only they used, keeps the other app's, and that removing an app
// the layout does not hold, or from no layout, changes nothing.
func TestRemoveFromLayout(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "oci")
	if err := publish.RemoveFromLayout(t.Context(), dir, "hello"); err != nil {
		t.Fatalf("removing from no layout: %v", err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("removing from no layout made %s: %v", dir, err)
	}
	lp := publish.Layout(dir)
	hello, world := appIndex(t, "hello", "v1"), appIndex(t, "world", "v1")
	publishOne(t, lp, "hello", hello)
	publishOne(t, lp, "world", world)
	if err := publish.RemoveFromLayout(t.Context(), dir, "hello"); err != nil {
		t.Fatal(err)
	}
	checkLayout(t, dir, entries(t, "world", world))
	if diff := cmp.Diff(reachable(t, dir), blobFiles(t, dir)); diff != "" {
		t.Errorf("blob files differ from the blobs the layout refers to (-referenced +present):\n%s", diff)
	}
	before := readFile(t, filepath.Join(dir, "index.json"))
	if err := publish.RemoveFromLayout(t.Context(), dir, "hello"); err != nil {
		t.Fatal(err)
	}
	if after := readFile(t, filepath.Join(dir, "index.json")); !bytes.Equal(before, after) {
		t.Errorf("removing an app the layout does not hold changed index.json")
	}
	if err := publish.RemoveFromLayout(t.Context(), dir, "../x"); err == nil {
		t.Errorf("removing an invalid app name succeeded")
	}
}

func TestLayoutOrderIndependent(t *testing.T) {
	apps := []string{"alpha", "beta", "gamma"}
	idxs := map[string]v1.ImageIndex{}
	for _, a := range apps {
		idxs[a] = appIndex(t, a, "v1")
	}
	write := func(order []string) string {
		dir := filepath.Join(t.TempDir(), "oci")
		lp := publish.Layout(dir)
		for _, a := range order {
			publishOne(t, lp, a, idxs[a])
		}
		return dir
	}
	a, b := write(apps), write([]string{"gamma", "alpha", "beta"})
	if ia, ib := readFile(t, filepath.Join(a, "index.json")), readFile(t, filepath.Join(b, "index.json")); !bytes.Equal(ia, ib) {
		t.Errorf("index.json depends on publish order:\n%s\n---\n%s", ia, ib)
	}
	if diff := cmp.Diff(blobFiles(t, a), blobFiles(t, b)); diff != "" {
		t.Errorf("blobs depend on publish order (-first +second):\n%s", diff)
	}
}

func TestLayoutConcurrent(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "oci")
	want := map[string]v1.Hash{}
	type job struct {
		app string
		idx v1.ImageIndex
	}
	var jobs []job
	for i := range 8 {
		app := fmt.Sprintf("app%d", i)
		old, idx := appIndex(t, app, "old"), appIndex(t, app, "new")
		// Every app is published twice, old then new, so collections run
		// while other publishes are writing blobs.
		jobs = append(jobs, job{app, old}, job{app, idx})
		maps.Copy(want, entries(t, app, idx))
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(jobs))
	for i := 0; i < len(jobs); i += 2 {
		wg.Add(1)
		go func(first, second job) {
			defer wg.Done()
			// A publisher per goroutine: they must still share one lock.
			lp := publish.Layout(dir)
			for _, j := range []job{first, second} {
				if _, err := lp.Publish(context.Background(), j.app, j.idx, nil); err != nil {
					errs <- err
				}
			}
		}(jobs[i], jobs[i+1])
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	checkLayout(t, dir, want)
}

func TestLayoutFailuresLeaveItIntact(t *testing.T) {
	base, err := oci.Layer([]oci.File{{Path: "/etc/extra", Mode: 0o644, Data: []byte("extra")}}, created)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name        string
		cancelFirst bool
		idx         func(t *testing.T, cancel context.CancelFunc) v1.ImageIndex
		want        string
	}{
		{"a layer that fails while it is read", false, func(t *testing.T, _ context.CancelFunc) v1.ImageIndex {
			return appIndex(t, "world", "v2", brokenLayer{Layer: base})
		}, "unexpected EOF"},
		{"a layer whose bytes do not match its digest", false, func(t *testing.T, _ context.CancelFunc) v1.ImageIndex {
			return appIndex(t, "world", "v2", brokenLayer{Layer: base, wrongContent: true})
		}, "content has digest"},
		{"an interrupt before anything is written", true, func(t *testing.T, _ context.CancelFunc) v1.ImageIndex {
			return appIndex(t, "world", "v2")
		}, "context canceled"},
		{"an interrupt while a layer is written", false, func(t *testing.T, cancel context.CancelFunc) v1.ImageIndex {
			return appIndex(t, "world", "v2", interruptingLayer{Layer: base, cancel: cancel})
		}, "context canceled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tt.cancelFirst {
				cancel()
			}
			dir := filepath.Join(t.TempDir(), "oci")
			lp := publish.Layout(dir)
			hello, world := appIndex(t, "hello", "v1"), appIndex(t, "world", "v1")
			publishOne(t, lp, "hello", hello)
			publishOne(t, lp, "world", world)
			index := readFile(t, filepath.Join(dir, "index.json"))
			blobs := blobFiles(t, dir)

			_, err := lp.Publish(ctx, "world", tt.idx(t, cancel), nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Publish error = %v, want one containing %q", err, tt.want)
			}
			if got := readFile(t, filepath.Join(dir, "index.json")); !bytes.Equal(index, got) {
				t.Errorf("a failed publish changed index.json:\n%s\n---\n%s", index, got)
			}
			for _, b := range blobs {
				if !slices.Contains(blobFiles(t, dir), b) {
					t.Errorf("a failed publish removed blob %s", b)
				}
			}
			checkNoTemps(t, dir)

			// The next publish succeeds and collects what the failure left.
			publishOne(t, lp, "hello", hello)
			checkLayout(t, dir, union(entries(t, "hello", hello), entries(t, "world", world)))
		})
	}
}

func TestLayoutLeftoversRemoved(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "oci")
	lp := publish.Layout(dir)
	hello := appIndex(t, "hello", "v1")
	publishOne(t, lp, "hello", hello)
	// What a killed process leaves: temporary files and a blob written
	// before index.json was replaced.
	for _, f := range []string{".tmp-index.json-123", "blobs/sha256/.tmp-abc-456"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("half"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	orphan := filepath.Join(dir, "blobs", "sha256", strings.Repeat("ab", 32))
	if err := os.WriteFile(orphan, []byte("orphan"), 0o644); err != nil {
		t.Fatal(err)
	}
	publishOne(t, lp, "hello", hello)
	checkLayout(t, dir, entries(t, "hello", hello))
}

func TestLayoutRefuses(t *testing.T) {
	tests := []struct {
		name  string
		app   string
		files map[string]string
		want  string
	}{
		{"a directory with other files is not ours to fill", "hello", map[string]string{"notes.txt": "mine"}, "not an OCI image layout"},
		{"a layout of an unknown version", "hello", map[string]string{"oci-layout": `{"imageLayoutVersion":"2.0.0"}`}, "imageLayoutVersion"},
		{"a damaged index.json", "hello", map[string]string{"oci-layout": `{"imageLayoutVersion":"1.0.0"}`, "index.json": "{"}, "index.json"},
		{"an app name with a colon breaks oci:dir:name", "a:b", nil, "invalid app name"},
		{"an app name with a slash", "../x", nil, "invalid app name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for f, content := range tt.files {
				if err := os.WriteFile(filepath.Join(dir, f), []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			_, err := publish.Layout(dir).Publish(context.Background(), tt.app, appIndex(t, "hello", "v1"), nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Publish error = %v, want one containing %q", err, tt.want)
			}
			entries, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) != len(tt.files) {
				var names []string
				for _, e := range entries {
					names = append(names, e.Name())
				}
				t.Errorf("directory now holds %q; a refused publish must write nothing", names)
			}
		})
	}
}
