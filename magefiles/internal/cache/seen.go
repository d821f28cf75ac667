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
			lines = append(lines, fmt.Sprintf("new %s: %s", name, values(cur)))
		case slices.Equal(old, cur):
		case cur[0].File && len(cur) == 1 && len(old) == 1:
			lines = append(lines, "changed file "+name)
		default:
			lines = append(lines, fmt.Sprintf("changed %s: %s, was %s", name, values(cur), values(old)))
		}
	}
	for _, name := range wasOrder {
		if _, ok := is[name]; !ok {
			if was[name][0].File {
				lines = append(lines, "no longer reads file "+name)
			} else {
				lines = append(lines, fmt.Sprintf("dropped %s: was %s", name, values(was[name])))
			}
		}
	}
	return lines
}

// values renders the values of one name for Changes, cut short when long.
func values(seen []Seen) string {
	vs := make([]string, len(seen))
	for i, s := range seen {
		vs[i] = s.Value
	}
	v := strings.Join(vs, " ")
	if len(v) > 120 {
		v = v[:117] + "..."
	}
	return fmt.Sprintf("%q", v)
}
