package report

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/minimalbuild/minimal/magefiles/internal/passname"
	"github.com/minimalbuild/minimal/magefiles/internal/verify"
	"github.com/minimalbuild/minimal/magefiles/manifest"
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
	// Budget is the app's budget on this platform; nil when it has none.
	Budget *Budget `json:"budget,omitempty"`
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
// left, sizes on the right. When an app has a budget, a last column gives it and how much
// of it the image uses, and marks with "!" the sizes at NearBudget of it or more.
func (r *Report) WriteTable(w io.Writer) error {
	rows := [][]string{{"APP", "PLATFORM", "BINARY", "IMAGE", "PULL"}}
	budgets, marked := false, false
	for _, a := range r.Apps {
		for _, p := range a.Platforms {
			row := []string{a.Name, p.Platform, formatBytes(p.Binary), formatBytes(p.Content), formatBytes(p.Pull)}
			if p.Budget != nil {
				budgets = true
				cell, mark := p.budgetCell()
				marked = marked || mark
				row = append(row, cell)
			}
			rows = append(rows, row)
		}
	}
	if budgets {
		rows[0] = append(rows[0], "BUDGET")
	}
	width := make([]int, len(rows[0]))
	for _, row := range rows {
		for i, cell := range row {
			width[i] = max(width[i], len(cell))
		}
	}
	var b strings.Builder
	for _, row := range rows {
		var line strings.Builder
		for i, cell := range row {
			if i < 2 || i == 5 {
				fmt.Fprintf(&line, "%-*s  ", width[i], cell)
			} else {
				fmt.Fprintf(&line, "%*s  ", width[i], cell)
			}
		}
		b.WriteString(strings.TrimRight(line.String(), " ") + "\n")
	}
	if marked {
		fmt.Fprintf(&b, "!: a size at %.0f%% of its budget or more\n", 100*NearBudget)
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
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteJSON writes r as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// budgetCell describes p's budget and how much of it p uses: "content 2,048 B (93%) !,
// pull 4,096 B (51%)", and says whether a size is marked.
func (p *Platform) budgetCell() (string, bool) {
	var parts []string
	marked := false
	for _, c := range []struct {
		what        string
		size, limit int64
	}{{"content", p.Content, p.Budget.Content}, {"pull", p.Pull, p.Budget.Pull}} {
		if c.limit == 0 {
			continue
		}
		part := fmt.Sprintf("%s %s (%d%%)", c.what, formatBytes(c.limit), 100*c.size/c.limit)
		if slices.Contains(p.Budget.Near, c.what) {
			part += " !"
			marked = true
		}
		parts = append(parts, part)
	}
	return strings.Join(parts, ", "), marked
}

// formatBytes renders n with thousands separators and a unit: "1,200,290 B".
func formatBytes(n int64) string { return manifest.FormatBytes(n) }

// ShrinkSteps are the sizes of a binary of n bytes after its compile (compile+strip
// when passes hold strip, which the toolchain applies) and after each post-link pass
// as verify.Shrink ran it, with the start-up time a timed pass added.
func ShrinkSteps(passes []string, n int64, steps []verify.Step) []Step {
	first := Step{Pass: "compile", Bytes: n}
	if slices.Contains(passes, passname.Strip) {
		first.Pass = "compile+strip"
	}
	out := []Step{first}
	for _, st := range steps {
		step := Step{Pass: st.Pass, Bytes: st.After, Skipped: st.Skipped}
		if st.Timed {
			step.StartupAddedMs = float64(st.StartupAdded.Microseconds()) / 1000
		}
		out = append(out, step)
	}
	return out
}
