package manifest

import (
	"cmp"
	"fmt"
	"maps"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"gopkg.in/yaml.v3"

	"github.com/minimalbuild/minimal/magefiles/internal/cache"
	"github.com/minimalbuild/minimal/magefiles/internal/passname"
)

// The keys of each mapping in the schema, in the order the documentation gives them.
var (
	topKeys       = []string{"version", "repo", "platforms", "toolchains", "cache", "defaults", "apps"}
	toolchainKeys = []string{"zig"}
	cacheKeys     = []string{"remote"}
	fieldKeys     = []string{"lang", "src", "include", "defines", "flags", "ldflags", "env", "output", "shrink", "shrink_failure", "image", "tags", "test", "budget"}
	imageKeys     = []string{"entrypoint", "cmd", "env", "workdir", "user", "ports", "labels", "annotations", "data", "files", "init"}
	fileKeys      = []string{"from", "to"}
	testKeys      = []string{"args", "env", "stdout", "stdout_contains", "stderr", "stderr_contains", "exit", "signal", "after"}
	budgetKeys    = []string{"content", "pull"}
)

// layerKind says which kind of mapping holds a layer of Fields.
type layerKind int

const (
	appLayer layerKind = iota
	defaultsLayer
	targetLayer         // an app's targets.<arch>
	defaultsTargetLayer // defaults.targets.<arch>
)

// keys returns the keys a layer of kind k accepts, and messages for the schema's other
// app keys, which it does not.
func (k layerKind) keys() ([]string, map[string]string) {
	without := func(drop ...string) []string {
		return slices.DeleteFunc(slices.Clone(fieldKeys), func(s string) bool { return slices.Contains(drop, s) })
	}
	const inTarget = "not allowed in a target override"
	const tagsInTarget = "not allowed in a target override; tags name the app's multi-arch index, so set them on the app"
	switch k {
	case defaultsLayer:
		return append(without("src"), "targets"), map[string]string{
			"name":      "not allowed in defaults; every app has its own name",
			"src":       "not allowed in defaults; set src on each app",
			"platforms": "not allowed in defaults; set platforms at the top level or on an app",
		}
	case targetLayer:
		return without("tags"), map[string]string{
			"name": inTarget, "platforms": inTarget, "targets": inTarget, "tags": tagsInTarget,
		}
	case defaultsTargetLayer:
		return without("src", "tags"), map[string]string{
			"name": inTarget, "platforms": inTarget, "targets": inTarget, "tags": tagsInTarget,
			"src": "not allowed in defaults; set src on each app's targets",
		}
	}
	return append(append([]string{"name", "platforms"}, fieldKeys...), "targets"), nil
}

// layer is one mapping of Fields as written: the defaults section, an app, or a target
// override, with what is needed to place errors found after merging.
type layer struct {
	Fields
	node      *yaml.Node
	path      string
	vals      map[string]*yaml.Node // the value node of every key set to something other than null
	srcOK     bool                  // src is set and every path in it passed the checks
	keyErrors bool                  // the mapping had unknown, duplicate or disallowed keys

	name      string     // app only
	platforms []Platform // app only; nil when not set
	targets   map[string]*layer
}

