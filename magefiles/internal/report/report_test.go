package report

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"flag"
	"image/png"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/minimalbuild/minimal/magefiles/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

func sampleReport() *Report {
	return &Report{Apps: []App{
		{Name: "hello", Index: "sha256:aa", Platforms: []Platform{
			{Platform: "linux/amd64", Manifest: "sha256:bb", Steps: []Step{{Pass: "compile+strip", Bytes: 1200290}, {Pass: "sstrip", Bytes: 1192386}, {Pass: "pack", Bytes: 431166, StartupAddedMs: 10.7}}, Binary: 431166, Content: 431166, Pull: 431900,
				Budget: &Budget{Content: 1 << 20, Pull: 450000, Near: []string{"pull"}}},
			{Platform: "linux/386", Manifest: "sha256:cc", Steps: []Step{{Pass: "compile+strip", Bytes: 1101986}, {Pass: "sstrip", Bytes: 1096610}, {Pass: "pack", Bytes: 1096610, Skipped: "smoke test after pack: exit 1, want 0"}}, Binary: 1096610, Content: 1096610, Pull: 526606},
		}},
		{Name: "teensy-example", Index: "sha256:dd", Platforms: []Platform{
			{Platform: "linux/386", Manifest: "sha256:ee", Steps: []Step{{Pass: "compile", Bytes: 72}}, Binary: 72, Content: 2048, Pull: 431,
				Budget: &Budget{Content: 2048, Near: []string{"content"}}},
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

// TestSVGGolden checks the chart against testdata/report.svg (go test -update rewrites it)
// and that it is well-formed XML with a bar per step.
func TestSVGGolden(t *testing.T) {
	r := sampleReport()
	var svg bytes.Buffer
	if err := r.WriteSVG(&svg, Classic); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "report.svg")
	if *update {
		if err := os.WriteFile(path, svg.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), svg.String()); diff != "" {
		t.Errorf("report.svg (-want +got):\n%s", diff)
	}
	dec := xml.NewDecoder(bytes.NewReader(svg.Bytes()))
	rects := 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("report.svg is not well-formed: %v", err)
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "rect" {
			rects++
		}
	}
	// The background, one legend swatch per pass, and one bar per step kept.
	steps := 0
	for _, a := range r.Apps {
		for _, p := range a.Platforms {
			for _, s := range p.Steps {
				if s.Skipped == "" {
					steps++
				}
			}
		}
	}
	if want := 1 + len(r.passes()) + steps; rects != want {
		t.Errorf("report.svg has %d rects, want %d", rects, want)
	}
}

// TestSVGRenders rasterizes the chart with librsvg's rsvg-convert, as a person's viewer
// would, and checks that a PNG of the chart's size comes out. MINIMAL_CHART_PNG=DIR keeps
// the PNG there to look at.
func TestSVGRenders(t *testing.T) {
	testenv.Tool(t, "rsvg-convert", "librsvg2-bin")
	var svg bytes.Buffer
	if err := sampleReport().WriteSVG(&svg, Classic); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("rsvg-convert", "--format=png")
	cmd.Stdin = &svg
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("rsvg-convert: %v\n%s", err, stderr.String())
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(out))
	if err != nil {
		t.Fatalf("rsvg-convert's output is not a PNG: %v", err)
	}
	if cfg.Width != chartWidth {
		t.Errorf("PNG is %d px wide, want %d", cfg.Width, chartWidth)
	}
	if dir := os.Getenv("MINIMAL_CHART_PNG"); dir != "" {
		if err := os.WriteFile(filepath.Join(dir, "report.png"), out, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
