package toolchain

import (
	"strings"
	"testing"

	"github.com/minimalbuild/minimal/magefiles/manifest"
)

// TestGoEnv checks that the cross-compilation settings win over the
// environment of the process and over the app's env, which keeps its other
// variables.
func TestGoEnv(t *testing.T) {
	t.Setenv("GOARCH", "arm64")
	t.Setenv("CGO_ENABLED", "1")
	for _, arch := range []string{"amd64", "386"} {
		target, err := Lookup(manifest.Platform{OS: "linux", Arch: arch})
		if err != nil {
			t.Fatal(err)
		}
		env := GoEnv(manifest.Spec{Fields: manifest.Fields{Env: map[string]string{"GOARCH": "", "GOOS": "darwin", "GOAMD64": "v2"}}}, target)
		// As os/exec does with repeated names, the last value is the one used.
		got := map[string]string{}
		for _, kv := range env {
			k, v, _ := strings.Cut(kv, "=")
			got[k] = v
		}
		want := map[string]string{"GOARCH": arch, "GOOS": "linux", "CGO_ENABLED": "0", "GOAMD64": "v2"}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s: %s=%q, want %q", arch, k, got[k], v)
			}
		}
	}
}
