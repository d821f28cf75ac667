package registrytest

import (
	"fmt"
	"hash/fnv"
	"io"
	"log"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"
)

// Fault is a way the fault proxy fails a request.
type Fault int

const (
	// Unavailable answers 503 Service Unavailable, with a registry error
	// body, without passing the request on.
	Unavailable Fault = iota + 1
	// TooManyRequests answers 429 Too Many Requests with a Retry-After
	// header, without passing the request on.
	TooManyRequests
	// DropBefore closes the client's connection without passing the
	// request on: the registry never sees it.
	DropBefore
	// DropAfter passes the request on and reads the registry's whole
	// answer, then closes the client's connection instead of answering:
	// the registry acted, and the client cannot know.
	DropAfter
	// Slow passes the request on and holds the answer back for a while.
	Slow
)

// AllFaults lists every kind of fault.
var AllFaults = []Fault{Unavailable, TooManyRequests, DropBefore, DropAfter, Slow}

// String returns the fault's short name, as in test names.
func (f Fault) String() string {
	switch f {
	case Unavailable:
		return "503"
	case TooManyRequests:
		return "429"
	case DropBefore:
		return "drop-before"
	case DropAfter:
		return "drop-after"
	case Slow:
		return "slow"
	}
	return "Fault(" + strconv.Itoa(int(f)) + ")"
}

// FaultConfig says which requests a fault proxy fails, and how.
type FaultConfig struct {
	// Rate is the share of requests that fail, from 0 to 1.
	Rate float64
	// Faults are the kinds of fault to pick from, each as likely as the
	// others. Nil means AllFaults.
	Faults []Fault
	// Seed picks which requests fail and how. The choice for a request
	// depends only on the seed, the request's method, its path (with any
	// upload session told apart from no other), its digest parameter,
	// and how many requests of that kind came before it, so a run that
	// sends the same requests meets the same faults whatever the order
	// its concurrent requests arrive in.
	Seed uint64
	// SlowDelay is how long a Slow answer is held back. Zero means 50ms.
	SlowDelay time.Duration
	// RetryAfter is the Retry-After of a 429 answer, in whole seconds.
	// Zero means 1.
	RetryAfter int
	// Match, when not nil, limits faults to the requests for which it
	// returns true.
	Match func(*http.Request) bool
}

// FaultProxy is an HTTP proxy in front of a registry that fails a share
// of the requests it gets, in the ways FaultConfig says, and passes the
// others on unchanged. The registry sees the proxy's host in the Host
// header, so the URLs it hands out (upload locations) lead back through
// the proxy.
type FaultProxy struct {
	host   string
	target string
	tr     *http.Transport

	mu       sync.Mutex
	cfg      FaultConfig
	seen     map[string]int
	requests int
	injected map[Fault]int
}

// StartFaultProxy starts a fault proxy on a free 127.0.0.1 port in front
// of the plain HTTP registry at target (host:port), such as the one Start
// returns. It is stopped when the test ends.
func StartFaultProxy(t testing.TB, target string, cfg FaultConfig) *FaultProxy {
	t.Helper()
	if cfg.Rate < 0 || cfg.Rate > 1 {
		t.Fatalf("fault rate %v is not between 0 and 1", cfg.Rate)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &FaultProxy{
		host:     l.Addr().String(),
		target:   target,
		tr:       &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true},
		cfg:      cfg,
		seen:     map[string]int{},
		injected: map[Fault]int{},
	}
	srv := &http.Server{Handler: p, ErrorLog: log.New(io.Discard, "", 0)}
	go srv.Serve(l)
	t.Cleanup(func() {
		srv.Close()
		p.tr.CloseIdleConnections()
	})
	return p
}

// Host returns the proxy's host:port, where clients reach the registry
// through it.
func (p *FaultProxy) Host() string { return p.host }

// SetRate changes the share of requests that fail; 0 stops faults.
func (p *FaultProxy) SetRate(rate float64) {
	p.mu.Lock()
	p.cfg.Rate = rate
	p.mu.Unlock()
}

