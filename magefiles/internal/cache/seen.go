package cache

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// Seen is an input as a run of an action saw it: a value, or a file by the SHA-256 of
// its content. What runs saw is kept so that a later build can say which inputs
// changed.
type Seen struct {
	Name  string `json:"name"`
	Value string `json:"value"`
	// File is set when Value is the SHA-256 of the content of the file called Name.
	File bool `json:"file,omitempty"`
}

// See reads ins as a run sees them: each file by the SHA-256 of its content. A file
// that cannot be read is seen as missing.
func See(ins []Input) []Seen {
	seen := make([]Seen, len(ins))
	for i, in := range ins {
		seen[i] = Seen{Name: in.Name, Value: in.Value}
		if in.Path != "" {
			seen[i].File, seen[i].Value = true, fileSum(in.Path)
		}
	}
	return seen
}

// fileSum returns the hex SHA-256 of the file at path, or "missing".
func fileSum(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return "missing"
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "missing"
	}
	return hex.EncodeToString(h.Sum(nil))
}

// seenOutput names the inputs a run saw, in the record Remember writes.
const seenOutput = "seen.json"

// seenKey is where Remember keeps what the last run called name saw.
func seenKey(name string) Key {
	k := NewKey("seen")
	k.String("name", name)
	return k.Sum()
}

// Remember records what the last run of the action called name saw, such as the
// compile of one app for one platform into one output directory.
func (c *Cache) Remember(name string, seen []Seen) error {
	js, err := json.Marshal(seen)
	if err != nil {
		return err
	}
	// What this machine's runs saw is this machine's: it stays out of the remote tier.
	_, err = c.putLocal(seenKey(name), map[string][]byte{seenOutput: js})
	return err
}

// Recall returns what the last run of the action called name saw, as Remember recorded
// it, or an error wrapping ErrMiss when nothing was recorded.
func (c *Cache) Recall(name string) ([]Seen, error) {
	outs, err := c.getLocal(seenKey(name))
	if err != nil {
		return nil, err
	}
	var seen []Seen
	if err := json.Unmarshal(outs[seenOutput], &seen); err != nil {
		return nil, fmt.Errorf("%w: reading what %s saw: %v", ErrMiss, name, err)
	}
	return seen, nil
}

// Changes says, one line per input name, how now differs from before: a file by its
// name, a value with what it was and is.
func Changes(before, now []Seen) []string {
	group := func(seen []Seen) (map[string][]Seen, []string) {
		m := map[string][]Seen{}
		var order []string
		for _, s := range seen {
			if _, ok := m[s.Name]; !ok {
				order = append(order, s.Name)
			}
			m[s.Name] = append(m[s.Name], s)
		}
		return m, order
	}
	was, wasOrder := group(before)
	is, isOrder := group(now)
	var lines []string
	for _, name := range isOrder {
		old, ok := was[name]
		cur := is[name]
		switch {
		case !ok && cur[0].File:
			lines = append(lines, "new file "+name)
		case !ok:
			lines = append(lines, fmt.Sprintf("new %s: %s", name, excerpt(joined(cur), 0)))
		case slices.Equal(old, cur):
		case cur[0].File && len(cur) == 1 && len(old) == 1:
			lines = append(lines, "changed file "+name)
		default:
			a, b := joined(cur), joined(old)
			at := 0
			for at < min(len(a), len(b)) && a[at] == b[at] {
				at++
			}
			lines = append(lines, fmt.Sprintf("changed %s: %s, was %s", name, excerpt(a, at), excerpt(b, at)))
		}
	}
	for _, name := range wasOrder {
		if _, ok := is[name]; !ok {
			if was[name][0].File {
				lines = append(lines, "no longer reads file "+name)
			} else {
				lines = append(lines, fmt.Sprintf("dropped %s: was %s", name, excerpt(joined(was[name]), 0)))
			}
		}
	}
	return lines
}

// joined is the values of one name, as Changes shows them.
func joined(seen []Seen) string {
	vs := make([]string, len(seen))
	for i, s := range seen {
		vs[i] = s.Value
	}
	return strings.Join(vs, " ")
}

// The most of a value Changes shows, and how much of it comes before the
// first byte that differs.
const (
	excerptLen  = 117
	excerptLead = 40
)

// excerpt renders a value for Changes, quoted. A long one is cut to
// excerptLen bytes around byte at, where two values first differ, with
// "..." where it was cut, so that the change shows in a value of any
// length.
func excerpt(v string, at int) string {
	if len(v) <= excerptLen+3 {
		return fmt.Sprintf("%q", v)
	}
	start := max(0, min(at-excerptLead, len(v)-excerptLen))
	cut := v[start : start+excerptLen]
	if start > 0 {
		cut = "..." + cut
	}
	if start+excerptLen < len(v) {
		cut += "..."
	}
	return fmt.Sprintf("%q", cut)
}
