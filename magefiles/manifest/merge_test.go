package manifest

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func ptr(s string) *string { return &s }

func boolPtr(b bool) *bool { return &b }

func TestUsesInit(t *testing.T) {
	for _, tt := range []struct {
		init *bool
		want bool
	}{{nil, false}, {boolPtr(false), false}, {boolPtr(true), true}} {
		if got := (Image{Init: tt.init}).UsesInit(); got != tt.want {
			t.Errorf("Image{Init: %v}.UsesInit() = %v, want %v", tt.init, got, tt.want)
		}
	}
}

func TestMerge(t *testing.T) {
	tests := []struct {
		name             string
		base, over, want Fields
	}{
		{
			name: "unset values keep the base, nil staying nil",
			base: Fields{Lang: "c", Flags: []string{"-O2"}},
			over: Fields{},
			want: Fields{Lang: "c", Flags: []string{"-O2"}},
		},
		{
			name: "set scalars and lists replace the base's whole",
			base: Fields{Lang: "c", Output: "elf", Flags: []string{"-O2", "-g"}, Src: []string{"a.c"}},
			over: Fields{Lang: "asm", Output: "flat", Flags: []string{"-Os"}},
			want: Fields{Lang: "asm", Output: "flat", Flags: []string{"-Os"}, Src: []string{"a.c"}},
		},
		{
			name: "an empty list is set: shrink [] over [strip] means no pass",
			base: Fields{Shrink: []string{"strip"}, Tags: []string{"latest"}},
			over: Fields{Shrink: []string{}, Tags: []string{}},
			want: Fields{Shrink: []string{}, Tags: []string{}},
		},
		{
			name: "nil shrink over unset shrink stays unset, for Spec's default",
			base: Fields{},
			over: Fields{Flags: []string{"-v"}},
			want: Fields{Flags: []string{"-v"}},
		},
		{
			name: "maps merge key by key, the override winning",
			base: Fields{Env: map[string]string{"A": "1", "B": "1"}, Defines: map[string]string{"X": ""}},
			over: Fields{Env: map[string]string{"B": "2", "C": "2"}},
			want: Fields{Env: map[string]string{"A": "1", "B": "2", "C": "2"}, Defines: map[string]string{"X": ""}},
		},
		{
			name: "an empty map over nil is set and empty",
			base: Fields{},
			over: Fields{Env: map[string]string{}},
			want: Fields{Env: map[string]string{}},
		},
		{
			name: "image merges field by field, its maps key by key",
			base: Fields{Image: Image{
				User: "1000", Workdir: "/srv", Cmd: []string{"a"}, Ports: []string{"80/tcp"},
				Env: map[string]string{"A": "1"}, Labels: map[string]string{"team": "core"},
				Files: []File{{From: "a", To: "/a"}},
			}},
			over: Fields{Image: Image{
				User: "0", Cmd: []string{"b", "c"},
				Env: map[string]string{"B": "2"}, Annotations: map[string]string{"k": "v"},
			}},
			want: Fields{Image: Image{
				User: "0", Workdir: "/srv", Cmd: []string{"b", "c"}, Ports: []string{"80/tcp"},
				Env: map[string]string{"A": "1", "B": "2"}, Labels: map[string]string{"team": "core"},
				Annotations: map[string]string{"k": "v"}, Files: []File{{From: "a", To: "/a"}},
			}},
		},
		{
			name: "test is replaced as a whole, env and all",
			base: Fields{Test: &Test{Stdout: ptr("hi\n"), Env: map[string]string{"A": "1"}, Exit: 2}},
			over: Fields{Test: &Test{Signal: "TERM", After: time.Second}},
			want: Fields{Test: &Test{Signal: "TERM", After: time.Second}},
		},
		{
			name: "an unset test keeps the base's",
			base: Fields{Test: &Test{Exit: 2}},
			over: Fields{},
			want: Fields{Test: &Test{Exit: 2}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := merge(tt.base, tt.over)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("merge (-want +got):\n%s", diff)
			}
		})
	}
}

