package cache

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// testKey returns a distinct key for each name.
func testKey(name string) Key {
	b := NewKey("test")
	b.String("name", name)
	return b.Sum()
}

func openCache(t testing.TB, dir string) *Cache {
	t.Helper()
	c, err := Open(dir)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return c
}

func mustPut(t testing.TB, c *Cache, key Key, outputs map[string][]byte) {
	t.Helper()
	if err := c.Put(key, outputs); err != nil {
		t.Fatalf("Put: %v", err)
	}
}

// asStrings turns outputs into strings, which go-cmp compares quickly and prints legibly.
func asStrings(outputs map[string][]byte) map[string]string {
	m := make(map[string]string, len(outputs))
	for name, data := range outputs {
		m[name] = string(data)
	}
	return m
}

func TestRoundTrip(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789abcdef"), 3*writeChunk/16+5) // several write chunks
	tests := []struct {
		name    string
		outputs map[string][]byte
	}{
		{name: "an action without outputs", outputs: map[string][]byte{}},
		{name: "a nil map is an action without outputs", outputs: nil},
		{name: "one empty output", outputs: map[string][]byte{"empty": nil}},
		{name: "several outputs", outputs: map[string][]byte{"bin": []byte("\x7fELF..."), "size": []byte("1234\n"), "log": []byte("ok")}},
		{name: "names that need quoting", outputs: map[string][]byte{"a b": []byte("1"), "line\nbreak": []byte("2"), `q"uote`: []byte("3"), "": []byte("4"), "ü": []byte("5")}},
		{name: "outputs that share a blob", outputs: map[string][]byte{"a": []byte("same"), "b": []byte("same")}},
		{name: "an output larger than a write chunk", outputs: map[string][]byte{"big": big}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			key := testKey(tt.name)
			mustPut(t, openCache(t, dir), key, tt.outputs)

			got, err := openCache(t, dir).Get(key)
			if err != nil {
				t.Fatalf("Get: %v", err)
			}
			if diff := cmp.Diff(asStrings(tt.outputs), asStrings(got)); diff != "" {
				t.Errorf("Get (-want +got):\n%s", diff)
			}
			if _, err := openCache(t, dir).Get(testKey(tt.name + " other")); !errors.Is(err, ErrMiss) {
				t.Errorf("Get of a key never stored: %v, want ErrMiss", err)
			}
		})
	}
}

func TestPutReplaces(t *testing.T) {
	c := openCache(t, t.TempDir())
	key := testKey("k")
	mustPut(t, c, key, map[string][]byte{"old": []byte("1"), "both": []byte("a")})
	want := map[string][]byte{"both": []byte("b"), "new": []byte("2")}
	mustPut(t, c, key, want)
	got, err := c.Get(key)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if diff := cmp.Diff(asStrings(want), asStrings(got)); diff != "" {
		t.Errorf("Get after a second Put (-want +got):\n%s", diff)
	}
}

func TestBlobsAreShared(t *testing.T) {
	dir := t.TempDir()
	c := openCache(t, dir)
	mustPut(t, c, testKey("a"), map[string][]byte{"bin": []byte("same bytes")})
	mustPut(t, c, testKey("b"), map[string][]byte{"out": []byte("same bytes")})
	blobs, _ := filepath.Glob(filepath.Join(dir, "blobs", "sha256", "*", "*"))
	if len(blobs) != 1 {
		t.Errorf("blobs = %q, want one blob for two outputs with the same bytes", blobs)
	}
}

// files returns the paths of an entry's record and its blobs.
func files(t *testing.T, c *Cache, key Key) (record string, blobs []string) {
	t.Helper()
	outs, err := c.Lookup(key)
	if err != nil {
		t.Fatalf("Lookup: %v", err)
	}
	for _, o := range outs {
		blobs = append(blobs, o.Path)
	}
	return c.actionPath(key), blobs
}

