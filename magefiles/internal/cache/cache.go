package cache

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ErrMiss is returned, possibly wrapped with the reason, when the cache holds no usable
// entry for a key. Test for it with errors.Is.
var ErrMiss = errors.New("cache miss")

const (
	// staleAge is the age after which a temporary file is taken to be a dead writer's,
	// and the granularity at which the use of a record is noted.
	staleAge = time.Hour

	// recordMagic starts every action record.
	recordMagic = "minimal-action v1 "

	// maxRecord bounds the size of a record Get will read.
	maxRecord = 1 << 20

	// tmpPrefix starts the name of every temporary file.
	tmpPrefix = ".tmp-"

	// writeChunk is the size of the writes that store a file.
	writeChunk = 1 << 20
)

// testHookWrite, when set, is called after each chunk written to a temporary file, with
// the temporary file's path and the number of bytes written so far.
var testHookWrite func(tmp string, written int)

// Cache is an action cache in one directory. Its methods are safe for concurrent use,
// and other processes may use the same directory at the same time.
type Cache struct {
	dir     string
	blobs   string
	actions string
	// remote is the remote tier, or nil.
	remote *tier
}

// Open opens the cache in dir, creating the directory if needed, and removes temporary
// files left by killed writers when they are more than an hour old. It scans for them at
// most once an hour per directory; failing to remove one is not an error.
//
// With WithRemote, call Close before the program exits: it waits for the uploads.
func Open(dir string, opts ...Option) (*Cache, error) {
	if dir == "" {
		return nil, errors.New("opening cache: no directory given")
	}
	o, err := makeOptions(opts)
	if err != nil {
		return nil, fmt.Errorf("opening cache: %w", err)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("opening cache: %w", err)
	}
	c := &Cache{
		dir:     abs,
		blobs:   filepath.Join(abs, "blobs", "sha256"),
		actions: filepath.Join(abs, "actions"),
	}
	for _, d := range []string{c.blobs, c.actions} {
		if err := os.MkdirAll(d, 0o777); err != nil {
			return nil, fmt.Errorf("opening cache: %w", err)
		}
	}
	now := time.Now()
	if fi, err := os.Stat(c.stampPath()); err != nil || now.Sub(fi.ModTime()) > staleAge {
		c.removeStaleTemps(now)
		c.touchStamp(now)
	}
	if o.remote != nil {
		c.remote = newTier(c, o.remote, &logger{w: o.log}, o.verbose)
	}
	return c, nil
}

// Dir returns the cache's directory as an absolute path.
func (c *Cache) Dir() string { return c.dir }

// Put stores outputs, each under its name, as the result of the action with the given
// key, replacing any earlier entry for the key. A nil or empty map records an action
// that has no outputs.
//
// With a remote tier that takes uploads, Put then uploads the entry in the background;
// its errors are the local directory's only.
func (c *Cache) Put(key Key, outputs map[string][]byte) error {
	entries, err := c.putLocal(key, outputs)
	if err != nil {
		return err
	}
	if c.remote != nil {
		c.remote.stats.puts.Add(1)
		for _, e := range entries {
			c.remote.stats.putBytes.Add(e.size)
		}
		c.remote.upload(key, entries)
	}
	return nil
}

// putLocal stores an entry in the directory and returns its outputs, sorted by name.
func (c *Cache) putLocal(key Key, outputs map[string][]byte) ([]entry, error) {
	names := make([]string, 0, len(outputs))
	for name := range outputs {
		names = append(names, name)
	}
	slices.Sort(names)
	rec := make([]byte, 0, 128+len(names)*96)
	rec = append(rec, recordMagic...)
	rec = hex.AppendEncode(rec, key[:])
	rec = append(rec, '\n')
	entries := make([]entry, len(names))
	for i, name := range names {
		data := outputs[name]
		sum := sha256.Sum256(data)
		if err := c.putBlob(sum, data); err != nil {
			return nil, fmt.Errorf("storing output %q of action %s: %w", name, key, err)
		}
		entries[i] = entry{name: name, sum: sum, size: int64(len(data))}
		rec = hex.AppendEncode(rec, sum[:])
		rec = append(rec, ' ')
		rec = strconv.AppendInt(rec, int64(len(data)), 10)
		rec = append(rec, ' ')
		rec = strconv.AppendQuote(rec, name)
		rec = append(rec, '\n')
	}
	rec = append(rec, "end "...)
	rec = strconv.AppendInt(rec, int64(len(names)), 10)
	rec = append(rec, '\n')
	if err := writeAtomic(c.actionPath(key), rec); err != nil {
		return nil, fmt.Errorf("storing action %s: %w", key, err)
	}
	return entries, nil
}

