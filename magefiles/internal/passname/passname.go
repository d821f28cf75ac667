// Package passname names the shrink passes, the words an app's shrink: list in
// minimal.yaml is made of. It imports nothing, so that the manifest, which checks the
// list, and the stages that act on it (the toolchain applies strip, shrink runs the
// post-link passes, the report colours them) spell each name from this one definition
// without importing one another.
package passname

const (
	// Strip has the linker leave out the symbol table and debug information.
	Strip = "strip"
	// SStrip drops the section headers and every byte the kernel does not load.
	SStrip = "sstrip"
	// Pack compresses the program behind a stub that decodes it at start-up.
	Pack = "pack"
)

// All returns every pass name, in the order the passes run when an app names them all.
func All() []string {
	return []string{Strip, SStrip, Pack}
}
