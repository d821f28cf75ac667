package cache

import (
	"os"
	"path/filepath"
	"testing"
)

func TestDiscoveredKey(t *testing.T) {
	c, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	host := func(name string) string { return filepath.Join(root, name) }
	write := func(name, content string) {
		t.Helper()
		if err := os.WriteFile(host(name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	inputs := NewKey("test").Sum()
	if _, _, ok, err := c.DiscoveredKey(inputs, host); ok || err != nil {
		t.Fatalf("before any run: ok %v, %v; want a miss", ok, err)
	}
	write("a.h", "one")
	stored, err := c.RecordDiscovered(inputs, []string{"a.h"}, host)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		why    string
		change func()
		same   bool
		ok     bool
	}{
		{"nothing changed: the recorded key again", func() {}, true, true},
		{"a discovered file changed: another key", func() { write("a.h", "two") }, false, true},
		{"changed back: the first key", func() { write("a.h", "one") }, true, true},
		{"a discovered file is gone: the action must run", func() { os.Remove(host("a.h")) }, false, false},
	}
	for _, tt := range tests {
		tt.change()
		key, names, ok, err := c.DiscoveredKey(inputs, host)
		if len(names) != 1 || names[0] != "a.h" {
			t.Errorf("%s: recorded names %q, want [a.h]", tt.why, names)
		}
		if err != nil || ok != tt.ok || (ok && (key == stored) != tt.same) {
			t.Errorf("%s: got key equal %v, ok %v, %v", tt.why, key == stored, ok, err)
		}
	}
}
