package pid1

import (
	"bytes"
	"testing"
	"time"
)

func TestBinary(t *testing.T) {
	for _, arch := range Arches() {
		b, err := Binary(arch)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) == 0 || len(b) > MaxSize {
			t.Errorf("the %s init has %d bytes, want 1 to %d", arch, len(b), MaxSize)
		}
		if !bytes.HasPrefix(b, []byte("\x7fELF")) {
			t.Errorf("the %s init is not an ELF file", arch)
		}
	}
	if _, err := Binary("arm64"); err == nil {
		t.Error("Binary(arm64) = nil error, want one")
	}
}

// TestLayerSameInEveryImage checks that the init layer of a platform depends only
// on the platform and the creation time, so every image shares it.
func TestLayerSameInEveryImage(t *testing.T) {
	created := time.Unix(1700000000, 0)
	digest := func(arch string, created time.Time) string {
		l, err := Layer(arch, created)
		if err != nil {
			t.Fatal(err)
		}
		d, err := l.Digest()
		if err != nil {
			t.Fatal(err)
		}
		return d.String()
	}
	a, b := digest("amd64", created), digest("amd64", created)
	if a != b {
		t.Errorf("two amd64 init layers differ: %s, %s", a, b)
	}
	if c := digest("386", created); c == a {
		t.Errorf("the 386 and amd64 init layers are the same: %s", c)
	}
	if d := digest("amd64", created.Add(time.Second)); d == a {
		t.Errorf("the creation time does not reach the layer: %s", d)
	}
}

func TestEntrypoint(t *testing.T) {
	in := []string{"/ko-app/pausle", "-x"}
	got := Entrypoint(in)
	if len(got) != 3 || got[0] != Path || got[1] != in[0] || got[2] != in[1] {
		t.Errorf("Entrypoint(%q) = %q", in, got)
	}
	got[1] = "changed"
	if in[0] != "/ko-app/pausle" {
		t.Error("Entrypoint shares its argument's array")
	}
}
