package publish

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/minimalbuild/minimal/magefiles/internal/attest"
)

// WithSigningKey makes the registry publisher sign what it pushes with
// key, an ECDSA P-256 private key (attest.SigningKeyFromEnv reads one from
// $MINIMAL_SIGNING_KEY): the index and each platform image get a cosign
// signature under the tag sha256-<hex>.sig, which `cosign verify --key
// pub.pem` accepts without a transparency log
// (--insecure-ignore-tlog=true). Signatures are deterministic, so pushing
// the same images again adds nothing. created is the time stamped on new
// signature manifests (oci.Created). The default is not to sign.
func WithSigningKey(key *ecdsa.PrivateKey, created time.Time) RegistryOption {
	return func(o *registryOptions) error {
		if key == nil {
			return errors.New("nil signing key")
		}
		o.signingKey, o.signingTime = key, created
		return nil
	}
}

// pushAttached pushes what goes with idx, which is already in repo by
// digest: its referrers (WithReferrers), then, with a signing key, the
// signatures of idx and its images. It runs before the tags move, so a
// tag never names an image whose documents or signatures are missing.
//
// go-containerregistry writes each referrer through the registry's
// referrers API when it has one, and otherwise adds it to the index under
// the fallback tag sha256-<hex of the subject>. A referrer already in the
// registry is checked to be listed for its subject, and written again if
// it is not (a push that stopped between the two writes).
func (p *registryPublisher) pushAttached(ctx context.Context, repo name.Repository, idx v1.ImageIndex) error {
	refs, err := referrersOf(idx)
	if err != nil {
		return err
	}
	if len(refs) == 0 && p.opts.signingKey == nil {
		return nil
	}
	opts := append(p.remoteOpts[:len(p.remoteOpts):len(p.remoteOpts)], remote.WithContext(ctx))
	pusher, err := remote.NewPusher(opts...)
	if err != nil {
		return err
	}
	// One at a time: the fallback tag of a subject and a .sig tag are each
	// read, changed and written back.
	var subjects []v1.Hash
	bySubject := map[v1.Hash][]referrer{}
	for _, r := range refs {
		if err := pusher.Push(ctx, repo.Digest(r.desc.Digest.String()), r.img); err != nil {
			return fmt.Errorf("pushing referrer %s (%s): %w", r.desc.Digest, r.desc.ArtifactType, err)
		}
		if _, ok := bySubject[r.subject]; !ok {
			subjects = append(subjects, r.subject)
		}
		bySubject[r.subject] = append(bySubject[r.subject], r)
	}
	for _, s := range subjects {
		listed, err := remote.Referrers(repo.Digest(s.String()), opts...)
		if err != nil {
			return fmt.Errorf("listing the referrers of %s: %w", s, err)
		}
		im, err := listed.IndexManifest()
		if err != nil {
			return fmt.Errorf("listing the referrers of %s: %w", s, err)
		}
		have := map[v1.Hash]bool{}
		for _, d := range im.Manifests {
			have[d.Digest] = true
		}
		for _, r := range bySubject[s] {
			if have[r.desc.Digest] {
				continue
			}
			if err := pusher.Put(ctx, repo.Digest(r.desc.Digest.String()), r.img); err != nil {
				return fmt.Errorf("pushing referrer %s (%s): %w", r.desc.Digest, r.desc.ArtifactType, err)
			}
		}
	}
	if p.opts.signingKey == nil {
		return nil
	}
	targets, err := signedDigests(idx)
	if err != nil {
		return err
	}
	for _, d := range targets {
		if err := p.sign(ctx, pusher, repo, d, opts); err != nil {
			return fmt.Errorf("signing %s: %w", d, err)
		}
	}
	return nil
}

// signedDigests returns the manifests a push signs: the index, then each
// of its images, in the order of the index.
func signedDigests(idx v1.ImageIndex) ([]v1.Hash, error) {
	d, err := idx.Digest()
	if err != nil {
		return nil, err
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	out := []v1.Hash{d}
	for _, m := range im.Manifests {
		if m.MediaType.IsImage() {
			out = append(out, m.Digest)
		}
	}
	return out, nil
}

// sign adds a cosign signature of the manifest d to the signature image
// under its .sig tag, keeping the signatures already there.
func (p *registryPublisher) sign(ctx context.Context, pusher *remote.Pusher, repo name.Repository, d v1.Hash, opts []remote.Option) error {
	payload, err := attest.SigningPayload(repo.Name(), d)
	if err != nil {
		return err
	}
	sig, err := attest.Sign(p.opts.signingKey, payload)
	if err != nil {
		return err
	}
	tag := repo.Tag(attest.SignatureTag(d))
	base, err := remote.Image(tag, opts...)
	var te *transport.Error
	switch {
	case errors.As(err, &te) && te.StatusCode == http.StatusNotFound:
		base = nil
	case err != nil:
		return fmt.Errorf("reading %s: %w", tag.TagStr(), err)
	}
	img, changed, err := attest.SignatureImage(base, payload, sig, p.opts.signingTime)
	if err != nil || !changed {
		return err
	}
	if err := pusher.Push(ctx, tag, img); err != nil {
		return fmt.Errorf("writing %s: %w", tag.TagStr(), err)
	}
	return nil
}
