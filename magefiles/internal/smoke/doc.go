// Package smoke runs an app's smoke test (the manifest's test: section) on a command,
// whether that command is the built binary or a container runtime running the image, and
// says exactly how the result differs from what the test expects.
package smoke