// putBlob stores data under its SHA-256 sum unless a blob of the right size is already
// there, in which case it only notes the use of the blob for Trim.
func (c *Cache) putBlob(sum [sha256.Size]byte, data []byte) error {
	path := c.blobPath(sum)
	if s, err := lstamp(path); err == nil && s.regular && s.size == int64(len(data)) {
		refresh(path, s.mtime)
		return nil
	}
	return writeAtomic(path, data)
}

// Get returns the outputs stored for key, each checked against its SHA-256. It returns
// an error wrapping ErrMiss when there is no entry, or when the entry is broken, in which
// case the broken parts are removed. Other errors are the file system's.
//
// On a local miss, Get looks in the remote tier, if there is one.
func (c *Cache) Get(key Key) (map[string][]byte, error) {
	outputs, err := c.getLocal(key)
	if errors.Is(err, ErrMiss) && c.remote != nil && c.remote.fetch(context.Background(), key) {
		return c.getLocal(key)
	}
	return outputs, err
}

// getLocal is Get without the remote tier.
func (c *Cache) getLocal(key Key) (map[string][]byte, error) {
	rec, err := c.readRecord(key)
	if err != nil {
		return nil, err
	}
	outputs := make(map[string][]byte, len(rec.entries))
	for _, e := range rec.entries {
		data, err := c.readBlob(e)
		if err != nil {
			if errors.Is(err, ErrMiss) {
				removeSame(rec.path, rec.stamp)
			}
			return nil, fmt.Errorf("action %s output %q: %w", key, e.name, err)
		}
		outputs[e.name] = data
	}
	refresh(rec.path, rec.stamp.mtime)
	return outputs, nil
}

// Output is one stored output as Lookup finds it.
type Output struct {
	// Path is the blob holding the output's bytes. It must not be written to or removed;
	// copy or link it instead.
	Path string
	// Size is the output's length in bytes.
	Size int64
	// SHA256 is the SHA-256 of the output's bytes.
	SHA256 [sha256.Size]byte
}

// Read returns the output's bytes, checked against its size and SHA-256. A blob found
// corrupt is removed, and the error wraps ErrMiss: the action must run again.
func (o Output) Read() ([]byte, error) {
	data, err := readBlobAt(o.Path, o.Size, o.SHA256)
	if err != nil {
		return nil, fmt.Errorf("cached output %s: %w", o.Path, err)
	}
	return data, nil
}

// Lookup is Get for large outputs: it returns where each output is stored instead of its
// bytes. It checks that every blob is present with the recorded size but does not read
// it, so unlike Get it does not catch a blob corrupted in place. An entry from the
// remote tier is checked in full before it is stored.
func (c *Cache) Lookup(key Key) (map[string]Output, error) {
	outputs, _, err := c.LookupContext(context.Background(), key)
	return outputs, err
}

// Source says which tier of the cache answered a lookup.
type Source int

const (
	// Local is the cache's own directory.
	Local Source = iota + 1
	// Remote is the remote tier: the entry was fetched, checked and stored locally.
	Remote
)

// String returns "local" or "remote".
func (s Source) String() string {
	switch s {
	case Local:
		return "local"
	case Remote:
		return "remote"
	}
	return "Source(" + strconv.Itoa(int(s)) + ")"
}

