// Package progress reports how a build is going.
//
// On a terminal it keeps a live view below everything else that is printed: a header with
// how many tasks are done out of how many (built, cached, failed) and the time so far, then
// one row per running task with its app, platform, current step and how long that step has
// taken. The view is redrawn in place with ANSI escapes about ten times a second, never
// taller than the terminal and never wider than it, and messages (warnings, failures,
// verbose command lines) are printed above it without tearing it.
//
// When the output is not a terminal, or $CI is true, or $TERM is dumb, it prints one plain
// line per finished step instead:
//
//	[ 3/12] hello linux/amd64 compile 1.2s
//	[ 4/12] world linux/386 cached
//
// Close replaces the live view with the failures, if any, and a summary line:
//
//	FAIL broken linux/amd64 compile: exit status 1
//	9 built, 2 cached, 1 failed in 4.2s
package progress
