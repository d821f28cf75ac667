package resolve

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/minimalbuild/minimal/magefiles/manifest"
)

// Scheme starts a reference to an app's image: minimal://<app>.
const Scheme = "minimal://"

// ErrUnknownApp is the error, wrapped in an *Error, of a reference to an
// app that Check was not told of.
var ErrUnknownApp = errors.New("unknown app")

// imageRef is what a replacement may hold: the characters of an image
// reference, none of which changes the meaning of YAML text around it.
var imageRef = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:/@-]*$`)

// Ref is a reference to an app's image in a YAML file.
type Ref struct {
	// App is the name after minimal://.
	App string
	// File, Line and Column are where the reference is; Line and Column
	// count from 1, Column in characters.
	File         string
	Line, Column int
}

func (r Ref) String() string {
	return fmt.Sprintf("%s:%d:%d: %s%s", r.File, r.Line, r.Column, Scheme, r.App)
}

// Error is a problem at a place in a YAML file.
type Error struct {
	File         string
	Line, Column int
	Err          error
}

func (e *Error) Error() string {
	if e.Line == 0 {
		return fmt.Sprintf("%s: %v", e.File, e.Err)
	}
	return fmt.Sprintf("%s:%d:%d: %v", e.File, e.Line, e.Column, e.Err)
}

// Unwrap returns the problem.
func (e *Error) Unwrap() error { return e.Err }

// Refs returns every reference in the YAML stream r, in the order they
// appear. file names r in errors and in the Refs.
func Refs(r io.Reader, file string) ([]Ref, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", file, err)
	}
	sites, _, err := scan(data, file)
	if err != nil {
		return nil, err
	}
	refs := make([]Ref, len(sites))
	for i, s := range sites {
		refs[i] = s.ref
	}
	return refs, nil
}

// Apps returns the apps refs name, sorted, each once.
func Apps(refs []Ref) []string {
	var apps []string
	for _, r := range refs {
		apps = append(apps, r.App)
	}
	slices.Sort(apps)
	return slices.Compact(apps)
}

// Check returns an error for each of refs that names an app not in known,
// joined, each an *Error at the reference wrapping ErrUnknownApp; or nil
// when they all name known apps.
func Check(refs []Ref, known []string) error {
	var errs []error
	list := slices.Sorted(slices.Values(known))
	for _, r := range refs {
		if slices.Contains(known, r.App) {
			continue
		}
		errs = append(errs, &Error{File: r.File, Line: r.Line, Column: r.Column,
			Err: fmt.Errorf("%s%s: %w %q; the apps are %s", Scheme, r.App, ErrUnknownApp, r.App, strings.Join(list, ", "))})
	}
	return errors.Join(errs...)
}

// Resolve reads the YAML stream r and returns it with every reference
// replaced by image(ctx, app), which is called once per app, in the order
// the apps first appear. An error of image is returned in an *Error at
// the app's first reference. file names r in errors.
func Resolve(ctx context.Context, r io.Reader, file string, image func(ctx context.Context, app string) (string, error)) ([]byte, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", file, err)
	}
	sites, docs, err := scan(data, file)
	if err != nil {
		return nil, err
	}
	images := map[string]string{}
	for _, s := range sites {
		if _, done := images[s.ref.App]; done {
			continue
		}
		img, err := image(ctx, s.ref.App)
		if err == nil && !imageRef.MatchString(img) {
			err = fmt.Errorf("image reference %q is not one", img)
		}
		if err != nil {
			return nil, s.errorf("%s%s: %w", Scheme, s.ref.App, err)
		}
		images[s.ref.App] = img
	}
	var out bytes.Buffer
	last := 0
	for _, s := range sites {
		out.Write(data[last:s.start])
		q := s.quote
		out.WriteString(q + images[s.ref.App] + q)
		last = s.end
	}
	out.Write(data[last:])
	if err := same(docs, sites, images, out.Bytes()); err != nil {
		return nil, fmt.Errorf("resolving %s: %w", file, err)
	}
	return out.Bytes(), nil
}

// site is a reference and the bytes of its scalar in the file.
type site struct {
	ref        Ref
	node       *yaml.Node
	start, end int
	quote      string // "", "'" or `"`
}

func (s site) errorf(format string, args ...any) error {
	return &Error{File: s.ref.File, Line: s.ref.Line, Column: s.ref.Column, Err: fmt.Errorf(format, args...)}
}

