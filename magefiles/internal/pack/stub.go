package pack

import _ "embed" // the stubs are embedded

// The stubs as stubbuild.Build makes them from the sources beside them: for
// each architecture the plain stub, and the one for Go programs (the "pc"
// build), which also undoes the pc-table filter and computes the table of
// powers of ten, and whose stream table has more fields per stream.
var (
	//go:embed stub/stub_amd64.bin
	stubAMD64 []byte
	//go:embed stub/stub_386.bin
	stub386 []byte
	//go:embed stub/stub_amd64_pc.bin
	stubAMD64PC []byte
	//go:embed stub/stub_386_pc.bin
	stub386PC []byte

	stubs   = map[string][]byte{"amd64": stubAMD64, "386": stub386}
	goStubs = map[string][]byte{"amd64": stubAMD64PC, "386": stub386PC}
)
