package cache

import (
	"errors"
	"io/fs"
	"strings"
)

// discoveredOutput names the list of discovered files in a record.
const discoveredOutput = "discovered"

// An action that finds some of its inputs only as it runs, such as a compile that
// learns which headers its sources include, is cached in two levels, as ccache's direct
// mode does: under the key of its declared inputs the cache records the names of the
// files its last run discovered it read, and the action's outputs are stored under
// that key plus what those files hold now.

// DiscoveredKey returns the key of the action whose declared inputs have key inputs:
// inputs plus the content of each file its last run recorded (RecordDiscovered), found
// at host(name). ok is false when no run was recorded, or when a recorded file is
// gone: the action must run. names are the files recorded, when there is a record.
func (c *Cache) DiscoveredKey(inputs Key, host func(name string) string) (key Key, names []string, ok bool, err error) {
	outs, err := c.Get(inputs)
	if errors.Is(err, ErrMiss) {
		return Key{}, nil, false, nil
	}
	if err != nil {
		return Key{}, nil, false, err
	}
	if d := string(outs[discoveredOutput]); d != "" {
		names = strings.Split(d, "\n")
	}
	key, err = discoveredKey(inputs, names, host)
	if errors.Is(err, fs.ErrNotExist) {
		return Key{}, names, false, nil
	}
	return key, names, err == nil, err
}

// RecordDiscovered records that a run of the action whose declared inputs have key
// inputs read the files names, found at host(name), and returns the key its outputs
// are to be stored under.
func (c *Cache) RecordDiscovered(inputs Key, names []string, host func(name string) string) (Key, error) {
	if err := c.Put(inputs, map[string][]byte{discoveredOutput: []byte(strings.Join(names, "\n"))}); err != nil {
		return Key{}, err
	}
	return discoveredKey(inputs, names, host)
}

// discoveredKey is inputs plus the content of each named file.
func discoveredKey(inputs Key, names []string, host func(name string) string) (Key, error) {
	k := NewKey("discovered")
	k.Key("inputs", inputs)
	for _, name := range names {
		if err := k.File(name, host(name)); err != nil {
			return Key{}, err
		}
	}
	return k.Sum(), nil
}
