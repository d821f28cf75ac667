package publish

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"syscall"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/minimalbuild/minimal/magefiles/internal/plainhttp"
)

// registryError is a failed push: a message that says what happened and
// what to do, with the error it explains kept in the chain.
type registryError struct {
	msg string
	err error
}

func (e *registryError) Error() string { return e.msg }
func (e *registryError) Unwrap() error { return e.err }

// explain turns the error of a push of app to repo into one that says what
// to do, and removes from it any credential the keychain holds for repo.
func (p *registryPublisher) explain(ctx context.Context, app string, repo name.Repository, err error) error {
	msg := "pushing " + app + " to " + p.repo + "/" + app + ": "
	if ctx.Err() == nil {
		if h := p.hint(ctx, repo, err); h != "" {
			msg += h + ": "
		}
	}
	secrets := p.secrets(ctx, repo)
	scrub := func(s string) string {
		for _, secret := range secrets {
			s = strings.ReplaceAll(s, secret, "<redacted>")
		}
		return s
	}
	raw := err.Error()
	if r := scrub(raw); r != raw {
		// The registry put a credential in its answer. Keep only the
		// redacted text: the errors in the chain would show it.
		raw, err = r, errors.New(r)
	}
	return &registryError{msg: scrub(msg) + raw, err: err}
}

// hint says in words what err means and what to do about it, or returns
// "" when it has nothing to add.
func (p *registryPublisher) hint(ctx context.Context, repo name.Repository, err error) string {
	host := p.host
	if h, ok := tlsHint(host, err); ok {
		return h
	}
	if strings.Contains(err.Error(), "server gave HTTP response to HTTPS client") && !p.plainHTTP {
		if plainhttp.Loopback(host) {
			return fmt.Sprintf("registry %s speaks plain HTTP, not HTTPS, and plain HTTP was turned off: allow it for this loopback registry, or serve the registry over HTTPS", host)
		}
		return fmt.Sprintf("registry %s speaks plain HTTP, not HTTPS; plain HTTP is allowed only for loopback registries (127.0.0.1, ::1, localhost) unless insecure registries are allowed explicitly: serve the registry over HTTPS, or allow plain HTTP if it is a test registry on a trusted network", host)
	}
	var te *transport.Error
	if errors.As(err, &te) {
		return p.statusHint(ctx, repo, te)
	}
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Sprintf("cannot connect to registry %s: nothing accepts connections there; check that the registry is running and that the host and port of the repository are right", host)
	case errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.EHOSTUNREACH):
		return fmt.Sprintf("cannot reach registry %s: no network route to it; check the network connection and the host of the repository", host)
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return fmt.Sprintf("cannot look up registry host %s: check the host of the repository and the DNS settings", plainhttp.Hostname(host))
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return fmt.Sprintf("registry %s did not answer in time, %d attempts: check the network connection, or try again later", host, p.opts.attempts)
	}
	if retryable(err) {
		return fmt.Sprintf("the connection to registry %s kept breaking, %d attempts: check the network connection, or try again later", host, p.opts.attempts)
	}
	return ""
}

// tlsHint explains a TLS failure.
func tlsHint(host string, err error) (string, bool) {
	var unknown x509.UnknownAuthorityError
	var wrongHost x509.HostnameError
	var invalid x509.CertificateInvalidError
	var verify *tls.CertificateVerificationError
	var record tls.RecordHeaderError
	trust := "add the certificate of the authority that signed it to this machine's trusted certificates (or point SSL_CERT_FILE at it); for a test registry, serve plain HTTP on 127.0.0.1 instead"
	switch {
	case errors.As(err, &unknown):
		return fmt.Sprintf("the TLS certificate of registry %s is not signed by an authority this machine trusts: %s", host, trust), true
	case errors.As(err, &wrongHost):
		return fmt.Sprintf("the TLS certificate of registry %s is not valid for that name: use the host name the certificate was issued for in the repository", host), true
	case errors.As(err, &invalid):
		return fmt.Sprintf("the TLS certificate of registry %s is not valid (expired, not yet valid, or not for TLS servers): renew it, or check this machine's clock", host), true
	case errors.As(err, &verify):
		return fmt.Sprintf("the TLS certificate of registry %s could not be verified: %s", host, trust), true
	case errors.As(err, &record):
		return fmt.Sprintf("registry %s does not speak TLS on that port: check the port of the repository", host), true
	}
	return "", false
}

