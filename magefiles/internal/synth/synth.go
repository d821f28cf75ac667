package synth

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/minimalbuild/minimal/magefiles/manifest"
)

// Langs are the languages of generated apps, in the order WithMix takes their shares.
var Langs = []string{manifest.LangGo, manifest.LangC, manifest.LangAsm}

// App is one generated app.
type App struct {
	// Name is the app's name in minimal.yaml and the name of its directory: app-001, ...
	Name string
	// Lang is manifest.LangGo, manifest.LangC or manifest.LangAsm.
	Lang string
	// Dir is the app's source directory, repository-relative and slash-separated:
	// apps/app-001.
	Dir string
	// Greeting is what the app's smoke test expects its standard output to contain: the
	// line it prints, up to the revision that Change increments.
	Greeting string
}

// Option configures Apps and Generate.
type Option func(*options) error

type options struct {
	seed uint64
	mix  []int // percent per entry of Langs
}

// makeOptions sets every default, then applies opts.
func makeOptions(opts []Option) (*options, error) {
	o := &options{seed: 1, mix: []int{60, 25, 15}}
	for _, opt := range opts {
		if err := opt(o); err != nil {
			return nil, err
		}
	}
	return o, nil
}

// WithSeed sets the seed that decides which app gets which language. The same n and
// seed always give the same repository. The default is 1.
func WithSeed(seed uint64) Option {
	return func(o *options) error { o.seed = seed; return nil }
}

// WithMix sets the share of Go, C and assembly apps, in percent; the shares must be
// at least 0 and add up to 100. The default is 60% Go, 25% C and 15% assembly.
func WithMix(goPct, cPct, asmPct int) Option {
	return func(o *options) error {
		if goPct < 0 || cPct < 0 || asmPct < 0 || goPct+cPct+asmPct != 100 {
			return fmt.Errorf("language mix %d%% Go, %d%% C, %d%% assembly: want shares of at least 0 that add up to 100", goPct, cPct, asmPct)
		}
		o.mix = []int{goPct, cPct, asmPct}
		return nil
	}
}

// Apps returns the n apps that Generate writes for the same n and options, in
// manifest order.
func Apps(n int, opts ...Option) ([]App, error) {
	o, err := makeOptions(opts)
	if err != nil {
		return nil, err
	}
	if n < 1 {
		return nil, fmt.Errorf("%d apps: want at least 1", n)
	}
	// The languages, in runs, then dealt to the apps in an order the seed decides.
	var langs []string
	for i, count := range counts(n, o.mix) {
		for range count {
			langs = append(langs, Langs[i])
		}
	}
	order := make([]int, n)
	keys := make([][sha256.Size]byte, n)
	for i := range n {
		order[i] = i
		var b [16]byte
		binary.LittleEndian.PutUint64(b[:8], o.seed)
		binary.LittleEndian.PutUint64(b[8:], uint64(i))
		keys[i] = sha256.Sum256(b[:])
	}
	slices.SortFunc(order, func(a, b int) int { return bytes.Compare(keys[a][:], keys[b][:]) })

	width := max(3, len(strconv.Itoa(n)))
	apps := make([]App, n)
	for pos, i := range order {
		name := fmt.Sprintf("app-%0*d", width, i+1)
		lang := langs[pos]
		apps[i] = App{
			Name:     name,
			Lang:     lang,
			Dir:      path.Join("apps", name),
			Greeting: fmt.Sprintf("%s (%s): hello from a synthetic monorepo", name, lang),
		}
	}
	return apps, nil
}

// counts splits n apps by the percentages in mix, rounding by largest remainder; a tie
// goes to the language later in Langs, so that small repositories still get some of
// the rarer languages.
func counts(n int, mix []int) []int {
	c := make([]int, len(mix))
	left := n
	for i, pct := range mix {
		c[i] = n * pct / 100
		left -= c[i]
	}
	byRemainder := make([]int, len(mix))
	for i := range byRemainder {
		byRemainder[i] = i
	}
	slices.SortStableFunc(byRemainder, func(a, b int) int {
		if ra, rb := n*mix[a]%100, n*mix[b]%100; ra != rb {
			return rb - ra
		}
		return b - a
	})
	for _, i := range byRemainder[:left] {
		c[i]++
	}
	return c
}

