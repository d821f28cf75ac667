// Package run runs subprocesses under a context.
//
// A command's argv is logged when the context asks for it (mage's -v), its standard error
// is kept for the error, and a failed command's *exec.ExitError stays in the error chain so
// that the caller can exit with the tool's own status.
package run
