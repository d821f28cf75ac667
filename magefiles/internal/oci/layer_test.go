package oci_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/minimalbuild/minimal/magefiles/internal/oci"
)

// entry is what a test checks about one tar entry.
type entry struct {
	Name string
	Type byte
	Mode int64
	Data string
	Link string
}

var created = time.Date(2023, 11, 14, 22, 13, 20, 0, time.UTC)

// readLayer reads l's compressed stream back and checks the properties every
// layer must have, returning the entries in order.
func readLayer(t *testing.T, l v1.Layer, created time.Time) []entry {
	t.Helper()
	mt, err := l.MediaType()
	if err != nil {
		t.Fatal(err)
	}
	if mt != types.OCILayer {
		t.Errorf("media type = %s, want %s", mt, types.OCILayer)
	}
	rc, err := l.Compressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	zr, err := gzip.NewReader(rc)
	if err != nil {
		t.Fatalf("layer is not gzip: %v", err)
	}
	if !zr.ModTime.IsZero() || zr.Name != "" || zr.Comment != "" || zr.Extra != nil {
		t.Errorf("gzip header carries metadata: %+v", zr.Header)
	}
	var got []entry
	tr := tar.NewReader(zr)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if hdr.Uid != 0 || hdr.Gid != 0 || hdr.Uname != "" || hdr.Gname != "" {
			t.Errorf("%s: owner %d:%d (%q:%q), want 0:0 with no names", hdr.Name, hdr.Uid, hdr.Gid, hdr.Uname, hdr.Gname)
		}
		if !hdr.ModTime.Equal(created) {
			t.Errorf("%s: mtime %v, want %v", hdr.Name, hdr.ModTime, created)
		}
		if !hdr.AccessTime.IsZero() || !hdr.ChangeTime.IsZero() || len(hdr.PAXRecords) > 0 || len(hdr.Xattrs) > 0 {
			t.Errorf("%s: extra metadata: atime %v ctime %v pax %v", hdr.Name, hdr.AccessTime, hdr.ChangeTime, hdr.PAXRecords)
		}
		if hdr.Format != tar.FormatUSTAR {
			t.Errorf("%s: format %v, want USTAR", hdr.Name, hdr.Format)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, entry{Name: hdr.Name, Type: hdr.Typeflag, Mode: hdr.Mode, Data: string(data), Link: hdr.Linkname})
	}
	checkOrder(t, got)
	return got
}

// checkOrder checks that entries are sorted and that every entry's parent
// directory comes before it.
func checkOrder(t *testing.T, es []entry) {
	t.Helper()
	seen := map[string]bool{}
	prev := ""
	for _, e := range es {
		name := strings.TrimSuffix(e.Name, "/")
		if name <= prev {
			t.Errorf("entry %q after %q: not sorted", name, prev)
		}
		prev = name
		if i := strings.LastIndex(name, "/"); i >= 0 && !seen[name[:i]] {
			t.Errorf("entry %q comes without its parent directory %q before it", name, name[:i])
		}
		if e.Type == tar.TypeDir {
			seen[name] = true
		}
	}
}

