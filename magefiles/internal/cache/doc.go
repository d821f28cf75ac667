// Package cache is the build's action cache: a directory of content-addressed outputs
// keyed by the hash of everything that went into producing them.
//
// A Key is built with NewKey from named, typed fields (see KeyBuilder for the exact
// encoding). Put stores an action's named outputs under its key; Get returns them, or
// ErrMiss when the cache holds no usable entry.
//
// # Layout on disk
//
//	<dir>/blobs/sha256/<2 hex>/<64 hex>   one output's bytes, named by their SHA-256
//	<dir>/actions/<2 hex>/<64 hex>        one action record, named by its Key
//	<dir>/last-clean                      when stale temporary files were last removed
//
// An action record is a small text file:
//
//	minimal-action v1 <key hex>
//	<sha256 hex> <size> <Go-quoted output name>    one line per output, sorted by name
//	end <number of outputs>
//
// # Concurrency and crashes
//
// The cache takes no locks. Every file is written to a temporary file named ".tmp-*" in
// the directory of its final name and then renamed into place, so a reader sees either
// the whole file or none of it. Blobs are named by their content, so two writers of the
// same blob write the same bytes; two writers of the same action each rename a complete
// record, and the last rename wins. Put writes the blobs before the record that names
// them, so a record never refers to a blob that has not been written. Any number of
// goroutines and processes may use one directory at once.
//
// A writer killed mid-Put leaves at most a temporary file behind, never an entry. Open
// removes temporary files older than an hour (scanning at most once an hour per cache
// directory), and Trim removes them every time.
//
// Get checks everything it reads: a record that does not parse, names another key or
// refers to a missing blob, and a blob whose size or SHA-256 is wrong, are a miss. The
// broken record and the corrupt blob are removed, so the next Put repairs the entry.
//
// # Trimming
//
// Get and Lookup refresh a record's modification time when it is more than an hour
// old; Trim(maxAge) removes the records not used within maxAge and the blobs that no
// remaining record refers to.
package cache
