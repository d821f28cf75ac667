// Package verify is the policy that checks each shrink pass: after a pass, the app's
// smoke test runs on the pass's output (or, for an app without one, the output must
// start without crashing); a pass that puts code in front of the program must also
// behave exactly like its input with a large environment and a long argument list, and
// its start-up cost is timed; and a pass that fails a check is skipped or fails the
// build, as the app's shrink_failure or the pass's own default says.
package verify
