package manifest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// The values of Fields.Lang.
const (
	LangGo  = "go"
	LangC   = "c"
	LangAsm = "asm"
)

// The values of Fields.Output, for asm apps.
const (
	// OutputELF means the sources are assembled into objects and linked.
	OutputELF = "elf"
	// OutputFlat means the assembled bytes are the executable themselves.
	OutputFlat = "flat"
)

// The values of Fields.ShrinkFailure.
const (
	// ShrinkFail stops the build when a shrink pass fails or its result fails the
	// smoke test.
	ShrinkFail = "fail"
	// ShrinkSkip keeps the failed pass's input, warns, and goes on with the next pass.
	ShrinkSkip = "skip"
)

// Defaults applied when the manifest leaves a setting out.
const (
	// DefaultZig is the zig version when toolchains.zig is not set.
	DefaultZig = "0.11.0"
	// DefaultUser is the image user when image.user is not set: a non-root uid, as in
	// ko and distroless.
	DefaultUser = "65532"
	// DefaultAfter is how long a smoke test waits before sending test.signal when
	// test.after is not set.
	DefaultAfter = 200 * time.Millisecond
	// TestTimeout is how long a smoke test may run: one without a signal must end
	// within it, and test.after may be at most that long.
	TestTimeout = 30 * time.Second
)

// DefaultPlatforms returns the platforms every app is built for when the manifest does
// not set platforms: linux/amd64 and linux/386, the two supported ones.
func DefaultPlatforms() []Platform {
	return []Platform{{OS: "linux", Arch: "amd64"}, {OS: "linux", Arch: "386"}}
}

// Load reads the manifest at path and parses it with the manifest's directory as the
// repository root. File in the result, and in errors, is path as given.
func Load(path string) (*Manifest, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading manifest: %w", err)
	}
	root, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("finding repository root: %w", err)
	}
	return Parse(path, root, data)
}

// Parse parses and validates the manifest data, names it file in errors and in the
// result, checks its paths against the repository at root (made absolute if relative),
// and applies defaults. On any problem it returns a nil Manifest and an ErrorList with
// every problem found, sorted by position.
func Parse(file, root string, data []byte) (*Manifest, error) {
	d := &decoder{file: file, budget: 1}
	abs, err := filepath.Abs(root)
	if err != nil {
		d.errorf(nil, "", "repository root %q: %v", root, err)
		return nil, d.errs
	}
	resolved, err := filepath.EvalSymlinks(abs)
	if err != nil {
		d.errorf(nil, "", "repository root: %v", err)
		return nil, d.errs
	}
	d.root, d.realRoot = abs, resolved

	var m *Manifest
	if top := d.document(data); top != nil {
		m = d.walk(top)
	}
	if len(d.errs) == 0 {
		// Parse's checks are meant to leave nothing for Specs to reject; if they
		// missed something, say so here rather than at build time.
		if _, err := m.Specs(); err != nil {
			d.errorf(nil, "", "%v", err)
		}
	}
	if len(d.errs) > 0 {
		return nil, d.errs.sorted()
	}
	return m, nil
}

// decoder walks a manifest's YAML nodes and collects errors.
type decoder struct {
	file     string
	root     string // absolute repository root
	realRoot string // root with symlinks resolved
	errs     ErrorList

	visits, budget int                      // nodes resolved so far, and the most allowed
	checked        map[pathCheck]pathResult // repoPath's findings, by path and kind
}

// syntaxLine matches yaml.v3's syntax errors that carry a line.
var syntaxLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// document decodes data into its single top-level node, which it returns if it is a
// mapping; otherwise it records why and returns nil.
func (d *decoder) document(data []byte) (top *yaml.Node) {
	defer func() {
		// yaml.v3 is not known to panic on any input since v3.0.0, but a manifest
		// must never crash the build.
		if r := recover(); r != nil {
			d.errorf(nil, "", "invalid YAML: %v", r)
			top = nil
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			d.errorf(nil, "", "empty manifest; want a mapping with version and apps")
		} else {
			d.syntax(data, err)
		}
		return nil
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case err == nil:
		d.errorf(&next, "", "a second YAML document; want exactly one")
	case !errors.Is(err, io.EOF):
		d.syntax(data, err)
	}
	if len(doc.Content) == 0 {
		d.errorf(nil, "", "empty manifest; want a mapping with version and apps")
		return nil
	}
	top = d.resolve(doc.Content[0])
	switch {
	case isNull(top):
		d.errorf(nil, "", "empty manifest; want a mapping with version and apps")
		return nil
	case top.Kind != yaml.MappingNode:
		d.errorf(top, "", "want a mapping with version and apps at the top level, got %s", describe(top))
		return nil
	}
	return top
}

