// Package cache is the build's action cache: a directory of content-addressed outputs
// keyed by the hash of everything that went into producing them, optionally backed by
// a remote tier in an OCI registry that a team shares (see The remote tier below).
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
// # The remote tier
//
// WithRemote puts a repository of an OCI registry behind the directory, so that a team
// shares what any of its machines built. Get, Lookup and LookupContext look there on a
// local miss; an entry found there is checked in full, stored in the directory, and
// returned from it. Put stores in the directory and then uploads in the background;
// Close waits for the uploads before the program exits, or abandons them, with a
// warning, when its context ends first. The caller needs to know nothing else: a build
// that opens its cache with WithRemote shares it.
//
// An entry is an OCI image manifest, tagged TagPrefix followed by the action key in
// hexadecimal (action-v1-<64 hex>), so a lookup is one GET of a manifest and needs no
// index that writers would have to update together:
//
//	mediaType     application/vnd.oci.image.manifest.v1+json
//	artifactType  ArtifactType (application/vnd.minimal.action.v1)
//	config        the OCI empty descriptor ({}, application/vnd.oci.empty.v1+json)
//	layers        one per output, sorted by name: mediaType OutputMediaType, the
//	              output's sha256 digest and size, its name in NameAnnotation
//	annotations   KeyAnnotation: the action key in hexadecimal
//
// Blobs are named by their content, so outputs shared by several entries, such as the
// same layer in several images, are stored once per repository. Before uploading a blob
// the tier asks the registry whether it has it (HEAD), and uploads each blob once per
// build however many entries share it; the manifest goes last, so a tag never names a
// blob the registry lacks.
//
// # Trust
//
// An entry is used only if its manifest has the artifactType and the key that was asked
// for, and every blob has the size and the SHA-256 the manifest gives. An entry that
// fails a check is ignored with a warning, and the action runs here; its upload then
// replaces the manifest, and sends again any blob the registry no longer has. A blob the
// registry still claims but serves damaged stays damaged until its operator removes it,
// since registries keep the first copy of a digest; every reader keeps ignoring the
// entries that name it. Two writers of one key each write a complete entry and the last
// tag wins; a reader gets one or the other, checked.
//
// The checks stop damage, not lies: whoever can push to the repository can write an
// entry with any outputs under any key, and every machine that reads the repository
// will use them. Give write access only to machines whose builds are trusted, and build
// untrusted changes read-only (WithWrite(false)).
//
// # Failures
//
// The remote tier never fails a build. A request that fails, or a registry that
// refuses a lookup, turns the tier off for the rest of the build at once; time spent
// beyond each request's allowance (half a second, plus a second per 8 MiB of blob)
// counts against a budget (WithBudget, 2 seconds by default), and the tier is turned
// off when it is spent, every request under way being cancelled. So a failing, slow or
// unreachable registry costs about the budget in all, and is reported once. A registry
// that serves reads but refuses writes (401, 403, 405) turns only uploads off. Requests
// are not retried.
//
// # Trimming
//
// Get and Lookup refresh a record's modification time when it is more than an hour
// old; Trim(maxAge) removes the records not used within maxAge and the blobs that no
// remaining record refers to.
package cache