// TestMergeCopies checks that a merged value shares no memory with its inputs, so that
// changing a Spec cannot change the App it came from.
func TestMergeCopies(t *testing.T) {
	base := Fields{
		Flags: []string{"-O2"}, Env: map[string]string{"A": "1"},
		Image: Image{Cmd: []string{"x"}, Files: []File{{From: "a", To: "/a"}}, Init: boolPtr(true)},
		Test:  &Test{Stdout: ptr("hi"), Args: []string{"-v"}, Env: map[string]string{"T": "1"}},
	}
	got := merge(base, Fields{})
	*got.Image.Init = false
	got.Flags[0] = "changed"
	got.Env["A"] = "changed"
	got.Image.Cmd[0] = "changed"
	got.Image.Files[0].From = "changed"
	*got.Test.Stdout = "changed"
	got.Test.Args[0] = "changed"
	got.Test.Env["T"] = "changed"
	want := Fields{
		Flags: []string{"-O2"}, Env: map[string]string{"A": "1"},
		Image: Image{Cmd: []string{"x"}, Files: []File{{From: "a", To: "/a"}}, Init: boolPtr(true)},
		Test:  &Test{Stdout: ptr("hi"), Args: []string{"-v"}, Env: map[string]string{"T": "1"}},
	}
	if diff := cmp.Diff(want, base); diff != "" {
		t.Errorf("changing the merged value changed its base (-want +got):\n%s", diff)
	}
}

// parseSpecs parses a manifest given inline, against the fixture repository, and
// returns its specs by "app/arch".
func parseSpecs(t *testing.T, root, yaml string) (*Manifest, map[string]Spec) {
	t.Helper()
	m, err := Parse("minimal.yaml", root, []byte(yaml))
	if err != nil {
		t.Fatalf("Parse:\n%v", err)
	}
	specs, err := m.Specs()
	if err != nil {
		t.Fatalf("Specs: %v", err)
	}
	out := make(map[string]Spec)
	for _, s := range specs {
		out[s.App+"/"+s.Platform.Arch] = s
	}
	return m, out
}

// TestPrecedence checks the order of the four layers, lowest first: defaults,
// defaults.targets, the app, the app's targets.
func TestPrecedence(t *testing.T) {
	root := fixtureRepo(t)
	_, specs := parseSpecs(t, root, `
version: 1
defaults:
  flags: [defaults]
  ldflags: [defaults]
  env: {D: defaults, DT: defaults, A: defaults, AT: defaults}
  targets:
    "386":
      flags: [defaults-386]
      ldflags: [defaults-386]
      env: {DT: defaults-386, A: defaults-386, AT: defaults-386}
apps:
  - name: app
    src: apps/hello
    ldflags: [app]
    env: {A: app, AT: app}
    targets:
      "386": {env: {AT: app-386}}
`)
	tests := []struct {
		arch string
		want Spec
	}{
		{"amd64", Spec{Fields: Fields{
			Flags:   []string{"defaults"},
			Ldflags: []string{"app"},
			Env:     map[string]string{"D": "defaults", "DT": "defaults", "A": "app", "AT": "app"},
		}}},
		{"386", Spec{Fields: Fields{
			Flags:   []string{"defaults-386"}, // defaults.targets wins over defaults
			Ldflags: []string{"app"},          // the app wins over defaults.targets
			Env:     map[string]string{"D": "defaults", "DT": "defaults-386", "A": "app", "AT": "app-386"},
		}}},
	}
	for _, tt := range tests {
		got := specs["app/"+tt.arch]
		got = Spec{Fields: Fields{Flags: got.Flags, Ldflags: got.Ldflags, Env: got.Env}}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.arch, diff)
		}
	}
}