func TestLayer(t *testing.T) {
	tests := []struct {
		name  string
		files []oci.File
		want  []entry
	}{{
		name:  "one file gets every parent directory with mode 0755",
		files: []oci.File{{Path: "/a/b/c", Mode: 0o600, Data: []byte("x")}},
		want: []entry{
			{Name: "a/", Type: tar.TypeDir, Mode: 0o755},
			{Name: "a/b/", Type: tar.TypeDir, Mode: 0o755},
			{Name: "a/b/c", Type: tar.TypeReg, Mode: 0o600, Data: "x"},
		},
	}, {
		name: "entries are sorted by path whatever the input order, parents once",
		files: []oci.File{
			{Path: "/b/c/d", Mode: 0o644, Data: []byte("d")},
			{Path: "/a/x", Mode: 0o644},
			{Path: "/b/a", Mode: 0o755, Data: []byte("a")},
		},
		want: []entry{
			{Name: "a/", Type: tar.TypeDir, Mode: 0o755},
			{Name: "a/x", Type: tar.TypeReg, Mode: 0o644},
			{Name: "b/", Type: tar.TypeDir, Mode: 0o755},
			{Name: "b/a", Type: tar.TypeReg, Mode: 0o755, Data: "a"},
			{Name: "b/c/", Type: tar.TypeDir, Mode: 0o755},
			{Name: "b/c/d", Type: tar.TypeReg, Mode: 0o644, Data: "d"},
		},
	}, {
		name: "a sibling that sorts between a directory and its children",
		files: []oci.File{
			{Path: "/a/b", Mode: 0o644},
			{Path: "/a-b", Mode: 0o644},
		},
		want: []entry{
			{Name: "a/", Type: tar.TypeDir, Mode: 0o755},
			{Name: "a-b", Type: tar.TypeReg, Mode: 0o644},
			{Name: "a/b", Type: tar.TypeReg, Mode: 0o644},
		},
	}, {
		name: "an explicit directory keeps its mode",
		files: []oci.File{
			{Path: "/data/f", Mode: 0o644},
			{Path: "/data", Mode: fs.ModeDir | 0o700},
		},
		want: []entry{
			{Name: "data/", Type: tar.TypeDir, Mode: 0o700},
			{Name: "data/f", Type: tar.TypeReg, Mode: 0o644},
		},
	}, {
		name:  "a link is written with mode 0777 whatever it was given",
		files: []oci.File{{Path: "/bin/sh", Mode: fs.ModeSymlink | 0o755, Link: "busybox"}},
		want: []entry{
			{Name: "bin/", Type: tar.TypeDir, Mode: 0o755},
			{Name: "bin/sh", Type: tar.TypeSymlink, Mode: 0o777, Link: "busybox"},
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := oci.Layer(tt.files, created)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, readLayer(t, l, created)); diff != "" {
				t.Errorf("entries (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLayerErrors(t *testing.T) {
	tests := []struct {
		name  string
		files []oci.File
		want  string
	}{
		{"an empty layer is a mistake", nil, "no files"},
		{"relative paths are ambiguous", []oci.File{{Path: "ko-app/x"}}, "not absolute"},
		{"the root cannot be an entry", []oci.File{{Path: "/", Mode: fs.ModeDir | 0o755}}, "root directory"},
		{"unclean paths would write elsewhere", []oci.File{{Path: "/a/../etc/passwd"}}, "not clean"},
		{"a trailing slash is unclean", []oci.File{{Path: "/a/"}}, "not clean"},
		{"two entries for one path", []oci.File{{Path: "/a"}, {Path: "/a"}}, "listed twice"},
		{"a file cannot hold another file", []oci.File{{Path: "/a"}, {Path: "/a/b"}}, "not a directory"},
		{"whiteouts would delete files", []oci.File{{Path: "/a/.wh.b"}}, "whiteout"},
		{"setuid is not a fixed mode", []oci.File{{Path: "/a", Mode: fs.ModeSetuid | 0o755}}, "bits other than"},
		{"devices are not supported", []oci.File{{Path: "/dev/null", Mode: fs.ModeDevice | 0o666}}, "bits other than"},
		{"a link needs a target", []oci.File{{Path: "/a", Mode: fs.ModeSymlink}}, "needs a target"},
		{"a link has no content", []oci.File{{Path: "/a", Mode: fs.ModeSymlink, Link: "b", Data: []byte("x")}}, "needs a target and no content"},
		{"a directory has no content", []oci.File{{Path: "/a", Mode: fs.ModeDir | 0o755, Data: []byte("x")}}, "directory with content"},
		{"a regular file has no target", []oci.File{{Path: "/a", Link: "b"}}, "regular file with a link"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := oci.Layer(tt.files, created)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Layer error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func layerDigests(t *testing.T, l v1.Layer) [2]v1.Hash {
	t.Helper()
	d, err := l.Digest()
	if err != nil {
		t.Fatal(err)
	}
	diff, err := l.DiffID()
	if err != nil {
		t.Fatal(err)
	}
	return [2]v1.Hash{d, diff}
}

func TestLayerDeterministic(t *testing.T) {
	files := []oci.File{
		{Path: "/ko-app/hello", Mode: 0o755, Data: bytes.Repeat([]byte("binary"), 1000)},
		{Path: "/var/run/ko/index.html", Mode: 0o644, Data: []byte("<h1>hi</h1>")},
	}
	reversed := []oci.File{files[1], files[0]}
	first, err := oci.Layer(files, created)
	if err != nil {
		t.Fatal(err)
	}
	second, err := oci.Layer(reversed, created.Add(999*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	if a, b := layerDigests(t, first), layerDigests(t, second); a != b {
		t.Errorf("same files (reordered, sub-second time change) gave digests %v and %v", a, b)
	}
	later, err := oci.Layer(files, created.Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if a, b := layerDigests(t, first), layerDigests(t, later); a == b {
		t.Errorf("a different creation time gave the same digests %v", a)
	}
}

func TestBinaryLayer(t *testing.T) {
	l, err := oci.BinaryLayer("hello", []byte("\x7fELF"), created)
	if err != nil {
		t.Fatal(err)
	}
	want := []entry{
		{Name: "ko-app/", Type: tar.TypeDir, Mode: 0o755},
		{Name: "ko-app/hello", Type: tar.TypeReg, Mode: 0o755, Data: "\x7fELF"},
	}
	if diff := cmp.Diff(want, readLayer(t, l, created)); diff != "" {
		t.Errorf("entries (-want +got):\n%s", diff)
	}
	for _, name := range []string{"", ".", "..", "a/b"} {
		if _, err := oci.BinaryLayer(name, nil, created); err == nil {
			t.Errorf("BinaryLayer(%q) succeeded, want an error", name)
		}
	}
}

// tree makes a host directory from a compact description: a name ending in
// "/" is a directory, "->" makes a link, "|" makes a named pipe; others are
// files with the given mode.
type node struct {
	path string
	mode fs.FileMode
	data string
}

func makeTree(t *testing.T, root string, nodes []node) {
	t.Helper()
	for _, n := range nodes {
		p := filepath.Join(root, filepath.FromSlash(n.path))
		var err error
		switch {
		case strings.HasSuffix(n.path, "/"):
			err = os.MkdirAll(p, 0o755)
			if err == nil {
				err = os.Chmod(p, n.mode)
			}
		case strings.HasPrefix(n.data, "->"):
			err = os.Symlink(strings.TrimPrefix(n.data, "->"), p)
		case n.data == "|":
			err = syscall.Mkfifo(p, 0o644)
		default:
			err = os.WriteFile(p, []byte(n.data), 0o600)
			if err == nil {
				err = os.Chmod(p, n.mode)
			}
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestDirLayer(t *testing.T) {
	root := t.TempDir()
	data := filepath.Join(root, "data")
	makeTree(t, root, []node{
		{path: "data/", mode: 0o700},
		{path: "data/a.txt", mode: 0o600, data: "a"},
		{path: "data/run.sh", mode: 0o700, data: "#!/bin/sh"},
		{path: "data/group-exec", mode: 0o610, data: "g"},
		{path: "data/empty/", mode: 0o500},
		{path: "data/sub/", mode: 0o700},
		{path: "data/sub/b", mode: 0o640, data: "b"},
		{path: "data/sub/up", data: "->../a.txt"},
		{path: "data/link", data: "->sub/b"},
		{path: "via", data: "->data"},
	})
	want := []entry{
		{Name: "var/", Type: tar.TypeDir, Mode: 0o755},
		{Name: "var/run/", Type: tar.TypeDir, Mode: 0o755},
		{Name: "var/run/ko/", Type: tar.TypeDir, Mode: 0o755},
		{Name: "var/run/ko/a.txt", Type: tar.TypeReg, Mode: 0o644, Data: "a"},
		{Name: "var/run/ko/empty/", Type: tar.TypeDir, Mode: 0o755},
		{Name: "var/run/ko/group-exec", Type: tar.TypeReg, Mode: 0o755, Data: "g"},
		{Name: "var/run/ko/link", Type: tar.TypeSymlink, Mode: 0o777, Link: "sub/b"},
		{Name: "var/run/ko/run.sh", Type: tar.TypeReg, Mode: 0o755, Data: "#!/bin/sh"},
		{Name: "var/run/ko/sub/", Type: tar.TypeDir, Mode: 0o755},
		{Name: "var/run/ko/sub/b", Type: tar.TypeReg, Mode: 0o644, Data: "b"},
		{Name: "var/run/ko/sub/up", Type: tar.TypeSymlink, Mode: 0o777, Link: "../a.txt"},
	}
	for _, host := range []string{data, filepath.Join(root, "via")} {
		l, err := oci.DirLayer(host, oci.DataDir, created)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, readLayer(t, l, created)); diff != "" {
			t.Errorf("DirLayer(%s) entries (-want +got):\n%s", host, diff)
		}
	}
}

func TestDirLayerErrors(t *testing.T) {
	tests := []struct {
		name     string
		nodes    []node
		imageDir string
		want     string
	}{
		{"an absolute link would point at whatever the image has there", []node{{path: "d/"}, {path: "d/l", data: "->/etc/passwd"}}, "/x", "absolute path"},
		{"a relative link that leaves the directory", []node{{path: "d/"}, {path: "d/s/"}, {path: "d/s/l", data: "->../../secret"}}, "/x", "leaves the directory"},
		{"a link to the parent itself", []node{{path: "d/"}, {path: "d/l", data: "->.."}}, "/x", "leaves the directory"},
		{"named pipes cannot go in a layer", []node{{path: "d/"}, {path: "d/p", data: "|"}}, "/x", "unsupported file type"},
		{"a missing directory", nil, "/x", "no such file"},
		{"a file where a directory belongs", []node{{path: "d", data: "x"}}, "/x", "not a directory"},
		{"a relative image directory", []node{{path: "d/"}}, "x", "not an absolute clean path"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			for i := range tt.nodes {
				if tt.nodes[i].mode == 0 {
					tt.nodes[i].mode = 0o755
				}
			}
			makeTree(t, root, tt.nodes)
			_, err := oci.DirLayer(filepath.Join(root, "d"), tt.imageDir, created)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("DirLayer error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestHostFilesLayer(t *testing.T) {
	root := t.TempDir()
	makeTree(t, root, []node{
		{path: "ca.crt", mode: 0o600, data: "CERT"},
		{path: "tool", mode: 0o700, data: "ELF"},
		{path: "tool-link", data: "->tool"},
		{path: "dir/", mode: 0o755},
	})
	l, err := oci.HostFilesLayer([]oci.HostFile{
		{From: filepath.Join(root, "ca.crt"), To: "/etc/ssl/certs/ca-certificates.crt"},
		{From: filepath.Join(root, "tool-link"), To: "/usr/bin/tool"},
	}, created)
	if err != nil {
		t.Fatal(err)
	}
	want := []entry{
		{Name: "etc/", Type: tar.TypeDir, Mode: 0o755},
		{Name: "etc/ssl/", Type: tar.TypeDir, Mode: 0o755},
		{Name: "etc/ssl/certs/", Type: tar.TypeDir, Mode: 0o755},
		{Name: "etc/ssl/certs/ca-certificates.crt", Type: tar.TypeReg, Mode: 0o644, Data: "CERT"},
		{Name: "usr/", Type: tar.TypeDir, Mode: 0o755},
		{Name: "usr/bin/", Type: tar.TypeDir, Mode: 0o755},
		{Name: "usr/bin/tool", Type: tar.TypeReg, Mode: 0o755, Data: "ELF"},
	}
	if diff := cmp.Diff(want, readLayer(t, l, created)); diff != "" {
		t.Errorf("entries (-want +got):\n%s", diff)
	}

	for _, tt := range []struct {
		name string
		hf   oci.HostFile
		want string
	}{
		{"a directory is not a file", oci.HostFile{From: filepath.Join(root, "dir"), To: "/d"}, "not a regular file"},
		{"a missing file", oci.HostFile{From: filepath.Join(root, "nope"), To: "/n"}, "no such file"},
		{"a relative image path", oci.HostFile{From: filepath.Join(root, "ca.crt"), To: "etc/ca"}, "not absolute"},
	} {
		if _, err := oci.HostFilesLayer([]oci.HostFile{tt.hf}, created); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error = %v, want one containing %q", tt.name, err, tt.want)
		}
	}
}

func TestStoredLayer(t *testing.T) {
	created := time.Unix(1700000000, 0).UTC()
	fresh, err := oci.BinaryLayer("hello", []byte("\x7fELF and more bytes"), created)
	if err != nil {
		t.Fatal(err)
	}
	info, err := oci.Describe(fresh)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := fresh.Compressed()
	if err != nil {
		t.Fatal(err)
	}
	blob, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	opened := 0
	stored := oci.StoredLayer(info, func() (io.ReadCloser, error) {
		opened++
		return io.NopCloser(bytes.NewReader(blob)), nil
	})
	cfg := oci.Config{Platform: v1.Platform{OS: "linux", Architecture: "amd64"}, Created: created}
	want, err := oci.Image(cfg, fresh)
	if err != nil {
		t.Fatal(err)
	}
	got, err := oci.Image(cfg, stored)
	if err != nil {
		t.Fatal(err)
	}
	wd, _ := want.Digest()
	gd, err := got.Digest()
	if err != nil || gd != wd {
		t.Errorf("image of the stored layer has digest %v (%v), want %v as with the fresh layer", gd, err, wd)
	}
	if opened != 0 {
		t.Errorf("building the image read the stored blob %d times, want 0", opened)
	}
	wantTar, gotTar := readAll(t, fresh.Uncompressed), readAll(t, stored.Uncompressed)
	if !bytes.Equal(wantTar, gotTar) {
		t.Errorf("stored layer's tar differs from the fresh one's")
	}
}

func readAll(t *testing.T, open func() (io.ReadCloser, error)) []byte {
	t.Helper()
	rc, err := open()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestHostLayerErrorMessages checks whole messages: each names the host file at fault once
// and leaves the layer's role ("data layer: ", "files layer: ") to App.Layers, which says
// it once.
func TestHostLayerErrorMessages(t *testing.T) {
	root := t.TempDir()
	makeTree(t, root, []node{
		{path: "kodata/", mode: 0o755},
		{path: "kodata/evil", data: "->../secret"},
		{path: "dir/", mode: 0o755},
	})
	tests := []struct {
		name string
		make func() error
		want string
	}{
		{
			name: "a data link that leaves the directory",
			make: func() error {
				_, err := oci.DirLayer(filepath.Join(root, "kodata"), oci.DataDir, created)
				return err
			},
			want: filepath.Join(root, "kodata", "evil") + ": link to ../secret leaves the directory",
		},
		{
			name: "a data directory that is a file",
			make: func() error {
				makeTree(t, root, []node{{path: "plain", mode: 0o644, data: "x"}})
				_, err := oci.DirLayer(filepath.Join(root, "plain"), oci.DataDir, created)
				return err
			},
			want: filepath.Join(root, "plain") + " is not a directory",
		},
		{
			name: "an extra file that is a directory",
			make: func() error {
				_, err := oci.HostFilesLayer([]oci.HostFile{{From: filepath.Join(root, "dir"), To: "/d"}}, created)
				return err
			},
			want: filepath.Join(root, "dir") + " is not a regular file (mode drwxr-xr-x)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.make()
			if err == nil {
				t.Fatal("no error")
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("error = %q, want %q", got, tt.want)
			}
		})
	}
}
