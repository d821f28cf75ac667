// Package pipeline is minimal's planner: it expands a manifest into one build per app
// and platform, runs each build as cached actions, schedules the builds in parallel,
// reports progress, and hands the results to the output directory. It knows no
// language, no shrink pass and no image format: each stage owns its inputs and its
// policy, and the pipeline only hashes what a stage reports and calls it.
//
// # Actions
//
// Each app and platform is built by three actions. An action is a key function, a run
// function and a decode function; one helper, do, looks the key up in the action cache
// and decodes what it finds, or runs the action, stores its outputs and decodes them
// from the cache. The cache checks every blob it returns; an entry that cannot be
// decoded is not used, and the action runs again.
//
//   - compile: keyed by minimal's own executable and what the language's
//     toolchain.Builder reports as inputs (settings, tool versions, sources by content;
//     for Go, the go environment and every package go list -deps reports), plus the
//     files the last build of the same inputs discovered it read, such as the headers
//     a C source includes (cache.DiscoveredKey). Output: the executable.
//   - shrink: keyed by the compiled executable's digest and what verify.Target reports
//     (the passes, shrink_failure, the smoke test and its environment). It runs the
//     passes through verify.Shrink, which checks each. Output: the final executable and
//     the size of each step.
//   - image: keyed by the final executable's digest and what oci.App reports (the image
//     configuration, the data directory and extra files by content). Output: the
//     compressed layers and what is needed to put the image together again.
//
// A later action is keyed by the digest of an earlier one's output, not by its key, so
// a change that compiles to the same bytes stops there.
//
// Nothing is published unless every app built: a failure or a cancelled context leaves
// the output directory (package outdir) as it was.
package pipeline
