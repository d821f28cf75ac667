package manifest

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
)

// The extensions of source files: a file of src must have one of its lang's (or, in a C
// app, HeaderExts), and a directory of src stands for its files with one of them. GAS
// sources are assembled by zig (.S through the C preprocessor first), NASM sources by
// nasm; C headers are passed over.
var (
	GoExts     = []string{".go"}
	CExts      = []string{".c"}
	HeaderExts = []string{".h"}
	GASExts    = []string{".S", ".s"}
	NASMExts   = []string{".asm", ".nasm"}
	asmExts    = slices.Concat(GASExts, NASMExts)
)

// SourceExts returns the extensions of lang's source files.
func SourceExts(lang string) []string {
	switch lang {
	case LangGo:
		return GoExts
	case LangC:
		return CExts
	case LangAsm:
		return asmExts
	}
	return nil
}

// Where an image holds what the build puts in it, as ko lays it out: the app's executable
// in ImageAppDir, its data directory (image.data) at ImageDataDir, and with image.init
// minimal's init at ImageInit.
const (
	ImageAppDir  = "/ko-app"
	ImageDataDir = "/var/run/ko"
	ImageInit    = "/init"
)

// ReservedBuildEnv are the variables of the build environment that the build sets for
// each platform, with the value it sets them to, "" where that depends on the platform.
// An app's env may set them only to that value.
var ReservedBuildEnv = map[string]string{"CGO_ENABLED": "0", "GOOS": "linux", "GOARCH": ""}

// repoComponent is the form the OCI distribution spec gives each component of a
// repository path. go-containerregistry accepts more, which registries then refuse,
// some with a bare 404; image tools refuse it as a name too.
var repoComponent = regexp.MustCompile(`^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$`)

// RepoComponentRule says in words what ValidRepoComponent accepts, for error messages.
const RepoComponentRule = "lowercase letters and digits, joined by single '.', '_' or '__', or by dashes"

// ValidRepoComponent reports whether c may be one component of a repository path:
// lowercase letters and digits, joined by single '.', '_' or '__', or by dashes.
func ValidRepoComponent(c string) bool { return repoComponent.MatchString(c) }

// MaxAppNameLen is the longest app name, in bytes: the name is also part of file names
// (the tarball's, a temporary file's beside the binary), which the file system limits.
const MaxAppNameLen = 128

// AppNameRule says in words what ValidAppName accepts, for error messages.
var AppNameRule = fmt.Sprintf("at most %d %s", MaxAppNameLen, RepoComponentRule)

// ValidAppName reports whether name is an app name: one component of a repository path
// (ValidRepoComponent) of at most MaxAppNameLen bytes. The name is the image's name in
// every registry and tool, and part of file names; the rule also keeps it safe in tools'
// "dir:name" syntax.
func ValidAppName(name string) bool {
	return len(name) <= MaxAppNameLen && ValidRepoComponent(name)
}

// NormalizePort returns an exposed port as image.ports stores it and an image
// configuration lists it, number/protocol: "8080" becomes "8080/tcp" and "053/udp"
// becomes "53/udp". The number must be from 1 to 65535 and the protocol tcp or udp.
func NormalizePort(p string) (string, error) {
	num, proto, found := strings.Cut(p, "/")
	if !found {
		proto = "tcp"
	}
	n, err := strconv.ParseUint(num, 10, 16)
	if err != nil || n == 0 {
		return "", fmt.Errorf("invalid port %q: want a port from 1 to 65535", p)
	}
	if proto != "tcp" && proto != "udp" {
		return "", fmt.Errorf("invalid port %q: want protocol tcp or udp", p)
	}
	return strconv.FormatUint(n, 10) + "/" + proto, nil
}

// zigVersion is the form of a zig version: see ValidZigVersion.
var zigVersion = regexp.MustCompile(`^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$`)

// ValidZigVersion reports whether v is a zig version as zig reports it, a semantic
// version: major.minor.patch, then an optional -pre-release and an optional +build,
// as in 0.11.0 or 0.12.0-dev.1+abc.
func ValidZigVersion(v string) bool { return zigVersion.MatchString(v) }

// signals are the signals a smoke test may send, in the order error messages list them.
var signals = []struct {
	name string
	sig  syscall.Signal
}{
	{"TERM", syscall.SIGTERM},
	{"INT", syscall.SIGINT},
	{"HUP", syscall.SIGHUP},
	{"QUIT", syscall.SIGQUIT},
	{"KILL", syscall.SIGKILL},
	{"USR1", syscall.SIGUSR1},
	{"USR2", syscall.SIGUSR2},
}

// SignalNames returns the names of the signals test.signal may name, without the SIG
// prefix.
func SignalNames() []string {
	names := make([]string, len(signals))
	for i, s := range signals {
		names[i] = s.name
	}
	return names
}

// Signal returns the signal test.signal names as name (without the SIG prefix, as
// Test.Signal holds it), and whether there is one.
func Signal(name string) (syscall.Signal, bool) {
	for _, s := range signals {
		if s.name == name {
			return s.sig, true
		}
	}
	return 0, false
}
