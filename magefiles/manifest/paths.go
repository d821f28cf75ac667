package manifest

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// pathKind says what a path in the manifest must name.
type pathKind int

const (
	anyPath  pathKind = iota // a file or a directory in the repository
	dirPath                  // a directory in the repository
	hostFile                 // a file: in the repository if relative, anywhere if absolute
)

// paths decodes a string-or-list of repository paths. ok is false if any path is bad;
// the result still holds every path given, so that later checks do not report the same
// value missing.
func (d *decoder) paths(n *yaml.Node, p string, kind pathKind) (paths []string, ok bool) {
	items := d.list(n, p)
	if items == nil {
		return nil, false
	}
	ok = true
	paths = make([]string, 0, len(items))
	seen := make(map[string]bool)
	for _, it := range items {
		rel, good := d.repoPath(it.n, it.path, it.s, kind)
		if good && seen[rel] {
			d.errorf(it.n, it.path, "path %q listed twice", it.s)
			good = false
		}
		seen[rel] = true
		ok = ok && good
		paths = append(paths, rel)
	}
	return paths, ok
}

// pathCheck and pathResult key and hold repoPath's findings: a manifest may name the
// same path many times, through defaults or aliases.
type (
	pathCheck struct {
		s    string
		kind pathKind
	}
	pathResult struct {
		clean, problem string
	}
)

// repoPath checks the path s and returns it cleaned and slash-separated: relative to the
// repository root, or, for a host file, absolute if it was given absolute. A path must
// exist and stay inside the repository, also after resolving symlinks; an absolute path
// inside the repository is made relative. A bad path is reported at n and returned as
// cleaned as it could be.
func (d *decoder) repoPath(n *yaml.Node, p, s string, kind pathKind) (string, bool) {
	key := pathCheck{s, kind}
	r, ok := d.checked[key]
	if !ok {
		r.clean, r.problem = d.checkPath(s, kind)
		r.clean = filepath.ToSlash(r.clean)
		if d.checked == nil {
			d.checked = make(map[pathCheck]pathResult)
		}
		d.checked[key] = r
	}
	if r.problem != "" {
		d.errorf(n, p, "%s", r.problem)
		return r.clean, false
	}
	return r.clean, true
}

// checkPath does repoPath's work, returning the cleaned path and what is wrong with it.
func (d *decoder) checkPath(s string, kind pathKind) (clean, problem string) {
	if s == "" {
		return "", "empty path; want a path relative to the repository root"
	}
	var rel string
	if filepath.IsAbs(s) {
		abs := filepath.Clean(s)
		if kind == hostFile {
			fi, err := os.Stat(abs)
			switch {
			case err != nil:
				return abs, statProblem(s, err)
			case fi.IsDir():
				return abs, fmt.Sprintf("path %q is a directory; want a file", s)
			}
			return abs, ""
		}
		r, ok := within(d.root, abs)
		if !ok {
			r, ok = within(d.realRoot, abs)
		}
		if !ok {
			return abs, fmt.Sprintf("path %q is outside the repository; want a path relative to the repository root", s)
		}
		rel = r
	} else {
		rel = filepath.Clean(s)
		if rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return rel, fmt.Sprintf("path %q leaves the repository; want a path inside it", s)
		}
	}
	full := filepath.Join(d.root, rel)
	fi, err := os.Stat(full)
	if err != nil {
		return rel, statProblem(s, err)
	}
	resolved, err := filepath.EvalSymlinks(full)
	if err != nil {
		return rel, statProblem(s, err)
	}
	if _, ok := within(d.realRoot, resolved); !ok {
		return rel, fmt.Sprintf("path %q leads outside the repository through a symlink; want a path inside it", s)
	}
	switch {
	case kind == dirPath && !fi.IsDir():
		return rel, fmt.Sprintf("path %q is not a directory; want a directory", s)
	case kind == hostFile && fi.IsDir():
		return rel, fmt.Sprintf("path %q is a directory; want a file", s)
	}
	return rel, ""
}

// statProblem describes why the path s could not be read, without the machine-specific
// directory it was looked up in.
func statProblem(s string, err error) string {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Sprintf("path %q does not exist", s)
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return fmt.Sprintf("path %q: %v", s, err)
}

