package toolchain

import (
	"strings"

	"github.com/minimalbuild/minimal/magefiles/manifest"
)

// Tool is a tool that took part in a build, with its version.
type Tool struct {
	Name, Version string
}

// BuiltFrom says what a build of spec read, for its bill of materials: the files (its
// sources, and discovered, the host paths of the files it found it read) and the tools
// with their versions, as in, its reported inputs, name them. It runs nothing, so it
// says the same on a machine that took the build from a cache. A Go build names
// neither: its executable's build information does.
func BuiltFrom(spec manifest.Spec, in Inputs, discovered []string) (files []string, tools []Tool, err error) {
	if spec.Lang == manifest.LangGo {
		return nil, nil, nil
	}
	if files, err = SourceFiles(spec); err != nil {
		return nil, nil, err
	}
	files = append(files, discovered...)
	tools = []Tool{{Name: "zig", Version: spec.Zig}}
	if musl, ok := zigMusl[spec.Zig]; ok {
		tools = append(tools, Tool{Name: "musl", Version: musl})
	}
	for _, i := range in {
		if i.Name == nasmInput {
			tools = append(tools, Tool{Name: "nasm", Version: nasmRelease(i.Value)})
		}
	}
	return files, tools, nil
}

// nasmRelease returns the version number in what `nasm -v` prints, such as 2.16.01
// from "NASM version 2.16.01 compiled on ...", or the whole text, trimmed, when it has
// no "version" word followed by a number.
func nasmRelease(output string) string {
	f := strings.Fields(output)
	for i := 0; i+1 < len(f); i++ {
		if f[i] == "version" && f[i+1][0] >= '0' && f[i+1][0] <= '9' {
			return f[i+1]
		}
	}
	return strings.TrimSpace(output)
}
