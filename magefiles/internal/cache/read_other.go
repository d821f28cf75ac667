//go:build !linux

package cache

import (
	"io"
	"os"
)

// readFile reads the regular file at path, at most limit bytes long, and returns its
// contents with its stamp.
func readFile(path string, limit int64) ([]byte, stamp, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, stamp{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, stamp{}, err
	}
	s := stamp{size: fi.Size(), mtime: fi.ModTime(), regular: fi.Mode().IsRegular()}
	if !s.regular || s.size > limit {
		return nil, s, errNotReadable
	}
	data := make([]byte, s.size)
	if _, err := io.ReadFull(f, data); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, s, err
	}
	return data, s, nil
}

// lstamp returns the stamp of the file at path, not following a symbolic link.
func lstamp(path string) (stamp, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return stamp{}, err
	}
	return stamp{size: fi.Size(), mtime: fi.ModTime(), regular: fi.Mode().IsRegular()}, nil
}
