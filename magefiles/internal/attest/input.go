package attest

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/minimalbuild/minimal/magefiles/internal/oci"
	"github.com/minimalbuild/minimal/magefiles/internal/toolchain"
	"github.com/minimalbuild/minimal/magefiles/manifest"
)

// Input is what the documents of one platform image are made from, besides
// the image itself. The build fills it in.
type Input struct {
	// Entry is the app's entry of minimal.yaml as it was built for the
	// image's platform: EntryOf gives it.
	Entry Entry
	// Binary describes the app's executable from the compiler to the image:
	// Describe gives it.
	Binary Binary
	// BinaryPath is where the executable is in the image, such as
	// /ko-app/hello.
	BinaryPath string
	// Sources are the files a C or assembly app was built from (sources,
	// headers and includes), repository-relative: SourceFiles gives them.
	// Go apps leave it empty; their modules come from Binary.Go.
	Sources []File
	// Toolchains are the tools that built the executable, with their
	// versions: zig, musl and nasm for C and assembly. For a Go app the Go
	// version is taken from the executable's build information, which
	// is what linked it; a "go" entry here is then left out.
	Toolchains []Tool
	// Builder is the version of minimal that built the image; empty means
	// a development build.
	Builder string
	// Created is the time the build stamps on its images (oci.Created,
	// from SOURCE_DATE_EPOCH): the SBOM's creation time. It is the only
	// time in the documents.
	Created time.Time
}

// Tool is one toolchain that took part in a build.
type Tool struct {
	// Name is the tool's name: go, zig, musl or nasm.
	Name string `json:"name"`
	// Version is its version as the tool reports it, such as 0.11.0.
	Version string `json:"version"`
	// Digest, when known, identifies the tool's bytes: algorithm (sha256,
	// sha512) to lowercase hex, such as the checksum a fetched toolchain
	// was verified against.
	Digest map[string]string `json:"digest,omitempty"`
}

// File is a file with its digest.
type File struct {
	// Path names the file: repository-relative and slash-separated for a
	// source, absolute for a file in an image.
	Path string `json:"path"`
	// SHA256 is the lowercase hex SHA-256 of its content.
	SHA256 string `json:"sha256"`
	// SHA1 is the lowercase hex SHA-1 of its content, which SPDX requires
	// of every file.
	SHA1 string `json:"sha1"`
	// Size is its length in bytes.
	Size int64 `json:"size"`
}

// SourceFiles reads the files at paths, repository-relative and
// slash-separated (or absolute, for a header outside the repository), and
// returns them with their digests, sorted by path and without repeats.
func SourceFiles(root string, paths []string) ([]File, error) {
	paths = slices.Clone(paths)
	slices.Sort(paths)
	paths = slices.Compact(paths)
	files := make([]File, 0, len(paths))
	for _, p := range paths {
		host := p
		if !filepath.IsAbs(host) {
			host = filepath.Join(root, filepath.FromSlash(p))
		}
		f, err := os.Open(host)
		if err != nil {
			return nil, fmt.Errorf("reading source: %w", err)
		}
		file, err := fileOf(p, f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("reading source %s: %w", p, err)
		}
		files = append(files, file)
	}
	return files, nil
}

// fileOf reads r to its end and returns the File named path holding it.
func fileOf(path string, r io.Reader) (File, error) {
	// SHA-1 decides nothing here: SPDX 2.3 requires it of every file it lists.
	h256, h1 := sha256.New(), sha1.New()
	n, err := io.Copy(io.MultiWriter(h256, h1), r)
	if err != nil {
		return File{}, err
	}
	return File{Path: path, SHA256: hex.EncodeToString(h256.Sum(nil)), SHA1: hex.EncodeToString(h1.Sum(nil)), Size: n}, nil
}

// muslVersionFile is where zig's copy of musl states its version, under
// zig's lib directory.
const muslVersionFile = "libc/musl/src/internal/version.h"

// MuslVersion returns the version of the musl that the zig at zigPath
// links static C programs against, read from the musl sources zig ships
// beside itself (lib/libc/musl).
func MuslVersion(zigPath string) (string, error) {
	exe, err := filepath.EvalSymlinks(zigPath)
	if err != nil {
		return "", fmt.Errorf("finding zig's musl: %w", err)
	}
	path := filepath.Join(filepath.Dir(exe), "lib", filepath.FromSlash(muslVersionFile))
	raw, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("finding zig's musl: %w", err)
	}
	// The file is one line: #define VERSION "1.2.4"
	_, rest, ok := strings.Cut(string(raw), "VERSION \"")
	v, _, ok2 := strings.Cut(rest, "\"")
	if !ok || !ok2 || v == "" {
		return "", fmt.Errorf("finding zig's musl: %s does not define VERSION", path)
	}
	return v, nil
}

