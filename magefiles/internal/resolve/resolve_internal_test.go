package resolve

import (
	"strings"
	"testing"
)

// TestSameCatchesChanges checks the final check of Resolve: a result
// that does not read as the original with the references replaced is
// refused.
func TestSameCatchesChanges(t *testing.T) {
	in := []byte("a: minimal://hello\nb: [x, y]\n")
	sites, docs, err := scan(in, "in.yaml")
	if err != nil {
		t.Fatal(err)
	}
	images := map[string]string{"hello": "r.example/hello@sha256:00"}
	tests := []struct {
		name, out, wantErr string
	}{
		{"the expected result", "a: r.example/hello@sha256:00\nb: [x, y]\n", ""},
		{"another value elsewhere", "a: r.example/hello@sha256:00\nb: [x, z]\n", "line 2: the result reads differently"},
		{"the reference not replaced", "a: minimal://hello\nb: [x, y]\n", "line 1: the result reads differently"},
		{"a value that became a number", "a: 12\nb: [x, y]\n", "line 1: the result reads differently"},
		{"a document more", "a: r.example/hello@sha256:00\nb: [x, y]\n---\nc: 1\n", "more than 1 documents"},
		{"broken YAML", "a: [\n", "does not parse"},
	}
	for _, tt := range tests {
		err := same(docs, sites, images, []byte(tt.out))
		if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("%s: same = %v, want %q", tt.name, err, tt.wantErr)
		}
	}
}
