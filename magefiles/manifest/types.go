package manifest

import (
	"fmt"
	"time"
)

// Manifest is a parsed and validated minimal.yaml.
type Manifest struct {
	// File is the manifest's path as it was given to Load.
	File string
	// Root is the absolute path of the repository root: the manifest's directory.
	Root string
	// Version is the schema version; 1 is the only one.
	Version int
	// Repo is the registry repository that push writes to, as written in the file.
	Repo string
	// Platforms is the default platform list for every app.
	Platforms []Platform
	// Toolchains pins toolchain versions.
	Toolchains Toolchains
	// Cache configures the action cache.
	Cache Cache `json:",omitzero"`
	// Apps are the declared apps, in file order, with defaults already applied.
	Apps []App
}

// Toolchains pins the versions of fetched toolchains.
type Toolchains struct {
	// Zig is the zig version used for C and GAS assembly. The default is "0.11.0".
	Zig string
	// ZigPos is where toolchains.zig is written; zero when the manifest leaves it out.
	ZigPos Position
}

// Cache configures the action cache.
type Cache struct {
	// Remote is the repository of the remote cache, <registry>/<repository>, as
	// written in the file; empty means none. $MINIMAL_REMOTE_CACHE overrides it.
	Remote string
}

// Platform is an OS/architecture pair such as linux/amd64.
type Platform struct {
	OS   string // "linux"
	Arch string // "amd64" or "386"; also the key of App.Targets
}

// String returns the platform as "os/arch".
func (p Platform) String() string { return p.OS + "/" + p.Arch }

// Position is a place in the manifest file; lines and columns count from 1.
type Position struct {
	Line, Column int
}

// App is one declared app: its own fields merged over the manifest's defaults, and its
// per-architecture overrides.
type App struct {
	// Name is the app's unique name; it is also the image name.
	Name string
	// Pos is where the app's entry starts in the manifest.
	Pos Position
	// Platforms are the platforms the app is built for.
	Platforms []Platform
	// Fields are the app's own fields, with defaults applied.
	Fields
	// Targets are per-architecture overrides ("amd64", "386"), merged over Fields by Spec.
	Targets map[string]Fields
}

// Fields are the settings an app, the defaults section, and a per-target override share.
// A nil slice, map or pointer means "not set"; a non-nil empty one means "set to empty".
type Fields struct {
	Lang    string            // go | c | asm
	Src     []string          // repo-relative, slash-separated, cleaned
	Include []string          // repo-relative include dirs
	Defines map[string]string // -D name=value
	Flags   []string          // compiler flags
	Ldflags []string          // linker flags
	Env     map[string]string // extra build environment
	Output  string            // asm: elf | flat
	Shrink  []string          // ordered pass names; non-nil empty means none
	// ShrinkFailure is what a failed shrink pass does: ShrinkFail stops the build,
	// ShrinkSkip keeps the pass's input and warns. Empty means the pass's default:
	// ShrinkSkip for pack, ShrinkFail for every other pass.
	ShrinkFailure string
	Image         Image
	Tags          []string
	Test          *Test
	// Budget caps the image's sizes; nil means no cap.
	Budget *Budget
}

// Budget is the most an app's image may weigh on each platform. A Size whose Bytes is
// zero sets no cap.
type Budget struct {
	// Content caps the image's uncompressed layer bytes: what `docker images` shows.
	Content Size
	// Pull caps what a pull transfers: manifest, config and compressed layers.
	Pull Size
}

// Size is a number of bytes as the manifest writes it, with where it is written.
type Size struct {
	Bytes int64    // the size in bytes; 0 means not set
	Text  string   // as written, such as "2KiB"
	Pos   Position // where Text is in the manifest
}

// Image is the image configuration of an app.
type Image struct {
	Entrypoint  []string          // unset means the binary at /ko-app/<name>
	Cmd         []string          // arguments after the entrypoint
	Env         map[string]string // the image's environment
	Workdir     string            // absolute; empty means the image default
	User        string            // numeric uid or uid:gid; the default is DefaultUser
	Ports       []string          // "8080/tcp" or "53/udp"; "8080" is stored as "8080/tcp"
	Labels      map[string]string // config labels
	Annotations map[string]string // manifest annotations
	Data        string            // repo-relative directory copied to /var/run/ko
	Files       []File            // extra host files
	// Init runs the entrypoint under minimal's init, as its child: the init is process
	// 1, forwards signals and reaps orphans. nil means unset, which is false.
	Init *bool `json:",omitempty"`
}

// UsesInit reports whether the image runs its entrypoint under minimal's init.
func (img Image) UsesInit() bool { return img.Init != nil && *img.Init }

// File is one extra host file copied into the image.
type File struct {
	From string // a host path: repo-relative, or absolute
	To   string // an absolute path in the image
}

// Test is an app's smoke test, run per platform on the binary and in the image.
type Test struct {
	Args           []string          // arguments to the binary
	Env            map[string]string // environment of the binary
	Stdout         *string           // exact
	StdoutContains *string           // a substring of stdout
	Stderr         *string           // exact
	StderrContains *string           // a substring of stderr
	Exit           int               // the expected exit code, 0 to 255
	Signal         string            // e.g. "TERM" (no SIG prefix): sent after After; the app must then end
	After          time.Duration     // how long to wait before sending Signal; DefaultAfter when Signal is set
}

// Spec is everything needed to build one app for one platform: the app's fields with
// defaults and the platform's target override merged in, and paths made absolute.
type Spec struct {
	App      string
	Platform Platform
	// Root is the absolute repository root.
	Root string
	// File is the manifest's path as it was given to Load, for messages that point
	// into it, such as a budget's position.
	File string
	// Zig is the pinned zig version, from toolchains.zig.
	Zig string
	// Fields hold the merged settings. Src, Include, Image.Data and relative
	// Image.Files[].From are absolute host paths here.
	Fields
}

// At returns "file:line:column" for a position in file, or file alone for the zero
// Position.
func (p Position) At(file string) string {
	if p.Line == 0 {
		return file
	}
	return fmt.Sprintf("%s:%d:%d", file, p.Line, p.Column)
}

// Error is a problem found in a manifest, at a position.
type Error struct {
	File   string // the manifest's name, as given to Load or Parse
	Line   int    // 0 when the problem has no place in the file
	Column int    // 0 when only the line is known (YAML syntax errors)
	Msg    string // what is wrong and what is expected
}

// Error formats e as "file:line:column: msg", leaving out the column or the line and
// column when they are unknown.
func (e *Error) Error() string {
	switch {
	case e.Line == 0:
		return fmt.Sprintf("%s: %s", e.File, e.Msg)
	case e.Column == 0:
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Column, e.Msg)
}
