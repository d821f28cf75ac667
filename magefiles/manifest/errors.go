package manifest

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// ErrorList is every problem Parse found in a manifest, sorted by position.
type ErrorList []*Error

// Error returns the errors one per line.
func (l ErrorList) Error() string {
	var b strings.Builder
	for i, e := range l {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// Unwrap returns the errors in the list, so that errors.As finds an *Error.
func (l ErrorList) Unwrap() []error {
	errs := make([]error, len(l))
	for i, e := range l {
		errs[i] = e
	}
	return errs
}

// sorted returns l sorted by line, column and message, without repeats.
func (l ErrorList) sorted() ErrorList {
	out := slices.Clone(l)
	slices.SortStableFunc(out, func(a, b *Error) int {
		return cmp.Or(
			cmp.Compare(a.Line, b.Line),
			cmp.Compare(a.Column, b.Column),
			cmp.Compare(a.Msg, b.Msg),
		)
	})
	return slices.CompactFunc(out, func(a, b *Error) bool { return *a == *b })
}

// errorf records a problem at n. path names the value in the manifest, such as
// "apps[1].shrink[2]"; it prefixes the message unless empty. n may be nil for a problem
// with no place in the file.
func (d *decoder) errorf(n *yaml.Node, path, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if path != "" {
		msg = path + ": " + msg
	}
	e := &Error{File: d.file, Msg: msg}
	if n != nil {
		e.Line, e.Column = n.Line, n.Column
	}
	d.errs = append(d.errs, e)
}

// unknownKey records an unknown key, suggesting the closest known one when it is
// at most two edits away, and listing the known keys otherwise.
func (d *decoder) unknownKey(k *yaml.Node, path, key string, known []string) {
	if s := suggest(key, known); s != "" {
		d.errorf(k, path, "unknown key %q; did you mean %q?", key, s)
		return
	}
	d.errorf(k, path, "unknown key %q; want one of %s", key, strings.Join(known, ", "))
}

// suggest returns the word in words closest to w, if it is at most two edits away and
// closer than w is long; the first such word on a tie.
func suggest(w string, words []string) string {
	best, bestDist := "", 3
	for _, c := range words {
		if dist := editDistance(w, c); dist < bestDist && dist < len(w) {
			best, bestDist = c, dist
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, counted in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
