// Package synth writes synthetic monorepos for benchmarks: n apps in a deterministic mix
// of Go, C and GNU assembly, each with its own message and a smoke test, and the
// minimal.yaml that declares them.
//
// Generate writes only apps/ and minimal.yaml. The build files of the monorepo (go.mod,
// go.sum, magefiles/) are the caller's: a benchmark copies them from this repository, so
// that `go tool mage build` runs the code under test. The generated sources import nothing
// outside the standard library, so they build under any module path.
//
// Every app prints one line, "<name> (<lang>): hello from a synthetic monorepo, revision
// <k>", and its smoke test checks the part before the revision. Change increments the
// revision in one app's sources, which changes that app's binary and image and nothing
// else, not even minimal.yaml; Touch sets the modification time of one app's sources
// and leaves their content alone.
package synth