// syntax records a YAML syntax error in data where it is. yaml.v3 gives the line where
// the construct holding the error begins (a list that a badly indented line ends, say),
// or no line, and never a column; syntaxAt narrows that down.
func (d *decoder) syntax(data []byte, err error) {
	line, msg := splitSyntax(err)
	line, col := syntaxAt(data, line, msg)
	d.errs = append(d.errs, &Error{File: d.file, Line: line, Column: col, Msg: "invalid YAML: " + msg})
}

// splitSyntax returns the line a yaml.v3 syntax error names, 0 for none, and its
// message.
func splitSyntax(err error) (line int, msg string) {
	msg = err.Error()
	if m := syntaxLine.FindStringSubmatch(msg); m != nil {
		if line, err := strconv.Atoi(m[1]); err == nil {
			return line, m[2]
		}
	}
	return 0, strings.TrimPrefix(msg, "yaml: ")
}

// syntaxAt finds the line and column of a syntax error that yaml.v3 reports as msg at
// line: the first line whose end, when the file is cut there, gives the same error at
// the same line, found by bisection. That is where the error is, or, for one that shows
// only at a later line (a flow collection left open), no earlier than line. The column
// is that of the character the message names (a tab, an alias) or of the line's first
// one. When no cut gives the error, it returns line and no column.
func syntaxAt(data []byte, line int, msg string) (int, int) {
	lines := bytes.SplitAfter(data, []byte("\n"))
	same := func(k int) bool {
		err := firstError(bytes.Join(lines[:k], nil))
		if err == nil {
			return false
		}
		l, m := splitSyntax(err)
		return l == line && m == msg
	}
	lo, hi := max(line, 1), len(lines)
	if lo > hi || !same(hi) {
		return line, 0
	}
	for lo < hi { // same(hi) holds
		if mid := (lo + hi) / 2; same(mid) {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return hi, syntaxColumn(string(lines[hi-1]), msg)
}

// firstError returns the first error decoding data's documents gives, nil for none.
func firstError(data []byte) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var n yaml.Node
		if err := dec.Decode(&n); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

// unknownAnchor matches yaml.v3's message for an alias with no anchor.
var unknownAnchor = regexp.MustCompile(`^unknown anchor '(.*)' referenced$`)

// syntaxColumn returns the 1-based column, in characters, in line of what msg is about.
func syntaxColumn(line, msg string) int {
	at := -1
	switch {
	case strings.Contains(msg, "tab"):
		at = strings.IndexByte(line, '\t')
	case unknownAnchor.MatchString(msg):
		at = strings.Index(line, "*"+unknownAnchor.FindStringSubmatch(msg)[1])
	}
	if at < 0 {
		at = len(line) - len(strings.TrimLeft(line, " \t"))
		if at == len(line) {
			return 1
		}
	}
	return utf8.RuneCountInString(line[:at]) + 1
}

// resolve follows an alias to the node it names. Every node the decoder visits passes
// through it, so it also keeps the walk within its budget: aliases let a small file name
// the same large value many times, and the walk goes through each use.
func (d *decoder) resolve(n *yaml.Node) *yaml.Node {
	d.visits++
	if d.visits > d.budget {
		panic(errBudget)
	}
	for i := 0; i < 8 && n.Kind == yaml.AliasNode && n.Alias != nil; i++ {
		n = n.Alias
	}
	return n
}

// errBudget is what resolve panics with, and Parse recovers, when the walk is over its
// budget.
var errBudget = errors.New("the manifest expands to too many values through aliases")

// countNodes returns the number of nodes written in the document, not following aliases.
func countNodes(n *yaml.Node) int {
	c := 1
	for _, k := range n.Content {
		c += countNodes(k)
	}
	return c
}

// walk decodes the document top, stopping with an error if resolve runs over budget.
func (d *decoder) walk(top *yaml.Node) (m *Manifest) {
	d.budget = 10*countNodes(top) + 10000
	defer func() {
		if r := recover(); r != nil {
			if r != errBudget {
				panic(r)
			}
			d.errorf(nil, "", "%v; want fewer uses of large anchors", errBudget)
			m = nil
		}
	}()
	return d.manifest(top)
}

// isNull reports whether n is a null scalar: "~", "null", or nothing at all.
func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// describe names what n is, for "want X, got Y" messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if isNull(n) {
			return "null"
		}
		return strconv.Quote(n.Value)
	}
	return "an unresolved alias"
}

// join appends key to the value path p.
func join(p, key string) string {
	if p == "" {
		return key
	}
	return p + "." + key
}

// entry is one key and value of a mapping.
type entry struct {
	key  string
	k, v *yaml.Node // v has its alias resolved
	path string     // the value's path
}

