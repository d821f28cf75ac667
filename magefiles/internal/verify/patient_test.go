package verify

import (
	"strings"
	"testing"
	"time"

	"github.com/minimalbuild/minimal/magefiles/manifest"
)

func TestPatientlyWaitsForSlowStarters(t *testing.T) {
	if testing.Short() {
		t.Skip("builds Go programs; skipped with -short")
	}
	// slow installs its SIGTERM handler 300 ms after it starts, as a packed program on a
	// loaded machine might; deaf never does.
	slow := buildGo(t, "package main\n\nimport (\n\t\"fmt\"\n\t\"os\"\n\t\"os/signal\"\n\t\"syscall\"\n\t\"time\"\n)\n\nfunc main() {\n\ttime.Sleep(300 * time.Millisecond)\n\tc := make(chan os.Signal, 1)\n\tsignal.Notify(c, syscall.SIGTERM)\n\t<-c\n\tfmt.Println(\"stopped\")\n}\n")
	deaf := buildGo(t, "package main\n\nimport \"time\"\n\nfunc main() { time.Sleep(time.Hour) }\n")
	out := "stopped\n"
	tests := []struct {
		name    string
		why     string
		bin     string
		test    manifest.Test
		wantErr string
	}{
		{"slow starter", "a program that handles the signal once started passes when a longer wait lets it start", slow, manifest.Test{Stdout: &out, Signal: "TERM", After: 100 * time.Millisecond}, ""},
		{"never handles it", "a program that never handles the signal still fails after every try", deaf, manifest.Test{Stdout: &out, Signal: "TERM", After: 50 * time.Millisecond}, "stdout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tries := 0
			err := patiently(t.Context(), &tt.test, func(test *manifest.Test) error {
				tries++
				return Smoke(t.Context(), test, tt.bin, nil, t.TempDir(), "")
			})
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("%v after %d tries (%s)", err, tries, tt.why)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("error %v, want one about %s (%s)", err, tt.wantErr, tt.why)
			case tt.wantErr != "" && tries != signalTries:
				t.Errorf("tried %d times, want %d", tries, signalTries)
			}
		})
	}
}