// TestShrinkDefault checks that shrink defaults to [strip] only when no layer sets it,
// that [] anywhere means no pass, and that a flat binary has no pass by default.
func TestShrinkDefault(t *testing.T) {
	root := fixtureRepo(t)
	tests := []struct {
		name, yaml string
		want       map[string][]string // by arch
	}{
		{
			name: "unset everywhere",
			yaml: "apps: [{name: a, src: apps/hello}]",
			want: map[string][]string{"amd64": {"strip"}, "386": {"strip"}},
		},
		{
			name: "empty in defaults",
			yaml: "defaults: {shrink: []}\napps: [{name: a, src: apps/hello}]",
			want: map[string][]string{"amd64": {}, "386": {}},
		},
		{
			name: "empty on the app over defaults",
			yaml: "defaults: {shrink: [strip, sstrip]}\napps: [{name: a, src: apps/hello, shrink: []}]",
			want: map[string][]string{"amd64": {}, "386": {}},
		},
		{
			name: "empty for one target",
			yaml: "apps: [{name: a, src: apps/hello, shrink: [pack], targets: {386: {shrink: []}}}]",
			want: map[string][]string{"amd64": {"pack"}, "386": {}},
		},
		{
			name: "set for one target only",
			yaml: "apps: [{name: a, src: apps/hello, targets: {amd64: {shrink: sstrip}}}]",
			want: map[string][]string{"amd64": {"sstrip"}, "386": {"strip"}},
		},
		{
			name: "flat output",
			yaml: "apps: [{name: a, src: apps/nasm/tiny.nasm, output: flat}]",
			want: map[string][]string{"amd64": {}, "386": {}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, specs := parseSpecs(t, root, "version: 1\n"+tt.yaml)
			got := make(map[string][]string)
			for arch, s := range specs {
				got[strings.TrimPrefix(arch, "a/")] = s.Shrink
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("shrink by arch (-want +got):\n%s", diff)
			}
			// The App keeps "unset" as nil, so Spec can still tell.
			if app, _ := m.App("a"); tt.name == "unset everywhere" && app.Shrink != nil {
				t.Errorf("App.Shrink = %#v; want nil", app.Shrink)
			}
		})
	}
}

func TestInferLang(t *testing.T) {
	root := fixtureRepo(t)
	tests := []struct {
		name    string
		src     []string
		want    string
		problem string
	}{
		{"a go package directory, also holding a .s file", []string{"apps/goasm"}, "go", ""},
		{"a c directory, also holding a .S file", []string{"apps/cmix"}, "c", ""},
		{"a c file and a header", []string{"apps/cdemo/main.c", "apps/cdemo/greet.h"}, "c", ""},
		{"a header alone is c", []string{"apps/cdemo/greet.h"}, "c", ""},
		{"a directory of GAS files", []string{"apps/asmdir"}, "asm", ""},
		{".S", []string{"apps/gas/i386.S"}, "asm", ""},
		{".s", []string{"apps/goasm/add_amd64.s"}, "asm", ""},
		{".asm and .nasm", []string{"apps/nasm/hello.asm", "apps/nasm/tiny.nasm"}, "asm", ""},
		{"a go file", []string{"apps/mixed/a.go"}, "go", ""},
		{
			"go and c files together", []string{"apps/mixed/a.go", "apps/mixed/b.c"}, "",
			`cannot infer lang: "apps/mixed/a.go" is go but "apps/mixed/b.c" is c; set lang`,
		},
		{
			"a file of no known lang", []string{"apps/docs/README.md"}, "",
			`cannot infer lang from "apps/docs/README.md"; want a .go, .c, .h, .S, .s, .asm or .nasm file, or set lang`,
		},
		{
			"a directory of headers only", []string{"apps/headers"}, "",
			`cannot infer lang: directory "apps/headers" holds no .go, .c or assembly (.S, .s, .asm, .nasm) files; set lang`,
		},
		{
			"subdirectories do not count", []string{"apps"}, "",
			`cannot infer lang: directory "apps" holds no .go, .c or assembly (.S, .s, .asm, .nasm) files; set lang`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, problem := inferLang(root, tt.src)
			if got != tt.want || problem != tt.problem {
				t.Errorf("inferLang(%q) = %q, %q; want %q, %q", tt.src, got, problem, tt.want, tt.problem)
			}
		})
	}
}

