package oci

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/minimalbuild/minimal/magefiles/manifest"
)

// AppDir is the directory that holds an app's binary in its image, as in ko.
const AppDir = manifest.ImageAppDir

// DataDir is the directory an app's data directory is copied to, as in ko.
// Images that have one set KO_DATA_PATH to it.
const DataDir = manifest.ImageDataDir

// dirMode is the mode of every directory the layers create implicitly.
const dirMode = 0o755

// File is one entry of a layer.
type File struct {
	// Path is where the entry sits in the image: absolute, clean and
	// slash-separated, for example /ko-app/hello.
	Path string
	// Mode holds the permission bits (at most 0o777) and the entry's type:
	// none for a regular file, fs.ModeDir for a directory, fs.ModeSymlink for
	// a symbolic link. A link's permission bits are ignored; links are
	// written with 0o777, as Linux reports them.
	Mode fs.FileMode
	// Data is the content of a regular file.
	Data []byte
	// Link is the target of a symbolic link.
	Link string
}

// Layer returns a layer holding files, deterministic in every byte: each
// parent directory gets an entry of its own (mode 0o755 unless files list it
// with another mode), entries are sorted by path, owned by uid and gid 0 with
// empty user and group names, and carry created (to the second) as their
// modification time and nothing else. The tar stream is gzip-compressed at the
// best compression level and has the media type of an OCI layer.
func Layer(files []File, created time.Time) (v1.Layer, error) {
	if len(files) == 0 {
		return nil, fmt.Errorf("building layer: no files")
	}
	entries := make(map[string]File, len(files))
	for _, f := range files {
		if err := checkFile(f); err != nil {
			return nil, fmt.Errorf("building layer: %w", err)
		}
		if _, dup := entries[f.Path]; dup {
			return nil, fmt.Errorf("building layer: %s listed twice", f.Path)
		}
		entries[f.Path] = f
	}
	for _, f := range files {
		for dir := path.Dir(f.Path); dir != "/"; dir = path.Dir(dir) {
			parent, ok := entries[dir]
			if !ok {
				entries[dir] = File{Path: dir, Mode: fs.ModeDir | dirMode}
				continue
			}
			if !parent.Mode.IsDir() {
				return nil, fmt.Errorf("building layer: %s is not a directory but holds %s", dir, f.Path)
			}
		}
	}
	paths := make([]string, 0, len(entries))
	for p := range entries {
		paths = append(paths, p)
	}
	slices.Sort(paths)

	raw, err := tarFiles(entries, paths, created)
	if err != nil {
		return nil, fmt.Errorf("building layer: %w", err)
	}
	l, err := tarball.LayerFromOpener(
		func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(raw)), nil },
		tarball.WithMediaType(types.OCILayer),
		tarball.WithCompressionLevel(gzip.BestCompression),
		tarball.WithCompressedCaching,
	)
	if err != nil {
		return nil, fmt.Errorf("building layer: %w", err)
	}
	return plainLayer{l}, nil
}

// plainLayer hides the Descriptor method of tarball's layers. Its empty,
// non-nil annotation map would reach an image's Manifest() but not its
// RawManifest(), and the two would disagree.
type plainLayer struct{ v1.Layer }

// BinaryLayer returns a layer holding one executable, bin, at /ko-app/<name>
// with mode 0o755.
func BinaryLayer(name string, bin []byte, created time.Time) (v1.Layer, error) {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\x00") {
		return nil, fmt.Errorf("binary layer: invalid binary name %q", name)
	}
	return Layer([]File{{Path: path.Join(AppDir, name), Mode: 0o755, Data: bin}}, created)
}

func checkFile(f File) error {
	p := f.Path
	switch {
	case !path.IsAbs(p):
		return fmt.Errorf("path %q is not absolute", p)
	case p == "/":
		return fmt.Errorf("path %q is the root directory", p)
	case path.Clean(p) != p:
		return fmt.Errorf("path %q is not clean (want %q)", p, path.Clean(p))
	case strings.ContainsRune(p, 0):
		return fmt.Errorf("path %q contains a NUL byte", p)
	case strings.HasPrefix(path.Base(p), ".wh."):
		return fmt.Errorf("path %q is an OCI whiteout name", p)
	}
	if extra := f.Mode &^ (fs.ModePerm | fs.ModeDir | fs.ModeSymlink); extra != 0 {
		return fmt.Errorf("%s: mode %v has bits other than the permissions and the type", p, f.Mode)
	}
	switch f.Mode.Type() {
	case 0:
		if f.Link != "" {
			return fmt.Errorf("%s: a regular file with a link target", p)
		}
	case fs.ModeDir:
		if f.Link != "" || len(f.Data) > 0 {
			return fmt.Errorf("%s: a directory with content or a link target", p)
		}
	case fs.ModeSymlink:
		if f.Link == "" || len(f.Data) > 0 {
			return fmt.Errorf("%s: a symbolic link needs a target and no content", p)
		}
		if strings.ContainsRune(f.Link, 0) {
			return fmt.Errorf("%s: link target contains a NUL byte", p)
		}
	default:
		return fmt.Errorf("%s: mode %v is not a regular file, directory or symbolic link", p, f.Mode)
	}
	return nil
}

// tarFiles writes the entries in the order of paths as an uncompressed tar
// stream. Names are relative to the root, directories end in a slash, and no
// access or change times are written, so the writer picks the plain USTAR
// format unless a name is too long for it.
func tarFiles(entries map[string]File, paths []string, created time.Time) ([]byte, error) {
	mtime := time.Unix(created.Unix(), 0).UTC()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, p := range paths {
		f := entries[p]
		hdr := &tar.Header{
			Name:    strings.TrimPrefix(p, "/"),
			Mode:    int64(f.Mode.Perm()),
			ModTime: mtime,
		}
		switch f.Mode.Type() {
		case fs.ModeDir:
			hdr.Typeflag = tar.TypeDir
			hdr.Name += "/"
		case fs.ModeSymlink:
			hdr.Typeflag = tar.TypeSymlink
			hdr.Linkname = f.Link
			hdr.Mode = 0o777
		default:
			hdr.Typeflag = tar.TypeReg
			hdr.Size = int64(len(f.Data))
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, fmt.Errorf("writing tar header for %s: %w", p, err)
		}
		if _, err := tw.Write(f.Data); err != nil {
			return nil, fmt.Errorf("writing %s: %w", p, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("closing tar stream: %w", err)
	}
	return buf.Bytes(), nil
}
