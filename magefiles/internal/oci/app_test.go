package oci

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/minimalbuild/minimal/magefiles/internal/cache"
)

func TestAppConfigDefaults(t *testing.T) {
	amd64 := v1.Platform{OS: "linux", Architecture: "amd64"}
	tests := []struct {
		name string
		why  string
		app  App
		want Config
	}{
		{
			name: "bare",
			why:  "an app that sets nothing runs its binary under AppDir as DefaultUser",
			app:  App{Name: "hello", Platform: amd64},
			want: Config{Platform: amd64, Entrypoint: []string{"/ko-app/hello"}, Env: []string{}, User: DefaultUser},
		},
		{
			name: "data",
			why:  "an app with a data directory is told where it is in the image",
			app:  App{Name: "greet", Platform: amd64, Data: "/host/kodata", Env: map[string]string{"B": "2", "A": "1"}},
			want: Config{Platform: amd64, Entrypoint: []string{"/ko-app/greet"}, Env: []string{"A=1", "B=2", DataPathEnv + "=" + DataDir}, User: DefaultUser},
		},
		{
			name: "init",
			why:  "an app under an init starts it first, with the entrypoint as its arguments",
			app:  App{Name: "pausle", Platform: amd64, Init: &Init{Path: "/init", Binary: []byte("x")}},
			want: Config{Platform: amd64, Entrypoint: []string{"/init", "/ko-app/pausle"}, Env: []string{}, User: DefaultUser},
		},
		{
			name: "own values win",
			why:  "the app's entrypoint, user and environment override every default",
			app:  App{Name: "x", Platform: amd64, Data: "/d", Entrypoint: []string{"/bin/x"}, User: "0", Env: map[string]string{DataPathEnv: "/elsewhere"}},
			want: Config{Platform: amd64, Entrypoint: []string{"/bin/x"}, Env: []string{DataPathEnv + "=/elsewhere"}, User: "0"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, tt.app.Config()); diff != "" {
				t.Errorf("Config (-want +got), %s:\n%s", tt.why, diff)
			}
		})
	}
}

func TestAppHostEnv(t *testing.T) {
	a := App{Name: "greet", Data: "/host/kodata", Env: map[string]string{"A": "1", "B": "image"}}
	got := a.HostEnv(map[string]string{"B": "test"})
	want := []string{"A=1", "B=test", DataPathEnv + "=/host/kodata"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("HostEnv (-want +got): the host's data directory, and the test's env last:\n%s", diff)
	}
}

func TestAppStoreRestore(t *testing.T) {
	data := t.TempDir()
	if err := os.WriteFile(filepath.Join(data, "msg"), []byte("hi"), 0o644); err != nil {
		t.Fatal(err)
	}
	a := App{Name: "greet", Platform: v1.Platform{OS: "linux", Architecture: "386"}, Data: data, Cmd: []string{"world"}}
	bin := []byte("\x7fELF not really")
	layers, err := a.Layers(bin)
	if err != nil {
		t.Fatal(err)
	}
	direct, err := a.Image(layers)
	if err != nil {
		t.Fatal(err)
	}
	st, blobs, err := a.Store(bin)
	if err != nil {
		t.Fatal(err)
	}
	restored, err := a.Restore(st, func(i int) (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(blobs[i])), nil })
	if err != nil {
		t.Fatal(err)
	}
	want, _ := direct.Digest()
	got, err := restored.Digest()
	if err != nil || got != want {
		t.Errorf("restored image digest %v (%v), want the built image's %v", got, err, want)
	}
	content, pull, err := Sizes(direct)
	if err != nil || st.Content != content || st.Pull != pull {
		t.Errorf("stored sizes %d/%d, want %d/%d (%v)", st.Content, st.Pull, content, pull, err)
	}
	if _, err := a.Restore(Stored{}, nil); err == nil {
		t.Error("Restore of a description with no layers succeeded")
	}
}

func TestAppInputs(t *testing.T) {
	data := t.TempDir()
	write := func(content string) {
		if err := os.WriteFile(filepath.Join(data, "msg"), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("one")
	a := App{Name: "greet", Data: data}
	key := func(a App) string {
		t.Helper()
		ins, err := a.Inputs()
		if err != nil {
			t.Fatal(err)
		}
		k := cache.NewKey("image")
		if err := k.Inputs(ins); err != nil {
			t.Fatal(err)
		}
		return k.Sum().String()
	}
	base := key(a)
	tests := []struct {
		why    string
		change func() App
	}{
		{"a data file's content counts", func() App { write("two"); return a }},
		{"the configuration counts", func() App { b := a; b.Cmd = []string{"x"}; return b }},
		{"the name counts", func() App { b := a; b.Name = "other"; return b }},
	}
	for _, tt := range tests {
		if key(tt.change()) == base {
			t.Errorf("inputs did not change: %s", tt.why)
		}
		write("one")
	}
	if key(a) != base {
		t.Error("the same app reports different inputs")
	}
}

// TestAppLayersErrors checks whole messages of App.Layers: each part of their context
// once, the layer's role first, then the host file at fault.
func TestAppLayersErrors(t *testing.T) {
	root := t.TempDir()
	kodata := filepath.Join(root, "kodata")
	if err := os.Mkdir(kodata, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../secret", filepath.Join(kodata, "evil")); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		app  App
		want string
	}{
		{
			name: "a data link that leaves the directory",
			app:  App{Name: "greet", Data: kodata},
			want: "data layer: " + filepath.Join(kodata, "evil") + ": link to ../secret leaves the directory",
		},
		{
			name: "an extra file that is a directory",
			app:  App{Name: "greet", Files: []HostFile{{From: kodata, To: "/etc/x"}}},
			want: "files layer: " + kodata + " is not a regular file (mode drwxr-xr-x)",
		},
	}
	for _, tt := range tests {
		_, err := tt.app.Layers([]byte("\x7fELF"))
		if err == nil || err.Error() != tt.want {
			t.Errorf("%s: Layers error = %v, want %q", tt.name, err, tt.want)
		}
	}
}

func TestAppInitLayerSameInEveryApp(t *testing.T) {
	init := &Init{Path: "/init", Binary: []byte("\x7fELF the init")}
	var digests []v1.Hash
	for _, a := range []App{
		{Name: "one", Init: init},
		{Name: "two", Init: init, Data: t.TempDir(), Env: map[string]string{"A": "1"}},
	} {
		layers, err := a.Layers([]byte("binary of " + a.Name))
		if err != nil {
			t.Fatal(err)
		}
		d, err := layers[len(layers)-2].Digest()
		if err != nil {
			t.Fatal(err)
		}
		digests = append(digests, d)
	}
	if digests[0] != digests[1] {
		t.Errorf("the init layer differs between apps: %v, %v; a registry would store it twice", digests[0], digests[1])
	}
}