// TestStringOrList checks that every list field takes one string or a list, with the
// same result.
func TestStringOrList(t *testing.T) {
	root := fixtureRepo(t)
	const single = `
version: 1
platforms: linux/amd64
apps:
  - name: a
    src: apps/cdemo
    include: apps/cdemo/inc
    flags: -O2
    ldflags: -static
    shrink: sstrip
    tags: latest
    image: {entrypoint: /a, cmd: --x, ports: 80}
    test: {args: -v}
`
	const lists = `
version: 1
platforms: [linux/amd64]
apps:
  - name: a
    src: [apps/cdemo]
    include: [apps/cdemo/inc]
    flags: [-O2]
    ldflags: [-static]
    shrink: [sstrip]
    tags: [latest]
    image: {entrypoint: [/a], cmd: [--x], ports: [80/tcp]}
    test: {args: [-v]}
`
	_, want := parseSpecs(t, root, lists)
	_, got := parseSpecs(t, root, single)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("single strings differ from lists (-lists +single):\n%s", diff)
	}
	if s := got["a/amd64"]; len(s.Flags) != 1 || s.Flags[0] != "-O2" {
		t.Errorf("flags: -O2 gave %q", s.Flags)
	}
}

// TestTargetKey386 checks that 386 as a key means the same quoted or not: YAML reads
// the unquoted one as a number.
func TestTargetKey386(t *testing.T) {
	root := fixtureRepo(t)
	for _, key := range []string{`386`, `"386"`, `'386'`} {
		t.Run(key, func(t *testing.T) {
			m, specs := parseSpecs(t, root, `
version: 1
apps:
  - name: a
    src: apps/hello
    targets:
      `+key+`: {flags: [-m32]}
`)
			app, _ := m.App("a")
			if _, ok := app.Targets["386"]; !ok || len(app.Targets) != 1 {
				t.Errorf("Targets = %v; want one, keyed 386", app.Targets)
			}
			if got := specs["a/386"].Flags; len(got) != 1 || got[0] != "-m32" {
				t.Errorf("386 flags = %q; want [-m32]", got)
			}
			if got := specs["a/amd64"].Flags; got != nil {
				t.Errorf("amd64 flags = %q; want none", got)
			}
		})
	}
}

func TestSpecErrors(t *testing.T) {
	hello := App{
		Name:      "asm",
		Platforms: DefaultPlatforms(),
		Fields:    Fields{Lang: LangAsm},
		Targets:   map[string]Fields{"amd64": {Src: []string{"x86_64.S"}}},
	}
	tests := []struct {
		name string
		app  App
		p    Platform
		want string
		// notSpecs: Specs visits only the app's platforms, so it cannot meet this.
		notSpecs bool
	}{
		{
			name: "an asm app with only an amd64 src, built for 386",
			app:  hello,
			p:    Platform{OS: "linux", Arch: "386"},
			want: `app "asm" has no src for 386 (linux/386); set src, or targets.386.src`,
		},
		{
			name:     "a platform the app is not built for",
			app:      App{Name: "a", Platforms: []Platform{{OS: "linux", Arch: "amd64"}}, Fields: Fields{Lang: "go", Src: []string{"a"}}},
			p:        Platform{OS: "linux", Arch: "386"},
			want:     `app "a" is not built for linux/386; its platforms are [linux/amd64]`,
			notSpecs: true,
		},
		{
			name: "no lang",
			app:  App{Name: "a", Platforms: DefaultPlatforms(), Fields: Fields{Src: []string{"a"}}},
			p:    Platform{OS: "linux", Arch: "amd64"},
			want: `app "a" has no lang for linux/amd64`,
		},
		{
			name: "output on a c target",
			app: App{Name: "a", Platforms: DefaultPlatforms(), Fields: Fields{Lang: "asm", Output: "flat", Src: []string{"a"}},
				Targets: map[string]Fields{"386": {Lang: "c"}}},
			p:    Platform{OS: "linux", Arch: "386"},
			want: `app "a" sets output "flat" for linux/386, but its lang is c; output is only for asm`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &Manifest{Root: "/repo", Apps: []App{tt.app}}
			_, err := m.Spec(&m.Apps[0], tt.p)
			if err == nil || err.Error() != tt.want {
				t.Fatalf("Spec error = %v; want %s", err, tt.want)
			}
			if _, err := m.Specs(); !tt.notSpecs && (err == nil || !strings.Contains(err.Error(), tt.want)) {
				t.Errorf("Specs error = %v; want it to contain %s", err, tt.want)
			}
		})
	}
	m := &Manifest{Root: "/repo", Apps: []App{hello}}
	s, err := m.Spec(&m.Apps[0], Platform{OS: "linux", Arch: "amd64"})
	if err != nil {
		t.Fatalf("amd64: %v", err)
	}
	if s.Src[0] != "/repo/x86_64.S" || s.Output != OutputELF || s.Image.User != DefaultUser {
		t.Errorf("amd64 spec: Src %q, Output %q, User %q; want /repo/x86_64.S, elf, %s", s.Src, s.Output, s.Image.User, DefaultUser)
	}
}

