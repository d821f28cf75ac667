// Package fleet runs containers from a root file system with runc or podman, many at
// a time, and measures them: how fast they start, the memory each holds (Rss and Pss
// from /proc/<pid>/smaps_rollup), and how long they take to stop on SIGTERM. Its
// tests run the example apps and the init (magefiles/internal/pid1) as process 1 of
// real containers; its benchmarks are the fleet and latency figures of BENCHMARKS.md.
package fleet
