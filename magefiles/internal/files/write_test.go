package files

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWrite(t *testing.T) {
	errWrite := errors.New("the writer failed")
	tests := []struct {
		name    string
		cancel  bool                  // cancel the context before writing
		write   func(io.Writer) error // what to write over "old"
		perm    fs.FileMode
		want    string // the file's contents afterwards
		wantErr error
	}{
		{
			name:  "replaces the file with the given mode",
			write: func(w io.Writer) error { _, err := io.WriteString(w, "new"); return err },
			perm:  0o755,
			want:  "new",
		},
		{
			name: "keeps the old file when the writer fails after writing some",
			write: func(w io.Writer) error {
				if _, err := io.WriteString(w, "ne"); err != nil {
					return err
				}
				return errWrite
			},
			perm:    0o644,
			want:    "old",
			wantErr: errWrite,
		},
		{
			name:    "keeps the old file when the context has ended",
			cancel:  true,
			write:   func(w io.Writer) error { _, err := io.WriteString(w, "new"); return err },
			perm:    0o644,
			want:    "old",
			wantErr: context.Canceled,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "f")
			if err := os.WriteFile(path, []byte("old"), 0o600); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(t.Context())
			if tt.cancel {
				cancel()
			}
			defer cancel()
			err := Write(ctx, path, tt.perm, tt.write)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Write error = %v, want %v", err, tt.wantErr)
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("file holds %q, want %q", got, tt.want)
			}
			if tt.wantErr == nil {
				fi, err := os.Stat(path)
				if err != nil {
					t.Fatal(err)
				}
				if fi.Mode().Perm() != tt.perm {
					t.Errorf("mode %v, want %v", fi.Mode().Perm(), tt.perm)
				}
			}
			entries, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range entries {
				if strings.HasPrefix(e.Name(), TempPrefix) {
					t.Errorf("left a temporary file %s", e.Name())
				}
			}
		})
	}
}

func TestWriteAtomicCreatesAMissingFileAndDirectory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "new", "file")
	if err := WriteAtomic(path, []byte("data"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(path); err != nil || string(got) != "data" {
		t.Errorf("ReadFile = %q, %v; want \"data\"", got, err)
	}
}

func TestWriteFailsInAMissingDirectory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing", "f")
	err := Write(t.Context(), path, 0o644, func(io.Writer) error { return nil })
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Write error = %v, want fs.ErrNotExist", err)
	}
}
