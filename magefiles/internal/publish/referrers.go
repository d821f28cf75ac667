package publish

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// WithReferrers returns idx with refs attached: OCI 1.1 artifact manifests
// whose subject is idx or one of its images, such as the SBOM and the
// provenance attest.Referrers makes. idx itself, its bytes and its digest,
// are unchanged. The publishers that know referrers write them beside the
// index: Layout as entries of index.json, Registry through the registry's
// referrers API or its tag fallback. Others ignore them.
func WithReferrers(idx v1.ImageIndex, refs ...v1.Image) v1.ImageIndex {
	if len(refs) == 0 {
		return idx
	}
	if w, ok := idx.(*referringIndex); ok {
		return &referringIndex{idx: w.idx, refs: append(append([]v1.Image(nil), w.refs...), refs...)}
	}
	return &referringIndex{idx: idx, refs: refs}
}

// ReferrersOf returns the referrers WithReferrers attached to idx, if any.
func ReferrersOf(idx v1.ImageIndex) []v1.Image {
	if w, ok := idx.(*referringIndex); ok {
		return append([]v1.Image(nil), w.refs...)
	}
	return nil
}

// referringIndex is an index that carries referrers of its manifests.
type referringIndex struct {
	idx  v1.ImageIndex
	refs []v1.Image
}

var _ v1.ImageIndex = (*referringIndex)(nil)

func (r *referringIndex) MediaType() (types.MediaType, error)         { return r.idx.MediaType() }
func (r *referringIndex) Digest() (v1.Hash, error)                    { return r.idx.Digest() }
func (r *referringIndex) Size() (int64, error)                        { return r.idx.Size() }
func (r *referringIndex) IndexManifest() (*v1.IndexManifest, error)   { return r.idx.IndexManifest() }
func (r *referringIndex) RawManifest() ([]byte, error)                { return r.idx.RawManifest() }
func (r *referringIndex) Image(h v1.Hash) (v1.Image, error)           { return r.idx.Image(h) }
func (r *referringIndex) ImageIndex(h v1.Hash) (v1.ImageIndex, error) { return r.idx.ImageIndex(h) }

// referrer is one referrer of an index, read and checked.
type referrer struct {
	img      v1.Image
	desc     v1.Descriptor // its entry: media type, digest, size, artifact type
	subject  v1.Hash
	manifest *v1.Manifest
}

// referrersOf returns the referrers attached to idx, each checked to refer
// to idx or one of its manifests.
func referrersOf(idx v1.ImageIndex) ([]referrer, error) {
	imgs := ReferrersOf(idx)
	if len(imgs) == 0 {
		return nil, nil
	}
	own, err := manifestDigests(idx)
	if err != nil {
		return nil, err
	}
	out := make([]referrer, 0, len(imgs))
	for i, img := range imgs {
		r, err := readReferrer(img)
		if err != nil {
			return nil, fmt.Errorf("referrer %d: %w", i, err)
		}
		if !own[r.subject] {
			return nil, fmt.Errorf("referrer %s refers to %s, which is not in the index", r.desc.Digest, r.subject)
		}
		out = append(out, r)
	}
	return out, nil
}

func readReferrer(img v1.Image) (referrer, error) {
	raw, err := img.RawManifest()
	if err != nil {
		return referrer{}, err
	}
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		return referrer{}, err
	}
	if m.Subject == nil {
		return referrer{}, errors.New("the manifest has no subject")
	}
	d, size, err := v1.SHA256(bytes.NewReader(raw))
	if err != nil {
		return referrer{}, err
	}
	at := m.ArtifactType
	if at == "" {
		at = string(m.Config.MediaType) // as the referrers API reports it
	}
	mt := m.MediaType
	if mt == "" {
		return referrer{}, errors.New("the manifest has no mediaType")
	}
	return referrer{
		img:      img,
		desc:     v1.Descriptor{MediaType: mt, Digest: d, Size: size, ArtifactType: at},
		subject:  m.Subject.Digest,
		manifest: m,
	}, nil
}

// manifestDigests returns the digests of idx and of every manifest it
// holds, at any depth.
func manifestDigests(idx v1.ImageIndex) (map[v1.Hash]bool, error) {
	set := map[v1.Hash]bool{}
	var walk func(v1.ImageIndex) error
	walk = func(ii v1.ImageIndex) error {
		d, err := ii.Digest()
		if err != nil {
			return err
		}
		set[d] = true
		im, err := ii.IndexManifest()
		if err != nil {
			return err
		}
		for _, c := range im.Manifests {
			set[c.Digest] = true
			if c.MediaType.IsIndex() {
				child, err := ii.ImageIndex(c.Digest)
				if err != nil {
					return err
				}
				if err := walk(child); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := walk(idx); err != nil {
		return nil, fmt.Errorf("reading index: %w", err)
	}
	return set, nil
}

// LayoutReferrers returns idx, an index read from the OCI layout at dir,
// with the referrers the layout holds for it attached (WithReferrers): the
// entries of index.json that have no name and whose subject is idx or one
// of its manifests, in the order of index.json. This is how a push of what
// a build left in the layout takes the documents along.
func LayoutReferrers(dir string, idx v1.ImageIndex) (v1.ImageIndex, error) {
	own, err := manifestDigests(idx)
	if err != nil {
		return nil, err
	}
	top, err := readTopIndex(dir)
	if err != nil {
		return nil, fmt.Errorf("reading OCI layout %s: %w", dir, err)
	}
	subjects, err := layoutSubjects(dir, top, nil)
	if err != nil {
		return nil, fmt.Errorf("reading OCI layout %s: %w", dir, err)
	}
	var refs []v1.Image
	var lp layout.Path
	for _, e := range top.Manifests {
		if s, ok := subjects[e.Digest]; ok && own[s] {
			if lp == "" {
				if lp, err = layout.FromPath(dir); err != nil {
					return nil, fmt.Errorf("reading OCI layout %s: %w", dir, err)
				}
			}
			img, err := lp.Image(e.Digest)
			if err != nil {
				return nil, fmt.Errorf("reading referrer %s from OCI layout %s: %w", e.Digest, dir, err)
			}
			refs = append(refs, img)
		}
	}
	return WithReferrers(idx, refs...), nil
}

// layoutSubjects maps each unnamed image manifest entry of top that has a
// subject to that subject's digest, reading the manifests from dir
// through memo.
func layoutSubjects(dir string, top *v1.IndexManifest, memo manifestMemo) (map[v1.Hash]v1.Hash, error) {
	subjects := map[v1.Hash]v1.Hash{}
	for _, e := range top.Manifests {
		if _, named := e.Annotations[RefName]; named || !e.MediaType.IsImage() {
			continue
		}
		f, err := memo.read(dir, e)
		if errors.Is(err, fs.ErrNotExist) {
			continue // the layout is damaged; garbage collection says so
		}
		if err != nil {
			return nil, err
		}
		if f.subject != nil {
			subjects[e.Digest] = *f.subject
		}
	}
	return subjects, nil
}