// manifest decodes the top-level mapping.
func (d *decoder) manifest(top *yaml.Node) *Manifest {
	m := &Manifest{
		File:       d.file,
		Root:       d.root,
		Platforms:  DefaultPlatforms(),
		Toolchains: Toolchains{Zig: DefaultZig},
	}
	defaults := &layer{}
	var apps *yaml.Node
	for _, e := range d.mapping(top, "", topKeys, nil) {
		if isNull(e.v) {
			continue
		}
		switch e.key {
		case "version":
			if s, ok := d.scalar(e.v, e.path); ok {
				if s != "1" {
					d.errorf(e.v, e.path, "unsupported version %q; want 1", s)
				}
				m.Version = 1
			}
		case "repo":
			if s, ok := d.scalar(e.v, e.path); ok && s != "" {
				if _, err := name.NewRepository(s); err != nil {
					d.errorf(e.v, e.path, "invalid repository %q: %v", s, err)
				}
				m.Repo = s
			}
		case "platforms":
			if ps := d.platforms(e.v, e.path); ps != nil {
				m.Platforms = ps
			}
		case "toolchains":
			for _, t := range d.mapping(e.v, e.path, toolchainKeys, nil) {
				if s, ok := d.scalar(t.v, t.path); ok && !isNull(t.v) {
					if !ValidZigVersion(s) {
						d.errorf(t.v, t.path, "invalid zig version %q; want a version such as %s", s, DefaultZig)
					}
					m.Toolchains.Zig = s
					m.Toolchains.ZigPos = Position{Line: t.v.Line, Column: t.v.Column}
				}
			}
		case "cache":
			for _, c := range d.mapping(e.v, e.path, cacheKeys, nil) {
				if s, ok := d.scalar(c.v, c.path); ok && s != "" {
					if _, err := cache.ParseRemote(s); err != nil {
						d.errorf(c.v, c.path, "%v", err)
					}
					m.Cache.Remote = s
				}
			}
		case "defaults":
			if l := d.layer(e.v, e.path, defaultsLayer); l != nil {
				defaults = l
			}
		case "apps":
			apps = e.v
		}
	}
	if m.Version == 0 {
		d.errorf(top, "", "version is required; want version: 1")
	}
	switch {
	case apps == nil:
		d.errorf(top, "", "apps is required; want a list of apps")
	case apps.Kind != yaml.SequenceNode:
		d.errorf(apps, "apps", "want a list of apps, got %s", describe(apps))
	case len(apps.Content) == 0:
		d.errorf(apps, "apps", "no apps; want at least one")
	default:
		names := make(map[string]*yaml.Node)
		for i, n := range apps.Content {
			l := d.layer(d.resolve(n), fmt.Sprintf("apps[%d]", i), appLayer)
			if l == nil {
				continue
			}
			if nn := l.vals["name"]; nn != nil && l.name != "" {
				if first, ok := names[l.name]; ok {
					d.errorf(nn, l.path+".name", "duplicate app name %q (first at line %d)", l.name, first.Line)
				} else {
					names[l.name] = nn
				}
			}
			m.Apps = append(m.Apps, d.app(m, defaults, l))
		}
	}
	return m
}

var (
	tagName   = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)
	macroName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	userID    = regexp.MustCompile(`^([0-9]+)(?::([0-9]+))?$`)
)

// layer decodes an app, the defaults section, or a target override. It returns nil if
// n is not a mapping.
func (d *decoder) layer(n *yaml.Node, p string, kind layerKind) *layer {
	if n.Kind != yaml.MappingNode {
		what := "an app"
		if kind != appLayer {
			what = "a mapping"
		}
		d.errorf(n, p, "want %s, got %s", what, describe(n))
		return nil
	}
	l := &layer{node: n, path: p, vals: make(map[string]*yaml.Node)}
	known, notHere := kind.keys()
	before := len(d.errs)
	entries := d.mapping(n, p, known, notHere)
	// A misspelled key is likely the one a "required" check would miss.
	l.keyErrors = len(d.errs) > before
	for _, e := range entries {
		if isNull(e.v) {
			continue
		}
		l.vals[e.key] = e.v
		switch e.key {
		case "name":
			if s, ok := d.scalar(e.v, e.path); ok {
				if !ValidAppName(s) {
					d.errorf(e.v, e.path, "invalid app name %q; want %s", s, AppNameRule)
				}
				l.name = s
			}
		case "platforms":
			l.platforms = d.platforms(e.v, e.path)
		case "targets":
			l.targets = d.targets(e.v, e.path, kind)
		default:
			d.field(l, e)
		}
	}
	if kind == appLayer && l.vals["name"] == nil && !l.keyErrors {
		d.errorf(n, p, "name is required")
	}
	return l
}

