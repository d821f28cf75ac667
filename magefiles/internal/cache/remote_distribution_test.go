package cache

import (
	"bytes"
	"context"
	"crypto/rand"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/minimalbuild/minimal/magefiles/internal/registrytest"
)

// TestRemoteDistribution is the round trip through Debian's docker-registry (the CNCF
// distribution registry): machine A builds and uploads, machine B, with another empty
// cache directory, gets the identical bytes of every entry and runs nothing.
func TestRemoteDistribution(t *testing.T) {
	repo := registrytest.Start(t) + "/team/minimal-cache"
	bin := make([]byte, 1_200_000) // about a Go hello world
	rand.Read(bin)
	layer := append([]byte("tar of the binary: "), bin...)
	entries := map[Key]map[string][]byte{
		testKey("compile hello amd64"):       {"bin": bin},
		testKey("shrink hello amd64"):        {"bin": bin[:600_000], "steps.json": []byte(`[{"pass":"compile","bytes":1200000}]`)},
		testKey("image hello amd64"):         {"layer-0": layer, "image.json": []byte(`{"layers":[]}`)},
		testKey("deps hello-c amd64"):        {"deps": []byte("apps/hello-c/inc/greeting.h")},
		testKey("deps without headers"):      {"deps": nil},
		testKey("an action without outputs"): {},
	}

	a := openMachine(t, repo)
	var outputBytes int64
	for key, outs := range entries {
		mustPut(t, a.Cache, key, outs)
		for _, b := range outs {
			outputBytes += int64(len(b))
		}
	}
	a.Close(context.Background())
	sa := a.Stats()
	if sa.Uploads != int64(len(entries)) || sa.Disabled != "" {
		t.Fatalf("machine A: %+v, want %d uploads; log:\n%s", sa, len(entries), a.log)
	}
	// Every output is new to the registry, and sent once, with the 2-byte empty config.
	if sa.UploadedBytes != outputBytes+2 {
		t.Errorf("machine A uploaded %d bytes for %d bytes of outputs, want %d", sa.UploadedBytes, outputBytes, outputBytes+2)
	}
	t.Logf("machine A: %d bytes of outputs, %d uploaded, %d already there", outputBytes, sa.UploadedBytes, sa.PresentBytes)

	b := openMachine(t, repo)
	for key, want := range entries {
		outs, src, err := b.LookupContext(context.Background(), key)
		if err != nil || src != Remote {
			t.Fatalf("machine B: %v, %v; want a remote hit; log:\n%s", src, err, b.log)
		}
		got, err := b.Get(key)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(asStrings(want), asStrings(got)); diff != "" {
			t.Errorf("machine B's outputs (-A's +B's):\n%s", diff)
		}
		for name, o := range outs {
			if !bytes.Equal(readBlobFile(t, o.Path), want[name]) {
				t.Errorf("machine B's blob for %q differs from machine A's", name)
			}
		}
	}
	b.Close(context.Background())
	if s := b.Stats(); s.RemoteHits != int64(len(entries)) || s.Puts != 0 || s.Uploads != 0 {
		t.Errorf("machine B: %+v, want %d remote hits and nothing stored or uploaded", s, len(entries))
	}

	// A third machine that builds the same again uploads no blob.
	c := openMachine(t, repo)
	for key, outs := range entries {
		mustPut(t, c.Cache, key, outs)
	}
	c.Close(context.Background())
	if s := c.Stats(); s.UploadedBytes != 0 || s.Uploads != int64(len(entries)) {
		t.Errorf("machine C: %+v, want every entry rewritten with no blob sent", s)
	}
	if w := append(append(a.warnings(), b.warnings()...), c.warnings()...); len(w) != 0 {
		t.Errorf("warnings: %q", w)
	}
}