// statusHint explains an error answer of the registry.
func (p *registryPublisher) statusHint(ctx context.Context, repo name.Repository, te *transport.Error) string {
	host := p.host
	has := func(code transport.ErrorCode) bool {
		for _, d := range te.Errors {
			if d.Code == code {
				return true
			}
		}
		return false
	}
	switch {
	case te.StatusCode == http.StatusUnauthorized || has(transport.UnauthorizedErrorCode):
		found, lookup := p.credentials(ctx, repo)
		switch {
		case lookup != nil:
			return fmt.Sprintf("registry %s requires credentials, and looking them up failed (%v): check the credential helper named for it in the docker config", host, lookup)
		case found:
			return fmt.Sprintf("registry %s refused the credentials found for it (docker config or credential helper): they may be wrong or expired; log in again with `docker login %s`", host, host)
		default:
			return fmt.Sprintf("registry %s requires credentials, and none were found for it in the docker config or a credential helper: log in with `docker login %s`, or set DOCKER_CONFIG to a directory whose config.json has them", host, host)
		}
	case te.StatusCode == http.StatusForbidden || has(transport.DeniedErrorCode):
		found, _ := p.credentials(ctx, repo)
		if found {
			return fmt.Sprintf("registry %s denied pushing to %s with the credentials found for it: check that the account may push to that repository", host, repo.RepositoryStr())
		}
		return fmt.Sprintf("registry %s denied pushing to %s without credentials, and none were found for it: log in with `docker login %s`", host, repo.RepositoryStr(), host)
	case has(transport.NameInvalidErrorCode):
		return fmt.Sprintf("registry %s rejected the repository name %s: use a repository it accepts (lowercase letters, digits and separators, within its limits on length and depth)", host, repo.RepositoryStr())
	case has(transport.NameUnknownErrorCode):
		return fmt.Sprintf("repository %s does not exist on registry %s, which does not create repositories on push: create it first", repo.RepositoryStr(), host)
	case te.StatusCode == http.StatusNotFound && te.Request != nil && te.Request.Method != http.MethodGet && te.Request.Method != http.MethodHead:
		return fmt.Sprintf("registry %s has no place to write repository %s: it may not create repositories on push (create it first), or not take that name", host, repo.RepositoryStr())
	case te.StatusCode == http.StatusTooManyRequests || has(transport.TooManyRequestsErrorCode):
		return fmt.Sprintf("registry %s kept refusing requests as too many, %d attempts: wait, then try again", host, p.opts.attempts)
	case te.StatusCode >= 500 || retryable(te):
		return fmt.Sprintf("registry %s kept failing, %d attempts: try again later, or look at the registry's logs", host, p.opts.attempts)
	}
	return ""
}

// credentials reports whether the keychain holds credentials for repo,
// without saying what they are.
func (p *registryPublisher) credentials(ctx context.Context, repo name.Repository) (bool, error) {
	cfg, err := p.authConfig(ctx, repo)
	if err != nil {
		return false, err
	}
	return cfg != nil && *cfg != (authn.AuthConfig{}), nil
}

func (p *registryPublisher) authConfig(ctx context.Context, repo name.Repository) (*authn.AuthConfig, error) {
	auth, err := authn.Resolve(ctx, p.opts.keychain, repo)
	if err != nil {
		return nil, err
	}
	if auth == authn.Anonymous {
		return nil, nil
	}
	return authn.Authorization(ctx, auth)
}

// secrets returns the secret parts of the credentials the keychain holds
// for repo, in every form they may take in a request.
func (p *registryPublisher) secrets(ctx context.Context, repo name.Repository) []string {
	cfg, err := p.authConfig(ctx, repo)
	if err != nil || cfg == nil {
		return nil
	}
	var out []string
	for _, s := range []string{cfg.Password, cfg.Auth, cfg.IdentityToken, cfg.RegistryToken} {
		if s != "" {
			out = append(out, s)
		}
	}
	if cfg.Password != "" {
		out = append(out, base64.StdEncoding.EncodeToString([]byte(cfg.Username+":"+cfg.Password)))
	}
	return out
}
