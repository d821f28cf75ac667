// Package manifest reads minimal.yaml, the one file that declares a monorepo's apps:
// it parses it strictly, checks it against the repository, applies defaults, and turns
// each app and platform into a Spec that a builder needs nothing else to build.
//
// # Schema, version 1
//
// The top level holds:
//
//	version     required; 1 is the only version
//	repo        the registry repository push writes to, such as registry.example.com/team
//	platforms   linux/amd64, linux/386 or both; the default for every app is both
//	toolchains  zig: the pinned zig version; the default is DefaultZig
//	cache       remote: the repository of the team's shared action cache,
//	            <registry>/<repository> such as registry.example.com/team/cache;
//	            $MINIMAL_REMOTE_CACHE overrides it
//	defaults    any app key except name, src and platforms, under every app
//	apps        required, at least one
//
// Each app holds:
//
//	name       required, unique, at most 128 lowercase letters and digits joined
//	           by single ., _ or __, or by dashes (ValidAppName); the image name
//	platforms  this app's platforms, instead of the top level's
//	lang       go, c or asm; inferred from src when omitted (see below)
//	src        go: one package directory; c and asm: a directory or files
//	include    c: include directories
//	defines    c and asm: macro name to value (-D)
//	flags      compiler flags; ldflags: linker flags
//	env        extra build environment
//	output     asm only: elf (assembled and linked, the default) or flat (the bytes
//	           are the executable)
//	shrink     ordered passes from strip, sstrip, pack; [] means none. The default is
//	           [strip], or [] for a flat binary
//	shrink_failure
//	           what a shrink pass that fails, or whose result fails the smoke test,
//	           does: fail (stop the build) or skip (keep the pass's input and warn).
//	           The default is skip for pack and fail for every other pass
//	image      entrypoint, cmd, env, workdir (absolute), user (numeric uid or uid:gid;
//	           the default is DefaultUser), ports (N, N/tcp or N/udp; N means N/tcp),
//	           labels, annotations, data (a directory copied to /var/run/ko), and files,
//	           a list of {from, to}: from a file in the repository or an absolute host
//	           path, to an absolute path in the image
//	tags       the tags of the app's multi-arch index
//	test       the smoke test: args, env, stdout or stdout_contains, stderr or
//	           stderr_contains, exit (0 to 255), signal (TERM, INT, HUP, QUIT, KILL,
//	           USR1 or USR2, with or without SIG) and after (a Go duration, such as
//	           200ms; the default with a signal is DefaultAfter)
//	budget     the most the image may weigh on each platform: content (uncompressed
//	           layer bytes) and pull (manifest, config and compressed layers), each a
//	           size such as 2048, 100B, 2kB, 2KiB, 1.5 MB or 3MiB (see ParseSize)
//	targets    per-architecture overrides, keyed amd64 or 386 (386 quoted or not),
//	           holding any of the keys above except tags
//
// Paths are relative to the repository root, which is the manifest's directory. Each
// must exist and stay inside the repository, also through symlinks; only image.files
// from may name a host file outside it, by an absolute path.
//
// # Forms
//
// Every list of strings also takes one string: `flags: -O2` is `flags: [-O2]`. Every
// string takes any scalar, read as written: `user: 65532`, `cmd: [--port, 8080]` and
// `DEBUG: true` give "65532", "8080" and "true". A key with no value (or ~, or null)
// is the same as no key, except inside a mapping of strings, where it is "". Anchors
// and aliases are allowed; merge keys (<<) are not.
//
// # Merging
//
// An app's settings for one platform come from four layers, lowest first: defaults,
// defaults.targets.<arch>, the app, and the app's targets.<arch>. So every value set on
// the app wins over every default, and a target override wins in its own layer. A
// higher layer's value is merged over a lower one's like this:
//
//   - a string (lang, output, shrink_failure, image.workdir, image.user, image.data) replaces;
//   - a list (src, include, flags, ldflags, shrink, tags, image.entrypoint, image.cmd,
//     image.ports, image.files) replaces as a whole, and an empty list is a value: with
//     shrink: [] there is no pass, whatever a lower layer says;
//   - a map (defines, env, image.env, image.labels, image.annotations) merges key by
//     key, the higher layer's value winning for a key both set;
//   - image merges field by field, each by the rules above;
//   - test replaces as a whole, its env included;
//   - budget merges content and pull each on its own.
//
// In the Manifest, App.Fields holds defaults and the app merged, and App.Targets the
// two target layers merged, without what the app sets itself; Manifest.Spec merges
// App.Targets over App.Fields.
//
// # Inferring lang
//
// When no layer sets lang, it comes from src, and a target's from the target's own src:
// a .go file is go; .c and .h files are c; .S, .s, .asm and .nasm files are asm. A
// directory is go if it holds .go files, else c if it holds .c files, else asm if it
// holds assembly (subdirectories are not looked at). All the entries of src must agree.
//
// # Errors
//
// Parse reports every problem it finds, not just the first, as an ErrorList sorted by
// position; each *Error gives the file, line and column and says what was expected,
// as in
//
//	minimal.yaml:7:11: apps[1].shrink[2]: unknown shrink pass "upx"; want one of strip, sstrip, pack
//
// Indexes in paths such as apps[1] count from 0. A manifest that Parse accepts gives
// Specs without error.
package manifest
