package pipeline

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/minimalbuild/minimal/magefiles/manifest"
)

func TestExplain(t *testing.T) {
	m := fixture(t)
	cacheDir := filepath.Join(t.TempDir(), "cache")
	out := filepath.Join(m.Root, "images")
	opts := func(log io.Writer) []Option {
		return []Option{WithCache(cacheDir), WithOut(out), WithLog(log), withBuilder("go", &countingBuilder{})}
	}
	explain := func() string {
		t.Helper()
		m, err := manifest.Load(filepath.Join(m.Root, "minimal.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		before := treeDigest(t, out)
		var log bytes.Buffer
		if err := Explain(context.Background(), m, opts(&log)...); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(before, treeDigest(t, out)); diff != "" {
			t.Errorf("explain changed the output directory (-before +after):\n%s", diff)
		}
		if _, err := Build(context.Background(), m, opts(io.Discard)...); err != nil {
			t.Fatal(err)
		}
		return log.String()
	}
	write := func(rel, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(m.Root, rel), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	yaml := "version: 1\napps:\n  - {name: one, src: ./apps/one, tags: [v1]%s}\n  - {name: two, src: ./apps/two, tags: [v1]}\n  - {name: three, src: ./apps/three, tags: [v1]}\n"
	steps := []struct {
		name   string
		change func()
		want   []string // lines the explanation holds
		not    []string // lines it must not hold
	}{
		{"never built", func() {}, []string{"one linux/amd64: compile runs", "no earlier compile of it recorded"}, nil},
		{"nothing changed", func() {}, []string{"one linux/amd64: up to date", "three linux/386: up to date"}, []string{"runs"}},
		{"a source changed", func() { write("apps/two/main.go", "package main\n\nfunc main() { println(2) }\n") },
			[]string{"two linux/amd64: compile runs", "changed file example.com/fixture/apps/two/main.go", "one linux/amd64: up to date"}, nil},
		{"a flag for one platform", func() {
			write("minimal.yaml", strings.Replace(yaml, "%s", ", targets: {amd64: {flags: [-tags=x]}}", 1))
		},
			[]string{"one linux/amd64: compile runs", `changed flags: "1 -tags=x", was "0"`, "one linux/386: up to date"}, nil},
		{"an environment variable", func() { write("minimal.yaml", strings.Replace(yaml, "%s", ", env: {GOAMD64: v2}", 1)) },
			[]string{"one linux/386: compile runs", `GOAMD64=v2`}, nil},
		{"the image only", func() {
			write("minimal.yaml", strings.Replace(yaml, "%s", ", env: {GOAMD64: v2}, image: {cmd: [x]}", 1))
		},
			[]string{"one linux/386: image runs", "changed config"}, []string{"compile runs"}},
	}
	for _, st := range steps {
		st.change()
		got := explain()
		for _, w := range st.want {
			if !strings.Contains(got, w) {
				t.Errorf("%s: the explanation lacks %q:\n%s", st.name, w, got)
			}
		}
		for _, n := range st.not {
			if strings.Contains(got, n) {
				t.Errorf("%s: the explanation holds %q:\n%s", st.name, n, got)
			}
		}
	}
}