// targets decodes the per-architecture overrides of an app or of defaults.
func (d *decoder) targets(n *yaml.Node, p string, parent layerKind) map[string]*layer {
	kind := targetLayer
	if parent == defaultsLayer {
		kind = defaultsTargetLayer
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(n, p, "want a mapping of architectures (amd64, 386) to overrides, got %s", describe(n))
		return nil
	}
	out := make(map[string]*layer)
	for _, e := range d.mapping(n, p, nil, nil) {
		if e.key != "amd64" && e.key != "386" {
			if hint := archHint(e.key); hint != "" {
				d.errorf(e.k, p, "unknown target %q; want amd64 or 386 (did you mean %q?)", e.key, hint)
			} else {
				d.errorf(e.k, p, "unknown target %q; want amd64 or 386", e.key)
			}
			continue
		}
		if isNull(e.v) {
			continue
		}
		if l := d.layer(e.v, e.path, kind); l != nil {
			out[e.key] = l
		}
	}
	return out
}

// archHint maps other names of the supported architectures to ours.
func archHint(s string) string {
	switch strings.ToLower(s) {
	case "x86_64", "x86-64", "x64", "linux/amd64":
		return "amd64"
	case "i386", "i486", "i586", "i686", "x86", "ia32", "linux/386":
		return "386"
	}
	return ""
}

// platforms decodes a platform list. It returns nil if the list has errors.
func (d *decoder) platforms(n *yaml.Node, p string) []Platform {
	if n.Kind == yaml.SequenceNode && len(n.Content) == 0 {
		d.errorf(n, p, "no platforms; want linux/amd64, linux/386 or both")
		return nil
	}
	var out []Platform
	ok := true
	for _, it := range d.list(n, p) {
		osName, arch, _ := strings.Cut(it.s, "/")
		pl := Platform{OS: osName, Arch: arch}
		switch {
		case !slices.Contains(DefaultPlatforms(), pl):
			d.errorf(it.n, it.path, "unsupported platform %q; want linux/amd64 or linux/386", it.s)
			ok = false
		case slices.Contains(out, pl):
			d.errorf(it.n, it.path, "platform %q listed twice", it.s)
			ok = false
		default:
			out = append(out, pl)
		}
	}
	if !ok || len(out) == 0 {
		return nil
	}
	return out
}

var langs = []string{LangGo, LangC, LangAsm}

// field decodes one of the Fields keys into l.
func (d *decoder) field(l *layer, e entry) {
	f := &l.Fields
	switch e.key {
	case "lang":
		if s, ok := d.enum(e, langs, "go, c or asm"); ok {
			f.Lang = s
		}
	case "src":
		if e.v.Kind == yaml.SequenceNode && len(e.v.Content) == 0 {
			d.errorf(e.v, e.path, "no sources; want a directory or a list of files")
			return
		}
		f.Src, l.srcOK = d.paths(e.v, e.path, anyPath)
	case "include":
		f.Include, _ = d.paths(e.v, e.path, dirPath)
	case "defines":
		f.Defines = d.stringMap(e.v, e.path, func(k string) string {
			if !macroName.MatchString(k) {
				return fmt.Sprintf("invalid macro name %q; want a C identifier", k)
			}
			return ""
		}, nil)
	case "flags":
		f.Flags = d.flags(e.v, e.path)
	case "ldflags":
		f.Ldflags = d.flags(e.v, e.path)
	case "env":
		f.Env = d.stringMap(e.v, e.path, envKey, buildEnvValue)
	case "output":
		if s, ok := d.enum(e, []string{OutputELF, OutputFlat}, "elf or flat"); ok {
			f.Output = s
		}
	case "shrink":
		f.Shrink = d.stringList(e.v, e.path, func(s string) string {
			if passes := passname.All(); !slices.Contains(passes, s) {
				return fmt.Sprintf("unknown shrink pass %q; want one of %s", s, strings.Join(passes, ", "))
			}
			return ""
		})
	case "shrink_failure":
		if s, ok := d.enum(e, []string{ShrinkFail, ShrinkSkip}, "fail or skip"); ok {
			f.ShrinkFailure = s
		}
	case "image":
		d.image(e.v, e.path, &f.Image)
	case "tags":
		f.Tags = d.stringList(e.v, e.path, func(s string) string {
			if !tagName.MatchString(s) {
				return fmt.Sprintf("invalid tag %q; want at most 128 letters, digits, '_', '.' and '-', not starting with '.' or '-'", s)
			}
			return ""
		})
	case "test":
		f.Test = d.test(e.v, e.path)
	case "budget":
		f.Budget = d.sizeBudget(e.v, e.path)
	}
}