// within returns p relative to root if p is root or inside it.
func within(root, p string) (string, bool) {
	rel, err := filepath.Rel(root, p)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", false
	}
	return rel, true
}

// isDir reports whether the repository path rel is a directory.
func isDir(root, rel string) bool {
	fi, err := os.Stat(filepath.Join(root, filepath.FromSlash(rel)))
	return err == nil && fi.IsDir()
}

// langOfExt is the lang of a source file's extension, C for a header; "" if it has none.
func langOfExt(name string) string {
	ext := filepath.Ext(name)
	for _, l := range []string{LangGo, LangC, LangAsm} {
		if slices.Contains(SourceExts(l), ext) {
			return l
		}
	}
	if slices.Contains(HeaderExts, ext) {
		return LangC
	}
	return ""
}

// srcHolds returns a message when the repository paths src cannot be built as lang, as
// the toolchain reads them: a file with no extension of lang's sources (or, for C, of
// headers), a directory with no source file of lang, or no source file at all. Paths
// that cannot be read are left to the checks that report them.
func srcHolds(root string, src []string, lang string) string {
	exts := SourceExts(lang)
	want := strings.Join(exts, ", ")
	sources := 0
	for _, s := range src {
		full := filepath.Join(root, filepath.FromSlash(s))
		fi, err := os.Stat(full)
		if err != nil {
			return ""
		}
		if !fi.IsDir() {
			switch ext := filepath.Ext(s); {
			case slices.Contains(exts, ext):
				sources++
			case lang == LangC && slices.Contains(HeaderExts, ext):
			default:
				return fmt.Sprintf("%q is not a source file for lang %s (%s); set lang, or src", s, lang, want)
			}
			continue
		}
		entries, err := os.ReadDir(full)
		if err != nil {
			return ""
		}
		if !slices.ContainsFunc(entries, func(e os.DirEntry) bool { return !e.IsDir() && slices.Contains(exts, filepath.Ext(e.Name())) }) {
			return fmt.Sprintf("directory %q holds no source files for lang %s (%s); set lang, or src", s, lang, want)
		}
		sources++
	}
	if sources == 0 {
		return fmt.Sprintf("no source files for lang %s (%s), only headers; add them to src", lang, want)
	}
	return ""
}

// inferLang returns the lang of the repository paths src, or a message saying why there
// is not exactly one. A file's lang is its extension's; a directory's is go if it holds
// .go files, else c if it holds .c files, else asm if it holds assembly. All entries
// must agree.
func inferLang(root string, src []string) (lang, problem string) {
	var first string
	for _, s := range src {
		l, problem := langOf(root, s)
		if problem != "" {
			return "", problem
		}
		if lang == "" {
			lang, first = l, s
		} else if l != lang {
			return "", fmt.Sprintf("cannot infer lang: %q is %s but %q is %s; set lang", first, lang, s, l)
		}
	}
	return lang, ""
}

func langOf(root, rel string) (lang, problem string) {
	full := filepath.Join(root, filepath.FromSlash(rel))
	fi, err := os.Stat(full)
	if err != nil {
		return "", "cannot infer lang: " + statProblem(rel, err)
	}
	if !fi.IsDir() {
		if l := langOfExt(rel); l != "" {
			return l, ""
		}
		return "", fmt.Sprintf("cannot infer lang from %q; want a .go, .c, .h, .S, .s, .asm or .nasm file, or set lang", rel)
	}
	entries, err := os.ReadDir(full)
	if err != nil {
		return "", "cannot infer lang: " + statProblem(rel, err)
	}
	has := make(map[string]bool)
	for _, e := range entries {
		if e.IsDir() || filepath.Ext(e.Name()) == ".h" {
			continue
		}
		has[langOfExt(e.Name())] = true
	}
	for _, l := range []string{LangGo, LangC, LangAsm} {
		if has[l] {
			return l, ""
		}
	}
	return "", fmt.Sprintf("cannot infer lang: directory %q holds no .go, .c or assembly (.S, .s, .asm, .nasm) files; set lang", rel)
}
