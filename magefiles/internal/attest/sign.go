package attest

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Cosign's names for its signature format.
const (
	// MediaTypeSimpleSigning is the media type of a cosign signature
	// layer: its content is the signed payload.
	MediaTypeSimpleSigning = "application/vnd.dev.cosign.simplesigning.v1+json"
	// AnnotationSignature is the layer annotation holding the payload's
	// signature, base64.
	AnnotationSignature = "dev.cosignproject.cosign/signature"
	// SigningKeyEnv is the environment variable that holds the signing
	// key, or the name of a file holding it.
	SigningKeyEnv = "MINIMAL_SIGNING_KEY"
)

// SigningKeyFromEnv returns the key named by $MINIMAL_SIGNING_KEY, as
// getenv (os.Getenv) reports it: nil when the variable is unset or empty,
// which means no signing. The value is either the PEM text of the key or
// the path of a file holding it; ParseSigningKey says which keys are
// taken.
func SigningKeyFromEnv(getenv func(string) string) (*ecdsa.PrivateKey, error) {
	v := strings.TrimSpace(getenv(SigningKeyEnv))
	if v == "" {
		return nil, nil
	}
	data := []byte(v)
	if !strings.HasPrefix(v, "-----BEGIN") {
		var err error
		if data, err = os.ReadFile(v); err != nil {
			return nil, fmt.Errorf("%s: want the PEM text of the key or the path of a file holding it: %w", SigningKeyEnv, err)
		}
	}
	key, err := ParseSigningKey(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", SigningKeyEnv, err)
	}
	return key, nil
}

// ParseSigningKey parses an unencrypted PEM ECDSA P-256 private key, in
// SEC 1 form ("EC PRIVATE KEY", what `openssl ecparam -name prime256v1
// -genkey -noout` writes) or PKCS #8 form ("PRIVATE KEY"). cosign's own
// encrypted key files are not taken: their cipher is not in Go's standard
// library.
func ParseSigningKey(data []byte) (*ecdsa.PrivateKey, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM block found; want an ECDSA P-256 private key in PEM form")
	}
	var key any
	var err error
	switch block.Type {
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "ENCRYPTED SIGSTORE PRIVATE KEY", "ENCRYPTED COSIGN PRIVATE KEY", "ENCRYPTED PRIVATE KEY":
		return nil, fmt.Errorf("the key is encrypted (%s); give it unencrypted, as an EC PRIVATE KEY or PRIVATE KEY block", block.Type)
	default:
		return nil, fmt.Errorf("PEM block %q is not a private key; want EC PRIVATE KEY or PRIVATE KEY", block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("parsing %s: %w", block.Type, err)
	}
	ec, ok := key.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("the key is a %T; want ECDSA P-256", key)
	}
	if ec.Curve != elliptic.P256() {
		return nil, fmt.Errorf("the key is on curve %s; want P-256", ec.Curve.Params().Name)
	}
	return ec, nil
}

// simpleSigning is cosign's simple signing payload. Field order is the
// order of the JSON output, cosign's own.
type simpleSigning struct {
	Critical struct {
		Identity struct {
			DockerReference string `json:"docker-reference"`
		} `json:"identity"`
		Image struct {
			DockerManifestDigest string `json:"docker-manifest-digest"`
		} `json:"image"`
		Type string `json:"type"`
	} `json:"critical"`
	Optional map[string]any `json:"optional"`
}

// SigningPayload returns the payload that a cosign signature of the
// manifest with digest d in repository repo (such as
// registry.example.com/team/hello) signs: cosign's simple signing
// format, which `cosign verify` checks against the digest it looks up.
func SigningPayload(repo string, d v1.Hash) ([]byte, error) {
	var p simpleSigning
	p.Critical.Identity.DockerReference = repo
	p.Critical.Image.DockerManifestDigest = d.String()
	p.Critical.Type = "cosign container image signature"
	return json.Marshal(p)
}

// Sign signs payload with key the way cosign signs with a key pair: ECDSA
// over the SHA-256 of payload, ASN.1-encoded, in base64. The signature is
// deterministic (RFC 6979): the same key and payload give the same
// signature, so signature manifests are reproducible too.
func Sign(key *ecdsa.PrivateKey, payload []byte) (string, error) {
	sum := sha256.Sum256(payload)
	sig, err := key.Sign(nil, sum[:], crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("signing: %w", err)
	}
	return base64.StdEncoding.EncodeToString(sig), nil
}

// SignatureTag returns the tag under which cosign keeps the signatures of
// the manifest with digest d: sha256-<hex>.sig.
func SignatureTag(d v1.Hash) string {
	return d.Algorithm + "-" + d.Hex + ".sig"
}

// SignatureImage returns the cosign signature image that holds payload
// signed with sig: base, the signature image already in the registry (nil
// when there is none), with a layer for them added, or base itself, and
// false, when it already holds them. Other signatures in base are kept, as
// cosign keeps them. A new image is stamped with created.
func SignatureImage(base v1.Image, payload []byte, sig string, created time.Time) (v1.Image, bool, error) {
	if base == nil {
		base = mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	} else {
		m, err := base.Manifest()
		if err != nil {
			return nil, false, fmt.Errorf("reading signature manifest: %w", err)
		}
		d, _, err := v1.SHA256(bytes.NewReader(payload))
		if err != nil {
			return nil, false, err
		}
		for _, l := range m.Layers {
			if l.Digest == d && l.Annotations[AnnotationSignature] == sig {
				return base, false, nil
			}
		}
	}
	img, err := mutate.Append(base, mutate.Addendum{
		Layer:       static.NewLayer(payload, MediaTypeSimpleSigning),
		Annotations: map[string]string{AnnotationSignature: sig},
		MediaType:   MediaTypeSimpleSigning,
		History:     v1.History{Created: v1.Time{Time: created.UTC()}},
	})
	if err != nil {
		return nil, false, fmt.Errorf("adding signature: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, false, err
	}
	cf = cf.DeepCopy()
	cf.Created = v1.Time{Time: created.UTC()}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		return nil, false, err
	}
	return img, true, nil
}
