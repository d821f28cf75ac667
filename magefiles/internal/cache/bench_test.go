package cache

import (
	"bytes"
	"strconv"
	"testing"
)

// noopBuildKeys is about the number of keys a build of 100 apps looks up when nothing
// changed: per app, a compile and a shrink for each of two platforms.
const noopBuildKeys = 400

// benchCache returns a cache holding noopBuildKeys entries of small outputs, and their
// keys.
func benchCache(b *testing.B) (*Cache, []Key) {
	c := openCache(b, b.TempDir())
	keys := make([]Key, noopBuildKeys)
	for i := range keys {
		keys[i] = testKey(strconv.Itoa(i))
		mustPut(b, c, keys[i], map[string][]byte{
			"bin":  bytes.Repeat([]byte{byte(i)}, 4096),
			"size": []byte(strconv.Itoa(4096 + i)),
		})
	}
	return c, keys
}

// BenchmarkGet measures one Get of an entry with two small outputs.
func BenchmarkGet(b *testing.B) {
	c, keys := benchCache(b)
	i := 0
	for b.Loop() {
		if _, err := c.Get(keys[i%len(keys)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkGetNoopBuild measures the lookups of a whole no-op build: one op is
// noopBuildKeys Gets.
func BenchmarkGetNoopBuild(b *testing.B) {
	c, keys := benchCache(b)
	for b.Loop() {
		for _, k := range keys {
			if _, err := c.Get(k); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkLookup measures one Lookup of an entry with two outputs.
func BenchmarkLookup(b *testing.B) {
	c, keys := benchCache(b)
	i := 0
	for b.Loop() {
		if _, err := c.Lookup(keys[i%len(keys)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkKey measures building a key of about the size of a compile action's.
func BenchmarkKey(b *testing.B) {
	env := map[string]string{"CGO_ENABLED": "0", "GOOS": "linux", "GOARCH": "amd64", "GOAMD64": "v2"}
	flags := []string{"-trimpath", "-O2", "-ldflags=-s -w"}
	dep := testKey("toolchain")
	for b.Loop() {
		k := NewKey("compile")
		k.String("app", "hello")
		k.String("lang", "go")
		k.String("platform", "linux/amd64")
		k.Strings("flags", flags)
		k.Strings("ldflags", flags)
		k.Map("env", env)
		k.Key("toolchain", dep)
		k.Bytes("source", []byte("package main\n\nfunc main() {}\n"))
		_ = k.Sum()
	}
}

// BenchmarkPut measures one Put of an entry with two small outputs that are already
// stored, as when a rebuilt action gives the same result.
func BenchmarkPut(b *testing.B) {
	c, keys := benchCache(b)
	outputs := map[string][]byte{"bin": bytes.Repeat([]byte{7}, 4096), "size": []byte("4096")}
	i := 0
	for b.Loop() {
		if err := c.Put(keys[i%len(keys)], outputs); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