// TestAbsolutePaths checks paths that depend on where the repository is: an absolute
// src inside the repository is made relative, and image.files may take a host file
// from anywhere.
func TestAbsolutePaths(t *testing.T) {
	root := fixtureRepo(t)
	host := filepath.Join(t.TempDir(), "ca.crt")
	if err := os.WriteFile(host, []byte("cert\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	m, specs := parseSpecs(t, root, `
version: 1
apps:
  - name: a
    src: `+filepath.Join(root, "apps", "hello")+`
    image:
      files:
        - {from: `+host+`, to: /etc/ssl/ca.crt}
        - {from: certs/ca.crt, to: /etc/ca.crt}
`)
	app, _ := m.App("a")
	if want := []string{"apps/hello"}; !cmp.Equal(app.Src, want) {
		t.Errorf("App.Src = %q; want %q", app.Src, want)
	}
	want := []File{{From: host, To: "/etc/ssl/ca.crt"}, {From: filepath.Join(root, "certs", "ca.crt"), To: "/etc/ca.crt"}}
	if diff := cmp.Diff(want, specs["a/amd64"].Image.Files); diff != "" {
		t.Errorf("Spec.Image.Files (-want +got):\n%s", diff)
	}

	_, err := Parse("m.yaml", root, []byte("version: 1\napps: [{name: a, src: "+filepath.Dir(root)+"}]\n"))
	var list ErrorList
	if !errors.As(err, &list) || len(list) != 1 || !strings.Contains(list[0].Msg, "is outside the repository") {
		t.Errorf("an absolute src above the repository: %v; want one error, outside the repository", err)
	}
}

// TestNullIsUnset checks that a key with no value is the same as no key, and that a
// null map value is "".
func TestNullIsUnset(t *testing.T) {
	root := fixtureRepo(t)
	_, withNulls := parseSpecs(t, root, `
version: 1
repo:
platforms: ~
apps:
  - name: a
    src: apps/hello
    shrink:
    image:
    test: null
    env: {EMPTY: }
`)
	_, without := parseSpecs(t, root, `
version: 1
apps:
  - name: a
    src: apps/hello
    env: {EMPTY: ""}
`)
	if diff := cmp.Diff(without, withNulls); diff != "" {
		t.Errorf("nulls differ from leaving keys out (-without +with):\n%s", diff)
	}
}

func TestApp(t *testing.T) {
	m := &Manifest{Apps: []App{{Name: "a"}, {Name: "b"}}}
	app, ok := m.App("b")
	if !ok || app != &m.Apps[1] {
		t.Errorf("App(b) = %p, %v; want %p, true", app, ok, &m.Apps[1])
	}
	if app, ok := m.App("c"); ok || app != nil {
		t.Errorf("App(c) = %v, %v; want nil, false", app, ok)
	}
}
