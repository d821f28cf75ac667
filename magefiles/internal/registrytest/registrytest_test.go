package registrytest_test

import (
	"net/http"
	"testing"

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
