package publish

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// putBlob writes raw into dir's layout under its digest and returns that digest.
func putBlob(t *testing.T, dir, raw string) v1.Hash {
	t.Helper()
	sum := sha256.Sum256([]byte(raw))
	h := v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}
	if err := os.MkdirAll(filepath.Join(dir, "blobs", "sha256"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(blobPath(dir, h), []byte(raw), 0o644); err != nil {
		t.Fatal(err)
	}
	return h
}

func TestManifestMemo(t *testing.T) {
	dir := t.TempDir()
	cfg, layer := putBlob(t, dir, "{}"), putBlob(t, dir, "layer")
	image := putBlob(t, dir, `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",`+
		`"config":{"mediaType":"application/vnd.oci.image.config.v1+json","size":2,"digest":"`+cfg.String()+`"},`+
		`"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","size":5,"digest":"`+layer.String()+`"}]}`)
	referrer := putBlob(t, dir, `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",`+
		`"config":{"mediaType":"application/vnd.oci.empty.v1+json","size":2,"digest":"`+cfg.String()+`"},"layers":[],`+
		`"subject":{"mediaType":"application/vnd.oci.image.manifest.v1+json","size":1,"digest":"`+image.String()+`"}}`)
	index := putBlob(t, dir, `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[`+
		`{"mediaType":"application/vnd.oci.image.manifest.v1+json","size":1,"digest":"`+image.String()+`"}]}`)
	missing := v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(make([]byte, 32))}

	tests := []struct {
		name         string
		desc         v1.Descriptor
		wantChildren []v1.Hash
		wantBlobs    []v1.Hash
		wantSubject  *v1.Hash
		wantErr      error
	}{
		{name: "image", desc: v1.Descriptor{MediaType: types.OCIManifestSchema1, Digest: image}, wantBlobs: []v1.Hash{cfg, layer}},
		{name: "referrer", desc: v1.Descriptor{MediaType: types.OCIManifestSchema1, Digest: referrer}, wantBlobs: []v1.Hash{cfg}, wantSubject: &image},
		{name: "index", desc: v1.Descriptor{MediaType: types.OCIImageIndex, Digest: index}, wantChildren: []v1.Hash{image}},
		{name: "missing", desc: v1.Descriptor{MediaType: types.OCIManifestSchema1, Digest: missing}, wantErr: fs.ErrNotExist},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			memo := manifestMemo{}
			for round := range 2 {
				f, err := memo.read(dir, tt.desc)
				if tt.wantErr != nil {
					if !errors.Is(err, tt.wantErr) {
						t.Fatalf("read = %v, want %v", err, tt.wantErr)
					}
					return
				}
				if err != nil {
					t.Fatalf("round %d: %v", round, err)
				}
				var children []v1.Hash
				for _, c := range f.children {
					children = append(children, c.Digest)
				}
				if !slices.Equal(children, tt.wantChildren) || !slices.Equal(f.blobs, tt.wantBlobs) ||
					(f.subject == nil) != (tt.wantSubject == nil) || f.subject != nil && *f.subject != *tt.wantSubject {
					t.Errorf("round %d: read = %+v, want children %v, blobs %v, subject %v", round, f, tt.wantChildren, tt.wantBlobs, tt.wantSubject)
				}
				// The second round must come from the memo: the blob is gone. Each
				// case reads its own blob only.
				if err := os.Remove(blobPath(dir, tt.desc.Digest)); err != nil && round == 0 {
					t.Fatal(err)
				}
			}
		})
	}
}
