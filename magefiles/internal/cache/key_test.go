package cache

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
)

func TestKeyCollisions(t *testing.T) {
	tests := []struct {
		name string
		a, b func(*KeyBuilder)
		kind [2]string // the kinds given to NewKey; both "compile" when empty
		same bool
	}{
		{
			name: "the same fields give the same key",
			a:    func(b *KeyBuilder) { b.String("flags", "-O2"); b.Int("n", 3) },
			b:    func(b *KeyBuilder) { b.String("flags", "-O2"); b.Int("n", 3) },
			same: true,
		},
		{
			name: "a name/value boundary cannot move",
			a:    func(b *KeyBuilder) { b.String("a", "bc") },
			b:    func(b *KeyBuilder) { b.String("ab", "c") },
		},
		{
			name: "a boundary between two fields cannot move",
			a:    func(b *KeyBuilder) { b.String("x", "ab"); b.String("y", "c") },
			b:    func(b *KeyBuilder) { b.String("x", "a"); b.String("y", "bc") },
		},
		{
			name: "a value cannot contain what looks like another field",
			a:    func(b *KeyBuilder) { b.String("x", "a\x01y\x01b") },
			b:    func(b *KeyBuilder) { b.String("x", "a"); b.String("y", "b") },
		},
		{
			name: "a list's elements cannot be regrouped",
			a:    func(b *KeyBuilder) { b.Strings("flags", []string{"-a", "-b"}) },
			b:    func(b *KeyBuilder) { b.Strings("flags", []string{"-a-b"}) },
		},
		{
			name: "a list's elements cannot be split differently",
			a:    func(b *KeyBuilder) { b.Strings("flags", []string{"ab", "c"}) },
			b:    func(b *KeyBuilder) { b.Strings("flags", []string{"a", "bc"}) },
		},
		{
			name: "an empty list differs from a list of one empty string",
			a:    func(b *KeyBuilder) { b.Strings("flags", nil) },
			b:    func(b *KeyBuilder) { b.Strings("flags", []string{""}) },
		},
		{
			name: "a nil list is the same value as an empty one",
			a:    func(b *KeyBuilder) { b.Strings("flags", nil) },
			b:    func(b *KeyBuilder) { b.Strings("flags", []string{}) },
			same: true,
		},
		{
			name: "nil bytes are the same value as empty bytes",
			a:    func(b *KeyBuilder) { b.Bytes("data", nil) },
			b:    func(b *KeyBuilder) { b.Bytes("data", []byte{}) },
			same: true,
		},
		{
			name: "a nil map is the same value as an empty one",
			a:    func(b *KeyBuilder) { b.Map("env", nil) },
			b:    func(b *KeyBuilder) { b.Map("env", map[string]string{}) },
			same: true,
		},
		{
			name: "an empty field differs from no field",
			a:    func(b *KeyBuilder) { b.String("flags", "") },
			b:    func(b *KeyBuilder) {},
		},
		{
			name: "an empty list differs from no field",
			a:    func(b *KeyBuilder) { b.Strings("flags", nil) },
			b:    func(b *KeyBuilder) {},
		},
		{
			name: "field order matters",
			a:    func(b *KeyBuilder) { b.String("a", "1"); b.String("b", "2") },
			b:    func(b *KeyBuilder) { b.String("b", "2"); b.String("a", "1") },
		},
		{
			name: "list order matters",
			a:    func(b *KeyBuilder) { b.Strings("src", []string{"a.c", "b.c"}) },
			b:    func(b *KeyBuilder) { b.Strings("src", []string{"b.c", "a.c"}) },
		},
		{
			name: "a map's order of insertion does not matter",
			a:    func(b *KeyBuilder) { b.Map("env", map[string]string{"A": "1", "B": "2", "C": "3"}) },
			b:    func(b *KeyBuilder) { b.Map("env", map[string]string{"C": "3", "A": "1", "B": "2"}) },
			same: true,
		},
		{
			name: "a map's keys and values cannot trade bytes",
			a:    func(b *KeyBuilder) { b.Map("env", map[string]string{"AB": "C"}) },
			b:    func(b *KeyBuilder) { b.Map("env", map[string]string{"A": "BC"}) },
		},
		{
			name: "a map differs from the list of its keys and values",
			a:    func(b *KeyBuilder) { b.Map("env", map[string]string{"A": "1"}) },
			b:    func(b *KeyBuilder) { b.Strings("env", []string{"A", "1"}) },
		},
		{
			name: "a string differs from a list of that one string",
			a:    func(b *KeyBuilder) { b.String("flags", "-O2") },
			b:    func(b *KeyBuilder) { b.Strings("flags", []string{"-O2"}) },
		},
		{
			name: "a string differs from the same bytes",
			a:    func(b *KeyBuilder) { b.String("x", "abc") },
			b:    func(b *KeyBuilder) { b.Bytes("x", []byte("abc")) },
		},
		{
			name: "a key differs from its 32 bytes",
			a:    func(b *KeyBuilder) { b.Key("dep", Key{1, 2, 3}) },
			b:    func(b *KeyBuilder) { k := Key{1, 2, 3}; b.Bytes("dep", k[:]) },
		},
		{
			name: "false differs from no field",
			a:    func(b *KeyBuilder) { b.Bool("pack", false) },
			b:    func(b *KeyBuilder) {},
		},
		{
			name: "true differs from false",
			a:    func(b *KeyBuilder) { b.Bool("pack", true) },
			b:    func(b *KeyBuilder) { b.Bool("pack", false) },
		},
		{
			name: "an int differs from its negation",
			a:    func(b *KeyBuilder) { b.Int("n", 1) },
			b:    func(b *KeyBuilder) { b.Int("n", -1) },
		},
		{
			name: "kinds keep actions apart",
			kind: [2]string{"compile", "shrink"},
			a:    func(b *KeyBuilder) { b.String("x", "1") },
			b:    func(b *KeyBuilder) { b.String("x", "1") },
		},
		{
			name: "the kind's boundary cannot move into the first field",
			kind: [2]string{"ab", "a"},
			a:    func(b *KeyBuilder) { b.String("c", "") },
			b:    func(b *KeyBuilder) { b.String("bc", "") },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kinds := tt.kind
			if kinds[0] == "" {
				kinds = [2]string{"compile", "compile"}
			}
			ka, kb := NewKey(kinds[0]), NewKey(kinds[1])
			tt.a(ka)
			tt.b(kb)
			a, b := ka.Sum(), kb.Sum()
			if (a == b) != tt.same {
				t.Errorf("keys %s and %s: equal = %v, want %v", a, b, a == b, tt.same)
			}
		})
	}
}