// Entry is an app's entry of minimal.yaml as it was built for one
// platform: the app's fields with defaults and the platform's targets
// override merged in, paths repository-relative. Its JSON keys are those
// of minimal.yaml.
type Entry struct {
	Name          string            `json:"name"`
	Platform      string            `json:"platform"`
	Lang          string            `json:"lang"`
	Src           []string          `json:"src"`
	Include       []string          `json:"include,omitempty"`
	Defines       map[string]string `json:"defines,omitempty"`
	Flags         []string          `json:"flags,omitempty"`
	Ldflags       []string          `json:"ldflags,omitempty"`
	Env           map[string]string `json:"env,omitempty"`
	Output        string            `json:"output,omitempty"`
	Shrink        []string          `json:"shrink"`
	ShrinkFailure string            `json:"shrink_failure,omitempty"`
	Image         EntryImage        `json:"image"`
	Tags          []string          `json:"tags,omitempty"`
}

// EntryImage is the image: section of an Entry.
type EntryImage struct {
	Entrypoint  []string          `json:"entrypoint,omitempty"`
	Cmd         []string          `json:"cmd,omitempty"`
	Env         map[string]string `json:"env,omitempty"`
	Workdir     string            `json:"workdir,omitempty"`
	User        string            `json:"user,omitempty"`
	Ports       []string          `json:"ports,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Data        string            `json:"data,omitempty"`
	Files       []EntryFile       `json:"files,omitempty"`
}

// EntryFile is one of image.files.
type EntryFile struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// EntryOf returns the entry that s was made from. Paths under s.Root
// become repository-relative, so the entry is the same in any checkout;
// other absolute paths (a host file such as a CA bundle) stay as they are.
// The smoke test is left out: it checks the build, it does not shape it.
func EntryOf(s manifest.Spec) Entry {
	rel := func(p string) string {
		if r, err := filepath.Rel(s.Root, p); err == nil && filepath.IsLocal(r) {
			return filepath.ToSlash(r)
		}
		return p
	}
	rels := func(ps []string) []string {
		if ps == nil {
			return nil
		}
		out := make([]string, len(ps))
		for i, p := range ps {
			out[i] = rel(p)
		}
		return out
	}
	e := Entry{
		Name:          s.App,
		Platform:      s.Platform.String(),
		Lang:          s.Lang,
		Src:           rels(s.Src),
		Include:       rels(s.Include),
		Defines:       maps.Clone(s.Defines),
		Flags:         slices.Clone(s.Flags),
		Ldflags:       slices.Clone(s.Ldflags),
		Env:           maps.Clone(s.Env),
		Output:        s.Output,
		Shrink:        slices.Clone(s.Shrink),
		ShrinkFailure: s.ShrinkFailure,
		Tags:          slices.Clone(s.Tags),
		Image: EntryImage{
			Entrypoint:  slices.Clone(s.Image.Entrypoint),
			Cmd:         slices.Clone(s.Image.Cmd),
			Env:         maps.Clone(s.Image.Env),
			Workdir:     s.Image.Workdir,
			User:        s.Image.User,
			Ports:       slices.Clone(s.Image.Ports),
			Labels:      maps.Clone(s.Image.Labels),
			Annotations: maps.Clone(s.Image.Annotations),
		},
	}
	if s.Image.Data != "" {
		e.Image.Data = rel(s.Image.Data)
	}
	for _, f := range s.Image.Files {
		e.Image.Files = append(e.Image.Files, EntryFile{From: rel(f.From), To: f.To})
	}
	if e.Shrink == nil {
		e.Shrink = []string{}
	}
	return e
}

// InputFor is what the documents of the image of s say beyond the image itself: its
// manifest entry, described (the executable from the compiler to the image), the files
// the build read (host paths: the toolchain's toolchain.BuiltFrom) and the tools that
// built it, and the creation time the build stamps.
func InputFor(s manifest.Spec, described Binary, files []string, tools []toolchain.Tool, created time.Time) (Input, error) {
	in := Input{Entry: EntryOf(s), Binary: described, BinaryPath: path.Join(oci.AppDir, s.App), Created: created}
	rel := make([]string, len(files))
	for i, f := range files {
		rel[i] = s.RepoPath(f)
	}
	var err error
	if in.Sources, err = SourceFiles(s.Root, rel); err != nil {
		return Input{}, err
	}
	for _, t := range tools {
		in.Toolchains = append(in.Toolchains, Tool{Name: t.Name, Version: t.Version})
	}
	return in, nil
}
