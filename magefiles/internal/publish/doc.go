// Package publish puts built images somewhere: an OCI image layout on disk,
// docker-loadable tarballs, an OCI registry, or several destinations at
// once.
//
// Every destination implements Interface, in the shape of ko's publishers:
// one call per app with the app's multi-platform index. Writing to several
// destinations is a wrapper (Multi), not a flag.
//
// Nothing a publisher writes is ever half-written. Files are written to a
// temporary name in the directory they belong in, synced, and renamed into
// place; an OCI layout gets its blobs first and its index.json last, so an
// error or an interrupt leaves either the old contents or the new. A
// registry gets every blob and manifest, by digest, before any tag is
// moved, so a tag always names a complete image, also when the registry
// or the network fails part of the way: requests that fail for a passing
// reason are tried again (see WithRetry), and a push that gives up before
// its index is complete has moved no tag.
package publish
