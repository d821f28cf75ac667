// Package pipeline is minimal's planner: it expands a manifest into one build per app
// and platform, runs each build as cached actions, schedules the builds in parallel,
// reports progress, and hands the results to the output directory. It knows no
// language, no shrink pass and no image format: each stage owns its inputs and its
// policy, and the pipeline only hashes what a stage reports and calls it.
//
// # Actions
//
// Each app and platform is built by three actions (package action), each declared by
// the stage that owns it; action.Do looks one up in the action cache or runs it and
// stores its outputs.
//
//   - compile (toolchain.CompileAction): keyed by minimal's own executable and what the
//     language's toolchain.Builder reports as inputs (settings, tool versions, sources
//     by content; for Go, the go environment and every package go list -deps reports),
//     plus the files the last build of the same inputs discovered it read, such as the
//     headers a C source includes (cache.DiscoveredKey). Output: the executable.
//   - shrink (verify.Target.Action): keyed by the compiled executable's digest and what
//     verify.Target reports (the passes, shrink_failure, the smoke test and its
//     environment). It runs the passes through verify.Shrink, which checks each.
//     Output: the final executable and each pass as it ran.
//   - image (attest.ImageAction): keyed by the final and compiled executables' digests,
//     the passes, what oci.App reports (the image configuration, the data directory and
//     extra files by content) and what the SBOM and provenance say. Output: the
//     compressed layers, what is needed to put the image together again, and the
//     documents.
//
// A later action is keyed by the digest of an earlier one's output, not by its key, so
// a change that compiles to the same bytes stops there.
//
// Nothing is published unless every app built: a failure, or a context cancelled before
// every action is done, leaves the output directory (package outdir) as it was. Once
// publishing has begun it finishes, so that the directory never holds two builds' files.
package pipeline
