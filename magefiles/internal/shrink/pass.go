package shrink

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/minimalbuild/minimal/magefiles/internal/pack"
	"github.com/minimalbuild/minimal/magefiles/internal/passname"
)

// Kind says at which point of a build a pass does its work.
type Kind int

const (
	// CompileTime passes are toolchain flags (for example the linker's -s);
	// the toolchain applies them, so they have no byte transformation here.
	CompileTime Kind = iota + 1
	// PostLink passes are pure functions from a linked binary to a smaller
	// one.
	PostLink
)

// String returns the kind's name as used in error messages.
func (k Kind) String() string {
	switch k {
	case CompileTime:
		return "compile-time"
	case PostLink:
		return "post-link"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Pass is one shrink pass that an app's shrink: list can name.
type Pass struct {
	// Name is the pass's name in minimal.yaml, one of passname's.
	Name string
	// Kind says whether the toolchain applies the pass or Apply does.
	Kind Kind
	// Summary is one line saying what the pass removes.
	Summary string
	// Stub is set for a pass that puts code of its own in front of the program, which
	// must then also behave like its input in a large environment and with a long
	// argument list.
	Stub bool
	// SkipByDefault is set for a pass whose failure, or a failed check of its output,
	// keeps the binary from before it instead of failing the build, unless the app says
	// otherwise.
	SkipByDefault bool
	// apply transforms a linked binary, stopping with ctx's error when
	// ctx is done; nil for compile-time passes.
	apply func(ctx context.Context, bin []byte) ([]byte, error)
}

// ErrUnknownPass is wrapped by the errors for pass names that are not in the
// registry.
var ErrUnknownPass = errors.New("unknown shrink pass")

// registry holds every pass, in the order Passes lists them.
var registry = []Pass{
	{
		Name:    passname.Strip,
		Kind:    CompileTime,
		Summary: "the linker leaves out the symbol table and debug information",
	},
	{
		Name:    passname.SStrip,
		Kind:    PostLink,
		Summary: "drops the section headers and every byte the kernel does not load",
		apply:   func(_ context.Context, bin []byte) ([]byte, error) { return SStrip(bin) },
	},
	{
		// A program the packer cannot handle still ships, unpacked.
		Name:          passname.Pack,
		Kind:          PostLink,
		Summary:       "compresses the program behind a stub that decodes it in place at start-up",
		apply:         packPass,
		Stub:          true,
		SkipByDefault: true,
	},
}

// packPass runs the packer; a binary it cannot make smaller is reported as ErrNoGain.
func packPass(ctx context.Context, bin []byte) ([]byte, error) {
	out, _, err := pack.Pack(ctx, bin)
	if errors.Is(err, pack.ErrNoGain) {
		return nil, fmt.Errorf("%w: %w", ErrNoGain, err)
	}
	return out, err
}

// Passes returns every known pass.
func Passes() []Pass {
	return append([]Pass(nil), registry...)
}

// Names returns the names of every known pass.
func Names() []string {
	names := make([]string, len(registry))
	for i, p := range registry {
		names[i] = p.Name
	}
	return names
}

// Lookup returns the pass called name, or an error wrapping ErrUnknownPass.
func Lookup(name string) (Pass, error) {
	for _, p := range registry {
		if p.Name == name {
			return p, nil
		}
	}
	return Pass{}, fmt.Errorf("%w %q (known: %s)", ErrUnknownPass, name, strings.Join(Names(), ", "))
}

// Apply runs the post-link pass called name on bin and returns the result;
// bin is not modified. It is an error to name an unknown pass or a
// compile-time one; when ctx is done first, Apply returns its error.
func Apply(ctx context.Context, name string, bin []byte) ([]byte, error) {
	p, err := Lookup(name)
	if err != nil {
		return nil, err
	}
	if p.Kind != PostLink {
		return nil, fmt.Errorf("%s is a %v pass: the toolchain applies it, not shrink.Apply", name, p.Kind)
	}
	out, err := p.apply(ctx, bin)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return out, nil
}

// ErrNoGain is wrapped by a pass's error when its output would not be smaller than its
// input. Run then keeps the input and records why, and the build goes on.
var ErrNoGain = errors.New("no gain")

// Step records the size of a binary before and after one post-link pass.
type Step struct {
	Pass   string // the pass's name
	Before int64  // size of its input in bytes
	After  int64  // size of its output in bytes; Before when the pass was skipped
	// Skipped says why the pass's output was not kept: it saved nothing, or the pass
	// or its check failed and the run was told to skip failures. Empty when kept.
	Skipped string
	// NoGain is set when the pass was skipped because it saves nothing.
	NoGain bool
}

// Check inspects out, the binary a pass produced from in, for example by
// running the app's smoke test on it. Run stops at the first error a Check
// returns, unless the pass may be skipped.
type Check func(ctx context.Context, pass string, in, out []byte) error

// RunOption changes what Run does.
type RunOption func(*runOptions)

type runOptions struct {
	skip func(pass string, err error) bool
}

// WithSkip makes Run go on when a pass fails, or its Check fails, and skip(pass, err)
// is true for that failure: the pass's output is dropped, the next pass gets its
// input, and the Step says why. Without it every such failure ends the run.
// Cancellation always ends it.
func WithSkip(skip func(pass string, err error) bool) RunOption {
	return func(o *runOptions) { o.skip = skip }
}

// Run applies the post-link passes among names to bin, in order, and returns
// the final binary with one Step per pass applied. Compile-time passes are
// skipped: the toolchain has applied them already. When check is not nil it
// is called after every pass with that pass's output. A pass that saves no
// bytes (ErrNoGain) is recorded as skipped and its input kept, without calling
// check. Unknown names are an error before any pass runs. When no post-link
// pass changes the binary, Run returns bin itself.
func Run(ctx context.Context, bin []byte, names []string, check Check, opts ...RunOption) ([]byte, []Step, error) {
	var o runOptions
	for _, opt := range opts {
		opt(&o)
	}
	var passes []Pass
	for _, name := range names {
		p, err := Lookup(name)
		if err != nil {
			return nil, nil, err
		}
		if p.Kind == PostLink {
			passes = append(passes, p)
		}
	}
	var steps []Step
	for _, p := range passes {
		if err := ctx.Err(); err != nil {
			return nil, steps, err
		}
		step := Step{Pass: p.Name, Before: int64(len(bin)), After: int64(len(bin))}
		out, err := p.apply(ctx, bin)
		switch {
		case errors.Is(err, ErrNoGain):
			step.Skipped, step.NoGain = err.Error(), true
			steps = append(steps, step)
			continue
		case err != nil:
			err = fmt.Errorf("%s: %w", p.Name, err)
		default:
			step.After = int64(len(out))
			if check != nil {
				if cerr := check(ctx, p.Name, bin, out); cerr != nil {
					err = fmt.Errorf("checking %s output: %w", p.Name, cerr)
				}
			}
		}
		if err != nil {
			if ctx.Err() != nil || o.skip == nil || !o.skip(p.Name, err) {
				steps = append(steps, step)
				return nil, steps, err
			}
			step.After, step.Skipped = step.Before, err.Error()
			steps = append(steps, step)
			continue
		}
		steps = append(steps, step)
		bin = out
	}
	return bin, steps, nil
}