// mapping returns the entries of the mapping n, recording an error for every duplicate
// key, non-string key, and (when known is not nil) every key not in known. notHere
// gives the message for keys that exist elsewhere in the schema but are not allowed in
// this mapping.
func (d *decoder) mapping(n *yaml.Node, path string, known []string, notHere map[string]string) []entry {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, path, "want a mapping, got %s", describe(n))
		return nil
	}
	seen := make(map[string]*yaml.Node)
	var out []entry
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn, v := n.Content[i], d.resolve(n.Content[i+1])
		k := d.resolve(kn)
		if k.Kind != yaml.ScalarNode {
			d.errorf(kn, path, "want a string key, got %s", describe(k))
			continue
		}
		if k.ShortTag() == "!!merge" {
			d.errorf(kn, path, "merge keys (<<) are not supported; put shared settings in defaults")
			continue
		}
		key := k.Value
		if first, ok := seen[key]; ok {
			d.errorf(kn, path, "duplicate key %q (first at line %d)", key, first.Line)
			continue
		}
		seen[key] = kn
		if known != nil && !slices.Contains(known, key) {
			if why, ok := notHere[key]; ok {
				d.errorf(kn, join(path, key), "%s", why)
			} else {
				d.unknownKey(kn, path, key, known)
			}
			continue
		}
		out = append(out, entry{key: key, k: kn, v: v, path: join(path, key)})
	}
	return out
}

// scalar returns the text of the scalar n; a null scalar's text is "". Any scalar is
// accepted, so `user: 65532` gives "65532".
func (d *decoder) scalar(n *yaml.Node, path string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		d.errorf(n, path, "want a string, got %s", describe(n))
		return "", false
	}
	if isNull(n) {
		return "", true
	}
	return n.Value, true
}

// item is one string of a string-or-list value.
type item struct {
	s    string
	n    *yaml.Node
	path string
}

// list returns the strings of n, which is either one scalar or a list of scalars. An
// empty list gives a non-nil empty result.
func (d *decoder) list(n *yaml.Node, path string) []item {
	switch n.Kind {
	case yaml.ScalarNode:
		s, _ := d.scalar(n, path)
		return []item{{s: s, n: n, path: path}}
	case yaml.SequenceNode:
		items := make([]item, 0, len(n.Content))
		for i, c := range n.Content {
			c = d.resolve(c)
			p := fmt.Sprintf("%s[%d]", path, i)
			if s, ok := d.scalar(c, p); ok {
				items = append(items, item{s: s, n: c, path: p})
			}
		}
		return items
	}
	d.errorf(n, path, "want a string or a list of strings, got %s", describe(n))
	return nil
}

// stringList returns the strings of the string-or-list n. When check is not nil, it
// returns a message for each bad string, and no string may appear twice.
func (d *decoder) stringList(n *yaml.Node, path string, check func(string) string) []string {
	items := d.list(n, path)
	if items == nil {
		return nil
	}
	out := make([]string, 0, len(items))
	seen := make(map[string]bool)
	for _, it := range items {
		if strings.ContainsRune(it.s, 0) {
			d.errorf(it.n, it.path, "%s", nulProblem)
			continue
		}
		if check != nil {
			if msg := check(it.s); msg != "" {
				d.errorf(it.n, it.path, "%s", msg)
				continue
			}
			if seen[it.s] {
				d.errorf(it.n, it.path, "%q listed twice", it.s)
				continue
			}
			seen[it.s] = true
		}
		out = append(out, it.s)
	}
	return out
}

// stringMap returns the mapping n of strings to strings; a null value is "". checkKey
// returns a message for a bad key; checkValue, when not nil, one for a bad value of a
// key.
func (d *decoder) stringMap(n *yaml.Node, path string, checkKey func(string) string, checkValue func(k, v string) string) map[string]string {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, path, "want a mapping of strings, got %s", describe(n))
		return nil
	}
	out := make(map[string]string)
	for _, e := range d.mapping(n, path, nil, nil) {
		if msg := checkKey(e.key); msg != "" {
			d.errorf(e.k, path, "%s", msg)
			continue
		}
		if strings.ContainsRune(e.key, 0) {
			d.errorf(e.k, path, "%s", nulProblem)
			continue
		}
		if v, ok := d.scalar(e.v, e.path); ok {
			if strings.ContainsRune(v, 0) {
				d.errorf(e.v, e.path, "%s", nulProblem)
				continue
			}
			if checkValue != nil {
				if msg := checkValue(e.key, v); msg != "" {
					d.errorf(e.v, e.path, "%s", msg)
					continue
				}
			}
			out[e.key] = v
		}
	}
	return out
}

// nulProblem is the error for a string that holds a NUL byte.
const nulProblem = "holds a NUL byte, which no argument, environment variable or label can"