// Generate writes a monorepo of n apps into dir: each app's sources under apps/ and
// the minimal.yaml that declares them. The output depends only on n and the options.
// Generate creates dir if needed, and refuses to write into a dir that already has
// an apps/ directory or a minimal.yaml.
func Generate(dir string, n int, opts ...Option) error {
	apps, err := Apps(n, opts...)
	if err != nil {
		return err
	}
	o, err := makeOptions(opts)
	if err != nil {
		return err
	}
	for _, name := range []string{"apps", "minimal.yaml"} {
		if _, err := os.Lstat(filepath.Join(dir, name)); !errors.Is(err, fs.ErrNotExist) {
			if err == nil {
				err = fs.ErrExist
			}
			return fmt.Errorf("generating a monorepo in %s: %s: %w", dir, name, err)
		}
	}
	files := map[string]string{"minimal.yaml": manifestFile(apps, o.seed)}
	for _, a := range apps {
		for name, content := range sources(a) {
			files[path.Join(a.Dir, name)] = content
		}
	}
	for _, name := range slices.Sorted(maps.Keys(files)) {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return fmt.Errorf("generating a monorepo: %w", err)
		}
		if err := os.WriteFile(p, []byte(files[name]), 0o644); err != nil {
			return fmt.Errorf("generating a monorepo: %w", err)
		}
	}
	return nil
}

// manifestFile returns the minimal.yaml that declares apps.
func manifestFile(apps []App, seed uint64) string {
	n := map[string]int{}
	for _, a := range apps {
		n[a.Lang]++
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# A synthetic monorepo of %d apps (%d Go, %d C, %d assembly), generated with seed %d.\n",
		len(apps), n[manifest.LangGo], n[manifest.LangC], n[manifest.LangAsm], seed)
	b.WriteString("# Each app prints one line; its smoke test checks the line up to the revision.\n")
	b.WriteString("version: 1\n")
	b.WriteString("repo: registry.example.com/synth\n")
	b.WriteString("platforms: [linux/amd64, linux/386]\n")
	b.WriteString("toolchains:\n")
	fmt.Fprintf(&b, "  zig: %s\n", manifest.DefaultZig)
	b.WriteString("defaults:\n")
	b.WriteString("  shrink: [strip, sstrip]\n")
	b.WriteString("apps:\n")
	for _, a := range apps {
		fmt.Fprintf(&b, "  - name: %s\n", a.Name)
		fmt.Fprintf(&b, "    lang: %s\n", a.Lang)
		if a.Lang == manifest.LangAsm {
			b.WriteString("    targets:\n")
			fmt.Fprintf(&b, "      amd64: {src: ./%s/x86_64.S}\n", a.Dir)
			fmt.Fprintf(&b, "      \"386\": {src: ./%s/i386.S}\n", a.Dir)
		} else {
			fmt.Fprintf(&b, "    src: ./%s\n", a.Dir)
		}
		b.WriteString("    test:\n")
		fmt.Fprintf(&b, "      stdout_contains: %q\n", a.Greeting)
	}
	return b.String()
}

// sources returns the source files of a at revision 0, by file name.
func sources(a App) map[string]string {
	line := a.Greeting + ", revision 0"
	switch a.Lang {
	case manifest.LangGo:
		return map[string]string{"main.go": fmt.Sprintf(goSource, a.Name, line)}
	case manifest.LangC:
		return map[string]string{"main.c": fmt.Sprintf(cSource, a.Name, line)}
	default:
		return map[string]string{
			"x86_64.S": fmt.Sprintf(amd64Source, a.Name, line),
			"i386.S":   fmt.Sprintf(i386Source, a.Name, line),
		}
	}
}

// The sources name the app, then hold the line it prints; the line holds the only
// "revision <k>" of the file.
const (
	goSource = `// Command %s prints its greeting and exits.
package main

import "fmt"

func main() {
	fmt.Println(%q)
}
`
	cSource = `/* %s prints its greeting and exits. */
#include <stdio.h>

int main(void) {
	puts(%q);
	return 0;
}
`
	amd64Source = `/* %s for linux/amd64: write(1, msg, len), then exit(0), with no C library. */
	.globl	_start
	.text
_start:
	mov	$1, %%eax		/* write */
	mov	$1, %%edi		/* stdout */
	lea	msg(%%rip), %%rsi
	mov	$len, %%edx
	syscall
	mov	$60, %%eax		/* exit */
	xor	%%edi, %%edi		/* status 0 */
	syscall
msg:
	.ascii	"%s\n"
	.set	len, . - msg

	.section .note.GNU-stack, "", @progbits	/* the stack is not executable */
`
	i386Source = `/* %s for linux/386: write(1, msg, len), then exit(0), with no C library. */
	.globl	_start
	.text
_start:
	mov	$4, %%eax		/* write */
	mov	$1, %%ebx		/* stdout */
	mov	$msg, %%ecx
	mov	$len, %%edx
	int	$0x80
	mov	$1, %%eax		/* exit */
	xor	%%ebx, %%ebx		/* status 0 */
	int	$0x80
msg:
	.ascii	"%s\n"
	.set	len, . - msg

	.section .note.GNU-stack, "", @progbits	/* the stack is not executable */
`
)
