package attest_test

import (
	"context"
	"errors"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/minimalbuild/minimal/magefiles/internal/oci"
	"github.com/minimalbuild/minimal/magefiles/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

var (
	amd64   = v1.Platform{OS: "linux", Architecture: "amd64"}
	created = time.Unix(1700000000, 0).UTC()
)

// image builds a FROM-scratch image of app holding a data layer with two
// files (and a directory and a link, which documents leave out) and bin at
// /ko-app/<app>, the way the build lays them out.
func image(t *testing.T, app string, p v1.Platform, bin []byte) v1.Image {
	t.Helper()
	data, err := oci.Layer([]oci.File{
		{Path: "/var/run/ko/index.html", Mode: 0o644, Data: []byte("<p>hi</p>\n")},
		{Path: "/var/run/ko/css", Mode: 0o755 | os.ModeDir},
		{Path: "/var/run/ko/css/site.css", Mode: 0o644, Data: []byte("p { margin: 0 }\n")},
		{Path: "/var/run/ko/latest", Mode: os.ModeSymlink, Link: "index.html"},
	}, created)
	if err != nil {
		t.Fatal(err)
	}
	binLayer, err := oci.BinaryLayer(app, bin, created)
	if err != nil {
		t.Fatal(err)
	}
	img, err := oci.Image(oci.Config{Platform: p, Entrypoint: []string{oci.AppDir + "/" + app}, Created: created}, data, binLayer)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

var (
	modAppOnce sync.Once
	modAppBin  []byte
	modAppErr  string // why it could not be built: a reason to skip
	modAppFail string // how the build failed: a reason to fail
)

// modApp returns testdata/modapp built for linux/amd64 with -trimpath and
// -s -w (the strip pass): a Go program that links one module,
// golang.org/x/sync, from the Go module cache or the module proxy.
func modApp(t *testing.T) []byte {
	t.Helper()
	modAppOnce.Do(func() {
		goBin, err := exec.LookPath("go")
		if err != nil {
			modAppErr = "go is not on PATH"
			return
		}
		src, err := filepath.Abs(filepath.Join("testdata", "modapp"))
		if err != nil {
			modAppFail = err.Error()
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		env := append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=readonly -buildvcs=false", "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
		// Fetching the module is the part that needs the network.
		dl := exec.CommandContext(ctx, goBin, "mod", "download", "golang.org/x/sync")
		dl.Dir, dl.Env = src, env
		if out, err := dl.CombinedOutput(); err != nil {
			modAppErr = "go cannot fetch golang.org/x/sync: " + strings.TrimSpace(string(out))
			return
		}
		dir, err := os.MkdirTemp("", "modapp-")
		if err != nil {
			modAppFail = err.Error()
			return
		}
		defer os.RemoveAll(dir)
		exe := filepath.Join(dir, "modapp")
		build := exec.CommandContext(ctx, goBin, "build", "-trimpath", "-ldflags=-s -w", "-o", exe, ".")
		build.Dir, build.Env = src, env
		if out, err := build.CombinedOutput(); err != nil {
			modAppFail = "go build: " + err.Error() + "\n" + string(out)
			return
		}
		if modAppBin, err = os.ReadFile(exe); err != nil {
			modAppFail = err.Error()
		}
	})
	switch {
	case modAppFail != "":
		t.Fatal(modAppFail)
	case modAppErr != "":
		testenv.Require(t, errors.New(modAppErr), "let go reach the Go module proxy")
	}
	return modAppBin
}
