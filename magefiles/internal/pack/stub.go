package pack

import _ "embed" // the stubs are embedded

// The stubs as stubbuild.Build makes them from the sources beside them.
var (
	//go:embed stub/stub_amd64.bin
	stubAMD64 []byte
	//go:embed stub/stub_386.bin
	stub386 []byte

	stubs = map[string][]byte{"amd64": stubAMD64, "386": stub386}
)
