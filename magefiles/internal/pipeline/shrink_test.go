package pipeline

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minimalbuild/minimal/magefiles/manifest"
)

// sectionsApp prints whether its own executable still has section headers, so sstrip,
// which drops them, changes its output.
const sectionsApp = `package main

import (
	"debug/elf"
	"fmt"
	"os"
)

func main() {
	exe, err := os.Executable()
	if err != nil {
		panic(err)
	}
	f, err := elf.Open(exe)
	if err == nil && len(f.Sections) > 0 {
		fmt.Println("sections")
		return
	}
	fmt.Println("none")
}
`

func TestShrinkFailure(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a Go program; skipped with -short")
	}
	tests := []struct {
		name    string
		why     string
		extra   string // more keys for the app
		stdout  string // the smoke test's expected stdout
		wantErr []string
		skipped bool
	}{
		{
			name:    "default fails",
			why:     "a pass that breaks the smoke test fails the build, naming pass, app, platform and the difference",
			stdout:  "sections",
			wantErr: []string{"sections linux/amd64", "sstrip", `"none\n"`},
		},
		{
			name:    "fail",
			why:     "shrink_failure: fail is the default written out",
			extra:   "shrink_failure: fail",
			stdout:  "sections",
			wantErr: []string{"smoke test after sstrip"},
		},
		{
			name:    "skip",
			why:     "shrink_failure: skip keeps the binary from before the pass and warns",
			extra:   "shrink_failure: skip",
			stdout:  "sections",
			skipped: true,
		},
		{
			name:    "skip, app broken",
			why:     "a test that fails before the pass too is not skipped: the app itself is broken",
			extra:   "shrink_failure: skip",
			stdout:  "never printed",
			wantErr: []string{"fails before sstrip too"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			dir := filepath.Join(root, "apps", "sections")
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(sectionsApp), 0o644); err != nil {
				t.Fatal(err)
			}
			yaml := "version: 1\nplatforms: [linux/amd64]\napps:\n  - name: sections\n    src: ./apps/sections\n    shrink: [strip, sstrip]\n" +
				"    test: {stdout: \"" + tt.stdout + "\\n\"}\n"
			if tt.extra != "" {
				yaml += "    " + tt.extra + "\n"
			}
			if err := os.WriteFile(filepath.Join(root, "go.mod"), []byte("module example.com/sections\n\ngo 1.26\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(root, "minimal.yaml")
			if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
				t.Fatal(err)
			}
			m, err := manifest.Load(path)
			if err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(root, "images")
			var log bytes.Buffer
			r, err := Build(context.Background(), m, WithCache(t.TempDir()), WithOut(out), WithLog(&log))
			if tt.wantErr != nil {
				if err == nil {
					t.Fatalf("Build succeeded, want an error (%s)", tt.why)
				}
				t.Logf("error: %v", err)
				for _, want := range tt.wantErr {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("error %q does not contain %q (%s)", err, want, tt.why)
					}
				}
				if _, err := os.Stat(out); !os.IsNotExist(err) {
					t.Errorf("a failed build left %s (stat: %v)", out, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Build: %v (%s)", err, tt.why)
			}
			steps := r.Apps[0].Platforms[0].Steps
			if len(steps) != 2 || steps[1].Pass != "sstrip" || steps[1].Skipped == "" || steps[1].Bytes != steps[0].Bytes {
				t.Errorf("steps = %+v, want compile then a skipped sstrip of the same size (%s)", steps, tt.why)
			}
			if !strings.Contains(log.String(), "warning: sections linux/amd64: sstrip skipped") {
				t.Errorf("log has no warning for the skipped pass:\n%s", log.String())
			}
			bin, err := os.ReadFile(filepath.Join(out, "bin", "linux_amd64", "sections"))
			if err != nil {
				t.Fatal(err)
			}
			if int64(len(bin)) != steps[0].Bytes {
				t.Errorf("published binary has %d bytes, want the compiled %d", len(bin), steps[0].Bytes)
			}
		})
	}
}