// sizeBudget decodes a budget: {content: SIZE, pull: SIZE}.
func (d *decoder) sizeBudget(n *yaml.Node, p string) *Budget {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, p, "want a mapping {content, pull} of sizes such as 2KiB, got %s", describe(n))
		return nil
	}
	b := &Budget{}
	for _, e := range d.mapping(n, p, budgetKeys, nil) {
		if isNull(e.v) {
			continue
		}
		s, ok := d.scalar(e.v, e.path)
		if !ok {
			continue
		}
		bytes, msg := ParseSize(s)
		if msg != nil {
			d.errorf(e.v, e.path, "%v", msg)
			continue
		}
		size := Size{Bytes: bytes, Text: s, Pos: Position{Line: e.v.Line, Column: e.v.Column}}
		switch e.key {
		case "content":
			b.Content = size
		case "pull":
			b.Pull = size
		}
	}
	return b
}

// enum decodes e's value, a scalar that must be one of values; want lists them for the
// error, which names the key: unknown output "exe"; want elf or flat.
func (d *decoder) enum(e entry, values []string, want string) (string, bool) {
	s, ok := d.scalar(e.v, e.path)
	if !ok {
		return "", false
	}
	if !slices.Contains(values, s) {
		d.errorf(e.v, e.path, "unknown %s %q; want %s", e.key, s, want)
		return "", false
	}
	return s, true
}

// envKey checks the name of an environment variable.
func envKey(k string) string {
	if k == "" || strings.ContainsAny(k, "=\x00") {
		return fmt.Sprintf("invalid environment variable name %q; want a non-empty name without '='", k)
	}
	return ""
}

// buildEnvValue checks a variable of an app's build environment: the build sets those
// of ReservedBuildEnv for each platform, and the app may only set them to the value the
// build gives them.
func buildEnvValue(k, v string) string {
	want, reserved := ReservedBuildEnv[k]
	switch {
	case !reserved || v == want:
		return ""
	case want == "":
		return fmt.Sprintf("%s is set by the build for each platform; choose platforms with platforms:", k)
	}
	return fmt.Sprintf("%s=%s, but the build sets %s=%s for every platform; remove it", k, v, k, want)
}

// flags returns the compiler or linker flags n lists. Flags may repeat; one that
// names the output file may not, since the build chooses where each binary goes.
func (d *decoder) flags(n *yaml.Node, path string) []string {
	items := d.list(n, path)
	if items == nil {
		return nil
	}
	flags := make([]string, 0, len(items))
	for _, it := range items {
		switch {
		case strings.ContainsRune(it.s, 0):
			d.errorf(it.n, it.path, "%s", nulProblem)
		case it.s == "-o" || it.s == "--output" || strings.HasPrefix(it.s, "-o=") || strings.HasPrefix(it.s, "--output="):
			d.errorf(it.n, it.path, "%q names the output file, which the build chooses for each platform; remove it", it.s)
		default:
			flags = append(flags, it.s)
		}
	}
	return flags
}

// nonEmptyKey checks a label or annotation key.
func nonEmptyKey(k string) string {
	if k == "" {
		return "empty key; want a non-empty name"
	}
	return ""
}