// LookupContext is Lookup that also says which tier answered. ctx bounds the remote
// tier's requests, which also stop when Close abandons them.
func (c *Cache) LookupContext(ctx context.Context, key Key) (map[string]Output, Source, error) {
	outputs, err := c.lookupLocal(key)
	if err == nil {
		return outputs, Local, nil
	}
	if !errors.Is(err, ErrMiss) || c.remote == nil || !c.remote.fetch(ctx, key) {
		return nil, 0, err
	}
	if outputs, err = c.lookupLocal(key); err != nil {
		return nil, 0, err
	}
	return outputs, Remote, nil
}

// lookupLocal is Lookup without the remote tier.
func (c *Cache) lookupLocal(key Key) (map[string]Output, error) {
	rec, err := c.readRecord(key)
	if err != nil {
		return nil, err
	}
	outputs := make(map[string]Output, len(rec.entries))
	for _, e := range rec.entries {
		path := c.blobPath(e.sum)
		s, err := lstamp(path)
		if errors.Is(err, fs.ErrNotExist) || err == nil && (!s.regular || s.size != e.size) {
			removeSame(rec.path, rec.stamp)
			return nil, fmt.Errorf("%w: action %s output %q: blob missing or the wrong size", ErrMiss, key, e.name)
		}
		if err != nil {
			return nil, fmt.Errorf("action %s output %q: %w", key, e.name, err)
		}
		outputs[e.name] = Output{Path: path, Size: e.size, SHA256: e.sum}
	}
	refresh(rec.path, rec.stamp.mtime)
	return outputs, nil
}

// record is a parsed action record.
type record struct {
	path    string
	stamp   stamp
	entries []entry
}

// entry is one output named by a record.
type entry struct {
	name string
	sum  [sha256.Size]byte
	size int64
}

// readRecord reads and parses the record for key, removing it when it is broken.
func (c *Cache) readRecord(key Key) (record, error) {
	path := c.actionPath(key)
	data, st, err := readFile(path, maxRecord)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return record{}, ErrMiss
	case errors.Is(err, errNotReadable) || errors.Is(err, io.ErrUnexpectedEOF):
		removeSame(path, st)
		return record{}, fmt.Errorf("%w: action %s: %w", ErrMiss, key, err)
	case err != nil:
		return record{}, fmt.Errorf("reading action %s: %w", key, err)
	}
	entries, err := parseRecord(data, key)
	if err != nil {
		removeSame(path, st)
		return record{}, fmt.Errorf("%w: action %s: %w", ErrMiss, key, err)
	}
	return record{path: path, stamp: st, entries: entries}, nil
}

// parseRecord parses a record stored for key; see the package documentation for the
// format.
func parseRecord(data []byte, key Key) ([]entry, error) {
	head, rest, ok := bytes.Cut(data, []byte{'\n'})
	if !ok || !bytes.HasPrefix(head, []byte(recordMagic)) {
		return nil, errors.New("record has no header")
	}
	got, err := parseKey(string(head[len(recordMagic):]))
	if err != nil {
		return nil, errors.New("record header has no key")
	}
	if got != key {
		return nil, fmt.Errorf("record is for action %s", got)
	}
	var entries []entry
	for {
		var line []byte
		line, rest, ok = bytes.Cut(rest, []byte{'\n'})
		if !ok {
			return nil, errors.New("record is truncated")
		}
		if n, found := bytes.CutPrefix(line, []byte("end ")); found {
			if len(rest) != 0 {
				return nil, errors.New("record has data after its end")
			}
			if string(n) != strconv.Itoa(len(entries)) {
				return nil, errors.New("record has the wrong number of outputs")
			}
			return entries, nil
		}
		e, err := parseEntry(line)
		if err != nil {
			return nil, err
		}
		if len(entries) > 0 && entries[len(entries)-1].name >= e.name {
			return nil, errors.New("record's outputs are not sorted and unique")
		}
		entries = append(entries, e)
	}
}

