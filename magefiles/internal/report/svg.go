package report

import (
	"fmt"
	"html"
	"io"
	"math"
	"strings"

	"github.com/minimalbuild/minimal/magefiles/internal/passname"
)

// Reference is a size to compare with, drawn as a dashed line across the chart.
type Reference struct {
	Label string
	Bytes int64
}

// Classic are the smallest images of the write-ups minimal measures itself against.
var Classic = []Reference{
	{Label: "hand-made ELF, 73 B", Bytes: 73},
	{Label: "nasm+ld hello, 9.94 kB", Bytes: 9940},
	{Label: "Alpine static C hello, 93.3 kB", Bytes: 93300},
	{Label: "static glibc pause(), 716 kB", Bytes: 716000},
	{Label: "Go hello -s -w + UPX, 793 kB", Bytes: 793000},
}

// passColors gives each step a fixed color, from light (as compiled) to dark (smallest),
// so that the same pass looks the same in every chart.
var passColors = map[string]string{
	"compile":       "#c6dbef",
	"compile+strip": "#9ecae1",
	passname.Strip:  "#9ecae1",
	passname.SStrip: "#4292c6",
	passname.Pack:   "#08519c",
}

const otherColor = "#6baed6"

// budgetColor draws content budgets, and marks the sizes near their budget.
const budgetColor = "#a50f15"

// Chart geometry, in pixels.
const (
	chartWidth = 1000
	labelWidth = 190
	plotRight  = 800 // the value labels go to the right of this
	rowHeight  = 18
	rowGap     = 4
	groupGap   = 14
	top        = 136
	refRows    = 3 // rows of reference labels above the plot
)

// WriteSVG draws r as a horizontal bar chart on a logarithmic byte scale: one group per
// app, one bar per platform, each bar stepped from the size as compiled down to the size
// after the last shrink pass, with the image's content size as a tick, its content budget
// as a bracket, the platform's label marked "!" in red when a size is at NearBudget of its
// budget or more, and refs as dashed lines.
func (r *Report) WriteSVG(w io.Writer, refs []Reference) error {
	lo, hi := r.span(refs)
	x := func(n int64) float64 {
		if n < 1 {
			n = 1
		}
		f := (math.Log10(float64(n)) - lo) / (hi - lo)
		return labelWidth + f*(plotRight-labelWidth)
	}
	rows := 0
	for _, a := range r.Apps {
		rows += len(a.Platforms)
	}
	height := top + rows*(rowHeight+rowGap) + len(r.Apps)*groupGap + 60

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="Helvetica, Arial, sans-serif" font-size="12">`+"\n", chartWidth, height, chartWidth, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="#ffffff"/>`+"\n")
	fmt.Fprintf(&b, `<text x="16" y="28" font-size="18" font-weight="bold" fill="#111">Image sizes, after each shrink pass</text>`+"\n")
	fmt.Fprintf(&b, `<text x="16" y="48" fill="#555">Bytes of the executable on a logarithmic scale; the tick is the image content as docker images counts it, the bracket its budget.</text>`+"\n")

	// Legend: the passes that occur, in order of first appearance.
	lx := 16.0
	for _, pass := range r.passes() {
		fmt.Fprintf(&b, `<rect x="%.1f" y="60" width="12" height="12" fill="%s"/><text x="%.1f" y="70" fill="#333">%s</text>`+"\n", lx, color(pass), lx+16, html.EscapeString(pass))
		lx += 24 + 7*float64(len(pass))
	}

	// Grid: one line per power of ten.
	bottom := float64(height - 40)
	for p := int(math.Ceil(lo)); float64(p) <= hi; p++ {
		gx := x(int64(math.Pow10(p)))
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%.1f" stroke="#e5e5e5"/>`+"\n", gx, top-8, gx, bottom)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle" fill="#777">%s</text>`+"\n", gx, bottom+14, power(p))
	}

	y := float64(top)
	for _, a := range r.Apps {
		fmt.Fprintf(&b, `<text x="16" y="%.1f" font-weight="bold" fill="#111">%s</text>`+"\n", y+13, html.EscapeString(a.Name))
		for _, p := range a.Platforms {
			if p.Budget != nil && len(p.Budget.Near) > 0 {
				fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end" font-weight="bold" fill="%s">! %s<title>%s</title></text>`+"\n", labelWidth-8, y+13, budgetColor, html.EscapeString(p.Platform), html.EscapeString(p.nearLabel()))
			} else {
				fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end" fill="#555">%s</text>`+"\n", labelWidth-8, y+13, html.EscapeString(p.Platform))
			}
			// Widest first, so that each later (smaller) step is drawn over the earlier one.
			for _, s := range p.Steps {
				if s.Skipped != "" {
					continue // the binary did not change
				}
				fmt.Fprintf(&b, `<rect x="%d" y="%.1f" width="%.1f" height="%d" fill="%s"><title>%s %s after %s: %s</title></rect>`+"\n",
					labelWidth, y, x(s.Bytes)-labelWidth, rowHeight, color(s.Pass), html.EscapeString(a.Name), html.EscapeString(p.Platform), html.EscapeString(s.Pass), formatBytes(s.Bytes))
			}
			if p.Content > 0 {
				cx := x(p.Content)
				fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#d94801" stroke-width="2"><title>image content: %s</title></line>`+"\n", cx, y-2, cx, y+rowHeight+2, formatBytes(p.Content))
			}
			if p.Budget != nil && p.Budget.Content > 0 {
				bx := x(p.Budget.Content)
				fmt.Fprintf(&b, `<path d="M%.1f %.1fv%dh-4M%.1f %.1fh-4" fill="none" stroke="%s" stroke-width="2"><title>content budget: %s</title></path>`+"\n",
					bx, y-3, rowHeight+6, bx, y-3, budgetColor, formatBytes(p.Budget.Content))
			}
			label := formatBytes(p.Binary)
			if len(p.Steps) > 0 && p.Steps[0].Bytes > p.Binary {
				label += fmt.Sprintf(" (−%.1f%%)", 100*float64(p.Steps[0].Bytes-p.Binary)/float64(p.Steps[0].Bytes))
			}
			fmt.Fprintf(&b, `<text x="%d" y="%.1f" fill="#111">%s</text>`+"\n", plotRight+8, y+13, label)

			y += rowHeight + rowGap
		}
		y += groupGap
	}

	// Reference labels sit in a band above the plot, each on the first of refRows rows
	// where it does not run into the label before it.
	var rowEnd [refRows]float64
	for _, ref := range refs {
		rx := x(ref.Bytes)
		row := 0
		for row < refRows-1 && rx-2 < rowEnd[row] {
			row++
		}
		w := 5.5 * float64(len(ref.Label))
		rowEnd[row] = rx + w
		ly := float64(top) - 14 - float64(row)*12
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#999" stroke-dasharray="4 3"/>`+"\n", rx, ly+2, rx, bottom)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" font-size="10" fill="#666">%s</text>`+"\n", rx+3, ly, html.EscapeString(ref.Label))
	}
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// nearLabel says which sizes of p are near their budget, and how near: "content 93%,
// pull 91% of budget".
func (p *Platform) nearLabel() string {
	var parts []string
	for _, what := range p.Budget.Near {
		size, limit := p.Content, p.Budget.Content
		if what == "pull" {
			size, limit = p.Pull, p.Budget.Pull
		}
		parts = append(parts, fmt.Sprintf("%s %d%%", what, 100*size/limit))
	}
	return strings.Join(parts, ", ") + " of budget"
}

