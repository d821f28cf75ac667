package shrink

import (
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/minimalbuild/minimal/magefiles/internal/passname"
)

func TestRegistry(t *testing.T) {
	type entry struct {
		Name          string
		Kind          string
		Stub          bool
		SkipByDefault bool
	}
	var got []entry
	for _, p := range Passes() {
		got = append(got, entry{p.Name, p.Kind.String(), p.Stub, p.SkipByDefault})
		if p.Summary == "" {
			t.Errorf("pass %s has no summary", p.Name)
		}
		if (p.apply != nil) != (p.Kind == PostLink) {
			t.Errorf("pass %s: kind %v but apply set = %v", p.Name, p.Kind, p.apply != nil)
		}
	}
	// Only pack puts a stub in front of the program, and only its failures are skipped
	// by default: a program the packer cannot handle still ships, unpacked.
	want := []entry{
		{"strip", "compile-time", false, false},
		{"sstrip", "post-link", false, false},
		{"pack", "post-link", true, true},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Passes() mismatch (-want +got):\n%s", diff)
	}
	// minimal.yaml accepts exactly the passes there are.
	if diff := cmp.Diff(passname.All(), Names()); diff != "" {
		t.Errorf("Names() mismatch (-want +got):\n%s", diff)
	}
}

func TestLookup(t *testing.T) {
	tests := []struct {
		name     string
		why      string
		wantKind Kind
		wantErr  string
	}{
		{name: "sstrip", why: "the post-link byte pass", wantKind: PostLink},
		{name: "strip", why: "known, but the toolchain applies it", wantKind: CompileTime},
		{name: "upx", why: "not a pass", wantErr: `unknown shrink pass "upx" (known: strip, sstrip, pack)`},
		{name: "SStrip", why: "names are case-sensitive, as in minimal.yaml", wantErr: `unknown shrink pass "SStrip"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Lookup(tt.name)
			if tt.wantErr != "" {
				if !errors.Is(err, ErrUnknownPass) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Lookup(%q) error = %v, want one wrapping ErrUnknownPass containing %q (%s)", tt.name, err, tt.wantErr, tt.why)
				}
				return
			}
			if err != nil {
				t.Fatalf("Lookup(%q): %v (%s)", tt.name, err, tt.why)
			}
			if p.Name != tt.name || p.Kind != tt.wantKind {
				t.Errorf("Lookup(%q) = %s %v, want %s %v (%s)", tt.name, p.Name, p.Kind, tt.name, tt.wantKind, tt.why)
			}
		})
	}
}

func TestApply(t *testing.T) {
	exe := staticExec(elf.ELFCLASS64).bytes()
	want, err := SStrip(exe)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		why     string
		pass    string
		in      []byte
		want    []byte
		wantErr string
		errIs   error
	}{
		{name: "sstrip", why: "Apply runs the registered function", pass: "sstrip", in: exe, want: want},
		{name: "sstrip error", why: "the pass name prefixes the pass's own error", pass: "sstrip", in: []byte("#!/bin/sh\n"), wantErr: "sstrip: not an ELF file", errIs: ErrNotELF},
		{name: "compile-time", why: "strip has no byte transformation", pass: "strip", in: exe, wantErr: "strip is a compile-time pass"},
		{name: "unknown", why: "unknown names are errors", pass: "pack2", in: exe, wantErr: "unknown shrink pass", errIs: ErrUnknownPass},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Apply(context.Background(), tt.pass, tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Apply(%q) error = %v, want %q (%s)", tt.pass, err, tt.wantErr, tt.why)
				}
				if tt.errIs != nil && !errors.Is(err, tt.errIs) {
					t.Errorf("Apply(%q) error %v does not wrap %v", tt.pass, err, tt.errIs)
				}
				return
			}
			if err != nil {
				t.Fatalf("Apply(%q): %v (%s)", tt.pass, err, tt.why)
			}
			if !bytes.Equal(got, tt.want) {
				t.Errorf("Apply(%q) returned %d bytes, want %d (%s)", tt.pass, len(got), len(tt.want), tt.why)
			}
		})
	}
}

func TestRun(t *testing.T) {
	exe := staticExec(elf.ELFCLASS32).bytes()
	stripped, err := SStrip(exe)
	if err != nil {
		t.Fatal(err)
	}
	errSmoke := errors.New("smoke test failed")
	dyn := staticExec(elf.ELFCLASS32)
	dyn.segs[4] = fakeSeg{typ: elf.PT_INTERP, flags: elf.PF_R, off: 0x1a0, vaddr: dyn.segs[0].vaddr + 0x1a0, filesz: 0x1c, memsz: 0x1c}
	dynamic := dyn.bytes()
	_, dynErr := Apply(context.Background(), "sstrip", dynamic)
	if dynErr == nil {
		t.Fatal("sstrip accepted a dynamically linked executable")
	}
	canceled, cancel := context.WithCancel(t.Context())
	cancel()

	type call struct {
		Pass string
		Size int
	}
	tests := []struct {
		name      string
		why       string
		ctx       context.Context
		names     []string
		checkErr  error
		in        []byte
		skip      func(string, error) bool
		wantBin   []byte
		wantSteps []Step
		wantCalls []call
		wantErr   error
		wantMsg   string
	}{
		{
			name:      "strip and sstrip",
			why:       "the default list: strip is skipped, sstrip runs and is checked",
			names:     []string{"strip", "sstrip"},
			wantBin:   stripped,
			wantSteps: []Step{{Pass: "sstrip", Before: int64(len(exe)), After: int64(len(stripped))}},
			wantCalls: []call{{"sstrip", len(stripped)}},
		},
		{
			name:      "twice",
			why:       "a pass may repeat; the second sstrip sees the first one's output",
			names:     []string{"sstrip", "sstrip"},
			wantBin:   stripped,
			wantSteps: []Step{{Pass: "sstrip", Before: int64(len(exe)), After: int64(len(stripped))}, {Pass: "sstrip", Before: int64(len(stripped)), After: int64(len(stripped))}},
			wantCalls: []call{{"sstrip", len(stripped)}, {"sstrip", len(stripped)}},
		},
		{
			name:    "none",
			why:     "shrink: [] leaves the binary as linked",
			names:   nil,
			wantBin: exe,
		},
		{
			name:    "unknown",
			why:     "an unknown name stops the run before any pass or check",
			names:   []string{"sstrip", "upx"},
			wantErr: ErrUnknownPass,
			wantMsg: `unknown shrink pass "upx"`,
		},
		{
			name:      "check fails",
			why:       "a failed smoke test stops the run and names the pass",
			names:     []string{"sstrip"},
			checkErr:  errSmoke,
			wantSteps: []Step{{Pass: "sstrip", Before: int64(len(exe)), After: int64(len(stripped))}},
			wantCalls: []call{{"sstrip", len(stripped)}},
			wantErr:   errSmoke,
			wantMsg:   "checking sstrip output: smoke test failed",
		},
		{
			name:      "check fails, skipped",
			why:       "with WithSkip the failed pass's output is dropped and the next pass gets the input",
			names:     []string{"sstrip", "sstrip"},
			skip:      func(string, error) bool { return true },
			checkErr:  errSmoke,
			wantBin:   exe,
			wantSteps: []Step{{Pass: "sstrip", Before: int64(len(exe)), After: int64(len(exe)), Skipped: "checking sstrip output: smoke test failed"}, {Pass: "sstrip", Before: int64(len(exe)), After: int64(len(exe)), Skipped: "checking sstrip output: smoke test failed"}},
			wantCalls: []call{{"sstrip", len(stripped)}, {"sstrip", len(stripped)}},
		},
		{
			name:      "check fails, not skippable",
			why:       "WithSkip decides per pass: a pass it refuses still ends the run",
			names:     []string{"sstrip"},
			skip:      func(pass string, _ error) bool { return pass == "pack" },
			checkErr:  errSmoke,
			wantSteps: []Step{{Pass: "sstrip", Before: int64(len(exe)), After: int64(len(stripped))}},
			wantCalls: []call{{"sstrip", len(stripped)}},
			wantErr:   errSmoke,
			wantMsg:   "checking sstrip output: smoke test failed",
		},
		{
			name:      "pass fails, skipped",
			why:       "a pass that refuses its input is skipped like a failed check, without calling check",
			in:        dynamic,
			names:     []string{"sstrip"},
			skip:      func(string, error) bool { return true },
			wantBin:   dynamic,
			wantSteps: []Step{{Pass: "sstrip", Before: int64(len(dynamic)), After: int64(len(dynamic)), Skipped: dynErr.Error()}},
		},
		{
			name:      "pass fails",
			why:       "without WithSkip a refused input ends the run",
			in:        dynamic,
			names:     []string{"sstrip"},
			wantErr:   ErrUnsupported,
			wantMsg:   "sstrip: unsupported ELF file",
			wantSteps: []Step{{Pass: "sstrip", Before: int64(len(dynamic)), After: int64(len(dynamic))}},
		},
		{
			name:    "canceled with skip",
			why:     "cancellation is never skipped",
			ctx:     canceled,
			names:   []string{"sstrip"},
			skip:    func(string, error) bool { return true },
			wantErr: context.Canceled,
			wantMsg: "context canceled",
		},
		{
			name:    "canceled",
			why:     "a canceled build runs no more passes",
			ctx:     canceled,
			names:   []string{"sstrip"},
			wantErr: context.Canceled,
			wantMsg: "context canceled",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := tt.ctx
			if ctx == nil {
				ctx = t.Context()
			}
			var calls []call
			check := func(_ context.Context, pass string, _, bin []byte) error {
				calls = append(calls, call{pass, len(bin)})
				return tt.checkErr
			}
			in := tt.in
			if in == nil {
				in = exe
			}
			var opts []RunOption
			if tt.skip != nil {
				opts = append(opts, WithSkip(tt.skip))
			}
			bin, steps, err := Run(ctx, in, tt.names, check, opts...)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.wantMsg) {
					t.Errorf("Run error = %v, want %v containing %q (%s)", err, tt.wantErr, tt.wantMsg, tt.why)
				}
			} else if err != nil {
				t.Fatalf("Run: %v (%s)", err, tt.why)
			}
			if !bytes.Equal(bin, tt.wantBin) {
				t.Errorf("Run returned %d bytes, want %d (%s)", len(bin), len(tt.wantBin), tt.why)
			}
			if diff := cmp.Diff(tt.wantSteps, steps); diff != "" {
				t.Errorf("steps mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantCalls, calls); diff != "" {
				t.Errorf("checks mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestKindString(t *testing.T) {
	for k, want := range map[Kind]string{CompileTime: "compile-time", PostLink: "post-link", 0: "Kind(0)"} {
		if got := k.String(); got != want {
			t.Errorf("Kind(%d).String() = %q, want %q", int(k), got, want)
		}
	}
}