// image decodes an app's image settings into img.
func (d *decoder) image(n *yaml.Node, p string, img *Image) {
	for _, e := range d.mapping(n, p, imageKeys, nil) {
		if isNull(e.v) {
			continue
		}
		switch e.key {
		case "entrypoint":
			img.Entrypoint = d.stringList(e.v, e.path, nil)
		case "cmd":
			img.Cmd = d.stringList(e.v, e.path, nil)
		case "env":
			img.Env = d.stringMap(e.v, e.path, envKey, nil)
		case "workdir":
			if s, ok := d.scalar(e.v, e.path); ok {
				if !path.IsAbs(s) {
					d.errorf(e.v, e.path, "workdir %q is relative; want an absolute path such as /", s)
					continue
				}
				img.Workdir = path.Clean(s)
			}
		case "user":
			if s, ok := d.scalar(e.v, e.path); ok {
				if !validUser(s) {
					d.errorf(e.v, e.path, "invalid user %q; want a numeric uid or uid:gid, such as %s", s, DefaultUser)
					continue
				}
				img.User = s
			}
		case "ports":
			img.Ports = d.ports(e.v, e.path)
		case "labels":
			img.Labels = d.stringMap(e.v, e.path, nonEmptyKey, nil)
		case "annotations":
			img.Annotations = d.stringMap(e.v, e.path, nonEmptyKey, nil)
		case "data":
			if s, ok := d.scalar(e.v, e.path); ok {
				img.Data, _ = d.repoPath(e.v, e.path, s, dirPath)
			}
		case "files":
			img.Files = d.files(e.v, e.path)
		case "init":
			if b, ok := d.boolean(e.v, e.path); ok {
				img.Init = &b
			}
		}
	}
}

// boolean decodes a YAML boolean: true or false, in any of YAML's spellings of them
// (True, FALSE), but not a string such as "yes" or "1".
func (d *decoder) boolean(n *yaml.Node, p string) (bool, bool) {
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!bool" {
		if b, err := strconv.ParseBool(strings.ToLower(n.Value)); err == nil {
			return b, true
		}
	}
	d.errorf(n, p, "want true or false, got %s", describeBool(n))
	return false, false
}

// describeBool names what a non-boolean value is, for boolean's error.
func describeBool(n *yaml.Node) string {
	if n.Kind == yaml.ScalarNode {
		return fmt.Sprintf("%q", n.Value)
	}
	return describe(n)
}

// validUser reports whether s is uid or uid:gid, both 32-bit numbers.
func validUser(s string) bool {
	m := userID.FindStringSubmatch(s)
	if m == nil {
		return false
	}
	for _, id := range m[1:] {
		if id == "" {
			continue
		}
		if _, err := strconv.ParseUint(id, 10, 32); err != nil {
			return false
		}
	}
	return true
}

// ports decodes image.ports, normalizing "8080" to "8080/tcp".
func (d *decoder) ports(n *yaml.Node, p string) []string {
	items := d.list(n, p)
	if items == nil {
		return nil
	}
	out := make([]string, 0, len(items))
	seen := make(map[string]bool)
	for _, it := range items {
		port, err := NormalizePort(it.s)
		switch {
		case err != nil:
			d.errorf(it.n, it.path, "invalid port %q; want N, N/tcp or N/udp with N from 1 to 65535", it.s)
		case seen[port]:
			d.errorf(it.n, it.path, "port %q listed twice", port)
		default:
			seen[port] = true
			out = append(out, port)
		}
	}
	return out
}

// files decodes image.files.
func (d *decoder) files(n *yaml.Node, p string) []File {
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, p, "want a list of {from, to}, got %s", describe(n))
		return nil
	}
	out := make([]File, 0, len(n.Content))
	targets := make(map[string]int)
	for i, c := range n.Content {
		c = d.resolve(c)
		ip := fmt.Sprintf("%s[%d]", p, i)
		if c.Kind != yaml.MappingNode {
			d.errorf(c, ip, "want a mapping {from, to}, got %s", describe(c))
			continue
		}
		var f File
		var fromSet, toSet bool
		for _, e := range d.mapping(c, ip, fileKeys, nil) {
			if isNull(e.v) {
				continue
			}
			s, ok := d.scalar(e.v, e.path)
			if !ok {
				continue
			}
			switch e.key {
			case "from":
				fromSet = true
				f.From, _ = d.repoPath(e.v, e.path, s, hostFile)
			case "to":
				toSet = true
				if !path.IsAbs(s) || path.Clean(s) == "/" {
					d.errorf(e.v, e.path, "invalid destination %q; want an absolute file path in the image", s)
					continue
				}
				f.To = path.Clean(s)
				if atOrUnder(f.To, ImageAppDir) {
					d.errorf(e.v, e.path, "invalid destination %q; %s holds the app's executable, which the build puts there", s, ImageAppDir)
					continue
				}
				if j, ok := targets[f.To]; ok {
					d.errorf(e.v, e.path, "%q is already the destination of %s[%d]", f.To, p, j)
					continue
				}
				targets[f.To] = i
			}
		}
		if !fromSet {
			d.errorf(c, ip, "from is required")
		}
		if !toSet {
			d.errorf(c, ip, "to is required")
		}
		out = append(out, f)
	}
	return out
}

