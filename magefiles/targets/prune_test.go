package targets

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minimalbuild/minimal/magefiles/internal/cache"
)

func TestPrune(t *testing.T) {
	tests := []struct {
		name      string
		maxAge    string        // $MINIMAL_CACHE_MAX_AGE
		unused    time.Duration // how long ago the "old" action was last used
		wantKept  bool          // whether the old action survives
		wantUsage bool          // whether prune refuses the setting
	}{
		{name: "the default keeps a week-old action", unused: 7 * 24 * time.Hour, wantKept: true},
		{name: "the default drops a 31-day-old action", unused: 31 * 24 * time.Hour},
		{name: "a shorter age drops a week-old action", maxAge: "48h", unused: 7 * 24 * time.Hour},
		{name: "a longer age keeps a 31-day-old action", maxAge: "1000h", unused: 31 * 24 * time.Hour, wantKept: true},
		{name: "not a duration", maxAge: "a month", wantUsage: true},
		{name: "under an hour, the cache's granularity", maxAge: "5m", wantUsage: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			t.Setenv("MINIMAL_CACHE", root)
			t.Setenv("MINIMAL_CACHE_MAX_AGE", tt.maxAge)
			c, err := cache.Open(filepath.Join(root, "actions"))
			if err != nil {
				t.Fatal(err)
			}
			old, fresh := testKey("old"), testKey("fresh")
			for _, k := range []cache.Key{old, fresh} {
				if err := c.Put(k, map[string][]byte{"out": []byte(k.String())}); err != nil {
					t.Fatal(err)
				}
			}
			ageCache(t, c.Dir(), time.Now().Add(-tt.unused))
			if _, err := c.Get(fresh); err != nil { // used just now
				t.Fatal(err)
			}

			var log bytes.Buffer
			err = prune(&log)
			var usage usageError
			if got := errors.As(err, &usage); got != tt.wantUsage {
				t.Fatalf("prune() = %v; want a usage error: %v", err, tt.wantUsage)
			}
			if tt.wantUsage {
				if !strings.Contains(err.Error(), "MINIMAL_CACHE_MAX_AGE") {
					t.Errorf("error %q does not name the setting", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.Get(fresh); err != nil {
				t.Errorf("prune dropped the action used just now: %v", err)
			}
			_, err = c.Get(old)
			if kept := err == nil; kept != tt.wantKept {
				t.Errorf("old action kept = %v (Get: %v), want %v", kept, err, tt.wantKept)
			}
			if !strings.Contains(log.String(), c.Dir()) {
				t.Errorf("prune said %q, which does not name the cache", log.String())
			}
		})
	}
}

// ageCache sets the modification time of every file under dir to when.
func ageCache(t *testing.T, dir string, when time.Time) {
	t.Helper()
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		return os.Chtimes(p, when, when)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// testKey is the key of a test action called name.
func testKey(name string) cache.Key {
	b := cache.NewKey("test")
	b.String("name", name)
	return b.Sum()
}
