package pipeline

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

func sampleReport() *Report {
	return &Report{Apps: []AppReport{
		{Name: "hello", Index: "sha256:aa", Platforms: []PlatformReport{
			{Platform: "linux/amd64", Manifest: "sha256:bb", Steps: []Step{{Pass: "compile+strip", Bytes: 1200290}}, Binary: 1200290, Content: 1202688, Pull: 562162},
			{Platform: "linux/386", Manifest: "sha256:cc", Steps: []Step{{Pass: "compile+strip", Bytes: 1101986}}, Binary: 1101986, Content: 1104384, Pull: 526759},
		}},
		{Name: "teensy-example", Index: "sha256:dd", Platforms: []PlatformReport{
			{Platform: "linux/386", Manifest: "sha256:ee", Steps: []Step{{Pass: "compile", Bytes: 72}}, Binary: 72, Content: 2048, Pull: 431},
		}},
	}}
}

// TestReportGolden checks the table and the JSON against testdata/report.{txt,json};
// go test -update rewrites them.
func TestReportGolden(t *testing.T) {
	r := sampleReport()
	var table, js bytes.Buffer
	if err := r.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	if err := r.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	for name, got := range map[string][]byte{"report.txt": table.Bytes(), "report.json": js.Bytes()} {
		path := filepath.Join("testdata", name)
		if *update {
			if err := os.WriteFile(path, got, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(string(want), string(got)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", name, diff)
		}
	}
	var back Report
	if err := json.Unmarshal(js.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(r, &back); diff != "" {
		t.Errorf("JSON round trip (-want +got):\n%s", diff)
	}
}

func TestFormatBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 72: "72 B", 999: "999 B", 1000: "1,000 B", 1200290: "1,200,290 B"} {
		if got := formatBytes(n); got != want {
			t.Errorf("formatBytes(%d) = %q, want %q", n, got, want)
		}
	}
}
