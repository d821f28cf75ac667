package resolve_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/minimalbuild/minimal/magefiles/internal/resolve"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// pushed stands for a push: the reference an app's image gets.
func pushed(_ context.Context, app string) (string, error) {
	sum := sha256.Sum256([]byte(app))
	return "registry.example.com/team/" + app + "@sha256:" + hex.EncodeToString(sum[:]), nil
}

func resolveString(t *testing.T, in string) (string, error) {
	t.Helper()
	out, err := resolve.Resolve(context.Background(), strings.NewReader(in), "in.yaml", pushed)
	return string(out), err
}

// TestGolden resolves each testdata/<name>.in.yaml and compares the result
// with <name>.out.yaml and the references found with <name>.refs.
func TestGolden(t *testing.T) {
	inputs, err := filepath.Glob("testdata/*.in.yaml")
	if err != nil || len(inputs) == 0 {
		t.Fatalf("no inputs: %v", err)
	}
	for _, in := range inputs {
		base := strings.TrimSuffix(in, ".in.yaml")
		t.Run(filepath.Base(base), func(t *testing.T) {
			data, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			out, err := resolve.Resolve(context.Background(), strings.NewReader(string(data)), in, pushed)
			if err != nil {
				t.Fatal(err)
			}
			refs, err := resolve.Refs(strings.NewReader(string(data)), in)
			if err != nil {
				t.Fatal(err)
			}
			var listed strings.Builder
			for _, r := range refs {
				fmt.Fprintln(&listed, r)
			}
			golden(t, base+".out.yaml", out)
			golden(t, base+".refs", []byte(listed.String()))

			// Only the lines with references change.
			inLines, outLines := strings.Split(string(data), "\n"), strings.Split(string(out), "\n")
			if len(inLines) != len(outLines) {
				t.Fatalf("%d lines in, %d out", len(inLines), len(outLines))
			}
			refLines := map[int]bool{}
			for _, r := range refs {
				refLines[r.Line] = true
			}
			for i := range inLines {
				if !refLines[i+1] && inLines[i] != outLines[i] {
					t.Errorf("line %d changed without a reference on it:\n-%s\n+%s", i+1, inLines[i], outLines[i])
				}
				if refLines[i+1] && inLines[i] == outLines[i] {
					t.Errorf("line %d has a reference but did not change: %s", i+1, inLines[i])
				}
			}
		})
	}
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to write it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s differs (-want +got):\n%s", path, diff)
	}
}

// TestForms resolves references written every way YAML allows a plain
// string, in small documents.
func TestForms(t *testing.T) {
	hello, _ := pushed(context.Background(), "hello")
	web, _ := pushed(context.Background(), "web")
	tests := []struct {
		name, in, want string
	}{
		{"plain", "image: minimal://hello\n", "image: " + hello + "\n"},
		{"single quotes kept", "image: 'minimal://hello'\n", "image: '" + hello + "'\n"},
		{"double quotes kept", `image: "minimal://hello"` + "\n", `image: "` + hello + `"` + "\n"},
		{"comment after it kept", "image: minimal://hello # the app\n", "image: " + hello + " # the app\n"},
		{"flow sequence", "args: [minimal://hello, 'minimal://web', x]\n", "args: [" + hello + ", '" + web + "', x]\n"},
		{"sequence of a top-level document", "- minimal://hello\n- minimal://web\n", "- " + hello + "\n- " + web + "\n"},
		{"a document that is only a reference", "minimal://hello\n", hello + "\n"},
		{"anchor and alias: the anchor's value changes", "a: &x minimal://hello\nb: *x\n", "a: &x " + hello + "\nb: *x\n"},
		{"anchor on the line before", "a: &x\n  minimal://hello\n", "a: &x\n  " + hello + "\n"},
		{"explicit string tag", "a: !!str minimal://hello\n", "a: !!str " + hello + "\n"},
		{"CRLF line ends", "a: 1\r\nb: minimal://hello\r\nc: minimal://web\r\n", "a: 1\r\nb: " + hello + "\r\nc: " + web + "\r\n"},
		{"byte order mark", "\ufeffimage: minimal://hello\n", "\ufeffimage: " + hello + "\n"},
		{"wide characters before it on the line", "名前: minimal://hello\nnäme: [ä, minimal://web]\n", "名前: " + hello + "\nnäme: [ä, " + web + "]\n"},
		{"several documents, empty ones too", "---\n---\na: minimal://hello\n...\n---\n# c\n---\nb: minimal://web\n", "---\n---\na: " + hello + "\n...\n---\n# c\n---\nb: " + web + "\n"},
		{"a longer string is not a reference", "a: see minimal://hello\nb: [x minimal://hello]\n", "a: see minimal://hello\nb: [x minimal://hello]\n"},
		{"a key is not a reference", "minimal://hello: 1\n", "minimal://hello: 1\n"},
		{"a number-looking app name", "a: minimal://386\n", "a: " + mustPushed("386") + "\n"},
		{"nothing at all", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := resolveString(t, tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Resolve (-want +got):\n%s", diff)
			}
		})
	}
}

