package smoke

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

func TestStartWaitsForABusyExecutable(t *testing.T) {
	src, err := os.ReadFile("/bin/true")
	if err != nil {
		t.Skipf("no /bin/true to copy: %v", err)
	}
	tests := []struct {
		name    string
		why     string
		release time.Duration // when the writer closes the file; 0: never
		wantErr error
	}{
		{"released", "a file a forking goroutine's child still held open for writing runs once it lets go", 30 * time.Millisecond, nil},
		{"never released", "a file that stays open for writing is still refused, after a bounded wait", 0, syscall.ETXTBSY},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			exe := filepath.Join(t.TempDir(), "prog")
			if err := os.WriteFile(exe, src, 0o755); err != nil {
				t.Fatal(err)
			}
			w, err := os.OpenFile(exe, os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			if tt.release > 0 {
				time.AfterFunc(tt.release, func() { w.Close() })
			}
			err = Starts(t.Context(), Cmd{Args: []string{exe}}, 100*time.Millisecond)
			if !errors.Is(err, tt.wantErr) && (tt.wantErr != nil || err != nil) {
				t.Errorf("Starts: %v, want %v (%s)", err, tt.wantErr, tt.why)
			}
		})
	}
}