// span returns the chart's scale as powers of ten: below the smallest and above the
// largest size drawn.
func (r *Report) span(refs []Reference) (lo, hi float64) {
	smallest, largest := int64(math.MaxInt64), int64(1)
	see := func(n int64) {
		if n > 0 {
			smallest, largest = min(smallest, n), max(largest, n)
		}
	}
	for _, a := range r.Apps {
		for _, p := range a.Platforms {
			see(p.Binary)
			see(p.Content)
			if p.Budget != nil {
				see(p.Budget.Content)
			}
			for _, s := range p.Steps {
				see(s.Bytes)
			}
		}
	}
	for _, ref := range refs {
		see(ref.Bytes)
	}
	if smallest > largest {
		return 0, 1
	}
	lo = math.Floor(math.Log10(float64(smallest)))
	hi = math.Ceil(math.Log10(float64(largest)) + 0.05)
	return lo, max(hi, lo+1)
}

// passes lists the step names of r in order of first appearance.
func (r *Report) passes() []string {
	var out []string
	seen := map[string]bool{}
	for _, a := range r.Apps {
		for _, p := range a.Platforms {
			for _, s := range p.Steps {
				if !seen[s.Pass] {
					seen[s.Pass] = true
					out = append(out, s.Pass)
				}
			}
		}
	}
	return out
}

func color(pass string) string {
	if c, ok := passColors[pass]; ok {
		return c
	}
	return otherColor
}

// power renders 10^p as a byte size: 1 B, 10 B, ..., 1 kB, 10 kB, ..., 1 MB.
func power(p int) string {
	units := []string{"B", "kB", "MB", "GB"}
	u := min(p/3, len(units)-1)
	return fmt.Sprintf("%g %s", math.Pow10(p-3*u), units[u])
}
