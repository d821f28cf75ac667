package report

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/minimalbuild/minimal/magefiles/internal/passname"
)

// Report is the size report of a build, written to report.json and printed as a table.
type Report struct {
	Apps []App `json:"apps"`
}

// App is one app's multi-arch index and its per-platform images.
type App struct {
	Name      string     `json:"name"`
	Index     string     `json:"index"` // the index digest
	Platforms []Platform `json:"platforms"`
}

// Platform is the sizes of one app on one platform.
type Platform struct {
	Platform string `json:"platform"`
	Manifest string `json:"manifest"` // the image manifest digest
	// Steps are the binary's size after compiling and after each shrink pass, in order.
	Steps []Step `json:"steps"`
	// Binary is the size of the executable that goes into the image.
	Binary int64 `json:"binary"`
	// Content is the image's uncompressed layer bytes: what `docker images` shows.
	Content int64 `json:"content"`
	// Pull is what a pull transfers: manifest, config and compressed layers.
	Pull int64 `json:"pull"`
}

// Step is a binary's size after one step of the build.
type Step struct {
	Pass  string `json:"pass"`
	Bytes int64  `json:"bytes"`
	// Skipped says why the pass's output was not kept; Bytes is then the size before it.
	Skipped string `json:"skipped,omitempty"`
	// StartupAddedMs is how much longer the smoke test took after this pass than before
	// it, in milliseconds (medians of a few runs), for passes that add start-up work.
	StartupAddedMs float64 `json:"startup_added_ms,omitempty"`
}

// WriteTable prints r as an aligned table, one row per app and platform: names on the
// left, sizes on the right.
func (r *Report) WriteTable(w io.Writer) error {
	rows := [][]string{{"APP", "PLATFORM", "BINARY", "IMAGE", "PULL"}}
	for _, a := range r.Apps {
		for _, p := range a.Platforms {
			rows = append(rows, []string{a.Name, p.Platform, formatBytes(p.Binary), formatBytes(p.Content), formatBytes(p.Pull)})
		}
	}
	width := make([]int, len(rows[0]))
	for _, row := range rows {
		for i, cell := range row {
			width[i] = max(width[i], len(cell))
		}
	}
	var b strings.Builder
	for _, row := range rows {
		for i, cell := range row {
			if i < 2 {
				fmt.Fprintf(&b, "%-*s  ", width[i], cell)
			} else {
				fmt.Fprintf(&b, "%*s  ", width[i], cell)
			}
		}
		b.WriteString("\n")
	}
	for _, a := range r.Apps {
		for _, p := range a.Platforms {
			for i, st := range p.Steps {
				if st.Pass != passname.Pack || st.Skipped != "" || i == 0 {
					continue
				}
				unpacked := p.Steps[i-1].Bytes
				fmt.Fprintf(&b, "packed: %s %s %s -> %s", a.Name, p.Platform, formatBytes(unpacked), formatBytes(st.Bytes))
				if st.StartupAddedMs != 0 {
					fmt.Fprintf(&b, ", start-up %+.1f ms", st.StartupAddedMs)
				}
				fmt.Fprintf(&b, "; each process holds the unpacked %s in private memory (packed pages are not shared)\n", formatBytes(unpacked))
			}
		}
	}
	_, err := io.WriteString(w, strings.ReplaceAll(b.String(), "  \n", "\n"))
	return err
}

// WriteJSON writes r as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// formatBytes renders n with thousands separators and a unit: "1,200,290 B".
func formatBytes(n int64) string {
	s := strconv.FormatInt(n, 10)
	var out []byte
	for i, c := range []byte(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, c)
	}
	return string(out) + " B"
}