func mustPushed(app string) string {
	s, _ := pushed(context.Background(), app)
	return s
}

func TestErrors(t *testing.T) {
	unknown := func(_ context.Context, app string) (string, error) {
		if app == "nope" {
			return "", errors.New(`no app named "nope" in minimal.yaml`)
		}
		return pushed(context.Background(), app)
	}
	tests := []struct {
		name    string
		in      string
		image   func(context.Context, string) (string, error)
		wantErr string
	}{
		{"an unknown app, at its first reference", "a: minimal://hello\nb:\n  - minimal://nope\n  - minimal://nope\n", unknown,
			`in.yaml:3:5: minimal://nope: no app named "nope" in minimal.yaml`},
		{"not an app name", "a: 1\nb: minimal://Hello\n", pushed,
			`in.yaml:2:4: "minimal://Hello" does not name an app`},
		{"a tag after the name", "b: 'minimal://hello:v1'\n", pushed,
			`in.yaml:1:4: "minimal://hello:v1" does not name an app`},
		{"more after the name", "b: minimal://hello/x y\n", pushed,
			`in.yaml:1:4: "minimal://hello/x y" does not name an app`},
		{"nothing after the scheme", "b: minimal://\n", pushed,
			`in.yaml:1:4: "minimal://" does not name an app`},
		{"a block scalar", "a: |-\n  minimal://hello\n", pushed,
			"in.yaml:1:4: minimal://hello is a block scalar"},
		{"escapes", `a: "minimal:\x2f/hello"` + "\n", pushed,
			"in.yaml:1:4: minimal://hello is written with escapes or line breaks"},
		{"a quoted string over two lines", "a: 'minimal://hel\n\n  lo'\n", pushed,
			"in.yaml:1:4: \"minimal://hel\\nlo\" does not name an app"},
		{"not YAML", "a: [1\nb: minimal://hello\n", pushed, "in.yaml: yaml: line 1"},
		{"a replacement that is not an image reference", "a: minimal://hello\n",
			func(context.Context, string) (string, error) { return "x y: z", nil },
			`in.yaml:1:4: minimal://hello: image reference "x y: z" is not one`},
		{"UTF-16", "\xff\xfea\x00:\x00", pushed, "in.yaml: the file is UTF-16"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := resolve.Resolve(context.Background(), strings.NewReader(tt.in), "in.yaml", tt.image)
			if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
				t.Fatalf("Resolve = %q, %v; want an error starting %q", out, err, tt.wantErr)
			}
		})
	}
}

// TestOncePerApp checks that Resolve asks for each app's image once, in
// the order the apps first appear.
func TestOncePerApp(t *testing.T) {
	var asked []string
	_, err := resolve.Resolve(context.Background(), strings.NewReader("a: minimal://web\nb: [minimal://hello, minimal://web]\n---\nc: minimal://hello\n"), "in.yaml",
		func(ctx context.Context, app string) (string, error) {
			asked = append(asked, app)
			return pushed(ctx, app)
		})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"web", "hello"}, asked); diff != "" {
		t.Errorf("apps asked for (-want +got):\n%s", diff)
	}
}

func TestCheck(t *testing.T) {
	in := "a: minimal://hello\nb: minimal://nope\n---\nc: [minimal://web, minimal://other]\n"
	refs, err := resolve.Refs(strings.NewReader(in), "k8s.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"hello", "nope", "other", "web"}, resolve.Apps(refs)); diff != "" {
		t.Errorf("Apps (-want +got):\n%s", diff)
	}
	if err := resolve.Check(refs, []string{"web", "hello", "nope", "other"}); err != nil {
		t.Errorf("Check with every app known: %v", err)
	}
	err = resolve.Check(refs, []string{"web", "hello"})
	want := `k8s.yaml:2:4: minimal://nope: unknown app "nope"; the apps are hello, web` + "\n" +
		`k8s.yaml:4:20: minimal://other: unknown app "other"; the apps are hello, web`
	if err == nil || err.Error() != want {
		t.Errorf("Check = %v, want\n%s", err, want)
	}
	if !errors.Is(err, resolve.ErrUnknownApp) {
		t.Errorf("Check's error is not ErrUnknownApp")
	}
	var pe *resolve.Error
	if !errors.As(err, &pe) || pe.File != "k8s.yaml" || pe.Line != 2 || pe.Column != 4 {
		t.Errorf("Check's first error %+v, want an *Error at k8s.yaml:2:4", pe)
	}
}