// test decodes an app's smoke test.
func (d *decoder) test(n *yaml.Node, p string) *Test {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, p, "want a mapping, got %s", describe(n))
		return nil
	}
	t := &Test{}
	vals := make(map[string]*yaml.Node)
	for _, e := range d.mapping(n, p, testKeys, nil) {
		if isNull(e.v) {
			continue
		}
		vals[e.key] = e.v
		switch e.key {
		case "args":
			t.Args = d.stringList(e.v, e.path, nil)
			continue
		case "env":
			t.Env = d.stringMap(e.v, e.path, envKey, nil)
			continue
		}
		s, ok := d.scalar(e.v, e.path)
		if !ok {
			continue
		}
		switch e.key {
		case "stdout":
			t.Stdout = &s
		case "stdout_contains":
			t.StdoutContains = &s
		case "stderr":
			t.Stderr = &s
		case "stderr_contains":
			t.StderrContains = &s
		case "exit":
			code, err := strconv.Atoi(s)
			if err != nil || code < 0 || code > 255 {
				d.errorf(e.v, e.path, "invalid exit code %q; want an integer from 0 to 255", s)
				continue
			}
			t.Exit = code
		case "signal":
			sig := strings.TrimPrefix(strings.ToUpper(s), "SIG")
			if _, ok := Signal(sig); !ok {
				d.errorf(e.v, e.path, "unknown signal %q; want one of %s, with or without SIG", s, strings.Join(SignalNames(), ", "))
				continue
			}
			t.Signal = sig
		case "after":
			after, err := time.ParseDuration(s)
			if err != nil || after <= 0 {
				d.errorf(e.v, e.path, "invalid duration %q; want a positive Go duration such as 200ms", s)
				continue
			}
			if after > TestTimeout {
				d.errorf(e.v, e.path, "after %v is longer than a smoke test may run (%v)", after, TestTimeout)
				continue
			}
			t.After = after
		}
	}
	for _, out := range []string{"stdout", "stderr"} {
		if vals[out] != nil && vals[out+"_contains"] != nil {
			d.errorf(vals[out+"_contains"], p+"."+out+"_contains", "set %s or %s_contains, not both", out, out)
		}
	}
	switch {
	case vals["after"] != nil && vals["signal"] == nil:
		d.errorf(vals["after"], p+".after", "after needs a signal; it is how long to wait before sending it")
	case t.Signal != "" && t.After == 0 && vals["after"] == nil:
		t.After = DefaultAfter
	}
	return t
}

