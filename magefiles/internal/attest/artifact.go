package attest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Annotations of referrers.
const (
	// AnnotationCreated is the OCI annotation for when an artifact was
	// made; referrers carry the build's creation time there.
	AnnotationCreated = "org.opencontainers.image.created"
	// AnnotationTitle is the OCI annotation naming a layer's file.
	AnnotationTitle = "org.opencontainers.image.title"
	// AnnotationPredicateType is the annotation that states an in-toto
	// layer's predicate type.
	AnnotationPredicateType = "in-toto.io/predicate-type"
)

// emptyJSON is the content of the OCI 1.1 empty descriptor, the config of
// an artifact that has none.
var emptyJSON = []byte("{}")

// Referrers returns the documents describing img, a platform image of the
// app that in describes, as OCI 1.1 artifact manifests whose subject is
// img's manifest: the SBOM (artifact type MediaTypeSPDX), then the
// provenance (MediaTypeInToto). Each has the empty config, one layer
// holding the document, and the annotation org.opencontainers.image.created
// set to in.Created; nothing else varies, so their digests are
// reproducible.
func Referrers(img v1.Image, in Input) ([]v1.Image, error) {
	sb, prov, err := Documents(img, in)
	if err != nil {
		return nil, err
	}
	return Attach(img, sb, prov, in.Created)
}

// Documents returns the SBOM and the provenance of img, as Referrers attaches them.
func Documents(img v1.Image, in Input) (sbomDoc, provDoc []byte, err error) {
	f, err := factsOf(img)
	if err != nil {
		return nil, nil, fmt.Errorf("describing image: %w", err)
	}
	if sbomDoc, err = sbom(f, in); err != nil {
		return nil, nil, err
	}
	if provDoc, err = provenance(f, in); err != nil {
		return nil, nil, err
	}
	return sbomDoc, provDoc, nil
}

// Attach returns the referrers of img that hold the documents Documents made, as
// Referrers returns them.
func Attach(img v1.Image, sbomDoc, provDoc []byte, created time.Time) ([]v1.Image, error) {
	d, err := img.Digest()
	if err != nil {
		return nil, err
	}
	size, err := img.Size()
	if err != nil {
		return nil, err
	}
	mt, err := img.MediaType()
	if err != nil {
		return nil, err
	}
	subject := v1.Descriptor{MediaType: mt, Digest: d, Size: size}
	sbomArt, err := Artifact(subject, MediaTypeSPDX, sbomDoc, created, map[string]string{AnnotationTitle: "sbom.spdx.json"})
	if err != nil {
		return nil, err
	}
	provArt, err := Artifact(subject, MediaTypeInToto, provDoc, created, map[string]string{
		AnnotationTitle:         "provenance.intoto.json",
		AnnotationPredicateType: PredicateSLSAProvenance,
	})
	if err != nil {
		return nil, err
	}
	return []v1.Image{sbomArt, provArt}, nil
}

// Artifact returns an OCI 1.1 artifact manifest referring to subject: its
// artifactType and its one layer's media type are artifactType, the layer
// holds content with layerAnnotations, the config is the empty descriptor,
// and the manifest is annotated with created.
func Artifact(subject v1.Descriptor, artifactType string, content []byte, created time.Time, layerAnnotations map[string]string) (v1.Image, error) {
	cfgDigest, cfgSize, err := v1.SHA256(bytes.NewReader(emptyJSON))
	if err != nil {
		return nil, err
	}
	d, size, err := v1.SHA256(bytes.NewReader(content))
	if err != nil {
		return nil, err
	}
	m := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		ArtifactType:  artifactType,
		Config:        v1.Descriptor{MediaType: types.OCIEmptyJSON, Digest: cfgDigest, Size: cfgSize},
		Layers: []v1.Descriptor{{
			MediaType:   types.MediaType(artifactType),
			Digest:      d,
			Size:        size,
			Annotations: layerAnnotations,
		}},
		Subject:     &subject,
		Annotations: map[string]string{AnnotationCreated: created.UTC().Format(time.RFC3339)},
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	img, err := partial.CompressedToImage(&artifact{manifest: raw, layer: content, layerDigest: d, mediaType: types.MediaType(artifactType)})
	if err != nil {
		return nil, fmt.Errorf("making %s artifact: %w", artifactType, err)
	}
	return img, nil
}

// artifact is an image made of a raw manifest, the empty config and one
// layer.
type artifact struct {
	manifest    []byte
	layer       []byte
	layerDigest v1.Hash
	mediaType   types.MediaType
}

var _ partial.CompressedImageCore = (*artifact)(nil)

func (a *artifact) RawConfigFile() ([]byte, error)      { return emptyJSON, nil }
func (a *artifact) MediaType() (types.MediaType, error) { return types.OCIManifestSchema1, nil }
func (a *artifact) RawManifest() ([]byte, error)        { return a.manifest, nil }
func (a *artifact) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	if h != a.layerDigest {
		return nil, fmt.Errorf("artifact has no blob %s", h)
	}
	return blobLayer{a.layer, h, a.mediaType}, nil
}

// blobLayer is an artifact's one layer: bytes stored as they are.
type blobLayer struct {
	b  []byte
	d  v1.Hash
	mt types.MediaType
}

func (l blobLayer) Digest() (v1.Hash, error)            { return l.d, nil }
func (l blobLayer) Size() (int64, error)                { return int64(len(l.b)), nil }
func (l blobLayer) MediaType() (types.MediaType, error) { return l.mt, nil }
func (l blobLayer) Compressed() (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(l.b)), nil
}
