package registrytest_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/minimalbuild/minimal/magefiles/internal/registrytest"
)

// TestStart starts two registries and checks that each answers as a
// distribution registry on its own port.
func TestStart(t *testing.T) {
	a := registrytest.Start(t)
	b := registrytest.Start(t)
	if a == b {
		t.Fatalf("two registries on the same address %s", a)
	}
	for _, host := range []string{a, b} {
		resp, err := http.Get("http://" + host + "/v2/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Docker-Distribution-Api-Version") != "registry/2.0" {
			t.Errorf("GET http://%s/v2/: %s, API version %q; want 200 and registry/2.0", host, resp.Status, resp.Header.Get("Docker-Distribution-Api-Version"))
		}
	}
}

// TestFaultProxy checks each kind of fault against the real registry.
func TestFaultProxy(t *testing.T) {
	target := registrytest.Start(t)
	blob := []byte("a blob for the fault proxy")
	sum := sha256.Sum256(blob)
	digest := "sha256:" + hex.EncodeToString(sum[:])
	onPut := func(r *http.Request) bool { return r.Method == http.MethodPut }
	// upload sends blob to repo through host as a monolithic upload and
	// returns the error or status of the PUT.
	upload := func(t *testing.T, host, repo string) (int, error) {
		t.Helper()
		resp, err := http.Post("http://"+host+"/v2/"+repo+"/blobs/uploads/", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		loc, err := resp.Location()
		if err != nil || resp.StatusCode != http.StatusAccepted {
			t.Fatalf("POST: %s, Location %v", resp.Status, err)
		}
		if loc.Host != host {
			t.Errorf("upload location %s does not lead through the proxy %s", loc.Redacted(), host)
		}
		q := loc.Query()
		q.Set("digest", digest)
		loc.RawQuery = q.Encode()
		req, err := http.NewRequest(http.MethodPut, loc.String(), bytes.NewReader(blob))
		if err != nil {
			t.Fatal(err)
		}
		resp, err = http.DefaultClient.Do(req)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	// stored reports whether the registry itself has the blob in repo.
	stored := func(t *testing.T, repo string) bool {
		t.Helper()
		resp, err := http.Head("http://" + target + "/v2/" + repo + "/blobs/" + digest)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}

	tests := []struct {
		fault      registrytest.Fault
		wantStatus int  // 0: the connection drops
		wantStored bool // whether the registry got the blob
	}{
		{registrytest.Unavailable, http.StatusServiceUnavailable, false},
		{registrytest.TooManyRequests, http.StatusTooManyRequests, false},
		{registrytest.DropBefore, 0, false},
		{registrytest.DropAfter, 0, true},
		{registrytest.Slow, http.StatusCreated, true},
	}
	for _, tt := range tests {
		t.Run(tt.fault.String(), func(t *testing.T) {
			const delay = 300 * time.Millisecond
			p := registrytest.StartFaultProxy(t, target, registrytest.FaultConfig{
				Rate: 1, Faults: []registrytest.Fault{tt.fault}, Match: onPut, SlowDelay: delay, RetryAfter: 7,
			})
			repo := "faults/" + strings.ReplaceAll(tt.fault.String(), "429", "too-many")
			start := time.Now()
			status, err := upload(t, p.Host(), repo)
			took := time.Since(start)
			switch {
			case tt.wantStatus == 0 && err == nil:
				t.Errorf("PUT answered %d, want a dropped connection", status)
			case tt.wantStatus != 0 && (err != nil || status != tt.wantStatus):
				t.Errorf("PUT: %d, %v; want %d", status, err, tt.wantStatus)
			}
			if got := stored(t, repo); got != tt.wantStored {
				t.Errorf("registry has the blob: %v, want %v", got, tt.wantStored)
			}
			if tt.fault == registrytest.Slow && took < delay {
				t.Errorf("slow answer came after %v, want at least %v", took, delay)
			}
			st := p.Stats()
			if st.Requests != 2 || st.Faults[tt.fault] != 1 || st.Failed() != 1 {
				t.Errorf("stats %+v, want 2 requests, one of them %v", st, tt.fault)
			}
		})
	}

	t.Run("Retry-After", func(t *testing.T) {
		p := registrytest.StartFaultProxy(t, target, registrytest.FaultConfig{Rate: 1, Faults: []registrytest.Fault{registrytest.TooManyRequests}, RetryAfter: 7})
		resp, err := http.Get("http://" + p.Host() + "/v2/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Get("Retry-After"); resp.StatusCode != http.StatusTooManyRequests || got != "7" {
			t.Errorf("%s, Retry-After %q; want 429 and 7", resp.Status, got)
		}
	})

	t.Run("seeded", func(t *testing.T) {
		// faults returns the faults each of a fixed sequence of requests
		// meets through a proxy with seed, 0 for none.
		faults := func(seed uint64) []registrytest.Fault {
			p := registrytest.StartFaultProxy(t, target, registrytest.FaultConfig{Rate: 0.5, Seed: seed, Faults: []registrytest.Fault{registrytest.Unavailable, registrytest.TooManyRequests}})
			var out []registrytest.Fault
			for i := range 200 {
				resp, err := http.Head(fmt.Sprintf("http://%s/v2/faults/seeded/manifests/t%d", p.Host(), i%40))
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				switch resp.StatusCode {
				case http.StatusServiceUnavailable:
					out = append(out, registrytest.Unavailable)
				case http.StatusTooManyRequests:
					out = append(out, registrytest.TooManyRequests)
				default:
					out = append(out, 0)
				}
			}
			if st := p.Stats(); st.Requests != 200 {
				t.Errorf("stats %+v, want 200 requests", st)
			}
			return out
		}
		a, b, c := faults(1), faults(1), faults(2)
		if !slices.Equal(a, b) {
			t.Errorf("the same seed failed different requests:\n%v\n%v", a, b)
		}
		if slices.Equal(a, c) {
			t.Errorf("seeds 1 and 2 failed the same requests")
		}
		if n := 200 - strings.Count(fmt.Sprint(a), "Fault(0)"); n < 70 || n > 130 {
			t.Errorf("%d of 200 requests failed at rate 0.5", n)
		}
	})
}