// Stats is what a fault proxy has done.
type Stats struct {
	// Requests is how many requests it got.
	Requests int
	// Faults is how many of them failed, by kind of fault.
	Faults map[Fault]int
}

// Failed returns how many requests failed in all.
func (s Stats) Failed() int {
	n := 0
	for _, c := range s.Faults {
		n += c
	}
	return n
}

// Stats returns what the proxy has done so far.
func (p *FaultProxy) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return Stats{Requests: p.requests, Faults: maps.Clone(p.injected)}
}

// uploadSession matches the upload session part of a blob upload path.
var uploadSession = regexp.MustCompile(`/blobs/uploads/[^/]+$`)

// decide returns the fault for r, or 0 to pass it on, and the
// configuration it decided by.
func (p *FaultProxy) decide(r *http.Request) (Fault, FaultConfig) {
	key := r.Method + " " + uploadSession.ReplaceAllString(r.URL.Path, "/blobs/uploads/*") + " " + r.URL.Query().Get("digest")
	p.mu.Lock()
	defer p.mu.Unlock()
	p.requests++
	n := p.seen[key]
	p.seen[key]++
	cfg := p.cfg
	if cfg.Rate == 0 || (cfg.Match != nil && !cfg.Match(r)) {
		return 0, cfg
	}
	h := fnv.New64a()
	fmt.Fprintf(h, "%s\x00%d", key, n)
	rng := rand.New(rand.NewPCG(cfg.Seed, h.Sum64()))
	if rng.Float64() >= cfg.Rate {
		return 0, cfg
	}
	kinds := cfg.Faults
	if len(kinds) == 0 {
		kinds = AllFaults
	}
	f := kinds[rng.IntN(len(kinds))]
	p.injected[f]++
	return f, cfg
}

// ServeHTTP fails r, or passes it on to the registry, as the proxy's
// configuration says.
func (p *FaultProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f, cfg := p.decide(r)
	switch f {
	case Unavailable:
		registryError(w, http.StatusServiceUnavailable, "UNAVAILABLE", "service unavailable")
		return
	case TooManyRequests:
		after := cfg.RetryAfter
		if after <= 0 {
			after = 1
		}
		w.Header().Set("Retry-After", strconv.Itoa(after))
		registryError(w, http.StatusTooManyRequests, "TOOMANYREQUESTS", "too many requests")
		return
	case DropBefore:
		hangUp(w)
		return
	}
	resp, err := p.forward(r)
	if err != nil {
		registryError(w, http.StatusBadGateway, "UNKNOWN", "proxy: "+err.Error())
		return
	}
	defer resp.Body.Close()
	switch f {
	case DropAfter:
		io.Copy(io.Discard, resp.Body)
		hangUp(w)
		return
	case Slow:
		delay := cfg.SlowDelay
		if delay <= 0 {
			delay = 50 * time.Millisecond
		}
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
	}
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	io.Copy(w, resp.Body)
}

// forward sends r on to the registry, keeping its Host header.
func (p *FaultProxy) forward(r *http.Request) (*http.Response, error) {
	out := r.Clone(r.Context())
	out.RequestURI = ""
	out.URL.Scheme = "http"
	out.URL.Host = p.target
	for _, h := range []string{"Connection", "Keep-Alive", "Proxy-Connection", "Te", "Trailer", "Transfer-Encoding", "Upgrade"} {
		out.Header.Del(h)
	}
	if r.ContentLength == 0 {
		out.Body = nil
	}
	return p.tr.RoundTrip(out)
}

// hangUp closes the client's connection without an answer.
func hangUp(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(fmt.Sprintf("fault proxy: hijacking the connection: %v", err))
	}
	conn.Close()
}

// registryError answers with status and a body in the distribution
// registry's error format.
func registryError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"errors":[{"code":%q,"message":%q}]}`+"\n", code, message)
}