func TestBrokenEntriesAreMisses(t *testing.T) {
	outputs := map[string][]byte{"bin": bytes.Repeat([]byte{0x90}, 1000), "log": []byte("built\n")}
	edit := func(t *testing.T, path string, f func([]byte) []byte) {
		t.Helper()
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, f(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name        string
		breakIt     func(t *testing.T, c *Cache, record string, blobs []string)
		keepsRecord bool // whether Get may leave the record in place
	}{
		{
			name: "a blob with a flipped byte",
			breakIt: func(t *testing.T, c *Cache, record string, blobs []string) {
				edit(t, blobs[0], func(b []byte) []byte { b[len(b)/2] ^= 1; return b })
			},
		},
		{
			name: "a corrupt blob under a record last used hours ago",
			breakIt: func(t *testing.T, c *Cache, record string, blobs []string) {
				age(t, record, 3*time.Hour)
				edit(t, blobs[0], func(b []byte) []byte { b[0] ^= 1; return b })
			},
		},
		{
			name: "a truncated blob",
			breakIt: func(t *testing.T, c *Cache, record string, blobs []string) {
				edit(t, blobs[0], func(b []byte) []byte { return b[:len(b)-1] })
			},
		},
		{
			name: "a blob with extra bytes",
			breakIt: func(t *testing.T, c *Cache, record string, blobs []string) {
				edit(t, blobs[0], func(b []byte) []byte { return append(b, 0) })
			},
		},
		{
			name:    "a missing blob",
			breakIt: func(t *testing.T, c *Cache, record string, blobs []string) { os.Remove(blobs[1]) },
		},
		{
			name: "a record that is not one",
			breakIt: func(t *testing.T, c *Cache, record string, blobs []string) {
				edit(t, record, func([]byte) []byte { return []byte("{}\n") })
			},
		},
		{
			name: "an empty record",
			breakIt: func(t *testing.T, c *Cache, record string, blobs []string) {
				edit(t, record, func([]byte) []byte { return nil })
			},
		},
		{
			name: "a record copied from another key",
			breakIt: func(t *testing.T, c *Cache, record string, blobs []string) {
				mustPut(t, c, testKey("other"), map[string][]byte{"bin": []byte("other")})
				edit(t, record, func([]byte) []byte {
					data, _ := os.ReadFile(c.actionPath(testKey("other")))
					return data
				})
			},
		},
		{
			name: "a record with a wrong size",
			breakIt: func(t *testing.T, c *Cache, record string, blobs []string) {
				edit(t, record, func(b []byte) []byte { return bytes.Replace(b, []byte(" 1000 "), []byte(" 999 "), 1) })
			},
		},
		{
			name: "a record with a line after its end",
			breakIt: func(t *testing.T, c *Cache, record string, blobs []string) {
				edit(t, record, func(b []byte) []byte { return append(b, "end 2\n"...) })
			},
		},
		{
			name: "a record whose count is wrong",
			breakIt: func(t *testing.T, c *Cache, record string, blobs []string) {
				edit(t, record, func(b []byte) []byte { return bytes.Replace(b, []byte("end 2\n"), []byte("end 3\n"), 1) })
			},
		},
		{
			name: "a record with an output listed twice",
			breakIt: func(t *testing.T, c *Cache, record string, blobs []string) {
				edit(t, record, func(b []byte) []byte {
					lines := strings.SplitAfter(string(b), "\n")
					return []byte(lines[0] + lines[1] + lines[1] + "end 2\n")
				})
			},
		},
		{
			name: "a record whose name is not quoted",
			breakIt: func(t *testing.T, c *Cache, record string, blobs []string) {
				edit(t, record, func(b []byte) []byte { return bytes.Replace(b, []byte(`"bin"`), []byte("bin"), 1) })
			},
		},
		{
			name: "a record whose name is a Go character literal",
			breakIt: func(t *testing.T, c *Cache, record string, blobs []string) {
				edit(t, record, func(b []byte) []byte { return bytes.Replace(b, []byte(`"log"`), []byte("'l'"), 1) })
			},
		},
		{
			name: "a record that is a directory",
			breakIt: func(t *testing.T, c *Cache, record string, blobs []string) {
				os.Remove(record)
				os.Mkdir(record, 0o755)
			},
			keepsRecord: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := openCache(t, t.TempDir())
			key := testKey("k")
			mustPut(t, c, key, outputs)
			record, blobs := files(t, c, key)
			tt.breakIt(t, c, record, blobs)

			if got, err := c.Get(key); !errors.Is(err, ErrMiss) {
				t.Fatalf("Get of a broken entry = %q, %v; want ErrMiss", got, err)
			}
			if _, err := os.Lstat(record); err == nil && !tt.keepsRecord {
				t.Error("the broken record is still there")
			}
			if tt.keepsRecord {
				os.Remove(record)
			}
			mustPut(t, c, key, outputs)
			got, err := c.Get(key)
			if err != nil {
				t.Fatalf("Get after a new Put: %v", err)
			}
			if diff := cmp.Diff(asStrings(outputs), asStrings(got)); diff != "" {
				t.Errorf("Get after a new Put (-want +got):\n%s", diff)
			}
		})
	}
}

