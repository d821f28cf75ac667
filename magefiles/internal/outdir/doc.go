// Package outdir owns a build's output directory (images/): where each thing goes
// (bin/, oci/, tar/, report.json, report.svg, push.json), the state file that records
// what the last build wrote so that the next one writes only what changed, the lock
// that makes builds into the same directory take turns, the scratch directory a build
// works in, and the publish that never leaves a partial file behind.
package outdir
