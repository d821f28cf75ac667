package toolchain

import (
	"bytes"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/minimalbuild/minimal/magefiles/internal/testenv"
)

// TestRealZig fetches the pinned zig with the real npm into an empty cache, then builds
// and runs a static C program for every target. It needs npm and the network, and
// writes about 350 MB; under CI=true a missing npm is a failure.
func TestRealZig(t *testing.T) {
	if testing.Short() {
		t.Skip("fetches and unpacks zig (about 70 MB down, 350 MB on disk); not in -short")
	}
	npm := testenv.Tool(t, "npm", "npm")
	if host := runtime.GOOS + "/" + runtime.GOARCH; host != zigHost {
		t.Skipf("the zig package runs on %s, not %s", zigHost, host)
	}

	version := "0.11.0"
	cache := t.TempDir()
	var log bytes.Buffer
	// No $ZIG and no $PATH for zig, so the fetch really happens; npm itself runs in
	// this process's environment.
	z, err := Zig(t.Context(), version,
		withCacheDir(cache), withNPM(npm), withGetenv(envMap{}.get), WithZigLog(&log))
	t.Logf("log:\n%s", log.String())
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(cache, "zig", version, "zig"); z.Path() != want {
		t.Errorf("Path = %s, want %s", z.Path(), want)
	}
	out, err := z.Command(t.Context(), "version").Output()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(out)); got != version {
		t.Errorf("zig version = %q, want %q", got, version)
	}

	src := filepath.Join(t.TempDir(), "hello.c")
	if err := os.WriteFile(src, []byte("#include <stdio.h>\nint main(void) { puts(\"hello from zig cc\"); return 0; }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	defer func() {
		for _, dir := range []string{"zig", "zig-cache"} {
			t.Logf("%s: %d MB", dir, treeSize(t, filepath.Join(cache, dir))>>20)
		}
	}()
	for _, target := range targets {
		t.Run(target.Zig, func(t *testing.T) {
			bin := filepath.Join(t.TempDir(), "hello")
			cmd := z.Command(t.Context(), "cc", "-target", target.Zig, "-static", "-Os", "-s", "-o", bin, src)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("zig cc: %v\n%s", err, out)
			}
			f, err := elf.Open(bin)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if f.Machine != target.Machine || f.Class != target.Class {
				t.Errorf("built a %v %v, want %v %v", f.Class, f.Machine, target.Class, target.Machine)
			}
			for _, p := range f.Progs {
				if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
					t.Errorf("the executable has a %v segment: it is not static", p.Type)
				}
			}
			if info, err := os.Stat(bin); err == nil {
				t.Logf("%s: %d bytes", target.Zig, info.Size())
			}
			out, err := exec.CommandContext(t.Context(), bin).Output()
			if err != nil {
				t.Fatalf("running it: %v", err)
			}
			if string(out) != "hello from zig cc\n" {
				t.Errorf("it printed %q", out)
			}
		})
	}
}

// treeSize returns the bytes of the files under dir.
func treeSize(t *testing.T, dir string) int64 {
	var n int64
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			info, err := d.Info()
			if err != nil {
				return err
			}
			n += info.Size()
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
	return n
}