// TestTruncatedRecords reads every proper prefix of a record, as a writer that did not
// rename would leave it: none may parse.
func TestTruncatedRecords(t *testing.T) {
	c := openCache(t, t.TempDir())
	key := testKey("k")
	mustPut(t, c, key, map[string][]byte{"a": []byte("1"), "b": []byte("22"), "c": nil})
	full, err := os.ReadFile(c.actionPath(key))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := parseRecord(full, key); err != nil {
		t.Fatalf("the whole record does not parse: %v", err)
	}
	for n := range len(full) {
		if entries, err := parseRecord(full[:n], key); err == nil {
			t.Errorf("the record's first %d bytes parse as %+v; want an error", n, entries)
		}
		if err := os.WriteFile(c.actionPath(key), full[:n], 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Get(key); !errors.Is(err, ErrMiss) {
			t.Errorf("Get with the record's first %d bytes: %v, want ErrMiss", n, err)
		}
	}
}

func TestLookup(t *testing.T) {
	c := openCache(t, t.TempDir())
	key := testKey("k")
	outputs := map[string][]byte{"bin": []byte("\x7fELF"), "empty": nil}
	mustPut(t, c, key, outputs)

	got, err := c.Lookup(key)
	if err != nil {
		t.Fatalf("Lookup: %v", err)
	}
	for name, want := range outputs {
		o, ok := got[name]
		if !ok {
			t.Errorf("Lookup has no output %q", name)
			continue
		}
		data, err := os.ReadFile(o.Path)
		if err != nil {
			t.Fatalf("reading %s: %v", o.Path, err)
		}
		if !bytes.Equal(data, want) || o.Size != int64(len(want)) {
			t.Errorf("output %q: file holds %q (size %d), want %q", name, data, o.Size, want)
		}
		if o.SHA256 != [32]byte(Key(sha256Of(want))) {
			t.Errorf("output %q: SHA256 = %x, want %x", name, o.SHA256, sha256Of(want))
		}
	}
	if len(got) != len(outputs) {
		t.Errorf("Lookup returned %d outputs, want %d", len(got), len(outputs))
	}

	os.Remove(got["bin"].Path)
	if _, err := c.Lookup(key); !errors.Is(err, ErrMiss) {
		t.Errorf("Lookup with a missing blob: %v, want ErrMiss", err)
	}
	if _, err := os.Stat(c.actionPath(key)); err == nil {
		t.Error("Lookup left the record whose blob is missing")
	}
	if _, err := c.Lookup(testKey("never stored")); !errors.Is(err, ErrMiss) {
		t.Errorf("Lookup of a key never stored: %v, want ErrMiss", err)
	}
}

// age sets a file's modification time d in the past.
func age(t *testing.T, path string, d time.Duration) {
	t.Helper()
	when := time.Now().Add(-d)
	if err := os.Chtimes(path, when, when); err != nil {
		t.Fatal(err)
	}
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

func TestOpenRemovesStaleTempFiles(t *testing.T) {
	dir := t.TempDir()
	c := openCache(t, dir)
	mustPut(t, c, testKey("k"), map[string][]byte{"a": []byte("1")})
	record, blobs := files(t, c, testKey("k"))
	staleBlob := filepath.Join(filepath.Dir(blobs[0]), tmpPrefix+"stale")
	staleRecord := filepath.Join(filepath.Dir(record), tmpPrefix+"stale")
	young := filepath.Join(filepath.Dir(blobs[0]), tmpPrefix+"young")
	for _, p := range []string{staleBlob, staleRecord, young} {
		if err := os.WriteFile(p, []byte("partial"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	age(t, staleBlob, 2*time.Hour)
	age(t, staleRecord, 2*time.Hour)
	age(t, c.stampPath(), 2*time.Hour) // the last scan was long ago

	openCache(t, dir)
	for _, p := range []string{staleBlob, staleRecord} {
		if exists(p) {
			t.Errorf("Open left the stale temporary file %s", p)
		}
	}
	for _, p := range []string{young, record, blobs[0]} {
		if !exists(p) {
			t.Errorf("Open removed %s, which is not a stale temporary file", p)
		}
	}
}

func TestTrim(t *testing.T) {
	c := openCache(t, t.TempDir())
	put := func(name string, outputs map[string][]byte) (record string, blobs []string) {
		mustPut(t, c, testKey(name), outputs)
		return files(t, c, testKey(name))
	}
	oldRec, oldBlobs := put("old", map[string][]byte{"only-old": []byte("o"), "shared": []byte("s")})
	usedRec, usedBlobs := put("used", map[string][]byte{"shared": []byte("s"), "own": []byte("u")})
	freshRec, _ := put("fresh", map[string][]byte{"x": []byte("f")})
	// Everything but "fresh" was written long ago; "used" was read since.
	for _, p := range append(append([]string{oldRec, usedRec}, oldBlobs...), usedBlobs...) {
		age(t, p, 30*24*time.Hour)
	}
	if _, err := c.Get(testKey("used")); err != nil {
		t.Fatalf("Get: %v", err)
	}
	orphan := c.blobPath(sha256Of([]byte("orphan")))
	if err := writeAtomic(orphan, []byte("orphan")); err != nil {
		t.Fatal(err)
	}
	age(t, orphan, 30*24*time.Hour)
	youngOrphan := c.blobPath(sha256Of([]byte("young orphan")))
	if err := writeAtomic(youngOrphan, []byte("young orphan")); err != nil {
		t.Fatal(err)
	}
	staleTemp := filepath.Join(filepath.Dir(freshRec), tmpPrefix+"x")
	if err := os.WriteFile(staleTemp, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	age(t, staleTemp, 2*time.Hour)

	if err := c.Trim(7 * 24 * time.Hour); err != nil {
		t.Fatalf("Trim: %v", err)
	}

	onlyOld := c.blobPath(sha256Of([]byte("o")))
	for _, p := range []string{oldRec, onlyOld, orphan, staleTemp} {
		if exists(p) {
			t.Errorf("Trim left %s", p)
		}
	}
	for _, p := range []string{usedRec, freshRec, youngOrphan} {
		if !exists(p) {
			t.Errorf("Trim removed %s", p)
		}
	}
	for _, name := range []string{"used", "fresh"} {
		if _, err := c.Get(testKey(name)); err != nil {
			t.Errorf("Get(%s) after Trim: %v", name, err)
		}
	}
	if _, err := c.Get(testKey("old")); !errors.Is(err, ErrMiss) {
		t.Errorf("Get(old) after Trim: %v, want ErrMiss", err)
	}
}
