// Package registrytest starts a real registry for tests: Debian's
// docker-registry, which is the CNCF distribution registry, listening on
// a free 127.0.0.1 port with its storage in the test's temporary
// directory.
//
// StartFaultProxy puts a proxy in front of it that fails a share of the
// requests, chosen by a seed so that a failure can be run again: 503s,
// 429s with Retry-After, connections dropped before the registry gets the
// request or after it has acted on it, and slow answers.
//
// A test that needs the registry calls Start. When docker-registry is not
// installed, the test is skipped with the command that installs it, except
// in CI (CI=true), where every tool must be present and the test fails.
package registrytest