// TestKeyEncoding checks the key against the encoding that KeyBuilder documents, built
// by hand.
func TestKeyEncoding(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "main.c")
	if err := os.WriteFile(src, []byte("int main(void) { return 0; }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	dep := Key{0: 0xaa, 31: 0xbb}

	b := NewKey("compile")
	b.String("lang", "c")
	b.Strings("flags", []string{"-O2", ""})
	b.Bytes("blob", []byte{0, 1, 2})
	b.Map("env", map[string]string{"Z": "z", "A": "a"})
	b.Int("n", -2)
	b.Bool("pack", true)
	if err := b.File("main.c", src); err != nil {
		t.Fatal(err)
	}
	b.Key("toolchain", dep)
	got := b.Sum()

	str := func(s string) []byte { return append(binary.AppendUvarint(nil, uint64(len(s))), s...) }
	var enc []byte
	add := func(parts ...[]byte) {
		for _, p := range parts {
			enc = append(enc, p...)
		}
	}
	fileSum := sha256.Sum256([]byte("int main(void) { return 0; }\n"))
	add([]byte("minimal cache key v1\x00"), str("compile"))
	add([]byte{'s'}, str("lang"), str("c"))
	add([]byte{'l'}, str("flags"), []byte{2}, str("-O2"), str(""))
	add([]byte{'b'}, str("blob"), []byte{3, 0, 1, 2})
	add([]byte{'m'}, str("env"), []byte{2}, str("A"), str("a"), str("Z"), str("z"))
	add([]byte{'i'}, str("n"), []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe})
	add([]byte{'t'}, str("pack"), []byte{1})
	add([]byte{'f'}, str("main.c"), fileSum[:])
	add([]byte{'k'}, str("toolchain"), dep[:])
	want := Key(sha256.Sum256(enc))

	if got != want {
		t.Errorf("key = %s, want %s (the documented encoding)", got, want)
	}
	if s := got.String(); s != hex.EncodeToString(want[:]) {
		t.Errorf("String() = %q, want lowercase hex %q", s, hex.EncodeToString(want[:]))
	}
	if again := b.Sum(); again != got {
		t.Errorf("second Sum() = %s, want %s: Sum must not change the builder", again, got)
	}
}

func TestKeyFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	one := write("one.c", "int x;\n")
	copyOfOne := write("copy.c", "int x;\n")
	other := write("other.c", "int y;\n")
	fileKey := func(path string) Key {
		t.Helper()
		b := NewKey("compile")
		if err := b.File("src", path); err != nil {
			t.Fatalf("File(%s): %v", path, err)
		}
		return b.Sum()
	}

	if fileKey(one) != fileKey(copyOfOne) {
		t.Error("the same contents at two paths give two keys; want one, so that keys do not depend on the checkout's directory")
	}
	if fileKey(one) == fileKey(other) {
		t.Error("different contents give the same key")
	}
	asBytes := NewKey("compile")
	asBytes.Bytes("src", []byte("int x;\n"))
	if fileKey(one) == asBytes.Sum() {
		t.Error("a file and its bytes give the same key; want the field type to tell them apart")
	}

	b := NewKey("compile")
	before := b.Sum()
	if err := b.File("src", filepath.Join(dir, "missing.c")); err == nil {
		t.Error("File of a missing file: no error")
	}
	if b.Sum() != before {
		t.Error("a failed File changed the key")
	}
}

func sha256Of(b []byte) [32]byte { return sha256.Sum256(b) }
