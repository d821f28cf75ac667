package toolchain

import (
	"debug/elf"
	"fmt"

	"github.com/minimalbuild/minimal/magefiles/manifest"
)

// Target is what every toolchain calls one supported platform.
type Target struct {
	Platform manifest.Platform
	GOARCH   string      // go's GOARCH
	Zig      string      // zig's -target triple
	NASM     string      // nasm's -f object format
	Machine  elf.Machine // e_machine of the executables built
	Class    elf.Class   // ELF32 or ELF64
	OCIArch  string      // the architecture in image configs and indexes
}

// targets is the one platform table.
var targets = []Target{
	{
		Platform: manifest.Platform{OS: "linux", Arch: "amd64"},
		GOARCH:   "amd64", Zig: "x86_64-linux-musl", NASM: "elf64",
		Machine: elf.EM_X86_64, Class: elf.ELFCLASS64, OCIArch: "amd64",
	},
	{
		Platform: manifest.Platform{OS: "linux", Arch: "386"},
		GOARCH:   "386", Zig: "x86-linux-musl", NASM: "elf32",
		Machine: elf.EM_386, Class: elf.ELFCLASS32, OCIArch: "386",
	},
}

// Lookup returns the target for p, or an error naming the supported platforms.
func Lookup(p manifest.Platform) (Target, error) {
	for _, t := range targets {
		if t.Platform == p {
			return t, nil
		}
	}
	return Target{}, fmt.Errorf("unsupported platform %s: supported are linux/amd64 and linux/386", p)
}
