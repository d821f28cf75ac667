// Package pipeline runs minimal's build: it expands a manifest into one build per app and
// platform, runs them in parallel through the toolchains, the shrink passes and the image
// assembly, and publishes every app's multi-arch index into the output directory.
//
// Nothing is published unless every app built: a failure or a cancelled context leaves the
// output directory as it was.
package pipeline
