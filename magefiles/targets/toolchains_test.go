package targets

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/magefile/mage/mg"

	"github.com/minimalbuild/minimal/magefiles/manifest"
)

func TestCheckToolchains(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "hello.c"), []byte("int main(void) { return 0; }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	zig := filepath.Join(bin, "zig")
	if err := os.WriteFile(zig, []byte("#!/bin/sh\necho 9.9.9\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	parse := func(t *testing.T, zigLine string) *manifest.Manifest {
		t.Helper()
		data := "version: 1\ntoolchains:\n" + zigLine + "apps:\n  - name: hello\n    src: hello.c\n"
		m, err := manifest.Parse("minimal.yaml", root, []byte(data))
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	const unknown = "  zig:    9.9.9\n"
	tests := []struct {
		name    string
		zigLine string
		zigEnv  string
		want    string // the whole error; empty for none
	}{
		{name: "the default version", zigLine: ""},
		{name: "a pinned version", zigLine: "  zig: " + manifest.DefaultZig + "\n"},
		{name: "an unknown version that $ZIG supplies", zigLine: unknown, zigEnv: zig},
		{
			name: "an unknown version", zigLine: unknown,
			want: "minimal.yaml:3:11: toolchains.zig: zig 9.9.9 has no pinned checksum (known versions: 0.11.0): pin a known version, or set $ZIG to a zig 9.9.9 binary",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("ZIG", tt.zigEnv)
			t.Setenv("PATH", t.TempDir()) // no zig there
			err := checkToolchains(t.Context(), parse(t, tt.zigLine))
			if tt.want == "" {
				if err != nil {
					t.Fatalf("checkToolchains: %v", err)
				}
				return
			}
			if err == nil || err.Error() != tt.want {
				t.Fatalf("checkToolchains = %v, want %q", err, tt.want)
			}
			var list manifest.ErrorList
			if !errors.As(err, &list) {
				t.Errorf("error %T is not a manifest.ErrorList", err)
			}
			if got := mg.ExitStatus(err); got != 2 {
				t.Errorf("exit status %d, want 2", got)
			}
		})
	}
}
