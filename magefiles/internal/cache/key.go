package cache

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"os"
	"slices"
)

// Key identifies an action: the SHA-256 of its encoded inputs.
type Key [sha256.Size]byte

// String returns the key in lowercase hexadecimal, as it appears in the cache's file names.
func (k Key) String() string { return hex.EncodeToString(k[:]) }

// keyMagic starts every key's encoding; a new encoding gets a new version here.
const keyMagic = "minimal cache key v1\x00"

// Field tags: the first byte of each encoded field.
const (
	tagString  = 's'
	tagStrings = 'l'
	tagBytes   = 'b'
	tagMap     = 'm'
	tagInt     = 'i'
	tagBool    = 't'
	tagFile    = 'f'
	tagKey     = 'k'
)

// A KeyBuilder hashes an action's inputs, field by field, into a Key.
//
// The bytes hashed are keyMagic ("minimal cache key v1" and a NUL byte), the kind
// given to NewKey as a string, and then each field in the order it was added:
//
//	field   = tag name value
//	tag     = one byte: 's' String, 'l' Strings, 'b' Bytes, 'm' Map, 'i' Int,
//	          't' Bool, 'f' File, 'k' Key
//	name    = string
//	string  = uvarint(length) bytes
//
// where uvarint is encoding/binary's unsigned varint, and the value is
//
//	String  string
//	Bytes   string (the bytes)
//	Strings uvarint(count) string...
//	Map     uvarint(count) (string string)... in key order
//	Int     8 bytes, big-endian two's complement
//	Bool    one byte, 0 or 1
//	File    the 32-byte SHA-256 of the file's contents
//	Key     the 32 bytes of the key
//
// Every field says where it ends, so the encoding of a field list can be read back into
// exactly one field list: two different lists never hash the same bytes. Order matters,
// and a nil slice or map is the same value as an empty one; a caller that gives nil a
// meaning of its own adds a Bool for it.
//
// A KeyBuilder is not safe for concurrent use.
type KeyBuilder struct {
	h   hash.Hash
	buf []byte
}

// NewKey starts the key of an action of the given kind ("compile", "shrink", ...), so
// that actions of different kinds never share a key.
func NewKey(kind string) *KeyBuilder {
	b := &KeyBuilder{h: sha256.New(), buf: make([]byte, 0, 256)}
	b.buf = append(b.buf, keyMagic...)
	b.buf = appendString(b.buf, kind)
	b.flush()
	return b
}

// String adds a string field.
func (b *KeyBuilder) String(name, value string) {
	b.field(tagString, name)
	b.buf = appendString(b.buf, value)
	b.flush()
}

// Strings adds a list of strings, in the given order.
func (b *KeyBuilder) Strings(name string, values []string) {
	b.field(tagStrings, name)
	b.buf = binary.AppendUvarint(b.buf, uint64(len(values)))
	for _, v := range values {
		b.buf = appendString(b.buf, v)
		if len(b.buf) > 4096 {
			b.flush()
		}
	}
	b.flush()
}

// Bytes adds a byte string.
func (b *KeyBuilder) Bytes(name string, value []byte) {
	b.field(tagBytes, name)
	b.buf = binary.AppendUvarint(b.buf, uint64(len(value)))
	b.flush()
	b.h.Write(value)
}

// Map adds a string map, sorted by key, such as an environment or a set of defines.
func (b *KeyBuilder) Map(name string, m map[string]string) {
	b.field(tagMap, name)
	b.buf = binary.AppendUvarint(b.buf, uint64(len(m)))
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		b.buf = appendString(b.buf, k)
		b.buf = appendString(b.buf, m[k])
		if len(b.buf) > 4096 {
			b.flush()
		}
	}
	b.flush()
}

// Int adds an integer.
func (b *KeyBuilder) Int(name string, value int64) {
	b.field(tagInt, name)
	b.buf = binary.BigEndian.AppendUint64(b.buf, uint64(value))
	b.flush()
}

// Bool adds a boolean.
func (b *KeyBuilder) Bool(name string, value bool) {
	b.field(tagBool, name)
	v := byte(0)
	if value {
		v = 1
	}
	b.buf = append(b.buf, v)
	b.flush()
}

// File adds the SHA-256 of the contents of the file at path. The path itself is not
// hashed, so the same sources give the same key in any directory; add it with String
// when it matters. On error nothing is added.
func (b *KeyBuilder) File(name, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("hashing input %s: %w", name, err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return fmt.Errorf("hashing input %s: %w", name, err)
	}
	b.field(tagFile, name)
	b.buf = h.Sum(b.buf)
	b.flush()
	return nil
}

// Key adds another action's key, such as the key of the build whose output this action
// reads.
func (b *KeyBuilder) Key(name string, k Key) {
	b.field(tagKey, name)
	b.buf = append(b.buf, k[:]...)
	b.flush()
}

// Sum returns the key of the fields added so far. Fields may still be added after it.
func (b *KeyBuilder) Sum() Key {
	var k Key
	b.h.Sum(k[:0])
	return k
}

func (b *KeyBuilder) field(tag byte, name string) {
	b.buf = append(b.buf, tag)
	b.buf = appendString(b.buf, name)
}

func (b *KeyBuilder) flush() {
	b.h.Write(b.buf)
	b.buf = b.buf[:0]
}

func appendString(buf []byte, s string) []byte {
	buf = binary.AppendUvarint(buf, uint64(len(s)))
	return append(buf, s...)
}

// Input is one input of an action as the stage that owns it reports it: a named value,
// or a file whose content counts.
type Input struct {
	// Name says what the input is: a setting's name, or a file's name as the key
	// records it (repository-relative, so that another checkout gets the same key).
	Name string
	// Value is the input's value, when Path is empty.
	Value string
	// Path is the host path of a file whose content is the input.
	Path string
}

// Digest is the input named name whose value is the SHA-256 of data, in hex: for
// bytes an action reads that are not a file, such as an embedded program.
func Digest(name string, data []byte) Input {
	sum := sha256.Sum256(data)
	return Input{Name: name, Value: hex.EncodeToString(sum[:])}
}

// Inputs adds each input in order: a value as a String field, a file as a File field.
func (b *KeyBuilder) Inputs(ins []Input) error {
	for _, in := range ins {
		if in.Path == "" {
			b.String(in.Name, in.Value)
			continue
		}
		if err := b.File(in.Name, in.Path); err != nil {
			return err
		}
	}
	return nil
}
