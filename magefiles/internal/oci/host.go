package oci

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// DirLayer returns a layer holding a copy of the host directory hostDir at
// imageDir in the image (an app's data directory goes to DataDir). Only the
// executable bits of the host modes survive: a regular file becomes 0o755 if
// any execute bit is set and 0o644 otherwise, every directory 0o755. A
// symbolic link is kept as a link when its target is relative and, read
// lexically, stays inside hostDir; any other link, and any file that is not a
// regular file, directory or link, is an error. hostDir itself may be a link
// to a directory. The files are read when DirLayer is called, so the layer
// does not change if the host files do. An error names the host file at
// fault and leaves the layer's role to the caller: "data layer: ".
func DirLayer(hostDir, imageDir string, created time.Time) (v1.Layer, error) {
	files, err := dirFiles(hostDir, imageDir)
	if err != nil {
		return nil, err
	}
	return Layer(files, created)
}

// HostFile is a file copied from the host into an image.
type HostFile struct {
	// From is the file on the host. Links are followed.
	From string
	// To is the absolute path in the image.
	To string
}

// HostFilesLayer returns a layer holding a copy of each host file at its
// image path, with the same mode rule as DirLayer: 0o755 if any execute bit
// is set, else 0o644. Each From must be, or link to, a regular file. An
// error names the host file at fault and leaves the layer's role to the
// caller: "files layer: ".
func HostFilesLayer(files []HostFile, created time.Time) (v1.Layer, error) {
	if len(files) == 0 {
		return nil, fmt.Errorf("no files")
	}
	out := make([]File, 0, len(files))
	for _, hf := range files {
		fi, err := os.Stat(hf.From)
		if err != nil {
			return nil, err
		}
		if !fi.Mode().IsRegular() {
			return nil, fmt.Errorf("%s is not a regular file (mode %v)", hf.From, fi.Mode())
		}
		data, err := os.ReadFile(hf.From)
		if err != nil {
			return nil, err
		}
		out = append(out, File{Path: hf.To, Mode: fileMode(fi.Mode()), Data: data})
	}
	return Layer(out, created)
}

// fileMode keeps only whether a host file is executable.
func fileMode(m fs.FileMode) fs.FileMode {
	if m&0o111 != 0 {
		return 0o755
	}
	return 0o644
}

// dirFiles reads the tree under hostDir into layer entries under imageDir.
func dirFiles(hostDir, imageDir string) ([]File, error) {
	if !path.IsAbs(imageDir) || path.Clean(imageDir) != imageDir {
		return nil, fmt.Errorf("image directory %q is not an absolute clean path", imageDir)
	}
	root, err := filepath.EvalSymlinks(hostDir)
	if err != nil {
		return nil, err
	}
	fi, err := os.Stat(root)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("%s is not a directory", hostDir)
	}
	var files []File
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		f := File{Path: path.Join(imageDir, rel)}
		if f.Path == "/" {
			return nil // the root needs no entry of its own
		}
		host := filepath.Join(hostDir, filepath.FromSlash(rel))
		switch t := d.Type(); {
		case t.IsDir():
			f.Mode = fs.ModeDir | dirMode
		case t.IsRegular():
			info, err := d.Info()
			if err != nil {
				return err
			}
			if f.Data, err = os.ReadFile(p); err != nil {
				return err
			}
			f.Mode = fileMode(info.Mode())
		case t&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			if filepath.IsAbs(target) {
				return fmt.Errorf("%s: link to the absolute path %s; only relative links inside the directory are kept", host, target)
			}
			resolved := filepath.ToSlash(filepath.Join(filepath.Dir(filepath.FromSlash(rel)), target))
			if resolved == ".." || strings.HasPrefix(resolved, "../") {
				return fmt.Errorf("%s: link to %s leaves the directory", host, target)
			}
			f.Mode = fs.ModeSymlink | 0o777
			f.Link = filepath.ToSlash(target)
		default:
			return fmt.Errorf("%s: unsupported file type %v", host, t)
		}
		files = append(files, f)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return files, nil
}