// parseEntry parses one "<sha256 hex> <size> <quoted name>" line.
func parseEntry(line []byte) (entry, error) {
	var e entry
	sum, rest, ok := bytes.Cut(line, []byte{' '})
	if !ok || len(sum) != 2*len(e.sum) {
		return e, errors.New("record line has no digest")
	}
	if _, err := hex.Decode(e.sum[:], sum); err != nil {
		return e, errors.New("record line has no digest")
	}
	size, name, ok := bytes.Cut(rest, []byte{' '})
	if !ok {
		return e, errors.New("record line has no size")
	}
	n, err := strconv.ParseInt(string(size), 10, 64)
	if err != nil || n < 0 {
		return e, errors.New("record line has no size")
	}
	e.size = n
	if e.name, err = strconv.Unquote(string(name)); err != nil || name[0] != '"' {
		return e, errors.New("record line has no name")
	}
	return e, nil
}

// readBlob reads the blob e names and checks its size and SHA-256. A blob that is
// missing is a miss; one that is corrupt is also removed.
func (c *Cache) readBlob(e entry) ([]byte, error) {
	return readBlobAt(c.blobPath(e.sum), e.size, e.sum)
}

// readBlobAt reads the blob at path and checks its size and SHA-256. A blob that is
// missing is a miss; one that is corrupt is also removed.
func readBlobAt(path string, size int64, sum [sha256.Size]byte) ([]byte, error) {
	data, st, err := readFile(path, size)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("%w: blob %x is missing", ErrMiss, sum)
	case errors.Is(err, errNotReadable) || errors.Is(err, io.ErrUnexpectedEOF):
		removeSame(path, st)
		return nil, fmt.Errorf("%w: blob %x: %w", ErrMiss, sum, err)
	case err != nil:
		return nil, fmt.Errorf("reading blob: %w", err)
	}
	if int64(len(data)) != size || sha256.Sum256(data) != sum {
		removeSame(path, st)
		return nil, fmt.Errorf("%w: blob %x is corrupt", ErrMiss, sum)
	}
	return data, nil
}

// errNotReadable is readFile's error for a file that is not regular or is over its
// limit.
var errNotReadable = errors.New("not a regular file of the expected size")

// stamp identifies one version of a file: its identity where the system gives one,
// size and modification time.
type stamp struct {
	id      [2]uint64
	size    int64
	mtime   time.Time
	regular bool
}

// removeSame removes path if it is still the file that read describes: it leaves alone
// a file that another writer has renamed into its place since.
func removeSame(path string, read stamp) {
	if s, err := lstamp(path); err == nil && s.id == read.id && s.size == read.size && s.mtime.Equal(read.mtime) {
		os.Remove(path)
	}
}

// refresh sets path's modification time to now when it is older than staleAge, so that
// Trim sees it as used.
func refresh(path string, mtime time.Time) {
	if now := time.Now(); now.Sub(mtime) > staleAge {
		os.Chtimes(path, now, now)
	}
}

func (c *Cache) blobPath(sum [sha256.Size]byte) string {
	h := hex.EncodeToString(sum[:])
	return c.blobs + string(filepath.Separator) + h[:2] + string(filepath.Separator) + h
}

func (c *Cache) actionPath(key Key) string {
	h := key.String()
	return c.actions + string(filepath.Separator) + h[:2] + string(filepath.Separator) + h
}

func (c *Cache) stampPath() string { return filepath.Join(c.dir, "last-clean") }

