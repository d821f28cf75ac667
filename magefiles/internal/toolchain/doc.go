// Package toolchain turns a build spec into a static ELF executable for one platform.
//
// Each language has a Builder: Go through the go command on PATH, C and GAS assembly
// through a pinned zig, NASM assembly through nasm. The platform table here is the one
// place that maps a platform to each toolchain's name for it.
package toolchain