// scan parses data and finds every reference in it, in order.
func scan(data []byte, file string) ([]site, []*yaml.Node, error) {
	if bytes.HasPrefix(data, []byte{0xfe, 0xff}) || bytes.HasPrefix(data, []byte{0xff, 0xfe}) {
		return nil, nil, &Error{File: file, Err: errors.New("the file is UTF-16; convert it to UTF-8")}
	}
	lines := lineStarts(data)
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var docs []*yaml.Node
	var sites []site
	for {
		doc := &yaml.Node{}
		err := dec.Decode(doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, &Error{File: file, Err: err}
		}
		docs = append(docs, doc)
		var walkErr error
		walk(doc, func(n *yaml.Node) {
			if walkErr != nil || n.Kind != yaml.ScalarNode || n.Tag != "!!str" || !strings.HasPrefix(n.Value, Scheme) {
				return
			}
			s := site{ref: Ref{App: strings.TrimPrefix(n.Value, Scheme), File: file, Line: n.Line, Column: n.Column}, node: n}
			if !manifest.ValidAppName(s.ref.App) {
				walkErr = s.errorf("%q does not name an app: want %s<app>, the app's name as in minimal.yaml", n.Value, Scheme)
				return
			}
			walkErr = s.locate(data, lines, n)
			sites = append(sites, s)
		})
		if walkErr != nil {
			return nil, nil, walkErr
		}
	}
	slices.SortFunc(sites, func(a, b site) int { return a.start - b.start })
	return sites, docs, nil
}

// walk calls f for n and every node under it, mapping keys and aliases
// left out.
func walk(n *yaml.Node, f func(*yaml.Node)) {
	f(n)
	switch n.Kind {
	case yaml.MappingNode:
		for i := 1; i < len(n.Content); i += 2 {
			walk(n.Content[i], f)
		}
	case yaml.DocumentNode, yaml.SequenceNode:
		for _, c := range n.Content {
			walk(c, f)
		}
	}
}

// lineStarts returns the offset of the start of each line of data, as
// YAML counts lines; a leading byte order mark is not part of line 1.
func lineStarts(data []byte) []int {
	starts := []int{0}
	if bytes.HasPrefix(data, []byte("\ufeff")) {
		starts[0] = 3
	}
	for i := 0; i < len(data); i++ {
		switch {
		case data[i] == '\r' && i+1 < len(data) && data[i+1] == '\n':
			i++
			starts = append(starts, i+1)
		case data[i] == '\r', data[i] == '\n':
			starts = append(starts, i+1)
		case bytes.HasPrefix(data[i:], []byte("\u0085")):
			i++
			starts = append(starts, i+1)
		case bytes.HasPrefix(data[i:], []byte("\u2028")), bytes.HasPrefix(data[i:], []byte("\u2029")):
			i += 2
			starts = append(starts, i+1)
		}
	}
	return starts
}

// locate finds the bytes of the scalar n in data and sets s.start, s.end
// and s.quote.
func (s *site) locate(data []byte, lines []int, n *yaml.Node) error {
	if n.Line < 1 || n.Line > len(lines) {
		return s.errorf("cannot find %s in the file", n.Value)
	}
	off := lines[n.Line-1]
	for range n.Column - 1 {
		if off >= len(data) {
			return s.errorf("cannot find %s in the file", n.Value)
		}
		_, size := utf8.DecodeRune(data[off:])
		off += size
	}
	// The node's position is that of its anchor or tag, if it has them.
	for off < len(data) && (data[off] == '&' || data[off] == '!') {
		for off < len(data) && !isSpace(data[off]) {
			off++
		}
		for off < len(data) && isSpace(data[off]) {
			off++
		}
	}
	rest := data[off:]
	switch {
	case n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0:
		return s.errorf("%s is a block scalar (| or >): write it as a plain or quoted string", n.Value)
	case n.Style&yaml.SingleQuotedStyle != 0:
		s.quote = "'"
	case n.Style&yaml.DoubleQuotedStyle != 0:
		s.quote = `"`
	}
	text := s.quote + n.Value + s.quote
	if !bytes.HasPrefix(rest, []byte(text)) {
		return s.errorf("%s is written with escapes or line breaks: write it on one line as it reads", n.Value)
	}
	s.start, s.end = off, off+len(text)
	return nil
}

func isSpace(b byte) bool {
	return b == ' ' || b == '\t' || b == '\r' || b == '\n'
}

// same checks that out parses to docs with the references of sites
// replaced by images, and is the same otherwise.
func same(docs []*yaml.Node, sites []site, images map[string]string, out []byte) error {
	replaced := map[*yaml.Node]string{}
	for _, s := range sites {
		replaced[s.node] = images[s.ref.App]
	}
	dec := yaml.NewDecoder(bytes.NewReader(out))
	for i := 0; ; i++ {
		var got yaml.Node
		err := dec.Decode(&got)
		if errors.Is(err, io.EOF) {
			if i != len(docs) {
				return fmt.Errorf("the result has %d documents, not %d", i, len(docs))
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("the result does not parse: %w", err)
		}
		if i >= len(docs) {
			return fmt.Errorf("the result has more than %d documents", len(docs))
		}
		if err := sameNode(docs[i], &got, replaced); err != nil {
			return err
		}
	}
}

func sameNode(want, got *yaml.Node, replaced map[*yaml.Node]string) error {
	value := want.Value
	if r, ok := replaced[want]; ok {
		value = r
	}
	if want.Kind != got.Kind || want.Tag != got.Tag || value != got.Value || len(want.Content) != len(got.Content) {
		return fmt.Errorf("line %d: the result reads differently from the original", want.Line)
	}
	for i := range want.Content {
		if err := sameNode(want.Content[i], got.Content[i], replaced); err != nil {
			return err
		}
	}
	return nil
}