// writeAtomic writes data to a temporary file beside path and renames it to path, so
// that readers see either all of data or nothing new.
func writeAtomic(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	f, err := createTemp(dir)
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o777); err != nil {
			return err
		}
		f, err = createTemp(dir)
	}
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	for written := 0; ; {
		n, err := f.Write(data[written:min(written+writeChunk, len(data))])
		if err != nil {
			return err
		}
		written += n
		if testHookWrite != nil {
			testHookWrite(tmp, written)
		}
		if written == len(data) {
			break
		}
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// createTemp creates a new temporary file in dir. Unlike os.CreateTemp it leaves the
// permissions to the umask, as for any other file the build writes.
func createTemp(dir string) (*os.File, error) {
	for range 10000 {
		name := filepath.Join(dir, tmpPrefix+strconv.FormatUint(rand.Uint64(), 36))
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o666)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		return f, err
	}
	return nil, fmt.Errorf("creating a temporary file in %s: too many attempts", dir)
}

// Trim removes temporary files more than an hour old and, when maxAge is positive, the
// records not used within maxAge and then the blobs older than maxAge that no remaining
// record refers to. Use is noted with a granularity of an hour, so a maxAge under an
// hour counts as an hour.
//
// Trim may run while other goroutines and processes use the cache. An entry being
// written at the same time may be lost, leaving a miss; Trim never leaves an entry that
// Get returns wrongly.
func (c *Cache) Trim(maxAge time.Duration) error {
	now := time.Now()
	c.removeStaleTemps(now)
	c.touchStamp(now)
	if maxAge <= 0 {
		return nil
	}
	maxAge = max(maxAge, staleAge)
	live := make(map[Key]bool) // blob digests, typed as keys for parseKey
	err := eachFile(c.actions, func(path, name string, st stamp) {
		if strings.HasPrefix(name, tmpPrefix) {
			return
		}
		if now.Sub(st.mtime) > maxAge {
			removeSame(path, st)
			return
		}
		key, err := parseKey(name)
		if err != nil {
			return
		}
		data, _, err := readFile(path, maxRecord)
		if err != nil {
			return
		}
		entries, err := parseRecord(data, key)
		if err != nil {
			return
		}
		for _, e := range entries {
			live[Key(e.sum)] = true
		}
	})
	if err != nil {
		return fmt.Errorf("trimming cache: %w", err)
	}
	err = eachFile(c.blobs, func(path, name string, st stamp) {
		if strings.HasPrefix(name, tmpPrefix) || now.Sub(st.mtime) <= maxAge {
			return
		}
		if sum, err := parseKey(name); err == nil && live[sum] {
			return
		}
		removeSame(path, st)
	})
	if err != nil {
		return fmt.Errorf("trimming cache: %w", err)
	}
	return nil
}

// parseKey parses a key's hexadecimal form.
func parseKey(s string) (Key, error) {
	var k Key
	if len(s) != 2*len(k) {
		return k, errors.New("not a key")
	}
	_, err := hex.Decode(k[:], []byte(s))
	return k, err
}

// removeStaleTemps removes the temporary files more than staleAge old. It is best
// effort: another process may be removing the same files.
func (c *Cache) removeStaleTemps(now time.Time) {
	for _, root := range []string{c.blobs, c.actions} {
		eachFile(root, func(path, name string, st stamp) {
			if strings.HasPrefix(name, tmpPrefix) && now.Sub(st.mtime) > staleAge {
				os.Remove(path)
			}
		})
	}
}

// touchStamp notes that stale temporary files were removed at now.
func (c *Cache) touchStamp(now time.Time) {
	path := c.stampPath()
	if err := os.Chtimes(path, now, now); errors.Is(err, fs.ErrNotExist) {
		if f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE, 0o666); err == nil {
			f.Close()
		}
	}
}

// eachFile calls fn for every regular file in the shard directories under root. Files
// that vanish while it runs are skipped.
func eachFile(root string, fn func(path, name string, st stamp)) error {
	shards, err := os.ReadDir(root)
	if err != nil {
		return err
	}
	for _, shard := range shards {
		if !shard.IsDir() {
			continue
		}
		dir := filepath.Join(root, shard.Name())
		files, err := os.ReadDir(dir)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		for _, file := range files {
			path := filepath.Join(dir, file.Name())
			if st, err := lstamp(path); err == nil && st.regular {
				fn(path, file.Name(), st)
			}
		}
	}
	return nil
}
