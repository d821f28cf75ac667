package toolchain

import (
	"archive/tar"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestUnpackPackage(t *testing.T) {
	tgz := makeTgz(t, []tarEntry{
		{name: "package/", typ: tar.TypeDir, mode: 0o755},
		{name: "package/zig", body: "exe", mode: 0o700},
		{name: "package/lib/std/std.zig", body: "std", mode: 0o664},
		{name: "package/lib/empty/", typ: tar.TypeDir, mode: 0o700},
		{name: "package/lib/link.zig", typ: tar.TypeSymlink, link: "std/std.zig"},
		{name: "package/./doc//x.html", body: "doc"},
	})
	dst := filepath.Join(t.TempDir(), "out")
	if err := unpackPackage(t.Context(), writeTemp(t, tgz), dst); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	err := filepath.WalkDir(dst, func(path string, d os.DirEntry, err error) error {
		if err != nil || path == dst {
			return err
		}
		rel, _ := filepath.Rel(dst, path)
		info, err := os.Lstat(path)
		if err != nil {
			return err
		}
		desc := info.Mode().String()
		switch {
		case info.Mode()&os.ModeSymlink != 0:
			target, err := os.Readlink(path)
			if err != nil {
				return err
			}
			desc = "symlink to " + target
		case info.Mode().IsRegular():
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			desc += " " + string(data)
		}
		got[rel] = desc
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Modes are normalized: 0755 for executables and directories, 0644 otherwise.
	want := map[string]string{
		"zig":             "-rwxr-xr-x exe",
		"lib":             "drwxr-xr-x",
		"lib/std":         "drwxr-xr-x",
		"lib/std/std.zig": "-rw-r--r-- std",
		"lib/empty":       "drwxr-xr-x",
		"lib/link.zig":    "symlink to std/std.zig",
		"doc":             "drwxr-xr-x",
		"doc/x.html":      "-rw-r--r-- doc",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("unpacked (-want +got):\n%s", diff)
	}
}

func TestUnpackPackageRefusesEscapes(t *testing.T) {
	tests := []struct {
		name    string
		entries []tarEntry
		want    string
	}{
		{
			name:    "dot-dot in a name",
			entries: []tarEntry{{name: "package/../escaped", body: "x"}},
			want:    "leaves the package",
		},
		{
			name:    "dot-dot after a directory",
			entries: []tarEntry{{name: "package/lib/../../escaped", body: "x"}},
			want:    "leaves the package",
		},
		{
			name:    "absolute name",
			entries: []tarEntry{{name: "/escaped", body: "x"}},
			want:    "outside the package/ directory",
		},
		{
			name:    "absolute name after package/",
			entries: []tarEntry{{name: "package//escaped", body: "x"}},
			want:    "leaves the package",
		},
		{
			name:    "name outside package/",
			entries: []tarEntry{{name: "other/zig", body: "x"}},
			want:    "outside the package/ directory",
		},
		{
			name:    "symlink to an absolute path",
			entries: []tarEntry{{name: "package/etc", typ: tar.TypeSymlink, link: "/etc"}},
			want:    "leaves the package",
		},
		{
			name:    "symlink climbing out",
			entries: []tarEntry{{name: "package/lib/up", typ: tar.TypeSymlink, link: "../../escaped"}},
			want:    "leaves the package",
		},
		{
			// The link itself stays inside; writing through it could still land
			// outside if it pointed at a shallower directory.
			name: "file written through a symlink",
			entries: []tarEntry{
				{name: "package/lib/std/", typ: tar.TypeDir},
				{name: "package/lib/here", typ: tar.TypeSymlink, link: "."},
				{name: "package/lib/here/x", body: "x"},
			},
			want: `goes through the symlink "lib/here"`,
		},
		{
			name: "file replacing a symlink",
			entries: []tarEntry{
				{name: "package/zig", typ: tar.TypeSymlink, link: "lib"},
				{name: "package/zig", body: "x"},
			},
			want: `goes through the symlink "zig"`,
		},
		{
			name:    "hard link",
			entries: []tarEntry{{name: "package/zig", typ: tar.TypeLink, link: "package/lib"}},
			want:    "unsupported entry type",
		},
		{
			name:    "device",
			entries: []tarEntry{{name: "package/null", typ: tar.TypeChar}},
			want:    "unsupported entry type",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parent := t.TempDir()
			dst := filepath.Join(parent, "out", "pkg")
			if err := os.Mkdir(filepath.Dir(dst), 0o755); err != nil {
				t.Fatal(err)
			}
			err := unpackPackage(t.Context(), writeTemp(t, makeTgz(t, tt.entries)), dst)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("unpackPackage error = %v, want one containing %q", err, tt.want)
			}
			if diff := cmp.Diff([]string{"pkg"}, listDir(t, filepath.Dir(dst))); diff != "" {
				t.Errorf("beside the destination (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCheckIntegrity(t *testing.T) {
	data := []byte("package bytes")
	path := writeTemp(t, data)
	tests := []struct {
		name string
		want string
		err  string // "" for success
	}{
		{"matching digest", sri(data), ""},
		{"other digest", sri([]byte("other")), "checksum mismatch: expected " + sri([]byte("other")) + ", got " + sri(data)},
		{"not sha512", "sha256-abc", "not of the form sha512-<base64>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkIntegrity(path, tt.want)
			switch {
			case tt.err == "" && err != nil:
				t.Errorf("checkIntegrity: %v", err)
			case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
				t.Errorf("checkIntegrity error = %v, want one containing %q", err, tt.err)
			}
		})
	}
}

// writeTemp writes data to a new file and returns its path.
func writeTemp(t *testing.T, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "package.tgz")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
