package publish

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"time"

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

// requestError is a request of a push that failed: what it was for, and
// why. Its message is short and holds no URL; the URL in the errors it
// wraps has no upload session and no query but the digest.
type requestError struct {
	// what says what the request was for, as in "uploading blob
	// sha256:0123456789ab".
	what string
	// method is the request's method; with what, it names the step of an
	// operation.
	method string
	// withBlob is whether the request sent a blob.
	withBlob bool
	err      error
}

func (e *requestError) Error() string { return e.what + ": " + describe(e.err) }
func (e *requestError) Unwrap() error { return e.err }

// describe says briefly why a request failed.
func describe(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var ne net.Error
	var br *blobReadError
	switch {
	case errors.As(err, &br):
		return br.Error()
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "the connection closed before the registry answered"
	case errors.Is(err, syscall.ECONNRESET):
		return "the connection was reset"
	case errors.Is(err, syscall.EPIPE):
		return "the connection closed while the request was sent"
	case errors.As(err, &ne) && ne.Timeout():
		return "no answer in time"
	}
	return err.Error()
}

// statusError is an answer of the registry other than the one a request
// wanted.
type statusError struct {
	// te holds the status and the registry's error codes; its request's
	// URL is redacted, and it has no headers.
	te *transport.Error
	// retryAfter is the wait the registry asked for, if it did.
	retryAfter time.Duration
}

func (e *statusError) Error() string {
	msg := fmt.Sprintf("the registry answered %d %s", e.te.StatusCode, http.StatusText(e.te.StatusCode))
	if len(e.te.Errors) > 0 {
		c := *e.te
		c.Request = nil
		msg += " (" + c.Error() + ")"
	}
	return msg
}

func (e *statusError) Unwrap() error { return e.te }

// hasCode reports whether the registry's answer holds one of codes.
func hasCode(err error, codes ...transport.ErrorCode) bool {
	var te *transport.Error
	if !errors.As(err, &te) {
		return false
	}
	for _, d := range te.Errors {
		if slices.Contains(codes, d.Code) {
			return true
		}
	}
	return false
}

// exhausted is the error of an operation that was tried as often, or for
// as long, as the retry policy allows.
type exhausted struct {
	// attempts is how often the failing step was tried.
	attempts int
	// after, when not zero, is how long the operation had been tried
	// when the time it may take ran out.
	after time.Duration
	// wanted, when not zero, is the wait the registry asked for that
	// would have taken the operation past its time.
	wanted time.Duration
	err    error
}

func (e *exhausted) Error() string { return e.err.Error() }
func (e *exhausted) Unwrap() error { return e.err }

// tries says how often err, the error of an exhausted operation, was
// tried, as in "5 attempts" or "3 attempts in 58s"; or "" when err is not
// one.
func tries(err error) string {
	var ex *exhausted
	if !errors.As(err, &ex) {
		return ""
	}
	s := fmt.Sprintf("%d attempts", ex.attempts)
	if ex.attempts == 1 {
		s = "1 attempt"
	}
	switch {
	case ex.wanted > 0:
		s += fmt.Sprintf(", the registry asking to wait %v, longer than the retry time", ex.wanted.Round(time.Second))
	case ex.after > 0:
		s += " in " + ex.after.Round(100*time.Millisecond).String()
	}
	return s
}

// redactURL returns u as an error may show it: without user, query
// (except a digest) or upload session, and, for a URL not of the registry
// API, with no path at all, since such URLs (storage redirects) often
// carry tokens.
func redactURL(u *url.URL) string {
	path := u.Path
	if !strings.HasPrefix(path, "/v2/") {
		path = "/..."
	}
	const uploads = "/blobs/uploads/"
	if i := strings.Index(path, uploads); i >= 0 && len(path) > i+len(uploads) {
		path = path[:i+len(uploads)] + "<session>"
	}
	s := u.Scheme + "://" + u.Host + path
	if d := u.Query().Get("digest"); d != "" {
		s += "?digest=" + url.QueryEscape(d)
	}
	return s
}

// redactError returns err with the URL of a *url.Error redacted.
func redactError(err error) error {
	var ue *url.Error
	if !errors.As(err, &ue) {
		return err
	}
	redacted := "<url>"
	if u, perr := url.Parse(ue.URL); perr == nil {
		redacted = redactURL(u)
	}
	if ue == err {
		return &url.Error{Op: ue.Op, URL: redacted, Err: ue.Err}
	}
	return err
}

// sessionToken matches what is left of an upload session in a message
// that came through a library: the session part of an upload path, and
// the distribution registry's _state parameter.
var sessionToken = regexp.MustCompile(`(/blobs/uploads/)[^/?\s"<]+|_state=[^&\s"]*`)

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
		return sessionToken.ReplaceAllStringFunc(s, func(m string) string {
			if strings.HasPrefix(m, "_state=") {
				return "<redacted>"
			}
			return "/blobs/uploads/<session>"
		})
	}
	raw := err.Error()
	leaks := false
	for e := err; e != nil && !leaks; e = errors.Unwrap(e) {
		leaks = scrub(e.Error()) != e.Error()
	}
	if leaks {
		// A credential or an upload session got into an error, from
		// the registry's answer or a library. Keep only the redacted
		// text: the errors in the chain would show it.
		raw = scrub(raw)
		err = errors.New(raw)
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
		return p.statusHint(ctx, repo, te, err)
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
	n := tries(err)
	if n == "" {
		return ""
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return fmt.Sprintf("registry %s did not answer in time, %s: check the network connection, or try again later", host, n)
	}
	return fmt.Sprintf("the connection to registry %s kept breaking, %s: check the network connection, or try again later", host, n)
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

// statusHint explains te, an error answer of the registry, which is part
// of err.
func (p *registryPublisher) statusHint(ctx context.Context, repo name.Repository, te *transport.Error, err error) string {
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
	case te.StatusCode == http.StatusNotFound && !has(transport.BlobUploadUnknownErrorCode) && te.Request != nil && te.Request.Method != http.MethodGet && te.Request.Method != http.MethodHead:
		return fmt.Sprintf("registry %s has no place to write repository %s: it may not create repositories on push (create it first), or not take that name", host, repo.RepositoryStr())
	case tries(err) == "":
		return ""
	case te.StatusCode == http.StatusTooManyRequests || has(transport.TooManyRequestsErrorCode):
		return fmt.Sprintf("registry %s kept refusing requests as too many, %s: wait, then try again", host, tries(err))
	default:
		return fmt.Sprintf("registry %s kept failing, %s: try again later, or look at the registry's logs", host, tries(err))
	}
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