// app builds an App from its layer, the defaults, and the manifest's platforms; it infers
// langs and checks what can only be checked once the layers are merged.
func (d *decoder) app(m *Manifest, def, al *layer) App {
	a := App{
		Name:      al.name,
		Pos:       Position{Line: al.node.Line, Column: al.node.Column},
		Platforms: slices.Clone(m.Platforms),
		Fields:    merge(def.Fields, al.Fields),
	}
	if al.platforms != nil {
		a.Platforms = al.platforms
	}
	explicit := a.Lang != ""
	if !explicit && al.srcOK {
		lang, msg := inferLang(d.root, a.Src)
		if msg != "" {
			d.errorf(al.vals["src"], al.path+".src", "%s", msg)
		}
		a.Lang = lang
	}
	if a.Image.User == "" {
		a.Image.User = DefaultUser
	}

	// Per-architecture overrides: the app's own, merged over what defaults.targets
	// says for the values the app does not set itself, since every app value wins
	// over every default.
	archs := slices.Sorted(maps.Keys(al.targets))
	for arch := range def.targets {
		if !slices.Contains(archs, arch) {
			archs = append(archs, arch)
		}
	}
	if len(archs) > 0 || al.targets != nil {
		a.Targets = make(map[string]Fields)
	}
	for _, arch := range archs {
		dt, at := orEmpty(def.targets[arch]), orEmpty(al.targets[arch])
		t := merge(unset(dt.Fields, al.Fields), at.Fields)
		if t.Lang == "" && !explicit && at.srcOK {
			lang, msg := inferLang(d.root, at.Src)
			if msg != "" {
				d.errorf(at.vals["src"], at.path+".src", "%s", msg)
			}
			t.Lang = lang
		}
		a.Targets[arch] = t
	}

	// Checks of the merged settings, per platform. An error about a value set once
	// for several platforms is reported once, naming the platforms it is wrong for.
	var noSrc []Platform
	type outputProblem struct {
		n         *yaml.Node
		path      string
		lang      string
		platforms []string
	}
	var outputs []*outputProblem
	for _, p := range a.Platforms {
		dt, at := orEmpty(def.targets[p.Arch]), orEmpty(al.targets[p.Arch])
		t := a.Targets[p.Arch]
		src, srcLayer := t.Src, at
		if src == nil {
			src, srcLayer = a.Src, al
		}
		if src == nil {
			if al.vals["src"] == nil && at.vals["src"] == nil { // else src had errors
				noSrc = append(noSrc, p)
			}
			continue
		}
		lang := cmp.Or(t.Lang, a.Lang)
		if lang == "" {
			continue // inference failed and said why
		}
		if out := cmp.Or(t.Output, a.Output); out != "" && lang != LangAsm {
			n, path := lastSet("output", def, dt, al, at)
			i := slices.IndexFunc(outputs, func(o *outputProblem) bool { return o.n == n && o.lang == lang })
			if i < 0 {
				outputs = append(outputs, &outputProblem{n: n, path: path, lang: lang})
				i = len(outputs) - 1
			}
			outputs[i].platforms = append(outputs[i].platforms, p.String())
		}
		if lang == LangGo && srcLayer.srcOK && (len(src) != 1 || !isDir(d.root, src[0])) {
			d.errorf(srcLayer.vals["src"], srcLayer.path+".src", "a go app's src must be one package directory")
		} else if srcLayer.srcOK {
			if msg := srcHolds(d.root, src, lang); msg != "" {
				d.errorf(srcLayer.vals["src"], srcLayer.path+".src", "%s", msg)
			}
		}
	}
	switch {
	case len(noSrc) == 0 || al.keyErrors:
	case len(a.Targets) == 0 && len(noSrc) == len(a.Platforms):
		d.errorf(al.node, al.path, "src is required")
	default:
		for _, p := range noSrc {
			d.errorf(al.node, al.path, "no src for %s; set src, or targets.%s.src", p, p.Arch)
		}
	}
	if a.Image.UsesInit() && slices.ContainsFunc(a.Image.Files, func(f File) bool { return atOrUnder(f.To, ImageInit) }) {
		n, p := lastSet("image", def, al)
		d.errorf(n, p, "image.files writes %s, where image.init puts minimal's init; choose another destination, or leave init out", ImageInit)
	}
	for _, o := range outputs {
		what := fmt.Sprintf("app %q is %s", a.Name, o.lang)
		if len(o.platforms) < len(a.Platforms) {
			what += " for " + strings.Join(o.platforms, " and ")
		}
		d.errorf(o.n, o.path, "output is only for asm apps, but %s", what)
	}
	return a
}

// atOrUnder reports whether the clean image path p is dir or a path in it.
func atOrUnder(p, dir string) bool { return p == dir || strings.HasPrefix(p, dir+"/") }

func orEmpty(l *layer) *layer {
	if l == nil {
		return &layer{}
	}
	return l
}

// lastSet returns the value node of key in the last layer that sets it, and its path.
func lastSet(key string, layers ...*layer) (*yaml.Node, string) {
	for i := len(layers) - 1; i >= 0; i-- {
		if n := layers[i].vals[key]; n != nil {
			return n, layers[i].path + "." + key
		}
	}
	return nil, ""
}
