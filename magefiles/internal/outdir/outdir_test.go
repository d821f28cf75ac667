package outdir

import (
	"bytes"
	"context"
	"crypto/sha256"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/minimalbuild/minimal/magefiles/internal/oci"
	"github.com/minimalbuild/minimal/magefiles/manifest"
)

// testApp is an app with one tiny image per platform.
func testApp(t *testing.T, name string, bin []byte) App {
	t.Helper()
	a := App{Name: name, Tags: []string{"latest"}}
	for _, arch := range []string{"amd64", "386"} {
		img := oci.App{Name: name, Platform: v1.Platform{OS: "linux", Architecture: arch}}
		layers, err := img.Layers(bin)
		if err != nil {
			t.Fatal(err)
		}
		image, err := img.Image(layers)
		if err != nil {
			t.Fatal(err)
		}
		a.Platforms = append(a.Platforms, Platform{
			Platform: manifest.Platform{OS: "linux", Arch: arch},
			Image:    image,
			Binary:   Binary{Size: int64(len(bin)), SHA256: sha256.Sum256(bin), Read: func() ([]byte, error) { return bin, nil }},
		})
	}
	return a
}

func TestPublishWritesOnlyWhatChanged(t *testing.T) {
	out := t.TempDir()
	steps := []struct {
		why       string
		apps      []App
		wantWrote bool
	}{
		{"a first publish writes everything", []App{testApp(t, "one", []byte("1")), testApp(t, "two", []byte("2"))}, true},
		{"the same apps again write nothing", []App{testApp(t, "one", []byte("1")), testApp(t, "two", []byte("2"))}, false},
		{"one changed binary is written", []App{testApp(t, "one", []byte("1")), testApp(t, "two", []byte("22"))}, true},
		{"publishing one app rewrites the report, and keeps the other app (checked below)", []App{testApp(t, "two", []byte("22"))}, true},
	}
	for _, st := range steps {
		_, wrote, err := Publish(t.Context(), out, st.apps, false, nil)
		if err != nil {
			t.Fatalf("%s: %v", st.why, err)
		}
		if (wrote > 0) != st.wantWrote {
			t.Errorf("%s: wrote %d things", st.why, wrote)
		}
	}
	got, err := os.ReadFile(BinaryPath(out, "two", manifest.Platform{OS: "linux", Arch: "386"}))
	if err != nil || string(got) != "22" {
		t.Errorf("two's 386 binary is %q (%v), want the last one published", got, err)
	}
	idxs, err := Indexes(out, []string{"one", "two"})
	if err != nil || len(idxs) != 2 {
		t.Fatalf("Indexes: %v", err)
	}
	if _, err := Indexes(out, []string{"three"}); err == nil || !strings.Contains(err.Error(), "build it first") {
		t.Errorf("Indexes of an app never built: %v, want an error saying to build it first", err)
	}
	if _, err := os.Stat(filepath.Join(out, StateFile)); err != nil {
		t.Errorf("no state file after a publish: %v", err)
	}
}

func TestLockMakesBuildsTakeTurns(t *testing.T) {
	out, locks := t.TempDir(), filepath.Join(t.TempDir(), "locks")
	unlock, err := Lock(t.Context(), out, locks, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	if _, err := Lock(ctx, out, locks, &log); err == nil {
		t.Fatal("a second build took the lock of a held output directory")
	}
	if !strings.Contains(log.String(), "waiting for another build writing "+out) {
		t.Errorf("the waiting build said %q, want that it waits for another build", log.String())
	}
	unlock()
	unlock2, err := Lock(t.Context(), out, locks, &log)
	if err != nil {
		t.Fatalf("after unlock: %v", err)
	}
	unlock2()
}

func TestWorkDirRemovesDeadBuilds(t *testing.T) {
	dir := t.TempDir()
	// No process has pid 2^22+1 on Linux, whose pid_max is at most 2^22.
	dead := filepath.Join(dir, "work-4194305-x")
	if err := os.Mkdir(dead, 0o755); err != nil {
		t.Fatal(err)
	}
	mine, err := WorkDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dead); !os.IsNotExist(err) {
		t.Errorf("a dead build's work directory is still there: %v", err)
	}
	if !strings.HasPrefix(filepath.Base(mine), "work-") {
		t.Errorf("work directory %s is not named after the build", mine)
	}
	again, err := WorkDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(mine); err != nil {
		t.Errorf("a live build's work directory was removed by another: %v", err)
	}
	os.RemoveAll(again)
}

// TestPublishEveryAppPrunes checks that a publish of every app removes what
// the last one published for an app, or a platform, that is gone, and that a
// publish of some apps keeps the others.
func TestPublishEveryAppPrunes(t *testing.T) {
	out := t.TempDir()
	amd64, i386 := manifest.Platform{OS: "linux", Arch: "amd64"}, manifest.Platform{OS: "linux", Arch: "386"}
	onlyAMD64 := func(a App) App {
		a.Platforms = a.Platforms[:1]
		return a
	}
	steps := []struct {
		why   string
		apps  []App
		every bool
		have  []string // apps the layout holds after
		files []string // binaries and tarballs there after
	}{
		{"a first publish", []App{testApp(t, "one", []byte("1")), testApp(t, "two", []byte("2"))}, true,
			[]string{"one", "two"}, []string{"one amd64", "one 386", "two amd64", "two 386"}},
		{"some apps keep the others", []App{testApp(t, "one", []byte("1"))}, false,
			[]string{"one", "two"}, []string{"one amd64", "one 386", "two amd64", "two 386"}},
		{"every app: two and one's 386 are gone", []App{onlyAMD64(testApp(t, "one", []byte("1")))}, true,
			[]string{"one"}, []string{"one amd64"}},
		{"and come back when built again", []App{testApp(t, "one", []byte("1")), testApp(t, "two", []byte("2"))}, true,
			[]string{"one", "two"}, []string{"one amd64", "one 386", "two amd64", "two 386"}},
	}
	for _, st := range steps {
		if _, _, err := Publish(t.Context(), out, st.apps, st.every, nil); err != nil {
			t.Fatalf("%s: %v", st.why, err)
		}
		for _, app := range []string{"one", "two"} {
			_, err := Indexes(out, []string{app})
			if want := slices.Contains(st.have, app); (err == nil) != want {
				t.Errorf("%s: the layout has %s: %v, want %v", st.why, app, err == nil, want)
			}
			for _, p := range []manifest.Platform{amd64, i386} {
				want := slices.Contains(st.files, app+" "+p.Arch)
				for _, path := range []string{BinaryPath(out, app, p), filepath.Join(out, "tar", app+"-"+p.Arch+".tar")} {
					if _, err := os.Stat(path); (err == nil) != want {
						t.Errorf("%s: %s is there: %v, want %v", st.why, path, err == nil, want)
					}
				}
			}
		}
	}
	// No blob of a pruned image is left behind.
	blobs, err := os.ReadDir(filepath.Join(out, "oci", "blobs", "sha256"))
	if err != nil {
		t.Fatal(err)
	}
	final := t.TempDir()
	if _, _, err := Publish(t.Context(), final, steps[len(steps)-1].apps, true, nil); err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadDir(filepath.Join(final, "oci", "blobs", "sha256"))
	if err != nil {
		t.Fatal(err)
	}
	if len(blobs) != len(want) {
		t.Errorf("the pruned layout holds %d blobs, a fresh one %d", len(blobs), len(want))
	}
}
